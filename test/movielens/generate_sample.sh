#!/usr/bin/env bash
# generate_sample.sh OUTDIR [SEED]
#
# Writes a synthetic data set in the MovieLens 100K file format into OUTDIR:
#   u.data u.user u.item u.genre u.occupation u.info u1.base u1.test GENERATED
# 943 users, 1682 movies, exactly 100000 ratings, every user >= 20 ratings.
# Ratings come from a latent model in which taste depends on age group,
# gender and genre (see generate_sample.awk and README.md), so a trained
# recommender gives visibly sensible answers.  Movie 1 is "Toy Planet (1995)",
# an animated children's comedy: the demo's "similar to" example.
#
# Same SEED (default 42) => byte-identical files, with any POSIX awk.
# Needs only bash, coreutils and awk (mawk is fine).  No real MovieLens data
# is used or copied: every title is made up from word lists.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "generate_sample: $*" >&2; exit 1; }

usage() {
    echo "usage: $0 OUTDIR [SEED]   (SEED: non-negative integer, default 42)" >&2
    exit 2
}

# Sort a split file by user, then movie, like the real u1.base / u1.test.
sort_split() {
    local file="$1"
    LC_ALL=C sort -t "$(printf '\t')" -k1,1n -k2,2n -o "$file" "$file"
}

write_marker() {
    local outdir="$1" seed="$2"
    cat >"$outdir/GENERATED" <<EOF
This is NOT MovieLens data.  It is a synthetic MovieLens-shaped sample made by
fmrec's test/movielens/generate_sample.sh with seed $seed.
All users, titles and ratings are invented.
EOF
}

main() {
    [[ $# -ge 1 && $# -le 2 ]] || usage
    local outdir="$1" seed="${2:-42}"
    [[ "$seed" =~ ^[0-9]+$ ]] || die "SEED must be a non-negative integer, got '$seed'"

    mkdir -p "$outdir" || die "cannot create $outdir"
    # LC_ALL=C: byte semantics, so the Latin-1 titles are written as single
    # bytes and number formatting never depends on the caller's locale.
    LC_ALL=C awk -v seed="$seed" -v outdir="$outdir" -f "$HERE/generate_sample.awk" \
        || die "awk generator failed"
    sort_split "$outdir/u1.base"
    sort_split "$outdir/u1.test"
    write_marker "$outdir" "$seed"
    echo "generate_sample: wrote $(wc -l <"$outdir/u.data") ratings," \
         "$(wc -l <"$outdir/u.user") users, $(wc -l <"$outdir/u.item") movies" \
         "to $outdir (seed $seed)" >&2
}

main "$@"
