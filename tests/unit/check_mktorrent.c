/*
 * check_mktorrent.c - making a torrent from a raw image: which blocks
 * become payload and which zero ranges, the payload file, the piece
 * hashes, kind detection, and refusals.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "mktorrent.h"
#include "swarm.h"
#include "tls.h"
#include "torrent.h"
#include "testutil.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

/* An image: hole [0,1M), data [1M,1M+64K) with zero block [1M+16K,1M+20K)
 * written as real zeros, hole, data [3M, 3M+4K), zeros written explicitly
 * [3M+4K, 3M+12K), data [4M-4K-1536 .. 4M-1536) with an odd end. */
#define IMG_SIZE (4 * MiB - 1536)

static void make_image(const char *path)
{
        unsigned char *buf = malloc(64 * KiB);
        int fd;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, IMG_SIZE), 0);
        close(fd);
        tu_random(buf, 64 * KiB, 1);
        memset(buf + 16 * KiB, 0, 4 * KiB);
        tu_write_at(path, buf, 64 * KiB, 1 * MiB);
        tu_random(buf, 4 * KiB, 2);
        tu_write_at(path, buf, 4 * KiB, 3 * MiB);
        memset(buf, 0, 8 * KiB);
        tu_write_at(path, buf, 8 * KiB, 3 * MiB + 4 * KiB);
        tu_random(buf, 4 * KiB, 3);
        tu_write_at(path, buf, 2560, IMG_SIZE - 2560);  /* last partial block */
        free(buf);
}

static const struct ez_extent want_data[] = {
        { 1 * MiB, 16 * KiB },
        { 1 * MiB + 20 * KiB, 44 * KiB },
        { 3 * MiB, 4 * KiB },
        { 4 * MiB - 4 * KiB, 4 * KiB - 1536 },
};

static const struct ez_extent want_zero[] = {
        { 0, 1 * MiB },
        { 1 * MiB + 16 * KiB, 4 * KiB },
        { 1 * MiB + 64 * KiB, 2 * MiB - 64 * KiB },
        { 3 * MiB + 4 * KiB, 1 * MiB - 8 * KiB },
};

START_TEST(test_image)
{
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "img"), *pl = tu_path(dir, "payload");
        const char *trackers[] = { "http://127.0.0.1:6969/announce" };
        struct ez_mk_options o = { .source = src, .payload = pl, .kind = -1, .piece_length = 16 * KiB,
                                   .trackers = trackers, .n_trackers = 1 };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_err err = { "" };
        struct ez_torrent *t = NULL;
        unsigned char *payload, *img;
        uint64_t pos = 0;
        size_t i;

        make_image(src);
        ck_assert_msg(ez_mk_torrent(&o, &out, &res, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(ez_torrent_parse(out.data, out.len, &t, &err), 0);
        ck_assert(t->native);
        ck_assert(t->is_private);
        ck_assert_str_eq(t->name, "img");
        ck_assert_str_eq(t->info_hash_hex, res.info_hash_hex);
        ck_assert_int_eq(t->n_trackers, 1);
        ck_assert_int_eq(t->layout->target_size, IMG_SIZE);
        ck_assert_int_eq(t->layout->kind, EZ_LAYOUT_PARTITION);
        ck_assert_int_eq(t->layout->n_data, EZ_ARRAY_LEN(want_data));
        for (i = 0; i < EZ_ARRAY_LEN(want_data); i++) {
                ck_assert_int_eq(t->layout->data[i].off, want_data[i].off);
                ck_assert_int_eq(t->layout->data[i].len, want_data[i].len);
        }
        ck_assert_int_eq(t->layout->n_zero, EZ_ARRAY_LEN(want_zero));
        for (i = 0; i < EZ_ARRAY_LEN(want_zero); i++) {
                ck_assert_int_eq(t->layout->zero[i].off, want_zero[i].off);
                ck_assert_int_eq(t->layout->zero[i].len, want_zero[i].len);
        }

        /* the payload file is the data extents in order ... */
        payload = malloc(t->total_length);
        img = malloc(IMG_SIZE);
        tu_read_at(pl, payload, t->total_length, 0);
        tu_read_at(src, img, IMG_SIZE, 0);
        for (i = 0; i < t->layout->n_data; i++) {
                ck_assert_mem_eq(payload + pos, img + t->layout->data[i].off, t->layout->data[i].len);
                pos += t->layout->data[i].len;
        }
        ck_assert_int_eq(pos, t->total_length);
        /* ... and every piece hash is the SHA-1 of its slice of it */
        {
                struct ez_bdoc *d = NULL;
                const struct ez_bnode *pieces;

                ck_assert_int_eq(ez_bdecode(out.data, out.len, 0, &d, NULL), 0);
                pieces = ez_bdict_get(d, ez_bdict_get(d, ez_bdoc_root(d), "info"), "pieces");
                ck_assert_int_eq(pieces->len, 20 * t->num_pieces);
                for (i = 0; i < t->num_pieces; i++) {
                        unsigned char md[20];
                        uint64_t off = i * t->piece_length;
                        uint64_t n = t->total_length - off < t->piece_length ? t->total_length - off : t->piece_length;

                        ck_assert(EVP_Digest(payload + off, n, md, NULL, EVP_sha1(), NULL));
                        ck_assert_mem_eq(pieces->str + 20 * i, md, 20);
                }
                ez_bdoc_free(d);
        }
        free(payload);
        free(img);
        ez_torrent_free(t);
        ez_buf_free(&out);
        free(src);
        free(pl);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_all_zero_image)
{
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "zero");
        struct ez_mk_options o = { .source = src, .kind = -1 };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_torrent *t = NULL;

        tu_fill(src, 0, 1 * MiB, 0);
        ck_assert_int_eq(ez_mk_torrent(&o, &out, &res, NULL), 0);
        ck_assert_int_eq(ez_torrent_parse(out.data, out.len, &t, NULL), 0);
        /* one block carries the torrent, the rest is a zero range */
        ck_assert_int_eq(t->layout->n_data, 1);
        ck_assert_int_eq(t->layout->data[0].off, 0);
        ck_assert_int_eq(t->layout->data[0].len, 4096);
        ck_assert_int_eq(t->layout->n_zero, 1);
        ck_assert_int_eq(t->layout->zero[0].off, 4096);
        ck_assert_int_eq(t->layout->zero[0].len, 1 * MiB - 4096);
        /* and its one piece is the hash of that zero block */
        {
                static const unsigned char zeros[4096];
                unsigned char md[20];
                struct ez_bdoc *d = NULL;
                const struct ez_bnode *pieces;

                ck_assert(EVP_Digest(zeros, sizeof(zeros), md, NULL, EVP_sha1(), NULL));
                ck_assert_int_eq(ez_bdecode(out.data, out.len, 0, &d, NULL), 0);
                pieces = ez_bdict_get(d, ez_bdict_get(d, ez_bdoc_root(d), "info"), "pieces");
                ck_assert_int_eq(pieces->len, 20);
                ck_assert_mem_eq(pieces->str, md, 20);
                ez_bdoc_free(d);
        }
        ez_torrent_free(t);
        ez_buf_free(&out);
        free(src);
        tu_rmtree(dir);
}
END_TEST

struct fail_case {
        const char *name;
        const char *setup;      /* "missing", "empty", "dir", "ok" */
        uint64_t piece_length;
        const char *payload;    /* relative to the temp dir */
        int expect;
        const char *msg;
};

static const struct fail_case fail_cases[] = {
        { "missing source", "missing", 0, NULL, -ENOENT, "cannot open" },
        { "empty source", "empty", 0, NULL, -EINVAL, "is empty" },
        { "directory", "dir", 0, NULL, -EINVAL, "neither a block device nor a regular file" },
        { "piece size not a power of two", "ok", 100000, NULL, -EINVAL, "not a power of two" },
        { "piece size too small", "ok", 8192, NULL, -EINVAL, "not a power of two" },
        { "payload in a missing directory", "ok", 0, "no/such/p", -ENOENT, "cannot create the payload file" },
};

START_TEST(test_fail)
{
        const struct fail_case *c = &fail_cases[_i];
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "src");
        char *pl = c->payload ? tu_path(dir, c->payload) : NULL;
        struct ez_mk_options o = { .source = src, .kind = -1, .piece_length = c->piece_length, .payload = pl };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_err err = { "" };
        int r;

        if (strcmp(c->setup, "empty") == 0)
                tu_write_at(src, "", 0, 0);
        else if (strcmp(c->setup, "dir") == 0)
                ck_assert_int_eq(mkdir(src, 0755), 0);
        else if (strcmp(c->setup, "ok") == 0)
                tu_fill(src, 0x44, 64 * KiB, 0);
        r = ez_mk_torrent(&o, &out, &res, &err);
        ck_assert_msg(r == c->expect, "%s: got %d (%s)", c->name, r, err.msg);
        ck_assert_msg(strstr(err.msg, c->msg), "%s: '%s' lacks '%s'", c->name, err.msg, c->msg);
        ez_buf_free(&out);
        free(src);
        free(pl);
        tu_rmtree(dir);
}
END_TEST

/* A payload spanning many hash batches (4 MiB each, cut at piece
 * boundaries), with zero blocks squeezed out of the middle of reads: every
 * piece hash is the SHA-1 of its slice of the data extents read from the
 * source, and the payload file is that concatenation. */
static const uint64_t batch_pieces[] = { 16 * KiB, 64 * KiB, 1 * MiB, 8 * MiB };

START_TEST(test_batches)
{
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "img"), *pl = tu_path(dir, "payload");
        const size_t size = 27 * MiB + 4096 * 3;
        struct ez_mk_options o = { .source = src, .payload = pl, .kind = -1, .piece_length = batch_pieces[_i],
                                   .threads = 3 };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_torrent *t = NULL;
        struct ez_err err = { "" };
        uint8_t *img = malloc(size), *want, *got;
        uint64_t pos = 0, i;

        tu_random(img, size, 11);
        for (i = 0; i + 4096 <= size; i += 4096)
                if (i % (1 * MiB + 8192) < 8192 || (i / 4096) % 37 == 5)
                        memset(img + i, 0, 4096);               /* zero blocks all over */
        memset(img + 9 * MiB, 0, 3 * MiB);                      /* and a long zero run */
        tu_write_at(src, img, size, 0);
        ck_assert_msg(ez_mk_torrent(&o, &out, &res, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(ez_torrent_parse(out.data, out.len, &t, NULL), 0);
        want = malloc(t->total_length);
        got = malloc(t->total_length);
        for (i = 0; i < t->layout->n_data; i++) {
                memcpy(want + pos, img + t->layout->data[i].off, t->layout->data[i].len);
                pos += t->layout->data[i].len;
        }
        ck_assert_int_eq(pos, t->total_length);
        tu_read_at(pl, got, t->total_length, 0);
        ck_assert(memcmp(want, got, t->total_length) == 0);
        for (i = 0; i < t->num_pieces; i++) {
                unsigned char md[20];
                uint64_t off = i * t->piece_length;
                uint64_t n = t->total_length - off < t->piece_length ? t->total_length - off : t->piece_length;

                ck_assert(EVP_Digest(want + off, n, md, NULL, EVP_sha1(), NULL));
                ck_assert_msg(memcmp(t->pieces + 20 * i, md, 20) == 0, "piece %" PRIu64 " of %" PRIu64, i,
                              t->num_pieces);
        }
        free(img);
        free(want);
        free(got);
        ez_torrent_free(t);
        ez_buf_free(&out);
        free(src);
        free(pl);
        tu_rmtree(dir);
}
END_TEST

struct disk_case {
        const char *name;
        int sig;        /* 0x55aa at 510 */
        uint8_t type;   /* partition type of entry 0 */
        uint8_t status; /* boot flag of entry 0 */
        int expect;     /* enum ez_layout_kind */
};

static const struct disk_case disk_cases[] = {
        { "MBR with one partition", 1, 0x83, 0x80, EZ_LAYOUT_DISK },
        { "MBR without partitions", 1, 0x00, 0x00, EZ_LAYOUT_PARTITION },
        { "bad boot flag", 1, 0x83, 0x42, EZ_LAYOUT_PARTITION },
        { "no signature", 0, 0x83, 0x80, EZ_LAYOUT_PARTITION },
        { "blank", 0, 0x00, 0x00, EZ_LAYOUT_PARTITION },
};

/* The kind comes from libblkid: a partition table with partitions makes a
 * disk, whose partition is then scanned whole (no filesystem in it). */
START_TEST(test_kind)
{
        const struct disk_case *c = &disk_cases[_i];
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "disk");
        struct ez_mk_options o = { .source = src, .kind = -1 };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_err err = { "" };
        uint8_t b[512] = { 0 }, data[4096];

        if (c->sig) {
                b[510] = 0x55;
                b[511] = 0xaa;
        }
        b[446] = c->status;
        b[446 + 4] = c->type;
        if (c->type) {
                b[446 + 9] = 0x08;      /* start: sector 2048 (1 MiB) */
                b[446 + 13] = 0x10;     /* 4096 sectors (2 MiB) */
        }
        tu_fill(src, 0, 4 * MiB, 0);
        tu_write_at(src, b, sizeof(b), 0);
        tu_random(data, sizeof(data), 9);
        tu_write_at(src, data, sizeof(data), 2 * MiB);
        ck_assert_msg(ez_mk_torrent(&o, &out, &res, &err) == 0, "%s: %s", c->name, err.msg);
        ck_assert_msg((int)res.kind == c->expect, "%s: kind %d", c->name, res.kind);
        ez_buf_free(&out);
        free(src);
        tu_rmtree(dir);
}
END_TEST

/* A 50 GB filesystem fragmented into 700k extents: the native torrent
 * stays small enough for any libtorrent client with default limits, where
 * EZIO's layout (a file per extent) is refused. */
START_TEST(test_many_extents)
{
        const size_t n = 700000;
        const uint64_t piece = 256 * KiB;
        struct ez_layout *l = NULL;
        struct ez_buf native = { 0 }, compat = { 0 };
        struct ez_torrent *t = NULL;
        struct ez_err err = { "" };
        uint8_t *pieces;
        uint64_t payload = n * 4096ull, np = (payload + piece - 1) / piece;
        size_t i;

        ck_assert_int_eq(ez_layout_new(50000000000ull, 4096, EZ_LAYOUT_PARTITION, &l, NULL), 0);
        for (i = 0; i < n; i++)
                if (ez_layout_add_data(l, i * 65536ull, 4096, NULL) != 0)
                        ck_abort_msg("extent %zu refused", i);
        ck_assert_int_eq(ez_layout_finish(l, payload, NULL), 0);
        pieces = calloc(np, 20);
        ck_assert_ptr_nonnull(pieces);
        {
                struct ez_torrent_spec spec = { .name = "big", .piece_length = piece, .pieces = pieces,
                                                .n_pieces = np, .layout = l };

                ck_assert_int_eq(ez_torrent_build(&spec, &native, NULL), 0);
                spec.compat = true;
                ck_assert_int_eq(ez_torrent_build(&spec, &compat, NULL), 0);
        }
        ck_assert_uint_lt(native.len, 4 * MiB);
        ck_assert_msg(ez_swarm_check_torrent(native.data, native.len, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(ez_torrent_parse(native.data, native.len, &t, NULL), 0);
        ck_assert_int_eq(t->layout->n_data, n);
        ck_assert_int_eq(ez_swarm_check_torrent(compat.data, compat.len, &err), -EINVAL);
        ez_torrent_free(t);
        ez_buf_free(&native);
        ez_buf_free(&compat);
        free(pieces);
        ez_layout_free(l);
}
END_TEST

static const uint64_t piece_cases[][2] = {
        { 0, 64 * KiB },
        { 64 * MiB, 64 * KiB },
        { 1024ull * MiB, 64 * KiB },            /* 16384 pieces */
        { 1024ull * MiB + 1, 128 * KiB },
        { 2048ull * MiB, 128 * KiB },
        { 100ull * 1024 * MiB, 8 * MiB },
        { 1024ull * 1024 * MiB, 16 * MiB },
        { UINT64_MAX, 16 * MiB },
};

START_TEST(test_piece_length)
{
        ck_assert_int_eq(ez_mk_piece_length(piece_cases[_i][0]), piece_cases[_i][1]);
}
END_TEST

/* --ssl-ca: the CA rides in the info dictionary (so the info-hash
 * changes), in either format and in a hybrid, and libtorrent loads it. */
START_TEST(test_ssl_ca)
{
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "img"), *ca = NULL;
        struct ez_mk_options o = { .source = src, .kind = -1, .ezio_format = _i == 1, .hybrid = _i == 2 };
        struct ez_mk_result plain, ssl;
        struct ez_buf a = { 0 }, b = { 0 };
        struct ez_err err = { "" };
        struct ez_torrent *ta = NULL, *tb = NULL;
        size_t ca_len = 0;

        make_image(src);
        ck_assert_int_eq(ez_tls_read_ca("tests/data/tls/ca.pem", &ca, &ca_len, &err), 0);
        ck_assert_msg(ez_mk_torrent(&o, &a, &plain, &err) == 0, "%s", err.msg);
        o.ssl_ca = ca;
        o.ssl_ca_len = ca_len;
        ck_assert_msg(ez_mk_torrent(&o, &b, &ssl, &err) == 0, "%s", err.msg);
        ck_assert_str_ne(plain.info_hash_hex, ssl.info_hash_hex);
        ck_assert_int_eq(ez_torrent_parse(a.data, a.len, &ta, &err), 0);
        ck_assert_int_eq(ez_torrent_parse(b.data, b.len, &tb, &err), 0);
        ck_assert_ptr_null(ta->ssl_ca);
        ck_assert_uint_eq(tb->ssl_ca_len, ca_len);
        ck_assert_mem_eq(tb->ssl_ca, ca, ca_len);
        ck_assert_str_eq(tb->info_hash_hex, ssl.info_hash_hex);
        ck_assert_int_eq(ez_tls_check_ca(tb->ssl_ca, tb->ssl_ca_len, &err), 0);
        ck_assert_msg(ez_swarm_check_torrent(b.data, b.len, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(ssl.stock_refusal, "");
        ez_torrent_free(ta);
        ez_torrent_free(tb);
        ez_buf_free(&a);
        ez_buf_free(&b);
        free(ca);
        free(src);
        tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("mktorrent");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_image);
        tcase_add_test(tc, test_all_zero_image);
        tcase_add_loop_test(tc, test_fail, 0, EZ_ARRAY_LEN(fail_cases));
        tcase_add_loop_test(tc, test_kind, 0, EZ_ARRAY_LEN(disk_cases));
        tcase_add_test(tc, test_many_extents);
        tcase_add_loop_test(tc, test_batches, 0, EZ_ARRAY_LEN(batch_pieces));
        tcase_add_loop_test(tc, test_piece_length, 0, EZ_ARRAY_LEN(piece_cases));
        tcase_add_loop_test(tc, test_ssl_ca, 0, 3);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
