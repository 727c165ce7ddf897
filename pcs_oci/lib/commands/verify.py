"""`pcs-oci verify`: every precondition of a working VIP, each with its fix.

Each check returns a Check (PASS, WARN, FAIL or SKIP) with one line of detail
and, for anything but PASS, the command or console step that fixes it. A
check that cannot run (no cluster yet, no config) says SKIP and why, so the
list reads the same on a half-built cluster as on a finished one.
"""

import os
import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.lib import config as config_lib
from pcs_oci.lib import pacemaker
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
POLICY = (
    "allow dynamic-group <group> to use private-ips in compartment <compartment>; "
    "allow dynamic-group <group> to use vnics in compartment <compartment>"
)


TITLE_AUTH = "OCI authentication"
TITLE_PERMISSION = "API permission to read VNICs and private IPs"
TITLE_NODE_VNICS = "the other nodes' VNICs exist in the VIP's subnet"
TITLE_VIP = "the VIP is a secondary private IP"


class Check(NamedTuple):
    id: str
    title: str
    status: str
    detail: str
    fix: str = ""


class VerifyResult(NamedTuple):
    checks: List[Check]

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def counts(self) -> Dict[str, int]:
        result = {PASS: 0, WARN: 0, FAIL: 0, SKIP: 0}
        for check in self.checks:
            result[check.status] += 1
        return result

    def to_dict(self) -> Dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "checks": [c._asdict() for c in self.checks],
        }


def _errors(e: PcsOciError, limit: int = 3) -> str:
    text = "; ".join(r.render() for r in e.reports[:limit])
    if len(e.reports) > limit:
        text += "; and {} more".format(len(e.reports) - limit)
    return text


class _Verifier:
    """Runs the checks in order, sharing what earlier checks learnt."""

    def __init__(self, env: Env):
        self.env = env
        self.checks: List[Check] = []
        self.config: Optional[config_lib.Config] = None
        self.cluster: Optional[pacemaker.ClusterStatus] = None
        self.cluster_error = ""
        self.node: Optional[str] = None
        self.facts: Any = None
        self.local_vnic: Optional[str] = None
        self.api: Any = None
        self.api_ok = False
        self.subnet: Optional[Dict[str, Any]] = None
        self.imds_ok = False
        # The CIB's primitives, once check_cluster_state read them.
        self.primitives: Optional[Dict[str, pacemaker.Primitive]] = None

    def add(self, id: str, title: str, status: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check(id, title, status, detail, fix))

    def skip(self, id: str, title: str, why: str) -> None:
        self.add(id, title, SKIP, why)

    # -- the checks, in the order they are shown

    def check_config(self) -> None:
        try:
            self.config = self.env.load_config()
        except PcsOciError as e:
            self.add(
                "config",
                "configuration valid",
                FAIL,
                _errors(e),
                "`pcs-oci config validate` lists every problem; fix them in {}".format(
                    self.env.config_path
                ),
            )
            return
        self.add(
            "config",
            "configuration valid",
            PASS,
            "{}: {} nodes, {} VIPs".format(
                self.env.config_path, len(self.config.nodes), len(self.config.vips)
            ),
        )

    def check_cluster(self) -> None:
        try:
            self.cluster = pacemaker.cluster_status(self.env.runner)
        except PcsOciError as e:
            self.cluster_error = _errors(e)
        self.node = pacemaker.local_node_name(self.env.runner)
        if self.config is None:
            self.skip("node_in_config", "this node is in the config", "no valid config")
        elif self.config.node(self.node) is None:
            self.add(
                "node_in_config",
                "this node is in the config",
                FAIL,
                "{} is not one of the config's nodes ({})".format(
                    self.node, ", ".join(n.hostname for n in self.config.nodes)
                ),
                "add it to nodes[] with its name as `crm_node -n` prints it",
            )
        else:
            self.add("node_in_config", "this node is in the config", PASS, self.node)
        title = "config hostnames are the cluster's node names"
        if self.config is None:
            self.skip("cluster_nodes", title, "no valid config")
        elif self.cluster is None:
            self.skip("cluster_nodes", title, "no cluster running here: " + self.cluster_error)
        else:
            names = {n.name.lower(): n.name for n in self.cluster.nodes}
            wanted = {n.hostname.lower(): n.hostname for n in self.config.nodes}
            missing = [wanted[k] for k in wanted if k not in names]
            extra = [names[k] for k in names if k not in wanted]
            if missing:
                self.add(
                    "cluster_nodes",
                    title,
                    FAIL,
                    "not cluster nodes: {} (the cluster has {})".format(
                        ", ".join(missing), ", ".join(sorted(names.values()))
                    ),
                    "use the names `crm_node -l` prints in nodes[].hostname",
                )
            elif extra:
                self.add(
                    "cluster_nodes",
                    title,
                    WARN,
                    "cluster nodes not in the config: {} (they discover their VNIC at "
                    "start)".format(", ".join(extra)),
                    "add them to nodes[] and run `pcs-oci discover --all --update`",
                )
            else:
                self.add("cluster_nodes", title, PASS, ", ".join(sorted(names.values())))

    def check_imds(self) -> None:
        from pcs_oci.lib.imds import read_node_facts, vnic_for_ip

        try:
            self.facts = read_node_facts(self.env.imds)
        except PcsOciError as e:
            self.add(
                "imds",
                "instance metadata service reachable",
                FAIL,
                _errors(e),
                "check IMDS v2 is enabled for the instance (console: Instance > Edit > "
                "Instance metadata service) and that 169.254.169.254 is not firewalled",
            )
            for id, title in (
                ("local_vnic", "this node's VNIC matches the config"),
                ("vip_subnet", "each VIP is inside a local subnet"),
            ):
                self.skip(id, title, "needs the instance metadata service")
            return
        self.imds_ok = True
        self.add(
            "imds",
            "instance metadata service reachable",
            PASS,
            "{} ({}, {})".format(
                self.facts.instance_id, self.facts.region, self.facts.availability_domain
            ),
        )
        if self.config is None:
            self.skip("vip_subnet", "each VIP is inside a local subnet", "no valid config")
            self.skip("local_vnic", "this node's VNIC matches the config", "no valid config")
            return
        bad = []
        vnics = set()
        for vip in self.config.vips:
            try:
                vnics.add(vnic_for_ip(self.facts, vip.ip).vnic_id)
            except PcsOciError as e:
                bad.append(_errors(e, 1))
        if bad:
            self.add(
                "vip_subnet",
                "each VIP is inside a local subnet",
                FAIL,
                "; ".join(bad),
                "choose VIPs in the subnet of the nodes' VNICs, or attach a VNIC in that subnet",
            )
        else:
            self.add(
                "vip_subnet",
                "each VIP is inside a local subnet",
                PASS,
                ", ".join(v.ip for v in self.config.vips),
            )
        self.local_vnic = sorted(vnics)[0] if len(vnics) == 1 else None
        entry = self.config.node(self.node or "")
        title = "this node's VNIC matches the config"
        if entry is None or self.local_vnic is None:
            self.skip("local_vnic", title, "this node or its VNIC is unknown")
        elif entry.vnic_id is None:
            self.add(
                "local_vnic",
                title,
                PASS,
                "not in the config; the agent discovers {} at start".format(self.local_vnic),
            )
        elif entry.vnic_id != self.local_vnic:
            self.add(
                "local_vnic",
                title,
                FAIL,
                "config says {}, but this node's VNIC in the VIP subnet is {}".format(
                    entry.vnic_id, self.local_vnic
                ),
                "`pcs-oci discover --update` writes the right one",
            )
        else:
            self.add("local_vnic", title, PASS, self.local_vnic)

    def _skip_api_checks(self, why_auth: str, why_rest: str) -> None:
        self.skip("oci_auth", TITLE_AUTH, why_auth)
        self.skip("oci_permission", TITLE_PERMISSION, why_auth)
        self.skip("node_vnics", TITLE_NODE_VNICS, why_rest)
        self.skip("vip_private_ip", TITLE_VIP, why_rest)

    def check_oci(self) -> None:
        if self.config is None:
            self._skip_api_checks("no valid config", "no valid config")
            return
        if self.config.oci.auth == "instance_principal" and not self.imds_ok:
            # Its certificate comes from the metadata service: retrying the
            # token would only take time and point at the wrong fix.
            why = "instance principals need the instance metadata service (see its check)"
            self._skip_api_checks(why, why)
            return
        vnic_id = self.local_vnic or next((n.vnic_id for n in self.config.nodes if n.vnic_id), None)
        if vnic_id is None:
            self._skip_api_checks("no VNIC known to read", "no VNIC known")
            return
        try:
            self.api = self.env.oci_api(self.config.oci)
            with self.api.budget():
                vnic = self.api.get_vnic(vnic_id)
        except PcsOciError as e:
            codes = set(e.codes)
            if codes & {"OCI_NOT_AUTHORIZED"}:
                self.add("oci_auth", TITLE_AUTH, PASS, "signed requests are accepted")
                self.add(
                    "oci_permission",
                    TITLE_PERMISSION,
                    FAIL,
                    _errors(e, 1),
                    "add the policy statements: " + POLICY,
                )
            else:
                fix = (
                    "put the instances in a dynamic group (e.g. matching instance.compartment.id)"
                    " and allow it: " + POLICY
                    if self.config.oci.auth == "instance_principal"
                    else "check {} and profile {}: `oci setup repair-file-permissions` and the "
                    "key's fingerprint in the console".format(
                        self.config.oci.config_file, self.config.oci.profile
                    )
                )
                if codes & {"OCI_CLOCK_SKEW"}:
                    fix = "set the clock: `chronyc tracking`, `systemctl enable --now chronyd`"
                self.add("oci_auth", TITLE_AUTH, FAIL, _errors(e, 1), fix)
                self.skip("oci_permission", TITLE_PERMISSION, "authentication failed")
            self.skip("node_vnics", TITLE_NODE_VNICS, "no API access")
            self.skip("vip_private_ip", TITLE_VIP, "no API access")
            return
        self.add(
            "oci_auth",
            TITLE_AUTH,
            PASS,
            "{} works ({})".format(
                self.config.oci.auth, self.config.oci.region or "region of the instance"
            ),
        )
        self.api_ok = True
        self._check_private_ips(vnic)

    def check_network(self) -> None:
        """Subnet scope and security rules, read through the API."""
        title = "the OCI network lets the cluster fail over"
        if self.config is None or not self.api_ok:
            self.skip(
                "network", title, "no valid config" if self.config is None else "no API access"
            )
            return
        vnic_ids: List[str] = []
        for vnic_id in [self.local_vnic] + [n.vnic_id for n in self.config.nodes]:
            if vnic_id and vnic_id not in vnic_ids:
                vnic_ids.append(vnic_id)
        try:
            with self.api.budget():
                vnics = [self.api.get_vnic(v) for v in vnic_ids]
                subnet = self.api.get_subnet(vnics[0]["subnet_id"])
                lists = [
                    self.api.get_security_list(i) for i in subnet.get("security_list_ids") or []
                ]
                nsg_ids = sorted({n for v in vnics for n in v.get("nsg_ids") or []})
                nsg_rules = [r for n in nsg_ids for r in self.api.list_nsg_rules(n)]
        except PcsOciError as e:
            self.add(
                "network",
                title,
                WARN,
                "cannot read the subnet and its security rules: " + _errors(e, 1),
                "allow the dynamic group to `read virtual-network-family` in the compartment so "
                "verify can check them",
            )
            return
        from pcs_oci.lib import network_rules

        problems = []
        ads = sorted({str(v["availability_domain"]) for v in vnics if v.get("availability_domain")})
        if len(ads) > 1 and subnet.get("availability_domain"):
            problems.append(
                "the nodes are in {} but subnet {} belongs to {} only: the VIP cannot move "
                "across availability domains".format(
                    " and ".join(ads), subnet.get("cidr_block"), subnet["availability_domain"]
                )
            )
        peers = [str(v["private_ip"]) for v in vnics if v.get("private_ip")]
        gaps = network_rules.missing(lists, nsg_rules, peers, nsg_ids)
        if problems:
            self.add(
                "network",
                title,
                FAIL,
                "; ".join(problems),
                "put every node's VNIC in one regional subnet (subnets are regional unless "
                "created for one availability domain)",
            )
        elif gaps:
            self.add(
                "network",
                title,
                WARN,
                "no ingress rule of subnet {}'s security lists or the VNICs' NSGs allows {} "
                "between the nodes ({})".format(
                    subnet.get("cidr_block"),
                    " and ".join(
                        "{} {}/{}".format(g.what, g.protocol.upper(), g.port) for g in gaps
                    ),
                    ", ".join(peers),
                ),
                "add stateful ingress rules from {} for {} to the subnet's security list or the "
                "nodes' NSG".format(
                    subnet.get("cidr_block"),
                    " and ".join("{} {}".format(g.protocol.upper(), g.port) for g in gaps),
                ),
            )
        else:
            self.add(
                "network",
                title,
                PASS,
                "{} subnet {}; UDP 5405 and TCP 2224 allowed between {} known node VNIC(s)".format(
                    "regional" if not subnet.get("availability_domain") else "AD-specific",
                    subnet.get("cidr_block"),
                    len(vnics),
                ),
            )

    def _check_node_vnics(self, subnet_id: str) -> None:
        """The other nodes' configured VNICs: a wrong one fails only at failover."""
        if self.config is None:
            return
        others = [n for n in self.config.nodes if n.vnic_id and n.hostname != self.node]
        if not others:
            self.add(
                "node_vnics",
                TITLE_NODE_VNICS,
                PASS,
                "no other node has a vnic_id in the config: each agent discovers its own",
            )
            return
        problems, found = [], []
        for node in others:
            try:
                with self.api.budget():
                    other = self.api.get_vnic(node.vnic_id)
            except PcsOciError as e:
                problems.append("{}: {}".format(node.hostname, _errors(e, 1)))
                continue
            if other.get("subnet_id") != subnet_id:
                problems.append(
                    "{}: VNIC {} is in subnet {}, not in the VIP's subnet {}: the VIP cannot "
                    "move there".format(
                        node.hostname, node.vnic_id, other.get("subnet_id"), subnet_id
                    )
                )
            else:
                found.append(node.hostname)
        if problems:
            self.add(
                "node_vnics",
                TITLE_NODE_VNICS,
                FAIL,
                "; ".join(problems),
                "`pcs-oci discover --all --update` writes every node's VNIC in the VIP's subnet "
                "(or `pcs-oci discover --update` on that node), then `pcs-oci configure`",
            )
        else:
            self.add("node_vnics", TITLE_NODE_VNICS, PASS, ", ".join(found))

    def _check_private_ips(self, vnic: Dict[str, Any]) -> None:
        from pcs_oci.lib.vip import where_is_vip

        if self.config is None:
            return
        owners = {n.vnic_id: n.hostname for n in self.config.nodes if n.vnic_id}
        details, problems, warnings = [], [], []
        try:
            with self.api.budget():
                for vip in self.config.vips:
                    info = where_is_vip(self.api, vip.ip, vnic["subnet_id"])
                    if info is None:
                        warnings.append(
                            "{} does not exist yet: the first start creates it".format(vip.ip)
                        )
                    elif info.is_primary:
                        problems.append(
                            "{} is the primary IP of VNIC {}: it cannot move".format(
                                vip.ip, info.vnic_id
                            )
                        )
                    else:
                        details.append(
                            "{} on VNIC {} ({})".format(
                                vip.ip, info.vnic_id or "none", owners.get(info.vnic_id or "", "?")
                            )
                        )
        except PcsOciError as e:
            self.add(
                "oci_permission",
                TITLE_PERMISSION,
                FAIL,
                _errors(e, 1),
                "add the policy statements: " + POLICY,
            )
            self.skip("node_vnics", TITLE_NODE_VNICS, "cannot list private IPs")
            self.skip("vip_private_ip", TITLE_VIP, "cannot list private IPs")
            return
        self.add("oci_permission", TITLE_PERMISSION, PASS, "GetVnic and ListPrivateIps allowed")
        self._check_node_vnics(vnic["subnet_id"])
        if problems:
            self.add(
                "vip_private_ip",
                TITLE_VIP,
                FAIL,
                "; ".join(problems),
                "choose another address for the VIP: a primary IP belongs to its instance",
            )
        elif warnings:
            self.add(
                "vip_private_ip",
                TITLE_VIP,
                WARN,
                "; ".join(warnings + details),
                "optional: create it now in the console (VNIC > IPv4 Addresses > Assign "
                "Secondary Private IP)",
            )
        else:
            self.add("vip_private_ip", TITLE_VIP, PASS, "; ".join(details))

    def check_agent(self) -> None:
        title = "agent {} installed on every node".format(settings.AGENT_TYPE)
        problems = []
        if not pacemaker.agent_installed():
            problems.append("{} is missing on this node".format(pacemaker.agent_path()))
        missing: Dict[str, Dict[str, str]] = {}
        if self.cluster is not None and self.config is not None and self.config.vips:
            try:
                missing = pacemaker.agent_missing_on(
                    self.env.runner, [v.name for v in self.config.vips]
                )
            except PcsOciError as e:
                problems.append("cannot read the cluster's operation history: " + _errors(e, 1))
        for node, reasons in sorted(missing.items()):
            problems.append(
                "missing on {}: Pacemaker's probe of {} there said not installed ({}): no "
                "failover to that node".format(
                    node, ", ".join(reasons), "; ".join(sorted(set(reasons.values())))
                )
            )
        if not problems:
            where = "this node" if self.cluster is None else "this node, and no node's probe failed"
            self.add("agent", title, PASS, "{} ({})".format(pacemaker.agent_path(), where))
            return
        fix = "yum install pcs-oci (on every node)"
        for node, reasons in sorted(missing.items()):
            fix += "; then " + ", ".join(
                "`pcs resource refresh {} node={}`".format(n, node) for n in reasons
            )
        self.add("agent", title, FAIL, "; ".join(problems), fix)

    def check_cluster_state(self) -> None:
        from pcs_oci.lib.commands.configure import plan_vip

        existing: Optional[Dict[str, pacemaker.Primitive]] = None
        defaults: Dict[str, str] = {}
        cib_error = ""
        if self.cluster is not None and self.config is not None:
            try:
                cib = pacemaker.configuration(self.env.runner)
                existing = pacemaker.primitives_in(cib)
                self.primitives = existing
                defaults = pacemaker.resource_defaults(cib)
            except PcsOciError as e:
                cib_error = _errors(e)
        if self.config is not None:
            self._check_stickiness(self.config, existing or {}, defaults)
        if self.cluster is None:
            for id, title in (
                ("nodes_online", "every node online"),
                ("resources", "VIP resources match the config"),
                ("fencing", "fencing (STONITH) enabled with a device"),
                ("quorum", "quorum policy sensible for the cluster size"),
            ):
                self.skip(id, title, "no cluster running here: " + self.cluster_error)
            return
        offline = [n.name for n in self.cluster.nodes if not n.online]
        standby = [n.name for n in self.cluster.nodes if n.standby]
        if offline:
            self.add(
                "nodes_online",
                "every node online",
                FAIL,
                "offline: " + ", ".join(offline),
                "start the cluster there: `pcs cluster start <node>`",
            )
        elif standby:
            self.add(
                "nodes_online",
                "every node online",
                WARN,
                "in standby: " + ", ".join(standby),
                "`pcs node unstandby <node>` when maintenance is over",
            )
        else:
            self.add(
                "nodes_online",
                "every node online",
                PASS,
                ", ".join(n.name for n in self.cluster.nodes),
            )
        title = "VIP resources match the config"
        if self.config is None:
            self.skip("resources", title, "no valid config")
        else:
            if cib_error:
                self.add("resources", title, FAIL, cib_error, "check `pcs status`")
            if existing is not None:
                missing, differ, foreign = [], [], []
                for vip in self.config.vips:
                    found = existing.get(vip.name)
                    if found is None:
                        missing.append(vip.name)
                    elif found.agent != settings.AGENT_TYPE:
                        foreign.append("{} is {}".format(vip.name, found.agent))
                    else:
                        plan = plan_vip(self.config, vip, found)
                        if plan.action != "unchanged":
                            differ.append("{} ({})".format(vip.name, "; ".join(plan.changes)))
                if foreign:
                    self.add(
                        "resources",
                        title,
                        FAIL,
                        "; ".join(foreign),
                        "replace them: `pcs resource delete <name>` then `pcs-oci configure`",
                    )
                elif missing or differ:
                    detail = "; ".join(
                        (["not created: " + ", ".join(missing)] if missing else [])
                        + (["differ: " + ", ".join(differ)] if differ else [])
                    )
                    self.add(
                        "resources",
                        title,
                        WARN,
                        detail,
                        "`pcs-oci configure` (see `pcs-oci configure --dry-run` first)",
                    )
                else:
                    self.add("resources", title, PASS, ", ".join(v.name for v in self.config.vips))
        self._check_fencing(self.cluster)
        self._check_quorum(self.cluster)

    def _check_stickiness(
        self,
        config: config_lib.Config,
        existing: Dict[str, pacemaker.Primitive],
        defaults: Dict[str, str],
    ) -> None:
        """The config's value, and what each existing VIP resource really runs with."""
        title = "resource stickiness prevents failback"
        if config.resource_stickiness <= 0:
            self.add(
                "stickiness",
                title,
                WARN,
                "stickiness {} in the config: the VIP moves back when a failed node returns, "
                "a second outage".format(config.resource_stickiness),
                'set "resource_stickiness": 100 and run `pcs-oci configure`',
            )
            return
        low = []
        for vip in config.vips:
            found = existing.get(vip.name)
            if found is None or found.agent != settings.AGENT_TYPE:
                continue
            value, source = found.meta.get("resource-stickiness"), "its meta attribute"
            if value is None:
                value, source = defaults.get("resource-stickiness"), "the cluster default"
            if value is None:
                value, source = "0", "Pacemaker's default"
            if not _positive_score(value):
                low.append("{} has resource-stickiness={} ({})".format(vip.name, value, source))
        if low:
            self.add(
                "stickiness",
                title,
                WARN,
                "; ".join(low) + ": it moves back when a failed node returns, a second outage",
                "`pcs-oci configure` sets resource-stickiness={} on each VIP".format(
                    config.resource_stickiness
                ),
            )
        else:
            self.add(
                "stickiness",
                title,
                PASS,
                "resource-stickiness={}".format(config.resource_stickiness),
            )

    def _check_fencing(self, cluster: pacemaker.ClusterStatus) -> None:
        title = "fencing (STONITH) enabled with a device"
        devices = [r for r in cluster.resources.values() if r.agent.startswith("stonith:")]
        if cluster.stonith_enabled and devices:
            self.add("fencing", title, PASS, ", ".join(r.id for r in devices))
        else:
            self.add(
                "fencing",
                title,
                WARN,
                "{}={} with {} device(s): after a network partition both nodes may "
                "start the VIP; OCI gives the private IP to the last mover, so clients may "
                "reach a node the cluster lost".format(
                    cluster.fencing_option, str(cluster.stonith_enabled).lower(), len(devices)
                ),
                "configure a fence device for every node and `pcs property set {}=true`".format(
                    cluster.fencing_option
                ),
            )

    def check_fence_agent(self) -> None:
        """A `status` of every fence_oci target through the agent, as the fencer runs it."""
        from pcs_oci.lib.commands import stonith

        title = "fence_oci reaches every node's instance"
        if self.cluster is None or self.primitives is None:
            self.skip("fence_agent", title, "no cluster configuration to read")
            return
        compartment = getattr(self.facts, "compartment_id", "") or ""
        found = stonith.check_status(self.env.runner, self.primitives, compartment)
        self.add("fence_agent", title, found.status, found.detail, found.fix)

    def _check_quorum(self, cluster: pacemaker.ClusterStatus) -> None:
        title = "quorum policy sensible for the cluster size"
        if len(cluster.nodes) != 2:
            self.add("quorum", title, PASS, "{} nodes".format(len(cluster.nodes)))
            return
        result = self.env.runner.run(
            [settings.COROSYNC_CMAPCTL, "-g", "quorum.two_node"], timeout=10
        )
        two_node = result.ok and result.stdout.strip().endswith("= 1")
        if two_node:
            self.add("quorum", title, PASS, "two_node: 1")
        elif pacemaker.cluster_property(self.env.runner, "no-quorum-policy") == "ignore":
            self.add(
                "quorum",
                title,
                WARN,
                "no-quorum-policy=ignore without two_node",
                "set `two_node: 1` in corosync.conf's quorum section and remove "
                "no-quorum-policy=ignore",
            )
        else:
            self.add(
                "quorum",
                title,
                FAIL,
                "2 nodes without two_node: losing one node stops the VIP",
                "`pcs quorum update two_node=1` (with the cluster stopped) or add a node",
            )

    def check_packages(self) -> None:
        """Versions of the stack, and whether pcs-oci's own files are intact."""
        from pcs_oci.lib.rpminfo import RpmInfo

        info = RpmInfo(self.env.runner)
        title = "packages installed and intact"
        stack = info.stack()
        missing = [p.name for p in stack[:4] if not p.installed]
        versions = (
            ", ".join("{} {}".format(p.name, p.version) for p in stack if p.installed)
            or "no package versions known"
        )
        if missing:
            self.add(
                "packages",
                title,
                FAIL,
                "not installed: {} ({})".format(", ".join(missing), versions),
                "yum install " + " ".join(missing),
            )
            return
        check = info.verify_files()
        if check.installed and not check.intact:
            self.add(
                "packages",
                title,
                WARN,
                "files of pcs-oci differ from the package: {}".format(
                    ", ".join("{} ({})".format(c.path, c.flags) for c in check.changed[:5])
                ),
                "reinstall it: yum reinstall pcs-oci",
            )
            return
        note = "" if check.installed else "; pcs-oci itself is not an installed package here"
        self.add("packages", title, PASS, versions + note)

    def check_conflicts(self) -> None:
        title = "no other software manages the VIP"
        found = []
        if _process_running("ocid"):
            found.append("oci-utils' ocid daemon runs and may remove secondary IPs it did not add")
        if self.config is not None:
            for path in _network_config_files():
                text = _read(path)
                for vip in self.config.vips:
                    if text and re.search(r"(?<![\d.:]){}(?![\d])".format(re.escape(vip.ip)), text):
                        found.append("{} mentions {}".format(path, vip.ip))
        if found:
            self.add(
                "conflicts",
                title,
                WARN,
                "; ".join(found),
                "stop ocid managing VNIC addresses (`systemctl disable --now ocid` or "
                "vnic_ignore in /etc/oci-utils.conf.d) and remove the VIP from static "
                "network config: only the cluster may add it",
            )
        else:
            self.add("conflicts", title, PASS, "no ocid daemon, no static VIP config")

    def check_firewall(self) -> None:
        title = "firewall allows the cluster"
        if not _process_running("firewalld"):
            self.add("firewall", title, PASS, "firewalld is not running")
            return
        result = self.env.runner.run(
            [settings.FIREWALL_CMD, "--query-service=high-availability"], timeout=10
        )
        if result.ok:
            self.add("firewall", title, PASS, "high-availability service open")
        else:
            self.add(
                "firewall",
                title,
                FAIL,
                "firewalld runs without the high-availability service",
                "firewall-cmd --permanent --add-service=high-availability && firewall-cmd --reload",
            )


def _positive_score(value: str) -> bool:
    """A Pacemaker score above 0 (INFINITY and +INFINITY included)."""
    text = value.strip().upper()
    if text in ("INFINITY", "+INFINITY"):
        return True
    try:
        return int(text) > 0
    except ValueError:
        return False


def _process_running(name: str) -> bool:
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            with open("/proc/{}/comm".format(pid)) as f:
                if f.read().strip() == name:
                    return True
        except OSError:
            continue
    return False


def _network_config_files() -> List[str]:
    found = []
    for directory in (
        "/etc/sysconfig/network-scripts",
        "/etc/NetworkManager/system-connections",
        "/etc/netplan",
    ):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        found += [os.path.join(directory, n) for n in names]
    return found + ["/etc/network/interfaces"]


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read(1024 * 1024)
    except OSError:
        return ""


def verify(env: Env) -> VerifyResult:
    v = _Verifier(env)
    steps: List[Callable[[], None]] = [
        v.check_config,
        v.check_cluster,
        v.check_imds,
        v.check_oci,
        v.check_network,
        v.check_agent,
        v.check_cluster_state,
        v.check_fence_agent,
        v.check_packages,
        v.check_conflicts,
        v.check_firewall,
    ]
    for step in steps:
        step()
    return VerifyResult(v.checks)
