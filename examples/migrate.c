// SPDX-License-Identifier: MIT
/*
 * An application's array moves to a device and comes back by itself:
 * zonedev manages the array's memory (zd_mm), the dmirror driver (the
 * kernel's HMM test device) migrates its pages into device-private
 * memory, and the first CPU touch of each page is a real page fault that
 * the driver answers by migrating the page back (migrate_to_ram).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <zonedev/zonedev.h>
#include <zonedev/drivers/dmirror.h>

#define N	(1u << 20)		/* ints: 4 MiB */

int main(void)
{
	size_t bytes = N * sizeof(int);
	struct zd_mm *mm = zd_mm_create();
	struct dmirror *dm = dmirror_create(0, ZD_SECTION_SIZE);
	struct zd_mm_stats st;
	long long sum = 0;
	int *a;
	int err;

	if (!mm || !dm)
		return perror("zd_mm_create/dmirror_create"), 1;
	a = zd_mm_map(mm, bytes);		/* the application's array */
	if (!a)
		return perror("zd_mm_map"), 1;
	for (unsigned int i = 0; i < N; i++)
		a[i] = (int)i;

	struct dmirror_cmd cmd = {
		.mm = mm, .addr = (unsigned long)a,
		.npages = bytes / zd_page_size(),
	};
	err = dmirror_migrate_to_device(dm, &cmd);
	if (err)
		return fprintf(stderr, "migrate: %s\n", strerror(-err)), 1;
	printf("%lu pages moved to %s; on the device now: %lu\n", cmd.cpages,
	       zd_dev_name(dmirror_device(dm)), zd_mm_device_pages(mm));

	for (unsigned int i = 0; i < N; i++)	/* faults them back */
		sum += a[i];
	zd_mm_get_stats(mm, &st);
	printf("sum %lld (expected %lld); %lu device faults, %lu pages left "
	       "on the device\n", sum, (long long)N * (N - 1) / 2,
	       st.device_faults, zd_mm_device_pages(mm));

	dmirror_destroy(dm);
	zd_mm_destroy(mm);
	munmap(a, bytes);
	if (sum != (long long)N * (N - 1) / 2)
		return 1;
	printf("ok\n");
	return 0;
}
