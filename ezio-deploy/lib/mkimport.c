/*
 * mkimport.c - a torrent from partclone's torrent.info alone, reading no
 * data (see ez_mk_import in mktorrent.h): partclone's extents and its
 * SHA-1 per 16 MiB as they are, and, from a `partclone -T` directory,
 * its chunk files joined into the payload file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "mktorrent.h"
#include "partclone.h"
#include "torrent.h"

#define COPY_CHUNK (4u << 20)

/* The payload of a `partclone -T` directory: its chunk files, named by
 * their offsets, concatenated in the order torrent.info lists them. */
static int concat_chunks(const char *dir, const struct ez_partclone_info *pi, const char *payload, struct ez_err *err)
{
        _cleanup_close_ int out = open(payload, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        _cleanup_free_ uint8_t *buf = malloc(COPY_CHUNK);
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
                        size_t n = pi->ext[i].len - done < COPY_CHUNK ? (size_t)(pi->ext[i].len - done) : COPY_CHUNK;

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
int ez_mk_import(const struct ez_mk_options *o, struct ez_buf *out, struct ez_mk_result *ret, struct ez_err *err)
{
        struct ez_partclone_info pi;
        struct ez_layout *l = NULL;
        struct ez_torrent *check = NULL;
        char info[4200], dir[4096], real[PATH_MAX];
        const char *name = o->name;
        bool made_payload = false;
        size_t i;
        int r;

        if (o->hybrid)
                return ez_err_set(err, -EINVAL, "a hybrid torrent is native and needs the data: give SOURCE");
        if (!o->pcinfo)
                return ez_err_set(err, -EINVAL, "no source");
        ez_partclone_info_path(o->pcinfo, info, sizeof(info), dir, sizeof(dir));
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
                        .ssl_ca = o->ssl_ca, .ssl_ca_len = o->ssl_ca_len,
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
        ez_mk_stock_check(out, ret);
out:
        if (r < 0 && made_payload)
                unlink(o->payload);
        ez_torrent_free(check);
        ez_layout_free(l);
        ez_partclone_info_free(&pi);
        return r;
}
