// SPDX-License-Identifier: MIT
/*
 * Interval notifiers: each change to managed memory (munmap, MADV_DONTNEED,
 * MADV_FREE, mremap, migration either way, unplug, unregister, destroy)
 * calls invalidate() exactly once, before zonedev acts on it, with the
 * kernel's event; the sequence count makes a reader retry; inserts and
 * removes during a notification wait for its end; misuse is reported.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../test_util.h"
#include "holes.h"
#include "dmirror.h"

#define NPAGES	16
#define MAXREC	64

static size_t PG;
static int next_id;

struct call {
	enum zd_mmu_notifier_event event;
	unsigned long start, end, cur_seq;
	unsigned int flags;
	void *owner;
	unsigned long device_pages;	/* zd_mm_device_pages() in the call */
	unsigned long page_frees;	/* the device's page_free calls then */
};

struct rec {
	struct zd_mmu_interval_notifier sub;
	pthread_mutex_t lock;
	struct zd_mm *mm;
	struct dmirror *dm;
	int n;
	struct call calls[MAXREC];
	atomic_int in_cb;		/* a callback is running */
	atomic_int hold;		/* callbacks wait while set */
};

struct fx {
	struct zd_mm *mm;
	struct dmirror *dm;
	char *buf;
	size_t len;
	struct rec rec, rec2;
	bool mm_gone;
	bool gone[NPAGES];
};

static unsigned long page_frees(struct dmirror *dm)
{
	struct dmirror_stats s;

	dmirror_get_stats(dm, &s);
	return s.page_free_calls;
}

static bool record(struct zd_mmu_interval_notifier *sub,
		   const struct zd_mmu_notifier_range *range, unsigned long cur_seq)
{
	struct rec *r = container_of(sub, struct rec, sub);

	pthread_mutex_lock(&r->lock);
	if (r->n < MAXREC)
		r->calls[r->n++] = (struct call){
			range->event, range->start, range->end, cur_seq,
			range->flags, range->owner, zd_mm_device_pages(r->mm),
			page_frees(r->dm) };
	zd_mmu_interval_set_seq(sub, cur_seq);
	pthread_mutex_unlock(&r->lock);
	/* held after set_seq, as a driver updating its mirror */
	atomic_fetch_add(&r->in_cb, 1);
	while (atomic_load(&r->hold))
		test_sleep_us(1000);
	atomic_fetch_sub(&r->in_cb, 1);
	return true;
}

static const struct zd_mmu_interval_notifier_ops rec_ops = { .invalidate = record };

static int ncalls(struct rec *r)
{
	int n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void rec_insert(struct fx *f, struct rec *r, void *start, size_t len)
{
	pthread_mutex_init(&r->lock, NULL);
	r->mm = f->mm;
	r->dm = f->dm;
	assert_int_equal(zd_mmu_interval_notifier_insert(&r->sub, f->mm,
							 (unsigned long)start,
							 len, &rec_ops), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	PG = zd_page_size();
	f->mm = zd_mm_create();
	f->dm = dmirror_create(next_id++, 256ul << 20);
	f->len = NPAGES * PG;
	f->buf = f->mm ? zd_mm_map(f->mm, f->len) : NULL;
	*state = f;
	return f->mm && f->dm && f->buf ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	atomic_store(&f->rec.hold, 0);
	atomic_store(&f->rec2.hold, 0);
	if (!f->mm_gone)
		zd_mm_destroy(f->mm);
	/* after destroy, removing is allowed and does nothing */
	if (f->rec.mm)
		zd_mmu_interval_notifier_remove(&f->rec.sub);
	if (f->rec2.mm)
		zd_mmu_interval_notifier_remove(&f->rec2.sub);
	dmirror_destroy(f->dm);
	unmap_rest(f);
	free(f);
	return 0;
}

static void to_device(struct fx *f, char *addr, unsigned long n)
{
	struct dmirror_cmd c = { .mm = f->mm, .addr = (unsigned long)addr,
				 .npages = n };

	assert_int_equal(dmirror_migrate_to_device(f->dm, &c), 0);
}

/* Events read so far are handled (a lookup waits for that). */
static void drained(struct fx *f)
{
	zd_mm_lookup(f->mm, (unsigned long)f->buf, NULL);
}

static void assert_call(const struct call *c, enum zd_mmu_notifier_event ev,
			const void *start, const void *end, const void *owner)
{
	assert_int_equal(c->event, ev);
	assert_int_equal(c->start, (unsigned long)start);
	assert_int_equal(c->end, (unsigned long)end);
	assert_ptr_equal(c->owner, owner);
	assert_true(c->flags & ZD_MMU_NOTIFIER_RANGE_BLOCKABLE);
	assert_true(c->cur_seq & 1);
}

static void fill_bytes(struct fx *f)
{
	for (size_t i = 0; i < f->len; i += PG)
		f->buf[i] = (char)(i / PG + 1);
}

static void test_munmap_unmap_before_drop(void **state)
{
	struct fx *f = *state;
	unsigned long frees;

	fill_bytes(f);
	to_device(f, f->buf, NPAGES);
	rec_insert(f, &f->rec, f->buf, f->len);
	frees = page_frees(f->dm);
	unmap_pages(f, 4, 4);
	drained(f);
	assert_int_equal(ncalls(&f->rec), 1);
	assert_call(&f->rec.calls[0], ZD_MMU_NOTIFY_UNMAP, f->buf + 4 * PG,
		    f->buf + 8 * PG, NULL);
	/* before: the device pages were still there, none freed */
	assert_int_equal(f->rec.calls[0].device_pages, NPAGES);
	assert_int_equal(f->rec.calls[0].page_frees, frees);
	assert_int_equal(zd_mm_device_pages(f->mm), NPAGES - 4);
}

static void test_dontneed_and_free_clear(void **state)
{
	struct fx *f = *state;

	fill_bytes(f);
	to_device(f, f->buf, NPAGES);
	rec_insert(f, &f->rec, f->buf, f->len);
	assert_int_equal(madvise(f->buf, 2 * PG, MADV_DONTNEED), 0);
	drained(f);
	assert_int_equal(ncalls(&f->rec), 1);
	assert_call(&f->rec.calls[0], ZD_MMU_NOTIFY_CLEAR, f->buf, f->buf + 2 * PG,
		    NULL);
	assert_int_equal(f->rec.calls[0].device_pages, NPAGES);
	assert_int_equal(zd_mm_device_pages(f->mm), NPAGES - 2);
	assert_int_equal(madvise(f->buf + 8 * PG, PG, MADV_FREE), 0);
	drained(f);
	assert_int_equal(ncalls(&f->rec), 2);
	assert_call(&f->rec.calls[1], ZD_MMU_NOTIFY_CLEAR, f->buf + 8 * PG,
		    f->buf + 9 * PG, NULL);
	assert_int_equal(f->rec.calls[1].device_pages, NPAGES - 2);
}

static void test_mremap_unmaps_old_range(void **state)
{
	struct fx *f = *state;
	char *to = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *moved;

	assert_true(to != MAP_FAILED);
	fill_bytes(f);
	to_device(f, f->buf, NPAGES);
	rec_insert(f, &f->rec, f->buf, f->len);
	moved = mremap(f->buf + 12 * PG, 4 * PG, 4 * PG,
		       MREMAP_MAYMOVE | MREMAP_FIXED, to);
	assert_ptr_equal(moved, to);
	for (int i = 12; i < 16; i++)
		f->gone[i] = true;
	drained(f);
	assert_int_equal(ncalls(&f->rec), 1);
	assert_call(&f->rec.calls[0], ZD_MMU_NOTIFY_UNMAP, f->buf + 12 * PG,
		    f->buf + 16 * PG, NULL);
	assert_int_equal(f->rec.calls[0].device_pages, NPAGES);
	/* the pages followed: they are on the device at their new place */
	assert_int_equal(zd_mm_lookup(f->mm, (unsigned long)to, NULL),
			 ZD_MM_PAGE_DEVICE);
	assert_int_equal(to[PG], 14);
	munmap(to, 4 * PG);
}

static void test_migration_both_ways(void **state)
{
	struct fx *f = *state;

	fill_bytes(f);
	rec_insert(f, &f->rec, f->buf, f->len);
	to_device(f, f->buf, NPAGES);
	drained(f);	/* our own MADV_DONTNEED of the pages is not a CLEAR */
	assert_int_equal(ncalls(&f->rec), 1);
	assert_call(&f->rec.calls[0], ZD_MMU_NOTIFY_MIGRATE, f->buf,
		    f->buf + f->len, f->dm);
	assert_int_equal(f->rec.calls[0].device_pages, 0);
	/* a CPU touch brings one page home through migrate_to_ram */
	assert_int_equal(f->buf[5 * PG], 6);
	assert_int_equal(ncalls(&f->rec), 2);
	assert_call(&f->rec.calls[1], ZD_MMU_NOTIFY_MIGRATE, f->buf + 5 * PG,
		    f->buf + 6 * PG, f->dm);
	assert_int_equal(f->rec.calls[1].device_pages, NPAGES);
	assert_int_equal(zd_mm_device_pages(f->mm), NPAGES - 1);
}

/* Copied to the device (no UFFDIO_MOVE), the host pages are dropped with
 * zonedev's own MADV_DONTNEED: part of the MIGRATE, not a CLEAR. */
static void test_own_discard_is_not_a_clear(void **state)
{
	struct fx *f = *state;
	struct zd_mm_stats st;

	fill_bytes(f);
	rec_insert(f, &f->rec, f->buf, f->len);
	zd_fault_inject_site("hmm.move");
	to_device(f, f->buf, NPAGES);
	zd_fault_inject_reset();
	drained(f);
	zd_mm_get_stats(f->mm, &st);
	assert_int_equal(st.pages_copied, NPAGES);
	assert_int_equal(ncalls(&f->rec), 1);
	assert_int_equal(f->rec.calls[0].event, ZD_MMU_NOTIFY_MIGRATE);
	/* the application's own, on the same pages, is one */
	assert_int_equal(madvise(f->buf, PG, MADV_DONTNEED), 0);
	drained(f);
	assert_int_equal(ncalls(&f->rec), 2);
	assert_int_equal(f->rec.calls[1].event, ZD_MMU_NOTIFY_CLEAR);
}

static void test_unplug_clears_each_page(void **state)
{
	struct fx *f = *state;

	fill_bytes(f);
	to_device(f, f->buf, 4);
	rec_insert(f, &f->rec, f->buf, f->len);
	assert_int_equal(dmirror_unbind(f->dm), 0);
	assert_int_equal(ncalls(&f->rec), 4);
	for (int i = 0; i < 4; i++) {
		struct call *c = &f->rec.calls[i];

		assert_int_equal(c->event, ZD_MMU_NOTIFY_CLEAR);
		assert_int_equal(c->end - c->start, PG);
		assert_true(c->start >= (unsigned long)f->buf &&
			    c->end <= (unsigned long)f->buf + 4 * PG);
		assert_null(c->owner);
		assert_int_equal(c->device_pages, 4);
	}
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	assert_int_equal(f->buf[3 * PG], 4);
}

static void test_destroy_releases_first(void **state)
{
	struct fx *f = *state;
	int n;

	fill_bytes(f);
	to_device(f, f->buf, NPAGES);
	rec_insert(f, &f->rec, f->buf, f->len);
	zd_mm_destroy(f->mm);
	f->mm_gone = true;
	n = ncalls(&f->rec);
	assert_int_equal(f->rec.calls[0].event, ZD_MMU_NOTIFY_RELEASE);
	assert_int_equal(f->rec.calls[0].start, 0);
	assert_int_equal(f->rec.calls[0].end, ULONG_MAX);
	assert_int_equal(f->rec.calls[0].device_pages, NPAGES);
	/* then each page comes home (migrate_to_ram), told as MIGRATE */
	assert_int_equal(n, 1 + NPAGES);
	for (int i = 1; i < n; i++)
		assert_int_equal(f->rec.calls[i].event, ZD_MMU_NOTIFY_MIGRATE);
	assert_no_warn(zd_mmu_interval_notifier_remove(&f->rec.sub));
	f->rec.mm = NULL;
	assert_int_equal(f->buf[7 * PG], 8);
}

static void test_unregister_releases_range(void **state)
{
	struct fx *f = *state;

	rec_insert(f, &f->rec, f->buf, f->len);
	f->buf[0] = 1;
	assert_int_equal(zd_mm_unregister(f->mm, f->buf, f->len), 0);
	assert_int_equal(ncalls(&f->rec), 1);
	assert_call(&f->rec.calls[0], ZD_MMU_NOTIFY_RELEASE, f->buf,
		    f->buf + f->len, NULL);
	/* not managed any more: nothing to tell of a munmap */
	unmap_pages(f, 0, 1);
	drained(f);
	assert_int_equal(ncalls(&f->rec), 1);
}

static void test_only_overlapping_notifiers(void **state)
{
	struct fx *f = *state;

	rec_insert(f, &f->rec, f->buf, 4 * PG);
	rec_insert(f, &f->rec2, f->buf + 8 * PG, PG);
	unmap_pages(f, 4, 4);
	madvise(f->buf + 9 * PG, 7 * PG, MADV_DONTNEED);
	drained(f);
	assert_int_equal(ncalls(&f->rec), 0);
	assert_int_equal(ncalls(&f->rec2), 0);
	/* the interval's last byte counts */
	madvise(f->buf + 3 * PG, PG, MADV_DONTNEED);
	drained(f);
	assert_int_equal(ncalls(&f->rec), 1);
	/* removed: told nothing more */
	zd_mmu_interval_notifier_remove(&f->rec.sub);
	f->rec.mm = NULL;
	madvise(f->buf, 4 * PG, MADV_DONTNEED);
	drained(f);
	assert_int_equal(ncalls(&f->rec), 1);
}

static void test_seq_makes_reader_retry(void **state)
{
	struct fx *f = *state;
	unsigned long seq, seq2;

	rec_insert(f, &f->rec, f->buf, f->len);
	seq = zd_mmu_interval_read_begin(&f->rec.sub);
	assert_false(zd_mmu_interval_read_retry(&f->rec.sub, seq));
	assert_false(zd_mmu_interval_check_retry(&f->rec.sub, seq));
	/* an unrelated change leaves it alone */
	f->buf[0] = 1;
	assert_false(zd_mmu_interval_read_retry(&f->rec.sub, seq));
	assert_int_equal(madvise(f->buf, PG, MADV_DONTNEED), 0);
	drained(f);
	assert_true(zd_mmu_interval_read_retry(&f->rec.sub, seq));
	assert_true(zd_mmu_interval_check_retry(&f->rec.sub, seq));
	seq2 = zd_mmu_interval_read_begin(&f->rec.sub);
	assert_int_not_equal(seq2, seq);
	assert_false(zd_mmu_interval_read_retry(&f->rec.sub, seq2));
}

struct reader {
	struct zd_mmu_interval_notifier *sub;
	unsigned long seq;
	atomic_int done;
};

static void *read_begin_thread(void *arg)
{
	struct reader *r = arg;

	r->seq = zd_mmu_interval_read_begin(r->sub);
	atomic_store(&r->done, 1);
	return NULL;
}

static void *remove_thread(void *arg)
{
	struct reader *r = arg;

	zd_mmu_interval_notifier_remove(r->sub);
	atomic_store(&r->done, 1);
	return NULL;
}

/*
 * While invalidate() runs: read_begin waits for the end, an insert takes
 * effect only after it (and its read_begin waits too), a remove waits.
 */
static void test_readers_wait_for_the_end(void **state)
{
	struct fx *f = *state;
	struct reader rd = { .sub = &f->rec.sub }, rd2 = { .sub = &f->rec2.sub };
	struct reader rm = { .sub = &f->rec.sub };
	pthread_t t, t2, t3;

	rec_insert(f, &f->rec, f->buf, f->len);
	atomic_store(&f->rec.hold, 1);
	assert_int_equal(madvise(f->buf, PG, MADV_DONTNEED), 0);
	assert_true(wait_for(atomic_load(&f->rec.in_cb) == 1));
	assert_int_equal(pthread_create(&t, NULL, read_begin_thread, &rd), 0);
	rec_insert(f, &f->rec2, f->buf, f->len);
	assert_int_equal(pthread_create(&t2, NULL, read_begin_thread, &rd2), 0);
	test_sleep_us(50000);
	/* the remove only once the reader waits: read_begin on a notifier
	 * being removed is the caller's bug */
	assert_int_equal(pthread_create(&t3, NULL, remove_thread, &rm), 0);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&rd.done), 0);
	assert_int_equal(atomic_load(&rd2.done), 0);
	assert_int_equal(atomic_load(&rm.done), 0);
	atomic_store(&f->rec.hold, 0);
	pthread_join(t, NULL);
	pthread_join(t2, NULL);
	pthread_join(t3, NULL);
	f->rec.mm = NULL;
	/* the reader's seq is the one the callback recorded */
	assert_int_equal(rd.seq, f->rec.calls[0].cur_seq);
	/* the late notifier was not told of the change it came in during */
	assert_int_equal(ncalls(&f->rec2), 0);
	assert_false(zd_mmu_interval_read_retry(&f->rec2.sub, rd2.seq));
	assert_int_equal(madvise(f->buf, PG, MADV_DONTNEED), 0);
	drained(f);
	assert_int_equal(ncalls(&f->rec2), 1);
	assert_int_equal(ncalls(&f->rec), 1);
	assert_true(zd_mmu_interval_read_retry(&f->rec2.sub, rd2.seq));
}

static void test_misuse_is_reported(void **state)
{
	struct fx *f = *state;
	struct zd_mmu_interval_notifier sub = { 0 };
	const struct zd_mmu_interval_notifier_ops none = { 0 };

	assert_warns("bad argument", assert_int_equal(
		zd_mmu_interval_notifier_insert(&sub, f->mm, 0, PG, NULL), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_mmu_interval_notifier_insert(&sub, f->mm, 0, PG, &none), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_mmu_interval_notifier_insert(&sub, f->mm, 0, 0, &rec_ops), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_mmu_interval_notifier_insert(&sub, f->mm, ULONG_MAX - PG + 2,
						PG, &rec_ops), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_mmu_interval_notifier_insert(&sub, NULL, 0, PG, &rec_ops), -EINVAL));
	assert_warns("not an inserted", zd_mmu_interval_notifier_remove(&sub));
	assert_warns("not an inserted", zd_mmu_interval_notifier_remove(NULL));
	/* removed twice */
	assert_int_equal(zd_mmu_interval_notifier_insert(&sub, f->mm, 0, PG,
							 &rec_ops), 0);
	assert_no_warn(zd_mmu_interval_notifier_remove(&sub));
	assert_warns("not an inserted", zd_mmu_interval_notifier_remove(&sub));
	assert_false(zd_mmu_notifier_range_blockable(NULL));
}

/* An invalidate() that calls, on its own mm, what waits for the end of
 * the notification it is part of. */
struct reentrant {
	struct zd_mmu_interval_notifier sub;
	struct zd_mm *mm;
	atomic_int calls;
};

static bool call_back_in(struct zd_mmu_interval_notifier *sub,
			 const struct zd_mmu_notifier_range *range, unsigned long cur_seq)
{
	struct reentrant *r = container_of(sub, struct reentrant, sub);

	(void)range;
	zd_mmu_interval_set_seq(sub, cur_seq);
	if (atomic_fetch_add(&r->calls, 1))
		return true;
	zd_mmu_interval_notifier_remove(sub);
	assert_int_equal(zd_mmu_interval_read_begin(sub), cur_seq);
	zd_mm_destroy(r->mm);
	return true;
}

static const struct zd_mmu_interval_notifier_ops reentrant_ops = {
	.invalidate = call_back_in
};

/* Each is refused with a warning instead of waiting for itself (the
 * kernel's would hang), on a migrating thread and on the fault thread
 * (munmap); the notifier stays inserted and works after. */
static void test_calls_from_invalidate_are_refused(void **state)
{
	struct fx *f = *state;
	struct reentrant r = { .mm = f->mm };

	assert_int_equal(zd_mmu_interval_notifier_insert(&r.sub, f->mm,
							 (unsigned long)f->buf,
							 f->len, &reentrant_ops), 0);
	assert_warns_n(3, "invalidate() of the same mm",
		       to_device(f, f->buf, NPAGES));
	assert_true(atomic_load(&r.calls) >= 1);
	/* on the fault thread (destroy is refused there first) */
	atomic_store(&r.calls, 0);
	assert_warns_n(3, "fault thread",
		       assert_int_equal(madvise(f->buf, PG, MADV_DONTNEED), 0);
		       zd_mm_device_pages(f->mm));
	assert_int_equal(atomic_load(&r.calls), 1);
	assert_no_warn(zd_mmu_interval_notifier_remove(&r.sub));
}

/* Memory for the per-mm state fails: the insert says so, nothing leaks. */
static void test_insert_without_memory(void **state)
{
	struct fx *f = *state;
	struct zd_mmu_interval_notifier sub;

	zd_fault_inject_site("hmm.notifier");
	assert_int_equal(zd_mmu_interval_notifier_insert(&sub, f->mm, 0, PG,
							 &rec_ops), -ENOMEM);
	zd_fault_inject_reset();
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_munmap_unmap_before_drop),
		T(test_dontneed_and_free_clear),
		T(test_mremap_unmaps_old_range),
		T(test_migration_both_ways),
		T(test_own_discard_is_not_a_clear),
		T(test_unplug_clears_each_page),
		T(test_destroy_releases_first),
		T(test_unregister_releases_range),
		T(test_only_overlapping_notifiers),
		T(test_seq_makes_reader_retry),
		T(test_readers_wait_for_the_end),
		T(test_misuse_is_reported),
		T(test_calls_from_invalidate_are_refused),
		T(test_insert_without_memory),
	};

	test_capture_warnings();
	test_require_userfaultfd();
	return zd_run_tests(tests);
}
