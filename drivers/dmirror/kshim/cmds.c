// SPDX-License-Identifier: MIT
/*
 * The ioctl table: each command of the kernel's HMM test device, done
 * with dmirror and zonedev the way lib/test_hmm.c does it with the
 * kernel's mm.  What the kernel reports is kept: cpages (pages copied,
 * moved or snapshotted), faults (1 when the device had to fault the
 * range into its mirror; the shim keeps no mirror between commands, so
 * that is whenever a page is not already its own device page, where the
 * kernel's warm mirror would say 0 on a second read),
 * and its error codes: -EINVAL for a bad argument or a migration over a
 * hole or unreadable memory, -EFAULT for a device access to a hole or
 * PROT_NONE, -EPERM for a device write to read-only memory, -ENOENT when
 * a page did not reach the device.
 *
 * Memory zonedev manages goes through dmirror (reads, writes,
 * migrations) and zd_hmm_range_fault() (access checks, snapshots);
 * other memory through the CPU (memory.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kshim.h"

#define PAGE		((uintptr_t)zd_page_size())
#define npages_of(s)	(((s)->end - (s)->start) / PAGE)

/* ---- zd_hmm_range_fault with a notifier of its own, as test_hmm's
 * snapshot registers a temporary one ---- */

struct tmp_sub {
	struct zd_mmu_interval_notifier sub;
	pthread_mutex_t lock;
};

static bool tmp_invalidate(struct zd_mmu_interval_notifier *sub,
			   const struct zd_mmu_notifier_range *range,
			   unsigned long cur_seq)
{
	struct tmp_sub *t = (struct tmp_sub *)sub;

	pthread_mutex_lock(&t->lock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	pthread_mutex_unlock(&t->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops tmp_ops = {
	.invalidate = tmp_invalidate,
};

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read [s->start, s->end) into @pfns with @flags requested for every page. */
static int range_fault(struct kshim_mirror *m, const struct kshim_seg *s,
		       unsigned long flags, unsigned long *pfns)
{
	struct tmp_sub t = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct zd_hmm_range r = {
		.notifier = &t.sub, .start = s->start, .end = s->end,
		.hmm_pfns = pfns, .default_flags = flags,
		.dev_private_owner = m->dm,
	};
	long deadline = ms_now() + ZD_HMM_RANGE_DEFAULT_TIMEOUT;
	int err = zd_mmu_interval_notifier_insert(&t.sub, m->mm, s->start,
						  s->end - s->start, &tmp_ops);

	if (err)
		return err;
	for (;;) {
		bool retry;

		r.notifier_seq = zd_mmu_interval_read_begin(&t.sub);
		err = zd_hmm_range_fault(&r);
		if (err == -EBUSY && ms_now() < deadline)
			continue;
		if (err)
			break;
		pthread_mutex_lock(&t.lock);
		retry = zd_mmu_interval_read_retry(&t.sub, r.notifier_seq);
		pthread_mutex_unlock(&t.lock);
		if (!retry || ms_now() >= deadline) {
			err = retry ? -EBUSY : 0;
			break;
		}
	}
	zd_mmu_interval_notifier_remove(&t.sub);
	pthread_mutex_destroy(&t.lock);
	return err;
}

/* Whether @p is @m's device memory: dmirror's pgmap owner is the struct
 * dmirror itself (the one place the shim relies on that). */
static bool dm_owns(struct kshim_mirror *m, const struct zd_page *p)
{
	return p && p->pgmap->owner == (void *)m->dm;
}

static bool own_page(struct kshim_mirror *m, unsigned long hmm_pfn)
{
	return dm_owns(m, zd_hmm_pfn_to_page(hmm_pfn));
}

static struct dmirror_cmd dcmd(struct kshim_mirror *m, const struct kshim_seg *s,
			       void *buf)
{
	return (struct dmirror_cmd){ .mm = m->mm, .addr = s->start,
				     .npages = npages_of(s), .ptr = buf };
}

static int segments(struct kshim_mirror *m, struct kshim_cmd *cmd, bool manage,
		    struct kshim_seg **segs)
{
	uintptr_t s = cmd->addr;

	return kshim_segments(m->mm, s, s + cmd->npages * PAGE, manage, segs);
}

/* ---- READ, WRITE ---- */

/* Whether the device may access @s (faulting it into its mirror, as
 * test_hmm's dmirror_fault); *@fault set if a page was not its own. */
static int access_check(struct kshim_mirror *m, const struct kshim_seg *s,
			bool write, bool *fault)
{
	unsigned long *pfns;
	int err;

	if (!s->mapped || !s->readable)
		return -EFAULT;
	if (write && !s->writable)
		return -EPERM;
	if (!s->managed) {
		*fault = true;
		return 0;
	}
	pfns = calloc(npages_of(s), sizeof(*pfns));
	if (!pfns)
		return -ENOMEM;
	err = range_fault(m, s, ZD_HMM_PFN_REQ_FAULT |
			  (write ? ZD_HMM_PFN_REQ_WRITE : 0), pfns);
	for (unsigned long i = 0; !err && i < npages_of(s); i++)
		*fault |= !own_page(m, pfns[i]);
	free(pfns);
	return err;
}

static int cmd_access(struct kshim_mirror *m, struct kshim_cmd *cmd, bool write)
{
	struct kshim_seg *segs = NULL;
	int n = segments(m, cmd, true, &segs), err = 0;
	bool fault = false;

	if (n < 0)
		return n;
	/* all of it first: on an error the kernel's device copied nothing */
	for (int i = 0; i < n && !err; i++)
		err = access_check(m, &segs[i], write, &fault);
	for (int i = 0; i < n && !err; i++) {
		struct kshim_seg *s = &segs[i];
		char *buf = (char *)(uintptr_t)cmd->ptr + (s->start - cmd->addr);

		if (s->managed) {
			struct dmirror_cmd dc = dcmd(m, s, buf);

			err = write ? dmirror_write(m->dm, &dc) : dmirror_read(m->dm, &dc);
			cmd->cpages += dc.cpages;
		} else {
			err = kshim_cpu_copy(s->start, buf, s->end - s->start, write);
			cmd->cpages += err ? 0 : npages_of(s);
		}
	}
	cmd->faults = fault;
	free(segs);
	return err;
}

static int cmd_read(struct kshim_mirror *m, struct kshim_cmd *cmd)
{
	return cmd_access(m, cmd, false);
}

static int cmd_write(struct kshim_mirror *m, struct kshim_cmd *cmd)
{
	return cmd_access(m, cmd, true);
}

/* ---- MIGRATE_TO_DEV, MIGRATE_TO_SYS ---- */

static int cmd_to_dev(struct kshim_mirror *m, struct kshim_cmd *cmd)
{
	struct kshim_seg *segs = NULL;
	bool missing = false;
	int n, err = 0;

	/* private file memory the application wrote in full can migrate */
	n = segments(m, cmd, false, &segs);
	for (int i = 0; i < n; i++)
		if (segs[i].mapped && segs[i].readable && !segs[i].anon &&
		    !segs[i].shared)
			kshim_file_private_to_anon(segs[i].start, segs[i].end);
	free(segs);
	segs = NULL;
	n = segments(m, cmd, true, &segs);
	if (n < 0)
		return n;
	/* in order, as the kernel's: a hole or unreadable memory stops it */
	for (int i = 0; i < n && !err; i++) {
		struct dmirror_cmd dc = dcmd(m, &segs[i], NULL);

		if (!segs[i].mapped || !segs[i].readable)
			err = -EINVAL;
		else if (!segs[i].managed)
			missing = true;		/* nothing of it migrates */
		else if ((err = dmirror_migrate_to_device(m->dm, &dc)) == -ENOENT) {
			missing = true;
			err = 0;
		}
	}
	if (!err && missing)
		err = -ENOENT;
	/* then, as the kernel's, the device's copy for the caller to check */
	for (int i = 0; i < n && !err; i++) {
		struct dmirror_cmd dc = dcmd(m, &segs[i], (char *)(uintptr_t)cmd->ptr +
					     (segs[i].start - cmd->addr));

		err = dmirror_read(m->dm, &dc);
		cmd->cpages += dc.cpages;
	}
	free(segs);
	return err;
}

static int cmd_to_sys(struct kshim_mirror *m, struct kshim_cmd *cmd)
{
	struct kshim_seg *segs = NULL;
	int n = segments(m, cmd, false, &segs), err = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n && !err; i++) {
		struct dmirror_cmd dc = dcmd(m, &segs[i], NULL);

		if (!segs[i].mapped || !segs[i].readable)
			err = -EINVAL;
		else if (segs[i].managed) {
			err = dmirror_migrate_to_system(m->dm, &dc);
			cmd->cpages += dc.cpages;
		}
	}
	free(segs);
	return err;
}

/* ---- SNAPSHOT ---- */

static unsigned char host_entry(const struct kshim_seg *s, bool present,
				bool writable, uint64_t pm)
{
	unsigned char e;

	if (!present)
		return KSHIM_PROT_NONE;
	e = kshim_is_zero_page(pm, s->anon) ? KSHIM_PROT_ZERO : KSHIM_PROT_NONE;
	return e | (writable ? KSHIM_PROT_WRITE : KSHIM_PROT_READ);
}

/* As test_hmm's dmirror_mkentry, from a zd_hmm_range_fault() entry. */
static unsigned char managed_entry(struct kshim_mirror *m,
				   const struct kshim_seg *s, unsigned long e,
				   uint64_t pm)
{
	struct zd_page *p;

	if (e & ZD_HMM_PFN_ERROR)
		return KSHIM_PROT_ERROR;
	if (!(e & ZD_HMM_PFN_VALID))
		return KSHIM_PROT_NONE;
	if (e & ZD_HMM_PFN_SYSTEM)
		return host_entry(s, true, e & ZD_HMM_PFN_WRITE, pm);
	p = zd_hmm_pfn_to_page(e);
	if (zd_is_device_coherent_page(p))
		return (dm_owns(m, p) ? KSHIM_PROT_DEV_COHERENT_LOCAL :
			KSHIM_PROT_DEV_COHERENT_REMOTE) |
		       (e & ZD_HMM_PFN_WRITE ? KSHIM_PROT_WRITE : KSHIM_PROT_READ);
	return (dm_owns(m, p) ?
		KSHIM_PROT_DEV_PRIVATE_LOCAL : KSHIM_PROT_DEV_PRIVATE_REMOTE) |
	       (e & ZD_HMM_PFN_WRITE ? KSHIM_PROT_WRITE : KSHIM_PROT_READ);
}

/* The pagemap says it; private memory is writable where the page is
 * the mapping's own (not the file's, not shared after a fork).  A huge
 * page (hugetlbfs) is mapped by one PMD or PUD entry, as the kernel's
 * driver reports from hmm_pfn_to_map_order(). */
static unsigned char other_entry(const struct kshim_seg *s, uint64_t pm)
{
	bool w = s->writable && (s->shared ||
		 (!(pm & KSHIM_PM_FILE) && (pm & KSHIM_PM_EXCLUSIVE)));
	unsigned char e = host_entry(s, pm & KSHIM_PM_PRESENT, w, pm);

	if (!(pm & KSHIM_PM_PRESENT))
		return e;
	if (s->map_shift == zd_page_shift + 9)
		e |= KSHIM_PROT_PMD;
	else if (s->map_shift == zd_page_shift + 18)
		e |= KSHIM_PROT_PUD;
	return e;
}

static int snapshot_seg(struct kshim_mirror *m, const struct kshim_seg *s,
			unsigned char *out)
{
	unsigned long n = npages_of(s), *pfns = NULL;
	uint64_t *pm = calloc(n, sizeof(*pm));
	int err = pm ? 0 : -ENOMEM;

	if (!err && (!s->mapped || !s->readable)) {
		memset(out, KSHIM_PROT_ERROR, n);
		goto out;
	}
	if (!err)
		err = kshim_pagemap(s->start, n, pm);
	if (!err && s->managed) {
		pfns = calloc(n, sizeof(*pfns));
		err = pfns ? range_fault(m, s, 0, pfns) : -ENOMEM;
	}
	for (unsigned long i = 0; !err && i < n; i++)
		out[i] = s->managed ? managed_entry(m, s, pfns[i], pm[i])
				    : other_entry(s, pm[i]);
out:
	free(pfns);
	free(pm);
	return err;
}

static int cmd_snapshot(struct kshim_mirror *m, struct kshim_cmd *cmd)
{
	struct kshim_seg *segs = NULL;
	int n = segments(m, cmd, true, &segs), err = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n && !err; i++) {
		err = snapshot_seg(m, &segs[i], (unsigned char *)(uintptr_t)cmd->ptr +
				   (segs[i].start - cmd->addr) / PAGE);
		cmd->cpages += err ? 0 : npages_of(&segs[i]);
	}
	free(segs);
	return err;
}

/* ---- RELEASE ---- */

/* Every page of the device comes home; the device stays. */
static int cmd_release(struct kshim_mirror *m, struct kshim_cmd *cmd)
{
	(void)cmd;
	return dmirror_release(m->dm);
}

static const struct {
	unsigned long request;
	const char *name;
	int (*run)(struct kshim_mirror *m, struct kshim_cmd *cmd);
	const char *unsupported;	/* why, where zonedev cannot do it yet */
} cmds[] = {
	{ KSHIM_IOC(0), "READ", cmd_read, NULL },
	{ KSHIM_IOC(1), "WRITE", cmd_write, NULL },
	{ KSHIM_IOC(2), "MIGRATE_TO_DEV", cmd_to_dev, NULL },
	{ KSHIM_IOC(3), "MIGRATE_TO_SYS", cmd_to_sys, NULL },
	{ KSHIM_IOC(4), "SNAPSHOT", cmd_snapshot, NULL },
	{ KSHIM_IOC(5), "EXCLUSIVE", kshim_cmd_exclusive, NULL },
	{ KSHIM_IOC(6), "CHECK_EXCLUSIVE", kshim_cmd_check_exclusive, NULL },
	{ KSHIM_IOC(7), "RELEASE", cmd_release, NULL },
};

void kshim_note(const char *what)
{
	fprintf(stderr, "# kshim: %s\n", what);
}

/*
 * A command zonedev cannot do yet: the kernel's test would fail on the
 * error, which says nothing about what zonedev does.  Where the test
 * runs as a kselftest harness case (its own process), that case ends as
 * skipped with the reason (exit status KSHIM_SKIP_STATUS: 4, the
 * harness's KSFT_SKIP; 255 for harnesses before Linux 6.3), unless
 * KSHIM_UNSUPPORTED=error asks for the error itself.
 */
static int unsupported(const char *name, const char *why)
{
	const char *mode = getenv("KSHIM_UNSUPPORTED");
	char msg[256];

	snprintf(msg, sizeof(msg), "HMM_DMIRROR_%s: %s%s", name, why,
		 mode && !strcmp(mode, "error") ? "" : "; skipping this case");
	kshim_note(msg);
	if (!mode || strcmp(mode, "error")) {
		const char *st = getenv("KSHIM_SKIP_STATUS");

		_exit(st ? atoi(st) : 4);
	}
	return -EOPNOTSUPP;
}

int kshim_ioctl(struct kshim_mirror *m, unsigned long request,
		struct kshim_cmd *cmd)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (cmds[i].request != request)
			continue;
		if (cmds[i].unsupported)
			return unsupported(cmds[i].name, cmds[i].unsupported);
		return cmds[i].run(m, cmd);
	}
	return -EINVAL;
}
