/* SPDX-License-Identifier: MIT */
/*
 * An outside program, built by run.sh against an installed zonedev: map a
 * GENERIC pgmap, look a page up, take and drop a reference, unmap.  Prints
 * "ok" and exits 0 when all of that worked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zonedev/zonedev.h>

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: %s failed (%s)\n",	\
				__FILE__, __LINE__, #cond,		\
				strerror(errno));			\
			return 1;					\
		}							\
	} while (0)

int main(void)
{
	struct zd_dev_pagemap pgmap = {
		.type = ZD_MEMORY_DEVICE_GENERIC,
		.nr_range = 1,
		.range = { 0x2000000000ull, 0x2000000000ull + (2 << 20) - 1 },
	};
	unsigned long pfn = pgmap.range.start >> zd_page_shift;
	struct zd_dev_pagemap *found;
	struct zd_page *page;
	char *va;

	va = zd_memremap_pages(&pgmap, ZD_NUMA_NO_NODE);
	CHECK(va != NULL);
	va[0] = 1;			/* CPU-accessible: mapped in the direct map */
	found = zd_get_dev_pagemap(pfn, NULL);
	CHECK(found == &pgmap);
	page = zd_pfn_to_page(pfn);
	CHECK(zd_page_address(page) == va);
	zd_put_dev_pagemap(found);
	zd_memunmap_pages(&pgmap);
	CHECK(!zd_pfn_valid(pfn));
	printf("ok\n");
	return 0;
}
