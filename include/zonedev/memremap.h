/* SPDX-License-Identifier: MIT */
/*
 * memremap: struct pages for any physical range, after mm/memremap.c.
 *
 * A driver fills a struct zd_dev_pagemap (type, ranges, ops, owner, and
 * for CPU-accessible types the backing of the device memory) and calls
 * zd_devm_memremap_pages().  Every page of the ranges then has a struct
 * zd_page pointing back at the pgmap, and zd_get_dev_pagemap() finds the
 * pgmap of any pfn without a lock.
 *
 * Lifetime (the rules of the design brief):
 *  - each pgmap owns its reference; holders of a page or a lookup hold it;
 *  - teardown kills the reference (no new zd_get_dev_pagemap() succeeds),
 *    drops the pages' own references, waits until every holder is gone,
 *    and only then removes the memmap and mappings and the lookup entries;
 *    it may block but never fails;
 *  - setup fails cleanly at any step and leaves nothing behind;
 *  - ranges meeting System RAM are refused with -ENXIO, ranges another
 *    pgmap maps with -EEXIST;
 *  - setup and teardown are memory hotplug writes (memory_hotplug.h);
 *  - a teardown that waits for references held elsewhere says so every
 *    five seconds (ZONEDEV_HUNG_REPORT_MS=n: every n ms), at INFO level,
 *    naming the pgmap, its device and how many references are out; the
 *    pgmap stays listed (zd_pgmap_for_each), its ref dying, until gone;
 *  - a holder that puts more than it got is reported when teardown reads
 *    the count (per-thread counting cannot see it sooner), and teardown
 *    still finishes;
 *  - setup keeps a few spare mappings so that teardown succeeds even at
 *    vm.max_map_count; setup is refused with -ENOMEM when it cannot have
 *    them, and when host memory cannot back a memmap (no altmap).
 *
 * The driver requests its ranges in the resource tree itself
 * (zd_devm_request_mem_region), as in the kernel.
 */
#ifndef ZONEDEV_MEMREMAP_H
#define ZONEDEV_MEMREMAP_H

#include <zonedev/completion.h>
#include <zonedev/mm.h>
#include <zonedev/percpu_ref.h>

ZD_EXTERN_C_BEGIN

struct zd_device;
struct zd_vm_fault;

enum zd_memory_type {
	/* 0 is left out to catch an uninitialised type */
	ZD_MEMORY_DEVICE_PRIVATE = 1,	/* not CPU-addressable; HMM */
	ZD_MEMORY_DEVICE_COHERENT,	/* CPU-addressable, driver-allocated */
	ZD_MEMORY_DEVICE_FS_DAX,	/* persistent memory under a filesystem */
	ZD_MEMORY_DEVICE_GENERIC,	/* device-dax style memory */
	ZD_MEMORY_DEVICE_PCI_P2PDMA,	/* PCI BAR memory for peer-to-peer */
};

struct zd_dev_pagemap_ops {
	/* A page's count reached zero; it is the driver's again. */
	void (*page_free)(struct zd_page *page);
	/* DEVICE_PRIVATE: a CPU touched the page; bring it back (HMM). */
	int (*migrate_to_ram)(struct zd_vm_fault *vmf);
	/* A range of pfns went bad; -EOPNOTSUPP for the generic handling. */
	int (*memory_failure)(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			      unsigned long nr_pages, int mf_flags);
	/*
	 * Optional (Linux 6.19): a large folio of this pgmap is being split
	 * into order-0 pages; called once for each new folio @tail after
	 * @head (both order 0 by then), so the driver can update its own
	 * metadata (zone_device_data, free accounting).  Called with
	 * zonedev's mm lock held: must not call HMM functions.
	 */
	void (*folio_split)(struct zd_folio *head, struct zd_folio *tail);
};

#define ZD_PGMAP_ALTMAP_VALID	(1u << 0)

/*
 * Device memory set aside to hold the memmap of its own range (the
 * kernel's vmem_altmap): @reserve pages at the start of the range are the
 * driver's (labels, metadata), the next @free pages may hold the memmap.
 * The first reserve + free pages have no usable struct page.
 */
struct zd_vmem_altmap {
	unsigned long base_pfn;		/* first pfn of the range */
	unsigned long end_pfn;
	unsigned long reserve;
	unsigned long free;
	unsigned long align;
	unsigned long alloc;		/* pages the memmap took (zonedev's) */
};

struct zd_range {
	zd_phys_addr_t start, end;	/* inclusive */
};

/* Where CPU-accessible device memory lives in this process. */
enum zd_backing_kind {
	ZD_BACKING_ANON = 0,		/* private anonymous memory */
	ZD_BACKING_FD,			/* a memfd or a file (persistent) */
};

struct zd_pagemap_backing {
	enum zd_backing_kind kind;
	int fd;				/* ZD_BACKING_FD */
	uint64_t offset;		/* file offset of range 0; the ranges
					 * follow each other in the file */
};

struct zd_dev_pagemap {
	struct zd_vmem_altmap altmap;
	struct zd_percpu_ref ref;
	struct zd_completion done;
	enum zd_memory_type type;
	unsigned int flags;
	unsigned long vmemmap_shift;	/* compound page order */
	const struct zd_dev_pagemap_ops *ops;
	void *owner;
	struct zd_pagemap_backing backing;

	/* zonedev's */
	struct zd_device *dev;		/* set by zd_devm_memremap_pages() */
	struct zd_list_head node;	/* in the list of pgmaps */
	unsigned int state;

	int nr_range;
	union {
		struct zd_range range;
		/* nr_range > 1: allocate room for more after the struct */
		struct zd_range ranges[1];
	};
};

/**
 * zd_memremap_pages - give the pgmap's ranges struct pages
 * @pgmap: filled in by the caller; nr_range, ranges and type at least
 * @nid: NUMA node for the memmap (or ZD_NUMA_NO_NODE)
 *
 * Makes device memory look like memory to the rest of zonedev.  Every
 * page of @pgmap's ranges gets a struct zd_page pointing back at @pgmap,
 * in a memmap that is mapped into the vmemmap (or, with an altmap, taken
 * from the device memory itself); CPU-accessible types are also mapped
 * into the direct map from @pgmap's backing.  The pgmap's reference is
 * initialised live and the ranges become visible to zd_get_dev_pagemap().
 *
 * Ranges that touch System RAM are refused with ENXIO, and ranges another
 * pgmap maps with EEXIST.  Any failure undoes every step taken, so the
 * same ranges can be mapped again.  Undo success with zd_memunmap_pages().
 * The caller claims the ranges in the resource tree itself.
 * Context: may sleep; takes the memory hotplug write side.
 * Return: the direct-map address of ranges[0] (not mapped for
 * DEVICE_PRIVATE), or NULL with errno: EINVAL (validation, alignment,
 * flags other than ZD_PGMAP_ALTMAP_VALID (the message names the bits),
 * altmap, a backing.kind not known, a backing file shorter than
 * backing.offset plus the ranges), ENXIO (System RAM), EEXIST (another
 * pgmap), EBUSY (@pgmap mapped or being torn down), ENOMEM (a memmap
 * larger than the host memory available, vm.max_map_count reached, an
 * altmap too small), ERANGE (beyond the physical space).  Messages name
 * the argument.
 */
ZD_API void *zd_memremap_pages(struct zd_dev_pagemap *pgmap, int nid);

/**
 * zd_memunmap_pages - tear down what zd_memremap_pages() set up
 * @pgmap: a mapped pgmap
 *
 * Kills the reference, drops the pages' own references, waits for every
 * other holder (reporting the wait every few seconds), then removes the
 * memmap, the mappings and the lookup entries.  Never fails; a second
 * call while the first waits is reported and ignored.
 * Context: may sleep, without bound (it waits for holders); not while
 * holding a reference on @pgmap or the memory hotplug read side.
 */
ZD_API void zd_memunmap_pages(struct zd_dev_pagemap *pgmap);

/**
 * zd_devm_memremap_pages - zd_memremap_pages() released with @dev's devres
 * @dev: the device
 * @pgmap: as zd_memremap_pages()
 *
 * Maps @pgmap with zd_memremap_pages() and registers its teardown as a
 * devres of @dev, so that unbinding the driver (or a failing probe) runs
 * zd_memunmap_pages() in newest-first order with the driver's other
 * resources.  It also records @dev in @pgmap.
 * Context: may sleep.
 * Return: as zd_memremap_pages().
 */
ZD_API void *zd_devm_memremap_pages(struct zd_device *dev,
				    struct zd_dev_pagemap *pgmap);

/**
 * zd_devm_memunmap_pages - tear down a devm pgmap now
 * @dev: the device
 * @pgmap: mapped by zd_devm_memremap_pages() on @dev
 *
 * Tears down a pgmap mapped with zd_devm_memremap_pages() before
 * unbind: zd_memunmap_pages() runs now, with all its waiting, and the
 * devres entry is dropped so that unbind does not do it again.
 * Context: as zd_memunmap_pages().
 */
ZD_API void zd_devm_memunmap_pages(struct zd_device *dev,
				   struct zd_dev_pagemap *pgmap);

/* The lookup behind zd_get_dev_pagemap(); call that instead. */
ZD_API ZD_HOT struct zd_dev_pagemap *zd__get_dev_pagemap_slow(
		unsigned long pfn, struct zd_dev_pagemap *pgmap);

#ifndef ZD_NO_INLINE
/**
 * zd_get_dev_pagemap - find the pgmap of @pfn and take a live reference
 * @pfn: page frame number
 * @pgmap: a pgmap the caller holds a reference on, or NULL
 *
 * If @pgmap covers @pfn it is returned as it is (inline, no call);
 * otherwise its reference is dropped and @pfn is looked up (lock-free).
 * Context: any thread, never sleeps.
 * Return: the pgmap with a reference held (drop it with
 * zd_put_dev_pagemap()), or NULL if no live pgmap covers @pfn.
 */
ZD_INLINE struct zd_dev_pagemap *zd_get_dev_pagemap(unsigned long pfn,
		struct zd_dev_pagemap *pgmap)
{
	if (pgmap) {
		unsigned long first = (unsigned long)(pgmap->range.start >>
						      zd_page_shift);

		if (pfn - first <= (unsigned long)(pgmap->range.end >>
						   zd_page_shift) - first)
			return pgmap;
	}
	return zd__get_dev_pagemap_slow(pfn, pgmap);
}
#else
ZD_API ZD_HOT struct zd_dev_pagemap *zd_get_dev_pagemap(unsigned long pfn,
		struct zd_dev_pagemap *pgmap);
#endif

#ifndef ZD_NO_INLINE
/**
 * zd_put_dev_pagemap - drop a reference from zd_get_dev_pagemap()
 * @pgmap: the pgmap, or NULL
 *
 * Releases a reference obtained from zd_get_dev_pagemap().  The last
 * put after the pgmap was killed lets a waiting zd_memunmap_pages()
 * continue.  NULL is ignored, so a failed lookup needs no test.
 * Context: any thread, never sleeps.
 */
ZD_INLINE void zd_put_dev_pagemap(struct zd_dev_pagemap *pgmap)
{
	if (pgmap)
		zd_percpu_ref_put(&pgmap->ref);
}
#else
ZD_API ZD_HOT void zd_put_dev_pagemap(struct zd_dev_pagemap *pgmap);
#endif

/**
 * zd_pgmap_pfn_valid - whether @pfn has a usable page in @pgmap
 * @pgmap: the pgmap
 * @pfn: page frame number
 *
 * False for pfns outside the ranges and for the pages an altmap holds.
 * Context: any.
 * Return: true if @pfn is one of @pgmap's usable pages; false for a
 * NULL @pgmap (reported).
 */
ZD_API bool zd_pgmap_pfn_valid(struct zd_dev_pagemap *pgmap, unsigned long pfn);

/**
 * zd_vmem_altmap_offset - pfns from the range start with no usable page
 * @altmap: the altmap, or NULL
 *
 * Tells how many pages at the start of an altmap range have no usable
 * struct page: the driver's reserved pages plus the pages set aside for
 * the memmap.  The first usable pfn is base_pfn plus this offset.
 * Context: any.
 * Return: reserve + free, or 0 without an altmap.
 */
ZD_API unsigned long zd_vmem_altmap_offset(const struct zd_vmem_altmap *altmap);

/**
 * zd_pgmap_for_each - call @fn on every mapped pgmap, oldest first
 * @fn: callback; non-zero stops the walk
 * @arg: passed to @fn
 *
 * A pgmap being torn down is still listed, its ref dying
 * (zd_percpu_ref_is_dying()), until its teardown is done.
 * @fn runs under the pgmap list lock: it must not map or unmap pgmaps.
 * Context: may sleep.
 * Return: the first non-zero @fn result, or 0.
 */
ZD_API int zd_pgmap_for_each(int (*fn)(struct zd_dev_pagemap *pgmap, void *arg),
			     void *arg);

/**
 * zd_pgmap_pages_in_use - pages of @pgmap a user holds now
 * @pgmap: a mapped pgmap
 *
 * Idle types: pages whose count is above one; private and coherent: pages
 * handed out.  Walks the memmap (for tools and tests); a dying pgmap
 * counts until its memmap is being removed.
 * Context: may sleep; takes the memory hotplug read side.
 * Return: the number of pages; 0 once its memmap is being removed, and for
 * one not mapped (never, or no longer) or NULL (both reported).
 */
ZD_API unsigned long zd_pgmap_pages_in_use(struct zd_dev_pagemap *pgmap);

/**
 * zd_memory_type_name - a memory type's kernel name
 * @type: the type
 *
 * Translates an enum zd_memory_type to the kernel's name for it, for
 * messages and listings.
 * Context: any.
 * Return: "DEVICE_PRIVATE", ..., or "INVALID".
 */
ZD_API const char *zd_memory_type_name(enum zd_memory_type type);

/* Progress of long work (memmap initialisation), for a progress bar. */
typedef void zd_progress_fn(const char *what, uint64_t done, uint64_t total,
			    void *arg);

/**
 * zd_set_progress - report long work to @fn
 * @fn: the callback, or NULL for none
 * @arg: passed to @fn
 *
 * @fn may be called from zonedev's worker threads, often, with done
 * rising to total; it must be quick.
 * Context: any.
 */
ZD_API void zd_set_progress(zd_progress_fn *fn, void *arg);

ZD_EXTERN_C_END

#endif /* ZONEDEV_MEMREMAP_H */
