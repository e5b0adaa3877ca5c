/*
 * tls.c - the certificates of an SSL swarm, checked with OpenSSL before
 * libtorrent sees them (see tls.h).
 *
 * libtorrent reports a bad certificate or key as an alert once the swarm
 * runs, and a certificate its peers refuse as connections that fail one
 * after the other; here the same mistakes are found while the plan is
 * checked, with the file named.  Key material is read into buffers that
 * are scrubbed before they are freed (OpenSSL's secure-memory BIO for the
 * re-encoded key); neither the key nor its password reaches a message.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "io.h"
#include "tls.h"

/* Free a buffer that held key material. */
static void scrub_free(char *p, size_t len)
{
        if (!p)
                return;
        OPENSSL_cleanse(p, len);
        free(p);
}

/* The first PEM certificate of buf (NULL if none) and how many it holds. */
static X509 *first_cert(const void *buf, size_t len, int *ret_count)
{
        BIO *b = BIO_new_mem_buf(buf, (int)len);
        X509 *first = NULL, *x;
        int n = 0;

        if (!b)
                return NULL;
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
                if (!first)
                        first = x;
                else
                        X509_free(x);
                n++;
        }
        ERR_clear_error();
        BIO_free(b);
        if (ret_count)
                *ret_count = n;
        return first;
}

/* Whether x is valid now; if not, the reason in err (prefixed by what). */
static int check_dates(X509 *x, const char *what, struct ez_err *err)
{
        if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
                return ez_err_set(err, -EINVAL, "%s is not valid yet", what);
        if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
                return ez_err_set(err, -EINVAL, "%s has expired", what);
        return 0;
}

/* What was written into the memory BIO m (written: the write succeeded),
 * as NUL-terminated text into *ret / *ret_len; m is freed either way. */
static int bio_text(BIO *m, bool written, char **ret, size_t *ret_len, struct ez_err *err)
{
        char *data = NULL, *copy;
        long n;

        if (!m || !written || (n = BIO_get_mem_data(m, &data)) <= 0 || !(copy = malloc((size_t)n + 1))) {
                BIO_free(m);
                return ez_err_set(err, -ENOMEM, "out of memory");
        }
        memcpy(copy, data, (size_t)n);
        copy[n] = '\0';
        BIO_free(m);
        *ret = copy;
        *ret_len = (size_t)n;
        return 0;
}

/* x as PEM text, NUL-terminated, into *ret / *ret_len. */
static int pem_of_cert(X509 *x, char **ret, size_t *ret_len, struct ez_err *err)
{
        BIO *m = BIO_new(BIO_s_mem());

        return bio_text(m, m && PEM_write_bio_X509(m, x), ret, ret_len, err);
}

/* The checks a CA certificate passes, wherever it comes from. */
static int check_ca_cert(X509 *x, const char *what, struct ez_err *err)
{
        if (X509_check_ca(x) == 0)
                return ez_err_set(err, -EINVAL, "%s is not a CA certificate (no basicConstraints CA:TRUE)", what);
        return check_dates(x, what, err);
}

int ez_tls_check_ca(const void *pem, size_t len, struct ez_err *err)
{
        X509 *x;
        int r;

        if (len == 0 || len > EZ_TLS_FILE_MAX)
                return ez_err_set(err, -EINVAL, "the torrent's CA certificate (ssl-cert) is %s",
                                  len ? "larger than 64 KiB" : "empty");
        x = first_cert(pem, len, NULL);
        if (!x)
                return ez_err_set(err, -EINVAL, "the torrent's ssl-cert is not a PEM certificate");
        r = check_ca_cert(x, "the torrent's CA certificate (ssl-cert)", err);
        X509_free(x);
        return r;
}

void ez_tls_subject(const void *pem, size_t len, char *buf, size_t size)
{
        X509 *x = len <= EZ_TLS_FILE_MAX ? first_cert(pem, len, NULL) : NULL;
        BIO *m = x ? BIO_new(BIO_s_mem()) : NULL;
        char *data = NULL;
        long n;

        snprintf(buf, size, "?");
        if (m && X509_NAME_print_ex(m, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0 &&
            (n = BIO_get_mem_data(m, &data)) > 0)
                snprintf(buf, size, "%.*s", (int)(n > INT_MAX ? INT_MAX : n), data);
        BIO_free(m);
        X509_free(x);
}

int ez_tls_read_ca(const char *path, char **ret_pem, size_t *ret_len, struct ez_err *err)
{
        char *buf = NULL;
        size_t len = 0;
        X509 *x;
        int n = 0, r;

        r = ez_io_read_file(path, EZ_TLS_FILE_MAX, &buf, &len, err);
        if (r == -EFBIG)
                return ez_err_set(err, r, "'%s' is larger than 64 KiB: not a CA certificate", path);
        if (r < 0)
                return r;
        if (memmem(buf, len, "PRIVATE KEY-----", 16)) {
                scrub_free(buf, len);
                return ez_err_set(err, -EINVAL, "'%s' holds a private key: give the CA's certificate alone "
                                  "(the torrent is public, the CA's key must stay with the deployer)", path);
        }
        x = first_cert(buf, len, &n);
        free(buf);
        if (!x)
                return ez_err_set(err, -EINVAL, "'%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path);
        if (n > 1)
                r = ez_err_set(err, -EINVAL, "'%s' holds %d certificates: give the CA's own alone "
                               "(peers check against that one only)", path, n);
        else {
                char what[PATH_MAX + 2];

                snprintf(what, sizeof(what), "'%s'", path);
                r = check_ca_cert(x, what, err);
        }
        if (r >= 0)
                r = pem_of_cert(x, ret_pem, ret_len, err);
        X509_free(x);
        return r;
}

/* A key or password file (what names it in errors), into *ret / *ret_len
 * (scrub it).  It must be readable by its owner alone (as ssh wants of
 * its keys); pipes and other non-regular files pass. */
static int read_private(const char *path, const char *what, char **ret, size_t *ret_len, struct ez_err *err)
{
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return ez_err_set(err, -errno, "%s '%s': %s", what, path, strerror(errno));
        if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)))
                return ez_err_set(err, -EACCES, "%s '%s' is accessible by group or others (mode %04o): "
                                  "chmod 600 it", what, path, (unsigned)(st.st_mode & 07777));
        r = ez_io_read_file(path, EZ_TLS_FILE_MAX, ret, ret_len, err);
        if (r == -EFBIG)
                return ez_err_set(err, r, "%s '%s' is larger than 64 KiB", what, path);
        return r;
}

struct password {
        const char *pw;         /* NULL: none given */
        bool asked;
};

/* OpenSSL's passphrase callback: never a prompt on the terminal. */
static int give_password(char *buf, int size, int rwflag, void *u)
{
        struct password *p = u;
        size_t n;

        (void)rwflag;
        p->asked = true;
        if (!p->pw)
                return -1;
        n = strlen(p->pw);
        if (n > (size_t)size)
                return -1;
        memcpy(buf, p->pw, n);
        return (int)n;
}

/* The first line of the password file, in *ret (scrub it). */
static int read_password(const char *path, char **ret, size_t *ret_cap, struct ez_err *err)
{
        char *buf = NULL;
        size_t len = 0;
        int r;

        r = read_private(path, "the key's password file", &buf, &len, err);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!buf[0]) {
                scrub_free(buf, len);
                return ez_err_set(err, -EINVAL, "the key's password file '%s' has an empty first line", path);
        }
        *ret = buf;
        *ret_cap = len;
        return 0;
}

/* Whether x names "*" or name: a DNS subjectAltName, or the last common
 * name, as libtorrent checks a peer's certificate against the torrent. */
static bool names_torrent(X509 *x, const char *name)
{
        GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        X509_NAME *subject = X509_get_subject_name(x);
        ASN1_STRING *cn = NULL;
        bool ok = false;
        int i;

        for (i = 0; !ok && i < sk_GENERAL_NAME_num(gens); i++) {
                GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
                const unsigned char *d;
                int n;

                if (g->type != GEN_DNS)
                        continue;
                d = ASN1_STRING_get0_data(g->d.dNSName);
                n = ASN1_STRING_length(g->d.dNSName);
                ok = (n == 1 && d[0] == '*') || ((size_t)n == strlen(name) && memcmp(d, name, (size_t)n) == 0);
        }
        GENERAL_NAMES_free(gens);
        i = -1;
        while ((i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0)
                cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
        if (!ok && cn) {
                const unsigned char *d = ASN1_STRING_get0_data(cn);
                int n = ASN1_STRING_length(cn);

                ok = (n == 1 && d[0] == '*') || ((size_t)n == strlen(name) && memcmp(d, name, (size_t)n) == 0);
        }
        return ok;
}

/* Why ca did not sign x, or "" (into buf). */
static void check_signed(X509 *x, X509 *ca, char *buf, size_t size)
{
        X509_STORE *st = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();

        buf[0] = '\0';
        if (!st || !ctx || !X509_STORE_add_cert(st, ca) || !X509_STORE_CTX_init(ctx, st, x, NULL))
                snprintf(buf, size, "out of memory");
        else if (X509_verify_cert(ctx) != 1)
                snprintf(buf, size, "%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        ERR_clear_error();
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(st);
}

/* key as unencrypted PEM, through a BIO that OpenSSL scrubs. */
static int pem_of_key(EVP_PKEY *key, char **ret, size_t *ret_len, struct ez_err *err)
{
        BIO *m = BIO_new(BIO_s_secmem());

        return bio_text(m, m && PEM_write_bio_PrivateKey(m, key, NULL, NULL, 0, NULL, NULL), ret, ret_len, err);
}

/* The private key at path, decrypted with pw if it needs one. */
static int load_key(const char *path, const char *pw, const char *pw_path, EVP_PKEY **ret, struct ez_err *err)
{
        struct password p = { .pw = pw };
        char *buf = NULL;
        size_t len = 0;
        EVP_PKEY *key = NULL;
        BIO *b;
        int r;

        r = read_private(path, "the private key", &buf, &len, err);
        if (r < 0)
                return r;
        b = BIO_new_mem_buf(buf, (int)len);
        if (b)
                key = PEM_read_bio_PrivateKey(b, NULL, give_password, &p);
        ERR_clear_error();
        BIO_free(b);
        scrub_free(buf, len);
        if (key) {
                *ret = key;
                return 0;
        }
        if (!b)
                return ez_err_set(err, -ENOMEM, "out of memory");
        if (p.asked && !pw)
                return ez_err_set(err, -EINVAL, "the private key '%s' is encrypted: give its password file "
                                  "(ssl_key_password_file, --ssl-key-password-file)", path);
        if (p.asked)
                return ez_err_set(err, -EINVAL, "the private key '%s' cannot be decrypted with the password in '%s'",
                                  path, pw_path);
        return ez_err_set(err, -EINVAL, "'%s' holds no PEM private key", path);
}

int ez_tls_load_identity(const char *cert_path, const char *key_path, const char *password_path,
                         const void *ca_pem, size_t ca_len, const char *torrent_name,
                         struct ez_tls_identity **ret, struct ez_err *err)
{
        struct ez_tls_identity *id = NULL;
        char *buf = NULL, *pw = NULL, why[256];
        size_t len = 0, pw_cap = 0;
        X509 *cert = NULL, *ca = NULL;
        EVP_PKEY *key = NULL;
        int r;

        r = ez_io_read_file(cert_path, EZ_TLS_FILE_MAX, &buf, &len, err);
        if (r < 0) {
                if (r == -EFBIG)
                        ez_err_set(err, r, "the certificate '%s' is larger than 64 KiB", cert_path);
                goto out;
        }
        cert = first_cert(buf, len, NULL);
        free(buf);
        if (!cert) {
                r = ez_err_set(err, -EINVAL, "'%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", cert_path);
                goto out;
        }
        {
                char what[PATH_MAX + 20];

                snprintf(what, sizeof(what), "the certificate '%s'", cert_path);
                r = check_dates(cert, what, err);
        }
        if (r < 0)
                goto out;
        if (password_path && (r = read_password(password_path, &pw, &pw_cap, err)) < 0)
                goto out;
        r = load_key(key_path, pw, password_path, &key, err);
        if (r < 0)
                goto out;
        if (X509_check_private_key(cert, key) != 1) {
                ERR_clear_error();
                r = ez_err_set(err, -EINVAL, "the private key '%s' does not belong to the certificate '%s'", key_path,
                               cert_path);
                goto out;
        }
        id = calloc(1, sizeof(*id));
        if (!id) {
                r = ez_err_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        r = pem_of_cert(cert, &id->cert_pem, &id->cert_len, err);
        if (r >= 0)
                r = pem_of_key(key, &id->key_pem, &id->key_len, err);
        if (r < 0)
                goto out;
        /* what peers will check: signed by the torrent's CA, naming the torrent */
        ca = ca_len <= EZ_TLS_FILE_MAX ? first_cert(ca_pem, ca_len, NULL) : NULL;
        if (ca)
                check_signed(cert, ca, why, sizeof(why));
        if (ca && why[0])
                snprintf(id->warning, sizeof(id->warning), "the certificate '%s' is not signed by the torrent's CA "
                         "(%s): no peer will accept this node", cert_path, why);
        else if (!names_torrent(cert, torrent_name))
                snprintf(id->warning, sizeof(id->warning), "the certificate '%s' names neither '*' nor the torrent "
                         "'%s' (subjectAltName DNS or CN): no peer will accept this node", cert_path, torrent_name);
        *ret = id;
        id = NULL;
        r = 0;
out:
        ez_tls_identity_free(id);
        if (pw)
                scrub_free(pw, pw_cap);
        EVP_PKEY_free(key);
        X509_free(cert);
        X509_free(ca);
        return r;
}

void ez_tls_identity_free(struct ez_tls_identity *id)
{
        if (!id)
                return;
        free(id->cert_pem);
        scrub_free(id->key_pem, id->key_len);
        free(id);
}
