/*
 * merkle.c - the SHA-256 tree of BitTorrent v2 over one file (see merkle.h).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "merkle.h"

/* One fetch of the implementation for the whole process: the implicit
 * fetch of EVP_sha256() on every call costs a lookup per 64-byte node. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int sha256(const void *data, size_t len, uint8_t out[EZ_MERKLE_HASH])
{
        pthread_once(&sha256_once, sha256_fetch);
        return EVP_Digest(data, len, out, NULL, sha256_md ? sha256_md : EVP_sha256(), NULL) ? 0 : -EIO;
}

/* A node: the hash of its two children (out may be either of them). */
static int hash_pair(const uint8_t *left, const uint8_t *right, uint8_t out[EZ_MERKLE_HASH])
{
        uint8_t pair[2 * EZ_MERKLE_HASH];

        memcpy(pair, left, EZ_MERKLE_HASH);
        memcpy(pair + EZ_MERKLE_HASH, right, EZ_MERKLE_HASH);
        return sha256(pair, sizeof(pair), out);
}

/* Leaves of the whole file's tree: its blocks, up to a power of two. */
static uint64_t file_leaves(uint64_t total)
{
        uint64_t blocks = (total + EZ_MERKLE_BLOCK - 1) / EZ_MERKLE_BLOCK, p = 1;

        while (p < blocks)
                p <<= 1;
        return p;
}

uint64_t ez_merkle_piece_leaves(uint64_t piece_length, uint64_t total)
{
        uint64_t all = file_leaves(total);
        uint64_t per_piece = piece_length / EZ_MERKLE_BLOCK;

        return all < per_piece ? all : per_piece;
}

int ez_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[EZ_MERKLE_HASH])
{
        return sha256(data, len, out);
}

int ez_merkle_reduce(uint8_t *nodes, uint64_t n, uint64_t width, const uint8_t *pad)
{
        uint8_t p[EZ_MERKLE_HASH];

        if (pad)
                memcpy(p, pad, sizeof(p));
        else
                memset(p, 0, sizeof(p));
        if (n == 0) {
                memcpy(nodes, p, sizeof(p));
                n = 1;
        }
        for (; width > 1; width /= 2) {
                uint64_t i;

                for (i = 0; i < (n + 1) / 2; i++) {
                        const uint8_t *right = 2 * i + 1 < n ? nodes + (2 * i + 1) * EZ_MERKLE_HASH : p;

                        if (hash_pair(nodes + 2 * i * EZ_MERKLE_HASH, right, nodes + i * EZ_MERKLE_HASH) < 0)
                                return -EIO;
                }
                n = (n + 1) / 2;
                if (hash_pair(p, p, p) < 0)
                        return -EIO;
        }
        return 0;
}

int ez_merkle_piece(const uint8_t *data, size_t len, uint64_t leaves, uint8_t *scratch,
                    uint8_t out[EZ_MERKLE_HASH])
{
        uint64_t n = 0;
        size_t off;

        for (off = 0; off < len; off += EZ_MERKLE_BLOCK, n++)
                if (sha256(data + off, len - off < EZ_MERKLE_BLOCK ? len - off : EZ_MERKLE_BLOCK,
                           scratch + n * EZ_MERKLE_HASH) < 0)
                        return -EIO;
        if (ez_merkle_reduce(scratch, n, leaves, NULL) < 0)
                return -EIO;
        memcpy(out, scratch, EZ_MERKLE_HASH);
        return 0;
}

int ez_merkle_pad(uint64_t leaves, uint8_t out[EZ_MERKLE_HASH])
{
        memset(out, 0, EZ_MERKLE_HASH);
        for (; leaves > 1; leaves /= 2)
                if (hash_pair(out, out, out) < 0)
                        return -EIO;
        return 0;
}

int ez_merkle_root(const uint8_t *layer, uint64_t n_pieces, uint64_t piece_length, uint64_t total,
                   uint8_t *scratch, uint8_t out[EZ_MERKLE_HASH])
{
        uint64_t leaves = ez_merkle_piece_leaves(piece_length, total);
        uint64_t all = file_leaves(total);
        uint8_t pad[EZ_MERKLE_HASH];

        if (ez_merkle_pad(leaves, pad) < 0)
                return -EIO;
        if (scratch != layer)
                memcpy(scratch, layer, n_pieces * EZ_MERKLE_HASH);
        if (ez_merkle_reduce(scratch, n_pieces, all / leaves, pad) < 0)
                return -EIO;
        memcpy(out, scratch, EZ_MERKLE_HASH);
        return 0;
}
