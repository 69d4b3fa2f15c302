# generate_sample.awk -- writes a synthetic, MovieLens-100K-shaped data set.
#
# Called by generate_sample.sh as
#   LC_ALL=C awk -v seed=N -v outdir=DIR -f generate_sample.awk
# Everything happens in BEGIN; no input is read.
#
# Plain POSIX awk on purpose (Debian's default is mawk): no gawk extensions,
# no asort, no length(array).  Randomness comes from our own Park-Miller
# generator instead of srand()/rand(), so a seed gives the same bytes under
# mawk, gawk and busybox awk alike (their rand() sequences all differ).
#
# The model behind the ratings (also described in README.md):
#   rating = round(MU + user bias + movie quality + taste + noise), 1..5
#   taste  = mean over the movie's genres g of the user's taste for g
#            + a small latent dot product (taste that genres do not explain)
#   user's taste for genre g = gender effect + age-group effect (TASTE table)
#            + sum over 4 taste factors of (user's score x g's loading)
#            + a small personal whim
# Which movies a user rates is drawn without replacement with weight
#   popularity(movie) * exp(SELECT * taste)
# (people mostly rate what they chose to watch), using the Gumbel-top-k trick.
# The constants are in BEGIN at the end of the file.

# ---------------------------------------------------------------- randomness
# Park-Miller "minimal standard" LCG.  state * 48271 < 2^47, so the product is
# exact in the double that every awk uses for numbers.
function rnd() {
    rng_state = (rng_state * 48271) % 2147483647
    return rng_state / 2147483647          # in (0, 1): state is never 0
}

function seed_rng(s,    i) {
    rng_state = (s % 2147483646) + 1           # 1 .. 2^31-2, never 0
    for (i = 0; i < 10; i++) rnd()             # let small seeds spread out
}

function gauss() {                         # Box-Muller, one draw
    return sqrt(-2 * log(rnd())) * cos(6.283185307179586 * rnd())
}

function rint(lo, hi) {                    # integer uniform in [lo, hi]
    return lo + int(rnd() * (hi - lo + 1))
}

# Index 1..n chosen with probability proportional to w[1..n].
function wpick(w, n,    i, total, r) {
    total = 0
    for (i = 1; i <= n; i++) total += w[i]
    r = rnd() * total
    for (i = 1; i <= n; i++) { r -= w[i]; if (r < 0) return i }
    return n
}

# Word lists are "|"-separated strings; pick one entry uniformly.
function pickword(list,    a, n) {
    n = split(list, a, "|")
    return a[rint(1, n)]
}

# --------------------------------------------------------------- selection
# Wirth's selection: reorder K[1..m] (and I[1..m] alongside) so that
# K[1..k] hold the k LARGEST keys (in no particular order).  O(m) on average,
# which keeps 943 users x 1682 movies well under a second in mawk.
function select_top(K, I, m, k,    lo, hi, i, j, x, t) {
    lo = 1; hi = m
    while (lo < hi) {
        x = K[k]; i = lo; j = hi
        do {
            while (K[i] > x) i++
            while (x > K[j]) j--
            if (i <= j) {
                t = K[i]; K[i] = K[j]; K[j] = t
                t = I[i]; I[i] = I[j]; I[j] = t
                i++; j--
            }
        } while (i <= j)
        if (j < k) lo = i
        if (k < i) hi = j
    }
}

# ------------------------------------------------------------------- titles
function title_family(g) {                # primary genre -> word-list family
    if (g == G["Action"] || g == G["Adventure"] || g == G["Crime"] || \
        g == G["Thriller"] || g == G["War"] || g == G["Western"]) return "action"
    if (g == G["Sci-Fi"] || g == G["Fantasy"]) return "scifi"
    if (g == G["Horror"] || g == G["Mystery"] || g == G["Film-Noir"]) return "dark"
    if (g == G["Animation"] || g == G["Children's"]) return "kids"
    if (g == G["Comedy"]) return "comedy"
    if (g == G["Documentary"]) return "doc"
    return "heart"                         # Drama, Romance, Musical, unknown
}

function make_title(fam,    p, adj, noun) {
    p = rnd()
    if (fam == "doc") {
        noun = pickword(NOUN["doc"])
        if (p < 0.35) return "Inside the " noun
        if (p < 0.65) return "Voices of the " noun
        if (p < 0.85) return "The " noun " Years"
        return "Portrait of a " noun
    }
    adj = pickword(ADJ[fam]); noun = pickword(NOUN[fam])
    if (p < 0.38) return "The " adj " " noun
    if (p < 0.62) return adj " " noun
    if (p < 0.77) return noun " of the " pickword(PLACE)
    if (p < 0.87) return pickword(NAMES) "'s " noun
    if (fam == "kids" && p < 0.95) return "The Adventures of " pickword(NAMES)
    return "The " noun
}

# A unique title with the year appended, e.g. "The Silent Harbor (1994)".
function unique_title(fam, year,    t, try) {
    for (try = 0; try < 50; try++) {
        t = make_title(fam) " (" year ")"
        if (!(t in used_title)) break
    }
    if (t in used_title) t = make_title(fam) " II (" year ")"
    used_title[t] = 1
    return t
}

# -------------------------------------------------------------------- setup
function setup(    i, n, a, parts) {
    NG = split("unknown|Action|Adventure|Animation|Children's|Comedy|Crime|" \
               "Documentary|Drama|Fantasy|Film-Noir|Horror|Musical|Mystery|" \
               "Romance|Sci-Fi|Thriller|War|Western", GNAME, "|")
    for (i = 1; i <= NG; i++) G[GNAME[i]] = i

    # Age groups of MovieLens 1M, with the 100K user counts as weights and the
    # share of women in each group (also from 100K).
    NA = split("Under 18|18-24|25-34|35-44|45-49|50-55|56+", AGNAME, "|")
    split("36 198 310 194 80 73 52", AGW, " ")
    split("7 18 25 35 45 50 56", AGLO, " ")
    split("17 24 34 44 49 55 73", AGHI, " ")
    split("0.36 0.28 0.25 0.36 0.29 0.37 0.13", AGFEM, " ")

    # Occupations in the 100K vocabulary, weights = 100K counts of adults.
    NOCC = split("administrator|artist|doctor|educator|engineer|entertainment|" \
                 "executive|healthcare|homemaker|lawyer|librarian|marketing|" \
                 "none|other|programmer|retired|salesman|scientist|student|" \
                 "technician|writer", OCC, "|")
    split("79 28 7 95 67 18 32 16 7 12 51 26 9 105 66 3 12 31 25 27 45", OCCW, " ")

    # Taste table: for each genre, the effect of being male / female, then of
    # each age group in the order of AGNAME.  Read a row as "how many stars
    # more than average this kind of viewer gives a movie of this genre".
    #                       M     F      <18   18-24 25-34 35-44 45-49 50-55 56+
    TASTE["unknown"]     = " 0     0      0     0     0     0     0     0     0"
    TASTE["Action"]      = " .30  -.30    .15   .25   .15   0    -.15  -.30  -.40"
    TASTE["Adventure"]   = " .15  -.10    .30   .15   .05   0    -.05  -.10  -.15"
    TASTE["Animation"]   = " 0     .10    .80   .15  -.05  -.10  -.25  -.35  -.45"
    TASTE["Children's"]  = "-.05   .10    .90  -.10  -.15  -.15  -.35  -.45  -.50"
    TASTE["Comedy"]      = " 0     .05    .30   .15   .05   0    -.05  -.10  -.15"
    TASTE["Crime"]       = " .15  -.10   -.20   .05   .10   .10   .05   0    -.05"
    TASTE["Documentary"] = " 0     0     -.50  -.15   0     .15   .20   .30   .35"
    TASTE["Drama"]       = "-.10   .25   -.45  -.10   .05   .15   .25   .30   .35"
    TASTE["Fantasy"]     = " .05   0      .40   .15   0    -.05  -.15  -.20  -.30"
    TASTE["Film-Noir"]   = " .05   0     -.40  -.20   0     .15   .25   .35   .45"
    TASTE["Horror"]      = " .10  -.35    .10   .30   .05  -.15  -.30  -.45  -.55"
    TASTE["Musical"]     = "-.20   .30    .10  -.15  -.10   0     .15   .30   .40"
    TASTE["Mystery"]     = " 0     .10   -.10  -.05   0     .05   .10   .20   .25"
    TASTE["Romance"]     = "-.25   .40   -.40  -.05   0     .05   .15   .25   .30"
    TASTE["Sci-Fi"]      = " .35  -.30    .20   .30   .15   0    -.15  -.30  -.40"
    TASTE["Thriller"]    = " .10  -.05   -.05   .10   .10   .05   0    -.05  -.10"
    TASTE["War"]         = " .20  -.15   -.30  -.10   0     .10   .25   .35   .45"
    TASTE["Western"]     = " .15  -.15   -.30  -.20  -.05   .10   .25   .35   .45"
    for (i = 1; i <= NG; i++) {
        n = split(TASTE[GNAME[i]], parts, " ")
        if (n != 2 + NA) { print "generate_sample.awk: bad TASTE row " GNAME[i] > "/dev/stderr"; exit 1 }
        SEXEFF["M", i] = TSCALE * parts[1]; SEXEFF["F", i] = TSCALE * parts[2]
        for (a = 1; a <= NA; a++) AGEEFF[a, i] = TSCALE * parts[2 + a]
    }

    # Personal taste beyond demographics: four taste factors (family films,
    # thrills, heartfelt stories, art house).  A user has a score on each, a
    # genre a loading on each; the user's taste for the genre gets
    # score x loading.  Shared factors make people rate movies of related
    # genres alike, which is what collaborative filtering and "similar
    # movies" pick up.
    #                      family thrill heart arthouse
    FACTOR["unknown"]     = " 0     0     0     0"
    FACTOR["Action"]      = " 0     1     0     0"
    FACTOR["Adventure"]   = " .3    .7    0     0"
    FACTOR["Animation"]   = " 1     0     0     0"
    FACTOR["Children's"]  = " 1     0     0     0"
    FACTOR["Comedy"]      = " .3    0     .2    0"
    FACTOR["Crime"]       = " 0     .4    0     .5"
    FACTOR["Documentary"] = " 0     0     0     1"
    FACTOR["Drama"]       = " 0     0     .8    .4"
    FACTOR["Fantasy"]     = " .6    .3    0     0"
    FACTOR["Film-Noir"]   = " 0     0     0     1"
    FACTOR["Horror"]      = " 0     .7    0     0"
    FACTOR["Musical"]     = " .6    0     .5    0"
    FACTOR["Mystery"]     = " 0     .2    0     .6"
    FACTOR["Romance"]     = " 0     0     1     0"
    FACTOR["Sci-Fi"]      = " 0     .8    0     .2"
    FACTOR["Thriller"]    = " 0     .8    0     .2"
    FACTOR["War"]         = " 0     .3    .2    .5"
    FACTOR["Western"]     = " 0     .5    0     .4"
    for (i = 1; i <= NG; i++) {
        n = split(FACTOR[GNAME[i]], parts, " ")
        for (a = 1; a <= n; a++) LOADING[i, a] = parts[a] + 0
        NFAC = n
    }

    # Primary genre of a movie: weights roughly follow how often each genre
    # comes first in 100K.  Companion genres, most likely first, make the
    # combinations sensible (Animation goes with Children's, War with Drama).
    split("1 130 40 30 60 330 50 50 420 10 15 70 25 25 70 40 110 30 20", PRIMW, " ")
    COMP["unknown"]     = ""
    COMP["Action"]      = "Adventure|Thriller|Sci-Fi|Crime|War|Comedy|Romance"
    COMP["Adventure"]   = "Action|Children's|Fantasy|Sci-Fi|Comedy|Western"
    COMP["Animation"]   = "Children's|Comedy|Musical|Fantasy"
    COMP["Children's"]  = "Comedy|Animation|Adventure|Fantasy|Musical|Drama"
    COMP["Comedy"]      = "Romance|Drama|Crime|Children's|Musical|Action"
    COMP["Crime"]       = "Drama|Thriller|Action|Mystery|Comedy|Film-Noir"
    COMP["Documentary"] = "Drama|War|Musical"
    COMP["Drama"]       = "Romance|War|Crime|Thriller|Comedy|Mystery"
    COMP["Fantasy"]     = "Adventure|Children's|Comedy|Romance|Sci-Fi"
    COMP["Film-Noir"]   = "Mystery|Thriller|Crime|Drama"
    COMP["Horror"]      = "Thriller|Sci-Fi|Comedy|Mystery"
    COMP["Musical"]     = "Comedy|Romance|Drama|Children's"
    COMP["Mystery"]     = "Thriller|Crime|Drama|Film-Noir"
    COMP["Romance"]     = "Drama|Comedy|Musical|War"
    COMP["Sci-Fi"]      = "Action|Adventure|Thriller|Horror|Fantasy"
    COMP["Thriller"]    = "Crime|Action|Drama|Mystery|Horror"
    COMP["War"]         = "Drama|Action|Romance"
    COMP["Western"]     = "Action|Comedy|Adventure|Drama"

    # Release years: the 100K catalogue is mostly 1993-1997 with some classics.
    split("1930 1960 1980 1990 1993 1994 1995 1996 1997 1998", YLO, " ")
    split("1959 1979 1989 1992 1993 1994 1995 1996 1997 1998", YHI, " ")
    NY = split("131 95 107 83 126 214 219 355 286 65", YW, " ")
    split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", MON, " ")

    # Title words, by family.  All invented; none is a MovieLens title.
    ADJ["action"]  = "Hard|Deadly|Final|Broken|Lethal|Rogue|Silent|Iron|Burning|Hidden|Last|Crimson|Steel|Savage|Fatal|Maximum|Cold|Dead|Rapid|Outlaw"
    NOUN["action"] = "Target|Protocol|Justice|Strike|Vengeance|Pursuit|Fury|Line|Edge|Force|Impact|Run|Siege|Code|Contract|Showdown|Frontier|Canyon|Bullet|Sheriff|Convoy|Mission|Ridge|Hunter"
    ADJ["scifi"]   = "Lost|Dark|Final|Distant|Silent|Crimson|Frozen|Electric|Infinite|Hidden|Forbidden|Quantum|Seventh|Stolen|Ancient|Burning"
    NOUN["scifi"]  = "Galaxy|Orbit|Nebula|Android|Planet|Horizon|Colony|Signal|Star|Eclipse|Machine|Dimension|Voyage|Empire|Realm|Kingdom|Sword|Wizard|Moon|Starship|Crystal|Portal"
    ADJ["dark"]    = "Haunted|Silent|Dead|Black|Midnight|Cold|Hollow|Crooked|Scarlet|Wicked|Fallen|Bleeding|Last|Shuttered|Drowned"
    NOUN["dark"]   = "House|Night|Curse|Scream|Grave|Harvest|Shadows|Stranger|Alibi|Witness|Cellar|Mirror|Lake|Asylum|Dame|Street|Key|Motel|Hour|Woods"
    ADJ["heart"]   = "Quiet|Golden|Distant|Tender|Bitter|Long|Summer|Winter|Secret|Broken|Silver|Gentle|Endless|Forgotten|Perfect|Silent|Last|Small"
    NOUN["heart"]  = "Harbor|Promise|Garden|Letters|Season|River|Heart|Waltz|Kiss|Sky|Hours|Memory|Bridge|Wedding|Dance|Song|Valley|Rain|Homecoming|Lighthouse|Orchard"
    ADJ["kids"]    = "Little|Magic|Brave|Tiny|Happy|Jolly|Amazing|Flying|Curious|Clever|Giant|Merry|Busy|Lucky"
    NOUN["kids"]   = "Dragon|Puppy|Penguin|Kitten|Robot|Balloon|Treasure|Bear|Pony|Castle|Rocket|Forest|Toys|Elephant|Island|Circus|Train|Monkey|Snowman|Planet"
    ADJ["comedy"]  = "Crazy|Big|Lucky|Wild|Accidental|Perfect|Totally Wrong|Happy|Lazy|Dirty|Awkward|Terrible|Fabulous|Second"
    NOUN["comedy"] = "Weekend|Neighbors|Vacation|Wedding|Roommates|Business|Trouble|Jackpot|Reunion|Party|Honeymoon|Plan|Mix-Up|Dog|Family|Uncle|Roadtrip|Diner"
    NOUN["doc"]    = "Machine|Harbor|Streets|Miners|Delta|Archive|Orchestra|Tribe|Storm|Circus|Marathon|Factory|Valley|Glacier|Ballet|Courtroom"
    PLACE = "Harbor|Desert|North|River|Night|City|Sea|Valley|Mountain|Storm|Moon|Border|Island|Dawn"
    NAMES = "Harper|Molly|Jack|Dex|Rosie|Walker|Marlowe|Sam|Lola|Max|Nora|Eddie|Vera|Hank|Billy|Ruby|Otis|Lulu"

    # A few foreign-language titles at fixed ids, written in Latin-1 (octal
    # escapes) like the real u.item, so loaders must convert the encoding.
    FOREIGN[114]  = "Les Ann\351es Tranquilles"
    FOREIGN[389]  = "Ma\361ana Nunca"
    FOREIGN[702]  = "Die Br\374cke im Nebel"
    FOREIGN[958]  = "La Gar\347onni\350re Bleue"
    FOREIGN[1240] = "Sm\345 Steg"
    FOREIGN[1513] = "Le Ch\342teau de Verre"
}

# -------------------------------------------------------------------- movies
function add_genre(m, g) {
    if ((m, g) in MG) return
    MG[m, g] = 1
    NMG[m]++; MGL[m, NMG[m]] = g
    genre_count[g]++
}

function make_movies(    m, g, k, n, c, cw, nc, i, y, fam, title, p) {
    for (m = 1; m <= NMOV; m++) {
        NMG[m] = 0
        if (m == 1) {
            # The demo's "similar to" example: an animated children's comedy,
            # popular and well liked, like movie 1 of the real data set.
            add_genre(m, G["Animation"]); add_genre(m, G["Children's"]); add_genre(m, G["Comedy"])
            YEAR[m] = 1995; TITLE[m] = "Toy Planet (1995)"; used_title[TITLE[m]] = 1
            QUAL[m] = 0.9; LPOP[m] = 3.2
            RDATE[m] = "01-Jan-1995"
            continue
        }
        if (m in FOREIGN) g = (m % 2) ? G["Drama"] : G["Romance"]
        else g = wpick(PRIMW, NG)
        add_genre(m, g)
        # How many genres in all: 1 (50%), 2 (34%), 3 (13%), 4 (3%).
        # Animation is almost always a children's film too.
        p = rnd(); n = (p < 0.50) ? 1 : (p < 0.84) ? 2 : (p < 0.97) ? 3 : 4
        if (g == G["Animation"] && n < 2) n = 2
        nc = split(COMP[GNAME[g]], c, "|")
        for (i = 1; i <= nc; i++) cw[i] = nc + 1 - i     # first companion likeliest
        for (k = 2; k <= n && nc > 0; k++) add_genre(m, G[c[wpick(cw, nc)]])

        y = wpick(YW, NY); YEAR[m] = rint(YLO[y], YHI[y])
        RDATE[m] = sprintf("%02d-%s-%d", rint(1, 28), MON[rint(1, 12)], YEAR[m])
        fam = title_family(g)
        if (m in FOREIGN) { TITLE[m] = FOREIGN[m] " (" YEAR[m] ")"; used_title[TITLE[m]] = 1 }
        else TITLE[m] = unique_title(fam, YEAR[m])

        # Quality (stars above or below average) and log-popularity.
        # Old films that are still in the catalogue tend to be good ones;
        # recent films are watched more.
        QUAL[m] = 0.40 * gauss() + ((YEAR[m] < 1980) ? 0.20 : 0)
        LPOP[m] = 1.1 * gauss() + 0.9 * QUAL[m] + ((YEAR[m] >= 1993) ? 0.4 : -0.2)
    }
    # Make sure every one of the 19 genres occurs (the 100K set has two
    # 'unknown' movies): if no 'unknown' was drawn, the last movie gets it.
    if (!genre_count[G["unknown"]]) {
        for (k = 1; k <= NMG[NMOV]; k++) { genre_count[MGL[NMOV, k]]--; delete MG[NMOV, MGL[NMOV, k]] }
        NMG[NMOV] = 0; add_genre(NMOV, G["unknown"])
    }
    for (m = 1; m <= NMOV; m++) {
        ML1[m] = 0.35 * gauss(); ML2[m] = 0.35 * gauss()
        ML3[m] = 0.35 * gauss(); ML4[m] = 0.35 * gauss()
        # genre slots as plain arrays for the hot loop in make_ratings
        MG1[m] = MGL[m, 1]; MG2[m] = MGL[m, 2]; MG3[m] = MGL[m, 3]; MG4[m] = MGL[m, 4]
    }
}

function write_items(    f, m, g, line) {
    f = outdir "/u.item"
    for (m = 1; m <= NMOV; m++) {
        line = m "|" TITLE[m] "|" RDATE[m] "||"        # no video date, no URL
        for (g = 1; g <= NG; g++) line = line "|" (((m, g) in MG) ? 1 : 0)
        print line > f
    }
    close(f)
}

# --------------------------------------------------------------------- users
function make_users(    u, a, i, k, t, fs, extra, total, target, f, left, step) {
    for (u = 1; u <= NUSR; u++) {
        a = wpick(AGW, NA); AG[u] = a
        AGE[u] = rint(AGLO[a], AGHI[a])
        SEX[u] = (rnd() < AGFEM[a]) ? "F" : "M"
        # Occupation depends on age: children are students, many over-56s
        # are retired, half the 18-24s study.
        if (AGE[u] < 18) OCCU[u] = (rnd() < 0.85) ? "student" : ((rnd() < 0.5) ? "none" : "other")
        else if (AGE[u] <= 24 && rnd() < 0.55) OCCU[u] = "student"
        else if (AGE[u] >= 56 && rnd() < 0.35) OCCU[u] = "retired"
        else OCCU[u] = OCC[wpick(OCCW, NOCC)]
        ZIP[u] = sprintf("%05d", rint(1001, 99950))

        UBIAS[u] = 0.40 * gauss()
        for (k = 1; k <= NFAC; k++) fs[k] = FACTOR_SD * gauss()
        for (i = 1; i <= NG; i++) {               # this user's taste per genre
            t = SEXEFF[SEX[u], i] + AGEEFF[a, i] + PERSONAL * gauss()
            for (k = 1; k <= NFAC; k++) t += LOADING[i, k] * fs[k]
            UT[u, i] = t
        }
        for (i = 1; i <= 4; i++) ULAT[u, i] = 0.35 * gauss()
        # Activity: at least 20 ratings, then a long tail (log-normal).
        NRU[u] = 20; EXTRA[u] = exp(4.0 + 0.95 * gauss())
    }
    # Scale the tails so the total is exactly NRAT, capped at MAXR per user.
    target = NRAT - 20 * NUSR
    total = 0; for (u = 1; u <= NUSR; u++) total += EXTRA[u]
    f = target / total
    total = 0
    for (u = 1; u <= NUSR; u++) {
        NRU[u] += int(EXTRA[u] * f)
        if (NRU[u] > MAXR) NRU[u] = MAXR
        total += NRU[u]
    }
    left = NRAT - total                           # hand out (or take back) the rest
    step = (left > 0) ? 1 : -1
    for (u = 1; left != 0; u = (u % NUSR) + 1) {
        if ((step > 0 && NRU[u] < MAXR) || (step < 0 && NRU[u] > 20)) { NRU[u] += step; left -= step }
    }
}

function write_users(    f, u) {
    f = outdir "/u.user"
    for (u = 1; u <= NUSR; u++) print u "|" AGE[u] "|" SEX[u] "|" OCCU[u] "|" ZIP[u] > f
    close(f)
}

# ------------------------------------------------------------------- ratings
# The hot loop: 943 x 1682 pairs.  It works on one-dimensional arrays and
# scalars only, because awk builds a string key for every a[i, j] access.
# taste of user u for movie m (left in TS[m]) =
#     mean of the user's tastes for the movie's genres + latent dot product
function make_ratings(    u, m, j, K, I, TS, ut, g, n, s, l1, l2, l3, l4, r, start, span) {
    N = 0
    for (u = 1; u <= NUSR; u++) {
        for (g = 1; g <= NG; g++) ut[g] = UT[u, g]
        l1 = ULAT[u, 1]; l2 = ULAT[u, 2]; l3 = ULAT[u, 3]; l4 = ULAT[u, 4]
        for (m = 1; m <= NMOV; m++) {
            n = NMG[m]
            s = ut[MG1[m]]
            if (n > 1) { s += ut[MG2[m]]; if (n > 2) { s += ut[MG3[m]]; if (n > 3) s += ut[MG4[m]] } }
            s = s / n + l1 * ML1[m] + l2 * ML2[m] + l3 * ML3[m] + l4 * ML4[m]
            TS[m] = s
            # Gumbel-top-k: the NRU[u] largest of log(weight) + Gumbel noise
            # are a weighted sample without replacement.  (rnd() inlined.)
            rng_state = (rng_state * 48271) % 2147483647
            K[m] = LPOP[m] + SELECT * s - log(-log(rng_state / 2147483647))
            I[m] = m
        }
        select_top(K, I, NMOV, NRU[u])
        # Each user rates during a few weeks somewhere in Sep 1997 - Apr 1998.
        start = rint(T0, T1 - 86400 * 30)
        span = int((T1 - start) * rnd() * rnd()) + 3600
        for (j = 1; j <= NRU[u]; j++) {
            m = I[j]
            r = MU + UBIAS[u] + QUAL[m] + TS[m] + NOISE * gauss()
            r = (r < 1) ? 1 : (r > 5) ? 5 : int(r + 0.5)
            N++
            RAT_U[N] = u; RAT_M[N] = m; RAT_R[N] = r; RAT_T[N] = start + int(span * rnd())
        }
    }
}

# u.data in random order (as in the real file); u1.test = 20% of it, u1.base
# the rest.  generate_sample.sh sorts the split files by user and movie.
function write_ratings(    i, j, t, ord, f, fb, ft, ntest, line) {
    for (i = 1; i <= N; i++) ord[i] = i
    for (i = N; i > 1; i--) { j = rint(1, i); t = ord[i]; ord[i] = ord[j]; ord[j] = t }
    f = outdir "/u.data"; fb = outdir "/u1.base"; ft = outdir "/u1.test"
    ntest = int(N / 5)
    for (i = 1; i <= N; i++) {
        j = ord[i]
        line = RAT_U[j] "\t" RAT_M[j] "\t" RAT_R[j] "\t" RAT_T[j]
        print line > f
        if (i <= ntest) print line > ft
        else print line > fb
    }
    close(f); close(fb); close(ft)
}

function write_small_files(    f, i) {
    f = outdir "/u.genre"
    for (i = 1; i <= NG; i++) print GNAME[i] "|" (i - 1) > f
    close(f)
    f = outdir "/u.occupation"
    for (i = 1; i <= NOCC; i++) print OCC[i] > f
    close(f)
    f = outdir "/u.info"
    print NUSR " users" > f; print NMOV " items" > f; print N " ratings" > f
    close(f)
}

BEGIN {
    if (outdir == "") { print "generate_sample.awk: -v outdir=DIR is required" > "/dev/stderr"; exit 2 }
    seed_rng(int(seed + 0))

    NUSR = 943; NMOV = 1682; NRAT = 100000; MAXR = 737
    MU = 3.12                                    # gives a mean rating near 3.53, as in 100K
    NOISE = 0.8                                  # sd of the per-rating noise, in stars
    SELECT = 1.0                                 # how much taste drives what gets watched
    TSCALE = 1.3                                 # strength of the TASTE table
    FACTOR_SD = 0.6                              # spread of taste-factor scores
    PERSONAL = 0.2                               # ... and of single-genre whims
    T0 = 874724710; T1 = 893286638               # 100K's first and last rating

    setup()
    make_movies(); write_items()
    make_users();  write_users()
    make_ratings(); write_ratings()
    write_small_files()
}
