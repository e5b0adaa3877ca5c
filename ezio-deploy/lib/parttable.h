/*
 * parttable.h - make the kernel see the partition table a deploy just
 * wrote to a whole disk, so that its partitions exist (/dev/sdaN) before
 * whatever runs next: an agent adds its config drive partition, a boot
 * loader installer looks for the root.
 */
#ifndef EZ_PARTTABLE_H
#define EZ_PARTTABLE_H

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Ask the kernel to re-read the partition table of the whole disk open as
 * fd (path names it in messages): BLKRRPART, or where the device does not
 * scan partitions itself (a loop device without partscan) one BLKPG call
 * for each partition, as partx(8) does, after removing the ones the kernel
 * knew.  Returns 0, or -errno with err saying why: -EBUSY when a partition
 * of the disk is in use (mounted, open), -EINVAL for a device that has no
 * partitions at all.
 */
int ez_parttable_reread(int fd, const char *path, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
