/*
 * fetch.h - get a small file (the torrent) from where images live:
 * http://, https:// (Swift with an X-Auth-Token or a temp URL is plain
 * HTTPS to us) or file://, with libcurl.
 */
#ifndef EZ_FETCH_H
#define EZ_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_fetch_opts {
        char *const *headers;   /* "Name: value" each */
        size_t n_headers;
        const char *token;      /* sent as X-Auth-Token, never shown */
        const char *ca_file;    /* NULL: the system's CA store */
        bool insecure;          /* no TLS verification */
        long connect_timeout;   /* seconds; 0: libcurl's default */
        long stall_timeout;     /* seconds under 1 KiB/s (stalled or trickling): give up the attempt; 0: never */
        long retries;           /* further attempts after a connection error or a 5xx */
        unsigned backoff_ms;    /* before the first retry, doubling, at most 30 s; 0: 1000 */
        uint64_t max_size;      /* bytes; larger bodies are refused; 0: no cap */
};

/* Whether s names a URL (scheme://...) rather than a local path. */
bool ez_fetch_is_url(const char *s);

/*
 * Copy url into out (size n) without what may be secret in it: the user
 * information and the query string (a Swift temp URL's signature).
 */
void ez_fetch_redact(const char *url, char *out, size_t n);

/* An answer's body as libcurl hands it over, piece by piece. */
struct ez_fetch_body {
        char *buf;              /* owned (free() it); NUL-terminated one byte past len */
        size_t len, cap;
        uint64_t max;           /* bytes; 0: no cap */
        bool too_big;           /* a piece would have taken it past max */
};

/* Append n bytes of data to b.  Returns 0, -EFBIG (b would pass b->max:
 * too_big is set and nothing is appended) or -ENOMEM (b unchanged). */
int ez_fetch_body_add(struct ez_fetch_body *b, const void *data, size_t n);

/*
 * Fetch url into a new heap buffer (*ret_buf, free() it; NUL-terminated
 * one byte past *ret_len).  Retries connection errors, stalls and 5xx
 * answers up to o->retries times with exponential backoff, never a 4xx.
 * A redirect must keep the scheme (no https -> http, nothing to file://).
 * Returns 0, or a negative errno with the reason in err (the URL in it
 * redacted): -ENOENT (404 or no such file), -EACCES (401, 403), -EFBIG
 * (over max_size), -ETIMEDOUT (connect or stall), -EPROTO (a redirect
 * that changes the scheme, a TLS failure), -EIO otherwise.
 */
int ez_fetch(const char *url, const struct ez_fetch_opts *o, void **ret_buf, size_t *ret_len, struct ez_err *err);

/* SHA-256 of buf as 64 lowercase hex digits into hex[65].  Returns 0 or -EIO. */
int ez_fetch_sha256_hex(const void *buf, size_t len, char hex[65]);

struct ez_torrent;

/*
 * The torrent at where, a local path or a URL (fetched with o), refused
 * unless its SHA-256 is sha256 (64 lowercase hex digits; NULL: any), then
 * parsed (torrent.h).  A fetched torrent is checked before it is even
 * parsed.  Returns 0 and *ret (free it with ez_torrent_free()), or a
 * negative errno as ez_fetch(), ez_torrent_parse() or -EBADMSG (SHA-256
 * differs), with err naming the torrent (a URL redacted); *ret is then
 * untouched.
 */
int ez_fetch_torrent(const char *where, const char *sha256, const struct ez_fetch_opts *o,
                     struct ez_torrent **ret, struct ez_err *err);

/*
 * The checks a torrent's bytes pass, fetched or read, before anything
 * else sees them: refused unless their SHA-256 is sha256 (NULL: any),
 * then parsed.  shown names the torrent in err.  Returns as
 * ez_fetch_torrent(); *ret is untouched on failure.
 */
int ez_fetch_check_torrent(const void *buf, size_t len, const char *sha256, const char *shown,
                           struct ez_torrent **ret, struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
