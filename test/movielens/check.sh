#!/usr/bin/env bash
# check.sh -- tests for the MovieLens scripts in this folder.
#
# Starts a throwaway PostgreSQL 15 cluster (unix socket only, in a temp dir;
# run as the postgres user when we are root), then
#   - generates the sample twice (determinism) and loads it, checking counts
#     and that tastes really depend on age group and gender;
#   - loads the real MovieLens 100K if fetch_data.sh finds it (else skipped);
#   - loads the hand-made 1M-format fixture in fixtures/ml-1m-mini;
#   - checks fetch_data.sh's fall-through to the generated sample;
#   - checks that nothing was written into the repository.
# Ends with "N passed, N failed"; exit status 1 if anything failed.
#
# PGBIN (default: the directory of $PG_CONFIG, else /usr/lib/postgresql/15/bin)
# says where initdb/pg_ctl are.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PGBIN="${PGBIN:-$(dirname "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}")}"
PORT=55432            # only names the socket file in our private directory

PASSED=0
FAILED=0
TMP=""

say() { echo "check: $*" >&2; }

ok()   { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1"; [[ -z "${2:-}" ]] || echo "       $2"; }

# expect NAME ACTUAL EXPECTED
expect() {
    if [[ "$2" == "$3" ]]; then ok "$1"; else fail "$1" "expected [$3], got [$2]"; fi
}

# q DB SQL -> the result, unaligned, no headers
q() { PGCLIENTENCODING=UTF8 psql --no-psqlrc -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

# ------------------------------------------------------------- the cluster
as_postgres() {
    if [[ "$(id -u)" -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_cluster() {
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/fmrec-movielens-check.XXXXXX")"
    [[ "$(id -u)" -ne 0 ]] || chown postgres: "$TMP"
    chmod 755 "$TMP"
    as_postgres "$PGBIN/initdb" -D "$TMP/data" -U postgres -A trust -E UTF8 --no-locale \
        >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; exit 1; }
    as_postgres "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w \
        -o "-p $PORT -k $TMP -c listen_addresses=''" start >/dev/null
    export PGHOST="$TMP" PGPORT="$PORT" PGUSER=postgres
    unset PGDATABASE PGSERVICE PGPASSWORD
}

stop_cluster() {
    if [[ -n "$TMP" && -d "$TMP/data" ]]; then
        as_postgres "$PGBIN/pg_ctl" -D "$TMP/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [[ -z "$TMP" ]] || rm -rf "$TMP"
}

# load DIR DB: create DB, run load.sh, keep its stdout in $TMP/DB.out
load() {
    local dir="$1" db="$2" t0
    q postgres "CREATE DATABASE $db" >/dev/null
    t0=$(date +%s.%N)
    if "$HERE/load.sh" "$dir" "$db" >"$TMP/$db.out" 2>"$TMP/$db.err"; then
        ok "load.sh $db ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'))"
    else
        fail "load.sh $db" "$(cat "$TMP/$db.err")"
        return 1
    fi
    sed 's/^/       /' "$TMP/$db.out"
}

counts_line() { tr -s ' ' <"$TMP/$1.out" | tr '\n' ';'; }

# ------------------------------------------------------------------- tests
test_generator() {
    local a="$TMP/gen-a" b="$TMP/gen-b" c="$TMP/gen-c"
    # (no timing assertion: speed is measured, never asserted in tests)
    "$HERE/generate_sample.sh" "$a" 42 2>/dev/null
    "$HERE/generate_sample.sh" "$b" 42 2>/dev/null
    "$HERE/generate_sample.sh" "$c" 7 2>/dev/null
    if diff -r "$a" "$b" >/dev/null; then ok "same seed gives identical files"
    else fail "same seed gives identical files"; fi
    if ! cmp -s "$a/u.data" "$c/u.data"; then ok "another seed gives other ratings"
    else fail "another seed gives other ratings"; fi
    expect "u1.test + u1.base = u.data" \
        "$(cat "$a/u1.base" "$a/u1.test" | sort | cksum)" "$(sort "$a/u.data" | cksum)"
    expect "u.item is Latin-1 like the real one (not valid UTF-8)" \
        "$(iconv -f UTF-8 -t UTF-8 "$a/u.item" >/dev/null 2>&1 && echo utf8 || echo latin1)" latin1
}

test_sample_db() {
    local db=sample dir="$TMP/gen-a"
    load "$dir" "$db" || return 0
    expect "sample counts" "$(counts_line "$db")" \
        "users 943 rows;movies 1682 rows;ratings 100000 rows;ratings_split 100000 rows;"
    expect "sample: movie 1 is the animated children's comedy" \
        "$(q "$db" "SELECT title || ' ' || genres::text FROM movies WHERE movie_id = 1")" \
        "Toy Planet (1995) {Animation,Children's,Comedy}"
    expect "sample: all 19 genres occur" \
        "$(q "$db" "SELECT count(DISTINCT g) FROM movies, unnest(genres) AS g")" 19
    expect "sample: every user has >= 20 ratings" \
        "$(q "$db" "SELECT min(n) >= 20 FROM (SELECT count(*) AS n FROM ratings GROUP BY user_id) s")" t
    expect "sample: ratings are integers 1..5, mean near 3.5" \
        "$(q "$db" "SELECT bool_and(rating IN (1,2,3,4,5)) AND avg(rating) BETWEEN 3.3 AND 3.8 FROM ratings")" t
    expect "sample: Latin-1 title arrives as UTF-8" \
        "$(q "$db" "SELECT count(*) FROM movies WHERE title LIKE 'Die Brücke im Nebel (%)'")" 1
    expect "sample: all 7 age groups and both genders occur" \
        "$(q "$db" "SELECT count(DISTINCT age_group) || '/' || count(DISTINCT gender) FROM users")" 7/2
    expect "sample: tables are labelled as generated" \
        "$(q "$db" "SELECT obj_description('public.ratings'::regclass) LIKE 'GENERATED%'")" t

    # The structure the generator promises, measured on the loaded data:
    # mean rating of a genre for one group minus another, in stars.
    local gap
    gap_sql() {  # genre, group A (age, gender), group B
        echo "SELECT round((avg(rating) FILTER (WHERE age_group = '$2' AND gender = '$3')
                          - avg(rating) FILTER (WHERE age_group = '$4' AND gender = '$5'))::numeric, 2)
              FROM ratings_with_meta WHERE '$1' = ANY (genres)"
    }
    gap=$(q "$db" "$(gap_sql Action 18-24 M 50-55 F)")
    if awk -v g="$gap" 'BEGIN { exit !(g >= 0.5) }'; then ok "sample: Action, men 18-24 minus women 50-55 = $gap stars (>= 0.5)"
    else fail "sample: Action, men 18-24 minus women 50-55 = $gap stars (< 0.5)"; fi
    gap=$(q "$db" "$(gap_sql Romance 50-55 F 18-24 M)")
    if awk -v g="$gap" 'BEGIN { exit !(g >= 0.5) }'; then ok "sample: Romance, women 50-55 minus men 18-24 = $gap stars (>= 0.5)"
    else fail "sample: Romance, women 50-55 minus men 18-24 = $gap stars (< 0.5)"; fi
    # The demo's "similar to movie 1" example: even plain item-item cosine on
    # the raw ratings should find mostly family films next to Toy Planet.
    local family
    family=$(q "$db" "
        WITH c AS (SELECT user_id, movie_id, rating - avg(rating) OVER (PARTITION BY user_id) AS d
                   FROM ratings),
             sim AS (SELECT b.movie_id, sum(a.d * b.d) / sqrt(sum(a.d * a.d) * sum(b.d * b.d)) AS cos
                     FROM c AS a JOIN c AS b ON b.user_id = a.user_id AND b.movie_id <> 1
                     WHERE a.movie_id = 1
                     GROUP BY b.movie_id HAVING count(*) >= 20
                     ORDER BY cos DESC LIMIT 10)
        SELECT count(*) FROM sim JOIN movies USING (movie_id)
        WHERE genres && '{Animation,Children''s}'")
    if [[ "$family" -ge 5 ]]; then ok "sample: $family of the 10 movies most like movie 1 are Animation/Children's"
    else fail "sample: only $family of the 10 movies most like movie 1 are Animation/Children's (want >= 5)"; fi
    gap=$(q "$db" "SELECT round((avg(rating) FILTER (WHERE age_group = 'Under 18')
                               - avg(rating) FILTER (WHERE age_group = '35-44'))::numeric, 2)
                   FROM ratings_with_meta WHERE 'Children''s' = ANY (genres)")
    if awk -v g="$gap" 'BEGIN { exit !(g >= 0.5) }'; then ok "sample: Children's, under 18 minus 35-44 = $gap stars (>= 0.5)"
    else fail "sample: Children's, under 18 minus 35-44 = $gap stars (< 0.5)"; fi
}

test_real_100k() {
    local dir db=real
    dir="$(FMREC_OFFLINE=1 XDG_CACHE_HOME="$TMP/cache" "$HERE/fetch_data.sh" 2>/dev/null)"
    if [[ -f "$dir/GENERATED" ]]; then
        echo "skip - real MovieLens 100K not available (no ../shared/data/movielens-100k)"
        return 0
    fi
    load "$dir" "$db" || return 0
    local nsplit=0 k
    for k in 1 2 3 4 5; do
        [[ -f "$dir/u$k.base" ]] && nsplit=$((nsplit + $(wc -l <"$dir/u$k.base")))
        [[ -f "$dir/u$k.test" ]] && nsplit=$((nsplit + $(wc -l <"$dir/u$k.test")))
    done
    expect "real 100K counts" "$(counts_line "$db")" \
        "users 943 rows;movies 1682 rows;ratings 100000 rows;ratings_split $nsplit rows;"
    expect "real: movie 1" "$(q "$db" "SELECT title || ' ' || genres::text FROM movies WHERE movie_id = 1")" \
        "Toy Story (1995) {Animation,Children's,Comedy}"
    expect "real: Latin-1 titles arrive as UTF-8" \
        "$(q "$db" "SELECT string_agg(title, ' / ' ORDER BY movie_id) FROM movies WHERE movie_id IN (543, 1633)")" \
        "Misérables, Les (1995) / Á köldum klaka (Cold Fever) (1994)"
    expect "real: all 19 genres occur" \
        "$(q "$db" "SELECT count(DISTINCT g) FROM movies, unnest(genres) AS g")" 19
    expect "real: view has one row per rating" \
        "$(q "$db" "SELECT count(*) FROM ratings_with_meta")" 100000
    expect "real: age groups from exact ages" \
        "$(q "$db" "SELECT string_agg(age_group || '=' || n, ',' ORDER BY age_group) FROM
                    (SELECT age_group, count(*) n FROM users GROUP BY 1) s")" \
        "18-24=198,25-34=310,35-44=194,45-49=80,50-55=73,56+=52,Under 18=36"
    expect "real: first rating time" \
        "$(q "$db" "SELECT extract(epoch FROM min(rated_at))::bigint FROM ratings")" 874724710
    if [[ -f "$dir/u1.test" ]]; then
        expect "real: fold 1 test part" \
            "$(q "$db" "SELECT count(*) FROM ratings_split WHERE fold = 1 AND part = 'test'")" 20000
    fi
}

test_1m_fixture() {
    local db=mini1m
    load "$HERE/fixtures/ml-1m-mini" "$db" || return 0
    expect "1M fixture counts" "$(counts_line "$db")" \
        "users 5 rows;movies 6 rows;ratings 14 rows;ratings_split 0 rows;"
    expect "1M: Latin-1 title to UTF-8" \
        "$(q "$db" "SELECT title FROM movies WHERE movie_id = 3")" "Le Café des Rêves (1996)"
    expect "1M: title with ':' and genres split" \
        "$(q "$db" "SELECT title || ' ' || genres::text FROM movies WHERE movie_id = 2")" \
        "Galaxy Run: The Return (1997) {Action,Sci-Fi}"
    expect "1M: backslash kept" "$(q "$db" "SELECT title FROM movies WHERE movie_id = 5")" 'Slash\Back (1998)'
    expect "1M: no genres = empty array" "$(q "$db" "SELECT genres FROM movies WHERE movie_id = 6")" "{}"
    expect "1M: codes decoded" \
        "$(q "$db" "SELECT string_agg(concat_ws('|', user_id, age, age_group, gender, occupation, zip), ';' ORDER BY user_id) FROM users")" \
        "1|Under 18|F|K-12 student|48067;2|56+|M|self-employed|70072;3|25-34|M|scientist|55117;4|45-49|M|executive/managerial|02460;5|25-34|F|writer|T8H1N"
    expect "1M: timestamps" \
        "$(q "$db" "SELECT rated_at AT TIME ZONE 'UTC' FROM ratings WHERE user_id = 1 AND movie_id = 1")" \
        "2000-12-31 22:12:40"
}

# Loading again replaces the tables; a load that fails leaves them alone.
test_reload() {
    local db=reload broken="$TMP/broken-1m"
    load "$HERE/fixtures/ml-1m-mini" "$db" || return 0
    if "$HERE/load.sh" "$HERE/fixtures/ml-1m-mini" "$db" >/dev/null 2>&1; then
        ok "loading twice into one database works"
    else
        fail "loading twice into one database works"
    fi
    cp -r "$HERE/fixtures/ml-1m-mini" "$broken"
    echo '9::1::5::978300760' >>"$broken/ratings.dat"        # user 9 does not exist
    if "$HERE/load.sh" "$broken" "$db" >/dev/null 2>"$TMP/broken.err"; then
        fail "a rating of an unknown user is rejected"
    else
        ok "a rating of an unknown user is rejected"
    fi
    expect "a failed load keeps the previous tables" \
        "$(q "$db" "SELECT count(*) FROM ratings")" 14
    printf '10::Bad Line (1999)\n' >"$broken/movies.dat"
    "$HERE/load.sh" "$broken" "$db" >/dev/null 2>"$TMP/broken.err" || true
    expect "a malformed line is reported with file and line number" \
        "$(grep -c 'movies.dat line 1: expected 3 fields, found 2' "$TMP/broken.err")" 1
}

test_fetch_data() {
    local out t0 secs cache="$TMP/fetch-cache"
    out="$("$HERE/fetch_data.sh" "$HERE/fixtures/ml-1m-mini" 2>/dev/null)"
    expect "fetch_data.sh DIR prints DIR" "$out" "$HERE/fixtures/ml-1m-mini"
    if FMREC_MOVIELENS_DIR="$TMP/nonexistent" "$HERE/fetch_data.sh" >/dev/null 2>&1; then
        fail "fetch_data.sh rejects a bad FMREC_MOVIELENS_DIR"
    else ok "fetch_data.sh rejects a bad FMREC_MOVIELENS_DIR"; fi

    # No shared folder, empty cache: tries the network, then generates.
    t0=$(date +%s.%N)
    out="$(FMREC_SHARED_DATA_DIR="$TMP/nonexistent" XDG_CACHE_HOME="$cache" \
           "$HERE/fetch_data.sh" 2>"$TMP/fetch.err")" || true
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [[ -f "$out/GENERATED" ]] && grep -q 'GENERATED MovieLens-shaped' "$TMP/fetch.err"; then
        ok "fetch_data.sh falls through to the generated sample in $secs s and says so"
    elif [[ -f "$out/u.data" && "$out" == "$cache/"* ]]; then
        ok "fetch_data.sh downloaded ml-100k into the cache (network available)"
    else
        fail "fetch_data.sh fall-through" "got [$out]: $(cat "$TMP/fetch.err")"
    fi
}

# Our folder's files, and MovieLens-named files anywhere in the repository
# (other than our fixture), to prove the scripts wrote nothing there.  Other
# folders are left out: other people work in them while this runs.
repo_listing() {
    (cd "$HERE" && find . | LC_ALL=C sort)
    (cd "$ROOT" && find . -path ./.git -prune -o -path ./test/movielens/fixtures -prune -o \
        \( -name 'u.data' -o -name 'u.item' -o -name 'u.user' -o -name 'u[1-5].*' \
           -o -name '*.dat' -o -name 'ml-*' -o -name 'generated-seed*' \) -print | LC_ALL=C sort)
}

main() {
    command -v psql >/dev/null || { echo "check: psql not found" >&2; exit 1; }
    [[ -x "$PGBIN/initdb" ]] || { echo "check: no initdb in $PGBIN (set PGBIN)" >&2; exit 1; }
    local before
    before="$(repo_listing)"
    trap stop_cluster EXIT
    start_cluster

    test_generator
    test_sample_db
    test_real_100k
    test_1m_fixture
    test_reload
    test_fetch_data

    if [[ "$(repo_listing)" == "$before" ]]; then ok "nothing was written into the repository"
    else fail "nothing was written into the repository" "$(diff <(echo "$before") <(repo_listing) | head)"; fi

    echo "$PASSED passed, $FAILED failed"
    [[ "$FAILED" -eq 0 ]]
}

main "$@"
