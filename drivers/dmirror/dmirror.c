// SPDX-License-Identifier: MIT
/* dmirror: see dmirror.h. */
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
 * after a CPU page fault (migrate_to_ram on the fault thread): the kernel
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
	unsigned int inflight;		/* commands running */
	/* A stack linked by zone_device_data: the warmest memory first.
	 * Pages leave it in the reverse of the order they were freed in,
	 * so to_device() fills a batch from its last page down and the
	 * batch's device pages ascend with its addresses: its trip home
	 * is then one copy. */
	struct zd_page *free_pages;
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

static char *page_mem(struct zd_page *page)
{
	struct dmirror_chunk *c = chunk_of(page->pgmap);

	return c->mem + (zd_page_to_pfn(page) - c->first_pfn) * PAGE;
}

static struct dmirror *page_dm(struct zd_page *page)
{
	return chunk_of(page->pgmap)->dm;
}

/* ---- device memory ------------------------------------------------------ */

/* dm->lock held */
static void free_push(struct dmirror *dm, struct zd_page *page)
{
	page->zone_device_data = dm->free_pages;
	dm->free_pages = page;
}

/* Unbound, the free list is gone with the chunks: a page freed during
 * the unbind (by a fault that held it) is only counted. */
static void page_free(struct zd_page *page)
{
	struct dmirror *dm = page_dm(page);

	pthread_mutex_lock(&dm->lock);
	if (dm->bound)
		free_push(dm, page);
	dm->in_use--;
	pthread_cond_broadcast(&dm->idle);
	pthread_mutex_unlock(&dm->lock);
	atomic_fetch_add(&dm->page_frees, 1);
}

static int migrate_to_ram(struct zd_vm_fault *vmf);

static const struct zd_dev_pagemap_ops dmirror_ops = {
	.page_free = page_free,
	.migrate_to_ram = migrate_to_ram,
};

static void chunk_release(void *arg)
{
	struct dmirror_chunk *c = arg;

	zd_hmm_unregister_staging(c->mem, c->dm->chunk_bytes);
	munmap(c->mem, c->dm->chunk_bytes);
	free(c);
}

/* A new chunk of free pages; dm->lock held. */
static int chunk_add(struct dmirror *dm)
{
	struct dmirror_chunk *c = calloc(1, sizeof(*c));
	struct zd_resource *res;
	int err = -ENOMEM;

	if (!c)
		goto out;
	/* device memory: committed as it is used */
	c->mem = mmap(NULL, dm->chunk_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		goto out;
	}
	/* host pages move in and out without a copy; not the child's after
	 * fork() (shared pages could not move) */
	madvise(c->mem, dm->chunk_bytes, MADV_DONTFORK);
	err = zd_hmm_register_staging(c->mem, dm->chunk_bytes);
	if (err)
		goto out;
	res = zd_devm_request_free_mem_region(&dm->dev, zd_iomem_root(), dm->chunk_bytes);
	if (!res) {
		err = -errno;
		zd_hmm_unregister_staging(c->mem, dm->chunk_bytes);
		goto out;
	}
	c->dm = dm;
	c->pgmap.type = ZD_MEMORY_DEVICE_PRIVATE;
	c->pgmap.nr_range = 1;
	c->pgmap.range.start = res->start;
	c->pgmap.range.end = res->start + dm->chunk_bytes - 1;
	c->pgmap.ops = &dmirror_ops;
	c->pgmap.owner = dm;
	c->first_pfn = (unsigned long)(res->start / PAGE);
	c->npages = dm->chunk_bytes / PAGE;
	/* released after the pgmap (devres runs newest first) */
	err = zd_devm_add_action(&dm->dev, chunk_release, c);
	if (err) {
		zd_hmm_unregister_staging(c->mem, dm->chunk_bytes);
		goto out;
	}
	if (!zd_devm_memremap_pages(&dm->dev, &c->pgmap)) {
		err = -errno;
		zd_devm_release_action(&dm->dev, chunk_release, c);
		return err;
	}
	for (unsigned long i = 0; i < c->npages; i++)
		free_push(dm, zd_pfn_to_page(c->first_pfn + i));
	c->next = dm->chunks;
	dm->chunks = c;
	dm->nr_chunks++;
	return 0;
out:
	if (c && c->mem)
		munmap(c->mem, dm->chunk_bytes);
	free(c);
	return err;
}

static struct zd_page *page_alloc(struct dmirror *dm)
{
	struct zd_page *p;

	pthread_mutex_lock(&dm->lock);
	if (!dm->free_pages && chunk_add(dm)) {
		pthread_mutex_unlock(&dm->lock);
		return NULL;
	}
	p = dm->free_pages;
	dm->free_pages = p->zone_device_data;
	dm->in_use++;
	pthread_mutex_unlock(&dm->lock);
	p->zone_device_data = NULL;
	if (zd_zone_device_page_init(p)) {	/* cannot happen while bound */
		pthread_mutex_lock(&dm->lock);
		free_push(dm, p);
		dm->in_use--;
		pthread_mutex_unlock(&dm->lock);
		return NULL;
	}
	return p;
}

/* ---- the mirror: the device's page table of one mm ---------------------- */

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

static struct pt_block **pt_slot(struct mirror *m, unsigned long base)
{
	struct pt_block **b = &m->bucket[base & (m->nbuckets - 1)];

	while (*b && (*b)->base != base)
		b = &(*b)->next;
	return b;
}

/* Twice the buckets once there are more blocks than buckets. */
static int pt_grow(struct mirror *m)
{
	unsigned long n = m->nbuckets ? 2 * m->nbuckets : 16;
	struct pt_block **old = m->bucket, **nb = calloc(n, sizeof(*nb));
	unsigned long was = m->nbuckets;

	if (!nb)
		return -ENOMEM;
	m->bucket = nb;
	m->nbuckets = n;
	for (unsigned long i = 0; i < was; i++)
		while (old[i]) {
			struct pt_block *b = old[i], **slot;

			old[i] = b->next;
			b->next = NULL;
			slot = pt_slot(m, b->base);
			*slot = b;
		}
	free(old);
	return 0;
}

/* dm->lock held */
static unsigned long pt_get(struct mirror *m, unsigned long pn)
{
	struct pt_block *b = m->nbuckets ? *pt_slot(m, pn / PT_PAGES) : NULL;

	return b ? b->e[pn % PT_PAGES] : 0;
}

/* dm->lock held */
static int pt_set(struct mirror *m, unsigned long pn, unsigned long e)
{
	struct pt_block **slot;

	if (m->nblocks >= m->nbuckets && pt_grow(m))
		return -ENOMEM;
	slot = pt_slot(m, pn / PT_PAGES);
	if (!*slot) {
		*slot = calloc(1, sizeof(**slot));
		if (!*slot)
			return -ENOMEM;
		(*slot)->base = pn / PT_PAGES;
		m->nblocks++;
	}
	if (!(*slot)->e[pn % PT_PAGES]) {
		(*slot)->used++;
		m->entries++;
	}
	(*slot)->e[pn % PT_PAGES] = e;
	return 0;
}

/* Clear the entries of [first, last] in *@slot's block; free it if empty. */
static void pt_clear_block(struct mirror *m, struct pt_block **slot,
			   unsigned long first, unsigned long last)
{
	struct pt_block *b = *slot;
	unsigned long lo = b->base * PT_PAGES, hi = lo + PT_PAGES - 1;

	for (unsigned long pn = first > lo ? first : lo; pn <= (last < hi ? last : hi); pn++)
		if (b->e[pn % PT_PAGES]) {
			b->e[pn % PT_PAGES] = 0;
			b->used--;
			m->entries--;
		}
	if (!b->used) {
		*slot = b->next;
		free(b);
		m->nblocks--;
	}
}

/* Note that [start, end) was erased; dm->lock held. */
static void erase_log(struct mirror *m, unsigned long start, unsigned long end)
{
	m->log[m->erases % ERASE_LOG].start = start;
	m->log[m->erases % ERASE_LOG].end = end;
	m->erases++;
}

/* Erase the entries of [start, end); dm->lock held. */
static void pt_erase(struct mirror *m, unsigned long start, unsigned long end)
{
	unsigned long first = start / PAGE, last = (end - 1) / PAGE;

	if (!m->nblocks || end <= start)
		return;
	if (last / PT_PAGES - first / PT_PAGES < m->nblocks) {
		for (unsigned long base = first / PT_PAGES; base <= last / PT_PAGES; base++) {
			struct pt_block **slot = pt_slot(m, base);

			if (*slot)
				pt_clear_block(m, slot, first, last);
		}
		return;
	}
	for (unsigned long i = 0; i < m->nbuckets; i++)	/* a huge range */
		for (struct pt_block **slot = &m->bucket[i]; *slot;) {
			struct pt_block *b = *slot;

			pt_clear_block(m, slot, first, last);
			if (*slot == b)
				slot = &b->next;
		}
}

static void mirror_erase(struct mirror *m, unsigned long start, unsigned long end)
{
	erase_log(m, start, end);
	pt_erase(m, start, end);
}

/* Whether [start, end) was erased since m->erases was @since. */
static bool erased_since(struct mirror *m, unsigned long since,
			 unsigned long start, unsigned long end)
{
	if (m->erases - since > ERASE_LOG)
		return true;
	for (unsigned long q = since; q != m->erases; q++)
		if (m->log[q % ERASE_LOG].start < end && start < m->log[q % ERASE_LOG].end)
			return true;
	return false;
}

/*
 * The application changed the range, or another owner migrates it, or
 * the mm goes: the entries go before the change takes effect.  Our own
 * migrations are left to the migration code, which knows which entries
 * move (as the kernel's dmirror does).
 */
static bool mirror_invalidate(struct zd_mmu_interval_notifier *sub,
			      const struct zd_mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct mirror *m = mirror_of(sub);
	struct dmirror *dm = m->dm;

	if (range->event == ZD_MMU_NOTIFY_MIGRATE && range->owner == dm)
		return true;
	pthread_mutex_lock(&dm->lock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	mirror_erase(m, range->start, range->end);
	dm->invalidations++;
	if (range->event == ZD_MMU_NOTIFY_RELEASE && !range->start && range->end == ULONG_MAX)
		m->dead = true;		/* zd_mm_destroy(): the notifier is gone too */
	pthread_mutex_unlock(&dm->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops mirror_ops = {
	.invalidate = mirror_invalidate,
};

static void mirror_free(struct mirror *m)
{
	zd_mmu_interval_notifier_remove(&m->notifier);
	for (unsigned long i = 0; i < m->nbuckets; i++)
		while (m->bucket[i]) {
			struct pt_block *b = m->bucket[i];

			m->bucket[i] = b->next;
			free(b);
		}
	free(m->bucket);
	free(m);
}

/* The live mirror of @mm; dm->lock held. */
static struct mirror *mirror_find(struct dmirror *dm, struct zd_mm *mm)
{
	for (struct mirror *m = dm->mirrors; m; m = m->next)
		if (m->mm == mm && !m->dead)
			return m;
	return NULL;
}

/* Unlink the mirrors of destroyed mms nobody uses; dm->lock held. */
static struct mirror *mirror_reap(struct dmirror *dm)
{
	struct mirror *gone = NULL;

	for (struct mirror **p = &dm->mirrors; *p;) {
		struct mirror *m = *p;

		if (m->dead && !m->users) {
			*p = m->next;
			m->next = gone;
			gone = m;
		} else {
			p = &m->next;
		}
	}
	return gone;
}

static void mirror_free_list(struct mirror *m)
{
	while (m) {
		struct mirror *next = m->next;

		mirror_free(m);
		m = next;
	}
}

/*
 * The mirror of @mm, made (and its notifier inserted) on first use; the
 * caller is a command, so an unbind does not free it meanwhile.  NULL
 * with -errno in *@err.
 */
static struct mirror *mirror_get(struct dmirror *dm, struct zd_mm *mm, int *err)
{
	struct mirror *m, *fresh, *gone;

	pthread_mutex_lock(&dm->lock);
	gone = mirror_reap(dm);
	m = mirror_find(dm, mm);
	if (m)
		m->users++;
	pthread_mutex_unlock(&dm->lock);
	mirror_free_list(gone);
	if (m)
		return m;
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		*err = -ENOMEM;
		return NULL;
	}
	fresh->dm = dm;
	fresh->mm = mm;
	*err = zd_mmu_interval_notifier_insert(&fresh->notifier, mm, 0,
					       ULONG_MAX & ~(PAGE - 1), &mirror_ops);
	if (*err) {
		free(fresh);
		return NULL;
	}
	pthread_mutex_lock(&dm->lock);
	m = mirror_find(dm, mm);	/* another command's, made meanwhile */
	if (!m) {
		m = fresh;
		m->next = dm->mirrors;
		dm->mirrors = m;
		fresh = NULL;
	}
	m->users++;
	pthread_mutex_unlock(&dm->lock);
	if (fresh)
		mirror_free(fresh);
	return m;
}

static void mirror_put(struct mirror *m)
{
	pthread_mutex_lock(&m->dm->lock);
	m->users--;
	pthread_mutex_unlock(&m->dm->lock);
}

/*
 * A notifier on one range for one zd_hmm_range_fault() loop (the kernel's
 * snapshot does the same): its sequence moves only for changes of that
 * range, our own migrations included, so a read is retried for what it
 * read, not for every change anywhere in the mm.
 */
struct range_sub {
	struct zd_mmu_interval_notifier sub;
	struct dmirror *dm;
};

static bool range_invalidate(struct zd_mmu_interval_notifier *sub,
			     const struct zd_mmu_notifier_range *range,
			     unsigned long cur_seq)
{
	struct dmirror *dm = ((struct range_sub *)sub)->dm;

	(void)range;
	pthread_mutex_lock(&dm->lock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	pthread_mutex_unlock(&dm->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops range_ops = {
	.invalidate = range_invalidate,
};

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * The kernel's retry loop: read [start, end) (at most RANGE_PAGES) with
 * @flags until no change collided, then call @done under dm->lock with
 * the entries.  -EBUSY after ZD_HMM_RANGE_DEFAULT_TIMEOUT ms of
 * collisions; zd_hmm_range_fault()'s errors.
 */
static int range_read(struct dmirror *dm, struct zd_mm *mm, unsigned long start,
		      unsigned long end, unsigned long flags, unsigned long *pfns,
		      int (*done)(void *arg, const unsigned long *pfns), void *arg)
{
	struct range_sub rs = { .dm = dm };
	struct zd_hmm_range range = {
		.notifier = &rs.sub, .start = start, .end = end,
		.hmm_pfns = pfns, .default_flags = flags, .dev_private_owner = dm,
	};
	struct timespec t0;
	int err;

	err = zd_mmu_interval_notifier_insert(&rs.sub, mm, start, end - start, &range_ops);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (ms_since(&t0) > ZD_HMM_RANGE_DEFAULT_TIMEOUT) {
			err = -EBUSY;
			break;
		}
		range.notifier_seq = zd_mmu_interval_read_begin(&rs.sub);
		err = zd_hmm_range_fault(&range);
		if (err == -EBUSY)
			continue;
		if (err)
			break;
		pthread_mutex_lock(&dm->lock);
		if (zd_mmu_interval_read_retry(&rs.sub, range.notifier_seq)) {
			pthread_mutex_unlock(&dm->lock);
			continue;
		}
		err = done(arg, pfns);
		pthread_mutex_unlock(&dm->lock);
		break;
	}
	zd_mmu_interval_notifier_remove(&rs.sub);
	return err;
}

struct fill {
	struct mirror *m;
	unsigned long start, npages;
};

/* The entry for one range_fault result, 0 for none; dm->lock held. */
static unsigned long mirror_entry(struct dmirror *dm, unsigned long pfn)
{
	struct zd_page *p;
	unsigned long e;

	if (!(pfn & ZD_HMM_PFN_VALID))
		return 0;
	p = zd_hmm_pfn_to_page(pfn);
	if (p && p->pgmap->owner != dm)
		return 0;	/* another device's: never reported valid */
	e = p ? (unsigned long)p | E_DEV : (unsigned long)zd_hmm_pfn_to_virt(pfn);
	if (!(e & ~E_FLAGS))
		return 0;
	return e | E_VALID | (pfn & ZD_HMM_PFN_WRITE ? E_WRITE : 0);
}

/* Install what was read; dm->lock held, no change collided. */
static int fill_done(void *arg, const unsigned long *pfns)
{
	struct fill *f = arg;

	for (unsigned long i = 0; i < f->npages; i++) {
		unsigned long e = mirror_entry(f->m->dm, pfns[i]);
		int err = e ? pt_set(f->m, f->start / PAGE + i, e) : 0;

		if (err)
			return err;
	}
	return 0;
}

/*
 * Fill the mirror for [start, end) as the kernel's dmirror_fault() does:
 * with ZD_HMM_PFN_REQ_FAULT (and _WRITE) in @flags the pages are faulted
 * in and all entries installed; with 0 only those present are.
 */
static int mirror_fill(struct mirror *m, unsigned long start, unsigned long end,
		       unsigned long flags)
{
	unsigned long pfns[RANGE_PAGES];

	for (unsigned long a = start; a < end;) {
		unsigned long left = (end - a) / PAGE;
		unsigned long n = left < RANGE_PAGES ? left : RANGE_PAGES;
		struct fill f = { m, a, n };
		int err = range_read(m->dm, m->mm, a, a + n * PAGE, flags, pfns,
				     fill_done, &f);

		if (err)
			return err;
		a += n * PAGE;
	}
	return 0;
}

/* ---- migration ---------------------------------------------------------- */

struct batch {
	unsigned long src[BATCH], dst[BATCH];
	struct zd_migrate_vma m;
};

static void batch_init(struct batch *b, struct zd_mm *mm, unsigned long start,
		       unsigned long n, struct dmirror *dm, unsigned long flags)
{
	b->m = (struct zd_migrate_vma){
		.mm = mm, .src = b->src, .dst = b->dst, .npages = n,
		.start = start, .end = start + n * PAGE, .pgmap_owner = dm,
		.flags = flags,
	};
}

/*
 * Our own migration moves the batch's collected pages: their mirror
 * entries go now (the notifier leaves our migrations to us), before a
 * device page can be freed or a host page stops being the data.
 * Returns the mm's mirror (NULL if none) and in *@since its erase count.
 */
static struct mirror *batch_unmirror(struct dmirror *dm, struct batch *b,
				     unsigned long *since)
{
	struct mirror *m;

	pthread_mutex_lock(&dm->lock);
	m = mirror_find(dm, b->m.mm);
	if (m) {
		for (unsigned long i = 0; i < b->m.npages; i++)
			if (b->src[i] & ZD_MIGRATE_PFN_MIGRATE)
				pt_erase(m, b->m.start + i * PAGE, b->m.start + (i + 1) * PAGE);
		erase_log(m, b->m.start, b->m.end);
		*since = m->erases;
	}
	pthread_mutex_unlock(&dm->lock);
	return m;
}

/*
 * Pages moved to this device go into its mirror, as the kernel's
 * dmirror_migrate_finalize_and_map() does, before the finalize lets a
 * CPU fault take them home; not if anything erased the range meanwhile
 * (an munmap, a fault's trip home): the mirror fills on demand then.
 */
static void batch_mirror(struct dmirror *dm, struct batch *b, struct mirror *m,
			 unsigned long since)
{
	pthread_mutex_lock(&dm->lock);
	if (m && mirror_find(dm, b->m.mm) == m &&
	    !erased_since(m, since, b->m.start, b->m.end))
		for (unsigned long i = 0; i < b->m.npages; i++) {
			struct zd_page *p = zd_migrate_pfn_to_page(b->dst[i]);
			unsigned long e = (unsigned long)p | E_DEV | E_VALID;

			if (!p || !(b->src[i] & ZD_MIGRATE_PFN_MIGRATE))
				continue;
			if (b->dst[i] & ZD_MIGRATE_PFN_WRITE)
				e |= E_WRITE;
			if (pt_set(m, b->m.start / PAGE + i, e))
				break;	/* no memory: fills on demand */
		}
	pthread_mutex_unlock(&dm->lock);
}

/* Pages, mirror and finalize; returns how many moved. */
static unsigned long batch_finish(struct dmirror *dm, struct batch *b, bool to_dev,
				  struct mirror *m, unsigned long since)
{
	unsigned long moved = 0;

	zd_migrate_vma_pages(&b->m);
	if (to_dev)
		batch_mirror(dm, b, m, since);
	for (unsigned long i = 0; i < b->m.npages; i++)
		moved += !!(b->src[i] & ZD_MIGRATE_PFN_MIGRATE);
	zd_migrate_vma_finalize(&b->m);
	return moved;
}

/* Device pages (source) to host: the device memory itself is the
 * staging page, given away (moved into place) where the kernel can; a
 * device page's memory is written in full before it is used again. */
static void to_host(struct batch *b)
{
	for (unsigned long i = 0; i < b->m.npages; i++) {
		struct zd_page *spage = zd_migrate_pfn_to_page(b->src[i]);

		if (!spage || !(b->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		dev_read(page_mem(spage));
		b->dst[i] = zd_migrate_virt(page_mem(spage)) | ZD_MIGRATE_PFN_DONATE;
	}
}

static bool cmd_bad(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	if (!dm || !cmd || !cmd->mm || !cmd->npages || (cmd->addr & (PAGE - 1)))
		return true;
	cmd->cpages = cmd->faults = 0;
	return false;
}

/* A command starts: -ENODEV once unbound (the unbind waits for those
 * that started before). */
static int cmd_enter(struct dmirror *dm)
{
	int err = 0;

	pthread_mutex_lock(&dm->lock);
	if (dm->bound)
		dm->inflight++;
	else
		err = -ENODEV;
	pthread_mutex_unlock(&dm->lock);
	return err;
}

static int cmd_exit(struct dmirror *dm, int err)
{
	pthread_mutex_lock(&dm->lock);
	if (!--dm->inflight)
		pthread_cond_broadcast(&dm->idle);
	pthread_mutex_unlock(&dm->lock);
	return err;
}

/* cmd_enter() and the mirror of the command's mm; NULL with *@err set
 * (the command ended) if either fails. */
static struct mirror *cmd_enter_mirror(struct dmirror *dm,
				       struct dmirror_cmd *cmd, int *err)
{
	struct mirror *m;

	*err = cmd_enter(dm);
	if (*err)
		return NULL;
	m = mirror_get(dm, cmd->mm, err);
	if (!m)
		cmd_exit(dm, *err);
	return m;
}

static int cmd_exit_mirror(struct mirror *m, int err)
{
	struct dmirror *dm = m->dm;

	mirror_put(m);
	return cmd_exit(dm, err);
}

static struct zd_page *dst_page(const struct batch *b, unsigned long i)
{
	return zd_migrate_pfn_to_page(b->dst[i]);
}

/* Pages [i, j) are host pages whose device pages are adjacent in memory. */
static unsigned long host_run(const struct batch *b, unsigned long i)
{
	unsigned long j = i + 1;

	while (j < b->m.npages && zd_migrate_pfn_to_virt(b->src[j]) && dst_page(b, j) &&
	       page_mem(dst_page(b, j)) == page_mem(dst_page(b, i)) + (j - i) * PAGE)
		j++;
	return j;
}

/* Host (or never-touched) pages to device pages: allocated last page
 * first (see free_pages), then the host pages themselves are taken into
 * device memory a run at a time (copied where the kernel cannot move
 * them), and never-touched ones zeroed there. */
static void to_device(struct dmirror *dm, struct batch *b)
{
	for (unsigned long i = b->m.npages; i-- > 0;) {
		struct zd_page *dpage;

		if ((b->src[i] & ZD_MIGRATE_PFN_MIGRATE) && (dpage = page_alloc(dm)))
			b->dst[i] = zd_migrate_pfn(zd_page_to_pfn(dpage)) |
				    ZD_MIGRATE_PFN_WRITE;
	}
	for (unsigned long i = 0, j; i < b->m.npages; i = j) {
		char *mem = dst_page(b, i) ? page_mem(dst_page(b, i)) : NULL;
		const char *src = zd_migrate_pfn_to_virt(b->src[i]);

		j = src && mem ? host_run(b, i) : i + 1;
		if (!mem)
			continue;
		if (!src)
			memset(mem, 0, PAGE);
		else if (zd_migrate_vma_move(&b->m, i, j - i, mem))
			memcpy(mem, src, (j - i) * PAGE);	/* cannot happen */
		for (unsigned long k = i; k < j; k++)
			dev_wrote(page_mem(dst_page(b, k)));
	}
}

/*
 * Migrate [start, start + npages) in batches: to this device
 * (SELECT_SYSTEM) or from it to host memory (SELECT_DEVICE_PRIVATE).
 * Counts the pages moved in *@moved.
 */
static int migrate_range(struct dmirror *dm, struct zd_mm *mm,
			 unsigned long start, unsigned long npages,
			 unsigned long flags, struct zd_page *fault_page,
			 unsigned long *moved)
{
	bool to_dev = flags & ZD_MIGRATE_VMA_SELECT_SYSTEM;
	unsigned long per = npages < BATCH ? npages : BATCH;
	struct batch *b = malloc(sizeof(*b));
	int err = b ? 0 : -ENOMEM;

	for (unsigned long done = 0; done < npages && !err; done += per) {
		unsigned long n = npages - done < per ? npages - done : per, since = 0;
		struct mirror *m;

		batch_init(b, mm, start + done * PAGE, n, dm, flags);
		b->m.fault_page = fault_page;
		if (!fault_page)	/* a command (a fault waits for nothing) */
			pthread_rwlock_wrlock(&dm->mig_lock);
		err = zd_migrate_vma_setup(&b->m);
		if (err) {
			if (!fault_page)
				pthread_rwlock_unlock(&dm->mig_lock);
			break;
		}
		m = batch_unmirror(dm, b, &since);
		if (to_dev)
			to_device(dm, b);
		else
			to_host(b);
		*moved += batch_finish(dm, b, to_dev, m, since);
		if (!fault_page)
			pthread_rwlock_unlock(&dm->mig_lock);
	}
	free(b);
	return err;
}

static int migrate_to_ram(struct zd_vm_fault *vmf)
{
	struct dmirror *dm = page_dm(vmf->page);
	unsigned long n = atomic_load(&dm->prefetch), moved = 0;

	atomic_fetch_add(&dm->faults, 1);
	if (atomic_load(&dm->fail_faults))
		return -EIO;
	return migrate_range(dm, vmf->mm, vmf->address & ~(n * PAGE - 1), n,
			     ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, vmf->page, &moved);
}

/* Whether the page at @addr is in this device's mirror now. */
static bool on_device(struct dmirror *dm, struct zd_mm *mm, unsigned long addr)
{
	struct zd_page *p;
	bool ours;

	if (zd_mm_lookup_get(mm, addr, &p) != ZD_MM_PAGE_DEVICE)
		return false;
	ours = p->pgmap->owner == dm;
	zd_put_page(p);
	return ours;
}

static int to_device_cmd(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	int err = migrate_range(dm, cmd->mm, cmd->addr, cmd->npages,
				ZD_MIGRATE_VMA_SELECT_SYSTEM, NULL, &cmd->cpages);

	if (err)
		return err;
	/* as the kernel's: every page must now be in this device's mirror */
	for (unsigned long i = 0; i < cmd->npages; i++)
		if (!on_device(dm, cmd->mm, cmd->addr + i * PAGE))
			return -ENOENT;
	return 0;
}

/* The mirror is made first, so that the pages moved go into it. */
int dmirror_migrate_to_device(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	struct mirror *m;
	int err;

	if (cmd_bad(dm, cmd))
		return -EINVAL;
	m = cmd_enter_mirror(dm, cmd, &err);
	if (!m)
		return err;
	return cmd_exit_mirror(m, to_device_cmd(dm, cmd));
}

int dmirror_migrate_to_system(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	int err;

	if (cmd_bad(dm, cmd))
		return -EINVAL;
	err = cmd_enter(dm);
	return err ? err : cmd_exit(dm, migrate_range(dm, cmd->mm, cmd->addr,
			cmd->npages, ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, NULL,
			&cmd->cpages));
}

/* ---- the device's view: through its mirror ------------------------------ */

/* One batch of a command: entries copied from the mirror, with a
 * reference on each device page (so that it is not freed meanwhile). */
struct view {
	unsigned long e[RANGE_PAGES];
	unsigned long n, since;
};

/*
 * Take up to RANGE_PAGES entries of [addr, addr + npages pages) from the
 * mirror, stopping at the first missing one (or read-only one, for
 * @write); a reference on each device page.  dm->lock held.
 */
static void view_take(struct mirror *m, unsigned long addr, unsigned long npages,
		      bool write, struct view *v)
{
	v->n = 0;
	v->since = m->erases;
	while (v->n < npages && v->n < RANGE_PAGES) {
		unsigned long e = pt_get(m, addr / PAGE + v->n);

		if (!e || (write && !(e & E_WRITE)))
			break;
		if (e & E_DEV)
			zd_get_page((struct zd_page *)(e & ~E_FLAGS));
		v->e[v->n++] = e;
	}
}

static void view_put(struct view *v)
{
	for (unsigned long i = 0; i < v->n; i++)
		if (v->e[i] & E_DEV)
			zd_put_page((struct zd_page *)(v->e[i] & ~E_FLAGS));
}

/*
 * Copy a page between the device and @buf.  A device page's memory
 * directly: held, it is not freed, but a migration that collected it
 * just before the reference was taken may still move its memory home
 * (the erasure check after the copy catches that).  A host page through
 * the CPU, outside dm->lock
 * (the copy may fault on the fault thread, whose invalidate() takes
 * dm->lock); an application's munmap may come first (here the kernel
 * would have blocked it until the copy ended): false then.
 */
static bool copy_page(unsigned long e, char *buf, bool write, struct zd_mm *mm)
{
	char *p = (char *)(e & ~E_FLAGS);

	if (e & E_DEV) {
		char *mem = page_mem((struct zd_page *)p);

		if (write) {
			memcpy(mem, buf, PAGE);
			dev_wrote(mem);
		} else {
			dev_read(mem);
			memcpy(buf, mem, PAGE);
		}
		return true;
	}
	return zd_access_remote_vm(mm, (unsigned long)p, buf, (int)PAGE,
				   write ? ZD_FOLL_WRITE : 0) == (int)PAGE;
}

/*
 * The kernel's read and write loops: copy from the mirror while it has
 * the pages; where it has not, fill it through zd_hmm_range_fault()
 * (faults counts those rounds, as the kernel's) and go on.  The copy
 * runs outside dm->lock, so it is checked afterwards against the
 * erasures meanwhile and redone if its entries went (a migration may
 * have taken the page before a write reached it); a host copy that
 * failed drops its entry, and the refill says why (-EFAULT, -EPERM).
 */
static int mirror_access(struct mirror *m, struct dmirror_cmd *cmd, bool write)
{
	struct dmirror *dm = m->dm;
	unsigned long end = cmd->addr + cmd->npages * PAGE;
	struct view v;
	struct timespec t0;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < cmd->npages && !err;) {
		unsigned long addr = cmd->addr + i * PAGE, done = 0;
		bool stale;

		pthread_rwlock_rdlock(&dm->mig_lock);
		pthread_mutex_lock(&dm->lock);
		view_take(m, addr, cmd->npages - i, write, &v);
		pthread_mutex_unlock(&dm->lock);
		if (!v.n) {
			err = mirror_fill(m, addr, end, ZD_HMM_PFN_REQ_FAULT |
					  (write ? ZD_HMM_PFN_REQ_WRITE : 0));
			pthread_rwlock_unlock(&dm->mig_lock);
			cmd->faults += !err;
			continue;
		}
		while (done < v.n && copy_page(v.e[done], (char *)cmd->ptr + (i + done) * PAGE,
					       write, cmd->mm))
			done++;
		view_put(&v);
		pthread_mutex_lock(&dm->lock);
		stale = erased_since(m, v.since, addr, addr + v.n * PAGE);
		if (!stale && done < v.n)	/* gone under the copy: refill */
			mirror_erase(m, addr + done * PAGE, addr + (done + 1) * PAGE);
		pthread_mutex_unlock(&dm->lock);
		pthread_rwlock_unlock(&dm->mig_lock);
		if (stale)
			done = 0;
		i += done;
		cmd->cpages += done;
		if (done)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		else if (ms_since(&t0) > ZD_HMM_RANGE_DEFAULT_TIMEOUT)
			err = stale ? -EBUSY : -EFAULT;
	}
	return err;
}

static bool cmd_range_bad(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	return cmd_bad(dm, cmd) || cmd->npages > (ULONG_MAX - cmd->addr) / PAGE;
}

static int access_range(struct dmirror *dm, struct dmirror_cmd *cmd, bool write)
{
	struct mirror *m;
	int err;

	if (cmd_range_bad(dm, cmd) || !cmd->ptr)
		return -EINVAL;
	m = cmd_enter_mirror(dm, cmd, &err);
	if (!m)
		return err;
	return cmd_exit_mirror(m, mirror_access(m, cmd, write));
}

int dmirror_read(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	return access_range(dm, cmd, false);
}

int dmirror_write(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	return access_range(dm, cmd, true);
}

/* Take the device pages of a batch, held; *@missing: entries absent. */
static unsigned long dev_take(struct mirror *m, unsigned long addr, unsigned long n,
			      struct zd_page **held, bool *missing)
{
	unsigned long k = 0;

	*missing = false;
	pthread_mutex_lock(&m->dm->lock);
	for (unsigned long i = 0; i < n; i++) {
		unsigned long e = pt_get(m, addr / PAGE + i);

		*missing |= !e;
		if (e & E_DEV) {
			held[k] = (struct zd_page *)(e & ~E_FLAGS);
			zd_get_page(held[k++]);
		}
	}
	pthread_mutex_unlock(&m->dm->lock);
	return k;
}

/*
 * Device compute on the pages of the range that are in its memory, as
 * the mirror has them; where it has no entry, it learns the page's state
 * first without faulting anything in.  Each page is held while @fn runs.
 */
static int mirror_transform(struct mirror *m, struct dmirror_cmd *cmd,
			    void (*fn)(void *page, size_t len, void *arg), void *arg)
{
	struct zd_page *held[RANGE_PAGES];

	for (unsigned long i = 0; i < cmd->npages; i += RANGE_PAGES) {
		unsigned long addr = cmd->addr + i * PAGE, k;
		unsigned long n = cmd->npages - i < RANGE_PAGES ? cmd->npages - i : RANGE_PAGES;
		bool missing;

		pthread_rwlock_rdlock(&m->dm->mig_lock);
		k = dev_take(m, addr, n, held, &missing);
		if (missing) {
			int err;

			while (k)
				zd_put_page(held[--k]);
			err = mirror_fill(m, addr, addr + n * PAGE, 0);
			if (err) {
				pthread_rwlock_unlock(&m->dm->mig_lock);
				return err;
			}
			k = dev_take(m, addr, n, held, &missing);
		}
		pthread_rwlock_unlock(&m->dm->mig_lock);
		for (unsigned long j = 0; j < k; j++) {
			dev_read(page_mem(held[j]));
			fn(page_mem(held[j]), PAGE, arg);
			dev_wrote(page_mem(held[j]));
			zd_put_page(held[j]);
			cmd->cpages++;
		}
	}
	return 0;
}

int dmirror_transform(struct dmirror *dm, struct dmirror_cmd *cmd,
		      void (*fn)(void *page, size_t len, void *arg), void *arg)
{
	struct mirror *m;
	int err;

	if (cmd_range_bad(dm, cmd) || !fn)
		return -EINVAL;
	m = cmd_enter_mirror(dm, cmd, &err);
	if (!m)
		return err;
	return cmd_exit_mirror(m, mirror_transform(m, cmd, fn, arg));
}

/* ---- snapshot and release ------------------------------------------------ */

struct snap {
	struct dmirror *dm;
	uint8_t *perm;
	unsigned long npages;
};

/* The state byte of one range_fault entry, as the kernel's
 * dmirror_mkentry(); dm->lock held. */
static uint8_t snap_state(struct dmirror *dm, unsigned long pfn)
{
	struct zd_page *p;
	uint8_t st;

	if (pfn & ZD_HMM_PFN_ERROR)
		return DMIRROR_PROT_ERROR;
	if (!(pfn & ZD_HMM_PFN_VALID))
		return DMIRROR_PROT_NONE;
	p = zd_hmm_pfn_to_page(pfn);
	if (!p)
		st = DMIRROR_PROT_NONE;		/* a host page */
	else if (p->pgmap->owner == dm)
		st = DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	else
		st = DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	return st | (pfn & ZD_HMM_PFN_WRITE ? DMIRROR_PROT_WRITE : DMIRROR_PROT_READ);
}

static int snap_done(void *arg, const unsigned long *pfns)
{
	struct snap *s = arg;

	for (unsigned long i = 0; i < s->npages; i++)
		s->perm[i] = snap_state(s->dm, pfns[i]);
	return 0;
}

int dmirror_snapshot(struct dmirror *dm, struct dmirror_cmd *cmd, uint8_t *perm)
{
	unsigned long pfns[RANGE_PAGES];
	int err;

	if (cmd_range_bad(dm, cmd) || !perm)
		return -EINVAL;
	err = cmd_enter(dm);
	if (err)
		return err;
	for (unsigned long i = 0; i < cmd->npages && !err; i += RANGE_PAGES) {
		unsigned long addr = cmd->addr + i * PAGE;
		struct snap s = {
			dm, perm + i,
			cmd->npages - i < RANGE_PAGES ? cmd->npages - i : RANGE_PAGES,
		};

		err = range_read(dm, cmd->mm, addr, addr + s.npages * PAGE, 0, pfns,
				 snap_done, &s);
		if (!err)
			cmd->cpages += s.npages;
	}
	return cmd_exit(dm, err);
}

/* ---- unplug: every page in use comes home first ------------------------- */

static void chunk_evict(struct dmirror_chunk *c)
{
	unsigned long *src = calloc(BATCH, sizeof(long)), *dst = calloc(BATCH, sizeof(long));

	for (unsigned long off = 0; src && dst && off < c->npages; off += BATCH) {
		unsigned long n = c->npages - off < BATCH ? c->npages - off : BATCH;

		zd_migrate_device_range(src, c->first_pfn + off, n);
		for (unsigned long i = 0; i < n; i++) {
			struct zd_page *p = zd_migrate_pfn_to_page(src[i]);

			dst[i] = 0;
			if (!p || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
				continue;
			dev_read(page_mem(p));
			dst[i] = zd_migrate_virt(page_mem(p)) | ZD_MIGRATE_PFN_DONATE;
		}
		zd_migrate_device_pages(src, dst, n);
		zd_migrate_device_finalize(src, dst, n);
	}
	if (!src || !dst)
		fprintf(stderr, "dmirror: no memory to evict; pages are lost\n");
	free(src);
	free(dst);
}

/* Wait up to @ms for a page to be freed; whether pages are still in use. */
static bool wait_in_use(struct dmirror *dm, long ms)
{
	struct timespec ts;
	bool in_use;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_mutex_lock(&dm->lock);
	if (dm->in_use)
		pthread_cond_timedwait(&dm->idle, &dm->lock, &ts);
	in_use = dm->in_use;
	pthread_mutex_unlock(&dm->lock);
	return in_use;
}

/*
 * The kernel's HMM_DMIRROR_RELEASE: every page comes home as at unplug,
 * the device stays bound.  A page a fault is bringing home is skipped by
 * an eviction and freed by that fault: evict again until none is left.
 * Chunks are only added (at the head) while bound, so the list read
 * under the lock stays valid.
 */
int dmirror_release(struct dmirror *dm)
{
	struct dmirror_chunk *head;
	struct timespec t0;
	int err;

	if (!dm)
		return -EINVAL;
	err = cmd_enter(dm);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		pthread_mutex_lock(&dm->lock);
		head = dm->chunks;
		pthread_mutex_unlock(&dm->lock);
		for (struct dmirror_chunk *c = head; c; c = c->next)
			chunk_evict(c);
		if (!wait_in_use(dm, 1))
			return cmd_exit(dm, 0);
	} while (ms_since(&t0) <= ZD_HMM_RANGE_DEFAULT_TIMEOUT);
	return cmd_exit(dm, -EBUSY);
}

/*
 * Commands end first (new ones get -ENODEV); then every page in use
 * comes home.  A page a fault is bringing home (busy) is skipped by an
 * eviction, and freed by that fault: wait for it, and evict again
 * for any that a finished fault left behind.
 */
static void dmirror_remove(struct zd_device *dev)
{
	struct dmirror *dm = (struct dmirror *)dev;
	struct mirror *gone;
	unsigned long in_use;

	pthread_mutex_lock(&dm->lock);
	dm->bound = false;
	while (dm->inflight)
		pthread_cond_wait(&dm->idle, &dm->lock);
	pthread_mutex_unlock(&dm->lock);
	do {
		for (struct dmirror_chunk *c = dm->chunks; c; c = c->next)
			chunk_evict(c);
		in_use = wait_in_use(dm, 1);
	} while (in_use);
	/* the chunks themselves are devres: they go after this returns */
	pthread_mutex_lock(&dm->lock);
	dm->chunks = NULL;
	dm->free_pages = NULL;
	dm->nr_chunks = 0;
	gone = dm->mirrors;	/* no command uses them now */
	dm->mirrors = NULL;
	pthread_mutex_unlock(&dm->lock);
	mirror_free_list(gone);
}

static int dmirror_probe(struct zd_device *dev)
{
	struct dmirror *dm = (struct dmirror *)dev;

	pthread_mutex_lock(&dm->lock);
	dm->bound = true;	/* memory comes on demand */
	pthread_mutex_unlock(&dm->lock);
	return 0;
}

static struct zd_driver dmirror_driver = {
	.name = "dmirror",
	.probe = dmirror_probe,
	.remove = dmirror_remove,
};

static void dmirror_dev_release(struct zd_device *dev)
{
	struct dmirror *dm = (struct dmirror *)dev;

	pthread_cond_destroy(&dm->idle);
	pthread_rwlock_destroy(&dm->mig_lock);
	pthread_mutex_destroy(&dm->lock);
	free(dm);
}

struct dmirror *dmirror_create(int id, unsigned long chunk_bytes)
{
	struct dmirror *dm = calloc(1, sizeof(*dm));
	pthread_rwlockattr_t wr_first;
	int err;

	if (!dm)
		return NULL;
	if (!chunk_bytes || chunk_bytes % ZD_SECTION_SIZE) {
		free(dm);
		errno = EINVAL;
		return NULL;
	}
	/* a loop of reads must not keep migrations out */
	pthread_rwlockattr_init(&wr_first);
	pthread_rwlockattr_setkind_np(&wr_first, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&dm->mig_lock, &wr_first);
	pthread_rwlockattr_destroy(&wr_first);
	pthread_mutex_init(&dm->lock, NULL);
	pthread_cond_init(&dm->idle, NULL);
	dm->chunk_bytes = chunk_bytes;
	atomic_store(&dm->prefetch, 1);
	zd_device_initialize(&dm->dev);
	dm->dev.release = dmirror_dev_release;
	err = zd_dev_set_name(&dm->dev, "dmirror%d", id);
	if (!err)
		err = zd_device_add(&dm->dev);
	if (!err) {
		err = zd_device_bind(&dm->dev, &dmirror_driver);
		if (err)
			zd_device_del(&dm->dev);
	}
	if (err) {
		zd_put_device(&dm->dev);
		errno = -err;
		return NULL;
	}
	return dm;
}

int dmirror_unbind(struct dmirror *dm)
{
	return dm ? zd_device_unbind(&dm->dev) : -EINVAL;
}

int dmirror_rebind(struct dmirror *dm)
{
	return dm ? zd_device_bind(&dm->dev, &dmirror_driver) : -EINVAL;
}

void dmirror_destroy(struct dmirror *dm)
{
	if (dm)
		zd_device_unregister(&dm->dev);	/* unbinds */
}

struct zd_device *dmirror_device(struct dmirror *dm)
{
	return dm ? &dm->dev : NULL;
}

int dmirror_set_prefetch(struct dmirror *dm, unsigned long pages)
{
	if (!dm || !pages || pages > MAX_PREFETCH || (pages & (pages - 1)))
		return -EINVAL;
	atomic_store(&dm->prefetch, pages);
	return 0;
}

void dmirror_set_fail_faults(struct dmirror *dm, bool fail)
{
	if (dm)
		atomic_store(&dm->fail_faults, fail);
}

void dmirror_get_stats(struct dmirror *dm, struct dmirror_stats *s)
{
	if (!s)
		return;
	if (!dm) {
		memset(s, 0, sizeof(*s));
		return;
	}
	pthread_mutex_lock(&dm->lock);
	s->chunks = dm->nr_chunks;
	s->pages_in_use = dm->in_use;
	s->invalidations = dm->invalidations;
	s->mirror_entries = 0;
	for (struct mirror *m = dm->mirrors; m; m = m->next)
		s->mirror_entries += m->entries;
	pthread_mutex_unlock(&dm->lock);
	s->page_free_calls = atomic_load(&dm->page_frees);
	s->migrate_to_ram_calls = atomic_load(&dm->faults);
}
