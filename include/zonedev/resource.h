/* SPDX-License-Identifier: MIT */
/*
 * The physical resource tree, after kernel/resource.c.
 *
 * The root covers zonedev's whole 64-bit physical space (the kernel's
 * iomem_resource).  Its first level holds the platform layout: "System RAM"
 * (flags ZD_IORESOURCE_SYSTEM_RAM | ZD_IORESOURCE_BUSY), "Reserved" and
 * PCI windows; devices claim ranges below or beside them.  Siblings are
 * kept sorted and never overlap.
 *
 * The default layout (ZD_IOMEM_LAYOUT_DEFAULT), loaded on first use:
 *
 *   0000000000000000-0000000000000fff : Reserved
 *   0000000000001000-000000000009ffff : System RAM
 *   00000000000a0000-00000000000fffff : Reserved
 *   0000000000100000-000000007fffffff : System RAM
 *   0000000080000000-00000000fdffffff : PCI Bus 0000:00
 *   0000000100000000-000000047fffffff : System RAM
 *
 * so everything from 0x480000000 (18 GiB) up is free for devices.
 * ZD_IOMEM_LAYOUT_HOST copies the host's /proc/iomem instead (it needs
 * root to see real addresses; otherwise zonedev says so and keeps the
 * default).  /proc/iomem does not say what is busy: zonedev marks System
 * RAM, Reserved and other leaves busy, and leaves bus windows ("PCI Bus",
 * "Window") and entries with children free for devices to claim inside.
 * ZONEDEV_IOMEM=host in the environment selects it at start.
 *
 * Locking: one reader-writer lock; lookups and walks take the read side,
 * so they run in parallel with each other and never wait on one another.
 * Walk callbacks run without it.
 */
#ifndef ZONEDEV_RESOURCE_H
#define ZONEDEV_RESOURCE_H

#include <stdio.h>
#include <zonedev/types.h>

ZD_EXTERN_C_BEGIN

struct zd_device;

/* The largest physical space zonedev offers (the kernel's x86-64 value);
 * zd_max_physmem_bits() (zonedev/mm.h) says how much this process has,
 * and the free-range search stays below it. */
#define ZD_MAX_PHYSMEM_BITS	46

/* flags (the kernel's IORESOURCE_* values) */
#define ZD_IORESOURCE_MEM	0x00000200ul
#define ZD_IORESOURCE_SYSRAM	0x01000000ul
#define ZD_IORESOURCE_BUSY	0x80000000ul
#define ZD_IORESOURCE_SYSTEM_RAM (ZD_IORESOURCE_MEM | ZD_IORESOURCE_SYSRAM)

/* descriptors (the kernel's IORES_DESC_* values) */
enum {
	ZD_IORES_DESC_NONE = 0,
	ZD_IORES_DESC_CRASH_KERNEL = 1,
	ZD_IORES_DESC_ACPI_TABLES = 2,
	ZD_IORES_DESC_ACPI_NV_STORAGE = 3,
	ZD_IORES_DESC_PERSISTENT_MEMORY = 4,
	ZD_IORES_DESC_PERSISTENT_MEMORY_LEGACY = 5,
	ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY = 6,
	ZD_IORES_DESC_RESERVED = 7,
	ZD_IORES_DESC_SOFT_RESERVED = 8,
	ZD_IORES_DESC_CXL = 9,
};

/* zd_region_intersects() results (the kernel's values) */
enum {
	ZD_REGION_INTERSECTS = 0,
	ZD_REGION_DISJOINT = 1,
	ZD_REGION_MIXED = 2,
};

enum zd_iomem_layout {
	ZD_IOMEM_LAYOUT_DEFAULT = 0,
	ZD_IOMEM_LAYOUT_HOST = 1,
};

struct zd_resource {
	zd_resource_size_t start, end;	/* inclusive */
	const char *name;
	unsigned long flags;
	unsigned long desc;
	struct zd_resource *parent, *sibling, *child;
};

/**
 * zd_iomem_root - the root of the physical resource tree
 *
 * Loads the default layout on first use.
 * Context: any.
 * Return: the root (never NULL).
 */
ZD_API struct zd_resource *zd_iomem_root(void);

/**
 * zd_iomem_setup - replace the platform layout
 * @layout: ZD_IOMEM_LAYOUT_DEFAULT or ZD_IOMEM_LAYOUT_HOST
 *
 * Only while no device holds a region.  Regions zonedev allocates carry
 * the private flag 0x40000000; zd_release_region() frees only those.
 * HOST falls back to the default,
 * with a message, when /proc/iomem shows no addresses (not root).
 * Context: may sleep; takes the tree's write lock.
 * Return: 0 (also after a fallback), -EBUSY if devices hold regions,
 * -EINVAL for an unknown layout, -ENOMEM.
 */
ZD_API int zd_iomem_setup(enum zd_iomem_layout layout);

/**
 * zd_iomem_print - print the tree in /proc/iomem format
 * @f: where to
 *
 * Writes the resource tree to @f as the kernel's /proc/iomem shows it: one
 * line per resource, start and end in hex, indented by depth, and the
 * holder's name.
 * Context: may sleep; takes the read lock.
 * Return: 0, or -EIO on a write error.
 */
ZD_API int zd_iomem_print(FILE *f);

/**
 * zd_resource_size - bytes covered by @res
 * @res: the resource
 *
 * Returns how many bytes @res covers; start and end are both
 * inclusive.
 * Context: any.
 * Return: end - start + 1; 0 for a NULL @res (reported).
 */
ZD_API zd_resource_size_t zd_resource_size(const struct zd_resource *res);

/**
 * zd_request_resource - claim @res directly under @root
 * @root: the parent
 * @res: caller-owned, with start, end, name, flags set and parent NULL
 *       (zero-filled, or released)
 *
 * Inserts @res as a child of @root if it overlaps none of @root's
 * children, so that no one else can claim the range.  The caller owns
 * the memory of @res and must release it with zd_release_resource()
 * before freeing it.
 * Context: may sleep; takes the write lock.
 * Return: 0, -EBUSY if it overlaps a child of @root (the holder is
 * named in a message) or, reported, if @res is in the tree already or
 * is @root or above it, -EINVAL for a bad range.
 */
ZD_API int zd_request_resource(struct zd_resource *root,
			       struct zd_resource *res);

/**
 * zd_release_resource - unlink @old (and its children) from the tree
 * @old: a resource in the tree
 *
 * Takes @old out of the resource tree, together with every resource
 * below it, freeing the range for others.  The memory of @old stays the
 * caller's.
 * Context: may sleep; takes the write lock.
 * Return: 0, or -EINVAL if @old is not in the tree.
 */
ZD_API int zd_release_resource(struct zd_resource *old);

/**
 * zd_insert_resource - insert @res in the tree under @parent
 * @parent: where to start looking
 * @res: caller-owned, parent NULL; may become the parent of existing
 *       resources it fully contains
 *
 * Inserts @res at the right depth below @parent: it may go under an
 * existing resource that contains it, and resources it fully contains
 * become its children.  Used for ranges that must nest around existing
 * claims, such as a bus window.
 * Context: may sleep; takes the write lock.
 * Return: 0, -EBUSY if it partly overlaps an existing resource or,
 * reported, if @res is in the tree already or is @parent or above it,
 * -EINVAL for a bad range.
 */
ZD_API int zd_insert_resource(struct zd_resource *parent,
			      struct zd_resource *res);

/**
 * zd_remove_resource - remove @old, moving its children up to its parent
 * @old: a resource in the tree
 *
 * Takes @old out of the tree but keeps its children, which move up to
 * its parent: the inverse of zd_insert_resource().
 * Context: may sleep; takes the write lock.
 * Return: 0, or -EINVAL if @old is not in the tree.
 */
ZD_API int zd_remove_resource(struct zd_resource *old);

/**
 * zd_request_region - claim [@start, @start + @n) as busy, below @parent
 * @parent: where to look (usually zd_iomem_root())
 * @start: first address
 * @n: length
 * @name: the holder's name (kept by reference)
 * @flags: extra flags for the new region
 *
 * Descends into non-busy resources that contain the range (a PCI window,
 * a device's parent region) and claims below them.  @parent must be in
 * the iomem tree: a region under a detached resource would hide from
 * every other user.
 * Context: may sleep; takes the write lock.
 * Return: the new region, or NULL with errno EBUSY (the holder is named
 * in a message), EINVAL (NULL @parent, or one not in the tree, reported;
 * empty or wrapping range), ENOMEM.
 */
ZD_API struct zd_resource *zd_request_region(struct zd_resource *parent,
		zd_resource_size_t start, zd_resource_size_t n,
		const char *name, unsigned long flags);

/**
 * zd_release_region - release a region claimed with zd_request_region()
 * @parent: as requested
 * @start: as requested
 * @n: as requested
 *
 * Finds the busy region that zd_request_region() created for exactly
 * this range below @parent, takes it out of the tree and frees it.
 * Entries of the platform layout (System RAM, "Reserved") are never
 * released: they are the platform's.
 * Context: may sleep; takes the write lock.
 * Return: 0, -ENOENT (reported) if no such busy region exists or it is
 * the platform's, -EBUSY
 * (reported; nothing changes) while resources are claimed inside it.
 */
ZD_API int zd_release_region(struct zd_resource *parent,
			     zd_resource_size_t start, zd_resource_size_t n);

/**
 * zd_request_mem_region - zd_request_region() in the iomem root
 * @start: first address
 * @n: length
 * @name: the holder's name
 *
 * Claims [@start, @start + @n) as busy in the physical memory tree, as a
 * driver does before using a device's memory, so that no other device can
 * claim it.  Release it with zd_release_mem_region().
 * Context: may sleep.
 * Return: as zd_request_region().
 */
ZD_API struct zd_resource *zd_request_mem_region(zd_resource_size_t start,
		zd_resource_size_t n, const char *name);

/**
 * zd_release_mem_region - zd_release_region() in the iomem root
 * @start: as requested
 * @n: as requested
 *
 * Releases a region claimed with zd_request_mem_region(), making the
 * range free for others.
 * Context: may sleep.
 * Return: as zd_release_region().
 */
ZD_API int zd_release_mem_region(zd_resource_size_t start,
				 zd_resource_size_t n);

/**
 * zd_region_intersects - how a range meets resources of a kind
 * @start: first address
 * @size: length
 * @flags: flags the resources must all have (ZD_IORESOURCE_SYSTEM_RAM...)
 * @desc: descriptor they must have, or ZD_IORES_DESC_NONE for any
 *
 * Looks at the root's children (and, inside a non-matching one, at its
 * descendants, as the kernel does).
 * Context: any thread; takes the read lock (readers never wait on each
 * other, only on a writer).
 * Return: ZD_REGION_DISJOINT if the range meets no such resource;
 * ZD_REGION_INTERSECTS if it meets such resources and nothing else
 * (holes count as nothing); ZD_REGION_MIXED if it meets both kinds;
 * -EINVAL for an empty or wrapping range.
 */
ZD_API int zd_region_intersects(zd_resource_size_t start, size_t size,
				unsigned long flags, unsigned long desc);

/**
 * zd_walk_iomem_res_desc - call @func on each resource of a kind in a range
 * @desc: descriptor, or ZD_IORES_DESC_NONE for any
 * @flags: flags the resources must have
 * @start: first address of the range
 * @end: last address of the range (inclusive)
 * @arg: passed to @func
 * @func: gets a copy clipped to the range; non-zero stops the walk
 *
 * Walks the whole tree in address order, parents before children.
 * Context: may sleep; @func runs without the lock and may change the tree.
 * Return: the first non-zero @func result, 0 if it was called and
 * always returned 0, -EINVAL if nothing matched.
 */
ZD_API int zd_walk_iomem_res_desc(unsigned long desc, unsigned long flags,
		zd_resource_size_t start, zd_resource_size_t end, void *arg,
		int (*func)(struct zd_resource *res, void *arg));

/**
 * zd_get_free_mem_region - find and claim a free, aligned range
 * @dev: device whose devres releases it, or NULL
 * @base: only look inside [base->start, base->end]
 * @size: bytes, rounded up to @align
 * @align: alignment (a power of two)
 * @name: the region's name
 * @desc: descriptor of the new region
 *
 * Searches from the top of @base downward, as HMM's device-private memory
 * wants, for a range that meets no resource at all.
 * Context: may sleep; takes the write lock.
 * Return: the busy region claimed, or NULL with errno ERANGE (no room),
 * EINVAL, ENOMEM.
 */
ZD_API struct zd_resource *zd_get_free_mem_region(struct zd_device *dev,
		struct zd_resource *base, zd_resource_size_t size,
		zd_resource_size_t align, const char *name, unsigned long desc);

/**
 * zd_request_free_mem_region - section-aligned free range for
 * device-private memory
 * @base: where to look
 * @size: bytes
 * @name: the region's name
 *
 * zd_get_free_mem_region() with 128 MiB alignment and
 * ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY.
 * Context: may sleep.
 * Return: as zd_get_free_mem_region().
 */
ZD_API struct zd_resource *zd_request_free_mem_region(struct zd_resource *base,
		zd_resource_size_t size, const char *name);

/**
 * zd_devm_request_free_mem_region - zd_request_free_mem_region() for @dev
 * @dev: the device, whose name the region takes
 * @base: where to look
 * @size: bytes
 *
 * Finds free physical address space for @dev's device-private memory,
 * as zd_request_free_mem_region() does, and claims it as a devres of
 * @dev, so that it is released when the driver is unbound.
 * Context: may sleep.
 * Return: as zd_get_free_mem_region().
 */
ZD_API struct zd_resource *zd_devm_request_free_mem_region(
		struct zd_device *dev, struct zd_resource *base,
		zd_resource_size_t size);

ZD_EXTERN_C_END

#endif /* ZONEDEV_RESOURCE_H */
