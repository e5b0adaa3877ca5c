/*
 * helper.h - run a helper program (partclone, qemu-img) to its end, in a
 * private temporary directory that holds what it writes.
 *
 * The program's standard output and error go to a file, so that when it
 * fails the last thing it said can be quoted in the error.  A caller's
 * stop flag (set by a signal handler installed without SA_RESTART) ends
 * the wait: the program is sent SIGTERM and the call fails with -EINTR.
 */
#ifndef EZ_HELPER_H
#define EZ_HELPER_H

#include <signal.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A temporary directory "TMPDIR/ezio-mktorrent.XXXXXX" and, in it, the
 * file that receives the helper programs' output (partclone's and
 * qemu-img's alike, though it is named partclone.out). */
struct ez_helper_dir {
        char path[4096];        /* "" when not made (or removed) */
        char out[4200];         /* path/partclone.out */
};

/* Make the directory under tmpdir (NULL or "": /tmp).  Returns 0, or
 * -errno with err naming tmpdir; d->path is "" then. */
int ez_helper_dir_make(struct ez_helper_dir *d, const char *tmpdir, struct ez_err *err);

/* Remove the output file and the directory, which must hold nothing else
 * by now.  Accepts a directory never made; runs once. */
void ez_helper_dir_remove(struct ez_helper_dir *d);

/* Run argv[0] (looked up in PATH) with stdin from /dev/null and stdout
 * and stderr into the file out (created or truncated), and wait for it;
 * *ret_status receives its wait status.  stop: NULL, or a flag that, once
 * non-zero when a signal interrupts the wait, stops it.  Returns 0 (what
 * the program's exit status says is for the caller), -ENOENT without a
 * message when there is no such program, -EINTR when stopped, another
 * -errno with err. */
int ez_helper_run(char **argv, const char *out, const volatile sig_atomic_t *stop, int *ret_status,
                 struct ez_err *err);

/* Set err for a program prog that ran on what and did not exit 0:
 * "PROG failed on WHAT (exit N): LAST WORDS", the last line that says
 * something of log (may be NULL) or else of out.  Returns -EIO. */
int ez_helper_failed(const char *prog, const char *what, int status, const char *log, const char *out,
                    struct ez_err *err);

#ifdef __cplusplus
}
#endif

#endif
