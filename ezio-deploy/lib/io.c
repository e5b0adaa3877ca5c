/*
 * io.c - byte loops and small-file reading (see io.h).  Nothing here
 * knows what the bytes are.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"

/* Move len bytes between buf and fd, at off or (off < 0) at the file
 * position, until done: a short count goes on, EINTR is retried, a
 * count of 0 is -EIO (the end of the file, or a device that takes no
 * more). */
static int move_all(int fd, char *p, size_t len, int64_t off, bool out)
{
        while (len > 0) {
                ssize_t n = off < 0 ? (out ? write(fd, p, len) : read(fd, p, len))
                                    : (out ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
                if (off >= 0)
                        off += n;
        }
        return 0;
}

int ez_io_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
        return off > INT64_MAX ? -EINVAL : move_all(fd, buf, len, (int64_t)off, false);
}

int ez_io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
        return off > INT64_MAX ? -EINVAL : move_all(fd, (char *)buf, len, (int64_t)off, true);
}

int ez_io_write_full(int fd, const void *buf, size_t len)
{
        return move_all(fd, (char *)buf, len, -1, true);
}

/* Read fd to its end into a buffer of at most max bytes (plus the NUL);
 * hint, the size it likely has (0: unknown), sizes the first buffer. */
static int read_stream(int fd, size_t max, size_t hint, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                ssize_t n;

                if (len == cap) {
                        /* hint + 1: the end of the file is seen without growing */
                        size_t c = cap ? 2 * cap : hint && hint < max ? hint + 1 : 4096;
                        char *b;

                        if (max < SIZE_MAX && c > max + 1)
                                c = max + 1;    /* room to see one byte too many */
                        b = realloc(buf, c + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        cap = c;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int ez_io_read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct ez_err *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ez_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return ez_err_set(err, -errno, "cannot stat '%s': %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
                return ez_err_set(err, -EINVAL, "'%s' is not a regular file", path);
        /* a regular file too is read to its end, never judged by st_size:
         * /proc and sysfs files say 0 or 4096 whatever they hold; a file
         * too large is refused after max + 1 bytes */
        r = read_stream(fd, max, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0, &buf, &len);
        if (r == -EFBIG)
                return ez_err_set(err, -EFBIG, "'%s' is larger than %zu bytes", path, max);
        if (r == -ENOMEM)
                return ez_err_set(err, r, "out of memory");
        if (r < 0)
                return ez_err_set(err, r, "cannot read '%s': %s", path, strerror(-r));
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}
