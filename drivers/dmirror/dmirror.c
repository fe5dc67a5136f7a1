// SPDX-License-Identifier: MIT
/* dmirror: see dmirror.h.  The device itself: commands entering and
 * leaving, unplug, bind and unbind; the rest has files of its own
 * (internal.h lists them). */
#include "internal.h"

/* ---- commands ------------------------------------------------------------ */

bool dm_cmd_bad(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	if (!dm || !cmd || !cmd->mm || !cmd->npages || (cmd->addr & (PAGE - 1)))
		return true;
	cmd->cpages = cmd->faults = 0;
	return false;
}

/* A command starts: -ENODEV once unbound (the unbind waits for those
 * that started before). */
int dm_cmd_enter(struct dmirror *dm)
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

int dm_cmd_exit(struct dmirror *dm, int err)
{
	pthread_mutex_lock(&dm->lock);
	if (!--dm->inflight)
		pthread_cond_broadcast(&dm->idle);
	pthread_mutex_unlock(&dm->lock);
	return err;
}

/* dm_cmd_enter() and the mirror of the command's mm; NULL with *@err set
 * (the command ended) if either fails. */
struct mirror *dm_cmd_enter_mirror(struct dmirror *dm,
				   struct dmirror_cmd *cmd, int *err)
{
	struct mirror *m;

	*err = dm_cmd_enter(dm);
	if (*err)
		return NULL;
	m = dm_mirror_get(dm, cmd->mm, err);
	if (!m)
		dm_cmd_exit(dm, *err);
	return m;
}

int dm_cmd_exit_mirror(struct mirror *m, int err)
{
	struct dmirror *dm = m->dm;

	dm_mirror_put(m);
	return dm_cmd_exit(dm, err);
}

bool dm_cmd_range_bad(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	return dm_cmd_bad(dm, cmd) || cmd->npages > (ULONG_MAX - cmd->addr) / PAGE;
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
			dst[i] = zd_migrate_virt(page_mem(p)) |
				 (c->dm->coherent ? 0 : ZD_MIGRATE_PFN_DONATE);
		}
		zd_migrate_device_pages(src, dst, n);
		zd_migrate_device_finalize(src, dst, n);
	}
	if (!src || !dst)
		fprintf(stderr, "dmirror: no memory to evict; pages are lost\n");
	free(src);
	free(dst);
}

/* Wait up to @ms for a page to be freed; whether pages are still in use. */
static bool wait_in_use(struct dmirror *dm, long ms)
{
	struct timespec ts;
	bool in_use;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_mutex_lock(&dm->lock);
	if (dm->in_use)
		pthread_cond_timedwait(&dm->idle, &dm->lock, &ts);
	in_use = dm->in_use;
	pthread_mutex_unlock(&dm->lock);
	return in_use;
}

/*
 * The kernel's HMM_DMIRROR_RELEASE: every page comes home as at unplug,
 * the device stays bound.  A page a fault is bringing home is skipped by
 * an eviction and freed by that fault: evict again until none is left.
 * Chunks are only added (at the head) while bound, so the list read
 * under the lock stays valid.
 */
int dmirror_release(struct dmirror *dm)
{
	struct dmirror_chunk *head;
	struct timespec t0;
	int err;

	if (!dm)
		return -EINVAL;
	err = dm_cmd_enter(dm);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		pthread_mutex_lock(&dm->lock);
		head = dm->chunks;
		pthread_mutex_unlock(&dm->lock);
		for (struct dmirror_chunk *c = head; c; c = c->next)
			chunk_evict(c);
		if (!wait_in_use(dm, 1))
			return dm_cmd_exit(dm, 0);
	} while (dm_ms_since(&t0) <= ZD_HMM_RANGE_DEFAULT_TIMEOUT);
	return dm_cmd_exit(dm, -EBUSY);
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
	struct mirror *gone;
	unsigned long in_use;

	pthread_mutex_lock(&dm->lock);
	dm->bound = false;
	while (dm->inflight)
		pthread_cond_wait(&dm->idle, &dm->lock);
	pthread_mutex_unlock(&dm->lock);
	do {
		for (struct dmirror_chunk *c = dm->chunks; c; c = c->next)
			chunk_evict(c);
		in_use = wait_in_use(dm, 1);
	} while (in_use);
	/* the chunks themselves are devres: they go after this returns */
	pthread_mutex_lock(&dm->lock);
	dm->chunks = NULL;
	dm->free_pages = NULL;
	dm->free_folios = NULL;
	dm->nr_chunks = 0;
	gone = dm->mirrors;	/* no command uses them now */
	dm->mirrors = NULL;
	pthread_mutex_unlock(&dm->lock);
	dm_mirror_free_list(gone);
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

static void dmirror_dev_release(struct zd_device *dev)
{
	struct dmirror *dm = (struct dmirror *)dev;

	pthread_cond_destroy(&dm->idle);
	pthread_rwlock_destroy(&dm->mig_lock);
	pthread_mutex_destroy(&dm->lock);
	free(dm);
}

static struct dmirror *create(int id, unsigned long chunk_bytes, bool coherent)
{
	struct dmirror *dm = calloc(1, sizeof(*dm));
	pthread_rwlockattr_t wr_first;
	int err;

	if (!dm)
		return NULL;
	if (!chunk_bytes || chunk_bytes % ZD_SECTION_SIZE) {
		free(dm);
		errno = EINVAL;
		return NULL;
	}
	/* a loop of reads must not keep migrations out */
	pthread_rwlockattr_init(&wr_first);
	pthread_rwlockattr_setkind_np(&wr_first, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&dm->mig_lock, &wr_first);
	pthread_rwlockattr_destroy(&wr_first);
	pthread_mutex_init(&dm->lock, NULL);
	pthread_cond_init(&dm->idle, NULL);
	dm->chunk_bytes = chunk_bytes;
	dm->coherent = coherent;
	atomic_store(&dm->prefetch, 1);
	zd_device_initialize(&dm->dev);
	dm->dev.release = dmirror_dev_release;
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

struct dmirror *dmirror_create(int id, unsigned long chunk_bytes)
{
	return create(id, chunk_bytes, false);
}

struct dmirror *dmirror_create_coherent(int id, unsigned long chunk_bytes)
{
	int err = zd_hmm_device_coherent_supported();

	if (err) {
		errno = -err;
		return NULL;
	}
	return create(id, chunk_bytes, true);
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

int dmirror_set_folio_order(struct dmirror *dm, unsigned int order)
{
	/* coherent memory is mapped page by page: no folios */
	if (!dm || (order && (order != ZD_HMM_FOLIO_ORDER || dm->coherent)))
		return -EINVAL;
	pthread_mutex_lock(&dm->lock);
	/* chunks added from now on are cut into folios; the pages free now
	 * stay pages, and folios already freed stay folios */
	__atomic_store_n(&dm->folio_order, order, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&dm->lock);
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
	s->invalidations = dm->invalidations;
	s->mirror_entries = 0;
	for (struct mirror *m = dm->mirrors; m; m = m->next)
		s->mirror_entries += m->entries;
	pthread_mutex_unlock(&dm->lock);
	s->page_free_calls = atomic_load(&dm->page_frees);
	s->migrate_to_ram_calls = atomic_load(&dm->faults);
	s->folio_splits = atomic_load(&dm->folio_splits);
}
