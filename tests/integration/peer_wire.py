"""The BitTorrent peer wire, as much of it as the tests' hostile peers
need: connect to a node as a peer of a torrent's swarm holding nothing,
with the extension protocol (BEP 10), and send it extended messages."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ezio_image import bdecode, bencode  # noqa: E402

EXTENDED = 20
INTERESTED = 2


def message(msg_id, body=b''):
    return struct.pack('>IB', len(body) + 1, msg_id) + body


def extended(ext_id, body):
    return message(EXTENDED, bytes([ext_id]) + body)


def recv_exact(s, n):
    buf = b''
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('closed')
        buf += chunk
    return buf


def connect(node, info_hash, bind_ip, names, who):
    """Connect from bind_ip to node (HOST:PORT), retrying for up to 30 s
    while it does not listen, and exchange handshakes, offering the
    extended messages names ({name: id}).  Returns the socket and the
    node's extension handshake (a dict), or (None, None), said on stderr
    as who."""
    host, port = node.rsplit(':', 1)
    for _ in range(300):
        try:
            s = socket.create_connection((host, int(port)), timeout=5, source_address=(bind_ip, 0))
            break
        except OSError:
            time.sleep(0.1)
    else:
        print('%s: %s never listened' % (who, node), file=sys.stderr, flush=True)
        return None, None
    reserved = bytearray(8)
    reserved[5] |= 0x10                     # BEP 10, the extension protocol
    s.sendall(b'\x13BitTorrent protocol' + bytes(reserved) + info_hash + b'-XX0001-' + os.urandom(12))
    recv_exact(s, 68)
    s.sendall(extended(0, bencode({'m': names})))
    # read up to the node's extension handshake
    while True:
        (length,) = struct.unpack('>I', recv_exact(s, 4))
        body = recv_exact(s, length) if length else b''
        if length >= 2 and body[0] == EXTENDED and body[1] == 0:
            return s, bdecode(body[2:])[0]


def drain(s, every, act):
    """Read and drop whatever the node sends, calling act() every `every`
    seconds, until the connection closes."""
    s.settimeout(0.2)
    due = 0.0
    while True:
        if time.monotonic() >= due:
            act()
            due = time.monotonic() + every
        try:
            if not s.recv(65536):
                return
        except socket.timeout:
            pass
