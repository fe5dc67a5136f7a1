/* SPDX-License-Identifier: MIT */
/* Reading this process's memory use, shared by the tool, benchmarks and
 * tests (the library itself never needs it). */
#ifndef ZD_TOOLS_PROCFS_H
#define ZD_TOOLS_PROCFS_H

#include <stdio.h>

/* Anonymous resident memory (RssAnon) in KiB, or -1. */
static inline long zd_rss_anon_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

#endif /* ZD_TOOLS_PROCFS_H */
