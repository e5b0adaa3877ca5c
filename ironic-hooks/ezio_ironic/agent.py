"""The agent side: an Ironic Python Agent hardware manager whose deploy
step ``ezio_write_image`` writes the instance image with ezio-deploy.

The conductor's deploy interface ``ezio`` proxies its out-of-band step of
the same name to this one, with the swarm's settings as the argument
``ezio`` (see :func:`ezio_write_image`).  The step finds the install device
as the agent's own ``write_image`` does, writes a node.yaml (mode 0600; a
token goes into a file of its own), runs ezio-deploy as an argument list,
logs its JSON status as it comes and turns every failure into a
``DeploymentError`` naming the cause.  Then it leaves the disk as the
agent's standby extension leaves it after writing a whole-disk image: the
partition table read again and checked, the configdrive partition made.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

# the agent's options first: disk_utils reads them as it is imported
from ironic_python_agent import config as _ipa_config  # noqa: F401
from ironic_python_agent import disk_utils
from ironic_python_agent import errors
from ironic_python_agent.extensions import base as ext_base
from ironic_python_agent import hardware
from ironic_python_agent import partition_utils
from ironic_python_agent import utils
from oslo_concurrency import processutils
from oslo_log import log
import yaml

from ezio_ironic import conf
from ezio_ironic import contract

LOG = log.getLogger(__name__)
CONF = conf.CONF

STEP = 'ezio_write_image'

ARGSINFO = {
    'ezio': {
        'description': 'The swarm: torrent (URL, required), torrent_sha256, '
                       'trackers, peers, allow, rack or rack_prefix, '
                       'seed_after, seed_timeout, timeout, verify, token.',
        'required': True,
    },
    'configdrive': {
        'description': 'The config drive, as for write_image: a URL or its '
                       'gzipped, base64-encoded contents.',
        'required': False,
    },
    'partition': {
        'description': 'For a partition image, the layout of the disk: '
                       'root_mb, swap_mb, ephemeral_mb, ephemeral_format, '
                       'preserve_ephemeral, boot_mode, disk_label.',
        'required': False,
    },
}

# The keys of the "ezio" argument and the node.yaml key each becomes.
_KEYS = {
    'torrent': 'torrent',
    'torrent_sha256': 'torrent_sha256',
    'trackers': 'trackers',
    'peers': 'peers',
    'allow': 'allow',
    'rack': 'rack',
    'rack_prefix': 'rack_prefix',
    'seed_after': 'seed_after',
    'seed_timeout': 'seed_timeout',
    'timeout': 'timeout',
    'verify': 'verify',
}

# Seconds between two status lines written to the log while a phase goes on.
LOG_EVERY = 10
# lines of ezio-deploy's stderr logged after a deploy that succeeded
STDERR_NOTES = 20


def deploy_binary():
    """The ezio-deploy program to run, or None when there is none.

    :returns: its path.
    """
    return shutil.which(CONF.ezio.deploy_binary)


def write_node_yaml(settings, target, work_dir):
    """Write the node.yaml of one deploy, and the token file if any.

    :param settings: the step's ``ezio`` argument (a dict).
    :param target: the device to write to.
    :param work_dir: a directory for the files (created mode 0700).
    :returns: the path of the node.yaml.
    :raises: DeploymentError when the settings lack the torrent or hold a
        key this step does not know.
    """
    if not isinstance(settings, dict) or not settings.get('torrent'):
        raise errors.DeploymentError('%s: the "ezio" argument names no torrent' % STEP)
    unknown = sorted(set(settings) - set(_KEYS) - {'token'})
    if unknown:
        raise errors.DeploymentError('%s: unknown keys in the "ezio" argument: %s'
                                     % (STEP, ', '.join(unknown)))
    os.makedirs(work_dir, mode=0o700, exist_ok=True)
    os.chmod(work_dir, 0o700)
    node = {'target': target, 'listen': CONF.ezio.listen}
    for key, yaml_key in _KEYS.items():
        value = settings.get(key)
        if value is None or value == []:
            continue
        node[yaml_key] = str(value) if key == 'seed_after' else value
    if settings.get('token'):
        token_file = os.path.join(work_dir, 'token')
        _write_private(token_file, settings['token'] + '\n')
        node['http'] = {'token_file': token_file}
    path = os.path.join(work_dir, 'node.yaml')
    _write_private(path, yaml.safe_dump(node, default_flow_style=False))
    return path


def _write_private(path, text):
    """Write text to path, readable by its owner alone, replacing it."""
    if os.path.exists(path):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(text)


def run_ezio_deploy(binary, node_yaml, node_uuid=None):
    """Run ezio-deploy on node_yaml until it exits, logging its status.

    :param binary: the ezio-deploy program.
    :param node_yaml: its configuration.
    :param node_uuid: the node, for the log.
    :returns: the last status (a dict) of a deploy that succeeded.
    :raises: DeploymentError naming the exit code, what it means and
        ezio-deploy's own message, when it fails.
    """
    argv = [binary, '--config', node_yaml, '--status', 'json']
    LOG.info('Node %s: running %s', node_uuid, ' '.join(argv))
    last, phase, logged = None, None, 0.0
    # stderr into a file, not a pipe: nobody reads a pipe while stdout is
    # read, and a full one (EZIO_DEBUG) would stop ezio-deploy
    with tempfile.TemporaryFile(mode='w+', encoding='utf-8') as err_file, \
            subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err_file,
                             stdin=subprocess.DEVNULL, text=True, close_fds=True) as proc:
        for line in proc.stdout:
            try:
                status = contract.parse_status(line)
            except ValueError as e:
                LOG.warning('Node %s: %s', node_uuid, e)
                continue
            if status is None:
                continue
            last = status
            now = time.monotonic()
            if status['phase'] != phase or now - logged >= LOG_EVERY:
                LOG.info('Node %s: ezio-deploy %s: %d of %d bytes, %d peers, %.1f s',
                         node_uuid, status['phase'], status['bytes_done'], status['bytes_total'],
                         status['peers'], status['elapsed'])
                if status.get('message') and status['phase'] != 'error':
                    LOG.warning('Node %s: ezio-deploy: %s', node_uuid, status['message'])
                phase, logged = status['phase'], now
        code = proc.wait()
        err_file.seek(0)
        stderr = err_file.read()
    if code == 0:
        # what it noted on the way (a web seed it turned to, say)
        for note in stderr.strip().splitlines()[-STDERR_NOTES:]:
            LOG.info('Node %s: %s', node_uuid, note)
        return last
    # the status says why; where there is none (a bad option or node.yaml
    # stops it before the first report) its one line on stderr does
    raise _failed(code, stderr, (last or {}).get('message'))


def _failed(code, stderr, why=None):
    """The DeploymentError of an ezio-deploy that exited with code: why, or
    else the last line of its stderr."""
    if not why:
        lines = stderr.strip().splitlines()
        why = lines[-1] if lines else 'no message'
    return errors.DeploymentError('ezio-deploy failed, %s: %s' % (contract.describe_exit(code), why))


def finish_whole_disk(node_uuid, device, configdrive=None):
    """Leave a disk holding a whole-disk image as the agent's standby
    extension leaves it: its partition table read again and checked, the
    configdrive partition made, and the disk's identifier recorded as the
    root UUID where the standby extension keeps it (the conductor's
    prepare_instance_boot asks for it with standby.get_partition_uuids).

    :raises: DeploymentError when the disk holds no partition table.
    """
    disk_utils.partprobe(device)
    try:
        parts = disk_utils.list_partitions(device)
    except Exception as e:
        raise errors.DeploymentError('No valid partition table on %s after writing the image: %s'
                                     % (device, e))
    if not parts:
        raise errors.DeploymentError('No partitions found on the device %s after writing the image'
                                     % device)
    if configdrive is not None:
        partition_utils.create_config_drive_partition(node_uuid, device, configdrive)
    uuids = {}
    try:
        uuids['root uuid'] = disk_utils.get_disk_identifier(device)
    except OSError as e:
        LOG.warning('Node %s: no disk identifier for %s (is hexdump missing?): %s', node_uuid, device, e)
    ext_base.get_extension('standby').partition_uuids = uuids


_PLAN_IMAGE_RE = re.compile(r'^\s*image: (\w+), .*?, (\d+) bytes, info hash ', re.M)


def check_partition_plan(binary, settings, layout, work_dir):
    """Before the disk of a partition image is touched: the dry run of the
    deploy (torrent fetched and checked, settings, swarm) onto a file that
    is not created, and the image against the root partition it will get.

    :param settings: the step's ``ezio`` argument.
    :param layout: its ``partition`` argument.
    :returns: root_mb, checked.
    :raises: DeploymentError naming the cause: ezio-deploy's refusal (exit
        code and message), a bad root_mb, a whole-disk image, or an image
        larger than the root partition.
    """
    root_mb = layout.get('root_mb') if isinstance(layout, dict) else None
    if isinstance(root_mb, bool) or not isinstance(root_mb, (int, str)) or not str(root_mb).isdigit() \
            or int(root_mb) == 0:
        raise errors.DeploymentError('%s: the "partition" argument has no root_mb (MiB, a positive integer): %r'
                                     % (STEP, root_mb))
    root_mb = int(root_mb)
    node_yaml = write_node_yaml(settings, os.path.join(work_dir, 'plan.img'), work_dir)
    r = subprocess.run([binary, '--config', node_yaml, '--dry-run'], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise _failed(r.returncode, r.stderr)
    m = _PLAN_IMAGE_RE.search(r.stdout)
    if not m:
        raise errors.DeploymentError('%s: ezio-deploy --dry-run printed no image line:\n%s' % (STEP, r.stdout))
    kind, size = m.group(1), int(m.group(2))
    if kind != 'partition':
        raise errors.DeploymentError('%s: %s is a %s image, and the node is deployed with a partition image '
                                     '(instance_info image_type): nothing was written'
                                     % (STEP, settings['torrent'], kind))
    if size > root_mb * 1024 * 1024:
        raise errors.DeploymentError('%s: the image needs %d bytes, the root partition would hold %d MiB '
                                     '(instance_info root_gb): nothing was written' % (STEP, size, root_mb))
    return root_mb


def lay_out_partitions(node_uuid, device, layout, configdrive=None):
    """Partition the disk for a partition image, as the agent's standby
    extension does before it writes one (``work_on_disk`` with no image):
    root, swap, ephemeral, configdrive and, for UEFI, the EFI system
    partition, each made and formatted; the root one is left to ezio.

    :param layout: the step's ``partition`` argument.
    :returns: what ``work_on_disk`` returns: ``partitions`` (kind -> device)
        and the UUIDs.
    :raises: DeploymentError when the disk cannot be partitioned.
    """
    cpu_arch = hardware.dispatch_to_managers('get_cpus').architecture
    try:
        return partition_utils.work_on_disk(
            device, int(layout['root_mb']), int(layout.get('swap_mb') or 0),
            int(layout.get('ephemeral_mb') or 0), layout.get('ephemeral_format'), None, node_uuid,
            preserve_ephemeral=bool(layout.get('preserve_ephemeral')), configdrive=configdrive,
            boot_mode=layout.get('boot_mode') or 'bios', disk_label=layout.get('disk_label'),
            cpu_arch=cpu_arch or '')
    except processutils.ProcessExecutionError as e:
        raise errors.DeploymentError('Cannot partition %s for the image: %s' % (device, e))


def finish_partition(layout):
    """Record the partitions of a written partition image where the
    standby extension keeps them, the root UUID now that of the file
    system ezio wrote (``prepare_instance_boot`` installs the boot loader
    on it).

    :param layout: what :func:`lay_out_partitions` returned.
    :raises: DeploymentError when the root partition holds no file system.
    """
    root = layout['partitions']['root']
    # probed from the partition itself: what lsblk reports may come from a
    # udev database that has not seen the new file system yet
    try:
        uuid = utils.execute('blkid', '-p', '-o', 'value', '-s', 'UUID', root)[0].strip()
    except processutils.ProcessExecutionError:
        uuid = None
    if not uuid:
        raise errors.DeploymentError('No file system with a UUID on %s after writing the image' % root)
    uuids = dict(layout)
    uuids['root uuid'] = uuid
    ext_base.get_extension('standby').partition_uuids = uuids
    return uuid


class EzioHardwareManager(hardware.HardwareManager):
    """Deploys the instance image through an ezio swarm."""

    HARDWARE_MANAGER_NAME = 'EzioHardwareManager'
    HARDWARE_MANAGER_VERSION = '1'

    def evaluate_hardware_support(self):
        """Service provider where ezio-deploy is installed, none elsewhere."""
        if deploy_binary():
            return hardware.HardwareSupport.SERVICE_PROVIDER
        LOG.warning('%s is not installed: the ezio deploy step is not offered', CONF.ezio.deploy_binary)
        return hardware.HardwareSupport.NONE

    def get_deploy_steps(self, node, ports):
        """The ``ezio_write_image`` step.

        Its priority is 0: the conductor's step of the same name (priority
        80) runs it, as ``write_image`` is run.
        """
        return [{
            'step': STEP,
            'priority': 0,
            'interface': 'deploy',
            'reboot_requested': False,
            'argsinfo': ARGSINFO,
        }]

    def ezio_write_image(self, node, ports, ezio, configdrive=None, partition=None):
        """Write the image from its swarm onto the install device, or for a
        partition image onto the root partition made for it.

        :param node: the node, as a dict.
        :param ports: its ports.
        :param ezio: the swarm's settings (``ARGSINFO``).
        :param configdrive: the config drive, as for ``write_image``.
        :param partition: for a partition image, the disk's layout.
        :returns: a sentence saying what was written where.
        :raises: DeploymentError naming the cause of a failure.
        """
        binary = deploy_binary()
        if not binary:
            raise errors.DeploymentError('%s: %s is not installed in the ramdisk'
                                         % (STEP, CONF.ezio.deploy_binary))
        device = hardware.dispatch_to_managers('get_os_install_device', permit_refresh=True)
        node_uuid = node.get('uuid')
        work_dir = os.path.join(CONF.ezio.work_dir, node_uuid or 'node')
        layout = None
        target = device
        try:
            if partition is not None:
                # nothing touches the disk before the plan holds
                check_partition_plan(binary, ezio, partition, work_dir)
                layout = lay_out_partitions(node_uuid, device, partition, configdrive)
                target = layout['partitions']['root']
            node_yaml = write_node_yaml(ezio, target, work_dir)
            status = run_ezio_deploy(binary, node_yaml, node_uuid)
        finally:
            token = os.path.join(work_dir, 'token')
            if os.path.exists(token):
                os.unlink(token)
        if layout is None:
            finish_whole_disk(node_uuid, device, configdrive)
        else:
            finish_partition(layout)
        msg = ('image %s written to device %s by ezio-deploy in %.1f s'
               % (ezio['torrent'], target, (status or {}).get('elapsed', 0.0)))
        LOG.info('Node %s: %s', node_uuid, msg)
        return msg
