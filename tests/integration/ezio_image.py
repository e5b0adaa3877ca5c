"""Read ezio torrents and check deployed targets, for the integration tests.

A second, independent reader of the native format (bencode + the varint
extent map), so the tests do not trust the C code they are testing.

    ezio_image.py verify TORRENT SOURCE TARGET PATTERN_HEX [keep-zero]
        every data extent of TARGET equals SOURCE, every zero range reads
        zero (with keep-zero: still holds PATTERN), every other byte (also
        past the image) still holds PATTERN.
    ezio_image.py infohash TORRENT
    ezio_image.py payload-length TORRENT
        the sum of the data extents' lengths.
    ezio_image.py piece-length TORRENT
        the torrent's piece length in bytes.
    ezio_image.py split TORRENT SOURCE DIR
        write EZIO's layout: one file per data extent, named by its offset
        in 16 hex digits.
    ezio_image.py verify-compat DIR TARGET PATTERN_HEX
        each file of DIR is at its offset in TARGET; all else holds PATTERN.
    ezio_image.py make SOURCE SEED [MIB]
        write a test image: random data regions, zero blocks inside data,
        holes, and an odd tail.
"""
import hashlib
import os
import random
import sys


def bdecode(buf, i=0):
    c = buf[i:i + 1]
    if c == b'i':
        j = buf.index(b'e', i)
        return int(buf[i + 1:j]), j + 1
    if c in (b'l', b'd'):
        i += 1
        items = []
        while buf[i:i + 1] != b'e':
            v, i = bdecode(buf, i)
            items.append(v)
        if c == b'l':
            return items, i + 1
        return dict(zip(items[::2], items[1::2])), i + 1
    j = buf.index(b':', i)
    n = int(buf[i:j])
    return buf[j + 1:j + 1 + n], j + 1 + n


class Raw:
    """Bytes bencode() puts out as they are (malformed on purpose)."""

    def __init__(self, data):
        self.data = data


def bencode(v):
    """Bencode v; a dict is written with its keys sorted (BEP 3), a Raw as
    it is."""
    if isinstance(v, int):
        return b'i%de' % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b'%d:%s' % (len(v), v)
    if isinstance(v, list):
        return b'l' + b''.join(bencode(x) for x in v) + b'e'
    if isinstance(v, dict):
        return b'd' + b''.join(bencode(k) + bencode(v[k]) for k in sorted(v, key=lambda k: k.encode()
                                                                      if isinstance(k, str) else k)) + b'e'
    if isinstance(v, Raw):
        return v.data
    raise TypeError(v)


def info_span(buf):
    """Byte span of the value under b'info' in the root dict."""
    i = 1
    while buf[i:i + 1] != b'e':
        k, i = bdecode(buf, i)
        start = i
        _, i = bdecode(buf, i)
        if k == b'info':
            return start, i
    raise ValueError('no info')


def varints(b):
    out, v, shift = [], 0, 0
    for byte in b:
        v |= (byte & 0x7f) << shift
        if byte & 0x80:
            shift += 7
        else:
            out.append(v)
            v, shift = 0, 0
    return out


def extents(enc, bs, size):
    nums = varints(enc)
    pos, out = 0, []
    for gap, n in zip(nums[::2], nums[1::2]):
        start = pos + gap
        pos = start + n
        out.append((start * bs, min(pos * bs, size) - start * bs))
    return out


def load(path):
    with open(path, 'rb') as f:
        buf = f.read()
    root, _ = bdecode(buf)
    info = root[b'info']
    ez = info[b'ezio']
    size, bs = ez[b'target size'], ez[b'block size']
    return {
        'size': size,
        'data': extents(ez[b'extents'], bs, size),
        'zero': extents(ez.get(b'zero', b''), bs, size),
        'infohash': hashlib.sha1(buf[slice(*info_span(buf))]).hexdigest(),
        'piece length': info[b'piece length'],
    }


def verify(torrent, source, target, pattern, keep_zero=False):
    t = load(torrent)
    pat = bytes([pattern])
    covered = sorted([(o, l, 'data') for o, l in t['data']] + [(o, l, 'zero') for o, l in t['zero']])
    tsize = os.path.getsize(target) if os.path.isfile(target) else None
    with open(source, 'rb') as src, open(target, 'rb') as dst:
        if tsize is None:
            dst.seek(0, 2)
            tsize = dst.tell()
        pos = 0
        for off, length, kind in covered + [(tsize, 0, 'end')]:
            if off > pos:           # untouched gap: must still hold the pattern
                check_fill(dst, pos, off - pos, pat, 'pattern')
            if kind == 'data':
                n = 0
                while n < length:
                    k = min(1 << 20, length - n)
                    src.seek(off + n)
                    dst.seek(off + n)
                    if src.read(k) != dst.read(k):
                        fail('data extent at %#x differs from the source' % (off + n))
                    n += k
            elif kind == 'zero':
                check_fill(dst, off, length, pat if keep_zero else b'\0', 'zero range')
            pos = max(pos, off + length)
    print('verify: %s OK: %d data extents, %d zero ranges, %d untouched bytes checked'
          % (target, len(t['data']), len(t['zero']), tsize - sum(l for _, l, _ in covered)))


def check_fill(f, off, length, byte, what):
    n = 0
    while n < length:
        k = min(1 << 20, length - n)
        f.seek(off + n)
        if f.read(k) != byte * k:
            fail('%s at %#x does not hold %r' % (what, off + n, byte))
        n += k


def fail(msg):
    print('verify: FAIL: ' + msg)
    sys.exit(1)


def split(torrent, source, outdir):
    os.makedirs(outdir, exist_ok=True)
    with open(source, 'rb') as src:
        for off, length in load(torrent)['data']:
            src.seek(off)
            with open(os.path.join(outdir, '%016x' % off), 'wb') as f:
                f.write(src.read(length))


def verify_compat(indir, target, pattern):
    pat = bytes([pattern])
    ext = sorted((int(n, 16), os.path.getsize(os.path.join(indir, n)), n) for n in os.listdir(indir))
    with open(target, 'rb') as dst:
        dst.seek(0, 2)
        tsize = dst.tell()
        pos = 0
        for off, length, name in ext + [(tsize, 0, None)]:
            if off > pos:
                check_fill(dst, pos, off - pos, pat, 'pattern')
            if name:
                dst.seek(off)
                with open(os.path.join(indir, name), 'rb') as f:
                    if f.read() != dst.read(length):
                        fail('extent %s differs' % name)
            pos = off + length
    print('verify-compat: %s OK: %d extents' % (target, len(ext)))


def make(path, seed, size_mib=64):
    rnd = random.Random(seed)
    size = size_mib << 20
    with open(path, 'wb') as f:
        f.truncate(size - 1536)     # odd tail: not a multiple of 4 KiB
        off = 0
        while off < size - (4 << 20):
            n = rnd.randrange(1, 48) * 16384
            f.seek(off)
            f.write(rnd.randbytes(n))
            if rnd.random() < 0.5:  # zero blocks inside a data region
                f.seek(off + n // 2)
                f.write(bytes(8192))
            off += n + rnd.randrange(0, 64) * 4096
        f.seek(size - 1536 - 700)
        f.write(rnd.randbytes(700))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'verify':
        verify(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5], 16),
               len(sys.argv) > 6 and sys.argv[6] == 'keep-zero')
    elif cmd == 'infohash':
        with open(sys.argv[2], 'rb') as f:
            buf = f.read()
        print(hashlib.sha1(buf[slice(*info_span(buf))]).hexdigest())
    elif cmd == 'payload-length':
        print(sum(length for _, length in load(sys.argv[2])['data']))
    elif cmd == 'piece-length':
        print(load(sys.argv[2])['piece length'])
    elif cmd == 'split':
        split(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == 'verify-compat':
        verify_compat(sys.argv[2], sys.argv[3], int(sys.argv[4], 16))
    elif cmd == 'make':
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 64)
    else:
        sys.exit('unknown command ' + cmd)
