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
	fprintf(tool_out, "  %d. released: %s\n", ++step, (const char *)what);
}

static int demo_probe(struct zd_device *dev)
{
	static const char *names[] = { "BAR0 registers", "BAR2 memory" };
	zd_resource_size_t start = DEMO_BASE;

	for (int i = 0; i < 2; i++, start += 0x10000000) {
		if (!zd_devm_request_mem_region(dev, start, 0x10000000, names[i]))
			return -errno;
		fprintf(tool_out, "  probe: claimed %s at %#llx\n", names[i],
		       (unsigned long long)start);
		if (zd_devm_add_action_or_reset(dev, say_released,
						(void *)names[i]))
			return -ENOMEM;
	}
	if (zd_devm_add_action_or_reset(dev, say_released, "interrupt handler"))
		return -ENOMEM;
	fprintf(tool_out, "  probe: registered an interrupt handler\n");
	return 0;
}

static int failing_probe(struct zd_device *dev)
{
	int err = demo_probe(dev);

	if (!err)
		fprintf(tool_out, "  probe: firmware missing, failing with -ENOENT\n");
	return err ? err : -ENOENT;
}

static void demo_dev_release(struct zd_device *dev)
{
}

int demo_devres(struct demo_summary *sum)
{
	struct zd_driver good = { "demo-driver", demo_probe, NULL };
	struct zd_driver bad = { "broken-driver", failing_probe, NULL };
	struct zd_device dev = { .init_name = "demo0",
				 .release = demo_dev_release };
	int err;

	fprintf(tool_out, "\n== devices and devres: probe claims, unbind releases newest "
	       "first\n");
	if (zd_device_register(&dev)) {
		zd_put_device(&dev);
		return 1;
	}
	err = zd_device_bind(&dev, &good);
	if (err) {
		tool_err("demo", "bind: %s", strerror(-err));
		zd_device_unregister(&dev);
		return 1;
	}
	fprintf(tool_out, "\nthe resource tree with %s bound:\n", zd_dev_name(&dev));
	zd_iomem_print(tool_out);
	demo_map_snapshot("devres: demo0 bound, two regions claimed");
	fprintf(tool_out, "\nunbind %s:\n", zd_dev_name(&dev));
	step = 0;
	zd_device_unbind(&dev);
	fprintf(tool_out, "\nbind %s with a probe that fails at the end:\n",
	       zd_dev_name(&dev));
	step = 0;
	err = zd_device_bind(&dev, &bad);
	fprintf(tool_out, "  bind returned %d (%s); bound: %s; regions left: %s\n", err,
	       strerror(-err), zd_device_is_bound(&dev) ? "yes" : "no",
	       zd_region_intersects(DEMO_BASE, 0x20000000, ZD_IORESOURCE_BUSY,
				    ZD_IORES_DESC_NONE) == ZD_REGION_DISJOINT ?
	       "none" : "SOME");
	sum->devres.failed_bind_ret = err;
	sum->devres.regions_left =
		zd_region_intersects(DEMO_BASE, 0x20000000, ZD_IORESOURCE_BUSY,
				     ZD_IORES_DESC_NONE) != ZD_REGION_DISJOINT;
	sum->devres.ok = err == -ENOENT && !sum->devres.regions_left;
	zd_device_unregister(&dev);
	return sum->devres.ok ? 0 : 1;
}
