/*
 * fuzz_partclone.c - libFuzzer harness for partclone's torrent.info
 * parser (partclone.c).
 *
 * ez_partclone_info_load() reads a path, so each input is written to a
 * memfd once and read back through /proc/self/fd, the way the library
 * reads a real file.  An accepted file must give what ezio-mktorrent
 * builds a layout from: extents sorted, not overlapping, inside
 * blocks_total x block_size, their lengths adding up to data_bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "partclone.h"

static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ez_partclone_info pi;
        struct ez_err err = { "" };
        char path[64];
        uint64_t sum = 0;
        size_t i;
        int r;

        if (fd < 0) {
                fd = memfd_create("torrent.info", MFD_CLOEXEC);
                FZ_CHECK(fd >= 0);
        }
        FZ_CHECK(ftruncate(fd, 0) == 0);
        FZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

        memset(&pi, 0xa5, sizeof(pi));
        r = ez_partclone_info_load(path, &pi, &err);
        if (r < 0) {
                FZ_CHECK_REFUSAL(r, err);
                FZ_CHECK(r == -EINVAL || r == -ENOMEM);
                FZ_CHECK(pi.ext == NULL && pi.sha1 == NULL && pi.n_ext == 0 && pi.n_sha1 == 0);
                return 0;
        }
        FZ_CHECK(pi.block_size > 0 && pi.blocks_total > 0 && pi.n_ext > 0);
        FZ_CHECK(pi.size / pi.block_size == pi.blocks_total && pi.size % pi.block_size == 0);
        for (i = 0; i < pi.n_ext; i++) {
                FZ_CHECK(pi.ext[i].len > 0 && pi.ext[i].off <= pi.size && pi.ext[i].len <= pi.size - pi.ext[i].off);
                FZ_CHECK(i == 0 || pi.ext[i - 1].off + pi.ext[i - 1].len <= pi.ext[i].off);
                sum += pi.ext[i].len;
        }
        FZ_CHECK(sum == pi.data_bytes && sum <= pi.size);
        FZ_CHECK(pi.n_sha1 == 0 || pi.sha1);
        ez_partclone_info_free(&pi);
        FZ_CHECK(pi.ext == NULL && pi.n_ext == 0);
        return 0;
}
