// SPDX-License-Identifier: MIT
/*
 * 1 GiB migrated to device-private memory and back, as order-9 folios
 * (ZD_MIGRATE_VMA_SELECT_COMPOUND, one entry per 2 MiB) against order-0
 * pages (one entry per page), in the same run, with a minimal driver
 * that does the least a driver must: on the moving path its memory is
 * registered staging memory and host pages move in and out without a
 * copy (UFFDIO_MOVE, Linux 6.8; copied where the kernel cannot); on the
 * copying path it copies the bytes both ways.  Both orders migrate in
 * 2 MiB batches, and the order-0 driver hands its pages out in address
 * order so that its copies and moves are one call per batch as well:
 * what differs is what is done per page (entries, references, the
 * driver's allocation and free).  A third variant hands order-0 pages
 * out scattered, as a fragmented allocator does: then each page is a
 * copy or move of its own, which is what order-0 pages cost the kernel.
 * Prints one JSON line, then a table: GB/s per path, direction and
 * variant, and the ratios order 9 / order 0 (in order and scattered).
 *   --quick   256 MiB, one round (a smoke run)
 *   --size N  MiB to migrate (default 1024)
 *   --path copy|move, --only 0|1|2: one path, one variant (profiling)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zonedev/zonedev.h>

#include "bench.h"

#define FOLIO	((size_t)2 << 20)
#define NR	ZD_HMM_FOLIO_PAGES

static size_t PG;
static int only_v = -1;			/* --only: profile one variant */

struct fdev {
	struct zd_dev_pagemap pgmap;
	char *mem;
	size_t bytes;
	unsigned long first_pfn, nslots, next_slot;
	unsigned short *slot_used;	/* pages in use per 2 MiB slot */
	bool staging;
};

static struct fdev *dev_of(struct zd_page *p)
{
	return (struct fdev *)p->pgmap;
}

static char *page_mem(struct zd_page *p)
{
	return dev_of(p)->mem + (zd_page_to_pfn(p) - dev_of(p)->first_pfn) * PG;
}

/* single-threaded: no lock */
static void fd_page_free(struct zd_page *page)
{
	struct fdev *d = dev_of(page);
	unsigned long off = zd_page_to_pfn(page) - d->first_pfn;

	d->slot_used[off / NR] -= (unsigned short)zd_folio_nr_pages((struct zd_folio *)page);
}

static int fd_migrate_to_ram(struct zd_vm_fault *vmf)
{
	(void)vmf;
	return -EIO;		/* never touched by the CPU here */
}

static const struct zd_dev_pagemap_ops fd_ops = {
	.page_free = fd_page_free,
	.migrate_to_ram = fd_migrate_to_ram,
};

/* A free 2 MiB slot's first page. */
static struct zd_page *slot_alloc(struct fdev *d)
{
	for (unsigned long n = 0; n < d->nslots; n++) {
		unsigned long s = (d->next_slot + n) % d->nslots;

		if (!d->slot_used[s]) {
			d->next_slot = s + 1;
			d->slot_used[s] = NR;
			return zd_pfn_to_page(d->first_pfn + s * NR);
		}
	}
	return NULL;
}

static struct fdev *fd_create(size_t bytes, bool staging)
{
	struct fdev *d = calloc(1, sizeof(*d));
	struct zd_resource *res;
	char *raw = mmap(NULL, bytes + FOLIO, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (!d || raw == MAP_FAILED)
		return NULL;
	d->mem = (char *)(((uintptr_t)raw + FOLIO - 1) & ~(FOLIO - 1));
	d->bytes = bytes;
	d->staging = staging;
	madvise(d->mem, bytes, MADV_DONTFORK);
	if (staging && zd_hmm_register_staging(d->mem, bytes))
		return NULL;
	res = zd_request_free_mem_region(zd_iomem_root(), bytes, "bench-folio");
	if (!res)
		return NULL;
	d->pgmap.type = ZD_MEMORY_DEVICE_PRIVATE;
	d->pgmap.nr_range = 1;
	d->pgmap.range.start = res->start;
	d->pgmap.range.end = res->start + bytes - 1;
	d->pgmap.ops = &fd_ops;
	d->pgmap.owner = d;
	d->first_pfn = res->start / PG;
	d->nslots = bytes / FOLIO;
	d->slot_used = calloc(d->nslots, sizeof(*d->slot_used));
	if (!zd_memremap_pages(&d->pgmap, 0))
		return NULL;
	memset(d->mem, 0, bytes);	/* warm, as the host buffer is */
	return d;
}

static void fd_destroy(struct fdev *d)
{
	zd_memunmap_pages(&d->pgmap);
	zd_release_mem_region(d->pgmap.range.start, d->bytes);
	if (d->staging)
		zd_hmm_unregister_staging(d->mem, d->bytes);
	free(d->slot_used);
	free(d);
}

struct batch {
	unsigned long *src, *dst;	/* NR each */
	struct zd_migrate_vma m;
};

/* What is measured: order-0 pages handed out in address order (a batch
 * is one copy or move, as dmirror's), order-9 folios, and order-0 pages
 * of a fragmented allocator (each page a copy or move of its own, as a
 * kernel driver's order-0 pages cost). */
enum { V_ORDER0, V_ORDER9, V_SCATTER, NR_V };
static const char *const v_name[NR_V] = { "order0", "order9", "order0_scattered" };

/* The page of a slot that batch entry @i gets. */
static unsigned long slot_page(int v, unsigned long i)
{
	return v == V_SCATTER ? (i * 211) % NR : i;	/* a permutation */
}

/* Host pages of a 2 MiB batch to device memory. */
static void to_dev(struct fdev *d, struct batch *b, int v, bool move)
{
	struct zd_page *first = NULL;
	char *src = zd_migrate_pfn_to_virt(b->src[0]);
	char *mem;

	if (!(b->src[0] & ZD_MIGRATE_PFN_MIGRATE))
		return;
	first = slot_alloc(d);
	if (!first)
		return;
	mem = page_mem(first);
	if (v == V_ORDER9) {
		zd_zone_device_folio_init((struct zd_folio *)first, &d->pgmap,
					  ZD_HMM_FOLIO_ORDER);
		b->dst[0] = zd_migrate_pfn(zd_page_to_pfn(first)) |
			    ZD_MIGRATE_PFN_WRITE | ZD_MIGRATE_PFN_COMPOUND;
	} else {
		for (unsigned long i = 0; i < NR; i++) {
			struct zd_page *p = first + slot_page(v, i);

			zd_zone_device_page_init(p);
			b->dst[i] = zd_migrate_pfn(zd_page_to_pfn(p)) |
				    ZD_MIGRATE_PFN_WRITE;
		}
	}
	if (v != V_SCATTER) {
		if (!move || zd_migrate_vma_move(&b->m, 0, NR, mem))
			memcpy(mem, src, FOLIO);
		return;
	}
	for (unsigned long i = 0; i < NR; i++) {
		char *to = mem + slot_page(v, i) * PG;

		if (!move || zd_migrate_vma_move(&b->m, i, 1, to))
			memcpy(to, src + i * PG, PG);
	}
}

/* Device pages of a batch home: the device memory is the staging. */
static void to_sys(struct batch *b, int v, bool move)
{
	unsigned long donate = move ? ZD_MIGRATE_PFN_DONATE : 0;

	for (unsigned long i = 0; i < NR; i++) {
		struct zd_page *p = zd_migrate_pfn_to_page(b->src[i]);

		if (!p || !(b->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		b->dst[i] = zd_migrate_virt(page_mem(p)) | donate |
			    (v == V_ORDER9 ? ZD_MIGRATE_PFN_COMPOUND : 0);
	}
}

/* Seconds to migrate [buf, buf + len) one way; -1 on an error or a
 * batch that did not all migrate. */
static double migrate_all(struct fdev *d, struct zd_mm *mm, char *buf, size_t len,
			  bool to_device, int v, bool move)
{
	struct batch *b = malloc(sizeof(*b));
	unsigned long flags = (to_device ? ZD_MIGRATE_VMA_SELECT_SYSTEM :
			       ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE) |
			      (v == V_ORDER9 ? ZD_MIGRATE_VMA_SELECT_COMPOUND : 0);
	int64_t t0;
	bool ok;

	if (!b)
		return -1;
	b->src = calloc(NR, sizeof(long));
	b->dst = calloc(NR, sizeof(long));
	ok = b->src && b->dst;
	t0 = bench_now_ns();
	for (size_t off = 0; ok && off < len; off += FOLIO) {
		b->m = (struct zd_migrate_vma){
			.mm = mm, .src = b->src, .dst = b->dst, .npages = NR,
			.start = (uintptr_t)buf + off, .end = (uintptr_t)buf + off + FOLIO,
			.pgmap_owner = d, .flags = flags,
		};
		if (zd_migrate_vma_setup(&b->m) || b->m.cpages != NR) {
			ok = false;
			break;
		}
		if (to_device)
			to_dev(d, b, v, move);
		else
			to_sys(b, v, move);
		zd_migrate_vma_pages(&b->m);
		ok = b->src[0] & ZD_MIGRATE_PFN_MIGRATE;
		zd_migrate_vma_finalize(&b->m);
	}
	free(b->src);
	free(b->dst);
	free(b);
	return ok ? (double)(bench_now_ns() - t0) / 1e9 : -1;
}

struct result {
	double gbs[2][2][NR_V];		/* [move][to_device][variant] */
};

static int run_path(size_t len, bool move, int rounds, struct result *r)
{
	struct zd_mm *mm = zd_mm_create();
	struct fdev *d = fd_create(len, move);
	char *raw, *buf;

	if (!mm || !d) {
		fprintf(stderr, "bench_hmm_folio: setup failed: %s\n", strerror(errno));
		return -1;
	}
	raw = mmap(NULL, len + FOLIO, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = (char *)(((uintptr_t)raw + FOLIO - 1) & ~(FOLIO - 1));
	memset(buf, 1, len);
	if (zd_mm_register(mm, buf, len))
		return -1;
	/* round -1 warms up: the first touch of memory the guest never used
	 * costs the host's faults on a VM, tenfold what is measured after */
	for (int round = -1; round < rounds; round++)
		for (int v = 0; v < NR_V; v++) {	/* alternating */
			double t_dev, t_sys, g_dev, g_sys;

			if (only_v >= 0 && v != only_v)
				continue;
			t_dev = migrate_all(d, mm, buf, len, true, v, move);
			t_sys = migrate_all(d, mm, buf, len, false, v, move);
			if (t_dev < 0 || t_sys < 0) {
				fprintf(stderr, "bench_hmm_folio: a migration failed\n");
				return -1;
			}
			g_dev = (double)len / t_dev / 1e9;
			g_sys = (double)len / t_sys / 1e9;
			if (round < 0)
				continue;
			if (g_dev > r->gbs[move][1][v])
				r->gbs[move][1][v] = g_dev;
			if (g_sys > r->gbs[move][0][v])
				r->gbs[move][0][v] = g_sys;
		}
	if (buf[len - 1] != 1 || buf[0] != 1) {
		fprintf(stderr, "bench_hmm_folio: bytes lost\n");
		return -1;
	}
	zd_mm_destroy(mm);
	munmap(raw, len + FOLIO);
	fd_destroy(d);
	return 0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

int main(int argc, char **argv)
{
	size_t mib = 1024;
	int rounds = 3, only_path = -1;
	struct result r = { 0 };
	const char *path[2] = { "copy", "move" }, *dir[2] = { "to_system", "to_device" };

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--quick")) {
			mib = 256;
			rounds = 1;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only_v = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--path") && i + 1 < argc) {
			only_path = !strcmp(argv[++i], "move");
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			mib = strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: bench_hmm_folio [--quick] [--size MiB] "
				"[--path copy|move] [--only 0|1|2 (order0, order9, "
				"order0 scattered)]\n");
			return 2;
		}
	PG = zd_page_size();
	mib = (mib + 1) & ~1ul;
	if (!zd_mm_create()) {	/* leaked on purpose: a probe */
		printf("{\"bench\":\"hmm_folio\",\"skipped\":\"no userfaultfd\"}\n");
		return 0;
	}
	for (int move = 0; move < 2; move++)
		if ((only_path < 0 || only_path == move) &&
		    run_path(mib << 20, move, rounds, &r))
			return 1;
	printf("{\"bench\":\"hmm_folio\",\"bytes\":%zu", mib << 20);
	for (int move = 0; move < 2; move++)
		for (int td = 1; td >= 0; td--) {
			const double *g = r.gbs[move][td];

			for (int v = 0; v < NR_V; v++)
				printf(",\"%s_%s_%s_gbs\":%.3f", path[move], dir[td],
				       v_name[v], g[v]);
			printf(",\"%s_%s_ratio\":%.2f,\"%s_%s_ratio_scattered\":%.2f",
			       path[move], dir[td], ratio(g[V_ORDER9], g[V_ORDER0]),
			       path[move], dir[td], ratio(g[V_ORDER9], g[V_SCATTER]));
		}
	printf("}\n\n");
	printf("%-5s %-10s %9s %9s %11s %8s %10s\n", "path", "direction",
	       "order9", "order0", "order0 scat", "9/0", "9/0 scat");
	for (int move = 0; move < 2; move++)
		for (int td = 1; td >= 0; td--) {
			const double *g = r.gbs[move][td];

			printf("%-5s %-10s %9.2f %9.2f %11.2f %7.2fx %9.2fx\n",
			       path[move], dir[td], g[V_ORDER9], g[V_ORDER0],
			       g[V_SCATTER], ratio(g[V_ORDER9], g[V_ORDER0]),
			       ratio(g[V_ORDER9], g[V_SCATTER]));
		}
	printf("(GB/s, best of %d rounds after a warm-up)\n", rounds);
	return 0;
}
