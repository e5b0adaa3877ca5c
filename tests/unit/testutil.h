/*
 * testutil.h - small helpers shared by the Check unit tests.
 */
#ifndef EZ_TESTUTIL_H
#define EZ_TESTUTIL_H

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mktorrent.h"
#include "torrent.h"

#define EZ_ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A fresh private directory under $TMPDIR; removed by tu_rmtree(). */
static inline char *tu_mkdtemp(void)
{
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char *d = NULL;

        ck_assert_int_ge(asprintf(&d, "%s/ezio-unit.XXXXXX", base), 0);
        ck_assert_ptr_nonnull(mkdtemp(d));
        return d;
}

static inline void tu_rmtree(char *dir)
{
        char *cmd = NULL;

        if (!dir)
                return;
        if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0)
                ck_assert_int_eq(system(cmd), 0);
        free(cmd);
        free(dir);
}

/* Path dir/name, malloc'ed. */
static inline char *tu_path(const char *dir, const char *name)
{
        char *p = NULL;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

/* Write len bytes at off of path (created if missing, never truncated). */
static inline void tu_write_at(const char *path, const void *buf, size_t len, off_t off)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, buf, len, off), (ssize_t)len);
        ck_assert_int_eq(close(fd), 0);
}

/* Fill len bytes at off of path with byte b. */
static inline void tu_fill(const char *path, int b, size_t len, off_t off)
{
        char *buf = malloc(len);

        ck_assert_ptr_nonnull(buf);
        memset(buf, b, len);
        tu_write_at(path, buf, len, off);
        free(buf);
}

static inline void tu_read_at(const char *path, void *buf, size_t len, off_t off)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, buf, len, off), (ssize_t)len);
        ck_assert_int_eq(close(fd), 0);
}

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static inline void tu_random(void *buf, size_t len, unsigned long long seed)
{
        unsigned char *p = buf;
        unsigned long long x = seed ? seed : 88172645463325252ULL;
        size_t i;

        for (i = 0; i < len; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p[i] = (unsigned char)x;
        }
}

/* A size-byte image at path (size > 2 MiB): random bytes from seed but for
 * a zero MiB from 1 MiB on, so two data regions; and its native torrent,
 * 32 KiB pieces, parsed into *ret and written to torrent_path unless NULL. */
static inline void tu_two_region_image(const char *path, size_t size, unsigned long long seed,
                                       const char *torrent_path, struct ez_torrent **ret)
{
        struct ez_mk_options o = { .kind = -1, .piece_length = 32768, .source = path };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        unsigned char *buf = malloc(size);

        ck_assert_ptr_nonnull(buf);
        tu_random(buf, size, seed);
        memset(buf + (1u << 20), 0, 1u << 20);
        tu_write_at(path, buf, size, 0);
        free(buf);
        ck_assert_int_eq(ez_mk_torrent(&o, &out, &res, NULL), 0);
        if (torrent_path)
                tu_write_at(torrent_path, out.data, out.len, 0);
        ck_assert_int_eq(ez_torrent_parse(out.data, out.len, ret, NULL), 0);
        ck_assert_int_eq((*ret)->layout->n_data, 2);
        ez_buf_free(&out);
}

/* The offset of the first byte of buf[0 .. len) that is not b, or -1.
 * (Loops over bytes test with this and assert once: a passing ck_assert
 * records its place, and a million of them take a minute under valgrind.) */
static inline long long tu_first_not(const void *buf, size_t len, int b)
{
        const unsigned char *p = buf;

        for (size_t i = 0; i < len; i++)
                if (p[i] != (unsigned char)b)
                        return (long long)i;
        return -1;
}

/* Run a suite; returns the process exit code.  Honours CK_FORK from the
 * environment (the valgrind run sets CK_FORK=no). */
static inline int tu_run(Suite *s)
{
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
