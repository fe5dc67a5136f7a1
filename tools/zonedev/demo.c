// SPDX-License-Identifier: MIT
/*
 * zonedev demo.  Part 1, lifetime references: a few "devices" each own a
 * percpu_ref; user threads keep taking live references (tryget_live), as
 * page lookups do, while the main thread kills the devices one by one
 * under that load and shows when each kill was confirmed (no new user gets
 * in) and when the last user left (release).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

struct demo_dev {
	struct zd_percpu_ref ref;	/* first: callbacks cast back */
	char name[24];
	int64_t t_kill, t_confirm, t_release;
	atomic_ulong gets, late_gets;	/* gets, and gets after confirm */
	atomic_int confirmed;
	struct zd_completion released;
};

struct demo {
	struct demo_dev *devs;
	unsigned long nr_devs, nr_users, hold_us, pmem_gib, hmm_mib;
	const char *pmem_file, *svg;
	atomic_bool stop;
};

static void dev_confirm(struct zd_percpu_ref *ref)
{
	struct demo_dev *d = (struct demo_dev *)ref;

	d->t_confirm = tool_now_ns();
	atomic_store(&d->confirmed, 1);
}

static void dev_release(struct zd_percpu_ref *ref)
{
	struct demo_dev *d = (struct demo_dev *)ref;

	d->t_release = tool_now_ns();
	zd_complete(&d->released);
}

static void *user_thread(void *arg)
{
	struct demo *dm = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	while (!atomic_load(&dm->stop)) {
		struct demo_dev *d = &dm->devs[rand_r(&seed) % dm->nr_devs];
		int confirmed = atomic_load(&d->confirmed);

		if (!zd_percpu_ref_tryget_live(&d->ref))
			continue;
		atomic_fetch_add_explicit(&d->gets, 1, memory_order_relaxed);
		if (confirmed)
			atomic_fetch_add(&d->late_gets, 1);
		/* hold the reference as an in-flight I/O would */
		for (volatile unsigned long i = 0; i < dm->hold_us * 100; i++)
			;
		zd_percpu_ref_put(&d->ref);
	}
	return NULL;
}

static void report(struct demo *dm, struct demo_summary *sum)
{
	fprintf(tool_out, "\n%-8s %12s %14s %14s %10s\n", "device", "gets",
	       "confirm (us)", "release (us)", "late gets");
	for (unsigned long i = 0; i < dm->nr_devs; i++) {
		struct demo_dev *d = &dm->devs[i];

		double confirm = (double)(d->t_confirm - d->t_kill) / 1e3;
		double release = (double)(d->t_release - d->t_kill) / 1e3;

		if (confirm > sum->refs.max_confirm_us)
			sum->refs.max_confirm_us = confirm;
		if (release > sum->refs.max_release_us)
			sum->refs.max_release_us = release;
		fprintf(tool_out, "%-8s %12lu %14.1f %14.1f %10lu\n", d->name,
		       atomic_load(&d->gets), confirm, release,
		       atomic_load(&d->late_gets));
	}
	fprintf(tool_out, "\nconfirm: every thread sees the device dead, tryget_live "
	       "fails from then on\nrelease: the last user's reference is "
	       "gone; late gets must be 0\n");
}

static int demo_refs(struct demo *dm, struct demo_summary *sum)
{
	pthread_t *users = calloc(dm->nr_users, sizeof(*users));
	unsigned long late = 0;
	int err = 0;

	fprintf(tool_out, "== lifetime references: %lu devices, %lu user threads\n",
	       dm->nr_devs, dm->nr_users);
	for (unsigned long i = 0; i < dm->nr_devs; i++) {
		struct demo_dev *d = &dm->devs[i];

		snprintf(d->name, sizeof(d->name), "dev%lu", i);
		err = zd_percpu_ref_init(&d->ref, dev_release, 0);
		if (err) {
			tool_err("demo", "percpu_ref_init: %s", strerror(-err));
			free(users);
			return 1;
		}
	}
	for (unsigned long i = 0; i < dm->nr_users; i++)
		pthread_create(&users[i], NULL, user_thread, dm);
	for (unsigned long i = 0; i < dm->nr_devs; i++) {
		struct demo_dev *d = &dm->devs[i];
		struct timespec pause = { 0, 20 * 1000 * 1000 };

		nanosleep(&pause, NULL);	/* let the users work */
		tool_progress("killing under load", i, dm->nr_devs);
		d->t_kill = tool_now_ns();
		zd_percpu_ref_kill_and_confirm(&d->ref, dev_confirm);
		zd_wait_for_completion(&d->released);
	}
	tool_progress("killing under load", dm->nr_devs, dm->nr_devs);
	atomic_store(&dm->stop, true);
	for (unsigned long i = 0; i < dm->nr_users; i++)
		pthread_join(users[i], NULL);
	report(dm, sum);
	for (unsigned long i = 0; i < dm->nr_devs; i++) {
		late += atomic_load(&dm->devs[i].late_gets);
		zd_percpu_ref_exit(&dm->devs[i].ref);
	}
	free(users);
	sum->refs.devices = dm->nr_devs;
	sum->refs.users = dm->nr_users;
	sum->refs.late_gets = late;
	sum->refs.ok = !late;
	return late ? 1 : 0;
}

static void usage(void)
{
	printf("usage: zonedev demo [options]\n"
	       "  --devices N      devices, each with its own reference "
	       "(1..100000, default 8)\n"
	       "  --users N        threads taking references (1..1024, default 2)\n"
	       "  --hold-us N      how long a user holds a reference "
	       "(0..1000000, default 5)\n"
	       "  --pmem-gib N     size of the file-backed pmem device "
	       "(1..1024, default 4)\n"
	       "  --pmem-file P    its file (default: an unnamed file in "
	       "$TMPDIR, gone at exit)\n"
	       "  --hmm-mib N      the array that migrates to a device "
	       "(2..65536, default 1024)\n"
	       "  --quick          small sizes (2 devices, 1 GiB pmem, 16 MiB "
	       "array), for a\n"
	       "                   quick check; explicit sizes still apply\n"
	       "  --json           a JSON summary on stdout (schema in "
	       "zonedev(1)); the narrative\n"
	       "                   goes to stderr\n"
	       "  --svg FILE       write a picture of the physical address "
	       "space to FILE, one\n"
	       "                   row per part of the demo\n");
}

enum {
	OPT_DEVICES = 256, OPT_USERS, OPT_HOLD_US, OPT_PMEM_GIB, OPT_PMEM_FILE,
	OPT_HMM_MIB, OPT_QUICK, OPT_JSON, OPT_SVG,
};

static void json_summary(const struct demo_summary *s, bool ok)
{
	struct json j;

	json_header(&j, stdout, "demo");
	json_bool(&j, "ok", ok);
	json_object(&j, "refs");
	json_uint(&j, "devices", s->refs.devices);
	json_uint(&j, "users", s->refs.users);
	json_double(&j, "max_confirm_us", s->refs.max_confirm_us);
	json_double(&j, "max_release_us", s->refs.max_release_us);
	json_uint(&j, "late_gets", s->refs.late_gets);
	json_bool(&j, "ok", s->refs.ok);
	json_end_object(&j);
	json_object(&j, "devres");
	json_int(&j, "failed_bind_ret", s->devres.failed_bind_ret);
	json_bool(&j, "regions_left", s->devres.regions_left);
	json_bool(&j, "ok", s->devres.ok);
	json_end_object(&j);
	json_object(&j, "pmem");
	json_uint(&j, "size", s->pmem.size);
	json_double(&j, "memremap_ms", s->pmem.memremap_ms);
	json_uint(&j, "memmap_bytes_in_file", s->pmem.memmap_bytes);
	json_int(&j, "rss_anon_delta_kib", s->pmem.rss_anon_delta_kib);
	json_double(&j, "unplug_ms", s->pmem.unplug_ms);
	json_double(&j, "unplug_after_put_ms", s->pmem.unplug_after_put_ms);
	json_bool(&j, "ok", s->pmem.ok);
	json_end_object(&j);
	json_object(&j, "p2p");
	json_string(&j, "provider", s->p2p.provider[0] ? s->p2p.provider : NULL);
	json_int(&j, "distance", s->p2p.distance);
	json_uint(&j, "bytes", s->p2p.bytes);
	json_double(&j, "dma_us", s->p2p.dma_us);
	json_bool(&j, "ok", s->p2p.ok);
	json_end_object(&j);
	json_object(&j, "hmm");
	json_uint(&j, "mib", s->hmm.mib);
	json_bool(&j, "skipped", s->hmm.skipped);
	json_double(&j, "to_device_gbs", s->hmm.to_device_gbs);
	json_double(&j, "on_device_gbs", s->hmm.on_device_gbs);
	json_double(&j, "cpu_read_gbs", s->hmm.cpu_read_gbs);
	json_uint(&j, "device_faults", s->hmm.device_faults);
	json_double(&j, "unplug_ms", s->hmm.unplug_ms);
	json_uint(&j, "pages_moved", s->hmm.pages_moved);
	json_uint(&j, "pages_copied", s->hmm.pages_copied);
	json_bool(&j, "ok", s->hmm.ok);
	json_end_object(&j);
	json_end_object(&j);
}

int tool_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "devices", required_argument, NULL, OPT_DEVICES },
		{ "users", required_argument, NULL, OPT_USERS },
		{ "hold-us", required_argument, NULL, OPT_HOLD_US },
		{ "pmem-gib", required_argument, NULL, OPT_PMEM_GIB },
		{ "pmem-file", required_argument, NULL, OPT_PMEM_FILE },
		{ "hmm-mib", required_argument, NULL, OPT_HMM_MIB },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ NULL, 0, NULL, 0 },
	};
	/* 0: not given; filled from the defaults (or --quick's) below */
	struct demo dm = { 0 };
	struct demo_summary sum = { 0 };
	bool quick = false, json = false, given_hold = false;
	int c, ret;

	while ((c = tool_getopt("demo", argc, argv, ":h", opts)) != -1) {
		bool ok = true;

		switch (c) {
		case 'h':
			usage();
			return TOOL_OK;
		case OPT_DEVICES:
			ok = tool_ulong("demo", "devices", optarg, 1, 100000, &dm.nr_devs);
			break;
		case OPT_USERS:
			ok = tool_ulong("demo", "users", optarg, 1, 1024, &dm.nr_users);
			break;
		case OPT_HOLD_US:
			ok = tool_ulong("demo", "hold-us", optarg, 0, 1000000, &dm.hold_us);
			given_hold = true;
			break;
		case OPT_PMEM_GIB:
			ok = tool_ulong("demo", "pmem-gib", optarg, 1, 1024, &dm.pmem_gib);
			break;
		case OPT_PMEM_FILE:
			if (!*optarg)
				return tool_usage_error("demo", "option '--pmem-file' "
							"wants a path, not ''");
			dm.pmem_file = optarg;
			break;
		case OPT_HMM_MIB:
			ok = tool_ulong("demo", "hmm-mib", optarg, 2, 65536, &dm.hmm_mib);
			break;
		case OPT_QUICK:
			quick = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_SVG:
			if (!*optarg)
				return tool_usage_error("demo", "option '--svg' wants "
							"a file name, not ''");
			dm.svg = optarg;
			break;
		default:
			return TOOL_USAGE;
		}
		if (!ok)
			return TOOL_USAGE;
	}
	if (tool_no_args("demo", argc, argv))
		return TOOL_USAGE;
	if (!dm.nr_devs)
		dm.nr_devs = quick ? 2 : 8;
	if (!dm.nr_users)
		dm.nr_users = 2;
	if (!given_hold)
		dm.hold_us = 5;
	if (!dm.pmem_gib)
		dm.pmem_gib = quick ? 1 : 4;
	if (!dm.hmm_mib)
		dm.hmm_mib = quick ? 16 : 1024;
	if (json)
		tool_out = stderr;
	if (dm.svg && demo_map_begin())
		return TOOL_FAILED;
	dm.devs = calloc(dm.nr_devs, sizeof(*dm.devs));
	if (!dm.devs)
		return TOOL_FAILED;
	ret = demo_refs(&dm, &sum);
	free(dm.devs);
	ret |= demo_devres(&sum);
	ret |= demo_pmem(dm.pmem_gib << 30, dm.pmem_file, &sum);
	ret |= demo_p2p(&sum);
	ret |= demo_hmm(dm.hmm_mib, &sum);
	if (dm.svg && demo_map_end(dm.svg))
		ret = 1;
	fprintf(tool_out, "\ndemo %s\n", ret ? "FAILED" : "done");
	if (json)
		json_summary(&sum, !ret);
	return ret ? TOOL_FAILED : TOOL_OK;
}
