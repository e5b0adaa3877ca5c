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
#include "rendezvous.h"

namespace ez {

namespace {

/* a peer past its handshake whose bitfield is in: one to judge */
bool settled(lt::peer_info const &p, int num_pieces)
{
        return !(p.flags & (lt::peer_info::handshake | lt::peer_info::connecting)) && p.pieces.size() == num_pieces;
}

}

ownership::ownership(lt::session &ses, lt::torrent_handle h, int num_pieces, std::string self_key, bool debug)
        : ses_(ses), h_(std::move(h)), num_pieces_(num_pieces), self_key_(std::move(self_key)), debug_(debug),
          last_progress_(std::chrono::steady_clock::now()), available_at_(last_progress_), others_moved_(last_progress_)
{
}

/*
 * The clock stands still while no node holds a piece this one lacks (every
 * piece it lacks is on its way from the seeder to its owner): its peers
 * have nothing to deliver, and taking the seeder back would only fetch
 * those pieces twice.  At 1,000 and 10,000 nodes with 512 pieces, where
 * hundreds of owners share the seeder and the first pieces take many
 * seconds, it had every node take the seeder back: 4.8 and 8.8 x T* in
 * ezio-sim, 1.91 and 2.48 with the clock standing still (--stall-rule
 * available; tools/sim/README.md).  Not for longer than 30 s, in case the
 * owners are all stuck.
 *
 * Nor does a node take the seeder back after 5 s while the others it sees
 * still gain pieces: it is waiting in line behind busy uplinks, not cut
 * off, and taken back it would only ask the seeder for pieces already on
 * their way.  At 10,000 nodes in 200 racks the first pieces take about
 * 15 s to cross into every rack, and with the seeder's upload slots
 * (upload_slots.cpp) the 5 s rule had the seeder send 1.24 copies and the
 * swarm take 1.24 x T* in ezio-sim, 1.13 without it (--stall-rule swarm).
 * After 30 s without a block it does, whatever the others do.
 */
void ownership::watch(uint64_t total_done, bool downloading)
{
        auto const now = std::chrono::steady_clock::now();
        auto const quiet = now - last_progress_;

        if (total_done != last_done_ || !downloading ||
            (!available_ && now - available_at_ < std::chrono::seconds(30))) {
                last_done_ = total_done;
                last_progress_ = now;
        } else if (seeds_blocked_ && quiet > std::chrono::seconds(5) &&
                   (now - others_moved_ > std::chrono::seconds(5) || quiet > std::chrono::seconds(30))) {
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
        seeds_blocked_ = !need;
        apply_filter();
        if (debug_)
                std::fprintf(stderr, "ezio-deploy: %s the origin seeders\n", need ? "using" : "releasing");
}

/* The session's IP filter: the base (the allow list), the origin seeders
 * while released, the liars for good. */
void ownership::apply_filter()
{
        lt::ip_filter f = base_;
        auto block = [&f](std::string const &a) {
                lt::error_code ec;
                lt::address addr = lt::make_address(a, ec);
                if (!ec)
                        f.add_rule(addr, addr, lt::ip_filter::blocked);
        };

        if (seeds_blocked_)
                for (auto const &a : origin_seeds_)
                        block(a);
        for (auto const &a : liars_)
                block(a);
        if (!complete_)
                for (auto const &a : cut_)
                        block(a);
        ses_.set_ip_filter(f);
}

void ownership::complete()
{
        if (complete_)
                return;
        complete_ = true;
        if (racks_)
                racks_->members({});
        if (!cut_.empty())
                apply_filter();
}

/* partners in each other rack: the nodes whose places there are within
 * this many of a node's own here (ez_rendezvous_partners; ezio-sim
 * --cross-peers) */
static constexpr std::size_t cross_places = 1;

/*
 * Connections across the spine.  Every node connected to every other
 * sends each node of every other rack a HAVE for every piece it gets:
 * with racks of 8 that was a fifth of an image of HAVEs into each rack,
 * and at hundreds of nodes it is most of what crosses the spine
 * (docs/benchmarks.md, "Racks").  A node needs another rack only for the
 * pieces it brings in and those it sends out, and a few nodes there
 * serve that as well as all of them (ezio-sim --cross-view: 1.205 x T*
 * against 1.228 fully meshed, 1.19 copies into a rack against 1.39).
 *
 * So each node tells its peers its rack's members (racks.cpp), and keeps
 * of each other rack only its partners: the nodes whose places there are
 * near its own place here.  The others are cut off with the IP filter
 * (both ways: neither end connects again).  Cutting waits until both
 * lists have held for 2 s, so that the places are settled; a rack whose
 * partners are all gone is opened whole again, and partners not
 * connected are dialed, at most every 5 s each, as are rack-mates
 * learnt only from another rack-mate's list: a node told of a few peers
 * (a tracker's list, a ring of --peer) finds its rack and its partners.
 * Peers without a rack, and origin seeders, are never cut.  A rack seen in part is noted: the
 * schedule takes no stopped share of it (a node cannot tell a rack
 * without stealers from one whose stealers it does not see).
 */
/* an origin seeder: a peer complete when this node first saw it */
bool ownership::origin(std::string const &address) const
{
        return std::find(origin_seeds_.begin(), origin_seeds_.end(), address) != origin_seeds_.end();
}

void ownership::bound_cross(std::vector<lt::peer_info> const &peers, std::string const &my_rack)
{
        auto const now = std::chrono::steady_clock::now();
        std::map<std::string, std::vector<std::string>> connected;     /* per rack: peers, sorted */
        std::vector<rack_view::member> mine{{self_key_, ses_.ssl_listen_port() ? ses_.ssl_listen_port() : ses_.listen_port()}};

        for (auto const &p : peers) {
                std::string const a = p.ip.address().to_string();
                std::string const r = racks_->of(a);
                if (r.empty() || origin(a))
                        continue;
                connected[r].push_back(a);
                if (r == my_rack)
                        mine.push_back({a, racks_->listen_port(a)});
        }
        for (auto &c : connected)
                std::sort(c.second.begin(), c.second.end());
        rack_view::place_order(mine);
        if (mine != mine_) {
                mine_ = mine;
                mine_since_ = now;
                racks_->members(mine);
        }
        std::size_t const ma = mine.size();
        std::size_t const p = static_cast<std::size_t>(
                std::find_if(mine.begin(), mine.end(), [this](auto const &m) { return m.address == self_key_; }) -
                mine.begin());

        std::vector<std::string> cut, partial;
        std::vector<lt::tcp::endpoint> dial;
        auto const settle = std::chrono::seconds(2);
        auto const ask = [&](rack_view::member const &m) {
                auto &when = dialed_[m.address];
                if (when != std::chrono::steady_clock::time_point() && now - when < std::chrono::seconds(5))
                        return;
                when = now;
                lt::error_code ec;
                lt::address const addr = lt::make_address(m.address, ec);
                if (!ec)
                        dial.emplace_back(addr, m.port);
        };
        for (auto const &[rack, t] : racks_->racks_told()) {
                auto const &c = connected[rack];
                auto const on = [&c](std::string const &a) { return std::binary_search(c.begin(), c.end(), a); };
                /* rack-mates this node was not told of (the tracker hands
                 * out a few dozen peers at a time) are dialed */
                if (rack == my_rack) {
                        for (auto const &m : t.list)
                                if (m.address != self_key_ && m.port != 0 && !on(m.address) && !origin(m.address))
                                        ask(m);
                        continue;
                }
                if (t.list.empty())
                        continue;
                std::size_t const mb = t.list.size();
                std::vector<bool> partner(mb), linked(mb);
                bool any = false;
                for (std::size_t q = 0; q < mb; q++) {
                        partner[q] = ez_rendezvous_partners(p, ma, q, mb, cross_places);
                        linked[q] = on(t.list[q].address);
                        any = any || (partner[q] && linked[q]);
                }
                if (std::find(linked.begin(), linked.end(), false) != linked.end())
                        partial.push_back(rack);
                bool const settled_lists = now - mine_since_ >= settle && now - t.since >= settle;
                for (std::size_t q = 0; q < mb; q++) {
                        rack_view::member const &m = t.list[q];
                        if (origin(m.address) || m.address == self_key_)
                                continue;
                        if (!partner[q] && any) {
                                /* settled, or cut already; and only a
                                 * node known to be of that rack (its own
                                 * handshake, or its address's network):
                                 * a list naming this node's rack-mates as
                                 * another rack's cuts no one */
                                if (racks_->of(m.address) != rack)
                                        continue;
                                if (settled_lists || std::binary_search(cut_.begin(), cut_.end(), m.address))
                                        cut.push_back(m.address);
                                continue;
                        }
                        /* a partner, or any node of a rack without one:
                         * dial it if it is not connected */
                        if (!linked[q] && m.port != 0)
                                ask(m);
                }
        }
        std::sort(cut.begin(), cut.end());
        cut.erase(std::unique(cut.begin(), cut.end()), cut.end());
        std::sort(partial.begin(), partial.end());
        partial_ = std::move(partial);
        if (cut != cut_) {
                cut_ = std::move(cut);
                apply_filter();
        }
        for (auto const &ep : dial)
                h_.connect_peer(ep);
}

/*
 * libtorrent asks a peer for more blocks when a block from it arrives,
 * when it unchokes this node and when it first becomes interesting; a
 * HAVE from a peer this node is already interested in asks for nothing.
 * So a connection whose last block came in at a moment when its peer held
 * nothing new that was not already asked of another peer stays idle while
 * that peer announces piece after piece, until libtorrent's end-game tick
 * five seconds later.  Early in a deploy a node that does not use the
 * seeder (judged far behind, or done with its share) takes everything
 * from peers that each hold a few pieces, and every one of its
 * connections can fall idle so: measured, 4.9 s without a byte at 2 % of
 * the image, in one run of three (docs/reliability.md).
 *
 * When an idle connection's peer has a piece this node wants and has
 * asked no one for, filtering one piece out and back in makes libtorrent
 * weigh its interest in every peer again, which asks each for blocks.
 * The piece is one this node holds, else one asked of no one: no request
 * is lost, and the picker never sees it filtered but for that moment.
 */
void ownership::nudge_idle(std::vector<lt::peer_info> const &peers, lt::typed_bitfield<lt::piece_index_t> const &have)
{
        std::size_t const np = static_cast<std::size_t>(num_pieces_);
        std::vector<lt::peer_info const *> idle;

        if (prio_.size() != np || have.size() != num_pieces_)
                return;
        for (auto const &p : peers)
                if ((p.flags & lt::peer_info::interesting) && !(p.flags & lt::peer_info::remote_choked) &&
                    p.download_queue_length == 0 && settled(p, num_pieces_))
                        idle.push_back(&p);
        if (idle.empty())
                return;

        std::vector<lt::partial_piece_info> queue;
        std::vector<bool> asked(np, false);
        h_.get_download_queue(queue);
        for (auto const &q : queue)
                asked[static_cast<std::size_t>(static_cast<int>(q.piece_index))] = true;
        auto const held = [&have](std::size_t i) { return have.get_bit(lt::piece_index_t(static_cast<int>(i))); };
        bool worth = false;
        for (std::size_t k = 0; k < idle.size() && !worth; k++)
                for (std::size_t i = 0; i < np && !worth; i++)
                        worth = idle[k]->pieces.get_bit(lt::piece_index_t(static_cast<int>(i))) && !held(i) &&
                                !asked[i] && prio_[i] != lt::dont_download;
        if (!worth)
                return;

        std::size_t x = np;
        for (std::size_t i = 0; i < np && x == np; i++)
                if (held(i) && prio_[i] != lt::dont_download)
                        x = i;
        for (std::size_t i = 0; i < np && x == np; i++)
                if (!asked[i] && prio_[i] != lt::dont_download)
                        x = i;
        if (x == np)
                return;
        lt::piece_index_t const piece(static_cast<int>(x));
        h_.piece_priority(piece, lt::dont_download);
        h_.piece_priority(piece, prio_[x]);
        nudges_++;
}

/*
 * A peer that takes requests and never answers one (it claims pieces it
 * does not have) holds the blocks asked of it until libtorrent gives up
 * on them, one block a second from 20 s on.  A peer this node has been
 * asking for blocks for 5 s, from whose address no byte of payload has
 * come in all that time, while this node's download moved on, is banned
 * for the rest of the deploy: its connection closes and its blocks go
 * back to the picker at once.  A peer that went quiet after it sent (a
 * link that flaps, a node that died) is not banned, a node that
 * receives nothing from anyone (its own link down) bans no one, and a web
 * seed (an HTTP server, whose first byte may take a while) is not judged.
 */
void ownership::judge_liars(std::vector<lt::peer_info> const &peers, uint64_t done)
{
        auto const now = std::chrono::steady_clock::now();
        std::vector<std::string> sent;          /* addresses that sent payload */
        std::vector<std::pair<std::string, asked>> still;
        bool banned = false;

        for (auto const &p : peers)
                if (p.total_download > 0)
                        sent.push_back(p.ip.address().to_string());
        for (auto const &p : peers) {
                std::string a = p.ip.address().to_string();

                if (p.download_queue_length == 0 || (p.flags & (lt::peer_info::handshake | lt::peer_info::connecting)) ||
                    p.connection_type != lt::peer_info::standard_bittorrent ||
                    std::find(sent.begin(), sent.end(), a) != sent.end() ||
                    std::find(liars_.begin(), liars_.end(), a) != liars_.end())
                        continue;
                auto it = std::find_if(silent_.begin(), silent_.end(), [&a](auto const &e) { return e.first == a; });
                asked const s = it != silent_.end() ? it->second : asked{now, done};
                if (now - s.since >= std::chrono::seconds(5) && done > s.done) {
                        liars_.push_back(a);
                        banned = true;
                        std::fprintf(stderr, "ezio-deploy: banned peer %s: asked for blocks for %.0f s, sent none\n",
                                     a.c_str(), std::chrono::duration<double>(now - s.since).count());
                        continue;
                }
                if (std::find_if(still.begin(), still.end(), [&a](auto const &e) { return e.first == a; }) == still.end())
                        still.emplace_back(a, s);
        }
        silent_ = std::move(still);
        if (banned)
                apply_filter();
}

/* The peers this node waits on that have sent no payload for 5 s: hung
 * or paused with their connections open.  It waits on a peer it has asked
 * for blocks, and on one it wants pieces from that chokes it (a node
 * chokes only a peer that said it wanted nothing, and unchokes it when it
 * says it wants something again, unless it hangs in between: test-racks
 * caught one so, once in eight runs; the origin seeders choke by design,
 * upload_slots.cpp).  A rack-mate stopped after it was whole is not caught
 * by the stall rule (it is not downloading) and shows every piece:
 * without this the pieces only it shows (the other racks' announcements
 * of them kept from libtorrent) would be waited on for good. */
std::vector<std::string> ownership::mute(std::vector<lt::peer_info> const &peers)
{
        auto const now = std::chrono::steady_clock::now();
        std::map<std::string, std::pair<int64_t, std::chrono::steady_clock::time_point>> seen;
        std::vector<std::string> out;

        for (auto const &p : peers) {
                std::string a = p.ip.address().to_string();
                auto const it = served_.find(a);
                std::pair<int64_t, std::chrono::steady_clock::time_point> s{p.total_download, now};

                bool const waiting = p.download_queue_length > 0 ||
                                     ((p.flags & lt::peer_info::interesting) && (p.flags & lt::peer_info::remote_choked) && !origin(a));

                if (it != served_.end() && waiting && it->second.first == p.total_download)
                        s.second = it->second.second;
                if (now - s.second >= std::chrono::seconds(5))
                        out.push_back(a);
                seen[a] = s;
        }
        served_ = std::move(seen);
        return out;
}

/*
 * Piece ownership over keys (sorted, unique), each in a rack (all in ""
 * when racks are not known): rendezvous hashing, first of the racks' names
 * and the piece (the rack that fetches it from the seeder), then of that
 * rack's members' addresses and the piece (the node that does), so that a
 * change of the set moves only the pieces of the nodes or racks that came
 * or went.  In this node's rack the members' hash names the node that
 * brings each piece in from another rack: the owner, for the pieces the
 * rack fetches from the seeder.
 */
void ownership::assign(std::vector<std::string> const &keys, std::vector<std::string> const &racks,
                       std::string const &self_rack)
{
        std::vector<std::string> names = racks;
        std::vector<uint64_t> rh;

        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        for (auto const &r : names)
                rh.push_back(ez_rendezvous_key(r.data(), r.size()));
        /* per rack: its members' hashes and their indices into keys */
        std::vector<std::vector<uint64_t>> mh(names.size());
        std::vector<std::vector<int>> mi(names.size());
        for (std::size_t k = 0; k < keys.size(); k++) {
                std::size_t const r = static_cast<std::size_t>(
                        std::lower_bound(names.begin(), names.end(), racks[k]) - names.begin());
                mh[r].push_back(ez_rendezvous_key(keys[k].data(), keys[k].size()));
                mi[r].push_back(static_cast<int>(k));
        }
        std::size_t const self_r = static_cast<std::size_t>(
                std::lower_bound(names.begin(), names.end(), self_rack) - names.begin());
        bool const self_in = self_r < names.size() && names[self_r] == self_rack;

        owners_ = keys;
        owner_racks_ = racks;
        self_rack_ = self_rack;
        owner_.assign(static_cast<std::size_t>(num_pieces_), 0);
        importer_.assign(static_cast<std::size_t>(num_pieces_), -1);
        for (int i = 0; i < num_pieces_; i++) {
                uint64_t const piece = static_cast<uint64_t>(i);
                std::size_t const r = ez_rendezvous_owner(rh.data(), rh.size(), piece);
                owner_[static_cast<std::size_t>(i)] = mi[r][ez_rendezvous_owner(mh[r].data(), mh[r].size(), piece)];
                if (self_in)
                        importer_[static_cast<std::size_t>(i)] =
                                mi[self_r][ez_rendezvous_owner(mh[self_r].data(), mh[self_r].size(), piece)];
        }
        self_index_ = static_cast<int>(std::find(keys.begin(), keys.end(), self_key_) - keys.begin());
        if (self_index_ == static_cast<int>(keys.size()))
                self_index_ = -1;
}

/*
 * The schedule.  Every node computes the same plan from the same facts
 * (the set of downloading nodes and their bitfields, which on a LAN every
 * node sees alike) without talking to the others, and steers libtorrent's
 * picker with piece priorities:
 *
 *  - Ownership: every piece has one owner among the downloading nodes
 *    (rendezvous hashing), and only the owner asks the seeder for it; the
 *    others take it from the owner once it is announced.  The seeder sends
 *    each piece about once and the nodes' uplinks carry the rest: the
 *    "each piece to one node first, then let the nodes trade" schedule
 *    that reaches the bound S/R.  Stock rarest-first misses it because
 *    pieces in flight to other nodes look as rare as untouched ones.
 *
 *  - Order: an owner asks for its fresh pieces (held by no node yet) in
 *    ascending index order, a window at a time, so every other node knows
 *    which of them are in flight: the lowest ones.
 *
 *  - Stealing: the seeder's uplink is never split evenly between TCP
 *    flows, so some shares are in long before others.  A node with at
 *    most one window of its own share left is a stealer: it takes fresh
 *    pieces from the top end of the shares still being fetched, beyond
 *    one window from their owner's front, split among the stealers by
 *    rendezvous hashing so that no two stealers take the same piece.
 *    This keeps a flow from the seeder to every node until the seeder has
 *    nothing new to send (a flow into a node whose downlink carries peer
 *    traffic gets only its share of that downlink, so fewer flows would
 *    leave the seeder's uplink idle), and it spreads the last pieces over
 *    every node's uplink instead of one.  With racks a stealer takes only
 *    from its own rack's shares (below).
 *
 *    An owner whose share stops moving for 1.5 s (views that disagree for
 *    a moment, an owner gone) has its whole share open to the stealers.
 *    Both were tried before the request queues were short and gave
 *    nothing; with short queues they are worth 2-4 % at N = 8 and 16
 *    (docs/benchmarks.md).
 *
 *  - Release: a node with nothing to ask the seeder for stops using it
 *    (an IP filter), so that the seeder's uplink goes to the nodes still
 *    fetching, and whatever it lacks comes from its peers.
 *
 * Priorities only order the picking: nothing is ever refused, so a node
 * that leaves or misbehaves costs time, never correctness.  The one
 * exception is the web seed (origin_own_only): it serves whatever it is
 * asked for at once, so while it is in use fresh pieces another node owns
 * are not asked for at all (priority 0) until that node holds them; an
 * owner that stops moving opens its share to the stealers as above, and
 * a node that holds every piece it asked for is not done (swarm.cpp
 * counts pieces).
 */
void ownership::update()
{
        std::vector<lt::peer_info> peers;
        struct node {
                std::string address;
                int held;               /* pieces */
                std::string rack;
        };
        std::vector<node> nodes;                /* downloading */
        std::vector<std::string> keys, key_racks;
        std::size_t const np = static_cast<std::size_t>(num_pieces_);
        std::vector<bool> fresh(np, true);     /* held by no node */
        std::vector<bool> in_rack(np, false);  /* held by this node or a rack-mate */
        std::vector<bool> shown(np, false);    /* held by a node that is not stalled, as libtorrent knows */
        std::vector<std::pair<std::string, std::vector<bool>>> hiders;  /* peers with pieces kept from libtorrent */
        std::vector<std::pair<std::string, std::vector<bool>>> mates;   /* rack-mates and what they hold */
        lt::torrent_status const st = h_.status(lt::torrent_handle::query_pieces);

        h_.get_peer_info(peers);
        judge_liars(peers, static_cast<uint64_t>(st.total_wanted_done));
        for (auto const &p : peers)
                if (self_key_.empty() && settled(p, num_pieces_))
                        self_key_ = p.local_endpoint.address().to_string();
        if (racks_ && !self_key_.empty())
                racks_->self_address(self_key_);
        std::string const my_rack = racks_ && !self_key_.empty() ? racks_->self() : std::string();
        bool const racks_on = !my_rack.empty();
        for (auto const &p : peers) {
                std::string a = p.ip.address().to_string();

                /* judge a peer once its bitfield is in, not during the handshake */
                if (!settled(p, num_pieces_))
                        continue;
                /* an origin seeder is a peer complete when first seen; one
                 * that shows no piece yet may only not have sent its
                 * bitfield, so it is judged at a later update */
                if (std::find(seen_.begin(), seen_.end(), a) == seen_.end() &&
                    ((p.flags & lt::peer_info::seed) || p.pieces.count() > 0)) {
                        seen_.push_back(a);
                        if (p.flags & lt::peer_info::seed)
                                origin_seeds_.push_back(a);
                }
                if (origin(a))
                        continue;
                std::string const rack = racks_on ? racks_->of(a) : std::string();
                std::vector<bool> const hidden = racks_ ? racks_->hidden(a) : std::vector<bool>();
                bool const mate = racks_on && rack == my_rack;
                int held = 0;
                if (mate)
                        mates.emplace_back(a, std::vector<bool>(np, false));
                for (std::size_t i = 0; i < np; i++) {
                        bool const shows = p.pieces.get_bit(lt::piece_index_t(static_cast<int>(i)));
                        if (shows || (i < hidden.size() && hidden[i])) {
                                fresh[i] = false;
                                held++;
                                if (mate)
                                        mates.back().second[i] = true;
                        }
                }
                if (!hidden.empty())
                        hiders.emplace_back(a, hidden);
                /* complete, whether libtorrent knows it or not (a node in
                 * another rack whose announcements were kept from it):
                 * not downloading */
                if ((p.flags & lt::peer_info::seed) || held == num_pieces_)
                        continue;
                nodes.push_back({a, held, rack});
        }
        if (self_key_.empty())
                return;
        if (racks_on)
                bound_cross(peers, my_rack);
        for (std::size_t i = 0; i < np; i++)
                if (st.pieces.get_bit(lt::piece_index_t(static_cast<int>(i))))
                        fresh[i] = false, in_rack[i] = true;
        nodes.push_back({self_key_, st.num_pieces, my_rack});

        /* a node whose count of pieces has not moved for 3 s, short of the
         * whole image, is stalled: a rack-mate that is (hung, paused, its
         * disk stuck) neither brings in its pieces nor serves those it holds,
         * so what it holds is not counted as in the rack, and the pieces it
         * was to bring in are every other member's to bring in */
        auto const now = std::chrono::steady_clock::now();
        std::vector<std::string> stalled;
        for (auto const &n : nodes) {
                auto &pr = progress_[n.address];
                if (pr.first != n.held || pr.second == std::chrono::steady_clock::time_point()) {
                        pr = {n.held, now};
                        if (n.address != self_key_)
                                others_moved_ = now;
                }
                if (n.address != self_key_ && n.held < num_pieces_ && now - pr.second > std::chrono::seconds(3))
                        stalled.push_back(n.address);
        }
        /* what those hold counts for nothing here, nor what a peer this
         * node waits on that sends nothing holds, whole or not (mute();
         * racks only) */
        std::vector<std::string> absent = stalled;
        if (racks_on)
                for (auto &a : mute(peers))
                        absent.push_back(std::move(a));
        for (auto const &m : mates)
                if (std::find(absent.begin(), absent.end(), m.first) == absent.end())
                        for (std::size_t i = 0; i < np; i++)
                                if (m.second[i])
                                        in_rack[i] = true;
        /* what libtorrent can fetch from a node: what it shows, unless it
         * is stalled or silent (a frozen rack-mate shows what it holds and
         * sends none of it, so a piece only it shows is one to reveal
         * another rack's holder for, or this node waits on it for good) */
        for (auto const &p : peers) {
                std::string const a = p.ip.address().to_string();
                if (!settled(p, num_pieces_) || origin(a) || std::find(absent.begin(), absent.end(), a) != absent.end())
                        continue;
                for (std::size_t i = 0; i < np; i++)
                        if (p.pieces.get_bit(lt::piece_index_t(static_cast<int>(i))))
                                shown[i] = true;
        }

        /* A node far behind the others (a slow link) owns nothing: the
         * others would wait on its uplink for its share.  Every node sees
         * the same bitfields, so they agree on who is slow; a node that
         * finds itself slow takes everything from its peers instead. */
        std::vector<int> counts;
        for (auto const &n : nodes)
                counts.push_back(n.held);
        std::nth_element(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(counts.size() / 2), counts.end());
        int const median = counts[counts.size() / 2];
        bool const judge = median >= std::max(8, num_pieces_ / 32);
        std::sort(nodes.begin(), nodes.end(), [](node const &x, node const &y) { return x.address < y.address; });
        for (auto const &n : nodes)
                if ((!judge || n.held * 2 >= median) && (keys.empty() || keys.back() != n.address)) {
                        keys.push_back(n.address);
                        key_racks.push_back(n.rack);
                }
        if (keys.empty()) {
                keys.push_back(self_key_);
                key_racks.push_back(my_rack);
        }
        if (keys != owners_ || key_racks != owner_racks_ || my_rack != self_rack_) {
                assign(keys, key_racks, my_rack);
                moved_.clear();
                left_.clear();
        }

        std::vector<bool> stuck(owners_.size(), false);
        for (std::size_t k = 0; k < owners_.size(); k++)
                stuck[k] = std::find(stalled.begin(), stalled.end(), owners_[k]) != stalled.end();

        /* every owner's fresh pieces, ascending: its front is in flight */
        std::vector<std::vector<int>> share(owners_.size());
        for (std::size_t i = 0; i < np; i++)
                if (fresh[i])
                        share[static_cast<std::size_t>(owner_[i])].push_back(static_cast<int>(i));

        /* stealers: owners with at most a window of their share left;
         * sh their hashes, and by rack (all in "" without racks) each
         * rack's hashes and their places in stealers */
        std::size_t const w = static_cast<std::size_t>(window);
        std::vector<std::size_t> stealers;
        std::vector<uint64_t> sh;
        std::map<std::string, std::pair<std::vector<uint64_t>, std::vector<std::size_t>>> rack_stealers;
        for (std::size_t k = 0; k < owners_.size(); k++)
                if (share[k].size() <= w) {
                        auto &row = rack_stealers[owner_racks_[k]];
                        sh.push_back(ez_rendezvous_key(owners_[k].data(), owners_[k].size()));
                        row.first.push_back(sh.back());
                        row.second.push_back(stealers.size());
                        stealers.push_back(k);
                }

        /* An owner whose share has not moved for longer than a piece takes
         * to travel is not fetching it (views of the schedule can disagree
         * for a moment, or it left): its whole share is open to stealers.
         * A piece's travel is the seeder's uplink shared by every owner:
         * with many owners or a slow seeder each share moves seldom (32
         * owners behind a 10 Mbit/s seeder: a 64 KiB piece every 1.7 s
         * each), and opening a share that is only slow has its window
         * fetched twice from the seeder.  So the wait is the longer of
         * 1.5 s and three times the owners' average interval, from the rate
         * at which fresh pieces were taken over the last 5 s. */
        std::size_t const fresh_now = static_cast<std::size_t>(std::count(fresh.begin(), fresh.end(), true));
        /* pieces some node holds that this one lacks (its own are not fresh) */
        available_ = np - fresh_now > static_cast<std::size_t>(st.num_pieces);
        if (available_)
                available_at_ = now;
        fresh_seen_.emplace_back(now, fresh_now);
        while (fresh_seen_.size() > 2 && now - fresh_seen_[1].first > std::chrono::seconds(5))
                fresh_seen_.erase(fresh_seen_.begin());
        auto stall = std::chrono::duration<double>(1.5);
        {
                auto const &[then, was] = fresh_seen_.front();
                double const dt = std::chrono::duration<double>(now - then).count();
                if (dt >= 1 && was > fresh_now)
                        stall = std::max(stall, std::chrono::duration<double>(
                                                        3.0 * static_cast<double>(owners_.size()) * dt /
                                                        static_cast<double>(was - fresh_now)));
        }
        moved_.resize(owners_.size(), now);
        left_.resize(owners_.size(), SIZE_MAX);
        std::vector<std::size_t> front(owners_.size(), w);
        std::vector<std::size_t> order;
        for (std::size_t k = 0; k < owners_.size(); k++) {
                if (share[k].size() != left_[k]) {
                        left_[k] = share[k].size();
                        moved_[k] = now;
                } else if (now - moved_[k] > stall) {
                        front[k] = 0;
                }
                if (share[k].size() > front[k])
                        order.push_back(k);
        }
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                return share[a].size() > share[b].size();
        });
        /* What each stealer takes: the longest shares first, each from its
         * top end down to one window above its owner's front, every piece
         * to the stealer rendezvous hashing names, up to two windows in
         * all.  A share is its own rack's stealers' only: a piece
         * stolen from another rack's share crosses the spine back
         * into that rack, and the stealers of every rack competing for
         * the same shares had the seeder send more pieces twice
         * (ezio-sim: 43 pieces against 65 in 4 racks of 8, and 42 against
         * 93 for nodes that see only a few nodes of each other rack; the
         * testbed in docs/benchmarks.md, "Racks").  A share that
         * stopped in a rack without a stealer is open to every stealer,
         * as before: no rack-mate would take it.  Not when this node sees
         * that rack only in part (bound_cross): it cannot tell a rack
         * without stealers from one whose stealers it does not see
         * (ezio-sim: 1,000 nodes 1.60 x T* without, 2.16 with). */
        std::vector<bool> open(owners_.size());        /* per owner: its share open to every stealer */
        for (std::size_t k : order)
                open[k] = front[k] == 0 && !rack_stealers.count(owner_racks_[k]) &&
                          !std::binary_search(partial_.begin(), partial_.end(), owner_racks_[k]);
        std::vector<int> taker(np, -1);        /* per piece: the stealer (index into owners_) */
        for (std::size_t j = 0; j < stealers.size(); j++) {
                std::size_t const k0 = stealers[j];
                auto const &row = rack_stealers.at(owner_racks_[k0]);
                std::size_t room = 2 * w - share[k0].size();
                for (std::size_t k : order) {
                        if (!open[k] && owner_racks_[k] != owner_racks_[k0])
                                continue;
                        for (std::size_t i = share[k].size(); i-- > front[k] && room > 0;) {
                                std::size_t const piece = static_cast<std::size_t>(share[k][i]);
                                std::size_t const pick =
                                        open[k] ? ez_rendezvous_owner(sh.data(), sh.size(), piece)
                                             : row.second[ez_rendezvous_owner(row.first.data(), row.first.size(), piece)];
                                if (pick == j) {
                                        taker[piece] = static_cast<int>(k0);
                                        room--;
                                }
                        }
                }
        }

        /* this node asks for the front of its share (what no stealer
         * took), and for what it took as a stealer */
        std::vector<int> ask;
        bool stealing = false;
        if (self_index_ >= 0) {
                for (int piece : share[static_cast<std::size_t>(self_index_)])
                        if (ask.size() < w && taker[static_cast<std::size_t>(piece)] < 0)
                                ask.push_back(piece);
                for (std::size_t i = 0; i < np; i++)
                        if (taker[i] == self_index_) {
                                ask.push_back(static_cast<int>(i));
                                stealing = true;
                        }
        }

        std::vector<lt::download_priority_t> prio(np, lt::low_priority);
        for (std::size_t i = 0; i < np; i++)
                if (owner_[i] == self_index_ && fresh[i])
                        prio[i] = lt::download_priority_t(6);   /* own, beyond the window */
                else if (own_only_ && fresh[i] && taker[i] != self_index_)
                        prio[i] = lt::dont_download;    /* another's, from its owner later */
                else if (racks_on && !fresh[i] && !in_rack[i] && importer_[i] >= 0) {
                        /* in another rack only: its importer here brings it in */
                        if (importer_[i] == self_index_)
                                prio[i] = lt::download_priority_t(5);
                        else if (!stuck[static_cast<std::size_t>(importer_[i])])
                                prio[i] = lt::dont_download;
                }
        for (int piece : ask)
                prio[static_cast<std::size_t>(piece)] = lt::top_priority;

        /* Tell the extension what this node brings in, and have a peer
         * revealed that holds one of those pieces only in announcements
         * kept from libtorrent (racks.cpp). */
        if (racks_on) {
                /* its own, a stalled rack-mate's, and when no member of
                 * the schedule in this rack brings a piece in (this node
                 * too slow to be one) whatever it lacks */
                std::vector<bool> duty(np, false);
                for (std::size_t i = 0; i < np; i++)
                        duty[i] = importer_[i] < 0 ? self_index_ < 0 :
                                  importer_[i] == self_index_ || stuck[static_cast<std::size_t>(importer_[i])];
                for (std::size_t i = 0; i < np; i++) {
                        if (!duty[i] || in_rack[i] || shown[i])
                                continue;
                        for (auto const &hd : hiders)
                                if (i < hd.second.size() && hd.second[i]) {
                                        racks_->reveal(hd.first);
                                        break;
                                }
                }
                racks_->duty(std::move(duty));
                for (auto const &ep : racks_->reconnect())
                        h_.connect_peer(ep);
        }
        if (prio != prio_) {
                h_.prioritize_pieces(prio);
                prio_ = prio;
        }
        nudge_idle(peers, st.pieces);
        if (debug_) {
                std::string asked;
                for (int piece : ask)
                        asked += " " + std::to_string(piece);
                std::fprintf(stderr, "ezio-deploy: %.3f fresh %zu, owners %zu, own fresh %ld, asking %zu%s, stealers %zu, origin seeds %zu%s; asks%s\n",
                             std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(),
                             static_cast<std::size_t>(std::count(fresh.begin(), fresh.end(), true)),
                             owners_.size(), self_index_ >= 0 ? static_cast<long>(share[static_cast<std::size_t>(self_index_)].size()) : -1L,
                             ask.size(), stealing ? " (stealing)" : "", stealers.size(), origin_seeds_.size(),
                             racks_on ? (", rack " + my_rack + ": in rack " +
                                         std::to_string(std::count(in_rack.begin(), in_rack.end(), true)) +
                                         ", haves hidden " + std::to_string(racks_->hidden_haves()) +
                                         ", revealed " + std::to_string(racks_->reveals()) +
                                         ", cut " + std::to_string(cut_.size())).c_str() : "",
                             asked.c_str());
                payload_line(peers);
        }
        if (front_)
                front_->store(ask.empty() ? front_none : *std::min_element(ask.begin(), ask.end()),
                              std::memory_order_relaxed);
        asking_ = !ask.empty() || never_release_;
        use_seeders(!ask.empty());
}

/*
 * EZIO_DEBUG: where the payload came from so far, from libtorrent's count
 * per peer (payload only), kept across reconnections (a connection's count
 * starts anew): the origin seeders, this rack (every peer, without racks),
 * other racks.  tools/bench/payload-sources adds it up per rack.
 */
void ownership::payload_line(std::vector<lt::peer_info> const &peers)
{
        std::string const mine = racks_ && !self_key_.empty() ? racks_->self() : std::string();
        int64_t from[3] = {0, 0, 0};

        for (auto const &p : peers) {
                std::string const a = p.ip.address().to_string();
                auto &g = got_[a];
                if (p.total_download < g.last)
                        g.past += g.last;
                g.last = p.total_download;
                g.where = origin(a) ? 0
                          : mine.empty() || racks_->of(a) == mine ? 1 : 2;
        }
        for (auto const &g : got_)
                from[g.second.where] += g.second.past + g.second.last;
        std::fprintf(stderr, "ezio-deploy: payload from the origin %lld, %s %lld, other racks %lld\n",
                     static_cast<long long>(from[0]), mine.empty() ? "peers" : "this rack",
                     static_cast<long long>(from[1]), static_cast<long long>(from[2]));
}

void ownership::trace_payload()
{
        std::vector<lt::peer_info> peers;

        h_.get_peer_info(peers);
        payload_line(peers);
}

}
