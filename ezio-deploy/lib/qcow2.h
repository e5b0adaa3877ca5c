/*
 * qcow2.h - a raw view of a source that may be a qcow2 image.
 *
 * ezio-mktorrent reads sources by byte offset; a qcow2 image (checked
 * with `qemu-img check`) is first converted by `qemu-img convert` into a
 * sparse raw file in a new temporary directory, which is read instead.
 * Any other source is its own raw view.
 */
#ifndef EZ_QCOW2_H
#define EZ_QCOW2_H

#include <signal.h>

#include "err.h"
#include "helper.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_qcow2_raw {
        const char *path;       /* what to read: the source, or tmp */
        struct ez_helper_dir dir;       /* where tmp is (path "" if none) */
        char *tmp;              /* the raw copy, or NULL */
};

/* Fill *ret with the raw view of src: src itself unless it starts with
 * qcow2's magic, else a raw copy made under tmpdir (NULL or "": /tmp).
 * stop: as for ez_helper_run().  Returns 0, or -errno with err (-ENOENT:
 * qemu-img is not installed; -EIO: qemu-img found damage or failed), and
 * then leaves no file behind.  ret->path points into src or ret->tmp:
 * release with ez_qcow2_raw_close(). */
int ez_qcow2_raw_open(const char *src, const char *tmpdir, const volatile sig_atomic_t *stop,
                      struct ez_qcow2_raw *ret, struct ez_err *err);

/* Remove the temporary file and directory, if any, and zero raw.
 * Accepts a zeroed one. */
void ez_qcow2_raw_close(struct ez_qcow2_raw *raw);

#ifdef __cplusplus
}
#endif

#endif
