// SPDX-License-Identifier: MIT
/*
 * The demo's HMM part: an application's array moves to a dmirror device,
 * is transformed there, is read back by the CPU through real page faults,
 * and the device is unplugged with half of it still on the device; every
 * byte is checked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "dmirror.h"
#include "tool.h"

#define STEP	(64ul << 20)	/* bytes per command, for the progress bar */

static void add_one(void *page, size_t len, void *arg)
{
	uint64_t *v = page;

	(void)arg;
	for (size_t i = 0; i < len / sizeof(*v); i++)
		v[i]++;
}

typedef int cmd_fn(struct dmirror *dm, struct dmirror_cmd *cmd);

/* Run @fn over [p, p + len) in steps; returns GB/s or -errno. */
static double in_steps(const char *label, cmd_fn *fn, struct dmirror *dm,
		       struct zd_mm *mm, char *p, size_t len)
{
	size_t pg = zd_page_size();
	int64_t t0 = tool_now_ns();

	for (size_t off = 0; off < len; off += STEP) {
		size_t n = len - off < STEP ? len - off : STEP;
		struct dmirror_cmd c = { .mm = mm, .addr = (unsigned long)(p + off),
					 .npages = n / pg };
		int err = fn(dm, &c);

		if (err)
			return err;
		tool_progress(label, off + n, len);
	}
	return (double)len / (double)(tool_now_ns() - t0);
}

static int transform(struct dmirror *dm, struct dmirror_cmd *c)
{
	return dmirror_transform(dm, c, add_one, NULL);
}

/* Checks v[i] == i + 1 over [from, to); returns the first bad index or -1. */
static long verify(const char *label, const uint64_t *v, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		if (v[i] != i + 1)
			return (long)i;
		if (!(i % (STEP / 8)))
			tool_progress(label, i - from, to - from);
	}
	tool_progress(label, 1, 1);
	return -1;
}

int demo_hmm(unsigned long mib, struct demo_summary *sum)
{
	size_t len = mib << 20, n = len / sizeof(uint64_t);
	struct zd_mm_stats st;
	struct dmirror *dm;
	struct zd_mm *mm;
	double gbs[3];
	int64_t t0;
	uint64_t *v;
	long bad;

	fprintf(tool_out, "\n== HMM: %lu MiB of an application's memory on a device ==\n", mib);
	sum->hmm.mib = mib;
	mm = zd_mm_create();
	if (!mm) {
		fprintf(tool_out, "  skipped: no userfaultfd here (%s)\n", strerror(errno));
		sum->hmm.skipped = sum->hmm.ok = true;
		return 0;
	}
	/* the application's own array, filled, then handed to zonedev */
	dm = dmirror_create(0, 256ul << 20);
	v = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v != MAP_FAILED)
		for (size_t i = 0; i < n; i++)
			v[i] = i;
	if (!dm || v == MAP_FAILED || zd_mm_register(mm, v, len)) {
		if (dm)
			dmirror_destroy(dm);
		if (v != MAP_FAILED)
			munmap(v, len);
		zd_mm_destroy(mm);
		fprintf(tool_out, "  FAILED: no device or memory (%s)\n", strerror(errno));
		return 1;
	}
	gbs[0] = in_steps("to the device", dmirror_migrate_to_device, dm, mm, (char *)v, len);
	gbs[1] = in_steps("+1 on the device", transform, dm, mm, (char *)v, len);
	fprintf(tool_out, "  migrated to dmirror0: %.2f GB/s; device pages now %lu\n",
	       gbs[0], zd_mm_device_pages(mm));
	fprintf(tool_out, "  the device added 1 to each of %zu numbers: %.2f GB/s\n", n, gbs[1]);
	dmirror_set_prefetch(dm, 16);
	t0 = tool_now_ns();
	bad = verify("CPU reads (faults)", v, 0, n / 2);
	zd_mm_get_stats(mm, &st);
	sum->hmm.cpu_read_gbs = (double)len / 2 / (double)(tool_now_ns() - t0);
	sum->hmm.device_faults = st.device_faults;
	demo_map_snapshot("HMM: half of the array read back by the CPU, half "
			  "still on dmirror0");
	fprintf(tool_out, "  the CPU read the first half through %lu page faults "
	       "(64 KiB each): %.2f GB/s%s\n", st.device_faults,
	       sum->hmm.cpu_read_gbs, bad < 0 ? "" : ", WRONG BYTES");
	t0 = tool_now_ns();
	dmirror_unbind(dm);
	sum->hmm.unplug_ms = (double)(tool_now_ns() - t0) / 1e6;
	fprintf(tool_out, "  unplugged dmirror0 with %zu MiB still on it: everything came "
	       "home in %.1f ms; device pages now %lu\n", len / 2 >> 20,
	       sum->hmm.unplug_ms, zd_mm_device_pages(mm));
	if (bad < 0)
		bad = verify("CPU checks all", v, 0, n);
	fprintf(tool_out, "  every byte checked: %s\n", bad < 0 ? "all correct" : "MISMATCH");
	zd_mm_get_stats(mm, &st);
	fprintf(tool_out, "  pages that moved without a copy: %lu, copied: %lu%s\n",
	       st.pages_moved, st.pages_copied,
	       st.pages_moved ? "" : " (none moved: kernels before 6.8 copy)");
	sum->hmm.to_device_gbs = gbs[0];
	sum->hmm.on_device_gbs = gbs[1];
	sum->hmm.pages_moved = st.pages_moved;
	sum->hmm.pages_copied = st.pages_copied;
	sum->hmm.ok = bad < 0 && gbs[0] > 0 && gbs[1] > 0;
	zd_mm_destroy(mm);
	dmirror_destroy(dm);
	munmap(v, len);
	return bad < 0 && gbs[0] > 0 && gbs[1] > 0 ? 0 : 1;
}
