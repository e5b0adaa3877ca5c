/*
 * helper.c - helper programs and their temporary directory (see helper.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"
#include "io.h"

extern char **environ;

int ez_helper_dir_make(struct ez_helper_dir *d, const char *tmpdir, struct ez_err *err)
{
        if (!tmpdir || !*tmpdir)
                tmpdir = "/tmp";
        snprintf(d->path, sizeof(d->path), "%s/ezio-mktorrent.XXXXXX", tmpdir);
        if (!mkdtemp(d->path)) {
                int e = errno;

                d->path[0] = '\0';
                return ez_err_set(err, -e, "cannot make a temporary directory in '%s': %s", tmpdir, strerror(e));
        }
        snprintf(d->out, sizeof(d->out), "%s/partclone.out", d->path);
        return 0;
}

void ez_helper_dir_remove(struct ez_helper_dir *d)
{
        if (!d->path[0])
                return;
        unlink(d->out);
        rmdir(d->path);
        d->path[0] = '\0';
}

int ez_helper_run(char **argv, const char *out, const volatile sig_atomic_t *stop, int *ret_status,
                 struct ez_err *err)
{
        posix_spawn_file_actions_t fa;
        _cleanup_close_ int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        pid_t pid;
        int r;

        if (ofd < 0)
                return ez_err_set(err, -errno, "cannot create '%s': %s", out, strerror(errno));
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, ofd, 1);
        posix_spawn_file_actions_adddup2(&fa, ofd, 2);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r == ENOENT)
                return -ENOENT;         /* the output is open already: the program is missing */
        if (r)
                return ez_err_set(err, -r, "cannot run %s: %s", argv[0], strerror(r));
        while (waitpid(pid, ret_status, 0) < 0) {
                if (errno != EINTR)
                        return ez_err_set(err, -errno, "waiting for %s: %s", argv[0], strerror(errno));
                if (stop && *stop) {
                        kill(pid, SIGTERM);
                        while (waitpid(pid, ret_status, 0) < 0 && errno == EINTR)
                                ;
                        return ez_err_set(err, -EINTR, "interrupted while %s ran", argv[0]);
                }
        }
        return 0;
}

/* The last line of a program's output that says something, for an error. */
static void last_words(const char *path, char *out, size_t n)
{
        _cleanup_free_ char *text = NULL;
        char *p, *best = NULL;

        out[0] = '\0';
        if (ez_io_read_file(path, 1u << 30, &text, NULL, NULL) < 0)
                return;
        for (p = strtok(text, "\r\n"); p; p = strtok(NULL, "\r\n")) {
                while (isspace((unsigned char)*p))
                        p++;
                if (*p && strncmp(p, "Elapsed", 7) && strncmp(p, "current block", 13) &&
                    strncmp(p, "Partclone fail", 14) && strncmp(p, "Total Time", 10))
                        best = p;
        }
        if (best)
                snprintf(out, n, "%s", best);
}

int ez_helper_failed(const char *prog, const char *what, int status, const char *log, const char *out,
                    struct ez_err *err)
{
        char words[256] = "";

        if (log)
                last_words(log, words, sizeof(words));
        if (!words[0])
                last_words(out, words, sizeof(words));
        if (WIFEXITED(status))
                return ez_err_set(err, -EIO, "%s failed on %s (exit %d)%s%s", prog, what, WEXITSTATUS(status),
                                  words[0] ? ": " : "", words);
        return ez_err_set(err, -EIO, "%s failed on %s (signal %d)", prog, what, WTERMSIG(status));
}
