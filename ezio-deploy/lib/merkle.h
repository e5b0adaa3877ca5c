/*
 * merkle.h - the SHA-256 tree of BitTorrent v2 (BEP 52) over one file.
 *
 * The file is cut into 16 KiB blocks (the last one may be short); each
 * block's SHA-256 is a leaf, the leaves are padded with all-zero hashes to
 * a power of two, and each node is the SHA-256 of its two children.  The
 * root ("pieces root") does not depend on the piece size.  A piece's hash
 * in the "piece layers" is the node above its blocks.
 *
 * ezio puts the root of its payload file into the `ezio` dictionary as the
 * digest of the deployed content, and a `--hybrid` torrent also carries it
 * and the piece layer as BEP 52 does.  Pieces can be hashed in any order
 * and on any thread: each gives one node of the piece layer, and the root
 * is made from those at the end.
 */
#ifndef EZ_MERKLE_H
#define EZ_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EZ_MERKLE_BLOCK (16u * 1024)
#define EZ_MERKLE_HASH 32

/* Leaves under one piece's node for a file of total bytes: the piece's
 * blocks, or fewer when the whole file's tree is smaller than a piece. */
uint64_t ez_merkle_piece_leaves(uint64_t piece_length, uint64_t total);

/* The node above len bytes of data (len <= leaves blocks), its blocks
 * padded with zero leaves to leaves (a power of two).  scratch holds
 * leaves hashes.  Returns 0 or -EIO. */
int ez_merkle_piece(const uint8_t *data, size_t len, uint64_t leaves, uint8_t *scratch,
                    uint8_t out[EZ_MERKLE_HASH]);

/* Incremental form of ez_merkle_piece for data that arrives in parts of
 * whole blocks (the last part may end short): set each block's leaf in
 * scratch with ez_merkle_leaf, then ez_merkle_reduce(scratch, blocks,
 * leaves, zero pad). */
int ez_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[EZ_MERKLE_HASH]);

/* Reduce n nodes of one layer in place to the root of a subtree of width
 * nodes (a power of two >= n); missing nodes are the root of a subtree of
 * zero leaves as wide as one node's (pad, or NULL for a zero leaf).  The
 * root is left in nodes[0 .. 32).  Returns 0 or -EIO. */
int ez_merkle_reduce(uint8_t *nodes, uint64_t n, uint64_t width, const uint8_t *pad);

/* The node above leaves zero leaves, the pad of a missing piece. */
int ez_merkle_pad(uint64_t leaves, uint8_t out[EZ_MERKLE_HASH]);

/* The root of a file of total bytes from its piece layer (n_pieces nodes,
 * each over ez_merkle_piece_leaves() leaves).  scratch holds n_pieces
 * hashes; layer is left untouched unless it is scratch.  Returns 0 or
 * -EIO. */
int ez_merkle_root(const uint8_t *layer, uint64_t n_pieces, uint64_t piece_length, uint64_t total,
                   uint8_t *scratch, uint8_t out[EZ_MERKLE_HASH]);

#ifdef __cplusplus
}
#endif

#endif
