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

/* devices and drivers */
#define device				zd_device
#define device_driver			zd_driver
#define NUMA_NO_NODE			ZD_NUMA_NO_NODE
#define device_initialize		zd_device_initialize
#define dev_set_name			zd_dev_set_name
#define device_add			zd_device_add
#define device_register			zd_device_register
#define device_del			zd_device_del
#define device_unregister		zd_device_unregister
#define get_device			zd_get_device
#define put_device			zd_put_device
#define dev_name			zd_dev_name
#define dev_get_drvdata			zd_dev_get_drvdata
#define dev_set_drvdata			zd_dev_set_drvdata
#define dev_to_node			zd_dev_to_node
#define set_dev_node			zd_set_dev_node
#define device_bind_driver_to(dev, drv)	zd_device_bind(dev, drv)
#define device_release_driver(dev)	((void)zd_device_unbind(dev))
#define lock_device_hotplug		zd_lock_device_hotplug
#define unlock_device_hotplug		zd_unlock_device_hotplug

/* devres */
#define dr_release_t			zd_dr_release_t
#define dr_match_t			zd_dr_match_t
#define devres_alloc(release, size, gfp) zd_devres_alloc(release, size)
#define devres_free			zd_devres_free
#define devres_add			zd_devres_add
#define devres_find			zd_devres_find
#define devres_get			zd_devres_get
#define devres_remove			zd_devres_remove
#define devres_destroy			zd_devres_destroy
#define devres_release			zd_devres_release
#define devres_open_group(dev, id, gfp)	zd_devres_open_group(dev, id)
#define devres_close_group		zd_devres_close_group
#define devres_remove_group		zd_devres_remove_group
#define devres_release_group		zd_devres_release_group
#define devm_add_action			zd_devm_add_action
#define devm_add_action_or_reset	zd_devm_add_action_or_reset
#define devm_remove_action(dev, action, data) \
	((void)zd_devm_remove_action(dev, action, data))
#define devm_release_action(dev, action, data) \
	((void)zd_devm_release_action(dev, action, data))
#define devm_kmalloc(dev, size, gfp)	zd_devm_kmalloc(dev, size)
#define devm_kzalloc(dev, size, gfp)	zd_devm_kzalloc(dev, size)
#define devm_kfree			zd_devm_kfree
#define devm_request_mem_region		zd_devm_request_mem_region
#define devm_release_mem_region(dev, start, n) \
	((void)zd_devm_release_mem_region(dev, start, n))

/* resources; the kernel's iomem_resource is a variable, zonedev's a call */
#define resource			zd_resource
#define resource_size_t			zd_resource_size_t
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
#define resource_size			zd_resource_size
#define request_resource		zd_request_resource
#define release_resource		zd_release_resource
#define insert_resource			zd_insert_resource
#define remove_resource			zd_remove_resource
#define request_mem_region		zd_request_mem_region
#define release_mem_region(start, n)	((void)zd_release_mem_region(start, n))
#define region_intersects		zd_region_intersects
#define walk_iomem_res_desc		zd_walk_iomem_res_desc
#define request_free_mem_region		zd_request_free_mem_region
#define devm_request_free_mem_region	zd_devm_request_free_mem_region

/* memory hotplug */
#define mem_hotplug_begin		zd_mem_hotplug_begin
#define mem_hotplug_done		zd_mem_hotplug_done
#define get_online_mems			zd_get_online_mems
#define put_online_mems			zd_put_online_mems

/* pages and memremap */
#define page				zd_page
#define dev_pagemap			zd_dev_pagemap
#define dev_pagemap_ops			zd_dev_pagemap_ops
#define vmem_altmap			zd_vmem_altmap
#define memory_type			zd_memory_type
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
#define pfn_to_page			zd_pfn_to_page
#define page_to_pfn			zd_page_to_pfn
#define page_address			zd_page_address
#define __va(phys)			zd_phys_to_virt(phys)
#define __pa(addr)			zd_virt_to_phys(addr)
#define pfn_valid			zd_pfn_valid
#define get_page			zd_get_page
#define put_page			zd_put_page
#define page_ref_count			zd_page_ref_count
#define page_count			zd_page_ref_count
#define page_ref_add			zd_page_ref_add
#define page_ref_sub			zd_page_ref_sub
#define page_ref_sub_return		zd_page_ref_sub_return
#define page_ref_dec_and_test		zd_page_ref_dec_and_test
#define set_page_count			zd_set_page_count
#define is_zone_device_page		zd_is_zone_device_page
#define is_device_private_page		zd_is_device_private_page
#define is_device_coherent_page		zd_is_device_coherent_page
#define is_pci_p2pdma_page		zd_is_pci_p2pdma_page
#define zone_device_page_init(page)	((void)zd_zone_device_page_init(page))
#define unlock_page			zd_unlock_page
#define memremap_pages			zd_memremap_pages
#define memunmap_pages			zd_memunmap_pages
#define devm_memremap_pages		zd_devm_memremap_pages
#define devm_memunmap_pages		zd_devm_memunmap_pages
#define get_dev_pagemap			zd_get_dev_pagemap
#define put_dev_pagemap			zd_put_dev_pagemap
#define pgmap_pfn_valid			zd_pgmap_pfn_valid
#define vmem_altmap_offset		zd_vmem_altmap_offset


/* genalloc */
#define gen_pool			zd_gen_pool
#define gen_pool_create			zd_gen_pool_create
#define gen_pool_destroy(pool)		((void)zd_gen_pool_destroy(pool))
#define gen_pool_add			zd_gen_pool_add
#define gen_pool_add_virt		zd_gen_pool_add_virt
#define gen_pool_add_owner		zd_gen_pool_add_owner
#define gen_pool_alloc			zd_gen_pool_alloc
#define gen_pool_alloc_owner		zd_gen_pool_alloc_owner
#define gen_pool_alloc_algo		zd_gen_pool_alloc_algo
#define gen_pool_alloc_algo_owner	zd_gen_pool_alloc_algo_owner
#define gen_pool_dma_alloc		zd_gen_pool_dma_alloc
#define gen_pool_dma_zalloc		zd_gen_pool_dma_zalloc
#define gen_pool_free(pool, addr, size)	((void)zd_gen_pool_free(pool, addr, size))
#define gen_pool_free_owner(pool, addr, size, owner) \
	((void)zd_gen_pool_free_owner(pool, addr, size, owner))
#define gen_pool_virt_to_phys		zd_gen_pool_virt_to_phys
#define gen_pool_has_addr		zd_gen_pool_has_addr
#define gen_pool_avail			zd_gen_pool_avail
#define gen_pool_size			zd_gen_pool_size
#define gen_pool_set_algo		zd_gen_pool_set_algo
#define gen_pool_first_fit		zd_gen_pool_first_fit
#define gen_pool_first_fit_align	zd_gen_pool_first_fit_align
#define gen_pool_first_fit_order_align	zd_gen_pool_first_fit_order_align
#define gen_pool_fixed_alloc		zd_gen_pool_fixed_alloc
#define gen_pool_best_fit		zd_gen_pool_best_fit

/* PCI and p2pdma */
#define pci_dev				zd_pci_dev
#define pci_bus				zd_pci_bus
#define pci_host_bridge			zd_pci_host_bridge
#define pci_bus_addr_t			zd_pci_bus_addr_t
#define PCI_DEVFN			ZD_PCI_DEVFN
#define PCI_SLOT			ZD_PCI_SLOT
#define PCI_FUNC			ZD_PCI_FUNC
#define PCI_ANY_ID			ZD_PCI_ANY_ID
#define IORESOURCE_IO			ZD_IORESOURCE_IO
#define to_pci_dev			zd_to_pci_dev
#define dev_is_pci			zd_dev_is_pci
#define pci_name			zd_pci_name
#define pci_dev_get			zd_pci_dev_get
#define pci_dev_put			zd_pci_dev_put
#define pci_get_device			zd_pci_get_device
#define for_each_pci_dev(d) \
	while ((d = zd_pci_get_device(ZD_PCI_ANY_ID, ZD_PCI_ANY_ID, d)) != NULL)
#define pci_upstream_bridge		zd_pci_upstream_bridge
#define pci_find_host_bridge		zd_pci_find_host_bridge
#define pci_resource_start		zd_pci_resource_start
#define pci_resource_len		zd_pci_resource_len
#define pci_resource_flags		zd_pci_resource_flags
#define pci_bus_address			zd_pci_bus_address
#define pci_stop_and_remove_bus_device	zd_pci_stop_and_remove_bus_device
#define scatterlist			zd_scatterlist
#define sg_virt				zd_sg_virt
#define pci_p2pdma_map_type		zd_pci_p2pdma_map_type
#define PCI_P2PDMA_MAP_UNKNOWN		ZD_PCI_P2PDMA_MAP_UNKNOWN
#define PCI_P2PDMA_MAP_NOT_SUPPORTED	ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED
#define PCI_P2PDMA_MAP_BUS_ADDR		ZD_PCI_P2PDMA_MAP_BUS_ADDR
#define PCI_P2PDMA_MAP_THRU_HOST_BRIDGE	ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE
#define pci_p2pdma_add_resource		zd_pci_p2pdma_add_resource
#define pci_p2pdma_distance_many	zd_pci_p2pdma_distance_many
#define pci_p2pdma_distance		zd_pci_p2pdma_distance
#define pci_has_p2pmem			zd_pci_has_p2pmem
#define pci_p2pmem_find_many		zd_pci_p2pmem_find_many
#define pci_p2pmem_find			zd_pci_p2pmem_find
#define pci_alloc_p2pmem		zd_pci_alloc_p2pmem
#define pci_free_p2pmem			zd_pci_free_p2pmem
#define pci_p2pmem_virt_to_bus		zd_pci_p2pmem_virt_to_bus
#define pci_p2pmem_alloc_sgl		zd_pci_p2pmem_alloc_sgl
#define pci_p2pmem_free_sgl		zd_pci_p2pmem_free_sgl
#define pci_p2pmem_publish		zd_pci_p2pmem_publish


/* HMM migration */
#define vm_fault			zd_vm_fault
#define migrate_vma			zd_migrate_vma
#define MIGRATE_PFN_VALID		ZD_MIGRATE_PFN_VALID
#define MIGRATE_PFN_MIGRATE		ZD_MIGRATE_PFN_MIGRATE
#define MIGRATE_PFN_WRITE		ZD_MIGRATE_PFN_WRITE
#define MIGRATE_PFN_SHIFT		ZD_MIGRATE_PFN_SHIFT
#define MIGRATE_VMA_SELECT_SYSTEM	ZD_MIGRATE_VMA_SELECT_SYSTEM
#define MIGRATE_VMA_SELECT_DEVICE_PRIVATE ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE
#define migrate_pfn			zd_migrate_pfn
#define migrate_pfn_to_page		zd_migrate_pfn_to_page
#define migrate_vma_setup		zd_migrate_vma_setup
#define migrate_vma_pages		zd_migrate_vma_pages
#define migrate_vma_finalize		zd_migrate_vma_finalize
#define migrate_device_range		zd_migrate_device_range
#define migrate_device_pages		zd_migrate_device_pages
#define migrate_device_finalize		zd_migrate_device_finalize

/* HMM mirroring and interval notifiers; a struct mm_struct is a zd_mm */
#define mm_struct			zd_mm
#define hmm_range			zd_hmm_range
#define hmm_range_fault			zd_hmm_range_fault
#define hmm_pfn_to_page			zd_hmm_pfn_to_page
#define hmm_pfn_to_map_order		zd_hmm_pfn_to_map_order
#define HMM_PFN_VALID			ZD_HMM_PFN_VALID
#define HMM_PFN_WRITE			ZD_HMM_PFN_WRITE
#define HMM_PFN_ERROR			ZD_HMM_PFN_ERROR
#define HMM_PFN_ORDER_SHIFT		ZD_HMM_PFN_ORDER_SHIFT
#define HMM_PFN_REQ_FAULT		ZD_HMM_PFN_REQ_FAULT
#define HMM_PFN_REQ_WRITE		ZD_HMM_PFN_REQ_WRITE
#define HMM_PFN_FLAGS			ZD_HMM_PFN_FLAGS
#define HMM_RANGE_DEFAULT_TIMEOUT	ZD_HMM_RANGE_DEFAULT_TIMEOUT
#define mmu_notifier_event		zd_mmu_notifier_event
#define MMU_NOTIFY_UNMAP		ZD_MMU_NOTIFY_UNMAP
#define MMU_NOTIFY_CLEAR		ZD_MMU_NOTIFY_CLEAR
#define MMU_NOTIFY_PROTECTION_VMA	ZD_MMU_NOTIFY_PROTECTION_VMA
#define MMU_NOTIFY_PROTECTION_PAGE	ZD_MMU_NOTIFY_PROTECTION_PAGE
#define MMU_NOTIFY_SOFT_DIRTY		ZD_MMU_NOTIFY_SOFT_DIRTY
#define MMU_NOTIFY_RELEASE		ZD_MMU_NOTIFY_RELEASE
#define MMU_NOTIFY_MIGRATE		ZD_MMU_NOTIFY_MIGRATE
#define MMU_NOTIFY_EXCLUSIVE		ZD_MMU_NOTIFY_EXCLUSIVE
#define MMU_NOTIFIER_RANGE_BLOCKABLE	ZD_MMU_NOTIFIER_RANGE_BLOCKABLE
#define mmu_notifier_range		zd_mmu_notifier_range
#define mmu_interval_notifier		zd_mmu_interval_notifier
#define mmu_interval_notifier_ops	zd_mmu_interval_notifier_ops
#define mmu_interval_notifier_insert	zd_mmu_interval_notifier_insert
#define mmu_interval_notifier_remove	zd_mmu_interval_notifier_remove
#define mmu_interval_read_begin		zd_mmu_interval_read_begin
#define mmu_interval_read_retry		zd_mmu_interval_read_retry
#define mmu_interval_check_retry	zd_mmu_interval_check_retry
#define mmu_interval_set_seq		zd_mmu_interval_set_seq
#define mmu_notifier_range_blockable	zd_mmu_notifier_range_blockable

#endif /* ZONEDEV_KERNEL_H */
