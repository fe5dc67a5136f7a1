// SPDX-License-Identifier: MIT
/*
 * BARs: physical space in the host bridge's window and a memfd behind
 * each memory BAR; and the simulated DMA engine that reads and writes
 * them by bus address, routed as p2pdma would map the transfer.
 */
#include <errno.h>
#include <stdatomic.h>

#include <zonedev/p2pdma.h>
#include "fault.h"
#include "internal.h"
#include "list.h"
#include "log.h"
#include "../os/os.h"

/* I/O port space is not modelled beyond handing out distinct ports. */
static atomic_ulong next_io_port = 0x1000;

static int bar_setup(struct zd_pci_dev *pdev, int i, uint64_t size, bool io)
{
	struct zd_resource *r = &pdev->resource[i], *claimed;
	int fd;

	r->name = zd_pci_name(pdev);
	if (io) {
		r->start = atomic_fetch_add(&next_io_port, 256);
		r->end = r->start + size - 1;
		r->flags = ZD_IORESOURCE_IO;
		return 0;
	}
	claimed = zd_get_free_mem_region(NULL, pdev->bus->host->window, size,
					 size, r->name, ZD_IORES_DESC_NONE);
	if (!claimed)
		return -errno;
	r->start = claimed->start;
	r->end = claimed->end;
	r->flags = ZD_IORESOURCE_MEM;
	fd = zd_fault("pci.memfd") ? -ENOMEM : zd_os_memfd(r->name, size);
	if (fd < 0) {
		zd_release_mem_region(r->start, size);
		r->flags = 0;
		return fd;
	}
	pdev->bar_fd[i] = fd;
	return 0;
}

int zd_pci_bars_setup(struct zd_pci_dev *pdev, const struct zd_pci_dev_desc *desc)
{
	for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++) {
		int err;

		if (!desc->bar_size[i])
			continue;
		err = bar_setup(pdev, i, desc->bar_size[i],
				desc->bar_io & (1u << i));
		if (err) {
			zd_warn("%s: BAR %d (%#llx bytes): %s", zd_pci_name(pdev),
				i, (unsigned long long)desc->bar_size[i],
				err == -ERANGE ? "no room in the host bridge window"
					       : "no memfd");
			zd_pci_bars_release(pdev);
			return err;
		}
	}
	return 0;
}

/* Gives the address space back; the memfds stay until the device is
 * freed, for DMA that took a reference before the removal. */
void zd_pci_bars_release(struct zd_pci_dev *pdev)
{
	for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++) {
		struct zd_resource *r = &pdev->resource[i];

		if (r->flags & ZD_IORESOURCE_MEM)
			zd_release_mem_region(r->start, zd_resource_size(r));
		r->flags &= ~ZD_IORESOURCE_MEM;
	}
}

/* A NULL @pdev is a bug (reported); a @bar out of range reads as no BAR. */
static bool bar_ok(const struct zd_pci_dev *pdev, int bar, const char *fn)
{
	if (!pdev) {
		zd_log(ZD_LOG_WARN, "WARNING: %s: NULL pdev", fn);
		return false;
	}
	return bar >= 0 && bar < ZD_PCI_STD_NUM_BARS;
}

zd_resource_size_t zd_pci_resource_start(const struct zd_pci_dev *pdev, int bar)
{
	return bar_ok(pdev, bar, __func__) && pdev->resource[bar].flags ?
	       pdev->resource[bar].start : 0;
}

zd_resource_size_t zd_pci_resource_len(const struct zd_pci_dev *pdev, int bar)
{
	return bar_ok(pdev, bar, __func__) && pdev->resource[bar].flags ?
	       zd_resource_size(&pdev->resource[bar]) : 0;
}

unsigned long zd_pci_resource_flags(const struct zd_pci_dev *pdev, int bar)
{
	return bar_ok(pdev, bar, __func__) ? pdev->resource[bar].flags : 0;
}

zd_pci_bus_addr_t zd_pci_bus_address(const struct zd_pci_dev *pdev, int bar)
{
	if (!bar_ok(pdev, bar, __func__) ||
	    !(pdev->resource[bar].flags & ZD_IORESOURCE_MEM))
		return 0;
	return pdev->resource[bar].start - pdev->bus->host->bus_offset;
}

/* ---- the DMA engine ----------------------------------------------------- */

struct dma_target {
	struct zd_pci_dev *pdev;	/* referenced */
	int bar;
	uint64_t off;
};

static bool in_bar(uint64_t addr, size_t len, uint64_t base, uint64_t n)
{
	return addr - base < n && len <= n - (addr - base);
}

/* A device with a memory BAR holding [addr, addr + len) as a bus or a
 * CPU address, referenced. */
static bool dma_find(uint64_t addr, size_t len, struct dma_target *t)
{
	bool found = false;

	pthread_mutex_lock(&zd_pci_lock);
	for (struct zd_list_head *pos = zd_pci_devices.next;
	     pos != &zd_pci_devices && !found; pos = pos->next) {
		struct zd_pci_dev *p = zd_list_pci_dev(pos);

		for (int i = 0; i < ZD_PCI_STD_NUM_BARS && !p->removed && !found; i++) {
			uint64_t n = zd_pci_resource_len(p, i);

			if (!(zd_pci_resource_flags(p, i) & ZD_IORESOURCE_MEM) ||
			    !(in_bar(addr, len, zd_pci_bus_address(p, i), n) ||
			      in_bar(addr, len, zd_pci_resource_start(p, i), n)))
				continue;
			*t = (struct dma_target){ zd_pci_dev_get(p), i, 0 };
			found = true;
		}
	}
	pthread_mutex_unlock(&zd_pci_lock);
	return found;
}

/* Peers under a common switch use bus addresses; through the host bridge
 * (no IOMMU) DMA uses CPU addresses.  -EFAULT: no BAR; -EREMOTEIO: a BAR
 * that @initiator cannot reach with that address. */
static int dma_route(struct zd_pci_dev *initiator, uint64_t addr, size_t len,
		     struct dma_target *t)
{
	enum zd_pci_p2pdma_map_type m;
	uint64_t base;
	int dist;

	if (!dma_find(addr, len, t))
		return -EFAULT;
	m = zd_pci_p2pdma_map_type_dist(t->pdev, initiator, &dist);
	base = m == ZD_PCI_P2PDMA_MAP_BUS_ADDR ? zd_pci_bus_address(t->pdev, t->bar)
					       : zd_pci_resource_start(t->pdev, t->bar);
	if (m != ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED &&
	    in_bar(addr, len, base, zd_pci_resource_len(t->pdev, t->bar))) {
		t->off = addr - base;
		return 0;
	}
	zd_pci_dev_put(t->pdev);
	return -EREMOTEIO;
}

static int dma_xfer(struct zd_pci_dev *initiator, zd_pci_bus_addr_t addr,
		    void *buf, size_t len, bool write)
{
	struct dma_target t = { 0 };	/* GCC cannot see dma_route() set it */
	int err;

	if (!initiator || (!buf && len)) {
		zd_warn("bad argument: initiator %p buf %p", (void *)initiator, buf);
		return -EINVAL;
	}
	/* its driver is unbound: a DMA now is a driver's use after removal */
	pthread_mutex_lock(&zd_pci_lock);
	err = initiator->removed ? -ENODEV : 0;
	pthread_mutex_unlock(&zd_pci_lock);
	if (err) {
		zd_warn("initiator %s was removed", zd_pci_name(initiator));
		return err;
	}
	err = dma_route(initiator, addr, len, &t);
	if (err) {
		zd_log(ZD_LOG_INFO, "%s: DMA %s %#llx+%zu: %s", zd_pci_name(initiator),
		       write ? "write" : "read", (unsigned long long)addr, len,
		       err == -EFAULT ? "no BAR there" : "no peer-to-peer path");
		return err;
	}
	err = write ? zd_os_pwrite_all(t.pdev->bar_fd[t.bar], buf, len, t.off)
		    : zd_os_pread_all(t.pdev->bar_fd[t.bar], buf, len, t.off);
	zd_pci_dev_put(t.pdev);
	return err ? -EIO : 0;
}

int zd_pci_dma_write(struct zd_pci_dev *initiator, zd_pci_bus_addr_t addr,
		     const void *src, size_t len)
{
	return dma_xfer(initiator, addr, (void *)src, len, true);
}

int zd_pci_dma_read(struct zd_pci_dev *initiator, zd_pci_bus_addr_t addr,
		    void *dst, size_t len)
{
	return dma_xfer(initiator, addr, dst, len, false);
}
