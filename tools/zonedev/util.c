// SPDX-License-Identifier: MIT
/* Small helpers for the tool's subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

bool tool_opt_ulong(int *i, int argc, char **argv, const char *name,
		    unsigned long *val)
{
	size_t len = strlen(name);
	const char *arg = argv[*i], *v;
	char *end;

	if (strncmp(arg, name, len))
		return false;
	if (arg[len] == '=')
		v = arg + len + 1;
	else if (!arg[len] && *i + 1 < argc)
		v = argv[++*i];
	else
		return false;
	*val = strtoul(v, &end, 0);
	if (*end || !*v) {
		fprintf(stderr, "zonedev: %s wants a number, not '%s'\n", name, v);
		exit(2);
	}
	return true;
}

int64_t tool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A progress bar on a terminal; silent when stdout is a pipe or file. */
void tool_progress(const char *label, unsigned long done, unsigned long total)
{
	static int tty = -1;
	int width = 30, fill;

	if (tty < 0)
		tty = isatty(STDOUT_FILENO);
	if (!tty || !total)
		return;
	fill = (int)((double)done / (double)total * width);
	printf("\r%-24s [%.*s%*s] %3lu%%", label, fill,
	       "##############################", width - fill, "",
	       done * 100 / total);
	if (done >= total)
		printf("\r%*s\r", 24 + width + 8, "");
	fflush(stdout);
}

