// SPDX-License-Identifier: MIT
/*
 * Misuse of the PCI model and of p2pdma.
 *
 * No bad input applies to: zd_pci_dev_get(NULL) and zd_pci_dev_put(NULL)
 * (documented as allowed), zd_pci_p2pmem_free_sgl(pdev, NULL) (allowed),
 * zd_pci_get_device (any ids are valid; @from is the previous result).
 */
#include "misuse.h"

#define EP	ZD_PCI_EXP_TYPE_ENDPOINT
#define RP	ZD_PCI_EXP_TYPE_ROOT_PORT
#define SKYLAKE	0x2030		/* a root port on the p2pdma allow list */

/*
 *   host (domain 0x30)
 *   +- 00.0 root port rp -- 01:00.0 ep (BAR0 64 MiB, BAR2 16 MiB, BAR4 I/O)
 *                        -- 01:01.0 ep2 (BAR0 8 MiB)
 */
struct topo {
	struct zd_pci_host_bridge *host;
	struct zd_pci_dev *rp, *ep, *ep2;
};

static struct zd_pci_dev *add(struct zd_pci_bus *bus, unsigned int devfn,
			      enum zd_pcie_type type, unsigned int device,
			      uint64_t bar0, uint64_t bar2, uint64_t bar4_io)
{
	struct zd_pci_dev_desc d = {
		.vendor = ZD_PCI_VENDOR_ID_INTEL, .device = device, .type = type,
		.bar_size = { bar0, 0, bar2, 0, bar4_io, 0 },
		.bar_io = bar4_io ? 1u << 4 : 0,
	};
	struct zd_pci_dev *p = zd_pci_add_device(bus, devfn, &d);

	M_SETUP(p);
	return p;
}

static struct topo topo(void)
{
	struct topo t;

	t.host = zd_pci_host_bridge_create(0x30, GiB(4), 0);
	M_SETUP(t.host);
	t.rp = add(&t.host->bus, ZD_PCI_DEVFN(0, 0), RP, SKYLAKE, 0, 0, 0);
	t.ep = add(t.rp->subordinate, ZD_PCI_DEVFN(0, 0), EP, 0x20, MiB(64),
		   MiB(16), 256);
	t.ep2 = add(t.rp->subordinate, ZD_PCI_DEVFN(1, 0), EP, 0x21, MiB(8), 0, 0);
	return t;
}

static int probe_ok(struct zd_device *dev)
{
	(void)dev;
	return 0;
}

static struct zd_driver provider = { .name = "mis-provider", .probe = probe_ok };

/* The topology with ep (and ep2) bound, and ep's BAR0 given to p2pdma. */
static struct topo topo_provider(void)
{
	struct topo t = topo();

	M_SETUP(zd_device_bind(&t.ep->dev, &provider) == 0);
	M_SETUP(zd_device_bind(&t.ep2->dev, &provider) == 0);
	M_SETUP(zd_pci_p2pdma_add_resource(t.ep, 0, 0, 0) == 0);
	M_SETUP(zd_pci_p2pdma_add_resource(t.ep2, 0, 0, 0) == 0);
	return t;
}

static size_t available(struct zd_pci_dev *pdev)
{
	struct zd_p2pmem_attrs a;

	return zd_pci_p2pmem_attrs(pdev, &a) ? (size_t)-1 : a.available;
}

/* ---- pci.h ----------------------------------------------------------------- */

#define HOST_BAD(name, dom, size)					\
static void name(void)							\
{									\
	m_arm();							\
	m_expect_null(zd_pci_host_bridge_create(dom, size, 0), EINVAL);	\
}
HOST_BAD(host_neg_domain, -1, GiB(1))
HOST_BAD(host_huge_domain, 65536, GiB(1))
HOST_BAD(host_zero_window, 1, 0)
HOST_BAD(host_npot_window, 1, GiB(3))

static void host_taken_domain(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_null(zd_pci_host_bridge_create(0x30, GiB(1), 0), EINVAL);
	m_state(zd_pci_find_host_bridge(t.ep->bus) == t.host, "bridge replaced");
}

static void host_huge_window(void)
{
	m_arm();
	m_expect_null_nowarn(zd_pci_host_bridge_create(2, 1ull << 62, 0), ERANGE);
}

static void host_remove_null(void)
{
	m_arm();
	zd_pci_host_bridge_remove(NULL);
	m_expect_warn();
}

static void host_remove_twice(void)
{
	struct topo t = topo();

	zd_get_device(&t.host->dev);	/* keeps the struct alive */
	zd_pci_host_bridge_remove(t.host);
	m_arm();
	zd_pci_host_bridge_remove(t.host);
	m_expect_warn();
	m_state(zd_pci_host_bridge_create(0x30, GiB(4), 0) != NULL,
		"the domain cannot be used again");
}

static void add_null_bus(void)
{
	struct zd_pci_dev_desc d = { .vendor = 1, .device = 2, .type = EP };

	m_arm();
	m_expect_null(zd_pci_add_device(NULL, 0, &d), EINVAL);
}

static void add_null_desc(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_null(zd_pci_add_device(t.rp->subordinate, ZD_PCI_DEVFN(2, 0), NULL),
		      EINVAL);
}

/* A bad @desc or @devfn on the endpoint bus: refused, nothing added. */
static void add_bad(unsigned int devfn, const struct zd_pci_dev_desc *d)
{
	struct topo t = topo();
	struct zd_pci_dev *p;
	int n = 0;

	m_arm();
	m_expect_null(zd_pci_add_device(t.rp->subordinate, devfn, d), EINVAL);
	for (p = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, NULL); p;
	     p = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, p))
		n++;
	m_state(n == 3, "a device was added");
}

static void add_devfn_taken(void)
{
	struct zd_pci_dev_desc d = { .vendor = 1, .device = 2, .type = EP };

	add_bad(ZD_PCI_DEVFN(0, 0), &d);
}

static void add_devfn_huge(void)
{
	struct zd_pci_dev_desc d = { .vendor = 1, .device = 2, .type = EP };

	add_bad(256, &d);
}

static void add_bar_npot(void)
{
	struct zd_pci_dev_desc d = { .vendor = 1, .device = 2, .type = EP,
				     .bar_size = { MiB(3) } };

	add_bad(ZD_PCI_DEVFN(2, 0), &d);
}

static void add_bar_small(void)
{
	struct zd_pci_dev_desc d = { .vendor = 1, .device = 2, .type = EP,
				     .bar_size = { 1024 } };

	add_bad(ZD_PCI_DEVFN(2, 0), &d);
}

static void add_bad_type(void)
{
	struct zd_pci_dev_desc d = { .vendor = 1, .device = 2, .type = 7 };

	add_bad(ZD_PCI_DEVFN(2, 0), &d);
}

static void add_io_bits(void)
{
	struct zd_pci_dev_desc d = { .vendor = 1, .device = 2, .type = EP,
				     .bar_io = 1u << 9 };

	add_bad(ZD_PCI_DEVFN(2, 0), &d);
}

static void add_window_full(void)
{
	struct topo t = topo();
	struct zd_pci_dev_desc d = { .vendor = 1, .device = 2, .type = EP,
				     .bar_size = { GiB(8) } };

	m_arm();
	m_expect_null_nowarn(zd_pci_add_device(t.rp->subordinate,
					       ZD_PCI_DEVFN(2, 0), &d), ERANGE);
}

static void remove_null(void)
{
	m_arm();
	zd_pci_stop_and_remove_bus_device(NULL);
	m_expect_warn();
}

static void remove_twice(void)
{
	struct topo t = topo();

	zd_pci_dev_get(t.ep);		/* keeps the struct alive */
	zd_pci_stop_and_remove_bus_device(t.ep);
	m_arm();
	zd_pci_stop_and_remove_bus_device(t.ep);
	m_expect_warn();
}

static void dev_put_unheld(void)
{
	struct topo t = topo();

	m_arm();
	zd_pci_dev_put(t.ep2);		/* the topology's own reference */
	m_expect_warn();
	m_state(zd_device_find("0030:01:01.0") == &t.ep2->dev,
		"the device is gone from the list");
}

static void is_pci_null(void)
{
	m_arm();
	m_expect_val(zd_dev_is_pci(NULL), false);
}

static void to_pci_null(void)
{
	m_arm();
	m_expect_null(zd_to_pci_dev(NULL), 0);
}

static void to_pci_foreign(void)
{
	m_arm();
	m_expect_null(zd_to_pci_dev(m_dev_new("mis-notpci")), 0);
}

static void name_null(void)
{
	m_arm();
	(void)zd_pci_name(NULL);
	m_expect_warn();
}

static void upstream_null(void)
{
	m_arm();
	m_expect_null(zd_pci_upstream_bridge(NULL), 0);
}

static void find_host_null(void)
{
	m_arm();
	m_expect_null(zd_pci_find_host_bridge(NULL), 0);
}

#define BAR_Q(name, fn, pdev_expr, bar, warn)				\
static void name(void)							\
{									\
	struct topo t = topo();						\
									\
	(void)t;							\
	m_arm();							\
	if (warn)							\
		m_expect_val(fn(pdev_expr, bar), 0);			\
	else								\
		m_expect_val_nowarn(fn(pdev_expr, bar), 0);		\
}
BAR_Q(start_null, zd_pci_resource_start, NULL, 0, true)
BAR_Q(start_bar6, zd_pci_resource_start, t.ep, 6, false)
BAR_Q(start_neg, zd_pci_resource_start, t.ep, -1, false)
BAR_Q(len_null, zd_pci_resource_len, NULL, 0, true)
BAR_Q(len_bar6, zd_pci_resource_len, t.ep, 6, false)
BAR_Q(flags_null, zd_pci_resource_flags, NULL, 0, true)
BAR_Q(flags_bar6, zd_pci_resource_flags, t.ep, 6, false)
BAR_Q(flags_neg, zd_pci_resource_flags, t.ep, -1, false)
BAR_Q(bus_null, zd_pci_bus_address, NULL, 0, true)
BAR_Q(bus_bar6, zd_pci_bus_address, t.ep, 6, false)
BAR_Q(bus_io, zd_pci_bus_address, t.ep, 4, false)

static char dma_buf[8192];

static void dma_write_null(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err(zd_pci_dma_write(NULL, zd_pci_bus_address(t.ep, 0), dma_buf, 64),
		     ANY_ERR);
}

static void dma_write_null_src(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err(zd_pci_dma_write(t.ep2, zd_pci_bus_address(t.ep, 0), NULL, 64),
		     ANY_ERR);
}

static void dma_write_nowhere(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err_nowarn(zd_pci_dma_write(t.ep2, 0x1000, dma_buf, 64), -EFAULT);
}

static void dma_write_across(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err_nowarn(zd_pci_dma_write(t.ep2, zd_pci_bus_address(t.ep, 0) +
					     MiB(64) - 4096, dma_buf, 8192), ANY_ERR);
}

static void dma_write_huge(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err_nowarn(zd_pci_dma_write(t.ep2, zd_pci_bus_address(t.ep, 0),
					     dma_buf, SIZE_MAX), ANY_ERR);
}

static void dma_read_null(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err(zd_pci_dma_read(NULL, zd_pci_bus_address(t.ep, 0), dma_buf, 64),
		     ANY_ERR);
}

static void dma_read_null_dst(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err(zd_pci_dma_read(t.ep2, zd_pci_bus_address(t.ep, 0), NULL, 64),
		     ANY_ERR);
}

static void dma_read_across(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err_nowarn(zd_pci_dma_read(t.ep2, zd_pci_bus_address(t.ep, 0) +
					    MiB(64) - 4096, dma_buf, 8192), ANY_ERR);
}

static void dma_read_removed(void)
{
	struct topo t = topo();

	zd_pci_dev_get(t.ep2);
	zd_pci_stop_and_remove_bus_device(t.ep2);
	m_arm();
	m_expect_err(zd_pci_dma_read(t.ep2, zd_pci_bus_address(t.ep, 0), dma_buf, 64),
		     ANY_ERR);
}

/* ---- p2pdma.h -------------------------------------------------------------- */

static void addres_null(void)
{
	m_arm();
	m_expect_err(zd_pci_p2pdma_add_resource(NULL, 0, 0, 0), -EINVAL);
}

static void addres_unbound(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err(zd_pci_p2pdma_add_resource(t.ep, 0, 0, 0), -ENODEV);
}

/* ep bound, nothing added yet: a bad add is refused, nothing remains. */
static void addres_bad(int bar, size_t size, uint64_t offset)
{
	struct topo t = topo();
	struct zd_p2pmem_attrs a;

	M_SETUP(zd_device_bind(&t.ep->dev, &provider) == 0);
	m_arm();
	m_expect_err(zd_pci_p2pdma_add_resource(t.ep, bar, size, offset), -EINVAL);
	m_state(zd_pci_p2pmem_attrs(t.ep, &a) == -ENODEV || a.size == 0,
		"memory was added");
	m_state(zd_pci_p2pdma_add_resource(t.ep, 0, 0, 0) == 0,
		"the BAR cannot be added after");
}

static void addres_io(void) { addres_bad(4, 0, 0); }
static void addres_absent(void) { addres_bad(1, 0, 0); }
static void addres_bar6(void) { addres_bad(6, 0, 0); }
static void addres_bar_neg(void) { addres_bad(-1, 0, 0); }
static void addres_offset_end(void) { addres_bad(0, 0, MiB(64)); }
static void addres_past_end(void) { addres_bad(0, MiB(64), MiB(2)); }
static void addres_unaligned(void) { addres_bad(0, MiB(2), 4096); }
static void addres_size_huge(void) { addres_bad(0, SIZE_MAX, MiB(2)); }
static void addres_offset_huge(void) { addres_bad(0, MiB(2), ~0ull - MiB(2) + 1); }

static void addres_twice(void)
{
	struct topo t = topo_provider();

	m_arm();
	m_expect_err(zd_pci_p2pdma_add_resource(t.ep, 0, 0, 0), ANY_ERR);
	m_state(available(t.ep) == MiB(64), "available changed");
	m_state(zd_pci_alloc_p2pmem(t.ep, 4096) != NULL, "allocation fails");
}

static void dist_many_null(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_val(zd_pci_p2pdma_distance_many(t.ep, NULL, 2, false), (unsigned long long)-1);
}

static void dist_many_null_provider(void)
{
	struct topo t = topo();
	struct zd_device *c[] = { &t.ep2->dev };

	m_arm();
	m_expect_val(zd_pci_p2pdma_distance_many(NULL, c, 1, false), (unsigned long long)-1);
}

static void dist_many_null_entry(void)
{
	struct topo t = topo();
	struct zd_device *c[] = { &t.ep2->dev, NULL };

	m_arm();
	m_expect_val(zd_pci_p2pdma_distance_many(t.ep, c, 2, false), (unsigned long long)-1);
}

static void dist_many_zero(void)
{
	struct topo t = topo();
	struct zd_device *c[] = { &t.ep2->dev };

	m_arm();
	m_expect_val_nowarn(zd_pci_p2pdma_distance_many(t.ep, c, 0, false),
			    (unsigned long long)-1);
}

static void dist_many_neg(void)
{
	struct topo t = topo();
	struct zd_device *c[] = { &t.ep2->dev };

	m_arm();
	m_expect_val(zd_pci_p2pdma_distance_many(t.ep, c, -1, false),
		     (unsigned long long)-1);
}

static void dist_null_client(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_val(zd_pci_p2pdma_distance(t.ep, NULL, false), (unsigned long long)-1);
}

static void dist_null_provider(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_val(zd_pci_p2pdma_distance(NULL, &t.ep2->dev, false),
		     (unsigned long long)-1);
}

static void maptd_null_provider(void)
{
	struct topo t = topo();
	int d;

	m_arm();
	m_expect_val(zd_pci_p2pdma_map_type_dist(NULL, t.ep2, &d),
		     ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED);
}

static void maptd_null_client(void)
{
	struct topo t = topo();
	int d;

	m_arm();
	m_expect_val(zd_pci_p2pdma_map_type_dist(t.ep, NULL, &d),
		     ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED);
}

static void mapt_null_pgmap(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_val(zd_pci_p2pdma_map_type(NULL, &t.ep2->dev),
		     ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED);
}

static void mapt_null_dev(void)
{
	struct topo t = topo_provider();
	void *p = zd_pci_alloc_p2pmem(t.ep, 4096);

	M_SETUP(p);
	m_arm();
	m_expect_val(zd_pci_p2pdma_map_type(
		zd_pfn_to_page(zd_virt_to_phys(p) >> zd_page_shift)->pgmap, NULL),
		ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED);
}

static void mapt_wrong_type(void)
{
	struct topo t = topo();
	struct zd_dev_pagemap *pg = m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC,
						   DEV_BASE, MiB(2));

	m_arm();
	m_expect_val_nowarn(zd_pci_p2pdma_map_type(pg, &t.ep2->dev),
			    ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED);
}

static void has_null(void)
{
	m_arm();
	m_expect_val(zd_pci_has_p2pmem(NULL), false);
}

static void find_many_null(void)
{
	m_arm();
	m_expect_null(zd_pci_p2pmem_find_many(NULL, 2), 0);
}

static void find_many_null_entry(void)
{
	struct topo t = topo_provider();
	struct zd_device *c[] = { &t.ep2->dev, NULL };

	zd_pci_p2pmem_publish(t.ep, true);
	m_arm();
	m_expect_null(zd_pci_p2pmem_find_many(c, 2), 0);
}

static void find_many_neg(void)
{
	struct topo t = topo_provider();
	struct zd_device *c[] = { &t.ep2->dev };

	zd_pci_p2pmem_publish(t.ep, true);
	m_arm();
	m_expect_null(zd_pci_p2pmem_find_many(c, -1), 0);
}

static void find_null(void)
{
	m_arm();
	m_expect_null(zd_pci_p2pmem_find(NULL), 0);
}

static void alloc_null(void)
{
	m_arm();
	m_expect_null(zd_pci_alloc_p2pmem(NULL, 4096), 0);
}

static void alloc_zero(void)
{
	struct topo t = topo_provider();

	m_arm();
	m_expect_null(zd_pci_alloc_p2pmem(t.ep, 0), EINVAL);
}

static void alloc_huge(void)
{
	struct topo t = topo_provider();

	m_arm();
	m_expect_null_nowarn(zd_pci_alloc_p2pmem(t.ep, SIZE_MAX), ENOMEM);
	m_state(available(t.ep) == MiB(64), "available changed");
}

static void alloc_no_mem(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_null_nowarn(zd_pci_alloc_p2pmem(t.ep, 4096), ENODEV);
}

/* A bad free of an allocation of 8 KiB from ep: nothing changes. */
static void bad_free(int how)
{
	struct topo t = topo_provider();
	char *p = zd_pci_alloc_p2pmem(t.ep, 8192);
	char *q = zd_pci_alloc_p2pmem(t.ep2, 4096);

	M_SETUP(p && q);
	m_arm();
	switch (how) {
	case 0: zd_pci_free_p2pmem(NULL, p, 8192); break;
	case 1: zd_pci_free_p2pmem(t.ep, NULL, 8192); break;
	case 2: zd_pci_free_p2pmem(t.ep, p + 65536, 8192); break;
	case 3: zd_pci_free_p2pmem(t.ep, p, 4096); break;
	case 4: zd_pci_free_p2pmem(t.ep, p, SIZE_MAX); break;
	case 5: zd_pci_free_p2pmem(t.ep, q, 4096); break;
	case 6: zd_pci_free_p2pmem(t.ep, p + 1, 8192); break;
	case 7: zd_pci_free_p2pmem(t.ep, dma_buf, 4096); break;
	}
	m_expect_warn();
	m_state(available(t.ep) == MiB(64) - 8192, "ep's available changed");
	m_state(available(t.ep2) == MiB(8) - 4096, "ep2's available changed");
	zd_pci_free_p2pmem(t.ep, p, 8192);
	m_state(available(t.ep) == MiB(64), "the allocation was lost");
}

static void free_null_pdev(void) { bad_free(0); }
static void free_null_addr(void) { bad_free(1); }
static void free_not_alloc(void) { bad_free(2); }
static void free_wrong_size(void) { bad_free(3); }
static void free_huge_size(void) { bad_free(4); }
static void free_foreign(void) { bad_free(5); }
static void free_unaligned(void) { bad_free(6); }
static void free_host_mem(void) { bad_free(7); }

static void free_twice(void)
{
	struct topo t = topo_provider();
	char *p = zd_pci_alloc_p2pmem(t.ep, 8192);
	char *q = zd_pci_alloc_p2pmem(t.ep, 8192);

	M_SETUP(p && q);
	zd_pci_free_p2pmem(t.ep, p, 8192);
	m_arm();
	zd_pci_free_p2pmem(t.ep, p, 8192);
	m_expect_warn();
	m_state(available(t.ep) == MiB(64) - 8192, "available changed");
}

static void v2b_null_pdev(void)
{
	struct topo t = topo_provider();
	void *p = zd_pci_alloc_p2pmem(t.ep, 4096);

	M_SETUP(p);
	m_arm();
	m_expect_val(zd_pci_p2pmem_virt_to_bus(NULL, p), 0);
}

static void v2b_null_addr(void)
{
	struct topo t = topo_provider();

	m_arm();
	m_expect_val_nowarn(zd_pci_p2pmem_virt_to_bus(t.ep, NULL), 0);
}

static void v2b_foreign(void)
{
	struct topo t = topo_provider();
	void *q = zd_pci_alloc_p2pmem(t.ep2, 4096);

	M_SETUP(q);
	m_arm();
	m_expect_val_nowarn(zd_pci_p2pmem_virt_to_bus(t.ep, q), 0);
}

static void v2b_host_mem(void)
{
	struct topo t = topo_provider();

	m_arm();
	m_expect_val_nowarn(zd_pci_p2pmem_virt_to_bus(t.ep, dma_buf), 0);
}

static void sgl_null(void)
{
	unsigned int n;

	m_arm();
	m_expect_null(zd_pci_p2pmem_alloc_sgl(NULL, &n, 4096), 0);
}

static void sgl_null_nents(void)
{
	struct topo t = topo_provider();

	m_arm();
	m_expect_null(zd_pci_p2pmem_alloc_sgl(t.ep, NULL, 4096), 0);
	m_state(available(t.ep) == MiB(64), "memory leaked");
}

static void sgl_zero(void)
{
	struct topo t = topo_provider();
	unsigned int n;

	m_arm();
	m_expect_null(zd_pci_p2pmem_alloc_sgl(t.ep, &n, 0), EINVAL);
}

static void free_sgl_null_pdev(void)
{
	struct topo t = topo_provider();
	unsigned int n;
	struct zd_scatterlist *sg = zd_pci_p2pmem_alloc_sgl(t.ep, &n, 4096);

	M_SETUP(sg);
	m_arm();
	zd_pci_p2pmem_free_sgl(NULL, sg);
	m_expect_warn();
}

static void free_sgl_foreign(void)
{
	struct topo t = topo_provider();
	unsigned int n;
	struct zd_scatterlist *sg = zd_pci_p2pmem_alloc_sgl(t.ep, &n, 4096);

	M_SETUP(sg);
	m_arm();
	zd_pci_p2pmem_free_sgl(t.ep2, sg);
	m_expect_warn();
	m_state(available(t.ep) == MiB(64) - 4096, "ep's memory changed");
	m_state(available(t.ep2) == MiB(8), "ep2's memory changed");
}

static void sg_virt_null(void)
{
	m_arm();
	m_expect_null(zd_sg_virt(NULL), 0);
}

static void map_sg_null_sg(void)
{
	struct topo t = topo();

	m_arm();
	m_expect_err(zd_pci_p2pdma_map_sg(&t.ep2->dev, NULL, 1), -EINVAL);
}

static void map_sg_null_dev(void)
{
	struct topo t = topo_provider();
	unsigned int n;
	struct zd_scatterlist *sg = zd_pci_p2pmem_alloc_sgl(t.ep, &n, 4096);

	M_SETUP(sg);
	m_arm();
	m_expect_err(zd_pci_p2pdma_map_sg(NULL, sg, 1), ANY_ERR);
}

static void map_sg_neg(void)
{
	struct topo t = topo_provider();
	unsigned int n;
	struct zd_scatterlist *sg = zd_pci_p2pmem_alloc_sgl(t.ep, &n, 4096);

	M_SETUP(sg);
	m_arm();
	m_expect_err(zd_pci_p2pdma_map_sg(&t.ep2->dev, sg, -1), -EINVAL);
}

static void map_sg_null_page(void)
{
	struct topo t = topo();
	struct zd_scatterlist sg = { .page = NULL, .length = 4096, .end = true };

	m_arm();
	m_expect_err(zd_pci_p2pdma_map_sg(&t.ep2->dev, &sg, 1), -EINVAL);
}

static void map_sg_generic_page(void)
{
	struct topo t = topo();
	struct zd_scatterlist sg = { .length = 4096, .end = true };

	m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	sg.page = zd_pfn_to_page((unsigned long)(DEV_BASE >> zd_page_shift));
	m_arm();
	m_expect_err(zd_pci_p2pdma_map_sg(&t.ep2->dev, &sg, 1), -EINVAL);
}

static void publish_null(void)
{
	m_arm();
	zd_pci_p2pmem_publish(NULL, true);
	m_expect_warn();
}

static void publish_no_mem(void)
{
	struct topo t = topo();

	m_arm();
	zd_pci_p2pmem_publish(t.ep, true);
	m_expect_warn();
	m_state(!zd_pci_has_p2pmem(t.ep), "published with no memory");
}

static void attrs_null_pdev(void)
{
	struct zd_p2pmem_attrs a;

	m_arm();
	m_expect_err(zd_pci_p2pmem_attrs(NULL, &a), -EINVAL);
}

static void attrs_null_attrs(void)
{
	struct topo t = topo_provider();

	m_arm();
	m_expect_err(zd_pci_p2pmem_attrs(t.ep, NULL), -EINVAL);
}

#define W	"WARN"
#define NULLEINV "NULL/EINVAL+WARN"
#define ERRW	"-errno+WARN"
#define EINV	"-EINVAL+WARN"
#define NOTSUPW	"NOT_SUPPORTED+WARN"
#define M1W	"-1+WARN"
#define BADFREE	"WARN, nothing changes"

const struct mcase misuse_pci_cases[] = {
	{ "zd_pci_host_bridge_create", "huge: domain -1", NULLEINV, host_neg_domain },
	{ "zd_pci_host_bridge_create", "huge: domain 65536", NULLEINV, host_huge_domain },
	{ "zd_pci_host_bridge_create", "zero: window 0", NULLEINV, host_zero_window },
	{ "zd_pci_host_bridge_create", "unaligned: window 3 GiB", NULLEINV, host_npot_window },
	{ "zd_pci_host_bridge_create", "already done: domain taken", NULLEINV, host_taken_domain },
	{ "zd_pci_host_bridge_create", "huge: window 2^62", "NULL/ERANGE", host_huge_window },
	{ "zd_pci_host_bridge_remove", "NULL", W, host_remove_null },
	{ "zd_pci_host_bridge_remove", "double release: twice", W, host_remove_twice },
	{ "zd_pci_add_device", "NULL bus", NULLEINV, add_null_bus },
	{ "zd_pci_add_device", "NULL desc", NULLEINV, add_null_desc },
	{ "zd_pci_add_device", "already done: devfn taken", NULLEINV, add_devfn_taken },
	{ "zd_pci_add_device", "huge: devfn 256", NULLEINV, add_devfn_huge },
	{ "zd_pci_add_device", "unaligned: BAR 3 MiB", NULLEINV, add_bar_npot },
	{ "zd_pci_add_device", "zero: memory BAR 1 KiB", NULLEINV, add_bar_small },
	{ "zd_pci_add_device", "wrong type: type 7", NULLEINV, add_bad_type },
	{ "zd_pci_add_device", "huge: bar_io bit 9", NULLEINV, add_io_bits },
	{ "zd_pci_add_device", "huge: BAR larger than the window", "NULL/ERANGE", add_window_full },
	{ "zd_pci_stop_and_remove_bus_device", "NULL", W, remove_null },
	{ "zd_pci_stop_and_remove_bus_device", "double release: twice", W, remove_twice },
	{ "zd_pci_dev_put", "double release: put without get", "WARN, still listed", dev_put_unheld },
	{ "zd_dev_is_pci", "NULL", "false+WARN", is_pci_null },
	{ "zd_to_pci_dev", "NULL", "NULL+WARN", to_pci_null },
	{ "zd_to_pci_dev", "wrong type: not a PCI device", "NULL+WARN", to_pci_foreign },
	{ "zd_pci_name", "NULL", W, name_null },
	{ "zd_pci_upstream_bridge", "NULL", "NULL+WARN", upstream_null },
	{ "zd_pci_find_host_bridge", "NULL", "NULL+WARN", find_host_null },
	{ "zd_pci_resource_start", "NULL", "0+WARN", start_null },
	{ "zd_pci_resource_start", "huge: bar 6", "0", start_bar6 },
	{ "zd_pci_resource_start", "huge: bar -1", "0", start_neg },
	{ "zd_pci_resource_len", "NULL", "0+WARN", len_null },
	{ "zd_pci_resource_len", "huge: bar 6", "0", len_bar6 },
	{ "zd_pci_resource_flags", "NULL", "0+WARN", flags_null },
	{ "zd_pci_resource_flags", "huge: bar 6", "0", flags_bar6 },
	{ "zd_pci_resource_flags", "huge: bar -1", "0", flags_neg },
	{ "zd_pci_bus_address", "NULL", "0+WARN", bus_null },
	{ "zd_pci_bus_address", "huge: bar 6", "0", bus_bar6 },
	{ "zd_pci_bus_address", "wrong type: I/O BAR", "0", bus_io },
	{ "zd_pci_dma_write", "NULL initiator", ERRW, dma_write_null },
	{ "zd_pci_dma_write", "NULL src", ERRW, dma_write_null_src },
	{ "zd_pci_dma_write", "foreign: no BAR at the address", "-EFAULT", dma_write_nowhere },
	{ "zd_pci_dma_write", "huge: across the BAR end", "-errno", dma_write_across },
	{ "zd_pci_dma_write", "huge: len SIZE_MAX", "-errno", dma_write_huge },
	{ "zd_pci_dma_read", "NULL initiator", ERRW, dma_read_null },
	{ "zd_pci_dma_read", "NULL dst", ERRW, dma_read_null_dst },
	{ "zd_pci_dma_read", "huge: across the BAR end", "-errno", dma_read_across },
	{ "zd_pci_dma_read", "dead: removed initiator", ERRW, dma_read_removed },

	{ "zd_pci_p2pdma_add_resource", "NULL", EINV, addres_null },
	{ "zd_pci_p2pdma_add_resource", "unbound: no driver", "-ENODEV+WARN", addres_unbound },
	{ "zd_pci_p2pdma_add_resource", "wrong type: I/O BAR", EINV ", nothing left", addres_io },
	{ "zd_pci_p2pdma_add_resource", "zero: absent BAR", EINV ", nothing left", addres_absent },
	{ "zd_pci_p2pdma_add_resource", "huge: bar 6", EINV ", nothing left", addres_bar6 },
	{ "zd_pci_p2pdma_add_resource", "huge: bar -1", EINV ", nothing left", addres_bar_neg },
	{ "zd_pci_p2pdma_add_resource", "huge: offset at the end", EINV ", nothing left", addres_offset_end },
	{ "zd_pci_p2pdma_add_resource", "huge: past the end", EINV ", nothing left", addres_past_end },
	{ "zd_pci_p2pdma_add_resource", "unaligned: offset 4 KiB", EINV ", nothing left", addres_unaligned },
	{ "zd_pci_p2pdma_add_resource", "huge: size SIZE_MAX", EINV ", nothing left", addres_size_huge },
	{ "zd_pci_p2pdma_add_resource", "huge: offset + size wraps", EINV ", nothing left", addres_offset_huge },
	{ "zd_pci_p2pdma_add_resource", "already done: BAR added twice", ERRW ", pool unchanged", addres_twice },
	{ "zd_pci_p2pdma_distance_many", "NULL clients", M1W, dist_many_null },
	{ "zd_pci_p2pdma_distance_many", "NULL provider", M1W, dist_many_null_provider },
	{ "zd_pci_p2pdma_distance_many", "NULL client entry", M1W, dist_many_null_entry },
	{ "zd_pci_p2pdma_distance_many", "zero: num_clients 0", "-1", dist_many_zero },
	{ "zd_pci_p2pdma_distance_many", "huge: num_clients -1", M1W, dist_many_neg },
	{ "zd_pci_p2pdma_distance", "NULL client", M1W, dist_null_client },
	{ "zd_pci_p2pdma_distance", "NULL provider", M1W, dist_null_provider },
	{ "zd_pci_p2pdma_map_type_dist", "NULL provider", NOTSUPW, maptd_null_provider },
	{ "zd_pci_p2pdma_map_type_dist", "NULL client", NOTSUPW, maptd_null_client },
	{ "zd_pci_p2pdma_map_type", "NULL pgmap", NOTSUPW, mapt_null_pgmap },
	{ "zd_pci_p2pdma_map_type", "NULL dev", NOTSUPW, mapt_null_dev },
	{ "zd_pci_p2pdma_map_type", "wrong type: GENERIC pgmap", "NOT_SUPPORTED", mapt_wrong_type },
	{ "zd_pci_has_p2pmem", "NULL", "false+WARN", has_null },
	{ "zd_pci_p2pmem_find_many", "NULL clients", "NULL+WARN", find_many_null },
	{ "zd_pci_p2pmem_find_many", "NULL client entry", "NULL+WARN", find_many_null_entry },
	{ "zd_pci_p2pmem_find_many", "huge: num_clients -1", "NULL+WARN", find_many_neg },
	{ "zd_pci_p2pmem_find", "NULL", "NULL+WARN", find_null },
	{ "zd_pci_alloc_p2pmem", "NULL", "NULL+WARN", alloc_null },
	{ "zd_pci_alloc_p2pmem", "zero: size 0", NULLEINV, alloc_zero },
	{ "zd_pci_alloc_p2pmem", "huge: SIZE_MAX", "NULL/ENOMEM, unchanged", alloc_huge },
	{ "zd_pci_alloc_p2pmem", "wrong state: no p2p memory", "NULL/ENODEV", alloc_no_mem },
	{ "zd_pci_free_p2pmem", "NULL pdev", BADFREE, free_null_pdev },
	{ "zd_pci_free_p2pmem", "NULL addr", BADFREE, free_null_addr },
	{ "zd_pci_free_p2pmem", "wrong state: never allocated", BADFREE, free_not_alloc },
	{ "zd_pci_free_p2pmem", "wrong size", BADFREE, free_wrong_size },
	{ "zd_pci_free_p2pmem", "huge: size SIZE_MAX", BADFREE, free_huge_size },
	{ "zd_pci_free_p2pmem", "foreign: another provider's", BADFREE, free_foreign },
	{ "zd_pci_free_p2pmem", "unaligned address", BADFREE, free_unaligned },
	{ "zd_pci_free_p2pmem", "foreign: host memory", BADFREE, free_host_mem },
	{ "zd_pci_free_p2pmem", "double release: twice", BADFREE, free_twice },
	{ "zd_pci_p2pmem_virt_to_bus", "NULL pdev", "0+WARN", v2b_null_pdev },
	{ "zd_pci_p2pmem_virt_to_bus", "NULL addr", "0", v2b_null_addr },
	{ "zd_pci_p2pmem_virt_to_bus", "foreign: another provider's", "0", v2b_foreign },
	{ "zd_pci_p2pmem_virt_to_bus", "foreign: host memory", "0", v2b_host_mem },
	{ "zd_pci_p2pmem_alloc_sgl", "NULL pdev", "NULL+WARN", sgl_null },
	{ "zd_pci_p2pmem_alloc_sgl", "NULL nents", "NULL+WARN, no leak", sgl_null_nents },
	{ "zd_pci_p2pmem_alloc_sgl", "zero: length 0", NULLEINV, sgl_zero },
	{ "zd_pci_p2pmem_free_sgl", "NULL pdev", W, free_sgl_null_pdev },
	{ "zd_pci_p2pmem_free_sgl", "foreign: another provider's", "WARN, nothing changes", free_sgl_foreign },
	{ "zd_sg_virt", "NULL", "NULL+WARN", sg_virt_null },
	{ "zd_pci_p2pdma_map_sg", "NULL sg", EINV, map_sg_null_sg },
	{ "zd_pci_p2pdma_map_sg", "NULL dev", ERRW, map_sg_null_dev },
	{ "zd_pci_p2pdma_map_sg", "huge: nents -1", EINV, map_sg_neg },
	{ "zd_pci_p2pdma_map_sg", "NULL page in a segment", EINV, map_sg_null_page },
	{ "zd_pci_p2pdma_map_sg", "wrong type: GENERIC page", EINV, map_sg_generic_page },
	{ "zd_pci_p2pmem_publish", "NULL", W, publish_null },
	{ "zd_pci_p2pmem_publish", "wrong state: no p2p memory", "WARN, not published", publish_no_mem },
	{ "zd_pci_p2pmem_attrs", "NULL pdev", EINV, attrs_null_pdev },
	{ "zd_pci_p2pmem_attrs", "NULL attrs", EINV, attrs_null_attrs },
	{ 0 }
};
