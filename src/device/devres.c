// SPDX-License-Identifier: MIT
/*
 * devres: a per-device list of (release, data) nodes and group markers,
 * after drivers/base/devres.c.  Releases happen newest first and outside
 * the devres lock; groups are a pair of marker nodes around a span.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "fault.h"
#include "list.h"
#include "log.h"

enum node_kind { NODE_DEVRES, NODE_OPEN, NODE_CLOSE };

struct devres_node {
	struct zd_list_head entry;
	zd_dr_release_t *release;	/* NULL for group markers */
	enum node_kind kind;
};

struct devres {
	struct devres_node node;
	_Alignas(max_align_t) unsigned char data[];
};

/* node[0] opens the group, node[1] closes it (empty while open). */
struct devres_group {
	struct devres_node node[2];
	void *id;
	int color;		/* markers seen in a span; 2: wholly inside */
};

static struct devres *to_devres(void *data)
{
	return container_of(data, struct devres, data);
}

static struct devres_group *node_to_group(struct devres_node *node)
{
	switch (node->kind) {
	case NODE_OPEN:
		return container_of(node, struct devres_group, node[0]);
	case NODE_CLOSE:
		return container_of(node, struct devres_group, node[1]);
	default:
		return NULL;
	}
}

static struct devres_node *to_node(struct zd_list_head *pos)
{
	return zd_list_entry(pos, struct devres_node, entry);
}

const char *zd_func_name(void *fn, char *buf, size_t len)
{
	Dl_info info;

	if (dladdr(fn, &info) && info.dli_sname && info.dli_saddr == fn)
		snprintf(buf, len, "%s", info.dli_sname);
	else
		snprintf(buf, len, "%p", fn);
	return buf;
}

void *zd_devres_alloc(zd_dr_release_t *release, size_t size)
{
	struct devres *dr;

	if (!release) {
		zd_warn("NULL release");
		errno = EINVAL;
		return NULL;
	}
	/* too large to ever allocate: out of memory, as the header says */
	if (size > SIZE_MAX - sizeof(*dr)) {
		zd_warn("size %zu too large", size);
		errno = ENOMEM;
		return NULL;
	}
	dr = zd_zalloc("devres.alloc", sizeof(*dr) + size);
	if (!dr)
		return NULL;
	zd_list_init(&dr->node.entry);
	dr->node.release = release;
	dr->node.kind = NODE_DEVRES;
	return dr->data;
}

void zd_devres_free(void *res)
{
	struct devres *dr;

	if (!res)
		return;
	dr = to_devres(res);
	if (ZD_WARN_ON(!zd_list_empty(&dr->node.entry),
		       "devres %p is still on a device: not freed", res))
		return;
	free(dr);
}

void zd_devres_add(struct zd_device *dev, void *res)
{
	struct devres *dr;

	if (zd_dev_unusable(dev, __func__) || ZD_WARN_ON(!res, "NULL devres"))
		return;
	dr = to_devres(res);
	pthread_mutex_lock(&dev->devres_lock);
	if (!zd_list_empty(&dr->node.entry))
		zd_warn("device %s: devres %p added twice; ignored",
			zd_dev_name(dev), res);
	else
		zd_list_add_tail(&dr->node.entry, &dev->devres_head);
	pthread_mutex_unlock(&dev->devres_lock);
}

/* Newest first; caller holds the devres lock. */
static struct devres *find_dr(struct zd_device *dev, zd_dr_release_t *release,
			      zd_dr_match_t *match, void *match_data)
{
	struct zd_list_head *pos;

	zd_list_for_each_reverse(pos, &dev->devres_head) {
		struct devres_node *node = to_node(pos);
		struct devres *dr = container_of(node, struct devres, node);

		if (node->kind != NODE_DEVRES || node->release != release)
			continue;
		if (match && !match(dev, dr->data, match_data))
			continue;
		return dr;
	}
	return NULL;
}

/* The data of the newest match, unlinked from @dev if @unlink. */
static void *lookup(struct zd_device *dev, zd_dr_release_t *release,
		    zd_dr_match_t *match, void *match_data, bool unlink,
		    const char *fn)
{
	struct devres *dr;

	if (zd_dev_unusable(dev, fn))
		return NULL;
	if (!release) {
		zd_log(ZD_LOG_WARN, "WARNING: %s: NULL release", fn);
		return NULL;
	}
	pthread_mutex_lock(&dev->devres_lock);
	dr = find_dr(dev, release, match, match_data);
	if (dr && unlink)
		zd_list_del_init(&dr->node.entry);
	pthread_mutex_unlock(&dev->devres_lock);
	return dr ? dr->data : NULL;
}

void *zd_devres_find(struct zd_device *dev, zd_dr_release_t *release,
		     zd_dr_match_t *match, void *match_data)
{
	return lookup(dev, release, match, match_data, false, __func__);
}

void *zd_devres_get(struct zd_device *dev, void *new_res, zd_dr_match_t *match,
		    void *match_data)
{
	struct devres *new_dr, *dr;

	if (zd_dev_unusable(dev, __func__) || ZD_WARN_ON(!new_res, "NULL devres"))
		return NULL;
	new_dr = to_devres(new_res);
	if (ZD_WARN_ON(!zd_list_empty(&new_dr->node.entry),
		       "devres %p is on a device already", new_res))
		return NULL;
	pthread_mutex_lock(&dev->devres_lock);
	dr = find_dr(dev, new_dr->node.release, match, match_data);
	if (!dr) {
		zd_list_add_tail(&new_dr->node.entry, &dev->devres_head);
		dr = new_dr;
		new_res = NULL;
	}
	pthread_mutex_unlock(&dev->devres_lock);
	zd_devres_free(new_res);
	return dr->data;
}

void *zd_devres_remove(struct zd_device *dev, zd_dr_release_t *release,
		       zd_dr_match_t *match, void *match_data)
{
	return lookup(dev, release, match, match_data, true, __func__);
}

int zd_devres_destroy(struct zd_device *dev, zd_dr_release_t *release,
		      zd_dr_match_t *match, void *match_data)
{
	void *res = zd_devres_remove(dev, release, match, match_data);

	if (!res)
		return -ENOENT;
	zd_devres_free(res);
	return 0;
}

int zd_devres_release(struct zd_device *dev, zd_dr_release_t *release,
		      zd_dr_match_t *match, void *match_data)
{
	void *res = zd_devres_remove(dev, release, match, match_data);

	if (!res)
		return -ENOENT;
	release(dev, res);
	zd_devres_free(res);
	return 0;
}

/* ---- releasing spans --------------------------------------------------- */

/*
 * Move the devres in [first, end) to @todo, and the groups that lie wholly
 * inside it (both markers, or the opener of a group still open) to
 * @markers.  Groups that only overlap the span keep their markers.
 * Caller holds the devres lock.  Returns the number of devres moved.
 */
static int take_span(struct zd_list_head *first, struct zd_list_head *end,
		     struct zd_list_head *todo, struct zd_list_head *markers)
{
	struct zd_list_head *before = first->prev, *pos, *next;
	int cnt = 0;

	for (pos = first; pos != end; pos = next) {
		struct devres_group *g = node_to_group(to_node(pos));

		next = pos->next;
		if (g) {
			g->color = 0;
			continue;
		}
		zd_list_move_tail(pos, todo);
		cnt++;
	}
	/* only markers are left between @before and @end now */
	for (pos = before->next; pos != end; pos = pos->next) {
		struct devres_group *g = node_to_group(to_node(pos));

		g->color += zd_list_empty(&g->node[1].entry) ? 2 : 1;
	}
	for (pos = before->next; pos != end; pos = next) {
		struct devres_node *node = to_node(pos);
		struct devres_group *g = node_to_group(node);

		next = pos->next;
		if (g->color != 2)
			continue;
		if (node->kind == NODE_OPEN)
			zd_list_move_tail(pos, markers);
		else
			zd_list_del_init(pos);
	}
	return cnt;
}

/* Release @todo newest first, then free it and the group @markers. */
static void release_span(struct zd_device *dev, struct zd_list_head *todo,
			 struct zd_list_head *markers)
{
	while (!zd_list_empty(todo)) {
		struct devres_node *node = to_node(todo->prev);
		struct devres *dr = container_of(node, struct devres, node);

		zd_list_del_init(&node->entry);
		node->release(dev, dr->data);
		free(dr);
	}
	while (!zd_list_empty(markers)) {
		struct zd_list_head *pos = markers->next;

		zd_list_del_init(pos);
		free(node_to_group(to_node(pos)));
	}
}

int zd_devres_release_all(struct zd_device *dev)
{
	struct zd_list_head todo, markers;
	int cnt;

	zd_list_init(&todo);
	zd_list_init(&markers);
	pthread_mutex_lock(&dev->devres_lock);
	cnt = take_span(dev->devres_head.next, &dev->devres_head, &todo,
			&markers);
	pthread_mutex_unlock(&dev->devres_lock);
	release_span(dev, &todo, &markers);
	return cnt;
}

/* ---- groups ------------------------------------------------------------- */

void *zd_devres_open_group(struct zd_device *dev, void *id)
{
	struct devres_group *g;

	if (zd_dev_unusable(dev, __func__)) {
		errno = EINVAL;
		return NULL;
	}
	g = zd_zalloc("devres.group", sizeof(*g));
	if (!g)
		return NULL;
	zd_list_init(&g->node[0].entry);
	zd_list_init(&g->node[1].entry);
	g->node[0].kind = NODE_OPEN;
	g->node[1].kind = NODE_CLOSE;
	g->id = id ? id : g;
	pthread_mutex_lock(&dev->devres_lock);
	zd_list_add_tail(&g->node[0].entry, &dev->devres_head);
	pthread_mutex_unlock(&dev->devres_lock);
	return g->id;
}

/* The newest group with @id (NULL: the newest open group); lock held. */
static struct devres_group *find_group(struct zd_device *dev, void *id)
{
	struct zd_list_head *pos;

	zd_list_for_each_reverse(pos, &dev->devres_head) {
		struct devres_node *node = to_node(pos);
		struct devres_group *g;

		if (node->kind != NODE_OPEN)
			continue;
		g = node_to_group(node);
		if (id ? g->id == id : zd_list_empty(&g->node[1].entry))
			return g;
	}
	return NULL;
}

static void no_group(struct zd_device *dev, void *id, const char *fn)
{
	zd_log(ZD_LOG_WARN, "WARNING: %s: device %s has no devres group %p",
	       fn, zd_dev_name(dev), id);
}

void zd_devres_close_group(struct zd_device *dev, void *id)
{
	struct devres_group *g;
	bool closed = false;

	if (zd_dev_unusable(dev, __func__))
		return;
	pthread_mutex_lock(&dev->devres_lock);
	g = find_group(dev, id);
	if (g && zd_list_empty(&g->node[1].entry))
		zd_list_add_tail(&g->node[1].entry, &dev->devres_head);
	else
		closed = g;
	pthread_mutex_unlock(&dev->devres_lock);
	if (!g)
		no_group(dev, id, __func__);
	else if (closed)
		zd_warn("device %s: devres group %p is closed already",
			zd_dev_name(dev), id);
}

void zd_devres_remove_group(struct zd_device *dev, void *id)
{
	struct devres_group *g;

	if (zd_dev_unusable(dev, __func__))
		return;
	pthread_mutex_lock(&dev->devres_lock);
	g = find_group(dev, id);
	if (g) {
		zd_list_del_init(&g->node[0].entry);
		if (!zd_list_empty(&g->node[1].entry))
			zd_list_del_init(&g->node[1].entry);
	}
	pthread_mutex_unlock(&dev->devres_lock);
	if (!g)
		no_group(dev, id, __func__);
	free(g);
}

int zd_devres_release_group(struct zd_device *dev, void *id)
{
	struct zd_list_head todo, markers, *end;
	struct devres_group *g;
	int cnt = 0;

	if (zd_dev_unusable(dev, __func__))
		return -EINVAL;
	zd_list_init(&todo);
	zd_list_init(&markers);
	pthread_mutex_lock(&dev->devres_lock);
	g = find_group(dev, id);
	if (g) {
		end = zd_list_empty(&g->node[1].entry) ? &dev->devres_head :
			g->node[1].entry.next;
		cnt = take_span(&g->node[0].entry, end, &todo, &markers);
	}
	pthread_mutex_unlock(&dev->devres_lock);
	if (!g) {
		no_group(dev, id, __func__);
		return -ENOENT;
	}
	release_span(dev, &todo, &markers);
	return cnt;
}
