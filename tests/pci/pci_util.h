/* SPDX-License-Identifier: MIT */
/* PCI topologies for the pci and p2pdma tests. */
#ifndef ZD_TEST_PCI_UTIL_H
#define ZD_TEST_PCI_UTIL_H

#include <errno.h>
#include <pthread.h>

#include "../test_util.h"
#include "../resource/tree_util.h"

/*
 * What a test made, so that the teardown can undo it when the test
 * failed half way: host bridges (their devices and BARs go with them)
 * and p2p memory still allocated (an unbind waits for it to be freed).
 */
#define PCI_MAX_HOSTS	16
#define PCI_MAX_ALLOCS	256

static struct zd_pci_host_bridge *pci_hosts[PCI_MAX_HOSTS];
static struct pci_alloc {
	struct zd_pci_dev *pdev;
	void *addr;
	size_t size;
	struct zd_scatterlist *sgl;
} pci_allocs[PCI_MAX_ALLOCS];
static pthread_mutex_t pci_allocs_lock = PTHREAD_MUTEX_INITIALIZER;

static inline struct zd_pci_host_bridge *host_create(int domain,
		uint64_t window_size, uint64_t bus_offset)
{
	struct zd_pci_host_bridge *host =
		zd_pci_host_bridge_create(domain, window_size, bus_offset);

	for (int i = 0; host && i < PCI_MAX_HOSTS; i++)
		if (!pci_hosts[i]) {
			pci_hosts[i] = host;
			break;
		}
	return host;
}

static inline void host_remove(struct zd_pci_host_bridge *host)
{
	for (int i = 0; host && i < PCI_MAX_HOSTS; i++)
		if (pci_hosts[i] == host)
			pci_hosts[i] = NULL;
	zd_pci_host_bridge_remove(host);
}

/* Record (@set) or forget an allocation; a full table records nothing. */
static inline void pci_alloc_note(struct pci_alloc a, bool set)
{
	pthread_mutex_lock(&pci_allocs_lock);
	for (int i = 0; i < PCI_MAX_ALLOCS; i++) {
		struct pci_alloc *e = &pci_allocs[i];

		if (set ? !e->pdev : (e->pdev == a.pdev && e->addr == a.addr &&
				     e->sgl == a.sgl)) {
			*e = set ? a : (struct pci_alloc){ 0 };
			break;
		}
	}
	pthread_mutex_unlock(&pci_allocs_lock);
}

static inline void *p2p_alloc(struct zd_pci_dev *pdev, size_t size)
{
	void *p = zd_pci_alloc_p2pmem(pdev, size);
	int err = errno;

	if (p)
		pci_alloc_note((struct pci_alloc){ pdev, p, size, NULL }, true);
	errno = err;
	return p;
}

static inline void p2p_free(struct zd_pci_dev *pdev, void *addr, size_t size)
{
	pci_alloc_note((struct pci_alloc){ pdev, addr, size, NULL }, false);
	zd_pci_free_p2pmem(pdev, addr, size);
}

static inline struct zd_scatterlist *p2p_alloc_sgl(struct zd_pci_dev *pdev,
		unsigned int *nents, uint32_t length)
{
	struct zd_scatterlist *sg = zd_pci_p2pmem_alloc_sgl(pdev, nents, length);

	if (sg)
		pci_alloc_note((struct pci_alloc){ pdev, NULL, 0, sg }, true);
	return sg;
}

static inline void p2p_free_sgl(struct zd_pci_dev *pdev,
				struct zd_scatterlist *sg)
{
	pci_alloc_note((struct pci_alloc){ pdev, NULL, 0, sg }, false);
	zd_pci_p2pmem_free_sgl(pdev, sg);
}

static inline int pci_setup(void **state)
{
	test_capture_warnings();
	zd_fault_inject_reset();
	tree_snapshot();
	return 0;
}

/* p2p memory first (unbinding waits for it), then the hosts. */
static inline int pci_teardown(void **state)
{
	zd_fault_inject_reset();
	for (int i = 0; i < PCI_MAX_ALLOCS; i++) {
		struct pci_alloc a = pci_allocs[i];

		if (a.sgl)
			p2p_free_sgl(a.pdev, a.sgl);
		else if (a.pdev)
			p2p_free(a.pdev, a.addr, a.size);
	}
	for (int i = 0; i < PCI_MAX_HOSTS; i++)
		if (pci_hosts[i])
			host_remove(pci_hosts[i]);
	tree_restore();
	return 0;
}

#define MiB(x)		((uint64_t)(x) << 20)
#define GiB(x)		((uint64_t)(x) << 30)
#define ALLOWED_ROOT	0x2030	/* Skylake-E: on the allow list */
#define SAME_HOST_ROOT	0x3c00	/* allowed only within one host bridge */
#define UNLISTED_ROOT	0x1234

/*
 *   host (domain d)
 *   +- 00.0 root port rp0 (vendor Intel, device @root_id)
 *   |  +- switch upstream port up
 *   |     +- downstream port dn0 -- a (03:00.0), a1 (03:00.1)
 *   |     +- downstream port dn1 -- b
 *   +- 01.0 root port rp1 -- c
 */
struct topo {
	struct zd_pci_host_bridge *host;
	struct zd_pci_dev *rp0, *up, *dn0, *dn1, *rp1, *a, *a1, *b, *c;
};

static inline struct zd_pci_dev *add(struct zd_pci_bus *bus, unsigned int devfn,
				     enum zd_pcie_type type, unsigned int device,
				     bool acs, uint64_t bar0, uint64_t bar2)
{
	struct zd_pci_dev_desc d = {
		.vendor = ZD_PCI_VENDOR_ID_INTEL, .device = device,
		.type = type, .acs_redir = acs,
		.bar_size = { bar0, 0, bar2, 0, 0, 0 },
	};
	struct zd_pci_dev *p = zd_pci_add_device(bus, devfn, &d);

	assert_non_null(p);
	return p;
}

#define EP	ZD_PCI_EXP_TYPE_ENDPOINT
#define RP	ZD_PCI_EXP_TYPE_ROOT_PORT

static inline void topo_build(struct topo *t, int domain, unsigned int root_id,
			      bool acs_dn0)
{
	t->host = host_create(domain, GiB(4), 0);
	assert_non_null(t->host);
	t->rp0 = add(&t->host->bus, ZD_PCI_DEVFN(0, 0), RP, root_id, false, 0, 0);
	t->up = add(t->rp0->subordinate, 0, ZD_PCI_EXP_TYPE_UPSTREAM, 0x10, false, 0, 0);
	t->dn0 = add(t->up->subordinate, ZD_PCI_DEVFN(0, 0),
		     ZD_PCI_EXP_TYPE_DOWNSTREAM, 0x11, acs_dn0, 0, 0);
	t->dn1 = add(t->up->subordinate, ZD_PCI_DEVFN(1, 0),
		     ZD_PCI_EXP_TYPE_DOWNSTREAM, 0x11, false, 0, 0);
	t->a = add(t->dn0->subordinate, ZD_PCI_DEVFN(0, 0), EP, 0x20, false,
		   MiB(64), MiB(16));
	t->a1 = add(t->dn0->subordinate, ZD_PCI_DEVFN(0, 1), EP, 0x20, false,
		    MiB(4), 0);
	t->b = add(t->dn1->subordinate, 0, EP, 0x21, false, MiB(32), 0);
	t->rp1 = add(&t->host->bus, ZD_PCI_DEVFN(1, 0), RP, root_id, false, 0, 0);
	t->c = add(t->rp1->subordinate, 0, EP, 0x22, false, MiB(8), 0);
}

static inline void topo_destroy(struct topo *t)
{
	host_remove(t->host);
}

/* ---- a provider driver: adds what p2p_bars asks for at probe -------- */

struct p2p_add {
	int bar;
	size_t size;
	uint64_t offset;
};

static struct p2p_add p2p_bars[4];
static int p2p_nr_bars;
static int p2p_probe_err;

static inline int provider_probe(struct zd_device *dev)
{
	struct zd_pci_dev *pdev = zd_to_pci_dev(dev);

	for (int i = 0; i < p2p_nr_bars; i++) {
		p2p_probe_err = zd_pci_p2pdma_add_resource(pdev, p2p_bars[i].bar,
				p2p_bars[i].size, p2p_bars[i].offset);
		if (p2p_probe_err)
			return p2p_probe_err;
	}
	return 0;
}

static struct zd_driver provider_driver = {
	.name = "p2p-provider",
	.probe = provider_probe,
};

/* Bind the provider driver to @pdev with BARs 0 (whole) and, if @two, 2. */
static inline int bind_provider(struct zd_pci_dev *pdev, bool two)
{
	p2p_bars[0] = (struct p2p_add){ 0, 0, 0 };
	p2p_bars[1] = (struct p2p_add){ 2, 0, 0 };
	p2p_nr_bars = two ? 2 : 1;
	return zd_device_bind(&pdev->dev, &provider_driver);
}

#endif /* ZD_TEST_PCI_UTIL_H */
