/* SPDX-License-Identifier: MIT */
/*
 * zonedev: Linux's ZONE_DEVICE device-memory subsystem, in userspace.
 * This header includes every public header.
 */
#ifndef ZONEDEV_ZONEDEV_H
#define ZONEDEV_ZONEDEV_H

#include <zonedev/export.h>
#include <zonedev/log.h>
#include <zonedev/fault.h>
#include <zonedev/completion.h>
#include <zonedev/percpu_ref.h>
#include <zonedev/types.h>
#include <zonedev/device.h>
#include <zonedev/devres.h>
#include <zonedev/resource.h>
#include <zonedev/memory_hotplug.h>
#include <zonedev/mm.h>
#include <zonedev/memremap.h>
#include <zonedev/genalloc.h>
#include <zonedev/pci.h>
#include <zonedev/p2pdma.h>
#include <zonedev/hmm.h>
#include <zonedev/mmu_notifier.h>

#endif /* ZONEDEV_ZONEDEV_H */
