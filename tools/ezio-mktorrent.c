/*
 * ezio-mktorrent - make an ezio torrent from an image or a block device.
 *
 * A thin front end over libezio's mktorrent.c: options, progress, and an
 * atomic write of the torrent (a temporary file renamed into place), so a
 * failed run never leaves a torrent behind.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "exitcode.h"
#include "io.h"
#include "mktorrent.h"
#include "partclone.h"
#include "tls.h"
#include "units.h"

#define MAX_LIST 64

static void usage(FILE *f)
{
        fputs("Usage: ezio-mktorrent SOURCE -o OUT.torrent [OPTIONS]\n"
              "\n"
              "Make an ezio torrent from SOURCE: a partition or a whole disk, as a block\n"
              "device or a raw image file.  Only what has to reach the target is read:\n"
              "the used blocks of every filesystem partclone knows (ext2/3/4, xfs,\n"
              "btrfs, vfat, exfat, ntfs, hfsplus, f2fs ...), the whole of anything else\n"
              "and, on a disk, everything outside the partitions.  Blocks that are not\n"
              "all zeros become the payload; holes and zero blocks become zero ranges\n"
              "that receivers clear instead of downloading.\n"
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
              "                           image kind (default: a filesystem across the whole\n"
              "                           source is a partition, a partition table a disk;\n"
              "                           a disk without a table is read as one area)\n"
              "  -f, --fs [N=]TYPE        read partition N (or every filesystem) as TYPE, a\n"
              "                           blkid name such as ext4 or xfs; 'raw' copies every\n"
              "                           non-zero block (repeatable; default: detected)\n"
              "  -g, --fill-gaps BYTES    merge data extents at most BYTES apart, the gap\n"
              "                           becoming payload (fewer, longer extents)\n"
              "  -j, --threads N          hashing threads besides the reading thread, which\n"
              "                           hashes too when they are busy (default: one per\n"
              "                           CPU but one)\n"
              "      --tmpdir DIR         for partclone's map (default: $TMPDIR or /tmp)\n"
              "      --from-partclone INFO\n"
              "                           take the used blocks from partclone's torrent.info\n"
              "                           (INFO, or a 'partclone -T' directory holding it);\n"
              "                           without SOURCE, use its SHA-1s as they are (16 MiB\n"
              "                           pieces, reads no data; with -p and a -T directory\n"
              "                           its chunk files become the payload file)\n"
              "      --verify TORRENT     check SOURCE (an image, a device, a qcow2 image or\n"
              "                           the payload file) against TORRENT: every piece,\n"
              "                           and every zero range reads zeros; writes nothing\n"
              "      --print-map          print the regions that would be read, one\n"
              "                           'OFFSET LENGTH' line each (bytes), and stop: no\n"
              "                           data is read and no torrent written\n"
              "      --format native|ezio ezio's own torrent (default), or EZIO's layout for\n"
              "                           EZIO and Clonezilla's Lite Server: one file per\n"
              "                           extent named by its offset, 16 MiB pieces, no zero\n"
              "                           ranges (zero blocks are sent as data)\n"
              "      --hybrid             a BitTorrent v1+v2 torrent: also the SHA-256 tree\n"
              "                           of every 16 KiB block (BEP 52), checked by v2\n"
              "                           clients as they download\n"
              "      --no-digest          leave out the digest (the payload's SHA-256 tree\n"
              "                           root) and hash with SHA-1 alone: faster where\n"
              "                           the CPUs, not the disk, limit the pass\n"
              "      --ssl-ca FILE        an SSL torrent: carry the CA certificate in FILE\n"
              "                           (PEM) in the info dictionary, so that peers talk\n"
              "                           TLS only and show certificates it signed (the\n"
              "                           info-hash changes with it)\n"
              "  -q, --quiet              no progress or summary\n"
              "  -h, --help               show this help\n"
              "  -V, --version            show the version\n"
              "\n"
              "BYTES is a number of bytes, or one with a suffix as dd(1) takes it:\n"
              "K, M, G, T (or KiB, MiB, GiB, TiB) are powers of 1024, KB, MB, GB, TB\n"
              "powers of 1000 (64K = 65536, 64KB = 64000).\n"
              "\n"
              "Exit status: 0 done, 1 failure (no torrent written), 2 usage,\n"
              "3 --verify found a difference, 130 interrupted (no torrent written).\n", f);
}

static int usage_error(const char *what, const char *why)
{
        fprintf(stderr, "ezio-mktorrent: %s: %s\n", what, why);
        return EZ_MK_EXIT_USAGE;
}

static bool print_map;
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        interrupted = sig;
}

static void map_ready(const struct ez_srcmap *m, void *userdata)
{
        const char *n = m->notes;
        FILE *out;
        size_t i;

        while (n && *n) {
                const char *e = strchr(n, '\n');

                fprintf(stderr, "ezio-mktorrent: warning: %.*s\n", (int)(e ? e - n : (long)strlen(n)), n);
                n = e ? e + 1 : NULL;
        }
        if (print_map)
                for (i = 0; i < m->n_regions; i++)
                        printf("%" PRIu64 " %" PRIu64 "\n", m->regions[i].off, m->regions[i].len);
        if (!*(bool *)userdata)
                return;
        out = print_map ? stderr : stdout;      /* stdout carries the map then */
        fprintf(out, "%s image of %" PRIu64 " bytes%s%s%s\n", ez_layout_kind_name(m->kind), m->size,
                m->pttype[0] ? " (" : "", m->pttype, m->pttype[0] ? " partition table)" : "");
        for (i = 0; i < m->n_parts; i++) {
                const struct ez_srcmap_part *p = &m->parts[i];

                if (p->number)
                        fprintf(out, "  partition %d: ", p->number);
                else
                        fputs("  ", out);
                fprintf(out, "%s, %" PRIu64 " bytes, %" PRIu64 " to read (%s)\n",
                        p->fstype[0] ? p->fstype : "no filesystem found", p->len, p->used, p->route);
        }
        fflush(out);
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
                { "fs", required_argument, NULL, 'f' },
                { "fill-gaps", required_argument, NULL, 'g' },
                { "threads", required_argument, NULL, 'j' },
                { "tmpdir", required_argument, NULL, 'T' },
                { "print-map", no_argument, NULL, 'M' },
                { "verify", required_argument, NULL, 'C' },
                { "format", required_argument, NULL, 'F' },
                { "from-partclone", required_argument, NULL, 'P' },
                { "hybrid", no_argument, NULL, 'Y' },
                { "no-digest", no_argument, NULL, 'D' },
                { "ssl-ca", required_argument, NULL, 'S' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        const char *trackers[MAX_LIST], *web_seeds[MAX_LIST];
        struct ez_srcmap_fs fs[EZ_SRCMAP_MAX_FS];
        struct ez_mk_options o = { .kind = -1, .trackers = trackers, .web_seeds = web_seeds, .fs = fs };
        struct ez_mk_result res;
        struct ez_buf out = { 0 };
        struct ez_err err = { "" };
        const char *output = NULL, *verify = NULL, *ssl_ca = NULL;
        _cleanup_free_ char *ca_pem = NULL;
        _cleanup_free_ char *tmp = NULL;
        bool quiet = false, verbose;
        uint64_t v;
        int c, fd, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":o:p:a:w:s:b:n:k:f:g:j:qhV", longopts, NULL)) >= 0) {
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
                        if (ez_units_parse_size(optarg, &v) < 0 || v < 16384 || v > (256u << 20) || (v & (v - 1)))
                                return usage_error("--piece-size", "expected a power of two from 16K to 256M");
                        o.piece_length = v;
                        break;
                case 'b':
                        if (ez_units_parse_size(optarg, &v) < 0 || v < 512 || v > (1u << 20) || (v & (v - 1)))
                                return usage_error("--block-size", "expected a power of two from 512 to 1M");
                        o.block_size = (uint32_t)v;
                        break;
                case 'n':
                        if (!*optarg || strchr(optarg, '/') || !strcmp(optarg, ".") || !strcmp(optarg, ".."))
                                return usage_error("--name", "must be a non-empty name without '/', not '.' or '..'");
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
                case 'f': {
                        const char *eq = strchr(optarg, '=');
                        char *end;
                        long n = 0;

                        if (o.n_fs == EZ_SRCMAP_MAX_FS)
                                return usage_error("--fs", "given too many times");
                        if (eq) {
                                n = strtol(optarg, &end, 10);
                                if (end != eq || n < 1 || n > 4096)
                                        return usage_error("--fs", "expected TYPE or N=TYPE with N a partition number");
                        }
                        fs[o.n_fs].part = (int)n;
                        fs[o.n_fs].type = eq ? eq + 1 : optarg;
                        if (!*fs[o.n_fs].type)
                                return usage_error("--fs", "the type is empty");
                        if (strcmp(fs[o.n_fs].type, "raw") && !ez_partclone_fs(fs[o.n_fs].type))
                                return usage_error("--fs", "not a filesystem partclone reads (ext4, xfs, btrfs, vfat, "
                                                   "exfat, ntfs, hfsplus, f2fs ...) nor 'raw'");
                        o.n_fs++;
                        break;
                }
                case 'g':
                        if (ez_units_parse_size(optarg, &v) < 0 || v > (1u << 30))
                                return usage_error("--fill-gaps", "expected a size up to 1G");
                        o.fill_gaps = v;
                        break;
                case 'j': {
                        long n;

                        if (ez_config_parse_count(optarg, 1, 256, &n) < 0)
                                return usage_error("--threads", "expected 1 to 256");
                        o.threads = (unsigned)n;
                        break;
                }
                case 'T':
                        o.tmpdir = optarg;
                        break;
                case 'M':
                        o.map_only = true;
                        break;
                case 'C':
                        verify = optarg;
                        break;
                case 'P':
                        o.pcinfo = optarg;
                        break;
                case 'Y':
                        o.hybrid = true;
                        break;
                case 'D':
                        o.no_digest = true;
                        break;
                case 'S':
                        ssl_ca = optarg;
                        break;
                case 'F':
                        if (strcmp(optarg, "ezio") == 0)
                                o.ezio_format = true;
                        else if (strcmp(optarg, "native") != 0)
                                return usage_error("--format", "expected 'native' or 'ezio'");
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EZ_MK_EXIT_OK;
                case 'V':
                        printf("ezio-mktorrent %s\n", EZ_VERSION);
                        return EZ_MK_EXIT_OK;
                case ':':
                        fprintf(stderr, "ezio-mktorrent: %s: needs an argument (try --help)\n", argv[optind - 1]);
                        return EZ_MK_EXIT_USAGE;
                default:
                        fprintf(stderr, "ezio-mktorrent: %s: unknown option (try --help)\n", argv[optind - 1]);
                        return EZ_MK_EXIT_USAGE;
                }
        }
        if (optind + 1 != argc && !(o.pcinfo && optind == argc))
                return usage_error("SOURCE", optind >= argc ? "is required" : "give exactly one");
        if (verify && (output || o.map_only || o.payload))
                return usage_error("--verify", "makes no torrent: give no --output, --payload or --print-map");
        if (!output && !o.map_only && !verify)
                return usage_error("--output", "is required");
        o.source = optind < argc ? argv[optind] : NULL;
        if (!o.source && (o.map_only || verify))
                return usage_error("SOURCE", "is required");
        if (o.hybrid && (o.ezio_format || !o.source || verify || o.map_only))
                return usage_error("--hybrid", o.ezio_format ? "EZIO's layout has no v2 form" :
                                   !o.source ? "needs SOURCE: the SHA-256 tree is made from the data" :
                                   "makes a torrent: not with --verify or --print-map");
        if (o.no_digest && (o.hybrid || o.ezio_format || verify || o.map_only))
                return usage_error("--no-digest", o.hybrid ? "a hybrid torrent is made of the SHA-256 tree" :
                                   o.ezio_format ? "EZIO's layout has no digest anyway" :
                                   "makes a torrent: not with --verify or --print-map");
        if (!o.source && (o.piece_length || o.n_fs || o.fill_gaps))
                return usage_error("--from-partclone", "without SOURCE takes partclone's pieces as they are: "
                                   "no --piece-size, --fs or --fill-gaps");
        if (ssl_ca && (verify || o.map_only))
                return usage_error("--ssl-ca", "makes an SSL torrent: not with --verify or --print-map");
        if (ssl_ca) {
                /* checked before the source is read: a wrong file is a usage error */
                if (ez_tls_read_ca(ssl_ca, &ca_pem, &o.ssl_ca_len, &err) < 0)
                        return usage_error("--ssl-ca", err.msg);
                o.ssl_ca = ca_pem;
        }
        if (!o.tmpdir)
                o.tmpdir = getenv("TMPDIR");    /* the library reads no environment */
        if (!quiet && isatty(STDERR_FILENO))
                o.progress = progress;
        verbose = !quiet;
        print_map = o.map_only;
        {
                /* no SA_RESTART: a wait for partclone or qemu-img returns,
                 * so they are stopped and the temporary files removed */
                struct sigaction sa = { .sa_handler = on_signal };

                sigemptyset(&sa.sa_mask);
                sigaction(SIGINT, &sa, NULL);
                sigaction(SIGTERM, &sa, NULL);
                o.stop = &interrupted;
        }
        if (verify) {
                uint64_t bytes = 0;

                r = ez_mk_verify(&o, verify, &bytes, &err);
                if (o.progress)
                        fputc('\n', stderr);
                if (r < 0) {
                        fprintf(stderr, "ezio-mktorrent: %s: %s\n", o.source, err.msg);
                        return interrupted ? EZ_MK_EXIT_INTERRUPTED : r == -EBADMSG ? EZ_MK_EXIT_MISMATCH : EZ_MK_EXIT_FAILED;
                }
                if (!quiet)
                        printf("%s: matches %s (%" PRIu64 " bytes checked)\n", o.source, verify, bytes);
                return EZ_MK_EXIT_OK;
        }
        o.map_ready = map_ready;
        o.userdata = &verbose;

        r = o.source ? ez_mk_torrent(&o, &out, &res, &err) : ez_mk_import(&o, &out, &res, &err);
        if (o.progress)
                fputc('\n', stderr);
        if (r < 0) {
                fprintf(stderr, "ezio-mktorrent: %s: %s\n", o.source ? o.source : o.pcinfo, err.msg);
                ez_buf_free(&out);
                return interrupted ? EZ_MK_EXIT_INTERRUPTED : EZ_MK_EXIT_FAILED;
        }
        if (o.map_only)
                return EZ_MK_EXIT_OK;

        if (asprintf(&tmp, "%s.tmp.XXXXXX", output) < 0) {
                ez_buf_free(&out);
                return EZ_MK_EXIT_FAILED;
        }
        fd = mkstemp(tmp);
        if (fd < 0 || (r = ez_io_pwrite_full(fd, out.data, out.len, 0)) < 0 || fchmod(fd, 0644) < 0 ||
            fsync(fd) < 0 || rename(tmp, output) < 0) {
                int e = fd < 0 || r >= 0 ? errno : -r;

                fprintf(stderr, "ezio-mktorrent: %s: cannot write: %s\n", output, strerror(e));
                if (fd >= 0) {
                        close(fd);
                        unlink(tmp);
                }
                ez_buf_free(&out);
                return EZ_MK_EXIT_FAILED;
        }
        close(fd);
        ez_buf_free(&out);
        if (res.stock_refusal[0])
                fprintf(stderr, "ezio-mktorrent: warning: %s: libtorrent with its default limits refuses this torrent "
                        "(%s); ezio-deploy loads it, stock clients may not\n", output, res.stock_refusal);
        if (!quiet)
                printf("%s: info-hash %s, %s image of %" PRIu64 " bytes, %" PRIu64 " bytes of data in %zu extents, "
                       "%zu zero ranges, piece size %" PRIu64 "\n",
                       output, res.info_hash_hex, ez_layout_kind_name(res.kind), res.source_size, res.payload_len,
                       res.n_extents, res.n_zero, res.piece_length);
        if (!quiet && o.ssl_ca) {
                char ca[256];

                ez_tls_subject(o.ssl_ca, o.ssl_ca_len, ca, sizeof(ca));
                printf("%s: SSL torrent: peers talk TLS and show a certificate signed by '%s'\n", output, ca);
        }
        if (!quiet && res.root_hex[0])
                printf("%s: payload SHA-256 tree root %s%s\n", output, res.root_hex,
                       o.hybrid ? " (v1+v2 hybrid)" : "");
        return EZ_MK_EXIT_OK;
}
