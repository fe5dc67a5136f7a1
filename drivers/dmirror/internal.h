/* SPDX-License-Identifier: MIT */
/* dmirror's insides, shared by its files: the device and its memory
 * (memory.c), the mirror (mirror.c), migration (migrate.c), device access
 * (access.c), snapshots (snapshot.c), commands and unplug (dmirror.c). */
#ifndef DMIRROR_INTERNAL_H
#define DMIRROR_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "dmirror.h"

/*
 * Device memory written by one thread (a command) is read by another
 * after a CPU page fault (dm_migrate_to_ram on the fault thread): the kernel
 * orders the two, which ThreadSanitizer cannot see.  Say so to it.
 */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define dev_wrote(p)	__tsan_release(p)
#define dev_read(p)	__tsan_acquire(p)
#else
#define dev_wrote(p)	((void)(p))
#define dev_read(p)	((void)(p))
#endif

#define BATCH		512ul		/* pages per migrate_vma call */
#define MAX_PREFETCH	512ul
#define RANGE_PAGES	64ul		/* pages per hmm_range_fault call */
#define PT_PAGES	512ul		/* mirror entries per table block */
#define ERASE_LOG	64ul		/* mirror erasures remembered */

struct mirror;

struct dmirror_chunk {
	struct dmirror *dm;
	char *mem;			/* the device memory */
	int fd;				/* coherent: the memfd behind it */
	unsigned long first_pfn, npages;
	struct dmirror_chunk *next;
	struct zd_dev_pagemap pgmap;	/* last */
};

struct dmirror {
	struct zd_device dev;
	pthread_mutex_t lock;		/* free list, chunks, bound, inflight,
					 * mirrors and their tables */
	pthread_cond_t idle;		/* no command in flight, or a page freed */
	/* A command's migration batch (write) against a device access's
	 * round of fill and copy (read): a copy outside dm->lock that a
	 * migration overtakes is redone, and without this a migration in a
	 * loop could overtake every one. */
	pthread_rwlock_t mig_lock;
	bool bound;			/* commands are accepted */
	bool coherent;			/* DEVICE_COHERENT memory: the CPU
					 * maps it (dmirror_create_coherent) */
	unsigned int inflight;		/* commands running */
	/* A stack linked by zone_device_data: the warmest memory first.
	 * Pages leave it in the reverse of the order they were freed in,
	 * so to_device() fills a batch from its last page down and the
	 * batch's device pages ascend with its addresses: its trip home
	 * is then one copy. */
	struct zd_page *free_pages;
	/* With a folio order (dmirror_set_folio_order()): free folios of
	 * that order, a stack of heads linked the same way; a page alloc
	 * breaks one up when free_pages is empty, and a folio split into
	 * pages comes back page by page. */
	struct zd_page *free_folios;
	unsigned int folio_order;
	atomic_ulong folio_splits;	/* folio_split calls: new folios */
	struct dmirror_chunk *chunks;
	struct mirror *mirrors;		/* one per mm the device has used */
	unsigned long chunk_bytes, nr_chunks, in_use;
	unsigned long invalidations;	/* mirror invalidations (stats) */
	atomic_ulong prefetch, page_frees, faults;
	atomic_bool fail_faults;
};

#define PAGE		((size_t)zd_page_size())
#define chunk_of(pg)	((struct dmirror_chunk *)((char *)(pg) - \
			 offsetof(struct dmirror_chunk, pgmap)))

static inline char *page_mem(struct zd_page *page)
{
	struct dmirror_chunk *c = chunk_of(page->pgmap);

	return c->mem + (zd_page_to_pfn(page) - c->first_pfn) * PAGE;
}

/* A device page's bytes, this device's or another's: a coherent page
 * through the direct map, so that any coherent memory can be mirrored. */
static inline char *dev_mem(struct zd_page *page)
{
	return zd_is_device_coherent_page(page) ? zd_page_address(page) :
	       page_mem(page);
}

static inline struct dmirror *page_dm(struct zd_page *page)
{
	return chunk_of(page->pgmap)->dm;
}


/* ---- the mirror ---------------------------------------------------------- */

/*
 * The device's page table maps a page number (address / page size) to an
 * entry: a host page's address or a device page, with E_VALID and, if
 * the device may write it, E_WRITE.  Like the kernel's, it holds no
 * references: every change that could make an entry stale erases it
 * first, under dm->lock (the interval notifier for the application's
 * changes and other owners' migrations, this driver's own migrations for
 * the rest), so an entry found under dm->lock names a live page.
 */
#define E_VALID		1ul
#define E_WRITE		2ul
#define E_DEV		4ul
#define E_FLAGS		7ul

struct pt_block {
	struct pt_block *next;		/* in its hash bucket */
	unsigned long base;		/* page number / PT_PAGES */
	unsigned long used;		/* entries set */
	unsigned long e[PT_PAGES];
};

struct mirror {
	struct zd_mmu_interval_notifier notifier;	/* the whole mm */
	struct dmirror *dm;
	struct zd_mm *mm;
	struct mirror *next;		/* in dm->mirrors */
	unsigned int users;		/* commands using it */
	bool dead;			/* its mm was destroyed */
	struct pt_block **bucket;
	unsigned long nbuckets, nblocks, entries;
	/* The last ERASE_LOG erasures: a copy made outside dm->lock checks
	 * by them whether the entries it used were erased meanwhile. */
	unsigned long erases;
	struct { unsigned long start, end; } log[ERASE_LOG];
};

#define mirror_of(sub)	((struct mirror *)((char *)(sub) - \
			 offsetof(struct mirror, notifier)))

/* memory.c */
struct zd_page *dm_page_alloc(struct dmirror *dm);
/* A free folio of dm->folio_order, handed out; NULL if none. */
struct zd_page *dm_folio_alloc(struct dmirror *dm);

/* mirror.c */
struct mirror *dm_mirror_find(struct dmirror *dm, struct zd_mm *mm);
void dm_pt_erase(struct mirror *m, unsigned long start, unsigned long end);
void dm_erase_log(struct mirror *m, unsigned long start, unsigned long end);
bool dm_erased_since(struct mirror *m, unsigned long since,
		     unsigned long start, unsigned long end);
int dm_pt_set(struct mirror *m, unsigned long pn, unsigned long e);
struct mirror *dm_mirror_get(struct dmirror *dm, struct zd_mm *mm, int *err);
void dm_mirror_put(struct mirror *m);
unsigned long dm_pt_get(struct mirror *m, unsigned long pn);
int dm_mirror_fill(struct mirror *m, unsigned long start, unsigned long end,
		   unsigned long flags);
void dm_mirror_erase(struct mirror *m, unsigned long start, unsigned long end);
long dm_ms_since(const struct timespec *t0);
int dm_range_read(struct dmirror *dm, struct zd_mm *mm, unsigned long start,
		  unsigned long end, unsigned long flags, unsigned long *pfns,
		  int (*done)(void *arg, const unsigned long *pfns), void *arg);
void dm_mirror_free_list(struct mirror *m);

/* migrate.c */
int dm_migrate_to_ram(struct zd_vm_fault *vmf);

/* dmirror.c: a command starts and ends */
bool dm_cmd_bad(struct dmirror *dm, struct dmirror_cmd *cmd);
int dm_cmd_enter(struct dmirror *dm);
int dm_cmd_exit(struct dmirror *dm, int err);
struct mirror *dm_cmd_enter_mirror(struct dmirror *dm,
				   struct dmirror_cmd *cmd, int *err);
int dm_cmd_exit_mirror(struct mirror *m, int err);
bool dm_cmd_range_bad(struct dmirror *dm, struct dmirror_cmd *cmd);

#endif /* DMIRROR_INTERNAL_H */
