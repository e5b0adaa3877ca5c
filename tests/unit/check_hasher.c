/*
 * check_hasher.c - the threaded hasher: every piece's SHA-1 as one
 * thread would compute it, whatever the thread count, piece size and the
 * sizes the bytes arrive in; the payload file it writes; a write that
 * fails.
 */
#include <errno.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "hasher.h"
#include "merkle.h"
#include "testutil.h"

struct hash_case {
        unsigned threads;
        uint64_t piece;
        size_t len;             /* payload bytes */
        size_t step;            /* handed over this many at a time */
        bool reserve;           /* through reserve/commit, else add */
        bool tree;
};

static const struct hash_case hash_cases[] = {
        { 1, 16384, 100000, 100000, false, false },
        { 3, 16384, 100000, 1000, false, true },
        { 2, 65536, 10u << 20, 4u << 20, true, true },
        { 4, 1u << 20, (9u << 20) + 17, 777777, true, false },
        { 2, 8u << 20, 20u << 20, 3u << 20, false, true },      /* batches of a whole piece */
        { 1, 16384, 1, 1, true, true },
        { 8, 16384, 16384, 16384, true, false },
};

START_TEST(test_hash)
{
        const struct hash_case *c = &hash_cases[_i];
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "payload");
        uint8_t *data = malloc(c->len), *back = malloc(c->len);
        struct ez_hasher *h = NULL;
        struct ez_err err = { "" };
        size_t at, i, n_pieces = (size_t)((c->len + c->piece - 1) / c->piece);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

        ck_assert_ptr_nonnull(data);
        ck_assert_ptr_nonnull(back);
        ck_assert_int_ge(fd, 0);
        tu_random(data, c->len, 17 + (unsigned)_i);
        ck_assert_int_eq(ez_hasher_new(c->threads, c->piece, c->len, c->tree, fd, path, &h, &err), 0);
        for (at = 0; at < c->len; at += c->step) {
                size_t n = c->len - at < c->step ? c->len - at : c->step;

                if (c->reserve) {
                        size_t done;

                        for (done = 0; done < n;) {
                                size_t k = n - done < EZ_HASHER_CHUNK ? n - done : EZ_HASHER_CHUNK;
                                uint8_t *dst;

                                ck_assert_int_eq(ez_hasher_reserve(h, &dst, &err), 0);
                                memcpy(dst, data + at + done, k);
                                ck_assert_int_eq(ez_hasher_commit(h, k, &err), 0);
                                done += k;
                        }
                } else {
                        ck_assert_int_eq(ez_hasher_add(h, data + at, n, &err), 0);
                }
        }
        ck_assert_int_eq(ez_hasher_finish(h, &err), 0);
        for (i = 0; i < n_pieces; i++) {
                uint8_t want[20];
                size_t n = c->len - i * c->piece < c->piece ? c->len - i * c->piece : c->piece;

                ck_assert(EVP_Digest(data + i * c->piece, n, want, NULL, EVP_sha1(), NULL));
                ck_assert_msg(memcmp(ez_hasher_pieces(h) + 20 * i, want, 20) == 0, "piece %zu", i);
        }
        if (c->tree) {
                uint8_t root[EZ_MERKLE_HASH], *scratch = malloc(n_pieces * EZ_MERKLE_HASH);

                uint64_t leaves = ez_merkle_piece_leaves(c->piece, c->len);
                uint8_t *lscratch = malloc(leaves * EZ_MERKLE_HASH), node[EZ_MERKLE_HASH];

                ck_assert_ptr_nonnull(ez_hasher_layer(h));
                /* each piece's node, made from the data here */
                for (i = 0; i < n_pieces; i++) {
                        size_t n = c->len - i * c->piece < c->piece ? c->len - i * c->piece : c->piece;

                        ck_assert_int_eq(ez_merkle_piece(data + i * c->piece, n, leaves, lscratch, node), 0);
                        ck_assert_msg(memcmp(ez_hasher_layer(h) + EZ_MERKLE_HASH * i, node, EZ_MERKLE_HASH) == 0,
                                      "layer entry %zu", i);
                }
                ck_assert_int_eq(ez_merkle_root(ez_hasher_layer(h), n_pieces, c->piece, c->len, scratch, root), 0);
                free(lscratch);
                free(scratch);
        } else {
                ck_assert_ptr_null(ez_hasher_layer(h));
        }
        ez_hasher_free(h);
        close(fd);
        tu_read_at(path, back, c->len, 0);
        ck_assert_mem_eq(back, data, c->len);
        free(back);
        free(data);
        free(path);
        tu_rmtree(dir);
}
END_TEST

/* The payload file cannot be written: the error comes back, named. */
START_TEST(test_write_fails)
{
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "payload");
        static uint8_t data[1 << 20];
        struct ez_hasher *h = NULL;
        struct ez_err err = { "" };
        int fd, r = 0, i;

        tu_fill(path, 0, 1, 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ez_hasher_new(2, 16384, 64u << 20, false, fd, path, &h, &err), 0);
        for (i = 0; i < 64 && r == 0; i++)
                r = ez_hasher_add(h, data, sizeof(data), &err);
        if (r == 0)
                r = ez_hasher_finish(h, &err);
        ck_assert_int_eq(r, -EBADF);
        ck_assert_msg(strstr(err.msg, "cannot write the payload file"), "%s", err.msg);
        ez_hasher_free(h);
        ez_hasher_free(NULL);
        close(fd);
        free(path);
        tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("hasher");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_hash, 0, EZ_ARRAY_LEN(hash_cases));
        tcase_add_test(tc, test_write_fails);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
