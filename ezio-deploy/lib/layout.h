/*
 * layout.h - where the bytes of an image go on the target.
 *
 * A layout is the extent map of one image: the data extents, in the order
 * their bytes appear in the torrent's payload, each a (target offset,
 * length) pair; the ranges that must read as zeros after the deploy; the
 * size of the target and the image kind.  It maps a payload offset to a
 * target offset by binary search over the cumulative payload offsets.
 *
 * The native encoding of an extent list (inside the torrent's `ezio`
 * dictionary) is a byte string of LEB128 varints: for each extent the gap
 * since the end of the previous one, then its length, both in blocks.
 * Extents are therefore sorted, non-overlapping and block aligned; an
 * extent that reaches the last (partial) block ends at the target size.
 */
#ifndef EZ_LAYOUT_H
#define EZ_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ez_layout_kind {
        EZ_LAYOUT_PARTITION,
        EZ_LAYOUT_DISK,
};

struct ez_extent {
        uint64_t off;   /* byte offset on the target */
        uint64_t len;   /* bytes */
};

struct ez_layout {
        uint64_t target_size;
        uint32_t block_size;
        enum ez_layout_kind kind;
        struct ez_extent *data;         /* payload order */
        size_t n_data, cap_data;
        struct ez_extent *zero;         /* sorted by offset */
        size_t n_zero, cap_zero;
        uint64_t *payload_off;          /* n_data + 1 cumulative offsets, set by finish */
        uint64_t payload_len;
        bool finished;
};

/* Upper bound on extents in one list; keeps a hostile map from asking for
 * unbounded memory (a 16 TiB filesystem fragmented to 4 KiB runs stays under it). */
#define EZ_LAYOUT_MAX_EXTENTS (64u * 1024 * 1024)

/* Allocate an empty layout.  block_size must be a power of two >= 512.
 * Returns 0 or -EINVAL/-ENOMEM. */
int ez_layout_new(uint64_t target_size, uint32_t block_size, enum ez_layout_kind kind,
                  struct ez_layout **ret, struct ez_err *err);
void ez_layout_free(struct ez_layout *l);

/* Append a data extent (payload order) or a zero range.  A data extent that
 * starts where the previous one ends is merged into it.  Zero-length extents
 * are ignored.  Returns 0, -E2BIG past EZ_LAYOUT_MAX_EXTENTS, -ENOMEM. */
int ez_layout_add_data(struct ez_layout *l, uint64_t off, uint64_t len, struct ez_err *err);
int ez_layout_add_zero(struct ez_layout *l, uint64_t off, uint64_t len, struct ez_err *err);

/* Validate and index the layout: every extent inside the target, no data
 * extent overlapping another or a zero range, zero ranges sorted and
 * disjoint, no arithmetic overflow, and the data lengths adding up to
 * payload_len.  Returns 0 or -EINVAL with the first problem found. */
int ez_layout_finish(struct ez_layout *l, uint64_t payload_len, struct ez_err *err);

/* Map payload offset poff to the target: *ret_off receives the target
 * offset and *ret_run the number of bytes (<= len) that are contiguous
 * there.  Returns 0, or -ERANGE when poff is outside the payload. */
int ez_layout_map(const struct ez_layout *l, uint64_t poff, uint64_t len,
                  uint64_t *ret_off, uint64_t *ret_run);

/* Encode extents (sorted, block aligned) as varint gap/length pairs.  On
 * success *ret_buf is malloc'ed.  Returns 0, -EINVAL if the list is not
 * sorted or not aligned, -ENOMEM. */
int ez_layout_encode(const struct ez_extent *ext, size_t n, uint32_t block_size,
                     uint64_t target_size, uint8_t **ret_buf, size_t *ret_len,
                     struct ez_err *err);

/* Decode buf into calls of add (ez_layout_add_data or ez_layout_add_zero)
 * on l, clamping the last block to the target size.  Returns 0 or -EINVAL
 * for a truncated varint, an overflow, or an extent past the target. */
int ez_layout_decode(struct ez_layout *l, const uint8_t *buf, size_t len, bool zero,
                     struct ez_err *err);

const char *ez_layout_kind_name(enum ez_layout_kind k);
/* Returns 0 and sets *ret, or -EINVAL for an unknown name. */
int ez_layout_kind_parse(const char *s, size_t len, enum ez_layout_kind *ret);

#ifdef __cplusplus
}
#endif

#endif
