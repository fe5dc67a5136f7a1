// SPDX-License-Identifier: MIT
/*
 * zonedev demo, part 2: a driver's probe claims memory regions and adds
 * actions through devres; unbinding the driver releases all of it, newest
 * first, and a failing probe unwinds what it had done.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

#define DEMO_BASE	0x1000000000ull		/* 64 GiB, above System RAM */

static int step;

static void say_released(void *what)
{
	printf("  %d. released: %s\n", ++step, (const char *)what);
}

static int demo_probe(struct zd_device *dev)
{
	static const char *names[] = { "BAR0 registers", "BAR2 memory" };
	zd_resource_size_t start = DEMO_BASE;

	for (int i = 0; i < 2; i++, start += 0x10000000) {
		if (!zd_devm_request_mem_region(dev, start, 0x10000000, names[i]))
			return -errno;
		printf("  probe: claimed %s at %#llx\n", names[i],
		       (unsigned long long)start);
		if (zd_devm_add_action_or_reset(dev, say_released,
						(void *)names[i]))
			return -ENOMEM;
	}
	if (zd_devm_add_action_or_reset(dev, say_released, "interrupt handler"))
		return -ENOMEM;
	printf("  probe: registered an interrupt handler\n");
	return 0;
}

static int failing_probe(struct zd_device *dev)
{
	int err = demo_probe(dev);

	if (!err)
		printf("  probe: firmware missing, failing with -ENOENT\n");
	return err ? err : -ENOENT;
}

static void demo_dev_release(struct zd_device *dev)
{
}

int demo_devres(void)
{
	struct zd_driver good = { "demo-driver", demo_probe, NULL };
	struct zd_driver bad = { "broken-driver", failing_probe, NULL };
	struct zd_device dev = { .init_name = "demo0",
				 .release = demo_dev_release };
	int err;

	printf("\n== devices and devres: probe claims, unbind releases newest "
	       "first\n");
	if (zd_device_register(&dev)) {
		zd_put_device(&dev);
		return 1;
	}
	err = zd_device_bind(&dev, &good);
	if (err) {
		fprintf(stderr, "zonedev demo: bind: %s\n", strerror(-err));
		zd_device_unregister(&dev);
		return 1;
	}
	printf("\nthe resource tree with %s bound:\n", zd_dev_name(&dev));
	zd_iomem_print(stdout);
	printf("\nunbind %s:\n", zd_dev_name(&dev));
	step = 0;
	zd_device_unbind(&dev);
	printf("\nbind %s with a probe that fails at the end:\n",
	       zd_dev_name(&dev));
	step = 0;
	err = zd_device_bind(&dev, &bad);
	printf("  bind returned %d (%s); bound: %s; regions left: %s\n", err,
	       strerror(-err), zd_device_is_bound(&dev) ? "yes" : "no",
	       zd_region_intersects(DEMO_BASE, 0x20000000, ZD_IORESOURCE_BUSY,
				    ZD_IORES_DESC_NONE) == ZD_REGION_DISJOINT ?
	       "none" : "SOME");
	zd_device_unregister(&dev);
	return err == -ENOENT ? 0 : 1;
}
