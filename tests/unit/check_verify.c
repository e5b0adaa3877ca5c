/*
 * check_verify.c - reading the image back: a target that matches, a byte
 * changed in a piece, in the last partial block, in a zero range (caught
 * only with zeros), step budgets, pieces checked one by one or matched by
 * the swarm, a target too short to read, and the digest (only with zeros).
 */
#include <errno.h>
#include <stdint.h>

#include "mktorrent.h"
#include "torrent.h"
#include "verify.h"
#include "testutil.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

/* data [1M, 1M+64K) with a zero block [1M+16K, 1M+20K) written as zeros,
 * data [3M, 3M+4K), and a last partial block; the rest holes */
#define IMG_SIZE (4 * MiB - 1536)

struct fixture {
        char *dir, *img;
        struct ez_torrent *t;
};

static uint64_t setup_piece = 16 * KiB;

static void setup(struct fixture *f)
{
        struct ez_mk_options o = { .kind = -1, .piece_length = setup_piece };
        unsigned char *buf = malloc(64 * KiB);
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_err err = { "" };
        int fd;

        f->dir = tu_mkdtemp();
        f->img = tu_path(f->dir, "img");
        fd = open(f->img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, IMG_SIZE), 0);
        close(fd);
        tu_random(buf, 64 * KiB, 7);
        memset(buf + 16 * KiB, 0, 4 * KiB);
        tu_write_at(f->img, buf, 64 * KiB, 1 * MiB);
        tu_random(buf, 4 * KiB, 8);
        tu_write_at(f->img, buf, 4 * KiB, 3 * MiB);
        tu_write_at(f->img, buf, 2560, IMG_SIZE - 2560);
        free(buf);
        o.source = f->img;
        ck_assert_msg(ez_mk_torrent(&o, &out, &res, &err) == 0, "%s", err.msg);
        ck_assert_msg(ez_torrent_parse(out.data, out.len, &f->t, &err) == 0, "%s", err.msg);
        free(out.data);
}

static void teardown(struct fixture *f)
{
        ez_torrent_free(f->t);
        free(f->img);
        tu_rmtree(f->dir);
}

/* Verify f->img in steps of budget; returns the result, err filled. */
static int run(struct fixture *f, bool zeros, uint64_t budget, int *steps, struct ez_err *err)
{
        struct ez_verify *v = NULL;
        int fd = open(f->img, O_RDONLY | O_CLOEXEC), r;
        uint64_t last = 0;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ez_verify_start(f->t, f->t->layout, fd, zeros, &v, err), 0);
        *steps = 0;
        do {
                r = ez_verify_step(v, budget, err);
                ck_assert_uint_ge(ez_verify_done(v), last);
                last = ez_verify_done(v);
                (*steps)++;
        } while (r == 1 && *steps < 100000);
        if (r == 0)
                ck_assert_uint_eq(ez_verify_done(v), ez_verify_total(v));
        ez_verify_free(v);
        close(fd);
        return r;
}

static const struct {
        const char *name;
        off_t at;               /* byte changed to 0x5a, -1: none */
        bool zeros;
        int want;
        const char *msg;        /* the start of err, or NULL */
} cases[] = {
        { "untouched", -1, false, 0, NULL },
        { "untouched, zeros too", -1, true, 0, NULL },
        { "first byte of the payload", 1 * MiB, false, -EBADMSG,
          "piece 0 of 5 (16384 bytes from target offset 1048576) reads back different" },
        { "in the second extent: the piece spans both", 3 * MiB + 100, false, -EBADMSG,
          "piece 3 of 5 (16384 bytes from target offset 1101824)" },
        { "last byte of the image", IMG_SIZE - 1, false, -EBADMSG, "piece 4 of 5 (" },
        { "a hole, data only", 2 * MiB, false, 0, NULL },
        { "a hole, zeros too", 2 * MiB, true, -EBADMSG,
          "target offset 2097152 should read as zero and holds 0x5a" },
        { "a zero block between data, zeros too", 1 * MiB + 16 * KiB + 3, true, -EBADMSG,
          "target offset 1064963 should read as zero and holds 0x5a" },
        { "first byte of the target, zeros too", 0, true, -EBADMSG,
          "target offset 0 should read as zero" },
};

START_TEST(test_cases)
{
        struct fixture f;
        struct ez_err err = { "" };
        int steps, r;

        setup(&f);
        ck_assert_int_eq(f.t->num_pieces, 5);
        if (cases[_i].at >= 0)
                tu_fill(f.img, 0x5a, 1, cases[_i].at);
        r = run(&f, cases[_i].zeros, 0, &steps, &err);
        ck_assert_msg(r == cases[_i].want, "%s: %d (%s)", cases[_i].name, r, err.msg);
        if (cases[_i].msg)
                ck_assert_msg(strncmp(err.msg, cases[_i].msg, strlen(cases[_i].msg)) == 0, "%s: '%s'",
                              cases[_i].name, err.msg);
        teardown(&f);
}
END_TEST

/* A budget of one piece takes one step per piece, and the zero ranges
 * after them; the total counts the zero ranges only when asked. */
START_TEST(test_steps)
{
        struct fixture f;
        struct ez_err err = { "" };
        struct ez_verify *v = NULL;
        uint64_t zero = 0;
        int steps, fd;

        setup(&f);
        ck_assert_int_eq(run(&f, false, 16 * KiB, &steps, &err), 0);
        ck_assert_int_eq(steps, 5);
        ck_assert_int_eq(run(&f, true, 16 * KiB, &steps, &err), 0);
        ck_assert_int_gt(steps, 5);
        for (size_t i = 0; i < f.t->layout->n_zero; i++)
                zero += f.t->layout->zero[i].len;
        fd = open(f.img, O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, true, &v, &err), 0);
        ck_assert_uint_eq(ez_verify_total(v), f.t->total_length + zero);
        ck_assert_uint_eq(ez_verify_total(v), IMG_SIZE);
        ez_verify_free(v);
        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, false, &v, &err), 0);
        ck_assert_uint_eq(ez_verify_total(v), f.t->total_length);
        ez_verify_free(v);
        close(fd);
        teardown(&f);
}
END_TEST

/* Pieces checked one by one as they arrive are not read again by the
 * steps; a changed one is caught on arrival; a piece past the end is an
 * error. */
START_TEST(test_one_by_one)
{
        struct fixture f;
        struct ez_err err = { "" };
        struct ez_verify *v = NULL;
        int fd, r, steps = 0;

        setup(&f);
        fd = open(f.img, O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, false, &v, &err), 0);
        ck_assert_int_eq(ez_verify_piece(v, 4, &err), 0);
        ck_assert_int_eq(ez_verify_piece(v, 0, &err), 0);
        ck_assert_int_eq(ez_verify_piece(v, 0, &err), 0);
        ck_assert_uint_eq(ez_verify_done(v), 16 * KiB + (f.t->total_length - 4 * 16 * KiB));
        ck_assert_int_eq(ez_verify_piece(v, 5, &err), -ERANGE);
        /* a step of one piece takes pieces 1, 2, 3, and a fourth finds
         * nothing left */
        do {
                r = ez_verify_step(v, 16 * KiB, &err);
                steps++;
        } while (r == 1);
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(steps, 4);
        ck_assert_uint_eq(ez_verify_done(v), f.t->total_length);
        ez_verify_free(v);

        tu_fill(f.img, 0x5a, 1, 1 * MiB + 20 * KiB);    /* piece 1 */
        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, false, &v, &err), 0);
        ck_assert_int_eq(ez_verify_piece(v, 0, &err), 0);
        ck_assert_int_eq(ez_verify_piece(v, 1, &err), -EBADMSG);
        ck_assert_msg(strncmp(err.msg, "piece 1 of 5 ", 13) == 0, "'%s'", err.msg);
        ez_verify_free(v);
        close(fd);
        teardown(&f);
}
END_TEST

/* Pieces the swarm's storage read back and matched are counted without
 * a read: a changed byte in one of them is not looked for again, one in
 * another piece still is.  Only a check with the digest to rebuild needs
 * the data.  ez_verify_differs() names the piece as ez_verify_piece does. */
START_TEST(test_matched)
{
        struct fixture f;
        struct ez_err err = { "" };
        struct ez_verify *v = NULL;
        int fd;

        setup(&f);
        fd = open(f.img, O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        tu_fill(f.img, 0x5a, 1, 1 * MiB + 20 * KiB);    /* piece 1 */
        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, false, &v, &err), 0);
        ck_assert(!ez_verify_needs_data(v));
        ck_assert_int_eq(ez_verify_matched(v, 1, &err), 0);
        ck_assert_int_eq(ez_verify_matched(v, 1, &err), 0);
        ck_assert_uint_eq(ez_verify_done(v), 16 * KiB);
        ck_assert_int_eq(ez_verify_matched(v, 5, &err), -ERANGE);
        ck_assert_int_eq(ez_verify_step(v, 0, &err), 0);
        ck_assert_uint_eq(ez_verify_done(v), f.t->total_length);
        ez_verify_free(v);

        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, false, &v, &err), 0);
        ck_assert_int_eq(ez_verify_matched(v, 0, &err), 0);
        ck_assert_int_eq(ez_verify_step(v, 0, &err), -EBADMSG);
        ck_assert_str_eq(err.msg, "piece 1 of 5 (16384 bytes from target offset 1069056) reads back different "
                                  "from the torrent");
        ck_assert_int_eq(ez_verify_differs(f.t->layout, 1, 5, 16 * KiB, 16 * KiB, &err), -EBADMSG);
        ck_assert_str_eq(err.msg, "piece 1 of 5 (16384 bytes from target offset 1069056) reads back different "
                                  "from the torrent");
        for (int how = EZ_WRITE_BACK_START; how <= EZ_WRITE_BACK_READ_AHEAD; how++)
                ck_assert_int_eq(ez_verify_write_back(f.t->layout, fd, 0, f.t->total_length, how, &err), 0);
        ez_verify_free(v);

        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, true, &v, &err), 0);
        ck_assert(ez_verify_needs_data(v) == f.t->has_root);
        ez_verify_free(v);
        close(fd);
        teardown(&f);
}
END_TEST

/* With zeros (verify full) the SHA-256 tree root is checked once every
 * piece is, whatever order they came in and whether the 1 MiB read chunk
 * is larger or smaller than a piece; without zeros it is not read.  A
 * root that differs stays an error when the step is called again. */
static const uint64_t digest_pieces[] = { 16 * KiB, 64 * KiB, 4 * MiB };

START_TEST(test_digest)
{
        struct fixture f;
        struct ez_err err = { "" };
        struct ez_verify *v = NULL;
        int fd, steps;

        setup_piece = digest_pieces[_i];
        setup(&f);
        setup_piece = 16 * KiB;
        ck_assert(f.t->has_root);
        fd = open(f.img, O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, true, &v, &err), 0);
        ck_assert_int_eq(ez_verify_piece(v, f.t->num_pieces - 1, &err), 0);
        ck_assert_int_eq(ez_verify_piece(v, f.t->num_pieces / 2, &err), 0);
        while ((steps = ez_verify_step(v, 16 * KiB, &err)) == 1)
                ;
        ck_assert_msg(steps == 0, "%s", err.msg);
        ez_verify_free(v);

        f.t->root[31] ^= 1;
        ck_assert_int_eq(run(&f, false, 0, &steps, &err), 0);
        ck_assert_int_eq(ez_verify_start(f.t, f.t->layout, fd, true, &v, &err), 0);
        ck_assert_int_eq(ez_verify_step(v, 0, &err), -EBADMSG);
        ck_assert_msg(strstr(err.msg, "SHA-256 tree root differs from the torrent's digest"), "'%s'", err.msg);
        ck_assert_int_eq(ez_verify_step(v, 0, &err), -EBADMSG);
        ez_verify_free(v);
        close(fd);
        teardown(&f);
}
END_TEST

/* A target cut short: the read error, not a mismatch. */
START_TEST(test_short_target)
{
        struct fixture f;
        struct ez_err err = { "" };
        int steps;

        setup(&f);
        ck_assert_int_eq(truncate(f.img, 2 * MiB), 0);
        ck_assert_int_eq(run(&f, false, 0, &steps, &err), -EIO);
        ck_assert_msg(strstr(err.msg, "cannot read piece 3 back") != NULL, "'%s'", err.msg);
        teardown(&f);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("verify");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_cases, 0, EZ_ARRAY_LEN(cases));
        tcase_add_test(tc, test_steps);
        tcase_add_test(tc, test_one_by_one);
        tcase_add_test(tc, test_matched);
        tcase_add_test(tc, test_short_target);
        tcase_add_loop_test(tc, test_digest, 0, EZ_ARRAY_LEN(digest_pieces));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
