"""The agent's deploy step, with the real agent code and the real
ezio-deploy: the hardware manager as the agent loads it, its step, the
node.yaml it writes, a whole-disk image written from a seeder onto a loop
device and left as the standby extension leaves it, and each way
ezio-deploy fails turned into a DeploymentError that names the cause.

The agent's install-device discovery is the one thing replaced: run here it
would pick this machine's own disk.  The end-to-end tests run the whole
agent, contained, with a loop device as its only disk."""

import hashlib
import os
import stat
import subprocess
from importlib import metadata

# the agent's options first, as the agent itself loads them
from ironic_python_agent import config as _ipa_config  # noqa: F401
from ironic_python_agent import errors
from ironic_python_agent.extensions import base as ext_base
from ironic_python_agent import hardware
import pytest
import yaml

from ezio_ironic import agent
from ezio_ironic import conf

MiB = 1024 * 1024


@pytest.fixture
def ezio_conf(tmp_path):
    """[ezio] work_dir in the test's folder; every override undone after."""
    conf.CONF.set_override('work_dir', str(tmp_path / 'run'), group='ezio')
    conf.CONF.set_override('listen', '127.0.0.9:23790', group='ezio')
    yield conf.CONF
    conf.CONF.clear_override('work_dir', group='ezio')
    conf.CONF.clear_override('listen', group='ezio')
    conf.CONF.clear_override('deploy_binary', group='ezio')


@pytest.fixture
def install_device(monkeypatch):
    """install_device(dev): the agent's get_os_install_device answers dev."""
    def use(dev):
        real = hardware.dispatch_to_managers

        def dispatch(method, *args, **kwargs):
            if method == 'get_os_install_device':
                return dev
            return real(method, *args, **kwargs)
        monkeypatch.setattr(hardware, 'dispatch_to_managers', dispatch)
    return use


def make_disk_image(ezio_bin, tmp_path, size_mib=24, part_mib=8):
    """A GPT disk image of size_mib (partition 1: part_mib MiB of data at
    1 MiB, its first MiB and more random) and its torrent: (image, torrent)."""
    img = tmp_path / 'disk.img'
    with open(img, 'wb') as f:
        f.truncate(size_mib * MiB)
    subprocess.run(['sgdisk', '-n', '1:2048:+%dM' % part_mib, '-t', '1:8300', str(img)], check=True,
                   capture_output=True)
    with open(img, 'r+b') as f:
        f.seek(MiB)
        f.write(hashlib.sha256(b'x').digest() * (part_mib * MiB // 32))
        f.seek(MiB + 4096)
        f.write(os.urandom(max(1, part_mib - 4) * MiB))
    torrent = tmp_path / 'disk.torrent'
    subprocess.run([os.path.join(ezio_bin, 'ezio-mktorrent'), '-q', str(img), '-o', str(torrent)], check=True)
    return img, torrent


@pytest.fixture
def disk_image(ezio_bin, tmp_path):
    """A 24 MiB GPT disk image with 8 MiB of data, and its torrent."""
    return make_disk_image(ezio_bin, tmp_path)


def manager():
    """The manager, loaded from its entry point as the agent's stevedore does."""
    eps = [e for e in metadata.entry_points(group='ironic_python_agent.hardware_managers') if e.name == 'ezio']
    assert len(eps) == 1
    return eps[0].load()()


def test_entry_point_and_support(ezio_bin, ezio_conf):
    m = manager()
    assert isinstance(m, agent.EzioHardwareManager)
    assert isinstance(m, hardware.HardwareManager)
    assert m.evaluate_hardware_support() == hardware.HardwareSupport.SERVICE_PROVIDER
    ezio_conf.set_override('deploy_binary', '/nonexistent/ezio-deploy', group='ezio')
    assert m.evaluate_hardware_support() == hardware.HardwareSupport.NONE


def test_deploy_step(ezio_conf):
    steps = manager().get_deploy_steps({}, [])
    assert steps == [{'step': 'ezio_write_image', 'priority': 0, 'interface': 'deploy',
                      'reboot_requested': False, 'argsinfo': agent.ARGSINFO}]
    assert agent.ARGSINFO['ezio']['required'] is True


def test_node_yaml(ezio_bin, ezio_conf, tmp_path):
    work = tmp_path / 'w'
    path = agent.write_node_yaml({'torrent': 'http://198.51.100.1/x.torrent', 'torrent_sha256': 'ab' * 32,
                                  'trackers': ['http://198.51.100.1:6969/announce'], 'peers': [],
                                  'allow': ['198.51.100.0/24', 'fd00::/8'], 'seed_after': 30, 'seed_timeout': 60, 'timeout': 600, 'verify': 'full',
                                  'token': 's3cr3t'}, '/dev/sdz', str(work))
    assert stat.S_IMODE(os.stat(work).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    node = yaml.safe_load(open(path))
    assert node == {'target': '/dev/sdz', 'listen': '127.0.0.9:23790', 'torrent': 'http://198.51.100.1/x.torrent',
                    'torrent_sha256': 'ab' * 32, 'trackers': ['http://198.51.100.1:6969/announce'],
                    'allow': ['198.51.100.0/24', 'fd00::/8'], 'seed_after': '30', 'seed_timeout': 60, 'timeout': 600, 'verify': 'full',
                    'http': {'token_file': str(work / 'token')}}
    assert 's3cr3t' not in open(path).read()
    assert open(work / 'token').read() == 's3cr3t\n'
    assert stat.S_IMODE(os.stat(work / 'token').st_mode) == 0o600
    # the real ezio-deploy reads it: refused only for the torrent, which is not there
    out = subprocess.run([os.path.join(ezio_bin, 'ezio-deploy'), '--config', path, '--dry-run'],
                         capture_output=True, text=True)
    assert out.returncode == 3, out.stderr


@pytest.mark.parametrize('rack', [{'rack': 'tor-12.row3'}, {'rack_prefix': 24}], ids=['rack', 'rack_prefix'])
def test_node_yaml_rack(ezio_bin, ezio_conf, tmp_path, rack):
    path = agent.write_node_yaml(dict({'torrent': 'http://198.51.100.1/x.torrent'}, **rack), '/dev/sdz',
                                 str(tmp_path))
    node = yaml.safe_load(open(path))
    assert {k: node[k] for k in rack} == rack
    # the real ezio-deploy takes the key: refused only for the torrent, which is not there
    out = subprocess.run([os.path.join(ezio_bin, 'ezio-deploy'), '--config', path, '--dry-run'],
                         capture_output=True, text=True)
    assert out.returncode == 3, out.stderr


@pytest.mark.parametrize('settings,why', [
    ({}, 'names no torrent'),
    (None, 'names no torrent'),
    ({'torrent': 'http://h/x', 'tracker': 'x'}, 'unknown keys in the "ezio" argument: tracker'),
])
def test_node_yaml_refused(ezio_conf, tmp_path, settings, why):
    with pytest.raises(errors.DeploymentError, match=why):
        agent.write_node_yaml(settings, '/dev/sdz', str(tmp_path))


@pytest.mark.parametrize('debug', [False, True], ids=['quiet', 'EZIO_DEBUG'])
def test_write_image(ezio_bin, ezio_conf, seeder, loopdev, install_device, tmp_path, caplog, monkeypatch, debug):
    """A whole-disk image from a seeder onto a loop device, byte for byte;
    also with EZIO_DEBUG, whose trace on stderr (about 130 KB for 96 MiB,
    twice what a pipe holds) must not stall it."""
    if debug:
        monkeypatch.setenv('EZIO_DEBUG', '1')
    size = 128 if debug else 24
    img, torrent = make_disk_image(ezio_bin, tmp_path, size, 96 if debug else 8)
    peer = seeder(str(torrent), str(img))
    disk = tmp_path / 'target'
    with open(disk, 'wb') as f:
        f.truncate((size + 8) * MiB)
    dev = loopdev(str(disk))
    install_device(dev)
    caplog.set_level('INFO')
    ext_base.init_ext_manager(None)     # the agent's extensions, standby among them
    msg = manager().ezio_write_image({'uuid': 'node-1'}, [], {'torrent': str(torrent), 'peers': [peer],
                                                              'timeout': 60, 'seed_after': 'none',
                                                              'token': 'tok'})
    assert msg.startswith('image %s written to device %s by ezio-deploy in ' % (torrent, dev))
    with open(img, 'rb') as a, open(dev, 'rb') as b:
        assert a.read() == b.read(size * MiB)
    # the partition table is the kernel's too, the standby extension has
    # the disk's identifier as root UUID (the MBR's at 440, 0 for GPT's
    # protective MBR), and the token is gone
    assert os.path.exists(dev + 'p1')
    with open(img, 'rb') as f:
        f.seek(440)
        assert ext_base.get_extension('standby').partition_uuids == {
            'root uuid': '0x%08x' % int.from_bytes(f.read(4), 'little')}
    assert not os.path.exists(os.path.join(ezio_conf.ezio.work_dir, 'node-1', 'token'))
    phases = [r.getMessage().split('ezio-deploy ')[1].split(':')[0] for r in caplog.records
              if 'ezio-deploy ' in r.getMessage() and ' bytes, ' in r.getMessage()]
    assert phases[-1] == 'done' and 'download' in phases and 'verify' in phases


def _write_fails(ezio_conf, install_device, dev, settings):
    install_device(dev)
    with pytest.raises(errors.DeploymentError) as e:
        manager().ezio_write_image({'uuid': 'node-2'}, [], settings)
    return str(e.value)


def test_missing_torrent_is_exit_3(ezio_bin, ezio_conf, install_device, tmp_path):
    disk = tmp_path / 'disk'
    disk.write_bytes(b'\0' * MiB)
    why = _write_fails(ezio_conf, install_device, str(disk), {'torrent': str(tmp_path / 'absent.torrent')})
    assert 'ezio-deploy failed, exit 3 (EZ_EXIT_TORRENT): ' in why
    assert "cannot open '%s'" % (tmp_path / 'absent.torrent') in why


def test_small_disk_is_exit_4(ezio_bin, ezio_conf, disk_image, loopdev, install_device, tmp_path):
    _, torrent = disk_image
    disk = tmp_path / 'small'
    with open(disk, 'wb') as f:
        f.truncate(8 * MiB)
    dev = loopdev(str(disk))
    why = _write_fails(ezio_conf, install_device, dev, {'torrent': str(torrent)})
    assert 'exit 4 (EZ_EXIT_TARGET): ' in why
    assert dev in why
    with open(dev, 'rb') as f:
        assert f.read() == b'\0' * 8 * MiB     # nothing written


def test_bad_setting_is_exit_2(ezio_bin, ezio_conf, disk_image, install_device, tmp_path):
    _, torrent = disk_image
    why = _write_fails(ezio_conf, install_device, str(tmp_path / 't'), {'torrent': str(torrent),
                                                                        'seed_after': 'sometimes'})
    assert 'exit 2 (EZ_EXIT_USAGE): ' in why
    assert 'seed_after' in why


def test_no_swarm_is_exit_5(ezio_bin, ezio_conf, disk_image, install_device, tmp_path):
    _, torrent = disk_image
    why = _write_fails(ezio_conf, install_device, str(tmp_path / 't'), {'torrent': str(torrent), 'timeout': 1})
    assert 'exit 5 (EZ_EXIT_SWARM): ' in why
    assert 'timed out before the image was complete' in why


LAYOUT = {'root_mb': 64, 'swap_mb': 0, 'ephemeral_mb': 0, 'ephemeral_format': None,
          'preserve_ephemeral': False, 'boot_mode': 'bios', 'disk_label': 'gpt'}


@pytest.mark.parametrize('case', ['torrent_missing', 'whole_disk_image', 'root_too_small', 'root_mb_word',
                                  'root_mb_none'])
def test_partition_plan_refused_before_the_disk_is_touched(case, ezio_bin, ezio_conf, disk_image, loopdev,
                                                          install_device, tmp_path):
    """A partition image's deploy is checked (ezio-deploy --dry-run, the
    image against root_mb) before the disk is partitioned: each refusal
    names its cause, the disk keeps every byte and the token file is gone."""
    img, torrent = disk_image
    if case in ('root_too_small', 'root_mb_word', 'root_mb_none'):
        fs = tmp_path / 'root.img'
        with open(fs, 'wb') as f:
            f.truncate(24 * MiB)
        subprocess.run(['mkfs.ext4', '-q', '-F', str(fs)], check=True)
        torrent = tmp_path / 'root.torrent'
        subprocess.run([os.path.join(ezio_bin, 'ezio-mktorrent'), '-q', str(fs), '-o', str(torrent)], check=True)
    settings = {'torrent': str(torrent), 'token': 'tok'}
    layout = dict(LAYOUT)
    if case == 'torrent_missing':
        settings['torrent'] = str(tmp_path / 'absent.torrent')
    elif case == 'root_too_small':
        layout['root_mb'] = 16
    elif case == 'root_mb_word':
        layout['root_mb'] = 'lots'
    elif case == 'root_mb_none':
        del layout['root_mb']
    disk = tmp_path / 'disk'
    with open(disk, 'wb') as f:
        f.write(b'\xe7' * MiB)
        f.truncate(128 * MiB)
    dev = loopdev(str(disk))
    install_device(dev)
    with pytest.raises(errors.DeploymentError) as e:
        manager().ezio_write_image({'uuid': 'node-3'}, [], settings, partition=layout)
    why = str(e.value)
    expect = {
        'torrent_missing': "cannot open '%s'" % settings['torrent'],
        'whole_disk_image': 'is a disk image, and the node is deployed with a partition image',
        'root_too_small': 'the image needs 25165824 bytes, the root partition would hold 16 MiB',
        'root_mb_word': "has no root_mb (MiB, a positive integer): 'lots'",
        'root_mb_none': 'has no root_mb (MiB, a positive integer): None',
    }[case]
    assert expect in why
    if case == 'torrent_missing':
        assert 'ezio-deploy failed, exit 3 (EZ_EXIT_TORRENT): ' in why
    with open(dev, 'rb') as f:
        assert f.read(MiB) == b'\xe7' * MiB and f.read() == b'\0' * 127 * MiB
    assert not os.path.exists(os.path.join(ezio_conf.ezio.work_dir, 'node-3', 'token'))


def test_no_binary(ezio_conf, install_device, tmp_path):
    ezio_conf.set_override('deploy_binary', '/nonexistent/ezio-deploy', group='ezio')
    why = _write_fails(ezio_conf, install_device, str(tmp_path / 't'), {'torrent': 'http://h/x'})
    assert 'ezio_write_image: /nonexistent/ezio-deploy is not installed in the ramdisk' in why
