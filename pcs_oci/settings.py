"""Every absolute path and default pcs-oci uses, in one place."""

import os

CONFIG_PATH = "/etc/pcs-oci/pcs-oci.json"
CONFIG_ENV = "PCS_OCI_CONFIG"

OCF_ROOT = os.environ.get("OCF_ROOT", "/usr/lib/ocf")
AGENT_PROVIDER = "oci"
AGENT_NAME = "IPaddr2"
AGENT_TYPE = "ocf:{}:{}".format(AGENT_PROVIDER, AGENT_NAME)
# The package-owned agent that the old recipes patch (migrate, verify).
HEARTBEAT_IPADDR2 = os.path.join(OCF_ROOT, "resource.d", "heartbeat", "IPaddr2")
# Pacemaker runs stonith agents from /usr/sbin.
FENCE_AGENT_NAME = "fence_oci"
FENCE_AGENT = "/usr/sbin/" + FENCE_AGENT_NAME
FENCE_AGENT_TYPE = "stonith:" + FENCE_AGENT_NAME

IMDS_BASE_URL_ENV = "OCI_METADATA_BASE_URL"
IMDS_BASE_URL = "http://169.254.169.254/opc/v2"

PCS = "/usr/sbin/pcs"
CRM_MON = "/usr/sbin/crm_mon"
CRM_NODE = "/usr/sbin/crm_node"
CRM_RESOURCE = "/usr/sbin/crm_resource"
CIBADMIN = "/usr/sbin/cibadmin"
CRM_ATTRIBUTE = "/usr/sbin/crm_attribute"
IP = "/sbin/ip"
# iputils; `pcs-oci drill` pings the VIP from this node.
PING = "/usr/bin/ping"
COROSYNC_CMAPCTL = "/usr/sbin/corosync-cmapctl"
FIREWALL_CMD = "/usr/bin/firewall-cmd"

DEFAULT_STICKINESS = 100
DEFAULT_MONITOR_INTERVAL = "10s"
