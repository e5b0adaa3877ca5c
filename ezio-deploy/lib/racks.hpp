/*
 * racks.hpp - internal C++ header: which rack each peer is in, and what
 * libtorrent is told of the pieces of peers in other racks (racks.cpp).
 * Never included from C.
 */
#ifndef EZ_RACKS_HPP
#define EZ_RACKS_HPP

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <libtorrent/extensions.hpp>
#include <libtorrent/socket.hpp>
#include <libtorrent/torrent_handle.hpp>

namespace ez {

/*
 * What the network thread (the extension) and the schedule (ownership.cpp,
 * on the polling thread) share, under its mutex.  Peers are known by
 * address, as in the schedule.
 */
class rack_view {
public:
        /* rack: this node's rack ("" none); prefix: racks are the
         * addresses' networks of that many bits instead (0: named) */
        rack_view(std::string rack, int prefix) : name_(rack), prefix_(prefix), local_(std::move(rack)) {}

        bool on() const { return !name_.empty() || prefix_ > 0; }

        /* the name this node gives its peers ("" with a prefix) */
        std::string const &name() const { return name_; }

        /* with a prefix, this node's rack is its address's network: the
         * schedule passes the address once it knows it */
        void self_address(std::string const &address);

        /* this node's rack, "" while not known */
        std::string self() const;

        /* a peer's rack: the name it gave in its extension handshake or,
         * with a prefix, its address's network; "" when not known */
        std::string of(std::string const &address) const;

        /* Pieces the peer at address announced that libtorrent was not
         * told of (empty: none).  The schedule adds them to what libtorrent
         * shows of that peer. */
        std::vector<bool> hidden(std::string const &address) const;

        /* The pieces this node brings into its rack from other racks
         * (the schedule sets it at every look): announcements of other
         * pieces by peers in other racks are not passed to libtorrent, so
         * that it never asks another rack for a piece a rack-mate will
         * have.  Empty: nothing is hidden. */
        void duty(std::vector<bool> d);

        /* Peers to connect to again with nothing hidden: a piece this node
         * must bring in is held, as far as libtorrent knows, only by peers
         * that announced it while it was not this node's (the rack's
         * members changed since).  Their connections are closed; the
         * schedule connects to them again (reconnect()). */
        void reveal(std::string const &address);
        std::vector<lt::tcp::endpoint> reconnect();

        /* A node of a rack (this node's, or another's as one of its
         * nodes told): its address and the port it listens on (0: not
         * known). */
        struct member {
                std::string address;
                unsigned short port = 0;
                bool operator==(member const &o) const { return address == o.address && port == o.port; }
                bool operator!=(member const &o) const { return !(*this == o); }
        };

        /* This node's rack, this node included, sorted by address: the
         * schedule sets it at every look, and the extension tells every
         * peer when it changes (extension message "ezio_members").  Empty:
         * nothing to tell (this node is done with the schedule). */
        void members(std::vector<member> list);

        /* a list of members in the order places are counted: by address,
         * each address once */
        static void place_order(std::vector<member> &list);

        /* Every rack as its nodes told it (this node's rack too, as its
         * rack-mates see it), the last list told by any of them, and
         * since when that list has been the same. */
        struct told {
                std::vector<member> list;
                std::chrono::steady_clock::time_point since;
        };
        std::map<std::string, told> racks_told() const;

        /* where the peer at address listens, from its handshake (0: not known) */
        unsigned short listen_port(std::string const &address) const;

        /* counters for the status trace: announcements hidden, peers revealed */
        unsigned long long hidden_haves() const;
        unsigned long long reveals() const;

        /* the extension's side */
        void handshake(std::string const &address, std::string const &rack, lt::tcp::endpoint listen);
        bool hide(std::string const &address, int piece);
        void forget(std::string const &address);
        bool must_reveal(std::string const &address);
        unsigned members_version() const;
        std::string members_message() const;
        void tell(std::string const &address, std::vector<member> list);

private:
        std::string network(std::string const &address) const;

        mutable std::mutex m_;
        std::string const name_;
        int const prefix_;
        std::string local_;             /* this node's rack */
        struct peer {
                std::string rack;
                lt::tcp::endpoint listen;       /* where to connect to it again */
                std::vector<bool> hidden;
                int revealed = 0;               /* times closed to be reconnected; from
                                                 * the second on, nothing is hidden any more */
                bool reveal = false;            /* to be closed and reconnected */
        };
        std::map<std::string, peer> peers_;
        std::vector<bool> duty_;
        std::vector<member> members_;
        unsigned members_version_ = 0;
        std::map<std::string, told> told_;      /* per other rack */
        std::vector<lt::tcp::endpoint> reconnect_;
        unsigned long long hidden_haves_ = 0;
        unsigned long long reveals_ = 0;
};

/* A torrent extension for add_torrent_params::extensions: tells peers this
 * node's rack and its rack's members and learns theirs, and hides from
 * libtorrent the pieces the schedule says come from inside the rack.
 * Before any plugin that copies the extension handshake
 * (request_budget.cpp). */
std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const &, lt::client_data_t)>
racks_extension(std::shared_ptr<rack_view> view);

}

#endif
