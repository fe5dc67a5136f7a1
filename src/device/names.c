// SPDX-License-Identifier: MIT
/*
 * The names of added devices: an open-addressing hash table (linear
 * probing, deletion by shifting later entries back, so no tombstones),
 * kept at most half full, freed when empty.  Finding or adding a name is
 * O(1) expected; growing rehashes, O(1) amortised per add.  The caller
 * serialises.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/device.h>

#include "fault.h"
#include "internal.h"

/* FNV-1a: short names, no attacker to defend against */
static size_t name_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 32));
}

/* The slot holding @name (of hash @h), or the empty slot where it would
 * go.  The stored hash spares most probes a look at a cold device. */
static size_t slot_of(const struct zd_name_table *t, const char *name,
		      size_t h)
{
	size_t mask = t->size - 1, i = h & mask;

	while (t->slot[i].dev && (t->slot[i].hash != h ||
				  strcmp(zd_dev_name(t->slot[i].dev), name)))
		i = (i + 1) & mask;
	return i;
}

/* The empty slot where an entry of hash @h goes (names are unique). */
static size_t free_slot(const struct zd_name_table *t, size_t h)
{
	size_t mask = t->size - 1, i = h & mask;

	while (t->slot[i].dev)
		i = (i + 1) & mask;
	return i;
}

static int grow(struct zd_name_table *t)
{
	size_t size = t->size ? 2 * t->size : 64;
	struct zd_name_table bigger = { .size = size };

	bigger.slot = zd_fault("device.names") ? NULL :
		calloc(size, sizeof(*bigger.slot));
	if (!bigger.slot)
		return -ENOMEM;
	for (size_t i = 0; i < t->size; i++)
		if (t->slot[i].dev)
			bigger.slot[free_slot(&bigger, t->slot[i].hash)] = t->slot[i];
	bigger.count = t->count;
	free(t->slot);
	*t = bigger;
	return 0;
}

struct zd_device *zd_names_find(const struct zd_name_table *t,
				const char *name)
{
	return t->size ? t->slot[slot_of(t, name, name_hash(name))].dev : NULL;
}

int zd_names_add(struct zd_name_table *t, struct zd_device *dev)
{
	size_t h = name_hash(zd_dev_name(dev)), i;

	if (2 * (t->count + 1) > t->size && grow(t))
		return -ENOMEM;
	i = slot_of(t, zd_dev_name(dev), h);
	if (t->slot[i].dev)
		return -EEXIST;
	t->slot[i].dev = dev;
	t->slot[i].hash = h;
	t->count++;
	return 0;
}

/* Whether @j lies cyclically in (@i, @k]: an entry at @k whose home is
 * @j need not move back to @i. */
static bool between(size_t i, size_t j, size_t k)
{
	return i <= k ? i < j && j <= k : i < j || j <= k;
}

void zd_names_del(struct zd_name_table *t, struct zd_device *dev)
{
	size_t mask = t->size - 1, i, k;

	if (!t->size)
		return;
	i = slot_of(t, zd_dev_name(dev), name_hash(zd_dev_name(dev)));
	if (t->slot[i].dev != dev)
		return;
	t->slot[i].dev = NULL;
	if (!--t->count) {
		/* the last one gone: give the memory back */
		free(t->slot);
		*t = (struct zd_name_table){ 0 };
		return;
	}
	/* close the gap: later entries of the run that may live at @i */
	for (k = (i + 1) & mask; t->slot[k].dev; k = (k + 1) & mask) {
		if (between(i, t->slot[k].hash & mask, k))
			continue;
		t->slot[i] = t->slot[k];
		t->slot[k].dev = NULL;
		i = k;
	}
}
