/*
 * fetch.c - the torrent over HTTP(S) or file:// with libcurl: timeouts,
 * retries with backoff for what may pass (connection errors, stalls,
 * 5xx), none for what will not (4xx, TLS verification, a redirect to
 * another scheme), a cap on the size, and messages that never carry the
 * token or a temp URL's signature.  CURLcode is translated here and
 * nowhere else.  And the one call that gets a deploy its torrent: fetched
 * or read, checked against the SHA-256 the operator gave, parsed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "fetch.h"
#include "io.h"
#include "torrent.h"

int ez_fetch_body_add(struct ez_fetch_body *s, const void *data, size_t add)
{
        if (s->max && (add > s->max || s->len > s->max - add)) {
                s->too_big = true;
                return -EFBIG;
        }
        if (add > SIZE_MAX / 4 - s->len)
                return -ENOMEM;         /* the doubling below could not reach it */
        if (s->len + add + 1 > s->cap) {
                size_t cap = s->cap ? s->cap : 64 * 1024;
                char *b;

                while (cap < s->len + add + 1)
                        cap *= 2;
                b = realloc(s->buf, cap);
                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->cap = cap;
        }
        if (add)
                memcpy(s->buf + s->len, data, add);
        s->len += add;
        s->buf[s->len] = '\0';
        return 0;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
        /* 0 makes libcurl stop with CURLE_WRITE_ERROR; attempt() then
         * looks at too_big */
        return ez_fetch_body_add(arg, data, size * n) < 0 ? 0 : size * n;
}

bool ez_fetch_is_url(const char *s)
{
        const char *p = s;

        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (p > s && ((*p >= '0' && *p <= '9') ||
                                                                                   *p == '+' || *p == '-' || *p == '.')))
                p++;
        return p > s && strncmp(p, "://", 3) == 0;
}

void ez_fetch_redact(const char *url, char *out, size_t n)
{
        const char *rest = strstr(url, "://");
        const char *at, *slash;
        size_t len;

        if (!n)
                return;
        if (!rest) {
                snprintf(out, n, "%s", url);
                return;
        }
        rest += 3;
        slash = rest + strcspn(rest, "/?#");
        at = memchr(rest, '@', (size_t)(slash - rest));
        len = strcspn(url, "?#");
        if (at)
                snprintf(out, n, "%.*s%.*s%s", (int)(rest - url), url, (int)(len - (size_t)(at + 1 - url)), at + 1,
                         url[len] ? "?..." : "");
        else
                snprintf(out, n, "%.*s%s", (int)len, url, url[len] ? "?..." : "");
}

/* The scheme of url, lowercased, into out; "" if none. */
static void scheme_of(const char *url, char *out, size_t n)
{
        size_t i;

        for (i = 0; i + 1 < n && url[i] && url[i] != ':'; i++)
                out[i] = (char)((url[i] >= 'A' && url[i] <= 'Z') ? url[i] - 'A' + 'a' : url[i]);
        out[i] = '\0';
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

enum attempt { DONE, RETRY, FAIL };

/* One attempt.  Returns DONE (body in s), RETRY or FAIL, with err set for
 * both; denied is what to check after a 401 or 403. */
static enum attempt attempt(CURL *c, const char *shown, const char *denied, struct ez_fetch_body *s, int *code,
                            struct ez_err *err)
{
        char detail[CURL_ERROR_SIZE] = "";
        long status = 0;
        CURLcode cc;

        s->len = 0;
        s->too_big = false;
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (s->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
                *code = ez_err_set(err, -EFBIG, "%s: larger than %llu bytes, not a torrent", shown,
                                   (unsigned long long)s->max);
                return FAIL;
        }
        switch (cc) {
        case CURLE_OK:
                break;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                *code = ez_err_set(err, -EIO, "%s: %s", shown, detail[0] ? detail : curl_easy_strerror(cc));
                return RETRY;
        case CURLE_OPERATION_TIMEDOUT:
                *code = ez_err_set(err, -ETIMEDOUT, "%s: timed out (%s)", shown,
                                   detail[0] ? detail : curl_easy_strerror(cc));
                return RETRY;
        case CURLE_UNSUPPORTED_PROTOCOL:
                *code = ez_err_set(err, -EPROTO, "%s: redirected to another scheme, refused (%s)", shown,
                                   detail[0] ? detail : curl_easy_strerror(cc));
                return FAIL;
        case CURLE_FILE_COULDNT_READ_FILE:
                *code = ez_err_set(err, -ENOENT, "%s: %s", shown, detail[0] ? detail : curl_easy_strerror(cc));
                return FAIL;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
                *code = ez_err_set(err, -EPROTO, "%s: TLS: %s", shown, detail[0] ? detail : curl_easy_strerror(cc));
                return FAIL;
        default:
                *code = ez_err_set(err, -EIO, "%s: %s", shown, detail[0] ? detail : curl_easy_strerror(cc));
                return FAIL;
        }
        if (status >= 500) {
                *code = ez_err_set(err, -EIO, "%s: HTTP %ld", shown, status);
                return RETRY;
        }
        if (status == 404 || status == 410) {
                *code = ez_err_set(err, -ENOENT, "%s: HTTP %ld, no such torrent", shown, status);
                return FAIL;
        }
        if (status == 401 || status == 403) {
                *code = ez_err_set(err, -EACCES, "%s: HTTP %ld, not allowed (%s)", shown, status, denied);
                return FAIL;
        }
        if (status >= 300) {
                *code = ez_err_set(err, -EIO, "%s: HTTP %ld", shown, status);
                return FAIL;
        }
        return DONE;
}

int ez_fetch(const char *url, const struct ez_fetch_opts *o, void **ret_buf, size_t *ret_len, struct ez_err *err)
{
        struct ez_fetch_opts none = { 0 };
        struct curl_slist *hdrs = NULL, *h;
        struct ez_fetch_body s = { 0 };
        char shown[512], scheme[16];
        const char *denied;
        _cleanup_free_ char *auth = NULL;
        unsigned backoff;
        CURL *c = NULL;
        long tries;
        int code = 0;
        size_t i;

        if (!o)
                o = &none;
        denied = o->token ? "check the token"
                 : strstr(url, "temp_url_sig=") ? "check the temp URL's key, signature and expiry"
                 : "no token was given: http.token_file, --http-token-file or --http-token-env";
        ez_fetch_redact(url, shown, sizeof(shown));
        scheme_of(url, scheme, sizeof(scheme));
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 && strcmp(scheme, "file") != 0)
                return ez_err_set(err, -EPROTO, "%s: only http://, https:// and file:// URLs", shown);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return ez_err_set(err, -EIO, "libcurl failed to initialise");
        c = curl_easy_init();
        if (!c) {
                code = ez_err_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        for (i = 0; i < o->n_headers; i++) {
                h = curl_slist_append(hdrs, o->headers[i]);
                if (!h)
                        goto oom;
                hdrs = h;
        }
        if (o->token) {
                if (asprintf(&auth, "X-Auth-Token: %s", o->token) < 0) {
                        auth = NULL;
                        goto oom;
                }
                h = curl_slist_append(hdrs, auth);
                if (!h)
                        goto oom;
                hdrs = h;
        }
        s.max = o->max_size;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
        /* a redirect keeps the scheme: no downgrade, no local file */
        if (strcmp(scheme, "file") != 0) {
                curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, scheme);
                curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        }
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "ezio-deploy/" EZ_VERSION);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        if (o->max_size)
                curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_size);
        if (o->connect_timeout)
                curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
        if (o->stall_timeout) {
                /* a stall is less than 1 KiB/s for that long, not only
                 * silence: a server that trickles a byte a second would
                 * otherwise hold the deploy for days */
                curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
                curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_timeout);
        }
        if (o->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);

        backoff = o->backoff_ms ? o->backoff_ms : 1000;
        for (tries = 0;; tries++) {
                enum attempt a = attempt(c, shown, denied, &s, &code, err);

                if (a == DONE)
                        break;
                if (a == FAIL || tries >= o->retries) {
                        if (a == RETRY && tries > 0)
                                ez_err_prefix(err, code, "after %ld attempts", tries + 1);
                        goto out;
                }
                sleep_ms(backoff);
                backoff = backoff >= 15000 ? 30000 : backoff * 2;
        }
        if (!s.buf) {
                s.buf = malloc(1);
                if (!s.buf)
                        goto oom;
                s.buf[0] = '\0';
        }
        *ret_buf = TAKE_PTR(s.buf);
        *ret_len = s.len;
        code = 0;
        goto out;
oom:
        code = ez_err_set(err, -ENOMEM, "out of memory");
out:
        if (auth)
                explicit_bzero(auth, strlen(auth));
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(c);
        curl_global_cleanup();
        free(s.buf);
        return code;
}

int ez_fetch_sha256_hex(const void *buf, size_t len, char hex[65])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0, i;

        if (!EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) || n != 32)
                return -EIO;
        for (i = 0; i < n; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return 0;
}

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

int ez_fetch_check_torrent(const void *buf, size_t len, const char *sha256, const char *shown,
                           struct ez_torrent **ret, struct ez_err *err)
{
        int r;

        r = check_sha256(buf, len, sha256, shown, err);
        if (r < 0)
                return r;
        r = ez_torrent_parse(buf, len, ret, err);
        if (r < 0)
                return ez_err_prefix(err, r, "%s", shown);
        return 0;
}

int ez_fetch_torrent(const char *where, const char *sha256, const struct ez_fetch_opts *o,
                     struct ez_torrent **ret, struct ez_err *err)
{
        _cleanup_free_ void *buf = NULL;
        char shown[512];
        size_t len = 0;
        int r;

        /* the bytes, from the URL or the file; then checked before they
         * are even parsed */
        if (ez_fetch_is_url(where)) {
                ez_fetch_redact(where, shown, sizeof(shown));
                r = ez_fetch(where, o, &buf, &len, err);
        } else {
                snprintf(shown, sizeof(shown), "%s", where);
                r = ez_io_read_file(where, EZ_TORRENT_MAX_SIZE, (char **)&buf, &len, err);
        }
        if (r < 0)
                return r;
        return ez_fetch_check_torrent(buf, len, sha256, shown, ret, err);
}
