#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the reliability checks and prints the README's "Reliability" table
# (markdown) from what they report: the spin models, the misuse catalogue,
# the stress run, and the API fuzz target.  Needs a normal build in
# build/ (made if missing).  Usage: scripts/reliability.sh [STRESS_S [FUZZ_S]]
set -euo pipefail
cd "$(dirname "$0")/.."
stress_s=${1:-30}
fuzz_s=${2:-60}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
[ -x build/tests/stress ] || {
	cmake -S . -B build -DZD_WERROR=ON >/dev/null
	cmake --build build -j"$(nproc)" >/dev/null
}
closing() { grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1; }

echo "running the spin models ..." >&2
tests/model/run-spin.sh "$PWD" "$log/spin" >"$log/spin.txt" 2>&1 || true
spin_states=$(awk '$2 == "as" && $3 == "written" { s = s (s ? ", " : "") $5 } END { print s }' "$log/spin.txt")
echo "running the misuse catalogue ..." >&2
build/tests/test_misuse >"$log/misuse.txt" 2>&1 || true
misuse_cases=$(grep -Ec '^ *zd_|^ *dmirror' "$log/misuse.txt" || true)
echo "running the stress test for ${stress_s} s ..." >&2
build/tests/stress "$stress_s" >"$log/stress.txt" 2>&1 || true
stress_ops=$(awk '$1 ~ /^(pmem|p2p|hmm)$/ && $2 ~ /^[0-9]+$/ { printf "%s%s %s ops / %s cycles", sep, $1, $2, $3; sep = "; " }' "$log/stress.txt")
echo "fuzzing for ${fuzz_s} s ..." >&2
./scripts/fuzz.sh "$fuzz_s" >"$log/fuzz.txt" 2>&1 || true
fuzz_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log/fuzz.txt")

cat <<TABLE
| check | what is tried | what held ($(date -u +%Y-%m-%d)) |
|---|---|---|
| spin models (\`src/mm/teardown.pml\`, \`src/p2pdma/p2pmem.pml\`) | every interleaving of teardown (kill, fold, drain, remove) against users, and of p2pmem alloc/free against unbind; each known-wrong design must be caught | $(closing "$log/spin.txt" || echo "not run") (states: ${spin_states:-?}) |
| misuse catalogue (\`tests/misuse\`) | every exported function with each bad input that applies, in a forked child with a timeout | $(closing "$log/misuse.txt" || echo "not run") over ${misuse_cases} rows |
| stress run (\`tests/stress\`, ${stress_s} s) | users against drivers binding and unbinding, with checksums and a watchdog | $(closing "$log/stress.txt" || echo "not run"): ${stress_ops:-no figures} |
| API fuzzing (\`scripts/fuzz.sh\`, ${fuzz_s} s) | call sequences on gen_pool and the resource tree against reference models | $(closing "$log/fuzz.txt" || echo "not run"): ${fuzz_runs:-?} inputs |
TABLE
