"""What an operator installs ezio with, where it runs without a cloud.

The devstack plugin and the diskimage-builder element cannot run here
(devstack wants a whole cloud, diskimage-builder a distribution to build
from): their shell is linted with bashate, as devstack lints its own; the
plugin's configuration phase runs against an ironic.conf with stand-ins for
devstack's ini functions, and what it writes is read back through the
``[ezio]`` options themselves; the element's files and the Zuul job are
checked against what they name.
"""

import configparser
import json
import os
import subprocess
import sys
import textwrap

from oslo_config import cfg
import pytest
import yaml

from ezio_ironic import conf as ezio_conf

ROOT = os.environ.get('EZ_ROOT') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DEVSTACK = os.path.join(ROOT, 'devstack')
ELEMENT = os.path.join(ROOT, 'ironic-hooks', 'elements', 'ezio-agent')
SHELL = [os.path.join(DEVSTACK, 'plugin.sh'),
         os.path.join(ELEMENT, 'install.d', '75-ezio-agent-install'),
         os.path.join(ROOT, 'tests', 'ironic', 'rig', 'agent-jail')]
BASHATE = os.path.join(os.path.dirname(sys.executable), 'bashate')

# devstack's ini functions, by Python's configparser: enough for iniget and
# iniset of one option (devstack's own live in its inc/ini-config)
INI_STANDINS = textwrap.dedent('''
    function iniget {
        %(py)s -c 'import configparser, sys
    c = configparser.RawConfigParser(); c.read(sys.argv[1])
    print(c.get(sys.argv[2], sys.argv[3], fallback=""))' "$1" "$2" "$3"
    }
    function iniset {
        %(py)s -c 'import configparser, sys
    c = configparser.RawConfigParser(); c.optionxform = str; c.read(sys.argv[1])
    s = sys.argv[2]
    if s != "DEFAULT" and not c.has_section(s): c.add_section(s)
    c.set(s, sys.argv[3], sys.argv[4])
    c.write(open(sys.argv[1], "w"))' "$1" "$2" "$3" "$4"
    }
    function is_service_enabled { return 0; }
    function enable_service { :; }
    function trueorfalse { local v=${!2:-$1}; [[ "$v" =~ ^([Tt]rue|1|yes)$ ]] && echo True || echo False; }
    function echo_summary { echo "summary: $*"; }
''') % {'py': sys.executable}


def test_bashate():
    """The shell an operator runs, linted as devstack lints its own
    (bashate, long lines allowed); settings has no #! by devstack's design."""
    r = subprocess.run([BASHATE, '-i', 'E006', '-e', 'E005,E042'] + SHELL, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([BASHATE, '-i', 'E006,E005', os.path.join(DEVSTACK, 'settings')], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for path in SHELL:
        assert subprocess.run(['bash', '-n', path]).returncode == 0, path
    # devstack sources its plugin; diskimage-builder runs the element's script
    for path in SHELL[1:]:
        assert os.access(path, os.X_OK), path


def _post_config(tmp_path, conf, env=None):
    script = tmp_path / 'stack.sh'
    script.write_text(INI_STANDINS + textwrap.dedent('''
        DEST=%(tmp)s DATA_DIR=%(tmp)s/data SERVICE_HOST=192.0.2.10
        IRONIC_CONF_FILE=%(conf)s
        source %(devstack)s/settings
        source %(devstack)s/plugin.sh stack post-config
    ''') % {'tmp': tmp_path, 'conf': conf, 'devstack': DEVSTACK})
    return subprocess.run(['bash', str(script)], capture_output=True, text=True, env=dict(os.environ, **(env or {})))


def test_devstack_post_config_enables_ezio(tmp_path):
    """stack post-config adds the interface and the hardware types to what
    ironic.conf enables (twice run, still once each) and writes an [ezio]
    section that the options themselves accept."""
    conf = tmp_path / 'ironic.conf'
    conf.write_text('[DEFAULT]\nenabled_deploy_interfaces = direct,ramdisk\n'
                    'enabled_hardware_types = ipmi\n')
    for _ in range(2):
        r = _post_config(tmp_path, conf, {'EZIO_SEED_TIMEOUT': '120'})
        assert r.returncode == 0, r.stdout + r.stderr
        assert 'summary: Configuring Ironic for ezio' in r.stdout
    c = configparser.RawConfigParser()
    c.read(conf)
    assert c.get('DEFAULT', 'enabled_deploy_interfaces') == 'direct,ramdisk,ezio'
    assert c.get('DEFAULT', 'enabled_hardware_types') == 'ipmi,ezio-ipmi,ezio-redfish'
    assert c.get('DEFAULT', 'default_deploy_interface') == 'ezio'
    opts = cfg.ConfigOpts()
    opts.register_group(ezio_conf.GROUP)
    for group, options in ezio_conf.list_opts():
        opts.register_opts(options, group=group)
    opts(['--config-file', str(conf)], project='ironic')
    assert opts.ezio.trackers == ['http://192.0.2.10:6969/announce']
    assert (opts.ezio.seed_after, opts.ezio.seed_timeout, opts.ezio.deploy_timeout, opts.ezio.verify) == \
        ('until-done', 120, 1200, 'data')
    # the conductor's torrents reach the tracker devstack starts
    assert opts.ezio.tracker_whitelist == str(tmp_path / 'data' / 'ezio' / 'tracker' / 'whitelist')
    assert opts.ezio.seeder_ports == '6890:6929'
    assert opts.ezio.web_seed == 'http'


def test_devstack_does_nothing_when_ezio_is_disabled(tmp_path):
    conf = tmp_path / 'ironic.conf'
    conf.write_text('[DEFAULT]\nenabled_deploy_interfaces = direct\n')
    script = tmp_path / 'stack.sh'
    script.write_text(INI_STANDINS + 'function is_service_enabled { return 1; }\n'
                      'IRONIC_CONF_FILE=%s\nsource %s/plugin.sh stack post-config\n' % (conf, DEVSTACK))
    r = subprocess.run(['bash', str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert conf.read_text() == '[DEFAULT]\nenabled_deploy_interfaces = direct\n'


def test_element_layout():
    """The element names elements, packages and a source that exist."""
    deps = open(os.path.join(ELEMENT, 'element-deps')).read().split()
    assert 'ironic-python-agent-ramdisk' in deps and 'source-repositories' in deps and 'package-installs' in deps
    fields = open(os.path.join(ELEMENT, 'source-repository-ezio-agent')).read().split()
    assert fields[:3] == ['ezio', 'git', '/tmp/ezio-src'] and len(fields) == 5
    script = open(os.path.join(ELEMENT, 'install.d', '75-ezio-agent-install')).read()
    assert 'SRC=/tmp/ezio-src' in script and 'ironic-hooks' in script
    packages = yaml.safe_load(open(os.path.join(ELEMENT, 'package-installs.yaml')))
    pkg_map = json.load(open(os.path.join(ELEMENT, 'pkg-map')))['family']['redhat']
    assert set(packages) - {'partclone'} == set(pkg_map)
    # every library the Makefile links ezio-deploy with is built against
    makefile = open(os.path.join(ROOT, 'Makefile')).read()
    for pc, dev in (('libtorrent-rasterbar', 'libtorrent-rasterbar-dev'), ('libcurl', 'libcurl4-openssl-dev'),
                    ('json-c', 'libjson-c-dev'), ('yaml-0.1', 'libyaml-dev'), ('openssl', 'libssl-dev'),
                    ('blkid', 'libblkid-dev'), ('libxxhash', 'libxxhash-dev')):
        assert pc in makefile and packages[dev] == {'build-only': True}, dev


@pytest.mark.parametrize('key', ['IRONIC_DEPLOY_DRIVER', 'IRONIC_ENABLED_HARDWARE_TYPES'])
def test_zuul_job(key):
    """The devstack job deploys with what this repository provides."""
    conf = yaml.safe_load(open(os.path.join(ROOT, '.zuul.yaml')))
    job = next(item['job'] for item in conf if 'job' in item)
    assert job['parent'] == 'ironic-base'
    local = job['vars']['devstack_localrc']
    assert 'ezio' in job['vars']['devstack_plugins']
    pyproject = open(os.path.join(ROOT, 'ironic-hooks', 'pyproject.toml')).read()
    for hw_type in local[key].split(','):
        assert '\n%s = "ezio_ironic.hardware_types:' % hw_type in pyproject
    assert local['IRONIC_DEFAULT_DEPLOY_INTERFACE'] == 'ezio'
    elements = local['IRONIC_DIB_RAMDISK_OPTIONS'].split()
    assert 'ezio-agent' in elements
    settings = open(os.path.join(DEVSTACK, 'settings')).read()
    for name in local:
        if name.startswith('EZIO_'):
            assert '\n%s=' % name in settings, name
    project = next(item['project'] for item in conf if 'project' in item)
    assert job['name'] in project['check']['jobs']
