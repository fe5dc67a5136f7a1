// SPDX-License-Identifier: MIT
/* zonedev iomem: the physical resource tree, as /proc/iomem shows it. */
#include <stdio.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

int tool_iomem(int argc, char **argv)
{
	enum zd_iomem_layout layout = ZD_IOMEM_LAYOUT_DEFAULT;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--host")) {
			layout = ZD_IOMEM_LAYOUT_HOST;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: zonedev iomem [--host]\n"
			       "  --host  start from this machine's /proc/iomem "
			       "instead of zonedev's default layout\n");
			return 0;
		} else {
			fprintf(stderr, "zonedev iomem: unknown option '%s'\n",
				argv[i]);
			return 2;
		}
	}
	if (zd_iomem_setup(layout))
		return 1;
	return zd_iomem_print(stdout) ? 1 : 0;
}
