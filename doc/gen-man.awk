# SPDX-License-Identifier: MIT
# Man pages from the kernel-doc comments of zonedev's public headers.
#
#   awk -v outdir=DIR -v header=zonedev/x.h -f gen-man.awk include/zonedev/x.h
#
# Every ZD_API declaration must follow a comment of the form
#   /**
#    * name - one-line summary
#    * @arg: description
#    *
#    * Paragraphs.  Context: ...  Return: ...
#    */
# whose name matches the declared function; otherwise this exits 1, naming
# the declaration, so that an undocumented export fails the build.

function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/^\./, "\\\\\\&.", s)
	gsub(/^'/, "\\\\\\&'", s)
	gsub(/\n\./, "\n\\\\\\&.", s)
	gsub(/\n'/, "\n\\\\\\&'", s)
	return s
}

# Kernel-doc markup to roff: @arg in italics, func() in bold.  Names of
# functions mentioned are remembered for SEE ALSO.
function markup(s,    out, m) {
	out = ""
	while (match(s, /@[A-Za-z_][A-Za-z_0-9]*|zd_[A-Za-z_0-9]+\(\)/)) {
		m = substr(s, RSTART, RLENGTH)
		out = out substr(s, 1, RSTART - 1)
		if (m ~ /^@/) {
			out = out "\\fI" substr(m, 2) "\\fP"
		} else {
			m = substr(m, 1, length(m) - 2)
			out = out "\\fB" m "\\fP()"
			if (m != name && !(m in seen)) {
				seen[m] = 1
				see_also = see_also " " m
			}
		}
		s = substr(s, RSTART + RLENGTH)
	}
	return out s
}

function fmt(s) {
	return markup(esc(s))
}

function flush_para() {
	if (para != "") {
		body = body ".PP\n" fmt(para) "\n"
		para = ""
	}
}

function emit(decl, fname, file, n, i, refs) {
	file = outdir "/" name ".3"
	printf ".TH %s 3 \"\" \"zonedev\" \"zonedev Manual\"\n.nh\n", name > file
	printf ".SH NAME\n%s \\- %s\n", name, fmt(summary) > file
	printf ".SH SYNOPSIS\n.nf\n.B #include <%s>\n.PP\n%s\n.fi\n", header, esc(decl) > file
	if (params != "")
		printf ".SH ARGUMENTS\n%s", params > file
	printf ".SH DESCRIPTION\n%s", body > file
	if (context != "")
		printf ".SH CONTEXT\n%s\n", fmt(context) > file
	if (ret != "")
		printf ".SH RETURN VALUE\n%s\n", fmt(ret) > file
	printf ".SH SEE ALSO\n" > file
	n = split(see_also, refs, " ")
	for (i = 1; i <= n; i++)
		printf ".BR %s (3),\n", refs[i] > file
	printf ".BR zonedev (7),\nand the header <%s>, which documents the rest of this API.\n", header > file
	close(file)
	pages++
}

function reset_doc() {
	name = ""; summary = ""; params = ""; body = ""; para = ""
	context = ""; ret = ""; section = "summary"; see_also = ""
	split("", seen)
}

BEGIN { in_doc = 0; have_doc = 0; errors = 0; pages = 0 }

/^\/\*\*$/ {
	in_doc = 1; have_doc = 0
	reset_doc()
	next
}

in_doc && /^ \*\/$/ {
	flush_para()
	in_doc = 0; have_doc = (name != "")
	next
}

in_doc {
	line = $0
	sub(/^ \* ?/, "", line)
	if (name == "") {
		if (match(line, / - /)) {
			name = substr(line, 1, RSTART - 1)
			summary = substr(line, RSTART + 3)
		}
		next
	}
	if (match(line, /^@[A-Za-z_0-9.]+:/)) {
		params = params ".TP\n.I " substr(line, 2, RLENGTH - 2) "\n" \
			 fmt(substr(line, RLENGTH + 2)) "\n"
		section = "param"
		next
	}
	# a summary too long for one line goes on until the arguments
	if (section == "summary" && line != "") {
		summary = summary " " line
		next
	}
	if (line ~ /^Context:/) {
		flush_para(); section = "context"
		sub(/^Context: */, "", line); context = line; next
	}
	if (line ~ /^Return:/) {
		flush_para(); section = "return"
		sub(/^Return: */, "", line); ret = line; next
	}
	if (line == "") {
		flush_para()
		if (section == "param" || section == "summary") section = "body"
		next
	}
	if (section == "param") {
		sub(/^ +/, "", line)
		params = params fmt(line) "\n"
	} else if (section == "context") {
		context = context " " line
	} else if (section == "return") {
		ret = ret " " line
	} else {
		para = (para == "") ? line : para "\n" line
	}
	next
}

# Exported variables are described in the header's prose, not paged.
/^ZD_API extern / { have_doc = 0; next }

# zd__ functions are internal halves of inline helpers: not paged.
/^ZD_API [^(]*zd__/ {
	while ($0 !~ /;/ && (getline more) > 0)
		$0 = $0 more
	have_doc = 0
	next
}

# An inline helper: documented like a declaration, its body left out.
/^ZD_INLINE / {
	decl = $0
	while (decl !~ /\)$/ && (getline more) > 0)
		decl = decl "\n" more
	sub(/^ZD_INLINE /, "", decl)
	decl = decl ";"
	fname = decl
	sub(/\(.*/, "", fname)
	gsub(/\n/, " ", fname)
	sub(/.*[ *]/, "", fname)
	if (!have_doc || fname != name) {
		printf "%s: %s has no kernel-doc comment\n", FILENAME, fname > "/dev/stderr"
		errors++
	} else {
		emit(decl)
		documented[fname] = 1
	}
	have_doc = 0
	next
}

/^ZD_API / {
	decl = $0
	while (decl !~ /;/ && (getline more) > 0)
		decl = decl "\n" more
	sub(/^ZD_API (ZD_HOT )?/, "", decl)
	fname = decl
	sub(/\(.*/, "", fname)
	gsub(/\n/, " ", fname)
	sub(/.*[ *]/, "", fname)
	if (!have_doc && (fname in documented)) {
		;	# the exported twin of an inline helper
	} else if (!have_doc || fname != name) {
		printf "%s: %s has no kernel-doc comment%s\n", FILENAME, fname,
		       have_doc ? " (the comment above names " name ")" : "" > "/dev/stderr"
		errors++
	} else {
		emit(decl)
	}
	have_doc = 0
	next
}

# anything else between a comment and its declaration detaches them
/^[^ \t\/]/ && !/^ZD_API/ && !/^ZD_INLINE/ { have_doc = 0 }

END {
	if (errors)
		exit 1
	printf "%s: %d man pages\n", FILENAME, pages
}
