/*
 * raw_disk_io.cpp - libtorrent storage that is a block device.
 *
 * An lt::disk_interface whose torrent payload is not a set of files but
 * the extents of a layout on one fd: a payload offset (piece * piece length
 * + offset) goes through ez_layout_map() to the target offset, and the
 * bytes move with pread/pwrite.  Like libtorrent's posix_disk_io, every job
 * runs synchronously on the calling (network) thread and its handler is
 * posted back to the io_context; a short or failed transfer becomes a
 * storage_error naming the operation, never a silent success.
 *
 * Memory: read buffers come from a small free list of 16 KiB blocks (the
 * most a peer may request at once), and hashing streams each piece through
 * one fixed 1 MiB buffer, so nothing grows with the image size.
 *
 * The interface contract (handlers, status codes, v1/v2 hashing) follows
 * libtorrent 2.0's include/libtorrent/disk_interface.hpp.
 */
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <libtorrent/disk_buffer_holder.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/operations.hpp>
#include <libtorrent/peer_request.hpp>
#include <libtorrent/storage_defs.hpp>

#include "blockdev.h"
#include "raw_disk_io.hpp"

namespace ez {

namespace {

constexpr int block_size = lt::default_block_size;
constexpr std::size_t hash_chunk = 1 << 20;
constexpr std::size_t pool_keep = 256;  /* cached free blocks: 4 MiB */

lt::storage_error make_error(int neg_errno, lt::operation_t op)
{
        lt::storage_error se;

        se.ec = lt::error_code(-neg_errno, lt::generic_category());
        se.operation = op;
        se.file(lt::file_index_t(0));
        return se;
}

class raw_disk_io final : public lt::disk_interface, public lt::buffer_allocator_interface {
public:
        raw_disk_io(lt::io_context &ioc, raw_target const &t)
                : ioc_(ioc), t_(t), hash_buf_(hash_chunk) {}

        ~raw_disk_io() override
        {
                for (char *b : pool_)
                        std::free(b);
        }

        lt::storage_holder new_torrent(lt::storage_params const &p, std::shared_ptr<void> const &) override
        {
                files_ = &p.files;
                size_ok_ = static_cast<std::uint64_t>(p.files.total_size()) == t_.layout->payload_len;
                return lt::storage_holder(lt::storage_index_t(0), *this);
        }

        void remove_torrent(lt::storage_index_t) override { files_ = nullptr; }

        void async_read(lt::storage_index_t, lt::peer_request const &r,
                        std::function<void(lt::disk_buffer_holder, lt::storage_error const &)> handler,
                        lt::disk_job_flags_t) override
        {
                lt::storage_error se;
                char *buf = r.length <= block_size ? alloc_block() : nullptr;
                int e;

                if (!buf) {
                        se = make_error(-ENOMEM, lt::operation_t::alloc_cache_piece);
                } else if ((e = transfer(false, buf, offset_of(r.piece, r.start), r.length)) < 0) {
                        se = make_error(e, lt::operation_t::file_read);
                        free_disk_buffer(buf);
                        buf = nullptr;
                }
                lt::post(ioc_, [this, handler = std::move(handler), buf, len = r.length, se] {
                        handler(buf ? lt::disk_buffer_holder(*this, buf, len) : lt::disk_buffer_holder(), se);
                });
        }

        bool async_write(lt::storage_index_t, lt::peer_request const &r, char const *buf,
                         std::shared_ptr<lt::disk_observer>,
                         std::function<void(lt::storage_error const &)> handler,
                         lt::disk_job_flags_t) override
        {
                lt::storage_error se;
                int e = transfer(true, const_cast<char *>(buf), offset_of(r.piece, r.start), r.length);
                auto piece = static_cast<std::size_t>(static_cast<int>(r.piece));

                if (t_.written) {
                        if (piece >= t_.written->size())
                                t_.written->resize(piece + 1);
                        (*t_.written)[piece] = true;
                }
                if (e < 0)
                        se = make_error(e, lt::operation_t::file_write);
                lt::post(ioc_, [handler = std::move(handler), se] { handler(se); });
                /* synchronous: the write is done, no need to back off */
                return false;
        }

        void async_hash(lt::storage_index_t, lt::piece_index_t piece, lt::span<lt::sha256_hash> v2,
                        lt::disk_job_flags_t flags,
                        std::function<void(lt::piece_index_t, lt::sha1_hash const &, lt::storage_error const &)> handler) override
        {
                lt::storage_error se;
                lt::sha1_hash h1;
                bool v1 = bool(flags & lt::disk_interface::v1_hash);
                int e = hash_piece(piece, v1 ? &h1 : nullptr, v2);

                if (e < 0)
                        se = make_error(e, lt::operation_t::file_read);
                lt::post(ioc_, [handler = std::move(handler), piece, h1, se] { handler(piece, h1, se); });
        }

        void async_hash2(lt::storage_index_t, lt::piece_index_t piece, int offset, lt::disk_job_flags_t,
                         std::function<void(lt::piece_index_t, lt::sha256_hash const &, lt::storage_error const &)> handler) override
        {
                lt::storage_error se;
                lt::sha256_hash h;
                int len = std::min(block_size, files_->piece_size2(piece) - offset);
                int e = len > 0 ? transfer(false, hash_buf_.data(), offset_of(piece, offset), len) : -ERANGE;

                if (e < 0)
                        se = make_error(e, lt::operation_t::file_read);
                else
                        h = lt::hasher256(hash_buf_.data(), len).final();
                lt::post(ioc_, [handler = std::move(handler), piece, h, se] { handler(piece, h, se); });
        }

        void async_move_storage(lt::storage_index_t, std::string p, lt::move_flags_t,
                                std::function<void(lt::status_t, std::string const &, lt::storage_error const &)> handler) override
        {
                /* the target is a device: there is nothing to move */
                lt::post(ioc_, [handler = std::move(handler), p = std::move(p)] {
                        handler(lt::status_t::no_error, p, lt::storage_error());
                });
        }

        void async_release_files(lt::storage_index_t, std::function<void()> handler) override
        {
                if (handler)
                        lt::post(ioc_, std::move(handler));
        }

        void async_check_files(lt::storage_index_t, lt::add_torrent_params const *,
                               lt::aux::vector<std::string, lt::file_index_t>,
                               std::function<void(lt::status_t, lt::storage_error const &)> handler) override
        {
                lt::status_t st = lt::status_t::no_error;
                lt::storage_error se;

                if (!size_ok_) {
                        st = lt::status_t::fatal_disk_error;
                        se = make_error(-EINVAL, lt::operation_t::check_resume);
                } else if (!t_.fresh && !t_.seed) {
                        /* a target that may hold part of the image: hash
                         * every piece so a restart only fetches what is missing */
                        st = lt::status_t::need_full_check;
                }
                lt::post(ioc_, [handler = std::move(handler), st, se] { handler(st, se); });
        }

        void async_stop_torrent(lt::storage_index_t, std::function<void()> handler) override
        {
                if (handler)
                        lt::post(ioc_, std::move(handler));
        }

        void async_rename_file(lt::storage_index_t, lt::file_index_t idx, std::string name,
                               std::function<void(std::string const &, lt::file_index_t, lt::storage_error const &)> handler) override
        {
                lt::post(ioc_, [handler = std::move(handler), idx, name = std::move(name)] {
                        handler(name, idx, lt::storage_error());
                });
        }

        void async_delete_files(lt::storage_index_t, lt::remove_flags_t,
                                std::function<void(lt::storage_error const &)> handler) override
        {
                /* never delete a disk: refuse */
                lt::post(ioc_, [handler = std::move(handler)] {
                        handler(make_error(-EPERM, lt::operation_t::file_remove));
                });
        }

        void async_set_file_priority(lt::storage_index_t, lt::aux::vector<lt::download_priority_t, lt::file_index_t> prio,
                                     std::function<void(lt::storage_error const &,
                                                        lt::aux::vector<lt::download_priority_t, lt::file_index_t>)> handler) override
        {
                lt::post(ioc_, [handler = std::move(handler), prio = std::move(prio)]() mutable {
                        handler(lt::storage_error(), std::move(prio));
                });
        }

        void async_clear_piece(lt::storage_index_t, lt::piece_index_t index,
                               std::function<void(lt::piece_index_t)> handler) override
        {
                lt::post(ioc_, [handler = std::move(handler), index] { handler(index); });
        }

        void update_stats_counters(lt::counters &) const override {}
        std::vector<lt::open_file_state> get_status(lt::storage_index_t) const override { return {}; }
        void abort(bool) override {}
        void submit_jobs() override {}
        void settings_updated() override {}

        void free_disk_buffer(char *b) override
        {
                std::lock_guard<std::mutex> lock(pool_mutex_);

                if (pool_.size() < pool_keep)
                        pool_.push_back(b);
                else
                        std::free(b);
        }

private:
        char *alloc_block()
        {
                std::lock_guard<std::mutex> lock(pool_mutex_);

                if (pool_.empty())
                        return static_cast<char *>(std::malloc(block_size));
                char *b = pool_.back();
                pool_.pop_back();
                return b;
        }

        /* Payload offset of byte start of piece. */
        std::uint64_t offset_of(lt::piece_index_t piece, int start) const
        {
                return static_cast<std::uint64_t>(static_cast<int>(piece)) *
                       static_cast<std::uint64_t>(files_->piece_length()) + static_cast<unsigned>(start);
        }

        /* Move len bytes at payload offset poff; returns 0 or -errno. */
        int transfer(bool write, char *buf, std::uint64_t poff, std::uint64_t len)
        {
                if (!files_ || !size_ok_)
                        return -EINVAL;
                return ez_payload_io(t_.layout, t_.fd, write, buf, poff, len);
        }

        int hash_piece(lt::piece_index_t piece, lt::sha1_hash *v1, lt::span<lt::sha256_hash> v2)
        {
                std::uint64_t base = files_ ? offset_of(piece, 0) : 0;
                int psize = files_ ? files_->piece_size(piece) : 0;
                int psize2 = v2.empty() ? 0 : files_->piece_size2(piece);
                int total = std::max(psize, psize2);
                lt::hasher h;

                for (int off = 0; off < total; off += static_cast<int>(hash_chunk)) {
                        int n = std::min(static_cast<int>(hash_chunk), total - off);
                        int e = transfer(false, hash_buf_.data(), base + static_cast<unsigned>(off), static_cast<unsigned>(n));

                        if (e < 0)
                                return e;
                        if (v1 && off < psize)
                                h.update(hash_buf_.data(), std::min(n, psize - off));
                        for (int b = 0; b < n && off + b < psize2; b += block_size) {
                                std::size_t idx = static_cast<std::size_t>((off + b) / block_size);
                                int bl = std::min(block_size, psize2 - off - b);

                                if (idx < static_cast<std::size_t>(v2.size()))
                                        v2[static_cast<std::ptrdiff_t>(idx)] = lt::hasher256(hash_buf_.data() + b, bl).final();
                        }
                }
                if (v1)
                        *v1 = h.final();
                return 0;
        }

        lt::io_context &ioc_;
        raw_target t_;
        lt::file_storage const *files_ = nullptr;
        bool size_ok_ = false;
        std::vector<char> hash_buf_;
        std::mutex pool_mutex_;
        std::vector<char *> pool_;
};

}

std::unique_ptr<lt::disk_interface> make_raw_disk_io(lt::io_context &ioc, raw_target const &t)
{
        return std::unique_ptr<lt::disk_interface>(new raw_disk_io(ioc, t));
}

}
