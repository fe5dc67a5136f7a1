/* SPDX-License-Identifier: MIT */
#ifndef ZD_BASE_FORK_H
#define ZD_BASE_FORK_H

/* Register zonedev's fork hooks once; idempotent and thread-safe. */
void zd_fork_hooks_init(void);

#endif
