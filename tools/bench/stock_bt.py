"""A stock BitTorrent peer for the benchmark: libtorrent with its defaults.

    stock_bt.py seed|get TORRENT FILE LISTEN_ADDR STATUS_FILE [PEER:PORT,...]

Only what a machine without internet must change is changed (no DHT, LSD,
UPnP, NAT-PMP; listen on the given address); choking, uTP, connection
limits and the rest stay at libtorrent's defaults, as a user of a generic
client gets them.  'get' writes "done <unix time>" to STATUS_FILE when every
piece is verified and keeps seeding until killed.  Peers come from the
torrent's tracker, and from the optional list (where there is no tracker).
"""
import os
import sys
import time

import libtorrent as lt


def main():
    mode, torrent, path, listen, status = sys.argv[1:6]
    s = lt.session({
        'listen_interfaces': listen + ':6881',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'alert_mask': 0,
    })
    ti = lt.torrent_info(torrent)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = os.path.dirname(os.path.abspath(path))
    if mode == 'seed':
        atp.flags |= lt.torrent_flags.seed_mode
    # the payload file is named after the torrent; point it at our path
    atp.renamed_files = {0: os.path.basename(path)}
    h = s.add_torrent(atp)
    for peer in sys.argv[6].split(',') if len(sys.argv) > 6 else []:
        host, port = peer.rsplit(':', 1)
        h.connect_peer((host, int(port)))
    done = False
    while True:
        st = h.status()
        if not done and mode == 'get' and st.is_seeding:
            with open(status, 'w') as f:
                f.write('done %.6f\n' % time.time())
            done = True
        time.sleep(0.05)


if __name__ == '__main__':
    main()
