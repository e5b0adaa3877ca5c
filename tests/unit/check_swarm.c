/*
 * check_swarm.c - the libtorrent shim through its C API: two sessions in
 * this process, a seeder reading from a source image and a receiver
 * writing onto a target through the layout, over 127.0.0.0/8.
 *
 * Asserts what a user relies on: the data extents arrive byte for byte,
 * nothing outside them is written by the swarm, a finished target is
 * recognised without downloading, a write error is reported as a storage
 * error, and bad input is refused with a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <time.h>

#include "mktorrent.h"
#include "swarm.h"
#include "torrent.h"
#include "testutil.h"

#define IMG_SIZE (3u << 20)
#define PATTERN 0xa7

struct fixture {
        char *dir, *src, *dst;
        struct ez_torrent *t;
        int port;
};

static void setup(struct fixture *f)
{
        f->dir = tu_mkdtemp();
        f->src = tu_path(f->dir, "src");
        f->dst = tu_path(f->dir, "dst");
        /* two data regions with a zero gap between them */
        tu_two_region_image(f->src, IMG_SIZE, 42, NULL, &f->t);
        tu_fill(f->dst, PATTERN, IMG_SIZE, 0);
        /* ports unlikely to clash between concurrent runs */
        f->port = 20000 + (int)(getpid() % 20000);
}

static void teardown(struct fixture *f)
{
        ez_torrent_free(f->t);
        free(f->src);
        free(f->dst);
        tu_rmtree(f->dir);
}

static struct ez_swarm *start(const struct fixture *f, int fd, bool seed, const char *listen,
                              const char *peer)
{
        const char *peers[] = { peer };
        struct ez_swarm_config cfg = {
                .torrent = f->t->raw, .torrent_len = f->t->raw_len, .layout = f->t->layout, .fd = fd,
                .seed = seed, .listen = listen, .peers = peers, .n_peers = peer ? 1 : 0,
        };
        struct ez_swarm *s = NULL;
        struct ez_err err = { "" };

        ck_assert_msg(ez_swarm_start(&cfg, &s, &err) == 0, "%s", err.msg);
        return s;
}

/* Poll both until the receiver is complete or fails; returns its last
 * poll result.  Bounded at 60 s. */
static int run_until_done(struct ez_swarm *seeder, struct ez_swarm *recv, struct ez_swarm_status *st,
                          struct ez_err *err)
{
        struct ez_swarm_status sst;
        time_t end = time(NULL) + 60;
        int r = 0;

        while (time(NULL) < end) {
                if (seeder)
                        ck_assert_int_eq(ez_swarm_poll(seeder, 50, &sst, NULL), 0);
                r = ez_swarm_poll(recv, 50, st, err);
                if (r < 0 || st->state == EZ_SWARM_SEEDING)
                        return r;
        }
        ck_abort_msg("the receiver did not finish within 60 s");
        return -ETIMEDOUT;
}

static char *addr(const char *ip, int port)
{
        char *s = NULL;

        ck_assert_int_ge(asprintf(&s, "%s:%d", ip, port), 0);
        return s;
}

START_TEST(test_transfer_and_resume)
{
        struct fixture f;
        struct ez_swarm *seeder, *recv;
        struct ez_swarm_status st;
        struct ez_err err = { "" };
        unsigned char *want, *got;
        char *l1, *l2, *l3;
        int sfd, dfd;
        size_t i;

        setup(&f);
        l1 = addr("127.0.0.1", f.port);
        l2 = addr("127.0.0.2", f.port + 1);
        l3 = addr("127.0.0.3", f.port + 2);
        sfd = open(f.src, O_RDONLY | O_CLOEXEC);
        dfd = open(f.dst, O_RDWR | O_CLOEXEC);
        seeder = start(&f, sfd, true, l1, NULL);
        recv = start(&f, dfd, false, l2, l1);
        ck_assert_msg(run_until_done(seeder, recv, &st, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(st.total_done, f.t->total_length);
        ck_assert_int_eq(st.pieces_done, f.t->num_pieces);
        ck_assert_uint_ge(st.downloaded, f.t->total_length);
        ck_assert_int_eq(st.hash_failures, 0);
        ez_swarm_free(recv);
        ez_swarm_free(seeder);

        /* the data extents equal the source; the zero gap was not written */
        want = malloc(IMG_SIZE);
        got = malloc(IMG_SIZE);
        tu_read_at(f.src, want, IMG_SIZE, 0);
        tu_read_at(f.dst, got, IMG_SIZE, 0);
        for (i = 0; i < f.t->layout->n_data; i++)
                ck_assert_mem_eq(got + f.t->layout->data[i].off, want + f.t->layout->data[i].off,
                                 f.t->layout->data[i].len);
        for (i = 0; i < f.t->layout->n_zero; i++) {
                long long bad = tu_first_not(got + f.t->layout->zero[i].off, f.t->layout->zero[i].len, PATTERN);

                ck_assert_msg(bad < 0, "zero range %zu written: byte %" PRIu64 " is %#x", i,
                              f.t->layout->zero[i].off + (uint64_t)bad, got[f.t->layout->zero[i].off + (uint64_t)bad]);
        }

        /* a second session on the finished target has nothing to fetch,
         * with no peer at all */
        recv = start(&f, dfd, false, l3, NULL);
        ck_assert_msg(run_until_done(NULL, recv, &st, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(st.downloaded, 0);
        ck_assert_int_eq(st.total_done, f.t->total_length);
        ez_swarm_free(recv);

        free(want);
        free(got);
        free(l1);
        free(l2);
        free(l3);
        close(sfd);
        close(dfd);
        teardown(&f);
}
END_TEST

START_TEST(test_write_error_is_reported)
{
        struct fixture f;
        struct ez_swarm *seeder, *recv;
        struct ez_swarm_status st;
        struct ez_err err = { "" };
        char *l1, *l2;
        int sfd, dfd, r;

        setup(&f);
        l1 = addr("127.0.0.1", f.port + 3);
        l2 = addr("127.0.0.2", f.port + 4);
        sfd = open(f.src, O_RDONLY | O_CLOEXEC);
        dfd = open(f.dst, O_RDONLY | O_CLOEXEC);        /* every write fails */
        seeder = start(&f, sfd, true, l1, NULL);
        recv = start(&f, dfd, false, l2, l1);
        r = run_until_done(seeder, recv, &st, &err);
        ck_assert_int_eq(r, -EIO);
        ck_assert_msg(strstr(err.msg, "write"), "message '%s' does not name the write", err.msg);
        ez_swarm_free(recv);
        ez_swarm_free(seeder);
        free(l1);
        free(l2);
        close(sfd);
        close(dfd);
        teardown(&f);
}
END_TEST

struct bad_case {
        const char *name;
        const char *torrent;    /* NULL: the fixture's */
        const char *peer;
        int expect;
        const char *msg;
};

static const struct bad_case bad_cases[] = {
        { "garbage torrent", "this is not bencode", NULL, -EINVAL, "libtorrent" },
        { "peer without port", NULL, "127.0.0.1", -EINVAL, "HOST:PORT" },
        { "peer with empty port", NULL, "127.0.0.1:", -EINVAL, "HOST:PORT" },
        { "peer with bad v6 syntax", NULL, "[::1", -EINVAL, "[ADDR]:PORT" },
        { "peer with unknown host", NULL, "no.such.host.invalid:80", -EINVAL, "no.such.host.invalid:80" },
};

START_TEST(test_bad_input)
{
        const struct bad_case *c = &bad_cases[_i];
        struct fixture f;
        const char *peers[] = { c->peer };
        struct ez_swarm_config cfg;
        struct ez_swarm *s = NULL;
        struct ez_err err = { "" };
        int fd;

        setup(&f);
        fd = open(f.dst, O_RDWR | O_CLOEXEC);
        cfg = (struct ez_swarm_config){
                .torrent = c->torrent ? (const void *)c->torrent : f.t->raw,
                .torrent_len = c->torrent ? strlen(c->torrent) : f.t->raw_len,
                .layout = f.t->layout, .fd = fd, .listen = "127.0.0.1:0",
                .peers = peers, .n_peers = c->peer ? 1 : 0,
        };
        ck_assert_int_eq(ez_swarm_start(&cfg, &s, &err), c->expect);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(err.msg, c->msg), "%s: '%s' lacks '%s'", c->name, err.msg, c->msg);
        close(fd);
        teardown(&f);
}
END_TEST

START_TEST(test_listen_in_use)
{
        struct fixture f;
        struct ez_swarm *a, *b;
        struct ez_swarm_status st;
        struct ez_err err = { "" };
        char *l = NULL;
        int fd, r = 0, i;

        setup(&f);
        l = addr("127.0.0.1", f.port + 5);
        fd = open(f.src, O_RDONLY | O_CLOEXEC);
        a = start(&f, fd, true, l, NULL);
        b = start(&f, fd, true, l, NULL);
        for (i = 0; i < 40 && r == 0; i++)
                r = ez_swarm_poll(b, 50, &st, &err);
        ck_assert_int_eq(r, -EADDRINUSE);
        ck_assert_msg(strstr(err.msg, "cannot listen on 127.0.0.1:"), "%s", err.msg);
        ez_swarm_free(b);
        ez_swarm_free(a);
        free(l);
        close(fd);
        teardown(&f);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("swarm");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 240);     /* libtorrent under valgrind is slow */
        tcase_add_test(tc, test_transfer_and_resume);
        tcase_add_test(tc, test_write_error_is_reported);
        tcase_add_loop_test(tc, test_bad_input, 0, EZ_ARRAY_LEN(bad_cases));
        tcase_add_test(tc, test_listen_in_use);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
