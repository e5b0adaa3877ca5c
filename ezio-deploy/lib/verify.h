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
 * is left for the end.  Where the swarm's storage does that same
 * write-back, drop and read for its own hash check (raw_disk_io.cpp), the
 * pieces it passes are counted as checked (ez_verify_matched) and only
 * what it did not see is read here.
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

/* Does checking a piece need its data, beyond the piece's SHA-1 (with
 * zeros and a digest in the torrent: the SHA-256 tree)?  If not, a piece
 * whose SHA-1 someone else checked on the bytes read back from the
 * device may be counted with ez_verify_matched(). */
bool ez_verify_needs_data(const struct ez_verify *v);

/* Count piece as checked: its ranges were written back, their cached
 * pages dropped, and what the device returned matched its SHA-1.
 * Returns 0 or -ERANGE. */
int ez_verify_matched(struct ez_verify *v, uint64_t piece, struct ez_err *err);

/* The steps of ez_verify_piece(), for a caller that reads and hashes by
 * itself, on the target ranges of payload bytes [poff, poff+len): */
enum ez_write_back {
        EZ_WRITE_BACK_START,            /* start writing them back, not waiting: several
                                         * ranges so go to the device at once */
        EZ_WRITE_BACK_DROP,             /* wait until they are on the device, then drop
                                         * their cached pages: what is read next comes from it */
        EZ_WRITE_BACK_READ_AHEAD,       /* start reading them in, not waiting */
};
/* Returns 0, or -errno with the offset in err when the device reports a
 * failed write-back (START may not see it; DROP does). */
int ez_verify_write_back(const struct ez_layout *l, int fd, uint64_t poff, uint64_t len, enum ez_write_back how,
                         struct ez_err *err);

/* Put in err that piece (of num_pieces; payload bytes [poff, poff+len))
 * reads back different from the torrent.  Returns -EBADMSG. */
int ez_verify_differs(const struct ez_layout *l, uint64_t piece, uint64_t num_pieces, uint64_t poff, uint64_t len,
                      struct ez_err *err);

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
