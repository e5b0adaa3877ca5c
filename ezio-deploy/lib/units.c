/*
 * units.c - sizes with dd(1)'s suffixes (see units.h).
 */
#include <errno.h>
#include <string.h>

#include "units.h"

static const struct {
        const char *suffix;
        unsigned base, power;
} suffixes[] = {
        { "", 1, 0 },
        { "K", 1024, 1 }, { "k", 1024, 1 }, { "KiB", 1024, 1 }, { "kiB", 1024, 1 },
        { "M", 1024, 2 }, { "MiB", 1024, 2 }, { "G", 1024, 3 }, { "GiB", 1024, 3 },
        { "T", 1024, 4 }, { "TiB", 1024, 4 },
        { "KB", 1000, 1 }, { "kB", 1000, 1 }, { "MB", 1000, 2 }, { "GB", 1000, 3 }, { "TB", 1000, 4 },
};

int ez_units_parse_size(const char *s, uint64_t *ret)
{
        uint64_t v = 0, mult = 1;
        size_t i;
        unsigned p;

        if (!(*s >= '0' && *s <= '9'))
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned)(*s - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
                if (strcmp(s, suffixes[i].suffix) == 0)
                        break;
        if (i == sizeof(suffixes) / sizeof(suffixes[0]))
                return -EINVAL;
        for (p = 0; p < suffixes[i].power; p++)
                mult *= suffixes[i].base;
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}
