/* SPDX-License-Identifier: MIT */
/* PCI model internals shared by its files and p2pdma. */
#ifndef ZD_PCI_INTERNAL_H
#define ZD_PCI_INTERNAL_H

#include <pthread.h>
#include <zonedev/pci.h>

/* Serialises topology changes and walks of the device lists. */
extern pthread_mutex_t zd_pci_lock;

/* Every added PCI device, removed ones included until their release;
 * zd_pci_dev.node.  zd_pci_lock held. */
extern struct zd_list_head zd_pci_devices;

#define zd_list_pci_dev(pos) \
	((struct zd_pci_dev *)((char *)(pos) - offsetof(struct zd_pci_dev, node)))

/* BARs: claim space and memfds at add, give them back at removal. */
int zd_pci_bars_setup(struct zd_pci_dev *pdev, const struct zd_pci_dev_desc *desc);
void zd_pci_bars_release(struct zd_pci_dev *pdev);

#endif /* ZD_PCI_INTERNAL_H */
