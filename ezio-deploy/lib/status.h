/*
 * status.h - progress and result of a deploy as one JSON object (json-c).
 *
 * One line per report, for a provisioning agent to read: the phase, bytes
 * done and to do, rates, peers and, at the end, the result or the error.
 * This is a published contract: config/ezio-status.schema.json describes
 * every field (tests validate every line they see against it), the man
 * page ezio-deploy(1) documents it, and a change that a reader could
 * notice raises EZ_STATUS_VERSION.
 */
#ifndef EZ_STATUS_H
#define EZ_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The "version" of every status object. */
#define EZ_STATUS_VERSION 1

/*
 * The phases of a run, in the order they can come (deploy.h says which
 * come for which mode).  Their names are the "phase" of the status.
 */
enum ez_phase {
        EZ_PHASE_FETCH,         /* getting the torrent from a URL */
        EZ_PHASE_CHECK,         /* hashing what the target already holds (a resumed deploy) */
        EZ_PHASE_DOWNLOAD,      /* fetching pieces from the swarm, writing them to the target */
        EZ_PHASE_ZERO,          /* making the zero ranges read as zeros, flushing */
        EZ_PHASE_VERIFY,        /* reading the image back from the target */
        EZ_PHASE_SEED,          /* serving the image to the swarm */
        EZ_PHASE_DONE,          /* the last report of a run that succeeded */
        EZ_PHASE_ERROR,         /* the last report of a run that failed */
};
#define EZ_PHASE_COUNT (EZ_PHASE_ERROR + 1)

/* The phase's name ("fetch" ... "error"); "?" for a value out of range. */
const char *ez_phase_name(enum ez_phase p);

struct ez_status_report {
        enum ez_phase phase;
        const char *target;
        const char *info_hash;
        uint64_t bytes_done, bytes_total;
        uint64_t downloaded, uploaded;
        uint64_t download_rate, upload_rate;
        uint32_t peers;
        bool allow_list;        /* an allow list is in force: report refused_peers */
        uint32_t refused_peers; /* connections it refused */
        uint32_t hash_failures; /* pieces received that failed their hash */
        uint32_t banned_peers;  /* peers banned for sending them */
        uint64_t wasted;        /* bytes received and thrown away */
        double stalled;         /* seconds without a new verified byte, 0: not stalled */
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
