/* SPDX-License-Identifier: MIT */
/* Tiny helpers shared by the benchmarks: timing, stats, JSON + table. */
#ifndef ZD_BENCH_H
#define ZD_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts @v; returns the value at quantile @q (0..1). */
static inline int64_t bench_quantile(int64_t *v, size_t n, double q)
{
	qsort(v, n, sizeof(*v), bench_cmp_i64);
	return v[(size_t)(q * (double)(n - 1))];
}

/*
 * The median ns per round over @batches runs of @fn(@arg, @rounds), each
 * returning ns per round: a VM's scheduling noise lands in a batch or
 * two, not in the figure.
 */
static inline double bench_median_ns(double (*fn)(void *, unsigned long),
				     void *arg, unsigned long rounds,
				     int batches)
{
	int64_t ps[16];

	if (batches > 16)
		batches = 16;
	for (int i = 0; i < batches; i++)
		ps[i] = (int64_t)(fn(arg, rounds) * 1000);
	return (double)bench_quantile(ps, (size_t)batches, 0.5) / 1000;
}

struct bench_row {
	const char *name;	/* metric key in the JSON */
	double value;
	const char *unit;
	const char *target;	/* human-readable target, or "" */
	int ok;			/* 1 met, 0 missed, -1 no target */
};

static inline void bench_report(const char *bench, struct bench_row *rows,
				int n)
{
	printf("{\"bench\": \"%s\", \"results\": {", bench);
	for (int i = 0; i < n; i++)
		printf("%s\"%s\": %.3f", i ? ", " : "", rows[i].name,
		       rows[i].value);
	printf("}}\n\n");
	printf("%-40s %12s %-6s %-22s %s\n", "metric", "value", "unit",
	       "target", "met");
	for (int i = 0; i < n; i++)
		printf("%-40s %12.3f %-6s %-22s %s\n", rows[i].name,
		       rows[i].value, rows[i].unit, rows[i].target,
		       rows[i].ok < 0 ? "" : rows[i].ok ? "yes" : "NO");
}

#endif /* ZD_BENCH_H */
