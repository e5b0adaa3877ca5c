/*
 * fuzz_fetch.c - libFuzzer harness for what fetch.c does with an answer
 * once libcurl has it: the body taken in piece by piece under the size
 * cap (ez_fetch_body_add(), what libcurl's write callback calls), then
 * the checks a fetched torrent passes before a deploy uses it
 * (ez_fetch_check_torrent(): the SHA-256 the operator gave, the parse).
 * No server, no socket: the answer comes from the input.
 *
 * Input: byte 0 picks the SHA-256 to expect (none, the body's own, or
 * another) and seeds the sizes of the pieces; bytes 1-2 are the size cap
 * in bytes (0: none); the rest is the body.  The harness checks the body
 * kept is the body sent, never more than the cap, and that a torrent is
 * returned only when its SHA-256 matched.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fetch.h"
#include "fuzz.h"
#include "torrent.h"

#define SHOWN "https://images.example/x.torrent"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char other[] = "0000000000000000000000000000000000000000000000000000000000000000";
        struct ez_fetch_body b = { 0 };
        struct ez_torrent *t = (struct ez_torrent *)&t, *sentinel = t;
        struct ez_err err = { "" };
        const uint8_t *body;
        size_t body_len, pos = 0, accepted = 0;
        unsigned sha_mode, seed;
        char hex[65];
        const char *want;
        int r = 0;

        if (size < 3)
                return 0;
        sha_mode = data[0] % 3;
        seed = data[0] / 3 + 1;
        b.max = (uint64_t)data[1] << 8 | data[2];
        body = data + 3;
        body_len = size - 3;

        /* pieces of 0 to 2 KiB, as a slow server sends them */
        while (pos < body_len) {
                size_t n;

                seed = seed * 1103515245u + 12345u;
                n = seed >> 16 & 0x7ff;
                if (n > body_len - pos)
                        n = body_len - pos;
                r = ez_fetch_body_add(&b, body + pos, n);
                if (r < 0)
                        break;
                pos += n;
                accepted = pos;
        }
        FZ_CHECK(b.len == accepted && (accepted == 0 || memcmp(b.buf, body, accepted) == 0));
        FZ_CHECK(!b.buf || b.buf[b.len] == '\0');
        FZ_CHECK(b.max == 0 || b.len <= b.max);
        if (r < 0) {
                /* refused only for passing the cap */
                FZ_CHECK(r == -EFBIG && b.too_big && b.max && body_len > b.max);
                free(b.buf);
                return 0;
        }
        FZ_CHECK(!b.too_big && (b.max == 0 || body_len <= b.max) && b.len == body_len);

        FZ_CHECK(ez_fetch_sha256_hex(body, body_len, hex) == 0);
        want = sha_mode == 0 ? NULL : sha_mode == 1 ? hex : other;
        r = ez_fetch_check_torrent(b.buf ? b.buf : "", b.len, want, SHOWN, &t, &err);
        if (r < 0) {
                FZ_CHECK_REFUSAL(r, err);
                FZ_CHECK(t == sentinel);
                FZ_CHECK(strncmp(err.msg, SHOWN ": ", strlen(SHOWN ": ")) == 0);
                if (want == other && strcmp(hex, other) != 0)
                        FZ_CHECK(r == -EBADMSG && strstr(err.msg, "SHA-256"));
        } else {
                FZ_CHECK(want != other || strcmp(hex, other) == 0);
                FZ_CHECK(t != sentinel && t->raw_len == body_len);
                ez_torrent_free(t);
        }
        free(b.buf);
        return 0;
}
