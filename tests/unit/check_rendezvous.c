/*
 * check_rendezvous.c - the piece-to-owner map of the schedule: every node
 * computes the same map from the same node addresses, whatever order it
 * learnt them in; the shares are as even as a fair random split; a node
 * that joins or leaves moves only its own share.  Partners across racks
 * agree both ways round and leave no node without one in any rack.  And
 * the map is the one
 * every earlier build computed, since nodes of two builds can share a
 * swarm.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rendezvous.h"
#include "testutil.h"

#define MAX_NODES 65

/* node addresses as a deployment would have them */
static const char *const families[] = { "127.0.0.%d", "10.1.%d.7", "192.168.1.%d" };

struct nodes {
        int n;
        char name[MAX_NODES][32];
        uint64_t hash[MAX_NODES];
};

/* nodes first .. first + n - 1 of an address family */
static void make_nodes(struct nodes *s, const char *family, int first, int n)
{
        int i;

        ck_assert_int_le(n, MAX_NODES);
        s->n = n;
        for (i = 0; i < n; i++) {
                snprintf(s->name[i], sizeof(s->name[i]), family, first + i);
                s->hash[i] = ez_rendezvous_key(s->name[i], strlen(s->name[i]));
        }
}

/* the address owning piece */
static const char *owner_name(const struct nodes *s, uint64_t piece)
{
        return s->name[ez_rendezvous_owner(s->hash, (size_t)s->n, piece)];
}

/* Known values, from before the map moved out of ownership.cpp: a change
 * here splits a swarm of mixed builds into nodes that disagree. */
static const struct {
        const char *key;
        size_t len;
        uint64_t hash;
} golden_keys[] = {
        { "", 0, 0xcbf29ce484222325ULL },       /* FNV-1a's offset basis */
        { "127.0.0.2", 9, 0xaabafd7104d9130bULL },
        { "10.0.0.1", 8, 0x87f7ef5de06ff78dULL },
        { "\xff\xfe", 2, 0x0a99c807b6f645b0ULL },       /* bytes above 127 count as unsigned */
};

START_TEST(test_golden_key)
{
        ck_assert_uint_eq(ez_rendezvous_key(golden_keys[_i].key, golden_keys[_i].len), golden_keys[_i].hash);
}
END_TEST

START_TEST(test_golden_map)
{
        static const char want[] = "02221003310030233102200031321323";
        struct nodes s;
        uint64_t p;

        make_nodes(&s, "127.0.0.%d", 2, 4);
        for (p = 0; p < sizeof(want) - 1; p++)
                ck_assert_msg(ez_rendezvous_owner(s.hash, 4, p) == (size_t)(want[p] - '0'), "piece %" PRIu64, p);
        ck_assert_uint_eq(ez_rendezvous_owner(s.hash, 4, 1000000), 3);
        ck_assert_uint_eq(ez_rendezvous_owner(s.hash, 4, UINT64_MAX), 3);
        /* no keys, one key */
        ck_assert_uint_eq(ez_rendezvous_owner(NULL, 0, 7), 0);
        for (p = 0; p < 100; p++)
                ck_assert_uint_eq(ez_rendezvous_owner(s.hash, 1, p), 0);
}
END_TEST

/* Orders a node may learn its peers in. */
enum order { REVERSED, ROTATED, SHUFFLED, DUPLICATED, N_ORDERS };

static void reorder(const struct nodes *in, enum order o, unsigned seed, struct nodes *out)
{
        unsigned long long x = seed * 2654435761ull + 1;
        int i;

        *out = *in;
        for (i = 0; i < in->n; i++) {
                int from = o == REVERSED ? in->n - 1 - i : o == ROTATED ? (i + 1 + (int)seed) % in->n : i;

                memcpy(out->name[i], in->name[from], sizeof(out->name[i]));
                out->hash[i] = in->hash[from];
        }
        if (o == SHUFFLED)
                for (i = in->n - 1; i > 0; i--) {
                        int j;
                        char name[32];
                        uint64_t h;

                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        j = (int)(x % (unsigned)(i + 1));
                        memcpy(name, out->name[i], sizeof(name));
                        memcpy(out->name[i], out->name[j], sizeof(name));
                        memcpy(out->name[j], name, sizeof(name));
                        h = out->hash[i], out->hash[i] = out->hash[j], out->hash[j] = h;
                }
        if (o == DUPLICATED) {  /* one peer seen twice (ownership.cpp drops the copy, the map needs not) */
                ck_assert_int_lt(out->n, MAX_NODES);
                out->hash[out->n] = out->hash[0];
                memcpy(out->name[out->n], out->name[0], sizeof(out->name[0]));
                out->n++;
        }
}

/* Every node computes the same owner for every piece, whatever order it
 * has the others' addresses in.  The weights of distinct keys for one
 * piece never tie (the finaliser is a bijection), so the winner does not
 * depend on the order; ownership.cpp also sorts the addresses, so the
 * indices agree too. */
static const int order_sizes[] = { 2, 3, 5, 8, 16, 64 };

START_TEST(test_same_map_any_order)
{
        int n = order_sizes[_i % EZ_ARRAY_LEN(order_sizes)];
        struct nodes s, t;
        enum order o;
        uint64_t p;

        make_nodes(&s, families[_i / EZ_ARRAY_LEN(order_sizes)], 2, n);
        for (o = 0; o < N_ORDERS; o++) {
                reorder(&s, o, (unsigned)_i, &t);
                for (p = 0; p < 4096; p++) {
                        const char *a = owner_name(&s, p), *b = owner_name(&t, p);

                        /* (a test of the condition first: a passing ck_assert
                         * costs a record of its own, 300,000 of them here) */
                        if (strcmp(a, b) != 0)
                                ck_abort_msg("%d nodes, order %d: piece %" PRIu64 " owned by %s and %s", n, o, p, a, b);
                }
        }
}
END_TEST

/*
 * Balance.  The hash splits pieces as a fair coin of N sides would: a
 * share of P pieces among N nodes is binomial, mean P/N and standard
 * deviation sd = sqrt(P/N * (1 - 1/N)).  A bound in percent of P/N cannot
 * be both tight and true: at N = 64 and P = 1000 a share is 15.6 pieces
 * give or take 3.9, at N = 2 and P = 10000 it is 5000 give or take 50.
 * So the bound is in sd: every share within 5 sd of P/N.  Measured for
 * N = 2 .. 64, P = 1000 .. 10000 in steps of 500 and four address
 * families, the worst share was 3.7 sd off (86 % of P/N at N = 60,
 * P = 1000, 17 pieces expected; 26 % at most where P/N >= 150); a fair
 * random split puts a share past 5 sd about once in two million.
 */
#define BALANCE_SD 5.0

START_TEST(test_balance)
{
        static const int pieces[] = { 1000, 2500, 5000, 10000 };
        int n = _i, f, k, i;

        for (f = 0; f < EZ_ARRAY_LEN(families); f++)
                for (k = 0; k < EZ_ARRAY_LEN(pieces); k++) {
                        int share[MAX_NODES] = { 0 };
                        double mean = (double)pieces[k] / n, sd = sqrt(mean * (1.0 - 1.0 / n));
                        struct nodes s;
                        uint64_t p;

                        make_nodes(&s, families[f], 2, n);
                        for (p = 0; p < (uint64_t)pieces[k]; p++)
                                share[ez_rendezvous_owner(s.hash, (size_t)n, p)]++;
                        for (i = 0; i < n; i++)
                                if (fabs(share[i] - mean) > BALANCE_SD * sd)
                                        ck_abort_msg("%s, %d nodes, %d pieces: %s owns %d, expected %.1f +- %.1f * %.1f",
                                                     families[f], n, pieces[k], s.name[i], share[i], mean, BALANCE_SD, sd);
                }
}
END_TEST

/* A node leaving hands on only its own pieces; a node joining takes only
 * pieces that become its own.  The loop runs over the size of the swarm;
 * the first, a middle and the last node leave in turn. */
static const int churn_sizes[] = { 2, 3, 4, 7, 16, 33, 64 };

START_TEST(test_leave_moves_only_its_share)
{
        int n = churn_sizes[_i], w, k, i, moved = 0;
        struct nodes s, t;
        uint64_t p;

        make_nodes(&s, families[_i % EZ_ARRAY_LEN(families)], 2, n);
        for (w = 0; w < 3; w++) {
                k = w == 0 ? 0 : w == 1 ? n / 2 : n - 1;
                t.n = 0;
                for (i = 0; i < n; i++)
                        if (i != k) {
                                memcpy(t.name[t.n], s.name[i], sizeof(t.name[0]));
                                t.hash[t.n++] = s.hash[i];
                        }
                for (p = 0; p < 5000; p++) {
                        const char *before = owner_name(&s, p), *after = owner_name(&t, p);

                        if (strcmp(before, s.name[k]) == 0)
                                moved++;
                        else if (strcmp(before, after) != 0)
                                ck_abort_msg("%s left: piece %" PRIu64 " moved from %s to %s", s.name[k], p, before, after);
                }
        }
        ck_assert_int_gt(moved, 0);
}
END_TEST

START_TEST(test_join_takes_only_its_share)
{
        int n = churn_sizes[_i], taken = 0;
        struct nodes s, t;
        uint64_t p;

        make_nodes(&s, families[_i % EZ_ARRAY_LEN(families)], 2, n);
        make_nodes(&t, families[_i % EZ_ARRAY_LEN(families)], 2, n + 1);    /* the same and one more */
        for (p = 0; p < 5000; p++) {
                const char *before = owner_name(&s, p), *after = owner_name(&t, p);

                if (strcmp(before, after) != 0) {
                        if (strcmp(after, t.name[n]) != 0)
                                ck_abort_msg("%s joined: piece %" PRIu64 " moved from %s to %s", t.name[n], p, before, after);
                        taken++;
                }
        }
        /* and it does get a share: 5000 / (n + 1) pieces, 5 sd at most off */
        ck_assert_int_gt(taken, 5000 / (n + 1) - 5 * (int)sqrt(5000.0 / (n + 1)) - 1);
}
END_TEST

/* Partners across racks: the same both ways round, for every pair of
 * rack sizes and places, so that the connection two nodes keep is kept at
 * both ends */
START_TEST(test_partners_agree)
{
        size_t const k = (size_t)_i;
        size_t ma, mb, p, q;

        for (ma = 1; ma <= 24; ma++)
                for (mb = 1; mb <= 24; mb++)
                        for (p = 0; p < ma; p++)
                                for (q = 0; q < mb; q++)
                                        if (ez_rendezvous_partners(p, ma, q, mb, k) != ez_rendezvous_partners(q, mb, p, ma, k))
                                                ck_abort_msg("k %zu: %zu of %zu and %zu of %zu", k, p, ma, q, mb);
}
END_TEST

/* in racks of one size, a node's partners are the 2k + 1 around its own
 * place (every node of a rack no bigger) */
START_TEST(test_partners_window)
{
        size_t const k = (size_t)_i;
        size_t m, p, q;

        for (m = 1; m <= 32; m++)
                for (p = 0; p < m; p++)
                        for (q = 0; q < m; q++) {
                                size_t const d = p > q ? p - q : q - p;
                                bool const near = (d < m - d ? d : m - d) <= k;

                                if (ez_rendezvous_partners(p, m, q, m, k) != near)
                                        ck_abort_msg("k %zu, racks of %zu: %zu and %zu", k, m, p, q);
                        }
}
END_TEST

/* every node has a partner in a rack of any size, and no more than the
 * window holds: (2k times the larger rack) / its own rack, plus one */
START_TEST(test_partners_every_rack)
{
        size_t const k = (size_t)_i;
        size_t ma, mb, p, q;

        for (ma = 1; ma <= 24; ma++)
                for (mb = 1; mb <= 24; mb++)
                        for (p = 0; p < ma; p++) {
                                size_t n = 0, most = 2 * k * (ma > mb ? ma : mb) / ma + 1;

                                for (q = 0; q < mb; q++)
                                        n += ez_rendezvous_partners(p, ma, q, mb, k);
                                if (n < 1 || n > most)
                                        ck_abort_msg("k %zu: %zu of %zu has %zu in a rack of %zu", k, p, ma, n, mb);
                        }
        /* a place beyond its rack is no one's partner */
        ck_assert(!ez_rendezvous_partners(3, 3, 0, 3, k));
        ck_assert(!ez_rendezvous_partners(0, 3, 5, 5, k));
        ck_assert(!ez_rendezvous_partners(0, 0, 0, 4, k));
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("rendezvous");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_golden_key, 0, EZ_ARRAY_LEN(golden_keys));
        tcase_add_test(tc, test_golden_map);
        tcase_add_loop_test(tc, test_same_map_any_order, 0, EZ_ARRAY_LEN(order_sizes) * EZ_ARRAY_LEN(families));
        tcase_add_loop_test(tc, test_balance, 2, 65);
        tcase_add_loop_test(tc, test_leave_moves_only_its_share, 0, EZ_ARRAY_LEN(churn_sizes));
        tcase_add_loop_test(tc, test_join_takes_only_its_share, 0, EZ_ARRAY_LEN(churn_sizes));
        tcase_add_loop_test(tc, test_partners_agree, 1, 4);
        tcase_add_loop_test(tc, test_partners_window, 1, 4);
        tcase_add_loop_test(tc, test_partners_every_rack, 1, 4);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
