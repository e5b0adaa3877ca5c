/*
 * hasher.c - piece hashing on every core (see hasher.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <openssl/evp.h>

#include "hasher.h"
#include "io.h"
#include "merkle.h"

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

struct ez_hasher {
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
        bool done;
        int error;
        char msg[256];
};

static void hash_batch(struct ez_hasher *h, struct batch *b)
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
static bool hash_one_ready(struct ez_hasher *h)
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
        struct ez_hasher *h = arg;

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

static void hasher_stop(struct ez_hasher *h)
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

void ez_hasher_free(struct ez_hasher *h)
{
        size_t i;

        if (!h)
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
        free(h);
}

static int hasher_init(struct ez_hasher *h, unsigned threads, uint64_t piece_length, uint64_t max_payload,
                       bool tree, int payload_fd, const char *payload, struct ez_err *err)
{
        size_t i;

        *h = (struct ez_hasher){ .piece_length = piece_length, .payload_fd = payload_fd, .payload = payload };
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->cv, NULL);
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
                if (!(h->b[i].buf = malloc(h->batch_size + EZ_HASHER_CHUNK)) ||
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
static void hasher_submit(struct ez_hasher *h)
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
static int hasher_take(struct ez_hasher *h, struct ez_err *err)
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

/* A place for up to EZ_HASHER_CHUNK more payload bytes at the end of the
 * batch being filled; ez_hasher_commit() says how many went there. */
int ez_hasher_reserve(struct ez_hasher *h, uint8_t **ret, struct ez_err *err)
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
int ez_hasher_commit(struct ez_hasher *h, size_t n, struct ez_err *err)
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

int ez_hasher_add(struct ez_hasher *h, const uint8_t *buf, size_t len, struct ez_err *err)
{
        while (len) {
                size_t n = len < EZ_HASHER_CHUNK ? len : EZ_HASHER_CHUNK;
                uint8_t *dst;
                int r = ez_hasher_reserve(h, &dst, err);

                if (r < 0)
                        return r;
                memcpy(dst, buf, n);
                r = ez_hasher_commit(h, n, err);
                if (r < 0)
                        return r;
                buf += n;
                len -= n;
        }
        return 0;
}

/* Flush the last batch and wait for every hash; returns the first error. */
int ez_hasher_finish(struct ez_hasher *h, struct ez_err *err)
{
        hasher_submit(h);
        hasher_stop(h);
        if (h->error)
                return ez_err_set(err, h->error, "%s", h->msg);
        return 0;
}

int ez_hasher_new(unsigned threads, uint64_t piece_length, uint64_t max_payload, bool tree, int payload_fd,
                  const char *payload, struct ez_hasher **ret, struct ez_err *err)
{
        struct ez_hasher *h = malloc(sizeof(*h));
        int r;

        if (!h)
                return ez_err_set(err, -ENOMEM, "out of memory");
        r = hasher_init(h, threads, piece_length, max_payload, tree, payload_fd, payload, err);
        if (r < 0) {
                ez_hasher_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

const uint8_t *ez_hasher_pieces(const struct ez_hasher *h)
{
        return h->pieces;
}

const uint8_t *ez_hasher_layer(const struct ez_hasher *h)
{
        return h->layer;
}
