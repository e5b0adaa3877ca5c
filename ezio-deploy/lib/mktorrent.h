/*
 * mktorrent.h - turn an image or block device into a native torrent.
 *
 * The source map (srcmap.h) says which regions have to reach the target:
 * the used blocks of each filesystem partclone knows, everything else
 * whole.  One sequential pass reads those regions once: holes are skipped
 * with SEEK_DATA/SEEK_HOLE, every block that is not all zeros becomes
 * payload (hashed into pieces on all cores and, if asked, written to the
 * payload file), and the other blocks become zero ranges.
 */
#ifndef EZ_MKTORRENT_H
#define EZ_MKTORRENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "bencode.h"
#include "err.h"
#include "layout.h"
#include "srcmap.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_mk_options {
        const char *source;             /* NULL: from pcinfo alone, reading no data */
        const char *pcinfo;             /* partclone's torrent.info, or a `partclone -T` directory */
        const char *payload;            /* write the payload file here, or NULL */
        const char *name;               /* torrent name, NULL: the source's base name */
        uint64_t piece_length;          /* 0: chosen from the source size */
        uint32_t block_size;            /* 0: 4096 */
        int kind;                       /* -1: detect, else enum ez_layout_kind */
        const char *const *trackers;
        size_t n_trackers;
        const char *const *web_seeds;
        size_t n_web_seeds;
        const char *ssl_ca;             /* an SSL torrent: the CA's PEM (ez_tls_read_ca), or NULL */
        size_t ssl_ca_len;
        const struct ez_srcmap_fs *fs;  /* --fs choices */
        size_t n_fs;
        const char *tmpdir;             /* for partclone's and qemu-img's files; NULL or "": /tmp */
        /* NULL, or a flag (a signal handler's) that, once non-zero, ends
         * the call with -EINTR: the pass stops at the next chunk, and
         * partclone or qemu-img are stopped */
        const volatile sig_atomic_t *stop;
        uint64_t fill_gaps;             /* merge data extents this close (bytes) */
        unsigned threads;               /* hashing threads, 0: one per CPU but one */
        bool map_only;                  /* stop after map_ready: read no data, make no torrent */
        bool ezio_format;               /* EZIO's layout: a file per extent, 16 MiB pieces,
                                         * every byte of the map is payload */
        bool hybrid;                    /* v1+v2: also the SHA-256 file tree and piece layers */
        bool no_digest;                 /* no SHA-256 tree: SHA-1 pieces only (not with hybrid) */
        /* called once the map is known, and after each chunk read; may be NULL */
        void (*map_ready)(const struct ez_srcmap *map, void *userdata);
        void (*progress)(uint64_t done, uint64_t total, void *userdata);
        void *userdata;
};

#define EZ_MK_EZIO_PIECE (16u << 20)

struct ez_mk_result {
        uint64_t source_size;
        uint64_t payload_len;
        uint64_t piece_length;
        size_t n_extents, n_zero;
        enum ez_layout_kind kind;
        uint64_t read_bytes;            /* bytes of the source the pass covered */
        char info_hash_hex[41];
        char root_hex[65];              /* the payload's SHA-256 tree root, or "" */
        char stock_refusal[EZ_ERR_MSG_MAX];     /* why libtorrent with default limits refuses it, or "" */
};

/* Piece length for a payload of about size bytes: the smallest power of
 * two from 64 KiB that keeps the torrent to 16384 pieces, up to 16 MiB. */
uint64_t ez_mk_piece_length(uint64_t size);

/* Make the torrent of o->source into out (bencoded; the caller frees it
 * with ez_buf_free) and describe it in *ret.  Returns 0 or -errno with err
 * (-EINTR when o->stop was set, -EINVAL without o->source); no payload
 * file is left behind then. */
int ez_mk_torrent(const struct ez_mk_options *o, struct ez_buf *out, struct ez_mk_result *ret,
                  struct ez_err *err);

/* The torrent from o->pcinfo alone (mkimport.c), reading no data, for
 * when there is no o->source.  Returns 0 or -errno with err (-EINVAL for
 * a hybrid: that needs the data). */
int ez_mk_import(const struct ez_mk_options *o, struct ez_buf *out, struct ez_mk_result *ret, struct ez_err *err);

/* Set ret->stock_refusal to why libtorrent with its default limits would
 * refuse the torrent out (EZIO's layout stops loading at about 200k
 * files), or leave it alone when it would load.  For this module's files. */
void ez_mk_stock_check(const struct ez_buf *out, struct ez_mk_result *ret);

/* Check o->source (an image or device, a qcow2 image, or the payload file
 * itself) against the torrent at path torrent (mkverify.c): every piece, and every
 * zero range reads zeros.  o->progress, o->tmpdir, o->stop are used.  Returns 0
 * with the bytes checked in *ret_bytes, -EBADMSG naming the first
 * difference, or -errno. */
int ez_mk_verify(const struct ez_mk_options *o, const char *torrent, uint64_t *ret_bytes, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
