/*
 * scan.h - one sequential pass over the regions of a source map, sorting
 * its blocks into payload and zero ranges.
 *
 * Holes are skipped with SEEK_DATA/SEEK_HOLE and become zero ranges
 * unread; of what is read, every block that is not all zeros goes to the
 * hasher (hasher.h) as payload and is recorded as a data extent, every
 * other block becomes part of a zero range.  With fill_gaps, what lies
 * between two data extents at most that far apart becomes payload too.
 */
#ifndef EZ_SCAN_H
#define EZ_SCAN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "hasher.h"
#include "layout.h"
#include "srcmap.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_scan_options {
        int fd;                         /* the raw source, open for reading */
        const char *source;             /* its name, for errors */
        uint32_t block_size;            /* of the extent map */
        uint64_t fill_gaps;             /* merge data extents this close (bytes), or 0 */
        bool ezio_format;               /* every byte read is payload: no zero ranges */
        const volatile sig_atomic_t *stop;      /* NULL, or non-zero: stop with -EINTR */
        /* called after each chunk with the bytes covered of the map's; may be NULL */
        void (*progress)(uint64_t done, uint64_t total, void *userdata);
        void *userdata;
};

/* Read the regions of map from o->fd once, feeding the payload to h.
 * A map of nothing but zeros still gets one block of payload, so that
 * there is something to make pieces of.  Returns 0 with a new layout in
 * *ret_layout (data extents and zero ranges, not yet finished: see
 * ez_layout_finish; the caller frees it), the payload's length in
 * *ret_payload_len and the bytes of the source the pass covered in
 * *ret_read; or -errno with err (-EINTR when stopped), the outputs
 * untouched. */
int ez_scan_map(const struct ez_scan_options *o, const struct ez_srcmap *map, struct ez_hasher *h,
                struct ez_layout **ret_layout, uint64_t *ret_payload_len, uint64_t *ret_read, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
