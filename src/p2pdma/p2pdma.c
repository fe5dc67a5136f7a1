// SPDX-License-Identifier: MIT
/*
 * PCI peer-to-peer memory: a provider's BAR ranges as PCI_P2PDMA pgmaps,
 * handed out through a genalloc pool whose chunk owners are the pgmaps'
 * references.
 *
 * Teardown order (devres runs newest first):
 *   1. the newest resource's stop action: no new allocation can start or
 *      take a reference (a grace period flushes those in flight);
 *   2. each pgmap, newest first: kill, wait for its allocations to be
 *      freed, unmap;
 *   3. the setup action: the pool (now empty) and the pgmap structures.
 * The pgmaps outlive their references until 3, because a chunk stays in
 * the pool after its pgmap is gone and 1 is what keeps it from being used.
 */
#include <errno.h>
#include <stdlib.h>

#include "fault.h"
#include "internal.h"
#include "list.h"
#include "log.h"
#include "rcu.h"
#include "../device/internal.h"

static struct zd_pci_p2pdma *p2p_get(struct zd_pci_dev *pdev)
{
	return __atomic_load_n(&pdev->p2pdma, __ATOMIC_ACQUIRE);
}

static void p2p_set(struct zd_pci_dev *pdev, struct zd_pci_p2pdma *p2p)
{
	__atomic_store_n(&pdev->p2pdma, p2p, __ATOMIC_RELEASE);
}

static void p2p_free(struct zd_pci_p2pdma *p2p)
{
	struct zd_list_head *pos, *next;

	for (pos = p2p->pgmaps.next; pos != &p2p->pgmaps; pos = next) {
		next = pos->next;
		free(container_of(pos, struct p2p_pgmap, node));
	}
	pthread_mutex_destroy(&p2p->lock);
	free(p2p);
}

static void p2pdma_release(void *data)
{
	struct zd_pci_dev *pdev = data;
	struct zd_pci_p2pdma *p2p = p2p_get(pdev);

	if (!p2p)
		return;		/* setup failed */
	p2p_set(pdev, NULL);
	zd_synchronize_rcu();	/* readers of the pointer are gone */
	if (zd_gen_pool_destroy(p2p->pool)) {
		zd_warn("%s: p2p memory still allocated; leaking the pool",
			zd_pci_name(pdev));
		return;
	}
	p2p_free(p2p);
}

static int p2pdma_setup(struct zd_pci_dev *pdev)
{
	struct zd_pci_p2pdma *p2p = zd_zalloc("p2pdma.setup", sizeof(*p2p));
	int err;

	if (!p2p)
		return -ENOMEM;
	zd_list_init(&p2p->pgmaps);
	pthread_mutex_init(&p2p->lock, NULL);
	p2p->pool = zd_gen_pool_create((int)zd_page_shift, zd_dev_to_node(&pdev->dev));
	if (!p2p->pool) {
		err = -errno;
		goto out;
	}
	err = zd_devm_add_action_or_reset(&pdev->dev, p2pdma_release, pdev);
	if (err)
		goto out_pool;
	p2p_set(pdev, p2p);
	return 0;
out_pool:
	zd_gen_pool_destroy(p2p->pool);
out:
	p2p_free(p2p);
	return err;
}

/* Step 1 of the teardown; every resource registers it, the first run
 * (the newest resource's) does the work. */
static void p2pdma_stop(void *data)
{
	struct p2p_pgmap *p = data;
	struct zd_pci_p2pdma *p2p = p2p_get(p->provider);

	if (atomic_exchange(&p2p->stopped, true))
		return;
	atomic_store(&p2p->published, false);
	zd_synchronize_rcu();
}

static int check_bar(struct zd_pci_dev *pdev, int bar, size_t *size,
		     uint64_t offset)
{
	uint64_t len = zd_pci_resource_len(pdev, bar);

	if (!(zd_pci_resource_flags(pdev, bar) & ZD_IORESOURCE_MEM)) {
		zd_warn("%s: BAR %d is not a memory BAR", zd_pci_name(pdev), bar);
		return -EINVAL;
	}
	if (offset >= len) {
		zd_warn("%s: offset %#llx is past BAR %d's end (%#llx)",
			zd_pci_name(pdev), (unsigned long long)offset, bar,
			(unsigned long long)len);
		return -EINVAL;
	}
	if (!*size)
		*size = len - offset;
	if (*size > len - offset) {
		zd_warn("%s: size %#zx at offset %#llx runs past BAR %d's end",
			zd_pci_name(pdev), *size, (unsigned long long)offset, bar);
		return -EINVAL;
	}
	return 0;
}

/* Marks the pgmaps this file made (other code may make P2PDMA pgmaps). */
static const struct zd_dev_pagemap_ops p2p_pgmap_ops;

static struct p2p_pgmap *p2p_pgmap_alloc(struct zd_pci_dev *pdev, int bar,
					 size_t size, uint64_t offset)
{
	struct p2p_pgmap *p = zd_zalloc("p2pdma.pgmap", sizeof(*p));

	if (!p)
		return NULL;
	p->provider = pdev;
	p->bus_offset = zd_pci_bus_address(pdev, bar) - zd_pci_resource_start(pdev, bar);
	p->pgmap.type = ZD_MEMORY_DEVICE_PCI_P2PDMA;
	p->pgmap.ops = &p2p_pgmap_ops;
	p->pgmap.nr_range = 1;
	p->pgmap.range.start = zd_pci_resource_start(pdev, bar) + offset;
	p->pgmap.range.end = p->pgmap.range.start + size - 1;
	p->pgmap.backing = (struct zd_pagemap_backing){
		.kind = ZD_BACKING_FD, .fd = pdev->bar_fd[bar], .offset = offset };
	return p;
}

int zd_pci_p2pdma_add_resource(struct zd_pci_dev *pdev, int bar, size_t size,
			       uint64_t offset)
{
	struct zd_pci_p2pdma *p2p;
	struct p2p_pgmap *p;
	void *addr;
	int err;

	if (ZD_WARN_ON(!pdev, "NULL pdev"))
		return -EINVAL;
	/* the memory is devres of the driver: without one nothing frees it */
	if (!zd_device_is_bound(&pdev->dev)) {
		zd_warn("%s: no driver bound", zd_pci_name(pdev));
		return -ENODEV;
	}
	err = check_bar(pdev, bar, &size, offset);
	if (err || (!p2p_get(pdev) && (err = p2pdma_setup(pdev))))
		return err;
	p2p = p2p_get(pdev);
	p = p2p_pgmap_alloc(pdev, bar, size, offset);
	if (!p)
		return -ENOMEM;
	addr = zd_devm_memremap_pages(&pdev->dev, &p->pgmap);
	if (!addr) {
		err = -errno;
		goto out_free;
	}
	err = zd_devm_add_action(&pdev->dev, p2pdma_stop, p);
	if (err)
		goto out_unmap;
	err = zd_gen_pool_add_owner(p2p->pool, (unsigned long)addr,
				    zd_pci_bus_address(pdev, bar) + offset, size,
				    zd_dev_to_node(&pdev->dev), &p->pgmap.ref);
	if (err) {
		zd_devm_remove_action(&pdev->dev, p2pdma_stop, p);
		goto out_unmap;
	}
	pthread_mutex_lock(&p2p->lock);
	zd_list_add_tail(&p->node, &p2p->pgmaps);
	pthread_mutex_unlock(&p2p->lock);
	zd_info("%s: added peer-to-peer DMA memory %#llx-%#llx", zd_pci_name(pdev),
		(unsigned long long)p->pgmap.range.start,
		(unsigned long long)p->pgmap.range.end);
	return 0;
out_unmap:
	/* the pages go again; nothing of this call may remain (seed 004) */
	zd_devm_memunmap_pages(&pdev->dev, &p->pgmap);
out_free:
	free(p);
	return err;
}

void *zd_pci_alloc_p2pmem(struct zd_pci_dev *pdev, size_t size)
{
	struct zd_percpu_ref *ref;
	struct zd_pci_p2pdma *p2p;
	void *ret = NULL;
	int err = ENODEV;

	if (!pdev || !size) {
		zd_warn("bad argument: pdev %p size %zu", (void *)pdev, size);
		errno = EINVAL;
		return NULL;
	}
	zd_rcu_read_lock();
	p2p = p2p_get(pdev);
	if (!p2p || atomic_load_explicit(&p2p->stopped, memory_order_relaxed))
		goto out;
	ret = (void *)zd_gen_pool_alloc_owner(p2p->pool, size, (void **)&ref);
	if (!ret) {
		err = ENOMEM;
		goto out;
	}
	/* the chunk's pgmap may be dying (unmapped by hand); give it back */
	if (!zd_percpu_ref_tryget_live(ref)) {
		zd_gen_pool_free(p2p->pool, (unsigned long)ret, size);
		ret = NULL;
	}
out:
	zd_rcu_read_unlock();
	if (!ret)
		errno = err;
	return ret;
}

void zd_pci_free_p2pmem(struct zd_pci_dev *pdev, void *addr, size_t size)
{
	struct zd_pci_p2pdma *p2p = pdev ? p2p_get(pdev) : NULL;
	void *ref = NULL;

	if (!p2p) {
		zd_warn("%s has no p2p memory to free %p into",
			pdev ? zd_pci_name(pdev) : "NULL pdev", addr);
		return;
	}
	if (!zd_gen_pool_free_owner(p2p->pool, (unsigned long)addr, size, &ref))
		zd_percpu_ref_put(ref);
}

zd_pci_bus_addr_t zd_pci_p2pmem_virt_to_bus(struct zd_pci_dev *pdev, void *addr)
{
	struct zd_pci_p2pdma *p2p;
	zd_phys_addr_t bus;

	if (ZD_WARN_ON(!pdev, "NULL pdev"))
		return 0;
	p2p = p2p_get(pdev);
	if (!addr || !p2p)
		return 0;
	/* the pool's "physical" addresses are bus addresses, as added */
	bus = zd_gen_pool_virt_to_phys(p2p->pool, (unsigned long)addr);
	return bus == (zd_phys_addr_t)-1 ? 0 : bus;
}

void *zd_sg_virt(const struct zd_scatterlist *sg)
{
	if (!sg || !sg->page) {
		zd_warn("%s", !sg ? "NULL segment" : "segment without a page");
		return NULL;
	}
	return (char *)zd_page_address(sg->page) + sg->offset;
}

struct zd_scatterlist *zd_pci_p2pmem_alloc_sgl(struct zd_pci_dev *pdev,
					       unsigned int *nents,
					       uint32_t length)
{
	struct zd_scatterlist *sg;
	void *addr;

	if (!nents) {
		zd_warn("NULL nents");
		errno = EINVAL;
		return NULL;
	}
	sg = zd_zalloc("p2pdma.sgl", sizeof(*sg));
	if (!sg)
		return NULL;
	addr = zd_pci_alloc_p2pmem(pdev, length);
	if (!addr) {
		free(sg);
		return NULL;
	}
	sg->page = zd_pfn_to_page(zd_virt_to_phys(addr) >> zd_page_shift);
	sg->length = length;
	sg->end = true;
	*nents = 1;
	return sg;
}

void zd_pci_p2pmem_free_sgl(struct zd_pci_dev *pdev, struct zd_scatterlist *sgl)
{
	for (struct zd_scatterlist *sg = sgl; sg && sg->page; sg++) {
		zd_pci_free_p2pmem(pdev, zd_sg_virt(sg), sg->length);
		if (sg->end)
			break;
	}
	free(sgl);
}

void zd_pci_p2pmem_publish(struct zd_pci_dev *pdev, bool publish)
{
	struct zd_pci_p2pdma *p2p;

	if (ZD_WARN_ON(!pdev, "NULL pdev"))
		return;
	zd_rcu_read_lock();
	p2p = p2p_get(pdev);
	/* stopped: its driver is unbinding, an ordinary race */
	if (p2p && !atomic_load(&p2p->stopped))
		atomic_store(&p2p->published, publish);
	zd_rcu_read_unlock();
	/* unpublishing what is gone already is fine (remove() after devres) */
	if (!p2p && publish)
		zd_warn("%s has no p2p memory to publish", zd_pci_name(pdev));
}

bool zd_pci_has_p2pmem(struct zd_pci_dev *pdev)
{
	struct zd_pci_p2pdma *p2p;
	bool ret;

	if (ZD_WARN_ON(!pdev, "NULL pdev"))
		return false;
	zd_rcu_read_lock();
	p2p = p2p_get(pdev);
	ret = p2p && atomic_load(&p2p->published);
	zd_rcu_read_unlock();
	return ret;
}

int zd_pci_p2pmem_attrs(struct zd_pci_dev *pdev, struct zd_p2pmem_attrs *attrs)
{
	struct zd_pci_p2pdma *p2p;

	if (!pdev || !attrs) {
		zd_warn("bad argument: pdev %p attrs %p", (void *)pdev, (void *)attrs);
		return -EINVAL;
	}
	*attrs = (struct zd_p2pmem_attrs){ 0 };
	zd_rcu_read_lock();
	p2p = p2p_get(pdev);
	if (p2p) {
		attrs->size = zd_gen_pool_size(p2p->pool);
		attrs->available = zd_gen_pool_avail(p2p->pool);
		attrs->published = atomic_load(&p2p->published);
	}
	zd_rcu_read_unlock();
	return p2p ? 0 : -ENODEV;
}

/* The provider of a P2PDMA pgmap, NULL (no warning) for other types. */
struct zd_pci_dev *zd__p2p_pgmap_provider(struct zd_dev_pagemap *pgmap,
					  uint64_t *bus_offset)
{
	if (!pgmap || pgmap->ops != &p2p_pgmap_ops)
		return NULL;
	if (bus_offset)
		*bus_offset = to_p2p_pgmap(pgmap)->bus_offset;
	return to_p2p_pgmap(pgmap)->provider;
}
