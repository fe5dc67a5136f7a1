// SPDX-License-Identifier: MIT
/*
 * genalloc benchmark: 4 KiB alloc+free pairs (median of five batches);
 * and with 1,000 live allocations of random sizes (4 KiB..1 MiB,
 * log-uniform) in a 256 MiB pool, the cost of one allocation, beside the
 * same workload run through the kernel-style bitmap scan (a custom
 * algorithm gets the raw bitmap) in the same run; the two must place
 * every allocation identically.  And the cost of one zd_gen_pool_add in
 * a pool of 100 chunks and in one of 10,000 (chunks added in random
 * address order), as a ratio that must stay within 2.
 */
#include <malloc.h>
#include <stdio.h>
#include <zonedev/zonedev.h>

#include "bench.h"

#define BASE	0x100000000ul
#define POOL	(256ul << 20)
#define LIVE	1000

static unsigned long scan_first_fit(unsigned long *map, unsigned long size,
		unsigned long start, unsigned int nr, void *data,
		struct zd_gen_pool *pool, unsigned long start_addr)
{
	return zd_gen_pool_first_fit(map, size, start, nr, data, pool,
				     start_addr);
}

static double pair_ns(void *unused, unsigned long rounds)
{
	struct zd_gen_pool *p = zd_gen_pool_create(12, -1);
	int64_t t0;

	zd_gen_pool_add(p, BASE, POOL, -1);
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < rounds; i++) {
		unsigned long a = zd_gen_pool_alloc(p, 4096);

		zd_gen_pool_free(p, a, 4096);
	}
	double ns = (double)(bench_now_ns() - t0) / rounds;

	zd_gen_pool_destroy(p);
	return ns;
}

/* Steady state with LIVE allocations; returns ns per alloc and fills
 * @trace with the addresses chosen. */
static double random_ns(zd_genpool_algo_t *algo, unsigned long rounds,
			unsigned long *trace)
{
	struct zd_gen_pool *p = zd_gen_pool_create(12, -1);
	unsigned long addr[LIVE] = { 0 };
	size_t size[LIVE];
	unsigned int seed = 12345;
	int64_t spent = 0;

	zd_gen_pool_add(p, BASE, POOL, -1);
	for (unsigned long r = 0; r < rounds + LIVE; r++) {
		int i = (int)(r < LIVE ? r : (unsigned long)rand_r(&seed) % LIVE);
		int64_t t0;

		if (addr[i])
			zd_gen_pool_free(p, addr[i], size[i]);
		/* 4 KiB .. 1 MiB, log-uniform */
		size[i] = (size_t)(4096.0 * __builtin_exp2((rand_r(&seed) % 8192) /
							   8192.0 * 8));
		t0 = bench_now_ns();
		addr[i] = zd_gen_pool_alloc_algo(p, size[i], algo, NULL);
		if (r >= LIVE) {
			spent += bench_now_ns() - t0;
			trace[r - LIVE] = addr[i];
		}
	}
	for (int i = 0; i < LIVE; i++)
		if (addr[i])
			zd_gen_pool_free(p, addr[i], size[i]);
	zd_gen_pool_destroy(p);
	return (double)spent / rounds;
}

/*
 * The median ns of one zd_gen_pool_add over pools of *@arg chunks, built
 * @rounds / n times so that both sizes time the same number of adds.
 * Each add is timed alone: a preemption or a page fault of this loaded
 * VM lands in the tail, not in the median.  64 KiB chunks 128 KiB
 * apart, in a shuffled order: sorted adds would hide an insert that
 * moves the chunks above it.
 */
static double add_ns(void *arg, unsigned long rounds)
{
	unsigned long n = *(unsigned long *)arg, reps = rounds / n;
	unsigned long *at = malloc(n * sizeof(*at));
	int64_t *ns = malloc(reps * n * sizeof(*ns));
	unsigned int seed = 777;
	double median;

	for (unsigned long r = 0; r < reps; r++) {
		struct zd_gen_pool *p = zd_gen_pool_create(12, -1);

		for (unsigned long i = 0; i < n; i++)
			at[i] = BASE + i * (128ul << 10);
		for (unsigned long i = n - 1; i > 0; i--) {
			unsigned long j = (unsigned long)rand_r(&seed) % (i + 1);
			unsigned long t = at[i];

			at[i] = at[j];
			at[j] = t;
		}
		for (unsigned long i = 0; i < n; i++) {
			int64_t t0 = bench_now_ns();

			if (zd_gen_pool_add(p, at[i], 64ul << 10, -1))
				abort();
			ns[r * n + i] = bench_now_ns() - t0;
		}
		zd_gen_pool_destroy(p);
	}
	median = (double)bench_quantile(ns, reps * n, 0.5);
	free(ns);
	free(at);
	return median;
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	unsigned long rounds = quick ? 20000 : 200000;
	unsigned long *fast = calloc(rounds, sizeof(long));
	unsigned long *scan = calloc(rounds, sizeof(long));
	double pair, rnd, rnd_scan;
	unsigned long same = 0;

	pair = bench_median_ns(pair_ns, NULL, quick ? 200000 : 2000000, 5);
	rnd = random_ns(zd_gen_pool_first_fit, rounds, fast);
	rnd_scan = random_ns(scan_first_fit, rounds, scan);
	for (unsigned long i = 0; i < rounds; i++)
		same += fast[i] == scan[i];
	/* the heap is kept between pools: the add rows time adds, not the
	 * page faults of a heap that malloc gave back and grows again */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	unsigned long small = 100, large = 10000;
	double add100 = bench_median_ns(add_ns, &small, 10000, 5);
	double add10k = bench_median_ns(add_ns, &large, 10000, 5);
	double ratio = add10k / add100;

	struct bench_row rows[] = {
		{ "alloc_free_4k_pair_ns", pair, "ns", "<= 40", pair <= 40 },
		{ "alloc_random_1000_live_ns", rnd, "ns", "<= 150", rnd <= 150 },
		{ "alloc_random_bitmap_scan_ns", rnd_scan, "ns", "", -1 },
		{ "placement_identical", same == rounds, "bool", "1", same == rounds },
		{ "add_100_chunks_ns", add100, "ns", "", -1 },
		{ "add_10000_chunks_ns", add10k, "ns", "", -1 },
		{ "add_10000_vs_100_ratio", ratio, "x", "<= 2", ratio <= 2 },
	};
	bench_report("genalloc", rows, sizeof(rows) / sizeof(rows[0]));
	free(fast);
	free(scan);
	return same == rounds ? 0 : 1;
}
