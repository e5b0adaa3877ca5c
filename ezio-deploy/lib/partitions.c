/*
 * partitions.c - libblkid on a source: signatures and partition tables
 * (see partitions.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blkid.h>

#include "cleanup.h"
#include "io.h"
#include "partitions.h"

int ez_partitions_probe_fs(int fd, uint64_t off, uint64_t len, char *type, size_t n)
{
        blkid_probe pr = blkid_new_probe();
        const char *v = NULL;
        int r = 0;

        type[0] = '\0';
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t)off, (blkid_loff_t)len) < 0) {
                r = -EIO;
                goto out;
        }
        blkid_probe_enable_partitions(pr, 0);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE);
        r = blkid_do_safeprobe(pr);
        if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 && v)
                snprintf(type, n, "%s", v);
        r = r == -2 ? 1 : 0;    /* 1: more than one signature */
out:
        blkid_free_probe(pr);
        return r;
}

int ez_partitions_check_gpt(int fd, uint64_t size, unsigned *sector, struct ez_err *err)
{
        static const unsigned sectors[] = { 512, 4096 };
        uint8_t h[48];
        size_t i;

        for (i = 0; i < EZ_ARRAY_SIZE(sectors); i++) {
                uint64_t alt = 0, need;
                int b;

                if (size < 2ull * sectors[i] || ez_io_pread_full(fd, h, sizeof(h), sectors[i]) < 0 ||
                    memcmp(h, "EFI PART", 8) != 0)
                        continue;
                if (!*sector)
                        *sector = sectors[i];
                for (b = 7; b >= 0; b--)
                        alt = alt << 8 | h[32 + b];             /* backup header LBA, little endian */
                if (alt > UINT64_MAX / sectors[i] - 1)
                        continue;
                need = (alt + 1) * sectors[i];
                if (need > size)
                        return ez_err_set(err, -EINVAL,
                                          "the GPT describes a disk of %" PRIu64 " bytes but the source has %" PRIu64
                                          ": is the image truncated?", need, size);
        }
        return 0;
}

int ez_partitions_list(int fd, uint64_t size, unsigned sector, char *pttype, size_t pttype_n,
                       struct ez_partition **ret, size_t *ret_n, struct ez_err *err)
{
        blkid_probe pr = blkid_new_probe();
        blkid_partlist ls;
        blkid_parttable tab;
        struct ez_partition *parts = NULL;
        size_t count = 0;
        int i, n, r = 0;

        if (!pr)
                return ez_err_set(err, -ENOMEM, "out of memory");
        if (blkid_probe_set_device(pr, fd, 0, (blkid_loff_t)size) < 0) {
                r = ez_err_set(err, -EIO, "cannot probe for a partition table");
                goto out;
        }
        if (sector)
                blkid_probe_set_sectorsize(pr, sector);
        blkid_probe_enable_superblocks(pr, 0);
        blkid_probe_enable_partitions(pr, 1);
        ls = blkid_probe_get_partitions(pr);
        if (!ls || !(tab = blkid_partlist_get_table(ls)))
                goto out;
        snprintf(pttype, pttype_n, "%s", blkid_parttable_get_type(tab) ?: "");
        n = blkid_partlist_numof_partitions(ls);
        for (i = 0; i < n && r >= 0; i++) {
                blkid_partition par = blkid_partlist_get_partition(ls, i);
                uint64_t start = (uint64_t)blkid_partition_get_start(par) * 512;
                uint64_t len = (uint64_t)blkid_partition_get_size(par) * 512;
                int nr = blkid_partition_get_partno(par);
                struct ez_partition *p;

                if (blkid_partition_is_extended(par) || len == 0)
                        continue;
                if (start > size || len > size - start) {
                        r = ez_err_set(err, -EINVAL,
                                       "partition %d (%" PRIu64 " bytes at offset %" PRIu64 ") ends past the end of the "
                                       "source (%" PRIu64 " bytes): is the image truncated?", nr, len, start, size);
                        break;
                }
                p = realloc(parts, (count + 1) * sizeof(*p));
                if (!p) {
                        r = ez_err_set(err, -ENOMEM, "out of memory");
                        break;
                }
                parts = p;
                parts[count++] = (struct ez_partition){ .number = nr, .off = start, .len = len };
        }
out:
        blkid_free_probe(pr);
        if (r < 0) {
                free(parts);
                return r;
        }
        *ret = parts;
        *ret_n = count;
        return 0;
}
