// SPDX-License-Identifier: MIT
/* dmirror: migration between host memory and device pages. */
#include "internal.h"

/* Pages entry @i of a batch covers: a folio's for a compound one. */
static unsigned long entry_pages(unsigned long src)
{
	return src & ZD_MIGRATE_PFN_COMPOUND ? ZD_HMM_FOLIO_PAGES : 1;
}

struct batch {
	unsigned long src[BATCH], dst[BATCH];
	struct zd_migrate_vma m;
};

static void batch_init(struct batch *b, struct zd_mm *mm, unsigned long start,
		       unsigned long n, struct dmirror *dm, unsigned long flags)
{
	b->m = (struct zd_migrate_vma){
		.mm = mm, .src = b->src, .dst = b->dst, .npages = n,
		.start = start, .end = start + n * PAGE, .pgmap_owner = dm,
		.flags = flags,
	};
}

/*
 * Our own migration moves the batch's collected pages: their mirror
 * entries go now (the notifier leaves our migrations to us), before a
 * device page can be freed or a host page stops being the data.
 * Returns the mm's mirror (NULL if none) and in *@since its erase count.
 */
static struct mirror *batch_unmirror(struct dmirror *dm, struct batch *b,
				     unsigned long *since)
{
	struct mirror *m;

	pthread_mutex_lock(&dm->lock);
	m = dm_mirror_find(dm, b->m.mm);
	if (m) {
		for (unsigned long i = 0; i < b->m.npages; i++)
			if (b->src[i] & ZD_MIGRATE_PFN_MIGRATE)
				dm_pt_erase(m, b->m.start + i * PAGE, b->m.start +
					    (i + entry_pages(b->src[i])) * PAGE);
		dm_erase_log(m, b->m.start, b->m.end);
		*since = m->erases;
	}
	pthread_mutex_unlock(&dm->lock);
	return m;
}

/*
 * Pages moved to this device go into its mirror, as the kernel's
 * dmirror_migrate_finalize_and_map() does, before the finalize lets a
 * CPU fault take them home; not if anything erased the range meanwhile
 * (an munmap, a fault's trip home): the mirror fills on demand then.
 */
static void batch_mirror(struct dmirror *dm, struct batch *b, struct mirror *m,
			 unsigned long since)
{
	pthread_mutex_lock(&dm->lock);
	if (m && dm_mirror_find(dm, b->m.mm) == m &&
	    !dm_erased_since(m, since, b->m.start, b->m.end))
		for (unsigned long i = 0; i < b->m.npages; i++) {
			struct zd_page *p = zd_migrate_pfn_to_page(b->dst[i]);
			unsigned long n = b->dst[i] & ZD_MIGRATE_PFN_COMPOUND ?
					  ZD_HMM_FOLIO_PAGES : 1, k = 0;

			if (!p || !(b->src[i] & ZD_MIGRATE_PFN_MIGRATE))
				continue;
			for (; k < n; k++) {	/* a folio: each of its pages */
				unsigned long e = (unsigned long)(p + k) | E_DEV | E_VALID;

				if (b->dst[i] & ZD_MIGRATE_PFN_WRITE)
					e |= E_WRITE;
				if (dm_pt_set(m, b->m.start / PAGE + i + k, e))
					break;	/* no memory: fills on demand */
			}
			if (k < n)
				break;
		}
	pthread_mutex_unlock(&dm->lock);
}

/* Pages, mirror and finalize; returns how many moved. */
static unsigned long batch_finish(struct dmirror *dm, struct batch *b, bool to_dev,
				  struct mirror *m, unsigned long since)
{
	unsigned long moved = 0;

	zd_migrate_vma_pages(&b->m);
	if (to_dev)
		batch_mirror(dm, b, m, since);
	for (unsigned long i = 0; i < b->m.npages; i++)
		if (b->src[i] & ZD_MIGRATE_PFN_MIGRATE)
			moved += entry_pages(b->src[i]);
	zd_migrate_vma_finalize(&b->m);
	return moved;
}

/* Device pages (source) to host: the device memory itself is the
 * staging page, given away (moved into place) where the kernel can; a
 * device page's memory is written in full before it is used again. */
static void to_host(struct dmirror *dm, struct batch *b)
{
	for (unsigned long i = 0; i < b->m.npages; i++) {
		struct zd_page *spage = zd_migrate_pfn_to_page(b->src[i]);

		if (!spage || !(b->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		dev_read(page_mem(spage));
		/* coherent memory is shared (mapped by the CPU): copied */
		b->dst[i] = zd_migrate_virt(page_mem(spage)) |
			    (dm->coherent ? 0 : ZD_MIGRATE_PFN_DONATE) |
			    (b->src[i] & ZD_MIGRATE_PFN_COMPOUND);	/* whole */
	}
}

static struct zd_page *dst_page(const struct batch *b, unsigned long i)
{
	return zd_migrate_pfn_to_page(b->dst[i]);
}

/* Pages [i, j) are host pages whose device pages are adjacent in memory. */
static unsigned long host_run(const struct batch *b, unsigned long i)
{
	unsigned long j = i + 1;

	while (j < b->m.npages && zd_migrate_pfn_to_virt(b->src[j]) && dst_page(b, j) &&
	       page_mem(dst_page(b, j)) == page_mem(dst_page(b, i)) + (j - i) * PAGE)
		j++;
	return j;
}

/*
 * A 2 MiB run collected whole (compound entry @i) to a folio of ours,
 * taken (moved, or copied where the kernel cannot) or zeroed there; with
 * no folio free, to pages, one dst each (zonedev then splits the run),
 * copied one by one; a page not even those can have stays home.
 */
static void to_folio(struct dmirror *dm, struct batch *b, unsigned long i)
{
	const char *src = zd_migrate_pfn_to_virt(b->src[i]);
	struct zd_page *f = dm_folio_alloc(dm);
	size_t bytes = ZD_HMM_FOLIO_PAGES * PAGE;

	if (f) {
		b->dst[i] = zd_migrate_pfn(zd_page_to_pfn(f)) | ZD_MIGRATE_PFN_WRITE |
			    ZD_MIGRATE_PFN_COMPOUND;
		if (!src)
			memset(page_mem(f), 0, bytes);
		else if (zd_migrate_vma_move(&b->m, i, ZD_HMM_FOLIO_PAGES, page_mem(f)))
			memcpy(page_mem(f), src, bytes);	/* cannot happen */
		dev_wrote(page_mem(f));
		return;
	}
	for (unsigned long k = ZD_HMM_FOLIO_PAGES; k-- > 0;) {
		struct zd_page *p = dm_page_alloc(dm);

		if (!p)
			continue;	/* that page does not migrate: nor the run */
		b->dst[i + k] = zd_migrate_pfn(zd_page_to_pfn(p)) | ZD_MIGRATE_PFN_WRITE;
		if (src)
			memcpy(page_mem(p), src + k * PAGE, PAGE);
		else
			memset(page_mem(p), 0, PAGE);
		dev_wrote(page_mem(p));
	}
}

/* Host (or never-touched) pages to device pages: allocated last page
 * first (see free_pages), then the host pages themselves are taken into
 * device memory a run at a time (copied where the kernel cannot move
 * them), and never-touched ones zeroed there. */
static void to_device(struct dmirror *dm, struct batch *b)
{
	for (unsigned long i = b->m.npages; i-- > 0;) {
		struct zd_page *dpage;

		if (b->src[i] & ZD_MIGRATE_PFN_COMPOUND) {
			to_folio(dm, b, i);
			continue;
		}
		if ((b->src[i] & ZD_MIGRATE_PFN_MIGRATE) && (dpage = dm_page_alloc(dm)))
			b->dst[i] = zd_migrate_pfn(zd_page_to_pfn(dpage)) |
				    ZD_MIGRATE_PFN_WRITE;
	}
	for (unsigned long i = 0, j; i < b->m.npages; i = j) {
		char *mem = dst_page(b, i) ? page_mem(dst_page(b, i)) : NULL;
		const char *src = zd_migrate_pfn_to_virt(b->src[i]);

		if (b->src[i] & ZD_MIGRATE_PFN_COMPOUND) {	/* to_folio()'s */
			j = i + ZD_HMM_FOLIO_PAGES;
			continue;
		}
		j = src && mem ? host_run(b, i) : i + 1;
		if (!mem)
			continue;
		if (!src)
			memset(mem, 0, PAGE);
		else if (dm->coherent)	/* not staging memory: nothing moves */
			memcpy(mem, src, (j - i) * PAGE);
		else if (zd_migrate_vma_move(&b->m, i, j - i, mem))
			memcpy(mem, src, (j - i) * PAGE);	/* cannot happen */
		for (unsigned long k = i; k < j; k++)
			dev_wrote(page_mem(dst_page(b, k)));
	}
}

/*
 * Migrate [start, start + npages) in batches: to this device
 * (SELECT_SYSTEM) or from it to host memory (SELECT_DEVICE_PRIVATE).
 * Counts the pages moved in *@moved.
 */
static int migrate_range(struct dmirror *dm, struct zd_mm *mm,
			 unsigned long start, unsigned long npages,
			 unsigned long flags, struct zd_page *fault_page,
			 unsigned long *moved)
{
	bool to_dev = flags & ZD_MIGRATE_VMA_SELECT_SYSTEM;
	unsigned long per = npages < BATCH ? npages : BATCH;
	struct batch *b = malloc(sizeof(*b));
	int err = b ? 0 : -ENOMEM;

	bool folios = __atomic_load_n(&dm->folio_order, __ATOMIC_RELAXED);

	if (folios)	/* 2 MiB runs whole: see dmirror_set_folio_order() */
		flags |= ZD_MIGRATE_VMA_SELECT_COMPOUND;
	for (unsigned long done = 0, n; done < npages && !err; done += n) {
		unsigned long since = 0;
		struct mirror *m;

		n = npages - done < per ? npages - done : per;
		/* batches at 2 MiB boundaries, so that a run is in one */
		if (folios && n > BATCH - (start / PAGE + done) % BATCH)
			n = BATCH - (start / PAGE + done) % BATCH;
		batch_init(b, mm, start + done * PAGE, n, dm, flags);
		b->m.fault_page = fault_page;
		if (!fault_page)	/* a command (a fault waits for nothing) */
			pthread_rwlock_wrlock(&dm->mig_lock);
		err = zd_migrate_vma_setup(&b->m);
		if (err) {
			if (!fault_page)
				pthread_rwlock_unlock(&dm->mig_lock);
			break;
		}
		m = batch_unmirror(dm, b, &since);
		if (to_dev)
			to_device(dm, b);
		else
			to_host(dm, b);
		*moved += batch_finish(dm, b, to_dev, m, since);
		if (!fault_page)
			pthread_rwlock_unlock(&dm->mig_lock);
	}
	free(b);
	return err;
}

int dm_migrate_to_ram(struct zd_vm_fault *vmf)
{
	struct dmirror *dm = page_dm(vmf->page);
	unsigned long n = atomic_load(&dm->prefetch), moved = 0;

	atomic_fetch_add(&dm->faults, 1);
	if (atomic_load(&dm->fail_faults))
		return -EIO;
	return migrate_range(dm, vmf->mm, vmf->address & ~(n * PAGE - 1), n,
			     ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, vmf->page, &moved);
}

/* Whether the page at @addr is in this device's mirror now. */
static bool on_device(struct dmirror *dm, struct zd_mm *mm, unsigned long addr)
{
	struct zd_page *p;
	bool ours;

	if (zd_mm_lookup_get(mm, addr, &p) != ZD_MM_PAGE_DEVICE)
		return false;
	ours = p->pgmap->owner == dm;
	zd_put_page(p);
	return ours;
}

static int to_device_cmd(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	int err = migrate_range(dm, cmd->mm, cmd->addr, cmd->npages,
				ZD_MIGRATE_VMA_SELECT_SYSTEM, NULL, &cmd->cpages);

	if (err)
		return err;
	/* as the kernel's: every page must now be in this device's mirror */
	for (unsigned long i = 0; i < cmd->npages; i++)
		if (!on_device(dm, cmd->mm, cmd->addr + i * PAGE))
			return -ENOENT;
	return 0;
}

/* The mirror is made first, so that the pages moved go into it. */
int dmirror_migrate_to_device(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	struct mirror *m;
	int err;

	if (dm_cmd_bad(dm, cmd))
		return -EINVAL;
	m = dm_cmd_enter_mirror(dm, cmd, &err);
	if (!m)
		return err;
	return dm_cmd_exit_mirror(m, to_device_cmd(dm, cmd));
}

int dmirror_migrate_to_system(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	int err;

	if (dm_cmd_bad(dm, cmd))
		return -EINVAL;
	err = dm_cmd_enter(dm);
	return err ? err : dm_cmd_exit(dm, migrate_range(dm, cmd->mm, cmd->addr,
			cmd->npages, dm->coherent ? ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT :
			ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, NULL, &cmd->cpages));
}
