/*
 * request_budget.cpp - every peer may keep only its share of a fixed
 * budget of block requests outstanding with this node.
 *
 * In a swarm on a LAN every node receives from every other at once: at
 * N = 16, sixteen TCP flows converge on each node's switch port.  With
 * 16 blocks (256 KiB) requested from each of them, a node had 4 MiB on
 * its way to a port that buffers a few hundred KiB; the port dropped,
 * and 1.7-2 % of every node's uplink went to retransmissions, in a swarm
 * whose uplinks have only 6 % to spare (docs/benchmarks.md).  So the
 * number of requests a peer may have outstanding with this node is what
 * a node may have outstanding in all (EZ_REQUEST_BUDGET_BLOCKS, 1 MiB)
 * shared among the peers this node has: 16 up to four peers, as before,
 * 8 at eight, 4 at sixteen, never below 2.  On a full mesh every node
 * sees about as many peers as the others, so each receiver ends up with
 * about the budget outstanding.
 *
 * The limit is the "reqq" of the extension handshake (BEP 10), which a
 * peer's libtorrent takes as its request limit towards this node.  Peers
 * connect over the first second or so, so the handshake goes out again
 * with the new value once the number of peers has moved the share: when
 * the peer next asks for a block, or at its next one-second tick.  BEP
 * 10 allows a handshake to be sent again; it is sent whole, so that a
 * peer reading it afresh keeps its extensions.  The count is of every
 * connected peer, seeds included: at the start the origin seeder is one
 * of them, and later the nodes that finished still serve.  It never goes
 * above the limit this node's libtorrent enforces.
 */
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <string>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/peer_connection_handle.hpp>

#include "extended.hpp"
#include "request_budget.hpp"

/* plain arithmetic: nothing here throws */
extern "C" int ez_request_budget_share(int peers)
{
        if (peers < 1)
                peers = 1;
        return std::max(EZ_REQUEST_QUEUE_MIN, std::min(EZ_REQUEST_QUEUE_MAX, EZ_REQUEST_BUDGET_BLOCKS / peers));
}

namespace ez {

namespace {

class budget_peer final : public lt::peer_plugin {
public:
        budget_peer(lt::bt_peer_connection_handle pc, peer_count peers, bool trace)
                : pc_(std::move(pc)), peers_(std::move(peers)), trace_(trace)
        {
        }

        lt::string_view type() const override { return "ezio_request_budget"; }

        void add_handshake(lt::entry &h) override
        {
                /* libtorrent wrote the limit it enforces (max_allowed_in_request_queue,
                 * which EZIO_LT_SETTINGS may lower): never advertise more */
                if (lt::entry const *own = h.find_key("reqq"); own && own->type() == lt::entry::int_t)
                        cap_ = static_cast<int>(std::min<std::int64_t>(own->integer(), EZ_REQUEST_QUEUE_MAX));
                sent_ = want();
                h["reqq"] = sent_;
                /* the copy sent again later: everything the plugins before
                 * this one wrote (the session has none: swarm.cpp), less the
                 * seconds since this node was complete, stale by then */
                handshake_ = h;
                handshake_.dict().erase("complete_ago");
        }

        bool on_extension_handshake(lt::bdecode_node const &) override
        {
                extended_ = true;
                return true;
        }

        /* a peer asking for a block is the moment its limit matters */
        bool on_request(lt::peer_request const &) override
        {
                update();
                return false;
        }

        void tick() override { update(); }

        /* EZIO_DEBUG: every block asked of a peer that holds the whole
         * image (the seeder), with the wall clock, to be lined up with the
         * seeder's trace of the blocks it sent twice (swarm.cpp) */
        void sent_request(lt::peer_request const &r) override
        {
                if (trace_ && pc_.is_seed())
                        std::fprintf(stderr, "ezio-deploy: trace: %.3f asked %s for piece %d block %d\n",
                                     std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(),
                                     pc_.remote().address().to_string().c_str(), static_cast<int>(r.piece),
                                     r.start / lt::default_block_size);
        }

private:
        int want() const
        {
                return std::min(cap_, ez_request_budget_share(peers_->load(std::memory_order_relaxed)));
        }

        void update()
        {
                int const w = want();

                if (!extended_ || sent_ == 0 || w == sent_ || pc_.is_disconnecting())
                        return;
                /* the same extension handshake again, with the new limit */
                handshake_["reqq"] = w;
                std::string body;
                lt::bencode(std::back_inserter(body), handshake_);
                send_extended(pc_, 0, body);
                sent_ = w;
        }

        lt::bt_peer_connection_handle pc_;
        peer_count peers_;
        lt::entry handshake_;   /* the extension handshake this peer was sent */
        int sent_ = 0;          /* the limit this peer was last told; 0: no handshake yet */
        int cap_ = EZ_REQUEST_QUEUE_MAX;   /* what this node's libtorrent serves */
        bool extended_ = false; /* the peer speaks the extension protocol */
        bool const trace_;
};

class budget_torrent final : public lt::torrent_plugin {
public:
        budget_torrent(peer_count peers, bool trace) : peers_(std::move(peers)), trace_(trace) {}

        std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const &pc) override
        {
                if (pc.type() != lt::connection_type::bittorrent)
                        return nullptr;
                return std::make_shared<budget_peer>(lt::bt_peer_connection_handle(pc), peers_, trace_);
        }

private:
        peer_count peers_;
        bool const trace_;
};

}

std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
request_budget_extension(peer_count peers, bool trace)
{
        return [peers, trace](lt::torrent_handle const &, lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
                return std::make_shared<budget_torrent>(peers, trace);
        };
}

}
