/*
 * ezio-deploy - write a disk image received from a BitTorrent swarm
 * straight onto a block device, or serve one to the swarm.
 *
 * The front end of libezio's deploy (deploy.h): options and node.yaml into
 * one config, the environment's expert knobs, signals, and printing: the
 * JSON status lines, the progress line, the plan of --dry-run and the one
 * line of every failure, "ezio-deploy: <what>: <why>", with its exit code
 * (exitcode.h).
 *
 * A seeder may serve several images from one process: --torrent and
 * --target (or --payload) given several times, the k-th torrent served
 * from the k-th place, k counted from 0, on the listen port plus k.  Every
 * plan is validated before any image is served; each image then runs as
 * its own deploy in its own thread, and the process ends when the last
 * one does, with the first failing image's exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blockdev.h"
#include "config.h"
#include "deploy.h"
#include "exitcode.h"
#include "io.h"
#include "status.h"
#include "swarm.h"
#include "tls.h"
#include "units.h"

struct options {
        struct ez_config c;     /* node.yaml, then the flags over it */
        const char *config;
        bool quiet;
        bool dry_run;
        char *token;            /* resolved from c.http.token, token_file or token_env */
        /* several images (--seed only): this config is image `which`'s; the
         * flags name n_torrents torrents and n_places targets or payloads */
        int which;
        int n_torrents, n_places;
};

/* The most images one seeder serves. */
#define MAX_IMAGES 64

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        interrupted = sig;
}

static void usage(FILE *f)
{
        fputs("Usage: ezio-deploy [--config FILE] --torrent PATH|URL (--target PATH | --payload FILE) [OPTIONS]\n"
              "       ezio-deploy --seed (--torrent PATH|URL (--target PATH | --payload FILE))... [OPTIONS]\n"
              "       ezio-deploy --verify-only --torrent PATH|URL (--target PATH | --payload FILE) [OPTIONS]\n"
              "\n"
              "Join the BitTorrent swarm of a disk image and write it straight onto PATH\n"
              "(a block device, or a regular file created or extended to the image's\n"
              "target size), read it back and check it, or serve it from PATH with\n"
              "--seed, or only check PATH against the torrent with --verify-only.  Every\n"
              "option below overrides a key of node.yaml (config/node.yaml.sample); the\n"
              "man page's CONFIGURATION FILE table names it.\n"
              "\n"
              "  -c, --config FILE        read settings from FILE (YAML) first\n"
              "  -t, --torrent PATH|URL   the image's torrent (native ezio or EZIO format);\n"
              "                           http://, https:// or file:// URLs are fetched\n"
              "      --torrent-sha256 HEX refuse a torrent whose SHA-256 differs\n"
              "  -T, --target PATH        block device or file laid out like the target\n"
              "  -p, --payload FILE       use the torrent's payload file instead of a target\n"
              "                           (what a stock BitTorrent client stores)\n"
              "  -s, --seed               serve existing data; do not download.  Several\n"
              "                           images: --torrent and --target/--payload once per\n"
              "                           image, in the same order; image k (from 0) on the\n"
              "                           listen port plus k\n"
              "      --verify-only        check PATH against the torrent; no swarm, no writes\n"
              "  -a, --tracker URL        announce here too (repeatable)\n"
              "  -P, --peer HOST:PORT     connect to this peer (repeatable)\n"
              "      --allow CIDR         take peers only from these addresses (repeatable;\n"
              "                           named peers and web seeds are allowed too)\n"
              "  -l, --listen ADDR:PORT   listen address (default 0.0.0.0:6881); TLS only\n"
              "                           there for an SSL torrent\n"
              "      --rack NAME          this node's rack (its top-of-rack switch): each\n"
              "                           piece then crosses into a rack about once\n"
              "      --rack-prefix BITS   or: nodes whose addresses share their first BITS\n"
              "                           bits are in one rack\n"
              "      --ssl-cert FILE      this node's certificate (PEM) for an SSL torrent,\n"
              "                           signed by the CA the torrent carries\n"
              "      --ssl-key FILE       its private key (PEM; group and others may not\n"
              "                           read it)\n"
              "      --ssl-key-password-file FILE  the key's password, on FILE's first line\n"
              "      --seed-after none|until-done|SECONDS\n"
              "                           after a deploy completes, keep serving: not at all\n"
              "                           (default), until the tracker knows no node still\n"
              "                           downloading, or this long; with --seed: stop after\n"
              "                           SECONDS\n"
              "      --seed-timeout SECONDS  stop serving after this long whatever the swarm\n"
              "                           (default: never)\n"
              "      --timeout SECONDS    give up a deploy not done after SECONDS (default: never)\n"
              "      --max-connections N  at most N peer connections\n"
              "      --upload-slots N     as the seeder, send to at most N nodes at once,\n"
              "                           those asking for the lowest pieces (default 64;\n"
              "                           0: every node)\n"
              "      --upload-rate BYTES  at most BYTES per second up (K, M, G, T: powers\n"
              "                           of 1024; KB, MB, GB, TB: powers of 1000)\n"
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
              "                           or at under 1 KiB/s (default 30)\n"
              "      --http-retries N     retry connection errors and 5xx N times (default 3)\n"
              "  -q, --quiet              no progress line or summary (warnings still)\n"
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
        OPT_SEED_TIMEOUT, OPT_MAX_CONN, OPT_UP_SLOTS, OPT_UP_RATE, OPT_DOWN_RATE, OPT_FORCE_KIND, OPT_DRY_RUN,
        OPT_VERIFY, OPT_VERIFY_ONLY, OPT_ALLOW, OPT_HEADER, OPT_TOKEN_FILE, OPT_TOKEN_ENV, OPT_CA_FILE, OPT_INSECURE, OPT_HTTP_TIMEOUT, OPT_HTTP_RETRIES,
        OPT_SSL_CERT, OPT_SSL_KEY, OPT_SSL_KEY_PASSWORD_FILE, OPT_RACK, OPT_RACK_PREFIX,
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
        { "allow", required_argument, NULL, OPT_ALLOW },
        { "listen", required_argument, NULL, 'l' },
        { "rack", required_argument, NULL, OPT_RACK },
        { "rack-prefix", required_argument, NULL, OPT_RACK_PREFIX },
        { "seed-after", required_argument, NULL, OPT_SEED_AFTER },
        { "seed-timeout", required_argument, NULL, OPT_SEED_TIMEOUT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "max-connections", required_argument, NULL, OPT_MAX_CONN },
        { "upload-slots", required_argument, NULL, OPT_UP_SLOTS },
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
        { "ssl-cert", required_argument, NULL, OPT_SSL_CERT },
        { "ssl-key", required_argument, NULL, OPT_SSL_KEY },
        { "ssl-key-password-file", required_argument, NULL, OPT_SSL_KEY_PASSWORD_FILE },
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
                return fail(EZ_EXIT_USAGE, flag, "given too many times");
        list[*n] = strdup(v);
        if (!list[*n])
                return fail(EZ_EXIT_INTERNAL, flag, "out of memory");
        (*n)++;
        return EZ_EXIT_OK;
}

static int set_str(char **field, const char *v, const char *flag)
{
        return ez_config_set_str(field, v) < 0 ? fail(EZ_EXIT_INTERNAL, flag, "out of memory") : EZ_EXIT_OK;
}

/* One flag onto o->c.  Returns an exit code, EZ_EXIT_OK to go on. */
static int apply_flag(struct options *o, int c, const char *arg, const char *flag, bool lists[4])
{
        struct ez_config *k = &o->c;

        switch (c) {
        case 'c':
                return EZ_EXIT_OK;         /* read before the other flags */
        case 't':
                return o->n_torrents++ == o->which ? set_str(&k->torrent, arg, flag) : EZ_EXIT_OK;
        case OPT_SHA256:
                switch (ez_config_set_sha256(&k->torrent_sha256, arg)) {
                case 0:
                        return EZ_EXIT_OK;
                case -EINVAL:
                        return fail(EZ_EXIT_USAGE, flag, "expected 64 hexadecimal digits");
                default:
                        return fail(EZ_EXIT_INTERNAL, flag, "out of memory");
                }
        case 'T':
        case 'p':
                if (o->n_places++ != o->which)
                        return EZ_EXIT_OK;
                /* several images: the flags name every one's place */
                if (o->which > 0 && set_str(c == 'T' ? &k->payload : &k->target, NULL, flag) != EZ_EXIT_OK)
                        return EZ_EXIT_INTERNAL;
                return set_str(c == 'T' ? &k->target : &k->payload, arg, flag);
        case 's':
                k->mode = EZ_CONFIG_SEED;
                return EZ_EXIT_OK;
        case 'a':
                return add_to_list(k->trackers, &k->n_trackers, &lists[0], arg, flag);
        case 'P':
                if (ez_config_check_hostport(arg) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected HOST:PORT");
                return add_to_list(k->peers, &k->n_peers, &lists[1], arg, flag);
        case OPT_ALLOW:
                if (ez_config_check_cidr(arg) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected an address or ADDRESS/PREFIX (10.0.0.0/8, fd00::/8)");
                return add_to_list(k->allow, &k->n_allow, &lists[3], arg, flag);
        case OPT_HEADER:
                if (!strchr(arg, ':') || strchr(arg, '\n') || strchr(arg, '\r'))
                        return fail(EZ_EXIT_USAGE, flag, "expected 'NAME: VALUE' on one line");
                return add_to_list(k->http.headers, &k->http.n_headers, &lists[2], arg, flag);
        case 'l':
                if (ez_config_check_hostport(arg) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected ADDR:PORT");
                return set_str(&k->listen, arg, flag);
        case OPT_SEED_AFTER:
                if (ez_config_parse_seed_after(arg, &k->seed_after) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected 'none', 'until-done' or a number of seconds");
                return EZ_EXIT_OK;
        case OPT_SEED_TIMEOUT:
                if (ez_config_parse_seconds(arg, &k->seed_timeout) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected a number of seconds");
                return EZ_EXIT_OK;
        case OPT_TIMEOUT:
                if (ez_config_parse_seconds(arg, &k->timeout) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected a number of seconds");
                return EZ_EXIT_OK;
        case OPT_HTTP_TIMEOUT:
                if (ez_config_parse_seconds(arg, &k->http.timeout) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected a number of seconds");
                return EZ_EXIT_OK;
        case OPT_RACK:
                /* one way of naming racks: the command line's replaces node.yaml's */
                if (ez_config_check_rack(arg) < 0)
                        return fail(EZ_EXIT_USAGE, flag, EZ_CONFIG_RACK_EXPECTED);
                k->rack_prefix = 0;
                return set_str(&k->rack, arg, flag);
        case OPT_RACK_PREFIX:
                if (ez_config_parse_count(arg, 1, 128, &k->rack_prefix) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected a prefix length from 1 to 128");
                return set_str(&k->rack, NULL, flag);
        case OPT_MAX_CONN:
                if (ez_config_parse_count(arg, 1, 65535, &k->max_connections) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected a whole number from 1 to 65535");
                return EZ_EXIT_OK;
        case OPT_UP_SLOTS:
                if (ez_config_parse_count(arg, 0, 65535, &k->upload_slots) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected a whole number from 0 to 65535");
                return EZ_EXIT_OK;
        case OPT_HTTP_RETRIES:
                if (ez_config_parse_count(arg, 0, 20, &k->http.retries) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected a whole number from 0 to 20");
                return EZ_EXIT_OK;
        case OPT_UP_RATE:
        case OPT_DOWN_RATE:
                if (ez_units_parse_size(arg, c == OPT_UP_RATE ? &k->upload_rate : &k->download_rate) < 0)
                        return fail(EZ_EXIT_USAGE, flag,
                                    "expected bytes per second (K, M, G, T: powers of 1024; KB, MB, GB, TB: "
                                    "powers of 1000)");
                return EZ_EXIT_OK;
        case OPT_STATUS:
                if (ez_config_parse_status_format(arg, &k->status_json) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected 'json' or 'none'");
                return EZ_EXIT_OK;
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
        case OPT_SSL_CERT:
                return set_str(&k->ssl_cert, arg, flag);
        case OPT_SSL_KEY:
                return set_str(&k->ssl_key, arg, flag);
        case OPT_SSL_KEY_PASSWORD_FILE:
                return set_str(&k->ssl_key_password_file, arg, flag);
        case OPT_INSECURE:
                k->http.insecure = true;
                return EZ_EXIT_OK;
        case OPT_ASSUME_ZEROED:
                k->assume_zeroed = true;
                return EZ_EXIT_OK;
        case OPT_FORCE_KIND:
                k->force_kind = true;
                return EZ_EXIT_OK;
        case OPT_DRY_RUN:
                o->dry_run = true;
                return EZ_EXIT_OK;
        case OPT_VERIFY:
                if (ez_config_parse_verify(arg, &k->verify) < 0)
                        return fail(EZ_EXIT_USAGE, flag, "expected 'data', 'full' or 'none'");
                return EZ_EXIT_OK;
        case OPT_VERIFY_ONLY:
                k->mode = EZ_CONFIG_VERIFY;
                return EZ_EXIT_OK;
        case 'q':
                o->quiet = true;
                return EZ_EXIT_OK;
        default:
                return fail(EZ_EXIT_INTERNAL, flag, "unhandled option");
        }
}

/* The longest token a file may hold (Keystone's Fernet tokens are ~200 bytes). */
#define TOKEN_MAX 8191

/* The token, from at most one of http.token, token_file and token_env. */
static int resolve_token(struct options *o)
{
        const struct ez_config_http *h = &o->c.http;
        struct ez_err err = { "" };
        char *buf = NULL;
        size_t len = 0;

        if (!!h->token + !!h->token_file + !!h->token_env > 1)
                return fail(EZ_EXIT_USAGE, "http", "give one of token, token_file and token_env");
        if (h->token_env) {
                const char *v = getenv(h->token_env);

                if (!v || !*v)
                        return fail(EZ_EXIT_USAGE, "http token", "the environment variable named for it is unset or empty");
                o->token = strdup(v);
                /* read once: no process ezio-deploy starts inherits it */
                unsetenv(h->token_env);
        } else if (h->token_file) {
                if (ez_io_read_file(h->token_file, TOKEN_MAX, &buf, &len, &err) < 0)
                        return fail(EZ_EXIT_USAGE, "http token", err.msg);
                while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
                        len--;
                buf[len] = '\0';
                if (!len || strchr(buf, '\n') || strlen(buf) != len) {
                        explicit_bzero(buf, len);
                        free(buf);
                        return fail(EZ_EXIT_USAGE, "http token", "the token file must hold one line");
                }
                o->token = buf;
                return EZ_EXIT_OK;
        } else if (h->token) {
                o->token = strdup(h->token);
        } else {
                return EZ_EXIT_OK;
        }
        return o->token ? EZ_EXIT_OK : fail(EZ_EXIT_INTERNAL, "http token", "out of memory");
}

/* The listen address of image o->which: the configured one's port plus
 * o->which. */
static int next_listen(struct options *o)
{
        const char *l = o->c.listen ? o->c.listen : "0.0.0.0:6881";
        const char *colon = strrchr(l, ':');
        long port = strtol(colon + 1, NULL, 10) + o->which;
        char buf[300];

        if (port > 65535)
                return fail(EZ_EXIT_USAGE, "--listen", "no port left for every image (image k listens on the port plus k)");
        snprintf(buf, sizeof(buf), "%.*s:%ld", (int)(colon - l), l, port);
        return set_str(&o->c.listen, buf, "--listen");
}

/* The flags name several images: what one seeder of several needs. */
static int several_images(struct options *o)
{
        char why[128];

        if (o->c.mode != EZ_CONFIG_SEED)
                return fail(EZ_EXIT_USAGE, o->n_torrents > 1 ? "--torrent" : "--target/--payload",
                            "given more than once: several images are for --seed");
        if (o->n_torrents != o->n_places) {
                snprintf(why, sizeof(why), "%d torrents and %d targets or payloads: give one of each per image, "
                         "in the same order", o->n_torrents, o->n_places);
                return fail(EZ_EXIT_USAGE, "--torrent", why);
        }
        if (o->n_torrents > MAX_IMAGES) {
                snprintf(why, sizeof(why), "at most %d images", MAX_IMAGES);
                return fail(EZ_EXIT_USAGE, "--torrent", why);
        }
        if (o->c.torrent_sha256)
                return fail(EZ_EXIT_USAGE, "--torrent-sha256", "names one torrent's digest: not with several images");
        if (o->c.status_file)
                return fail(EZ_EXIT_USAGE, "--status-file",
                            "holds one image's status: with several images, read --status json (each line names its target)");
        return o->which ? next_listen(o) : EZ_EXIT_OK;
}

static int parse_options(int argc, char **argv, struct options *o)
{
        struct ez_err err = { "" };
        bool lists[4] = { false, false, false, false };
        int c, code;

        /* pass 1: --config, --help, --version */
        opterr = 0;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
                if (c == 'c')
                        o->config = optarg;
                else if (c == 'h') {
                        usage(stdout);
                        exit(EZ_EXIT_OK);
                } else if (c == 'V') {
                        printf("ezio-deploy %s (libtorrent-rasterbar %s)\n", EZ_VERSION, ez_swarm_lt_version());
                        exit(EZ_EXIT_OK);
                }
        }
        if (o->config && ez_config_load(o->config, &o->c, &err) < 0) {
                fprintf(stderr, "ezio-deploy: %s\n", err.msg);
                return EZ_EXIT_USAGE;
        }

        /* pass 2: every flag over node.yaml */
        optind = 0;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
                if (c == ':') {
                        fprintf(stderr, "ezio-deploy: %s: needs an argument (try --help)\n", argv[optind - 1]);
                        return EZ_EXIT_USAGE;
                }
                if (c == '?') {
                        fprintf(stderr, "ezio-deploy: %s: unknown option (try --help)\n", argv[optind - 1]);
                        return EZ_EXIT_USAGE;
                }
                code = apply_flag(o, c, optarg, flag_name(c), lists);
                if (code != EZ_EXIT_OK)
                        return code;
        }
        if (optind < argc)
                return fail(EZ_EXIT_USAGE, argv[optind], "unexpected argument");
        if (o->n_torrents > 1 || o->n_places > 1) {
                code = several_images(o);
                if (code != EZ_EXIT_OK)
                        return code;
        }
        if (!o->c.torrent && o->config) {
                /* an empty node.yaml is valid, and says nothing */
                fprintf(stderr, "ezio-deploy: --torrent: is required (%s has no 'torrent' key)\n", o->config);
                return EZ_EXIT_USAGE;
        }
        if (!o->c.torrent)
                return fail(EZ_EXIT_USAGE, "--torrent", "is required");
        if (!o->c.target == !o->c.payload)
                return fail(EZ_EXIT_USAGE, "--target/--payload", "give exactly one of them");
        if (o->c.mode == EZ_CONFIG_VERIFY && o->c.verify == EZ_CONFIG_VERIFY_NONE)
                o->c.verify = EZ_CONFIG_VERIFY_DATA;    /* checking is the point */
        if (o->c.mode == EZ_CONFIG_SEED && o->c.seed_after == EZ_CONFIG_SEED_UNTIL_DONE)
                return fail(EZ_EXIT_USAGE, "--seed-after", "'until-done' is for a deploy; a seeder stops after SECONDS");
        /* the token is read once (an environment variable is unset then):
         * main() gives the other images the first one's */
        return o->which == 0 ? resolve_token(o) : EZ_EXIT_OK;
}


/* An environment knob that is on: set, and neither empty nor "0". */
static bool env_on(const char *name)
{
        const char *v = getenv(name);

        return v && *v && strcmp(v, "0") != 0;
}

/* The expert knobs of the environment (man page, ENVIRONMENT); the deploy
 * checks them with the rest of the plan. */
static void read_environment(struct ez_deploy_opts *d)
{
        d->lt_settings = getenv("EZIO_LT_SETTINGS");
        d->lt_settings_name = "EZIO_LT_SETTINGS";
        d->debug = env_on("EZIO_DEBUG");
        d->no_request_budget = getenv("EZIO_NO_REQUEST_BUDGET") != NULL;
        d->no_ownership = getenv("EZIO_NO_OWNERSHIP") != NULL;
}

/* What the printing remembers between reports. */
struct printer {
        const struct options *o;
        bool tty;               /* stderr is a terminal: a progress line */
        bool line_open;         /* a progress line is on screen, without its newline */
        bool complete_said;     /* the "done:" line is out */
        bool file_failed;       /* the status file's warning is out */
        char warned[EZ_ERR_MSG_MAX];    /* the last warning printed */
};

/* Before a whole line on stderr: end the progress line, if one is open. */
static void new_line(struct printer *p)
{
        if (p->line_open)
                fputc('\n', stderr);
        p->line_open = false;
}

/* The line a person reads once the image is on the target. */
static void say_complete(struct printer *p, const struct ez_status_report *r)
{
        const struct ez_config *c = &p->o->c;

        new_line(p);
        if (c->mode == EZ_CONFIG_VERIFY) {
                fprintf(stderr, "ezio-deploy: %s: verified: %" PRIu64 " bytes match the torrent, %.2f s\n",
                        r->target, r->bytes_total, r->elapsed);
                return;
        }
        fprintf(stderr, "ezio-deploy: %s: done: %" PRIu64 " bytes on target, %" PRIu64
                " downloaded, %.2f s, %.1f MB/s, %s\n",
                r->target, r->bytes_total, r->downloaded, r->elapsed,
                r->elapsed > 0 ? (double)r->bytes_total / r->elapsed / 1e6 : 0.0,
                c->verify == EZ_CONFIG_VERIFY_NONE ? "not read back" :
                c->verify == EZ_CONFIG_VERIFY_FULL ? "read back in full" : "read back");
}

/* Every report of the deploy: the JSON line and file, the progress line,
 * the closing line of a deploy or check, and warnings. */
static void on_report(void *ctx, const struct ez_status_report *r)
{
        struct printer *p = ctx;
        const struct options *o = p->o;
        const struct ez_config *c = &o->c;
        struct ez_err err = { "" };
        char *line;

        if (c->status_json || c->status_file) {
                line = ez_status_json(r);
                if (line && c->status_json) {
                        puts(line);
                        fflush(stdout);
                }
                if (line && c->status_file && ez_status_write_file(c->status_file, line, &err) < 0 &&
                    !p->file_failed) {
                        new_line(p);
                        fprintf(stderr, "ezio-deploy: warning: %s\n", err.msg);
                        p->file_failed = true;
                }
                free(line);
        }
        if (r->phase == EZ_PHASE_ERROR)
                return;         /* main() prints the failure */
        if (r->message && strcmp(r->message, p->warned) != 0) {
                /* a warning, once, even with --quiet */
                new_line(p);
                fprintf(stderr, "ezio-deploy: %s: %s\n", r->target, r->message);
                snprintf(p->warned, sizeof(p->warned), "%s", r->message);
        }
        if (o->quiet)
                return;
        if (!p->complete_said && c->mode != EZ_CONFIG_SEED &&
            (r->phase == EZ_PHASE_DONE || (r->phase == EZ_PHASE_SEED && c->mode == EZ_CONFIG_DEPLOY))) {
                say_complete(p, r);
                p->complete_said = true;
        }
        if (p->tty && r->exit_code < 0) {
                double pct = r->bytes_total ? 100.0 * (double)r->bytes_done / (double)r->bytes_total : 0;

                fprintf(stderr, "\r%-8s %5.1f%%  %7.1f MB/s down  %7.1f MB/s up  %3u peers ", ez_phase_name(r->phase),
                        pct, (double)r->download_rate / 1e6, (double)r->upload_rate / 1e6, r->peers);
                if (r->eta >= 0)
                        fprintf(stderr, " %4.0f s left ", r->eta);
                fflush(stderr);
                p->line_open = true;
        }
}

static void print_plan(const struct options *o, const struct ez_deploy *d)
{
        const struct ez_config *c = &o->c;
        const struct ez_torrent *t = ez_deploy_torrent(d);
        const struct ez_layout *l = ez_deploy_layout(d);
        const struct ez_blockdev *dev = ez_deploy_target(d);
        const char *where = c->target ? c->target : c->payload;
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
        for (i = 0; i < c->n_allow; i++)
                printf("  allow: %s\n", c->allow[i]);
        printf("  listen: %s%s\n", c->listen ? c->listen : "0.0.0.0:6881", t->ssl_ca ? " (TLS only)" : "");
        if (c->rack)
                printf("  rack: %s\n", c->rack);
        else if (c->rack_prefix > 0)
                printf("  rack: the network of this node's address, /%ld\n", c->rack_prefix);
        if (t->ssl_ca) {
                char ca[256];

                ez_tls_subject(t->ssl_ca, t->ssl_ca_len, ca, sizeof(ca));
                printf("  tls: peers must show a certificate signed by '%s'; this node's: %s\n", ca, c->ssl_cert);
        }
        printf("  nothing written (--dry-run)\n");
}

/* One image of the run: its options, its printing, its deploy. */
struct image {
        struct options o;
        struct printer p;
        struct ez_deploy *d;
        pthread_t thread;
        int code;
};

/* Reports of several images come from several threads: one at a time. */
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_report_locked(void *ctx, const struct ez_status_report *r)
{
        pthread_mutex_lock(&print_lock);
        on_report(ctx, r);
        pthread_mutex_unlock(&print_lock);
}

static void say_failure(struct image *im)
{
        const struct ez_deploy_failure *f = ez_deploy_failure(im->d);

        pthread_mutex_lock(&print_lock);
        new_line(&im->p);
        fail(im->code, f->what, f->why.msg);
        pthread_mutex_unlock(&print_lock);
}

static void *run_image(void *arg)
{
        struct image *im = arg;

        im->code = ez_deploy_run(im->d);
        if (im->code != EZ_EXIT_OK)
                say_failure(im);
        return NULL;
}

/* Options and a prepared deploy for image k.  Returns an exit code. */
static int prepare_image(int argc, char **argv, struct image *im, int k, const char *token)
{
        im->o.which = k;
        im->p.o = &im->o;
        ez_config_init(&im->o.c);
        im->code = parse_options(argc, argv, &im->o);
        if (im->code != EZ_EXIT_OK)
                return im->code;
        /* a progress line for one image; several would overwrite each other */
        im->p.tty = isatty(STDERR_FILENO) && im->o.n_torrents <= 1 && im->o.n_places <= 1;
        if (k > 0 && token && !(im->o.token = strdup(token)))
                return im->code = fail(EZ_EXIT_INTERNAL, "http token", "out of memory");
        {
                struct ez_deploy_opts dopts = {
                        .config = &im->o.c, .token = im->o.token, .dry_run = im->o.dry_run,
                        .stop = &interrupted, .report = on_report_locked, .ctx = &im->p,
                };

                read_environment(&dopts);
                im->d = ez_deploy_new(&dopts);
        }
        if (!im->d)
                return im->code = fail(EZ_EXIT_INTERNAL, "deploy", "out of memory");
        im->code = ez_deploy_prepare(im->d);
        if (im->code != EZ_EXIT_OK)
                say_failure(im);
        return im->code;
}

static void free_image(struct image *im)
{
        ez_deploy_free(im->d);
        if (im->o.token)
                explicit_bzero(im->o.token, strlen(im->o.token));
        free(im->o.token);
        ez_config_free(&im->o.c);
}

int main(int argc, char **argv)
{
        static struct image im[MAX_IMAGES];
        struct sigaction sa = { .sa_handler = on_signal };
        int n = 1, k, code = EZ_EXIT_OK, started = 0, prepared = 0;

        /* every plan validated before anything is served */
        for (k = 0; k < n && code == EZ_EXIT_OK; k++, prepared++) {
                code = prepare_image(argc, argv, &im[k], k, im[0].o.token);
                if (k == 0 && code == EZ_EXIT_OK && im[0].o.n_torrents > 1)
                        n = im[0].o.n_torrents;
        }
        if (code == EZ_EXIT_OK && im[0].o.dry_run) {
                for (k = 0; k < n; k++)
                        print_plan(&im[k].o, im[k].d);
                goto out;
        }
        if (code != EZ_EXIT_OK)
                goto out;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        if (n == 1) {
                run_image(&im[0]);
                code = im[0].code;
                goto out;
        }
        for (k = 0; k < n; k++, started++) {
                int e = pthread_create(&im[k].thread, NULL, run_image, &im[k]);

                if (e) {
                        interrupted = SIGTERM;          /* stop what runs */
                        code = fail(EZ_EXIT_INTERNAL, "thread", strerror(e));
                        break;
                }
        }
        for (k = 0; k < started; k++) {
                pthread_join(im[k].thread, NULL);
                if (code == EZ_EXIT_OK)
                        code = im[k].code;
        }
out:
        for (k = 0; k < prepared; k++)
                free_image(&im[k]);
        return code;
}
