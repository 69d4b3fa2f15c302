#!/usr/bin/env bash
# Builds one PostgreSQL from a source tarball, once per machine, and prints
# the path of its pg_config.
#
#   test/build_postgres.sh ../shared/postgresql/postgresql-17.6.tar.xz
#   test/build_postgres.sh --cached TARBALL    exit status: built already?
#
# Only what fmrec's tests need is built: the server, psql, pg_dump and the
# other client programs, pg_regress, the TAP modules (--enable-tap-tests)
# and the contrib modules the tests load (CONTRIB_MODULES).  No docs, no ICU, no
# readline.  The installation is cached outside the repository, keyed by the
# tarball's SHA-256, in $FMREC_PG_CACHE (/var/cache/fmrec-pg by default):
# <cache>/<sha256>/install/bin/pg_config.  A build that did not finish leaves
# no "complete" marker and is redone; concurrent runs wait on a lock.
#
# Trees taken from the source repository (not release tarballs) lack the
# generated parser files, so bison and flex are build dependencies too.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

CACHE_ROOT=${FMREC_PG_CACHE:-/var/cache/fmrec-pg}
# The contrib modules the tests use: t/030_crash.pl checks indexes with
# amcheck; t/100_sharded.pl shards over postgres_fdw and counts the shards'
# rows with pg_stat_statements and auto_explain.
CONTRIB_MODULES=(amcheck postgres_fdw pg_stat_statements auto_explain)
PG_BUILD_PACKAGES=(build-essential bison flex perl libipc-run-perl zlib1g-dev pkg-config)

only_ask=
if [ "${1:-}" = --cached ]; then only_ask=1; shift; fi
tarball=${1:?usage: build_postgres.sh [--cached] TARBALL}
[ -f "$tarball" ] || die "no such tarball: $tarball"
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
dir="$CACHE_ROOT/$sha"
prefix="$dir/install"

configure_and_make() {	# configure_and_make SOURCE_DIR
	local src=$1 module
	(
		cd "$src"
		./configure --quiet --prefix="$prefix" --enable-tap-tests \
			--without-icu --without-readline >"$dir/configure.log" 2>&1 \
			|| { tail -n 30 "$dir/configure.log" >&2; exit 1; }
		make -j2 -s >"$dir/make.log" 2>&1 || { tail -n 30 "$dir/make.log" >&2; exit 1; }
		make -s install >>"$dir/make.log" 2>&1
		for module in "${CONTRIB_MODULES[@]}"; do
			make -C "contrib/$module" -s -j2 install >>"$dir/make.log" 2>&1
		done
	) || die "building PostgreSQL from $tarball failed (logs in $dir)"
}

# CPU seconds (user + system) of this script's finished children so far:
# the build's cost independent of what else the machine runs.
# (times itself must not run in a subshell: it would count that one's.)
cpu_seconds() {
	times >"$dir/times"
	tail -n 1 "$dir/times" | awk '{
		t = 0
		for (i = 1; i <= NF; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] }
		printf "%d\n", t }'
}

build() {
	local start src
	start=$(date +%s)
	log "building PostgreSQL from $(basename "$tarball") into $prefix (once per machine)"
	ensure_packages "${PG_BUILD_PACKAGES[@]}"
	rm -rf "$prefix" "$dir/src"
	mkdir -p "$dir/src"
	tar -xf "$tarball" -C "$dir/src"
	src=$(find "$dir/src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	configure_and_make "$src"
	rm -rf "$dir/src"
	basename "$tarball" >"$dir/tarball"
	echo "$(( $(date +%s) - start ))" >"$dir/build-seconds"
	cpu_seconds >"$dir/build-cpu-seconds"
	touch "$dir/complete"
	log "built $(basename "$tarball") in $(cat "$dir/build-seconds") s" \
		"($(cat "$dir/build-cpu-seconds") s of CPU: the wall time on an idle 2-core machine is about half)"
}

contrib_complete() {
	local module libdir
	libdir=$("$prefix/bin/pg_config" --pkglibdir)
	for module in "${CONTRIB_MODULES[@]}"; do
		[ -f "$libdir/$module.so" ] || return 1
	done
}

# An installation cached before a module joined CONTRIB_MODULES gets it
# from the tarball's contrib/ through PGXS, without rebuilding the server.
add_missing_contrib() {
	local module src libdir
	libdir=$("$prefix/bin/pg_config" --pkglibdir)
	rm -rf "$dir/contrib-src"
	mkdir -p "$dir/contrib-src"
	for module in "${CONTRIB_MODULES[@]}"; do
		[ -f "$libdir/$module.so" ] && continue
		log "adding contrib module $module to $prefix"
		tar -xf "$tarball" -C "$dir/contrib-src" --wildcards "*/contrib/$module/*"
		src=$(find "$dir/contrib-src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
		make -C "$src/contrib/$module" -s USE_PGXS=1 PG_CONFIG="$prefix/bin/pg_config" install \
			>>"$dir/make.log" 2>&1 || die "building contrib module $module failed (logs in $dir)"
	done
	rm -rf "$dir/contrib-src"
}

is_built() { [ -f "$dir/complete" ] && [ -x "$prefix/bin/pg_config" ] && contrib_complete; }
if [ -n "$only_ask" ]; then is_built; exit; fi

mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9
if [ -f "$dir/complete" ] && [ -x "$prefix/bin/pg_config" ]; then
	contrib_complete || add_missing_contrib >&2
else
	build >&2
fi
echo "$prefix/bin/pg_config"
