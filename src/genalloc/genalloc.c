// SPDX-License-Identifier: MIT
/*
 * genalloc with chunk owners, after lib/genalloc.c.  Each chunk keeps a
 * bitmap of granules (set: allocated), a second one marking where each
 * allocation begins (so a bad free is caught before anything changes),
 * and an index of its free space (index.h).  Chunks sit in an array in
 * the order they were added: allocations try them newest first, as the
 * kernel's list does; frees find theirs in a tree by address (a treap:
 * O(log chunks) to add or look up, whatever order chunks come in).  The
 * tree's nodes sit in one array beside the chunks, 32 bytes each, so a
 * lookup in a pool of many chunks touches few cache lines.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/genalloc.h>

#include "bitmap.h"
#include "compiler.h"
#include "fault.h"
#include "index.h"
#include "log.h"

/* The index counts free runs in 32 bits: a chunk has at most 2^31
 * granules (8 TiB of 4 KiB pages), so no count can wrap. */
#define ZD_GEN_POOL_MAX_GRANULES	(1ul << 31)

struct chunk {
	struct zd_gen_pool_chunk pub;	/* avail kept up to date */
	unsigned long nbits;
	unsigned long *bits, *begin;
	struct zd_run_index ix;
};

#define NIL	UINT32_MAX

/* A node of the address tree; node i is chunk i (in add order). */
struct tnode {
	unsigned long start, end;	/* the chunk's, inclusive */
	uint32_t left, right;		/* NIL: none */
	uint32_t prio;			/* a heap above it, random */
};

struct zd_gen_pool {
	atomic_flag lock;
	int min_alloc_order;
	zd_genpool_algo_t *algo;
	void *data;
	struct chunk **chunks;		/* in add order */
	struct tnode *nodes;		/* nodes[i] is chunks[i]'s */
	unsigned long nr_chunks, cap_chunks;
	uint32_t root;			/* the address tree, or NIL */
	uint32_t seed;
	size_t size, avail;
};

static void pool_lock(struct zd_gen_pool *pool)
{
	while (atomic_flag_test_and_set_explicit(&pool->lock,
						 memory_order_acquire))
		sched_yield();
}

static void pool_unlock(struct zd_gen_pool *pool)
{
	atomic_flag_clear_explicit(&pool->lock, memory_order_release);
}

struct zd_gen_pool *zd_gen_pool_create(int min_alloc_order, int nid)
{
	struct zd_gen_pool *pool;

	if (min_alloc_order < 0 || min_alloc_order > 30) {
		zd_warn("min_alloc_order %d outside 0..30", min_alloc_order);
		errno = EINVAL;
		return NULL;
	}
	pool = zd_zalloc("genalloc.pool", sizeof(*pool));
	if (!pool)
		return NULL;
	atomic_flag_clear(&pool->lock);
	pool->min_alloc_order = min_alloc_order;
	pool->algo = zd_gen_pool_first_fit;
	pool->root = NIL;
	return pool;
}

static void chunk_free(struct chunk *c)
{
	free(c);
}

int zd_gen_pool_destroy(struct zd_gen_pool *pool)
{
	if (ZD_WARN_ON(!pool, "NULL pool"))
		return -EINVAL;
	if (pool->avail != pool->size) {
		zd_warn("pool %p: %zu bytes still allocated; not destroyed",
			(void *)pool, pool->size - pool->avail);
		return -EBUSY;
	}
	for (unsigned long i = 0; i < pool->nr_chunks; i++)
		chunk_free(pool->chunks[i]);
	free(pool->chunks);
	free(pool->nodes);
	free(pool);
	return 0;
}

/* Granules covering @size bytes, without wrapping near SIZE_MAX. */
static unsigned long granules(const struct zd_gen_pool *pool, size_t size)
{
	int order = pool->min_alloc_order;

	return (size >> order) + !!(size & ((1ul << order) - 1));
}

static struct chunk *chunk_new(unsigned long virt, zd_phys_addr_t phys,
			       unsigned long nbits, int order, void *owner)
{
	unsigned long words = WORDS(nbits);
	size_t map = words * sizeof(long);
	/* one block: the struct, both bitmaps, the index; at 2^31 granules
	 * this is about 1 GiB, far from wrapping */
	struct chunk *c = zd_zalloc("genalloc.chunk", sizeof(*c) + 2 * map +
				    zd_run_index_bytes(words));

	if (!c)
		return NULL;
	c->bits = (unsigned long *)(c + 1);
	c->begin = c->bits + words;
	/* bits past the end stay allocated for ever */
	zd_bitmap_set(c->bits, nbits, words * BITS_PER_WORD - nbits);
	zd_run_index_init(&c->ix, c->bits, words, c->begin + words);
	c->nbits = nbits;
	c->pub.start_addr = virt;
	c->pub.end_addr = virt + (nbits << order) - 1;
	c->pub.phys_addr = phys;
	c->pub.owner = owner;
	c->pub.avail = nbits << order;
	return c;
}

/* The chunk starting last at or below @addr, or NIL. */
static uint32_t chunk_at(const struct zd_gen_pool *pool, unsigned long addr)
{
	uint32_t i = pool->root, at = NIL;

	while (i != NIL) {
		if (pool->nodes[i].start <= addr) {
			at = i;
			i = pool->nodes[i].right;
		} else {
			i = pool->nodes[i].left;
		}
	}
	return at;
}

static struct chunk *chunk_holding(struct zd_gen_pool *pool, unsigned long addr)
{
	uint32_t i = chunk_at(pool, addr);

	return i != NIL && addr <= pool->nodes[i].end ? pool->chunks[i] : NULL;
}

/*
 * Insert node @n below *@link, rotating it up past parents of lower
 * priority; false, with nothing changed, if it overlaps a node.  The
 * chunks nearest below and above @n both lie on the path down, so one
 * descent both checks and inserts.  Random priorities keep the depth
 * O(log n) expected; the recursion is as deep as the tree.
 */
static bool tree_insert(struct tnode *t, uint32_t *link, uint32_t n)
{
	uint32_t p = *link, c;

	if (p == NIL) {
		*link = n;
		return true;
	}
	if (t[p].start <= t[n].end && t[n].start <= t[p].end)
		return false;
	if (t[n].start < t[p].start) {
		if (!tree_insert(t, &t[p].left, n))
			return false;
		c = t[p].left;
		if (t[c].prio > t[p].prio) {
			t[p].left = t[c].right;
			t[c].right = p;
			*link = c;
		}
	} else {
		if (!tree_insert(t, &t[p].right, n))
			return false;
		c = t[p].right;
		if (t[c].prio > t[p].prio) {
			t[p].right = t[c].left;
			t[c].left = p;
			*link = c;
		}
	}
	return true;
}

/* xorshift: priorities only need to be unrelated to addresses */
static uint32_t next_prio(struct zd_gen_pool *pool)
{
	uint32_t x = pool->seed ? pool->seed : 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	pool->seed = x;
	return x;
}

/* Room for one more chunk and node, doubling: O(1) amortised. */
static int chunks_reserve(struct zd_gen_pool *pool)
{
	unsigned long cap = pool->cap_chunks ? 2 * pool->cap_chunks : 8;
	struct chunk **a;
	struct tnode *t;

	if (pool->nr_chunks < pool->cap_chunks)
		return 0;
	if (pool->nr_chunks >= NIL) {
		zd_warn("pool %p has %lu chunks already", (void *)pool,
			pool->nr_chunks);
		return -ENOMEM;
	}
	a = zd_fault("genalloc.chunks") ? NULL :
		realloc(pool->chunks, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	pool->chunks = a;
	t = realloc(pool->nodes, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;		/* the larger chunks array is kept */
	pool->nodes = t;
	pool->cap_chunks = cap;
	return 0;
}

int zd_gen_pool_add_owner(struct zd_gen_pool *pool, unsigned long virt,
			  zd_phys_addr_t phys, size_t size, int nid, void *owner)
{
	unsigned long nbits, n;
	struct chunk *c;

	if (!pool || !size || virt + size - 1 < virt) {
		zd_warn("%s", !pool ? "NULL pool" : "empty or wrapping chunk");
		return -EINVAL;
	}
	nbits = size >> pool->min_alloc_order;
	if (!nbits || nbits > ZD_GEN_POOL_MAX_GRANULES) {
		zd_warn("chunk of %#zx bytes: %s", size, !nbits ?
			"smaller than the granule" : "more than 2^31 granules");
		return -EINVAL;
	}
	c = chunk_new(virt, phys, nbits, pool->min_alloc_order, owner);
	if (!c)
		return -ENOMEM;
	pool_lock(pool);
	if (chunks_reserve(pool)) {
		pool_unlock(pool);
		chunk_free(c);
		return -ENOMEM;
	}
	/* in the arrays only once the tree has taken it */
	n = pool->nr_chunks;
	pool->nodes[n] = (struct tnode){ c->pub.start_addr, c->pub.end_addr,
					 NIL, NIL, next_prio(pool) };
	if (!tree_insert(pool->nodes, &pool->root, (uint32_t)n)) {
		pool_unlock(pool);
		chunk_free(c);
		zd_warn("chunk %#lx+%#zx overlaps another chunk", virt, size);
		return -EINVAL;
	}
	pool->chunks[n] = c;
	pool->nr_chunks = n + 1;
	pool->size += c->pub.avail;
	pool->avail += c->pub.avail;
	pool_unlock(pool);
	return 0;
}

int zd_gen_pool_add_virt(struct zd_gen_pool *pool, unsigned long virt,
			 zd_phys_addr_t phys, size_t size, int nid)
{
	return zd_gen_pool_add_owner(pool, virt, phys, size, nid, NULL);
}

int zd_gen_pool_add(struct zd_gen_pool *pool, unsigned long addr, size_t size,
		    int nid)
{
	return zd_gen_pool_add_virt(pool, addr, (zd_phys_addr_t)-1, size, nid);
}

/* ---- the algorithms on a raw bitmap (the kernel's) ----------------------- */

static unsigned long pow2_roundup(unsigned long n)
{
	return n <= 1 ? 1 : 1ul << (64 - __builtin_clzl(n - 1));
}

/* Why @data cannot drive @algo (a built-in that needs data), or NULL. */
static const char *bad_algo_data(zd_genpool_algo_t *algo, const void *data)
{
	const struct zd_genpool_data_align *a = data;

	if (algo != zd_gen_pool_first_fit_align &&
	    algo != zd_gen_pool_fixed_alloc)
		return NULL;
	if (!data)
		return "NULL algorithm data";
	/* a mask built from anything else would overlap earlier answers */
	if (algo == zd_gen_pool_first_fit_align &&
	    (a->align <= 0 || (a->align & (a->align - 1))))
		return "alignment not a power of two";
	return NULL;
}

/* The alignment mask and offset, in granules, first_fit_align uses. */
static void align_of(struct zd_gen_pool *pool, void *data,
		     unsigned long start_addr, unsigned long *mask,
		     unsigned long *off)
{
	unsigned long align = (unsigned long)((struct zd_genpool_data_align *)
					      data)->align;
	int order = pool->min_alloc_order;

	*mask = ((align + (1ul << order) - 1) >> order) - 1;
	*off = (start_addr & (align - 1)) >> order;
}

/* A custom algorithm may hand the built-ins a NULL map: no bit. */
static bool no_map(const unsigned long *map, const char *fn)
{
	if (likely(map))
		return false;
	zd_log(ZD_LOG_WARN, "WARNING: %s: NULL bitmap", fn);
	return true;
}

unsigned long zd_gen_pool_first_fit(unsigned long *map, unsigned long size,
		unsigned long start, unsigned int nr, void *data,
		struct zd_gen_pool *pool, unsigned long start_addr)
{
	if (no_map(map, __func__))
		return size;
	return zd_bitmap_find_zero_area(map, size, start, nr, 0, 0);
}

unsigned long zd_gen_pool_first_fit_align(unsigned long *map,
		unsigned long size, unsigned long start, unsigned int nr,
		void *data, struct zd_gen_pool *pool, unsigned long start_addr)
{
	const char *why = pool ? bad_algo_data(zd_gen_pool_first_fit_align,
					       data) : "NULL pool";
	unsigned long mask, off;

	if (no_map(map, __func__))
		return size;
	if (why) {
		zd_warn("first_fit_align: %s", why);
		return size;
	}
	align_of(pool, data, start_addr, &mask, &off);
	return zd_bitmap_find_zero_area(map, size, start, nr, mask, off);
}

unsigned long zd_gen_pool_first_fit_order_align(unsigned long *map,
		unsigned long size, unsigned long start, unsigned int nr,
		void *data, struct zd_gen_pool *pool, unsigned long start_addr)
{
	if (no_map(map, __func__))
		return size;
	return zd_bitmap_find_zero_area(map, size, start, nr,
					pow2_roundup(nr) - 1, 0);
}

unsigned long zd_gen_pool_fixed_alloc(unsigned long *map, unsigned long size,
		unsigned long start, unsigned int nr, void *data,
		struct zd_gen_pool *pool, unsigned long start_addr)
{
	unsigned long offset, bit;

	if (no_map(map, __func__))
		return size;
	if (!data || !pool) {
		zd_warn("fixed_alloc: NULL %s", !data ? "algorithm data" : "pool");
		return size;
	}
	offset = ((struct zd_genpool_data_fixed *)data)->offset;
	bit = offset >> pool->min_alloc_order;
	if (bit >= size)
		return size;
	if (offset & ((1ul << pool->min_alloc_order) - 1)) {
		zd_warn("fixed offset %#lx is not granule aligned", offset);
		return size;
	}
	if (zd_bitmap_find_zero_area(map, size, start + bit, nr, 0, 0) != bit)
		return size;
	return bit;
}

unsigned long zd_gen_pool_best_fit(unsigned long *map, unsigned long size,
		unsigned long start, unsigned int nr, void *data,
		struct zd_gen_pool *pool, unsigned long start_addr)
{
	unsigned long best = size, best_len = size + 1;
	unsigned long i;

	if (no_map(map, __func__))
		return size;
	i = zd_bitmap_find_zero_area(map, size, start, nr, 0, 0);
	while (i < size) {
		unsigned long next = zd_bitmap_next_set(map, size, i + nr);

		if (next - i < best_len) {
			best = i;
			best_len = next - i;
			if (best_len == nr)
				break;
		}
		i = zd_bitmap_find_zero_area(map, size, next + 1, nr, 0, 0);
	}
	return best;
}

/* ---- the same choices through the index ------------------------------ */

/* The lowest run holding @nr granules at (b + off) & mask == 0. */
static unsigned long pick_aligned(struct chunk *c, unsigned long nr,
				  unsigned long mask, unsigned long off)
{
	unsigned long from = 0, len;
	long s;

	while ((s = zd_run_index_find(&c->ix, from, nr, &len)) >= 0) {
		unsigned long p = (((unsigned long)s + off + mask) & ~mask) - off;

		if (p + nr <= (unsigned long)s + len)
			return p;
		from = (unsigned long)s + len;
	}
	return c->nbits;
}

static unsigned long pick_best(struct chunk *c, unsigned long nr)
{
	unsigned long from = 0, len, best = c->nbits, best_len = ~0ul;
	long s;

	while ((s = zd_run_index_find(&c->ix, from, nr, &len)) >= 0) {
		if (len < best_len) {
			best = (unsigned long)s;
			best_len = len;
			if (len == nr)
				break;
		}
		from = (unsigned long)s + len;
	}
	return best;
}

static bool is_builtin(zd_genpool_algo_t *algo)
{
	return algo == zd_gen_pool_first_fit ||
	       algo == zd_gen_pool_first_fit_align ||
	       algo == zd_gen_pool_first_fit_order_align ||
	       algo == zd_gen_pool_best_fit;
}

/* The granule @algo would choose in @c: the kernel's answer. */
static unsigned long pick(struct zd_gen_pool *pool, struct chunk *c,
			  zd_genpool_algo_t *algo, void *data, unsigned long nr)
{
	unsigned long mask, off;
	long s;

	if (nr == 1 && (algo == zd_gen_pool_first_fit ||
			algo == zd_gen_pool_first_fit_order_align)) {
		s = zd_run_index_first_free(&c->ix);
		return s < 0 ? c->nbits : (unsigned long)s;
	}
	if (algo == zd_gen_pool_first_fit) {
		s = zd_run_index_find(&c->ix, 0, nr, NULL);
		return s < 0 ? c->nbits : (unsigned long)s;
	}
	if (algo == zd_gen_pool_first_fit_align) {
		align_of(pool, data, c->pub.start_addr, &mask, &off);
		return pick_aligned(c, nr, mask, off);
	}
	if (algo == zd_gen_pool_first_fit_order_align)
		return pick_aligned(c, nr, pow2_roundup(nr) - 1, 0);
	if (algo == zd_gen_pool_best_fit)
		return pick_best(c, nr);
	/* fixed_alloc is one check; a custom algorithm gets the bitmap */
	return algo(c->bits, c->nbits, 0, (unsigned int)nr, data, pool,
		    c->pub.start_addr);
}

static void take(struct zd_gen_pool *pool, struct chunk *c, unsigned long bit,
		 unsigned long nr)
{
	size_t bytes = nr << pool->min_alloc_order;

	zd_bitmap_set(c->bits, bit, nr);
	zd_bitmap_set(c->begin, bit, 1);
	zd_run_index_update(&c->ix, bit, nr);
	c->pub.avail -= bytes;
	pool->avail -= bytes;
}

unsigned long zd_gen_pool_alloc_algo_owner(struct zd_gen_pool *pool,
		size_t size, zd_genpool_algo_t *algo, void *data, void **owner)
{
	unsigned long addr = 0, nr;
	const char *why;

	if (owner)
		*owner = NULL;
	if (!pool || !algo) {
		zd_warn("NULL %s", !pool ? "pool" : "algorithm");
		return 0;
	}
	why = bad_algo_data(algo, data);
	if (why) {
		zd_warn("pool %p: %s", (void *)pool, why);
		return 0;
	}
	if (!size)
		return 0;
	nr = granules(pool, size);
	pool_lock(pool);
	for (unsigned long i = pool->nr_chunks; i-- > 0;) {
		struct chunk *c = pool->chunks[i];
		unsigned long bit;

		/* avail is exact: one granule of it is a free bit */
		if (size > c->pub.avail ||
		    (nr > 1 && zd_run_index_longest(&c->ix) < nr))
			continue;
		bit = pick(pool, c, algo, data, nr);
		if (bit >= c->nbits || nr > c->nbits - bit)
			continue;
		/* the index's answers are free; a custom algorithm's are checked */
		if (!is_builtin(algo) && !zd_bitmap_all_clear(c->bits, bit, nr)) {
			zd_warn("algorithm %p chose granules in use", (void *)algo);
			continue;
		}
		take(pool, c, bit, nr);
		addr = c->pub.start_addr + (bit << pool->min_alloc_order);
		if (owner)
			*owner = c->pub.owner;
		break;
	}
	pool_unlock(pool);
	return addr;
}

unsigned long zd_gen_pool_alloc_algo(struct zd_gen_pool *pool, size_t size,
				     zd_genpool_algo_t *algo, void *data)
{
	return zd_gen_pool_alloc_algo_owner(pool, size, algo, data, NULL);
}

unsigned long zd_gen_pool_alloc_owner(struct zd_gen_pool *pool, size_t size,
				      void **owner)
{
	if (ZD_WARN_ON(!pool, "NULL pool"))
		return 0;
	return zd_gen_pool_alloc_algo_owner(pool, size, pool->algo, pool->data,
					    owner);
}

unsigned long zd_gen_pool_alloc(struct zd_gen_pool *pool, size_t size)
{
	return zd_gen_pool_alloc_owner(pool, size, NULL);
}

void *zd_gen_pool_dma_alloc(struct zd_gen_pool *pool, size_t size,
			    zd_phys_addr_t *dma)
{
	unsigned long va = zd_gen_pool_alloc(pool, size);

	if (va && dma)
		*dma = zd_gen_pool_virt_to_phys(pool, va);
	return (void *)va;
}

void *zd_gen_pool_dma_zalloc(struct zd_gen_pool *pool, size_t size,
			     zd_phys_addr_t *dma)
{
	void *va = zd_gen_pool_dma_alloc(pool, size, dma);

	if (va)
		memset(va, 0, size);
	return va;
}

/* Why freeing [bit, bit + nr) of @c would be wrong, or NULL if it is right. */
static const char *bad_free(struct chunk *c, unsigned long bit, unsigned long nr)
{
	if (nr > c->nbits - bit)
		return "runs past the end of its chunk";
	if (!zd_bitmap_all_set(c->begin, bit, 1))
		return "is not allocated (or already freed)";
	if (!zd_bitmap_all_set(c->bits, bit, nr))
		return "has a size larger than its allocation";
	if (nr > 1 && !zd_bitmap_all_clear(c->begin, bit + 1, nr - 1))
		return "has a size that covers another allocation";
	if (bit + nr < c->nbits && zd_bitmap_all_set(c->bits, bit + nr, 1) &&
	    !zd_bitmap_all_set(c->begin, bit + nr, 1))
		return "has a size smaller than its allocation";
	return NULL;
}

int zd_gen_pool_free_owner(struct zd_gen_pool *pool, unsigned long addr,
			   size_t size, void **owner)
{
	const char *why = "is not in the pool";
	unsigned long bit = 0, nr;
	struct chunk *c;

	if (owner)
		*owner = NULL;
	if (!pool || !size) {
		zd_warn("%s", !pool ? "NULL pool" : "free of size 0");
		return -EINVAL;
	}
	nr = granules(pool, size);
	pool_lock(pool);
	c = chunk_holding(pool, addr);
	if (c) {
		bit = (addr - c->pub.start_addr) >> pool->min_alloc_order;
		why = (addr - c->pub.start_addr) &
		      ((1ul << pool->min_alloc_order) - 1) ?
			"is not at a granule" : bad_free(c, bit, nr);
	}
	if (!why) {
		zd_bitmap_clear(c->bits, bit, nr);
		zd_bitmap_clear(c->begin, bit, 1);
		zd_run_index_update(&c->ix, bit, nr);
		c->pub.avail += nr << pool->min_alloc_order;
		pool->avail += nr << pool->min_alloc_order;
		if (owner)
			*owner = c->pub.owner;
	}
	pool_unlock(pool);
	if (why) {
		zd_warn("pool %p: free of %#lx+%#zx: the address %s; nothing "
			"freed", (void *)pool, addr, size, why);
		return -EINVAL;
	}
	return 0;
}

int zd_gen_pool_free(struct zd_gen_pool *pool, unsigned long addr, size_t size)
{
	return zd_gen_pool_free_owner(pool, addr, size, NULL);
}

zd_phys_addr_t zd_gen_pool_virt_to_phys(struct zd_gen_pool *pool,
					unsigned long addr)
{
	zd_phys_addr_t phys = (zd_phys_addr_t)-1;
	struct chunk *c;

	if (ZD_WARN_ON(!pool, "NULL pool"))
		return phys;
	pool_lock(pool);
	c = chunk_holding(pool, addr);
	if (c && c->pub.phys_addr != (zd_phys_addr_t)-1)
		phys = c->pub.phys_addr + (addr - c->pub.start_addr);
	pool_unlock(pool);
	return phys;
}

bool zd_gen_pool_has_addr(struct zd_gen_pool *pool, unsigned long start,
			  size_t size)
{
	struct chunk *c;
	bool found;

	if (ZD_WARN_ON(!pool, "NULL pool"))
		return false;
	if (!size)
		return false;
	pool_lock(pool);
	c = chunk_holding(pool, start);
	found = c && start + size - 1 >= start &&
		start + size - 1 <= c->pub.end_addr;
	pool_unlock(pool);
	return found;
}

size_t zd_gen_pool_avail(struct zd_gen_pool *pool)
{
	if (ZD_WARN_ON(!pool, "NULL pool"))
		return 0;
	return __atomic_load_n(&pool->avail, __ATOMIC_RELAXED);
}

size_t zd_gen_pool_size(struct zd_gen_pool *pool)
{
	if (ZD_WARN_ON(!pool, "NULL pool"))
		return 0;
	return __atomic_load_n(&pool->size, __ATOMIC_RELAXED);
}

void zd_gen_pool_for_each_chunk(struct zd_gen_pool *pool,
		void (*func)(struct zd_gen_pool *, struct zd_gen_pool_chunk *,
			     void *), void *data)
{
	unsigned long n;

	if (!pool || !func) {
		zd_warn("NULL %s", !pool ? "pool" : "callback");
		return;
	}
	pool_lock(pool);
	n = pool->nr_chunks;
	pool_unlock(pool);
	/* chunks are never removed before destroy: the first n stay */
	for (unsigned long i = n; i-- > 0;) {
		struct zd_gen_pool_chunk snap;

		pool_lock(pool);
		snap = pool->chunks[i]->pub;
		pool_unlock(pool);
		func(pool, &snap, data);
	}
}

void zd_gen_pool_set_algo(struct zd_gen_pool *pool, zd_genpool_algo_t *algo,
			  void *data)
{
	if (ZD_WARN_ON(!pool, "NULL pool"))
		return;
	pool_lock(pool);
	pool->algo = algo ? algo : zd_gen_pool_first_fit;
	pool->data = data;
	pool_unlock(pool);
}
