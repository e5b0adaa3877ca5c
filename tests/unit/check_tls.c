/*
 * check_tls.c - the certificates of an SSL swarm: the CA that
 * ezio-mktorrent puts in a torrent, and a node's certificate and key as
 * ezio-deploy loads them, each mistake refused with the file named and
 * no secret in the message.
 *
 * The fixtures under tests/data/tls are throwaway test keys made with the
 * openssl command (valid for 100 years): ca.pem signed node.pem ('*') and
 * named.pem (DNS name image.raw), other-ca.pem signed foreign.pem;
 * node-enc.key is node.key encrypted with the password in node.pw.  Git
 * keeps no file modes, so the keys are copied to a private directory
 * first.
 */
#include <errno.h>
#include <sys/stat.h>

#include "io.h"
#include "tls.h"
#include "testutil.h"

#define DATA "tests/data/tls/"

/* ---- the CA for ezio-mktorrent ------------------------------------- */

static const struct {
        const char *file;
        int r;
        const char *msg;        /* part of the message, or NULL */
} ca_cases[] = {
        { DATA "ca.pem", 0, NULL },
        { DATA "other-ca.pem", 0, NULL },
        { DATA "node.pem", -EINVAL, "is not a CA certificate" },
        { DATA "node.key", -EINVAL, "holds a private key" },
        { DATA "node-enc.key", -EINVAL, "holds a private key" },
        { DATA "node.pw", -EINVAL, "holds no PEM certificate" },
        { DATA "absent.pem", -ENOENT, "absent.pem" },
        { DATA, -EINVAL, NULL },        /* a directory */
};

START_TEST(test_read_ca)
{
        struct ez_err err = { "" };
        char *pem = (char *)"untouched";
        size_t len = 77;
        int r = ez_tls_read_ca(ca_cases[_i].file, &pem, &len, &err);

        ck_assert_msg(r == ca_cases[_i].r, "%s: %d (%s)", ca_cases[_i].file, r, err.msg);
        if (r < 0) {
                ck_assert_str_eq(pem, "untouched");
                ck_assert_uint_eq(len, 77);
                if (ca_cases[_i].msg)
                        ck_assert_msg(strstr(err.msg, ca_cases[_i].msg), "%s", err.msg);
                ck_assert_msg(!strstr(err.msg, "-----END"), "PEM text in: %s", err.msg);
                return;
        }
        ck_assert_uint_eq(strlen(pem), len);
        ck_assert(strncmp(pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
        ck_assert_int_eq(ez_tls_check_ca(pem, len, &err), 0);
        free(pem);
}
END_TEST

/* Two certificates in one file: libtorrent would trust the first alone. */
START_TEST(test_read_ca_two)
{
        char *dir = tu_mkdtemp(), *path = tu_path(dir, "two.pem"), *a = NULL, *b = NULL, *pem = NULL;
        struct ez_err err = { "" };
        size_t la = 0, lb = 0, len = 0;

        ck_assert_int_eq(ez_io_read_file(DATA "ca.pem", 1 << 16, &a, &la, NULL), 0);
        ck_assert_int_eq(ez_io_read_file(DATA "other-ca.pem", 1 << 16, &b, &lb, NULL), 0);
        tu_write_at(path, a, la, 0);
        tu_write_at(path, b, lb, (off_t)la);
        ck_assert_int_eq(ez_tls_read_ca(path, &pem, &len, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, "holds 2 certificates"), "%s", err.msg);
        free(a);
        free(b);
        free(path);
        tu_rmtree(dir);
}
END_TEST

/* A torrent's ssl-cert value, from anyone. */
START_TEST(test_check_ca)
{
        static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        struct ez_err err = { "" };
        char *ca = NULL, *node = NULL, subject[64];
        size_t lc = 0, ln = 0;

        ck_assert_int_eq(ez_io_read_file(DATA "ca.pem", 1 << 16, &ca, &lc, NULL), 0);
        ck_assert_int_eq(ez_io_read_file(DATA "node.pem", 1 << 16, &node, &ln, NULL), 0);
        ck_assert_int_eq(ez_tls_check_ca(ca, lc, &err), 0);
        ck_assert_int_eq(ez_tls_check_ca(node, ln, &err), -EINVAL);
        ck_assert_int_eq(ez_tls_check_ca(junk, sizeof(junk) - 1, &err), -EINVAL);
        ck_assert_int_eq(ez_tls_check_ca(ca, lc - 40, &err), -EINVAL);          /* truncated */
        ck_assert_int_eq(ez_tls_check_ca("", 0, &err), -EINVAL);
        ck_assert_int_eq(ez_tls_check_ca(ca, EZ_TLS_FILE_MAX + 1, &err), -EINVAL);  /* not read past 64 KiB */
        ez_tls_subject(ca, lc, subject, sizeof(subject));
        ck_assert_str_eq(subject, "CN=ezio test CA");
        ez_tls_subject(junk, sizeof(junk) - 1, subject, sizeof(subject));
        ck_assert_str_eq(subject, "?");
        free(ca);
        free(node);
}
END_TEST

/* ---- a node's identity for ezio-deploy ------------------------------ */

static const struct {
        const char *cert, *key, *pw;    /* names in the private copy; pw may be NULL */
        const char *torrent;            /* the torrent's name */
        int r;
        const char *msg;                /* part of the message or of the warning ("" for none) */
} id_cases[] = {
        { "node.pem", "node.key", NULL, "image.raw", 0, "" },
        { "named.pem", "named.key", NULL, "image.raw", 0, "" },
        { "named.pem", "named.key", NULL, "image.raw2", 0, "names neither '*' nor the torrent 'image.raw2'" },
        { "foreign.pem", "foreign.key", NULL, "image.raw", 0, "is not signed by the torrent's CA" },
        { "node.pem", "node-enc.key", "node.pw", "image.raw", 0, "" },
        { "node.pem", "node-enc.key", NULL, "image.raw", -EINVAL, "is encrypted: give its password file" },
        { "node.pem", "node-enc.key", "wrong.pw", "image.raw", -EINVAL, "cannot be decrypted with the password" },
        { "node.pem", "named.key", NULL, "image.raw", -EINVAL, "does not belong to the certificate" },
        { "node.pem", "open.key", NULL, "image.raw", -EACCES, "accessible by group or others (mode 0644)" },
        { "node.pem", "node.key", "open.pw", "image.raw", -EACCES, "accessible by group or others (mode 0640)" },
        { "node.pem", "empty.pw", NULL, "image.raw", -EINVAL, "holds no PEM private key" },
        { "node.pem", "node.key", "empty.pw", "image.raw", -EINVAL, "has an empty first line" },
        { "node.key", "node.key", NULL, "image.raw", -EINVAL, "holds no PEM certificate" },
        { "node.pem", "absent.key", NULL, "image.raw", -ENOENT, "absent.key" },
        { "absent.pem", "node.key", NULL, "image.raw", -ENOENT, "absent.pem" },
};

/* dir/name holding len bytes of buf, mode mode */
static void put(const char *dir, const char *name, const void *buf, size_t len, mode_t mode)
{
        char *path = tu_path(dir, name);

        tu_write_at(path, buf, len, 0);
        ck_assert_int_eq(chmod(path, mode), 0);
        free(path);
}

static void copy(const char *dir, const char *from, const char *name, mode_t mode)
{
        char *buf = NULL;
        size_t len = 0;

        ck_assert_int_eq(ez_io_read_file(from, 1 << 16, &buf, &len, NULL), 0);
        put(dir, name, buf, len, mode);
        free(buf);
}

START_TEST(test_identity)
{
        static const char *const names[] = { "node.pem", "node.key", "named.pem", "named.key", "foreign.pem",
                                             "foreign.key", "node-enc.key", "node.pw" };
        char *dir = tu_mkdtemp(), *cert, *key, *pw = NULL, *ca = NULL, from[128];
        struct ez_tls_identity *id = (struct ez_tls_identity *)&dir;    /* must stay on failure */
        struct ez_err err = { "" };
        size_t lc = 0, i;
        int r;

        for (i = 0; i < EZ_ARRAY_LEN(names); i++) {
                snprintf(from, sizeof(from), DATA "%s", names[i]);
                copy(dir, from, names[i], strstr(names[i], ".pem") ? 0644 : 0600);
        }
        copy(dir, DATA "node.key", "open.key", 0644);
        copy(dir, DATA "node.pw", "open.pw", 0640);
        put(dir, "wrong.pw", "not-the-password\n", 17, 0600);
        put(dir, "empty.pw", "\n", 1, 0600);
        ck_assert_int_eq(ez_io_read_file(DATA "ca.pem", 1 << 16, &ca, &lc, NULL), 0);

        cert = tu_path(dir, id_cases[_i].cert);
        key = tu_path(dir, id_cases[_i].key);
        if (id_cases[_i].pw)
                pw = tu_path(dir, id_cases[_i].pw);
        r = ez_tls_load_identity(cert, key, pw, ca, lc, id_cases[_i].torrent, &id, &err);
        ck_assert_msg(r == id_cases[_i].r, "case %d: %d (%s)", _i, r, err.msg);
        if (r < 0) {
                ck_assert_ptr_eq(id, (struct ez_tls_identity *)&dir);
                ck_assert_msg(strstr(err.msg, id_cases[_i].msg), "%s", err.msg);
                /* neither key material nor the password in the message */
                ck_assert_msg(!strstr(err.msg, "-----END") && !strstr(err.msg, "pw-fixture"), "%s", err.msg);
        } else {
                ck_assert(strncmp(id->cert_pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
                ck_assert(strncmp(id->key_pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);  /* decrypted */
                ck_assert_uint_eq(strlen(id->key_pem), id->key_len);
                if (*id_cases[_i].msg)
                        ck_assert_msg(strstr(id->warning, id_cases[_i].msg), "%s", id->warning);
                else
                        ck_assert_str_eq(id->warning, "");
                ez_tls_identity_free(id);
        }
        ez_tls_identity_free(NULL);
        free(ca);
        free(cert);
        free(key);
        free(pw);
        tu_rmtree(dir);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("tls");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_read_ca, 0, EZ_ARRAY_LEN(ca_cases));
        tcase_add_test(tc, test_read_ca_two);
        tcase_add_test(tc, test_check_ca);
        tcase_add_loop_test(tc, test_identity, 0, EZ_ARRAY_LEN(id_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
