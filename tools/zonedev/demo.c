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
	const char *pmem_file;
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

static int demo_usage(void)
{
	printf("usage: zonedev demo [--devices N] [--users N] [--hold-us N]\n"
	       "                    [--pmem-gib N] [--pmem-file PATH] [--hmm-mib N]\n"
	       "  --devices N     devices, each with its own reference (default 8)\n"
	       "  --users N       threads taking references (default 2)\n"
	       "  --hold-us N     how long a user holds a reference (default 5)\n"
	       "  --pmem-gib N    size of the file-backed pmem device (default 4)\n"
	       "  --pmem-file P   its file (default: a temporary file, removed)\n"
	       "  --hmm-mib N     the array that migrates to a device (default 1024)\n");
	return 0;
}

static void report(struct demo *dm)
{
	printf("\n%-8s %12s %14s %14s %10s\n", "device", "gets",
	       "confirm (us)", "release (us)", "late gets");
	for (unsigned long i = 0; i < dm->nr_devs; i++) {
		struct demo_dev *d = &dm->devs[i];

		printf("%-8s %12lu %14.1f %14.1f %10lu\n", d->name,
		       atomic_load(&d->gets),
		       (double)(d->t_confirm - d->t_kill) / 1e3,
		       (double)(d->t_release - d->t_kill) / 1e3,
		       atomic_load(&d->late_gets));
	}
	printf("\nconfirm: every thread sees the device dead, tryget_live "
	       "fails from then on\nrelease: the last user's reference is "
	       "gone; late gets must be 0\n");
}

static int demo_refs(struct demo *dm)
{
	pthread_t *users = calloc(dm->nr_users, sizeof(*users));
	unsigned long late = 0;
	int err = 0;

	printf("== lifetime references: %lu devices, %lu user threads\n",
	       dm->nr_devs, dm->nr_users);
	for (unsigned long i = 0; i < dm->nr_devs; i++) {
		struct demo_dev *d = &dm->devs[i];

		snprintf(d->name, sizeof(d->name), "dev%lu", i);
		err = zd_percpu_ref_init(&d->ref, dev_release, 0);
		if (err) {
			fprintf(stderr, "zonedev: percpu_ref_init: %s\n",
				strerror(-err));
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
	report(dm);
	for (unsigned long i = 0; i < dm->nr_devs; i++) {
		late += atomic_load(&dm->devs[i].late_gets);
		zd_percpu_ref_exit(&dm->devs[i].ref);
	}
	free(users);
	return late ? 1 : 0;
}

int tool_demo(int argc, char **argv)
{
	struct demo dm = { .nr_devs = 8, .nr_users = 2, .hold_us = 5,
			   .pmem_gib = 4, .hmm_mib = 1024 };
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return demo_usage();
		if (tool_opt_ulong(&i, argc, argv, "--devices", &dm.nr_devs) ||
		    tool_opt_ulong(&i, argc, argv, "--users", &dm.nr_users) ||
		    tool_opt_ulong(&i, argc, argv, "--hold-us", &dm.hold_us) ||
		    tool_opt_ulong(&i, argc, argv, "--pmem-gib", &dm.pmem_gib) ||
		    tool_opt_ulong(&i, argc, argv, "--hmm-mib", &dm.hmm_mib))
			continue;
		if (!strcmp(argv[i], "--pmem-file") && i + 1 < argc) {
			dm.pmem_file = argv[++i];
			continue;
		}
		fprintf(stderr, "zonedev demo: unknown option '%s'\n", argv[i]);
		return 2;
	}
	if (!dm.nr_devs || !dm.nr_users || dm.nr_users > 1024 ||
	    dm.nr_devs > 100000 || !dm.pmem_gib || dm.pmem_gib > 1024 ||
	    dm.hmm_mib < 2 || dm.hmm_mib > 65536) {
		fprintf(stderr, "zonedev demo: --devices must be 1..100000, "
			"--users 1..1024, --pmem-gib 1..1024, --hmm-mib 2..65536\n");
		return 2;
	}
	dm.devs = calloc(dm.nr_devs, sizeof(*dm.devs));
	if (!dm.devs)
		return 1;
	ret = demo_refs(&dm);
	free(dm.devs);
	ret |= demo_devres();
	ret |= demo_pmem(dm.pmem_gib << 30, dm.pmem_file);
	ret |= demo_p2p();
	ret |= demo_hmm(dm.hmm_mib);
	printf("\ndemo %s\n", ret ? "FAILED" : "done");
	return ret;
}
