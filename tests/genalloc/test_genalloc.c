// SPDX-License-Identifier: MIT
/* genalloc: placement identical to the kernel's, owners, bad input, races. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../test_util.h"

#define BASE	0x10000000ul
#define ORDER	12
#define G	(1ul << ORDER)

/*
 * Pools a test made, so that a failed one leaves nothing armed and no
 * pool behind.  A pool still holding allocations cannot be destroyed;
 * it only costs memory, as no other test sees it.
 */
static struct zd_gen_pool *pools[8];

static struct zd_gen_pool *pool_create(int order)
{
	struct zd_gen_pool *p = zd_gen_pool_create(order, -1);

	for (int i = 0; p && i < 8; i++)
		if (!pools[i]) {
			pools[i] = p;
			return p;
		}
	fail_msg("more than 8 pools");
	return p;
}

static int pool_destroy(struct zd_gen_pool *p)
{
	int err = zd_gen_pool_destroy(p);

	for (int i = 0; !err && i < 8; i++)
		if (pools[i] == p)
			pools[i] = NULL;
	return err;
}

static int reset(void **state)
{
	test_capture_warnings();
	zd_fault_inject_reset();
	return 0;
}

static int teardown(void **state)
{
	zd_fault_inject_reset();
	for (int i = 0; i < 8; i++)
		if (pools[i])
			pool_destroy(pools[i]);
	memset(pools, 0, sizeof(pools));
	return 0;
}

/* ---- placement: the index agrees with the bitmap scan ------------------ */

static zd_genpool_algo_t *raw_algo;

/* A custom algorithm: the pool hands it the raw bitmap, as the kernel
 * would; it runs the kernel-style scan of the chosen built-in. */
static unsigned long via_bitmap(unsigned long *map, unsigned long size,
				unsigned long start, unsigned int nr, void *data,
				struct zd_gen_pool *pool, unsigned long start_addr)
{
	return raw_algo(map, size, start, nr, data, pool, start_addr);
}

static void differential(zd_genpool_algo_t *algo, void *data, unsigned seed)
{
	struct zd_gen_pool *fast = pool_create(ORDER);
	struct zd_gen_pool *slow = pool_create(ORDER);
	enum { LIVE = 300 };
	unsigned long addr[LIVE] = { 0 };
	size_t sz[LIVE];
	int allocs = 0;

	/* two chunks, one not aligned to big powers of two */
	assert_int_equal(zd_gen_pool_add(fast, BASE, 8 << 20, -1), 0);
	assert_int_equal(zd_gen_pool_add(slow, BASE, 8 << 20, -1), 0);
	assert_int_equal(zd_gen_pool_add(fast, BASE + (9 << 20) + 3 * G, 5 << 20, -1), 0);
	assert_int_equal(zd_gen_pool_add(slow, BASE + (9 << 20) + 3 * G, 5 << 20, -1), 0);
	raw_algo = algo;
	for (int step = 0; step < 20000; step++) {
		int i = rand_r(&seed) % LIVE;

		if (addr[i]) {
			assert_int_equal(zd_gen_pool_free(fast, addr[i], sz[i]), 0);
			assert_int_equal(zd_gen_pool_free(slow, addr[i], sz[i]), 0);
			addr[i] = 0;
			continue;
		}
		/* log-uniform sizes, 1 byte .. 256 KiB */
		sz[i] = (size_t)1 << (rand_r(&seed) % 19);
		sz[i] += rand_r(&seed) % sz[i];
		addr[i] = zd_gen_pool_alloc_algo(fast, sz[i], algo, data);
		unsigned long want = zd_gen_pool_alloc_algo(slow, sz[i], via_bitmap,
							    data);
		if (addr[i] != want)
			fail_msg("step %d: %zu bytes at %#lx, the bitmap scan "
				 "says %#lx", step, sz[i], addr[i], want);
		allocs += addr[i] != 0;
	}
	assert_true(allocs > 1000);
	assert_int_equal(zd_gen_pool_avail(fast), zd_gen_pool_avail(slow));
	for (int i = 0; i < LIVE; i++)
		if (addr[i]) {
			zd_gen_pool_free(fast, addr[i], sz[i]);
			zd_gen_pool_free(slow, addr[i], sz[i]);
		}
	assert_int_equal(pool_destroy(fast), 0);
	assert_int_equal(pool_destroy(slow), 0);
}

static void test_first_fit_matches_kernel(void **state)
{
	differential(zd_gen_pool_first_fit, NULL, 1);
}

static void test_first_fit_align_matches_kernel(void **state)
{
	struct zd_genpool_data_align a = { .align = 64 << 10 };

	differential(zd_gen_pool_first_fit_align, &a, 2);
}

static void test_order_align_matches_kernel(void **state)
{
	differential(zd_gen_pool_first_fit_order_align, NULL, 3);
}

static void test_best_fit_matches_kernel(void **state)
{
	differential(zd_gen_pool_best_fit, NULL, 4);
}

static void test_placement_examples(void **state)
{
	struct zd_gen_pool *p = pool_create(ORDER);
	struct zd_genpool_data_align a = { .align = 4 * G };
	struct zd_genpool_data_fixed f = { .offset = 10 * G };
	unsigned long x, y, z;

	zd_gen_pool_add(p, BASE, 64 * G, -1);
	x = zd_gen_pool_alloc(p, G);			/* [0] */
	y = zd_gen_pool_alloc(p, 2 * G);		/* [1,2] */
	z = zd_gen_pool_alloc(p, G);			/* [3] */
	assert_int_equal(x, BASE);
	assert_int_equal(y, BASE + G);
	assert_int_equal(z, BASE + 3 * G);
	zd_gen_pool_free(p, y, 2 * G);
	/* first fit takes the hole; aligned skips to 4 */
	assert_int_equal(zd_gen_pool_alloc_algo(p, G, zd_gen_pool_first_fit_align, &a),
			 BASE + 4 * G);
	assert_int_equal(zd_gen_pool_alloc(p, G), BASE + G);
	/* best fit prefers the one-granule hole at 2 over the big tail */
	assert_int_equal(zd_gen_pool_alloc_algo(p, G, zd_gen_pool_best_fit, NULL),
			 BASE + 2 * G);
	/* order-aligned: 3 granules round to 4, so at 8 */
	assert_int_equal(zd_gen_pool_alloc_algo(p, 3 * G,
			 zd_gen_pool_first_fit_order_align, NULL), BASE + 8 * G);
	/* fixed: exactly there, or nothing */
	assert_int_equal(zd_gen_pool_alloc_algo(p, G, zd_gen_pool_fixed_alloc, &f), 0);
	f.offset = 12 * G;
	assert_int_equal(zd_gen_pool_alloc_algo(p, G, zd_gen_pool_fixed_alloc, &f),
			 BASE + 12 * G);
	f.offset = 12 * G + 1;
	assert_warns("not granule aligned", assert_int_equal(
		zd_gen_pool_alloc_algo(p, G, zd_gen_pool_fixed_alloc, &f), 0));
	/* set_algo changes the default */
	zd_gen_pool_set_algo(p, zd_gen_pool_best_fit, NULL);
	zd_gen_pool_set_algo(p, NULL, NULL);		/* back to first fit */
	assert_int_equal(zd_gen_pool_alloc(p, G), BASE + 5 * G);
	assert_int_equal(zd_gen_pool_alloc(p, 0), 0);
	assert_int_equal(zd_gen_pool_alloc(p, 65 * G), 0);
	assert_int_equal(pool_destroy(p), -EBUSY);
	/* granules 0-5, 8-10 (order-aligned), 12 are out */
	for (int i = 0; i <= 5; i++)
		assert_int_equal(zd_gen_pool_free(p, BASE + i * G, G), 0);
	assert_int_equal(zd_gen_pool_free(p, BASE + 8 * G, 3 * G), 0);
	assert_int_equal(zd_gen_pool_free(p, BASE + 12 * G, G), 0);
	assert_int_equal(pool_destroy(p), 0);
}

/*
 * Single granules take the lowest free bit without the summary tree; the
 * tree catches up before a wider search.  Holes far apart (past the
 * hint's short scan), freed out of order, mixed with wider allocations.
 */
static void test_single_granules_stay_first_fit(void **state)
{
	enum { N = 16384 };
	struct zd_gen_pool *p = pool_create(ORDER);
	static const unsigned long holes[] = { 9000, 17, 16383, 640, 641, 5000 };
	static const unsigned long sorted[] = { 17, 640, 641, 5000, 9000, 16383 };

	assert_int_equal(zd_gen_pool_add(p, BASE, N * G, -1), 0);
	for (unsigned long i = 0; i < N; i++)
		assert_int_equal(zd_gen_pool_alloc(p, G), BASE + i * G);
	assert_int_equal(zd_gen_pool_alloc(p, G), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(zd_gen_pool_free(p, BASE + holes[i] * G, G), 0);
	/* two granules fit only at 640 */
	assert_int_equal(zd_gen_pool_alloc(p, 2 * G), BASE + 640 * G);
	for (int i = 0; i < 6; i++) {
		if (sorted[i] == 640 || sorted[i] == 641)
			continue;
		assert_int_equal(zd_gen_pool_alloc(p, G), BASE + sorted[i] * G);
	}
	assert_int_equal(zd_gen_pool_alloc(p, G), 0);
	/* many more frees than the tree's queue holds, then a wide search */
	for (unsigned long i = 100; i < 164; i++)
		assert_int_equal(zd_gen_pool_free(p, BASE + i * G, G), 0);
	assert_int_equal(zd_gen_pool_alloc(p, 64 * G), BASE + 100 * G);
	assert_int_equal(zd_gen_pool_free(p, BASE + 3 * G, G), 0);
	assert_int_equal(zd_gen_pool_alloc(p, G), BASE + 3 * G);
	assert_int_equal(zd_gen_pool_avail(p), 0);
	assert_int_equal(zd_gen_pool_free(p, BASE + 100 * G, 64 * G), 0);
	assert_int_equal(zd_gen_pool_free(p, BASE + 640 * G, 2 * G), 0);
	for (unsigned long i = 0; i < N; i++)
		if ((i < 100 || i >= 164) && i != 640 && i != 641)
			assert_int_equal(zd_gen_pool_free(p, BASE + i * G, G), 0);
	assert_int_equal(pool_destroy(p), 0);
}

/* Best fit: of equal holes the lowest; the smallest hole that fits. */
static void test_best_fit_ties(void **state)
{
	struct zd_gen_pool *p = pool_create(ORDER);
	unsigned long holes[] = { 10, 11, 20, 21, 30, 31, 32 };

	zd_gen_pool_add(p, BASE, 64 * G, -1);
	for (int i = 0; i < 64; i++)
		assert_int_equal(zd_gen_pool_alloc(p, G), BASE + i * G);
	for (int i = 0; i < 7; i++)
		zd_gen_pool_free(p, BASE + holes[i] * G, G);
	assert_int_equal(zd_gen_pool_alloc_algo(p, 2 * G, zd_gen_pool_best_fit,
						NULL), BASE + 10 * G);
	assert_int_equal(zd_gen_pool_alloc_algo(p, 2 * G, zd_gen_pool_best_fit,
						NULL), BASE + 20 * G);
	assert_int_equal(zd_gen_pool_alloc_algo(p, G, zd_gen_pool_best_fit,
						NULL), BASE + 30 * G);
	/* first fit would have taken the same; now the 2-hole after it */
	assert_int_equal(zd_gen_pool_alloc_algo(p, 2 * G, zd_gen_pool_best_fit,
						NULL), BASE + 31 * G);
	assert_int_equal(zd_gen_pool_alloc(p, G), 0);		/* full */
	for (int i = 0; i < 64; i++)
		if (i != 10 && i != 11 && i != 20 && i != 21 && (i < 30 || i > 32))
			zd_gen_pool_free(p, BASE + i * G, G);
	zd_gen_pool_free(p, BASE + 10 * G, 2 * G);
	zd_gen_pool_free(p, BASE + 20 * G, 2 * G);
	zd_gen_pool_free(p, BASE + 30 * G, G);
	zd_gen_pool_free(p, BASE + 31 * G, 2 * G);
	assert_int_equal(pool_destroy(p), 0);
}

/* ---- owners, chunks, addresses ---------------------------------------- */

static int owner_a, owner_b;

static void count_chunk(struct zd_gen_pool *p, struct zd_gen_pool_chunk *c,
			void *data)
{
	int *n = data;

	if ((*n)++ == 0)		/* newest first */
		assert_ptr_equal(c->owner, &owner_b);
}

static void test_owners(void **state)
{
	struct zd_gen_pool *p = pool_create(ORDER);
	void *owner = (void *)1;
	unsigned long x, y;
	int n = 0;

	assert_int_equal(zd_gen_pool_add_owner(p, BASE, 0x900000000ull, 4 * G,
					       -1, &owner_a), 0);
	assert_int_equal(zd_gen_pool_add_owner(p, BASE + (1 << 20), 0xa00000000ull,
					       4 * G, -1, &owner_b), 0);
	/* newest chunk first, as the kernel's list */
	x = zd_gen_pool_alloc_owner(p, G, &owner);
	assert_int_equal(x, BASE + (1 << 20));
	assert_ptr_equal(owner, &owner_b);
	assert_int_equal(zd_gen_pool_virt_to_phys(p, x + 5), 0xa00000005ull);
	/* fill b: the next comes from a */
	for (int i = 0; i < 3; i++)
		zd_gen_pool_alloc(p, G);
	y = zd_gen_pool_alloc_owner(p, G, &owner);
	assert_int_equal(y, BASE);
	assert_ptr_equal(owner, &owner_a);
	/* free says whose it was */
	assert_int_equal(zd_gen_pool_free_owner(p, y, G, &owner), 0);
	assert_ptr_equal(owner, &owner_a);
	assert_int_equal(zd_gen_pool_free_owner(p, x, G, &owner), 0);
	assert_ptr_equal(owner, &owner_b);
	/* nothing fits: owner NULL */
	assert_int_equal(zd_gen_pool_alloc_owner(p, 8 * G, &owner), 0);
	assert_null(owner);
	assert_true(zd_gen_pool_has_addr(p, BASE, 4 * G));
	assert_false(zd_gen_pool_has_addr(p, BASE, 4 * G + 1));
	assert_false(zd_gen_pool_has_addr(p, BASE + 4 * G, 1));
	assert_int_equal(zd_gen_pool_virt_to_phys(p, BASE + 8 * G),
			 (zd_phys_addr_t)-1);
	assert_int_equal(zd_gen_pool_size(p), 8 * G);
	assert_int_equal(zd_gen_pool_avail(p), 5 * G);
	zd_gen_pool_for_each_chunk(p, count_chunk, &n);
	assert_int_equal(n, 2);
	for (int i = 0; i < 3; i++)
		zd_gen_pool_free(p, BASE + (1 << 20) + (i + 1) * G, G);
	assert_int_equal(pool_destroy(p), 0);
}

static void test_dma_alloc(void **state)
{
	struct zd_gen_pool *p = pool_create(6);
	char *mem = malloc(4096);
	zd_phys_addr_t dma = 0;
	char *va;

	memset(mem, 0x7f, 4096);
	zd_gen_pool_add_virt(p, (unsigned long)mem, 0x1234000, 4096, -1);
	va = zd_gen_pool_dma_zalloc(p, 100, &dma);
	assert_ptr_equal(va, mem);
	assert_int_equal(dma, 0x1234000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(va[i], 0);
	va = zd_gen_pool_dma_alloc(p, 64, &dma);
	assert_ptr_equal(va, mem + 128);	/* 100 bytes took two granules */
	assert_int_equal(dma, 0x1234000 + 128);
	zd_gen_pool_free(p, (unsigned long)mem, 100);
	zd_gen_pool_free(p, (unsigned long)mem + 128, 64);
	pool_destroy(p);
	free(mem);
}

/* ---- bad input --------------------------------------------------------- */

static void test_bad_frees_change_nothing(void **state)
{
	struct zd_gen_pool *p = pool_create(ORDER);
	unsigned long a, b;
	size_t avail;

	zd_gen_pool_add(p, BASE, 16 * G, -1);
	a = zd_gen_pool_alloc(p, 3 * G);
	b = zd_gen_pool_alloc(p, 2 * G);
	avail = zd_gen_pool_avail(p);
	assert_warns("not in the pool", assert_int_equal(
		zd_gen_pool_free(p, BASE + 64 * G, G), -EINVAL));
	assert_warns("not at a granule", assert_int_equal(
		zd_gen_pool_free(p, a + 1, G), -EINVAL));
	assert_warns("not allocated", assert_int_equal(
		zd_gen_pool_free(p, a + G, G), -EINVAL));
	assert_warns("smaller than its allocation", assert_int_equal(
		zd_gen_pool_free(p, a, 2 * G), -EINVAL));
	assert_warns("covers another allocation", assert_int_equal(
		zd_gen_pool_free(p, a, 4 * G), -EINVAL));
	assert_warns("larger than its allocation", assert_int_equal(
		zd_gen_pool_free(p, b, 3 * G), -EINVAL));
	assert_warns("runs past the end", assert_int_equal(
		zd_gen_pool_free(p, b, 20 * G), -EINVAL));
	assert_int_equal(zd_gen_pool_avail(p), avail);
	assert_int_equal(zd_gen_pool_free(p, a, 3 * G), 0);
	assert_warns("already freed", assert_int_equal(
		zd_gen_pool_free(p, a, 3 * G), -EINVAL));
	assert_warns("size 0", assert_int_equal(zd_gen_pool_free(p, b, 0), -EINVAL));
	/* the pool still works, and frees exactly */
	assert_int_equal(zd_gen_pool_alloc(p, 3 * G), a);
	zd_gen_pool_free(p, a, 3 * G);
	zd_gen_pool_free(p, b, 2 * G);
	assert_warns("still allocated", ({
		unsigned long c = zd_gen_pool_alloc(p, G);
		assert_int_equal(pool_destroy(p), -EBUSY);
		zd_gen_pool_free(p, c, G); }));
	assert_int_equal(pool_destroy(p), 0);
}

static void test_bad_create_and_add(void **state)
{
	struct zd_gen_pool *p;

	errno = 0;
	assert_warns("outside 0..30", assert_null(zd_gen_pool_create(31, -1)));
	assert_int_equal(errno, EINVAL);
	assert_warns("NULL pool", assert_int_equal(zd_gen_pool_destroy(NULL), -EINVAL));
	/* the queries used to answer a NULL pool silently */
	assert_warns("NULL pool", assert_int_equal(zd_gen_pool_size(NULL), 0));
	assert_warns("NULL pool", assert_int_equal(zd_gen_pool_avail(NULL), 0));
	assert_warns("NULL pool", assert_false(zd_gen_pool_has_addr(NULL, BASE, G)));
	assert_warns("NULL pool", zd_gen_pool_set_algo(NULL, NULL, NULL));
	/* a custom algorithm passing a NULL map on: no bit, not a crash */
	assert_warns("NULL bitmap", assert_int_equal(
		zd_gen_pool_best_fit(NULL, 64, 0, 1, NULL, NULL, 0), 64));
	p = pool_create(ORDER);
	assert_warns("empty or wrapping", assert_int_equal(
		zd_gen_pool_add(p, BASE, 0, -1), -EINVAL));
	assert_warns("smaller than the granule", assert_int_equal(
		zd_gen_pool_add(p, BASE, G - 1, -1), -EINVAL));
	assert_int_equal(zd_gen_pool_add(p, BASE, 4 * G, -1), 0);
	assert_warns("overlaps another chunk", assert_int_equal(
		zd_gen_pool_add(p, BASE + 3 * G, 4 * G, -1), -EINVAL));
	assert_warns("overlaps another chunk", assert_int_equal(
		zd_gen_pool_add(p, BASE - G, 2 * G, -1), -EINVAL));
	/* every allocation step of add can fail, leaving the pool as it was */
	zd_fault_inject_nth(0, "genalloc");
	assert_int_equal(zd_gen_pool_add(p, BASE + 8 * G, 4 * G, -1), 0);
	unsigned long steps = zd_fault_inject_calls();
	for (unsigned long i = 1; i <= steps; i++) {
		zd_fault_inject_nth(i, "genalloc");
		assert_int_equal(zd_gen_pool_add(p, BASE + (16 + 8 * i) * G,
						 4 * G, -1), -ENOMEM);
	}
	zd_fault_inject_reset();
	assert_int_equal(zd_gen_pool_size(p), 8 * G);
	zd_fault_inject_site("genalloc.pool");
	assert_null(zd_gen_pool_create(ORDER, -1));
	zd_fault_inject_reset();
	assert_int_equal(pool_destroy(p), 0);
}

/* A huge size once rounded to 0 granules, passed every check and had
 * the index rebuild words far past its end. */
static void test_free_of_huge_size(void **state)
{
	struct zd_gen_pool *p = pool_create(ORDER), *p0 = pool_create(0);
	unsigned long a, b;

	zd_gen_pool_add(p, BASE, 16 * G, -1);
	zd_gen_pool_add(p0, BASE, 4096, -1);
	a = zd_gen_pool_alloc(p, G);
	b = zd_gen_pool_alloc(p0, 64);
	assert_warns("runs past the end", assert_int_equal(
		zd_gen_pool_free(p, a, SIZE_MAX), -EINVAL));
	assert_warns("runs past the end", assert_int_equal(
		zd_gen_pool_free(p, a, SIZE_MAX - G + 2), -EINVAL));
	assert_warns("runs past the end", assert_int_equal(
		zd_gen_pool_free(p0, b, SIZE_MAX), -EINVAL));
	assert_int_equal(zd_gen_pool_avail(p), 15 * G);
	assert_int_equal(zd_gen_pool_free(p, a, G), 0);
	assert_int_equal(zd_gen_pool_free(p0, b, 64), 0);
	/* alloc rounds the same way: nothing that large fits */
	assert_int_equal(zd_gen_pool_alloc(p, SIZE_MAX), 0);
	assert_int_equal(zd_gen_pool_alloc(p, SIZE_MAX - G + 2), 0);
	assert_int_equal(pool_destroy(p), 0);
	assert_int_equal(pool_destroy(p0), 0);
}

/* An alignment of 0 or not a power of two made a mask that handed the
 * same granules out twice; NULL data was dereferenced. */
static void test_bad_algorithm_data(void **state)
{
	struct zd_gen_pool *p = pool_create(ORDER);
	struct zd_genpool_data_align a = { 0 };
	unsigned long map[1] = { 0 };

	zd_gen_pool_add(p, BASE, 64 * G, -1);
	for (int i = 0; i < 3; i++) {
		static const int bad[] = { 0, 3 * G, -4096 };

		a.align = bad[i];
		assert_warns("not a power of two", assert_int_equal(
			zd_gen_pool_alloc_algo(p, G, zd_gen_pool_first_fit_align,
					       &a), 0));
	}
	assert_warns("NULL algorithm data", assert_int_equal(
		zd_gen_pool_alloc_algo(p, G, zd_gen_pool_first_fit_align, NULL), 0));
	assert_warns("NULL algorithm data", assert_int_equal(
		zd_gen_pool_alloc_algo(p, G, zd_gen_pool_fixed_alloc, NULL), 0));
	/* the pool's own algorithm, set with bad data, is refused the same */
	zd_gen_pool_set_algo(p, zd_gen_pool_fixed_alloc, NULL);
	assert_warns("NULL algorithm data", assert_int_equal(
		zd_gen_pool_alloc(p, G), 0));
	zd_gen_pool_set_algo(p, NULL, NULL);
	/* called directly, as a custom algorithm would: "not found" */
	a.align = 0;
	assert_warns("not a power of two", assert_int_equal(
		zd_gen_pool_first_fit_align(map, 64, 0, 1, &a, p, BASE), 64));
	assert_warns("NULL", assert_int_equal(
		zd_gen_pool_first_fit_align(map, 64, 0, 1, NULL, p, BASE), 64));
	assert_warns("NULL", assert_int_equal(
		zd_gen_pool_fixed_alloc(map, 64, 0, 1, NULL, p, BASE), 64));
	assert_int_equal(zd_gen_pool_avail(p), 64 * G);
	/* an alignment below the granule is every granule */
	a.align = 16;
	assert_int_equal(zd_gen_pool_alloc_algo(p, G, zd_gen_pool_first_fit_align,
						&a), BASE);
	assert_int_equal(zd_gen_pool_alloc_algo(p, G, zd_gen_pool_first_fit_align,
						&a), BASE + G);
	zd_gen_pool_free(p, BASE, G);
	zd_gen_pool_free(p, BASE + G, G);
	assert_int_equal(pool_destroy(p), 0);
}

/* add(0, SIZE_MAX) on an order-0 pool made a chunk of 2^64 - 1 granules
 * with a bitmap of zero words and reported a 16 EiB pool. */
static void test_add_too_many_granules(void **state)
{
	struct zd_gen_pool *p0 = pool_create(0), *p = pool_create(ORDER);

	assert_warns("more than 2^31 granules", assert_int_equal(
		zd_gen_pool_add(p0, 0, SIZE_MAX, -1), -EINVAL));
	assert_warns("more than 2^31 granules", assert_int_equal(
		zd_gen_pool_add(p, BASE, ((1ul << 31) + 1) * G, -1), -EINVAL));
	assert_int_equal(zd_gen_pool_size(p0), 0);
	assert_int_equal(zd_gen_pool_size(p), 0);
	assert_int_equal(zd_gen_pool_alloc(p0, 1), 0);
	assert_int_equal(pool_destroy(p0), 0);
	assert_int_equal(pool_destroy(p), 0);
}

/* Chunks in a tree by address, added in a shuffled order: every lookup
 * finds its own chunk, every overlap is refused whichever side it is on,
 * and the gaps between chunks can still be filled. */
static void test_many_chunks_by_address(void **state)
{
	enum { N = 500 };
	struct zd_gen_pool *p = pool_create(ORDER);
	static unsigned long at[N];
	unsigned int seed = 9;

	for (int i = 0; i < N; i++)
		at[i] = BASE + (unsigned long)i * 8 * G;
	for (int i = N - 1; i > 0; i--) {
		int j = rand_r(&seed) % (i + 1);
		unsigned long t = at[i];

		at[i] = at[j];
		at[j] = t;
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(zd_gen_pool_add_virt(p, at[i], at[i] * 2, 4 * G,
						      -1), 0);
	for (int i = 0; i < N; i++) {
		unsigned long a = BASE + (unsigned long)i * 8 * G;

		assert_true(zd_gen_pool_has_addr(p, a, 4 * G));
		assert_false(zd_gen_pool_has_addr(p, a + 4 * G, 1));
		assert_int_equal(zd_gen_pool_virt_to_phys(p, a + 3 * G + 5),
				 2 * a + 3 * G + 5);
		assert_warns("overlaps", assert_int_equal(
			zd_gen_pool_add(p, a + 3 * G, 2 * G, -1), -EINVAL));
		assert_warns("overlaps", assert_int_equal(
			zd_gen_pool_add(p, a - G, 2 * G, -1), -EINVAL));
		assert_warns("overlaps", assert_int_equal(
			zd_gen_pool_add(p, a + G, G, -1), -EINVAL));
	}
	/* the gaps, exactly */
	for (int i = 0; i < N; i++)
		assert_int_equal(zd_gen_pool_add(p, BASE + (unsigned long)i * 8 * G +
						 4 * G, 4 * G, -1), 0);
	assert_int_equal(zd_gen_pool_size(p), 2ul * N * 4 * G);
	assert_warns("overlaps", assert_int_equal(
		zd_gen_pool_add(p, BASE + 100 * G, 16 * G, -1), -EINVAL));
	assert_int_equal(pool_destroy(p), 0);
}

/* ---- threads ------------------------------------------------------------ */

static struct zd_gen_pool *shared;
static atomic_uchar owner_of[4096];
static atomic_int overlaps;

static void *churn(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	unsigned long a[32] = { 0 }, n[32];

	for (int step = 0; step < 20000; step++) {
		int i = rand_r(&seed) % 32;

		if (a[i]) {
			for (unsigned long k = 0; k < n[i]; k++)
				atomic_store(&owner_of[(a[i] - BASE) / G + k], 0);
			zd_gen_pool_free(shared, a[i], n[i] * G);
			a[i] = 0;
			continue;
		}
		n[i] = 1 + rand_r(&seed) % 8;
		a[i] = zd_gen_pool_alloc(shared, n[i] * G);
		for (unsigned long k = 0; a[i] && k < n[i]; k++)
			if (atomic_exchange(&owner_of[(a[i] - BASE) / G + k],
					    (unsigned char)(uintptr_t)arg))
				atomic_fetch_add(&overlaps, 1);
	}
	for (int i = 0; i < 32; i++)
		if (a[i]) {
			for (unsigned long k = 0; k < n[i]; k++)
				atomic_store(&owner_of[(a[i] - BASE) / G + k], 0);
			zd_gen_pool_free(shared, a[i], n[i] * G);
		}
	return NULL;
}

static void test_threads_never_share(void **state)
{
	pthread_t t[2];

	shared = pool_create(ORDER);
	zd_gen_pool_add(shared, BASE, 4096 * G, -1);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&overlaps), 0);
	assert_int_equal(zd_gen_pool_avail(shared), 4096 * G);
	assert_int_equal(pool_destroy(shared), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, teardown)
		T(test_first_fit_matches_kernel),
		T(test_first_fit_align_matches_kernel),
		T(test_order_align_matches_kernel),
		T(test_best_fit_matches_kernel),
		T(test_placement_examples),
		T(test_single_granules_stay_first_fit),
		T(test_best_fit_ties),
		T(test_owners),
		T(test_dma_alloc),
		T(test_bad_frees_change_nothing),
		T(test_bad_create_and_add),
		T(test_free_of_huge_size),
		T(test_bad_algorithm_data),
		T(test_add_too_many_granules),
		T(test_many_chunks_by_address),
		T(test_threads_never_share),
	};

	return zd_run_tests(tests);
}
