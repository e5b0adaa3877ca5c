/*
 * partclone.c - what partclone tells about a filesystem (see partclone.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "partclone.h"

#define TEXT_MAX (1u << 30)     /* a domain map or torrent.info of a very large filesystem */

/* blkid's TYPE -> partclone's program suffix */
static const struct {
        const char *blkid, *partclone;
} fs_table[] = {
        { "ext2", "extfs" }, { "ext3", "extfs" }, { "ext4", "extfs" }, { "ext4dev", "extfs" },
        { "xfs", "xfs" }, { "btrfs", "btrfs" }, { "vfat", "fat" }, { "exfat", "exfat" },
        { "ntfs", "ntfs" }, { "hfsplus", "hfsp" }, { "apfs", "apfs" }, { "f2fs", "f2fs" },
        { "minix", "minix" }, { "reiser4", "reiser4" }, { "reiserfs", "reiserfs" },
        { "nilfs2", "nilfs2" }, { "jfs", "jfs" }, { "ufs", "ufs" }, { "VMFS", "vmfs" },
};

const char *ez_partclone_fs(const char *type)
{
        size_t i;

        for (i = 0; type && i < EZ_ARRAY_SIZE(fs_table); i++)
                if (strcmp(fs_table[i].blkid, type) == 0)
                        return fs_table[i].partclone;
        return NULL;
}

int ez_partclone_domain_map(const char *fs, const char *dev, const char *what, const struct ez_helper_dir *d,
                            const volatile sig_atomic_t *stop, char **ret, struct ez_err *err)
{
        char prog[64], fresh[] = "0.1", map[4200], log[4200];
        char *argv[] = { prog, "-D", "-s", (char *)dev, "-O", map, "-L", log, "-f", fresh, "-B", NULL };
        int r, status;

        snprintf(prog, sizeof(prog), "partclone.%s", fs);
        snprintf(map, sizeof(map), "%s/domain.map", d->path);
        snprintf(log, sizeof(log), "%s/partclone.log", d->path);
        unlink(map);
        r = ez_helper_run(argv, d->out, stop, &status, err);
        if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = ez_helper_failed(prog, what, status, log, d->out, err);
        if (r >= 0 && (r = ez_io_read_file(map, TEXT_MAX, ret, NULL, NULL)) < 0)
                ez_err_set(err, r, "%s wrote no domain map for %s: %s", prog, what, strerror(-r));
        unlink(map);
        unlink(log);
        return r;
}

void ez_partclone_info_free(struct ez_partclone_info *pi)
{
        free(pi->ext);
        free(pi->sha1);
        *pi = (struct ez_partclone_info){ 0 };
}

static int hex_field(const char *v, uint64_t *ret)
{
        size_t n = strspn(v, "0123456789abcdefABCDEF");
        uint64_t x = 0;
        size_t i;

        if (n == 0 || v[n + strspn(v + n, " \t\r")] != '\0')
                return -EINVAL;
        for (i = 0; i < n; i++) {
                int d = isdigit((unsigned char)v[i]) ? v[i] - '0' : (tolower((unsigned char)v[i]) - 'a' + 10);

                if (x >> 60)
                        return -ERANGE;
                x = x << 4 | (uint64_t)d;
        }
        *ret = x;
        return 0;
}

void ez_partclone_info_path(const char *given, char *info, size_t info_n, char *dir, size_t dir_n)
{
        struct stat st;
        char *slash;

        if (stat(given, &st) == 0 && S_ISDIR(st.st_mode)) {
                snprintf(info, info_n, "%s/torrent.info", given);
                if (dir)
                        snprintf(dir, dir_n, "%s", given);
                return;
        }
        snprintf(info, info_n, "%s", given);
        if (!dir)
                return;
        snprintf(dir, dir_n, "%s", given);
        slash = strrchr(dir, '/');
        if (slash)
                *slash = '\0';
        else
                snprintf(dir, dir_n, ".");
}

int ez_partclone_info_load(const char *path, struct ez_partclone_info *pi, struct ez_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t cap_ext = 0, cap_sha = 0;
        uint64_t pending_off = UINT64_MAX, sum = 0;
        unsigned lineno = 0;
        char *line, *save = NULL;
        int r;

        *pi = (struct ez_partclone_info){ 0 };
        r = ez_io_read_file(path, TEXT_MAX, &text, NULL, NULL);
        if (r < 0)
                return ez_err_set(err, r, "cannot read '%s': %s", path, strerror(-r));
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *colon = strchr(line, ':'), *v;
                uint64_t x = 0;

                lineno++;
                if (line[strspn(line, " \t\r")] == '\0')
                        continue;
                if (!colon)
                        goto bad;
                *colon = '\0';
                v = colon + 1 + strspn(colon + 1, " \t");
                if (strcmp(line, "block_size") == 0 || strcmp(line, "blocks_total") == 0) {
                        char *end;
                        unsigned long long n;

                        errno = 0;
                        n = strtoull(v, &end, 10);      /* which would take "-1" */
                        if (!isdigit((unsigned char)*v) || errno || end == v || *end != '\0' || n == 0)
                                goto bad;
                        if (strcmp(line, "block_size") == 0)
                                pi->block_size = n > UINT32_MAX ? 0 : (uint32_t)n;
                        else
                                pi->blocks_total = n;
                } else if (strcmp(line, "offset") == 0) {
                        if (pending_off != UINT64_MAX || hex_field(v, &x) < 0)
                                goto bad;
                        pending_off = x;
                } else if (strcmp(line, "length") == 0) {
                        if (pending_off == UINT64_MAX || hex_field(v, &x) < 0 || x == 0 ||
                            x > UINT64_MAX - pending_off)
                                goto bad;
                        if (pi->n_ext && pending_off < pi->ext[pi->n_ext - 1].off + pi->ext[pi->n_ext - 1].len) {
                                r = ez_err_set(err, -EINVAL, "%s: line %u: extents out of order or overlapping",
                                               path, lineno);
                                goto fail;
                        }
                        if (pi->n_ext == cap_ext) {
                                struct ez_extent *e;

                                cap_ext = cap_ext ? 2 * cap_ext : 256;
                                if (cap_ext > EZ_LAYOUT_MAX_EXTENTS ||
                                    !(e = realloc(pi->ext, cap_ext * sizeof(*e)))) {
                                        r = ez_err_set(err, -ENOMEM, "%s: too many extents", path);
                                        goto fail;
                                }
                                pi->ext = e;
                        }
                        pi->ext[pi->n_ext++] = (struct ez_extent){ pending_off, x };
                        sum += x;
                        pending_off = UINT64_MAX;
                } else if (strcmp(line, "sha1") == 0) {
                        size_t i;

                        if (strspn(v, "0123456789abcdefABCDEF") != 40 || v[40 + strspn(v + 40, " \t\r")] != '\0')
                                goto bad;
                        if (pi->n_sha1 == cap_sha) {
                                uint8_t *p;

                                cap_sha = cap_sha ? 2 * cap_sha : 256;
                                if (!(p = realloc(pi->sha1, cap_sha * 20))) {
                                        r = ez_err_set(err, -ENOMEM, "out of memory");
                                        goto fail;
                                }
                                pi->sha1 = p;
                        }
                        for (i = 0; i < 20; i++) {
                                char h[3] = { v[2 * i], v[2 * i + 1], 0 };

                                pi->sha1[20 * pi->n_sha1 + i] = (uint8_t)strtoul(h, NULL, 16);
                        }
                        pi->n_sha1++;
                } else {
                        goto bad;
                }
        }
        if (!pi->block_size || !pi->blocks_total || pi->n_ext == 0 || pending_off != UINT64_MAX) {
                r = ez_err_set(err, -EINVAL, "%s: not a partclone torrent.info (block_size, blocks_total "
                               "and offset/length pairs are needed)", path);
                goto fail;
        }
        if (pi->blocks_total > UINT64_MAX / pi->block_size ||
            pi->ext[pi->n_ext - 1].off + pi->ext[pi->n_ext - 1].len > pi->blocks_total * pi->block_size) {
                r = ez_err_set(err, -EINVAL, "%s: an extent ends past blocks_total x block_size", path);
                goto fail;
        }
        pi->size = pi->blocks_total * pi->block_size;
        pi->data_bytes = sum;
        return 0;
bad:
        r = ez_err_set(err, -EINVAL, "%s: line %u is not what partclone writes", path, lineno);
fail:
        ez_partclone_info_free(pi);
        return r;
}
