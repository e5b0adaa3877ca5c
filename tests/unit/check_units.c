/*
 * check_units.c - sizes with dd(1)'s suffixes: every suffix, the edges
 * of uint64_t, and what must be refused.
 */
#include <errno.h>
#include <stdint.h>

#include "units.h"
#include "testutil.h"

struct size_case {
        const char *s;
        int r;
        uint64_t v;
};

static const struct size_case size_cases[] = {
        /* bytes */
        { "0", 0, 0 }, { "1500", 0, 1500 }, { "00012", 0, 12 },
        { "18446744073709551615", 0, UINT64_MAX },
        /* powers of 1024 */
        { "5K", 0, 5120 }, { "5k", 0, 5120 }, { "1KiB", 0, 1024 }, { "1kiB", 0, 1024 }, { "0K", 0, 0 },
        { "50M", 0, 50u << 20 }, { "1MiB", 0, 1u << 20 }, { "2G", 0, 2ull << 30 }, { "1GiB", 0, 1u << 30 },
        { "1T", 0, 1ull << 40 }, { "1TiB", 0, 1ull << 40 },
        { "17179869183G", 0, UINT64_MAX - (1ull << 30) + 1 }, { "16777215T", 0, UINT64_MAX - (1ull << 40) + 1 },
        /* powers of 1000 */
        { "1kB", 0, 1000 }, { "1KB", 0, 1000 }, { "5MB", 0, 5000000 }, { "2GB", 0, 2000000000 },
        { "1TB", 0, 1000000000000ull }, { "18446744073GB", 0, 18446744073000000000ull },
        /* past UINT64_MAX */
        { "18446744073709551616", -ERANGE, 0 }, { "99999999999999999999999", -ERANGE, 0 },
        { "17179869184G", -ERANGE, 0 }, { "16777216T", -ERANGE, 0 }, { "18446744073G", -ERANGE, 0 },
        { "18446744074GB", -ERANGE, 0 }, { "18446744073709551615K", -ERANGE, 0 },
        /* not a size */
        { "", -EINVAL, 0 }, { "K", -EINVAL, 0 }, { "M", -EINVAL, 0 }, { "KiB", -EINVAL, 0 },
        { "1X", -EINVAL, 0 }, { "-1", -EINVAL, 0 }, { "+1", -EINVAL, 0 }, { "1.5M", -EINVAL, 0 },
        { " 1M", -EINVAL, 0 }, { "1M ", -EINVAL, 0 }, { "5 M", -EINVAL, 0 }, { "1\n", -EINVAL, 0 },
        { "0x10", -EINVAL, 0 }, { "1e3", -EINVAL, 0 }, { "1m", -EINVAL, 0 }, { "1g", -EINVAL, 0 },
        { "1t", -EINVAL, 0 }, { "1B", -EINVAL, 0 }, { "1iB", -EINVAL, 0 }, { "1Ki", -EINVAL, 0 },
        { "1KBB", -EINVAL, 0 }, { "1MIB", -EINVAL, 0 }, { "1Mb", -EINVAL, 0 }, { "1P", -EINVAL, 0 },
        { "1PB", -EINVAL, 0 }, { "1KK", -EINVAL, 0 }, { "-0", -EINVAL, 0 },
};

START_TEST(test_size)
{
        const struct size_case *c = &size_cases[_i];
        uint64_t v = 77;

        ck_assert_msg(ez_units_parse_size(c->s, &v) == c->r, "'%s': want %d", c->s, c->r);
        ck_assert_uint_eq(v, c->r == 0 ? c->v : 77);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("units");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_size, 0, EZ_ARRAY_LEN(size_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
