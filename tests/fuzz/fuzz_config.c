/*
 * fuzz_config.c - libFuzzer harness for node.yaml (config.c), through
 * ez_config_parse(), the buffer form of ez_config_load().
 *
 * A file that is accepted must leave a configuration the rest of
 * ezio-deploy can use as it is: lists within their bounds, enums among
 * their values, a SHA-256 of 64 lowercase hex digits; one that is refused
 * names the file and the line.  Both must free cleanly, and a second
 * parse over the same struct (what a config plus --config-like overrides
 * does) must not leak what the first one set.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define NAME "node.yaml"

static void check_config(const struct ez_config *c)
{
        size_t i;

        FZ_CHECK(c->n_trackers <= EZ_CONFIG_MAX_LIST && c->n_peers <= EZ_CONFIG_MAX_LIST &&
                 c->n_allow <= EZ_CONFIG_MAX_LIST && c->http.n_headers <= EZ_CONFIG_MAX_LIST);
        for (i = 0; i < c->n_trackers; i++)
                FZ_CHECK(c->trackers[i]);
        for (i = 0; i < c->n_peers; i++)
                FZ_CHECK(c->peers[i] && ez_config_check_hostport(c->peers[i]) == 0);
        for (i = 0; i < c->n_allow; i++)
                FZ_CHECK(c->allow[i] && ez_config_check_cidr(c->allow[i]) == 0);
        for (i = 0; i < c->http.n_headers; i++)
                FZ_CHECK(c->http.headers[i] && strchr(c->http.headers[i], ':'));
        FZ_CHECK(c->mode == EZ_CONFIG_DEPLOY || c->mode == EZ_CONFIG_SEED || c->mode == EZ_CONFIG_VERIFY);
        FZ_CHECK(c->verify == EZ_CONFIG_VERIFY_DATA || c->verify == EZ_CONFIG_VERIFY_NONE ||
                 c->verify == EZ_CONFIG_VERIFY_FULL);
        if (c->torrent_sha256) {
                FZ_CHECK(strlen(c->torrent_sha256) == 64 &&
                         strspn(c->torrent_sha256, "0123456789abcdef") == 64);
        }
        if (c->listen)
                FZ_CHECK(ez_config_check_hostport(c->listen) == 0);
        FZ_CHECK(c->seed_after >= EZ_CONFIG_SEED_UNTIL_DONE);
        FZ_CHECK(c->seed_timeout >= 0 && c->timeout >= 0 && c->max_connections >= 0);
        FZ_CHECK(c->http.connect_timeout >= 0 && c->http.timeout >= 0 && c->http.retries >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ez_config c;
        struct ez_err err = { "" };
        int r;

        if (size > (1u << 20))
                return 0;       /* ez_config_load() refuses larger files before parsing */
        ez_config_init(&c);
        r = ez_config_parse(NAME, (const char *)data, size, &c, &err);
        if (r < 0) {
                FZ_CHECK_REFUSAL(r, err);
                FZ_CHECK(r == -EINVAL || r == -ENOMEM);
                FZ_CHECK(r == -ENOMEM || strncmp(err.msg, NAME ":", strlen(NAME ":")) == 0);
                ez_config_free(&c);
                return 0;
        }
        check_config(&c);
        /* the same file over a filled struct: replaces, never leaks */
        r = ez_config_parse(NAME, (const char *)data, size, &c, &err);
        FZ_CHECK(r == 0);
        check_config(&c);
        ez_config_free(&c);
        return 0;
}
