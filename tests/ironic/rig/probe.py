"""What the agent would see in its jail (run by agent-jail in place of the
agent): prints one JSON object.

- block_devices: every /dev/NAME of /sys/class/block that is a block
  device here;
- covered: the names of /sys/class/block whose /dev node is not one;
- install_device: what the agent's hardware managers pick as its disk;
- poweroff: where PATH finds poweroff; power_log: what the stand-ins logged;
- link_down_rc: the exit code of ``ip link set eth0.100 down``, and
  link_up: whether the link is still up after it;
- sysrq, drop_caches: whether /proc/sysrq-trigger and
  /proc/sys/vm/drop_caches are the jail's empty file (covered), absent
  (the kernel has none) or open.
"""

import json
import os
import shutil
import stat
import subprocess

from ironic_python_agent import config as _ipa_config  # noqa: F401
from ironic_python_agent import hardware


def is_block(path):
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def main():
    names = sorted(os.listdir('/sys/class/block'))
    hardware.get_managers()
    out = {
        'block_devices': [n for n in names if is_block('/dev/' + n)],
        'covered': [n for n in names if os.path.exists('/dev/' + n) and not is_block('/dev/' + n)],
        'install_device': hardware.dispatch_to_managers('get_os_install_device'),
        'poweroff': shutil.which('poweroff'),
    }
    subprocess.run(['poweroff', '-f'], check=False)
    r = subprocess.run(['ip', 'link', 'set', 'eth0.100', 'down'], capture_output=True, text=True)
    out['link_down_rc'] = r.returncode
    with open('/sys/class/net/eth0.100/operstate') as f:
        out['link_up'] = f.read().strip() != 'down'
    for name, path in (('sysrq', '/proc/sysrq-trigger'), ('drop_caches', '/proc/sys/vm/drop_caches')):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            out[name] = 'absent'       # a kernel without it
            continue
        covered = stat.S_ISREG(st.st_mode) and st.st_size == 0 and st.st_dev != os.stat('/proc').st_dev
        out[name] = 'covered' if covered else 'open'
    log = os.path.join(os.environ['EZIO_RIG_DIR'], 'power.log')
    with open(log) as f:
        out['power_log'] = f.read()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
