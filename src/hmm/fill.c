// SPDX-License-Identifier: MIT
/*
 * Filling absent pages of managed memory: the zero page, a copy of staging
 * bytes, or the staging pages themselves.  One system call per stretch;
 * where one stops early, the page it stopped at is settled on its own and
 * the call goes on after it, so a run costs one call in the common case
 * and every page's outcome is still known.
 */
#include <errno.h>

#include "fault.h"
#include "internal.h"

enum fill_how { FILL_ZERO, FILL_COPY, FILL_MOVE };

static int fill_call(struct zd_mm *mm, enum fill_how how, uintptr_t dst,
		     char *src, size_t len, size_t *done)
{
	void *d = (void *)dst;

	switch (how) {
	case FILL_ZERO:
		return zd_os_uffd_zeropage(mm->uffd, d, len, 0, done);
	case FILL_COPY:
		return zd_os_uffd_copy(mm->uffd, d, src, len, 0, done);
	default:
		return zd_os_uffd_move(mm->uffd, d, src, len, 0, done);
	}
}

static void fill_count(struct zd_mm *mm, enum fill_how how, size_t bytes)
{
	atomic_ulong *c = how == FILL_ZERO ? &mm->stats.zero_fills :
			  how == FILL_COPY ? &mm->stats.pages_copied :
			  &mm->stats.pages_moved;

	if (bytes)
		atomic_fetch_add(c, bytes >> zd_page_shift);
}

void zd__hmm_fill(struct zd_mm *mm, uintptr_t dst, char *src, size_t len,
		  bool move, hmm_fill_failed *failed, void *ctx)
{
	enum fill_how how = !src ? FILL_ZERO :
			    move && mm->can_move && !zd_fault("hmm.move") ?
			    FILL_MOVE : FILL_COPY;
	/* a call must stay within one mapping: the kernel refuses a range
	 * crossing mappings as a whole, so a refused stretch is halved
	 * until it fits (or is one page), and grows again after */
	size_t chunk = len;

	for (size_t off = 0, done; off < len; off += done) {
		size_t want = len - off < chunk ? len - off : chunk;
		int err = fill_call(mm, how, dst + off, src ? src + off : NULL,
				    want, &done);

		if (!err)
			done = want;
		fill_count(mm, how, done);
		if (!err) {
			chunk = chunk < len / 2 ? 2 * chunk : len;
			continue;
		}
		if (err == -EAGAIN) {		/* an event first */
			zd_hmm_wait_events(mm);
			continue;
		}
		if (done)	/* stopped at a page: try from there */
			continue;
		if (want > page_bytes() && err != -EEXIST) {
			chunk = (want / 2) & ~(page_bytes() - 1);
			continue;
		}
		if (how == FILL_MOVE && err != -EEXIST) {
			how = FILL_COPY;	/* refused: copy the rest */
			continue;
		}
		/* -EEXIST: the page is there already (placed meanwhile) */
		if (err != -EEXIST)
			failed(ctx, dst + off);
		done = page_bytes();
	}
}
