/*
 * upload_slots.hpp - internal C++ header: the origin seeder sends to a
 * bounded number of nodes at once, those asking it for the lowest pieces,
 * as each node tells it (upload_slots.cpp).  Never included from C.
 */
#ifndef EZ_UPLOAD_SLOTS_HPP
#define EZ_UPLOAD_SLOTS_HPP

#include <atomic>
#include <functional>
#include <memory>

#include <libtorrent/extensions.hpp>
#include <libtorrent/torrent_handle.hpp>

namespace ez {

/* What a downloading node tells the origin seeders: the lowest piece it
 * asks them for, front_none when it asks them for nothing of its own,
 * front_unset before the schedule has looked.  Set by the schedule
 * (ownership.cpp, on the polling thread), read by the network thread. */
using front_told = std::shared_ptr<std::atomic<int>>;
constexpr int front_none = -1;
constexpr int front_unset = -2;

/* The node's side, for add_torrent_params::extensions: tells every peer
 * that takes "ezio_front" (an origin seeder with upload slots) the front,
 * when it changes, at most once a second. */
std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
front_extension(front_told front);

/* The origin seeder's side: at most slots peers unchoked, those that
 * told the lowest fronts (then peers that told nothing, then those with
 * nothing of their own to ask), the longest interested first among
 * equals; chosen again every second.  num_pieces bounds what a peer may
 * tell; trace: a line on stderr when the chosen set changes
 * (EZIO_DEBUG).  The session must count every peer against the slots
 * (no "local" peer class exempt from them) and give no allowed-fast
 * pieces: swarm.cpp sets both. */
std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
upload_slots_extension(int slots, int num_pieces, bool trace);

}

#endif
