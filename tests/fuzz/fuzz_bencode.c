/*
 * fuzz_bencode.c - libFuzzer harness for the bencode decoder (bencode.c).
 *
 * The decoder is strict: one canonical encoding per value (no leading
 * zeros, no "-0", sorted unique keys, nothing after the root), so a
 * document it accepts must encode back to exactly the bytes it came
 * from.  The harness walks the node array the way torrent.c does (child,
 * sibling, dictionary lookups), encodes it again with the encoder and
 * compares.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bencode.h"
#include "fuzz.h"

/* Encode the subtree at n into out; check every node's span on the way. */
static void encode(const struct ez_bdoc *d, const struct ez_bnode *n, struct ez_buf *out, unsigned depth)
{
        const struct ez_bnode *k;
        uint32_t count = 0;

        FZ_CHECK(depth <= EZ_BENCODE_MAX_DEPTH);
        FZ_CHECK(n->start < n->end && n->end <= d->len);
        FZ_CHECK(out->len == n->start);
        switch (n->type) {
        case EZ_BNODE_INT:
                ez_benc_int(out, n->ival);
                break;
        case EZ_BNODE_STR:
                FZ_CHECK(n->str >= d->buf && n->len <= d->len && (size_t)(n->str - d->buf) <= d->len - n->len);
                ez_benc_str(out, n->str, n->len);
                break;
        case EZ_BNODE_LIST:
        case EZ_BNODE_DICT:
                if (n->type == EZ_BNODE_LIST)
                        ez_benc_list(out);
                else
                        ez_benc_dict(out);
                for (k = ez_bnode_child(d, n); k; k = ez_bnode_sibling(d, n, k)) {
                        if (n->type == EZ_BNODE_DICT) {
                                const struct ez_bnode *v = ez_bnode_sibling(d, n, k);
                                char key[64];

                                FZ_CHECK(k->type == EZ_BNODE_STR && v);
                                encode(d, k, out, depth + 1);
                                /* a key without NUL bytes is found by name */
                                if (k->len < sizeof(key) && !memchr(k->str, '\0', k->len)) {
                                        memcpy(key, k->str, k->len);
                                        key[k->len] = '\0';
                                        FZ_CHECK(ez_bdict_get(d, n, key) == v);
                                        FZ_CHECK(ez_bnode_streq(k, key));
                                }
                                k = v;
                        }
                        encode(d, k, out, depth + 1);
                        count++;
                }
                FZ_CHECK(count == n->count);
                ez_benc_end(out);
                break;
        default:
                FZ_CHECK(!"node of no known type");
        }
        FZ_CHECK(out->err == 0);
        FZ_CHECK(out->len == n->end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ez_bdoc *d = NULL;
        struct ez_err err = { "" };
        struct ez_buf out = { 0 };
        size_t max_nodes = size > 0 ? 1 + data[0] % 64 : 1;
        int r;

        /* a small node cap too, so that -E2BIG is reached */
        r = ez_bdecode(data, size, max_nodes, &d, &err);
        if (r < 0) {
                FZ_CHECK_REFUSAL(r, err);
                FZ_CHECK(r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
        } else {
                FZ_CHECK(d->n <= max_nodes);
                ez_bdoc_free(d);
        }

        err.msg[0] = '\0';
        r = ez_bdecode(data, size, 0, &d, &err);
        if (r < 0) {
                FZ_CHECK_REFUSAL(r, err);
                FZ_CHECK(r == -EBADMSG || r == -ENOMEM);
                return 0;
        }
        FZ_CHECK(d->n >= 1 && ez_bdoc_root(d)->next == d->n);
        FZ_CHECK(ez_bdoc_root(d)->start == 0 && ez_bdoc_root(d)->end == size);
        encode(d, ez_bdoc_root(d), &out, 0);
        FZ_CHECK(out.len == size && memcmp(out.data, data, size) == 0);
        ez_buf_free(&out);
        ez_bdoc_free(d);
        return 0;
}
