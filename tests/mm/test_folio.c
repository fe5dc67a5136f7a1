// SPDX-License-Identifier: MIT
/*
 * Device folios: 2^order pages handed out under one count, freed as one,
 * handed out again at another order with nothing left of the last one.
 */
#include <errno.h>
#include <pthread.h>

#include "mm_util.h"

#define ORDER9	(ZD_SUBSECTION_SHIFT - zd_page_shift)

static atomic_int frees;
static struct zd_page *last_freed;

static void count_free(struct zd_page *page)
{
	last_freed = page;
	atomic_fetch_add(&frees, 1);
}

static int fake_migrate(struct zd_vm_fault *vmf)
{
	(void)vmf;
	return 0;
}

static const struct zd_dev_pagemap_ops ops = {
	.page_free = count_free,
	.migrate_to_ram = fake_migrate,
};

static int owner;

static int reset(void **state)
{
	(void)state;
	atomic_store(&frees, 0);
	last_freed = NULL;
	test_capture_warnings();
	return 0;
}

/* A pgmap of @type over [DEV_BASE, DEV_BASE + @len), mapped. */
static struct zd_dev_pagemap *mapped(enum zd_memory_type type, uint64_t len)
{
	struct zd_dev_pagemap *p = test_pgmap();

	p->type = type;
	p->nr_range = 1;
	p->range.start = DEV_BASE;
	p->range.end = DEV_BASE + len - 1;
	p->ops = &ops;
	p->owner = &owner;
	assert_non_null(zd_memremap_pages(p, 0));
	return p;
}

static struct zd_page *page_at(unsigned long n)
{
	return zd_pfn_to_page(phys_pfn(DEV_BASE) + n);
}

static struct zd_folio *folio_at(unsigned long n)
{
	return (struct zd_folio *)page_at(n);
}

static void test_folio_shares_one_count(void **state)
{
	struct zd_dev_pagemap *p = mapped(ZD_MEMORY_DEVICE_PRIVATE, MiB(4));
	struct zd_folio *f = folio_at(1ul << ORDER9);
	struct zd_page *tail = page_at((1ul << ORDER9) + 77);

	(void)state;
	assert_int_equal(zd_zone_device_folio_init(f, p, ORDER9), 0);
	assert_int_equal(zd_folio_order(f), ORDER9);
	assert_int_equal(zd_folio_nr_pages(f), 1ul << ORDER9);
	assert_ptr_equal(zd_page_folio(tail), f);
	assert_ptr_equal(zd_folio_page(f, 77), tail);
	assert_true(atomic_load(&f->page.flags) & ZD_PG_LOCKED);
	assert_int_equal(zd_pgmap_pages_in_use(p), 1);
	/* a tail's get and put are the folio's */
	zd_get_page(tail);
	assert_int_equal(zd_page_ref_count(&f->page), 2);
	assert_int_equal(zd_page_ref_count(tail), 0);
	zd_put_page(tail);
	assert_int_equal(atomic_load(&frees), 0);
	zd_unlock_page(&f->page);
	zd_put_page(tail);			/* the last: the folio goes */
	assert_int_equal(atomic_load(&frees), 1);
	assert_ptr_equal(last_freed, &f->page);	/* freed by its head */
	assert_int_equal(zd_pgmap_pages_in_use(p), 0);
	zd_memunmap_pages(p);			/* the pgmap reference went */
}

/* The kernel's early-2026 crash: pages of a freed large folio handed out
 * again at a smaller order still looked like tails. */
static void test_reinit_at_another_order_resets_metadata(void **state)
{
	struct zd_dev_pagemap *p = mapped(ZD_MEMORY_DEVICE_PRIVATE, MiB(2));
	struct zd_folio *big = folio_at(0);
	struct zd_page *was_tail = page_at(5);

	(void)state;
	assert_int_equal(zd_zone_device_folio_init(big, p, ORDER9), 0);
	zd_put_page(&big->page);
	assert_int_equal(atomic_load(&frees), 1);
	/* page 5 alone, then page 0 alone, then pages 4..7 as order 2 */
	assert_int_equal(zd_zone_device_page_init(was_tail), 0);
	assert_ptr_equal(zd_page_folio(was_tail), was_tail);
	assert_int_equal(zd_folio_order(zd_page_folio(was_tail)), 0);
	assert_false(atomic_load(&was_tail->flags) & (ZD_PG_TAIL | ZD_PG_HEAD));
	zd_get_page(was_tail);
	assert_int_equal(zd_page_ref_count(was_tail), 2);
	assert_int_equal(zd_page_ref_count(&big->page), 0);
	zd_put_page(was_tail);
	assert_int_equal(zd_zone_device_page_init(&big->page), 0);
	assert_int_equal(zd_folio_order(big), 0);
	assert_int_equal(zd_folio_nr_pages(big), 1);
	assert_false(atomic_load(&big->page.flags) & ZD_PG_HEAD);
	zd_put_page(&big->page);
	zd_put_page(was_tail);
	assert_int_equal(atomic_load(&frees), 3);
	assert_int_equal(zd_zone_device_folio_init(folio_at(4), p, 2), 0);
	assert_ptr_equal(zd_page_folio(was_tail), folio_at(4));
	zd_put_page(was_tail);
	assert_ptr_equal(last_freed, page_at(4));
	/* and back up to the whole 2 MiB */
	assert_int_equal(zd_zone_device_folio_init(big, p, ORDER9), 0);
	assert_ptr_equal(zd_page_folio(page_at(4)), big);
	assert_ptr_equal(zd_page_folio(was_tail), big);
	zd_put_page(page_at(300));
	assert_int_equal(atomic_load(&frees), 5);
	assert_int_equal(zd_pgmap_pages_in_use(p), 0);
	zd_memunmap_pages(p);
}

static void test_folio_init_refuses_pages_in_use(void **state)
{
	struct zd_dev_pagemap *p = mapped(ZD_MEMORY_DEVICE_PRIVATE, MiB(2));

	(void)state;
	assert_int_equal(zd_zone_device_page_init(page_at(6)), 0);
	/* a folio over a page in use */
	assert_warns("in use", assert_int_equal(
		zd_zone_device_folio_init(folio_at(4), p, 2), -EBUSY));
	assert_int_equal(zd_page_ref_count(page_at(4)), 0);
	/* a page or a folio inside a folio in use */
	assert_int_equal(zd_zone_device_folio_init(folio_at(8), p, 3), 0);
	assert_warns("in use", assert_int_equal(
		zd_zone_device_page_init(page_at(9)), -EBUSY));
	assert_warns("in use", assert_int_equal(
		zd_zone_device_folio_init(folio_at(12), p, 2), -EBUSY));
	assert_warns("in use", assert_int_equal(
		zd_zone_device_folio_init(folio_at(8), p, 3), -EBUSY));
	assert_ptr_equal(zd_page_folio(page_at(13)), folio_at(8));
	zd_put_page(page_at(6));
	zd_put_page(page_at(15));
	assert_int_equal(atomic_load(&frees), 2);
	assert_int_equal(zd_pgmap_pages_in_use(p), 0);
	zd_memunmap_pages(p);		/* no pgmap reference leaked */
}

static void test_folio_init_bad_arguments(void **state)
{
	struct zd_dev_pagemap *p = mapped(ZD_MEMORY_DEVICE_PRIVATE, MiB(2));
	struct zd_dev_pagemap *other = test_pgmap();

	(void)state;
	assert_warns("NULL page", assert_int_equal(
		zd_zone_device_folio_init(NULL, p, 0), -EINVAL));
	assert_warns("not the page's", assert_int_equal(
		zd_zone_device_folio_init(folio_at(0), other, 0), -EINVAL));
	assert_warns("not the page's", assert_int_equal(
		zd_zone_device_folio_init(folio_at(0), NULL, 0), -EINVAL));
	assert_warns("too large", assert_int_equal(
		zd_zone_device_folio_init(folio_at(0), p, ORDER9 + 1), -EINVAL));
	assert_warns("alignment", assert_int_equal(
		zd_zone_device_folio_init(folio_at(2), p, 2), -EINVAL));
	assert_int_equal(zd_page_ref_count(page_at(0)), 0);
	assert_warns("NULL folio", assert_int_equal(zd_folio_order(NULL), 0));
	assert_warns("NULL folio", assert_int_equal(zd_folio_nr_pages(NULL), 0));
	assert_warns("NULL folio", assert_null(zd_folio_page(NULL, 0)));
	assert_warns("NULL page", assert_null(zd_page_folio(NULL)));
	assert_warns("page 1 of a folio of 1", assert_null(zd_folio_page(folio_at(0), 1)));
	zd_memunmap_pages(p);
}

static void test_folio_init_idle_types_refused(void **state)
{
	struct zd_dev_pagemap *p = mapped(ZD_MEMORY_DEVICE_GENERIC, MiB(2));

	(void)state;
	assert_warns("GENERIC", assert_int_equal(
		zd_zone_device_folio_init(folio_at(0), p, 2), -EINVAL));
	assert_int_equal(zd_page_ref_count(page_at(0)), 1);
	zd_memunmap_pages(p);
}

/* The compound pages a pgmap's vmemmap_shift makes are folios too: a
 * tail's reference is its head's (it used to be refused as free). */
static void test_vmemmap_shift_pages_are_folios(void **state)
{
	struct zd_dev_pagemap *p = test_pgmap();
	struct zd_page *tail;

	(void)state;
	p->type = ZD_MEMORY_DEVICE_GENERIC;
	p->nr_range = 1;
	p->range.start = DEV_BASE;
	p->range.end = DEV_BASE + MiB(4) - 1;
	p->ops = &ops;
	p->vmemmap_shift = ORDER9;
	assert_non_null(zd_memremap_pages(p, 0));
	tail = page_at((1ul << ORDER9) + 3);
	assert_int_equal(zd_folio_order(zd_page_folio(tail)), ORDER9);
	assert_no_warn(zd_get_page(tail));
	assert_int_equal(zd_page_ref_count(page_at(1ul << ORDER9)), 2);
	assert_int_equal(zd_pgmap_pages_in_use(p), 1);
	zd_put_page(tail);
	assert_int_equal(zd_pgmap_pages_in_use(p), 0);
	zd_memunmap_pages(p);
}

/* Racing hand-outs of the same free folio: exactly one wins. */
struct racer {
	struct zd_dev_pagemap *p;
	pthread_barrier_t *go;
	int err;
};

static void *race_init(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->err = zd_zone_device_folio_init(folio_at(0), r->p, 4);
	return NULL;
}

static void test_racing_folio_inits_one_wins(void **state)
{
	struct zd_dev_pagemap *p = mapped(ZD_MEMORY_DEVICE_PRIVATE, MiB(2));
	pthread_barrier_t go;

	(void)state;
	for (int round = 0; round < 200; round++) {
		struct racer r[2] = { { p, &go, 1 }, { p, &go, 1 } };
		pthread_t t[2];

		pthread_barrier_init(&go, NULL, 2);
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, race_init, &r[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		assert_int_equal((r[0].err == 0) + (r[1].err == 0), 1);
		assert_int_equal(r[0].err + r[1].err, -EBUSY);
		assert_int_equal(zd_page_ref_count(page_at(0)), 1);
		zd_put_page(page_at(9));
	}
	assert_int_equal(atomic_load(&frees), 200);
	zd_memunmap_pages(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, test_cleanup)
		T(test_folio_shares_one_count),
		T(test_reinit_at_another_order_resets_metadata),
		T(test_folio_init_refuses_pages_in_use),
		T(test_folio_init_bad_arguments),
		T(test_folio_init_idle_types_refused),
		T(test_vmemmap_shift_pages_are_folios),
		T(test_racing_folio_inits_one_wins),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
