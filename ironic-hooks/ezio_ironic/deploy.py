"""The ``ezio`` deploy interface: the conductor side of an ezio deploy.

It is Ironic's ``direct`` deploy (``AgentDeploy``) with one change: the
image is written by the agent deploy step ``ezio_write_image`` (the ezio
hardware manager in the ramdisk, which runs ``ezio-deploy`` and joins the
swarm) instead of the agent's ``write_image`` (one HTTP download per node).
The conductor step of the same name, at the priority ``write_image`` has
(80), gathers the swarm settings and hands them to the agent exactly the way
``AgentDeploy.write_image`` hands over its ``image_info``: through
``agent_base.execute_step``, after which the node waits in ``wait call-back``
and every heartbeat polls the agent's command status; a failed command puts
the node in ``deploy failed`` with the agent's error in ``last_error``.

Why ``AgentDeploy`` and not ``CustomAgentDeploy``: the later steps of
``AgentDeploy`` are what make a written image boot.  Its
``prepare_instance_boot`` asks the agent for the partition UUIDs
(``standby.get_partition_uuids``), installs the boot loader of a partition
image and registers a UEFI whole-disk image, then sets the boot device with
the node's boot mode; ``CustomAgentDeploy`` only calls the boot interface,
so a partition image would be left without a boot loader.  Its ``prepare``
also fills ``instance_info['image_url']`` and, with
``image_download_source=local``, caches the image as raw: the cache a
conductor-made torrent starts from (publish.py).  The price: ``write_image`` is kept only as a step
of priority 0 (a deploy template can still ask for it), and the agent step
must leave the partition UUIDs where the standby extension keeps them.

The settings come from ``[ezio]`` in ironic.conf; ``instance_info`` may
name the torrent and override a few of them per node::

    ezio_torrent          URL of the .torrent (http, https or file); when
                          unset, the conductor makes the torrent from its
                          cached copy of the image, serves and seeds it
                          (publish.py)
    ezio_torrent_sha256   SHA-256 of the .torrent file (64 hex digits)
    ezio_torrent_token    sent as X-Auth-Token when fetching the .torrent
    ezio_trackers         announce URLs (a list or a comma-separated string)
    ezio_peers            HOST:PORT peers (a list or a comma-separated string)
    ezio_allow            the addresses peers may come from (CIDRs, a list or
                          a comma-separated string)
    ezio_seed_after       none, until-done or a number of seconds
    ezio_seed_timeout     seconds
    ezio_deploy_timeout   seconds
    ezio_verify           data, full or none
    ezio_rack             the node's rack (also in driver_info; else the
                          switch its ports are cabled to, see rack_args)

Both timeouts are bounded: with 60 s for the rest of the step, they must
fit in ``[conductor]deploy_callback_timeout`` (0, "never", only where that
timeout is off), or the conductor would give up on a node still working.
"""

import ipaddress
import re
from urllib import parse as urlparse

from oslo_log import log

from ironic.common import exception
from ironic.conductor import configdrive_utils
from ironic.conductor import task_manager
from ironic.drivers import base
from ironic.drivers.modules import agent
from ironic.drivers.modules import agent_base
from ironic.drivers.modules import agent_client
from ironic.drivers.modules import boot_mode_utils
from ironic.drivers.modules import deploy_utils

from ezio_ironic import conf
from ezio_ironic import publish

CONF = conf.CONF
LOG = log.getLogger(__name__)

# The name of the conductor step and of the agent step it hands over to.
STEP = 'ezio_write_image'

# What ezio-deploy accepts (lib/fetch.c, lib/config.c).
TORRENT_SCHEMES = ('http', 'https', 'file')
TRACKER_SCHEMES = ('http', 'https', 'udp')
VERIFY_MODES = ('data', 'full', 'none')
SEED_AFTER_WORDS = ('none', 'until-done')
MAX_SECONDS = 10 * 365 * 24 * 3600

_SHA256_RE = re.compile(r'^[0-9a-fA-F]{64}$')
# A rack name ezio-deploy takes (lib/config.c, ez_config_check_rack).
_RACK_RE = re.compile(r'^[A-Za-z0-9._:/@-]{1,64}$')


def _invalid(node, what, value, why):
    return exception.InvalidParameterValue(
        'Node %(node)s cannot be deployed with ezio: '
        '%(what)s %(value)r %(why)s'
        % {'node': node.uuid, 'what': what, 'value': value, 'why': why})


def _setting(node, key, option):
    """A setting: ``instance_info['ezio_<key>']`` if set, else the option.

    :returns: (value, name) where name says where the value came from, for
        messages (``instance_info['ezio_verify']`` or ``[ezio]verify``).
    """
    name = 'ezio_%s' % key
    value = node.instance_info.get(name)
    if value is None or value == '':
        return getattr(CONF.ezio, option), '[ezio]%s' % option
    return value, "instance_info['%s']" % name


def _as_list(value):
    if isinstance(value, str):
        return [v.strip() for v in value.split(',') if v.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _is_digits(value):
    return value.isascii() and value.isdigit()


def _seconds(node, value, what):
    """A non-negative number of seconds, as an int."""
    if isinstance(value, bool):
        raise _invalid(node, what, value, 'is not a number of seconds')
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and _is_digits(value):
        seconds = int(value)
    else:
        raise _invalid(node, what, value, 'is not a number of seconds')
    if seconds < 0 or seconds > MAX_SECONDS:
        raise _invalid(node, what, value,
                       'is out of range (0 to %d seconds)' % MAX_SECONDS)
    return seconds


def torrent_url(node):
    """The URL of the torrent the node names, checked.

    :param node: an Ironic node object.
    :returns: the URL (str), or None when ``instance_info['ezio_torrent']``
        is not set: the conductor then makes the torrent (publish.py).
    :raises: InvalidParameterValue if the URL is not one ezio-deploy fetches.
    """
    url = node.instance_info.get('ezio_torrent')
    if url is None or url == '':
        return None
    if not isinstance(url, str):
        raise _invalid(node, "instance_info['ezio_torrent']", url,
                       'is not a URL')
    parts = urlparse.urlparse(url)
    if parts.scheme.lower() not in TORRENT_SCHEMES:
        raise _invalid(node, "instance_info['ezio_torrent']", url,
                       'is not an http://, https:// or file:// URL')
    if parts.scheme.lower() != 'file' and not parts.netloc:
        raise _invalid(node, "instance_info['ezio_torrent']", url,
                       'names no host')
    if not parts.path:
        raise _invalid(node, "instance_info['ezio_torrent']", url,
                       'names no file')
    return url


def torrent_sha256(node):
    """The expected SHA-256 of the torrent file, if the node names one.

    :returns: 64 lower-case hex digits, or None.
    :raises: InvalidParameterValue if it is not 64 hex digits.
    """
    value = node.instance_info.get('ezio_torrent_sha256')
    if value is None or value == '':
        return None
    if not isinstance(value, str) or not _SHA256_RE.match(value):
        raise _invalid(node, "instance_info['ezio_torrent_sha256']", value,
                       'is not a SHA-256 (64 hexadecimal digits)')
    return value.lower()


def seed_after(node):
    """How long the node seeds once written: 'none', 'until-done' or seconds.

    :returns: the string ezio-deploy's seed_after takes.
    :raises: InvalidParameterValue for any other value.
    """
    value, name = _setting(node, 'seed_after', 'seed_after')
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or (value not in SEED_AFTER_WORDS
                                      and not _is_digits(value)):
        raise _invalid(node, name, value,
                       'is not "none", "until-done" or a number of seconds')
    if _is_digits(value):
        value = str(_seconds(node, value, name))
    return value


def _urls(node, key, option, schemes):
    value, name = _setting(node, key, option)
    urls = _as_list(value)
    if urls is None:
        raise _invalid(node, name, value, 'is not a list of URLs')
    for url in urls:
        if (not isinstance(url, str)
                or urlparse.urlparse(url).scheme.lower() not in schemes
                or not urlparse.urlparse(url).netloc):
            raise _invalid(node, name, url, 'is not an %s URL'
                           % ', '.join('%s://' % s for s in schemes))
    return urls


def _checked_list(node, key, valid, each, all_of):
    """A list setting (``ezio_<key>`` or ``[ezio]<key>``) whose every item
    valid() accepts; each and all_of say what an item and the list must be."""
    value, name = _setting(node, key, key)
    items = _as_list(value)
    if items is None:
        raise _invalid(node, name, value, 'is not a list of %s' % all_of)
    for item in items:
        if not valid(item):
            raise _invalid(node, name, item, 'is not %s' % each)
    return items


def _is_hostport(peer):
    host, sep, port = peer.rpartition(':') if isinstance(peer, str) else ('', '', '')
    return bool(sep and host and _is_digits(port) and 0 < int(port) < 65536)


def _is_network(cidr):
    try:
        ipaddress.ip_network(cidr, strict=False)
    except (TypeError, ValueError):
        return False
    return True


def _peers(node):
    return _checked_list(node, 'peers', _is_hostport, 'HOST:PORT', 'HOST:PORT')


def _allow(node):
    return _checked_list(node, 'allow', _is_network, 'an address or ADDRESS/PREFIX',
                         'addresses or CIDRs')


def _verify(node):
    value, name = _setting(node, 'verify', 'verify')
    if value not in VERIFY_MODES:
        raise _invalid(node, name, value, 'is not one of data, full, none')
    return value


def _token(node):
    value = node.instance_info.get('ezio_torrent_token')
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        raise _invalid(node, "instance_info['ezio_torrent_token']", '...',
                       'is not a string')
    return value


def swarm_args(node):
    """The swarm settings of the agent step's ``ezio`` argument: all but
    the torrent.

    :param node: an Ironic node object.
    :returns: a dict with the keys trackers, peers, allow, seed_after,
        seed_timeout, timeout, verify and token.
    :raises: InvalidParameterValue, with a message that names the
        offending setting.
    """
    seed_timeout, seed_timeout_name = _setting(node, 'seed_timeout',
                                               'seed_timeout')
    timeout, timeout_name = _setting(node, 'deploy_timeout', 'deploy_timeout')
    args = {
        'trackers': _urls(node, 'trackers', 'trackers', TRACKER_SCHEMES),
        'peers': _peers(node),
        'allow': _allow(node),
        'seed_after': seed_after(node),
        'seed_timeout': _seconds(node, seed_timeout, seed_timeout_name),
        'timeout': _seconds(node, timeout, timeout_name),
        'verify': _verify(node),
        'token': _token(node),
    }
    _check_bounded(node, args, timeout_name, seed_timeout_name)
    return args


def rack_args(task):
    """The node's rack, for the agent step: ``instance_info['ezio_rack']``,
    else ``driver_info['ezio_rack']``, else with ``[ezio]rack_prefix`` the
    prefix (each node's address decides), else with ``[ezio]rack_from =
    switch`` the switch its ports are cabled to (``switch_info``, else
    ``switch_id``, of a port's ``local_link_connection``, as the Networking
    service and inspection record it; characters ezio-deploy does not take
    in a rack name become ``-``).

    :param task: a TaskManager instance.
    :returns: a dict with ``rack`` or ``rack_prefix``, or an empty dict when
        the node's rack is not known.
    :raises: InvalidParameterValue if a rack named for the node is not one
        ezio-deploy takes.
    """
    node = task.node
    for where, info in (('instance_info', node.instance_info),
                        ('driver_info', node.driver_info)):
        value = info.get('ezio_rack')
        if value is None or value == '':
            continue
        if not isinstance(value, str) or not _RACK_RE.match(value):
            raise _invalid(node, "%s['ezio_rack']" % where, value,
                           'is not a rack name (1 to 64 letters, digits and '
                           '. _ - : / @)')
        return {'rack': value}
    if CONF.ezio.rack_prefix:
        return {'rack_prefix': CONF.ezio.rack_prefix}
    if CONF.ezio.rack_from == 'switch':
        for port in sorted(task.ports, key=lambda p: (not p.pxe_enabled, p.address or '')):
            link = port.local_link_connection or {}
            switch = link.get('switch_info') or link.get('switch_id')
            if switch and isinstance(switch, str):
                return {'rack': re.sub(r'[^A-Za-z0-9._:/@-]', '-', switch)[:64]}
    return {}


def ezio_args(node, published=None):
    """The ``ezio`` argument of the agent step ``ezio_write_image``.

    Every value is checked here, so that ``validate`` and the step agree.

    :param node: an Ironic node object.
    :param published: for a node that names no torrent, what
        ``publish.acquire`` returned: the torrent the conductor made
        (torrent, torrent_sha256) and its seeder (peers).
    :returns: the dict of :func:`swarm_args` with torrent and
        torrent_sha256 added.
    :raises: MissingParameterValue if the node names no torrent and none
        was published; InvalidParameterValue as :func:`swarm_args`.
    """
    args = swarm_args(node)
    if published is None:
        args.update(torrent=torrent_url(node), torrent_sha256=torrent_sha256(node))
        if args['torrent'] is None:
            raise exception.MissingParameterValue(
                "Node %s names no instance_info['ezio_torrent'] and the "
                "conductor made none" % node.uuid)
    else:
        args.update(torrent=published['torrent'],
                    torrent_sha256=published['torrent_sha256'])
        args['peers'] += [p for p in published['peers'] if p not in args['peers']]
    return args


# Seconds the step needs besides the download and the seeding: fetching the
# torrent, the partition table and configdrive, the heartbeat that reports.
STEP_MARGIN = 60


def _check_bounded(node, args, timeout_name, seed_timeout_name):
    """The step must end, failed or done, before the conductor stops
    waiting for it: the download and the seeding are bounded, and together
    (with STEP_MARGIN) shorter than [conductor]deploy_callback_timeout.

    :raises: InvalidParameterValue naming both settings and the timeout.
    """
    callback = CONF.conductor.deploy_callback_timeout
    if not callback:
        return
    if args['timeout'] == 0 or args['seed_timeout'] == 0:
        name = timeout_name if args['timeout'] == 0 else seed_timeout_name
        raise _invalid(node, name, 0,
                       'is "never", but [conductor]deploy_callback_timeout '
                       'is %d s: the conductor would fail the deploy while '
                       'the node still works on it; give it a number of '
                       'seconds' % callback)
    total = args['timeout'] + args['seed_timeout'] + STEP_MARGIN
    if total > callback:
        raise _invalid(node, '%s + %s' % (timeout_name, seed_timeout_name),
                       args['timeout'] + args['seed_timeout'],
                       'leaves less than %d s of [conductor]'
                       'deploy_callback_timeout (%d s): the conductor would '
                       'fail the deploy before ezio-deploy gives up; lower '
                       'them or raise the callback timeout'
                       % (STEP_MARGIN, callback))


# What the agent needs to lay out the disk of a partition image, as the
# stock write_image hands it over (instance_info, filled in by prepare).
PARTITION_KEYS = ('root_mb', 'swap_mb', 'ephemeral_mb', 'ephemeral_format',
                  'preserve_ephemeral')


def partition_args(node):
    """The ``partition`` argument of the agent step: the layout of the disk
    a partition image goes onto, or None for a whole-disk image.

    :param node: an Ironic node object (after ``prepare``).
    :returns: a dict with root_mb, swap_mb, ephemeral_mb, ephemeral_format,
        preserve_ephemeral, boot_mode and disk_label; or None.
    """
    if node.driver_internal_info.get('is_whole_disk_image'):
        return None
    args = {key: node.instance_info.get(key) for key in PARTITION_KEYS}
    args['boot_mode'] = boot_mode_utils.get_boot_mode(node)
    args['disk_label'] = deploy_utils.get_disk_label(node)
    return args


class EzioDeploy(agent.AgentDeploy):
    """Ironic's ``direct`` deploy with the image written through a swarm."""

    def validate(self, task):
        """Check that the node's image can be deployed through ezio.

        What ``direct`` checks (boot interface, image_source and its
        checksum, capabilities, root device hints), then the ezio settings.

        :param task: a TaskManager instance.
        :raises: MissingParameterValue if no torrent is named.
        :raises: InvalidParameterValue if a setting has a value ezio-deploy
            refuses.
        """
        super().validate(task)
        if not task.driver.storage.should_write_image(task):
            return
        if torrent_url(task.node) is None:
            publish.check(task.node)
        else:
            torrent_sha256(task.node)
        swarm_args(task.node)
        rack_args(task)

    @base.deploy_step(priority=0)
    @task_manager.require_exclusive_lock
    def write_image(self, task):
        """The stock HTTP write, off by default (priority 0).

        ``ezio_write_image`` writes the image; a deploy template may still
        ask for this step to deploy one node the stock way.

        :param task: a TaskManager instance.
        :returns: states.DEPLOYWAIT.
        """
        return super().write_image(task)

    @base.deploy_step(priority=80)
    @task_manager.require_exclusive_lock
    def ezio_write_image(self, task):
        """Have the agent write the image through the swarm.

        Hands over to the agent step of the same name and returns at once;
        the result comes back through the heartbeats, as for
        ``write_image``.

        :param task: a TaskManager instance.
        :raises: InstanceDeployFailure if the settings are wrong or the agent
            does not take the command (the node goes to deploy failed).
        :returns: states.DEPLOYWAIT, or None when no image is to be written
            (boot from volume).
        """
        if not task.driver.storage.should_write_image(task):
            return None
        node = task.node
        try:
            published = None
            if torrent_url(node) is None:
                published = publish.acquire(task)
            ezio = ezio_args(node, published)
            ezio.update(rack_args(task))
        except exception.IronicException as e:
            agent_base.log_and_raise_deployment_error(task, str(e), exc=e)
        LOG.info('Deploying node %s through the swarm of %s',
                 node.uuid, ezio['torrent'])
        step = {'interface': 'deploy',
                'step': STEP,
                'args': {'ezio': ezio,
                         'configdrive':
                             configdrive_utils.get_configdrive_image(node)}}
        partition = partition_args(node)
        if partition is not None:
            step['args']['partition'] = partition
        client = agent_client.get_client(task)
        return agent_base.execute_step(task, step, 'deploy', client=client)

    @base.deploy_step(priority=70)
    @task_manager.require_exclusive_lock
    def ezio_release_image(self, task):
        """The image is written: the node no longer needs the conductor's
        seeder of it (stopped when no other node deploys the image).

        :param task: a TaskManager instance.
        """
        publish.release(task)

    @task_manager.require_exclusive_lock
    def clean_up(self, task):
        """Release the node's claim on the conductor's seeder (a deploy
        that failed or was torn down), then clean up as ``direct`` does.

        :param task: a TaskManager instance.
        """
        publish.release(task)
        super().clean_up(task)
