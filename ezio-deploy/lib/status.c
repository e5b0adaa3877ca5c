/*
 * status.c - JSON rendering of a status report (see status.h).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "status.h"

char *ez_status_json(const struct ez_status_report *r)
{
        struct json_object *o = json_object_new_object();
        char *out = NULL;

        if (!o)
                return NULL;
        json_object_object_add(o, "phase", json_object_new_string(r->phase));
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
        json_object_object_add(o, "elapsed", json_object_new_double(r->elapsed));
        if (r->exit_code >= 0)
                json_object_object_add(o, "exit_code", json_object_new_int(r->exit_code));
        if (r->message)
                json_object_object_add(o, "message", json_object_new_string(r->message));
        out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return out;
}
