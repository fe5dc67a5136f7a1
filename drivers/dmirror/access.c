// SPDX-License-Identifier: MIT
/* dmirror: the device's reads and writes, through its mirror. */
#include "internal.h"

/* One batch of a command: entries copied from the mirror, with a
 * reference on each device page (so that it is not freed meanwhile). */
struct view {
	unsigned long e[RANGE_PAGES];
	unsigned long n, since;
};

/*
 * Take up to RANGE_PAGES entries of [addr, addr + npages pages) from the
 * mirror, stopping at the first missing one (or read-only one, for
 * @write); a reference on each device page.  dm->lock held.
 */
static void view_take(struct mirror *m, unsigned long addr, unsigned long npages,
		      bool write, struct view *v)
{
	v->n = 0;
	v->since = m->erases;
	while (v->n < npages && v->n < RANGE_PAGES) {
		unsigned long e = dm_pt_get(m, addr / PAGE + v->n);

		if (!e || (write && !(e & E_WRITE)))
			break;
		if (e & E_DEV)
			zd_get_page((struct zd_page *)(e & ~E_FLAGS));
		v->e[v->n++] = e;
	}
}

static void view_put(struct view *v)
{
	for (unsigned long i = 0; i < v->n; i++)
		if (v->e[i] & E_DEV)
			zd_put_page((struct zd_page *)(v->e[i] & ~E_FLAGS));
}

/*
 * Copy a page between the device and @buf.  A device page's memory
 * directly: held, it is not freed, but a migration that collected it
 * just before the reference was taken may still move its memory home
 * (the erasure check after the copy catches that).  A host page through
 * the CPU, outside dm->lock
 * (the copy may fault on the fault thread, whose invalidate() takes
 * dm->lock); an application's munmap may come first (here the kernel
 * would have blocked it until the copy ended): false then.
 */
static bool copy_page(unsigned long e, char *buf, bool write, struct zd_mm *mm)
{
	char *p = (char *)(e & ~E_FLAGS);

	if (e & E_DEV) {
		char *mem = dev_mem((struct zd_page *)p);

		if (write) {
			memcpy(mem, buf, PAGE);
			dev_wrote(mem);
		} else {
			dev_read(mem);
			memcpy(buf, mem, PAGE);
		}
		return true;
	}
	return zd_access_remote_vm(mm, (unsigned long)p, buf, (int)PAGE,
				   write ? ZD_FOLL_WRITE : 0) == (int)PAGE;
}

/*
 * The kernel's read and write loops: copy from the mirror while it has
 * the pages; where it has not, fill it through zd_hmm_range_fault()
 * (faults counts those rounds, as the kernel's) and go on.  The copy
 * runs outside dm->lock, so it is checked afterwards against the
 * erasures meanwhile and redone if its entries went (a migration may
 * have taken the page before a write reached it); a host copy that
 * failed drops its entry, and the refill says why (-EFAULT, -EPERM).
 */
static int mirror_access(struct mirror *m, struct dmirror_cmd *cmd, bool write)
{
	struct dmirror *dm = m->dm;
	unsigned long end = cmd->addr + cmd->npages * PAGE;
	struct view v;
	struct timespec t0;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < cmd->npages && !err;) {
		unsigned long addr = cmd->addr + i * PAGE, done = 0;
		bool stale;

		pthread_rwlock_rdlock(&dm->mig_lock);
		pthread_mutex_lock(&dm->lock);
		view_take(m, addr, cmd->npages - i, write, &v);
		pthread_mutex_unlock(&dm->lock);
		if (!v.n) {
			err = dm_mirror_fill(m, addr, end, ZD_HMM_PFN_REQ_FAULT |
					  (write ? ZD_HMM_PFN_REQ_WRITE : 0));
			pthread_rwlock_unlock(&dm->mig_lock);
			cmd->faults += !err;
			continue;
		}
		while (done < v.n && copy_page(v.e[done], (char *)cmd->ptr + (i + done) * PAGE,
					       write, cmd->mm))
			done++;
		view_put(&v);
		pthread_mutex_lock(&dm->lock);
		stale = dm_erased_since(m, v.since, addr, addr + v.n * PAGE);
		if (!stale && done < v.n)	/* gone under the copy: refill */
			dm_mirror_erase(m, addr + done * PAGE, addr + (done + 1) * PAGE);
		pthread_mutex_unlock(&dm->lock);
		pthread_rwlock_unlock(&dm->mig_lock);
		if (stale)
			done = 0;
		i += done;
		cmd->cpages += done;
		if (done)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		else if (dm_ms_since(&t0) > ZD_HMM_RANGE_DEFAULT_TIMEOUT)
			err = stale ? -EBUSY : -EFAULT;
	}
	return err;
}

static int access_range(struct dmirror *dm, struct dmirror_cmd *cmd, bool write)
{
	struct mirror *m;
	int err;

	if (dm_cmd_range_bad(dm, cmd) || !cmd->ptr)
		return -EINVAL;
	m = dm_cmd_enter_mirror(dm, cmd, &err);
	if (!m)
		return err;
	return dm_cmd_exit_mirror(m, mirror_access(m, cmd, write));
}

int dmirror_read(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	return access_range(dm, cmd, false);
}

int dmirror_write(struct dmirror *dm, struct dmirror_cmd *cmd)
{
	return access_range(dm, cmd, true);
}

/* Take the device pages of a batch, held; *@missing: entries absent. */
static unsigned long dev_take(struct mirror *m, unsigned long addr, unsigned long n,
			      struct zd_page **held, bool *missing)
{
	unsigned long k = 0;

	*missing = false;
	pthread_mutex_lock(&m->dm->lock);
	for (unsigned long i = 0; i < n; i++) {
		unsigned long e = dm_pt_get(m, addr / PAGE + i);

		*missing |= !e;
		if (e & E_DEV) {
			held[k] = (struct zd_page *)(e & ~E_FLAGS);
			zd_get_page(held[k++]);
		}
	}
	pthread_mutex_unlock(&m->dm->lock);
	return k;
}

/*
 * Device compute on the pages of the range that are in its memory, as
 * the mirror has them; where it has no entry, it learns the page's state
 * first without faulting anything in.  Each page is held while @fn runs.
 */
static int mirror_transform(struct mirror *m, struct dmirror_cmd *cmd,
			    void (*fn)(void *page, size_t len, void *arg), void *arg)
{
	struct zd_page *held[RANGE_PAGES];

	for (unsigned long i = 0; i < cmd->npages; i += RANGE_PAGES) {
		unsigned long addr = cmd->addr + i * PAGE, k;
		unsigned long n = cmd->npages - i < RANGE_PAGES ? cmd->npages - i : RANGE_PAGES;
		bool missing;

		pthread_rwlock_rdlock(&m->dm->mig_lock);
		k = dev_take(m, addr, n, held, &missing);
		if (missing) {
			int err;

			while (k)
				zd_put_page(held[--k]);
			err = dm_mirror_fill(m, addr, addr + n * PAGE, 0);
			if (err) {
				pthread_rwlock_unlock(&m->dm->mig_lock);
				return err;
			}
			k = dev_take(m, addr, n, held, &missing);
		}
		pthread_rwlock_unlock(&m->dm->mig_lock);
		for (unsigned long j = 0; j < k; j++) {
			if (held[j]->pgmap->owner != m->dm) {	/* coherent */
				zd_put_page(held[j]);
				continue;
			}
			dev_read(page_mem(held[j]));
			fn(page_mem(held[j]), PAGE, arg);
			dev_wrote(page_mem(held[j]));
			zd_put_page(held[j]);
			cmd->cpages++;
		}
	}
	return 0;
}

int dmirror_transform(struct dmirror *dm, struct dmirror_cmd *cmd,
		      void (*fn)(void *page, size_t len, void *arg), void *arg)
{
	struct mirror *m;
	int err;

	if (dm_cmd_range_bad(dm, cmd) || !fn)
		return -EINVAL;
	m = dm_cmd_enter_mirror(dm, cmd, &err);
	if (!m)
		return err;
	return dm_cmd_exit_mirror(m, mirror_transform(m, cmd, fn, arg));
}
