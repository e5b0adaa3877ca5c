/*
 * scan.c - one pass over the regions of a source (see scan.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "scan.h"

#define READ_AHEAD (32u << 20)

struct pass {
        const struct ez_scan_options *o;
        struct ez_layout *layout;
        struct ez_hasher *h;
        int fd;
        uint64_t payload_len;
        uint64_t zero_start;    /* start of the current zero run, or UINT64_MAX */
        uint64_t data_end;      /* end of the last data extent, or UINT64_MAX */
        uint8_t *gapbuf;
        uint64_t ra_end;        /* read-ahead asked up to here */
        struct ez_err *err;
};

/* --fill-gaps: the bytes between the last data extent and off become
 * payload too.  Zero ranges in between (the tail of the list) are taken
 * back; what is neither is read from the source. */
static int fill_gap(struct pass *p, uint64_t off)
{
        struct ez_layout *l = p->layout;
        uint64_t at = p->data_end;
        size_t k = l->n_zero, j;
        int r;

        while (k && l->zero[k - 1].off >= p->data_end)
                k--;
        for (j = k; at < off;) {
                bool z = j < l->n_zero && l->zero[j].off <= at;
                uint64_t end = z ? l->zero[j].off + l->zero[j].len : j < l->n_zero ? l->zero[j].off : off;
                uint64_t n;

                if (end > off)
                        end = off;
                n = end - at < EZ_HASHER_CHUNK ? end - at : EZ_HASHER_CHUNK;
                if (z)
                        memset(p->gapbuf, 0, (size_t)n);
                else if ((r = ez_io_pread_full(p->fd, p->gapbuf, (size_t)n, at)) < 0)
                        return ez_err_set(p->err, r, "cannot read '%s' at %#" PRIx64 ": %s",
                                          p->o->source, at, strerror(-r));
                r = ez_layout_add_data(l, at, n, p->err);
                if (r >= 0)
                        r = ez_hasher_add(p->h, p->gapbuf, (size_t)n, p->err);
                if (r < 0)
                        return r;
                p->payload_len += n;
                at += n;
                if (z && at >= l->zero[j].off + l->zero[j].len)
                        j++;
        }
        l->n_zero = k;          /* the zero ranges in the gap are payload now */
        return 0;
}

/* Data found at source offset off is in the payload now. */
static int note_payload(struct pass *p, size_t len, uint64_t off)
{
        int r = ez_layout_add_data(p->layout, off, len, p->err);

        if (r < 0)
                return r;
        p->payload_len += len;
        p->data_end = off + len;
        return 0;
}

/* Append data found at source offset off to the payload (a copy). */
static int add_payload(struct pass *p, const uint8_t *buf, size_t len, uint64_t off)
{
        int r;

        if (p->o->fill_gaps && p->data_end != UINT64_MAX && off > p->data_end &&
            off - p->data_end <= p->o->fill_gaps && (r = fill_gap(p, off)) < 0)
                return r;
        r = ez_hasher_add(p->h, buf, len, p->err);
        if (r < 0)
                return r;
        return note_payload(p, len, off);
}

/* Keep the kernel reading ahead of the pass: the reading thread also
 * hashes and classifies, and the disk should not wait for it. */
static void read_ahead(struct pass *p, uint64_t off, uint64_t end)
{
        uint64_t to;

        if (end - off < READ_AHEAD / 8)
                return;         /* short regions: the kernel's own read-ahead does better */
        if (p->ra_end < off)
                p->ra_end = off;
        if (p->ra_end >= end || p->ra_end - off >= READ_AHEAD / 2)
                return;
        to = end - off < READ_AHEAD ? end : off + READ_AHEAD;
        posix_fadvise(p->fd, (off_t)p->ra_end, (off_t)(to - p->ra_end), POSIX_FADV_WILLNEED);
        p->ra_end = to;
}

static int end_zero_run(struct pass *p, uint64_t end)
{
        int r = 0;

        if (p->zero_start != UINT64_MAX && end > p->zero_start)
                r = ez_layout_add_zero(p->layout, p->zero_start, end - p->zero_start, p->err);
        p->zero_start = UINT64_MAX;
        return r;
}

static bool all_zero(const uint8_t *b, size_t n)
{
        const uint64_t *w = (const uint64_t *)b;
        size_t i;

        for (i = 0; i < n / 8; i++)
                if (w[i])
                        return false;
        for (i = n / 8 * 8; i < n; i++)
                if (b[i])
                        return false;
        return true;
}

/* Classify [off, end) of the source block by block.  The data is read
 * straight into the hash batch and the zero blocks squeezed out of it
 * there; with --fill-gaps (gap bytes go before the data) through buf. */
static int scan_range(struct pass *p, uint8_t *buf, uint64_t off, uint64_t end, uint64_t *done, uint64_t total)
{
        uint32_t bs = p->layout->block_size;
        bool copy = p->o->fill_gaps != 0;
        int r;

        while (off < end) {
                size_t n = end - off < EZ_HASHER_CHUNK ? (size_t)(end - off) : EZ_HASHER_CHUNK;
                size_t i = 0, kept = 0;
                uint8_t *dst = buf;

                if (p->o->stop && *p->o->stop)
                        return ez_err_set(p->err, -EINTR, "interrupted");
                read_ahead(p, off, end);
                if (!copy && (r = ez_hasher_reserve(p->h, &dst, p->err)) < 0)
                        return r;
                r = ez_io_pread_full(p->fd, dst, n, off);
                if (r < 0)
                        return ez_err_set(p->err, r, "cannot read '%s' at %#" PRIx64 ": %s",
                                          p->o->source, off, strerror(-r));
                while (i < n) {
                        size_t run = 0;
                        size_t bl = n - i < bs ? n - i : bs;
                        bool z = p->o->ezio_format ? false : all_zero(dst + i, bl);

                        /* extend the run of same-kind blocks */
                        while (i + run < n) {
                                size_t l = n - i - run < bs ? n - i - run : bs;

                                if (!p->o->ezio_format && all_zero(dst + i + run, l) != z)
                                        break;
                                run += l;
                        }
                        if (z) {
                                if (p->zero_start == UINT64_MAX)
                                        p->zero_start = off + i;
                        } else {
                                r = end_zero_run(p, off + i);
                                if (r >= 0 && copy)
                                        r = add_payload(p, dst + i, run, off + i);
                                else if (r >= 0) {
                                        if (kept != i)
                                                memmove(dst + kept, dst + i, run);
                                        kept += run;
                                        r = note_payload(p, run, off + i);
                                }
                                if (r < 0)
                                        return r;
                        }
                        i += run;
                }
                if (!copy && (r = ez_hasher_commit(p->h, kept, p->err)) < 0)
                        return r;
                off += n;
                *done += n;
                if (p->o->progress)
                        p->o->progress(*done, total, p->o->userdata);
        }
        return 0;
}

/* One region of the map: holes are zero ranges without reading them. */
static int scan_region(struct pass *p, uint8_t *buf, const struct ez_extent *rg, uint64_t *done, uint64_t total)
{
        uint32_t bs = p->layout->block_size;
        uint64_t off = rg->off, end = rg->off + rg->len;
        int r;

        if (p->o->ezio_format)         /* no zero ranges: every byte is payload */
                return scan_range(p, buf, off, end, done, total);
        while (off < end) {
                off_t d = lseek(p->fd, (off_t)off, SEEK_DATA), h;
                uint64_t dstart, dend;

                if (d < 0 && errno == ENXIO)
                        d = (off_t)end;         /* only a hole remains */
                if (d < 0) {
                        d = (off_t)off;         /* no SEEK_DATA here: read everything */
                        h = (off_t)end;
                } else {
                        h = (uint64_t)d < end ? lseek(p->fd, d, SEEK_HOLE) : (off_t)end;
                        if (h < 0)
                                h = (off_t)end;
                }
                /* keep block alignment: round the data region outwards */
                dstart = (uint64_t)d / bs * bs;
                dend = ((uint64_t)h + bs - 1) / bs * bs;
                if (dend > end)
                        dend = end;
                if (dstart < off)
                        dstart = off;
                if (dstart > end)
                        dstart = end;
                if (dstart > off && p->zero_start == UINT64_MAX)
                        p->zero_start = off;
                *done += dstart - off;
                r = scan_range(p, buf, dstart, dend, done, total);
                if (r < 0)
                        return r;
                off = dend > dstart ? dend : end;
        }
        return end_zero_run(p, end);
}

int ez_scan_map(const struct ez_scan_options *o, const struct ez_srcmap *map, struct ez_hasher *h,
                struct ez_layout **ret_layout, uint64_t *ret_payload_len, uint64_t *ret_read, struct ez_err *err)
{
        struct pass p = { .o = o, .h = h, .fd = o->fd, .zero_start = UINT64_MAX, .data_end = UINT64_MAX, .err = err };
        _cleanup_free_ uint8_t *buf = malloc(EZ_HASHER_CHUNK);
        uint64_t done = 0;
        size_t i;
        int r;

        p.gapbuf = o->fill_gaps ? malloc(EZ_HASHER_CHUNK) : NULL;
        if (!buf || (o->fill_gaps && !p.gapbuf)) {
                r = ez_err_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        r = ez_layout_new(map->size, o->block_size, map->kind, &p.layout, err);
        for (i = 0; i < map->n_regions && r >= 0; i++)
                r = scan_region(&p, buf, &map->regions[i], &done, map->region_bytes);
        if (r >= 0 && p.payload_len == 0) {
                /* nothing but zeros: one block still has to carry the torrent */
                uint64_t first = map->regions[0].off;
                size_t n = map->size - first < o->block_size ? (size_t)(map->size - first) : o->block_size;

                memset(buf, 0, n);
                ez_layout_free(p.layout);
                p.layout = NULL;
                r = ez_layout_new(map->size, o->block_size, map->kind, &p.layout, err);
                if (r >= 0)
                        r = add_payload(&p, buf, n, first);
                for (i = 0; r >= 0 && i < map->n_regions; i++) {
                        const struct ez_extent *g = &map->regions[i];

                        r = i == 0 ? ez_layout_add_zero(p.layout, g->off + n, g->len - n, err)
                                   : ez_layout_add_zero(p.layout, g->off, g->len, err);
                }
        }
        if (r >= 0) {
                *ret_layout = TAKE_PTR(p.layout);
                *ret_payload_len = p.payload_len;
                *ret_read = done;
        }
out:
        free(p.gapbuf);
        ez_layout_free(p.layout);
        return r;
}
