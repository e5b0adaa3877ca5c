/*
 * mkverify.c - check a source against a torrent made of it (see
 * ez_mk_verify in mktorrent.h): the deploy side's read-back (verify.h)
 * run on an image, a device, a qcow2 image or the payload file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "blockdev.h"
#include "cleanup.h"
#include "mktorrent.h"
#include "qcow2.h"
#include "torrent.h"
#include "verify.h"

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
