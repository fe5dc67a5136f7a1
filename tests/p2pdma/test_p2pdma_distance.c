// SPDX-License-Identifier: MIT
/* Map type and distance over several topologies (the kernel's rules). */
#include "../pci/pci_util.h"

static void expect(struct zd_pci_dev *provider, struct zd_pci_dev *client,
		   enum zd_pci_p2pdma_map_type type, int dist)
{
	int d = -5;

	assert_int_equal(zd_pci_p2pdma_map_type_dist(provider, client, &d), type);
	assert_int_equal(d, dist);
	assert_int_equal(zd_pci_p2pdma_distance(provider, &client->dev, true),
			 type == ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED ? -1 : dist);
}

#define BUS	ZD_PCI_P2PDMA_MAP_BUS_ADDR
#define HOST	ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE
#define NONE	ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED

static void test_same_switch_and_functions(void **state)
{
	struct topo t;

	(void)state;
	topo_build(&t, 0x30, UNLISTED_ROOT, false);
	expect(t.a, t.a, BUS, 0);
	expect(t.a, t.a1, BUS, 2);	/* two functions of one device */
	expect(t.a, t.b, BUS, 4);	/* across the switch */
	expect(t.b, t.a, BUS, 4);
	expect(t.a, t.dn1, BUS, 3);
	topo_destroy(&t);
}

static void test_different_root_ports(void **state)
{
	struct topo t;

	(void)state;
	topo_build(&t, 0x31, UNLISTED_ROOT, false);
	expect(t.a, t.c, NONE, 6);	/* a, dn0, up, rp0 + c, rp1 */
	topo_destroy(&t);
	topo_build(&t, 0x32, ALLOWED_ROOT, false);
	expect(t.a, t.c, HOST, 6);
	expect(t.c, t.b, HOST, 6);
	topo_destroy(&t);
}

static void test_acs_redirect_on_the_path(void **state)
{
	struct topo t;

	(void)state;
	topo_build(&t, 0x33, ALLOWED_ROOT, true);	/* ACS on dn0 */
	expect(t.a, t.b, HOST, 4);
	expect(t.b, t.a, HOST, 4);
	expect(t.a, t.a1, HOST, 2);	/* the common bridge redirects too */
	expect(t.a, t.a, BUS, 0);
	topo_destroy(&t);
	topo_build(&t, 0x34, UNLISTED_ROOT, true);
	expect(t.a, t.b, NONE, 4);
	expect(t.b, t.c, NONE, 6);	/* no ACS involved, still unlisted */
	topo_destroy(&t);
}

static void test_host_bridges(void **state)
{
	struct topo t1, t2, t3;

	(void)state;
	topo_build(&t1, 0x35, ALLOWED_ROOT, false);
	topo_build(&t2, 0x36, ALLOWED_ROOT, false);
	topo_build(&t3, 0x37, SAME_HOST_ROOT, false);
	expect(t1.a, t2.b, HOST, 8);		/* both allowed */
	expect(t1.a, t3.b, NONE, 8);		/* t3's needs the same bridge */
	expect(t3.a, t3.c, HOST, 6);		/* ... which this is */
	topo_destroy(&t3);
	topo_destroy(&t2);
	topo_destroy(&t1);
}

static void test_host_identified_by_first_device(void **state)
{
	struct zd_pci_host_bridge *host = host_create(0x38, GiB(1), 0);
	struct zd_pci_dev *ep, *ep2;

	(void)state;
	assert_non_null(host);
	/* an endpoint at 01.0 first: neither 00.0 nor a root port */
	ep = add(&host->bus, ZD_PCI_DEVFN(1, 0), EP, ALLOWED_ROOT, false, MiB(2), 0);
	ep2 = add(&host->bus, ZD_PCI_DEVFN(2, 0), EP, 0x99, false, MiB(2), 0);
	expect(ep, ep2, NONE, 2);
	zd_pci_stop_and_remove_bus_device(ep);
	/* now ep2 is first, at 02.0, and not listed either */
	ep = add(&host->bus, 0, RP, ALLOWED_ROOT, false, 0, 0);
	ep = add(ep->subordinate, 0, EP, 0x98, false, MiB(2), 0);
	expect(ep, ep2, NONE, 3);
	host_remove(host);
}

static void test_distance_many(void **state)
{
	struct zd_device *clients[3];
	struct topo t;

	(void)state;
	topo_build(&t, 0x39, UNLISTED_ROOT, false);
	clients[0] = &t.a->dev;
	clients[1] = &t.a1->dev;
	clients[2] = &t.b->dev;
	assert_int_equal(zd_pci_p2pdma_distance_many(t.a, clients, 3, false), 6);
	clients[2] = &t.c->dev;
	assert_int_equal(zd_pci_p2pdma_distance_many(t.a, clients, 3, true), -1);
	assert_int_equal(zd_pci_p2pdma_distance_many(t.a, clients, 0, false), -1);
	assert_int_equal(zd_pci_p2pdma_distance_many(NULL, clients, 1, false), -1);
	assert_warns("bad argument",
		     zd_pci_p2pdma_map_type_dist(NULL, t.a, NULL));
	topo_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, pci_setup, pci_teardown)
		T(test_same_switch_and_functions),
		T(test_different_root_ports),
		T(test_acs_redirect_on_the_path),
		T(test_host_bridges),
		T(test_host_identified_by_first_device),
		T(test_distance_many),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
