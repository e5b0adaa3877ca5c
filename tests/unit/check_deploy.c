/*
 * check_deploy.c - the deploy's state machine: the phase order for every
 * mode, verify level and seed_after as a pure function; the reports and
 * exit codes of real runs: --verify-only of a matching and of a changed
 * target (no swarm), plans refused before anything is written, and a
 * whole deploy from a seeder in this process over 127.0.0.0/8, checked
 * byte for byte and phase by phase.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "deploy.h"
#include "exitcode.h"
#include "testutil.h"

#define IMG_SIZE (3u << 20)

/* ---- the order, without a swarm ---------------------------------------- */

struct order_case {
        enum ez_config_mode mode;
        enum ez_config_verify verify;
        long seed_after;
        const char *want;       /* the phases from fetch on, until done */
};

static const struct order_case order_cases[] = {
        { EZ_CONFIG_DEPLOY, EZ_CONFIG_VERIFY_DATA, EZ_CONFIG_SEED_NONE, "fetch check download zero verify done" },
        { EZ_CONFIG_DEPLOY, EZ_CONFIG_VERIFY_FULL, EZ_CONFIG_SEED_NONE, "fetch check download zero verify done" },
        { EZ_CONFIG_DEPLOY, EZ_CONFIG_VERIFY_NONE, EZ_CONFIG_SEED_NONE, "fetch check download zero done" },
        { EZ_CONFIG_DEPLOY, EZ_CONFIG_VERIFY_DATA, 30, "fetch check download zero verify seed done" },
        { EZ_CONFIG_DEPLOY, EZ_CONFIG_VERIFY_NONE, EZ_CONFIG_SEED_UNTIL_DONE, "fetch check download zero seed done" },
        { EZ_CONFIG_SEED, EZ_CONFIG_VERIFY_DATA, EZ_CONFIG_SEED_NONE, "fetch seed done" },
        { EZ_CONFIG_SEED, EZ_CONFIG_VERIFY_NONE, 60, "fetch seed done" },
        { EZ_CONFIG_VERIFY, EZ_CONFIG_VERIFY_DATA, EZ_CONFIG_SEED_NONE, "fetch verify done" },
        { EZ_CONFIG_VERIFY, EZ_CONFIG_VERIFY_FULL, 30, "fetch verify done" },
};

START_TEST(test_order)
{
        const struct order_case *k = &order_cases[_i];
        struct ez_config c;
        enum ez_phase p = EZ_PHASE_FETCH;
        char got[256] = "";
        int n;

        ez_config_init(&c);
        c.mode = k->mode;
        c.verify = k->verify;
        c.seed_after = k->seed_after;
        for (n = 0; n < 10; n++) {
                if (*got)
                        strcat(got, " ");
                strcat(got, ez_phase_name(p));
                if (p == EZ_PHASE_DONE)
                        break;
                p = ez_deploy_next(&c, p);
        }
        ck_assert_str_eq(got, k->want);
        /* the ends stay where they are */
        ck_assert_int_eq(ez_deploy_next(&c, EZ_PHASE_DONE), EZ_PHASE_DONE);
        ck_assert_int_eq(ez_deploy_next(&c, EZ_PHASE_ERROR), EZ_PHASE_ERROR);
        ez_config_free(&c);
}
END_TEST

/* ---- real runs ------------------------------------------------------------ */

/* What the reports said, in order. */
struct seen {
        char phases[512];       /* each phase once per run of it */
        enum ez_phase last_phase;
        int last_exit;
        char last_message[512];
        int n;
        uint64_t last_total;
};

static void on_report(void *ctx, const struct ez_status_report *r)
{
        struct seen *s = ctx;
        const char *name = ez_phase_name(r->phase);

        if (s->n == 0 || s->last_phase != r->phase) {
                if (*s->phases)
                        strcat(s->phases, " ");
                strcat(s->phases, name);
        }
        s->n++;
        s->last_phase = r->phase;
        s->last_exit = r->exit_code;
        s->last_total = r->bytes_total;
        snprintf(s->last_message, sizeof(s->last_message), "%s", r->message ? r->message : "");
        /* the contract: an exit code exactly at the end, a message with an error */
        ck_assert_int_eq(r->exit_code >= 0, r->phase == EZ_PHASE_DONE || r->phase == EZ_PHASE_ERROR);
        if (r->phase == EZ_PHASE_ERROR)
                ck_assert_ptr_nonnull(r->message);
}

struct fixture {
        char *dir, *img, *torrent;
        struct ez_torrent *t;
        int port;
};

static void setup(struct fixture *f)
{
        f->dir = tu_mkdtemp();
        f->img = tu_path(f->dir, "img");
        f->torrent = tu_path(f->dir, "img.torrent");
        tu_two_region_image(f->img, IMG_SIZE, 11, f->torrent, &f->t);
        /* above the integration tests' blocks (lib.sh), below the ephemeral ports */
        f->port = 24000 + (int)(getpid() % 8000);
}

static void teardown(struct fixture *f)
{
        ez_torrent_free(f->t);
        free(f->img);
        free(f->torrent);
        tu_rmtree(f->dir);
}

/* prepare, then run if that passed; the exit code */
static int deploy(const struct ez_config *c, struct seen *s, const volatile sig_atomic_t *stop,
                  struct ez_deploy_failure *ret_failure)
{
        struct ez_deploy_opts o = { .config = c, .report = on_report, .ctx = s, .stop = stop };
        struct ez_deploy *d = ez_deploy_new(&o);
        int code;

        ck_assert_ptr_nonnull(d);
        code = ez_deploy_prepare(d);
        if (code == EZ_EXIT_OK)
                code = ez_deploy_run(d);
        if (ret_failure)
                *ret_failure = *ez_deploy_failure(d);
        ez_deploy_free(d);
        return code;
}

START_TEST(test_verify_only)
{
        struct fixture f;
        struct ez_config c;
        struct seen s = { .n = 0 };
        struct ez_deploy_failure why;
        unsigned char b = 0;

        setup(&f);
        ez_config_init(&c);
        c.mode = EZ_CONFIG_VERIFY;
        ez_config_set_str(&c.torrent, f.torrent);
        ez_config_set_str(&c.target, f.img);
        ck_assert_int_eq(deploy(&c, &s, NULL, NULL), EZ_EXIT_OK);
        ck_assert_str_eq(s.phases, "verify done");
        ck_assert_int_eq(s.last_exit, 0);
        ck_assert_uint_eq(s.last_total, f.t->total_length);

        /* one byte of the first extent changed: exit 7, naming the target */
        tu_read_at(f.img, &b, 1, 100);
        b ^= 0xff;
        tu_write_at(f.img, &b, 1, 100);
        memset(&s, 0, sizeof(s));
        ck_assert_int_eq(deploy(&c, &s, NULL, &why), EZ_EXIT_VERIFY);
        ck_assert_str_eq(s.phases, "verify error");
        ck_assert_int_eq(s.last_exit, EZ_EXIT_VERIFY);
        ck_assert_str_eq(why.what, f.img);
        ck_assert_str_eq(s.last_message, why.why.msg);
        ck_assert_ptr_nonnull(strstr(why.why.msg, "piece 0"));
        ez_config_free(&c);
        teardown(&f);
}
END_TEST

/* Plans refused before the target is touched. */
enum bad_plan { MISSING_TORRENT, TOO_SMALL, UNTIL_DONE_NO_TRACKER, BAD_SETTINGS, N_BAD_PLANS };

START_TEST(test_refused_plans)
{
        static const int want[N_BAD_PLANS] = { EZ_EXIT_TORRENT, EZ_EXIT_TARGET, EZ_EXIT_USAGE, EZ_EXIT_SWARM };
        static const char *const what[N_BAD_PLANS] = { "torrent", "target", "--seed-after", "swarm" };
        struct fixture f;
        struct ez_config c;
        struct seen s = { .n = 0 };
        struct ez_deploy_opts o = { .config = &c, .report = on_report, .ctx = &s };
        struct ez_deploy *d;
        char *small;
        struct stat st;

        setup(&f);
        small = tu_path(f.dir, "small");
        tu_fill(small, 0x5a, 4096, 0);
        ez_config_init(&c);
        ez_config_set_str(&c.torrent, _i == MISSING_TORRENT ? "/nonexistent/x.torrent" : f.torrent);
        ez_config_set_str(&c.target, small);
        if (_i == TOO_SMALL)
                c.mode = EZ_CONFIG_VERIFY;      /* read-only: a short target is not extended */
        if (_i == UNTIL_DONE_NO_TRACKER)
                c.seed_after = EZ_CONFIG_SEED_UNTIL_DONE;
        if (_i == BAD_SETTINGS)
                o.lt_settings = "no_such_setting=1";
        d = ez_deploy_new(&o);
        ck_assert_int_eq(ez_deploy_prepare(d), want[_i]);
        ck_assert_str_eq(ez_deploy_failure(d)->what, what[_i]);
        ck_assert_str_ne(ez_deploy_failure(d)->why.msg, "");
        ck_assert_int_eq(s.last_phase, EZ_PHASE_ERROR);
        ck_assert_int_eq(s.last_exit, want[_i]);
        ez_deploy_free(d);
        /* nothing written: the target is as it was */
        ck_assert_int_eq(stat(small, &st), 0);
        ck_assert_int_eq(st.st_size, 4096);
        ez_config_free(&c);
        free(small);
        teardown(&f);
}
END_TEST

/* A plan prepared for a dry run creates nothing and cannot be run. */
START_TEST(test_dry_run)
{
        struct fixture f;
        struct ez_config c;
        struct seen s = { .n = 0 };
        struct ez_deploy_opts o = { .config = &c, .report = on_report, .ctx = &s, .dry_run = true };
        struct ez_deploy *d;
        char *absent;

        setup(&f);
        absent = tu_path(f.dir, "absent");
        ez_config_init(&c);
        ez_config_set_str(&c.torrent, f.torrent);
        ez_config_set_str(&c.target, absent);
        d = ez_deploy_new(&o);
        ck_assert_int_eq(ez_deploy_prepare(d), EZ_EXIT_OK);
        ck_assert_ptr_null(ez_deploy_target(d));        /* would be created */
        ck_assert_uint_eq(ez_deploy_layout(d)->target_size, IMG_SIZE);
        ck_assert_int_eq(access(absent, F_OK), -1);
        ck_assert_int_eq(ez_deploy_run(d), EZ_EXIT_INTERNAL);
        ck_assert_int_eq(access(absent, F_OK), -1);
        ck_assert_int_eq(s.last_phase, EZ_PHASE_ERROR);
        ez_deploy_free(d);
        ez_config_free(&c);
        free(absent);
        teardown(&f);
}
END_TEST

struct seeder {
        struct ez_config c;
        struct seen s;
        volatile sig_atomic_t stop;
        int code;
};

static void *run_seeder(void *arg)
{
        struct seeder *sd = arg;

        sd->code = deploy(&sd->c, &sd->s, &sd->stop, NULL);
        return NULL;
}

START_TEST(test_deploy_from_seeder)
{
        struct fixture f;
        struct seeder sd = { .stop = 0 };
        struct ez_config c;
        struct seen s = { .n = 0 };
        pthread_t th;
        char listen[64], peer[64], *dst;
        unsigned char *want, *got;

        setup(&f);
        dst = tu_path(f.dir, "dst");
        snprintf(peer, sizeof(peer), "127.0.0.1:%d", f.port);
        snprintf(listen, sizeof(listen), "127.0.0.2:%d", f.port + 1);

        ez_config_init(&sd.c);
        sd.c.mode = EZ_CONFIG_SEED;
        ez_config_set_str(&sd.c.torrent, f.torrent);
        ez_config_set_str(&sd.c.target, f.img);
        ez_config_set_str(&sd.c.listen, peer);
        sd.c.seed_timeout = 60;         /* bounded, whatever happens */
        ck_assert_int_eq(pthread_create(&th, NULL, run_seeder, &sd), 0);

        ez_config_init(&c);
        ez_config_set_str(&c.torrent, f.torrent);
        ez_config_set_str(&c.target, dst);
        ez_config_set_str(&c.listen, listen);
        c.peers[c.n_peers++] = strdup(peer);
        c.timeout = 60;
        c.seed_after = 1;
        ck_assert_int_eq(deploy(&c, &s, NULL, NULL), EZ_EXIT_OK);
        sd.stop = 1;
        pthread_join(th, NULL);

        /* a new file has nothing to hash: check, if it comes, is short */
        ck_assert_str_eq(strncmp(s.phases, "check ", 6) == 0 ? s.phases + 6 : s.phases,
                         "download zero verify seed done");
        ck_assert_int_eq(sd.code, EZ_EXIT_OK);
        ck_assert_str_eq(sd.s.phases, "seed done");
        want = malloc(IMG_SIZE);
        got = malloc(IMG_SIZE);
        tu_read_at(f.img, want, IMG_SIZE, 0);
        tu_read_at(dst, got, IMG_SIZE, 0);
        ck_assert_mem_eq(got, want, IMG_SIZE);
        free(want);
        free(got);
        ez_config_free(&c);
        ez_config_free(&sd.c);
        free(dst);
        teardown(&f);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("deploy");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_order, 0, EZ_ARRAY_LEN(order_cases));
        tcase_add_test(tc, test_verify_only);
        tcase_add_loop_test(tc, test_refused_plans, 0, N_BAD_PLANS);
        tcase_add_test(tc, test_dry_run);
        tcase_add_test(tc, test_deploy_from_seeder);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
