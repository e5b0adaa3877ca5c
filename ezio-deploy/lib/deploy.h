/*
 * deploy.h - one run of ezio-deploy, from the plan to the end: write an
 * image from its swarm onto a target (deploy), serve it from one (seed),
 * or check one against its torrent (verify), as one state machine over
 * the phases of status.h.
 *
 *   deploy:  [fetch] -> [check] -> [download] -> zero -> [verify] -> [seed] -> done
 *   seed:    [fetch] -> seed -> done
 *   verify:  [fetch] -> verify -> done
 *
 * fetch comes only for a torrent URL; check only while libtorrent hashes
 * what the target already holds (a resumed deploy, or briefly at the
 * start); download unless the target already held every piece; verify
 * unless the config's verify is none; seed after a deploy unless
 * seed_after is none.  Any phase may end in error instead.  A whole-disk
 * image written to a whole disk has its partition table read by the
 * kernel before the deploy counts as complete; if that fails, every
 * report from then on carries the warning as its message.
 *
 * Two steps: ez_deploy_prepare() validates the whole plan (torrent, layout,
 * settings, target) and writes nothing; ez_deploy_run() carries it out.
 * Progress and the outcome reach the caller as struct ez_status_report
 * through one callback, the objects ezio-deploy prints as JSON lines: in a
 * deploy, the first report in phase seed or done says the image is on the
 * target (and read back, unless verify is none); the last report is in
 * phase done or error and carries the exit code (exitcode.h).
 */
#ifndef EZ_DEPLOY_H
#define EZ_DEPLOY_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "err.h"
#include "layout.h"
#include "status.h"
#include "torrent.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_blockdev;

struct ez_deploy_opts {
        const struct ez_config *config; /* borrowed for the deploy's life; complete and validated */
        const char *token;              /* X-Auth-Token for fetching the torrent, or NULL */
        bool dry_run;                   /* ez_deploy_prepare() creates no target file */
        /* expert knobs of the swarm (swarm.h): for experiments and comparisons;
         * lt_settings_name is where the settings came from, for messages */
        const char *lt_settings, *lt_settings_name;
        bool debug, no_request_budget, no_ownership;
        /* the caller sets *stop (e.g. from a signal handler) to end the run
         * as soon as it is safe; NULL: never */
        const volatile sig_atomic_t *stop;
        /* every report, in order; may be NULL */
        void (*report)(void *ctx, const struct ez_status_report *r);
        void *ctx;
};

/* What failed, once ez_deploy_prepare() or ez_deploy_run() returned an
 * exit code other than EZ_EXIT_OK. */
struct ez_deploy_failure {
        char what[256];                 /* "torrent", "target", "swarm", the target's path ... */
        struct ez_err why;              /* one sentence */
};

struct ez_deploy;

/* A deploy with options o (copied; what they point to is borrowed).
 * Nothing is read yet.  Returns NULL when out of memory. */
struct ez_deploy *ez_deploy_new(const struct ez_deploy_opts *o);

/*
 * Validate the whole plan: fetch (phase fetch) and parse the torrent,
 * load this node's certificate for an SSL torrent (tls.h; EZ_EXIT_USAGE
 * when there is none or it is unusable), check the settings, open the target and check its size, kind and that
 * nobody else uses it.  Nothing is written; a missing regular file is
 * created empty unless dry_run (the plan then says it would be).  Returns
 * EZ_EXIT_OK, or the exit code with ez_deploy_failure() saying why, after
 * a report in phase error.
 */
int ez_deploy_prepare(struct ez_deploy *d);

/*
 * Carry out the prepared plan (not one prepared for a dry run: that is
 * EZ_EXIT_INTERNAL), reporting as it goes, until the work is
 * done, the stop flag is set or something fails.  Returns EZ_EXIT_OK
 * after a report in phase done, or the exit code after one in phase
 * error.  An interrupted deploy leaves what it wrote flushed, so that a
 * new run fetches only the rest.
 */
int ez_deploy_run(struct ez_deploy *d);

/* The phase that follows cur when cur ends normally, for a run of config
 * c: the order above, as a pure function.  done and error follow
 * themselves.  (The swarm decides when check and download end, and
 * whether there is anything to check.) */
enum ez_phase ez_deploy_next(const struct ez_config *c, enum ez_phase cur);

/* What failed (valid after a failure, else empty strings). */
const struct ez_deploy_failure *ez_deploy_failure(const struct ez_deploy *d);

/* The plan, after ez_deploy_prepare() succeeded: the torrent, the layout
 * written or served (the payload's own with config->payload), and the
 * target (NULL in a dry run where it would be created). */
const struct ez_torrent *ez_deploy_torrent(const struct ez_deploy *d);
const struct ez_layout *ez_deploy_layout(const struct ez_deploy *d);
const struct ez_blockdev *ez_deploy_target(const struct ez_deploy *d);

/* Stop the swarm, close the target, free everything.  Accepts NULL. */
void ez_deploy_free(struct ez_deploy *d);

#ifdef __cplusplus
}
#endif

#endif
