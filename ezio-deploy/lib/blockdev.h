/*
 * blockdev.h - the deploy target: a block device or a regular file.
 *
 * Opening is part of validating the plan: the size is read and checked, a
 * block device opened for writing is opened O_EXCL so that a mounted or
 * otherwise claimed device is refused with EBUSY.  Nothing is written by
 * ez_blockdev_open(); a regular file is created (when allowed) but only
 * extended by ez_blockdev_extend(), which the caller runs once every check
 * has passed.
 */
#ifndef EZ_BLOCKDEV_H
#define EZ_BLOCKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
        EZ_BLOCKDEV_WRITE = 1 << 0,     /* open read-write (deploy) */
        EZ_BLOCKDEV_CREATE = 1 << 1,    /* a missing regular file may be created */
};

struct ez_blockdev {
        int fd;
        bool is_block;
        bool is_partition;      /* a block device that is a partition of another */
        bool created;           /* we created the file: it reads as zeros */
        uint64_t size;          /* current size in bytes */
        char *path;
};

/* Open path and check it can hold need_size bytes: a block device or a
 * file opened read-only must already be that large; a regular file opened
 * for writing may be smaller (see ez_blockdev_extend).  Returns 0, or
 * -ENOENT, -EBUSY (in use), -EROFS, -ENOSPC (too small), -EINVAL (not a
 * block device or regular file), each with a sentence in err. */
int ez_blockdev_open(const char *path, uint64_t need_size, unsigned flags,
                     struct ez_blockdev **ret, struct ez_err *err);
void ez_blockdev_close(struct ez_blockdev *dev);

/* Grow a regular file to size (sparse, no data written).  No-op for block
 * devices and files that are already large enough. */
int ez_blockdev_extend(struct ez_blockdev *dev, uint64_t size, struct ez_err *err);

/* The size of an open block device or regular file (path names it in
 * errors); anything else, or an empty one, is -EINVAL. */
int ez_blockdev_size(int fd, const char *path, uint64_t *ret, struct ez_err *err);

/* Read or write exactly len bytes at payload offset poff, mapped through
 * l onto the target fd (one ez_io_pread_full/ez_io_pwrite_full per
 * contiguous run).  Returns 0, -ERANGE outside
 * the payload, or -errno. */
int ez_payload_io(const struct ez_layout *l, int fd, bool write, void *buf, uint64_t poff, uint64_t len);

/* Make [off, off+len) read as zeros: BLKZEROOUT on block devices,
 * fallocate zero-range or punch-hole on files, writing zeros as the last
 * resort.  Returns 0 or -errno with err set. */
int ez_blockdev_zero(struct ez_blockdev *dev, uint64_t off, uint64_t len, struct ez_err *err);

/* fsync the target.  Returns 0 or -errno with err set. */
int ez_blockdev_sync(struct ez_blockdev *dev, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
