"""A peer that lies to a seeder about the pieces it wants, for test-requests.

    front_liar.py TORRENT BIND_IP SEEDER_IP:PORT

It connects from BIND_IP to the seeder as a BitTorrent peer of TORRENT's
swarm holding nothing, says it is interested, and sends "ezio_front"
messages (upload_slots.cpp) that the seeder must drop: not bencode, a
string, a list, and pieces out of range (-2, the number of pieces, 2**40).
Then, every second, the lie: it wants piece 0, the lowest there is, so
that the seeder would keep its one slot for it, and it is interested
(again: libtorrent answers with an unchoke each time); and it never asks
for anything.  Runs until killed; says on stderr when it has told the lie.
"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ezio_image import bdecode, bencode, info_span  # noqa: E402
from peer_wire import INTERESTED, connect, drain, extended, message  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: ' + __doc__.split('\n\n')[1].strip())
    torrent, bind_ip, seeder = sys.argv[1:]
    raw = open(torrent, 'rb').read()
    start, end = info_span(raw)
    info, _ = bdecode(raw, start)
    pieces = len(info[b'pieces']) // 20
    info_hash = hashlib.sha1(raw[start:end]).digest()
    try:
        s, hs = connect(seeder, info_hash, bind_ip, {}, 'front_liar')
        if s is None:
            sys.exit(1)
        front_id = hs.get(b'm', {}).get(b'ezio_front')
        if not isinstance(front_id, int):
            sys.exit('front_liar: the seeder takes no ezio_front')
        s.sendall(message(INTERESTED))
        for bad in (b'not bencode', bencode('0'), bencode([0]), bencode(-2), bencode(pieces), bencode(2 ** 40)):
            s.sendall(extended(front_id, bad))
        print('front_liar: told %s it wants piece 0' % seeder, file=sys.stderr, flush=True)
        drain(s, 1, lambda: s.sendall(extended(front_id, bencode(0)) + message(INTERESTED)))
    except OSError:
        pass


if __name__ == '__main__':
    main()
