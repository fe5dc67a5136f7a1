// SPDX-License-Identifier: MIT
/*
 * zd_pin_user_pages_remote(): pinned pages are faulted in (device-private
 * ones come home), host pages under a pin are not migrated nor made
 * exclusive until the unpin, a coherent page stays on its device with a
 * reference unless the pin is long-term, partial pins, errors, destroy
 * with pins held, and a pin racing migrations.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test_util.h"
#include "dmirror.h"

#define NPAGES	8

static size_t PG;
static int next_id = 300;

struct fx {
	struct zd_mm *mm;
	struct dmirror *dm, *coh;	/* device-private; coherent or NULL */
	char *buf;			/* NPAGES managed pages */
	struct zd_pin *pin;		/* dropped by teardown if left */
	pthread_t thread;
	bool thread_on;
	atomic_bool stop;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	PG = zd_page_size();
	*state = f;
	if (!f)
		return -1;
	f->mm = zd_mm_create();
	f->dm = dmirror_create(next_id++, 256ul << 20);
	if (!zd_hmm_device_coherent_supported())
		f->coh = dmirror_create_coherent(next_id++, 256ul << 20);
	f->buf = f->mm ? zd_mm_map(f->mm, NPAGES * PG) : NULL;
	if (f->buf)
		for (int i = 0; i < NPAGES; i++)
			memset(f->buf + i * PG, 'a' + i, PG);
	return f->mm && f->dm && f->buf ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	zd_fault_inject_reset();
	if (!f)
		return 0;
	if (f->thread_on) {
		atomic_store(&f->stop, true);
		pthread_join(f->thread, NULL);
	}
	zd_unpin_user_pages(f->pin);
	if (f->mm)
		zd_mm_destroy(f->mm);
	dmirror_destroy(f->dm);
	dmirror_destroy(f->coh);
	if (f->buf)
		munmap(f->buf, NPAGES * PG);
	free(f);
	return 0;
}

static struct dmirror_cmd cmd(struct fx *f, unsigned long page, unsigned long n)
{
	return (struct dmirror_cmd){ .mm = f->mm, .npages = n,
				     .addr = (unsigned long)f->buf + page * PG };
}

/* Migrate pages [page, page + n) to @dm: how many went (the kernel's
 * dmirror says -ENOENT where some did not). */
static unsigned long to_dev(struct fx *f, struct dmirror *dm, unsigned long page,
			    unsigned long n)
{
	struct dmirror_cmd c = cmd(f, page, n);
	int err = dmirror_migrate_to_device(dm, &c);

	assert_true(err == 0 || (err == -ENOENT && c.cpages < n));
	return c.cpages;
}

static int state_of(struct fx *f, unsigned long page)
{
	return zd_mm_lookup(f->mm, (unsigned long)f->buf + page * PG, NULL);
}

static void check_bytes(struct fx *f)
{
	for (int i = 0; i < NPAGES; i++)
		for (size_t b = 0; b < PG; b++)
			if (f->buf[i * PG + b] != 'a' + i)
				fail_msg("page %d byte %zu is %d", i, b, f->buf[i * PG + b]);
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The child @pid exits 0. */
static void assert_child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static long pin(struct fx *f, unsigned long page, unsigned long n,
		unsigned int flags, struct zd_page **pages)
{
	return zd_pin_user_pages_remote(f->mm, (unsigned long)f->buf + page * PG,
					n, flags, pages, &f->pin);
}

/* The fixture's pin dropped, so that teardown does not drop it again. */
static void unpin(struct fx *f)
{
	zd_unpin_user_pages(f->pin);
	f->pin = NULL;
}

/* Device-private pages come home; the pin holds host pages (NULL). */
static void test_pin_brings_private_pages_home(void **state)
{
	struct fx *f = *state;
	struct zd_page *pages[NPAGES];

	assert_int_equal(to_dev(f, f->dm, 0, NPAGES), NPAGES);
	memset(pages, 0xff, sizeof(pages));
	assert_int_equal(pin(f, 0, NPAGES, ZD_FOLL_WRITE, pages), NPAGES);
	for (int i = 0; i < NPAGES; i++) {
		assert_null(pages[i]);
		assert_int_equal(state_of(f, i), ZD_MM_PAGE_HOST);
	}
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	check_bytes(f);
}

/* A pinned host page is not migrated; its neighbours are; after the
 * unpin it is. */
static void test_pinned_host_page_stays(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pin(f, 2, 2, 0, NULL), 2);
	assert_int_equal(to_dev(f, f->dm, 0, NPAGES), NPAGES - 2);
	assert_int_equal(state_of(f, 1), ZD_MM_PAGE_DEVICE);
	assert_int_equal(state_of(f, 2), ZD_MM_PAGE_HOST);
	assert_int_equal(state_of(f, 3), ZD_MM_PAGE_HOST);
	assert_int_equal(state_of(f, 4), ZD_MM_PAGE_DEVICE);
	unpin(f);
	assert_int_equal(to_dev(f, f->dm, 2, 2), 2);
	check_bytes(f);
}

/* Never-touched pages are zero-filled and pinned. */
static void test_pin_faults_in_untouched_pages(void **state)
{
	struct fx *f = *state;
	char *fresh = zd_mm_map(f->mm, 4 * PG);

	assert_non_null(fresh);
	assert_int_equal(zd_pin_user_pages_remote(f->mm, (unsigned long)fresh, 4,
						  ZD_FOLL_WRITE, NULL, &f->pin), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(zd_mm_lookup(f->mm, (unsigned long)fresh + i * PG,
					      NULL), ZD_MM_PAGE_HOST);
	assert_int_equal(fresh[0], 0);
	unpin(f);
	munmap(fresh, 4 * PG);
}

/* Exclusive access leaves a pinned page with the CPU. */
static void test_pinned_page_not_made_exclusive(void **state)
{
	struct fx *f = *state;
	void *pages[2] = { NULL, NULL };

	bool made[2];
	int n;

	assert_int_equal(pin(f, 0, 1, 0, NULL), 1);
	n = zd_make_device_exclusive_range(f->mm, (unsigned long)f->buf,
					   (unsigned long)f->buf + 2 * PG, pages, NULL);
	for (int i = 0; i < 2; i++) {	/* put before any assert can fail */
		made[i] = pages[i];
		if (pages[i])
			zd_put_device_exclusive_page(pages[i]);
	}
	assert_int_equal(n, 2);
	assert_false(made[0]);
	assert_true(made[1]);
	check_bytes(f);
}

/* A short-term pin holds a coherent page on its device, referenced; a
 * migration home leaves it; long-term brings it home. */
static void test_coherent_pin_short_and_long(void **state)
{
	struct fx *f = *state;
	struct zd_page *pages[2];
	struct dmirror_cmd c;
	int refs;

	if (!f->coh)
		skip_msg("no DEVICE_COHERENT here (Linux 5.19 needed)");
	assert_int_equal(to_dev(f, f->coh, 0, 2), 2);
	assert_int_equal(pin(f, 0, 2, 0, pages), 2);
	assert_non_null(pages[0]);
	assert_true(zd_is_device_coherent_page(pages[0]));
	refs = zd_page_ref_count(pages[0]);
	assert_int_equal(refs, 2);	/* its mapping's and the pin's */
	c = cmd(f, 0, 2);
	assert_int_equal(dmirror_migrate_to_system(f->coh, &c), 0);
	assert_int_equal(c.cpages, 0);
	unpin(f);
	assert_int_equal(zd_page_ref_count(pages[0]), 1);

	assert_int_equal(pin(f, 0, 2, ZD_FOLL_LONGTERM, pages), 2);
	assert_null(pages[0]);
	assert_null(pages[1]);
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	check_bytes(f);
}

/* A fork while a pin holds a coherent page (here by the forking thread
 * itself, which waited for its own unpin before): the parent keeps the
 * page on its device, the child gets a copy of its own, as the kernel
 * copies pinned pages at fork. */
static void test_fork_with_coherent_page_pinned(void **state)
{
#ifdef __SANITIZE_THREAD__
	skip();		/* TSan cannot follow fork() from a threaded process */
#endif
	struct fx *f = *state;
	struct zd_page *pages[1];
	pid_t pid;

	if (!f->coh)
		skip_msg("no DEVICE_COHERENT here (Linux 5.19 needed)");
	assert_int_equal(to_dev(f, f->coh, 0, 2), 2);
	assert_int_equal(pin(f, 0, 1, 0, pages), 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool ok = f->buf[0] == 'a' && f->buf[PG] == 'b';

		f->buf[0] = 'C';	/* its own copy */
		_exit(ok && f->buf[0] == 'C' ? 0 : 1);
	}
	assert_child_ok(pid);
	assert_int_equal(f->buf[0], 'a');
	assert_int_equal(state_of(f, 0), ZD_MM_PAGE_DEVICE);
	assert_int_equal(state_of(f, 1), ZD_MM_PAGE_HOST);	/* not pinned */
	assert_int_equal(zd_page_ref_count(pages[0]), 2);
	f->buf[1] = 'P';
	unpin(f);
	f->buf[1] = 'a';
	check_bytes(f);
}

/* Partial pins: up to the first page that cannot be faulted in. */
static void test_partial_and_failed_pins(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mprotect(f->buf + 3 * PG, PG, PROT_READ), 0);
	assert_int_equal(pin(f, 0, NPAGES, ZD_FOLL_WRITE, NULL), 3);
	unpin(f);
	assert_int_equal(pin(f, 3, 1, ZD_FOLL_WRITE, NULL), -EFAULT);
	assert_null(f->pin);
	assert_int_equal(pin(f, 3, 1, 0, NULL), 1);	/* a read pin */
	unpin(f);
	/* no access at all (not unmapped: teardown unmaps the buffer, and a
	 * hole may be someone else's mapping by then) */
	assert_int_equal(mprotect(f->buf + 5 * PG, PG, PROT_NONE), 0);
	assert_int_equal(pin(f, 4, 2, 0, NULL), 1);
	unpin(f);
	assert_int_equal(pin(f, 5, 1, 0, NULL), -EFAULT);
	assert_int_equal(pin(f, 0, 0, 0, NULL), 0);
	assert_null(f->pin);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct zd_pin *p = (struct zd_pin *)1;
	unsigned long a = (unsigned long)f->buf;

	assert_warns("bad argument",
		     assert_int_equal(zd_pin_user_pages_remote(NULL, a, 1, 0, NULL, &p),
				      -EINVAL));
	assert_null(p);
	assert_warns("bad argument",
		     assert_int_equal(zd_pin_user_pages_remote(f->mm, a + 1, 1, 0, NULL, &p),
				      -EINVAL));
	assert_warns("bad argument",
		     assert_int_equal(zd_pin_user_pages_remote(f->mm, a, 1, 0x8000, NULL, &p),
				      -EINVAL));
	assert_warns("bad argument",
		     assert_int_equal(zd_pin_user_pages_remote(f->mm, a, ULONG_MAX, 0,
							       NULL, &p), -EINVAL));
	assert_warns("bad argument",
		     assert_int_equal(zd_pin_user_pages_remote(f->mm, a, 1, 0, NULL, NULL),
				      -EINVAL));
	zd_unpin_user_pages(NULL);
	assert_int_equal(zd_fault_inject_site("hmm.pin"), 0);
	assert_int_equal(zd_pin_user_pages_remote(f->mm, a, 1, 0, NULL, &p), -ENOMEM);
	assert_null(p);
}

/* In a forked child the mm is the parent's: refused. */
static void test_forked_child_refused(void **state)
{
#ifdef __SANITIZE_THREAD__
	skip();		/* TSan cannot follow fork() from a threaded process */
#endif
	struct fx *f = *state;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct zd_pin *p;

		_exit(pin(f, 0, 1, 0, NULL) == -EINVAL && !f->pin &&
		      zd_pin_user_pages_remote(f->mm, (unsigned long)f->buf, 1, 0,
					       NULL, &p) == -EINVAL ? 0 : 1);
	}
	assert_child_ok(pid);
}

/* zd_mm_destroy() drops the pins held (a warning); their unpin after it
 * frees them without touching the freed mm (ASan). */
static void test_destroy_with_pins_held(void **state)
{
	struct fx *f = *state;
	struct zd_pin *coh_pin = NULL;

	assert_int_equal(pin(f, 0, 2, 0, NULL), 2);
	if (f->coh) {
		assert_int_equal(to_dev(f, f->coh, 4, 1), 1);
		assert_int_equal(zd_pin_user_pages_remote(f->mm, (unsigned long)f->buf +
							  4 * PG, 1, 0, NULL, &coh_pin), 1);
	}
	assert_warns("not unpinned", zd_mm_destroy(f->mm));
	f->mm = NULL;
	check_bytes(f);
	zd_unpin_user_pages(coh_pin);
	unpin(f);
}

/* Migrations back and forth on another thread: while a pin is held, its
 * page is never found anywhere but home (a pin published after its
 * check, outside the lock, would let one through). */
static void *migrate_loop(void *arg)
{
	struct fx *f = arg;

	while (!atomic_load(&f->stop)) {
		struct dmirror_cmd c = cmd(f, 0, NPAGES);

		dmirror_migrate_to_device(f->dm, &c);
		c = cmd(f, 0, NPAGES);
		dmirror_migrate_to_system(f->dm, &c);
	}
	return NULL;
}

static void test_pin_racing_migrations(void **state)
{
	struct fx *f = *state;
	int64_t end = now_ms() + 1500;
	unsigned long pins = 0;

	atomic_store(&f->stop, false);
	assert_int_equal(pthread_create(&f->thread, NULL, migrate_loop, f), 0);
	f->thread_on = true;
	while (now_ms() < end) {
		unsigned long page = pins % NPAGES;

		assert_int_equal(pin(f, page, 1, ZD_FOLL_WRITE, NULL), 1);
		for (int k = 0; k < 50; k++)
			assert_int_equal(state_of(f, page), ZD_MM_PAGE_HOST);
		assert_int_equal(f->buf[page * PG], 'a' + (int)page);
		unpin(f);
		pins++;
	}
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	f->thread_on = false;
	print_message("%lu pins raced the migrations\n", pins);
	check_bytes(f);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_pin_brings_private_pages_home),
		T(test_pinned_host_page_stays),
		T(test_pin_faults_in_untouched_pages),
		T(test_pinned_page_not_made_exclusive),
		T(test_coherent_pin_short_and_long),
		T(test_fork_with_coherent_page_pinned),
		T(test_partial_and_failed_pins),
		T(test_bad_arguments),
		T(test_forked_child_refused),
		T(test_destroy_with_pins_held),
		T(test_pin_racing_migrations),
	};

	test_require_userfaultfd();
	test_capture_warnings();
	return zd_run_tests(tests);
}
