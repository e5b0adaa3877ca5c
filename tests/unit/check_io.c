/*
 * check_io.c - the byte loops and the small-file reader: sizes at and
 * past the limit, empty files, pipes, directories, missing files, and
 * files whose size says nothing (/proc, sysfs).
 */
#include <errno.h>
#include <stdint.h>

#include "io.h"
#include "testutil.h"

struct read_case {
        const char *name;
        const char *setup;      /* "file", "none", "dir", "pipe" */
        size_t len;             /* bytes the file or pipe holds */
        size_t max;
        int expect;
        const char *msg;        /* substring of the error */
};

static const struct read_case read_cases[] = {
        { "small file", "file", 100, 1000, 0, NULL },
        { "empty file", "file", 0, 1000, 0, NULL },
        { "exactly max", "file", 1000, 1000, 0, NULL },
        { "one byte over max", "file", 1001, 1000, -EFBIG, "larger than 1000 bytes" },
        { "max 0, empty", "file", 0, 0, 0, NULL },
        { "max 0, one byte", "file", 1, 0, -EFBIG, "larger than 0 bytes" },
        { "missing", "none", 0, 1000, -ENOENT, "cannot open" },
        { "directory", "dir", 0, 1000, -EINVAL, "is not a regular file" },
        { "pipe", "pipe", 5000, 10000, 0, NULL },
        { "pipe, exactly max", "pipe", 5000, 5000, 0, NULL },
        { "pipe, over max", "pipe", 5001, 5000, -EFBIG, "larger than 5000 bytes" },
        { "pipe, empty", "pipe", 0, 10, 0, NULL },
};

START_TEST(test_read_file)
{
        const struct read_case *c = &read_cases[_i];
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "f");
        unsigned char *data = malloc(c->len + 1);
        struct ez_err err = { "" };
        char *buf = (char *)"untouched", *pp = NULL;
        size_t len = 77;
        int fds[2] = { -1, -1 };

        ck_assert_ptr_nonnull(data);
        tu_random(data, c->len, (unsigned)_i);
        if (strcmp(c->setup, "file") == 0) {
                int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(ez_io_pwrite_full(fd, data, c->len, 0), 0);
                close(fd);
        } else if (strcmp(c->setup, "dir") == 0) {
                ck_assert_int_eq(mkdir(path, 0755), 0);
        } else if (strcmp(c->setup, "pipe") == 0) {
                /* the pipe holds all of it at once: up to 64 KiB by default */
                ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
                ck_assert_int_eq(ez_io_write_full(fds[1], data, c->len), 0);
                close(fds[1]);
                ck_assert_int_ge(asprintf(&pp, "/proc/self/fd/%d", fds[0]), 0);
        }
        ck_assert_int_eq(ez_io_read_file(pp ? pp : path, c->max, &buf, &len, &err), c->expect);
        if (c->expect == 0) {
                ck_assert_uint_eq(len, c->len);
                ck_assert_mem_eq(buf, data, c->len);
                ck_assert_int_eq(buf[len], '\0');
                free(buf);
        } else {
                ck_assert_str_eq(buf, "untouched");
                ck_assert_uint_eq(len, 77);
                ck_assert_ptr_nonnull(strstr(err.msg, c->msg));
        }
        if (fds[0] >= 0)
                close(fds[0]);
        free(pp);
        free(data);
        free(path);
        tu_rmtree(dir);
}
END_TEST

/* /proc/self/status says 0 bytes and holds about a KiB; a sysfs attribute
 * says 4096 and holds a line: both are read to their end. */
START_TEST(test_read_size_unknown)
{
        struct ez_err err = { "" };
        char *buf = NULL;
        size_t len = 0;

        ck_assert_msg(ez_io_read_file("/proc/self/status", 65536, &buf, &len, &err) == 0, "%s", err.msg);
        ck_assert_uint_gt(len, 100);
        ck_assert_ptr_nonnull(strstr(buf, "Pid:"));
        free(buf);
        if (access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) == 0 ||
            access("/sys/devices/system/cpu/online", R_OK) == 0) {
                const char *p = access("/sys/devices/system/cpu/online", R_OK) == 0 ?
                        "/sys/devices/system/cpu/online" : "/sys/kernel/mm/transparent_hugepage/enabled";

                /* a limit below the 4096 the attribute claims */
                ck_assert_msg(ez_io_read_file(p, 64, &buf, &len, &err) == 0, "%s", err.msg);
                ck_assert_uint_gt(len, 0);
                ck_assert_uint_lt(len, 4096);
                ck_assert_int_eq(buf[len - 1], '\n');
                free(buf);
        }
}
END_TEST

START_TEST(test_pread_pwrite)
{
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "f");
        unsigned char buf[10000], back[10000];
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

        ck_assert_int_ge(fd, 0);
        tu_random(buf, sizeof(buf), 9);
        ck_assert_int_eq(ez_io_pwrite_full(fd, buf, sizeof(buf), 5), 0);
        ck_assert_int_eq(ez_io_pread_full(fd, back, sizeof(back), 5), 0);
        ck_assert_mem_eq(buf, back, sizeof(buf));
        /* the file ends before the read does */
        ck_assert_int_eq(ez_io_pread_full(fd, back, sizeof(back), 6), -EIO);
        ck_assert_int_eq(ez_io_pread_full(-1, back, 1, 0), -EBADF);
        ck_assert_int_eq(ez_io_write_full(-1, buf, 1), -EBADF);
        /* nothing to move is no error, even on a bad fd */
        ck_assert_int_eq(ez_io_pwrite_full(-1, buf, 0, 0), 0);
        close(fd);
        free(path);
        tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("io");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_read_size_unknown);
        tcase_add_loop_test(tc, test_read_file, 0, EZ_ARRAY_LEN(read_cases));
        tcase_add_test(tc, test_pread_pwrite);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
