/*
 * rendezvous.c - the piece-to-owner map by rendezvous hashing
 * (rendezvous.h).  Pure computation: nothing allocated, nothing fails.
 */
#include "rendezvous.h"

/* splitmix64's finaliser: a cheap, well-spread hash, and a bijection of
 * the 64-bit integers, so distinct key hashes never give equal weights
 * for one piece */
static uint64_t mix64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

uint64_t ez_rendezvous_key(const char *key, size_t len)
{
        uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
        size_t i;

        for (i = 0; i < len; i++)
                h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
        return h;
}

size_t ez_rendezvous_owner(const uint64_t *keys, size_t n, uint64_t piece)
{
        uint64_t const mp = mix64(piece);
        uint64_t best = 0;
        size_t best_i = 0, j;

        for (j = 0; j < n; j++) {
                uint64_t v = mix64(keys[j] ^ mp);

                if (v >= best) {
                        best = v;
                        best_i = j;
                }
        }
        return best_i;
}

bool ez_rendezvous_partners(size_t p, size_t ma, size_t q, size_t mb, size_t k)
{
        size_t const mod = ma * mb, x = p * mb, y = q * ma;
        size_t const d = x > y ? x - y : y - x;

        if (p >= ma || q >= mb)
                return false;
        return (d < mod - d ? d : mod - d) <= k * (ma > mb ? ma : mb);
}
