/*
 * srcmap.c - the regions of a source image to read (see srcmap.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blkid.h>

#include "blockdev.h"
#include "cleanup.h"
#include "io.h"
#include "srcmap.h"

extern char **environ;

#define TAIL_COPY_MAX (1u << 20)
#define SWAP_HEADER_MAX (64u << 10)

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

const char *ez_srcmap_partclone_fs(const char *type)
{
        size_t i;

        for (i = 0; type && i < EZ_ARRAY_SIZE(fs_table); i++)
                if (strcmp(fs_table[i].blkid, type) == 0)
                        return fs_table[i].partclone;
        return NULL;
}

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

/* A text file partclone or qemu-img wrote; -errno, no message. */
static int read_text(const char *path, char **ret)
{
        return ez_io_read_file(path, 1u << 30, ret, NULL, NULL);
}

/* The last line of a program's output that says something, for an error. */
static void last_words(const char *path, char *out, size_t n)
{
        _cleanup_free_ char *text = NULL;
        char *p, *best = NULL;

        out[0] = '\0';
        if (read_text(path, &text) < 0)
                return;
        for (p = strtok(text, "\r\n"); p; p = strtok(NULL, "\r\n")) {
                while (isspace((unsigned char)*p))
                        p++;
                if (*p && strncmp(p, "Elapsed", 7) && strncmp(p, "current block", 13) &&
                    strncmp(p, "Partclone fail", 14) && strncmp(p, "Total Time", 10))
                        best = p;
        }
        if (best)
                snprintf(out, n, "%s", best);
}

struct tmp {
        char dir[4096];
        char map[4200], log[4200], out[4200];
};

static int tmp_make(struct tmp *t, const char *tmpdir, struct ez_err *err)
{
        if (!tmpdir || !*tmpdir)
                tmpdir = "/tmp";
        snprintf(t->dir, sizeof(t->dir), "%s/ezio-mktorrent.XXXXXX", tmpdir);
        if (!mkdtemp(t->dir))
                return ez_err_set(err, -errno, "cannot make a temporary directory in '%s': %s", tmpdir, strerror(errno));
        snprintf(t->map, sizeof(t->map), "%s/domain.map", t->dir);
        snprintf(t->log, sizeof(t->log), "%s/partclone.log", t->dir);
        snprintf(t->out, sizeof(t->out), "%s/partclone.out", t->dir);
        return 0;
}

static void tmp_remove(struct tmp *t)
{
        if (!t->dir[0])
                return;
        unlink(t->map);
        unlink(t->log);
        unlink(t->out);
        rmdir(t->dir);
}

/* Run argv[0] (looked up in PATH) with stdin from /dev/null and stdout
 * and stderr into out; *status receives its wait status.  A non-zero
 * *stop stops it (SIGTERM) at the next signal.  Returns 0,
 * -ENOENT when there is no such program, another -errno with err. */
static int spawn_wait(char **argv, const char *out, const volatile sig_atomic_t *stop, int *status,
                      struct ez_err *err)
{
        posix_spawn_file_actions_t fa;
        _cleanup_close_ int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        pid_t pid;
        int r;

        if (ofd < 0)
                return ez_err_set(err, -errno, "cannot create '%s': %s", out, strerror(errno));
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, ofd, 1);
        posix_spawn_file_actions_adddup2(&fa, ofd, 2);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r == ENOENT)
                return -ENOENT;         /* the output is open already: the program is missing */
        if (r)
                return ez_err_set(err, -r, "cannot run %s: %s", argv[0], strerror(r));
        while (waitpid(pid, status, 0) < 0) {
                if (errno != EINTR)
                        return ez_err_set(err, -errno, "waiting for %s: %s", argv[0], strerror(errno));
                if (stop && *stop) {
                        kill(pid, SIGTERM);
                        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                                ;
                        return ez_err_set(err, -EINTR, "interrupted while %s ran", argv[0]);
                }
        }
        return 0;
}

/* An error for a program that did not exit 0, with the last thing it said. */
static int failed(const char *prog, const char *what, int status, const char *log, const char *out,
                  struct ez_err *err)
{
        char words[256] = "";

        if (log)
                last_words(log, words, sizeof(words));
        if (!words[0])
                last_words(out, words, sizeof(words));
        if (WIFEXITED(status))
                return ez_err_set(err, -EIO, "%s failed on %s (exit %d)%s%s", prog, what, WEXITSTATUS(status),
                                  words[0] ? ": " : "", words);
        return ez_err_set(err, -EIO, "%s failed on %s (signal %d)", prog, what, WTERMSIG(status));
}

/* Run partclone.<fs> -D on dev; 0 with the map's text, -ENOENT when there is
 * no such program, other -errno with err. */
static int run_partclone(const char *fs, const char *dev, const char *what, struct tmp *t,
                         const volatile sig_atomic_t *stop, char **ret, struct ez_err *err)
{
        char prog[64], fresh[] = "0.1";
        char *argv[] = { prog, "-D", "-s", (char *)dev, "-O", t->map, "-L", t->log, "-f", fresh, "-B", NULL };
        int r, status;

        snprintf(prog, sizeof(prog), "partclone.%s", fs);
        unlink(t->map);
        r = spawn_wait(argv, t->out, stop, &status, err);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return failed(prog, what, status, t->log, t->out, err);
        r = read_text(t->map, ret);
        if (r < 0)
                return ez_err_set(err, r, "%s wrote no domain map for %s: %s", prog, what, strerror(-r));
        return 0;
}

/* 1 when path starts with qcow2's magic. */
static int is_qcow2(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        uint8_t magic[4];

        return fd >= 0 && ez_io_pread_full(fd, magic, sizeof(magic), 0) == 0 && memcmp(magic, "QFI\xfb", 4) == 0;
}

static int qcow2_to_raw(const char *src, const char *tmpdir, const volatile sig_atomic_t *stop, char **ret_dir,
                        char **ret_raw, struct ez_err *err)
{
        struct tmp t;
        _cleanup_free_ char *raw = NULL;
        char *argv[] = { "qemu-img", "convert", "-q", "-f", "qcow2", "-O", "raw", (char *)src, NULL, NULL };
        char *check[] = { "qemu-img", "check", "-q", "-f", "qcow2", (char *)src, NULL };
        char what[4200];
        int r, status;

        r = tmp_make(&t, tmpdir, err);
        if (r < 0)
                return r;
        if (asprintf(&raw, "%s/image.raw", t.dir) < 0) {
                tmp_remove(&t);
                return ez_err_set(err, -ENOMEM, "out of memory");
        }
        argv[8] = raw;
        snprintf(what, sizeof(what), "'%s'", src);
        /* qemu-img convert reads what a damaged image lacks as zeros */
        r = spawn_wait(check, t.out, stop, &status, err);
        /* exit 3: leaked clusters only (a VM that was killed), no damage */
        if (r >= 0 && (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3)))
                r = failed("qemu-img check", what, status, NULL, t.out, err);
        if (r >= 0)
                r = spawn_wait(argv, t.out, stop, &status, err);
        if (r == -ENOENT)
                r = ez_err_set(err, -ENOENT, "'%s' is a qcow2 image and qemu-img is not installed (Debian: qemu-utils)",
                               src);
        else if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = failed("qemu-img convert", what, status, NULL, t.out, err);
        unlink(t.out);
        if (r < 0) {
                unlink(raw);
                tmp_remove(&t);
                return r;
        }
        *ret_dir = strdup(t.dir);
        *ret_raw = TAKE_PTR(raw);
        if (!*ret_dir) {
                unlink(*ret_raw);
                tmp_remove(&t);
                free(*ret_raw);
                return ez_err_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

int ez_srcmap_raw_open(const char *src, const char *tmpdir, const volatile sig_atomic_t *stop,
                       struct ez_srcmap_raw *ret, struct ez_err *err)
{
        int r;

        *ret = (struct ez_srcmap_raw){ .path = src };
        if (!is_qcow2(src))
                return 0;
        r = qcow2_to_raw(src, tmpdir, stop, &ret->dir, &ret->tmp, err);
        if (r >= 0)
                ret->path = ret->tmp;
        return r;
}

void ez_srcmap_raw_close(struct ez_srcmap_raw *raw)
{
        if (raw->tmp) {
                unlink(raw->tmp);
                rmdir(raw->dir);
        }
        free(raw->tmp);
        free(raw->dir);
        *raw = (struct ez_srcmap_raw){ 0 };
}

/* A read-only loop device over [off, off+len) of fd, detached when the
 * returned fd is closed. */
static int loop_attach(int fd, uint64_t off, uint64_t len, char *path, size_t n, struct ez_err *err)
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

static int probe_fs(int fd, uint64_t off, uint64_t len, char *type, size_t n)
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
                    struct tmp *t, struct ez_err *err)
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
        ambiguous = probe_fs(fd, p->off, p->len, p->fstype, sizeof(p->fstype));
        if (ambiguous < 0)
                return ez_err_set(err, ambiguous, "cannot probe %s for a filesystem", what);
        if (forced && strcmp(forced, "raw") == 0)
                goto raw;
        if (forced) {
                pc = ez_srcmap_partclone_fs(forced);
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
        } else if (!(pc = ez_srcmap_partclone_fs(p->fstype))) {
                note(m, "%s holds %s, which partclone does not read: copied whole", what, p->fstype);
                goto raw;
        }

        if (p->off == 0 && p->len == m->size) {
                snprintf(dev, sizeof(dev), "%s", o->source);
        } else {
                lfd = loop_attach(fd, p->off, p->len, dev, sizeof(dev), err);
                if (lfd < 0) {
                        if (forced)
                                return ez_err_prefix(err, lfd, "%s", what);
                        note(m, "%s (%s): %s; copied whole", what, p->fstype, err ? err->msg : "no loop device");
                        goto raw;
                }
        }
        r = run_partclone(pc, p->number ? dev : o->source, what, t, o->stop, &map, err);
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

/* A GPT whose backup header lies past the end of the source: libblkid
 * then sees no table at all, and the disk would be taken for raw data.
 * *sector: the sector size the GPT header was found with, or 0. */
static int check_gpt_size(struct ez_srcmap *m, int fd, unsigned *sector, struct ez_err *err)
{
        static const unsigned sectors[] = { 512, 4096 };
        uint8_t h[48];
        size_t i;

        for (i = 0; i < EZ_ARRAY_SIZE(sectors); i++) {
                uint64_t alt = 0, need;
                int b;

                if (m->size < 2ull * sectors[i] || ez_io_pread_full(fd, h, sizeof(h), sectors[i]) < 0 ||
                    memcmp(h, "EFI PART", 8) != 0)
                        continue;
                if (!*sector)
                        *sector = sectors[i];
                for (b = 7; b >= 0; b--)
                        alt = alt << 8 | h[32 + b];             /* backup header LBA, little endian */
                if (alt > UINT64_MAX / sectors[i] - 1)
                        continue;
                need = (alt + 1) * sectors[i];
                if (need > m->size)
                        return ez_err_set(err, -EINVAL,
                                          "the GPT describes a disk of %" PRIu64 " bytes but the source has %" PRIu64
                                          ": is the image truncated?", need, m->size);
        }
        return 0;
}

/* The partitions of a whole disk; 0 when none were found.  sector: the
 * disk's logical sector size, where the GPT says it (an image file of a
 * 4Kn disk, whose GPT libblkid looks for at 512 bytes otherwise), or 0. */
static int list_partitions(struct ez_srcmap *m, int fd, unsigned sector, struct ez_err *err)
{
        blkid_probe pr = blkid_new_probe();
        blkid_partlist ls;
        blkid_parttable tab;
        int i, n, r = 0;

        if (!pr)
                return ez_err_set(err, -ENOMEM, "out of memory");
        if (blkid_probe_set_device(pr, fd, 0, (blkid_loff_t)m->size) < 0) {
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
        snprintf(m->pttype, sizeof(m->pttype), "%s", blkid_parttable_get_type(tab) ?: "");
        n = blkid_partlist_numof_partitions(ls);
        for (i = 0; i < n && r >= 0; i++) {
                blkid_partition par = blkid_partlist_get_partition(ls, i);
                uint64_t start = (uint64_t)blkid_partition_get_start(par) * 512;
                uint64_t size = (uint64_t)blkid_partition_get_size(par) * 512;
                int nr = blkid_partition_get_partno(par);

                if (blkid_partition_is_extended(par) || size == 0)
                        continue;
                if (start > m->size || size > m->size - start) {
                        r = ez_err_set(err, -EINVAL,
                                       "partition %d (%" PRIu64 " bytes at offset %" PRIu64 ") ends past the end of the "
                                       "source (%" PRIu64 " bytes): is the image truncated?", nr, size, start, m->size);
                        break;
                }
                r = add_part(m, nr, start, size, err);
        }
out:
        blkid_free_probe(pr);
        return r;
}

int ez_srcmap_build(const struct ez_srcmap_options *o, struct ez_srcmap **ret, struct ez_err *err)
{
        _cleanup_close_ int fd = -1;
        struct ez_srcmap *m = calloc(1, sizeof(*m));
        struct tmp t = { .dir = "" };
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
                if (strcmp(o->fs[i].type, "raw") && !ez_srcmap_partclone_fs(o->fs[i].type)) {
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
        r = tmp_make(&t, o->tmpdir, err);
        if (r < 0)
                goto fail;

        if (o->pcinfo) {
                /* the used extents partclone listed when it made torrent.info */
                struct ez_pcinfo pi;

                r = ez_pcinfo_load(o->pcinfo, &pi, err);
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
                ez_pcinfo_free(&pi);
                if (r < 0)
                        goto fail;
                goto done;
        }

        /* a filesystem across the whole source is a partition image, a
         * partition table with partitions a disk; both (a signature left
         * over from an earlier use) is for the operator to decide */
        if (o->kind < 0 && probe_fs(fd, 0, m->size, fstype, sizeof(fstype)) == 0 && fstype[0]) {
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

                r = check_gpt_size(m, fd, &sector, err);
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
        tmp_remove(&t);
        *ret = m;
        return 0;
fail:
        tmp_remove(&t);
        ez_srcmap_free(m);
        return r;
}

void ez_pcinfo_free(struct ez_pcinfo *pi)
{
        free(pi->ext);
        free(pi->sha1);
        *pi = (struct ez_pcinfo){ 0 };
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

int ez_pcinfo_load(const char *path, struct ez_pcinfo *pi, struct ez_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t cap_ext = 0, cap_sha = 0;
        uint64_t pending_off = UINT64_MAX, sum = 0;
        unsigned lineno = 0;
        char *line, *save = NULL;
        int r;

        *pi = (struct ez_pcinfo){ 0 };
        r = read_text(path, &text);
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
                        n = strtoull(v, &end, 10);
                        if (errno || end == v || *end != '\0' || n == 0)
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
        ez_pcinfo_free(pi);
        return r;
}
