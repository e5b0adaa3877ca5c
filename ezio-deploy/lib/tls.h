/*
 * tls.h - the certificates of an SSL swarm.
 *
 * An SSL torrent carries the deployer's CA certificate inside its info
 * dictionary (key "ssl-cert", PEM text): libtorrent then talks to peers
 * only over TLS, and both ends of every connection must show a
 * certificate signed by that CA.  This module checks the files an
 * operator gives before anything else happens: the CA for ezio-mktorrent,
 * and a node's certificate and private key for ezio-deploy, so that a
 * wrong file is one clear message instead of a swarm that never connects.
 * A private key or its password never appears in a message.
 */
#ifndef EZ_TLS_H
#define EZ_TLS_H

#include <stddef.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most a certificate, key or password file may hold. */
#define EZ_TLS_FILE_MAX (64u * 1024)

/*
 * Read the CA certificate at path for an SSL torrent: exactly one PEM
 * certificate, a CA's (basicConstraints CA:TRUE, or an old self-signed
 * one), valid now, and no private key in the file (the torrent is
 * public).  Returns 0 with the certificate PEM-encoded again in *ret_pem
 * (NUL-terminated, the caller frees it) and its length in *ret_len, or
 * -errno (-EINVAL for a file that is not that) with err naming path.
 */
int ez_tls_read_ca(const char *path, char **ret_pem, size_t *ret_len, struct ez_err *err);

/* Check a torrent's ssl-cert value the same way (without the file rules).
 * Returns 0, or -EINVAL with the reason. */
int ez_tls_check_ca(const void *pem, size_t len, struct ez_err *err);

/* The subject of the first certificate in pem ("CN=ezio deploy CA"), into
 * buf (at most size bytes with the NUL); "?" when it does not parse. */
void ez_tls_subject(const void *pem, size_t len, char *buf, size_t size);

/* A node's identity in an SSL swarm, ready for libtorrent. */
struct ez_tls_identity {
        char *cert_pem;                 /* the node's certificate */
        size_t cert_len;
        char *key_pem;                  /* its private key, unencrypted: scrubbed by the free */
        size_t key_len;
        char warning[EZ_ERR_MSG_MAX];   /* "" or why peers will refuse this certificate */
};

/*
 * Load the certificate at cert_path and the private key at key_path
 * (decrypted with the first line of password_path when that is not NULL)
 * for a swarm whose torrent is named torrent_name and carries the CA
 * ca_pem.  Refused (-EINVAL, -EACCES for a key or password file that
 * group or others may access, -errno for an unreadable file): a file
 * that holds no certificate or key, an encrypted key without a password
 * or with the wrong one, a key that does not belong to the certificate,
 * a certificate outside its validity period.  A certificate the CA did not
 * sign, or that names neither "*" nor the torrent, is loaded with a
 * warning: no peer will accept it.  Returns 0 and *ret (free it with
 * ez_tls_identity_free), or -errno with err.
 */
int ez_tls_load_identity(const char *cert_path, const char *key_path, const char *password_path,
                         const void *ca_pem, size_t ca_len, const char *torrent_name,
                         struct ez_tls_identity **ret, struct ez_err *err);

/* Scrub the key and free everything.  Accepts NULL. */
void ez_tls_identity_free(struct ez_tls_identity *id);

#ifdef __cplusplus
}
#endif

#endif
