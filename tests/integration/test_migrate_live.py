"""`pcs-oci migrate` on a running cluster, against the real Pacemaker scheduler.

FileCluster (tests/tools/file_cluster.py) runs the real cibadmin, crm_diff,
crm_mon and crm_simulate on a CIB file whose status says the recipe's VIP
and its application run on node1, and plays the controller: after every CIB
change it lets the scheduler run its transitions and records every start
and stop. Migrate must convert the VIP without one.
"""

import json
import shutil
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pcs_oci.common import reports
from pcs_oci.lib import cib, cib_push, migrate_window, migration, pacemaker
from pcs_oci.lib.commands import migrate as migrate_lib
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import PcsOciError
from tests.tools.file_cluster import FileCluster

DATA = Path(__file__).resolve().parents[1] / "data" / "cib"
RECIPE_RESOURCES = ["Cluster_VIP", "app", "db"]
CONFIG: Dict[str, Any] = {
    "nodes": [
        {"hostname": "node1", "vnic_id": "ocid1.vnic.oc1.iad.aaaa"},
        {"hostname": "node2", "vnic_id": "ocid1.vnic.oc1.iad.bbbb"},
    ],
    "vips": [{"name": "Cluster_VIP", "ip": "10.0.0.200", "cidr_netmask": 24}],
}

pytestmark = pytest.mark.skipif(
    shutil.which("crm_simulate") is None, reason="Pacemaker's tools are not installed"
)


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileCluster:
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
    path = tmp_path / "cib.xml"
    shutil.copy(DATA / "recipe.xml", path)
    return FileCluster(str(path), running={"Cluster_VIP": "node1"})


def _env(tmp_path: Path, runner: FileCluster) -> Env:
    config = tmp_path / "pcs-oci.json"
    config.write_text(json.dumps(CONFIG))
    return Env(config_path=str(config), runner=runner)


def _primitive(path: str, rid: str) -> Any:
    root = cib.parse(Path(path).read_text())
    found = cib.by_id(root, rid)
    assert found is not None
    return root, found


def _probe(path: str, rid: str, node: str) -> Dict[str, str]:
    root = cib.parse(Path(path).read_text())
    for state in root.iter("node_state"):
        if state.get("uname") != node:
            continue
        for entry in state.iter("lrm_resource"):
            if entry.get("id") == rid:
                last = [o for o in entry.findall("lrm_rsc_op") if o.get("id") == rid + "_last_0"]
                return dict(entry.attrib, **{"rc": last[0].get("rc-code", "")})
    return {}


def test_the_running_vip_is_converted_without_a_restart(cluster: FileCluster, tmp_path: Path):
    result = migrate_lib.migrate(_env(tmp_path, cluster))

    assert result.method == migrate_lib.WINDOW
    assert result.active == {"Cluster_VIP": ["node1"]}
    # The group, and db tied to it by constraints, were kept out of the way.
    assert result.window == ["Cluster_VIP", "app", "db", "web"]
    assert cluster.disruptive(RECIPE_RESOURCES) == []
    assert result.after == []
    root, primitive = _primitive(cluster.path, "Cluster_VIP")
    assert cib.agent(primitive) == "ocf:oci:IPaddr2"
    assert migrate_window.markers(root) == []
    assert cib.cluster_option(root, "stop-orphan-resources") is None
    # Pacemaker knows it runs there under the new agent (the probe found it).
    seen = _probe(cluster.path, "Cluster_VIP", "node1")
    assert (seen["provider"], seen["rc"]) == ("oci", "0")
    assert _probe(cluster.path, "Cluster_VIP", "node2")["rc"] == "7"


def test_a_plain_cib_change_would_restart_it(cluster: FileCluster, tmp_path: Path):
    """The emulator sees restarts: the same conversion pushed plainly restarts the group."""
    config = _env(tmp_path, cluster).load_config()
    text = cib_push.query(cluster)
    new, _ = migration.plan(config, cib.parse(text))
    cib.bump_epoch(new)
    cib_push.apply_patch(cluster, cib_push.make_patch(cluster, text, cib.to_text(new)))

    assert "Cluster_VIP stop node1" in cluster.disruptive(RECIPE_RESOURCES)
    assert "app stop node1" in cluster.disruptive(RECIPE_RESOURCES)


def test_dry_run_tells_the_restart_it_avoids_and_changes_nothing(
    cluster: FileCluster, tmp_path: Path
):
    before = Path(cluster.path).read_bytes()

    result = migrate_lib.migrate(_env(tmp_path, cluster), dry_run=True)

    assert Path(cluster.path).read_bytes() == before
    assert not result.applied
    assert [a.describe() for a in result.if_pushed][:2] == [
        "restart Cluster_VIP on node1",
        "restart app on node1 (required Cluster_VIP start)",
    ]
    assert any('provider="oci"' in line for line in result.diff if line.startswith("+"))


def test_a_second_run_changes_nothing(cluster: FileCluster, tmp_path: Path):
    env = _env(tmp_path, cluster)
    migrate_lib.migrate(env)
    before = Path(cluster.path).read_bytes()
    cluster.commands.clear()

    result = migrate_lib.migrate(env)

    assert result.method == migrate_lib.NOTHING
    assert Path(cluster.path).read_bytes() == before
    assert not [c for c in cluster.commands if "--patch" in c or "--refresh" in c]


def test_an_interrupted_run_is_finished_by_the_next(cluster: FileCluster, tmp_path: Path):
    env = _env(tmp_path, cluster)
    config = env.load_config()
    # What the first step leaves behind if pcs-oci is killed right after it.
    migrate_lib._edit(cluster, lambda root: migrate_lib._open(config, root), check=[])
    assert migrate_window.markers(cib.parse(Path(cluster.path).read_text()))

    result = migrate_lib.migrate(env)

    assert result.method == migrate_lib.FINISH
    root, primitive = _primitive(cluster.path, "Cluster_VIP")
    assert migrate_window.markers(root) == []
    assert cib.agent(primitive) == "ocf:oci:IPaddr2"
    assert cluster.disruptive(RECIPE_RESOURCES) == []


def test_a_probe_that_does_not_find_it_leaves_everything_unmanaged(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
    path = tmp_path / "cib.xml"
    shutil.copy(DATA / "recipe.xml", path)
    # The new agent's probe says "not running" where the address is up.
    cluster = FileCluster(str(path), running={})

    with pytest.raises(PcsOciError) as caught:
        migrate_lib.migrate(_env(tmp_path, cluster), probe_timeout=10)

    assert caught.value.codes == [reports.MIGRATE_PROBE_FAILED]
    assert "Cluster_VIP on node1: the probe returned 7, expected 0" in str(caught.value)
    assert "stay unmanaged" in caught.value.reports[0].hint
    assert cluster.disruptive(RECIPE_RESOURCES) == []
    root, _ = _primitive(str(path), "Cluster_VIP")
    assert len(migrate_window.markers(root)) == 3  # Cluster_VIP, app, db


class _Racing(FileCluster):
    """Someone changes the CIB just before our first patch."""

    raced = False

    def run(self, args: Any, stdin: Any = None, timeout: float = 60.0, env_extend: Any = None):
        if "--patch" in args and not env_extend and not self.raced:
            self.raced = True
            super().run(
                [
                    "/usr/sbin/crm_attribute",
                    "--type",
                    "crm_config",
                    "--name",
                    "x-other-admin",
                    "--update",
                    "1",
                ]
            )
        return super().run(args, stdin, timeout, env_extend)


def test_a_concurrent_change_makes_it_read_again(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
    path = tmp_path / "cib.xml"
    shutil.copy(DATA / "recipe.xml", path)
    cluster = _Racing(str(path), running={"Cluster_VIP": "node1"})

    migrate_lib.migrate(_env(tmp_path, cluster))

    patches: List[List[str]] = [c for c in cluster.commands if "--patch" in c]
    assert len(patches) >= 3  # the raced one, then the conversion and the hand-back
    root, primitive = _primitive(str(path), "Cluster_VIP")
    assert cib.cluster_option(root, "x-other-admin") == "1"  # their change is kept
    assert cib.agent(primitive) == "ocf:oci:IPaddr2"
    assert cluster.disruptive(RECIPE_RESOURCES) == []


def test_an_ocivip_pair_is_merged_without_stopping_the_ocivip(tmp_path: Path, monkeypatch):
    """The removed ocivip would be an orphan, which Pacemaker stops (and ocivip's stop
    releases the address in OCI): migrate keeps orphans and forgets its history."""
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
    path = tmp_path / "cib.xml"
    shutil.copy(DATA / "ocivip-group.xml", path)
    cluster = FileCluster(str(path), running={"Cluster_VIP": "node1"})

    result = migrate_lib.migrate(_env(tmp_path, cluster))

    assert result.method == migrate_lib.WINDOW
    assert cluster.disruptive(["vip_oci", "Cluster_VIP", "app", "db"]) == []
    root, primitive = _primitive(str(path), "Cluster_VIP")
    assert cib.agent(primitive) == "ocf:oci:IPaddr2"
    assert cib.by_id(root, "vip_oci") is None
    assert not any(e.get("id") == "vip_oci" for e in root.iter("lrm_resource"))
    assert cib.cluster_option(root, "stop-orphan-resources") is None
    assert migrate_window.markers(root) == []


def test_pushed_plainly_the_pair_would_stop_the_ocivip(tmp_path: Path):
    path = tmp_path / "cib.xml"
    shutil.copy(DATA / "ocivip-group.xml", path)
    cluster = FileCluster(str(path), running={"Cluster_VIP": "node1"})
    config = _env(tmp_path, cluster).load_config()
    text = cib_push.query(cluster)
    new, _ = migration.plan(config, cib.parse(text))
    cib.bump_epoch(new)

    cib_push.apply_patch(cluster, cib_push.make_patch(cluster, text, cib.to_text(new)))

    assert "vip_oci stop node1" in cluster.disruptive(["vip_oci"])


class _RefreshFails(FileCluster):
    def run(self, args: Any, stdin: Any = None, timeout: float = 60.0, env_extend: Any = None):
        if "--refresh" in args:
            return cib_push.Result(list(args), 1, "", "Error performing operation: Timeout\n")
        return super().run(args, stdin, timeout, env_extend)


def test_a_failure_in_between_says_what_is_left_and_a_second_run_finishes(
    tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
    path = tmp_path / "cib.xml"
    shutil.copy(DATA / "recipe.xml", path)
    broken = _RefreshFails(str(path), running={"Cluster_VIP": "node1"})

    with pytest.raises(PcsOciError) as caught:
        migrate_lib.migrate(_env(tmp_path, broken))

    assert caught.value.codes == [reports.COMMAND_FAILED, reports.MIGRATE_PROBE_FAILED]
    assert "Cluster_VIP, app, db, web are left unmanaged" in caught.value.reports[1].message
    assert broken.disruptive(RECIPE_RESOURCES) == []

    cluster = FileCluster(str(path), running={"Cluster_VIP": "node1"})
    result = migrate_lib.migrate(_env(tmp_path, cluster))

    assert result.method == migrate_lib.FINISH
    root, primitive = _primitive(str(path), "Cluster_VIP")
    assert migrate_window.markers(root) == []
    assert cluster.disruptive(RECIPE_RESOURCES) == []
