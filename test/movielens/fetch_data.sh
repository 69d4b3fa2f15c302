#!/usr/bin/env bash
# fetch_data.sh [DIR]
#
# Finds a MovieLens data set and prints its directory on stdout (one line;
# all messages go to stderr), trying in order:
#   1. DIR, or else $FMREC_MOVIELENS_DIR           (an explicit choice: must be valid)
#   2. ../shared/data/movielens-100k next to the repository root
#      (override the ../shared/data part with $FMREC_SHARED_DATA_DIR)
#   3. an earlier download in the cache, ${XDG_CACHE_HOME:-$HOME/.cache}/fmrec
#   4. the official download of ml-100k.zip into that cache, if the network
#      allows (skipped when FMREC_OFFLINE=1; $FMREC_MOVIELENS_URL overrides
#      the address, e.g. a mirror; the zip must hold ml-100k/u.data etc.)
#   5. a GENERATED MovieLens-shaped sample (generate_sample.sh, seed
#      $FMREC_SAMPLE_SEED, default 42), also in the cache
#
# MovieLens' licence forbids redistribution: nothing is ever written inside
# the repository.
#
# Typical use:   ./load.sh "$(./fetch_data.sh)" mydb
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
URL="${FMREC_MOVIELENS_URL:-https://files.grouplens.org/datasets/movielens/ml-100k.zip}"

say() { echo "fetch_data: $*" >&2; }
die() { echo "fetch_data: error: $*" >&2; exit 1; }

is_dataset() { [[ -f "$1/u.data" || -f "$1/ratings.dat" ]]; }

# Is path $1 inside the repository?  (It need not exist yet.)
inside_repo() {
    local path
    path="$(realpath -m "$1")"
    [[ "$path/" == "$ROOT/"* ]]
}

# Sets CACHE to our cache directory; never one inside the repository.
set_cache() {
    local base="${XDG_CACHE_HOME:-}"
    if [[ -z "$base" ]]; then
        if [[ -n "${HOME:-}" ]]; then base="$HOME/.cache"; else base="${TMPDIR:-/tmp}"; fi
    fi
    CACHE="$base/fmrec"
    if inside_repo "$CACHE"; then
        die "the cache $CACHE is inside the repository; set XDG_CACHE_HOME elsewhere"
    fi
}

# 1. explicit directory
from_explicit() {
    local dir="${1:-${FMREC_MOVIELENS_DIR:-}}"
    [[ -n "$dir" ]] || return 1
    is_dataset "$dir" || die "$dir has no MovieLens files (u.data or ratings.dat)"
    say "using $dir (given explicitly)"
    realpath "$dir"
}

# 2. the shared data folder that sits beside the repository
from_shared() {
    local dir="${FMREC_SHARED_DATA_DIR:-$ROOT/../shared/data}/movielens-100k"
    is_dataset "$dir" || return 1
    say "using MovieLens 100K from the shared data folder"
    realpath "$dir"
}

# 3. a download made by an earlier run
from_cache() {
    local dir
    set_cache
    dir="$CACHE/ml-100k"
    is_dataset "$dir" || return 1
    say "using MovieLens 100K downloaded earlier to $dir"
    echo "$dir"
}

ensure_unzip() {
    command -v unzip >/dev/null && return 0
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
        say "installing unzip with apt-get"
        { apt-get install -y -qq unzip || { apt-get update -qq && apt-get install -y -qq unzip; }; } >&2 \
            && return 0
    fi
    say "unzip is missing (install it: apt-get install unzip)"
    return 1
}

# 4. the official download; fails fast when there is no network
from_download() {
    local cache tmp
    set_cache
    cache="$CACHE"
    if [[ "${FMREC_OFFLINE:-0}" == 1 ]]; then
        say "FMREC_OFFLINE=1: not downloading"
        return 1
    fi
    command -v curl >/dev/null || { say "no curl, cannot download"; return 1; }
    # (this runs as part of an || chain, where set -e is off: check by hand)
    if ! { mkdir -p "$cache" && tmp="$(mktemp -d "$cache/download.XXXXXX")"; }; then
        say "cannot write to $cache"
        return 1
    fi
    say "downloading $URL"
    # --connect-timeout also bounds the DNS lookup, so no network = a quick no
    if ! curl --fail --silent --show-error --location --connect-timeout 5 --max-time 300 \
            --output "$tmp/ml-100k.zip" "$URL" 2>"$tmp/curl.err"; then
        say "download failed: $(head -n 1 "$tmp/curl.err")"
        rm -rf "$tmp"
        return 1
    fi
    if ! ensure_unzip || ! unzip -q "$tmp/ml-100k.zip" -d "$tmp" >&2 \
            || ! is_dataset "$tmp/ml-100k"; then
        say "could not unpack the download"
        rm -rf "$tmp"
        return 1
    fi
    # rename is atomic; if a parallel run got there first, keep its copy
    mv -T "$tmp/ml-100k" "$cache/ml-100k" 2>/dev/null || true
    rm -rf "$tmp"
    is_dataset "$cache/ml-100k" || return 1
    say "saved to $cache/ml-100k"
    echo "$cache/ml-100k"
}

# 5. the generated sample, cached per seed and per version of the generator
from_generator() {
    local seed="${FMREC_SAMPLE_SEED:-42}" cache version dir tmp
    set_cache
    cache="$CACHE"
    version="$(cat "$HERE/generate_sample.sh" "$HERE/generate_sample.awk" | cksum | cut -d ' ' -f 1)"
    dir="$cache/generated-seed$seed-$version"
    if [[ ! -f "$dir/GENERATED" ]]; then
        if ! { mkdir -p "$cache" && tmp="$(mktemp -d "$cache/generate.XXXXXX")"; }; then
            die "cannot write to $cache"
        fi
        "$HERE/generate_sample.sh" "$tmp" "$seed" || { rm -rf "$tmp"; die "generate_sample.sh failed"; }
        mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
    fi
    say "NOTE: no real MovieLens data available; using a GENERATED MovieLens-shaped" \
        "sample (synthetic users, titles and ratings; seed $seed) at $dir"
    echo "$dir"
}

main() {
    [[ $# -le 1 ]] || { echo "usage: $0 [DIR]" >&2; exit 2; }
    from_explicit "$@" || from_shared || from_cache || from_download || from_generator
}

main "$@"
