/*
 * config.h - one node's deploy settings: node.yaml, parsed with libyaml
 * into one validated struct.
 *
 * Every key has a command-line flag that overrides it (ezio-deploy.c); the
 * keys are documented in config/node.yaml.sample.  A bad file is refused
 * whole, with "FILE:LINE:COL: what is wrong", before anything is fetched
 * or written.
 */
#ifndef EZ_CONFIG_H
#define EZ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ez_config_mode {
        EZ_CONFIG_DEPLOY = 0,
        EZ_CONFIG_SEED = 1,
        EZ_CONFIG_VERIFY = 2,           /* check the target against the torrent, no network */
};

/* What the verify phase reads back once the image is written. */
enum ez_config_verify {
        EZ_CONFIG_VERIFY_DATA = 0,      /* every piece, hashed (the default) */
        EZ_CONFIG_VERIFY_NONE = 1,
        EZ_CONFIG_VERIFY_FULL = 2,      /* the pieces, and every zero range read as zeros */
};

/* seed_after values besides a number of seconds (> 0) */
#define EZ_CONFIG_SEED_NONE 0L
/* a seeder sends to this many peers at once unless told: more than the
 * nodes of a rack or of a small lab, so that below it nothing is choked
 * (docs/benchmarks.md, "10,000 nodes") */
#define EZ_CONFIG_UPLOAD_SLOTS 64L
#define EZ_CONFIG_SEED_UNTIL_DONE (-1L)

#define EZ_CONFIG_MAX_LIST 64

struct ez_config_http {
        char *headers[EZ_CONFIG_MAX_LIST];      /* "Name: value" */
        size_t n_headers;
        char *token;            /* sent as X-Auth-Token; never logged */
        char *token_file;       /* read at fetch time */
        char *token_env;        /* name of an environment variable */
        char *ca_file;
        bool insecure;          /* no TLS verification: only if written */
        long connect_timeout;   /* seconds */
        long timeout;           /* seconds without progress: stalled */
        long retries;
        uint64_t max_size;      /* bytes */
};

struct ez_config {
        char *torrent;          /* path or URL */
        char *torrent_sha256;   /* 64 lowercase hex digits, or NULL */
        char *target;
        char *payload;
        enum ez_config_mode mode;
        char *trackers[EZ_CONFIG_MAX_LIST];
        size_t n_trackers;
        char *peers[EZ_CONFIG_MAX_LIST];
        size_t n_peers;
        char *allow[EZ_CONFIG_MAX_LIST];        /* CIDRs peers may come from; none: any */
        size_t n_allow;
        char *listen;           /* ADDR:PORT */
        char *rack;             /* this node's rack, told to its peers (racks.cpp) */
        long rack_prefix;       /* or: racks are the networks of this many address bits; 0: none */
        long seed_after;        /* seconds, or EZ_CONFIG_SEED_* */
        long seed_timeout;      /* seconds, 0: none */
        long timeout;           /* seconds, 0: none */
        long max_connections;   /* 0: libtorrent's default */
        long upload_slots;      /* seed: peers sent to at once (upload_slots.cpp); 0: every one */
        uint64_t upload_rate;   /* bytes/s, 0: unlimited */
        uint64_t download_rate;
        bool status_json;
        char *status_file;
        bool assume_zeroed;
        bool force_kind;
        enum ez_config_verify verify;
        /* an SSL torrent's peers show certificates signed by its CA (tls.h);
         * paths only: the files are read when the plan is checked */
        char *ssl_cert;         /* this node's certificate, PEM */
        char *ssl_key;          /* its private key, PEM, mode 0600 */
        char *ssl_key_password_file;    /* first line: the key's password */
        struct ez_config_http http;
};

/* Fill c with the defaults.  Call before ez_config_load() or instead. */
void ez_config_init(struct ez_config *c);

/*
 * Load the YAML file at path over c (keys present replace what c holds).
 * Returns 0, or -EINVAL with "PATH:LINE:COL: what is wrong" in err
 * (-errno if the file cannot be read); c then holds a mix of old and new
 * values and is only fit for ez_config_free().
 */
int ez_config_load(const char *path, struct ez_config *c, struct ez_err *err);

/* Same from a buffer; name is what error messages call it. */
int ez_config_parse(const char *name, const char *text, size_t len, struct ez_config *c, struct ez_err *err);

/* Replace *field with a copy of value (NULL clears it).  Returns 0 or -ENOMEM. */
int ez_config_set_str(char **field, const char *value);

/* Replace *field with value, 64 hex digits, lowercased.  Returns 0,
 * -EINVAL (not 64 hex digits; *field untouched) or -ENOMEM. */
int ez_config_set_sha256(char **field, const char *value);

/* Free the n strings of list and set n to 0. */
void ez_config_clear_list(char **list, size_t *n);

/* Parsers shared with the command line.  Each returns 0 or -EINVAL. */
int ez_config_parse_seconds(const char *s, long *ret);           /* 0 .. 10 years */
int ez_config_parse_count(const char *s, long min, long max, long *ret);  /* min .. max */
int ez_config_parse_seed_after(const char *s, long *ret);        /* none | until-done | seconds */
int ez_config_parse_mode(const char *s, enum ez_config_mode *ret);       /* deploy | seed | verify */
int ez_config_parse_verify(const char *s, enum ez_config_verify *ret);   /* none | data | full */
int ez_config_parse_status_format(const char *s, bool *json);           /* json | none */
int ez_config_check_sha256(const char *s);                       /* 64 hex digits */
int ez_config_check_hostport(const char *s);                     /* HOST:PORT, [V6]:PORT */
int ez_config_check_cidr(const char *s);                         /* ADDRESS or ADDRESS/PREFIX, v4 or v6 */
int ez_config_check_rack(const char *s);                         /* 1-64 of A-Z a-z 0-9 . _ - : / @ */
#define EZ_CONFIG_RACK_EXPECTED "expected a rack name: 1 to 64 letters, digits and . _ - : / @"

/* Free every string c holds and reset it to the defaults.  Accepts NULL. */
void ez_config_free(struct ez_config *c);

#ifdef __cplusplus
}
#endif

#endif
