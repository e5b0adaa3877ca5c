/*
 * check_partitions.c - libblkid on hand-made images: an MBR with
 * partitions, one that points past the end, a GPT whose backup header
 * lies past the end (a truncated image), and no table at all.
 */
#include <errno.h>
#include <stdint.h>

#include "partitions.h"
#include "testutil.h"

#define MiB (1024u * 1024u)

struct mbr_part {
        uint8_t type;
        uint32_t start, sectors;
};

struct list_case {
        const char *name;
        struct mbr_part p[4];
        uint64_t size;
        int r;
        size_t n;               /* partitions found */
        const char *msg;
};

static const struct list_case list_cases[] = {
        { "no table", { { 0 } }, 4 * MiB, 0, 0, NULL },
        { "one partition", { { 0x83, 2048, 4096 } }, 4 * MiB, 0, 1, NULL },
        { "two partitions", { { 0x83, 2048, 2048 }, { 0x83, 4096, 2048 } }, 4 * MiB, 0, 2, NULL },
        { "an empty entry is skipped", { { 0x83, 2048, 2048 }, { 0 }, { 0x83, 4096, 2048 } }, 4 * MiB, 0, 2, NULL },
        { "past the end", { { 0x83, 2048, 8192 } }, 4 * MiB, -EINVAL, 0, "ends past the end of the source" },
};

static void put32(uint8_t *b, uint32_t v)
{
        b[0] = (uint8_t)v;
        b[1] = (uint8_t)(v >> 8);
        b[2] = (uint8_t)(v >> 16);
        b[3] = (uint8_t)(v >> 24);
}

START_TEST(test_list)
{
        const struct list_case *c = &list_cases[_i];
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "disk");
        struct ez_partition *parts = (struct ez_partition *)1;
        struct ez_err err = { "" };
        char pttype[16] = "x";          /* left alone where there is no table */
        size_t n = 77, i, k = 0;
        uint8_t b[512] = { 0 };
        int fd;

        tu_fill(src, 0, c->size, 0);
        if (c->p[0].type) {
                b[510] = 0x55;
                b[511] = 0xaa;
                for (i = 0; i < 4; i++) {
                        b[446 + 16 * i + 4] = c->p[i].type;
                        put32(b + 446 + 16 * i + 8, c->p[i].start);
                        put32(b + 446 + 16 * i + 12, c->p[i].sectors);
                }
                tu_write_at(src, b, sizeof(b), 0);
        }
        fd = open(src, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_msg(ez_partitions_list(fd, c->size, 0, pttype, sizeof(pttype), &parts, &n, &err) == c->r,
                      "%s: %s", c->name, err.msg);
        if (c->r == 0) {
                ck_assert_uint_eq(n, c->n);
                ck_assert_str_eq(pttype, c->n ? "dos" : "x");
                for (i = 0; i < 4; i++) {
                        if (!c->p[i].type)
                                continue;
                        ck_assert_int_eq(parts[k].number, (int)i + 1);
                        ck_assert_uint_eq(parts[k].off, c->p[i].start * 512ull);
                        ck_assert_uint_eq(parts[k].len, c->p[i].sectors * 512ull);
                        k++;
                }
                free(parts);
        } else {
                ck_assert_ptr_eq(parts, (struct ez_partition *)1);
                ck_assert_uint_eq(n, 77);
                ck_assert_msg(strstr(err.msg, c->msg), "%s", err.msg);
        }
        close(fd);
        free(src);
        tu_rmtree(dir);
}
END_TEST

struct gpt_case {
        const char *name;
        unsigned sector;        /* where "EFI PART" is written, 0: nowhere */
        uint64_t alt_lba;       /* the backup header's LBA */
        int r;
        unsigned found;         /* the sector size reported */
};

static const struct gpt_case gpt_cases[] = {
        { "no GPT", 0, 0, 0, 0 },
        { "512: backup at the last sector", 512, 4 * MiB / 512 - 1, 0, 512 },
        { "512: backup past the end (truncated)", 512, 8 * MiB / 512 - 1, -EINVAL, 512 },
        { "4096: backup at the last sector", 4096, 4 * MiB / 4096 - 1, 0, 4096 },
        { "4096: backup past the end", 4096, 4 * MiB / 4096, -EINVAL, 4096 },
        { "an LBA that overflows is ignored", 512, UINT64_MAX, 0, 512 },
};

START_TEST(test_gpt)
{
        const struct gpt_case *c = &gpt_cases[_i];
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "disk");
        struct ez_err err = { "" };
        uint8_t h[48] = "EFI PART";
        unsigned sector = 0;
        int fd, i;

        tu_fill(src, 0, 4 * MiB, 0);
        for (i = 0; i < 8; i++)
                h[32 + i] = (uint8_t)(c->alt_lba >> (8 * i));
        if (c->sector)
                tu_write_at(src, h, sizeof(h), c->sector);
        fd = open(src, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_msg(ez_partitions_check_gpt(fd, 4 * MiB, &sector, &err) == c->r, "%s: %s", c->name, err.msg);
        ck_assert_uint_eq(sector, c->found);
        if (c->r)
                ck_assert_msg(strstr(err.msg, "is the image truncated?"), "%s", err.msg);
        close(fd);
        free(src);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_probe)
{
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "img");
        char type[32] = "x";
        /* a swap signature: "SWAPSPACE2" at the end of the first 4 KiB page */
        static const char magic[] = "SWAPSPACE2";
        uint8_t hdr[1036] = { 0 };
        int fd;

        tu_fill(src, 0, 1 * MiB, 0);
        fd = open(src, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ez_partitions_probe_fs(fd, 0, 1 * MiB, type, sizeof(type)), 0);
        ck_assert_str_eq(type, "");
        close(fd);

        hdr[1024] = 1;          /* version 1 */
        put32(hdr + 1028, 255); /* last page */
        tu_write_at(src, hdr, sizeof(hdr), 0);
        tu_write_at(src, magic, sizeof(magic) - 1, 4096 - 10);
        fd = open(src, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ez_partitions_probe_fs(fd, 0, 1 * MiB, type, sizeof(type)), 0);
        ck_assert_str_eq(type, "swap");
        /* the same bytes seen from an offset hold no signature */
        ck_assert_int_eq(ez_partitions_probe_fs(fd, 64 * 1024, 512 * 1024, type, sizeof(type)), 0);
        ck_assert_str_eq(type, "");
        close(fd);
        free(src);
        tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("partitions");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_list, 0, EZ_ARRAY_LEN(list_cases));
        tcase_add_loop_test(tc, test_gpt, 0, EZ_ARRAY_LEN(gpt_cases));
        tcase_add_test(tc, test_probe);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
