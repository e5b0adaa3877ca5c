/*
 * parttable.c - the kernel's view of a freshly written partition table
 * (see parttable.h).
 *
 * BLKRRPART is what a disk needs; it fails with EBUSY while any partition
 * of the disk is open, and with EINVAL where the device suppresses
 * partition scanning, as loop devices without partscan do; and a kernel
 * built without the parser for the table's kind (GPT, MBR) answers it
 * with no partitions at all.  So the kernel's view (sysfs) is then held
 * against the table as libblkid reads it, and where they differ the table
 * is told to the kernel one partition at a time (BLKPG_DEL_PARTITION for
 * what it knew, then BLKPG_ADD_PARTITION), which is how partx(8) and
 * partprobe(8) do it.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <blkid/blkid.h>

#include "cleanup.h"
#include "io.h"
#include "parttable.h"

struct part {
        int pno;
        long long start, len;           /* bytes */
};

#define MAX_PARTS 256

static int blkpg(int fd, int op, const struct part *p)
{
        struct blkpg_partition bp = { .start = p->start, .length = p->len, .pno = p->pno };
        struct blkpg_ioctl_arg arg = { .op = op, .datalen = sizeof(bp), .data = &bp };

        return ioctl(fd, BLKPG, &arg) < 0 ? -errno : 0;
}

/* A number from the sysfs attribute dir/name, or -1. */
static long long sysfs_num(const char *dir, const char *name)
{
        _cleanup_free_ char *path = NULL, *buf = NULL;

        if (asprintf(&path, "%s/%s", dir, name) < 0) {
                path = NULL;
                return -1;
        }
        if (ez_io_read_file(path, 64, &buf, NULL, NULL) < 0 || !buf[0])
                return -1;
        return atoll(buf);
}

/* The partitions the kernel knows of the disk fd: sysfs lists each as a
 * subdirectory with "partition", "start" and "size" (512-byte units).
 * Returns how many, or -errno. */
static int kernel_parts(int fd, const char *path, struct part *out, struct ez_err *err)
{
        struct stat st;
        char dir[64];
        DIR *dp;
        struct dirent *e;
        int n = 0;

        if (fstat(fd, &st) < 0)
                return ez_err_set(err, -errno, "'%s': %s", path, strerror(errno));
        snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
        dp = opendir(dir);
        if (!dp)
                return ez_err_set(err, -errno, "'%s': %s: %s", path, dir, strerror(errno));
        while (n < MAX_PARTS && (e = readdir(dp))) {
                _cleanup_free_ char *sub = NULL;

                if (e->d_name[0] == '.' || asprintf(&sub, "%s/%s", dir, e->d_name) < 0) {
                        sub = NULL;
                        continue;
                }
                out[n].pno = (int)sysfs_num(sub, "partition");
                if (out[n].pno <= 0)
                        continue;       /* not a partition */
                out[n].start = sysfs_num(sub, "start") * 512;
                out[n].len = sysfs_num(sub, "size") * 512;
                n++;
        }
        closedir(dp);
        return n;
}

/* The partitions of the table on fd, as libblkid reads it.  Returns how
 * many (0: no table libblkid knows), or -errno. */
static int table_parts(int fd, const char *path, struct part *out, struct ez_err *err)
{
        blkid_probe pr = blkid_new_probe();
        blkid_partlist ls;
        long long ext;
        int i, n, ss = 512;

        if (!pr)
                return ez_err_set(err, -ENOMEM, "out of memory");
        /* the kernel gives an extended partition one logical sector (at
         * least 1 KiB) of it, where its table is */
        if (ioctl(fd, BLKSSZGET, &ss) < 0 || ss < 512)
                ss = 512;
        ext = ss > 1024 ? ss : 1024;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0 || blkid_probe_enable_superblocks(pr, 0) < 0 ||
            blkid_probe_enable_partitions(pr, 1) < 0) {
                blkid_free_probe(pr);
                return ez_err_set(err, -EIO, "'%s': libblkid cannot read it", path);
        }
        ls = blkid_probe_get_partitions(pr);
        n = ls ? blkid_partlist_numof_partitions(ls) : 0;
        if (n < 0) {
                blkid_free_probe(pr);
                return ez_err_set(err, -EIO, "'%s': libblkid cannot read its partition table", path);
        }
        if (n > MAX_PARTS)
                n = MAX_PARTS;
        for (i = 0; i < n; i++) {
                blkid_partition par = blkid_partlist_get_partition(ls, i);

                out[i].pno = blkid_partition_get_partno(par);
                out[i].start = (long long)blkid_partition_get_start(par) * 512;
                out[i].len = (long long)blkid_partition_get_size(par) * 512;
                if (blkid_partition_is_extended(par) && out[i].len > ext)
                        out[i].len = ext;
        }
        blkid_free_probe(pr);
        return n;
}

/* Whether the kernel's view a[na] is the table b[nb], in any order. */
static bool same_parts(const struct part *a, int na, const struct part *b, int nb)
{
        int i, j;

        if (na != nb)
                return false;
        for (i = 0; i < na; i++) {
                for (j = 0; j < nb; j++)
                        if (a[i].pno == b[j].pno && a[i].start == b[j].start && a[i].len == b[j].len)
                                break;
                if (j == nb)
                        return false;
        }
        return true;
}

int ez_parttable_reread(int fd, const char *path, struct ez_err *err)
{
        _cleanup_free_ struct part *known = calloc(MAX_PARTS, sizeof(*known));
        _cleanup_free_ struct part *table = calloc(MAX_PARTS, sizeof(*table));
        int nk, nt, i, r, tries;

        if (!known || !table)
                return ez_err_set(err, -ENOMEM, "out of memory");
        fsync(fd);
        /* EBUSY may be a moment's: udev probing the disk after the writes */
        for (tries = 0; (r = ioctl(fd, BLKRRPART) < 0 ? -errno : 0) == -EBUSY && tries < 4; tries++)
                usleep(250 * 1000);
        if (r < 0 && r != -EINVAL)
                return ez_err_set(err, r, "the kernel could not re-read the partition table of '%s': %s%s",
                                  path, strerror(-r), r == -EBUSY ? " (a partition of it is in use)" : "");
        /* EINVAL: the device does not scan partitions itself; and a kernel
         * built without the table's parser answers BLKRRPART with no
         * partitions: either way, tell it the table one partition at a
         * time.  Where the kernel did read it, its view stands unless
         * libblkid reads a table that differs: the kernel knows tables
         * libblkid does not (LDM, blkdevparts=) */
        nt = table_parts(fd, path, table, err);
        if (nt < 0 || (nt == 0 && r == 0))
                return r == 0 ? 0 : nt;
        nk = kernel_parts(fd, path, known, err);
        if (nk < 0)
                return nk;
        if (same_parts(known, nk, table, nt))
                return 0;
        for (i = 0; i < nk; i++) {
                r = blkpg(fd, BLKPG_DEL_PARTITION, &known[i]);
                if (r < 0)
                        return ez_err_set(err, r, "cannot remove partition %d of '%s' from the kernel's view: %s%s",
                                          known[i].pno, path, strerror(-r),
                                          r == -EBUSY ? " (it is in use)" : "");
        }
        for (i = 0; i < nt; i++) {
                r = blkpg(fd, BLKPG_ADD_PARTITION, &table[i]);
                if (r < 0)
                        return ez_err_set(err, r, "cannot add partition %d of '%s' to the kernel's view: %s",
                                          table[i].pno, path, strerror(-r));
        }
        return 0;
}
