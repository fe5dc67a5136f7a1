// SPDX-License-Identifier: MIT
/* Listing pgmaps: zonedev pgmaps, and the demo's own listings. */
#include <stdio.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

static int print_one(struct zd_dev_pagemap *p, void *arg)
{
	int *n = arg;

	printf("%-10s %#14llx-%#14llx %-15s %-7s %-6s %10lu\n",
	       p->dev ? zd_dev_name(p->dev) : "-",
	       (unsigned long long)p->ranges[0].start,
	       (unsigned long long)p->ranges[p->nr_range - 1].end,
	       zd_memory_type_name(p->type),
	       zd_percpu_ref_is_dying(&p->ref) ? "dying" : "live",
	       p->flags & ZD_PGMAP_ALTMAP_VALID ? "altmap" : "-",
	       zd_pgmap_pages_in_use(p));
	(*n)++;
	return 0;
}

void tool_print_pgmaps(void)
{
	int n = 0;

	printf("%-10s %-31s %-15s %-7s %-6s %10s\n", "device", "range", "type",
	       "ref", "memmap", "pages used");
	zd_pgmap_for_each(print_one, &n);
	if (!n)
		printf("(no pgmaps)\n");
}

/* A progress bar for memmap initialisation. */
static void progress_bar(const char *what, uint64_t done, uint64_t total,
			 void *arg)
{
	tool_progress(what, done, total);
}

void tool_show_progress(void)
{
	zd_set_progress(progress_bar, NULL);
}

int tool_pgmaps(int argc, char **argv)
{
	if (argc > 1) {
		printf("usage: zonedev pgmaps\n"
		       "  sets up the demo's sample devices (a file-backed pmem "
		       "device, a GPU-like\n  device with private memory) and "
		       "lists their pgmaps: pgmaps live in the\n  process that "
		       "maps them\n");
		return strcmp(argv[1], "-h") && strcmp(argv[1], "--help") ? 2 : 0;
	}
	return demo_sample_pgmaps();
}
