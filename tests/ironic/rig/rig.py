"""The rig: real Ironic and real agents deploying loop devices on one machine.

One ``Rig`` holds, all started here and all stopped by ``close()``:

- a bridge ``ezir0`` (10.201.0.1/24, the tests' address) and, joined to it
  by veths, one network namespace for the conductor's machine
  (``ezir-c``, 10.201.0.2) and one per node (``ezir-N``, 10.201.0.(10+N),
  its interface called ``eth0.100``: the agent skips interfaces without a
  PCI device unless their names look like a VLAN's); with ``rate_mbit``
  every port is shaped both ways, as a switch port would be;
- on the conductor's machine: Ironic's all-in-one ``ironic`` process (API
  and conductor, sqlite, noauth, no RPC bus, no DHCP) with the ``ezio`` and
  ``direct`` deploy interfaces and ``fake-hardware`` nodes whose
  management interface is ``noop``; nginx serving the images and torrents
  (its access log tells the bytes it served), opentracker, and an ezio
  seeder;
- per node, a loop device as its disk and, when its deploy starts, one
  ``ironic-python-agent`` in the node's namespace, jailed by agent-jail
  (private mounts and PIDs, this machine's disks covered, power commands
  replaced).  One agent per deploy: its token is spent afterwards, as a
  ramdisk's would be once the node reboots.

Traffic stays on the bridge and its namespaces.  Every name used here
begins with ``ezir``; ``cleanup_stale()`` removes what a killed run left.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import swiftstore  # beside this file, as rig.py's users find it

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get('EZ_ROOT') or os.path.abspath(os.path.join(HERE, '..', '..', '..'))
BIN = os.path.join(ROOT, 'build')
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))

PREFIX = 'ezir'
BRIDGE = PREFIX + '0'
NET = '10.201.0'
HOST_IP = NET + '.1'          # this namespace, on the bridge: the tests
CONDUCTOR_IP = NET + '.2'     # the conductor's machine: Ironic, nginx, tracker, seeder
CONDUCTOR_NS = PREFIX + '-c'
# ports on the bridge address, in the Ironic tests' block (23600-23799)
API_PORT = 23700
HTTP_PORT = 23701
TRACKER_PORT = 23702
SEEDER_PORT = 23703           # and up, one per image the tests seed
CONDUCTOR_SEEDER_PORTS = (23710, 23719)   # the seeders the conductor starts
SWIFT_PORT = 23720            # and the next five: a Swift beside the conductor
AGENT_PORT = 9999
PEER_PORT = 6881
API_VERSION = '1.95'
TRACKER_URL = 'http://%s:%d/announce' % (CONDUCTOR_IP, TRACKER_PORT)

MiB = 1 << 20


def run(*argv, check=True, **kw):
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


def wait_port(host, port, timeout=30, proc=None, what=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RigError('%s exited with %s before it listened on %s:%d' % (what, proc.returncode, host, port))
        try:
            socket.create_connection((host, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RigError('%s does not listen on %s:%d after %d s' % (what or 'nothing', host, port, timeout))


class RigError(Exception):
    pass


def cleanup_stale():
    """Remove namespaces and links of the rig that a killed run left."""
    out = run('ip', 'netns', 'list', check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ''
        if name.startswith(PREFIX + '-'):
            for pid in run('ip', 'netns', 'pids', name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
            run('ip', 'netns', 'del', name, check=False)
    for link in os.listdir('/sys/class/net'):
        if link.startswith(PREFIX):
            run('ip', 'link', 'del', link, check=False)


def add_port(ns, host_end, dev, ip, rate_mbit=None, mac=None):
    """A namespace ns whose interface dev (address ip/24) is a veth to the
    bridge; shaped to rate_mbit both ways as a switch port is, if given."""
    run('ip', 'netns', 'add', ns)
    run('ip', 'link', 'add', host_end, 'type', 'veth', 'peer', 'name', dev, 'netns', ns)
    run('ip', 'link', 'set', host_end, 'master', BRIDGE, 'up')
    inside = ('ip', 'netns', 'exec', ns)
    if mac:
        run(*inside, 'ip', 'link', 'set', dev, 'address', mac)
    run(*inside, 'ip', 'addr', 'add', ip + '/24', 'dev', dev)
    run(*inside, 'ip', 'link', 'set', dev, 'up')
    run(*inside, 'ip', 'link', 'set', 'lo', 'up')
    if rate_mbit:
        # tbf's bucket must hold an offloaded segment (64 KiB and headers)
        tbf = ('root', 'tbf', 'rate', '%gmbit' % rate_mbit, 'burst', '128kb', 'latency', '50ms')
        run(*inside, 'tc', 'qdisc', 'replace', 'dev', dev, *tbf)        # its upload
        run('tc', 'qdisc', 'replace', 'dev', host_end, *tbf)            # its download


class Node(object):
    """One machine of the rig: its namespace, MAC, address and disk."""

    def __init__(self, rig, index, disk_mib, disk_dir=None):
        self.rig = rig
        self.index = index
        self.ns = '%s-%d' % (PREFIX, index)
        self.ip = '%s.%d' % (NET, 10 + index)
        self.mac = '52:54:00:e2:10:%02x' % (index + 1)
        self.name = 'rig-%d' % index
        self.dir = os.path.join(rig.work, self.name)
        os.makedirs(self.dir)
        self.disk_file = os.path.join(disk_dir or self.dir, 'disk-%d' % index)
        with open(self.disk_file, 'wb') as f:
            f.truncate(disk_mib * MiB)
        self.disk = run('losetup', '-f', '--show', self.disk_file).stdout.strip()
        rig._loops.append(self.disk)
        self.uuid = None
        self.agent = None
        self.agent_runs = 0
        add_port(self.ns, '%sh%d' % (PREFIX, index), 'eth0.100', self.ip, rig.rate_mbit, self.mac)

    def wipe(self):
        """Make the disk a new one again, as for a machine booting its
        ramdisk afresh: the kernel forgets its partitions (they outlive a
        deploy on the rig, where nothing reboots) and every byte reads
        zero."""
        run('partx', '-d', self.disk, check=False)
        run('blkdiscard', self.disk)

    def _agent_dir(self):
        """A new folder for one run of the agent (or of a command in its
        place): agent-1, agent-2 ..."""
        self.agent_runs += 1
        adir = os.path.join(self.dir, 'agent-%d' % self.agent_runs)
        os.makedirs(adir)
        return adir

    def _jail(self, adir, command):
        """The argument list and environment that run command in this
        node's namespace under agent-jail, with adir as its folder."""
        env = dict(os.environ)
        env.update({
            'EZIO_RIG_DISK': self.disk,
            'PYTHONPATH': os.path.join(HERE, 'plugin'),
            'PATH': BIN + os.pathsep + VENV_BIN + os.pathsep + env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin'),
        })
        env.pop('EZIO_DEBUG', None)
        argv = ['ip', 'netns', 'exec', self.ns,
                'unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc',
                '--kill-child', os.path.join(HERE, 'agent-jail'), self.disk, adir, '--'] + command
        return argv, env

    def run_jailed(self, command, timeout=120):
        """Run command where the agent would run; returns the CompletedProcess."""
        argv, env = self._jail(self._agent_dir(), command)
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def start_agent(self):
        """Start this node's agent, jailed, in its namespace (one per deploy)."""
        if self.agent is not None:
            self.stop_agent()
        adir = self._agent_dir()
        conf = os.path.join(adir, 'agent.conf')
        with open(conf, 'w') as f:
            f.write(AGENT_CONF % {'api': 'http://%s:%d' % (CONDUCTOR_IP, API_PORT), 'port': AGENT_PORT,
                                  'dir': adir, 'peer_port': PEER_PORT})
        argv, env = self._jail(adir, [os.path.join(VENV_BIN, 'ironic-python-agent'), '--config-file', conf])
        self.agent_log = os.path.join(adir, 'agent.log')
        with open(self.agent_log, 'w') as log:
            self.agent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          env=env, start_new_session=True)

    def stop_agent(self):
        if self.agent is None:
            return
        if self.agent.poll() is None:
            # unshare --kill-child passes SIGKILL to the agent (PID 1 there)
            self.agent.kill()
            try:
                self.agent.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for pid in run('ip', 'netns', 'pids', self.ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        self.agent = None

    def log_tail(self, lines=40):
        try:
            with open(self.agent_log, errors='replace') as f:
                return ''.join(f.readlines()[-lines:])
        except (OSError, AttributeError):
            return ''


AGENT_CONF = """[DEFAULT]
api_url = %(api)s
listen_host = 0.0.0.0
listen_port = %(port)d
insecure = true
standalone = false
debug = false
use_stderr = true
hardware_initialization_delay = 0
disk_wait_attempts = 1
disk_wait_delay = 0
lookup_timeout = 600
lookup_interval = 1
inspection_callback_url =
collect_lldp = false
enable_vlan_interfaces =
log_dir =
# the rig's partition images hold a file system, not an operating system:
# there is no boot loader to install into them
ignore_bootloader_failure = true
[ezio]
work_dir = %(dir)s/ezio
listen = 0.0.0.0:%(peer_port)d
"""

IRONIC_CONF = """[DEFAULT]
host = ezio-rig
auth_strategy = noauth
rpc_transport = none
debug = false
use_stderr = true
state_path = %(work)s/state
enabled_hardware_types = fake-hardware
enabled_deploy_interfaces = ezio,direct
default_deploy_interface = ezio
enabled_boot_interfaces = fake
enabled_power_interfaces = fake
enabled_management_interfaces = noop,fake
enabled_inspect_interfaces = no-inspect
enabled_network_interfaces = noop
enabled_storage_interfaces = noop
enabled_console_interfaces = no-console
enabled_raid_interfaces = no-raid,agent
enabled_rescue_interfaces = no-rescue
enabled_vendor_interfaces = no-vendor
enabled_bios_interfaces = no-bios
enabled_firmware_interfaces = no-firmware
[api]
host_ip = %(host)s
port = %(api_port)d
ramdisk_heartbeat_timeout = 10
[database]
connection = sqlite:///%(work)s/ironic.sqlite
[dhcp]
dhcp_provider = none
[conductor]
automated_clean = false
deploy_callback_timeout = 900
heartbeat_interval = 2
sync_power_state_interval = -1
check_provision_state_interval = 5
[deploy]
http_root = %(work)s/www
http_url = http://%(host)s:%(http_port)d
default_boot_mode = bios
[pxe]
tftp_root = %(work)s/tftp
images_path = %(work)s/images
instance_master_path = %(work)s/master_images
[agent]
deploy_logs_collect = never
post_deploy_get_power_state_retries = 1
post_deploy_get_power_state_retry_interval = 1
[service_catalog]
endpoint_override = http://%(host)s:%(api_port)d
[oslo_concurrency]
lock_path = %(work)s/lock
[ezio]
trackers = http://%(host)s:%(tracker_port)d/announce
seed_after = until-done
seed_timeout = 60
deploy_timeout = 600
tracker_whitelist = %(work)s/tracker/whitelist
allow = %(net)s.0/24
seeder_address = %(host)s
seeder_ports = %(seeder_ports)s
"""

NGINX_CONF = """user root; worker_processes 2; daemon off; pid %(work)s/nginx.pid; error_log %(work)s/nginx.log;
events { worker_connections 256; }
http {
  log_format bytes '$request_uri $status $body_bytes_sent';
  access_log %(work)s/access.log bytes;
  sendfile on;
  server {
    listen %(host)s:%(http_port)d;
    root %(work)s/www;
  }
}
"""


class Rig(object):
    """The rig (see the module's description); use it as a context manager."""

    def __init__(self, work, ezio_conf='', rate_mbit=None):
        self.rate_mbit = rate_mbit
        self.work = os.path.abspath(work)
        self.www = os.path.join(self.work, 'www')
        self.nodes = []
        self._procs = []
        self._loops = []
        self.ironic = None
        self._seeder_status = []
        self._swifts = []
        os.makedirs(self.www, exist_ok=True)
        for d in ('state', 'tftp', 'images', 'master_images', 'lock'):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        self.ezio_conf = ezio_conf

    # -- set-up -------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        cleanup_stale()
        run('ip', 'link', 'add', BRIDGE, 'type', 'bridge')
        run('ip', 'addr', 'add', HOST_IP + '/24', 'dev', BRIDGE)
        run('ip', 'link', 'set', BRIDGE, 'up')
        add_port(CONDUCTOR_NS, PREFIX + 'hc', 'eth0', CONDUCTOR_IP, self.rate_mbit)
        self._start_nginx()
        self._start_tracker()
        self._start_ironic()

    def _bg(self, argv, log, **kw):
        """Start argv on the conductor's machine (its namespace), output
        to log in the work directory."""
        argv = ['ip', 'netns', 'exec', CONDUCTOR_NS] + argv
        with open(os.path.join(self.work, log), 'w') as f:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, **kw)
        self._procs.append(p)
        return p

    def _start_nginx(self):
        conf = os.path.join(self.work, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF % {'work': self.work, 'host': CONDUCTOR_IP, 'http_port': HTTP_PORT})
        os.chmod(self.work, 0o755)
        p = self._bg(['nginx', '-c', conf, '-e', os.path.join(self.work, 'nginx.log')], 'nginx.out')
        wait_port(CONDUCTOR_IP, HTTP_PORT, proc=p, what='nginx')

    def _start_tracker(self):
        tdir = os.path.join(self.work, 'tracker')
        os.makedirs(tdir, exist_ok=True)
        os.chmod(tdir, 0o755)
        self.whitelist = os.path.join(tdir, 'whitelist')
        open(self.whitelist, 'w').close()
        os.chmod(self.whitelist, 0o644)
        self.tracker = self._bg(['opentracker', '-i', CONDUCTOR_IP, '-p', str(TRACKER_PORT), '-P', str(TRACKER_PORT),
                                 '-d', tdir, '-w', 'whitelist', '-u', 'nobody'], 'tracker.log')
        wait_port(CONDUCTOR_IP, TRACKER_PORT, proc=self.tracker, what='opentracker')

    def allow(self, info_hash):
        """Let the tracker serve a torrent (Debian's opentracker takes a
        whitelist; it reads it again on SIGHUP)."""
        with open(self.whitelist, 'a') as f:
            f.write(info_hash + '\n')
        self.tracker.send_signal(signal.SIGHUP)
        time.sleep(0.2)

    def _start_ironic(self):
        conf = os.path.join(self.work, 'ironic.conf')
        with open(conf, 'w') as f:
            f.write(IRONIC_CONF % {'work': self.work, 'host': CONDUCTOR_IP, 'api_port': API_PORT,
                                   'http_port': HTTP_PORT, 'tracker_port': TRACKER_PORT,
                                   'seeder_ports': '%d:%d' % CONDUCTOR_SEEDER_PORTS, 'net': NET})
            f.write(self.ezio_conf)
        self.ironic_conf = conf
        if not os.path.exists(os.path.join(self.work, 'ironic.sqlite')):
            r = run(os.path.join(VENV_BIN, 'ironic-dbsync'), '--config-file', conf, 'create_schema', check=False)
            if r.returncode:
                raise RigError('ironic-dbsync failed: %s' % r.stderr[-2000:])
        env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
        self.ironic = self._bg([os.path.join(VENV_BIN, 'ironic'), '--config-file', conf], 'ironic.log', env=env)
        wait_port(CONDUCTOR_IP, API_PORT, timeout=90, proc=self.ironic, what='ironic')
        end = time.monotonic() + 60
        while True:
            try:
                if self.api('GET', '/v1/drivers').get('drivers'):
                    break
            except RigError:
                pass
            if time.monotonic() > end:
                raise RigError('ironic lists no driver after 60 s:\n' + self.ironic_log())
            time.sleep(0.5)

    def restart_ironic(self, ezio_conf):
        """Start Ironic again with ezio_conf added to its configuration
        (ironic.conf text, e.g. "[ezio]\\nweb_seed = false\\n"); the
        nodes stay enrolled."""
        self.ironic.terminate()
        try:
            self.ironic.wait(30)
        except subprocess.TimeoutExpired:
            self.ironic.kill()
            self.ironic.wait()
        self._procs.remove(self.ironic)
        self.ezio_conf += '\n' + ezio_conf
        self._start_ironic()

    def start_swift(self):
        """A real Swift on the conductor's machine (swiftstore.py), for the
        rest of the rig's life."""
        self.swift = swiftstore.Swift(os.path.join(self.work, 'swift'), CONDUCTOR_IP, SWIFT_PORT,
                                      prefix=['ip', 'netns', 'exec', CONDUCTOR_NS])
        self._swifts.append(self.swift)
        self.swift.start()
        return self.swift

    def conductor_seeder_uploaded(self, forget=False):
        """Bytes the conductor's seeders have sent, from their status files:
        the last seeder of each image's; with forget, remove the files
        (a seeder started afterwards counts from 0)."""
        total = 0
        state = os.path.join(self.work, 'state', 'ezio')
        for key in os.listdir(state) if os.path.isdir(state) else []:
            path = os.path.join(state, key, 'seeder.json')
            try:
                with open(path) as f:
                    total += json.load(f)['uploaded']
                if forget:
                    os.unlink(path)
            except (OSError, ValueError, KeyError):
                pass
        return total

    def conductor_seeders(self):
        """The pids of the seeders the conductor runs (publish.py)."""
        pids = []
        for entry in os.listdir('/proc'):
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as f:
                    argv = f.read().split(b'\0')
            except (OSError, ValueError):
                continue
            if b'--seed' in argv and any(a.startswith(os.path.join(self.work, 'state').encode()) for a in argv):
                pids.append(int(entry))
        return pids

    def seed(self, torrent, image):
        """An ezio seeder of image on the conductor's machine, announced to
        the tracker, for the whole rig's life (one port per image)."""
        n = len(self._seeder_status)
        status = os.path.join(self.work, 'seeder-%d.json' % n)
        self._seeder_status.append(status)
        p = self._bg([os.path.join(BIN, 'ezio-deploy'), '--seed', '-t', torrent, '-T', image,
                      '-l', '%s:%d' % (CONDUCTOR_IP, SEEDER_PORT + n), '-q', '-a', TRACKER_URL,
                      '--status-file', status], 'seeder-%d.log' % n)
        wait_port(CONDUCTOR_IP, SEEDER_PORT + n, proc=p, what='the seeder')

    def seeder_uploaded(self):
        """Bytes the seeders have sent, from their status files."""
        total = 0
        for status in self._seeder_status:
            try:
                with open(status) as f:
                    total += json.load(f)['uploaded']
            except (OSError, ValueError, KeyError):
                pass
        return total

    def url(self, name):
        """The URL nginx serves www/name at."""
        return 'http://%s:%d/%s' % (CONDUCTOR_IP, HTTP_PORT, name)

    def http_served(self, prefix='/', suffix=''):
        """Bytes nginx has sent for paths starting with prefix (and ending
        with suffix)."""
        total = 0
        try:
            with open(os.path.join(self.work, 'access.log')) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3 and parts[0].startswith(prefix) and parts[0].endswith(suffix):
                        total += int(parts[2])
        except FileNotFoundError:
            pass
        return total

    def add_nodes(self, count, disk_mib, deploy_interface='ezio', disk_dir=None):
        """count nodes, each with a loop disk of disk_mib (a sparse file in
        disk_dir, or in the node's folder), enrolled and made available."""
        added = []
        for _ in range(count):
            node = Node(self, len(self.nodes), disk_mib, disk_dir)
            self.nodes.append(node)
            body = {'name': node.name, 'driver': 'fake-hardware', 'deploy_interface': deploy_interface,
                    'management_interface': 'noop',
                    'driver_info': {'deploy_forces_oob_reboot': True},
                    'properties': {'local_gb': 1, 'cpus': 1, 'memory_mb': 1024, 'cpu_arch': 'x86_64'}}
            node.uuid = self.api('POST', '/v1/nodes', body)['uuid']
            self.api('POST', '/v1/ports', {'node_uuid': node.uuid, 'address': node.mac})
            self.provision(node, 'manage')
            self.wait(node, 'manageable', 30)
            self.provision(node, 'provide')
            self.wait(node, 'available', 30)
            added.append(node)
        return added

    # -- the API ------------------------------------------------------------

    def api(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request('http://%s:%d%s' % (CONDUCTOR_IP, API_PORT, path), data=data, method=method,
                                     headers={'Content-Type': 'application/json',
                                              'X-OpenStack-Ironic-API-Version': API_VERSION})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
        except urllib.error.HTTPError as e:
            raise RigError('%s %s: HTTP %d: %s' % (method, path, e.code, e.read().decode(errors='replace')))
        except OSError as e:
            raise RigError('%s %s: %s' % (method, path, e))
        return json.loads(text) if text else {}

    def patch(self, node, **fields):
        """Set fields of a node: patch(node, instance_info={...})."""
        ops = []
        for field, value in fields.items():
            if isinstance(value, dict):
                ops += [{'op': 'add', 'path': '/%s/%s' % (field, k), 'value': v} for k, v in value.items()]
            else:
                ops.append({'op': 'replace', 'path': '/' + field, 'value': value})
        return self.api('PATCH', '/v1/nodes/' + node.uuid, ops)

    def provision(self, node, target, **extra):
        body = {'target': target}
        body.update(extra)
        self.api('PUT', '/v1/nodes/%s/states/provision' % node.uuid, body)

    def get(self, node):
        return self.api('GET', '/v1/nodes/' + node.uuid)

    def validate(self, node):
        return self.api('GET', '/v1/nodes/%s/validate' % node.uuid)

    def wait(self, node, state, timeout):
        """Wait until node reaches state; raises on a failure state."""
        end = time.monotonic() + timeout
        while True:
            n = self.get(node)
            if n['provision_state'] == state and not n.get('target_provision_state'):
                return n
            if n['provision_state'] in ('deploy failed', 'clean failed', 'error') and state != n['provision_state']:
                raise RigError('node %s: %s (wanted %s): %s' % (node.name, n['provision_state'], state,
                                                               n.get('last_error')))
            if time.monotonic() > end:
                raise RigError('node %s: %s after %d s (wanted %s), last_error %s'
                               % (node.name, n['provision_state'], timeout, state, n.get('last_error')))
            time.sleep(0.5)

    def deploy(self, nodes, timeout=600, configdrive=None):
        """Deploy nodes at once, as ``baremetal node deploy`` does; each
        node's agent starts once Ironic waits for it ("wait call-back", as
        when its ramdisk boots) and stops once the node is done.

        :returns: {node name: (provision state, seconds from the request,
            last_error)}, each state "active" or "deploy failed".
        :raises: RigError if a node is neither after timeout seconds.
        """
        start = {}
        for node in nodes:
            extra = {'configdrive': configdrive} if configdrive is not None else {}
            start[node.name] = time.monotonic()
            self.provision(node, 'active', **extra)
        results = {}
        end = time.monotonic() + timeout
        while len(results) < len(nodes):
            for node in nodes:
                if node.name in results:
                    continue
                n = self.get(node)
                state = n['provision_state']
                if state == 'wait call-back' and node.agent is None:
                    node.start_agent()
                if state == 'deploy failed' or (state == 'active' and not n.get('target_provision_state')):
                    results[node.name] = (state, time.monotonic() - start[node.name], n.get('last_error'))
                    node.stop_agent()
            if time.monotonic() > end:
                raise RigError('deploy not done after %d s: %s' % (timeout, {
                    nd.name: self.get(nd)['provision_state'] for nd in nodes}))
            time.sleep(0.25)
        return results

    def undeploy(self, nodes, timeout=120):
        for node in nodes:
            self.provision(node, 'deleted')
        for node in nodes:
            self.wait(node, 'available', timeout)

    def ironic_log(self, lines=60):
        with open(os.path.join(self.work, 'ironic.log'), errors='replace') as f:
            return ''.join(f.readlines()[-lines:])

    # -- tear-down ----------------------------------------------------------

    def close(self):
        for node in self.nodes:
            node.stop_agent()
        for store in self._swifts:
            store.close()
        swiftstore.stop(self._procs, 15)
        for dev in self._loops:
            run('partx', '-d', dev, check=False)
            run('losetup', '-d', dev, check=False)
        cleanup_stale()


def partition_image(path, size_mib, data_mib):
    """An ext4 file system image of size_mib holding data_mib of random
    data.  Returns (path, its UUID)."""
    fill = path + '.d'
    os.makedirs(fill)
    with open(os.path.join(fill, 'data'), 'wb') as f:
        f.write(os.urandom(data_mib * MiB))
    with open(path, 'wb') as f:
        f.truncate(size_mib * MiB)
    run('mkfs.ext4', '-q', '-F', '-L', 'ezio-root', '-d', fill, path)
    shutil.rmtree(fill)
    return path, run('blkid', '-o', 'value', '-s', 'UUID', path).stdout.strip()


def whole_disk_image(path, size_mib, part_mib):
    """A GPT disk image: partition 1 (ext4, some files of random data) of
    part_mib MiB at 1 MiB.  Returns its path."""
    with open(path, 'wb') as f:
        f.truncate(size_mib * MiB)
    run('sgdisk', '-n', '1:2048:+%dM' % part_mib, '-t', '1:8300', path)
    part = path + '.p1'
    with open(part, 'wb') as f:
        f.truncate(part_mib * MiB)
    fill = os.path.join(os.path.dirname(path), 'fill')
    os.makedirs(fill, exist_ok=True)
    with open(os.path.join(fill, 'data'), 'wb') as f:
        f.write(os.urandom(part_mib * MiB // 2))
    run('mkfs.ext4', '-q', '-F', '-L', 'ezio-root', '-d', fill, part)
    shutil.rmtree(fill)
    with open(part, 'rb') as src, open(path, 'r+b') as dst:
        dst.seek(MiB)
        while True:
            buf = src.read(4 * MiB)
            if not buf:
                break
            dst.write(buf)
    os.unlink(part)
    return path


def sha256_file(path, length=None, offset=0):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        f.seek(offset)
        left = length
        while left is None or left > 0:
            buf = f.read(4 * MiB if left is None else min(4 * MiB, left))
            if not buf:
                break
            h.update(buf)
            if left is not None:
                left -= len(buf)
    return h.hexdigest()


def _torrent(torrent):
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
    try:
        import ezio_image
    finally:
        sys.path.pop(0)
    return ezio_image.load(torrent)


def info_hash(torrent):
    """The torrent's info-hash in hex, as the tracker's whitelist wants it."""
    return _torrent(torrent)['infohash']


def payload_bytes(torrent):
    """The bytes a node downloads: the sum of the torrent's data extents."""
    return sum(length for _, length in _torrent(torrent)['data'])


def gpt_partitions(device):
    """[(first sector, last sector, type code)] of device's GPT, by sgdisk."""
    out = run('sgdisk', '-p', device).stdout
    parts = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 6 and f[0].isdigit() and f[1].isdigit():
            parts.append((int(f[1]), int(f[2]), f[5]))
    return parts
