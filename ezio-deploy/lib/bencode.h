/*
 * bencode.h - strict bencode decoding into a flat node array, and encoding.
 *
 * The decoder never trusts its input: lengths are checked against the
 * buffer, integers against int64 overflow, nesting depth and node count are
 * capped, and anything after the root value is an error.  Nodes keep their
 * byte span so that the info-hash can be taken over the exact bytes of the
 * `info` dictionary.  See BEP 3 for the encoding.
 */
#ifndef EZ_BENCODE_H
#define EZ_BENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ez_bnode_type {
        EZ_BNODE_INT,
        EZ_BNODE_STR,
        EZ_BNODE_LIST,
        EZ_BNODE_DICT,
};

struct ez_bnode {
        enum ez_bnode_type type;
        uint32_t next;          /* index of the node after this subtree */
        uint32_t count;         /* list items, or dict key/value pairs */
        size_t start, end;      /* byte span in the buffer, end exclusive */
        int64_t ival;           /* EZ_BNODE_INT */
        const char *str;        /* EZ_BNODE_STR: points into the buffer */
        size_t len;
};

struct ez_bdoc {
        const char *buf;        /* borrowed: must outlive the document */
        size_t len;
        struct ez_bnode *nodes;
        size_t n, cap, max_nodes;
};

#define EZ_BENCODE_MAX_DEPTH 64

/* Decode len bytes of buf.  At most max_nodes nodes are accepted.  On
 * success *ret_doc owns the node array (free with ez_bdoc_free) and borrows
 * buf.  Returns 0, -EBADMSG with a message naming the offset, -E2BIG when
 * max_nodes is exceeded, or -ENOMEM. */
int ez_bdecode(const void *buf, size_t len, size_t max_nodes,
               struct ez_bdoc **ret_doc, struct ez_err *err);
void ez_bdoc_free(struct ez_bdoc *doc);

static inline const struct ez_bnode *ez_bdoc_root(const struct ez_bdoc *doc)
{
        return &doc->nodes[0];
}

/* First child of a list or dict (the first key of a dict), or NULL. */
const struct ez_bnode *ez_bnode_child(const struct ez_bdoc *doc, const struct ez_bnode *n);
/* Next sibling of a child node, or NULL after the last one of parent. */
const struct ez_bnode *ez_bnode_sibling(const struct ez_bdoc *doc, const struct ez_bnode *parent,
                                        const struct ez_bnode *n);
/* Value stored under key in dict, or NULL when absent or dict is not a dict. */
const struct ez_bnode *ez_bdict_get(const struct ez_bdoc *doc, const struct ez_bnode *dict,
                                    const char *key);
/* 1 when node is a string equal to s. */
int ez_bnode_streq(const struct ez_bnode *n, const char *s);

/* A growable byte buffer for encoding.  Errors are sticky: after the first
 * allocation failure every call is a no-op and b->err is -ENOMEM. */
struct ez_buf {
        char *data;
        size_t len, cap;
        int err;
};

void ez_buf_free(struct ez_buf *b);
void ez_buf_put(struct ez_buf *b, const void *p, size_t n);
void ez_benc_int(struct ez_buf *b, int64_t v);
void ez_benc_str(struct ez_buf *b, const void *p, size_t n);
void ez_benc_cstr(struct ez_buf *b, const char *s);
void ez_benc_list(struct ez_buf *b);
void ez_benc_dict(struct ez_buf *b);
void ez_benc_end(struct ez_buf *b);

#ifdef __cplusplus
}
#endif

#endif
