/*
 * status.h - progress and result of a deploy as one JSON object (json-c).
 *
 * One line per report, for a provisioning agent to read: the phase, bytes
 * done and to do, rates, peers and, at the end, the result or the error.
 */
#ifndef EZ_STATUS_H
#define EZ_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ez_status_report {
        const char *phase;      /* check, download, zero, seed, done, error */
        const char *target;
        const char *info_hash;
        uint64_t bytes_done, bytes_total;
        uint64_t downloaded, uploaded;
        uint64_t download_rate, upload_rate;
        uint32_t peers;
        double elapsed;         /* seconds since start */
        int exit_code;          /* -1 while running */
        const char *message;    /* error text, or NULL */
};

/* Format r as a single-line JSON object.  Returns a malloc'ed string, or
 * NULL when out of memory. */
char *ez_status_json(const struct ez_status_report *r);

#ifdef __cplusplus
}
#endif

#endif
