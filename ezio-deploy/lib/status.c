/*
 * status.c - JSON rendering of a status report, and the status file that
 * holds the latest one (see status.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "io.h"
#include "status.h"

static const char *const phase_names[EZ_PHASE_COUNT] = {
        [EZ_PHASE_FETCH] = "fetch",
        [EZ_PHASE_CHECK] = "check",
        [EZ_PHASE_DOWNLOAD] = "download",
        [EZ_PHASE_ZERO] = "zero",
        [EZ_PHASE_VERIFY] = "verify",
        [EZ_PHASE_SEED] = "seed",
        [EZ_PHASE_DONE] = "done",
        [EZ_PHASE_ERROR] = "error",
};

const char *ez_phase_name(enum ez_phase p)
{
        return (unsigned)p < EZ_PHASE_COUNT ? phase_names[p] : "?";
}

char *ez_status_json(const struct ez_status_report *r)
{
        struct json_object *o = json_object_new_object();
        char *out = NULL;

        if (!o)
                return NULL;
        json_object_object_add(o, "version", json_object_new_int(EZ_STATUS_VERSION));
        json_object_object_add(o, "phase", json_object_new_string(ez_phase_name(r->phase)));
        if (r->target)
                json_object_object_add(o, "target", json_object_new_string(r->target));
        if (r->info_hash)
                json_object_object_add(o, "info_hash", json_object_new_string(r->info_hash));
        json_object_object_add(o, "bytes_done", json_object_new_int64((int64_t)r->bytes_done));
        json_object_object_add(o, "bytes_total", json_object_new_int64((int64_t)r->bytes_total));
        json_object_object_add(o, "downloaded", json_object_new_int64((int64_t)r->downloaded));
        json_object_object_add(o, "uploaded", json_object_new_int64((int64_t)r->uploaded));
        json_object_object_add(o, "download_rate", json_object_new_int64((int64_t)r->download_rate));
        json_object_object_add(o, "upload_rate", json_object_new_int64((int64_t)r->upload_rate));
        json_object_object_add(o, "peers", json_object_new_int((int)r->peers));
        if (r->allow_list)
                json_object_object_add(o, "refused_peers", json_object_new_int64(r->refused_peers));
        json_object_object_add(o, "hash_failures", json_object_new_int64(r->hash_failures));
        json_object_object_add(o, "banned_peers", json_object_new_int64(r->banned_peers));
        json_object_object_add(o, "wasted", json_object_new_int64((int64_t)r->wasted));
        if (r->stalled > 0)
                json_object_object_add(o, "stalled", json_object_new_double(r->stalled));
        json_object_object_add(o, "elapsed", json_object_new_double(r->elapsed));
        if (r->eta >= 0)
                json_object_object_add(o, "eta", json_object_new_double(r->eta));
        if (r->exit_code >= 0)
                json_object_object_add(o, "exit_code", json_object_new_int(r->exit_code));
        if (r->message)
                json_object_object_add(o, "message", json_object_new_string(r->message));
        out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return out;
}

int ez_status_write_file(const char *path, const char *line, struct ez_err *err)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        size_t len = strlen(line);
        int r;

        if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
                tmp = NULL;
                return ez_err_set(err, -ENOMEM, "out of memory");
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return ez_err_set(err, -errno, "status file %s: %s", tmp, strerror(errno));
        r = ez_io_write_full(fd, line, len);
        if (r >= 0)
                r = ez_io_write_full(fd, "\n", 1);
        if (r < 0) {
                unlink(tmp);
                return ez_err_set(err, r, "status file %s: %s", tmp, strerror(-r));
        }
        if (rename(tmp, path) < 0) {
                int e = errno;
                unlink(tmp);
                return ez_err_set(err, -e, "status file %s: %s", path, strerror(e));
        }
        return 0;
}
