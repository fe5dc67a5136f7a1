/* SPDX-License-Identifier: MIT */
/* The installed dmirror driver and its header: create a device, unplug it. */
#include <stdio.h>

#include <zonedev/drivers/dmirror.h>

int main(void)
{
	struct dmirror *dm = dmirror_create(0, ZD_SECTION_SIZE);
	struct dmirror_stats s;

	if (!dm) {
		perror("dmirror_create");
		return 1;
	}
	dmirror_get_stats(dm, &s);
	dmirror_destroy(dm);
	printf("ok: %s had %lu chunks\n", "dmirror0", s.chunks);
	return 0;
}
