/*
 * ezio-mktorrent - make an ezio torrent from a raw image or block device.
 *
 * A thin front end over libezio's mktorrent.c: options, progress, and an
 * atomic write of the torrent (a temporary file renamed into place), so a
 * failed run never leaves a torrent behind.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockdev.h"
#include "cleanup.h"
#include "mktorrent.h"

#define MAX_LIST 64

static void usage(FILE *f)
{
        fputs("Usage: ezio-mktorrent SOURCE -o OUT.torrent [OPTIONS]\n"
              "\n"
              "Make an ezio torrent from SOURCE, a raw image file or a block device.\n"
              "Blocks that are not all zeros become the payload; holes and zero blocks\n"
              "become zero ranges that receivers clear instead of downloading.\n"
              "\n"
              "  -o, --output FILE        the torrent to write (required)\n"
              "  -p, --payload FILE       also write the payload file (for a web seed or a\n"
              "                           stock BitTorrent client)\n"
              "  -a, --tracker URL        announce URL (repeatable)\n"
              "  -w, --web-seed URL       BEP 19 web seed serving the payload (repeatable)\n"
              "  -s, --piece-size BYTES   piece size, a power of two from 16 KiB to 256 MiB\n"
              "                           (default: the smallest from 64 KiB that keeps it\n"
              "                           to 16384 pieces, up to 16 MiB)\n"
              "  -b, --block-size BYTES   granularity of the extent map (default 4096)\n"
              "  -n, --name NAME          torrent name (default: SOURCE's base name)\n"
              "  -k, --kind disk|partition\n"
              "                           image kind (default: detected from a partition table)\n"
              "  -q, --quiet              no progress or summary\n"
              "  -h, --help               show this help\n"
              "  -V, --version            show the version\n"
              "\n"
              "Exit status: 0 done, 1 failure (no torrent written), 2 usage.\n", f);
}

static int usage_error(const char *what, const char *why)
{
        fprintf(stderr, "ezio-mktorrent: %s: %s\n", what, why);
        return 2;
}

static int parse_size(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;
        uint64_t mult = 1;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || s[0] == '-')
                return -EINVAL;
        if (*end == 'k' || *end == 'K')
                mult = 1024, end++;
        else if (*end == 'm' || *end == 'M')
                mult = 1024 * 1024, end++;
        if (*end || v > UINT64_MAX / mult)
                return -EINVAL;
        *ret = v * mult;
        return 0;
}

static void progress(uint64_t done, uint64_t total, void *userdata)
{
        (void)userdata;
        fprintf(stderr, "\rscanning %5.1f%%", total ? 100.0 * (double)done / (double)total : 100.0);
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "output", required_argument, NULL, 'o' },
                { "payload", required_argument, NULL, 'p' },
                { "tracker", required_argument, NULL, 'a' },
                { "web-seed", required_argument, NULL, 'w' },
                { "piece-size", required_argument, NULL, 's' },
                { "block-size", required_argument, NULL, 'b' },
                { "name", required_argument, NULL, 'n' },
                { "kind", required_argument, NULL, 'k' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        const char *trackers[MAX_LIST], *web_seeds[MAX_LIST];
        struct ez_mk_options o = { .kind = -1, .trackers = trackers, .web_seeds = web_seeds };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_err err = { "" };
        const char *output = NULL;
        _cleanup_free_ char *tmp = NULL;
        bool quiet = false;
        uint64_t v;
        int c, fd, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":o:p:a:w:s:b:n:k:qhV", longopts, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        output = optarg;
                        break;
                case 'p':
                        o.payload = optarg;
                        break;
                case 'a':
                        if (o.n_trackers == MAX_LIST)
                                return usage_error("--tracker", "given too many times");
                        trackers[o.n_trackers++] = optarg;
                        break;
                case 'w':
                        if (o.n_web_seeds == MAX_LIST)
                                return usage_error("--web-seed", "given too many times");
                        web_seeds[o.n_web_seeds++] = optarg;
                        break;
                case 's':
                        if (parse_size(optarg, &v) < 0 || v < 16384 || v > (256u << 20) || (v & (v - 1)))
                                return usage_error("--piece-size", "expected a power of two from 16K to 256M");
                        o.piece_length = v;
                        break;
                case 'b':
                        if (parse_size(optarg, &v) < 0 || v < 512 || v > (1u << 20) || (v & (v - 1)))
                                return usage_error("--block-size", "expected a power of two from 512 to 1M");
                        o.block_size = (uint32_t)v;
                        break;
                case 'n':
                        if (!*optarg || strchr(optarg, '/'))
                                return usage_error("--name", "must be a non-empty name without '/'");
                        o.name = optarg;
                        break;
                case 'k':
                        if (strcmp(optarg, "disk") == 0)
                                o.kind = EZ_LAYOUT_DISK;
                        else if (strcmp(optarg, "partition") == 0)
                                o.kind = EZ_LAYOUT_PARTITION;
                        else
                                return usage_error("--kind", "expected 'disk' or 'partition'");
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("ezio-mktorrent %s\n", EZ_VERSION);
                        return 0;
                case ':':
                        fprintf(stderr, "ezio-mktorrent: %s: needs an argument (try --help)\n", argv[optind - 1]);
                        return 2;
                default:
                        fprintf(stderr, "ezio-mktorrent: %s: unknown option (try --help)\n", argv[optind - 1]);
                        return 2;
                }
        }
        if (optind + 1 != argc)
                return usage_error("SOURCE", optind >= argc ? "is required" : "give exactly one");
        if (!output)
                return usage_error("--output", "is required");
        o.source = argv[optind];
        if (!quiet && isatty(STDERR_FILENO))
                o.progress = progress;

        r = ez_mk_torrent(&o, &out, &res, &err);
        if (o.progress)
                fputc('\n', stderr);
        if (r < 0) {
                fprintf(stderr, "ezio-mktorrent: %s: %s\n", o.source, err.msg);
                ez_buf_free(&out);
                return 1;
        }

        if (asprintf(&tmp, "%s.tmp.XXXXXX", output) < 0) {
                ez_buf_free(&out);
                return 1;
        }
        fd = mkstemp(tmp);
        if (fd < 0 || (r = ez_pwrite_full(fd, out.data, out.len, 0)) < 0 || fchmod(fd, 0644) < 0 ||
            fsync(fd) < 0 || rename(tmp, output) < 0) {
                int e = fd < 0 || r >= 0 ? errno : -r;

                fprintf(stderr, "ezio-mktorrent: %s: cannot write: %s\n", output, strerror(e));
                if (fd >= 0) {
                        close(fd);
                        unlink(tmp);
                }
                ez_buf_free(&out);
                return 1;
        }
        close(fd);
        ez_buf_free(&out);
        if (!quiet)
                printf("%s: info-hash %s, %s image of %" PRIu64 " bytes, %" PRIu64 " bytes of data in %zu extents, "
                       "%zu zero ranges, piece size %" PRIu64 "\n",
                       output, res.info_hash_hex, ez_layout_kind_name(res.kind), res.source_size, res.payload_len,
                       res.n_extents, res.n_zero, res.piece_length);
        return 0;
}
