"""A real OpenStack Swift for the Ironic tests: Debian's swift packages,
one-replica rings, account, container and object servers and a proxy with
tempauth, tempurl and SLO (what openstacksdk's uploads ask for), memcached
for tempauth's tokens; everything under one folder and on one address (in
a network namespace, or this one).  Swift logs to syslog only: its lines
come over UDP to a small receiver, so that a test can count what the
proxy served.  tests/integration/test-swift runs the same Swift from bash.
"""

import os
import subprocess
import sys
import time
import urllib.request

ACCOUNT = 'AUTH_test'
USER, KEY = 'test:tester', 'testing'
DEBIAN_PYTHON = '/usr/bin/python3'     # python3-swift is Debian's

SERVER_CONF = """[DEFAULT]
bind_ip = %(host)s
bind_port = %(port)d
workers = 0
user = root
swift_dir = %(dir)s/etc
devices = %(dir)s/srv
mount_check = false
log_name = %(name)s
log_udp_host = %(host)s
log_udp_port = %(log_port)d
"""

PROXY_PIPELINE = """[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache tempurl tempauth slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:tempurl]
use = egg:swift#tempurl
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:cache]
use = egg:swift#memcache
memcache_servers = %(host)s:%(memcache_port)d
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
"""

# Debian's swift-*-server scripts read /etc/swift/swift.conf: this runs the
# same run_wsgi with the swift.conf of etc/ instead
RUN = """import sys
from swift.common import utils
utils.set_swift_dir(sys.argv[1])
from swift.common.wsgi import run_wsgi
sys.exit(run_wsgi(sys.argv[2], sys.argv[3]))
"""

LOG_RECEIVER = """import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
with open(sys.argv[3], 'ab', buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b'\\0\\n') + b'\\n')
"""


class SwiftError(Exception):
    pass


class Swift(object):
    """Swift under folder, its proxy on host:base_port, its other servers,
    memcached and the log receiver on the next five ports; every process
    started through prefix (e.g. ['ip', 'netns', 'exec', NS])."""

    def __init__(self, folder, host, base_port, prefix=()):
        self.dir = os.path.abspath(folder)
        self.host = host
        self.port = base_port
        self.prefix = list(prefix)
        self.procs = []
        self.token = None
        self.temp_url_key = 'ezio-temp-url-key'
        self.url = 'http://%s:%d' % (host, base_port)
        self.storage_url = '%s/v1/%s' % (self.url, ACCOUNT)
        self.log = os.path.join(self.dir, 'log', 'swift.log')

    def _bg(self, argv, log):
        with open(os.path.join(self.dir, 'log', log), 'w') as f:
            p = subprocess.Popen(self.prefix + argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def start(self):
        for d in ('etc', 'srv/d1', 'log'):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        etc = os.path.join(self.dir, 'etc')
        with open(os.path.join(etc, 'swift.conf'), 'w') as f:
            f.write('[swift-hash]\nswift_hash_path_suffix = ezio-%d\n'
                    '[storage-policy:0]\nname = Policy-0\ndefault = yes\n' % os.getpid())
        names = ('proxy', 'account', 'container', 'object')
        ports = dict(zip(names + ('memcache', 'log'), range(self.port, self.port + 6)))
        for name in names[1:]:
            builder = os.path.join(etc, name + '.builder')
            for args in (['create', '4', '1', '0'], ['add', 'r1z1-%s:%d/d1' % (self.host, ports[name]), '100'],
                         ['rebalance']):
                subprocess.run(['swift-ring-builder', builder] + args, check=True, capture_output=True)
        for name in names:
            with open(os.path.join(etc, name + '-server.conf'), 'w') as f:
                f.write(SERVER_CONF % {'host': self.host, 'port': ports[name], 'dir': self.dir,
                                       'name': name + '-server', 'log_port': ports['log']})
                if name == 'proxy':
                    f.write(PROXY_PIPELINE % {'host': self.host, 'memcache_port': ports['memcache']})
                else:
                    f.write('[pipeline:main]\npipeline = %s-server\n[app:%s-server]\nuse = egg:swift#%s\n'
                            % (name, name, name))
        run = os.path.join(self.dir, 'swift-run.py')
        with open(run, 'w') as f:
            f.write(RUN)
        receiver = os.path.join(self.dir, 'log-receiver.py')
        with open(receiver, 'w') as f:
            f.write(LOG_RECEIVER)
        self._bg([DEBIAN_PYTHON, receiver, self.host, str(ports['log']), self.log], 'receiver.err')
        self._bg(['memcached', '-l', self.host, '-p', str(ports['memcache']), '-U', '0', '-u', 'root',
                  '-m', '8', '-t', '1'], 'memcached.log')
        for name in names:
            self._bg([DEBIAN_PYTHON, run, etc, os.path.join(etc, name + '-server.conf'), name + '-server'],
                     name + '.err')
        self._auth()

    def _request(self, method, url, headers=None, data=None):
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.headers

    def _auth(self):
        """A token from /auth/v1.0 (the servers may still be starting), and
        the account's temp URL key."""
        end = time.monotonic() + 30
        while True:
            try:
                headers = self._request('GET', self.url + '/auth/v1.0',
                                        {'X-Storage-User': USER, 'X-Storage-Pass': KEY})
                self.token = headers['X-Auth-Token']
                # the account exists once a container does
                self._request('PUT', self.storage_url + '/ezio-ready', {'X-Auth-Token': self.token})
                self._request('POST', self.storage_url, {'X-Auth-Token': self.token,
                                                         'X-Account-Meta-Temp-URL-Key': self.temp_url_key})
                return
            except OSError as e:
                if time.monotonic() > end:
                    raise SwiftError('Swift did not start: %s\n%s' % (e, self.errors()))
                time.sleep(0.3)

    def errors(self):
        out = []
        for name in ('proxy.err', 'account.err', 'container.err', 'object.err'):
            try:
                with open(os.path.join(self.dir, 'log', name), errors='replace') as f:
                    out.append(name + ': ' + f.read()[-1000:])
            except OSError:
                pass
        return '\n'.join(out)

    def ironic_conf(self):
        """The [swift] section that lets Ironic's SwiftAPI use this Swift
        with the token (keystoneauth's admin_token: no Keystone here)."""
        return ('[swift]\nauth_type = admin_token\ntoken = %s\nendpoint = %s\nendpoint_override = %s\n'
                % (self.token, self.storage_url, self.storage_url))

    def served(self, path):
        """Bytes the proxy sent for GETs of path (with or without a query),
        from its access log lines (the outer proxy-logging's)."""
        total = 0
        try:
            with open(self.log, errors='replace') as f:
                for line in f:
                    fields = line.split()
                    # <134>proxy-server: CLIENT REMOTE TIME METHOD ...
                    if not fields or not fields[0].endswith('proxy-server:') or 'GET' not in fields:
                        continue
                    i = fields.index('GET')
                    # method path protocol status referer agent token recvd sent
                    # etag txid headers time source ...
                    if fields[i + 1].split('%3F')[0].split('?')[0] != path or len(fields) < i + 14:
                        continue
                    if fields[i + 13] != '-':       # a subrequest (its source set), not the client's
                        continue
                    if fields[i + 8].isdigit():
                        total += int(fields[i + 8])
        except FileNotFoundError:
            pass
        return total

    def close(self):
        stop(self.procs)


def stop(procs, grace=10):
    """Terminate procs (Popen objects), the last started first; kill any
    still there after grace seconds."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in reversed(procs):
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


if __name__ == '__main__':
    # python3 swiftstore.py FOLDER: a Swift on 127.0.0.1:28700 until ^C
    s = Swift(sys.argv[1], '127.0.0.1', 28700)
    s.start()
    print(s.ironic_conf())
    try:
        time.sleep(3600)
    finally:
        s.close()
