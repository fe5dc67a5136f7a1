// SPDX-License-Identifier: MIT
/*
 * EXCLUSIVE and CHECK_EXCLUSIVE, as the kernel's test driver does them:
 * the device takes the pages with zd_make_device_exclusive_range(),
 * notes each one as an atomic entry of its own, and reads the bytes back
 * for the test to check.  An interval notifier on the whole mm drops the
 * entries of any range that changes, so a CPU touch, which takes a page
 * back, leaves CHECK_EXCLUSIVE nothing to find.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kshim.h"

#define PAGE		((uintptr_t)zd_page_size())
#define BATCH		64	/* pages per call, as the kernel's driver */

struct kshim_excl {
	struct zd_mmu_interval_notifier sub;
	pthread_mutex_t lock;		/* the entries */
	uintptr_t *addr;		/* the atomic entries, unordered */
	size_t n, cap;
};

/* Drop the entries in [start, end); lock held. */
static void drop_range(struct kshim_excl *x, uintptr_t start, uintptr_t end)
{
	for (size_t i = 0; i < x->n;)
		if (x->addr[i] >= start && x->addr[i] < end)
			x->addr[i] = x->addr[--x->n];
		else
			i++;
}

static bool excl_invalidate(struct zd_mmu_interval_notifier *sub,
			    const struct zd_mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct kshim_excl *x = (struct kshim_excl *)sub;

	pthread_mutex_lock(&x->lock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	drop_range(x, range->start, range->end);
	pthread_mutex_unlock(&x->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops excl_ops = {
	.invalidate = excl_invalidate,
};

static struct kshim_excl *excl_of(struct kshim_mirror *m)
{
	struct kshim_excl *x = m->excl;

	if (x)
		return x;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	pthread_mutex_init(&x->lock, NULL);
	if (zd_mmu_interval_notifier_insert(&x->sub, m->mm, 0, UINTPTR_MAX & ~(PAGE - 1),
					    &excl_ops)) {
		pthread_mutex_destroy(&x->lock);
		free(x);
		return NULL;
	}
	return m->excl = x;
}

static int note_entry(struct kshim_excl *x, uintptr_t addr)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		uintptr_t *p = realloc(x->addr, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		x->addr = p;
		x->cap = cap;
	}
	x->addr[x->n++] = addr;
	return 0;
}

/* One batch: take the pages, note them, copy their bytes to @out; the
 * pages noted, or -errno. */
static long excl_batch(struct kshim_mirror *m, struct kshim_excl *x,
		       uintptr_t addr, unsigned long n, char *out)
{
	void *pages[BATCH];
	long got = zd_make_device_exclusive_range(m->mm, addr, addr + n * PAGE,
						  pages, NULL);
	long mapped = 0;

	if (got < 0)
		return got;
	pthread_mutex_lock(&x->lock);
	for (long i = 0; got == (long)n && i < got; i++)
		if (pages[i] && !note_entry(x, addr + i * PAGE)) {
			memcpy(out + i * PAGE, pages[i], PAGE);
			mapped++;
		}
	pthread_mutex_unlock(&x->lock);
	for (long i = 0; i < got; i++)
		if (pages[i])
			zd_put_device_exclusive_page(pages[i]);
	return mapped;
}

int kshim_cmd_exclusive(struct kshim_mirror *m, struct kshim_cmd *cmd)
{
	struct kshim_excl *x;
	struct kshim_seg *segs = NULL;
	char *buf = (char *)(uintptr_t)cmd->ptr;
	int err = kshim_segments(m->mm, cmd->addr, cmd->addr + cmd->npages * PAGE,
				 true, &segs);

	free(segs);		/* only to bring the memory under zonedev */
	if (err < 0)
		return err;
	x = excl_of(m);
	if (!x)
		return -ENOMEM;
	for (unsigned long done = 0; done < cmd->npages;) {
		unsigned long n = cmd->npages - done < BATCH ? cmd->npages - done : BATCH;
		long mapped = excl_batch(m, x, cmd->addr + done * PAGE, n,
					 buf + done * PAGE);

		if (mapped < 0)
			return (int)mapped;
		if ((unsigned long)mapped < n)
			return -EBUSY;
		done += n;
		cmd->cpages = done;
	}
	return 0;
}

int kshim_cmd_check_exclusive(struct kshim_mirror *m, struct kshim_cmd *cmd)
{
	struct kshim_excl *x = m->excl;
	uintptr_t start = cmd->addr, end = start + cmd->npages * PAGE;
	int err = 0;

	if (!x)
		return 0;
	pthread_mutex_lock(&x->lock);
	for (size_t i = 0; i < x->n && !err; i++)
		if (x->addr[i] >= start && x->addr[i] < end)
			err = -EPERM;
	pthread_mutex_unlock(&x->lock);
	return err;
}

void kshim_excl_free(struct kshim_mirror *m)
{
	struct kshim_excl *x = m->excl;

	if (!x)
		return;
	zd_mmu_interval_notifier_remove(&x->sub);
	pthread_mutex_destroy(&x->lock);
	free(x->addr);
	free(x);
	m->excl = NULL;
}
