/*
 * swarm.h - the C face of the libtorrent shim.
 *
 * One ez_swarm is one libtorrent session serving or fetching one torrent,
 * whose storage is the target described by a layout: every block libtorrent
 * reads or writes goes through ez_layout_map() to pread/pwrite on the
 * target's fd (raw_disk_io.cpp).  The session runs its own threads; the C
 * side polls it.  No C++ type crosses this header and no exception crosses
 * these functions: each catches everything and returns -errno with a
 * sentence in err.
 */
#ifndef EZ_SWARM_H
#define EZ_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_swarm;

struct ez_swarm_config {
        const void *torrent;            /* bencoded torrent, borrowed during start */
        size_t torrent_len;
        const struct ez_layout *layout; /* borrowed: must outlive the swarm */
        int fd;                         /* the target (or payload file), borrowed */
        bool seed;                      /* data is complete: add in seed mode */
        bool fresh;                     /* target known empty: skip the resume check */
        bool read_back;                 /* hash each piece written from what the device returns
                                         * after its write-back and cache drop (raw_disk_io.cpp):
                                         * every piece ez_swarm_finished() gives was read back */
        const char *listen;             /* "ADDR:PORT", NULL for 0.0.0.0:6881 */
        const char *const *trackers;    /* added to the torrent's own */
        size_t n_trackers;
        const char *const *peers;       /* "HOST:PORT" to connect to */
        size_t n_peers;
        const char *const *allow;       /* CIDRs peers may come from (checked by the config);
                                         * none: any.  The named peers and the web seeds'
                                         * hosts are allowed too */
        size_t n_allow;
        int max_connections;            /* 0: the default */
        int upload_slots;               /* seed: send to at most this many peers at once, those
                                         * asking for the lowest pieces (upload_slots.cpp); 0: every
                                         * peer */
        uint64_t upload_rate;           /* bytes/s over all peers, LAN ones too; 0: unlimited */
        uint64_t download_rate;
        const char *lt_settings;        /* "name=value,..." libtorrent settings over the LAN
                                         * defaults (for experiments), or NULL */
        bool debug;                     /* libtorrent's alerts and the schedule's choices on stderr */
        bool no_request_budget;         /* leave peers libtorrent's own request queues */
        bool no_ownership;              /* stock rarest-first, no piece owners */
        const char *rack;               /* this node's rack, told to its peers, or NULL */
        int rack_prefix;                /* or: racks are the addresses' networks of this
                                         * many bits; 0: none (racks.cpp) */
        /* an SSL torrent (its info holds ssl-cert): this node's certificate
         * and unencrypted private key, PEM, borrowed during start.  The
         * session then listens on listen for TLS only */
        const char *ssl_cert;
        size_t ssl_cert_len;
        const char *ssl_key;
        size_t ssl_key_len;
};

enum ez_swarm_state {
        EZ_SWARM_CHECKING,              /* hashing what the target already holds */
        EZ_SWARM_DOWNLOADING,
        EZ_SWARM_SEEDING,               /* every piece verified */
};

struct ez_swarm_status {
        enum ez_swarm_state state;
        uint64_t total_wanted;          /* payload bytes */
        uint64_t total_done;            /* verified payload bytes */
        uint64_t downloaded;            /* payload bytes received this session */
        uint64_t uploaded;              /* payload bytes sent this session */
        uint64_t download_rate;         /* bytes/s */
        uint64_t upload_rate;
        uint32_t peers;
        uint32_t seeds;
        uint32_t fetching;              /* when complete: connected peers still downloading (interested) */
        uint32_t pieces_done;
        uint32_t num_pieces;
        uint32_t hash_failures;         /* pieces that failed their hash check */
        uint32_t incomplete_in_swarm;   /* from the tracker's scrape, or UINT32_MAX if unknown */
        uint32_t refused_peers;         /* connections refused by the allow list */
        uint32_t banned_peers;          /* peers banned for sending data that failed its hash */
        uint64_t wasted;                /* bytes received and thrown away: failed hashes, duplicates */
};

/* Start a session for cfg.  Returns 0 and *ret, or -EINVAL (torrent
 * rejected by libtorrent, an SSL torrent without ssl_cert and ssl_key),
 * -EADDRINUSE (cannot listen), -ENOMEM. */
int ez_swarm_start(const struct ez_swarm_config *cfg, struct ez_swarm **ret, struct ez_err *err);

/* Check expert settings ("name=value,...", as lt_settings above) without
 * starting anything, so a bad one is refused before the target is touched.
 * NULL is fine.  Returns 0 or -EINVAL with the reason. */
int ez_swarm_check_settings(const char *settings, struct ez_err *err);

/* Wait timeout_ms (less if an event other than progress comes: the
 * torrent finishing, an error, a tracker answer), then fill *ret.  Returns 0, -EIO for
 * a storage error on the target (the message names the operation and
 * offset), with read_back -EBADMSG for a piece the device returns other
 * than it was written (the message names it), and other negative errno
 * for fatal session errors. */
int ez_swarm_poll(struct ez_swarm *s, int timeout_ms, struct ez_swarm_status *ret, struct ez_err *err);

/* Pieces that passed their hash check since the last call (as seen by
 * ez_swarm_poll), at most max of them into out, oldest first.  Returns
 * how many. */
size_t ez_swarm_finished(struct ez_swarm *s, uint32_t *out, size_t max);

/* Ask the trackers for a scrape; the answer shows up later as
 * incomplete_in_swarm. */
void ez_swarm_scrape(struct ez_swarm *s);

/* Stop the session and release everything.  Accepts NULL. */
/* Stop the session, then write zeros over every piece of which this run
 * wrote blocks but which is not verified (cut short, or failed its hash),
 * so that the target holds this run's verified pieces and nothing else it
 * received.  Returns the number of pieces cleared, or a negative errno
 * (the session is stopped either way); ez_swarm_free() still follows. */
int ez_swarm_stop_clean(struct ez_swarm *s, struct ez_err *err);

void ez_swarm_free(struct ez_swarm *s);

/* Load a torrent as any libtorrent-based client would, with libtorrent's
 * default limits on metadata.  Returns 0, or -EINVAL with libtorrent's
 * reason. */
int ez_swarm_check_torrent(const void *buf, size_t len, struct ez_err *err);

/* libtorrent's version string. */
const char *ez_swarm_lt_version(void);

#ifdef __cplusplus
}
#endif

#endif
