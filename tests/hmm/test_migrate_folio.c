// SPDX-License-Identifier: MIT
/*
 * Large device-private folios, with a small driver of its own: 2 MiB
 * runs migrate as one order-9 folio (ZD_MIGRATE_VMA_SELECT_COMPOUND) and
 * back, with the intent of Linux 6.19's hmm-tests migrate_anon_huge_*,
 * migrate_partial_unmap_fault and migrate_remap_fault: never-touched and
 * populated runs, faults that split the folio, partial munmap, mremap,
 * a driver that refuses compound destinations, bad destinations, the
 * moving path, and folios a device holds while they are unmapped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "dmirror.h"
#include <zonedev/zonedev.h>

#define MiB(x)	((size_t)(x) << 20)
#define NR	ZD_HMM_FOLIO_PAGES
#define FOLIO	MiB(2)

static size_t PG;

/* ---- the driver --------------------------------------------------------- */

#define DEV_BYTES	MiB(64)

struct fdev {
	struct zd_dev_pagemap pgmap;
	char *mem;			/* its memory, 2 MiB aligned */
	unsigned long first_pfn, npages;
	pthread_mutex_t lock;
	bool *used;			/* per page */
	atomic_ulong in_use;		/* pages */
	atomic_ulong frees, folio_frees, splits, faults, fault_order_bad;
	bool refuse_compound;		/* answer compound src with pages */
	bool zero_dst;			/* answer compound src with nothing */
	bool bad_dst;			/* an order-0 page marked compound */
};

static struct fdev *dev_of(struct zd_page *p)
{
	return (struct fdev *)p->pgmap;
}

static char *page_mem(struct zd_page *p)
{
	struct fdev *d = dev_of(p);

	return d->mem + (zd_page_to_pfn(p) - d->first_pfn) * PG;
}

static void fd_page_free(struct zd_page *page)
{
	struct fdev *d = dev_of(page);
	unsigned long nr = zd_folio_nr_pages((struct zd_folio *)page);
	unsigned long first = zd_page_to_pfn(page) - d->first_pfn;

	pthread_mutex_lock(&d->lock);
	for (unsigned long k = 0; k < nr; k++)
		d->used[first + k] = false;
	d->in_use -= nr;
	pthread_mutex_unlock(&d->lock);
	atomic_fetch_add(&d->frees, 1);
	if (nr > 1)
		atomic_fetch_add(&d->folio_frees, 1);
}

static void fd_folio_split(struct zd_folio *head, struct zd_folio *tail)
{
	assert_int_equal(zd_folio_order(head), 0);
	assert_int_equal(zd_folio_order(tail), 0);
	atomic_fetch_add(&dev_of(&head->page)->splits, 1);
}

/* 2^order free pages, handed out; NULL if none. */
static struct zd_page *fd_alloc(struct fdev *d, unsigned int order)
{
	unsigned long nr = 1ul << order;
	struct zd_page *p = NULL;

	pthread_mutex_lock(&d->lock);
	for (unsigned long i = 0; !p && i + nr <= d->npages; i += nr) {
		unsigned long k = 0;

		while (k < nr && !d->used[i + k])
			k++;
		if (k < nr)
			continue;
		for (k = 0; k < nr; k++)
			d->used[i + k] = true;
		d->in_use += nr;
		p = zd_pfn_to_page(d->first_pfn + i);
	}
	pthread_mutex_unlock(&d->lock);
	if (p)
		assert_int_equal(zd_zone_device_folio_init((struct zd_folio *)p,
							   &d->pgmap, order), 0);
	return p;
}

static unsigned long dst_of(struct zd_page *p, bool compound)
{
	return zd_migrate_pfn(zd_page_to_pfn(p)) | ZD_MIGRATE_PFN_WRITE |
	       (compound ? ZD_MIGRATE_PFN_COMPOUND : 0);
}

/* Host pages (or never-touched) [i, i + n) of @m to device pages. */
static void to_dev_batch(struct fdev *d, struct zd_migrate_vma *m, bool move)
{
	for (unsigned long i = 0; i < m->npages; i++) {
		unsigned long s = m->src[i];
		char *src = zd_migrate_pfn_to_virt(s);
		struct zd_page *p;

		if (!(s & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		if (!(s & ZD_MIGRATE_PFN_COMPOUND)) {
			p = fd_alloc(d, 0);
			assert_non_null(p);
			if (src)
				memcpy(page_mem(p), src, PG);
			else
				memset(page_mem(p), 0, PG);
			m->dst[i] = dst_of(p, false);
			continue;
		}
		if (d->zero_dst)
			continue;
		if (d->refuse_compound) {	/* one page at a time */
			for (unsigned long k = 0; k < NR; k++) {
				p = fd_alloc(d, 0);
				assert_non_null(p);
				if (src)
					memcpy(page_mem(p), src + k * PG, PG);
				else
					memset(page_mem(p), 0, PG);
				m->dst[i + k] = dst_of(p, false);
			}
			i += NR - 1;
			continue;
		}
		p = fd_alloc(d, d->bad_dst ? 0 : ZD_HMM_FOLIO_ORDER);
		assert_non_null(p);
		if (!src)
			memset(page_mem(p), 0, FOLIO);
		else if (!move || zd_migrate_vma_move(m, i, NR, page_mem(p)))
			memcpy(page_mem(p), src, d->bad_dst ? PG : FOLIO);
		m->dst[i] = dst_of(p, true);
		i += NR - 1;
	}
}

/* Device pages of @m home through staging memory, freed after. */
static void *to_sys_batch(struct zd_migrate_vma *m)
{
	char *stage = aligned_alloc(FOLIO, (m->npages * PG + FOLIO - 1) & ~(FOLIO - 1));

	assert_non_null(stage);
	for (unsigned long i = 0; i < m->npages; i++) {
		struct zd_page *p = zd_migrate_pfn_to_page(m->src[i]);
		bool c = m->src[i] & ZD_MIGRATE_PFN_COMPOUND;

		if (!p || !(m->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		memcpy(stage + i * PG, page_mem(p), c ? FOLIO : PG);
		m->dst[i] = zd_migrate_virt(stage + i * PG) |
			    (c ? ZD_MIGRATE_PFN_COMPOUND : 0);
	}
	return stage;
}

static int migrate(struct fdev *d, struct zd_mm *mm, void *addr, size_t len,
		   unsigned long flags, struct zd_page *fault_page, bool move,
		   unsigned long *cpages)
{
	unsigned long n = len / PG;
	unsigned long *src = calloc(n, sizeof(*src)), *dst = calloc(n, sizeof(*dst));
	struct zd_migrate_vma m = {
		.mm = mm, .src = src, .dst = dst, .npages = n,
		.start = (uintptr_t)addr, .end = (uintptr_t)addr + len,
		.pgmap_owner = d, .flags = flags, .fault_page = fault_page,
	};
	void *stage = NULL;
	int err = zd_migrate_vma_setup(&m);

	if (!err) {
		if (flags & ZD_MIGRATE_VMA_SELECT_SYSTEM)
			to_dev_batch(d, &m, move);
		else
			stage = to_sys_batch(&m);
		zd_migrate_vma_pages(&m);
		if (cpages)
			*cpages = m.cpages;
		zd_migrate_vma_finalize(&m);
	}
	free(stage);
	free(src);
	free(dst);
	return err;
}

static int fd_migrate_to_ram(struct zd_vm_fault *vmf)
{
	struct fdev *d = dev_of(vmf->page);

	atomic_fetch_add(&d->faults, 1);
	/* zonedev split the folio first: the page comes alone */
	if (zd_folio_order(zd_page_folio(vmf->page)))
		atomic_fetch_add(&d->fault_order_bad, 1);
	return migrate(d, vmf->mm, (void *)vmf->address, PG,
		       ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, vmf->page, false, NULL);
}

static const struct zd_dev_pagemap_ops fd_ops = {
	.page_free = fd_page_free,
	.migrate_to_ram = fd_migrate_to_ram,
	.folio_split = fd_folio_split,
};

static struct fdev *fd_create(bool staging)
{
	struct fdev *d = calloc(1, sizeof(*d));
	struct zd_resource *res;
	char *raw;

	assert_non_null(d);
	raw = mmap(NULL, DEV_BYTES + FOLIO, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(raw != MAP_FAILED);
	d->mem = (char *)(((uintptr_t)raw + FOLIO - 1) & ~(FOLIO - 1));
	madvise(d->mem, DEV_BYTES, MADV_DONTFORK);
	if (staging)
		assert_int_equal(zd_hmm_register_staging(d->mem, DEV_BYTES), 0);
	res = zd_request_free_mem_region(zd_iomem_root(), DEV_BYTES, "fdev");
	assert_non_null(res);
	d->pgmap.type = ZD_MEMORY_DEVICE_PRIVATE;
	d->pgmap.nr_range = 1;
	d->pgmap.range.start = res->start;
	d->pgmap.range.end = res->start + DEV_BYTES - 1;
	d->pgmap.ops = &fd_ops;
	d->pgmap.owner = d;
	d->first_pfn = res->start / PG;
	d->npages = DEV_BYTES / PG;
	d->used = calloc(d->npages, sizeof(bool));
	pthread_mutex_init(&d->lock, NULL);
	assert_non_null(zd_memremap_pages(&d->pgmap, 0));
	return d;
}

static void fd_destroy(struct fdev *d, bool staging)
{
	assert_int_equal(d->in_use, 0);
	zd_memunmap_pages(&d->pgmap);
	zd_release_mem_region(d->pgmap.range.start, DEV_BYTES);
	if (staging)
		zd_hmm_unregister_staging(d->mem, DEV_BYTES);
	free(d->used);
	free(d);
}

/* ---- fixture ------------------------------------------------------------ */

struct fx {
	struct zd_mm *mm;
	struct fdev *d;
	char *buf;			/* 2 MiB aligned, managed */
	size_t len;
	/* MiB of buf a test unmapped or moved away: the teardown must not
	 * unmap what may be mapped there since (the sanitizers' memory) */
	bool gone[16];
	bool staging;
};

static struct fx F;

/* @len of managed memory at a 2 MiB-aligned address. */
static char *map_aligned(struct zd_mm *mm, size_t len)
{
	char *raw = mmap(NULL, len + FOLIO, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	assert_true(raw != MAP_FAILED);
	p = (char *)(((uintptr_t)raw + FOLIO - 1) & ~(FOLIO - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (raw + len + FOLIO > p + len)
		munmap(p + len, (size_t)(raw + len + FOLIO - (p + len)));
	assert_int_equal(zd_mm_register(mm, p, len), 0);
	return p;
}

static void fx_setup(size_t len, bool staging)
{
	PG = zd_page_size();
	F.mm = zd_mm_create();
	assert_non_null(F.mm);
	F.staging = staging;
	F.d = fd_create(staging);
	F.len = len;
	memset(F.gone, 0, sizeof(F.gone));
	F.buf = map_aligned(F.mm, len);
}

static int setup(void **state)
{
	(void)state;
	test_reset_warnings();
	fx_setup(MiB(4), false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	zd_mm_destroy(F.mm);		/* brings pages home first */
	for (size_t m = 0; m < F.len / MiB(1); m++)
		if (!F.gone[m])
			munmap(F.buf + MiB(m), MiB(1));
	fd_destroy(F.d, F.staging);
	return 0;
}

/* [p, p + len) of F.buf, whole MiB, is no longer the fixture's. */
static void gone(char *p, size_t len)
{
	for (size_t m = (size_t)(p - F.buf) / MiB(1); m < (size_t)(p + len - F.buf) / MiB(1); m++)
		F.gone[m] = true;
}

/* munmap of part of F.buf */
static int punch(char *p, size_t len)
{
	gone(p, len);
	return munmap(p, len);
}

static void fill(char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i += sizeof(unsigned int))
		*(unsigned int *)(p + i) = (unsigned int)i * 2654435761u + seed;
}

static void check(const char *p, size_t off, size_t len, unsigned int seed)
{
	for (size_t i = off; i < off + len; i += sizeof(unsigned int))
		if (*(const unsigned int *)(p + i) != (unsigned int)i * 2654435761u + seed)
			fail_msg("byte %zu: %#x", i, *(const unsigned int *)(p + i));
}

#define TO_DEV	(ZD_MIGRATE_VMA_SELECT_SYSTEM | ZD_MIGRATE_VMA_SELECT_COMPOUND)
#define TO_SYS	(ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE | ZD_MIGRATE_VMA_SELECT_COMPOUND)

/* The order of the device folio at @addr; -1 if not on a device. */
static int order_at(void *addr)
{
	struct zd_page *p;

	if (zd_mm_lookup(F.mm, (unsigned long)addr, &p) != ZD_MM_PAGE_DEVICE)
		return -1;
	return (int)zd_folio_order(zd_page_folio(p));
}

/* ---- tests -------------------------------------------------------------- */

/* migrate_anon_huge_empty: never touched, to the device as one folio;
 * the CPU then reads zeros (a fault splits it, page by page home). */
static void test_huge_empty(void **state)
{
	unsigned long cpages = 0;

	(void)state;
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false,
				 &cpages), 0);
	assert_int_equal(cpages, NR);
	assert_int_equal(order_at(F.buf), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(order_at(F.buf + FOLIO - PG), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(F.d->in_use, NR);
	assert_int_equal(zd_mm_device_pages(F.mm), NR);
	for (size_t i = 0; i < FOLIO; i += PG)
		assert_int_equal(F.buf[i], 0);
	assert_int_equal(atomic_load(&F.d->splits), NR - 1);
	assert_int_equal(atomic_load(&F.d->faults), NR);
	assert_int_equal(atomic_load(&F.d->fault_order_bad), 0);
	assert_int_equal(zd_mm_device_pages(F.mm), 0);
	/* the fault's own reference goes after the thread was woken */
	assert_true(wait_for(F.d->in_use == 0));
}

/* migrate_anon_huge_zero/_free: populated runs go and come back as
 * folios, one free of an order-9 folio each, bytes intact. */
static void test_huge_both_ways(void **state)
{
	unsigned long cpages = 0;

	(void)state;
	fill(F.buf, F.len, 7);
	assert_int_equal(migrate(F.d, F.mm, F.buf, F.len, TO_DEV, NULL, false,
				 &cpages), 0);
	assert_int_equal(cpages, 2 * NR);
	assert_int_equal(order_at(F.buf), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(order_at(F.buf + FOLIO + 5 * PG), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(zd_mm_device_pages(F.mm), 2 * NR);
	/* one reference per mapped page, on the head */
	{
		struct zd_page *p;

		assert_int_equal(zd_mm_lookup(F.mm, (unsigned long)F.buf + 3 * PG, &p),
				 ZD_MM_PAGE_DEVICE);
		assert_int_equal(zd_page_ref_count(&zd_page_folio(p)->page), NR);
	}
	assert_int_equal(migrate(F.d, F.mm, F.buf, F.len, TO_SYS, NULL, false,
				 &cpages), 0);
	assert_int_equal(cpages, 2 * NR);
	assert_int_equal(atomic_load(&F.d->folio_frees), 2);
	assert_int_equal(atomic_load(&F.d->frees), 2);
	assert_int_equal(atomic_load(&F.d->splits), 0);
	assert_true(wait_for(F.d->in_use == 0));
	assert_int_equal(zd_mm_device_pages(F.mm), 0);
	check(F.buf, 0, F.len, 7);
	assert_int_equal(atomic_load(&F.d->faults), 0);
}

/* migrate_anon_huge_fault: the CPU writes and reads a migrated folio. */
static void test_huge_fault(void **state)
{
	(void)state;
	fill(F.buf, FOLIO, 3);
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(order_at(F.buf + PG), ZD_HMM_FOLIO_ORDER);
	/* one page faults: the folio is split, that page comes home alone */
	check(F.buf, 100 * PG, PG, 3);
	assert_int_equal(atomic_load(&F.d->splits), NR - 1);
	assert_int_equal(order_at(F.buf), 0);
	assert_int_equal(order_at(F.buf + 100 * PG), -1);
	assert_int_equal(zd_mm_device_pages(F.mm), NR - 1);
	assert_true(wait_for(F.d->in_use == NR - 1));	/* the fault's put */
	check(F.buf, 0, FOLIO, 3);
	assert_int_equal(atomic_load(&F.d->fault_order_bad), 0);
	assert_true(wait_for(F.d->in_use == 0));
	/* a write fault, and the split pages go to the device as pages */
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	F.buf[PG] = 42;
	assert_int_equal(F.buf[PG], 42);
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_SYS, NULL, false, NULL), 0);
	assert_int_equal(F.buf[PG], 42);
	check(F.buf, 2 * PG, FOLIO - 2 * PG, 3);
}

/* migrate_anon_huge_err: a driver that answers with pages gets the run
 * split into ordinary entries, both ways. */
static void test_refused_compound(void **state)
{
	(void)state;
	fill(F.buf, F.len, 11);
	F.d->refuse_compound = true;
	assert_int_equal(migrate(F.d, F.mm, F.buf, F.len, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(order_at(F.buf), 0);
	assert_int_equal(order_at(F.buf + F.len - PG), 0);
	assert_int_equal(zd_mm_device_pages(F.mm), 2 * NR);
	assert_int_equal(F.d->in_use, 2 * NR);
	assert_int_equal(migrate(F.d, F.mm, F.buf, F.len, TO_SYS, NULL, false, NULL), 0);
	check(F.buf, 0, F.len, 11);
	assert_true(wait_for(F.d->in_use == 0));
	/* a compound folio coming home to pages: the folio is split */
	F.d->refuse_compound = false;
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(order_at(F.buf), ZD_HMM_FOLIO_ORDER);
	{
		unsigned long n = NR, *src = calloc(n, sizeof(long)), *dst = calloc(n, sizeof(long));
		char *stage = aligned_alloc(FOLIO, FOLIO);
		struct zd_migrate_vma m = {
			.mm = F.mm, .src = src, .dst = dst, .npages = n,
			.start = (uintptr_t)F.buf, .end = (uintptr_t)F.buf + FOLIO,
			.pgmap_owner = F.d, .flags = TO_SYS,
		};
		struct zd_page *head;

		assert_int_equal(zd_migrate_vma_setup(&m), 0);
		assert_true(src[0] & ZD_MIGRATE_PFN_COMPOUND);
		for (unsigned long k = 1; k < n; k++)
			assert_int_equal(src[k], 0);
		head = zd_migrate_pfn_to_page(src[0]);
		for (unsigned long k = 0; k < n; k++) {
			memcpy(stage + k * PG, page_mem(head) + k * PG, PG);
			dst[k] = zd_migrate_virt(stage + k * PG);
		}
		zd_migrate_vma_pages(&m);
		for (unsigned long k = 0; k < n; k++)
			assert_true(src[k] & ZD_MIGRATE_PFN_MIGRATE);
		assert_false(src[0] & ZD_MIGRATE_PFN_COMPOUND);
		zd_migrate_vma_finalize(&m);
		free(stage);
		free(src);
		free(dst);
	}
	assert_int_equal(atomic_load(&F.d->splits), NR - 1);
	assert_true(wait_for(F.d->in_use == 0));
	check(F.buf, 0, F.len, 11);
}

/* No dst for a compound src: nothing moves; a bad compound dst (an
 * order-0 page) is refused with a warning, and freed. */
static void test_compound_dst_errors(void **state)
{
	unsigned long w;

	(void)state;
	fill(F.buf, FOLIO, 5);
	F.d->zero_dst = true;
	assert_no_warn(assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV,
						NULL, false, NULL), 0));
	assert_int_equal(order_at(F.buf), -1);
	assert_true(wait_for(F.d->in_use == 0));
	F.d->zero_dst = false;
	F.d->bad_dst = true;
	w = zd_warn_count();
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_true(zd_warn_count() > w);
	F.d->bad_dst = false;
	assert_int_equal(order_at(F.buf), -1);
	assert_true(wait_for(F.d->in_use == 0));
	check(F.buf, 0, FOLIO, 5);
	/* the pages stayed writable */
	F.buf[0] = 9;
	assert_int_equal(F.buf[0], 9);
	/* a move that takes part of a compound entry is refused */
	{
		unsigned long *src = calloc(NR, sizeof(long)), *dst = calloc(NR, sizeof(long));
		struct zd_migrate_vma m = {
			.mm = F.mm, .src = src, .dst = dst, .npages = NR,
			.start = (uintptr_t)F.buf, .end = (uintptr_t)F.buf + FOLIO,
			.pgmap_owner = F.d, .flags = TO_DEV,
		};
		char *to = aligned_alloc(FOLIO, FOLIO);

		assert_int_equal(zd_migrate_vma_setup(&m), 0);
		assert_true(src[0] & ZD_MIGRATE_PFN_COMPOUND);
		assert_warns("compound", assert_int_equal(
			zd_migrate_vma_move(&m, 0, NR / 2, to), -EINVAL));
		assert_true(src[0] & ZD_MIGRATE_PFN_COMPOUND);
		zd_migrate_vma_pages(&m);
		zd_migrate_vma_finalize(&m);
		free(to);
		free(src);
		free(dst);
	}
	F.buf[1] = 8;
	assert_int_equal(F.buf[0], 9);
}

/* A run not in one state, or not aligned, goes page by page. */
static void test_mixed_run_goes_by_page(void **state)
{
	unsigned long *src = calloc(NR, sizeof(long)), *dst = calloc(NR, sizeof(long));
	struct zd_migrate_vma m = {
		.mm = F.mm, .src = src, .dst = dst, .npages = NR,
		.start = (uintptr_t)F.buf, .end = (uintptr_t)F.buf + FOLIO,
		.pgmap_owner = F.d, .flags = TO_DEV,
	};

	(void)state;
	F.buf[5 * PG] = 1;	/* one populated page among never-touched */
	assert_int_equal(zd_migrate_vma_setup(&m), 0);
	assert_int_equal(m.cpages, NR);
	for (unsigned long k = 0; k < NR; k++)
		assert_false(src[k] & ZD_MIGRATE_PFN_COMPOUND);
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	/* unaligned: by page */
	assert_int_equal(migrate(F.d, F.mm, F.buf + PG, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(order_at(F.buf + PG), 0);
	assert_int_equal(migrate(F.d, F.mm, F.buf, F.len, TO_SYS, NULL, false, NULL), 0);
	assert_int_equal(F.buf[5 * PG], 1);
	assert_true(wait_for(F.d->in_use == 0));
	free(src);
	free(dst);
}

/* migrate_partial_unmap_fault: unmap 1 MiB of a folio at three offsets;
 * the rest faults back intact, the unmapped pages are freed at once. */
static void test_partial_unmap_fault(void **state)
{
	const size_t offs[] = { 0, MiB(1) / 2, MiB(1) };

	(void)state;
	for (size_t o = 0; o < 3; o++) {
		char *run = o < 2 ? F.buf + o * FOLIO : map_aligned(F.mm, FOLIO);
		unsigned long splits = atomic_load(&F.d->splits);

		fill(run, FOLIO, 20 + (unsigned int)o);
		assert_int_equal(migrate(F.d, F.mm, run, FOLIO, TO_DEV, NULL, false, NULL), 0);
		assert_int_equal(order_at(run), ZD_HMM_FOLIO_ORDER);
		assert_int_equal(o < 2 ? punch(run + offs[o], MiB(1)) :
				 munmap(run + offs[o], MiB(1)), 0);
		/* it waits for the unmap to be handled */
		assert_int_equal(zd_mm_device_pages(F.mm), NR / 2);
		assert_int_equal(atomic_load(&F.d->splits), splits + NR - 1);
		assert_int_equal(F.d->in_use, NR / 2);
		for (size_t off = 0; off < FOLIO; off += PG)
			if (off < offs[o] || off >= offs[o] + MiB(1))
				check(run, off, PG, 20 + (unsigned int)o);
		assert_true(wait_for(F.d->in_use == 0));
		if (o == 2)
			for (size_t off = 0; off < FOLIO; off += MiB(1))
				if (off != offs[o])	/* not the hole */
					munmap(run + off, MiB(1));
	}
}

/* migrate_remap_fault: mremap a migrated folio whole, to an aligned
 * place (it stays a folio and comes back whole) and to an unaligned one
 * (it works page by page); and part of one (split). */
static void test_remap_fault(void **state)
{
	char *to = mmap(NULL, 5 * FOLIO, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned = (char *)(((uintptr_t)to + FOLIO - 1) & ~(FOLIO - 1));
	char *p;

	(void)state;
	assert_true(to != MAP_FAILED);
	fill(F.buf, FOLIO, 30);
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	gone(F.buf, FOLIO);
	p = mremap(F.buf, FOLIO, FOLIO, MREMAP_MAYMOVE | MREMAP_FIXED, aligned);
	assert_ptr_equal(p, aligned);
	assert_int_equal(order_at(p), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(atomic_load(&F.d->splits), 0);
	assert_int_equal(migrate(F.d, F.mm, p, FOLIO, TO_SYS, NULL, false, NULL), 0);
	assert_int_equal(atomic_load(&F.d->folio_frees), 1);
	check(p, 0, FOLIO, 30);

	/* to an unaligned place: faults still bring each page back */
	assert_int_equal(migrate(F.d, F.mm, p, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(order_at(p), ZD_HMM_FOLIO_ORDER);
	p = mremap(p, FOLIO, FOLIO, MREMAP_MAYMOVE | MREMAP_FIXED, aligned + 2 * FOLIO + PG);
	assert_ptr_equal(p, aligned + 2 * FOLIO + PG);
	assert_int_equal(order_at(p), ZD_HMM_FOLIO_ORDER);
	check(p, 0, FOLIO, 30);
	assert_true(wait_for(F.d->in_use == 0));

	/* part of one: the folio is split, both parts fault back */
	fill(F.buf + FOLIO, FOLIO, 31);
	assert_int_equal(migrate(F.d, F.mm, F.buf + FOLIO, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(order_at(F.buf + FOLIO), ZD_HMM_FOLIO_ORDER);
	{
		unsigned long splits = atomic_load(&F.d->splits);
		char *q;

		gone(F.buf + FOLIO, MiB(1));
		q = mremap(F.buf + FOLIO, MiB(1), MiB(1),
				 MREMAP_MAYMOVE | MREMAP_FIXED, aligned + FOLIO + PG);

		assert_ptr_equal(q, aligned + FOLIO + PG);
		assert_int_equal(zd_mm_device_pages(F.mm), NR);	/* handled */
		assert_int_equal(atomic_load(&F.d->splits), splits + NR - 1);
		assert_int_equal(order_at(q), 0);
		check(q, 0, MiB(1), 31);
		for (size_t off = MiB(1); off < FOLIO; off += PG)
			check(F.buf + FOLIO, off, PG, 31);
	}
	assert_true(wait_for(F.d->in_use == 0));
	munmap(to, 5 * FOLIO);
	/* the fixture unmaps F.buf: the first run went with its mremap */
}

/* A device holds a page of the folio (zd_mm_lookup_get): an unmap of
 * part cannot split it; the rest still works page by page, and the
 * folio is freed, whole, when its last page goes. */
static void test_held_folio_not_split(void **state)
{
	struct zd_page *held;

	(void)state;
	fill(F.buf, FOLIO, 40);
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(zd_mm_lookup_get(F.mm, (unsigned long)F.buf + 9 * PG, &held),
			 ZD_MM_PAGE_DEVICE);
	assert_int_equal(punch(F.buf, MiB(1)), 0);
	assert_int_equal(atomic_load(&F.d->splits), 0);
	assert_int_equal(order_at(F.buf + MiB(1)), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(zd_page_ref_count(&zd_page_folio(held)->page), NR / 2 + 1);
	zd_put_page(held);
	assert_int_equal(F.d->in_use, NR);	/* all of it, still */
	/* a fault on the rest: split now (no one holds it), the unmapped
	 * half freed by then */
	check(F.buf, MiB(1), PG, 40);
	assert_int_equal(atomic_load(&F.d->splits), NR - 1);
	assert_true(wait_for(F.d->in_use == NR / 2 - 1));
	check(F.buf, MiB(1), MiB(1), 40);
	assert_true(wait_for(F.d->in_use == 0));
	assert_int_equal(atomic_load(&F.d->folio_frees), 0);
}

static atomic_bool touched;

static void *touch_flag(void *p)
{
	(void)*(volatile char *)p;
	atomic_store(&touched, true);
	return NULL;
}

/* A CPU fault on a folio a device holds waits (retrying) for the put,
 * then splits it and brings its page home. */
static void test_fault_waits_for_held_folio(void **state)
{
	struct zd_page *held;
	pthread_t t;

	(void)state;
	fill(F.buf, FOLIO, 45);
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(zd_mm_lookup_get(F.mm, (unsigned long)F.buf + 2 * PG, &held),
			 ZD_MM_PAGE_DEVICE);
	atomic_store(&touched, false);
	assert_int_equal(pthread_create(&t, NULL, touch_flag, F.buf + 5 * PG), 0);
	test_sleep_us(100000);
	assert_false(atomic_load(&touched));
	assert_int_equal(order_at(F.buf + 5 * PG), ZD_HMM_FOLIO_ORDER);
	zd_put_page(held);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(atomic_load(&touched));
	assert_int_equal(atomic_load(&F.d->splits), NR - 1);
	assert_int_equal(order_at(F.buf + 5 * PG), -1);
	check(F.buf, 0, FOLIO, 45);
	assert_true(wait_for(F.d->in_use == 0));
}

/* Exclusive access to a page of a device folio: the folio is split and
 * that page comes home (as on a CPU access) before the device takes it;
 * the rest stays on the device. */
static void test_exclusive_on_folio(void **state)
{
	void *pages[1] = { NULL };
	int n;

	(void)state;
	fill(F.buf, FOLIO, 47);
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	n = zd_make_device_exclusive_range(F.mm, (unsigned long)F.buf + 9 * PG,
					   (unsigned long)F.buf + 10 * PG, pages, F.d);
	assert_int_equal(n, 1);
	assert_non_null(pages[0]);
	assert_int_equal(atomic_load(&F.d->splits), NR - 1);
	assert_int_equal(order_at(F.buf), 0);
	assert_int_equal(zd_mm_device_pages(F.mm), NR - 1);
	zd_put_device_exclusive_page(pages[0]);
	check(F.buf, 0, FOLIO, 47);	/* revokes it, brings the rest home */
	assert_true(wait_for(F.d->in_use == 0));
	/* every migrate_to_ram() got an order-0 page, this one included */
	assert_int_equal(atomic_load(&F.d->fault_order_bad), 0);
}

/* The application unmaps half a run between setup and pages: the run
 * does not migrate, copied (its install refuses it whole) or moved (the
 * move leaves it split, the pages it took go back), and nothing leaks. */
static void unmap_half_mid_migration(bool move)
{
	unsigned long *src = calloc(NR, sizeof(long)), *dst = calloc(NR, sizeof(long));
	struct zd_migrate_vma m = {
		.mm = F.mm, .src = src, .dst = dst, .npages = NR,
		.start = (uintptr_t)F.buf, .end = (uintptr_t)F.buf + FOLIO,
		.pgmap_owner = F.d, .flags = TO_DEV,
	};
	struct zd_page *f;

	fill(F.buf, FOLIO, 48);
	assert_int_equal(zd_migrate_vma_setup(&m), 0);
	assert_true(src[0] & ZD_MIGRATE_PFN_COMPOUND);
	assert_int_equal(punch(F.buf + MiB(1), MiB(1)), 0);
	f = fd_alloc(F.d, ZD_HMM_FOLIO_ORDER);
	if (move) {
		assert_int_equal(zd_migrate_vma_move(&m, 0, NR, page_mem(f)), 0);
		assert_false(src[0] & ZD_MIGRATE_PFN_COMPOUND);	/* split */
		assert_false(src[NR - 1] & ZD_MIGRATE_PFN_MIGRATE);	/* dead */
	} else {
		memcpy(page_mem(f), F.buf, MiB(1));
	}
	dst[0] = dst_of(f, true);
	zd_migrate_vma_pages(&m);
	for (unsigned long k = 0; k < NR; k++)
		assert_false(src[k] & ZD_MIGRATE_PFN_MIGRATE);
	assert_no_warn(zd_migrate_vma_finalize(&m));
	assert_int_equal(order_at(F.buf), -1);
	check(F.buf, 0, MiB(1), 48);
	F.buf[0] = 1;		/* writable again */
	assert_true(wait_for(F.d->in_use == 0));
	free(src);
	free(dst);
}

static void test_unmap_mid_copy(void **state)
{
	(void)state;
	unmap_half_mid_migration(false);
}

static void test_unmap_mid_move(void **state)
{
	(void)state;
	teardown(state);
	fx_setup(MiB(4), true);
	unmap_half_mid_migration(true);
}

/* The moving path: host pages move into the folio's memory whole. */
static void test_huge_move(void **state)
{
	struct zd_mm_stats s0, s1;

	(void)state;
	teardown(state);
	fx_setup(MiB(4), true);
	fill(F.buf, F.len, 50);
	zd_mm_get_stats(F.mm, &s0);
	assert_int_equal(migrate(F.d, F.mm, F.buf, F.len, TO_DEV, NULL, true, NULL), 0);
	zd_mm_get_stats(F.mm, &s1);
	assert_int_equal(order_at(F.buf), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(s1.pages_moved - s0.pages_moved + s1.pages_copied -
			 s0.pages_copied, 2 * NR);
	assert_int_equal(migrate(F.d, F.mm, F.buf, F.len, TO_SYS, NULL, false, NULL), 0);
	check(F.buf, 0, F.len, 50);
	assert_true(wait_for(F.d->in_use == 0));
}

/* Unplug: a folio by pfn is split and each page comes home. */
static void test_device_range_splits(void **state)
{
	unsigned long *src = calloc(NR, sizeof(long)), *dst = calloc(NR, sizeof(long));
	char *stage = aligned_alloc(FOLIO, FOLIO);
	struct zd_page *p;
	unsigned long first;

	(void)state;
	fill(F.buf, FOLIO, 60);
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	assert_int_equal(zd_mm_lookup(F.mm, (unsigned long)F.buf, &p), ZD_MM_PAGE_DEVICE);
	first = zd_page_to_pfn(p);
	assert_int_equal(zd_migrate_device_range(src, first, NR), 0);
	assert_int_equal(atomic_load(&F.d->splits), NR - 1);
	for (unsigned long k = 0; k < NR; k++) {
		assert_true(src[k] & ZD_MIGRATE_PFN_MIGRATE);
		memcpy(stage + k * PG, page_mem(zd_migrate_pfn_to_page(src[k])), PG);
		dst[k] = zd_migrate_virt(stage + k * PG);
	}
	zd_migrate_device_pages(src, dst, NR);
	zd_migrate_device_finalize(src, dst, NR);
	assert_true(wait_for(F.d->in_use == 0));
	check(F.buf, 0, FOLIO, 60);
	free(stage);
	free(src);
	free(dst);
}

/* fork() brings a folio home before the child runs. */
static void test_fork_brings_folio_home(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	fill(F.buf, FOLIO, 70);
	assert_int_equal(migrate(F.d, F.mm, F.buf, FOLIO, TO_DEV, NULL, false, NULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		for (size_t i = 0; i < FOLIO; i += sizeof(unsigned int))
			if (*(unsigned int *)(F.buf + i) != (unsigned int)i * 2654435761u + 70)
				_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(atomic_load(&F.d->fault_order_bad), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(wait_for(F.d->in_use == 0));
	check(F.buf, 0, FOLIO, 70);
}

/* ---- dmirror with 2 MiB device pages ------------------------------------ */

static struct dmirror_cmd dcmd(void *addr, unsigned long npages, void *ptr)
{
	return (struct dmirror_cmd){ .mm = F.mm, .addr = (unsigned long)addr,
				     .npages = npages, .ptr = ptr };
}

static struct dmirror *dm_folio(int id)
{
	struct dmirror *dm = dmirror_create(100 + id, 128ul << 20);

	assert_non_null(dm);
	assert_int_equal(dmirror_set_folio_order(dm, 3), -EINVAL);
	assert_int_equal(dmirror_set_folio_order(NULL, ZD_HMM_FOLIO_ORDER), -EINVAL);
	assert_int_equal(dmirror_set_folio_order(dm, ZD_HMM_FOLIO_ORDER), 0);
	return dm;
}

/* Coherent memory is mapped by the CPU page by page: no folio order. */
static void test_dmirror_coherent_has_no_folios(void **state)
{
	struct dmirror *dm;

	(void)state;
	if (zd_hmm_device_coherent_supported())
		skip_msg("no DEVICE_COHERENT memory for HMM here");
	dm = dmirror_create_coherent(110, 128ul << 20);
	assert_non_null(dm);
	assert_int_equal(dmirror_set_folio_order(dm, ZD_HMM_FOLIO_ORDER), -EINVAL);
	assert_int_equal(dmirror_set_folio_order(dm, 0), 0);
	dmirror_destroy(dm);
}

/* Both ways as folios, the device reading and writing them through its
 * mirror, a CPU fault splitting one (the split callback counted). */
static void test_dmirror_folios(void **state)
{
	struct dmirror *dm = dm_folio(0);
	struct dmirror_cmd c = dcmd(F.buf, F.len / PG, NULL);
	struct dmirror_stats st;
	char *bounce = malloc(F.len);

	(void)state;
	fill(F.buf, F.len, 80);
	assert_int_equal(dmirror_migrate_to_device(dm, &c), 0);
	assert_int_equal(c.cpages, 2 * NR);
	assert_int_equal(order_at(F.buf), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(order_at(F.buf + FOLIO + 17 * PG), ZD_HMM_FOLIO_ORDER);
	dmirror_get_stats(dm, &st);
	assert_int_equal(st.pages_in_use, 2 * NR);
	/* the device reads what it holds, and writes it */
	c = dcmd(F.buf, F.len / PG, bounce);
	assert_int_equal(dmirror_read(dm, &c), 0);
	check(bounce, 0, F.len, 80);
	fill(bounce, F.len, 81);
	assert_int_equal(dmirror_write(dm, &c), 0);
	assert_int_equal(order_at(F.buf), ZD_HMM_FOLIO_ORDER);
	/* a CPU fault splits the first folio only */
	check(F.buf, 3 * PG, PG, 81);
	dmirror_get_stats(dm, &st);
	assert_int_equal(st.folio_splits, NR - 1);
	assert_int_equal(order_at(F.buf + FOLIO), ZD_HMM_FOLIO_ORDER);
	/* home: the second whole, the first's pages one by one */
	c = dcmd(F.buf, F.len / PG, NULL);
	assert_int_equal(dmirror_migrate_to_system(dm, &c), 0);
	assert_int_equal(c.cpages, 2 * NR - 1);
	check(F.buf, 0, F.len, 81);
	dmirror_get_stats(dm, &st);
	assert_true(wait_for((dmirror_get_stats(dm, &st), st.pages_in_use == 0)));
	/* again: the unsplit folio went back on the folio list, the split
	 * one's pages on the page list, so one run is a folio again */
	c = dcmd(F.buf, F.len / PG, NULL);
	assert_int_equal(dmirror_migrate_to_device(dm, &c), 0);
	assert_true(order_at(F.buf) == (int)ZD_HMM_FOLIO_ORDER ||
		    order_at(F.buf + FOLIO) == (int)ZD_HMM_FOLIO_ORDER);
	/* unplug with folios out: they are split and come home */
	assert_int_equal(dmirror_unbind(dm), 0);
	assert_int_equal(order_at(F.buf), -1);
	check(F.buf, 0, F.len, 81);
	dmirror_get_stats(dm, &st);
	assert_int_equal(st.pages_in_use, 0);
	dmirror_destroy(dm);
	free(bounce);
}

/* Unaligned commands: the aligned runs inside go whole, the rest by
 * page; a partial munmap frees the unmapped half at once. */
static void test_dmirror_unaligned_and_unmap(void **state)
{
	struct dmirror *dm = dm_folio(1);
	struct dmirror_cmd c = dcmd(F.buf + PG, F.len / PG - 1, NULL);
	struct dmirror_stats st;

	(void)state;
	fill(F.buf, F.len, 90);
	assert_int_equal(dmirror_migrate_to_device(dm, &c), 0);
	assert_int_equal(c.cpages, 2 * NR - 1);
	assert_int_equal(order_at(F.buf + PG), 0);
	assert_int_equal(order_at(F.buf + FOLIO), ZD_HMM_FOLIO_ORDER);
	assert_int_equal(punch(F.buf + FOLIO, MiB(1)), 0);
	assert_int_equal(zd_mm_device_pages(F.mm), 2 * NR - 1 - NR / 2);
	dmirror_get_stats(dm, &st);
	assert_int_equal(st.folio_splits, NR - 1);
	assert_int_equal(st.pages_in_use, 2 * NR - 1 - NR / 2);
	check(F.buf, PG, FOLIO - PG, 90);
	check(F.buf, FOLIO + MiB(1), MiB(1), 90);
	dmirror_get_stats(dm, &st);
	assert_true(wait_for((dmirror_get_stats(dm, &st), st.pages_in_use == 0)));
	dmirror_destroy(dm);
}

static void *touch(void *p)
{
	return (void *)(uintptr_t)*(volatile char *)p;
}

struct dread {
	struct dmirror *dm;
	void *addr, *buf;
	int err;
};

static void *device_read(void *arg)
{
	struct dread *r = arg;
	struct dmirror_cmd c = dcmd(r->addr, 1, r->buf);

	r->err = dmirror_read(r->dm, &c);
	return NULL;
}

/* A device reading a folio while a CPU fault splits it: the mirror let
 * go of the folio before its count was frozen, so the device's read
 * waits for the split instead of taking a reference on a frozen folio
 * (which zd_get_page() would refuse: the page then freed under it). */
static void test_split_races_device_read(void **state)
{
	struct dmirror *dm = dm_folio(2);
	struct dmirror_cmd c = dcmd(F.buf, NR, NULL);
	struct dread r = { dm, F.buf + 7 * PG, malloc(PG), -1 };
	struct dmirror_stats st;
	pthread_t ta, tb;

	(void)state;
	fill(F.buf, FOLIO, 95);
	assert_int_equal(dmirror_migrate_to_device(dm, &c), 0);
	assert_int_equal(order_at(F.buf), ZD_HMM_FOLIO_ORDER);
	dmirror_get_stats(dm, &st);
	assert_int_equal(st.mirror_entries, NR);
	test_reset_warnings();
	assert_int_equal(zd_fault_inject_pause("hmm.folio.split", 2000), 0);
	assert_int_equal(pthread_create(&ta, NULL, touch, F.buf), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	/* frozen, and the mirror empty: the read must wait */
	dmirror_get_stats(dm, &st);
	assert_int_equal(st.mirror_entries, 0);
	assert_int_equal(pthread_create(&tb, NULL, device_read, &r), 0);
	test_sleep_us(50000);
	zd_fault_inject_resume();
	zd_fault_inject_reset();
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(r.err, 0);
	{
		char copy[4096];

		assert_false(test_warned("get refused", copy, sizeof(copy)));
	}
	check(F.buf, 0, FOLIO, 95);
	assert_memory_equal(r.buf, F.buf + 7 * PG, PG);
	assert_true(wait_for((dmirror_get_stats(dm, &st), st.pages_in_use == 0)));
	dmirror_destroy(dm);
	free(r.buf);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_huge_empty),
		T(test_huge_both_ways),
		T(test_huge_fault),
		T(test_refused_compound),
		T(test_compound_dst_errors),
		T(test_mixed_run_goes_by_page),
		T(test_partial_unmap_fault),
		T(test_remap_fault),
		T(test_held_folio_not_split),
		T(test_fault_waits_for_held_folio),
		T(test_exclusive_on_folio),
		T(test_unmap_mid_copy),
		T(test_unmap_mid_move),
		T(test_huge_move),
		T(test_device_range_splits),
		T(test_fork_brings_folio_home),
		T(test_dmirror_folios),
		T(test_dmirror_unaligned_and_unmap),
		T(test_split_races_device_read),
		T(test_dmirror_coherent_has_no_folios),
	};

	test_capture_warnings();
	test_require_userfaultfd();
	return zd_run_tests(tests);
}
