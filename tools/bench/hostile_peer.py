"""A hostile BitTorrent peer for the fault suite.

    hostile_peer.py corrupt|liar TORRENT LISTEN_IP TRACKER_URL COUNTS_FILE

It joins the swarm of TORRENT as a seeder would: it announces itself to
the tracker as complete, connects to every peer the tracker names (again
every few seconds) and accepts connections on LISTEN_IP:6881.  To every
peer it claims every piece and unchokes it, then

    corrupt  answers each request with a block of random bytes;
    liar     never answers a request.

COUNTS_FILE gets, each second, a JSON object: connections made, requests
seen, bytes of bad blocks sent.  Runs until killed.
"""
import asyncio
import hashlib
import http.client
import json
import os
import struct
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                'tests', 'integration'))
from ezio_image import bdecode, info_span  # noqa: E402  (the tests' own reader of torrents)

PORT = 6881


def info_of(raw):
    """A torrent's info dict, decoded, and its bytes as they are in the file."""
    start, end = info_span(raw)
    return bdecode(raw, start)[0], raw[start:end]


class Peer:
    def __init__(self, mode, torrent, ip, tracker, counts):
        raw = open(torrent, 'rb').read()
        info, span = info_of(raw)
        self.info_hash = hashlib.sha1(span).digest()
        self.pieces = len(info[b'pieces']) // 20
        self.mode, self.ip, self.tracker, self.counts = mode, ip, tracker, counts
        self.peer_id = b'-XX0001-' + os.urandom(12)
        self.known, self.said = set(), set()
        self.stats = {'mode': mode, 'connections': 0, 'requests': 0, 'bad_bytes_sent': 0}

    def say(self, line):
        """One line to stderr, the first time it is said: what the case
        prints when no node ever asked this peer for a block."""
        if line not in self.said:
            self.said.add(line)
            print('hostile_peer: ' + line, file=sys.stderr, flush=True)

    @staticmethod
    def who(writer):
        addr = writer.get_extra_info('peername')
        return '%s:%d' % addr[:2] if addr else 'a peer'

    def handshake(self):
        return b'\x13BitTorrent protocol' + bytes(8) + self.info_hash + self.peer_id

    def bitfield(self):
        bits = bytearray((self.pieces + 7) // 8)
        for k in range(self.pieces):
            bits[k // 8] |= 0x80 >> (k % 8)
        return struct.pack('>IB', 1 + len(bits), 5) + bytes(bits)

    async def serve(self, reader, writer):
        try:
            writer.write(self.handshake())
            hs = await reader.readexactly(68)
            if hs[28:48] != self.info_hash:
                self.say('%s: a handshake for another torrent' % self.who(writer))
                return
            self.stats['connections'] += 1
            writer.write(self.bitfield() + struct.pack('>IB', 1, 1) + struct.pack('>IB', 1, 2))
            await writer.drain()
            while True:
                n, = struct.unpack('>I', await reader.readexactly(4))
                msg = await reader.readexactly(n) if n else b''
                if msg[:1] == b'\x06':                  # request: index, begin, length
                    self.stats['requests'] += 1
                    if self.mode == 'corrupt':
                        index, begin, length = struct.unpack('>III', msg[1:13])
                        block = os.urandom(min(length, 1 << 17))
                        writer.write(struct.pack('>IBII', 9 + len(block), 7, index, begin) + block)
                        self.stats['bad_bytes_sent'] += len(block)
                        await writer.drain()
        except (OSError, asyncio.IncompleteReadError, struct.error) as e:
            if not self.stats['connections']:
                self.say('%s: closed before any request: %s' % (self.who(writer), e or type(e).__name__))
        finally:
            writer.close()

    async def dial(self, host, port):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=(self.ip, 0)), 5)
        except (OSError, asyncio.TimeoutError) as e:
            self.say('%s:%d: connect failed: %s' % (host, port, e or type(e).__name__))
            self.known.discard((host, port))        # try again at the next announce
            return
        await self.serve(reader, writer)

    def announce(self):
        q = urllib.parse.urlencode({'info_hash': self.info_hash, 'peer_id': self.peer_id, 'port': PORT,
                                    'uploaded': 0, 'downloaded': 0, 'left': 0, 'compact': 1,
                                    'event': 'started', 'numwant': 200},
                                   quote_via=urllib.parse.quote)   # a 0x20 byte as %20: opentracker reads no '+'
        body = urllib.request.urlopen(self.tracker + '?' + q, timeout=3).read()
        reply = bdecode(body)[0]
        if b'failure reason' in reply:
            raise ValueError('the tracker refused: %s' % reply[b'failure reason'].decode(errors='replace'))
        peers = reply.get(b'peers', b'')
        return [('.'.join(str(b) for b in peers[k:k + 4]), struct.unpack('>H', peers[k + 4:k + 6])[0])
                for k in range(0, len(peers) - 5, 6)]

    async def main(self):
        await asyncio.start_server(self.serve, self.ip, PORT)
        loop = asyncio.get_running_loop()
        while True:
            try:
                found = await loop.run_in_executor(None, self.announce)
            except (OSError, ValueError, http.client.HTTPException) as e:
                self.say('announce failed: %s' % e)
                found = []
            self.say('the tracker names %d peers' % len(found))
            for hp in found:
                if hp not in self.known and hp[0] != self.ip:
                    self.known.add(hp)
                    asyncio.ensure_future(self.dial(*hp))
            with open(self.counts + '.tmp', 'w') as f:
                json.dump(self.stats, f)
            os.replace(self.counts + '.tmp', self.counts)
            await asyncio.sleep(1)


if __name__ == '__main__':
    if len(sys.argv) != 6 or sys.argv[1] not in ('corrupt', 'liar'):
        sys.exit(__doc__)
    asyncio.run(Peer(*sys.argv[1:6]).main())
