#!/usr/bin/env bash
# Runs every SQL block of the README's walkthrough (between the markers
# <!-- walkthrough:begin --> and <!-- walkthrough:end -->), in order, on
# freshly loaded MovieLens data, so the README never shows SQL that fails.
# A block passes when it runs without error and its last statement returns
# at least one row; then again with fmrec installed in a schema of its own.
# Needs a running cluster (PG* variables).
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

passed=0 failed=0
# Twice: installed as the README says (in public), and installed in a schema
# of its own (CREATE EXTENSION fmrec SCHEMA ml), which the session then puts
# last in its search_path, as a user of such an installation would.
for mode in public ml; do
	dropdb --if-exists "$DB" >/dev/null 2>&1
	createdb "$DB"
	options=
	if [ "$mode" = ml ]; then
		psql -X -q -d "$DB" -c "CREATE SCHEMA ml" -c "CREATE EXTENSION fmrec SCHEMA ml"
		options="-c search_path=\"\$user\",public,ml"
	fi
	"$FMREC_ROOT/test/movielens/load.sh" "$("$FMREC_ROOT/test/movielens/fetch_data.sh")" "$DB" >/dev/null
	for block in "$WORK"/block*.sql; do
		name="$(basename "$block" .sql) [$mode]"
		if out=$(PGOPTIONS="$options" psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" \
				-c "SET client_min_messages = warning" -f "$block" 2>&1) &&
			[ -n "$(printf '%s' "$out" | tail -n 1)" ]; then
			echo "ok: $name ($(head -n 1 "$block"))"
			passed=$((passed + 1))
		else
			echo "not ok: $name ($(head -n 1 "$block"))"
			printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /'
			failed=$((failed + 1))
		fi
	done
	if [ "$mode" = ml ]; then
		where=$(psql -X -At -d "$DB" -c "SELECT string_agg(DISTINCT n.nspname, ',') FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname IN ('fm_model', 'fm_feature')")
		if [ "$where" = ml ]; then
			echo "ok: the model tables live in schema ml"; passed=$((passed + 1))
		else
			echo "not ok: the model tables live in schema '$where', not ml"; failed=$((failed + 1))
		fi
	fi
done
dropdb "$DB"
[ "$passed" -gt 0 ] || { echo "readme: no walkthrough block found"; failed=$((failed + 1)); }
echo "readme: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
