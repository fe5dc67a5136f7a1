// SPDX-License-Identifier: MIT
/*
 * Peer-to-peer DMA: a provider device offers a BAR as p2p memory, a
 * client finds it, allocates a buffer there and gets the bus address it
 * would program into its DMA engine; then "DMA" writes to that address
 * land in the provider's memory.  Both endpoints sit below one PCIe
 * switch, so the traffic never crosses the host bridge.
 *
 *   root port - switch upstream port - downstream port - provider
 *                                    \ downstream port - client
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zonedev/zonedev.h>

static struct zd_pci_dev *add(struct zd_pci_bus *bus, unsigned int devfn,
			      enum zd_pcie_type type, uint64_t bar0)
{
	struct zd_pci_dev_desc desc = {
		.vendor = 0x8086, .device = 0x1234, .type = type,
		.bar_size = { bar0 },
	};

	return zd_pci_add_device(bus, devfn, &desc);
}

/* The provider's driver: all of BAR 0 becomes p2p memory. */
static int provider_probe(struct zd_device *dev)
{
	struct zd_pci_dev *pdev = zd_to_pci_dev(dev);
	int err = zd_pci_p2pdma_add_resource(pdev, 0, 0, 0);

	if (err)
		return err;
	zd_pci_p2pmem_publish(pdev, true);	/* clients may find it */
	return 0;
}

static struct zd_driver provider_driver = { "p2p-provider", provider_probe, NULL };

int main(void)
{
	struct zd_pci_host_bridge *host = zd_pci_host_bridge_create(0, 1ull << 30, 0);
	struct zd_pci_dev *rp, *up, *dn0, *dn1, *provider, *client, *found;
	const char msg[] = "hello from the client's DMA engine";
	zd_pci_bus_addr_t bus;
	char *buf;
	bool same;
	int err;

	if (!host)
		return perror("host bridge"), 1;
	rp = add(&host->bus, ZD_PCI_DEVFN(0, 0), ZD_PCI_EXP_TYPE_ROOT_PORT, 0);
	up = add(rp->subordinate, 0, ZD_PCI_EXP_TYPE_UPSTREAM, 0);
	dn0 = add(up->subordinate, ZD_PCI_DEVFN(0, 0), ZD_PCI_EXP_TYPE_DOWNSTREAM, 0);
	dn1 = add(up->subordinate, ZD_PCI_DEVFN(1, 0), ZD_PCI_EXP_TYPE_DOWNSTREAM, 0);
	provider = add(dn0->subordinate, 0, ZD_PCI_EXP_TYPE_ENDPOINT, 16 << 20);
	client = add(dn1->subordinate, 0, ZD_PCI_EXP_TYPE_ENDPOINT, 0);
	if (!provider || !client)
		return perror("adding devices"), 1;
	err = zd_device_bind(&provider->dev, &provider_driver);
	if (err)
		return fprintf(stderr, "bind: %s\n", strerror(-err)), 1;

	/* the client's side */
	found = zd_pci_p2pmem_find(&client->dev);
	if (!found)
		return fprintf(stderr, "no p2p memory reachable\n"), 1;
	buf = zd_pci_alloc_p2pmem(found, 4096);
	if (!buf)
		return perror("p2pmem"), 1;
	bus = zd_pci_p2pmem_virt_to_bus(found, buf);
	printf("%s: 4 KiB of p2p memory from %s at bus address %#llx\n",
	       zd_pci_name(client), zd_pci_name(found), (unsigned long long)bus);
	err = zd_pci_dma_write(client, bus, msg, sizeof(msg));
	if (err)
		return fprintf(stderr, "DMA: %s\n", strerror(-err)), 1;
	printf("provider memory now reads: \"%s\"\n", buf);
	same = strcmp(buf, msg) == 0;

	zd_pci_free_p2pmem(found, buf, 4096);
	zd_pci_dev_put(found);
	zd_pci_host_bridge_remove(host);	/* unbinds the provider */
	if (!same)
		return 1;
	printf("ok\n");
	return 0;
}
