"""The torrent the conductor makes, serves and seeds (ezio_ironic/publish.py),
against Ironic's own image cache and database and the real ezio-mktorrent
and ezio-deploy of build/.

What an operator relies on: a node that names no torrent gets one made
from the image Ironic cached, once per image however many nodes deploy
it; the torrent describes the image byte for byte and its web seed's
payload file too; the tracker is told to serve it; a seeder serves the
image while deploys of it run and stops when the last one ends, or when
its deploy failed; and a node whose image cannot be had fails with the
reason.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import fixtures
from keystoneauth1 import loading as ks_loading
from oslo_utils import uuidutils

# First of Ironic: its unit-test package picks oslo.service's threading
# backend, which must happen before anything else of Ironic loads.
import ironic.tests.unit  # noqa: F401,I100

from ironic.common import exception
from ironic.common import states
from ironic.common import swift
from ironic.conductor import task_manager

from ezio_ironic import publish
import conftest
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'rig'))
import swiftstore  # noqa: E402
from test_deploy import EzioTestCase, FakeAgent, start_step

MiB = 1024 * 1024
HTTP_URL = 'http://127.0.0.1:23650'
SEEDER_PORTS = (23660, 23669)
SWIFT_PORT = 23670      # and the next five


def make_image(path, data_mib=6):
    """A 32 MiB ext4 file system holding data_mib of random data."""
    src = path + '.d'
    os.makedirs(src)
    with open(os.path.join(src, 'data'), 'wb') as f:
        f.write(os.urandom(data_mib * MiB))
    subprocess.run(['truncate', '-s', '32M', path], check=True)
    subprocess.run(['mkfs.ext4', '-q', '-F', '-d', src, path], check=True, capture_output=True)
    return path


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(MiB), b''):
            h.update(block)
    return h.hexdigest()


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1][0] != 'Z'
    except OSError:
        return False


class PublishTestCase(EzioTestCase):

    # Ironic's tests forbid running programs; these run the real ones
    block_execute = False

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        for d in ('www', 'state', 'images', 'master', 'img-a', 'img-b'):
            os.makedirs(os.path.join(self.tmp, d))
        self.config(state_path=os.path.join(self.tmp, 'state'))
        self.config(http_root=os.path.join(self.tmp, 'www'), http_url=HTTP_URL,
                    group='deploy')
        self.config(images_path=os.path.join(self.tmp, 'images'),
                    instance_master_path=os.path.join(self.tmp, 'master'), group='pxe')
        self.config(file_url_allowed_paths=[self.tmp], group='conductor')
        self.whitelist = os.path.join(self.tmp, 'whitelist')
        self.config(mktorrent_binary=os.path.join(conftest.BIN, 'ezio-mktorrent'),
                    deploy_binary=os.path.join(conftest.BIN, 'ezio-deploy'),
                    seeder_address='127.0.0.1', seeder_ports='%d:%d' % SEEDER_PORTS,
                    tracker_whitelist=self.whitelist, trackers=[], group='ezio')
        self.image_a = make_image(os.path.join(self.tmp, 'img-a', 'disk.img'))
        self.image_b = make_image(os.path.join(self.tmp, 'img-b', 'disk.img'), 3)
        self.addCleanup(self._stop_seeders)

    def _stop_seeders(self):
        for pid, proc in list(publish._seeders.items()):
            proc.kill()
            proc.wait()
            del publish._seeders[pid]

    def deploying(self, image, **kw):
        info = {'ezio_torrent': None, 'image_source': 'file://' + image,
                'image_url': None, 'image_checksum': None,
                'image_os_hash_algo': 'sha256', 'image_os_hash_value': sha256(image),
                'root_gb': 1}
        return self.node(instance_info=info, provision_state=states.DEPLOYING,
                         uuid=uuidutils.generate_uuid(),
                         target_provision_state=states.ACTIVE, **kw)

    def acquire(self, node):
        with task_manager.acquire(self.context, node.uuid) as task:
            got = publish.acquire(task)
        return got['torrent'], got['torrent_sha256']

    def release(self, node):
        with task_manager.acquire(self.context, node.uuid) as task:
            publish.release(task)

    def seeder(self, node):
        node.refresh()
        key = node.driver_internal_info[publish.CLAIM]
        return publish._seeder(os.path.join(self.tmp, 'state', 'ezio', key))

    def torrent_path(self, url):
        self.assertTrue(url.startswith(HTTP_URL + '/ezio/'), url)
        return os.path.join(self.tmp, 'www', url[len(HTTP_URL) + 1:])


class TestPublish(PublishTestCase):

    def test_one_torrent_per_image_and_a_seeder_while_deploys_run(self):
        n1, n2 = self.deploying(self.image_a), self.deploying(self.image_a)
        url, digest = self.acquire(n1)
        torrent = self.torrent_path(url)
        self.assertEqual(sha256(torrent), digest)
        made = os.stat(torrent).st_ino
        # the torrent describes the image, and its web seed the payload file
        for source in (self.image_a, torrent[:-len('.torrent')] + '.payload'):
            r = subprocess.run([os.path.join(conftest.BIN, 'ezio-mktorrent'), '--verify', torrent, source],
                               capture_output=True, text=True)
            self.assertEqual(0, r.returncode, r.stderr)
        plan = subprocess.run([os.path.join(conftest.BIN, 'ezio-deploy'), '--torrent', torrent,
                               '--target', os.path.join(self.tmp, 'plan'), '--dry-run'],
                              capture_output=True, text=True, check=True).stdout
        self.assertIn(publish.info_hash(read(torrent)), plan)
        self.assertIn(publish.info_hash(read(torrent)), read(self.whitelist).decode().split())
        self.assertIn('url-list', read(torrent).decode('latin-1'))
        self.assertIn(url[:-len('.torrent')] + '.payload', read(torrent).decode('latin-1'))

        # a second deploy of the image: the same torrent, the same seeder
        pid, port, _ = self.seeder(n1)
        self.assertEqual((url, digest), self.acquire(n2))
        self.assertEqual(made, os.stat(torrent).st_ino)
        self.assertEqual(pid, self.seeder(n2)[0])
        self.assertTrue(SEEDER_PORTS[0] <= port <= SEEDER_PORTS[1])

        # the seeder serves the image: a receiver gets it byte for byte
        target = os.path.join(self.tmp, 'target')
        r = subprocess.run([os.path.join(conftest.BIN, 'ezio-deploy'), '--torrent', torrent,
                            '--target', target, '--peer', '127.0.0.1:%d' % port,
                            '--listen', '127.0.0.1:23659', '--timeout', '60', '--quiet'],
                           capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual(sha256(self.image_a), sha256(target))

        # the first deploy ends: still seeding for the second; then none
        kdir = os.path.join(self.tmp, 'state', 'ezio', n2.driver_internal_info[publish.CLAIM])
        self.assertTrue(os.path.exists(os.path.join(kdir, 'image')))
        self.release(n1)
        self.assertTrue(alive(pid))
        n1.refresh()
        self.assertNotIn(publish.CLAIM, n1.driver_internal_info)
        self.release(n2)
        self.assertFalse(alive(pid))
        self.assertIsNone(publish._seeder(kdir))
        self.assertFalse(os.path.exists(os.path.join(kdir, 'image')))
        self.assertTrue(os.path.exists(torrent))
        self.release(n2)        # idempotent

    def test_a_changed_image_gets_a_new_torrent(self):
        n1 = self.deploying(self.image_a)
        url1, _ = self.acquire(n1)
        self.release(n1)
        with open(self.image_a, 'r+b') as f:
            f.seek(20 * MiB)
            f.write(os.urandom(MiB))
        n2 = self.deploying(self.image_a)
        url2, _ = self.acquire(n2)
        self.assertNotEqual(url1, url2)
        r = subprocess.run([os.path.join(conftest.BIN, 'ezio-mktorrent'), '--verify', self.torrent_path(url2),
                            self.image_a], capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)

    def test_a_failed_deploy_does_not_keep_its_seeder(self):
        n1, n2 = self.deploying(self.image_a), self.deploying(self.image_b)
        self.acquire(n1)
        pid = self.seeder(n1)[0]
        n1.provision_state = states.DEPLOYFAIL
        n1.save()
        self.acquire(n2)
        self.assertFalse(alive(pid))
        self.assertTrue(alive(self.seeder(n2)[0]))

    def test_no_seeder_when_turned_off(self):
        self.config(conductor_seeder=False, group='ezio')
        n1 = self.deploying(self.image_a)
        url, _ = self.acquire(n1)
        self.assertTrue(os.path.exists(self.torrent_path(url)))
        self.assertIsNone(self.seeder(n1))

    def test_no_web_seed_when_turned_off(self):
        self.config(web_seed='none', group='ezio')
        url, _ = self.acquire(self.deploying(self.image_a))
        torrent = self.torrent_path(url)
        self.assertNotIn(b'url-list', read(torrent))
        self.assertFalse(os.path.exists(torrent[:-len('.torrent')] + '.payload'))


class TestValidateWithoutTorrent(PublishTestCase):

    def validate(self, node):
        with task_manager.acquire(self.context, node.uuid) as task:
            task.driver.deploy.validate(task)

    def test_validates(self):
        self.validate(self.deploying(self.image_a))

    def test_needs_the_http_server(self):
        self.config(http_root=None, group='deploy')
        e = self.assertRaises(exception.MissingParameterValue, self.validate,
                              self.deploying(self.image_a))
        self.assertIn('[deploy]http_root', str(e))

    def test_needs_ezio_mktorrent(self):
        self.config(mktorrent_binary='ezio-mktorrent-not-here', group='ezio')
        e = self.assertRaises(exception.InvalidParameterValue, self.validate,
                              self.deploying(self.image_a))
        self.assertIn('ezio-mktorrent-not-here is not installed on the conductor', str(e))

    def test_needs_a_port_range(self):
        self.config(seeder_ports='6890-6899', group='ezio')
        e = self.assertRaises(exception.InvalidParameterValue, self.validate,
                              self.deploying(self.image_a))
        self.assertIn("[ezio]seeder_ports '6890-6899' is not a port range LOW:HIGH", str(e))


class TestStepWithoutTorrent(PublishTestCase):

    def setUp(self):
        super().setUp()
        self.agent = FakeAgent()
        self.addCleanup(self.agent.stop)

    def test_the_agent_gets_the_published_torrent(self):
        node = start_step(self, self.agent, {'ezio_torrent': None, 'image_source': 'file://' + self.image_a,
                                             'image_checksum': None, 'image_url': None, 'root_gb': 1})
        self.assertEqual(states.DEPLOYWAIT, node.provision_state, node.last_error)
        ezio = self.agent.posted[0]['body']['params']['step']['args']['ezio']
        torrent = self.torrent_path(ezio['torrent'])
        self.assertEqual(sha256(torrent), ezio['torrent_sha256'])
        pid, port, _ = self.seeder(node)
        self.assertTrue(alive(pid))
        # the seeder is a peer of its own: nodes reach it without a tracker
        self.assertEqual(['127.0.0.1:%d' % port], ezio['peers'])

    def test_an_image_that_cannot_be_had_fails_the_deploy(self):
        missing = os.path.join(self.tmp, 'img-a', 'gone.img')
        node = start_step(self, self.agent, {'ezio_torrent': None, 'image_source': 'file://' + missing,
                                             'image_checksum': None, 'image_url': None, 'root_gb': 1})
        self.assertEqual(states.DEPLOYFAIL, node.provision_state)
        self.assertIn('ezio_write_image', node.last_error)
        self.assertIn(missing, node.last_error)
        self.assertEqual([], self.agent.posted)
        self.assertEqual([], os.listdir(os.path.join(self.tmp, 'www')))


class TestSwiftWebSeed(PublishTestCase):
    """web_seed = swift against a real Swift (Debian's, rig/swiftstore.py),
    reached with Ironic's own SwiftAPI and its [swift] credentials."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.store_dir = tempfile.mkdtemp(prefix='ezio-swift.')
        cls.store = swiftstore.Swift(cls.store_dir, '127.0.0.1', SWIFT_PORT)
        try:
            cls.store.start()
        except BaseException:
            cls.store.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.store.close()
        subprocess.run(['rm', '-rf', cls.store_dir])
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        # what keystone.get_auth registers when it loads the plugin
        swift_opts = ks_loading.get_auth_plugin_conf_options('admin_token')
        swift.CONF.register_opts(swift_opts, group='swift')
        self.config(auth_type='admin_token', token=self.store.token, endpoint=self.store.storage_url,
                    endpoint_override=self.store.storage_url, group='swift')
        self.config(web_seed='swift', conductor_seeder=False, group='ezio')
        swift._SWIFT_SESSION = None
        self.addCleanup(setattr, swift, '_SWIFT_SESSION', None)

    def payload_size(self, name):
        req = urllib.request.Request('%s/ezio/%s' % (self.store.storage_url, name), method='HEAD',
                                     headers={'X-Auth-Token': self.store.token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.headers['Content-Length'])

    def test_the_payload_in_swift_is_the_only_origin(self):
        url, _ = self.acquire(self.deploying(self.image_a))
        torrent = self.torrent_path(url)
        name = os.path.basename(torrent)[:-len('.torrent')] + '.payload'
        seed = publish.web_seed_of(read(torrent))
        self.assertTrue(seed.startswith('%s/ezio/%s?temp_url_sig=' % (self.store.storage_url, name)), seed)
        self.assertFalse(os.path.exists(torrent[:-len('.torrent')] + '.payload'))
        # no seeder, no peer: a receiver takes the whole image from Swift
        target = os.path.join(self.tmp, 'target')
        r = subprocess.run([os.path.join(conftest.BIN, 'ezio-deploy'), '--torrent', torrent, '--target', target,
                            '--listen', '127.0.0.1:23659', '--timeout', '60', '--quiet'],
                           capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual(sha256(self.image_a), sha256(target))
        self.assertIn('fetching from the web seed %s/ezio/%s?...' % (self.store.storage_url, name), r.stderr)
        self.assertNotIn('temp_url_sig', r.stderr)
        time.sleep(0.5)         # the proxy's last log line
        self.assertEqual(self.payload_size(name), self.store.served('/v1/%s/ezio/%s' % (swiftstore.ACCOUNT, name)))

    def test_a_temp_url_past_half_its_life_is_renewed(self):
        self.config(swift_temp_url_duration=3600, group='ezio')
        url, digest = self.acquire(self.deploying(self.image_a))
        torrent = self.torrent_path(url)
        before = read(torrent)
        self.assertEqual((url, digest), self.acquire(self.deploying(self.image_a)))   # still young
        self.config(swift_temp_url_duration=4 * 3600, group='ezio')
        url2, digest2 = self.acquire(self.deploying(self.image_a))
        after = read(torrent)
        self.assertEqual(url, url2)
        self.assertNotEqual(publish.web_seed_of(before), publish.web_seed_of(after))
        self.assertEqual(publish.info_hash(before), publish.info_hash(after))
        self.assertEqual(sha256(torrent), digest2)
        r = subprocess.run([os.path.join(conftest.BIN, 'ezio-deploy'), '--torrent', torrent, '--target',
                            os.path.join(self.tmp, 'plan'), '--dry-run'], capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
