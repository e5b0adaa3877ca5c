/*
 * check_torrent.c - unit tests for reading and writing ezio torrents
 * (ezio-deploy/lib/torrent.c).
 *
 * Native torrents are made with ez_torrent_build from a layout and parsed
 * back: name, pieces, sizes, trackers, web seeds, the extent map and the
 * info-hash (recomputed here with OpenSSL over the span of the info
 * dictionary) must all survive.  Compatible (EZIO / partclone -T) torrents
 * are written in the test with the ez_benc_* encoder from a table of
 * descriptions, one file per extent named by its hex offset.  A hostile
 * table mutates those descriptions one defect at a time; every case must
 * fail with a negative code and a message.  Also covered: hex offset
 * names, trackers, ez_torrent_load on files that are missing, directories,
 * empty or too big, and ez_torrent_payload_layout.  Torrents are parsed
 * from exact-size heap copies so that sanitizers catch over-reads.
 */
#include <errno.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "bencode.h"
#include "io.h"
#include "layout.h"
#include "testutil.h"
#include "torrent.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define KiB 1024ULL
#define MiB (1024ULL * 1024)
#define MAX_EXT 6

static uint64_t div_up(uint64_t a, uint64_t b)
{
        return a / b + (a % b != 0);
}

/* Parse an exact-size heap copy of buf. */
static int parse_copy(const void *buf, size_t len, struct ez_torrent **t, struct ez_err *err)
{
        void *c = malloc(len ? len : 1);
        int r;

        ck_assert_ptr_nonnull(c);
        if (len)
                memcpy(c, buf, len);
        *t = NULL;
        if (err)
                err->msg[0] = '\0';
        r = ez_torrent_parse(c, len, t, err);
        free(c);
        return r;
}

/* The info-hash is the SHA-1 of the exact bytes of the info dictionary. */
static void check_info_hash(const struct ez_torrent *t, const void *buf, size_t len)
{
        struct ez_bdoc *d = NULL;
        struct ez_err err = { "" };
        const struct ez_bnode *info;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        char hex[41];
        size_t start, end;
        unsigned i;
        int ok;

        ck_assert_int_eq(ez_bdecode(buf, len, 0, &d, &err), 0);
        info = ez_bdict_get(d, ez_bdoc_root(d), "info");
        ck_assert_ptr_nonnull(info);
        ck_assert_int_eq(info->type, EZ_BNODE_DICT);
        start = info->start;
        end = info->end;
        ez_bdoc_free(d);

        ck_assert_uint_gt(start, 6);
        ck_assert_mem_eq((const char *)buf + start - 6, "4:info", 6);
        ck_assert_int_eq(((const char *)buf)[start], 'd');
        ck_assert_int_eq(((const char *)buf)[end - 1], 'e');
        ok = EVP_Digest((const char *)buf + start, end - start, md, &md_len, EVP_sha1(), NULL);
        ck_assert_int_eq(ok, 1);
        ck_assert_uint_eq(md_len, 20);
        ck_assert_mem_eq(t->info_hash, md, 20);
        for (i = 0; i < 20; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        ck_assert_uint_eq(strlen(t->info_hash_hex), 40);
        ck_assert_uint_eq(strspn(t->info_hash_hex, "0123456789abcdef"), 40);
        ck_assert_str_eq(t->info_hash_hex, hex);
}

static void check_strings(char *const *got, size_t n_got, const char *const *want, size_t n_want,
                          const char *what)
{
        size_t k;

        ck_assert_msg(n_got == n_want, "%s: %zu entries, want %zu", what, n_got, n_want);
        for (k = 0; k < n_want; k++)
                ck_assert_str_eq(got[k], want[k]);
}

static void check_extents(const struct ez_extent *got, size_t n_got, const struct ez_extent *want,
                          size_t n_want, const char *what)
{
        size_t k;

        ck_assert_msg(n_got == n_want, "%s: %zu extents, want %zu", what, n_got, n_want);
        for (k = 0; k < n_want; k++)
                ck_assert_msg(got[k].off == want[k].off && got[k].len == want[k].len,
                              "%s %zu: %#llx+%llu, want %#llx+%llu", what, k,
                              (unsigned long long)got[k].off, (unsigned long long)got[k].len,
                              (unsigned long long)want[k].off, (unsigned long long)want[k].len);
}

/* ------------------------------------------------------------------ */
/* native torrents: build, then parse                                  */

struct native_case {
        const char *name;
        uint64_t target;
        uint32_t bs;
        enum ez_layout_kind kind;
        struct ez_extent data[MAX_EXT];
        size_t n_data;
        struct ez_extent zero[MAX_EXT];
        size_t n_zero;
        uint64_t piece_length;
        const char *trackers[4];
        size_t n_trackers;
        const char *want_trackers[4];
        size_t n_want_trackers;
        const char *web_seeds[3];
        size_t n_web_seeds;
        const char *created_by;
        int64_t creation_date;
};

static const struct native_case native_cases[] = {
        { "minimal", 1 * MiB, 4096, EZ_LAYOUT_PARTITION, { { 0, 1 * MiB } }, 1, { { 0, 0 } }, 0,
          16 * KiB, { NULL }, 0, { NULL }, 0, { NULL }, 0, NULL, 0 },
        { "sparse disk", 64 * MiB, 4096, EZ_LAYOUT_DISK,
          { { 0, 1 * MiB }, { 8 * MiB, 64 * KiB }, { 32 * MiB, 4096 } }, 3,
          { { 1 * MiB, 1 * MiB }, { 60 * MiB, 4 * MiB } }, 2, 256 * KiB,
          { "http://tracker.example/announce", "udp://10.0.0.1:6969" }, 2,
          { "http://tracker.example/announce", "udp://10.0.0.1:6969" }, 2,
          { "http://seed.example/disk.img" }, 1, "ezio-test", 1700000000 },
        { "partial last block", 10000, 4096, EZ_LAYOUT_PARTITION, { { 0, 4096 }, { 8192, 1808 } }, 2,
          { { 4096, 4096 } }, 1, 16 * KiB, { NULL }, 0, { NULL }, 0, { NULL }, 0, NULL, 0 },
        { "duplicate trackers", 1 * MiB, 4096, EZ_LAYOUT_PARTITION, { { 4096, 8192 } }, 1, { { 0, 0 } }, 0,
          16 * KiB, { "http://a/announce", "http://b/announce", "http://a/announce" }, 3,
          { "http://a/announce", "http://b/announce" }, 2, { NULL }, 0, NULL, 0 },
        { "uneven pieces", 100000, 512, EZ_LAYOUT_PARTITION, { { 0, 100000 } }, 1, { { 0, 0 } }, 0,
          16 * KiB, { NULL }, 0, { NULL }, 0, { NULL }, 0, NULL, 0 },
        { "max block size", 3 * MiB + 5, 1u << 20, EZ_LAYOUT_DISK, { { 1 * MiB, 2 * MiB + 5 } }, 1,
          { { 0, 1 * MiB } }, 1, 1 * MiB, { NULL }, 0, { NULL }, 0, { NULL }, 0, NULL, 0 },
        { "web seeds only", 1 * MiB, 4096, EZ_LAYOUT_DISK, { { 0, 4096 }, { 1 * MiB - 4096, 4096 } }, 2,
          { { 4096, 1 * MiB - 8192 } }, 1, 16 * KiB, { NULL }, 0, { NULL }, 0,
          { "http://s1/x", "http://s2/x", "http://s1/x" }, 3, NULL, 0 },
        { "largest piece", 1 * MiB, 4096, EZ_LAYOUT_PARTITION, { { 0, 1 * MiB } }, 1, { { 0, 0 } }, 0,
          EZ_TORRENT_MAX_PIECE, { "http://only/announce" }, 1, { "http://only/announce" }, 1, { NULL }, 0,
          "x", 1 },
        { "large target", 1ULL << 50, 4096, EZ_LAYOUT_DISK, { { 1ULL << 40, 64 * KiB }, { (1ULL << 50) - 4096, 4096 } },
          2, { { 0, 1ULL << 40 } }, 1, 16 * KiB, { NULL }, 0, { NULL }, 0, { NULL }, 0, NULL, 0 },
};

/* The web seed list keeps order and drops repeats. */
static size_t want_web_seeds(const struct native_case *c, const char **out)
{
        size_t n = 0, k, j;

        for (k = 0; k < c->n_web_seeds; k++) {
                for (j = 0; j < n && strcmp(out[j], c->web_seeds[k]); j++)
                        ;
                if (j == n)
                        out[n++] = c->web_seeds[k];
        }
        return n;
}

static struct ez_layout *mk_layout(uint64_t target, uint32_t bs, enum ez_layout_kind kind,
                                   const struct ez_extent *data, size_t n_data,
                                   const struct ez_extent *zero, size_t n_zero, bool finish)
{
        struct ez_layout *l;
        struct ez_err err = { "" };
        uint64_t payload = 0;
        size_t k;

        ck_assert_int_eq(ez_layout_new(target, bs, kind, &l, &err), 0);
        for (k = 0; k < n_data; k++) {
                ck_assert_int_eq(ez_layout_add_data(l, data[k].off, data[k].len, &err), 0);
                payload += data[k].len;
        }
        for (k = 0; k < n_zero; k++)
                ck_assert_int_eq(ez_layout_add_zero(l, zero[k].off, zero[k].len, &err), 0);
        if (finish)
                ck_assert_msg(ez_layout_finish(l, payload, &err) == 0, "%s", err.msg);
        return l;
}

/* Build the native torrent of case c into out. */
static void build_native(const struct native_case *c, struct ez_buf *out)
{
        struct ez_layout *l = mk_layout(c->target, c->bs, c->kind, c->data, c->n_data, c->zero,
                                        c->n_zero, true);
        size_t n_pieces = (size_t)div_up(l->payload_len, c->piece_length);
        uint8_t *pieces = malloc(n_pieces * 20);
        struct ez_torrent_spec spec = {
                .name = c->name,
                .piece_length = c->piece_length,
                .pieces = pieces,
                .n_pieces = n_pieces,
                .layout = l,
                .trackers = c->trackers,
                .n_trackers = c->n_trackers,
                .web_seeds = c->web_seeds,
                .n_web_seeds = c->n_web_seeds,
                .created_by = c->created_by,
                .creation_date = c->creation_date,
        };
        struct ez_err err = { "" };
        int r;

        ck_assert_ptr_nonnull(pieces);
        tu_random(pieces, n_pieces * 20, n_pieces);
        *out = (struct ez_buf){ 0 };
        r = ez_torrent_build(&spec, out, &err);
        free(pieces);
        ez_layout_free(l);
        ck_assert_msg(r == 0, "%s: build: %s", c->name, err.msg);
        ck_assert_int_eq(out->err, 0);
}

START_TEST(test_native)
{
        const struct native_case *c = &native_cases[_i];
        struct ez_buf b;
        struct ez_torrent *t;
        struct ez_err err;
        const char *seeds[4];
        size_t n_seeds = want_web_seeds(c, seeds);
        uint64_t payload = 0;
        size_t k;
        int r;

        for (k = 0; k < c->n_data; k++)
                payload += c->data[k].len;
        build_native(c, &b);
        r = parse_copy(b.data, b.len, &t, &err);
        ck_assert_msg(r == 0, "%s: parse: %s", c->name, err.msg);

        ck_assert_str_eq(t->name, c->name);
        ck_assert(t->native);
        ck_assert(t->is_private);
        ck_assert(!t->has_v2);
        ck_assert_uint_eq(t->n_files, 1);
        ck_assert_uint_eq(t->piece_length, c->piece_length);
        ck_assert_uint_eq(t->total_length, payload);
        ck_assert_uint_eq(t->num_pieces, div_up(payload, c->piece_length));
        check_strings(t->trackers, t->n_trackers, c->want_trackers, c->n_want_trackers, "trackers");
        check_strings(t->web_seeds, t->n_web_seeds, seeds, n_seeds, "web seeds");

        ck_assert_ptr_nonnull(t->layout);
        ck_assert(t->layout->finished);
        ck_assert_uint_eq(t->layout->target_size, c->target);
        ck_assert_uint_eq(t->layout->block_size, c->bs);
        ck_assert_int_eq(t->layout->kind, c->kind);
        ck_assert_uint_eq(t->layout->payload_len, payload);
        check_extents(t->layout->data, t->layout->n_data, c->data, c->n_data, "data");
        check_extents(t->layout->zero, t->layout->n_zero, c->zero, c->n_zero, "zero");

        ck_assert_uint_eq(t->raw_len, b.len);
        ck_assert_mem_eq(t->raw, b.data, b.len);
        check_info_hash(t, b.data, b.len);

        ez_torrent_free(t);
        ez_buf_free(&b);
}
END_TEST

/* The digest goes into the ezio dictionary and comes back; with hybrid
 * the v2 file tree and the piece layers are written too; a hybrid
 * without the tree, or in EZIO's layout, is refused. */
START_TEST(test_digest)
{
        const struct native_case *c = &native_cases[1];
        struct ez_layout *l = mk_layout(c->target, c->bs, c->kind, c->data, c->n_data, c->zero, c->n_zero, true);
        size_t n_pieces = (size_t)div_up(l->payload_len, c->piece_length);
        size_t most = (size_t)div_up(l->payload_len, 16384);    /* pieces at the smallest size */
        uint8_t *pieces = calloc(most, 20), *layer = calloc(most, 32), root[32];
        struct ez_torrent_spec spec = {
                .name = c->name, .piece_length = c->piece_length, .pieces = pieces, .n_pieces = n_pieces,
                .layout = l, .root = root, .layer = layer,
        };
        struct ez_torrent *t;
        struct ez_err err = { "" };
        struct ez_buf b = { 0 };
        int hybrid;

        ck_assert(pieces && layer);
        tu_random(root, sizeof(root), 7);
        tu_random(layer, n_pieces * 32, 8);
        for (hybrid = 0; hybrid < 2; hybrid++) {
                spec.hybrid = hybrid;
                b = (struct ez_buf){ 0 };
                ck_assert_msg(ez_torrent_build(&spec, &b, &err) == 0, "%s", err.msg);
                ck_assert_msg(parse_copy(b.data, b.len, &t, &err) == 0, "%s", err.msg);
                ck_assert(t->has_root);
                ck_assert_mem_eq(t->root, root, 32);
                ck_assert(t->has_v2 == hybrid);
                ck_assert((memmem(b.data, b.len, "12:piece layers", 15) != NULL) == (hybrid && n_pieces > 1));
                ck_assert((memmem(b.data, b.len, "12:meta versioni2e", 18) != NULL) == hybrid);
                ez_torrent_free(t);
                if (hybrid) {
                        /* the file tree's root (after the ezio dictionary's) made different */
                        uint8_t *first = memmem(b.data, b.len, root, 32), *second;

                        ck_assert_ptr_nonnull(first);
                        second = memmem(first + 32, b.len - (size_t)(first + 32 - (uint8_t *)b.data), root, 32);
                        ck_assert_ptr_nonnull(second);
                        second[0] ^= 1;
                        ck_assert_int_eq(parse_copy(b.data, b.len, &t, &err), -EINVAL);
                        ck_assert_msg(strstr(err.msg, "v2 file tree does not describe"), "%s", err.msg);
                }
                ez_buf_free(&b);
        }
        spec.root = NULL;
        spec.hybrid = false;
        ck_assert_int_eq(ez_torrent_build(&spec, &b, &err), 0);
        ck_assert_int_eq(parse_copy(b.data, b.len, &t, &err), 0);
        ck_assert(!t->has_root);
        ez_torrent_free(t);
        ez_buf_free(&b);
        spec.hybrid = true;
        ck_assert_int_eq(ez_torrent_build(&spec, &b, &err), -EINVAL);
        ez_buf_free(&b);
        /* a digest with pieces that are not whole 16 KiB blocks is refused */
        spec.root = root;
        spec.hybrid = false;
        spec.piece_length = 3 * 16384;
        spec.n_pieces = (size_t)div_up(l->payload_len, spec.piece_length);
        ck_assert_int_eq(ez_torrent_build(&spec, &b, &err), 0);
        ck_assert_int_eq(parse_copy(b.data, b.len, &t, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, "power of two"), "%s", err.msg);
        ez_buf_free(&b);
        free(pieces);
        free(layer);
        ez_layout_free(l);
}
END_TEST

/* Every proper prefix of a native torrent is refused as bad bencode. */
START_TEST(test_native_truncated)
{
        const struct native_case *c = &native_cases[_i];
        struct ez_buf b;
        size_t plen;

        build_native(c, &b);
        for (plen = 0; plen < b.len; plen++) {
                struct ez_torrent *t;
                struct ez_err err;
                int r = parse_copy(b.data, plen, &t, &err);

                if (r == 0)
                        ez_torrent_free(t);
                ck_assert_msg(r == -EBADMSG, "%s: prefix %zu gave %d", c->name, plen, r);
                ck_assert_str_ne(err.msg, "");
        }
        ez_buf_free(&b);
}
END_TEST

/* Layouts ez_torrent_build cannot write. */
struct build_bad_case {
        const char *name;
        uint64_t target;
        uint32_t bs;
        struct ez_extent data[MAX_EXT];
        size_t n_data;
        struct ez_extent zero[MAX_EXT];
        size_t n_zero;
        bool finish;
};

static const struct build_bad_case build_bad_cases[] = {
        { "unfinished layout", 1 * MiB, 4096, { { 0, 4096 } }, 1, { { 0, 0 } }, 0, false },
        { "data not sorted", 1 * MiB, 4096, { { 8192, 4096 }, { 0, 4096 } }, 2, { { 0, 0 } }, 0, true },
        { "data not aligned", 1 * MiB, 4096, { { 100, 4096 } }, 1, { { 0, 0 } }, 0, true },
        { "zero range not aligned", 1 * MiB, 4096, { { 0, 4096 } }, 1, { { 8192, 100 } }, 1, true },
};

START_TEST(test_build_bad)
{
        const struct build_bad_case *c = &build_bad_cases[_i];
        struct ez_layout *l = mk_layout(c->target, c->bs, EZ_LAYOUT_DISK, c->data, c->n_data, c->zero,
                                        c->n_zero, c->finish);
        uint8_t pieces[20] = { 0 };
        struct ez_torrent_spec spec = {
                .name = "x", .piece_length = 16 * KiB, .pieces = pieces, .n_pieces = 1, .layout = l,
        };
        struct ez_buf b = { 0 };
        struct ez_err err = { "" };
        int r = ez_torrent_build(&spec, &b, &err);

        ez_buf_free(&b);
        ez_layout_free(l);
        ck_assert_msg(r == -EINVAL, "%s: got %d", c->name, r);
        ck_assert_str_ne(err.msg, "");
}
END_TEST

/* ------------------------------------------------------------------ */
/* hand-written torrents                                               */

struct cfile {
        const char *dir, *dir2, *hex;   /* path elements; NULL: absent */
        int64_t length;
        const char *attr;               /* NULL: absent */
        bool path_int;                  /* an integer in the path */
        bool no_path, no_length, not_dict;
};

struct ezdesc {
        int64_t version;
        bool omit_version;
        int64_t tsize;
        bool omit_tsize;
        int64_t bsize;
        bool omit_bsize;
        const uint8_t *ext;             /* NULL: omitted */
        size_t ext_len;
        const uint8_t *zero;            /* NULL: omitted */
        size_t zero_len;
        const char *kind;               /* NULL: omitted */
};

struct tdesc {
        const char *raw;                /* verbatim torrent bytes instead */
        size_t raw_len;
        const char *announce;
        const char *tiers[3][3];        /* announce-list, NULL-terminated tiers */
        size_t n_tiers;
        bool bad_tier;                  /* add a non-list tier and a non-string URL */
        const char *url;                /* url-list as one string */
        const char *urls[3];            /* url-list as a list */
        size_t n_urls;
        bool no_info, info_not_dict;
        const char *name;               /* NULL: omitted */
        size_t name_len;                /* 0: strlen(name) */
        bool name_int;
        int64_t piece_length;
        bool omit_piece_length, piece_length_str;
        bool no_pieces, pieces_override;
        int pieces_delta;
        size_t pieces_extra, n_pieces;
        bool single;                    /* a 'length' key */
        int64_t length;
        bool files_key, files_not_list;
        struct cfile files[6];
        size_t n_files;
        bool ezio;
        struct ezdesc ez;
        int64_t private_val;            /* 0: no 'private' key */
        bool file_tree;                 /* a v2 'file tree' dictionary */
};

static uint64_t desc_total(const struct tdesc *d)
{
        uint64_t total = 0;
        size_t k;

        if (d->single && d->length > 0)
                total = (uint64_t)d->length;
        for (k = 0; k < d->n_files; k++) {
                uint64_t l = d->files[k].length > 0 ? (uint64_t)d->files[k].length : 0;

                total = l > UINT64_MAX - total ? UINT64_MAX : total + l;
        }
        return total;
}

static void write_file_entry(struct ez_buf *b, const struct cfile *f)
{
        if (f->not_dict) {
                ez_benc_int(b, 1);
                return;
        }
        ez_benc_dict(b);
        if (f->attr) {
                ez_benc_cstr(b, "attr");
                ez_benc_cstr(b, f->attr);
        }
        if (!f->no_length) {
                ez_benc_cstr(b, "length");
                ez_benc_int(b, f->length);
        }
        if (!f->no_path) {
                ez_benc_cstr(b, "path");
                ez_benc_list(b);
                if (f->dir)
                        ez_benc_cstr(b, f->dir);
                if (f->dir2)
                        ez_benc_cstr(b, f->dir2);
                if (f->path_int)
                        ez_benc_int(b, 1);
                if (f->hex)
                        ez_benc_cstr(b, f->hex);
                ez_benc_end(b);
        }
        ez_benc_end(b);
}

static void write_ezio(struct ez_buf *b, const struct ezdesc *e)
{
        ez_benc_dict(b);
        if (!e->omit_bsize) {
                ez_benc_cstr(b, "block size");
                ez_benc_int(b, e->bsize);
        }
        if (e->ext) {
                ez_benc_cstr(b, "extents");
                ez_benc_str(b, e->ext, e->ext_len);
        }
        if (e->kind) {
                ez_benc_cstr(b, "kind");
                ez_benc_cstr(b, e->kind);
        }
        if (!e->omit_tsize) {
                ez_benc_cstr(b, "target size");
                ez_benc_int(b, e->tsize);
        }
        if (!e->omit_version) {
                ez_benc_cstr(b, "version");
                ez_benc_int(b, e->version);
        }
        if (e->zero) {
                ez_benc_cstr(b, "zero");
                ez_benc_str(b, e->zero, e->zero_len);
        }
        ez_benc_end(b);
}

static void write_info(struct ez_buf *b, const struct tdesc *d)
{
        size_t k;

        ez_benc_dict(b);
        if (d->ezio) {
                ez_benc_cstr(b, "ezio");
                write_ezio(b, &d->ez);
        }
        if (d->file_tree) {
                ez_benc_cstr(b, "file tree");
                ez_benc_dict(b);
                ez_benc_end(b);
        }
        if (d->files_not_list) {
                ez_benc_cstr(b, "files");
                ez_benc_int(b, 1);
        } else if (d->files_key || d->n_files > 0) {
                ez_benc_cstr(b, "files");
                ez_benc_list(b);
                for (k = 0; k < d->n_files; k++)
                        write_file_entry(b, &d->files[k]);
                ez_benc_end(b);
        }
        if (d->single) {
                ez_benc_cstr(b, "length");
                ez_benc_int(b, d->length);
        }
        if (d->name_int) {
                ez_benc_cstr(b, "name");
                ez_benc_int(b, 1);
        } else if (d->name) {
                ez_benc_cstr(b, "name");
                ez_benc_str(b, d->name, d->name_len ? d->name_len : strlen(d->name));
        }
        if (!d->omit_piece_length) {
                ez_benc_cstr(b, "piece length");
                if (d->piece_length_str)
                        ez_benc_cstr(b, "16384");
                else
                        ez_benc_int(b, d->piece_length);
        }
        if (!d->no_pieces) {
                uint64_t pl = d->piece_length >= (int64_t)EZ_TORRENT_MIN_PIECE ? (uint64_t)d->piece_length
                                                                               : EZ_TORRENT_MIN_PIECE;
                uint64_t count = div_up(desc_total(d), pl);
                size_t bytes;
                uint8_t *p;

                if (d->pieces_override)
                        count = d->n_pieces;
                else if (d->pieces_delta < 0 && count < (uint64_t)-d->pieces_delta)
                        count = 0;
                else
                        count = (uint64_t)((int64_t)count + d->pieces_delta);
                if (count > (1u << 20))
                        count = 1;      /* absurd sizes fail before the pieces are looked at */
                bytes = (size_t)count * 20 + d->pieces_extra;
                p = malloc(bytes ? bytes : 1);
                ck_assert_ptr_nonnull(p);
                tu_random(p, bytes, 99);
                ez_benc_cstr(b, "pieces");
                ez_benc_str(b, p, bytes);
                free(p);
        }
        if (d->private_val) {
                ez_benc_cstr(b, "private");
                ez_benc_int(b, d->private_val);
        }
        ez_benc_end(b);
}

/* Bencode the torrent described by d (keys in byte order). */
static void write_torrent(const struct tdesc *d, struct ez_buf *b)
{
        size_t k, j;

        *b = (struct ez_buf){ 0 };
        if (d->raw) {
                ez_buf_put(b, d->raw, d->raw_len);
                return;
        }
        ez_benc_dict(b);
        if (d->announce) {
                ez_benc_cstr(b, "announce");
                ez_benc_cstr(b, d->announce);
        }
        if (d->n_tiers || d->bad_tier) {
                ez_benc_cstr(b, "announce-list");
                ez_benc_list(b);
                if (d->bad_tier)
                        ez_benc_cstr(b, "http://not-a-tier/");
                for (k = 0; k < d->n_tiers; k++) {
                        ez_benc_list(b);
                        if (d->bad_tier)
                                ez_benc_int(b, 7);
                        for (j = 0; j < 3 && d->tiers[k][j]; j++)
                                ez_benc_cstr(b, d->tiers[k][j]);
                        ez_benc_end(b);
                }
                ez_benc_end(b);
        }
        if (!d->no_info) {
                ez_benc_cstr(b, "info");
                if (d->info_not_dict) {
                        ez_benc_list(b);
                        ez_benc_end(b);
                } else {
                        write_info(b, d);
                }
        }
        if (d->url) {
                ez_benc_cstr(b, "url-list");
                ez_benc_cstr(b, d->url);
        } else if (d->n_urls) {
                ez_benc_cstr(b, "url-list");
                ez_benc_list(b);
                for (k = 0; k < d->n_urls; k++)
                        ez_benc_cstr(b, d->urls[k]);
                ez_benc_end(b);
        }
        ez_benc_end(b);
        ck_assert_int_eq(b->err, 0);
}

/* ------------------------------------------------------------------ */
/* compatible format                                                   */

#define F(h, l) { .hex = (h), .length = (l) }
#define FD(d, h, l) { .dir = (d), .hex = (h), .length = (l) }

struct compat_case {
        const char *title;
        struct tdesc d;
        uint64_t target;
        struct ez_extent want[MAX_EXT];
        size_t n_want;
        size_t n_files;
        const char *want_trackers[2];
        size_t n_want_trackers;
};

static const struct compat_case compat_cases[] = {
        { "16-digit names",
          { .name = "image", .piece_length = 16384, .private_val = 1, .announce = "http://t/announce",
            .files = { F("0000000000000000", 4096), F("0000000000010000", 8192), F("0000000000100000", 512) },
            .n_files = 3 },
          0x100200, { { 0, 4096 }, { 0x10000, 8192 }, { 0x100000, 512 } }, 3, 3, { "http://t/announce" }, 1 },
        { "32-digit names",
          { .name = "image", .piece_length = 16384,
            .files = { F("00000000000000000000000000000000", 1000), F("00000000000000000000000000001000", 2000) },
            .n_files = 2 },
          0x1000 + 2000, { { 0, 1000 }, { 0x1000, 2000 } }, 2, 2, { NULL }, 0 },
        { "one directory level, descending offsets",
          { .name = "sda", .piece_length = 32768,
            .files = { FD("sda1", "0000000000002000", 4096), FD("sda1", "0000000000000000", 4096) },
            .n_files = 2 },
          0x3000, { { 0x2000, 4096 }, { 0, 4096 } }, 2, 2, { NULL }, 0 },
        { "upper and mixed case hex",
          { .name = "image", .piece_length = 16384,
            .files = { F("00000000000ABC00", 1024), F("00000000000fF000", 4096) }, .n_files = 2 },
          0x100000, { { 0xABC00, 1024 }, { 0xFF000, 4096 } }, 2, 2, { NULL }, 0 },
        { "adjacent files merge",
          { .name = "image", .piece_length = 16384,
            .files = { F("0000000000000000", 4096), F("0000000000001000", 4096) }, .n_files = 2 },
          0x2000, { { 0, 8192 } }, 1, 2, { NULL }, 0 },
        { "empty file is counted but holds no extent",
          { .name = "image", .piece_length = 16384,
            .files = { F("0000000000000000", 4096), F("0000000000002000", 0), F("0000000000004000", 512) },
            .n_files = 3 },
          0x4200, { { 0, 4096 }, { 0x4000, 512 } }, 2, 3, { NULL }, 0 },
        { "mixed widths, harmless attr",
          { .name = "image", .piece_length = 16384,
            .files = { { .hex = "0000000000000000000000000000a000", .length = 100, .attr = "x" },
                       { .dir = "d", .hex = "0000000000000200", .length = 300, .attr = "h" } },
            .n_files = 2 },
          0xa064, { { 0xa000, 100 }, { 0x200, 300 } }, 2, 2, { NULL }, 0 },
        { "offset near the top of 64 bits",
          { .name = "image", .piece_length = 16384,
            .files = { F("FFFFFFFFFFFFF000", 4095), F("0000000000000000ffffffffffff0000", 512) }, .n_files = 2 },
          UINT64_MAX, { { 0xFFFFFFFFFFFFF000ULL, 4095 }, { 0xffffffffffff0000ULL, 512 } }, 2, 2, { NULL }, 0 },
        { "single file named by its offset",
          { .name = "0000000000100000", .piece_length = 16384, .single = true, .length = 8192 },
          0x102000, { { 0x100000, 8192 } }, 1, 1, { NULL }, 0 },
        { "single file at offset zero, 32 digits",
          { .name = "00000000000000000000000000000000", .piece_length = 16384, .single = true, .length = 20000 },
          20000, { { 0, 20000 } }, 1, 1, { NULL }, 0 },
};

START_TEST(test_compat)
{
        const struct compat_case *c = &compat_cases[_i];
        struct ez_buf b;
        struct ez_torrent *t;
        struct ez_err err;
        uint64_t total = desc_total(&c->d);
        int r;

        write_torrent(&c->d, &b);
        r = parse_copy(b.data, b.len, &t, &err);
        ck_assert_msg(r == 0, "%s: %s", c->title, err.msg);
        ck_assert(!t->native);
        ck_assert_str_eq(t->name, c->d.name);
        ck_assert_uint_eq(t->n_files, c->n_files);
        ck_assert_uint_eq(t->total_length, total);
        ck_assert_uint_eq(t->piece_length, (uint64_t)c->d.piece_length);
        ck_assert_uint_eq(t->num_pieces, div_up(total, (uint64_t)c->d.piece_length));
        ck_assert(t->is_private == (c->d.private_val == 1));
        check_strings(t->trackers, t->n_trackers, c->want_trackers, c->n_want_trackers, "trackers");
        ck_assert_uint_eq(t->n_web_seeds, 0);

        ck_assert(t->layout->finished);
        ck_assert_uint_eq(t->layout->target_size, c->target);
        ck_assert_uint_eq(t->layout->block_size, 512);
        ck_assert_int_eq(t->layout->kind, EZ_LAYOUT_PARTITION);
        ck_assert_uint_eq(t->layout->payload_len, total);
        check_extents(t->layout->data, t->layout->n_data, c->want, c->n_want, c->title);
        ck_assert_uint_eq(t->layout->n_zero, 0);
        check_info_hash(t, b.data, b.len);

        ez_torrent_free(t);
        ez_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* hostile torrents                                                    */

static const uint8_t ext_all[] = { 0x00, 0x02 };               /* [0, 8192) of 8192 at 4096 */
static const uint8_t ext_over[] = { 0x00, 0x03 };              /* 3 blocks of a 2-block target */
static const uint8_t ext_trunc[] = { 0x00, 0x82 };
static const uint8_t ext_first[] = { 0x00, 0x01 };             /* [0, 4096) */
static const uint8_t zero_block1[] = { 0x01, 0x01 };           /* [4096, 8192) */
static const uint8_t zero_over[] = { 0x02, 0x01 };             /* past a 2-block target */

#define COMPAT_OK .name = "image", .piece_length = 16384
#define TWO_FILES .files = { F("0000000000000000", 4096), F("0000000000010000", 4096) }, .n_files = 2
#define NATIVE_OK .ezio = true, .single = true, .name = "disk.img", .piece_length = 16384

struct bad_case {
        const char *title;
        struct tdesc d;
        int rc;
};

static const struct bad_case bad_cases[] = {
        /* controls: the descriptions below differ from these by one defect */
        { "control: compat", { COMPAT_OK, TWO_FILES }, 0 },
        { "control: native", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } }, 0 },
        { "control: native with zero map", { NATIVE_OK, .length = 4096,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_first, .ext_len = 2,
                  .zero = zero_block1, .zero_len = 2, .kind = "partition" } }, 0 },

        /* not a torrent at all */
        { "not bencode", { .raw = "this is not a torrent", .raw_len = 21 }, -EBADMSG },
        { "empty input", { .raw = "", .raw_len = 0 }, -EBADMSG },
        { "truncated", { .raw = "d4:infod4:name", .raw_len = 14 }, -EBADMSG },
        { "trailing garbage", { .raw = "d4:infodee\n", .raw_len = 11 }, -EBADMSG },
        { "root is a list", { .raw = "l4:infoe", .raw_len = 8 }, -EINVAL },
        { "root is an integer", { .raw = "i1e", .raw_len = 3 }, -EINVAL },
        { "no info dict", { .no_info = true, .announce = "http://t/announce" }, -EINVAL },
        { "info is a list", { .info_not_dict = true }, -EINVAL },
        { "empty info", { .raw = "d4:infodee", .raw_len = 10 }, -EINVAL },

        /* name */
        { "missing name", { .piece_length = 16384, TWO_FILES }, -EINVAL },
        { "empty name", { .name = "", .piece_length = 16384, TWO_FILES }, -EINVAL },
        { "name with NUL", { .name = "ab\0cd", .name_len = 5, .piece_length = 16384, TWO_FILES }, -EINVAL },
        { "name not a string", { .name_int = true, .piece_length = 16384, TWO_FILES }, -EINVAL },

        /* piece length and pieces */
        { "piece length missing", { .name = "image", .omit_piece_length = true, TWO_FILES }, -EINVAL },
        { "piece length 0", { .name = "image", .piece_length = 0, TWO_FILES }, -EINVAL },
        { "piece length negative", { .name = "image", .piece_length = -16384, TWO_FILES }, -EINVAL },
        { "piece length too small", { .name = "image", .piece_length = 1000, TWO_FILES }, -EINVAL },
        { "piece length just too small", { .name = "image", .piece_length = EZ_TORRENT_MIN_PIECE - 1, TWO_FILES },
          -EINVAL },
        { "piece length too big", { .name = "image", .piece_length = 2LL * EZ_TORRENT_MAX_PIECE, TWO_FILES },
          -EINVAL },
        { "piece length just too big", { .name = "image", .piece_length = EZ_TORRENT_MAX_PIECE + 1LL, TWO_FILES },
          -EINVAL },
        { "piece length huge", { .name = "image", .piece_length = INT64_MAX, TWO_FILES }, -EINVAL },
        { "piece length a string", { COMPAT_OK, .piece_length_str = true, TWO_FILES }, -EINVAL },
        { "pieces missing", { COMPAT_OK, .no_pieces = true, TWO_FILES }, -EINVAL },
        { "pieces not a multiple of 20", { COMPAT_OK, .pieces_extra = 7, TWO_FILES }, -EINVAL },
        { "pieces one byte short", { COMPAT_OK, .pieces_delta = -1, .pieces_extra = 19, TWO_FILES }, -EINVAL },
        { "one piece too many", { COMPAT_OK, .pieces_delta = 1, TWO_FILES }, -EINVAL },
        { "one piece too few", { COMPAT_OK, .pieces_delta = -1, TWO_FILES }, -EINVAL },
        { "no pieces", { COMPAT_OK, .pieces_override = true, .n_pieces = 0, TWO_FILES }, -EINVAL },
        { "pieces too few for a native torrent", { NATIVE_OK, .length = 8192, .pieces_override = true,
          .n_pieces = 0,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },

        /* compatible file names */
        { "file name not hex", { COMPAT_OK, .files = { F("zz00000000000000", 4096) }, .n_files = 1 }, -EINVAL },
        { "file name with a g", { COMPAT_OK, .files = { F("000000000000000g", 4096) }, .n_files = 1 }, -EINVAL },
        { "hex of 15 digits", { COMPAT_OK, .files = { F("000000000000000", 4096) }, .n_files = 1 }, -EINVAL },
        { "hex of 17 digits", { COMPAT_OK, .files = { F("00000000000000000", 4096) }, .n_files = 1 }, -EINVAL },
        { "hex of 31 digits", { COMPAT_OK, .files = { F("0000000000000000000000000000000", 4096) }, .n_files = 1 },
          -EINVAL },
        { "32-digit hex over 64 bits", { COMPAT_OK, .files = { F("00000000000000010000000000000000", 4096) },
          .n_files = 1 }, -EINVAL },
        { "32-digit hex, high half all f", { COMPAT_OK, .files = { F("ffffffffffffffff0000000000000000", 4096) },
          .n_files = 1 }, -EINVAL },
        { "0x prefix", { COMPAT_OK, .files = { F("0x00000000000000", 4096) }, .n_files = 1 }, -EINVAL },
        { "second file bad", { COMPAT_OK, .files = { F("0000000000000000", 4096), F("000000000001000", 4096) },
          .n_files = 2 }, -EINVAL },
        { "pad file", { COMPAT_OK, .files = { F("0000000000000000", 4096),
          { .hex = "0000000000001000", .length = 4096, .attr = "p" } }, .n_files = 2 }, -EINVAL },
        { "pad file among attributes", { COMPAT_OK, .files = {
          { .hex = "0000000000001000", .length = 4096, .attr = "xp" } }, .n_files = 1 }, -EINVAL },
        { "path with 3 levels", { COMPAT_OK, .files = {
          { .dir = "a", .dir2 = "b", .hex = "0000000000000000", .length = 4096 } }, .n_files = 1 }, -EINVAL },
        { "empty path", { COMPAT_OK, .files = { { .length = 4096 } }, .n_files = 1 }, -EINVAL },
        { "path element not a string", { COMPAT_OK, .files = {
          { .path_int = true, .hex = "0000000000000000", .length = 4096 } }, .n_files = 1 }, -EINVAL },
        { "file without path", { COMPAT_OK, .files = { { .no_path = true, .length = 4096 } }, .n_files = 1 },
          -EINVAL },
        { "file without length", { COMPAT_OK, .files = { { .hex = "0000000000000000", .no_length = true } },
          .n_files = 1 }, -EINVAL },
        { "negative file length", { COMPAT_OK, .files = { F("0000000000000000", 4096), F("0000000000010000", -1) },
          .n_files = 2 }, -EINVAL },
        { "file length int64 min", { COMPAT_OK, .files = { F("0000000000000000", INT64_MIN) }, .n_files = 1 },
          -EINVAL },
        { "file entry not a dict", { COMPAT_OK, .files = { F("0000000000000000", 4096), { .not_dict = true } },
          .n_files = 2 }, -EINVAL },
        { "overlapping files", { COMPAT_OK, .files = { F("0000000000000000", 4096), F("0000000000000000", 4096) },
          .n_files = 2 }, -EINVAL },
        { "partly overlapping files", { COMPAT_OK, .files = { F("0000000000000000", 8192),
          F("0000000000001000", 4096) }, .n_files = 2 }, -EINVAL },
        { "file end past 64 bits", { COMPAT_OK, .files = { F("FFFFFFFFFFFFF000", 4096) }, .n_files = 1 }, -EINVAL },
        { "all files empty", { COMPAT_OK, .files = { F("0000000000000000", 0), F("0000000000001000", 0) },
          .n_files = 2 }, -EINVAL },
        { "empty files list", { COMPAT_OK, .files_key = true }, -EINVAL },
        { "files not a list", { COMPAT_OK, .files_not_list = true }, -EINVAL },
        { "neither length nor files", { COMPAT_OK }, -EINVAL },
        { "single file name not hex", { .name = "image.img", .piece_length = 16384, .single = true,
          .length = 4096 }, -EINVAL },
        { "single file length 0", { .name = "0000000000000000", .piece_length = 16384, .single = true,
          .length = 0 }, -EINVAL },
        { "single file negative length", { .name = "0000000000000000", .piece_length = 16384, .single = true,
          .length = -4096 }, -EINVAL },
        { "single file end past 64 bits", { .name = "FFFFFFFFFFFFFFFF", .piece_length = 16384, .single = true,
          .length = 2 }, -EINVAL },

        /* native: the ezio dictionary */
        { "ezio version 2", { NATIVE_OK, .length = 8192,
          .ez = { .version = 2, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio version 0", { NATIVE_OK, .length = 8192,
          .ez = { .version = 0, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio version missing", { NATIVE_OK, .length = 8192,
          .ez = { .omit_version = true, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2,
                  .kind = "disk" } }, -EINVAL },
        { "ezio target size missing", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .omit_tsize = true, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio target size 0", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 0, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio target size negative", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = -8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio block size missing", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .omit_bsize = true, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio block size 100", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 100, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio block size 3000", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 3000, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio block size 2 MiB", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 2 << 20, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "ezio extents missing", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .kind = "disk" } }, -EINVAL },
        { "ezio extents empty", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 0, .kind = "disk" } },
          -EINVAL },
        { "ezio kind missing", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2 } }, -EINVAL },
        { "ezio kind unknown", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "floppy" } },
          -EINVAL },
        { "extents map overruns target size", { NATIVE_OK, .length = 12288,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_over, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "extents map truncated varint", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_trunc, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "extents hold less than length", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_first, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "zero map overlaps data", { NATIVE_OK, .length = 8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2,
                  .zero = zero_block1, .zero_len = 2, .kind = "disk" } }, -EINVAL },
        { "zero map overruns target size", { NATIVE_OK, .length = 4096,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_first, .ext_len = 2,
                  .zero = zero_over, .zero_len = 2, .kind = "disk" } }, -EINVAL },
        { "native torrent with a files list", { .ezio = true, .name = "disk.img", .piece_length = 16384,
          .files = { F("0000000000000000", 8192) }, .n_files = 1,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "native torrent with negative length", { NATIVE_OK, .length = -8192,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "native torrent with length 0", { NATIVE_OK, .length = 0,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },
        { "native torrent without length", { .ezio = true, .name = "disk.img", .piece_length = 16384,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          -EINVAL },

        /* regression: the piece count was (total + piece - 1) / piece,
         * which wrapped to 0 for files adding up to 2^64 - 2 bytes, so an
         * empty 'pieces' string was accepted */
        { "total length near 2^64 must not wrap the piece count", { COMPAT_OK,
          .files = { F("0000000000000000", INT64_MAX), F("8000000000000000", INT64_MAX) }, .n_files = 2,
          .pieces_override = true, .n_pieces = 0 }, -EINVAL },
};

START_TEST(test_bad)
{
        const struct bad_case *c = &bad_cases[_i];
        struct ez_buf b;
        struct ez_torrent *t;
        struct ez_err err;
        int r;

        write_torrent(&c->d, &b);
        r = parse_copy(b.data, b.len, &t, &err);
        ez_buf_free(&b);
        if (r == 0)
                ez_torrent_free(t);
        ck_assert_msg(r == c->rc, "%s: got %d (%s), want %d", c->title, r, err.msg, c->rc);
        if (r < 0) {
                ck_assert_ptr_null(t);
                ck_assert_msg(err.msg[0] != '\0', "%s: no message", c->title);
        }
}
END_TEST

/* Every failure path also works without an error buffer. */
START_TEST(test_bad_null_err)
{
        const struct bad_case *c = &bad_cases[_i];
        struct ez_buf b;
        struct ez_torrent *t;
        int r;

        write_torrent(&c->d, &b);
        r = parse_copy(b.data, b.len, &t, NULL);
        ez_buf_free(&b);
        if (r == 0)
                ez_torrent_free(t);
        ck_assert_msg(r == c->rc, "%s: got %d, want %d", c->title, r, c->rc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* trackers and web seeds                                              */

struct tracker_case {
        const char *title;
        struct tdesc d;
        const char *trackers[4];
        size_t n_trackers;
        const char *seeds[3];
        size_t n_seeds;
};

static const struct tracker_case tracker_cases[] = {
        { "none", { COMPAT_OK, TWO_FILES }, { NULL }, 0, { NULL }, 0 },
        { "announce only", { COMPAT_OK, TWO_FILES, .announce = "http://a/" }, { "http://a/" }, 1, { NULL }, 0 },
        { "announce-list only", { COMPAT_OK, TWO_FILES, .tiers = { { "http://a/", "http://b/" }, { "udp://c:1" } },
          .n_tiers = 2 }, { "http://a/", "http://b/", "udp://c:1" }, 3, { NULL }, 0 },
        { "announce repeated in the list", { COMPAT_OK, TWO_FILES, .announce = "http://b/",
          .tiers = { { "http://a/", "http://b/" }, { "http://a/" } }, .n_tiers = 2 },
          { "http://b/", "http://a/" }, 2, { NULL }, 0 },
        { "empty announce skipped", { COMPAT_OK, TWO_FILES, .announce = "",
          .tiers = { { "", "http://a/" } }, .n_tiers = 1 }, { "http://a/" }, 1, { NULL }, 0 },
        { "non-list tier and non-string url skipped", { COMPAT_OK, TWO_FILES, .bad_tier = true,
          .tiers = { { "http://a/" } }, .n_tiers = 1 }, { "http://a/" }, 1, { NULL }, 0 },
        { "url-list string", { COMPAT_OK, TWO_FILES, .url = "http://seed/img" }, { NULL }, 0,
          { "http://seed/img" }, 1 },
        { "url-list empty string", { COMPAT_OK, TWO_FILES, .url = "" }, { NULL }, 0, { NULL }, 0 },
        { "url-list list", { COMPAT_OK, TWO_FILES, .urls = { "http://s1/", "", "http://s1/" }, .n_urls = 3 },
          { NULL }, 0, { "http://s1/" }, 1 },
};

START_TEST(test_trackers)
{
        const struct tracker_case *c = &tracker_cases[_i];
        struct ez_buf b;
        struct ez_torrent *t;
        struct ez_err err;

        write_torrent(&c->d, &b);
        ck_assert_msg(parse_copy(b.data, b.len, &t, &err) == 0, "%s: %s", c->title, err.msg);
        check_strings(t->trackers, t->n_trackers, c->trackers, c->n_trackers, "trackers");
        check_strings(t->web_seeds, t->n_web_seeds, c->seeds, c->n_seeds, "web seeds");
        /* root-level keys do not change the info-hash's input */
        check_info_hash(t, b.data, b.len);
        ez_torrent_free(t);
        ez_buf_free(&b);
}
END_TEST

/* 'private' must be exactly 1; a v2 file tree is noticed; unknown keys
 * are ignored. */
struct flag_case {
        const char *title;
        struct tdesc d;
        bool is_private, has_v2;
};

static const struct flag_case flag_cases[] = {
        { "plain", { COMPAT_OK, TWO_FILES }, false, false },
        { "private 1", { COMPAT_OK, TWO_FILES, .private_val = 1 }, true, false },
        { "private 2", { COMPAT_OK, TWO_FILES, .private_val = 2 }, false, false },
        { "private -1", { COMPAT_OK, TWO_FILES, .private_val = -1 }, false, false },
        { "hybrid v2", { COMPAT_OK, TWO_FILES, .file_tree = true }, false, true },
        { "native, private 2", { NATIVE_OK, .length = 8192, .private_val = 2,
          .ez = { .version = 1, .tsize = 8192, .bsize = 4096, .ext = ext_all, .ext_len = 2, .kind = "disk" } },
          false, false },
};

START_TEST(test_flags)
{
        const struct flag_case *c = &flag_cases[_i];
        struct ez_buf b;
        struct ez_torrent *t;
        struct ez_err err;

        write_torrent(&c->d, &b);
        ck_assert_msg(parse_copy(b.data, b.len, &t, &err) == 0, "%s: %s", c->title, err.msg);
        ck_assert_msg(t->is_private == c->is_private, "%s: is_private %d", c->title, t->is_private);
        ck_assert_msg(t->has_v2 == c->has_v2, "%s: has_v2 %d", c->title, t->has_v2);
        ez_torrent_free(t);
        ez_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* hex offsets                                                         */

struct hex_case {
        const char *s;
        size_t len;
        int rc;
        uint64_t v;
};

#define H(lit) lit, (sizeof(lit) - 1)

static const struct hex_case hex_cases[] = {
        { H("0000000000000000"), 0, 0 },
        { H("00000000000000ff"), 0, 255 },
        { H("00000000000000FF"), 0, 255 },
        { H("ffffffffffffffff"), 0, UINT64_MAX },
        { H("FFFFFFFFFFFFFFFF"), 0, UINT64_MAX },
        { H("0123456789abcdef"), 0, 0x0123456789abcdefULL },
        { H("0123456789ABCDEF"), 0, 0x0123456789abcdefULL },
        { H("aBcDeF0123456789"), 0, 0xabcdef0123456789ULL },
        { H("00000000000000000000000000000000"), 0, 0 },
        { H("00000000000000000000000000001000"), 0, 4096 },
        { H("0000000000000000FEDCBA9876543210"), 0, 0xfedcba9876543210ULL },
        { H("0000000000000000ffffffffffffffff"), 0, UINT64_MAX },
        { "0000000000001000xyz", 16, 0, 4096 },         /* only len bytes are read */
        /* hostile */
        { H(""), -EINVAL, 0 },
        { H("0"), -EINVAL, 0 },
        { H("000000000000000"), -EINVAL, 0 },
        { H("00000000000000000"), -EINVAL, 0 },
        { H("0000000000000000000000000000000"), -EINVAL, 0 },
        { H("000000000000000000000000000000000"), -EINVAL, 0 },
        { H("zz00000000000000"), -EINVAL, 0 },
        { H("000000000000000g"), -EINVAL, 0 },
        { H("000000000000000G"), -EINVAL, 0 },
        { H("000000000000000/"), -EINVAL, 0 },
        { H("0000000000000:00"), -EINVAL, 0 },
        { H("000000000000000@"), -EINVAL, 0 },
        { H("000000000000000`"), -EINVAL, 0 },
        { H(" 000000000000000"), -EINVAL, 0 },
        { H("0x00000000000000"), -EINVAL, 0 },
        { H("-000000000000001"), -EINVAL, 0 },
        { H("+000000000000001"), -EINVAL, 0 },
        { H("0000000" "\0" "00000000"), -EINVAL, 0 },
        { H("00000000000000010000000000000000"), -EINVAL, 0 },
        { H("10000000000000000000000000000000"), -EINVAL, 0 },
        { H("ffffffffffffffff0000000000000000"), -EINVAL, 0 },
        { H("0000000000000000000000000000000z"), -EINVAL, 0 },
};

START_TEST(test_hex_offset)
{
        const struct hex_case *c = &hex_cases[_i];
        char *s = malloc(c->len ? c->len : 1);  /* exact size: no terminator */
        uint64_t v = 0x5a5a5a5a;
        int r;

        ck_assert_ptr_nonnull(s);
        if (c->len)
                memcpy(s, c->s, c->len);
        r = ez_torrent_parse_hex_offset(s, c->len, &v);
        free(s);
        ck_assert_msg(r == c->rc, "case %d (len %zu): got %d, want %d", _i, c->len, r, c->rc);
        if (r == 0)
                ck_assert_uint_eq(v, c->v);
        else
                ck_assert_uint_eq(v, 0x5a5a5a5a);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ez_torrent_load                                                     */

enum load_kind { L_MISSING, L_MISSING_DIR, L_DIR, L_EMPTY, L_GARBAGE, L_TOO_BIG, L_VALID, L_TRAILING };

struct load_case {
        const char *title;
        enum load_kind kind;
        int rc;
};

static const struct load_case load_cases[] = {
        { "valid", L_VALID, 0 },
        { "missing file", L_MISSING, -ENOENT },
        { "missing directory", L_MISSING_DIR, -ENOENT },
        { "a directory", L_DIR, -EINVAL },
        { "empty file", L_EMPTY, -EBADMSG },
        { "garbage", L_GARBAGE, -EBADMSG },
        { "too big", L_TOO_BIG, -EFBIG },
        { "trailing garbage", L_TRAILING, -EBADMSG },
};

START_TEST(test_load)
{
        const struct load_case *c = &load_cases[_i];
        char *dir = tu_mkdtemp();
        char *path = NULL;
        struct ez_buf b;
        struct ez_torrent *t = NULL;
        struct ez_err err = { "" };
        int r;

        build_native(&native_cases[1], &b);
        switch (c->kind) {
        case L_MISSING:
                path = tu_path(dir, "nothing.torrent");
                break;
        case L_MISSING_DIR:
                path = tu_path(dir, "no/such/dir.torrent");
                break;
        case L_DIR:
                path = tu_path(dir, "sub");
                ck_assert_int_eq(mkdir(path, 0755), 0);
                break;
        case L_EMPTY:
                path = tu_path(dir, "empty.torrent");
                tu_write_at(path, "", 0, 0);
                break;
        case L_GARBAGE:
                path = tu_path(dir, "garbage.torrent");
                tu_write_at(path, "<html>not found</html>\n", 23, 0);
                break;
        case L_TOO_BIG:
                path = tu_path(dir, "big.torrent");
                tu_write_at(path, b.data, b.len, 0);
                ck_assert_int_eq(truncate(path, (off_t)EZ_TORRENT_MAX_SIZE + 1), 0);
                break;
        case L_VALID:
                path = tu_path(dir, "good.torrent");
                tu_write_at(path, b.data, b.len, 0);
                break;
        case L_TRAILING:
                path = tu_path(dir, "trailing.torrent");
                tu_write_at(path, b.data, b.len, 0);
                tu_write_at(path, "\n", 1, (off_t)b.len);
                break;
        }

        r = ez_torrent_load(path, &t, &err);
        ck_assert_msg(r == c->rc, "%s: got %d (%s), want %d", c->title, r, err.msg, c->rc);
        if (r == 0) {
                ck_assert_str_eq(t->name, native_cases[1].name);
                ck_assert_uint_eq(t->raw_len, b.len);
                check_info_hash(t, b.data, b.len);
                ez_torrent_free(t);
        } else {
                ck_assert_ptr_null(t);
                ck_assert_str_ne(err.msg, "");
                ck_assert_msg(strstr(err.msg, path) != NULL, "%s: message '%s' does not name the file",
                              c->title, err.msg);
        }
        ez_buf_free(&b);
        free(path);
        tu_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ez_torrent_payload_layout                                           */

struct payload_case {
        const char *title;
        int native;             /* index into native_cases, or -1 */
        int compat;             /* index into compat_cases, or -1 */
        int rc;
        enum ez_layout_kind kind;
};

static const struct payload_case payload_cases[] = {
        { "native partition", 0, -1, 0, EZ_LAYOUT_PARTITION },
        { "native disk, sparse", 1, -1, 0, EZ_LAYOUT_DISK },
        { "native, partial last block", 2, -1, 0, EZ_LAYOUT_PARTITION },
        { "compat single file", -1, 8, 0, EZ_LAYOUT_PARTITION },
        { "compat multi-file", -1, 0, -EINVAL, 0 },
        { "compat multi-file with a directory", -1, 2, -EINVAL, 0 },
};

START_TEST(test_payload_layout)
{
        const struct payload_case *c = &payload_cases[_i];
        struct ez_buf b;
        struct ez_torrent *t;
        struct ez_layout *l = NULL;
        struct ez_err err = { "" };
        uint64_t off, run;
        int r;

        if (c->native >= 0)
                build_native(&native_cases[c->native], &b);
        else
                write_torrent(&compat_cases[c->compat].d, &b);
        ck_assert_msg(parse_copy(b.data, b.len, &t, &err) == 0, "%s: %s", c->title, err.msg);
        ez_buf_free(&b);

        err.msg[0] = '\0';
        r = ez_torrent_payload_layout(t, &l, &err);
        if (r < 0) {
                ez_torrent_free(t);
                ck_assert_msg(r == c->rc, "%s: got %d (%s)", c->title, r, err.msg);
                ck_assert_ptr_null(l);
                ck_assert_str_ne(err.msg, "");
                return;
        }
        ck_assert_msg(c->rc == 0, "%s: succeeded, want %d", c->title, c->rc);
        ck_assert(l->finished);
        ck_assert_uint_eq(l->target_size, t->total_length);
        ck_assert_uint_eq(l->payload_len, t->total_length);
        ck_assert_int_eq(l->kind, c->kind);
        ck_assert_uint_eq(l->n_data, 1);
        ck_assert_uint_eq(l->data[0].off, 0);
        ck_assert_uint_eq(l->data[0].len, t->total_length);
        ck_assert_uint_eq(l->n_zero, 0);
        /* the identity map */
        ck_assert_int_eq(ez_layout_map(l, t->total_length - 1, 10, &off, &run), 0);
        ck_assert_uint_eq(off, t->total_length - 1);
        ck_assert_uint_eq(run, 1);
        ck_assert_int_eq(ez_layout_map(l, t->total_length, 1, &off, &run), -ERANGE);
        ez_layout_free(l);
        ez_torrent_free(t);
}
END_TEST

/* A torrent of many distinct trackers and web seeds: the first
 * EZ_TORRENT_MAX_URLS of each are kept, the rest ignored, in linear time.
 * Before the cap the duplicate check made the parse quadratic: 100000
 * web seeds (1.3 MB) took about 14 s, and the 100 MiB a torrent may have
 * hours (docs/fuzzing.md, tests/data/fuzz/torrent/many-urls.torrent). */
START_TEST(test_many_urls)
{
        static const char *files[] = { "tests/data/fuzz/torrent/many-urls.torrent", NULL };
        struct ez_buf b = { 0 };
        struct ez_torrent *t;
        struct ez_err err;
        char want[32], *raw = NULL;
        size_t len = 0, i;

        if (files[_i]) {
                ck_assert_int_eq(ez_io_read_file(files[_i], EZ_TORRENT_MAX_SIZE, &raw, &len, NULL), 0);
                ck_assert_msg(parse_copy(raw, len, &t, &err) == 0, "%s", err.msg);
                ck_assert_uint_eq(t->n_trackers, EZ_TORRENT_MAX_URLS);
                ck_assert_str_eq(t->trackers[EZ_TORRENT_MAX_URLS - 1], "http://t255/a");
        } else {
                /* a compatible torrent of one extent with 100000 web seeds */
                static const uint8_t piece[20];

                ez_benc_dict(&b);
                ez_benc_cstr(&b, "info");
                ez_benc_dict(&b);
                ez_benc_cstr(&b, "length");
                ez_benc_int(&b, 4096);
                ez_benc_cstr(&b, "name");
                ez_benc_cstr(&b, "0000000000000000");
                ez_benc_cstr(&b, "piece length");
                ez_benc_int(&b, 16384);
                ez_benc_cstr(&b, "pieces");
                ez_benc_str(&b, piece, sizeof(piece));
                ez_benc_end(&b);
                ez_benc_cstr(&b, "url-list");
                ez_benc_list(&b);
                for (i = 0; i < 100000; i++) {
                        snprintf(want, sizeof(want), "http://s%zu/x", i);
                        ez_benc_cstr(&b, want);
                }
                ez_benc_end(&b);
                ez_benc_end(&b);
                ck_assert_int_eq(b.err, 0);
                ck_assert_msg(parse_copy(b.data, b.len, &t, &err) == 0, "%s", err.msg);
                ck_assert_uint_eq(t->n_trackers, 0);
        }
        ck_assert_uint_eq(t->n_web_seeds, EZ_TORRENT_MAX_URLS);
        for (i = 0; i < EZ_TORRENT_MAX_URLS; i++) {
                snprintf(want, sizeof(want), "http://s%zu/x", i);
                ck_assert_str_eq(t->web_seeds[i], want);
        }
        ez_torrent_free(t);
        ez_buf_free(&b);
        free(raw);
}
END_TEST

static Suite *torrent_suite(void)
{
        Suite *s = suite_create("torrent");
        TCase *tc;

        tc = tcase_create("native");
        tcase_add_loop_test(tc, test_native, 0, N_ELEMS(native_cases));
        tcase_add_loop_test(tc, test_native_truncated, 0, N_ELEMS(native_cases));
        tcase_add_test(tc, test_digest);
        tcase_add_loop_test(tc, test_build_bad, 0, N_ELEMS(build_bad_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("compat");
        tcase_add_loop_test(tc, test_compat, 0, N_ELEMS(compat_cases));
        tcase_add_loop_test(tc, test_trackers, 0, N_ELEMS(tracker_cases));
        tcase_add_loop_test(tc, test_flags, 0, N_ELEMS(flag_cases));
        tcase_add_loop_test(tc, test_hex_offset, 0, N_ELEMS(hex_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("hostile");
        tcase_add_loop_test(tc, test_bad, 0, N_ELEMS(bad_cases));
        tcase_add_loop_test(tc, test_bad_null_err, 0, N_ELEMS(bad_cases));
        tcase_add_loop_test(tc, test_many_urls, 0, 2);
        suite_add_tcase(s, tc);

        tc = tcase_create("files");
        tcase_add_loop_test(tc, test_load, 0, N_ELEMS(load_cases));
        tcase_add_loop_test(tc, test_payload_layout, 0, N_ELEMS(payload_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(torrent_suite());
}
