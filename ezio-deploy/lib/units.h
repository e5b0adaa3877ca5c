/*
 * units.h - sizes as people write them, one parser for every command and
 * node.yaml.
 *
 * The convention is dd(1)'s: a bare number is bytes; K, M, G and T (also
 * written KiB, MiB, GiB, TiB) are powers of 1024; KB, MB, GB and TB are
 * powers of 1000.  The kilo prefix may also be written k (k, kB, kiB), as
 * dd allows; M, G and T are upper case only.
 */
#ifndef EZ_UNITS_H
#define EZ_UNITS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parse s, decimal digits followed by at most one suffix from the list
 * above, into *ret.  Returns 0, -EINVAL for anything else (an empty
 * string, a sign, a space, a fraction, an unknown suffix), or -ERANGE
 * when the value exceeds UINT64_MAX.  *ret is untouched on failure. */
int ez_units_parse_size(const char *s, uint64_t *ret);

#ifdef __cplusplus
}
#endif

#endif
