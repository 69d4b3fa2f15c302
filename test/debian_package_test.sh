#!/usr/bin/env bash
# Builds fmrec's Debian package with Debian's tooling for PostgreSQL
# extensions (pg_buildext, debian/), installs it and checks it in a cluster:
# CREATE EXTENSION fmrec, the installed version, a score.
#
#   test/debian_package_test.sh                  build, dpkg -i, check (CI)
#   test/debian_package_test.sh --extract DIR    build, dpkg-deb -x into DIR, check
#   FMREC_DEB_EXTRACT=DIR test/run_all_tests.sh  the same within the whole suite
#
# dpkg -i writes into the system PostgreSQL; afterwards the package is
# removed and `make install` puts the clone's build back, so the system is
# left as the rest of the suite expects.  --extract DIR unpacks the package
# into a relocated PostgreSQL (DIR/usr/lib/postgresql/15/bin/pg_config, as
# PG_CONFIG says) instead, and touches nothing of the system's.
#
# The package is built in a copy of the tree in a temporary directory, so
# the clone gets no debian/ build products.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

extract_dir=${FMREC_DEB_EXTRACT:-}
if [ "${1:-}" = --extract ]; then
	extract_dir=${2:?usage: debian_package_test.sh [--extract DIR]}
fi

PASSED=0
FAILED=0
check() {	# check DESCRIPTION EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		PASSED=$((PASSED + 1)); echo "ok - $1"
	else
		FAILED=$((FAILED + 1)); echo "not ok - $1: expected '$2', got '$3'"
	fi
}

WORK=$(mktemp -d /tmp/fmrec-deb.XXXXXX)
trap 'stop_cluster; rm -rf "$WORK"' EXIT

build_package() {
	ensure_packages build-essential debhelper dpkg-dev postgresql-server-dev-all \
		"postgresql-server-dev-$PG_MAJOR"
	mkdir "$WORK/src"
	tar -C "$FMREC_ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./results --exclude=./tmp_check --exclude=./log --exclude='./test/*/build' \
		-cf - . | tar -C "$WORK/src" -xf -
	log "dpkg-buildpackage -us -uc -b in $WORK/src"
	(cd "$WORK/src" && make -s clean PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1; \
		dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 \
		|| { tail -n 40 "$WORK/build.log"; die "dpkg-buildpackage failed"; }
}

deb=
install_package() {
	deb=$(ls "$WORK"/postgresql-"$PG_MAJOR"-fmrec_*.deb)
	log "package $(basename "$deb")"
	dpkg-deb --contents "$deb" | awk '{print "    " $6}' | grep -E 'fmrec(\.so|\.control|--)' || true
	if [ -n "$extract_dir" ]; then
		dpkg-deb -x "$deb" "$extract_dir"
	else
		as_root dpkg -i "$deb" >/dev/null
		check "dpkg says the package is installed" "install ok installed" \
			"$(dpkg-query -W -f='${Status}' "postgresql-$PG_MAJOR-fmrec" 2>/dev/null)"
	fi
}

# Removes the package and reinstalls the clone's build (dpkg -i mode only).
restore_system() {
	[ -z "$extract_dir" ] || return 0
	as_root dpkg -r "postgresql-$PG_MAJOR-fmrec" >/dev/null
	as_root make -C "$FMREC_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

check_in_cluster() {
	start_cluster
	local q="$PG_BIN/psql -X -q -At -v ON_ERROR_STOP=1"
	check "CREATE EXTENSION fmrec" "" "$($q -c 'CREATE EXTENSION fmrec' 2>&1)"
	check "installed version is the package's" \
		"$(dpkg-deb -f "$deb" Version | cut -d- -f1)" \
		"$($q -c "SELECT extversion FROM pg_extension WHERE extname = 'fmrec'")"
	check "fm_score from the packaged library" "3.5" \
		"$($q -c "SELECT fm_score('[1,2]'::fm_vector, '[0.5,1]'::fm_vector, 1)")"
	mkdir "$WORK/unpacked"
	dpkg-deb -x "$deb" "$WORK/unpacked"
	check "the server's fmrec.so is the package's" same \
		"$(cmp -s "$WORK/unpacked/usr/lib/postgresql/$PG_MAJOR/lib/fmrec.so" "$PG_PKGLIBDIR/fmrec.so" && echo same)"
	stop_cluster
}

PG_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
build_package
install_package
check_in_cluster
restore_system
echo "debian-package: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
