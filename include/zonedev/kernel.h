/* SPDX-License-Identifier: MIT */
/*
 * The kernel's own names for zonedev's API, for code ported from the
 * kernel.  Include it after zonedev.h in such code only: it defines short
 * macros (percpu_ref, completion, GFP_KERNEL, ...) that would clash with
 * other code.  Arguments the kernel has and userspace does not (gfp) are
 * accepted and ignored.
 */
#ifndef ZONEDEV_KERNEL_H
#define ZONEDEV_KERNEL_H

#include <zonedev/zonedev.h>

/* allocation flags: userspace allocations have no context to describe */
#ifndef GFP_KERNEL
#define GFP_KERNEL	0u
#define GFP_NOWAIT	0u
#define GFP_ATOMIC	0u
#endif

/* percpu_ref */
#define percpu_ref			zd_percpu_ref
#define percpu_ref_func_t		zd_percpu_ref_func_t
#define PERCPU_REF_INIT_ATOMIC		ZD_PERCPU_REF_INIT_ATOMIC
#define PERCPU_REF_INIT_DEAD		ZD_PERCPU_REF_INIT_DEAD
#define PERCPU_REF_ALLOW_REINIT		ZD_PERCPU_REF_ALLOW_REINIT
#define percpu_ref_init(ref, release, flags, gfp) \
	zd_percpu_ref_init(ref, release, flags)
#define percpu_ref_exit			zd_percpu_ref_exit
#define percpu_ref_get			zd_percpu_ref_get
#define percpu_ref_get_many		zd_percpu_ref_get_many
#define percpu_ref_tryget		zd_percpu_ref_tryget
#define percpu_ref_tryget_many		zd_percpu_ref_tryget_many
#define percpu_ref_tryget_live		zd_percpu_ref_tryget_live
#define percpu_ref_put			zd_percpu_ref_put
#define percpu_ref_put_many		zd_percpu_ref_put_many
#define percpu_ref_kill			zd_percpu_ref_kill
#define percpu_ref_kill_and_confirm	zd_percpu_ref_kill_and_confirm
#define percpu_ref_switch_to_atomic	zd_percpu_ref_switch_to_atomic
#define percpu_ref_switch_to_atomic_sync zd_percpu_ref_switch_to_atomic_sync
#define percpu_ref_switch_to_percpu	zd_percpu_ref_switch_to_percpu
#define percpu_ref_resurrect		zd_percpu_ref_resurrect
#define percpu_ref_reinit		zd_percpu_ref_reinit
#define percpu_ref_is_zero		zd_percpu_ref_is_zero
#define percpu_ref_is_dying		zd_percpu_ref_is_dying

/* completion; the kernel's timeout is in jiffies, zonedev's in ms */
#define completion			zd_completion
#define COMPLETION_INITIALIZER		ZD_COMPLETION_INITIALIZER
#define DECLARE_COMPLETION		ZD_DECLARE_COMPLETION
#define init_completion			zd_init_completion
#define reinit_completion		zd_reinit_completion
#define complete			zd_complete
#define complete_all			zd_complete_all
#define wait_for_completion		zd_wait_for_completion
#define wait_for_completion_timeout	zd_wait_for_completion_timeout
#define try_wait_for_completion		zd_try_wait_for_completion
#define completion_done			zd_completion_done
#define msecs_to_jiffies(ms)		((unsigned long)(ms))

#endif /* ZONEDEV_KERNEL_H */
