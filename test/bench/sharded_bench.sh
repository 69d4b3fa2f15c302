#!/usr/bin/env bash
# sharded_bench.sh - fmrec over partitioning + postgres_fdw: a coordinator
# and two shards on this machine (Unix sockets) against one local table.
#
#   test/bench/sharded_bench.sh [N_ITEMS] [options]
#
#   N_ITEMS                 catalogue size (default 1000000), split in two
#                           range partitions, one per shard
#   --dim D                 embedding dimensions (default 64)
#   --reps R                interleaved repetitions of the top-10 (default 30)
#   --ratings M             rows of the ratings table for the training read
#                           (default 1000000; 0 skips it)
#   --swap-rows S           item rows rewritten through postgres_fdw for the
#                           swap cost (default 20000; 0 skips it)
#   --shared-buffers SIZE   per cluster (default 512MB)
#   --no-install            do not build and install fmrec first
#
# Prints a markdown table to stdout (progress on stderr):
#   top-10 latency: median over R interleaved repetitions (each repetition
#     runs every case once, with the same random query vector), timed on the
#     coordinator around the statement (clock_timestamp in PL/pgSQL, so the
#     client round trip is left out alike for every case);
#   rows moved per query: rows the shards returned to the coordinator's
#     cursors (FETCH rows in the shards' pg_stat_statements) / queries, and
#     bytes (rows x the average stored width of a fetched row);
#   training read: seconds fm_train_from_table reports for reading its
#     source (NOTICE "read N rows in X s"), local vs foreign partitions with
#     fetch_size 100 (the default) and 10000, median of 3 interleaved runs;
#   swap: microseconds per item row of an UPDATE that postgres_fdw cannot
#     push down (a value computed on the coordinator per row, as fm_item is),
#     local vs through postgres_fdw.
# Cases of the top-10 (k = 10):
#   local            ORDER BY fm_score($1, embedding, bias) DESC LIMIT 10 on
#                    one table (fmrec's top-N scan)
#   union            UNION ALL of one LIMIT 10 subquery per foreign
#                    partition (the README's recipe): the shards get ORDER BY
#                    ... LIMIT 10 and answer in parallel (async_capable)
#   merge            the same ORDER BY ... LIMIT 10 on the partitioned table:
#                    a Merge Append; each shard gets the ORDER BY without the
#                    LIMIT (a full sort of its rows), the coordinator reads
#                    cursor batches of fetch_size 100
#   merge fetch 10   the same with fetch_size 10 on the foreign partitions
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
source "$HERE/../lib/common.sh"

N=1000000
DIM=64
REPS=30
RATINGS=1000000
SWAP_ROWS=20000
SHARED_BUFFERS=512MB
INSTALL=1
while [ $# -gt 0 ]; do
	case "$1" in
		--dim) DIM=$2; shift ;;
		--reps) REPS=$2; shift ;;
		--ratings) RATINGS=$2; shift ;;
		--swap-rows) SWAP_ROWS=$2; shift ;;
		--shared-buffers) SHARED_BUFFERS=$2; shift ;;
		--no-install) INSTALL=0 ;;
		[0-9]*) N=$1 ;;
		*) die "unknown option $1" ;;
	esac
	shift
done
[ "$SWAP_ROWS" -le $((N / 2)) ] || SWAP_ROWS=$((N / 2))

BUILD=$HERE/build
WORK=$(mktemp -d /tmp/fmrec-sharded.XXXXXX)
mkdir -p "$BUILD"
chown "$(cluster_user)" "$WORK"
chmod 700 "$WORK"
NODES="coord shard1 shard2"
declare -A PORT

stop_nodes() {
	local n
	for n in $NODES; do
		[ -f "$WORK/$n/postmaster.pid" ] &&
			as_cluster_user "$PG_BIN/pg_ctl" -D "$WORK/$n" -m fast -w stop >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap stop_nodes EXIT

[ "$INSTALL" -eq 0 ] || build_and_install
gcc -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$FMREC_ROOT/src/core" \
	-o "$BUILD/serving_gen" "$HERE/serving_gen.c" "$FMREC_ROOT/src/core/rng.c" -lm

# Three clusters, each on its own Unix socket directory (so one port number
# does not clash with another cluster's).
port=54350
for n in $NODES; do
	port=$((port + 1))
	PORT[$n]=$port
	as_cluster_user "$PG_BIN/initdb" -D "$WORK/$n" -U "$(cluster_user)" --auth=trust --no-sync \
		-E UTF8 --locale=C.UTF-8 >/dev/null
	extra=
	[ "$n" = coord ] || extra="shared_preload_libraries = 'pg_stat_statements'"
	cat >>"$WORK/$n/postgresql.conf" <<EOF
listen_addresses = ''
port = $port
unix_socket_directories = '$WORK/$n'
fsync = off
shared_buffers = $SHARED_BUFFERS
max_parallel_workers_per_gather = 0
$extra
EOF
	as_cluster_user "$PG_BIN/pg_ctl" -D "$WORK/$n" -l "$WORK/$n.log" -w start >/dev/null ||
		{ cat "$WORK/$n.log" >&2; die "$n did not start"; }
done
log "coordinator and two shards in $WORK"

q() {	# q NODE psql-args...
	local n=$1
	shift
	as_cluster_user "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK/$n" -p "${PORT[$n]}" \
		-U "$(cluster_user)" -d postgres "$@"
}

# --- data --------------------------------------------------------------------

HALF=$((N / 2))
log "generating $N items x $DIM dims"
for n in shard1 shard2; do
	q "$n" -c "CREATE EXTENSION fmrec" -c "CREATE EXTENSION pg_stat_statements" -c "
		CREATE TABLE items (item_id bigint PRIMARY KEY, bias real, embedding fm_vector, fm_version bigint);
		CREATE TABLE ratings (user_id integer, item_id integer, rating real);"
done
q coord -c "CREATE EXTENSION fmrec" -c "CREATE EXTENSION postgres_fdw" -c "
	CREATE TABLE items_local (item_id bigint, bias real, embedding fm_vector, fm_version bigint);"
"$BUILD/serving_gen" "$N" "$DIM" 1 fm_vector 0 |
	q coord -c "COPY items_local (item_id, bias, embedding) FROM STDIN (FORMAT binary)"
q coord -c "UPDATE items_local SET fm_version = 1" -c "ALTER TABLE items_local ADD PRIMARY KEY (item_id)"
q coord -c "VACUUM ANALYZE items_local"
i=0
for n in shard1 shard2; do
	lo=$((i * HALF + 1)); hi=$(( i == 0 ? HALF : N ))
	q coord -c "COPY (SELECT * FROM items_local WHERE item_id BETWEEN $lo AND $hi) TO STDOUT (FORMAT binary)" |
		q "$n" -c "COPY items FROM STDIN (FORMAT binary)"
	q "$n" -c "VACUUM ANALYZE items"
	i=$((i + 1))
done

# The coordinator's view: one server per shard; the partitioned table twice
# (the fetch_size default, and 10 = k) over the same remote tables.
schema="CREATE TABLE items (item_id bigint, bias real, embedding fm_vector, fm_version bigint) PARTITION BY RANGE (item_id);
	CREATE TABLE items_f10 (LIKE items) PARTITION BY RANGE (item_id);
	CREATE TABLE ratings (user_id integer, item_id integer, rating real) PARTITION BY RANGE (user_id);
	CREATE TABLE ratings_f10k (LIKE ratings) PARTITION BY RANGE (user_id);"
i=0
for n in shard1 shard2; do
	lo=$((i * HALF + 1)); hi=$(( i == 0 ? HALF + 1 : N + 1 ))
	schema+="
	CREATE SERVER $n FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '$WORK/$n', port '${PORT[$n]}', dbname 'postgres', extensions 'fmrec', async_capable 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER $n;
	CREATE FOREIGN TABLE items_$n PARTITION OF items FOR VALUES FROM ($lo) TO ($hi)
		SERVER $n OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE items_f10_$n PARTITION OF items_f10 FOR VALUES FROM ($lo) TO ($hi)
		SERVER $n OPTIONS (table_name 'items', fetch_size '10');
	CREATE FOREIGN TABLE ratings_$n PARTITION OF ratings FOR VALUES FROM ($((i * 1000000))) TO ($(((i + 1) * 1000000)))
		SERVER $n OPTIONS (table_name 'ratings');
	CREATE FOREIGN TABLE ratings_f10k_$n PARTITION OF ratings_f10k FOR VALUES FROM ($((i * 1000000))) TO ($(((i + 1) * 1000000)))
		SERVER $n OPTIONS (table_name 'ratings', fetch_size '10000');"
	i=$((i + 1))
done
q coord -c "$schema"
q coord -c "ANALYZE items" -c "ANALYZE items_f10"

# query vectors: 200 random ones of the same distribution
"$BUILD/serving_gen" 200 "$DIM" 2 fm_vector 0 |
	q coord -c "CREATE TABLE queries (id bigint, bias real, v fm_vector)" \
		-c "COPY queries FROM STDIN (FORMAT binary)"

# --- the top-10 --------------------------------------------------------------

# case_sql CASE: the statement, $1 the query vector
union_sql="SELECT * FROM (
	(SELECT item_id, fm_version, fm_score(\$1, embedding, bias) AS score FROM items_shard1 ORDER BY 3 DESC LIMIT 10)
	UNION ALL
	(SELECT item_id, fm_version, fm_score(\$1, embedding, bias) AS score FROM items_shard2 ORDER BY 3 DESC LIMIT 10)) c
	ORDER BY score DESC, item_id LIMIT 10"
q coord -c "
CREATE TABLE cases (name text PRIMARY KEY, ord int, sql text);
INSERT INTO cases VALUES
	('local', 1, 'SELECT item_id, fm_score(\$1, embedding, bias) AS score FROM items_local ORDER BY score DESC LIMIT 10'),
	('union', 2, \$q\$$union_sql\$q\$),
	('merge', 3, 'SELECT item_id, fm_score(\$1, embedding, bias) AS score FROM items ORDER BY score DESC LIMIT 10'),
	('merge fetch 10', 4, 'SELECT item_id, fm_score(\$1, embedding, bias) AS score FROM items_f10 ORDER BY score DESC LIMIT 10');
CREATE TABLE timings (name text, rep int, ms double precision, answer text);
CREATE PROCEDURE run_case(c text, qid bigint, rep int) LANGUAGE plpgsql AS \$\$
DECLARE
	s text := (SELECT sql FROM cases WHERE name = c);
	v fm_vector := (SELECT queries.v FROM queries WHERE id = qid);
	t0 timestamptz;
	t1 timestamptz;
	a text;
BEGIN
	t0 := clock_timestamp();
	EXECUTE 'SELECT string_agg(item_id::text, '','' ORDER BY score DESC, item_id) FROM (' || s || ') t' INTO a USING v;
	t1 := clock_timestamp();
	INSERT INTO timings VALUES (c, rep, extract(epoch FROM t1 - t0) * 1000, a);
END \$\$;"

log "top-10: $REPS interleaved repetitions of 4 cases"
# one warm-up round (connections to the shards, caches), then the repetitions;
# each CALL is its own transaction, as a client's query would be
for c in 'local' 'union' 'merge' 'merge fetch 10'; do q coord -c "CALL run_case('$c', 1, 0)"; done
calls=""
for r in $(seq 1 "$REPS"); do
	qid=$(( (r * 37) % 200 + 1 ))
	for c in 'local' 'union' 'merge' 'merge fetch 10'; do calls+="CALL run_case('$c', $qid, $r);"$'\n'; done
done
q coord <<<"$calls"

# rows moved per query, per case: FETCH rows on the shards over 10 queries
rows_moved() {
	local c=$1 n total=0 v
	for n in shard1 shard2; do q "$n" -c "SELECT pg_stat_statements_reset()" >/dev/null; done
	for qid in $(seq 11 20); do q coord -c "CALL run_case('$c', $qid, -1)"; done
	for n in shard1 shard2; do
		v=$(q "$n" -c "SELECT coalesce(sum(rows), 0) FROM pg_stat_statements WHERE query LIKE 'FETCH %'")
		total=$((total + v))
	done
	echo $((total / 10))
}
row_bytes=$(q shard1 -c "SELECT round(avg(pg_column_size(i.*))) FROM (SELECT * FROM items LIMIT 1000) i")

same=$(q coord -c "SELECT count(*) FILTER (WHERE a.answer = l.answer) || '/' || count(*)
	FROM timings a JOIN timings l ON l.rep = a.rep AND l.name = 'local' WHERE a.name <> 'local' AND a.rep > 0")

echo
echo "sharded_bench: $N items x $DIM dims over 2 shards vs one local table, k = 10, $REPS interleaved repetitions"
echo "(machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1e6 }' /proc/meminfo); answers identical to local: $same)"
echo
echo "| case | median ms | vs local | rows moved / query | bytes moved / query |"
echo "| --- | ---: | ---: | ---: | ---: |"
local_ms=$(q coord -c "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM timings WHERE name = 'local' AND rep > 0")
for c in 'local' 'union' 'merge' 'merge fetch 10'; do
	ms=$(q coord -c "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM timings WHERE name = '$c' AND rep > 0")
	if [ "$c" = local ]; then rows=0; else rows=$(rows_moved "$c"); fi
	printf '| %s | %.2f | %s | %s | %s |\n' "$c" "$ms" \
		"$(awk -v a="$ms" -v b="$local_ms" 'BEGIN { printf "%.1fx", a / b }')" "$rows" \
		"$(awk -v r="$rows" -v b="$row_bytes" 'BEGIN { printf "%.0f kB", r * b / 1000 }')"
done

# --- training read: local vs over the network ----------------------------------

if [ "$RATINGS" -gt 0 ]; then
	log "ratings: $RATINGS rows, local and on the shards"
	users=$(( RATINGS / 100 > 1 ? RATINGS / 100 : 1 ))
	# odd users on shard 1 (user_id < 10^6), even ones on shard 2 (+ 10^6)
	q coord -c "CREATE TABLE ratings_local AS
		SELECT CASE WHEN u % 2 = 0 THEN u + 1000000 ELSE u END AS user_id,
		       (u * 7919 + j * 104729) % 50000 AS item_id,
		       (1 + (u * 31 + j * 17) % 5)::real AS rating
		  FROM generate_series(1, $users) u, generate_series(1, 100) j" -c "VACUUM ANALYZE ratings_local"
	for n in shard1 shard2; do
		if [ "$n" = shard1 ]; then cond="user_id < 1000000"; else cond="user_id >= 1000000"; fi
		q coord -c "COPY (SELECT * FROM ratings_local WHERE $cond) TO STDOUT (FORMAT binary)" |
			q "$n" -c "COPY ratings FROM STDIN (FORMAT binary)"
		q "$n" -c "VACUUM ANALYZE ratings"
	done
	read_s() {	# read_s TABLE: the read seconds training reports
		q coord -c "SET client_min_messages = notice" \
			-c "SELECT rows_used FROM fm_train_from_table('$1', 'rating', ARRAY['user_id', 'item_id'], 'm_$1', k => 8, epochs => 1)" 2>&1 >/dev/null |
			sed -n 's/.*read \([0-9]*\) rows in \([0-9.]*\) s.*/\1 \2/p'
	}
	declare -A READS
	for r in 1 2 3; do
		for t in ratings_local ratings ratings_f10k; do READS[$t]+="$(read_s $t | awk '{ print $2 }') "; done
	done
	same_model=$(q coord -c "SELECT count(DISTINCT h) FROM (SELECT md5(string_agg(feature || value || encode(float4send(bias), 'hex') || encode(fm_vector_send(embedding), 'hex'), ',' ORDER BY feature, value)) h FROM fm_feature GROUP BY model) s")
	echo
	echo "training read of $RATINGS ratings rows (fm_train_from_table's NOTICE, median of 3; models identical: $([ "$same_model" = 1 ] && echo yes || echo NO))"
	echo
	echo "| source | read s | us per row | vs local |"
	echo "| --- | ---: | ---: | ---: |"
	local_s=$(tr ' ' '\n' <<<"${READS[ratings_local]}" | grep . | sort -g | sed -n 2p)
	for t in ratings_local ratings ratings_f10k; do
		s=$(tr ' ' '\n' <<<"${READS[$t]}" | grep . | sort -g | sed -n 2p)
		label=$t
		[ "$t" = ratings ] && label="foreign partitions, fetch_size 100"
		[ "$t" = ratings_f10k ] && label="foreign partitions, fetch_size 10000"
		[ "$t" = ratings_local ] && label="one local table"
		awk -v l="$label" -v s="$s" -v n="$RATINGS" -v b="$local_s" \
			'BEGIN { printf "| %s | %.2f | %.2f | %.1fx |\n", l, s, s / n * 1e6, s / b }'
	done
fi

# --- the swap: per-row UPDATE vs staged rows + one remote UPDATE ... FROM ---

if [ "$SWAP_ROWS" -gt 0 ]; then
	log "swap: $SWAP_ROWS rows"
	for n in shard1 shard2; do
		q "$n" -c "CREATE UNLOGGED TABLE item_vectors (item_id bigint PRIMARY KEY, bias real, embedding fm_vector, fm_version bigint)"
	done
	q coord -c "CREATE FOREIGN TABLE item_vectors_shard1 (item_id bigint, bias real, embedding fm_vector, fm_version bigint)
		SERVER shard1 OPTIONS (table_name 'item_vectors', batch_size '1000')"
	ms() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | awk '{ s += $1 } END { print s }'; }
	# rows of shard 1 (item_id <= N/2), vectors computed on the coordinator
	# (random() stands for fm_item: a value postgres_fdw cannot compute remotely)
	upd="SET bias = bias + (0 * random())::real, fm_version = fm_version + 1 WHERE item_id <= $SWAP_ROWS"
	t_local=$(q coord -c '\timing on' -c "UPDATE items_local $upd" | ms)
	t_row=$(q coord -c '\timing on' -c "UPDATE items_shard1 $upd" | ms)
	t_staged=$(q coord -c '\timing on' -c "BEGIN" -c "TRUNCATE item_vectors_shard1" \
		-c "INSERT INTO item_vectors_shard1 SELECT item_id, bias + (0 * random())::real, embedding, fm_version + 1
		      FROM items_local WHERE item_id <= $SWAP_ROWS" \
		-c "SET LOCAL enable_hashjoin = off" -c "SET LOCAL enable_mergejoin = off" -c "SET LOCAL enable_nestloop = off" \
		-c "UPDATE items_shard1 i SET (bias, embedding, fm_version) = (s.bias, s.embedding, s.fm_version)
		      FROM item_vectors_shard1 s WHERE s.item_id = i.item_id" -c "COMMIT" | tee "$WORK/staged.timing" | ms)
	log "staged swap, per statement: $(grep -o '^Time: [0-9.]* ms' "$WORK/staged.timing" | sed 's/Time: //' | tr '\n' ' ')"
	echo
	echo "swap: $SWAP_ROWS item rows of shard 1 get vectors computed on the coordinator"
	echo
	echo "| how | ms | us per row |"
	echo "| --- | ---: | ---: |"
	for c in "UPDATE of the local table:$t_local" "UPDATE of the foreign partition (a round trip per row):$t_row" \
		"staged (batched INSERT, then one remote UPDATE ... FROM):$t_staged"; do
		awk -v l="${c%%:*}" -v t="${c##*:}" -v n="$SWAP_ROWS" 'BEGIN { printf "| %s | %.0f | %.1f |\n", l, t, t * 1000 / n }'
	done
fi
