"""`pcs-oci discover` as a user runs it: IMDS and the real SDK against the fakes."""

import json
import os
import subprocess
import sys
from typing import Any, Dict, List

from tests.fakes.harness import FakeOci


def run(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pcs_oci", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=120,
        check=False,
    )


def write_config(tmp_path: Any, fake: FakeOci, **changes: Any) -> str:
    doc: Dict[str, Any] = {
        "nodes": [{"hostname": "node1"}, {"hostname": "node2"}],
        "vips": [{"name": "vip", "ip": "10.0.0.200"}],
        "oci": {"auth": "instance_principal", "endpoint": fake.core_endpoint, "timeout": 5},
    }
    doc.update(changes)
    path = tmp_path / "pcs-oci.json"
    path.write_text(json.dumps(doc, indent=2))
    path.chmod(0o640)
    return str(path)


def node_env(fake: FakeOci, node: str, config: str) -> Dict[str, str]:
    return {
        "OCI_METADATA_BASE_URL": fake.imds_base(node),
        "PCS_OCI_FEDERATION_ENDPOINT": fake.federation_endpoint,
        "PCS_OCI_CONFIG": config,
    }


def test_discover_shows_node_facts_and_vip_placement(tmp_path: Any, fake_oci: FakeOci) -> None:
    config = write_config(tmp_path, fake_oci)
    result = run(["discover", "--json"], node_env(fake_oci, "node1", config))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    node1 = fake_oci.node("node1")
    assert data["instance_id"] == node1["instance_id"]
    assert data["region"] == "us-ashburn-1"
    assert [v["vnic_id"] for v in data["vnics"]] == [node1["vnic_id"]]
    assert data["vips"] == [
        {
            "name": "vip",
            "ip": "10.0.0.200",
            "vnic_id": node1["vnic_id"],
            "subnet_cidr": "10.0.0.0/24",
            "problem": None,
        }
    ]
    assert data["local_node"] == "node1"
    # No API call is needed to discover this node.
    assert fake_oci.calls("Get*") == [] and fake_oci.calls("List*") == []


def test_discover_update_fills_vnic_and_netmask_keeping_the_rest(
    tmp_path: Any, fake_oci: FakeOci
) -> None:
    config = write_config(tmp_path, fake_oci, cluster_name="c1")
    result = run(["discover", "--update"], node_env(fake_oci, "node2", config))
    assert result.returncode == 0, result.stderr
    doc = json.loads(open(config).read())
    assert doc["nodes"] == [
        {"hostname": "node1"},
        {
            "hostname": "node2",
            "vnic_id": fake_oci.node("node2")["vnic_id"],
            "instance_id": fake_oci.node("node2")["instance_id"],
        },
    ]
    assert doc["vips"][0]["cidr_netmask"] == 24
    assert doc["cluster_name"] == "c1"
    assert oct(os.stat(config).st_mode & 0o777) == "0o640"
    again = run(["discover", "--update"], node_env(fake_oci, "node2", config))
    assert "already up to date" in again.stdout


def test_discover_all_resolves_other_nodes_through_the_api(
    tmp_path: Any, fake_oci: FakeOci
) -> None:
    config = write_config(tmp_path, fake_oci)
    result = run(["discover", "--all"], node_env(fake_oci, "node1", config))
    assert result.returncode == 0, result.stderr
    doc = json.loads(open(config).read())
    assert [n.get("vnic_id") for n in doc["nodes"]] == [
        fake_oci.node("node1")["vnic_id"],
        fake_oci.node("node2")["vnic_id"],
    ]
    # The instances too: fence_oci's plugs for `configure --fencing`.
    assert [n.get("instance_id") for n in doc["nodes"]] == [
        fake_oci.node("node1")["instance_id"],
        fake_oci.node("node2")["instance_id"],
    ]
    # Every API call was signed with the instance principal's session token.
    calls = fake_oci.calls("List*") + fake_oci.calls("Get*")
    assert calls and all(c["principal"] == fake_oci.node("node1")["instance_id"] for c in calls)
    assert run(["config", "validate", config], {}).returncode == 0


def test_discover_vip_outside_local_subnets_lists_them(tmp_path: Any, fake_oci: FakeOci) -> None:
    config = write_config(tmp_path, fake_oci, vips=[{"name": "vip", "ip": "172.16.5.5"}])
    result = run(["discover"], node_env(fake_oci, "node1", config))
    assert result.returncode == 3
    assert "10.0.0.0/24" in result.stderr and "172.16.5.5" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_discover_imds_down_is_one_clear_line(tmp_path: Any, fake_oci: FakeOci) -> None:
    fake_oci.imds_down("node1")
    config = write_config(tmp_path, fake_oci)
    result = run(["discover"], node_env(fake_oci, "node1", config))
    assert result.returncode == 4
    assert result.stderr.startswith("Error: instance metadata service unreachable at")
    assert len(result.stderr.splitlines()) == 1


def test_discover_all_denied_names_the_policy(tmp_path: Any, fake_oci: FakeOci) -> None:
    fake_oci.deny(fake_oci.node("node1")["instance_id"])
    config = write_config(tmp_path, fake_oci)
    result = run(["discover", "--all"], node_env(fake_oci, "node1", config))
    assert result.returncode == 4
    assert "NotAuthorizedOrNotFound" in result.stderr and "dynamic-group" in result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(open(config).read())
    assert "vnic_id" not in doc["nodes"][0]
