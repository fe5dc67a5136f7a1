// SPDX-License-Identifier: MIT
/*
 * zd_hmm_range_fault(): every request combination (default_flags,
 * pfn_flags_mask, per-page REQ_FAULT/REQ_WRITE) on never-touched, present,
 * read-only, PROT_NONE, unmapped, unmanaged, device-private (this owner's
 * and another's) and busy pages; the errors (-EFAULT, -EPERM, -EBUSY,
 * -EINVAL) and what the entries hold after one.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

/* first: the last test uses the kernel's names (they must precede the
 * other zonedev headers) */
#include <zonedev/kernel.h>

#include "../test_util.h"
#include "holes.h"
#include "dmirror.h"

#define NPAGES	16
#define L	(NPAGES - 1)	/* the last page */

static size_t PG;
static int next_id;

struct fx {
	struct zd_mm *mm;
	struct dmirror *dm;
	char *buf;
	size_t len;
	struct zd_mmu_interval_notifier sub;
	pthread_mutex_t lock;		/* the driver's lock around set_seq */
	atomic_int invalidations;
	bool inserted;
	bool gone[NPAGES];
};

static bool invalidate(struct zd_mmu_interval_notifier *sub,
		       const struct zd_mmu_notifier_range *range,
		       unsigned long cur_seq)
{
	struct fx *f = container_of(sub, struct fx, sub);

	(void)range;
	pthread_mutex_lock(&f->lock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	atomic_fetch_add(&f->invalidations, 1);
	pthread_mutex_unlock(&f->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops ops = { .invalidate = invalidate };

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	PG = zd_page_size();
	*state = f;
	pthread_mutex_init(&f->lock, NULL);
	f->mm = zd_mm_create();
	f->dm = dmirror_create(next_id++, 256ul << 20);
	f->len = NPAGES * PG;
	f->buf = f->mm ? zd_mm_map(f->mm, f->len) : NULL;
	if (!f->buf || !f->dm)
		return -1;
	f->inserted = !zd_mmu_interval_notifier_insert(&f->sub, f->mm,
						       (unsigned long)f->buf,
						       f->len, &ops);
	return f->inserted ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	zd_fault_inject_reset();
	if (f->inserted)
		zd_mmu_interval_notifier_remove(&f->sub);
	zd_mm_destroy(f->mm);
	if (f->dm)
		dmirror_destroy(f->dm);
	unmap_rest(f);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static unsigned long addr_of(struct fx *f, unsigned long i)
{
	return (unsigned long)f->buf + i * PG;
}

struct req {
	unsigned long start, n;
	unsigned long def, mask;
	void *owner;
	const unsigned long *in;	/* per-page requests, or NULL (0) */
	struct zd_mmu_interval_notifier *sub;
};

/* One call with a fresh read_begin: its result, entries in @out. */
static int rf_once(struct fx *f, const struct req *q, unsigned long *out)
{
	struct zd_hmm_range r = {
		.notifier = q->sub ? q->sub : &f->sub, .start = q->start,
		.end = q->start + q->n * PG, .hmm_pfns = out,
		.default_flags = q->def, .pfn_flags_mask = q->mask,
		.dev_private_owner = q->owner,
	};

	for (unsigned long i = 0; i < q->n; i++)
		out[i] = q->in ? q->in[i] : 0;
	r.notifier_seq = zd_mmu_interval_read_begin(r.notifier);
	return zd_hmm_range_fault(&r);
}

/* As a driver: retry while an invalidation collides (bounded). */
static int rf(struct fx *f, const struct req *q, unsigned long *out)
{
	int err, tries = 0;

	while ((err = rf_once(f, q, out)) == -EBUSY && ++tries < 1000)
		;
	return err;
}

static unsigned long sys_entry(struct fx *f, unsigned long i, bool write)
{
	return ZD_HMM_PFN_VALID | ZD_HMM_PFN_SYSTEM | (addr_of(f, i) >> zd_page_shift) |
	       (write ? ZD_HMM_PFN_WRITE : 0);
}

static int state_of(struct fx *f, unsigned long i)
{
	return zd_mm_lookup(f->mm, addr_of(f, i), NULL);
}

static void test_snapshot_faults_nothing(void **state)
{
	struct fx *f = *state;
	unsigned long out[NPAGES];
	struct req q = { .start = addr_of(f, 0), .n = NPAGES };

	/* the last page: a CPU fault maps the zero page ahead, not behind */
	f->buf[L * PG] = 7;
	assert_int_equal(rf(f, &q, out), 0);
	for (unsigned long i = 0; i < NPAGES; i++)
		assert_int_equal(out[i], i == L ? sys_entry(f, L, true) : 0);
	assert_int_equal(state_of(f, 0), ZD_MM_PAGE_EMPTY);
	assert_ptr_equal(zd_hmm_pfn_to_virt(out[L]), f->buf + L * PG);
	assert_null(zd_hmm_pfn_to_page(out[L]));
	assert_null(zd_hmm_pfn_to_virt(out[0]));
	assert_int_equal(zd_hmm_pfn_to_map_order(out[L]), 0);
	/* a mask with no fault bit and no default: the same, whatever is asked */
	{
		unsigned long in[NPAGES];

		for (unsigned long i = 0; i < NPAGES; i++)
			in[i] = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE;
		q.in = in;
		q.mask = ZD_HMM_PFN_ERROR;
		assert_int_equal(rf(f, &q, out), 0);
		assert_int_equal(out[0], 0);
		assert_int_equal(state_of(f, 0), ZD_MM_PAGE_EMPTY);
	}
}

static void test_default_flags_fault_in(void **state)
{
	struct fx *f = *state;
	unsigned long out[NPAGES];
	struct req q = { .start = addr_of(f, 0), .n = 4, .def = ZD_HMM_PFN_REQ_FAULT };

	/* the pages before the range stay untouched */
	q.start = addr_of(f, 8);
	assert_int_equal(rf(f, &q, out), 0);
	for (unsigned long i = 0; i < 4; i++) {
		assert_true(out[i] & ZD_HMM_PFN_VALID);
		assert_ptr_equal(zd_hmm_pfn_to_virt(out[i]), f->buf + (8 + i) * PG);
		assert_int_equal(state_of(f, 8 + i), ZD_MM_PAGE_HOST);
	}
	assert_int_equal(state_of(f, 7), ZD_MM_PAGE_EMPTY);
	q.start = addr_of(f, 4);
	q.def = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE;
	assert_int_equal(rf(f, &q, out), 0);
	for (unsigned long i = 0; i < 4; i++)
		assert_int_equal(out[i], sys_entry(f, 4 + i, true));
	assert_int_equal(f->buf[5 * PG], 0);
}

static void test_per_page_requests_and_mask(void **state)
{
	struct fx *f = *state;
	const unsigned long in[4] = { 0, ZD_HMM_PFN_REQ_WRITE,
				      ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE,
				      ZD_HMM_PFN_REQ_FAULT };
	unsigned long out[4];
	struct req q = { .start = addr_of(f, 8), .n = 4, .in = in,
			 .mask = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE };

	/* REQ_WRITE alone asks nothing; faults map the zero page ahead only */
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], sys_entry(f, 10, true));
	assert_true(out[3] & ZD_HMM_PFN_VALID);
	assert_int_equal(state_of(f, 8), ZD_MM_PAGE_EMPTY);
	assert_int_equal(state_of(f, 9), ZD_MM_PAGE_EMPTY);
	assert_int_equal(state_of(f, 10), ZD_MM_PAGE_HOST);
	/* without the mask the per-page requests do not count */
	q.start = addr_of(f, 4);
	q.mask = 0;
	assert_int_equal(rf(f, &q, out), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(out[i], 0);
	assert_int_equal(state_of(f, 6), ZD_MM_PAGE_EMPTY);
	/* default_flags apply to every page, mask or not */
	q.def = ZD_HMM_PFN_REQ_FAULT;
	assert_int_equal(rf(f, &q, out), 0);
	for (int i = 0; i < 4; i++)
		assert_true(out[i] & ZD_HMM_PFN_VALID);
}

static void test_read_only_memory(void **state)
{
	struct fx *f = *state;
	const unsigned long in[2] = { 0, ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE };
	unsigned long out[4];
	struct req q = { .start = addr_of(f, 0), .n = 3 };

	/* a read fault is fine in read-only memory never touched */
	assert_int_equal(mprotect(f->buf + L * PG, PG, PROT_READ), 0);
	q.start = addr_of(f, L);
	q.n = 1;
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(out[0], 0);
	q.def = ZD_HMM_PFN_REQ_FAULT;
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(out[0], sys_entry(f, L, false));
	q = (struct req){ .start = addr_of(f, 0), .n = 3 };
	f->buf[0] = 1;
	f->buf[PG] = 2;
	assert_int_equal(mprotect(f->buf + PG, 2 * PG, PROT_READ), 0);
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(out[0], sys_entry(f, 0, true));
	assert_int_equal(out[1], sys_entry(f, 1, false));	/* no WRITE */
	assert_int_equal(out[2], sys_entry(f, 2, false));	/* zero page */
	q.def = ZD_HMM_PFN_REQ_FAULT;
	/* a write fault is not: page 0 holds its result, page 1 its request */
	q.def = 0;
	q.in = in;
	q.mask = ~0ul;
	q.n = 2;
	assert_int_equal(rf(f, &q, out), -EPERM);
	assert_int_equal(out[0], sys_entry(f, 0, true));
	assert_int_equal(out[1], in[1]);
	/* with REQ_WRITE masked away it is only a read */
	q.mask = ZD_HMM_PFN_REQ_FAULT;
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(out[1], sys_entry(f, 1, false));
	/* rights back: writable again, as the CPU sees it */
	assert_int_equal(mprotect(f->buf + PG, 2 * PG, PROT_READ | PROT_WRITE), 0);
	q.mask = ~0ul;
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(out[1], sys_entry(f, 1, true));
	assert_int_equal(f->buf[PG], 2);
}

/* One fault run must not cross into memory with other rights: a write
 * fault asked for a writable page next to a read-only one asked to read. */
static void test_fault_run_stops_at_rights(void **state)
{
	struct fx *f = *state;
	const unsigned long in[2] = { ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE,
				      ZD_HMM_PFN_REQ_FAULT };
	unsigned long out[2];
	struct req q = { .start = addr_of(f, L - 1), .n = 2, .in = in,
			 .mask = ~0ul };

	assert_int_equal(mprotect(f->buf + L * PG, PG, PROT_READ), 0);
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(out[0], sys_entry(f, L - 1, true));
	assert_int_equal(out[1], sys_entry(f, L, false));
}

static void test_prot_none_and_unmapped(void **state)
{
	struct fx *f = *state;
	unsigned long out[8];
	struct req q = { .start = addr_of(f, 0), .n = 8 };

	for (int i = 0; i < 8; i++)
		f->buf[i * PG] = 1;
	assert_int_equal(mprotect(f->buf + 2 * PG, PG, PROT_NONE), 0);
	unmap_pages(f, 5, 1);
	assert_int_equal(rf(f, &q, out), 0);
	for (unsigned long i = 0; i < 8; i++)
		assert_int_equal(out[i], i == 2 || i == 5 ? ZD_HMM_PFN_ERROR :
					 sys_entry(f, i, true));
	q.def = ZD_HMM_PFN_REQ_FAULT;
	assert_int_equal(rf(f, &q, out), -EFAULT);
	assert_int_equal(out[1], sys_entry(f, 1, true));
	assert_int_equal(out[2], 0);		/* still the request */
	q.start = addr_of(f, 3);
	q.n = 3;
	assert_int_equal(rf(f, &q, out), -EFAULT);
	assert_int_equal(out[0], sys_entry(f, 3, true));
	assert_int_equal(out[1], sys_entry(f, 4, true));
	assert_int_equal(out[2], 0);
	assert_int_equal(mprotect(f->buf + 2 * PG, PG, PROT_READ | PROT_WRITE), 0);
}

/* Memory zonedev does not manage: it cannot follow its changes. */
static void test_unmanaged_memory(void **state)
{
	struct fx *f = *state;
	char *plain = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct zd_mmu_interval_notifier sub;
	unsigned long out[2];
	struct req q = { .start = (unsigned long)plain, .n = 2, .sub = &sub };

	assert_true(plain != MAP_FAILED);
	plain[0] = 1;
	assert_int_equal(zd_mmu_interval_notifier_insert(&sub, f->mm,
							 (unsigned long)plain,
							 2 * PG, &ops), 0);
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(out[0], ZD_HMM_PFN_ERROR);
	assert_int_equal(out[1], ZD_HMM_PFN_ERROR);
	q.def = ZD_HMM_PFN_REQ_FAULT;
	assert_int_equal(rf(f, &q, out), -EFAULT);
	zd_mmu_interval_notifier_remove(&sub);
	munmap(plain, 2 * PG);
}

static void to_device(struct fx *f, unsigned long first, unsigned long n)
{
	struct dmirror_cmd c = { .mm = f->mm, .addr = addr_of(f, first), .npages = n };

	assert_int_equal(dmirror_migrate_to_device(f->dm, &c), 0);
}

static void test_device_pages(void **state)
{
	struct fx *f = *state;
	unsigned long out[8];
	struct req q = { .start = addr_of(f, 0), .n = 8, .owner = f->dm };

	for (int i = 0; i < 8; i++)
		f->buf[i * PG] = (char)(i + 10);
	to_device(f, 0, 8);
	/* this owner's pages are reported as they are, even when a write
	 * fault is asked for */
	q.def = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE;
	assert_int_equal(rf(f, &q, out), 0);
	for (unsigned long i = 0; i < 8; i++) {
		struct zd_page *p;

		assert_int_equal(state_of(f, i), ZD_MM_PAGE_DEVICE);
		zd_mm_lookup(f->mm, addr_of(f, i), &p);
		assert_int_equal(out[i], zd_page_to_pfn(p) | ZD_HMM_PFN_VALID |
					 ZD_HMM_PFN_WRITE);
		assert_ptr_equal(zd_hmm_pfn_to_page(out[i]), p);
		assert_null(zd_hmm_pfn_to_virt(out[i]));
	}
	assert_int_equal(zd_mm_device_pages(f->mm), 8);
	/* another owner's: not valid for us, left alone unless asked */
	q.owner = NULL;
	q.def = 0;
	assert_int_equal(rf(f, &q, out), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(out[i], 0);
	assert_int_equal(zd_mm_device_pages(f->mm), 8);
	/* asked: migrate_to_ram brings it home, which is an invalidation
	 * of our own range: -EBUSY, then the retry finds it home */
	q.start = addr_of(f, 2);
	q.n = 1;
	q.def = ZD_HMM_PFN_REQ_FAULT;
	assert_int_equal(rf_once(f, &q, out), -EBUSY);
	assert_int_equal(state_of(f, 2), ZD_MM_PAGE_HOST);
	assert_int_equal(rf(f, &q, out), 0);
	assert_true(out[0] & ZD_HMM_PFN_VALID);
	assert_ptr_equal(zd_hmm_pfn_to_virt(out[0]), f->buf + 2 * PG);
	q.start = addr_of(f, 4);
	q.n = 4;
	q.def = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE;
	assert_int_equal(rf(f, &q, out), 0);
	for (unsigned long i = 0; i < 4; i++)
		assert_int_equal(out[i], sys_entry(f, 4 + i, true));
	assert_int_equal(zd_mm_device_pages(f->mm), 3);
	for (int i = 0; i < 8; i++)
		assert_int_equal(f->buf[i * PG], i + 10);
}

/* A device page whose migrate_to_ram fails: -EFAULT, no SIGBUS. */
static void test_failed_device_fault(void **state)
{
	struct fx *f = *state;
	unsigned long out[1];
	struct req q = { .start = addr_of(f, 0), .n = 1, .def = ZD_HMM_PFN_REQ_FAULT };

	f->buf[0] = 3;
	to_device(f, 0, 1);
	dmirror_set_fail_faults(f->dm, true);
	assert_int_equal(rf(f, &q, out), -EFAULT);
	assert_int_equal(out[0], 0);		/* the request: from default_flags */
	dmirror_set_fail_faults(f->dm, false);
	assert_int_equal(rf(f, &q, out), 0);
	assert_int_equal(f->buf[0], 3);
}

static void test_stale_seq_is_ebusy(void **state)
{
	struct fx *f = *state;
	unsigned long out[2] = { 11, 22 };
	struct zd_hmm_range r = {
		.notifier = &f->sub, .start = addr_of(f, 0), .end = addr_of(f, 2),
		.hmm_pfns = out,
	};

	r.notifier_seq = zd_mmu_interval_read_begin(&f->sub);
	assert_int_equal(madvise(f->buf + 8 * PG, PG, MADV_DONTNEED), 0);
	zd_mm_lookup(f->mm, addr_of(f, 0), NULL);	/* event handled */
	assert_int_equal(zd_hmm_range_fault(&r), -EBUSY);
	assert_int_equal(out[0], 11);
	assert_int_equal(out[1], 22);
	r.notifier_seq = zd_mmu_interval_read_begin(&f->sub);
	assert_int_equal(zd_hmm_range_fault(&r), 0);
	pthread_mutex_lock(&f->lock);
	assert_false(zd_mmu_interval_read_retry(&f->sub, r.notifier_seq));
	pthread_mutex_unlock(&f->lock);
}

struct mig {
	struct fx *f;
	int err;
};

static void *migrate_thread(void *arg)
{
	struct mig *m = arg;
	struct dmirror_cmd c = { .mm = m->f->mm, .addr = addr_of(m->f, 0), .npages = 4 };

	m->err = dmirror_migrate_to_device(m->f->dm, &c);
	return NULL;
}

struct faulter {
	struct fx *f;
	struct req q;
	unsigned long out[4];
	int err;
	atomic_int done;
};

static void *fault_thread(void *arg)
{
	struct faulter *t = arg;

	t->err = rf(t->f, &t->q, t->out);
	atomic_store(&t->done, 1);
	return NULL;
}

/* Pages under migration: 0 unless a fault is asked for, which waits for
 * the migration to finish, as the kernel waits on a migration entry. */
static void test_busy_pages_wait(void **state)
{
	struct fx *f = *state;
	struct mig m = { .f = f };
	struct faulter t = { .f = f };
	unsigned long out[4];
	struct req q = { .start = addr_of(f, 0), .n = 4, .owner = f->dm };
	pthread_t mt, ft;

	for (int i = 0; i < 4; i++)
		f->buf[i * PG] = (char)(i + 1);
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.pages", 5000), 0);
	assert_int_equal(pthread_create(&mt, NULL, migrate_thread, &m), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(rf(f, &q, out), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(out[i], 0);
	t.q = q;
	t.q.def = ZD_HMM_PFN_REQ_FAULT;
	assert_int_equal(pthread_create(&ft, NULL, fault_thread, &t), 0);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&t.done), 0);
	zd_fault_inject_resume();
	pthread_join(mt, NULL);
	pthread_join(ft, NULL);
	zd_fault_inject_reset();	/* no thread passes a point now */
	assert_int_equal(m.err, 0);
	assert_int_equal(t.err, 0);
	for (int i = 0; i < 4; i++) {
		assert_true(t.out[i] & ZD_HMM_PFN_VALID);
		assert_non_null(zd_hmm_pfn_to_page(t.out[i]));
	}
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct zd_mmu_interval_notifier loose = { 0 };
	unsigned long out[2];
	struct zd_hmm_range r = {
		.notifier = &f->sub, .start = addr_of(f, 0), .end = addr_of(f, 2),
		.hmm_pfns = out,
	};

	assert_warns("bad hmm_range", assert_int_equal(zd_hmm_range_fault(NULL), -EINVAL));
	r.start++;
	assert_warns("bad hmm_range", assert_int_equal(zd_hmm_range_fault(&r), -EINVAL));
	r.start = r.end;
	assert_warns("bad hmm_range", assert_int_equal(zd_hmm_range_fault(&r), -EINVAL));
	r.start = addr_of(f, 0);
	r.hmm_pfns = NULL;
	assert_warns("bad hmm_range", assert_int_equal(zd_hmm_range_fault(&r), -EINVAL));
	r.hmm_pfns = out;
	/* past the notifier's interval (the buffer): read_retry could not
	 * see its changes */
	r.start = (unsigned long)f->buf + f->len - zd_page_size();
	r.end = r.start + 2 * zd_page_size();
	assert_warns("bad hmm_range", assert_int_equal(zd_hmm_range_fault(&r), -EINVAL));
	r.start = addr_of(f, 0);
	r.end = addr_of(f, 2);
	r.notifier = &loose;
	assert_warns("bad hmm_range", assert_int_equal(zd_hmm_range_fault(&r), -EINVAL));
	r.notifier = NULL;
	assert_warns("bad hmm_range", assert_int_equal(zd_hmm_range_fault(&r), -EINVAL));
	assert_null(zd_hmm_pfn_to_page(0));
	assert_null(zd_hmm_pfn_to_page(ZD_HMM_PFN_ERROR));
}

/* Faults, migrations and drops at once; every answer must be a whole one. */
struct churn {
	struct fx *f;
	atomic_int stop;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	struct fx *f = c->f;

	while (!atomic_load(&c->stop)) {
		struct dmirror_cmd cmd = { .mm = f->mm, .addr = addr_of(f, 0),
					   .npages = NPAGES };

		dmirror_migrate_to_device(f->dm, &cmd);
		madvise(f->buf + 3 * PG, 2 * PG, MADV_DONTNEED);
		cmd.cpages = 0;
		dmirror_migrate_to_system(f->dm, &cmd);
	}
	return NULL;
}

static void test_concurrent_with_changes(void **state)
{
	struct fx *f = *state;
	struct churn c = { .f = f };
	unsigned long out[NPAGES];
	struct req q = { .start = addr_of(f, 0), .n = NPAGES, .owner = f->dm,
			 .def = ZD_HMM_PFN_REQ_FAULT };
	pthread_t t;
	int64_t end;

	assert_int_equal(pthread_create(&t, NULL, churn_thread, &c), 0);
	end = (int64_t)time(NULL) + 1;
	for (int n = 0; n < 20 || time(NULL) < end; n++) {
		int err = rf(f, &q, out);

		assert_true(err == 0 || err == -EBUSY);
		for (int i = 0; !err && i < NPAGES; i++)
			assert_true(out[i] & ZD_HMM_PFN_VALID);
		if (n > 2000)
			break;
	}
	atomic_store(&c.stop, 1);
	pthread_join(t, NULL);
}

/* ---- the kernel's names, as a ported driver (lib/test_hmm.c) uses them -- */

struct kmirror {
	struct mmu_interval_notifier notifier;
	pthread_mutex_t mutex;
	void *owner;
};

static bool kmirror_invalidate(struct mmu_interval_notifier *mni,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct kmirror *k = container_of(mni, struct kmirror, notifier);

	if (range->event == MMU_NOTIFY_MIGRATE && range->owner == k->owner)
		return true;	/* its own migration: handled there */
	if (!mmu_notifier_range_blockable(range))
		return false;
	pthread_mutex_lock(&k->mutex);
	mmu_interval_set_seq(mni, cur_seq);
	pthread_mutex_unlock(&k->mutex);
	return true;
}

static const struct mmu_interval_notifier_ops kmirror_ops = {
	.invalidate = kmirror_invalidate,
};

/* The kernel driver's retry loop; the mutex is held on success. */
static int kmirror_range_fault(struct kmirror *k, struct hmm_range *range)
{
	for (int tries = 0; tries < HMM_RANGE_DEFAULT_TIMEOUT; tries++) {
		int ret;

		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		ret = hmm_range_fault(range);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		pthread_mutex_lock(&k->mutex);
		if (!mmu_interval_read_retry(range->notifier, range->notifier_seq))
			return 0;
		pthread_mutex_unlock(&k->mutex);
	}
	return -EBUSY;
}

static void test_kernel_names(void **state)
{
	struct fx *f = *state;
	struct mm_struct *mm = f->mm;
	struct kmirror k = { .owner = f->dm };
	unsigned long pfns[4];
	struct hmm_range range = {
		.notifier = &k.notifier, .start = addr_of(f, 0),
		.end = addr_of(f, 4), .hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
		.dev_private_owner = f->dm,
	};
	struct page *p;

	pthread_mutex_init(&k.mutex, NULL);
	f->buf[3 * PG] = 9;
	to_device(f, 3, 1);
	assert_int_equal(mmu_interval_notifier_insert(&k.notifier, mm, range.start,
						      4 * PG, &kmirror_ops), 0);
	assert_int_equal(kmirror_range_fault(&k, &range), 0);
	assert_false(mmu_interval_check_retry(&k.notifier, range.notifier_seq));
	pthread_mutex_unlock(&k.mutex);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pfns[i] & (HMM_PFN_VALID | HMM_PFN_WRITE | HMM_PFN_ERROR),
				 HMM_PFN_VALID | HMM_PFN_WRITE);
	zd_mm_lookup(f->mm, addr_of(f, 3), &p);
	assert_ptr_equal(hmm_pfn_to_page(pfns[3]), p);
	assert_int_equal(pfns[3] & ~HMM_PFN_FLAGS, zd_page_to_pfn(p));
	assert_int_equal(hmm_pfn_to_map_order(pfns[3]), 0);
	assert_int_equal(HMM_PFN_ORDER_SHIFT, 8 * sizeof(long) - 8);
	/* the kernel's values, for code that stores or prints them */
	assert_int_equal(MMU_NOTIFY_UNMAP, 0);
	assert_int_equal(MMU_NOTIFY_CLEAR, 1);
	assert_int_equal(MMU_NOTIFY_PROTECTION_VMA, 2);
	assert_int_equal(MMU_NOTIFY_PROTECTION_PAGE, 3);
	assert_int_equal(MMU_NOTIFY_SOFT_DIRTY, 4);
	assert_int_equal(MMU_NOTIFY_RELEASE, 5);
	assert_int_equal(MMU_NOTIFY_MIGRATE, 6);
	assert_int_equal(MMU_NOTIFY_EXCLUSIVE, 7);
	assert_true(MMU_NOTIFIER_RANGE_BLOCKABLE);
	mmu_interval_notifier_remove(&k.notifier);
	pthread_mutex_destroy(&k.mutex);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_snapshot_faults_nothing),
		T(test_default_flags_fault_in),
		T(test_per_page_requests_and_mask),
		T(test_read_only_memory),
		T(test_fault_run_stops_at_rights),
		T(test_prot_none_and_unmapped),
		T(test_unmanaged_memory),
		T(test_device_pages),
		T(test_failed_device_fault),
		T(test_stale_seq_is_ebusy),
		T(test_busy_pages_wait),
		T(test_bad_arguments),
		T(test_concurrent_with_changes),
		T(test_kernel_names),
	};

	test_capture_warnings();
	test_require_userfaultfd();
	return zd_run_tests(tests);
}
