/*
 * peer_socket.hpp - internal C++ header: the socket options of every peer
 * connection (peer_socket.cpp).  Never included from C.
 */
#ifndef EZ_PEER_SOCKET_HPP
#define EZ_PEER_SOCKET_HPP

#include <functional>
#include <memory>

#include <libtorrent/extensions.hpp>
#include <libtorrent/torrent_handle.hpp>

namespace ez {

/* A torrent extension for add_torrent_params::extensions. */
std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
peer_socket_extension();

}

#endif
