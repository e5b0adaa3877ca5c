/*
 * verify.h - read the image back from the target and check it against the
 * torrent.
 *
 * libtorrent hashes each piece as it arrives, but it reads what it just
 * wrote, which is still in the page cache.  The verify pass comes after
 * the target is flushed and its cached pages dropped, so it reads what the
 * device returns: it catches a device that lost or changed a write and
 * another writer on the target.  It is incremental, so the caller can keep
 * serving the swarm and reporting progress between steps, and it can
 * check pieces one by one as they arrive (ez_verify_piece), so that little
 * is left for the end.
 */
#ifndef EZ_VERIFY_H
#define EZ_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "layout.h"
#include "torrent.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ez_verify;

/* Prepare to check every piece of t as mapped by l (the target's layout
 * or the payload's) on fd, and with zeros every zero range of l too.
 * Reads nothing yet.  Returns 0 or -ENOMEM. */
int ez_verify_start(const struct ez_torrent *t, const struct ez_layout *l, int fd, bool zeros,
                    struct ez_verify **ret, struct ez_err *err);

/* Check one piece now, if not checked yet: write back its ranges of the
 * target, drop their cached pages and read them back.  Returns 0,
 * -EBADMSG or -errno as ez_verify_step(). */
int ez_verify_piece(struct ez_verify *v, uint64_t piece, struct ez_err *err);

/* The first call flushes the whole target and drops its cached pages.
 * Then check at least budget bytes more of what is not checked yet
 * (whole pieces, then the zero ranges; 0: all that is left).  Returns 1 while there
 * is more to check, 0 when everything matched, -EBADMSG with the piece or
 * byte that differs in err, or -errno for a read error. */
int ez_verify_step(struct ez_verify *v, uint64_t budget, struct ez_err *err);

/* Bytes checked so far and in all. */
uint64_t ez_verify_done(const struct ez_verify *v);
uint64_t ez_verify_total(const struct ez_verify *v);

void ez_verify_free(struct ez_verify *v);

#ifdef __cplusplus
}
#endif

#endif
