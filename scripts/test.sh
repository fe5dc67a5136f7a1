#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite: a normal -Werror build, an AddressSanitizer+UBSan
# build, a ThreadSanitizer build of the concurrency tests, and the tests
# labelled "valgrind" under memcheck (on the normal build; the spinning
# race tests are too slow on valgrind's one-thread-at-a-time scheduler),
# and 30 s of the API fuzz target under libFuzzer (scripts/fuzz.sh).
# Usage: scripts/test.sh [normal|asan|tsan|valgrind|fuzz]...
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
ways=("$@")
[ ${#ways[@]} -eq 0 ] && ways=(normal asan tsan valgrind fuzz)

build() {	# dir, extra cmake args...
	local dir=$1; shift
	cmake -S . -B "$dir" -DZD_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
}

for way in "${ways[@]}"; do
	echo "=== $way build"
	case $way in
	normal)
		build build
		ctest --test-dir build --output-on-failure -LE valgrind -j"$jobs"
		;;
	asan)
		build build-asan -DCMAKE_BUILD_TYPE=Debug \
			-DZD_SANITIZE=address,undefined
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/ubsan.supp \
		ZD_TEST_ROUNDS=300 \
			ctest --test-dir build-asan --output-on-failure \
				-LE valgrind -j"$jobs"
		;;
	tsan)
		build build-tsan -DCMAKE_BUILD_TYPE=Debug -DZD_SANITIZE=thread
		# TSan cannot follow fork() from a threaded process: the
		# "fork" label is left to the other builds.
		TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		ZD_TEST_ROUNDS=200 \
			ctest --test-dir build-tsan --output-on-failure \
				-L concurrency -j"$jobs"
		;;
	valgrind)
		build build
		ctest --test-dir build --output-on-failure -L valgrind -j"$jobs"
		;;
	fuzz)
		./scripts/fuzz.sh 30
		;;
	*)
		echo "unknown build '$way'" >&2; exit 2 ;;
	esac
done
