/*
 * request_budget.hpp - internal C++ header: how many block requests each
 * peer may keep outstanding with this node (request_budget.cpp).  Never
 * included from C.
 */
#ifndef EZ_REQUEST_BUDGET_HPP
#define EZ_REQUEST_BUDGET_HPP

#include <atomic>
#include <functional>
#include <memory>

#include <libtorrent/extensions.hpp>
#include <libtorrent/torrent_handle.hpp>

#include "request_budget.h"

namespace ez {

/* The number of connected peers, shared between the status poll (which
 * sets it) and the network thread (which reads it). */
using peer_count = std::shared_ptr<std::atomic<int>>;

/* A torrent extension for add_torrent_params::extensions; trace: print
 * every block asked of a seed (EZIO_DEBUG). */
std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
request_budget_extension(peer_count peers, bool trace);

}

#endif
