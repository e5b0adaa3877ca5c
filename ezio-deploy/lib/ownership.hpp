/*
 * ownership.hpp - internal C++ header: which node fetches which piece from
 * the seeder (ownership.cpp).  Never included from C.
 */
#ifndef EZ_OWNERSHIP_HPP
#define EZ_OWNERSHIP_HPP

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <libtorrent/bitfield.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/torrent_handle.hpp>

#include "racks.hpp"
#include "upload_slots.hpp"

namespace ez {

class ownership {
public:
        /* self_key: this node's address as its peers see it, or empty to
         * learn it from the first connection. */
        ownership(lt::session &ses, lt::torrent_handle h, int num_pieces, std::string self_key, bool debug);

        /* The racks of the nodes (racks.cpp), when this node knows its
         * own: every piece then crosses into each rack about once. */
        void racks(std::shared_ptr<rack_view> view) { racks_ = std::move(view); }

        /* where to put the lowest piece this node asks the origin seeders
         * for, at every look (upload_slots.hpp) */
        void front(front_told told) { front_ = std::move(told); }

        /* Recompute the piece priorities and whether to use the origin
         * seeders; call a few times a second while downloading. */
        void update();

        /* Call on every status poll: after 5 s without progress while the
         * seeders are released, and while some node holds a piece this
         * one lacks (or for 30 s), take them back for good. */
        void watch(uint64_t total_done, bool downloading);

        /* Whether this node still has pieces of its own to ask an origin
         * for (the seeder, or the web seed when the swarm starves). */
        bool wants_origin() const { return asking_; }

        /* While the origin is a web seed (which serves whatever it is
         * asked for, at once), ask for no fresh piece another node owns:
         * it comes from its owner. */
        void origin_own_only(bool on) { own_only_ = on; }

        /* The session's IP filter without the schedule's own rules (the
         * allow list), which releasing the origin seeders and banning
         * liars add to. */
        void base_filter(lt::ip_filter f) { base_ = std::move(f); }

        /* peers banned for never sending what they were asked for */
        uint32_t liars() const { return static_cast<uint32_t>(liars_.size()); }

        /* EZIO_DEBUG: print where the payload came from (the origin,
         * this rack, other racks); update() does at every look, swarm.cpp
         * once more when the download is complete */
        void trace_payload();

        /* This node has every piece: it stops cutting connections to
         * other racks (and takes any peer that asks), so that a node that
         * lost its partners here can still be served. */
        void complete();

        /* peers of other racks cut off (not partners), for the trace */
        std::size_t cut() const { return cut_.size(); }

        /* times idle connections were nudged to ask for more */
        uint64_t nudges() const { return nudges_; }

private:
        void use_seeders(bool need);
        void apply_filter();
        void assign(std::vector<std::string> const &keys, std::vector<std::string> const &racks, std::string const &self_rack);
        void nudge_idle(std::vector<lt::peer_info> const &peers, lt::typed_bitfield<lt::piece_index_t> const &have);
        void judge_liars(std::vector<lt::peer_info> const &peers, uint64_t done);
        std::vector<std::string> mute(std::vector<lt::peer_info> const &peers);
        bool origin(std::string const &address) const;
        void payload_line(std::vector<lt::peer_info> const &peers);
        void bound_cross(std::vector<lt::peer_info> const &peers, std::string const &my_rack);

        /* pieces a node asks the seeder for at once, in a known order */
        static constexpr int window = 8;

        lt::session &ses_;
        lt::torrent_handle h_;
        int num_pieces_;
        std::string self_key_;
        bool debug_;
        std::vector<std::string> owners_;       /* addresses the map was made for, sorted */
        std::vector<std::string> owner_racks_;  /* per owner: its rack */
        std::string self_rack_;
        std::vector<int> owner_;                /* per piece: index into owners_ */
        std::vector<int> importer_;             /* per piece: the owner in this node's rack that brings
                                                 * it in from another rack, or -1 */
        std::shared_ptr<rack_view> racks_;
        front_told front_;
        std::map<std::string, std::pair<int, std::chrono::steady_clock::time_point>> progress_;
                                                /* per node: pieces held, since when */
        int self_index_ = -1;                   /* this node in owners_, or -1 */
        std::vector<lt::download_priority_t> prio_;     /* as last set */
        std::vector<std::string> origin_seeds_; /* peers complete when first seen */
        std::vector<std::string> seen_;
        std::vector<std::size_t> left_;         /* per owner: fresh pieces in its share at the last change */
        std::vector<std::chrono::steady_clock::time_point> moved_;     /* per owner: when that changed */
        std::vector<std::pair<std::chrono::steady_clock::time_point, std::size_t>> fresh_seen_;
                                                /* fresh pieces left, at each look of the last 5 s */
        bool seeds_blocked_ = false;
        bool asking_ = true;            /* the last update asked for pieces */
        bool own_only_ = false;
        lt::ip_filter base_;
        bool never_release_ = false;
        std::vector<std::string> liars_;        /* banned: asked, never sent a byte */
        std::vector<rack_view::member> mine_;   /* this rack's members, as last told */
        std::chrono::steady_clock::time_point mine_since_;      /* since when */
        std::vector<std::string> cut_;          /* other racks' nodes not partners: blocked, sorted */
        std::vector<std::string> partial_;      /* racks this node sees in part, sorted */
        std::map<std::string, std::chrono::steady_clock::time_point> dialed_;  /* partners connected to, when */
        bool complete_ = false;
        struct asked {
                std::chrono::steady_clock::time_point since;    /* first seen asked and silent */
                uint64_t done;                  /* this node's progress then */
        };
        std::vector<std::pair<std::string, asked>> silent_;    /* per peer asked and silent so far */
        std::map<std::string, std::pair<int64_t, std::chrono::steady_clock::time_point>> served_;
                                                /* per peer: payload from it, since when that
                                                 * is so while this node waits on it (mute()) */
        uint64_t nudges_ = 0;
        uint64_t last_done_ = 0;
        std::chrono::steady_clock::time_point last_progress_;
        bool available_ = true;                 /* some node holds a piece this one lacks */
        std::chrono::steady_clock::time_point available_at_;   /* when that was last so, or the start */
        std::chrono::steady_clock::time_point others_moved_;   /* when another downloading node last
                                                                 * gained a piece, or was first seen */
        struct payload {
                int64_t past = 0, last = 0;     /* earlier connections'; this one's */
                int where = 0;                  /* 0 origin, 1 this rack (all peers without racks), 2 other racks */
        };
        std::map<std::string, payload> got_;    /* EZIO_DEBUG: payload per peer */
};

}

#endif
