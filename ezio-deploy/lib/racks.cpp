/*
 * racks.cpp - racks: which one each peer is in, and keeping the pieces a
 * rack-mate will have from being fetched across the spine.
 *
 * A node's rack is a name it is given (node.yaml rack:, --rack), sent to
 * its peers in the extension handshake (BEP 10, key "ezio_rack"), or the
 * network of its address under a prefix length (rack_prefix:,
 * --rack-prefix), which every node works out for every other alike.
 *
 * The schedule (ownership.cpp) names, for every piece, the one node of
 * each rack that brings it in from another rack; every other member takes
 * it from inside.  libtorrent's picker cannot be told which peer to take a
 * piece from, only which pieces to want, and it asks any peer that holds a
 * wanted piece.  So a peer in another rack is shown to libtorrent holding
 * only the pieces this node must bring in: its HAVE messages for other
 * pieces are kept here (the schedule still counts them), and libtorrent
 * never asks it for them.  Its bitfield, sent once at the start, is passed
 * on whole: nodes that start together have little yet, and one joining
 * late takes from wherever it can.
 *
 * When the rack's members change (a node joins, leaves, or falls behind)
 * or one stalls (no new piece for 3 s: hung, paused, its disk stuck), a
 * piece can become this node's to bring in after its announcements were
 * kept from libtorrent; a stalled rack-mate's pieces stop counting as in
 * the rack, as do those of one that sent nothing for 5 s to this node,
 * which asked it for blocks or is choked by it (whole, it is no longer
 * downloading, and stalls in no count).  If no peer libtorrent knows
 * holds it, the schedule has such a peer revealed: its connection is
 * closed and opened again, and the new bitfield, whole, shows everything
 * it holds.  Its
 * HAVEs after that are kept as before, the first time: a peer left open
 * for good is one libtorrent takes any piece from, those its rack-mates
 * hold too, across the spine (test-racks: a rack took in 1.4 images after
 * such reveals early on, when a peer that never fetched dropped out of the
 * schedule, against 1.02).  A peer revealed a second time is left open:
 * this node needs what it holds, again, and every reconnection costs
 * time (the frozen rack-mate of test-racks, with the seeder gone, waits
 * on it).
 *
 * Each node also tells its peers its rack's members as it sees them
 * (extension message "ezio_members", when they change: a bencoded list
 * of [address, listening port], sorted by address), so that a node of
 * another rack knows every node's place in that rack without being
 * connected to all of them: the schedule keeps connections only to the
 * few nodes of each other rack whose places are near its own
 * (ownership.cpp, bound_cross).  A list is taken as it is from any peer
 * of its rack; one malformed or of over 1,024 members is dropped whole.
 * A peer that lies can make this node dial up to 1,024 addresses, each
 * once in 5 s, or keep the liar as its only partner in the liar's rack;
 * it cannot make it cut its own rack-mates, the seeder, or a node not
 * known to be of that rack (test-racks runs such a peer).
 */
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>

#include <libtorrent/address.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/peer_connection_handle.hpp>

#include "extended.hpp"
#include "racks.hpp"

namespace ez {

std::string rack_view::network(std::string const &address) const
{
        lt::error_code ec;
        lt::address a = lt::make_address(address, ec);

        if (ec || prefix_ <= 0)
                return "";
        if (a.is_v4()) {
                int const bits = std::min(prefix_, 32);
                uint32_t v = a.to_v4().to_uint();
                v = bits == 0 ? 0 : v & ~((bits == 32 ? 0u : 0xffffffffu >> bits));
                return lt::address_v4(v).to_string() + "/" + std::to_string(bits);
        }
        auto b = a.to_v6().to_bytes();
        int const bits = std::min(prefix_, 128);
        for (int i = 0; i < 16; i++) {
                int const keep = std::max(0, std::min(8, bits - 8 * i));
                b[static_cast<std::size_t>(i)] &= static_cast<unsigned char>(keep == 0 ? 0 : 0xff << (8 - keep));
        }
        return lt::address_v6(b).to_string() + "/" + std::to_string(bits);
}

void rack_view::self_address(std::string const &address)
{
        if (prefix_ <= 0)
                return;
        std::string const n = network(address);
        std::lock_guard<std::mutex> l(m_);
        local_ = n;
}

std::string rack_view::self() const
{
        std::lock_guard<std::mutex> l(m_);
        return local_;
}

std::string rack_view::of(std::string const &address) const
{
        std::lock_guard<std::mutex> l(m_);
        auto it = peers_.find(address);
        return it == peers_.end() ? "" : it->second.rack;
}

std::vector<bool> rack_view::hidden(std::string const &address) const
{
        std::lock_guard<std::mutex> l(m_);
        auto it = peers_.find(address);
        return it == peers_.end() ? std::vector<bool>() : it->second.hidden;
}

void rack_view::duty(std::vector<bool> d)
{
        std::lock_guard<std::mutex> l(m_);
        duty_ = std::move(d);
}

void rack_view::reveal(std::string const &address)
{
        std::lock_guard<std::mutex> l(m_);
        auto it = peers_.find(address);
        if (it != peers_.end() && it->second.revealed < 2)
                it->second.reveal = true;
}

std::vector<lt::tcp::endpoint> rack_view::reconnect()
{
        std::lock_guard<std::mutex> l(m_);
        return std::exchange(reconnect_, {});
}

void rack_view::members(std::vector<member> list)
{
        std::lock_guard<std::mutex> l(m_);
        if (list != members_) {
                members_ = std::move(list);
                members_version_++;
        }
}

void rack_view::place_order(std::vector<member> &list)
{
        std::sort(list.begin(), list.end(), [](auto const &x, auto const &y) { return x.address < y.address; });
        list.erase(std::unique(list.begin(), list.end(), [](auto const &x, auto const &y) { return x.address == y.address; }),
                   list.end());
}

unsigned rack_view::members_version() const
{
        std::lock_guard<std::mutex> l(m_);
        return members_version_;
}

/* "ezio_members": a bencoded list of [address, port], sorted by address */
std::string rack_view::members_message() const
{
        lt::entry::list_type list;
        {
                std::lock_guard<std::mutex> l(m_);
                for (auto const &m : members_)
                        list.emplace_back(lt::entry::list_type{lt::entry(m.address), lt::entry(m.port)});
        }
        std::string out;
        if (!list.empty())
                lt::bencode(std::back_inserter(out), lt::entry(list));
        return out;
}

void rack_view::tell(std::string const &address, std::vector<member> list)
{
        std::lock_guard<std::mutex> l(m_);
        auto it = peers_.find(address);
        if (it == peers_.end() || it->second.rack.empty())
                return;
        told &t = told_[it->second.rack];
        if (t.list != list) {
                t.list = std::move(list);
                t.since = std::chrono::steady_clock::now();
        }
}

std::map<std::string, rack_view::told> rack_view::racks_told() const
{
        std::lock_guard<std::mutex> l(m_);
        return told_;
}

unsigned short rack_view::listen_port(std::string const &address) const
{
        std::lock_guard<std::mutex> l(m_);
        auto it = peers_.find(address);
        return it == peers_.end() ? 0 : it->second.listen.port();
}

unsigned long long rack_view::hidden_haves() const
{
        std::lock_guard<std::mutex> l(m_);
        return hidden_haves_;
}

unsigned long long rack_view::reveals() const
{
        std::lock_guard<std::mutex> l(m_);
        return reveals_;
}

void rack_view::handshake(std::string const &address, std::string const &rack, lt::tcp::endpoint listen)
{
        /* with a prefix the address decides, once, here: not at every HAVE */
        std::string const net = prefix_ > 0 ? network(address) : std::string();
        std::lock_guard<std::mutex> l(m_);
        peer &p = peers_[address];
        if (prefix_ > 0)
                p.rack = net;
        else if (!rack.empty())
                p.rack = rack;
        if (listen.port() != 0)
                p.listen = listen;
}

/* on the network thread, for every HAVE: whether to keep it from libtorrent */
bool rack_view::hide(std::string const &address, int piece)
{
        std::lock_guard<std::mutex> l(m_);
        auto it = peers_.find(address);

        if (it == peers_.end() || it->second.revealed >= 2 || duty_.empty() || piece < 0 ||
            static_cast<std::size_t>(piece) >= duty_.size() || duty_[static_cast<std::size_t>(piece)])
                return false;
        std::string const &rack = it->second.rack;
        if (rack.empty() || local_.empty() || rack == local_)
                return false;
        peer &p = it->second;
        if (p.hidden.size() != duty_.size())
                p.hidden.assign(duty_.size(), false);
        p.hidden[static_cast<std::size_t>(piece)] = true;
        hidden_haves_++;
        return true;
}

void rack_view::forget(std::string const &address)
{
        std::lock_guard<std::mutex> l(m_);
        auto it = peers_.find(address);
        if (it != peers_.end())
                it->second.hidden.clear();
}

bool rack_view::must_reveal(std::string const &address)
{
        std::lock_guard<std::mutex> l(m_);
        auto it = peers_.find(address);
        if (it == peers_.end() || !it->second.reveal)
                return false;
        peer &p = it->second;
        p.reveal = false;
        p.revealed++;
        p.hidden.clear();
        if (p.listen.port() != 0)
                reconnect_.push_back(p.listen);
        reveals_++;
        return true;
}

namespace {

/* the extended message id peers send this node "ezio_members" with (BEP
 * 10: each side names its own ids; libtorrent's are below 10) */
constexpr int members_msg = 41;

/* a told list: [address, port] pairs, at most a rack's worth, sorted by
 * address as places are counted; anything malformed is dropped whole */
bool parse_members(lt::span<char const> body, std::vector<rack_view::member> &out)
{
        lt::error_code ec;
        lt::bdecode_node const n = lt::bdecode(body, ec, nullptr, 100, 10000);

        if (ec || n.type() != lt::bdecode_node::list_t || n.list_size() > 1024)
                return false;
        for (int i = 0; i < n.list_size(); i++) {
                lt::bdecode_node const e = n.list_at(i);
                if (e.type() != lt::bdecode_node::list_t || e.list_size() != 2 ||
                    e.list_at(0).type() != lt::bdecode_node::string_t || e.list_at(1).type() != lt::bdecode_node::int_t)
                        return false;
                std::int64_t const port = e.list_int_value_at(1);
                lt::error_code aec;
                lt::address const a = lt::make_address(std::string(e.list_string_value_at(0).substr(0, 64)), aec);
                if (aec || port < 0 || port > 65535)
                        return false;
                out.push_back({a.to_string(), static_cast<unsigned short>(port)});
        }
        rack_view::place_order(out);
        return true;
}

class racks_peer final : public lt::peer_plugin {
public:
        racks_peer(lt::bt_peer_connection_handle pc, std::shared_ptr<rack_view> view)
                : pc_(std::move(pc)), view_(std::move(view)), address_(pc_.remote().address().to_string())
        {
                /* an outgoing connection went to the peer's listening port */
                view_->handshake(address_, "", pc_.is_outgoing() ? pc_.remote() : lt::tcp::endpoint());
        }

        lt::string_view type() const override { return "ezio_racks"; }

        void add_handshake(lt::entry &h) override
        {
                if (!view_->name().empty())
                        h["ezio_rack"] = std::string(view_->name());
                h["m"]["ezio_members"] = members_msg;
        }

        bool on_extension_handshake(lt::bdecode_node const &h) override
        {
                lt::string_view const rack = h.dict_find_string_value("ezio_rack");
                std::int64_t const port = h.dict_find_int_value("p", 0);
                lt::tcp::endpoint listen;

                if (port > 0 && port < 65536)
                        listen = lt::tcp::endpoint(pc_.remote().address(), static_cast<unsigned short>(port));
                view_->handshake(address_, std::string(rack.substr(0, 64)), listen);
                if (lt::bdecode_node const m = h.dict_find_dict("m")) {
                        std::int64_t const id = m.dict_find_int_value("ezio_members", 0);
                        members_id_ = id > 0 && id < 256 ? static_cast<int>(id) : 0;
                }
                return true;
        }

        bool on_extended(int length, int msg, lt::span<char const> body) override
        {
                if (msg != members_msg)
                        return false;
                std::vector<rack_view::member> list;
                if (pc_.packet_finished() && body.size() == length && parse_members(body, list))
                        view_->tell(address_, std::move(list));
                return true;
        }

        bool on_have(lt::piece_index_t piece) override { return view_->hide(address_, static_cast<int>(piece)); }

        void on_disconnect(lt::error_code const &) override { view_->forget(address_); }

        void tick() override
        {
                if (view_->must_reveal(address_)) {
                        pc_.disconnect(lt::error_code(ECANCELED, lt::generic_category()), lt::operation_t::bittorrent);
                        return;
                }
                /* this rack's members, once a second at most, when they
                 * changed since this peer was last told */
                unsigned const v = view_->members_version();
                if (members_id_ == 0 || v == sent_ || pc_.is_disconnecting())
                        return;
                sent_ = v;
                std::string const body = view_->members_message();
                if (body.empty())
                        return;
                send_extended(pc_, members_id_, body);
        }

private:
        lt::bt_peer_connection_handle pc_;
        std::shared_ptr<rack_view> view_;
        std::string const address_;
        int members_id_ = 0;    /* the id the peer takes "ezio_members" under; 0: it does not */
        unsigned sent_ = 0;     /* the version of the list it was last told */
};

class racks_torrent final : public lt::torrent_plugin {
public:
        explicit racks_torrent(std::shared_ptr<rack_view> view) : view_(std::move(view)) {}

        std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const &pc) override
        {
                if (pc.type() != lt::connection_type::bittorrent)
                        return nullptr;
                return std::make_shared<racks_peer>(lt::bt_peer_connection_handle(pc), view_);
        }

private:
        std::shared_ptr<rack_view> view_;
};

}

std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
racks_extension(std::shared_ptr<rack_view> view)
{
        return [view](lt::torrent_handle const &, lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
                return std::make_shared<racks_torrent>(view);
        };
}

}
