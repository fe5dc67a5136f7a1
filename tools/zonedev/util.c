// SPDX-License-Identifier: MIT
/* Small helpers for the tool's subcommands: options, messages, progress. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

FILE *tool_out;
bool tool_progress_tty;

static void vmessage(const char *cmd, const char *fmt, va_list ap)
{
	fflush(stdout);		/* keep stdout and stderr in order */
	fputs("zonedev: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void tool_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
}

int tool_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'zonedev%s%s --help'.\n", cmd ? " " : "",
		cmd ? cmd : "");
	return 2;
}

/* Whether @name abbreviates more than one long option. */
static bool ambiguous(const struct option *longopts, const char *name, size_t len)
{
	int n = 0;

	for (; longopts->name; longopts++)
		n += !strncmp(longopts->name, name, len);
	return len && n > 1;
}

/*
 * getopt_long() with the tool's own messages: getopt's would start with
 * argv[0] and not say which subcommand.  Returns the option, -1 at the
 * end, or '?' after reporting a bad option (the caller exits 2).
 */
int tool_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
		const struct option *longopts)
{
	const char *arg;
	int c, len;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	arg = argv[optind - 1];
	if (!strncmp(arg, "--", 2)) {
		len = (int)strcspn(arg, "=");
		if (c == ':')
			tool_usage_error(cmd, "option '%.*s' needs a value", len, arg);
		else if (optopt && arg[len])
			tool_usage_error(cmd, "option '%.*s' takes no value", len, arg);
		else if (ambiguous(longopts, arg + 2, (size_t)len - 2))
			tool_usage_error(cmd, "option '%.*s' is ambiguous", len, arg);
		else
			tool_usage_error(cmd, "unknown option '%.*s'", len, arg);
	} else if (c == ':') {
		tool_usage_error(cmd, "option '-%c' needs a value", optopt);
	} else {
		tool_usage_error(cmd, "unknown option '-%c'", optopt ? optopt : '?');
	}
	return '?';
}

bool tool_ulong(const char *cmd, const char *opt, const char *arg,
		unsigned long min, unsigned long max, unsigned long *val)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (!*arg || *end || errno || arg[strspn(arg, " \t")] == '-' ||
	    v < min || v > max) {
		tool_usage_error(cmd, "option '--%s' wants a number from %lu to "
				 "%lu, not '%s'", opt, min, max, arg);
		return false;
	}
	*val = v;
	return true;
}

int tool_no_args(const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		return tool_usage_error(cmd, "unexpected argument '%s'",
					argv[optind]);
	return 0;
}

int64_t tool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * A progress bar on stderr when it is a terminal; nothing otherwise, so
 * that a log or a pipe gets only the results.
 */
void tool_progress(const char *label, unsigned long done, unsigned long total)
{
	int width = 30, fill;

	if (!tool_progress_tty || !total)
		return;
	if (done == 0 || done >= total)
		fflush(tool_out);
	fill = (int)((double)done / (double)total * width);
	fprintf(stderr, "\r%-24s [%.*s%*s] %3lu%%", label, fill,
		"##############################", width - fill, "",
		done * 100 / total);
	if (done >= total)
		fprintf(stderr, "\r%*s\r", 24 + width + 8, "");
}

int tool_json_only(const char *cmd, int argc, char **argv, void (*usage)(void),
		   bool *json)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = tool_getopt(cmd, argc, argv, ":h", opts)) != -1) {
		if (c == 'h') {
			usage();
			return TOOL_OK;
		}
		if (c != 'j')
			return TOOL_USAGE;
		*json = true;
	}
	return tool_no_args(cmd, argc, argv) ? TOOL_USAGE : -1;
}
