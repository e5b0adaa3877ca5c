"""End to end: Ironic's own ``ironic`` process deploys nodes with
``deploy_interface=ezio``; each node's real ``ironic-python-agent`` runs in
its own network namespace, jailed, with a loop device as its disk, and joins
one swarm (rig/rig.py describes the rig).

What is checked is what an operator relies on: every node reaches
``active``; its disk holds the image byte for byte, the configdrive
partition added after it; the image crossed the conductor's port about
once, not once per node; a deploy that cannot work ends in ``deploy
failed`` with a ``last_error`` naming the cause; and the agent never sees
this machine's own disks.
"""

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'rig'))
import rig  # noqa: E402

MiB = rig.MiB
IMAGE_MIB = 64          # the whole-disk image
PART_MIB = 60           # its partition 1, at 1 MiB
DISK_MIB = 136          # a node's disk: the image and a 64 MiB configdrive
NODES = 4
# every port, the conductor's too, shaped as a 100 Mbit/s switch port: a copy
# of the image takes 2.5 s, so that nodes whose agents start a second apart
# still share the work (unshaped, the first one gets it all from the seeder
# in a fraction of a second)
RATE_MBIT = 100
CONFIGDRIVE = {'meta_data': {'uuid': 'ezio-e2e', 'name': 'rack-a', 'hostname': 'rack-a'},
               'user_data': '#cloud-config\n'}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='the rig needs root (namespaces, loop devices)')


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    """One rig for the module: Ironic, nginx, tracker, the image, its
    torrent and a seeder on the conductor's machine."""
    work = tmp_path_factory.mktemp('rig')
    with rig.Rig(str(work), rate_mbit=RATE_MBIT) as r:
        r.image = rig.whole_disk_image(os.path.join(r.www, 'disk.img'), IMAGE_MIB, PART_MIB)
        r.torrent = os.path.join(r.www, 'disk.torrent')
        subprocess.run([os.path.join(rig.BIN, 'ezio-mktorrent'), '-q', r.image, '-o', r.torrent], check=True)
        r.allow(rig.info_hash(r.torrent))
        r.seed(r.torrent, r.image)
        yield r


def instance_info(r, **extra):
    info = {'image_source': r.url('disk.img'), 'image_os_hash_algo': 'sha256',
            'image_os_hash_value': rig.sha256_file(r.image), 'image_disk_format': 'raw',
            'ezio_torrent': r.url('disk.torrent')}
    info.update(extra)
    return info


def assert_holds_the_image(bench, node):
    """The node is active, its disk holds the whole-disk image (partition 1)
    and the configdrive (config-2, partition 2), and its agent ran ezio."""
    image_part = rig.sha256_file(bench.image, PART_MIB * MiB, MiB)
    assert rig.sha256_file(node.disk, PART_MIB * MiB, MiB) == image_part, node.name
    parts = rig.gpt_partitions(node.disk)
    assert parts[0][:2] == (2048, 2048 + PART_MIB * 2048 - 1)
    assert len(parts) == 2 and parts[1][0] > parts[0][1]
    label = subprocess.run(['blkid', '-o', 'value', '-s', 'LABEL', node.disk + 'p2'], capture_output=True,
                           text=True).stdout.strip()
    assert label == 'config-2'
    meta = subprocess.run(['isoinfo', '-R', '-i', node.disk + 'p2', '-x', '/openstack/latest/meta_data.json'],
                          capture_output=True, text=True, check=True).stdout
    assert json.loads(meta)['uuid'] == 'ezio-e2e'
    with open(node.agent_log) as f:
        log = f.read()
    assert 'ezio-deploy download:' in log and 'ezio-deploy done:' in log
    n = bench.get(node)
    assert n['provision_state'] == 'active' and n['last_error'] is None


def published(bench):
    """The files the conductor has published under www/ezio."""
    folder = os.path.join(bench.www, 'ezio')
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def last_used_torrent(bench):
    """The torrent the conductor published or reused last (it touches it
    at every deploy)."""
    folder = os.path.join(bench.www, 'ezio')
    return max((f for f in published(bench) if f.endswith('.torrent')),
               key=lambda f: os.stat(os.path.join(folder, f)).st_mtime)


def test_agent_jail_hides_this_machines_disks(bench):
    """Before any agent runs: in its jail, the only block device is its own
    loop disk (the agent's hardware managers pick it), this machine's disks
    are empty files, power commands are stand-ins and no link goes down."""
    node, = bench.add_nodes(1, 8)
    r = node.run_jailed([sys.executable, os.path.join(rig.HERE, 'probe.py')])
    assert r.returncode == 0, r.stderr
    assert 'block devices covered' in r.stdout
    seen = json.loads(r.stdout.splitlines()[-1])
    disk = os.path.basename(node.disk)
    assert seen['block_devices'] == [disk]
    host_disks = [n for n in os.listdir('/sys/class/block') if not n.startswith('loop')]
    assert host_disks, 'this machine shows no disk to hide'
    assert set(host_disks) <= set(seen['covered'])
    assert seen['install_device'] == node.disk
    assert seen['poweroff'].endswith('/bin/poweroff') and seen['poweroff'].startswith(node.dir)
    assert 'poweroff -f' in seen['power_log']
    assert seen['link_down_rc'] != 0 and seen['link_up']
    assert seen['sysrq'] in ('covered', 'absent') and seen['drop_caches'] == 'covered'


def test_agent_jail_refuses_outside_a_pid_namespace(bench, tmp_path):
    r = subprocess.run([os.path.join(rig.HERE, 'agent-jail'), '/dev/loop0', str(tmp_path), '--', 'true'],
                       capture_output=True, text=True)
    assert r.returncode == 97
    assert 'not PID 1' in r.stderr


def test_whole_disk_image_with_configdrive(bench):
    """NODES nodes deployed at once reach active; each disk holds the image
    and a config-2 partition; nginx served no image, the seeder about one
    copy."""
    nodes = bench.add_nodes(NODES, DISK_MIB)
    for node in nodes:
        bench.patch(node, instance_info=instance_info(bench))
        assert bench.validate(node)['deploy']['result'] is True
    seeded = bench.seeder_uploaded()
    image_served = bench.http_served('/disk.img')
    results = bench.deploy(nodes, timeout=300, configdrive=CONFIGDRIVE)
    for node in nodes:
        state, seconds, error = results[node.name]
        assert (state, error) == ('active', None), '%s\n%s' % (error, node.log_tail())
    payload = rig.payload_bytes(bench.torrent)
    # the swarm, not the conductor, carried the image
    assert bench.http_served('/disk.img') == image_served
    assert bench.seeder_uploaded() - seeded < 2 * payload
    for node in nodes:
        assert_holds_the_image(bench, node)
    bench.undeploy(nodes)


def test_partition_image(bench):
    """Two nodes with a partition image, one booting BIOS and one UEFI: the
    agent lays out the disk as write_image does (root, configdrive, and the
    EFI system partition for UEFI), ezio writes the root partition, and
    Ironic records the file system's UUID as the root UUID it boots."""
    image, fs_uuid = rig.partition_image(os.path.join(bench.www, 'root.img'), 48, 20)
    torrent = os.path.join(bench.www, 'root.torrent')
    subprocess.run([os.path.join(rig.BIN, 'ezio-mktorrent'), '-q', image, '-o', torrent], check=True)
    bench.allow(rig.info_hash(torrent))
    bench.seed(torrent, image)
    # root 1 GiB, the EFI system partition 550 MiB, the configdrive 64 MiB
    nodes = bench.add_nodes(2, 2048)
    modes = dict(zip([n.name for n in nodes], ('bios', 'uefi')))
    for node in nodes:
        bench.patch(node, instance_info=instance_info(
            bench, image_source=bench.url('root.img'), image_os_hash_value=rig.sha256_file(image),
            image_type='partition', root_gb=1, ezio_torrent=bench.url('root.torrent'),
            deploy_boot_mode=modes[node.name]))
        assert bench.validate(node)['deploy']['result'] is True
    results = bench.deploy(nodes, timeout=300, configdrive=CONFIGDRIVE)
    want = rig.sha256_file(image)
    for node in nodes:
        state, _, error = results[node.name]
        assert (state, error) == ('active', None), '%s\n%s' % (error, node.log_tail())
        assert bench.get(node)['driver_internal_info']['root_uuid_or_disk_id'] == fs_uuid
        parts = {}
        for dev in sorted(p for p in os.listdir('/dev') if p.startswith(os.path.basename(node.disk) + 'p')):
            out = subprocess.run(['blkid', '-p', '-o', 'export', '/dev/' + dev], capture_output=True,
                                 text=True).stdout
            parts['/dev/' + dev] = dict(line.split('=', 1) for line in out.splitlines() if '=' in line)
        root = [d for d, tags in parts.items() if tags.get('UUID') == fs_uuid]
        assert len(root) == 1, parts
        assert rig.sha256_file(root[0], os.path.getsize(image)) == want
        assert [d for d, tags in parts.items() if tags.get('LABEL') == 'config-2'], parts
        efi = [d for d, tags in parts.items() if tags.get('LABEL') == 'efi-part' and tags.get('TYPE') == 'vfat']
        assert len(efi) == (1 if modes[node.name] == 'uefi' else 0), parts
    bench.undeploy(nodes)


def test_conductor_makes_serves_and_seeds_the_torrent(bench):
    """Nodes that name no torrent: the conductor caches the image (one
    download), makes its torrent, serves it and seeds it while they deploy;
    every node reaches active with the image; the web seed stays unused
    while a seeder is there; the seeder stops when the last node is done."""
    nodes = bench.add_nodes(NODES, DISK_MIB)
    info = instance_info(bench)
    del info['ezio_torrent']
    for node in nodes:
        bench.patch(node, instance_info=info)
        assert bench.validate(node)['deploy']['result'] is True
    image_served = bench.http_served('/disk.img')
    results = bench.deploy(nodes, timeout=300, configdrive=CONFIGDRIVE)
    for node in nodes:
        state, seconds, error = results[node.name]
        assert (state, error) == ('active', None), '%s\n%s' % (error, node.log_tail())
        assert_holds_the_image(bench, node)
    made = [f for f in published(bench) if f.endswith('.torrent')]
    assert len(made) == 1, made
    payload = made[0][:-len('.torrent')] + '.payload'
    # the conductor fetched the image once; the nodes took it from the swarm
    assert bench.http_served('/disk.img') - image_served == os.path.getsize(bench.image)
    assert bench.http_served('/ezio/' + payload) == 0
    assert bench.http_served('/ezio/' + made[0]) > 0
    assert rig.info_hash(os.path.join(bench.www, 'ezio', made[0])) in open(bench.whitelist).read().split()
    assert bench.conductor_seeders() == []
    bench.undeploy(nodes)


def test_validate_names_what_is_missing(bench):
    """Neither a torrent nor an image to make one from: validate says so,
    and the deploy is refused."""
    node, = bench.add_nodes(1, 8)
    info = instance_info(bench)
    del info['ezio_torrent']
    del info['image_source']
    bench.patch(node, instance_info=info)
    deploy = bench.validate(node)['deploy']
    assert deploy['result'] is False
    assert 'image_source' in deploy['reason']
    with pytest.raises(rig.RigError, match='image_source'):
        bench.provision(node, 'active')
    assert bench.get(node)['provision_state'] == 'available'


@pytest.fixture
def full_tmpfs(tmp_path):
    """A folder on an 8 MiB tmpfs: a disk file there fails its writes once
    8 MiB are used (unmounted lazily: a loop device may still hold it)."""
    path = tmp_path / 'full'
    path.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=8m', 'ezir-full', str(path)], check=True)
    yield str(path)
    subprocess.run(['umount', '-l', str(path)], check=False)


def test_failures_end_in_deploy_failed_with_the_cause(bench, full_tmpfs):
    """Four nodes, each failing another way, deployed at once: each ends in
    deploy failed, its last_error naming the exit code and the cause."""
    small, = bench.add_nodes(1, IMAGE_MIB // 2)                   # smaller than the image
    missing, lonely = bench.add_nodes(2, DISK_MIB)                 # no torrent; no swarm
    broken, = bench.add_nodes(1, DISK_MIB, disk_dir=full_tmpfs)    # writes fail after 8 MiB
    bench.patch(small, instance_info=instance_info(bench))
    bench.patch(missing, instance_info=instance_info(bench, ezio_torrent=bench.url('nothing.torrent')))
    bench.patch(lonely, instance_info=instance_info(
        bench, ezio_trackers='http://%s:1/announce' % rig.CONDUCTOR_IP, ezio_deploy_timeout=10))
    bench.patch(broken, instance_info=instance_info(bench))
    results = bench.deploy([small, missing, lonely, broken], timeout=300)
    expect = {
        small.name: ('exit 4 (EZ_EXIT_TARGET)', 'the image needs'),
        missing.name: ('exit 3 (EZ_EXIT_TORRENT)', '404'),
        lonely.name: ('exit 5 (EZ_EXIT_SWARM)', 'timeout'),
    }
    got = {name: results[name][::2] for name in list(expect) + [broken.name]}
    for name, (code, cause) in expect.items():
        state, error = got[name]
        assert state == 'deploy failed', got
        assert 'ezio-deploy failed, %s' % code in (error or ''), got
        assert cause in error, got
    # the failing disk: exit 6 where the kernel reports the failed
    # write-back to ezio's flush, 7 where only the read-back finds the
    # bytes missing (tests/integration/test-errors); never active
    state, error = got[broken.name]
    assert state == 'deploy failed', got
    assert ('ezio-deploy failed, exit 6 (EZ_EXIT_IO)' in error and 'cannot write' in error) or \
        ('ezio-deploy failed, exit 7 (EZ_EXIT_VERIFY)' in error and 'reads back different' in error), got


def test_web_seed_as_the_only_origin(bench):
    """No seeder at all ([ezio]conductor_seeder = false): the nodes find no
    peer holding the pieces, turn to the torrent's web seed (the payload
    file the conductor serves), split it between them and reach active.
    Last in this module: it restarts Ironic with that setting."""
    bench.restart_ironic('[ezio]\nconductor_seeder = false\n')
    nodes = bench.add_nodes(2, DISK_MIB)
    info = instance_info(bench)
    del info['ezio_torrent']
    for node in nodes:
        bench.patch(node, instance_info=info)
    results = bench.deploy(nodes, timeout=300, configdrive=CONFIGDRIVE)
    for node in nodes:
        state, seconds, error = results[node.name]
        assert (state, error) == ('active', None), '%s\n%s' % (error, node.log_tail())
        assert_holds_the_image(bench, node)
    assert bench.conductor_seeders() == []
    made = last_used_torrent(bench)
    payload = made[:-len('.torrent')] + '.payload'
    size = os.path.getsize(os.path.join(bench.www, 'ezio', payload))
    web = bench.http_served('/ezio/' + payload)
    print('web seed served %d bytes, %.2f copies of the payload' % (web, web / size))
    assert size <= web < 2 * size
    for node in nodes:
        with open(node.agent_log) as f:
            assert 'fetching from the web seed http://%s:%d/ezio/%s' % (rig.CONDUCTOR_IP, rig.HTTP_PORT, payload) \
                in f.read()


def test_swift_as_the_only_origin(bench):
    """[ezio]web_seed = swift and no seeder: the conductor uploads the
    payload to a real Swift beside it (Ironic's SwiftAPI, its [swift]
    credentials) and names a temporary URL in the torrent; two nodes take
    the image from Swift and each other, and nothing from nginx."""
    store = bench.start_swift()
    bench.restart_ironic('[ezio]\nconductor_seeder = false\nweb_seed = swift\n' + store.ironic_conf())
    nodes = bench.add_nodes(2, DISK_MIB)
    info = instance_info(bench)
    del info['ezio_torrent']
    for node in nodes:
        bench.patch(node, instance_info=info)
    nginx_payloads = bench.http_served('/ezio/', '.payload')
    before = published(bench)
    results = bench.deploy(nodes, timeout=300, configdrive=CONFIGDRIVE)
    for node in nodes:
        state, seconds, error = results[node.name]
        assert (state, error) == ('active', None), '%s\n%s' % (error, node.log_tail())
        assert_holds_the_image(bench, node)
    made = last_used_torrent(bench)
    assert made not in before           # web_seed is part of the image's key
    key = made[:-len('.torrent')]
    assert not os.path.exists(os.path.join(bench.www, 'ezio', key + '.payload'))
    seed = 'http://%s:%d/v1/AUTH_test/ezio/%s.payload' % (rig.CONDUCTOR_IP, rig.SWIFT_PORT, key)
    for node in nodes:
        with open(node.agent_log) as f:
            log = f.read()
        assert 'fetching from the web seed %s?...' % seed in log
        assert 'temp_url_sig' not in log
    payload = rig.payload_bytes(os.path.join(bench.www, 'ezio', made))
    from_swift = store.served('/v1/AUTH_test/ezio/%s.payload' % key)
    print('Swift served %d bytes, %.2f copies of the payload' % (from_swift, from_swift / payload))
    assert payload <= from_swift < 2 * payload
    # the conductor's HTTP server served the torrent, no payload
    assert bench.http_served('/ezio/' + made) > 0
    assert bench.http_served('/ezio/', '.payload') == nginx_payloads
