/*
 * torrent.c - parse native and EZIO-compatible torrents into a layout, and
 * bencode native ones (see torrent.h).
 *
 * Parsing is strict about everything ezio relies on to write a disk (sizes,
 * piece count, the extent map) and lenient about the rest (unknown keys are
 * ignored, so newer writers stay readable).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "io.h"
#include "merkle.h"
#include "torrent.h"

_Static_assert(EZ_TORRENT_MIN_PIECE % EZ_MERKLE_BLOCK == 0, "a piece is whole blocks of the SHA-256 tree");

void ez_torrent_free(struct ez_torrent *t)
{
        size_t i;

        if (!t)
                return;
        free(t->name);
        ez_layout_free(t->layout);
        for (i = 0; i < t->n_trackers; i++)
                free(t->trackers[i]);
        free(t->trackers);
        for (i = 0; i < t->n_web_seeds; i++)
                free(t->web_seeds[i]);
        free(t->web_seeds);
        free(t->raw);
        free(t);
}

static const struct ez_bnode *get_typed(const struct ez_bdoc *d, const struct ez_bnode *dict,
                                        const char *key, enum ez_bnode_type type)
{
        const struct ez_bnode *n = ez_bdict_get(d, dict, key);

        return n && n->type == type ? n : NULL;
}

/* Append a copy of s unless arr holds it already.  Past
 * EZ_TORRENT_MAX_URLS the rest is ignored: the duplicate check is
 * linear, and a hostile torrent of a million URLs would otherwise make
 * the parse quadratic (docs/fuzzing.md). */
static int add_string(char ***arr, size_t *n, const char *s, size_t len)
{
        char **na, *c;
        size_t i;

        if (*n >= EZ_TORRENT_MAX_URLS)
                return 0;
        for (i = 0; i < *n; i++)
                if (strlen((*arr)[i]) == len && memcmp((*arr)[i], s, len) == 0)
                        return 0;
        if (memchr(s, '\0', len))
                return 0;       /* not representable as a C string: skip */
        c = strndup(s, len);
        if (!c)
                return -ENOMEM;
        na = realloc(*arr, (*n + 1) * sizeof(*na));
        if (!na) {
                free(c);
                return -ENOMEM;
        }
        na[(*n)++] = c;
        *arr = na;
        return 0;
}

int ez_torrent_parse_hex_offset(const char *s, size_t len, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i;

        if (len != 16 && len != 32)
                return -EINVAL;
        for (i = 0; i < len; i++) {
                char c = s[i];
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned)(c - 'A' + 10);
                else
                        return -EINVAL;
                if (v >> 60)
                        return -EINVAL; /* does not fit in 64 bits */
                v = v << 4 | d;
        }
        *ret = v;
        return 0;
}

static int parse_trackers(struct ez_torrent *t, const struct ez_bdoc *d, const struct ez_bnode *root)
{
        const struct ez_bnode *n, *tier, *url;
        int r;

        n = get_typed(d, root, "announce", EZ_BNODE_STR);
        if (n && n->len > 0 && (r = add_string(&t->trackers, &t->n_trackers, n->str, n->len)) < 0)
                return r;
        n = get_typed(d, root, "announce-list", EZ_BNODE_LIST);
        for (tier = ez_bnode_child(d, n); tier; tier = ez_bnode_sibling(d, n, tier)) {
                if (tier->type != EZ_BNODE_LIST)
                        continue;
                for (url = ez_bnode_child(d, tier); url; url = ez_bnode_sibling(d, tier, url))
                        if (url->type == EZ_BNODE_STR && url->len > 0 &&
                            (r = add_string(&t->trackers, &t->n_trackers, url->str, url->len)) < 0)
                                return r;
        }
        n = ez_bdict_get(d, root, "url-list");
        if (n && n->type == EZ_BNODE_STR && n->len > 0)
                return add_string(&t->web_seeds, &t->n_web_seeds, n->str, n->len);
        if (n && n->type == EZ_BNODE_LIST)
                for (url = ez_bnode_child(d, n); url; url = ez_bnode_sibling(d, n, url))
                        if (url->type == EZ_BNODE_STR && url->len > 0 &&
                            (r = add_string(&t->web_seeds, &t->n_web_seeds, url->str, url->len)) < 0)
                                return r;
        return 0;
}

/* A torrent's name for a message: at most 64 bytes, each control byte
 * shown as '?', so that the message stays one line. */
static const char *shown(const char *s, size_t len, char out[65])
{
        size_t i;

        for (i = 0; i < len && i < 64; i++)
                out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        out[i] = '\0';
        return out;
}

/* A name that stays where it is put: not empty, not "." or "..", no '/'
 * and no NUL.  BitTorrent clients join a torrent's names into paths. */
static bool plain_name(const char *s, size_t len)
{
        return len > 0 && !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.') &&
               !memchr(s, '/', len) && !memchr(s, '\0', len);
}

/* A hybrid torrent's v2 file tree must describe the payload the ezio
 * dictionary does: the one file, its length and the same root. */
static int check_file_tree(struct ez_torrent *t, const struct ez_bdoc *d, const struct ez_bnode *info,
                           struct ez_err *err)
{
        const struct ez_bnode *tree = get_typed(d, info, "file tree", EZ_BNODE_DICT), *f, *len, *root;

        f = tree && tree->count == 1 ? get_typed(d, tree, t->name, EZ_BNODE_DICT) : NULL;
        f = f && f->count == 1 ? get_typed(d, f, "", EZ_BNODE_DICT) : NULL;
        len = f ? get_typed(d, f, "length", EZ_BNODE_INT) : NULL;
        root = f ? get_typed(d, f, "pieces root", EZ_BNODE_STR) : NULL;
        if (!len || !root || (uint64_t)len->ival != t->total_length || root->len != sizeof(t->root) ||
            (t->has_root && memcmp(root->str, t->root, sizeof(t->root)) != 0))
                return ez_err_set(err, -EINVAL, "the v2 file tree does not describe the payload the ezio dictionary "
                                  "does (one file '%s' of %" PRIu64 " bytes%s)", t->name, t->total_length,
                                  t->has_root ? " with its digest for root" : "");
        return 0;
}

static int parse_native(struct ez_torrent *t, const struct ez_bdoc *d, const struct ez_bnode *info,
                        const struct ez_bnode *ez, struct ez_err *err)
{
        const struct ez_bnode *ver, *tsize, *bsize, *ext, *zero, *kind, *root;
        enum ez_layout_kind k;
        int r;

        ver = get_typed(d, ez, "version", EZ_BNODE_INT);
        tsize = get_typed(d, ez, "target size", EZ_BNODE_INT);
        bsize = get_typed(d, ez, "block size", EZ_BNODE_INT);
        ext = get_typed(d, ez, "extents", EZ_BNODE_STR);
        zero = get_typed(d, ez, "zero", EZ_BNODE_STR);
        kind = get_typed(d, ez, "kind", EZ_BNODE_STR);
        root = ez_bdict_get(d, ez, "pieces root");
        if (!ver)
                return ez_err_set(err, -EINVAL, "ezio dictionary has no format version");
        if (ver->ival != EZ_TORRENT_FORMAT_VERSION)
                return ez_err_set(err, -EINVAL, "ezio format version %" PRId64 " is not supported (this build reads %d)",
                                  ver->ival, EZ_TORRENT_FORMAT_VERSION);
        if (!tsize || tsize->ival <= 0)
                return ez_err_set(err, -EINVAL, "ezio dictionary: missing or invalid 'target size'");
        if (!bsize || bsize->ival < 512 || bsize->ival > (1 << 20) || (bsize->ival & (bsize->ival - 1)))
                return ez_err_set(err, -EINVAL, "ezio dictionary: missing or invalid 'block size'");
        if (!ext)
                return ez_err_set(err, -EINVAL, "ezio dictionary: missing 'extents'");
        if (!kind || ez_layout_kind_parse(kind->str, kind->len, &k) < 0)
                return ez_err_set(err, -EINVAL, "ezio dictionary: missing or unknown 'kind'");
        if (root && (root->type != EZ_BNODE_STR || root->len != sizeof(t->root)))
                return ez_err_set(err, -EINVAL, "ezio dictionary: 'pieces root' is not a 32-byte SHA-256");
        /* the tree's piece layer needs pieces of whole 16 KiB blocks, as v2 does */
        if (root && (t->piece_length & (t->piece_length - 1)))
                return ez_err_set(err, -EINVAL, "ezio dictionary: a 'pieces root' needs a piece length that is a "
                                  "power of two (this one is %" PRIu64 ")", t->piece_length);
        if (t->n_files != 1)
                return ez_err_set(err, -EINVAL, "a native ezio torrent must have exactly one file");
        if (root) {
                memcpy(t->root, root->str, sizeof(t->root));
                t->has_root = true;
        }
        if (t->has_v2 && (r = check_file_tree(t, d, info, err)) < 0)
                return r;

        r = ez_layout_new((uint64_t)tsize->ival, (uint32_t)bsize->ival, k, &t->layout, err);
        if (r < 0)
                return r;
        /* these name the map they read themselves */
        r = ez_layout_decode(t->layout, (const uint8_t *)ext->str, ext->len, false, err);
        if (r >= 0 && zero)
                r = ez_layout_decode(t->layout, (const uint8_t *)zero->str, zero->len, true, err);
        if (r < 0)
                return r;
        r = ez_layout_finish(t->layout, t->total_length, err);
        return r < 0 ? ez_err_prefix(err, r, "extent map") : 0;
}

/* The offset file i of a compatible torrent names: its path is a plain
 * name of 16 or 32 hex digits, with at most one plain directory name
 * above it.  Returns 0 or -EINVAL with err saying which part is wrong. */
static int compat_file_offset(const struct ez_bdoc *d, const struct ez_bnode *path, size_t i, uint64_t *ret,
                              struct ez_err *err)
{
        const struct ez_bnode *e, *last = NULL;
        unsigned n = 0;
        char name[65];

        for (e = ez_bnode_child(d, path); e; e = ez_bnode_sibling(d, path, e)) {
                if (e->type != EZ_BNODE_STR)
                        return ez_err_set(err, -EINVAL, "file %zu: a path component is not a string", i);
                if (!plain_name(e->str, e->len))
                        return ez_err_set(err, -EINVAL, "file %zu: path component '%s' is not a plain name", i,
                                          shown(e->str, e->len, name));
                last = e;
                n++;
        }
        if (n < 1 || n > 2)
                return ez_err_set(err, -EINVAL, "file %zu: a path of %u components (EZIO's layout has 1 or 2)", i, n);
        if (ez_torrent_parse_hex_offset(last->str, last->len, ret) < 0)
                return ez_err_set(err, -EINVAL, "file %zu: name '%s' is not an offset of 16 or 32 hex digits "
                                  "below 2^64", i, shown(last->str, last->len, name));
        return 0;
}

static int parse_files(struct ez_torrent *t, const struct ez_bdoc *d, const struct ez_bnode *info,
                       bool native, struct ez_err *err)
{
        const struct ez_bnode *len = get_typed(d, info, "length", EZ_BNODE_INT);
        const struct ez_bnode *files = get_typed(d, info, "files", EZ_BNODE_LIST);
        const struct ez_bnode *f;
        uint64_t max_end = 0;
        int r;

        if (len) {
                char name[65];
                uint64_t off;

                if (len->ival <= 0)
                        return ez_err_set(err, -EINVAL, "file length %" PRId64 " is not positive", len->ival);
                t->n_files = 1;
                t->total_length = (uint64_t)len->ival;
                if (native)
                        return 0;
                /* a single extent named by its offset */
                if (ez_torrent_parse_hex_offset(t->name, strlen(t->name), &off) < 0)
                        return ez_err_set(err, -EINVAL, "torrent has no ezio dictionary and its name '%s' is not a hex offset",
                                          shown(t->name, strlen(t->name), name));
                if (t->total_length > UINT64_MAX - off)
                        return ez_err_set(err, -EINVAL, "extent at %#" PRIx64 " overflows 64 bits", off);
                r = ez_layout_new(off + t->total_length, 512, EZ_LAYOUT_PARTITION, &t->layout, err);
                if (r >= 0)
                        r = ez_layout_add_data(t->layout, off, t->total_length, err);
                return r < 0 ? r : ez_layout_finish(t->layout, t->total_length, err);
        }
        if (!files)
                return ez_err_set(err, -EINVAL, "info has neither 'length' nor 'files'");
        if (native)
                return ez_err_set(err, -EINVAL, "a native ezio torrent must have exactly one file");

        /* first pass: sizes and the target size the extents need */
        r = 0;
        for (f = ez_bnode_child(d, files); f; f = ez_bnode_sibling(d, files, f)) {
                const struct ez_bnode *fl = get_typed(d, f, "length", EZ_BNODE_INT);
                const struct ez_bnode *path = get_typed(d, f, "path", EZ_BNODE_LIST);
                const struct ez_bnode *attr = get_typed(d, f, "attr", EZ_BNODE_STR);
                uint64_t off;

                if (!fl || fl->ival < 0 || !path)
                        return ez_err_set(err, -EINVAL, "file %zu: missing or invalid length or path", t->n_files);
                if (attr && memchr(attr->str, 'p', attr->len))
                        return ez_err_set(err, -EINVAL, "file %zu: pad files are not supported in the compatible format",
                                          t->n_files);
                r = compat_file_offset(d, path, t->n_files, &off, err);
                if (r < 0)
                        return r;
                if ((uint64_t)fl->ival > UINT64_MAX - off ||
                    (uint64_t)fl->ival > UINT64_MAX - t->total_length)
                        return ez_err_set(err, -EINVAL, "file %zu: length overflows 64 bits", t->n_files);
                if (off + (uint64_t)fl->ival > max_end)
                        max_end = off + (uint64_t)fl->ival;
                t->total_length += (uint64_t)fl->ival;
                t->n_files++;
        }
        if (t->n_files == 0 || t->total_length == 0)
                return ez_err_set(err, -EINVAL, "torrent has no data");

        r = ez_layout_new(max_end, 512, EZ_LAYOUT_PARTITION, &t->layout, err);
        for (f = ez_bnode_child(d, files); r >= 0 && f; f = ez_bnode_sibling(d, files, f)) {
                uint64_t off;

                compat_file_offset(d, get_typed(d, f, "path", EZ_BNODE_LIST), 0, &off, NULL);
                r = ez_layout_add_data(t->layout, off, (uint64_t)get_typed(d, f, "length", EZ_BNODE_INT)->ival, err);
        }
        if (r >= 0)
                r = ez_layout_finish(t->layout, t->total_length, err);
        return r;
}

int ez_torrent_parse(const void *buf, size_t len, struct ez_torrent **ret, struct ez_err *err)
{
        struct ez_bdoc *d = NULL;
        struct ez_torrent *t;
        const struct ez_bnode *root, *info, *n, *pieces, *ez, *meta;
        unsigned int hlen = 0;
        int r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return ez_err_set(err, -ENOMEM, "out of memory");
        t->raw = malloc(len ? len : 1);
        if (!t->raw) {
                r = ez_err_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        memcpy(t->raw, buf, len);
        t->raw_len = len;

        r = ez_bdecode(t->raw, len, EZ_TORRENT_MAX_NODES, &d, err);
        if (r < 0 && len == 0) {
                r = ez_err_set(err, r, "empty (0 bytes), not a torrent");
                goto fail;
        }
        if (r == -EBADMSG && t->raw[0] == '<' && err) {
                /* what a web server sends where a torrent was asked for:
                 * a login or error page */
                char why[EZ_ERR_MSG_MAX];

                snprintf(why, sizeof(why), "%s", err->msg);
                r = ez_err_set(err, r, "%s (an HTML or XML page, not a torrent)", why);
        }
        if (r < 0)
                goto fail;
        root = ez_bdoc_root(d);
        info = get_typed(d, root, "info", EZ_BNODE_DICT);
        if (!info) {
                r = ez_err_set(err, -EINVAL, "not a torrent: no 'info' dictionary");
                goto fail;
        }
        if (!EVP_Digest(t->raw + info->start, info->end - info->start, t->info_hash, &hlen, EVP_sha1(), NULL)) {
                r = ez_err_set(err, -EIO, "SHA-1 failed");
                goto fail;
        }
        for (unsigned i = 0; i < 20; i++)
                snprintf(t->info_hash_hex + 2 * i, 3, "%02x", t->info_hash[i]);

        n = get_typed(d, info, "name", EZ_BNODE_STR);
        if (!n || n->len == 0 || memchr(n->str, '\0', n->len)) {
                r = ez_err_set(err, -EINVAL, "info has no valid 'name'");
                goto fail;
        }
        if (!plain_name(n->str, n->len)) {
                char name[65];

                r = ez_err_set(err, -EINVAL, "info's 'name' '%s' is not a plain file name", shown(n->str, n->len, name));
                goto fail;
        }
        t->name = strndup(n->str, n->len);
        if (!t->name) {
                r = ez_err_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        n = get_typed(d, info, "piece length", EZ_BNODE_INT);
        if (!n || n->ival < EZ_TORRENT_MIN_PIECE || n->ival > EZ_TORRENT_MAX_PIECE) {
                r = ez_err_set(err, -EINVAL, "missing or invalid 'piece length' (must be %u..%u)",
                               EZ_TORRENT_MIN_PIECE, EZ_TORRENT_MAX_PIECE);
                goto fail;
        }
        /* as ezio-mktorrent, EZIO and BEP 52 make them */
        if (n->ival & (n->ival - 1)) {
                r = ez_err_set(err, -EINVAL, "'piece length' %" PRId64 " is not a power of two", n->ival);
                goto fail;
        }
        t->piece_length = (uint64_t)n->ival;
        n = get_typed(d, info, "private", EZ_BNODE_INT);
        t->is_private = n && n->ival == 1;
        /* an SSL torrent: checked where it is used (tls.h) */
        n = get_typed(d, info, "ssl-cert", EZ_BNODE_STR);
        if (n) {
                t->ssl_ca = n->str;
                t->ssl_ca_len = n->len;
        }
        t->has_v2 = get_typed(d, info, "file tree", EZ_BNODE_DICT) != NULL;
        /* libtorrent reads a torrent with a 'meta version' as BEP 52 says:
         * it must be 2, with a file tree */
        meta = ez_bdict_get(d, info, "meta version");
        if ((meta && (meta->type != EZ_BNODE_INT || meta->ival != 2)) ||
            ((meta || ez_bdict_get(d, info, "file tree")) && !t->has_v2)) {
                r = ez_err_set(err, -EINVAL, "'meta version' is not 2, or the v2 file tree is missing or not a dictionary");
                goto fail;
        }

        ez = get_typed(d, info, "ezio", EZ_BNODE_DICT);
        t->native = ez != NULL;
        r = parse_files(t, d, info, t->native, err);
        if (r >= 0 && t->native)
                r = parse_native(t, d, info, ez, err);
        else if (r >= 0 && meta)
                r = check_file_tree(t, d, info, err);
        if (r < 0)
                goto fail;

        pieces = get_typed(d, info, "pieces", EZ_BNODE_STR);
        t->num_pieces = t->total_length / t->piece_length + (t->total_length % t->piece_length != 0);
        if (!pieces || pieces->len % 20 || pieces->len / 20 != t->num_pieces) {
                r = ez_err_set(err, -EINVAL, "'pieces' must hold %" PRIu64 " SHA-1 hashes for %" PRIu64 " bytes",
                               t->num_pieces, t->total_length);
                goto fail;
        }
        t->pieces = (const uint8_t *)pieces->str;
        r = parse_trackers(t, d, root);
        if (r < 0) {
                ez_err_set(err, r, "out of memory");
                goto fail;
        }
        ez_bdoc_free(d);
        *ret = t;
        return 0;
fail:
        ez_bdoc_free(d);
        ez_torrent_free(t);
        return r;
}

int ez_torrent_load(const char *path, struct ez_torrent **ret, struct ez_err *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = ez_io_read_file(path, EZ_TORRENT_MAX_SIZE, &buf, &len, err);
        if (r < 0)
                return r;
        r = ez_torrent_parse(buf, len, ret, err);
        return r < 0 ? ez_err_prefix(err, r, "%s", path) : r;
}

int ez_torrent_payload_layout(const struct ez_torrent *t, struct ez_layout **ret, struct ez_err *err)
{
        struct ez_layout *l = NULL;
        int r;

        if (t->n_files != 1)
                return ez_err_set(err, -EINVAL, "a payload file needs a single-file torrent (this one has %zu files)",
                                  t->n_files);
        r = ez_layout_new(t->total_length, 512, t->layout->kind, &l, err);
        if (r >= 0)
                r = ez_layout_add_data(l, 0, t->total_length, err);
        if (r >= 0)
                r = ez_layout_finish(l, t->total_length, err);
        if (r < 0) {
                ez_layout_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

int ez_torrent_build(const struct ez_torrent_spec *s, struct ez_buf *out, struct ez_err *err)
{
        const struct ez_layout *l = s->layout;
        _cleanup_free_ uint8_t *ext = NULL, *zero = NULL;
        size_t ext_len = 0, zero_len = 0, i;
        int r;

        if (!l->finished)
                return ez_err_set(err, -EINVAL, "layout not finished");
        if (s->compat && l->n_zero)
                return ez_err_set(err, -EINVAL, "EZIO's layout has no zero ranges");
        if (s->hybrid && (s->compat || !s->root || !s->layer))
                return ez_err_set(err, -EINVAL, "a hybrid torrent needs the native format and the SHA-256 tree");
        r = ez_layout_encode(l->data, l->n_data, l->block_size, l->target_size, &ext, &ext_len, err);
        if (r < 0)
                return r;
        r = ez_layout_encode(l->zero, l->n_zero, l->block_size, l->target_size, &zero, &zero_len, err);
        if (r < 0)
                return r;

        /* keys in byte order, as BEP 3 requires */
        ez_benc_dict(out);
        if (s->n_trackers > 0) {
                ez_benc_cstr(out, "announce");
                ez_benc_cstr(out, s->trackers[0]);
                ez_benc_cstr(out, "announce-list");
                ez_benc_list(out);
                for (i = 0; i < s->n_trackers; i++) {
                        ez_benc_list(out);      /* one tier per tracker: announce to all */
                        ez_benc_cstr(out, s->trackers[i]);
                        ez_benc_end(out);
                }
                ez_benc_end(out);
        }
        if (s->created_by) {
                ez_benc_cstr(out, "created by");
                ez_benc_cstr(out, s->created_by);
        }
        if (s->creation_date) {
                ez_benc_cstr(out, "creation date");
                ez_benc_int(out, s->creation_date);
        }
        ez_benc_cstr(out, "info");
        ez_benc_dict(out);
        if (s->compat) {
                /* EZIO's layout: one file per extent, named by its offset */
                ez_benc_cstr(out, "files");
                ez_benc_list(out);
                for (i = 0; i < l->n_data; i++) {
                        char name[33];

                        snprintf(name, sizeof(name), "%032" PRIx64, l->data[i].off);
                        ez_benc_dict(out);
                        ez_benc_cstr(out, "length");
                        ez_benc_int(out, (int64_t)l->data[i].len);
                        ez_benc_cstr(out, "path");
                        ez_benc_list(out);
                        ez_benc_cstr(out, name);
                        ez_benc_end(out);
                        ez_benc_end(out);
                }
                ez_benc_end(out);
        } else {
                ez_benc_cstr(out, "ezio");
                ez_benc_dict(out);
                ez_benc_cstr(out, "block size");
                ez_benc_int(out, l->block_size);
                ez_benc_cstr(out, "extents");
                ez_benc_str(out, ext, ext_len);
                ez_benc_cstr(out, "kind");
                ez_benc_cstr(out, ez_layout_kind_name(l->kind));
                if (s->root) {
                        ez_benc_cstr(out, "pieces root");
                        ez_benc_str(out, s->root, EZ_MERKLE_HASH);
                }
                ez_benc_cstr(out, "target size");
                ez_benc_int(out, (int64_t)l->target_size);
                ez_benc_cstr(out, "version");
                ez_benc_int(out, EZ_TORRENT_FORMAT_VERSION);
                ez_benc_cstr(out, "zero");
                ez_benc_str(out, zero, zero_len);
                ez_benc_end(out);
                if (s->hybrid) {
                        /* BEP 52: the one file at the top of the tree */
                        ez_benc_cstr(out, "file tree");
                        ez_benc_dict(out);
                        ez_benc_cstr(out, s->name);
                        ez_benc_dict(out);
                        ez_benc_cstr(out, "");
                        ez_benc_dict(out);
                        ez_benc_cstr(out, "length");
                        ez_benc_int(out, (int64_t)l->payload_len);
                        ez_benc_cstr(out, "pieces root");
                        ez_benc_str(out, s->root, EZ_MERKLE_HASH);
                        ez_benc_end(out);
                        ez_benc_end(out);
                        ez_benc_end(out);
                }
                ez_benc_cstr(out, "length");
                ez_benc_int(out, (int64_t)l->payload_len);
                if (s->hybrid) {
                        ez_benc_cstr(out, "meta version");
                        ez_benc_int(out, 2);
                }
        }
        ez_benc_cstr(out, "name");
        ez_benc_cstr(out, s->name);
        ez_benc_cstr(out, "piece length");
        ez_benc_int(out, (int64_t)s->piece_length);
        ez_benc_cstr(out, "pieces");
        ez_benc_str(out, s->pieces, s->n_pieces * 20);
        ez_benc_cstr(out, "private");
        ez_benc_int(out, 1);
        if (s->ssl_ca) {
                ez_benc_cstr(out, "ssl-cert");
                ez_benc_str(out, s->ssl_ca, s->ssl_ca_len);
        }
        ez_benc_end(out);
        if (s->hybrid && l->payload_len > s->piece_length) {
                /* a file of one piece has its root for its only piece hash */
                ez_benc_cstr(out, "piece layers");
                ez_benc_dict(out);
                ez_benc_str(out, s->root, EZ_MERKLE_HASH);
                ez_benc_str(out, s->layer, s->n_pieces * EZ_MERKLE_HASH);
                ez_benc_end(out);
        }
        if (s->n_web_seeds > 0) {
                ez_benc_cstr(out, "url-list");
                ez_benc_list(out);
                for (i = 0; i < s->n_web_seeds; i++)
                        ez_benc_cstr(out, s->web_seeds[i]);
                ez_benc_end(out);
        }
        ez_benc_end(out);
        if (out->err)
                return ez_err_set(err, out->err, "out of memory");
        return 0;
}
