// SPDX-License-Identifier: MIT
/*
 * DEVICE_COHERENT pages in managed memory: pages migrate to coherent
 * device memory (a memfd-backed pgmap) and the CPU reads and writes them
 * in place, without a fault; they come back with
 * ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT, by pfn (unplug), and on fork,
 * unregister and destroy.  munmap frees them, MADV_DONTNEED leaves zeros
 * (never the device's bytes), mremap moves them; an munmap racing a
 * migration leaves no mapping behind; error paths and misuse.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "dmirror.h"

#define DEV_PAGES	1024ul

static size_t PG;
static char owner_tag, other_tag;
#define OWNER	((void *)&owner_tag)

/* A coherent device: memfd-backed pages on a free list. */
struct cdev {
	struct zd_dev_pagemap pgmap;
	struct zd_resource *res;
	int fd;
	pthread_mutex_t lock;
	struct zd_page *free;
	atomic_ulong frees;
	unsigned long in_use;
};

static struct cdev dev, anon_dev;
static int dm_ids = 100;	/* dmirror names */

static struct cdev *cdev_of(struct zd_page *page)
{
	return container_of(page->pgmap, struct cdev, pgmap);
}

static void page_free(struct zd_page *page)
{
	struct cdev *d = cdev_of(page);

	pthread_mutex_lock(&d->lock);
	page->zone_device_data = d->free;
	d->free = page;
	d->in_use--;
	pthread_mutex_unlock(&d->lock);
	atomic_fetch_add(&d->frees, 1);
}

static const struct zd_dev_pagemap_ops cops = { .page_free = page_free };

static int cdev_init(struct cdev *d, bool fd_backed)
{
	size_t len = DEV_PAGES * PG;
	unsigned long first;

	pthread_mutex_init(&d->lock, NULL);
	d->fd = -1;
	if (fd_backed) {
		d->fd = memfd_create("coherent", 0);
		if (d->fd < 0 || ftruncate(d->fd, (off_t)len))
			return -1;
		d->pgmap.backing.kind = ZD_BACKING_FD;
		d->pgmap.backing.fd = d->fd;
	}
	d->res = zd_request_free_mem_region(zd_iomem_root(), len, "coherent");
	if (!d->res)
		return -1;
	d->pgmap.type = ZD_MEMORY_DEVICE_COHERENT;
	d->pgmap.nr_range = 1;
	d->pgmap.range.start = d->res->start;
	d->pgmap.range.end = d->res->start + len - 1;
	d->pgmap.ops = &cops;
	d->pgmap.owner = OWNER;
	if (!zd_memremap_pages(&d->pgmap, ZD_NUMA_NO_NODE))
		return -1;
	first = (unsigned long)(d->res->start / PG);
	/* pushed from the top: pages leave in ascending order */
	for (unsigned long i = DEV_PAGES; i-- > 0;) {
		struct zd_page *p = zd_pfn_to_page(first + i);

		p->zone_device_data = d->free;
		d->free = p;
	}
	return 0;
}

static struct zd_page *cdev_alloc(struct cdev *d)
{
	struct zd_page *p;

	pthread_mutex_lock(&d->lock);
	p = d->free;
	if (p) {
		d->free = p->zone_device_data;
		d->in_use++;
	}
	pthread_mutex_unlock(&d->lock);
	if (p)
		assert_int_equal(zd_zone_device_page_init(p), 0);
	return p;
}

static unsigned long in_use(struct cdev *d)
{
	unsigned long n;

	pthread_mutex_lock(&d->lock);
	n = d->in_use;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* ---- migration, as a driver does it ------------------------------------- */

/* [addr, +n pages) to @d; returns the pages that moved. */
static unsigned long to_coh(struct zd_mm *mm, struct cdev *d, char *addr,
			    unsigned long n)
{
	unsigned long src[n], dst[n], moved = 0;
	struct zd_migrate_vma m = {
		.mm = mm, .src = src, .dst = dst, .npages = n,
		.start = (unsigned long)addr, .end = (unsigned long)addr + n * PG,
		.pgmap_owner = OWNER, .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM,
	};

	if (zd_migrate_vma_setup(&m))
		return 0;
	for (unsigned long i = 0; i < n; i++) {
		struct zd_page *p;
		void *from;

		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE) || !(p = cdev_alloc(d)))
			continue;
		from = zd_migrate_pfn_to_virt(src[i]);
		if (from)
			memcpy(zd_page_address(p), from, PG);
		else
			memset(zd_page_address(p), 0, PG);
		dst[i] = zd_migrate_pfn(zd_page_to_pfn(p)) | ZD_MIGRATE_PFN_WRITE;
	}
	zd_migrate_vma_pages(&m);
	for (unsigned long i = 0; i < n; i++)
		moved += (src[i] & ZD_MIGRATE_PFN_MIGRATE) != 0;
	zd_migrate_vma_finalize(&m);
	return moved;
}

/* [addr, +n pages) home from @owner's coherent pages. */
static unsigned long home(struct zd_mm *mm, char *addr, unsigned long n,
			  void *owner)
{
	unsigned long src[n], dst[n], moved = 0;
	void *stage[n];
	struct zd_migrate_vma m = {
		.mm = mm, .src = src, .dst = dst, .npages = n,
		.start = (unsigned long)addr, .end = (unsigned long)addr + n * PG,
		.pgmap_owner = owner, .flags = ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT,
	};

	if (zd_migrate_vma_setup(&m))
		return 0;
	for (unsigned long i = 0; i < n; i++) {
		struct zd_page *p = zd_migrate_pfn_to_page(src[i]);

		stage[i] = NULL;
		if (!p || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		assert_true(zd_is_device_coherent_page(p));
		stage[i] = zd_alloc_system_page();
		assert_non_null(stage[i]);
		memcpy(stage[i], zd_page_address(p), PG);
		dst[i] = zd_migrate_virt(stage[i]);
	}
	zd_migrate_vma_pages(&m);
	for (unsigned long i = 0; i < n; i++)
		moved += (src[i] & ZD_MIGRATE_PFN_MIGRATE) != 0;
	zd_migrate_vma_finalize(&m);
	for (unsigned long i = 0; i < n; i++)
		zd_free_system_page(stage[i]);
	return moved;
}

static void fill(char *p, unsigned long n, int seed)
{
	for (unsigned long i = 0; i < n * PG / sizeof(int); i++)
		((int *)p)[i] = seed + (int)i;
}

static bool check(const char *p, unsigned long n, int seed)
{
	for (unsigned long i = 0; i < n * PG / sizeof(int); i++)
		if (((const int *)p)[i] != seed + (int)i)
			return false;
	return true;
}

static bool zeros(const char *p, unsigned long n)
{
	for (unsigned long i = 0; i < n * PG; i++)
		if (p[i])
			return false;
	return true;
}

/* The permissions of the mapping at @addr in /proc/self/maps ("rw-s"),
 * "" if none. */
static const char *mapping_perms(const void *addr)
{
	static char out[8];
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	memset(out, 0, sizeof(out));
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi)
			snprintf(out, sizeof(out), "%s", perms);
	}
	if (f)
		fclose(f);
	return out;
}

/* 's' shared, 'p' private, 0 nothing mapped at @addr. */
static char mapping_kind(const void *addr)
{
	return mapping_perms(addr)[3];
}

struct fx {
	struct zd_mm *mm;
	char *buf;
	unsigned long n;
	unsigned long frees0;
};

static void fx_init(struct fx *f, unsigned long n)
{
	f->mm = zd_mm_create();
	assert_non_null(f->mm);
	f->n = n;
	f->buf = zd_mm_map(f->mm, n * PG);
	assert_non_null(f->buf);
	f->frees0 = atomic_load(&dev.frees);
}

static unsigned long frees(struct fx *f)
{
	return atomic_load(&dev.frees) - f->frees0;
}

static void fx_fini(struct fx *f)
{
	zd_mm_destroy(f->mm);
	if (f->buf)
		munmap(f->buf, f->n * PG);
	assert_int_equal(in_use(&dev), 0);
}

static int disarm(void **state)
{
	(void)state;
	zd_fault_inject_resume();
	zd_fault_inject_reset();
	return 0;
}

/* ---- the tests ---------------------------------------------------------- */

static void test_cpu_uses_coherent_pages_in_place(void **state)
{
	struct zd_mm_stats s0, s1;
	struct zd_page *page;
	struct fx f;

	(void)state;
	fx_init(&f, 32);
	fill(f.buf, f.n, 7);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_int_equal(zd_mm_device_pages(f.mm), f.n);
	assert_int_equal(in_use(&dev), f.n);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + 5 * PG, &page),
			 ZD_MM_PAGE_DEVICE);
	assert_true(zd_is_device_coherent_page(page));
	assert_int_equal(mapping_kind(f.buf), 's');
	zd_mm_get_stats(f.mm, &s0);
	/* the CPU reads and writes the device's memory: no fault */
	assert_true(check(f.buf, f.n, 7));
	f.buf[5 * PG] = 'C';
	assert_int_equal(((char *)zd_page_address(page))[0], 'C');
	((char *)zd_page_address(page))[1] = 'D';
	assert_int_equal(f.buf[5 * PG + 1], 'D');
	zd_mm_get_stats(f.mm, &s1);
	assert_int_equal(s1.faults, s0.faults);
	assert_int_equal(s1.device_faults, s0.device_faults);
	/* SELECT_SYSTEM does not take them again, nor does another owner,
	 * nor SELECT_DEVICE_PRIVATE */
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), 0);
	assert_int_equal(home(f.mm, f.buf, f.n, &other_tag), 0);
	{
		unsigned long src[1], dst[1];
		struct zd_migrate_vma m = {
			.mm = f.mm, .src = src, .dst = dst, .npages = 1,
			.start = (unsigned long)f.buf, .end = (unsigned long)f.buf + PG,
			.pgmap_owner = OWNER,
			.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		};

		assert_int_equal(zd_migrate_vma_setup(&m), 0);
		assert_int_equal(m.cpages, 0);
		zd_migrate_vma_pages(&m);
		zd_migrate_vma_finalize(&m);
	}
	/* home again: bytes, with the CPU's and the device's writes */
	assert_int_equal(home(f.mm, f.buf, f.n, OWNER), f.n);
	assert_int_equal(frees(&f), f.n);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + 5 * PG, &page),
			 ZD_MM_PAGE_HOST);
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_int_equal(f.buf[5 * PG], 'C');
	assert_int_equal(f.buf[5 * PG + 1], 'D');
	f.buf[5 * PG] = 0;
	f.buf[5 * PG + 1] = 0;
	((int *)(f.buf + 5 * PG))[0] = 7 + (int)(5 * PG / sizeof(int));
	assert_true(check(f.buf, f.n, 7));
	/* and there again, and back */
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_true(check(f.buf, f.n, 7));
	assert_int_equal(home(f.mm, f.buf, f.n, OWNER), f.n);
	assert_true(check(f.buf, f.n, 7));
	fx_fini(&f);
}

static void test_protections_are_kept(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 4);
	fill(f.buf, f.n, 17);
	assert_int_equal(mprotect(f.buf + PG, 2 * PG, PROT_READ), 0);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_string_equal(mapping_perms(f.buf), "rw-s");
	assert_string_equal(mapping_perms(f.buf + PG), "r--s");
	assert_string_equal(mapping_perms(f.buf + 2 * PG), "r--s");
	assert_string_equal(mapping_perms(f.buf + 3 * PG), "rw-s");
	assert_true(check(f.buf, f.n, 17));
	assert_int_equal(home(f.mm, f.buf, f.n, OWNER), f.n);
	assert_string_equal(mapping_perms(f.buf), "rw-p");
	assert_string_equal(mapping_perms(f.buf + PG), "r--p");
	assert_string_equal(mapping_perms(f.buf + 2 * PG), "r--p");
	assert_true(check(f.buf, f.n, 17));
	fx_fini(&f);
}

static void test_never_touched_pages_migrate_as_zeros(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 8);
	f.buf[0] = 1;
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_int_equal(f.buf[0], 1);
	assert_true(zeros(f.buf + PG, f.n - 1));
	fx_fini(&f);		/* destroy brings them home */
	assert_int_equal(frees(&f), f.n);
}

static bool set_seq(struct zd_mmu_interval_notifier *sub,
		    const struct zd_mmu_notifier_range *range, unsigned long seq)
{
	(void)range;
	zd_mmu_interval_set_seq(sub, seq);
	return true;
}

static void test_range_fault_reports_coherent_pages(void **state)
{
	static const struct zd_mmu_interval_notifier_ops ops = {
		.invalidate = set_seq,
	};
	struct zd_mmu_interval_notifier sub;
	unsigned long pfns[4];
	struct zd_hmm_range r = { 0 };
	struct zd_page *page;
	struct zd_mm_stats s0, s1;
	struct fx f;
	int err;

	(void)state;
	fx_init(&f, 4);
	fill(f.buf, f.n, 3);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, 2), 2);
	assert_int_equal(zd_mmu_interval_notifier_insert(&sub, f.mm,
			 (unsigned long)f.buf, f.n * PG, &ops), 0);
	r.notifier = &sub;
	r.start = (unsigned long)f.buf;
	r.end = r.start + f.n * PG;
	r.hmm_pfns = pfns;
	r.default_flags = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE;
	/* another device's view too: valid, never faulted */
	r.dev_private_owner = &other_tag;
	zd_mm_get_stats(f.mm, &s0);
	do {
		r.notifier_seq = zd_mmu_interval_read_begin(&sub);
		err = zd_hmm_range_fault(&r);
	} while (err == -EBUSY);
	assert_int_equal(err, 0);
	zd_mm_get_stats(f.mm, &s1);
	assert_int_equal(s1.device_faults, s0.device_faults);
	for (int i = 0; i < 2; i++) {
		assert_true(pfns[i] & ZD_HMM_PFN_VALID);
		assert_true(pfns[i] & ZD_HMM_PFN_WRITE);
		assert_false(pfns[i] & ZD_HMM_PFN_SYSTEM);
		page = zd_hmm_pfn_to_page(pfns[i]);
		assert_non_null(page);
		assert_true(zd_is_device_coherent_page(page));
		assert_int_equal(memcmp(zd_page_address(page), f.buf + i * PG, PG), 0);
	}
	assert_true(pfns[2] & ZD_HMM_PFN_SYSTEM);
	/* as the CPU may use it: read-only now */
	assert_int_equal(mprotect(f.buf, PG, PROT_READ), 0);
	r.end = r.start + PG;
	r.notifier_seq = zd_mmu_interval_read_begin(&sub);
	assert_int_equal(zd_hmm_range_fault(&r), -EPERM);
	r.default_flags = ZD_HMM_PFN_REQ_FAULT;
	do {
		r.notifier_seq = zd_mmu_interval_read_begin(&sub);
		err = zd_hmm_range_fault(&r);
	} while (err == -EBUSY);
	assert_int_equal(err, 0);
	assert_true(pfns[0] & ZD_HMM_PFN_VALID);
	assert_false(pfns[0] & ZD_HMM_PFN_WRITE);
	assert_int_equal(mprotect(f.buf, PG, PROT_READ | PROT_WRITE), 0);
	zd_mmu_interval_notifier_remove(&sub);
	fx_fini(&f);
}

static void test_munmap_frees_coherent_pages(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 16);
	fill(f.buf, f.n, 1);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_int_equal(munmap(f.buf + 4 * PG, 8 * PG), 0);
	/* the count waits for the unmap's handling, the frees with it */
	assert_int_equal(zd_mm_device_pages(f.mm), 8);
	assert_int_equal(frees(&f), 8);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + 4 * PG, NULL),
			 -EFAULT);
	assert_true(check(f.buf, 4, 1));
	assert_int_equal(munmap(f.buf, f.n * PG), 0);
	f.buf = NULL;
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	assert_int_equal(frees(&f), f.n);
	fx_fini(&f);
}

static void test_dontneed_reads_zeros_not_the_device(void **state)
{
	struct zd_page *page, *again;
	struct fx f, g;

	(void)state;
	fx_init(&f, 4);
	fill(f.buf, f.n, 11);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + PG, &page),
			 ZD_MM_PAGE_DEVICE);
	assert_int_equal(madvise(f.buf + PG, PG, MADV_DONTNEED), 0);
	assert_int_equal(zd_mm_device_pages(f.mm), f.n - 1);
	assert_int_equal(frees(&f), 1);
	assert_true(zeros(f.buf + PG, 1));
	assert_int_equal(mapping_kind(f.buf + PG), 'p');
	/* the page goes to someone else: the old address does not reach it */
	fx_init(&g, 1);
	g.frees0 = f.frees0;
	fill(g.buf, 1, 99);
	assert_int_equal(to_coh(g.mm, &dev, g.buf, 1), 1);
	assert_int_equal(zd_mm_lookup(g.mm, (unsigned long)g.buf, &again),
			 ZD_MM_PAGE_DEVICE);
	assert_ptr_equal(again, page);	/* the free list's top */
	f.buf[PG] = 'x';
	assert_true(check(g.buf, 1, 99));
	assert_true(check(zd_page_address(page), 1, 99));
	zd_mm_destroy(g.mm);
	munmap(g.buf, PG);
	assert_true(check(f.buf, 1, 11));
	assert_true(check(f.buf + 2 * PG, 2, 11 + (int)(2 * PG / sizeof(int))));
	fx_fini(&f);
}

/* One page: pages whose device pages do not follow each other are
 * separate mappings, and mremap() moves one mapping at a time. */
static void test_mremap_moves_coherent_pages(void **state)
{
	struct zd_page *page;
	char *to;
	struct fx f;

	(void)state;
	fx_init(&f, 1);
	fill(f.buf, f.n, 5);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	to = mmap(NULL, f.n * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(to, MAP_FAILED);
	assert_ptr_equal(mremap(f.buf, f.n * PG, f.n * PG,
				MREMAP_MAYMOVE | MREMAP_FIXED, to), to);
	f.buf = to;
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)to, &page),
			 ZD_MM_PAGE_DEVICE);
	assert_int_equal(page->index, (unsigned long)to >> zd_page_shift);
	assert_true(check(to, f.n, 5));
	assert_int_equal(home(f.mm, to, f.n, OWNER), f.n);
	assert_true(check(to, f.n, 5));
	assert_int_equal(frees(&f), f.n);
	fx_fini(&f);
}

static void test_fork_brings_coherent_pages_home(void **state)
{
	int status;
	pid_t pid;
	struct fx f;

	(void)state;
	fx_init(&f, 8);
	fill(f.buf, f.n, 21);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int ok = check(f.buf, f.n, 21);

		f.buf[0] = 'k';	/* private: the parent does not see it */
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	assert_int_equal(frees(&f), f.n);
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_true(check(f.buf, f.n, 21));
	fx_fini(&f);
}

static void test_unregister_and_destroy_bring_them_home(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 8);
	fill(f.buf, f.n, 31);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_int_equal(zd_mm_unregister(f.mm, f.buf, f.n * PG), 0);
	assert_int_equal(frees(&f), f.n);
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_true(check(f.buf, f.n, 31));
	/* pages that came home are private memory again, in several
	 * mappings (an edge may have merged with a neighbour): the range
	 * registers again all the same */
	assert_int_equal(zd_mm_register(f.mm, f.buf, f.n * PG), 0);
	fill(f.buf, f.n, 32);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	zd_mm_destroy(f.mm);
	assert_int_equal(frees(&f), 2 * f.n);
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_true(check(f.buf, f.n, 32));
	munmap(f.buf, f.n * PG);
	assert_int_equal(in_use(&dev), 0);
}

static void test_unplug_evicts_by_pfn(void **state)
{
	unsigned long first = (unsigned long)(dev.res->start / PG);
	unsigned long *src = calloc(DEV_PAGES, sizeof(*src));
	unsigned long *dst = calloc(DEV_PAGES, sizeof(*dst));
	void **stage = calloc(DEV_PAGES, sizeof(*stage));
	unsigned long n = 0;
	struct fx f;

	(void)state;
	fx_init(&f, 8);
	fill(f.buf, f.n, 41);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_int_equal(zd_migrate_device_range(src, first, DEV_PAGES), 0);
	for (unsigned long i = 0; i < DEV_PAGES; i++) {
		struct zd_page *p = zd_migrate_pfn_to_page(src[i]);

		if (!p || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		n++;
		stage[i] = zd_alloc_system_page();
		memcpy(stage[i], zd_page_address(p), PG);
		dst[i] = zd_migrate_virt(stage[i]);
	}
	assert_int_equal(n, f.n);
	zd_migrate_device_pages(src, dst, DEV_PAGES);
	zd_migrate_device_finalize(src, dst, DEV_PAGES);
	for (unsigned long i = 0; i < DEV_PAGES; i++)
		zd_free_system_page(stage[i]);
	assert_int_equal(frees(&f), f.n);
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_true(check(f.buf, f.n, 41));
	free(src);
	free(dst);
	free(stage);
	fx_fini(&f);
}

/* A page that is not taken home stays mapped, bytes and all. */
static void test_coherent_pages_left_behind_stay(void **state)
{
	unsigned long src[4], dst[4];
	struct fx f;
	struct zd_migrate_vma m = { .npages = 4, .src = src, .dst = dst,
		.pgmap_owner = OWNER, .flags = ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT };

	(void)state;
	fx_init(&f, 4);
	fill(f.buf, f.n, 51);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	m.mm = f.mm;
	m.start = (unsigned long)f.buf;
	m.end = m.start + 4 * PG;
	assert_int_equal(zd_migrate_vma_setup(&m), 0);
	assert_int_equal(m.cpages, 4);
	/* the driver takes none */
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	assert_int_equal(frees(&f), 0);
	assert_int_equal(zd_mm_device_pages(f.mm), 4);
	assert_int_equal(mapping_kind(f.buf), 's');
	assert_true(check(f.buf, f.n, 51));
	fx_fini(&f);
}

struct mig {
	struct fx *f;
	bool to_device;
	unsigned long moved;
	atomic_bool done;
};

static void *migrate_thread(void *arg)
{
	struct mig *g = arg;

	g->moved = g->to_device ? to_coh(g->f->mm, &dev, g->f->buf, g->f->n) :
		   home(g->f->mm, g->f->buf, g->f->n, OWNER);
	atomic_store(&g->done, true);
	return NULL;
}

/* The application unmaps the range while a migration, held at @point,
 * has it: nothing stays mapped there, and every page is freed. */
static void munmap_under(const char *point, bool to_device)
{
	struct mig g = { .to_device = to_device };
	pthread_t t;
	struct fx f;

	fx_init(&f, 8);
	fill(f.buf, f.n, 61);
	if (!to_device)
		assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	g.f = &f;
	assert_int_equal(zd_fault_inject_pause(point, 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, migrate_thread, &g), 0);
	assert_true(wait_for(zd_fault_inject_calls() >= 1));
	assert_int_equal(munmap(f.buf, f.n * PG), 0);
	/* handled, if it was registered (the fault thread is done with its
	 * points before they are reset) */
	(void)zd_mm_device_pages(f.mm);
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	/* no device memory left mapped there (the hole itself may be
	 * another thread's mapping by now: a sanitizer's allocator) */
	for (unsigned long i = 0; i < f.n; i++)
		assert_int_not_equal(mapping_kind(f.buf + i * PG), 's');
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	assert_int_equal(in_use(&dev), 0);
	/* and the mm goes on */
	f.buf = zd_mm_map(f.mm, f.n * PG);
	assert_non_null(f.buf);
	fill(f.buf, f.n, 62);
	assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), f.n);
	assert_true(check(f.buf, f.n, 62));
	fx_fini(&f);
}

static void test_munmap_before_coherent_install(void **state)
{
	(void)state;
	assert_no_warn(munmap_under("hmm.migrate.pages", true));
}

static void test_munmap_after_coherent_mapping(void **state)
{
	(void)state;
	assert_no_warn(munmap_under("hmm.coherent.mapped", true));
}

static void test_munmap_while_coming_home(void **state)
{
	(void)state;
	assert_no_warn(munmap_under("hmm.migrate.pages", false));
}

static void test_munmap_while_collected(void **state)
{
	(void)state;
	assert_no_warn(munmap_under("hmm.migrate.setup", false));
}

static void test_munmap_after_private_memory_moved_in(void **state)
{
	(void)state;
	assert_no_warn(munmap_under("hmm.coherent.mapped", false));
}

/*
 * The fault thread reads the unmap event of the library's own mapping
 * and is held before handling it, past the mmap()'s return: the event
 * must still be taken for the library's, not the application's munmap.
 */
static void test_own_unmap_event_handled_late(void **state)
{
	struct mig g = { .to_device = true };
	pthread_t t;
	struct fx f;

	(void)state;
	fx_init(&f, 4);
	fill(f.buf, f.n, 63);
	g.f = &f;
	assert_int_equal(zd_fault_inject_pause("hmm.event", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, migrate_thread, &g), 0);
	assert_true(wait_for(zd_fault_inject_calls() >= 1));
	test_sleep_us(50000);	/* the mapping's mmap() has returned */
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(g.moved, f.n);
	assert_int_equal(zd_mm_device_pages(f.mm), f.n);
	assert_int_equal(mapping_kind(f.buf), 's');
	assert_true(check(f.buf, f.n, 63));
	fx_fini(&f);
}

/* ---- CPU traffic against migrations both ways ----------------------------- */

struct churn {
	struct fx *f;
	atomic_bool stop;
	unsigned long rounds, writes;
	bool bad;
};

static void *churn_migrate(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		to_coh(c->f->mm, &dev, c->f->buf, c->f->n);
		home(c->f->mm, c->f->buf, c->f->n, OWNER);
		c->rounds++;
	}
	return NULL;
}

/* Each page holds a counter the CPU bumps: whether it is in host memory,
 * on the device or on its way, no write may be lost. */
static void test_cpu_writes_survive_migrations(void **state)
{
	struct churn c = { 0 };
	struct timespec t0, t;
	pthread_t mt;
	struct fx f;

	(void)state;
#ifdef __SANITIZE_THREAD__
	/* the CPU's writes wait in page faults (write-protect) and meet
	 * pages the library mapped: orderings the kernel makes, TSan sees
	 * none of them */
	skip_msg("ThreadSanitizer cannot see the ordering page faults give");
#endif
	fx_init(&f, 16);
	memset(f.buf, 0, f.n * PG);
	c.f = &f;
	assert_int_equal(pthread_create(&mt, NULL, churn_migrate, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (unsigned long i = 0; i < f.n && !c.bad; i++) {
			volatile unsigned long *p = (unsigned long *)(f.buf + i * PG);

			c.bad = *p != c.writes / f.n + (i < c.writes % f.n);
			if (c.bad)
				print_message("page %lu: %lu, expected %lu (round trip %lu)\n",
					      i, *p, c.writes / f.n, c.rounds);
			*p += 1;
			c.writes++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (!c.bad && (t.tv_sec - t0.tv_sec) * 1000 +
		 (t.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
	atomic_store(&c.stop, true);
	assert_int_equal(pthread_join(mt, NULL), 0);
	assert_false(c.bad);
	print_message("%lu CPU writes, %lu round trips\n", c.writes, c.rounds);
	assert_true(c.rounds > 0);
	home(f.mm, f.buf, f.n, OWNER);
	for (unsigned long i = 0; i < f.n; i++)
		assert_int_equal(*(unsigned long *)(f.buf + i * PG),
				 c.writes / f.n + (i < c.writes % f.n));
	fx_fini(&f);
}

static void test_pgmap_without_file_is_refused(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 2);
	fill(f.buf, f.n, 71);
	assert_warns_n(2, "no ZD_BACKING_FD backing",
		       assert_int_equal(to_coh(f.mm, &anon_dev, f.buf, f.n), 0));
	assert_int_equal(in_use(&anon_dev), 0);
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_true(check(f.buf, f.n, 71));
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL),
			 ZD_MM_PAGE_HOST);
	fx_fini(&f);
}

static void test_failed_mapping_keeps_the_bytes(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 2);
	fill(f.buf, f.n, 81);
	zd_fault_inject_nth(1, "hmm.coherent.map");
	assert_warns_n(1, "cannot map device-coherent page",
		       assert_int_equal(to_coh(f.mm, &dev, f.buf, 1), 0));
	zd_fault_inject_reset();
	assert_int_equal(frees(&f), 1);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL),
			 ZD_MM_PAGE_HOST);
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_true(check(f.buf, f.n, 81));
	fx_fini(&f);
}

/* As on a kernel before 5.19: no coherent dmirror, no coherent page
 * installed. */
static void test_kernel_without_shared_write_protect(void **state)
{
	struct fx f;

	(void)state;
	zd_fault_inject_site("hmm.coherent.probe");
	errno = 0;
	assert_null(dmirror_create_coherent(dm_ids++, ZD_SECTION_SIZE));
	assert_int_equal(errno, EOPNOTSUPP);
	fx_init(&f, 2);
	fill(f.buf, f.n, 19);
	assert_warns_n(2, "this kernel cannot map it",
		       assert_int_equal(to_coh(f.mm, &dev, f.buf, f.n), 0));
	zd_fault_inject_reset();
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_true(check(f.buf, f.n, 19));
	fx_fini(&f);
}

static void test_bad_device_range(void **state)
{
	unsigned long src[1] = { 0 };

	(void)state;
	/* a pfn of no device page, and a coherent page not mapped: 0 */
	assert_warns("has no struct page",
		     assert_int_equal(zd_migrate_device_range(src, 1, 1), -EINVAL));
	assert_int_equal(zd_migrate_device_range(src,
			 (unsigned long)(dev.res->start / PG) + DEV_PAGES - 1, 1), 0);
	assert_int_equal(src[0], 0);
}

/* ---- dmirror's coherent mode -------------------------------------------- */

static void test_dmirror_coherent(void **state)
{
	struct dmirror *dm = dmirror_create_coherent(dm_ids++, ZD_SECTION_SIZE);
	struct dmirror *other = dmirror_create_coherent(dm_ids++, ZD_SECTION_SIZE);
	struct dmirror_stats st;
	struct zd_mm_stats s0, s1;
	char *bounce = malloc(4 * PG);
	uint8_t perm[4];
	struct fx f;
	struct dmirror_cmd c;

	(void)state;
	assert_non_null(dm);
	assert_non_null(other);
	fx_init(&f, 4);
	fill(f.buf, f.n, 91);
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf,
				  .npages = 3, .ptr = bounce };
	assert_int_equal(dmirror_migrate_to_device(dm, &c), 0);
	assert_int_equal(c.cpages, 3);
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf + 3 * PG,
				  .npages = 1, .ptr = bounce };
	assert_int_equal(dmirror_migrate_to_device(other, &c), 0);
	assert_int_equal(mapping_kind(f.buf), 's');
	zd_mm_get_stats(f.mm, &s0);
	assert_true(check(f.buf, f.n, 91));
	/* the device writes its memory, the CPU sees it in place */
	memset(bounce, 'w', PG);
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf + PG,
				  .npages = 1, .ptr = bounce };
	assert_int_equal(dmirror_write(dm, &c), 0);
	assert_int_equal(f.buf[PG + 7], 'w');
	f.buf[PG + 8] = 'c';
	c.ptr = bounce;
	assert_int_equal(dmirror_read(dm, &c), 0);
	assert_int_equal(bounce[8], 'c');
	zd_mm_get_stats(f.mm, &s1);
	assert_int_equal(s1.faults, s0.faults);
	dmirror_get_stats(dm, &st);
	assert_int_equal(st.migrate_to_ram_calls, 0);
	/* another device reads a coherent page too */
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf,
				  .npages = 1, .ptr = bounce };
	assert_int_equal(dmirror_read(other, &c), 0);
	assert_true(check(bounce, 1, 91));
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf,
				  .npages = 4 };
	assert_int_equal(dmirror_snapshot(dm, &c, perm), 0);
	assert_int_equal(perm[0], DMIRROR_PROT_DEV_COHERENT_LOCAL | DMIRROR_PROT_WRITE);
	assert_int_equal(perm[3], DMIRROR_PROT_DEV_COHERENT_REMOTE | DMIRROR_PROT_WRITE);
	/* home: one page asked for, the others by release and unbind */
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf,
				  .npages = 1 };
	assert_int_equal(dmirror_migrate_to_system(dm, &c), 0);
	assert_int_equal(c.cpages, 1);
	assert_int_equal(mapping_kind(f.buf), 'p');
	assert_int_equal(dmirror_release(dm), 0);
	assert_int_equal(mapping_kind(f.buf + PG), 'p');
	assert_int_equal(f.buf[PG + 7], 'w');
	assert_int_equal(f.buf[PG + 8], 'c');
	assert_int_equal(dmirror_unbind(other), 0);
	assert_int_equal(mapping_kind(f.buf + 3 * PG), 'p');
	assert_true(check(f.buf + 3 * PG, 1, 91 + (int)(3 * PG / sizeof(int))));
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	/* and again, then the mm goes with pages out */
	assert_int_equal(dmirror_rebind(other), 0);
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf,
				  .npages = 4, .ptr = bounce };
	assert_int_equal(dmirror_migrate_to_device(other, &c), 0);
	fx_fini(&f);
	dmirror_get_stats(other, &st);
	assert_int_equal(st.pages_in_use, 0);
	dmirror_destroy(dm);
	dmirror_destroy(other);
	free(bounce);
}

/* The minor faults a first read of @n pages of host memory, populated
 * (as a migration leaves a page), takes: the sanitizers' shadow. */
static long faults_reading_fresh_memory(unsigned long n)
{
	char *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rusage r0, r1;

	assert_true(p != MAP_FAILED);
	assert_int_equal(madvise(p, n * PG, 23 /* MADV_POPULATE_WRITE */), 0);
	getrusage(RUSAGE_SELF, &r0);
	assert_true(zeros(p, n));
	getrusage(RUSAGE_SELF, &r1);
	munmap(p, n * PG);
	return r1.ru_minflt - r0.ru_minflt;
}

/* Pages come home from coherent memory run by run, each run its own
 * mapping: the range is then several mappings, which later migrations
 * home must cross (each 2 MiB batch of a device-private dmirror got only
 * its last mapping's pages home).  And a CPU read of coherent pages just
 * migrated takes no fault: they are mapped already. */
static void test_private_round_trip_after_coherent(void **state)
{
	struct dmirror *coh = dmirror_create_coherent(dm_ids++, ZD_SECTION_SIZE);
	struct dmirror *priv = dmirror_create(dm_ids++, ZD_SECTION_SIZE);
	const unsigned long n = 4096;	/* 16 MiB: several batches */
	struct zd_mm_stats s0, s1;
	struct rusage r0, r1;
	struct dmirror_cmd c;
	struct fx f;

	(void)state;
	assert_non_null(coh);
	assert_non_null(priv);
	fx_init(&f, n);
	fill(f.buf, n, 29);
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf, .npages = n };
	assert_int_equal(dmirror_migrate_to_device(coh, &c), 0);
	zd_mm_get_stats(f.mm, &s0);
	getrusage(RUSAGE_SELF, &r0);
	assert_true(check(f.buf, n, 29));
	getrusage(RUSAGE_SELF, &r1);
	zd_mm_get_stats(f.mm, &s1);
	assert_int_equal(s1.faults, s0.faults);
	/* not one kernel fault per page either: no more than reading host
	 * memory mapped just as freshly takes (a sanitizer's shadow memory
	 * faults in for both) */
	assert_true(r1.ru_minflt - r0.ru_minflt <
		    faults_reading_fresh_memory(n) + (long)n / 2);
	c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf, .npages = n };
	assert_int_equal(dmirror_migrate_to_system(coh, &c), 0);
	assert_int_equal(c.cpages, n);
	for (int round = 0; round < 2; round++) {
		c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf,
					  .npages = n };
		assert_int_equal(dmirror_migrate_to_device(priv, &c), 0);
		assert_int_equal(c.cpages, n);
		c = (struct dmirror_cmd){ .mm = f.mm, .addr = (unsigned long)f.buf,
					  .npages = n };
		assert_int_equal(dmirror_migrate_to_system(priv, &c), 0);
		assert_int_equal(c.cpages, n);
		assert_int_equal(zd_mm_device_pages(f.mm), 0);
		assert_true(check(f.buf, n, 29));
	}
	fx_fini(&f);
	dmirror_destroy(coh);
	dmirror_destroy(priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_uses_coherent_pages_in_place),
		cmocka_unit_test(test_never_touched_pages_migrate_as_zeros),
		cmocka_unit_test(test_protections_are_kept),
		cmocka_unit_test(test_range_fault_reports_coherent_pages),
		cmocka_unit_test(test_munmap_frees_coherent_pages),
		cmocka_unit_test(test_dontneed_reads_zeros_not_the_device),
		cmocka_unit_test(test_mremap_moves_coherent_pages),
		cmocka_unit_test(test_fork_brings_coherent_pages_home),
		cmocka_unit_test(test_unregister_and_destroy_bring_them_home),
		cmocka_unit_test(test_unplug_evicts_by_pfn),
		cmocka_unit_test(test_coherent_pages_left_behind_stay),
		cmocka_unit_test_teardown(test_munmap_before_coherent_install, disarm),
		cmocka_unit_test_teardown(test_munmap_after_coherent_mapping, disarm),
		cmocka_unit_test_teardown(test_munmap_while_coming_home, disarm),
		cmocka_unit_test_teardown(test_munmap_while_collected, disarm),
		cmocka_unit_test_teardown(test_munmap_after_private_memory_moved_in, disarm),
		cmocka_unit_test_teardown(test_own_unmap_event_handled_late, disarm),
		cmocka_unit_test(test_cpu_writes_survive_migrations),
		cmocka_unit_test(test_pgmap_without_file_is_refused),
		cmocka_unit_test_teardown(test_failed_mapping_keeps_the_bytes, disarm),
		cmocka_unit_test(test_bad_device_range),
		cmocka_unit_test_teardown(test_kernel_without_shared_write_protect, disarm),
		cmocka_unit_test(test_dmirror_coherent),
		cmocka_unit_test(test_private_round_trip_after_coherent),
	};

	test_capture_warnings();
	test_require_userfaultfd();
	if (zd_hmm_device_coherent_supported()) {
		printf("SKIP: no DEVICE_COHERENT memory for HMM here (%s): it "
		       "needs userfaultfd write-protect of shared memory (Linux "
		       "5.19)\n", strerror(-zd_hmm_device_coherent_supported()));
		return 77;
	}
	PG = zd_page_size();
	if (cdev_init(&dev, true) || cdev_init(&anon_dev, false)) {
		fprintf(stderr, "cannot set up the coherent devices: %s\n",
			strerror(errno));
		return 1;
	}
	return zd_run_tests(tests);
}
