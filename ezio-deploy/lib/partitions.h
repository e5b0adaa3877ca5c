/*
 * partitions.h - what libblkid finds on a source: the filesystem (or
 * other signature) of a byte range, and the partition table of a disk.
 *
 * Read-only: the source is only probed through an fd the caller opened.
 */
#ifndef EZ_PARTITIONS_H
#define EZ_PARTITIONS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_partition {
        int number;             /* 1-based, as the table numbers it */
        uint64_t off, len;      /* bytes */
};

/* The TYPE libblkid gives the signature in [off, off+len) of fd ("ext4",
 * "swap" ...), into type (n bytes; "" when none).  Returns 0, 1 when
 * there is more than one signature (type is then ""), -ENOMEM or -EIO. */
int ez_partitions_probe_fs(int fd, uint64_t off, uint64_t len, char *type, size_t n);

/* Refuse a GPT whose backup header lies past the end of a source of size
 * bytes: libblkid then sees no table at all and the disk would be taken
 * for raw data.  *sector receives the sector size (512 or 4096) the GPT
 * header was found with, if it was 0 and one was found.  Returns 0 or
 * -EINVAL with err ("is the image truncated?"). */
int ez_partitions_check_gpt(int fd, uint64_t size, unsigned *sector, struct ez_err *err);

/* The partitions of a disk of size bytes, in the table's order, without
 * extended partitions and empty entries: a malloc'ed array in *ret (NULL
 * when there are none) of *ret_n entries, and the table's type ("gpt",
 * "dos" ...) in pttype (pttype_n bytes, untouched when no table was
 * found).  sector: the logical sector size where the GPT says it (an
 * image of a 4Kn disk), or 0.  Returns 0, or -errno with err (-EINVAL: a
 * partition ends past the end of the source); *ret and *ret_n are
 * untouched on failure. */
int ez_partitions_list(int fd, uint64_t size, unsigned sector, char *pttype, size_t pttype_n,
                       struct ez_partition **ret, size_t *ret_n, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
