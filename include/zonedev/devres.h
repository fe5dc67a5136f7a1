/* SPDX-License-Identifier: MIT */
/*
 * Device-managed resources (devres), after drivers/base/devres.c.
 *
 * A devres is a block of data with a release callback, added to a device's
 * list.  When the driver's probe fails, or after its remove callback on
 * unbind, every devres on the device is released, strictly newest first.
 * Groups mark a span of the list so that it can be released (or forgotten)
 * on its own.  The devm_* helpers build on it: actions, memory, regions.
 *
 * All calls take the device's devres lock briefly; release callbacks run
 * without it, in the calling thread.  Misuse (NULL arguments, a device
 * never initialised, adding a devres twice) is reported and refused; a remove or release that matches
 * nothing returns -ENOENT and says which device and callback.
 */
#ifndef ZONEDEV_DEVRES_H
#define ZONEDEV_DEVRES_H

#include <zonedev/device.h>

ZD_EXTERN_C_BEGIN

struct zd_resource;

typedef void zd_dr_release_t(struct zd_device *dev, void *res);
typedef int zd_dr_match_t(struct zd_device *dev, void *res, void *match_data);

/**
 * zd_devres_alloc - allocate a zeroed devres, not yet added
 * @release: called with the data when the devres is released
 * @size: bytes of data (max_align_t aligned)
 *
 * Allocates @size bytes of zeroed data with a devres header in front, for
 * zd_devres_add().  The caller fills in the data; when the devres is
 * released (on unbind, on probe failure, or by zd_devres_release()),
 * @release is called with the device and the data, and the memory is then
 * freed.
 * Context: may sleep.
 * Return: the data, or NULL with errno ENOMEM (also for a size too large
 * ever to allocate, reported) or EINVAL (NULL @release, reported).
 */
ZD_API void *zd_devres_alloc(zd_dr_release_t *release, size_t size);

/**
 * zd_devres_free - free a devres that was never added (or was removed)
 * @res: data from zd_devres_alloc(), or NULL
 *
 * Frees the data and header of a devres that is on no device's list,
 * without calling its release callback: the way out when setup fails
 * between zd_devres_alloc() and zd_devres_add(), or after
 * zd_devres_remove().
 * Context: any.
 */
ZD_API void zd_devres_free(void *res);

/**
 * zd_devres_add - add a devres to @dev, as the newest
 * @dev: the device
 * @res: data from zd_devres_alloc(), not on any list
 *
 * Puts @res at the newest end of @dev's devres list.  From then on it is
 * released with the rest of the list, before every older entry, when the
 * driver is unbound or its probe fails.
 * Context: any; takes the devres lock.
 */
ZD_API void zd_devres_add(struct zd_device *dev, void *res);

/**
 * zd_devres_find - the newest devres matching @release and @match
 * @dev: the device
 * @release: the release callback it was allocated with
 * @match: extra test, or NULL to take the first with @release
 * @match_data: passed to @match
 *
 * Walks @dev's devres list from the newest entry and returns the data
 * of the first one allocated with @release for which @match (if given)
 * returns true.  The devres stays on the list; nothing is released.
 * Context: any; @match runs under the devres lock.
 * Return: its data, or NULL (NULL or uninitialised @dev and NULL @release
 * are reported).
 */
ZD_API void *zd_devres_find(struct zd_device *dev, zd_dr_release_t *release,
			    zd_dr_match_t *match, void *match_data);

/**
 * zd_devres_get - find a matching devres, or add @new_res
 * @dev: the device
 * @new_res: a fresh devres; freed if one already matches
 * @match: extra test, or NULL
 * @match_data: passed to @match
 *
 * Looks for a devres on @dev with the same release callback as
 * @new_res that @match accepts.  If there is one, @new_res is freed and
 * the existing one returned; if not, @new_res is added.  This gives a
 * per-device singleton without a race between lookup and add.
 * Context: any.
 * Return: the devres now on @dev (the old one or @new_res).
 */
ZD_API void *zd_devres_get(struct zd_device *dev, void *new_res,
			   zd_dr_match_t *match, void *match_data);

/**
 * zd_devres_remove - take a matching devres off @dev, not released
 * @dev: the device
 * @release: its release callback
 * @match: extra test, or NULL
 * @match_data: passed to @match
 *
 * Finds the newest devres on @dev allocated with @release that @match
 * accepts and takes it off the list without calling @release.  The caller
 * then owns the data and frees it with zd_devres_free().
 * Context: any.
 * Return: its data (the caller now owns it), or NULL.
 */
ZD_API void *zd_devres_remove(struct zd_device *dev, zd_dr_release_t *release,
			      zd_dr_match_t *match, void *match_data);

/**
 * zd_devres_destroy - remove and free a matching devres, not released
 * @dev: the device
 * @release: its release callback (not called)
 * @match: extra test, or NULL
 * @match_data: passed to @match
 *
 * Like zd_devres_remove() followed by zd_devres_free(): the matching
 * devres is taken off @dev's list and freed, and @release is never
 * called.  Use it when the resource was already undone by hand.
 * Context: any.
 * Return: 0, or -ENOENT if nothing matched: an answer, not reported (as in
 * the kernel; callers that expect a match report it themselves).
 */
ZD_API int zd_devres_destroy(struct zd_device *dev, zd_dr_release_t *release,
			     zd_dr_match_t *match, void *match_data);

/**
 * zd_devres_release - remove a matching devres, release it now, free it
 * @dev: the device
 * @release: its release callback (called)
 * @match: extra test, or NULL
 * @match_data: passed to @match
 *
 * Finds the newest matching devres on @dev, takes it off the list, calls
 * @release on it at once and frees it: the early, explicit form of what
 * unbind would do later.
 * Context: may sleep if @release does.
 * Return: 0, or -ENOENT if nothing matched: an answer, not reported, as
 * for zd_devres_destroy().
 */
ZD_API int zd_devres_release(struct zd_device *dev, zd_dr_release_t *release,
			     zd_dr_match_t *match, void *match_data);

/**
 * zd_devres_open_group - open a devres group on @dev
 * @dev: the device
 * @id: the group's id, or NULL to use the returned address
 *
 * Opens a group: devres added to @dev from now until
 * zd_devres_close_group() belong to it, and can later be released
 * together with zd_devres_release_group() or forgotten with
 * zd_devres_remove_group(), without touching older entries.  Groups may
 * nest.
 * Context: may sleep.
 * Return: the group id, or NULL with errno ENOMEM or EINVAL.
 */
ZD_API void *zd_devres_open_group(struct zd_device *dev, void *id);

/**
 * zd_devres_close_group - close the group @id (NULL: the newest open one)
 * @dev: the device
 * @id: the group id
 *
 * Ends the group @id: devres added afterwards no longer belong to it.
 * The group's entries stay on the list and are still released with the
 * device.  An unknown @id, or a group closed already, is reported and
 * left as it is.
 * Context: any.
 */
ZD_API void zd_devres_close_group(struct zd_device *dev, void *id);

/**
 * zd_devres_remove_group - forget group @id, keeping its resources
 * @dev: the device
 * @id: the group id (NULL: the newest open one)
 *
 * Removes the markers of group @id from @dev's list, leaving its devres
 * in place as ordinary entries.  Nothing is released: the resources now
 * go with the device as a whole.
 * Context: any.
 */
ZD_API void zd_devres_remove_group(struct zd_device *dev, void *id);

/**
 * zd_devres_release_group - release every devres in group @id, newest first
 * @dev: the device
 * @id: the group id (NULL: the newest open one)
 *
 * Nested groups inside it go too.
 * Context: may sleep if release callbacks do.
 * Return: the number of devres released, or -ENOENT.
 */
ZD_API int zd_devres_release_group(struct zd_device *dev, void *id);

/**
 * zd_devm_add_action - run @action(@data) when @dev's devres is released
 * @dev: the device
 * @action: the callback
 * @data: its argument
 *
 * Registers a cleanup callback on @dev: @action(@data) runs when the
 * device's devres is released (unbind or a failed probe), in newest-first
 * order with the other devres.  If registration fails @action is not
 * run; see zd_devm_add_action_or_reset() for the form that cleans up.
 * Context: may sleep.
 * Return: 0, -EINVAL, -ENOMEM.
 */
ZD_API int zd_devm_add_action(struct zd_device *dev, void (*action)(void *),
			      void *data);

/**
 * zd_devm_add_action_or_reset - as zd_devm_add_action(); on failure runs
 * @action(@data) at once
 * @dev: the device
 * @action: the callback
 * @data: its argument
 *
 * Registers @action(@data) to run when @dev's devres is released, as
 * zd_devm_add_action() does; if that fails, @action(@data) runs before
 * this returns.  Either way the resource is undone exactly once, so a
 * probe can return the error without an unwinding path of its own.
 * Context: may sleep.
 * Return: 0, -EINVAL, -ENOMEM.
 */
ZD_API int zd_devm_add_action_or_reset(struct zd_device *dev,
				       void (*action)(void *), void *data);

/**
 * zd_devm_remove_action - forget one matching action without running it
 * @dev: the device
 * @action: the callback
 * @data: its argument
 *
 * Takes the newest action registered on @dev with the same @action and
 * @data off the list without running it, for a resource the driver has
 * already undone itself.  Compare zd_devm_release_action(), which runs
 * it.
 * Context: any.
 * Return: 0, -ENOENT (reported) if no such action is registered, -EINVAL
 * (reported) for a NULL or uninitialised device.
 */
ZD_API int zd_devm_remove_action(struct zd_device *dev, void (*action)(void *),
				 void *data);

/**
 * zd_devm_release_action - run one matching action now and forget it
 * @dev: the device
 * @action: the callback
 * @data: its argument
 *
 * Takes the newest action registered on @dev with the same @action and
 * @data off the list and runs it now, instead of at unbind.  Compare
 * zd_devm_remove_action(), which does not run it.
 * Context: may sleep if @action does.
 * Return: 0, -ENOENT (reported) if no such action is registered, -EINVAL
 * (reported) for a NULL or uninitialised device.
 */
ZD_API int zd_devm_release_action(struct zd_device *dev, void (*action)(void *),
				  void *data);

/**
 * zd_devm_kmalloc - memory freed when @dev's devres is released
 * @dev: the device
 * @size: bytes
 *
 * Allocates @size bytes that belong to @dev: they are freed
 * automatically when the device's devres is released, so probe needs no
 * error path and remove no free for them.  The memory is not zeroed.
 * Context: may sleep.
 * Return: the memory (max_align_t aligned), or NULL with errno ENOMEM
 * (EINVAL, reported, for a NULL or uninitialised device).
 */
ZD_API void *zd_devm_kmalloc(struct zd_device *dev, size_t size);

/**
 * zd_devm_kzalloc - zeroed zd_devm_kmalloc()
 * @dev: the device
 * @size: bytes
 *
 * Allocates @size zeroed bytes that are freed automatically when @dev's
 * devres is released, as zd_devm_kmalloc() does.
 * Context: may sleep.
 * Return: the memory, or NULL with errno ENOMEM or EINVAL.
 */
ZD_API void *zd_devm_kzalloc(struct zd_device *dev, size_t size);

/**
 * zd_devm_kfree - free devm memory early
 * @dev: the device
 * @p: memory from zd_devm_kmalloc() on @dev, or NULL
 *
 * Frees memory from zd_devm_kmalloc() or zd_devm_kzalloc() before the
 * device's devres is released, and takes it off @dev's list so that it
 * is not freed twice.
 * Context: any.  Reports a pointer that is not @dev's devm memory.
 */
ZD_API void zd_devm_kfree(struct zd_device *dev, const void *p);

/**
 * zd_devm_request_mem_region - request a busy iomem region for @dev
 * @dev: the device
 * @start: first physical address
 * @n: length in bytes
 * @name: the region's name (kept by reference)
 *
 * Released with the device's devres.
 * Context: may sleep.
 * Return: the region, or NULL with errno (EBUSY, EINVAL, ENOMEM).
 */
ZD_API struct zd_resource *zd_devm_request_mem_region(struct zd_device *dev,
		zd_resource_size_t start, zd_resource_size_t n, const char *name);

/**
 * zd_devm_release_mem_region - release a region of @dev early
 * @dev: the device
 * @start: as requested
 * @n: as requested
 *
 * Releases a region claimed with zd_devm_request_mem_region() on @dev
 * before unbind: the region goes back to the resource tree and its devres
 * entry is dropped.
 * Context: may sleep.
 * Return: 0, -ENOENT (reported) if @dev holds no such region, -EINVAL
 * (reported) for a NULL or uninitialised device.
 */
ZD_API int zd_devm_release_mem_region(struct zd_device *dev,
				      zd_resource_size_t start,
				      zd_resource_size_t n);

ZD_EXTERN_C_END

#endif /* ZONEDEV_DEVRES_H */
