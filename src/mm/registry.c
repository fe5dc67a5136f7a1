// SPDX-License-Identifier: MIT
/*
 * pfn -> pgmap, lock-free for readers.  One word per 128 MiB section:
 *   0              nothing mapped in the section;
 *   pgmap          one pgmap has pages in the section (the reader checks
 *                  that the pfn is in its ranges);
 *   table | 1      several do: a table of 64 subsection entries.
 * So a lookup is one load, a range check and, for shared sections, one
 * more load.  Writers hold registry_lock; tables they drop are freed
 * after a grace period.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../os/os.h"
#include "fault.h"
#include "list.h"
#include "log.h"
#include "model.h"
#include "rcu.h"
#include "registry.h"

#define SUBSECTIONS	(1u << (ZD_SECTION_SHIFT - ZD_SUBSECTION_SHIFT))
#define TABLE_TAG	((uintptr_t)1)

struct subsection_table {
	struct zd_dev_pagemap *_Atomic map[SUBSECTIONS];
};

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Published (release) once nr_sections is set. */
static _Atomic uintptr_t *_Atomic sections;
static unsigned long nr_sections;
static struct zd_list_head pgmaps = { &pgmaps, &pgmaps };

void zd_registry_lock(void)
{
	pthread_mutex_lock(&registry_mutex);
}

void zd_registry_unlock(void)
{
	pthread_mutex_unlock(&registry_mutex);
}

bool zd_pgmap_covers(const struct zd_dev_pagemap *pgmap, unsigned long pfn,
		     int nr)
{
	for (int i = 0; i < nr; i++) {
		unsigned long first = zd_phys_pfn(pgmap->ranges[i].start);

		/* one unsigned compare: pfn below first wraps high */
		if (pfn - first <= zd_phys_pfn(pgmap->ranges[i].end) - first)
			return true;
	}
	return false;
}

/*
 * Readers see a range only once it is set up: memremap publishes
 * nr_range (release) after the range's memmap is mapped and initialised,
 * while the registry holds it from the start (for conflicts).
 */
static bool published(struct zd_dev_pagemap *pgmap, unsigned long pfn)
{
	return pgmap && zd_pgmap_covers(pgmap, pfn, __atomic_load_n(
		&pgmap->nr_range, __ATOMIC_ACQUIRE));
}

struct zd_dev_pagemap *zd_pgmap_lookup_rcu(unsigned long pfn)
{
	unsigned long sec = pfn >> (ZD_SECTION_SHIFT - zd_page_shift);
	_Atomic uintptr_t *table = atomic_load_explicit(&sections,
							memory_order_acquire);
	struct zd_dev_pagemap *pgmap;
	uintptr_t e;

	if (unlikely(!table || sec >= nr_sections))
		return NULL;
	e = atomic_load_explicit(&table[sec], memory_order_acquire);
	if (likely(!(e & TABLE_TAG)))
		pgmap = (struct zd_dev_pagemap *)e;
	else
		pgmap = atomic_load_explicit(&((struct subsection_table *)
			(e & ~TABLE_TAG))->map[(pfn >> (ZD_SUBSECTION_SHIFT -
			zd_page_shift)) % SUBSECTIONS], memory_order_acquire);
	return published(pgmap, pfn) ? pgmap : NULL;
}

/* The registered (maybe not yet published) pgmap at @pfn; lock held. */
static struct zd_dev_pagemap *registered_at(unsigned long pfn)
{
	unsigned long sec = pfn / zd_mm.pfns_per_section;
	struct zd_dev_pagemap *pgmap;
	uintptr_t e = atomic_load(&sections[sec]);

	if (!(e & TABLE_TAG))
		pgmap = (struct zd_dev_pagemap *)e;
	else
		pgmap = atomic_load(&((struct subsection_table *)(e & ~TABLE_TAG))
			->map[(pfn / zd_mm.pfns_per_subsection) % SUBSECTIONS]);
	return pgmap && zd_pgmap_covers(pgmap, pfn, pgmap->nr_registered) ?
		pgmap : NULL;
}

/* Allocated on first insert: one word per section of the physical space. */
static int sections_init(void)
{
	_Atomic uintptr_t *table;

	if (atomic_load(&sections))
		return 0;
	nr_sections = zd_mm.nr_pfns / zd_mm.pfns_per_section;
	table = zd_os_reserve_rw(nr_sections * sizeof(*table));
	atomic_store_explicit(&sections, table, memory_order_release);
	return table ? 0 : -ENOMEM;
}

/* The first and last subsection of [pfn, pfn + nr) inside section @sec. */
static void span_in(unsigned long sec, unsigned long pfn, unsigned long nr,
		    unsigned int *first, unsigned int *last)
{
	unsigned long sub0 = sec * SUBSECTIONS;
	unsigned long a = pfn / zd_mm.pfns_per_subsection;
	unsigned long b = (pfn + nr - 1) / zd_mm.pfns_per_subsection;

	*first = a > sub0 ? (unsigned int)(a - sub0) : 0;
	*last = b < sub0 + SUBSECTIONS - 1 ? (unsigned int)(b - sub0) :
		SUBSECTIONS - 1;
}

#define for_each_section(sec, pfn, nr)					\
	for (sec = (pfn) / zd_mm.pfns_per_section;			\
	     sec <= ((pfn) + (nr) - 1) / zd_mm.pfns_per_section; sec++)

struct zd_dev_pagemap *zd_registry_conflict(unsigned long pfn, unsigned long nr)
{
	if (!sections)
		return NULL;
	for (unsigned long p = pfn; p < pfn + nr; p += zd_mm.pfns_per_subsection) {
		struct zd_dev_pagemap *other = registered_at(p);

		if (other)
			return other;
	}
	return NULL;
}

/* A table holding what single-pgmap entry @e said for section @sec. */
static struct subsection_table *table_from(unsigned long sec, uintptr_t e)
{
	struct subsection_table *t = zd_zalloc("memremap.table", sizeof(*t));
	struct zd_dev_pagemap *old = (struct zd_dev_pagemap *)e;

	if (!t || !old)
		return t;
	for (unsigned int i = 0; i < SUBSECTIONS; i++) {
		unsigned long pfn = (sec * SUBSECTIONS + i) *
				    zd_mm.pfns_per_subsection;

		if (zd_pgmap_covers(old, pfn, old->nr_registered))
			atomic_store(&t->map[i], old);
	}
	return t;
}

/*
 * With thousands of pgmaps, lookups land all over the section table and
 * miss the TLB: ask for huge pages then.  Not before: a huge page is 2 MiB
 * of RSS that a process with a few pgmaps should not pay.
 */
#define HUGE_TABLE_AT	1024

static void maybe_huge_table(void)
{
	static unsigned long inserted;

	if (++inserted == HUGE_TABLE_AT)
		zd_os_advise_hugepages(sections, nr_sections * sizeof(*sections));
}

int zd_registry_insert(struct zd_dev_pagemap *pgmap, unsigned long pfn,
		       unsigned long nr)
{
	unsigned long sec;

	/* only a range's first and last sections can be shared with a
	 * pgmap entered as a single pointer: at most two new tables */
	struct subsection_table *fresh[2] = { NULL, NULL };
	int nfresh = 0;

	if (sections_init() || zd_fault("memremap.registry"))
		return -ENOMEM;
	/* allocate every table first: after that nothing can fail */
	for_each_section(sec, pfn, nr) {
		uintptr_t e = atomic_load(&sections[sec]);

		if (!e || (e & TABLE_TAG))
			continue;
		if (nfresh == 2 || !(fresh[nfresh] = table_from(sec, e))) {
			for (int i = 0; i < nfresh; i++)
				free(fresh[i]);
			return -ENOMEM;
		}
		nfresh++;
	}
	nfresh = 0;
	for_each_section(sec, pfn, nr) {
		uintptr_t e = atomic_load(&sections[sec]);
		unsigned int first, last;
		struct subsection_table *t;

		if (!e) {
			atomic_store_explicit(&sections[sec], (uintptr_t)pgmap,
					      memory_order_release);
			continue;
		}
		t = (e & TABLE_TAG) ? (struct subsection_table *)(e & ~TABLE_TAG)
			: fresh[nfresh++];
		span_in(sec, pfn, nr, &first, &last);
		for (unsigned int i = first; i <= last; i++)
			atomic_store_explicit(&t->map[i], pgmap,
					      memory_order_release);
		atomic_store_explicit(&sections[sec], (uintptr_t)t | TABLE_TAG,
				      memory_order_release);
	}
	maybe_huge_table();
	return 0;
}

static bool table_empty(struct subsection_table *t)
{
	for (unsigned int i = 0; i < SUBSECTIONS; i++)
		if (atomic_load(&t->map[i]))
			return false;
	return true;
}

void zd_registry_delete(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			unsigned long nr)
{
	unsigned long sec, nsec = (pfn + nr - 1) / zd_mm.pfns_per_section -
				  pfn / zd_mm.pfns_per_section + 1;
	/* tables left empty; without memory for the list they stay (empty
	 * tables are harmless and reused) */
	struct subsection_table **dead = calloc(nsec, sizeof(*dead));
	unsigned long ndead = 0;

	if (!sections) {
		free(dead);
		return;
	}
	for_each_section(sec, pfn, nr) {
		uintptr_t e = atomic_load(&sections[sec]);
		struct subsection_table *t;
		unsigned int first, last;

		if (e == (uintptr_t)pgmap) {
			atomic_store(&sections[sec], 0);
			continue;
		}
		if (!(e & TABLE_TAG))
			continue;
		t = (struct subsection_table *)(e & ~TABLE_TAG);
		span_in(sec, pfn, nr, &first, &last);
		for (unsigned int i = first; i <= last; i++)
			if (atomic_load(&t->map[i]) == pgmap)
				atomic_store(&t->map[i], NULL);
		if (dead && table_empty(t)) {
			atomic_store(&sections[sec], 0);
			dead[ndead++] = t;
		}
	}
	/* no reader may still be looking at what was removed */
	zd_synchronize_rcu();
	for (unsigned long i = 0; i < ndead; i++)
		free(dead[i]);
	free(dead);
}

void zd_pgmap_list_add(struct zd_dev_pagemap *pgmap)
{
	zd_list_add_tail(&pgmap->node, &pgmaps);
}

void zd_pgmap_list_del(struct zd_dev_pagemap *pgmap)
{
	zd_list_del_init(&pgmap->node);
}

int zd_pgmap_for_each(int (*fn)(struct zd_dev_pagemap *, void *), void *arg)
{
	struct zd_list_head *pos;
	int ret = 0;

	if (!fn) {
		zd_warn("NULL callback");
		return -EINVAL;
	}
	zd_registry_lock();
	zd_list_for_each(pos, &pgmaps) {
		ret = fn(zd_list_entry(pos, struct zd_dev_pagemap, node), arg);
		if (ret)
			break;
	}
	zd_registry_unlock();
	return ret;
}
