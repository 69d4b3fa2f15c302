#!/usr/bin/env bash
# Shared helpers of fmrec's scripts: install what is missing, build and
# install the extension, run a throwaway PostgreSQL cluster.  Sourced, not run.
#
# A throwaway cluster lives in a temporary directory, belongs to an
# unprivileged user (PostgreSQL refuses to run as root), listens only on a
# Unix socket in that directory and on a free port, and is stopped and
# removed on exit, even after a failure.

FMREC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
# The PostgreSQL to build against and test with: Debian's by default; any
# other installation by its pg_config (a source build, or a relocated copy).
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
PG_BIN=$(dirname "$PG_CONFIG")
export PG_CONFIG

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages in $@ that are not installed yet.
ensure_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
			|| missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

BUILD_PACKAGES=(build-essential "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
	libopenblas-dev)

# Builds and installs the extension into the PostgreSQL of $PG_CONFIG (the
# system's by default).  The tests build with -Werror (a plain `make` does
# not: a user's newer compiler must not fail an install).
build_and_install() {
	ensure_packages "${BUILD_PACKAGES[@]}"
	log "building fmrec"
	# (|| return: also stops where the caller's errexit does not apply)
	make -C "$FMREC_ROOT" -s -j2 PG_CONFIG="$PG_CONFIG" COPT="${COPT:+$COPT }-Werror" >/dev/null || return
	as_root make -C "$FMREC_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null || return
}

# pg_regress (only: TAP_TESTS= leaves the TAP tests to run_tap_tests.sh) on
# the running cluster; prints "test NAME ... ok" and the common summary.
regress() {
	local out status=0
	out=$(make -C "$FMREC_ROOT" -s installcheck TAP_TESTS= 2>&1) || status=$?
	printf '%s\n' "$out" | grep -E '^(test |ok |not ok )' || true
	if [ "$status" -ne 0 ] && [ -f "$FMREC_ROOT/regression.diffs" ]; then
		head -c 20000 "$FMREC_ROOT/regression.diffs"
		echo	# (the cut may end mid-line: the summary starts a line of its own)
	fi
	echo "pg_regress: $(grep -cE '\.\.\. +ok|^ok ' <<<"$out" || true) passed, $(grep -cE '\.\.\. +FAILED|^not ok ' <<<"$out" || true) failed"
	return "$status"
}

# The unprivileged owner of throwaway clusters.
cluster_user() {
	if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
	id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
	echo postgres
}

as_cluster_user() {
	local user
	user=$(cluster_user)
	if [ "$(id -un)" = "$user" ]; then "$@"; else runuser -u "$user" -- "$@"; fi
}

free_port() {
	local port
	for port in $(seq 54320 54420); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	die "no free port in 54320..54420"
}

# start_cluster [extra postgresql.conf lines...]
# Sets PGHOST, PGPORT, PGUSER, PGDATABASE and FMREC_CLUSTER_DIR; registers
# stop_cluster on EXIT unless the caller has an EXIT trap (which must then
# call stop_cluster itself).  The cluster preloads fmrec when it is
# installed (shared_preload_libraries = 'fmrec': the view
# fm_training_progress needs it on PostgreSQL 15 and 16), unless
# FMREC_PRELOAD=0; an extra shared_preload_libraries line replaces it.
start_cluster() {
	FMREC_CLUSTER_DIR=$(mktemp -d /tmp/fmrec-cluster.XXXXXX)
	chown "$(cluster_user)" "$FMREC_CLUSTER_DIR" 2>/dev/null || true
	chmod 700 "$FMREC_CLUSTER_DIR"
	[ -n "$(trap -p EXIT)" ] || trap stop_cluster EXIT
	export PGPORT PGHOST PGUSER PGDATABASE
	PGPORT=$(free_port)
	PGHOST=$FMREC_CLUSTER_DIR
	PGUSER=$(cluster_user)
	PGDATABASE=postgres
	as_cluster_user "$PG_BIN/initdb" -D "$FMREC_CLUSTER_DIR/data" -U "$PGUSER" \
		--auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
	{
		echo "listen_addresses = ''"
		echo "port = $PGPORT"
		echo "unix_socket_directories = '$FMREC_CLUSTER_DIR'"
		echo "fsync = off"
		echo "max_worker_processes = 16"
		if [ "${FMREC_PRELOAD:-1}" != 0 ] && [ -f "$("$PG_CONFIG" --pkglibdir)/fmrec.so" ]; then
			echo "shared_preload_libraries = 'fmrec'"
		fi
		local line
		for line in "$@"; do echo "$line"; done
	} >>"$FMREC_CLUSTER_DIR/data/postgresql.conf"
	as_cluster_user "$PG_BIN/pg_ctl" -D "$FMREC_CLUSTER_DIR/data" -l "$FMREC_CLUSTER_DIR/server.log" \
		-w start >/dev/null || { cat "$FMREC_CLUSTER_DIR/server.log" >&2; die "cluster did not start"; }
	log "throwaway cluster on port $PGPORT in $FMREC_CLUSTER_DIR"
}

stop_cluster() {
	[ -n "${FMREC_CLUSTER_DIR:-}" ] && [ -d "$FMREC_CLUSTER_DIR" ] || return 0
	as_cluster_user "$PG_BIN/pg_ctl" -D "$FMREC_CLUSTER_DIR/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$FMREC_CLUSTER_DIR"
	FMREC_CLUSTER_DIR=
}

# Directory of MovieLens 100K: $FMREC_MOVIELENS_DIR, else ../shared next to
# the repository; empty when neither exists.
movielens_dir() {
	local dir
	for dir in "${FMREC_MOVIELENS_DIR:-}" "$FMREC_ROOT/../shared/data/movielens-100k"; do
		if [ -n "$dir" ] && [ -f "$dir/u.data" ]; then (cd "$dir" && pwd); return 0; fi
	done
	return 0
}

# The median of the numbers on standard input, one a line (the benchmarks'
# summary of interleaved repetitions).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# generate_ratings DATABASE TABLE ROWS [SQL...]
# Creates the benchmarks' unlogged TABLE of ROWS ratings shaped like
# MovieLens (7 non-zeros a row: user, movie, 3 user metadata columns, a
# genres array of 2), from the row number alone so that every run and every
# script reads the same table (ROWS / 100 + 1 users, 20000 movies).  The
# SQL statements after ROWS run in the same session after it (VACUUM
# ANALYZE, a count to print): each script keeps its own.
generate_ratings() {
	local database=$1 table=$2 rows=$3
	shift 3
	{
		cat <<SQL
CREATE UNLOGGED TABLE $table AS
SELECT (i * 7919) % ($rows / 100 + 1) AS user_id,
       (i * 104729) % 20000 AS movie_id,
       (ARRAY['Under 18','18-24','25-34','35-44','45-49','50-55','56+'])[1 + (i * 7919) % ($rows / 100 + 1) % 7] AS age_group,
       (ARRAY['M','F'])[1 + (i * 7919) % ($rows / 100 + 1) % 2] AS gender,
       'occ' || (i * 7919) % ($rows / 100 + 1) % 21 AS occupation,
       ARRAY['g' || (i * 104729) % 20000 % 19, 'g' || (i * 104729) % 20000 % 7] AS genres,
       (1 + (i % 5))::real AS rating
  FROM generate_series(1::bigint, $rows) i;
SQL
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} | psql -qX -v ON_ERROR_STOP=1 -d "$database"
}
