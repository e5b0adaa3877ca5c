"""The conductor side of ezio against Ironic's own machinery.

Nodes live in Ironic's test database (sqlite, through its DbTestCase), the
interfaces come from Ironic's driver factory through our entry points, and
the deploy runs through Ironic's conductor code (``set_node_deployment_steps``,
``do_next_deploy_step``, the agent heartbeat).  The only thing not real is
the agent: a small HTTP server on 127.0.0.1 answers Ironic's agent client
(``POST/GET /v1/commands/``) the way IPA does and records what it was sent.
"""

import http.server
import json
import threading

import fixtures

# First of Ironic: its unit-test package picks oslo.service's threading
# backend, which must happen before anything else of Ironic loads.
import ironic.tests.unit  # noqa: F401,I100

from ironic.common import driver_factory
from ironic.common import exception
from ironic.common import states
from ironic.conductor import deployments
from ironic.conductor import steps as conductor_steps
from ironic.conductor import task_manager
from ironic.tests.unit.db import base as db_base
from ironic.tests.unit.objects import utils as obj_utils

from ezio_ironic import conf as ezio_conf  # noqa: F401  (registers [ezio])
from ezio_ironic import deploy as ezio_deploy
from ezio_ironic import hardware_types

TORRENT = 'http://conductor.example:8080/images/focal.raw.torrent'
SHA256 = 'ab' * 32
IMAGE = {
    'image_source': 'http://conductor.example:8080/images/focal.raw',
    'image_checksum': 'd41d8cd98f00b204e9800998ecf8427e',
    'image_url': 'http://conductor.example:8080/images/focal.raw',
    'image_disk_format': 'raw',
}
DRIVER_INFO = {
    'deploy_kernel': 'http://conductor.example:8080/ipa.kernel',
    'deploy_ramdisk': 'http://conductor.example:8080/ipa.initramfs',
}


class FakeAgent(object):
    """An HTTP server speaking the agent's command API, on 127.0.0.1.

    ``posted`` holds the JSON bodies of the commands it was sent;
    ``commands`` is what it answers to a status request: every command
    it was sent, as IPA lists them (a test may rewrite it).  A deploy step
    is answered RUNNING (the agent runs it in the background); any other
    command SUCCEEDED, with ``results[command name]`` as its result.
    """

    def __init__(self):
        self.posted = []
        self.commands = []
        self.results = {}
        agent = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, body):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                n = int(self.headers.get('Content-Length', 0))
                body = json.loads(self.rfile.read(n))
                agent.posted.append({'path': self.path, 'body': body})
                running = body['name'] == 'deploy.execute_deploy_step'
                command = {'id': 'c%d' % len(agent.posted),
                           'command_name': body['name'].split('.')[-1],
                           'command_params': body['params'],
                           'command_status':
                               'RUNNING' if running else 'SUCCEEDED',
                           'command_error': None,
                           'command_result': agent.results.get(body['name'])}
                agent.commands.append(command)
                self._answer(command)

            def do_GET(self):
                self._answer({'commands': agent.commands})

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class EzioTestCase(db_base.DbTestCase):

    def _clear_attrs(self):
        # Ironic's base deletes every public attribute after a test, among
        # them the one pytest's unittest runner removes itself.
        pass

    def setUp(self):
        super().setUp()
        for var in ('HTTP_PROXY', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY',
                    'all_proxy'):
            self.useFixture(fixtures.EnvironmentVariable(var))
        self.config(enabled_hardware_types=['fake-hardware', 'ipmi',
                                            'ezio-ipmi', 'redfish',
                                            'ezio-redfish'])
        self.config(enabled_deploy_interfaces=['fake', 'direct', 'ezio'])
        self.config(enabled_power_interfaces=['fake', 'ipmitool', 'redfish'])
        self.config(enabled_management_interfaces=['fake', 'noop', 'ipmitool',
                                                   'redfish'])
        self.config(enabled_boot_interfaces=['fake', 'pxe',
                                             'redfish-virtual-media'])
        self.config(deploy_logs_collect='never', group='agent')
        self.config(trackers=['http://tracker.example:6969/announce'],
                    group='ezio')

    def node(self, driver='fake-hardware', instance_info=None, **kw):
        info = dict(IMAGE, ezio_torrent=TORRENT)
        info.update(instance_info or {})
        info = {k: v for k, v in info.items() if v is not None}
        fields = dict(driver=driver, deploy_interface='ezio',
                      boot_interface='fake', power_interface='fake',
                      management_interface='noop', network_interface='noop',
                      storage_interface='noop', instance_info=info,
                      driver_info=DRIVER_INFO)
        fields.update(kw)
        return obj_utils.create_test_node(self.context, **fields)


class TestDriverFactory(EzioTestCase):

    def _accepts(self, driver, deploy_interface='ezio', **kw):
        node = obj_utils.get_test_node(self.context, driver=driver,
                                       deploy_interface=deploy_interface, **kw)
        # what the API does when a node is created or its interfaces set
        driver_factory.check_and_update_node_interfaces(node)
        return node

    def test_fake_hardware_loads_ezio(self):
        node = self.node()
        with task_manager.acquire(self.context, node.uuid) as task:
            self.assertIsInstance(task.driver.deploy, ezio_deploy.EzioDeploy)

    def test_ezio_ipmi_accepts_ezio(self):
        node = self._accepts('ezio-ipmi', power_interface='ipmitool',
                             management_interface='ipmitool',
                             boot_interface='pxe')
        node.create()
        with task_manager.acquire(self.context, node.uuid) as task:
            self.assertIsInstance(
                driver_factory.get_hardware_type(task.node.driver),
                hardware_types.EzioIPMIHardware)
            self.assertIsInstance(task.driver.deploy, ezio_deploy.EzioDeploy)

    def test_ezio_ipmi_keeps_ipmi_interfaces(self):
        node = self._accepts('ezio-ipmi', deploy_interface='direct',
                             power_interface='ipmitool',
                             management_interface='ipmitool',
                             boot_interface='pxe')
        self.assertEqual('direct', node.deploy_interface)

    def test_ezio_redfish_accepts_ezio(self):
        node = self._accepts('ezio-redfish', power_interface='redfish',
                             management_interface='redfish',
                             boot_interface='redfish-virtual-media')
        self.assertEqual('ezio', node.deploy_interface)

    def test_stock_ipmi_refuses_ezio(self):
        e = self.assertRaises(exception.IncompatibleInterface, self._accepts,
                              'ipmi', power_interface='ipmitool',
                              management_interface='ipmitool',
                              boot_interface='pxe')
        self.assertIn('EzioDeploy', str(e))
        self.assertIn('IPMIHardware', str(e))


class TestDeploySteps(EzioTestCase):

    def test_ezio_write_image_replaces_write_image(self):
        node = self.node(driver_internal_info={
            # what IPA with the ezio hardware manager reports
            'agent_cached_deploy_steps': {'deploy': [
                {'interface': 'deploy', 'step': 'write_image',
                 'priority': 0, 'reboot_requested': False, 'args': {}},
                {'interface': 'deploy', 'step': 'ezio_write_image',
                 'priority': 0, 'reboot_requested': False, 'args': {}},
            ]}})
        with task_manager.acquire(self.context, node.uuid) as task:
            steps = {s['step']: s['priority']
                     for s in task.driver.deploy.get_deploy_steps(task)}
            enabled = [s['step'] for s in conductor_steps._get_deployment_steps(
                task, enabled=True, sort=True)]
        self.assertEqual(80, steps['ezio_write_image'])
        self.assertEqual(0, steps['write_image'])
        self.assertIn('ezio_write_image', enabled)
        self.assertNotIn('write_image', enabled)
        # the order that makes a written image boot
        self.assertLess(enabled.index('deploy'), enabled.index('ezio_write_image'))
        self.assertLess(enabled.index('ezio_write_image'),
                        enabled.index('ezio_release_image'))
        self.assertLess(enabled.index('ezio_release_image'),
                        enabled.index('prepare_instance_boot'))


class TestValidate(EzioTestCase):

    def test_good_node_validates(self):
        node = self.node(instance_info={'ezio_torrent_sha256': SHA256.upper(),
                                        'ezio_seed_after': '600',
                                        'ezio_trackers': 'udp://t.example:6969'})
        with task_manager.acquire(self.context, node.uuid) as task:
            task.driver.deploy.validate(task)

    def test_file_torrent_validates(self):
        node = self.node(instance_info={'ezio_torrent': 'file:///srv/focal.torrent'})
        with task_manager.acquire(self.context, node.uuid) as task:
            task.driver.deploy.validate(task)

    def test_parent_checks_still_run(self):
        node = self.node(instance_info={'image_source': None})
        with task_manager.acquire(self.context, node.uuid) as task:
            e = self.assertRaises(exception.MissingParameterValue,
                                  task.driver.deploy.validate, task)
        self.assertIn('instance_info.image_source', str(e))

    def test_timeouts_never_where_the_conductor_never_gives_up(self):
        self.config(deploy_callback_timeout=0, group='conductor')
        node = self.node(instance_info={'ezio_deploy_timeout': 0,
                                        'ezio_seed_timeout': 0})
        with task_manager.acquire(self.context, node.uuid) as task:
            task.driver.deploy.validate(task)

    def test_bad_conf_seed_after(self):
        self.config(seed_after='later', group='ezio')
        node = self.node()
        with task_manager.acquire(self.context, node.uuid) as task:
            e = self.assertRaises(exception.InvalidParameterValue,
                                  task.driver.deploy.validate, task)
        self.assertIn("[ezio]seed_after 'later' is not \"none\", "
                      "\"until-done\" or a number of seconds", str(e))


# (name, instance_info, exception, what the message must say)
BAD_INPUTS = [
    ('ftp_torrent', {'ezio_torrent': 'ftp://h/x.torrent'},
     exception.InvalidParameterValue,
     "instance_info['ezio_torrent'] 'ftp://h/x.torrent' is not an http://, "
     "https:// or file:// URL"),
    ('bare_path_torrent', {'ezio_torrent': '/srv/x.torrent'},
     exception.InvalidParameterValue, 'is not an http://, https:// or file:// URL'),
    ('hostless_torrent', {'ezio_torrent': 'http:///x.torrent'},
     exception.InvalidParameterValue, 'names no host'),
    ('short_sha256', {'ezio_torrent_sha256': 'abc123'},
     exception.InvalidParameterValue,
     "instance_info['ezio_torrent_sha256'] 'abc123' is not a SHA-256 "
     "(64 hexadecimal digits)"),
    ('nonhex_sha256', {'ezio_torrent_sha256': 'g' * 64},
     exception.InvalidParameterValue, 'is not a SHA-256'),
    ('seed_after_word', {'ezio_seed_after': 'forever'},
     exception.InvalidParameterValue,
     "instance_info['ezio_seed_after'] 'forever' is not \"none\", "
     "\"until-done\" or a number of seconds"),
    ('seed_after_negative', {'ezio_seed_after': '-5'},
     exception.InvalidParameterValue, 'is not "none", "until-done"'),
    ('seed_timeout_word', {'ezio_seed_timeout': 'ten'},
     exception.InvalidParameterValue,
     "instance_info['ezio_seed_timeout'] 'ten' is not a number of seconds"),
    ('deploy_timeout_huge', {'ezio_deploy_timeout': 10 ** 12},
     exception.InvalidParameterValue, 'is out of range'),
    ('deploy_timeout_never', {'ezio_deploy_timeout': 0},
     exception.InvalidParameterValue,
     "instance_info['ezio_deploy_timeout'] 0 is \"never\", but "
     "[conductor]deploy_callback_timeout is 1800 s"),
    ('seed_timeout_never', {'ezio_seed_timeout': '0'},
     exception.InvalidParameterValue,
     "instance_info['ezio_seed_timeout'] 0 is \"never\""),
    ('timeouts_past_the_callback', {'ezio_deploy_timeout': 1500},
     exception.InvalidParameterValue,
     "instance_info['ezio_deploy_timeout'] + [ezio]seed_timeout 1800 leaves "
     "less than 60 s of [conductor]deploy_callback_timeout (1800 s)"),
    ('verify_word', {'ezio_verify': 'some'}, exception.InvalidParameterValue,
     "instance_info['ezio_verify'] 'some' is not one of data, full, none"),
    ('tracker_scheme', {'ezio_trackers': ['ws://t.example/announce']},
     exception.InvalidParameterValue,
     "'ws://t.example/announce' is not an http://, https://, udp:// URL"),
    ('allow_not_a_network', {'ezio_allow': 'provisioning'},
     exception.InvalidParameterValue,
     "instance_info['ezio_allow'] 'provisioning' is not an address or ADDRESS/PREFIX"),
    ('allow_prefix_too_long', {'ezio_allow': ['10.0.0.0/33']},
     exception.InvalidParameterValue,
     "instance_info['ezio_allow'] '10.0.0.0/33' is not an address or ADDRESS/PREFIX"),
    ('rack_with_a_space', {'ezio_rack': 'rack 12'},
     exception.InvalidParameterValue,
     "instance_info['ezio_rack'] 'rack 12' is not a rack name"),
    ('peer_without_port', {'ezio_peers': 'peer.example'},
     exception.InvalidParameterValue,
     "instance_info['ezio_peers'] 'peer.example' is not HOST:PORT"),
]


def _refuses(info, exc, message):
    def test(self):
        node = self.node(instance_info=info)
        with task_manager.acquire(self.context, node.uuid) as task:
            e = self.assertRaises(exc, task.driver.deploy.validate, task)
        self.assertIn(message, str(e))
        self.assertIn(node.uuid, str(e))
    return test


for _name, _info, _exc, _msg in BAD_INPUTS:
    setattr(TestValidate, 'test_refuses_%s' % _name, _refuses(_info, _exc, _msg))


def start_step(case, agent, instance_info=None, whole_disk=True):
    """A node of case (an EzioTestCase) in deploying, run up to its
    ezio_write_image step, which talks to agent (a FakeAgent)."""
    node = case.node(instance_info=instance_info,
                     provision_state=states.DEPLOYING,
                     target_provision_state=states.ACTIVE,
                     driver_info=dict(DRIVER_INFO,
                                      deploy_forces_oob_reboot=True),
                     driver_internal_info={
                         'agent_url': agent.url,
                         'agent_secret_token': 'secret',
                         'is_whole_disk_image': whole_disk,
                         'hardware_manager_version': {'ezio': '1'},
                         'agent_cached_deploy_steps': {'deploy': [
                             {'interface': 'deploy',
                              'step': 'ezio_write_image', 'priority': 0,
                              'reboot_requested': False, 'args': {}}]}})
    with task_manager.acquire(case.context, node.uuid) as task:
        conductor_steps.set_node_deployment_steps(task)
        names = [s['step']
                 for s in task.node.driver_internal_info['deploy_steps']]
        deployments.do_next_deploy_step(task, names.index('ezio_write_image'))
    node.refresh()
    return node


class TestStep(EzioTestCase):

    def setUp(self):
        super().setUp()
        self.agent = FakeAgent()
        self.addCleanup(self.agent.stop)

    def _start(self, instance_info=None, whole_disk=True):
        return start_step(self, self.agent, instance_info, whole_disk)

    def _sent_step(self):
        self.assertEqual(1, len(self.agent.posted))
        body = self.agent.posted[0]['body']
        self.assertEqual('deploy.execute_deploy_step', body['name'])
        self.assertIn('agent_token=secret', self.agent.posted[0]['path'])
        return body['params']['step']

    def test_step_sends_the_contract(self):
        self.config(peers=['10.0.0.5:6881'], seed_after='until-done',
                    seed_timeout=120, deploy_timeout=900, verify='full',
                    allow=['10.0.0.0/16', 'fd00::/8'], group='ezio')
        node = self._start({'ezio_torrent_sha256': SHA256,
                            'ezio_torrent_token': 'tok',
                            'configdrive': 'http://cd.example/cd.iso.gz'})
        self.assertEqual(states.DEPLOYWAIT, node.provision_state)
        self.assertEqual('ezio_write_image', node.deploy_step['step'])
        self.assertEqual({
            'interface': 'deploy',
            'step': 'ezio_write_image',
            'args': {
                'ezio': {
                    'torrent': TORRENT,
                    'torrent_sha256': SHA256,
                    'trackers': ['http://tracker.example:6969/announce'],
                    'peers': ['10.0.0.5:6881'],
                    'allow': ['10.0.0.0/16', 'fd00::/8'],
                    'seed_after': 'until-done',
                    'seed_timeout': 120,
                    'timeout': 900,
                    'verify': 'full',
                    'token': 'tok',
                },
                'configdrive': 'http://cd.example/cd.iso.gz',
            }}, self._sent_step())

    def test_node_overrides_and_defaults(self):
        node = self._start({'ezio_seed_after': 30, 'ezio_seed_timeout': '90',
                            'ezio_verify': 'none',
                            'ezio_peers': 'a.example:1, b.example:2',
                            'ezio_allow': '192.0.2.0/24'})
        self.assertEqual(states.DEPLOYWAIT, node.provision_state)
        args = self._sent_step()['args']
        self.assertEqual({
            'torrent': TORRENT,
            'torrent_sha256': None,
            'trackers': ['http://tracker.example:6969/announce'],
            'peers': ['a.example:1', 'b.example:2'],
            'allow': ['192.0.2.0/24'],
            'seed_after': '30',
            'seed_timeout': 90,
            'timeout': 1200,
            'verify': 'none',
            'token': None,
        }, args['ezio'])
        self.assertIsNone(args['configdrive'])

    def test_rack_named_for_the_node(self):
        self.config(rack_prefix=24, group='ezio')
        self._start({'ezio_rack': 'r12'})
        self.assertEqual('r12', self._sent_step()['args']['ezio']['rack'])

    def test_rack_from_the_switch_of_its_port(self):
        node = self.node(instance_info={}, uuid='1be26c0b-03f2-4d2e-ae87-c02d7f33c123')
        obj_utils.create_test_port(self.context, node_id=node.id, address='52:54:00:00:00:02',
                                   pxe_enabled=False,
                                   local_link_connection={'switch_id': '0a:1b:2c:3d:4e:99', 'port_id': 'Eth1/9'})
        obj_utils.create_test_port(self.context, node_id=node.id, address='52:54:00:00:00:03',
                                   uuid='2be26c0b-03f2-4d2e-ae87-c02d7f33c124',
                                   local_link_connection={'switch_id': '0a:1b:2c:3d:4e:5f', 'port_id': 'Eth1/3',
                                                          'switch_info': 'tor 12 (row 3)'})
        with task_manager.acquire(self.context, node.uuid) as task:
            # the PXE port's switch, its name made one ezio-deploy takes
            self.assertEqual({'rack': 'tor-12--row-3-'}, ezio_deploy.rack_args(task))
            self.config(rack_from='none', group='ezio')
            self.assertEqual({}, ezio_deploy.rack_args(task))
            self.config(rack_prefix=26, group='ezio')
            self.assertEqual({'rack_prefix': 26}, ezio_deploy.rack_args(task))

    def test_partition_image_sends_its_layout(self):
        self.config(default_boot_mode='uefi', group='deploy')
        node = self._start({'root_mb': 10240, 'swap_mb': 512,
                            'ephemeral_mb': 0, 'ephemeral_format': None,
                            'preserve_ephemeral': False,
                            'capabilities': {'disk_label': 'gpt'}},
                           whole_disk=False)
        self.assertEqual(states.DEPLOYWAIT, node.provision_state)
        self.assertEqual({'root_mb': 10240, 'swap_mb': 512, 'ephemeral_mb': 0,
                          'ephemeral_format': None,
                          'preserve_ephemeral': False, 'boot_mode': 'uefi',
                          'disk_label': 'gpt'},
                         self._sent_step()['args']['partition'])

    def test_whole_disk_image_sends_no_layout(self):
        self._start()
        self.assertNotIn('partition', self._sent_step()['args'])

    def test_bad_setting_at_step_time_fails_the_deploy(self):
        node = self._start({'ezio_torrent': 'gopher://h/x.torrent'})
        self.assertEqual(states.DEPLOYFAIL, node.provision_state)
        self.assertIn('ezio_write_image', node.last_error)
        self.assertIn('is not an http://, https:// or file:// URL',
                      node.last_error)
        self.assertEqual([], self.agent.posted)

    def test_agent_failure_fails_the_deploy(self):
        node = self._start()
        step = self._sent_step()
        self.agent.commands = [{
            'id': 'c1',
            'command_name': 'execute_deploy_step',
            'command_status': 'FAILED',
            'command_params': {'step': step},
            'command_result': None,
            'command_error': {
                'type': 'DeploymentError', 'code': 500,
                'message': 'Deploy step failed',
                'details': 'ezio-deploy: /dev/sda: exit 4 (EZ_EXIT_TARGET): '
                           'target unusable',
            },
        }]
        with task_manager.acquire(self.context, node.uuid,
                                  shared=True) as task:
            task.driver.deploy.heartbeat(task, self.agent.url, '13.0.0')
        node.refresh()
        self.assertEqual(states.DEPLOYFAIL, node.provision_state)
        self.assertIn('deploy.ezio_write_image', node.last_error)
        self.assertIn('ezio-deploy: /dev/sda: exit 4 (EZ_EXIT_TARGET): '
                      'target unusable', node.last_error)

    def test_agent_still_running_keeps_waiting(self):
        node = self._start()
        step = self._sent_step()
        self.agent.commands = [{
            'id': 'c1', 'command_name': 'execute_deploy_step',
            'command_status': 'RUNNING', 'command_params': {'step': step},
            'command_result': None, 'command_error': None}]
        with task_manager.acquire(self.context, node.uuid,
                                  shared=True) as task:
            task.driver.deploy.heartbeat(task, self.agent.url, '13.0.0')
        node.refresh()
        self.assertEqual(states.DEPLOYWAIT, node.provision_state)
        self.assertIsNone(node.last_error)

    def test_agent_success_goes_on_to_boot_the_partition_image(self):
        self.config(default_boot_mode='bios', group='deploy')
        node = self._start(whole_disk=False)
        step = self._sent_step()
        self.agent.results['standby.get_partition_uuids'] = {
            'root uuid': '9a3c7d4e-0000-4000-8000-00000000a001'}
        self.agent.commands = [{
            'id': 'c1', 'command_name': 'execute_deploy_step',
            'command_status': 'SUCCEEDED', 'command_params': {'step': step},
            'command_result': {'deploy_step': step, 'deploy_result': None},
            'command_error': None}]
        with task_manager.acquire(self.context, node.uuid,
                                  shared=True) as task:
            task.driver.deploy.heartbeat(task, self.agent.url, '13.0.0')
        node.refresh()
        self.assertIsNone(node.last_error)
        self.assertEqual(states.ACTIVE, node.provision_state)
        # what direct does after write_image: the partition UUIDs the agent
        # step left with standby, the boot loader on that root partition
        sent = [p['body'] for p in self.agent.posted[1:]]
        self.assertEqual(['standby.get_partition_uuids',
                          'image.install_bootloader', 'standby.sync'],
                         [b['name'] for b in sent])
        self.assertEqual('9a3c7d4e-0000-4000-8000-00000000a001',
                         sent[1]['params']['root_uuid'])
