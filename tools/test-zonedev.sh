#!/bin/sh
# SPDX-License-Identifier: MIT
# The zonedev command's interface:
#   every command's --help goes to stdout and exits 0;
#   bad options, missing and out-of-range values exit 2 with a message on
#   stderr that starts "zonedev: " and names the option;
#   --version; every --json output parses, and has the documented keys;
#   map --svg and demo --svg write well-formed SVG;
#   the demo (--quick) leaves no file in $TMPDIR, and keeps its lines in
#   order when stdout is a pipe.
#
#   test-zonedev.sh path/to/zonedev
set -u
Z=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad() {
	echo "test-zonedev: $*" >&2
	fail=1
}

if ! command -v python3 >/dev/null 2>&1; then
	echo "test-zonedev: python3 is needed to check JSON and SVG" >&2
	exit 1
fi

# expect STATUS STDOUT-PATTERN STDERR-PATTERN -- ARGS...: the patterns are
# grep -E expressions ("" for "must be empty", "." for "anything").
expect() {
	want=$1 out_re=$2 err_re=$3
	shift 4
	"$Z" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = "$want" ] || bad "zonedev $*: exit $rc, wanted $want"
	for s in out err; do
		eval re=\$${s}_re
		if [ -z "$re" ]; then
			[ -s "$tmp/$s" ] && bad "zonedev $*: std$s not empty: $(head -2 "$tmp/$s")"
		elif [ "$re" != . ]; then
			grep -Eq -- "$re" "$tmp/$s" ||
				bad "zonedev $*: std$s does not match '$re': $(head -2 "$tmp/$s")"
		fi
	done
}

expect 0 '^usage: zonedev' '' -- --help
expect 0 '^usage: zonedev' '' -- -h
expect 2 '' '^usage: zonedev' --
expect 0 '^zonedev [0-9]+\.[0-9]+' '' -- --version
expect 0 '^zonedev [0-9]+\.[0-9]+' '' -- version
expect 2 '' "^zonedev: unknown option '--frobnicate'" -- --frobnicate
expect 2 '' "^zonedev: unknown command 'frobnicate'" -- frobnicate
for cmd in demo iomem map pci pgmaps version; do
	expect 0 "^usage: zonedev $cmd" '' -- $cmd --help
	expect 0 "^usage: zonedev $cmd" '' -- $cmd -h
	expect 2 '' "^zonedev: $cmd: unknown option '--frobnicate'" -- $cmd --frobnicate
	expect 2 '' "^zonedev: $cmd: unknown option '-Q'" -- $cmd -Q
	expect 2 '' "^zonedev: $cmd: option '--help' takes no value" -- $cmd --help=1
	expect 2 '' "^zonedev: $cmd: unexpected argument 'extra'" -- $cmd extra
done
for opt in devices users hold-us pmem-gib hmm-mib; do
	expect 2 '' "^zonedev: demo: option '--$opt' needs a value" -- demo --$opt
	expect 2 '' "^zonedev: demo: option '--$opt' wants a number" -- demo --$opt=x
	expect 2 '' "^zonedev: demo: option '--$opt' wants a number" -- demo --$opt 99999999999
	expect 2 '' "^zonedev: demo: option '--$opt' wants a number" -- demo --$opt=-1
done
expect 2 '' "^zonedev: demo: option '--devices' wants a number from 1 to" -- demo --devices 0
expect 2 '' "^zonedev: demo: option '--hmm-mib' wants a number from 2 to" -- demo --hmm-mib 1
expect 2 '' "^zonedev: demo: option '--pmem-file' needs a value" -- demo --pmem-file
expect 2 '' "^zonedev: demo: option '--h' is ambiguous" -- demo --h
expect 0 '^usage: zonedev demo' '' -- demo --he
expect 2 '' "^zonedev: map: option '--svg' is required" -- map
expect 2 '' "^zonedev: map: option '--svg' needs a value" -- map --svg

# JSON: parses, and carries the keys zonedev(1) documents
json_check() {
	what=$1 keys=$2
	python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
for path in sys.argv[2].split():
    node = doc
    for part in path.split("."):
        if isinstance(node, list):
            if not node:
                sys.exit("empty list before " + path)
            node = node[0]
        if part not in node:
            sys.exit("no key " + path)
        node = node[part]
' "$tmp/out" "$keys" || bad "$what: JSON does not parse or lacks a key"
}

expect 0 '^\{' '' -- iomem --json
json_check "iomem --json" "command schema_version zonedev_version layout
	resources.name resources.start resources.end resources.size
	resources.busy resources.system_ram"
expect 0 '^\{' '' -- pgmaps --json
json_check "pgmaps --json" "command schema_version pgmaps.device pgmaps.type
	pgmaps.ranges.start pgmaps.ranges.end pgmaps.live pgmaps.altmap
	pgmaps.pages pgmaps.pages_in_use"
expect 0 '^\{' . -- pci --json
json_check "pci --json" "command schema_version host_bridges.name
	host_bridges.window_start host_bridges.window_end
	host_bridges.devices.name host_bridges.devices.type endpoints.role
	endpoints.name p2p.provider p2p.client p2p.map_type p2p.distance"

# the demo, quick: JSON summary on stdout, narrative on stderr, and an
# SVG; no file left in $TMPDIR
mkdir "$tmp/tmpdir"
TMPDIR=$tmp/tmpdir "$Z" demo --quick --json --svg "$tmp/demo.svg" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] || bad "demo --quick --json: exit $rc: $(tail -3 "$tmp/err")"
json_check "demo --json" "command schema_version ok refs.late_gets refs.ok
	devres.ok pmem.size pmem.memremap_ms pmem.ok p2p.ok p2p.distance
	hmm.skipped hmm.ok"
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["ok"] else 1)' \
	"$tmp/out" || bad "demo --json says ok: false"
grep -q '^== memremap' "$tmp/err" || bad "demo --json: no narrative on stderr"
[ -z "$(ls -A "$tmp/tmpdir")" ] || bad "demo left files in TMPDIR: $(ls -A "$tmp/tmpdir")"

# killed in the middle of the memremap part: the backing file is open, has
# no name, lives in $TMPDIR; after SIGKILL nothing is left there
rm -rf "$tmp/tmpdir" && mkdir "$tmp/tmpdir"
TMPDIR=$tmp/tmpdir "$Z" demo --quick >"$tmp/killed" 2>&1 &
pid=$!
i=0
while ! grep -q 'unplug pmem0' "$tmp/killed" && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
fds=$(ls -l /proc/$pid/fd 2>/dev/null)
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if ! grep -q 'unplug pmem0' "$tmp/killed"; then
	bad "demo never reached the unplug: $(tail -3 "$tmp/killed")"
elif ! echo "$fds" | grep -q -- "-> $tmp/tmpdir/.*(deleted)"; then
	bad "demo's pmem file is not an unnamed file in TMPDIR: $(echo "$fds" | grep -v -- '-> /dev\|pipe:\|socket:\|anon_inode:\|memfd:')"
fi
[ -z "$(ls -A "$tmp/tmpdir")" ] || bad "killed demo left files in TMPDIR: $(ls -A "$tmp/tmpdir")"

# piped, the library's message comes after the demo's own first lines
"$Z" demo --quick 2>&1 | cat >"$tmp/piped"
first=$(grep -n '^== lifetime references' "$tmp/piped" | cut -d: -f1)
libmsg=$(grep -n 'added peer-to-peer DMA memory' "$tmp/piped" | cut -d: -f1)
p2p=$(grep -n '^== PCI peer-to-peer' "$tmp/piped" | cut -d: -f1)
[ "${first:-0}" = 1 ] || bad "piped demo does not start with its first part"
[ -n "$libmsg" ] && [ -n "$p2p" ] && [ "$libmsg" -gt "$p2p" ] ||
	bad "piped demo: the library's p2p message (line $libmsg) is not inside the p2p part (line $p2p)"

# SVG: well-formed, and shows what the picture promises
expect 0 '' . -- map --svg "$tmp/map.svg"
for svg in "$tmp/map.svg" "$tmp/demo.svg"; do
	python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
text = " ".join("".join(t.itertext()) for t in root.iter())
for want in sys.argv[2:]:
    assert want in text, "no " + repr(want)
' "$svg" "System RAM" "DEVICE_PRIVATE" "free" ||
		bad "$svg: not a well-formed SVG with the expected content"
done
grep -q 'PCI_P2PDMA' "$tmp/map.svg" || bad "map.svg: no p2p pgmap"
grep -q 'FS_DAX' "$tmp/demo.svg" || bad "demo.svg: no pmem pgmap"

[ $fail = 0 ] && echo "test-zonedev: all checks passed"
exit $fail
