/*
 * check_request_budget.c - the share of the 64-block request budget each
 * peer gets, for every number of peers a node can have, against the rule
 * written out: 64 / peers, at most 16 (libtorrent's limit), never under 2;
 * no peers or a negative count are taken as one peer.
 */
#include <limits.h>

#include "request_budget.h"
#include "testutil.h"

/* The rule, worked out by hand for the counts where it changes. */
static const struct {
        int peers, queue;
} table[] = {
        { INT_MIN, 16 }, { -1, 16 }, { 0, 16 },         /* taken as one peer */
        { 1, 16 }, { 2, 16 }, { 3, 16 }, { 4, 16 },     /* 64 / peers above 16 */
        { 5, 12 }, { 6, 10 }, { 7, 9 }, { 8, 8 }, { 9, 7 }, { 10, 6 },
        { 12, 5 }, { 13, 4 }, { 16, 4 }, { 17, 3 }, { 21, 3 }, { 22, 2 },
        { 32, 2 }, { 33, 2 }, { 64, 2 }, { 1000, 2 }, { INT_MAX, 2 },   /* never under 2 */
};

START_TEST(test_table)
{
        ck_assert_int_eq(ez_request_budget_share(table[_i].peers), table[_i].queue);
}
END_TEST

/* Every count from 1 to 64 peers: the rule as stated. */
START_TEST(test_rule)
{
        int peers = _i, want = EZ_REQUEST_BUDGET_BLOCKS / peers, got = ez_request_budget_share(peers);

        if (want > EZ_REQUEST_QUEUE_MAX)
                want = EZ_REQUEST_QUEUE_MAX;
        if (want < EZ_REQUEST_QUEUE_MIN)
                want = EZ_REQUEST_QUEUE_MIN;
        ck_assert_int_eq(got, want);
        /* what all peers may have outstanding together stays within the
         * budget, but where the floor of 2 holds; and the budget is used:
         * one block more each would exceed it, but where the cap holds */
        if (got > EZ_REQUEST_QUEUE_MIN)
                ck_assert_int_le(got * peers, EZ_REQUEST_BUDGET_BLOCKS);
        if (got < EZ_REQUEST_QUEUE_MAX && got > EZ_REQUEST_QUEUE_MIN)
                ck_assert_int_gt((got + 1) * peers, EZ_REQUEST_BUDGET_BLOCKS);
        /* more peers never get a larger share each */
        ck_assert_int_le(ez_request_budget_share(peers + 1), ez_request_budget_share(peers));
}
END_TEST

START_TEST(test_limits)
{
        ck_assert_int_eq(EZ_REQUEST_BUDGET_BLOCKS, 64);
        ck_assert_int_eq(EZ_REQUEST_QUEUE_MAX, 16);
        ck_assert_int_eq(EZ_REQUEST_QUEUE_MIN, 2);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("request_budget");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_table, 0, EZ_ARRAY_LEN(table));
        tcase_add_loop_test(tc, test_rule, 1, 65);
        tcase_add_test(tc, test_limits);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
