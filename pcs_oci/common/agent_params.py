"""The parameter contract between pcs-oci and its two agents.

`pcs-oci configure` writes these parameters into the CIB; ocf:oci:IPaddr2
(pcs_oci.agent) reads them back from OCF_RESKEY_*, fence_oci (pcs_oci.fence)
from fencing.py's options. Their names, defaults and descriptions, and the
time the agent keeps for IPaddr2 (which the configured start timeout
allows for), live here, below all three, so that no side imports another.
pcs_oci.lib.oci.settings turns the OCI connection parameters into its
settings type and back.
"""

from typing import List, NamedTuple, Sequence

# ---------------------------------------------------------------- the OCI connection

AUTH_INSTANCE_PRINCIPAL = "instance_principal"
AUTH_API_KEY = "api_key"
AUTH_MODES = (AUTH_INSTANCE_PRINCIPAL, AUTH_API_KEY)
DEFAULT_AUTH = AUTH_INSTANCE_PRINCIPAL
# root's file by its absolute path, not ~/.oci/config: Pacemaker runs both
# agents as root from daemons whose HOME need not be root's home, one CIB
# value serves every node, and `pcs-oci verify` must check the file the
# agents will read, whoever runs it.
DEFAULT_CONFIG_FILE = "/root/.oci/config"
DEFAULT_PROFILE = "DEFAULT"
# Seconds per OCI API request (connect + read).
DEFAULT_API_TIMEOUT = 10

# Their parameter names, the same for the VIP resource and the fence devices.
PARAM_AUTH = "auth"
PARAM_CONFIG_FILE = "oci_config_file"
PARAM_PROFILE = "oci_profile"
PARAM_REGION = "region"
PARAM_ENDPOINT = "endpoint"
PARAM_PROXY = "proxy"
PARAM_API_TIMEOUT = "api_timeout"
CONNECTION_PARAMETERS = [
    PARAM_AUTH,
    PARAM_CONFIG_FILE,
    PARAM_PROFILE,
    PARAM_REGION,
    PARAM_ENDPOINT,
    PARAM_PROXY,
    PARAM_API_TIMEOUT,
]

# ---------------------------------------------------------------- ocf:oci:IPaddr2


class ParamSpec(NamedTuple):
    name: str
    shortdesc: str
    longdesc: str
    content_type: str = "string"
    default: str = ""


# The parameters the agent adds to heartbeat IPaddr2's, in meta-data order.
OCI_PARAMETERS = [
    ParamSpec(
        "vnic_ids",
        "VNIC OCID of each node",
        "Comma-separated node=VNIC-OCID pairs, e.g. "
        "node1=ocid1.vnic.oc1.iad.aaa,node2=ocid1.vnic.oc1.iad.bbb, naming node by its "
        "Pacemaker node name. On start the VIP's secondary private IP is moved to this "
        "node's VNIC. A node absent from the list finds its VNIC in the instance metadata "
        "service (the VNIC whose subnet contains the VIP).",
    ),
    ParamSpec(
        PARAM_AUTH,
        "OCI authentication",
        "How the agent signs OCI API requests: instance_principal (the instance's own "
        "identity; the instances must be in a dynamic group allowed to use private-ips and "
        "vnics in the compartment) or api_key (a user's API key from oci_config_file).",
        default=DEFAULT_AUTH,
    ),
    ParamSpec(
        PARAM_CONFIG_FILE,
        "OCI config file (api_key auth)",
        "Path of the OCI SDK/CLI config file that holds the API key settings, used with "
        "auth=api_key. The file and the key it names must exist on every node. Only the path "
        "is stored in the CIB, never key material.",
        default=DEFAULT_CONFIG_FILE,
    ),
    ParamSpec(
        PARAM_PROFILE,
        "Profile in the OCI config file",
        "Section of oci_config_file to use with auth=api_key.",
        default=DEFAULT_PROFILE,
    ),
    ParamSpec(
        PARAM_REGION,
        "OCI region",
        "Region identifier such as us-ashburn-1. Empty: the instance's own region.",
    ),
    ParamSpec(
        PARAM_ENDPOINT,
        "Core API endpoint",
        "Override of the OCI Core (networking) API service endpoint, scheme://host[:port] "
        "without the /20160918 path, for private endpoints or other realms. Empty: the "
        "region's public endpoint.",
    ),
    ParamSpec(
        PARAM_PROXY,
        "HTTP(S) proxy for the OCI API",
        "Proxy URL for OCI API calls, e.g. http://proxy.example.com:3128. The instance "
        "metadata service is never reached through it.",
    ),
    ParamSpec(
        PARAM_API_TIMEOUT,
        "Seconds per OCI API call",
        "Timeout of each OCI API request. Retries of throttled (429), failed (5xx) or "
        "timed-out requests happen within the start operation's timeout.",
        content_type="integer",
        default=str(DEFAULT_API_TIMEOUT),
    ),
    ParamSpec(
        "monitor_api",
        "Also check the VIP's assignment in OCI",
        "If true, the recurring monitor also checks, at most every monitor_api_interval, "
        "that OCI assigns the VIP to this node's VNIC, and reports the resource not running "
        "when OCI definitely has it elsewhere (someone moved it), so Pacemaker recovers it. "
        "A private IP that OCI shows on no VNIC while a move lands counts as moving, not as "
        "elsewhere: the next monitor checks again. "
        "A transient API, authentication or metadata error only logs one warning: it never "
        "fails the resource.",
        content_type="boolean",
        default="false",
    ),
    ParamSpec(
        "monitor_api_interval",
        "Minimum seconds between OCI checks",
        "With monitor_api=true, the OCI assignment is checked at most this often; monitors "
        "in between use the last answer, cached in a root-only state file.",
        content_type="integer",
        default="60",
    ),
]
OCI_PARAMETER_NAMES = [p.name for p in OCI_PARAMETERS]

# Time kept back from the start timeout for IPaddr2 start and its confirmation
# (it takes well under a second: ARP goes out in the background). A quarter
# of the timeout, 3..10 s, so a resource converted from heartbeat IPaddr2
# with its 20 s start timeout still leaves the OCI calls 15 s.
IPADDR2_RESERVE_SECONDS = 10.0


def ipaddr2_reserve(op_timeout: float) -> float:
    return min(IPADDR2_RESERVE_SECONDS, max(3.0, op_timeout / 4.0))


# ---------------------------------------------------------------- fence_oci


class FenceOption(NamedTuple):
    """One of fence_oci's own options, on top of fencing.py's."""

    name: str
    metavar: str
    shortdesc: str
    default: str = ""
    choices: Sequence[str] = ()
    # fencing.py's value check ("second", "integer"); empty: any string.
    type: str = ""


FENCE_OPTIONS = [
    FenceOption(
        PARAM_AUTH,
        "type",
        "How to sign OCI API requests: as the instance or with an API key",
        default=DEFAULT_AUTH,
        choices=AUTH_MODES,
    ),
    FenceOption(
        PARAM_CONFIG_FILE,
        "path",
        "OCI config file with the API key settings (auth=api_key)",
        default=DEFAULT_CONFIG_FILE,
    ),
    FenceOption(
        PARAM_PROFILE,
        "name",
        "Profile in the OCI config file (auth=api_key)",
        default=DEFAULT_PROFILE,
    ),
    FenceOption(
        PARAM_REGION, "region", "OCI region, e.g. us-ashburn-1 (default: the instance's own)"
    ),
    FenceOption(
        PARAM_ENDPOINT,
        "url",
        "Core API endpoint scheme://host[:port] (default: the region's public endpoint)",
    ),
    FenceOption(PARAM_PROXY, "url", "HTTP(S) proxy for the OCI API, e.g. http://proxy:3128"),
    FenceOption(
        PARAM_API_TIMEOUT,
        "seconds",
        "Seconds per OCI API request (throttling, 5xx and timeouts are retried, bounded)",
        default=str(DEFAULT_API_TIMEOUT),
        type="second",
    ),
    FenceOption(
        "compartment",
        "ocid",
        "Compartment OCID of the instances for list and display-name plugs "
        "(default: this instance's compartment)",
    ),
]
FENCE_OPTION_NAMES: List[str] = [o.name for o in FENCE_OPTIONS]
