// SPDX-License-Identifier: MIT
/*
 * zonedev: the command-line tool.  Subcommands show the library at work;
 * "demo" is the main job and grows with the library.
 */
#include <stdio.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

static const struct tool_cmd cmds[] = {
	{ "demo", tool_demo, "run the demonstration (see 'zonedev demo --help')" },
	{ "iomem", tool_iomem, "print the physical resource tree (/proc/iomem format)" },
	{ "pci", tool_pci, "print a sample PCI topology with p2p map types and distances" },
	{ "pgmaps", tool_pgmaps, "list the pgmaps of a sample configuration" },
	{ "version", tool_version, "print the version" },
};

int tool_version(int argc, char **argv)
{
	printf("zonedev %s\n", ZONEDEV_VERSION);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: zonedev <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "zonedev: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
