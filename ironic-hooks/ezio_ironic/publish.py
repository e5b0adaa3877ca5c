"""The torrent the conductor makes, serves and seeds, so that no operator
crafts torrents by hand.

For a node whose ``instance_info`` names no ``ezio_torrent``, the conductor
step ``ezio_write_image`` calls :func:`acquire`:

1. The node's image is cached and converted to raw by Ironic's own image
   cache (``deploy_utils.cache_instance_image``, the cache
   ``image_download_source=local`` uses): one download per image per
   conductor, however many nodes deploy it.
2. ``ezio-mktorrent`` makes the torrent from it once per image, under a
   lock, into ``[deploy]http_root/<[ezio]publish_subdir>/<key>.torrent``,
   served by the conductor's HTTP server.  The key names the image as the
   cache holds it (source, size, modification time) and the options that
   shape the torrent (trackers, web seed), so a changed image or setting
   makes a new torrent and two deploys racing make one.
3. The payload file (the image's used blocks, concatenated) is the
   torrent's BEP 19 web seed: the origin of last resort, which nodes use
   only when no peer holds a piece they lack (ezio-deploy holds web seeds
   back until then).  ``[ezio]web_seed`` says where it lives: beside the
   torrent on the conductor's HTTP server (``http``, the default), or in
   Swift (``swift``: uploaded once with Ironic's ``[swift]`` credentials,
   named by a temporary URL that the conductor renews in the torrent, whose
   info-hash does not cover it, when half of its life is gone), or nowhere
   (``none``).  The raw image itself cannot be the web seed: a web seed
   serves the torrent's payload by its offsets, and the payload leaves out
   the free and zero blocks.
4. With ``[ezio]tracker_whitelist`` the torrent's info-hash is added to
   the tracker's whitelist, and the tracker (``opentracker``) told to
   read it again.
5. With ``[ezio]conductor_seeder`` (the default) an ``ezio-deploy --seed``
   serves the cached image for as long as deploys of it are in progress:
   each node is recorded as a user of the image, and :func:`release`
   (the conductor step ``ezio_release_image`` after the write, and
   ``clean_up`` for a deploy that failed or was torn down) removes it; the
   last one out stops the seeder.  A seeder also stops by itself after
   twice the longest deploy, should the conductor die.

Everything the conductor keeps about it lives in ``[DEFAULT]state_path/ezio``.
"""

import errno
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from urllib import parse as urlparse

from oslo_concurrency import lockutils
from oslo_concurrency import processutils
from oslo_log import log

from ironic.common import checksum_utils
from ironic.common import exception
from ironic.common import states
from ironic.common import swift
from ironic.drivers.modules import deploy_utils
from ironic import objects

from ezio_ironic import conf

CONF = conf.CONF
LOG = log.getLogger(__name__)

# driver_internal_info key: the image key a node holds a claim on
CLAIM = 'ezio_image'
# the states in which a node's claim on an image is still in use
DEPLOYING = (states.DEPLOYING, states.DEPLOYWAIT)
# seconds a seeder has to show it started before it counts as failed
SEEDER_START = 0.5

_seeders = {}           # pid -> Popen, so that finished seeders are reaped


def state_dir():
    return os.path.join(CONF.state_path, 'ezio')


def publish_dir():
    return os.path.join(CONF.deploy.http_root, CONF.ezio.publish_subdir)


def publish_url(name):
    return '/'.join([CONF.deploy.http_url.rstrip('/'), CONF.ezio.publish_subdir, name])


def _lock(key):
    os.makedirs(state_dir(), exist_ok=True)
    return lockutils.lock('ezio-%s' % key, external=True, lock_path=state_dir())


def check(node):
    """Whether the conductor can make and serve this node's torrent: what
    ``validate`` shows for a node that names no ``ezio_torrent``.

    :raises: MissingParameterValue or InvalidParameterValue naming the
        setting or program that is missing.
    """
    missing = [name for name, value in (('[deploy]http_url', CONF.deploy.http_url),
                                        ('[deploy]http_root', CONF.deploy.http_root)) if not value]
    if missing:
        raise exception.MissingParameterValue(
            "Node %s names no instance_info['ezio_torrent'], and the conductor "
            "cannot serve one it makes: %s not set" % (node.uuid, ' and '.join(missing)))
    programs = [CONF.ezio.mktorrent_binary]
    if CONF.ezio.conductor_seeder:
        programs.append(CONF.ezio.deploy_binary)
    for program in programs:
        if not shutil.which(program):
            raise exception.InvalidParameterValue(
                "Node %s names no instance_info['ezio_torrent'], and the "
                "conductor cannot make one: %s is not installed on the "
                "conductor (not found in PATH)" % (node.uuid, program))
    _seeder_ports()


def _seeder_ports():
    value = CONF.ezio.seeder_ports
    low, _, high = value.partition(':')
    try:
        low, high = int(low), int(high or low)
    except ValueError:
        low = high = 0
    if not 0 < low <= high < 65536:
        raise exception.InvalidParameterValue(
            '[ezio]seeder_ports %r is not a port range LOW:HIGH' % value)
    return range(low, high + 1)


# -- the torrent ------------------------------------------------------------

def _cached_image(task):
    """Ironic's raw copy of the node's image: (href, path)."""
    node = task.node
    checksum, algo = checksum_utils.get_checksum_and_algo(node.instance_info)
    href, path, _ = deploy_utils.cache_instance_image(
        task.context, node, force_raw=True, expected_checksum=checksum,
        expected_checksum_algo=algo)
    return href, path


def _key(href, path):
    st = os.stat(path)
    ident = [href, str(st.st_size), str(st.st_mtime_ns), str(st.st_ino),
             ','.join(CONF.ezio.trackers), CONF.ezio.web_seed,
             CONF.deploy.http_url]
    return hashlib.sha256('\0'.join(ident).encode()).hexdigest()[:32]


def _value_end(data, i):
    """Where the bencoded value starting at data[i] ends."""
    kind = data[i:i + 1]
    if kind == b'i':
        return data.index(b'e', i) + 1
    if kind in (b'l', b'd'):
        i += 1
        while data[i:i + 1] != b'e':
            i = _value_end(data, i)
        return i + 1
    colon = data.index(b':', i)
    return colon + 1 + int(data[i:colon])


def _entries(data):
    """The top-level dictionary of a torrent: [(key, raw value)] in order."""
    entries, i = [], 1
    while data[i:i + 1] != b'e':
        key_end = _value_end(data, i)
        value_end = _value_end(data, key_end)
        entries.append((data[data.index(b':', i) + 1:key_end], data[key_end:value_end]))
        i = value_end
    return entries


def info_hash(data):
    """The v1 info-hash of a torrent (its bytes): SHA-1 of the info dict."""
    for key, value in _entries(data):
        if key == b'info':
            return hashlib.sha1(value).hexdigest()
    raise ValueError('no info dictionary')


def with_web_seed(data, url):
    """The torrent with url as its only web seed (url-list, outside the
    info dictionary: the info-hash stays)."""
    entries = [e for e in _entries(data) if e[0] != b'url-list']
    entries.append((b'url-list', b'%d:%s' % (len(url.encode()), url.encode())))
    return b'd' + b''.join(b'%d:%s%s' % (len(k), k, v) for k, v in sorted(entries)) + b'e'


def web_seed_of(data):
    """The torrent's first web seed, or None."""
    for key, value in _entries(data):
        if key == b'url-list':
            if value[:1] == b'l':
                value = value[1:]
            if value[:1].isdigit():
                return value[value.index(b':') + 1:_value_end(value, 0)].decode()
    return None


def _swift_object(key):
    return key + '.payload'


def _swift_web_seed(key):
    """A new temporary URL of the payload in Swift."""
    return swift.SwiftAPI().get_temp_url(CONF.ezio.swift_container, _swift_object(key),
                                         CONF.ezio.swift_temp_url_duration)


def _expires(url):
    """When a temporary URL expires (seconds since the epoch), or 0."""
    query = urlparse.parse_qs(urlparse.urlparse(url).query)
    try:
        return int(query['temp_url_expires'][0])
    except (KeyError, ValueError):
        return 0


def _replace(path, data):
    with open(path + '.new', 'wb') as f:
        f.write(data)
    os.rename(path + '.new', path)


def _make_torrent(key, image, torrent):
    """ezio-mktorrent, with the payload for the web seed; nothing is left
    under the published names unless all of it was written."""
    payload = os.path.join(publish_dir(), key + '.payload')
    new = torrent + '.new'
    argv = [CONF.ezio.mktorrent_binary, image, '-o', new, '-q', '-n', key]
    for tracker in CONF.ezio.trackers:
        argv += ['-a', tracker]
    if CONF.ezio.web_seed == 'http':
        argv += ['-w', publish_url(key + '.payload')]
    if CONF.ezio.web_seed != 'none':
        argv += ['-p', payload + '.new']
    started = time.monotonic()
    try:
        processutils.execute(*argv)
        if CONF.ezio.web_seed == 'swift':
            swift.SwiftAPI().create_object(CONF.ezio.swift_container, _swift_object(key), payload + '.new')
            os.unlink(payload + '.new')
            with open(new, 'rb') as f:
                _replace(new, with_web_seed(f.read(), _swift_web_seed(key)))
        elif CONF.ezio.web_seed == 'http':
            os.rename(payload + '.new', payload)
        os.rename(new, torrent)
    except (processutils.ProcessExecutionError, OSError, exception.IronicException) as e:
        for path in (new, payload + '.new'):
            try:
                os.unlink(path)
            except OSError:
                pass
        raise exception.InstanceDeployFailure(
            'ezio could not make the torrent of %s: %s'
            % (image, getattr(e, 'stderr', None) or e))
    LOG.info('Made the torrent %s of image %s in %.1f s', torrent, image,
             time.monotonic() - started)


def _renew_web_seed(key, torrent):
    """A Swift web seed's temporary URL renewed when half its life is gone."""
    with open(torrent, 'rb') as f:
        data = f.read()
    url = web_seed_of(data)
    if CONF.ezio.web_seed != 'swift' or not url:
        return data
    if _expires(url) - time.time() > CONF.ezio.swift_temp_url_duration / 2:
        return data
    data = with_web_seed(data, _swift_web_seed(key))
    _replace(torrent, data)
    LOG.info('Renewed the temporary URL of the web seed of %s', torrent)
    return data


def _whitelist(hash_hex):
    """Add the info-hash to the tracker's whitelist and have it read it."""
    path = CONF.ezio.tracker_whitelist
    if not path:
        return
    with _lock('whitelist'):
        try:
            with open(path) as f:
                if hash_hex in f.read().split():
                    return
        except FileNotFoundError:
            pass
        with open(path, 'a') as f:
            f.write(hash_hex + '\n')
    told = 0
    for pid in _pids_named('opentracker'):
        try:
            os.kill(pid, signal.SIGHUP)
            told += 1
        except OSError:
            pass
    if not told:
        LOG.warning('Added %s to the tracker whitelist %s, but found no '
                    'opentracker this conductor may signal to read it again',
                    hash_hex, path)


def _pids_named(name):
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/comm' % entry) as f:
                    if f.read().strip() == name:
                        yield int(entry)
            except OSError:
                pass


# -- the seeder -------------------------------------------------------------

def _seeder_lifetime():
    """Twice the longest deploy may take: a bound should the conductor
    never stop the seeder."""
    longest = CONF.ezio.deploy_timeout + CONF.ezio.seed_timeout + 60
    if CONF.ezio.deploy_timeout == 0 or CONF.ezio.seed_timeout == 0:
        longest = CONF.conductor.deploy_callback_timeout or 3600
    return 2 * longest


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _seeder(kdir):
    """The running seeder of an image directory: (pid, port, started) or None."""
    pid = _read(os.path.join(kdir, 'seeder.pid'))
    if not pid or not pid.isdigit():
        return None
    pid = int(pid)
    proc = _seeders.get(pid)
    if proc is not None and proc.poll() is not None:
        del _seeders[pid]
        return None
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            argv = f.read().split(b'\0')
    except OSError:
        return None
    if kdir.encode() not in b' '.join(argv):
        return None
    port = int(_read(os.path.join(kdir, 'seeder.port')) or 0)
    return pid, port, os.stat(os.path.join(kdir, 'seeder.pid')).st_mtime


def _port_in_use(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((CONF.ezio.seeder_address, port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def _free_port():
    taken = set()
    for name in os.listdir(state_dir()):
        kdir = os.path.join(state_dir(), name)
        if os.path.isdir(kdir):
            seeder = _seeder(kdir)
            if seeder:
                taken.add(seeder[1])
    for port in _seeder_ports():
        if port not in taken and not _port_in_use(port):
            return port
    raise exception.InstanceDeployFailure(
        'No port of [ezio]seeder_ports %s is free for another seeder'
        % CONF.ezio.seeder_ports)


def _start_seeder(key, kdir, torrent, image):
    source = os.path.join(kdir, 'image')
    try:
        os.unlink(source)
    except FileNotFoundError:
        pass
    try:
        # a link of its own keeps the cached image while the seeder runs
        os.link(image, source)
    except OSError:
        source = image
    with _lock('ports'):        # two images' seeders must not pick one port
        port = _free_port()
        argv = [CONF.ezio.deploy_binary, '--seed', '--torrent', torrent, '--target', source,
                '--listen', '%s:%d' % (CONF.ezio.seeder_address, port), '--quiet',
                '--seed-after', str(_seeder_lifetime()),
                '--status-file', os.path.join(kdir, 'seeder.json')]
        for tracker in CONF.ezio.trackers:
            argv += ['--tracker', tracker]
        with open(os.path.join(kdir, 'seeder.log'), 'ab') as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, close_fds=True,
                                    start_new_session=True)
        _seeders[proc.pid] = proc
        with open(os.path.join(kdir, 'seeder.port'), 'w') as f:
            f.write('%d\n' % port)
        with open(os.path.join(kdir, 'seeder.pid'), 'w') as f:
            f.write('%d\n' % proc.pid)
        try:
            proc.wait(SEEDER_START)
        except subprocess.TimeoutExpired:
            LOG.info('Seeding image %s on port %d (pid %d)', key, port, proc.pid)
            return port
    del _seeders[proc.pid]
    why = 'the conductor\'s seeder of %s exited at once (%d): %s' % (
        torrent, proc.returncode, (_read(os.path.join(kdir, 'seeder.log')) or '').splitlines()[-1:])
    if CONF.ezio.web_seed == 'none':
        raise exception.InstanceDeployFailure(why + '; with no web seed the swarm has no origin')
    LOG.warning('%s; the nodes will fetch from the web seed', why)
    return None


def _stop_seeder(kdir):
    seeder = _seeder(kdir)
    if seeder:
        pid = seeder[0]
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        proc = _seeders.pop(pid, None)
        if proc is not None:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        LOG.info('Stopped the seeder of %s (pid %d)', kdir, pid)
    for name in ('seeder.pid', 'image'):
        try:
            os.unlink(os.path.join(kdir, name))
        except FileNotFoundError:
            pass


# -- claims -----------------------------------------------------------------

def _users(context, kdir, key):
    """The nodes still deploying this image; claims of others are dropped."""
    udir = os.path.join(kdir, 'users')
    os.makedirs(udir, exist_ok=True)
    users = []
    for uuid in os.listdir(udir):
        try:
            node = objects.Node.get_by_uuid(context, uuid)
            alive = (node.provision_state in DEPLOYING
                     and node.driver_internal_info.get(CLAIM) == key)
        except exception.NodeNotFound:
            alive = False
        if alive:
            users.append(uuid)
        else:
            os.unlink(os.path.join(udir, uuid))
    return users


def acquire(task):
    """Make (once) and publish the torrent of the node's image, and seed
    it while the node deploys.

    :param task: a TaskManager instance (exclusive lock, node deploying).
    :returns: a dict: torrent (its URL), torrent_sha256, and peers: the
        conductor's seeder as HOST:PORT when [ezio]seeder_address names
        one (nodes reach it even without a tracker), else none.
    :raises: InstanceDeployFailure, or what Ironic's image cache raises
        when the image cannot be fetched.
    """
    node = task.node
    href, image = _cached_image(task)
    key = _key(href, image)
    kdir = os.path.join(state_dir(), key)
    torrent = os.path.join(publish_dir(), key + '.torrent')
    os.makedirs(publish_dir(), exist_ok=True)
    with _lock(key):
        os.makedirs(kdir, exist_ok=True)
        if not os.path.exists(torrent):
            _make_torrent(key, image, torrent)
        os.utime(torrent)
        data = _renew_web_seed(key, torrent)
        _whitelist(info_hash(data))
        info = node.driver_internal_info
        info[CLAIM] = key
        node.driver_internal_info = info
        node.save()
        os.makedirs(os.path.join(kdir, 'users'), exist_ok=True)
        open(os.path.join(kdir, 'users', node.uuid), 'w').close()
        port = None
        if CONF.ezio.conductor_seeder:
            seeder = _seeder(kdir)
            if seeder and time.time() - seeder[2] > _seeder_lifetime() / 2:
                _stop_seeder(kdir)      # it would stop before this deploy ends
                seeder = None
            port = seeder[1] if seeder else _start_seeder(key, kdir, torrent, image)
    _sweep(task.context)
    peers = []
    if port and CONF.ezio.seeder_address not in ('0.0.0.0', '::', ''):
        peers.append('%s:%d' % (CONF.ezio.seeder_address, port))
    return {'torrent': publish_url(key + '.torrent'),
            'torrent_sha256': hashlib.sha256(data).hexdigest(), 'peers': peers}


def release(task):
    """The node no longer needs the conductor's seeder: stop it if the
    node was the last one deploying the image.  Idempotent.

    :param task: a TaskManager instance.
    """
    node = task.node
    key = node.driver_internal_info.get(CLAIM)
    if not key:
        return
    kdir = os.path.join(state_dir(), key)
    info = node.driver_internal_info
    info.pop(CLAIM, None)
    node.driver_internal_info = info
    node.save()
    if not os.path.isdir(kdir):
        return
    with _lock(key):
        try:
            os.unlink(os.path.join(kdir, 'users', node.uuid))
        except FileNotFoundError:
            pass
        if not _users(task.context, kdir, key):
            _stop_seeder(kdir)


def _sweep(context):
    """Stop the seeders no deploy uses any more (a node that left
    ``deploying`` and ``wait call-back`` without release, a failed deploy,
    holds no claim), and remove the published torrents and payloads of
    images not deployed for [pxe]image_cache_ttl."""
    ttl = CONF.pxe.image_cache_ttl * 60
    for key in os.listdir(state_dir()):
        kdir = os.path.join(state_dir(), key)
        if not os.path.isdir(kdir):
            continue
        with _lock(key):
            if _users(context, kdir, key):
                continue
            _stop_seeder(kdir)
            torrent = os.path.join(publish_dir(), key + '.torrent')
            try:
                idle = time.time() - os.stat(torrent).st_mtime
            except FileNotFoundError:
                idle = ttl
            if idle >= ttl:
                _unpublish(key, torrent)
                shutil.rmtree(kdir, ignore_errors=True)


def _unpublish(key, torrent):
    """Remove a torrent and its web seed's payload (from Swift too)."""
    try:
        with open(torrent, 'rb') as f:
            in_swift = '/%s/%s' % (CONF.ezio.swift_container, _swift_object(key)) in (web_seed_of(f.read()) or '')
    except OSError:
        in_swift = False
    if in_swift:
        try:
            swift.SwiftAPI().delete_object(CONF.ezio.swift_container, _swift_object(key))
        except exception.IronicException as e:
            LOG.warning('Could not delete the web seed %s from Swift: %s', _swift_object(key), e)
    for path in (torrent, os.path.join(publish_dir(), key + '.payload')):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
