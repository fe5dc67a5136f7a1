// SPDX-License-Identifier: MIT
/*
 * Interval notifiers of managed mms, after the interval part of
 * mm/mmu_notifier.c: a sequence count per mm, odd while changes that
 * overlap a notifier are being told, that lets a mirror's reader retry.
 *
 * One lock for every mm's notifier state: inserts, removes and the
 * bracket around a change are short and rare next to the changes
 * themselves; invalidate() runs outside it.  While the count is odd the
 * mm's list does not change (inserts and removes wait on a deferred list
 * until the last change ends), so invalidate() calls walk it unlocked.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "fault.h"
#include "internal.h"
#include "list.h"
#include "log.h"
#include "notifier.h"

/* The notifier state of one mm: created by the first insert, freed when
 * its last notifier goes or the mm does. */
struct mn_mm {
	struct zd_list_head node;	/* in mn_mms */
	struct zd_mm *mm;
	unsigned long seq;		/* even: quiet; odd: notifying */
	unsigned long active;		/* changes between start and end */
	struct zd_list_head subs;	/* live and removing notifiers */
	struct zd_list_head deferred;	/* inserted while notifying */
};

static pthread_mutex_t mn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mn_wq = PTHREAD_COND_INITIALIZER;
static struct zd_list_head mn_mms = { &mn_mms, &mn_mms };
/* how many mms have notifiers: changes of the others skip the lock */
static atomic_ulong mn_nr;

#define sub_of(pos)	zd_list_entry(pos, struct zd_mmu_interval_notifier, node)

/* The mm whose invalidate() calls this thread is making: a remove or a
 * read_begin on it there would wait for this very notification's end. */
static __thread struct zd_mm *telling;

bool zd_mn_telling(struct zd_mm *mm, const char *fn)
{
	if (!telling || telling != mm)
		return false;
	zd_warn("%s: called from an invalidate() of the same mm: it would "
		"wait for that notification, which waits for it", fn);
	return true;
}

static struct mn_mm *mn_find(struct zd_mm *mm)
{
	struct zd_list_head *pos;

	zd_list_for_each(pos, &mn_mms) {
		struct mn_mm *m = zd_list_entry(pos, struct mn_mm, node);

		if (m->mm == mm)
			return m;
	}
	return NULL;
}

static void mn_free_if_unused(struct mn_mm *m)
{
	if (m->active || !zd_list_empty(&m->subs) || !zd_list_empty(&m->deferred))
		return;
	zd_list_del_init(&m->node);
	atomic_fetch_sub(&mn_nr, 1);
	free(m);
}

/* Read unlocked by zd_mn_sub_inserted(). */
static void set_state(struct zd_mmu_interval_notifier *sub, int state)
{
	__atomic_store_n(&sub->state, state, __ATOMIC_RELAXED);
}

static bool notifying(const struct mn_mm *m)
{
	return m->seq & 1;
}

static bool overlaps(const struct zd_mmu_interval_notifier *sub,
		     unsigned long start, unsigned long end)
{
	return sub->start < end && start <= sub->last;
}

/* Whether @sub is on some mm's lists (its own memory says nothing: the
 * caller hands it over uninitialised); mn_lock held. */
static bool sub_linked(const struct zd_mmu_interval_notifier *sub)
{
	struct zd_list_head *pos, *q;

	zd_list_for_each(pos, &mn_mms) {
		struct mn_mm *m = zd_list_entry(pos, struct mn_mm, node);

		zd_list_for_each(q, &m->subs)
			if (q == &sub->node)
				return true;
		zd_list_for_each(q, &m->deferred)
			if (q == &sub->node)
				return true;
	}
	return false;
}

int zd_mmu_interval_notifier_insert(struct zd_mmu_interval_notifier *sub,
				    struct zd_mm *mm, unsigned long start,
				    unsigned long length,
				    const struct zd_mmu_interval_notifier_ops *ops)
{
	struct mn_mm *m;

	if (!sub || !mm || !ops || !ops->invalidate || !length ||
	    start + length - 1 < start) {
		zd_warn("bad argument: sub %p mm %p ops %p start %#lx length %#lx "
			"(ops->invalidate needed; length not zero, no overflow)",
			(void *)sub, (void *)mm, (const void *)ops, start, length);
		return -EINVAL;
	}
	pthread_mutex_lock(&mn_lock);
	if (sub_linked(sub)) {
		pthread_mutex_unlock(&mn_lock);
		zd_warn("notifier %p is inserted already", (void *)sub);
		return -EINVAL;
	}
	m = mn_find(mm);
	if (!m) {
		m = zd_zalloc("hmm.notifier", sizeof(*m));
		if (!m) {
			pthread_mutex_unlock(&mn_lock);
			return -ENOMEM;
		}
		m->mm = mm;
		m->seq = 2;
		zd_list_init(&m->subs);
		zd_list_init(&m->deferred);
		zd_list_add_tail(&m->node, &mn_mms);
		atomic_fetch_add(&mn_nr, 1);
	}
	*sub = (struct zd_mmu_interval_notifier){
		.mm = mm, .ops = ops, .start = start, .last = start + length - 1,
		.mn = m,
	};
	if (notifying(m)) {
		/* a change being told may have missed it: read_begin must
		 * wait for the end (its seq equals the count until then) */
		sub->invalidate_seq = m->seq;
		set_state(sub, SUB_INSERTING);
		zd_list_add_tail(&sub->node, &m->deferred);
	} else {
		/* odd, and not the count: read_begin does not wait */
		sub->invalidate_seq = m->seq - 1;
		set_state(sub, SUB_LIVE);
		zd_list_add_tail(&sub->node, &m->subs);
	}
	pthread_mutex_unlock(&mn_lock);
	return 0;
}

void zd_mmu_interval_notifier_remove(struct zd_mmu_interval_notifier *sub)
{
	struct mn_mm *m;

	pthread_mutex_lock(&mn_lock);
	if (!sub || (sub->state != SUB_LIVE && sub->state != SUB_INSERTING &&
		     sub->state != SUB_RELEASED)) {
		pthread_mutex_unlock(&mn_lock);
		zd_warn("sub %p is not an inserted notifier", (void *)sub);
		return;
	}
	m = sub->mn;
	if (sub->state == SUB_RELEASED) {
		set_state(sub, SUB_NONE);		/* its mm is gone */
		pthread_mutex_unlock(&mn_lock);
		return;
	}
	if (notifying(m) && zd_mn_telling(m->mm, __func__)) {
		pthread_mutex_unlock(&mn_lock);	/* @sub stays inserted */
		return;
	}
	if (sub->state == SUB_INSERTING || !notifying(m)) {
		zd_list_del_init(&sub->node);
		set_state(sub, SUB_NONE);
		mn_free_if_unused(m);
		pthread_mutex_unlock(&mn_lock);
		return;
	}
	/* invalidate() calls may be walking the list or running on @sub:
	 * the last change's end unlinks it, and we wait for that */
	set_state(sub, SUB_REMOVING);
	while (sub->state == SUB_REMOVING)	/* @m may be freed meanwhile */
		pthread_cond_wait(&mn_wq, &mn_lock);
	pthread_mutex_unlock(&mn_lock);
}

unsigned long zd_mmu_interval_read_begin(struct zd_mmu_interval_notifier *sub)
{
	struct mn_mm *m;
	unsigned long seq;

	pthread_mutex_lock(&mn_lock);
	if (!sub || (sub->state != SUB_LIVE && sub->state != SUB_INSERTING)) {
		pthread_mutex_unlock(&mn_lock);
		if (!sub || sub->state != SUB_RELEASED)
			zd_warn("sub %p is not an inserted notifier", (void *)sub);
		return sub ? sub->invalidate_seq : 0;
	}
	m = sub->mn;
	seq = __atomic_load_n(&sub->invalidate_seq, __ATOMIC_RELAXED);
	if (seq == m->seq && zd_mn_telling(m->mm, __func__)) {
		pthread_mutex_unlock(&mn_lock);
		return seq;	/* what it returns after the wait */
	}
	/* equal: a change overlapping @sub is being told right now */
	while (seq == m->seq)
		pthread_cond_wait(&mn_wq, &mn_lock);
	pthread_mutex_unlock(&mn_lock);
	return seq;
}

bool zd_mmu_interval_read_retry(struct zd_mmu_interval_notifier *sub,
				unsigned long seq)
{
	return __atomic_load_n(&sub->invalidate_seq, __ATOMIC_RELAXED) != seq;
}

bool zd_mmu_interval_check_retry(struct zd_mmu_interval_notifier *sub,
				 unsigned long seq)
{
	return __atomic_load_n(&sub->invalidate_seq, __ATOMIC_RELAXED) != seq;
}

void zd_mmu_interval_set_seq(struct zd_mmu_interval_notifier *sub,
			     unsigned long cur_seq)
{
	__atomic_store_n(&sub->invalidate_seq, cur_seq, __ATOMIC_RELAXED);
}

bool zd_mmu_notifier_range_blockable(const struct zd_mmu_notifier_range *range)
{
	return range && (range->flags & ZD_MMU_NOTIFIER_RANGE_BLOCKABLE);
}

/* ---- the hooks ---------------------------------------------------------- */

struct mn_mm *zd_mn_start(struct zd_mm *mm, enum zd_mmu_notifier_event event,
			  unsigned long start, unsigned long end, void *owner)
{
	struct zd_mmu_notifier_range range = {
		.mm = mm, .start = start, .end = end, .event = event,
		.flags = ZD_MMU_NOTIFIER_RANGE_BLOCKABLE, .owner = owner,
	};
	struct zd_list_head *pos;
	unsigned long cur_seq;
	struct zd_mm *was;
	bool any = false;
	struct mn_mm *m;

	if (!atomic_load(&mn_nr) || start >= end)
		return NULL;
	pthread_mutex_lock(&mn_lock);
	m = mn_find(mm);
	if (m) {
		m->active++;
		zd_list_for_each(pos, &m->subs)
			any |= overlaps(sub_of(pos), start, end);
		if (any)
			m->seq |= 1;
		cur_seq = m->seq;
	}
	pthread_mutex_unlock(&mn_lock);
	if (!any)
		return m;
	/* the list stands still until our end: the count is odd */
	was = telling;
	telling = mm;
	zd_list_for_each(pos, &m->subs) {
		struct zd_mmu_interval_notifier *sub = sub_of(pos);

		if (overlaps(sub, start, end) && !sub->ops->invalidate(sub, &range, cur_seq))
			zd_warn("invalidate() of notifier %p returned false for a "
				"range that may sleep", (void *)sub);
	}
	telling = was;
	return m;
}

void zd_mn_end(struct mn_mm *m)
{
	struct zd_list_head *pos, *next;

	if (!m)
		return;
	pthread_mutex_lock(&mn_lock);
	if (--m->active || !notifying(m)) {
		mn_free_if_unused(m);
		pthread_mutex_unlock(&mn_lock);
		return;
	}
	m->seq++;
	/* what waited for the quiet: removes go, inserts come in */
	for (pos = m->subs.next; pos != &m->subs; pos = next) {
		next = pos->next;
		if (sub_of(pos)->state == SUB_REMOVING) {
			zd_list_del_init(pos);
			set_state(sub_of(pos), SUB_NONE);
		}
	}
	while (!zd_list_empty(&m->deferred)) {
		struct zd_mmu_interval_notifier *sub = sub_of(m->deferred.next);

		zd_list_move_tail(&sub->node, &m->subs);
		set_state(sub, SUB_LIVE);
	}
	pthread_cond_broadcast(&mn_wq);
	mn_free_if_unused(m);
	pthread_mutex_unlock(&mn_lock);
}

/* In the child, the parent's notifiers are gone with its mms (as the
 * kernel's child mm starts with none); their memory may be the stacks
 * of threads the child does not have, so nothing of them is read. */
void zd_hmm_notifier_fork(enum hmm_fork stage)
{
	hmm_fork_mutex(&mn_lock, stage);
	if (stage != HMM_FORK_CHILD)
		return;
	pthread_cond_init(&mn_wq, NULL);
	while (!zd_list_empty(&mn_mms)) {
		struct zd_list_head *pos = mn_mms.next;

		zd_list_del_init(pos);
		free(zd_list_entry(pos, struct mn_mm, node));
	}
	atomic_store(&mn_nr, 0);
}

bool zd_mn_wanted(struct zd_mm *mm, unsigned long start, unsigned long end,
		  bool removing)
{
	bool want = false;

	if (!atomic_load(&mn_nr))
		return false;		/* nobody to tell */
	pthread_mutex_lock(&mm->lock);
	for (uintptr_t a = start & ~(page_bytes() - 1); a < end && !want;
	     a += page_bytes()) {
		uintptr_t *pte = zd_hmm_pte(mm, a);

		want = pte && !(removing && (*pte & PTE_DISCARD));
	}
	pthread_mutex_unlock(&mm->lock);
	return want;
}

void zd_mn_mm_gone(struct zd_mm *mm)
{
	struct mn_mm *m;

	if (!atomic_load(&mn_nr))
		return;
	pthread_mutex_lock(&mn_lock);
	m = mn_find(mm);
	if (m) {
		while (!zd_list_empty(&m->subs) || !zd_list_empty(&m->deferred)) {
			struct zd_list_head *h = zd_list_empty(&m->subs) ?
						 &m->deferred : &m->subs;
			struct zd_mmu_interval_notifier *sub = sub_of(h->next);

			zd_list_del_init(&sub->node);
			set_state(sub, SUB_RELEASED);
		}
		mn_free_if_unused(m);
	}
	pthread_mutex_unlock(&mn_lock);
}
