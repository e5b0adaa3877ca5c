/*
 * check_config.c - node.yaml: every key read into the struct, and every
 * kind of mistake refused with the file, line and column that an operator
 * can go and fix.
 */
#include <errno.h>
#include <stdint.h>

#include "config.h"
#include "testutil.h"

#ifndef EZ_TEST_DATA
#define EZ_TEST_DATA "tests/data"
#endif

/* ---- the sample files ---------------------------------------------- */

START_TEST(test_full)
{
        struct ez_config c;
        struct ez_err err = { "" };

        ez_config_init(&c);
        ck_assert_int_eq(ez_config_load(EZ_TEST_DATA "/config/full.yaml", &c, &err), 0);
        ck_assert_str_eq(c.torrent, "https://images.example/v1/AUTH_x/images/ubuntu.torrent");
        ck_assert_str_eq(c.torrent_sha256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        ck_assert_str_eq(c.target, "/dev/sda");
        ck_assert_ptr_null(c.payload);
        ck_assert_int_eq(c.mode, EZ_CONFIG_DEPLOY);
        ck_assert_uint_eq(c.n_trackers, 2);
        ck_assert_str_eq(c.trackers[1], "http://10.0.0.2:6969/announce");
        ck_assert_uint_eq(c.n_peers, 2);
        ck_assert_str_eq(c.peers[1], "[fd00::5]:6881");
        ck_assert_uint_eq(c.n_allow, 2);
        ck_assert_str_eq(c.allow[0], "10.0.0.0/16");
        ck_assert_str_eq(c.allow[1], "fd00::/8");
        ck_assert_str_eq(c.listen, "0.0.0.0:6881");
        ck_assert_str_eq(c.rack, "row3/r12");
        ck_assert_int_eq(c.rack_prefix, 0);
        ck_assert_int_eq(c.seed_after, EZ_CONFIG_SEED_UNTIL_DONE);
        ck_assert_int_eq(c.seed_timeout, 600);
        ck_assert_int_eq(c.timeout, 3600);
        ck_assert_int_eq(c.max_connections, 200);
        ck_assert_int_eq(c.upload_slots, 16);
        ck_assert_uint_eq(c.upload_rate, 50u << 20);
        ck_assert_uint_eq(c.download_rate, 1u << 30);
        ck_assert(c.status_json);
        ck_assert_str_eq(c.status_file, "/run/ezio/status.json");
        ck_assert_uint_eq(c.http.n_headers, 1);
        ck_assert_str_eq(c.http.headers[0], "X-Trace: node-17");
        ck_assert_str_eq(c.http.token_file, "/etc/ezio/token");
        ck_assert_ptr_null(c.http.token);
        ck_assert_str_eq(c.http.ca_file, "/etc/ezio/ca.pem");
        ck_assert(!c.http.insecure);
        ck_assert_int_eq(c.http.connect_timeout, 5);
        ck_assert_int_eq(c.http.timeout, 20);
        ck_assert_int_eq(c.http.retries, 4);
        ck_assert_uint_eq(c.http.max_size, 8u << 20);
        ck_assert(c.assume_zeroed);
        ck_assert(!c.force_kind);
        ck_assert_int_eq(c.verify, EZ_CONFIG_VERIFY_FULL);
        ez_config_free(&c);
        ck_assert_ptr_null(c.torrent);
        ez_config_free(NULL);
}
END_TEST

START_TEST(test_seed_and_defaults)
{
        struct ez_config c;
        struct ez_err err = { "" };

        ez_config_init(&c);
        ck_assert_int_eq(ez_config_load(EZ_TEST_DATA "/config/seed.yaml", &c, &err), 0);
        ck_assert_int_eq(c.mode, EZ_CONFIG_SEED);
        ck_assert_str_eq(c.payload, "/srv/images/ubuntu.img");
        ck_assert_int_eq(c.seed_after, 7200);
        /* what the file does not say keeps its default */
        ck_assert_int_eq(c.http.retries, 3);
        ck_assert_int_eq(c.http.timeout, 30);
        ck_assert_uint_eq(c.http.max_size, 64u << 20);
        ck_assert(!c.status_json);
        ck_assert_int_eq(c.verify, EZ_CONFIG_VERIFY_DATA);
        ez_config_free(&c);

        /* an empty file, or only comments, changes nothing */
        ez_config_init(&c);
        ck_assert_int_eq(ez_config_load(EZ_TEST_DATA "/config/empty.yaml", &c, &err), 0);
        ck_assert_int_eq(ez_config_load(EZ_TEST_DATA "/config/comment.yaml", &c, &err), 0);
        ck_assert_ptr_null(c.torrent);
        ck_assert_int_eq(c.seed_after, EZ_CONFIG_SEED_NONE);
        ez_config_free(&c);

        ez_config_init(&c);
        ck_assert_int_eq(ez_config_load(EZ_TEST_DATA "/config/absent.yaml", &c, &err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err.msg, "absent.yaml"));
        ez_config_free(&c);
}
END_TEST

/* The documented sample is itself a valid file. */
START_TEST(test_sample)
{
        struct ez_config c;
        struct ez_err err = { "" };

        ez_config_init(&c);
        ck_assert_msg(ez_config_load("config/node.yaml.sample", &c, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(c.target, "/dev/sda");
        ck_assert_ptr_nonnull(strstr(c.torrent, "https://"));
        ez_config_free(&c);
}
END_TEST

/* ---- mistakes -------------------------------------------------------- */

struct bad_case {
        const char *yaml;
        const char *msg;        /* the whole message after "n.yaml:" */
};

static const struct bad_case bad_cases[] = {
        { "bogus: 1\n", "1:1: unknown key 'bogus'" },
        { "torrent: a\n\nTorrent: b\n", "3:1: unknown key 'Torrent'" },
        { "http:\n  tokn: x\n", "2:3: unknown key 'http.tokn'" },
        { "torrent: a\ntorrent: b\n", "2:1: 'torrent' given twice" },
        { "torrent: [a, b]\n", "1:10: torrent: expected a single value, not a list or mapping" },
        { "torrent:\n", "1:9: torrent: has no value" },
        { "torrent: ~\n", "1:10: torrent: has no value" },
        { "target: \"a\\0b\"\n", "1:9: target: contains a NUL character" },
        { "torrent_sha256: abc\n", "1:17: torrent_sha256: expected 64 hexadecimal digits" },
        { "torrent_sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\n",
          "1:17: torrent_sha256: expected 64 hexadecimal digits" },
        { "mode: clone\n", "1:7: mode: expected 'deploy', 'seed' or 'verify'" },
        { "mode: Verify\n", "1:7: mode: expected 'deploy', 'seed' or 'verify'" },
        { "verify: yes\n", "1:9: verify: expected 'none', 'data' or 'full'" },
        { "verify: [data]\n", "1:9: verify: expected a single value, not a list or mapping" },
        { "trackers: http://t/announce\n", "1:11: trackers: expected a list" },
        { "trackers:\n  - [x]\n", "2:5: trackers: expected a single value, not a list or mapping" },
        { "peers: [10.0.0.1]\n", "1:9: peers: expected HOST:PORT" },
        { "peers: ['10.0.0.1:99999']\n", "1:9: peers: expected HOST:PORT" },
        { "peers: ['[::1:6881']\n", "1:9: peers: expected HOST:PORT" },
        { "allow: 10.0.0.0/8\n", "1:8: allow: expected a list" },
        { "allow: ['10.0.0.0/33']\n", "1:9: allow: expected an address or ADDRESS/PREFIX (10.0.0.0/8, fd00::/8)" },
        { "allow: ['fd00::/129']\n", "1:9: allow: expected an address or ADDRESS/PREFIX (10.0.0.0/8, fd00::/8)" },
        { "allow: [provisioning]\n", "1:9: allow: expected an address or ADDRESS/PREFIX (10.0.0.0/8, fd00::/8)" },
        { "allow: ['10.0.0.0/']\n", "1:9: allow: expected an address or ADDRESS/PREFIX (10.0.0.0/8, fd00::/8)" },
        { "listen: 6881\n", "1:9: listen: expected ADDR:PORT" },
        { "rack: r 12\n", "1:7: rack: " EZ_CONFIG_RACK_EXPECTED },
        { "rack: ''\n", "1:7: rack: " EZ_CONFIG_RACK_EXPECTED },
        { "rack: [r12]\n", "1:7: rack: expected a single value, not a list or mapping" },
        { "rack_prefix: 0\n", "1:14: rack_prefix: expected a prefix length from 1 to 128" },
        { "rack_prefix: 129\n", "1:14: rack_prefix: expected a prefix length from 1 to 128" },
        { "rack_prefix: /24\n", "1:14: rack_prefix: expected a prefix length from 1 to 128" },
        { "seed_after: soon\n", "1:13: seed_after: expected 'none', 'until-done' or a number of seconds" },
        { "seed_after: -5\n", "1:13: seed_after: expected 'none', 'until-done' or a number of seconds" },
        { "seed_timeout: 1e3\n", "1:15: seed_timeout: expected a number of seconds, from 0 to 10 years" },
        { "timeout: 999999999999\n", "1:10: timeout: expected a number of seconds, from 0 to 10 years" },
        { "limits: 5\n", "1:9: limits: expected a mapping" },
        { "limits:\n  connections: 0\n", "2:16: limits.connections: expected a whole number from 1 to 65535" },
        { "limits:\n  connections: 65536\n", "2:16: limits.connections: expected a whole number from 1 to 65535" },
        { "limits:\n  upload_slots: -1\n", "2:17: limits.upload_slots: expected a whole number from 0 to 65535" },
        { "limits:\n  upload_slots: 65536\n", "2:17: limits.upload_slots: expected a whole number from 0 to 65535" },
        { "limits:\n  upload_rate: 1.5M\n",
          "2:16: limits.upload_rate: expected a number of bytes (K, M, G, T: powers of 1024; KB, MB, GB, TB: powers of 1000)" },
        { "limits:\n  download_rate: 99999999999999999999\n",
          "2:18: limits.download_rate: expected a number of bytes (K, M, G, T: powers of 1024; KB, MB, GB, TB: powers of 1000)" },
        { "limits:\n  download_rate: 20000000000G\n",
          "2:18: limits.download_rate: expected a number of bytes (K, M, G, T: powers of 1024; KB, MB, GB, TB: powers of 1000)" },
        { "status:\n  format: xml\n", "2:11: status.format: expected 'json' or 'none'" },
        { "http:\n  insecure: maybe\n", "2:13: http.insecure: expected true or false" },
        { "http:\n  retries: 21\n", "2:12: http.retries: expected a whole number from 0 to 20" },
        { "http:\n  headers: [a]\n", "2:12: http.headers: expected a mapping of header names to values" },
        { "http:\n  headers:\n    'Bad Name': x\n",
          "3:5: http.headers: a header name is letters, digits and punctuation, no ':'" },
        { "http:\n  headers:\n    X-A: \"one\\ntwo\"\n", "3:10: http.headers: a header value is one line" },
        { "assume_zeroed: 1\n", "1:16: assume_zeroed: expected true or false" },
        { "ssl_cert: [a.pem]\n", "1:11: ssl_cert: expected a single value, not a list or mapping" },
        { "ssl_key:\n", "1:9: ssl_key: has no value" },
        { "ssl_key_password_file: {a: b}\n",
          "1:24: ssl_key_password_file: expected a single value, not a list or mapping" },
        { "ssl_ca: ca.pem\n", "1:1: unknown key 'ssl_ca'" },
        { "ssl:\n  cert: a.pem\n", "1:1: unknown key 'ssl'" },
        { "- torrent: a\n", "1:1: expected a mapping of settings (key: value)" },
        { "just text\n", "1:1: expected a mapping of settings (key: value)" },
        { "? [a]\n: b\n", "1:3: a key must be a plain name" },
        /* a key with a NUL in it was taken for its first part (docs/fuzzing.md) */
        { "\"torrent\\0x\": a\n", "1:1: a key must be a plain name" },
        { "http:\n  \"token\\0\": s\n", "2:3: a key must be a plain name" },
        { "a: &x 1\nb: *x\n", "2:4: aliases are not supported" },
        { "torrent: a\n---\ntarget: b\n", "2:1: one document per file" },
        { "torrent: \"open\n", "2:1: found unexpected end of stream while scanning a quoted scalar" },
        { "torrent: a\n  target: b\n", "2:9: mapping values are not allowed in this context" },
        { "limits: {connections: {a: {b: {c: {d: {e: {f: {g: {h: {i: {j: {k: {l: {m: {n: {o: {p: 1}}}}}}}}}}}}}}}}}\n",
          "1:80: nested too deeply" },
};

START_TEST(test_bad)
{
        const struct bad_case *bc = &bad_cases[_i];
        struct ez_config c;
        struct ez_err err = { "" };
        char *want = NULL;

        ez_config_init(&c);
        ck_assert_int_eq(ez_config_parse("n.yaml", bc->yaml, strlen(bc->yaml), &c, &err), -EINVAL);
        ck_assert_int_ge(asprintf(&want, "n.yaml:%s", bc->msg), 0);
        ck_assert_str_eq(err.msg, want);
        free(want);
        ez_config_free(&c);
}
END_TEST

/* A flow list of 100000 items (200 KB, under the 1 MiB a file may have):
 * refused for its length, in linear time.  The tree's arrays grew one item
 * at a time, copied over and over: 30000 items took 6 s under
 * AddressSanitizer (docs/fuzzing.md). */
START_TEST(test_wide)
{
        struct ez_config c;
        struct ez_err err = { "" };
        size_t n = 100000, len = 0, i;
        char *yaml = malloc(16 + 2 * n);

        ck_assert_ptr_nonnull(yaml);
        len += (size_t)sprintf(yaml, "trackers: [a");
        for (i = 1; i < n; i++) {
                yaml[len++] = ',';
                yaml[len++] = 'a';
        }
        yaml[len++] = ']';
        yaml[len++] = '\n';
        ez_config_init(&c);
        ck_assert_int_eq(ez_config_parse("n.yaml", yaml, len, &c, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "n.yaml:1:11: trackers: more than 64 entries");
        ez_config_free(&c);
        free(yaml);
}
END_TEST

/* A secret's value is never part of a message, whatever is wrong with it. */
START_TEST(test_secret_not_echoed)
{
        static const char *yamls[] = {
                "http:\n  token: [s3cr3t-value]\n",
                "http:\n  token: s3cr3t-value\n  token: s3cr3t-value\n",
                "http:\n  token: \"s3cr3t-value\n",
        };
        struct ez_config c;
        struct ez_err err = { "" };

        ez_config_init(&c);
        ck_assert_int_lt(ez_config_parse("n.yaml", yamls[_i], strlen(yamls[_i]), &c, &err), 0);
        ck_assert_msg(!strstr(err.msg, "s3cr3t"), "secret in: %s", err.msg);
        ez_config_free(&c);
}
END_TEST

/* Later files and keys replace what was there; lists are replaced whole. */
START_TEST(test_overlay)
{
        static const char a[] = "torrent: a\ntrackers: [t1, t2]\nhttp:\n  retries: 5\n";
        static const char b[] = "trackers: [t3]\nhttp:\n  timeout: 7\n";
        static const char c2[] = "trackers: []\n";
        struct ez_config c;
        struct ez_err err = { "" };

        ez_config_init(&c);
        ck_assert_int_eq(ez_config_parse("a", a, strlen(a), &c, &err), 0);
        ck_assert_int_eq(ez_config_parse("b", b, strlen(b), &c, &err), 0);
        ck_assert_str_eq(c.torrent, "a");
        ck_assert_uint_eq(c.n_trackers, 1);
        ck_assert_str_eq(c.trackers[0], "t3");
        ck_assert_int_eq(c.http.retries, 5);
        ck_assert_int_eq(c.http.timeout, 7);
        /* an empty list clears it */
        ck_assert_int_eq(ez_config_parse("c", c2, strlen(c2), &c, &err), 0);
        ck_assert_uint_eq(c.n_trackers, 0);
        ez_config_free(&c);
}
END_TEST

/* The certificate keys of an SSL swarm are paths, kept as written, and
 * freed with the rest; later files replace them. */
START_TEST(test_ssl_keys)
{
        static const char a[] = "ssl_cert: /etc/ezio/node.pem\nssl_key: /etc/ezio/node.key\n"
                                "ssl_key_password_file: /run/ezio/key.pw\n";
        static const char b[] = "ssl_key: \"/etc/ezio/other key.pem\"\n";
        struct ez_config c;
        struct ez_err err = { "" };

        ez_config_init(&c);
        ck_assert_ptr_null(c.ssl_cert);
        ck_assert_ptr_null(c.ssl_key);
        ck_assert_ptr_null(c.ssl_key_password_file);
        ck_assert_int_eq(ez_config_parse("a", a, strlen(a), &c, &err), 0);
        ck_assert_str_eq(c.ssl_cert, "/etc/ezio/node.pem");
        ck_assert_str_eq(c.ssl_key, "/etc/ezio/node.key");
        ck_assert_str_eq(c.ssl_key_password_file, "/run/ezio/key.pw");
        ck_assert_int_eq(ez_config_parse("b", b, strlen(b), &c, &err), 0);
        ck_assert_str_eq(c.ssl_key, "/etc/ezio/other key.pem");
        ck_assert_str_eq(c.ssl_cert, "/etc/ezio/node.pem");
        ez_config_free(&c);
        ck_assert_ptr_null(c.ssl_key);
}
END_TEST

/* ---- the value parsers the command line shares ----------------------- */

struct str_case {
        const char *s;
        int r;
};

static const struct str_case hostport_cases[] = {
        { "10.0.0.1:6881", 0 }, { "node-7.lab:1", 0 }, { "[fd00::1]:6881", 0 }, { "h:0", 0 }, { "h:65535", 0 },
        { "h:65536", -EINVAL }, { "h:", -EINVAL }, { ":6881", -EINVAL }, { "h", -EINVAL }, { "h:-1", -EINVAL },
        { "fd00::1:6881", -EINVAL }, { "[]:1", -EINVAL }, { "[::1]6881", -EINVAL }, { "a b:1", -EINVAL },
        { "h:12x", -EINVAL },
};

START_TEST(test_hostport)
{
        ck_assert_int_eq(ez_config_check_hostport(hostport_cases[_i].s), hostport_cases[_i].r);
}
END_TEST

static const struct str_case seed_after_cases[] = {
        { "none", 0 }, { "until-done", 0 }, { "0", 0 }, { "3600", 0 }, { "315360000", 0 },
        { "315360001", -EINVAL }, { "soon", -EINVAL }, { "-1", -EINVAL }, { "", -EINVAL }, { "1h", -EINVAL },
        { " 5", -EINVAL }, { "+5", -EINVAL },
};

START_TEST(test_seed_after)
{
        long v = 77;
        int r = ez_config_parse_seed_after(seed_after_cases[_i].s, &v);

        ck_assert_int_eq(r, seed_after_cases[_i].r);
        if (r < 0)
                ck_assert_int_eq(v, 77);
}
END_TEST

/* mode and verify: each word, and what is not one */
static const struct {
        const char *s;
        bool verify;            /* ez_config_parse_verify, else _mode */
        int want;               /* the value, or -EINVAL */
} word_cases[] = {
        { "deploy", false, EZ_CONFIG_DEPLOY }, { "seed", false, EZ_CONFIG_SEED },
        { "verify", false, EZ_CONFIG_VERIFY }, { "data", false, -EINVAL }, { "", false, -EINVAL },
        { "seed ", false, -EINVAL },
        { "data", true, EZ_CONFIG_VERIFY_DATA }, { "none", true, EZ_CONFIG_VERIFY_NONE },
        { "full", true, EZ_CONFIG_VERIFY_FULL }, { "FULL", true, -EINVAL }, { "true", true, -EINVAL },
        { "", true, -EINVAL },
};

START_TEST(test_words)
{
        enum ez_config_mode m = (enum ez_config_mode)77;
        enum ez_config_verify v = (enum ez_config_verify)77;
        int r = word_cases[_i].verify ? ez_config_parse_verify(word_cases[_i].s, &v)
                                      : ez_config_parse_mode(word_cases[_i].s, &m);
        int got = word_cases[_i].verify ? (int)v : (int)m;

        if (word_cases[_i].want < 0) {
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_int_eq(got, 77);
        } else {
                ck_assert_int_eq(r, 0);
                ck_assert_int_eq(got, word_cases[_i].want);
        }
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_full);
        tcase_add_test(tc, test_seed_and_defaults);
        tcase_add_test(tc, test_sample);
        tcase_add_loop_test(tc, test_bad, 0, EZ_ARRAY_LEN(bad_cases));
        tcase_add_test(tc, test_wide);
        tcase_add_loop_test(tc, test_secret_not_echoed, 0, 3);
        tcase_add_test(tc, test_overlay);
        tcase_add_test(tc, test_ssl_keys);
        tcase_add_loop_test(tc, test_hostport, 0, EZ_ARRAY_LEN(hostport_cases));
        tcase_add_loop_test(tc, test_seed_after, 0, EZ_ARRAY_LEN(seed_after_cases));
        tcase_add_loop_test(tc, test_words, 0, EZ_ARRAY_LEN(word_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
