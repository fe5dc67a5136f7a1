#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the teardown protocol models with spin: each model must hold in
# every interleaving, and each of its BUG_* variants (a known wrong design)
# must be caught, so that a model which can no longer fail fails this test.
# Usage: run-spin.sh SRCDIR [WORKDIR]; exits 77 (skipped) without spin.
set -euo pipefail
src=${1:?usage: run-spin.sh SRCDIR [WORKDIR]}
work=${2:-$(mktemp -d)}
command -v spin >/dev/null || { echo "SKIP: spin is not installed (apt-get install spin)"; exit 77; }
cc=${CC:-cc}
command -v "$cc" >/dev/null || { echo "SKIP: no C compiler for spin's verifier"; exit 77; }
mkdir -p "$work"

# model, variant (empty: as written), what spin must report
checks=(
	"src/mm/teardown.pml||errors: 0"
	"src/mm/teardown.pml|BUG_SHARED_REF|invalid end state"
	"src/mm/teardown.pml|BUG_REMOVE_BEFORE_WAIT|assertion violated"
	"src/mm/teardown.pml|BUG_NO_SYNC|errors: 1"
	"src/mm/teardown.pml|BUG_NO_WAKE|invalid end state"
	"src/p2pdma/p2pmem.pml||errors: 0"
	"src/p2pdma/p2pmem.pml|BUG_GLOBAL_REF|assertion violated"
	"src/p2pdma/p2pmem.pml|BUG_PUT_BEFORE_FREE|assertion violated"
	"src/p2pdma/p2pmem.pml|BUG_NO_SYNC|assertion violated"
)
pass=0 fail=0
printf '%-24s %-28s %-10s %s\n' model variant result states
for c in "${checks[@]}"; do
	IFS='|' read -r model variant want <<<"$c"
	dir="$work/$(basename "$model" .pml)${variant:+-$variant}"
	rm -rf "$dir" && mkdir -p "$dir"
	(
		cd "$dir"
		spin -a ${variant:+-D$variant} "$src/$model" >spin.log 2>&1
		"$cc" -O2 -DSAFETY -w -o pan pan.c
		./pan -m200000 >pan.log 2>&1 || true
	)
	states=$(sed -n 's/^ *\([0-9]*\) states, stored.*/\1/p' "$dir/pan.log")
	if grep -q "$want" "$dir/pan.log" &&
	   { [ -n "$variant" ] || ! grep -q 'errors: [1-9]' "$dir/pan.log"; } &&
	   ! grep -q 'max search depth too small' "$dir/pan.log"; then
		result=ok; pass=$((pass + 1))
	else
		result=FAILED; fail=$((fail + 1))
		sed 's/^/    /' "$dir/pan.log" | head -20
	fi
	printf '%-24s %-28s %-10s %s\n' "$(basename "$model")" \
		"${variant:-as written}" "$result" "${states:-?}"
done
echo "spin: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
