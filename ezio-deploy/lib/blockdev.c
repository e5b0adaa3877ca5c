/*
 * blockdev.c - open, size, zero and flush the target, and move payload
 * bytes to and from it (see blockdev.h).  The byte loops are io.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <unistd.h>

#include "blockdev.h"
#include "cleanup.h"
#include "io.h"

void ez_blockdev_close(struct ez_blockdev *dev)
{
        if (!dev)
                return;
        if (dev->fd >= 0)
                close(dev->fd);
        free(dev->path);
        free(dev);
}

/* A block device and its partitions, as sysfs names them. */
struct family {
        size_t n;
        struct {
                char name[256];
                dev_t dev;
        } m[256];
};

static int read_dev(const char *attr, dev_t *dev)
{
        _cleanup_fclose_ FILE *f = fopen(attr, "re");
        unsigned maj, min;

        if (!f || fscanf(f, "%u:%u", &maj, &min) != 2)
                return -1;
        *dev = makedev(maj, min);
        return 0;
}

static void family_of(dev_t rdev, struct family *fam)
{
        char dir[64], link[256];
        ssize_t len;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *e;

        fam->n = 0;
        snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(rdev), minor(rdev));
        len = readlink(dir, link, sizeof(link) - 1);
        if (len <= 0)
                return;
        link[len] = 0;
        snprintf(fam->m[0].name, sizeof(fam->m[0].name), "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
        fam->m[fam->n++].dev = rdev;
        if (!(d = opendir(dir)))
                return;
        while ((e = readdir(d)) && fam->n < sizeof(fam->m) / sizeof(fam->m[0])) {
                char attr[384];

                snprintf(attr, sizeof(attr), "%s/%s/partition", dir, e->d_name);
                if (e->d_name[0] == '.' || access(attr, F_OK) != 0)
                        continue;
                snprintf(attr, sizeof(attr), "%s/%s/dev", dir, e->d_name);
                if (read_dev(attr, &fam->m[fam->n].dev) == 0)
                        snprintf(fam->m[fam->n++].name, sizeof(fam->m[0].name), "%s", e->d_name);
        }
}

static const char *family_member(const struct family *fam, dev_t dev)
{
        for (size_t i = 0; i < fam->n; i++)
                if (fam->m[i].dev == dev)
                        return fam->m[i].name;
        return NULL;
}

/* "it" or "its partition NAME" */
static void who(const struct family *fam, const char *name, char *buf, size_t size)
{
        if (strcmp(name, fam->m[0].name) == 0)
                snprintf(buf, size, "it");
        else
                snprintf(buf, size, "its partition %s", name);
}

/*
 * Why a block device cannot be opened exclusively, in words an operator
 * can act on: it or one of its partitions is mounted (in this mount
 * namespace), is a swap area in use, or is held by another device
 * (device-mapper, MD).  Empty when none of these shows.
 */
static void why_busy(dev_t rdev, char *buf, size_t size)
{
        struct family *fam = calloc(1, sizeof(*fam));
        char line[4096], subject[300];
        const char *name;

        buf[0] = 0;
        if (!fam)
                return;
        family_of(rdev, fam);
        if (fam->n == 0)
                goto out;
        {
                _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
                unsigned maj, min;
                char point[2048];

                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
                while (f && fgets(line, sizeof(line), f))
                        if (sscanf(line, "%*u %*u %u:%u %*s %2047s", &maj, &min, point) == 3 &&
                            (name = family_member(fam, makedev(maj, min)))) {
                                who(fam, name, subject, sizeof(subject));
                                snprintf(buf, size, "%s is mounted on %s", subject, point);
                                goto out;
                        }
        }
        {
                _cleanup_fclose_ FILE *f = fopen("/proc/swaps", "re");
                char swap[2048];
                struct stat st;

                while (f && fgets(line, sizeof(line), f))
                        if (sscanf(line, "%2047s", swap) == 1 && stat(swap, &st) == 0 && S_ISBLK(st.st_mode) &&
                            (name = family_member(fam, st.st_rdev))) {
                                who(fam, name, subject, sizeof(subject));
                                snprintf(buf, size, "%s is a swap area in use", subject);
                                goto out;
                        }
        }
        for (size_t i = 0; i < fam->n; i++) {
                _cleanup_closedir_ DIR *d = NULL;
                struct dirent *e;

                snprintf(line, sizeof(line), "/sys/class/block/%s/holders", fam->m[i].name);
                if (!(d = opendir(line)))
                        continue;
                while ((e = readdir(d)))
                        if (e->d_name[0] != '.') {
                                who(fam, fam->m[i].name, subject, sizeof(subject));
                                snprintf(buf, size, "%s is held by %s (device-mapper or MD)", subject, e->d_name);
                                goto out;
                        }
        }
out:
        free(fam);
}

int ez_blockdev_open(const char *path, uint64_t need_size, unsigned flags,
                     struct ez_blockdev **ret, struct ez_err *err)
{
        _cleanup_close_ int fd = -1;
        bool write = flags & EZ_BLOCKDEV_WRITE, created = false;
        struct ez_blockdev *dev;
        struct stat st;
        uint64_t size;

        bool is_blk = stat(path, &st) == 0 && S_ISBLK(st.st_mode);

        if (is_blk)
                /* O_EXCL on a block device: EBUSY if mounted or claimed */
                fd = open(path, (write ? O_RDWR | O_EXCL : O_RDONLY) | O_CLOEXEC);
        else
                fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && write && (flags & EZ_BLOCKDEV_CREATE)) {
                fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                created = fd >= 0;
        }
        if (fd < 0) {
                int e = errno;

                if (e == EISDIR)
                        return ez_err_set(err, -EINVAL, "'%s' is neither a block device nor a regular file", path);
                if (e == EBUSY) {
                        char why[4096] = "";

                        if (is_blk)
                                why_busy(st.st_rdev, why, sizeof(why));
                        if (why[0])
                                return ez_err_set(err, -EBUSY, "'%s' is in use: %s", path, why);
                        return ez_err_set(err, -EBUSY, "'%s' is in use (mounted or opened exclusively)", path);
                }
                if (e == EROFS || e == EACCES || e == EPERM)
                        return ez_err_set(err, -e, "cannot open '%s' for %s: %s", path,
                                          write ? "writing" : "reading", strerror(e));
                return ez_err_set(err, -e, "cannot open '%s': %s", path, strerror(e));
        }
        if (fstat(fd, &st) < 0)
                return ez_err_set(err, -errno, "cannot stat '%s': %s", path, strerror(errno));
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return ez_err_set(err, -errno, "cannot read the size of '%s': %s", path, strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
                size = (uint64_t)st.st_size;
        } else {
                return ez_err_set(err, -EINVAL, "'%s' is neither a block device nor a regular file", path);
        }
        if (size < need_size && (S_ISBLK(st.st_mode) || !write)) {
                if (created)
                        unlink(path);
                return ez_err_set(err, -ENOSPC, "'%s' holds %" PRIu64 " bytes, the image needs %" PRIu64,
                                  path, size, need_size);
        }

        dev = calloc(1, sizeof(*dev));
        if (!dev || !(dev->path = strdup(path))) {
                free(dev);
                return ez_err_set(err, -ENOMEM, "out of memory");
        }
        dev->fd = TAKE_FD(fd);
        dev->is_block = S_ISBLK(st.st_mode);
        if (dev->is_block) {
                /* the kernel's own word: partitions have a "partition" attribute */
                char attr[64];
                snprintf(attr, sizeof(attr), "/sys/dev/block/%u:%u/partition", major(st.st_rdev), minor(st.st_rdev));
                dev->is_partition = access(attr, F_OK) == 0;
        }
        dev->created = created;
        dev->size = size;
        *ret = dev;
        return 0;
}

int ez_blockdev_extend(struct ez_blockdev *dev, uint64_t size, struct ez_err *err)
{
        if (dev->is_block || dev->size >= size)
                return 0;
        if (size > INT64_MAX)
                return ez_err_set(err, -EFBIG, "size %" PRIu64 " is too large for a file", size);
        if (ftruncate(dev->fd, (off_t)size) < 0)
                return ez_err_set(err, -errno, "cannot extend '%s' to %" PRIu64 " bytes: %s",
                                  dev->path, size, strerror(errno));
        dev->size = size;
        return 0;
}

int ez_payload_io(const struct ez_layout *l, int fd, bool write, void *buf, uint64_t poff, uint64_t len)
{
        char *p = buf;

        while (len > 0) {
                uint64_t toff, run;
                int r;

                if (ez_layout_map(l, poff, len, &toff, &run) < 0)
                        return -ERANGE;
                r = write ? ez_io_pwrite_full(fd, p, run, toff) : ez_io_pread_full(fd, p, run, toff);
                if (r < 0)
                        return r;
                p += run;
                poff += run;
                len -= run;
        }
        return 0;
}

static int write_zeros(int fd, uint64_t off, uint64_t len)
{
        static const size_t chunk = 1 << 20;
        _cleanup_free_ char *z = calloc(1, chunk);

        if (!z)
                return -ENOMEM;
        while (len > 0) {
                size_t n = len < chunk ? (size_t)len : chunk;
                int r = ez_io_pwrite_full(fd, z, n, off);

                if (r < 0)
                        return r;
                off += n;
                len -= n;
        }
        return 0;
}

int ez_blockdev_zero(struct ez_blockdev *dev, uint64_t off, uint64_t len, struct ez_err *err)
{
        int r;

        if (len == 0)
                return 0;
        if (off > dev->size || len > dev->size - off)
                return ez_err_set(err, -ERANGE, "zero range at %#" PRIx64 " ends past the end of '%s'", off, dev->path);
        if (dev->is_block) {
                uint64_t range[2] = { off, len };

                if (off % 512 == 0 && len % 512 == 0 && ioctl(dev->fd, BLKZEROOUT, range) == 0)
                        return 0;
        } else {
                if (fallocate(dev->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
                        return 0;
                if (fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
                        return 0;
        }
        r = write_zeros(dev->fd, off, len);
        if (r < 0)
                return ez_err_set(err, r, "cannot zero %" PRIu64 " bytes at %#" PRIx64 " of '%s': %s",
                                  len, off, dev->path, strerror(-r));
        return 0;
}

int ez_blockdev_sync(struct ez_blockdev *dev, struct ez_err *err)
{
        if (fsync(dev->fd) < 0)
                return ez_err_set(err, -errno, "cannot flush '%s': %s", dev->path, strerror(errno));
        return 0;
}

int ez_blockdev_size(int fd, const char *path, uint64_t *ret, struct ez_err *err)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return ez_err_set(err, -errno, "cannot stat '%s': %s", path, strerror(errno));
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, ret) < 0)
                        return ez_err_set(err, -errno, "cannot read the size of '%s': %s", path, strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
                *ret = (uint64_t)st.st_size;
        } else {
                return ez_err_set(err, -EINVAL, "'%s' is neither a block device nor a regular file", path);
        }
        if (*ret == 0)
                return ez_err_set(err, -EINVAL, "'%s' is empty", path);
        return 0;
}
