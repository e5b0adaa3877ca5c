/*
 * check_fetch.c - what fetch.c decides without a server: which strings
 * are URLs, what of a URL may be shown, file:// through the real libcurl
 * (found, missing, too large), schemes refused, and the SHA-256 the
 * torrent is checked against, and ez_fetch_torrent() (path or URL, the
 * SHA-256, the parse).  HTTP(S) is tested against real servers in
 * tests/integration/test-fetch.
 */
#include <errno.h>
#include <stdint.h>

#include "fetch.h"
#include "mktorrent.h"
#include "torrent.h"
#include "testutil.h"

struct url_case {
        const char *s;
        bool url;
};

static const struct url_case url_cases[] = {
        { "http://h/x.torrent", true }, { "https://h/x", true }, { "file:///srv/x.torrent", true },
        { "HTTPS://H/X", true }, { "svn+ssh://h/x", true }, { "/srv/x.torrent", false },
        { "x.torrent", false }, { "./http://x", false }, { "c:/x", false }, { "://x", false },
        { "1http://x", false }, { "", false }, { "http:/x", false },
};

START_TEST(test_is_url)
{
        ck_assert_int_eq(ez_fetch_is_url(url_cases[_i].s), url_cases[_i].url);
}
END_TEST

struct redact_case {
        const char *url, *shown;
};

static const struct redact_case redact_cases[] = {
        { "https://swift.example/v1/AUTH_a/c/o.torrent", "https://swift.example/v1/AUTH_a/c/o.torrent" },
        { "https://swift.example/v1/AUTH_a/c/o?temp_url_sig=abcdef&temp_url_expires=99",
          "https://swift.example/v1/AUTH_a/c/o?..." },
        { "http://user:pass@h:8080/x.torrent", "http://h:8080/x.torrent" },
        { "http://user:pass@h/x?sig=1#frag", "http://h/x?..." },
        { "http://h/x#frag", "http://h/x?..." },
        { "http://h/a@b", "http://h/a@b" },
        { "file:///srv/x.torrent", "file:///srv/x.torrent" },
        { "not a url", "not a url" },
};

START_TEST(test_redact)
{
        char out[256];

        ez_fetch_redact(redact_cases[_i].url, out, sizeof(out));
        ck_assert_str_eq(out, redact_cases[_i].shown);
}
END_TEST

START_TEST(test_redact_small)
{
        char out[8];

        ez_fetch_redact("https://swift.example/v1/AUTH_a/c/o?sig=1", out, sizeof(out));
        ck_assert_str_eq(out, "https:/");
        ez_fetch_redact("x", out, 0);   /* no room: nothing written, no crash */
}
END_TEST

START_TEST(test_file_url)
{
        char *dir = tu_mkdtemp();
        char *path = tu_path(dir, "x.torrent");
        char *url = NULL, *missing = NULL;
        struct ez_fetch_opts o = { .max_size = 1000 };
        struct ez_err err = { "" };
        void *buf = NULL;
        size_t len = 7;

        tu_fill(path, 'a', 1000, 0);
        ck_assert_int_ge(asprintf(&url, "file://%s", path), 0);
        ck_assert_int_eq(ez_fetch(url, &o, &buf, &len, &err), 0);
        ck_assert_uint_eq(len, 1000);
        ck_assert_int_eq(((char *)buf)[999], 'a');
        ck_assert_int_eq(((char *)buf)[1000], '\0');
        free(buf);
        buf = NULL;

        /* one byte over the cap: refused, output untouched */
        tu_fill(path, 'a', 1, 1000);
        len = 7;
        ck_assert_int_eq(ez_fetch(url, &o, &buf, &len, &err), -EFBIG);
        ck_assert_ptr_null(buf);
        ck_assert_uint_eq(len, 7);
        ck_assert_ptr_nonnull(strstr(err.msg, "larger than 1000 bytes"));

        ck_assert_int_ge(asprintf(&missing, "file://%s/absent.torrent", dir), 0);
        ck_assert_int_eq(ez_fetch(missing, &o, &buf, &len, &err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err.msg, "absent.torrent"));

        free(missing);
        free(url);
        free(path);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_schemes_refused)
{
        static const char *urls[] = { "ftp://h/x.torrent", "gopher://h/x", "dict://h/x", "scp://h/x" };
        struct ez_err err = { "" };
        void *buf = NULL;
        size_t len = 0;

        ck_assert_int_eq(ez_fetch(urls[_i], NULL, &buf, &len, &err), -EPROTO);
        ck_assert_ptr_nonnull(strstr(err.msg, "only http://, https:// and file:// URLs"));
        ck_assert_ptr_null(buf);
}
END_TEST

/* Nothing listens on port 1 of loopback: a connection error, retried
 * o.retries times, and said so. */
START_TEST(test_refused_connection_retried)
{
        struct ez_fetch_opts o = { .retries = 2, .backoff_ms = 10, .connect_timeout = 2 };
        struct ez_err err = { "" };
        void *buf = NULL;
        size_t len = 0;

        ck_assert_int_eq(ez_fetch("http://127.0.0.1:1/x.torrent", &o, &buf, &len, &err), -EIO);
        ck_assert_msg(strncmp(err.msg, "after 3 attempts: http://127.0.0.1:1/x.torrent: ", 48) == 0, "%s", err.msg);
}
END_TEST

struct sha_case {
        const char *in, *hex;
};

static const struct sha_case sha_cases[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
};

START_TEST(test_sha256)
{
        char hex[65];

        ck_assert_int_eq(ez_fetch_sha256_hex(sha_cases[_i].in, strlen(sha_cases[_i].in), hex), 0);
        ck_assert_str_eq(hex, sha_cases[_i].hex);
}
END_TEST

/* The one call that gets a deploy its torrent: from a path or a URL,
 * checked against the SHA-256 given, parsed; a refusal leaves *ret alone
 * and names the torrent. */
START_TEST(test_fetch_torrent)
{
        struct ez_mk_options mo = { .kind = -1, .piece_length = 16384 };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_fetch_opts o = { .max_size = 1 << 20 };
        struct ez_err err = { "" };
        struct ez_torrent *t = NULL, *sentinel = (struct ez_torrent *)&err;
        char *dir = tu_mkdtemp(), *src = tu_path(dir, "src"), *path = tu_path(dir, "x.torrent");
        char *junk = tu_path(dir, "junk.torrent"), *url = NULL, *junk_url = NULL, hex[65];
        static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
        unsigned char data[65536];

        tu_random(data, sizeof(data), 3);
        tu_write_at(src, data, sizeof(data), 0);
        mo.source = src;
        ck_assert_int_eq(ez_mk_torrent(&mo, &out, &res, NULL), 0);
        tu_write_at(path, out.data, out.len, 0);
        ck_assert_int_eq(ez_fetch_sha256_hex(out.data, out.len, hex), 0);
        tu_fill(junk, 'x', 100, 0);
        ck_assert_int_ge(asprintf(&url, "file://%s", path), 0);
        ck_assert_int_ge(asprintf(&junk_url, "file://%s", junk), 0);

        /* a path and a URL, with and without the SHA-256 */
        ck_assert_msg(ez_fetch_torrent(path, NULL, &o, &t, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(t->total_length, sizeof(data));
        ez_torrent_free(t);
        ck_assert_msg(ez_fetch_torrent(path, hex, &o, &t, &err) == 0, "%s", err.msg);
        ez_torrent_free(t);
        ck_assert_msg(ez_fetch_torrent(url, hex, &o, &t, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(t->info_hash_hex, res.info_hash_hex);
        ez_torrent_free(t);

        /* another SHA-256: refused, both named, nothing returned */
        t = sentinel;
        ck_assert_int_eq(ez_fetch_torrent(path, zeros, &o, &t, &err), -EBADMSG);
        ck_assert_ptr_eq(t, sentinel);
        ck_assert_ptr_nonnull(strstr(err.msg, hex));
        ck_assert_ptr_nonnull(strstr(err.msg, "expected 0000"));
        ck_assert_int_eq(ez_fetch_torrent(url, zeros, &o, &t, &err), -EBADMSG);
        ck_assert_ptr_eq(t, sentinel);
        ck_assert_int_eq(strncmp(err.msg, url, strlen(url)), 0);

        /* not a torrent: the parser's reason behind the URL */
        ck_assert_int_lt(ez_fetch_torrent(junk_url, NULL, &o, &t, &err), 0);
        ck_assert_ptr_eq(t, sentinel);
        ck_assert_int_eq(strncmp(err.msg, junk_url, strlen(junk_url)), 0);
        ck_assert_int_lt(ez_fetch_torrent(junk, NULL, &o, &t, &err), 0);
        ck_assert_ptr_eq(t, sentinel);

        ez_buf_free(&out);
        free(url);
        free(junk_url);
        free(junk);
        free(path);
        free(src);
        tu_rmtree(dir);
}
END_TEST

/* An answer's body taken in piece by piece, as libcurl hands it over:
 * kept whole up to the cap, refused at the piece that would pass it. */
struct body_case {
        uint64_t max;
        size_t pieces[4];       /* sizes; 0 ends the list but for the first */
        size_t n;
        int r;                  /* of the last piece */
        size_t len;             /* bytes kept */
};

static const struct body_case body_cases[] = {
        { 0, { 0 }, 1, 0, 0 },
        { 0, { 70000, 70000, 1 }, 3, 0, 140001 },
        { 100, { 60, 40 }, 2, 0, 100 },
        { 100, { 60, 41 }, 2, -EFBIG, 60 },
        { 100, { 101 }, 1, -EFBIG, 0 },
        { 1, { 0, 1, 0 }, 3, 0, 1 },
        { 1, { SIZE_MAX }, 1, -EFBIG, 0 },
        { 0, { 10, SIZE_MAX - 5 }, 2, -ENOMEM, 10 },
};

START_TEST(test_body)
{
        const struct body_case *c = &body_cases[_i];
        static char data[140001];
        struct ez_fetch_body b = { .max = c->max };
        size_t i;
        int r = 0;

        memset(data, 'x', sizeof(data));
        for (i = 0; i < c->n; i++) {
                r = ez_fetch_body_add(&b, data, c->pieces[i]);
                if (i + 1 < c->n)
                        ck_assert_int_eq(r, 0);
        }
        ck_assert_int_eq(r, c->r);
        ck_assert_uint_eq(b.len, c->len);
        ck_assert_int_eq(b.too_big, c->r == -EFBIG);
        if (b.buf)
                ck_assert_int_eq(b.buf[b.len], '\0');
        free(b.buf);
}
END_TEST

/* What is not a torrent is refused before anything else sees it, named
 * as given, and *ret stays as it was. */
START_TEST(test_check_torrent)
{
        static const char page[] = "<html><body>404 Not Found</body></html>\n";
        struct ez_torrent *t = NULL, *sentinel = (struct ez_torrent *)&t;
        struct ez_err err = { "" };
        char hex[65];

        t = sentinel;
        ck_assert_int_eq(ez_fetch_check_torrent(page, strlen(page), NULL, "https://h/x.torrent", &t, &err), -EBADMSG);
        ck_assert_ptr_eq(t, sentinel);
        ck_assert_int_eq(strncmp(err.msg, "https://h/x.torrent: bencode:", 29), 0);
        ck_assert_int_eq(ez_fetch_sha256_hex(page, strlen(page), hex), 0);
        hex[0] = hex[0] == '0' ? '1' : '0';
        ck_assert_int_eq(ez_fetch_check_torrent(page, strlen(page), hex, "https://h/x.torrent", &t, &err), -EBADMSG);
        ck_assert_ptr_eq(t, sentinel);
        ck_assert_ptr_nonnull(strstr(err.msg, "SHA-256"));
        ck_assert_int_eq(ez_fetch_check_torrent("", 0, NULL, "empty", &t, &err), -EBADMSG);
        ck_assert_ptr_eq(t, sentinel);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("fetch");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_is_url, 0, EZ_ARRAY_LEN(url_cases));
        tcase_add_loop_test(tc, test_redact, 0, EZ_ARRAY_LEN(redact_cases));
        tcase_add_test(tc, test_redact_small);
        tcase_add_test(tc, test_file_url);
        tcase_add_loop_test(tc, test_schemes_refused, 0, 4);
        tcase_add_test(tc, test_refused_connection_retried);
        tcase_add_loop_test(tc, test_sha256, 0, EZ_ARRAY_LEN(sha_cases));
        tcase_add_test(tc, test_fetch_torrent);
        tcase_add_loop_test(tc, test_body, 0, EZ_ARRAY_LEN(body_cases));
        tcase_add_test(tc, test_check_torrent);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
