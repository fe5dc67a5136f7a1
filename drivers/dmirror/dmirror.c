// SPDX-License-Identifier: MIT
/* dmirror: see dmirror.h. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "dmirror.h"

/*
 * Device memory written by one thread (a command) is read by another
 * after a CPU page fault (migrate_to_ram on the fault thread): the kernel
 * orders the two, which ThreadSanitizer cannot see.  Say so to it.
 */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define dev_wrote(p)	__tsan_release(p)
#define dev_read(p)	__tsan_acquire(p)
#else
#define dev_wrote(p)	((void)(p))
#define dev_read(p)	((void)(p))
#endif

#define BATCH		512ul		/* pages per migrate_vma call */
#define MAX_PREFETCH	512ul

struct dmirror_chunk {
	struct dmirror *dm;
	char *mem;			/* the device memory */
	unsigned long first_pfn, npages;
	struct dmirror_chunk *next;
	struct zd_dev_pagemap pgmap;	/* last */
};

struct dmirror {
	struct zd_device dev;
	pthread_mutex_t lock;		/* free list, chunks, bound, inflight */
	pthread_cond_t idle;		/* no command in flight, or a page freed */
	bool bound;			/* commands are accepted */
	unsigned int inflight;		/* commands running */
	/* A stack linked by zone_device_data: the warmest memory first.
	 * Pages leave it in the reverse of the order they were freed in,
	 * so to_device() fills a batch from its last page down and the
	 * batch's device pages ascend with its addresses: its trip home
	 * is then one copy. */
	struct zd_page *free_pages;
	struct dmirror_chunk *chunks;
	unsigned long chunk_bytes, nr_chunks, in_use;
	atomic_ulong prefetch, page_frees, faults;
	atomic_bool fail_faults;
};

#define PAGE		((size_t)zd_page_size())
#define chunk_of(pg)	((struct dmirror_chunk *)((char *)(pg) - \
			 offsetof(struct dmirror_chunk, pgmap)))

static char *page_mem(struct zd_page *page)
{
	struct dmirror_chunk *c = chunk_of(page->pgmap);

	return c->mem + (zd_page_to_pfn(page) - c->first_pfn) * PAGE;
}

static struct dmirror *page_dm(struct zd_page *page)
{
	return chunk_of(page->pgmap)->dm;
}

/* ---- device memory ------------------------------------------------------ */

/* dm->lock held */
static void free_push(struct dmirror *dm, struct zd_page *page)
{
	page->zone_device_data = dm->free_pages;
	dm->free_pages = page;
}

/* Unbound, the free list is gone with the chunks: a page freed during
 * the unbind (by a fault that held it) is only counted. */
static void page_free(struct zd_page *page)
{
	struct dmirror *dm = page_dm(page);

	pthread_mutex_lock(&dm->lock);
	if (dm->bound)
		free_push(dm, page);
	dm->in_use--;
	pthread_cond_broadcast(&dm->idle);
	pthread_mutex_unlock(&dm->lock);
	atomic_fetch_add(&dm->page_frees, 1);
}

static int migrate_to_ram(struct zd_vm_fault *vmf);

static const struct zd_dev_pagemap_ops dmirror_ops = {
	.page_free = page_free,
	.migrate_to_ram = migrate_to_ram,
};

static void chunk_release(void *arg)
{
	struct dmirror_chunk *c = arg;

	zd_hmm_unregister_staging(c->mem, c->dm->chunk_bytes);
	munmap(c->mem, c->dm->chunk_bytes);
	free(c);
}

/* A new chunk of free pages; dm->lock held. */
static int chunk_add(struct dmirror *dm)
{
	struct dmirror_chunk *c = calloc(1, sizeof(*c));
	struct zd_resource *res;
	int err = -ENOMEM;

	if (!c)
		goto out;
	/* device memory: committed as it is used */
	c->mem = mmap(NULL, dm->chunk_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		goto out;
	}
	/* host pages move in and out without a copy; not the child's after
	 * fork() (shared pages could not move) */
	madvise(c->mem, dm->chunk_bytes, MADV_DONTFORK);
	err = zd_hmm_register_staging(c->mem, dm->chunk_bytes);
	if (err)
		goto out;
	res = zd_devm_request_free_mem_region(&dm->dev, zd_iomem_root(), dm->chunk_bytes);
	if (!res) {
		err = -errno;
		zd_hmm_unregister_staging(c->mem, dm->chunk_bytes);
		goto out;
	}
	c->dm = dm;
	c->pgmap.type = ZD_MEMORY_DEVICE_PRIVATE;
	c->pgmap.nr_range = 1;
	c->pgmap.range.start = res->start;
	c->pgmap.range.end = res->start + dm->chunk_bytes - 1;
	c->pgmap.ops = &dmirror_ops;
	c->pgmap.owner = dm;
	c->first_pfn = (unsigned long)(res->start / PAGE);
	c->npages = dm->chunk_bytes / PAGE;
	/* released after the pgmap (devres runs newest first) */
	err = zd_devm_add_action(&dm->dev, chunk_release, c);
	if (err) {
		zd_hmm_unregister_staging(c->mem, dm->chunk_bytes);
		goto out;
	}
	if (!zd_devm_memremap_pages(&dm->dev, &c->pgmap)) {
		err = -errno;
		zd_devm_release_action(&dm->dev, chunk_release, c);
		return err;
	}
	for (unsigned long i = 0; i < c->npages; i++)
		free_push(dm, zd_pfn_to_page(c->first_pfn + i));
	c->next = dm->chunks;
	dm->chunks = c;
	dm->nr_chunks++;
	return 0;
out:
	if (c && c->mem)
		munmap(c->mem, dm->chunk_bytes);
	free(c);
	return err;
}

static struct zd_page *page_alloc(struct dmirror *dm)
{
	struct zd_page *p;

	pthread_mutex_lock(&dm->lock);
	if (!dm->free_pages && chunk_add(dm)) {
		pthread_mutex_unlock(&dm->lock);
		return NULL;
	}
	p = dm->free_pages;
	dm->free_pages = p->zone_device_data;
	dm->in_use++;
	pthread_mutex_unlock(&dm->lock);
	p->zone_device_data = NULL;
	if (zd_zone_device_page_init(p)) {	/* cannot happen while bound */
		pthread_mutex_lock(&dm->lock);
		free_push(dm, p);
		dm->in_use--;
		pthread_mutex_unlock(&dm->lock);
		return NULL;
	}
	return p;
}

/* ---- migration ---------------------------------------------------------- */

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

/* Pages and finalize; returns how many moved. */
static unsigned long batch_finish(struct batch *b)
{
	unsigned long moved = 0;

	zd_migrate_vma_pages(&b->m);
	for (unsigned long i = 0; i < b->m.npages; i++)
		moved += !!(b->src[i] & ZD_MIGRATE_PFN_MIGRATE);
	zd_migrate_vma_finalize(&b->m);
	return moved;
}

/* Device pages (source) to host: the device memory itself is the
 * staging page, given away (moved into place) where the kernel can; a
 * device page's memory is written in full before it is used again. */
static void to_host(struct batch *b)
{
	for (unsigned long i = 0; i < b->m.npages; i++) {
		struct zd_page *spage = zd_migrate_pfn_to_page(b->src[i]);

		if (!spage || !(b->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		dev_read(page_mem(spage));
		b->dst[i] = zd_migrate_virt(page_mem(spage)) | ZD_MIGRATE_PFN_DONATE;
	}
}

static bool cmd_bad(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	if (!dm || !cmd || !cmd->mm || !cmd->npages || (cmd->addr & (PAGE - 1)))
		return true;
	cmd->cpages = cmd->faults = 0;
	return false;
}

/* A command starts: -ENODEV once unbound (the unbind waits for those
 * that started before). */
static int cmd_enter(struct dmirror *dm)
{
	int err = 0;

	pthread_mutex_lock(&dm->lock);
	if (dm->bound)
		dm->inflight++;
	else
		err = -ENODEV;
	pthread_mutex_unlock(&dm->lock);
	return err;
}

static int cmd_exit(struct dmirror *dm, int err)
{
	pthread_mutex_lock(&dm->lock);
	if (!--dm->inflight)
		pthread_cond_broadcast(&dm->idle);
	pthread_mutex_unlock(&dm->lock);
	return err;
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

/* Host (or never-touched) pages to device pages: allocated last page
 * first (see free_pages), then the host pages themselves are taken into
 * device memory a run at a time (copied where the kernel cannot move
 * them), and never-touched ones zeroed there. */
static void to_device(struct dmirror *dm, struct batch *b)
{
	for (unsigned long i = b->m.npages; i-- > 0;) {
		struct zd_page *dpage;

		if ((b->src[i] & ZD_MIGRATE_PFN_MIGRATE) && (dpage = page_alloc(dm)))
			b->dst[i] = zd_migrate_pfn(zd_page_to_pfn(dpage)) |
				    ZD_MIGRATE_PFN_WRITE;
	}
	for (unsigned long i = 0, j; i < b->m.npages; i = j) {
		char *mem = dst_page(b, i) ? page_mem(dst_page(b, i)) : NULL;
		const char *src = zd_migrate_pfn_to_virt(b->src[i]);

		j = src && mem ? host_run(b, i) : i + 1;
		if (!mem)
			continue;
		if (!src)
			memset(mem, 0, PAGE);
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

	for (unsigned long done = 0; done < npages && !err; done += per) {
		unsigned long n = npages - done < per ? npages - done : per;

		batch_init(b, mm, start + done * PAGE, n, dm, flags);
		b->m.fault_page = fault_page;
		err = zd_migrate_vma_setup(&b->m);
		if (err)
			break;
		if (to_dev)
			to_device(dm, b);
		else
			to_host(b);
		*moved += batch_finish(b);
	}
	free(b);
	return err;
}

static int migrate_to_ram(struct zd_vm_fault *vmf)
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

int dmirror_migrate_to_device(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	int err;

	if (cmd_bad(dm, cmd))
		return -EINVAL;
	err = cmd_enter(dm);
	return err ? err : cmd_exit(dm, to_device_cmd(dm, cmd));
}

int dmirror_migrate_to_system(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	int err;

	if (cmd_bad(dm, cmd))
		return -EINVAL;
	err = cmd_enter(dm);
	return err ? err : cmd_exit(dm, migrate_range(dm, cmd->mm, cmd->addr,
			cmd->npages, ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, NULL,
			&cmd->cpages));
}

/* ---- the device's view -------------------------------------------------- */

/*
 * One page of the device's view: its own memory if the page is in its
 * mirror (held meanwhile, so a CPU fault cannot take it home under the
 * copy), else the host page through the CPU (never-touched ones fault:
 * faults), which an application's munmap meanwhile makes -EFAULT.
 */
static int access_page(struct dmirror *dm, struct dmirror_cmd *cmd,
		       unsigned long addr, char *buf, bool write)
{
	struct zd_page *p;
	int st = zd_mm_lookup_get(cmd->mm, addr, &p);

	if (st == ZD_MM_PAGE_DEVICE && p->pgmap->owner == dm) {
		char *mem = page_mem(p);

		if (write) {
			memcpy(mem, buf, PAGE);
			dev_wrote(mem);
		} else {
			dev_read(mem);
			memcpy(buf, mem, PAGE);
		}
		zd_put_page(p);
		return 0;
	}
	if (p)
		zd_put_page(p);		/* another device's: through the CPU */
	if (st < 0)
		return -EFAULT;
	cmd->faults += st == ZD_MM_PAGE_EMPTY;
	return zd_access_remote_vm(cmd->mm, addr, buf, (int)PAGE,
				   write ? ZD_FOLL_WRITE : 0) == (int)PAGE ? 0 : -EFAULT;
}

static int access_range(struct dmirror *dm, struct dmirror_cmd *cmd, bool write)
{
	int err;

	if (cmd_bad(dm, cmd) || !cmd->ptr)
		return -EINVAL;
	err = cmd_enter(dm);
	for (unsigned long i = 0; i < cmd->npages && !err; i++) {
		err = access_page(dm, cmd, cmd->addr + i * PAGE,
				  (char *)cmd->ptr + i * PAGE, write);
		cmd->cpages += !err;
	}
	return err == -ENODEV ? err : cmd_exit(dm, err);
}

int dmirror_read(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	return access_range(dm, cmd, false);
}

int dmirror_write(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	return access_range(dm, cmd, true);
}

int dmirror_transform(struct dmirror *dm, struct dmirror_cmd *cmd,
		      void (*fn)(void *page, size_t len, void *arg), void *arg)
{
	int err;

	if (cmd_bad(dm, cmd) || !fn)
		return -EINVAL;
	err = cmd_enter(dm);
	if (err)
		return err;
	for (unsigned long i = 0; i < cmd->npages; i++) {
		struct zd_page *p;

		if (zd_mm_lookup_get(cmd->mm, cmd->addr + i * PAGE, &p) != ZD_MM_PAGE_DEVICE)
			continue;
		if (p->pgmap->owner == dm) {	/* held: no fault takes it */
			dev_read(page_mem(p));
			fn(page_mem(p), PAGE, arg);
			dev_wrote(page_mem(p));
			cmd->cpages++;
		}
		zd_put_page(p);
	}
	return cmd_exit(dm, 0);
}

/* ---- unplug: every page in use comes home first ------------------------- */

static void chunk_evict(struct dmirror_chunk *c)
{
	unsigned long *src = calloc(BATCH, sizeof(long)), *dst = calloc(BATCH, sizeof(long));

	for (unsigned long off = 0; src && dst && off < c->npages; off += BATCH) {
		unsigned long n = c->npages - off < BATCH ? c->npages - off : BATCH;

		zd_migrate_device_range(src, c->first_pfn + off, n);
		for (unsigned long i = 0; i < n; i++) {
			struct zd_page *p = zd_migrate_pfn_to_page(src[i]);

			dst[i] = 0;
			if (!p || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
				continue;
			dev_read(page_mem(p));
			dst[i] = zd_migrate_virt(page_mem(p)) | ZD_MIGRATE_PFN_DONATE;
		}
		zd_migrate_device_pages(src, dst, n);
		zd_migrate_device_finalize(src, dst, n);
	}
	if (!src || !dst)
		fprintf(stderr, "dmirror: no memory to evict; pages are lost\n");
	free(src);
	free(dst);
}

/*
 * Commands end first (new ones get -ENODEV); then every page in use
 * comes home.  A page a fault is bringing home (busy) is skipped by an
 * eviction, and freed by that fault: wait for it, and evict again
 * for any that a finished fault left behind.
 */
static void dmirror_remove(struct zd_device *dev)
{
	struct dmirror *dm = (struct dmirror *)dev;
	unsigned long in_use;

	pthread_mutex_lock(&dm->lock);
	dm->bound = false;
	while (dm->inflight)
		pthread_cond_wait(&dm->idle, &dm->lock);
	pthread_mutex_unlock(&dm->lock);
	do {
		struct timespec ts;

		for (struct dmirror_chunk *c = dm->chunks; c; c = c->next)
			chunk_evict(c);
		pthread_mutex_lock(&dm->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (dm->in_use)
			pthread_cond_timedwait(&dm->idle, &dm->lock, &ts);
		in_use = dm->in_use;
		pthread_mutex_unlock(&dm->lock);
	} while (in_use);
	/* the chunks themselves are devres: they go after this returns */
	pthread_mutex_lock(&dm->lock);
	dm->chunks = NULL;
	dm->free_pages = NULL;
	dm->nr_chunks = 0;
	pthread_mutex_unlock(&dm->lock);
}

static int dmirror_probe(struct zd_device *dev)
{
	struct dmirror *dm = (struct dmirror *)dev;

	pthread_mutex_lock(&dm->lock);
	dm->bound = true;	/* memory comes on demand */
	pthread_mutex_unlock(&dm->lock);
	return 0;
}

static struct zd_driver dmirror_driver = {
	.name = "dmirror",
	.probe = dmirror_probe,
	.remove = dmirror_remove,
};

static void dmirror_release(struct zd_device *dev)
{
	struct dmirror *dm = (struct dmirror *)dev;

	pthread_cond_destroy(&dm->idle);
	pthread_mutex_destroy(&dm->lock);
	free(dm);
}

struct dmirror *dmirror_create(int id, unsigned long chunk_bytes)
{
	struct dmirror *dm = calloc(1, sizeof(*dm));
	int err;

	if (!dm)
		return NULL;
	if (!chunk_bytes || chunk_bytes % ZD_SECTION_SIZE) {
		free(dm);
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_init(&dm->lock, NULL);
	pthread_cond_init(&dm->idle, NULL);
	dm->chunk_bytes = chunk_bytes;
	atomic_store(&dm->prefetch, 1);
	zd_device_initialize(&dm->dev);
	dm->dev.release = dmirror_release;
	err = zd_dev_set_name(&dm->dev, "dmirror%d", id);
	if (!err)
		err = zd_device_add(&dm->dev);
	if (!err) {
		err = zd_device_bind(&dm->dev, &dmirror_driver);
		if (err)
			zd_device_del(&dm->dev);
	}
	if (err) {
		zd_put_device(&dm->dev);
		errno = -err;
		return NULL;
	}
	return dm;
}

int dmirror_unbind(struct dmirror *dm)
{
	return dm ? zd_device_unbind(&dm->dev) : -EINVAL;
}

int dmirror_rebind(struct dmirror *dm)
{
	return dm ? zd_device_bind(&dm->dev, &dmirror_driver) : -EINVAL;
}

void dmirror_destroy(struct dmirror *dm)
{
	if (dm)
		zd_device_unregister(&dm->dev);	/* unbinds */
}

struct zd_device *dmirror_device(struct dmirror *dm)
{
	return dm ? &dm->dev : NULL;
}

int dmirror_set_prefetch(struct dmirror *dm, unsigned long pages)
{
	if (!dm || !pages || pages > MAX_PREFETCH || (pages & (pages - 1)))
		return -EINVAL;
	atomic_store(&dm->prefetch, pages);
	return 0;
}

void dmirror_set_fail_faults(struct dmirror *dm, bool fail)
{
	if (dm)
		atomic_store(&dm->fail_faults, fail);
}

void dmirror_get_stats(struct dmirror *dm, struct dmirror_stats *s)
{
	if (!s)
		return;
	if (!dm) {
		memset(s, 0, sizeof(*s));
		return;
	}
	pthread_mutex_lock(&dm->lock);
	s->chunks = dm->nr_chunks;
	s->pages_in_use = dm->in_use;
	pthread_mutex_unlock(&dm->lock);
	s->page_free_calls = atomic_load(&dm->page_frees);
	s->migrate_to_ram_calls = atomic_load(&dm->faults);
}
