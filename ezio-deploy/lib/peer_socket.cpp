/*
 * peer_socket.cpp - TCP_NODELAY on every peer connection.
 *
 * libtorrent 2.0 leaves Nagle's algorithm on for its peer sockets (it
 * batches its own writes instead).  Between two nodes that is a stall: a
 * node's next block requests are a few dozen bytes, and Nagle holds them
 * while its previous ones are unacknowledged; a peer that has sent every
 * block it was asked for has nothing to carry the acknowledgement and
 * delays it (40 ms on Linux).  Measured over loopback, 1 GiB in 64 KiB
 * pieces with the piece hashes taken off the network thread: the sender
 * idle in 16-40 ms gaps, 48 MB/s, 8 s for the GiB where it takes 1.6 s
 * with the option set (docs/benchmarks.md).
 *
 * An accepted connection is open when its plugin is made; an outgoing one
 * gets the option once it is connected.
 */
#include <libtorrent/peer_connection.hpp>
#include <libtorrent/peer_connection_handle.hpp>

#include "peer_socket.hpp"

namespace ez {

namespace {

/* libtorrent exports no type information for its peer_connection, which
 * UBSan's vptr check of the call below would need to link */
__attribute__((no_sanitize("vptr"))) void no_delay(lt::peer_connection_handle const &pc)
{
        lt::error_code ec;

        if (auto c = pc.native_handle())
                c->get_socket().set_option(lt::tcp::no_delay(true), ec);
        /* a socket not yet open (an outgoing one): on_connected() */
}

class socket_peer final : public lt::peer_plugin {
public:
        explicit socket_peer(lt::peer_connection_handle pc) : pc_(std::move(pc)) { no_delay(pc_); }

        lt::string_view type() const override { return "ezio_peer_socket"; }

        void on_connected() override { no_delay(pc_); }

private:
        lt::peer_connection_handle pc_;
};

class socket_torrent final : public lt::torrent_plugin {
public:
        std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const &pc) override
        {
                return std::make_shared<socket_peer>(pc);
        }
};

}

std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
peer_socket_extension()
{
        return [](lt::torrent_handle const &, lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
                return std::make_shared<socket_torrent>();
        };
}

}
