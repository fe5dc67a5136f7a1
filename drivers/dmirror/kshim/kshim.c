// SPDX-License-Identifier: MIT
/*
 * The interposition: open(), openat() and their 64-bit and fortified
 * forms of /dev/hmm_dmirror<N>, ioctl(), mmap() and close() on what they
 * returned.  Everything else goes to the C library (dlsym RTLD_NEXT).
 *
 * Per process, as the kernel's driver has per mm: one zd_mm, made on the
 * first open, and one dmirror per unit.  A child after fork() starts
 * afresh (zonedev's objects are the parent's there): its first open makes
 * its own zd_mm and devices, as the kernel's child opens its own mirror.
 * The descriptors it inherited are plain memfds to it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "kshim.h"

#define KSHIM_API	__attribute__((visibility("default")))
#define MAX_FD		4096
#define UNIT_COHERENT	2	/* units from here on are DEVICE_COHERENT */

static struct {
	pthread_mutex_t lock;
	struct zd_mm *mm;
	struct dmirror *dev[KSHIM_UNITS];
	/* no lock: zonedev's own ioctl() and close() calls come through
	 * here, also while st.lock is held */
	_Atomic(struct kshim_mirror *) fd[MAX_FD];
	int generation;		/* device names stay unique across forks */
} st = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * Commands run on a thread of the shim's own, the device's context: the
 * kernel's driver allocates nothing in the application's heap, and
 * neither may the device here.  (hmm-tests' snapshot case lets a
 * migration copy a page into a 7-byte malloc() buffer: against the
 * kernel it overwrites only heap the test never uses again; zonedev's
 * and the shim's allocations must not be there.)  glibc gives a new
 * thread an arena of its own.
 */
static struct {
	pthread_mutex_t lock;	/* the job below */
	pthread_cond_t cv;
	bool started;
	pthread_t thread;
	int (*fn)(void *arg);
	void *arg;
	int ret;
	unsigned long seq, done;
} worker = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *worker_main(void *unused)
{
	pthread_mutex_lock(&worker.lock);
	for (;;) {
		while (worker.done == worker.seq)
			pthread_cond_wait(&worker.cv, &worker.lock);
		pthread_mutex_unlock(&worker.lock);
		int ret = worker.fn(worker.arg);
		pthread_mutex_lock(&worker.lock);
		worker.ret = ret;
		worker.done = worker.seq;
		pthread_cond_broadcast(&worker.cv);
	}
	return NULL;
}

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;	/* one job at a time */

/* Run @fn(@arg) on the worker, started on first use; its return. */
static int on_worker(int (*fn)(void *arg), void *arg)
{
	int ret;

	pthread_mutex_lock(&call_lock);
	pthread_mutex_lock(&worker.lock);
	if (!worker.started) {
		sigset_t all, old;

		sigfillset(&all);	/* signals are the application's */
		pthread_sigmask(SIG_SETMASK, &all, &old);
		worker.started = !pthread_create(&worker.thread, NULL, worker_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!worker.started) {	/* then here, as best we can */
		pthread_mutex_unlock(&worker.lock);
		pthread_mutex_unlock(&call_lock);
		return fn(arg);
	}
	worker.fn = fn;
	worker.arg = arg;
	worker.seq++;
	pthread_cond_broadcast(&worker.cv);
	while (worker.done != worker.seq)
		pthread_cond_wait(&worker.cv, &worker.lock);
	ret = worker.ret;
	pthread_mutex_unlock(&worker.lock);
	pthread_mutex_unlock(&call_lock);
	return ret;
}

/* The parent's objects are not the child's: forget them (not freed:
 * they hold the parent's state, which the child must not touch). */
static void after_fork_child(void)
{
	pthread_mutex_init(&st.lock, NULL);
	pthread_mutex_init(&call_lock, NULL);
	pthread_mutex_init(&worker.lock, NULL);
	pthread_cond_init(&worker.cv, NULL);
	worker.started = false;
	worker.seq = worker.done = 0;
	st.mm = NULL;
	memset(st.dev, 0, sizeof(st.dev));
	for (int i = 0; i < MAX_FD; i++)
		atomic_store(&st.fd[i], NULL);
	st.generation++;
}

/*
 * KSHIM_PROBE=1 in the environment: only say whether zonedev's HMM can
 * run here (exit 0), or why not (exit 77, a skip), before the program
 * itself starts.
 */
__attribute__((constructor)) static void kshim_init(void)
{
	if (getenv("KSHIM_PROBE")) {
		struct zd_mm *mm = zd_mm_create();

		if (!mm) {
			fprintf(stderr, "kshim: no HMM here: zd_mm_create: %s "
				"(userfaultfd needed)\n", strerror(errno));
			_exit(77);
		}
		zd_mm_destroy(mm);
		_exit(0);
	}
	pthread_atfork(NULL, NULL, after_fork_child);
}

#define REAL(name)							\
	static __typeof__(name) *real_##name;				\
	if (!real_##name)						\
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

/* The unit of a device node path (KSHIM_UNIT_GUP: gup_test), or -1. */
static int unit_of(const char *path)
{
	const char *pre = "/dev/hmm_dmirror";
	size_t n = strlen(pre);

	if (path && !strcmp(path, KSHIM_GUP_PATH))
		return KSHIM_UNIT_GUP;
	if (!path || strncmp(path, pre, n) || path[n] < '0' || path[n] > '9' ||
	    path[n + 1])
		return -1;
	return path[n] - '0';
}

/* st.lock held; on the worker */
static int ensure_device_fn(void *arg)
{
	int unit = *(int *)arg;
	char msg[160];

	if (!st.mm) {
		st.mm = zd_mm_create();
		if (!st.mm) {
			snprintf(msg, sizeof(msg), "zd_mm_create: %s", strerror(errno));
			kshim_note(msg);
			return -ENODEV;
		}
	}
	if (unit != KSHIM_UNIT_GUP && !st.dev[unit]) {
		st.dev[unit] = unit >= UNIT_COHERENT ?
			dmirror_create_coherent(unit + KSHIM_UNITS * st.generation,
						ZD_SECTION_SIZE) :
			dmirror_create(unit + KSHIM_UNITS * st.generation,
				       ZD_SECTION_SIZE);
		if (!st.dev[unit] && unit >= UNIT_COHERENT && errno == EOPNOTSUPP) {
			kshim_note("/dev/hmm_dmirror2..3 are DEVICE_COHERENT, which needs "
				   "userfaultfd write-protect of shared memory (Linux "
				   "5.19): they do not exist here");
			return -ENOENT;
		}
		if (!st.dev[unit]) {
			snprintf(msg, sizeof(msg), "dmirror_create: %s", strerror(errno));
			kshim_note(msg);
			return -ENODEV;
		}
	}
	return 0;
}

static int open_mirror(int unit, int flags)
{
	struct kshim_mirror *m;
	char name[32];
	int fd, err;

	if (unit > KSHIM_UNIT_GUP) {
		errno = ENOENT;
		return -1;
	}
	if (unit == KSHIM_UNIT_GUP)
		snprintf(name, sizeof(name), "gup_test");
	else
		snprintf(name, sizeof(name), "hmm_dmirror%d", unit);
	m = calloc(1, sizeof(*m));
	fd = m ? memfd_create(name, flags & O_CLOEXEC ? MFD_CLOEXEC : 0) : -1;
	if (fd < 0 || fd >= MAX_FD) {
		err = fd < 0 ? errno : EMFILE;
		if (fd >= 0)
			close(fd);
		free(m);
		errno = m ? err : ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&st.lock);
	err = on_worker(ensure_device_fn, &unit);
	if (!err) {
		m->unit = unit;
		m->dm = unit == KSHIM_UNIT_GUP ? NULL : st.dev[unit];
		m->mm = st.mm;
		atomic_store(&st.fd[fd], m);
	}
	pthread_mutex_unlock(&st.lock);
	if (err) {
		close(fd);
		free(m);
		errno = -err;
		return -1;
	}
	return fd;
}

static struct kshim_mirror *mirror_of(int fd)
{
	return fd >= 0 && fd < MAX_FD ? atomic_load(&st.fd[fd]) : NULL;
}

static int open_common(const char *path, int flags, mode_t mode, int dirfd,
		       bool at, bool large)
{
	int unit = unit_of(path);

	if (unit >= 0)
		return open_mirror(unit, flags);
	if (at) {
		REAL(openat);
		return real_openat(dirfd, path, flags, mode);
	}
	if (large) {
		REAL(open64);
		return real_open64(path, flags, mode);
	}
	REAL(open);
	return real_open(path, flags, mode);
}

#define MODE_ARG(flags, mode)						\
	do {								\
		if ((flags) & (O_CREAT | __O_TMPFILE)) {		\
			va_list ap;					\
			va_start(ap, flags);				\
			mode = va_arg(ap, mode_t);			\
			va_end(ap);					\
		}							\
	} while (0)

KSHIM_API int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_common(path, flags, mode, AT_FDCWD, false, false);
}

KSHIM_API int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_common(path, flags, mode, AT_FDCWD, false, true);
}

KSHIM_API int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_common(path, flags, mode, dirfd, true, false);
}

KSHIM_API int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_common(path, flags, mode, dirfd, true, true);
}

/* the fortified forms, for callers built with _FORTIFY_SOURCE */
KSHIM_API int __open_2(const char *path, int flags)
{
	return open_common(path, flags, 0, AT_FDCWD, false, false);
}

KSHIM_API int __open64_2(const char *path, int flags)
{
	return open_common(path, flags, 0, AT_FDCWD, false, true);
}

KSHIM_API int close(int fd)
{
	struct kshim_mirror *m = NULL;

	REAL(close);
	if (fd >= 0 && fd < MAX_FD)
		m = atomic_exchange(&st.fd[fd], NULL);
	if (m)
		kshim_excl_free(m);
	free(m);	/* the device stays, as the kernel's */
	return real_close(fd);
}

struct ioctl_job {
	struct kshim_mirror *m;
	unsigned long request;
	void *arg;		/* a struct kshim_gup or kshim_cmd */
};

static int ioctl_fn(void *arg)
{
	struct ioctl_job *j = arg;

	return j->m->unit == KSHIM_UNIT_GUP ?
	       kshim_gup_ioctl(j->m->mm, j->request, j->arg) :
	       kshim_ioctl(j->m, j->request, j->arg);
}

/* Run @request on the worker with @arg, a copy of the caller's @user
 * (@size bytes), written back after it succeeded. */
static int run_ioctl(struct kshim_mirror *m, unsigned long request, void *arg,
		     void *user, size_t size)
{
	struct ioctl_job job = { m, request, arg };
	int err = on_worker(ioctl_fn, &job);

	if (err) {
		errno = -err;
		return -1;
	}
	memcpy(user, arg, size);
	return 0;
}

KSHIM_API int ioctl(int fd, unsigned long request, ...)
{
	struct kshim_mirror *m = mirror_of(fd);
	struct kshim_cmd cmd;
	struct kshim_gup g;
	va_list ap;
	void *user;

	va_start(ap, request);
	user = va_arg(ap, void *);
	va_end(ap);
	if (!m) {
		REAL(ioctl);
		return real_ioctl(fd, request, user);
	}
	if (!user) {
		errno = EFAULT;
		return -1;
	}
	if (m->unit == KSHIM_UNIT_GUP) {
		memcpy(&g, user, sizeof(g));
		return run_ioctl(m, request, &g, user, sizeof(g));
	}
	memcpy(&cmd, user, sizeof(cmd));
	/* the kernel's checks, before any command */
	if ((cmd.addr & (zd_page_size() - 1)) ||
	    cmd.addr >= cmd.addr + (cmd.npages << zd_page_shift)) {
		errno = EINVAL;
		return -1;
	}
	cmd.cpages = cmd.faults = 0;
	return run_ioctl(m, request, &cmd, user, sizeof(cmd));
}

/*
 * The kernel's device gives a mapping of itself fresh pages, mapped at
 * once.  The memfd behind the descriptor grows to cover the mapping, and
 * its pages are read in (mapped, not yet the mapping's own copies).
 */
static void *map_common(void *addr, size_t len, int prot, int flags, int fd,
			off_t off, bool large)
{
	struct kshim_mirror *m = mirror_of(fd);
	struct stat sb;
	void *p;

	if (m && !fstat(fd, &sb) && sb.st_size < off + (off_t)len &&
	    ftruncate(fd, off + (off_t)len))
		return MAP_FAILED;
	if (large) {
		REAL(mmap64);
		p = real_mmap64(addr, len, prot, flags, fd, off);
	} else {
		REAL(mmap);
		p = real_mmap(addr, len, prot, flags, fd, off);
	}
	if (m && p != MAP_FAILED && (prot & PROT_READ))
		madvise(p, len, MADV_POPULATE_READ);
	return p;
}

KSHIM_API void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return map_common(addr, len, prot, flags, fd, off, false);
}

KSHIM_API void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		       off64_t off)
{
	return map_common(addr, len, prot, flags, fd, off, true);
}
