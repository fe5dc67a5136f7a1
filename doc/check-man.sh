#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks the man pages against the library that is built:
#   every function libzonedev.so exports has a page in MAN3;
#   every page has a NAME summary and a DESCRIPTION with text in it, and
#   every page of section 3 a CONTEXT;
#   no page shows kernel-doc markup (@arg, "Context:", "Return:") raw;
#   every page named under SEE ALSO exists;
#   zonedev(1) and zonedev(7) exist and have a DESCRIPTION.
# Each problem is printed; the exit status is 1 if there was any.
#
#   check-man.sh LIBZONEDEV.so MAN3DIR DOCDIR
set -u
lib=$1 man3=$2 doc=$3
fail=0

bad() {
	echo "check-man: $*" >&2
	fail=1
}

# All pages in one pass: NAME, DESCRIPTION, markup, SEE ALSO references
# (printed as "ref page" lines, checked below).
check_pages() {
	awk '
	function done_page() {
		if (page == "")
			return
		if (!summary)
			printf "%s: NAME has no summary\n", page
		if (!desc)
			printf "%s: empty DESCRIPTION\n", page
		if (!context && page ~ /\.3$/)
			printf "%s: no CONTEXT (may it sleep? which locks?)\n", page
		if (raw != "")
			printf "%s: raw kernel-doc markup: %s\n", page, raw
	}
	FNR == 1 { done_page(); page = FILENAME; summary = desc = context = 0; raw = ""; sec = "" }
	/^\.SH / { sec = substr($0, 5); context += sec == "CONTEXT"; next }
	/@[A-Za-z_]/ || /^(Context|Return):/ { if (raw == "") raw = $0 }
	sec == "NAME" && / \\- [^ ]/ { summary = 1 }
	sec == "DESCRIPTION" && !/^\.[A-Za-z]+$/ && /[A-Za-z]/ { desc = 1 }
	sec == "\"SEE ALSO\"" || sec == "SEE ALSO" {
		if (match($0, /^\.BR [A-Za-z_0-9]+ \([0-9]\)/)) {
			split(substr($0, 5), w, " ")
			print "ref " page " " w[1] "." substr(w[2], 2, 1)
		}
	}
	END { done_page() }
	' "$@"
}

[ -r "$lib" ] || { bad "no library at $lib"; exit 1; }
exports=$(nm -D --defined-only "$lib" | awk '$2 == "T" && $3 ~ /^zd_/ && $3 !~ /^zd__/ { sub(/@.*/, "", $3); print $3 }')
[ -n "$exports" ] || bad "no zd_ functions exported by $lib"
n=0
for f in $exports; do
	n=$((n + 1))
	[ -e "$man3/$f.3" ] || bad "$f is exported but has no page $man3/$f.3"
done
pages="$man3/*.3 $doc/zonedev.1 $doc/zonedev.7"
out=$(check_pages $pages)
echo "$out" | grep -v '^ref \|^$' | while read -r line; do echo "check-man: $line"; done >&2
echo "$out" | grep -qv '^ref \|^$' && fail=1
for ref in $(echo "$out" | awk '$1 == "ref" { print $2 ":" $3 }'); do
	page=${ref%%:*} name=${ref#*:}
	case $name in
	zonedev.[17]) [ -s "$doc/$name" ] ;;
	*.3) [ -s "$man3/$name" ] ;;
	*) false ;;
	esac || bad "$page: SEE ALSO names $name, which has no page"
done
if command -v groff >/dev/null 2>&1; then
	w=$(groff -man -Tutf8 -ww -z $pages 2>&1)
	[ -z "$w" ] || bad "groff: $w"
fi
[ $fail = 0 ] && echo "check-man: $n exported functions, all paged; $(ls "$man3" | wc -l) pages checked"
exit $fail
