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
#include "config.h"
#include "fetch.h"
#include "status.h"
#include "swarm.h"
#include "torrent.h"
#include "verify.h"

enum {
        EXIT_OK = 0,
        EXIT_INTERNAL = 1,
        EXIT_USAGE = 2,
        EXIT_TORRENT = 3,
        EXIT_TARGET = 4,
        EXIT_SWARM = 5,
        EXIT_IO = 6,
        EXIT_VERIFY = 7,
        EXIT_INTERRUPTED = 130,
};

struct options {
        struct ez_config c;     /* node.yaml, then the flags over it */
        const char *config;
        bool quiet;
        bool dry_run;
        char *token;            /* resolved from c.http.token, token_file or token_env */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        interrupted = sig;
}

static void usage(FILE *f)
{
        fputs("Usage: ezio-deploy [--config FILE] --torrent PATH|URL (--target PATH | --payload FILE) [OPTIONS]\n"
              "       ezio-deploy --seed --torrent PATH|URL (--target PATH | --payload FILE) [OPTIONS]\n"
              "       ezio-deploy --verify-only --torrent PATH|URL (--target PATH | --payload FILE) [OPTIONS]\n"
              "\n"
              "Join the BitTorrent swarm of a disk image and write it straight onto PATH\n"
              "(a block device, or a regular file created or extended to the image's\n"
              "target size), read it back and check it, or serve it from PATH with\n"
              "--seed, or only check PATH against the torrent with --verify-only.  Every\n"
              "option below overrides the key of node.yaml named after it\n"
              "(config/node.yaml.sample).\n"
              "\n"
              "  -c, --config FILE        read settings from FILE (YAML) first\n"
              "  -t, --torrent PATH|URL   the image's torrent (native ezio or EZIO format);\n"
              "                           http://, https:// or file:// URLs are fetched\n"
              "      --torrent-sha256 HEX refuse a torrent whose SHA-256 differs\n"
              "  -T, --target PATH        block device or file laid out like the target\n"
              "  -p, --payload FILE       use the torrent's payload file instead of a target\n"
              "                           (what a stock BitTorrent client stores)\n"
              "  -s, --seed               serve existing data; do not download\n"
              "      --verify-only        check PATH against the torrent; no swarm, no writes\n"
              "  -a, --tracker URL        announce here too (repeatable)\n"
              "  -P, --peer HOST:PORT     connect to this peer (repeatable)\n"
              "  -l, --listen ADDR:PORT   listen address (default 0.0.0.0:6881)\n"
              "      --seed-after none|until-done|SECONDS\n"
              "                           after a deploy completes, keep serving: not at all\n"
              "                           (default), until the tracker knows no node still\n"
              "                           downloading, or this long; with --seed: stop after\n"
              "                           SECONDS\n"
              "      --seed-timeout SECONDS  stop serving after this long whatever the swarm\n"
              "                           (default: never)\n"
              "      --timeout SECONDS    give up a deploy not done after SECONDS (default: never)\n"
              "      --max-connections N  at most N peer connections\n"
              "      --upload-rate BYTES  at most BYTES per second up (suffixes K, M, G)\n"
              "      --download-rate BYTES  at most BYTES per second down\n"
              "      --assume-zeroed      the target already reads as zeros: skip zero ranges\n"
              "      --force-kind         write a whole-disk image onto a partition or the\n"
              "                           other way round\n"
              "      --verify data|full|none  once written, flush, drop the cache and read\n"
              "                           back: every piece (data, the default), also every\n"
              "                           zero range and the data's SHA-256 digest (full),\n"
              "                           or nothing\n"
              "      --dry-run            check everything, print the plan, write nothing\n"
              "      --status json|none   one JSON status object per line on stdout\n"
              "      --status-file PATH   keep the latest JSON status in PATH (replaced\n"
              "                           atomically)\n"
              "      --http-header 'NAME: VALUE'  send this header when fetching (repeatable)\n"
              "      --http-token-file FILE  send the token in FILE as X-Auth-Token\n"
              "      --http-token-env VAR    send the token in $VAR as X-Auth-Token\n"
              "      --ca-file FILE       trust these CA certificates for https://\n"
              "      --insecure           do not verify TLS certificates\n"
              "      --http-timeout SECONDS  give up an attempt after SECONDS without data\n"
              "                           (default 30)\n"
              "      --http-retries N     retry connection errors and 5xx N times (default 3)\n"
              "  -q, --quiet              no progress line\n"
              "  -h, --help               show this help\n"
              "  -V, --version            show the version\n"
              "\n"
              "Exit status: 0 done, 1 internal error, 2 usage or configuration, 3 torrent\n"
              "not fetched, unreadable or invalid, 4 target unusable, 5 swarm failure or\n"
              "timeout, 6 read/write error on the target, 7 the target reads back different\n"
              "from the image, 130 interrupted.\n", f);
}

static int fail(int code, const char *what, const char *why)
{
        fprintf(stderr, "ezio-deploy: %s: %s\n", what, why);
        return code;
}

enum {
        OPT_SEED_AFTER = 256, OPT_ASSUME_ZEROED, OPT_TIMEOUT, OPT_STATUS, OPT_STATUS_FILE, OPT_SHA256,
        OPT_SEED_TIMEOUT, OPT_MAX_CONN, OPT_UP_RATE, OPT_DOWN_RATE, OPT_FORCE_KIND, OPT_DRY_RUN,
        OPT_VERIFY, OPT_VERIFY_ONLY, OPT_HEADER, OPT_TOKEN_FILE, OPT_TOKEN_ENV, OPT_CA_FILE, OPT_INSECURE, OPT_HTTP_TIMEOUT, OPT_HTTP_RETRIES,
};

static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "torrent", required_argument, NULL, 't' },
        { "torrent-sha256", required_argument, NULL, OPT_SHA256 },
        { "target", required_argument, NULL, 'T' },
        { "payload", required_argument, NULL, 'p' },
        { "seed", no_argument, NULL, 's' },
        { "tracker", required_argument, NULL, 'a' },
        { "peer", required_argument, NULL, 'P' },
        { "listen", required_argument, NULL, 'l' },
        { "seed-after", required_argument, NULL, OPT_SEED_AFTER },
        { "seed-timeout", required_argument, NULL, OPT_SEED_TIMEOUT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "max-connections", required_argument, NULL, OPT_MAX_CONN },
        { "upload-rate", required_argument, NULL, OPT_UP_RATE },
        { "download-rate", required_argument, NULL, OPT_DOWN_RATE },
        { "assume-zeroed", no_argument, NULL, OPT_ASSUME_ZEROED },
        { "force-kind", no_argument, NULL, OPT_FORCE_KIND },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        { "verify", required_argument, NULL, OPT_VERIFY },
        { "verify-only", no_argument, NULL, OPT_VERIFY_ONLY },
        { "status", required_argument, NULL, OPT_STATUS },
        { "status-file", required_argument, NULL, OPT_STATUS_FILE },
        { "http-header", required_argument, NULL, OPT_HEADER },
        { "http-token-file", required_argument, NULL, OPT_TOKEN_FILE },
        { "http-token-env", required_argument, NULL, OPT_TOKEN_ENV },
        { "ca-file", required_argument, NULL, OPT_CA_FILE },
        { "insecure", no_argument, NULL, OPT_INSECURE },
        { "http-timeout", required_argument, NULL, OPT_HTTP_TIMEOUT },
        { "http-retries", required_argument, NULL, OPT_HTTP_RETRIES },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {}
};

static const char shortopts[] = ":c:t:T:p:sa:P:l:qhV";

/* "--name" of the option getopt returned as c, for messages. */
static const char *flag_name(int c)
{
        static char buf[64];
        const struct option *lo;

        for (lo = longopts; lo->name && lo->val != c; lo++)
                ;
        snprintf(buf, sizeof(buf), "--%s", lo->name ? lo->name : "?");
        return buf;
}

/* A repeatable flag: the first one replaces what node.yaml listed. */
static int add_to_list(char **list, size_t *n, bool *from_flags, const char *v, const char *flag)
{
        if (!*from_flags) {
                ez_config_clear_list(list, n);
                *from_flags = true;
        }
        if (*n == EZ_CONFIG_MAX_LIST)
                return fail(EXIT_USAGE, flag, "given too many times");
        list[*n] = strdup(v);
        if (!list[*n])
                return fail(EXIT_INTERNAL, flag, "out of memory");
        (*n)++;
        return EXIT_OK;
}

static int set_str(char **field, const char *v, const char *flag)
{
        return ez_config_set_str(field, v) < 0 ? fail(EXIT_INTERNAL, flag, "out of memory") : EXIT_OK;
}

/* One flag onto o->c.  Returns an exit code, EXIT_OK to go on. */
static int apply_flag(struct options *o, int c, const char *arg, const char *flag, bool lists[3])
{
        struct ez_config *k = &o->c;

        switch (c) {
        case 'c':
                return EXIT_OK;         /* read before the other flags */
        case 't':
                return set_str(&k->torrent, arg, flag);
        case OPT_SHA256:
                switch (ez_config_set_sha256(&k->torrent_sha256, arg)) {
                case 0:
                        return EXIT_OK;
                case -EINVAL:
                        return fail(EXIT_USAGE, flag, "expected 64 hexadecimal digits");
                default:
                        return fail(EXIT_INTERNAL, flag, "out of memory");
                }
        case 'T':
                return set_str(&k->target, arg, flag);
        case 'p':
                return set_str(&k->payload, arg, flag);
        case 's':
                k->mode = EZ_CONFIG_SEED;
                return EXIT_OK;
        case 'a':
                return add_to_list(k->trackers, &k->n_trackers, &lists[0], arg, flag);
        case 'P':
                if (ez_config_check_hostport(arg) < 0)
                        return fail(EXIT_USAGE, flag, "expected HOST:PORT");
                return add_to_list(k->peers, &k->n_peers, &lists[1], arg, flag);
        case OPT_HEADER:
                if (!strchr(arg, ':') || strchr(arg, '\n') || strchr(arg, '\r'))
                        return fail(EXIT_USAGE, flag, "expected 'NAME: VALUE' on one line");
                return add_to_list(k->http.headers, &k->http.n_headers, &lists[2], arg, flag);
        case 'l':
                if (ez_config_check_hostport(arg) < 0)
                        return fail(EXIT_USAGE, flag, "expected ADDR:PORT");
                return set_str(&k->listen, arg, flag);
        case OPT_SEED_AFTER:
                if (ez_config_parse_seed_after(arg, &k->seed_after) < 0)
                        return fail(EXIT_USAGE, flag, "expected 'none', 'until-done' or a number of seconds");
                return EXIT_OK;
        case OPT_SEED_TIMEOUT:
                if (ez_config_parse_seconds(arg, &k->seed_timeout) < 0)
                        return fail(EXIT_USAGE, flag, "expected a number of seconds");
                return EXIT_OK;
        case OPT_TIMEOUT:
                if (ez_config_parse_seconds(arg, &k->timeout) < 0)
                        return fail(EXIT_USAGE, flag, "expected a number of seconds");
                return EXIT_OK;
        case OPT_HTTP_TIMEOUT:
                if (ez_config_parse_seconds(arg, &k->http.timeout) < 0)
                        return fail(EXIT_USAGE, flag, "expected a number of seconds");
                return EXIT_OK;
        case OPT_MAX_CONN:
                if (ez_config_parse_count(arg, 1, 65535, &k->max_connections) < 0)
                        return fail(EXIT_USAGE, flag, "expected a whole number from 1 to 65535");
                return EXIT_OK;
        case OPT_HTTP_RETRIES:
                if (ez_config_parse_count(arg, 0, 20, &k->http.retries) < 0)
                        return fail(EXIT_USAGE, flag, "expected a whole number from 0 to 20");
                return EXIT_OK;
        case OPT_UP_RATE:
        case OPT_DOWN_RATE:
                if (ez_config_parse_size(arg, c == OPT_UP_RATE ? &k->upload_rate : &k->download_rate) < 0)
                        return fail(EXIT_USAGE, flag, "expected bytes per second (suffixes K, M, G)");
                return EXIT_OK;
        case OPT_STATUS:
                if (ez_config_parse_status_format(arg, &k->status_json) < 0)
                        return fail(EXIT_USAGE, flag, "expected 'json' or 'none'");
                return EXIT_OK;
        case OPT_STATUS_FILE:
                return set_str(&k->status_file, arg, flag);
        case OPT_TOKEN_FILE:
        case OPT_TOKEN_ENV:
                /* a token from the command line replaces node.yaml's, whatever its source */
                ez_config_set_str(&k->http.token, NULL);
                ez_config_set_str(&k->http.token_file, NULL);
                ez_config_set_str(&k->http.token_env, NULL);
                return set_str(c == OPT_TOKEN_FILE ? &k->http.token_file : &k->http.token_env, arg, flag);
        case OPT_CA_FILE:
                return set_str(&k->http.ca_file, arg, flag);
        case OPT_INSECURE:
                k->http.insecure = true;
                return EXIT_OK;
        case OPT_ASSUME_ZEROED:
                k->assume_zeroed = true;
                return EXIT_OK;
        case OPT_FORCE_KIND:
                k->force_kind = true;
                return EXIT_OK;
        case OPT_DRY_RUN:
                o->dry_run = true;
                return EXIT_OK;
        case OPT_VERIFY:
                if (ez_config_parse_verify(arg, &k->verify) < 0)
                        return fail(EXIT_USAGE, flag, "expected 'data', 'full' or 'none'");
                return EXIT_OK;
        case OPT_VERIFY_ONLY:
                k->mode = EZ_CONFIG_VERIFY;
                return EXIT_OK;
        case 'q':
                o->quiet = true;
                return EXIT_OK;
        default:
                return fail(EXIT_INTERNAL, flag, "unhandled option");
        }
}

/* The token, from at most one of http.token, token_file and token_env. */
static int resolve_token(struct options *o)
{
        const struct ez_config_http *h = &o->c.http;
        char buf[8192];
        size_t len;
        FILE *f;

        if (!!h->token + !!h->token_file + !!h->token_env > 1)
                return fail(EXIT_USAGE, "http", "give one of token, token_file and token_env");
        if (h->token_env) {
                const char *v = getenv(h->token_env);

                if (!v || !*v)
                        return fail(EXIT_USAGE, "http token", "the environment variable named for it is unset or empty");
                o->token = strdup(v);
        } else if (h->token_file) {
                f = fopen(h->token_file, "re");
                if (!f) {
                        fprintf(stderr, "ezio-deploy: http token: cannot open '%s': %s\n", h->token_file,
                                strerror(errno));
                        return EXIT_USAGE;
                }
                len = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
                while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
                        len--;
                buf[len] = '\0';
                if (!len || strchr(buf, '\n') || strlen(buf) != len) {
                        explicit_bzero(buf, sizeof(buf));
                        return fail(EXIT_USAGE, "http token", "the token file must hold one line");
                }
                o->token = strdup(buf);
                explicit_bzero(buf, sizeof(buf));
        } else if (h->token) {
                o->token = strdup(h->token);
        } else {
                return EXIT_OK;
        }
        return o->token ? EXIT_OK : fail(EXIT_INTERNAL, "http token", "out of memory");
}

static int parse_options(int argc, char **argv, struct options *o)
{
        struct ez_err err = { "" };
        bool lists[3] = { false, false, false };
        int c, code;

        /* pass 1: --config, --help, --version */
        opterr = 0;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
                if (c == 'c')
                        o->config = optarg;
                else if (c == 'h') {
                        usage(stdout);
                        exit(EXIT_OK);
                } else if (c == 'V') {
                        printf("ezio-deploy %s (libtorrent-rasterbar %s)\n", EZ_VERSION, ez_swarm_lt_version());
                        exit(EXIT_OK);
                }
        }
        if (o->config && ez_config_load(o->config, &o->c, &err) < 0) {
                fprintf(stderr, "ezio-deploy: %s\n", err.msg);
                return EXIT_USAGE;
        }

        /* pass 2: every flag over node.yaml */
        optind = 0;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
                if (c == ':') {
                        fprintf(stderr, "ezio-deploy: %s: needs an argument (try --help)\n", argv[optind - 1]);
                        return EXIT_USAGE;
                }
                if (c == '?') {
                        fprintf(stderr, "ezio-deploy: %s: unknown option (try --help)\n", argv[optind - 1]);
                        return EXIT_USAGE;
                }
                code = apply_flag(o, c, optarg, flag_name(c), lists);
                if (code != EXIT_OK)
                        return code;
        }
        if (optind < argc)
                return fail(EXIT_USAGE, argv[optind], "unexpected argument");
        if (!o->c.torrent)
                return fail(EXIT_USAGE, "--torrent", "is required");
        if (!o->c.target == !o->c.payload)
                return fail(EXIT_USAGE, "--target/--payload", "give exactly one of them");
        if (o->c.mode == EZ_CONFIG_VERIFY && o->c.verify == EZ_CONFIG_VERIFY_NONE)
                o->c.verify = EZ_CONFIG_VERIFY_DATA;    /* checking is the point */
        if (o->c.mode == EZ_CONFIG_SEED && o->c.seed_after == EZ_CONFIG_SEED_UNTIL_DONE)
                return fail(EXIT_USAGE, "--seed-after", "'until-done' is for a deploy; a seeder stops after SECONDS");
        return resolve_token(o);
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

/* What the reports say; t is NULL before the torrent is in. */
struct reporter {
        const struct options *o;
        const struct ez_torrent *t;
        const char *where;
        double start;
        double verify_start;    /* when the read-back began, 0 before */
        double last;            /* when the last report went out */
        bool file_failed;       /* warned once */
};

static void report(struct reporter *rp, const char *phase, const struct ez_swarm_status *st, int exit_code,
                   const char *message)
{
        const struct options *o = rp->o;
        double elapsed = now_s() - rp->start;
        struct ez_status_report r = {
                .phase = phase, .target = rp->where, .info_hash = rp->t ? rp->t->info_hash_hex : NULL,
                .bytes_done = st->total_done, .bytes_total = st->total_wanted,
                .downloaded = st->downloaded, .uploaded = st->uploaded,
                .download_rate = st->download_rate, .upload_rate = st->upload_rate,
                .peers = st->peers, .elapsed = elapsed, .exit_code = exit_code, .message = message,
                .eta = -1,
        };
        struct ez_err err = { "" };
        char *line;

        if (strcmp(phase, "download") == 0 && st->download_rate && st->total_wanted >= st->total_done)
                r.eta = (double)(st->total_wanted - st->total_done) / (double)st->download_rate;
        if (strcmp(phase, "verify") == 0 && st->total_done && elapsed > rp->verify_start - rp->start)
                r.eta = (double)(st->total_wanted - st->total_done) *
                        (elapsed - (rp->verify_start - rp->start)) / (double)st->total_done;
        rp->last = now_s();
        if (o->c.status_json || o->c.status_file) {
                line = ez_status_json(&r);
                if (line && o->c.status_json) {
                        puts(line);
                        fflush(stdout);
                }
                if (line && o->c.status_file && ez_status_write_file(o->c.status_file, line, &err) < 0 &&
                    !rp->file_failed) {
                        fprintf(stderr, "ezio-deploy: warning: %s\n", err.msg);
                        rp->file_failed = true;
                }
                free(line);
        }
        if (!o->quiet && isatty(STDERR_FILENO) && exit_code < 0) {
                double pct = st->total_wanted ? 100.0 * (double)st->total_done / (double)st->total_wanted : 0;

                fprintf(stderr, "\r%-8s %5.1f%%  %7.1f MB/s down  %7.1f MB/s up  %3u peers ",
                        phase, pct, (double)st->download_rate / 1e6, (double)st->upload_rate / 1e6, st->peers);
                if (r.eta >= 0)
                        fprintf(stderr, " %4.0f s left ", r.eta);
                fflush(stderr);
        }
}

/* Report the failure, print its line, return its code. */
static int give_up(struct reporter *rp, const struct ez_swarm_status *st, int code, const char *what, const char *why)
{
        fail(code, what, why);
        report(rp, "error", st, code, why);
        return code;
}

/* The read-back of the image on fd; nothing is read yet. */
static int verify_new(struct reporter *rp, const struct ez_layout *l, int fd, const struct ez_swarm_status *st,
                      struct ez_verify **ret)
{
        struct ez_err err = { "" };

        if (ez_verify_start(rp->t, l, fd, rp->o->c.verify == EZ_CONFIG_VERIFY_FULL, ret, &err) < 0)
                return give_up(rp, st, EXIT_INTERNAL, "verify", err.msg);
        return EXIT_OK;
}

/* Phase verify begins: what is left of the read-back. */
static void verify_phase(struct reporter *rp, const struct ez_verify *v, const struct ez_swarm_status *st)
{
        struct ez_swarm_status vs = *st;

        rp->verify_start = now_s();
        vs.total_done = ez_verify_done(v);
        vs.total_wanted = ez_verify_total(v);
        report(rp, "verify", &vs, -1, NULL);
}

/* While downloading: read back the pieces that passed their hash check
 * since the last call, for at most 100 ms (the rest stays queued), so
 * that little is left for phase verify.  Returns EXIT_OK or the exit code
 * of a failure. */
static int verify_arrived(struct reporter *rp, struct ez_swarm *swarm, struct ez_verify *v,
                          const struct ez_swarm_status *st)
{
        struct ez_err err = { "" };
        double until = now_s() + 0.1;
        uint32_t piece;
        int r;

        while (now_s() < until && ez_swarm_finished(swarm, &piece, 1) == 1) {
                r = ez_verify_piece(v, piece, &err);
                if (r == -EBADMSG)
                        return give_up(rp, st, EXIT_VERIFY, rp->where, err.msg);
                if (r < 0)
                        return give_up(rp, st, EXIT_IO, rp->where, err.msg);
        }
        return EXIT_OK;
}

/* One step of the read-back, reported as bytes checked of bytes to check.
 * Returns -1 while there is more, EXIT_OK once the image matched, or the
 * exit code of the failure. */
static int verify_step(struct reporter *rp, struct ez_verify *v, const struct ez_swarm_status *st)
{
        struct ez_swarm_status vs = *st;
        struct ez_err err = { "" };
        int r = ez_verify_step(v, 32u << 20, &err);

        vs.total_done = ez_verify_done(v);
        vs.total_wanted = ez_verify_total(v);
        if (r == -EBADMSG)
                return give_up(rp, &vs, EXIT_VERIFY, rp->where, err.msg);
        if (r < 0)
                return give_up(rp, &vs, EXIT_IO, rp->where, err.msg);
        if (r > 0 && now_s() - rp->last >= 0.25)
                report(rp, "verify", &vs, -1, NULL);
        return r > 0 ? -1 : EXIT_OK;
}

/* --verify-only: the whole check, no swarm. */
static int verify_only(struct reporter *rp, const struct ez_layout *l, int fd, struct ez_swarm_status *st)
{
        struct ez_verify *v = NULL;
        int code = verify_new(rp, l, fd, st, &v);

        if (code != EXIT_OK)
                return code;
        verify_phase(rp, v, st);
        do {
                if (interrupted) {
                        code = give_up(rp, st, EXIT_INTERRUPTED, rp->where, "interrupted before the check was complete");
                        break;
                }
                code = verify_step(rp, v, st);
        } while (code == -1);
        if (code == EXIT_OK) {
                st->total_done = st->total_wanted = ez_verify_total(v);
                if (!rp->o->quiet) {
                        if (isatty(STDERR_FILENO))
                                fputc('\n', stderr);
                        fprintf(stderr, "ezio-deploy: %s: verified: %" PRIu64 " bytes match the torrent, %.2f s\n",
                                rp->where, ez_verify_total(v), now_s() - rp->start);
                }
                report(rp, "done", st, EXIT_OK, NULL);
        }
        ez_verify_free(v);
        return code;
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

/* The torrent from a path or a URL, checked against torrent_sha256. */
/* 0 if want is NULL or the SHA-256 of buf, else -EBADMSG with both in err. */
static int check_sha256(const void *buf, size_t len, const char *want, const char *shown, struct ez_err *err)
{
        char hex[65];

        if (!want)
                return 0;
        if (ez_fetch_sha256_hex(buf, len, hex) < 0)
                return ez_err_set(err, -EIO, "%s: cannot compute its SHA-256", shown);
        if (strcmp(hex, want) != 0)
                return ez_err_set(err, -EBADMSG, "%s: SHA-256 %s, expected %s", shown, hex, want);
        return 0;
}

static int load_torrent(const struct options *o, struct ez_torrent **ret, struct ez_err *err)
{
        const struct ez_config *c = &o->c;
        struct ez_fetch_opts fo = {
                .headers = c->http.headers, .n_headers = c->http.n_headers, .token = o->token,
                .ca_file = c->http.ca_file, .insecure = c->http.insecure,
                .connect_timeout = c->http.connect_timeout, .stall_timeout = c->http.timeout,
                .retries = c->http.retries, .max_size = c->http.max_size,
        };
        char shown[512];
        void *buf = NULL;
        size_t len = 0;
        int r;

        if (ez_fetch_is_url(c->torrent)) {
                /* a fetched torrent is checked before it is even parsed */
                ez_fetch_redact(c->torrent, shown, sizeof(shown));
                r = ez_fetch(c->torrent, &fo, &buf, &len, err);
                if (r < 0)
                        return r;
                r = check_sha256(buf, len, c->torrent_sha256, shown, err);
                if (r == 0) {
                        r = ez_torrent_parse(buf, len, ret, err);
                        if (r < 0)
                                ez_err_prefix(err, r, "%s", shown);
                }
                free(buf);
                return r;
        }
        r = ez_torrent_load(c->torrent, ret, err);
        if (r < 0)
                return r;
        r = check_sha256((*ret)->raw, (*ret)->raw_len, c->torrent_sha256, c->torrent, err);
        if (r < 0) {
                ez_torrent_free(*ret);
                *ret = NULL;
        }
        return r;
}

static void print_plan(const struct options *o, const struct ez_torrent *t, const struct ez_layout *l,
                       const struct ez_blockdev *dev, const char *where)
{
        const struct ez_config *c = &o->c;
        uint64_t zero = 0;
        size_t i;

        for (i = 0; i < l->n_zero; i++)
                zero += l->zero[i].len;
        printf("plan: %s '%s'\n",
               c->mode == EZ_CONFIG_SEED ? "seed from" : c->mode == EZ_CONFIG_VERIFY ? "verify" : "deploy onto", where);
        if (dev)
                printf("  target: %s, %" PRIu64 " bytes%s\n", dev->is_block ? "block device" : "regular file",
                       dev->size, !dev->is_block && dev->size < l->target_size ? " (would be extended)" : "");
        else
                printf("  target: regular file, would be created\n");
        printf("  image: %s, %s format%s, %" PRIu64 " bytes, info hash %s\n", ez_layout_kind_name(l->kind),
               t->native ? "ezio" : "EZIO", t->has_v2 ? " (v1+v2 hybrid)" : "", l->target_size, t->info_hash_hex);
        printf("  extents: %zu, %" PRIu64 " bytes to %s\n", l->n_data, l->payload_len,
               c->mode == EZ_CONFIG_SEED ? "serve" : c->mode == EZ_CONFIG_VERIFY ? "check" : "write");
        printf("  zero ranges: %zu, %" PRIu64 " bytes%s\n", l->n_zero, zero,
               c->mode != EZ_CONFIG_DEPLOY ? "" : c->assume_zeroed ? " (assumed zero, skipped)" : " to zero");
        if (c->mode != EZ_CONFIG_SEED)
                printf("  verify: %s\n", c->verify == EZ_CONFIG_VERIFY_NONE ? "none" :
                       c->verify != EZ_CONFIG_VERIFY_FULL ? "every piece read back" :
                       t->has_root ? "every piece and every zero range read back, the SHA-256 digest checked" :
                       "every piece and every zero range read back (the torrent has no digest)");
        for (i = 0; i < t->n_trackers; i++)
                printf("  tracker: %s (torrent)\n", t->trackers[i]);
        for (i = 0; i < c->n_trackers; i++)
                printf("  tracker: %s\n", c->trackers[i]);
        for (i = 0; i < c->n_peers; i++)
                printf("  peer: %s\n", c->peers[i]);
        printf("  listen: %s\n", c->listen ? c->listen : "0.0.0.0:6881");
        printf("  nothing written (--dry-run)\n");
}

int main(int argc, char **argv)
{
        struct options o = { .config = NULL };
        struct ez_torrent *t = NULL;
        struct ez_layout *payload_layout = NULL;
        const struct ez_layout *layout;
        struct ez_blockdev *dev = NULL;
        struct ez_swarm *swarm = NULL;
        struct ez_swarm_status st = { 0 };
        struct ez_err err = { "" };
        struct reporter rp = { .o = &o };
        struct ez_verify *ver = NULL;  /* the read-back, from the first piece on */
        bool verifying = false;         /* phase verify: the rest of it */
        double done_at = 0, last_scrape = 0;
        int quiet_scrapes = 0;  /* answers in a row with no node downloading */
        bool done = false, seed, deploy;
        int code, r;
        struct sigaction sa = { .sa_handler = on_signal };

        ez_config_init(&o.c);
        code = parse_options(argc, argv, &o);
        if (code != EXIT_OK)
                goto out;
        seed = o.c.mode == EZ_CONFIG_SEED;
        deploy = o.c.mode == EZ_CONFIG_DEPLOY;
        rp.where = o.c.target ? o.c.target : o.c.payload;
        rp.start = now_s();

        /* 1. the torrent and its layout */
        if (ez_fetch_is_url(o.c.torrent))
                report(&rp, "fetch", &st, -1, NULL);
        r = load_torrent(&o, &t, &err);
        if (r < 0) {
                code = give_up(&rp, &st, EXIT_TORRENT, "torrent", err.msg);
                goto out;
        }
        rp.t = t;
        layout = t->layout;
        if (o.c.payload) {
                r = ez_torrent_payload_layout(t, &payload_layout, &err);
                if (r < 0) {
                        code = give_up(&rp, &st, EXIT_TORRENT, "torrent", err.msg);
                        goto out;
                }
                layout = payload_layout;
        }
        st.total_wanted = t->total_length;
        if (deploy && o.c.seed_after == EZ_CONFIG_SEED_UNTIL_DONE && t->n_trackers + o.c.n_trackers == 0) {
                code = give_up(&rp, &st, EXIT_USAGE, "--seed-after",
                               "'until-done' asks a tracker, and neither the torrent nor the options name one");
                goto out;
        }

        /* expert settings are part of the plan too */
        r = ez_swarm_check_env(&err);
        if (r < 0) {
                code = give_up(&rp, &st, EXIT_SWARM, "swarm", err.msg);
                goto out;
        }

        /* 2. the target: exists or can be created, large enough, not in use */
        r = ez_blockdev_open(rp.where, layout->target_size,
                             !deploy ? 0 : EZ_BLOCKDEV_WRITE | (o.dry_run ? 0 : EZ_BLOCKDEV_CREATE), &dev, &err);
        if (r == -ENOENT && o.dry_run && deploy) {
                dev = NULL;     /* would be created */
        } else if (r < 0) {
                code = give_up(&rp, &st, EXIT_TARGET, "target", err.msg);
                goto out;
        }
        /* a disk image belongs on a whole disk, a partition image on a partition */
        if (dev && dev->is_block && !o.c.payload && !o.c.force_kind &&
            (layout->kind == EZ_LAYOUT_DISK) == dev->is_partition) {
                char why[512];

                snprintf(why, sizeof(why), "'%s' is a %s and the image is a %s image (--force-kind to write it anyway)",
                         rp.where, dev->is_partition ? "partition" : "whole disk",
                         layout->kind == EZ_LAYOUT_DISK ? "whole-disk" : "partition");
                code = give_up(&rp, &st, EXIT_TARGET, "target", why);
                goto out;
        }
        if (o.dry_run) {
                print_plan(&o, t, layout, dev, rp.where);
                code = EXIT_OK;
                goto out;
        }
        /* the plan is valid: from here on the target may change */
        if (deploy) {
                r = ez_blockdev_extend(dev, layout->target_size, &err);
                if (r < 0) {
                        code = give_up(&rp, &st, EXIT_TARGET, "target", err.msg);
                        goto out;
                }
        }

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (o.c.mode == EZ_CONFIG_VERIFY) {
                code = verify_only(&rp, layout, dev->fd, &st);
                goto out;
        }

        /* 3. the swarm */
        {
                struct ez_swarm_config cfg = {
                        .torrent = t->raw, .torrent_len = t->raw_len,
                        .layout = layout, .fd = dev->fd,
                        .seed = seed, .fresh = dev->created,
                        .listen = o.c.listen,
                        .trackers = (const char *const *)o.c.trackers, .n_trackers = o.c.n_trackers,
                        .peers = (const char *const *)o.c.peers, .n_peers = o.c.n_peers,
                        .max_connections = (int)o.c.max_connections,
                        .upload_rate = o.c.upload_rate, .download_rate = o.c.download_rate,
                };

                r = ez_swarm_start(&cfg, &swarm, &err);
                if (r < 0) {
                        code = give_up(&rp, &st, EXIT_SWARM, "swarm", err.msg);
                        goto out;
                }
        }
        if (deploy && o.c.verify != EZ_CONFIG_VERIFY_NONE) {
                code = verify_new(&rp, layout, dev->fd, &st, &ver);
                if (code != EXIT_OK)
                        goto out;
        }

        for (;;) {
                double t_now;

                r = ez_swarm_poll(swarm, verifying ? 0 : 250, &st, &err);
                t_now = now_s();
                if (r < 0) {
                        code = give_up(&rp, &st, r == -EIO ? EXIT_IO : EXIT_SWARM, r == -EIO ? rp.where : "swarm",
                                       err.msg);
                        goto out;
                }
                if (interrupted) {
                        if (seed || done) {
                                code = EXIT_OK;
                        } else if (verifying) {
                                code = give_up(&rp, &st, EXIT_INTERRUPTED, rp.where,
                                               "interrupted before the image was read back");
                        } else {
                                /* what is written stays: flush it, a restart hashes it and
                                 * fetches only the rest */
                                ez_swarm_free(swarm);
                                swarm = NULL;
                                ez_blockdev_sync(dev, NULL);
                                code = give_up(&rp, &st, EXIT_INTERRUPTED, rp.where,
                                               "interrupted before the image was complete");
                        }
                        break;
                }
                if (ver && !verifying && !done) {
                        code = verify_arrived(&rp, swarm, ver, &st);
                        if (code != EXIT_OK)
                                goto out;
                }
                if (!seed && !done && !verifying && st.state == EZ_SWARM_SEEDING) {
                        /* every piece verified: zero ranges, flush, read back the rest */
                        report(&rp, "zero", &st, -1, NULL);
                        r = finish_target(dev, layout, o.c.assume_zeroed || dev->created || o.c.payload, &err);
                        if (r < 0) {
                                code = give_up(&rp, &st, EXIT_IO, rp.where, err.msg);
                                goto out;
                        }
                        if (ver) {
                                verifying = true;
                                verify_phase(&rp, ver, &st);
                                continue;
                        }
                }
                if (verifying) {
                        /* the swarm is served between steps */
                        code = verify_step(&rp, ver, &st);
                        if (code == -1) {
                                code = EXIT_OK;
                                continue;
                        }
                        verifying = false;
                        ez_verify_free(ver);
                        ver = NULL;
                        if (code != EXIT_OK)
                                goto out;
                }
                if (!seed && !done && st.state == EZ_SWARM_SEEDING) {
                        done = true;
                        done_at = now_s();
                        if (!o.quiet) {
                                double secs = done_at - rp.start;

                                if (isatty(STDERR_FILENO))
                                        fputc('\n', stderr);
                                fprintf(stderr, "ezio-deploy: %s: done: %" PRIu64 " bytes on target, %" PRIu64
                                        " downloaded, %.2f s, %.1f MB/s, %s\n",
                                        rp.where, st.total_wanted, st.downloaded, secs,
                                        secs > 0 ? (double)st.total_wanted / secs / 1e6 : 0.0,
                                        o.c.verify == EZ_CONFIG_VERIFY_NONE ? "not read back" :
                                        o.c.verify == EZ_CONFIG_VERIFY_FULL ? "read back in full" : "read back");
                        }
                }
                if (done) {
                        double serving = t_now - done_at;

                        if (o.c.seed_after == EZ_CONFIG_SEED_UNTIL_DONE) {
                                /* until the tracker knows no node still downloading, twice
                                 * running, 5 s apart: a node that started with this one
                                 * may not have announced yet at the first answer */
                                if (t_now - last_scrape >= 5) {
                                        quiet_scrapes = st.incomplete_in_swarm == 0 ? quiet_scrapes + 1 : 0;
                                        if (quiet_scrapes >= 2)
                                                break;
                                        ez_swarm_scrape(swarm);
                                        last_scrape = t_now;
                                }
                        } else if (serving >= (double)o.c.seed_after) {
                                break;
                        }
                        if (o.c.seed_timeout && serving >= (double)o.c.seed_timeout)
                                break;
                }
                if (seed && ((o.c.seed_after > 0 && t_now - rp.start >= (double)o.c.seed_after) ||
                             (o.c.seed_timeout && t_now - rp.start >= (double)o.c.seed_timeout)))
                        break;
                if (!seed && !done && o.c.timeout && t_now - rp.start >= (double)o.c.timeout) {
                        code = give_up(&rp, &st, EXIT_SWARM, rp.where, "timed out before the image was complete");
                        goto out;
                }
                report(&rp, phase_of(&st, seed, done), &st, -1, NULL);
        }
        if (code == EXIT_OK)
                report(&rp, "done", &st, EXIT_OK, NULL);
out:
        ez_verify_free(ver);
        ez_swarm_free(swarm);
        ez_blockdev_close(dev);
        ez_layout_free(payload_layout);
        ez_torrent_free(t);
        if (o.token)
                explicit_bzero(o.token, strlen(o.token));
        free(o.token);
        ez_config_free(&o.c);
        return code;
}
