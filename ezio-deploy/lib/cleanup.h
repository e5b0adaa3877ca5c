/*
 * cleanup.h - scope-bound release of fds and heap buffers.
 *
 * Borrowed from systemd's habit: a variable declared with _cleanup_free_,
 * _cleanup_close_, _cleanup_fclose_ or _cleanup_closedir_ is released when it goes out of scope, and TAKE_PTR /
 * TAKE_FD hand ownership to the caller so the cleanup becomes a no-op.
 */
#ifndef EZ_CLEANUP_H
#define EZ_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void ez_freep(void *p)
{
        free(*(void **)p);
}

static inline void ez_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void ez_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

static inline void ez_closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(ez_freep)
#define _cleanup_close_ _cleanup_(ez_closep)
#define _cleanup_fclose_ _cleanup_(ez_fclosep)
#define _cleanup_closedir_ _cleanup_(ez_closedirp)

#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

#define EZ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
