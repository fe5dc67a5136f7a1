/* SPDX-License-Identifier: MIT */
/*
 * The kernel's own names for zonedev's API, for code ported from the
 * kernel.  Include it instead of (or before) the other zonedev headers,
 * in such code only: it names things the way the kernel does (struct
 * page, kzalloc, min, u64 ...), which may clash with other code.
 *
 * How the names map, so that no member of a ported struct is renamed:
 * - zonedev's struct tags are spelled the kernel's way in this file
 *   (zd_page is a macro for page, before the headers are read), so
 *   "struct page" is zonedev's page and vmf->page, pdev->device,
 *   pdev->resource[bar] or sg->page are untouched;
 * - functions are function-like macros (or static inline functions), so
 *   only a call is renamed.  To take the address of one, use its zd_
 *   name; the genalloc algorithms (passed as values) are plain names;
 * - typedefs for the kernel's typedefs.
 * Arguments the kernel has and userspace does not (gfp) are accepted and
 * ignored.
 *
 * Returns follow the kernel: memremap_pages(), devm_memremap_pages(),
 * request_free_mem_region() and devm_request_free_mem_region() return
 * ERR_PTR(-errno) on failure, where their zd_ names return NULL with
 * errno set.
 *
 * Host ("system") pages have no struct page in zonedev.  alloc_page()
 * returns a tagged pointer that page_address(), copy_highpage(),
 * __free_page(), page_to_pfn() + migrate_pfn(), migrate_pfn_to_page(),
 * get_page()/put_page()/unlock_page() and the is_*_page() tests
 * understand; nothing may read its fields.  Given to a migration as a
 * destination, migrate_vma_finalize() (or migrate_device_finalize())
 * frees it, as the kernel's would free or keep it; zonedev has copied
 * its bytes into place by then.  make_device_exclusive_range() returns
 * tagged host pages too: unlock_page() on one of them gives it back to
 * zonedev (zd_put_device_exclusive_page()), put_page() does nothing.  migrate_vma_setup() fills in npages
 * from start and end when it is 0, as the kernel's does.
 *
 * RCU names (rcu_read_lock, rcu_dereference, synchronize_rcu, ...) are
 * liburcu-bp's, the flavour zonedev itself uses: a program using them
 * links liburcu-bp (pkg-config --libs liburcu-bp).
 */
#ifndef ZONEDEV_KERNEL_H
#define ZONEDEV_KERNEL_H

#if defined(ZONEDEV_ZONEDEV_H) || defined(ZONEDEV_MM_H) ||		\
	defined(ZONEDEV_DEVICE_H) || defined(ZONEDEV_RESOURCE_H) ||	\
	defined(ZONEDEV_PERCPU_REF_H) || defined(ZONEDEV_COMPLETION_H) ||\
	defined(ZONEDEV_MEMREMAP_H) || defined(ZONEDEV_GENALLOC_H) ||	\
	defined(ZONEDEV_PCI_H) || defined(ZONEDEV_P2PDMA_H) ||		\
	defined(ZONEDEV_HMM_H) || defined(ZONEDEV_DEVRES_H) ||		\
	defined(ZONEDEV_MMU_NOTIFIER_H)
#error "<zonedev/kernel.h> must come before the other zonedev headers"
#endif

/* zonedev's struct tags, spelled the kernel's way (see above) */
#define zd_page			page
#define zd_folio		folio
#define zd_device		device
#define zd_driver		device_driver
#define zd_resource		resource
#define zd_percpu_ref		percpu_ref
#define zd_completion		completion
#define zd_dev_pagemap		dev_pagemap
#define zd_dev_pagemap_ops	dev_pagemap_ops
#define zd_vmem_altmap		vmem_altmap
#define zd_memory_type		memory_type
#define zd_range		range
#define zd_gen_pool		gen_pool
#define zd_pci_dev		pci_dev
#define zd_pci_bus		pci_bus
#define zd_pci_host_bridge	pci_host_bridge
#define zd_scatterlist		scatterlist
#define zd_vm_fault		vm_fault
#define zd_migrate_vma		migrate_vma
#define zd_mm			mm_struct
#define zd_hmm_range		hmm_range
#define zd_mmu_notifier_event	mmu_notifier_event
#define zd_mmu_notifier_range	mmu_notifier_range
#define zd_mmu_interval_notifier	mmu_interval_notifier
#define zd_mmu_interval_notifier_ops	mmu_interval_notifier_ops

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/zonedev.h>
#if defined(__has_include)
#if __has_include(<urcu-bp.h>)
#include <urcu-bp.h>
#endif
#endif

ZD_EXTERN_C_BEGIN

/* allocation flags: userspace allocations have no context to describe */
#ifndef GFP_KERNEL
#define GFP_KERNEL		0u
#define GFP_NOWAIT		0u
#define GFP_ATOMIC		0u
#define GFP_HIGHUSER		0u
#define GFP_HIGHUSER_MOVABLE	0u
#endif
#ifndef __GFP_ZERO
#define __GFP_ZERO		1u
#endif
typedef unsigned int gfp_t;

/* basic types */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;		/* printed with %llx, as in the kernel */
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef long long s64;
typedef zd_phys_addr_t phys_addr_t;
/* migrate_to_ram()'s return: 0, or any of these and the thread gets SIGBUS */
typedef int vm_fault_t;
#define VM_FAULT_OOM		0x0001
#define VM_FAULT_SIGBUS		0x0002
#define VM_FAULT_SIGSEGV	0x0040

/* error pointers: the top MAX_ERRNO addresses are negative errnos */
#define MAX_ERRNO	4095
#define IS_ERR_VALUE(x)	((uintptr_t)(x) >= (uintptr_t)-MAX_ERRNO)

static inline void *ERR_PTR(long error)
{
	return (void *)(intptr_t)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)(intptr_t)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return IS_ERR_VALUE(ptr);
}

static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR_VALUE(ptr);
}

static inline void *ERR_CAST(const void *ptr)
{
	return (void *)(uintptr_t)ptr;
}

static inline int PTR_ERR_OR_ZERO(const void *ptr)
{
	return IS_ERR(ptr) ? (int)PTR_ERR(ptr) : 0;
}

/* NULL with errno (the zd_ convention) as an error pointer */
static inline void *zd_kernel_err_ptr(void *ptr)
{
	return ptr ? ptr : ERR_PTR(errno ? -errno : -ENOMEM);
}

/* helpers */
/* the same tokens as zonedev's internal one, so both may be seen */
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
/* min, max, clamp: each argument evaluated once; nesting is fine */
#define zd__cat(a, b)		a##b
#define zd__var(name, n)	zd__cat(name, n)
#define zd__minmax(x, y, op, n) ({					\
	__typeof__(x) zd__var(_zx, n) = (x);				\
	__typeof__(y) zd__var(_zy, n) = (y);				\
	zd__var(_zx, n) op zd__var(_zy, n) ? zd__var(_zx, n) : zd__var(_zy, n); })
#define min(x, y)		zd__minmax(x, y, <, __COUNTER__)
#define max(x, y)		zd__minmax(x, y, >, __COUNTER__)
#define min_t(t, x, y)		min((t)(x), (t)(y))
#define max_t(t, x, y)		max((t)(x), (t)(y))
#define clamp(v, lo, hi)	min(max(v, lo), hi)
#define ALIGN(x, a)		(((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define BIT(n)			(1ul << (n))
#define BIT_ULL(n)		(1ull << (n))
#define SZ_4K			0x00001000
#define SZ_2M			0x00200000
#define SZ_1G			0x40000000
/* size of *p plus n of its flexible array member, saturating at SIZE_MAX */
#define struct_size(p, member, n)					\
	zd_kernel_struct_size(sizeof(*(p)), sizeof((p)->member[0]), (n))

static inline size_t zd_kernel_struct_size(size_t base, size_t elem, size_t n)
{
	if (elem && n > (SIZE_MAX - base) / elem)
		return SIZE_MAX;
	return base + elem * n;
}

/* ceil(log2(n)); 0 for 0 and 1 */
static inline int order_base_2(unsigned long n)
{
	return n > 1 ? (int)(8 * sizeof(long)) - __builtin_clzl(n - 1) : 0;
}

static inline u64 range_len(const struct range *range)
{
	return range->end - range->start + 1;
}

/* the CPU side of zonedev's physical space is node 0 */
static inline int numa_node_id(void)
{
	return 0;
}

/* messages: stderr, with the device's name; pr_fmt as in the kernel */
#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif
#define KERN_ERR		""
#define KERN_WARNING		""
#define KERN_INFO		""
#define printk(...)		fprintf(stderr, __VA_ARGS__)
#define pr_emerg(fmt, ...)	fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...)	fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...)	fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_notice(fmt, ...)	fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...)	fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...)						\
	do { if (0) fprintf(stderr, pr_fmt(fmt), ##__VA_ARGS__); } while (0)
#define zd__dev_printk(dev, fmt, ...)					\
	fprintf(stderr, "%s: " fmt, zd_dev_name(dev), ##__VA_ARGS__)
#define dev_err(dev, fmt, ...)	zd__dev_printk(dev, fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...)	zd__dev_printk(dev, fmt, ##__VA_ARGS__)
#define dev_notice(dev, fmt, ...) zd__dev_printk(dev, fmt, ##__VA_ARGS__)
#define dev_info(dev, fmt, ...)	zd__dev_printk(dev, fmt, ##__VA_ARGS__)
#define dev_dbg(dev, fmt, ...)						\
	do { if (0) zd__dev_printk(dev, fmt, ##__VA_ARGS__); } while (0)

/* WARN_ON(cond): a WARNING line when @cond holds; evaluates to @cond */
#define WARN_ON(cond) ({						\
	int __zd_warn = !!(cond);					\
	if (__zd_warn)							\
		fprintf(stderr, "WARNING: %s:%d: %s\n", __FILE__,	\
			__LINE__, #cond);				\
	__zd_warn;							\
})
#define WARN_ON_ONCE(cond) ({						\
	static int __zd_warned;						\
	int __zd_warn = !!(cond);					\
	if (__zd_warn && !__atomic_exchange_n(&__zd_warned, 1,		\
					      __ATOMIC_RELAXED))	\
		fprintf(stderr, "WARNING: %s:%d: %s\n", __FILE__,	\
			__LINE__, #cond);				\
	__zd_warn;							\
})
#define WARN(cond, fmt, ...) ({						\
	int __zd_warn = !!(cond);					\
	if (__zd_warn)							\
		fprintf(stderr, "WARNING: " fmt "\n", ##__VA_ARGS__);	\
	__zd_warn;							\
})
#define BUILD_BUG_ON(cond)	_Static_assert(!(cond), #cond)
#define might_sleep()		do { } while (0)
#define lockdep_assert_held(l)	((void)(l))

/* memory */
static inline void *kmalloc(size_t size, gfp_t gfp)
{
	return gfp & __GFP_ZERO ? calloc(1, size) : malloc(size);
}

static inline void *kzalloc(size_t size, gfp_t gfp)
{
	(void)gfp;
	return calloc(1, size);
}

static inline void *kmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kmalloc(n * size, gfp);
}

static inline void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	(void)gfp;
	return calloc(n, size);
}

static inline void kfree(const void *p)
{
	free((void *)(uintptr_t)p);
}

#define kvmalloc(size, gfp)	kmalloc(size, gfp)
#define kvzalloc(size, gfp)	kzalloc(size, gfp)
#define kvcalloc(n, size, gfp)	kcalloc(n, size, gfp)
#define kvfree(p)		kfree(p)

/* locks: sleeping ones; the spinlock is a mutex too (no interrupts here) */
struct mutex {
	pthread_mutex_t lock;
};
#define DEFINE_MUTEX(name)	struct mutex name = { PTHREAD_MUTEX_INITIALIZER }

static inline void mutex_init(struct mutex *m)
{
	pthread_mutex_init(&m->lock, NULL);
}

static inline void mutex_destroy(struct mutex *m)
{
	pthread_mutex_destroy(&m->lock);
}

static inline void mutex_lock(struct mutex *m)
{
	pthread_mutex_lock(&m->lock);
}

/* 1 when taken, as the kernel's */
static inline int mutex_trylock(struct mutex *m)
{
	return pthread_mutex_trylock(&m->lock) == 0;
}

static inline void mutex_unlock(struct mutex *m)
{
	pthread_mutex_unlock(&m->lock);
}

typedef struct {
	pthread_mutex_t lock;
} spinlock_t;
#define DEFINE_SPINLOCK(name)	spinlock_t name = { PTHREAD_MUTEX_INITIALIZER }

static inline void spin_lock_init(spinlock_t *l)
{
	pthread_mutex_init(&l->lock, NULL);
}

static inline void spin_lock(spinlock_t *l)
{
	pthread_mutex_lock(&l->lock);
}

static inline void spin_unlock(spinlock_t *l)
{
	pthread_mutex_unlock(&l->lock);
}

#define spin_lock_irq(l)		spin_lock(l)
#define spin_unlock_irq(l)		spin_unlock(l)
#define spin_lock_bh(l)			spin_lock(l)
#define spin_unlock_bh(l)		spin_unlock(l)
#define spin_lock_irqsave(l, flags)	((void)((flags) = 0), spin_lock(l))
#define spin_unlock_irqrestore(l, flags) ((void)(flags), spin_unlock(l))

/* percpu_ref */
typedef zd_percpu_ref_func_t percpu_ref_func_t;
#define PERCPU_REF_INIT_ATOMIC		ZD_PERCPU_REF_INIT_ATOMIC
#define PERCPU_REF_INIT_DEAD		ZD_PERCPU_REF_INIT_DEAD
#define PERCPU_REF_ALLOW_REINIT		ZD_PERCPU_REF_ALLOW_REINIT
#define percpu_ref_init(ref, release, flags, gfp) \
	zd_percpu_ref_init(ref, release, flags)
#define percpu_ref_exit(...)		zd_percpu_ref_exit(__VA_ARGS__)
#define percpu_ref_get(...)		zd_percpu_ref_get(__VA_ARGS__)
#define percpu_ref_get_many(...)	zd_percpu_ref_get_many(__VA_ARGS__)
#define percpu_ref_tryget(...)		zd_percpu_ref_tryget(__VA_ARGS__)
#define percpu_ref_tryget_many(...)	zd_percpu_ref_tryget_many(__VA_ARGS__)
#define percpu_ref_tryget_live(...)	zd_percpu_ref_tryget_live(__VA_ARGS__)
#define percpu_ref_put(...)		zd_percpu_ref_put(__VA_ARGS__)
#define percpu_ref_put_many(...)	zd_percpu_ref_put_many(__VA_ARGS__)
#define percpu_ref_kill(...)		zd_percpu_ref_kill(__VA_ARGS__)
#define percpu_ref_kill_and_confirm(...) zd_percpu_ref_kill_and_confirm(__VA_ARGS__)
#define percpu_ref_switch_to_atomic(...) zd_percpu_ref_switch_to_atomic(__VA_ARGS__)
#define percpu_ref_switch_to_atomic_sync(...) zd_percpu_ref_switch_to_atomic_sync(__VA_ARGS__)
#define percpu_ref_switch_to_percpu(...) zd_percpu_ref_switch_to_percpu(__VA_ARGS__)
#define percpu_ref_resurrect(...)	zd_percpu_ref_resurrect(__VA_ARGS__)
#define percpu_ref_reinit(...)		zd_percpu_ref_reinit(__VA_ARGS__)
#define percpu_ref_is_zero(...)		zd_percpu_ref_is_zero(__VA_ARGS__)
#define percpu_ref_is_dying(...)	zd_percpu_ref_is_dying(__VA_ARGS__)

/* completion; the kernel's timeout is in jiffies, zonedev's in ms */
#define COMPLETION_INITIALIZER		ZD_COMPLETION_INITIALIZER
#define DECLARE_COMPLETION		ZD_DECLARE_COMPLETION
#define init_completion(...)		zd_init_completion(__VA_ARGS__)
#define reinit_completion(...)		zd_reinit_completion(__VA_ARGS__)
#define complete(...)			zd_complete(__VA_ARGS__)
#define complete_all(...)		zd_complete_all(__VA_ARGS__)
#define wait_for_completion(...)	zd_wait_for_completion(__VA_ARGS__)
#define wait_for_completion_timeout(...) zd_wait_for_completion_timeout(__VA_ARGS__)
#define try_wait_for_completion(...)	zd_try_wait_for_completion(__VA_ARGS__)
#define completion_done(...)		zd_completion_done(__VA_ARGS__)
#define msecs_to_jiffies(ms)		((unsigned long)(ms))

/* devices and drivers */
#define NUMA_NO_NODE			ZD_NUMA_NO_NODE
#define device_initialize(...)		zd_device_initialize(__VA_ARGS__)
#define dev_set_name(...)		zd_dev_set_name(__VA_ARGS__)
#define device_add(...)			zd_device_add(__VA_ARGS__)
#define device_register(...)		zd_device_register(__VA_ARGS__)
#define device_del(...)			zd_device_del(__VA_ARGS__)
#define device_unregister(...)		zd_device_unregister(__VA_ARGS__)
#define get_device(...)			zd_get_device(__VA_ARGS__)
#define put_device(...)			zd_put_device(__VA_ARGS__)
#define dev_name(...)			zd_dev_name(__VA_ARGS__)
#define dev_get_drvdata(...)		zd_dev_get_drvdata(__VA_ARGS__)
#define dev_set_drvdata(...)		zd_dev_set_drvdata(__VA_ARGS__)
#define dev_to_node(...)		zd_dev_to_node(__VA_ARGS__)
#define set_dev_node(...)		zd_set_dev_node(__VA_ARGS__)
#define device_bind_driver_to(dev, drv)	zd_device_bind(dev, drv)
#define device_release_driver(dev)	((void)zd_device_unbind(dev))
#define lock_device_hotplug(...)	zd_lock_device_hotplug(__VA_ARGS__)
#define unlock_device_hotplug(...)	zd_unlock_device_hotplug(__VA_ARGS__)

/* devres */
typedef zd_dr_release_t dr_release_t;
typedef zd_dr_match_t dr_match_t;
#define devres_alloc(release, size, gfp) zd_devres_alloc(release, size)
#define devres_free(...)		zd_devres_free(__VA_ARGS__)
#define devres_add(...)			zd_devres_add(__VA_ARGS__)
#define devres_find(...)		zd_devres_find(__VA_ARGS__)
#define devres_get(...)			zd_devres_get(__VA_ARGS__)
#define devres_remove(...)		zd_devres_remove(__VA_ARGS__)
#define devres_destroy(...)		zd_devres_destroy(__VA_ARGS__)
#define devres_release(...)		zd_devres_release(__VA_ARGS__)
#define devres_open_group(dev, id, gfp)	zd_devres_open_group(dev, id)
#define devres_close_group(...)		zd_devres_close_group(__VA_ARGS__)
#define devres_remove_group(...)	zd_devres_remove_group(__VA_ARGS__)
#define devres_release_group(...)	zd_devres_release_group(__VA_ARGS__)
#define devm_add_action(...)		zd_devm_add_action(__VA_ARGS__)
#define devm_add_action_or_reset(...)	zd_devm_add_action_or_reset(__VA_ARGS__)
#define devm_remove_action(dev, action, data) \
	((void)zd_devm_remove_action(dev, action, data))
#define devm_release_action(dev, action, data) \
	((void)zd_devm_release_action(dev, action, data))
#define devm_kmalloc(dev, size, gfp)	zd_devm_kmalloc(dev, size)
#define devm_kzalloc(dev, size, gfp)	zd_devm_kzalloc(dev, size)
#define devm_kfree(...)			zd_devm_kfree(__VA_ARGS__)
#define devm_request_mem_region(...)	zd_devm_request_mem_region(__VA_ARGS__)
#define devm_release_mem_region(dev, start, n) \
	((void)zd_devm_release_mem_region(dev, start, n))

/* resources; the kernel's iomem_resource is a variable, zonedev's a call */
typedef zd_resource_size_t resource_size_t;
#define iomem_resource			(*zd_iomem_root())
#define IORESOURCE_MEM			ZD_IORESOURCE_MEM
#define IORESOURCE_SYSRAM		ZD_IORESOURCE_SYSRAM
#define IORESOURCE_BUSY			ZD_IORESOURCE_BUSY
#define IORESOURCE_SYSTEM_RAM		ZD_IORESOURCE_SYSTEM_RAM
#define IORES_DESC_NONE			ZD_IORES_DESC_NONE
#define IORES_DESC_PERSISTENT_MEMORY	ZD_IORES_DESC_PERSISTENT_MEMORY
#define IORES_DESC_DEVICE_PRIVATE_MEMORY ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY
#define IORES_DESC_RESERVED		ZD_IORES_DESC_RESERVED
#define REGION_INTERSECTS		ZD_REGION_INTERSECTS
#define REGION_DISJOINT			ZD_REGION_DISJOINT
#define REGION_MIXED			ZD_REGION_MIXED
#define resource_size(...)		zd_resource_size(__VA_ARGS__)
#define request_resource(...)		zd_request_resource(__VA_ARGS__)
#define release_resource(...)		zd_release_resource(__VA_ARGS__)
#define insert_resource(...)		zd_insert_resource(__VA_ARGS__)
#define remove_resource(...)		zd_remove_resource(__VA_ARGS__)
#define request_mem_region(...)		zd_request_mem_region(__VA_ARGS__)
#define release_mem_region(start, n)	((void)zd_release_mem_region(start, n))
#define region_intersects(...)		zd_region_intersects(__VA_ARGS__)
#define walk_iomem_res_desc(...)	zd_walk_iomem_res_desc(__VA_ARGS__)

/* memory hotplug */
#define mem_hotplug_begin(...)		zd_mem_hotplug_begin(__VA_ARGS__)
#define mem_hotplug_done(...)		zd_mem_hotplug_done(__VA_ARGS__)
#define get_online_mems(...)		zd_get_online_mems(__VA_ARGS__)
#define put_online_mems(...)		zd_put_online_mems(__VA_ARGS__)

/* pages and memremap */
#define MEMORY_DEVICE_PRIVATE		ZD_MEMORY_DEVICE_PRIVATE
#define MEMORY_DEVICE_COHERENT		ZD_MEMORY_DEVICE_COHERENT
#define MEMORY_DEVICE_FS_DAX		ZD_MEMORY_DEVICE_FS_DAX
#define MEMORY_DEVICE_GENERIC		ZD_MEMORY_DEVICE_GENERIC
#define MEMORY_DEVICE_PCI_P2PDMA	ZD_MEMORY_DEVICE_PCI_P2PDMA
#define PGMAP_ALTMAP_VALID		ZD_PGMAP_ALTMAP_VALID
#define PAGE_SHIFT			zd_page_shift
#define PAGE_SIZE			zd_page_size()
#define PHYS_PFN(x)			((unsigned long)((x) >> zd_page_shift))
#define PFN_PHYS(x)			((zd_phys_addr_t)(x) << zd_page_shift)
#define pfn_to_page(...)		zd_pfn_to_page(__VA_ARGS__)
#define __va(phys)			zd_phys_to_virt(phys)
#define __pa(addr)			zd_virt_to_phys(addr)
#define pfn_valid(...)			zd_pfn_valid(__VA_ARGS__)
#define page_ref_count(...)		zd_page_ref_count(__VA_ARGS__)
#define page_count(...)			zd_page_ref_count(__VA_ARGS__)
#define page_ref_add(...)		zd_page_ref_add(__VA_ARGS__)
#define page_ref_sub(...)		zd_page_ref_sub(__VA_ARGS__)
#define page_ref_sub_return(...)	zd_page_ref_sub_return(__VA_ARGS__)
#define page_ref_dec_and_test(...)	zd_page_ref_dec_and_test(__VA_ARGS__)
#define set_page_count(...)		zd_set_page_count(__VA_ARGS__)
#define zone_device_page_init(page)	((void)zd_zone_device_page_init(page))
#define zone_device_folio_init(...)	((void)zd_zone_device_folio_init(__VA_ARGS__))
#define page_folio(...)			zd_page_folio(__VA_ARGS__)
#define folio_page(...)			zd_folio_page(__VA_ARGS__)
#define folio_order(...)		zd_folio_order(__VA_ARGS__)
#define folio_nr_pages(...)		zd_folio_nr_pages(__VA_ARGS__)
#define folio_get(folio)		zd_get_page(&(folio)->page)
#define folio_put(folio)		zd_put_page(&(folio)->page)
#define folio_ref_count(folio)		zd_page_ref_count(&(folio)->page)
#define memunmap_pages(...)		zd_memunmap_pages(__VA_ARGS__)
#define devm_memunmap_pages(...)	zd_devm_memunmap_pages(__VA_ARGS__)
#define get_dev_pagemap(...)		zd_get_dev_pagemap(__VA_ARGS__)
#define put_dev_pagemap(...)		zd_put_dev_pagemap(__VA_ARGS__)
#define pgmap_pfn_valid(...)		zd_pgmap_pfn_valid(__VA_ARGS__)
#define vmem_altmap_offset(...)		zd_vmem_altmap_offset(__VA_ARGS__)


/* pages, including the tagged host pages of alloc_page() (see above) and
 * of make_device_exclusive_range(), which unlock_page() gives back */
#define ZD_KERNEL_HOST_PAGE	1ul
#define ZD_KERNEL_EXCL_PAGE	2ul
#define ZD_KERNEL_HOST_PFN	(1ul << (8 * sizeof(long) - 2))

static inline bool zd_kernel_is_host_page(const struct page *page)
{
	return (uintptr_t)page & ZD_KERNEL_HOST_PAGE;
}

static inline struct page *zd_kernel_host_page(void *addr)
{
	return addr ? (struct page *)((uintptr_t)addr | ZD_KERNEL_HOST_PAGE)
		    : NULL;
}

static inline struct page *alloc_page(gfp_t gfp)
{
	void *addr = zd_alloc_system_page();

	if (addr && (gfp & __GFP_ZERO))
		memset(addr, 0, zd_page_size());
	return zd_kernel_host_page(addr);
}

static inline void *page_address(const struct page *page)
{
	if (zd_kernel_is_host_page(page))
		return (void *)((uintptr_t)page &
				~(ZD_KERNEL_HOST_PAGE | ZD_KERNEL_EXCL_PAGE));
	return zd_page_address(page);
}

static inline void __free_page(struct page *page)
{
	if (page)
		zd_free_system_page(page_address(page));
}

static inline void copy_highpage(struct page *to, struct page *from)
{
	memcpy(page_address(to), page_address(from), zd_page_size());
}

static inline unsigned long page_to_pfn(const struct page *page)
{
	if (zd_kernel_is_host_page(page))
		return ((uintptr_t)page_address(page) >> zd_page_shift) |
		       ZD_KERNEL_HOST_PFN;
	return zd_page_to_pfn(page);
}

static inline unsigned long migrate_pfn(unsigned long pfn)
{
	if (pfn & ZD_KERNEL_HOST_PFN)
		return zd_migrate_virt((void *)((pfn & ~ZD_KERNEL_HOST_PFN) <<
						zd_page_shift));
	return zd_migrate_pfn(pfn);
}

static inline struct page *migrate_pfn_to_page(unsigned long mpfn)
{
	if (mpfn & ZD_MIGRATE_PFN_SYSTEM)
		return zd_kernel_host_page(zd_migrate_pfn_to_virt(mpfn));
	return zd_migrate_pfn_to_page(mpfn);
}

static inline bool is_zone_device_page(const struct page *page)
{
	return !zd_kernel_is_host_page(page) && zd_is_zone_device_page(page);
}

static inline bool is_device_private_page(const struct page *page)
{
	return !zd_kernel_is_host_page(page) && zd_is_device_private_page(page);
}

static inline bool is_device_coherent_page(const struct page *page)
{
	return !zd_kernel_is_host_page(page) && zd_is_device_coherent_page(page);
}

static inline bool is_pci_p2pdma_page(const struct page *page)
{
	return !zd_kernel_is_host_page(page) && zd_is_pci_p2pdma_page(page);
}

/* host pages are the driver's until __free_page(): no count to keep */
static inline void get_page(struct page *page)
{
	if (!zd_kernel_is_host_page(page))
		zd_get_page(page);
}

static inline void put_page(struct page *page)
{
	if (!zd_kernel_is_host_page(page))
		zd_put_page(page);
}

static inline void lock_page(struct page *page)
{
	(void)page;
}

/* the kernel's caller unlocks, then puts, a page made exclusive: the
 * unlock gives it back (zd_put_device_exclusive_page()) */
static inline void unlock_page(struct page *page)
{
	if (!zd_kernel_is_host_page(page))
		zd_unlock_page(page);
	else if ((uintptr_t)page & ZD_KERNEL_EXCL_PAGE)
		zd_put_device_exclusive_page(page_address(page));
}

/* the kernel's returns: ERR_PTR(-errno) where zd_ has NULL and errno */
static inline void *memremap_pages(struct dev_pagemap *pgmap, int nid)
{
	return zd_kernel_err_ptr(zd_memremap_pages(pgmap, nid));
}

static inline void *devm_memremap_pages(struct device *dev,
					struct dev_pagemap *pgmap)
{
	return zd_kernel_err_ptr(zd_devm_memremap_pages(dev, pgmap));
}

static inline struct resource *request_free_mem_region(struct resource *base,
						       unsigned long size,
						       const char *name)
{
	return (struct resource *)zd_kernel_err_ptr(
		zd_request_free_mem_region(base, size, name));
}

static inline struct resource *devm_request_free_mem_region(struct device *dev,
		struct resource *base, unsigned long size)
{
	return (struct resource *)zd_kernel_err_ptr(
		zd_devm_request_free_mem_region(dev, base, size));
}

/* genalloc */
#define gen_pool_create(...)		zd_gen_pool_create(__VA_ARGS__)
#define gen_pool_destroy(pool)		((void)zd_gen_pool_destroy(pool))
#define gen_pool_add(...)		zd_gen_pool_add(__VA_ARGS__)
#define gen_pool_add_virt(...)		zd_gen_pool_add_virt(__VA_ARGS__)
#define gen_pool_add_owner(...)		zd_gen_pool_add_owner(__VA_ARGS__)
#define gen_pool_alloc(...)		zd_gen_pool_alloc(__VA_ARGS__)
#define gen_pool_alloc_owner(...)	zd_gen_pool_alloc_owner(__VA_ARGS__)
#define gen_pool_alloc_algo(...)	zd_gen_pool_alloc_algo(__VA_ARGS__)
#define gen_pool_alloc_algo_owner(...)	zd_gen_pool_alloc_algo_owner(__VA_ARGS__)
#define gen_pool_dma_alloc(...)		zd_gen_pool_dma_alloc(__VA_ARGS__)
#define gen_pool_dma_zalloc(...)	zd_gen_pool_dma_zalloc(__VA_ARGS__)
#define gen_pool_free(pool, addr, size)	((void)zd_gen_pool_free(pool, addr, size))
#define gen_pool_free_owner(pool, addr, size, owner) \
	((void)zd_gen_pool_free_owner(pool, addr, size, owner))
#define gen_pool_virt_to_phys(...)	zd_gen_pool_virt_to_phys(__VA_ARGS__)
#define gen_pool_has_addr(...)		zd_gen_pool_has_addr(__VA_ARGS__)
#define gen_pool_avail(...)		zd_gen_pool_avail(__VA_ARGS__)
#define gen_pool_size(...)		zd_gen_pool_size(__VA_ARGS__)
#define gen_pool_set_algo(...)		zd_gen_pool_set_algo(__VA_ARGS__)
#define gen_pool_first_fit		zd_gen_pool_first_fit
#define gen_pool_first_fit_align	zd_gen_pool_first_fit_align
#define gen_pool_first_fit_order_align	zd_gen_pool_first_fit_order_align
#define gen_pool_fixed_alloc		zd_gen_pool_fixed_alloc
#define gen_pool_best_fit		zd_gen_pool_best_fit

/* PCI and p2pdma */
typedef zd_pci_bus_addr_t pci_bus_addr_t;
#define PCI_DEVFN			ZD_PCI_DEVFN
#define PCI_SLOT			ZD_PCI_SLOT
#define PCI_FUNC			ZD_PCI_FUNC
#define PCI_ANY_ID			ZD_PCI_ANY_ID
#define IORESOURCE_IO			ZD_IORESOURCE_IO
#define to_pci_dev(...)			zd_to_pci_dev(__VA_ARGS__)
#define dev_is_pci(...)			zd_dev_is_pci(__VA_ARGS__)
#define pci_name(...)			zd_pci_name(__VA_ARGS__)
#define pci_dev_get(...)		zd_pci_dev_get(__VA_ARGS__)
#define pci_dev_put(...)		zd_pci_dev_put(__VA_ARGS__)
#define pci_get_device(...)		zd_pci_get_device(__VA_ARGS__)
#define for_each_pci_dev(d) \
	while ((d = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, d)) != NULL)
#define pci_upstream_bridge(...)	zd_pci_upstream_bridge(__VA_ARGS__)
#define pci_find_host_bridge(...)	zd_pci_find_host_bridge(__VA_ARGS__)
#define pci_resource_start(...)		zd_pci_resource_start(__VA_ARGS__)
#define pci_resource_len(...)		zd_pci_resource_len(__VA_ARGS__)
#define pci_resource_flags(...)		zd_pci_resource_flags(__VA_ARGS__)
#define pci_bus_address(...)		zd_pci_bus_address(__VA_ARGS__)
#define pci_stop_and_remove_bus_device(...) zd_pci_stop_and_remove_bus_device(__VA_ARGS__)
#define sg_virt(...)			zd_sg_virt(__VA_ARGS__)
#define pci_p2pdma_map_type(...)	zd_pci_p2pdma_map_type(__VA_ARGS__)
#define PCI_P2PDMA_MAP_UNKNOWN		ZD_PCI_P2PDMA_MAP_UNKNOWN
#define PCI_P2PDMA_MAP_NOT_SUPPORTED	ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED
#define PCI_P2PDMA_MAP_BUS_ADDR		ZD_PCI_P2PDMA_MAP_BUS_ADDR
#define PCI_P2PDMA_MAP_THRU_HOST_BRIDGE	ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE
#define pci_p2pdma_add_resource(...)	zd_pci_p2pdma_add_resource(__VA_ARGS__)
#define pci_p2pdma_distance_many(...)	zd_pci_p2pdma_distance_many(__VA_ARGS__)
#define pci_p2pdma_distance(...)	zd_pci_p2pdma_distance(__VA_ARGS__)
#define pci_has_p2pmem(...)		zd_pci_has_p2pmem(__VA_ARGS__)
#define pci_p2pmem_find_many(...)	zd_pci_p2pmem_find_many(__VA_ARGS__)
#define pci_p2pmem_find(...)		zd_pci_p2pmem_find(__VA_ARGS__)
#define pci_alloc_p2pmem(...)		zd_pci_alloc_p2pmem(__VA_ARGS__)
#define pci_free_p2pmem(...)		zd_pci_free_p2pmem(__VA_ARGS__)
#define pci_p2pmem_virt_to_bus(...)	zd_pci_p2pmem_virt_to_bus(__VA_ARGS__)
#define pci_p2pmem_alloc_sgl(...)	zd_pci_p2pmem_alloc_sgl(__VA_ARGS__)
#define pci_p2pmem_free_sgl(...)	zd_pci_p2pmem_free_sgl(__VA_ARGS__)
#define pci_p2pmem_publish(...)		zd_pci_p2pmem_publish(__VA_ARGS__)


/* PCIe port types */
#define PCI_EXP_TYPE_ENDPOINT		ZD_PCI_EXP_TYPE_ENDPOINT
#define PCI_EXP_TYPE_ROOT_PORT		ZD_PCI_EXP_TYPE_ROOT_PORT
#define PCI_EXP_TYPE_UPSTREAM		ZD_PCI_EXP_TYPE_UPSTREAM
#define PCI_EXP_TYPE_DOWNSTREAM		ZD_PCI_EXP_TYPE_DOWNSTREAM

/* HMM migration */
#define MIGRATE_PFN_VALID		ZD_MIGRATE_PFN_VALID
#define MIGRATE_PFN_MIGRATE		ZD_MIGRATE_PFN_MIGRATE
#define MIGRATE_PFN_WRITE		ZD_MIGRATE_PFN_WRITE
#define MIGRATE_PFN_SHIFT		ZD_MIGRATE_PFN_SHIFT
#define MIGRATE_VMA_SELECT_SYSTEM	ZD_MIGRATE_VMA_SELECT_SYSTEM
#define MIGRATE_VMA_SELECT_DEVICE_PRIVATE ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE
#define MIGRATE_VMA_SELECT_DEVICE_COHERENT ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT
#define MIGRATE_VMA_SELECT_COMPOUND	ZD_MIGRATE_VMA_SELECT_COMPOUND
#define MIGRATE_PFN_COMPOUND		ZD_MIGRATE_PFN_COMPOUND
/* dev_pagemap_ops.folio_split has the kernel's name already */
#define migrate_vma_pages(...)		zd_migrate_vma_pages(__VA_ARGS__)
#define migrate_device_range(...)	zd_migrate_device_range(__VA_ARGS__)
#define migrate_device_pages(...)	zd_migrate_device_pages(__VA_ARGS__)

/* the kernel counts the pages from start and end itself */
static inline int migrate_vma_setup(struct migrate_vma *args)
{
	if (args && !args->npages && args->end > args->start)
		args->npages = (args->end - args->start) >> zd_page_shift;
	return zd_migrate_vma_setup(args);
}

/*
 * A host page a driver gave as a destination (alloc_page()) is, in the
 * kernel, the process's page from then on, or freed by finalize if it
 * was not used.  zonedev copies its bytes into place instead: finalize
 * frees it either way.
 */
static inline void zd_kernel_free_host_dst(const unsigned long *dst,
					   unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++) {
		void *addr = dst[i] & ZD_MIGRATE_PFN_SYSTEM ?
			     zd_migrate_pfn_to_virt(dst[i]) : NULL;

		if (addr)
			zd_free_system_page(addr);
	}
}

static inline void migrate_vma_finalize(struct migrate_vma *migrate)
{
	zd_migrate_vma_finalize(migrate);
	if (migrate)
		zd_kernel_free_host_dst(migrate->dst, migrate->npages);
}

static inline void migrate_device_finalize(unsigned long *src_pfns,
					   unsigned long *dst_pfns,
					   unsigned long npages)
{
	zd_migrate_device_finalize(src_pfns, dst_pfns, npages);
	zd_kernel_free_host_dst(dst_pfns, npages);
}

/* exclusive access: the pages are host pages, tagged for unlock_page() */
static inline int make_device_exclusive_range(struct mm_struct *mm,
					      unsigned long start,
					      unsigned long end,
					      struct page **pages, void *owner)
{
	int n = zd_make_device_exclusive_range(mm, start, end, (void **)pages,
					       owner);

	for (int i = 0; i < n; i++)
		if (pages[i])
			pages[i] = (struct page *)((uintptr_t)pages[i] |
				ZD_KERNEL_HOST_PAGE | ZD_KERNEL_EXCL_PAGE);
	return n;
}

ZD_EXTERN_C_END

/* HMM mirroring and interval notifiers (the struct tags are above) */
#define hmm_range_fault(range)		zd_hmm_range_fault(range)
#define hmm_pfn_to_page(hmm_pfn)	zd_hmm_pfn_to_page(hmm_pfn)
#define hmm_pfn_to_map_order(hmm_pfn)	zd_hmm_pfn_to_map_order(hmm_pfn)
#define HMM_PFN_VALID			ZD_HMM_PFN_VALID
#define HMM_PFN_WRITE			ZD_HMM_PFN_WRITE
#define HMM_PFN_ERROR			ZD_HMM_PFN_ERROR
#define HMM_PFN_ORDER_SHIFT		ZD_HMM_PFN_ORDER_SHIFT
#define HMM_PFN_REQ_FAULT		ZD_HMM_PFN_REQ_FAULT
#define HMM_PFN_REQ_WRITE		ZD_HMM_PFN_REQ_WRITE
#define HMM_PFN_FLAGS			ZD_HMM_PFN_FLAGS
#define HMM_RANGE_DEFAULT_TIMEOUT	ZD_HMM_RANGE_DEFAULT_TIMEOUT
#define MMU_NOTIFY_UNMAP		ZD_MMU_NOTIFY_UNMAP
#define MMU_NOTIFY_CLEAR		ZD_MMU_NOTIFY_CLEAR
#define MMU_NOTIFY_PROTECTION_VMA	ZD_MMU_NOTIFY_PROTECTION_VMA
#define MMU_NOTIFY_PROTECTION_PAGE	ZD_MMU_NOTIFY_PROTECTION_PAGE
#define MMU_NOTIFY_SOFT_DIRTY		ZD_MMU_NOTIFY_SOFT_DIRTY
#define MMU_NOTIFY_RELEASE		ZD_MMU_NOTIFY_RELEASE
#define MMU_NOTIFY_MIGRATE		ZD_MMU_NOTIFY_MIGRATE
#define MMU_NOTIFY_EXCLUSIVE		ZD_MMU_NOTIFY_EXCLUSIVE
#define MMU_NOTIFIER_RANGE_BLOCKABLE	ZD_MMU_NOTIFIER_RANGE_BLOCKABLE
#define mmu_interval_notifier_insert(sub, mm, start, length, ops) \
	zd_mmu_interval_notifier_insert(sub, mm, start, length, ops)
#define mmu_interval_notifier_remove(sub) \
	zd_mmu_interval_notifier_remove(sub)
#define mmu_interval_read_begin(sub)	zd_mmu_interval_read_begin(sub)
#define mmu_interval_read_retry(sub, seq) \
	zd_mmu_interval_read_retry(sub, seq)
#define mmu_interval_check_retry(sub, seq) \
	zd_mmu_interval_check_retry(sub, seq)
#define mmu_interval_set_seq(sub, cur_seq) \
	zd_mmu_interval_set_seq(sub, cur_seq)
#define mmu_notifier_range_blockable(range) \
	zd_mmu_notifier_range_blockable(range)

#endif /* ZONEDEV_KERNEL_H */
