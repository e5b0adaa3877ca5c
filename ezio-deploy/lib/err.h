/*
 * err.h - the one error convention of libezio.
 *
 * Functions return int: >= 0 on success, -errno on failure.  Where the
 * caller needs to know why, a last nullable `struct ez_err *err` receives
 * one human sentence.  ez_err_set() returns its code so that setting the
 * message and returning is one statement.
 */
#ifndef EZ_ERR_H
#define EZ_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

#define EZ_ERR_MSG_MAX 512

struct ez_err {
        char msg[EZ_ERR_MSG_MAX];
};

/* Store a formatted message in err (if err is not NULL) and return code,
 * which must be negative. */
int ez_err_set(struct ez_err *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Prefix the message already in err with "prefix: "; returns code. */
int ez_err_prefix(struct ez_err *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
