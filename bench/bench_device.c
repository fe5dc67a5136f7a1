// SPDX-License-Identifier: MIT
/*
 * Device-model benchmark: the memory-hotplug read side (get_online_mems +
 * put_online_mems) from 1 and 2 threads, beside a thread-local inc+dec
 * floor in the same run; region_intersects on a tree of 1,000
 * resources; and the cost of one zd_device_add among 100 and among
 * 10,000 added devices, as a ratio that must stay within 2.
 */
#include <pthread.h>
#include <zonedev/zonedev.h>

#include "bench.h"

static unsigned long pairs = 20 * 1000 * 1000ul;
static __thread unsigned long tls_counter;
static pthread_barrier_t start;

static void *pairs_thread(void *arg)
{
	int floor = arg != NULL;

	pthread_barrier_wait(&start);
	for (unsigned long i = 0; i < pairs; i++) {
		if (floor) {
			tls_counter++;
			__asm__ volatile("" ::: "memory");
			tls_counter--;
			__asm__ volatile("" ::: "memory");
		} else {
			zd_get_online_mems();
			zd_put_online_mems();
		}
	}
	return NULL;
}

static double pair_ns(int nthreads, int floor)
{
	double best = 1e9;

	for (int r = 0; r < 3; r++) {
		pthread_t t[2];
		int64_t t0;
		double v;

		pthread_barrier_init(&start, NULL, nthreads + 1);
		for (int i = 0; i < nthreads; i++)
			pthread_create(&t[i], NULL, pairs_thread,
				       floor ? (void *)1 : NULL);
		pthread_barrier_wait(&start);
		t0 = bench_now_ns();
		for (int i = 0; i < nthreads; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&start);
		v = (double)(bench_now_ns() - t0) / pairs;
		if (v < best)
			best = v;
	}
	return best;
}

#define NR_RES		1000
#define RES_BASE	0x2000000000ull
#define RES_STRIDE	(2ull << 20)

static double intersects_ns(unsigned long queries)
{
	unsigned int seed = 1;
	volatile int sink = 0;
	int64_t t0;

	for (int i = 0; i < NR_RES; i++)
		if (!zd_request_mem_region(RES_BASE + i * RES_STRIDE, 1 << 20,
					   "bench"))
			abort();
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < queries; i++) {
		zd_resource_size_t at = RES_BASE +
			(zd_resource_size_t)(rand_r(&seed) % (NR_RES * 2)) *
			(RES_STRIDE / 2);

		sink += zd_region_intersects(at, 1 << 20,
					     ZD_IORESOURCE_SYSTEM_RAM, 0);
	}
	(void)sink;
	double ns = (double)(bench_now_ns() - t0) / queries;

	for (int i = 0; i < NR_RES; i++)
		zd_release_mem_region(RES_BASE + i * RES_STRIDE, 1 << 20);
	return ns;
}

#define NR_DEV	10000

static struct zd_device devs[NR_DEV];
static char dev_names[NR_DEV][12];

static void dev_release(struct zd_device *dev)
{
}

/*
 * The median ns of one zd_device_add with *@arg devices, added @rounds / n
 * times over so that both sizes time the same number of adds.  Each add
 * is timed alone: a preemption of this loaded VM lands in the tail, not
 * in the median.
 */
static double add_ns(void *arg, unsigned long rounds)
{
	unsigned long n = *(unsigned long *)arg, reps = rounds / n;
	int64_t *ns = malloc(reps * n * sizeof(*ns));
	double median;

	for (unsigned long r = 0; r < reps; r++) {
		for (unsigned long i = 0; i < n; i++) {
			memset(&devs[i], 0, sizeof(devs[i]));
			devs[i].init_name = dev_names[i];
			devs[i].release = dev_release;
			zd_device_initialize(&devs[i]);
		}
		for (unsigned long i = 0; i < n; i++) {
			int64_t t0 = bench_now_ns();

			if (zd_device_add(&devs[i]))
				abort();
			ns[r * n + i] = bench_now_ns() - t0;
		}
		for (unsigned long i = 0; i < n; i++)
			zd_device_unregister(&devs[i]);
	}
	median = (double)bench_quantile(ns, reps * n, 0.5);
	free(ns);
	return median;
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	double h1, h2, f1, ri;

	if (quick)
		pairs /= 10;
	zd_mem_hotplug_begin();		/* set up outside the measurement */
	zd_mem_hotplug_done();
	h1 = pair_ns(1, 0);
	h2 = pair_ns(2, 0);
	f1 = pair_ns(1, 1);
	ri = intersects_ns(quick ? 20000 : 200000);
	for (int i = 0; i < NR_DEV; i++)
		snprintf(dev_names[i], sizeof(dev_names[i]), "bench%d", i);
	unsigned long small = 100, large = NR_DEV;
	double add100 = bench_median_ns(add_ns, &small, 20000, 5);
	double add10k = bench_median_ns(add_ns, &large, 20000, 5);
	double ratio = add10k / add100;

	struct bench_row rows[] = {
		{ "online_mems_pair_1t_ns", h1, "ns", "<= 5", h1 <= 5 },
		{ "online_mems_pair_2t_ns", h2, "ns", "<= 5", h2 <= 5 },
		{ "tls_inc_dec_1t_ns", f1, "ns", "", -1 },
		{ "region_intersects_1000_ns", ri, "ns", "<= 1000", ri <= 1000 },
		{ "device_add_100_ns", add100, "ns", "", -1 },
		{ "device_add_10000_ns", add10k, "ns", "", -1 },
		{ "device_add_10000_vs_100_ratio", ratio, "x", "<= 2", ratio <= 2 },
	};
	bench_report("device", rows, sizeof(rows) / sizeof(rows[0]));
	return 0;
}
