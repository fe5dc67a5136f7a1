#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the API fuzz target (tests/fuzz/fuzz_api.c) under libFuzzer with
# ASan+UBSan for SECONDS (default 60), starting from the kept corpus.
# New inputs collect in build-fuzz/corpus; --keep merges the ones that add
# coverage into tests/fuzz/corpus.  A crash leaves crash-* in build-fuzz/
# and fails.  Usage: scripts/fuzz.sh [--keep] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = --keep ] && { keep=1; shift; }
secs=${1:-60}
case $secs in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [--keep] [SECONDS]" >&2; exit 2 ;; esac
if ! command -v clang >/dev/null; then
	echo "fuzz: skipped: clang is not installed (apt-get install clang)"
	exit 0
fi
CC=clang cmake -S . -B build-fuzz -DZD_FUZZ=ON -DZD_WERROR=ON \
	-DCMAKE_BUILD_TYPE=Debug -DZD_SANITIZE=address,undefined \
	-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_api >/dev/null
mkdir -p build-fuzz/corpus
cd build-fuzz
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	tests/fuzz_api -max_total_time="$secs" -print_final_stats=1 \
	-max_len=2048 corpus ../tests/fuzz/corpus 2>&1 | grep -v '^#[0-9]' || {
	echo "fuzz: FAILED (see build-fuzz/crash-*)"; exit 1; }
if [ $keep = 1 ]; then
	tests/fuzz_api -merge=1 ../tests/fuzz/corpus corpus >/dev/null 2>&1
	echo "fuzz: corpus now $(ls ../tests/fuzz/corpus | wc -l) inputs"
fi
echo "fuzz: 1 passed, 0 failed"
