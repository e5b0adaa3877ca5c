/*
 * check_status.c - the JSON status line a provisioning agent reads, and
 * the error-sentence helpers every module uses.
 */
#include <errno.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"
#include "status.h"
#include "testutil.h"

struct status_case {
        struct ez_status_report r;
        int has_exit, has_message;
};

static const struct status_case status_cases[] = {
        { { .phase = EZ_PHASE_DOWNLOAD, .target = "/dev/sda1", .info_hash = "00ff", .bytes_done = 1, .bytes_total = 2,
            .downloaded = 3, .uploaded = 4, .download_rate = 5, .upload_rate = 6, .peers = 7, .elapsed = 1.5,
            .exit_code = -1 }, 0, 0 },
        { { .phase = EZ_PHASE_DONE, .bytes_done = INT64_MAX, .bytes_total = INT64_MAX, .exit_code = 0 }, 1, 0 },
        { { .phase = EZ_PHASE_ERROR, .target = "a \"quoted\"\nname\\", .exit_code = 6,
            .message = "target write failed: \"No space\"\tleft" }, 1, 1 },
        { { .phase = EZ_PHASE_SEED, .target = "", .message = "", .exit_code = -1 }, 0, 1 },
        { { .phase = EZ_PHASE_DOWNLOAD, .allow_list = true, .refused_peers = 3, .exit_code = -1 }, 0, 0 },
        { { .phase = EZ_PHASE_DOWNLOAD, .allow_list = true, .exit_code = -1 }, 0, 0 },
        { { .phase = EZ_PHASE_DOWNLOAD, .hash_failures = 9, .banned_peers = 2, .wasted = (uint64_t)INT64_MAX,
            .stalled = 12.5, .exit_code = -1 }, 0, 0 },
};

static const char *str_of(struct json_object *o, const char *key)
{
        struct json_object *v;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "missing key %s", key);
        return json_object_get_string(v);
}

static int64_t int_of(struct json_object *o, const char *key)
{
        struct json_object *v;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "missing key %s", key);
        return json_object_get_int64(v);
}

START_TEST(test_status_json)
{
        const struct ez_status_report *r = &status_cases[_i].r;
        char *line = ez_status_json(r);
        struct json_object *o, *v;

        ck_assert_ptr_nonnull(line);
        ck_assert_ptr_null(strchr(line, '\n'));         /* one line, whatever the strings hold */
        o = json_tokener_parse(line);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(str_of(o, "phase"), ez_phase_name(r->phase));
        ck_assert_int_eq(int_of(o, "version"), EZ_STATUS_VERSION);
        if (r->target)
                ck_assert_str_eq(str_of(o, "target"), r->target);
        ck_assert_int_eq(int_of(o, "bytes_done"), (int64_t)r->bytes_done);
        ck_assert_int_eq(int_of(o, "bytes_total"), (int64_t)r->bytes_total);
        ck_assert_int_eq(int_of(o, "downloaded"), (int64_t)r->downloaded);
        ck_assert_int_eq(int_of(o, "uploaded"), (int64_t)r->uploaded);
        ck_assert_int_eq(int_of(o, "download_rate"), (int64_t)r->download_rate);
        ck_assert_int_eq(int_of(o, "upload_rate"), (int64_t)r->upload_rate);
        ck_assert_int_eq(int_of(o, "peers"), r->peers);
        /* refused_peers only with an allow list, 0 included */
        ck_assert_int_eq(json_object_object_get_ex(o, "refused_peers", NULL), r->allow_list);
        if (r->allow_list)
                ck_assert_int_eq(int_of(o, "refused_peers"), r->refused_peers);
        /* what hostile or broken peers cost, 0 included */
        ck_assert_int_eq(int_of(o, "hash_failures"), r->hash_failures);
        ck_assert_int_eq(int_of(o, "banned_peers"), r->banned_peers);
        ck_assert_int_eq(int_of(o, "wasted"), (int64_t)r->wasted);
        /* stalled only while stalled */
        ck_assert_int_eq(json_object_object_get_ex(o, "stalled", &v), r->stalled > 0);
        if (r->stalled > 0)
                ck_assert(json_object_get_double(v) == r->stalled);
        ck_assert(json_object_object_get_ex(o, "elapsed", &v));
        ck_assert(json_object_get_double(v) == r->elapsed);
        ck_assert_int_eq(json_object_object_get_ex(o, "exit_code", NULL), status_cases[_i].has_exit);
        if (status_cases[_i].has_exit)
                ck_assert_int_eq(int_of(o, "exit_code"), r->exit_code);
        ck_assert_int_eq(json_object_object_get_ex(o, "message", NULL), status_cases[_i].has_message);
        if (r->message)
                ck_assert_str_eq(str_of(o, "message"), r->message);
        json_object_put(o);
        free(line);
}
END_TEST

/* The names are the contract's (config/ezio-status.schema.json), in order. */
START_TEST(test_phase_names)
{
        static const char *const want[] = { "fetch", "check", "download", "zero", "verify", "seed", "done", "error" };
        size_t i;

        ck_assert_int_eq(EZ_ARRAY_LEN(want), EZ_PHASE_COUNT);
        for (i = 0; i < EZ_ARRAY_LEN(want); i++)
                ck_assert_str_eq(ez_phase_name((enum ez_phase)i), want[i]);
        ck_assert_str_eq(ez_phase_name((enum ez_phase)EZ_PHASE_COUNT), "?");
        ck_assert_str_eq(ez_phase_name((enum ez_phase)-1), "?");
}
END_TEST

START_TEST(test_err)
{
        struct ez_err err = { "" };
        char longer[2 * EZ_ERR_MSG_MAX];

        ck_assert_int_eq(ez_err_set(NULL, -EINVAL, "nothing %d", 1), -EINVAL);
        ck_assert_int_eq(ez_err_prefix(NULL, -EIO, "x"), -EIO);
        ck_assert_int_eq(ez_err_set(&err, -ENOSPC, "'%s' is %d bytes", "dev", 10), -ENOSPC);
        ck_assert_str_eq(err.msg, "'dev' is 10 bytes");
        ck_assert_int_eq(ez_err_prefix(&err, -ENOSPC, "target %s", "a"), -ENOSPC);
        ck_assert_str_eq(err.msg, "target a: 'dev' is 10 bytes");

        /* too long: cut, never overflowed, always terminated, head kept */
        memset(longer, 'x', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = '\0';
        ez_err_set(&err, -EINVAL, "%s", longer);
        ck_assert_int_eq(strlen(err.msg), EZ_ERR_MSG_MAX - 1);
        ez_err_prefix(&err, -EINVAL, "head");
        ck_assert_int_eq(strlen(err.msg), EZ_ERR_MSG_MAX - 1);
        ck_assert(strncmp(err.msg, "head: xxx", 9) == 0);
        ez_err_prefix(&err, -EINVAL, "%s", longer);
        ck_assert_int_eq(strlen(err.msg), EZ_ERR_MSG_MAX - 1);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("status");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_status_json, 0, EZ_ARRAY_LEN(status_cases));
        tcase_add_test(tc, test_phase_names);
        tcase_add_test(tc, test_err);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return tu_run(suite());
}
