/*
 * ownership.hpp - internal C++ header: which node fetches which piece from
 * the seeder (ownership.cpp).  Never included from C.
 */
#ifndef EZ_OWNERSHIP_HPP
#define EZ_OWNERSHIP_HPP

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <libtorrent/bitfield.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/torrent_handle.hpp>

namespace ez {

class ownership {
public:
        /* self_key: this node's address as its peers see it, or empty to
         * learn it from the first connection. */
        ownership(lt::session &ses, lt::torrent_handle h, int num_pieces, std::string self_key, bool debug);

        /* Recompute the piece priorities and whether to use the origin
         * seeders; call a few times a second while downloading. */
        void update();

        /* Call on every status poll: after 5 s without progress while the
         * seeders are released, take them back for good. */
        void watch(uint64_t total_done, bool downloading);

private:
        void use_seeders(bool need);
        bool share_missing(lt::typed_bitfield<lt::piece_index_t> const &have) const;
        bool orphan_waiting(lt::typed_bitfield<lt::piece_index_t> const &have, std::vector<bool> const &held);

        lt::session &ses_;
        lt::torrent_handle h_;
        int num_pieces_;
        std::string self_key_;
        bool debug_;
        std::vector<std::string> owners_;       /* addresses the map was made for */
        std::vector<bool> mine_;                /* pieces this node owns */
        std::vector<std::string> origin_seeds_; /* peers complete when first seen */
        std::vector<std::string> seen_;
        std::vector<std::chrono::steady_clock::time_point> orphan_since_;     /* per piece; epoch: not orphaned */
        bool seeds_blocked_ = false;
        bool never_release_ = false;
        uint64_t last_done_ = 0;
        std::chrono::steady_clock::time_point last_progress_;
};

}

#endif
