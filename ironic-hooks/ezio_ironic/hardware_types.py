"""Hardware types that accept the ``ezio`` deploy interface.

Ironic's generic hardware types (``ipmi``, ``redfish`` ...) accept a deploy
interface only if its class is in their ``supported_deploy_interfaces``
(an exact class match in ``ironic/common/driver_factory.py``), so an
out-of-tree interface needs a hardware type that lists it.  These are the
stock types with ``EzioDeploy`` added at the end of the list: everything
else, and the default deploy interface, stay as they are.

ironic.conf::

    [DEFAULT]
    enabled_hardware_types = ezio-ipmi,ezio-redfish
    enabled_deploy_interfaces = direct,ezio
"""

from ironic.drivers import ipmi
from ironic.drivers import redfish

from ezio_ironic import deploy


class EzioIPMIHardware(ipmi.IPMIHardware):
    """``ipmi`` that also accepts the ``ezio`` deploy interface."""

    @property
    def supported_deploy_interfaces(self):
        """List of supported deploy interfaces: ipmi's and ezio."""
        return super().supported_deploy_interfaces + [deploy.EzioDeploy]


class EzioRedfishHardware(redfish.RedfishHardware):
    """``redfish`` that also accepts the ``ezio`` deploy interface."""

    @property
    def supported_deploy_interfaces(self):
        """List of supported deploy interfaces: redfish's and ezio."""
        return super().supported_deploy_interfaces + [deploy.EzioDeploy]
