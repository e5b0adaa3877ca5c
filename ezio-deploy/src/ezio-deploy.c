/*
 * ezio-deploy - write a disk image received from a BitTorrent swarm
 * straight onto a block device, or serve one to the swarm.
 *
 * A thin front end over libezio: parse options, validate the whole plan
 * (torrent, layout, target) before the first byte is written, run the
 * swarm, apply the zero ranges, flush, and report.  Every failure is one
 * line on stderr, "ezio-deploy: <what>: <why>", and a documented exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blockdev.h"
#include "status.h"
#include "swarm.h"
#include "torrent.h"

enum {
        EXIT_OK = 0,
        EXIT_INTERNAL = 1,
        EXIT_USAGE = 2,
        EXIT_TORRENT = 3,
        EXIT_TARGET = 4,
        EXIT_SWARM = 5,
        EXIT_IO = 6,
        EXIT_INTERRUPTED = 130,
};

#define MAX_LIST 64

struct options {
        const char *torrent;
        const char *target;
        const char *payload;
        const char *listen;
        const char *trackers[MAX_LIST];
        size_t n_trackers;
        const char *peers[MAX_LIST];
        size_t n_peers;
        bool seed;
        bool assume_zeroed;
        bool quiet;
        bool json;
        long seed_after;        /* seconds, 0 = none */
        long timeout;           /* seconds, 0 = none */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        interrupted = sig;
}

static void usage(FILE *f)
{
        fputs("Usage: ezio-deploy --torrent FILE (--target PATH | --payload FILE) [OPTIONS]\n"
              "       ezio-deploy --seed --torrent FILE (--target PATH | --payload FILE) [OPTIONS]\n"
              "\n"
              "Join the BitTorrent swarm of a disk image and write it straight onto PATH\n"
              "(a block device, or a regular file created or extended to the image's\n"
              "target size), or serve it from PATH with --seed.\n"
              "\n"
              "  -t, --torrent FILE       the image's torrent (native ezio or EZIO format)\n"
              "  -T, --target PATH        block device or file laid out like the target\n"
              "  -p, --payload FILE       use the torrent's payload file instead of a target\n"
              "                           (what a stock BitTorrent client stores)\n"
              "  -s, --seed               serve existing data; do not download\n"
              "  -a, --tracker URL        announce here too (repeatable)\n"
              "  -P, --peer HOST:PORT     connect to this peer (repeatable)\n"
              "  -l, --listen ADDR:PORT   listen address (default 0.0.0.0:6881)\n"
              "      --seed-after none|SECONDS\n"
              "                           after a deploy completes, keep serving this long\n"
              "                           (default none); with --seed: stop after SECONDS\n"
              "      --assume-zeroed      the target already reads as zeros: skip zero ranges\n"
              "      --timeout SECONDS    give up a deploy not done after SECONDS (default: never)\n"
              "      --status json        one JSON status object per line on stdout\n"
              "  -q, --quiet              no progress line\n"
              "  -h, --help               show this help\n"
              "  -V, --version            show the version\n"
              "\n"
              "Exit status: 0 done, 1 internal error, 2 usage, 3 torrent unreadable or\n"
              "invalid, 4 target unusable, 5 swarm failure or timeout, 6 read/write error\n"
              "on the target, 130 interrupted.\n", f);
}

static int fail(int code, const char *what, const char *why)
{
        fprintf(stderr, "ezio-deploy: %s: %s\n", what, why);
        return code;
}

static int parse_seconds(const char *s, bool allow_none, long *ret)
{
        char *end;
        long v;

        if (allow_none && strcmp(s, "none") == 0) {
                *ret = 0;
                return 0;
        }
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v > 10L * 365 * 24 * 3600)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
        enum { OPT_SEED_AFTER = 256, OPT_ASSUME_ZEROED, OPT_TIMEOUT, OPT_STATUS };
        static const struct option longopts[] = {
                { "torrent", required_argument, NULL, 't' },
                { "target", required_argument, NULL, 'T' },
                { "payload", required_argument, NULL, 'p' },
                { "seed", no_argument, NULL, 's' },
                { "tracker", required_argument, NULL, 'a' },
                { "peer", required_argument, NULL, 'P' },
                { "listen", required_argument, NULL, 'l' },
                { "seed-after", required_argument, NULL, OPT_SEED_AFTER },
                { "assume-zeroed", no_argument, NULL, OPT_ASSUME_ZEROED },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "status", required_argument, NULL, OPT_STATUS },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":t:T:p:sa:P:l:qhV", longopts, NULL)) >= 0) {
                switch (c) {
                case 't':
                        o->torrent = optarg;
                        break;
                case 'T':
                        o->target = optarg;
                        break;
                case 'p':
                        o->payload = optarg;
                        break;
                case 's':
                        o->seed = true;
                        break;
                case 'a':
                        if (o->n_trackers == MAX_LIST)
                                return fail(EXIT_USAGE, "--tracker", "given too many times");
                        o->trackers[o->n_trackers++] = optarg;
                        break;
                case 'P':
                        if (o->n_peers == MAX_LIST)
                                return fail(EXIT_USAGE, "--peer", "given too many times");
                        o->peers[o->n_peers++] = optarg;
                        break;
                case 'l':
                        if (!strchr(optarg, ':'))
                                return fail(EXIT_USAGE, "--listen", "expected ADDR:PORT");
                        o->listen = optarg;
                        break;
                case OPT_SEED_AFTER:
                        if (parse_seconds(optarg, true, &o->seed_after) < 0)
                                return fail(EXIT_USAGE, "--seed-after", "expected 'none' or a number of seconds");
                        break;
                case OPT_TIMEOUT:
                        if (parse_seconds(optarg, false, &o->timeout) < 0)
                                return fail(EXIT_USAGE, "--timeout", "expected a number of seconds");
                        break;
                case OPT_STATUS:
                        if (strcmp(optarg, "json") != 0)
                                return fail(EXIT_USAGE, "--status", "the only format is 'json'");
                        o->json = true;
                        break;
                case OPT_ASSUME_ZEROED:
                        o->assume_zeroed = true;
                        break;
                case 'q':
                        o->quiet = true;
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_OK);
                case 'V':
                        printf("ezio-deploy %s (libtorrent-rasterbar %s)\n", EZ_VERSION, ez_swarm_lt_version());
                        exit(EXIT_OK);
                case ':':
                        fprintf(stderr, "ezio-deploy: %s: needs an argument (try --help)\n", argv[optind - 1]);
                        return EXIT_USAGE;
                default:
                        fprintf(stderr, "ezio-deploy: %s: unknown option (try --help)\n", argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc)
                return fail(EXIT_USAGE, argv[optind], "unexpected argument");
        if (!o->torrent)
                return fail(EXIT_USAGE, "--torrent", "is required");
        if (!o->target == !o->payload)
                return fail(EXIT_USAGE, "--target/--payload", "give exactly one of them");
        return EXIT_OK;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *phase_of(const struct ez_swarm_status *st, bool seed, bool done)
{
        if (seed || done)
                return "seed";
        if (st->state == EZ_SWARM_CHECKING)
                return "check";
        return "download";
}

static void report(const struct options *o, const struct ez_torrent *t, const char *where,
                   const char *phase, const struct ez_swarm_status *st, double elapsed,
                   int exit_code, const char *message)
{
        struct ez_status_report r = {
                .phase = phase, .target = where, .info_hash = t->info_hash_hex,
                .bytes_done = st->total_done, .bytes_total = st->total_wanted,
                .downloaded = st->downloaded, .uploaded = st->uploaded,
                .download_rate = st->download_rate, .upload_rate = st->upload_rate,
                .peers = st->peers, .elapsed = elapsed, .exit_code = exit_code, .message = message,
        };
        char *line;

        if (o->json) {
                line = ez_status_json(&r);
                if (line) {
                        puts(line);
                        fflush(stdout);
                        free(line);
                }
        }
        if (!o->quiet && isatty(STDERR_FILENO) && exit_code < 0) {
                double pct = st->total_wanted ? 100.0 * (double)st->total_done / (double)st->total_wanted : 0;

                fprintf(stderr, "\r%-8s %5.1f%%  %7.1f MB/s down  %7.1f MB/s up  %3u peers ",
                        phase, pct, (double)st->download_rate / 1e6, (double)st->upload_rate / 1e6, st->peers);
                fflush(stderr);
        }
}

/* Make every zero range of the layout read as zeros, then flush. */
static int finish_target(struct ez_blockdev *dev, const struct ez_layout *l, bool skip_zero, struct ez_err *err)
{
        size_t i;
        int r;

        for (i = 0; !skip_zero && i < l->n_zero; i++) {
                r = ez_blockdev_zero(dev, l->zero[i].off, l->zero[i].len, err);
                if (r < 0)
                        return r;
        }
        return ez_blockdev_sync(dev, err);
}

int main(int argc, char **argv)
{
        struct options o = { .listen = NULL };
        struct ez_torrent *t = NULL;
        struct ez_layout *payload_layout = NULL;
        const struct ez_layout *layout;
        struct ez_blockdev *dev = NULL;
        struct ez_swarm *swarm = NULL;
        struct ez_swarm_status st = { 0 };
        struct ez_err err = { "" };
        const char *where;
        double start, done_at = 0;
        bool done = false;
        int code, r;
        struct sigaction sa = { .sa_handler = on_signal };

        code = parse_options(argc, argv, &o);
        if (code != EXIT_OK)
                return code;
        where = o.target ? o.target : o.payload;
        start = now_s();

        /* 1. the torrent and its layout */
        r = ez_torrent_load(o.torrent, &t, &err);
        if (r < 0) {
                code = fail(EXIT_TORRENT, "torrent", err.msg);
                goto out;
        }
        layout = t->layout;
        if (o.payload) {
                r = ez_torrent_payload_layout(t, &payload_layout, &err);
                if (r < 0) {
                        code = fail(EXIT_TORRENT, o.torrent, err.msg);
                        goto out;
                }
                layout = payload_layout;
        }

        /* expert settings are part of the plan too */
        r = ez_swarm_check_env(&err);
        if (r < 0) {
                code = fail(EXIT_SWARM, "swarm", err.msg);
                goto out;
        }

        /* 2. the target: exists or can be created, large enough, not in use */
        r = ez_blockdev_open(where, layout->target_size,
                             o.seed ? 0 : EZ_BLOCKDEV_WRITE | EZ_BLOCKDEV_CREATE, &dev, &err);
        if (r < 0) {
                code = fail(EXIT_TARGET, "target", err.msg);
                goto out;
        }
        /* the plan is valid: from here on the target may change */
        if (!o.seed) {
                r = ez_blockdev_extend(dev, layout->target_size, &err);
                if (r < 0) {
                        code = fail(EXIT_TARGET, "target", err.msg);
                        goto out;
                }
        }

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* 3. the swarm */
        {
                struct ez_swarm_config cfg = {
                        .torrent = t->raw, .torrent_len = t->raw_len,
                        .layout = layout, .fd = dev->fd,
                        .seed = o.seed, .fresh = dev->created,
                        .listen = o.listen,
                        .trackers = o.trackers, .n_trackers = o.n_trackers,
                        .peers = o.peers, .n_peers = o.n_peers,
                };

                r = ez_swarm_start(&cfg, &swarm, &err);
                if (r < 0) {
                        code = fail(EXIT_SWARM, "swarm", err.msg);
                        goto out;
                }
        }

        for (;;) {
                double t_now;

                r = ez_swarm_poll(swarm, 250, &st, &err);
                t_now = now_s();
                if (r < 0) {
                        code = r == -EIO ? fail(EXIT_IO, where, err.msg) : fail(EXIT_SWARM, "swarm", err.msg);
                        report(&o, t, where, "error", &st, t_now - start, code, err.msg);
                        goto out;
                }
                if (interrupted) {
                        if (o.seed || done) {
                                code = EXIT_OK;
                        } else {
                                code = fail(EXIT_INTERRUPTED, where, "interrupted before the image was complete");
                                report(&o, t, where, "error", &st, t_now - start, code, "interrupted");
                        }
                        break;
                }
                if (!o.seed && !done && st.state == EZ_SWARM_SEEDING) {
                        /* every piece verified: zero ranges, flush */
                        report(&o, t, where, "zero", &st, t_now - start, -1, NULL);
                        r = finish_target(dev, layout, o.assume_zeroed || dev->created || o.payload, &err);
                        if (r < 0) {
                                code = fail(EXIT_IO, where, err.msg);
                                report(&o, t, where, "error", &st, t_now - start, code, err.msg);
                                goto out;
                        }
                        done = true;
                        done_at = now_s();
                        if (!o.quiet) {
                                double secs = done_at - start;

                                if (isatty(STDERR_FILENO))
                                        fputc('\n', stderr);
                                fprintf(stderr, "ezio-deploy: %s: done: %" PRIu64 " bytes verified on target, %" PRIu64
                                        " downloaded, %.2f s, %.1f MB/s, verified\n",
                                        where, st.total_wanted, st.downloaded, secs,
                                        secs > 0 ? (double)st.total_wanted / secs / 1e6 : 0.0);
                        }
                }
                if (done && t_now - done_at >= (double)o.seed_after) {
                        code = EXIT_OK;
                        break;
                }
                if (o.seed && o.seed_after && t_now - start >= (double)o.seed_after) {
                        code = EXIT_OK;
                        break;
                }
                if (!o.seed && !done && o.timeout && t_now - start >= (double)o.timeout) {
                        code = fail(EXIT_SWARM, where, "timed out before the image was complete");
                        report(&o, t, where, "error", &st, t_now - start, code, "timeout");
                        goto out;
                }
                report(&o, t, where, phase_of(&st, o.seed, done), &st, t_now - start, -1, NULL);
        }
        if (code == EXIT_OK)
                report(&o, t, where, "done", &st, now_s() - start, EXIT_OK, NULL);
out:
        ez_swarm_free(swarm);
        ez_blockdev_close(dev);
        ez_layout_free(payload_layout);
        ez_torrent_free(t);
        return code;
}
