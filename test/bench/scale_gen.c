/*
 * scale_gen.c - MovieLens-25M-shaped ratings for the training-at-scale
 * benchmark (scale_bench.sh), written as COPY text so that tens of millions
 * of rows go straight into psql's stdin.
 *
 *   scale_gen RATINGS USERS MOVIES SEED [EXPONENT OFFSET] > ratings.copy
 *   COPY big (user_id, movie_id, age_group, gender, occupation, genres, rating) FROM STDIN
 *
 * Defaults of the benchmark: 25,000,000 ratings, 162,000 users, 59,000
 * movies (MovieLens 25M has 162,541 users, 59,047 rated movies).  One row
 * per rating, user metadata and genres denormalised into it, as the
 * training reads them: user_id, movie_id, age_group (the 7 MovieLens 1M
 * buckets, as text), gender ('M'/'F'), occupation (integer 0-20, as
 * MovieLens 1M), genres (text[] of 1-3 of MovieLens' 19 genres), rating
 * (0.5-5 in steps of 0.5, as MovieLens 25M).  With 1.85 genres per movie
 * on average a row has about 6.9 non-zeros.
 *
 * Item popularity: the movie of popularity rank r is drawn with probability
 * proportional to (r + 100)^-2 (Zipf-Mandelbrot, exponent 2, offset 100;
 * ranks shuffled over movie ids).  Why these: the aim is MovieLens 25M's
 * head and long tail together, which a plain Zipf law over 59,000 movies
 * cannot give (exponent 1 draws 8.7% of all ratings, 2.2M, for the top
 * movie; exponent 0.55 matches the head but leaves the least-drawn movie
 * ~190 ratings).  A movie gets at most one rating per user, which flattens
 * the head (the top movie cannot exceed the 162,000 users); measured on the
 * 25M default output: the most rated movie has 78,886 ratings (MovieLens
 * 25M's, Forrest Gump, 81,491), the 100th 36,201, the 1000th 5,031, the
 * 10,000th 136, the median movie 16, and 58,912 of the 59,000 movies are
 * rated at least once.  (Exponent 2.5, offset 150 gives a median of 7 but
 * leaves 4,000 movies unrated; the optional EXPONENT OFFSET arguments try others.)
 *
 * User activity: every user has at least 20 ratings (as MovieLens), the
 * rest spread over users with weight (r + 2000)^-1.5 by activity rank
 * (shuffled over user ids), at most 5,000 per user; a user's movies are
 * distinct (drawn from the popularity law, repeats redrawn).  Rows come
 * grouped by user, as MovieLens files are.
 *
 * Ratings: 3.55 + user bias + movie bias + a rank-4 taste dot product +
 * noise, rounded to a half star and clipped to [0.5, 5]: learnable structure
 * for the trainers, a mean near MovieLens' 3.53.
 *
 * The same arguments give the same bytes (core/rng.c is portable).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define MAX_PER_USER 5000

static int32_t per_user_cap = MAX_PER_USER;
static double pop_exponent = 2.0;	/* the popularity law (see above) */
static double pop_offset = 100.0;
	/* MAX_PER_USER, or a quarter of the movies */
#define TASTE 4

static const char *const age_groups[] = {"Under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"};
static const double age_share[] = {0.04, 0.18, 0.35, 0.20, 0.09, 0.08, 0.06};

/* MovieLens' genres, most frequent first, with a rough share each */
static const char *const genre_names[] = {
	"Drama", "Comedy", "Thriller", "Romance", "Action", "Crime", "Horror", "Documentary",
	"Adventure", "Sci-Fi", "Mystery", "Fantasy", "War", "Children", "Musical", "Animation",
	"Western", "Film-Noir", "IMAX"};
static const double genre_share[] = {
	25, 17, 9, 7.5, 7.5, 5.5, 5.5, 5, 4.5, 3.5, 3, 3, 2, 2.5, 1.2, 2.5, 1.1, 0.4, 0.2};
#define N_GENRES ((int) (sizeof(genre_names) / sizeof(genre_names[0])))

typedef struct User
{
	int			age;
	int			female;
	int			occupation;
	float		bias;
	float		taste[TASTE];
	int32_t		n_ratings;
} User;

typedef struct Movie
{
	int			n_genres;
	int			genre[3];
	float		bias;
	float		taste[TASTE];
	char		genres_text[64];	/* the COPY text of the genres array */
} Movie;

static int
pick(FmRng *rng, const double *share, int n)
{
	double		total = 0,
				u;

	for (int i = 0; i < n; i++)
		total += share[i];
	u = fm_rng_uniform(rng) * total;
	for (int i = 0; i < n; i++)
		if ((u -= share[i]) < 0)
			return i;
	return n - 1;
}

static void
shuffle(FmRng *rng, int32_t *a, int32_t n)
{
	fm_rng_shuffle_int32(rng, a, n);
}

/* Cumulative probabilities of the movies (by id) under the popularity law. */
static double *
popularity_cdf(FmRng *rng, int32_t n_movies)
{
	int32_t    *rank_of = malloc(sizeof(int32_t) * n_movies);
	double	   *cdf = malloc(sizeof(double) * n_movies);
	double		total = 0;

	for (int32_t i = 0; i < n_movies; i++)
		rank_of[i] = i + 1;
	shuffle(rng, rank_of, n_movies);
	for (int32_t i = 0; i < n_movies; i++)
	{
		total += pow((double) rank_of[i] + pop_offset, -pop_exponent);
		cdf[i] = total;
	}
	for (int32_t i = 0; i < n_movies; i++)
		cdf[i] /= total;
	free(rank_of);
	return cdf;
}

static int32_t
draw_movie(FmRng *rng, const double *cdf, int32_t n)
{
	double		u = fm_rng_uniform(rng);
	int32_t		lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		int32_t		mid = lo + (hi - lo) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Ratings per user: 20 each, the rest by activity rank, capped, summing to n_ratings. */
static void
user_counts(FmRng *rng, User *users, int32_t n_users, int64_t n_ratings)
{
	int32_t    *rank_of = malloc(sizeof(int32_t) * n_users);
	double	   *w = malloc(sizeof(double) * n_users);
	double		total = 0;
	int64_t		left = n_ratings,
				assigned = 0;
	int32_t		min = (int32_t) (n_ratings / n_users < 20 ? n_ratings / n_users : 20);

	for (int32_t i = 0; i < n_users; i++)
		rank_of[i] = i + 1;
	shuffle(rng, rank_of, n_users);
	for (int32_t i = 0; i < n_users; i++)
		total += (w[i] = pow((double) rank_of[i] + 2000.0, -1.5));
	left -= (int64_t) min * n_users;
	for (int32_t i = 0; i < n_users; i++)
	{
		int64_t		n = min + (int64_t) floor((double) left * w[i] / total);

		users[i].n_ratings = (int32_t) (n > per_user_cap ? per_user_cap : n);
		assigned += users[i].n_ratings;
	}
	/* the rounding remainder (and what the cap cut off): one more each, round robin */
	for (int32_t i = 0; assigned < n_ratings; i = (i + 1) % n_users)
		if (users[i].n_ratings < per_user_cap)
		{
			users[i].n_ratings++;
			assigned++;
		}
	free(rank_of);
	free(w);
}

static char *
put_int(char *p, int64_t v)
{
	char		tmp[24];
	int			n = 0;

	if (v < 0)
	{
		*p++ = '-';
		v = -v;
	}
	do
		tmp[n++] = (char) ('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *
put_str(char *p, const char *s)
{
	size_t		n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

int
main(int argc, char **argv)
{
	int64_t		n_ratings;
	int32_t		n_users,
				n_movies;
	uint64_t	seed;
	FmRng		rng;
	User	   *users;
	Movie	   *movies;
	double	   *cdf;
	uint32_t   *seen;			/* per movie: the last user (1-based) who rated it */
	int32_t    *mine = malloc(sizeof(int32_t) * MAX_PER_USER);
	static char buf[1 << 20];
	char	   *p = buf;
	int64_t		written = 0;

	if (argc == 7)
	{
		pop_exponent = atof(argv[5]);
		pop_offset = atof(argv[6]);
	}
	else if (argc != 5)
	{
		fprintf(stderr, "usage: scale_gen RATINGS USERS MOVIES SEED [EXPONENT OFFSET]\n");
		return 2;
	}
	n_ratings = atoll(argv[1]);
	n_users = atoi(argv[2]);
	n_movies = atoi(argv[3]);
	seed = strtoull(argv[4], NULL, 10);
	if (n_movies / 4 < per_user_cap)
		per_user_cap = n_movies / 4;
	if (n_ratings < 1 || n_users < 1 || n_movies < 4 ||
		n_ratings > (int64_t) n_users * per_user_cap)
	{
		fprintf(stderr, "scale_gen: need RATINGS <= USERS * min(%d, MOVIES / 4)\n", MAX_PER_USER);
		return 2;
	}
	fm_rng_seed(&rng, seed);
	users = calloc(n_users, sizeof(User));
	movies = calloc(n_movies, sizeof(Movie));
	seen = calloc(n_movies, sizeof(uint32_t));

	for (int32_t i = 0; i < n_users; i++)
	{
		User	   *u = &users[i];

		u->age = pick(&rng, age_share, 7);
		u->female = fm_rng_uniform(&rng) < 0.28;
		u->occupation = (int) fm_rng_below(&rng, 21);
		u->bias = (float) (0.35 * fm_rng_normal(&rng));
		for (int f = 0; f < TASTE; f++)
			u->taste[f] = (float) (0.5 * fm_rng_normal(&rng));
	}
	for (int32_t i = 0; i < n_movies; i++)
	{
		Movie	   *m = &movies[i];
		double		u = fm_rng_uniform(&rng);
		char	   *q = m->genres_text;

		m->n_genres = u < 0.40 ? 1 : u < 0.75 ? 2 : 3;
		for (int g = 0; g < m->n_genres; g++)
		{
			int			again;

			do
			{
				m->genre[g] = pick(&rng, genre_share, N_GENRES);
				again = 0;
				for (int h = 0; h < g; h++)
					again |= m->genre[h] == m->genre[g];
			} while (again);
		}
		m->bias = (float) (0.4 * fm_rng_normal(&rng));
		for (int f = 0; f < TASTE; f++)
			m->taste[f] = (float) (0.5 * fm_rng_normal(&rng));
		*q++ = '{';
		for (int g = 0; g < m->n_genres; g++)
		{
			if (g > 0)
				*q++ = ',';
			q = put_str(q, genre_names[m->genre[g]]);
		}
		*q++ = '}';
		*q = '\0';
	}
	cdf = popularity_cdf(&rng, n_movies);
	user_counts(&rng, users, n_users, n_ratings);

	for (int32_t i = 0; i < n_users; i++)
	{
		const User *u = &users[i];

		for (int32_t j = 0; j < u->n_ratings; j++)
		{
			int32_t		mv;

			do
				mv = draw_movie(&rng, cdf, n_movies);
			while (seen[mv] == (uint32_t) i + 1);
			seen[mv] = (uint32_t) i + 1;
			mine[j] = mv;
		}
		for (int32_t j = 0; j < u->n_ratings; j++)
		{
			const Movie *m = &movies[mine[j]];
			double		r = 3.55 + u->bias + m->bias + 0.7 * fm_rng_normal(&rng);
			int			halves;

			for (int f = 0; f < TASTE; f++)
				r += u->taste[f] * m->taste[f];
			halves = (int) lround(2.0 * r);
			halves = halves < 1 ? 1 : halves > 10 ? 10 : halves;

			p = put_int(p, i + 1);
			*p++ = '\t';
			p = put_int(p, mine[j] + 1);
			*p++ = '\t';
			p = put_str(p, age_groups[u->age]);
			*p++ = '\t';
			*p++ = u->female ? 'F' : 'M';
			*p++ = '\t';
			p = put_int(p, u->occupation);
			*p++ = '\t';
			p = put_str(p, m->genres_text);
			*p++ = '\t';
			p = put_int(p, halves / 2);
			if (halves % 2)
				p = put_str(p, ".5");
			*p++ = '\n';
			if (p - buf > (int) sizeof(buf) - 256)
			{
				fwrite(buf, 1, p - buf, stdout);
				p = buf;
			}
			written++;
		}
	}
	fwrite(buf, 1, p - buf, stdout);
	if (fflush(stdout) != 0 || written != n_ratings)
	{
		fprintf(stderr, "scale_gen: wrote %lld of %lld rows\n", (long long) written, (long long) n_ratings);
		return 1;
	}
	return 0;
}
