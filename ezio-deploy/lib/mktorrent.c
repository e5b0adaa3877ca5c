/*
 * mktorrent.c - scan, hash and describe a raw image (see mktorrent.h).
 *
 * The payload is the concatenation of the non-zero blocks in offset order,
 * so the pieces can be hashed in the same pass that finds them.  On any
 * failure the partial payload file is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "blockdev.h"
#include "cleanup.h"
#include "mktorrent.h"
#include "torrent.h"

#define CHUNK (4u << 20)

/*
 * Small pieces, many of them: a piece is passed on only once it is whole,
 * so the swarm takes a few piece-times to fill at the start and to drain
 * at the end, and a piece-time is piece size x nodes / link rate.  With
 * 800 pieces, 16 nodes lost 10 % of the bound to that; with 3200, 3 %
 * (docs/benchmarks.md).  So: the smallest power of two from 64 KiB that
 * keeps the count at 16384 pieces or below, up to 16 MiB.
 */
uint64_t ez_mk_piece_length(uint64_t size)
{
        uint64_t p = 64 * 1024;

        while (p < 16 * 1024 * 1024 && size / p + (size % p != 0) > 16384)
                p *= 2;
        return p;
}

int ez_mk_looks_like_disk(const uint8_t *b, size_t len)
{
        int i, entries = 0;

        if (len >= 520 && memcmp(b + 512, "EFI PART", 8) == 0)
                return 1;
        if (len < 512 || b[510] != 0x55 || b[511] != 0xaa)
                return 0;
        /* a filesystem boot sector (FAT, NTFS, exFAT) starts with a jump */
        if (b[0] == 0xeb || b[0] == 0xe9)
                return 0;
        for (i = 0; i < 4; i++) {
                const uint8_t *e = b + 446 + 16 * i;

                if (e[0] != 0x00 && e[0] != 0x80)
                        return 0;
                if (e[4] != 0)
                        entries++;
        }
        return entries > 0;
}

struct pass {
        const struct ez_mk_options *o;
        struct ez_layout *layout;
        EVP_MD_CTX *md;
        uint64_t piece_length, in_piece, payload_len;
        uint8_t *pieces;
        size_t n_pieces, cap_pieces;
        int payload_fd;
        uint64_t zero_start;    /* start of the current zero run, or UINT64_MAX */
        struct ez_err *err;
};

static int piece_done(struct pass *p)
{
        unsigned int n = 0;

        if (p->n_pieces == p->cap_pieces) {
                size_t c = p->cap_pieces ? p->cap_pieces * 2 : 1024;
                uint8_t *np = realloc(p->pieces, c * 20);

                if (!np)
                        return ez_err_set(p->err, -ENOMEM, "out of memory");
                p->pieces = np;
                p->cap_pieces = c;
        }
        if (!EVP_DigestFinal_ex(p->md, p->pieces + 20 * p->n_pieces, &n) ||
            !EVP_DigestInit_ex(p->md, EVP_sha1(), NULL))
                return ez_err_set(p->err, -EIO, "SHA-1 failed");
        p->n_pieces++;
        p->in_piece = 0;
        return 0;
}

/* Append data found at source offset off to the payload. */
static int add_payload(struct pass *p, const uint8_t *buf, size_t len, uint64_t off)
{
        size_t done = 0;
        int r;

        r = ez_layout_add_data(p->layout, off, len, p->err);
        if (r < 0)
                return r;
        if (p->payload_fd >= 0 && (r = ez_pwrite_full(p->payload_fd, buf, len, p->payload_len)) < 0)
                return ez_err_set(p->err, r, "cannot write the payload file '%s': %s", p->o->payload, strerror(-r));
        while (done < len) {
                uint64_t room = p->piece_length - p->in_piece;
                size_t n = len - done < room ? len - done : (size_t)room;

                if (!EVP_DigestUpdate(p->md, buf + done, n))
                        return ez_err_set(p->err, -EIO, "SHA-1 failed");
                p->in_piece += n;
                done += n;
                if (p->in_piece == p->piece_length && (r = piece_done(p)) < 0)
                        return r;
        }
        p->payload_len += len;
        return 0;
}

static int end_zero_run(struct pass *p, uint64_t end)
{
        int r = 0;

        if (p->zero_start != UINT64_MAX && end > p->zero_start)
                r = ez_layout_add_zero(p->layout, p->zero_start, end - p->zero_start, p->err);
        p->zero_start = UINT64_MAX;
        return r;
}

static bool all_zero(const uint8_t *b, size_t n)
{
        const uint64_t *w = (const uint64_t *)b;
        size_t i;

        for (i = 0; i < n / 8; i++)
                if (w[i])
                        return false;
        for (i = n / 8 * 8; i < n; i++)
                if (b[i])
                        return false;
        return true;
}

/* Classify [off, end) of fd block by block. */
static int scan_range(struct pass *p, int fd, uint8_t *buf, uint64_t off, uint64_t end, uint64_t size)
{
        uint32_t bs = p->layout->block_size;
        int r;

        while (off < end) {
                size_t n = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
                size_t i = 0;

                r = ez_pread_full(fd, buf, n, off);
                if (r < 0)
                        return ez_err_set(p->err, r, "cannot read '%s' at %#" PRIx64 ": %s",
                                          p->o->source, off, strerror(-r));
                while (i < n) {
                        size_t run = 0;
                        size_t bl = n - i < bs ? n - i : bs;
                        bool z = all_zero(buf + i, bl);

                        /* extend the run of same-kind blocks */
                        while (i + run < n) {
                                size_t l = n - i - run < bs ? n - i - run : bs;

                                if (all_zero(buf + i + run, l) != z)
                                        break;
                                run += l;
                        }
                        if (z) {
                                if (p->zero_start == UINT64_MAX)
                                        p->zero_start = off + i;
                        } else {
                                r = end_zero_run(p, off + i);
                                if (r < 0)
                                        return r;
                                r = add_payload(p, buf + i, run, off + i);
                                if (r < 0)
                                        return r;
                        }
                        i += run;
                }
                off += n;
                if (p->o->progress)
                        p->o->progress(off, size, p->o->userdata);
        }
        return 0;
}

static int source_size(int fd, const char *path, uint64_t *ret_size, uint64_t *ret_alloc, struct ez_err *err)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return ez_err_set(err, -errno, "cannot stat '%s': %s", path, strerror(errno));
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, ret_size) < 0)
                        return ez_err_set(err, -errno, "cannot read the size of '%s': %s", path, strerror(errno));
                *ret_alloc = *ret_size;
        } else if (S_ISREG(st.st_mode)) {
                *ret_size = (uint64_t)st.st_size;
                *ret_alloc = (uint64_t)st.st_blocks * 512;
        } else {
                return ez_err_set(err, -EINVAL, "'%s' is neither a block device nor a regular file", path);
        }
        if (*ret_size == 0)
                return ez_err_set(err, -EINVAL, "'%s' is empty", path);
        return 0;
}

int ez_mk_torrent(const struct ez_mk_options *o, struct ez_buf *out, struct ez_mk_result *ret,
                  struct ez_err *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        struct pass p = { .o = o, .payload_fd = -1, .zero_start = UINT64_MAX, .err = err };
        uint64_t size = 0, alloc = 0, off = 0;
        uint8_t first[1024] = { 0 };
        enum ez_layout_kind kind;
        uint32_t bs = o->block_size ? o->block_size : 4096;
        struct ez_torrent *check = NULL;
        const char *name = o->name;
        int r;

        fd = open(o->source, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ez_err_set(err, -errno, "cannot open '%s': %s", o->source, strerror(errno));
        r = source_size(fd, o->source, &size, &alloc, err);
        if (r < 0)
                return r;
        r = ez_pread_full(fd, first, size < sizeof(first) ? (size_t)size : sizeof(first), 0);
        if (r < 0)
                return ez_err_set(err, r, "cannot read '%s': %s", o->source, strerror(-r));
        kind = o->kind >= 0 ? (enum ez_layout_kind)o->kind :
               ez_mk_looks_like_disk(first, sizeof(first)) ? EZ_LAYOUT_DISK : EZ_LAYOUT_PARTITION;
        p.piece_length = o->piece_length ? o->piece_length : ez_mk_piece_length(alloc < size ? alloc : size);
        if (p.piece_length < EZ_TORRENT_MIN_PIECE || p.piece_length > EZ_TORRENT_MAX_PIECE ||
            (p.piece_length & (p.piece_length - 1)))
                return ez_err_set(err, -EINVAL, "piece size %" PRIu64 " is not a power of two in %u..%u",
                                  p.piece_length, EZ_TORRENT_MIN_PIECE, EZ_TORRENT_MAX_PIECE);
        if (!name) {
                name = strrchr(o->source, '/');
                name = name ? name + 1 : o->source;
        }
        if (!*name)
                return ez_err_set(err, -EINVAL, "the torrent name is empty");

        r = ez_layout_new(size, bs, kind, &p.layout, err);
        if (r < 0)
                return r;
        buf = malloc(CHUNK);
        p.md = EVP_MD_CTX_new();
        if (!buf || !p.md || !EVP_DigestInit_ex(p.md, EVP_sha1(), NULL)) {
                r = ez_err_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        if (o->payload) {
                p.payload_fd = open(o->payload, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (p.payload_fd < 0) {
                        r = ez_err_set(err, -errno, "cannot create the payload file '%s': %s", o->payload, strerror(errno));
                        goto out;
                }
        }

        /* walk data regions; holes are zero ranges without reading them */
        while (off < size) {
                off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;
                uint64_t dend;

                if (d < 0 && errno == ENXIO)
                        break;                  /* only a hole remains */
                if (d < 0) {
                        d = (off_t)off;         /* no SEEK_DATA here: read everything */
                        h = (off_t)size;
                } else {
                        h = lseek(fd, d, SEEK_HOLE);
                        if (h < 0)
                                h = (off_t)size;
                }
                /* keep block alignment: round the data region outwards */
                d = (off_t)((uint64_t)d / bs * bs);
                dend = ((uint64_t)h + bs - 1) / bs * bs;
                if (dend > size)
                        dend = size;
                if ((uint64_t)d < off)
                        d = (off_t)off;
                if ((uint64_t)d > off && p.zero_start == UINT64_MAX)
                        p.zero_start = off;
                r = scan_range(&p, fd, buf, (uint64_t)d, dend, size);
                if (r < 0)
                        goto out;
                off = dend;
        }
        if (p.zero_start == UINT64_MAX && off < size)
                p.zero_start = off;
        if (p.payload_len == 0) {
                /* an all-zero image still needs one piece: carry block 0 */
                p.zero_start = UINT64_MAX;
                ez_layout_free(p.layout);
                p.layout = NULL;
                r = ez_layout_new(size, bs, kind, &p.layout, err);
                memset(buf, 0, bs);     /* block 0 of an all-zero image */
                if (r >= 0)
                        r = add_payload(&p, buf, size < bs ? (size_t)size : bs, 0);
                if (r >= 0 && size > bs)
                        r = ez_layout_add_zero(p.layout, bs, size - bs, err);
        } else {
                r = end_zero_run(&p, size);
        }
        if (r < 0)
                goto out;
        if (p.in_piece > 0 && (r = piece_done(&p)) < 0)
                goto out;
        r = ez_layout_finish(p.layout, p.payload_len, err);
        if (r < 0)
                goto out;
        if (p.payload_fd >= 0 && fsync(p.payload_fd) < 0) {
                r = ez_err_set(err, -errno, "cannot flush the payload file '%s': %s", o->payload, strerror(errno));
                goto out;
        }

        {
                struct ez_torrent_spec spec = {
                        .name = name, .piece_length = p.piece_length,
                        .pieces = p.pieces, .n_pieces = p.n_pieces, .layout = p.layout,
                        .trackers = o->trackers, .n_trackers = o->n_trackers,
                        .web_seeds = o->web_seeds, .n_web_seeds = o->n_web_seeds,
                        .created_by = "ezio-mktorrent " EZ_VERSION,
                        .creation_date = (int64_t)time(NULL),
                };

                r = ez_torrent_build(&spec, out, err);
                if (r < 0)
                        goto out;
        }
        /* read back what we wrote: the receivers will parse it the same way */
        r = ez_torrent_parse(out->data, out->len, &check, err);
        if (r < 0) {
                ez_err_prefix(err, r, "internal error, the new torrent does not parse");
                goto out;
        }
        *ret = (struct ez_mk_result){
                .source_size = size, .payload_len = p.payload_len, .piece_length = p.piece_length,
                .n_extents = p.layout->n_data, .n_zero = p.layout->n_zero, .kind = kind,
        };
        memcpy(ret->info_hash_hex, check->info_hash_hex, sizeof(ret->info_hash_hex));
        ez_torrent_free(check);
out:
        if (p.payload_fd >= 0) {
                close(p.payload_fd);
                if (r < 0)
                        unlink(o->payload);
        }
        EVP_MD_CTX_free(p.md);
        free(p.pieces);
        ez_layout_free(p.layout);
        return r;
}
