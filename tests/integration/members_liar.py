"""A peer that lies about its rack's members, for test-racks.

    members_liar.py TORRENT BIND_IP NODE_IP:PORT... -- BOGUS_IP:PORT

It connects from BIND_IP to each node (retrying while the node is not
listening yet), as a BitTorrent peer of TORRENT's swarm holding nothing,
and sends it, as "ezio_members" messages (racks.cpp, extension id 41),
lists that ezio-deploy must drop whole: not bencode, not a list, a list of
1,025 members, and lists whose first entry is good but whose second has a
port out of range, an address that is not one, one field or a port that
is a string, and a list nested 200 deep.  Each names members only in
127.0.8.0/21, so none of them may ever be dialed.  Then, every 2 s, the
one well-formed lie: BIND_IP's rack is this peer (no listening port) and
BOGUS_IP:PORT, where nothing listens.  Runs until killed; says on stderr
which nodes it told.
"""
import hashlib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ezio_image import bdecode, bencode, info_span  # noqa: E402
from peer_wire import connect, drain, extended  # noqa: E402

MEMBERS_ID = 41         # the id ezio-deploy takes "ezio_members" under


def bogus(i):
    """The i-th address of 127.0.8.0/21: named only in lists that are dropped."""
    return '127.0.%d.%d' % (8 + i // 256, i % 256)


DROPPED = [
    b'not bencode at all',
    bencode({'members': [[bogus(0), 6881]]}),
    bencode([[bogus(i), 6881] for i in range(1025)]),
    bencode([[bogus(1), 6881], [bogus(2), 70000]]),
    bencode([[bogus(3), 6881], ['no-such-address', 6881]]),
    bencode([[bogus(4), 6881], [bogus(5)]]),
    bencode([[bogus(6), 6881], [bogus(7), '6881']]),
    b'l' * 200 + bencode([bogus(8), 6881]) + b'e' * 200,
]


def lie_to(node, info_hash, bind_ip, lie):
    # a node that closes the connection before it was told (one that
    # listens a moment before its torrent is added drops the handshake:
    # seen once under the sanitizers) is tried again, for up to 10 s
    for _ in range(50):
        told = False
        try:
            s, _ = connect(node, info_hash, bind_ip, {'ezio_members': 7}, 'members_liar')
            if s is None:
                return
            for bad in DROPPED:
                s.sendall(extended(MEMBERS_ID, bad))
            told = True
            print('members_liar: told %s' % node, file=sys.stderr, flush=True)
            drain(s, 2, lambda: s.sendall(extended(MEMBERS_ID, lie)))
            return
        except OSError:
            if told:
                return
            time.sleep(0.2)


def main():
    args = sys.argv[1:]
    if len(args) < 5 or '--' not in args or args.index('--') != len(args) - 2:
        sys.exit('usage: ' + __doc__.split('\n\n')[1].strip())
    torrent, bind_ip, nodes, target = args[0], args[1], args[2:-2], args[-1]
    raw = open(torrent, 'rb').read()
    start, end = info_span(raw)
    bdecode(raw, start)                         # a torrent, or this fails here
    info_hash = hashlib.sha1(raw[start:end]).digest()
    host, port = target.rsplit(':', 1)
    lie = bencode([[bind_ip, 0], [host, int(port)]])
    threads = [threading.Thread(target=lie_to, args=(n, info_hash, bind_ip, lie), daemon=True) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == '__main__':
    main()
