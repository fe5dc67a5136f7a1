#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the build into a temporary prefix and use it as an outside
# project would: the files are where GNUInstallDirs says, the shared
# library exports zd_ names only (version ZONEDEV_0.1), and a program
# builds and runs with pkg-config and with find_package(zonedev), shared
# and static, with gcc and with clang (a missing compiler is skipped and
# said so), and the examples/ build against it and run.  The temporary
# directory goes even when a step fails.
# Usage: run.sh BUILD_DIR SOURCE_DIR LIBDIR INCLUDEDIR BINDIR MANDIR VERSION
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
libdir_rel=$3 incdir_rel=$4 bindir_rel=$5 mandir_rel=$6 version=$7
here=$src/tests/install
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zonedev-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

for d in "$libdir_rel" "$incdir_rel" "$bindir_rel" "$mandir_rel"; do
	case $d in
	/*) echo "SKIP: $d is absolute: --prefix DIR does not move it"
	    exit 77 ;;
	esac
done
prefix=$tmp/prefix
libdir=$prefix/$libdir_rel
incdir=$prefix/$incdir_rel

step "cmake --install --prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
	{ cat "$tmp/install.log"; fail "cmake --install"; }
for f in "$libdir/libzonedev.so.0" "$libdir/libzonedev.so" \
	 "$libdir/libzonedev.a" "$libdir/libzonedev_dmirror.a" \
	 "$incdir/zonedev/drivers/dmirror.h" \
	 "$libdir/pkgconfig/zonedev.pc" "$libdir/pkgconfig/zonedev-dmirror.pc" \
	 "$libdir/cmake/zonedev/zonedevConfig.cmake" \
	 "$libdir/cmake/zonedev/zonedevConfigVersion.cmake"; do
	[ -e "$f" ] || fail "not installed: ${f#"$prefix"/}"
done
for h in "$src"/include/zonedev/*.h; do
	[ -e "$incdir/zonedev/${h##*/}" ] || fail "header not installed: ${h##*/}"
done
[ "$(readelf -d "$libdir/libzonedev.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = libzonedev.so.0 ] ||
	fail "soname is not libzonedev.so.0"

# The command and the man pages are installed by tools/ and doc/.
if [ -e "$prefix/$bindir_rel/zonedev" ]; then
	step "zonedev version (installed command)"
	"$prefix/$bindir_rel/zonedev" version || fail "installed zonedev command"
else
	echo "SKIP: the zonedev command is not installed (tools/ has no install rule yet)"
fi
if compgen -G "$prefix/$mandir_rel/man3/zd_*.3*" >/dev/null; then
	[ -e "$prefix/$mandir_rel/man3/zd_memremap_pages.3" ] ||
	[ -e "$prefix/$mandir_rel/man3/zd_memremap_pages.3.gz" ] ||
		fail "man page zd_memremap_pages(3) not installed"
else
	echo "SKIP: no man pages installed (doc/ has no install rule yet)"
fi

step "exported symbols"
nm -D --defined-only "$libdir/libzonedev.so.0" >"$tmp/dynsym"
bad=$(awk '$2 != "A" && ($3 !~ /^zd_/ || $3 !~ /@@ZONEDEV_0\.1$/)' "$tmp/dynsym")
[ -z "$bad" ] || fail "exported without zd_ or version ZONEDEV_0.1: $bad"
grep -q ' zd_memremap_pages@@ZONEDEV_0.1$' "$tmp/dynsym" ||
	fail "zd_memremap_pages not exported as ZONEDEV_0.1"
# A static link puts every global symbol of the archive beside the
# application's own: they must all be zonedev's.
bad=$(nm -g --defined-only "$libdir/libzonedev.a" 2>&1 |
      awk 'NF == 3 && $3 !~ /^zd_/')
[ -z "$bad" ] || fail "global symbols without zd_ in libzonedev.a: $bad"

step "DESTDIR"
DESTDIR=$tmp/stage cmake --install "$build" --prefix /opt/zonedev >/dev/null
[ -e "$tmp/stage/opt/zonedev/$libdir_rel/libzonedev.so.0" ] ||
	fail "DESTDIR install: no libzonedev.so.0 under DESTDIR/prefix"
grep -qx 'prefix=/opt/zonedev' "$tmp/stage/opt/zonedev/$libdir_rel/pkgconfig/zonedev.pc" ||
	fail "DESTDIR install: zonedev.pc does not name the final prefix"

export PKG_CONFIG_PATH=$libdir/pkgconfig
step "pkg-config"
[ "$(pkg-config --modversion zonedev)" = "$version" ] || fail "pkg-config version"
pkg-config --print-requires-private zonedev | grep '^liburcu-bp' >/dev/null ||
	fail "zonedev.pc lacks Requires.private: liburcu-bp"
# What a static link needs, without the shared library's -lzonedev.
static_libs=()
for w in $(pkg-config --static --libs zonedev); do
	[ "$w" = -lzonedev ] || static_libs+=("$w")
done

# check_prog EXE shared|static: it runs and its last line is "ok", and it
# uses the installed shared library, or no shared zonedev at all.
check_prog() {
	local exe=$1 link=$2 out rc=0
	out=$("$exe" 2>&1) || rc=$?
	[ "$rc" = 0 ] || { echo "$out"; fail "$exe exited $rc"; }
	case $(printf '%s\n' "$out" | tail -n 1) in
	ok|ok:*) ;;
	*) echo "$out"; fail "$exe did not end with ok" ;;
	esac
	if [ "$link" = shared ]; then
		readelf -d "$exe" | grep 'NEEDED.*\[libzonedev\.so\.0\]' >/dev/null ||
			fail "$exe does not use libzonedev.so.0"
		ldd "$exe" | grep "$libdir/libzonedev.so.0" >/dev/null ||
			fail "$exe does not load the installed libzonedev.so.0"
	elif readelf -d "$exe" | grep 'NEEDED.*libzonedev' >/dev/null; then
		fail "$exe links libzonedev dynamically"
	fi
	echo "ok: $exe ($link)"
}

# One compiler's builds, in its own directory.
with_compiler() {
	local cc=$1 out=$tmp/$1
	local cflags=(-std=gnu11 -Wall -Wextra -Werror)
	mkdir -p "$out"

	step "$cc, pkg-config, shared"
	# shellcheck disable=SC2046
	"$cc" "${cflags[@]}" -o "$out/pc_shared" "$here/prog.c" \
		$(pkg-config --cflags --libs zonedev) -Wl,-rpath,"$libdir"
	check_prog "$out/pc_shared" shared

	step "$cc, pkg-config, static (cc prog.c libzonedev.a)"
	# shellcheck disable=SC2046
	"$cc" "${cflags[@]}" -o "$out/pc_static" "$here/prog.c" \
		$(pkg-config --cflags zonedev) "$libdir/libzonedev.a" \
		"${static_libs[@]}"
	check_prog "$out/pc_static" static

	step "$cc, find_package(zonedev), examples/"
	cmake -S "$here/consumer" -B "$out/cmake" -DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_PREFIX_PATH="$prefix" -DZD_PROG="$here/prog.c" \
		-DZD_EXAMPLES="$src/examples" \
		-DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$out/cmake.log" 2>&1 ||
		{ cat "$out/cmake.log"; fail "$cc: configuring the find_package project"; }
	cmake --build "$out/cmake" -j2 >>"$out/cmake.log" 2>&1 ||
		{ cat "$out/cmake.log"; fail "$cc: building the find_package project"; }
	check_prog "$out/cmake/prog_shared" shared
	check_prog "$out/cmake/prog_static" static
	check_prog "$out/cmake/dmirror_static" static
	for e in pmem p2p migrate; do
		check_prog "$out/cmake/examples/example_$e" shared
	done
}

# The compilers side by side: most of the time is CMake's compiler checks.
compilers=() pids=()
for cc in gcc clang; do
	if ! command -v "$cc" >/dev/null; then
		echo "SKIP: $cc is not installed"
		continue
	fi
	with_compiler "$cc" >"$tmp/$cc.log" 2>&1 &
	compilers+=("$cc") pids+=($!)
done
failed=0
for i in "${!compilers[@]}"; do
	wait "${pids[$i]}" || failed=1
	cat "$tmp/${compilers[$i]}.log"
done
[ "$failed" = 0 ] || fail "see above"
[ "${#compilers[@]}" -gt 0 ] || { echo "SKIP: neither gcc nor clang"; exit 77; }
echo "install test passed"
