/*
 * swarm.cpp - the libtorrent session behind swarm.h.
 *
 * Builds a session tuned for a LAN of machines that all want the same
 * image (no DHT, LSD, PEX, uTP or encryption, but TLS for an SSL torrent;
 * every peer unchoked; several connections per IP; no rate limits), backs
 * it with raw_disk_io so pieces
 * land directly on the target, and turns alerts into the plain status
 * struct and error codes of swarm.h.  Every extern "C" function catches
 * every exception.
 */
#include <algorithm>
#include <atomic>
#include <climits>
#include <cerrno>
#include <chrono>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <netdb.h>
#include <sys/socket.h>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/extensions/smart_ban.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <libtorrent/version.hpp>

#include "ownership.hpp"
#include "peer_socket.hpp"
#include "racks.hpp"
#include "blockdev.h"
#include "raw_disk_io.hpp"
#include "request_budget.hpp"
#include "upload_slots.hpp"
#include "swarm.h"

struct ez_swarm {
        std::unique_ptr<lt::session> ses;
        lt::torrent_handle h;
        std::vector<lt::tcp::endpoint> peers;
        std::chrono::steady_clock::time_point last_peer_kick;
        int fatal = 0;
        std::string fatal_msg;
        uint32_t hash_failures = 0;
        uint32_t incomplete = UINT32_MAX;
        std::vector<uint32_t> finished; /* pieces passed since ez_swarm_finished() last took them */
        int num_pieces = 0;
        int64_t total_size = 0;         /* the torrent's bytes */
        bool debug = false;     /* EZIO_DEBUG set: every alert on stderr */
        std::unique_ptr<ez::ownership> own;     /* null with EZIO_NO_OWNERSHIP or when seeding */
        std::shared_ptr<ez::rack_view> racks;   /* null when this node has no rack */
        ez::peer_count peers_now = std::make_shared<std::atomic<int>>(0);       /* for request_budget */
        ez::front_told front;                   /* what the schedule tells the origin seeders */
        std::chrono::steady_clock::time_point last_ownership;
        bool payload_traced = false;    /* EZIO_DEBUG: the payload line after the download */
        std::chrono::steady_clock::time_point last_trace;
        std::vector<uint8_t> sent;      /* debug: times each block was uploaded */
        uint64_t sent_again = 0;        /* debug: uploads of a block sent before */
        std::map<std::string, uint64_t> again_to;       /* debug: the same, per peer */
        std::map<std::size_t, std::string> first_to;    /* debug: per block, who had it first */
        std::vector<std::string> web_seeds;     /* the torrent's url-list, held back until needed */
        bool allow_list = false;        /* an allow list is in force: */
        lt::ip_filter allowed;          /* ... the addresses it lets in */
        uint32_t refused = 0;           /* connections it refused */
        uint32_t banned = 0;            /* peers banned for bad data (liars: ownership) */
        bool web_seeds_on = false;
        bool held = true;       /* added paused: resumed once its check is done */
        std::shared_ptr<std::vector<bool>> written = std::make_shared<std::vector<bool>>();
        std::shared_ptr<ez::storage_failure> storage = std::make_shared<ez::storage_failure>();
        const ez_layout *layout = nullptr;      /* the target, for ez_swarm_stop_clean() */
        int fd = -1;
        std::chrono::steady_clock::time_point starving_since, fed_since, last_starve_check;
        int max_failcount = 0;  /* to hand to the peer list once it exists; 0 once done */
};

namespace {

/* "ADDR:PORT" or "[V6]:PORT" -> address part, empty for the wildcard */
std::string listen_address(std::string const &listen)
{
        std::string a;

        if (!listen.empty() && listen[0] == '[')
                a = listen.substr(1, listen.find(']') - 1);
        else
                a = listen.substr(0, listen.rfind(':'));
        if (a == "0.0.0.0" || a == "::" || a.empty())
                return std::string();
        return a;
}

/* The endpoints host resolves to (port: a number, or NULL for 0).
 * Returns 0, or getaddrinfo's error (at least one endpoint on 0). */
int lookup(std::string const &host, char const *port, std::vector<lt::tcp::endpoint> *out)
{
        struct addrinfo hints = {}, *res = nullptr;

        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = port ? AI_NUMERICSERV : 0;
        int const r = getaddrinfo(host.c_str(), port, &hints, &res);
        if (r != 0)
                return r;
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                lt::tcp::endpoint ep;
                std::memcpy(ep.data(), a->ai_addr, a->ai_addrlen);
                ep.resize(a->ai_addrlen);
                out->push_back(ep);
        }
        freeaddrinfo(res);
        return out->empty() ? EAI_NONAME : 0;
}

int resolve_peer(std::string const &hp, lt::tcp::endpoint *ret, ez_err *err)
{
        std::string host, port;
        int r;

        if (!hp.empty() && hp[0] == '[') {
                auto close = hp.find(']');
                if (close == std::string::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
                        return ez_err_set(err, -EINVAL, "peer '%s' is not [ADDR]:PORT", hp.c_str());
                host = hp.substr(1, close - 1);
                port = hp.substr(close + 2);
        } else {
                auto colon = hp.rfind(':');
                if (colon == std::string::npos || colon == 0 || colon + 1 >= hp.size())
                        return ez_err_set(err, -EINVAL, "peer '%s' is not HOST:PORT", hp.c_str());
                host = hp.substr(0, colon);
                port = hp.substr(colon + 1);
        }
        std::vector<lt::tcp::endpoint> eps;
        r = lookup(host, port.c_str(), &eps);
        if (r != 0)
                return ez_err_set(err, -EINVAL, "peer '%s': %s", hp.c_str(), gai_strerror(r));
        *ret = eps.front();
        return 0;
}

/* ssl: the torrent is an SSL torrent, and the session listens on
 * cfg->listen for TLS only (libtorrent's "s" suffix): one torrent per
 * session, so a port in the clear would only ever refuse its peers */
lt::settings_pack lan_settings(ez_swarm_config const *cfg, bool ssl)
{
        lt::settings_pack s;
        std::string listen = cfg->listen ? cfg->listen : "0.0.0.0:6881";

        s.set_int(lt::settings_pack::alert_mask,
                  lt::alert_category::error | lt::alert_category::status | lt::alert_category::storage |
                  lt::alert_category::tracker | lt::alert_category::piece_progress | lt::alert_category::peer);
        s.set_str(lt::settings_pack::listen_interfaces, ssl ? listen + "s" : listen);
        s.set_str(lt::settings_pack::outgoing_interfaces, listen_address(listen));
        s.set_str(lt::settings_pack::user_agent, "ezio/" EZ_VERSION);
        s.set_bool(lt::settings_pack::enable_dht, false);
        s.set_bool(lt::settings_pack::enable_lsd, false);
        s.set_bool(lt::settings_pack::enable_upnp, false);
        s.set_bool(lt::settings_pack::enable_natpmp, false);
        s.set_bool(lt::settings_pack::enable_ip_notifier, false);
        s.set_bool(lt::settings_pack::enable_incoming_utp, false);
        s.set_bool(lt::settings_pack::enable_outgoing_utp, false);
        s.set_int(lt::settings_pack::in_enc_policy, lt::settings_pack::pe_disabled);
        s.set_int(lt::settings_pack::out_enc_policy, lt::settings_pack::pe_disabled);
        s.set_int(lt::settings_pack::unchoke_slots_limit, -1);
        s.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
        s.set_bool(lt::settings_pack::rate_limit_ip_overhead, false);
        s.set_int(lt::settings_pack::connections_limit, 2000);
        s.set_int(lt::settings_pack::min_reconnect_time, 1);
        s.set_int(lt::settings_pack::peer_connect_timeout, 5);
        s.set_int(lt::settings_pack::active_downloads, -1);
        s.set_int(lt::settings_pack::active_seeds, -1);
        s.set_int(lt::settings_pack::active_limit, -1);
        s.set_bool(lt::settings_pack::smooth_connects, false);
        /* every node connects to every other as soon as the tracker
         * names them: libtorrent's backlog of 5 overflows from a few
         * dozen nodes on (the kernel then answers with SYN cookies) */
        s.set_int(lt::settings_pack::listen_queue_size, 256);
        s.set_bool(lt::settings_pack::announce_to_all_trackers, true);
        s.set_bool(lt::settings_pack::announce_to_all_tiers, true);
        /* a node with every piece it asks for keeps its complete peers:
         * the schedule may ask for more */
        s.set_bool(lt::settings_pack::close_redundant_connections, false);
        s.set_int(lt::settings_pack::stop_tracker_timeout, 2);
        /* a peer refused this many times in a row is dialed no more (a
         * seeder restarting, a node rebooting): high, and handed to the
         * torrent's peer list late (give_up_after()) */
        s.set_int(lt::settings_pack::max_failcount, 100);
        s.set_bool(lt::settings_pack::ssrf_mitigation, false);
        /* the IP filter only stops this node taking data from the origin
         * seeders (ownership.cpp); the tracker often runs on the same
         * host, and a node that cannot reach it can neither report its
         * completion nor see, for until-done, that the others are done */
        s.set_bool(lt::settings_pack::apply_ip_filter_to_trackers, false);
        /* no runs of contiguous pieces for fast peers: the picker would
         * extend each owned piece with its neighbours, owned by other
         * nodes, and the seeder would send those twice (ownership.cpp) */
        s.set_int(lt::settings_pack::whole_pieces_threshold, 0);
        /* short request queues.  Every block a node asks a peer for ahead
         * of time waits behind the ones asked before it, and on a LAN a
         * peer answers within a millisecond or two: with libtorrent's
         * defaults (a second of transfer, up to 500 blocks, and the
         * remote's limit wins) a node had up to 25 MB outstanding with
         * the seeder and a relayed piece took most of a second to move on,
         * which at N = 8 cost 7 % of the time.  16 blocks (256 KiB) still
         * fill 100 Mbit/s from one peer, and 1 Gbit/s at 2 ms of latency.
         * With more peers each gets less (request_budget.cpp). */
        s.set_int(lt::settings_pack::request_queue_time, 1);
        s.set_int(lt::settings_pack::max_out_request_queue, EZ_REQUEST_QUEUE_MAX);
        s.set_int(lt::settings_pack::max_allowed_in_request_queue, EZ_REQUEST_QUEUE_MAX);
        /* a taken port is an error, not a silent move to a random one */
        s.set_bool(lt::settings_pack::listen_system_port_fallback, false);
        s.set_int(lt::settings_pack::max_retry_port_bind, 0);
        if (cfg->max_connections > 0)
                s.set_int(lt::settings_pack::connections_limit, cfg->max_connections);
        /* a seeder with upload slots serves no choked peer: none of the
         * five "allowed fast" pieces libtorrent gives each (upload_slots.cpp) */
        if (cfg->seed && cfg->upload_slots > 0)
                s.set_int(lt::settings_pack::allowed_fast_set_size, 0);
        if (cfg->upload_rate)
                s.set_int(lt::settings_pack::upload_rate_limit,
                          static_cast<int>(std::min<uint64_t>(cfg->upload_rate, INT_MAX)));
        if (cfg->download_rate)
                s.set_int(lt::settings_pack::download_rate_limit,
                          static_cast<int>(std::min<uint64_t>(cfg->download_rate, INT_MAX)));
        return s;
}

/* "name=value,name=value": libtorrent settings for experiments and
 * unusual networks, applied over the LAN defaults.
 * Returns 0 or -EINVAL naming the bad entry. */
int apply_expert_settings(lt::settings_pack &s, char const *spec, ez_err *err)
{
        std::string all = spec ? spec : "";
        std::size_t pos = 0;

        while (pos < all.size()) {
                std::size_t end = all.find(',', pos);
                std::string item = all.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
                std::size_t eq = item.find('=');
                pos = end == std::string::npos ? all.size() : end + 1;
                if (item.empty())
                        continue;
                if (eq == std::string::npos)
                        return ez_err_set(err, -EINVAL, "'%s' is not name=value", item.c_str());
                std::string name = item.substr(0, eq), value = item.substr(eq + 1);
                int id = lt::setting_by_name(name);
                if (id < 0)
                        return ez_err_set(err, -EINVAL, "unknown setting '%s'", name.c_str());
                switch (id & lt::settings_pack::type_mask) {
                case lt::settings_pack::string_type_base:
                        s.set_str(id, value);
                        break;
                case lt::settings_pack::bool_type_base:
                        if (value != "true" && value != "false" && value != "1" && value != "0")
                                return ez_err_set(err, -EINVAL, "'%s' needs true or false", name.c_str());
                        s.set_bool(id, value == "true" || value == "1");
                        break;
                default: {
                        char *e = nullptr;
                        long v = std::strtol(value.c_str(), &e, 0);
                        if (value.empty() || *e)
                                return ez_err_set(err, -EINVAL, "'%s' needs a number", name.c_str());
                        s.set_int(id, static_cast<int>(v));
                        break;
                }
                }
        }
        return 0;
}

/* debug trace: a peer's state in letters: I we are interested, i it is,
 * C it chokes us, c we choke it, s it is a seed, n snubbed */
std::string flag_letters(lt::peer_flags_t f)
{
        static std::pair<lt::peer_flags_t, char> const letters[] = {
                {lt::peer_info::interesting, 'I'}, {lt::peer_info::remote_interested, 'i'},
                {lt::peer_info::remote_choked, 'C'}, {lt::peer_info::choked, 'c'},
                {lt::peer_info::seed, 's'}, {lt::peer_info::snubbed, 'n'},
        };
        std::string r = " ";

        for (auto const &l : letters)
                if (f & l.first)
                        r += l.second;
        return r;
}

static bool is_state(lt::alert const *a, lt::torrent_status::state_t st)
{
        auto const *sc = lt::alert_cast<lt::state_changed_alert>(a);

        return sc && sc->state == st;
}

/* Take the pending alerts.  Returns whether one of them is worth waking
 * the caller for: anything but a piece passing or a block sent, which come
 * by the hundred a second. */
bool poll_alerts(ez_swarm *s)
{
        std::vector<lt::alert *> alerts;
        bool urgent = false;

        s->ses->pop_alerts(&alerts);
        for (lt::alert *a : alerts) {
                if (auto *bu = lt::alert_cast<lt::block_uploaded_alert>(a)) {
                        /* debug only, too many to print: blocks sent more than once */
                        std::size_t const k = static_cast<std::size_t>(static_cast<int>(bu->piece_index)) * 1024 +
                                              static_cast<std::size_t>(bu->block_index);
                        if (s->sent.size() <= k)
                                s->sent.resize(k + 1024);
                        std::string const to = bu->endpoint.address().to_string();
                        /* the seeder (a session without the schedule) prints each
                         * block it sends again, with the wall clock to line it up
                         * with the nodes' traces, and who had it first */
                        if (s->sent[k]++) {
                                s->sent_again++;
                                s->again_to[to]++;
                                if (!s->own)
                                        std::fprintf(stderr, "ezio-deploy: trace: %.3f again piece %d block %d to %s, first to %s\n",
                                                     std::chrono::duration<double>(
                                                             std::chrono::system_clock::now().time_since_epoch()).count(),
                                                     static_cast<int>(bu->piece_index), bu->block_index, to.c_str(),
                                                     s->first_to[k].c_str());
                        } else if (!s->own) {
                                s->first_to[k] = to;
                        }
                        continue;
                }
                if (s->debug)
                        std::fprintf(stderr, "ezio-deploy: libtorrent: %s: %s\n", a->what(), a->message().c_str());
                if (auto *pf = lt::alert_cast<lt::piece_finished_alert>(a)) {
                        s->finished.push_back(static_cast<uint32_t>(static_cast<int>(pf->piece_index)));
                        continue;
                }
                urgent = true;
                if (auto *fe = lt::alert_cast<lt::file_error_alert>(a)) {
                        std::lock_guard<std::mutex> lock(s->storage->m);

                        if (!s->fatal && s->storage->code) {
                                s->fatal = s->storage->code;
                                s->fatal_msg = s->storage->why.msg;
                        }
                        if (!s->fatal) {
                                s->fatal = -EIO;
                                s->fatal_msg = std::string("target ") + lt::operation_name(fe->op) + " failed: " +
                                               fe->error.message();
                        }
                } else if (auto *te = lt::alert_cast<lt::torrent_error_alert>(a)) {
                        /* an SSL torrent's certificate goes in without
                         * Diffie-Hellman parameters: TLS 1.3 and the ECDHE
                         * suites of 1.2 need none, and libtorrent says so */
                        if (std::strcmp(te->filename(), "[dh params]") == 0)
                                continue;
                        if (!s->fatal && (std::strcmp(te->filename(), "[certificate]") == 0 ||
                                          std::strcmp(te->filename(), "[private key]") == 0)) {
                                s->fatal = -EINVAL;
                                s->fatal_msg = std::string("libtorrent refused the TLS ") +
                                               (te->filename()[1] == 'c' ? "certificate: " : "private key: ") +
                                               te->error.message();
                        }
                        if (!s->fatal) {
                                s->fatal = -EIO;
                                s->fatal_msg = te->error.message();
                        }
                } else if (auto *lf = lt::alert_cast<lt::listen_failed_alert>(a)) {
                        if (!s->fatal) {
                                s->fatal = -EADDRINUSE;
                                s->fatal_msg = std::string("cannot listen on ") + lf->address.to_string() + ":" +
                                               std::to_string(lf->port) + ": " + lf->error.message();
                        }
                } else if (s->held && (lt::alert_cast<lt::torrent_checked_alert>(a) ||
                                       is_state(a, lt::torrent_status::checking_files))) {
                        /* checked, or about to hash a target that may hold
                         * part of the image, which libtorrent only does
                         * unpaused */
                        s->held = false;
                        s->h.resume();
                } else if (lt::alert_cast<lt::hash_failed_alert>(a)) {
                        s->hash_failures++;
                } else if (lt::alert_cast<lt::peer_ban_alert>(a)) {
                        s->banned++;
                } else if (auto *pb = lt::alert_cast<lt::peer_blocked_alert>(a)) {
                        /* the schedule's release of a seeder blocks too: count the list's refusals */
                        if (s->allow_list && (s->allowed.access(pb->endpoint.address()) & lt::ip_filter::blocked))
                                s->refused++;

                } else if (auto *sr = lt::alert_cast<lt::scrape_reply_alert>(a)) {
                        if (sr->incomplete >= 0)
                                s->incomplete = static_cast<uint32_t>(sr->incomplete);
                }
        }
        return urgent;
}

}

/* The first and last address of a CIDR (checked by the config). */
static void cidr_range(std::string const &cidr, lt::address *first, lt::address *last)
{
        std::size_t const slash = cidr.find('/');
        lt::address const a = lt::make_address(cidr.substr(0, slash));
        int const bits = a.is_v4() ? 32 : 128;
        int const prefix = slash == std::string::npos ? bits : std::stoi(cidr.substr(slash + 1));

        if (a.is_v4()) {
                std::uint32_t const mask = prefix == 0 ? 0 : ~std::uint32_t(0) << (32 - prefix);
                std::uint32_t const lo = a.to_v4().to_uint() & mask;
                *first = lt::address_v4(lo);
                *last = lt::address_v4(lo | ~mask);
                return;
        }
        lt::address_v6::bytes_type lo = a.to_v6().to_bytes(), hi;
        for (int i = 0; i < 16; i++) {
                int const b = std::min(8, std::max(0, prefix - 8 * i));
                auto const m = static_cast<unsigned char>(b == 0 ? 0 : 0xff << (8 - b));
                lo[static_cast<std::size_t>(i)] &= m;
                hi[static_cast<std::size_t>(i)] = static_cast<unsigned char>(lo[static_cast<std::size_t>(i)] | ~m);
        }
        *first = lt::address_v6(lo);
        *last = lt::address_v6(hi);
}

/* The host of an http(s) URL, resolved: the addresses a web seed is on. */
static std::vector<lt::address> url_addresses(std::string const &url)
{
        std::vector<lt::address> out;
        std::size_t b = url.find("://");
        if (b == std::string::npos)
                return out;
        b += 3;
        std::size_t e = url.find_first_of("/?#", b);
        std::string host = url.substr(b, e == std::string::npos ? std::string::npos : e - b);
        host = host.substr(host.find('@') == std::string::npos ? 0 : host.find('@') + 1);
        if (!host.empty() && host[0] == '[')
                host = host.substr(1, host.find(']') - 1);
        else if (host.find(':') != std::string::npos)
                host = host.substr(0, host.find(':'));
        std::vector<lt::tcp::endpoint> eps;
        lookup(host, nullptr, &eps);
        for (auto const &ep : eps)
                out.push_back(ep.address());
        return out;
}

/* The allow list as an IP filter: every address blocked but the list's,
 * the named peers' and the web seeds' hosts'. */
static lt::ip_filter allow_filter(const struct ez_swarm_config *cfg, ez_swarm const &s)
{
        lt::ip_filter f;
        lt::address first, last;

        f.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"), lt::ip_filter::blocked);
        f.add_rule(lt::make_address("::"), lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                   lt::ip_filter::blocked);
        for (size_t i = 0; i < cfg->n_allow; i++) {
                cidr_range(cfg->allow[i], &first, &last);
                f.add_rule(first, last, 0);
        }
        for (auto const &ep : s.peers)
                f.add_rule(ep.address(), ep.address(), 0);
        for (auto const &url : s.web_seeds)
                for (auto const &a : url_addresses(url))
                        f.add_rule(a, a, 0);
        return f;
}

extern "C" int ez_swarm_start(const struct ez_swarm_config *cfg, struct ez_swarm **ret, struct ez_err *err)
{
        try {
                std::unique_ptr<ez_swarm> s(new ez_swarm);
                s->debug = cfg->debug;
                ez::raw_target target{ cfg->layout, cfg->fd, cfg->fresh, cfg->seed, s->written, cfg->read_back,
                                       nullptr, s->storage };
                s->layout = cfg->layout;
                s->fd = cfg->fd;
                lt::load_torrent_limits lim;
                lt::error_code ec;

                for (size_t i = 0; i < cfg->n_peers; i++) {
                        lt::tcp::endpoint ep;
                        int r = resolve_peer(cfg->peers[i], &ep, err);

                        if (r < 0)
                                return r;
                        s->peers.push_back(ep);
                }

                lim.max_buffer_size = 128 * 1024 * 1024;
                lim.max_decode_tokens = 32 * 1024 * 1024;
                lim.max_pieces = 0x800000;
                auto ti = std::make_shared<lt::torrent_info>(
                        lt::span<char const>(static_cast<char const *>(cfg->torrent),
                                             static_cast<std::ptrdiff_t>(cfg->torrent_len)),
                        lim, lt::from_span);
                target.ti = ti;
                bool const ssl = !ti->ssl_cert().empty();
                if (ssl && (!cfg->ssl_cert || !cfg->ssl_key))
                        return ez_err_set(err, -EINVAL, "an SSL torrent needs this node's certificate and key");

                /* BEP 19 web seeds are the origin of last resort, not a
                 * peer among others: libtorrent would have every node
                 * pull from the HTTP server alongside the swarm (measured:
                 * 2.4 copies of the payload from it for 3 nodes and a
                 * seeder).  They are added when the swarm lacks a piece
                 * (web_seed_fallback) and dropped once it has them all. */
                if (!cfg->seed) {
                        for (auto const &w : ti->web_seeds())
                                if (w.type == lt::web_seed_entry::url_seed)
                                        s->web_seeds.push_back(w.url);
                        ti->clear_web_seeds();
                }

                lt::settings_pack pack = lan_settings(cfg, ssl);
                if (s->debug)
                        pack.set_int(lt::settings_pack::alert_mask,
                                     pack.get_int(lt::settings_pack::alert_mask) | lt::alert_category::upload |
                                             lt::alert_category::connect);
                int r = apply_expert_settings(pack, cfg->lt_settings, err);
                if (r < 0)
                        return r;
                if (cfg->n_allow)
                        pack.set_int(lt::settings_pack::alert_mask,
                                     pack.get_int(lt::settings_pack::alert_mask) | lt::alert_category::ip_block);
                /* the session starts with libtorrent's own count, the one a
                 * peer list is made with; give_up_after() sets this one */
                s->max_failcount = pack.get_int(lt::settings_pack::max_failcount);
                pack.set_int(lt::settings_pack::max_failcount,
                             lt::settings_pack().get_int(lt::settings_pack::max_failcount));
                lt::session_params params(std::move(pack));
                /* the allow list is in force from the session's start,
                 * before any tracker can answer an announce */
                if (cfg->n_allow) {
                        s->allowed = allow_filter(cfg, *s);
                        s->allow_list = true;
                        params.ip_filter = s->allowed;
                }
                /* no PEX, no metadata exchange: private swarm.  The request
                 * budget's handshake, sent again later, also relies on no
                 * session plugin adding to the handshake after it.  Smart
                 * ban adds nothing to it: when a piece fails its hash, it
                 * finds which peer sent the bad blocks and bans that one
                 * (without it, pieces made of several peers' blocks only
                 * lower every sender's trust and a liar goes on) */
                params.extensions.clear();
                params.disk_io_constructor = [target](lt::io_context &ioc, lt::settings_interface const &,
                                                      lt::counters &) {
                        return ez::make_raw_disk_io(ioc, target);
                };
                s->ses.reset(new lt::session(std::move(params)));
                s->ses->add_extension(&lt::create_smart_ban_plugin);
                bool const slots = cfg->seed && cfg->upload_slots > 0;
                if (cfg->upload_rate || cfg->download_rate || slots) {
                        /* libtorrent exempts LAN addresses from rate limits
                         * and from upload slots; on a LAN that is every
                         * peer, so put them all in the global class */
                        lt::ip_filter f;
                        std::uint32_t const global = 1u << static_cast<std::uint32_t>(lt::session::global_peer_class_id);
                        f.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"), global);
                        f.add_rule(lt::make_address("::"), lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                                   global);
                        s->ses->set_peer_class_filter(f);
                }

                lt::add_torrent_params atp;
                atp.ti = ti;
                s->num_pieces = atp.ti->num_pieces();
                s->total_size = atp.ti->total_size();
                atp.save_path = ".";
                atp.flags &= ~lt::torrent_flags::auto_managed;
                /* A seeder holds every piece, unchecked: libtorrent's
                 * seed mode would hash each piece before serving it the
                 * first time, half the seeder's CPU (0.5 s per GiB of
                 * 1.1), for a check every receiver makes anyway.  A
                 * source that does not match the torrent fails the
                 * receivers' hash checks, which ban it (--verify-only
                 * checks a source before it is served). */
                if (cfg->seed)
                        atp.have_pieces.resize(s->num_pieces, true);
                /* Added paused, and resumed once libtorrent has checked
                 * what the target holds (poll_alerts): resuming connects
                 * at once to the peers it knows, the -P ones among them,
                 * where a torrent that starts unpaused waits for the
                 * session's next second tick (measured: the first byte
                 * 0.5 s after the start, over loopback).  An SSL torrent
                 * so also connects to no peer before it has its
                 * certificate, set just after it is added. */
                atp.flags |= lt::torrent_flags::paused;
                for (size_t i = 0; i < cfg->n_trackers; i++)
                        atp.trackers.push_back(cfg->trackers[i]);
                atp.extensions.push_back(ez::peer_socket_extension());
                if ((cfg->rack && *cfg->rack) || cfg->rack_prefix > 0) {
                        s->racks = std::make_shared<ez::rack_view>(cfg->rack ? cfg->rack : "", cfg->rack_prefix);
                        atp.extensions.push_back(ez::racks_extension(s->racks));
                }
                if (slots) {
                        atp.max_uploads = cfg->upload_slots;
                        atp.extensions.push_back(ez::upload_slots_extension(cfg->upload_slots, s->num_pieces, s->debug));
                }
                bool const schedule = !cfg->seed && !cfg->no_ownership;
                if (schedule) {
                        s->front = std::make_shared<std::atomic<int>>(ez::front_unset);
                        atp.extensions.push_back(ez::front_extension(s->front));
                }
                if (!cfg->no_request_budget)
                        atp.extensions.push_back(ez::request_budget_extension(s->peers_now, s->debug));
                s->h = s->ses->add_torrent(std::move(atp), ec);
                if (ec)
                        return ez_err_set(err, -EINVAL, "libtorrent refused the torrent: %s", ec.message().c_str());
                if (ssl) {
                        std::string key(cfg->ssl_key, cfg->ssl_key_len);

                        s->h.set_ssl_certificate_buffer(std::string(cfg->ssl_cert, cfg->ssl_cert_len), key, "");
                        explicit_bzero(&key[0], key.size());
                }
                if (schedule) {
                        s->own.reset(new ez::ownership(*s->ses, s->h, s->num_pieces,
                                                       listen_address(cfg->listen ? cfg->listen : ""), s->debug));
                        if (s->allow_list)
                                s->own->base_filter(s->allowed);
                        if (s->racks)
                                s->own->racks(s->racks);
                        s->own->front(s->front);
                }
                for (auto const &ep : s->peers)
                        s->h.connect_peer(ep);
                s->last_peer_kick = std::chrono::steady_clock::now();
                s->starving_since = s->fed_since = s->last_starve_check = s->last_peer_kick;
                *ret = s.release();
                return 0;
        } catch (std::bad_alloc const &) {
                return ez_err_set(err, -ENOMEM, "out of memory");
        } catch (lt::system_error const &e) {
                return ez_err_set(err, -EINVAL, "libtorrent: %s", e.code().message().c_str());
        } catch (std::exception const &e) {
                return ez_err_set(err, -EINVAL, "libtorrent: %s", e.what());
        } catch (...) {
                return ez_err_set(err, -EINVAL, "libtorrent: unknown error");
        }
}

extern "C" int ez_swarm_check_settings(const char *settings, struct ez_err *err)
{
        try {
                lt::settings_pack pack;
                return apply_expert_settings(pack, settings, err);
        } catch (...) {
                return ez_err_set(err, -ENOMEM, "out of memory");
        }
}

/* Pieces this node lacks that no connected peer holds (web seeds aside):
 * what only an origin can supply. */
static int unavailable_pieces(struct ez_swarm *s, lt::torrent_status const &st)
{
        std::vector<lt::peer_info> peers;
        std::size_t const np = static_cast<std::size_t>(s->num_pieces);
        std::vector<bool> held(np, false);

        s->h.get_peer_info(peers);
        for (auto const &p : peers) {
                if (p.connection_type != lt::peer_info::standard_bittorrent || p.pieces.size() != s->num_pieces)
                        continue;
                for (std::size_t i = 0; i < np; i++)
                        if (p.pieces.get_bit(lt::piece_index_t(static_cast<int>(i))))
                                held[i] = true;
        }
        int n = 0;
        for (std::size_t i = 0; i < np; i++)
                if (!held[i] && !(st.pieces.size() == s->num_pieces &&
                                  st.pieces.get_bit(lt::piece_index_t(static_cast<int>(i)))))
                        n++;
        return n;
}

/* Add the torrent's web seeds to the torrent, or take them away, and have
 * the schedule ask them for this node's own share only while they are in. */
static void use_web_seeds(struct ez_swarm *s, bool on)
{
        for (auto const &url : s->web_seeds)
                if (on)
                        s->h.add_url_seed(url);
                else
                        s->h.remove_url_seed(url);
        s->web_seeds_on = on;
        if (s->own) {
                s->own->origin_own_only(on);
                s->own->update();
        }
}

/*
 * The web seeds, once a second.  On when the swarm has lacked a piece for
 * STARVE_AFTER (no seeder, or it left before a whole copy was spread; the
 * grace lets a starting node hear of its peers first) and the schedule
 * has pieces of this node's own share to fetch: each node takes its share
 * from the web seed and the rest from its peers, as from a seeder.  Off
 * once the share is in, or once the peers have held every missing piece
 * for FED_AFTER.
 */
static void web_seed_fallback(struct ez_swarm *s, lt::torrent_status const &st,
                              std::chrono::steady_clock::time_point now)
{
        auto const STARVE_AFTER = std::chrono::seconds(4), FED_AFTER = std::chrono::seconds(10);

        if (now - s->last_starve_check < std::chrono::seconds(1))
                return;
        s->last_starve_check = now;
        int const missing = unavailable_pieces(s, st);
        bool const wanted = !s->own || s->own->wants_origin();
        if (missing == 0)
                s->starving_since = now;
        else
                s->fed_since = now;
        if (!s->web_seeds_on && wanted && now - s->starving_since >= STARVE_AFTER) {
                use_web_seeds(s, true);
                /* a query may be a signature (a Swift temporary URL): not shown */
                std::string shown = s->web_seeds.front();
                if (shown.find('?') != std::string::npos)
                        shown = shown.substr(0, shown.find('?')) + "?...";
                std::fprintf(stderr, "ezio-deploy: no peer holds %d of the pieces still missing: fetching from "
                             "the web seed %s\n", missing, shown.c_str());
        } else if (s->web_seeds_on && (!wanted || now - s->fed_since >= FED_AFTER)) {
                use_web_seeds(s, false);
                std::fprintf(stderr, "ezio-deploy: web seed dropped: %s\n",
                             wanted ? "the peers hold every missing piece" : "this node's share is in");
        }
}

/*
 * How many failed connections end the dialing of a peer.  libtorrent 2.0
 * hands the max_failcount setting to a torrent's peer list only when the
 * setting changes, and makes the list when the torrent learns of its
 * first peer, with a count of 3 of its own: set with the session, 100
 * was never in force, and a node that found a restarting seeder refused
 * three times (over about 5 s) never dialed it again; it waited for the
 * seeder, which no longer knew it, until its timeout (ezio-faults
 * server-restart: 5 of 31 sanitized runs on a busy machine with a 5 s
 * restart, every run with a 15 s one).  So the session starts with
 * libtorrent's count (an unset value reads as the default) and is
 * given this one once the list exists: a change, which libtorrent passes
 * on to the list.
 */
static void give_up_after(ez_swarm *s, lt::torrent_status const &st)
{
        if (!s->max_failcount || st.list_peers == 0)
                return;
        lt::settings_pack p;

        p.set_int(lt::settings_pack::max_failcount, s->max_failcount);
        s->ses->apply_settings(std::move(p));
        s->max_failcount = 0;
}

extern "C" int ez_swarm_poll(struct ez_swarm *s, int timeout_ms, struct ez_swarm_status *ret, struct ez_err *err)
{
        try {
                /* the whole timeout, unless something more than progress happens */
                auto const deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
                for (;;) {
                        auto const left = deadline - std::chrono::steady_clock::now();

                        s->ses->wait_for_alert(std::max(left, decltype(left)::zero()));
                        if (poll_alerts(s) || s->fatal || std::chrono::steady_clock::now() >= deadline)
                                break;
                }
                if (s->fatal)
                        return ez_err_set(err, s->fatal, "%s", s->fatal_msg.c_str());

                lt::torrent_status st = s->h.status();
                s->peers_now->store(st.num_peers, std::memory_order_relaxed);
                give_up_after(s, st);
                struct ez_swarm_status o = {};

                switch (st.state) {
                case lt::torrent_status::checking_files:
                case lt::torrent_status::checking_resume_data:
                        o.state = EZ_SWARM_CHECKING;
                        break;
                case lt::torrent_status::finished:
                case lt::torrent_status::seeding:
                        /* finished: every piece it wants, which while the
                         * schedule holds pieces back is not every piece */
                        o.state = st.num_pieces == s->num_pieces ? EZ_SWARM_SEEDING : EZ_SWARM_DOWNLOADING;
                        break;
                default:
                        o.state = EZ_SWARM_DOWNLOADING;
                        break;
                }
                if (st.errc)
                        return ez_err_set(err, -EIO, "%s", st.errc.message().c_str());
                /* the whole image, not what libtorrent wants at the
                 * moment: the schedule holds pieces back for a while */
                o.total_wanted = static_cast<uint64_t>(s->total_size);
                o.total_done = static_cast<uint64_t>(st.total_done);
                o.downloaded = static_cast<uint64_t>(st.total_payload_download);
                o.uploaded = static_cast<uint64_t>(st.total_payload_upload);
                o.download_rate = static_cast<uint64_t>(st.download_payload_rate);
                o.upload_rate = static_cast<uint64_t>(st.upload_payload_rate);
                o.peers = static_cast<uint32_t>(st.num_peers);
                o.seeds = static_cast<uint32_t>(st.num_seeds);
                if (o.state == EZ_SWARM_SEEDING) {
                        /* not num_peers - num_seeds: that counts connections
                         * being attempted (to a node that is gone,
                         * libtorrent keeps trying) and peers whose bitfield
                         * has not come yet.  A peer still downloading wants
                         * what this complete node has: it is interested */
                        std::vector<lt::peer_info> peers;

                        s->h.get_peer_info(peers);
                        for (auto const &p : peers)
                                if ((p.flags & lt::peer_info::remote_interested) && !(p.flags & lt::peer_info::seed))
                                        o.fetching++;
                }
                o.pieces_done = static_cast<uint32_t>(st.num_pieces);
                o.num_pieces = static_cast<uint32_t>(s->num_pieces);
                o.hash_failures = s->hash_failures;
                o.incomplete_in_swarm = s->incomplete;
                o.refused_peers = s->refused;
                o.banned_peers = s->banned + (s->own ? s->own->liars() : 0);
                o.wasted = static_cast<uint64_t>(st.total_failed_bytes + st.total_redundant_bytes);

                auto now = std::chrono::steady_clock::now();
                if (s->own)
                        s->own->watch(o.total_done, o.state == EZ_SWARM_DOWNLOADING);
                if (s->debug && now - s->last_trace > std::chrono::seconds(1)) {
                        std::vector<lt::peer_info> peers;
                        int64_t from_seeds = 0, from_peers = 0, to_peers = 0;

                        s->h.get_peer_info(peers);
                        for (auto const &p : peers) {
                                (p.flags & lt::peer_info::seed ? from_seeds : from_peers) += p.total_download;
                                to_peers += p.total_upload;
                        }
                        std::fprintf(stderr, "ezio-deploy: trace: done %lld from seeds %lld from peers %lld "
                                     "sent %lld peers %zu, blocks sent again %llu, nudges %llu\n", static_cast<long long>(o.total_done),
                                     static_cast<long long>(from_seeds), static_cast<long long>(from_peers),
                                     static_cast<long long>(to_peers), peers.size(),
                                     static_cast<unsigned long long>(s->sent_again),
                                     static_cast<unsigned long long>(s->own ? s->own->nudges() : 0));
                        /* per peer: address, KB/s down/up, KiB received on this
                         * connection, requests out/in */
                        std::string per;
                        for (auto const &p : peers)
                                per += " " + p.ip.address().to_string() + " " + std::to_string(p.down_speed / 1000) + "/" +
                                       std::to_string(p.up_speed / 1000) + " d" + std::to_string(p.total_download / 1024) +
                                       " q" + std::to_string(p.download_queue_length) +
                                       "/" + std::to_string(p.upload_queue_length) + flag_letters(p.flags);
                        std::fprintf(stderr, "ezio-deploy: trace: peers%s\n", per.c_str());
                        if (!s->again_to.empty()) {
                                std::string a;
                                for (auto const &e : s->again_to)
                                        a += " " + e.first + " " + std::to_string(e.second);
                                std::fprintf(stderr, "ezio-deploy: trace: sent again to%s\n", a.c_str());
                        }
                        s->last_trace = now;
                }
                if (s->own && s->debug && o.state != EZ_SWARM_DOWNLOADING && !s->payload_traced &&
                    o.total_done >= o.total_wanted) {
                        s->own->trace_payload();
                        s->payload_traced = true;
                }
                if (s->own && o.state != EZ_SWARM_DOWNLOADING && o.total_done >= o.total_wanted)
                        s->own->complete();
                if (s->own && o.state == EZ_SWARM_DOWNLOADING &&
                    now - s->last_ownership > std::chrono::milliseconds(200)) {
                        s->own->update();
                        s->last_ownership = now;
                }

                if (!s->web_seeds.empty() && o.state == EZ_SWARM_DOWNLOADING)
                        web_seed_fallback(s, st, now);

                /* peers given by address are kept trying: a receiver may
                 * start before the node it was told to fetch from */
                if (!s->peers.empty() && st.num_peers == 0 && o.state == EZ_SWARM_DOWNLOADING &&
                    now - s->last_peer_kick > std::chrono::seconds(2)) {
                        for (auto const &ep : s->peers)
                                s->h.connect_peer(ep);
                        s->last_peer_kick = now;
                }
                *ret = o;
                return 0;
        } catch (std::bad_alloc const &) {
                return ez_err_set(err, -ENOMEM, "out of memory");
        } catch (std::exception const &e) {
                return ez_err_set(err, -EIO, "libtorrent: %s", e.what());
        } catch (...) {
                return ez_err_set(err, -EIO, "libtorrent: unknown error");
        }
}

extern "C" size_t ez_swarm_finished(struct ez_swarm *s, uint32_t *out, size_t max)
{
        std::size_t n = std::min(max, s->finished.size());

        std::copy(s->finished.begin(), s->finished.begin() + static_cast<std::ptrdiff_t>(n), out);
        s->finished.erase(s->finished.begin(), s->finished.begin() + static_cast<std::ptrdiff_t>(n));
        return n;
}

extern "C" void ez_swarm_scrape(struct ez_swarm *s)
{
        try {
                s->incomplete = UINT32_MAX;     /* unknown until this scrape is answered */
                s->h.scrape_tracker();
        } catch (...) {
        }
}

extern "C" int ez_swarm_stop_clean(struct ez_swarm *s, struct ez_err *err)
{
        try {
                if (!s->ses || !s->h.is_valid())
                        return 0;
                auto ti = s->h.torrent_file();
                lt::typed_bitfield<lt::piece_index_t> have = s->h.status(lt::torrent_handle::query_pieces).pieces;

                /* gone with the session: the network thread, and the disk
                 * jobs it ran (a piece verified after the snapshot above is
                 * cleared too, and fetched again by the next run); the
                 * schedule holds the session, so it goes first */
                s->own.reset();
                s->ses.reset();
                if (!ti)
                        return 0;
                std::vector<char> zeros;
                int cleared = 0;
                auto const &w = *s->written;

                for (std::size_t p = 0; p < w.size(); p++) {
                        lt::piece_index_t const pi(static_cast<int>(p));

                        if (!w[p] || (pi < have.end_index() && have[pi]))
                                continue;
                        auto len = static_cast<std::size_t>(ti->piece_size(pi));
                        zeros.resize(std::max(zeros.size(), len));
                        int r = ez_payload_io(s->layout, s->fd, true, zeros.data(),
                                              static_cast<uint64_t>(p) * static_cast<uint64_t>(ti->piece_length()), len);
                        if (r < 0)
                                return ez_err_set(err, r, "cannot clear unverified piece %zu: %s", p, std::strerror(-r));
                        cleared++;
                }
                return cleared;
        } catch (std::exception const &e) {
                return ez_err_set(err, -ENOMEM, "%s", e.what());
        }
}

extern "C" void ez_swarm_free(struct ez_swarm *s)
{
        if (!s)
                return;
        try {
                delete s;
        } catch (...) {
        }
}

extern "C" const char *ez_swarm_lt_version(void)
{
        return lt::version();
}

extern "C" int ez_swarm_check_torrent(const void *buf, size_t len, struct ez_err *err)
{
        try {
                lt::error_code ec;
                lt::torrent_info ti(lt::span<char const>(static_cast<char const *>(buf), static_cast<std::ptrdiff_t>(len)),
                                    ec, lt::from_span);

                if (ec)
                        return ez_err_set(err, -EINVAL, "%s", ec.message().c_str());
                return 0;
        } catch (std::exception const &e) {
                return ez_err_set(err, -EINVAL, "%s", e.what());
        }
}
