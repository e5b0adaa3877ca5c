/*
 * layout.c - extent maps: building, validating, mapping, varint coding.
 *
 * Every arithmetic step on offsets that come from a torrent is checked for
 * overflow; a layout that passes ez_layout_finish() can be used to write to
 * a device without further checks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "layout.h"

int ez_layout_new(uint64_t target_size, uint32_t block_size, enum ez_layout_kind kind,
                  struct ez_layout **ret, struct ez_err *err)
{
        struct ez_layout *l;

        if (block_size < 512 || (block_size & (block_size - 1)))
                return ez_err_set(err, -EINVAL, "block size %" PRIu32 " is not a power of two >= 512",
                                  block_size);
        if (target_size == 0)
                return ez_err_set(err, -EINVAL, "target size is zero");
        l = calloc(1, sizeof(*l));
        if (!l)
                return ez_err_set(err, -ENOMEM, "out of memory");
        l->target_size = target_size;
        l->block_size = block_size;
        l->kind = kind;
        *ret = l;
        return 0;
}

void ez_layout_free(struct ez_layout *l)
{
        if (!l)
                return;
        free(l->data);
        free(l->zero);
        free(l->payload_off);
        free(l);
}

static int push(struct ez_extent **arr, size_t *n, size_t *cap, uint64_t off, uint64_t len,
                bool merge, struct ez_err *err)
{
        if (len == 0)
                return 0;
        /* wrapped sums are not merged; ez_layout_finish() rejects them */
        if (merge && *n > 0 && (*arr)[*n - 1].len <= UINT64_MAX - (*arr)[*n - 1].off &&
            (*arr)[*n - 1].off + (*arr)[*n - 1].len == off && len <= UINT64_MAX - (*arr)[*n - 1].len) {
                (*arr)[*n - 1].len += len;
                return 0;
        }
        if (*n >= EZ_LAYOUT_MAX_EXTENTS)
                return ez_err_set(err, -E2BIG, "more than %u extents", EZ_LAYOUT_MAX_EXTENTS);
        if (*n == *cap) {
                size_t c = *cap ? *cap * 2 : 64;
                struct ez_extent *na = realloc(*arr, c * sizeof(**arr));

                if (!na)
                        return ez_err_set(err, -ENOMEM, "out of memory");
                *arr = na;
                *cap = c;
        }
        (*arr)[(*n)++] = (struct ez_extent){ .off = off, .len = len };
        return 0;
}

int ez_layout_add_data(struct ez_layout *l, uint64_t off, uint64_t len, struct ez_err *err)
{
        return push(&l->data, &l->n_data, &l->cap_data, off, len, true, err);
}

int ez_layout_add_zero(struct ez_layout *l, uint64_t off, uint64_t len, struct ez_err *err)
{
        return push(&l->zero, &l->n_zero, &l->cap_zero, off, len, true, err);
}

static int cmp_extent(const void *a, const void *b)
{
        const struct ez_extent *x = a, *y = b;

        return x->off < y->off ? -1 : x->off > y->off;
}

static int check_inside(const struct ez_layout *l, const struct ez_extent *e, const char *what,
                        struct ez_err *err)
{
        if (e->off > l->target_size || e->len > l->target_size - e->off)
                return ez_err_set(err, -EINVAL,
                                  "%s extent at %#" PRIx64 " (+%" PRIu64 ") ends past the target size %" PRIu64,
                                  what, e->off, e->len, l->target_size);
        return 0;
}

int ez_layout_finish(struct ez_layout *l, uint64_t payload_len, struct ez_err *err)
{
        _cleanup_free_ struct ez_extent *sorted = NULL;
        uint64_t *cum;
        uint64_t sum = 0;
        size_t i, j;
        int r;

        if (l->n_data == 0)
                return ez_err_set(err, -EINVAL, "image has no data extents");

        for (i = 0; i < l->n_data; i++) {
                r = check_inside(l, &l->data[i], "data", err);
                if (r < 0)
                        return r;
                if (l->data[i].len > UINT64_MAX - sum)
                        return ez_err_set(err, -EINVAL, "data extent lengths overflow 64 bits");
                sum += l->data[i].len;
        }
        if (sum != payload_len)
                return ez_err_set(err, -EINVAL,
                                  "data extents hold %" PRIu64 " bytes but the payload has %" PRIu64,
                                  sum, payload_len);

        for (i = 0; i < l->n_zero; i++) {
                r = check_inside(l, &l->zero[i], "zero", err);
                if (r < 0)
                        return r;
                if (i > 0 && l->zero[i - 1].off + l->zero[i - 1].len > l->zero[i].off)
                        return ez_err_set(err, -EINVAL, "zero ranges at %#" PRIx64 " and %#" PRIx64
                                          " overlap or are not sorted",
                                          l->zero[i - 1].off, l->zero[i].off);
        }

        sorted = malloc(l->n_data * sizeof(*sorted));
        if (!sorted)
                return ez_err_set(err, -ENOMEM, "out of memory");
        memcpy(sorted, l->data, l->n_data * sizeof(*sorted));
        qsort(sorted, l->n_data, sizeof(*sorted), cmp_extent);
        for (i = 1; i < l->n_data; i++)
                if (sorted[i - 1].off + sorted[i - 1].len > sorted[i].off)
                        return ez_err_set(err, -EINVAL, "data extents at %#" PRIx64 " and %#" PRIx64 " overlap",
                                          sorted[i - 1].off, sorted[i].off);

        /* data against zero ranges: a merge walk over both sorted lists */
        for (i = 0, j = 0; i < l->n_data && j < l->n_zero; ) {
                const struct ez_extent *d = &sorted[i], *z = &l->zero[j];

                if (d->off + d->len <= z->off)
                        i++;
                else if (z->off + z->len <= d->off)
                        j++;
                else
                        return ez_err_set(err, -EINVAL, "data extent at %#" PRIx64 " overlaps zero range at %#" PRIx64,
                                          d->off, z->off);
        }

        cum = malloc((l->n_data + 1) * sizeof(*cum));
        if (!cum)
                return ez_err_set(err, -ENOMEM, "out of memory");
        cum[0] = 0;
        for (i = 0; i < l->n_data; i++)
                cum[i + 1] = cum[i] + l->data[i].len;
        free(l->payload_off);
        l->payload_off = cum;
        l->payload_len = payload_len;
        l->finished = true;
        return 0;
}

int ez_layout_map(const struct ez_layout *l, uint64_t poff, uint64_t len,
                  uint64_t *ret_off, uint64_t *ret_run)
{
        size_t lo = 0, hi, mid;
        uint64_t in, avail;

        if (!l->finished || poff >= l->payload_len)
                return -ERANGE;
        /* find the last i with payload_off[i] <= poff */
        hi = l->n_data;
        while (hi - lo > 1) {
                mid = lo + (hi - lo) / 2;
                if (l->payload_off[mid] <= poff)
                        lo = mid;
                else
                        hi = mid;
        }
        in = poff - l->payload_off[lo];
        avail = l->data[lo].len - in;
        *ret_off = l->data[lo].off + in;
        *ret_run = len < avail ? len : avail;
        return 0;
}

static void put_varint(uint8_t **p, uint64_t v)
{
        while (v >= 0x80) {
                *(*p)++ = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        *(*p)++ = (uint8_t)v;
}

int ez_layout_encode(const struct ez_extent *ext, size_t n, uint32_t block_size,
                     uint64_t target_size, uint8_t **ret_buf, size_t *ret_len,
                     struct ez_err *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t *p;
        uint64_t prev_end = 0;  /* in blocks */
        size_t i;

        if (n > EZ_LAYOUT_MAX_EXTENTS)
                return ez_err_set(err, -E2BIG, "more than %u extents", EZ_LAYOUT_MAX_EXTENTS);
        buf = malloc(n * 20 + 1);       /* two varints of at most 10 bytes */
        if (!buf)
                return ez_err_set(err, -ENOMEM, "out of memory");
        p = buf;
        for (i = 0; i < n; i++) {
                uint64_t off = ext[i].off, len = ext[i].len, sb, lb;

                if (off % block_size || (len % block_size && off + len != target_size) || len == 0)
                        return ez_err_set(err, -EINVAL, "extent at %#" PRIx64 " (+%" PRIu64 ") is not aligned to %" PRIu32,
                                          off, len, block_size);
                sb = off / block_size;
                lb = (len + block_size - 1) / block_size;
                if (sb < prev_end)
                        return ez_err_set(err, -EINVAL, "extent at %#" PRIx64 " is not sorted", off);
                put_varint(&p, sb - prev_end);
                put_varint(&p, lb);
                prev_end = sb + lb;
        }
        *ret_len = (size_t)(p - buf);
        *ret_buf = TAKE_PTR(buf);
        return 0;
}

static int get_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *ret)
{
        uint64_t v = 0;
        unsigned shift = 0;

        for (;;) {
                uint8_t b;

                if (*pos >= len)
                        return -1;
                b = buf[(*pos)++];
                if (shift == 63 && (b & 0x7e))
                        return -1;      /* more than 64 bits */
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        break;
                shift += 7;
                if (shift > 63)
                        return -1;
        }
        *ret = v;
        return 0;
}

int ez_layout_decode(struct ez_layout *l, const uint8_t *buf, size_t len, bool zero,
                     struct ez_err *err)
{
        const char *what = zero ? "zero-range map" : "extent map";
        uint64_t bs = l->block_size, end_blocks = 0;
        uint64_t total_blocks = l->target_size / bs + (l->target_size % bs != 0);
        size_t pos = 0;
        int r;

        while (pos < len) {
                uint64_t gap, nb, start, off, blen;

                if (get_varint(buf, len, &pos, &gap) < 0 || get_varint(buf, len, &pos, &nb) < 0)
                        return ez_err_set(err, -EINVAL, "%s: truncated or overlong number at byte %zu", what, pos);
                if (nb == 0)
                        return ez_err_set(err, -EINVAL, "%s: empty extent at byte %zu", what, pos);
                if (gap > total_blocks - end_blocks || nb > total_blocks - end_blocks - gap)
                        return ez_err_set(err, -EINVAL, "%s: extent ends past the target size %" PRIu64,
                                          what, l->target_size);
                start = end_blocks + gap;
                end_blocks = start + nb;
                off = start * bs;
                /* only the last, partial block is clamped; no product can wrap */
                blen = end_blocks > l->target_size / bs ? l->target_size - off : nb * bs;
                r = zero ? ez_layout_add_zero(l, off, blen, err) : ez_layout_add_data(l, off, blen, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

const char *ez_layout_kind_name(enum ez_layout_kind k)
{
        return k == EZ_LAYOUT_DISK ? "disk" : "partition";
}

int ez_layout_kind_parse(const char *s, size_t len, enum ez_layout_kind *ret)
{
        if (len == 4 && memcmp(s, "disk", 4) == 0)
                *ret = EZ_LAYOUT_DISK;
        else if (len == 9 && memcmp(s, "partition", 9) == 0)
                *ret = EZ_LAYOUT_PARTITION;
        else
                return -EINVAL;
        return 0;
}
