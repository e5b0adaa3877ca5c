/*
 * ownership.cpp - which downloading node fetches which piece from the
 * seeder, and when a node stops using the seeder at all.
 *
 * The schedule that reaches the bound S/R on a LAN: the seeder sends each
 * piece once, to one node, and the nodes' uplinks carry everything else.
 * Stock rarest-first misses it because pieces in flight to other nodes
 * look as rare as untouched ones, so nodes collide on them and the seeder
 * sends 1.4-1.8 copies (docs/benchmarks.md).  Here every node computes the
 * same piece-to-owner map without talking to the others and steers
 * libtorrent's picker with piece priorities; nothing is ever refused, so a
 * node that leaves or misbehaves costs time, never correctness.
 */
#include <algorithm>
#include <cstdio>

#include <libtorrent/download_priority.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include "ownership.hpp"

namespace ez {

namespace {

uint64_t mix64(uint64_t x)
{
        /* splitmix64's finaliser: a cheap, well-spread hash */
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

uint64_t key_hash(std::string const &k)
{
        uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */

        for (unsigned char c : k)
                h = (h ^ c) * 0x100000001b3ULL;
        return h;
}

}

ownership::ownership(lt::session &ses, lt::torrent_handle h, int num_pieces, std::string self_key, bool debug)
        : ses_(ses), h_(std::move(h)), num_pieces_(num_pieces), self_key_(std::move(self_key)), debug_(debug),
          mine_(static_cast<std::size_t>(num_pieces), true), last_progress_(std::chrono::steady_clock::now())
{
}

/* Does this node still lack a piece it owns?  have: its own bitfield. */
bool ownership::share_missing(lt::typed_bitfield<lt::piece_index_t> const &have) const
{
        int owned = 0, missing = 0;

        for (int i = 0; i < num_pieces_; i++) {
                owned += mine_[static_cast<std::size_t>(i)];
                missing += mine_[static_cast<std::size_t>(i)] && !have.get_bit(lt::piece_index_t(i));
        }
        if (debug_)
                std::fprintf(stderr, "ezio-deploy: own %d pieces, %d missing, owners %zu, origin seeds %zu\n",
                             owned, missing, owners_.size(), origin_seeds_.size());
        return missing > 0;
}

/*
 * Views of the ownership map can disagree for a moment (a peer not yet
 * settled in one node's view, a node near the slow threshold), and then a
 * piece may be owned by nobody who fetches it.  A piece this node lacks
 * that no connected peer other than an origin seeder holds (held), for
 * longer than a piece takes to travel, is fetched from the seeder rather
 * than waited for.  Returns whether such a piece exists.
 */
bool ownership::orphan_waiting(lt::typed_bitfield<lt::piece_index_t> const &have, std::vector<bool> const &held)
{
        auto const now = std::chrono::steady_clock::now();
        bool waiting = false;

        orphan_since_.resize(static_cast<std::size_t>(num_pieces_));
        for (int i = 0; i < num_pieces_; i++) {
                auto &since = orphan_since_[static_cast<std::size_t>(i)];
                if (have.get_bit(lt::piece_index_t(i)) || held[static_cast<std::size_t>(i)]) {
                        since = {};
                        continue;
                }
                if (since == std::chrono::steady_clock::time_point{})
                        since = now;
                else if (now - since > std::chrono::milliseconds(1500))
                        waiting = true;
        }
        return waiting;
}

void ownership::watch(uint64_t total_done, bool downloading)
{
        auto now = std::chrono::steady_clock::now();

        if (total_done != last_done_ || !downloading) {
                last_done_ = total_done;
                last_progress_ = now;
        } else if (seeds_blocked_ && now - last_progress_ > std::chrono::seconds(5)) {
                /* the peers are not delivering what the seeders were
                 * released for: take the seeders back for good */
                never_release_ = true;
                use_seeders(true);
        }
}

/*
 * Once this node holds every piece it owns, it stops taking data from the
 * origin seeders (peers that were complete when first seen, not nodes that
 * finished since): whatever it still lacks is owned by a node that is
 * fetching it, and will come from there.  Without this, a node that the
 * seeder happens to serve faster than the others finishes its share early
 * and then pulls the others' pieces from the seeder too, sending them
 * twice; with it, the seeder's uplink goes to the nodes still fetching
 * their shares, which balances the shares by itself.  Blocking is done
 * with the session's IP filter, which also keeps the tracker from handing
 * the seeder back; it is lifted if the set of owners changes so that this
 * node owns a missing piece again.
 */
void ownership::use_seeders(bool need)
{
        if (never_release_)
                need = true;
        if (need == !seeds_blocked_ || origin_seeds_.empty())
                return;
        lt::ip_filter f;
        if (!need)
                for (auto const &a : origin_seeds_) {
                        lt::error_code ec;
                        lt::address addr = lt::make_address(a, ec);
                        if (!ec)
                                f.add_rule(addr, addr, lt::ip_filter::blocked);
                }
        ses_.set_ip_filter(f);
        seeds_blocked_ = !need;
        if (debug_)
                std::fprintf(stderr, "ezio-deploy: %s the origin seeders\n", need ? "using" : "releasing");
}

/*
 * Piece ownership: which downloading node fetches which piece from the
 * seeder.  Every node computes the same map without talking to the others:
 * rendezvous hashing of (node address, piece) over the set of nodes still
 * downloading, as each sees it (on a LAN every node is connected to every
 * other, so the views agree).  A node gives its own pieces the top
 * priority and the others the lowest, so it asks the seeder for its share
 * first and takes the rest from the owners as they announce them.  The
 * seeder then sends each piece about once and the nodes' uplinks carry the
 * rest: the "each piece to one node first, then let the nodes trade"
 * schedule that reaches the bound S/R, instead of every node pulling
 * whatever is rarest from the seeder and colliding on pieces still in
 * flight.  Priorities only order the picking: nothing is ever refused, so
 * a node that leaves costs time, not correctness.
 */
void ownership::update()
{
        std::vector<lt::peer_info> peers;
        std::vector<std::pair<std::string, int>> nodes;        /* downloading: address, pieces held */
        std::vector<std::string> keys;
        std::vector<bool> held(static_cast<std::size_t>(num_pieces_), false); /* by a non-origin peer */
        lt::torrent_status const st = h_.status(lt::torrent_handle::query_pieces);

        h_.get_peer_info(peers);
        for (auto const &p : peers) {
                std::string a = p.ip.address().to_string();

                /* judge a peer once its bitfield is in, not during the handshake */
                if ((p.flags & (lt::peer_info::handshake | lt::peer_info::connecting)) ||
                    p.pieces.size() != num_pieces_)
                        continue;
                if (std::find(seen_.begin(), seen_.end(), a) == seen_.end()) {
                        seen_.push_back(a);
                        if (p.flags & lt::peer_info::seed)
                                origin_seeds_.push_back(a);
                }
                bool const origin = std::find(origin_seeds_.begin(), origin_seeds_.end(), a) != origin_seeds_.end();
                if (!origin)
                        for (int i = 0; i < num_pieces_; i++)
                                if (p.pieces.get_bit(lt::piece_index_t(i)))
                                        held[static_cast<std::size_t>(i)] = true;
                if (origin || (p.flags & lt::peer_info::seed))
                        continue;
                if (self_key_.empty())
                        self_key_ = p.local_endpoint.address().to_string();
                nodes.emplace_back(a, p.pieces.count());
        }
        if (self_key_.empty())
                return;
        nodes.emplace_back(self_key_, st.num_pieces);

        /* A node far behind the others (a slow link) owns nothing: the
         * others would wait on its uplink for its share.  Every node sees
         * the same bitfields, so they agree on who is slow; a node that
         * finds itself slow takes everything from its peers instead. */
        std::vector<int> counts;
        for (auto const &n : nodes)
                counts.push_back(n.second);
        std::nth_element(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(counts.size() / 2), counts.end());
        int const median = counts[counts.size() / 2];
        bool const judge = median >= std::max(8, num_pieces_ / 32);
        for (auto const &n : nodes)
                if (!judge || n.second * 2 >= median)
                        keys.push_back(n.first);
        if (keys.empty())
                keys.push_back(self_key_);
        std::sort(keys.begin(), keys.end());
        keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        /* orphans are timed only once this node's own share is in: before,
         * the others' shares are still on their way by design */
        if (keys == owners_) {
                use_seeders(share_missing(st.pieces) || orphan_waiting(st.pieces, held));
                return;
        }
        owners_ = keys;

        std::vector<uint64_t> kh;
        for (auto const &k : keys)
                kh.push_back(key_hash(k));
        uint64_t self = key_hash(self_key_);
        std::vector<lt::download_priority_t> prio(static_cast<std::size_t>(num_pieces_));
        for (int i = 0; i < num_pieces_; i++) {
                uint64_t best = 0, best_key = 0;
                for (uint64_t k : kh) {
                        uint64_t v = mix64(k ^ mix64(static_cast<uint64_t>(i)));
                        if (v >= best) {
                                best = v;
                                best_key = k;
                        }
                }
                prio[static_cast<std::size_t>(i)] = best_key == self ? lt::top_priority : lt::low_priority;
                mine_[static_cast<std::size_t>(i)] = best_key == self;
        }
        h_.prioritize_pieces(prio);
        use_seeders(share_missing(st.pieces) || orphan_waiting(st.pieces, held));
}

}
