/*
 * raw_disk_io.cpp - libtorrent storage that is a block device.
 *
 * An lt::disk_interface whose torrent payload is not a set of files but
 * the extents of a layout on one fd: a payload offset (piece * piece length
 * + offset) goes through ez_layout_map() to the target offset, and the
 * bytes move with pread/pwrite.  Like libtorrent's posix_disk_io, reads and
 * writes run synchronously on the calling (network) thread and their
 * handlers are posted back to the io_context; a short or failed transfer
 * becomes a storage_error naming the operation, never a silent success.
 *
 * With the read-back on, a piece written in this run is first written
 * back and its cached pages dropped, so the hash libtorrent checks is that
 * of what the device returns: the one read and one SHA-1 per byte that
 * both the swarm's check and the read-back need.  Those pieces are hashed
 * on a thread of their own, in batches (run_batch), so that the network
 * thread never waits for the device; the others, still in the page cache,
 * where they are, on the network thread.
 * A piece that fails it may have had a bad peer or a bad device: each
 * block's XXH3 as written, kept until its piece is hashed, tells them
 * apart: a device that changed a block fails the job (storage_failure),
 * a peer's bad block is libtorrent's hash failure, as without read-back.
 *
 * Memory: read buffers come from a small free list of 16 KiB blocks (the
 * most a peer may request at once), hashing streams each piece through
 * one fixed 1 MiB buffer, and the blocks' XXH3s are 8 bytes per 16 KiB of
 * the pieces in flight, so nothing grows with the image size.
 *
 * The interface contract (handlers, status codes, v1/v2 hashing) follows
 * libtorrent 2.0's include/libtorrent/disk_interface.hpp.
 */
#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <xxhash.h>

#include <libtorrent/disk_buffer_holder.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/operations.hpp>
#include <libtorrent/peer_request.hpp>
#include <libtorrent/storage_defs.hpp>

#include "blockdev.h"
#include "raw_disk_io.hpp"
#include "verify.h"

namespace ez {

namespace {

constexpr int block_size = lt::default_block_size;
constexpr std::size_t hash_chunk = 1 << 20;
constexpr std::size_t pool_keep = 256;  /* cached free blocks: 4 MiB */
constexpr std::size_t batch_bytes = 8 << 20;    /* pieces the hasher sends to the device at once */

lt::storage_error make_error(int neg_errno, lt::operation_t op)
{
        lt::storage_error se;

        se.ec = lt::error_code(-neg_errno, lt::generic_category());
        se.operation = op;
        se.file(lt::file_index_t(0));
        return se;
}

using hash_handler = std::function<void(lt::piece_index_t, lt::sha1_hash const &, lt::storage_error const &)>;

/* The blocks of one piece as written in this run. */
struct written_blocks {
        std::vector<std::uint64_t> sum;         /* XXH3 of each */
        std::vector<bool> have;
        int left = 0;                           /* not written (or not known) yet */
};

/* What a hash job hands back. */
struct done {
        hash_handler handler;
        lt::piece_index_t piece;
        lt::sha1_hash h1;
        lt::storage_error se;
};

struct hash_job {
        lt::piece_index_t piece;
        std::uint64_t base;                     /* payload offset of its first byte */
        int psize, psize2;                      /* its v1 and v2 sizes */
        bool v1;
        bool write_back;                        /* written in this run with the read-back on */
        lt::span<lt::sha256_hash> v2;
        std::vector<std::uint64_t> sum;         /* every block as written, or empty */
        hash_handler handler;
        lt::storage_error se;                   /* failed in its batch's write-back */
};

class raw_disk_io final : public lt::disk_interface, public lt::buffer_allocator_interface {
public:
        raw_disk_io(lt::io_context &ioc, raw_target const &t)
                : ioc_(ioc), t_(t), hash_buf_(hash_chunk), net_buf_(hash_chunk),
                  hasher_([this] { hash_loop(); }) {}

        ~raw_disk_io() override
        {
                stop_hasher();
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
                else if (t_.read_back)
                        note_written(r, buf);
                lt::post(ioc_, [handler = std::move(handler), se] { handler(se); });
                /* synchronous: the write is done, no need to back off */
                return false;
        }

        void async_hash(lt::storage_index_t, lt::piece_index_t piece, lt::span<lt::sha256_hash> v2,
                        lt::disk_job_flags_t flags, hash_handler handler) override
        {
                if (!files_ || !size_ok_) {
                        lt::post(ioc_, [handler = std::move(handler), piece] {
                                handler(piece, lt::sha1_hash(), make_error(-EINVAL, lt::operation_t::file_read));
                        });
                        return;
                }
                hash_job j{ piece, offset_of(piece, 0), files_->piece_size(piece),
                            v2.empty() ? 0 : files_->piece_size2(piece), bool(flags & lt::disk_interface::v1_hash),
                            false, v2, {}, std::move(handler), {} };
                auto w = written_.find(static_cast<int>(piece));

                if (w != written_.end()) {
                        j.write_back = true;
                        if (w->second.left == 0)
                                j.sum = std::move(w->second.sum);
                        written_.erase(w);
                }
                /* a piece to read back from the device waits for it: on
                 * the hasher thread.  One still in the page cache hashes
                 * where it is, on this thread (measured: a hand-off per
                 * piece costs more than it saves where cores are busy) */
                if (!j.write_back) {
                        post_done(run(j, net_buf_.data()));
                        return;
                }
                bool wake;
                {
                        std::lock_guard<std::mutex> lock(jobs_mutex_);
                        jobs_.push_back(std::move(j));
                        wake = idle_;
                }
                if (wake)
                        jobs_cv_.notify_one();
        }

        void async_hash2(lt::storage_index_t, lt::piece_index_t piece, int offset, lt::disk_job_flags_t,
                         std::function<void(lt::piece_index_t, lt::sha256_hash const &, lt::storage_error const &)> handler) override
        {
                lt::storage_error se;
                lt::sha256_hash h;
                int len = std::min(block_size, files_->piece_size2(piece) - offset);
                int e = len > 0 ? transfer(false, net_buf_.data(), offset_of(piece, offset), len) : -ERANGE;

                if (e < 0)
                        se = make_error(e, lt::operation_t::file_read);
                else
                        h = lt::hasher256(net_buf_.data(), len).final();
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
                written_.erase(static_cast<int>(index));
                lt::post(ioc_, [handler = std::move(handler), index] { handler(index); });
        }

        void update_stats_counters(lt::counters &) const override {}
        std::vector<lt::open_file_state> get_status(lt::storage_index_t) const override { return {}; }
        void abort(bool) override { stop_hasher(); }
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

        /* Network thread: remember the XXH3 of each block of a write. */
        void note_written(lt::peer_request const &r, char const *buf)
        {
                written_blocks &w = written_[static_cast<int>(r.piece)];

                if (w.sum.empty()) {
                        std::size_t n = static_cast<std::size_t>((files_->piece_size(r.piece) + block_size - 1) /
                                                                 block_size);
                        w.sum.resize(n);
                        w.have.resize(n);
                        w.left = static_cast<int>(n);
                }
                if (r.start % block_size) {
                        /* not a whole block: no sum this piece can be checked against */
                        w.left = -1;
                        return;
                }
                for (int off = 0; off < r.length; off += block_size) {
                        std::size_t b = static_cast<std::size_t>((r.start + off) / block_size);

                        if (b >= w.sum.size())
                                break;
                        w.sum[b] = XXH3_64bits(buf + off, static_cast<std::size_t>(std::min(block_size, r.length - off)));
                        if (!w.have[b]) {
                                w.have[b] = true;
                                if (w.left > 0)
                                        w.left--;
                        }
                }
        }

        void stop_hasher()
        {
                {
                        std::lock_guard<std::mutex> lock(jobs_mutex_);
                        stop_ = true;
                }
                jobs_cv_.notify_one();
                if (hasher_.joinable() && hasher_.get_id() != std::this_thread::get_id())
                        hasher_.join();
        }

        /* The hasher thread: the jobs queued, batch_bytes of pieces at a
         * time, in order; what is queued when the storage stops is
         * dropped with the torrent. */
        void hash_loop()
        {
                std::vector<hash_job> batch;

                for (;;) {
                        {
                                std::unique_lock<std::mutex> lock(jobs_mutex_);
                                std::size_t bytes = 0;

                                idle_ = true;
                                jobs_cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
                                idle_ = false;
                                if (stop_)
                                        return;
                                while (!jobs_.empty() && bytes < batch_bytes) {
                                        bytes += static_cast<std::size_t>(jobs_.front().psize);
                                        batch.push_back(std::move(jobs_.front()));
                                        jobs_.pop_front();
                                }
                        }
                        run_batch(batch);
                        batch.clear();
                }
        }

        /* Pieces read back one by one wait for the device twice each, for
         * the write and for the read, 64 KiB at a time (measured on a
         * virtual disk of 540 MB/s: 5 s for a GiB that dd writes in 2.0
         * and reads in 1.5).  A batch goes to the device at once: every
         * write-back started, then waited for and the pages dropped, then
         * every read-in started, then each piece read and hashed. */
        void run_batch(std::vector<hash_job> &batch)
        {
                std::vector<done> out;
                ez_err why;

                for (hash_job &j : batch)
                        ez_verify_write_back(t_.layout, t_.fd, j.base, static_cast<std::uint64_t>(j.psize),
                                             EZ_WRITE_BACK_START, nullptr);
                for (hash_job &j : batch)
                        if (ez_verify_write_back(t_.layout, t_.fd, j.base, static_cast<std::uint64_t>(j.psize),
                                                 EZ_WRITE_BACK_DROP, &why) < 0)
                                j.se = device_failure(-EIO, why, lt::operation_t::file_write);
                for (hash_job &j : batch)
                        if (!j.se)
                                ez_verify_write_back(t_.layout, t_.fd, j.base, static_cast<std::uint64_t>(j.psize),
                                                     EZ_WRITE_BACK_READ_AHEAD, nullptr);
                out.reserve(batch.size());
                for (hash_job &j : batch)
                        out.push_back(run(j, hash_buf_.data()));
                lt::post(ioc_, [out = std::move(out)] {
                        for (done const &d : out)
                                d.handler(d.piece, d.h1, d.se);
                });
        }

        void post_done(done d)
        {
                lt::post(ioc_, [d = std::move(d)] { d.handler(d.piece, d.h1, d.se); });
        }

        /* A failure of the device, not of the data: kept for the swarm's
         * message, and the job's error. */
        lt::storage_error device_failure(int code, ez_err const &why, lt::operation_t op)
        {
                if (!t_.failure)
                        return make_error(code, op);
                std::lock_guard<std::mutex> lock(t_.failure->m);

                if (!t_.failure->code) {
                        t_.failure->code = code;
                        t_.failure->why = why;
                }
                return make_error(code, op);
        }

        /* One job, its write-back (if any) done: its hash, or its error. */
        done run(hash_job &j, char *buf)
        {
                lt::storage_error se = j.se;
                lt::sha1_hash h1;
                ez_err why;
                int e = 0;

                if (se)
                        return done{ std::move(j.handler), j.piece, h1, se };
                if ((e = hash_piece(j, buf, j.v1 ? &h1 : nullptr)) < 0)
                        se = make_error(e, lt::operation_t::file_read);
                else if (j.v1 && !j.sum.empty() && t_.ti && h1 != t_.ti->hash_for_piece(j.piece) &&
                         (e = reads_as_written(j, buf)) != 0) {
                        if (e < 0)
                                se = make_error(e, lt::operation_t::file_read);
                        else
                                se = device_failure(ez_verify_differs(t_.layout, static_cast<std::uint64_t>(static_cast<int>(j.piece)),
                                                                      static_cast<std::uint64_t>(t_.ti->num_pieces()),
                                                                      j.base, static_cast<std::uint64_t>(j.psize), &why),
                                                    why, lt::operation_t::file_read);
                }
                return done{ std::move(j.handler), j.piece, h1, se };
        }

        /* Read the first total bytes of j's piece into buf, hash_chunk at a
         * time, and give each chunk to use(offset, length), which returns
         * 0 to go on.  Returns 0, -errno, or what use returned. */
        template <typename Use>
        int read_piece(hash_job const &j, int total, char *buf, Use use)
        {
                for (int off = 0; off < total; off += static_cast<int>(hash_chunk)) {
                        int n = std::min(static_cast<int>(hash_chunk), total - off);
                        int e = ez_payload_io(t_.layout, t_.fd, false, buf, j.base + static_cast<unsigned>(off),
                                              static_cast<unsigned>(n));

                        if (e < 0 || (e = use(off, n)) != 0)
                                return e;
                }
                return 0;
        }

        int hash_piece(hash_job &j, char *buf, lt::sha1_hash *v1)
        {
                lt::hasher h;
                int e = read_piece(j, std::max(j.psize, j.psize2), buf, [&](int off, int n) {
                        if (v1 && off < j.psize)
                                h.update(buf, std::min(n, j.psize - off));
                        for (int b = 0; b < n && off + b < j.psize2; b += block_size) {
                                std::size_t idx = static_cast<std::size_t>((off + b) / block_size);
                                int bl = std::min(block_size, j.psize2 - off - b);

                                if (idx < static_cast<std::size_t>(j.v2.size()))
                                        j.v2[static_cast<std::ptrdiff_t>(idx)] = lt::hasher256(buf + b, bl).final();
                        }
                        return 0;
                });

                if (e == 0 && v1)
                        *v1 = h.final();
                return e;
        }

        /* The piece failed its hash: does the device return each block as
         * it was written (0: a peer sent bad data), or not (1)? */
        int reads_as_written(hash_job const &j, char *buf)
        {
                return read_piece(j, j.psize, buf, [&](int off, int n) {
                        for (int b = 0; b < n; b += block_size)
                                if (XXH3_64bits(buf + b, static_cast<std::size_t>(std::min(block_size, n - b))) !=
                                    j.sum[static_cast<std::size_t>((off + b) / block_size)])
                                        return 1;
                        return 0;
                });
        }

        lt::io_context &ioc_;
        raw_target t_;
        lt::file_storage const *files_ = nullptr;
        bool size_ok_ = false;
        std::vector<char> hash_buf_;            /* the hasher thread's */
        std::vector<char> net_buf_;             /* the network thread's */
        std::mutex pool_mutex_;
        std::vector<char *> pool_;
        std::unordered_map<int, written_blocks> written_;     /* network thread only */
        std::mutex jobs_mutex_;
        std::condition_variable jobs_cv_;
        std::deque<hash_job> jobs_;
        bool stop_ = false;
        bool idle_ = false;                     /* the hasher waits for jobs */
        std::thread hasher_;                    /* last: starts once the rest is made */
};

}

std::unique_ptr<lt::disk_interface> make_raw_disk_io(lt::io_context &ioc, raw_target const &t)
{
        return std::unique_ptr<lt::disk_interface>(new raw_disk_io(ioc, t));
}

}
