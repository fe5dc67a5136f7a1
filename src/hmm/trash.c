// SPDX-License-Identifier: MIT
/*
 * Dropping the host copy of pages that went to a device, without a window.
 *
 * zd_migrate_vma_pages() installs the device entries under the mm's lock,
 * then drops the host pages left behind.  MADV_DONTNEED cannot run under
 * the lock (it waits for its remove event to be read, and the fault
 * thread takes the lock to read), and outside it, it would also drop the
 * bytes of a new mapping the application made at the address after
 * unmapping the old one meanwhile.
 *
 * UFFDIO_MOVE (Linux 6.8) can run under the lock: it takes the pages out
 * of the kernel's page table without an event, and refuses with -EAGAIN
 * while an unmap, remap or remove of this mm waits to be read.  With the
 * lock held and no event being read or handled (mm->draining == 0), every
 * munmap() that returned has had its entries marked (dead, or gone), and
 * none can return until the lock is dropped: an entry found live there
 * names the mapping the migration saw.  The pages go into this mm's
 * trash, registered with its userfaultfd as UFFDIO_MOVE requires, and
 * are freed from there once the lock is dropped; the trash's own remove
 * event is about memory zonedev does not manage, so it is ignored.
 */
#include <errno.h>

#include "fault.h"
#include "internal.h"

#define TRASH_PAGES	512ul

/* The trash, mapped on first use; NULL if it cannot be: the caller drops
 * pages the old way.  mm->trash_lock held. */
static char *trash(struct zd_mm *mm)
{
	size_t len = TRASH_PAGES << zd_page_shift;
	char *t;

	if (mm->trash || !mm->can_move || zd_fault("hmm.trash"))
		return mm->trash;
	t = zd_os_map_pages(len);
	if (!t)
		return NULL;
	/* nothing in it for a child to see, and the child has no mm */
	if (zd_os_dontfork(t, len) ||
	    UFFD_RETRY(mm, zd_os_uffd_register(mm->uffd, t, len, 1))) {
		zd_os_unmap(t, len);
		return NULL;
	}
	mm->trash = t;
	return t;
}

/* Whether the entry of the page at @a is one pages() installed and means
 * to drop the host page under (a device entry expecting its discard).
 * Lock held. */
static bool to_drop(struct zd_mm *mm, uintptr_t a)
{
	uintptr_t *pte = zd_hmm_pte(mm, a);

	return pte && *pte != PTE_DEAD && pte_page(*pte) && (*pte & PTE_DISCARD);
}

/* Move the pages of [a, a + len) still to drop into the trash, a run of
 * them per call; their entries then expect no event.  *@done: bytes
 * dealt with.  0, or the error that stopped it there (-EAGAIN: an event
 * waits to be read).  Lock held, no event being read or handled. */
static int move_to_trash(struct zd_mm *mm, uintptr_t a, size_t len, char *t,
			 size_t *done)
{
	for (*done = 0; *done < len;) {
		size_t n = 0, moved;
		int err;

		while (*done + n < len && to_drop(mm, a + *done + n))
			n += page_bytes();
		if (!n) {
			*done += page_bytes();
			continue;
		}
		err = zd_os_uffd_move_out(mm->uffd, t + *done,
					  (void *)(a + *done), n, &moved);
		if (err)	/* moved: up to the page it stopped at */
			n = moved & ~(page_bytes() - 1);
		for (size_t off = 0; off < n; off += page_bytes())
			*zd_hmm_pte(mm, a + *done + off) &= ~PTE_DISCARD;
		*done += n;
		if (err)
			return err;
	}
	return 0;
}

size_t zd_hmm_drop_host_pages(struct zd_mm *mm, uintptr_t a, size_t len)
{
	size_t off = 0;
	char *t;

	pthread_mutex_lock(&mm->trash_lock);
	t = trash(mm);
	while (t && off < len) {
		size_t n = len - off < TRASH_PAGES << zd_page_shift ?
			   len - off : TRASH_PAGES << zd_page_shift, done;
		int err;

		pthread_mutex_lock(&mm->lock);
		zd_hmm_wait_idle(mm);
		err = move_to_trash(mm, a + off, n, t, &done);
		pthread_mutex_unlock(&mm->lock);
		if (done)
			zd_os_discard(t, done);
		off += done;
		if (err == -EAGAIN)
			zd_hmm_wait_events(mm);
		else if (err)
			break;
	}
	pthread_mutex_unlock(&mm->trash_lock);
	return off;
}

void zd_hmm_trash_free(struct zd_mm *mm)
{
	if (mm->trash && !mm->dead)	/* a child has none (MADV_DONTFORK) */
		zd_os_unmap(mm->trash, TRASH_PAGES << zd_page_shift);
	mm->trash = NULL;
	pthread_mutex_destroy(&mm->trash_lock);
}
