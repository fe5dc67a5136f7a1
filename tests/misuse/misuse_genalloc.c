// SPDX-License-Identifier: MIT
/*
 * Misuse of genalloc.  The pool's addresses are never touched (but by
 * dma_zalloc), so the chunks are plain numbers.
 */
#include <limits.h>

#include "misuse.h"

#define VIRT	0x10000000ul
#define PHYS	0x20000000ull
#define CHUNK	MiB(1)
#define G	4096ul			/* the granule: order 12 */

static int owner_a, owner_b;

/* An order-12 pool with one 1 MiB chunk at VIRT. */
static struct zd_gen_pool *pool_new(void)
{
	struct zd_gen_pool *p = zd_gen_pool_create(12, -1);

	M_SETUP(p);
	M_SETUP(zd_gen_pool_add_owner(p, VIRT, PHYS, CHUNK, -1, &owner_a) == 0);
	return p;
}

/* @p still allocates and frees, and has @avail bytes free. */
static bool pool_works(struct zd_gen_pool *p, size_t avail)
{
	unsigned long a;

	if (zd_gen_pool_avail(p) != avail)
		return false;
	a = zd_gen_pool_alloc(p, G);
	if (!a || zd_gen_pool_avail(p) != avail - G)
		return false;
	return zd_gen_pool_free(p, a, G) == 0 && zd_gen_pool_avail(p) == avail;
}

static void create_neg(void)
{
	m_arm();
	m_expect_null(zd_gen_pool_create(-1, -1), EINVAL);
}

static void create_huge(void)
{
	m_arm();
	m_expect_null(zd_gen_pool_create(31, -1), EINVAL);
}

static void destroy_null(void)
{
	m_arm();
	m_expect_err(zd_gen_pool_destroy(NULL), -EINVAL);
}

static void destroy_busy(void)
{
	struct zd_gen_pool *p = pool_new();

	M_SETUP(zd_gen_pool_alloc(p, G));
	m_arm();
	m_expect_err(zd_gen_pool_destroy(p), -EBUSY);
	m_state(pool_works(p, CHUNK - G), "the pool changed");
}

#define ADD_NULL(name, call)						\
static void name(void)							\
{									\
	m_arm();							\
	m_expect_err(call, ANY_ERR);					\
}
ADD_NULL(add_owner_null, zd_gen_pool_add_owner(NULL, VIRT, PHYS, CHUNK, -1, NULL))
ADD_NULL(add_virt_null, zd_gen_pool_add_virt(NULL, VIRT, PHYS, CHUNK, -1))
ADD_NULL(add_null, zd_gen_pool_add(NULL, VIRT, CHUNK, -1))

static void add_zero(void)
{
	struct zd_gen_pool *p = pool_new();

	m_arm();
	m_expect_err(zd_gen_pool_add(p, VIRT + GiB(1), 0, -1), -EINVAL);
	m_state(zd_gen_pool_size(p) == CHUNK, "size changed");
}

static void add_below_granule(void)
{
	struct zd_gen_pool *p = pool_new();

	m_arm();
	m_expect_err(zd_gen_pool_add(p, VIRT + GiB(1), 100, -1), -EINVAL);
	m_state(zd_gen_pool_size(p) == CHUNK, "size changed");
}

static void add_wrap(void)
{
	struct zd_gen_pool *p = pool_new();

	m_arm();
	m_expect_err(zd_gen_pool_add(p, ULONG_MAX - G + 1, 2 * G, -1), -EINVAL);
	m_state(pool_works(p, CHUNK), "the pool changed");
}

static void add_overlap(void)
{
	struct zd_gen_pool *p = pool_new();

	m_arm();
	m_expect_err(zd_gen_pool_add(p, VIRT + CHUNK / 2, CHUNK, -1), -EINVAL);
	m_state(zd_gen_pool_size(p) == CHUNK, "size changed");
}

/* The whole address space as one chunk: its bitmap cannot be allocated. */
static void add_order0_huge(void)
{
	struct zd_gen_pool *p = zd_gen_pool_create(0, -1);

	M_SETUP(p);
	m_arm();
	m_expect_err_nowarn(zd_gen_pool_add(p, 0, SIZE_MAX, -1), ANY_ERR);
	m_state(zd_gen_pool_size(p) == 0, "size changed");
}

static void alloc_null(void)
{
	m_arm();
	m_expect_val(zd_gen_pool_alloc(NULL, G), 0);
}

static void alloc_zero(void)
{
	struct zd_gen_pool *p = pool_new();

	m_arm();
	m_expect_val_nowarn(zd_gen_pool_alloc(p, 0), 0);
	m_state(pool_works(p, CHUNK), "the pool changed");
}

static void alloc_huge(void)
{
	struct zd_gen_pool *p = pool_new();

	m_arm();
	m_expect_val_nowarn(zd_gen_pool_alloc(p, SIZE_MAX), 0);
	m_state(pool_works(p, CHUNK), "the pool changed");
}

static void alloc_owner_null(void)
{
	void *owner = &owner_b;

	m_arm();
	m_expect_val(zd_gen_pool_alloc_owner(NULL, G, &owner), 0);
}

static void alloc_algo_null_pool(void)
{
	m_arm();
	m_expect_val(zd_gen_pool_alloc_algo(NULL, G, zd_gen_pool_first_fit, NULL), 0);
}

static void alloc_algo_null_algo(void)
{
	struct zd_gen_pool *p = pool_new();

	m_arm();
	m_expect_val(zd_gen_pool_alloc_algo(p, G, NULL, NULL), 0);
	m_state(pool_works(p, CHUNK), "the pool changed");
}

static void alloc_algo_owner_null(void)
{
	void *owner = &owner_b;

	m_arm();
	m_expect_val(zd_gen_pool_alloc_algo_owner(NULL, G, zd_gen_pool_first_fit,
						  NULL, &owner), 0);
	m_state(owner == NULL, "owner not cleared");
}

static void dma_alloc_null(void)
{
	m_arm();
	m_expect_null(zd_gen_pool_dma_alloc(NULL, G, NULL), 0);
}

static void dma_zalloc_null(void)
{
	m_arm();
	m_expect_null(zd_gen_pool_dma_zalloc(NULL, G, NULL), 0);
}

static void free_null(void)
{
	m_arm();
	m_expect_err(zd_gen_pool_free(NULL, VIRT, G), -EINVAL);
}

/* An allocation of 2 granules at VIRT; judge a bad free of it. */
#define BAD_FREE(name, addr, size)					\
static void name(void)							\
{									\
	struct zd_gen_pool *p = pool_new();				\
	unsigned long a = zd_gen_pool_alloc(p, 2 * G);			\
									\
	M_SETUP(a == VIRT);						\
	m_arm();							\
	m_expect_err(zd_gen_pool_free(p, addr, size), -EINVAL);		\
	m_state(zd_gen_pool_avail(p) == CHUNK - 2 * G, "avail changed");\
	m_state(pool_works(p, CHUNK - 2 * G), "the pool no longer works");\
	m_state(zd_gen_pool_free(p, a, 2 * G) == 0, "the allocation is gone"); \
}
BAD_FREE(free_size_max, a, SIZE_MAX)
BAD_FREE(free_size_zero, a, 0)
BAD_FREE(free_size_short, a, G)
BAD_FREE(free_size_long, a, 4 * G)
BAD_FREE(free_unaligned, a + 1, 2 * G)
BAD_FREE(free_middle, a + G, G)
BAD_FREE(free_outside, VIRT + GiB(1), 2 * G)
BAD_FREE(free_not_allocated, a + 8 * G, 2 * G)

static void free_twice(void)
{
	struct zd_gen_pool *p = pool_new();
	unsigned long a = zd_gen_pool_alloc(p, 2 * G);
	unsigned long b = zd_gen_pool_alloc(p, 2 * G);

	M_SETUP(a && b);
	M_SETUP(zd_gen_pool_free(p, a, 2 * G) == 0);
	m_arm();
	m_expect_err(zd_gen_pool_free(p, a, 2 * G), -EINVAL);
	m_state(zd_gen_pool_avail(p) == CHUNK - 2 * G, "avail changed");
}

static void free_foreign_pool(void)
{
	struct zd_gen_pool *p = pool_new();
	struct zd_gen_pool *q = zd_gen_pool_create(12, -1);
	unsigned long a;

	M_SETUP(q && zd_gen_pool_add(q, VIRT + GiB(1), CHUNK, -1) == 0);
	a = zd_gen_pool_alloc(q, G);
	M_SETUP(a);
	m_arm();
	m_expect_err(zd_gen_pool_free(p, a, G), -EINVAL);
	m_state(zd_gen_pool_avail(q) == CHUNK - G, "the other pool changed");
	m_state(pool_works(p, CHUNK), "the pool changed");
}

static void free_owner_bad(void)
{
	struct zd_gen_pool *p = pool_new();
	void *owner = &owner_b;

	m_arm();
	m_expect_err(zd_gen_pool_free_owner(p, VIRT, G, &owner), -EINVAL);
	m_state(owner == NULL, "owner not cleared");
	m_state(pool_works(p, CHUNK), "the pool changed");
}

static void free_owner_null(void)
{
	void *owner = &owner_b;

	m_arm();
	m_expect_err(zd_gen_pool_free_owner(NULL, VIRT, G, &owner), -EINVAL);
	m_state(owner == NULL, "owner not cleared");
}

static void virt_to_phys_null(void)
{
	m_arm();
	m_expect_val(zd_gen_pool_virt_to_phys(NULL, VIRT), (zd_phys_addr_t)-1);
}

static void has_addr_null(void)
{
	m_arm();
	m_expect_val(zd_gen_pool_has_addr(NULL, VIRT, G), false);
}

static void has_addr_wrap(void)
{
	struct zd_gen_pool *p = pool_new();

	m_arm();
	m_expect_val_nowarn(zd_gen_pool_has_addr(p, VIRT + G, SIZE_MAX), false);
}

static void avail_null(void)
{
	m_arm();
	m_expect_val(zd_gen_pool_avail(NULL), 0);
}

static void size_null(void)
{
	m_arm();
	m_expect_val(zd_gen_pool_size(NULL), 0);
}

static void chunk_fn(struct zd_gen_pool *pool, struct zd_gen_pool_chunk *c,
		     void *data)
{
	(void)pool;
	(void)c;
	(void)data;
}

static void for_each_null_pool(void)
{
	m_arm();
	zd_gen_pool_for_each_chunk(NULL, chunk_fn, NULL);
	m_expect_warn();
}

static void for_each_null_fn(void)
{
	m_arm();
	zd_gen_pool_for_each_chunk(pool_new(), NULL, NULL);
	m_expect_warn();
}

static void set_algo_null(void)
{
	m_arm();
	zd_gen_pool_set_algo(NULL, zd_gen_pool_best_fit, NULL);
	m_expect_warn();
}

/* The pool's algorithm with bad data: an allocation refused, reported. */
static void algo_bad_data(zd_genpool_algo_t *algo, void *data)
{
	struct zd_gen_pool *p = pool_new();

	zd_gen_pool_set_algo(p, algo, data);
	m_arm();
	m_expect_val(zd_gen_pool_alloc(p, G), 0);
	m_state(zd_gen_pool_avail(p) == CHUNK, "avail changed");
	zd_gen_pool_set_algo(p, NULL, NULL);
	m_state(pool_works(p, CHUNK), "the pool no longer works");
}

static void align_null_data(void)
{
	algo_bad_data(zd_gen_pool_first_fit_align, NULL);
}

static void align_zero(void)
{
	static struct zd_genpool_data_align d = { .align = 0 };

	algo_bad_data(zd_gen_pool_first_fit_align, &d);
}

static void align_npot(void)
{
	static struct zd_genpool_data_align d = { .align = 3 * 4096 };

	algo_bad_data(zd_gen_pool_first_fit_align, &d);
}

static void align_negative(void)
{
	static struct zd_genpool_data_align d = { .align = -4096 };

	algo_bad_data(zd_gen_pool_first_fit_align, &d);
}

static void fixed_null_data(void)
{
	algo_bad_data(zd_gen_pool_fixed_alloc, NULL);
}

static void fixed_unaligned(void)
{
	static struct zd_genpool_data_fixed d = { .offset = 100 };

	algo_bad_data(zd_gen_pool_fixed_alloc, &d);
}

/* Direct calls, as a custom algorithm makes them. */
#define ALGO_NULL_MAP(name, algo)					\
static void name(void)							\
{									\
	struct zd_gen_pool *p = pool_new();				\
	static struct zd_genpool_data_align da = { .align = 4096 };	\
									\
	m_arm();							\
	m_expect_val(algo(NULL, 256, 0, 1, &da, p, VIRT) >= 256, 1);	\
}
ALGO_NULL_MAP(ff_null_map, zd_gen_pool_first_fit)
ALGO_NULL_MAP(ffa_null_map, zd_gen_pool_first_fit_align)
ALGO_NULL_MAP(ffoa_null_map, zd_gen_pool_first_fit_order_align)
ALGO_NULL_MAP(bf_null_map, zd_gen_pool_best_fit)

static void ffa_null_pool(void)
{
	unsigned long map[4] = { 0 };
	struct zd_genpool_data_align d = { .align = 8192 };

	m_arm();
	m_expect_val(zd_gen_pool_first_fit_align(map, 256, 0, 1, &d, NULL, VIRT)
		     >= 256, 1);
}

static void fixed_null_pool(void)
{
	unsigned long map[4] = { 0 };
	struct zd_genpool_data_fixed d = { .offset = 8192 };

	m_arm();
	m_expect_val(zd_gen_pool_fixed_alloc(map, 256, 0, 1, &d, NULL, VIRT)
		     >= 256, 1);
}

static void ff_start_past_end(void)
{
	unsigned long map[4] = { 0 };

	m_arm();
	m_expect_val_nowarn(zd_gen_pool_first_fit(map, 256, 1000, 1, NULL, NULL, 0)
			    >= 256, 1);
}

static void bf_nr_huge(void)
{
	unsigned long map[4] = { 0 };

	m_arm();
	m_expect_val_nowarn(zd_gen_pool_best_fit(map, 256, 0, UINT_MAX, NULL, NULL, 0)
			    >= 256, 1);
}

#define EINV	"-EINVAL+WARN"
#define ERRW	"-errno+WARN"
#define ZEROW	"0+WARN"
#define BADFREE	"-EINVAL+WARN, pool unchanged"
#define NOBIT	"no bit (>= size)+WARN"

const struct mcase misuse_genalloc_cases[] = {
	{ "zd_gen_pool_create", "huge: order -1", "NULL/EINVAL+WARN", create_neg },
	{ "zd_gen_pool_create", "huge: order 31", "NULL/EINVAL+WARN", create_huge },
	{ "zd_gen_pool_destroy", "NULL", EINV, destroy_null },
	{ "zd_gen_pool_destroy", "wrong state: allocations out", "-EBUSY+WARN, pool kept", destroy_busy },
	{ "zd_gen_pool_add_owner", "NULL pool", ERRW, add_owner_null },
	{ "zd_gen_pool_add_virt", "NULL pool", ERRW, add_virt_null },
	{ "zd_gen_pool_add", "NULL pool", ERRW, add_null },
	{ "zd_gen_pool_add", "zero: size 0", EINV, add_zero },
	{ "zd_gen_pool_add", "zero: size below the granule", EINV, add_below_granule },
	{ "zd_gen_pool_add", "huge: wrapping range", EINV, add_wrap },
	{ "zd_gen_pool_add", "foreign: overlaps a chunk", EINV, add_overlap },
	{ "zd_gen_pool_add", "huge: order 0, (0, SIZE_MAX)", "-errno, pool unchanged", add_order0_huge },
	{ "zd_gen_pool_alloc", "NULL pool", ZEROW, alloc_null },
	{ "zd_gen_pool_alloc", "zero: size 0", "0", alloc_zero },
	{ "zd_gen_pool_alloc", "huge: SIZE_MAX", "0, pool unchanged", alloc_huge },
	{ "zd_gen_pool_alloc_owner", "NULL pool", ZEROW, alloc_owner_null },
	{ "zd_gen_pool_alloc_algo", "NULL pool", ZEROW, alloc_algo_null_pool },
	{ "zd_gen_pool_alloc_algo", "NULL algo", ZEROW, alloc_algo_null_algo },
	{ "zd_gen_pool_alloc_algo_owner", "NULL pool", ZEROW ", owner NULL", alloc_algo_owner_null },
	{ "zd_gen_pool_dma_alloc", "NULL pool", "NULL+WARN", dma_alloc_null },
	{ "zd_gen_pool_dma_zalloc", "NULL pool", "NULL+WARN", dma_zalloc_null },
	{ "zd_gen_pool_free", "NULL pool", EINV, free_null },
	{ "zd_gen_pool_free", "huge: size SIZE_MAX", BADFREE, free_size_max },
	{ "zd_gen_pool_free", "zero: size 0", BADFREE, free_size_zero },
	{ "zd_gen_pool_free", "wrong size: shorter", BADFREE, free_size_short },
	{ "zd_gen_pool_free", "wrong size: longer", BADFREE, free_size_long },
	{ "zd_gen_pool_free", "unaligned address", BADFREE, free_unaligned },
	{ "zd_gen_pool_free", "foreign: middle of an allocation", BADFREE, free_middle },
	{ "zd_gen_pool_free", "foreign: outside every chunk", BADFREE, free_outside },
	{ "zd_gen_pool_free", "wrong state: never allocated", BADFREE, free_not_allocated },
	{ "zd_gen_pool_free", "double release: twice", BADFREE, free_twice },
	{ "zd_gen_pool_free", "foreign: another pool's", BADFREE, free_foreign_pool },
	{ "zd_gen_pool_free_owner", "wrong state: never allocated", EINV ", owner NULL", free_owner_bad },
	{ "zd_gen_pool_free_owner", "NULL pool", EINV ", owner NULL", free_owner_null },
	{ "zd_gen_pool_virt_to_phys", "NULL pool", "-1+WARN", virt_to_phys_null },
	{ "zd_gen_pool_has_addr", "NULL pool", "false+WARN", has_addr_null },
	{ "zd_gen_pool_has_addr", "huge: size SIZE_MAX", "false", has_addr_wrap },
	{ "zd_gen_pool_avail", "NULL pool", ZEROW, avail_null },
	{ "zd_gen_pool_size", "NULL pool", ZEROW, size_null },
	{ "zd_gen_pool_for_each_chunk", "NULL pool", "WARN", for_each_null_pool },
	{ "zd_gen_pool_for_each_chunk", "NULL func", "WARN", for_each_null_fn },
	{ "zd_gen_pool_set_algo", "NULL pool", "WARN", set_algo_null },
	{ "zd_gen_pool_first_fit_align", "NULL data (as pool algo)", ZEROW ", pool unchanged", align_null_data },
	{ "zd_gen_pool_first_fit_align", "zero: align 0 (as pool algo)", ZEROW ", pool unchanged", align_zero },
	{ "zd_gen_pool_first_fit_align", "unaligned: align 3 pages (as pool algo)", ZEROW ", pool unchanged", align_npot },
	{ "zd_gen_pool_first_fit_align", "huge: align negative (as pool algo)", ZEROW ", pool unchanged", align_negative },
	{ "zd_gen_pool_fixed_alloc", "NULL data (as pool algo)", ZEROW ", pool unchanged", fixed_null_data },
	{ "zd_gen_pool_fixed_alloc", "unaligned: offset 100 (as pool algo)", ZEROW ", pool unchanged", fixed_unaligned },
	{ "zd_gen_pool_first_fit", "NULL map (direct call)", NOBIT, ff_null_map },
	{ "zd_gen_pool_first_fit_align", "NULL map (direct call)", NOBIT, ffa_null_map },
	{ "zd_gen_pool_first_fit_order_align", "NULL map (direct call)", NOBIT, ffoa_null_map },
	{ "zd_gen_pool_best_fit", "NULL map (direct call)", NOBIT, bf_null_map },
	{ "zd_gen_pool_first_fit_align", "NULL pool (direct call)", NOBIT, ffa_null_pool },
	{ "zd_gen_pool_fixed_alloc", "NULL pool (direct call)", NOBIT, fixed_null_pool },
	{ "zd_gen_pool_first_fit", "huge: start past the end", "no bit", ff_start_past_end },
	{ "zd_gen_pool_best_fit", "huge: nr UINT_MAX", "no bit", bf_nr_huge },
	{ 0 }
};
