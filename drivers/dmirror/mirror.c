// SPDX-License-Identifier: MIT
/* dmirror: the mirror, the device's page table of one mm, filled through
 * zd_hmm_range_fault(). */
#include "internal.h"

static struct pt_block **pt_slot(struct mirror *m, unsigned long base)
{
	struct pt_block **b = &m->bucket[base & (m->nbuckets - 1)];

	while (*b && (*b)->base != base)
		b = &(*b)->next;
	return b;
}

/* Twice the buckets once there are more blocks than buckets. */
static int pt_grow(struct mirror *m)
{
	unsigned long n = m->nbuckets ? 2 * m->nbuckets : 16;
	struct pt_block **old = m->bucket, **nb = calloc(n, sizeof(*nb));
	unsigned long was = m->nbuckets;

	if (!nb)
		return -ENOMEM;
	m->bucket = nb;
	m->nbuckets = n;
	for (unsigned long i = 0; i < was; i++)
		while (old[i]) {
			struct pt_block *b = old[i], **slot;

			old[i] = b->next;
			b->next = NULL;
			slot = pt_slot(m, b->base);
			*slot = b;
		}
	free(old);
	return 0;
}

/* dm->lock held */
unsigned long dm_pt_get(struct mirror *m, unsigned long pn)
{
	struct pt_block *b = m->nbuckets ? *pt_slot(m, pn / PT_PAGES) : NULL;

	return b ? b->e[pn % PT_PAGES] : 0;
}

/* dm->lock held */
int dm_pt_set(struct mirror *m, unsigned long pn, unsigned long e)
{
	struct pt_block **slot;

	if (m->nblocks >= m->nbuckets && pt_grow(m))
		return -ENOMEM;
	slot = pt_slot(m, pn / PT_PAGES);
	if (!*slot) {
		*slot = calloc(1, sizeof(**slot));
		if (!*slot)
			return -ENOMEM;
		(*slot)->base = pn / PT_PAGES;
		m->nblocks++;
	}
	if (!(*slot)->e[pn % PT_PAGES]) {
		(*slot)->used++;
		m->entries++;
	}
	(*slot)->e[pn % PT_PAGES] = e;
	return 0;
}

/* Clear the entries of [first, last] in *@slot's block; free it if empty. */
static void pt_clear_block(struct mirror *m, struct pt_block **slot,
			   unsigned long first, unsigned long last)
{
	struct pt_block *b = *slot;
	unsigned long lo = b->base * PT_PAGES, hi = lo + PT_PAGES - 1;

	for (unsigned long pn = first > lo ? first : lo; pn <= (last < hi ? last : hi); pn++)
		if (b->e[pn % PT_PAGES]) {
			b->e[pn % PT_PAGES] = 0;
			b->used--;
			m->entries--;
		}
	if (!b->used) {
		*slot = b->next;
		free(b);
		m->nblocks--;
	}
}

/* Note that [start, end) was erased; dm->lock held. */
void dm_erase_log(struct mirror *m, unsigned long start, unsigned long end)
{
	m->log[m->erases % ERASE_LOG].start = start;
	m->log[m->erases % ERASE_LOG].end = end;
	m->erases++;
}

/* Erase the entries of [start, end); dm->lock held. */
void dm_pt_erase(struct mirror *m, unsigned long start, unsigned long end)
{
	unsigned long first = start / PAGE, last = (end - 1) / PAGE;

	if (!m->nblocks || end <= start)
		return;
	if (last / PT_PAGES - first / PT_PAGES < m->nblocks) {
		for (unsigned long base = first / PT_PAGES; base <= last / PT_PAGES; base++) {
			struct pt_block **slot = pt_slot(m, base);

			if (*slot)
				pt_clear_block(m, slot, first, last);
		}
		return;
	}
	for (unsigned long i = 0; i < m->nbuckets; i++)	/* a huge range */
		for (struct pt_block **slot = &m->bucket[i]; *slot;) {
			struct pt_block *b = *slot;

			pt_clear_block(m, slot, first, last);
			if (*slot == b)
				slot = &b->next;
		}
}

void dm_mirror_erase(struct mirror *m, unsigned long start, unsigned long end)
{
	dm_erase_log(m, start, end);
	dm_pt_erase(m, start, end);
}

/* Whether [start, end) was erased since m->erases was @since. */
bool dm_erased_since(struct mirror *m, unsigned long since,
		     unsigned long start, unsigned long end)
{
	if (m->erases - since > ERASE_LOG)
		return true;
	for (unsigned long q = since; q != m->erases; q++)
		if (m->log[q % ERASE_LOG].start < end && start < m->log[q % ERASE_LOG].end)
			return true;
	return false;
}

/*
 * The application changed the range, or another owner migrates it, or
 * the mm goes: the entries go before the change takes effect.  Our own
 * migrations are left to the migration code, which knows which entries
 * move (as the kernel's dmirror does).
 */
static bool mirror_invalidate(struct zd_mmu_interval_notifier *sub,
			      const struct zd_mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct mirror *m = mirror_of(sub);
	struct dmirror *dm = m->dm;

	if (range->event == ZD_MMU_NOTIFY_MIGRATE && range->owner == dm)
		return true;
	pthread_mutex_lock(&dm->lock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	dm_mirror_erase(m, range->start, range->end);
	dm->invalidations++;
	if (range->event == ZD_MMU_NOTIFY_RELEASE && !range->start && range->end == ULONG_MAX)
		m->dead = true;		/* zd_mm_destroy(): the notifier is gone too */
	pthread_mutex_unlock(&dm->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops mirror_ops = {
	.invalidate = mirror_invalidate,
};

static void mirror_free(struct mirror *m)
{
	zd_mmu_interval_notifier_remove(&m->notifier);
	for (unsigned long i = 0; i < m->nbuckets; i++)
		while (m->bucket[i]) {
			struct pt_block *b = m->bucket[i];

			m->bucket[i] = b->next;
			free(b);
		}
	free(m->bucket);
	free(m);
}

/* The live mirror of @mm; dm->lock held. */
struct mirror *dm_mirror_find(struct dmirror *dm, struct zd_mm *mm)
{
	for (struct mirror *m = dm->mirrors; m; m = m->next)
		if (m->mm == mm && !m->dead)
			return m;
	return NULL;
}

/* Unlink the mirrors of destroyed mms nobody uses; dm->lock held. */
static struct mirror *mirror_reap(struct dmirror *dm)
{
	struct mirror *gone = NULL;

	for (struct mirror **p = &dm->mirrors; *p;) {
		struct mirror *m = *p;

		if (m->dead && !m->users) {
			*p = m->next;
			m->next = gone;
			gone = m;
		} else {
			p = &m->next;
		}
	}
	return gone;
}

void dm_mirror_free_list(struct mirror *m)
{
	while (m) {
		struct mirror *next = m->next;

		mirror_free(m);
		m = next;
	}
}

/*
 * The mirror of @mm, made (and its notifier inserted) on first use; the
 * caller is a command, so an unbind does not free it meanwhile.  NULL
 * with -errno in *@err.
 */
struct mirror *dm_mirror_get(struct dmirror *dm, struct zd_mm *mm, int *err)
{
	struct mirror *m, *fresh, *gone;

	pthread_mutex_lock(&dm->lock);
	gone = mirror_reap(dm);
	m = dm_mirror_find(dm, mm);
	if (m)
		m->users++;
	pthread_mutex_unlock(&dm->lock);
	dm_mirror_free_list(gone);
	if (m)
		return m;
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		*err = -ENOMEM;
		return NULL;
	}
	fresh->dm = dm;
	fresh->mm = mm;
	*err = zd_mmu_interval_notifier_insert(&fresh->notifier, mm, 0,
					       ULONG_MAX & ~(PAGE - 1), &mirror_ops);
	if (*err) {
		free(fresh);
		return NULL;
	}
	pthread_mutex_lock(&dm->lock);
	m = dm_mirror_find(dm, mm);	/* another command's, made meanwhile */
	if (!m) {
		m = fresh;
		m->next = dm->mirrors;
		dm->mirrors = m;
		fresh = NULL;
	}
	m->users++;
	pthread_mutex_unlock(&dm->lock);
	if (fresh)
		mirror_free(fresh);
	return m;
}

void dm_mirror_put(struct mirror *m)
{
	pthread_mutex_lock(&m->dm->lock);
	m->users--;
	pthread_mutex_unlock(&m->dm->lock);
}

/*
 * A notifier on one range for one zd_hmm_range_fault() loop (the kernel's
 * snapshot does the same): its sequence moves only for changes of that
 * range, our own migrations included, so a read is retried for what it
 * read, not for every change anywhere in the mm.
 */
struct range_sub {
	struct zd_mmu_interval_notifier sub;
	struct dmirror *dm;
};

static bool range_invalidate(struct zd_mmu_interval_notifier *sub,
			     const struct zd_mmu_notifier_range *range,
			     unsigned long cur_seq)
{
	struct dmirror *dm = ((struct range_sub *)sub)->dm;

	(void)range;
	pthread_mutex_lock(&dm->lock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	pthread_mutex_unlock(&dm->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops range_ops = {
	.invalidate = range_invalidate,
};

long dm_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * The kernel's retry loop: read [start, end) (at most RANGE_PAGES) with
 * @flags until no change collided, then call @done under dm->lock with
 * the entries.  -EBUSY after ZD_HMM_RANGE_DEFAULT_TIMEOUT ms of
 * collisions; zd_hmm_range_fault()'s errors.
 */
int dm_range_read(struct dmirror *dm, struct zd_mm *mm, unsigned long start,
		  unsigned long end, unsigned long flags, unsigned long *pfns,
		  int (*done)(void *arg, const unsigned long *pfns), void *arg)
{
	struct range_sub rs = { .dm = dm };
	struct zd_hmm_range range = {
		.notifier = &rs.sub, .start = start, .end = end,
		.hmm_pfns = pfns, .default_flags = flags, .dev_private_owner = dm,
	};
	struct timespec t0;
	int err;

	err = zd_mmu_interval_notifier_insert(&rs.sub, mm, start, end - start, &range_ops);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (dm_ms_since(&t0) > ZD_HMM_RANGE_DEFAULT_TIMEOUT) {
			err = -EBUSY;
			break;
		}
		range.notifier_seq = zd_mmu_interval_read_begin(&rs.sub);
		err = zd_hmm_range_fault(&range);
		if (err == -EBUSY)
			continue;
		if (err)
			break;
		pthread_mutex_lock(&dm->lock);
		if (zd_mmu_interval_read_retry(&rs.sub, range.notifier_seq)) {
			pthread_mutex_unlock(&dm->lock);
			continue;
		}
		err = done(arg, pfns);
		pthread_mutex_unlock(&dm->lock);
		break;
	}
	zd_mmu_interval_notifier_remove(&rs.sub);
	return err;
}

struct fill {
	struct mirror *m;
	unsigned long start, npages;
};

/* The entry for one range_fault result, 0 for none; dm->lock held. */
static unsigned long mirror_entry(struct dmirror *dm, unsigned long pfn)
{
	struct zd_page *p;
	unsigned long e;

	if (!(pfn & ZD_HMM_PFN_VALID))
		return 0;
	p = zd_hmm_pfn_to_page(pfn);
	/* another device's private page is never reported valid; a coherent
	 * one is memory any device reaches, as the kernel's */
	if (p && p->pgmap->owner != dm && !zd_is_device_coherent_page(p))
		return 0;
	e = p ? (unsigned long)p | E_DEV : (unsigned long)zd_hmm_pfn_to_virt(pfn);
	if (!(e & ~E_FLAGS))
		return 0;
	return e | E_VALID | (pfn & ZD_HMM_PFN_WRITE ? E_WRITE : 0);
}

/* Install what was read; dm->lock held, no change collided. */
static int fill_done(void *arg, const unsigned long *pfns)
{
	struct fill *f = arg;

	for (unsigned long i = 0; i < f->npages; i++) {
		unsigned long e = mirror_entry(f->m->dm, pfns[i]);
		int err = e ? dm_pt_set(f->m, f->start / PAGE + i, e) : 0;

		if (err)
			return err;
	}
	return 0;
}

/*
 * Fill the mirror for [start, end) as the kernel's dmirror_fault() does:
 * with ZD_HMM_PFN_REQ_FAULT (and _WRITE) in @flags the pages are faulted
 * in and all entries installed; with 0 only those present are.
 */
int dm_mirror_fill(struct mirror *m, unsigned long start, unsigned long end,
		   unsigned long flags)
{
	unsigned long pfns[RANGE_PAGES];

	for (unsigned long a = start; a < end;) {
		unsigned long left = (end - a) / PAGE;
		unsigned long n = left < RANGE_PAGES ? left : RANGE_PAGES;
		struct fill f = { m, a, n };
		int err = dm_range_read(m->dm, m->mm, a, a + n * PAGE, flags, pfns,
				     fill_done, &f);

		if (err)
			return err;
		a += n * PAGE;
	}
	return 0;
}
