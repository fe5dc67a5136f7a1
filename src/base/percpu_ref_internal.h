/* SPDX-License-Identifier: MIT */
#ifndef ZD_BASE_PERCPU_REF_INTERNAL_H
#define ZD_BASE_PERCPU_REF_INTERNAL_H

#include <stdbool.h>
#include <zonedev/percpu_ref.h>

/* tryget_live for a caller already inside an RCU read section. */
bool zd__percpu_ref_tryget_live_rcu(struct zd_percpu_ref *ref);

void zd_percpu_ref_fork_prepare(void);
void zd_percpu_ref_fork_parent(void);
void zd_percpu_ref_fork_child(void);

#endif
