// SPDX-License-Identifier: MIT
/*
 * pfn -> pgmap, lock-free for readers.  One word per 128 MiB section:
 *   0             nothing mapped in the section;
 *   a run         one pgmap holds subsections first..last of the section:
 *                 the pgmap's address, with first and last in the top bits;
 *   table | TABLE several pgmaps (or several ranges of one) share the
 *                 section: a table of 64 words, one per 2 MiB subsection,
 *                 each a run spanning the whole subsection (ranges are
 *                 subsection-aligned, so that is exact).
 * A lookup reads one word (two in a shared section) and never the pgmap
 * itself, which with thousands of pgmaps is a cache miss saved.  PENDING
 * hides a range that is entered, so that it conflicts, but not yet set up.
 * Writers hold registry_lock; what they drop is freed once no reader can
 * see it (readers_gone()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../os/os.h"
#include "fault.h"
#include "list.h"
#include "log.h"
#include "model.h"
#include "pcpu.h"
#include "rcu.h"
#include "registry.h"

#define SUBSECTIONS	(1u << (ZD_SECTION_SHIFT - ZD_SUBSECTION_SHIFT))
#define SUB_MASK	((uintptr_t)SUBSECTIONS - 1)
#define TABLE_TAG	((uintptr_t)1)
#define PENDING		((uintptr_t)2)
#define FIRST_SHIFT	48
#define LAST_SHIFT	54
/* the pgmap address: 8-byte aligned, below 2^48 */
#define PTR_MASK	((((uintptr_t)1 << FIRST_SHIFT) - 1) & ~(uintptr_t)7)

_Static_assert(SUBSECTIONS == 64 && sizeof(uintptr_t) == 8,
	       "a run word holds two 6-bit subsection numbers");

struct subsection_table {
	_Atomic uintptr_t map[SUBSECTIONS];
};

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Published (release) once nr_sections is set; replaced once, by a copy
 * on huge pages (see to_huge_pages()). */
static _Atomic uintptr_t *_Atomic sections;
static unsigned long nr_sections;
/* pfn to section and subsection number: set before sections is published,
 * and local (zd_page_shift is reached through the GOT) */
static unsigned int sec_shift, sub_shift;
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

static uintptr_t make_run(struct zd_dev_pagemap *pgmap, uintptr_t first,
			  uintptr_t last)
{
	return (uintptr_t)pgmap | first << FIRST_SHIFT | last << LAST_SHIFT |
	       PENDING;
}

static inline struct zd_dev_pagemap *run_pgmap(uintptr_t w)
{
	return (struct zd_dev_pagemap *)(w & PTR_MASK);
}

/* The pgmap of run @w if it holds subsection @sub, else NULL. */
static inline struct zd_dev_pagemap *run_holds(uintptr_t w, unsigned int sub)
{
	unsigned int first = (w >> FIRST_SHIFT) & SUB_MASK;

	return sub - first <= ((w >> LAST_SHIFT) & SUB_MASK) - first ?
		run_pgmap(w) : NULL;
}

static inline struct subsection_table *table_of(uintptr_t w)
{
	return (struct subsection_table *)(w & ~TABLE_TAG);
}

static inline unsigned int sub_of(unsigned long pfn)
{
	return (pfn >> sub_shift) & SUB_MASK;
}

/* The run word for @pfn in @table.  Acquire: a run without PENDING has
 * its memmap set up. */
static inline uintptr_t word_for(_Atomic uintptr_t *table, unsigned long pfn)
{
	uintptr_t w = atomic_load_explicit(&table[pfn >> sec_shift],
					   memory_order_acquire);

	if (w & TABLE_TAG)
		w = atomic_load_explicit(&table_of(w)->map[sub_of(pfn)],
					 memory_order_acquire);
	return w;
}

/* inline: so that LTO inlines it into zd__get_dev_pagemap_slow(), the
 * caller that counts, despite the second, cold one */
inline struct zd_dev_pagemap *zd_pgmap_lookup(unsigned long pfn)
{
	_Atomic uintptr_t *table = atomic_load_explicit(&sections,
							memory_order_acquire);
	uintptr_t w;

	if (unlikely(!table || pfn >> sec_shift >= nr_sections))
		return NULL;
	w = word_for(table, pfn);
	return unlikely(w & PENDING) ? NULL : run_holds(w, sub_of(pfn));
}

/* The pgmap entered at @pfn, set up or not; lock held. */
static struct zd_dev_pagemap *registered_at(unsigned long pfn)
{
	return run_holds(word_for(sections, pfn), sub_of(pfn));
}

/* Readers run in a per-thread section, or an RCU read section when the
 * thread has no counter area: wait for both kinds. */
static void readers_gone(void)
{
	zd_synchronize_rcu();
	zd_pcpu_synchronize();
}

/* Readers take the word with acquire. */
static void set_word(_Atomic uintptr_t *p, uintptr_t w)
{
	atomic_store_explicit(p, w, memory_order_release);
}

/* Allocated on first insert: one word per section of the physical space. */
static int sections_init(void)
{
	_Atomic uintptr_t *table;

	if (atomic_load(&sections))
		return 0;
	nr_sections = zd_mm.nr_pfns / zd_mm.pfns_per_section;
	sec_shift = ZD_SECTION_SHIFT - zd_page_shift;
	sub_shift = ZD_SUBSECTION_SHIFT - zd_page_shift;
	table = zd_os_reserve_rw(nr_sections * sizeof(*table));
	atomic_store_explicit(&sections, table, memory_order_release);
	return table ? 0 : -ENOMEM;
}

/*
 * With thousands of pgmaps, lookups land all over the section table and
 * each one misses the TLB: from HUGE_TABLE_AT ranges on, the table moves
 * to a copy on huge pages (madvise alone would not convert the pages
 * already touched).  Not before: a huge page is 2 MiB of RSS that a
 * process with a few pgmaps should not pay.  Lock held.
 */
#define HUGE_TABLE_AT	1024

static void to_huge_pages(void)
{
	size_t len = nr_sections * sizeof(*sections);
	_Atomic uintptr_t *old = sections, *table;

	table = zd_os_reserve_huge(len);
	if (!table)
		return;		/* lookups work as well, a little slower */
	for (unsigned long i = 0; i < nr_sections; i++) {
		uintptr_t w = atomic_load(&old[i]);

		if (w)
			set_word(&table[i], w);
	}
	atomic_store_explicit(&sections, table, memory_order_release);
	readers_gone();
	zd_os_unmap(old, len);
	zd_info("pgmap lookup table moved to huge pages at %d ranges",
		HUGE_TABLE_AT);
}

static void count_insert(void)
{
	static unsigned long inserted;

	if (++inserted == HUGE_TABLE_AT)
		to_huge_pages();
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

/* A table holding what run word @w said (PENDING included). */
static struct subsection_table *table_from(uintptr_t w)
{
	struct subsection_table *t = zd_zalloc("memremap.table", sizeof(*t));

	for (unsigned int i = 0; t && i < SUBSECTIONS; i++)
		if (run_holds(w, i))
			set_word(&t->map[i], (make_run(run_pgmap(w), 0,
				 SUB_MASK) & ~PENDING) | (w & PENDING));
	return t;
}

int zd_registry_insert(struct zd_dev_pagemap *pgmap, unsigned long pfn,
		       unsigned long nr)
{
	/* only a range's first and last sections can already hold a run
	 * (the sections between are all its own): at most two new tables */
	struct subsection_table *fresh[2] = { NULL, NULL };
	int nfresh = 0;
	unsigned long sec;

	if ((uintptr_t)pgmap & ~PTR_MASK) {
		zd_warn("pgmap %p: the lookup table keeps pgmap addresses "
			"below 2^48, 8-byte aligned", (void *)pgmap);
		return -EINVAL;
	}
	if (sections_init() || zd_fault("memremap.registry"))
		return -ENOMEM;
	/* allocate every table first: after that nothing can fail */
	for_each_section(sec, pfn, nr) {
		uintptr_t w = atomic_load(&sections[sec]);

		if (!w || (w & TABLE_TAG))
			continue;
		if (nfresh == 2 || !(fresh[nfresh] = table_from(w))) {
			free(fresh[0]);
			free(fresh[1]);
			return -ENOMEM;
		}
		nfresh++;
	}
	nfresh = 0;
	for_each_section(sec, pfn, nr) {
		uintptr_t w = atomic_load(&sections[sec]);
		unsigned int first, last;
		struct subsection_table *t;

		span_in(sec, pfn, nr, &first, &last);
		if (!w) {
			set_word(&sections[sec], make_run(pgmap, first, last));
			continue;
		}
		t = (w & TABLE_TAG) ? table_of(w) : fresh[nfresh++];
		for (unsigned int i = first; i <= last; i++)
			set_word(&t->map[i], make_run(pgmap, 0, SUB_MASK));
		set_word(&sections[sec], (uintptr_t)t | TABLE_TAG);
	}
	count_insert();
	return 0;
}

static bool table_empty(struct subsection_table *t)
{
	for (unsigned int i = 0; i < SUBSECTIONS; i++)
		if (atomic_load(&t->map[i]))
			return false;
	return true;
}

/* @p holds a run (or nothing), never a table pointer. */
static void rewrite(_Atomic uintptr_t *p, struct zd_dev_pagemap *pgmap,
		    bool remove)
{
	uintptr_t w = atomic_load(p);

	if (run_pgmap(w) == pgmap)
		set_word(p, remove ? 0 : w & ~PENDING);
}

/*
 * Clear PENDING from (publish) or, with @remove, remove @pgmap's words
 * over [pfn, pfn + nr).  Tables a removal empties go to @dead, unless it
 * is NULL (no memory for it): empty tables are harmless and reused.
 */
static unsigned long rewrite_range(struct zd_dev_pagemap *pgmap,
				   unsigned long pfn, unsigned long nr,
				   bool remove, struct subsection_table **dead)
{
	unsigned long sec, ndead = 0;

	for_each_section(sec, pfn, nr) {
		uintptr_t w = atomic_load(&sections[sec]);
		unsigned int first, last;

		if (!(w & TABLE_TAG)) {
			rewrite(&sections[sec], pgmap, remove);
			continue;
		}
		span_in(sec, pfn, nr, &first, &last);
		for (unsigned int i = first; i <= last; i++)
			rewrite(&table_of(w)->map[i], pgmap, remove);
		if (dead && table_empty(table_of(w))) {
			atomic_store(&sections[sec], 0);
			dead[ndead++] = table_of(w);
		}
	}
	return ndead;
}

void zd_registry_publish(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			 unsigned long nr)
{
	rewrite_range(pgmap, pfn, nr, false, NULL);
}

void zd_registry_delete(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			unsigned long nr)
{
	unsigned long nsec = (pfn + nr - 1) / zd_mm.pfns_per_section -
			     pfn / zd_mm.pfns_per_section + 1, ndead;
	struct subsection_table **dead = calloc(nsec, sizeof(*dead));

	if (!sections) {
		free(dead);
		return;
	}
	ndead = rewrite_range(pgmap, pfn, nr, true, dead);
	/* no reader may still be looking at what was removed */
	readers_gone();
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

	if (ZD_WARN_ON(!fn, "NULL callback"))
		return -EINVAL;
	zd_registry_lock();
	zd_list_for_each(pos, &pgmaps) {
		ret = fn(zd_list_entry(pos, struct zd_dev_pagemap, node), arg);
		if (ret)
			break;
	}
	zd_registry_unlock();
	return ret;
}
