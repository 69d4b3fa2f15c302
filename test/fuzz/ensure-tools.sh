#!/usr/bin/env bash
# Installs clang and its libFuzzer/sanitizer runtime (Debian packages) if
# they are missing; checks with dpkg-query first, so it does nothing (and
# needs no root) when both are there.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

command -v dpkg-query >/dev/null 2>&1 ||
	die "not a Debian system: install clang with libFuzzer (compiler-rt) by hand"

# The runtime package follows clang's major version: clang 14 in Debian 12.
rt=libclang-rt-14-dev
if command -v clang >/dev/null 2>&1; then
	rt="libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
fi
ensure_packages clang "$rt"
"$(dirname "$0")/have-libfuzzer.sh" ||
	die "clang cannot link a libFuzzer target even with $rt installed"
