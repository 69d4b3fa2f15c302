#!/usr/bin/env bash
# Runs every SQL block of the README's walkthrough (between the markers
# <!-- walkthrough:begin --> and <!-- walkthrough:end -->), in order, on
# freshly loaded MovieLens data, so the README never shows SQL that fails.
# A block passes when it runs without error and its last statement returns
# at least one row.  Needs a running cluster (PG* variables).
# Prints "readme: N passed, N failed".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/common.sh"

DB=fmrec_readme
WORK=$(mktemp -d /tmp/fmrec-readme.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Split the walkthrough into one file per ```sql block.
awk -v dir="$WORK" '
	/<!-- walkthrough:begin -->/ { on = 1; next }
	/<!-- walkthrough:end -->/ { on = 0 }
	on && /^```sql/ { n++; file = sprintf("%s/block%02d.sql", dir, n); next }
	on && /^```/ { file = ""; next }
	file != "" { print > file }
' "$FMREC_ROOT/README.md"

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
"$FMREC_ROOT/test/movielens/load.sh" "$("$FMREC_ROOT/test/movielens/fetch_data.sh")" "$DB" >/dev/null

passed=0 failed=0
for block in "$WORK"/block*.sql; do
	name=$(basename "$block" .sql)
	if out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = warning" -f "$block" 2>&1) &&
		[ -n "$(printf '%s' "$out" | tail -n 1)" ]; then
		echo "ok: $name ($(head -n 1 "$block"))"
		passed=$((passed + 1))
	else
		echo "not ok: $name ($(head -n 1 "$block"))"
		printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
dropdb "$DB"
[ "$passed" -gt 0 ] || { echo "readme: no walkthrough block found"; failed=$((failed + 1)); }
echo "readme: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
