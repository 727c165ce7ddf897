"""`pcs-oci` configure, verify, status and unconfigure on a real 2-node cluster with fencing.

The real `pcs-oci` runs inside the lab nodes, as a sysadmin would type it,
against the real pcs, Pacemaker and Corosync, and the fake OCI services.
Inside node1 (only there: a bind mount in that node's mount namespace) pcs
is wrapped by a recorder that appends each argv to a file and then runs the
real pcs. That lets a test compare what `--dry-run` printed with what the
real run executed, and show that a no-op run ran nothing but `pcs --version`.
The scenarios share one lab and run in order.
"""

import copy
import json
import shlex
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from tests.lab.lab import poll, unavailable_reason
from tests.lab.oci_lab import NET, VIP, OciLab

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

ADMIN = "node1"  # where the sysadmin types; pcs is recorded here
PCS = "/usr/sbin/pcs"
VIP2 = NET + ".201"
PROVIDER_DIR = "/usr/lib/ocf/resource.d/oci"
# The checks these tests know; verify may grow others (they must not WARN or
# FAIL on a healthy lab, and the fault tests ignore them).
KNOWN_CHECKS = {
    "config",
    "node_in_config",
    "cluster_nodes",
    "imds",
    "vip_subnet",
    "local_vnic",
    "oci_auth",
    "oci_permission",
    "node_vnics",
    "vip_private_ip",
    "agent",
    "stickiness",
    "failure_timeout",
    "nodes_online",
    "resources",
    "fencing",
    "quorum",
    "conflicts",
    "firewall",
}


@pytest.fixture(scope="module")
def ol(request: Any) -> Iterator[OciLab]:
    lab = OciLab("cli", fencing=True)
    lab.up()
    failed_before = request.session.testsfailed
    try:
        record_pcs(lab, ADMIN)
        yield lab
    finally:
        lab.close(failed=request.session.testsfailed > failed_before)


def record_pcs(ol: OciLab, node: str) -> None:
    """Wrap pcs inside `node`: log the arguments, then exec the real pcs."""
    real = ol.tmp / "pcs-real"
    real.write_bytes(open(PCS, "rb").read())
    real.chmod(0o755)
    wrapper = ol.tmp / "pcs-recorder"
    script = [
        "#!/usr/bin/python3",
        "import json, os, sys",
        "with open({!r}, 'a') as f:".format(str(ol.tmp / "pcs-calls.jsonl")),
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')",
        "os.execv('/usr/bin/python3', ['/usr/bin/python3', '-Es', {!r}] + sys.argv[1:])".format(
            str(real)
        ),
    ]
    wrapper.write_text("\n".join(script) + "\n")
    wrapper.chmod(0o755)
    ol.lab.exec(node, "mount", "--bind", str(wrapper), PCS)
    assert ol.lab.exec(node, "pcs", "--version").stdout.strip()
    assert pcs_calls(ol) == [["--version"]]


def pcs_calls(ol: OciLab) -> List[List[str]]:
    """The pcs argv (without pcs itself) run in ADMIN since the last call; clears the log."""
    path = ol.tmp / "pcs-calls.jsonl"
    text = path.read_text() if path.exists() else ""
    path.write_text("")
    return [json.loads(line) for line in text.splitlines()]


def other(node: str) -> str:
    return "node2" if node == "node1" else "node1"


def write(ol: OciLab, doc: Dict[str, Any], name: str = "pcs-oci.json") -> str:
    return ol.write_config(doc, name)


def base_doc(ol: OciLab, **vip: Any) -> Dict[str, Any]:
    return ol.config_doc(vnic_ids=("node1", "node2"), **vip)


def cli(ol: OciLab, config: str, *args: str, node: str = ADMIN, rc: int = 0) -> Any:
    result = ol.pcs_oci(node, "--config", config, *args, check=False)
    assert result.returncode == rc, "exit {}\n{}{}".format(
        result.returncode, result.stdout, result.stderr
    )
    return result


def dry_run(ol: OciLab, config: str, *args: str) -> List[List[str]]:
    """The commands `configure --dry-run` prints, split as a shell would."""
    out = cli(ol, config, "configure", "--dry-run", *args).stdout
    commands = [shlex.split(line) for line in out.splitlines() if not line.startswith("#")]
    assert all(c[0] == PCS for c in commands), out
    return commands


def pcs(ol: OciLab, *args: str, node: str = ADMIN) -> str:
    return str(ol.lab.exec(node, "pcs", *args, timeout=120).stdout)


def cib_versions(ol: OciLab) -> Tuple[str, str]:
    """(admin_epoch, epoch): every change of the configuration raises epoch."""
    root = ET.fromstring(ol.lab.exec(ADMIN, "cibadmin", "--query").stdout)
    return root.get("admin_epoch", ""), root.get("epoch", "")


def cib_section(ol: OciLab, scope: str) -> str:
    return str(ol.lab.exec(ADMIN, "cibadmin", "--query", "--scope", scope).stdout)


def lrm_ops(ol: OciLab, rsc: str, node: str) -> List[Dict[str, str]]:
    """Pacemaker's record of the operations of `rsc` on `node` (CIB status section)."""
    root = ET.fromstring(cib_section(ol, "status"))
    for state in root.iter("node_state"):
        if state.get("uname") != node:
            continue
        for lrm in state.iter("lrm_resource"):
            if lrm.get("id") == rsc:
                return [dict(op.attrib) for op in lrm.findall("lrm_rsc_op")]
    return []


def start_record(ol: OciLab, rsc: str, node: str) -> Tuple[str, str]:
    (start,) = [op for op in lrm_ops(ol, rsc, node) if op["operation"] == "start"]
    return start["call-id"], start["last-rc-change"]


def verify_checks(ol: OciLab, config: str, node: str = ADMIN, rc: int = 3) -> Dict[str, Any]:
    """verify --json's checks by id (all of them, known or not)."""
    data = json.loads(cli(ol, config, "verify", "--json", node=node, rc=rc).stdout)
    checks = {c["id"]: c for c in data["checks"]}
    assert KNOWN_CHECKS <= set(checks)
    assert data["ok"] is (rc == 0)
    return checks


def not_passing(checks: Dict[str, Any]) -> Dict[str, str]:
    """The known checks that did not pass, with their status."""
    return {
        k: c["status"] for k, c in checks.items() if c["status"] != "PASS" and k in KNOWN_CHECKS
    }


def holder_of_vip(ol: OciLab) -> str:
    (holder,) = ol.lab.where("vip")
    return holder


def imds_pid(ol: OciLab, node: str) -> Optional[str]:
    found = ol.lab.exec(node, "pgrep", "-f", "tests.fakes.server", check=False).stdout.split()
    return found[0] if found else None


def restart_imds(ol: OciLab, node: str) -> None:
    services = ol.tmp / "node-services"
    ol.lab.exec(node, "sh", "-c", "nohup {} {} >/dev/null 2>&1 &".format(services, node))
    probe = "import socket; socket.create_connection(('127.0.0.1', 8169), 1)"
    poll(
        lambda: ol.lab.exec(node, "python3", "-c", probe, check=False).returncode == 0,
        timeout=20,
        what="IMDS back on " + node,
    )


# ---------------------------------------------------------------- configure


def test_01_configure_from_nothing_runs_exactly_what_dry_run_printed(ol: OciLab) -> None:
    config = write(ol, base_doc(ol))
    pcs_calls(ol)
    before = cib_versions(ol)
    commands = dry_run(ol, config)
    # The dry run reads (pcs --version) and changes nothing.
    assert pcs_calls(ol) == [["--version"]]
    assert cib_versions(ol) == before
    assert [c[:5] for c in commands] == [[PCS, "resource", "create", "vip", "ocf:oci:IPaddr2"]]

    out = cli(ol, config, "configure").stdout
    assert out.splitlines() == ["vip: created"]
    assert pcs_calls(ol) == [["--version"]] + [c[1:] for c in commands]
    holder = poll(lambda: ol.lab.where("vip"), timeout=60, what="vip started")[0]
    ol.wait_everywhere(holder)
    assert ol.control.calls("CreatePrivateIp")
    shown = pcs(ol, "resource", "config", "vip")
    shown_texts = ("ip=" + VIP, "interval=5s", "resource-stickiness=100", "timeout=70s")
    # Two start timeouts: a start failed everywhere is retried (test_11b).
    for text in shown_texts + ("failure-timeout=140s",):
        assert text in shown, shown


def test_02_configure_again_is_unchanged_and_changes_nothing(ol: OciLab) -> None:
    config = write(ol, base_doc(ol))
    pcs_calls(ol)
    before = cib_versions(ol)
    assert cli(ol, config, "configure", "--dry-run").stdout.startswith("# nothing to do")
    assert cli(ol, config, "configure").stdout.splitlines() == ["vip: unchanged"]
    assert pcs_calls(ol) == [["--version"], ["--version"]]
    assert cib_versions(ol) == before


class AddressWatch:
    """Samples, in the background, which nodes have the VIP."""

    def __init__(self, ol: OciLab, node: str):
        self.ol, self.node = ol, node
        self.samples = 0
        self.elsewhere: List[List[str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            holders = self.ol.os_holders()
            self.samples += 1
            if holders != [self.node]:
                self.elsewhere.append(holders)
            time.sleep(0.1)

    def __enter__(self) -> "AddressWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(10)


def test_03_new_monitor_interval_updates_only_that_op_without_a_restart(ol: OciLab) -> None:
    holder = holder_of_vip(ol)
    started = start_record(ol, "vip", holder)
    resources = ET.fromstring(cib_section(ol, "resources"))
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    commands = dry_run(ol, config)
    assert commands == [
        [PCS, "resource", "update", "vip", "op", "monitor", "interval=7s", "timeout=20s"]
    ]
    pcs_calls(ol)
    ol.control.clear_calls()
    with AddressWatch(ol, holder) as watch:
        out = cli(ol, config, "configure").stdout
        assert out.splitlines() == [
            "vip: updated (op monitor: interval=5s timeout=20s -> interval=7s timeout=20s)"
        ]
        assert pcs_calls(ol) == [["--version"]] + [c[1:] for c in commands]
        poll(
            lambda: any(
                op["id"] == "vip_monitor_7000" and op["rc-code"] == "0"
                for op in lrm_ops(ol, "vip", holder)
            ),
            timeout=30,
            what="the 7 s monitor running",
        )
        time.sleep(1)
    # Never stopped, never started again: same start, no stop, the address
    # never left, and no agent start talked to OCI.
    assert start_record(ol, "vip", holder) == started
    assert not [op for op in lrm_ops(ol, "vip", holder) if op["operation"] == "stop"]
    assert watch.samples > 5 and watch.elsewhere == []
    assert ol.control.calls() == []
    assert ol.lab.where("vip") == [holder]
    # Only the monitor op changed in the resource's configuration.
    after = ET.fromstring(cib_section(ol, "resources"))
    for root in (resources, after):
        ops = root.find(".//primitive[@id='vip']/operations")
        assert ops is not None
        for op in ops.findall("op[@name='monitor']"):
            ops.remove(op)
        for element in root.iter():
            element.text = element.tail = None
    assert ET.tostring(after) == ET.tostring(resources)


def test_04_set_defaults_sets_the_cluster_default_once(ol: OciLab) -> None:
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    assert "resource-stickiness" not in pcs(ol, "resource", "defaults")
    pcs_calls(ol)
    out = cli(ol, config, "configure", "--set-defaults").stdout
    assert out.splitlines() == [
        "vip: unchanged",
        "cluster-wide default resource-stickiness: set",
    ]
    assert pcs_calls(ol) == [
        ["--version"],
        ["resource", "defaults", "update", "resource-stickiness=100"],
    ]
    assert "resource-stickiness=100" in pcs(ol, "resource", "defaults")
    pcs_calls(ol)
    before = cib_versions(ol)
    out = cli(ol, config, "configure", "--set-defaults").stdout
    assert out.splitlines() == [
        "vip: unchanged",
        "cluster-wide default resource-stickiness: unchanged",
    ]
    assert pcs_calls(ol) == [["--version"]]
    assert cib_versions(ol) == before


# ---------------------------------------------------------------- verify


def test_05_verify_passes_everything_on_every_node(ol: OciLab) -> None:
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    for node in ("node1", "node2"):
        checks = verify_checks(ol, config, node=node, rc=0)
        assert not_passing(checks) == {}, {k: c["detail"] for k, c in checks.items()}
        assert [c for c in checks.values() if c["status"] in ("WARN", "FAIL")] == []
    out = cli(ol, config, "verify").stdout
    assert ", 0 WARN, 0 FAIL, " in out.splitlines()[-1], out
    assert not [line for line in out.splitlines() if line.startswith(("WARN", "FAIL"))]


def test_06_verify_wrong_vnic_id_of_this_node(ol: OciLab) -> None:
    doc = base_doc(ol, monitor_interval="7s")
    doc["nodes"][0]["vnic_id"] = "ocid1.vnic.oc1.iad." + "a" * 60
    config = write(ol, doc, "wrong-vnic.json")
    checks = verify_checks(ol, config)
    assert not_passing(checks) == {"local_vnic": "FAIL", "resources": "WARN"}
    assert ol.node("node1")["vnic_id"] in checks["local_vnic"]["detail"]
    assert "pcs-oci discover --update" in checks["local_vnic"]["fix"]
    out = cli(ol, config, "verify", rc=3).stdout
    assert "FAIL  this node's VNIC matches the config: config says ocid1.vnic.oc1.iad.aaa" in out
    assert "      fix: `pcs-oci discover --update` writes the right one" in out


def test_07_verify_wrong_vnic_id_of_the_other_node(ol: OciLab) -> None:
    doc = base_doc(ol, monitor_interval="7s")
    doc["nodes"][1]["vnic_id"] = "ocid1.vnic.oc1.iad." + "b" * 60
    checks = verify_checks(ol, write(ol, doc, "wrong-vnic2.json"))
    assert not_passing(checks) == {"node_vnics": "FAIL", "resources": "WARN"}
    assert checks["node_vnics"]["detail"].startswith("node2: ")
    assert "NotAuthorizedOrNotFound" in checks["node_vnics"]["detail"]
    assert "pcs-oci discover --all --update" in checks["node_vnics"]["fix"]


def test_08_verify_imds_down(ol: OciLab) -> None:
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    pid = imds_pid(ol, ADMIN)
    assert pid
    ol.lab.exec(ADMIN, "kill", pid)
    poll(lambda: imds_pid(ol, ADMIN) is None, timeout=10, what="IMDS gone")
    try:
        start = time.monotonic()
        checks = verify_checks(ol, config)
        elapsed = time.monotonic() - start
    finally:
        restart_imds(ol, ADMIN)
    skipped = ("local_vnic", "vip_subnet", "oci_auth", "oci_permission", "node_vnics")
    assert not_passing(checks) == dict(
        {"imds": "FAIL", "vip_private_ip": "SKIP"}, **{k: "SKIP" for k in skipped}
    )
    assert "unreachable" in checks["imds"]["detail"]
    assert "Instance metadata service" in checks["imds"]["fix"]
    assert "need the instance metadata service" in checks["oci_auth"]["detail"]
    # A hang bound, not a speed claim: unreachable IMDS is refused at once,
    # and verify must not wait out long timeouts on it.
    assert elapsed < 45, elapsed
    verify_checks(ol, config, rc=0)


def test_09_verify_auth_denied_names_the_policy(ol: OciLab) -> None:
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    instance = ol.node(ADMIN)["instance_id"]
    ol.control.deny(instance)
    try:
        checks = verify_checks(ol, config)
    finally:
        ol.control.allow(instance)
    assert not_passing(checks) == {
        "oci_permission": "FAIL",
        "node_vnics": "SKIP",
        "vip_private_ip": "SKIP",
    }
    assert "NotAuthorizedOrNotFound" in checks["oci_permission"]["detail"]
    assert "allow dynamic-group <group> to use private-ips" in checks["oci_permission"]["fix"]
    verify_checks(ol, config, rc=0)


def probe_says_not_installed(ol: OciLab, node: str) -> bool:
    return any(op["id"] == "vip_last_0" and op["rc-code"] == "5" for op in lrm_ops(ol, "vip", node))


def test_10_missing_agent_on_a_node(ol: OciLab) -> None:
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    holder = holder_of_vip(ol)
    bare = other(holder)
    # The provider directory is a bind mount in that node only: unmounting it
    # leaves the empty directory an uninstalled package would.
    ol.lab.exec(bare, "umount", PROVIDER_DIR)
    try:
        before = cib_versions(ol)
        result = cli(ol, config, "configure", node=bare, rc=3)
        assert "the agent ocf:oci:IPaddr2 is not installed on this node" in result.stderr
        assert cib_versions(ol) == before
        checks = verify_checks(ol, config, node=bare)
        assert not_passing(checks) == {"agent": "FAIL"}
        assert "missing on this node" in checks["agent"]["detail"]
        assert "yum install pcs-oci" in checks["agent"]["fix"]
        # Pacemaker probes a node when it joins; make it probe now.
        pcs(ol, "resource", "refresh", "vip", "node=" + bare)
        poll(lambda: probe_says_not_installed(ol, bare), timeout=30, what="probe on " + bare)
        # From the node that has the agent, only Pacemaker's probe tells.
        checks = verify_checks(ol, config, node=holder)
        assert not_passing(checks) == {"agent": "FAIL"}
        assert "missing on {}".format(bare) in checks["agent"]["detail"]
        assert "No such file or directory" in checks["agent"]["detail"]
        assert "pcs resource refresh vip node={}".format(bare) in checks["agent"]["fix"]
    finally:
        ol.lab.exec(bare, "mount", "--bind", str(ol.agent_dir), PROVIDER_DIR)
        ol.lab.exec(bare, "mount", "-o", "remount,bind,ro", PROVIDER_DIR)
        pcs(ol, "resource", "refresh", "vip", "node=" + bare)
    poll(lambda: not probe_says_not_installed(ol, bare), timeout=30, what="probe ok")
    verify_checks(ol, config, node=holder, rc=0)
    assert ol.lab.where("vip") == [holder]


def test_11_verify_stickiness_zero(ol: OciLab) -> None:
    doc = base_doc(ol, monitor_interval="7s")
    config = write(ol, doc)
    zero = write(ol, dict(copy.deepcopy(doc), resource_stickiness=0), "sticky0.json")
    checks = verify_checks(ol, zero, rc=0)
    assert not_passing(checks) == {"stickiness": "WARN", "resources": "WARN"}
    assert "stickiness 0 in the config" in checks["stickiness"]["detail"]
    assert '"resource_stickiness": 100' in checks["stickiness"]["fix"]
    # The config is right but someone set 0 on the resource itself.
    pcs(ol, "resource", "meta", "vip", "resource-stickiness=0")
    checks = verify_checks(ol, config, rc=0)
    assert not_passing(checks) == {"stickiness": "WARN", "resources": "WARN"}
    assert "vip has resource-stickiness=0 (its meta attribute)" in checks["stickiness"]["detail"]
    assert "pcs-oci configure" in checks["stickiness"]["fix"]
    out = cli(ol, config, "configure").stdout
    assert out.splitlines() == ["vip: updated (meta resource-stickiness: 0 -> 100)"]
    verify_checks(ol, config, rc=0)
    # Failures that never expire: a cloud outage could leave the VIP stopped.
    pcs(ol, "resource", "meta", "vip", "failure-timeout=0")
    checks = verify_checks(ol, config, rc=0)
    assert not_passing(checks) == {"failure_timeout": "WARN", "resources": "WARN"}
    assert checks["failure_timeout"]["detail"].startswith("no failure-timeout on vip: ")
    assert checks["failure_timeout"]["fix"] == (
        "`pcs-oci configure` sets failure-timeout=140s on each VIP"
    )
    out = cli(ol, config, "configure").stdout
    assert out.splitlines() == ["vip: updated (meta failure-timeout: 0 -> 140s)"]
    verify_checks(ol, config, rc=0)


def banned_on(ol: OciLab, rsc: str) -> List[str]:
    """The nodes where the resource's fail count is INFINITY (crm_mon: 1000000)."""
    out = ol.lab.exec(ADMIN, "crm_mon", "--one-shot", "--output-as=xml", "--include=failcounts")
    return sorted(
        node.get("name", "")
        for node in ET.fromstring(out.stdout).iter("node")
        for history in node.iter("resource_history")
        if history.get("id") == rsc and int(history.get("fail-count") or 0) >= 1000000
    )


def test_11b_a_start_failed_on_every_node_is_retried_after_the_failure_timeout(
    ol: OciLab,
) -> None:
    """The soak's finding: a short auth outage while the VIP starts fails its
    start on every node (fail count INFINITY); configure's failure-timeout
    (and Pacemaker's recheck at its expiry, not cluster-recheck-interval's
    15 min) brings it back with no `pcs resource cleanup`."""
    holder_of_vip(ol)
    pcs(ol, "resource", "disable", "vip", "--wait=120")
    ol.control.deny("*", ["Federation"])
    ol.control.expire_tokens()  # every start must federate, and fails to
    try:
        pcs(ol, "resource", "enable", "vip")
        poll(
            lambda: len(banned_on(ol, "vip")) == 2,
            timeout=120,
            what="vip's start failed on both nodes",
        )
        assert ol.lab.where("vip") == []
    finally:
        ol.control.allow()
    # failure-timeout (140s) after the last failure, then one start (70s at most).
    holder = poll(lambda: ol.lab.where("vip"), timeout=140 + 70 + 60, what="vip started again")[0]
    ol.wait_everywhere(holder)


def test_12_verify_node_not_in_config(ol: OciLab) -> None:
    doc = base_doc(ol, monitor_interval="7s")
    doc["nodes"][0]["hostname"] = "node1.lab.example"
    config = write(ol, doc, "fqdn.json")
    checks = verify_checks(ol, config)
    assert not_passing(checks) == {
        "node_in_config": "FAIL",
        "cluster_nodes": "FAIL",
        "local_vnic": "SKIP",
        "resources": "WARN",
    }
    assert "node1 is not one of the config's nodes" in checks["node_in_config"]["detail"]
    assert "crm_node -n" in checks["node_in_config"]["fix"]
    assert "crm_node -l" in checks["cluster_nodes"]["fix"]
    # configure refuses it before changing anything.
    before = cib_versions(ol)
    result = cli(ol, config, "configure", rc=3)
    assert "node node1.lab.example of the config is not a cluster node" in result.stderr
    assert cib_versions(ol) == before


# ---------------------------------------------------------------- status


def status_json(ol: OciLab, config: str, node: str, rc: int) -> Dict[str, Any]:
    data = json.loads(cli(ol, config, "status", "--json", node=node, rc=rc).stdout)
    (vip,) = data["vips"]
    assert data["agree"] is (rc == 0) and vip["agree"] is (rc == 0)
    return dict(vip)


def test_13_status_agreement_then_a_vip_moved_in_oci(ol: OciLab) -> None:
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    holder = holder_of_vip(ol)
    thief = other(holder)
    for node in ("node1", "node2"):
        vip = status_json(ol, config, node, rc=0)
        assert vip["pacemaker_nodes"] == [holder] and vip["oci_node"] == holder
        assert vip["oci_vnic_id"] == ol.node(holder)["vnic_id"]
        assert vip["local_has_address"] is (node == holder)
        assert vip["problems"] == []
    lines = cli(ol, config, "status").stdout.splitlines()
    assert lines[1].split()[-1] == "yes" and len(lines) == 2, lines
    ol.control.move_private_ip(VIP, thief)
    try:
        problem = "OCI assigns it to VNIC {} ({}) but Pacemaker runs it on {}".format(
            ol.node(thief)["vnic_id"], thief, holder
        )
        for node in ("node1", "node2"):
            result = cli(ol, config, "status", node=node, rc=3)
            assert result.stdout.splitlines()[1].split()[-1] == "NO"
            assert result.stdout.splitlines()[-1] == "vip: " + problem
            vip = status_json(ol, config, node, rc=3)
            assert vip["problems"] == [problem]
            assert vip["oci_node"] == thief and vip["pacemaker_nodes"] == [holder]
    finally:
        ol.control.move_private_ip(VIP, holder)
    status_json(ol, config, ADMIN, rc=0)


# ---------------------------------------------------------------- refusals, failure, removal


def test_14_foreign_resources_are_neither_deleted_nor_shadowed(ol: OciLab) -> None:
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    pcs(ol, "resource", "create", "web", "ocf:heartbeat:Dummy")
    try:
        pcs_calls(ol)
        result = cli(ol, config, "unconfigure", "web", rc=3)
        assert "resource web is ocf:heartbeat:Dummy, not ocf:oci:IPaddr2" in result.stderr
        assert pcs_calls(ol) == []
        assert "web" in pcs(ol, "resource", "status")
        # An id pcs would refuse midway is refused up front, nothing applied.
        pcs(ol, "constraint", "location", "add", "vip2", "web", "node1", "50")
        doc = base_doc(ol, monitor_interval="9s")
        doc["vips"].append(dict(doc["vips"][0], name="vip2", ip=VIP2))
        before = cib_versions(ol)
        pcs_calls(ol)
        result = cli(ol, write(ol, doc, "two.json"), "configure", rc=3)
        assert "the id vip2 is already used by a rsc_location" in result.stderr
        assert pcs_calls(ol) == [["--version"]]
        assert cib_versions(ol) == before
    finally:
        pcs(ol, "resource", "delete", "web")  # its constraint goes with it


def test_15_failure_midway_reports_and_its_rollback_restores_the_cib(ol: OciLab) -> None:
    holder = holder_of_vip(ol)
    started = start_record(ol, "vip", holder)
    doc = base_doc(ol, monitor_interval="9s")
    doc["vips"].append(dict(doc["vips"][0], name="vip2", ip=VIP2, monitor_interval="5s"))
    doc["resource_stickiness"] = 150
    config = write(ol, doc, "two.json")
    # An admin's second set of resource defaults: pcs then refuses
    # `pcs resource defaults update`, the last step.
    pcs(ol, "resource", "defaults", "set", "create", "id=extra", "meta", "migration-threshold=3")
    try:
        before = cib_section(ol, "configuration")
        result = cli(ol, config, "configure", "--set-defaults", rc=5)
        (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert (
            "step 4/4 (set the cluster-wide default resource-stickiness=150) failed: "
            "Error: Several options sets exist" in error
        )
        applied = "already applied: update vip; set resource-stickiness of vip; create vip2 ("
        assert applied + VIP2 + ")" in error
        assert "fix the cause and run `pcs-oci configure` again" in error
        rollback = error.split("roll back with: ", 1)[1][:-1]
        assert rollback == " && ".join(
            [
                PCS + " resource delete vip2",
                PCS + " resource meta vip resource-stickiness=100",
                PCS + " resource update vip op monitor interval=7s timeout=20s",
            ]
        )
        assert "vip2" in pcs(ol, "resource", "status")
        ol.lab.exec(ADMIN, "sh", "-c", rollback, timeout=120)
        assert cib_section(ol, "configuration") == before
    finally:
        pcs(ol, "resource", "defaults", "set", "delete", "extra")
    poll(lambda: ol.os_holders(VIP2) == [], timeout=30, what=VIP2 + " removed")
    assert start_record(ol, "vip", holder) == started
    assert ol.lab.where("vip") == [holder]


def test_16_unconfigure_deletes_the_vip(ol: OciLab) -> None:
    config = write(ol, base_doc(ol, monitor_interval="7s"))
    holder = holder_of_vip(ol)
    pcs_calls(ol)
    assert cli(ol, config, "unconfigure", "vip").stdout.splitlines() == ["vip: deleted"]
    assert pcs_calls(ol) == [["resource", "delete", "vip"]]
    primitives = ET.fromstring(cib_section(ol, "resources")).iter("primitive")
    assert [p.get("id") for p in primitives] == ["fence-lab"]
    poll(lambda: ol.os_holders() == [], timeout=30, what="VIP address removed")
    # The secondary private IP stays assigned in OCI, as documented.
    assert ol.oci_holder() == holder
    result = cli(ol, config, "unconfigure", "vip", rc=3)
    assert "resource vip does not exist" in result.stderr
