#!/usr/bin/env bash
# load.sh DIR DBNAME
#
# Loads a MovieLens data set from DIR into database DBNAME (schema public),
# replacing the tables users, movies, ratings, ratings_split and the view
# ratings_with_meta.  The connection otherwise comes from the usual libpq
# environment: PGHOST, PGPORT, PGUSER, PGPASSWORD, ...
#
# Formats, detected from the files in DIR:
#   100K  u.data, u.user, u.item (+ optional u1.base/u1.test .. u5.base/u5.test)
#   1M    ratings.dat, users.dat, movies.dat
# A synthetic sample from generate_sample.sh is in the 100K format.
#
# How: the input files are normalised into tab-separated UTF-8 files in a
# temporary directory (separator, encoding, COPY escaping only: no meaning is
# changed here), then the SQL scripts next to this file \copy them into
# staging tables and build the final tables.  Everything runs in one
# transaction: if anything fails, the previous tables are left as they were.
#
# Prints one line per table with its row count on stdout.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TAB="$(printf '\t')"

say() { echo "load: $*" >&2; }
die() { echo "load: error: $*" >&2; exit 1; }

usage() {
    echo "usage: $0 DIR DBNAME   (connection: PGHOST, PGPORT, PGUSER, ... )" >&2
    exit 2
}

# Prints 100k or 1m.
detect_format() {
    local dir="$1"
    if [[ -f "$dir/u.data" && -f "$dir/ratings.dat" ]]; then
        die "$dir holds both u.data (100K) and ratings.dat (1M); point to one data set"
    elif [[ -f "$dir/u.data" ]]; then
        echo 100k
    elif [[ -f "$dir/ratings.dat" ]]; then
        echo 1m
    else
        die "$dir has neither u.data (MovieLens 100K) nor ratings.dat (MovieLens 1M)"
    fi
}

require_files() {
    local dir="$1" f
    shift
    for f in "$@"; do
        [[ -f "$dir/$f" ]] || die "missing $dir/$f"
    done
}

# cat a file as UTF-8.  MovieLens files are Latin-1, but a copy someone
# already converted is UTF-8, and converting that again would garble it, so
# convert only what is not valid UTF-8 (pure ASCII is both and passes as is).
# Also drops carriage returns, in case the files went through Windows.
as_utf8() {
    local file="$1"
    if iconv -f UTF-8 -t UTF-8 "$file" >/dev/null 2>&1; then
        tr -d '\r' <"$file"
    else
        say "$(basename "$file") is not UTF-8, reading it as Latin-1"
        iconv -f LATIN1 -t UTF-8 "$file" | tr -d '\r'
    fi
}

# normalise FILE SEP NFIELDS [MERGE]  -> tab-separated lines on stdout
#
# Splits each line of FILE on the literal separator SEP ('|', '::' or a tab)
# and checks it has NFIELDS fields.  With MERGE=k, a line with too many fields
# is taken to have SEP inside field k (a title), and the extra pieces are
# glued back into field k.  Backslashes are doubled and stray tabs become
# spaces, as COPY's text format needs.  Blank lines are skipped.
normalise() {
    local file="$1" sep="$2" nfields="$3" merge="${4:-0}"
    as_utf8 "$file" | sed 's/\\/\\\\/g' | awk -v sep="$sep" -v want="$nfields" \
        -v merge="$merge" -v name="$(basename "$file")" '
        # split s on the literal string sep into f[1..n]; returns n
        function lsplit(s, f,    n, i) {
            n = 0
            while ((i = index(s, sep)) > 0) { f[++n] = substr(s, 1, i - 1); s = substr(s, i + length(sep)) }
            f[++n] = s
            return n
        }
        $0 == "" { next }
        {
            n = lsplit($0, f)
            if (n > want && merge > 0) {           # separator inside field merge
                extra = n - want
                for (i = merge + 1; i <= merge + extra; i++) f[merge] = f[merge] sep f[i]
                for (i = merge + 1; i <= want; i++) f[i] = f[i + extra]
                n = want
            }
            if (n != want) {
                printf "load: error: %s line %d: expected %d fields, found %d\n", name, NR, want, n > "/dev/stderr"
                exit 1
            }
            out = ""
            for (i = 1; i <= n; i++) { gsub(/\t/, " ", f[i]); out = out (i > 1 ? "\t" : "") f[i] }
            print out
        }'
}

# The 100K cross-validation folds u1..u5 (base = training part, test = the
# held-out 20%) as "fold<TAB>part<TAB>user<TAB>movie<TAB>rating" lines.
# ua/ub (another split that exists in some copies) are not loaded.
splits_100k() {
    local dir="$1" k part
    for k in 1 2 3 4 5; do
        for part in base test; do
            [[ -f "$dir/u$k.$part" ]] || continue
            normalise "$dir/u$k.$part" "$TAB" 4 | awk -v k="$k" -v p="$part" \
                'BEGIN { FS = OFS = "\t" } { print k, p, $1, $2, $3 }'
        done
    done
}

prepare_100k() {
    local dir="$1" work="$2"
    require_files "$dir" u.data u.user u.item
    normalise "$dir/u.data" "$TAB" 4 >"$work/ratings.tsv"
    normalise "$dir/u.user" "|" 5 >"$work/users.tsv"
    normalise "$dir/u.item" "|" 24 2 >"$work/movies.tsv"
    splits_100k "$dir" >"$work/splits.tsv"
}

prepare_1m() {
    local dir="$1" work="$2"
    require_files "$dir" ratings.dat users.dat movies.dat
    normalise "$dir/ratings.dat" "::" 4 >"$work/ratings.tsv"
    normalise "$dir/users.dat" "::" 5 >"$work/users.tsv"
    normalise "$dir/movies.dat" "::" 3 2 >"$work/movies.tsv"
    : >"$work/splits.tsv"                       # 1M ships no splits
}

# Words for the table comments: where the data came from.
describe_source() {
    local dir="$1" format="$2"
    if [[ -f "$dir/GENERATED" ]]; then
        echo "GENERATED MovieLens-shaped sample (not MovieLens data) from $dir"
    else
        echo "MovieLens $format from $dir"
    fi
}

run_psql() {
    local dbname="$1"
    shift
    # Our files are UTF-8 whatever the caller's locale says.
    PGCLIENTENCODING=UTF8 psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 \
        --dbname "$dbname" "$@"
}

main() {
    [[ $# -eq 2 ]] || usage
    local dir="$1" dbname="$2" format work source started
    [[ -d "$dir" ]] || die "no such directory: $dir"
    dir="$(cd "$dir" && pwd)"
    format="$(detect_format "$dir")"
    started=$SECONDS

    work="$(mktemp -d "${TMPDIR:-/tmp}/fmrec-load.XXXXXX")"
    # shellcheck disable=SC2064  # expand $work now, it is local
    trap "rm -rf '$work'" EXIT

    say "reading MovieLens ${format^^}-format files from $dir"
    "prepare_$format" "$dir" "$work"
    source="$(describe_source "$dir" "${format^^}")"

    if [[ "$(run_psql "$dbname" --tuples-only --no-align \
                --command 'SHOW server_encoding')" == SQL_ASCII ]]; then
        say "warning: database $dbname has encoding SQL_ASCII; titles are stored as raw UTF-8 bytes"
    fi

    say "loading into database $dbname"
    run_psql "$dbname" --single-transaction \
        --set workdir="$work" --set source="$source" \
        --file "$HERE/schema.sql" \
        --file "$HERE/load_$format.sql" \
        --file "$HERE/finish.sql" \
        || die "loading failed (see above); $dbname was not changed, it all ran in one transaction"
    say "done in $((SECONDS - started)) s"
}

main "$@"
