// SPDX-License-Identifier: MIT
/*
 * HMM with dmirror, as ratios against baselines measured in the same run:
 *  - migration to the device and back in 2 MiB batches, against memcpy
 *    of the same bytes between warm buffers (the device memory warm too):
 *    host pages moved without a copy where the kernel can (UFFDIO_MOVE,
 *    Linux 6.8), and again with every move refused, as older kernels copy;
 *  - one CPU fault on a device-private page (no prefetch), against a raw
 *    userfaultfd round trip (fault + UFFDIO_COPY of one page by a thread);
 *  - a sequential CPU read of device-private memory with 64 KiB prefetch,
 *    against a raw handler placing 64 KiB per fault, the faster of copying
 *    it (UFFDIO_COPY) and moving it back from where it was moved to
 *    (UFFDIO_MOVE, Linux 6.8): the page-fault and TLB costs of a VM, which
 *    vary tenfold from day to day, are in both;
 *  - zd_mm_lookup() among 10,000 live ranges (after 10,000 more were
 *    mapped and unmapped), against the same among 100.
 *
 * Every thread (the faulting one, zonedev's fault thread, the baseline's
 * handler) runs on the CPU the benchmark starts on: the same placement
 * for zonedev and the baselines.  On a VM, waking a thread on an idle
 * vCPU costs tens of microseconds (the vCPU must leave its halt), which
 * would swamp both; --spread lets the scheduler place threads instead,
 * as applications run: the targets hold in both placements.
 */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "dmirror.h"

static size_t PG;

#define ROUNDS	5		/* alternating with their baselines */

static double memcpy_gbs(size_t len)
{
	char *a = malloc(len), *b = malloc(len);
	int64_t t0;
	double best = 0;

	memset(a, 1, len);
	memset(b, 2, len);
	for (int r = 0; r < 3; r++) {
		t0 = bench_now_ns();
		memcpy(b, a, len);
		double gbs = (double)len / (double)(bench_now_ns() - t0);

		best = gbs > best ? gbs : best;
	}
	free(a);
	free(b);
	return best;
}

/* ---- raw userfaultfd handlers: the baselines, no zonedev --------------- */

/* UFFDIO_MOVE (Linux 6.8), newer than some headers */
#define RAW_FEATURE_MOVE	(1ull << 10)
struct raw_move { uint64_t dst, src, len, mode; int64_t move; };
#define RAW_UFFDIO_MOVE		_IOWR(UFFDIO, 0x05, struct raw_move)

struct raw {
	int uffd;
	char *area;		/* where the faults are */
	char *src;		/* the page copied, or the source of each chunk */
	size_t chunk;		/* bytes placed per fault (aligned in area) */
	bool move, stride;	/* move, not copy; src + the chunk's offset */
	volatile int stop;
};

static void *raw_handler(void *arg)
{
	struct raw *r = arg;
	struct uffd_msg m;

	while (!r->stop) {
		struct pollfd p = { r->uffd, POLLIN, 0 };

		if (poll(&p, 1, 100) <= 0 || read(r->uffd, &m, sizeof(m)) != sizeof(m))
			continue;
		size_t off = (m.arg.pagefault.address - (uintptr_t)r->area) &
			     ~(r->chunk - 1);
		unsigned long dst = (uintptr_t)r->area + off;
		unsigned long src = (uintptr_t)r->src + (r->stride ? off : 0);

		if (r->move) {
			struct raw_move mv = { .dst = dst, .src = src, .len = r->chunk };

			ioctl(r->uffd, RAW_UFFDIO_MOVE, &mv);
		} else {
			struct uffdio_copy c = { .dst = dst, .src = src, .len = r->chunk };

			ioctl(r->uffd, UFFDIO_COPY, &c);
		}
	}
	return NULL;
}

/* A userfaultfd with UFFDIO_MOVE if @move and the kernel has it (*@move
 * says whether it does), or -1. */
static int raw_uffd(bool *move)
{
	for (int try = *move ? 0 : 1; try < 2; try++) {
		struct uffdio_api api = { .api = UFFD_API,
					  .features = try ? 0 : RAW_FEATURE_MOVE };
		int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

		if (fd < 0) {
			int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

			fd = dev < 0 ? -1 : ioctl(dev, _IO(0xAA, 0), O_CLOEXEC | O_NONBLOCK);
			if (dev >= 0)
				close(dev);
		}
		if (fd < 0)
			return -1;
		if (!ioctl(fd, UFFDIO_API, &api)) {
			*move = !try;
			return fd;
		}
		close(fd);
	}
	return -1;
}

static int raw_register(int uffd, void *p, size_t len)
{
	struct uffdio_register reg = { .range = { (uintptr_t)p, len },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };

	return ioctl(uffd, UFFDIO_REGISTER, &reg);
}

/* ns per page of reading r->area (@len bytes, every page 7), its handler
 * running meanwhile; -1 on wrong bytes.  Tears @r down. */
static double raw_read(struct raw *r, size_t len)
{
	pthread_t t;
	int64_t t0;
	long sum = 0;

	pthread_create(&t, NULL, raw_handler, r);
	t0 = bench_now_ns();
	for (size_t i = 0; i < len; i += PG)
		sum += r->area[i];
	double ns = (double)(bench_now_ns() - t0) / (double)(len / PG);

	r->stop = 1;
	pthread_join(t, NULL);
	close(r->uffd);
	munmap(r->area, len);
	return sum == 7l * (long)(len / PG) ? ns : -1;
}

/* The round trip: a fault, and a thread answering it with UFFDIO_COPY of
 * one page. */
static double raw_fault_ns(unsigned long n)
{
	bool move = false;
	struct raw r = { .chunk = PG };

	r.src = aligned_alloc(PG, PG);
	r.area = mmap(NULL, n * PG, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r.uffd = raw_uffd(&move);
	if (r.uffd < 0 || raw_register(r.uffd, r.area, n * PG))
		return -1;
	memset(r.src, 7, PG);
	double ns = raw_read(&r, n * PG);

	free(r.src);
	return ns;
}

/*
 * A sequential read placing @chunk bytes per fault, as a driver without
 * zonedev would: copied from its "device memory" (UFFDIO_COPY), or, if
 * *@move and the kernel can (else *@move is cleared), moved back from it
 * (UFFDIO_MOVE), the bytes having been moved there from the area itself.
 */
static double raw_seq_ns(size_t len, size_t chunk, bool *move)
{
	struct raw r = { .chunk = chunk, .stride = true };

	r.area = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r.src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r.uffd = raw_uffd(move);
	r.move = *move;
	if (r.area == MAP_FAILED || r.src == MAP_FAILED || r.uffd < 0)
		return -1;
	memset(r.move ? r.area : r.src, 7, len);
	if (raw_register(r.uffd, r.area, len) ||
	    (r.move && raw_register(r.uffd, r.src, len)))
		return -1;
	if (r.move) {
		struct raw_move mv = { .dst = (uintptr_t)r.src,
				       .src = (uintptr_t)r.area, .len = len };

		if (ioctl(r.uffd, RAW_UFFDIO_MOVE, &mv))
			return -1;
	}
	double ns = raw_read(&r, len);

	munmap(r.src, len);
	return ns;
}

/* The median of @n values (sorted in place). */
static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

/* ---- zonedev ------------------------------------------------------------ */

static struct dmirror_cmd cmd(struct zd_mm *mm, char *p, size_t len)
{
	return (struct dmirror_cmd){ .mm = mm, .addr = (unsigned long)p,
				     .npages = len / PG };
}

typedef int migrate_cmd(struct dmirror *dm, struct dmirror_cmd *cmd);

/* One migration of [buf, buf + len) in GB/s; its error ORed into *@err. */
static double migrate_gbs(migrate_cmd *fn, struct dmirror *dm, struct zd_mm *mm,
			  char *buf, size_t len, int *err)
{
	struct dmirror_cmd c = cmd(mm, buf, len);
	int64_t t0 = bench_now_ns();

	*err |= fn(dm, &c);
	return (double)len / (double)(bench_now_ns() - t0);
}

/* ns per zd_mm_lookup() of a page in one of @n live one-page ranges,
 * with as many ranges mapped and unmapped before; -1 on failure. */
static double lookup_ns(unsigned long n)
{
	struct zd_mm *mm = zd_mm_create();
	char **p = calloc(n, sizeof(*p));
	unsigned long rounds = 20000, seed = 1, ok = 0;
	double ns = 0;

	for (unsigned long i = 0; mm && p && i < 2 * n; i++) {
		char *q = zd_mm_map(mm, PG);

		if (!q)
			break;
		if (i & 1)
			munmap(q, PG);
		else
			p[i / 2] = q;
	}
	if (!mm || !p || !p[n - 1]) {
		zd_mm_destroy(mm);
		free(p);
		return -1;
	}
	/* the best of 25 short batches: other tenants of a shared VM only add */
	for (int b = 0; b < 25; b++) {
		int64_t t0 = bench_now_ns();
		double t;

		for (unsigned long i = 0; i < rounds; i++) {
			seed = seed * 6364136223846793005ul + 1442695040888963407ul;
			ok += zd_mm_lookup(mm, (unsigned long)p[(seed >> 33) % n],
					   NULL) == ZD_MM_PAGE_EMPTY;
		}
		t = (double)(bench_now_ns() - t0) / (double)rounds;
		ns = !b || t < ns ? t : ns;
	}
	zd_mm_destroy(mm);
	for (unsigned long i = 0; i < n; i++)
		munmap(p[i], PG);
	free(p);
	return ok == 25 * rounds ? ns : -1;
}

int main(int argc, char **argv)
{
	int quick = 0, spread = 0, cpu = sched_getcpu();
	cpu_set_t one;

	for (int i = 1; i < argc; i++) {
		quick |= !strcmp(argv[i], "--quick");
		spread |= !strcmp(argv[i], "--spread");
	}
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (!spread && sched_setaffinity(0, sizeof(one), &one))
		spread = 1;	/* not allowed: say so below */
	printf("placement: %s\n", spread ? "threads spread by the scheduler" :
	       "every thread on the benchmark's CPU");
	size_t len = quick ? (64ul << 20) : (1ul << 30);
	unsigned long nfault = quick ? 2048 : 16384;
	struct zd_mm *mm = zd_mm_create();
	struct dmirror *dm = dmirror_create(0, 256ul << 20);
	char *buf;
	int64_t t0;
	long sum = 0;

	PG = zd_page_size();
	if (!mm || !dm || !(buf = zd_mm_map(mm, len))) {
		fprintf(stderr, "bench_hmm: no userfaultfd or device memory here\n");
		return 1;
	}
	double copy = memcpy_gbs(len);

	memset(buf, 3, len);
	/* A device's memory exists before its first migration; dmirror's
	 * is host memory it maps on demand.  One untimed round trip maps it
	 * (and faults it in), so the timed one measures migration. */
	int err = 0;

	migrate_gbs(dmirror_migrate_to_device, dm, mm, buf, len, &err);
	migrate_gbs(dmirror_migrate_to_system, dm, mm, buf, len, &err);
	double to_dev = migrate_gbs(dmirror_migrate_to_device, dm, mm, buf, len, &err);
	double to_sys = migrate_gbs(dmirror_migrate_to_system, dm, mm, buf, len, &err);
	struct zd_mm_stats st;

	zd_mm_get_stats(mm, &st);
	printf("pages placed without a copy: %lu, copied: %lu\n",
	       st.pages_moved, st.pages_copied);

	/* the same with every move refused, as kernels before 6.8 copy;
	 * after an untimed round trip, since the moves left device memory
	 * and these pages to be faulted in again */
	zd_fault_inject_site("hmm.move");
	migrate_gbs(dmirror_migrate_to_device, dm, mm, buf, len, &err);
	migrate_gbs(dmirror_migrate_to_system, dm, mm, buf, len, &err);
	double to_dev_copy = migrate_gbs(dmirror_migrate_to_device, dm, mm, buf, len, &err);
	double to_sys_copy = migrate_gbs(dmirror_migrate_to_system, dm, mm, buf, len, &err);
	zd_fault_inject_reset();

	/*
	 * Single faults (no prefetch), then a sequential read with 64 KiB
	 * prefetch, each in ROUNDS rounds that alternate with their raw
	 * baseline: the load of a shared machine changes from second to
	 * second, and the median of each side, not one pass, is compared.
	 */
	double fz[ROUNDS], fr[ROUNDS], sz[ROUNDS], sc[ROUNDS], sm[ROUNDS];
	unsigned long per = nfault / ROUNDS;
	size_t piece = quick ? (8ul << 20) : (64ul << 20);
	bool move = true;

	for (int r = 0; r < ROUNDS; r++) {
		char *p = buf + r * per * PG;

		migrate_gbs(dmirror_migrate_to_device, dm, mm, p, per * PG, &err);
		t0 = bench_now_ns();
		for (unsigned long i = 0; i < per; i++)
			sum += p[i * PG];
		fz[r] = (double)(bench_now_ns() - t0) / (double)per;
		fr[r] = raw_fault_ns(per);
		err |= fr[r] < 0;
	}
	dmirror_set_prefetch(dm, 16);
	for (int r = 0; r < ROUNDS; r++) {
		char *p = buf + r * piece;

		migrate_gbs(dmirror_migrate_to_device, dm, mm, p, piece, &err);
		t0 = bench_now_ns();
		for (size_t i = 0; i < piece; i += PG)
			sum += p[i];
		sz[r] = (double)(bench_now_ns() - t0) / (double)(piece / PG);
		sc[r] = raw_seq_ns(piece, 16 * PG, &(bool){ false });
		sm[r] = move ? raw_seq_ns(piece, 16 * PG, &move) : sc[r];
		err |= sc[r] < 0 || sm[r] < 0;
	}
	double fault = median(fz, ROUNDS), raw = median(fr, ROUNDS);
	double seq = median(sz, ROUNDS), copy64 = median(sc, ROUNDS);
	double move64 = move ? median(sm, ROUNDS) : copy64;
	double raw_seq = move64 < copy64 ? move64 : copy64;

	/* the faster way a raw handler has is what zonedev competes with */
	if (move)
		printf("raw 64 KiB per fault: UFFDIO_COPY %.0f ns, UFFDIO_MOVE %.0f ns "
		       "per page\n", copy64, move64);
	else
		printf("raw 64 KiB per fault: UFFDIO_COPY %.0f ns per page (no "
		       "UFFDIO_MOVE here)\n", copy64);
	double look100 = lookup_ns(100), look10k = lookup_ns(10000);

	if (err || sum != 3l * (long)(ROUNDS * (per + piece / PG)) || look100 < 0 || look10k < 0) {
		fprintf(stderr, "bench_hmm: migration failed or wrong bytes\n");
		return 1;
	}
	struct bench_row rows[] = {
		{ "memcpy_gbs", copy, "GB/s", "", -1 },
		{ "to_device_gbs", to_dev, "GB/s", ">= 50% memcpy", to_dev >= copy / 2 },
		{ "to_system_gbs", to_sys, "GB/s", ">= 50% memcpy", to_sys >= copy / 2 },
		{ "to_device_copying_gbs", to_dev_copy, "GB/s", "", -1 },
		{ "to_system_copying_gbs", to_sys_copy, "GB/s", "", -1 },
		{ "raw_uffd_fault_ns", raw, "ns", "", -1 },
		{ "device_fault_ns", fault, "ns", "", -1 },
		{ "device_fault_vs_raw", fault / raw, "x", "<= 1.3", fault <= 1.3 * raw },
		{ "raw_seq_read_64k_ns_per_page", raw_seq, "ns", "", -1 },
		{ "seq_read_64k_prefetch_ns_per_page", seq, "ns", "", -1 },
		{ "seq_read_64k_vs_raw", seq / raw_seq, "x", "<= 1.2", seq <= 1.2 * raw_seq },
		{ "lookup_100_ranges_ns", look100, "ns", "", -1 },
		{ "lookup_10000_ranges_ns", look10k, "ns", "<= 2x 100 ranges",
		  look10k <= 2 * look100 },
	};
	bench_report("hmm", rows, sizeof(rows) / sizeof(rows[0]));
	zd_mm_destroy(mm);
	dmirror_destroy(dm);
	munmap(buf, len);
	return 0;
}
