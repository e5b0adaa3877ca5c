"""The emulated switched LAN of ezio's benchmark and fault suite.

One machine plays the LAN: a network namespace holding a Linux bridge, one
for the image server, one per node, joined by veth pairs.  Each node's
link is shaped with tbf in both directions (upload on its own interface,
download on the bridge-side end); multicast crosses the bridge.  With
racks, the bridge is the spine and each rack a bridge of its own (rk1,
rk2, ...; the server alone in rk0), joined to the spine by a veth pair
shaped in both directions to the rack's uplink rate (its nodes' rate
over the oversubscription); what crosses the spine into each rack is
counted on the spine's end of that pair.  Addresses
come from 198.18.0.0/24 (RFC 2544, reserved for benchmarks) and exist only
inside these namespaces: no traffic leaves them.  Faults: random loss on
every port (iptables' statistic match in the bridge, this kernel having no
netem) and a port taken down and up again.
"""
import json
import os
import signal
import subprocess
import time

PREFIX = 'ezb-'
NET = '198.18.0.'
SERVER_IP = NET + '1'


def unmount(path, tries=50):
    """Unmount path.  A process that has only just been killed may still
    hold a file there for a moment (EBUSY): try again for up to tries / 10
    seconds, then detach it lazily, so that no mount of the run is left."""
    for _ in range(tries):
        if subprocess.run(['umount', path], stderr=subprocess.DEVNULL).returncode == 0:
            return
        if not os.path.ismount(path):
            return
        time.sleep(0.1)
    subprocess.run(['umount', '-l', path], stderr=subprocess.DEVNULL)


def sh(*argv, ns=None, check=True, capture=False):
    cmd = (['ip', 'netns', 'exec', ns] if ns else []) + [str(a) for a in argv]
    r = subprocess.run(cmd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(cmd), r.stderr.strip()))
    return r.stdout if capture else r.returncode


class Testbed:
    """The emulated LAN: a bridge namespace, a server, n nodes."""

    def __init__(self, n, rate, slow, work, prefix=PREFIX, racks=0, oversub=1.0, server_rate=None):
        """racks: 0 for one switch, else n nodes in that many racks of
        n / racks, each uplink at (n / racks) * rate / oversub; the
        server's port at server_rate (default: rate)."""
        if racks and n % racks:
            raise ValueError('%d nodes do not split into %d racks' % (n, racks))
        self.n, self.rate, self.slow, self.work = n, rate, slow, work
        self.racks, self.oversub = racks, oversub
        self.server_rate = server_rate or rate
        self.br = prefix + 'br'
        self.server = prefix + 'srv'
        self.nodes = [prefix + 'n%d' % i for i in range(1, n + 1)]
        self.procs = []

    def node_ip(self, i):
        return NET + str(10 + i)

    def node_rate(self, i):
        # the last `slow` nodes run at a quarter of the rate
        return self.rate / 4 if i > self.n - self.slow else self.rate

    def rack_of(self, k):
        """The bridge host k (0: the server) hangs off."""
        if not self.racks:
            return 'br0'
        return 'rk%d' % (0 if k == 0 else (k - 1) // (self.n // self.racks) + 1)

    def uplink_rate(self):
        """A rack's uplink in Mbit/s (None: one switch)."""
        return self.n // self.racks * self.rate / self.oversub if self.racks else None

    def topology(self):
        if not self.racks:
            return 'switch'
        return 'racks:%dx%d:%g' % (self.racks, self.n // self.racks, self.oversub)

    def hosts(self):
        return [(self.server, SERVER_IP, self.server_rate)] + [
            (ns, self.node_ip(i), self.node_rate(i)) for i, ns in enumerate(self.nodes, 1)]

    def up(self):
        sh('ip', 'netns', 'add', self.br)
        for conf in ('all', 'default'):     # the bridge's own neighbour discovery: not the hosts' traffic
            sh('sysctl', '-q', '-w', 'net.ipv6.conf.%s.disable_ipv6=1' % conf, ns=self.br)
        sh('ip', '-n', self.br, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
        sh('ip', '-n', self.br, 'link', 'set', 'br0', 'up')
        for r in range(self.racks + 1 if self.racks else 0):
            rack, down, up = 'rk%d' % r, 'sd%d' % r, 'ru%d' % r
            sh('ip', '-n', self.br, 'link', 'add', rack, 'type', 'bridge', 'mcast_snooping', '0')
            sh('ip', '-n', self.br, 'link', 'add', up, 'type', 'veth', 'peer', 'name', down)
            sh('ip', '-n', self.br, 'link', 'set', up, 'master', rack)
            sh('ip', '-n', self.br, 'link', 'set', down, 'master', 'br0')
            for dev in (rack, up, down):
                sh('ip', '-n', self.br, 'link', 'set', dev, 'up')
            tbf = ['root', 'tbf', 'rate', '%gmbit' % self.uplink_rate(), 'burst', '128kb', 'latency', '50ms']
            sh('tc', 'qdisc', 'replace', 'dev', up, *tbf, ns=self.br)          # rack -> spine
            sh('tc', 'qdisc', 'replace', 'dev', down, *tbf, ns=self.br)        # spine -> rack
        for k, (ns, ip, rate) in enumerate(self.hosts()):
            port = self.port(k)
            sh('ip', 'netns', 'add', ns)
            sh('sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', ns=ns)
            sh('ip', '-n', self.br, 'link', 'add', port, 'netns', self.br, 'type', 'veth',
               'peer', 'name', 'eth0', 'netns', ns)
            sh('ip', '-n', self.br, 'link', 'set', port, 'master', self.rack_of(k))
            sh('ip', '-n', self.br, 'link', 'set', port, 'up')
            sh('ip', '-n', ns, 'addr', 'add', ip + '/24', 'brd', '+', 'dev', 'eth0')
            sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            sh('ip', '-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
            # tbf: the bucket must exceed an offloaded segment (64 KiB + headers)
            tbf = ['root', 'tbf', 'rate', '%gmbit' % rate, 'burst', '128kb', 'latency', '50ms']
            sh('tc', 'qdisc', 'replace', 'dev', 'eth0', *tbf, ns=ns)           # upload
            sh('tc', 'qdisc', 'replace', 'dev', port, *tbf, ns=self.br)        # download
        self.static_neighbours()

    def static_neighbours(self):
        """Every host knows every other's MAC address from the start:
        permanent neighbour entries.  The hosts' learned entries would all
        count in the machine's one table, whose limit
        (net.ipv4.neigh.default.gc_thresh3, 1024 unless set) 33 hosts
        talking to each other already exceed: past it the kernel makes no
        new one ("neighbor table overflow") and a host reaches no peer it
        has no entry for.  Permanent entries are left out of that count
        (N = 64: 4,162 of them under a limit of 1024, and the last host
        reaches the first).  No ARP on the wire either."""
        macs = {}
        for ns, ip, _ in self.hosts():
            link = json.loads(sh('ip', '-j', '-n', ns, 'link', 'show', 'eth0', capture=True))
            macs[ip] = link[0]['address']
        for ns, ip, _ in self.hosts():
            batch = ''.join('neigh replace %s lladdr %s dev eth0 nud permanent\n' % (other, mac)
                            for other, mac in macs.items() if other != ip)
            subprocess.run(['ip', '-n', ns, '-batch', '-'], input=batch, text=True, check=True)

    def down(self):
        self.stop_all()
        for ns in [self.server] + self.nodes + [self.br]:
            subprocess.run(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)

    def spawn(self, ns, argv, out=None, err=None):
        """argv in namespace ns, its own process group; stdout to the file
        out, stderr to err or else with stdout."""
        f = open(out, 'w') if out else subprocess.DEVNULL
        e = open(err, 'w') if err else subprocess.STDOUT if out else subprocess.DEVNULL
        p = subprocess.Popen(['ip', 'netns', 'exec', ns] + [str(a) for a in argv],
                             stdout=f, stderr=e, start_new_session=True)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []

    def port(self, i):
        """The bridge-side end of host i's link (0: the server)."""
        return 'p%d' % i

    def lossy(self, fraction):
        """Drop fraction of the frames entering the bridge from every port,
        at random.  Offloads off first: one dropped frame would otherwise
        be a whole 64 KiB segment."""
        for ns, _, _ in self.hosts():
            sh('ethtool', '-K', 'eth0', 'tso', 'off', 'gso', 'off', ns=ns)
        for k in range(len(self.hosts())):
            sh('iptables-legacy', '-t', 'raw', '-A', 'PREROUTING', '-m', 'physdev', '--physdev-in', self.port(k),
               '-m', 'statistic', '--mode', 'random', '--probability', '%g' % fraction, '-j', 'DROP', ns=self.br)

    def dropped(self):
        """Frames the loss rules dropped, and frames that reached them."""
        out = sh('iptables-legacy', '-t', 'raw', '-L', 'PREROUTING', '-v', '-x', '-n', ns=self.br, capture=True)
        drops = sum(int(line.split()[0]) for line in out.splitlines() if 'DROP' in line and 'statistic' in line)
        seen = sum(self.rx_frames().values())
        return drops, seen

    def rx_frames(self):
        out = {}
        for k in range(len(self.hosts())):
            j = json.loads(sh('ip', '-j', '-s', '-n', self.br, 'link', 'show', 'dev', self.port(k), capture=True))
            out[k] = j[0]['stats64']['rx']['packets']
        return out

    def gateway(self, ip):
        """Give the bridge the address ip and every host a default route
        through it: what a host sends to any address outside the testbed
        then crosses the bridge, where a capture sees it, instead of
        failing in the host for want of a route."""
        sh('ip', '-n', self.br, 'addr', 'add', ip + '/24', 'dev', 'br0')
        for ns, _, _ in self.hosts():
            sh('ip', '-n', ns, 'route', 'add', 'default', 'via', ip)

    def link(self, i, up):
        """Host i's link up or down (0: the server), at the bridge."""
        sh('ip', '-n', self.br, 'link', 'set', self.port(i), 'up' if up else 'down')

    def tx_bytes(self):
        out = {}
        for ns, _, _ in self.hosts():
            j = json.loads(sh('ip', '-j', '-s', '-n', ns, 'link', 'show', 'dev', 'eth0', capture=True))
            out[ns] = j[0]['stats64']['tx']['bytes']
        return out

    def spine_bytes(self):
        """Bytes and frames the spine has sent into each rack of nodes so
        far, {rack: (bytes, frames)} (none on one switch)."""
        out = {}
        for r in range(1, self.racks + 1 if self.racks else 1):
            j = json.loads(sh('ip', '-j', '-s', '-n', self.br, 'link', 'show', 'dev', 'sd%d' % r, capture=True))
            tx = j[0]['stats64']['tx']
            out[r] = (tx['bytes'], tx['packets'])
        return out

    def wait_port(self, ns, ip, port, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if sh('bash', '-c', 'exec 3<>/dev/tcp/%s/%d' % (ip, port), ns=ns, check=False) == 0:
                return
            time.sleep(0.05)
        raise RuntimeError('nothing listens on %s:%d' % (ip, port))


def cpu_times():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]


def bound_seconds(size, tb, images=1):
    """T* for the nodes whose time is taken: all of them, or with slow nodes
    the full-rate ones (the slow nodes still upload): max(S/R_server,
    S/R_node, N*S/sum(U)), and with racks S/U_rack too.  With several
    images of size S each going to as many shares of the nodes at once,
    every rack holding nodes of each: the server and each rack uplink carry
    every image at least once (k*S/R_server, k*S/U_rack), and the nodes
    still receive N*S in all."""
    bits = size * 8
    up = [r * 1e6 for _, _, r in tb.hosts()]      # links are symmetric
    timed = up[1:tb.n - tb.slow + 1]
    bound = max(images * bits / up[0], bits / min(timed), len(timed) * bits / sum(up))
    if tb.racks:
        # every rack takes each image in at least once through its uplink
        bound = max(bound, images * bits / (tb.uplink_rate() * 1e6))
    return bound


def start_tracker(tb, work, *infohashes):
    """opentracker on the server, port 6969, knowing only these torrents."""
    d = os.path.join(work, 'tracker')
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    with open(os.path.join(d, 'whitelist'), 'w') as f:
        f.write(''.join(h + '\n' for h in infohashes))
    p = tb.spawn(tb.server, ['opentracker', '-i', SERVER_IP, '-p', '6969', '-P', '6969', '-d', d,
                             '-w', 'whitelist', '-u', 'nobody'])
    tb.wait_port(tb.server, SERVER_IP, 6969)
    return p


def status_done(path, offsets):
    """True once an ezio-deploy JSON status file reports the image complete;
    offsets remembers how far each file was read."""
    try:
        with open(path, 'rb') as f:
            f.seek(offsets.get(path, 0))
            data = f.read()
    except OSError:
        return False
    # keep the last line's start, it may be incomplete
    cut = data.rfind(b'\n') + 1
    offsets[path] = offsets.get(path, 0) + cut
    return b'"phase":"seed"' in data[:cut] or b'"phase":"done"' in data[:cut]


def wait_exits(procs, timeout):
    """When the last of procs exited (monotonic), or None after timeout s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(p.poll() is not None for p in procs):
            return time.monotonic()
        time.sleep(0.05)
    return None


def remove_stale_namespaces(prefix=PREFIX):
    """Namespaces a killed run left behind."""
    out = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ''
        if name.startswith(prefix):
            subprocess.run(['ip', 'netns', 'del', name], stderr=subprocess.DEVNULL)
