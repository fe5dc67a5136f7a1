/* SPDX-License-Identifier: MIT */
#ifndef ZD_TOOL_H
#define ZD_TOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/procfs.h"

struct tool_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

/* Exit statuses: done, failed, bad command line. */
enum { TOOL_OK = 0, TOOL_FAILED = 1, TOOL_USAGE = 2 };

/*
 * Where the human-readable output goes: stdout, or stderr when --json
 * keeps stdout for the JSON document.
 */
extern FILE *tool_out;
/* Whether to draw progress bars: stderr is a terminal (set by main). */
extern bool tool_progress_tty;

int tool_demo(int argc, char **argv);
int tool_version(int argc, char **argv);
int tool_iomem(int argc, char **argv);
int tool_pgmaps(int argc, char **argv);
int tool_pci(int argc, char **argv);
int tool_map(int argc, char **argv);

/* What the demo's parts measured, for its --json summary. */
struct demo_summary {
	struct {
		unsigned long devices, users, late_gets;
		double max_confirm_us, max_release_us;
		bool ok;
	} refs;
	struct {
		int failed_bind_ret;
		bool regions_left, ok;
	} devres;
	struct {
		uint64_t size, memmap_bytes;
		double memremap_ms, unplug_ms, unplug_after_put_ms;
		long rss_anon_delta_kib;
		bool ok;
	} pmem;
	struct {
		char provider[16];
		int distance;
		uint64_t bytes;
		double dma_us;
		bool ok;
	} p2p;
	struct {
		unsigned long mib, device_faults, pages_moved, pages_copied;
		double to_device_gbs, on_device_gbs, cpu_read_gbs, unplug_ms;
		bool skipped, ok;
	} hmm;
};

int demo_p2p(struct demo_summary *sum);
int demo_hmm(unsigned long mib, struct demo_summary *sum);
int demo_devres(struct demo_summary *sum);
int demo_pmem(uint64_t size, const char *path, struct demo_summary *sum);

/* The sample configuration zonedev pgmaps and map show. */
struct sample_pgmaps;
struct sample_pgmaps *sample_pgmaps_create(void);
void sample_pgmaps_destroy(struct sample_pgmaps *s);

/* zonedev pci's sample with the nvme's p2p memory in use (for map). */
void *pci_sample_p2p_create(void);
void pci_sample_p2p_destroy(void *sample);

void tool_print_pgmaps(void);
void tool_show_progress(void);

/* Messages, all "zonedev: [command: ]text" on stderr. */
void tool_err(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Reports a command-line error and points at --help; returns TOOL_USAGE. */
int tool_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int tool_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
		const struct option *longopts);
/* Parses @arg of option --@opt as a number in [@min, @max]. */
bool tool_ulong(const char *cmd, const char *opt, const char *arg,
		unsigned long min, unsigned long max, unsigned long *val);
/* TOOL_USAGE (reported) if arguments are left after the options. */
int tool_no_args(const char *cmd, int argc, char **argv);
/* The options of a command with only --help and --json: -1 to run it,
 * else the exit status (help printed, or a usage error reported). */
int tool_json_only(const char *cmd, int argc, char **argv, void (*usage)(void),
		   bool *json);

int64_t tool_now_ns(void);
void tool_progress(const char *label, unsigned long done, unsigned long total);

/* JSON output (json.c). */
#define TOOL_JSON_SCHEMA	1
#define JSON_MAX_DEPTH		16

struct json {
	FILE *f;
	int depth;
	bool first[JSON_MAX_DEPTH];
};

/* Opens the top-level object with "command" and "schema_version". */
void json_header(struct json *j, FILE *f, const char *command);
void json_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *key, const char *val);
void json_write_string(struct json *j, const char *s);
void json_uint(struct json *j, const char *key, uint64_t val);
void json_int(struct json *j, const char *key, int64_t val);
void json_hex(struct json *j, const char *key, uint64_t val);
void json_bool(struct json *j, const char *key, bool val);
void json_double(struct json *j, const char *key, double val);

/*
 * SVG pictures of the physical space (map.c): a snapshot records the
 * resource tree and every pgmap's page states now; the file shows one
 * row per snapshot.  Snapshots are taken only between begin and end.
 */
int demo_map_begin(void);
void demo_map_snapshot(const char *label);
int demo_map_end(const char *path);

#endif
