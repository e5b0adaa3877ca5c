/*
 * check_partclone.c - partclone's program names and its torrent.info
 * reader, with what partclone never writes.
 */
#include <errno.h>
#include <stdint.h>

#include "partclone.h"
#include "testutil.h"

START_TEST(test_names)
{
        ck_assert_str_eq(ez_partclone_fs("ext4"), "extfs");
        ck_assert_str_eq(ez_partclone_fs("ext2"), "extfs");
        ck_assert_str_eq(ez_partclone_fs("vfat"), "fat");
        ck_assert_str_eq(ez_partclone_fs("hfsplus"), "hfsp");
        ck_assert_str_eq(ez_partclone_fs("xfs"), "xfs");
        ck_assert_ptr_null(ez_partclone_fs("swap"));
        ck_assert_ptr_null(ez_partclone_fs("iso9660"));
        ck_assert_ptr_null(ez_partclone_fs(NULL));
}
END_TEST

#define SHA "0123456789abcdef0123456789ABCDEF01234567"

struct info_case {
        const char *text;
        int r;
        size_t n_ext;
        uint64_t size, data;
        const char *msg;        /* substring of the error */
};

static const struct info_case info_cases[] = {
        { "block_size: 4096\nblocks_total: 16\noffset: 0\nlength: 2000\noffset: 8000\nlength: 1000\nsha1: " SHA "\n",
          0, 2, 65536, 0x3000, NULL },
        { "block_size: 512\nblocks_total: 8\n\n  \noffset: 0\nlength: 1000\n", 0, 1, 4096, 0x1000, NULL },
        { "", -EINVAL, 0, 0, 0, "not a partclone torrent.info" },
        { "block_size: 4096\nblocks_total: 16\n", -EINVAL, 0, 0, 0, "not a partclone torrent.info" },
        { "block_size: 4096\nblocks_total: 16\noffset: 0\n", -EINVAL, 0, 0, 0, "not a partclone torrent.info" },
        { "block_size: 0\nblocks_total: 16\noffset: 0\nlength: 10\n", -EINVAL, 0, 0, 0, "line 1 is not" },
        { "block_size: -1\nblocks_total: 16\noffset: 0\nlength: 10\n", -EINVAL, 0, 0, 0, "line 1 is not" },
        { "block_size: 512\nblocks_total: +16\noffset: 0\nlength: 10\n", -EINVAL, 0, 0, 0, "line 2 is not" },
        { "block_size: 4096\nblocks_total: 1\noffset: 0\nlength: 2000\n", -EINVAL, 0, 0, 0, "past blocks_total" },
        { "block_size: 4096\nblocks_total: 18446744073709551615\noffset: 0\nlength: 1\n", -EINVAL, 0, 0, 0,
          "past blocks_total" },
        { "block_size: 4096\nblocks_total: 16\noffset: 8000\nlength: 10\noffset: 0\nlength: 10\n", -EINVAL, 0, 0, 0,
          "out of order" },
        { "block_size: 4096\nblocks_total: 16\noffset: 0\nlength: 2000\noffset: 1000\nlength: 10\n", -EINVAL, 0, 0, 0,
          "out of order" },
        { "block_size: 4096\nblocks_total: 16\noffset: 0\noffset: 10\nlength: 10\n", -EINVAL, 0, 0, 0, "line 4 is not" },
        { "block_size: 4096\nblocks_total: 16\nlength: 10\n", -EINVAL, 0, 0, 0, "line 3 is not" },
        { "block_size: 4096\nblocks_total: 16\noffset: 0\nlength: 0\n", -EINVAL, 0, 0, 0, "line 4 is not" },
        { "block_size: 4096\nblocks_total: 16\noffset: 10000000000000000\nlength: 1\n", -EINVAL, 0, 0, 0,
          "line 3 is not" },
        { "block_size: 4096\nblocks_total: 16\noffset: 1\nlength: ffffffffffffffff\n", -EINVAL, 0, 0, 0,
          "line 4 is not" },
        { "block_size: 4096\nblocks_total: 16\noffset: xyz\nlength: 1\n", -EINVAL, 0, 0, 0, "line 3 is not" },
        { "block_size: 4096\nblocks_total: 16\noffset: 0\nlength: 1\nsha1: 0123\n", -EINVAL, 0, 0, 0, "line 5 is not" },
        { "block_size: 4096\nblocks_total: 16\noffset: 0\nlength: 1\ncolour: blue\n", -EINVAL, 0, 0, 0,
          "line 5 is not" },
        { "no colon here\n", -EINVAL, 0, 0, 0, "line 1 is not" },
};

START_TEST(test_info)
{
        const struct info_case *c = &info_cases[_i];
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "torrent.info");
        struct ez_partclone_info pi;
        struct ez_err err = { "" };
        FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        fputs(c->text, f);
        fclose(f);
        ck_assert_int_eq(ez_partclone_info_load(path, &pi, &err), c->r);
        if (c->r == 0) {
                ck_assert_uint_eq(pi.n_ext, c->n_ext);
                ck_assert_uint_eq(pi.size, c->size);
                ck_assert_uint_eq(pi.data_bytes, c->data);
                /* every sha1: line, in order, its hex digits (either case) as bytes */
                {
                        const char *p = c->text;
                        size_t k = 0, j;

                        while ((p = strstr(p, "sha1:"))) {
                                p += 5 + strspn(p + 5, " \t");
                                ck_assert_uint_lt(k, pi.n_sha1);
                                for (j = 0; j < 20; j++) {
                                        unsigned b;

                                        ck_assert_int_eq(sscanf(p + 2 * j, "%2x", &b), 1);
                                        ck_assert_uint_eq(pi.sha1[20 * k + j], b);
                                }
                                k++;
                        }
                        ck_assert_uint_eq(pi.n_sha1, k);
                }
        } else {
                ck_assert_msg(strstr(err.msg, c->msg), "%s", err.msg);
                ck_assert_ptr_null(pi.ext);
                ck_assert_ptr_null(pi.sha1);
        }
        ez_partclone_info_free(&pi);
        ez_partclone_info_free(&pi);    /* a zeroed one is fine */
        free(path);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_info_missing)
{
        struct ez_partclone_info pi;
        struct ez_err err = { "" };

        ck_assert_int_eq(ez_partclone_info_load("/nonexistent/torrent.info", &pi, &err), -ENOENT);
        ck_assert_msg(strstr(err.msg, "/nonexistent/torrent.info"), "%s", err.msg);
}
END_TEST

/* What a --from-partclone argument names: the folder -T wrote, or the file. */
START_TEST(test_info_path)
{
        char *dir = tu_mkdtemp(), info[4200], where[4096], *want = NULL;

        ez_partclone_info_path(dir, info, sizeof(info), where, sizeof(where));
        ck_assert_int_ge(asprintf(&want, "%s/torrent.info", dir), 0);
        ck_assert_str_eq(info, want);
        ck_assert_str_eq(where, dir);
        ez_partclone_info_path(want, info, sizeof(info), where, sizeof(where));
        ck_assert_str_eq(info, want);
        ck_assert_str_eq(where, dir);
        ez_partclone_info_path("torrent.info", info, sizeof(info), where, sizeof(where));
        ck_assert_str_eq(info, "torrent.info");
        ck_assert_str_eq(where, ".");
        ez_partclone_info_path("/x/y.info", info, sizeof(info), NULL, 0);
        ck_assert_str_eq(info, "/x/y.info");
        free(want);
        tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("partclone");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_names);
        tcase_add_loop_test(tc, test_info, 0, EZ_ARRAY_LEN(info_cases));
        tcase_add_test(tc, test_info_missing);
        tcase_add_test(tc, test_info_path);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
