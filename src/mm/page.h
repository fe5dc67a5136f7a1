/* SPDX-License-Identifier: MIT */
/* What page_ref.c and folio.c share about struct zd_page. */
#ifndef ZD_MM_PAGE_H
#define ZD_MM_PAGE_H

#include <zonedev/memremap.h>

/* Types whose idle pages hold a reference (count one) and their pgmap's:
 * never handed out with zd_zone_device_page_init(). */
static inline bool idle_at_one(const struct zd_dev_pagemap *pgmap)
{
	return pgmap->type != ZD_MEMORY_DEVICE_PRIVATE &&
	       pgmap->type != ZD_MEMORY_DEVICE_COHERENT;
}

/* NULL or not a ZONE_DEVICE page: reported as @fn's, true. */
bool zd__page_bad(const struct zd_page *page, const char *fn);

#endif /* ZD_MM_PAGE_H */
