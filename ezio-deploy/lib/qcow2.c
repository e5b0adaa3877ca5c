/*
 * qcow2.c - a qcow2 source read through a raw copy (see qcow2.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"
#include "io.h"
#include "qcow2.h"

/* 1 when path starts with qcow2's magic. */
static int is_qcow2(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        uint8_t magic[4];

        return fd >= 0 && ez_io_pread_full(fd, magic, sizeof(magic), 0) == 0 && memcmp(magic, "QFI\xfb", 4) == 0;
}

/* The raw copy of src, in a new helper directory: ret->dir and ret->tmp,
 * both left empty on failure. */
static int qcow2_to_raw(const char *src, const char *tmpdir, const volatile sig_atomic_t *stop,
                        struct ez_qcow2_raw *ret, struct ez_err *err)
{
        struct ez_helper_dir *t = &ret->dir;
        _cleanup_free_ char *raw = NULL;
        char *argv[] = { "qemu-img", "convert", "-q", "-f", "qcow2", "-O", "raw", (char *)src, NULL, NULL };
        char *check[] = { "qemu-img", "check", "-q", "-f", "qcow2", (char *)src, NULL };
        char what[4200];
        int r, status;

        r = ez_helper_dir_make(t, tmpdir, err);
        if (r < 0)
                return r;
        if (asprintf(&raw, "%s/image.raw", t->path) < 0) {
                raw = NULL;
                ez_helper_dir_remove(t);
                return ez_err_set(err, -ENOMEM, "out of memory");
        }
        argv[8] = raw;
        snprintf(what, sizeof(what), "'%s'", src);
        /* qemu-img convert reads what a damaged image lacks as zeros */
        r = ez_helper_run(check, t->out, stop, &status, err);
        /* exit 3: leaked clusters only (a VM that was killed), no damage */
        if (r >= 0 && (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3)))
                r = ez_helper_failed("qemu-img check", what, status, NULL, t->out, err);
        if (r >= 0)
                r = ez_helper_run(argv, t->out, stop, &status, err);
        if (r == -ENOENT)
                r = ez_err_set(err, -ENOENT, "'%s' is a qcow2 image and qemu-img is not installed (Debian: qemu-utils)",
                               src);
        else if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = ez_helper_failed("qemu-img convert", what, status, NULL, t->out, err);
        if (r < 0) {
                unlink(raw);
                ez_helper_dir_remove(t);
                return r;
        }
        ret->tmp = TAKE_PTR(raw);
        return 0;
}

int ez_qcow2_raw_open(const char *src, const char *tmpdir, const volatile sig_atomic_t *stop,
                      struct ez_qcow2_raw *ret, struct ez_err *err)
{
        int r;

        *ret = (struct ez_qcow2_raw){ .path = src };
        if (!is_qcow2(src))
                return 0;
        r = qcow2_to_raw(src, tmpdir, stop, ret, err);
        if (r >= 0)
                ret->path = ret->tmp;
        return r;
}

void ez_qcow2_raw_close(struct ez_qcow2_raw *raw)
{
        if (raw->tmp)
                unlink(raw->tmp);
        ez_helper_dir_remove(&raw->dir);
        free(raw->tmp);
        *raw = (struct ez_qcow2_raw){ 0 };
}
