/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, for tests: every allocation and registration step in
 * zonedev is a named site ("percpu_ref.data", "pcpu.area", ...).  When armed,
 * a site can be made to fail, so that a test can prove that every failure
 * path unwinds completely.  Disarmed, a site costs one relaxed load.
 *
 * The environment can arm it before main():
 *   ZONEDEV_FAULT=nth=N[,site=PREFIX]   fail the N-th matching evaluation
 *   ZONEDEV_FAULT=site=PREFIX           fail every matching evaluation
 *
 * The usual test loop counts the steps of an operation once, then fails
 * each in turn:
 *
 *	zd_fault_inject_nth(0, "devres");      // count only
 *	do_operation();
 *	n = zd_fault_inject_calls();
 *	for (i = 1; i <= n; i++) {
 *		zd_fault_inject_nth(i, "devres");
 *		assert(do_operation() < 0);
 *		assert(nothing_left_behind());
 *	}
 *	zd_fault_inject_reset();
 *
 * Pause points are not failure sites: they never fail, but in pause mode
 * they hold the thread that reaches them, so that a test can change the
 * world under it and prove a race window closed.  The points:
 *   "hmm.fault"            the fault thread, before it reads the page
 *                          entry of a fault;
 *   "hmm.fault.zero_busy"  the fault thread, before it maps the zero page
 *                          for a host page under migration (while holding
 *                          the mm's lock: a driver's move waits for it);
 *   "hmm.event"            the fault thread, after reading messages and
 *                          before handling them (a munmap() has returned);
 *   "hmm.device_fault"     the fault thread, holding a reference on a
 *                          device page, before its migrate_to_ram;
 *   "hmm.evict"            zd_mm_destroy() and fork, likewise;
 *   "hmm.migrate.setup"    zd_migrate_vma_setup(), after it collected the
 *                          pages, before it write-protects them;
 *   "hmm.migrate.move"     zd_migrate_vma_move(), before it moves;
 *   "hmm.migrate.pages"    zd_migrate_vma_pages(), before it installs;
 *   "hmm.migrate.discard"  zd_migrate_vma_pages(), after it installed,
 *                          before it drops the host copies left behind;
 *   "hmm.migrate.finalize" zd_migrate_vma_finalize(), after the entries
 *                          are final, before it wakes the faults;
 *   "hmm.folio.split"      splitting a large device folio, its count
 *                          frozen, the mm's lock held.
 */
#ifndef ZONEDEV_FAULT_H
#define ZONEDEV_FAULT_H

#include <zonedev/export.h>

ZD_EXTERN_C_BEGIN

/**
 * zd_fault_inject_nth - fail the @nth evaluation of a matching site, once
 * @nth: 1-based; 0 arms counting only, nothing fails
 * @prefix: only sites whose name starts with @prefix count; NULL: all sites
 *
 * Resets the counters.
 * Context: any thread; the state is process-wide.
 * Return: 0, -EINVAL if @prefix is longer than 63 bytes, or -ENOSPC once
 * 128 distinct prefixes were armed in this process (each is kept).
 */
ZD_API int zd_fault_inject_nth(unsigned long nth, const char *prefix);

/**
 * zd_fault_inject_site - fail every evaluation of a matching site
 * @prefix: site name prefix; NULL or "" matches every site
 *
 * Resets the counters.
 * Context: any thread.
 * Return: 0, -EINVAL if @prefix is longer than 63 bytes, or -ENOSPC once
 * 128 distinct prefixes were armed in this process (each is kept).
 */
ZD_API int zd_fault_inject_site(const char *prefix);

/**
 * zd_fault_inject_pause - hold threads at matching pause points
 * @prefix: pause point name prefix; NULL or "" matches every point
 * @timeout_ms: the longest a thread is held at one point
 *
 * A thread reaching a matching point waits there until
 * zd_fault_inject_resume() or for @timeout_ms, whichever comes first;
 * zd_fault_inject_calls() counts the points reached, so a test can wait
 * for a thread to arrive.  Failure sites do not fail in this mode.
 * Resets the counters; threads already held keep their own deadline.
 * Context: any thread.
 * Return: 0, -EINVAL if @prefix is longer than 63 bytes, or -ENOSPC once
 * 128 distinct prefixes were armed in this process (each is kept).
 */
ZD_API int zd_fault_inject_pause(const char *prefix, unsigned int timeout_ms);

/**
 * zd_fault_inject_resume - let every thread held at a pause point go on
 *
 * Stays armed: the next matching point holds its thread again.
 * Context: any thread.
 */
ZD_API void zd_fault_inject_resume(void);

/**
 * zd_fault_inject_reset - disarm fault injection and zero the counters
 *
 * Returns fault injection to its idle state: no site fails, no pause
 * point holds a thread, and the call and hit counters start again from
 * zero.  Tests call it when they finish, so that the next test starts
 * clean.
 * Context: any thread.
 */
ZD_API void zd_fault_inject_reset(void);

/**
 * zd_fault_inject_calls - matching sites evaluated since the last arm
 *
 * In pause mode: the matching pause points reached.
 * Context: any thread.
 * Return: the count.
 */
ZD_API unsigned long zd_fault_inject_calls(void);

/**
 * zd_fault_inject_hits - faults injected since the last arm
 *
 * Counts the failures injected since fault injection was last armed,
 * so that a test can check that the failure it asked for really
 * happened.
 * Context: any thread.
 * Return: the count.
 */
ZD_API unsigned long zd_fault_inject_hits(void);

ZD_EXTERN_C_END

#endif /* ZONEDEV_FAULT_H */
