/*
 * io.h - byte loops and small-file reading for the whole library.
 *
 * read(2) and write(2) may move fewer bytes than asked and may be
 * interrupted by a signal; every transfer in libezio goes through these
 * loops so that a short count or EINTR is never taken for the end.  The
 * file reader is for small files read whole (torrents, node.yaml,
 * partclone's maps and logs, a token file), with a size limit.
 */
#ifndef EZ_IO_H
#define EZ_IO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read exactly len bytes at off of fd into buf, retrying on EINTR and
 * short reads.  Returns 0, -EIO when the file ends first, or -errno.
 * On failure buf holds an unspecified part of the data. */
int ez_io_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* Write exactly len bytes of buf at off of fd, retrying on EINTR and
 * short writes.  Returns 0 or -errno (-EIO if the kernel wrote nothing). */
int ez_io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* The same at fd's file position, for pipes and files opened O_APPEND. */
int ez_io_write_full(int fd, const void *buf, size_t len);

/* Read the whole file at path, at most max bytes, into a buffer the caller
 * frees, with a NUL after its *ret_len (may be NULL) bytes.  A regular
 * file, a pipe or a character device (/dev/stdin) is read up to its end.
 * Returns 0, or -errno with err naming path: -EFBIG when it holds more
 * than max bytes, -EINVAL for a directory or another kind of file.
 * *ret and *ret_len are untouched on failure. */
int ez_io_read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
