#!/usr/bin/env bash
# fm_vector storage benchmark (a command, not a test): COPY time (binary and
# text) and table size for 1M items with k = 120 and a bias each, and the
# storage choice: EXTERNAL (fmrec's) against EXTENDED (PostgreSQL's default,
# pglz) and MAIN for 120 and 1000 dimensions -- table size with TOAST, COPY
# time and the time of a full scan that reads every vector.  Medians over
# --repeat runs (default 3).  The top-10 latency against plain SQL real[] is
# test/bench/serving_bench.sh.
#
#   sudo test/bench/vector_bench.sh [--rows N] [--repeat R]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/common.sh"

ROWS=1000000
WIDE_ROWS=100000
REPEAT=3
while [ $# -gt 0 ]; do
	case $1 in
		--rows) ROWS=$2; shift 2 ;;
		--repeat) REPEAT=$2; shift 2 ;;
		*) die "unknown option $1" ;;
	esac
done

# seconds of one SQL statement, from psql's \timing
timed() { psql -qXAt -d bench -c '\timing on' -c "$1" | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | awk '{ printf "%.3f\n", $1 / 1000 }'; }

build_and_install
GEN=$(mktemp -d /tmp/fmrec-gen.XXXXXX)/serving_gen
gcc -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$FMREC_ROOT/src/core" \
	-o "$GEN" "$HERE/serving_gen.c" "$FMREC_ROOT/src/core/rng.c" -lm
start_cluster "shared_buffers = 2GB" "max_wal_size = 8GB" "checkpoint_timeout = 1h"
createdb bench
psql -qX -d bench -c "CREATE EXTENSION fmrec"
DATA="$FMREC_CLUSTER_DIR/data-files"
mkdir -p "$DATA"
chown "$(cluster_user)" "$DATA"

# copy_case LABEL DIM ROWS STORAGE FORMAT FILE -> "copy_s size_mb toast_mb scan_s"
copy_case() {
	local dim=$2 rows=$3 storage=$4 format=$5 file=$6 copies=() scans=() r size toast
	for r in $(seq "$REPEAT"); do
		psql -qX -d bench -c "DROP TABLE IF EXISTS items" \
			-c "CREATE TABLE items (id bigint, bias real, embedding fm_vector($dim))" \
			-c "ALTER TABLE items ALTER COLUMN embedding SET STORAGE $storage"
		copies+=("$(timed "COPY items FROM '$file' WITH (FORMAT $format)")")
		psql -qX -d bench -c "VACUUM ANALYZE items"
		scans+=("$(timed "SELECT sum(fm_norm(embedding)) FROM items")")
	done
	size=$(psql -qXAt -d bench -c "SELECT round(pg_table_size('items') / 1048576.0, 1)")
	toast=$(psql -qXAt -d bench -c "SELECT round(coalesce(pg_total_relation_size(reltoastrelid), 0) / 1048576.0, 1) FROM pg_class WHERE oid = 'items'::regclass")
	printf '| %s | %s | %s | %s | %s | %s MB | %s MB | %s |\n' "$1" "$dim" "$rows" "$storage" \
		"$(printf '%s\n' "${copies[@]}" | median)" "$size" "$toast" "$(printf '%s\n' "${scans[@]}" | median)"
}

log "generating $ROWS items of 120 dimensions and $WIDE_ROWS of 1000 (COPY BINARY files)"
"$GEN" "$ROWS" 120 42 fm_vector >"$DATA/items120.bin"
"$GEN" "$WIDE_ROWS" 1000 42 fm_vector >"$DATA/items1000.bin"
psql -qX -d bench -c "CREATE TABLE t (id bigint, bias real, embedding fm_vector)" \
	-c "COPY t FROM '$DATA/items120.bin' WITH (FORMAT binary)" \
	-c "COPY t TO '$DATA/items120.txt'" -c "DROP TABLE t"
chmod 644 "$DATA"/* 2>/dev/null || true

echo
echo "| case | dims | rows | storage | COPY s | table size | of which TOAST | full scan s |"
echo "|---|---|---|---|---|---|---|---|"
copy_case "COPY BINARY" 120 "$ROWS" EXTERNAL binary "$DATA/items120.bin"
copy_case "COPY text" 120 "$ROWS" EXTERNAL text "$DATA/items120.txt"
for storage in EXTERNAL EXTENDED MAIN; do
	copy_case "COPY BINARY" 1000 "$WIDE_ROWS" "$storage" binary "$DATA/items1000.bin"
done
