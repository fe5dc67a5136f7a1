// SPDX-License-Identifier: MIT
/* dmirror: the snapshot of a range: per-page state, nothing faulted. */
#include "internal.h"

struct snap {
	struct dmirror *dm;
	uint8_t *perm;
	unsigned long npages;
};

/* The state byte of one range_fault entry, as the kernel's
 * dmirror_mkentry(); dm->lock held. */
static uint8_t snap_state(struct dmirror *dm, unsigned long pfn)
{
	struct zd_page *p;
	uint8_t st;

	if (pfn & ZD_HMM_PFN_ERROR)
		return DMIRROR_PROT_ERROR;
	if (!(pfn & ZD_HMM_PFN_VALID))
		return DMIRROR_PROT_NONE;
	p = zd_hmm_pfn_to_page(pfn);
	if (!p)
		st = DMIRROR_PROT_NONE;		/* a host page */
	else if (zd_is_device_coherent_page(p))
		st = p->pgmap->owner == dm ? DMIRROR_PROT_DEV_COHERENT_LOCAL :
		     DMIRROR_PROT_DEV_COHERENT_REMOTE;
	else if (p->pgmap->owner == dm)
		st = DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	else
		st = DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	return st | (pfn & ZD_HMM_PFN_WRITE ? DMIRROR_PROT_WRITE : DMIRROR_PROT_READ);
}

static int snap_done(void *arg, const unsigned long *pfns)
{
	struct snap *s = arg;

	for (unsigned long i = 0; i < s->npages; i++)
		s->perm[i] = snap_state(s->dm, pfns[i]);
	return 0;
}

int dmirror_snapshot(struct dmirror *dm, struct dmirror_cmd *cmd, uint8_t *perm)
{
	unsigned long pfns[RANGE_PAGES];
	int err;

	if (dm_cmd_range_bad(dm, cmd) || !perm)
		return -EINVAL;
	err = dm_cmd_enter(dm);
	if (err)
		return err;
	for (unsigned long i = 0; i < cmd->npages && !err; i += RANGE_PAGES) {
		unsigned long addr = cmd->addr + i * PAGE;
		struct snap s = {
			dm, perm + i,
			cmd->npages - i < RANGE_PAGES ? cmd->npages - i : RANGE_PAGES,
		};

		err = dm_range_read(dm, cmd->mm, addr, addr + s.npages * PAGE, 0, pfns,
				 snap_done, &s);
		if (!err)
			cmd->cpages += s.npages;
	}
	return dm_cmd_exit(dm, err);
}
