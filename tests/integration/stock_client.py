"""A stock BitTorrent client for the integration tests: Debian's libtorrent.

    stock_client.py TORRENT LISTEN OUT_DIR SEEDER_PORT throttled|lan|defaults

Downloads TORRENT into OUT_DIR from the peer 127.0.0.1:SEEDER_PORT, with
no tracker (the seeder is given; learning of this client from a tracker,
the seeder would connect back at the same moment, a duplicate that both
ends may close).  'defaults' keeps libtorrent's defaults (uTP first, then
an encrypted handshake); 'lan' sets TCP in the clear, as on a LAN;
'throttled' also limits the download to 1 MB/s.  Every extension
handshake received goes to OUT_DIR.log, as the dictionary libtorrent
printed.  Exit 0 once the copy is whole and checked, 1 at the deadline
(30 s with defaults, 60 s on a LAN, 120 s throttled).
"""
import sys
import time

import libtorrent as lt

torrent, listen, out, seeder, mode = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
settings = {
    'listen_interfaces': listen,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'alert_mask': lt.alert.category_t.peer_log_notification | lt.alert.category_t.status_notification,
}
if mode in ('lan', 'throttled'):
    settings.update({'enable_outgoing_utp': False, 'out_enc_policy': 2})
if mode == 'throttled':
    settings['download_rate_limit'] = 1000000
s = lt.session(settings)
if mode == 'throttled':
    # rate limits apply to local peers only in the global class
    f = lt.ip_filter()
    f.add_rule('0.0.0.0', '255.255.255.255', 1 << lt.session.global_peer_class_id)
    s.set_peer_class_filter(f)
e = lt.bdecode(open(torrent, 'rb').read())
e.pop(b'announce', None)
e.pop(b'announce-list', None)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(e)
atp.save_path = out
h = s.add_torrent(atp)
h.connect_peer(('127.0.0.1', seeder))
log = open(out + '.log', 'w')
deadline = time.time() + {'defaults': 30, 'lan': 60, 'throttled': 120}[mode]
while time.time() < deadline:
    for a in s.pop_alerts():
        if isinstance(a, lt.peer_log_alert) and '<== EXTENDED_HANDSHAKE' in a.message():
            log.write('%s %s\n' % (a.ip[0], a.message()))
            log.flush()
    st = h.status()
    if st.is_seeding:
        sys.exit(0)
    time.sleep(0.1)
print('stock client: %d of %d bytes' % (st.total_wanted_done, st.total_wanted), file=sys.stderr)
sys.exit(1)
