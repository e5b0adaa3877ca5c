/*
 * check_srcmap.c - the source map: partclone's domain map parsed into
 * block-aligned regions (status line skipped, only '+' ranges, bad lines
 * and ranges past the end refused), regions merged and clipped, the
 * blkid -> partclone name table, and refusals of ez_srcmap_build.
 */
#include <errno.h>
#include <stdint.h>

#include "srcmap.h"
#include "testutil.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

static struct ez_srcmap *new_map(uint64_t size)
{
        struct ez_srcmap *m = calloc(1, sizeof(*m));

        ck_assert_ptr_nonnull(m);
        m->size = size;
        return m;
}

/* as partclone.extfs -D writes it for a 1 KiB-block ext4 */
static const char domain[] =
        "# Domain logfile created by unset_name v0.3.23\n"
        "# Source: e.img\n"
        "# Offset: 0x00000000\n"
        "# current_pos  current_status\n"
        "0x04000000     ?\n"
        "#      pos        size  status\n"
        "0x00000000  0x00761400  +\n"
        "0x00761400  0x0009F000  ?\n"
        "0x00800400  0x00040800  +\n"
        "0x00840C00  0x037BF000  ?\n";

START_TEST(test_domain)
{
        struct ez_srcmap *m = new_map(256 * MiB);
        struct ez_err err = { "" };
        uint64_t used = 0, end = 0;

        ck_assert_msg(ez_srcmap_add_domain(m, domain, 16 * MiB, 64 * MiB, 4096, &used, &end, &err) == 0, "%s",
                      err.msg);
        ez_srcmap_normalize(m);
        ck_assert_int_eq(used, 0x761400 + 0x40800);
        ck_assert_int_eq(end, 0x3fffc00);
        /* shifted by the base and rounded outwards to 4 KiB */
        ck_assert_int_eq(m->n_regions, 2);
        ck_assert_int_eq(m->regions[0].off, 16 * MiB);
        ck_assert_int_eq(m->regions[0].len, 0x762000);
        ck_assert_int_eq(m->regions[1].off, 16 * MiB + 0x800000);
        ck_assert_int_eq(m->regions[1].len, 0x41000);
        ck_assert_int_eq(m->region_bytes, 0x762000 + 0x41000);
        ez_srcmap_free(m);
}
END_TEST

static const struct {
        const char *name, *text, *msg;
} bad_domains[] = {
        { "garbage line", "0x0 ?\n0x0 0x1000 +\nhello\n", "line 3 is not 'pos size status'" },
        { "unknown status", "0x0 ?\n0x0 0x1000 X\n", "line 2 is not" },
        { "past the end", "0x0 ?\n0x0 0x5000 +\n", "is the image truncated?" },
        { "overflowing", "0x0 ?\n0xfffffffffffff000 0x2000 +\n", "is the image truncated?" },
};

START_TEST(test_domain_bad)
{
        struct ez_srcmap *m = new_map(1 * MiB);
        struct ez_err err = { "" };

        ck_assert_int_eq(ez_srcmap_add_domain(m, bad_domains[_i].text, 0, 0x4000, 4096, NULL, NULL, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, bad_domains[_i].msg), "%s: '%s'", bad_domains[_i].name, err.msg);
        ez_srcmap_free(m);
}
END_TEST

START_TEST(test_regions)
{
        /* a source of 1 MiB + 512 bytes: the last block is partial */
        struct ez_srcmap *m = new_map(1 * MiB + 512);

        ck_assert_int_eq(ez_srcmap_add_region(m, 8192, 100, 4096, NULL), 0);       /* -> [8K, 12K) */
        ck_assert_int_eq(ez_srcmap_add_region(m, 0, 4096, 4096, NULL), 0);
        ck_assert_int_eq(ez_srcmap_add_region(m, 4096, 1, 4096, NULL), 0);         /* touches both */
        ck_assert_int_eq(ez_srcmap_add_region(m, 1 * MiB - 100, 5000, 4096, NULL), 0);     /* clipped */
        ck_assert_int_eq(ez_srcmap_add_region(m, 2 * MiB, 4096, 4096, NULL), 0);   /* past the end: none */
        ck_assert_int_eq(ez_srcmap_add_region(m, 40960, 0, 4096, NULL), 0);        /* empty: none */
        ez_srcmap_normalize(m);
        ck_assert_int_eq(m->n_regions, 2);
        ck_assert_int_eq(m->regions[0].off, 0);
        ck_assert_int_eq(m->regions[0].len, 12288);
        ck_assert_int_eq(m->regions[1].off, 1 * MiB - 4096);
        ck_assert_int_eq(m->regions[1].len, 4096 + 512);
        ck_assert_int_eq(m->region_bytes, 12288 + 4096 + 512);
        ez_srcmap_free(m);
}
END_TEST

START_TEST(test_build_refusals)
{
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "img");
        struct ez_srcmap_fs bogus = { 0, "nosuchfs" }, ext4 = { 0, "ext4" };
        struct ez_srcmap_options o = { .source = src, .kind = -1, .fs = &bogus, .n_fs = 1 };
        struct ez_srcmap *m = NULL;
        struct ez_err err = { "" };

        tu_fill(src, 0x11, 1 * MiB, 0);
        ck_assert_int_eq(ez_srcmap_build(&o, &m, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, "--fs nosuchfs: partclone knows no filesystem"), "%s", err.msg);
        /* --kind disk without a partition table: a disk read as one area */
        o.n_fs = 0;
        o.kind = EZ_LAYOUT_DISK;
        ck_assert_msg(ez_srcmap_build(&o, &m, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(m->kind, EZ_LAYOUT_DISK);
        ck_assert_int_eq(m->n_parts, 1);
        ck_assert_int_eq(m->parts[0].number, 0);
        ck_assert_int_eq(m->region_bytes, 1 * MiB);
        ez_srcmap_free(m);
        m = NULL;
        /* ext4 forced onto bytes that are no ext4: partclone fails, named */
        o.kind = -1;
        o.fs = &ext4;
        o.n_fs = 1;
        ck_assert_int_eq(ez_srcmap_build(&o, &m, &err), -EIO);
        ck_assert_msg(strstr(err.msg, "partclone.extfs failed on"), "%s", err.msg);
        ck_assert_ptr_null(m);
        /* and with nothing forced, 1 MiB of 0x11 is copied whole */
        o.n_fs = 0;
        ck_assert_int_eq(ez_srcmap_build(&o, &m, &err), 0);
        ck_assert_int_eq(m->kind, EZ_LAYOUT_PARTITION);
        ck_assert_int_eq(m->n_regions, 1);
        ck_assert_int_eq(m->region_bytes, 1 * MiB);
        ck_assert_str_eq(m->parts[0].route, "raw");
        ez_srcmap_free(m);
        free(src);
        tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("srcmap");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_domain);
        tcase_add_loop_test(tc, test_domain_bad, 0, EZ_ARRAY_LEN(bad_domains));
        tcase_add_test(tc, test_regions);
        tcase_add_test(tc, test_build_refusals);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
