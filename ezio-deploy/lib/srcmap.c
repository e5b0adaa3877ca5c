/*
 * srcmap.c - the regions of a source image to read (see srcmap.h): the
 * region list, and the rules that pick, for each area of the source,
 * partclone's map, the swap header or the whole of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockdev.h"
#include "cleanup.h"
#include "helper.h"
#include "loopdev.h"
#include "partclone.h"
#include "partitions.h"
#include "srcmap.h"

#define TAIL_COPY_MAX (1u << 20)
#define SWAP_HEADER_MAX (64u << 10)

void ez_srcmap_free(struct ez_srcmap *m)
{
        if (!m)
                return;
        free(m->regions);
        free(m->parts);
        free(m->notes);
        free(m);
}

static void note(struct ez_srcmap *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct ez_srcmap *m, const char *fmt, ...)
{
        char line[512];
        size_t old = m->notes ? strlen(m->notes) : 0, n;
        char *p;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        n = strlen(line);
        p = realloc(m->notes, old + n + 2);
        if (!p)
                return;         /* a lost warning is not worth failing for */
        memcpy(p + old, line, n);
        p[old + n] = '\n';
        p[old + n + 1] = '\0';
        m->notes = p;
}

int ez_srcmap_add_region(struct ez_srcmap *m, uint64_t off, uint64_t len, uint32_t bs, struct ez_err *err)
{
        uint64_t end;

        if (len == 0 || off >= m->size)
                return 0;
        end = len > m->size - off ? m->size : off + len;
        off = off / bs * bs;
        if (end % bs) {
                end = end / bs * bs + bs;
                if (end > m->size)
                        end = m->size;
        }
        if (m->n_regions >= EZ_LAYOUT_MAX_EXTENTS)
                return ez_err_set(err, -E2BIG, "more than %u used ranges", EZ_LAYOUT_MAX_EXTENTS);
        if (m->n_regions == m->cap_regions) {
                size_t c = m->cap_regions ? m->cap_regions * 2 : 256;
                struct ez_extent *r = realloc(m->regions, c * sizeof(*r));

                if (!r)
                        return ez_err_set(err, -ENOMEM, "out of memory");
                m->regions = r;
                m->cap_regions = c;
        }
        m->regions[m->n_regions++] = (struct ez_extent){ .off = off, .len = end - off };
        return 0;
}

static int cmp_extent(const void *a, const void *b)
{
        const struct ez_extent *x = a, *y = b;

        return x->off < y->off ? -1 : x->off > y->off;
}

void ez_srcmap_normalize(struct ez_srcmap *m)
{
        size_t i, n = 0;

        qsort(m->regions, m->n_regions, sizeof(*m->regions), cmp_extent);
        m->region_bytes = 0;
        for (i = 0; i < m->n_regions; i++) {
                struct ez_extent *last = n ? &m->regions[n - 1] : NULL;
                uint64_t end = m->regions[i].off + m->regions[i].len;

                if (last && m->regions[i].off <= last->off + last->len) {
                        if (end > last->off + last->len)
                                last->len = end - last->off;
                } else {
                        m->regions[n++] = m->regions[i];
                }
        }
        m->n_regions = n;
        for (i = 0; i < n; i++)
                m->region_bytes += m->regions[i].len;
}

int ez_srcmap_add_domain(struct ez_srcmap *m, const char *text, uint64_t base, uint64_t limit,
                         uint32_t bs, uint64_t *ret_used, uint64_t *ret_end, struct ez_err *err)
{
        const char *line = text;
        uint64_t used = 0, described = 0;
        unsigned lineno = 0;
        bool status_line = true;
        int r;

        while (*line) {
                const char *next = strchr(line, '\n');
                char buf[256], status;
                unsigned long long pos, size;
                size_t n = next ? (size_t)(next - line) : strlen(line);
                int fields;

                lineno++;
                if (n >= sizeof(buf))
                        return ez_err_set(err, -EINVAL, "domain map line %u is too long", lineno);
                memcpy(buf, line, n);
                buf[n] = '\0';
                line += n + (next != NULL);
                if (buf[strspn(buf, " \t\r")] == '\0' || buf[strspn(buf, " \t")] == '#')
                        continue;
                if (status_line) {
                        status_line = false;    /* "current_pos current_status" */
                        continue;
                }
                fields = sscanf(buf, "%llx %llx %c", &pos, &size, &status);
                if (fields != 3 || !strchr("+?*/-", status))
                        return ez_err_set(err, -EINVAL, "domain map line %u is not 'pos size status': %s", lineno, buf);
                if (pos > limit || size > limit - pos)
                        return ez_err_set(err, -EINVAL,
                                          "the filesystem reaches past the end (%#llx + %#llx > %#" PRIx64
                                          " bytes, domain map line %u): is the image truncated?",
                                          pos, size, limit, lineno);
                if (pos + size > described)
                        described = pos + size;
                if (status != '+')
                        continue;
                r = ez_srcmap_add_region(m, base + pos, size, bs, err);
                if (r < 0)
                        return r;
                used += size;
        }
        if (ret_used)
                *ret_used = used;
        if (ret_end)
                *ret_end = described;
        return 0;
}

static const char *fs_choice(const struct ez_srcmap_options *o, int part)
{
        const char *any = NULL;
        size_t i;

        for (i = 0; i < o->n_fs; i++) {
                if (o->fs[i].part == part)
                        return o->fs[i].type;
                if (o->fs[i].part == 0)
                        any = o->fs[i].type;
        }
        return any;
}

/* Map one filesystem area: a partition, or the whole source. */
static int map_area(struct ez_srcmap *m, const struct ez_srcmap_options *o, int fd, struct ez_srcmap_part *p,
                    const struct ez_helper_dir *t, struct ez_err *err)
{
        const char *forced = fs_choice(o, p->number), *pc = NULL;
        uint64_t described = 0;
        char what[64], dev[64];
        _cleanup_free_ char *map = NULL;
        int ambiguous, r, lfd = -1;

        if (p->number)
                snprintf(what, sizeof(what), "partition %d", p->number);
        else
                snprintf(what, sizeof(what), "'%s'", o->source);
        ambiguous = ez_partitions_probe_fs(fd, p->off, p->len, p->fstype, sizeof(p->fstype));
        if (ambiguous < 0)
                return ez_err_set(err, ambiguous, "cannot probe %s for a filesystem", what);
        if (forced && strcmp(forced, "raw") == 0)
                goto raw;
        if (forced) {
                pc = ez_partclone_fs(forced);
                if (!pc)
                        return ez_err_set(err, -EINVAL, "--fs %s: partclone knows no filesystem of that name", forced);
        } else if (ambiguous) {
                note(m, "%s carries more than one filesystem signature: copied whole", what);
                goto raw;
        } else if (!p->fstype[0]) {
                goto raw;
        } else if (strcmp(p->fstype, "swap") == 0) {
                /* only the header page (4 KiB, or 64 KiB on 64 KiB-page
                 * systems) means anything; what was swapped out does not */
                snprintf(p->route, sizeof(p->route), "swap header");
                p->used = p->len < SWAP_HEADER_MAX ? p->len : SWAP_HEADER_MAX;
                return ez_srcmap_add_region(m, p->off, p->used, o->block_size, err);
        } else if (!(pc = ez_partclone_fs(p->fstype))) {
                note(m, "%s holds %s, which partclone does not read: copied whole", what, p->fstype);
                goto raw;
        }

        if (p->off == 0 && p->len == m->size) {
                snprintf(dev, sizeof(dev), "%s", o->source);
        } else {
                lfd = ez_loopdev_attach(fd, p->off, p->len, dev, sizeof(dev), err);
                if (lfd < 0) {
                        if (forced)
                                return ez_err_prefix(err, lfd, "%s", what);
                        note(m, "%s (%s): %s; copied whole", what, p->fstype, err ? err->msg : "no loop device");
                        goto raw;
                }
        }
        r = ez_partclone_domain_map(pc, p->number ? dev : o->source, what, t, o->stop, &map, err);
        if (lfd >= 0)
                close(lfd);
        if (r == -ENOENT) {
                if (forced)
                        return ez_err_set(err, -ENOENT, "--fs %s: partclone.%s is not installed", forced, pc);
                note(m, "%s holds %s but partclone.%s is not installed: copied whole", what, p->fstype, pc);
                goto raw;
        }
        if (r < 0)
                return r;
        snprintf(p->route, sizeof(p->route), "partclone.%s", pc);
        r = ez_srcmap_add_domain(m, map, p->off, p->len, o->block_size, &p->used, &described, err);
        if (r < 0)
                return ez_err_prefix(err, r, "partclone.%s on %s", pc, what);
        /* a short tail the filesystem's blocks do not cover (NTFS keeps its
         * backup boot sector in the partition's last sector) is copied
         * whole; a long one is space the filesystem does not use */
        if (p->len - described <= TAIL_COPY_MAX) {
                r = ez_srcmap_add_region(m, p->off + described, p->len - described, o->block_size, err);
                p->used += p->len - described;
        }
        return r;
raw:
        snprintf(p->route, sizeof(p->route), "raw");
        p->used = p->len;
        return ez_srcmap_add_region(m, p->off, p->len, o->block_size, err);
}

static int add_part(struct ez_srcmap *m, int number, uint64_t off, uint64_t len, struct ez_err *err)
{
        struct ez_srcmap_part *p = realloc(m->parts, (m->n_parts + 1) * sizeof(*p));

        if (!p)
                return ez_err_set(err, -ENOMEM, "out of memory");
        m->parts = p;
        m->parts[m->n_parts++] = (struct ez_srcmap_part){ .number = number, .off = off, .len = len };
        return 0;
}

/* The partitions of a whole disk into m->parts, its table type into
 * m->pttype; none (and pttype untouched) without a table. */
static int list_partitions(struct ez_srcmap *m, int fd, unsigned sector, struct ez_err *err)
{
        _cleanup_free_ struct ez_partition *parts = NULL;
        size_t i, n = 0;
        int r;

        r = ez_partitions_list(fd, m->size, sector, m->pttype, sizeof(m->pttype), &parts, &n, err);
        for (i = 0; r >= 0 && i < n; i++)
                r = add_part(m, parts[i].number, parts[i].off, parts[i].len, err);
        return r;
}

int ez_srcmap_build(const struct ez_srcmap_options *o, struct ez_srcmap **ret, struct ez_err *err)
{
        _cleanup_close_ int fd = -1;
        struct ez_srcmap *m = calloc(1, sizeof(*m));
        struct ez_helper_dir t = { .path = "" };
        char fstype[32];
        uint32_t bs = o->block_size ? o->block_size : 4096;
        struct ez_srcmap_options oo = *o;
        uint64_t at = 0;
        size_t i;
        int r;

        oo.block_size = bs;
        if (!m)
                return ez_err_set(err, -ENOMEM, "out of memory");
        for (i = 0; i < o->n_fs; i++)
                if (strcmp(o->fs[i].type, "raw") && !ez_partclone_fs(o->fs[i].type)) {
                        r = ez_err_set(err, -EINVAL, "--fs %s: partclone knows no filesystem of that name", o->fs[i].type);
                        goto fail;
                }
        fd = open(o->source, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = ez_err_set(err, -errno, "cannot open '%s': %s", o->source, strerror(errno));
                goto fail;
        }
        r = ez_blockdev_size(fd, o->source, &m->size, err);
        if (r < 0)
                goto fail;
        r = ez_helper_dir_make(&t, o->tmpdir, err);
        if (r < 0)
                goto fail;

        if (o->pcinfo) {
                /* the used extents partclone listed when it made torrent.info */
                struct ez_partclone_info pi;

                r = ez_partclone_info_load(o->pcinfo, &pi, err);
                if (r >= 0 && pi.size > m->size)
                        r = ez_err_set(err, -EINVAL, "%s describes %" PRIu64 " bytes but '%s' has %" PRIu64
                                       ": is the image truncated?", o->pcinfo, pi.size, o->source, m->size);
                m->kind = o->kind < 0 ? EZ_LAYOUT_PARTITION : (enum ez_layout_kind)o->kind;
                if (r >= 0)
                        r = add_part(m, 0, 0, m->size, err);
                for (i = 0; r >= 0 && i < pi.n_ext; i++)
                        r = ez_srcmap_add_region(m, pi.ext[i].off, pi.ext[i].len, bs, err);
                if (r >= 0) {
                        snprintf(m->parts[0].route, sizeof(m->parts[0].route), "torrent.info");
                        m->parts[0].used = pi.data_bytes;
                }
                ez_partclone_info_free(&pi);
                if (r < 0)
                        goto fail;
                goto done;
        }

        /* a filesystem across the whole source is a partition image, a
         * partition table with partitions a disk; both (a signature left
         * over from an earlier use) is for the operator to decide */
        if (o->kind < 0 && ez_partitions_probe_fs(fd, 0, m->size, fstype, sizeof(fstype)) == 0 && fstype[0]) {
                r = list_partitions(m, fd, 0, err);
                if (r >= 0 && m->n_parts > 0)
                        r = ez_err_set(err, -EINVAL,
                                       "'%s' holds both a %s partition table with %zu partitions and a %s signature "
                                       "across the whole: give --kind disk or --kind partition", o->source,
                                       m->pttype, m->n_parts, fstype);
                if (r < 0)
                        goto fail;
                m->kind = EZ_LAYOUT_PARTITION;
        } else if (o->kind < 0 || o->kind == EZ_LAYOUT_DISK) {
                unsigned sector = 0;

                r = ez_partitions_check_gpt(fd, m->size, &sector, err);
                if (r >= 0)
                        r = list_partitions(m, fd, sector, err);
                if (r < 0)
                        goto fail;
                /* an MBR signature with no partition in it is no table */
                if (m->n_parts == 0)
                        m->pttype[0] = '\0';
                /* --kind disk without a table (a disk that is one LVM PV or
                 * one filesystem): a disk, read as one area */
                m->kind = m->pttype[0] || o->kind == EZ_LAYOUT_DISK ? EZ_LAYOUT_DISK : EZ_LAYOUT_PARTITION;
        } else {
                m->kind = EZ_LAYOUT_PARTITION;
        }
        if (m->n_parts == 0 || m->kind == EZ_LAYOUT_PARTITION) {
                free(m->parts);
                m->parts = NULL;
                m->n_parts = 0;
                m->pttype[0] = '\0';
                r = add_part(m, 0, 0, m->size, err);
                if (r < 0)
                        goto fail;
        }
        for (i = 0; i < m->n_parts; i++) {
                r = map_area(m, &oo, fd, &m->parts[i], &t, err);
                if (r < 0)
                        goto fail;
        }
        /* outside the partitions: tables, boot code, the backup GPT */
        if (m->pttype[0]) {
                struct ez_extent *sorted = malloc((m->n_parts + 1) * sizeof(*sorted));

                if (!sorted) {
                        r = ez_err_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
                for (i = 0; i < m->n_parts; i++)
                        sorted[i] = (struct ez_extent){ m->parts[i].off, m->parts[i].len };
                qsort(sorted, m->n_parts, sizeof(*sorted), cmp_extent);
                for (i = 0; i <= m->n_parts && r >= 0; i++) {
                        uint64_t next = i < m->n_parts ? sorted[i].off : m->size;

                        if (next > at)
                                r = ez_srcmap_add_region(m, at, next - at, bs, err);
                        if (i < m->n_parts && sorted[i].off + sorted[i].len > at)
                                at = sorted[i].off + sorted[i].len;
                }
                free(sorted);
                if (r < 0)
                        goto fail;
        }
done:
        ez_srcmap_normalize(m);
        ez_helper_dir_remove(&t);
        *ret = m;
        return 0;
fail:
        ez_helper_dir_remove(&t);
        ez_srcmap_free(m);
        return r;
}
