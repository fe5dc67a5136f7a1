// SPDX-License-Identifier: MIT
#include "misuse.h"

const struct mcase misuse_hmm_cases[] = {
	{ 0 }
};
