// SPDX-License-Identifier: MIT
/*
 * HMM with the dmirror driver: migration both ways, real CPU faults,
 * device writes, concurrency, munmap/DONTNEED/mremap of device pages,
 * fork, unplug with pages out, bad input and SIGBUS.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kernel_moves.h"
#include "../test_util.h"
#include "dmirror.h"

#define MiB(x)	((size_t)(x) << 20)

static size_t PG;

struct fx {
	struct zd_mm *mm;
	struct dmirror *dm;
	char *buf;
	size_t len;
	unsigned long npages;
};

static int next_id;

static void fx_init(struct fx *f, size_t len)
{
	PG = zd_page_size();
	f->mm = zd_mm_create();
	assert_non_null(f->mm);
	f->dm = dmirror_create(next_id++, 256ul << 20);
	assert_non_null(f->dm);
	f->len = len;
	f->npages = len / PG;
	f->buf = zd_mm_map(f->mm, len);
	assert_non_null(f->buf);
}

static void fx_fini(struct fx *f)
{
	struct dmirror_stats s;

	zd_mm_destroy(f->mm);		/* brings pages home first */
	dmirror_get_stats(f->dm, &s);
	assert_int_equal(s.pages_in_use, 0);
	dmirror_destroy(f->dm);
	if (f->buf)
		munmap(f->buf, f->len);
}

/* The test unmaps the buffer itself: fx_fini() must not unmap whatever
 * is mapped there by then (a sanitizer's allocations were). */
static void fx_unmap(struct fx *f)
{
	assert_int_equal(munmap(f->buf, f->len), 0);
	f->buf = NULL;
}

static struct dmirror_cmd cmd(struct fx *f, void *addr, unsigned long npages, void *ptr)
{
	return (struct dmirror_cmd){ .mm = f->mm, .addr = (unsigned long)addr,
				     .npages = npages, .ptr = ptr };
}

static void fill(char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i += sizeof(unsigned int))
		*(unsigned int *)(p + i) = (unsigned int)i * 2654435761u + seed;
}

/* Bytes [off, off + len) of what fill(p, ..., seed) wrote. */
static void check_off(const char *p, size_t off, size_t len, unsigned int seed)
{
	for (size_t i = off; i < off + len; i += sizeof(unsigned int))
		if (*(const unsigned int *)(p + i) != (unsigned int)i * 2654435761u + seed)
			fail_msg("byte %zu: %#x", i, *(const unsigned int *)(p + i));
}

static void check(const char *p, size_t len, unsigned int seed)
{
	check_off(p, 0, len, seed);
}

static void check_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			fail_msg("byte %zu is %d", i, p[i]);
}

static void to_device(struct fx *f, void *addr, unsigned long n, int expect)
{
	struct dmirror_cmd c = cmd(f, addr, n, NULL);

	assert_int_equal(dmirror_migrate_to_device(f->dm, &c), expect);
	if (!expect)
		assert_int_equal(c.cpages, n);
}

/* The whole buffer is on the device and holds what fill(..., seed)
 * wrote: the device reads its own memory, without a fault. */
static void check_device(struct fx *f, unsigned int seed)
{
	char *bounce = malloc(f->len);
	struct dmirror_cmd c = cmd(f, f->buf, f->npages, bounce);

	assert_int_equal(zd_mm_device_pages(f->mm), f->npages);
	assert_int_equal(dmirror_read(f->dm, &c), 0);
	assert_int_equal(c.cpages, f->npages);
	assert_int_equal(c.faults, 0);
	check(bounce, f->len, seed);
	free(bounce);
}

static unsigned long page_frees(struct dmirror *dm)
{
	struct dmirror_stats ds;

	dmirror_get_stats(dm, &ds);
	return ds.page_free_calls;
}

static unsigned long dmirror_migrate_to_ram_calls(struct dmirror *dm)
{
	struct dmirror_stats ds;

	dmirror_get_stats(dm, &ds);
	return ds.migrate_to_ram_calls;
}

static void test_migrate_and_read_back(void **state)
{
	struct zd_mm_stats st;
	struct dmirror_stats ds;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(4));
	fill(f.buf, f.len, 1);
	to_device(&f, f.buf, f.npages, 0);
	check_device(&f, 1);
	/* the CPU faults every page back */
	check(f.buf, f.len, 1);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.device_faults, f.npages);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	/* the fault thread's reference on the last page goes after the wake */
	wait_for(page_frees(f.dm) >= f.npages);
	dmirror_get_stats(f.dm, &ds);
	assert_int_equal(ds.page_free_calls, f.npages);
	assert_int_equal(ds.pages_in_use, 0);
	fx_fini(&f);
}

static void test_device_write_then_cpu_read(void **state)
{
	struct dmirror_cmd c;
	struct fx f;
	char *in;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 2);
	to_device(&f, f.buf, f.npages, 0);
	in = malloc(f.len);
	fill(in, f.len, 3);
	c = cmd(&f, f.buf, f.npages, in);
	assert_int_equal(dmirror_write(f.dm, &c), 0);
	check(f.buf, f.len, 3);
	/* and back with migrate_to_system, no faults */
	to_device(&f, f.buf, f.npages, 0);
	c = cmd(&f, f.buf, f.npages, NULL);
	assert_int_equal(dmirror_migrate_to_system(f.dm, &c), 0);
	assert_int_equal(c.cpages, f.npages);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	check(f.buf, f.len, 3);
	free(in);
	fx_fini(&f);
}

static void test_untouched_and_half_touched(void **state)
{
	struct zd_mm_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	to_device(&f, f.buf, f.npages, 0);	/* never touched: zero pages */
	check_zero(f.buf, f.len);
	/* the CPU touches half, then all migrates again */
	fill(f.buf, f.len / 2, 4);
	to_device(&f, f.buf, f.npages, 0);
	check(f.buf, f.len / 2, 4);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.zero_fills, 0);	/* device pages came back */
	fx_fini(&f);
}

/* First touch in order: one fault maps the zero page up to the next
 * 2 MiB boundary; writes then copy-on-write in the kernel, not here. */
static void test_first_touch_fills_ahead(void **state)
{
	struct zd_mm_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(8));
	for (size_t i = 0; i < f.len; i += PG)
		assert_int_equal(f.buf[i], 0);
	fill(f.buf, f.len, 6);
	check(f.buf, f.len, 6);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.zero_fills, f.npages);
	/* 8 MiB is four or five 2 MiB blocks, however it is aligned */
	assert_true(st.faults <= 5);
	/* a fill ahead stops at pages that are not never-touched */
	to_device(&f, f.buf + MiB(4), MiB(1) / PG, 0);
	assert_int_equal(madvise(f.buf, MiB(4), MADV_DONTNEED), 0);
	check_off(f.buf, MiB(4), MiB(1), 6);
	for (size_t i = 0; i < MiB(4); i += PG)
		assert_int_equal(f.buf[i], 0);
	fx_fini(&f);
}

/* Memory the application filled before handing it over keeps its bytes;
 * its untouched pages migrate as zero. */
static void test_register_existing_memory(void **state)
{
	struct fx f;
	size_t len = MiB(2);
	char *own = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	fx_init(&f, MiB(1));
	fill(own, len / 2, 12);
	assert_int_equal(zd_mm_register(f.mm, own, len), 0);
	to_device(&f, own, len / PG, 0);
	check(own, len / 2, 12);
	check_zero(own + len / 2, len / 2);
	assert_int_equal(zd_mm_unregister(f.mm, own, len), 0);
	munmap(own, len);
	fx_fini(&f);
}

/* A range the application split into mappings of its own (here a
 * read-only middle) registers as a whole, and keeps its protections; one
 * with a shared page in it does not (nor one with a hole, but a hole
 * could be filled by another thread's mmap() meanwhile). */
static void test_register_several_mappings(void **state)
{
	size_t len = MiB(2);
	char *own = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct fx f;

	(void)state;
	assert_true(own != MAP_FAILED);
	fx_init(&f, MiB(1));
	fill(own, len, 13);
	assert_int_equal(mprotect(own + MiB(1), PG, PROT_READ), 0);
	/* a named piece, where the kernel names them (Linux 5.17) */
	prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)own, PG, "zd-test");
	assert_int_equal(zd_mm_register(f.mm, own, len), 0);
	to_device(&f, own, len / PG, 0);
	check(own, len, 13);
	assert_int_equal(zd_mm_unregister(f.mm, own, len), 0);
	assert_true(mmap(own + MiB(1) + PG, PG, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    own + MiB(1) + PG);
	assert_warns("not all private anonymous",
		     assert_int_equal(zd_mm_register(f.mm, own, len), -EINVAL));
	munmap(own, len);
	fx_fini(&f);
}

static void test_prefetch_brings_neighbours(void **state)
{
	struct zd_mm_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, f.len, 5);
	to_device(&f, f.buf, f.npages, 0);
	assert_int_equal(dmirror_set_prefetch(f.dm, 16), 0);
	assert_int_equal(dmirror_set_prefetch(f.dm, 3), -EINVAL);
	check(f.buf, f.len, 5);
	zd_mm_get_stats(f.mm, &st);
	/* one fault per 64 KiB window the buffer touches */
	assert_int_equal(st.device_faults,
			 ((uintptr_t)f.buf + f.len - 1) / (16 * PG) -
			 (uintptr_t)f.buf / (16 * PG) + 1);
	fx_fini(&f);
}

/* ---- concurrency --------------------------------------------------------- */

struct racer {
	struct fx *f;
	unsigned long first, count;	/* pages this thread reads */
	atomic_bool *stop;
};

static void *reader(void *arg)
{
	struct racer *r = arg;

	while (!atomic_load(r->stop))
		for (unsigned long p = r->first; p < r->first + r->count; p++)
			check(r->f->buf + p * PG, PG, 6);	/* page-local pattern */
	return NULL;
}

static void test_concurrent_faults_and_migration(void **state)
{
	atomic_bool stop = false;
	pthread_t t[2];
	struct racer r[2];
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	for (unsigned long p = 0; p < f.npages; p++)
		fill(f.buf + p * PG, PG, 6);
	/* thread 0 reads all pages, thread 1 the first 16: same and
	 * different pages, while this thread migrates them away again */
	r[0] = (struct racer){ &f, 0, f.npages, &stop };
	r[1] = (struct racer){ &f, 0, 16, &stop };
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, &r[i]), 0);
	for (int round = 0; round < 50; round++) {
		struct dmirror_cmd c = cmd(&f, f.buf, f.npages, NULL);
		int err = dmirror_migrate_to_device(f.dm, &c);

		assert_true(err == 0 || err == -ENOENT);	/* busy pages stay */
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (unsigned long p = 0; p < f.npages; p++)
		check(f.buf + p * PG, PG, 6);
	fx_fini(&f);
}

/* ---- the application changes its mappings -------------------------------- */

static void test_munmap_frees_device_pages(void **state)
{
	struct dmirror_stats ds;
	struct zd_mm_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 7);
	to_device(&f, f.buf, f.npages, 0);
	assert_int_equal(munmap(f.buf, f.len / 2), 0);
	/* munmap returns once the event is read; the drop follows */
	wait_for(page_frees(f.dm) >= f.npages / 2);
	dmirror_get_stats(f.dm, &ds);
	assert_int_equal(ds.page_free_calls, f.npages / 2);
	assert_int_equal(zd_mm_device_pages(f.mm), f.npages / 2);
	/* MADV_DONTNEED: freed, and the page reads as zero */
	assert_int_equal(madvise(f.buf + f.len / 2, PG, MADV_DONTNEED), 0);
	wait_for(page_frees(f.dm) >= f.npages / 2 + 1);
	dmirror_get_stats(f.dm, &ds);
	assert_int_equal(ds.page_free_calls, f.npages / 2 + 1);
	assert_int_equal(f.buf[f.len / 2], 0);
	check_off(f.buf, f.len / 2 + PG, f.len / 2 - PG, 7);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.dropped, f.npages / 2 + 1);
	/* the rest of the pages are still right */
	munmap(f.buf + f.len / 2, f.len / 2);
	wait_for(page_frees(f.dm) >= f.npages);
	dmirror_get_stats(f.dm, &ds);
	assert_int_equal(ds.page_free_calls, f.npages);
	assert_int_equal(ds.pages_in_use, 0);
	f.buf = mmap(NULL, f.len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fx_fini(&f);
}

static void test_mremap_moves_device_pages(void **state)
{
	struct fx f;
	char *to;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, f.len, 8);
	to_device(&f, f.buf, f.npages, 0);
	to = mmap(NULL, f.len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	to = mremap(f.buf, f.len, f.len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	assert_true(to != MAP_FAILED);
	assert_int_equal(zd_mm_device_pages(f.mm), f.npages);
	check(to, f.len, 8);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	f.buf = to;
	fx_fini(&f);
}

static void test_fork_after_migration(void **state)
{
	int status;
	pid_t pid;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 9);
	to_device(&f, f.buf, f.npages, 0);
	pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < f.len; i += 4)
			if (*(unsigned int *)(f.buf + i) != (unsigned int)i * 2654435761u + 9)
				_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);	/* came home first */
	check(f.buf, f.len, 9);
	fx_fini(&f);
}

static bool set_seq(struct zd_mmu_interval_notifier *sub,
		    const struct zd_mmu_notifier_range *range, unsigned long seq)
{
	(void)range;
	zd_mmu_interval_set_seq(sub, seq);
	return true;
}

static const struct zd_mmu_interval_notifier_ops seq_ops = { .invalidate = set_seq };

struct churn {
	struct fx *f;
	atomic_bool stop;
};

static void *notifier_churn(void *arg)
{
	struct churn *c = arg;
	struct zd_mmu_interval_notifier sub;

	while (!atomic_load(&c->stop))
		if (!zd_mmu_interval_notifier_insert(&sub, c->f->mm,
						     (unsigned long)c->f->buf,
						     PG, &seq_ops))
			zd_mmu_interval_notifier_remove(&sub);
	return NULL;
}

/* A child forked while another thread inserts and removes notifiers
 * (or holds any of HMM's locks) uses HMM on an mm of its own. */
static void test_fork_while_notifiers_change(void **state)
{
	struct churn c = { 0 };
	pthread_t t;
	struct fx f;

	(void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* their allocators' locks are not fork-safe: the child hangs in
	 * malloc when another thread of the parent held one */
	print_message("skipped under a sanitizer: its allocator is not "
		      "fork-safe with other threads allocating\n");
	skip();
#endif
	fx_init(&f, MiB(1));
	c.f = &f;
	assert_int_equal(pthread_create(&t, NULL, notifier_churn, &c), 0);
	for (int i = 0; i < 20; i++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			struct zd_mmu_interval_notifier sub;
			struct zd_mm *mm;
			char *buf;

			alarm(10);		/* a hang is a failure */
			mm = zd_mm_create();
			buf = mm ? zd_mm_map(mm, PG) : NULL;
			if (!buf || zd_mmu_interval_notifier_insert(&sub, mm,
					(unsigned long)buf, PG, &seq_ops))
				_exit(1);
			zd_mmu_interval_notifier_remove(&sub);
			zd_mm_destroy(mm);
			_exit(0);
		}
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	atomic_store(&c.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	fx_fini(&f);
}

static void test_unplug_with_pages_out_loses_nothing(void **state)
{
	struct zd_mm_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(8));
	fill(f.buf, f.len, 10);
	to_device(&f, f.buf, f.npages, 0);
	assert_int_equal(dmirror_unbind(f.dm), 0);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	check(f.buf, f.len, 10);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.device_faults, 0);	/* migrated, not faulted */
	fx_fini(&f);
}

/* ---- bad input ------------------------------------------------------------ */

static void test_bad_input(void **state)
{
	struct zd_migrate_vma m = { 0 };
	unsigned long src[4], dst[4];
	struct dmirror_cmd c;
	struct fx f;
	char *shared;

	(void)state;
	fx_init(&f, MiB(1));
	assert_warns("bad argument", assert_int_equal(zd_mm_register(f.mm, f.buf + 1, PG), -EINVAL));
	assert_warns("overlaps", assert_int_equal(zd_mm_register(f.mm, f.buf, PG), -EINVAL));
	shared = mmap(NULL, MiB(1), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_warns("private anonymous",
		     assert_int_equal(zd_mm_register(f.mm, shared, MiB(1)), -EINVAL));
	/* migrating shared (unmanaged) memory: nothing moves */
	shared[0] = 1;
	c = cmd(&f, shared, 4, NULL);
	assert_int_equal(dmirror_migrate_to_device(f.dm, &c), -ENOENT);
	assert_int_equal(c.cpages, 0);
	assert_int_equal(shared[0], 1);
	munmap(shared, MiB(1));
	/* a range not mapped at all */
	m = (struct zd_migrate_vma){ .mm = f.mm, .src = src, .dst = dst, .npages = 4,
				     .start = (unsigned long)shared,
				     .end = (unsigned long)shared + 4 * PG,
				     .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	/* an application's munmap() can do this: no misuse, no warning */
	assert_no_warn(assert_int_equal(zd_migrate_vma_setup(&m), -EINVAL));
	m.npages = 3;
	assert_warns("bad migrate_vma", assert_int_equal(zd_migrate_vma_setup(&m), -EINVAL));
	assert_warns("not a managed range", assert_int_equal(zd_mm_unregister(f.mm, f.buf, PG), -EINVAL));
	c = cmd(&f, f.buf + 1, 1, NULL);
	assert_int_equal(dmirror_migrate_to_device(f.dm, &c), -EINVAL);
	fx_fini(&f);
}

/* ---- zero copy ---------------------------------------------------------- */

/* Out to the device, written there, and home: @moved and @copied pages
 * placed each way. */
static void round_trip(struct fx *f, unsigned long moved, unsigned long copied)
{
	char *bounce = malloc(f->len);
	struct zd_mm_stats st;
	struct dmirror_cmd c;

	fill(f->buf, f->len, 21);
	to_device(f, f->buf, f->npages, 0);
	c = cmd(f, f->buf, f->npages, bounce);
	assert_int_equal(dmirror_read(f->dm, &c), 0);
	check(bounce, f->len, 21);
	/* device memory that pages moved into is plain writable memory */
	fill(bounce, f->len, 22);
	c = cmd(f, f->buf, f->npages, bounce);
	assert_int_equal(dmirror_write(f->dm, &c), 0);
	c = cmd(f, f->buf, f->npages, NULL);
	assert_int_equal(dmirror_migrate_to_system(f->dm, &c), 0);
	assert_int_equal(c.cpages, f->npages);
	check(f->buf, f->len, 22);
	zd_mm_get_stats(f->mm, &st);
	assert_int_equal(st.device_faults, 0);
	assert_int_equal(st.pages_moved, 2 * moved);
	assert_int_equal(st.pages_copied, 2 * copied);
	free(bounce);
}

static void test_pages_move_without_copy(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, MiB(4));
	if (kernel_moves_pages())
		round_trip(&f, f.npages, 0);
	else
		round_trip(&f, 0, f.npages);
	fx_fini(&f);
}

/* Teardown of the tests that arm fault injection: a failed assertion
 * must not leave it armed for the tests after them. */
static int disarm(void **state)
{
	(void)state;
	zd_fault_inject_reset();
	return 0;
}

static void test_refused_moves_copy(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, MiB(4));
	assert_int_equal(zd_fault_inject_site("hmm.move"), 0);
	round_trip(&f, 0, f.npages);
	zd_fault_inject_reset();
	fx_fini(&f);
}

/* Device memory that pages were copied home from (their moves refused)
 * still holds them: the next migration to the device moves its pages in
 * all the same. */
static void test_pages_copied_home_move_out_again(void **state)
{
	struct zd_mm_stats st, before;
	struct dmirror_cmd c;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 25);
	to_device(&f, f.buf, f.npages, 0);
	assert_int_equal(zd_fault_inject_site("hmm.move"), 0);
	c = cmd(&f, f.buf, f.npages, NULL);
	assert_int_equal(dmirror_migrate_to_system(f.dm, &c), 0);
	zd_fault_inject_reset();
	check(f.buf, f.len, 25);
	zd_mm_get_stats(f.mm, &before);
	to_device(&f, f.buf, f.npages, 0);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.pages_moved - before.pages_moved,
			 kernel_moves_pages() ? f.npages : 0);
	assert_int_equal(st.pages_copied - before.pages_copied,
			 kernel_moves_pages() ? 0 : f.npages);
	check_device(&f, 25);
	fx_fini(&f);
}

/* Pages a child shares cannot move (the kernel refuses): they are copied
 * out; device memory is not the child's, so they move home. */
static void test_shared_pages_are_copied(void **state)
{
	struct zd_mm_stats st;
	int go[2], status;
	struct fx f;
	pid_t pid;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 24);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		char c;

		close(go[1]);
		_exit(read(go[0], &c, 1) == 0 ? 0 : 1);	/* until the parent closes */
	}
	assert_true(pid > 0);
	close(go[0]);
	to_device(&f, f.buf, f.npages, 0);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.pages_copied, f.npages);
	assert_int_equal(st.pages_moved, 0);
	close(go[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	check(f.buf, f.len, 24);		/* home through faults */
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.pages_moved, kernel_moves_pages() ? f.npages : 0);
	fx_fini(&f);
}

/*
 * MADV_FREE sends the same remove event as MADV_DONTNEED, but the pages
 * stay until the kernel reclaims them, and a write keeps them for good:
 * what the application writes after it must migrate like any data.
 */
static void test_rewritten_lazy_free_pages_keep_their_data(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 31);
	assert_int_equal(madvise(f.buf, f.len, MADV_FREE), 0);
	test_sleep_us(20000);	/* let the event be handled first */
	fill(f.buf, f.len, 32);	/* no fault: the pages are still there */
	to_device(&f, f.buf, f.npages, 0);
	check_device(&f, 32);
	check(f.buf, f.len, 32);	/* and what comes home */
	fx_fini(&f);
}

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* MADV_FREE [p, p + len).  It queues the pages on a per-CPU batch that
 * MADV_PAGEOUT drains only on its own CPU: a thread that moved between
 * the two finds the pages off the LRU lists and kept.  So this thread
 * stays on its CPU until page_out(); its CPU set is saved in @was. */
static void lazy_free(char *p, size_t len, cpu_set_t *was)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_getaffinity(0, sizeof(*was), was), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(madvise(p, len, MADV_FREE), 0);
}

/* Reclaim lazily freed [p, p + len) and unpin: whether its first page
 * went (without MADV_PAGEOUT, or if the kernel kept it, tests skip). */
static bool page_out(char *p, size_t len, cpu_set_t *was)
{
	unsigned char resident = 1;
	bool gone = !madvise(p, len, MADV_PAGEOUT) && !mincore(p, PG, &resident) &&
		    !(resident & 1);

	assert_int_equal(sched_setaffinity(0, sizeof(*was), was), 0);
	return gone;
}

/*
 * Lazily freed pages the kernel then reclaimed: the migration asks the
 * kernel which pages are gone and reads only the others (a gone page
 * would cost a fault each); the gone ones arrive as zeros.
 */
static void test_reclaimed_pages_migrate_as_zero(void **state)
{
	struct zd_mm_stats st;
	size_t q = MiB(1) / 2;
	cpu_set_t cpus;
	unsigned long faults;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 33);
	lazy_free(f.buf + q, q, &cpus);
	if (!page_out(f.buf + q, q, &cpus)) {
		fx_fini(&f);
		skip();		/* no MADV_PAGEOUT, or it kept the pages */
	}
	/* the remove event is handled on the fault thread: wait for it */
	assert_true(wait_for(zd_mm_lookup(f.mm, (unsigned long)f.buf + q,
					  NULL) == ZD_MM_PAGE_EMPTY));
	zd_mm_get_stats(f.mm, &st);
	faults = st.faults;
	to_device(&f, f.buf, f.npages, 0);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.pages_moved + st.pages_copied, f.npages - q / PG);
	assert_int_equal(st.faults, faults);	/* no gone page was read */
	check_off(f.buf, 0, q, 33);		/* home through faults */
	check_zero(f.buf + q, q);
	check_off(f.buf, 2 * q, f.len - 2 * q, 33);
	fx_fini(&f);
}

/* Staging memory for zd_migrate_vma_move(), as a driver registers it. */
static char *stage_map(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	assert_int_equal(zd_hmm_register_staging(p, len), 0);
	return p;
}

static void stage_unmap(char *p, size_t len)
{
	assert_int_equal(zd_hmm_unregister_staging(p, len), 0);
	munmap(p, len);
}

/* A driver's first step: the buffer's first @n pages, collected. */
static void collect(struct fx *f, struct zd_migrate_vma *m, unsigned long *src,
		    unsigned long *dst, unsigned long n)
{
	*m = (struct zd_migrate_vma){ .mm = f->mm, .src = src, .dst = dst,
				      .npages = n, .start = (unsigned long)f->buf,
				      .end = (unsigned long)f->buf + n * PG,
				      .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	assert_int_equal(zd_migrate_vma_setup(m), 0);
	assert_int_equal(m->cpages, n);
}

static void *pages_and_finalize(void *arg)
{
	struct zd_migrate_vma *m = arg;

	zd_migrate_vma_pages(m);
	zd_migrate_vma_finalize(m);
	return NULL;
}

/* A range the kernel holds as several mappings (here split by
 * MADV_DONTFORK on part of it): a 2 MiB batch home crosses them, and the
 * kernel refuses a move or copy crossing mappings as a whole.  Every page
 * comes home, moved and copied (only the last mapping's did before). */
static void test_home_across_mappings(void **state)
{
	struct dmirror_cmd c;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 47);
	assert_int_equal(madvise(f.buf + 64 * PG, 64 * PG, MADV_DONTFORK), 0);
	assert_int_equal(madvise(f.buf + 256 * PG, 8 * PG, MADV_DONTFORK), 0);
	for (int copy = 0; copy < 2; copy++) {
		if (copy)
			assert_int_equal(zd_fault_inject_site("hmm.move"), 0);
		to_device(&f, f.buf, f.npages, 0);
		c = cmd(&f, f.buf, f.npages, NULL);
		assert_int_equal(dmirror_migrate_to_system(f.dm, &c), 0);
		assert_int_equal(c.cpages, f.npages);
		assert_int_equal(zd_mm_device_pages(f.mm), 0);
		zd_fault_inject_reset();
		check(f.buf, f.len, 47);
	}
	fx_fini(&f);
}

struct destroyer {
	struct zd_mm *mm;
	atomic_bool done;
};

static void *destroy_mm(void *arg)
{
	struct destroyer *d = arg;

	zd_mm_destroy(d->mm);
	atomic_store(&d->done, true);
	return NULL;
}

/* zd_mm_destroy() on another thread waits for a migration between setup
 * and finalize, to its last touch of the mm (finalize's wake, after its
 * entries are done: a destroy that only waited for busy pages freed the
 * mm under it).  On the migrating thread itself it is refused. */
static void test_destroy_waits_for_migration_in_flight(void **state)
{
	unsigned long src[4], dst[4] = { 0 };
	struct destroyer d = { 0 };
	struct zd_migrate_vma m;
	pthread_t fin, des;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	fill(f.buf, f.len, 91);
	collect(&f, &m, src, dst, 4);
	assert_warns("would wait for itself", zd_mm_destroy(f.mm));
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.finalize", 10000), 0);
	assert_int_equal(pthread_create(&fin, NULL, pages_and_finalize, &m), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	d.mm = f.mm;
	assert_int_equal(pthread_create(&des, NULL, destroy_mm, &d), 0);
	test_sleep_us(300000);
	assert_false(atomic_load(&d.done));
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(fin, NULL), 0);
	assert_int_equal(pthread_join(des, NULL), 0);
	assert_true(atomic_load(&d.done));
	check(f.buf, f.len, 91);
	f.mm = zd_mm_create();		/* for fx_fini */
	assert_non_null(f.mm);
	fx_fini(&f);
}

/* A driver takes host pages, then does not migrate them: finalize puts
 * them back.  And zd_migrate_vma_move's bad input. */
static void test_taken_pages_without_dst_are_put_back(void **state)
{
	unsigned long src[512], dst[512];
	struct zd_migrate_vma m;
	char *stage;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	assert_true(f.npages <= 512);
	stage = stage_map(f.len);
	fill(f.buf, f.len, 23);
	collect(&f, &m, src, dst, f.npages);
	assert_warns("bad move", assert_int_equal(zd_migrate_vma_move(&m, f.npages - 1, 2, stage), -EINVAL));
	assert_warns("bad move", assert_int_equal(zd_migrate_vma_move(&m, 0, 1, stage + 1), -EINVAL));
	assert_warns("bad move", assert_int_equal(zd_migrate_vma_move(&m, 0, 0, stage), -EINVAL));
	assert_int_equal(zd_migrate_vma_move(&m, 0, f.npages, stage), 0);
	check(stage, f.len, 23);
	if (kernel_moves_pages()) {
		assert_true(src[1] & ZD_MIGRATE_PFN_DONATE);
		assert_ptr_equal(zd_migrate_pfn_to_virt(src[1]), stage + PG);
	}
	assert_warns("bad move", assert_int_equal(zd_migrate_vma_move(&m, 1, 1, stage), -EINVAL));
	zd_migrate_vma_pages(&m);		/* no dst: nothing migrates */
	assert_int_equal(src[0] & ZD_MIGRATE_PFN_MIGRATE, 0);
	zd_migrate_vma_finalize(&m);
	check(f.buf, f.len, 23);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	assert_int_equal(zd_hmm_unregister_staging(stage, f.len), 0);
	assert_warns("bad range", assert_int_equal(zd_hmm_register_staging(stage + 1, PG), -EINVAL));
	assert_warns("bad range", assert_int_equal(zd_hmm_register_staging(NULL, PG), -EINVAL));
	munmap(stage, f.len);
	fx_fini(&f);
}

struct toucher {
	const char *addr;
	atomic_int seen;	/* the byte read, or -1 while waiting */
};

static void *touch_and_tell(void *arg)
{
	struct toucher *t = arg;

	atomic_store(&t->seen, *(volatile const char *)t->addr);
	return NULL;
}

/*
 * The kernel reclaims a lazily freed page after a migration collected it:
 * a CPU touch then maps the zero page at once (it is what the page holds
 * now) rather than wait for the driver's finalize, and the driver takes
 * that zero page.
 */
static void test_page_reclaimed_under_migration_reads_zero(void **state)
{
	struct toucher t = { .seen = -1 };
	unsigned long src[1], dst[1];
	struct zd_migrate_vma m;
	cpu_set_t cpus;
	pthread_t th;
	char *stage;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(2));
	stage = stage_map(PG);
	memset(stage, 1, PG);
	fill(f.buf, PG, 61);
	lazy_free(f.buf, PG, &cpus);
	collect(&f, &m, src, dst, 1);
	if (!page_out(f.buf, PG, &cpus)) {
		zd_migrate_vma_finalize(&m);
		stage_unmap(stage, PG);
		fx_fini(&f);
		skip();		/* no MADV_PAGEOUT, or it kept the page */
	}
	t.addr = f.buf;
	assert_int_equal(pthread_create(&th, NULL, touch_and_tell, &t), 0);
	assert_true(wait_for(atomic_load(&t.seen) >= 0));
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t.seen, 0);
	assert_int_equal(zd_migrate_vma_move(&m, 0, 1, stage), 0);
	check_zero(stage, PG);
	zd_migrate_vma_pages(&m);		/* no dst: the page goes back */
	assert_no_warn(zd_migrate_vma_finalize(&m));
	check_zero(f.buf, PG);
	stage_unmap(stage, PG);
	fx_fini(&f);
}

/*
 * A stale fault: raised while the page was on the device, read by the
 * fault thread only after the page came home and a migration collected it
 * again.  The handler maps the zero page where a collected host page has
 * gone; it must not do so in the hole the driver's move leaves, or
 * finalize cannot put the page back and the application reads zeros.
 * Pause points hold the fault thread before it reads the fault, then in
 * that window while the driver moves the page.
 */
static void *touch(void *arg)
{
	return (void *)(uintptr_t)*(volatile char *)arg;
}

static void test_stale_fault_leaves_moved_page_alone(void **state)
{
	unsigned long src[1], dst[1];
	struct zd_migrate_vma m;
	struct dmirror_cmd c;
	pthread_t t;
	char *stage;
	struct fx f;

	(void)state;
	if (!kernel_moves_pages())
		skip();		/* pages are copied: no hole */
	fx_init(&f, MiB(2));
	stage = stage_map(PG);
	fill(f.buf, PG, 51);
	to_device(&f, f.buf, 1, 0);
	assert_int_equal(zd_fault_inject_pause("hmm.fault", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, touch, f.buf), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	/* the fault is held; the page comes home (waking the toucher)... */
	c = cmd(&f, f.buf, 1, NULL);
	assert_int_equal(dmirror_migrate_to_system(f.dm, &c), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	collect(&f, &m, src, dst, 1);		/* ...and a migration collects it */
	/* the stale fault goes on, into the window: the move waits */
	assert_int_equal(zd_fault_inject_pause("hmm.fault.zero_busy", 300), 0);
	zd_fault_inject_resume();
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(zd_migrate_vma_move(&m, 0, 1, stage), 0);
	zd_fault_inject_resume();
	zd_fault_inject_reset();
	zd_migrate_vma_pages(&m);		/* no dst: the page goes back */
	assert_no_warn(zd_migrate_vma_finalize(&m));
	check(f.buf, PG, 51);
	stage_unmap(stage, PG);
	fx_fini(&f);
}

/* ---- the application unmaps what is being migrated ---------------------- */

struct cmd_thread {
	struct fx *f;
	void *bounce;
	int err;
	atomic_bool done;
};

static void *register_buf(void *arg)
{
	struct cmd_thread *c = arg;

	c->err = zd_mm_register(c->f->mm, c->f->buf, c->f->len);
	atomic_store(&c->done, true);
	return NULL;
}

static void *unbind_thread(void *arg)
{
	struct cmd_thread *c = arg;

	c->err = dmirror_unbind(c->f->dm);
	atomic_store(&c->done, true);
	return NULL;
}

static void *munmap_buf(void *arg)
{
	struct cmd_thread *c = arg;

	c->err = munmap(c->f->buf, c->f->len);
	atomic_store(&c->done, true);
	return NULL;
}

struct migrator {
	struct fx *f;
	int err;
};

static void *migrate_all(void *arg)
{
	struct migrator *mg = arg;
	struct dmirror_cmd c = cmd(mg->f, mg->f->buf, mg->f->npages, NULL);

	mg->err = dmirror_migrate_to_device(mg->f->dm, &c);
	return NULL;
}

/* Hold a migration of the buffer to the device at pause point @point,
 * unmap the buffer under it, then let it go on: nothing moves. */
static void migrate_across_munmap(struct fx *f, const char *point)
{
	struct migrator mg = { f, 1 };
	pthread_t t;

	fill(f->buf, f->len, 71);
	assert_int_equal(zd_fault_inject_pause(point, 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, migrate_all, &mg), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(munmap(f->buf, f->len), 0);
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(mg.err, -ENOENT);	/* the pages are not on the device */
}

/* The unmapped buffer is gone from zonedev, with its device pages, and
 * a new mapping at its address can be managed and migrated. */
static void check_gone_and_reusable(struct fx *f)
{
	struct dmirror_stats ds;
	char *again;

	assert_int_equal(zd_mm_lookup(f->mm, (unsigned long)f->buf, NULL), -EFAULT);
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	dmirror_get_stats(f->dm, &ds);
	assert_int_equal(ds.pages_in_use, 0);
	again = mmap(f->buf, f->len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_ptr_equal(again, f->buf);
	assert_int_equal(zd_mm_register(f->mm, again, f->len), 0);
	fill(again, f->len, 72);
	to_device(f, again, f->npages, 0);
	check(again, f->len, 72);
}

/* The move finds its source unmapped: it must not copy from it. */
static void test_munmap_under_move(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	assert_no_warn(migrate_across_munmap(&f, "hmm.migrate.move"));
	check_gone_and_reusable(&f);
	fx_fini(&f);
}

/* The unmap finds the pages busy: the migration must not install them. */
static void test_munmap_before_install(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	assert_no_warn(migrate_across_munmap(&f, "hmm.migrate.pages"));
	check_gone_and_reusable(&f);
	fx_fini(&f);
}

/*
 * munmap() returns once the fault thread has read its event, maybe
 * before it handled it: here it is held in between.  What is managed
 * must already agree with the munmap, so a new mapping there registers.
 */
static void test_munmap_then_register(void **state)
{
	struct cmd_thread rg = { 0 };
	pthread_t t;
	struct fx f;
	char *again;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, f.len, 73);
	to_device(&f, f.buf, f.npages, 0);
	assert_int_equal(zd_fault_inject_pause("hmm.event", 10000), 0);
	assert_int_equal(munmap(f.buf, f.len), 0);
	again = mmap(f.buf, f.len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_ptr_equal(again, f.buf);
	rg.f = &f;
	assert_int_equal(pthread_create(&t, NULL, register_buf, &rg), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	test_sleep_us(100000);
	assert_false(atomic_load(&rg.done));	/* waits for the unmap */
	zd_fault_inject_reset();		/* the only point user is held */
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(rg.err, 0);
	assert_int_equal(page_frees(f.dm), f.npages);
	check_zero(again, f.len);
	fx_fini(&f);
}

/*
 * A migration still holds the pages of a mapping the application
 * unmapped and mapped anew at the same address (it is held before its
 * move here), so the new mapping's registration waits for it, and the
 * application writes the new mapping meanwhile.  The registration must
 * see those pages: taken for never touched, the next migration would
 * leave them in place beside device pages of zeros (two copies, the
 * device's stale).
 */
static void test_register_sees_pages_written_while_it_waits(void **state)
{
	struct cmd_thread rg = { 0 };
	struct migrator mg;
	pthread_t t, u;
	struct fx f;
	char *again;

	(void)state;
	fx_init(&f, MiB(1));
	mg = (struct migrator){ &f, 1 };
	rg.f = &f;
	fill(f.buf, f.len, 78);
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.move", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, migrate_all, &mg), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(munmap(f.buf, f.len), 0);
	again = mmap(f.buf, f.len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_ptr_equal(again, f.buf);
	assert_int_equal(pthread_create(&u, NULL, register_buf, &rg), 0);
	test_sleep_us(100000);
	assert_false(atomic_load(&rg.done));	/* waits for the migration */
	fill(f.buf, f.len, 79);
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pthread_join(u, NULL), 0);
	assert_int_equal(mg.err, -ENOENT);
	assert_int_equal(rg.err, 0);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL),
			 ZD_MM_PAGE_HOST);
	to_device(&f, f.buf, f.npages, 0);
	check_device(&f, 79);
	check(f.buf, f.len, 79);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	fx_fini(&f);
}

struct poker {
	char *addr;
	atomic_bool done;
};

static void *poke(void *arg)
{
	struct poker *p = arg;

	*(volatile char *)p->addr = 'w';
	atomic_store(&p->done, true);
	return NULL;
}

static void *setup_only(void *arg)
{
	struct zd_migrate_vma *m = arg;

	return (void *)(intptr_t)zd_migrate_vma_setup(m);
}

/*
 * The application unmaps a page in the middle of a run being collected
 * and maps a new one there, not registered: the kernel's write-protect
 * of the run stops at that mapping.  The pages after it must be
 * protected all the same, or a write to one lands in the host page after
 * the driver copied it, and is lost when the page leaves for the device.
 */
static void test_write_protect_past_a_new_mapping(void **state)
{
	unsigned long src[4], dst[4];
	struct poker pk = { 0 };
	struct zd_migrate_vma m;
	pthread_t t, u;
	void *err;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, 4 * PG, 82);
	m = (struct zd_migrate_vma){ .mm = f.mm, .src = src, .dst = dst,
				     .npages = 4, .start = (unsigned long)f.buf,
				     .end = (unsigned long)f.buf + 4 * PG,
				     .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.setup", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, setup_only, &m), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));	/* collected */
	assert_int_equal(munmap(f.buf + PG, PG), 0);
	assert_ptr_equal(mmap(f.buf + PG, PG, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
			 f.buf + PG);
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, &err), 0);
	assert_null(err);
	assert_int_equal(m.cpages, 4);
	pk.addr = f.buf + 3 * PG;
	assert_int_equal(pthread_create(&u, NULL, poke, &pk), 0);
	test_sleep_us(100000);
	assert_false(atomic_load(&pk.done));	/* waits for the migration */
	zd_migrate_vma_pages(&m);		/* no dst: nothing moves */
	zd_migrate_vma_finalize(&m);
	assert_int_equal(pthread_join(u, NULL), 0);
	assert_int_equal(f.buf[3 * PG], 'w');
	check_off(f.buf, 0, PG, 82);
	check_off(f.buf, 2 * PG, PG, 82);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + PG, NULL), -EFAULT);
	fx_fini(&f);
}

/*
 * A migration held before its move while the application unmaps the
 * buffer and maps plain memory there (never registered), which it
 * writes: the migration must not take that memory's pages for the
 * buffer's (they could not go back: nothing manages the address).
 */
static void test_move_leaves_a_new_mapping_alone(void **state)
{
	struct migrator mg;
	pthread_t t;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	mg = (struct migrator){ &f, 1 };
	fill(f.buf, f.len, 83);
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.move", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, migrate_all, &mg), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(munmap(f.buf, f.len), 0);
	assert_ptr_equal(mmap(f.buf, f.len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
			 f.buf);
	fill(f.buf, f.len, 84);
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(mg.err, -ENOENT);
	check(f.buf, f.len, 84);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL), -EFAULT);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	fx_fini(&f);
}

/*
 * A migration that found its pages unmapped finishes while the
 * application has mapped, registered and begun migrating new memory at
 * their address: making "its" pages writable again must not unprotect
 * the new migration's snapshot.
 */
static void test_stale_finalize_keeps_a_new_snapshot(void **state)
{
	unsigned long src[4], dst[4], src2[4], dst2[4];
	struct zd_migrate_vma m, m2;
	struct poker pk = { 0 };
	pthread_t t, u;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, 4 * PG, 85);
	collect(&f, &m, src, dst, 4);
	assert_int_equal(munmap(f.buf, 4 * PG), 0);
	assert_ptr_equal(mmap(f.buf, 4 * PG, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
			 f.buf);
	fill(f.buf, 4 * PG, 86);
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.finalize", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, pages_and_finalize, &m), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(zd_mm_register(f.mm, f.buf, 4 * PG), 0);
	collect(&f, &m2, src2, dst2, 4);	/* write-protects them */
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	pk.addr = f.buf + 3 * PG;
	assert_int_equal(pthread_create(&u, NULL, poke, &pk), 0);
	test_sleep_us(100000);
	assert_false(atomic_load(&pk.done));	/* waits for the migration */
	zd_migrate_vma_pages(&m2);
	zd_migrate_vma_finalize(&m2);
	assert_int_equal(pthread_join(u, NULL), 0);
	assert_int_equal(f.buf[3 * PG], 'w');
	check_off(f.buf, 0, 3 * PG, 86);
	fx_fini(&f);
}

/* Ranges the application unmapped are freed; a hole splits a range. */
static void test_unmapped_ranges_are_freed(void **state)
{
	struct zd_mm_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	for (int i = 0; i < 1000; i++) {
		char *p = zd_mm_map(f.mm, 4 * PG);

		assert_non_null(p);
		p[PG] = 1;
		assert_int_equal(munmap(p, 4 * PG), 0);
	}
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.ranges, 1);
	fill(f.buf, f.len, 74);
	to_device(&f, f.buf, f.npages, 0);
	assert_int_equal(munmap(f.buf + 4 * PG, PG), 0);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.ranges, 2);
	assert_int_equal(zd_mm_device_pages(f.mm), f.npages - 1);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + 4 * PG, NULL), -EFAULT);
	check_off(f.buf, 0, 4 * PG, 74);
	check_off(f.buf, 5 * PG, f.len - 5 * PG, 74);
	/* unmapping its ends trims a range; all of it frees it */
	assert_int_equal(munmap(f.buf, PG), 0);
	assert_int_equal(munmap(f.buf + f.len - PG, PG), 0);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.ranges, 2);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + PG, NULL), ZD_MM_PAGE_HOST);
	assert_int_equal(munmap(f.buf, 4 * PG), 0);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.ranges, 1);
	/* a range the application cut up unregisters as a whole */
	assert_int_equal(zd_mm_unregister(f.mm, f.buf, f.len), 0);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.ranges, 0);
	fx_fini(&f);
}

/* Holes punched at random into many ranges: every page still looks up
 * as what it is, through every block of the table's index. */
static void test_range_table_with_many_holes(void **state)
{
	enum { N = 300 };
	struct zd_mm_stats st;
	bool gone[N] = { false };
	unsigned long seed = 7;
	struct fx f;
	char *p;

	(void)state;
	fx_init(&f, MiB(1));
	p = zd_mm_map(f.mm, N * PG);
	assert_non_null(p);
	for (int round = 0; round < N / 2; round++) {
		int i;

		seed = seed * 6364136223846793005ul + 1442695040888963407ul;
		i = (int)((seed >> 33) % N);
		if (!gone[i])
			assert_int_equal(munmap(p + i * PG, PG), 0);
		gone[i] = true;
		for (int j = 0; j < N; j++)
			assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)(p + j * PG), NULL),
					 gone[j] ? -EFAULT : ZD_MM_PAGE_EMPTY);
	}
	for (int i = 0; i < N; i++)
		if (!gone[i])
			assert_int_equal(munmap(p + i * PG, PG), 0);
	zd_mm_get_stats(f.mm, &st);
	assert_int_equal(st.ranges, 1);		/* the fixture's buffer */
	fx_fini(&f);
}

/*
 * The fault thread holds a reference on the device page it brings home,
 * as the kernel does: an unplug meanwhile waits for it rather than unmap
 * the page under it.
 */
static void test_unplug_waits_for_fault(void **state)
{
	struct cmd_thread ub = { 0 };
	pthread_t t, u;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, PG, 75);
	to_device(&f, f.buf, 1, 0);
	assert_int_equal(zd_fault_inject_pause("hmm.device_fault", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, touch, f.buf), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	ub.f = &f;
	assert_int_equal(pthread_create(&u, NULL, unbind_thread, &ub), 0);
	test_sleep_us(100000);		/* it evicts, then waits for the fault */
	assert_false(atomic_load(&ub.done));
	zd_fault_inject_reset();	/* the only point user is held */
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(u, NULL), 0);
	assert_int_equal(ub.err, 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	check(f.buf, PG, 75);
	/* the page that fault freed during the unbind is no free page after
	 * a rebind: its memmap is gone */
	assert_int_equal(dmirror_rebind(f.dm), 0);
	fill(f.buf, f.len, 76);
	to_device(&f, f.buf, f.npages, 0);
	check(f.buf, f.len, 76);
	fx_fini(&f);
}

static void *migrate_cmd(void *arg)
{
	struct cmd_thread *c = arg;

	struct migrator mg = { c->f, 0 };

	migrate_all(&mg);
	c->err = mg.err;
	atomic_store(&c->done, true);
	return NULL;
}

static void *read_cmd(void *arg)
{
	struct cmd_thread *c = arg;
	struct dmirror_cmd d = cmd(c->f, c->f->buf, 1, c->bounce);

	c->err = dmirror_read(c->f->dm, &d);
	atomic_store(&c->done, true);
	return NULL;
}

/*
 * An unbind waits for the commands in flight (one is held inside a
 * migration here), and commands after it get -ENODEV: no page is left
 * in a chunk no eviction sees, and the device can be destroyed.
 */
static void test_unbind_waits_for_commands(void **state)
{
	struct cmd_thread mc = { 0 }, ub = { 0 };
	struct dmirror_stats ds;
	struct dmirror_cmd c;
	pthread_t t[2];
	char page[4096];
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	mc.f = ub.f = &f;
	fill(f.buf, f.len, 77);
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.move", 10000), 0);
	assert_int_equal(pthread_create(&t[0], NULL, migrate_cmd, &mc), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(pthread_create(&t[1], NULL, unbind_thread, &ub), 0);
	test_sleep_us(100000);
	assert_false(atomic_load(&ub.done));	/* waits for the command */
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t[0], NULL), 0);
	assert_int_equal(pthread_join(t[1], NULL), 0);
	assert_int_equal(ub.err, 0);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	dmirror_get_stats(f.dm, &ds);
	assert_int_equal(ds.pages_in_use, 0);
	check(f.buf, f.len, 77);
	c = cmd(&f, f.buf, f.npages, NULL);
	assert_int_equal(dmirror_migrate_to_device(f.dm, &c), -ENODEV);
	assert_int_equal(dmirror_migrate_to_system(f.dm, &c), -ENODEV);
	c = cmd(&f, f.buf, 1, page);
	assert_int_equal(dmirror_read(f.dm, &c), -ENODEV);
	assert_int_equal(dmirror_write(f.dm, &c), -ENODEV);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	fx_fini(&f);			/* destroys the device: no wait */
}

/*
 * A device read of a host page the application unmaps meanwhile: the
 * read faults (a never-touched page), the fault thread is held on it,
 * and the range goes.  The read ends with -EFAULT, not a crash.
 */
static void test_device_read_racing_munmap(void **state)
{
	struct cmd_thread rc = { 0 }, um = { 0 };
	pthread_t t[2];
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	rc.f = &f;
	rc.bounce = malloc(PG);
	assert_int_equal(zd_fault_inject_pause("hmm.fault", 10000), 0);
	assert_int_equal(pthread_create(&t[0], NULL, read_cmd, &rc), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	/* munmap() unmaps at once, then waits for the held fault thread */
	um.f = &f;
	assert_int_equal(pthread_create(&t[1], NULL, munmap_buf, &um), 0);
	assert_true(wait_for(msync(f.buf, PG, MS_ASYNC) && errno == ENOMEM));
	zd_fault_inject_reset();		/* the only point user is held */
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t[0], NULL), 0);
	assert_int_equal(pthread_join(t[1], NULL), 0);
	assert_int_equal(um.err, 0);
	assert_int_equal(rc.err, -EFAULT);
	free(rc.bounce);
	f.buf = mmap(NULL, f.len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fx_fini(&f);
}

/*
 * A transform works on device memory while a CPU thread touches the
 * page: the fault must not take the page home under it.  The transform
 * holds the page; the fault retries until it is done, then sees the
 * transformed bytes, and nothing is lost.
 */
struct xform {
	struct fx *f;
	pthread_t toucher;
	struct toucher t;
};

static void add_one(void *page, size_t len, void *arg)
{
	struct xform *x = arg;

	assert_int_equal(pthread_create(&x->toucher, NULL, touch_and_tell, &x->t), 0);
	/* the fault reached migrate_to_ram again and again (held off), or,
	 * without the hold, took the page home */
	wait_for(dmirror_migrate_to_ram_calls(x->f->dm) >= 2 ||
		 atomic_load(&x->t.seen) >= 0);
	for (size_t i = 0; i < len; i++)
		((char *)page)[i]++;
}

static void test_transform_holds_the_page(void **state)
{
	struct xform x = { .t = { .seen = -1 } };
	struct dmirror_cmd c;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	x.f = &f;
	x.t.addr = f.buf;
	memset(f.buf, 1, PG);
	to_device(&f, f.buf, 1, 0);
	c = cmd(&f, f.buf, 1, NULL);
	assert_int_equal(dmirror_transform(f.dm, &c, add_one, &x), 0);
	assert_int_equal(c.cpages, 1);
	assert_int_equal(pthread_join(x.toucher, NULL), 0);
	assert_int_equal(x.t.seen, 2);		/* after the transform */
	for (size_t i = 0; i < PG; i++)
		assert_int_equal(f.buf[i], 2);	/* and nothing lost */
	fx_fini(&f);
}

/* ---- a driver's bad entries ---------------------------------------------- */

static void no_free(struct zd_page *page)
{
	(void)page;
}

static const struct zd_dev_pagemap_ops generic_ops = { .page_free = no_free };

/* The last pfn of a section of zonedev's physical space that has no
 * memmap, from the top (where free regions are handed out first). */
static unsigned long pfn_without_memmap(void)
{
	unsigned long step = ZD_SECTION_SIZE >> zd_page_shift;
	unsigned long pfn = (1ul << (zd_max_physmem_bits() - zd_page_shift)) - 1;

	while (zd_pfn_valid(pfn) || zd_pfn_valid(pfn - 1))
		pfn -= step;
	return pfn;
}

/*
 * Migration checks what its driver passes, as the kernel does: a dst pfn
 * without a struct page or that is not device-private is refused (the
 * page stays), pfns without a memmap are no unplug range, NULL arrays
 * are reported, and setup writes nothing where it finds no mapping.
 */
static void test_bad_driver_entries(void **state)
{
	unsigned long src[4], dst[4], nomap;
	struct zd_dev_pagemap pgmap = { .type = ZD_MEMORY_DEVICE_GENERIC,
					.nr_range = 1, .ops = &generic_ops };
	struct zd_migrate_vma m;
	struct zd_resource *res;
	struct fx f;
	char *gone;
	int err;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, 2 * PG, 81);
	res = zd_request_free_mem_region(zd_iomem_root(), ZD_SECTION_SIZE, "test_hmm");
	assert_non_null(res);
	pgmap.range.start = res->start;
	pgmap.range.end = res->start + ZD_SECTION_SIZE - 1;
	assert_non_null(zd_memremap_pages(&pgmap, ZD_NUMA_NO_NODE));
	nomap = pfn_without_memmap();
	collect(&f, &m, src, dst, 2);
	dst[0] = zd_migrate_pfn(nomap);
	dst[1] = zd_migrate_pfn(res->start >> zd_page_shift);	/* GENERIC */
	assert_warns_n(2, "not a device-private page", zd_migrate_vma_pages(&m));
	assert_int_equal(src[0] & ZD_MIGRATE_PFN_MIGRATE, 0);
	assert_int_equal(src[1] & ZD_MIGRATE_PFN_MIGRATE, 0);
	zd_migrate_vma_finalize(&m);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + PG, NULL),
			 ZD_MM_PAGE_HOST);
	check(f.buf, 2 * PG, 81);		/* the CPU reads it, no fault */
	assert_warns("no struct page",
		     err = zd_migrate_device_range(src, nomap - 1, 2));
	assert_int_equal(err, -EINVAL);
	assert_warns("NULL", zd_migrate_device_pages(NULL, dst, 2));
	assert_warns("NULL", zd_migrate_device_pages(src, NULL, 2));
	assert_warns("NULL", zd_migrate_device_finalize(src, NULL, 2));
	/* no mapping: nothing written */
	gone = mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gone, 2 * PG);
	m = (struct zd_migrate_vma){ .mm = f.mm, .src = src, .dst = dst, .npages = 2,
				     .start = (unsigned long)gone,
				     .end = (unsigned long)gone + 2 * PG,
				     .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	src[0] = dst[0] = 0x5a;
	assert_int_equal(zd_migrate_vma_setup(&m), -EINVAL);
	assert_int_equal(src[0], 0x5a);
	assert_int_equal(dst[0], 0x5a);
	/* staging memory never registered */
	assert_warns("not registered",
		     assert_int_equal(zd_hmm_unregister_staging(f.buf, PG), -EINVAL));
	zd_memunmap_pages(&pgmap);
	assert_int_equal(zd_release_mem_region(res->start, ZD_SECTION_SIZE), 0);
	fx_fini(&f);
}

/* How many mappings /proc/self/maps shows in [a, a + len). */
static int mappings_in(const char *a, size_t len)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	unsigned long s, e;
	char line[512];
	int n = 0;

	assert_non_null(maps);
	while (fgets(line, sizeof(line), maps))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 &&
		    s < (unsigned long)a + len && e > (unsigned long)a)
			n++;
	fclose(maps);
	return n;
}

static int no_migrate_to_ram(struct zd_vm_fault *vmf)
{
	(void)vmf;
	return -EIO;
}

static const struct zd_dev_pagemap_ops private_ops = {
	.page_free = no_free, .migrate_to_ram = no_migrate_to_ram,
};

/* Split the mapping at @p (the kernel's split, without a hole): flags
 * that nothing here depends on. */
static int split_mapping(char *p, size_t len)
{
	return madvise(p, len, MADV_NOHUGEPAGE) ? madvise(p, len, MADV_DONTFORK) : 0;
}

/* A driver's device-private memory of its own, one section. */
struct private_mem {
	struct zd_dev_pagemap pgmap;
	struct zd_resource *res;
	unsigned long pfn;
};

static void private_mem_init_ops(struct private_mem *pm,
				 const struct zd_dev_pagemap_ops *ops)
{
	*pm = (struct private_mem){ .pgmap = { .type = ZD_MEMORY_DEVICE_PRIVATE,
		.nr_range = 1, .ops = ops, .owner = &next_id } };
	pm->res = zd_request_free_mem_region(zd_iomem_root(), ZD_SECTION_SIZE,
					     "test_hmm");
	assert_non_null(pm->res);
	pm->pgmap.range.start = pm->res->start;
	pm->pgmap.range.end = pm->res->start + ZD_SECTION_SIZE - 1;
	assert_non_null(zd_memremap_pages(&pm->pgmap, ZD_NUMA_NO_NODE));
	pm->pfn = pm->res->start >> zd_page_shift;
}

static void private_mem_init(struct private_mem *pm)
{
	private_mem_init_ops(pm, &private_ops);
}

static void private_mem_fini(struct private_mem *pm)
{
	zd_memunmap_pages(&pm->pgmap);
	assert_int_equal(zd_release_mem_region(pm->res->start, ZD_SECTION_SIZE), 0);
}

/* The first @n pages of the buffer collected, and given device pages as
 * a driver that copies (no move) gives them. */
static void collect_to_private(struct fx *f, struct private_mem *pm,
			       struct zd_migrate_vma *m, unsigned long *src,
			       unsigned long *dst, unsigned long n)
{
	collect(f, m, src, dst, n);
	for (unsigned long i = 0; i < n; i++) {
		assert_int_equal(zd_zone_device_page_init(zd_pfn_to_page(pm->pfn + i)), 0);
		dst[i] = zd_migrate_pfn(pm->pfn + i) | ZD_MIGRATE_PFN_WRITE;
	}
}

/* No host copy of the first @n pages is left: the device's are the only
 * copies. */
static void assert_host_copies_gone(struct fx *f, unsigned long n)
{
	unsigned char vec[16];

	assert_true(n <= sizeof(vec));
	for (unsigned long i = 0; i < n; i++)
		assert_int_equal(zd_mm_lookup(f->mm, (unsigned long)f->buf + i * PG, NULL),
				 ZD_MM_PAGE_DEVICE);
	assert_int_equal(zd_mm_device_pages(f->mm), n);
	assert_int_equal(mincore(f->buf, n * PG, vec), 0);
	for (unsigned long i = 0; i < n; i++)
		assert_int_equal(vec[i] & 1, 0);
}

/*
 * A driver copies host pages to its device (no move), so pages() drops
 * them with one MADV_DONTNEED.  Its remove event names the whole run;
 * if the mapping is split while madvise waits for the event to be read
 * (an application's mprotect, munmap or madvise next to it), madvise
 * sends the rest again as a second event, and returns once that is
 * read, not handled.  Handled after finalize made the entries device
 * entries, it would drop the device pages just installed, and their
 * bytes with them.  Here the fault thread is held in a fault while the
 * mapping is split, then between the read and the handling of the
 * second event.  (Where the kernel can move pages, pages() moves them
 * out instead, without an event: the mm here is made as on older
 * kernels.)
 */
static void test_discard_across_a_split(void **state)
{
	unsigned long src[4], dst[4];
	struct private_mem pm;
	struct zd_migrate_vma m;
	pthread_t t, u;
	char *other;
	struct fx f;

	(void)state;
	assert_int_equal(zd_fault_inject_site("hmm.nomove"), 0);
	fx_init(&f, MiB(1));
	zd_fault_inject_reset();
	fill(f.buf, 4 * PG, 80);
	other = zd_mm_map(f.mm, PG);		/* never touched */
	assert_non_null(other);
	private_mem_init(&pm);
	collect_to_private(&f, &pm, &m, src, dst, 4);
	/* the fault thread held after reading a fault: no event is read */
	assert_int_equal(zd_fault_inject_pause("hmm.event", 10000), 0);
	assert_int_equal(pthread_create(&u, NULL, touch, other), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(pthread_create(&t, NULL, pages_and_finalize, &m), 0);
	test_sleep_us(100000);			/* in madvise, waiting */
	assert_int_equal(mappings_in(f.buf, 4 * PG), 1);
	assert_int_equal(split_mapping(f.buf + 2 * PG, 2 * PG), 0);
	assert_int_equal(mappings_in(f.buf, 4 * PG), 2);
	zd_fault_inject_resume();
	assert_true(wait_for(zd_fault_inject_calls() == 2));
	zd_fault_inject_resume();		/* the first event: ours */
	assert_true(wait_for(zd_fault_inject_calls() == 3));
	test_sleep_us(100000);			/* madvise returned */
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pthread_join(u, NULL), 0);
	assert_host_copies_gone(&f, 4);
	fx_unmap(&f);				/* frees them */
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	private_mem_fini(&pm);
	munmap(other, PG);
	fx_fini(&f);
}

/*
 * A driver copied host pages to its device, pages() installed the device
 * entries and is about to drop the host pages (held there).  The
 * application unmaps the memory, maps new memory at the same address and
 * writes it: the drop must not reach the new mapping's bytes.  Closed
 * where the kernel can move pages (Linux 6.8); before, the window stays.
 */
static void test_remap_before_the_host_copy_goes(void **state)
{
	unsigned long src[4], dst[4];
	struct private_mem pm;
	struct zd_migrate_vma m;
	char *again;
	pthread_t t;
	struct fx f;

	(void)state;
	if (!kernel_moves_pages()) {
		print_message("no UFFDIO_MOVE before Linux 6.8: skipped\n");
		skip();
	}
	fx_init(&f, MiB(1));
	fill(f.buf, 4 * PG, 84);
	private_mem_init(&pm);
	collect_to_private(&f, &pm, &m, src, dst, 4);
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.discard", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, pages_and_finalize, &m), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(munmap(f.buf, 4 * PG), 0);
	again = mmap(f.buf, 4 * PG, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_ptr_equal(again, f.buf);
	fill(again, 4 * PG, 85);
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	check(again, 4 * PG, 85);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);	/* none installed */
	private_mem_fini(&pm);
	fx_fini(&f);
}

/* Without its trash (no memory for it, a kernel before Linux 6.8, a
 * page UFFDIO_MOVE refuses), pages() drops the host copies all the same. */
static void test_host_copies_go_without_the_trash(void **state)
{
	unsigned long src[4], dst[4];
	struct private_mem pm;
	struct zd_migrate_vma m;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, 4 * PG, 86);
	private_mem_init(&pm);
	collect_to_private(&f, &pm, &m, src, dst, 4);
	assert_int_equal(zd_fault_inject_site("hmm.trash"), 0);
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	zd_fault_inject_reset();
	assert_host_copies_gone(&f, 4);
	fx_unmap(&f);
	private_mem_fini(&pm);
	fx_fini(&f);
}

/*
 * A driver that gives up after setup calls finalize without pages()
 * (the kernel's abort path): nothing moves, no page in use is freed, and
 * host pages become writable again.  Both ways, and by pfn.
 */
static void test_finalize_without_pages_moves_nothing(void **state)
{
	unsigned long src[2], dst[2], frees;
	struct zd_migrate_vma m;
	struct zd_page *page;
	struct poker pk = { 0 };
	pthread_t t;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, 2 * PG, 87);
	to_device(&f, f.buf, 2, 0);
	frees = page_frees(f.dm);
	m = (struct zd_migrate_vma){ .mm = f.mm, .src = src, .dst = dst,
				     .npages = 2, .start = (unsigned long)f.buf,
				     .end = (unsigned long)f.buf + 2 * PG,
				     .pgmap_owner = f.dm,
				     .flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE };
	assert_int_equal(zd_migrate_vma_setup(&m), 0);
	assert_int_equal(m.cpages, 2);
	assert_no_warn(zd_migrate_vma_finalize(&m));
	assert_int_equal(page_frees(f.dm), frees);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + PG, NULL),
			 ZD_MM_PAGE_DEVICE);
	check(f.buf, 2 * PG, 87);		/* home through the driver */
	/* host pages: collected (write-protected), then given up */
	collect(&f, &m, src, dst, 2);
	assert_no_warn(zd_migrate_vma_finalize(&m));
	pk.addr = f.buf + PG;
	assert_int_equal(pthread_create(&t, NULL, poke, &pk), 0);
	assert_true(wait_for(atomic_load(&pk.done)));
	assert_int_equal(pthread_join(t, NULL), 0);
	/* by pfn, as an unplug that gives up */
	to_device(&f, f.buf, 1, 0);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, &page),
			 ZD_MM_PAGE_DEVICE);
	frees = page_frees(f.dm);
	assert_int_equal(zd_migrate_device_range(src, zd_page_to_pfn(page), 1), 0);
	assert_int_not_equal(src[0], 0);
	dst[0] = 0;
	assert_no_warn(zd_migrate_device_finalize(src, dst, 1));
	assert_int_equal(page_frees(f.dm), frees);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL),
			 ZD_MM_PAGE_DEVICE);
	check_off(f.buf, 0, PG, 87);
	fx_fini(&f);
}

/* Device pages installed by pfn without zd_migrate_device_range():
 * refused, as zd_migrate_vma_pages() refuses a src setup did not
 * collect; the application's bytes stay. */
static void test_device_pages_without_range_refused(void **state)
{
	unsigned long src[1], dst[1];
	struct zd_page *page;
	char *stage;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, PG, 89);
	to_device(&f, f.buf, 1, 0);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, &page),
			 ZD_MM_PAGE_DEVICE);
	stage = zd_alloc_system_page();
	assert_non_null(stage);
	memset(stage, 'X', PG);
	src[0] = zd_migrate_pfn(zd_page_to_pfn(page)) | ZD_MIGRATE_PFN_MIGRATE;
	dst[0] = zd_migrate_virt(stage);
	assert_warns("not collected", zd_migrate_device_pages(src, dst, 1));
	assert_warns("not collected", zd_migrate_device_finalize(src, dst, 1));
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL),
			 ZD_MM_PAGE_DEVICE);
	check(f.buf, PG, 89);
	zd_free_system_page(stage);
	fx_fini(&f);
}

/* One device page given as the destination of two pages: the second is
 * refused (it would share the first's reference). */
static void test_device_page_in_use_refused_as_dst(void **state)
{
	unsigned long src[2], dst[2];
	struct private_mem pm;
	struct zd_migrate_vma m;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, 2 * PG, 90);
	private_mem_init(&pm);
	collect(&f, &m, src, dst, 2);
	assert_int_equal(zd_zone_device_page_init(zd_pfn_to_page(pm.pfn)), 0);
	dst[0] = dst[1] = zd_migrate_pfn(pm.pfn) | ZD_MIGRATE_PFN_WRITE;
	assert_warns("already mapped", zd_migrate_vma_pages(&m));
	assert_int_equal(src[1] & ZD_MIGRATE_PFN_MIGRATE, 0);
	assert_warns("called twice", zd_migrate_vma_pages(&m));
	assert_int_equal(zd_mm_device_pages(f.mm), 1);
	zd_migrate_vma_finalize(&m);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL),
			 ZD_MM_PAGE_DEVICE);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf + PG, NULL),
			 ZD_MM_PAGE_HOST);
	check_off(f.buf, PG, PG, 90);
	fx_unmap(&f);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	private_mem_fini(&pm);
	fx_fini(&f);
}

static atomic_int lazy_calls;

/* The first call migrates nothing and returns 0, which the kernel allows
 * (the thread faults again); the next brings the page home, seed 91. */
/* Bring the faulting page home holding seed 91 (private_mem pages have
 * no bytes of their own). */
static int home_as_91(struct zd_vm_fault *vmf)
{
	unsigned long src = 0, dst = 0;
	struct zd_migrate_vma m = {
		.mm = vmf->mm, .src = &src, .dst = &dst, .npages = 1,
		.start = vmf->address, .end = vmf->address + PG,
		.pgmap_owner = &next_id, .fault_page = vmf->page,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
	};
	char *stage = zd_alloc_system_page();

	if (!stage || zd_migrate_vma_setup(&m))
		return -EIO;
	fill(stage, PG, 91);
	if (src & ZD_MIGRATE_PFN_MIGRATE)
		dst = zd_migrate_virt(stage);
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	zd_free_system_page(stage);
	return 0;
}

static int lazy_migrate_to_ram(struct zd_vm_fault *vmf)
{
	if (atomic_fetch_add(&lazy_calls, 1) == 0)
		return 0;
	return home_as_91(vmf);
}

static const struct zd_dev_pagemap_ops lazy_ops = {
	.page_free = no_free, .migrate_to_ram = lazy_migrate_to_ram,
};

static void test_migrate_to_ram_that_moves_nothing_faults_again(void **state)
{
	unsigned long src[1], dst[1];
	struct poker pk = { 0 };
	struct private_mem pm;
	struct zd_migrate_vma m;
	pthread_t t;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, PG, 92);
	private_mem_init_ops(&pm, &lazy_ops);
	collect_to_private(&f, &pm, &m, src, dst, 1);
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL),
			 ZD_MM_PAGE_DEVICE);
	pk.addr = f.buf + PG - 1;		/* the page's last byte */
	assert_int_equal(pthread_create(&t, NULL, poke, &pk), 0);
	assert_true(wait_for(atomic_load(&pk.done)));
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(atomic_load(&lazy_calls), 2);
	check_off(f.buf, 0, PG - sizeof(unsigned int), 91);
	assert_int_equal(f.buf[PG - 1], 'w');
	private_mem_fini(&pm);
	fx_fini(&f);
}

/* A driver whose migrate_to_ram forgets .fault_page: the fault's own
 * reference then keeps the page from being collected and the kernel
 * would fault again forever.  zonedev warns and takes the faulting page
 * as .fault_page.  (After 20 calls it remembers, so that the code before
 * the fix fails the test instead of hanging it.) */
static atomic_int forgetful_calls;

static int forgetful_migrate_to_ram(struct zd_vm_fault *vmf)
{
	struct zd_vm_fault v = *vmf;

	if (atomic_fetch_add(&forgetful_calls, 1) < 20)
		v.page = NULL;		/* home_as_91() sets .fault_page */
	return home_as_91(&v);
}

static const struct zd_dev_pagemap_ops forgetful_ops = {
	.page_free = no_free, .migrate_to_ram = forgetful_migrate_to_ram,
};

static struct private_mem forgetful_pm;	/* not on a stack a failure leaves */

static void test_migrate_to_ram_without_fault_page_warns(void **state)
{
	unsigned long src[1], dst[1], warns;
	struct poker pk = { 0 };
	struct zd_migrate_vma m;
	struct fx *f = *state;
	pthread_t t;

	private_mem_init_ops(&forgetful_pm, &forgetful_ops);
	collect_to_private(f, &forgetful_pm, &m, src, dst, 1);
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	warns = zd_warn_count();
	pk.addr = f->buf + PG - 1;
	assert_int_equal(pthread_create(&t, NULL, poke, &pk), 0);
	assert_true(wait_for(atomic_load(&pk.done)));
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(atomic_load(&forgetful_calls), 1);
	assert_int_equal(zd_warn_count(), warns + 1);
	check_off(f->buf, 0, PG - sizeof(unsigned int), 91);
	assert_int_equal(f->buf[PG - 1], 'w');
	private_mem_fini(&forgetful_pm);
}

static void *unregister_buf(void *arg)
{
	struct cmd_thread *c = arg;

	c->err = zd_mm_unregister(c->f->mm, c->f->buf, c->f->len);
	atomic_store(&c->done, true);
	return NULL;
}

/* A page held with zd_mm_lookup_get() does not migrate until put: an
 * unregister waits for the put, then brings it home with its bytes. */
static void test_unregister_waits_for_a_held_page(void **state)
{
	struct cmd_thread un = { 0 };
	struct zd_page *page;
	pthread_t t;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, f.len, 93);
	to_device(&f, f.buf, f.npages, 0);
	assert_int_equal(zd_mm_lookup_get(f.mm, (unsigned long)f.buf + PG, &page),
			 ZD_MM_PAGE_DEVICE);
	un.f = &f;
	assert_int_equal(pthread_create(&t, NULL, unregister_buf, &un), 0);
	test_sleep_us(100000);
	assert_false(atomic_load(&un.done));
	zd_put_page(page);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(un.err, 0);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	check(f.buf, f.len, 93);
	fx_fini(&f);
}

/* A migration to the device is held before it installs: an unregister
 * waits for it, then brings its pages home. */
static void test_unregister_waits_for_a_migration(void **state)
{
	struct cmd_thread un = { 0 };
	struct migrator mg;
	pthread_t t, u;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, f.len, 94);
	mg = (struct migrator){ &f, 1 };
	assert_int_equal(zd_fault_inject_pause("hmm.migrate.pages", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, migrate_all, &mg), 0);
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	un.f = &f;
	assert_int_equal(pthread_create(&u, NULL, unregister_buf, &un), 0);
	test_sleep_us(100000);
	assert_false(atomic_load(&un.done));
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pthread_join(u, NULL), 0);
	assert_int_equal(un.err, 0);
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	check(f.buf, f.len, 94);
	fx_fini(&f);
}

struct late_migrator {
	struct fx *f;
	unsigned long n;
	int err;
};

/* Once fork()'s eviction is held: migrate the first n pages, and let the
 * eviction go 200 ms later (the migration, if it were not held back, has
 * long finished by then). */
static void *migrate_during_fork(void *arg)
{
	struct late_migrator *lm = arg;
	struct dmirror_cmd c = cmd(lm->f, lm->f->buf, lm->n, NULL);

	if (!wait_for(zd_fault_inject_calls() == 1))
		return NULL;
	lm->err = dmirror_migrate_to_device(lm->f->dm, &c);
	return NULL;
}

static void *resume_later(void *arg)
{
	(void)arg;
	if (wait_for(zd_fault_inject_calls() == 1))
		test_sleep_us(200000);
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	return NULL;
}

/* fork()'s eviction has passed the first pages when another thread
 * migrates them to the device: that migration waits for the fork, so the
 * child sees every byte. */
static void test_fork_holds_new_migrations_back(void **state)
{
	struct late_migrator lm;
	pthread_t t, r;
	int status;
	pid_t pid;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, f.len, 95);
	to_device(&f, f.buf + f.len - PG, 1, 0);	/* the eviction's last */
	lm = (struct late_migrator){ &f, f.npages - 1, 1 };
	assert_int_equal(zd_fault_inject_pause("hmm.evict", 10000), 0);
	assert_int_equal(pthread_create(&t, NULL, migrate_during_fork, &lm), 0);
	assert_int_equal(pthread_create(&r, NULL, resume_later, NULL), 0);
	pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < f.len; i += 4)
			if (*(unsigned int *)(f.buf + i) != (unsigned int)i * 2654435761u + 95)
				_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(pthread_join(r, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(lm.err, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check(f.buf, f.len, 95);
	fx_fini(&f);
}

/* written on the fault thread, read after the fault: atomics, as the
 * kernel's ordering of the two is out of ThreadSanitizer's sight */
static struct { atomic_int unregister, exclusive, access; } on_fault_thread;

/* A driver that, in migrate_to_ram, calls what waits for the fault
 * thread it runs on, then brings the page home. */
static int misusing_migrate_to_ram(struct zd_vm_fault *vmf)
{
	void *pages[1];
	char byte;

	atomic_store(&on_fault_thread.unregister,
		     zd_mm_unregister(vmf->mm, (void *)vmf->address, PG));
	atomic_store(&on_fault_thread.exclusive,
		     zd_make_device_exclusive_range(vmf->mm, vmf->address,
						    vmf->address + PG, pages,
						    &next_id));
	atomic_store(&on_fault_thread.access,
		     zd_access_remote_vm(vmf->mm, vmf->address, &byte, 1, 0));
	zd_mm_destroy(vmf->mm);
	return home_as_91(vmf);
}

static const struct zd_dev_pagemap_ops misusing_ops = {
	.page_free = no_free, .migrate_to_ram = misusing_migrate_to_ram,
};

/* Each is refused with a warning instead of waiting for itself (or, for
 * destroy, freeing the mm under the fault being served). */
static void test_calls_that_wait_for_the_fault_thread_refused_on_it(void **state)
{
	unsigned long src[1], dst[1], warns;
	struct poker pk = { 0 };
	struct private_mem pm;
	struct zd_migrate_vma m;
	pthread_t t;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	private_mem_init_ops(&pm, &misusing_ops);
	collect_to_private(&f, &pm, &m, src, dst, 1);
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	warns = zd_warn_count();
	pk.addr = f.buf + PG - 1;
	assert_int_equal(pthread_create(&t, NULL, poke, &pk), 0);
	assert_true(wait_for(atomic_load(&pk.done)));
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(atomic_load(&on_fault_thread.unregister), -EDEADLK);
	assert_int_equal(atomic_load(&on_fault_thread.exclusive), -EDEADLK);
	assert_int_equal(atomic_load(&on_fault_thread.access), 0);
	assert_int_equal(zd_warn_count(), warns + 4);
	check_off(f.buf, 0, PG - sizeof(unsigned int), 91);
	assert_int_equal(zd_mm_lookup(f.mm, (unsigned long)f.buf, NULL),
			 ZD_MM_PAGE_HOST);	/* the mm lives on */
	private_mem_fini(&pm);
	fx_fini(&f);
}

/* A fixture on the heap, so that a failed test still cleans up. */
static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	fx_init(f, MiB(1));
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f)
		fx_fini(f);
	free(f);
	return 0;
}

/*
 * A driver's steps out of order: a page taken (copied) twice, pages and
 * finalize without a setup, finalize twice, staging pages freed twice or
 * never allocated.  Each warns and changes nothing.
 */
static void test_driver_steps_out_of_order(void **state)
{
	struct fx *f = *state;
	unsigned long src[2], dst[2];
	struct zd_migrate_vma m;
	char *stage = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *sys;

	assert_true(stage != MAP_FAILED);
	fill(f->buf, 2 * PG, 91);
	collect(f, &m, src, dst, 2);
	/* not staging memory: copied, and taken all the same */
	assert_no_warn(assert_int_equal(zd_migrate_vma_move(&m, 0, 1, stage), 0));
	check(stage, PG, 91);
	assert_warns("bad move",
		     assert_int_equal(zd_migrate_vma_move(&m, 0, 2, stage), -EINVAL));
	assert_no_warn(assert_int_equal(zd_migrate_vma_move(&m, 1, 1, stage + PG), 0));
	assert_no_warn(zd_migrate_vma_pages(&m));	/* no dst: all stay */
	assert_no_warn(zd_migrate_vma_finalize(&m));
	assert_warns("not collected", zd_migrate_vma_finalize(&m));
	assert_warns("not collected", zd_migrate_vma_pages(&m));
	assert_int_equal(zd_mm_lookup(f->mm, (unsigned long)f->buf, NULL),
			 ZD_MM_PAGE_HOST);
	check(f->buf, 2 * PG, 91);
	f->buf[0] = 'z';			/* writable again */
	/* a driver that skipped setup names a page it never collected */
	sys = zd_alloc_system_page();
	assert_non_null(sys);
	memset(sys, 'x', PG);
	m.src[0] = zd_migrate_virt(f->buf + PG) | ZD_MIGRATE_PFN_MIGRATE;
	m.dst[0] = zd_migrate_virt(sys);
	assert_warns("not collected", zd_migrate_vma_pages(&m));
	check_off(f->buf, PG, PG, 91);
	assert_no_warn(zd_free_system_page(sys));
	assert_warns("freed already", zd_free_system_page(sys));
	assert_warns("not a page from", zd_free_system_page(stage));
	stage[0] = 1;				/* still mapped */
	munmap(stage, 2 * PG);
}

/* A second setup of a migration not finalized yet (the same src array)
 * would overwrite what the first collected, and those pages would stay
 * busy for good: refused with a warning, writing nothing; the first
 * migration goes on. */
static void test_setup_twice_is_refused(void **state)
{
	struct fx *f = *state;
	unsigned long src[2], dst[2], kept;
	struct zd_migrate_vma m, again;
	int err;

	fill(f->buf, 2 * PG, 92);
	collect(f, &m, src, dst, 2);
	kept = src[1];
	again = m;
	assert_warns("not finalized", err = zd_migrate_vma_setup(&again));
	assert_int_equal(src[1], kept);
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	assert_int_equal(err, -EBUSY);
	f->buf[0] = 'z';			/* neither page left busy */
	f->buf[PG] = 'z';
	check_off(f->buf, 4, PG - 4, 92);
	check_off(f->buf, PG + 4, PG - 4, 92);
	/* finalized, the array may serve again */
	assert_no_warn(collect(f, &m, src, dst, 2));
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
}

/* ---- everything at once ------------------------------------------------- */

/*
 * Two threads fault pages in (read, check, write), one migrates runs of
 * pages to the device and back, one reads and writes pages through the
 * device, and one unmaps runs and maps them again, all at random over
 * the same range.  A page's lock orders the threads that check its bytes
 * (a checker must know what was last written, and whether the page is
 * mapped); the migrations take no lock, so they race everything.  At the
 * end every page still mapped holds what was last written, zonedev
 * manages none of the others, and no device page is left.
 *
 * ZD_HMM_STRESS_SECONDS sets the run: 2 s by default, 1 s in the
 * sanitizer and valgrind runs (which set ZD_TEST_ROUNDS); 10 s for a
 * long run.
 */
struct stress_bad {
	const char *what;
	unsigned long page;
	unsigned int want, got;
};

struct stress {
	struct fx *f;
	pthread_mutex_t *lock;		/* per page */
	unsigned int *seed;		/* per page: what it holds; 0 = zeros */
	bool *mapped;			/* per page: false while unmapped */
	atomic_bool stop;
	atomic_ulong bad, ops[5];
	struct stress_bad first_bad[8];
	char *bounce[2];
};

static long stress_seconds(void)
{
	const char *env = getenv("ZD_HMM_STRESS_SECONDS");

	if (env)
		return atol(env);
	return getenv("ZD_TEST_ROUNDS") ? 1 : 2;
}

static unsigned int rnd(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Page @i holds what stress->seed says; @p: its bytes as read. */
static bool page_ok(struct stress *st, unsigned long i, const char *p)
{
	unsigned int seed = st->seed[i];

	for (size_t b = 0; b < PG; b += sizeof(unsigned int)) {
		unsigned int want = seed ? (unsigned int)b * 2654435761u + seed : 0;

		if (*(const unsigned int *)(p + b) != want)
			return false;
	}
	return true;
}

/* Count a failure; the first few are kept for the report (the first
 * word of a page names the seed that wrote it: an older one is a lost
 * write). */
static void stress_fail(struct stress *st, const char *what, unsigned long i,
			const char *p)
{
	unsigned long n = atomic_fetch_add(&st->bad, 1);

	if (n < 8)
		st->first_bad[n] = (struct stress_bad){ what, i, st->seed[i],
						       p ? *(const unsigned int *)p : 0 };
}

static void *stress_cpu(void *arg)
{
	struct stress *st = arg;
	unsigned int s = (unsigned int)(uintptr_t)&s;

	while (!atomic_load(&st->stop)) {
		unsigned long i = rnd(&s) % st->f->npages;
		char *p = st->f->buf + i * PG;

		pthread_mutex_lock(&st->lock[i]);
		if (st->mapped[i]) {
			if (!page_ok(st, i, p))
				stress_fail(st, "CPU read", i, p);
			st->seed[i] = rnd(&s) | 1;
			fill(p, PG, st->seed[i]);
		}
		pthread_mutex_unlock(&st->lock[i]);
		atomic_fetch_add(&st->ops[0], 1);
	}
	return NULL;
}

static void *stress_migrate(void *arg)
{
	struct stress *st = arg;
	unsigned int s = 7;

	while (!atomic_load(&st->stop)) {
		unsigned long n = 1 + rnd(&s) % 64, i = rnd(&s) % (st->f->npages - n);
		struct dmirror_cmd c = cmd(st->f, st->f->buf + i * PG, n, NULL);

		if (rnd(&s) & 1)
			dmirror_migrate_to_device(st->f->dm, &c);
		else
			dmirror_migrate_to_system(st->f->dm, &c);
		atomic_fetch_add(&st->ops[1], 1);
	}
	return NULL;
}

static void *stress_device(void *arg)
{
	struct stress *st = arg;
	unsigned int s = 11;

	while (!atomic_load(&st->stop)) {
		unsigned long i = rnd(&s) % st->f->npages;
		struct dmirror_cmd c = cmd(st->f, st->f->buf + i * PG, 1, st->bounce[0]);
		unsigned int seed = rnd(&s) | 1;

		pthread_mutex_lock(&st->lock[i]);
		if (!st->mapped[i]) {
			pthread_mutex_unlock(&st->lock[i]);
			continue;
		}
		if (dmirror_read(st->f->dm, &c))
			stress_fail(st, "device read error", i, NULL);
		else if (!page_ok(st, i, st->bounce[0]))
			stress_fail(st, "device read", i, st->bounce[0]);
		fill(st->bounce[1], PG, seed);
		c = cmd(st->f, st->f->buf + i * PG, 1, st->bounce[1]);
		if (!dmirror_write(st->f->dm, &c))
			st->seed[i] = seed;
		else
			stress_fail(st, "device write error", i, NULL);
		pthread_mutex_unlock(&st->lock[i]);
		atomic_fetch_add(&st->ops[2], 1);
	}
	return NULL;
}

#define RW	(PROT_READ | PROT_WRITE)
#define ANON	(MAP_PRIVATE | MAP_ANONYMOUS)

/*
 * Pages [i, i + n), locked and all mapped, unmapped: by munmap() and a
 * new mapping at once, by a new mapping over them (an unmap as well), or
 * by a PROT_NONE mapping over them that keeps the address for the
 * remaps (a hole could be taken by any mmap() of the process).  Whether
 * they are mapped (and managed) again.
 */
static bool stress_unmap(struct stress *st, unsigned long i, unsigned long n,
			 unsigned int how)
{
	char *p = st->f->buf + i * PG;

	switch (how % 4) {
	case 0:
		if (mmap(p, n * PG, PROT_NONE, ANON | MAP_FIXED, -1, 0) != p)
			stress_fail(st, "placeholder mmap", i, NULL);
		return false;
	case 1:
		if (mmap(p, n * PG, RW, ANON | MAP_FIXED, -1, 0) != p)
			stress_fail(st, "mmap over", i, NULL);
		return true;
	default:
		/* NOREPLACE: another thread's mmap() may have taken the hole */
		if (munmap(p, n * PG) ||
		    mmap(p, n * PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0) != p)
			stress_fail(st, "munmap or mmap", i, NULL);
		return true;
	}
}

static void *stress_remap(void *arg)
{
	struct stress *st = arg;
	unsigned int s = 13;

	while (!atomic_load(&st->stop)) {
		unsigned long n = 1 + rnd(&s) % 16, i = rnd(&s) % (st->f->npages - n);
		char *p = st->f->buf + i * PG;
		bool all = true, map;

		for (unsigned long k = i; k < i + n; k++) {
			pthread_mutex_lock(&st->lock[k]);
			all &= st->mapped[k];
		}
		if (all) {
			map = stress_unmap(st, i, n, rnd(&s));
		} else {		/* over the placeholders and the rest */
			map = mmap(p, n * PG, RW, ANON | MAP_FIXED, -1, 0) == p;
			if (!map)
				stress_fail(st, "mmap", i, NULL);
		}
		if (map && zd_mm_register(st->f->mm, p, n * PG))
			stress_fail(st, "register", i, NULL);
		for (unsigned long k = i; k < i + n; k++) {
			st->seed[k] = 0;
			st->mapped[k] = map;
			pthread_mutex_unlock(&st->lock[k]);
		}
		atomic_fetch_add(&st->ops[3], 1);
		test_sleep_us(1000);
	}
	return NULL;
}

static void test_stress_everything_at_once(void **state)
{
	long seconds = stress_seconds();
	void *(*fn[5])(void *) = { stress_cpu, stress_cpu, stress_migrate,
				   stress_device, stress_remap };
	unsigned long lost = 0, unmapped = 0;
	struct dmirror_stats ds;
	struct stress st = { 0 };
	pthread_t t[5];
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	st.f = &f;
	st.lock = calloc(f.npages, sizeof(*st.lock));
	st.seed = calloc(f.npages, sizeof(*st.seed));
	st.mapped = calloc(f.npages, sizeof(*st.mapped));
	st.bounce[0] = malloc(PG);
	st.bounce[1] = malloc(PG);
	for (unsigned long i = 0; i < f.npages; i++) {
		pthread_mutex_init(&st.lock[i], NULL);
		st.mapped[i] = true;
	}
	test_capture_warnings();
	assert_no_warn({
		for (int i = 0; i < 5; i++) {
			assert_int_equal(pthread_create(&t[i], NULL, fn[i], &st), 0);
		}
		test_sleep_us(seconds * 1000000);
		atomic_store(&st.stop, true);
		for (int i = 0; i < 5; i++)
			pthread_join(t[i], NULL);
	});
	/* the checksum: every page still mapped holds what was last written
	 * (read by the CPU: home from the device); the others are gone */
	for (unsigned long i = 0; i < f.npages; i++) {
		if (!st.mapped[i]) {
			unmapped++;
			lost += zd_mm_lookup(f.mm, (unsigned long)f.buf + i * PG, NULL) != -EFAULT;
		} else if (!page_ok(&st, i, f.buf + i * PG)) {
			stress_fail(&st, "final checksum", i, f.buf + i * PG);
		}
	}
	print_message("stress: %lu faults, %lu migrations, %lu device r/w, "
		      "%lu remaps in %ld s; %lu pages unmapped at the end\n",
		      atomic_load(&st.ops[0]), atomic_load(&st.ops[1]),
		      atomic_load(&st.ops[2]), atomic_load(&st.ops[3]), seconds,
		      unmapped);
	for (unsigned long k = 0; k < atomic_load(&st.bad) && k < 8; k++)
		print_message("  bad: %s, page %lu: holds %#x, %#x last written\n",
			      st.first_bad[k].what, st.first_bad[k].page,
			      st.first_bad[k].got, st.first_bad[k].want);
	assert_int_equal(atomic_load(&st.bad), 0);
	assert_int_equal(lost, 0);		/* unmapped, yet still managed */
	assert_true(atomic_load(&st.ops[3]) > 0 && atomic_load(&st.ops[1]) > 0);
	/* every page was read home: no device page is left */
	assert_int_equal(zd_mm_device_pages(f.mm), 0);
	assert_true(wait_for((dmirror_get_stats(f.dm, &ds), ds.pages_in_use == 0)));
	for (unsigned long i = 0; i < f.npages; i++)
		pthread_mutex_destroy(&st.lock[i]);
	free(st.lock);
	free(st.seed);
	free(st.mapped);
	free(st.bounce[0]);
	free(st.bounce[1]);
	fx_fini(&f);
}

/* The driver's migrate_to_ram fails: the faulting thread gets SIGBUS at
 * the address, and everything else goes on. */
static sigjmp_buf bus_jmp;
static void *volatile bus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_addr = si->si_addr;
	siglongjmp(bus_jmp, 1);
}

static void test_failed_migrate_to_ram_is_sigbus(void **state)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO }, old;
	volatile int got = 0;
	struct zd_mm_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, MiB(1));
	fill(f.buf, f.len, 11);
	to_device(&f, f.buf, f.npages, 0);
	dmirror_set_fail_faults(f.dm, true);
	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(bus_jmp, 1))
		got = f.buf[PG * 3 + 5];
	else
		got = -1;
	sigaction(SIGBUS, &old, NULL);
	assert_int_equal(got, -1);
	assert_ptr_equal(bus_addr, f.buf + PG * 3);
	zd_mm_get_stats(f.mm, &st);
	assert_true(st.sigbus >= 1);
	dmirror_set_fail_faults(f.dm, false);
	check(f.buf, f.len, 11);	/* and now it works */
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_and_read_back),
		cmocka_unit_test(test_device_write_then_cpu_read),
		cmocka_unit_test(test_untouched_and_half_touched),
		cmocka_unit_test(test_first_touch_fills_ahead),
		cmocka_unit_test(test_register_existing_memory),
		cmocka_unit_test(test_register_several_mappings),
		cmocka_unit_test(test_prefetch_brings_neighbours),
		cmocka_unit_test(test_concurrent_faults_and_migration),
		cmocka_unit_test(test_munmap_frees_device_pages),
		cmocka_unit_test(test_mremap_moves_device_pages),
		cmocka_unit_test(test_fork_after_migration),
		cmocka_unit_test(test_unplug_with_pages_out_loses_nothing),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_pages_move_without_copy),
		cmocka_unit_test_teardown(test_refused_moves_copy, disarm),
		cmocka_unit_test(test_shared_pages_are_copied),
		cmocka_unit_test_teardown(test_pages_copied_home_move_out_again, disarm),
		cmocka_unit_test(test_rewritten_lazy_free_pages_keep_their_data),
		cmocka_unit_test(test_reclaimed_pages_migrate_as_zero),
		cmocka_unit_test(test_taken_pages_without_dst_are_put_back),
		cmocka_unit_test(test_destroy_waits_for_migration_in_flight),
		cmocka_unit_test(test_home_across_mappings),
		cmocka_unit_test_teardown(test_stale_fault_leaves_moved_page_alone, disarm),
		cmocka_unit_test(test_page_reclaimed_under_migration_reads_zero),
		cmocka_unit_test(test_failed_migrate_to_ram_is_sigbus),
		cmocka_unit_test_teardown(test_munmap_under_move, disarm),
		cmocka_unit_test_teardown(test_munmap_before_install, disarm),
		cmocka_unit_test_teardown(test_munmap_then_register, disarm),
		cmocka_unit_test_teardown(test_register_sees_pages_written_while_it_waits, disarm),
		cmocka_unit_test_teardown(test_write_protect_past_a_new_mapping, disarm),
		cmocka_unit_test_teardown(test_move_leaves_a_new_mapping_alone, disarm),
		cmocka_unit_test_teardown(test_stale_finalize_keeps_a_new_snapshot, disarm),
		cmocka_unit_test(test_unmapped_ranges_are_freed),
		cmocka_unit_test(test_range_table_with_many_holes),
		cmocka_unit_test(test_bad_driver_entries),
		cmocka_unit_test_teardown(test_discard_across_a_split, disarm),
		cmocka_unit_test_teardown(test_remap_before_the_host_copy_goes, disarm),
		cmocka_unit_test_teardown(test_host_copies_go_without_the_trash, disarm),
		cmocka_unit_test(test_finalize_without_pages_moves_nothing),
		cmocka_unit_test(test_device_pages_without_range_refused),
		cmocka_unit_test(test_device_page_in_use_refused_as_dst),
		cmocka_unit_test(test_migrate_to_ram_that_moves_nothing_faults_again),
		cmocka_unit_test_setup_teardown(test_migrate_to_ram_without_fault_page_warns,
						fx_setup, fx_teardown),
		cmocka_unit_test(test_fork_while_notifiers_change),
		cmocka_unit_test(test_unregister_waits_for_a_held_page),
		cmocka_unit_test_teardown(test_unregister_waits_for_a_migration, disarm),
		cmocka_unit_test_teardown(test_fork_holds_new_migrations_back, disarm),
		cmocka_unit_test(test_calls_that_wait_for_the_fault_thread_refused_on_it),
		cmocka_unit_test_setup_teardown(test_driver_steps_out_of_order, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_setup_twice_is_refused, fx_setup,
						fx_teardown),
		cmocka_unit_test_teardown(test_unplug_waits_for_fault, disarm),
		cmocka_unit_test_teardown(test_unbind_waits_for_commands, disarm),
		cmocka_unit_test_teardown(test_device_read_racing_munmap, disarm),
		cmocka_unit_test(test_transform_holds_the_page),
		cmocka_unit_test(test_stress_everything_at_once),
	};

	test_capture_warnings();
	test_require_userfaultfd();
	return zd_run_tests(tests);
}
