/* SPDX-License-Identifier: MIT */
/*
 * PCI peer-to-peer DMA memory, after drivers/pci/p2pdma.c.
 *
 * A provider's driver gives BAR memory struct pages with
 * zd_pci_p2pdma_add_resource(): each call makes one PCI_P2PDMA pgmap with
 * its own reference and adds the range to the provider's genalloc pool
 * with that reference as the chunk's owner.  An allocation takes a live
 * reference on the owner of the chunk it came from; freeing drops it.  So
 * unbinding the provider waits until every allocation is freed, then
 * releases each pgmap on its own (two BARs never wait on each other).
 *
 * Unbinding first stops new allocations (after which none succeeds), then
 * unmaps the pgmaps newest first, then frees the pool.  Allocation and
 * free are thread-safe and never sleep.
 */
#ifndef ZONEDEV_P2PDMA_H
#define ZONEDEV_P2PDMA_H

#include <zonedev/memremap.h>
#include <zonedev/pci.h>

ZD_EXTERN_C_BEGIN

typedef uint64_t zd_dma_addr_t;

enum zd_pci_p2pdma_map_type {
	ZD_PCI_P2PDMA_MAP_UNKNOWN = 0,
	ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED,	/* no usable path */
	ZD_PCI_P2PDMA_MAP_BUS_ADDR,		/* through a common switch */
	ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,	/* up and through the root */
};

/* One scatter-gather segment; a list ends at the entry with @end set. */
struct zd_scatterlist {
	struct zd_page *page;
	unsigned int offset, length;
	zd_dma_addr_t dma_address;	/* set by zd_pci_p2pdma_map_sg() */
	bool end;
};

/* What the kernel shows in /sys/bus/pci/devices/.../p2pmem/. */
struct zd_p2pmem_attrs {
	size_t size;			/* bytes added */
	size_t available;		/* bytes not allocated */
	bool published;
};

/**
 * zd_pci_p2pdma_add_resource - give part of a BAR to peer-to-peer DMA
 * @pdev: the provider; its driver is bound (the memory is devres of it)
 * @bar: a memory BAR
 * @size: bytes, 0 for the rest of the BAR from @offset
 * @offset: where in the BAR to start
 *
 * Maps the range (struct pages, a CPU mapping of the BAR's memfd) as a
 * ZD_MEMORY_DEVICE_PCI_P2PDMA pgmap and adds it to @pdev's pool with the
 * pgmap's reference as owner.  On any failure nothing of this call
 * remains (the pages are unmapped again if adding the chunk fails).
 * Context: may sleep; the provider's driver calls it (probe, usually),
 * not from two threads at once for one device.
 * Return: 0; -EINVAL (I/O or absent BAR, @offset at or past the end,
 * @offset + @size past the end, range not 2 MiB aligned), -ENODEV (no
 * driver bound), -ENOMEM, or an error of zd_devm_memremap_pages().
 */
ZD_API int zd_pci_p2pdma_add_resource(struct zd_pci_dev *pdev, int bar,
				      size_t size, uint64_t offset);

/**
 * zd_pci_p2pdma_distance_many - total distance from a provider to clients
 * @provider: the provider
 * @clients: devices (PCI devices, or devices with a PCI parent)
 * @num_clients: how many
 * @verbose: log why a client cannot be used
 *
 * Distance counts the bridge hops from each client up to the bridge it
 * shares with @provider and back down; clients that share none go
 * through the host bridge, allowed only when the host bridges are on the
 * allow list (same host bridge for the older Intel parts).
 * Context: may sleep.
 * Return: the sum, 0 when the only client is the provider, or -1 if any
 * client is unusable or @num_clients is 0; -1 too, reported, for a NULL
 * @provider, @clients or client entry, or a negative @num_clients.
 */
ZD_API int zd_pci_p2pdma_distance_many(struct zd_pci_dev *provider,
		struct zd_device **clients, int num_clients, bool verbose);

/**
 * zd_pci_p2pdma_distance - zd_pci_p2pdma_distance_many() for one client
 * @provider: the provider
 * @client: the client
 * @verbose: log why it cannot be used
 *
 * Tells whether @client can do DMA to @provider's p2p memory and how
 * far apart they are, counted in bridge hops through their closest
 * common bridge; a path through the host bridge is allowed only for host
 * bridges on the allow list.
 * Context: may sleep.
 * Return: as zd_pci_p2pdma_distance_many().
 */
ZD_API int zd_pci_p2pdma_distance(struct zd_pci_dev *provider,
				  struct zd_device *client, bool verbose);

/**
 * zd_pci_p2pdma_map_type_dist - how @client's DMA reaches @provider
 * @provider: the device whose memory is accessed
 * @client: the device doing DMA
 * @dist: set to the distance (see zd_pci_p2pdma_distance_many())
 *
 * BUS_ADDR when they share a bridge and no port on the way redirects
 * (ACS); THRU_HOST_BRIDGE when the path goes up through the host bridge
 * and that is allowed; NOT_SUPPORTED otherwise.
 * Context: may sleep.
 * Return: the map type.
 */
ZD_API enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type_dist(
		struct zd_pci_dev *provider, struct zd_pci_dev *client,
		int *dist);

/**
 * zd_pci_p2pdma_map_type - map type for a P2PDMA pgmap and a DMA device
 * @pgmap: a ZD_MEMORY_DEVICE_PCI_P2PDMA pgmap
 * @dev: the device that will do DMA
 *
 * Tells how a DMA device reaches the memory of a PCI_P2PDMA pgmap: by
 * bus address through a switch, through the host bridge, or not at all.
 * A DMA mapping layer asks this before handing the device an address.
 * Context: may sleep.
 * Return: as zd_pci_p2pdma_map_type_dist(); NOT_SUPPORTED for a non-PCI
 * @dev, a pgmap of another type or a provider being unbound, and,
 * reported, for a NULL @pgmap or @dev.
 */
ZD_API enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type(
		struct zd_dev_pagemap *pgmap, struct zd_device *dev);

/**
 * zd_pci_has_p2pmem - whether a device has published p2p memory
 * @pdev: the device
 *
 * Tells whether @pdev currently offers its p2p memory to other devices,
 * that is, whether zd_pci_p2pmem_find() may choose it.
 * Context: any; does not sleep.
 * Return: true if zd_pci_p2pmem_publish(@pdev, true) was called; false
 * for a NULL @pdev (reported).
 */
ZD_API bool zd_pci_has_p2pmem(struct zd_pci_dev *pdev);

/**
 * zd_pci_p2pmem_find_many - the closest published provider for clients
 * @clients: the devices that will do DMA
 * @num_clients: how many
 *
 * Among published providers usable by every client, one with the least
 * total distance; ties are broken at random.
 * Context: may sleep.
 * Return: the provider with a reference taken (zd_pci_dev_put() it), or
 * NULL if none; NULL, reported, for a NULL @clients or client entry or a
 * negative @num_clients.
 */
ZD_API struct zd_pci_dev *zd_pci_p2pmem_find_many(struct zd_device **clients,
						  int num_clients);

/**
 * zd_pci_p2pmem_find - zd_pci_p2pmem_find_many() for one client
 * @client: the device that will do DMA
 *
 * Finds the published provider of p2p memory closest to @client, for a
 * driver that wants a buffer its device can DMA to without going through
 * host memory.  The reference it returns keeps the provider alive, not
 * its memory: allocate with zd_pci_alloc_p2pmem().
 * Context: may sleep.
 * Return: as zd_pci_p2pmem_find_many().
 */
ZD_API struct zd_pci_dev *zd_pci_p2pmem_find(struct zd_device *client);

/**
 * zd_pci_alloc_p2pmem - allocate peer-to-peer memory
 * @pdev: the provider
 * @size: bytes (rounded up to pages)
 *
 * Takes a live reference on the pgmap the memory came from, so unbinding
 * the provider waits for zd_pci_free_p2pmem().  Once unbinding has begun
 * this fails.
 * Context: any thread; does not sleep.
 * Return: the CPU address, or NULL with errno ENOMEM (no room),
 * ENODEV (no p2p memory, or being unbound), EINVAL (@size 0).
 */
ZD_API void *zd_pci_alloc_p2pmem(struct zd_pci_dev *pdev, size_t size);

/**
 * zd_pci_free_p2pmem - free what zd_pci_alloc_p2pmem() returned
 * @pdev: the provider
 * @addr: the address
 * @size: the size passed to the allocation
 *
 * A bad free (not allocated, wrong size) is reported and changes nothing.
 * Context: any thread; does not sleep.
 */
ZD_API void zd_pci_free_p2pmem(struct zd_pci_dev *pdev, void *addr,
			       size_t size);

/**
 * zd_pci_p2pmem_virt_to_bus - bus address of p2p memory
 * @pdev: the provider
 * @addr: an address inside an allocation from @pdev
 *
 * Translates a CPU address inside p2p memory allocated from @pdev to
 * the PCI bus address other devices use to reach it, for programming a
 * peer's DMA engine.
 * Context: any.
 * Return: the bus address, 0 for a NULL @addr or an address not from
 * @pdev; 0 for a NULL @pdev (reported).
 */
ZD_API zd_pci_bus_addr_t zd_pci_p2pmem_virt_to_bus(struct zd_pci_dev *pdev,
						   void *addr);

/**
 * zd_pci_p2pmem_alloc_sgl - allocate p2p memory as a scatterlist
 * @pdev: the provider
 * @nents: set to the number of entries (1)
 * @length: bytes
 *
 * Allocates @length bytes of @pdev's p2p memory, as
 * zd_pci_alloc_p2pmem() does, and describes it as a one-entry
 * scatterlist, the form block and RDMA drivers pass around.
 * Context: does not sleep.
 * Return: the list, or NULL with errno as zd_pci_alloc_p2pmem(), or
 * EINVAL for a NULL @nents (reported; nothing is allocated).
 */
ZD_API struct zd_scatterlist *zd_pci_p2pmem_alloc_sgl(struct zd_pci_dev *pdev,
		unsigned int *nents, uint32_t length);

/**
 * zd_pci_p2pmem_free_sgl - free a list from zd_pci_p2pmem_alloc_sgl()
 * @pdev: the provider
 * @sgl: the list, or NULL
 *
 * Frees the memory described by a scatterlist from
 * zd_pci_p2pmem_alloc_sgl(), and the list itself, dropping the reference
 * the allocation held on the provider's pgmap.
 * Context: does not sleep.
 */
ZD_API void zd_pci_p2pmem_free_sgl(struct zd_pci_dev *pdev,
				   struct zd_scatterlist *sgl);

/**
 * zd_sg_virt - CPU address of a segment
 * @sg: the segment
 *
 * Returns the CPU address of the bytes a scatterlist segment describes,
 * through the direct map.
 * Context: any.
 * Return: the address of its page plus its offset; NULL, reported, for
 * a NULL segment or one without a page.
 */
ZD_API void *zd_sg_virt(const struct zd_scatterlist *sg);

/**
 * zd_pci_p2pdma_map_sg - set the DMA addresses of p2p segments for @dev
 * @dev: the device that will do DMA
 * @sg: the list (every page a PCI_P2PDMA page)
 * @nents: entries
 *
 * BUS_ADDR segments get the bus address; THRU_HOST_BRIDGE ones the CPU
 * physical address (no IOMMU: the host bridge forwards it).
 * Context: may sleep.
 * Return: @nents, or -EREMOTEIO (no path), -EINVAL (not p2p memory;
 * NULL @dev, NULL @sg or negative @nents, reported).
 */
ZD_API int zd_pci_p2pdma_map_sg(struct zd_device *dev, struct zd_scatterlist *sg,
				int nents);

/**
 * zd_pci_p2pmem_publish - offer (or stop offering) p2p memory to others
 * @pdev: the provider
 * @publish: true to make zd_pci_p2pmem_find_many() return it
 *
 * Makes @pdev's p2p memory visible to zd_pci_p2pmem_find() and
 * zd_pci_p2pmem_find_many() (or hides it again).  Unpublishing does not
 * affect allocations already made.  Publishing a device without p2p
 * memory, and a NULL @pdev, are reported; unpublishing one whose memory
 * is gone already is not.
 * Context: any.
 */
ZD_API void zd_pci_p2pmem_publish(struct zd_pci_dev *pdev, bool publish);

/**
 * zd_pci_p2pmem_attrs - the provider's p2pmem attributes
 * @pdev: the device
 * @attrs: filled in (all zero when it has no p2p memory)
 *
 * Reads what the kernel shows in sysfs for a provider: how much p2p
 * memory it has, how much is not allocated, and whether it is published.
 * Context: any.
 * Return: 0, or -ENODEV when @pdev has no p2p memory, -EINVAL for NULL.
 */
ZD_API int zd_pci_p2pmem_attrs(struct zd_pci_dev *pdev,
			       struct zd_p2pmem_attrs *attrs);

ZD_EXTERN_C_END

#endif /* ZONEDEV_P2PDMA_H */
