// SPDX-License-Identifier: MIT
/*
 * zonedev: the command-line tool.  Subcommands show the library at work;
 * "demo" is the main job and grows with the library.
 *
 * Every command takes --help (usage on stdout, exit 0); a bad command
 * line is reported on stderr, naming the option, and exits 2; a failure
 * exits 1.  Messages start with "zonedev: ".
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zonedev/zonedev.h>

#include "tool.h"

static const struct tool_cmd cmds[] = {
	{ "demo", tool_demo, "run the demonstration (see 'zonedev demo --help')" },
	{ "iomem", tool_iomem, "print the physical resource tree (/proc/iomem format)" },
	{ "map", tool_map, "draw the physical address space as an SVG picture" },
	{ "pci", tool_pci, "print a sample PCI topology with p2p map types and distances" },
	{ "pgmaps", tool_pgmaps, "list the pgmaps of a sample configuration" },
	{ "version", tool_version, "print the version" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: zonedev [--help] [--version] <command> [options]\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'zonedev <command> --help' describes a command's options; "
		   "see also zonedev(1).\n");
}

int tool_version(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = tool_getopt("version", argc, argv, ":h", opts)) != -1) {
		if (c == 'h') {
			printf("usage: zonedev version\n"
			       "  print the version of zonedev, as --version does\n");
			return TOOL_OK;
		}
		return TOOL_USAGE;
	}
	if (tool_no_args("version", argc, argv))
		return TOOL_USAGE;
	printf("zonedev %s\n", ZONEDEV_VERSION);
	return TOOL_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/*
	 * One line at a time, even into a pipe, so that the library's
	 * messages on stderr stay in place among the tool's own lines.
	 */
	setvbuf(stdout, NULL, _IOLBF, 0);
	tool_out = stdout;
	tool_progress_tty = isatty(STDERR_FILENO);
	/* "+": options up to the command are zonedev's, the rest its own */
	while ((c = tool_getopt(NULL, argc, argv, "+:hV", opts)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return TOOL_OK;
		case 'V':
			printf("zonedev %s\n", ZONEDEV_VERSION);
			return TOOL_OK;
		default:
			return TOOL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return TOOL_USAGE;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[optind], cmds[i].name)) {
			argc -= optind;
			argv += optind;
			optind = 0;	/* start getopt afresh for the command */
			return cmds[i].fn(argc, argv);
		}
	}
	return tool_usage_error(NULL, "unknown command '%s'", argv[optind]);
}
