/*
 * check_blockdev.c - opening, sizing, extending, reading, writing and
 * zeroing targets (regular files here; block devices are exercised by the
 * integration tests on loop devices).
 */
#include <errno.h>
#include <stdint.h>

#include "blockdev.h"
#include "io.h"
#include "testutil.h"

struct open_case {
        const char *name;
        const char *setup;      /* "none", "dir", "file:SIZE" */
        uint64_t need;
        unsigned flags;
        int expect;             /* 0 or -errno */
        const char *msg;        /* substring of the error */
};

static const struct open_case open_cases[] = {
        { "file large enough, write", "file:8192", 4096, EZ_BLOCKDEV_WRITE, 0, NULL },
        { "file smaller, write: extended later", "file:100", 4096, EZ_BLOCKDEV_WRITE, 0, NULL },
        { "file smaller, read", "file:100", 4096, 0, -ENOSPC, "holds 100 bytes, the image needs 4096" },
        { "missing, create", "none", 4096, EZ_BLOCKDEV_WRITE | EZ_BLOCKDEV_CREATE, 0, NULL },
        { "missing, no create", "none", 4096, EZ_BLOCKDEV_WRITE, -ENOENT, "cannot open" },
        { "missing, read", "none", 4096, 0, -ENOENT, "No such file" },
        { "directory, write", "dir", 4096, EZ_BLOCKDEV_WRITE, -EINVAL, "neither a block device nor a regular file" },
        { "directory, read", "dir", 4096, 0, -EINVAL, "neither a block device nor a regular file" },
        { "character device", "chr", 4096, 0, -EINVAL, "neither a block device nor a regular file" },
};

START_TEST(test_open)
{
        const struct open_case *c = &open_cases[_i];
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "t");
        struct ez_blockdev *dev = NULL;
        struct ez_err err = { "" };
        int r;

        if (strncmp(c->setup, "file:", 5) == 0)
                tu_fill(path, 0x11, (size_t)atoi(c->setup + 5), 0);
        else if (strcmp(c->setup, "dir") == 0)
                ck_assert_int_eq(mkdir(path, 0755), 0);
        else if (strcmp(c->setup, "chr") == 0) {
                free(path);
                path = strdup("/dev/null");
        }
        r = ez_blockdev_open(path, c->need, c->flags, &dev, &err);
        ck_assert_msg(r == c->expect, "%s: got %d (%s), expected %d", c->name, r, err.msg, c->expect);
        if (r == 0) {
                ck_assert_int_ge(dev->fd, 0);
                ck_assert(!dev->is_block);
                ck_assert(dev->created == (strcmp(c->setup, "none") == 0));
        } else {
                ck_assert_ptr_null(dev);
                ck_assert_msg(strstr(err.msg, c->msg), "%s: message '%s' lacks '%s'", c->name, err.msg, c->msg);
        }
        ez_blockdev_close(dev);
        free(path);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_open_refused_read_leaves_no_file)
{
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "t");
        struct ez_blockdev *dev = NULL;
        struct stat st;

        /* a refused open must not leave a file behind */
        ck_assert_int_eq(ez_blockdev_open(path, 4096, 0, &dev, NULL), -ENOENT);
        ck_assert_int_ne(stat(path, &st), 0);
        free(path);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_extend_and_io)
{
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "t");
        struct ez_blockdev *dev = NULL;
        struct ez_err err = { "" };
        char buf[4096], back[4096];
        struct stat st;

        tu_fill(path, 0x22, 1000, 0);
        ck_assert_int_eq(ez_blockdev_open(path, 1 << 20, EZ_BLOCKDEV_WRITE, &dev, &err), 0);
        ck_assert_int_eq(dev->size, 1000);
        ck_assert_int_eq(ez_blockdev_extend(dev, 1 << 20, &err), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_size, 1 << 20);
        /* extending never shrinks */
        ck_assert_int_eq(ez_blockdev_extend(dev, 10, &err), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_size, 1 << 20);

        tu_random(buf, sizeof(buf), 5);
        ck_assert_int_eq(ez_io_pwrite_full(dev->fd, buf, sizeof(buf), 12345), 0);
        ck_assert_int_eq(ez_io_pread_full(dev->fd, back, sizeof(back), 12345), 0);
        ck_assert_mem_eq(buf, back, sizeof(buf));
        /* the bytes before the write are untouched */
        ck_assert_int_eq(ez_io_pread_full(dev->fd, back, 1000, 0), 0);
        ck_assert_int_eq(tu_first_not(back, 1000, 0x22), -1);
        /* reading past the end is an error, not a short success */
        ck_assert_int_eq(ez_io_pread_full(dev->fd, back, sizeof(back), (1 << 20) - 100), -EIO);
        ck_assert_int_eq(ez_blockdev_sync(dev, &err), 0);
        ez_blockdev_close(dev);
        free(path);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_write_to_readonly_fd_fails)
{
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "t");
        int fd;

        tu_fill(path, 0, 4096, 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(ez_io_pwrite_full(fd, "x", 1, 0), -EBADF);
        close(fd);
        free(path);
        tu_rmtree(dir);
}
END_TEST

struct zero_case {
        uint64_t off, len;
        int expect;
};

static const struct zero_case zero_cases[] = {
        { 0, 4096, 0 },
        { 4096, 8192, 0 },
        { 100, 33, 0 },                 /* unaligned: still exact */
        { 65536 - 512, 512, 0 },        /* up to the last byte */
        { 0, 0, 0 },                    /* nothing */
        { 65536 - 512, 1024, -ERANGE }, /* past the end */
        { UINT64_MAX - 10, 20, -ERANGE },
};

START_TEST(test_zero)
{
        const struct zero_case *c = &zero_cases[_i];
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "t");
        struct ez_blockdev *dev = NULL;
        struct ez_err err = { "" };
        static unsigned char buf[65536];

        tu_fill(path, 0x33, sizeof(buf), 0);
        ck_assert_int_eq(ez_blockdev_open(path, sizeof(buf), EZ_BLOCKDEV_WRITE, &dev, &err), 0);
        ck_assert_int_eq(ez_blockdev_zero(dev, c->off, c->len, &err), c->expect);
        ez_blockdev_close(dev);
        tu_read_at(path, buf, sizeof(buf), 0);
        for (uint64_t i = 0; i < sizeof(buf); i++) {
                int zeroed = c->expect == 0 && i >= c->off && i < c->off + c->len;

                if (buf[i] != (zeroed ? 0 : 0x33))
                        ck_abort_msg("byte %lu is %#x", (unsigned long)i, buf[i]);
        }
        if (c->expect)
                ck_assert(strstr(err.msg, "ends past the end"));
        free(path);
        tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("blockdev");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_open, 0, EZ_ARRAY_LEN(open_cases));
        tcase_add_test(tc, test_open_refused_read_leaves_no_file);
        tcase_add_test(tc, test_extend_and_io);
        tcase_add_test(tc, test_write_to_readonly_fd_fails);
        tcase_add_loop_test(tc, test_zero, 0, EZ_ARRAY_LEN(zero_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
