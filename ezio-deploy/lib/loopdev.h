/*
 * loopdev.h - a read-only loop device over a byte range of an open file.
 *
 * partclone reads a filesystem from a device or file of its own; a
 * partition inside a disk image is handed to it as a loop device over
 * the partition's bytes.  The device is attached with LOOP_CONFIGURE and
 * LO_FLAGS_AUTOCLEAR, so it goes away when its last fd is closed: there
 * is nothing to detach, also after a crash.
 */
#ifndef EZ_LOOPDEV_H
#define EZ_LOOPDEV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Attach a free loop device read-only over [off, off+len) of fd and write
 * its path ("/dev/loopN") into path (n bytes).  Returns the device's open
 * fd, which the caller closes to detach it, or -errno with err (-EBUSY:
 * every free device was taken by others first, 16 times). */
int ez_loopdev_attach(int fd, uint64_t off, uint64_t len, char *path, size_t n, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
