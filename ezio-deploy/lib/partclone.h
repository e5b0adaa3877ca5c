/*
 * partclone.h - partclone as a source of used-block maps.
 *
 * partclone reads the metadata of many filesystems.  Two of its outputs
 * are used: the ddrescue domain map `partclone.<fs> -D` writes (the used
 * blocks, found without reading the data), and the torrent.info file
 * `partclone.<fs> -c -t|-T` writes (the used extents in the order of the
 * data, and a SHA-1 per 16 MiB of it, as EZIO's torrents have them).
 */
#ifndef EZ_PARTCLONE_H
#define EZ_PARTCLONE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "helper.h"
#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The partclone program suffix for a blkid filesystem type ("extfs" for
 * ext4, so partclone.extfs), or NULL when partclone has none (or type is
 * NULL).  The string is static. */
const char *ez_partclone_fs(const char *blkid_type);

/* Run `partclone.<fs> -D` on dev (a device or image file; what names it in
 * errors), its files in d, and return the domain map's text in *ret (the
 * caller frees it).  stop: as for ez_helper_run().  Returns 0, -ENOENT
 * without a message when partclone.<fs> is not installed, -EINTR when
 * stopped, -EIO when it failed (err quotes its last words), other -errno
 * with err.  Leaves only d->out behind in d. */
int ez_partclone_domain_map(const char *fs, const char *dev, const char *what, const struct ez_helper_dir *d,
                            const volatile sig_atomic_t *stop, char **ret, struct ez_err *err);

/* partclone's torrent.info: the used extents in the order of the data,
 * and a SHA-1 per 16 MiB of it. */
struct ez_partclone_info {
        uint32_t block_size;
        uint64_t blocks_total, size;    /* size: blocks_total x block_size */
        struct ez_extent *ext;          /* sorted, not overlapping */
        size_t n_ext;
        uint64_t data_bytes;
        uint8_t *sha1;                  /* 20 bytes each */
        size_t n_sha1;
};

/* The torrent.info that given names: given itself, or given/torrent.info
 * when given is a directory (the folder partclone -T wrote), into info;
 * and into dir, unless NULL, the folder it is in ("." for a bare name).
 * Longer paths are cut to the buffers. */
void ez_partclone_info_path(const char *given, char *info, size_t info_n, char *dir, size_t dir_n);

/* Read the torrent.info at path into *ret, whose arrays the caller
 * releases with ez_partclone_info_free().  Returns 0, or -errno with err
 * naming path and line (-EINVAL: not what partclone writes, extents out
 * of order or past blocks_total x block_size); *ret is zeroed then. */
int ez_partclone_info_load(const char *path, struct ez_partclone_info *ret, struct ez_err *err);

/* Free the arrays of pi and zero it.  Accepts a zeroed one. */
void ez_partclone_info_free(struct ez_partclone_info *pi);

#ifdef __cplusplus
}
#endif

#endif
