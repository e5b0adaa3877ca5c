"""Fixtures of the Ironic side's tests: the repository, the ezio binaries
of build/, loop devices and an ezio seeder, each cleaned up when the test
ends.  Traffic stays on 127.0.0.0/8; ports come from 23600-23799, above the
integration tests' blocks (tests/integration/lib.sh)."""

import os
import socket
import subprocess
import time

import pytest

ROOT = os.environ.get('EZ_ROOT') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.join(ROOT, 'build')
PORT_BASE = 23600


@pytest.fixture
def ez_root():
    return ROOT


@pytest.fixture
def ezio_bin(monkeypatch):
    """build/ first on PATH, so the agent runs the ezio-deploy of this tree."""
    if not os.access(os.path.join(BIN, 'ezio-deploy'), os.X_OK):
        pytest.fail('build/ezio-deploy is missing: run make first')
    monkeypatch.setenv('PATH', BIN + os.pathsep + os.environ.get('PATH', ''))
    return BIN


def wait_port(port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError('nothing listens on 127.0.0.1:%d' % port)


@pytest.fixture
def loopdev():
    """loopdev(path) attaches a file to a loop device; all are detached
    (their BLKPG partitions dropped first) at the end."""
    attached = []

    def attach(path):
        dev = subprocess.run(['losetup', '-f', '--show', path], check=True, capture_output=True,
                             text=True).stdout.strip()
        attached.append(dev)
        return dev

    yield attach
    for dev in attached:
        subprocess.run(['partx', '-d', dev], capture_output=True)
        subprocess.run(['losetup', '-d', dev], capture_output=True)


@pytest.fixture
def seeder(ezio_bin):
    """seeder(torrent, image, n) serves image on 127.0.0.1:PORT_BASE+n and
    returns its HOST:PORT; stopped at the end."""
    procs = []

    def start(torrent, image, n=0):
        port = PORT_BASE + n
        procs.append(subprocess.Popen([os.path.join(ezio_bin, 'ezio-deploy'), '--seed', '-t', torrent, '-T', image,
                                       '-l', '127.0.0.1:%d' % port, '-q'], stdin=subprocess.DEVNULL))
        wait_port(port)
        return '127.0.0.1:%d' % port

    yield start
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
