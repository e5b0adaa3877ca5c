/*
 * status.h - progress and result of a deploy as one JSON object (json-c).
 *
 * One line per report, for a provisioning agent to read: the phase, bytes
 * done and to do, rates, peers and, at the end, the result or the error.
 */
#ifndef EZ_STATUS_H
#define EZ_STATUS_H

#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_status_report {
        const char *phase;      /* fetch, check, download, zero, seed, done, error */
        const char *target;
        const char *info_hash;
        uint64_t bytes_done, bytes_total;
        uint64_t downloaded, uploaded;
        uint64_t download_rate, upload_rate;
        uint32_t peers;
        double elapsed;         /* seconds since start */
        double eta;             /* seconds left, < 0: unknown */
        int exit_code;          /* -1 while running */
        const char *message;    /* error text, or NULL */
};

/* Format r as a single-line JSON object.  Returns a malloc'ed string, or
 * NULL when out of memory. */
char *ez_status_json(const struct ez_status_report *r);

/* Replace the file at path with line and a newline, atomically (a
 * temporary file in the same directory, renamed over it), so that a
 * reader sees the previous report or this one, never a mix.  Returns 0 or
 * a negative errno with the reason in err. */
int ez_status_write_file(const char *path, const char *line, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
