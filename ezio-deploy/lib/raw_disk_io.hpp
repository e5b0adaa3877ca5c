/*
 * raw_disk_io.hpp - internal C++ header shared by swarm.cpp and
 * raw_disk_io.cpp.  Never included from C.
 */
#ifndef EZ_RAW_DISK_IO_HPP
#define EZ_RAW_DISK_IO_HPP

#include <memory>
#include <vector>

#include <libtorrent/disk_interface.hpp>
#include <libtorrent/io_context.hpp>

#include "layout.h"

namespace ez {

struct raw_target {
        const ez_layout *layout;
        int fd;
        bool fresh;     /* nothing to check: report no pieces present */
        bool seed;      /* all data present: report no check needed */
        /* pieces this run wrote blocks of (verified or not), indexed by
         * piece; written on the network thread, read once it is gone */
        std::shared_ptr<std::vector<bool>> written;
};

std::unique_ptr<lt::disk_interface> make_raw_disk_io(lt::io_context &ioc, raw_target const &t);

}

#endif
