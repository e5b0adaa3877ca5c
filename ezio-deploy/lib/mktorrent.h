/*
 * mktorrent.h - turn a raw image or block device into a native torrent.
 *
 * One sequential pass over the source: holes are skipped with
 * SEEK_DATA/SEEK_HOLE, every block that is not all zeros becomes payload
 * (hashed into pieces and, if asked, written to the payload file), and
 * everything else becomes a zero range.
 */
#ifndef EZ_MKTORRENT_H
#define EZ_MKTORRENT_H

#include <stdint.h>

#include "bencode.h"
#include "err.h"
#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_mk_options {
        const char *source;
        const char *payload;            /* write the payload file here, or NULL */
        const char *name;               /* torrent name, NULL: the source's base name */
        uint64_t piece_length;          /* 0: chosen from the source size */
        uint32_t block_size;            /* 0: 4096 */
        int kind;                       /* -1: detect, else enum ez_layout_kind */
        const char *const *trackers;
        size_t n_trackers;
        const char *const *web_seeds;
        size_t n_web_seeds;
        /* called after each chunk read; may be NULL */
        void (*progress)(uint64_t done, uint64_t total, void *userdata);
        void *userdata;
};

struct ez_mk_result {
        uint64_t source_size;
        uint64_t payload_len;
        uint64_t piece_length;
        size_t n_extents, n_zero;
        enum ez_layout_kind kind;
        char info_hash_hex[41];
};

/* Piece length for a payload of about size bytes: a power of two giving
 * about 2000 pieces, within 256 KiB .. 16 MiB. */
uint64_t ez_mk_piece_length(uint64_t size);

/* 1 when the first 1 KiB of an image looks like a partition table (GPT
 * header, or an MBR that is not a filesystem boot sector), else 0. */
int ez_mk_looks_like_disk(const uint8_t *first, size_t len);

/* Make the torrent into out (bencoded).  Returns 0 or -errno with err. */
int ez_mk_torrent(const struct ez_mk_options *o, struct ez_buf *out, struct ez_mk_result *ret,
                  struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
