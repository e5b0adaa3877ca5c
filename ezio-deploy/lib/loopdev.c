/*
 * loopdev.c - read-only loop devices over part of a file (see loopdev.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "loopdev.h"

int ez_loopdev_attach(int fd, uint64_t off, uint64_t len, char *path, size_t n, struct ez_err *err)
{
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        int tries;

        if (ctl < 0)
                return ez_err_set(err, -errno, "cannot open /dev/loop-control: %s", strerror(errno));
        for (tries = 0; tries < 16; tries++) {
                struct loop_config cfg = {
                        .fd = (uint32_t)fd,
                        .info = { .lo_offset = off, .lo_sizelimit = len,
                                  .lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR },
                };
                int nr = ioctl(ctl, LOOP_CTL_GET_FREE), lfd;

                if (nr < 0)
                        return ez_err_set(err, -errno, "no free loop device: %s", strerror(errno));
                snprintf(path, n, "/dev/loop%d", nr);
                lfd = open(path, O_RDONLY | O_CLOEXEC);
                if (lfd < 0)
                        return ez_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
                if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
                        return lfd;
                close(lfd);
                if (errno != EBUSY)
                        return ez_err_set(err, -errno, "cannot attach %s: %s", path, strerror(errno));
        }
        return ez_err_set(err, -EBUSY, "every free loop device was taken before it could be attached");
}
