/*
 * verify.c - read the image back from the target and check it against the
 * torrent (see verify.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "blockdev.h"
#include "io.h"
#include "merkle.h"
#include "verify.h"

#define CHUNK (1u << 20)

struct ez_verify {
        const struct ez_torrent *t;
        const struct ez_layout *l;
        int fd;
        bool zeros;
        bool sparse;            /* a regular file: holes read as zeros unread */
        bool flushed;           /* the whole target flushed and its cache dropped */
        uint8_t *checked;       /* a bit per piece */
        uint64_t piece;         /* next piece the steps check */
        size_t zi;              /* then the next zero range, from zpos */
        uint64_t zpos;
        uint64_t done, total;
        EVP_MD_CTX *md;
        unsigned char *buf;
        /* with zeros and a digest in the torrent: the SHA-256 tree */
        uint8_t *layer;         /* a node per piece, as they are checked */
        uint8_t *leaves;        /* one piece's block hashes */
        uint64_t piece_leaves;
        bool root_made, root_ok;        /* the root made from the layer, and it matched */
};

int ez_verify_start(const struct ez_torrent *t, const struct ez_layout *l, int fd, bool zeros,
                    struct ez_verify **ret, struct ez_err *err)
{
        struct ez_verify *v = calloc(1, sizeof(*v));
        struct stat sb;
        size_t i;

        if (!v || !(v->buf = malloc(CHUNK)) || !(v->md = EVP_MD_CTX_new()) ||
            !(v->checked = calloc(t->num_pieces / 8 + 1, 1))) {
                ez_verify_free(v);
                return ez_err_set(err, -ENOMEM, "out of memory");
        }
        v->t = t;
        v->l = l;
        v->fd = fd;
        v->zeros = zeros;
        v->sparse = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
        v->total = t->total_length;
        for (i = 0; zeros && i < l->n_zero; i++)
                v->total += l->zero[i].len;
        if (zeros && t->has_root) {
                v->piece_leaves = ez_merkle_piece_leaves(t->piece_length, t->total_length);
                v->layer = malloc(t->num_pieces * EZ_MERKLE_HASH);
                v->leaves = malloc(t->piece_length / EZ_MERKLE_BLOCK * EZ_MERKLE_HASH);
                if (!v->layer || !v->leaves) {
                        ez_verify_free(v);
                        return ez_err_set(err, -ENOMEM, "out of memory");
                }
        }
        *ret = v;
        return 0;
}

/* What is read next must come from the device, not from the cache the
 * writes went through: write back [off, off+len) of the target (the whole
 * of it for len 0) and drop its cached pages (how: EZ_WRITE_BACK_DROP), or
 * only start the write-back or the read that follows it (START,
 * READ_AHEAD: verify.h).  A write-back that fails is
 * the target's failure (a disk that returns EIO, a loop device whose
 * backing file system is full): it is returned, not left for the read-back
 * to find as a piece that differs.  What cannot be written back at all
 * (EINVAL, ESPIPE, EROFS: a target with nothing to write) is no failure. */
static int write_back_range(int fd, uint64_t off, uint64_t len, enum ez_write_back how, struct ez_err *err)
{
        int r;

        if (how == EZ_WRITE_BACK_READ_AHEAD) {
                (void)posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
                return 0;
        }
        if (len == 0)
                r = fdatasync(fd);
        else if (how == EZ_WRITE_BACK_START)
                r = sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
        else
                r = sync_file_range(fd, (off_t)off, (off_t)len,
                                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                    SYNC_FILE_RANGE_WAIT_AFTER);
        if (r < 0 && errno != EINVAL && errno != ESPIPE && errno != EROFS) {
                r = -errno;
                if (len == 0)
                        return ez_err_set(err, r, "cannot write the image back to the target: %s", strerror(-r));
                return ez_err_set(err, r, "cannot write %" PRIu64 " bytes back at target offset %" PRIu64 ": %s",
                                  len, off, strerror(-r));
        }
        if (how == EZ_WRITE_BACK_DROP)
                (void)posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
        return 0;
}

int ez_verify_write_back(const struct ez_layout *l, int fd, uint64_t poff, uint64_t len, enum ez_write_back how,
                         struct ez_err *err)
{
        uint64_t end = poff + len;

        while (poff < end) {
                uint64_t toff, run;
                int r;

                if (ez_layout_map(l, poff, end - poff, &toff, &run) < 0)
                        break;
                r = write_back_range(fd, toff, run, how, err);
                if (r < 0)
                        return r;
                poff += run;
        }
        return 0;
}

int ez_verify_differs(const struct ez_layout *l, uint64_t piece, uint64_t num_pieces, uint64_t poff, uint64_t len,
                      struct ez_err *err)
{
        uint64_t toff = 0, run;

        ez_layout_map(l, poff, len, &toff, &run);
        return ez_err_set(err, -EBADMSG,
                          "piece %" PRIu64 " of %" PRIu64 " (%" PRIu64 " bytes from target offset %" PRIu64
                          ") reads back different from the torrent",
                          piece, num_pieces, len, toff);
}

/* Payload offset of the end of piece (the last one may be short). */
static uint64_t piece_end(const struct ez_torrent *t, uint64_t piece)
{
        uint64_t end = (piece + 1) * t->piece_length;

        return end < t->total_length ? end : t->total_length;
}

static bool is_checked(const struct ez_verify *v, uint64_t piece)
{
        return v->checked[piece / 8] & (1u << (piece % 8));
}

static void mark(struct ez_verify *v, uint64_t piece)
{
        v->checked[piece / 8] |= (uint8_t)(1u << (piece % 8));
        v->done += piece_end(v->t, piece) - piece * v->t->piece_length;
}

static int check_piece(struct ez_verify *v, uint64_t piece, struct ez_err *err)
{
        const struct ez_torrent *t = v->t;
        uint64_t start = piece * t->piece_length, end = piece_end(t, piece);
        unsigned char h[EVP_MAX_MD_SIZE];
        unsigned int hlen = 0;
        uint64_t off;
        int r;

        if (!EVP_DigestInit_ex(v->md, EVP_sha1(), NULL))
                return ez_err_set(err, -EIO, "SHA-1 failed");
        for (off = start; off < end; off += CHUNK) {
                uint64_t n = end - off < CHUNK ? end - off : CHUNK;

                r = ez_payload_io(v->l, v->fd, false, v->buf, off, n);
                if (r < 0)
                        return ez_err_set(err, r, "cannot read piece %" PRIu64 " back: %s", piece, strerror(-r));
                if (!EVP_DigestUpdate(v->md, v->buf, n))
                        return ez_err_set(err, -EIO, "SHA-1 failed");
                /* a chunk is whole 16 KiB blocks, but for the payload's end */
                for (uint64_t b = 0; v->layer && b < n; b += EZ_MERKLE_BLOCK)
                        if (ez_merkle_leaf(v->buf + b, n - b < EZ_MERKLE_BLOCK ? n - b : EZ_MERKLE_BLOCK,
                                           v->leaves + (off - start + b) / EZ_MERKLE_BLOCK * EZ_MERKLE_HASH) < 0)
                                return ez_err_set(err, -EIO, "SHA-256 failed");
        }
        if (v->layer) {
                if (ez_merkle_reduce(v->leaves, (end - start + EZ_MERKLE_BLOCK - 1) / EZ_MERKLE_BLOCK,
                                     v->piece_leaves, NULL) < 0)
                        return ez_err_set(err, -EIO, "SHA-256 failed");
                memcpy(v->layer + piece * EZ_MERKLE_HASH, v->leaves, EZ_MERKLE_HASH);
        }
        if (!EVP_DigestFinal_ex(v->md, h, &hlen) || hlen != 20)
                return ez_err_set(err, -EIO, "SHA-1 failed");
        if (memcmp(h, t->pieces + 20 * piece, 20) != 0)
                return ez_verify_differs(v->l, piece, t->num_pieces, start, end - start, err);
        mark(v, piece);
        return 0;
}

int ez_verify_piece(struct ez_verify *v, uint64_t piece, struct ez_err *err)
{
        const struct ez_torrent *t = v->t;
        uint64_t poff;
        int r;

        if (piece >= t->num_pieces)
                return ez_err_set(err, -ERANGE, "no piece %" PRIu64 " in the torrent", piece);
        if (is_checked(v, piece))
                return 0;
        poff = piece * t->piece_length;
        if (!v->flushed) {
                r = ez_verify_write_back(v->l, v->fd, poff, piece_end(t, piece) - poff, EZ_WRITE_BACK_DROP, err);
                if (r < 0)
                        return r;
        }
        return check_piece(v, piece, err);
}

bool ez_verify_needs_data(const struct ez_verify *v)
{
        return v->layer != NULL;
}

int ez_verify_matched(struct ez_verify *v, uint64_t piece, struct ez_err *err)
{
        if (piece >= v->t->num_pieces)
                return ez_err_set(err, -ERANGE, "no piece %" PRIu64 " in the torrent", piece);
        if (!is_checked(v, piece))
                mark(v, piece);
        return 0;
}

/* Every piece matched its SHA-1: the root of their SHA-256 tree must be
 * the torrent's digest too. */
static int check_root(struct ez_verify *v, struct ez_err *err)
{
        const struct ez_torrent *t = v->t;
        uint8_t root[EZ_MERKLE_HASH];

        /* the layer is reduced in place, once */
        if (!v->root_made) {
                if (ez_merkle_root(v->layer, t->num_pieces, t->piece_length, t->total_length, v->layer, root) < 0)
                        return ez_err_set(err, -EIO, "SHA-256 failed");
                v->root_made = true;
                v->root_ok = memcmp(root, t->root, sizeof(root)) == 0;
        }
        if (!v->root_ok)
                return ez_err_set(err, -EBADMSG, "every piece matches its SHA-1, but the data's SHA-256 tree root "
                                  "differs from the torrent's digest");
        return 0;
}

/* Check up to CHUNK bytes of zero range zi from zpos; *ret_n: bytes covered. */
static int check_zero(struct ez_verify *v, uint64_t *ret_n, struct ez_err *err)
{
        const struct ez_extent *z = &v->l->zero[v->zi];
        uint64_t pos = z->off + v->zpos, end = z->off + z->len;
        uint64_t n = end - pos < CHUNK ? end - pos : CHUNK;
        size_t i;
        int r;

        if (v->sparse) {
                /* a hole reads as zeros: skip to the next data */
                off_t d = lseek(v->fd, (off_t)pos, SEEK_DATA);

                if (d < 0 && errno == ENXIO)
                        d = (off_t)end;         /* only holes up to the end of the file */
                if (d > (off_t)pos) {
                        n = (uint64_t)d - pos < end - pos ? (uint64_t)d - pos : end - pos;
                        *ret_n = n;
                        return 0;
                }
        }
        r = ez_io_pread_full(v->fd, v->buf, n, pos);
        if (r < 0)
                return ez_err_set(err, r, "cannot read target offset %" PRIu64 " back: %s", pos, strerror(-r));
        for (i = 0; i < n; i++)
                if (v->buf[i])
                        return ez_err_set(err, -EBADMSG,
                                          "target offset %" PRIu64 " should read as zero and holds 0x%02x",
                                          pos + i, v->buf[i]);
        *ret_n = n;
        return 0;
}

int ez_verify_step(struct ez_verify *v, uint64_t budget, struct ez_err *err)
{
        uint64_t spent = 0;
        int r;

        if (!v->flushed) {
                r = write_back_range(v->fd, 0, 0, EZ_WRITE_BACK_DROP, err);
                if (r < 0)
                        return r;
                v->flushed = true;
        }
        while (budget == 0 || spent < budget) {
                uint64_t before = v->done;

                while (v->piece < v->t->num_pieces && is_checked(v, v->piece))
                        v->piece++;
                if (v->piece < v->t->num_pieces) {
                        r = check_piece(v, v->piece, err);
                        if (r < 0)
                                return r;
                } else if (v->layer && !v->root_ok) {
                        r = check_root(v, err);
                        if (r < 0)
                                return r;
                } else if (v->zeros && v->zi < v->l->n_zero) {
                        uint64_t n = 0;

                        r = check_zero(v, &n, err);
                        if (r < 0)
                                return r;
                        v->done += n;
                        v->zpos += n;
                        if (v->zpos == v->l->zero[v->zi].len) {
                                v->zi++;
                                v->zpos = 0;
                        }
                } else {
                        return 0;
                }
                spent += v->done - before;
        }
        return 1;
}

uint64_t ez_verify_done(const struct ez_verify *v)
{
        return v->done;
}

uint64_t ez_verify_total(const struct ez_verify *v)
{
        return v->total;
}

void ez_verify_free(struct ez_verify *v)
{
        if (!v)
                return;
        EVP_MD_CTX_free(v->md);
        free(v->layer);
        free(v->leaves);
        free(v->checked);
        free(v->buf);
        free(v);
}
