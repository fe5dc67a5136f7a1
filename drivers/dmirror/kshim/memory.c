// SPDX-License-Identifier: MIT
/*
 * What the CPU sees of the application's memory (/proc/self/maps and
 * /proc/self/pagemap, as the kernel's driver sees vmas and page tables),
 * and bringing it under zonedev's management.
 *
 * The test maps its memory itself, with no zonedev call.  Private
 * anonymous memory that a command touches is registered with zonedev
 * (zd_mm_register) the first time, a run of pages at a time: then device
 * reads and writes, migration and snapshots go through zonedev as a
 * kernel driver's go through the kernel's mm.  zonedev manages nothing
 * else (userfaultfd and page moves need private anonymous memory), so:
 *  - shared memory (anonymous or file) and private file pages are read
 *    and written by the CPU on the device's behalf (process_vm_readv/
 *    writev, which honour the protections and fault pages in as the
 *    kernel's hmm_range_fault would), and snapshotted from pagemap;
 *    nothing of it migrates, as in the kernel for shared memory;
 *  - a private file mapping whose pages are all private copies already
 *    (written by the application) is anonymous memory in all but name:
 *    for a migration it is replaced by anonymous memory with the same
 *    bytes and protections, and managed from then on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "kshim.h"

#define PAGE		((uintptr_t)zd_page_size())

struct vma {
	uintptr_t lo, hi;
	char perms[8];
	unsigned long ino;
	char path[64];
};

/* The mappings overlapping [start, end), in order; count or -errno. */
static int read_vmas(uintptr_t start, uintptr_t end, struct vma **out)
{
	FILE *f = fopen("/proc/self/maps", "re");
	struct vma *v = NULL;
	size_t n = 0, cap = 0;
	char line[512];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct vma x = { 0 };

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %63s", &x.lo, &x.hi,
			   x.perms, &x.ino, x.path) < 4)
			continue;
		if (x.hi <= start)
			continue;
		if (x.lo >= end)
			break;
		if (n == cap) {
			struct vma *nv = realloc(v, (cap = cap ? 2 * cap : 8) * sizeof(*v));

			if (!nv) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = x;
	}
	fclose(f);
	*out = v;
	return (int)n;
}

static bool vma_anon(const struct vma *v)
{
	return v->perms[3] == 'p' && v->ino == 0 &&
	       (!v->path[0] || !strcmp(v->path, "[heap]"));
}

static bool seg_alike(const struct kshim_seg *a, const struct kshim_seg *b)
{
	return a->map_shift == b->map_shift && a->mapped == b->mapped &&
	       a->readable == b->readable &&
	       a->writable == b->writable && a->shared == b->shared &&
	       a->anon == b->anon && a->managed == b->managed;
}

static int seg_add(struct kshim_seg **segs, size_t *n, size_t *cap,
		   struct kshim_seg s)
{
	if (s.start >= s.end)
		return 0;
	if (*n && (*segs)[*n - 1].end == s.start && seg_alike(&(*segs)[*n - 1], &s)) {
		(*segs)[*n - 1].end = s.end;
		return 0;
	}
	if (*n == *cap) {
		struct kshim_seg *ns = realloc(*segs, (*cap = *cap ? 2 * *cap : 8) *
					       sizeof(**segs));
		if (!ns)
			return -ENOMEM;
		*segs = ns;
	}
	(*segs)[(*n)++] = s;
	return 0;
}

static bool managed(struct zd_mm *mm, uintptr_t a)
{
	return mm && zd_mm_lookup(mm, a, NULL) >= 0;
}

/* Runs of [lo, hi) by whether zonedev manages them, registering the
 * unmanaged ones first if @manage. */
static int anon_segments(struct zd_mm *mm, struct kshim_seg base, bool manage,
			 struct kshim_seg **segs, size_t *n, size_t *cap)
{
	int err = 0;

	for (uintptr_t a = base.start, b; a < base.end && !err; a = b) {
		bool m = managed(mm, a);
		struct kshim_seg s = base;

		for (b = a + PAGE; b < base.end && managed(mm, b) == m; b += PAGE)
			;
		/* a munmap() racing this fails it: the pages stay
		 * unmanaged, and the command sees the hole */
		if (!m && manage && mm && zd_mm_register(mm, (void *)a, b - a) == 0)
			m = true;
		s.start = a;
		s.end = b;
		s.managed = m;
		err = seg_add(segs, n, cap, s);
	}
	return err;
}

/* The CPU's page size in the mapping at @lo, as a shift (smaps'
 * KernelPageSize: a hugetlbfs mapping's huge page size). */
static unsigned int map_shift(uintptr_t lo)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	unsigned int shift = zd_page_shift;
	bool in = false;
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b, kb;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2)
			in = a == lo;
		else if (in && sscanf(line, "KernelPageSize: %lu kB", &kb) == 1) {
			shift = 10 + (unsigned int)__builtin_ctzl(kb);
			break;
		}
	}
	if (f)
		fclose(f);
	return shift;
}

int kshim_segments(struct zd_mm *mm, uintptr_t start, uintptr_t end,
		   bool manage, struct kshim_seg **segs)
{
	struct vma *v = NULL;
	struct kshim_seg *out = NULL;
	size_t n = 0, cap = 0;
	int nv = read_vmas(start, end, &v), err = 0;
	uintptr_t a = start;

	if (nv < 0)
		return nv;
	for (int i = 0; i <= nv && !err; i++) {
		uintptr_t lo = i < nv ? (v[i].lo > start ? v[i].lo : start) : end;
		uintptr_t hi = i < nv ? (v[i].hi < end ? v[i].hi : end) : end;
		struct kshim_seg s = { .start = a, .end = lo, .map_shift = zd_page_shift };

		err = seg_add(&out, &n, &cap, s);	/* a hole before it */
		if (err || i == nv)
			break;
		s = (struct kshim_seg){
			.start = lo, .end = hi, .mapped = true,
			.readable = v[i].perms[0] == 'r',
			.writable = v[i].perms[1] == 'w',
			.shared = v[i].perms[3] == 's',
			.anon = vma_anon(&v[i]),
			.map_shift = zd_page_shift,
		};
		/* a coherent device's memory, mapped by zonedev where pages
		 * of managed (private anonymous) memory migrated to it */
		if (!s.anon && managed(mm, lo)) {
			s.anon = true;
			s.shared = false;
		}
		if (!s.anon)
			s.map_shift = map_shift(v[i].lo);
		if (s.anon && s.readable)
			err = anon_segments(mm, s, manage, &out, &n, &cap);
		else
			err = seg_add(&out, &n, &cap, s);
		a = hi;
	}
	free(v);
	if (err) {
		free(out);
		return err;
	}
	*segs = out;
	return (int)n;
}

int kshim_pagemap(uintptr_t start, unsigned long n, uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t len = n * sizeof(*out);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = pread(fd, out, len, (off_t)(start / PAGE * sizeof(*out)));
	close(fd);
	return r == (ssize_t)len ? 0 : -EIO;
}

int kshim_file_private_to_anon(uintptr_t start, uintptr_t end)
{
	struct vma *v = NULL;
	int nv = read_vmas(start, end, &v), err = 0;

	if (nv < 0)
		return nv;
	for (int i = 0; i < nv && !err; i++) {
		size_t len = v[i].hi - v[i].lo, np = len / PAGE;
		int prot = (v[i].perms[0] == 'r' ? PROT_READ : 0) |
			   (v[i].perms[1] == 'w' ? PROT_WRITE : 0);
		uint64_t *pm;
		void *tmp;

		if (v[i].perms[3] != 'p' || v[i].ino == 0)
			continue;
		pm = malloc(np * sizeof(*pm));
		if (!pm || (err = kshim_pagemap(v[i].lo, np, pm))) {
			free(pm);
			err = err ? err : -ENOMEM;
			break;
		}
		/* a page still the file's would lose its tie to the file */
		for (size_t k = 0; k < np; k++)
			if (!(pm[k] & KSHIM_PM_PRESENT) || (pm[k] & KSHIM_PM_FILE))
				err = -ENOENT;
		free(pm);
		if (err)
			break;
		tmp = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (tmp == MAP_FAILED) {
			err = -ENOMEM;
			break;
		}
		memcpy(tmp, (void *)v[i].lo, len);
		if (mmap((void *)v[i].lo, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			err = -errno;
		else {
			memcpy((void *)v[i].lo, tmp, len);
			mprotect((void *)v[i].lo, len, prot);
		}
		munmap(tmp, len);
	}
	free(v);
	return err;
}

int kshim_cpu_copy(uintptr_t addr, void *buf, size_t len, bool write)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t r = write ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
			  : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

	return r == (ssize_t)len ? 0 : -EFAULT;
}

/*
 * The zero page, as the kernel's driver knows it (is_zero_pfn): what a
 * read fault of never-written private anonymous memory maps.  Found by
 * making one; its pfn is hidden without CAP_SYS_ADMIN (pfn 0), and some
 * kernels have none at all (a virtual machine's pvm_no_zero_page=1, or
 * s390 guests): a read fault then gets a page of its own, exclusive, as
 * the pagemap says.
 */
static struct {
	bool exists;		/* read faults map a shared zero page */
	uint64_t pfn;		/* its pfn, 0 if hidden */
} zero;

static void find_zero_page(void)
{
	volatile char *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	uint64_t pm = 0;

	if (p == MAP_FAILED)
		return;
	(void)p[0];
	if (!kshim_pagemap((uintptr_t)p, 1, &pm) && (pm & KSHIM_PM_PRESENT) &&
	    !(pm & KSHIM_PM_EXCLUSIVE)) {
		zero.exists = true;
		zero.pfn = pm & KSHIM_PM_PFN;
	}
	munmap((void *)p, PAGE);
	if (!zero.exists)
		kshim_note("this kernel maps no zero page (read faults of anonymous "
			   "memory get pages of their own): SNAPSHOT reports none, "
			   "as the kernel's driver would here");
}

bool kshim_is_zero_page(uint64_t pm, bool private_anon)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, find_zero_page);
	if (!zero.exists || !(pm & KSHIM_PM_PRESENT))
		return false;
	if (zero.pfn)
		return (pm & KSHIM_PM_PFN) == zero.pfn;
	/* pfns hidden: in private anonymous memory, a present page that is
	 * neither the mapping's own nor a file's is the zero page, unless a
	 * fork shares it (then it is reported as the zero page too) */
	return private_anon && !(pm & (KSHIM_PM_EXCLUSIVE | KSHIM_PM_FILE));
}
