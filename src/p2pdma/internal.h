/* SPDX-License-Identifier: MIT */
/* p2pdma internals shared by its files. */
#ifndef ZD_P2PDMA_INTERNAL_H
#define ZD_P2PDMA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <zonedev/genalloc.h>
#include <zonedev/p2pdma.h>

/* A provider's p2p state, set up by its first add_resource. */
struct zd_pci_p2pdma {
	struct zd_gen_pool *pool;
	atomic_bool published;
	atomic_bool stopped;		/* unbinding: no new allocations */
	pthread_mutex_t lock;		/* pgmaps */
	struct zd_list_head pgmaps;	/* p2p_pgmap.node, freed with us */
};

struct p2p_pgmap {
	struct zd_list_head node;
	struct zd_pci_dev *provider;
	uint64_t bus_offset;		/* bus address - CPU address */
	struct zd_dev_pagemap pgmap;	/* last: it may grow */
};

#define to_p2p_pgmap(pg)	container_of(pg, struct p2p_pgmap, pgmap)

/* The provider of a pgmap made by zd_pci_p2pdma_add_resource() and its
 * bus offset; NULL for any other pgmap. */
struct zd_pci_dev *zd__p2p_pgmap_provider(struct zd_dev_pagemap *pgmap,
					  uint64_t *bus_offset);

#endif /* ZD_P2PDMA_INTERNAL_H */
