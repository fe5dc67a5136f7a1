// SPDX-License-Identifier: MIT
/*
 * The PCI topology: host bridges, buses, ports and devices, and their
 * lifetimes.  A device holds a reference on the device above it until it
 * is freed, so walking upstream from a referenced device is always safe.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "fault.h"
#include "internal.h"
#include "list.h"
#include "log.h"
#include "../device/internal.h"
#include "../resource/internal.h"
#include "../os/os.h"
#include <zonedev/mm.h>

pthread_mutex_t zd_pci_lock = PTHREAD_MUTEX_INITIALIZER;
struct zd_list_head zd_pci_devices = { &zd_pci_devices, &zd_pci_devices };
static struct zd_list_head hosts = { &hosts, &hosts };

#define pdev_of(d)	container_of(d, struct zd_pci_dev, dev)
#define host_of(d)	container_of(d, struct zd_pci_host_bridge, dev)
#define bus_pdev(pos)	container_of(pos, struct zd_pci_dev, bus_list)

static void pci_release_dev(struct zd_device *dev)
{
	struct zd_pci_dev *pdev = pdev_of(dev);
	struct zd_device *up = pdev->bus->self ? &pdev->bus->self->dev
					       : &pdev->bus->host->dev;

	pthread_mutex_lock(&zd_pci_lock);
	if (pdev->node.next)
		zd_list_del_init(&pdev->node);
	pthread_mutex_unlock(&zd_pci_lock);
	for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++)
		zd_os_close(pdev->bar_fd[i]);
	free(pdev->subordinate);
	free(pdev);
	zd_put_device(up);
}

static void pci_release_host(struct zd_device *dev)
{
	free(host_of(dev));
}

bool zd_dev_is_pci(const struct zd_device *dev)
{
	if (ZD_WARN_ON(!dev, "NULL dev"))
		return false;
	return dev->release == pci_release_dev;
}

struct zd_pci_dev *zd_to_pci_dev(struct zd_device *dev)
{
	if (!dev || dev->release != pci_release_dev) {
		zd_warn("%s is not a PCI device", dev ? zd_dev_name(dev) : "NULL");
		return NULL;
	}
	return pdev_of(dev);
}

const char *zd_pci_name(const struct zd_pci_dev *pdev)
{
	if (ZD_WARN_ON(!pdev, "NULL pdev"))
		return "(null)";
	return zd_dev_name(&pdev->dev);
}

struct zd_pci_dev *zd_pci_upstream_bridge(struct zd_pci_dev *pdev)
{
	if (ZD_WARN_ON(!pdev, "NULL pdev"))
		return NULL;
	return pdev->bus->self;
}

struct zd_pci_host_bridge *zd_pci_find_host_bridge(struct zd_pci_bus *bus)
{
	if (ZD_WARN_ON(!bus, "NULL bus"))
		return NULL;
	return bus->host;
}

struct zd_pci_dev *zd_pci_dev_get(struct zd_pci_dev *pdev)
{
	if (pdev)
		zd_get_device(&pdev->dev);
	return pdev;
}

/*
 * A live device holds two references of the topology's (its own and the
 * device list's); a holder's put always finds its own get counted too, so
 * a put that finds only those two takes one it does not own.
 */
static bool put_takes_topology_ref(struct zd_pci_dev *pdev)
{
	bool bad;

	if (likely(atomic_load(&pdev->dev.refcount) > 2))
		return false;
	pthread_mutex_lock(&zd_pci_lock);
	bad = pdev->live && atomic_load(&pdev->dev.refcount) <= 2;
	pthread_mutex_unlock(&zd_pci_lock);
	return bad;
}

void zd_pci_dev_put(struct zd_pci_dev *pdev)
{
	if (!pdev)
		return;
	/* freeing a listed device would leave its bus pointing at freed memory */
	if (put_takes_topology_ref(pdev)) {
		zd_warn("%s: put without a get (the reference left is the "
			"topology's); ignored", zd_pci_name(pdev));
		return;
	}
	zd_put_device(&pdev->dev);
}

struct zd_pci_dev *zd_pci_get_device(unsigned int vendor, unsigned int device,
				     struct zd_pci_dev *from)
{
	struct zd_list_head *pos;
	struct zd_pci_dev *found = NULL;

	pthread_mutex_lock(&zd_pci_lock);
	pos = from ? from->node.next : zd_pci_devices.next;
	for (; pos && pos != &zd_pci_devices; pos = pos->next) {
		struct zd_pci_dev *p = zd_list_pci_dev(pos);

		if (p->removed || (vendor != ZD_PCI_ANY_ID && p->vendor != vendor) ||
		    (device != ZD_PCI_ANY_ID && p->device != device))
			continue;
		found = zd_pci_dev_get(p);
		break;
	}
	pthread_mutex_unlock(&zd_pci_lock);
	zd_pci_dev_put(from);
	return found;
}

/* ---- host bridges ------------------------------------------------------ */

static bool domain_taken_locked(int domain)
{
	struct zd_list_head *pos;

	zd_list_for_each(pos, &hosts)
		if (container_of(pos, struct zd_pci_host_bridge, node)->domain == domain)
			return true;
	return false;
}

/* Claim the window; a bus window is a container for BARs, not busy. */
static int host_claim_window(struct zd_pci_host_bridge *host, uint64_t size)
{
	snprintf(host->window_name, sizeof(host->window_name), "PCI Bus %04x:00",
		 (unsigned int)host->domain);
	host->window = zd_get_free_mem_region(NULL, zd_iomem_root(), size, size,
					      host->window_name, ZD_IORES_DESC_NONE);
	if (!host->window)
		return -errno;
	zd_resource_set_busy(host->window, false);
	return 0;
}

static void host_release_window(struct zd_pci_host_bridge *host)
{
	zd_resource_set_busy(host->window, true);
	zd_release_mem_region(host->window->start, zd_resource_size(host->window));
	host->window = NULL;
}

struct zd_pci_host_bridge *zd_pci_host_bridge_create(int domain,
		uint64_t window_size, uint64_t bus_offset)
{
	struct zd_pci_host_bridge *host;
	int err;

	if (domain < 0 || domain > 0xffff || window_size < ZD_SUBSECTION_SIZE ||
	    (window_size & (window_size - 1))) {
		zd_warn("bad host bridge: domain %d, window_size %#llx (a power "
			"of two >= 2 MiB)", domain, (unsigned long long)window_size);
		errno = EINVAL;
		return NULL;
	}
	host = zd_zalloc("pci.host", sizeof(*host));
	if (!host)
		return NULL;
	host->domain = domain;
	host->bus_offset = bus_offset;
	host->next_busnr = 1;
	host->bus.host = host;
	zd_list_init(&host->bus.devices);
	zd_device_initialize(&host->dev);
	host->dev.release = pci_release_host;
	err = zd_dev_set_name(&host->dev, "pci%04x:00", (unsigned int)domain);
	pthread_mutex_lock(&zd_pci_lock);
	if (!err && domain_taken_locked(domain)) {
		zd_warn("PCI domain %04x exists", (unsigned int)domain);
		err = -EINVAL;
	}
	if (!err)
		err = host_claim_window(host, window_size);
	if (!err) {
		err = zd_device_add(&host->dev);
		if (err)
			host_release_window(host);
	}
	if (!err)
		zd_list_add_tail(&host->node, &hosts);
	pthread_mutex_unlock(&zd_pci_lock);
	if (err) {
		zd_put_device(&host->dev);
		errno = -err;
		return NULL;
	}
	return host;
}

void zd_pci_host_bridge_remove(struct zd_pci_host_bridge *host)
{
	struct zd_pci_dev *pdev;
	bool was_removed;

	if (ZD_WARN_ON(!host, "NULL host bridge"))
		return;
	pthread_mutex_lock(&zd_pci_lock);
	was_removed = host->removed;
	host->removed = true;
	pthread_mutex_unlock(&zd_pci_lock);
	if (was_removed) {
		zd_warn("host bridge %04x was already removed",
			(unsigned int)host->domain);
		return;
	}
	for (;;) {
		pthread_mutex_lock(&zd_pci_lock);
		pdev = zd_list_empty(&host->bus.devices) ? NULL :
		       zd_pci_dev_get(bus_pdev(host->bus.devices.next));
		pthread_mutex_unlock(&zd_pci_lock);
		if (!pdev)
			break;
		zd_pci_stop_and_remove_bus_device(pdev);
		zd_pci_dev_put(pdev);
	}
	pthread_mutex_lock(&zd_pci_lock);
	zd_list_del_init(&host->node);
	pthread_mutex_unlock(&zd_pci_lock);
	host_release_window(host);
	zd_device_unregister(&host->dev);
}

/* ---- devices ----------------------------------------------------------- */

static bool is_port(enum zd_pcie_type t)
{
	return t == ZD_PCI_EXP_TYPE_ROOT_PORT || t == ZD_PCI_EXP_TYPE_UPSTREAM ||
	       t == ZD_PCI_EXP_TYPE_DOWNSTREAM;
}

static bool devfn_taken_locked(struct zd_pci_bus *bus, unsigned int devfn)
{
	struct zd_list_head *pos;

	zd_list_for_each(pos, &bus->devices)
		if (bus_pdev(pos)->devfn == devfn)
			return true;
	return false;
}

static int add_subordinate(struct zd_pci_dev *pdev)
{
	struct zd_pci_bus *sub;

	if (!is_port(pdev->type))
		return 0;
	if (pdev->bus->host->next_busnr > 0xff) {
		zd_warn("%s: no bus numbers left", zd_pci_name(pdev));
		return -ERANGE;
	}
	sub = zd_zalloc("pci.bus", sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	sub->parent = pdev->bus;
	sub->self = pdev;
	sub->host = pdev->bus->host;
	sub->number = sub->host->next_busnr++;
	zd_list_init(&sub->devices);
	pdev->subordinate = sub;
	return 0;
}

static int desc_check(struct zd_pci_bus *bus, unsigned int devfn,
		      const struct zd_pci_dev_desc *desc)
{
	if (!bus || !desc || devfn > 0xff) {
		zd_warn("bad argument: bus %p devfn %#x desc %p", (void *)bus,
			devfn, (const void *)desc);
		return -EINVAL;
	}
	if (desc->bar_io >> ZD_PCI_STD_NUM_BARS) {
		zd_warn("desc->bar_io %#x names a BAR above %d", desc->bar_io,
			ZD_PCI_STD_NUM_BARS - 1);
		return -EINVAL;
	}
	if (desc->type != ZD_PCI_EXP_TYPE_ENDPOINT && !is_port(desc->type)) {
		zd_warn("desc->type %d is not a PCIe type zonedev models",
			(int)desc->type);
		return -EINVAL;
	}
	for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++) {
		uint64_t s = desc->bar_size[i];
		bool io = desc->bar_io & (1u << i);

		if (s && ((s & (s - 1)) || (!io && s < 4096) ||
			  (io && s > 256))) {
			zd_warn("desc->bar_size[%d] %#llx: a power of two, 4 KiB "
				"or more for memory, 256 at most for I/O", i,
				(unsigned long long)s);
			return -EINVAL;
		}
	}
	return 0;
}

/* Link @pdev under @bus; the lock is held. */
static int link_locked(struct zd_pci_dev *pdev, struct zd_pci_bus *bus)
{
	if ((bus->self && bus->self->removed) || zd_list_empty(&bus->host->node) ||
	    devfn_taken_locked(bus, pdev->devfn)) {
		zd_warn("%04x:%02x:%02x.%u: bus removed or devfn taken",
			(unsigned int)bus->host->domain, bus->number,
			ZD_PCI_SLOT(pdev->devfn), ZD_PCI_FUNC(pdev->devfn));
		return -EINVAL;
	}
	zd_list_add_tail(&pdev->bus_list, &bus->devices);
	zd_list_add_tail(&pdev->node, &zd_pci_devices);
	return 0;
}

static struct zd_pci_dev *pdev_alloc(struct zd_pci_bus *bus, unsigned int devfn,
				     const struct zd_pci_dev_desc *desc)
{
	struct zd_pci_dev *pdev = zd_zalloc("pci.dev", sizeof(*pdev));

	if (!pdev)
		return NULL;
	for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++)
		pdev->bar_fd[i] = -1;
	pdev->bus = bus;
	pdev->devfn = devfn;
	pdev->vendor = desc->vendor;
	pdev->device = desc->device;
	pdev->type = desc->type;
	pdev->acs_redir = desc->acs_redir;
	zd_device_initialize(&pdev->dev);
	pdev->dev.parent = bus->self ? &bus->self->dev : &bus->host->dev;
	zd_get_device(pdev->dev.parent);	/* dropped by pci_release_dev */
	pdev->dev.release = pci_release_dev;
	return pdev;
}

struct zd_pci_dev *zd_pci_add_device(struct zd_pci_bus *bus, unsigned int devfn,
				     const struct zd_pci_dev_desc *desc)
{
	struct zd_pci_dev *pdev;
	int err = desc_check(bus, devfn, desc);

	if (err || !(pdev = pdev_alloc(bus, devfn, desc))) {
		errno = err ? -err : errno;
		return NULL;
	}
	err = zd_dev_set_name(&pdev->dev, "%04x:%02x:%02x.%u",
			      (unsigned int)bus->host->domain, bus->number,
			      ZD_PCI_SLOT(devfn), ZD_PCI_FUNC(devfn));
	if (!err)
		err = zd_pci_bars_setup(pdev, desc);
	if (!err)
		err = add_subordinate(pdev);
	if (!err) {
		pthread_mutex_lock(&zd_pci_lock);
		err = link_locked(pdev, bus);
		pthread_mutex_unlock(&zd_pci_lock);
	}
	if (err) {
		zd_pci_bars_release(pdev);
		zd_put_device(&pdev->dev);
		goto fail;
	}
	err = zd_device_add(&pdev->dev);
	if (err) {
		zd_pci_stop_and_remove_bus_device(pdev);	/* unlinks, drops */
		goto fail;
	}
	pthread_mutex_lock(&zd_pci_lock);
	pdev->live = !pdev->removed;
	pthread_mutex_unlock(&zd_pci_lock);
	return pdev;
fail:
	errno = -err;
	return NULL;
}

/* The first device left on @pdev's subordinate bus, referenced. */
static struct zd_pci_dev *first_child(struct zd_pci_dev *pdev)
{
	struct zd_pci_dev *child = NULL;

	pthread_mutex_lock(&zd_pci_lock);
	if (pdev->subordinate && !zd_list_empty(&pdev->subordinate->devices))
		child = zd_pci_dev_get(bus_pdev(pdev->subordinate->devices.next));
	pthread_mutex_unlock(&zd_pci_lock);
	return child;
}

void zd_pci_stop_and_remove_bus_device(struct zd_pci_dev *pdev)
{
	struct zd_pci_dev *child;
	bool was_removed;

	if (ZD_WARN_ON(!pdev, "NULL PCI device"))
		return;
	pthread_mutex_lock(&zd_pci_lock);
	was_removed = pdev->removed;
	pdev->removed = true;
	pdev->live = false;
	pthread_mutex_unlock(&zd_pci_lock);
	if (was_removed) {
		zd_warn("%s was already removed", zd_pci_name(pdev));
		return;
	}
	while ((child = first_child(pdev))) {
		zd_pci_stop_and_remove_bus_device(child);
		zd_pci_dev_put(child);
	}
	if (pdev->dev.state & ZD_DEV_ADDED)
		zd_device_del(&pdev->dev);	/* unbinds the driver */
	pthread_mutex_lock(&zd_pci_lock);
	zd_list_del_init(&pdev->bus_list);
	pthread_mutex_unlock(&zd_pci_lock);
	zd_pci_bars_release(pdev);
	zd_put_device(&pdev->dev);
}
