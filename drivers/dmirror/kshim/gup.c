// SPDX-License-Identifier: MIT
/*
 * /sys/kernel/debug/gup_test, as the kernel's mm/gup_test.c makes it
 * (CONFIG_GUP_TEST): each benchmark command gets or pins the pages of
 * [addr, addr + size) nr_pages_per_call at a time, timing the gets and
 * the puts, here through zd_pin_user_pages_remote().  zonedev has one
 * kind of hold for both the kernel's get and pin: either keeps a page
 * where it is until it is dropped.  The ABI (struct gup_test, 'g' ioctl
 * numbers) is restated in our own words.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "kshim.h"

enum {
	GUP_FAST = 1, PIN_FAST, PIN_LONGTERM, GUP_BASIC, PIN_BASIC, DUMP_PAGES,
	PIN_LONGTERM_TEST_START, PIN_LONGTERM_TEST_STOP, PIN_LONGTERM_TEST_READ,
};

/* The kernel's FOLL_WRITE and FOLL_LONGTERM in gup_flags: FOLL_LONGTERM
 * moved from bit 16 (6.1) to bit 8 (6.3); each version's other flag at
 * that bit is one userspace cannot pass, so both mean long-term. */
#define K_FOLL_WRITE	0x01u
#define K_FOLL_LONGTERM	(0x100u | 0x10000u)

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static unsigned int zd_flags(unsigned int nr, uint32_t gup_flags)
{
	unsigned int f = 0;

	if (gup_flags & K_FOLL_WRITE)
		f |= ZD_FOLL_WRITE;
	if ((gup_flags & K_FOLL_LONGTERM) || nr == PIN_LONGTERM)
		f |= ZD_FOLL_LONGTERM;
	return f;
}

/* The benchmark loop: as many calls as the range needs, stopping at the
 * first that pins fewer pages than asked; then every pin dropped. */
static int bench(struct zd_mm *mm, unsigned int nr, struct kshim_gup *g)
{
	unsigned long per = g->nr_pages_per_call, pages = g->size >> zd_page_shift;
	uint64_t addr = g->addr, end = g->addr + (pages << zd_page_shift);
	unsigned long calls = per ? (pages + per - 1) / per : 0, n = 0;
	struct zd_pin **pins = calloc(calls ? calls : 1, sizeof(*pins));
	long got = (long)per;
	uint64_t t0;

	if (!pins)
		return -ENOMEM;
	t0 = now_us();
	while (per && addr < end && got == (long)per) {
		unsigned long want = (end - addr) >> zd_page_shift;

		if (want > per)
			want = per;
		got = zd_pin_user_pages_remote(mm, addr, want,
					       zd_flags(nr, g->gup_flags), NULL,
					       &pins[n]);
		if (got <= 0)
			break;
		n++;
		addr += want << zd_page_shift;
		if ((unsigned long)got < want)
			break;
	}
	g->get_delta_usec = now_us() - t0;
	g->size = addr - g->addr;
	t0 = now_us();
	while (n)
		zd_unpin_user_pages(pins[--n]);
	g->put_delta_usec = now_us() - t0;
	free(pins);
	return 0;
}

int kshim_gup_ioctl(struct zd_mm *mm, unsigned long request, struct kshim_gup *g)
{
	unsigned int nr = _IOC_NR(request);

	if (_IOC_TYPE(request) != 'g')
		return -ENOTTY;
	if (nr >= PIN_LONGTERM_TEST_START && nr <= PIN_LONGTERM_TEST_READ) {
		kshim_note("gup_test: the PIN_LONGTERM_TEST_* commands are not "
			   "provided");
		return -EOPNOTSUPP;
	}
	if (nr < GUP_FAST || nr > DUMP_PAGES ||
	    _IOC_SIZE(request) != sizeof(struct kshim_gup))
		return -EINVAL;
	return bench(mm, nr, g);
}
