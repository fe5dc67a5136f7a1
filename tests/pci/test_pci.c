// SPDX-License-Identifier: MIT
/* The PCI model: topology, names, BARs, removal, the DMA engine, errors. */
#include "pci_util.h"

static void test_topology_names_and_links(void **state)
{
	struct topo t;
	char name[32];

	(void)state;
	topo_build(&t, 0x10, ALLOWED_ROOT, false);
	assert_string_equal(zd_dev_name(&t.host->dev), "pci0010:00");
	assert_string_equal(zd_pci_name(t.rp0), "0010:00:00.0");
	assert_string_equal(zd_pci_name(t.a), "0010:03:00.0");
	assert_string_equal(zd_pci_name(t.a1), "0010:03:00.1");
	assert_string_equal(zd_pci_name(t.c), "0010:05:00.0");
	assert_ptr_equal(zd_pci_upstream_bridge(t.a), t.dn0);
	assert_ptr_equal(zd_pci_upstream_bridge(t.dn0), t.up);
	assert_ptr_equal(zd_pci_upstream_bridge(t.up), t.rp0);
	assert_null(zd_pci_upstream_bridge(t.rp0));
	assert_ptr_equal(zd_pci_find_host_bridge(t.a->bus), t.host);
	assert_ptr_equal(t.a->dev.parent, &t.dn0->dev);
	assert_ptr_equal(t.rp0->dev.parent, &t.host->dev);
	assert_true(zd_dev_is_pci(&t.a->dev));
	assert_false(zd_dev_is_pci(&t.host->dev));
	assert_ptr_equal(zd_to_pci_dev(&t.b->dev), t.b);
	assert_warns("not a PCI device", assert_null(zd_to_pci_dev(&t.host->dev)));
	snprintf(name, sizeof(name), "%s", zd_pci_name(t.b));
	assert_ptr_equal(zd_device_find(name), &t.b->dev);
	zd_put_device(&t.b->dev);	/* zd_device_find's reference */
	topo_destroy(&t);
	assert_null(zd_device_find(name));
	assert_null(zd_device_find("pci0010:00"));
}

static void test_bars_in_window_and_iomem(void **state)
{
	struct zd_pci_host_bridge *host;
	struct zd_pci_dev *p;
	struct zd_pci_dev_desc d = {
		.vendor = 1, .device = 2, .bar_size = { MiB(64), MiB(2), 0, 64 },
		.bar_io = 1u << 3,
	};
	uint64_t s0;

	(void)state;
	host = host_create(0x11, GiB(1), GiB(2));
	assert_non_null(host);
	p = zd_pci_add_device(&host->bus, 0, &d);
	assert_non_null(p);
	s0 = zd_pci_resource_start(p, 0);
	assert_int_equal(s0 % MiB(64), 0);
	assert_true(s0 >= host->window->start && s0 + MiB(64) - 1 <= host->window->end);
	assert_int_equal(zd_pci_resource_len(p, 0), MiB(64));
	assert_int_equal(zd_pci_resource_len(p, 1), MiB(2));
	assert_int_equal(zd_pci_resource_flags(p, 0), ZD_IORESOURCE_MEM);
	assert_int_equal(zd_pci_resource_flags(p, 3), ZD_IORESOURCE_IO);
	assert_int_equal(zd_pci_resource_flags(p, 2), 0);
	assert_int_equal(zd_pci_resource_len(p, 7), 0);
	assert_int_equal(zd_pci_bus_address(p, 0), s0 - GiB(2));
	assert_int_equal(zd_pci_bus_address(p, 3), 0);	/* I/O: none */
	/* the BAR is claimed in iomem under the window */
	assert_int_equal(zd_region_intersects(s0, MiB(64), ZD_IORESOURCE_MEM,
					      ZD_IORES_DESC_NONE),
			 ZD_REGION_INTERSECTS);
	assert_null(zd_request_mem_region(s0, MiB(2), "thief"));
	zd_pci_stop_and_remove_bus_device(p);
	/* given back: a thief may now take it */
	struct zd_resource *r = zd_request_mem_region(s0, MiB(2), "thief");
	assert_non_null(r);
	zd_release_mem_region(s0, MiB(2));
	host_remove(host);
	assert_int_equal(zd_region_intersects(s0, MiB(64), ZD_IORESOURCE_MEM,
					      ZD_IORES_DESC_NONE),
			 ZD_REGION_DISJOINT);
}

static void test_bad_input(void **state)
{
	struct zd_pci_host_bridge *host;
	struct zd_pci_dev_desc d = { .bar_size = { MiB(1) } };

	(void)state;
	errno = 0;
	assert_warns("window_size", assert_null(host_create(1, MiB(3), 0)));
	assert_int_equal(errno, EINVAL);
	assert_warns("domain", assert_null(host_create(-1, GiB(1), 0)));
	host = host_create(0x12, GiB(1), 0);
	assert_non_null(host);
	assert_warns("exists", assert_null(host_create(0x12, GiB(1), 0)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(zd_pci_add_device(&host->bus, 0, &d));
	assert_warns("devfn taken", assert_null(zd_pci_add_device(&host->bus, 0, &d)));
	assert_int_equal(errno, EINVAL);
	d.bar_size[1] = 3 * 4096;
	assert_warns("bar_size[1]", assert_null(zd_pci_add_device(&host->bus, 8, &d)));
	d.bar_size[1] = 0;
	d.type = (enum zd_pcie_type)9;
	assert_warns("desc->type", assert_null(zd_pci_add_device(&host->bus, 8, &d)));
	assert_warns("bad argument", assert_null(zd_pci_add_device(NULL, 8, &d)));
	assert_warns("bad argument", assert_null(zd_pci_add_device(&host->bus, 256, &d)));
	/* a BAR larger than the window */
	d.type = ZD_PCI_EXP_TYPE_ENDPOINT;
	d.bar_size[0] = GiB(2);
	assert_warns("no room", assert_null(zd_pci_add_device(&host->bus, 8, &d)));
	assert_int_equal(errno, ERANGE);
	host_remove(host);
}

static void test_get_device_iterates(void **state)
{
	struct topo t;
	struct zd_pci_dev *p = NULL;
	int all = 0, eps = 0;

	(void)state;
	topo_build(&t, 0x13, ALLOWED_ROOT, false);
	while ((p = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, p)))
		all++;
	while ((p = zd_pci_get_device(ZD_PCI_VENDOR_ID_INTEL, 0x20, p)))
		eps++;
	assert_int_equal(all, 9);
	assert_int_equal(eps, 2);	/* a and a1 */
	/* an iterator holding a device across its removal goes on */
	p = zd_pci_get_device(ZD_PCI_ANY_ID, 0x21, NULL);
	assert_ptr_equal(p, t.b);
	zd_pci_stop_and_remove_bus_device(t.dn1);
	p = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, p);
	assert_ptr_equal(p, t.rp1);
	zd_pci_dev_put(p);
	topo_destroy(&t);
}

static int removed_calls;
static void count_remove(struct zd_device *dev)
{
	(void)dev;
	removed_calls++;
}
static int ok_probe(struct zd_device *dev)
{
	(void)dev;
	return 0;
}

static void test_remove_unbinds_subtree(void **state)
{
	struct zd_driver drv = { .name = "t", .probe = ok_probe,
				 .remove = count_remove };
	struct topo t;

	(void)state;
	topo_build(&t, 0x14, ALLOWED_ROOT, false);
	assert_int_equal(zd_device_bind(&t.a->dev, &drv), 0);
	assert_int_equal(zd_device_bind(&t.b->dev, &drv), 0);
	removed_calls = 0;
	zd_pci_dev_get(t.dn0);
	zd_pci_stop_and_remove_bus_device(t.up);
	assert_int_equal(removed_calls, 2);
	assert_null(zd_device_find("0014:03:00.0"));
	assert_warns("already removed", zd_pci_stop_and_remove_bus_device(t.up));
	/* nothing can be added below a removed port, even if still held */
	struct zd_pci_dev_desc d = { 0 };
	assert_warns("bus removed", assert_null(zd_pci_add_device(t.dn0->subordinate, 0, &d)));
	topo_destroy(&t);
	zd_pci_dev_put(t.dn0);
}

static void test_add_fault_injection_unwinds(void **state)
{
	struct zd_pci_host_bridge *host = host_create(0x15, GiB(1), 0);
	struct zd_pci_dev_desc d = { .type = ZD_PCI_EXP_TYPE_ROOT_PORT,
				     .bar_size = { MiB(2), MiB(4) } };
	struct zd_pci_dev *p;
	unsigned long steps;

	(void)state;
	assert_non_null(host);
	zd_fault_inject_nth(0, NULL);
	p = zd_pci_add_device(&host->bus, 0, &d);
	steps = zd_fault_inject_calls();
	zd_fault_inject_reset();
	assert_non_null(p);
	zd_pci_stop_and_remove_bus_device(p);
	assert_true(steps >= 4);
	for (unsigned long i = 1; i <= steps; i++) {
		zd_fault_inject_nth(i, NULL);
		p = zd_pci_add_device(&host->bus, 0, &d);
		assert_int_equal(zd_fault_inject_hits(), 1);
		zd_fault_inject_reset();
		assert_null(p);
		assert_null(zd_device_find("0015:00:00.0"));
		assert_ptr_equal(host->bus.devices.next, &host->bus.devices);
	}
	/* nothing was left behind: the same device adds again */
	p = zd_pci_add_device(&host->bus, 0, &d);
	assert_non_null(p);
	host_remove(host);
}

static void test_dma_engine_routes(void **state)
{
	struct topo t;
	char buf[64] = "written by a", back[64] = { 0 };
	zd_pci_bus_addr_t b_bar = 0;

	(void)state;
	topo_build(&t, 0x16, UNLISTED_ROOT, false);
	b_bar = zd_pci_bus_address(t.b, 0);
	/* a and b share a switch: peer to peer */
	assert_int_equal(zd_pci_dma_write(t.a, b_bar + 4096, buf, sizeof(buf)), 0);
	assert_int_equal(zd_pci_dma_read(t.b, b_bar + 4096, back, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	/* c is under another root port and the host bridge is not allowed */
	assert_int_equal(zd_pci_dma_read(t.c, b_bar, back, 8), -EREMOTEIO);
	/* no BAR there, or a transfer running off the end of one */
	assert_int_equal(zd_pci_dma_read(t.a, 0x1000, back, 8), -EFAULT);
	assert_int_equal(zd_pci_dma_read(t.a, b_bar + MiB(32) - 4, back, 8), -EFAULT);
	assert_warns("bad argument", zd_pci_dma_read(NULL, b_bar, back, 8));
	topo_destroy(&t);

	/* allowed host bridge: c reaches b through it */
	topo_build(&t, 0x17, ALLOWED_ROOT, false);
	b_bar = zd_pci_bus_address(t.b, 0);
	assert_int_equal(zd_pci_dma_write(t.c, b_bar, buf, sizeof(buf)), 0);
	assert_int_equal(zd_pci_dma_read(t.a, b_bar, back, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	topo_destroy(&t);
}

/* Use after removal and unbalanced puts are refused, not crashes. */
static void test_misuse_after_removal_refused(void **state)
{
	struct zd_pci_dev_desc d = { .bar_size = { MiB(1) }, .bar_io = 1u << 9 };
	struct topo t;
	char back[8];

	(void)state;
	topo_build(&t, 0x18, ALLOWED_ROOT, false);
	assert_warns("bar_io", assert_null(zd_pci_add_device(&t.host->bus, 8, &d)));
	/* a put without a get would free a listed device */
	assert_warns("put without a get", zd_pci_dev_put(t.c));
	assert_ptr_equal(zd_device_find(zd_pci_name(t.c)), &t.c->dev);
	zd_put_device(&t.c->dev);
	zd_pci_dev_get(t.c);
	assert_no_warn(zd_pci_dev_put(t.c));
	/* a removed initiator's driver is gone: no DMA */
	zd_pci_dev_get(t.c);
	zd_pci_stop_and_remove_bus_device(t.c);
	assert_warns("removed", assert_int_equal(
		zd_pci_dma_read(t.c, zd_pci_bus_address(t.b, 0), back, 8), -ENODEV));
	zd_pci_dev_put(t.c);
	/* a bridge kept alive and removed twice */
	zd_get_device(&t.host->dev);
	topo_destroy(&t);
	assert_warns("already removed", zd_pci_host_bridge_remove(t.host));
	zd_put_device(&t.host->dev);
	assert_warns("NULL pdev", assert_null(zd_pci_upstream_bridge(NULL)));
	assert_warns("NULL dev", assert_false(zd_dev_is_pci(NULL)));
	assert_warns("NULL pdev", assert_int_equal(zd_pci_resource_len(NULL, 0), 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, pci_setup, pci_teardown)
		T(test_topology_names_and_links),
		T(test_bars_in_window_and_iomem),
		T(test_bad_input),
		T(test_get_device_iterates),
		T(test_remove_unbinds_subtree),
		T(test_add_fault_injection_unwinds),
		T(test_dma_engine_routes),
		T(test_misuse_after_removal_refused),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
