/* SPDX-License-Identifier: MIT */
/* pfn -> pgmap lookup (the kernel's pgmap_array) and the list of pgmaps. */
#ifndef ZD_MM_REGISTRY_H
#define ZD_MM_REGISTRY_H

#include <zonedev/memremap.h>

/* Whether the first @nr ranges of @pgmap hold @pfn. */
bool zd_pgmap_covers(const struct zd_dev_pagemap *pgmap, unsigned long pfn,
		     int nr);

/* The live-or-dying pgmap covering @pfn; the caller is in a per-thread
 * section or an RCU read section (the pgmap stays valid until it
 * leaves). */
struct zd_dev_pagemap *zd_pgmap_lookup(unsigned long pfn);

/* Serialise registry writers; held across a whole memremap or memunmap so
 * that checking for a conflict and inserting are one step. */
void zd_registry_lock(void);
void zd_registry_unlock(void);

/* The pgmap already mapping part of [pfn, pfn + nr), or NULL; lock held. */
struct zd_dev_pagemap *zd_registry_conflict(unsigned long pfn, unsigned long nr);
/* Enter / remove [pfn, pfn + nr) for @pgmap; lock held.  An entered
 * range conflicts at once but lookups find it only once published (its
 * memmap set up).  Removal waits for every read section before it
 * returns. */
int zd_registry_insert(struct zd_dev_pagemap *pgmap, unsigned long pfn,
		       unsigned long nr);
void zd_registry_publish(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			 unsigned long nr);
void zd_registry_delete(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			unsigned long nr);

/* The list of mapped pgmaps; lock held. */
void zd_pgmap_list_add(struct zd_dev_pagemap *pgmap);
void zd_pgmap_list_del(struct zd_dev_pagemap *pgmap);

#endif /* ZD_MM_REGISTRY_H */
