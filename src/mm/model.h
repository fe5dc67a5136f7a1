/* SPDX-License-Identifier: MIT */
/* The memory model: the physical space, the vmemmap and the direct map. */
#ifndef ZD_MM_MODEL_H
#define ZD_MM_MODEL_H

#include <stdbool.h>
#include <zonedev/memremap.h>

#include "compiler.h"

struct zd_mm_model {
	unsigned int phys_bits;
	unsigned long page_size;
	unsigned long nr_pfns;		/* frames in the physical space */
	unsigned long pfns_per_subsection;
	unsigned long pfns_per_section;
	atomic_ulong *present;		/* subsection bitmap: memmap mapped */
	atomic_bool ready;		/* all of the above is set (release) */
};

extern struct zd_mm_model zd_mm;

/* Reserve the address space once; 0, or -ENOMEM if nothing fits. */
int zd_mm_init(void);

static inline unsigned long zd_phys_pfn(zd_phys_addr_t phys)
{
	return (unsigned long)(phys >> zd_page_shift);
}

/* Map / unmap the memmap of [pfn, pfn + nr): anonymous, or from @fd at
 * @off (an altmap).  Caller holds the memory hotplug write side. */
int zd_memmap_add(unsigned long pfn, unsigned long nr, int fd, uint64_t off);
void zd_memmap_remove(unsigned long pfn, unsigned long nr);
/* Bytes of memmap for @nr pages, rounded up to whole pages. */
uint64_t zd_memmap_bytes(unsigned long nr);

/* Hold the mappings a teardown may need (see model.c); 0, or -ENOMEM
 * at vm.max_map_count.  Caller holds the memory hotplug write side. */
int zd_mm_headroom(void);

/* Map / unmap the direct map of [phys, phys + len) from @backing. */
int zd_direct_map_add(zd_phys_addr_t phys, uint64_t len,
		      const struct zd_pagemap_backing *backing, uint64_t off);
void zd_direct_map_remove(zd_phys_addr_t phys, uint64_t len);

/* Progress reporting for long work (base/progress.c). */
void zd_progress(const char *what, uint64_t done, uint64_t total);

#endif /* ZD_MM_MODEL_H */
