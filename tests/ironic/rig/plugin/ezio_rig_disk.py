"""The rig's disk, for the agent: a hardware manager that offers the loop
device named by EZIO_RIG_DISK as the install device.

The agent lists disks with lsblk and leaves out loop devices; on the rig a
loop device is the node's disk.  This manager is found only where the rig
puts this folder on PYTHONPATH (agent-jail, started by rig.py): its
dist-info registers the entry point.  It claims nothing but the disk.
"""

import os

from ironic_python_agent import config as _ipa_config  # noqa: F401
from ironic_python_agent import hardware


def _disk():
    return os.environ.get('EZIO_RIG_DISK')


class RigDiskHardwareManager(hardware.HardwareManager):

    HARDWARE_MANAGER_NAME = 'RigDiskHardwareManager'
    HARDWARE_MANAGER_VERSION = '1'

    def evaluate_hardware_support(self):
        return hardware.HardwareSupport.MAINLINE if _disk() else hardware.HardwareSupport.NONE

    def _device(self):
        disk = _disk()
        name = os.path.basename(disk)
        with open('/sys/class/block/%s/size' % name) as f:
            size = int(f.read()) * 512
        return hardware.BlockDevice(name=disk, model='ezio rig loop', size=size, rotational=False,
                                    vendor='ezio', serial=name, logical_sectors=512, physical_sectors=512)

    def list_block_devices(self, include_partitions=False):
        return [self._device()]

    def get_os_install_device(self, permit_refresh=False):
        return _disk()
