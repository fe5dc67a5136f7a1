// SPDX-License-Identifier: MIT
/* zonedev iomem: the physical resource tree, as /proc/iomem shows it. */
#include <stdio.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

static void usage(void)
{
	printf("usage: zonedev iomem [--host] [--json]\n"
	       "  --host  start from this machine's /proc/iomem instead of "
	       "zonedev's default\n"
	       "          layout (real addresses need root)\n"
	       "  --json  print the tree as JSON (schema in zonedev(1))\n");
}

/*
 * The tree is read without the resource lock: this process is the only
 * user of its resource tree, and nothing changes it while the tool prints.
 */
static void json_resources(struct json *j, const struct zd_resource *r)
{
	json_array(j, "resources");
	for (; r; r = r->sibling) {
		json_object(j, NULL);
		json_string(j, "name", r->name ? r->name : "");
		json_hex(j, "start", r->start);
		json_hex(j, "end", r->end);
		json_uint(j, "size", zd_resource_size(r));
		json_bool(j, "busy", r->flags & ZD_IORESOURCE_BUSY);
		json_bool(j, "system_ram", (r->flags & ZD_IORESOURCE_SYSTEM_RAM) ==
					   ZD_IORESOURCE_SYSTEM_RAM);
		if (r->child)
			json_resources(j, r->child);
		json_end_object(j);
	}
	json_end_array(j);
}

int tool_iomem(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "host", no_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	enum zd_iomem_layout layout = ZD_IOMEM_LAYOUT_DEFAULT;
	bool json = false;
	struct json j;
	int c;

	while ((c = tool_getopt("iomem", argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'h':
			usage();
			return TOOL_OK;
		case 'H':
			layout = ZD_IOMEM_LAYOUT_HOST;
			break;
		case 'j':
			json = true;
			break;
		default:
			return TOOL_USAGE;
		}
	}
	if (tool_no_args("iomem", argc, argv))
		return TOOL_USAGE;
	if (zd_iomem_setup(layout)) {
		tool_err("iomem", "cannot set up the resource tree");
		return TOOL_FAILED;
	}
	if (!json)
		return zd_iomem_print(stdout) ? TOOL_FAILED : TOOL_OK;
	json_header(&j, stdout, "iomem");
	json_string(&j, "layout", layout == ZD_IOMEM_LAYOUT_HOST ? "host" : "default");
	json_resources(&j, zd_iomem_root()->child);
	json_end_object(&j);
	return fflush(stdout) ? TOOL_FAILED : TOOL_OK;
}
