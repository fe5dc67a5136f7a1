// SPDX-License-Identifier: MIT
/*
 * DEVICE_COHERENT pages in managed memory.  Coherent device memory is
 * memory the CPU reaches in place; in a process that is a shared mapping
 * of the file behind the pgmap's direct map (a memfd here, a device's
 * BAR or CXL window elsewhere).  A page that migrates to a coherent page
 * gets that file's page mapped at its address (MAP_SHARED|MAP_FIXED), so
 * the CPU reads and writes the device's bytes without a fault.  A page
 * leaving one is write-protected (shared memory: Linux 5.19) while its
 * driver copies it, and private anonymous memory already holding the
 * bytes then moves into its place (mremap).  Either mapping is
 * registered with the mm's userfaultfd, so that the application's
 * munmap, MADV_DONTNEED and mremap still reach zonedev.
 *
 * Replacing a registered mapping makes the kernel send an unmap event and
 * wait for it to be read.  Off the fault thread the event is announced
 * (struct coh_expect) and the fault thread ignores it; the fault thread
 * itself, which cannot wait for itself, unregisters the pages first, so
 * that no event comes.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "../os/os.h"
#include "fault.h"
#include "internal.h"
#include "log.h"
#include "notifier.h"

/* Ask the kernel: a page of a memfd, mapped shared, registered for
 * write-protect faults with a userfaultfd of its own. */
static int probe(void)
{
	uint64_t got;
	int uffd = zd_os_uffd_open(0, 0, &got), fd, err;
	void *p;

	if (uffd < 0)
		return uffd;
	fd = zd_os_memfd("zonedev-coherent-probe", page_bytes());
	p = fd >= 0 ? zd_os_reserve_rw(page_bytes()) : NULL;
	err = fd < 0 ? fd : !p ? -ENOMEM :
	      zd_os_map_fd_at(p, page_bytes(), fd, 0);
	if (!err) {
		err = zd_os_uffd_register(uffd, p, page_bytes(), 1);
		if (!err)
			zd_os_uffd_unregister(uffd, p, page_bytes());
		else if (err == -EINVAL)
			err = -EOPNOTSUPP;
	}
	if (p)
		zd_os_unmap(p, page_bytes());
	if (fd >= 0)
		zd_os_close(fd);
	zd_os_close(uffd);
	return err;
}

static int probed;

static void probe_once(void)
{
	probed = probe();
	if (probed)
		zd_log(ZD_LOG_INFO, "DEVICE_COHERENT memory cannot be mapped for "
		       "HMM here: %s (error %d)", probed == -EOPNOTSUPP ?
		       "the kernel cannot write-protect shared memory through "
		       "userfaultfd (Linux 5.19)" : "no userfaultfd", -probed);
}

int zd_hmm_device_coherent_supported(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	/* "hmm.coherent.probe": as on a kernel before 5.19 */
	if (zd_fault("hmm.coherent.probe"))
		return -EOPNOTSUPP;
	pthread_once(&once, probe_once);
	return probed;
}

bool zd_hmm_coh_page(const struct zd_page *page)
{
	return page && page->pgmap && page->pgmap->type == ZD_MEMORY_DEVICE_COHERENT;
}

/* Where @page lives in its pgmap's backing file; false if it has none. */
static bool page_file(const struct zd_page *page, int *fd, uint64_t *off)
{
	const struct zd_dev_pagemap *pgmap = page->pgmap;
	zd_phys_addr_t phys = (zd_phys_addr_t)zd_page_to_pfn(page) << zd_page_shift;
	uint64_t o = pgmap->backing.offset;

	if (pgmap->backing.kind != ZD_BACKING_FD)
		return false;
	for (int i = 0; i < pgmap->nr_range; i++) {
		const struct zd_range *r = &pgmap->ranges[i];

		if (phys >= r->start && phys <= r->end) {
			*fd = pgmap->backing.fd;
			*off = o + (phys - r->start);
			return true;
		}
		o += r->end - r->start + 1;
	}
	return false;
}

bool zd_hmm_coh_mappable(const struct zd_page *page)
{
	int fd;
	uint64_t off;

	return zd_hmm_coh_page(page) && page_file(page, &fd, &off);
}

bool zd_hmm_coh_expected(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	bool found = false;

	pthread_mutex_lock(&mm->lock);
	for (struct coh_expect *x = mm->coh_expect; x && !found; x = x->next)
		if (!x->seen && x->start == start && x->end == end)
			found = x->seen = true;
	pthread_mutex_unlock(&mm->lock);
	return found;
}

static bool on_fault_thread(struct zd_mm *mm)
{
	return !mm->dead && pthread_equal(pthread_self(), mm->thread);
}

/* The application's protections over a range being mapped anew, which
 * the new mapping keeps (a read-only page stays read-only). */
#define PROT_SPANS	8

struct prots {
	struct { uintptr_t lo, hi; bool r, w; } s[PROT_SPANS];
	int n;
};

static int note_prot(uintptr_t lo, uintptr_t hi, bool r, bool w, void *arg)
{
	struct prots *p = arg;

	if (r && w)
		return 0;
	if (p->n == PROT_SPANS)
		return -E2BIG;
	p->s[p->n].lo = lo;
	p->s[p->n].hi = hi;
	p->s[p->n].r = r;
	p->s[p->n++].w = w;
	return 0;
}

static void keep_prots(const struct prots *p, uintptr_t a, size_t len)
{
	for (int i = 0; i < p->n; i++) {
		uintptr_t lo = p->s[i].lo > a ? p->s[i].lo : a;
		uintptr_t hi = p->s[i].hi < a + len ? p->s[i].hi : a + len;

		if (lo < hi)
			zd_os_protect((void *)lo, hi - lo, p->s[i].r, p->s[i].w);
	}
}

/*
 * The new mapping could not be registered as a whole: the application
 * unmapped some of it before it was (no event told us: it was not
 * registered yet), so those pages are dead now, as after an unmap event;
 * the rest is registered page by page.  The error if a page that is
 * still mapped cannot be registered.  Lock held.
 */
static int register_each(struct zd_mm *mm, uintptr_t a, size_t len)
{
	int err = 0;

	for (uintptr_t p = a; p < a + len; p += page_bytes()) {
		uintptr_t *pte = zd_hmm_pte(mm, p);
		int e;

		if (!zd_os_mapped((void *)p, page_bytes())) {
			e = zd_os_uffd_register(mm->uffd, (void *)p, page_bytes(), 1);
			err = err ? err : e;
			continue;
		}
		if (!pte || *pte == PTE_DEAD)
			continue;
		if (pte_page(*pte))	/* the migration's finalize puts it */
			mm->device_pages--;
		*pte = PTE_DEAD;
	}
	return err;
}

/* What [a, a + len) is mapped anew with. */
struct newmap {
	int fd;			/* >= 0: this file's pages from @off, shared */
	uint64_t off;
	char *moved;		/* else this private memory, moved into place
				 * with its bytes (NULL once moved); else
				 * fresh private memory */
};

/*
 * Map [a, a + len) anew as @nm says, registered with the mm's
 * userfaultfd.  The entries are busy.  Pages the application unmapped
 * before the mapping was made (their entries dead) are unmapped again
 * rather than left mapped where the application has nothing.  0, or the
 * error mapping or registering (-EINVAL: the kernel cannot register
 * shared memory for write-protect faults, before Linux 5.19).
 *
 * Private memory coming home arrives with its bytes: until it is
 * registered, a CPU touch of an empty page would be the kernel's own
 * zero fill, which the bytes placed later could not replace.
 */
static int replace(struct zd_mm *mm, uintptr_t a, size_t len,
		   struct newmap *nm)
{
	struct coh_expect x = { .start = a, .end = a + len };
	bool self = on_fault_thread(mm);
	struct prots prots = { .n = 0 };
	int err;

	if (zd_os_for_each_mapping(a, a + len, note_prot, &prots) == -E2BIG)
		zd_warn("[%#lx, +%#zx): too many protections to keep; some pages "
			"become read-write", (unsigned long)a, len);

	if (self) {
		zd_os_uffd_unregister(mm->uffd, (void *)a, len);
	} else {
		pthread_mutex_lock(&mm->lock);
		x.next = mm->coh_expect;
		mm->coh_expect = &x;
		pthread_mutex_unlock(&mm->lock);
	}
	err = zd_fault("hmm.coherent.map") ? -ENOMEM :
	      nm->fd >= 0 ? zd_os_map_fd_at((void *)a, len, nm->fd, nm->off) :
	      nm->moved ? zd_os_move_mapping(nm->moved, len, (void *)a) :
	      zd_os_map_private_at((void *)a, len);
	if (!err)
		nm->moved = NULL;
	/* as the kernel installs a migrated page: mapped already, so the
	 * CPU's first touch is no fault (read faults of a shared mapping
	 * map its pages writable where it is) */
	if (!err && nm->fd >= 0)
		zd_os_populate((void *)a, len, false);
	if (!err)
		keep_prots(&prots, a, len);
	zd_fault_point("hmm.coherent.mapped");
	pthread_mutex_lock(&mm->lock);
	if (!self) {
		struct coh_expect **p = &mm->coh_expect;

		/* our event is read (mmap returned) but maybe not handled;
		 * and so is a munmap() that returned before the mapping */
		zd_hmm_wait_drained(mm);
		while (*p != &x)
			p = &(*p)->next;
		*p = x.next;
	}
	if (!err && zd_os_uffd_register(mm->uffd, (void *)a, len, 1))
		err = register_each(mm, a, len);
	for (uintptr_t p = a; p < a + len; p += page_bytes()) {
		uintptr_t *pte = zd_hmm_pte(mm, p);

		if (pte && *pte != PTE_DEAD)
			continue;
		/* unregistered first: no event, from any thread */
		zd_os_uffd_unregister(mm->uffd, (void *)p, page_bytes());
		zd_os_unmap((void *)p, page_bytes());
	}
	pthread_mutex_unlock(&mm->lock);
	return err;
}

static void unshare_failed(uintptr_t a, size_t len, int err)
{
	zd_warn("cannot map private memory at [%#lx, +%#zx) for device-"
		"coherent pages coming home (error %d)", (unsigned long)a, len,
		-err);
}

int zd_hmm_coh_unshare(struct zd_mm *mm, uintptr_t a, size_t len)
{
	int err = replace(mm, a, len, &(struct newmap){ .fd = -1 });

	if (err)
		unshare_failed(a, len, err);
	return err;
}

int zd_hmm_coh_place(struct zd_mm *mm, uintptr_t a, size_t n,
		     char *const *src)
{
	size_t len = n << zd_page_shift;
	struct newmap nm = { .fd = -1, .moved = zd_os_map_pages(len) };
	int err;

	if (!nm.moved) {
		unshare_failed(a, len, -ENOMEM);
		return -ENOMEM;
	}
	/* the kernel found the range free: the application unmapped it (at
	 * least some of it) meanwhile, and no page comes home */
	if ((uintptr_t)nm.moved < a + len && a < (uintptr_t)nm.moved + len) {
		zd_os_unmap(nm.moved, len);
		return -ENOENT;
	}
	for (size_t k = 0; k < n; k++)
		memcpy(nm.moved + (k << zd_page_shift), src[k], page_bytes());
	err = replace(mm, a, len, &nm);
	if (nm.moved)		/* not moved */
		zd_os_unmap(nm.moved, len);
	if (err)
		unshare_failed(a, len, err);
	return err;
}

/* The file pages must exist, or the CPU's touch of one would be a
 * missing-page fault: the device's memory is there, read or not. */
static void touch(struct zd_page *page)
{
	(void)*(volatile char *)zd_page_address(page);
}

/*
 * The coherent page at @a could not be mapped there: its bytes go into
 * private memory instead and the entry becomes a host page (busy).
 * Lock not held.  Whether it became one (false: the application
 * unmapped it meanwhile).
 */
static bool fallback(struct zd_mm *mm, uintptr_t a, struct zd_page *page)
{
	uintptr_t *pte;
	bool live;

	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, a);
	live = pte && *pte != PTE_DEAD && pte_page(*pte) == page;
	pthread_mutex_unlock(&mm->lock);
	if (!live)		/* unmapped: nothing to keep */
		return false;
	zd_warn("cannot map device-coherent page %#lx at %#lx: its bytes stay "
		"in host memory", zd_page_to_pfn(page), (unsigned long)a);
	zd_hmm_coh_place(mm, a, 1, &(char *){ zd_page_address(page) });
	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, a);
	live = pte && *pte != PTE_DEAD && pte_page(*pte) == page;
	if (live) {
		pte_set(pte, PTE_HOST | PTE_BUSY);
		mm->device_pages--;
	}
	pthread_mutex_unlock(&mm->lock);
	return live;
}

/* Pages @pages[0..n) at [a, a + n pages): one mapping per run of
 * consecutive file offsets. */
static void map_runs(struct zd_mm *mm, uintptr_t a, struct zd_page **pages,
		     size_t n, bool *failed)
{
	for (size_t i = 0, j; i < n; i = j) {
		int fd, fd2;
		uint64_t off, off2;
		int err;

		j = i + 1;
		if (!pages[i] || !page_file(pages[i], &fd, &off)) {
			failed[i] = pages[i] != NULL;
			continue;
		}
		touch(pages[i]);
		while (j < n && pages[j] && page_file(pages[j], &fd2, &off2) &&
		       fd2 == fd && off2 == off + ((j - i) << zd_page_shift)) {
			touch(pages[j]);
			j++;
		}
		err = replace(mm, a + (i << zd_page_shift), (j - i) << zd_page_shift,
			      &(struct newmap){ .fd = fd, .off = off });
		for (size_t k = i; err && k < j; k++)
			failed[k] = true;
	}
}

void zd_hmm_coh_map(struct zd_mm *mm, uintptr_t a, struct zd_page **pages,
		    size_t n, unsigned long *src)
{
	bool failed[512] = { false };

	for (size_t off = 0; off < n; off += 512) {
		size_t k = n - off < 512 ? n - off : 512;

		for (size_t i = 0; i < k; i++)
			failed[i] = false;
		map_runs(mm, a + (off << zd_page_shift), pages + off, k, failed);
		for (size_t i = 0; i < k; i++) {
			uintptr_t p = a + ((off + i) << zd_page_shift);

			if (!failed[i])
				continue;
			if (fallback(mm, p, pages[off + i]) && src)
				src[off + i] &= ~ZD_MIGRATE_PFN_MIGRATE;
		}
	}
}

void zd_hmm_coh_restore(struct zd_mm *mm, uintptr_t a, size_t len)
{
	hmm_writeprotect(mm, a, len, 0);
}

void zd_hmm_coh_drop(struct zd_mm *mm, uintptr_t a, struct zd_page *page)
{
	uintptr_t *pte = zd_hmm_pte(mm, a);

	/* faults wait while the mapping is replaced */
	*pte = PTE_MAYBE | PTE_BUSY;
	pthread_mutex_unlock(&mm->lock);
	/* the page may go back to its driver: no mapping may reach it then */
	zd_hmm_coh_unshare(mm, a, page_bytes());
	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, a);
	/* empty unless the CPU touched it before it was registered: the
	 * kernel says which when asked (zd_hmm_settle()) */
	if (pte && *pte == PTE_DEAD)
		*pte = PTE_NONE;
	else if (pte)
		pte_set(pte, PTE_MAYBE);
	mm->device_pages--;
	set_page_mm(page, NULL);
	pthread_mutex_unlock(&mm->lock);
	zd_put_page(page);
	atomic_fetch_add(&mm->stats.dropped, 1);
	zd_os_uffd_wake(mm->uffd, (void *)a, page_bytes());
	pthread_mutex_lock(&mm->lock);
}

void zd_hmm_coh_fault(struct zd_mm *mm, uintptr_t a, struct zd_page *page,
		      bool wp)
{
	touch(page);
	if (wp)
		hmm_writeprotect(mm, a, page_bytes(), 0);
	zd_os_uffd_wake(mm->uffd, (void *)a, page_bytes());
}

int zd_hmm_coh_evict(struct zd_mm *mm, uintptr_t a, struct zd_page *page,
		     bool force)
{
	unsigned long pfn = zd_page_to_pfn(page), src = 0, dst;
	void *stage;
	int err;

	(void)mm;
	(void)a;
	/* held beyond its mapping's and the caller's reference (a pin,
	 * zd_mm_lookup_get()): it stays, and the caller waits */
	if (zd_page_ref_count(page) > 2 && !force)
		return 0;
	err = zd_migrate_device_range(&src, pfn, 1);
	if (err || !(src & ZD_MIGRATE_PFN_MIGRATE))
		return err;
	stage = zd_alloc_system_page();
	dst = stage ? zd_migrate_virt(stage) : 0;
	if (stage)
		memcpy(stage, zd_page_address(page), page_bytes());
	zd_migrate_device_pages(&src, &dst, 1);
	zd_migrate_device_finalize(&src, &dst, 1);
	zd_free_system_page(stage);
	return stage ? 0 : -ENOMEM;
}

void zd_hmm_coh_fork_child(struct zd_mm *mm)
{
	/* the fork brought every other device page home */
	for (size_t r = 0; mm->device_pages && r < mm->nr_ranges; r++) {
		struct hmm_range *rg = mm->ranges[r];

		for (uintptr_t a = rg->start; a < rg->end; a += page_bytes()) {
			uintptr_t *pte = &rg->pte[(a - rg->start) >> zd_page_shift];
			struct zd_page *page = pte_page(*pte);
			struct prots prots = { .n = 0 };
			char *copy;

			if (!page || !zd_hmm_coh_page(page))
				continue;
			zd_os_for_each_mapping(a, a + page_bytes(), note_prot, &prots);
			copy = zd_os_map_pages(page_bytes());
			if (copy)
				memcpy(copy, zd_page_address(page), page_bytes());
			if (!copy || zd_os_move_mapping(copy, page_bytes(), (void *)a)) {
				zd_warn("fork: the child shares the device-coherent "
					"page at %#lx with its parent (no memory for "
					"its own copy)", (unsigned long)a);
				if (copy)
					zd_os_unmap(copy, page_bytes());
				continue;
			}
			keep_prots(&prots, a, page_bytes());
			*pte = PTE_HOST;
		}
	}
}
