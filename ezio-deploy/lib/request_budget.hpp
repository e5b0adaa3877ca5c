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

namespace ez {

/* Blocks (16 KiB) a node may have requested from all its peers together. */
constexpr int request_budget_blocks = 64;
/* The most any one peer may ask of this node at once (libtorrent's
 * max_allowed_in_request_queue is set to the same). */
constexpr int request_queue_max = 16;

/* The share of the budget one peer gets when a node has `peers` of them. */
int request_queue_for(int peers);

/* The number of connected peers, shared between the status poll (which
 * sets it) and the network thread (which reads it). */
using peer_count = std::shared_ptr<std::atomic<int>>;

/* A torrent extension for add_torrent_params::extensions. */
std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
request_budget_extension(peer_count peers);

}

#endif
