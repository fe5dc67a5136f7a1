// SPDX-License-Identifier: MIT
/*
 * "zonedev pci": a sample PCI topology, printed as a tree with the map
 * type and distance between each pair of endpoints; and the demo's p2p
 * part: a provider publishes BAR memory, a client finds it, allocates,
 * writes it with its DMA engine, and the CPU checks the bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

#define MiB(x)	((uint64_t)(x) << 20)

struct sample {
	struct zd_pci_host_bridge *host[2];
	struct zd_pci_dev *ep[5];
	const char *role[5];
	int nr_ep;
};

static struct zd_pci_dev *add(struct zd_pci_bus *bus, unsigned int devfn,
			      enum zd_pcie_type type, unsigned int device,
			      bool acs, uint64_t bar0)
{
	struct zd_pci_dev_desc d = { .vendor = ZD_PCI_VENDOR_ID_INTEL,
				     .device = device, .type = type,
				     .acs_redir = acs, .bar_size = { bar0 } };

	return bus ? zd_pci_add_device(bus, devfn, &d) : NULL;
}

static void add_ep(struct sample *s, struct zd_pci_dev *p, const char *role)
{
	s->ep[s->nr_ep] = p;
	s->role[s->nr_ep++] = role;
}

/*
 * 0000: allow-listed host bridge (Skylake-E root port at 00.0)
 *   00.0 root port - switch - port 0: nvme (64 MiB BAR), port 1: nic
 *                           - port 2 (ACS redirect): fpga
 *   01.0 root port - gpu
 * 0001: a host bridge not on the allow list - accel
 */
static int sample_build(struct sample *s)
{
	struct zd_pci_dev *rp, *up, *dn;
	enum zd_pcie_type EP = ZD_PCI_EXP_TYPE_ENDPOINT;

	memset(s, 0, sizeof(*s));
	s->host[0] = zd_pci_host_bridge_create(0, 1ull << 32, 0);
	s->host[1] = zd_pci_host_bridge_create(1, 1ull << 30, 0);
	if (!s->host[0] || !s->host[1])
		return -1;
	rp = add(&s->host[0]->bus, 0, ZD_PCI_EXP_TYPE_ROOT_PORT, 0x2030, false, 0);
	up = add(rp ? rp->subordinate : NULL, 0, ZD_PCI_EXP_TYPE_UPSTREAM, 0x8796, false, 0);
	for (int i = 0; i < 3 && up; i++) {
		static const char *const role[] = { "nvme", "nic", "fpga" };

		dn = add(up->subordinate, ZD_PCI_DEVFN(i, 0),
			 ZD_PCI_EXP_TYPE_DOWNSTREAM, 0x8796, i == 2, 0);
		add_ep(s, add(dn ? dn->subordinate : NULL, 0, EP, 0x0a54 + i,
			      false, i == 0 ? MiB(64) : MiB(2)), role[i]);
	}
	rp = add(&s->host[0]->bus, ZD_PCI_DEVFN(1, 0), ZD_PCI_EXP_TYPE_ROOT_PORT,
		 0x2030, false, 0);
	add_ep(s, add(rp ? rp->subordinate : NULL, 0, EP, 0x20b0, false, MiB(16)), "gpu");
	rp = add(&s->host[1]->bus, 0, ZD_PCI_EXP_TYPE_ROOT_PORT, 0x1234, false, 0);
	add_ep(s, add(rp ? rp->subordinate : NULL, 0, EP, 0x0b00, false, MiB(16)), "accel");
	for (int i = 0; i < s->nr_ep; i++)
		if (!s->ep[i])
			return -1;
	return s->nr_ep == 5 ? 0 : -1;
}

static void sample_destroy(struct sample *s)
{
	for (int i = 0; i < 2; i++)
		if (s->host[i])
			zd_pci_host_bridge_remove(s->host[i]);
}

static const char *type_name(enum zd_pcie_type t)
{
	switch (t) {
	case ZD_PCI_EXP_TYPE_ROOT_PORT: return "root port";
	case ZD_PCI_EXP_TYPE_UPSTREAM: return "switch upstream";
	case ZD_PCI_EXP_TYPE_DOWNSTREAM: return "switch downstream";
	default: return "endpoint";
	}
}

static void print_tree(struct zd_pci_bus *bus, int depth)
{
	struct zd_pci_dev *p = NULL;

	/* children of @bus, in the order they were added */
	while ((p = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, p))) {
		if (p->bus != bus)
			continue;
		printf("%*s%s %04x:%04x %s%s", 2 * depth + 2, "", zd_pci_name(p),
		       p->vendor, p->device, type_name(p->type),
		       p->acs_redir ? " [ACS redirect]" : "");
		if (zd_pci_resource_len(p, 0))
			printf("  BAR0 %#llx+%lluM",
			       (unsigned long long)zd_pci_resource_start(p, 0),
			       (unsigned long long)(zd_pci_resource_len(p, 0) >> 20));
		printf("\n");
		if (p->subordinate)
			print_tree(p->subordinate, depth + 1);
	}
}

static const char *map_name(enum zd_pci_p2pdma_map_type m)
{
	switch (m) {
	case ZD_PCI_P2PDMA_MAP_BUS_ADDR: return "bus";
	case ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE: return "host";
	default: return "none";
	}
}

static void print_matrix(struct sample *s)
{
	printf("\nmap type/distance (row: provider, column: client; bus = "
	       "through a switch, host = through the host bridge)\n%-8s", "");
	for (int j = 0; j < s->nr_ep; j++)
		printf("%-10s", s->role[j]);
	printf("\n");
	for (int i = 0; i < s->nr_ep; i++) {
		printf("%-8s", s->role[i]);
		for (int j = 0; j < s->nr_ep; j++) {
			int d;
			enum zd_pci_p2pdma_map_type m =
				zd_pci_p2pdma_map_type_dist(s->ep[i], s->ep[j], &d);
			char cell[16];

			snprintf(cell, sizeof(cell), "%s/%d", map_name(m), d);
			printf("%-10s", cell);
		}
		printf("\n");
	}
}

static void json_tree(struct json *j, struct zd_pci_bus *bus)
{
	struct zd_pci_dev *p = NULL;

	json_array(j, "devices");
	while ((p = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, p))) {
		if (p->bus != bus)
			continue;
		json_object(j, NULL);
		json_string(j, "name", zd_pci_name(p));
		json_hex(j, "vendor", p->vendor);
		json_hex(j, "device", p->device);
		json_string(j, "type", type_name(p->type));
		json_bool(j, "acs_redirect", p->acs_redir);
		if (zd_pci_resource_len(p, 0)) {
			json_object(j, "bar0");
			json_hex(j, "start", zd_pci_resource_start(p, 0));
			json_uint(j, "size", zd_pci_resource_len(p, 0));
			json_hex(j, "bus_address", zd_pci_bus_address(p, 0));
			json_end_object(j);
		}
		if (p->subordinate)
			json_tree(j, p->subordinate);
		json_end_object(j);
	}
	json_end_array(j);
}

static void json_sample(struct sample *s)
{
	struct json j;

	json_header(&j, stdout, "pci");
	json_array(&j, "host_bridges");
	for (int h = 0; h < 2; h++) {
		json_object(&j, NULL);
		json_string(&j, "name", zd_dev_name(&s->host[h]->dev));
		json_hex(&j, "window_start", s->host[h]->window->start);
		json_hex(&j, "window_end", s->host[h]->window->end);
		json_tree(&j, &s->host[h]->bus);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_array(&j, "endpoints");
	for (int i = 0; i < s->nr_ep; i++) {
		json_object(&j, NULL);
		json_string(&j, "role", s->role[i]);
		json_string(&j, "name", zd_pci_name(s->ep[i]));
		json_end_object(&j);
	}
	json_end_array(&j);
	json_array(&j, "p2p");
	for (int i = 0; i < s->nr_ep; i++) {
		for (int k = 0; k < s->nr_ep; k++) {
			int d;
			enum zd_pci_p2pdma_map_type m =
				zd_pci_p2pdma_map_type_dist(s->ep[i], s->ep[k], &d);

			json_object(&j, NULL);
			json_string(&j, "provider", s->role[i]);
			json_string(&j, "client", s->role[k]);
			json_string(&j, "map_type", map_name(m));
			json_int(&j, "distance", d);
			json_end_object(&j);
		}
	}
	json_end_array(&j);
	json_end_object(&j);
}

static void usage(void)
{
	printf("usage: zonedev pci [--json]\n"
	       "  builds a sample PCI topology (two host bridges, a switch, "
	       "five endpoints)\n  and prints it as a tree, with the p2p map "
	       "type and distance between\n  each pair of endpoints\n"
	       "  --json  print it as JSON (schema in zonedev(1))\n");
}

int tool_pci(int argc, char **argv)
{
	bool json = false;
	struct sample s;
	int c;

	c = tool_json_only("pci", argc, argv, usage, &json);
	if (c >= 0)
		return c;
	if (sample_build(&s)) {
		tool_err("pci", "building the sample topology: %s", strerror(errno));
		sample_destroy(&s);
		return TOOL_FAILED;
	}
	if (json) {
		json_sample(&s);
	} else {
		for (int h = 0; h < 2; h++) {
			printf("%s  window %#llx-%#llx\n", zd_dev_name(&s.host[h]->dev),
			       (unsigned long long)s.host[h]->window->start,
			       (unsigned long long)s.host[h]->window->end);
			print_tree(&s.host[h]->bus, 0);
		}
		print_matrix(&s);
	}
	sample_destroy(&s);
	return TOOL_OK;
}

/* ---- the demo's part ---------------------------------------------------- */

static int provider_probe(struct zd_device *dev)
{
	struct zd_pci_dev *pdev = zd_to_pci_dev(dev);
	int err = zd_pci_p2pdma_add_resource(pdev, 0, 0, 0);

	if (!err)
		zd_pci_p2pmem_publish(pdev, true);
	return err;
}

static struct zd_driver provider_driver = { "nvme-cmb", provider_probe, NULL };

static void print_attrs(const char *when, struct zd_pci_dev *pdev)
{
	struct zd_p2pmem_attrs a;

	if (zd_pci_p2pmem_attrs(pdev, &a))
		fprintf(tool_out, "  %-22s no p2pmem\n", when);
	else
		fprintf(tool_out, "  %-22s size %zu KiB, available %zu KiB, published %d\n",
		       when, a.size >> 10, a.available >> 10, a.published);
}

static int p2p_transfer(struct zd_pci_dev *provider, struct zd_pci_dev *client,
			size_t len, struct demo_summary *sum)
{
	unsigned char *src = malloc(len), *p2p;
	zd_pci_bus_addr_t bus;
	int64_t t0;
	int err;

	p2p = zd_pci_alloc_p2pmem(provider, len);
	if (!src || !p2p) {
		free(src);
		return -1;
	}
	print_attrs("after allocating:", provider);
	for (size_t i = 0; i < len; i++)
		src[i] = (unsigned char)(i * 7 + 3);
	bus = zd_pci_p2pmem_virt_to_bus(provider, p2p);
	t0 = tool_now_ns();
	err = zd_pci_dma_write(client, bus, src, len);
	sum->p2p.dma_us = (double)(tool_now_ns() - t0) / 1e3;
	sum->p2p.bytes = len;
	fprintf(tool_out, "  nic DMA-writes %zu KiB to bus %#llx: %s, %.1f us\n",
		len >> 10, (unsigned long long)bus, err ? "FAILED" : "ok",
		sum->p2p.dma_us);
	demo_map_snapshot("p2p: nvme's BAR memory published, 1 MiB allocated "
			  "by the nic");
	err |= memcmp(src, p2p, len) != 0;
	fprintf(tool_out, "  CPU reads it back through the struct pages: %s\n",
	       err ? "MISMATCH" : "every byte matches");
	zd_pci_free_p2pmem(provider, p2p, len);
	free(src);
	return err ? -1 : 0;
}

int demo_p2p(struct demo_summary *sum)
{
	struct zd_pci_dev *provider, *nic;
	struct sample s;
	int err = -1;

	fprintf(tool_out, "\n== PCI peer-to-peer memory ==\n");
	if (sample_build(&s))
		goto out;
	nic = s.ep[1];
	err = zd_device_bind(&s.ep[0]->dev, &provider_driver);
	if (err)
		goto out;
	print_attrs("nvme after probe:", s.ep[0]);
	provider = zd_pci_p2pmem_find(&nic->dev);
	fprintf(tool_out, "  nic looks for p2pmem: %s (distance %d)\n",
	       provider ? zd_pci_name(provider) : "none",
	       provider ? zd_pci_p2pdma_distance(provider, &nic->dev, false) : -1);
	fprintf(tool_out, "  accel looks for p2pmem: %s (another, unlisted host bridge)\n",
	       zd_pci_p2pmem_find(&s.ep[4]->dev) ? "found" : "none");
	if (provider) {
		snprintf(sum->p2p.provider, sizeof(sum->p2p.provider), "%s",
			 zd_pci_name(provider));
		sum->p2p.distance = zd_pci_p2pdma_distance(provider, &nic->dev, false);
	}
	err = provider ? p2p_transfer(provider, nic, MiB(1), sum) : -1;
	print_attrs("after freeing:", s.ep[0]);
	zd_pci_dev_put(provider);
	zd_device_unbind(&s.ep[0]->dev);
	print_attrs("after unbind:", s.ep[0]);
out:
	sample_destroy(&s);
	if (err)
		fprintf(tool_out, "  p2p demo FAILED\n");
	sum->p2p.ok = !err;
	return err ? 1 : 0;
}

/* ---- for zonedev map: the sample with p2p memory in use ----------------- */

struct p2p_sample {
	struct sample s;
	void *mem;
};

void *pci_sample_p2p_create(void)
{
	struct p2p_sample *ps = calloc(1, sizeof(*ps));
	int err;

	if (!ps)
		return NULL;
	if (sample_build(&ps->s)) {
		tool_err(NULL, "building the sample PCI topology: %s", strerror(errno));
		goto fail;
	}
	err = zd_device_bind(&ps->s.ep[0]->dev, &provider_driver);
	if (err) {
		tool_err(NULL, "binding the sample p2p provider: %s", strerror(-err));
		goto fail;
	}
	ps->mem = zd_pci_alloc_p2pmem(ps->s.ep[0], MiB(1));
	if (!ps->mem) {
		tool_err(NULL, "allocating p2p memory: %s", strerror(errno));
		goto fail;
	}
	return ps;
fail:
	pci_sample_p2p_destroy(ps);
	return NULL;
}

void pci_sample_p2p_destroy(void *arg)
{
	struct p2p_sample *ps = arg;

	if (!ps)
		return;
	if (ps->mem)
		zd_pci_free_p2pmem(ps->s.ep[0], ps->mem, MiB(1));
	if (ps->s.ep[0] && zd_device_is_bound(&ps->s.ep[0]->dev))
		zd_device_unbind(&ps->s.ep[0]->dev);
	sample_destroy(&ps->s);
	free(ps);
}
