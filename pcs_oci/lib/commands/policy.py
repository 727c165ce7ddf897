"""`pcs-oci policy`: the OCI IAM a cluster needs, from its config, ready to paste.

The least privilege, by OCI's policy reference ("Details for the Core
Services": the verb + resource-type tables and "Permissions Required for
Each API Operation",
https://docs.oracle.com/en-us/iaas/Content/Identity/Reference/corepolicyreference.htm):

- ListPrivateIps and GetPrivateIp need PRIVATE_IP_READ (inspect private-ips);
  UpdatePrivateIp, which moves the VIP, needs PRIVATE_IP_UPDATE, VNIC_ASSIGN
  and VNIC_UNASSIGN: `use private-ips` plus `use vnics`; GetVnic needs
  VNIC_READ (in `use vnics`).
- CreatePrivateIp (the agent creates a VIP's private IP on its first start
  if it does not exist) also needs SUBNET_ATTACH: `use subnets`.
- IPv6: ListIpv6s and GetIpv6 need IPV6_READ (`read ipv6s`), but UpdateIpv6
  (IPV6_UPDATE, VNIC_ASSIGN, VNIC_UNASSIGN) and CreateIpv6 (IPV6_CREATE,
  SUBNET_ATTACH, VNIC_ASSIGN) are only in `manage ipv6s`: the `use` verb adds
  nothing to `read` for ipv6s.
- fence_oci: GetInstance needs INSTANCE_READ and InstanceAction (STOP, START)
  INSTANCE_POWER_ACTIONS, both in `use instances`.
- Read-only extras: `pcs-oci discover --all` lists instances (ListInstances:
  INSTANCE_READ, `read instances`) and their VNIC attachments
  (ListVnicAttachments: VNIC_ATTACHMENT_READ and INSTANCE_INSPECT, `inspect
  vnic-attachments`); verify's network check reads security lists
  (GetSecurityList: SECURITY_LIST_READ, `inspect security-lists`); status and
  verify read the public IP of each VIP's private IP (GetPublicIpByPrivateIpId:
  PUBLIC_IP_READ, `read public-ips`).
  Checked against OCI's "Permissions Required for Each API Operation" (Core
  Services, updated 2024-11-06, corepolicyreference): GetPublicIpByPrivateIpId
  needs PUBLIC_IP_READ for a reserved public IP and PRIVATE_IP_READ for an
  ephemeral one; the verb table gives public-ips nothing at `inspect` and
  PUBLIC_IP_READ at `read`. So `read public-ips` is the least that shows a
  reserved public IP (the only kind a VIP's secondary private IP can have);
  an ephemeral one on a node's primary IP needs only PRIVATE_IP_READ, which
  `use private-ips` already gives.
"""

import re
from typing import List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.common import exit_codes, reports
from pcs_oci.lib import pacemaker
from pcs_oci.lib.config import Config
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError

COMPARTMENT_PLACEHOLDER = "<compartment-ocid>"
# OCI (dynamic) group names: letters, digits, '-', '_', '.'; at most 100.
_GROUP_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_COMPARTMENT_RE = re.compile(
    r"^ocid1\.(compartment|tenancy)\.[a-z0-9-]+\.[a-z0-9-]*\.[A-Za-z0-9._-]+$"
)


class Statement(NamedTuple):
    verb: str  # "use"
    resource: str  # "private-ips"
    # What it is for: the API operations and the permissions that need it.
    why: str
    # Not needed for VIP moves or fencing, only by discover --all and verify.
    optional: bool = False


class Policy(NamedTuple):
    # "dynamic-group" (instance principals) or "group" (an API key's user).
    principal: str
    group: str
    # The dynamic group's matching rule; None for api_key auth.
    matching_rule: Optional[str]
    # "compartment id ocid1.compartment..." or "tenancy".
    location: str
    compartment_id: Optional[str]
    statements: List[Statement]
    # Where the compartment and the instances came from, what to fill in.
    notes: List[str]
    fencing: str  # why fence_oci's statement is there ("" when it is not)

    def lines(self, optional: bool) -> List[str]:
        return [
            "Allow {} {} to {} {} in {}".format(
                self.principal, self.group, s.verb, s.resource, self.location
            )
            for s in self.statements
            if s.optional == optional
        ]


def _usage(message: str, fix: str) -> PcsOciError:
    return PcsOciError(
        reports.item(reports.USAGE_INVALID_ARGUMENT, message, fix), exit_code=exit_codes.USAGE
    )


def _fence_devices(env: Env) -> List[str]:
    """The fence_oci devices in the cluster; none when it does not run (yet)."""
    try:
        found = pacemaker.primitives(env.runner)
    except PcsOciError:
        return []
    return sorted(p.id for p in found.values() if p.agent == settings.FENCE_AGENT_TYPE)


def _compartment(env: Env, given: Optional[str], notes: List[str]) -> Optional[str]:
    if given:
        if not _COMPARTMENT_RE.match(given):
            raise _usage(
                "--compartment {!r} is not a compartment OCID".format(given),
                "expected ocid1.compartment.<realm>..<id> (or the tenancy's OCID)",
            )
        return given
    try:
        found = str(env.imds.instance().get("compartmentId") or "")
    except PcsOciError as e:
        found = ""
        reason = e.reports[0].message if e.reports else str(e)
        notes.append(
            "{} stands for the compartment of the cluster's instances: the instance "
            "metadata service did not answer ({}); `pcs-oci discover` on a node prints "
            "it, or pass --compartment".format(COMPARTMENT_PLACEHOLDER, reason)
        )
    if found:
        notes.append("compartment: this instance's, from the instance metadata service")
    return found or None


def _matching_rule(config: Config, compartment: Optional[str], notes: List[str]) -> str:
    ids = [n.instance_id for n in config.nodes]
    if all(ids):
        return "Any {{{}}}".format(", ".join("instance.id = '{}'".format(i) for i in ids))
    missing = [n.hostname for n in config.nodes if not n.instance_id]
    notes.append(
        "the matching rule takes every instance of the compartment because the config has "
        "no instance_id for {}: `pcs-oci discover --update` on each node (or `discover --all "
        "--update` on one) writes them, for a rule that matches only the cluster's "
        "instances".format(", ".join(missing))
    )
    return "All {{instance.compartment.id = '{}'}}".format(compartment or COMPARTMENT_PLACEHOLDER)


def _statements(config: Config, fencing: bool) -> List[Statement]:
    found = [
        Statement(
            "use",
            "private-ips",
            "ListPrivateIps, GetPrivateIp; UpdatePrivateIp moves the VIP (PRIVATE_IP_UPDATE); "
            "CreatePrivateIp",
        ),
        Statement(
            "use",
            "vnics",
            "GetVnic; UpdatePrivateIp also needs VNIC_ASSIGN and VNIC_UNASSIGN",
        ),
        Statement(
            "use",
            "subnets",
            "CreatePrivateIp needs SUBNET_ATTACH: only when a VIP's private IP does not exist "
            "yet (the agent creates it on its first start)",
        ),
    ]
    ipv6 = [v.name for v in config.vips if v.address.version == 6]
    if ipv6:
        found.append(
            Statement(
                "manage",
                "ipv6s",
                "IPv6 VIP {}: UpdateIpv6 (IPV6_UPDATE) and CreateIpv6 (IPV6_CREATE) are only "
                "in `manage ipv6s`; `use ipv6s` adds nothing to read".format(", ".join(ipv6)),
            )
        )
    if fencing:
        found.append(
            Statement(
                "use",
                "instances",
                "fence_oci: GetInstance, InstanceAction STOP/START (INSTANCE_POWER_ACTIONS)",
            )
        )
    found += [
        Statement("read", "instances", "`pcs-oci discover --all`: ListInstances", optional=True),
        Statement(
            "inspect",
            "vnic-attachments",
            "`pcs-oci discover --all`: ListVnicAttachments",
            optional=True,
        ),
        Statement(
            "inspect",
            "security-lists",
            "`pcs-oci verify`'s network check: GetSecurityList",
            optional=True,
        ),
        Statement(
            "read",
            "public-ips",
            "`pcs-oci status` and `verify` show the public IP bound to each VIP: "
            "GetPublicIpByPrivateIpId (PUBLIC_IP_READ); without it OCI answers 404 and "
            "they show none",
            optional=True,
        ),
    ]
    return found


def policy(
    env: Env,
    fencing: bool = False,
    group: Optional[str] = None,
    compartment: Optional[str] = None,
) -> Policy:
    config = env.load_config()
    instance_principal = config.oci.auth == "instance_principal"
    name = group or "pcs-oci-{}".format(config.cluster_name or "cluster")
    if not _GROUP_RE.match(name):
        raise _usage(
            "--group {!r} is not a valid group name".format(name),
            "use letters, digits, '-', '_' and '.', at most 100",
        )
    notes: List[str] = []
    compartment_id = _compartment(env, compartment, notes)
    devices = _fence_devices(env)
    why_fencing = (
        "fence_oci devices in the cluster: {}".format(", ".join(devices))
        if devices
        else ("--fencing" if fencing else "")
    )
    if compartment_id and compartment_id.startswith("ocid1.tenancy."):
        location = "tenancy"
    else:
        location = "compartment id {}".format(compartment_id or COMPARTMENT_PLACEHOLDER)
    notes.append(
        "if the VIPs' subnet is in another compartment than the instances, allow "
        "`use subnets` in that compartment too"
    )
    return Policy(
        principal="dynamic-group" if instance_principal else "group",
        group=name,
        matching_rule=_matching_rule(config, compartment_id, notes) if instance_principal else None,
        location=location,
        compartment_id=compartment_id,
        statements=_statements(config, bool(why_fencing)),
        notes=notes,
        fencing=why_fencing,
    )
