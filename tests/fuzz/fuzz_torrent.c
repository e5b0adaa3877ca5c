/*
 * fuzz_torrent.c - libFuzzer harness for the torrent parser (torrent.c)
 * and the extent maps it builds (layout.c): the input is a .torrent, in
 * any of the formats ezio reads (native, native hybrid v1+v2, EZIO's
 * file-per-extent layout).
 *
 * A torrent that is accepted is about to drive writes to a disk, so the
 * harness checks what deploy.c relies on without checking again: every
 * data extent and zero range inside the target, the data extents adding
 * up to the payload, one SHA-1 per piece, and a payload-to-target mapping
 * that covers every payload byte exactly once.  Then the torrent is
 * written again with ez_torrent_build() and read back: the same image.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "layout.h"
#include "torrent.h"

static void check_layout(const struct ez_layout *l, uint64_t payload_len)
{
        uint64_t sum = 0, poff, off, run;
        size_t i;

        FZ_CHECK(l->finished && l->n_data > 0 && l->payload_len == payload_len);
        FZ_CHECK(l->block_size >= 512 && (l->block_size & (l->block_size - 1)) == 0);
        for (i = 0; i < l->n_data; i++) {
                FZ_CHECK(l->data[i].len > 0 && l->data[i].off <= l->target_size &&
                         l->data[i].len <= l->target_size - l->data[i].off);
                FZ_CHECK(l->payload_off[i] == sum);
                sum += l->data[i].len;
        }
        FZ_CHECK(sum == payload_len && l->payload_off[l->n_data] == sum);
        for (i = 0; i < l->n_zero; i++) {
                FZ_CHECK(l->zero[i].len > 0 && l->zero[i].off <= l->target_size &&
                         l->zero[i].len <= l->target_size - l->zero[i].off);
                FZ_CHECK(i == 0 || l->zero[i - 1].off + l->zero[i - 1].len <= l->zero[i].off);
        }
        /* walk the payload as the disk writer does: run by run, each run
         * inside one extent; a bounded number of steps */
        for (poff = 0, i = 0; poff < payload_len && i < 4096; i++) {
                FZ_CHECK(ez_layout_map(l, poff, UINT64_MAX, &off, &run) == 0);
                FZ_CHECK(run > 0 && run <= payload_len - poff);
                FZ_CHECK(off <= l->target_size && run <= l->target_size - off);
                poff += run;
        }
        FZ_CHECK(ez_layout_map(l, payload_len, 1, &off, &run) == -ERANGE);
        FZ_CHECK(ez_layout_map(l, payload_len - 1, 1, &off, &run) == 0 && run == 1);
}

static void same_layout(const struct ez_layout *a, const struct ez_layout *b)
{
        FZ_CHECK(a->target_size == b->target_size && a->block_size == b->block_size && a->kind == b->kind);
        FZ_CHECK(a->n_data == b->n_data && a->n_zero == b->n_zero && a->payload_len == b->payload_len);
        FZ_CHECK(memcmp(a->data, b->data, a->n_data * sizeof(*a->data)) == 0);
        FZ_CHECK(a->n_zero == 0 || memcmp(a->zero, b->zero, a->n_zero * sizeof(*a->zero)) == 0);
}

/* Write t again with the writer ezio-mktorrent uses and read that back:
 * the same image, and a second write byte for byte the first.  A native
 * layout is always writable; EZIO's layout only when its extents are
 * sorted and block aligned, which the reader does not ask of it. */
static void round_trip(const struct ez_torrent *t)
{
        struct ez_torrent_spec spec = {
                .name = t->name, .piece_length = t->piece_length, .pieces = t->pieces,
                .n_pieces = t->num_pieces, .root = t->has_root ? t->root : NULL, .layout = t->layout,
                .trackers = (const char *const *)t->trackers, .n_trackers = t->n_trackers,
                .web_seeds = (const char *const *)t->web_seeds, .n_web_seeds = t->n_web_seeds,
                .ssl_ca = t->ssl_ca, .ssl_ca_len = t->ssl_ca_len, .compat = !t->native,
        };
        struct ez_buf a = { 0 }, b = { 0 };
        struct ez_torrent *u = NULL;
        struct ez_err err = { "" };
        size_t i;
        int r;

        if (!t->native && t->layout->n_zero)
                return;
        r = ez_torrent_build(&spec, &a, &err);
        if (r < 0) {
                FZ_CHECK(!t->native && r == -EINVAL);
                ez_buf_free(&a);
                return;
        }
        r = ez_torrent_parse(a.data, a.len, &u, &err);
        if (r < 0)
                fprintf(stderr, "written torrent refused: %s\n", err.msg);
        FZ_CHECK(r == 0);
        FZ_CHECK(u->native == t->native && u->total_length == t->total_length && u->num_pieces == t->num_pieces);
        FZ_CHECK(memcmp(u->pieces, t->pieces, t->num_pieces * 20) == 0 && strcmp(u->name, t->name) == 0);
        FZ_CHECK(u->has_root == t->has_root && (!t->has_root || memcmp(u->root, t->root, sizeof(t->root)) == 0));
        FZ_CHECK(u->n_trackers == t->n_trackers && u->n_web_seeds == t->n_web_seeds);
        FZ_CHECK(u->ssl_ca_len == t->ssl_ca_len && (!t->ssl_ca || memcmp(u->ssl_ca, t->ssl_ca, t->ssl_ca_len) == 0));
        for (i = 0; i < t->n_trackers; i++)
                FZ_CHECK(strcmp(u->trackers[i], t->trackers[i]) == 0);
        for (i = 0; i < t->n_web_seeds; i++)
                FZ_CHECK(strcmp(u->web_seeds[i], t->web_seeds[i]) == 0);
        same_layout(u->layout, t->layout);

        spec.layout = u->layout;
        spec.pieces = u->pieces;
        FZ_CHECK(ez_torrent_build(&spec, &b, &err) == 0);
        FZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        ez_torrent_free(u);
        ez_buf_free(&a);
        ez_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ez_torrent *t = (struct ez_torrent *)&t, *sentinel = t;
        struct ez_layout *pl = NULL;
        struct ez_err err = { "" };
        size_t i;
        int r;

        r = ez_torrent_parse(data, size, &t, &err);
        if (r < 0) {
                FZ_CHECK_REFUSAL(r, err);
                FZ_CHECK(r == -EBADMSG || r == -EINVAL || r == -E2BIG || r == -ENOMEM);
                FZ_CHECK(t == sentinel);
                return 0;
        }
        FZ_CHECK(t->raw_len == size && memcmp(t->raw, data, size) == 0);
        FZ_CHECK(t->name && t->name[0] && strlen(t->name) < size);
        FZ_CHECK(t->info_hash_hex[40] == '\0' && strlen(t->info_hash_hex) == 40);
        FZ_CHECK(t->piece_length >= EZ_TORRENT_MIN_PIECE && t->piece_length <= EZ_TORRENT_MAX_PIECE);
        FZ_CHECK(t->total_length > 0 && t->n_files >= 1);
        FZ_CHECK(t->num_pieces == (t->total_length - 1) / t->piece_length + 1);
        FZ_CHECK(t->pieces >= t->raw && t->num_pieces <= size / 20 &&
                 (size_t)(t->pieces - t->raw) <= size - t->num_pieces * 20);
        FZ_CHECK(t->native || !t->has_root);
        FZ_CHECK(t->layout);
        check_layout(t->layout, t->total_length);
        for (i = 0; i < t->n_trackers; i++)
                FZ_CHECK(t->trackers[i][0] != '\0');
        for (i = 0; i < t->n_web_seeds; i++)
                FZ_CHECK(t->web_seeds[i][0] != '\0');

        /* the payload as a plain file, as --payload and the verify phase see it */
        r = ez_torrent_payload_layout(t, &pl, &err);
        if (t->n_files == 1) {
                FZ_CHECK(r == 0);
                check_layout(pl, t->total_length);
                ez_layout_free(pl);
        } else {
                FZ_CHECK(r == -EINVAL && pl == NULL);
        }
        round_trip(t);
        ez_torrent_free(t);
        return 0;
}
