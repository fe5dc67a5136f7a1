/* SPDX-License-Identifier: MIT */
#ifndef ZD_MM_MEMMAP_INIT_H
#define ZD_MM_MEMMAP_INIT_H

#include <zonedev/memremap.h>

/* Initialise the struct pages of [first, end) for @pgmap (compound pages
 * counted from @first); parallel for large spans, reports progress. */
void zd_memmap_init(struct zd_dev_pagemap *pgmap, unsigned long first,
		    unsigned long end);

#endif
