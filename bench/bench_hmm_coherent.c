// SPDX-License-Identifier: MIT
/*
 * DEVICE_COHERENT memory against device-private memory and host memory,
 * in one run, through the dmirror driver: migrating a range to each kind
 * of device and back (GB/s), and the CPU reading and writing the range
 * where it lies.  A coherent page is mapped in place, so the CPU reads
 * it at memory speed: the baseline is the same loop over host memory
 * mapped just as freshly (first pass: each page's first access, which a
 * virtual machine's shadow page tables make costly; second pass: warm).
 * A device-private page must first come home through a real page fault,
 * so the same loop over device-private pages measures the fault path.
 * Prints one JSON line, then a table.  Skips (exit 0, saying why) where
 * coherent memory is not supported (Linux < 5.19) or userfaultfd is not.
 *   --quick   64 MiB, one round (a smoke run)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zonedev/zonedev.h>

#include "bench.h"
#include "dmirror.h"

static size_t PG;

struct run {
	struct zd_mm *mm;
	char *buf;
	size_t len;
};

static struct dmirror_cmd cmd(struct run *r)
{
	return (struct dmirror_cmd){ .mm = r->mm, .addr = (unsigned long)r->buf,
				     .npages = r->len / PG };
}

/* GB/s of one migration of the whole range to @dm (or back from it). */
static double migrate_gbs(struct run *r, struct dmirror *dm, bool to_dev)
{
	struct dmirror_cmd c = cmd(r);
	int64_t t = bench_now_ns();
	int err = to_dev ? dmirror_migrate_to_device(dm, &c) :
			   dmirror_migrate_to_system(dm, &c);

	t = bench_now_ns() - t;
	if (err || c.cpages != r->len / PG) {
		fprintf(stderr, "migration %s: error %d, %lu of %zu pages\n",
			to_dev ? "to the device" : "home", err, c.cpages, r->len / PG);
		exit(1);
	}
	return (double)r->len / (double)t;
}

/* GB/s of the CPU summing (or writing) the range, word by word. */
static double cpu_gbs(char *buf, size_t len, bool write, unsigned long *sink)
{
	int64_t t = bench_now_ns();
	unsigned long sum = 0;

	if (write)
		memset(buf, 0x5a, len);
	else
		for (size_t i = 0; i < len; i += sizeof(unsigned long))
			sum += *(volatile unsigned long *)(buf + i);
	t = bench_now_ns() - t;
	*sink += sum;
	return (double)len / (double)t;
}

static double best(double a, double b)
{
	return a > b ? a : b;
}

int main(int argc, char **argv)
{
	size_t len = (size_t)256 << 20;
	int rounds = 3;
	struct dmirror *coh, *priv;
	struct run r;
	unsigned long sink = 0;
	double to_coh = 0, from_coh = 0, to_priv = 0, from_priv = 0;
	double read_host = 0, read_coh = 0, read_priv = 0, warm_host = 0;
	double warm_coh = 0, write_host = 0, write_coh = 0;
	char *host;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			len = (size_t)64 << 20;
			rounds = 1;
		} else {
			fprintf(stderr, "usage: bench_hmm_coherent [--quick]\n");
			return 2;
		}
	}
	PG = zd_page_size();
	if (zd_hmm_device_coherent_supported()) {
		printf("{\"bench\": \"hmm_coherent\", \"skipped\": \"DEVICE_COHERENT "
		       "needs Linux 5.19 and userfaultfd\"}\n");
		return 0;
	}
	r.mm = zd_mm_create();
	coh = dmirror_create_coherent(900, ZD_SECTION_SIZE);
	priv = dmirror_create(901, ZD_SECTION_SIZE);
	r.len = len;
	r.buf = r.mm ? zd_mm_map(r.mm, len) : NULL;
	host = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (host == MAP_FAILED)
		host = NULL;
	if (!r.mm || !coh || !priv || !r.buf || !host) {
		fprintf(stderr, "bench_hmm_coherent: setup failed: %s\n", strerror(errno));
		return 1;
	}
	memset(r.buf, 1, len);
	for (int i = 0; i < rounds; i++) {
		/* freshly mapped and populated, as a migration leaves a page */
		madvise(host, len, MADV_DONTNEED);
		madvise(host, len, 23 /* MADV_POPULATE_WRITE */);
		read_host = best(read_host, cpu_gbs(host, len, false, &sink));
		warm_host = best(warm_host, cpu_gbs(host, len, false, &sink));
		write_host = best(write_host, cpu_gbs(host, len, true, &sink));
		to_coh = best(to_coh, migrate_gbs(&r, coh, true));
		read_coh = best(read_coh, cpu_gbs(r.buf, len, false, &sink));
		warm_coh = best(warm_coh, cpu_gbs(r.buf, len, false, &sink));
		write_coh = best(write_coh, cpu_gbs(r.buf, len, true, &sink));
		from_coh = best(from_coh, migrate_gbs(&r, coh, false));
		to_priv = best(to_priv, migrate_gbs(&r, priv, true));
		from_priv = best(from_priv, migrate_gbs(&r, priv, false));
		migrate_gbs(&r, priv, true);
		/* every page faults home: the fault path, not memory speed */
		read_priv = best(read_priv, cpu_gbs(r.buf, len, false, &sink));
	}
	struct bench_row rows[] = {
		{ "migrate_to_coherent_gbs", to_coh, "GB/s", "", -1 },
		{ "migrate_from_coherent_gbs", from_coh, "GB/s", "", -1 },
		{ "migrate_to_private_gbs", to_priv, "GB/s", "", -1 },
		{ "migrate_from_private_gbs", from_priv, "GB/s", "", -1 },
		{ "cpu_read_host_gbs", read_host, "GB/s", "baseline", -1 },
		{ "cpu_read_coherent_gbs", read_coh, "GB/s", "", -1 },
		{ "cpu_read_coherent_vs_host", read_coh / read_host, "x",
		  ">= 0.8 (in place)", read_coh >= 0.8 * read_host },
		{ "cpu_read_warm_coherent_vs_host", warm_coh / warm_host, "x",
		  ">= 0.8 (in place)", warm_coh >= 0.8 * warm_host },
		{ "cpu_write_coherent_vs_host", write_coh / write_host, "x",
		  ">= 0.8 (in place)", write_coh >= 0.8 * write_host },
		{ "cpu_read_private_vs_host", read_priv / read_host, "x",
		  "(faults home)", -1 },
	};
	bench_report("hmm_coherent", rows, (int)(sizeof(rows) / sizeof(rows[0])));
	zd_mm_destroy(r.mm);
	dmirror_destroy(coh);
	dmirror_destroy(priv);
	munmap(host, len);
	return sink == 42;	/* keeps the reads */
}
