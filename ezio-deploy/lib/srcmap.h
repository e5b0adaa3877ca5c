/*
 * srcmap.h - which bytes of a source image have to reach the target.
 *
 * ezio-mktorrent reads only these regions.  Inside a region every block
 * that is not all zeros becomes payload and every other block a zero range;
 * what lies outside every region is left as it is on the target (free
 * space of a filesystem).  The map comes from:
 *
 *  - a filesystem partclone knows: its used blocks, from the ddrescue
 *    domain map `partclone.<fs> -D` writes after reading the filesystem's
 *    metadata only (the data itself is read once, by the caller);
 *  - anything else: the whole of it (the dd-style fallback);
 *  - a whole disk: each partition by the two rules above (a partition
 *    inside an image is handed to partclone as a read-only loop device),
 *    and everything outside the partitions (partition tables, boot code,
 *    the backup GPT) whole.
 *
 * Filesystems and partition tables are recognised by libblkid
 * (partitions.h), partclone is run by partclone.h, a partition of an
 * image reaches it through loopdev.h; this module holds the map itself
 * and the rules above.
 */
#ifndef EZ_SRCMAP_H
#define EZ_SRCMAP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EZ_SRCMAP_MAX_FS 16

/* One filesystem choice given by the operator: "TYPE" for every
 * filesystem of the source, or "N=TYPE" for partition N.  TYPE is a
 * blkid name (ext4, xfs, vfat ...) or "raw": every non-zero block. */
struct ez_srcmap_fs {
        int part;               /* 0: every filesystem */
        const char *type;
};

struct ez_srcmap_options {
        const char *source;
        int kind;               /* -1: detect, else enum ez_layout_kind */
        uint32_t block_size;    /* regions are rounded outwards to it */
        const struct ez_srcmap_fs *fs;
        size_t n_fs;
        const char *tmpdir;     /* for partclone's map and log; NULL or "": /tmp */
        const char *pcinfo;     /* partclone's torrent.info: take the used extents from it */
        /* NULL, or a flag (a signal handler's) that, once non-zero, stops
         * the programs this runs (partclone, qemu-img); the call then
         * fails with -EINTR */
        const volatile sig_atomic_t *stop;
};

struct ez_srcmap_part {
        int number;             /* 1-based partition number; 0: the whole source */
        uint64_t off, len;
        char fstype[32];        /* blkid's TYPE, "" when none was recognised */
        char route[48];         /* "partclone.extfs" ..., or "raw" */
        uint64_t used;          /* bytes of it inside the map's regions */
};

struct ez_srcmap {
        uint64_t size;
        enum ez_layout_kind kind;
        char pttype[16];        /* "gpt", "dos" ..., "" for none */
        struct ez_extent *regions;      /* sorted, disjoint, not touching */
        size_t n_regions, cap_regions;
        uint64_t region_bytes;
        struct ez_srcmap_part *parts;
        size_t n_parts;
        char *notes;            /* warnings for the operator, one per line, or NULL */
};

/* Build the map of o->source (a raw source: see qcow2.h) into *ret, which
 * the caller frees with ez_srcmap_free().  Returns 0 or -errno with err
 * naming what failed (an unknown --fs type, a partclone that failed,
 * -EINTR when o->stop was set ...); *ret is untouched then. */
int ez_srcmap_build(const struct ez_srcmap_options *o, struct ez_srcmap **ret, struct ez_err *err);
/* Free m and everything it holds.  Accepts NULL. */
void ez_srcmap_free(struct ez_srcmap *m);

/* Parse a ddrescue domain map as written by `partclone -D` and add its
 * finished ('+') ranges, shifted by base and rounded outwards to
 * block_size, to the region list of m.  Ranges must lie within limit bytes
 * of base.  *ret_used receives the bytes of those ranges, *ret_end the end
 * of the last range of any status (both may be NULL).  Returns 0 or
 * -EINVAL/-ENOMEM. */
int ez_srcmap_add_domain(struct ez_srcmap *m, const char *text, uint64_t base, uint64_t limit,
                         uint32_t block_size, uint64_t *ret_used, uint64_t *ret_end, struct ez_err *err);

/* Append [off, off+len), rounded outwards to block_size and clipped to
 * m->size, to the region list (in any order).  Returns 0, or -E2BIG (more
 * regions than a layout may hold) or -ENOMEM with err set; the list is
 * unchanged then. */
int ez_srcmap_add_region(struct ez_srcmap *m, uint64_t off, uint64_t len, uint32_t block_size,
                         struct ez_err *err);

/* Sort the region list, merge overlapping and touching regions, and
 * recount region_bytes. */
void ez_srcmap_normalize(struct ez_srcmap *m);

#ifdef __cplusplus
}
#endif

#endif
