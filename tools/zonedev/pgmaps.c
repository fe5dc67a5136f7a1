// SPDX-License-Identifier: MIT
/*
 * Listing pgmaps: zonedev pgmaps, and the demo's own listings.  pgmaps
 * live in the process that maps them, so "zonedev pgmaps" sets up a
 * sample configuration first: a GENERIC range (device-dax style) and a
 * GPU-like device with private memory, 100 pages of it handed out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

#define GiB(x)		((uint64_t)(x) << 30)
#define SAMPLE_IN_USE	100

static int print_one(struct zd_dev_pagemap *p, void *arg)
{
	int *n = arg;

	fprintf(tool_out, "%-10s %#14llx-%#14llx %-15s %-7s %-6s %10lu\n",
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

	fprintf(tool_out, "%-10s %-31s %-15s %-7s %-6s %10s\n", "device",
		"range", "type", "ref", "memmap", "pages used");
	zd_pgmap_for_each(print_one, &n);
	if (!n)
		fprintf(tool_out, "(no pgmaps)\n");
}

static int json_one(struct zd_dev_pagemap *p, void *arg)
{
	struct json *j = arg;
	uint64_t pages = 0;

	json_object(j, NULL);
	json_string(j, "device", p->dev ? zd_dev_name(p->dev) : NULL);
	json_string(j, "type", zd_memory_type_name(p->type));
	json_array(j, "ranges");
	for (int i = 0; i < p->nr_range; i++) {
		json_object(j, NULL);
		json_hex(j, "start", p->ranges[i].start);
		json_hex(j, "end", p->ranges[i].end);
		json_end_object(j);
		pages += (p->ranges[i].end - p->ranges[i].start + 1) / zd_page_size();
	}
	json_end_array(j);
	json_bool(j, "live", !zd_percpu_ref_is_dying(&p->ref));
	json_bool(j, "altmap", p->flags & ZD_PGMAP_ALTMAP_VALID);
	json_uint(j, "pages", pages);
	json_uint(j, "pages_in_use", zd_pgmap_pages_in_use(p));
	json_end_object(j);
	return 0;
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

/* ---- the sample configuration ------------------------------------------ */

struct sample_pgmaps {
	struct zd_dev_pagemap gen, gpu;
	struct zd_resource *gpu_region;
};

static int gpu_owner;

static void gpu_page_free(struct zd_page *page)
{
}

static int gpu_migrate(struct zd_vm_fault *vmf)
{
	return 0;
}

static const struct zd_dev_pagemap_ops gpu_ops = {
	.page_free = gpu_page_free, .migrate_to_ram = gpu_migrate,
};

struct sample_pgmaps *sample_pgmaps_create(void)
{
	struct sample_pgmaps *s = calloc(1, sizeof(*s));
	unsigned long first;

	if (!s)
		return NULL;
	s->gpu_region = zd_request_free_mem_region(zd_iomem_root(), GiB(1), "gpu0");
	if (!s->gpu_region)
		goto fail;
	s->gen.type = ZD_MEMORY_DEVICE_GENERIC;
	s->gen.nr_range = 1;
	s->gen.range.start = GiB(64);
	s->gen.range.end = GiB(64) + GiB(1) / 4 - 1;
	s->gpu.type = ZD_MEMORY_DEVICE_PRIVATE;
	s->gpu.nr_range = 1;
	s->gpu.ops = &gpu_ops;
	s->gpu.owner = &gpu_owner;
	s->gpu.range.start = s->gpu_region->start;
	s->gpu.range.end = s->gpu_region->end;
	if (!zd_memremap_pages(&s->gen, ZD_NUMA_NO_NODE) ||
	    !zd_memremap_pages(&s->gpu, ZD_NUMA_NO_NODE))
		goto fail;
	first = (unsigned long)(s->gpu_region->start >> zd_page_shift);
	for (unsigned long i = 0; i < SAMPLE_IN_USE; i++)
		if (zd_zone_device_page_init(zd_pfn_to_page(first + i)))
			goto fail;
		else
			zd_unlock_page(zd_pfn_to_page(first + i));
	return s;
fail:
	tool_err(NULL, "setting up the sample pgmaps: %s", strerror(errno));
	sample_pgmaps_destroy(s);
	return NULL;
}

void sample_pgmaps_destroy(struct sample_pgmaps *s)
{
	if (!s)
		return;
	if (s->gpu.state) {
		unsigned long first = (unsigned long)(s->gpu.range.start >> zd_page_shift);

		for (unsigned long i = 0; i < SAMPLE_IN_USE; i++)
			if (zd_page_ref_count(zd_pfn_to_page(first + i)))
				zd_put_page(zd_pfn_to_page(first + i));
		zd_memunmap_pages(&s->gpu);
	}
	if (s->gen.state)
		zd_memunmap_pages(&s->gen);
	if (s->gpu_region)
		zd_release_mem_region(s->gpu_region->start,
				      zd_resource_size(s->gpu_region));
	free(s);
}

/* ---- zonedev pgmaps ----------------------------------------------------- */

static void usage(void)
{
	printf("usage: zonedev pgmaps [--json]\n"
	       "  sets up the demo's sample devices (a GENERIC range and a "
	       "GPU-like device\n  with private memory, 100 pages of it in "
	       "use) and lists their pgmaps:\n  pgmaps live in the process "
	       "that maps them\n"
	       "  --json  print the list as JSON (schema in zonedev(1))\n");
}

int tool_pgmaps(int argc, char **argv)
{
	struct sample_pgmaps *s;
	bool json = false;
	struct json j;
	int c;

	c = tool_json_only("pgmaps", argc, argv, usage, &json);
	if (c >= 0)
		return c;
	s = sample_pgmaps_create();
	if (!s)
		return TOOL_FAILED;
	if (json) {
		json_header(&j, stdout, "pgmaps");
		json_array(&j, "pgmaps");
		zd_pgmap_for_each(json_one, &j);
		json_end_array(&j);
		json_end_object(&j);
	} else {
		tool_print_pgmaps();
	}
	sample_pgmaps_destroy(s);
	return TOOL_OK;
}
