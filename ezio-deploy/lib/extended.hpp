/*
 * extended.hpp - internal C++ header: sending a BEP 10 extended message
 * from a peer plugin.  Never included from C.
 */
#ifndef EZ_EXTENDED_HPP
#define EZ_EXTENDED_HPP

#include <cstdint>
#include <string>

#include <libtorrent/peer_connection_handle.hpp>

namespace ez {

/* Send the peer the extended message id (the id it named for it in its
 * extension handshake; 0: the handshake itself) with body: the length,
 * message 20, the id, the body. */
inline void send_extended(lt::bt_peer_connection_handle &pc, int id, std::string const &body)
{
        std::uint32_t const len = static_cast<std::uint32_t>(body.size() + 2);
        std::string msg{static_cast<char>(len >> 24), static_cast<char>(len >> 16), static_cast<char>(len >> 8),
                        static_cast<char>(len), 20, static_cast<char>(id)};
        msg += body;
        pc.send_buffer(msg.data(), static_cast<int>(msg.size()));
}

}

#endif
