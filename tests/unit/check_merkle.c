/*
 * check_merkle.c - the SHA-256 tree of BEP 52, against a reference written
 * from the BEP's words: 16 KiB leaves, zero leaves up to a power of two,
 * each node the hash of its two children.  The root must not depend on
 * the piece size, however the payload is cut into pieces.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "merkle.h"
#include "testutil.h"

#define B EZ_MERKLE_BLOCK

static const uint8_t *ref_data;
static uint64_t ref_len;

/* The node over leaves [first, first + width) of the whole file. */
static void ref_node(uint64_t first, uint64_t width, uint8_t out[32])
{
        uint8_t pair[64];

        if (width == 1) {
                if (first * B >= ref_len) {
                        memset(out, 0, 32);
                        return;
                }
                ck_assert(EVP_Digest(ref_data + first * B, ref_len - first * B < B ? ref_len - first * B : B,
                                     out, NULL, EVP_sha256(), NULL));
                return;
        }
        ref_node(first, width / 2, pair);
        ref_node(first + width / 2, width / 2, pair + 32);
        ck_assert(EVP_Digest(pair, sizeof(pair), out, NULL, EVP_sha256(), NULL));
}

static void ref_root(uint8_t out[32])
{
        uint64_t w = 1;

        while (w * B < ref_len)
                w *= 2;
        ref_node(0, w, out);
}

static const uint64_t lengths[] = {
        1, B - 1, B, B + 1, 3 * B, 5 * B + 7, 4 * B, 4 * B + 1, 17 * B - 3, (1u << 20) + 1, 40 * B,
};

/* Cut the payload into pieces of every size from 16 KiB to 256 KiB: the
 * piece layer is the reference's nodes at the piece's height, and the
 * root made from the layer is the reference's root. */
START_TEST(test_root_any_piece_size)
{
        uint64_t len = lengths[_i];
        uint8_t *data = malloc(len), *scratch = malloc(128 * 32), *layer = malloc(128 * 32), want[32], got[32];
        uint64_t ps, i;

        ck_assert(data && scratch && layer);
        for (i = 0; i < len; i++)
                data[i] = (uint8_t)(i * 2654435761u >> 13);
        ref_data = data;
        ref_len = len;
        ref_root(want);
        for (ps = B; ps <= 16 * B; ps *= 2) {
                uint64_t n = (len + ps - 1) / ps, leaves = ez_merkle_piece_leaves(ps, len);

                ck_assert_uint_le(leaves, ps / B);
                for (i = 0; i < n; i++) {
                        uint64_t plen = len - i * ps < ps ? len - i * ps : ps;
                        uint8_t node[32];

                        ck_assert_int_eq(ez_merkle_piece(data + i * ps, plen, leaves, scratch, layer + 32 * i), 0);
                        if (leaves == ps / B) {
                                ref_node(i * leaves, leaves, node);
                                ck_assert_msg(memcmp(node, layer + 32 * i, 32) == 0,
                                              "length %" PRIu64 ", pieces of %" PRIu64 ": node of piece %" PRIu64,
                                              len, ps, i);
                        }
                }
                ck_assert_int_eq(ez_merkle_root(layer, n, ps, len, scratch, got), 0);
                ck_assert_msg(memcmp(got, want, 32) == 0, "length %" PRIu64 ", pieces of %" PRIu64 ": root", len, ps);
        }
        /* the incremental form gives the same node */
        if (len <= 16 * B) {
                uint64_t leaves = ez_merkle_piece_leaves(16 * B, len), n = 0, off;

                for (off = 0; off < len; off += B)
                        ck_assert_int_eq(ez_merkle_leaf(data + off, len - off < B ? len - off : B, scratch + 32 * n++), 0);
                ck_assert_int_eq(ez_merkle_reduce(scratch, n, leaves, NULL), 0);
                ck_assert(memcmp(scratch, want, 32) == 0);
        }
        free(data);
        free(scratch);
        free(layer);
}
END_TEST

/* The pad of a missing piece is the node over that many zero leaves. */
START_TEST(test_pad)
{
        uint8_t got[32], want[32], pair[64];

        ck_assert_int_eq(ez_merkle_pad(1, got), 0);
        memset(want, 0, 32);
        ck_assert(memcmp(got, want, 32) == 0);
        ck_assert_int_eq(ez_merkle_pad(4, got), 0);
        memset(pair, 0, 64);
        ck_assert(EVP_Digest(pair, 64, want, NULL, EVP_sha256(), NULL));
        memcpy(pair, want, 32);
        memcpy(pair + 32, want, 32);
        ck_assert(EVP_Digest(pair, 64, want, NULL, EVP_sha256(), NULL));
        ck_assert(memcmp(got, want, 32) == 0);
}
END_TEST

/* One byte changed anywhere changes the root. */
START_TEST(test_one_byte)
{
        uint64_t len = 9 * B + 5, ps = 4 * B, n = 3, i, at;
        uint8_t *data = calloc(1, len), *scratch = malloc(4 * 32), layer[3 * 32], a[32], b[32];

        ck_assert(data && scratch);
        for (i = 0; i < n; i++)
                ck_assert_int_eq(ez_merkle_piece(data + i * ps, len - i * ps < ps ? len - i * ps : ps,
                                                 ez_merkle_piece_leaves(ps, len), scratch, layer + 32 * i), 0);
        ck_assert_int_eq(ez_merkle_root(layer, n, ps, len, scratch, a), 0);
        for (at = 0; at < len; at += B + 1000) {
                data[at] = 1;
                for (i = 0; i < n; i++)
                        ck_assert_int_eq(ez_merkle_piece(data + i * ps, len - i * ps < ps ? len - i * ps : ps,
                                                         ez_merkle_piece_leaves(ps, len), scratch, layer + 32 * i), 0);
                ck_assert_int_eq(ez_merkle_root(layer, n, ps, len, scratch, b), 0);
                ck_assert_msg(memcmp(a, b, 32) != 0, "a byte at %" PRIu64 " does not change the root", at);
                data[at] = 0;
        }
        free(data);
        free(scratch);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("merkle");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_root_any_piece_size, 0, EZ_ARRAY_LEN(lengths));
        tcase_add_test(tc, test_pad);
        tcase_add_test(tc, test_one_byte);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
