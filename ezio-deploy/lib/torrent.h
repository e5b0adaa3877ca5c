/*
 * torrent.h - reading and writing ezio's torrents.
 *
 * Two formats are read (see ARCHITECTURE.md):
 *  - native: a single-file torrent whose `info` holds an `ezio` dictionary
 *    with the extent map, zero ranges, target size, block size and kind;
 *  - compatible (EZIO, partclone -T): one file per extent, each named by
 *    its target byte offset in 16 or 32 hex digits, optionally under one
 *    directory level.
 * Either way the result carries a validated ez_layout.  Only the native
 * format is written.
 */
#ifndef EZ_TORRENT_H
#define EZ_TORRENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bencode.h"
#include "err.h"
#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EZ_TORRENT_FORMAT_VERSION 1
#define EZ_TORRENT_MAX_SIZE (100u * 1024 * 1024)
#define EZ_TORRENT_MAX_NODES (16u * 1024 * 1024)
#define EZ_TORRENT_MIN_PIECE (16u * 1024)
#define EZ_TORRENT_MAX_PIECE (256u * 1024 * 1024)
/* trackers, and web seeds, kept from one torrent; further ones are ignored */
#define EZ_TORRENT_MAX_URLS 256u

struct ez_torrent {
        uint8_t info_hash[20];          /* SHA-1 of the bencoded info dictionary */
        char info_hash_hex[41];
        char *name;
        uint64_t piece_length;
        uint64_t num_pieces;
        const uint8_t *pieces;          /* num_pieces SHA-1 hashes, inside raw */
        uint64_t total_length;          /* payload bytes */
        size_t n_files;
        bool is_private;
        bool native;                    /* false: EZIO/partclone compatible layout */
        bool has_v2;                    /* info carries a v2 file tree (hybrid) */
        bool has_root;                  /* the ezio dictionary holds the payload's digest */
        uint8_t root[32];               /* the payload's SHA-256 tree root (BEP 52 "pieces root") */
        struct ez_layout *layout;       /* owned */
        char **trackers;                /* owned, announce + announce-list, deduplicated, at most EZ_TORRENT_MAX_URLS */
        size_t n_trackers;
        char **web_seeds;               /* owned, url-list, deduplicated, at most EZ_TORRENT_MAX_URLS */
        size_t n_web_seeds;
        const char *ssl_ca;             /* info's ssl-cert (the swarm's CA, PEM), inside raw, or NULL */
        size_t ssl_ca_len;
        uint8_t *raw;                   /* owned copy of the torrent bytes */
        size_t raw_len;
};

/* Parse a torrent held in memory; the bytes are copied.  Returns 0 or
 * -EBADMSG (not bencode), -EINVAL (not a torrent ezio can deploy), -ENOMEM,
 * with the reason in err. */
int ez_torrent_parse(const void *buf, size_t len, struct ez_torrent **ret, struct ez_err *err);

/* Read and parse a torrent file of at most EZ_TORRENT_MAX_SIZE bytes. */
int ez_torrent_load(const char *path, struct ez_torrent **ret, struct ez_err *err);

void ez_torrent_free(struct ez_torrent *t);

/* An identity layout for the payload as a plain file: one extent [0, total).
 * Only for single-file torrents; returns -EINVAL otherwise. */
int ez_torrent_payload_layout(const struct ez_torrent *t, struct ez_layout **ret, struct ez_err *err);

/* Parse a compatible-format file name: 16 or 32 hex digits naming a byte
 * offset that fits in 64 bits.  Returns 0 or -EINVAL. */
int ez_torrent_parse_hex_offset(const char *s, size_t len, uint64_t *ret);

struct ez_torrent_spec {
        const char *name;
        uint64_t piece_length;
        const uint8_t *pieces;          /* 20 bytes per piece */
        size_t n_pieces;
        const uint8_t *root;            /* the payload's SHA-256 tree root (merkle.h), or NULL */
        const uint8_t *layer;           /* its piece layer, 32 bytes per piece (with hybrid) */
        bool hybrid;                    /* also BitTorrent v2: file tree and piece layers */
        const struct ez_layout *layout; /* finished; data extents sorted */
        const char *const *trackers;
        size_t n_trackers;
        const char *const *web_seeds;
        size_t n_web_seeds;
        const char *created_by;
        int64_t creation_date;          /* 0: omit */
        const char *ssl_ca;             /* PEM of the CA an SSL torrent carries (tls.h), or NULL */
        size_t ssl_ca_len;
        bool compat;                    /* EZIO's layout: a file per data extent, no zero ranges */
};

/* Bencode a native torrent (or with s->compat one in EZIO's layout) into
 * out.  Returns 0 or a negative errno. */
int ez_torrent_build(const struct ez_torrent_spec *s, struct ez_buf *out, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
