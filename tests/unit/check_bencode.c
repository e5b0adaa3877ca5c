/*
 * check_bencode.c - unit tests for the strict bencode decoder and the
 * encoder (ezio-deploy/lib/bencode.c).
 *
 * Valid documents are checked node by node: type, value, child count, the
 * index of the next subtree and the byte span.  Hostile documents (bad
 * integers, strings running past the end, unsorted keys, trailing data,
 * excessive nesting, too many nodes, and every truncated prefix of every
 * valid document) must fail with the documented code and a message.  The
 * decoder always reads from an exact-size heap copy of its input, so that
 * AddressSanitizer and valgrind catch any read past the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "bencode.h"
#include "testutil.h"

#define S(lit) lit, (sizeof(lit) - 1)
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* An exact-size heap copy of len bytes (never NULL, even for len 0). */
static char *dup_exact(const char *p, size_t len)
{
        char *c = malloc(len ? len : 1);

        ck_assert_ptr_nonnull(c);
        if (len)
                memcpy(c, p, len);
        return c;
}

/* Decode a heap copy; on success the copy is returned in *ret_copy (it
 * must outlive the document), on failure it is freed. */
static int decode_copy(const char *in, size_t len, size_t max_nodes, struct ez_bdoc **doc,
                       char **ret_copy, struct ez_err *err)
{
        char *c = dup_exact(in, len);
        int r;

        *doc = NULL;
        err->msg[0] = '\0';
        r = ez_bdecode(c, len, max_nodes, doc, err);
        if (r < 0) {
                free(c);
                *ret_copy = NULL;
        } else {
                *ret_copy = c;
        }
        return r;
}

/* ------------------------------------------------------------------ */
/* valid documents                                                     */

struct xnode {
        enum ez_bnode_type type;
        int64_t ival;
        const char *str;
        size_t len;
        uint32_t count;
        uint32_t next;
        size_t start, end;
};

#define XI(v, nx, s, e) { .type = EZ_BNODE_INT, .ival = (v), .next = (nx), .start = (s), .end = (e) }
#define XS(p, l, nx, s, e) { .type = EZ_BNODE_STR, .str = (p), .len = (l), .next = (nx), .start = (s), .end = (e) }
#define XL(c, nx, s, e) { .type = EZ_BNODE_LIST, .count = (c), .next = (nx), .start = (s), .end = (e) }
#define XD(c, nx, s, e) { .type = EZ_BNODE_DICT, .count = (c), .next = (nx), .start = (s), .end = (e) }

struct valid_case {
        const char *name;
        const char *in;
        size_t len;
        size_t max_nodes;
        size_t n;
        struct xnode nodes[8];
};

static const struct valid_case valid_cases[] = {
        { "zero", S("i0e"), 0, 1, { XI(0, 1, 0, 3) } },
        { "positive", S("i42e"), 0, 1, { XI(42, 1, 0, 4) } },
        { "negative", S("i-7e"), 0, 1, { XI(-7, 1, 0, 4) } },
        { "int64 max", S("i9223372036854775807e"), 0, 1, { XI(INT64_MAX, 1, 0, 21) } },
        { "int64 min", S("i-9223372036854775808e"), 0, 1, { XI(INT64_MIN, 1, 0, 22) } },
        { "empty string", S("0:"), 0, 1, { XS("", 0, 1, 0, 2) } },
        { "string", S("4:spam"), 0, 1, { XS("spam", 4, 1, 0, 6) } },
        { "string with NULs", S("5:a\0b\0c"), 0, 1, { XS("a\0b\0c", 5, 1, 0, 7) } },
        { "two-digit length", S("10:0123456789"), 0, 1, { XS("0123456789", 10, 1, 0, 13) } },
        { "empty list", S("le"), 0, 1, { XL(0, 1, 0, 2) } },
        { "empty dict", S("de"), 0, 1, { XD(0, 1, 0, 2) } },
        { "list", S("li1e4:spamlee"), 0, 4,
          { XL(3, 4, 0, 13), XI(1, 2, 1, 4), XS("spam", 4, 3, 4, 10), XL(0, 4, 10, 12) } },
        { "dict, prefix keys", S("d1:ai1e2:aali2eee"), 0, 6,
          { XD(2, 6, 0, 17), XS("a", 1, 2, 1, 4), XI(1, 3, 4, 7), XS("aa", 2, 4, 7, 11),
            XL(1, 6, 11, 16), XI(2, 6, 12, 15) } },
        { "list of lists", S("lli1eeli2eee"), 0, 5,
          { XL(2, 5, 0, 12), XL(1, 3, 1, 6), XI(1, 3, 2, 5), XL(1, 5, 6, 11), XI(2, 5, 7, 10) } },
        { "dict in dict", S("d4:infod6:lengthi5eee"), 0, 5,
          { XD(1, 5, 0, 21), XS("info", 4, 2, 1, 7), XD(1, 5, 7, 20), XS("length", 6, 4, 8, 16),
            XI(5, 5, 16, 19) } },
        { "empty key and value", S("d0:0:e"), 0, 3,
          { XD(1, 3, 0, 6), XS("", 0, 2, 1, 3), XS("", 0, 3, 3, 5) } },
        { "node limit exactly met", S("li1ei2ei3ee"), 4, 4,
          { XL(3, 4, 0, 11), XI(1, 2, 1, 4), XI(2, 3, 4, 7), XI(3, 4, 7, 10) } },
        { "single node, limit 1", S("de"), 1, 1, { XD(0, 1, 0, 2) } },
};

START_TEST(test_valid)
{
        const struct valid_case *c = &valid_cases[_i];
        struct ez_bdoc *doc;
        struct ez_err err;
        char *buf;
        size_t k;

        ck_assert_msg(decode_copy(c->in, c->len, c->max_nodes, &doc, &buf, &err) == 0,
                      "%s: %s", c->name, err.msg);
        ck_assert_ptr_eq(doc->buf, buf);
        ck_assert_uint_eq(doc->len, c->len);
        ck_assert_uint_eq(doc->n, c->n);
        for (k = 0; k < c->n; k++) {
                const struct ez_bnode *g = &doc->nodes[k];
                const struct xnode *x = &c->nodes[k];

                ck_assert_msg(g->type == x->type, "%s: node %zu type %d, want %d", c->name, k, g->type, x->type);
                ck_assert_msg(g->start == x->start && g->end == x->end,
                              "%s: node %zu span [%zu,%zu), want [%zu,%zu)", c->name, k,
                              g->start, g->end, x->start, x->end);
                ck_assert_msg(g->next == x->next, "%s: node %zu next %u, want %u", c->name, k, g->next, x->next);
                switch (x->type) {
                case EZ_BNODE_INT:
                        ck_assert_msg(g->ival == x->ival, "%s: node %zu value %lld, want %lld", c->name, k,
                                      (long long)g->ival, (long long)x->ival);
                        break;
                case EZ_BNODE_STR:
                        ck_assert_uint_eq(g->len, x->len);
                        ck_assert_mem_eq(g->str, x->str, x->len);
                        /* the string points into the buffer and ends the span */
                        ck_assert_ptr_eq(g->str + g->len, buf + g->end);
                        break;
                case EZ_BNODE_LIST:
                case EZ_BNODE_DICT:
                        ck_assert_uint_eq(g->count, x->count);
                        break;
                }
        }
        ck_assert_uint_eq(ez_bdoc_root(doc)->end, c->len);
        ez_bdoc_free(doc);
        free(buf);
}
END_TEST

/* Bencode is prefix free: every proper prefix of a valid document is
 * truncated input and must be refused as such. */
START_TEST(test_truncated_prefixes)
{
        const struct valid_case *c = &valid_cases[_i];
        size_t plen;

        for (plen = 0; plen < c->len; plen++) {
                struct ez_bdoc *doc;
                struct ez_err err;
                char *buf;
                int r = decode_copy(c->in, plen, 0, &doc, &buf, &err);

                if (r == 0) {
                        ez_bdoc_free(doc);
                        free(buf);
                }
                ck_assert_msg(r == -EBADMSG, "%s: prefix of %zu bytes gave %d", c->name, plen, r);
                ck_assert_msg(err.msg[0] != '\0', "%s: prefix %zu: no message", c->name, plen);
        }
}
END_TEST

/* ------------------------------------------------------------------ */
/* hostile documents                                                   */

struct bad_case {
        const char *name;
        const char *in;
        size_t len;
        size_t max_nodes;
        int rc;
        const char *why;        /* a phrase the message must contain, if set */
};

static const struct bad_case bad_cases[] = {
        { "empty input", S(""), 0, -EBADMSG, "end of input" },
        { "leading zero", S("i03e"), 0, -EBADMSG, "leading zero" },
        { "double zero", S("i00e"), 0, -EBADMSG, "leading zero" },
        { "negative zero", S("i-0e"), 0, -EBADMSG, "negative zero" },
        { "negative leading zero", S("i-01e"), 0, -EBADMSG, "leading zero" },
        { "minus without digits", S("i-e"), 0, -EBADMSG, "digits" },
        { "no digits", S("ie"), 0, -EBADMSG, "digits" },
        { "plus sign", S("i+1e"), 0, -EBADMSG, NULL },
        { "space in integer", S("i 1e"), 0, -EBADMSG, NULL },
        { "fraction", S("i1.5e"), 0, -EBADMSG, NULL },
        { "double minus", S("i--1e"), 0, -EBADMSG, NULL },
        { "unterminated integer", S("i1"), 0, -EBADMSG, "unterminated" },
        { "integer bad terminator", S("i1x"), 0, -EBADMSG, "unterminated" },
        { "int64 max + 1", S("i9223372036854775808e"), 0, -EBADMSG, "overflow" },
        { "int64 min - 1", S("i-9223372036854775809e"), 0, -EBADMSG, "overflow" },
        { "uint64 max", S("i18446744073709551615e"), 0, -EBADMSG, "overflow" },
        { "huge integer", S("i99999999999999999999999999e"), 0, -EBADMSG, "overflow" },
        { "string past end", S("5:ab"), 0, -EBADMSG, "past the end" },
        { "string one past end", S("3:ab"), 0, -EBADMSG, "past the end" },
        { "string length overflow", S("99999999999999999999:a"), 0, -EBADMSG, "overflow" },
        { "string length int64 max", S("9223372036854775807:a"), 0, -EBADMSG, "past the end" },
        { "string length leading zero", S("03:abc"), 0, -EBADMSG, "leading zero" },
        { "negative string length", S("-1:a"), 0, -EBADMSG, NULL },
        { "length without colon", S("4spam"), 0, -EBADMSG, NULL },
        { "colon only", S(":a"), 0, -EBADMSG, NULL },
        { "unterminated list", S("li1e"), 0, -EBADMSG, "unterminated" },
        { "unterminated dict", S("d1:ai1e"), 0, -EBADMSG, "unterminated" },
        { "dict key without value", S("d1:ae"), 0, -EBADMSG, NULL },
        { "unsorted keys", S("d1:bi1e1:ai2ee"), 0, -EBADMSG, "unsorted" },
        { "duplicate keys", S("d1:ai1e1:ai2ee"), 0, -EBADMSG, "repeated" },
        { "longer key first", S("d2:aai1e1:ai2ee"), 0, -EBADMSG, "unsorted" },
        { "unsorted nested keys", S("d1:ad1:zi1e1:yi2eee"), 0, -EBADMSG, "unsorted" },
        { "integer key", S("di1ei2ee"), 0, -EBADMSG, "not a string" },
        { "list key", S("dlei1ee"), 0, -EBADMSG, "not a string" },
        { "dict key", S("ddei1ee"), 0, -EBADMSG, "not a string" },
        { "second key not a string", S("d1:ai1ei2ei3ee"), 0, -EBADMSG, "not a string" },
        { "trailing value", S("i1ei2e"), 0, -EBADMSG, "trailing" },
        { "trailing byte", S("4:spamx"), 0, -EBADMSG, "trailing" },
        { "trailing NUL", S("de\0"), 0, -EBADMSG, "trailing" },
        { "trailing end", S("lee"), 0, -EBADMSG, "trailing" },
        { "unknown type", S("x"), 0, -EBADMSG, NULL },
        { "lone end", S("e"), 0, -EBADMSG, NULL },
        { "high byte", S("\xff"), 0, -EBADMSG, NULL },
        { "NUL byte", S("\0"), 0, -EBADMSG, NULL },
        { "too many nodes in list", S("li1ei2ei3ee"), 3, -E2BIG, "more than" },
        { "too many nodes, nested", S("lli1eee"), 2, -E2BIG, "more than" },
        { "too many nodes in dict", S("d1:ai1ee"), 2, -E2BIG, "more than" },
        { "limit of one node", S("li1ee"), 1, -E2BIG, "more than" },
};

START_TEST(test_bad)
{
        const struct bad_case *c = &bad_cases[_i];
        struct ez_bdoc *doc;
        struct ez_err err;
        char *buf;
        int r = decode_copy(c->in, c->len, c->max_nodes, &doc, &buf, &err);

        if (r == 0) {
                ez_bdoc_free(doc);
                free(buf);
        }
        ck_assert_msg(r == c->rc, "%s: got %d, want %d", c->name, r, c->rc);
        ck_assert_msg(err.msg[0] != '\0', "%s: no error message", c->name);
        ck_assert_msg(strncmp(err.msg, "bencode: ", 9) == 0, "%s: message '%s'", c->name, err.msg);
        if (c->rc == -EBADMSG)
                ck_assert_msg(strstr(err.msg, "byte") != NULL, "%s: message '%s' names no offset",
                              c->name, err.msg);
        /* failing for the right reason, not a later one */
        if (c->why)
                ck_assert_msg(strstr(err.msg, c->why) != NULL, "%s: message '%s' lacks '%s'",
                              c->name, err.msg, c->why);
}
END_TEST

/* A NULL err is allowed and must not crash. */
START_TEST(test_bad_null_err)
{
        const struct bad_case *c = &bad_cases[_i];
        struct ez_bdoc *doc = NULL;
        char *buf = dup_exact(c->in, c->len);
        int r = ez_bdecode(buf, c->len, c->max_nodes, &doc, NULL);

        if (r == 0)
                ez_bdoc_free(doc);
        free(buf);
        ck_assert_int_eq(r, c->rc);
}
END_TEST

/* ------------------------------------------------------------------ */
/* nesting depth                                                       */

/* Depth counts values from the root (depth 0); a value at a depth above
 * EZ_BENCODE_MAX_DEPTH is refused.  'l': levels nested lists around leaf;
 * 'd': levels nested dicts "d1:a...", the innermost one empty. */
struct depth_case {
        const char *name;
        char container;
        size_t levels;
        const char *leaf;
        int rc;
};

static const struct depth_case depth_cases[] = {
        { "int at max depth", 'l', EZ_BENCODE_MAX_DEPTH, "i1e", 0 },
        { "int below max depth", 'l', EZ_BENCODE_MAX_DEPTH - 1, "4:spam", 0 },
        { "int past max depth", 'l', EZ_BENCODE_MAX_DEPTH + 1, "i1e", -EBADMSG },
        { "string past max depth", 'l', EZ_BENCODE_MAX_DEPTH + 1, "0:", -EBADMSG },
        { "empty list at max depth", 'l', EZ_BENCODE_MAX_DEPTH + 1, "", 0 },
        { "empty list past max depth", 'l', EZ_BENCODE_MAX_DEPTH + 2, "", -EBADMSG },
        { "empty dict at max depth", 'd', EZ_BENCODE_MAX_DEPTH + 1, "", 0 },
        { "empty dict past max depth", 'd', EZ_BENCODE_MAX_DEPTH + 2, "", -EBADMSG },
        { "100000 lists", 'l', 100000, "", -EBADMSG },
        { "100000 dicts", 'd', 100000, "", -EBADMSG },
        { "100000 lists, unterminated", 'l', 100000, NULL, -EBADMSG },
};

START_TEST(test_depth)
{
        const struct depth_case *c = &depth_cases[_i];
        const char *open = c->container == 'l' ? "l" : "d1:a";
        size_t olen = strlen(open), leaf_len = c->leaf ? strlen(c->leaf) : 0;
        size_t cap = c->levels * (olen + 1) + leaf_len + 2, len = 0, k;
        char *in = malloc(cap);
        struct ez_bdoc *doc;
        struct ez_err err;
        char *buf;
        int r;

        ck_assert_ptr_nonnull(in);
        if (c->container == 'l') {
                for (k = 0; k < c->levels; k++)
                        in[len++] = 'l';
                if (leaf_len)
                        memcpy(in + len, c->leaf, leaf_len);
                len += leaf_len;
        } else {
                for (k = 0; k + 1 < c->levels; k++) {
                        memcpy(in + len, open, olen);
                        len += olen;
                }
                in[len++] = 'd';
        }
        if (c->leaf)    /* a NULL leaf leaves every container open */
                for (k = 0; k < c->levels; k++)
                        in[len++] = 'e';
        r = decode_copy(in, len, 0, &doc, &buf, &err);
        free(in);
        if (r == 0) {
                size_t want_nodes = c->container == 'l' ? c->levels + (leaf_len ? 1 : 0)
                                                         : 1 + 2 * (c->levels - 1);

                ck_assert_uint_eq(doc->n, want_nodes);
                ck_assert_uint_eq(ez_bdoc_root(doc)->end, len);
                ez_bdoc_free(doc);
                free(buf);
        }
        ck_assert_msg(r == c->rc, "%s: got %d, want %d", c->name, r, c->rc);
        if (r < 0)
                ck_assert_msg(err.msg[0] != '\0', "%s: no message", c->name);
        if (r < 0 && c->leaf)
                ck_assert_msg(strstr(err.msg, "too deep") != NULL, "%s: message '%s'", c->name, err.msg);
}
END_TEST

/* ------------------------------------------------------------------ */
/* a large flat list: node array growth                                */

START_TEST(test_many_nodes)
{
        const size_t count = 100000;
        struct ez_buf b = { 0 };
        struct ez_bdoc *doc;
        struct ez_err err;
        const struct ez_bnode *root, *n;
        char *buf;
        size_t k;

        ez_benc_list(&b);
        for (k = 0; k < count; k++)
                ez_benc_int(&b, (int64_t)k - 50000);
        ez_benc_end(&b);
        ck_assert_int_eq(b.err, 0);

        ck_assert_int_eq(decode_copy(b.data, b.len, 0, &doc, &buf, &err), 0);
        root = ez_bdoc_root(doc);
        ck_assert_uint_eq(doc->n, count + 1);
        ck_assert_uint_eq(root->count, count);
        k = 0;
        for (n = ez_bnode_child(doc, root); n; n = ez_bnode_sibling(doc, root, n), k++)
                if (n->type != EZ_BNODE_INT || n->ival != (int64_t)k - 50000)
                        ck_abort_msg("item %zu: type %d, %" PRId64, k, (int)n->type, n->ival);
        ck_assert_uint_eq(k, count);
        ez_bdoc_free(doc);
        free(buf);

        /* the same document with one node too few allowed */
        ck_assert_int_eq(decode_copy(b.data, b.len, count, &doc, &buf, &err), -E2BIG);
        ck_assert_str_ne(err.msg, "");
        ez_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ez_bdict_get, ez_bnode_child/sibling                                */

static const char dict_doc[] = "d1:ai1e3:a\0bi7e3:bcd4:spam4:listli1ei2ee4:zzzzdee";

enum dict_on { ON_ROOT, ON_LIST, ON_INT, ON_NULL };

struct get_case {
        const char *key;
        enum dict_on on;
        int found;
        enum ez_bnode_type type;
        int64_t ival;
        const char *str;
        uint32_t count;
};

static const struct get_case get_cases[] = {
        { "a", ON_ROOT, 1, EZ_BNODE_INT, 1, NULL, 0 },
        { "bcd", ON_ROOT, 1, EZ_BNODE_STR, 0, "spam", 0 },
        { "list", ON_ROOT, 1, EZ_BNODE_LIST, 0, NULL, 2 },
        { "zzzz", ON_ROOT, 1, EZ_BNODE_DICT, 0, NULL, 0 },
        /* hostile or absent */
        { "b", ON_ROOT, 0, 0, 0, NULL, 0 },
        { "", ON_ROOT, 0, 0, 0, NULL, 0 },
        { "aa", ON_ROOT, 0, 0, 0, NULL, 0 },
        { "spam", ON_ROOT, 0, 0, 0, NULL, 0 },          /* a value, not a key */
        { "bc", ON_ROOT, 0, 0, 0, NULL, 0 },            /* a key prefix */
        { "bcde", ON_ROOT, 0, 0, 0, NULL, 0 },
        { "zzzzz", ON_ROOT, 0, 0, 0, NULL, 0 },
        { "a", ON_LIST, 0, 0, 0, NULL, 0 },             /* not a dict */
        { "a", ON_INT, 0, 0, 0, NULL, 0 },
        { "a", ON_NULL, 0, 0, 0, NULL, 0 },
};

START_TEST(test_dict_get)
{
        const struct get_case *c = &get_cases[_i];
        struct ez_bdoc *doc;
        struct ez_err err;
        const struct ez_bnode *root, *on = NULL, *v;
        char *buf;

        ck_assert_int_eq(decode_copy(dict_doc, sizeof(dict_doc) - 1, 0, &doc, &buf, &err), 0);
        root = ez_bdoc_root(doc);
        ck_assert_uint_eq(root->count, 5);
        switch (c->on) {
        case ON_ROOT:
                on = root;
                break;
        case ON_LIST:
                on = ez_bdict_get(doc, root, "list");
                break;
        case ON_INT:
                on = ez_bdict_get(doc, root, "a");
                break;
        case ON_NULL:
                on = NULL;
                break;
        }
        v = ez_bdict_get(doc, on, c->key);
        if (!c->found) {
                ck_assert_msg(v == NULL, "key '%s' found", c->key);
        } else {
                ck_assert_msg(v != NULL, "key '%s' not found", c->key);
                ck_assert_int_eq(v->type, c->type);
                if (c->type == EZ_BNODE_INT)
                        ck_assert_int_eq(v->ival, c->ival);
                if (c->type == EZ_BNODE_STR)
                        ck_assert(ez_bnode_streq(v, c->str));
                if (c->type == EZ_BNODE_LIST || c->type == EZ_BNODE_DICT)
                        ck_assert_uint_eq(v->count, c->count);
        }
        ez_bdoc_free(doc);
        free(buf);
}
END_TEST

START_TEST(test_child_sibling)
{
        struct ez_bdoc *doc;
        struct ez_err err;
        const struct ez_bnode *root, *list, *k, *n = NULL;
        char *buf;
        size_t i = 0;
        static const char *const keys[] = { "a", "a\0b", "bcd", "list", "zzzz" };
        static const size_t key_lens[] = { 1, 3, 3, 4, 4 };

        ck_assert_int_eq(decode_copy(dict_doc, sizeof(dict_doc) - 1, 0, &doc, &buf, &err), 0);
        root = ez_bdoc_root(doc);
        /* keys and values alternate; walking pairs visits the keys in order */
        for (k = ez_bnode_child(doc, root); k; k = ez_bnode_sibling(doc, root, n), i++) {
                ck_assert_uint_lt(i, 5);
                ck_assert_int_eq(k->type, EZ_BNODE_STR);
                ck_assert_uint_eq(k->len, key_lens[i]);
                ck_assert_mem_eq(k->str, keys[i], key_lens[i]);
                n = ez_bnode_sibling(doc, root, k);
                ck_assert_ptr_nonnull(n);
        }
        ck_assert_uint_eq(i, 5);
        /* an empty container and a scalar have no child */
        ck_assert_ptr_null(ez_bnode_child(doc, ez_bdict_get(doc, root, "zzzz")));
        ck_assert_ptr_null(ez_bnode_child(doc, ez_bdict_get(doc, root, "a")));
        ck_assert_ptr_null(ez_bnode_child(doc, NULL));
        list = ez_bdict_get(doc, root, "list");
        n = ez_bnode_child(doc, list);
        ck_assert_int_eq(n->ival, 1);
        n = ez_bnode_sibling(doc, list, n);
        ck_assert_int_eq(n->ival, 2);
        ck_assert_ptr_null(ez_bnode_sibling(doc, list, n));
        /* streq: type and exact length */
        ck_assert(!ez_bnode_streq(ez_bdict_get(doc, root, "a"), "1"));
        ck_assert(!ez_bnode_streq(NULL, "x"));
        ck_assert(!ez_bnode_streq(ez_bdict_get(doc, root, "bcd"), "spa"));
        ck_assert(!ez_bnode_streq(ez_bdict_get(doc, root, "bcd"), "spams"));
        ez_bdoc_free(doc);
        free(buf);
}
END_TEST

/* ------------------------------------------------------------------ */
/* encoder round trip                                                  */

enum op_kind { OP_STOP, OP_INT, OP_STR, OP_CSTR, OP_LIST, OP_DICT, OP_END };

struct op {
        enum op_kind k;
        int64_t i;
        const char *s;
        size_t n;
};

#define O_INT(v) { OP_INT, (v), NULL, 0 }
#define O_STR(p, l) { OP_STR, 0, (p), (l) }
#define O_CSTR(p) { OP_CSTR, 0, (p), 0 }
#define O_LIST { OP_LIST, 0, NULL, 0 }
#define O_DICT { OP_DICT, 0, NULL, 0 }
#define O_END { OP_END, 0, NULL, 0 }

struct enc_case {
        const char *name;
        struct op ops[16];
        const char *want;
        size_t want_len;
        int rc;         /* of decoding the result */
};

static const struct enc_case enc_cases[] = {
        { "zero", { O_INT(0) }, S("i0e"), 0 },
        { "int64 min", { O_INT(INT64_MIN) }, S("i-9223372036854775808e"), 0 },
        { "ints", { O_LIST, O_INT(1), O_INT(-1), O_INT(INT64_MAX), O_INT(INT64_MIN), O_END },
          S("li1ei-1ei9223372036854775807ei-9223372036854775808ee"), 0 },
        { "strings", { O_LIST, O_STR("", 0), O_STR("a\0b", 3), O_STR("\xff\x00\x80", 3), O_CSTR("spam"), O_END },
          S("l0:3:a\0b3:\xff\x00\x80" "4:spame"), 0 },
        { "cstr", { O_CSTR("hello world") }, S("11:hello world"), 0 },
        { "empty list", { O_LIST, O_END }, S("le"), 0 },
        { "empty dict", { O_DICT, O_END }, S("de"), 0 },
        { "nested", { O_DICT, O_CSTR("info"), O_DICT, O_CSTR("length"), O_INT(5), O_END,
                      O_CSTR("list"), O_LIST, O_LIST, O_END, O_DICT, O_END, O_END, O_END },
          S("d4:infod6:lengthi5ee4:listlledeee"), 0 },
        { "binary key", { O_DICT, O_STR("\0", 1), O_INT(0), O_STR("\0\0", 2), O_INT(1), O_END },
          S("d1:\0i0e2:\0\0i1ee"), 0 },
        /* the encoder does not police structure; the decoder must */
        { "unsorted keys", { O_DICT, O_CSTR("b"), O_INT(1), O_CSTR("a"), O_INT(2), O_END },
          S("d1:bi1e1:ai2ee"), -EBADMSG },
        { "duplicate keys", { O_DICT, O_CSTR("a"), O_INT(1), O_CSTR("a"), O_INT(2), O_END },
          S("d1:ai1e1:ai2ee"), -EBADMSG },
        { "integer key", { O_DICT, O_INT(1), O_INT(2), O_END }, S("di1ei2ee"), -EBADMSG },
        { "missing end", { O_LIST, O_INT(1) }, S("li1e"), -EBADMSG },
        { "extra end", { O_LIST, O_END, O_END }, S("lee"), -EBADMSG },
        { "two roots", { O_INT(1), O_INT(2) }, S("i1ei2e"), -EBADMSG },
        { "nothing", { { OP_STOP, 0, NULL, 0 } }, S(""), -EBADMSG },
};

static enum ez_bnode_type op_type(enum op_kind k)
{
        switch (k) {
        case OP_INT:
                return EZ_BNODE_INT;
        case OP_LIST:
                return EZ_BNODE_LIST;
        case OP_DICT:
                return EZ_BNODE_DICT;
        default:
                return EZ_BNODE_STR;
        }
}

START_TEST(test_encode_roundtrip)
{
        const struct enc_case *c = &enc_cases[_i];
        struct ez_buf b = { 0 };
        struct ez_bdoc *doc;
        struct ez_err err;
        const struct op *o;
        char *buf;
        size_t k;
        int r;

        for (o = c->ops; o < c->ops + N_ELEMS(c->ops) && o->k != OP_STOP; o++) {
                switch (o->k) {
                case OP_INT:
                        ez_benc_int(&b, o->i);
                        break;
                case OP_STR:
                        ez_benc_str(&b, o->s, o->n);
                        break;
                case OP_CSTR:
                        ez_benc_cstr(&b, o->s);
                        break;
                case OP_LIST:
                        ez_benc_list(&b);
                        break;
                case OP_DICT:
                        ez_benc_dict(&b);
                        break;
                case OP_END:
                        ez_benc_end(&b);
                        break;
                case OP_STOP:
                        break;
                }
        }
        ck_assert_int_eq(b.err, 0);
        ck_assert_uint_eq(b.len, c->want_len);
        if (c->want_len)
                ck_assert_mem_eq(b.data, c->want, c->want_len);

        r = decode_copy(b.data, b.len, 0, &doc, &buf, &err);
        ez_buf_free(&b);
        ck_assert_ptr_null(b.data);
        ck_assert_uint_eq(b.len, 0);
        if (r < 0) {
                ck_assert_msg(r == c->rc, "%s: decode gave %d (%s), want %d", c->name, r, err.msg, c->rc);
                ck_assert_str_ne(err.msg, "");
                return;
        }
        ck_assert_msg(c->rc == 0, "%s: decode succeeded, want %d", c->name, c->rc);
        /* the decoded nodes are the non-end operations, in order */
        k = 0;
        for (o = c->ops; o < c->ops + N_ELEMS(c->ops) && o->k != OP_STOP; o++) {
                const struct ez_bnode *n;

                if (o->k == OP_END)
                        continue;
                ck_assert_uint_lt(k, doc->n);
                n = &doc->nodes[k++];
                ck_assert_int_eq(n->type, op_type(o->k));
                if (o->k == OP_INT)
                        ck_assert_int_eq(n->ival, o->i);
                if (o->k == OP_STR) {
                        ck_assert_uint_eq(n->len, o->n);
                        ck_assert_mem_eq(n->str, o->s, o->n);
                }
                if (o->k == OP_CSTR)
                        ck_assert(ez_bnode_streq(n, o->s));
        }
        ck_assert_uint_eq(k, doc->n);
        ez_bdoc_free(doc);
        free(buf);
}
END_TEST

/* A large binary string survives the round trip; errors are sticky. */
START_TEST(test_encode_large_and_sticky)
{
        const size_t big = 300000;
        char *payload = malloc(big);
        struct ez_buf b = { 0 };
        struct ez_bdoc *doc;
        struct ez_err err;
        const struct ez_bnode *root, *n;
        char *buf;

        ck_assert_ptr_nonnull(payload);
        tu_random(payload, big, 7);
        ez_benc_list(&b);
        ez_benc_str(&b, payload, big);
        ez_benc_int(&b, -123456789);
        ez_benc_end(&b);
        ck_assert_int_eq(b.err, 0);
        ck_assert_uint_ge(b.cap, b.len);
        ck_assert_int_eq(decode_copy(b.data, b.len, 0, &doc, &buf, &err), 0);
        root = ez_bdoc_root(doc);
        ck_assert_uint_eq(root->count, 2);
        n = ez_bnode_child(doc, root);
        ck_assert_uint_eq(n->len, big);
        ck_assert_mem_eq(n->str, payload, big);
        n = ez_bnode_sibling(doc, root, n);
        ck_assert_int_eq(n->ival, -123456789);
        ez_bdoc_free(doc);
        free(buf);
        free(payload);

        /* after an error every call is a no-op */
        b.err = -ENOMEM;
        {
                size_t len = b.len;

                ez_benc_int(&b, 1);
                ez_benc_cstr(&b, "x");
                ez_buf_put(&b, "abc", 3);
                ck_assert_uint_eq(b.len, len);
                ck_assert_int_eq(b.err, -ENOMEM);
        }
        ez_buf_free(&b);
        ck_assert_int_eq(b.err, 0);
        ck_assert_ptr_null(b.data);

        /* a zero-length put on an empty buffer allocates nothing */
        ez_buf_put(&b, NULL, 0);
        ck_assert_int_eq(b.err, 0);
        ck_assert_uint_eq(b.len, 0);
        ez_buf_free(&b);
}
END_TEST

static Suite *bencode_suite(void)
{
        Suite *s = suite_create("bencode");
        TCase *tc;

        tc = tcase_create("decode");
        tcase_add_loop_test(tc, test_valid, 0, N_ELEMS(valid_cases));
        tcase_add_loop_test(tc, test_truncated_prefixes, 0, N_ELEMS(valid_cases));
        tcase_add_loop_test(tc, test_bad, 0, N_ELEMS(bad_cases));
        tcase_add_loop_test(tc, test_bad_null_err, 0, N_ELEMS(bad_cases));
        tcase_add_loop_test(tc, test_depth, 0, N_ELEMS(depth_cases));
        tcase_add_test(tc, test_many_nodes);
        suite_add_tcase(s, tc);

        tc = tcase_create("access");
        tcase_add_loop_test(tc, test_dict_get, 0, N_ELEMS(get_cases));
        tcase_add_test(tc, test_child_sibling);
        suite_add_tcase(s, tc);

        tc = tcase_create("encode");
        tcase_add_loop_test(tc, test_encode_roundtrip, 0, N_ELEMS(enc_cases));
        tcase_add_test(tc, test_encode_large_and_sticky);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(bencode_suite());
}
