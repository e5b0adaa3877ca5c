/*
 * check_layout.c - unit tests for extent maps (ezio-deploy/lib/layout.c).
 *
 * Covers layout creation (block size and target size checks), merging of
 * adjacent extents, validation by ez_layout_finish (overlaps, extents past
 * the target, 64-bit overflow, payload length mismatch), mapping payload
 * offsets to target offsets across extent boundaries, and the varint
 * encoding of extent lists: round trips, exact bytes, and hostile encoded
 * maps (truncated or overlong varints, extents past the target, empty
 * extents).  Encoded maps are decoded from exact-size heap copies so that
 * sanitizers catch any read past the end.
 */
#include <errno.h>
#include <stdint.h>

#include "layout.h"
#include "testutil.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define KiB 1024ULL
#define MiB (1024ULL * 1024)

#define MAX_EXT 8

/* ------------------------------------------------------------------ */
/* ez_layout_new                                                       */

struct new_case {
        uint64_t target;
        uint32_t bs;
        int rc;
};

static const struct new_case new_cases[] = {
        { 1 * MiB, 512, 0 },
        { 1 * MiB, 4096, 0 },
        { 1 * MiB, 1u << 20, 0 },
        { 1, 0x80000000u, 0 },
        { 1, 512, 0 },
        { UINT64_MAX, 4096, 0 },
        /* hostile */
        { 1 * MiB, 0, -EINVAL },
        { 1 * MiB, 1, -EINVAL },
        { 1 * MiB, 100, -EINVAL },
        { 1 * MiB, 256, -EINVAL },
        { 1 * MiB, 511, -EINVAL },
        { 1 * MiB, 513, -EINVAL },
        { 1 * MiB, 3000, -EINVAL },
        { 1 * MiB, 4097, -EINVAL },
        { 1 * MiB, 0xffffffffu, -EINVAL },
        { 1 * MiB, 0x80000001u, -EINVAL },
        { 0, 512, -EINVAL },
        { 0, 4096, -EINVAL },
        { 0, 100, -EINVAL },
};

START_TEST(test_new)
{
        const struct new_case *c = &new_cases[_i];
        struct ez_layout *l = NULL;
        struct ez_err err = { "" };
        int r = ez_layout_new(c->target, c->bs, EZ_LAYOUT_DISK, &l, &err);

        ck_assert_msg(r == c->rc, "target %llu bs %u: got %d, want %d", (unsigned long long)c->target,
                      c->bs, r, c->rc);
        if (r < 0) {
                ck_assert_ptr_null(l);
                ck_assert_str_ne(err.msg, "");
                return;
        }
        ck_assert_uint_eq(l->target_size, c->target);
        ck_assert_uint_eq(l->block_size, c->bs);
        ck_assert_int_eq(l->kind, EZ_LAYOUT_DISK);
        ck_assert_uint_eq(l->n_data, 0);
        ck_assert_uint_eq(l->n_zero, 0);
        ck_assert(!l->finished);
        ez_layout_free(l);
}
END_TEST

/* ------------------------------------------------------------------ */
/* merging                                                             */

struct merge_case {
        const char *name;
        bool zero;
        struct ez_extent add[MAX_EXT];
        size_t n_add;
        struct ez_extent want[MAX_EXT];
        size_t n_want;
};

static const struct merge_case merge_cases[] = {
        { "adjacent", false, { { 0, 4096 }, { 4096, 4096 } }, 2, { { 0, 8192 } }, 1 },
        { "three adjacent", false, { { 512, 512 }, { 1024, 1000 }, { 2024, 24 } }, 3, { { 512, 1536 } }, 1 },
        { "adjacent zero ranges", true, { { 0, 4096 }, { 4096, 4096 } }, 2, { { 0, 8192 } }, 1 },
        { "gap", false, { { 0, 512 }, { 1024, 512 } }, 2, { { 0, 512 }, { 1024, 512 } }, 2 },
        { "backwards adjacent", false, { { 4096, 4096 }, { 0, 4096 } }, 2, { { 4096, 4096 }, { 0, 4096 } }, 2 },
        { "zero length ignored", false, { { 0, 4096 }, { 8192, 0 }, { 4096, 4096 } }, 3, { { 0, 8192 } }, 1 },
        { "only zero length", false, { { 0, 0 }, { 4096, 0 } }, 2, { { 0, 0 } }, 0 },
        { "merge then gap", false, { { 0, 1 }, { 1, 1 }, { 3, 1 }, { 4, 1 } }, 4, { { 0, 2 }, { 3, 2 } }, 2 },
        /* hostile: an extent that wraps must not be merged into anything */
        { "wrapped end", false, { { UINT64_MAX - 10, 20 }, { 9, 5 } }, 2,
          { { UINT64_MAX - 10, 20 }, { 9, 5 } }, 2 },
        { "merge would overflow length", false, { { 0, UINT64_MAX }, { UINT64_MAX, 1 } }, 2,
          { { 0, UINT64_MAX }, { UINT64_MAX, 1 } }, 2 },
        { "merge reaching 2^64", false, { { 0, UINT64_MAX - 1 }, { UINT64_MAX - 1, 1 } }, 2,
          { { 0, UINT64_MAX } }, 1 },
};

START_TEST(test_merge)
{
        const struct merge_case *c = &merge_cases[_i];
        struct ez_layout *l;
        struct ez_err err = { "" };
        const struct ez_extent *got;
        size_t n, k;

        ck_assert_int_eq(ez_layout_new(UINT64_MAX, 512, EZ_LAYOUT_PARTITION, &l, &err), 0);
        for (k = 0; k < c->n_add; k++) {
                int r = c->zero ? ez_layout_add_zero(l, c->add[k].off, c->add[k].len, &err)
                                : ez_layout_add_data(l, c->add[k].off, c->add[k].len, &err);

                ck_assert_int_eq(r, 0);
        }
        got = c->zero ? l->zero : l->data;
        n = c->zero ? l->n_zero : l->n_data;
        ck_assert_msg(n == c->n_want, "%s: %zu extents, want %zu", c->name, n, c->n_want);
        for (k = 0; k < n; k++) {
                ck_assert_uint_eq(got[k].off, c->want[k].off);
                ck_assert_uint_eq(got[k].len, c->want[k].len);
        }
        /* the other list is untouched */
        ck_assert_uint_eq(c->zero ? l->n_data : l->n_zero, 0);
        ez_layout_free(l);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ez_layout_finish                                                    */

struct finish_case {
        const char *name;
        uint64_t target;
        struct ez_extent data[MAX_EXT];
        size_t n_data;
        struct ez_extent zero[MAX_EXT];
        size_t n_zero;
        uint64_t payload;
        int rc;
        const char *why;        /* a word the message must contain, if set */
};

static const struct finish_case finish_cases[] = {
        { "one extent, whole target", 1 * MiB, { { 0, 1 * MiB } }, 1, { { 0, 0 } }, 0, 1 * MiB, 0, NULL },
        { "sorted with zero ranges", 1 * MiB,
          { { 0, 4096 }, { 8192, 4096 }, { 65536, 8192 } }, 3,
          { { 4096, 4096 }, { 12288, 4096 }, { 73728, 1 * MiB - 73728 } }, 3, 16384, 0, NULL },
        { "unsorted data in payload order", 1 * MiB,
          { { 65536, 4096 }, { 0, 4096 }, { 8192, 512 } }, 3, { { 0, 0 } }, 0, 8704, 0, NULL },
        { "data touching zero ranges", 16384,
          { { 4096, 4096 } }, 1, { { 0, 4096 }, { 8192, 8192 } }, 2, 4096, 0, NULL },
        { "extent ends at target", 10000, { { 8192, 1808 } }, 1, { { 0, 8192 } }, 1, 1808, 0, NULL },
        { "unaligned compat extents", 1000, { { 7, 3 }, { 1, 5 } }, 2, { { 0, 0 } }, 0, 8, 0, NULL },
        { "huge target", UINT64_MAX, { { UINT64_MAX - 4096, 4096 }, { 0, 1 } }, 2,
          { { 4096, 4096 } }, 1, 4097, 0, NULL },
        /* hostile */
        { "overlapping data", 1 * MiB, { { 0, 8192 }, { 4096, 8192 } }, 2, { { 0, 0 } }, 0, 16384, -EINVAL, NULL },
        { "overlapping data, unsorted", 1 * MiB, { { 8192, 4096 }, { 4096, 8192 } }, 2, { { 0, 0 } }, 0,
          12288, -EINVAL, NULL },
        { "identical data", 1 * MiB, { { 0, 4096 }, { 8192, 4096 }, { 0, 4096 } }, 3, { { 0, 0 } }, 0,
          12288, -EINVAL, NULL },
        { "data contains data", 1 * MiB, { { 0, 65536 }, { 100000, 1 }, { 4096, 1 } }, 3, { { 0, 0 } }, 0,
          65538, -EINVAL, NULL },
        { "data past target", 8192, { { 4096, 8192 } }, 1, { { 0, 0 } }, 0, 8192, -EINVAL, NULL },
        { "data one byte past target", 8192, { { 0, 8193 } }, 1, { { 0, 0 } }, 0, 8193, -EINVAL, NULL },
        { "data starts past target", 8192, { { 16384, 512 } }, 1, { { 0, 0 } }, 0, 512, -EINVAL, NULL },
        { "data starts at target", 8192, { { 8192, 1 } }, 1, { { 0, 0 } }, 0, 1, -EINVAL, NULL },
        { "data off+len wraps", 1 * MiB, { { UINT64_MAX - 10, 20 } }, 1, { { 0, 0 } }, 0, 20, -EINVAL, NULL },
        { "data off+len wraps, max target", UINT64_MAX, { { UINT64_MAX - 10, 20 } }, 1, { { 0, 0 } }, 0,
          20, -EINVAL, NULL },
        { "second data wraps", UINT64_MAX, { { 0, 4096 }, { UINT64_MAX - 100, 4096 } }, 2, { { 0, 0 } }, 0,
          8192, -EINVAL, NULL },
        { "data overlaps zero", 1 * MiB, { { 0, 8192 } }, 1, { { 4096, 4096 } }, 1, 8192, -EINVAL, NULL },
        { "data overlaps zero tail", 1 * MiB, { { 4096, 8192 } }, 1, { { 0, 4097 } }, 1, 8192, -EINVAL, NULL },
        { "zero inside data", 1 * MiB, { { 0, 65536 } }, 1, { { 100, 1 } }, 1, 65536, -EINVAL, NULL },
        { "late data overlaps zero", 1 * MiB, { { 0, 512 }, { 1024, 512 }, { 8192, 512 } }, 3,
          { { 512, 512 }, { 2048, 4096 }, { 8000, 200 } }, 3, 1536, -EINVAL, NULL },
        { "zero ranges overlap", 1 * MiB, { { 0, 4096 } }, 1, { { 8192, 8192 }, { 12288, 8192 } }, 2,
          4096, -EINVAL, NULL },
        { "zero ranges unsorted", 1 * MiB, { { 0, 4096 } }, 1, { { 16384, 512 }, { 8192, 512 } }, 2,
          4096, -EINVAL, NULL },
        { "zero ranges identical", 1 * MiB, { { 0, 4096 } }, 1, { { 8192, 512 }, { 9000, 1 }, { 8192, 512 } }, 3,
          4096, -EINVAL, NULL },
        { "zero past target", 8192, { { 0, 4096 } }, 1, { { 4096, 8192 } }, 1, 4096, -EINVAL, NULL },
        { "zero off+len wraps", UINT64_MAX, { { 0, 4096 } }, 1, { { UINT64_MAX - 10, 20 } }, 1, 4096, -EINVAL, NULL },
        { "payload too short", 1 * MiB, { { 0, 4096 }, { 8192, 4096 } }, 2, { { 0, 0 } }, 0, 8191, -EINVAL, NULL },
        { "payload too long", 1 * MiB, { { 0, 4096 }, { 8192, 4096 } }, 2, { { 0, 0 } }, 0, 8193, -EINVAL, NULL },
        { "payload zero", 1 * MiB, { { 0, 4096 } }, 1, { { 0, 0 } }, 0, 0, -EINVAL, NULL },
        /* lengths whose wrapped sum is given as the payload length: only
         * the overflow check can catch it */
        { "length sum overflows", UINT64_MAX, { { 0, UINT64_MAX - 1 }, { 1, UINT64_MAX - 1 } }, 2,
          { { 0, 0 } }, 0, UINT64_MAX - 3, -EINVAL, "overflow" },
        { "length sum overflows by one", UINT64_MAX, { { 0, UINT64_MAX }, { 0, 1 } }, 2,
          { { 0, 0 } }, 0, 0, -EINVAL, "overflow" },
        { "no data extents", 1 * MiB, { { 0, 0 } }, 0, { { 0, 4096 } }, 1, 0, -EINVAL, NULL },
        { "nothing at all", 1 * MiB, { { 0, 0 } }, 0, { { 0, 0 } }, 0, 0, -EINVAL, NULL },
        { "only zero-length data", 1 * MiB, { { 0, 0 }, { 4096, 0 } }, 2, { { 0, 0 } }, 0, 0, -EINVAL, NULL },
};

/* Build a layout from a finish case, without finishing it. */
static struct ez_layout *build(uint64_t target, uint32_t bs, const struct ez_extent *data, size_t n_data,
                               const struct ez_extent *zero, size_t n_zero)
{
        struct ez_layout *l;
        struct ez_err err = { "" };
        size_t k;

        ck_assert_int_eq(ez_layout_new(target, bs, EZ_LAYOUT_PARTITION, &l, &err), 0);
        for (k = 0; k < n_data; k++)
                ck_assert_int_eq(ez_layout_add_data(l, data[k].off, data[k].len, &err), 0);
        for (k = 0; k < n_zero; k++)
                ck_assert_int_eq(ez_layout_add_zero(l, zero[k].off, zero[k].len, &err), 0);
        return l;
}

START_TEST(test_finish)
{
        const struct finish_case *c = &finish_cases[_i];
        struct ez_layout *l = build(c->target, 512, c->data, c->n_data, c->zero, c->n_zero);
        struct ez_err err = { "" };
        int r = ez_layout_finish(l, c->payload, &err);
        size_t k;

        if (r != c->rc)
                ez_layout_free(l);
        ck_assert_msg(r == c->rc, "%s: got %d (%s), want %d", c->name, r, err.msg, c->rc);
        if (r < 0) {
                ck_assert_msg(err.msg[0] != '\0', "%s: no message", c->name);
                if (c->why)
                        ck_assert_msg(strstr(err.msg, c->why) != NULL, "%s: message '%s' lacks '%s'",
                                      c->name, err.msg, c->why);
                ck_assert(!l->finished);
                ez_layout_free(l);
                return;
        }
        ck_assert(l->finished);
        ck_assert_uint_eq(l->payload_len, c->payload);
        ck_assert_ptr_nonnull(l->payload_off);
        ck_assert_uint_eq(l->payload_off[0], 0);
        for (k = 0; k < l->n_data; k++)
                ck_assert_uint_eq(l->payload_off[k + 1], l->payload_off[k] + l->data[k].len);
        ck_assert_uint_eq(l->payload_off[l->n_data], c->payload);
        /* finishing again is harmless */
        ck_assert_int_eq(ez_layout_finish(l, c->payload, &err), 0);
        ez_layout_free(l);
}
END_TEST

/* A NULL err must be accepted on every failure path. */
START_TEST(test_finish_null_err)
{
        const struct finish_case *c = &finish_cases[_i];
        struct ez_layout *l = build(c->target, 512, c->data, c->n_data, c->zero, c->n_zero);
        int r = ez_layout_finish(l, c->payload, NULL);

        ez_layout_free(l);
        ck_assert_int_eq(r, c->rc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ez_layout_map                                                       */

/* payload order: A = [8192, +4096), B = [0, +4096), C = [65536, +12288) */
static const struct ez_extent map_data[] = { { 8192, 4096 }, { 0, 4096 }, { 65536, 12288 } };
#define MAP_PAYLOAD 20480ULL

struct map_case {
        uint64_t poff, len;
        int rc;
        uint64_t off, run;
};

static const struct map_case map_cases[] = {
        { 0, 1, 0, 8192, 1 },
        { 0, 4096, 0, 8192, 4096 },
        { 0, 100000, 0, 8192, 4096 },
        { 100, 0, 0, 8292, 0 },
        { 4095, 1, 0, 12287, 1 },
        { 4095, 100, 0, 12287, 1 },             /* last byte of A */
        { 4096, 1, 0, 0, 1 },                   /* first byte of B */
        { 4096, 8192, 0, 0, 4096 },
        { 8191, 2, 0, 4095, 1 },                /* last byte of B */
        { 8192, 1, 0, 65536, 1 },               /* first byte of C */
        { 10000, UINT64_MAX, 0, 67344, 10480 },
        { 20479, 1, 0, 77823, 1 },              /* last payload byte */
        { 20479, UINT64_MAX, 0, 77823, 1 },
        /* hostile */
        { MAP_PAYLOAD, 1, -ERANGE, 0, 0 },
        { MAP_PAYLOAD + 1, 1, -ERANGE, 0, 0 },
        { 1ULL << 40, 1, -ERANGE, 0, 0 },
        { UINT64_MAX, 1, -ERANGE, 0, 0 },
        { UINT64_MAX, 0, -ERANGE, 0, 0 },
};

START_TEST(test_map)
{
        const struct map_case *c = &map_cases[_i];
        struct ez_layout *l = build(1 * MiB, 4096, map_data, N_ELEMS(map_data), NULL, 0);
        struct ez_err err = { "" };
        uint64_t off = 0xdead, run = 0xbeef;
        int r;

        ck_assert_int_eq(ez_layout_finish(l, MAP_PAYLOAD, &err), 0);
        r = ez_layout_map(l, c->poff, c->len, &off, &run);
        ez_layout_free(l);
        ck_assert_msg(r == c->rc, "poff %llu: got %d, want %d", (unsigned long long)c->poff, r, c->rc);
        if (r == 0) {
                ck_assert_msg(off == c->off && run == c->run, "poff %llu len %llu: got %llu+%llu, want %llu+%llu",
                              (unsigned long long)c->poff, (unsigned long long)c->len,
                              (unsigned long long)off, (unsigned long long)run,
                              (unsigned long long)c->off, (unsigned long long)c->run);
        } else {
                /* outputs untouched on failure */
                ck_assert_uint_eq(off, 0xdead);
                ck_assert_uint_eq(run, 0xbeef);
        }
}
END_TEST

/* Many extents in reverse target order: every first and last byte of
 * every extent maps where it should (exercises the binary search). */
static const size_t map_many_counts[] = { 1, 2, 3, 7, 64, 1000, 4097 };

START_TEST(test_map_many)
{
        const size_t n = map_many_counts[_i];
        const uint64_t bs = 4096;
        struct ez_layout *l;
        struct ez_err err = { "" };
        uint64_t payload = 0, poff = 0, off, run;
        size_t k;

        ck_assert_int_eq(ez_layout_new(2 * 4 * bs * n, 4096, EZ_LAYOUT_DISK, &l, &err), 0);
        for (k = 0; k < n; k++) {
                uint64_t len = (k % 3 + 1) * bs - (k % 2);

                ck_assert_int_eq(ez_layout_add_data(l, (n - 1 - k) * 4 * bs, len, &err), 0);
                payload += len;
        }
        ck_assert_uint_eq(l->n_data, n);
        ck_assert_int_eq(ez_layout_finish(l, payload, &err), 0);
        for (k = 0; k < n; k++) {
                uint64_t start = (n - 1 - k) * 4 * bs, len = (k % 3 + 1) * bs - (k % 2);

                ck_assert_int_eq(ez_layout_map(l, poff, UINT64_MAX, &off, &run), 0);
                ck_assert_uint_eq(off, start);
                ck_assert_uint_eq(run, len);
                ck_assert_int_eq(ez_layout_map(l, poff + len - 1, UINT64_MAX, &off, &run), 0);
                ck_assert_uint_eq(off, start + len - 1);
                ck_assert_uint_eq(run, 1);
                poff += len;
        }
        ck_assert_uint_eq(poff, payload);
        ck_assert_int_eq(ez_layout_map(l, payload, 1, &off, &run), -ERANGE);
        ez_layout_free(l);
}
END_TEST

START_TEST(test_map_unfinished)
{
        struct ez_layout *l = build(1 * MiB, 4096, map_data, N_ELEMS(map_data), NULL, 0);
        struct ez_err err = { "" };
        uint64_t off, run;

        ck_assert_int_eq(ez_layout_map(l, 0, 1, &off, &run), -ERANGE);
        /* a failed finish leaves it unmappable */
        ck_assert_int_eq(ez_layout_finish(l, MAP_PAYLOAD + 1, &err), -EINVAL);
        ck_assert_int_eq(ez_layout_map(l, 0, 1, &off, &run), -ERANGE);
        ez_layout_free(l);
        ez_layout_free(NULL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* encode / decode round trip                                          */

struct rt_case {
        const char *name;
        uint64_t target;
        uint32_t bs;
        bool zero;
        struct ez_extent ext[MAX_EXT];
        size_t n;
        const uint8_t *bytes;   /* expected encoding, if not NULL */
        size_t n_bytes;
};

static const uint8_t rt_bytes_simple[] = { 0x01, 0x02, 0x02, 0x01 };
static const uint8_t rt_bytes_clamped[] = { 0x00, 0x01, 0x01, 0x01 };
static const uint8_t rt_bytes_big[] = { 0x80, 0x80, 0x80, 0x80, 0x01, 0x80, 0x01 };
static const uint8_t rt_bytes_empty[] = { 0 };

static const struct rt_case rt_cases[] = {
        { "simple", 1 * MiB, 4096, false, { { 4096, 8192 }, { 20480, 4096 } }, 2, rt_bytes_simple, 4 },
        { "whole target", 1 * MiB, 4096, false, { { 0, 1 * MiB } }, 1, NULL, 0 },
        { "clamped last block", 10000, 4096, false, { { 0, 4096 }, { 8192, 1808 } }, 2, rt_bytes_clamped, 4 },
        { "clamped whole target", 10000, 4096, false, { { 0, 10000 } }, 1, NULL, 0 },
        { "clamped one byte", 4097, 512, false, { { 512, 512 }, { 4096, 1 } }, 2, NULL, 0 },
        { "clamped zero range", 10000, 4096, true, { { 4096, 5904 } }, 1, NULL, 0 },
        { "zero ranges", 1 * MiB, 512, true, { { 0, 512 }, { 1024, 512 }, { 1 * MiB - 512, 512 } }, 3, NULL, 0 },
        { "multi-byte varints", 1ULL << 44, 4096, false, { { 1ULL << 40, 1ULL << 19 } }, 1, rt_bytes_big, 7 },
        { "large", 1ULL << 62, 512, false,
          { { 0, 512 }, { 1ULL << 40, 1ULL << 30 }, { (1ULL << 61) + 4096, (1ULL << 61) - 4096 } }, 3, NULL, 0 },
        { "max block size", 5ULL << 20, 1u << 20, false, { { 1u << 20, 1u << 20 }, { 4u << 20, 1u << 20 } }, 2,
          NULL, 0 },
        { "nothing", 1 * MiB, 4096, true, { { 0, 0 } }, 0, rt_bytes_empty, 0 },
        /* regression: the target's block count was (size + bs - 1) / bs,
         * which wrapped for a target of 2^64 - 1 bytes and refused every
         * extent of a map ez_layout_encode had made */
        { "target 2^64-1", UINT64_MAX, 512, false,
          { { 0, 512 }, { UINT64_MAX - 511, 511 } }, 2, NULL, 0 },
};

START_TEST(test_roundtrip)
{
        const struct rt_case *c = &rt_cases[_i];
        struct ez_layout *l;
        struct ez_err err = { "" };
        uint8_t *enc = NULL, *copy;
        size_t enc_len = 0, k, n;
        const struct ez_extent *got;
        int r;

        r = ez_layout_encode(c->ext, c->n, c->bs, c->target, &enc, &enc_len, &err);
        ck_assert_msg(r == 0, "%s: encode: %s", c->name, err.msg);
        ck_assert_ptr_nonnull(enc);
        if (c->bytes) {
                ck_assert_uint_eq(enc_len, c->n_bytes);
                if (enc_len)
                        ck_assert_mem_eq(enc, c->bytes, enc_len);
        }
        copy = malloc(enc_len ? enc_len : 1);
        ck_assert_ptr_nonnull(copy);
        if (enc_len)
                memcpy(copy, enc, enc_len);
        free(enc);

        ck_assert_int_eq(ez_layout_new(c->target, c->bs, EZ_LAYOUT_DISK, &l, &err), 0);
        r = ez_layout_decode(l, copy, enc_len, c->zero, &err);
        free(copy);
        if (r < 0)
                ez_layout_free(l);      /* nothing leaks when this fails */
        ck_assert_msg(r == 0, "%s: decode: %s", c->name, err.msg);
        got = c->zero ? l->zero : l->data;
        n = c->zero ? l->n_zero : l->n_data;
        ck_assert_uint_eq(n, c->n);
        for (k = 0; k < n; k++) {
                ck_assert_msg(got[k].off == c->ext[k].off && got[k].len == c->ext[k].len,
                              "%s: extent %zu is %llu+%llu, want %llu+%llu", c->name, k,
                              (unsigned long long)got[k].off, (unsigned long long)got[k].len,
                              (unsigned long long)c->ext[k].off, (unsigned long long)c->ext[k].len);
        }
        ck_assert_uint_eq(c->zero ? l->n_data : l->n_zero, 0);
        ez_layout_free(l);
}
END_TEST

/* Extents that touch encode with a zero gap and decode merged. */
START_TEST(test_roundtrip_touching_merges)
{
        static const struct ez_extent in[] = { { 0, 4096 }, { 4096, 4096 }, { 16384, 4096 } };
        struct ez_layout *l;
        struct ez_err err = { "" };
        uint8_t *enc;
        size_t len;

        ck_assert_int_eq(ez_layout_encode(in, 3, 4096, 1 * MiB, &enc, &len, &err), 0);
        ck_assert_uint_eq(len, 6);
        ck_assert_int_eq(ez_layout_new(1 * MiB, 4096, EZ_LAYOUT_DISK, &l, &err), 0);
        ck_assert_int_eq(ez_layout_decode(l, enc, len, false, &err), 0);
        free(enc);
        ck_assert_uint_eq(l->n_data, 2);
        ck_assert_uint_eq(l->data[0].off, 0);
        ck_assert_uint_eq(l->data[0].len, 8192);
        ck_assert_uint_eq(l->data[1].off, 16384);
        ck_assert_uint_eq(l->data[1].len, 4096);
        ez_layout_free(l);
}
END_TEST

/* ------------------------------------------------------------------ */
/* hostile encode input                                                */

struct enc_bad_case {
        const char *name;
        uint64_t target;
        uint32_t bs;
        struct ez_extent ext[MAX_EXT];
        size_t n;
        int rc;
};

static const struct enc_bad_case enc_bad_cases[] = {
        { "unsorted", 1 * MiB, 4096, { { 8192, 4096 }, { 0, 4096 } }, 2, -EINVAL },
        { "overlapping", 1 * MiB, 4096, { { 0, 8192 }, { 4096, 4096 } }, 2, -EINVAL },
        { "duplicate", 1 * MiB, 4096, { { 0, 4096 }, { 0, 4096 } }, 2, -EINVAL },
        { "unaligned offset", 1 * MiB, 4096, { { 100, 4096 } }, 1, -EINVAL },
        { "unaligned offset, 512", 1 * MiB, 4096, { { 512, 4096 } }, 1, -EINVAL },
        { "unaligned length", 1 * MiB, 4096, { { 0, 100 } }, 1, -EINVAL },
        { "unaligned length mid-list", 10000, 4096, { { 0, 4000 }, { 8192, 1808 } }, 2, -EINVAL },
        { "unaligned length past target", 10000, 4096, { { 8192, 2000 } }, 1, -EINVAL },
        { "zero length", 1 * MiB, 4096, { { 0, 0 } }, 1, -EINVAL },
        { "zero length later", 1 * MiB, 4096, { { 0, 4096 }, { 8192, 0 } }, 2, -EINVAL },
};

START_TEST(test_encode_bad)
{
        const struct enc_bad_case *c = &enc_bad_cases[_i];
        struct ez_err err = { "" };
        uint8_t *enc = NULL;
        size_t len = 12345;
        int r = ez_layout_encode(c->ext, c->n, c->bs, c->target, &enc, &len, &err);

        if (r == 0)
                free(enc);
        ck_assert_msg(r == c->rc, "%s: got %d, want %d", c->name, r, c->rc);
        ck_assert_ptr_null(enc);
        ck_assert_uint_eq(len, 12345);
        ck_assert_msg(err.msg[0] != '\0', "%s: no message", c->name);
}
END_TEST

/* ------------------------------------------------------------------ */
/* hostile decode input                                                */

struct dec_bad_case {
        const char *name;
        uint64_t target;
        uint32_t bs;
        uint8_t bytes[32];
        size_t len;
        int rc;
};

#define FF9 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
#define X80_10 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80

static const struct dec_bad_case dec_bad_cases[] = {
        { "lone continuation byte", 1 * MiB, 4096, { 0x80 }, 1, -EINVAL },
        { "gap without length", 1 * MiB, 4096, { 0x01 }, 1, -EINVAL },
        { "truncated length", 1 * MiB, 4096, { 0x00, 0x81 }, 2, -EINVAL },
        { "truncated second extent", 1 * MiB, 4096, { 0x00, 0x01, 0x01 }, 3, -EINVAL },
        { "truncated long varint", 1 * MiB, 4096, { FF9 }, 9, -EINVAL },
        { "11-byte varint", 1 * MiB, 4096, { X80_10, 0x00, 0x01 }, 12, -EINVAL },
        { "11-byte length", 1 * MiB, 4096, { 0x00, X80_10, 0x01 }, 12, -EINVAL },
        { "varint over 64 bits", 1 * MiB, 4096, { FF9, 0x02, 0x01 }, 11, -EINVAL },
        { "varint over 64 bits, high", 1 * MiB, 4096, { FF9, 0x7f, 0x01 }, 11, -EINVAL },
        /* bits past 64 that would wrap to a small, valid-looking value */
        { "gap over 64 bits, wraps to 0", 1 * MiB, 4096, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
          0x02, 0x01 }, 11, -EINVAL },
        { "length over 64 bits, wraps to 1", 1 * MiB, 4096, { 0x00, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
          0x80, 0x80, 0x02 }, 11, -EINVAL },
        { "uint64 max gap", 1 * MiB, 4096, { FF9, 0x01, 0x01 }, 11, -EINVAL },
        { "uint64 max length", 1 * MiB, 4096, { 0x00, FF9, 0x01 }, 11, -EINVAL },
        { "gap past target", 8192, 4096, { 0x02, 0x01 }, 2, -EINVAL },
        { "gap far past target", 8192, 4096, { 0x7f, 0x01 }, 2, -EINVAL },
        { "length past target", 8192, 4096, { 0x00, 0x03 }, 2, -EINVAL },
        { "length past partial block", 10000, 4096, { 0x00, 0x04 }, 2, -EINVAL },
        { "second extent past target", 8192, 4096, { 0x00, 0x01, 0x00, 0x02 }, 4, -EINVAL },
        { "extent after the last block", 10000, 4096, { 0x00, 0x03, 0x00, 0x01 }, 4, -EINVAL },
        { "gaps adding past target", 1 * MiB, 4096, { 0x80, 0x01, 0x01, 0x80, 0x01, 0x01 }, 6, -EINVAL },
        { "zero-length extent", 1 * MiB, 4096, { 0x00, 0x00 }, 2, -EINVAL },
        { "zero-length after valid", 1 * MiB, 4096, { 0x00, 0x01, 0x05, 0x00 }, 4, -EINVAL },
};

static void run_dec_bad(const struct dec_bad_case *c, bool zero)
{
        struct ez_layout *l;
        struct ez_err err = { "" };
        uint8_t *copy = malloc(c->len);
        int r;

        ck_assert_ptr_nonnull(copy);
        memcpy(copy, c->bytes, c->len);
        ck_assert_int_eq(ez_layout_new(c->target, c->bs, EZ_LAYOUT_PARTITION, &l, &err), 0);
        r = ez_layout_decode(l, copy, c->len, zero, &err);
        free(copy);
        ez_layout_free(l);
        ck_assert_msg(r == c->rc, "%s (%s): got %d, want %d", c->name, zero ? "zero" : "data", r, c->rc);
        ck_assert_msg(err.msg[0] != '\0', "%s: no message", c->name);
}

START_TEST(test_decode_bad_data)
{
        run_dec_bad(&dec_bad_cases[_i], false);
}
END_TEST

START_TEST(test_decode_bad_zero)
{
        run_dec_bad(&dec_bad_cases[_i], true);
}
END_TEST

/* ------------------------------------------------------------------ */
/* kinds                                                               */

struct kind_case {
        const char *s;
        size_t len;
        int rc;
        enum ez_layout_kind kind;
};

static const struct kind_case kind_cases[] = {
        { "disk", 4, 0, EZ_LAYOUT_DISK },
        { "partition", 9, 0, EZ_LAYOUT_PARTITION },
        { "disk\0", 5, -EINVAL, 0 },
        { "dis", 3, -EINVAL, 0 },
        { "Disk", 4, -EINVAL, 0 },
        { "partitions", 10, -EINVAL, 0 },
        { "", 0, -EINVAL, 0 },
};

START_TEST(test_kind)
{
        const struct kind_case *c = &kind_cases[_i];
        enum ez_layout_kind k = (enum ez_layout_kind)42;
        int r = ez_layout_kind_parse(c->s, c->len, &k);

        ck_assert_int_eq(r, c->rc);
        if (r == 0) {
                ck_assert_int_eq(k, c->kind);
                ck_assert_str_eq(ez_layout_kind_name(k), c->s);
        } else {
                ck_assert_int_eq(k, 42);
        }
}
END_TEST

static Suite *layout_suite(void)
{
        Suite *s = suite_create("layout");
        TCase *tc;

        tc = tcase_create("build");
        tcase_add_loop_test(tc, test_new, 0, N_ELEMS(new_cases));
        tcase_add_loop_test(tc, test_merge, 0, N_ELEMS(merge_cases));
        tcase_add_loop_test(tc, test_finish, 0, N_ELEMS(finish_cases));
        tcase_add_loop_test(tc, test_finish_null_err, 0, N_ELEMS(finish_cases));
        tcase_add_loop_test(tc, test_kind, 0, N_ELEMS(kind_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("map");
        tcase_add_loop_test(tc, test_map, 0, N_ELEMS(map_cases));
        tcase_add_loop_test(tc, test_map_many, 0, N_ELEMS(map_many_counts));
        tcase_add_test(tc, test_map_unfinished);
        suite_add_tcase(s, tc);

        tc = tcase_create("coding");
        tcase_add_loop_test(tc, test_roundtrip, 0, N_ELEMS(rt_cases));
        tcase_add_test(tc, test_roundtrip_touching_merges);
        tcase_add_loop_test(tc, test_encode_bad, 0, N_ELEMS(enc_bad_cases));
        tcase_add_loop_test(tc, test_decode_bad_data, 0, N_ELEMS(dec_bad_cases));
        tcase_add_loop_test(tc, test_decode_bad_zero, 0, N_ELEMS(dec_bad_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(layout_suite());
}
