/* SPDX-License-Identifier: MIT */
/*
 * A model of PCI sufficient for peer-to-peer DMA: host bridges with a
 * memory window, a tree of buses and bridges (PCIe root ports, switch
 * ports) with their ACS redirect setting, and devices with BARs.
 *
 * Each memory BAR gets physical address space inside its host bridge's
 * window (naturally aligned, as PCI does) and is backed by a memfd, so the
 * CPU (through p2pdma's direct map) and the simulated DMA engine
 * (zd_pci_dma_write/read) reach the same bytes.  A bus address is the CPU
 * physical address minus the host bridge's bus offset.
 *
 * PCI devices and host bridges are zonedev devices: drivers bind to
 * &pdev->dev with zd_device_bind(), use its devres, and are unbound when
 * the device is removed.  Topology changes (create, add, remove) are
 * serialised by one lock; lookups walk the tree under it too.  Devices
 * are named as the kernel names them ("0000:03:00.0"); host bridges
 * "pci0000:00".
 */
#ifndef ZONEDEV_PCI_H
#define ZONEDEV_PCI_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <zonedev/device.h>
#include <zonedev/resource.h>

ZD_EXTERN_C_BEGIN

typedef uint64_t zd_pci_bus_addr_t;

#define ZD_PCI_STD_NUM_BARS	6
#define ZD_PCI_ANY_ID		(~0u)
#define ZD_PCI_DEVFN(slot, func)	((((slot) & 0x1f) << 3) | ((func) & 0x07))
#define ZD_PCI_SLOT(devfn)		(((devfn) >> 3) & 0x1f)
#define ZD_PCI_FUNC(devfn)		((devfn) & 0x07)
#define ZD_PCI_VENDOR_ID_INTEL	0x8086
#define ZD_IORESOURCE_IO	0x00000100ul

/* PCIe port types (the kernel's PCI_EXP_TYPE_* values). */
enum zd_pcie_type {
	ZD_PCI_EXP_TYPE_ENDPOINT = 0x0,
	ZD_PCI_EXP_TYPE_ROOT_PORT = 0x4,
	ZD_PCI_EXP_TYPE_UPSTREAM = 0x5,		/* switch upstream port */
	ZD_PCI_EXP_TYPE_DOWNSTREAM = 0x6,	/* switch downstream port */
};

/* What zd_pci_add_device() creates. */
struct zd_pci_dev_desc {
	unsigned int vendor, device;
	enum zd_pcie_type type;		/* ports get a subordinate bus */
	bool acs_redir;			/* ports: ACS P2P request/completion
					 * redirect or egress control on */
	uint64_t bar_size[ZD_PCI_STD_NUM_BARS];	/* 0: none; a power of
						 * two, >= 4 KiB if memory */
	unsigned int bar_io;		/* bit n: BAR n is I/O, not memory */
};

struct zd_pci_host_bridge;
struct zd_pci_dev;
struct zd_pci_p2pdma;

struct zd_pci_bus {
	struct zd_pci_bus *parent;	/* NULL for a root bus */
	struct zd_pci_dev *self;	/* bridge leading here; NULL for root */
	struct zd_pci_host_bridge *host;
	unsigned int number;
	struct zd_list_head devices;	/* zd_pci_dev.bus_list */
};

struct zd_pci_host_bridge {
	struct zd_device dev;		/* "pci0000:00" */
	struct zd_pci_bus bus;		/* the root bus */
	int domain;
	struct zd_resource *window;	/* its memory window in iomem */
	uint64_t bus_offset;		/* CPU physical - bus address */
	/* zonedev's */
	unsigned int next_busnr;
	char window_name[24];
	struct zd_list_head node;
	bool removed;			/* zd_pci_host_bridge_remove() ran */
};

struct zd_pci_dev {
	struct zd_device dev;		/* "0000:03:00.0" */
	struct zd_pci_bus *bus;		/* where it sits */
	struct zd_pci_bus *subordinate;	/* ports: the bus below */
	unsigned int devfn;
	unsigned int vendor, device;
	enum zd_pcie_type type;
	bool acs_redir;
	struct zd_resource resource[ZD_PCI_STD_NUM_BARS];
	int bar_fd[ZD_PCI_STD_NUM_BARS];	/* memfd, -1 if none */
	/* zonedev's */
	struct zd_pci_p2pdma *p2pdma;	/* RCU; see zonedev/p2pdma.h */
	struct zd_list_head bus_list;	/* in bus->devices */
	struct zd_list_head node;	/* in the list of all PCI devices */
	bool removed;
	bool live;			/* added and not removed: the
					 * topology holds two references */
};

/**
 * zd_pci_host_bridge_create - add a host bridge with an empty root bus
 * @domain: PCI domain (segment) number, 0..65535, unique
 * @window_size: bytes of memory window for its BARs (a power of two)
 * @bus_offset: CPU physical address minus bus address in that window
 *
 * The window is claimed in iomem, as high as zonedev's physical space
 * allows, and is named "PCI Bus dddd:00".
 * Context: may sleep.
 * Return: the bridge, or NULL with errno EINVAL (bad argument, taken
 * domain), ERANGE (no free physical space) or ENOMEM.
 */
ZD_API struct zd_pci_host_bridge *zd_pci_host_bridge_create(int domain,
		uint64_t window_size, uint64_t bus_offset);

/**
 * zd_pci_host_bridge_remove - remove every device below, then the bridge
 * @host: the bridge
 *
 * Each device is unbound (waiting, as unbind does, for what its driver
 * waits for) and removed, children first; then the window is released.
 * A second call (the caller kept the bridge with zd_get_device()) is
 * reported and ignored.
 * Context: may sleep; not from a driver callback of a device below.
 */
ZD_API void zd_pci_host_bridge_remove(struct zd_pci_host_bridge *host);

/**
 * zd_pci_add_device - add a device (or port) to a bus
 * @bus: the bus: &host->bus, or a port's subordinate bus
 * @devfn: ZD_PCI_DEVFN(slot, function), free on @bus
 * @desc: identity, type and BARs
 *
 * Memory BARs get naturally aligned space in the host bridge's window
 * (claimed in iomem under the device's name) and a memfd of their size;
 * root and switch ports get a subordinate bus with the next bus number.
 * The device is registered (zd_device_add) with the bridge above it as
 * parent; no driver is bound.
 * Context: may sleep.
 * Return: the device (its reference belongs to the topology), or NULL
 * with errno EINVAL (bad argument, a bar_io bit above BAR 5, or devfn
 * taken), ERANGE (window full),
 * EMFILE/ENOMEM.
 */
ZD_API struct zd_pci_dev *zd_pci_add_device(struct zd_pci_bus *bus,
		unsigned int devfn, const struct zd_pci_dev_desc *desc);

/**
 * zd_pci_stop_and_remove_bus_device - unbind and remove a device
 * @pdev: the device; a port takes everything below it along
 *
 * Removes @pdev from the topology as hot-unplug would: its driver is
 * unbound (releasing its devres, p2p memory included) and the device is
 * taken off its bus.  For a bridge, every device below it goes first.
 * Memory is freed when the last reference to the device is dropped.
 * Context: may sleep; not from a driver callback of @pdev.
 */
ZD_API void zd_pci_stop_and_remove_bus_device(struct zd_pci_dev *pdev);

/**
 * zd_pci_dev_get - take a reference on a PCI device
 * @pdev: the device, or NULL
 *
 * Adds a reference to a PCI device so that it stays valid while used,
 * even if it is removed meanwhile.  NULL is passed through.
 * Context: any.
 * Return: @pdev.
 */
ZD_API struct zd_pci_dev *zd_pci_dev_get(struct zd_pci_dev *pdev);

/**
 * zd_pci_dev_put - drop a reference taken with zd_pci_dev_get()
 * @pdev: the device, or NULL
 *
 * Drops a reference to a PCI device; the last one frees it, its BAR
 * memory and its address space included.  NULL is ignored.  A put that
 * would take one of the references the topology holds on a device still
 * in it (a put without a get) is reported and ignored.
 * Context: may free the device (its memfds and BAR regions).
 */
ZD_API void zd_pci_dev_put(struct zd_pci_dev *pdev);

/**
 * zd_pci_get_device - iterate over PCI devices by vendor and device id
 * @vendor: vendor id or ZD_PCI_ANY_ID
 * @device: device id or ZD_PCI_ANY_ID
 * @from: the previous match, whose reference is dropped; NULL to start
 *
 * Devices are visited in the order they were added.
 * Context: may sleep.
 * Return: the next match with a reference taken, or NULL at the end.
 */
ZD_API struct zd_pci_dev *zd_pci_get_device(unsigned int vendor,
		unsigned int device, struct zd_pci_dev *from);

/**
 * zd_dev_is_pci - whether a zonedev device is a PCI device
 * @dev: the device
 *
 * Tells whether a struct zd_device is the one embedded in a struct
 * zd_pci_dev, so that zd_to_pci_dev() may be used on it.
 * Context: any.
 * Return: true for the zd_device inside a struct zd_pci_dev; false for
 * NULL (reported).
 */
ZD_API bool zd_dev_is_pci(const struct zd_device *dev);

/**
 * zd_to_pci_dev - the PCI device containing @dev
 * @dev: a device for which zd_dev_is_pci() is true
 *
 * Goes from the generic device a driver's callbacks receive to the PCI
 * device around it, as the kernel's to_pci_dev().
 * Context: any.
 * Return: the PCI device, or NULL (with a warning) if @dev is not one.
 */
ZD_API struct zd_pci_dev *zd_to_pci_dev(struct zd_device *dev);

/**
 * zd_pci_name - a device's name, "dddd:bb:ss.f"
 * @pdev: the device
 *
 * Returns the device's PCI address as the kernel prints it: domain, bus,
 * slot and function.
 * Context: any.
 * Return: the name, valid as long as the device; "(null)" for a NULL
 * @pdev (reported).
 */
ZD_API const char *zd_pci_name(const struct zd_pci_dev *pdev);

/**
 * zd_pci_upstream_bridge - the port above a device
 * @pdev: the device
 *
 * Returns the bridge directly above @pdev: the root port or switch port
 * whose secondary bus @pdev sits on.  p2pdma walks these to find the
 * path between two devices.
 * Context: any; the caller's reference on @pdev keeps the bridge.
 * Return: the port whose subordinate bus holds @pdev, or NULL on a root bus
 * and for a NULL @pdev (reported).
 */
ZD_API struct zd_pci_dev *zd_pci_upstream_bridge(struct zd_pci_dev *pdev);

/**
 * zd_pci_find_host_bridge - the host bridge above a bus
 * @bus: the bus
 *
 * Walks up from @bus to the host bridge at the top of its tree, which
 * owns the memory window and the bus offset.
 * Context: any.
 * Return: the bridge; NULL for a NULL @bus (reported).
 */
ZD_API struct zd_pci_host_bridge *zd_pci_find_host_bridge(struct zd_pci_bus *bus);

/**
 * zd_pci_resource_start - CPU physical address of a BAR
 * @pdev: the device
 * @bar: 0..5
 *
 * Returns the CPU physical address at which BAR @bar of @pdev is
 * assigned, inside its host bridge's window.
 * Context: any.
 * Return: the start, 0 for no BAR or an invalid @bar, and for a NULL
 * @pdev (reported).
 */
ZD_API zd_resource_size_t zd_pci_resource_start(const struct zd_pci_dev *pdev,
						int bar);

/**
 * zd_pci_resource_len - size of a BAR
 * @pdev: the device
 * @bar: 0..5
 *
 * Returns the size in bytes of BAR @bar of @pdev.
 * Context: any.
 * Return: bytes, 0 for no BAR or an invalid @bar, and for a NULL @pdev
 * (reported).
 */
ZD_API zd_resource_size_t zd_pci_resource_len(const struct zd_pci_dev *pdev,
					      int bar);

/**
 * zd_pci_resource_flags - flags of a BAR
 * @pdev: the device
 * @bar: 0..5
 *
 * Returns the resource flags of BAR @bar of @pdev, which say whether it
 * is memory or I/O space.
 * Context: any.
 * Return: ZD_IORESOURCE_MEM or ZD_IORESOURCE_IO, 0 for no BAR, and for
 * a NULL @pdev (reported).
 */
ZD_API unsigned long zd_pci_resource_flags(const struct zd_pci_dev *pdev,
					   int bar);

/**
 * zd_pci_bus_address - the bus address of a BAR
 * @pdev: the device
 * @bar: 0..5
 *
 * Returns the address at which other PCI devices reach BAR @bar of
 * @pdev: the CPU physical address translated by the host bridge's bus
 * offset.
 * Context: any.
 * Return: zd_pci_resource_start() minus the host bridge's bus offset, 0
 * for no memory BAR, and for a NULL @pdev (reported).
 */
ZD_API zd_pci_bus_addr_t zd_pci_bus_address(const struct zd_pci_dev *pdev,
					    int bar);

/**
 * zd_pci_dma_write - the simulated DMA engine of @initiator writes memory
 * @initiator: the device doing DMA
 * @addr: bus address in some device's memory BAR
 * @src: bytes to write
 * @len: how many; the whole transfer must lie in one BAR
 *
 * The transfer is routed as p2pdma would map it: refused when the target
 * BAR's device and @initiator cannot reach each other
 * (ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED).
 * Context: may sleep.
 * Return: 0, -EFAULT (no BAR there), -EREMOTEIO (no path), -EIO;
 * reported: -EINVAL (NULL @initiator or buffer), -ENODEV (@initiator
 * was removed: its driver is unbound and may not do DMA).
 */
ZD_API int zd_pci_dma_write(struct zd_pci_dev *initiator, zd_pci_bus_addr_t addr,
			    const void *src, size_t len);

/**
 * zd_pci_dma_read - the simulated DMA engine of @initiator reads memory
 * @initiator: the device doing DMA
 * @addr: bus address in some device's memory BAR
 * @dst: where the bytes go
 * @len: how many; the whole transfer must lie in one BAR
 *
 * Copies @len bytes from bus address @addr into @dst as @initiator's
 * DMA engine would: the transfer is routed as p2pdma would map it, and
 * refused when the two devices cannot reach each other.  The counterpart
 * of zd_pci_dma_write().
 * Context: may sleep.
 * Return: as zd_pci_dma_write().
 */
ZD_API int zd_pci_dma_read(struct zd_pci_dev *initiator, zd_pci_bus_addr_t addr,
			   void *dst, size_t len);

ZD_EXTERN_C_END

#endif /* ZONEDEV_PCI_H */
