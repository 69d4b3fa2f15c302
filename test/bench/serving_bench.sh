#!/usr/bin/env bash
# serving_bench.sh - top-k serving at catalogue scale: latency, throughput
# and how close each path comes to the memory bandwidth of the machine.
#
#   test/bench/serving_bench.sh [options]
#
#   --sizes "1682 100000 1000000"   catalogue sizes (default; 5000000 with --with-5m)
#   --with-5m                       add 5,000,000 items (needs ~20 GB of disk, long)
#   --dims "64 120"                 embedding dimensions
#   --seconds 5 --repeat 3          pgbench -T per run, runs per case
#   --quick                         --seconds 2 --repeat 1, sizes 1682 and 100000
#   --shared-buffers 4GB            of the throwaway cluster
#   --no-install                    do not build and install fmrec first
#   --index-lists N                 fm_ivf lists (default: N/1000, at least 10, sqrt(N) above 1M)
#   --no-gauss-index                index only the clustered catalogue
#   --results FILE                  also keep the table rows there, as they come
#   --cases "plain score topk ivf"  which cases to run
#   --huge-pages                    back shared_buffers with 2 MB pages (as root:
#                                   reserves them, gives them back at exit); a
#                                   new process (parallel worker, new client)
#                                   then maps the buffers in ~1000x fewer faults
#
# Runs in a throwaway cluster (test/lib/common.sh).  Prints one markdown
# table to stdout; progress goes to stderr.  Items are random Gaussian
# embeddings (serving_gen.c), plus a clustered catalogue for the index
# (trained embeddings cluster; isotropic noise is the worst case of any
# partitioning index).  k = 10 everywhere.
#
# Cases, each with 1 and 2 clients (pgbench -M prepared, a random query of
# 200 per transaction):
#   plain SQL      ORDER BY <expanded real[] dot product> + bias DESC LIMIT 10
#                  (e[1]*q[1] + ... + e[d]*q[d]: 4x faster than sum() over
#                  unnest(e, q); OFFSET 0 keeps the query array from being
#                  recomputed per row)
#   fm_score       ORDER BY fm_score(q, embedding, bias) DESC LIMIT 10:
#                  serial with PostgreSQL's Sort plan (fmrec.enable_topn_scan
#                  off: the baseline), serial with fmrec's top-N scan, and
#                  the default plan (parallel where the planner chooses it)
#   fm_topk cold   after fm_topk_cache_reset(): read the table, build, score
#   fm_topk change after an UPDATE of one row: rebuild into the old memory
#   fm_topk warm   sgemv and loop kernels
# In every case the first transaction of each client is left out: it maps
# the shared buffers into a fresh backend (on this VM a first touch costs
# ~5 us per 4 kB page, ~0.7 s for a 1M-row table) and builds the caches.
#   fm_ivf         ORDER BY fm_item_vec(e, b) <#> fm_query_vec(q) LIMIT 10 at
#                  the fewest probes that reach recall@10 0.90 and 0.95
#                  against fm_topk (the recall curve is printed below the
#                  table; the first scan of each client, which copies the
#                  lists, is left out and reported separately)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
source "$HERE/../lib/common.sh"

SIZES="1682 100000 1000000"
DIMS="64 120"
SECONDS_PER_RUN=5
REPEAT=3
SHARED_BUFFERS=4GB
INSTALL=1
LISTS_OVERRIDE=
GAUSS_INDEX=1
RESULTS=
CASES="plain score topk ivf"
HUGE_PAGES=0
HUGE_PAGES_BEFORE=
while [ $# -gt 0 ]; do
	case "$1" in
		--sizes) SIZES=$2; shift ;;
		--with-5m) SIZES="$SIZES 5000000" ;;
		--dims) DIMS=$2; shift ;;
		--seconds) SECONDS_PER_RUN=$2; shift ;;
		--repeat) REPEAT=$2; shift ;;
		--quick) SECONDS_PER_RUN=2; REPEAT=1; SIZES="1682 100000" ;;
		--shared-buffers) SHARED_BUFFERS=$2; shift ;;
		--no-install) INSTALL=0 ;;
		--index-lists) LISTS_OVERRIDE=$2; shift ;;
		--results) RESULTS=$2; shift ;;
		--no-gauss-index) GAUSS_INDEX=0 ;;
		--cases) CASES=$2; shift ;;
		--huge-pages) HUGE_PAGES=1 ;;
		*) die "unknown option $1" ;;
	esac
	shift
done

BUILD=$HERE/build
WORK=$(mktemp -d /tmp/fmrec-serving.XXXXXX)
mkdir -p "$BUILD"
chmod 755 "$WORK"
RESULTS=${RESULTS:-$WORK/rows.md}
: >"$RESULTS"
CURVES=$WORK/curves.txt
: >"$CURVES"

cleanup() {
	stop_cluster
	[ -n "$HUGE_PAGES_BEFORE" ] && echo "$HUGE_PAGES_BEFORE" >/proc/sys/vm/nr_hugepages
	rm -rf "$WORK"
}

# Reserves enough 2 MB pages for shared_buffers plus 10%.
reserve_huge_pages() {
	local mb
	[ "$(id -u)" -eq 0 ] || die "--huge-pages needs root (to set vm.nr_hugepages)"
	mb=$(awk -v s="$SHARED_BUFFERS" 'BEGIN { n = s + 0; u = toupper(s);
		if (u ~ /GB$/) n *= 1024; else if (u ~ /KB$/) n /= 1024; print int(n * 1.1) + 64 }')
	HUGE_PAGES_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
	# on top of the pages in use (another cluster's, or surplus ones)
	echo $(($(awk '/^HugePages_Total/ { print $2 }' /proc/meminfo) + mb / 2)) >/proc/sys/vm/nr_hugepages
	log "reserved $(cat /proc/sys/vm/nr_hugepages) huge pages"
}
trap cleanup EXIT

# --- tools -------------------------------------------------------------------

build_tools() {
	gcc -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I"$FMREC_ROOT/src/core" \
		-o "$BUILD/serving_gen" "$HERE/serving_gen.c" "$FMREC_ROOT/src/core/rng.c" -lm
	gcc -O3 -march=native -Wall -Wextra -Werror -pthread \
		-o "$BUILD/serving_membw" "$HERE/serving_membw.c"
}

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# Median latency (ms) and TPS from pgbench logs (files r<run>.<pid>[.<thread>]).
# With drop_first, the first transaction of every client is left out (a
# warm-up: the first call of a backend builds its caches) and a run's TPS
# counts from the moment the last client finished its warm-up.  Latency is
# the median over all runs, TPS the median of the runs.
summarise_logs() {
	python3 - "$@" <<'EOF'
import sys, os, statistics, collections
drop_first = sys.argv[1] == "1"
runs = collections.defaultdict(list)
for path in sys.argv[2:]:
    runs[os.path.basename(path).split(".")[0]].append(path)
lat, tps = [], []
for files in runs.values():
    rows = []                       # (file, client, tx, latency s, end time)
    for path in files:
        for line in open(path):
            f = line.split()
            rows.append((path, int(f[0]), int(f[1]), int(f[2]) / 1e6, int(f[4]) + int(f[5]) / 1e6))
    first = {}
    for r in rows:                  # the first transaction of each client
        key = (r[0], r[1])
        if key not in first or r[2] < first[key][2]:
            first[key] = r
    kept = [r for r in rows if not (drop_first and first[(r[0], r[1])] is r)]
    if not kept:
        continue
    lat += [r[3] * 1000 for r in kept]
    if drop_first:
        start = max(r[4] for r in first.values())
    else:
        start = min(r[4] - r[3] for r in kept)
    window = max(r[4] for r in kept) - start
    n = sum(1 for r in kept if r[4] > start)
    if window > 0 and n > 0:
        tps.append(n / window)
if not lat:
    print("nan nan")
else:
    print("%.3f %.1f" % (statistics.median(lat), statistics.median(tps) if tps else float("nan")))
EOF
}

# bench NAME CLIENTS SCRIPT_FILE [drop_first] [extra pgbench args]: "median_ms tps"
# Runs -T seconds REPEAT times; a case slower than 1 s per query runs a fixed
# number of transactions instead.
bench() {
	local name=$1 clients=$2 script=$3 drop_first=${4:-0} probe_ms first_s logs=() r dir seconds
	dir=$(mktemp -d "$WORK/log-$name-$clients.XXXXXX")   # bench runs in a subshell
	# one transaction's latency, after a warm-up one for cases that need it
	pgbench -n -M prepared -c 1 -t $((drop_first ? 2 : 1)) -f "$script" -l \
		--log-prefix="$dir/probe" >/dev/null 2>&1 || true
	probe_ms=$(cat "$dir"/probe* 2>/dev/null | awk 'END { print $3 / 1000 }')
	# a run lasts SECONDS_PER_RUN beyond the warm-up transaction (which can
	# take seconds: building a 5M-item cache)
	first_s=$(cat "$dir"/probe* 2>/dev/null | awk 'NR == 1 { printf "%d", $3 / 1e6 + 1 }')
	seconds=$((SECONDS_PER_RUN + (drop_first ? ${first_s:-0} * clients : 0)))
	rm -f "$dir"/probe*
	for r in $(seq 1 "$REPEAT"); do
		if awk -v l="${probe_ms:-0}" 'BEGIN { exit !(l > 1000) }'; then
			[ "$r" -gt 1 ] && break
			pgbench -n -M prepared -c "$clients" -j "$clients" -t $((drop_first ? 3 : 2)) \
				-f "$script" -l --log-prefix="$dir/r$r" >/dev/null 2>&1
		else
			pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" \
				-f "$script" -l --log-prefix="$dir/r$r" >/dev/null 2>&1
		fi
	done
	logs=("$dir"/r*)
	summarise_logs "$drop_first" "${logs[@]}"
}

# add_row cells...: one line of the final table, written at once to
# $RESULTS (kept when a later case fails: --results FILE to choose it)
add_row() {
	local IFS='|'
	echo "| $* |" >>"$RESULTS"
}

# bound_ms BYTES CLIENTS: time to stream BYTES at this client's share of the bandwidth
bound_ms() {
	local bw=$BW1
	[ "$2" -gt 1 ] && bw=$(awk -v b="$BW2" -v c="$2" 'BEGIN { print b / c }')
	awk -v b="$1" -v g="$bw" 'BEGIN { printf "%.2f", b / (g * 1e9) * 1e3 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a == a) printf "%.1fx", a / b; else print "-" }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }

# --- data --------------------------------------------------------------------

# load_items TABLE N DIM KIND(fm_vector|real_array) [clusters]
load_items() {
	local table=$1 n=$2 dim=$3 kind=$4 clusters=${5:-0} type=fm_vector
	[ "$kind" = real_array ] && type='real[]'
	q -c "DROP TABLE IF EXISTS $table" -c "CREATE TABLE $table (id bigint, bias real, embedding $type)"
	"$BUILD/serving_gen" "$n" "$dim" 1 "$kind" "$clusters" |
		q -c "COPY $table FROM STDIN (FORMAT binary)"
	q -c "ALTER TABLE $table ADD PRIMARY KEY (id)" -c "VACUUM ANALYZE $table"
}

load_queries() {
	local dim=$1
	q -c "DROP TABLE IF EXISTS queries_$dim" \
		-c "CREATE TABLE queries_$dim (u bigint, bias real, q fm_vector)"
	"$BUILD/serving_gen" 200 "$dim" 2 fm_vector | q -c "COPY queries_$dim FROM STDIN (FORMAT binary)"
	q -c "ALTER TABLE queries_$dim ADD PRIMARY KEY (u)" -c "VACUUM ANALYZE queries_$dim"
}

script() {
	local file="$WORK/$1.sql"
	shift
	printf '\\set u random(1, 200)\n' >"$file"
	printf '%s\n' "$@" >>"$file"
	echo "$file"
}

query_of() { echo "(SELECT q FROM queries_$1 WHERE u = :u)"; }

# Fast exact paths against ORDER BY fm_score DESC, id on 20 queries: same
# ids, same order, same scores.  Prints "blas 20/20 loop 20/20".
check_exact() {
	local items=$1 dim=$2 kernel out=()
	for kernel in blas loop; do
		out+=("$kernel $(q <<EOF
SET max_parallel_workers_per_gather = 0;
SET fmrec.topk_kernel = $kernel;
SELECT count(*) FILTER (WHERE a = b) || '/' || count(*) FROM (
  SELECT (SELECT array_agg(row(id, score)) FROM fm_topk(q, '$items', 10)) a,
         (SELECT array_agg(row(id, s)) FROM (SELECT id, fm_score(q, embedding, bias) s FROM $items
                                               ORDER BY s DESC, id LIMIT 10) r) b
    FROM queries_$dim WHERE u <= 20) t;
EOF
)")
	done
	echo "${out[*]}"
}

# The top-N scan against the Sort plan on 20 queries: same ids, same order,
# same scores.  Prints "20/20".
check_topn() {
	local items=$1 dim=$2
	q <<EOF
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE topn_fast AS
  SELECT u, (SELECT array_agg(row(id, s)) FROM (SELECT id, fm_score(q, embedding, bias) s FROM $items
                                                 ORDER BY 2 DESC LIMIT 10) r)::text AS top FROM queries_$dim WHERE u <= 20;
SET fmrec.enable_topn_scan = off;
CREATE TEMP TABLE topn_sort AS
  SELECT u, (SELECT array_agg(row(id, s)) FROM (SELECT id, fm_score(q, embedding, bias) s FROM $items
                                                 ORDER BY 2 DESC LIMIT 10) r)::text AS top FROM queries_$dim WHERE u <= 20;
SELECT count(*) FILTER (WHERE f.top = s.top) || '/' || count(*) FROM topn_fast f JOIN topn_sort s USING (u);
EOF
}

# recall@10 of the index at the current probes, against fm_topk, over 200 queries
recall() {
	local items=$1 dim=$2 probes=$3
	q <<EOF
SET fmrec.ivf_probes = $probes;
SELECT round(avg(hits) / 10, 3) FROM (
  SELECT (SELECT count(*) FROM
            (SELECT id FROM $items ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec(q) LIMIT 10) a
            JOIN fm_topk(q, '$items', 10) e USING (id)) AS hits
    FROM queries_$dim) t;
EOF
}

# --- the cases -----------------------------------------------------------------

run_exact_cases() {
	local n=$1 dim=$2 items="items_${1}_$2" arr="arr_${1}_$2" qv expr s heap arrsize matrix sort_ms
	local clients res workers
	qv=$(query_of "$dim")
	heap=$(q -c "SELECT pg_relation_size('$items')")
	arrsize=$(q -c "SELECT coalesce(pg_relation_size(to_regclass('$arr')), 0)")
	matrix=$((n * (8 + 4 * (dim + 2))))
	expr=$(python3 -c "import sys; d=int(sys.argv[1]); print(' + '.join(f'a.embedding[{i}] * c.q[{i}]' for i in range(1, d + 1)))" "$dim")
	workers=$(q -c "EXPLAIN (FORMAT json) SELECT id FROM $items ORDER BY fm_score($(echo "$qv" | sed 's/:u/1/'), embedding, bias) DESC LIMIT 10" |
		python3 -c "import sys, json, re; print(max([0] + [int(x) for x in re.findall(r'\"Workers Planned\": (\d+)', sys.stdin.read())]))")
	EXACT="$(check_exact "$items" "$dim")" || EXACT="check failed"
	TOPN_EXACT="$(check_topn "$items" "$dim")" || TOPN_EXACT="check failed"
	log "N=$n dim=$dim: top-N scan = Sort plan (ids, order, scores): $TOPN_EXACT"
	log "N=$n dim=$dim: fm_topk = ORDER BY fm_score DESC, id (ids, order, scores): $EXACT"

	for clients in 1 2; do
		if has_case plain; then
		log "N=$n dim=$dim clients=$clients: plain SQL"
		s=$(script plain "SELECT a.id FROM $arr a, (SELECT q::real[] AS q FROM queries_$dim WHERE u = :u OFFSET 0) c ORDER BY $expr + a.bias DESC LIMIT 10;")
		res=$(bench plain "$clients" "$s" 1)
		add_row "$n" "$dim" "plain SQL real[] (default plan)" "$clients" $res "$(mb "$arrsize")" "$(bound_ms "$arrsize" "$clients")" "$(ratio "${res%% *}" "$(bound_ms "$arrsize" "$clients")")" ""
		fi
		if has_case score; then

		s=$(script score "SELECT id FROM $items ORDER BY fm_score($qv, embedding, bias) DESC LIMIT 10;")
		log "N=$n dim=$dim clients=$clients: fm_score serial, Sort plan (the baseline)"
		res=$(PGOPTIONS="-c max_parallel_workers_per_gather=0 -c fmrec.enable_topn_scan=off" bench score-sort "$clients" "$s" 1)
		add_row "$n" "$dim" "fm_score ORDER BY, serial, Sort plan" "$clients" $res "$(mb "$heap")" "$(bound_ms "$heap" "$clients")" "$(ratio "${res%% *}" "$(bound_ms "$heap" "$clients")")" "fmrec.enable_topn_scan off"
		sort_ms=${res%% *}
		log "N=$n dim=$dim clients=$clients: fm_score serial, top-N scan"
		res=$(PGOPTIONS="-c max_parallel_workers_per_gather=0" bench score-serial "$clients" "$s" 1)
		add_row "$n" "$dim" "fm_score ORDER BY, serial, top-N scan" "$clients" $res "$(mb "$heap")" "$(bound_ms "$heap" "$clients")" "$(ratio "${res%% *}" "$(bound_ms "$heap" "$clients")")" "$(ratio "$sort_ms" "${res%% *}") faster than the Sort plan; same top-10: $TOPN_EXACT"
		log "N=$n dim=$dim clients=$clients: fm_score default plan ($workers workers planned)"
		res=$(bench score-parallel "$clients" "$s" 1)
		add_row "$n" "$dim" "fm_score ORDER BY, default plan" "$clients" $res "$(mb "$heap")" "$(bound_ms "$heap" "$clients")" "$(ratio "${res%% *}" "$(bound_ms "$heap" "$clients")")" "workers planned: $workers"
		if [ "$workers" -gt 1 ]; then
			# on 2 cores, the leader and one worker: as many processes as cores
			log "N=$n dim=$dim clients=$clients: fm_score with max_parallel_workers_per_gather = 1"
			res=$(PGOPTIONS="-c max_parallel_workers_per_gather=1" bench score-1worker "$clients" "$s" 1)
			add_row "$n" "$dim" "fm_score ORDER BY, at most 1 worker" "$clients" $res "$(mb "$heap")" "$(bound_ms "$heap" "$clients")" "$(ratio "${res%% *}" "$(bound_ms "$heap" "$clients")")" "$(ratio "$sort_ms" "${res%% *}") faster than the serial Sort plan"
		fi
		fi
		has_case topk || continue

		log "N=$n dim=$dim clients=$clients: fm_topk cold"
		s=$(script cold "SELECT fm_topk_cache_reset();" "SELECT id FROM fm_topk($qv, '$items', 10);")
		res=$(bench topk-cold "$clients" "$s" 1)
		add_row "$n" "$dim" "fm_topk cold (read + build)" "$clients" $res "$(mb "$heap")" "$(bound_ms "$heap" "$clients")" "$(ratio "${res%% *}" "$(bound_ms "$heap" "$clients")")" "fresh memory"
		if [ "$clients" -eq 1 ]; then
			log "N=$n dim=$dim: fm_topk after a change"
			s=$(script change "UPDATE $items SET bias = bias WHERE id = :u;" "SELECT id FROM fm_topk($qv, '$items', 10);")
			res=$(bench topk-change 1 "$s" 1)
			add_row "$n" "$dim" "fm_topk after UPDATE of 1 row (rebuild)" 1 $res "$(mb "$heap")" "$(bound_ms "$heap" 1)" "$(ratio "${res%% *}" "$(bound_ms "$heap" 1)")" "memory reused; UPDATE included"
		fi
		for kernel in blas loop; do
			log "N=$n dim=$dim clients=$clients: fm_topk warm ($kernel)"
			s=$(script "warm-$kernel" "SELECT id FROM fm_topk($qv, '$items', 10);")
			res=$(PGOPTIONS="-c fmrec.topk_kernel=$kernel" bench "topk-warm-$kernel" "$clients" "$s" 1)
			add_row "$n" "$dim" "fm_topk warm, $kernel" "$clients" $res "$(mb "$matrix")" "$(bound_ms "$matrix" "$clients")" "$(ratio "${res%% *}" "$(bound_ms "$matrix" "$clients")")" "exact vs ORDER BY: $EXACT"
		done
	done
}

lists_for() {
	local n=$1
	if [ -n "$LISTS_OVERRIDE" ]; then echo "$LISTS_OVERRIDE"; return; fi
	awk -v n="$n" 'BEGIN { l = n <= 1000000 ? n / 1000 : sqrt(n); if (l < 10) l = 10; printf "%d", l }'
}

# run_index_cases TABLE N DIM LABEL
reaches() { awk -v r="$1" -v t="$2" 'BEGIN { exit !(r >= t) }'; }

# fewest_probes LO HI TARGET: recall at HI probes reaches TARGET, at LO it
# does not; bisect to within 2.5% of HI.  Sets FEWEST; adds to curve (the
# caller's local).
fewest_probes() {
	local lo=$1 hi=$2 target=$3 mid r
	while [ $((hi - lo)) -gt $(((hi + 39) / 40)) ]; do
		mid=$(((lo + hi) / 2))
		r=$(recall "$items" "$dim" "$mid") || r=0
		log "N=$n dim=$dim $label: recall@10 $r at $mid/$lists probes"
		curve="$curve $mid:$r"
		if reaches "$r" "$target"; then hi=$mid; else lo=$mid; fi
	done
	FEWEST=$hi
}

run_index_cases() {
	local items=$1 n=$2 dim=$3 label=$4 lists t0 t1 build size probes rec s res clients qv bytes first
	lists=$(lists_for "$n")
	qv=$(query_of "$dim")
	log "N=$n dim=$dim $label: building fm_ivf with $lists lists"
	t0=$(date +%s.%N)
	if ! q -c "SET maintenance_work_mem = '1GB'" \
		-c "CREATE INDEX ${items}_ivf ON $items USING fm_ivf (fm_item_vec(embedding, bias)) WITH (lists = $lists)"; then
		add_row "$n" "$dim" "fm_ivf ($label)" - - - - - - "index build failed"
		return 0
	fi
	t1=$(date +%s.%N)
	build=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')
	size=$(q -c "SELECT pg_relation_size('${items}_ivf')")
	q -c "SELECT pg_prewarm('${items}_ivf')" >/dev/null 2>&1 || true
	# the first scan of a backend copies the lists into private memory
	first=$(q -c "SET fmrec.ivf_probes = 1" -c '\timing on' \
		-c "SELECT id FROM $items ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec((SELECT q FROM queries_$dim WHERE u = 1)) LIMIT 10" |
		awk '/^Time:/ {print $2}' | tail -1) || first="error"
	# the recall curve on a coarse grid, then the fewest probes reaching
	# recall 0.90 and 0.95, by bisection between the grid points around
	# them (recall never falls when more lists are probed)
	local curve="" p90="" p95="" prev=0
	for probes in $(awk -v l="$lists" 'BEGIN { n = split("0.02 0.05 0.1 0.2 0.3 0.4 0.6 0.8 1", f, " ");
			last = 0; for (i = 1; i <= n; i++) { p = int(l * f[i] + 0.5); if (p < 1) p = 1; if (p > last) print p; last = p } }'); do
		rec=$(recall "$items" "$dim" "$probes") || rec="error"
		log "N=$n dim=$dim $label: recall@10 $rec at $probes/$lists probes"
		curve="$curve $probes:$rec"
		if [ -z "$p90" ] && reaches "$rec" 0.90; then fewest_probes "$prev" "$probes" 0.90; p90=$FEWEST; fi
		if [ -z "$p95" ] && reaches "$rec" 0.95; then fewest_probes "$prev" "$probes" 0.95; p95=$FEWEST; break; fi
		prev=$probes
	done
	curve=$(echo "$curve" | tr ' ' '\n' | sort -t: -k1,1n -u | tr '\n' ' ')
	echo "recall@10 by probes, $n x $dim $label, $lists lists:$curve" >>"$CURVES"
	for probes in $(echo "$p90 $p95" | tr ' ' '\n' | sort -nu); do
		rec=$(recall "$items" "$dim" "$probes") || rec="error"
		# the scan reads the 8-bit codes of the probed lists (the floats of
		# the few candidates it rescores are left out)
		bytes=$(awk -v n="$n" -v d="$dim" -v p="$probes" -v l="$lists" 'BEGIN { printf "%d", n * (d + 1) * p / l }')
		s=$(script "ivf" "SELECT id FROM $items ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec($qv) LIMIT 10;")
		for clients in 1 2; do
			log "N=$n dim=$dim $label: fm_ivf probes=$probes clients=$clients (recall $rec)"
			res=$(PGOPTIONS="-c fmrec.ivf_probes=$probes" bench "ivf-$label-$probes" "$clients" "$s" 1)
			add_row "$n" "$dim" "fm_ivf ($label) probes $probes/$lists" "$clients" $res "$(mb "$bytes")" "$(bound_ms "$bytes" "$clients")" "$(ratio "${res%% *}" "$(bound_ms "$bytes" "$clients")")" "recall@10 $rec; build $build; size $(mb "$size"); first scan of a backend $first ms"
		done
	done
}

has_case() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }

# --- main --------------------------------------------------------------------

ensure_packages python3 gcc   # the table helpers below are python3; the generators C
[ "$INSTALL" = 1 ] && build_and_install
build_tools
read -r _ _ BW1 < <("$BUILD/serving_membw" 1024 1)
read -r _ _ BW2 < <("$BUILD/serving_membw" 1024 2)
log "memory read bandwidth: $BW1 GB/s (1 thread), $BW2 GB/s (2 threads)"

HUGE_SETTING="huge_pages = off"
if [ "$HUGE_PAGES" = 1 ]; then
	reserve_huge_pages
	HUGE_SETTING="huge_pages = on"
fi
start_cluster "shared_buffers = $SHARED_BUFFERS" "max_wal_size = 16GB" "checkpoint_timeout = 1h" \
	"fmrec.topk_cache_size = '6GB'" "fmrec.ivf_cache_size = '6GB'" "$HUGE_SETTING"
q -c "CREATE EXTENSION fmrec" -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" >/dev/null 2>&1 ||
	q -c "CREATE EXTENSION IF NOT EXISTS fmrec"

for dim in $DIMS; do
	load_queries "$dim"
done
for n in $SIZES; do
	for dim in $DIMS; do
		log "loading N=$n dim=$dim"
		load_items "items_${n}_$dim" "$n" "$dim" fm_vector
		has_case plain && load_items "arr_${n}_$dim" "$n" "$dim" real_array
		q -c "SELECT fm_topk_track('items_${n}_$dim')" >/dev/null
		q -c "SELECT pg_prewarm('items_${n}_$dim')" >/dev/null 2>&1 || true
		has_case plain && q -c "SELECT pg_prewarm('arr_${n}_$dim')" >/dev/null 2>&1
		run_exact_cases "$n" "$dim"
		q -c "DROP TABLE IF EXISTS arr_${n}_$dim"
		if [ "$n" -ge 100000 ] && has_case ivf; then
			[ "$GAUSS_INDEX" = 1 ] && run_index_cases "items_${n}_$dim" "$n" "$dim" gauss
			load_items "clus_${n}_$dim" "$n" "$dim" fm_vector 1000
			run_index_cases "clus_${n}_$dim" "$n" "$dim" "clustered"
			q -c "DROP TABLE clus_${n}_$dim"
		fi
		q -c "DROP TABLE items_${n}_$dim"
	done
done

cpu=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
echo "Serving benchmark: $(nproc) cores ($cpu), memory read bandwidth $BW1 GB/s (1 thread), $BW2 GB/s (2 threads);"
echo "PostgreSQL $(q -c 'SHOW server_version'), shared_buffers $SHARED_BUFFERS, $HUGE_SETTING, other settings default; k = 10;"
echo "pgbench -M prepared, ${SECONDS_PER_RUN} s x $REPEAT runs per case (2 transactions per client when a query takes > 1 s)."
echo "'bound' = bytes read per query / this client's share of the bandwidth."
echo
echo "| items | dim | method | clients | median ms | TPS | bytes/query | bound ms | median/bound | notes |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"
cat "$RESULTS"
echo
cat "$CURVES"
