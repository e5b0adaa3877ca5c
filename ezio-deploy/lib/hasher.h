/*
 * hasher.h - SHA-1 pieces (and the SHA-256 piece layer) of a payload that
 * arrives in order, hashed on every core while the next bytes are read.
 *
 * The reading thread hands payload bytes over in order, either by copying
 * (ez_hasher_add) or by reading straight into the hasher's buffer
 * (ez_hasher_reserve, then ez_hasher_commit).  Bytes are collected into
 * batches of whole pieces that worker threads hash, and, when a payload
 * file is given, write to it at their payload offset.  Pieces are
 * independent, so any worker can take any batch; the reading thread
 * hashes too whenever every batch is taken.
 */
#ifndef EZ_HASHER_H
#define EZ_HASHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most bytes one ez_hasher_reserve() gives room for. */
#define EZ_HASHER_CHUNK (4u << 20)

struct ez_hasher;

/* Start threads workers for pieces of piece_length bytes of a payload of
 * at most max_payload bytes; tree: also each piece's SHA-256 tree root
 * (merkle.h); payload_fd: the payload file to write (named payload in
 * errors), or -1.  Returns 0 with *ret, which the caller releases with
 * ez_hasher_free(), or -ENOMEM / -errno (a thread that would not start)
 * with err, and then nothing is left running. */
int ez_hasher_new(unsigned threads, uint64_t piece_length, uint64_t max_payload, bool tree, int payload_fd,
                  const char *payload, struct ez_hasher **ret, struct ez_err *err);

/* Room for up to EZ_HASHER_CHUNK more payload bytes, at *ret; the hasher
 * owns it.  ez_hasher_commit(h, n) then says n bytes were put there (0 is
 * allowed).  Both return 0, or the first error of a worker (a failed
 * write of the payload file, a failed hash) with err. */
int ez_hasher_reserve(struct ez_hasher *h, uint8_t **ret, struct ez_err *err);
int ez_hasher_commit(struct ez_hasher *h, size_t n, struct ez_err *err);

/* Copy len bytes of buf to the end of the payload; errors as above. */
int ez_hasher_add(struct ez_hasher *h, const uint8_t *buf, size_t len, struct ez_err *err);

/* Hash what is left and wait for every worker.  Returns 0 or the first
 * error with err.  Afterwards the hashes below are complete. */
int ez_hasher_finish(struct ez_hasher *h, struct ez_err *err);

/* 20 bytes of SHA-1 per piece, and (with tree) 32 bytes of SHA-256 tree
 * root per piece, else NULL; owned by h. */
const uint8_t *ez_hasher_pieces(const struct ez_hasher *h);
const uint8_t *ez_hasher_layer(const struct ez_hasher *h);

/* Stop the workers and free h.  Accepts NULL. */
void ez_hasher_free(struct ez_hasher *h);

#ifdef __cplusplus
}
#endif

#endif
