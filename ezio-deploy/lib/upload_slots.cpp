/*
 * upload_slots.cpp - the origin seeder sends to a bounded number of nodes
 * at once, those asking it for the lowest pieces.
 *
 * Every node owns a share of the pieces and fetches it from the seeder
 * (ownership.cpp).  With as many owners as the seeder has connections,
 * its uplink is split among all of them: at 1,000 nodes 10 Mbit/s make
 * 10 kbit/s each, every piece is in transfer at once, and none is whole
 * until the end, so the nodes have nothing to pass on until then.  Sent
 * to few nodes at a time, those asking for the lowest pieces, the image
 * leaves the seeder in order and spreads behind it: in ezio-sim, 1,000
 * nodes in 20 racks took 1.06 x T* against 1.25 with every node served
 * at once, and 10,000 in 200 racks (tools/sim/README.md).
 *
 * The seeder cannot see what a choked peer would ask for (a choked peer
 * asks nothing), so each node tells it: the lowest piece it asks the
 * seeder for, its share's front (extension message "ezio_front", a
 * bencoded integer, -1 for nothing of its own).  The seeder keeps the
 * peers that told the lowest fronts unchoked, then the peers that told
 * nothing (another client), then those with nothing of their own to ask;
 * among equals the one interested longest.  With no more interested
 * peers than slots every one is unchoked as soon as it is interested, as
 * without slots.  A peer that had a slot for 5 s and asked for nothing
 * ranks last until it asks for something with a slot again, whatever it
 * tells: a peer that claims the lowest piece and never asks (test-requests,
 * front_liar.py) would otherwise keep a slot for good.
 *
 * libtorrent 2.0.8 has no choker a plugin can drive: its own, with a slot
 * limit, picks every 15 s by its own measure.  So the session unchokes
 * without a limit of its own (unchoke_slots_limit -1, which leaves the
 * choking to the torrent), the torrent's max_uploads is the number of
 * slots (libtorrent then unchokes a newly interested peer only into a
 * free slot), and this plugin chokes and unchokes once a second.  Two of
 * libtorrent's defaults would let peers past the slots: peers on local
 * networks are in a peer class exempt from them, and a choked peer may
 * fetch five "allowed fast" pieces; swarm.cpp turns both off.
 */
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/peer_connection_handle.hpp>

#include "extended.hpp"
#include "upload_slots.hpp"

namespace ez {

namespace {

/* the extended message id peers send this node "ezio_front" with (BEP 10:
 * each side names its own ids; racks.cpp's is 41) */
constexpr int front_msg = 42;

/* a told front: a bencoded integer, -1 or a piece */
bool parse_front(lt::span<char const> body, int num_pieces, int &out)
{
        lt::error_code ec;
        lt::bdecode_node const n = lt::bdecode(body, ec, nullptr, 2, 16);

        if (ec || n.type() != lt::bdecode_node::int_t)
                return false;
        std::int64_t const v = n.int_value();
        if (v < front_none || v >= num_pieces)
                return false;
        out = static_cast<int>(v);
        return true;
}

/* ---- the node's side ---- */

class front_peer final : public lt::peer_plugin {
public:
        front_peer(lt::bt_peer_connection_handle pc, front_told front) : pc_(std::move(pc)), front_(std::move(front)) {}

        lt::string_view type() const override { return "ezio_front"; }

        bool on_extension_handshake(lt::bdecode_node const &h) override
        {
                if (lt::bdecode_node const m = h.dict_find_dict("m")) {
                        std::int64_t const id = m.dict_find_int_value("ezio_front", 0);
                        id_ = id > 0 && id < 256 ? static_cast<int>(id) : 0;
                }
                return true;
        }

        void tick() override
        {
                int const f = front_->load(std::memory_order_relaxed);

                if (id_ == 0 || f == front_unset || f == sent_ || pc_.is_disconnecting())
                        return;
                sent_ = f;
                send_extended(pc_, id_, "i" + std::to_string(f) + "e");
        }

private:
        lt::bt_peer_connection_handle pc_;
        front_told front_;
        int id_ = 0;                    /* the peer's id for "ezio_front"; 0: it takes none */
        int sent_ = front_unset;        /* what it was last told */
};

class front_torrent final : public lt::torrent_plugin {
public:
        explicit front_torrent(front_told front) : front_(std::move(front)) {}

        std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const &pc) override
        {
                if (pc.type() != lt::connection_type::bittorrent)
                        return nullptr;
                return std::make_shared<front_peer>(lt::bt_peer_connection_handle(pc), front_);
        }

private:
        front_told front_;
};

/* ---- the seeder's side ---- */

class slot_peer final : public lt::peer_plugin {
public:
        slot_peer(lt::bt_peer_connection_handle pc, int num_pieces) : pc_(std::move(pc)), num_pieces_(num_pieces) {}

        lt::string_view type() const override { return "ezio_upload_slots"; }

        void add_handshake(lt::entry &h) override { h["m"]["ezio_front"] = front_msg; }

        bool on_extended(int length, int msg, lt::span<char const> body) override
        {
                if (msg != front_msg)
                        return false;
                int f;
                if (pc_.packet_finished() && body.size() == length && parse_front(body, num_pieces_, f))
                        front_ = f;
                return true;
        }

        /* before libtorrent takes it in: a peer interested again after
         * it was not starts a new wait, one saying so again does not */
        bool on_interested() override
        {
                if (!pc_.is_peer_interested())
                        since_ = std::chrono::steady_clock::now();
                return false;
        }

        /* a request while choked is rejected, and clears nothing */
        bool on_request(lt::peer_request const &) override
        {
                if (!pc_.is_choked()) {
                        asked_ = std::chrono::steady_clock::now();
                        idle_ = false;
                }
                return false;
        }

        /* Once a second, before the choice: a peer that had a slot for 5 s
         * and asked for nothing in that time ranks with the last, whatever
         * it told, until it asks for something with a slot again: a slot
         * is for sending.  The time is counted from when a tick first saw
         * it unchoked (libtorrent sends an unchoke again whenever a peer
         * says it is interested). */
        void watch(std::chrono::steady_clock::time_point now)
        {
                bool const choked = pc_.is_choked();

                if (!choked && was_choked_)
                        unchoked_ = now;
                was_choked_ = choked;
                if (!choked && now - unchoked_ > idle_after && now - asked_ > idle_after)
                        idle_ = true;
        }

        /* the order slots go in: told fronts, lowest first; then told
         * nothing; then nothing of its own to ask, or idle */
        int rank() const
        {
                if (idle_ || front_ == front_none)
                        return num_pieces_ + 1;
                return front_ >= 0 ? front_ : num_pieces_;
        }

        static constexpr std::chrono::seconds idle_after{5};

        lt::bt_peer_connection_handle pc_;
        int const num_pieces_;
        int front_ = front_unset;
        std::chrono::steady_clock::time_point since_;   /* interested since */
        std::chrono::steady_clock::time_point unchoked_, asked_;        /* unchoked since, last asked */
        bool was_choked_ = true;        /* at the last tick */
        bool idle_ = false;
};

class slots_torrent final : public lt::torrent_plugin {
public:
        slots_torrent(int slots, int num_pieces, bool trace) : slots_(slots), num_pieces_(num_pieces), trace_(trace) {}

        std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const &pc) override
        {
                if (pc.type() != lt::connection_type::bittorrent)
                        return nullptr;
                auto p = std::make_shared<slot_peer>(lt::bt_peer_connection_handle(pc), num_pieces_);
                peers_.push_back(p);
                return p;
        }

        void tick() override
        {
                std::vector<std::shared_ptr<slot_peer>> live, ready, want;
                auto const now = std::chrono::steady_clock::now();

                for (auto const &w : peers_)
                        if (auto p = w.lock())
                                if (!p->pc_.is_disconnecting())
                                        live.push_back(std::move(p));
                peers_.assign(live.begin(), live.end());
                /* past the handshake: the peers to choke or unchoke */
                for (auto const &p : live)
                        if (!p->pc_.is_connecting() && !p->pc_.in_handshake()) {
                                p->watch(now);
                                ready.push_back(p);
                                if (p->pc_.is_peer_interested())
                                        want.push_back(p);
                        }
                std::size_t const interested = want.size();
                /* with room for all, libtorrent unchokes each as it gets
                 * interested, and a peer choked while the slots were full
                 * gets its slot here */
                if (static_cast<int>(want.size()) > slots_) {
                        std::stable_sort(want.begin(), want.end(), [](auto const &a, auto const &b) {
                                return std::make_tuple(a->rank(), a->since_) < std::make_tuple(b->rank(), b->since_);
                        });
                        want.resize(static_cast<std::size_t>(slots_));
                }
                /* the slots freed first, so that the chosen get them */
                for (auto const &p : ready)
                        if (!p->pc_.is_choked() && std::find(want.begin(), want.end(), p) == want.end())
                                p->pc_.choke_this_peer();
                for (auto const &p : want)
                        if (p->pc_.is_choked())
                                p->pc_.maybe_unchoke_this_peer();
                note(interested, want.size(), want);
        }

private:
        /* EZIO_DEBUG: the slots, when the chosen set's fronts change */
        void note(std::size_t interested, std::size_t chosen, std::vector<std::shared_ptr<slot_peer>> const &want)
        {
                if (!trace_)
                        return;
                int lo = num_pieces_ + 2, hi = -1;
                for (auto const &p : want) {
                        lo = std::min(lo, p->rank());
                        hi = std::max(hi, p->rank());
                }
                auto const seen = std::make_tuple(interested, chosen, lo, hi);
                if (seen == last_)
                        return;
                last_ = seen;
                std::fprintf(stderr, "ezio-deploy: %.3f upload slots: %zu interested, %zu unchoked, ranks %d-%d\n",
                             std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(),
                             interested, chosen, want.empty() ? -1 : lo, hi);
        }

        int const slots_;
        int const num_pieces_;
        bool const trace_;
        std::vector<std::weak_ptr<slot_peer>> peers_;
        std::tuple<std::size_t, std::size_t, int, int> last_{0, 0, -1, -1};
};

}

std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
front_extension(front_told front)
{
        return [front](lt::torrent_handle const &, lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
                return std::make_shared<front_torrent>(front);
        };
}

std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
upload_slots_extension(int slots, int num_pieces, bool trace)
{
        return [slots, num_pieces, trace](lt::torrent_handle const &,
                                          lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
                return std::make_shared<slots_torrent>(slots, num_pieces, trace);
        };
}

}
