/* SPDX-License-Identifier: MIT */
/*
 * Pages: the memory model behind memremap.
 *
 * zonedev's physical space is (1 << zd_max_physmem_bits()) bytes of page
 * frames.  Every frame has a 64-byte struct zd_page in one virtual array
 * (the vmemmap), so pfn <-> page is arithmetic; the array is reserved
 * PROT_NONE and a range's part of it is mapped in when the range is added
 * (memremap) and unmapped when it is removed, so a stale page pointer
 * faults instead of reading garbage.  CPU-accessible device memory is also
 * mapped at zd_phys_to_virt(phys) (the direct map); device-private memory
 * never is.
 *
 * The physical space starts at 46 bits (64 TiB, the kernel's x86-64
 * value) and shrinks, with a message, to what the address space allows
 * (ThreadSanitizer leaves room for 40 bits); ZONEDEV_PHYS_BITS=n (32..46)
 * chooses it.  It is fixed at the first memremap.
 *
 * Page reference counts follow the kernel 6.1 ZONE_DEVICE rules: pages of
 * FS_DAX, GENERIC and PCI_P2PDMA memory idle at one; DEVICE_PRIVATE and
 * COHERENT pages are free at zero and handed out by the driver with
 * zd_zone_device_page_init().  When a put takes a page to zero,
 * free_zone_device_page runs: ops->page_free(page), then the count goes
 * back to one (idle types) or the page's pgmap reference is dropped
 * (private, coherent).  FS_DAX counts from one: a put to one is idle.
 *
 * The inline helpers below are also exported as functions of the same
 * names, for bindings (define ZD_NO_INLINE to call those instead).
 */
#ifndef ZONEDEV_MM_H
#define ZONEDEV_MM_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <zonedev/types.h>

ZD_EXTERN_C_BEGIN

#define ZD_SECTION_SHIFT	27	/* 128 MiB: memory hotplug granule */
#define ZD_SUBSECTION_SHIFT	21	/* 2 MiB: range alignment */
#define ZD_SECTION_SIZE		(1ull << ZD_SECTION_SHIFT)
#define ZD_SUBSECTION_SIZE	(1ull << ZD_SUBSECTION_SHIFT)

struct zd_dev_pagemap;

/* zd_page.flags */
enum {
	ZD_PG_ZONE_DEVICE = 1u << 0,	/* belongs to a dev_pagemap */
	ZD_PG_HEAD = 1u << 1,		/* first page of a compound page */
	ZD_PG_TAIL = 1u << 2,		/* other pages of a compound page */
	ZD_PG_LOCKED = 1u << 3,		/* taken by zd_zone_device_page_init */
};

struct zd_page {
	ZD_ATOMIC(int) _refcount;
	ZD_ATOMIC(unsigned int) flags;
	struct zd_dev_pagemap *pgmap;
	void *zone_device_data;		/* the driver's, for device pages */
	void *mapping;			/* HMM: the mm the page is mapped in */
	unsigned long index;		/* HMM: its page index there */
	unsigned long page_private;	/* the kernel's page->private */
	struct zd_page *compound_head;	/* tails: the head page */
	unsigned long folio_order;	/* heads: log2 of the folio's pages */
};

/*
 * A folio: 2^order contiguous pages that share one reference count, the
 * head's (a tail's get and put go to its head).  Device memory is handed
 * out as folios by zd_zone_device_folio_init(); an order-0 folio is one
 * page.  As in the kernel, a folio is its head page.
 */
struct zd_folio {
	struct zd_page page;
};

/* The largest folio order: a subsection, 2 MiB (order 9 with 4 KiB pages). */
#define ZD_MAX_FOLIO_ORDER	(ZD_SUBSECTION_SHIFT - zd_page_shift)

/* Set once, at the first memremap; read by the inline helpers. */
ZD_API extern struct zd_page *zd_vmemmap;
ZD_API extern char *zd_direct_map;
ZD_API extern unsigned int zd_page_shift;

#ifndef ZD_INLINE
#define ZD_INLINE static inline
#endif

/*
 * The inline helpers' NULL reports, out of line and cold so that the
 * helpers' common path stays one predictable branch.
 */
/* zd_page_ref_count() of NULL: reports it, returns 0. */
ZD_API int zd__page_ref_count_null(void) __attribute__((cold));
/* zd_page_to_pfn() of NULL: reports it, returns ZD_PFN_NONE. */
ZD_API unsigned long zd__page_to_pfn_null(void) __attribute__((cold));
/* zd_page_address() of NULL: reports it, returns NULL. */
ZD_API void *zd__page_address_null(void) __attribute__((cold));

/* No page frame: what zd_page_to_pfn() gives for a NULL page. */
#define ZD_PFN_NONE	(~0ul)

#ifndef ZD_NO_INLINE
/**
 * zd_pfn_to_page - the struct page of a page frame
 * @pfn: page frame number (phys >> zd_page_shift)
 *
 * Arithmetic only: valid where a pgmap maps @pfn (see zd_pfn_valid()).
 * Before the first memremap the result points into the kernel half of
 * the address space: defined arithmetic, and any dereference faults.
 * Context: any.
 * Return: the page.
 */
ZD_INLINE struct zd_page *zd_pfn_to_page(unsigned long pfn)
{
	return zd_vmemmap + pfn;
}

/**
 * zd_page_to_pfn - the page frame of a struct page
 * @page: a page
 *
 * Converts a struct zd_page pointer to its page frame number.  This is
 * arithmetic on the vmemmap address, with no lookup: the inverse of
 * zd_pfn_to_page().
 * Context: any.
 * Return: its pfn; ZD_PFN_NONE for a NULL @page (reported).
 */
ZD_INLINE unsigned long zd_page_to_pfn(const struct zd_page *page)
{
	if (__builtin_expect(!page, 0))
		return zd__page_to_pfn_null();
	return (unsigned long)(page - zd_vmemmap);
}

/**
 * zd_phys_to_virt - the direct-map address of a physical address
 * @phys: a physical address
 *
 * Mapped only for CPU-accessible device memory that is added.
 * Context: any.
 * Return: the virtual address.
 */
ZD_INLINE void *zd_phys_to_virt(zd_phys_addr_t phys)
{
	return zd_direct_map + phys;
}

/**
 * zd_virt_to_phys - the physical address of a direct-map address
 * @addr: an address returned by zd_phys_to_virt() or zd_page_address()
 *
 * Converts an address in zonedev's direct map back to the physical
 * address it maps; the inverse of zd_phys_to_virt().  Only direct-map
 * addresses give a meaningful result.
 * Context: any.
 * Return: the physical address.
 */
ZD_INLINE zd_phys_addr_t zd_virt_to_phys(const void *addr)
{
	return (zd_phys_addr_t)((const char *)addr - zd_direct_map);
}

/**
 * zd_page_address - the direct-map address of a page
 * @page: a page of CPU-accessible memory
 *
 * Returns where the CPU reaches a page's bytes: its address in the
 * direct map.  Device-private pages are not mapped there, and touching
 * such an address crashes, as it would on hardware.
 * Context: any.
 * Return: the virtual address of its first byte; NULL for a NULL @page
 * (reported).
 */
ZD_INLINE void *zd_page_address(const struct zd_page *page)
{
	if (__builtin_expect(!page, 0))
		return zd__page_address_null();
	return zd_phys_to_virt((zd_phys_addr_t)(page - zd_vmemmap) <<
			       zd_page_shift);
}

/**
 * zd_page_ref_count - a page's reference count
 * @page: the page
 *
 * Reads a page's reference count.  ZONE_DEVICE counts follow the
 * kernel 6.1 rules described in this header: idle pages of some types sit
 * at one, free device-private pages at zero.
 * Context: any.
 * Return: the count; 0 for a NULL @page (reported).
 */
ZD_INLINE int zd_page_ref_count(const struct zd_page *page)
{
	if (__builtin_expect(!page, 0))
		return zd__page_ref_count_null();
	return __atomic_load_n((const int *)&page->_refcount, __ATOMIC_RELAXED);
}
#else
ZD_API struct zd_page *zd_pfn_to_page(unsigned long pfn);
ZD_API unsigned long zd_page_to_pfn(const struct zd_page *page);
ZD_API void *zd_phys_to_virt(zd_phys_addr_t phys);
ZD_API zd_phys_addr_t zd_virt_to_phys(const void *addr);
ZD_API void *zd_page_address(const struct zd_page *page);
ZD_API int zd_page_ref_count(const struct zd_page *page);
#endif

/**
 * zd_page_size - the page size (the host's)
 *
 * Returns the size of a page, which is the host's page size; all of
 * zonedev's pfn arithmetic uses it.
 * Context: any.
 * Return: bytes per page.
 */
ZD_API unsigned long zd_page_size(void);

/**
 * zd_max_physmem_bits - the size of zonedev's physical space, in bits
 *
 * Fixes it if no memremap has yet (see the top of this header).
 * Context: may sleep the first time (reserves address space).
 * Return: 32..46, or 0 if no reservation could be made at all.
 */
ZD_API unsigned int zd_max_physmem_bits(void);

/**
 * zd_pfn_valid - whether @pfn has a mapped struct page
 * @pfn: page frame number
 *
 * Stable only while the caller holds zd_get_online_mems() or a reference
 * on the pgmap covering @pfn.
 * Context: any, never sleeps.
 * Return: true if zd_pfn_to_page(@pfn) may be dereferenced.
 */
ZD_API bool zd_pfn_valid(unsigned long pfn);

/**
 * zd_is_zone_device_page - whether @page belongs to a dev_pagemap
 * @page: a page
 *
 * Tells whether @page belongs to a range mapped with
 * zd_memremap_pages(), whatever its memory type.
 * Context: any.
 * Return: true for ZONE_DEVICE pages; false for a NULL @page (reported).
 */
ZD_API bool zd_is_zone_device_page(const struct zd_page *page);

/**
 * zd_is_device_private_page - whether @page is DEVICE_PRIVATE memory
 * @page: a page
 *
 * Tells whether @page belongs to a ZD_MEMORY_DEVICE_PRIVATE pgmap:
 * memory the CPU cannot address, whose pages migrate back on a fault.
 * Context: any.
 * Return: true for device-private pages; false for a NULL @page (reported).
 */
ZD_API bool zd_is_device_private_page(const struct zd_page *page);

/**
 * zd_is_device_coherent_page - whether @page is DEVICE_COHERENT memory
 * @page: a page
 *
 * Tells whether @page belongs to a ZD_MEMORY_DEVICE_COHERENT pgmap:
 * device memory the CPU can address, allocated by its driver.
 * Context: any.
 * Return: true for device-coherent pages; false for a NULL @page (reported).
 */
ZD_API bool zd_is_device_coherent_page(const struct zd_page *page);

/**
 * zd_is_pci_p2pdma_page - whether @page is PCI peer-to-peer memory
 * @page: a page
 *
 * Tells whether @page belongs to a ZD_MEMORY_DEVICE_PCI_P2PDMA pgmap,
 * that is, to PCI BAR memory offered for peer-to-peer DMA.
 * Context: any.
 * Return: true for p2pdma pages; false for a NULL @page (reported).
 */
ZD_API bool zd_is_pci_p2pdma_page(const struct zd_page *page);

/**
 * zd_get_page - take a reference on a page
 * @page: a ZONE_DEVICE page with a non-zero count
 *
 * Reports (and refuses) a page that is not ZONE_DEVICE or is free.
 * Context: any, never sleeps.
 */
ZD_API ZD_HOT void zd_get_page(struct zd_page *page);

/**
 * zd_put_page - drop a reference on a page
 * @page: a ZONE_DEVICE page
 *
 * On the last reference the page is freed to its driver (see above).  A
 * put below zero, or on a page that is not ZONE_DEVICE, is reported and
 * ignored.
 * Context: any; sleeps only if ops->page_free does.
 */
ZD_API ZD_HOT void zd_put_page(struct zd_page *page);

/**
 * zd_page_ref_add - add @nr to a page's count, without the free logic
 * @page: the page
 * @nr: how many
 *
 * Raises a page's reference count by @nr without any of the checks
 * zd_get_page() makes.  For code that manages counts in bulk.  An
 * addition that would overflow the count or take it below zero is
 * reported and undone (a racing reader may see the passing value).
 * Context: any.  A NULL @page is reported and ignored.
 */
ZD_API ZD_HOT void zd_page_ref_add(struct zd_page *page, int nr);

/**
 * zd_page_ref_sub - subtract @nr from a page's count, without freeing
 * @page: the page
 * @nr: how many
 *
 * Lowers a page's reference count by @nr.  Unlike zd_put_page() it
 * never frees the page, even at zero: the caller must know the count
 * stays above.  A subtraction that would take the count below zero is
 * reported and undone (a racing reader may see the passing value).
 * Context: any.  A NULL @page is reported and ignored.
 */
ZD_API ZD_HOT void zd_page_ref_sub(struct zd_page *page, int nr);

/**
 * zd_page_ref_sub_return - subtract @nr and return the new count
 * @page: the page
 * @nr: how many
 *
 * Lowers a page's reference count by @nr and returns the result, without
 * freeing the page at zero; the caller acts on the value.
 * Context: any.
 * Return: the count after the subtraction; -1 for a NULL @page and for
 * a subtraction that would go below zero (both reported; the count is
 * kept): neither zero nor a count a caller would free on.
 */
ZD_API ZD_HOT int zd_page_ref_sub_return(struct zd_page *page, int nr);

/**
 * zd_page_ref_dec_and_test - drop one and say whether the count hit zero
 * @page: the page
 *
 * Lowers a page's reference count by one and reports whether it reached
 * zero; the page is not freed, that is up to the caller.  A count
 * already at zero is reported and kept there.
 * Context: any.
 * Return: true if the count is now zero; false for a NULL @page or a
 * count that was zero already (reported).
 */
ZD_API ZD_HOT bool zd_page_ref_dec_and_test(struct zd_page *page);

/**
 * zd_set_page_count - set a page's count
 * @page: the page
 * @v: the count
 *
 * Overwrites a page's reference count with @v.  Only safe on a page that
 * nobody else can reach, such as a free device page being set up.
 * Context: any; the caller owns the page.  A NULL @page and a negative
 * @v are reported and ignored (the count is kept).
 */
ZD_API void zd_set_page_count(struct zd_page *page, int v);

/**
 * zd_zone_device_folio_init - hand out free device pages as one folio
 * @folio: the first page of 2^@order free DEVICE_PRIVATE or COHERENT
 *         pages, its pfn a multiple of 2^@order
 * @pgmap: the pgmap of those pages
 * @order: 0 up to ZD_MAX_FOLIO_ORDER
 *
 * As zd_zone_device_page_init() for 2^@order pages at once: takes a
 * reference on @pgmap, sets the first page's count from zero to one,
 * locks it, and makes the others its tails, whose references are the
 * folio's.  Every page's folio metadata is written afresh, whatever
 * folio it was part of when last freed, so pages may be handed out at
 * a different order each time.  A page that is in use, or a tail of a
 * folio in use, is reported and refused.  The driver allocates: two
 * racing calls over the same free pages are not told apart.
 * Context: any, never sleeps; writes 2^@order struct pages.
 * Return: 0; -ENODEV if the pgmap is dying; -EBUSY if a page is in use;
 * -EINVAL for a NULL, non-ZONE_DEVICE or idle-type page, another
 * pgmap, an order too large or a misaligned first page (each reported).
 */
ZD_API int zd_zone_device_folio_init(struct zd_folio *folio,
				     struct zd_dev_pagemap *pgmap,
				     unsigned int order);

/* log2 of the largest folio: a subsection, 2 MiB */

/**
 * zd_page_folio - the folio a page is part of
 * @page: a page
 *
 * The head of @page's folio: @page itself unless it is a tail.
 * Context: any; the answer holds while the caller holds a reference.
 * Return: the folio; NULL with errno EINVAL for a NULL @page (reported).
 */
ZD_API struct zd_folio *zd_page_folio(struct zd_page *page);

/**
 * zd_folio_page - a page of a folio
 * @folio: a folio
 * @n: which page, 0 for the head
 *
 * The page @n pages past the head of @folio, for a driver that works on
 * a folio's pages one at a time (copying, mapping).
 * Context: any.
 * Return: the @n-th page; NULL with errno EINVAL for a NULL @folio or
 * an @n past its end (reported).
 */
ZD_API struct zd_page *zd_folio_page(struct zd_folio *folio, unsigned long n);

/**
 * zd_folio_order - log2 of a folio's pages
 * @folio: a folio
 *
 * The order @folio was handed out at (zd_zone_device_folio_init()), or
 * its pgmap's vmemmap_shift for compound pages made at memremap time.
 * Context: any.
 * Return: the order; 0 for a single page and for NULL (reported).
 */
ZD_API unsigned int zd_folio_order(const struct zd_folio *folio);

/**
 * zd_folio_nr_pages - how many pages a folio has
 * @folio: a folio
 *
 * The number of pages that share @folio's reference count: 1 for a
 * single page.
 * Context: any.
 * Return: 2^order; 0 for a NULL @folio (reported).
 */
ZD_API unsigned long zd_folio_nr_pages(const struct zd_folio *folio);

/**
 * zd_zone_device_page_init - hand out a free device page
 * @page: a free DEVICE_PRIVATE or COHERENT page (count zero)
 *
 * Takes a reference on the page's pgmap (refused, with a warning, once
 * the pgmap is being torn down), sets the count from zero to one and
 * marks the page locked, as the kernel does for a page about to be
 * migrated into.  A page in use (handed out already) and a page of an
 * idle type (FS_DAX, GENERIC, PCI_P2PDMA: those hold their pgmap
 * reference already) are reported and refused: either would leak a
 * pgmap reference and hang memunmap.
 * Context: any, never sleeps.
 * Return: 0, or -ENODEV if the pgmap is dying, -EBUSY for a page in use,
 * -EINVAL for a NULL, non-ZONE_DEVICE or idle-type page.
 */
ZD_API int zd_zone_device_page_init(struct zd_page *page);

/**
 * zd_unlock_page - clear the lock zd_zone_device_page_init() set
 * @page: the page
 *
 * Clears the page lock that zd_zone_device_page_init() sets on a page
 * handed out for migration, once the driver has filled it.  A page that
 * is not locked (unlocked twice), NULL or not ZONE_DEVICE is reported.
 * Context: any.
 */
ZD_API void zd_unlock_page(struct zd_page *page);

ZD_EXTERN_C_END

#endif /* ZONEDEV_MM_H */
