/*
 * cleanup.h - scope-bound release of fds and heap buffers.
 *
 * Borrowed from systemd's habit: a variable declared with _cleanup_free_ or
 * _cleanup_close_ is released when it goes out of scope, and TAKE_PTR /
 * TAKE_FD hand ownership to the caller so the cleanup becomes a no-op.
 */
#ifndef EZ_CLEANUP_H
#define EZ_CLEANUP_H

#include <errno.h>
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

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(ez_freep)
#define _cleanup_close_ _cleanup_(ez_closep)

#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

#define EZ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
