// SPDX-License-Identifier: MIT
/* dmirror: device memory: chunks of pages and their free list. */
#include <unistd.h>

#include "internal.h"

/* dm->lock held */
static void free_push(struct dmirror *dm, struct zd_page *page)
{
	page->zone_device_data = dm->free_pages;
	dm->free_pages = page;
}

/* dm->lock held */
static void folio_push(struct dmirror *dm, struct zd_page *head)
{
	head->zone_device_data = dm->free_folios;
	dm->free_folios = head;
}

/* Unbound, the free list is gone with the chunks: a page freed during
 * the unbind (by a fault that held it) is only counted.  A folio comes
 * back whole, on the folio list. */
static void page_free(struct zd_page *page)
{
	struct dmirror *dm = page_dm(page);
	unsigned long nr = zd_folio_nr_pages((struct zd_folio *)page);

	pthread_mutex_lock(&dm->lock);
	if (dm->bound && nr > 1)
		folio_push(dm, page);
	else if (dm->bound)
		free_push(dm, page);
	dm->in_use -= nr;
	pthread_cond_broadcast(&dm->idle);
	pthread_mutex_unlock(&dm->lock);
	atomic_fetch_add(&dm->page_frees, 1);
}

/* zonedev splits a folio of ours (partial unmap, a fault): its pages
 * are in use one by one now and come back so (page_free): in_use counts
 * pages, so only the count of splits changes here. */
static void folio_split(struct zd_folio *head, struct zd_folio *tail)
{
	(void)tail;
	atomic_fetch_add(&page_dm(&head->page)->folio_splits, 1);
}

static const struct zd_dev_pagemap_ops dmirror_ops = {
	.page_free = page_free,
	.migrate_to_ram = dm_migrate_to_ram,
	.folio_split = folio_split,
};

static void chunk_release(void *arg)
{
	struct dmirror_chunk *c = arg;

	if (c->fd >= 0) {	/* coherent: the pgmap's direct map is gone */
		close(c->fd);
	} else {
		zd_hmm_unregister_staging(c->mem, c->dm->chunk_bytes);
		munmap(c->mem, c->dm->chunk_bytes);
	}
	free(c);
}

/*
 * DEVICE_COHERENT memory: a memfd, which the pgmap maps as its direct map
 * and zonedev maps shared at the addresses of the pages migrated to it,
 * as a real device's BAR or CXL window would be mapped.
 */
static int coherent_mem(struct dmirror *dm, struct dmirror_chunk *c)
{
	c->fd = memfd_create("dmirror-coherent", MFD_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	if (ftruncate(c->fd, (off_t)dm->chunk_bytes)) {
		int err = -errno;

		close(c->fd);
		c->fd = -1;
		return err;
	}
	c->pgmap.type = ZD_MEMORY_DEVICE_COHERENT;
	c->pgmap.backing.kind = ZD_BACKING_FD;
	c->pgmap.backing.fd = c->fd;
	return 0;
}

/* A new chunk of free pages; dm->lock held. */
static int chunk_add(struct dmirror *dm)
{
	struct dmirror_chunk *c = calloc(1, sizeof(*c));
	struct zd_resource *res;
	int err = -ENOMEM;
	void *mem;

	if (!c)
		goto out;
	c->fd = -1;
	c->pgmap.type = ZD_MEMORY_DEVICE_PRIVATE;
	if (dm->coherent) {
		err = coherent_mem(dm, c);
		if (err)
			goto out;
		goto region;
	}
	/* device memory: committed as it is used */
	c->mem = mmap(NULL, dm->chunk_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		goto out;
	}
	/* host pages move in and out without a copy; not the child's after
	 * fork() (shared pages could not move) */
	madvise(c->mem, dm->chunk_bytes, MADV_DONTFORK);
	err = zd_hmm_register_staging(c->mem, dm->chunk_bytes);
	if (err)
		goto out;
region:
	res = zd_devm_request_free_mem_region(&dm->dev, zd_iomem_root(), dm->chunk_bytes);
	if (!res) {
		err = -errno;
		if (!dm->coherent)
			zd_hmm_unregister_staging(c->mem, dm->chunk_bytes);
		goto out;
	}
	c->dm = dm;
	c->pgmap.nr_range = 1;
	c->pgmap.range.start = res->start;
	c->pgmap.range.end = res->start + dm->chunk_bytes - 1;
	c->pgmap.ops = &dmirror_ops;
	c->pgmap.owner = dm;
	c->first_pfn = (unsigned long)(res->start / PAGE);
	c->npages = dm->chunk_bytes / PAGE;
	/* released after the pgmap (devres runs newest first) */
	err = zd_devm_add_action(&dm->dev, chunk_release, c);
	if (err) {
		if (!dm->coherent)
			zd_hmm_unregister_staging(c->mem, dm->chunk_bytes);
		goto out;
	}
	mem = zd_devm_memremap_pages(&dm->dev, &c->pgmap);
	if (!mem) {
		err = -errno;
		zd_devm_release_action(&dm->dev, chunk_release, c);
		return err;
	}
	if (dm->coherent)	/* the device and the CPU share these bytes */
		c->mem = mem;
	if (dm->folio_order) {
		unsigned long nr = 1ul << dm->folio_order;

		/* the lowest first out, as for pages */
		for (unsigned long i = c->npages; i >= nr; i -= nr)
			folio_push(dm, zd_pfn_to_page(c->first_pfn + i - nr));
	} else {
		for (unsigned long i = 0; i < c->npages; i++)
			free_push(dm, zd_pfn_to_page(c->first_pfn + i));
	}
	c->next = dm->chunks;
	dm->chunks = c;
	dm->nr_chunks++;
	return 0;
out:
	if (c && c->mem)
		munmap(c->mem, dm->chunk_bytes);
	if (c && c->fd >= 0)
		close(c->fd);
	free(c);
	return err;
}

struct zd_page *dm_page_alloc(struct dmirror *dm)
{
	struct zd_page *p;

	pthread_mutex_lock(&dm->lock);
	if (!dm->free_pages && !dm->free_folios && chunk_add(dm)) {
		pthread_mutex_unlock(&dm->lock);
		return NULL;
	}
	if (!dm->free_pages) {	/* break a folio up, its last page on top */
		struct zd_page *head = dm->free_folios;
		unsigned long nr = ZD_HMM_FOLIO_PAGES;	/* the only order */

		dm->free_folios = head->zone_device_data;
		for (unsigned long i = 0; i < nr; i++)
			free_push(dm, head + i);
	}
	p = dm->free_pages;
	dm->free_pages = p->zone_device_data;
	dm->in_use++;
	pthread_mutex_unlock(&dm->lock);
	p->zone_device_data = NULL;
	if (zd_zone_device_page_init(p)) {	/* cannot happen while bound */
		pthread_mutex_lock(&dm->lock);
		free_push(dm, p);
		dm->in_use--;
		pthread_mutex_unlock(&dm->lock);
		return NULL;
	}
	return p;
}

struct zd_page *dm_folio_alloc(struct dmirror *dm)
{
	struct zd_page *p;
	unsigned int order;

	pthread_mutex_lock(&dm->lock);
	order = dm->folio_order;
	if (!order || (!dm->free_folios && chunk_add(dm)) || !dm->free_folios) {
		pthread_mutex_unlock(&dm->lock);
		return NULL;
	}
	p = dm->free_folios;
	dm->free_folios = p->zone_device_data;
	dm->in_use += 1ul << order;
	pthread_mutex_unlock(&dm->lock);
	p->zone_device_data = NULL;
	if (zd_zone_device_folio_init((struct zd_folio *)p, p->pgmap, order)) {
		pthread_mutex_lock(&dm->lock);	/* cannot happen while bound */
		folio_push(dm, p);
		dm->in_use -= 1ul << order;
		pthread_mutex_unlock(&dm->lock);
		return NULL;
	}
	return p;
}
