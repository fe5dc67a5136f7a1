/* SPDX-License-Identifier: MIT */
#ifndef ZD_BASE_PERCPU_REF_INTERNAL_H
#define ZD_BASE_PERCPU_REF_INTERNAL_H

void zd_percpu_ref_fork_prepare(void);
void zd_percpu_ref_fork_parent(void);
void zd_percpu_ref_fork_child(void);

#endif
