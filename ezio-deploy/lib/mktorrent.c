/*
 * mktorrent.c - a torrent from a source: the map (srcmap.h), one pass
 * that finds the payload (scan.h) while it is hashed (hasher.h), and the
 * torrent built from what they found (see mktorrent.h).
 *
 * The payload is the concatenation of the non-zero blocks in offset order,
 * so the pieces can be hashed in the same pass that finds them.  On any
 * failure the partial payload file is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "hasher.h"
#include "merkle.h"
#include "mktorrent.h"
#include "partclone.h"
#include "qcow2.h"
#include "scan.h"
#include "srcmap.h"
#include "swarm.h"
#include "torrent.h"

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

/* Would a client with libtorrent's default limits load it?  (EZIO's
 * layout, a file per extent, stops loading at about 200k files.) */
void ez_mk_stock_check(const struct ez_buf *out, struct ez_mk_result *ret)
{
        struct ez_err e = { "" };

        if (ez_swarm_check_torrent(out->data, out->len, &e) < 0)
                snprintf(ret->stock_refusal, sizeof(ret->stock_refusal), "%s", e.msg);
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
        struct ez_hasher *h = NULL;
        struct ez_layout *layout = NULL;
        uint64_t payload_len = 0;
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

        if (!o->source)
                return ez_err_set(err, -EINVAL, "no source: give SOURCE (or ez_mk_import() for torrent.info alone)");
        if (o->hybrid && o->ezio_format)
                return ez_err_set(err, -EINVAL, "a hybrid torrent is native and needs the data: "
                                  "not with EZIO's layout");
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
                ez_partclone_info_path(o->pcinfo, pcinfo, sizeof(pcinfo), NULL, 0);
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
        r = ez_hasher_new(o->threads ? o->threads : default_threads(), piece_length, max_payload + mo.block_size,
                          !o->ezio_format && (!o->no_digest || o->hybrid), payload_fd, o->payload, &h, err);
        if (r < 0)
                goto out;
        {
                struct ez_scan_options so = {
                        .fd = fd, .source = o->source, .block_size = mo.block_size, .fill_gaps = o->fill_gaps,
                        .ezio_format = o->ezio_format, .stop = o->stop,
                        .progress = o->progress, .userdata = o->userdata,
                };

                r = ez_scan_map(&so, map, h, &layout, &payload_len, &done, err);
        }
        if (r >= 0)
                r = ez_hasher_finish(h, err);
        if (r < 0)
                goto out;
        r = ez_layout_finish(layout, payload_len, err);
        if (r < 0)
                goto out;
        if (payload_fd >= 0 && fsync(payload_fd) < 0) {
                r = ez_err_set(err, -errno, "cannot flush the payload file '%s': %s", o->payload, strerror(errno));
                goto out;
        }
        n_pieces = (size_t)((payload_len + piece_length - 1) / piece_length);
        if (ez_hasher_layer(h)) {
                _cleanup_free_ uint8_t *scratch = malloc(n_pieces * EZ_MERKLE_HASH);

                if (!scratch || ez_merkle_root(ez_hasher_layer(h), n_pieces, piece_length, payload_len, scratch, root) < 0) {
                        r = ez_err_set(err, scratch ? -EIO : -ENOMEM, scratch ? "SHA-256 failed" : "out of memory");
                        goto out;
                }
        }
        {
                struct ez_torrent_spec spec = {
                        .name = name, .piece_length = piece_length,
                        .pieces = ez_hasher_pieces(h), .n_pieces = n_pieces,
                        .root = ez_hasher_layer(h) ? root : NULL, .layer = ez_hasher_layer(h), .hybrid = o->hybrid,
                        .layout = layout,
                        .trackers = o->trackers, .n_trackers = o->n_trackers,
                        .web_seeds = o->web_seeds, .n_web_seeds = o->n_web_seeds,
                        .created_by = "ezio-mktorrent " EZ_VERSION,
                        .creation_date = (int64_t)time(NULL),
                        .compat = o->ezio_format,
                        .ssl_ca = o->ssl_ca, .ssl_ca_len = o->ssl_ca_len,
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
                .source_size = map->size, .payload_len = payload_len, .piece_length = piece_length,
                .n_extents = layout->n_data, .n_zero = layout->n_zero, .kind = map->kind,
                .read_bytes = done,
        };
        ez_mk_stock_check(out, ret);
        memcpy(ret->info_hash_hex, check->info_hash_hex, sizeof(ret->info_hash_hex));
        for (i = 0; ez_hasher_layer(h) && i < EZ_MERKLE_HASH; i++)
                snprintf(ret->root_hex + 2 * i, 3, "%02x", root[i]);
        ez_torrent_free(check);
out:
        ez_hasher_free(h);
        if (payload_fd >= 0) {
                close(payload_fd);
                if (r < 0)
                        unlink(o->payload);
        }
        ez_layout_free(layout);
        ez_srcmap_free(map);
        ez_qcow2_raw_close(&raw);
        return r;
}

