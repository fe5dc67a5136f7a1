/* SPDX-License-Identifier: MIT */
#ifndef ZD_TOOL_H
#define ZD_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/procfs.h"

struct tool_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

int tool_demo(int argc, char **argv);
int tool_version(int argc, char **argv);
int tool_iomem(int argc, char **argv);
int tool_pgmaps(int argc, char **argv);
int tool_pci(int argc, char **argv);
int demo_p2p(void);
int demo_hmm(unsigned long mib);
int demo_devres(void);
int demo_pmem(uint64_t size, const char *path);
int demo_sample_pgmaps(void);
void tool_print_pgmaps(void);
void tool_show_progress(void);

/* Parse "--name=value" or "--name value"; returns true and sets *val. */
bool tool_opt_ulong(int *i, int argc, char **argv, const char *name,
		    unsigned long *val);

int64_t tool_now_ns(void);
void tool_progress(const char *label, unsigned long done, unsigned long total);

#endif
