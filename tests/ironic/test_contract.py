"""The contract the Python side imports is the one the C side publishes:
the exit codes of ezio-deploy/lib/exitcode.h, the status schema of
config/ezio-status.schema.json, and what real ezio-deploy prints; a drift
between them fails here."""

import filecmp
import os
import re
import subprocess
import sys

import pytest

from ezio_ironic import conf
from ezio_ironic import contract


def header_codes(root):
    text = open(os.path.join(root, 'ezio-deploy', 'lib', 'exitcode.h')).read()
    body = re.search(r'enum ez_exit \{(.*?)\};', text, re.S).group(1)
    return {int(v): n for n, v in re.findall(r'(EZ_EXIT_\w+) = (\d+)', body)}


def test_exit_codes_are_the_headers(ez_root):
    assert {c: name for c, (name, _) in contract.exit_codes().items()} == header_codes(ez_root)


def test_schema_is_the_published_one(ez_root):
    assert filecmp.cmp(contract.SCHEMA_FILE, os.path.join(ez_root, 'config', 'ezio-status.schema.json'),
                       shallow=False)
    assert contract.schema()['properties']['version']['const'] == contract.STATUS_VERSION


@pytest.mark.parametrize('code', sorted(header_codes(os.environ.get('EZ_ROOT') or
                                                     os.path.join(os.path.dirname(__file__), '..', '..'))))
def test_every_exit_code_is_described(code):
    name, meaning = contract.exit_codes()[code]
    text = contract.describe_exit(code)
    assert text == 'exit %d (%s): %s' % (code, name, meaning)
    assert meaning and name.startswith('EZ_EXIT_')


def test_undocumented_exit_and_signal():
    assert contract.describe_exit(9) == 'exit 9 (unknown): not an exit code ezio-deploy documents'
    assert contract.describe_exit(-9) == 'killed by signal 9'


def test_phases_in_order():
    assert contract.phases() == ['fetch', 'check', 'download', 'zero', 'verify', 'seed', 'done']


def test_real_status_lines_parse(ezio_bin, tmp_path):
    """What the real ezio-deploy prints validates: here a refused plan."""
    out = subprocess.run([os.path.join(ezio_bin, 'ezio-deploy'), '--dry-run', '--status', 'json',
                          '-t', str(tmp_path / 'absent.torrent'), '-T', str(tmp_path / 'disk')],
                         capture_output=True, text=True)
    assert out.returncode == 3
    lines = [contract.parse_status(line) for line in out.stdout.splitlines()]
    assert lines and all(lines)
    assert lines[-1]['phase'] == 'error' and lines[-1]['exit_code'] == 3
    assert 'absent.torrent' in lines[-1]['message']


@pytest.mark.parametrize('line,why', [
    ('{"version": 2, "phase": "done"}', 'version 2'),
    ('{"version": 1, "phase": "download", "bytes_done": 1}', "required property"),
    ('{"version": 1, "phase": "teleport", "bytes_done": 0, "bytes_total": 0, "downloaded": 0, "uploaded": 0,'
     ' "download_rate": 0, "upload_rate": 0, "peers": 0, "elapsed": 0}', 'teleport'),
    ('{"version": 1, "phase": "done", "bytes_done": 0, "bytes_total": 0, "downloaded": 0, "uploaded": 0,'
     ' "download_rate": 0, "upload_rate": 0, "peers": 0, "elapsed": 0}', 'exit_code'),
])
def test_lines_that_break_the_contract(line, why):
    with pytest.raises(ValueError, match=why):
        contract.parse_status(line)


@pytest.mark.parametrize('line', ['', 'ezio-deploy: done', '{"no": "phase"}', '{broken', '[1, 2]'])
def test_lines_that_are_not_status(line):
    assert contract.parse_status(line) is None


def test_options_listed_for_the_generator(ez_root):
    """oslo-config-generator finds the [ezio] options through the entry point."""
    gen = os.path.join(sys.prefix, 'bin', 'oslo-config-generator')     # the venv's
    out = subprocess.run([gen, '--namespace', 'ezio_ironic'], capture_output=True, text=True, check=True).stdout
    assert '[ezio]' in out
    for group, opts in conf.list_opts():
        for opt in opts:
            assert '\n#%s =' % opt.dest in out, opt.dest
