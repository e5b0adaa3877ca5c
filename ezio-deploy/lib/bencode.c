/*
 * bencode.c - strict bencode decoder and a small encoder (see bencode.h).
 *
 * The decoder is recursive with a fixed depth cap; every failure reports the
 * byte offset where the input stopped making sense.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"

struct parser {
        struct ez_bdoc *doc;
        size_t pos;
        struct ez_err *err;
};

static int bad(struct parser *p, const char *what)
{
        return ez_err_set(p->err, -EBADMSG, "bencode: %s at byte %zu", what, p->pos);
}

static int new_node(struct parser *p, enum ez_bnode_type type, size_t *ret_idx)
{
        struct ez_bdoc *d = p->doc;

        if (d->n >= d->max_nodes)
                return ez_err_set(p->err, -E2BIG, "bencode: more than %zu items", d->max_nodes);
        if (d->n == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 64;
                struct ez_bnode *nn;

                if (cap > d->max_nodes)
                        cap = d->max_nodes;
                nn = realloc(d->nodes, cap * sizeof(*nn));
                if (!nn)
                        return ez_err_set(p->err, -ENOMEM, "bencode: out of memory");
                d->nodes = nn;
                d->cap = cap;
        }
        memset(&d->nodes[d->n], 0, sizeof(d->nodes[0]));
        d->nodes[d->n].type = type;
        d->nodes[d->n].start = p->pos;
        *ret_idx = d->n++;
        return 0;
}

/* Parse digits up to the terminator; rejects empty, leading zeros and
 * "-0", and any value outside int64. */
static int parse_int(struct parser *p, char term, int allow_neg, int64_t *ret)
{
        const char *b = p->doc->buf;
        size_t len = p->doc->len, start;
        int neg = 0;
        uint64_t v = 0, limit;

        if (allow_neg && p->pos < len && b[p->pos] == '-') {
                neg = 1;
                p->pos++;
        }
        start = p->pos;
        limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        while (p->pos < len && b[p->pos] >= '0' && b[p->pos] <= '9') {
                unsigned d = (unsigned)(b[p->pos] - '0');

                if (v > (limit - d) / 10)
                        return bad(p, "integer overflows 64 bits");
                v = v * 10 + d;
                p->pos++;
        }
        if (p->pos == start)
                return bad(p, "expected digits");
        if (b[start] == '0' && p->pos - start > 1)
                return bad(p, "leading zero in integer");
        if (neg && v == 0)
                return bad(p, "negative zero");
        if (p->pos >= len || b[p->pos] != term)
                return bad(p, "unterminated integer");
        p->pos++;
        *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
        return 0;
}

static int parse_value(struct parser *p, unsigned depth)
{
        struct ez_bdoc *d = p->doc;
        size_t idx;
        int r;

        if (depth > EZ_BENCODE_MAX_DEPTH)
                return bad(p, "nesting too deep");
        if (p->pos >= d->len)
                return bad(p, "unexpected end of input");

        switch (d->buf[p->pos]) {
        case 'i': {
                int64_t v;

                r = new_node(p, EZ_BNODE_INT, &idx);
                if (r < 0)
                        return r;
                p->pos++;
                r = parse_int(p, 'e', 1, &v);
                if (r < 0)
                        return r;
                d->nodes[idx].ival = v;
                break;
        }
        case 'l':
        case 'd': {
                int is_dict = d->buf[p->pos] == 'd';
                uint32_t count = 0;
                const struct ez_bnode *prev_key = NULL;
                size_t prev_key_idx = 0;

                r = new_node(p, is_dict ? EZ_BNODE_DICT : EZ_BNODE_LIST, &idx);
                if (r < 0)
                        return r;
                p->pos++;
                for (;;) {
                        if (p->pos >= d->len)
                                return bad(p, "unterminated list or dictionary");
                        if (d->buf[p->pos] == 'e')
                                break;
                        if (is_dict) {
                                size_t key_idx = d->n;

                                if (d->buf[p->pos] < '0' || d->buf[p->pos] > '9')
                                        return bad(p, "dictionary key is not a string");
                                r = parse_value(p, depth + 1);
                                if (r < 0)
                                        return r;
                                /* keys must be unique and sorted (BEP 3) */
                                if (prev_key) {
                                        const struct ez_bnode *k = &d->nodes[key_idx];
                                        size_t m;
                                        int c;

                                        prev_key = &d->nodes[prev_key_idx];
                                        m = k->len < prev_key->len ? k->len : prev_key->len;
                                        c = memcmp(prev_key->str, k->str, m);
                                        if (c > 0 || (c == 0 && prev_key->len >= k->len))
                                                return ez_err_set(p->err, -EBADMSG,
                                                                  "bencode: dictionary keys unsorted or repeated at byte %zu",
                                                                  k->start);
                                }
                                prev_key_idx = key_idx;
                                prev_key = &d->nodes[key_idx];
                        }
                        r = parse_value(p, depth + 1);
                        if (r < 0)
                                return r;
                        if (count == UINT32_MAX)
                                return bad(p, "too many items");
                        count++;
                }
                p->pos++;
                d->nodes[idx].count = count;
                break;
        }
        default: {
                int64_t n;

                if (d->buf[p->pos] < '0' || d->buf[p->pos] > '9')
                        return bad(p, "unexpected character");
                r = new_node(p, EZ_BNODE_STR, &idx);
                if (r < 0)
                        return r;
                r = parse_int(p, ':', 0, &n);
                if (r < 0)
                        return r;
                if ((uint64_t)n > d->len - p->pos)
                        return bad(p, "string runs past the end of input");
                d->nodes[idx].str = d->buf + p->pos;
                d->nodes[idx].len = (size_t)n;
                p->pos += (size_t)n;
                break;
        }
        }
        d->nodes[idx].end = p->pos;
        d->nodes[idx].next = (uint32_t)d->n;
        return 0;
}

int ez_bdecode(const void *buf, size_t len, size_t max_nodes,
               struct ez_bdoc **ret_doc, struct ez_err *err)
{
        struct ez_bdoc *doc;
        struct parser p;
        int r;

        if (max_nodes == 0 || max_nodes > UINT32_MAX - 1)
                max_nodes = UINT32_MAX - 1;
        doc = calloc(1, sizeof(*doc));
        if (!doc)
                return ez_err_set(err, -ENOMEM, "bencode: out of memory");
        doc->buf = buf;
        doc->len = len;
        doc->max_nodes = max_nodes;
        p = (struct parser){ .doc = doc, .pos = 0, .err = err };

        r = parse_value(&p, 0);
        if (r >= 0 && p.pos != len)
                r = bad(&p, "trailing data after the root value");
        if (r < 0) {
                ez_bdoc_free(doc);
                return r;
        }
        *ret_doc = doc;
        return 0;
}

void ez_bdoc_free(struct ez_bdoc *doc)
{
        if (!doc)
                return;
        free(doc->nodes);
        free(doc);
}

const struct ez_bnode *ez_bnode_child(const struct ez_bdoc *doc, const struct ez_bnode *n)
{
        if (!n || (n->type != EZ_BNODE_LIST && n->type != EZ_BNODE_DICT) || n->count == 0)
                return NULL;
        return n + 1;
        (void)doc;
}

const struct ez_bnode *ez_bnode_sibling(const struct ez_bdoc *doc, const struct ez_bnode *parent,
                                        const struct ez_bnode *n)
{
        if (n->next >= parent->next)
                return NULL;
        return &doc->nodes[n->next];
}

const struct ez_bnode *ez_bdict_get(const struct ez_bdoc *doc, const struct ez_bnode *dict,
                                    const char *key)
{
        const struct ez_bnode *k;

        if (!dict || dict->type != EZ_BNODE_DICT)
                return NULL;
        for (k = ez_bnode_child(doc, dict); k; ) {
                const struct ez_bnode *v = ez_bnode_sibling(doc, dict, k);

                if (!v)
                        return NULL;
                if (ez_bnode_streq(k, key))
                        return v;
                k = ez_bnode_sibling(doc, dict, v);
        }
        return NULL;
}

int ez_bnode_streq(const struct ez_bnode *n, const char *s)
{
        size_t l = strlen(s);

        return n && n->type == EZ_BNODE_STR && n->len == l && memcmp(n->str, s, l) == 0;
}

void ez_buf_free(struct ez_buf *b)
{
        free(b->data);
        *b = (struct ez_buf){ 0 };
}

void ez_buf_put(struct ez_buf *b, const void *p, size_t n)
{
        if (b->err)
                return;
        if (n > SIZE_MAX / 2 - b->len) {
                b->err = -ENOMEM;
                return;
        }
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                char *nd;

                while (cap < b->len + n)
                        cap *= 2;
                nd = realloc(b->data, cap);
                if (!nd) {
                        b->err = -ENOMEM;
                        return;
                }
                b->data = nd;
                b->cap = cap;
        }
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
}

void ez_benc_int(struct ez_buf *b, int64_t v)
{
        char tmp[32];
        int n = snprintf(tmp, sizeof(tmp), "i%" PRId64 "e", v);

        ez_buf_put(b, tmp, (size_t)n);
}

void ez_benc_str(struct ez_buf *b, const void *p, size_t n)
{
        char tmp[32];
        int k = snprintf(tmp, sizeof(tmp), "%zu:", n);

        ez_buf_put(b, tmp, (size_t)k);
        ez_buf_put(b, p, n);
}

void ez_benc_cstr(struct ez_buf *b, const char *s)
{
        ez_benc_str(b, s, strlen(s));
}

void ez_benc_list(struct ez_buf *b)
{
        ez_buf_put(b, "l", 1);
}

void ez_benc_dict(struct ez_buf *b)
{
        ez_buf_put(b, "d", 1);
}

void ez_benc_end(struct ez_buf *b)
{
        ez_buf_put(b, "e", 1);
}
