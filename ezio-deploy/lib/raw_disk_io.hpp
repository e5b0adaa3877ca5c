/*
 * raw_disk_io.hpp - internal C++ header shared by swarm.cpp and
 * raw_disk_io.cpp.  Never included from C.
 */
#ifndef EZ_RAW_DISK_IO_HPP
#define EZ_RAW_DISK_IO_HPP

#include <memory>
#include <mutex>
#include <vector>

#include <libtorrent/disk_interface.hpp>
#include <libtorrent/io_context.hpp>
#include <libtorrent/torrent_info.hpp>

#include "err.h"
#include "layout.h"

namespace ez {

/* Why the storage failed a hash job on its own account: set once, on the
 * storage's hasher thread, before libtorrent posts the file_error_alert
 * that the swarm reads it on. */
struct storage_failure {
        std::mutex m;
        int code = 0;   /* -EIO: a write-back failed; -EBADMSG: a piece reads back different */
        ez_err why{};
};

struct raw_target {
        const ez_layout *layout;
        int fd;
        bool fresh;     /* nothing to check: report no pieces present */
        bool seed;      /* all data present: report no check needed */
        /* pieces this run wrote blocks of (verified or not), indexed by
         * piece; written on the network thread, read once it is gone */
        std::shared_ptr<std::vector<bool>> written;
        /* the read-back: hash each piece written in this run from what
         * the device returns after the piece's write-back and cache drop,
         * and tell a device that changed the bytes from a peer that sent
         * bad ones (failure) */
        bool read_back;
        std::shared_ptr<lt::torrent_info const> ti;     /* the expected hashes */
        std::shared_ptr<storage_failure> failure;
};

std::unique_ptr<lt::disk_interface> make_raw_disk_io(lt::io_context &ioc, raw_target const &t);

}

#endif
