#!/usr/bin/python3
"""make-cases.py - write the malformed inputs of test-malformed, and CASES.

Every other file in this directory is written by it, so that a case can
be read, changed and written again:

    /usr/bin/python3 tests/data/malformed/make-cases.py

Each case is one input ezio-deploy must refuse: a torrent (-t), a
node.yaml (--config), or a torrent served over HTTP by a behaviour of
tests/integration/httpd-odd.py.  CASES lists them, one a line, four
fields separated by tabs:

    FILE    the data file, or - when the behaviour makes the body itself
    VIA     good           not a case: a valid input the cases break (--dry-run)
            torrent        -t FILE -T TARGET (a file filled with a pattern)
            loop           -t FILE -T an 8 MiB loop device (skipped where
                           loop devices cannot be used)
            config         --config FILE -t good.torrent -T TARGET
            config-alone   --config FILE and nothing else
            http:B         -t http://127.0.0.1:PORT/B/FILE (/B with no FILE),
                           served by httpd-odd.py's behaviour B
            http-sha256:B  the same with a --torrent-sha256 that is not its own
    EXIT    the exit code (ezio-deploy(1), EXIT STATUS)
    ERROR   a fixed substring of the one line printed on stderr

Everything is made from fixed bytes (no randomness, no clock), so running
this again writes the same files.
"""
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'integration'))
from ezio_image import Raw, bencode as benc  # noqa: E402  (the tests' own bencoding)

CASES = []


# ---- helpers -----------------------------------------------------------

def pairs(*kv):
    """A dictionary written in the order given, repeats and all."""
    return Raw(b'd' + b''.join(benc(k) + benc(v) for k, v in kv) + b'e')


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def extent_map(*gap_len):
    """The native extent map: varint gap, varint length, in blocks."""
    return b''.join(varint(g) + varint(n) for g, n in zip(gap_len[::2], gap_len[1::2]))


def payload(n):
    """n bytes of a fixed pattern."""
    block = hashlib.sha256(b'ezio malformed').digest()
    return (block * (n // len(block) + 1))[:n]


def piece_hashes(data, plen):
    return b''.join(hashlib.sha1(data[i:i + plen]).digest() for i in range(0, len(data), plen))


PIECE = 16384
BLOCK = 4096
TARGET = 1 << 20                        # the image's target: 1 MiB
PAYLOAD = payload(2 * PIECE)            # two extents of 4 blocks: 32 KiB
EXTENTS = extent_map(0, 4, 60, 4)       # at 0 and at 256 KiB


def ezio_dict(**over):
    d = {'version': 1, 'target size': TARGET, 'block size': BLOCK, 'extents': EXTENTS,
         'zero': extent_map(4, 4), 'kind': 'partition'}
    for k, v in over.items():
        k = k.replace('_', ' ')
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def native_info(**over):
    """A valid native info dictionary, with keys replaced (None: removed)."""
    info = {'name': 'image.raw', 'piece length': PIECE, 'length': len(PAYLOAD),
            'pieces': piece_hashes(PAYLOAD, PIECE), 'private': 1, 'ezio': ezio_dict()}
    for k, v in over.items():
        k = k.replace('_', ' ')
        if v is None:
            info.pop(k, None)
        else:
            info[k] = v
    return info


def torrent(info, **top):
    t = {'info': info}
    t.update(top)
    return benc(t)


def compat_info(files, name='image', plen=PIECE, pieces=None):
    """EZIO's layout: files is a list of (path list, length)."""
    total = sum(n for _, n in files)
    if pieces is None:
        pieces = piece_hashes(payload(total), plen)
    return {'name': name, 'piece length': plen, 'pieces': pieces,
            'files': [{'length': n, 'path': p} for p, n in files]}


def case(name, via, code, error, data):
    if isinstance(data, str):
        data = data.encode()
    if name != '-' and data is not None:
        with open(os.path.join(HERE, name), 'wb') as f:
            f.write(data)
    CASES.append((name, via, code, error))


def tcase(name, code, error, data, via='torrent'):
    case(name, via, code, error, data)


GOOD = torrent(native_info())
OFF0 = '0000000000000000'


# ---- the good ones, that the others break ------------------------------

case('good.torrent', 'good', 0, '-', GOOD)
case('good-compat.torrent', 'good', 0, '-', torrent(compat_info([([OFF0], PIECE), (['0000000000040000'], PIECE)])))


# ---- bencode -----------------------------------------------------------

tcase('empty.torrent', 3, 'empty (0 bytes), not a torrent', b'')
tcase('not-bencode.torrent', 3, "bencode: unexpected character at byte 0", b'\x7fELF\x02\x01\x01\x00' + bytes(56))
tcase('text.torrent', 3, "bencode: unexpected character at byte 0", 'this is a disk image, honest\n')
tcase('truncated.torrent', 3, 'bencode: ', GOOD[:len(GOOD) // 2])
tcase('trailing-garbage.torrent', 3, 'bencode: trailing data after the root value at byte %d' % len(GOOD),
      GOOD + b'\n<garbage>')
tcase('leading-zero-int.torrent', 3, 'bencode: leading zero in integer',
      torrent(native_info(piece_length=Raw(b'i016384e'))))
tcase('leading-zero-strlen.torrent', 3, 'bencode: leading zero in integer',
      torrent(native_info(name=Raw(b'09:image.raw'))))
tcase('negative-zero.torrent', 3, 'bencode: negative zero', torrent(native_info(private=Raw(b'i-0e'))))
tcase('int-no-digits.torrent', 3, 'bencode: expected digits', torrent(native_info(private=Raw(b'ie'))))
tcase('int-overflow.torrent', 3, 'bencode: integer overflows 64 bits',
      torrent(native_info(length=Raw(b'i18446744073709551616e'))))
tcase('strlen-overflow.torrent', 3, 'bencode: integer overflows 64 bits',
      torrent(native_info(name=Raw(b'99999999999999999999999:x'))))
tcase('string-past-end.torrent', 3, 'bencode: string runs past the end of input',
      b'd8:announce4096:http://tracker/e')
tcase('nested-lists.torrent', 3, 'bencode: nesting too deep', b'l' * 100000 + b'e' * 100000)
tcase('nested-dicts.torrent', 3, 'bencode: nesting too deep', b'd1:a' * 100000 + b'i0e' + b'e' * 100000)
tcase('key-not-string.torrent', 3, 'bencode: dictionary key is not a string', b'di1ei2ee')
tcase('duplicate-key.torrent', 3, 'bencode: dictionary keys unsorted or repeated',
      torrent(pairs(('length', len(PAYLOAD)), ('name', 'image.raw'), ('name', 'other.raw'),
                    ('piece length', PIECE), ('pieces', piece_hashes(PAYLOAD, PIECE)))))
tcase('unsorted-keys.torrent', 3, 'bencode: dictionary keys unsorted or repeated',
      torrent(pairs(('name', 'image.raw'), ('length', len(PAYLOAD)),
                    ('piece length', PIECE), ('pieces', piece_hashes(PAYLOAD, PIECE)))))

# ---- the torrent's shape -------------------------------------------------

tcase('root-list.torrent', 3, "not a torrent: no 'info' dictionary", benc([native_info()]))
tcase('info-list.torrent', 3, "not a torrent: no 'info' dictionary", benc({'info': [1, 2]}))
tcase('empty-info.torrent', 3, "info has no valid 'name'", b'd4:infodee')
tcase('no-name.torrent', 3, "info has no valid 'name'", torrent(native_info(name=None)))
tcase('name-nul.torrent', 3, "info has no valid 'name'", torrent(native_info(name=b'image\0.raw')))
tcase('name-dotdot.torrent', 3, "info's 'name' '..' is not a plain file name", torrent(native_info(name='..')))
tcase('name-slash.torrent', 3, "info's 'name' '../../etc/image.raw' is not a plain file name",
      torrent(native_info(name='../../etc/image.raw')))
tcase('name-newline.torrent', 3, "info's 'name' '../?ezio-deploy: done' is not a plain file name",
      torrent(native_info(name='../\nezio-deploy: done')))
tcase('no-length.torrent', 3, "info has neither 'length' nor 'files'", torrent(native_info(length=None)))
tcase('no-pieces.torrent', 3, "'pieces' must hold 2 SHA-1 hashes for 32768 bytes", torrent(native_info(pieces=None)))
tcase('pieces-short.torrent', 3, "'pieces' must hold 2 SHA-1 hashes for 32768 bytes",
      torrent(native_info(pieces=piece_hashes(PAYLOAD, PIECE)[:20])))
tcase('pieces-long.torrent', 3, "'pieces' must hold 2 SHA-1 hashes for 32768 bytes",
      torrent(native_info(pieces=piece_hashes(PAYLOAD, PIECE) * 2)))
tcase('pieces-not-20.torrent', 3, "'pieces' must hold 2 SHA-1 hashes for 32768 bytes",
      torrent(native_info(pieces=piece_hashes(PAYLOAD, PIECE)[:-1])))
tcase('piece-length-0.torrent', 3, "missing or invalid 'piece length'", torrent(native_info(piece_length=0)))
tcase('piece-length-negative.torrent', 3, "missing or invalid 'piece length'",
      torrent(native_info(piece_length=-PIECE)))
tcase('piece-length-odd.torrent', 3, "'piece length' 20000 is not a power of two",
      torrent(native_info(piece_length=20000, pieces=piece_hashes(PAYLOAD, 20000))))
tcase('piece-length-huge.torrent', 3, "missing or invalid 'piece length'",
      torrent(native_info(piece_length=1 << 40, pieces=piece_hashes(PAYLOAD, 1 << 40))))
tcase('length-negative.torrent', 3, 'file length -32768 is not positive', torrent(native_info(length=-len(PAYLOAD))))
tcase('length-2gib.torrent', 3, 'data extents hold 32768 bytes but the payload has 2147483648',
      torrent(native_info(length=2 << 30, piece_length=16 << 20, pieces=bytes(20 * 128))))

# ---- the ezio dictionary and its extent map ------------------------------

tcase('ezio-version-2.torrent', 3, 'ezio format version 2 is not supported',
      torrent(native_info(ezio=ezio_dict(version=2))))
tcase('ezio-target-size-0.torrent', 3, "missing or invalid 'target size'",
      torrent(native_info(ezio=ezio_dict(target_size=0))))
tcase('ezio-block-size-odd.torrent', 3, "missing or invalid 'block size'",
      torrent(native_info(ezio=ezio_dict(block_size=1000))))
tcase('ezio-kind-unknown.torrent', 3, "missing or unknown 'kind'", torrent(native_info(ezio=ezio_dict(kind='floppy'))))
tcase('ezio-no-extents.torrent', 3, "missing 'extents'", torrent(native_info(ezio=ezio_dict(extents=None))))
tcase('ezio-root-short.torrent', 3, "'pieces root' is not a 32-byte SHA-256",
      torrent(native_info(ezio=ezio_dict(pieces_root=bytes(31)))))
tcase('extent-past-target.torrent', 3, 'extent ends past the target size 1048576',
      torrent(native_info(ezio=ezio_dict(extents=extent_map(0, 4, 250, 4)))))
tcase('extent-varint-overflow.torrent', 3, 'truncated or overlong number',
      torrent(native_info(ezio=ezio_dict(extents=extent_map(0, 4) + b'\xff' * 10 + b'\x01' + varint(4)))))
tcase('extent-varint-truncated.torrent', 3, 'truncated or overlong number',
      torrent(native_info(ezio=ezio_dict(extents=extent_map(0, 4, 60) + b'\x84'))))
tcase('extent-empty.torrent', 3, 'empty extent', torrent(native_info(ezio=ezio_dict(extents=extent_map(0, 4, 60, 0)))))
tcase('extents-sum-short.torrent', 3, 'data extents hold 16384 bytes but the payload has 32768',
      torrent(native_info(ezio=ezio_dict(extents=extent_map(0, 4)))))
tcase('extent-overlaps-zero.torrent', 3, 'data extent at 0 overlaps zero range at 0',
      torrent(native_info(ezio=ezio_dict(zero=extent_map(0, 8)))))
tcase('native-two-files.torrent', 3, 'a native ezio torrent must have exactly one file',
      torrent(native_info(length=None, files=[{'length': PIECE, 'path': ['a']}, {'length': PIECE, 'path': ['b']}])))

# ---- the v2 file tree of a hybrid torrent --------------------------------

ROOT = hashlib.sha256(b'not the real tree').digest()


def hybrid(tree, **ez):
    return torrent(native_info(ezio=ezio_dict(pieces_root=ROOT, **ez), file_tree=tree, meta_version=2))


tcase('tree-length-differs.torrent', 3, 'the v2 file tree does not describe the payload',
      hybrid({'image.raw': {'': {'length': len(PAYLOAD) + 1, 'pieces root': ROOT}}}))
tcase('tree-other-name.torrent', 3, 'the v2 file tree does not describe the payload',
      hybrid({'other.raw': {'': {'length': len(PAYLOAD), 'pieces root': ROOT}}}))
tcase('tree-two-files.torrent', 3, 'the v2 file tree does not describe the payload',
      hybrid({'image.raw': {'': {'length': len(PAYLOAD), 'pieces root': ROOT}},
              'zzz.raw': {'': {'length': 1, 'pieces root': ROOT}}}))
tcase('tree-dotdot.torrent', 3, 'the v2 file tree does not describe the payload',
      hybrid({'..': {'image.raw': {'': {'length': len(PAYLOAD), 'pieces root': ROOT}}}}))
tcase('tree-root-short.torrent', 3, 'the v2 file tree does not describe the payload',
      hybrid({'image.raw': {'': {'length': len(PAYLOAD), 'pieces root': ROOT[:31]}}}))
tcase('tree-not-dict.torrent', 3, "the v2 file tree is missing or not a dictionary",
      torrent(native_info(file_tree='image.raw', meta_version=2)))
tcase('meta-version-3.torrent', 3, "'meta version' is not 2",
      hybrid({'image.raw': {'': {'length': len(PAYLOAD), 'pieces root': ROOT}}}).replace(b'12:meta versioni2e',
                                                                                   b'12:meta versioni3e'))
tcase('meta-version-no-tree.torrent', 3, "the v2 file tree is missing", torrent(native_info(meta_version=2)))
tcase('compat-tree-differs.torrent', 3, 'the v2 file tree does not describe the payload',
      torrent({'name': OFF0, 'piece length': PIECE, 'length': PIECE, 'pieces': piece_hashes(payload(PIECE), PIECE),
               'meta version': 2, 'file tree': {OFF0: {'': {'length': 2 * PIECE, 'pieces root': ROOT}}}}))

# ---- EZIO's layout: a file per extent, named by its offset ---------------

tcase('compat-bad-hex.torrent', 3, "file 1: name '00000000000400zz' is not an offset of 16 or 32 hex digits",
      torrent(compat_info([([OFF0], PIECE), (['00000000000400zz'], PIECE)])))
tcase('compat-17-digits.torrent', 3, "file 0: name '00000000000000000' is not an offset of 16 or 32 hex digits",
      torrent(compat_info([(['0' * 17], PIECE)])))
tcase('compat-hex-too-big.torrent', 3, "file 0: name 'ffff0000000000000000000000000000' is not an offset of 16 or 32 hex digits below 2^64",
      torrent(compat_info([(['ffff' + '0' * 28], PIECE)])))
tcase('compat-offset-overflow.torrent', 3, 'file 0: length overflows 64 bits',
      torrent(compat_info([(['ffffffffffffc000'], 2 * PIECE)])))
tcase('compat-overlap.torrent', 3, 'data extents at 0 and 0x2000 overlap',
      torrent(compat_info([([OFF0], PIECE), (['0000000000002000'], PIECE)])))
tcase('compat-dotdot.torrent', 3, "file 0: path component '..' is not a plain name",
      torrent(compat_info([(['..', OFF0], PIECE)])))
tcase('compat-slash.torrent', 3, "file 0: path component 'a/b' is not a plain name",
      torrent(compat_info([(['a/b', OFF0], PIECE)])))
tcase('compat-deep-path.torrent', 3, "file 0: a path of 3 components (EZIO's layout has 1 or 2)",
      torrent(compat_info([(['a', 'b', OFF0], PIECE)])))
tcase('compat-negative-length.torrent', 3, 'file 0: missing or invalid length or path',
      torrent(compat_info([([OFF0], -PIECE)], pieces=piece_hashes(payload(PIECE), PIECE))))
tcase('compat-no-data.torrent', 3, 'torrent has no data', torrent(compat_info([([OFF0], 0)], pieces=b'')))
tcase('compat-pad-file.torrent', 3, 'pad files are not supported',
      torrent({'name': 'image', 'piece length': PIECE, 'pieces': piece_hashes(payload(PIECE), PIECE),
               'files': [{'length': PIECE, 'path': [OFF0], 'attr': 'p'}]}))
tcase('compat-single-not-hex.torrent', 3, "its name 'image.raw' is not a hex offset",
      torrent({'name': 'image.raw', 'piece length': PIECE, 'length': PIECE,
               'pieces': piece_hashes(payload(PIECE), PIECE)}))
tcase('compat-name-control.torrent', 3, "its name 'image??.raw' is not a hex offset",
      torrent({'name': 'image\r\n.raw', 'piece length': PIECE, 'length': PIECE,
               'pieces': piece_hashes(payload(PIECE), PIECE)}))
tcase('compat-past-disk.torrent', 4, "holds 8388608 bytes, the image needs 16793600",
      torrent(compat_info([(['0000000001000000'], PIECE)])), via='loop')

# ---- node.yaml -------------------------------------------------------------


def ycase(name, error, text, code=2, via='config'):
    case(name, via, code, error, text)


ycase('string-for-number.yaml', "timeout: expected a number of seconds", 'timeout: soon\n')
ycase('list-for-scalar.yaml', "target: expected a single value, not a list or mapping", 'target: [/dev/sda, /dev/sdb]\n')
ycase('map-for-list.yaml', "peers: expected a list", 'peers:\n  host: 10.0.0.1:6881\n')
ycase('scalar-for-section.yaml', "http: expected a mapping", 'http: fast\n')
ycase('duplicate-key.yaml', "'timeout' given twice", 'timeout: 60\ntimeout: 0\n')
ycase('duplicate-nested-key.yaml', "'http.retries' given twice", 'http:\n  retries: 1\n  retries: 20\n')
ycase('unknown-key.yaml', "unknown key 'torent'", 'torent: /srv/image.torrent\n')
ycase('unknown-nested-key.yaml', "unknown key 'http.tiemout'", 'http:\n  tiemout: 5\n')
ycase('key-newline.yaml', "1:1: a key must be a plain name", '"torrent\\nezio-deploy: done": x\n')
ycase('alias.yaml', "aliases are not supported", 'listen: &addr 127.0.0.1:6881\npeers: [*addr]\n')
LAUGHS = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
for i in range(1, 12):
    p = chr(ord('a') + i - 1)
    LAUGHS.append('%s: &%s [%s]' % (chr(ord('a') + i), chr(ord('a') + i), ', '.join(['*' + p] * 10)))
ycase('billion-laughs.yaml', "aliases are not supported", '\n'.join(LAUGHS) + '\n')
ycase('huge-scalar.yaml', "larger than 1 MiB, not a node configuration",
      'target: "' + 'x' * (3 << 20) + '"\n')
ycase('invalid-utf8.yaml', "invalid", b'target: /dev/sd\xff\xfe\n')
ycase('tab-indent.yaml', "found character that cannot start any token", 'http:\n\tretries: 1\n')
ycase('empty.yaml', "empty.yaml has no 'torrent' key", '', via='config-alone')
ycase('two-documents.yaml', "one document per file", '---\ntimeout: 60\n---\ntimeout: 0\n')
ycase('root-list.yaml', "expected a mapping of settings", '- timeout: 60\n')
ycase('number-overflow.yaml', "timeout: expected a number of seconds", 'timeout: 99999999999999999999999\n')
ycase('number-negative.yaml', "seed_timeout: expected a number of seconds", 'seed_timeout: -1\n')
ycase('retries-out-of-range.yaml', "http.retries: expected a whole number from 0 to 20", 'http:\n  retries: 21\n')
ycase('connections-zero.yaml', "limits.connections: expected a whole number from 1 to 65535",
      'limits:\n  connections: 0\n')
ycase('size-overflow.yaml', "limits.upload_rate: expected a number of bytes",
      'limits:\n  upload_rate: 99999999999T\n')
ycase('cidr-prefix.yaml', "allow: expected an address or ADDRESS/PREFIX", 'allow: [10.0.0.0/33]\n')
ycase('cidr-address.yaml', "allow: expected an address or ADDRESS/PREFIX", 'allow: [10.0.0.0/8, 300.1.2.3/8]\n')
ycase('cidr-v6.yaml', "allow: expected an address or ADDRESS/PREFIX", 'allow: ["fd00::/129"]\n')
ycase('nul-in-value.yaml', "target: contains a NUL character", 'target: "/dev/sda\\0/etc"\n')
ycase('deep.yaml', "nested too deeply", 'peers: ' + '[' * 40 + ']' * 40 + '\n')
ycase('key-not-scalar.yaml', "a key must be a plain name", '? [a, b]\n: c\n')
ycase('bad-bool.yaml', "http.insecure: expected true or false", 'http:\n  insecure: maybe\n')
ycase('bad-sha256.yaml', "torrent_sha256: expected 64 hexadecimal digits", 'torrent_sha256: abc\n')

# ---- over HTTP -------------------------------------------------------------

case('good.torrent', 'http:short-length', 3, 'bencode: string runs past the end of input', None)
case('good.torrent', 'http:long-length', 3, 'transfer closed with 1000 bytes remaining to read', None)
case('-', 'http:redirect-loop', 3, 'redirects followed', None)
case('-', 'http:trickle', 3, 'timed out', None)
case('-', 'http:huge', 3, 'larger than 67108864 bytes, not a torrent', None)
case('-', 'http:huge-stream', 3, 'larger than 67108864 bytes, not a torrent', None)
case('-', 'http:missing', 3, 'HTTP 404, no such torrent', None)
case('-', 'http:always500', 3, 'HTTP 500', None)
case('good.torrent', 'http:html', 3, '(an HTML or XML page, not a torrent)', None)
case('-', 'http:empty', 3, 'empty (0 bytes), not a torrent', None)
case('good.torrent', 'http-sha256:plain', 3, 'SHA-256 %s, expected %s' % (hashlib.sha256(GOOD).hexdigest(), '0' * 64),
     None)

with open(os.path.join(HERE, 'CASES'), 'w') as f:
    f.write('# written by make-cases.py: FILE, VIA, EXIT, ERROR (a fixed substring of the line)\n')
    for name, via, code, error in CASES:
        f.write('%s\t%s\t%d\t%s\n' % (name, via, code, error))
print('%d cases' % sum(1 for c in CASES if c[1] != 'good'), file=sys.stderr)
