// SPDX-License-Identifier: MIT
/*
 * Misuse of pages and memremap.  Built with ZD_NO_INLINE, so that the
 * inline helpers of mm.h and memremap.h are called through their
 * exported functions, which is what a binding calls.
 *
 * No bad input applies to: zd_page_size, zd_max_physmem_bits (no
 * arguments), zd_vmem_altmap_offset(NULL) and zd_set_progress(NULL)
 * (documented as allowed), zd_phys_to_virt and zd_virt_to_phys (any
 * number is an address).
 */
#define ZD_NO_INLINE
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "misuse.h"

#define PFN(phys)	((unsigned long)((phys) >> zd_page_shift))

/* A page that is not in any memmap: zero-filled, on the heap. */
static struct zd_page *foreign_page(void)
{
	struct zd_page *p = calloc(1, sizeof(*p));

	M_SETUP(p);
	return p;
}

static struct zd_page *generic_page(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	return zd_pfn_to_page(PFN(DEV_BASE) + 1);
}

/* A free device-private page (count zero). */
static struct zd_page *private_page(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	return zd_pfn_to_page(PFN(DEV_BASE) + 1);
}

/* ---- mm.h ----------------------------------------------------------------- */

static void pfn_to_page_early(void)
{
	unsigned long pfn = PFN(DEV_BASE);
	struct zd_page *page;

	m_arm();
	page = zd_pfn_to_page(pfn);
	/* NULL (reported), or the page where the vmemmap will have it */
	m_expect_val_nowarn((!page && m_warned()) ||
			    (zd_vmemmap && page == zd_vmemmap + pfn), 1);
}

static void page_to_pfn_null(void)
{
	m_arm();
	(void)zd_page_to_pfn(NULL);
	m_expect_warn();
}

static void page_address_null(void)
{
	m_arm();
	m_expect_null(zd_page_address(NULL), 0);
}

static void page_ref_count_null(void)
{
	m_arm();
	m_expect_val(zd_page_ref_count(NULL), 0);
}

static void pfn_valid_huge(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	m_arm();
	m_expect_val_nowarn(zd_pfn_valid(ULONG_MAX), false);
}

static void pfn_valid_early(void)
{
	m_arm();
	m_expect_val_nowarn(zd_pfn_valid(PFN(DEV_BASE)), false);
}

#define PAGE_PRED_NULL(name, fn)					\
static void name(void)							\
{									\
	m_arm();							\
	m_expect_val(fn(NULL), false);					\
}
PAGE_PRED_NULL(is_zd_null, zd_is_zone_device_page)
PAGE_PRED_NULL(is_private_null, zd_is_device_private_page)
PAGE_PRED_NULL(is_coherent_null, zd_is_device_coherent_page)
PAGE_PRED_NULL(is_p2p_null, zd_is_pci_p2pdma_page)

static void get_page_null(void)
{
	m_arm();
	zd_get_page(NULL);
	m_expect_warn();
}

static void get_page_free(void)
{
	struct zd_page *page = private_page();

	m_arm();
	zd_get_page(page);
	m_expect_warn();
	m_state(zd_page_ref_count(page) == 0, "a free page was taken");
}

static void get_page_foreign(void)
{
	struct zd_page *page = foreign_page();

	page->_refcount = 1;
	m_arm();
	zd_get_page(page);
	m_expect_warn();
	m_state(zd_page_ref_count(page) == 1, "count changed");
}

static void put_page_null(void)
{
	m_arm();
	zd_put_page(NULL);
	m_expect_warn();
}

static void put_page_free(void)
{
	struct zd_page *page = private_page();

	m_arm();
	zd_put_page(page);
	m_expect_warn();
	m_state(zd_page_ref_count(page) == 0, "count went below zero");
	m_state(m_page_frees == 0, "page_free ran");
}

static void put_page_foreign(void)
{
	struct zd_page *page = foreign_page();

	page->_refcount = 1;
	m_arm();
	zd_put_page(page);
	m_expect_warn();
	m_state(zd_page_ref_count(page) == 1, "count changed");
}

static void ref_add_null(void)
{
	m_arm();
	zd_page_ref_add(NULL, 1);
	m_expect_warn();
}

static void ref_add_huge(void)
{
	struct zd_page *page = generic_page();

	m_arm();
	zd_page_ref_add(page, INT_MAX);
	m_expect_warn();
	m_state(zd_page_ref_count(page) == 1, "count overflowed");
}

static void ref_sub_null(void)
{
	m_arm();
	zd_page_ref_sub(NULL, 1);
	m_expect_warn();
}

static void ref_sub_below_zero(void)
{
	struct zd_page *page = generic_page();

	m_arm();
	zd_page_ref_sub(page, 2);
	m_expect_warn();
	m_state(zd_page_ref_count(page) == 1, "count went below zero");
}

static void ref_sub_return_null(void)
{
	m_arm();
	(void)zd_page_ref_sub_return(NULL, 1);
	m_expect_warn();
}

static void ref_sub_return_below_zero(void)
{
	struct zd_page *page = generic_page();

	m_arm();
	(void)zd_page_ref_sub_return(page, 2);
	m_expect_warn();
	m_state(zd_page_ref_count(page) == 1, "count went below zero");
}

static void dec_and_test_null(void)
{
	m_arm();
	m_expect_val(zd_page_ref_dec_and_test(NULL), false);
}

static void dec_and_test_zero(void)
{
	struct zd_page *page = private_page();

	m_arm();
	m_expect_val(zd_page_ref_dec_and_test(page), false);
	m_state(zd_page_ref_count(page) == 0, "count went below zero");
}

static void set_count_null(void)
{
	m_arm();
	zd_set_page_count(NULL, 1);
	m_expect_warn();
}

static void set_count_negative(void)
{
	struct zd_page *page = generic_page();

	m_arm();
	zd_set_page_count(page, -1);
	m_expect_warn();
	m_state(zd_page_ref_count(page) == 1, "count set negative");
}

static void page_init_null(void)
{
	m_arm();
	m_expect_err(zd_zone_device_page_init(NULL), -EINVAL);
}

static void page_init_twice(void)
{
	struct zd_page *page = private_page();
	struct zd_dev_pagemap *pgmap = page->pgmap;

	M_SETUP(zd_zone_device_page_init(page) == 0);
	m_arm();
	/* mm.h: -EBUSY for a page in use, -EINVAL for a page never usable */
	m_expect_err(zd_zone_device_page_init(page), -EBUSY);
	m_state(zd_page_ref_count(page) == 1, "count changed");
	/* one put frees it: page_free, and the pgmap ref it took goes */
	zd_put_page(page);
	m_state(m_page_frees == 1 && zd_page_ref_count(page) == 0,
		"the page did not come free with one put");
	zd_memunmap_pages(pgmap);	/* hangs if a pgmap ref leaked */
}

static void page_init_generic(void)
{
	struct zd_page *page = generic_page();

	m_arm();
	m_expect_err(zd_zone_device_page_init(page), -EINVAL);
	m_state(zd_page_ref_count(page) == 1, "count changed");
	m_state(!(page->flags & ZD_PG_LOCKED), "page locked");
}

static void page_init_foreign(void)
{
	struct zd_page *page = foreign_page();

	m_arm();
	m_expect_err(zd_zone_device_page_init(page), -EINVAL);
	m_state(zd_page_ref_count(page) == 0, "count changed");
}

static void *unmapper(void *arg)
{
	zd_memunmap_pages(arg);
	return NULL;
}

static void page_init_dying(void)
{
	struct zd_page *page = private_page();
	struct zd_dev_pagemap *pgmap = page->pgmap;
	pthread_t t;

	M_SETUP(zd_get_dev_pagemap(PFN(DEV_BASE), NULL) == pgmap);
	M_SETUP(pthread_create(&t, NULL, unmapper, pgmap) == 0);
	while (!zd_percpu_ref_is_dying(&pgmap->ref))
		sched_yield();
	m_arm();
	m_expect_err(zd_zone_device_page_init(page), -ENODEV);
	zd_put_dev_pagemap(pgmap);
	pthread_join(t, NULL);
}

static void folio_init_null(void)
{
	m_arm();
	m_expect_err(zd_zone_device_folio_init(NULL, NULL, 0), -EINVAL);
}

static struct zd_folio *private_folio(void)
{
	return (struct zd_folio *)(private_page() - 1);	/* pfn aligned */
}

static void folio_init_other_pgmap(void)
{
	struct zd_folio *f = private_folio();
	struct zd_dev_pagemap other = { 0 };

	m_arm();
	m_expect_err(zd_zone_device_folio_init(f, &other, 0), -EINVAL);
	m_state(zd_page_ref_count(&f->page) == 0, "count changed");
}

static void folio_init_huge_order(void)
{
	struct zd_folio *f = private_folio();

	m_arm();
	m_expect_err(zd_zone_device_folio_init(f, f->page.pgmap, 40), -EINVAL);
	m_state(zd_page_ref_count(&f->page) == 0, "count changed");
}

static void folio_init_misaligned(void)
{
	struct zd_page *page = private_page();		/* pfn odd */

	m_arm();
	m_expect_err(zd_zone_device_folio_init((struct zd_folio *)page,
					       page->pgmap, 1), -EINVAL);
	m_state(zd_page_ref_count(page) == 0, "count changed");
}

static void folio_init_inside_live(void)
{
	struct zd_folio *f = private_folio();
	struct zd_dev_pagemap *pgmap = f->page.pgmap;

	M_SETUP(zd_zone_device_folio_init(f, pgmap, 3) == 0);
	m_arm();
	m_expect_err(zd_zone_device_folio_init((struct zd_folio *)(&f->page + 4),
					       pgmap, 2), -EBUSY);
	m_state(zd_page_folio(&f->page + 5) == f, "the live folio lost a tail");
	zd_put_page(&f->page + 5);
	m_state(m_page_frees == 1, "the folio did not come free");
	zd_memunmap_pages(pgmap);	/* hangs if a pgmap ref leaked */
}

static void page_folio_null(void)
{
	m_arm();
	m_expect_null(zd_page_folio(NULL), EINVAL);
}

static void folio_page_null(void)
{
	m_arm();
	m_expect_null(zd_folio_page(NULL, 0), EINVAL);
}

static void folio_page_past_end(void)
{
	struct zd_folio *f = private_folio();

	M_SETUP(zd_zone_device_folio_init(f, f->page.pgmap, 2) == 0);
	m_arm();
	m_expect_null(zd_folio_page(f, 4), EINVAL);
}

static void folio_order_null(void)
{
	m_arm();
	m_expect_val(zd_folio_order(NULL), 0);
}

static void folio_nr_pages_null(void)
{
	m_arm();
	m_expect_val(zd_folio_nr_pages(NULL), 0);
}

static void unlock_null(void)
{
	m_arm();
	zd_unlock_page(NULL);
	m_expect_warn();
}

static void unlock_unlocked(void)
{
	struct zd_page *page = private_page();

	m_arm();
	zd_unlock_page(page);
	m_expect_warn();
}

/* ---- memremap.h ----------------------------------------------------------- */

/* @p would map: nothing of the failed attempt is left behind. */
static bool maps_again(struct zd_dev_pagemap *p)
{
	return zd_memremap_pages(p, ZD_NUMA_NO_NODE) != NULL &&
	       zd_get_dev_pagemap(PFN(p->range.start), NULL) == p;
}

static void remap_null(void)
{
	m_arm();
	m_expect_null(zd_memremap_pages(NULL, 0), EINVAL);
}

/* A GENERIC pgmap at DEV_BASE broken by @mutate must fail with @err. */
static void remap_bad(void (*mutate)(struct zd_dev_pagemap *), int err)
{
	struct zd_dev_pagemap *p = m_pgmap_new(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE,
					       MiB(4));
	struct zd_dev_pagemap *good = m_pgmap_new(ZD_MEMORY_DEVICE_GENERIC,
						  DEV_BASE, MiB(4));

	void *va;

	mutate(p);
	m_arm();
	va = zd_memremap_pages(p, ZD_NUMA_NO_NODE);
	m_expect_null(va, err);
	if (va)
		return;		/* mapped: the range is taken, rightly */
	m_state(zd_get_dev_pagemap(PFN(DEV_BASE), NULL) == NULL, "pages left behind");
	m_state(maps_again(good), "the range cannot be mapped again");
}

static void mut_type0(struct zd_dev_pagemap *p) { p->type = 0; }
static void mut_type99(struct zd_dev_pagemap *p) { p->type = 99; }
static void mut_nr0(struct zd_dev_pagemap *p) { p->nr_range = 0; }
static void mut_nrneg(struct zd_dev_pagemap *p) { p->nr_range = -1; }
static void mut_unaligned(struct zd_dev_pagemap *p) { p->range.start += 4096; }
static void mut_reversed(struct zd_dev_pagemap *p) { p->range.end = p->range.start - 1; }
static void mut_shift(struct zd_dev_pagemap *p) { p->vmemmap_shift = 40; }
static void mut_flags(struct zd_dev_pagemap *p) { p->flags = 1u << 7; }
static void mut_kind(struct zd_dev_pagemap *p) { p->backing.kind = 7; }
static void mut_badfd(struct zd_dev_pagemap *p)
{
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = 999;
}
static void mut_short(struct zd_dev_pagemap *p)
{
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = m_memfd(MiB(1));
}
static void mut_offset(struct zd_dev_pagemap *p)
{
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = m_memfd(MiB(4));
	p->backing.offset = 100;
}

#define REMAP_BAD(name, mut, err) static void name(void) { remap_bad(mut, err); }
REMAP_BAD(remap_type0, mut_type0, EINVAL)
REMAP_BAD(remap_type99, mut_type99, EINVAL)
REMAP_BAD(remap_nr0, mut_nr0, EINVAL)
REMAP_BAD(remap_nrneg, mut_nrneg, EINVAL)
REMAP_BAD(remap_unaligned, mut_unaligned, EINVAL)
REMAP_BAD(remap_reversed, mut_reversed, EINVAL)
REMAP_BAD(remap_shift, mut_shift, EINVAL)
REMAP_BAD(remap_flags, mut_flags, EINVAL)
REMAP_BAD(remap_kind, mut_kind, EINVAL)
REMAP_BAD(remap_badfd, mut_badfd, 0)
REMAP_BAD(remap_short, mut_short, 0)
REMAP_BAD(remap_offset, mut_offset, EINVAL)

static void remap_ram(void)
{
	struct zd_dev_pagemap *p = m_pgmap_new(ZD_MEMORY_DEVICE_GENERIC, GiB(1),
					       MiB(2));

	m_arm();
	m_expect_null(zd_memremap_pages(p, 0), ENXIO);
}

static void remap_beyond(void)
{
	struct zd_dev_pagemap *p = m_pgmap_new(ZD_MEMORY_DEVICE_GENERIC,
					       1ull << 50, MiB(2));

	m_arm();
	m_expect_null(zd_memremap_pages(p, 0), ERANGE);
}

static void remap_private_no_ops(void)
{
	struct zd_dev_pagemap *p = m_pgmap_new(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE,
					       MiB(2));

	p->ops = NULL;
	m_arm();
	m_expect_null(zd_memremap_pages(p, 0), EINVAL);
}

static void remap_twice(void)
{
	struct zd_dev_pagemap *p = m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC,
						  DEV_BASE, MiB(2));

	m_arm();
	m_expect_null(zd_memremap_pages(p, 0), 0);
	m_state(zd_get_dev_pagemap(PFN(DEV_BASE), NULL) == p, "pgmap lost");
	m_state(zd_page_ref_count(zd_pfn_to_page(PFN(DEV_BASE))) == 1,
		"pages reinitialised");
}

static void remap_overlap_self(void)
{
	struct zd_dev_pagemap *p = calloc(1, sizeof(*p) + sizeof(struct zd_range));

	M_SETUP(p);
	p->type = ZD_MEMORY_DEVICE_GENERIC;
	p->nr_range = 2;
	p->ranges[0] = (struct zd_range){ DEV_BASE, DEV_BASE + MiB(4) - 1 };
	p->ranges[1] = (struct zd_range){ DEV_BASE + MiB(2), DEV_BASE + MiB(6) - 1 };
	m_arm();
	m_expect_null(zd_memremap_pages(p, 0), 0);
	m_state(zd_get_dev_pagemap(PFN(DEV_BASE), NULL) == NULL, "pages left behind");
}

static void unmap_null(void)
{
	m_arm();
	zd_memunmap_pages(NULL);
	m_expect_warn();
}

static void unmap_never_mapped(void)
{
	m_arm();
	zd_memunmap_pages(m_pgmap_new(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2)));
	m_expect_warn();
}

static void unmap_twice(void)
{
	struct zd_dev_pagemap *p = m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC,
						  DEV_BASE, MiB(2));

	zd_memunmap_pages(p);
	m_arm();
	zd_memunmap_pages(p);
	m_expect_warn();
	m_state(maps_again(p), "the range cannot be mapped again");
}

static void devm_remap_null_dev(void)
{
	struct zd_dev_pagemap *p = m_pgmap_new(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE,
					       MiB(2));

	m_arm();
	m_expect_null(zd_devm_memremap_pages(NULL, p), EINVAL);
	m_state(zd_get_dev_pagemap(PFN(DEV_BASE), NULL) == NULL, "mapped anyway");
}

static void devm_remap_null_pgmap(void)
{
	m_arm();
	m_expect_null(zd_devm_memremap_pages(m_dev_new("mis-m1"), NULL), EINVAL);
}

static void devm_remap_raw_dev(void)
{
	struct zd_device *dev = calloc(1, sizeof(*dev));

	M_SETUP(dev);
	m_arm();
	m_expect_null(zd_devm_memremap_pages(dev, m_pgmap_new(
			ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2))), 0);
	m_state(zd_get_dev_pagemap(PFN(DEV_BASE), NULL) == NULL, "mapped anyway");
}

static void devm_unmap_null(void)
{
	struct zd_dev_pagemap *p = m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC,
						  DEV_BASE, MiB(2));

	m_arm();
	zd_devm_memunmap_pages(NULL, p);
	m_expect_warn();
}

/* Mapped with zd_memremap_pages(), not on @dev's devres. */
static void devm_unmap_foreign(void)
{
	struct zd_device *dev = m_dev_new("mis-m2");
	struct zd_dev_pagemap *p = m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC,
						  DEV_BASE, MiB(2));
	struct zd_dev_pagemap *got;

	m_arm();
	zd_devm_memunmap_pages(dev, p);
	m_expect_warn();
	got = zd_get_dev_pagemap(PFN(DEV_BASE), NULL);
	m_state(got == p, "unmapped anyway");
}

static void devm_unmap_other_dev(void)
{
	struct zd_device *a = m_dev_new("mis-m3"), *b = m_dev_new("mis-m4");
	struct zd_dev_pagemap *p = m_pgmap_new(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE,
					       MiB(2));

	M_SETUP(zd_devm_memremap_pages(a, p));
	m_arm();
	zd_devm_memunmap_pages(b, p);
	m_expect_warn();
	m_state(zd_get_dev_pagemap(PFN(DEV_BASE), NULL) == p, "unmapped anyway");
}

static void get_pagemap_huge(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	m_arm();
	m_expect_null_nowarn(zd_get_dev_pagemap(ULONG_MAX, NULL), 0);
}

static void get_pagemap_early(void)
{
	m_arm();
	m_expect_null_nowarn(zd_get_dev_pagemap(PFN(DEV_BASE), NULL), 0);
}

static void get_pagemap_slow_huge(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	m_arm();
	m_expect_null_nowarn(zd__get_dev_pagemap_slow(ULONG_MAX, NULL), 0);
}

static void put_pagemap_extra(void)
{
	struct zd_dev_pagemap *p = m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC,
						  DEV_BASE, MiB(2));

	M_SETUP(zd_get_dev_pagemap(PFN(DEV_BASE), NULL) == p);
	zd_put_dev_pagemap(p);
	m_arm();
	zd_put_dev_pagemap(p);		/* one too many */
	zd_memunmap_pages(p);		/* the count is exact only now */
	m_expect_warn();
}

static void pfn_valid_null(void)
{
	m_arm();
	m_expect_val(zd_pgmap_pfn_valid(NULL, PFN(DEV_BASE)), false);
}

static void for_each_null(void)
{
	m_arm();
	m_expect_err(zd_pgmap_for_each(NULL, NULL), ANY_ERR);
}

static void in_use_null(void)
{
	m_arm();
	m_expect_val(zd_pgmap_pages_in_use(NULL), 0);
}

static void in_use_unmapped(void)
{
	m_arm();
	m_expect_val(zd_pgmap_pages_in_use(m_pgmap_new(ZD_MEMORY_DEVICE_GENERIC,
						       DEV_BASE, MiB(2))), 0);
}

static void type_name_bad(void)
{
	m_arm();
	m_expect_val_nowarn(strcmp(zd_memory_type_name(99), "INVALID") == 0 &&
			    strcmp(zd_memory_type_name(0), "INVALID") == 0 &&
			    strcmp(zd_memory_type_name(-1), "INVALID") == 0, 1);
}

#define W	"WARN"
#define FALSEW	"false+WARN"
#define NULLEINV "NULL/EINVAL+WARN"
#define LEFT	", nothing left"

const struct mcase misuse_mm_cases[] = {
	{ "zd_pfn_to_page", "wrong state: before any memremap", "NULL+WARN or the vmemmap page", pfn_to_page_early },
	{ "zd_page_to_pfn", "NULL", W, page_to_pfn_null },
	{ "zd_page_address", "NULL", "NULL+WARN", page_address_null },
	{ "zd_page_ref_count", "NULL", "0+WARN", page_ref_count_null },
	{ "zd_pfn_valid", "huge: ULONG_MAX", "false", pfn_valid_huge },
	{ "zd_pfn_valid", "wrong state: before any memremap", "false", pfn_valid_early },
	{ "zd_is_zone_device_page", "NULL", FALSEW, is_zd_null },
	{ "zd_is_device_private_page", "NULL", FALSEW, is_private_null },
	{ "zd_is_device_coherent_page", "NULL", FALSEW, is_coherent_null },
	{ "zd_is_pci_p2pdma_page", "NULL", FALSEW, is_p2p_null },
	{ "zd_get_page", "NULL", W, get_page_null },
	{ "zd_get_page", "dead: a free private page", "WARN, refused", get_page_free },
	{ "zd_get_page", "foreign: not ZONE_DEVICE", "WARN, refused", get_page_foreign },
	{ "zd_put_page", "NULL", W, put_page_null },
	{ "zd_put_page", "double release: a free private page", "WARN, ignored", put_page_free },
	{ "zd_put_page", "foreign: not ZONE_DEVICE", "WARN, ignored", put_page_foreign },
	{ "zd_page_ref_add", "NULL", W, ref_add_null },
	{ "zd_page_ref_add", "huge: INT_MAX", "WARN, count kept", ref_add_huge },
	{ "zd_page_ref_sub", "NULL", W, ref_sub_null },
	{ "zd_page_ref_sub", "double release: below zero", "WARN, count kept", ref_sub_below_zero },
	{ "zd_page_ref_sub_return", "NULL", W, ref_sub_return_null },
	{ "zd_page_ref_sub_return", "double release: below zero", "WARN, count kept", ref_sub_return_below_zero },
	{ "zd_page_ref_dec_and_test", "NULL", FALSEW, dec_and_test_null },
	{ "zd_page_ref_dec_and_test", "double release: at zero", FALSEW ", count kept", dec_and_test_zero },
	{ "zd_set_page_count", "NULL", W, set_count_null },
	{ "zd_set_page_count", "huge: negative count", "WARN, count kept", set_count_negative },
	{ "zd_zone_device_page_init", "NULL", "-EINVAL+WARN", page_init_null },
	{ "zd_zone_device_page_init", "already done: twice", "-EBUSY+WARN, no ref leak", page_init_twice },
	{ "zd_zone_device_page_init", "wrong type: GENERIC page", "-EINVAL+WARN, unchanged", page_init_generic },
	{ "zd_zone_device_page_init", "foreign: not ZONE_DEVICE", "-EINVAL+WARN", page_init_foreign },
	{ "zd_zone_device_page_init", "dead: pgmap being torn down", "-ENODEV+WARN", page_init_dying },
	{ "zd_zone_device_folio_init", "NULL", "-EINVAL+WARN", folio_init_null },
	{ "zd_zone_device_folio_init", "foreign: another pgmap", "-EINVAL+WARN, unchanged", folio_init_other_pgmap },
	{ "zd_zone_device_folio_init", "huge: order 40", "-EINVAL+WARN, unchanged", folio_init_huge_order },
	{ "zd_zone_device_folio_init", "unaligned: odd pfn, order 1", "-EINVAL+WARN, unchanged", folio_init_misaligned },
	{ "zd_zone_device_folio_init", "already done: inside a live folio", "-EBUSY+WARN, folio kept", folio_init_inside_live },
	{ "zd_page_folio", "NULL", NULLEINV, page_folio_null },
	{ "zd_folio_page", "NULL", NULLEINV, folio_page_null },
	{ "zd_folio_page", "huge: page past the end", NULLEINV, folio_page_past_end },
	{ "zd_folio_order", "NULL", "0+WARN", folio_order_null },
	{ "zd_folio_nr_pages", "NULL", "0+WARN", folio_nr_pages_null },
	{ "zd_unlock_page", "NULL", W, unlock_null },
	{ "zd_unlock_page", "wrong state: not locked", W, unlock_unlocked },

	{ "zd_memremap_pages", "NULL", NULLEINV, remap_null },
	{ "zd_memremap_pages", "zero: type 0", NULLEINV LEFT, remap_type0 },
	{ "zd_memremap_pages", "wrong type: type 99", NULLEINV LEFT, remap_type99 },
	{ "zd_memremap_pages", "zero: nr_range 0", NULLEINV LEFT, remap_nr0 },
	{ "zd_memremap_pages", "huge: nr_range -1", NULLEINV LEFT, remap_nrneg },
	{ "zd_memremap_pages", "unaligned: start + 4 KiB", NULLEINV LEFT, remap_unaligned },
	{ "zd_memremap_pages", "zero: end before start", NULLEINV LEFT, remap_reversed },
	{ "zd_memremap_pages", "huge: vmemmap_shift 40", NULLEINV LEFT, remap_shift },
	{ "zd_memremap_pages", "wrong type: unknown flags", NULLEINV LEFT, remap_flags },
	{ "zd_memremap_pages", "wrong type: unknown backing kind", NULLEINV LEFT, remap_kind },
	{ "zd_memremap_pages", "foreign: backing fd not open", "NULL+WARN" LEFT, remap_badfd },
	{ "zd_memremap_pages", "huge: backing file shorter than range", "NULL+WARN" LEFT, remap_short },
	{ "zd_memremap_pages", "unaligned: backing offset 100", NULLEINV LEFT, remap_offset },
	{ "zd_memremap_pages", "foreign: System RAM", "NULL/ENXIO+WARN", remap_ram },
	{ "zd_memremap_pages", "huge: beyond the physical space", "NULL/ERANGE+WARN", remap_beyond },
	{ "zd_memremap_pages", "NULL ops (DEVICE_PRIVATE)", NULLEINV, remap_private_no_ops },
	{ "zd_memremap_pages", "already done: mapped twice", "NULL+WARN, pgmap kept", remap_twice },
	{ "zd_memremap_pages", "foreign: its own ranges overlap", "NULL+WARN" LEFT, remap_overlap_self },
	{ "zd_memunmap_pages", "NULL", W, unmap_null },
	{ "zd_memunmap_pages", "wrong state: never mapped", "WARN, no hang", unmap_never_mapped },
	{ "zd_memunmap_pages", "double release: twice", "WARN, range reusable", unmap_twice },
	{ "zd_devm_memremap_pages", "NULL device", NULLEINV, devm_remap_null_dev },
	{ "zd_devm_memremap_pages", "NULL pgmap", NULLEINV, devm_remap_null_pgmap },
	{ "zd_devm_memremap_pages", "wrong state: never initialised dev", "NULL+WARN, not mapped", devm_remap_raw_dev },
	{ "zd_devm_memunmap_pages", "NULL device", W, devm_unmap_null },
	{ "zd_devm_memunmap_pages", "foreign: not a devm pgmap", "WARN, kept", devm_unmap_foreign },
	{ "zd_devm_memunmap_pages", "foreign: another device's", "WARN, kept", devm_unmap_other_dev },
	{ "zd_get_dev_pagemap", "huge: pfn ULONG_MAX", "NULL", get_pagemap_huge },
	{ "zd_get_dev_pagemap", "wrong state: before any memremap", "NULL", get_pagemap_early },
	{ "zd__get_dev_pagemap_slow", "huge: pfn ULONG_MAX", "NULL", get_pagemap_slow_huge },
	{ "zd_put_dev_pagemap", "double release: one put too many", "WARN, unmap ends", put_pagemap_extra },
	{ "zd_pgmap_pfn_valid", "NULL pgmap", FALSEW, pfn_valid_null },
	{ "zd_pgmap_for_each", "NULL callback", "-errno+WARN", for_each_null },
	{ "zd_pgmap_pages_in_use", "NULL", "0+WARN", in_use_null },
	{ "zd_pgmap_pages_in_use", "wrong state: never mapped", "0+WARN", in_use_unmapped },
	{ "zd_memory_type_name", "huge: 99, 0, -1", "\"INVALID\"", type_name_bad },
	{ 0 }
};
