/*
 * check_helper.c - running a helper program: its exit status, its last
 * words quoted on failure, a missing program, and the temporary
 * directory made and removed.
 */
#include <errno.h>
#include <sys/wait.h>

#include "helper.h"
#include "testutil.h"

struct run_case {
        const char *script;     /* for sh -c */
        int exit;               /* its exit status */
        const char *words;      /* what ez_helper_failed quotes, or NULL when it exits 0 */
};

static const struct run_case run_cases[] = {
        { "exit 0", 0, NULL },
        { "echo fine; exit 0", 0, NULL },
        { "echo first; echo '  the last words  '; exit 3", 3, "sh failed on the test (exit 3): the last words  " },
        /* partclone's progress lines are not the reason */
        { "echo 'disk full'; echo 'Elapsed: 00:00:01'; echo 'Total Time: 1s'; exit 1", 1,
          "sh failed on the test (exit 1): disk full" },
        { "exit 5", 5, "sh failed on the test (exit 5)" },
        { "kill -TERM $$", -SIGTERM, "sh failed on the test (signal 15)" },
};

START_TEST(test_run)
{
        const struct run_case *c = &run_cases[_i];
        char *tmp = tu_mkdtemp();
        struct ez_helper_dir d = { .path = "" };
        struct ez_err err = { "" };
        char *argv[] = { "sh", "-c", (char *)c->script, NULL };
        int status = -1;
        struct stat st;

        ck_assert_int_eq(ez_helper_dir_make(&d, tmp, &err), 0);
        ck_assert_ptr_nonnull(strstr(d.path, "/ezio-mktorrent."));
        ck_assert_int_eq(ez_helper_run(argv, d.out, NULL, &status, &err), 0);
        if (c->exit >= 0) {
                ck_assert(WIFEXITED(status));
                ck_assert_int_eq(WEXITSTATUS(status), c->exit);
        } else {
                ck_assert(WIFSIGNALED(status));
                ck_assert_int_eq(WTERMSIG(status), -c->exit);
        }
        if (c->words) {
                ck_assert_int_eq(ez_helper_failed("sh", "the test", status, NULL, d.out, &err), -EIO);
                ck_assert_str_eq(err.msg, c->words);
        }
        ez_helper_dir_remove(&d);
        ck_assert_str_eq(d.path, "");
        ez_helper_dir_remove(&d);       /* once is enough; twice is harmless */
        /* nothing is left behind */
        ck_assert_int_eq(rmdir(tmp), 0);
        ck_assert_int_ne(stat(tmp, &st), 0);
        free(tmp);
}
END_TEST

START_TEST(test_missing_program)
{
        char *tmp = tu_mkdtemp(), *out = tu_path(tmp, "out");
        struct ez_err err = { "" };
        char *argv[] = { "ezio-no-such-program", NULL };
        int status = -1;
        int r = ez_helper_run(argv, out, NULL, &status, &err);

        if (r == 0 && getenv("EZ_VALGRIND")) {
                /* valgrind runs posix_spawnp as fork and exec, so the
                 * missing program is a child that exits 127 */
                ck_assert(WIFEXITED(status));
                ck_assert_int_eq(WEXITSTATUS(status), 127);
        } else {
                ck_assert_int_eq(r, -ENOENT);
        }
        ck_assert_str_eq(err.msg, "");          /* the caller words it */
        free(out);
        tu_rmtree(tmp);
}
END_TEST

START_TEST(test_log_first)
{
        char *tmp = tu_mkdtemp(), *out = tu_path(tmp, "out"), *log = tu_path(tmp, "log");
        struct ez_err err = { "" };

        tu_write_at(out, "from out\n", 9, 0);
        tu_write_at(log, "from the log\n", 13, 0);
        ck_assert_int_eq(ez_helper_failed("p", "x", 1 << 8, log, out, &err), -EIO);
        ck_assert_str_eq(err.msg, "p failed on x (exit 1): from the log");
        /* an empty or missing log: the output speaks */
        ck_assert_int_eq(unlink(log), 0);
        ck_assert_int_eq(ez_helper_failed("p", "x", 1 << 8, log, out, &err), -EIO);
        ck_assert_str_eq(err.msg, "p failed on x (exit 1): from out");
        free(out);
        free(log);
        tu_rmtree(tmp);
}
END_TEST

START_TEST(test_dir_refused)
{
        struct ez_helper_dir d = { .path = "x" };
        struct ez_err err = { "" };

        ck_assert_int_eq(ez_helper_dir_make(&d, "/nonexistent/dir", &err), -ENOENT);
        ck_assert_str_eq(d.path, "");
        ck_assert_ptr_nonnull(strstr(err.msg, "cannot make a temporary directory in '/nonexistent/dir'"));
        ez_helper_dir_remove(&d);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("helper");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_run, 0, EZ_ARRAY_LEN(run_cases));
        tcase_add_test(tc, test_missing_program);
        tcase_add_test(tc, test_log_first);
        tcase_add_test(tc, test_dir_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
