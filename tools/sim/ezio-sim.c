/*
 * ezio-sim - a piece-level, flow-level simulator of ezio's swarm schedule.
 *
 * The testbed (tools/bench) runs the real client, but one machine holds a
 * few dozen nodes at most.  This program runs the schedule of
 * ezio-deploy/lib/ownership.cpp for thousands of nodes in racks: every
 * 16 KiB block a node fetches is a transfer from one holder to it (the
 * blocks of a piece may come from several), and the transfers share the
 * links max-min fairly, which is what TCP's congestion control tends to
 * on a LAN.  By default the links carry frames, not payload: TCP/IP
 * framing, the receivers' ACKs and every node's HAVEs take their share
 * (--overhead).  A piece counts, and is passed on, once all its blocks
 * are in.  Which pieces a node asks for,
 * and from whom, follow the rules of ownership.cpp and racks.cpp as the
 * client applies them; the piece-to-owner map, each rack's importers and
 * the stealers' split are chosen by the client's own rendezvous hashing
 * (rendezvous.c is linked in, not copied), so a change there changes the
 * simulation too.  tools/sim/README.md has the model, its assumptions and
 * what it found.
 *
 * Build (from the top of the checkout):
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -Iezio-deploy/lib \
 *      tools/sim/ezio-sim.c ezio-deploy/lib/rendezvous.c -lm -o build/ezio-sim
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rendezvous.h"
#include "request_budget.h"

#define BLOCK           16384           /* bytes: one BitTorrent block request */
#define WINDOW          8               /* ownership.hpp: fresh pieces an owner asks for at once */
#define ASK_MAX         (2 * WINDOW)    /* a window, or a stealer's room */
#define OWN_MAX         16              /* own fresh pieces beyond the ask kept at hand */
#define MAX_QUEUE       EZ_REQUEST_QUEUE_MAX    /* blocks asked of one sender at once */
#define MAX_BLOCKS      64              /* blocks in a piece: pieces up to 1 MiB */
#define SHARE_STALL     1.5             /* s: a share not moving is open to stealers */
#define IMPORTER_STALL  3.0             /* s: a rack-mate not moving is not importing */
#define STALL_CEILING   30.0            /* s: --stall-rule available: the seeder stall
                                         * clock runs anyway after this long with nothing
                                         * a node lacks held by any node; swarm: a node
                                         * takes the seeder back after this long without
                                         * a block even while others gain pieces */
#define MAX_NODES       65535           /* holders are kept as 16-bit member indices */
#define EXIT_USAGE      2

enum { ORDER_OLDEST, ORDER_PIECE, ORDER_FRESH, ORDER_TOLD, ORDERS };  /* --seeder-order */
static const char *const order_names[] = { "oldest", "piece", "fresh", "told" };
enum { STALL_ALWAYS, STALL_AVAILABLE, STALL_SWARM, STALL_RULES };      /* --stall-rule */
static const char *const stall_names[] = { "always", "available", "swarm" };

/*
 * Wire overhead (--overhead on, the default): what the testbed's tbf
 * shapers and byte counters see besides the payload.  The shapers count
 * a frame from its Ethernet header on (no preamble, no FCS).
 */
#define MSS             1448            /* payload of a full TCP segment: MTU 1500 - IP 20 - TCP 32 */
#define FRAME_HDR       66              /* Ethernet 14 + IPv4 20 + TCP 32 (with timestamps, Linux's default) */
#define PIECE_HDR       13              /* BitTorrent PIECE message header, one per 16 KiB block */
#define ACK_FRAME       66              /* a bare TCP ACK: the headers alone */
#define SEGS_PER_ACK    2               /* delayed ACKs: the receiver acknowledges every second segment */
#define HAVE_MSG        9               /* a BitTorrent HAVE: length 4, id 1, piece index 4 */
#define HAVE_FRAME      (FRAME_HDR + HAVE_MSG)  /* 75: TCP_NODELAY puts a HAVE to an idle peer in a
                                         * frame of its own; to a peer the node sends data
                                         * to, or takes data from, it rides in that data or
                                         * in the ACKs of it (--piggyback): HAVE_MSG alone */
#define HAVES_PER_ACK   2               /* the peer's delayed ACK covers two framed HAVEs */
#define CONTROL_WINDOW  0.2             /* s: HAVEs and ACKs due are sent over this long, ahead of data */

struct opts {
        int nodes;
        int racks;                      /* 0: one switch */
        int per_rack;
        double oversub;                 /* 0: rack uplinks do not limit */
        int aware;                      /* the schedule knows the racks; -1: as the topology */
        double rate;                    /* Mbit/s, every node's port, both ways */
        double server_rate;             /* Mbit/s; 0: rate */
        double size_mib;
        int pieces;                     /* 0: from size_mib */
        int piece_kib;
        int inflight;                   /* 0: no cap beyond each connection's */
        int per_peer;                   /* 0: from the request budget */
        int seeder_conns;               /* the seeder's connections_limit */
        int seeder_slots;               /* at most this many connections sent on at once (the
                                         * client's --upload-slots, 64); 0: every one (the
                                         * client before 2026-12-07) */
        double seeder_stall;            /* watch(): released and nothing in for this long; 0: off */
        bool no_spare;                  /* what-if: a node asks the seeder only for its share
                                         * and what it imports, never for spare blocks */
        int stall_rule;                 /* STALL_AVAILABLE: that clock runs only while some
                                         * node holds a piece this one lacks, or after 30 s;
                                         * STALL_SWARM (the client): and only while no other
                                         * node gained a piece for as long, or after 30 s
                                         * without a block; STALL_ALWAYS: the client before
                                         * both */
        double dt;                      /* shortest step; 0: automatic */
        int resolution;                 /* steps per piece-time of a mean transfer */
        double update;
        double stagger;
        int view;                       /* 0: every node sees every node */
        int cross;                      /* what-if: HAVEs go to this many partners in each
                                         * other rack each way; 0: to every node there */
        bool cross_data;                /* what-if: and an importer takes data from another
                                         * rack only from those nodes of it */
        bool cross_hash;                /* those nodes: each pair by a hash of the two, not
                                         * by their places in their racks */
        int cross_racks;                /* with cross_view: partners in only this many other
                                         * racks (0: in every one) */
        int cross_tree;                 /* what-if: an importer takes a piece only from its
                                         * rack's parent in the piece's D-ary tree of racks
                                         * (0: from any rack that holds it) */
        int owners;                     /* what-if: at most this many nodes fetch from the
                                         * seeder (0: every node close enough) */
        int seeder_order;               /* --seeder-slots: ORDER_OLDEST, ORDER_PIECE,
                                         * ORDER_FRESH or ORDER_TOLD */
        bool cross_view;                /* what-if: and a node sees (connects to) only its rack
                                         * and those nodes of the others */
        int steal_in_rack;              /* a stealer takes only from its rack's shares (as the
                                         * client with racks); -1: as the schedule knows racks */
        int slow;                       /* the last nodes at a quarter of the rate */
        double announce;
        uint64_t seed;
        double max_ratio;
        bool overhead;                  /* framing, ACKs and HAVEs on the wire (the default) */
        bool piggyback;                 /* a HAVE to a data partner rides in the data or its
                                         * ACKs (the default); off: every HAVE a frame */
        bool csv, header, verbose;
};

/*
 * What a node has asked of one sender: blocks served in the order asked,
 * as a peer answers a connection's requests.  The first is in transfer.
 */
struct conn {
        int src;                        /* a node, or n for the seeder */
        int len;
        int piece[MAX_QUEUE];
        uint8_t block[MAX_QUEUE];
        double done;                    /* bytes of the first in */
        double since;                   /* when the first came first */
        int busy;                       /* its place in the busy list while len > 0 */
        int sent;                       /* and in its sender's list (struct sim's sl) */
};

/* a piece a node has asked some blocks of */
struct partial {
        int piece;
        uint64_t asked, in;             /* blocks asked (or in), blocks in */
        uint64_t twice;                 /* end game: blocks asked of two peers */
};

/*
 * One view of the swarm and the schedule made from it: the one every node
 * shares (viewer -1), or with --view one per node.
 */
struct ctx {
        int viewer;
        int nmem;
        int *mem;                       /* the nodes seen, the viewer too, in address order */
        int nkeys, ckeys;
        int *keys;                      /* the owners the map was made for, address order */
        uint64_t keys_sig;
        bool mapped;
        int *owner;                     /* [P] node */
        int *imp;                       /* the shared view: [maprack][P]; a node's: [P], its rack's */
        uint8_t *blocked;               /* same layout: out of the rack, another's to import */
        int *left;                      /* per key: fresh pieces in its share when last changed */
        double *moved;                  /* per key: when that was */
        /* the shared view only */
        uint64_t *rsig;                 /* per map rack: signature of its owners */
        uint64_t rset_sig;
        int *rp;                        /* [P] the map rack a piece is fetched into from the seeder */
        int *des;                       /* [P] designated stealer, cached while the stealers stay */
        uint32_t *des_stamp;
        uint32_t des_ver;
        int *psteal, npsteal;
};

struct flow {
        int dst, ci, src, nres;
        int res[4];
        double rate, left;              /* bytes/s; bytes of the block in transfer */
};

struct hent {
        double key;
        int r;
};

struct sim {
        struct opts o;
        int n, nr, m;                   /* nodes, physical racks (1 on a switch), nodes per rack */
        bool racked;                    /* rack uplinks limit transfers */
        bool aware;                     /* the schedule knows the racks */
        int P, W;                       /* pieces; 64-bit words in a bitfield */
        double piece_len, last_len, S;  /* bytes */
        double port_Bps, server_Bps, uplink_Bps;
        double bound;
        int Q;                          /* --inflight */
        int bpp;                        /* blocks in a (whole) piece */
        uint64_t full_mask, last_mask;  /* every block of a piece, of the last one */
        double dt;

        /* nodes */
        uint64_t *khash;
        int *by_addr, *rank;
        uint64_t *have, *asked;         /* [n][W]: held; started (some block asked) */
        int *held, *nasked;
        double *start, *done_at, *changed, *last_block;
        double *avail_at;               /* --stall-rule available: when a node last lacked a
                                         * piece some node held (or started) */
        bool *started, *wants, *conn, *never, *stuck;
        struct conn **cv;               /* per node: its connections, the seeder's first */
        int *ncv, *ccv;
        int *cidx;                      /* [n][psize] the connection to each pool member, or -1 */
        struct partial **pv;            /* per node: pieces started, oldest first */
        int *npv, *cpv;
        int *nopen;                     /* per node: started pieces with a block not asked */
        int16_t *pidx;                  /* [n][P] a started piece's place in pv, or -1 */
        int *upload;                    /* [n + 1] blocks asked of each sender */
        int *depth;                     /* [n + 1] blocks one requester may ask of each sender */
        int *ask, *nask, *own6, *nown6;
        int *told;                      /* --seeder-order told: per node, the lowest piece
                                         * it asks for (told_front()), at each choice */
        int **duty, *nduty, *cduty;
        struct ctx *global;
        struct ctx **views;
        int *adj_off, *adj;             /* --view: each node's peers, sorted */

        /* pools: where a node finds a piece's holders (its rack when the
         * schedule knows racks, the whole swarm when it does not) */
        int npool, psize;
        int *pcnt, *porder, *ppos, *pbstart;
        uint16_t *phold;                /* [pool][P][psize] member indices */
        uint16_t *rl;                   /* [P][npool] pools holding each piece */
        int *rlen;
        int *gcnt;                      /* [P] nodes holding each piece */
        double *sbytes;                 /* [P] bytes of each piece the seeder sent */
        int *sfirst;                    /* [P] the first node the seeder sent it to, or -1 */
        int nmr;                        /* map racks: names hashed for the map */
        uint64_t *mr_hash;

        /* scratch for the schedule */
        uint8_t *fresh, *inrack;
        uint64_t *orbits, *orrack;
        int *dl, *hist, *keyidx, *nkeys_buf, *shlen, *shbeg, *shfill, *shp, *taker;
        int *ukeys, nukeys;             /* --owners: every member of the schedule, the
                                         * importers' set (nukeys 0: the owners are all) */
        int *st, *room, *front, *ord;
        uint64_t *sthash;
        int *gcnt_r, *goff, *gids, *rids, *slot;
        uint64_t *ghash, *rh;

        /* transfers */
        int *busy, nbusy, cbusy;        /* (node, connection) with blocks asked */
        int **sl, *nsl, *csl;           /* [n + 1] the same pairs, by sender */
        int *partner, *pmark, pstamp;   /* have_sent(): a node's data partners, marked */
        struct flow *fl;
        int nfl, cfl;
        int nres;
        double *cap, *rem;
        double *avail;                  /* [nres] payload bytes/s left to the data this step */

        /* wire overhead (--overhead): every payload byte takes frame bytes
         * of each link it crosses; HAVEs and ACKs wait in ctl[] (bytes) and
         * take ctl_rate[] of their links before the data shares the rest */
        double frame, ack_per_byte;
        double *ctl, *ctl_rate;
        double control_bytes;           /* every HAVE and ACK frame sent, in bytes */
        int have_bc, *have_bc_rack;     /* shared view: HAVEs to everyone this step, from each rack */
        int *started_in_rack;
        int cross_total;                /* the racks' cross_share() summed */
        int *rcnt, *rleft, *roff, *rfill, *rfl, crfl;
        struct hent *heap;
        int nheap, cheap;
        uint8_t *frozen;
        int cfrozen;
        int *sfl, csfl;

        int *unblk, nunblk, cunblk;     /* (rack or -1 - node, piece) unblocked at an update */
        bool *full_due;                 /* a node's every queue to be looked at */
        bool *endgame;

        /* the run */
        double t;
        long updates;
        int nstarted, ndone, nconn;
        double seeder_bytes, *spine_in;
        double first_done, last_done;   /* of the nodes at full rate */
        double slowest;                 /* when the last node of all was done */
};

static const char *prog = "ezio-sim";

static void usage(FILE *f)
{
        fputs("Usage: ezio-sim [OPTIONS]\n"
              "\n"
              "Simulate ezio's swarm schedule (ezio-deploy/lib/ownership.cpp) piece by\n"
              "piece, the transfers sharing the links max-min fairly, and print one line:\n"
              "the time against the bound T*, the copies the seeder sent, the copies that\n"
              "crossed the spine into the busiest rack, the pieces the seeder sent more\n"
              "than once, and the tracker's announce rate.  tools/sim/README.md has the\n"
              "model.\n"
              "\n"
              "  --topology T         'switch' (default) or 'racks:RxM:O': R racks of M\n"
              "                       nodes, each rack's uplink M*rate/O both ways (O = 0:\n"
              "                       unlimited), the seeder alone in a rack of its own\n"
              "  --nodes N            nodes on a switch (default 8; with racks, R*M)\n"
              "  --racks on|off       the schedule knows the racks (default: on with racks)\n"
              "  --rate MBIT          every node's port, each way (default 10)\n"
              "  --server-rate MBIT   the seeder's port (default: --rate)\n"
              "  --slow K             the last K nodes at a quarter of the rate; time and\n"
              "                       bound are then the full-rate nodes' (default 0)\n"
              "  --size MIB           image size (default 32)\n"
              "  --pieces P           number of pieces instead of --size\n"
              "  --piece-size KIB     piece size, 16 to 1024 (default 64)\n"
              "  --per-peer B         blocks (16 KiB) a node may ask one sender for at once,\n"
              "                       1 to 16 (default: the sender's share of the request\n"
              "                       budget, request_budget.h)\n"
              "  --inflight B         also cap the blocks a node asks of all its peers\n"
              "                       together (default 0: no cap, as libtorrent)\n"
              "  --seeder-conns C     the seeder's connection limit (default 2000, the\n"
              "                       client's connections_limit)\n"
              "  --seeder-slots K     the seeder sends to at most K nodes at once (default\n"
              "                       64, as the client's --upload-slots; 0: to all, as\n"
              "                       the client before 2026-12-07)\n"
              "  --seeder-order told|oldest|piece|fresh  which connections the slots go to:\n"
              "                       the nodes that ask the lowest piece, as each tells\n"
              "                       the seeder (default, as the client's upload_slots.cpp);\n"
              "                       what-ifs: those whose block was asked first, or of\n"
              "                       the lowest piece in transfer (the image leaves the\n"
              "                       seeder in order), or so with pieces already sent to\n"
              "                       another node last\n"
              "  --seeder-spare on|off  off (what-if): a node asks the seeder only for its\n"
              "                       share and the pieces it brings into its rack, never\n"
              "                       for the rest of a piece in transfer from a peer or a\n"
              "                       piece of another share (default on, as libtorrent\n"
              "                       fills a free request slot)\n"
              "  --seeder-stall S     a node that released the seeder and got nothing for S\n"
              "                       seconds takes it back for good (default 5, as\n"
              "                       ownership.cpp's watch(); 0: never)\n"
              "  --overhead on|off    framing (1514 wire bytes per 1448 of payload), TCP\n"
              "                       ACKs and BitTorrent HAVEs take link capacity and\n"
              "                       count in the seeder's and the spine's bytes\n"
              "                       (default on; off: payload only, as before)\n"
              "  --piggyback on|off   with --overhead: a HAVE to a peer the node sends\n"
              "                       data to or takes data from rides in that data or\n"
              "                       in its ACKs, 9 bytes (default on); off: every HAVE\n"
              "                       in a frame of its own, acknowledged\n"
              "  --cross-peers K      what-if: with racks, a node's HAVEs reach only 2K\n"
              "                       nodes of each other rack (K partners it chose, K\n"
              "                       that chose it); data still from any holder\n"
              "                       (default 0: every node)\n"
              "  --cross-data on|off  what-if, with --cross-peers K: an importer takes a\n"
              "                       piece from another rack only from its 2K nodes\n"
              "                       there, those within K of its place in its own rack\n"
              "                       (default off)\n"
              "  --cross-rule window|hash  which nodes of another rack are a node's 2K:\n"
              "                       window, those whose place in their rack is within K\n"
              "                       of its own (each node has exactly 2K); hash, every\n"
              "                       pair whose hash of both addresses falls below 2K/M\n"
              "                       (no place to agree on; 2K on average; default window)\n"
              "  --cross-view on|off  what-if, with --cross-peers K: a node is connected to\n"
              "                       its rack and to those 2K nodes of each other rack\n"
              "                       only: its schedule sees no other node (each node\n"
              "                       maps owners over what it sees, and takes no stopped\n"
              "                       share of another rack; default off)\n"
              "  --cross-racks J      what-if, with --cross-view: a node has its nodes in\n"
              "                       only J other racks, the J after its rack counted\n"
              "                       from its place (so a rack's members cover every\n"
              "                       other rack); pieces reach the others rack to rack\n"
              "                       (default 0: every other rack)\n"
              "  --cross-tree D       what-if, with racks told and the shared view: a\n"
              "                       piece spreads over the racks as a D-ary tree, the\n"
              "                       racks counted from the one it is fetched into from\n"
              "                       the seeder; an importer takes it only from its\n"
              "                       rack's parent (default 0: from any rack holding it)\n"
              "  --stall-rule swarm|available|always  available: the --seeder-stall clock\n"
              "                       runs only while some node holds a piece the node\n"
              "                       lacks, or after 30 s; swarm: and a node takes the\n"
              "                       seeder back only if no other node gained a piece for\n"
              "                       as long, or after 30 s without a block (default, as\n"
              "                       the client); always: as the client before 2026-12-07\n"
              "  --owners C           what-if: of the nodes in the schedule, only the C\n"
              "                       whose address hashes lowest own pieces and fetch\n"
              "                       from the seeder (and steal); every member still\n"
              "                       brings pieces into its rack; shared view only\n"
              "                       (default 0: every member owns)\n"
              "  --steal in-rack|any  in-rack: a stealer takes fresh pieces from the\n"
              "                       shares of its own rack's owners (and a stopped share\n"
              "                       in a rack without stealers); any: from every share\n"
              "                       (default: in-rack when the schedule knows the racks,\n"
              "                       as the client; any, the client before, is a what-if)\n"
              "  --view K             each node draws K random peers (and sees those that\n"
              "                       drew it) instead of seeing every node (default 0)\n"
              "  --stagger S          nodes start at random over S seconds (default 0)\n"
              "  --announce-interval S  tracker re-announce interval (default 1800)\n"
              "  --update S           schedule period (default 0.2, as the client)\n"
              "  --resolution K       time steps per piece-time of a mean transfer\n"
              "                       (default 16; more is slower and finer)\n"
              "  --dt S               shortest time step (default: a 16th of a block's\n"
              "                       time on a port)\n"
              "  --max-ratio X        give up at X times the bound (default 50)\n"
              "  --seed N             random seed (default 1); same seed, same output\n"
              "  --csv                print a CSV row (with a header unless --no-header)\n"
              "  --no-header          no CSV header\n"
              "  -v, --verbose        progress on stderr every simulated 5 s\n"
              "  -h, --help           this help\n"
              "\n"
              "Exit status: 0 done, 1 the swarm did not finish within --max-ratio,\n"
              "2 usage.\n", f);
}

static int usage_error(const char *opt, const char *why)
{
        fprintf(stderr, "%s: %s: %s (see --help)\n", prog, opt, why);
        return EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* random numbers: splitmix64, the same sequence everywhere for a seed */

static uint64_t rng_state;

static uint64_t rnd(void)
{
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* below n > 0; the modulo's bias is 2^-40 at most for our n */
static int rnd_below(int n)
{
        return (int)(rnd() % (uint64_t)n);
}

static double rnd_unit(void)
{
        return (double)(rnd() >> 11) * 0x1p-53;
}

/* ------------------------------------------------------------------ */
/* small helpers */

static void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (!p) {
                fprintf(stderr, "%s: out of memory (%zu x %zu bytes)\n", prog, n, size);
                exit(1);
        }
        return p;
}

static void *xrealloc(void *p, size_t n, size_t size)
{
        p = realloc(p, (n ? n : 1) * size);
        if (!p) {
                fprintf(stderr, "%s: out of memory\n", prog);
                exit(1);
        }
        return p;
}

static uint64_t sig_add(uint64_t h, uint64_t v)
{
        return (h ^ v) * 0x100000001b3ULL;
}

static double plen(const struct sim *s, int p)
{
        return p == s->P - 1 ? s->last_len : s->piece_len;
}

static bool bit(const uint64_t *set, const struct sim *s, int n, int p)
{
        return set[(size_t)n * (size_t)s->W + (size_t)(p >> 6)] >> (p & 63) & 1;
}

static void bit_set(uint64_t *set, const struct sim *s, int n, int p, bool on)
{
        uint64_t *w = set + (size_t)n * (size_t)s->W + (size_t)(p >> 6);

        if (on)
                *w |= 1ULL << (p & 63);
        else
                *w &= ~(1ULL << (p & 63));
}

static bool has(const struct sim *s, int n, int p)
{
        return bit(s->have, s, n, p);
}

/* a piece n lacks and has asked no block of */
static bool wanted(const struct sim *s, int n, int p)
{
        return !bit(s->have, s, n, p) && !bit(s->asked, s, n, p);
}

static double block_len(const struct sim *s, int p, int b)
{
        return p == s->P - 1 ? fmin(BLOCK, s->last_len - (double)b * BLOCK) : BLOCK;
}

static uint64_t all_blocks(const struct sim *s, int p)
{
        return p == s->P - 1 ? s->last_mask : s->full_mask;
}

/* bits set in x: the builtin is a library call without -mpopcnt */
static int popcount64(uint64_t x)
{
        x = x - ((x >> 1) & 0x5555555555555555ULL);
        x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
        x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
        return (int)((x * 0x0101010101010101ULL) >> 56);
}

static bool active(const struct sim *s, int n)
{
        return s->started[n] && s->held[n] < s->P;
}

static int rack_of(const struct sim *s, int n)
{
        return n / s->m;
}

static int pool_of(const struct sim *s, int n)
{
        return s->aware ? n / s->m : 0;
}

static int member_of(const struct sim *s, int n)
{
        return s->aware ? n % s->m : n;
}

static int maprack_of(const struct sim *s, int n)
{
        return s->aware ? n / s->m : 0;
}

static bool in_view(const struct sim *s, int n, int h)
{
        const int *a;
        int lo, hi, len;

        if (!s->adj)
                return true;
        a = s->adj + s->adj_off[n];
        len = s->adj_off[n + 1] - s->adj_off[n];
        lo = 0;
        hi = len;
        while (lo < hi) {
                int mid = (lo + hi) / 2;

                if (a[mid] < h)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < len && a[lo] == h;
}

static struct ctx *ctx_of(const struct sim *s, int n)
{
        return s->views ? s->views[n] : s->global;
}

/*
 * Priority 0 in ownership.cpp (dont_download): a piece no node of this
 * rack held at the last update, that another node of the rack brings in
 * and is not stuck.  racks.cpp also hides its holders from libtorrent.
 */
static bool blocked(const struct sim *s, int n, int p)
{
        const struct ctx *c = ctx_of(s, n);
        size_t i;

        if (!s->aware || !c->mapped)
                return false;
        if (s->views)
                return c->blocked[p];
        i = (size_t)maprack_of(s, n) * (size_t)s->P + (size_t)p;
        return c->blocked[i] && c->imp[i] != n;
}

/* ------------------------------------------------------------------ */
/* who holds what: per pool, pieces ordered by holders (the picker's
 * rarest first) and each piece's holders */

static int *pool_cnt(const struct sim *s, int pool)
{
        return s->pcnt + (size_t)pool * (size_t)s->P;
}

static int *pool_bstart(const struct sim *s, int pool)
{
        return s->pbstart + (size_t)pool * (size_t)(s->psize + 2);
}

static uint16_t *pool_holders(const struct sim *s, int pool, int p)
{
        return s->phold + ((size_t)pool * (size_t)s->P + (size_t)p) * (size_t)s->psize;
}

/* one more holder of p in pool: p moves up one bucket, in O(1) */
static void pool_add(struct sim *s, int pool, int p, int member)
{
        int *cnt = pool_cnt(s, pool), *bs = pool_bstart(s, pool);
        int *order = s->porder + (size_t)pool * (size_t)s->P, *pos = s->ppos + (size_t)pool * (size_t)s->P;
        int c = cnt[p], j = bs[c + 1] - 1, q = order[j], i = pos[p];

        order[i] = q;
        pos[q] = i;
        order[j] = p;
        pos[p] = j;
        bs[c + 1]--;
        pool_holders(s, pool, p)[c] = (uint16_t)member;
        cnt[p] = c + 1;
        if (c == 0 && s->aware)
                s->rl[(size_t)p * (size_t)s->npool + (size_t)s->rlen[p]++] = (uint16_t)pool;
}

/* ------------------------------------------------------------------ */
/* connections and what is asked on them */

static bool same_pool(const struct sim *s, int a, int b)
{
        return b != s->n && pool_of(s, a) == pool_of(s, b);
}

/* n's connection to x, or -1 while n has asked x for nothing yet */
static int conn_find(const struct sim *s, int n, int x)
{
        int i;

        if (x == s->n)
                return 0;
        if (same_pool(s, n, x))
                return s->cidx[(size_t)n * (size_t)s->psize + (size_t)member_of(s, x)];
        for (i = 1; i < s->ncv[n]; i++)
                if (s->cv[n][i].src == x)
                        return i;
        return -1;
}

static int conn_get(struct sim *s, int n, int x)
{
        int ci = conn_find(s, n, x);
        struct conn *c;

        if (ci >= 0)
                return ci;
        if (s->ncv[n] == s->ccv[n]) {
                s->ccv[n] = 2 * s->ccv[n];
                s->cv[n] = xrealloc(s->cv[n], (size_t)s->ccv[n], sizeof(struct conn));
        }
        ci = s->ncv[n]++;
        c = s->cv[n] + ci;
        memset(c, 0, sizeof(*c));
        c->src = x;
        if (same_pool(s, n, x))
                s->cidx[(size_t)n * (size_t)s->psize + (size_t)member_of(s, x)] = ci;
        return ci;
}

/* Whether n may ask x for one more block: the request budget's share of
 * x, and --inflight. */
static bool room_at(const struct sim *s, int n, int x)
{
        int const ci = conn_find(s, n, x);

        if (s->Q > 0 && x != s->n && s->nasked[n] >= s->Q)
                return false;
        return (ci < 0 ? 0 : s->cv[n][ci].len) < s->depth[x];
}

static struct partial *partial_of(const struct sim *s, int n, int p)
{
        int const i = s->pidx[(size_t)n * (size_t)s->P + (size_t)p];

        return i < 0 ? NULL : s->pv[n] + i;
}

/* the first block of p that n has not asked for, or -1 */
static int free_block(const struct sim *s, int n, int p)
{
        const struct partial *q;
        uint64_t free;

        /* the bitfields first: the index behind partial_of() is large */
        if (has(s, n, p))
                return -1;
        if (!bit(s->asked, s, n, p))
                return 0;
        q = partial_of(s, n, p);
        free = all_blocks(s, p) & ~q->asked;
        return free ? __builtin_ctzll(free) : -1;
}

/* the connections with blocks asked, the flows of the next step */
static void busy_add(struct sim *s, int n, int ci)
{
        if (s->nbusy == s->cbusy) {
                s->cbusy = s->cbusy ? 2 * s->cbusy : 4096;
                s->busy = xrealloc(s->busy, (size_t)s->cbusy, 2 * sizeof(int));
        }
        s->cv[n][ci].busy = s->nbusy;
        s->busy[2 * s->nbusy] = n;
        s->busy[2 * s->nbusy + 1] = ci;
        s->nbusy++;
        {
                int const x = s->cv[n][ci].src;

                if (s->nsl[x] == s->csl[x]) {
                        s->csl[x] = s->csl[x] ? 2 * s->csl[x] : 8;
                        s->sl[x] = xrealloc(s->sl[x], (size_t)s->csl[x], 2 * sizeof(int));
                }
                s->cv[n][ci].sent = s->nsl[x];
                s->sl[x][2 * s->nsl[x]] = n;
                s->sl[x][2 * s->nsl[x] + 1] = ci;
                s->nsl[x]++;
        }
}

static void busy_drop(struct sim *s, int n, int ci)
{
        int const i = s->cv[n][ci].busy, last = --s->nbusy;

        if (i != last) {
                int const m = s->busy[2 * last], mc = s->busy[2 * last + 1];

                s->busy[2 * i] = m;
                s->busy[2 * i + 1] = mc;
                s->cv[m][mc].busy = i;
        }
        {
                int const x = s->cv[n][ci].src, j = s->cv[n][ci].sent, lx = --s->nsl[x];

                if (j != lx) {
                        int const m = s->sl[x][2 * lx], mc = s->sl[x][2 * lx + 1];

                        s->sl[x][2 * j] = m;
                        s->sl[x][2 * j + 1] = mc;
                        s->cv[m][mc].sent = j;
                }
        }
}

static void ask_block(struct sim *s, int n, int ci, int p, int b)
{
        struct partial *q = partial_of(s, n, p);
        struct conn *c = s->cv[n] + ci;

        if (!q) {
                if (s->npv[n] == s->cpv[n]) {
                        s->cpv[n] = s->cpv[n] ? 2 * s->cpv[n] : 16;
                        s->pv[n] = xrealloc(s->pv[n], (size_t)s->cpv[n], sizeof(struct partial));
                }
                s->pidx[(size_t)n * (size_t)s->P + (size_t)p] = (int16_t)s->npv[n];
                q = s->pv[n] + s->npv[n]++;
                q->piece = p;
                q->asked = q->in = q->twice = 0;
                bit_set(s->asked, s, n, p, true);
                s->nopen[n]++;
        }
        if (q->asked >> b & 1)
                q->twice |= 1ULL << b;
        q->asked |= 1ULL << b;
        if (q->asked == all_blocks(s, p) && !(q->twice >> b & 1))
                s->nopen[n]--;
        c->piece[c->len] = p;
        c->block[c->len] = (uint8_t)b;
        if (++c->len == 1) {
                c->done = 0;
                c->since = s->t;
                busy_add(s, n, ci);
        }
        s->upload[c->src]++;
        if (c->src != s->n)
                s->nasked[n]++;
}

static void forget_partial(struct sim *s, int n, int p)
{
        int const i = s->pidx[(size_t)n * (size_t)s->P + (size_t)p];
        int k;

        if (s->pv[n][i].asked != all_blocks(s, p))
                s->nopen[n]--;
        s->pidx[(size_t)n * (size_t)s->P + (size_t)p] = -1;
        bit_set(s->asked, s, n, p, false);
        /* oldest first: libtorrent finishes what it started first */
        memmove(s->pv[n] + i, s->pv[n] + i + 1, (size_t)(s->npv[n] - i - 1) * sizeof(struct partial));
        s->npv[n]--;
        for (k = i; k < s->npv[n]; k++)
                s->pidx[(size_t)n * (size_t)s->P + (size_t)s->pv[n][k].piece] = (int16_t)k;
}

/* block k of connection ci is no longer asked: in, or dropped */
static void drop_at(struct sim *s, int n, int ci, int k)
{
        struct conn *c = s->cv[n] + ci;

        s->upload[c->src]--;
        if (c->src != s->n)
                s->nasked[n]--;
        memmove(c->piece + k, c->piece + k + 1, (size_t)(c->len - k - 1) * sizeof(int));
        memmove(c->block + k, c->block + k + 1, (size_t)(c->len - k - 1));
        if (--c->len == 0)
                busy_drop(s, n, ci);
        if (k == 0) {
                c->done = 0;
                c->since = s->t;
        }
}

static void pop_head(struct sim *s, int n, int ci)
{
        drop_at(s, n, ci, 0);
}

/* whether connection ci of n has block b of p asked */
static int queued(const struct sim *s, int n, int ci, int p, int b)
{
        const struct conn *c = s->cv[n] + ci;
        int k;

        for (k = 0; k < c->len; k++)
                if (c->piece[k] == p && c->block[k] == b)
                        return k;
        return -1;
}

/* The IP filter closes the connection to the seeder: the blocks asked of
 * it go back to be asked again; those in stay. */
static void cancel_seeder(struct sim *s, int n)
{
        struct conn *c = s->cv[n];

        while (c->len > 0) {
                int const p = c->piece[c->len - 1];
                struct partial *q = partial_of(s, n, p);
                uint64_t const m = 1ULL << c->block[c->len - 1];

                if (q->twice & m) {
                        q->twice &= ~m;         /* still asked of a peer */
                } else {
                        if (q->asked == all_blocks(s, p))
                                s->nopen[n]++;
                        q->asked &= ~m;
                }
                drop_at(s, n, 0, c->len - 1);
                if (q->asked == 0)
                        forget_partial(s, n, p);
        }
        c->done = 0;
}

/* ------------------------------------------------------------------ */
/* what to ask for: libtorrent's picker under the schedule's priorities */

/*
 * Of the pieces in from (all, when NULL) that n lacks and has not asked
 * for, one with the fewest holders in cnt that n may take now, random
 * among equals; -1 if none.
 */
static int rarest_of(struct sim *s, int n, const int *cnt, const uint64_t *from)
{
        const uint64_t *hn = s->have + (size_t)n * (size_t)s->W, *an = s->asked + (size_t)n * (size_t)s->W;
        int best = -1, bestc = 0, ties = 0, w;

        for (w = 0; w < s->W; w++) {
                uint64_t bits = (from ? from[w] : ~0ULL) & ~(hn[w] | an[w]);

                while (bits) {
                        int const p = w * 64 + __builtin_ctzll(bits);

                        bits &= bits - 1;
                        if (p >= s->P || (best >= 0 && cnt[p] > bestc) || blocked(s, n, p))
                                continue;
                        if (best < 0 || cnt[p] < bestc) {
                                best = p;
                                bestc = cnt[p];
                                ties = 1;
                        } else if (rnd_below(++ties) == 0) {
                                best = p;
                        }
                }
        }
        return best;
}

/*
 * The same by walking n's pool's buckets of holders from first up (the
 * rare end), random within a bucket: a piece of from (any, when NULL)
 * that n may want and take now; -1 if none.
 */
static int rarest_in_buckets(struct sim *s, int n, int first, const uint64_t *from)
{
        int const pool = pool_of(s, n), P = s->P;
        const int *bs = pool_bstart(s, pool), *order = s->porder + (size_t)pool * (size_t)P;
        int c, i;

        for (c = first; c <= s->psize; c++) {
                int const lo = bs[c], len = bs[c + 1] - lo;
                int k;

                if (len == 0)
                        continue;
                k = rnd_below(len);
                for (i = 0; i < len; i++) {
                        int const p = order[lo + (i + k) % len];

                        if ((!from || from[p >> 6] >> (p & 63) & 1) && wanted(s, n, p) && !blocked(s, n, p))
                                return p;
                }
        }
        return -1;
}

/*
 * The rarest piece n may want, for the seeder's queue once the schedule's
 * own pieces are all asked: the fewest holders in n's pool first (none,
 * for a fresh piece), random among equals.  Either walks the pool's
 * buckets from the rare end or, once n lacks fewer than half the pieces,
 * n's own gaps.
 */
static int pick_rare_any(struct sim *s, int n)
{
        if (s->P - s->held[n] < s->P / 2)
                return rarest_of(s, n, pool_cnt(s, pool_of(s, n)), NULL);
        return rarest_in_buckets(s, n, 0, NULL);
}

/*
 * libtorrent's rarest first on one connection: of the pieces x (of n's
 * pool) holds that n lacks, has not asked for and may want, one with the
 * fewest holders in the pool, random among equals.  A few candidates are
 * looked at one by one; many, by walking the pool's buckets from the rare
 * end, where one of x's soon turns up.
 */
static int pick_from(struct sim *s, int n, int x)
{
        const uint64_t *hx = s->have + (size_t)x * (size_t)s->W, *hn = s->have + (size_t)n * (size_t)s->W;
        const uint64_t *an = s->asked + (size_t)n * (size_t)s->W;
        int cand = 0, w;

        for (w = 0; w < s->W && cand <= 64; w++)
                cand += popcount64(hx[w] & ~(hn[w] | an[w]));
        if (cand == 0)
                return -1;
        if (cand <= 64)
                return rarest_of(s, n, pool_cnt(s, pool_of(s, n)), hx);
        return rarest_in_buckets(s, n, 1, hx);
}

/*
 * A block of a piece n has started that x holds: libtorrent finishes the
 * pieces it started before it starts others, and asks their blocks of
 * whichever peer has room, so a piece one slow peer holds up gets its
 * other blocks from fast ones.  Priority 0 pieces are left alone.
 */
static int pick_partial(struct sim *s, int n, int x, int *blk)
{
        int i;

        if (s->nopen[n] == 0)
                return -1;
        for (i = 0; i < s->npv[n]; i++) {
                const struct partial *q = s->pv[n] + i;
                uint64_t const free = all_blocks(s, q->piece) & ~q->asked;

                if (free && (x == s->n || has(s, x, q->piece)) && !blocked(s, n, q->piece)) {
                        *blk = __builtin_ctzll(free);
                        return q->piece;
                }
        }
        return -1;
}

/*
 * libtorrent's end game: once n has started every piece it lacks, a
 * block already asked of another peer may be asked of x as well (the
 * first to arrive wins, the other is cancelled), so that the last pieces
 * do not wait on the slowest connection.
 */
static int pick_busy(struct sim *s, int n, int x, int *blk)
{
        int const ci = conn_find(s, n, x);
        int i;

        /* a holder in another rack shows only what n imports (racks.cpp) */
        if (s->held[n] + s->npv[n] < s->P || (x != s->n && !same_pool(s, n, x)))
                return -1;
        for (i = 0; i < s->npv[n]; i++) {
                const struct partial *q = s->pv[n] + i;
                uint64_t busy = q->asked & ~q->in & ~q->twice;

                if (x != s->n && !has(s, x, q->piece))
                        continue;
                while (busy) {
                        int const b = __builtin_ctzll(busy);

                        busy &= busy - 1;
                        if (ci < 0 || queued(s, n, ci, q->piece, b) < 0) {
                                *blk = b;
                                return q->piece;
                        }
                }
        }
        return -1;
}

/* a block n brings into its rack that x, in another rack, holds: the
 * only pieces libtorrent sees x hold (racks.cpp) */
static int pick_duty_from(struct sim *s, int n, int x, int *blk)
{
        int i;

        for (i = 0; i < s->nduty[n]; i++) {
                int const p = s->duty[n][i];

                if (has(s, x, p) && (*blk = free_block(s, n, p)) >= 0)
                        return p;
        }
        return -1;
}

/* the first of list's pieces with a block n has not asked for */
static int first_free(struct sim *s, int n, const int *list, int len, int *blk)
{
        int i;

        for (i = 0; i < len; i++)
                if ((*blk = free_block(s, n, list[i])) >= 0)
                        return list[i];
        return -1;
}

/*
 * What n asks the seeder for next.  The schedule's own: the ask (top
 * priority), then the rest of its share (priority 6).  libtorrent fills a
 * peer's request queue with whatever comes next by priority that the peer
 * has, and the seeder has everything: then the pieces n brings into its
 * rack (5), then the pieces it started, then the rarest it may want,
 * which are fresh pieces.
 */
static int pick_seeder(struct sim *s, int n, int *blk)
{
        int p;

        if ((p = first_free(s, n, s->ask + (size_t)n * ASK_MAX, s->nask[n], blk)) >= 0 ||
            (p = first_free(s, n, s->own6 + (size_t)n * OWN_MAX, s->nown6[n], blk)) >= 0 ||
            (p = first_free(s, n, s->duty[n], s->nduty[n], blk)) >= 0)
                return p;
        if (s->o.no_spare)
                return -1;
        if ((p = pick_partial(s, n, s->n, blk)) >= 0)
                return p;
        *blk = 0;
        return pick_rare_any(s, n);
}

/* Fill n's queue at x (the seeder, a peer of its pool, or a holder in
 * another rack) with what x has for it. */
static void fill_conn(struct sim *s, int n, int x)
{
        int ci = conn_find(s, n, x);

        if (!active(s, n) || (x == s->n && !s->conn[n]))
                return;
        while ((ci < 0 ? 0 : s->cv[n][ci].len) < s->depth[x] && (s->Q == 0 || x == s->n || s->nasked[n] < s->Q)) {
                int p, b = 0;

                if (x == s->n)
                        p = pick_seeder(s, n, &b);
                else if (!same_pool(s, n, x))
                        p = pick_duty_from(s, n, x, &b);
                else if ((p = pick_partial(s, n, x, &b)) < 0)
                        p = pick_from(s, n, x);
                if (p < 0)
                        p = pick_busy(s, n, x, &b);
                if (p < 0)
                        break;
                if (ci < 0)
                        ci = conn_get(s, n, x);
                ask_block(s, n, ci, p, b);
        }
}

/* A holder of p in pool that n sees and may ask: a random one. */
static int pool_holder(const struct sim *s, int n, int pool, int p)
{
        int const c = pool_cnt(s, pool)[p];
        const uint16_t *h = pool_holders(s, pool, p);
        int const base = s->aware ? pool * s->m : 0;
        int i, k;

        if (c == 0)
                return -1;
        for (k = 0; k < 4; k++) {
                int const x = base + h[rnd_below(c)];

                if (x != n && in_view(s, n, x) && room_at(s, n, x))
                        return x;
        }
        /* few holders, all tried at random and refused: look at each */
        if (c > 16)
                return -1;
        k = rnd_below(c);
        for (i = 0; i < c; i++) {
                int const x = base + h[(i + k) % c];

                if (x != n && in_view(s, n, x) && room_at(s, n, x))
                        return x;
        }
        return -1;
}

/* --cross-racks J: whether x's rack is one of the J racks after n's,
 * counted from n's place on (every rack when J is 0) */
static bool cross_rack_of(const struct sim *s, int n, int x)
{
        int const J = s->o.cross_racks;

        if (J > 0 && J < s->nr - 1) {
                int const d = (rack_of(s, x) - rack_of(s, n) - 1 + 2 * s->nr) % s->nr;     /* 0 .. nr - 2 */
                int const first = member_of(s, n) % (s->nr - 1);

                return (d - first + 2 * (s->nr - 1)) % (s->nr - 1) < J;
        }
        return true;
}

/* whether x (in another rack) is one of n's 2K nodes there: its place in
 * its rack within K of n's in n's (K above, K - 1 below, around the rack:
 * every node is one of 2K in each other rack too), or with --cross-rule
 * hash the pair's hash below 2K/M */
static bool cross_partner(const struct sim *s, int n, int x)
{
        int const m = s->m, k2 = 2 * s->o.cross;

        if (!cross_rack_of(s, n, x))
                return false;

        if (k2 >= m)
                return true;
        if (s->o.cross_hash) {
                uint64_t z = s->khash[n] ^ s->khash[x];

                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
                z ^= z >> 31;
                return (double)z < (double)k2 / m * 18446744073709551616.0;
        }
        return (member_of(s, x) - member_of(s, n) + s->o.cross - 1 + 2 * m) % m < k2;
}

/* --cross-data: of n's nodes in rack q, a holder of p that n may ask, the
 * one with the fewest blocks asked of it */
static int partner_holder(const struct sim *s, int n, int q, int p)
{
        int const m = s->m;
        int best = -1, j;

        for (j = 0; j < m; j++) {
                int const x = q * m + j;

                if (cross_partner(s, n, x) && s->started[x] && has(s, x, p) && in_view(s, n, x) && room_at(s, n, x) &&
                    (best < 0 || s->upload[x] < s->upload[best]))
                        best = x;
        }
        return best;
}

/* A holder of p in another rack for its importer: of two random ones,
 * the one with fewer blocks asked of it. */
static int outside_holder(const struct sim *s, int n, int p)
{
        int const L = s->rlen[p];
        int best = -1, k, found = 0;

        if (L == 0)
                return -1;
        if (s->o.cross_tree > 0) {
                /* the racks in the order of their distance from the piece's
                 * first rack, a D-ary heap: rack i of it takes the piece from
                 * rack (i - 1) / D only */
                int const r0 = ctx_of(s, n)->rp[p], nr = s->nr;

                if (r0 >= 0) {
                        int const i = (rack_of(s, n) - r0 + nr) % nr;

                        if (i > 0)
                                return pool_holder(s, n, (r0 + (i - 1) / s->o.cross_tree) % nr, p);
                }
        }
        for (k = 0; k < 6 && found < 2; k++) {
                int const q = s->rl[(size_t)p * (size_t)s->npool + (size_t)rnd_below(L)];
                int const x = q == pool_of(s, n) ? -1 :
                              s->o.cross_data ? partner_holder(s, n, q, p) : pool_holder(s, n, q, p);

                if (x < 0)
                        continue;
                found++;
                if (best < 0 || s->upload[x] < s->upload[best])
                        best = x;
        }
        return best;
}

/* The pieces n brings into its rack (priority 5), block by block from
 * holders in other racks. */
static void fill_duties(struct sim *s, int n)
{
        int i = 0;

        while (i < s->nduty[n]) {
                int const p = s->duty[n][i];
                int b, x;

                if (has(s, n, p)) {
                        s->duty[n][i] = s->duty[n][--s->nduty[n]];
                        continue;
                }
                while ((b = free_block(s, n, p)) >= 0 && (x = outside_holder(s, n, p)) >= 0)
                        ask_block(s, n, conn_get(s, n, x), p, b);
                i++;
        }
}

/*
 * The queues of n an update may have changed: the seeder's and the pieces
 * it imports; with full, each peer of its rack (rack-blind: of the swarm)
 * that has something for it, from a random one on.  libtorrent keeps a
 * queue at every peer that interests it; a cap on the node's blocks in
 * all would leave fast peers idle while slow ones (across the spine) hold
 * the slots.  Pieces arriving (announce()) and blocks coming in (advance())
 * fill the peers' queues as they happen; the full look is a safety net.
 */
static void refill_all(struct sim *s, int n, bool full)
{
        int k, nc, start;

        if (!active(s, n))
                return;
        fill_conn(s, n, s->n);
        if (s->aware)
                fill_duties(s, n);
        if (!full)
                return;
        if (s->views) {
                const int *a = s->adj + s->adj_off[n];

                nc = s->adj_off[n + 1] - s->adj_off[n];
                start = nc ? rnd_below(nc) : 0;
                for (k = 0; k < nc; k++) {
                        int const x = a[(start + k) % nc];

                        if (s->started[x] && same_pool(s, n, x))
                                fill_conn(s, n, x);
                }
        } else {
                int const base = s->aware ? pool_of(s, n) * s->m : 0;

                nc = s->psize;
                start = rnd_below(nc);
                for (k = 0; k < nc; k++) {
                        int const x = base + (start + k) % nc;

                        if (x != n && s->started[x])
                                fill_conn(s, n, x);
                }
        }
}

/*
 * h announced p (a HAVE): the peers of its pool that lack p and have not
 * asked for all of it may ask h.  libtorrent asks on a HAVE only a peer
 * it was not already interested in; the schedule's nudge (ownership.cpp,
 * nudge_idle) covers the rest within an update, so asking at once is a
 * little early, never late.
 */
static void announce(struct sim *s, int h, int p)
{
        if (s->views) {
                const int *a = s->adj + s->adj_off[h];
                int k, nc = s->adj_off[h + 1] - s->adj_off[h];

                for (k = 0; k < nc; k++) {
                        int const x = a[k];

                        if (same_pool(s, x, h) && active(s, x) && free_block(s, x, p) >= 0 && !blocked(s, x, p))
                                fill_conn(s, x, h);
                }
        } else {
                int const base = s->aware ? pool_of(s, h) * s->m : 0;
                int x;

                for (x = base; x < base + s->psize; x++)
                        if (x != h && active(s, x) && free_block(s, x, p) >= 0 && !blocked(s, x, p))
                                fill_conn(s, x, h);
        }
}

static void have_sent(struct sim *s, int h);
static int cross_share(const struct sim *s, int r);

static void deliver(struct sim *s, int n, int p, double at)
{
        /* before the seeder lets go of a node that is done: its last
         * HAVE goes to the seeder too */
        have_sent(s, n);
        bit_set(s->have, s, n, p, true);
        s->held[n]++;
        s->changed[n] = at;
        s->gcnt[p]++;
        pool_add(s, pool_of(s, n), p, member_of(s, n));
        if (s->held[n] == s->P) {
                int i;

                s->done_at[n] = at;
                s->ndone++;
                if (n < s->n - s->o.slow) {
                        if (s->first_done == 0 || at < s->first_done)
                                s->first_done = at;
                        if (at > s->last_done)
                                s->last_done = at;
                }
                if (at > s->slowest)
                        s->slowest = at;
                /* a complete node asks nothing more; it stays and serves */
                for (i = 0; i < s->ncv[n]; i++)
                        while (s->cv[n][i].len > 0)
                                pop_head(s, n, i);
                if (s->conn[n]) {
                        s->conn[n] = false;
                        s->nconn--;
                }
                s->wants[n] = false;
        }
        announce(s, n, p);
}

/* The first block on connection ci came in; its piece is n's once every
 * block is. */
static void block_in(struct sim *s, int n, int ci, double at)
{
        struct conn *c = s->cv[n] + ci;
        int const p = c->piece[0], b = c->block[0];
        struct partial *q = partial_of(s, n, p);

        pop_head(s, n, ci);
        s->last_block[n] = at;
        q->in |= 1ULL << b;
        if (q->twice >> b & 1) {
                /* end game: the other request is cancelled */
                int i, k;

                q->twice &= ~(1ULL << b);
                for (i = 0; i < s->ncv[n]; i++)
                        if ((k = queued(s, n, i, p, b)) >= 0) {
                                drop_at(s, n, i, k);
                                break;
                        }
        }
        if (q->in != all_blocks(s, p))
                return;
        forget_partial(s, n, p);
        deliver(s, n, p, at);
}

/* ------------------------------------------------------------------ */
/* the schedule: ownership.cpp's update(), for one view */

static int cmp_int(const void *a, const void *b)
{
        int const x = *(const int *)a, y = *(const int *)b;

        return (x > y) - (x < y);
}

static const int *sort_len;

/* longest share first; equal ones in address order, as std::stable_sort */
static int cmp_share(const void *a, const void *b)
{
        int const x = *(const int *)a, y = *(const int *)b;

        if (sort_len[x] != sort_len[y])
                return sort_len[y] - sort_len[x];
        return (x > y) - (x < y);
}

/* p is no longer left to an importer in rack r (or, -1 - n, for node n's
 * own view) while it is in the rack: the nodes there may ask for it */
static void unblock_push(struct sim *s, int r, int p)
{
        if (s->nunblk == s->cunblk) {
                s->cunblk = s->cunblk ? 2 * s->cunblk : 1024;
                s->unblk = xrealloc(s->unblk, (size_t)s->cunblk, 2 * sizeof(int));
        }
        s->unblk[2 * s->nunblk] = r;
        s->unblk[2 * s->nunblk + 1] = p;
        s->nunblk++;
}

static void duty_push(struct sim *s, int k, int p)
{
        if (s->nduty[k] == s->cduty[k]) {
                s->cduty[k] = s->cduty[k] ? 2 * s->cduty[k] : 16;
                s->duty[k] = xrealloc(s->duty[k], (size_t)s->cduty[k], sizeof(int));
        }
        s->duty[k][s->nduty[k]++] = p;
}

/*
 * assign() for the shared view: the owner of each piece is chosen first
 * among the racks' names, then among that rack's members' addresses; in
 * every rack the members' hash names its importer.  A rack whose members
 * did not change keeps its row: at 10,000 nodes recomputing every row at
 * every change would be most of the run.
 */
static const uint64_t *sort_hash;

static int cmp_khash(const void *a, const void *b)
{
        uint64_t const x = sort_hash[*(const int *)a], y = sort_hash[*(const int *)b];

        return (x > y) - (x < y);
}

/* --owners: each piece's owner among the capped owners alone, by the
 * same two levels (the racks with an owner, then its owners there) */
static void map_owners(struct sim *s, struct ctx *c)
{
        int const P = s->P, nk = c->nkeys;
        int *racks = xcalloc((size_t)nk, sizeof(int)), *cnt = xcalloc((size_t)nk, sizeof(int));
        int *off = xcalloc((size_t)nk + 1, sizeof(int)), *ids = xcalloc((size_t)nk, sizeof(int));
        uint64_t *rh = xcalloc((size_t)nk, sizeof(uint64_t)), *kh = xcalloc((size_t)nk, sizeof(uint64_t));
        int nr = 0, i, j, p;

        for (i = 0; i < nk; i++) {
                int const r = maprack_of(s, c->keys[i]);

                for (j = 0; j < nr && racks[j] != r; j++)
                        ;
                if (j == nr) {
                        racks[nr] = r;
                        rh[nr++] = s->mr_hash[r];
                }
                cnt[j]++;
        }
        for (j = 0; j < nr; j++)
                off[j + 1] = off[j] + cnt[j];
        memset(cnt, 0, (size_t)nk * sizeof(int));
        for (i = 0; i < nk; i++) {
                int const r = maprack_of(s, c->keys[i]);

                for (j = 0; racks[j] != r; j++)
                        ;
                ids[off[j] + cnt[j]] = c->keys[i];
                kh[off[j] + cnt[j]++] = s->khash[c->keys[i]];
        }
        for (p = 0; p < P; p++) {
                int const l = (int)ez_rendezvous_owner(rh, (size_t)nr, (uint64_t)p);

                c->owner[p] = ids[off[l] + (int)ez_rendezvous_owner(kh + off[l], (size_t)cnt[l], (uint64_t)p)];
        }
        free(racks);
        free(cnt);
        free(off);
        free(ids);
        free(rh);
        free(kh);
}

static void map_global(struct sim *s, struct ctx *c)
{
        int const P = s->P;
        int r, i, p, nrs = 0;
        uint64_t rset = 0xcbf29ce484222325ULL;
        bool changed = false;

        /* the importers over every member (--owners: not only the owners) */
        const int *mk = s->nukeys ? s->ukeys : c->keys;
        int const nm = s->nukeys ? s->nukeys : c->nkeys;

        memset(s->gcnt_r, 0, (size_t)s->nmr * sizeof(int));
        for (i = 0; i < nm; i++)
                s->gcnt_r[maprack_of(s, mk[i])]++;
        s->goff[0] = 0;
        for (r = 0; r < s->nmr; r++)
                s->goff[r + 1] = s->goff[r] + s->gcnt_r[r];
        memset(s->gcnt_r, 0, (size_t)s->nmr * sizeof(int));
        for (i = 0; i < nm; i++) {
                int const k = mk[i], r2 = maprack_of(s, k), j = s->goff[r2] + s->gcnt_r[r2]++;

                s->gids[j] = k;
                s->ghash[j] = s->khash[k];
        }
        for (r = 0; r < s->nmr; r++) {
                int const cnt = s->gcnt_r[r], off = s->goff[r];
                uint64_t sig = 0xcbf29ce484222325ULL;
                int *row = c->imp + (size_t)r * (size_t)P;

                for (i = 0; i < cnt; i++)
                        sig = sig_add(sig, (uint64_t)s->gids[off + i] + 1);
                sig = sig_add(sig, (uint64_t)cnt);
                if (cnt > 0) {
                        s->rids[nrs++] = r;
                        rset = sig_add(rset, (uint64_t)r + 1);
                }
                if (c->mapped && sig == c->rsig[r])
                        continue;
                c->rsig[r] = sig;
                changed = true;
                for (p = 0; p < P; p++)
                        row[p] = cnt ? s->gids[off + (int)ez_rendezvous_owner(s->ghash + off, (size_t)cnt,
                                                                               (uint64_t)p)] : -1;
        }
        if (!c->mapped || rset != c->rset_sig) {
                c->rset_sig = rset;
                changed = true;
                for (i = 0; i < nrs; i++)
                        s->rh[i] = s->mr_hash[s->rids[i]];
                for (p = 0; p < P; p++)
                        c->rp[p] = s->rids[ez_rendezvous_owner(s->rh, (size_t)nrs, (uint64_t)p)];
        }
        if (s->nukeys)
                map_owners(s, c);
        else if (changed)
                for (p = 0; p < P; p++)
                        c->owner[p] = c->imp[(size_t)c->rp[p] * (size_t)P + (size_t)p];
        c->mapped = true;
}

/* assign() for one node's own view: everything again, its rack's
 * importers only. */
static void map_view(struct sim *s, struct ctx *c)
{
        int const P = s->P, self_r = maprack_of(s, c->viewer);
        int i, p, nl = 0, sl;

        for (i = 0; i < c->nkeys; i++) {
                int const r = maprack_of(s, c->keys[i]);

                if (s->slot[r] < 0) {
                        s->slot[r] = nl;
                        s->rids[nl] = r;
                        s->gcnt_r[nl] = 0;
                        nl++;
                }
                s->gcnt_r[s->slot[r]]++;
        }
        /* --cross-racks: the racks with a node downloading are known to
         * every node (as a list the seeder or the tracker could publish),
         * whether it sees any of their nodes or not; a piece of a rack it
         * sees none of has no owner it knows */
        for (i = 0; s->o.cross_racks > 0 && i < s->n; i++)
                if (active(s, i) && s->slot[maprack_of(s, i)] < 0) {
                        int const r = maprack_of(s, i);

                        s->slot[r] = nl;
                        s->rids[nl] = r;
                        s->gcnt_r[nl] = 0;
                        nl++;
                }
        s->goff[0] = 0;
        for (i = 0; i < nl; i++)
                s->goff[i + 1] = s->goff[i] + s->gcnt_r[i];
        for (i = 0; i < nl; i++) {
                s->rh[i] = s->mr_hash[s->rids[i]];
                s->gcnt_r[i] = 0;
        }
        for (i = 0; i < c->nkeys; i++) {
                int const k = c->keys[i], l = s->slot[maprack_of(s, k)], j = s->goff[l] + s->gcnt_r[l]++;

                s->gids[j] = k;
                s->ghash[j] = s->khash[k];
        }
        sl = s->slot[self_r];
        for (p = 0; p < P; p++) {
                int const l = (int)ez_rendezvous_owner(s->rh, (size_t)nl, (uint64_t)p);

                c->owner[p] = s->gcnt_r[l] == 0 ? -1 :
                              s->gids[s->goff[l] + (int)ez_rendezvous_owner(s->ghash + s->goff[l],
                                                                            (size_t)s->gcnt_r[l], (uint64_t)p)];
                if (sl < 0)
                        c->imp[p] = -1;
                else if (l == sl)
                        c->imp[p] = c->owner[p];
                else
                        c->imp[p] = s->gids[s->goff[sl] + (int)ez_rendezvous_owner(s->ghash + s->goff[sl],
                                                                                     (size_t)s->gcnt_r[sl],
                                                                                     (uint64_t)p)];
        }
        for (i = 0; i < nl; i++)
                s->slot[s->rids[i]] = -1;
        c->mapped = true;
}

/* the ask and the rest of the share of key ki (node k), the stolen
 * pieces left for later */
static void fill_ask(struct sim *s, int k, int ki)
{
        int *a = s->ask + (size_t)k * ASK_MAX, *o = s->own6 + (size_t)k * OWN_MAX;
        int i;

        s->nask[k] = s->nown6[k] = 0;
        for (i = 0; i < s->shlen[ki]; i++) {
                int const p = s->shp[s->shbeg[ki] + i];

                if (s->nask[k] < WINDOW && s->taker[p] < 0)
                        a[s->nask[k]++] = p;
                else if (s->nown6[k] < OWN_MAX)
                        o[s->nown6[k]++] = p;
        }
}

static void sched_update(struct sim *s, struct ctx *c)
{
        bool const global = c->viewer < 0;
        int const P = s->P, w = WINDOW;
        double const now = s->t;
        int nd = 0, nk = 0, i, p, median = 0, cum, nst = 0, no = 0;
        uint64_t sig = 0xcbf29ce484222325ULL;
        bool judge;

        /* what the view holds: no node it sees has a fresh piece */
        if (global) {
                for (p = 0; p < P; p++)
                        s->fresh[p] = s->gcnt[p] == 0;
        } else {
                int const self_pool = pool_of(s, c->viewer);

                memset(s->orbits, 0, (size_t)s->W * sizeof(uint64_t));
                memset(s->orrack, 0, (size_t)s->W * sizeof(uint64_t));
                for (i = 0; i < c->nmem; i++) {
                        int const k = c->mem[i], same = s->aware && pool_of(s, k) == self_pool;
                        const uint64_t *hv = s->have + (size_t)k * (size_t)s->W;
                        int x;

                        if (!s->started[k])
                                continue;
                        for (x = 0; x < s->W; x++) {
                                s->orbits[x] |= hv[x];
                                if (same)
                                        s->orrack[x] |= hv[x];
                        }
                }
                for (p = 0; p < P; p++) {
                        s->fresh[p] = !(s->orbits[p >> 6] >> (p & 63) & 1);
                        s->inrack[p] = s->orrack[p >> 6] >> (p & 63) & 1;
                }
        }

        /* the downloading nodes it sees; one far behind the others owns
         * nothing (median of the pieces held, upper one as nth_element) */
        for (i = 0; i < c->nmem; i++) {
                int const k = c->mem[i];

                if (s->started[k] && s->held[k] < P)
                        s->dl[nd++] = k;
        }
        if (nd == 0)
                return;
        memset(s->hist, 0, (size_t)(P + 1) * sizeof(int));
        for (i = 0; i < nd; i++)
                s->hist[s->held[s->dl[i]]]++;
        for (cum = 0, median = 0; median <= P; median++) {
                cum += s->hist[median];
                if (cum > nd / 2)
                        break;
        }
        judge = median >= (P / 32 > 8 ? P / 32 : 8);
        for (i = 0; i < nd; i++) {
                int const k = s->dl[i];

                if (!judge || s->held[k] * 2 >= median) {
                        s->nkeys_buf[nk++] = k;
                        sig = sig_add(sig, (uint64_t)k + 1);
                }
        }
        if (nk == 0 && !global) {
                /* none close enough: a node still owns for itself (the
                 * shared view always keeps the median node) */
                s->nkeys_buf[nk++] = c->viewer;
                sig = sig_add(sig, (uint64_t)c->viewer + 1);
        }
        /* --owners C: the members all bring pieces into their racks; the
         * C whose address hashes lowest own (the signature above covers
         * both, the owners being a function of the members) */
        s->nukeys = 0;
        if (s->o.owners > 0 && nk > s->o.owners) {
                memcpy(s->ukeys, s->nkeys_buf, (size_t)nk * sizeof(int));
                s->nukeys = nk;
                sort_hash = s->khash;
                qsort(s->nkeys_buf, (size_t)nk, sizeof(int), cmp_khash);
                nk = s->o.owners;
                qsort(s->nkeys_buf, (size_t)nk, sizeof(int), cmp_int);
        }
        if (!c->mapped || nk != c->nkeys || sig != c->keys_sig) {
                if (nk > c->ckeys) {
                        c->ckeys = nk;
                        c->keys = xrealloc(c->keys, (size_t)nk, sizeof(int));
                        c->left = xrealloc(c->left, (size_t)nk, sizeof(int));
                        c->moved = xrealloc(c->moved, (size_t)nk, sizeof(double));
                }
                memcpy(c->keys, s->nkeys_buf, (size_t)nk * sizeof(int));
                c->nkeys = nk;
                c->keys_sig = sig;
                if (global)
                        map_global(s, c);
                else
                        map_view(s, c);
                /* moved_.clear(), left_.clear(): every share starts afresh */
                for (i = 0; i < nk; i++) {
                        c->left[i] = -1;
                        c->moved[i] = now;
                }
        }
        for (i = 0; i < nk; i++)
                s->keyidx[c->keys[i]] = i;

        /* every owner's fresh pieces, ascending */
        memset(s->shlen, 0, (size_t)nk * sizeof(int));
        for (p = 0; p < P; p++)
                if (s->fresh[p] && c->owner[p] >= 0)
                        s->shlen[s->keyidx[c->owner[p]]]++;
        for (i = 0, cum = 0; i < nk; i++) {
                s->shbeg[i] = cum;
                s->shfill[i] = 0;
                cum += s->shlen[i];
        }
        for (p = 0; p < P; p++)
                if (s->fresh[p] && c->owner[p] >= 0) {
                        int const ki = s->keyidx[c->owner[p]];

                        s->shp[s->shbeg[ki] + s->shfill[ki]++] = p;
                }

        /* stealers: owners with at most a window left */
        for (i = 0; i < nk; i++)
                if (s->shlen[i] <= w) {
                        s->st[nst] = i;
                        s->sthash[nst] = s->khash[c->keys[i]];
                        nst++;
                }
        if (global) {
                bool same = nst == c->npsteal;

                for (i = 0; same && i < nst; i++)
                        same = c->psteal[i] == c->keys[s->st[i]];
                if (!same) {
                        c->des_ver++;
                        for (i = 0; i < nst; i++)
                                c->psteal[i] = c->keys[s->st[i]];
                        c->npsteal = nst;
                }
        }

        /* a share that has not moved for 1.5 s is open to the stealers whole */
        for (i = 0; i < nk; i++) {
                s->front[i] = w;
                if (s->shlen[i] != c->left[i]) {
                        c->left[i] = s->shlen[i];
                        c->moved[i] = now;
                } else if (now - c->moved[i] > SHARE_STALL) {
                        s->front[i] = 0;
                }
                if (s->shlen[i] > s->front[i])
                        s->ord[no++] = i;
        }
        sort_len = s->shlen;
        qsort(s->ord, (size_t)no, sizeof(int), cmp_share);

        /* what each stealer takes: the longest shares first, each from its
         * top end down to its front, every piece to the stealer the hash
         * names, up to two windows in all (one pass does what the
         * client's loop over stealers does: each piece has one stealer) */
        for (p = 0; p < P; p++)
                s->taker[p] = -1;
        if (nst > 0) {
                int left_room = 0;

                for (i = 0; i < nst; i++) {
                        s->room[i] = 2 * w - s->shlen[s->st[i]];
                        left_room += s->room[i];
                }
                /* --steal in-rack: the stealers of each rack, their hashes
                 * in a row of their own (map_global's scratch, free now) */
                if (s->o.steal_in_rack) {
                        int r;

                        memset(s->gcnt_r, 0, (size_t)s->nmr * sizeof(int));
                        for (i = 0; i < nst; i++)
                                s->gcnt_r[maprack_of(s, c->keys[s->st[i]])]++;
                        s->goff[0] = 0;
                        for (r = 0; r < s->nmr; r++)
                                s->goff[r + 1] = s->goff[r] + s->gcnt_r[r];
                        memset(s->gcnt_r, 0, (size_t)s->nmr * sizeof(int));
                        for (i = 0; i < nst; i++) {
                                int const r2 = maprack_of(s, c->keys[s->st[i]]);
                                int const at = s->goff[r2] + s->gcnt_r[r2]++;

                                s->gids[at] = i;
                                s->ghash[at] = s->sthash[i];
                        }
                }
                for (i = 0; i < no && left_room > 0; i++) {
                        int const k = s->ord[i];
                        int x;

                        for (x = s->shlen[k]; x-- > s->front[k] && left_room > 0;) {
                                int const piece = s->shp[s->shbeg[k] + x];
                                int j;

                                /* in-rack: a share goes to its rack's
                                 * stealers; one that stopped, in a rack
                                 * without any, to all, but for a node
                                 * that sees other racks only through a
                                 * few of their nodes (--cross-view): it
                                 * cannot tell a rack without stealers
                                 * from one whose stealers it does not
                                 * see, nor which of its pieces are in */
                                if (s->o.steal_in_rack &&
                                    (s->front[k] > 0 || s->gcnt_r[maprack_of(s, c->keys[k])] > 0 ||
                                     s->o.cross_view)) {
                                        int const r = maprack_of(s, c->keys[k]), cnt = s->gcnt_r[r];

                                        if (cnt == 0)
                                                break;
                                        j = s->gids[s->goff[r] + (int)ez_rendezvous_owner(s->ghash + s->goff[r],
                                                                                          (size_t)cnt, (uint64_t)piece)];
                                } else if (global) {
                                        if (c->des_stamp[piece] != c->des_ver) {
                                                c->des[piece] = (int)ez_rendezvous_owner(s->sthash, (size_t)nst,
                                                                                         (uint64_t)piece);
                                                c->des_stamp[piece] = c->des_ver;
                                        }
                                        j = c->des[piece];
                                } else {
                                        j = (int)ez_rendezvous_owner(s->sthash, (size_t)nst, (uint64_t)piece);
                                }
                                if (s->room[j] > 0) {
                                        s->taker[piece] = c->keys[s->st[j]];
                                        s->room[j]--;
                                        left_room--;
                                }
                        }
                }
        }

        /* each node's ask: the front of its share no stealer took, then
         * what it took, ascending */
        if (global) {
                memset(s->nask, 0, (size_t)s->n * sizeof(int));
                memset(s->nown6, 0, (size_t)s->n * sizeof(int));
                for (i = 0; i < nk; i++)
                        fill_ask(s, c->keys[i], i);
        } else {
                s->nask[c->viewer] = s->nown6[c->viewer] = 0;
                if (s->keyidx[c->viewer] >= 0)
                        fill_ask(s, c->viewer, s->keyidx[c->viewer]);
        }
        for (p = 0; p < P; p++) {
                int const k = s->taker[p];

                if (k >= 0 && (global || k == c->viewer) && s->nask[k] < ASK_MAX)
                        s->ask[(size_t)k * ASK_MAX + (size_t)s->nask[k]++] = p;
        }

        /* racks: what each node brings in, and what its rack-mates leave
         * to it (priority 0 for them) */
        if (s->aware) {
                if (global) {
                        int r;

                        memset(s->nduty, 0, (size_t)s->n * sizeof(int));
                        for (r = 0; r < s->nmr; r++) {
                                const int *cnt = pool_cnt(s, r), *imp = c->imp + (size_t)r * (size_t)P;
                                uint8_t *bl = c->blocked + (size_t)r * (size_t)P;

                                for (p = 0; p < P; p++) {
                                        int const k = imp[p];
                                        bool const out = !s->fresh[p] && cnt[p] == 0 && k >= 0;
                                        bool const was = bl[p];

                                        bl[p] = out && !s->stuck[k];
                                        if (was && !bl[p] && cnt[p] > 0)
                                                unblock_push(s, r, p);
                                        if (out && !has(s, k, p))
                                                duty_push(s, k, p);
                                }
                        }
                } else {
                        int const v = c->viewer;

                        s->nduty[v] = 0;
                        for (p = 0; p < P; p++) {
                                int const k = c->imp[p];
                                bool const out = !s->fresh[p] && !s->inrack[p] && k >= 0;
                                bool const was = c->blocked[p];

                                c->blocked[p] = out && k != v && !s->stuck[k];
                                if (was && !c->blocked[p] && s->inrack[p])
                                        unblock_push(s, -1 - v, p);
                                if (out && k == v && !has(s, v, p))
                                        duty_push(s, v, p);
                        }
                }
        }
        for (i = 0; i < nk; i++)
                s->keyidx[c->keys[i]] = -1;
}

/* the request budget's share a sender gives each requester (blocks) */
static int depth_for(const struct sim *s, int peers)
{
        int blocks;

        if (s->o.per_peer > 0)
                return s->o.per_peer;
        if (peers < 1)
                peers = 1;
        blocks = EZ_REQUEST_BUDGET_BLOCKS / peers;
        if (blocks > EZ_REQUEST_QUEUE_MAX)
                blocks = EZ_REQUEST_QUEUE_MAX;
        if (blocks < EZ_REQUEST_QUEUE_MIN)
                blocks = EZ_REQUEST_QUEUE_MIN;
        return blocks;
}


/* Connections to holders in other racks pile up as a node imports from
 * many: the idle ones go, the others keep their place. */
static void compact_conns(struct sim *s, int n)
{
        int i, k = 1;

        if (s->ncv[n] <= s->psize + 64)
                return;
        for (i = 1; i < s->ncv[n]; i++) {
                const struct conn *c = s->cv[n] + i;

                if (c->len == 0 && !same_pool(s, n, c->src))
                        continue;
                s->cv[n][k] = *c;
                if (c->len > 0) {
                        s->busy[2 * c->busy + 1] = k;
                        s->sl[c->src][2 * c->sent + 1] = k;
                }
                if (same_pool(s, n, c->src))
                        s->cidx[(size_t)n * (size_t)s->psize + (size_t)member_of(s, c->src)] = k;
                k++;
        }
        s->ncv[n] = k;
}

static void start_node(struct sim *s, int i)
{
        s->started[i] = true;
        s->nstarted++;
        s->cross_total -= cross_share(s, rack_of(s, i));
        s->started_in_rack[rack_of(s, i)]++;
        s->cross_total += cross_share(s, rack_of(s, i));
        s->changed[i] = s->last_block[i] = s->avail_at[i] = s->t;
        s->full_due[i] = true;
        /* libtorrent connects to the seeder at once, if it takes more */
        s->wants[i] = true;
        if (s->nconn < s->o.seeder_conns) {
                s->conn[i] = true;
                s->nconn++;
        }
}

static void update(struct sim *s)
{
        int const n = s->n;
        int i, nwait = 0;

        for (i = 0; i < n; i++)
                s->stuck[i] = active(s, i) && s->t - s->changed[i] > IMPORTER_STALL;
        /* watch(): released, and no block came in for --seeder-stall
         * seconds (5 in the client), not counting the time when no node
         * held a piece it lacks, up to 30 s (--stall-rule always: the
         * client before, counting it) */
        if (s->o.stall_rule >= STALL_AVAILABLE) {
                int p, held_somewhere = 0;

                for (p = 0; p < s->P; p++)
                        held_somewhere += s->gcnt[p] > 0;
                for (i = 0; i < n; i++) {
                        if (!active(s, i))
                                continue;
                        if (s->held[i] < held_somewhere)
                                s->avail_at[i] = s->t;
                        else if (s->t - s->avail_at[i] < STALL_CEILING)
                                s->last_block[i] = s->t;
                }
        }
        /* --stall-rule swarm: nor while another node downloading gained
         * a piece within as long (the node waits in line, it is not cut
         * off), up to 30 s without a block; the two latest gains, so as
         * to leave out the node's own */
        double last1 = -1, last2 = -1;
        int who1 = -1;

        if (s->o.stall_rule == STALL_SWARM)
                for (i = 0; i < n; i++) {
                        if (!active(s, i))
                                continue;
                        if (s->changed[i] > last1) {
                                last2 = last1;
                                last1 = s->changed[i];
                                who1 = i;
                        } else if (s->changed[i] > last2) {
                                last2 = s->changed[i];
                        }
                }
        for (i = 0; i < n && s->o.seeder_stall > 0; i++) {
                double const others = i == who1 ? last2 : last1;

                if (active(s, i) && !s->wants[i] && !s->never[i] && s->t - s->last_block[i] > s->o.seeder_stall &&
                    (s->o.stall_rule != STALL_SWARM || s->t - others > s->o.seeder_stall ||
                     s->t - s->last_block[i] > STALL_CEILING))
                        s->never[i] = true;
        }
        if (s->views) {
                for (i = 0; i < n; i++)
                        if (active(s, i))
                                sched_update(s, s->views[i]);
        } else {
                sched_update(s, s->global);
        }
        /* use_seeders(): a node with nothing to ask the seeder for lets go
         * of it, and the seeder takes new connections up to its limit */
        for (i = 0; i < n; i++) {
                if (!active(s, i))
                        continue;
                s->wants[i] = s->nask[i] > 0 || s->never[i];
                if (!s->wants[i] && s->conn[i]) {
                        cancel_seeder(s, i);
                        s->conn[i] = false;
                        s->nconn--;
                }
                nwait += s->wants[i] && !s->conn[i];
        }
        if (nwait > 0 && s->nconn < s->o.seeder_conns) {
                /* in a random order: who gets in first is luck */
                int const k = rnd_below(n);

                for (i = 0; i < n && s->nconn < s->o.seeder_conns; i++) {
                        int const x = (i + k) % n;

                        if (active(s, x) && s->wants[x] && !s->conn[x]) {
                                s->conn[x] = true;
                                s->nconn++;
                        }
                }
        }
        /* the request budget: each sender shares it among its peers */
        for (i = 0; i < n; i++)
                s->depth[i] = depth_for(s, (s->views ? s->adj_off[i + 1] - s->adj_off[i] : s->nstarted - 1) + 1);
        s->depth[n] = depth_for(s, s->nconn);
        for (i = 0; i < n; i++) {
                bool full = s->full_due[i] || s->updates % 5 == 0 || s->views;

                /* end game starts when every missing piece is started */
                if (active(s, i) && !s->endgame[i] && s->held[i] + s->npv[i] == s->P)
                        full = s->endgame[i] = true;
                s->full_due[i] = false;
                compact_conns(s, i);
                refill_all(s, i, full);
        }
        /* what the update unblocked, from a holder in the rack */
        for (i = 0; i < s->nunblk; i++) {
                int const r = s->unblk[2 * i], p = s->unblk[2 * i + 1];
                int x, lo = r >= 0 ? r * s->m : -1 - r, hi = r >= 0 ? lo + s->m : lo + 1;

                for (x = lo; x < hi; x++) {
                        int h;

                        if (!active(s, x) || free_block(s, x, p) < 0 || blocked(s, x, p))
                                continue;
                        h = pool_holder(s, x, pool_of(s, x), p);
                        if (h >= 0)
                                fill_conn(s, x, h);
                }
        }
        s->nunblk = 0;
        s->updates++;
}

/* ------------------------------------------------------------------ */
/* transfers: one flow per connection with something asked, its oldest
 * block in transfer; rates max-min fair over the ports and rack uplinks */

static int res_up(const struct sim *s, int x)
{
        (void)s;
        return x;                       /* 0..n: n is the seeder */
}

/* the seeder's downlink carries only ACKs and HAVEs (--overhead) */
static int res_down(const struct sim *s, int x)
{
        return s->n + 1 + x;            /* 0..n, as res_up() */
}

static int res_rack_out(const struct sim *s, int r)
{
        return 2 * s->n + 2 + r;        /* 0..nr: nr is the seeder's rack */
}

static int res_rack_in(const struct sim *s, int r)
{
        return 2 * s->n + 2 + s->nr + 1 + r;
}

static int src_rack(const struct sim *s, int x)
{
        return x == s->n ? s->nr : rack_of(s, x);
}

/* ------------------------------------------------------------------ */
/* wire overhead (--overhead): framing scales what the data may take of a
 * link; HAVEs and ACKs are bytes due on each link they cross, sent ahead
 * of the data over CONTROL_WINDOW.  Each is counted when it is due. */

/* --cross-peers: the nodes of rack r that a HAVE from another rack reaches
 * (every started node there without it) */
static int cross_share(const struct sim *s, int r)
{
        int const m = s->started_in_rack[r];
        return s->o.cross > 0 && s->racked ? (m < 2 * s->o.cross ? m : 2 * s->o.cross) : m;
}

/* the nodes outside rack a that a HAVE from a node of a reaches: the
 * racks' shares summed as nodes start (cross_total), less a's own */
static int cross_recipients(const struct sim *s, int a)
{
        return s->cross_total - cross_share(s, a);
}

/*
 * --piggyback: the nodes h exchanges data with now, either way, into
 * s->partner (marked in s->pmark with a new stamp); their count.  A HAVE
 * to one of them rides in the data h sends it or in h's ACKs of the data
 * it sends: no frame of its own, and no ACK of its own.
 */
static int data_partners(struct sim *s, int h)
{
        int k, np = 0;

        if (++s->pstamp == INT_MAX) {
                memset(s->pmark, 0, (size_t)s->n * sizeof(int));
                s->pstamp = 1;
        }
        if (!s->o.piggyback)
                return 0;
        for (k = 0; k < s->nsl[h]; k++) {
                int const x = s->sl[h][2 * k];

                if (s->pmark[x] != s->pstamp) {
                        s->pmark[x] = s->pstamp;
                        s->partner[np++] = x;
                }
        }
        for (k = 1; k < s->ncv[h]; k++) {
                int const x = s->cv[h][k].src;

                if (s->cv[h][k].len > 0 && s->pmark[x] != s->pstamp) {
                        s->pmark[x] = s->pstamp;
                        s->partner[np++] = x;
                }
        }
        return np;
}

/*
 * h completed a piece.  libtorrent sends a HAVE to every peer it is
 * connected to (send_redundant_have, the default: to those that hold the
 * piece too).  To a peer it exchanges no data with it goes in a frame of
 * its own (TCP_NODELAY), which the peer acknowledges one in
 * HAVES_PER_ACK; to a data partner (data_partners()) it is HAVE_MSG bytes
 * in a frame that goes anyway.  The peers: every started node in the
 * shared view (view K: those h sees), and the seeder while h is on it.
 * In the shared view the bytes each node receives are added at the end of
 * the step, for all HAVEs of the step at once (control_drain(), as
 * framed), and each partner's saving taken off here: one loop over the
 * nodes per piece would be N x N x P work.
 */
static void have_sent(struct sim *s, int h)
{
        double const ack = (double)ACK_FRAME / HAVES_PER_ACK, save = HAVE_FRAME - HAVE_MSG;
        int const n = s->n, a = rack_of(s, h);
        int framed = 0, out = 0;        /* peers sent a frame; those in another rack */
        int riding = 0, rout = 0;       /* data partners; those in another rack */
        int np, k;

        if (!s->o.overhead)
                return;
        np = data_partners(s, h);
        if (s->conn[h]) {
                /* the seeder acknowledges, and has nothing else to say,
                 * unless it is sending h data */
                bool const rides = s->o.piggyback && s->cv[h][0].len > 0;
                double const in = rides ? HAVE_MSG : HAVE_FRAME;

                s->ctl[res_down(s, n)] += in;
                if (s->racked)
                        s->ctl[res_rack_in(s, s->nr)] += in;
                if (rides) {
                        riding++;
                        rout++;
                } else {
                        s->ctl[res_up(s, n)] += ack;
                        s->seeder_bytes += ack;
                        if (s->racked)
                                s->ctl[res_rack_out(s, s->nr)] += ack;
                        framed++;
                        out++;
                }
        }
        if (s->views) {
                const int *adj = s->adj + s->adj_off[h];
                int nc = s->adj_off[h + 1] - s->adj_off[h];

                for (k = 0; k < nc; k++) {
                        int const x = adj[k], b = rack_of(s, x);
                        bool const rides = s->pmark[x] == s->pstamp;
                        double const in = rides ? HAVE_MSG : HAVE_FRAME;

                        if (!s->started[x])
                                continue;
                        s->ctl[res_down(s, x)] += in;
                        if (!rides)
                                s->ctl[res_up(s, x)] += ack;
                        riding += rides;
                        framed += !rides;
                        if (s->racked && b != a) {
                                s->ctl[res_rack_in(s, b)] += in;
                                s->spine_in[b] += in;
                                if (!rides)
                                        s->ctl[res_rack_out(s, b)] += ack;
                                rout += rides;
                                out += !rides;
                        }
                }
        } else {
                int const outside = cross_recipients(s, a);

                framed += s->started_in_rack[a] - 1 + outside;
                out += outside;
                s->have_bc++;
                s->have_bc_rack[a]++;
                /* h is one of the started nodes that control_drain()
                 * gives the step's HAVEs to, but sends itself none */
                s->ctl[res_down(s, h)] -= HAVE_FRAME;
                s->ctl[res_up(s, h)] -= ack;
                /* and each partner takes it in a frame that goes anyway */
                for (k = 0; k < np; k++) {
                        int const x = s->partner[k], b = rack_of(s, x);

                        if (!s->started[x])
                                continue;
                        s->ctl[res_down(s, x)] -= save;
                        s->ctl[res_up(s, x)] -= ack;
                        riding++;
                        framed--;
                        if (s->racked && b != a) {
                                s->ctl[res_rack_in(s, b)] -= save;
                                s->ctl[res_rack_out(s, b)] -= ack;
                                s->spine_in[b] -= save;
                                rout++;
                                out--;
                        }
                }
        }
        s->ctl[res_up(s, h)] += HAVE_FRAME * framed + HAVE_MSG * riding;
        s->ctl[res_down(s, h)] += ack * framed;
        if (s->racked && out + rout > 0) {
                s->ctl[res_rack_out(s, a)] += HAVE_FRAME * out + HAVE_MSG * rout;
                s->ctl[res_rack_in(s, a)] += ack * out;
                s->spine_in[a] += ack * out;
        }
        s->control_bytes += (HAVE_FRAME + ack) * framed + HAVE_MSG * riding;
}

/*
 * used payload bytes moved from src to dst: dst acknowledges every
 * SEGS_PER_ACK segments, back up its port, across the spine if the data
 * came across, and into src's port.
 */
static void data_acked(struct sim *s, int src, int dst, bool cross, double used)
{
        double const ack = used * s->ack_per_byte;

        if (!s->o.overhead || used <= 0)
                return;
        s->ctl[res_up(s, dst)] += ack;
        s->ctl[res_down(s, src)] += ack;
        if (cross) {
                s->ctl[res_rack_out(s, rack_of(s, dst))] += ack;
                s->ctl[res_rack_in(s, src_rack(s, src))] += ack;
                if (src < s->n)
                        s->spine_in[src_rack(s, src)] += ack;
        }
        s->control_bytes += ack;
}

/*
 * What each link leaves to the data this step, in payload bytes/s: the
 * control due goes first, spread over CONTROL_WINDOW (and never more
 * than the link: the rest waits), and the data takes frame bytes of the
 * rest per payload byte.  Without --overhead, the link.
 */
static void control_reserve(struct sim *s)
{
        int r;

        for (r = 0; r < s->nres; r++) {
                double const c = s->o.overhead ? fmin(fmax(s->ctl[r], 0) / CONTROL_WINDOW, s->cap[r]) : 0;

                s->ctl_rate[r] = c;
                s->avail[r] = (s->cap[r] - c) / s->frame;
        }
}

/*
 * After a step of dt: the shared view's HAVEs of the step reach every
 * started node (and across the spine into its rack, from the others),
 * and each link sends what control_reserve() kept for it.  A step never
 * crosses an update (--update, 0.2 s), so with the default it is never
 * longer than CONTROL_WINDOW and what a link sends is what it reserved.
 */
static void control_drain(struct sim *s, double dt)
{
        double const ack = (double)ACK_FRAME / HAVES_PER_ACK;
        int r, x;

        if (!s->o.overhead)
                return;
        if (s->have_bc > 0) {
                double const bc = s->have_bc;

                for (x = 0; x < s->n; x++)
                        if (s->started[x]) {
                                /* its own rack's HAVEs, and its share of the others' */
                                int const r = rack_of(s, x), m = s->started_in_rack[r];
                                double const got = s->have_bc_rack[r] +
                                                   (bc - s->have_bc_rack[r]) * (m > 0 ? (double)cross_share(s, r) / m : 1);
                                s->ctl[res_down(s, x)] += HAVE_FRAME * got;
                                s->ctl[res_up(s, x)] += ack * got;
                        }
                for (r = 0; r < s->nr; r++) {
                        double const k = (double)cross_share(s, r) * (s->have_bc - s->have_bc_rack[r]);

                        if (s->racked && k > 0) {
                                s->ctl[res_rack_in(s, r)] += HAVE_FRAME * k;
                                s->ctl[res_rack_out(s, r)] += ack * k;
                                s->spine_in[r] += HAVE_FRAME * k;
                        }
                        s->have_bc_rack[r] = 0;
                }
                s->have_bc = 0;
        }
        for (r = 0; r < s->nres; r++)
                s->ctl[r] = fmax(s->ctl[r] - s->ctl_rate[r] * dt, 0);
}

static void build_flows(struct sim *s)
{
        int i;

        if (s->cfl < s->nbusy) {
                s->cfl = 2 * s->nbusy;
                s->fl = xrealloc(s->fl, (size_t)s->cfl, sizeof(*s->fl));
        }
        s->nfl = s->nbusy;
        for (i = 0; i < s->nbusy; i++) {
                int const n = s->busy[2 * i], ci = s->busy[2 * i + 1];
                const struct conn *c = s->cv[n] + ci;
                struct flow *f = s->fl + i;

                f->dst = n;
                f->ci = ci;
                f->src = c->src;
                f->rate = 0;
                f->left = block_len(s, c->piece[0], c->block[0]) - c->done;
                f->nres = 2;
                f->res[0] = res_up(s, c->src);
                f->res[1] = res_down(s, n);
                if (s->racked && src_rack(s, c->src) != rack_of(s, n)) {
                        f->res[2] = res_rack_out(s, src_rack(s, c->src));
                        f->res[3] = res_rack_in(s, rack_of(s, n));
                        f->nres = 4;
                }
        }
}

static void heap_push(struct sim *s, double key, int r)
{
        int i = s->nheap++;

        if (s->nheap > s->cheap) {
                s->cheap = 2 * s->nheap;
                s->heap = xrealloc(s->heap, (size_t)s->cheap, sizeof(*s->heap));
        }
        while (i > 0) {
                int const up = (i - 1) / 2;

                if (s->heap[up].key <= key)
                        break;
                s->heap[i] = s->heap[up];
                i = up;
        }
        s->heap[i].key = key;
        s->heap[i].r = r;
}

static struct hent heap_pop(struct sim *s)
{
        struct hent top = s->heap[0], last = s->heap[--s->nheap];
        int i = 0;

        for (;;) {
                int c = 2 * i + 1;

                if (c >= s->nheap)
                        break;
                if (c + 1 < s->nheap && s->heap[c + 1].key < s->heap[c].key)
                        c++;
                if (last.key <= s->heap[c].key)
                        break;
                s->heap[i] = s->heap[c];
                i = c;
        }
        if (s->nheap > 0)
                s->heap[i] = last;
        return top;
}

/*
 * Progressive filling: raise every flow's rate together; when a link is
 * full, the flows through it keep the rate they have, and the others go
 * on.  The links wait in a heap by fair share (what is left over the
 * flows still growing), which only grows as flows leave a link at a
 * lower rate.
 */
static void maxmin(struct sim *s)
{
        int const nres = s->nres;
        int f, r, i, total = 0;

        memset(s->rcnt, 0, (size_t)nres * sizeof(int));
        for (f = 0; f < s->nfl; f++)
                for (i = 0; i < s->fl[f].nres; i++)
                        s->rcnt[s->fl[f].res[i]]++;
        s->roff[0] = 0;
        for (r = 0; r < nres; r++) {
                s->roff[r + 1] = s->roff[r] + s->rcnt[r];
                s->rfill[r] = 0;
                s->rem[r] = s->avail[r];
                s->rleft[r] = s->rcnt[r];
        }
        total = s->roff[nres];
        if (total > s->crfl) {
                s->crfl = 2 * total;
                s->rfl = xrealloc(s->rfl, (size_t)s->crfl, sizeof(int));
        }
        if (s->cfrozen < s->nfl) {
                s->cfrozen = s->cfl;
                s->frozen = xrealloc(s->frozen, (size_t)s->cfrozen, 1);
        }
        for (f = 0; f < s->nfl; f++) {
                for (i = 0; i < s->fl[f].nres; i++) {
                        r = s->fl[f].res[i];
                        s->rfl[s->roff[r] + s->rfill[r]++] = f;
                }
                s->frozen[f] = 0;
        }
        s->nheap = 0;
        for (r = 0; r < nres; r++)
                if (s->rleft[r] > 0)
                        heap_push(s, s->rem[r] / s->rleft[r], r);
        while (s->nheap > 0) {
                struct hent e = heap_pop(s);
                double share;

                r = e.r;
                if (s->rleft[r] == 0)
                        continue;
                /* an entry is the link's share when pushed, a lower bound of
                 * it now: one that grew goes back in at its new value */
                share = s->rem[r] / s->rleft[r];
                if (share > e.key * (1 + 1e-12)) {
                        heap_push(s, share, r);
                        continue;
                }
                for (i = s->roff[r]; i < s->roff[r + 1]; i++) {
                        struct flow *fp;
                        int k;

                        f = s->rfl[i];
                        if (s->frozen[f])
                                continue;
                        s->frozen[f] = 1;
                        fp = s->fl + f;
                        fp->rate = share;
                        for (k = 0; k < fp->nres; k++) {
                                int const x = fp->res[k];

                                if (x == r)
                                        continue;
                                s->rem[x] -= share;
                                if (s->rem[x] < 0)
                                        s->rem[x] = 0;
                                s->rleft[x]--;
                        }
                }
                s->rleft[r] = 0;
                s->rem[r] = 0;
        }
}

static const struct sim *sort_sim;

static int cmp_since(const void *a, const void *b)
{
        const struct flow *x = sort_sim->fl + *(const int *)a, *y = sort_sim->fl + *(const int *)b;
        double const tx = sort_sim->cv[x->dst][x->ci].since, ty = sort_sim->cv[y->dst][y->ci].since;

        if (tx != ty)
                return (tx > ty) - (tx < ty);
        return (x->dst > y->dst) - (x->dst < y->dst);
}

/*
 * --seeder-order piece: the lowest piece in transfer first; fresh: and a
 * piece the seeder has already begun sending to another node after every
 * piece it has not (what the seeder knows of its own uploads)
 */
static int cmp_head_piece(const void *a, const void *b)
{
        const struct flow *x = sort_sim->fl + *(const int *)a, *y = sort_sim->fl + *(const int *)b;
        int const px = sort_sim->cv[x->dst][x->ci].piece[0], py = sort_sim->cv[y->dst][y->ci].piece[0];

        if (sort_sim->o.seeder_order == ORDER_FRESH) {
                int const fx = sort_sim->sfirst[px], fy = sort_sim->sfirst[py];
                bool const rx = fx >= 0 && fx != x->dst, ry = fy >= 0 && fy != y->dst;

                if (rx != ry)
                        return rx - ry;
        }
        if (px != py)
                return (px > py) - (px < py);
        return cmp_since(a, b);
}

/* the lowest piece node n asks for (its share's front or a piece it
 * stole), what it tells the seeder; INT_MAX with nothing to ask */
static int told_front(const struct sim *s, int n)
{
        int const *a = s->ask + (size_t)n * ASK_MAX;
        int i, m = INT_MAX;

        for (i = 0; i < s->nask[n]; i++)
                m = a[i] < m ? a[i] : m;
        return m;
}

/* --seeder-order told: the nodes that told the lowest front first, as
 * the client's seeder chooses its upload slots (upload_slots.cpp); the
 * fronts in s->told, taken before the sort */
static int cmp_told(const void *a, const void *b)
{
        const struct flow *x = sort_sim->fl + *(const int *)a, *y = sort_sim->fl + *(const int *)b;
        int const fx = sort_sim->told[x->dst], fy = sort_sim->told[y->dst];

        if (fx != fy)
                return (fx > fy) - (fx < fy);
        return cmp_since(a, b);
}

/*
 * --seeder-slots K: the seeder sends on K connections at a time, those of
 * the nodes that told it the lowest piece they ask for (--seeder-order,
 * as the client's upload slots; what-ifs: the block in transfer asked
 * first, or of the lowest piece); the others wait.
 */
static void seeder_slots(struct sim *s)
{
        int f, ns = 0, i;

        if (s->o.seeder_slots <= 0)
                return;
        if (s->csfl < s->nfl) {
                s->csfl = s->cfl;
                s->sfl = xrealloc(s->sfl, (size_t)s->csfl, sizeof(int));
        }
        for (f = 0; f < s->nfl; f++)
                if (s->fl[f].src == s->n)
                        s->sfl[ns++] = f;
        if (ns <= s->o.seeder_slots)
                return;
        sort_sim = s;
        if (s->o.seeder_order == ORDER_TOLD)
                for (i = 0; i < ns; i++)
                        s->told[s->fl[s->sfl[i]].dst] = told_front(s, s->fl[s->sfl[i]].dst);
        qsort(s->sfl, (size_t)ns, sizeof(int),
              s->o.seeder_order == ORDER_TOLD ? cmp_told : s->o.seeder_order != ORDER_OLDEST ? cmp_head_piece : cmp_since);
        for (i = s->o.seeder_slots; i < ns; i++)
                s->fl[s->sfl[i]].nres = -1;
        for (f = 0, i = 0; f < s->nfl; f++)
                if (s->fl[f].nres > 0)
                        s->fl[i++] = s->fl[f];
        s->nfl = i;
}

/*
 * dt seconds of every flow at its rate.  A block that completes hands the
 * rest of the step's bytes to the next one on the same connection, after
 * the node has asked that sender for more, as libtorrent does when a
 * block arrives: a busy connection does not idle to the end of the step.
 */
static void advance(struct sim *s, double dt)
{
        int f;

        for (f = 0; f < s->nfl; f++) {
                struct flow const fp = s->fl[f];
                int const n = fp.dst;
                bool const cross = fp.nres == 4;       /* through two rack uplinks */
                double budget = fp.rate * dt, used = 0;

                if (fp.rate <= 0)
                        continue;
                while (budget > 0 && active(s, n)) {
                        struct conn *c = s->cv[n] + fp.ci;
                        double need, moved;

                        if (c->len == 0)
                                break;
                        need = block_len(s, c->piece[0], c->block[0]) - c->done;
                        moved = budget + 1e-9 >= need ? need : budget;
                        /* the counters count what the testbed's do: frames
                         * (the pieces sent twice: payload) */
                        if (fp.src == s->n) {
                                s->seeder_bytes += moved * s->frame;
                                s->sbytes[c->piece[0]] += moved;
                                if (s->sfirst[c->piece[0]] < 0 && moved > 0)
                                        s->sfirst[c->piece[0]] = n;
                        }
                        if (cross)
                                s->spine_in[fp.res[3] - res_rack_in(s, 0)] += moved * s->frame;
                        used += moved;
                        budget -= moved;
                        if (moved < need) {
                                c->done += moved;
                                break;
                        }
                        block_in(s, n, fp.ci, s->t + used / fp.rate);
                        fill_conn(s, n, fp.src);
                }
                data_acked(s, fp.src, n, cross, used);
        }
}

/* the soonest a block in transfer completes at the current rates, and the
 * mean time a transfer takes for a whole block */
static void horizon(const struct sim *s, double *soonest, double *block_time)
{
        double best = 1e300, sum = 0;
        int f;

        for (f = 0; f < s->nfl; f++) {
                const struct flow *fp = s->fl + f;

                if (fp->rate <= 0)
                        continue;
                sum += fp->rate;
                if (fp->left < best * fp->rate)
                        best = fp->left / fp->rate;
        }
        *soonest = best;
        *block_time = sum > 0 ? BLOCK * (double)s->nfl / sum : 1e300;
}

/* ------------------------------------------------------------------ */
/* setup */

static const char (*sort_addr)[32];

static int cmp_addr(const void *a, const void *b)
{
        return strcmp(sort_addr[*(const int *)a], sort_addr[*(const int *)b]);
}

/* --cross-view: whether i and x are connected: rack-mates, or partners
 * by the client's own rule (ez_rendezvous_partners: places within K, the
 * union of both ends' windows of 2K), or with --cross-rule hash or
 * --cross-racks either one of the other's nodes */
static bool cross_linked(const struct sim *s, int i, int x)
{
        if (rack_of(s, x) == rack_of(s, i))
                return true;
        if (s->o.cross_hash || s->o.cross_racks > 0)
                return cross_partner(s, i, x) || cross_partner(s, x, i);
        return ez_rendezvous_partners((size_t)member_of(s, i), (size_t)s->m, (size_t)member_of(s, x), (size_t)s->m,
                                      (size_t)s->o.cross);
}

static void build_views(struct sim *s)
{
        int const n = s->n, K = s->o.cross_view ? 0 : s->o.view;
        int *draw = xcalloc((size_t)n * (size_t)K + 1, sizeof(int));
        int *deg = xcalloc((size_t)n, sizeof(int));
        int *fill, i, j, x;

        /* each node draws K distinct others, as from the tracker's lists */
        for (i = 0; i < n; i++)
                for (j = 0; j < K; j++) {
                        int d;

                        do {
                                x = rnd_below(n);
                                for (d = 0; d < j && draw[(size_t)i * K + d] != x; d++)
                                        ;
                        } while (x == i || d < j);
                        draw[(size_t)i * K + j] = x;
                        deg[i]++;
                        deg[x]++;
                }
        /* --cross-view: its rack-mates and its nodes in the other racks */
        for (i = 0; s->o.cross_view && i < n; i++)
                for (x = i + 1; x < n; x++)
                        if (cross_linked(s, i, x)) {
                                deg[i]++;
                                deg[x]++;
                        }
        /* connections go both ways: a node sees those it drew and those
         * that drew it */
        s->adj_off = xcalloc((size_t)n + 1, sizeof(int));
        for (i = 0; i < n; i++)
                s->adj_off[i + 1] = s->adj_off[i] + deg[i];
        s->adj = xcalloc((size_t)s->adj_off[n] + 1, sizeof(int));
        fill = xcalloc((size_t)n, sizeof(int));
        for (i = 0; i < n; i++)
                for (j = 0; j < K; j++) {
                        x = draw[(size_t)i * K + j];
                        s->adj[s->adj_off[i] + fill[i]++] = x;
                        s->adj[s->adj_off[x] + fill[x]++] = i;
                }
        for (i = 0; s->o.cross_view && i < n; i++)
                for (x = i + 1; x < n; x++)
                        if (cross_linked(s, i, x)) {
                                s->adj[s->adj_off[i] + fill[i]++] = x;
                                s->adj[s->adj_off[x] + fill[x]++] = i;
                        }
        /* sorted and without repeats, packed again */
        {
                int out = 0;

                for (i = 0; i < n; i++) {
                        int const b = s->adj_off[i], e = s->adj_off[i + 1], start = out;

                        qsort(s->adj + b, (size_t)(e - b), sizeof(int), cmp_int);
                        for (j = b; j < e; j++)
                                if (out == start || s->adj[out - 1] != s->adj[j])
                                        s->adj[out++] = s->adj[j];
                        s->adj_off[i] = start;
                }
                s->adj_off[n] = out;
        }
        free(draw);
        free(deg);
        free(fill);
}

static struct ctx *new_ctx(struct sim *s, int viewer)
{
        struct ctx *c = xcalloc(1, sizeof(*c));
        size_t const P = (size_t)s->P;
        int i;

        c->viewer = viewer;
        c->owner = xcalloc(P, sizeof(int));
        if (viewer < 0) {
                c->nmem = s->n;
                c->mem = s->by_addr;
                c->imp = xcalloc((size_t)s->nmr * P, sizeof(int));
                c->blocked = xcalloc(s->aware ? (size_t)s->nmr * P : 1, 1);
                c->rsig = xcalloc((size_t)s->nmr, sizeof(uint64_t));
                c->rp = xcalloc(P, sizeof(int));
                c->des = xcalloc(P, sizeof(int));
                c->des_stamp = xcalloc(P, sizeof(uint32_t));
                c->des_ver = 1;
                c->psteal = xcalloc((size_t)s->n, sizeof(int));
        } else {
                int const b = s->adj_off[viewer], e = s->adj_off[viewer + 1];

                c->nmem = e - b + 1;
                c->mem = xcalloc((size_t)c->nmem, sizeof(int));
                for (i = b; i < e; i++)
                        c->mem[i - b] = s->adj[i];
                c->mem[e - b] = viewer;
                /* address order: sort by rank, then back to node ids */
                for (i = 0; i < c->nmem; i++)
                        c->mem[i] = s->rank[c->mem[i]];
                qsort(c->mem, (size_t)c->nmem, sizeof(int), cmp_int);
                for (i = 0; i < c->nmem; i++)
                        c->mem[i] = s->by_addr[c->mem[i]];
                c->imp = xcalloc(P, sizeof(int));
                c->blocked = xcalloc(P, 1);
        }
        return c;
}


static void setup(struct sim *s)
{
        int const n = s->n;
        size_t const P = (size_t)s->P;
        char (*addr)[32] = xcalloc((size_t)n, sizeof(*addr));
        int i, pool;

        s->khash = xcalloc((size_t)n, sizeof(uint64_t));
        s->by_addr = xcalloc((size_t)n, sizeof(int));
        s->rank = xcalloc((size_t)n, sizeof(int));
        /* node keys as the client's: addresses, one /24 per rack */
        for (i = 0; i < n; i++) {
                snprintf(addr[i], sizeof(addr[i]), "10.0.%d.%d", rack_of(s, i) + 1, i % s->m + 1);
                s->khash[i] = ez_rendezvous_key(addr[i], strlen(addr[i]));
                s->by_addr[i] = i;
        }
        sort_addr = (const char (*)[32])addr;
        qsort(s->by_addr, (size_t)n, sizeof(int), cmp_addr);
        for (i = 0; i < n; i++)
                s->rank[s->by_addr[i]] = i;
        free(addr);

        s->nmr = s->aware ? s->nr : 1;
        s->mr_hash = xcalloc((size_t)s->nmr, sizeof(uint64_t));
        for (i = 0; i < s->nmr; i++) {
                char name[16];

                /* rack-blind, every node is in rack "" */
                if (s->aware)
                        snprintf(name, sizeof(name), "rk%d", i + 1);
                else
                        name[0] = 0;
                s->mr_hash[i] = ez_rendezvous_key(name, strlen(name));
        }

        s->npool = s->aware ? s->nr : 1;
        s->psize = s->aware ? s->m : n;
        s->have = xcalloc((size_t)n * (size_t)s->W, sizeof(uint64_t));
        s->asked = xcalloc((size_t)n * (size_t)s->W, sizeof(uint64_t));
        s->held = xcalloc((size_t)n, sizeof(int));
        s->nasked = xcalloc((size_t)n, sizeof(int));
        s->start = xcalloc((size_t)n, sizeof(double));
        s->done_at = xcalloc((size_t)n, sizeof(double));
        s->changed = xcalloc((size_t)n, sizeof(double));
        s->last_block = xcalloc((size_t)n, sizeof(double));
        s->avail_at = xcalloc((size_t)n, sizeof(double));
        s->started = xcalloc((size_t)n, sizeof(bool));
        s->wants = xcalloc((size_t)n, sizeof(bool));
        s->conn = xcalloc((size_t)n, sizeof(bool));
        s->never = xcalloc((size_t)n, sizeof(bool));
        s->stuck = xcalloc((size_t)n, sizeof(bool));
        s->full_due = xcalloc((size_t)n, sizeof(bool));
        s->endgame = xcalloc((size_t)n, sizeof(bool));
        s->cv = xcalloc((size_t)n, sizeof(struct conn *));
        s->sl = xcalloc((size_t)n + 1, sizeof(int *));
        s->nsl = xcalloc((size_t)n + 1, sizeof(int));
        s->csl = xcalloc((size_t)n + 1, sizeof(int));
        s->partner = xcalloc((size_t)n, sizeof(int));
        s->pmark = xcalloc((size_t)n, sizeof(int));
        s->ncv = xcalloc((size_t)n, sizeof(int));
        s->ccv = xcalloc((size_t)n, sizeof(int));
        s->cidx = xcalloc((size_t)n * (size_t)s->psize, sizeof(int));
        memset(s->cidx, 0xff, (size_t)n * (size_t)s->psize * sizeof(int));     /* -1 */
        for (i = 0; i < n; i++) {
                s->ccv[i] = 8;
                s->cv[i] = xcalloc((size_t)s->ccv[i], sizeof(struct conn));
                s->cv[i][0].src = n;    /* the seeder's, always first */
                s->ncv[i] = 1;
        }
        s->pv = xcalloc((size_t)n, sizeof(struct partial *));
        s->npv = xcalloc((size_t)n, sizeof(int));
        s->cpv = xcalloc((size_t)n, sizeof(int));
        s->nopen = xcalloc((size_t)n, sizeof(int));
        s->pidx = xcalloc((size_t)n * P, sizeof(int16_t));
        memset(s->pidx, 0xff, (size_t)n * P * sizeof(int16_t));               /* -1 */
        s->upload = xcalloc((size_t)n + 1, sizeof(int));
        s->depth = xcalloc((size_t)n + 1, sizeof(int));
        s->ask = xcalloc((size_t)n * ASK_MAX, sizeof(int));
        s->nask = xcalloc((size_t)n, sizeof(int));
        s->told = xcalloc((size_t)n, sizeof(int));
        s->own6 = xcalloc((size_t)n * OWN_MAX, sizeof(int));
        s->nown6 = xcalloc((size_t)n, sizeof(int));
        s->duty = xcalloc((size_t)n, sizeof(int *));
        s->nduty = xcalloc((size_t)n, sizeof(int));
        s->cduty = xcalloc((size_t)n, sizeof(int));
        for (i = 0; i < n; i++)
                s->start[i] = s->o.stagger > 0 ? rnd_unit() * s->o.stagger : 0;

        s->pcnt = xcalloc((size_t)s->npool * P, sizeof(int));
        s->porder = xcalloc((size_t)s->npool * P, sizeof(int));
        s->ppos = xcalloc((size_t)s->npool * P, sizeof(int));
        s->pbstart = xcalloc((size_t)s->npool * (size_t)(s->psize + 2), sizeof(int));
        s->phold = xcalloc((size_t)s->npool * P * (size_t)s->psize, sizeof(uint16_t));
        for (pool = 0; pool < s->npool; pool++) {
                int *bs = pool_bstart(s, pool), c;

                for (i = 0; i < s->P; i++) {
                        s->porder[(size_t)pool * P + (size_t)i] = i;
                        s->ppos[(size_t)pool * P + (size_t)i] = i;
                }
                /* every piece in bucket 0: no holder */
                bs[0] = 0;
                for (c = 1; c <= s->psize + 1; c++)
                        bs[c] = s->P;
        }
        if (s->aware) {
                s->rl = xcalloc(P * (size_t)s->npool, sizeof(uint16_t));
                s->rlen = xcalloc(P, sizeof(int));
        }
        s->gcnt = xcalloc(P, sizeof(int));
        s->sbytes = xcalloc(P, sizeof(double));
        s->sfirst = xcalloc(P, sizeof(int));
        for (size_t p = 0; p < P; p++)
                s->sfirst[p] = -1;

        s->fresh = xcalloc(P, 1);
        s->inrack = xcalloc(P, 1);
        s->orbits = xcalloc((size_t)s->W, sizeof(uint64_t));
        s->orrack = xcalloc((size_t)s->W, sizeof(uint64_t));
        s->dl = xcalloc((size_t)n, sizeof(int));
        s->hist = xcalloc(P + 1, sizeof(int));
        s->keyidx = xcalloc((size_t)n, sizeof(int));
        for (i = 0; i < n; i++)
                s->keyidx[i] = -1;
        s->nkeys_buf = xcalloc((size_t)n, sizeof(int));
        s->ukeys = xcalloc((size_t)n, sizeof(int));
        s->shlen = xcalloc((size_t)n, sizeof(int));
        s->shbeg = xcalloc((size_t)n, sizeof(int));
        s->shfill = xcalloc((size_t)n, sizeof(int));
        s->shp = xcalloc(P, sizeof(int));
        s->taker = xcalloc(P, sizeof(int));
        s->st = xcalloc((size_t)n, sizeof(int));
        s->room = xcalloc((size_t)n, sizeof(int));
        s->front = xcalloc((size_t)n, sizeof(int));
        s->ord = xcalloc((size_t)n, sizeof(int));
        s->sthash = xcalloc((size_t)n, sizeof(uint64_t));
        s->gcnt_r = xcalloc((size_t)s->nmr, sizeof(int));
        s->goff = xcalloc((size_t)s->nmr + 1, sizeof(int));
        s->gids = xcalloc((size_t)n, sizeof(int));
        s->ghash = xcalloc((size_t)n, sizeof(uint64_t));
        s->rids = xcalloc((size_t)s->nmr, sizeof(int));
        s->rh = xcalloc((size_t)s->nmr, sizeof(uint64_t));
        s->slot = xcalloc((size_t)s->nmr, sizeof(int));
        for (i = 0; i < s->nmr; i++)
                s->slot[i] = -1;

        if (s->o.view > 0 || s->o.cross_view) {
                build_views(s);
                s->views = xcalloc((size_t)n, sizeof(struct ctx *));
                for (i = 0; i < n; i++)
                        s->views[i] = new_ctx(s, i);
        } else {
                s->global = new_ctx(s, -1);
        }

        s->nres = 2 * (n + 1) + 2 * (s->nr + 1);
        s->cap = xcalloc((size_t)s->nres, sizeof(double));
        s->rem = xcalloc((size_t)s->nres, sizeof(double));
        s->avail = xcalloc((size_t)s->nres, sizeof(double));
        s->ctl = xcalloc((size_t)s->nres, sizeof(double));
        s->ctl_rate = xcalloc((size_t)s->nres, sizeof(double));
        s->have_bc_rack = xcalloc((size_t)s->nr, sizeof(int));
        s->started_in_rack = xcalloc((size_t)s->nr, sizeof(int));
        s->rcnt = xcalloc((size_t)s->nres, sizeof(int));
        s->rleft = xcalloc((size_t)s->nres, sizeof(int));
        s->roff = xcalloc((size_t)s->nres + 1, sizeof(int));
        s->rfill = xcalloc((size_t)s->nres, sizeof(int));
        for (i = 0; i < n; i++) {
                double const rate = i >= n - s->o.slow ? s->port_Bps / 4 : s->port_Bps;

                s->cap[res_up(s, i)] = rate;
                s->cap[res_down(s, i)] = rate;
        }
        s->cap[res_up(s, n)] = s->server_Bps;
        s->cap[res_down(s, n)] = s->server_Bps;
        for (i = 0; i <= s->nr; i++) {
                s->cap[res_rack_out(s, i)] = s->uplink_Bps;
                s->cap[res_rack_in(s, i)] = s->uplink_Bps;
        }
        s->spine_in = xcalloc((size_t)s->nr, sizeof(double));
}

/* ------------------------------------------------------------------ */
/* options */

static bool parse_int(const char *v, long lo, long hi, int *out)
{
        char *e;
        long x;

        if (!*v)
                return false;
        x = strtol(v, &e, 10);
        if (*e || x < lo || x > hi)
                return false;
        *out = (int)x;
        return true;
}

static bool parse_num(const char *v, double lo, double hi, double *out)
{
        char *e;
        double x;

        if (!*v)
                return false;
        x = strtod(v, &e);
        if (*e || !(x >= lo && x <= hi))
                return false;
        *out = x;
        return true;
}

/* one of two words: *out is whether it was yes */
static bool parse_choice(const char *v, const char *no, const char *yes, bool *out)
{
        if (strcmp(v, yes) != 0 && strcmp(v, no) != 0)
                return false;
        *out = strcmp(v, yes) == 0;
        return true;
}

/* v as one of the count names; *out its index */
static bool parse_name(const char *v, const char *const *names, int count, int *out)
{
        for (*out = 0; *out < count; (*out)++)
                if (strcmp(v, names[*out]) == 0)
                        return true;
        return false;
}

static bool parse_on_off(const char *v, bool *out)
{
        return parse_choice(v, "off", "on", out);
}

static int parse_topology(const char *v, struct opts *o)
{
        int r, m, used = 0;
        double ov;
        char tail;

        if (strcmp(v, "switch") == 0) {
                o->racks = 0;
                return 0;
        }
        if (sscanf(v, "racks:%dx%d:%lf%n%c", &r, &m, &ov, &used, &tail) != 3 || v[used] != 0)
                return usage_error("--topology", "expected 'switch' or 'racks:RxM:O' (e.g. racks:4x8:4)");
        if (r < 1 || m < 1 || (long)r * m > MAX_NODES)
                return usage_error("--topology", "R and M must be at least 1, and R*M at most 65535");
        if (!(ov >= 0) || ov > 1e6)
                return usage_error("--topology", "O must be 0 (unlimited) or a positive ratio");
        o->racks = r;
        o->per_rack = m;
        o->oversub = ov;
        return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
        int i, nodes = -1;
        bool size_set = false, order_set = false;

        *o = (struct opts){ .nodes = 8, .aware = -1, .steal_in_rack = -1, .rate = 10, .size_mib = 32, .piece_kib = 64,
                            .seeder_conns = 2000, .seeder_stall = 5, .stall_rule = STALL_SWARM, .seeder_slots = 64, .seeder_order = ORDER_TOLD, .resolution = 16, .update = 0.2, .announce = 1800,
                            .seed = 1, .max_ratio = 50, .overhead = true, .piggyback = true, .header = true };
        for (i = 1; i < argc; i++) {
                char const *a = argv[i];
                char name[40];
                const char *v = NULL, *eq;

                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        usage(stdout);
                        exit(0);
                }
                if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
                        o->verbose = true;
                        continue;
                }
                if (strcmp(a, "--csv") == 0) {
                        o->csv = true;
                        continue;
                }
                if (strcmp(a, "--no-header") == 0) {
                        o->header = false;
                        continue;
                }
                if (strncmp(a, "--", 2) != 0)
                        return usage_error(a, "unexpected argument");
                eq = strchr(a, '=');
                if ((eq ? (size_t)(eq - a) : strlen(a)) >= sizeof(name))
                        return usage_error(a, "unknown option");
                snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
                if (eq) {
                        v = eq + 1;
                } else {
                        if (i + 1 >= argc)
                                return usage_error(name, "needs a value");
                        v = argv[++i];
                }
                if (strcmp(name, "--topology") == 0) {
                        if (parse_topology(v, o))
                                return EXIT_USAGE;
                } else if (strcmp(name, "--nodes") == 0) {
                        if (!parse_int(v, 1, MAX_NODES, &nodes))
                                return usage_error(name, "must be a whole number from 1 to 65535");
                } else if (strcmp(name, "--racks") == 0) {
                        bool aware;
                        if (!parse_on_off(v, &aware))
                                return usage_error(name, "must be 'on' or 'off'");
                        o->aware = aware;
                } else if (strcmp(name, "--overhead") == 0) {
                        if (!parse_on_off(v, &o->overhead))
                                return usage_error(name, "must be 'on' or 'off'");
                } else if (strcmp(name, "--piggyback") == 0) {
                        if (!parse_on_off(v, &o->piggyback))
                                return usage_error(name, "must be 'on' or 'off'");
                } else if (strcmp(name, "--rate") == 0) {
                        if (!parse_num(v, 1e-3, 1e6, &o->rate))
                                return usage_error(name, "must be a rate in Mbit/s, from 0.001 to 1000000");
                } else if (strcmp(name, "--server-rate") == 0) {
                        if (!parse_num(v, 1e-3, 1e6, &o->server_rate))
                                return usage_error(name, "must be a rate in Mbit/s, from 0.001 to 1000000");
                } else if (strcmp(name, "--size") == 0) {
                        if (!parse_num(v, 1e-3, 1 << 20, &o->size_mib))
                                return usage_error(name, "must be a size in MiB, from 0.001 to 1048576");
                        size_set = true;
                } else if (strcmp(name, "--pieces") == 0) {
                        if (!parse_int(v, 1, 1 << 20, &o->pieces))
                                return usage_error(name, "must be a whole number from 1 to 1048576");
                } else if (strcmp(name, "--piece-size") == 0) {
                        if (!parse_int(v, 16, 1024, &o->piece_kib) || (o->piece_kib & (o->piece_kib - 1)))
                                return usage_error(name, "must be a power of two from 16 to 1024 (KiB)");
                } else if (strcmp(name, "--inflight") == 0) {
                        if (!parse_int(v, 0, 1 << 20, &o->inflight))
                                return usage_error(name, "must be a whole number, 0 for no cap");
                } else if (strcmp(name, "--per-peer") == 0) {
                        if (!parse_int(v, 1, MAX_QUEUE, &o->per_peer))
                                return usage_error(name, "must be a whole number from 1 to 16");
                } else if (strcmp(name, "--resolution") == 0) {
                        if (!parse_int(v, 1, 1 << 20, &o->resolution))
                                return usage_error(name, "must be a whole number from 1 to 1048576");
                } else if (strcmp(name, "--seeder-conns") == 0) {
                        if (!parse_int(v, 1, 1000000, &o->seeder_conns))
                                return usage_error(name, "must be a whole number from 1 to 1000000");
                } else if (strcmp(name, "--seeder-slots") == 0) {
                        if (!parse_int(v, 0, 1000000, &o->seeder_slots))
                                return usage_error(name, "must be a whole number, 0 for no limit");
                } else if (strcmp(name, "--slow") == 0) {
                        if (!parse_int(v, 0, MAX_NODES, &o->slow))
                                return usage_error(name, "must be a whole number of nodes");
                } else if (strcmp(name, "--seeder-stall") == 0) {
                        if (!parse_num(v, 0, 1e6, &o->seeder_stall))
                                return usage_error(name, "must be seconds, 0 to turn it off");
                } else if (strcmp(name, "--cross-peers") == 0) {
                        if (!parse_int(v, 0, MAX_NODES, &o->cross))
                                return usage_error(name, "must be a whole number, 0 for every node");
                } else if (strcmp(name, "--cross-data") == 0) {
                        if (!parse_on_off(v, &o->cross_data))
                                return usage_error(name, "must be 'on' or 'off'");
                } else if (strcmp(name, "--cross-tree") == 0) {
                        if (!parse_int(v, 0, MAX_NODES, &o->cross_tree))
                                return usage_error(name, "wants a whole number from 0");
                } else if (strcmp(name, "--cross-racks") == 0) {
                        if (!parse_int(v, 0, MAX_NODES, &o->cross_racks))
                                return usage_error(name, "must be a whole number, 0 for every other rack");
                } else if (strcmp(name, "--seeder-order") == 0) {
                        order_set = true;
                        if (!parse_name(v, order_names, ORDERS, &o->seeder_order))
                                return usage_error(name, "must be 'oldest', 'piece', 'fresh' or 'told'");
                } else if (strcmp(name, "--seeder-spare") == 0) {
                        if (!parse_choice(v, "on", "off", &o->no_spare))
                                return usage_error(name, "must be 'on' or 'off'");
                } else if (strcmp(name, "--stall-rule") == 0) {
                        if (!parse_name(v, stall_names, STALL_RULES, &o->stall_rule))
                                return usage_error(name, "must be 'always', 'available' or 'swarm'");
                } else if (strcmp(name, "--owners") == 0) {
                        if (!parse_int(v, 0, MAX_NODES, &o->owners))
                                return usage_error(name, "must be a whole number, 0 for every node");
                } else if (strcmp(name, "--cross-rule") == 0) {
                        if (!parse_choice(v, "window", "hash", &o->cross_hash))
                                return usage_error(name, "must be 'window' or 'hash'");
                } else if (strcmp(name, "--cross-view") == 0) {
                        if (!parse_on_off(v, &o->cross_view))
                                return usage_error(name, "must be 'on' or 'off'");
                } else if (strcmp(name, "--steal") == 0) {
                        bool in_rack;
                        if (!parse_choice(v, "any", "in-rack", &in_rack))
                                return usage_error(name, "must be 'any' or 'in-rack'");
                        o->steal_in_rack = in_rack;
                } else if (strcmp(name, "--view") == 0) {
                        if (!parse_int(v, 0, MAX_NODES, &o->view))
                                return usage_error(name, "must be a whole number, 0 for every node");
                } else if (strcmp(name, "--stagger") == 0) {
                        if (!parse_num(v, 0, 1e6, &o->stagger))
                                return usage_error(name, "must be seconds, from 0 to 1000000");
                } else if (strcmp(name, "--announce-interval") == 0) {
                        if (!parse_num(v, 1, 1e7, &o->announce))
                                return usage_error(name, "must be seconds, from 1 to 10000000");
                } else if (strcmp(name, "--update") == 0) {
                        if (!parse_num(v, 1e-3, 60, &o->update))
                                return usage_error(name, "must be seconds, from 0.001 to 60");
                } else if (strcmp(name, "--dt") == 0) {
                        if (!parse_num(v, 1e-6, 60, &o->dt))
                                return usage_error(name, "must be seconds, from 0.000001 to 60");
                } else if (strcmp(name, "--max-ratio") == 0) {
                        if (!parse_num(v, 1, 1e6, &o->max_ratio))
                                return usage_error(name, "must be a number from 1 to 1000000");
                } else if (strcmp(name, "--seed") == 0) {
                        char *e;

                        if (!*v || *v == '-')
                                return usage_error(name, "must be a whole number");
                        o->seed = strtoull(v, &e, 10);
                        if (*e)
                                return usage_error(name, "must be a whole number");
                } else {
                        return usage_error(name, "unknown option");
                }
        }
        if (o->racks) {
                if (nodes >= 0 && nodes != o->racks * o->per_rack)
                        return usage_error("--nodes", "does not match the racks of --topology (R*M nodes)");
                o->nodes = o->racks * o->per_rack;
        } else if (nodes >= 0) {
                o->nodes = nodes;
        }
        if (o->pieces && size_set)
                return usage_error("--pieces", "give --size or --pieces, not both");
        if (o->slow >= o->nodes)
                return usage_error("--slow", "must leave at least one node at full rate");
        if (o->view && o->view >= o->nodes)
                return usage_error("--view", "must be below the number of nodes");
        if (o->aware == 1 && !o->racks)
                return usage_error("--racks", "'on' needs a topology with racks");
        if (o->steal_in_rack == 1 && (!o->racks || o->aware == 0))
                return usage_error("--steal", "'in-rack' needs racks the schedule knows");
        if (o->cross_data && (!o->cross || !o->racks || o->aware == 0))
                return usage_error("--cross-data", "'on' needs racks the schedule knows and --cross-peers");
        if (o->cross_tree && (!o->racks || o->aware == 0 || o->cross_view || o->view))
                return usage_error("--cross-tree", "needs racks the schedule knows and the shared view");
        if (o->cross_racks && !o->cross_view)
                return usage_error("--cross-racks", "needs --cross-view on");
        if (order_set && !o->seeder_slots)
                return usage_error("--seeder-order", "needs --seeder-slots above 0");
        if (o->owners && (o->cross_view || o->view))
                return usage_error("--owners", "needs the shared view (no --view, no --cross-view)");
        if (o->cross_view && (!o->cross || !o->racks || o->aware == 0 || o->view))
                return usage_error("--cross-view", "'on' needs racks the schedule knows and --cross-peers, and no --view");
        if (o->aware < 0)
                o->aware = o->racks > 0;
        if (o->steal_in_rack < 0)
                o->steal_in_rack = o->aware;
        return 0;
}

/* ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
        double const x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static void report(const struct sim *s, bool finished, int dups, double spine, double first_min, int peak,
                   double runtime)
{
        const struct opts *o = &s->o;
        char topo[64], racks[32];
        double const time = finished ? s->last_done : NAN;
        /* every HAVE and ACK frame of the run, the seeder's too, per node,
         * against the image each node takes in */
        double const control = s->control_bytes / s->n / s->S;

        if (o->racks) {
                snprintf(topo, sizeof(topo), "racks:%dx%d:%g", o->racks, o->per_rack, o->oversub);
                snprintf(racks, sizeof(racks), "%dx%d", o->racks, o->per_rack);
        } else {
                snprintf(topo, sizeof(topo), "switch");
                snprintf(racks, sizeof(racks), "switch");
        }
        if (o->csv) {
                if (o->header)
                        puts("topology,schedule,nodes,racks,oversub,pieces,piece_kib,rate_mbit,slow,view,stagger_s,"
                             "per_peer,inflight,seeder_conns,seeder_slots,seeder_stall_s,seed,bound_s,time_s,ratio,"
                             "first_done_s,slowest_done_s,seeder_copies,seeder_dup_pieces,spine_copies,"
                             "announce_per_s,announce_first_min_per_s,completed_peak_per_s,sim_runtime_s,"
                             "overhead,control_per_node,cross_peers,cross_data,steal,cross_view,cross_rule,cross_racks,owners,"
                             "stall_rule,seeder_order,seeder_spare,cross_tree,piggyback");
                printf("%s,%s,%d,%s,%g,%d,%d,%g,%d,%d,%g,%d,%d,%d,%d,%g,%" PRIu64 ",%.3f,%.3f,%.4f,%.3f,%.3f,%.4f,%d,"
                       "%.4f,%.4f,%.2f,%d,%.1f,%s,%.4f,%d,%s,%s,%s,%s,%d,%d,%s,%s,%s,%d,%s\n",
                       topo, s->aware ? "rack-aware" : "rack-blind", s->n, racks, o->oversub, s->P, o->piece_kib,
                       o->rate, o->slow, o->view, o->stagger, o->per_peer, o->inflight, o->seeder_conns,
                       o->seeder_slots, o->seeder_stall, o->seed, s->bound, time, time / s->bound, s->first_done,
                       finished ? s->slowest : NAN, s->seeder_bytes / s->S, dups, spine, s->n / o->announce,
                       first_min, peak, runtime, o->overhead ? "on" : "off", control, o->cross,
                       o->cross_data ? "on" : "off", o->steal_in_rack ? "in-rack" : "any",
                       o->cross_view ? "on" : "off", o->cross_hash ? "hash" : "window", o->cross_racks,
                       o->owners, stall_names[o->stall_rule],
                       order_names[o->seeder_order], o->no_spare ? "off" : "on", o->cross_tree,
                       o->overhead && o->piggyback ? "on" : "off");
                return;
        }
        printf("%s %s N=%d P=%dx%dKiB %g Mbit/s: T* %.2f s, ", topo, s->aware ? "rack-aware" : "rack-blind", s->n,
               s->P, o->piece_kib, o->rate, s->bound);
        if (finished)
                printf("time %.2f s (%.3f x T*)%s, first node %.2f s", time, time / s->bound,
                       o->slow ? " for the full-rate nodes" : "", s->first_done);
        else
                printf("NOT DONE after %.1f s (%d of %d nodes)", s->t, s->ndone, s->n);
        if (finished && o->slow)
                printf(", slowest %.2f s", s->slowest);
        printf("; seeder %.3f copies, %d pieces more than once", s->seeder_bytes / s->S, dups);
        if (o->racks)
                printf("; spine %.3f copies into the busiest rack", spine);
        if (o->overhead)
                printf("; control %.3f x image per node", control);
        else
                printf("; no overhead (payload only)");
        printf("; tracker %.3f/s steady, %.2f/s first minute, %d/s completions at peak; sim %.1f s\n",
               s->n / o->announce, first_min, peak, runtime);
}

static double wall(void)
{
        struct timespec ts;

        timespec_get(&ts, TIME_UTC);
        return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void progress(const struct sim *s)
{
        int i, nd = 0, nseed = 0, ncross = 0;
        long long sum = 0;
        double rseed = 0, rcross = 0, rin = 0, ctl_up = 0;

        for (i = 0; i < s->n; i++)
                if (s->started[i]) {
                        sum += s->held[i];
                        nd++;
                        ctl_up += s->ctl_rate[res_up(s, i)] / s->cap[res_up(s, i)];
                }
        for (i = 0; i < s->nfl; i++) {
                const struct flow *f = s->fl + i;

                if (f->src == s->n) {
                        nseed++;
                        rseed += f->rate;
                } else if (rack_of(s, f->src) != rack_of(s, f->dst)) {
                        ncross++;
                        rcross += f->rate;
                } else {
                        rin += f->rate;
                }
        }
        fprintf(stderr, "t %7.2f s: %5.1f %% held, %d done, %d on the seeder; flows: %d from the seeder "
                "(%.1f Mbit/s), %d across racks (%.1f), %d within (%.1f); seeder %.2f copies; HAVEs and ACKs "
                "%.1f %% of the nodes' uplinks\n", s->t,
                nd ? 100.0 * (double)sum / nd / s->P : 0.0, s->ndone, s->nconn, nseed, rseed * 8e-6, ncross,
                rcross * 8e-6, s->nfl - nseed - ncross, rin * 8e-6, s->seeder_bytes / s->S,
                nd ? 100.0 * ctl_up / nd : 0.0);
}

int main(int argc, char **argv)
{
        struct sim sim = { 0 }, *s = &sim;
        struct opts *o = &s->o;
        double t0 = wall(), next_update = 0, next_progress = 5, spine = 0, max_t, first_min;
        int r, i, j, dups = 0, peak = 0, starts_first_min = 0;
        bool finished = false;

        r = parse_args(argc, argv, o);
        if (r)
                return r;
        rng_state = o->seed;
        s->n = o->nodes;
        s->nr = o->racks ? o->racks : 1;
        s->m = o->racks ? o->per_rack : o->nodes;
        s->racked = o->racks && o->oversub > 0;
        s->aware = o->aware == 1;
        s->piece_len = (double)o->piece_kib * 1024;
        if (o->pieces) {
                s->P = o->pieces;
                s->S = s->P * s->piece_len;
        } else {
                s->S = ceil(o->size_mib * 1048576);
                s->P = (int)ceil(s->S / s->piece_len);
        }
        if (s->P > 1 << 20)
                return usage_error("--size", "more than 1048576 pieces");
        s->last_len = s->S - (s->P - 1) * s->piece_len;
        s->W = (s->P + 63) / 64;
        s->port_Bps = o->rate * 1e6 / 8;
        s->server_Bps = (o->server_rate > 0 ? o->server_rate : o->rate) * 1e6 / 8;
        s->uplink_Bps = s->racked ? s->m * s->port_Bps / o->oversub : 0;
        s->Q = o->inflight;
        /* a payload byte on the wire: its share of the PIECE header, then
         * of the frame's headers; the receiver's ACKs per payload byte */
        s->frame = o->overhead ? (double)(BLOCK + PIECE_HDR) / BLOCK * (MSS + FRAME_HDR) / MSS : 1;
        s->ack_per_byte = o->overhead ? (double)(BLOCK + PIECE_HDR) / BLOCK * ACK_FRAME / (SEGS_PER_ACK * MSS) : 0;
        s->dt = o->dt > 0 ? o->dt : BLOCK / s->port_Bps / 16;
        s->bpp = (int)ceil(s->piece_len / BLOCK);
        s->full_mask = s->bpp == 64 ? ~0ULL : (1ULL << s->bpp) - 1;
        {
                int const k = (int)ceil(s->last_len / BLOCK);

                s->last_mask = k == 64 ? ~0ULL : (1ULL << k) - 1;
        }
        /* the bound: the seeder sends the image once, every node takes it
         * in, every rack takes it in through its uplink, and the uploads
         * together carry N copies (docs/benchmarks.md) */
        s->bound = fmax(s->S / s->server_Bps, s->S / s->port_Bps);
        /* with slow nodes, the full-rate ones' bound (testbed.py): the
         * slow ones still upload */
        s->bound = fmax(s->bound, (s->n - o->slow) * s->S /
                                  (s->server_Bps + (s->n - o->slow) * s->port_Bps + o->slow * s->port_Bps / 4));
        if (s->racked)
                s->bound = fmax(s->bound, s->S / s->uplink_Bps);
        {
                /* what would not fit is refused rather than thrashed */
                double const psize = s->aware ? s->m : s->n;
                /* holders and the index of started pieces, 2 bytes per node
                 * and piece each; connections; bitfields */
                double const mem = (double)s->n * s->P * 4 + (double)s->n * psize * 4 + 24.0 * s->n * s->W +
                                   (o->view || o->cross_view ? (double)s->n * s->P * 9 : 0);

                if (mem > 16e9) {
                        fprintf(stderr, "%s: this run needs about %.0f GB (rack-blind without --view keeps "
                                "N x N connections)\n", prog, mem / 1e9);
                        return EXIT_USAGE;
                }
        }
        setup(s);

        max_t = o->max_ratio * s->bound;
        while (s->t < max_t) {
                double soonest, block_time, floor_dt, step;

                /* nodes start, and the schedule looks, every 200 ms: the
                 * client's first look comes with its first peers */
                if (s->t >= next_update - 1e-9) {
                        for (i = 0; i < s->n; i++)
                                if (!s->started[i] && s->start[i] <= s->t)
                                        start_node(s, i);
                        update(s);
                        next_update += o->update;
                }
                build_flows(s);
                seeder_slots(s);
                control_reserve(s);
                maxmin(s);
                /* a step: to the next block in, but at least a
                 * resolution-th of what a mean transfer takes for a piece,
                 * and never past the schedule's next look */
                horizon(s, &soonest, &block_time);
                floor_dt = fmax(s->dt, fmin(block_time * s->bpp / o->resolution, o->update));
                step = fmax(floor_dt, soonest);
                if (s->t + step > next_update)
                        step = fmax(next_update - s->t, 1e-9);
                advance(s, step);
                control_drain(s, step);
                s->t += step;
                if (o->verbose && s->t >= next_progress) {
                        progress(s);
                        next_progress += 5;
                }
                if (s->ndone == s->n) {
                        finished = true;
                        break;
                }
        }

        /* a piece the seeder sent more than once: more than its bytes */
        for (i = 0; i < s->P; i++)
                dups += s->sbytes[i] > plen(s, i) * 1.0001;
        for (r = 0; r < s->nr; r++)
                spine = fmax(spine, s->spine_in[r] / s->S);
        /* the tracker: every node announces when it starts, then once an
         * interval, and once more when it completes ("completed") */
        for (i = 0; i < s->n; i++)
                starts_first_min += s->start[i] < 60;
        first_min = starts_first_min / 60.0;
        {
                double *d = xcalloc((size_t)s->n, sizeof(double));
                int k = 0;

                for (i = 0; i < s->n; i++)
                        if (s->done_at[i] > 0)
                                d[k++] = s->done_at[i];
                qsort(d, (size_t)k, sizeof(double), cmp_double);
                for (i = 0, j = 0; i < k; i++) {
                        while (d[i] - d[j] >= 1.0)
                                j++;
                        if (i - j + 1 > peak)
                                peak = i - j + 1;
                }
                free(d);
        }
        report(s, finished, dups, spine, first_min, peak, wall() - t0);
        return finished ? 0 : 1;
}
