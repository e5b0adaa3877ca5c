/*
 * rendezvous.h - the piece-to-owner map of the schedule (ownership.cpp) as
 * plain computation: rendezvous (highest random weight) hashing of node
 * keys and piece indices.
 *
 * Every downloading node computes the same map from the same set of node
 * keys (their addresses) without talking to the others: a piece belongs to
 * the key whose hash with the piece's is highest.  A node that joins takes
 * only pieces that become its own; a node that leaves hands on only its
 * own, each to the key that was second for it.  See
 * https://en.wikipedia.org/wiki/Rendezvous_hashing.
 */
#ifndef EZ_RENDEZVOUS_H
#define EZ_RENDEZVOUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The hash of a node key of len bytes (FNV-1a, 64 bits). */
uint64_t ez_rendezvous_key(const char *key, size_t len);

/* The owner of piece among n hashed keys: the index of the highest
 * weight, the later index on a tie (only equal hashes tie).  0 when n is
 * 0. */
size_t ez_rendezvous_owner(const uint64_t *keys, size_t n, uint64_t piece);

/* Whether the node at place p (0-based, by address) of a rack of ma nodes
 * and the node at place q of a rack of mb nodes are partners, connected
 * across the spine: their places, scaled to a common length around both
 * racks, within k of each other in the larger rack's units.  The same
 * both ways round; in racks of equal size each node's partners are the
 * 2k + 1 around its own place (all of a rack of at most that many), and
 * with k >= 1 every node has at least one in a rack of any size.  False
 * when a place is not below its rack's size. */
bool ez_rendezvous_partners(size_t p, size_t ma, size_t q, size_t mb, size_t k);

#ifdef __cplusplus
}
#endif

#endif
