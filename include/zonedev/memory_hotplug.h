/* SPDX-License-Identifier: MIT */
/*
 * Memory hotplug locking, after mm/memory_hotplug.c.
 *
 * Adding or removing memory (memremap, memunmap) is a hotplug write:
 * writers are serialised, and each waits for the readers inside to leave
 * while newly arriving readers wait for it.  Readers (anything that needs
 * the memory layout to hold still: walking pgmaps, the pages of a range)
 * cost a few nanoseconds and write no shared cache line while no writer
 * is about.  Removal never fails: it may only wait (seed 003).
 *
 * A reader must not take the read side again while holding it (a writer
 * arriving in between would deadlock both), nor take the write side; a
 * writer must not begin again.  The kernel deadlocks on these; zonedev
 * reports them (see each function) instead of hanging where it can.  A
 * thread that handed its read side over to another is no longer taken
 * for a reader.
 */
#ifndef ZONEDEV_MEMORY_HOTPLUG_H
#define ZONEDEV_MEMORY_HOTPLUG_H

#include <zonedev/export.h>

ZD_EXTERN_C_BEGIN

/**
 * zd_mem_hotplug_begin - start a memory hotplug write
 *
 * Waits for other writers and for readers inside to leave.  Called
 * again by the thread already writing, or by one holding the read side,
 * it would wait for itself for ever: it reports that and returns without
 * taking the write side (the matching zd_mem_hotplug_done() is then
 * reported and ignored as well).
 * Context: may sleep; not while holding the read side.
 */
ZD_API void zd_mem_hotplug_begin(void);

/**
 * zd_mem_hotplug_done - end a memory hotplug write
 *
 * Ends a hotplug write begun with zd_mem_hotplug_begin(): the next
 * writer, or the readers that arrived meanwhile, may go in.
 * Called on a thread that is not writing, it is reported and ignored,
 * so the lock keeps working for the real writer.
 * Context: the thread that called zd_mem_hotplug_begin().
 */
ZD_API void zd_mem_hotplug_done(void);

/**
 * zd_get_online_mems - hold the memory layout still (read side)
 *
 * Enters the read side of memory hotplug: until zd_put_online_mems(),
 * no memremap or memunmap changes the memory layout, so pgmaps and their
 * pages can be walked safely.  Readers do not block each other.
 * Taken again by a thread that holds it, it is reported and taken once
 * more (readers nest, and each get still pairs with a put), but that
 * deadlocks if a writer starts waiting between the two, as in the kernel.
 * Context: may sleep while a writer is in; not recursive.
 */
ZD_API ZD_HOT void zd_get_online_mems(void);

/**
 * zd_put_online_mems - release the read side
 *
 * Leaves the read side entered with zd_get_online_mems(), letting a
 * waiting hotplug writer in once no reader remains.
 *
 * A put with no read side taken is reported and ignored when the putting
 * thread took none itself; one on a thread that handed a read side over
 * is found and repaired (reported) by the next writer, so that it never
 * waits for ever.
 * Context: any thread (need not be the one that took it).
 */
ZD_API ZD_HOT void zd_put_online_mems(void);

ZD_EXTERN_C_END

#endif /* ZONEDEV_MEMORY_HOTPLUG_H */
