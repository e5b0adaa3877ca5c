/*
 * err.c - formatting of libezio's error sentences (see err.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

int ez_err_set(struct ez_err *err, int code, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        return code;
}

int ez_err_prefix(struct ez_err *err, int code, const char *fmt, ...)
{
        char both[2 * EZ_ERR_MSG_MAX + 2];
        size_t n;
        va_list ap;

        if (!err)
                return code;
        va_start(ap, fmt);
        vsnprintf(both, EZ_ERR_MSG_MAX, fmt, ap);
        va_end(ap);
        n = strlen(both);
        both[n++] = ':';
        both[n++] = ' ';
        memcpy(both + n, err->msg, EZ_ERR_MSG_MAX);
        both[n + EZ_ERR_MSG_MAX - 1] = '\0';
        /* keep the head of the sentence when it is too long */
        memcpy(err->msg, both, EZ_ERR_MSG_MAX - 1);
        err->msg[EZ_ERR_MSG_MAX - 1] = '\0';
        return code;
}
