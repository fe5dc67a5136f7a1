/* SPDX-License-Identifier: MIT */
/*
 * genalloc: a general-purpose allocator for special memory (device BARs,
 * on-chip SRAM), after lib/genalloc.c, with chunk owners.
 *
 * A pool hands out ranges of 2^min_alloc_order bytes from chunks that the
 * owner adds.  Each chunk may carry an owner pointer (p2pdma passes its
 * pgmap's reference): allocation returns it, so the caller can take a
 * reference on the right owner, and free returns it, so the caller drops
 * it.
 *
 * Placement is the kernel's for every algorithm, but found through an
 * index of the free space (a summary tree over each chunk's bitmap), so
 * an allocation does not rescan the bitmap; chunks are found by address
 * without walking a list.  A custom algorithm (zd_gen_pool_set_algo with
 * a function of your own) is called with the raw bitmap, as in the
 * kernel.
 *
 * All calls are thread-safe (one short spinlock per pool) and never
 * sleep, except create and add (they allocate).  Bad input (freeing what
 * was not allocated, a double free, a size that does not match) is
 * reported and leaves the pool unchanged.
 */
#ifndef ZONEDEV_GENALLOC_H
#define ZONEDEV_GENALLOC_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <zonedev/types.h>

ZD_EXTERN_C_BEGIN

struct zd_gen_pool;

/* An allocation algorithm: the first bit of @nr free bits in @map (of
 * @size bits) at or after @start, or a value >= @size if none. */
typedef unsigned long zd_genpool_algo_t(unsigned long *map, unsigned long size,
		unsigned long start, unsigned int nr, void *data,
		struct zd_gen_pool *pool, unsigned long start_addr);

/* data for zd_gen_pool_first_fit_align */
struct zd_genpool_data_align {
	int align;			/* bytes, a power of two */
};

/* data for zd_gen_pool_fixed_alloc */
struct zd_genpool_data_fixed {
	unsigned long offset;		/* bytes from the chunk start */
};

/* What zd_gen_pool_for_each_chunk shows of a chunk. */
struct zd_gen_pool_chunk {
	unsigned long start_addr, end_addr;	/* inclusive */
	zd_phys_addr_t phys_addr;
	void *owner;
	size_t avail;
};

/**
 * zd_gen_pool_create - create an empty pool
 * @min_alloc_order: log2 of the allocation granule (e.g. 12 for 4 KiB)
 * @nid: NUMA node (ignored)
 *
 * Creates a pool with no memory in it.  Every allocation is a whole
 * number of granules of 2^@min_alloc_order bytes.  Add memory with
 * zd_gen_pool_add_owner() or its shorter forms, and free the pool with
 * zd_gen_pool_destroy().
 * Context: may sleep.
 * Return: the pool, or NULL with errno EINVAL (order outside 0..30) or
 * ENOMEM.
 */
ZD_API struct zd_gen_pool *zd_gen_pool_create(int min_alloc_order, int nid);

/**
 * zd_gen_pool_destroy - free a pool and its chunks
 * @pool: the pool
 *
 * Refused, with a message, while allocations are outstanding.
 * Context: may sleep; nobody else may use @pool.
 * Return: 0, -EBUSY (allocations out), -EINVAL (NULL).
 */
ZD_API int zd_gen_pool_destroy(struct zd_gen_pool *pool);

/**
 * zd_gen_pool_add_owner - add memory to a pool, with an owner
 * @pool: the pool
 * @virt: the address allocations return
 * @phys: its physical address (for virt_to_phys, dma_alloc)
 * @size: bytes (a multiple of the granule is used; the rest is lost)
 * @nid: NUMA node (ignored)
 * @owner: returned with allocations from this chunk
 *
 * Adds the range [@virt, @virt + @size) as a new chunk of @pool.
 * Allocations from it return addresses in that range; @phys lets the pool
 * translate them to physical addresses; @owner is handed back with every
 * allocation and free from this chunk, so the caller can take and drop a
 * reference on whoever owns the memory (a pgmap, for p2pdma).
 * Context: may sleep.
 * Return: 0, -EINVAL (empty, wrapping, more than 2^31 granules, or
 * overlapping a chunk), -ENOMEM.
 */
ZD_API int zd_gen_pool_add_owner(struct zd_gen_pool *pool, unsigned long virt,
				 zd_phys_addr_t phys, size_t size, int nid,
				 void *owner);

/**
 * zd_gen_pool_add_virt - zd_gen_pool_add_owner() without an owner
 * @pool: the pool
 * @virt: the address allocations return
 * @phys: its physical address
 * @size: bytes
 * @nid: NUMA node (ignored)
 *
 * Adds the range [@virt, @virt + @size), whose physical address is
 * @phys, as a new chunk of @pool with no owner.
 * Context: may sleep.
 * Return: as zd_gen_pool_add_owner().
 */
ZD_API int zd_gen_pool_add_virt(struct zd_gen_pool *pool, unsigned long virt,
				zd_phys_addr_t phys, size_t size, int nid);

/**
 * zd_gen_pool_add - add memory whose physical address is unknown
 * @pool: the pool
 * @addr: the address allocations return
 * @size: bytes
 * @nid: NUMA node (ignored)
 *
 * Adds the range [@addr, @addr + @size) as a new chunk of @pool, with no
 * owner and no physical address (zd_gen_pool_virt_to_phys() then
 * fails for it).
 * Context: may sleep.
 * Return: as zd_gen_pool_add_owner().
 */
ZD_API int zd_gen_pool_add(struct zd_gen_pool *pool, unsigned long addr,
			   size_t size, int nid);

/**
 * zd_gen_pool_alloc_algo_owner - allocate with an algorithm, say the owner
 * @pool: the pool
 * @size: bytes (rounded up to the granule)
 * @algo: the algorithm
 * @data: its data
 * @owner: set to the chunk's owner (NULL on failure), or NULL
 *
 * Chunks are tried newest first, as in the kernel.
 * Context: any, never sleeps.
 * Return: the address, or 0 if nothing fits (or @size is 0, or,
 * reported, first_fit_align or fixed_alloc get NULL @data or an
 * alignment that is not a power of two).
 */
ZD_API unsigned long zd_gen_pool_alloc_algo_owner(struct zd_gen_pool *pool,
		size_t size, zd_genpool_algo_t *algo, void *data, void **owner);

/**
 * zd_gen_pool_alloc_algo - allocate with an algorithm
 * @pool: the pool
 * @size: bytes
 * @algo: the algorithm
 * @data: its data
 *
 * Allocates @size bytes (rounded up to whole granules) choosing the
 * place with @algo instead of the pool's own algorithm, for example
 * zd_gen_pool_first_fit_align() with an alignment in @data.
 * Context: any, never sleeps.
 * Return: the address, or 0.
 */
ZD_API unsigned long zd_gen_pool_alloc_algo(struct zd_gen_pool *pool,
		size_t size, zd_genpool_algo_t *algo, void *data);

/**
 * zd_gen_pool_alloc_owner - allocate with the pool's algorithm, say the owner
 * @pool: the pool
 * @size: bytes
 * @owner: set to the chunk's owner, or NULL
 *
 * Allocates @size bytes (rounded up to whole granules) with the pool's
 * algorithm and stores the owner of the chunk it came from in @owner, so
 * the caller can take a reference on that owner before using the memory.
 * Free it with zd_gen_pool_free_owner() to get the owner back.
 * Context: any, never sleeps.
 * Return: the address, or 0.
 */
ZD_API unsigned long zd_gen_pool_alloc_owner(struct zd_gen_pool *pool,
					     size_t size, void **owner);

/**
 * zd_gen_pool_alloc - allocate with the pool's algorithm (first fit)
 * @pool: the pool
 * @size: bytes
 *
 * Allocates @size bytes (rounded up to whole granules) with the pool's
 * algorithm, first fit unless zd_gen_pool_set_algo() chose another.  An
 * address of 0 is never a valid allocation.
 * Context: any, never sleeps.
 * Return: the address, or 0.
 */
ZD_API unsigned long zd_gen_pool_alloc(struct zd_gen_pool *pool, size_t size);

/**
 * zd_gen_pool_dma_alloc - allocate and give the physical address too
 * @pool: the pool
 * @size: bytes
 * @dma: set to the physical address, or NULL
 *
 * Allocates @size bytes like zd_gen_pool_alloc() and also returns the
 * physical address of the allocation in @dma, for handing to a device.
 * Context: any, never sleeps.
 * Return: the address as a pointer, or NULL.
 */
ZD_API void *zd_gen_pool_dma_alloc(struct zd_gen_pool *pool, size_t size,
				   zd_phys_addr_t *dma);

/**
 * zd_gen_pool_dma_zalloc - zd_gen_pool_dma_alloc(), zeroed
 * @pool: the pool (its addresses must be this process's memory)
 * @size: bytes
 * @dma: set to the physical address, or NULL
 *
 * Allocates @size bytes like zd_gen_pool_dma_alloc() and fills them with
 * zeros, which requires the pool's addresses to be memory of this
 * process.
 * Context: any, never sleeps.
 * Return: the address as a pointer, or NULL.
 */
ZD_API void *zd_gen_pool_dma_zalloc(struct zd_gen_pool *pool, size_t size,
				    zd_phys_addr_t *dma);

/**
 * zd_gen_pool_free_owner - free an allocation, say its chunk's owner
 * @pool: the pool
 * @addr: as allocated
 * @size: as allocated
 * @owner: set to the chunk's owner (NULL on failure), or NULL
 *
 * An address not allocated (or already freed), or a size that does not
 * match the allocation, is reported and changes nothing.
 * Context: any, never sleeps.
 * Return: 0, or -EINVAL.
 */
ZD_API int zd_gen_pool_free_owner(struct zd_gen_pool *pool, unsigned long addr,
				  size_t size, void **owner);

/**
 * zd_gen_pool_free - free an allocation
 * @pool: the pool
 * @addr: as allocated
 * @size: as allocated
 *
 * Gives an allocation back to @pool.  @size must be the size it was
 * allocated with; a mismatch, or an address that was not allocated, is
 * reported and leaves the pool unchanged.  Use zd_gen_pool_free_owner()
 * to learn the chunk's owner.
 * Context: any, never sleeps.
 * Return: as zd_gen_pool_free_owner().
 */
ZD_API int zd_gen_pool_free(struct zd_gen_pool *pool, unsigned long addr,
			    size_t size);

/**
 * zd_gen_pool_virt_to_phys - the physical address of a pool address
 * @pool: the pool
 * @addr: an address inside a chunk
 *
 * Translates an address inside one of @pool's chunks to a physical
 * address, using the physical address given when the chunk was added.
 * Context: any, never sleeps.
 * Return: the physical address, or (zd_phys_addr_t)-1 (also for a NULL
 * @pool, reported).
 */
ZD_API zd_phys_addr_t zd_gen_pool_virt_to_phys(struct zd_gen_pool *pool,
					       unsigned long addr);

/**
 * zd_gen_pool_has_addr - whether [@start, @start + @size) is in one chunk
 * @pool: the pool
 * @start: first address
 * @size: bytes
 *
 * Reports whether the whole range lies inside a single chunk of @pool,
 * allocated or not; used to check that memory came from this pool.
 * Context: any, never sleeps.
 * Return: true if one chunk holds the whole range; false for a NULL
 * @pool (reported) or an empty range.
 */
ZD_API bool zd_gen_pool_has_addr(struct zd_gen_pool *pool, unsigned long start,
				 size_t size);

/**
 * zd_gen_pool_avail - bytes not allocated
 * @pool: the pool
 *
 * Sums the free bytes of every chunk of @pool.  Free space may be
 * fragmented, so an allocation of this size can still fail.
 * Context: any.
 * Return: the bytes; 0 for a NULL @pool (reported).
 */
ZD_API size_t zd_gen_pool_avail(struct zd_gen_pool *pool);

/**
 * zd_gen_pool_size - bytes in all chunks
 * @pool: the pool
 *
 * Sums the usable bytes of every chunk added to @pool, allocated or
 * not.
 * Context: any.
 * Return: the bytes; 0 for a NULL @pool (reported).
 */
ZD_API size_t zd_gen_pool_size(struct zd_gen_pool *pool);

/**
 * zd_gen_pool_for_each_chunk - call @func on a snapshot of each chunk
 * @pool: the pool
 * @func: the callback
 * @data: passed to @func
 *
 * Newest chunk first; @func may allocate and free but not add chunks.
 * A NULL @pool or @func is reported and nothing is called.
 * Context: as @func.
 */
ZD_API void zd_gen_pool_for_each_chunk(struct zd_gen_pool *pool,
		void (*func)(struct zd_gen_pool *pool,
			     struct zd_gen_pool_chunk *chunk, void *data),
		void *data);

/**
 * zd_gen_pool_set_algo - set the pool's allocation algorithm
 * @pool: the pool
 * @algo: the algorithm, or NULL for first fit
 * @data: its data
 *
 * Chooses the function that places allocations from now on, and the
 * data passed to it.  The zd_gen_pool_* algorithms in this header are the
 * kernel's; a function of your own receives the chunk's raw bitmap (and
 * may call them on it: given a NULL map they report it and return @size,
 * no bit).  A NULL @pool is reported.
 * Context: any.
 */
ZD_API void zd_gen_pool_set_algo(struct zd_gen_pool *pool,
				 zd_genpool_algo_t *algo, void *data);

/**
 * zd_gen_pool_first_fit - the first free region that fits
 * @map: bitmap (set bits are allocated)
 * @size: bits in @map
 * @start: first bit to consider
 * @nr: bits wanted
 * @data: unused
 * @pool: unused
 * @start_addr: unused
 *
 * The pool finds the same region through its index.
 * Context: any.
 * Return: the first bit, or a value >= @size.
 */
ZD_API unsigned long zd_gen_pool_first_fit(unsigned long *map,
		unsigned long size, unsigned long start, unsigned int nr,
		void *data, struct zd_gen_pool *pool, unsigned long start_addr);

/**
 * zd_gen_pool_first_fit_align - first fit at an alignment
 * @map: bitmap
 * @size: bits
 * @start: first bit to consider
 * @nr: bits wanted
 * @data: struct zd_genpool_data_align
 * @pool: gives the granule
 * @start_addr: the chunk's address (alignment is of addresses)
 *
 * An allocation algorithm for zd_gen_pool_set_algo() or
 * zd_gen_pool_alloc_algo(): the lowest free run of @nr granules whose
 * address is a multiple of the alignment in @data (a power of two).
 * Context: any.
 * Return: the first bit, or a value >= @size (also, reported, for NULL
 * @data or an alignment that is not a power of two).
 */
ZD_API unsigned long zd_gen_pool_first_fit_align(unsigned long *map,
		unsigned long size, unsigned long start, unsigned int nr,
		void *data, struct zd_gen_pool *pool, unsigned long start_addr);

/**
 * zd_gen_pool_first_fit_order_align - first fit aligned to its own size
 * @map: bitmap
 * @size: bits
 * @start: first bit to consider
 * @nr: bits wanted (alignment: @nr rounded up to a power of two)
 * @data: unused
 * @pool: unused
 * @start_addr: unused
 *
 * An allocation algorithm for zd_gen_pool_set_algo() or
 * zd_gen_pool_alloc_algo(): the lowest free run of @nr granules that
 * starts at a multiple of @nr rounded up to a power of two, so each
 * allocation is aligned to its own size.
 * Context: any.
 * Return: the first bit, or a value >= @size.
 */
ZD_API unsigned long zd_gen_pool_first_fit_order_align(unsigned long *map,
		unsigned long size, unsigned long start, unsigned int nr,
		void *data, struct zd_gen_pool *pool, unsigned long start_addr);

/**
 * zd_gen_pool_fixed_alloc - exactly at an offset, or nothing
 * @map: bitmap
 * @size: bits
 * @start: first bit to consider
 * @nr: bits wanted
 * @data: struct zd_genpool_data_fixed
 * @pool: gives the granule
 * @start_addr: unused
 *
 * An allocation algorithm for zd_gen_pool_alloc_algo(): allocates at
 * exactly the byte offset in @data from the chunk's start, or fails if
 * any granule there is taken.
 * Context: any.
 * Return: the offset's bit, or a value >= @size if it is taken (or,
 * reported, for NULL @data).
 */
ZD_API unsigned long zd_gen_pool_fixed_alloc(unsigned long *map,
		unsigned long size, unsigned long start, unsigned int nr,
		void *data, struct zd_gen_pool *pool, unsigned long start_addr);

/**
 * zd_gen_pool_best_fit - the smallest free region that fits
 * @map: bitmap
 * @size: bits
 * @start: first bit to consider
 * @nr: bits wanted
 * @data: unused
 * @pool: unused
 * @start_addr: unused
 *
 * Ties go to the lowest region.
 * Context: any.
 * Return: the first bit, or a value >= @size.
 */
ZD_API unsigned long zd_gen_pool_best_fit(unsigned long *map,
		unsigned long size, unsigned long start, unsigned int nr,
		void *data, struct zd_gen_pool *pool, unsigned long start_addr);

ZD_EXTERN_C_END

#endif /* ZONEDEV_GENALLOC_H */
