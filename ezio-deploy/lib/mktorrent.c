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
#include <limits.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/evp.h>

#include "blockdev.h"
#include "cleanup.h"
#include "io.h"
#include "merkle.h"
#include "mktorrent.h"
#include "partclone.h"
#include "qcow2.h"
#include "srcmap.h"
#include "swarm.h"
#include "torrent.h"
#include "verify.h"

#define CHUNK (4u << 20)
#define READ_AHEAD (32u << 20)

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

/*
 * The hasher: the reading thread copies payload bytes into batches of
 * whole pieces; worker threads hash each batch's pieces (and write it to
 * the payload file) while the next one is read.  Pieces are independent,
 * so any worker can take any batch.
 */
enum { B_FREE, B_FILLING, B_READY, B_BUSY };

struct batch {
        uint8_t *buf;
        uint8_t *leaves;        /* one piece's block hashes, for the SHA-256 tree */
        uint64_t poff;          /* payload offset of buf[0] */
        size_t len;
        int state;
};

struct hasher {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct batch *b;
        size_t nb, batch_size, cur;     /* cur: the batch being filled, or nb */
        pthread_t *th;
        unsigned nth, started;
        uint64_t piece_length, poff;
        uint8_t *pieces;                /* 20 bytes per piece, preallocated */
        uint8_t *layer;                 /* 32 bytes per piece (the SHA-256 tree's piece layer), or NULL */
        size_t max_pieces;
        int payload_fd;
        const char *payload;
        bool done, inited;
        int error;
        char msg[256];
};

static void hash_batch(struct hasher *h, struct batch *b)
{
        size_t i, first = (size_t)(b->poff / h->piece_length);
        const char *what = NULL;
        int r = 0;

        for (i = 0; i * h->piece_length < b->len && !r; i++) {
                size_t n = b->len - i * h->piece_length;

                if (n > h->piece_length)
                        n = (size_t)h->piece_length;
                if (first + i >= h->max_pieces ||
                    !EVP_Digest(b->buf + i * h->piece_length, n, h->pieces + 20 * (first + i), NULL, EVP_sha1(), NULL))
                        r = -EIO, what = "SHA-1 failed";
                /* a short piece is the last one: the payload ends with it */
                else if (h->layer &&
                         ez_merkle_piece(b->buf + i * h->piece_length, n,
                                         ez_merkle_piece_leaves(h->piece_length, (first + i) * h->piece_length + n),
                                         b->leaves, h->layer + EZ_MERKLE_HASH * (first + i)) < 0)
                        r = -EIO, what = "SHA-256 failed";
        }
        if (!r && h->payload_fd >= 0)
                r = ez_io_pwrite_full(h->payload_fd, b->buf, b->len, b->poff);
        if (r) {
                pthread_mutex_lock(&h->mu);
                if (!h->error) {
                        h->error = r;
                        if (what)
                                snprintf(h->msg, sizeof(h->msg), "%s", what);
                        else
                                snprintf(h->msg, sizeof(h->msg), "cannot write the payload file '%s': %s",
                                         h->payload, strerror(-r));
                }
                pthread_mutex_unlock(&h->mu);
        }
}

/* With h->mu held: hash one batch that is ready (the lock dropped
 * meanwhile) and free it.  Returns false when none is ready. */
static bool hash_one_ready(struct hasher *h)
{
        size_t i;

        for (i = 0; i < h->nb && h->b[i].state != B_READY; i++)
                ;
        if (i == h->nb)
                return false;
        h->b[i].state = B_BUSY;
        pthread_mutex_unlock(&h->mu);
        hash_batch(h, &h->b[i]);
        pthread_mutex_lock(&h->mu);
        h->b[i].state = B_FREE;
        pthread_cond_broadcast(&h->cv);
        return true;
}

static void *hash_worker(void *arg)
{
        struct hasher *h = arg;

        pthread_mutex_lock(&h->mu);
        for (;;) {
                if (hash_one_ready(h))
                        continue;
                if (h->done)
                        break;
                pthread_cond_wait(&h->cv, &h->mu);
        }
        pthread_mutex_unlock(&h->mu);
        return NULL;
}

static void hasher_stop(struct hasher *h)
{
        unsigned i;

        pthread_mutex_lock(&h->mu);
        h->done = true;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        for (i = 0; i < h->started; i++)
                pthread_join(h->th[i], NULL);
        h->started = 0;
}

static void hasher_free(struct hasher *h)
{
        size_t i;

        if (!h->inited)
                return;
        hasher_stop(h);
        for (i = 0; h->b && i < h->nb; i++) {
                free(h->b[i].buf);
                free(h->b[i].leaves);
        }
        free(h->b);
        free(h->th);
        free(h->pieces);
        free(h->layer);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
}

static int hasher_init(struct hasher *h, unsigned threads, uint64_t piece_length, uint64_t max_payload,
                       bool tree, int payload_fd, const char *payload, struct ez_err *err)
{
        size_t i;

        *h = (struct hasher){ .piece_length = piece_length, .payload_fd = payload_fd, .payload = payload };
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->cv, NULL);
        h->inited = true;
        h->nth = threads ? threads : 1;
        h->batch_size = piece_length >= (4u << 20) ? (size_t)piece_length : (4u << 20);
        h->nb = 2 * (size_t)h->nth + 2;
        h->cur = h->nb;
        h->max_pieces = (size_t)(max_payload / piece_length) + 1;
        h->pieces = malloc(h->max_pieces * 20);
        h->layer = tree ? malloc(h->max_pieces * EZ_MERKLE_HASH) : NULL;
        h->b = calloc(h->nb, sizeof(*h->b));
        h->th = calloc(h->nth, sizeof(*h->th));
        if (!h->pieces || (tree && !h->layer) || !h->b || !h->th)
                return ez_err_set(err, -ENOMEM, "out of memory");
        for (i = 0; i < h->nb; i++)
                if (!(h->b[i].buf = malloc(h->batch_size + CHUNK)) ||
                    (tree && !(h->b[i].leaves = malloc(piece_length / EZ_MERKLE_BLOCK * EZ_MERKLE_HASH))))
                        return ez_err_set(err, -ENOMEM, "out of memory");
        for (; h->started < h->nth; h->started++) {
                int r = pthread_create(&h->th[h->started], NULL, hash_worker, h);

                if (r)
                        return ez_err_set(err, -r, "cannot start a hashing thread: %s", strerror(r));
        }
        return 0;
}

/* Hand the batch being filled to the workers. */
static void hasher_submit(struct hasher *h)
{
        if (h->cur == h->nb)
                return;
        pthread_mutex_lock(&h->mu);
        h->b[h->cur].state = B_READY;
        h->cur = h->nb;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
}

/* Take a free batch for filling (hashing a ready one meanwhile if none is
 * free, so the reading thread's core is not left idle). */
static int hasher_take(struct hasher *h, struct ez_err *err)
{
        size_t i;

        pthread_mutex_lock(&h->mu);
        for (;;) {
                for (i = 0; i < h->nb && h->b[i].state != B_FREE; i++)
                        ;
                if (i < h->nb || h->error)
                        break;
                if (!hash_one_ready(h))
                        pthread_cond_wait(&h->cv, &h->mu);
        }
        if (h->error) {
                int r = ez_err_set(err, h->error, "%s", h->msg);

                pthread_mutex_unlock(&h->mu);
                return r;
        }
        h->b[i].state = B_FILLING;
        h->b[i].poff = h->poff;
        h->b[i].len = 0;
        h->cur = i;
        pthread_mutex_unlock(&h->mu);
        return 0;
}

/* A place for up to want (<= CHUNK) more payload bytes at the end of the
 * batch being filled; hasher_commit() says how many went there. */
static int hasher_reserve(struct hasher *h, uint8_t **ret, struct ez_err *err)
{
        if (h->cur == h->nb) {
                int r = hasher_take(h, err);

                if (r < 0)
                        return r;
        }
        *ret = h->b[h->cur].buf + h->b[h->cur].len;
        return 0;
}

/* n bytes were added at the end of the batch.  Once it holds batch_size
 * bytes it goes to the workers, cut at the last whole piece: the rest
 * starts the next batch. */
static int hasher_commit(struct hasher *h, size_t n, struct ez_err *err)
{
        struct batch *b = &h->b[h->cur];
        size_t old = h->cur, cut, rest;
        int r;

        b->len += n;
        h->poff += n;
        if (b->len < h->batch_size)
                return 0;
        cut = (size_t)(b->len / h->piece_length * h->piece_length);
        rest = b->len - cut;
        b->len = cut;
        h->cur = h->nb;
        r = hasher_take(h, err);        /* the old batch is still ours: no overlap */
        if (r < 0)
                return r;
        memcpy(h->b[h->cur].buf, b->buf + cut, rest);
        h->b[h->cur].poff = b->poff + cut;
        h->b[h->cur].len = rest;
        pthread_mutex_lock(&h->mu);
        h->b[old].state = B_READY;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        return 0;
}

static int hasher_add(struct hasher *h, const uint8_t *buf, size_t len, struct ez_err *err)
{
        while (len) {
                size_t n = len < CHUNK ? len : CHUNK;
                uint8_t *dst;
                int r = hasher_reserve(h, &dst, err);

                if (r < 0)
                        return r;
                memcpy(dst, buf, n);
                r = hasher_commit(h, n, err);
                if (r < 0)
                        return r;
                buf += n;
                len -= n;
        }
        return 0;
}

/* Flush the last batch and wait for every hash; returns the first error. */
static int hasher_finish(struct hasher *h, struct ez_err *err)
{
        hasher_submit(h);
        hasher_stop(h);
        if (h->error)
                return ez_err_set(err, h->error, "%s", h->msg);
        return 0;
}

struct pass {
        const struct ez_mk_options *o;
        struct ez_layout *layout;
        struct hasher h;
        int fd;
        uint64_t payload_len;
        uint64_t zero_start;    /* start of the current zero run, or UINT64_MAX */
        uint64_t data_end;      /* end of the last data extent, or UINT64_MAX */
        uint8_t *gapbuf;
        uint64_t ra_end;        /* read-ahead asked up to here */
        struct ez_err *err;
};

/* --fill-gaps: the bytes between the last data extent and off become
 * payload too.  Zero ranges in between (the tail of the list) are taken
 * back; what is neither is read from the source. */
static int fill_gap(struct pass *p, uint64_t off)
{
        struct ez_layout *l = p->layout;
        uint64_t at = p->data_end;
        size_t k = l->n_zero, j;
        int r;

        while (k && l->zero[k - 1].off >= p->data_end)
                k--;
        for (j = k; at < off;) {
                bool z = j < l->n_zero && l->zero[j].off <= at;
                uint64_t end = z ? l->zero[j].off + l->zero[j].len : j < l->n_zero ? l->zero[j].off : off;
                uint64_t n;

                if (end > off)
                        end = off;
                n = end - at < CHUNK ? end - at : CHUNK;
                if (z)
                        memset(p->gapbuf, 0, (size_t)n);
                else if ((r = ez_io_pread_full(p->fd, p->gapbuf, (size_t)n, at)) < 0)
                        return ez_err_set(p->err, r, "cannot read '%s' at %#" PRIx64 ": %s",
                                          p->o->source, at, strerror(-r));
                r = ez_layout_add_data(l, at, n, p->err);
                if (r >= 0)
                        r = hasher_add(&p->h, p->gapbuf, (size_t)n, p->err);
                if (r < 0)
                        return r;
                p->payload_len += n;
                at += n;
                if (z && at >= l->zero[j].off + l->zero[j].len)
                        j++;
        }
        l->n_zero = k;          /* the zero ranges in the gap are payload now */
        return 0;
}

/* Data found at source offset off is in the payload now. */
static int note_payload(struct pass *p, size_t len, uint64_t off)
{
        int r = ez_layout_add_data(p->layout, off, len, p->err);

        if (r < 0)
                return r;
        p->payload_len += len;
        p->data_end = off + len;
        return 0;
}

/* Append data found at source offset off to the payload (a copy). */
static int add_payload(struct pass *p, const uint8_t *buf, size_t len, uint64_t off)
{
        int r;

        if (p->o->fill_gaps && p->data_end != UINT64_MAX && off > p->data_end &&
            off - p->data_end <= p->o->fill_gaps && (r = fill_gap(p, off)) < 0)
                return r;
        r = hasher_add(&p->h, buf, len, p->err);
        if (r < 0)
                return r;
        return note_payload(p, len, off);
}

/* Keep the kernel reading ahead of the pass: the reading thread also
 * hashes and classifies, and the disk should not wait for it. */
static void read_ahead(struct pass *p, uint64_t off, uint64_t end)
{
        uint64_t to;

        if (end - off < READ_AHEAD / 8)
                return;         /* short regions: the kernel's own read-ahead does better */
        if (p->ra_end < off)
                p->ra_end = off;
        if (p->ra_end >= end || p->ra_end - off >= READ_AHEAD / 2)
                return;
        to = end - off < READ_AHEAD ? end : off + READ_AHEAD;
        posix_fadvise(p->fd, (off_t)p->ra_end, (off_t)(to - p->ra_end), POSIX_FADV_WILLNEED);
        p->ra_end = to;
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

/* Classify [off, end) of the source block by block.  The data is read
 * straight into the hash batch and the zero blocks squeezed out of it
 * there; with --fill-gaps (gap bytes go before the data) through buf. */
static int scan_range(struct pass *p, uint8_t *buf, uint64_t off, uint64_t end, uint64_t *done, uint64_t total)
{
        uint32_t bs = p->layout->block_size;
        bool copy = p->o->fill_gaps != 0;
        int r;

        while (off < end) {
                size_t n = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
                size_t i = 0, kept = 0;
                uint8_t *dst = buf;

                if (p->o->stop && *p->o->stop)
                        return ez_err_set(p->err, -EINTR, "interrupted");
                read_ahead(p, off, end);
                if (!copy && (r = hasher_reserve(&p->h, &dst, p->err)) < 0)
                        return r;
                r = ez_io_pread_full(p->fd, dst, n, off);
                if (r < 0)
                        return ez_err_set(p->err, r, "cannot read '%s' at %#" PRIx64 ": %s",
                                          p->o->source, off, strerror(-r));
                while (i < n) {
                        size_t run = 0;
                        size_t bl = n - i < bs ? n - i : bs;
                        bool z = p->o->ezio_format ? false : all_zero(dst + i, bl);

                        /* extend the run of same-kind blocks */
                        while (i + run < n) {
                                size_t l = n - i - run < bs ? n - i - run : bs;

                                if (!p->o->ezio_format && all_zero(dst + i + run, l) != z)
                                        break;
                                run += l;
                        }
                        if (z) {
                                if (p->zero_start == UINT64_MAX)
                                        p->zero_start = off + i;
                        } else {
                                r = end_zero_run(p, off + i);
                                if (r >= 0 && copy)
                                        r = add_payload(p, dst + i, run, off + i);
                                else if (r >= 0) {
                                        if (kept != i)
                                                memmove(dst + kept, dst + i, run);
                                        kept += run;
                                        r = note_payload(p, run, off + i);
                                }
                                if (r < 0)
                                        return r;
                        }
                        i += run;
                }
                if (!copy && (r = hasher_commit(&p->h, kept, p->err)) < 0)
                        return r;
                off += n;
                *done += n;
                if (p->o->progress)
                        p->o->progress(*done, total, p->o->userdata);
        }
        return 0;
}

/* One region of the map: holes are zero ranges without reading them. */
static int scan_region(struct pass *p, uint8_t *buf, const struct ez_extent *rg, uint64_t *done, uint64_t total)
{
        uint32_t bs = p->layout->block_size;
        uint64_t off = rg->off, end = rg->off + rg->len;
        int r;

        if (p->o->ezio_format)         /* no zero ranges: every byte is payload */
                return scan_range(p, buf, off, end, done, total);
        while (off < end) {
                off_t d = lseek(p->fd, (off_t)off, SEEK_DATA), h;
                uint64_t dstart, dend;

                if (d < 0 && errno == ENXIO)
                        d = (off_t)end;         /* only a hole remains */
                if (d < 0) {
                        d = (off_t)off;         /* no SEEK_DATA here: read everything */
                        h = (off_t)end;
                } else {
                        h = (uint64_t)d < end ? lseek(p->fd, d, SEEK_HOLE) : (off_t)end;
                        if (h < 0)
                                h = (off_t)end;
                }
                /* keep block alignment: round the data region outwards */
                dstart = (uint64_t)d / bs * bs;
                dend = ((uint64_t)h + bs - 1) / bs * bs;
                if (dend > end)
                        dend = end;
                if (dstart < off)
                        dstart = off;
                if (dstart > end)
                        dstart = end;
                if (dstart > off && p->zero_start == UINT64_MAX)
                        p->zero_start = off;
                *done += dstart - off;
                r = scan_range(p, buf, dstart, dend, done, total);
                if (r < 0)
                        return r;
                off = dend > dstart ? dend : end;
        }
        return end_zero_run(p, end);
}

/* Would a client with libtorrent's default limits load it?  (EZIO's
 * layout, a file per extent, stops loading at about 200k files.) */
static void stock_check(const struct ez_buf *out, struct ez_mk_result *ret)
{
        struct ez_err e = { "" };

        if (ez_swarm_check_torrent(out->data, out->len, &e) < 0)
                snprintf(ret->stock_refusal, sizeof(ret->stock_refusal), "%s", e.msg);
}

/* The payload of a `partclone -T` directory: its chunk files, named by
 * their offsets, concatenated in the order torrent.info lists them. */
static int concat_chunks(const char *dir, const struct ez_partclone_info *pi, const char *payload, struct ez_err *err)
{
        _cleanup_close_ int out = open(payload, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        _cleanup_free_ uint8_t *buf = malloc(CHUNK);
        uint64_t at = 0;
        size_t i;

        if (out < 0)
                return ez_err_set(err, -errno, "cannot create the payload file '%s': %s", payload, strerror(errno));
        if (!buf)
                return ez_err_set(err, -ENOMEM, "out of memory");
        for (i = 0; i < pi->n_ext; i++) {
                char path[4200];
                _cleanup_close_ int in = -1;
                struct stat st;
                uint64_t done = 0;
                int r;

                snprintf(path, sizeof(path), "%s/%032" PRIx64, dir, pi->ext[i].off);
                in = open(path, O_RDONLY | O_CLOEXEC);
                if (in < 0 || fstat(in, &st) < 0)
                        return ez_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
                if ((uint64_t)st.st_size != pi->ext[i].len)
                        return ez_err_set(err, -EINVAL, "'%s' has %" PRIu64 " bytes, torrent.info says %" PRIu64,
                                          path, (uint64_t)st.st_size, pi->ext[i].len);
                while (done < pi->ext[i].len) {
                        size_t n = pi->ext[i].len - done < CHUNK ? (size_t)(pi->ext[i].len - done) : CHUNK;

                        if ((r = ez_io_pread_full(in, buf, n, done)) < 0 || (r = ez_io_pwrite_full(out, buf, n, at)) < 0)
                                return ez_err_set(err, r, "copying '%s' into '%s': %s", path, payload, strerror(-r));
                        done += n;
                        at += n;
                }
        }
        if (fsync(out) < 0)
                return ez_err_set(err, -errno, "cannot flush the payload file '%s': %s", payload, strerror(errno));
        return 0;
}

/* A torrent straight from torrent.info, reading no data: its extents and
 * its SHA-1 per 16 MiB; no zero ranges (partclone sends zero blocks). */
static int from_pcinfo(const struct ez_mk_options *o, struct ez_buf *out, struct ez_mk_result *ret,
                       struct ez_err *err)
{
        struct ez_partclone_info pi;
        struct ez_layout *l = NULL;
        struct ez_torrent *check = NULL;
        char info[4200], dir[4096], real[PATH_MAX];
        const char *name = o->name;
        bool made_payload = false;
        struct stat st;
        size_t i;
        int r;

        if (!o->pcinfo)
                return ez_err_set(err, -EINVAL, "no source");
        snprintf(dir, sizeof(dir), "%s", o->pcinfo);
        if (stat(o->pcinfo, &st) == 0 && S_ISDIR(st.st_mode)) {
                snprintf(info, sizeof(info), "%s/torrent.info", o->pcinfo);
        } else {
                char *slash;

                snprintf(info, sizeof(info), "%s", o->pcinfo);
                slash = strrchr(dir, '/');
                if (slash)
                        *slash = '\0';
                else
                        snprintf(dir, sizeof(dir), ".");
        }
        r = ez_partclone_info_load(info, &pi, err);
        if (r < 0)
                return r;
        if (pi.n_sha1 != (pi.data_bytes + EZ_MK_EZIO_PIECE - 1) / EZ_MK_EZIO_PIECE) {
                r = ez_err_set(err, -EINVAL, "%s has %zu sha1 lines for %" PRIu64 " bytes of data; pieces of 16 MiB "
                               "need %" PRIu64, info, pi.n_sha1, pi.data_bytes,
                               (pi.data_bytes + EZ_MK_EZIO_PIECE - 1) / EZ_MK_EZIO_PIECE);
                goto out;
        }
        if (pi.block_size < 512 || (pi.block_size & (pi.block_size - 1))) {
                r = ez_err_set(err, -EINVAL, "%s: block_size %u is not a power of two from 512", info, pi.block_size);
                goto out;
        }
        r = ez_layout_new(pi.size, pi.block_size, o->kind < 0 ? EZ_LAYOUT_PARTITION : (enum ez_layout_kind)o->kind,
                          &l, err);
        for (i = 0; r >= 0 && i < pi.n_ext; i++)
                r = ez_layout_add_data(l, pi.ext[i].off, pi.ext[i].len, err);
        if (r >= 0)
                r = ez_layout_finish(l, pi.data_bytes, err);
        if (r < 0)
                goto out;
        if (!name) {
                /* the directory's own name, also for "." or a trailing '/' */
                if (!realpath(dir, real)) {
                        r = ez_err_set(err, -errno, "cannot resolve '%s': %s", dir, strerror(errno));
                        goto out;
                }
                name = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
                if (!*name) {
                        r = ez_err_set(err, -EINVAL, "no name to give the torrent: use --name");
                        goto out;
                }
        }
        {
                struct ez_torrent_spec spec = {
                        .name = name, .piece_length = EZ_MK_EZIO_PIECE, .pieces = pi.sha1, .n_pieces = pi.n_sha1,
                        .layout = l, .trackers = o->trackers, .n_trackers = o->n_trackers,
                        .web_seeds = o->web_seeds, .n_web_seeds = o->n_web_seeds,
                        .created_by = "ezio-mktorrent " EZ_VERSION, .creation_date = (int64_t)time(NULL),
                        .compat = o->ezio_format,
                };

                r = ez_torrent_build(&spec, out, err);
        }
        if (r >= 0 && o->payload) {
                made_payload = true;
                r = concat_chunks(dir, &pi, o->payload, err);
        }
        if (r >= 0 && (r = ez_torrent_parse(out->data, out->len, &check, err)) < 0)
                ez_err_prefix(err, r, "internal error, the new torrent does not parse");
        if (r < 0)
                goto out;
        *ret = (struct ez_mk_result){
                .source_size = pi.size, .payload_len = pi.data_bytes, .piece_length = EZ_MK_EZIO_PIECE,
                .n_extents = l->n_data, .kind = l->kind,
        };
        memcpy(ret->info_hash_hex, check->info_hash_hex, sizeof(ret->info_hash_hex));
        stock_check(out, ret);
out:
        if (r < 0 && made_payload)
                unlink(o->payload);
        ez_torrent_free(check);
        ez_layout_free(l);
        ez_partclone_info_free(&pi);
        return r;
}

/* One worker fewer than CPUs: the reading thread hashes too whenever
 * every batch is taken, so CPUs workers would be one thread too many
 * (on 2 cores -j 1 took 0.85-0.98 x the time of -j 2, every row of two
 * runs of tools/bench/mktorrent-speed: docs/mktorrent.md). */
static unsigned default_threads(void)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;

        return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

int ez_mk_torrent(const struct ez_mk_options *o, struct ez_buf *out, struct ez_mk_result *ret,
                  struct ez_err *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        struct pass p = { .o = o, .fd = -1, .zero_start = UINT64_MAX, .data_end = UINT64_MAX, .err = err };
        struct ez_srcmap *map = NULL;
        struct ez_srcmap_options mo = {
                .source = o->source, .kind = o->kind, .block_size = o->block_size ? o->block_size : 4096,
                .fs = o->fs, .n_fs = o->n_fs, .tmpdir = o->tmpdir, .pcinfo = o->pcinfo, .stop = o->stop,
        };
        struct ez_torrent *check = NULL;
        struct ez_qcow2_raw raw = { 0 };
        char pcinfo[4200];
        uint8_t root[EZ_MERKLE_HASH];
        uint64_t piece_length, max_payload, done = 0;
        size_t n_pieces;
        int payload_fd = -1;
        const char *name = o->name;
        size_t i;
        int r;

        if (o->hybrid && (o->ezio_format || !o->source))
                return ez_err_set(err, -EINVAL, "a hybrid torrent is native and needs the data: %s",
                                  o->ezio_format ? "not with EZIO's layout" : "give SOURCE");
        if (!o->source)
                return from_pcinfo(o, out, ret, err);
        if (!name) {
                name = strrchr(o->source, '/');
                name = name ? name + 1 : o->source;
        }
        if (!*name)
                return ez_err_set(err, -EINVAL, "the torrent name is empty");
        if (o->piece_length && (o->piece_length < EZ_TORRENT_MIN_PIECE || o->piece_length > EZ_TORRENT_MAX_PIECE ||
                                (o->piece_length & (o->piece_length - 1))))
                return ez_err_set(err, -EINVAL, "piece size %" PRIu64 " is not a power of two in %u..%u",
                                  o->piece_length, EZ_TORRENT_MIN_PIECE, EZ_TORRENT_MAX_PIECE);
        if (o->pcinfo) {
                struct stat st;

                snprintf(pcinfo, sizeof(pcinfo), "%s%s", o->pcinfo,
                         stat(o->pcinfo, &st) == 0 && S_ISDIR(st.st_mode) ? "/torrent.info" : "");
                mo.pcinfo = pcinfo;
        }
        r = ez_qcow2_raw_open(o->source, o->tmpdir, o->stop, &raw, err);
        if (r < 0)
                return r;
        mo.source = raw.path;
        r = ez_srcmap_build(&mo, &map, err);
        if (r < 0)
                goto out;
        if (o->map_ready)
                o->map_ready(map, o->userdata);
        if (map->n_regions == 0 && !o->map_only) {
                r = ez_err_set(err, -EINVAL, "nothing of '%s' has to reach a target: the map is empty", o->source);
                goto out;
        }
        if (o->map_only) {
                *ret = (struct ez_mk_result){ .source_size = map->size, .kind = map->kind,
                                              .read_bytes = map->region_bytes };
                goto out;
        }
        fd = open(mo.source, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = ez_err_set(err, -errno, "cannot open '%s': %s", mo.source, strerror(errno));
                goto out;
        }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        p.fd = fd;
        piece_length = o->piece_length ? o->piece_length :
                       o->ezio_format ? EZ_MK_EZIO_PIECE : ez_mk_piece_length(map->region_bytes);
        /* at most: the regions, and with --fill-gaps what lies between them */
        max_payload = map->region_bytes + (o->fill_gaps ? map->size : 0);
        {
                /* the pieces' hashes are the torrent: past what a receiver
                 * loads, say so before reading anything */
                uint64_t most = max_payload / piece_length + 1;

                if (most > EZ_TORRENT_MAX_SIZE / (o->hybrid ? 20 + EZ_MERKLE_HASH : 20)) {
                        r = ez_err_set(err, -EINVAL, "pieces of %" PRIu64 " bytes: up to %" PRIu64 " of them for the %"
                                       PRIu64 " bytes to read would make a torrent over %u MiB; give a larger "
                                       "--piece-size", piece_length, most, map->region_bytes,
                                       EZ_TORRENT_MAX_SIZE >> 20);
                        goto out;
                }
        }
        r = ez_layout_new(map->size, mo.block_size, map->kind, &p.layout, err);
        if (r < 0)
                goto out;
        buf = malloc(CHUNK);
        p.gapbuf = o->fill_gaps ? malloc(CHUNK) : NULL;
        if (!buf || (o->fill_gaps && !p.gapbuf)) {
                r = ez_err_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        if (o->payload) {
                struct stat a, b;

                if (stat(o->payload, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                        r = ez_err_set(err, -EINVAL, "the payload file '%s' is the source", o->payload);
                        goto out;
                }
                payload_fd = open(o->payload, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (payload_fd < 0) {
                        r = ez_err_set(err, -errno, "cannot create the payload file '%s': %s", o->payload, strerror(errno));
                        goto out;
                }
        }
        r = hasher_init(&p.h, o->threads ? o->threads : default_threads(), piece_length,
                        max_payload + mo.block_size, !o->ezio_format && (!o->no_digest || o->hybrid),
                        payload_fd, o->payload, err);
        if (r < 0)
                goto out;

        for (i = 0; i < map->n_regions && r >= 0; i++)
                r = scan_region(&p, buf, &map->regions[i], &done, map->region_bytes);
        if (r >= 0 && p.payload_len == 0) {
                /* nothing but zeros: one block still has to carry the torrent */
                uint64_t first = map->regions[0].off;
                size_t n = map->size - first < mo.block_size ? (size_t)(map->size - first) : mo.block_size;

                memset(buf, 0, n);
                ez_layout_free(p.layout);
                p.layout = NULL;
                r = ez_layout_new(map->size, mo.block_size, map->kind, &p.layout, err);
                if (r >= 0)
                        r = add_payload(&p, buf, n, first);
                for (i = 0; r >= 0 && i < map->n_regions; i++) {
                        const struct ez_extent *g = &map->regions[i];

                        r = i == 0 ? ez_layout_add_zero(p.layout, g->off + n, g->len - n, err)
                                   : ez_layout_add_zero(p.layout, g->off, g->len, err);
                }
        }
        if (r >= 0)
                r = hasher_finish(&p.h, err);
        if (r < 0)
                goto out;
        r = ez_layout_finish(p.layout, p.payload_len, err);
        if (r < 0)
                goto out;
        if (payload_fd >= 0 && fsync(payload_fd) < 0) {
                r = ez_err_set(err, -errno, "cannot flush the payload file '%s': %s", o->payload, strerror(errno));
                goto out;
        }
        n_pieces = (size_t)((p.payload_len + piece_length - 1) / piece_length);
        if (p.h.layer) {
                _cleanup_free_ uint8_t *scratch = malloc(n_pieces * EZ_MERKLE_HASH);

                if (!scratch || ez_merkle_root(p.h.layer, n_pieces, piece_length, p.payload_len, scratch, root) < 0) {
                        r = ez_err_set(err, scratch ? -EIO : -ENOMEM, scratch ? "SHA-256 failed" : "out of memory");
                        goto out;
                }
        }
        {
                struct ez_torrent_spec spec = {
                        .name = name, .piece_length = piece_length,
                        .pieces = p.h.pieces, .n_pieces = n_pieces,
                        .root = p.h.layer ? root : NULL, .layer = p.h.layer, .hybrid = o->hybrid,
                        .layout = p.layout,
                        .trackers = o->trackers, .n_trackers = o->n_trackers,
                        .web_seeds = o->web_seeds, .n_web_seeds = o->n_web_seeds,
                        .created_by = "ezio-mktorrent " EZ_VERSION,
                        .creation_date = (int64_t)time(NULL),
                        .compat = o->ezio_format,
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
                .source_size = map->size, .payload_len = p.payload_len, .piece_length = piece_length,
                .n_extents = p.layout->n_data, .n_zero = p.layout->n_zero, .kind = map->kind,
                .read_bytes = done,
        };
        stock_check(out, ret);
        memcpy(ret->info_hash_hex, check->info_hash_hex, sizeof(ret->info_hash_hex));
        for (i = 0; p.h.layer && i < EZ_MERKLE_HASH; i++)
                snprintf(ret->root_hex + 2 * i, 3, "%02x", root[i]);
        ez_torrent_free(check);
out:
        hasher_free(&p.h);
        if (payload_fd >= 0) {
                close(payload_fd);
                if (r < 0)
                        unlink(o->payload);
        }
        free(p.gapbuf);
        ez_layout_free(p.layout);
        ez_srcmap_free(map);
        ez_qcow2_raw_close(&raw);
        return r;
}

int ez_mk_verify(const struct ez_mk_options *o, const char *torrent, uint64_t *ret_bytes, struct ez_err *err)
{
        _cleanup_close_ int fd = -1;
        struct ez_torrent *t = NULL;
        struct ez_layout *payload = NULL;
        const struct ez_layout *l;
        struct ez_verify *v = NULL;
        struct ez_qcow2_raw raw = { 0 };
        uint64_t size = 0;
        int r;

        r = ez_torrent_load(torrent, &t, err);
        if (r < 0)
                return ez_err_prefix(err, r, "%s", torrent);
        r = ez_qcow2_raw_open(o->source, o->tmpdir, o->stop, &raw, err);
        if (r < 0)
                goto out;
        fd = open(raw.path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = ez_err_set(err, -errno, "cannot open '%s': %s", o->source, strerror(errno));
                goto out;
        }
        r = ez_blockdev_size(fd, o->source, &size, err);
        if (r < 0)
                goto out;
        l = t->layout;
        /* the payload file itself, as ezio-mktorrent -p writes it */
        if (size == t->total_length && size != t->layout->target_size) {
                r = ez_torrent_payload_layout(t, &payload, err);
                if (r < 0)
                        goto out;
                l = payload;
        } else if (size < t->layout->target_size) {
                r = ez_err_set(err, -EINVAL, "'%s' has %" PRIu64 " bytes; the torrent's image has %" PRIu64,
                               o->source, size, t->layout->target_size);
                goto out;
        }
        r = ez_verify_start(t, l, fd, true, &v, err);
        while (r >= 0 && (r = ez_verify_step(v, 64u << 20, err)) > 0) {
                if (o->stop && *o->stop) {
                        r = ez_err_set(err, -EINTR, "interrupted");
                        break;
                }
                if (o->progress)
                        o->progress(ez_verify_done(v), ez_verify_total(v), o->userdata);
        }
        if (r == 0 && ret_bytes)
                *ret_bytes = ez_verify_total(v);
out:
        ez_verify_free(v);
        ez_layout_free(payload);
        ez_torrent_free(t);
        ez_qcow2_raw_close(&raw);
        return r;
}
