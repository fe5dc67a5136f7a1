// SPDX-License-Identifier: MIT
/*
 * p2pmem allocation: zd_pci_alloc_p2pmem + zd_pci_free_p2pmem of 4 KiB
 * from a 64 MiB BAR, against the bare gen_pool pair underneath it (the
 * difference is the owner reference and the RCU read section).  Each
 * figure is the median of five batches.
 */
#include <stdio.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "bench.h"

static double p2p_pair_ns(void *pdev, unsigned long rounds)
{
	int64_t t0 = bench_now_ns();

	for (unsigned long i = 0; i < rounds; i++)
		zd_pci_free_p2pmem(pdev, zd_pci_alloc_p2pmem(pdev, 4096), 4096);
	return (double)(bench_now_ns() - t0) / rounds;
}

static double pool_pair_ns(void *unused, unsigned long rounds)
{
	struct zd_gen_pool *p = zd_gen_pool_create(12, -1);
	int64_t t0;

	zd_gen_pool_add(p, 1ul << 40, 64ul << 20, -1);
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < rounds; i++)
		zd_gen_pool_free(p, zd_gen_pool_alloc(p, 4096), 4096);
	double ns = (double)(bench_now_ns() - t0) / rounds;

	zd_gen_pool_destroy(p);
	return ns;
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	unsigned long rounds = quick ? 200000 : 5000000;
	struct zd_pci_dev_desc desc = { .vendor = 0x8086, .bar_size = { 64ul << 20 } };
	struct zd_pci_host_bridge *host = zd_pci_host_bridge_create(0, 1ul << 30, 0);
	struct zd_pci_dev *pdev = host ? zd_pci_add_device(&host->bus, 0, &desc) : NULL;
	double p2p, pool;

	static struct zd_driver drv = { .name = "bench-provider" };

	/* the memory is devres of the provider's bound driver */
	if (!pdev || zd_device_bind(&pdev->dev, &drv) ||
	    zd_pci_p2pdma_add_resource(pdev, 0, 0, 0)) {
		fprintf(stderr, "bench_p2pdma: cannot set up a provider\n");
		return 1;
	}
	p2p_pair_ns(pdev, rounds / 10);		/* warm up */
	p2p = bench_median_ns(p2p_pair_ns, pdev, rounds / 5, 5);
	pool = bench_median_ns(pool_pair_ns, NULL, rounds / 5, 5);

	struct bench_row rows[] = {
		{ "p2pmem_alloc_free_4k_pair_ns", p2p, "ns", "<= 60", p2p <= 60 },
		{ "gen_pool_alloc_free_4k_pair_ns", pool, "ns", "", -1 },
	};
	bench_report("p2pdma", rows, sizeof(rows) / sizeof(rows[0]));
	zd_pci_host_bridge_remove(host);
	return 0;
}
