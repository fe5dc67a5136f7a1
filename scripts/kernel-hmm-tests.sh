#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel's own HMM selftest (hmm-tests.c), unmodified, against
# zonedev's dmirror: usage: scripts/kernel-hmm-tests.sh [build-dir] [args]
# (args go to the test program, e.g. -t migrate or -v hmm_device_private).
#
# The kernel's source comes from Debian's linux-source-6.12 package
# (bookworm-security/backports; linux-source-6.1 otherwise), which
# scripts/setup.sh installs.  This script installs it only when it is
# missing and ZD_KSELFTEST_INSTALL=1 says it may.  Only the files the
# suite needs are unpacked, into <build-dir>/kselftest-hmm/<version>, once;
# no kernel file is ever copied into the repository (the kernel is
# GPL-2.0, zonedev MIT).  The suite is built there with its own harness,
# and run with the shim drivers/dmirror/kshim preloaded, which makes
# /dev/hmm_dmirror0..3 zonedev dmirrors.
#
# ZD_KSELFTEST_VERSION=6.1 runs 6.1's suite where both are installed.
# The hugetlbfs cases (anon_write_hugetlbfs, compound) get 2 hugetlbfs
# pages reserved for the run where it may (root or sudo -n; the old count
# is restored after); ZD_KSELFTEST_HUGEPAGES=N reserves N instead, 0 none.
#
# Exit status: 0 when every case passed or was skipped, 1 when one
# failed, 77 (skip) without kernel source or userfaultfd.  The harness's
# own summary line (# Totals: ...) is printed as it ran.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
[ $# -gt 0 ] && shift

find_source() {
	for v in 6.12 6.1; do
		if [ -f "/usr/src/linux-source-$v.tar.xz" ]; then
			echo "$v"
			return
		fi
	done
}

# ZD_KSELFTEST_VERSION=6.1 picks that one where both are installed
ver=${ZD_KSELFTEST_VERSION:-$(find_source)}
[ -f "/usr/src/linux-source-$ver.tar.xz" ] || ver=""
if [ -z "$ver" ] && [ "${ZD_KSELFTEST_INSTALL:-0}" = 1 ]; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get install -y -qq linux-source-6.12 >/dev/null 2>&1 ||
		$sudo apt-get install -y -qq linux-source-6.1 >/dev/null 2>&1 || true
	ver=$(find_source)
fi
if [ -z "$ver" ]; then
	echo "SKIP: no /usr/src/linux-source-6.12.tar.xz or -6.1 (install" \
	     "linux-source-6.12 as scripts/setup.sh does, or run with" \
	     "ZD_KSELFTEST_INSTALL=1)"
	exit 77
fi

# 6.1 keeps the mm selftests in vm/, later kernels in mm/
top="linux-source-$ver"
st="$top/tools/testing/selftests"
files=("$st/kselftest_harness.h" "$st/kselftest.h" "$top/lib/test_hmm_uapi.h"
       "$top/mm/gup_test.h")
tree="$build/kselftest-hmm/$ver"
if [ ! -f "$tree/.complete" ]; then
	echo "unpacking the HMM selftest from /usr/src/$top.tar.xz ..."
	rm -rf "$tree"
	mkdir -p "$tree"
	# members absent from this version make tar complain: checked below
	tar -xJf "/usr/src/$top.tar.xz" -C "$tree" "${files[@]}" \
		"$st/mm/hmm-tests.c" "$st/vm/hmm-tests.c" "$st/mm/vm_util.h" \
		"$st/vm/vm_util.h" 2>/dev/null || true
	for f in "${files[@]}"; do
		[ -f "$tree/$f" ] || { echo "missing in the kernel source: $f" >&2; exit 1; }
	done
	touch "$tree/.complete"
fi
dir="$tree/$st/mm"
[ -f "$dir/hmm-tests.c" ] || dir="$tree/$st/vm"
[ -f "$dir/hmm-tests.c" ] || { echo "no hmm-tests.c in $top" >&2; exit 1; }

# the shim, then the suite (as the kernel's Makefile: the source root on
# the include path, the harness beside it)
cmake --build "$build" --target zonedev_kshim -j2 >/dev/null
shim="$build/drivers/dmirror/kshim/libzonedev_kshim.so"
bin="$tree/hmm-tests"
if [ ! -x "$bin" ] || [ "$dir/hmm-tests.c" -nt "$bin" ]; then
	cc -O2 -w -I "$tree/$top" -I "$dir" -o "$bin" "$dir/hmm-tests.c" -lpthread
fi

if ! KSHIM_PROBE=1 LD_PRELOAD="$shim" /bin/true; then
	echo "SKIP: zonedev's HMM cannot run here (see above)"
	exit 77
fi

# A case the shim cannot run ends with the harness's skip status: 4
# (KSFT_SKIP) from Linux 6.3 on, 255 before
skip=4
grep -q "WEXITSTATUS(status) == 255" "$tree/$st/kselftest_harness.h" && skip=255

log=$(mktemp)
huge_was=""
cleanup() {
	rm -f "$log"
	[ -z "$huge_was" ] || echo "$huge_was" | $sudo tee /proc/sys/vm/nr_hugepages >/dev/null
}
trap cleanup EXIT
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo -n"
want=${ZD_KSELFTEST_HUGEPAGES:-2}
have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$want" -gt "$have" ] &&
   echo "$want" | $sudo tee /proc/sys/vm/nr_hugepages >/dev/null 2>&1; then
	huge_was=$have
fi
nohuge=0
if [ "$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)" = 0 ]; then
	nohuge=1
	echo "# note: no hugetlbfs page free (none reserved, or no root):" \
	     "anon_write_hugetlbfs skips, and compound returns at once, which" \
	     "its harness counts as passed and this script as skipped"
fi

echo "running the HMM selftest of Linux $ver against zonedev's dmirror"
set +e
# a run of one repeated line (6.1's hmm2 teardown asserts on close(-1)
# after a skipped setup, over and over) is printed once, with its count
KSHIM_SKIP_STATUS=$skip LD_PRELOAD="$shim" "$bin" "$@" 2>&1 |
	awk 'function flush() { if (n > 1) print "# (the line above " n - 1 " more times)"; n = 0 }
	     $0 == prev { n++; next } { flush(); print; prev = $0; n = 1; fflush() }
	     END { flush() }' | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# the harness: 0 all passed or skipped, 1 a failure, 4 all skipped;
# anything else is a crash of the harness itself
case $rc in
0 | 1 | 4) ;;
*) echo "the test program died (status $rc)"; exit 1 ;;
esac

# Cases that cannot pass on this machine for a reason outside zonedev
# (the kernel's own driver would fail them here too), each with it.
declare -A known=()
if grep -q "this kernel maps no zero page" "$log"; then
	why="this kernel maps no zero page (e.g. booted with pvm_no_zero_page=1):"
	why+=" no page is the zero page for SNAPSHOT to report"
	known[hmm2.hmm2_device_private.snapshot]=$why
	known[hmm2.hmm2_device_coherent.snapshot]=$why
fi
# 6.1's harness reports a case whose fixture setup skipped as passed
# ("ok" after "#      SKIP"), and compound returns at once without a huge
# page, a pass to any harness: count those again as skips
awk -v nohuge=$nohuge '/^#  RUN / { skipped = 0 } /^#  +SKIP / { skipped = 1 }
     /^#  RUN .*\.compound / { if (nohuge) skipped = 1 }
     /^ok / && !/# SKIP/ { if (skipped) s++; else p++ } /^ok .*# SKIP/ { s++ }
     /^# Totals:/ { t = $0 }
     END { if (t && s && t !~ ("skip:" s " ")) printf "# counted again (a skip " \
	   "in fixture setup, or compound without a huge page, is a pass to " \
	   "this harness): pass:%d skip:%d\n", p, s }' "$log"
real=0
for c in $(sed -n 's/^not ok [0-9]* \([^ ]*\).*/\1/p' "$log"); do
	if [ -n "${known[$c]:-}" ]; then
		echo "# not counted: $c: ${known[$c]}"
	else
		echo "# FAILED: $c"
		real=$((real + 1))
	fi
done
[ "$real" -eq 0 ]
