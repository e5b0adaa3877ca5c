/*
 * deploy.c - the deploy as one state machine (see deploy.h for the phases
 * and their order).
 *
 * ez_deploy_prepare() gathers and checks the plan; ez_deploy_run() starts
 * the swarm and then loops: poll the swarm (at most 250 ms), act on the
 * current phase, report.  Every phase change goes through enter(), every
 * failure through fail(), so that the reports a driver reads are exactly
 * the phases this file walks through.  The read-back overlaps the
 * download: pieces that passed their hash check are read back from the
 * device as they come, 100 ms per loop at most, so little is left for
 * phase verify, which then runs in 32 MiB steps between polls so that the
 * swarm is served all along.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockdev.h"
#include "deploy.h"
#include "exitcode.h"
#include "fetch.h"
#include "parttable.h"
#include "swarm.h"
#include "tls.h"
#include "verify.h"

/* bytes read back per step of phase verify, between two polls */
#define VERIFY_STEP (32u << 20)

struct ez_deploy {
        struct ez_deploy_opts o;
        const struct ez_config *c;
        const char *where;              /* the target or payload path */
        struct ez_torrent *t;
        struct ez_layout *payload_layout;
        const struct ez_layout *layout; /* t's, or payload_layout */
        struct ez_blockdev *dev;
        struct ez_swarm *swarm;
        struct ez_verify *ver;          /* the read-back, from the first piece on */
        bool swarm_reads_back;          /* ... which the swarm's storage does for the pieces it gets */
        struct ez_tls_identity *tls;    /* an SSL torrent: this node's certificate, until the swarm has it */
        struct ez_swarm_status st;
        enum ez_phase phase;
        double start;                   /* when the run began */
        double verify_start;            /* when phase verify began */
        double last;                    /* when the last report went out */
        double complete_at;             /* when the image was complete */
        double last_scrape;
        int quiet_scrapes;              /* tracker answers in a row with no node downloading */
        double fetching_seen;           /* last time a connected peer was still downloading */
        double progress_at;             /* when the last verified byte arrived (or the download began) */
        uint64_t progress_done;         /* ... and how many there were then */
        struct ez_err warning;          /* the message of every report from now on */
        struct ez_deploy_failure failure;
};

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool stopped(const struct ez_deploy *d)
{
        return d->o.stop && *d->o.stop;
}

enum ez_phase ez_deploy_next(const struct ez_config *c, enum ez_phase cur)
{
        bool read_back = c->verify != EZ_CONFIG_VERIFY_NONE;
        bool serve = c->seed_after != EZ_CONFIG_SEED_NONE;

        switch (cur) {
        case EZ_PHASE_FETCH:
                return c->mode == EZ_CONFIG_SEED ? EZ_PHASE_SEED :
                       c->mode == EZ_CONFIG_VERIFY ? EZ_PHASE_VERIFY : EZ_PHASE_CHECK;
        case EZ_PHASE_CHECK:
                return EZ_PHASE_DOWNLOAD;
        case EZ_PHASE_DOWNLOAD:
                return EZ_PHASE_ZERO;
        case EZ_PHASE_ZERO:
                return read_back ? EZ_PHASE_VERIFY : serve ? EZ_PHASE_SEED : EZ_PHASE_DONE;
        case EZ_PHASE_VERIFY:
                return c->mode == EZ_CONFIG_DEPLOY && serve ? EZ_PHASE_SEED : EZ_PHASE_DONE;
        case EZ_PHASE_SEED:
        case EZ_PHASE_DONE:
                return EZ_PHASE_DONE;
        case EZ_PHASE_ERROR:
        default:
                return EZ_PHASE_ERROR;
        }
}

/* Seconds the download has gone without a new verified byte, once that
 * is EZ_STALL_REPORT_S or more (0 before: pieces take time). */
#define EZ_STALL_REPORT_S 5.0
static double stalled_for(const struct ez_deploy *d, double t)
{
        if ((d->phase != EZ_PHASE_DOWNLOAD && d->phase != EZ_PHASE_CHECK) || !d->progress_at ||
            t - d->progress_at < EZ_STALL_REPORT_S)
                return 0;
        return t - d->progress_at;
}

/* One report of the current phase with the numbers of st (the swarm's, or
 * the read-back's in phase verify). */
static void report_st(struct ez_deploy *d, const struct ez_swarm_status *st, int exit_code, const char *message)
{
        double t = now_s(), elapsed = t - d->start;
        struct ez_status_report r = {
                .phase = d->phase, .target = d->where, .info_hash = d->t ? d->t->info_hash_hex : NULL,
                .bytes_done = st->total_done, .bytes_total = st->total_wanted,
                .downloaded = st->downloaded, .uploaded = st->uploaded,
                .download_rate = st->download_rate, .upload_rate = st->upload_rate,
                .peers = st->peers, .elapsed = elapsed, .exit_code = exit_code,
                .allow_list = d->c->n_allow > 0, .refused_peers = st->refused_peers,
                .hash_failures = st->hash_failures, .banned_peers = st->banned_peers, .wasted = st->wasted,
                .stalled = stalled_for(d, t),
                .message = message ? message : d->warning.msg[0] ? d->warning.msg : NULL, .eta = -1,
        };

        if (d->phase == EZ_PHASE_DOWNLOAD && st->download_rate && st->total_wanted >= st->total_done)
                r.eta = (double)(st->total_wanted - st->total_done) / (double)st->download_rate;
        if (d->phase == EZ_PHASE_VERIFY && st->total_done && t > d->verify_start)
                r.eta = (double)(st->total_wanted - st->total_done) * (t - d->verify_start) /
                        (double)st->total_done;
        d->last = t;
        if (d->o.report)
                d->o.report(d->o.ctx, &r);
}

static void report(struct ez_deploy *d)
{
        report_st(d, &d->st, -1, NULL);
}

/* The swarm's numbers with the read-back's progress as bytes done of bytes to do. */
static struct ez_swarm_status verify_status(const struct ez_deploy *d)
{
        struct ez_swarm_status vs = d->st;

        vs.total_done = ez_verify_done(d->ver);
        vs.total_wanted = ez_verify_total(d->ver);
        return vs;
}

static void enter(struct ez_deploy *d, enum ez_phase p)
{
        d->phase = p;
        if (p == EZ_PHASE_VERIFY) {
                struct ez_swarm_status vs = verify_status(d);

                d->verify_start = now_s();
                report_st(d, &vs, -1, NULL);
        } else if (p != EZ_PHASE_DONE) {
                report(d);
        }
}

/* Record the failure, report it, return its exit code. */
static int fail(struct ez_deploy *d, int code, const char *what, const char *why)
{
        struct ez_swarm_status vs = d->phase == EZ_PHASE_VERIFY && d->ver ? verify_status(d) : d->st;

        snprintf(d->failure.what, sizeof(d->failure.what), "%s", what);
        if (why != d->failure.why.msg)
                snprintf(d->failure.why.msg, sizeof(d->failure.why.msg), "%s", why);
        d->phase = EZ_PHASE_ERROR;
        report_st(d, &vs, code, d->failure.why.msg);
        return code;
}

/* A deploy given up before the image was complete, for why: stop the
 * swarm, clear what it wrote of pieces that were never verified (cut
 * short, or bad data from a peer), flush, and fail with code.  The target
 * then holds verified pieces of the image and, elsewhere, what it held
 * before; if clearing failed, the failure says so too. */
static int give_up(struct ez_deploy *d, int code, const char *why)
{
        struct ez_err e;
        char msg[2 * sizeof(d->failure.why.msg)];       /* cut to fit by fail() */

        if (ez_swarm_stop_clean(d->swarm, &e) < 0)
                snprintf(msg, sizeof(msg), "%s; %s", why, e.msg);
        else
                snprintf(msg, sizeof(msg), "%s", why);
        ez_swarm_free(d->swarm);
        d->swarm = NULL;
        ez_blockdev_sync(d->dev, NULL);
        return fail(d, code, d->where, msg);
}

/* --timeout passed: how far it got, and for how long nothing came */
static int timed_out(struct ez_deploy *d, double t)
{
        char why[240];
        double quiet = stalled_for(d, t);
        int pct = d->st.total_wanted ? (int)(100 * d->st.total_done / d->st.total_wanted) : 0;
        int n;

        n = snprintf(why, sizeof(why), "timed out before the image was complete: %d%% of it", pct);
        if (quiet > 0)
                n += snprintf(why + n, sizeof(why) - (size_t)n, ", nothing new for %.0f s", quiet);
        /* a seeder serves unchecked data: a source that does not match
         * the torrent shows here */
        if (d->st.hash_failures)
                snprintf(why + n, sizeof(why) - (size_t)n, "; %" PRIu32 " piece(s) failed their hash check "
                         "(a peer or a source that does not match the torrent)", d->st.hash_failures);
        return give_up(d, EZ_EXIT_SWARM, why);
}

static int fail_err(struct ez_deploy *d, int code, const char *what)
{
        return fail(d, code, what, d->failure.why.msg);
}

static int finish(struct ez_deploy *d)
{
        d->phase = EZ_PHASE_DONE;
        report_st(d, &d->st, EZ_EXIT_OK, NULL);
        return EZ_EXIT_OK;
}

struct ez_deploy *ez_deploy_new(const struct ez_deploy_opts *o)
{
        struct ez_deploy *d = calloc(1, sizeof(*d));

        if (!d)
                return NULL;
        d->o = *o;
        d->c = o->config;
        d->where = d->c->target ? d->c->target : d->c->payload;
        d->start = now_s();
        d->phase = EZ_PHASE_FETCH;
        d->st.incomplete_in_swarm = UINT32_MAX;
        return d;
}

/* The swarm of an SSL torrent takes only peers with a certificate signed
 * by the torrent's CA, this node too: its certificate and key are loaded
 * and checked now (tls.h), a missing one is a configuration error.  A
 * torrent in the clear leaves them unused, with a warning. */
static int prepare_tls(struct ez_deploy *d)
{
        const struct ez_config *c = d->c;
        struct ez_err *err = &d->failure.why;

        if (!d->t->ssl_ca) {
                if (c->ssl_cert || c->ssl_key)
                        snprintf(d->warning.msg, sizeof(d->warning.msg), "warning: the torrent is not an SSL torrent: "
                                 "the certificate and key are not used");
                return EZ_EXIT_OK;
        }
        if (ez_tls_check_ca(d->t->ssl_ca, d->t->ssl_ca_len, err) < 0)
                return fail_err(d, EZ_EXIT_TORRENT, "torrent");
        if (!c->ssl_cert || !c->ssl_key)
                return fail(d, EZ_EXIT_USAGE, c->ssl_cert ? "--ssl-key" : "--ssl-cert",
                            "the torrent is an SSL torrent, whose peers must show a certificate signed by its CA: give "
                            "this node's with --ssl-cert and --ssl-key (node.yaml: ssl_cert, ssl_key)");
        if (ez_tls_load_identity(c->ssl_cert, c->ssl_key, c->ssl_key_password_file, d->t->ssl_ca, d->t->ssl_ca_len,
                                 d->t->name, &d->tls, err) < 0)
                return fail_err(d, EZ_EXIT_USAGE, "certificate");
        if (d->tls->warning[0])
                snprintf(d->warning.msg, sizeof(d->warning.msg), "warning: %.480s", d->tls->warning);
        return EZ_EXIT_OK;
}

int ez_deploy_prepare(struct ez_deploy *d)
{
        const struct ez_config *c = d->c;
        struct ez_err *err = &d->failure.why;
        struct ez_fetch_opts fo = {
                .headers = c->http.headers, .n_headers = c->http.n_headers, .token = d->o.token,
                .ca_file = c->http.ca_file, .insecure = c->http.insecure,
                .connect_timeout = c->http.connect_timeout, .stall_timeout = c->http.timeout,
                .retries = c->http.retries, .max_size = c->http.max_size,
        };
        bool deploy = c->mode == EZ_CONFIG_DEPLOY;
        int r;

        /* 1. the torrent and its layout */
        if (ez_fetch_is_url(c->torrent))
                enter(d, EZ_PHASE_FETCH);
        if (ez_fetch_torrent(c->torrent, c->torrent_sha256, &fo, &d->t, err) < 0)
                return fail_err(d, EZ_EXIT_TORRENT, "torrent");
        d->layout = d->t->layout;
        if (c->payload) {
                if (ez_torrent_payload_layout(d->t, &d->payload_layout, err) < 0)
                        return fail_err(d, EZ_EXIT_TORRENT, "torrent");
                d->layout = d->payload_layout;
        }
        d->st.total_wanted = d->t->total_length;
        if (deploy && c->seed_after == EZ_CONFIG_SEED_UNTIL_DONE && d->t->n_trackers + c->n_trackers == 0)
                return fail(d, EZ_EXIT_USAGE, "--seed-after",
                            "'until-done' asks a tracker, and neither the torrent nor the options name one");

        if (c->rack && c->rack_prefix > 0)
                return fail(d, EZ_EXIT_USAGE, "rack", "a rack name and rack_prefix both given: give one");

        /* an SSL torrent: this node's certificate, before the target is touched */
        r = prepare_tls(d);
        if (r != EZ_EXIT_OK)
                return r;

        /* expert settings are part of the plan too */
        if (ez_swarm_check_settings(d->o.lt_settings, err) < 0) {
                ez_err_prefix(err, -EINVAL, "%s", d->o.lt_settings_name ? d->o.lt_settings_name : "libtorrent settings");
                return fail_err(d, EZ_EXIT_SWARM, "swarm");
        }

        /* 2. the target: exists or can be created, large enough, not in use */
        r = ez_blockdev_open(d->where, d->layout->target_size,
                             !deploy ? 0 : EZ_BLOCKDEV_WRITE | (d->o.dry_run ? 0 : EZ_BLOCKDEV_CREATE), &d->dev, err);
        if (r == -ENOENT && d->o.dry_run && deploy)
                d->dev = NULL;  /* would be created */
        else if (r < 0)
                return fail_err(d, EZ_EXIT_TARGET, "target");
        /* a disk image belongs on a whole disk, a partition image on a partition */
        if (d->dev && d->dev->is_block && !c->payload && !c->force_kind &&
            (d->layout->kind == EZ_LAYOUT_DISK) == d->dev->is_partition) {
                ez_err_set(err, -EINVAL, "'%s' is a %s and the image is a %s image (--force-kind to write it anyway)",
                           d->where, d->dev->is_partition ? "partition" : "whole disk",
                           d->layout->kind == EZ_LAYOUT_DISK ? "whole-disk" : "partition");
                return fail_err(d, EZ_EXIT_TARGET, "target");
        }
        return EZ_EXIT_OK;
}

/* Make every zero range of the layout read as zeros, then flush. */
static int zero_and_flush(struct ez_deploy *d, struct ez_err *err)
{
        const struct ez_layout *l = d->layout;
        bool skip = d->c->assume_zeroed || d->dev->created || d->c->payload;
        size_t i;
        int r;

        for (i = 0; !skip && i < l->n_zero; i++) {
                r = ez_blockdev_zero(d->dev, l->zero[i].off, l->zero[i].len, err);
                if (r < 0)
                        return r;
        }
        return ez_blockdev_sync(d->dev, err);
}

/* A read-back failure: the data differs (exit 7) or could not be read (6). */
static int fail_read_back(struct ez_deploy *d, int r)
{
        return fail_err(d, r == -EBADMSG ? EZ_EXIT_VERIFY : EZ_EXIT_IO, d->where);
}

/* While downloading: read back the pieces that passed their hash check
 * since the last call, for at most 100 ms (the rest stays queued). */
static int read_back_arrived(struct ez_deploy *d)
{
        double until = now_s() + 0.1;
        uint32_t piece;
        int r;

        while (now_s() < until && ez_swarm_finished(d->swarm, &piece, 1) == 1) {
                r = d->swarm_reads_back ? ez_verify_matched(d->ver, piece, &d->failure.why) :
                                          ez_verify_piece(d->ver, piece, &d->failure.why);
                if (r < 0)
                        return fail_read_back(d, r);
        }
        return EZ_EXIT_OK;
}

/* One step of phase verify.  Returns -1 while there is more, EZ_EXIT_OK
 * once everything matched, or the exit code of the failure. */
static int read_back_step(struct ez_deploy *d)
{
        int r = ez_verify_step(d->ver, VERIFY_STEP, &d->failure.why);
        struct ez_swarm_status vs;

        if (r < 0)
                return fail_read_back(d, r);
        if (r == 0)
                return EZ_EXIT_OK;
        if (now_s() - d->last >= 0.25) {
                vs = verify_status(d);
                report_st(d, &vs, -1, NULL);
        }
        return -1;
}

/* The image is complete on the target: a whole-disk image on a whole
 * disk gets its partitions known to the kernel before anything else runs
 * (an agent adds its config drive partition next).  A failure there is
 * a warning in the report, not a failed deploy: the image is right, the
 * kernel's view can be refreshed by whoever needs it: every report from
 * here on carries it as its message, so that a reader of the status file
 * sees it whenever it looks. */
static void image_complete(struct ez_deploy *d)
{
        d->complete_at = now_s();
        if (d->layout->kind != EZ_LAYOUT_DISK || d->c->payload || !d->dev->is_block || d->dev->is_partition)
                return;
        if (ez_parttable_reread(d->dev->fd, d->where, &d->warning) < 0)
                ez_err_prefix(&d->warning, -EIO, "warning");
}

/* --verify-only: the whole check, no swarm. */
static int run_verify_only(struct ez_deploy *d)
{
        int code;

        if (ez_verify_start(d->t, d->layout, d->dev->fd, d->c->verify == EZ_CONFIG_VERIFY_FULL, &d->ver,
                            &d->failure.why) < 0)
                return fail_err(d, EZ_EXIT_INTERNAL, "verify");
        enter(d, EZ_PHASE_VERIFY);
        do {
                if (stopped(d))
                        return fail(d, EZ_EXIT_INTERRUPTED, d->where, "interrupted before the check was complete");
                code = read_back_step(d);
        } while (code == -1);
        if (code != EZ_EXIT_OK)
                return code;
        d->st.total_done = d->st.total_wanted = ez_verify_total(d->ver);
        return finish(d);
}

/* Seconds between two scrapes of until-done.  Every node scrapes at this
 * pace once done, and the last node's wait for the others to see it done
 * is about twice this: 5 s made an Ironic deploy step, which ends when the
 * node stops serving, 10 s longer than the download (docs/ironic.md). */
#define UNTIL_DONE_SCRAPE 2.0

/* Seconds with no connected peer still downloading after which until-done
 * is over whatever the tracker says: a node that died (kill -9, power
 * loss) stays on the tracker's books as downloading until its announce
 * times out, tens of minutes, and would hold every done node (and the
 * Ironic deploy steps waiting on them) until seed_timeout. */
#define UNTIL_DONE_SWARM_QUIET 10.0

/* Whether the serving that follows a complete deploy, or a seeder's, is over. */
static bool serving_over(struct ez_deploy *d, double t)
{
        const struct ez_config *c = d->c;
        double since = c->mode == EZ_CONFIG_SEED ? d->start : d->complete_at;
        double serving = t - since;

        if (c->seed_timeout && serving >= (double)c->seed_timeout)
                return true;
        if (c->seed_after != EZ_CONFIG_SEED_UNTIL_DONE)
                return c->seed_after > 0 && serving >= (double)c->seed_after;
        /* until no connected peer has been downloading for
         * UNTIL_DONE_SWARM_QUIET s ... */
        if (d->st.fetching > 0 || d->fetching_seen < since)
                d->fetching_seen = t;
        else if (t - d->fetching_seen >= UNTIL_DONE_SWARM_QUIET)
                return true;
        /* ... or the tracker knows no node still downloading, twice
         * running, UNTIL_DONE_SCRAPE s apart: a node that started with this
         * one may not have announced yet at the first answer */
        if (t - d->last_scrape >= UNTIL_DONE_SCRAPE) {
                d->quiet_scrapes = d->st.incomplete_in_swarm == 0 ? d->quiet_scrapes + 1 : 0;
                if (d->quiet_scrapes >= 2)
                        return true;
                ez_swarm_scrape(d->swarm);
                d->last_scrape = t;
        }
        return false;
}

/* One turn of the loop in the current phase, after a poll of the swarm.
 * Returns -1 to go on, or the exit code the run ends with. */
static int turn(struct ez_deploy *d, double t)
{
        const struct ez_config *c = d->c;
        int code;

        switch (d->phase) {
        case EZ_PHASE_CHECK:
        case EZ_PHASE_DOWNLOAD:
                if (d->ver && (code = read_back_arrived(d)) != EZ_EXIT_OK)
                        return code;
                if (d->st.state != EZ_SWARM_SEEDING) {
                        if (c->timeout && t - d->start >= (double)c->timeout)
                                return timed_out(d, t);
                        if (d->phase == EZ_PHASE_CHECK && d->st.state != EZ_SWARM_CHECKING)
                                enter(d, EZ_PHASE_DOWNLOAD);
                        else
                                report(d);
                        return -1;
                }
                /* every piece verified: zero ranges, flush, read back the rest */
                enter(d, EZ_PHASE_ZERO);
                if (zero_and_flush(d, &d->failure.why) < 0)
                        return fail_err(d, EZ_EXIT_IO, d->where);
                if (!d->ver) {
                        image_complete(d);
                        enter(d, ez_deploy_next(c, EZ_PHASE_ZERO));
                } else {
                        enter(d, EZ_PHASE_VERIFY);
                }
                return d->phase == EZ_PHASE_DONE ? finish(d) : -1;
        case EZ_PHASE_VERIFY:
                code = read_back_step(d);
                if (code != EZ_EXIT_OK)
                        return code;
                ez_verify_free(d->ver);
                d->ver = NULL;
                image_complete(d);
                enter(d, ez_deploy_next(c, EZ_PHASE_VERIFY));
                return d->phase == EZ_PHASE_DONE ? finish(d) : -1;
        case EZ_PHASE_SEED:
                if (serving_over(d, t))
                        return finish(d);
                report(d);
                return -1;
        default:
                return fail(d, EZ_EXIT_INTERNAL, "deploy", "no such phase");
        }
}

/* The stop flag is set: what the run ends with depends on where it is. */
static int interrupted(struct ez_deploy *d)
{
        switch (d->phase) {
        case EZ_PHASE_SEED:
                return finish(d);
        case EZ_PHASE_VERIFY:
                return fail(d, EZ_EXIT_INTERRUPTED, d->where, "interrupted before the image was read back");
        default:
                /* the verified pieces stay: a restart hashes them and
                 * fetches only the rest */
                return give_up(d, EZ_EXIT_INTERRUPTED, "interrupted before the image was complete");
        }
}

int ez_deploy_run(struct ez_deploy *d)
{
        const struct ez_config *c = d->c;
        bool deploy = c->mode == EZ_CONFIG_DEPLOY;
        int code = -1, r;

        if (!d->dev)
                return fail(d, EZ_EXIT_INTERNAL, "deploy", "the plan was prepared for a dry run");
        /* the plan is valid: from here on the target may change */
        if (deploy && ez_blockdev_extend(d->dev, d->layout->target_size, &d->failure.why) < 0)
                return fail_err(d, EZ_EXIT_TARGET, "target");
        if (c->mode == EZ_CONFIG_VERIFY)
                return run_verify_only(d);
        if (deploy && c->verify != EZ_CONFIG_VERIFY_NONE &&
            ez_verify_start(d->t, d->layout, d->dev->fd, c->verify == EZ_CONFIG_VERIFY_FULL, &d->ver,
                            &d->failure.why) < 0)
                return fail_err(d, EZ_EXIT_INTERNAL, "verify");
        /* where a piece's check needs nothing but its SHA-1, the swarm's
         * storage reads it back for its own hash check */
        d->swarm_reads_back = d->ver && !ez_verify_needs_data(d->ver);

        {
                struct ez_swarm_config cfg = {
                        .torrent = d->t->raw, .torrent_len = d->t->raw_len,
                        .layout = d->layout, .fd = d->dev->fd,
                        .seed = !deploy, .fresh = d->dev->created, .read_back = d->swarm_reads_back,
                        .listen = c->listen,
                        .trackers = (const char *const *)c->trackers, .n_trackers = c->n_trackers,
                        .peers = (const char *const *)c->peers, .n_peers = c->n_peers,
                        .allow = (const char *const *)c->allow, .n_allow = c->n_allow,
                        .max_connections = (int)c->max_connections, .upload_slots = (int)c->upload_slots,
                        .upload_rate = c->upload_rate, .download_rate = c->download_rate,
                        .lt_settings = d->o.lt_settings, .debug = d->o.debug,
                        .no_request_budget = d->o.no_request_budget, .no_ownership = d->o.no_ownership,
                        .rack = c->rack, .rack_prefix = (int)c->rack_prefix,
                        .ssl_cert = d->tls ? d->tls->cert_pem : NULL, .ssl_cert_len = d->tls ? d->tls->cert_len : 0,
                        .ssl_key = d->tls ? d->tls->key_pem : NULL, .ssl_key_len = d->tls ? d->tls->key_len : 0,
                };

                r = ez_swarm_start(&cfg, &d->swarm, &d->failure.why);
                /* libtorrent holds its own copy of the key now */
                ez_tls_identity_free(d->tls);
                d->tls = NULL;
                if (r < 0)
                        return fail_err(d, EZ_EXIT_SWARM, "swarm");
        }
        d->phase = deploy ? EZ_PHASE_CHECK : EZ_PHASE_SEED;

        while (code == -1) {
                r = ez_swarm_poll(d->swarm, d->phase == EZ_PHASE_VERIFY ? 0 : 250, &d->st, &d->failure.why);
                if (r < 0)
                        return fail_err(d, r == -EIO ? EZ_EXIT_IO : r == -EBADMSG ? EZ_EXIT_VERIFY : EZ_EXIT_SWARM,
                                        r == -EIO || r == -EBADMSG ? d->where : "swarm");
                if (d->st.total_done != d->progress_done || !d->progress_at) {
                        d->progress_done = d->st.total_done;
                        d->progress_at = now_s();
                }
                if (stopped(d))
                        return interrupted(d);
                code = turn(d, now_s());
        }
        return code;
}

const struct ez_deploy_failure *ez_deploy_failure(const struct ez_deploy *d)
{
        return &d->failure;
}

const struct ez_torrent *ez_deploy_torrent(const struct ez_deploy *d)
{
        return d->t;
}

const struct ez_layout *ez_deploy_layout(const struct ez_deploy *d)
{
        return d->layout;
}

const struct ez_blockdev *ez_deploy_target(const struct ez_deploy *d)
{
        return d->dev;
}

void ez_deploy_free(struct ez_deploy *d)
{
        if (!d)
                return;
        ez_verify_free(d->ver);
        ez_tls_identity_free(d->tls);
        ez_swarm_free(d->swarm);
        ez_blockdev_close(d->dev);
        ez_layout_free(d->payload_layout);
        ez_torrent_free(d->t);
        free(d);
}
