// SPDX-License-Identifier: MIT
/*
 * Which devices can reach which: the map type and distance between a
 * provider and a client, the host-bridge allow list, and the choice of the
 * closest published provider.  The rules are the kernel's (6.1):
 *
 * Walk up from the provider; at each step look for that device on the
 * client's path to the root.  The first one found is the common bridge,
 * and the distance counts the hops on both sides (0 for the same device,
 * 2 for two functions of one device, 4 across a switch).  A port with ACS
 * redirect on either path (the common bridge included) sends the traffic
 * up through the host bridge.  Traffic through the host bridge (ACS, or no
 * common bridge at all) is allowed only if the host bridges are on the
 * allow list.  The kernel also allows any AMD Zen CPU; the CPU here is
 * simulated, so that rule is not applied.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "list.h"
#include "log.h"
#include "rcu.h"
#include "../pci/internal.h"

static const struct {
	unsigned short vendor, device;
	bool same_host_bridge;		/* only between devices below it */
} allow_list[] = {
	{ ZD_PCI_VENDOR_ID_INTEL, 0x3c00, true },	/* Xeon E5 / Core i7 */
	{ ZD_PCI_VENDOR_ID_INTEL, 0x3c01, true },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2f00, true },	/* Xeon E5 v3 / E7 v3 */
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2f01, true },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2030, false },	/* Skylake-E */
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2031, false },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2032, false },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2033, false },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2020, false },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x09a2, false },
};

/* The device that identifies a host bridge: the first on its root bus,
 * if it is 00.0 or a root port. */
static bool host_ids(struct zd_pci_host_bridge *host, unsigned int *vendor,
		     unsigned int *device)
{
	struct zd_pci_dev *root = NULL;

	pthread_mutex_lock(&zd_pci_lock);
	if (!zd_list_empty(&host->bus.devices)) {
		root = container_of(host->bus.devices.next, struct zd_pci_dev,
				    bus_list);
		if (root->devfn != 0 && root->type != ZD_PCI_EXP_TYPE_ROOT_PORT)
			root = NULL;
	}
	if (root) {
		*vendor = root->vendor;
		*device = root->device;
	}
	pthread_mutex_unlock(&zd_pci_lock);
	return root != NULL;
}

static bool host_allowed(struct zd_pci_host_bridge *host, bool same, bool warn)
{
	unsigned int vendor, device;

	if (!host_ids(host, &vendor, &device))
		return false;
	for (size_t i = 0; i < sizeof(allow_list) / sizeof(allow_list[0]); i++)
		if (allow_list[i].vendor == vendor && allow_list[i].device == device)
			return same || !allow_list[i].same_host_bridge;
	if (warn)
		zd_info("%s: host bridge %04x:%04x is not on the P2PDMA allow list",
			zd_dev_name(&host->dev), vendor, device);
	return false;
}

static bool hosts_allowed(struct zd_pci_dev *a, struct zd_pci_dev *b, bool warn)
{
	struct zd_pci_host_bridge *ha = a->bus->host, *hb = b->bus->host;

	if (ha == hb)
		return host_allowed(ha, true, warn);
	return host_allowed(ha, false, warn) && host_allowed(hb, false, warn);
}

/* Steps from @b up to @a, or -1 if @a is not on @b's path to the root;
 * with @a NULL, the devices on that path. */
static int hops_to(struct zd_pci_dev *b, struct zd_pci_dev *a)
{
	int n = 0;

	for (; b; b = zd_pci_upstream_bridge(b), n++)
		if (b == a)
			return n;
	return a ? -1 : n;
}

/* Ports with ACS redirect from @b up to (not including) @stop. */
static int acs_below(struct zd_pci_dev *b, struct zd_pci_dev *stop)
{
	int n = 0;

	for (; b && b != stop; b = zd_pci_upstream_bridge(b))
		n += b->acs_redir;
	return n;
}

static enum zd_pci_p2pdma_map_type calc_map_type(struct zd_pci_dev *provider,
		struct zd_pci_dev *client, int *dist, bool verbose)
{
	struct zd_pci_dev *a = provider;
	int dist_a = 0, acs = 0, dist_b = hops_to(client, NULL);

	for (; a; a = zd_pci_upstream_bridge(a), dist_a++) {
		int d;

		acs += a->acs_redir;
		d = hops_to(client, a);
		if (d >= 0) {
			*dist = dist_a + d;
			acs += acs_below(client, a);
			if (!acs)
				return ZD_PCI_P2PDMA_MAP_BUS_ADDR;
			if (verbose)
				zd_info("%s: ACS redirect is set between it and "
					"provider %s", zd_pci_name(client),
					zd_pci_name(provider));
			goto thru_host;
		}
	}
	*dist = dist_a + dist_b;
thru_host:
	if (hosts_allowed(provider, client, verbose))
		return ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;
	if (verbose)
		zd_info("%s cannot do peer-to-peer DMA with %s: no common "
			"upstream bridge and no allowed host bridge",
			zd_pci_name(client), zd_pci_name(provider));
	return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
}

enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type_dist(
		struct zd_pci_dev *provider, struct zd_pci_dev *client, int *dist)
{
	int d;

	if (!provider || !client) {
		zd_warn("bad argument: provider %p client %p", (void *)provider,
			(void *)client);
		return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
	}
	return calc_map_type(provider, client, dist ? dist : &d, false);
}

/* A NULL entry is a caller's bug, not "no path": report it. */
static bool clients_ok(struct zd_device **clients, int num_clients)
{
	for (int i = 0; i < num_clients; i++)
		if (!clients[i]) {
			zd_log(ZD_LOG_WARN, "WARNING: zd_pci_p2pdma_distance_many: "
			       "clients[%d] is NULL", i);
			return false;
		}
	return true;
}

/* The PCI device at or above @dev, referenced. */
static struct zd_pci_dev *find_parent_pci_dev(struct zd_device *dev)
{
	for (; dev; dev = dev->parent)
		if (zd_dev_is_pci(dev))
			return zd_pci_dev_get(zd_to_pci_dev(dev));
	return NULL;
}

int zd_pci_p2pdma_distance_many(struct zd_pci_dev *provider,
		struct zd_device **clients, int num_clients, bool verbose)
{
	bool not_supported = false;
	int total = 0;

	if (!provider || num_clients < 0 || (!clients && num_clients)) {
		zd_warn("bad argument: provider %p clients %p num_clients %d",
			(void *)provider, (void *)clients, num_clients);
		return -1;
	}
	if (!num_clients)
		return -1;	/* no client: no distance (the kernel's) */
	if (!clients_ok(clients, num_clients))
		return -1;
	for (int i = 0; i < num_clients; i++) {
		struct zd_pci_dev *client = find_parent_pci_dev(clients[i]);
		int dist;

		if (!client) {
			if (verbose)
				zd_info("%s cannot do peer-to-peer DMA: not a "
					"PCI device", clients[i] ?
					zd_dev_name(clients[i]) : "NULL");
			return -1;
		}
		if (calc_map_type(provider, client, &dist, verbose) ==
		    ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED)
			not_supported = true;
		zd_pci_dev_put(client);
		if (not_supported && !verbose)
			break;
		total += dist;
	}
	return not_supported ? -1 : total;
}

int zd_pci_p2pdma_distance(struct zd_pci_dev *provider, struct zd_device *client,
			   bool verbose)
{
	return zd_pci_p2pdma_distance_many(provider, &client, 1, verbose);
}

enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type(struct zd_dev_pagemap *pgmap,
						   struct zd_device *dev)
{
	struct zd_pci_dev *provider;
	int dist;

	if (!pgmap || !dev) {
		zd_warn("bad argument: pgmap %p dev %p", (void *)pgmap, (void *)dev);
		return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
	}
	provider = zd__p2p_pgmap_provider(pgmap, NULL);
	if (!provider || !provider->p2pdma || !zd_dev_is_pci(dev))
		return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
	return calc_map_type(provider, zd_to_pci_dev(dev), &dist, false);
}

/* Ties between equally close providers are broken at random, as the
 * kernel does, so that clients spread over them. */
static unsigned int pick(unsigned int n)
{
	static atomic_uint seed = 2463534242u;
	unsigned int x = atomic_fetch_add(&seed, 0x9e3779b9u);

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x % n;
}

struct zd_pci_dev *zd_pci_p2pmem_find_many(struct zd_device **clients,
					   int num_clients)
{
	struct zd_pci_dev *pdev = NULL, **best = NULL, *ret = NULL;
	int n = 0, cap = 0, closest = INT_MAX;

	if (num_clients < 0 || (!clients && num_clients)) {
		zd_warn("bad argument: clients %p num_clients %d",
			(void *)clients, num_clients);
		return NULL;
	}
	if (!clients_ok(clients, num_clients))
		return NULL;
	while ((pdev = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, pdev))) {
		int d;

		if (!zd_pci_has_p2pmem(pdev))
			continue;
		d = zd_pci_p2pdma_distance_many(pdev, clients, num_clients, false);
		if (d < 0 || d > closest)
			continue;
		if (d < closest) {
			while (n)
				zd_pci_dev_put(best[--n]);
			closest = d;
		}
		if (n == cap) {
			struct zd_pci_dev **b = realloc(best, (cap * 2 + 4) * sizeof(*b));

			if (!b)
				continue;	/* keep the ones we have */
			best = b;
			cap = cap * 2 + 4;
		}
		best[n++] = zd_pci_dev_get(pdev);
	}
	if (n)
		ret = zd_pci_dev_get(best[pick((unsigned int)n)]);
	while (n)
		zd_pci_dev_put(best[--n]);
	free(best);
	return ret;
}

struct zd_pci_dev *zd_pci_p2pmem_find(struct zd_device *client)
{
	return zd_pci_p2pmem_find_many(&client, 1);
}

int zd_pci_p2pdma_map_sg(struct zd_device *dev, struct zd_scatterlist *sg,
			 int nents)
{
	struct zd_dev_pagemap *last = NULL;
	enum zd_pci_p2pdma_map_type map = ZD_PCI_P2PDMA_MAP_UNKNOWN;
	uint64_t bus_offset = 0;

	if ((!sg && nents) || nents < 0 || !dev) {
		zd_warn("bad argument: dev %p sg %p nents %d", (void *)dev,
			(void *)sg, nents);
		return -EINVAL;
	}
	for (int i = 0; i < nents; i++) {
		struct zd_page *page = sg[i].page;
		zd_phys_addr_t phys;

		if (!page || !zd_is_pci_p2pdma_page(page) ||
		    !zd__p2p_pgmap_provider(page->pgmap, &bus_offset)) {
			zd_warn("segment %d is not p2p memory", i);
			return -EINVAL;
		}
		if (page->pgmap != last) {
			last = page->pgmap;
			map = zd_pci_p2pdma_map_type(last, dev);
		}
		phys = zd_virt_to_phys(zd_sg_virt(&sg[i]));
		if (map == ZD_PCI_P2PDMA_MAP_BUS_ADDR)
			sg[i].dma_address = phys + bus_offset;
		else if (map == ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE)
			sg[i].dma_address = phys;
		else
			return -EREMOTEIO;
	}
	return nents;
}
