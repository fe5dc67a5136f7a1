// SPDX-License-Identifier: MIT
/*
 * Exclusive device access (zd_make_device_exclusive_range), after the
 * kernel's exclusive, exclusive_mprotect and exclusive_cow cases: the
 * notifier hears EXCLUSIVE with the owner before the CPU loses a page;
 * a CPU read or write takes it back (EXCLUSIVE, no owner, before the
 * bytes return) and sees what the device wrote; a held page makes the
 * CPU wait for the put; mprotect, fork, munmap, destroy; misuse.
 */
/* kernel.h first: make_device_exclusive_range() by its kernel name too */
#include <zonedev/kernel.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "holes.h"
#include "dmirror.h"

#define NPAGES	16
#define MAXREC	64

static size_t PG;
static int next_id;
static char owner_tag;
#define OWNER	((void *)&owner_tag)

struct call {
	enum zd_mmu_notifier_event event;
	unsigned long start, end;
	void *owner;
	bool cpu_had_page;	/* the page at start was mapped in the call */
};

struct fx {
	struct zd_mm *mm;
	struct dmirror *dm;
	char *buf;
	void *pages[NPAGES];
	bool held[NPAGES];
	bool gone[NPAGES];
	bool mm_gone;
	struct zd_mmu_interval_notifier sub;
	bool inserted;
	pthread_mutex_t lock;
	int n;
	struct call calls[MAXREC];
};

static bool resident(const void *addr)
{
	unsigned char v = 0;

	return !mincore((void *)addr, PG, &v) && (v & 1);
}

static bool mapped(const void *addr)
{
	unsigned char v;

	return !(mincore((void *)addr, PG, &v) && errno == ENOMEM);
}

static bool record(struct zd_mmu_interval_notifier *sub,
		   const struct zd_mmu_notifier_range *range, unsigned long cur_seq)
{
	struct fx *f = container_of(sub, struct fx, sub);

	pthread_mutex_lock(&f->lock);
	if (f->n < MAXREC)
		f->calls[f->n++] = (struct call){ range->event, range->start,
			range->end, range->owner, resident((void *)range->start) };
	zd_mmu_interval_set_seq(sub, cur_seq);
	pthread_mutex_unlock(&f->lock);
	return true;
}

static const struct zd_mmu_interval_notifier_ops rec_ops = { .invalidate = record };

static int ncalls(struct fx *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->n;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	PG = zd_page_size();
	pthread_mutex_init(&f->lock, NULL);
	f->mm = zd_mm_create();
	f->dm = dmirror_create(next_id++, 256ul << 20);
	f->buf = f->mm ? zd_mm_map(f->mm, NPAGES * PG) : NULL;
	*state = f;
	if (!f->mm || !f->dm || !f->buf) {
		fprintf(stderr, "setup: mm %p dm %p buf %p: %s\n", (void *)f->mm,
			(void *)f->dm, (void *)f->buf, strerror(errno));
		return -1;
	}
	for (int i = 0; i < NPAGES; i++)
		memset(f->buf + i * PG, 'a' + i, PG);
	f->inserted = !zd_mmu_interval_notifier_insert(&f->sub, f->mm,
						       (unsigned long)f->buf,
						       NPAGES * PG, &rec_ops);
	return f->inserted ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < NPAGES; i++)
		if (f->held[i])
			zd_put_device_exclusive_page(f->pages[i]);
	if (!f->mm_gone)
		zd_mm_destroy(f->mm);
	if (f->inserted)
		zd_mmu_interval_notifier_remove(&f->sub);
	dmirror_destroy(f->dm);
	unmap_rest(f);
	free(f);
	return 0;
}

/* Make pages [first, first + n) exclusive; all of them must be. */
static void make(struct fx *f, int first, int n)
{
	unsigned long s = (unsigned long)f->buf + first * PG;

	assert_int_equal(zd_make_device_exclusive_range(f->mm, s, s + n * PG,
							&f->pages[first], OWNER), n);
	for (int i = first; i < first + n; i++) {
		assert_non_null(f->pages[i]);
		f->held[i] = true;
	}
}

static void put(struct fx *f, int first, int n)
{
	for (int i = first; i < first + n; i++) {
		zd_put_device_exclusive_page(f->pages[i]);
		f->held[i] = false;
	}
}

static void assert_call(const struct call *c, enum zd_mmu_notifier_event ev,
			const void *start, const void *end, const void *owner)
{
	assert_int_equal(c->event, ev);
	assert_int_equal(c->start, (unsigned long)start);
	assert_int_equal(c->end, (unsigned long)end);
	assert_ptr_equal(c->owner, owner);
}

static void test_make_notifies_with_owner_first(void **state)
{
	struct fx *f = *state;

	make(f, 0, NPAGES);
	assert_int_equal(ncalls(f), 1);
	assert_call(&f->calls[0], ZD_MMU_NOTIFY_EXCLUSIVE, f->buf,
		    f->buf + NPAGES * PG, OWNER);
	assert_true(f->calls[0].cpu_had_page);	/* told before it went */
	for (int i = 0; i < NPAGES; i++) {
		assert_false(resident(f->buf + i * PG));
		assert_int_equal(((char *)f->pages[i])[PG - 1], 'a' + i);
	}
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	put(f, 0, NPAGES);
}

/* The kernel's "exclusive": the CPU takes each page back, reading and
 * incrementing, and sees what the device wrote. */
static void test_cpu_access_revokes(void **state)
{
	struct fx *f = *state;

	make(f, 0, NPAGES);
	((char *)f->pages[3])[7] = 'D';		/* the device writes */
	((char *)f->pages[9])[7] = 'E';
	put(f, 0, NPAGES);
	assert_int_equal(f->buf[3 * PG + 7], 'D');	/* a read */
	assert_int_equal(ncalls(f), 2);
	assert_call(&f->calls[1], ZD_MMU_NOTIFY_EXCLUSIVE, f->buf + 3 * PG,
		    f->buf + 4 * PG, NULL);
	assert_false(f->calls[1].cpu_had_page);	/* told before it came */
	f->buf[9 * PG + 8] = 'W';			/* a write */
	assert_int_equal(ncalls(f), 3);
	assert_call(&f->calls[2], ZD_MMU_NOTIFY_EXCLUSIVE, f->buf + 9 * PG,
		    f->buf + 10 * PG, NULL);
	assert_int_equal(f->buf[9 * PG + 7], 'E');
	assert_int_equal(f->buf[9 * PG + 8], 'W');
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(f->buf[i * PG + PG - 1]++, 'a' + i);
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(f->buf[i * PG + PG - 1], 'a' + i + 1);
	/* each page revoked once, and the kept pages are gone */
	assert_int_equal(ncalls(f), 1 + NPAGES);
	for (int i = 0; i < NPAGES; i++)
		assert_false(mapped(f->pages[i]));
	assert_int_equal(zd_mm_lookup(f->mm, (unsigned long)f->buf, NULL),
			 ZD_MM_PAGE_HOST);
}

struct reader {
	char *p;
	atomic_int done;
	char seen;
};

static void *read_page(void *arg)
{
	struct reader *r = arg;

	r->seen = *(volatile char *)r->p;
	atomic_store(&r->done, 1);
	return NULL;
}

/* Until the put, the page is the kernel's locked page: a CPU access
 * waits, while the fault thread answers other faults. */
static void test_held_page_waits_for_put(void **state)
{
	struct fx *f = *state;
	struct reader r = { .p = f->buf + 2 * PG };
	pthread_t t;

	make(f, 0, 4);
	assert_int_equal(pthread_create(&t, NULL, read_page, &r), 0);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&r.done), 0);
	assert_int_equal(f->buf[8 * PG], 'i');		/* others go on */
	((char *)f->pages[2])[0] = 'H';
	put(f, 0, 4);
	assert_true(wait_for(atomic_load(&r.done)));
	pthread_join(t, NULL);
	assert_int_equal(r.seen, 'H');
}

/* The kernel's exclusive_mprotect: a device write through the mirror
 * after mprotect(PROT_READ) is refused; the CPU still reads the bytes. */
static void test_mprotect_read_only(void **state)
{
	struct fx *f = *state;
	unsigned long pfns[NPAGES];
	struct zd_hmm_range range = {
		.notifier = &f->sub, .start = (unsigned long)f->buf,
		.end = (unsigned long)f->buf + NPAGES * PG, .hmm_pfns = pfns,
		.default_flags = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE,
	};

	make(f, 0, NPAGES);
	((char *)f->pages[0])[1] = 'P';
	put(f, 0, NPAGES);
	assert_int_equal(mprotect(f->buf, NPAGES * PG, PROT_READ), 0);
	range.notifier_seq = zd_mmu_interval_read_begin(&f->sub);
	assert_int_equal(zd_hmm_range_fault(&range), -EPERM);
	assert_int_equal(f->buf[1], 'P');
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(f->buf[i * PG], i ? 'a' + i : 'a');
	assert_int_equal(mprotect(f->buf, NPAGES * PG, PROT_READ | PROT_WRITE), 0);
	f->buf[2] = 'w';
	assert_int_equal(f->buf[2], 'w');
}

/* The kernel's exclusive_cow: the pages come back before fork, and both
 * processes then write their own copies. */
static void test_fork_copy_on_write(void **state)
{
#ifdef __SANITIZE_THREAD__
	skip();		/* TSan cannot follow fork() from a threaded process */
#endif
	struct fx *f = *state;
	int status;
	pid_t pid;

	make(f, 0, NPAGES);
	((char *)f->pages[5])[3] = 'F';
	put(f, 0, NPAGES);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool ok = f->buf[5 * PG + 3] == 'F';

		for (int i = 0; i < NPAGES; i++)
			ok &= f->buf[i * PG + 100]++ == 'a' + i;
		for (int i = 0; i < NPAGES; i++)
			ok &= f->buf[i * PG + 100] == 'a' + i + 1;
		_exit(ok ? 0 : 1);
	}
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(f->buf[i * PG + 100]++, 'a' + i);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(f->buf[i * PG + 100], 'a' + i + 1);
	assert_int_equal(f->buf[5 * PG + 3], 'F');
}

struct hammer {
	char *buf;
	atomic_int stop;
	unsigned long adds;
};

/* The CPU adds to each page's counter, atomically, as fast as it can. */
static void *cpu_adds(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(&h->stop))
		for (int i = 0; i < NPAGES; i++, h->adds++)
			atomic_fetch_add((atomic_long *)(h->buf + i * PG), 1);
	return NULL;
}

/* The device and the CPU take turns at the pages, the CPU's accesses
 * landing anywhere in the make: no add of either is lost. */
static void test_no_write_lost(void **state)
{
	struct fx *f = *state;
	struct hammer h = { .buf = f->buf };
	const char *env = getenv("ZD_TEST_ROUNDS");
	int rounds = env ? atoi(env) : 100;
	long sum = 0;
	pthread_t t;

	for (int i = 0; i < NPAGES; i++)
		*(long *)(f->buf + i * PG) = 0;
	assert_int_equal(pthread_create(&t, NULL, cpu_adds, &h), 0);
	for (int r = 0; r < rounds; r++) {
		unsigned long s = (unsigned long)f->buf;
		int n = zd_make_device_exclusive_range(f->mm, s, s + NPAGES * PG,
						       f->pages, OWNER);

		assert_int_equal(n, NPAGES);
		for (int i = 0; i < NPAGES; i++)
			if (f->pages[i]) {
				(*(long *)f->pages[i])++;
				zd_put_device_exclusive_page(f->pages[i]);
				sum++;
			}
	}
	atomic_store(&h.stop, 1);
	pthread_join(t, NULL);
	for (int i = 0; i < NPAGES; i++)
		sum -= *(long *)(f->buf + i * PG);
	assert_int_equal(sum, -(long)h.adds);
}

struct unmapper {
	char *p;
	int delay_us;
};

static void *unmap_half(void *arg)
{
	struct unmapper *u = arg;

	test_sleep_us(u->delay_us);
	munmap(u->p + 4 * PG, 4 * PG);
	return NULL;
}

/* The application unmaps half the pages while they are being taken:
 * those go (nothing leaks: the sanitizer builds check), the others are
 * exclusive or not, and come back intact. */
static void test_munmap_races_make(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("ZD_TEST_ROUNDS");
	int rounds = env ? atoi(env) / 4 + 1 : 30;

	for (int r = 0; r < rounds; r++) {
		char *p = zd_mm_map(f->mm, 8 * PG);
		struct unmapper u = { p, r % 5 * 20 };
		void *pg[8] = { 0 };
		pthread_t t;
		int n;

		assert_non_null(p);
		for (int i = 0; i < 8; i++)
			p[i * PG] = (char)('A' + i);
		assert_int_equal(pthread_create(&t, NULL, unmap_half, &u), 0);
		n = zd_make_device_exclusive_range(f->mm, (unsigned long)p,
						   (unsigned long)p + 8 * PG, pg,
						   OWNER);
		assert_true(n >= 4 && n <= 8);
		for (int i = 0; i < n; i++)
			if (pg[i])
				zd_put_device_exclusive_page(pg[i]);
		pthread_join(t, NULL);
		for (int i = 0; i < 4; i++)
			assert_int_equal(p[i * PG], 'A' + i);
		munmap(p, 4 * PG);
	}
}

/* munmap frees the kept pages: at once, or at the put of a held one. */
static void test_munmap_frees(void **state)
{
	struct fx *f = *state;

	make(f, 0, 8);
	put(f, 0, 4);
	unmap_pages(f, 0, 8);
	zd_mm_lookup(f->mm, (unsigned long)f->buf + 8 * PG, NULL); /* drained */
	for (int i = 0; i < 4; i++)
		assert_false(mapped(f->pages[i]));
	for (int i = 4; i < 8; i++)
		assert_true(mapped(f->pages[i]));
	put(f, 4, 4);
	for (int i = 4; i < 8; i++)
		assert_false(mapped(f->pages[i]));
	assert_int_equal(ncalls(f), 2);
	assert_call(&f->calls[1], ZD_MMU_NOTIFY_UNMAP, f->buf, f->buf + 8 * PG, NULL);
	/* MADV_DONTNEED drops one: zeros after, as in the kernel */
	make(f, 8, 2);
	put(f, 8, 2);
	assert_int_equal(madvise(f->buf + 8 * PG, PG, MADV_DONTNEED), 0);
	assert_int_equal(f->buf[8 * PG], 0);
	assert_false(mapped(f->pages[8]));
	assert_int_equal(f->buf[9 * PG], 'j');
}

/* mremap moves exclusive pages with their entries: a touch at the new
 * place brings the device's bytes there. */
static void test_mremap_follows(void **state)
{
	struct fx *f = *state;
	char *to = mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	char *moved;

	assert_true(to != MAP_FAILED);
	make(f, 14, 2);
	((char *)f->pages[15])[0] = 'R';
	put(f, 14, 2);
	moved = mremap(f->buf + 14 * PG, 2 * PG, 2 * PG,
		       MREMAP_MAYMOVE | MREMAP_FIXED, to);
	assert_ptr_equal(moved, to);
	f->gone[14] = f->gone[15] = true;
	assert_int_equal(to[PG], 'R');
	assert_int_equal(to[1], 'o');
	assert_false(mapped(f->pages[14]));
	assert_false(mapped(f->pages[15]));
	munmap(to, 2 * PG);
}

/* No memory to follow an mremap: the pages are dropped, with a warning,
 * and their kept copies freed, not leaked. */
static void test_mremap_without_memory(void **state)
{
	struct fx *f = *state;
	char *to = mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);

	assert_true(to != MAP_FAILED);
	make(f, 14, 2);
	put(f, 14, 2);
	zd_fault_inject_site("hmm.range");
	assert_warns("no memory to follow mremap", {
		assert_ptr_equal(mremap(f->buf + 14 * PG, 2 * PG, 2 * PG,
					MREMAP_MAYMOVE | MREMAP_FIXED, to), to);
		zd_mm_lookup(f->mm, (unsigned long)f->buf, NULL); /* drained */
	});
	zd_fault_inject_reset();
	f->gone[14] = f->gone[15] = true;
	assert_false(mapped(f->pages[14]));
	assert_false(mapped(f->pages[15]));
	munmap(to, 2 * PG);
}

/* Destroy and unregister bring them back (after any put). */
static void test_destroy_restores(void **state)
{
	struct fx *f = *state;

	make(f, 0, NPAGES);
	((char *)f->pages[1])[0] = 'U';
	put(f, 0, NPAGES);
	zd_mm_destroy(f->mm);
	f->mm_gone = true;
	f->inserted = false;
	assert_int_equal(f->buf[PG], 'U');
	for (int i = 0; i < NPAGES; i++) {
		assert_int_equal(f->buf[i * PG + 1], 'a' + i);
		assert_false(mapped(f->pages[i]));
	}
}

static void test_unregister_restores(void **state)
{
	struct fx *f = *state;
	unsigned long s = (unsigned long)f->buf;

	make(f, 4, 4);
	((char *)f->pages[6])[0] = 'N';
	put(f, 4, 4);
	assert_int_equal(zd_mm_unregister(f->mm, f->buf, NPAGES * PG), 0);
	assert_int_equal(f->buf[6 * PG], 'N');
	for (int i = 4; i < 8; i++) {
		assert_int_equal(f->buf[i * PG + 1], 'a' + i);
		assert_false(mapped(f->pages[i]));
	}
	/* no longer managed: nothing can be taken */
	assert_int_equal(zd_make_device_exclusive_range(f->mm, s, s + PG,
							f->pages, OWNER), 1);
	assert_null(f->pages[0]);
}

/* The thread holding exclusive pages (made, not put) touches one, makes
 * it exclusive again, forks, unregisters: each would wait for its own
 * put.  Each page comes home with a warning instead; the put after is
 * quiet (an orphan's). */
static void test_holder_is_not_waited_for(void **state)
{
#ifdef __SANITIZE_THREAD__
	skip();		/* TSan cannot follow fork() from a threaded process */
#endif
	struct fx *f = *state;
	unsigned long s = (unsigned long)f->buf;
	void *again = NULL;
	int status;
	pid_t pid;

	make(f, 0, 4);
	((char *)f->pages[0])[0] = 'T';
	((char *)f->pages[1])[0] = 'M';
	((char *)f->pages[2])[0] = 'F';
	((char *)f->pages[3])[0] = 'U';
	assert_warns("thread holding the exclusive page",
		     assert_int_equal(f->buf[0], 'T'));
	assert_warns("thread holding the exclusive page",
		     assert_int_equal(zd_make_device_exclusive_range(
			     f->mm, s + PG, s + 2 * PG, &again, OWNER), 1));
	assert_non_null(again);
	zd_put_device_exclusive_page(again);
	assert_int_equal(f->buf[PG], 'M');
	assert_warns_n(2, "thread holding the exclusive page", pid = fork());
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(f->buf[2 * PG] == 'F' && f->buf[3 * PG] == 'U' ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(zd_make_device_exclusive_range(f->mm, s + 4 * PG, s + 5 * PG,
							&again, OWNER), 1);
	assert_non_null(again);
	((char *)again)[0] = 'V';
	assert_warns("thread holding the exclusive page",
		     assert_int_equal(zd_mm_unregister(f->mm, f->buf, NPAGES * PG), 0));
	assert_int_equal(f->buf[4 * PG], 'V');
	assert_no_warn(zd_put_device_exclusive_page(again));
	assert_no_warn(put(f, 0, 4));
	for (int i = 0; i < 4; i++)
		assert_int_equal(f->buf[i * PG], "TMFU"[i]);
	for (int i = 5; i < NPAGES; i++)
		assert_int_equal(f->buf[i * PG], 'a' + i);
}

/* Device-private pages come home first, as the kernel's get_user_pages()
 * faults them in: then they are exclusive like the others. */
static void test_device_pages_come_home(void **state)
{
	struct fx *f = *state;
	struct dmirror_cmd c = { .mm = f->mm, .addr = (unsigned long)f->buf,
				 .npages = 4 };

	assert_int_equal(dmirror_migrate_to_device(f->dm, &c), 0);
	assert_int_equal(zd_mm_device_pages(f->mm), 4);
	make(f, 0, 4);
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(((char *)f->pages[i])[9], 'a' + i);
	put(f, 0, 4);
	assert_int_equal(f->buf[2 * PG + 9], 'c');
}

/* An exclusive page does not migrate (the kernel's collection skips
 * its entry); a CPU touch still brings the device's bytes back. */
static void test_exclusive_pages_do_not_migrate(void **state)
{
	struct fx *f = *state;
	struct dmirror_cmd c = { .mm = f->mm, .addr = (unsigned long)f->buf,
				 .npages = 2 };

	make(f, 0, 2);
	((char *)f->pages[1])[0] = 'M';
	put(f, 0, 2);
	assert_int_equal(dmirror_migrate_to_device(f->dm, &c), -ENOENT);
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	assert_int_equal(f->buf[PG], 'M');
	assert_int_equal(f->buf[0], 'a');
}

/* Memory zonedev does not manage cannot be taken: no page, no warning. */
static void test_unmanaged_and_unmapped(void **state)
{
	struct fx *f = *state;
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *pg[2] = { p, p };
	unsigned long s = (unsigned long)p;

	assert_true(p != MAP_FAILED);
	p[0] = 'u';
	assert_no_warn(assert_int_equal(zd_make_device_exclusive_range(
		f->mm, s, s + 2 * PG, pg, OWNER), 2));
	assert_null(pg[0]);
	assert_null(pg[1]);
	assert_int_equal(p[0], 'u');
	munmap(p, 2 * PG);
	/* the walk stops at a hole: the first page unmapped is -EFAULT */
	unmap_pages(f, 12, 4);
	s = (unsigned long)f->buf + 10 * PG;
	assert_int_equal(zd_make_device_exclusive_range(f->mm, s, s + 6 * PG,
							&f->pages[10], OWNER), 2);
	f->held[10] = f->held[11] = true;
	s = (unsigned long)f->buf + 12 * PG;
	assert_int_equal(zd_make_device_exclusive_range(f->mm, s, s + PG,
							&f->pages[12], OWNER), -EFAULT);
	/* read-only memory: the write fault fails, as the kernel's */
	assert_int_equal(mprotect(f->buf, PG, PROT_READ), 0);
	s = (unsigned long)f->buf;
	assert_int_equal(zd_make_device_exclusive_range(f->mm, s, s + PG,
							f->pages, OWNER), -EFAULT);
	assert_int_equal(f->buf[0], 'a');
}

/* A driver written with the kernel's names: unlock_page() gives back. */
static void test_kernel_names(void **state)
{
	struct fx *f = *state;
	unsigned long s = (unsigned long)f->buf;
	struct page *pg[2];

	assert_int_equal(make_device_exclusive_range(f->mm, s, s + 2 * PG, pg,
						     OWNER), 2);
	assert_non_null(pg[0]);
	assert_int_equal(*(char *)page_address(pg[1]), 'b');
	*(char *)page_address(pg[1]) = 'K';
	for (int i = 0; i < 2; i++) {
		unlock_page(pg[i]);
		put_page(pg[i]);
	}
	assert_int_equal(f->buf[PG], 'K');
}

/* No memory for the kept pages: nothing is taken, the bytes stay. */
static void test_no_memory(void **state)
{
	struct fx *f = *state;
	unsigned long s = (unsigned long)f->buf;

	zd_fault_inject_site("hmm.exclusive");
	assert_int_equal(zd_make_device_exclusive_range(f->mm, s, s + 4 * PG,
							f->pages, OWNER), 4);
	zd_fault_inject_reset();
	for (int i = 0; i < 4; i++) {
		assert_null(f->pages[i]);
		assert_int_equal(f->buf[i * PG], 'a' + i);
	}
	make(f, 0, 4);		/* and they can be taken later */
	put(f, 0, 4);
}

static void test_misuse_is_reported(void **state)
{
	struct fx *f = *state;
	unsigned long s = (unsigned long)f->buf;
	void *pg[NPAGES];

	assert_warns("bad argument", assert_int_equal(
		zd_make_device_exclusive_range(NULL, s, s + PG, pg, NULL), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_make_device_exclusive_range(f->mm, s, s + PG, NULL, NULL), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_make_device_exclusive_range(f->mm, s + 1, s + PG, pg, NULL), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_make_device_exclusive_range(f->mm, s, s + 100, pg, NULL), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_make_device_exclusive_range(f->mm, s + PG, s, pg, NULL), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_make_device_exclusive_range(f->mm, s, s, pg, NULL), -EINVAL));
	assert_warns("not a page held", zd_put_device_exclusive_page(f->buf));
	assert_warns("not a page held", zd_put_device_exclusive_page(NULL));
	make(f, 0, 1);
	put(f, 0, 1);
	assert_warns("not a page held", zd_put_device_exclusive_page(f->pages[0]));
	assert_int_equal(f->buf[0], 'a');
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_make_notifies_with_owner_first),
		T(test_cpu_access_revokes),
		T(test_held_page_waits_for_put),
		T(test_no_write_lost),
		T(test_mprotect_read_only),
		T(test_fork_copy_on_write),
		T(test_munmap_frees),
		T(test_munmap_races_make),
		T(test_mremap_follows),
		T(test_mremap_without_memory),
		T(test_destroy_restores),
		T(test_unregister_restores),
		T(test_holder_is_not_waited_for),
		T(test_device_pages_come_home),
		T(test_exclusive_pages_do_not_migrate),
		T(test_unmanaged_and_unmapped),
		T(test_kernel_names),
		T(test_no_memory),
		T(test_misuse_is_reported),
	};

	test_capture_warnings();
	test_require_userfaultfd();
	return zd_run_tests(tests);
}
