// SPDX-License-Identifier: MIT
#include "misuse.h"

const struct mcase misuse_pci_cases[] = {
	{ 0 }
};
