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
 * the rack.  If no peer libtorrent knows holds it, the
 * schedule has such a peer revealed: its connection is closed and opened
 * again, and the new bitfield, whole, shows everything it holds; nothing
 * is hidden from it after that.
 */
#include <algorithm>
#include <cerrno>

#include <libtorrent/address.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/peer_connection_handle.hpp>

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
        if (it != peers_.end() && !it->second.open)
                it->second.reveal = true;
}

std::vector<lt::tcp::endpoint> rack_view::reconnect()
{
        std::lock_guard<std::mutex> l(m_);
        return std::exchange(reconnect_, {});
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

        if (it == peers_.end() || it->second.open || duty_.empty() || piece < 0 ||
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
        p.open = true;
        p.hidden.clear();
        if (p.listen.port() != 0)
                reconnect_.push_back(p.listen);
        reveals_++;
        return true;
}

namespace {

class racks_peer final : public lt::peer_plugin {
public:
        racks_peer(lt::peer_connection_handle pc, std::shared_ptr<rack_view> view)
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
        }

        bool on_extension_handshake(lt::bdecode_node const &h) override
        {
                lt::string_view const rack = h.dict_find_string_value("ezio_rack");
                std::int64_t const port = h.dict_find_int_value("p", 0);
                lt::tcp::endpoint listen;

                if (port > 0 && port < 65536)
                        listen = lt::tcp::endpoint(pc_.remote().address(), static_cast<unsigned short>(port));
                view_->handshake(address_, std::string(rack.substr(0, 64)), listen);
                return true;
        }

        bool on_have(lt::piece_index_t piece) override { return view_->hide(address_, static_cast<int>(piece)); }

        void on_disconnect(lt::error_code const &) override { view_->forget(address_); }

        void tick() override
        {
                if (view_->must_reveal(address_))
                        pc_.disconnect(lt::error_code(ECANCELED, lt::generic_category()), lt::operation_t::bittorrent);
        }

private:
        lt::peer_connection_handle pc_;
        std::shared_ptr<rack_view> view_;
        std::string const address_;
};

class racks_torrent final : public lt::torrent_plugin {
public:
        explicit racks_torrent(std::shared_ptr<rack_view> view) : view_(std::move(view)) {}

        std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const &pc) override
        {
                if (pc.type() != lt::connection_type::bittorrent)
                        return nullptr;
                return std::make_shared<racks_peer>(pc, view_);
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
