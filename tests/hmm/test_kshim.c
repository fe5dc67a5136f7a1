// SPDX-License-Identifier: MIT
/*
 * The kshim (drivers/dmirror/kshim) on its own, where the kernel's suite
 * is not at hand (no linux-source package): a program that knows nothing
 * of zonedev opens
 * /dev/hmm_dmirror0..3 and drives them through ioctl(), run with the shim
 * preloaded.  Each case in its own mapping, freed by its teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <cmocka.h>

/* the kernel's ABI, as the application sees it */
struct cmd {
	uint64_t addr, ptr, npages, cpages, faults;
};
#define C_READ		_IOWR('H', 0, struct cmd)
#define C_WRITE		_IOWR('H', 1, struct cmd)
#define C_TO_DEV	_IOWR('H', 2, struct cmd)
#define C_TO_SYS	_IOWR('H', 3, struct cmd)
#define C_SNAPSHOT	_IOWR('H', 4, struct cmd)
#define C_EXCL		_IOWR('H', 5, struct cmd)
#define C_CHECK_EXCL	_IOWR('H', 6, struct cmd)
#define C_RELEASE	_IOWR('H', 7, struct cmd)
#define P_READ		0x01
#define P_WRITE		0x02
#define P_LOCAL		0x20

/* /sys/kernel/debug/gup_test's ABI */
struct gup {
	uint64_t get_usec, put_usec, addr, size;
	uint32_t per_call, flags, test_flags, which[8];
};
#define G_GUP_FAST	_IOWR('g', 1, struct gup)
#define G_PIN_LONGTERM	_IOWR('g', 3, struct gup)
#define G_GUP_BASIC	_IOWR('g', 4, struct gup)
#define G_FOLL_WRITE	0x01

#define NPAGES	16

struct fx {
	int fd0, fd1;
	size_t page, size;
	unsigned int *mem;
	unsigned char *buf;
};

static int run(int fd, unsigned long req, void *addr, void *buf,
	       unsigned long npages, struct cmd *out)
{
	struct cmd c = { (uintptr_t)addr, (uintptr_t)buf, npages, 0, 0 };
	int r = ioctl(fd, req, &c);

	if (out)
		*out = c;
	return r ? -errno : 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->page = (size_t)sysconf(_SC_PAGESIZE);
	f->size = NPAGES * f->page;
	f->fd0 = open("/dev/hmm_dmirror0", O_RDWR);
	f->fd1 = open("/dev/hmm_dmirror1", O_RDWR);
	f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->buf = malloc(f->size);
	*state = f;
	if (f->fd0 < 0 || f->fd1 < 0 || f->mem == MAP_FAILED || !f->buf)
		return -1;
	for (size_t i = 0; i < f->size / sizeof(*f->mem); i++)
		f->mem[i] = (unsigned int)i;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->mem != MAP_FAILED)
		munmap(f->mem, f->size);
	if (f->fd0 >= 0)
		close(f->fd0);
	if (f->fd1 >= 0)
		close(f->fd1);
	free(f->buf);
	free(f);
	return 0;
}

/* Units 2 and 3 are DEVICE_COHERENT: the CPU reads and writes a page
 * on one in place; the snapshot tells local from remote; it comes back
 * only when asked. */
static void test_coherent_units(void **state)
{
	struct fx *f = *state;
	int fd2 = open("/dev/hmm_dmirror2", O_RDWR);
	int fd3 = open("/dev/hmm_dmirror3", O_RDWR);
	unsigned int *p = f->mem;
	size_t w = f->page / sizeof(*p);
	struct cmd c;

	assert_true(fd2 >= 0 && fd3 >= 0);
	assert_int_equal(run(fd2, C_TO_DEV, f->mem, f->buf, 1, &c), 0);
	assert_int_equal(c.cpages, 1);
	assert_int_equal(run(fd3, C_TO_DEV, p + w, f->buf, 1, &c), 0);
	assert_int_equal(c.cpages, 1);
	assert_int_equal(p[1], 1);
	assert_int_equal(p[w + 1], w + 1);
	p[2] = 77;		/* in place: the device reads it */
	assert_int_equal(run(fd2, C_READ, f->mem, f->buf, 1, NULL), 0);
	assert_int_equal(((unsigned int *)f->buf)[2], 77);
	assert_int_equal(run(fd2, C_SNAPSHOT, f->mem, f->buf, 3, &c), 0);
	assert_int_equal(f->buf[0], 0x40 | P_WRITE);	/* COHERENT_LOCAL */
	assert_int_equal(f->buf[1], 0x50 | P_WRITE);	/* COHERENT_REMOTE */
	assert_int_equal(run(fd2, C_TO_SYS, f->mem, f->buf, 2, &c), 0);
	assert_int_equal(c.cpages, 1);
	assert_int_equal(run(fd3, C_TO_SYS, f->mem, f->buf, 2, &c), 0);
	assert_int_equal(c.cpages, 1);
	assert_int_equal(run(fd2, C_SNAPSHOT, f->mem, f->buf, 2, &c), 0);
	assert_int_equal(f->buf[0], P_WRITE);
	assert_int_equal(f->buf[1], P_WRITE);
	assert_int_equal(p[2], 77);
	assert_int_equal(p[w + 1], w + 1);
	close(fd2);
	close(fd3);
}

static void test_read_counts_one_fault(void **state)
{
	struct fx *f = *state;
	struct cmd c;

	assert_int_equal(run(f->fd0, C_READ, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(c.cpages, NPAGES);
	assert_int_equal(c.faults, 1);
	assert_memory_equal(f->buf, f->mem, f->size);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f->fd0, C_READ, (char *)f->mem + 1, f->buf, 1, NULL),
			 -EINVAL);
	assert_int_equal(run(f->fd0, C_READ, f->mem, f->buf, 0, NULL), -EINVAL);
	assert_int_equal(run(f->fd0, _IOWR('H', 0x42, struct cmd), f->mem, f->buf,
			     1, NULL), -EINVAL);
}

static void test_protections(void **state)
{
	struct fx *f = *state;

	memset(f->buf, 0xa5, f->size);
	assert_int_equal(mprotect(f->mem, f->size, PROT_READ), 0);
	assert_int_equal(run(f->fd0, C_WRITE, f->mem, f->buf, NPAGES, NULL), -EPERM);
	assert_int_equal(f->mem[1], 1);
	assert_int_equal(mprotect(f->mem, f->size, PROT_NONE), 0);
	assert_int_equal(run(f->fd0, C_READ, f->mem, f->buf, NPAGES, NULL), -EFAULT);
	assert_int_equal(f->buf[0], 0xa5);	/* nothing copied */
	assert_int_equal(run(f->fd0, C_TO_DEV, f->mem, f->buf, NPAGES, NULL), -EINVAL);
	assert_int_equal(mprotect(f->mem, f->size, PROT_READ | PROT_WRITE), 0);
}

static void test_migrate_snapshot_release(void **state)
{
	struct fx *f = *state;
	struct cmd c;

	assert_int_equal(run(f->fd0, C_TO_DEV, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(c.cpages, NPAGES);
	assert_memory_equal(f->buf, f->mem, f->size);	/* faults them home */
	assert_int_equal(run(f->fd0, C_TO_DEV, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(run(f->fd0, C_SNAPSHOT, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(c.cpages, NPAGES);
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(f->buf[i], P_LOCAL | P_WRITE);
	/* another device sees the pages as not there, without faulting */
	assert_int_equal(run(f->fd1, C_SNAPSHOT, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(f->buf[0], 0);
	/* a read on this device copies from its memory: no fault */
	assert_int_equal(run(f->fd0, C_READ, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(c.faults, 0);
	assert_int_equal(run(f->fd0, C_RELEASE, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(run(f->fd0, C_SNAPSHOT, f->mem, f->buf, NPAGES, &c), 0);
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(f->buf[i], P_WRITE);
	for (size_t i = 0; i < f->size / sizeof(*f->mem); i++)
		assert_int_equal(f->mem[i], i);
}

/* gup_test: a get brings device-private pages home; the size done stops
 * at the first page that cannot be had (here, PROT_NONE). */
static void test_gup_node(void **state)
{
	struct fx *f = *state;
	int g = open("/sys/kernel/debug/gup_test", O_RDWR);
	struct gup a = { .addr = (uintptr_t)f->mem, .size = 4 * f->page,
			 .per_call = 1, .flags = G_FOLL_WRITE };
	struct cmd c;

	assert_true(g >= 0);
	assert_int_equal(run(f->fd0, C_TO_DEV, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(ioctl(g, G_GUP_BASIC, &a), 0);
	assert_int_equal(a.size, 4 * f->page);
	a.size = 2 * f->page;
	a.addr += 4 * f->page;
	assert_int_equal(ioctl(g, G_PIN_LONGTERM, &a), 0);
	assert_int_equal(run(f->fd0, C_SNAPSHOT, f->mem, f->buf, NPAGES, &c), 0);
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(f->buf[i], i < 6 ? P_WRITE : P_LOCAL | P_WRITE);
	/* no access (not unmapped: teardown unmaps the whole buffer) */
	assert_int_equal(mprotect((char *)f->mem + 9 * f->page, f->page, PROT_NONE), 0);
	a = (struct gup){ .addr = (uintptr_t)f->mem + 6 * f->page,
			  .size = 6 * f->page, .per_call = 2 };
	assert_int_equal(ioctl(g, G_GUP_FAST, &a), 0);
	assert_int_equal(a.size, 4 * f->page);	/* the second call got one */
	assert_int_equal(ioctl(g, _IOWR('g', 40, struct gup), &a), -1);
	assert_int_equal(errno, EINVAL);
	for (size_t i = 0; i < 9 * f->page / sizeof(*f->mem); i++)
		assert_int_equal(f->mem[i], i);
	close(g);
}

static void test_to_sys(void **state)
{
	struct fx *f = *state;
	struct cmd c;

	assert_int_equal(run(f->fd1, C_TO_DEV, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(run(f->fd1, C_TO_SYS, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(c.cpages, NPAGES);
	assert_int_equal(run(f->fd1, C_SNAPSHOT, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(f->buf[NPAGES - 1], P_WRITE);
}

static void test_shared_memory(void **state)
{
	struct fx *f = *state;
	unsigned int *sh = mmap(NULL, f->size, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct cmd c;

	assert_ptr_not_equal(sh, MAP_FAILED);
	memset(f->buf, 0x5a, f->size);
	assert_int_equal(run(f->fd0, C_WRITE, sh, f->buf, NPAGES, &c), 0);
	assert_int_equal(c.cpages, NPAGES);
	assert_int_equal(sh[3], 0x5a5a5a5a);
	assert_int_equal(run(f->fd0, C_TO_DEV, sh, f->buf, NPAGES, &c), -ENOENT);
	assert_int_equal(run(f->fd0, C_SNAPSHOT, sh, f->buf, NPAGES, &c), 0);
	assert_int_equal(f->buf[0], P_WRITE);
	munmap(sh, f->size);
}

/* Exclusive pages stay the device's until the CPU touches one; the
 * touch takes back that page only. */
static void test_exclusive_until_touched(void **state)
{
	struct fx *f = *state;
	struct cmd c;

	assert_int_equal(run(f->fd0, C_CHECK_EXCL, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(run(f->fd0, C_EXCL, f->mem, f->buf, NPAGES, &c), 0);
	assert_int_equal(c.cpages, NPAGES);
	for (size_t i = 0; i < f->size / sizeof(*f->mem); i++)	/* the device's read */
		assert_int_equal(((unsigned int *)f->buf)[i], i);
	assert_int_equal(run(f->fd0, C_CHECK_EXCL, f->mem, f->buf, NPAGES, &c), -EPERM);
	/* another open of the device holds nothing */
	assert_int_equal(run(f->fd1, C_CHECK_EXCL, f->mem, f->buf, NPAGES, &c), 0);
	f->mem[5 * f->page / sizeof(*f->mem)] = 77;	/* page 5 comes back */
	assert_int_equal(run(f->fd0, C_CHECK_EXCL, f->mem + 5 * f->page / sizeof(*f->mem),
			     f->buf, 1, &c), 0);
	assert_int_equal(run(f->fd0, C_CHECK_EXCL, f->mem, f->buf, NPAGES, &c), -EPERM);
	for (size_t i = 0; i < f->size / sizeof(*f->mem); i++)
		if (i != 5 * f->page / sizeof(*f->mem))
			assert_int_equal(f->mem[i], i);
	assert_int_equal(run(f->fd0, C_CHECK_EXCL, f->mem, f->buf, NPAGES, &c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_coherent_units),
		T(test_read_counts_one_fault),
		T(test_bad_arguments),
		T(test_protections),
		T(test_migrate_snapshot_release),
		T(test_exclusive_until_touched),
		T(test_gup_node),
		T(test_to_sys),
		T(test_shared_memory),
	};

	int fd = open("/dev/hmm_dmirror0", O_RDWR);

	if (fd < 0) {	/* the shim says why, where it is preloaded */
		fprintf(stderr, "no /dev/hmm_dmirror0: run with "
			"LD_PRELOAD=libzonedev_kshim.so where userfaultfd works\n");
		return 77;
	}
	close(fd);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
