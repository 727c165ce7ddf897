"""Reserved public IPs: bound to the VIP's private IP, they follow it; status shows them.

The real SDK (GetPublicIpByPrivateIpId, signed) against the fake Core API,
which keeps the binding on the private IP's OCID as OCI does.
"""

import json
from typing import Any, Dict

import pytest

from pcs_oci.lib.commands.status import status
from pcs_oci.lib.env import Env
from pcs_oci.lib.imds import Imds
from pcs_oci.lib.oci.api import OciApi
from pcs_oci.lib.oci.settings import OciSettings
from tests.fakes.harness import FakeOci
from tests.fakes.netops import V4
from tests.integration.test_verify import Setup
from tests.tools.fake_runner import Call, FakeRunner, crm_mon_xml

CRM_MON = ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"]
IP_ADDR = ["/sbin/ip", "-o", "addr", "show"]
VIP = "10.0.0.200"


def config(fake: FakeOci, ip: str = VIP, prefix: int = 24) -> Dict[str, Any]:
    return {
        "nodes": [{"hostname": n, "vnic_id": fake.node(n)["vnic_id"]} for n in ("node1", "node2")],
        "vips": [{"name": "vip", "ip": ip, "cidr_netmask": prefix}],
        "oci": {"endpoint": fake.core_endpoint, "timeout": 3},
    }


@pytest.fixture
def fake(fake_oci: FakeOci, monkeypatch: Any) -> FakeOci:
    monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake_oci.federation_endpoint)
    monkeypatch.setenv("OCI_METADATA_BASE_URL", fake_oci.imds_base("node1"))
    return fake_oci


def status_on(fake: FakeOci, tmp_path: Any, holder: str, ip: str = VIP, prefix: int = 24) -> Any:
    """pcs-oci status on node1 while Pacemaker runs the VIP on holder."""
    path = tmp_path / "pcs-oci.json"
    path.write_text(json.dumps(config(fake, ip, prefix)))
    family = "inet6" if ":" in ip else "inet"
    here = "2: eth0    {} {}/{} scope global eth0\n".format(family, ip, prefix)
    here = here if holder == "node1" else ""
    runner = FakeRunner(
        [
            Call(CRM_MON, crm_mon_xml(resources=[("vip", "ocf:oci:IPaddr2", holder)])),
            Call(["/usr/sbin/crm_node", "-n"], "node1\n"),
            Call(IP_ADDR, "1: lo    inet 127.0.0.1/8 scope host lo\n" + here),
        ]
    )
    env = Env(config_path=str(path), runner=runner, imds=Imds(max_total_seconds=0.5))
    dto = status(env)
    runner.assert_all_called()
    return dto


def test_the_reserved_public_ip_follows_the_vip_and_status_shows_it(
    fake: FakeOci, tmp_path: Any
) -> None:
    fake.add_private_ip(VIP, "node1")
    public = fake.bind_public_ip(VIP)

    (before,) = status_on(fake, tmp_path, "node1").vips
    assert (before.public_ip, before.public_ip_lifetime) == (public["ipAddress"], "RESERVED")
    assert before.oci_node == "node1" and before.agree

    # The failover: the private IP moves to node2's VNIC, keeping its OCID.
    fake.move_private_ip(VIP, "node2")

    (after,) = status_on(fake, tmp_path, "node2").vips
    assert after.oci_node == "node2" and after.agree
    assert after.public_ip == public["ipAddress"]
    assert after.to_dict()["public_ip"] == public["ipAddress"]
    assert len(fake.calls("GetPublicIpByPrivateIpId")) == 2


def test_no_public_ip_is_none_not_an_error(fake: FakeOci, tmp_path: Any) -> None:
    fake.add_private_ip(VIP, "node1")
    (vip,) = status_on(fake, tmp_path, "node1").vips
    assert (vip.public_ip, vip.public_ip_lifetime, vip.oci_error) == (None, None, None)
    (call,) = fake.calls("GetPublicIpByPrivateIpId")
    assert call["status"] == 404


def test_the_sdk_call_and_the_fakes_404(fake: FakeOci) -> None:
    """OciApi.public_ip_of through the SDK: the binding by OCID, None on 404."""
    private = fake.add_private_ip(VIP, "node1")
    api = OciApi(OciSettings(endpoint=fake.core_endpoint, timeout=3))
    assert api.public_ip_of(private["id"]) is None
    public = fake.bind_public_ip(VIP, "EPHEMERAL")
    found = api.public_ip_of(private["id"])
    assert found is not None
    assert (found["ip_address"], found["lifetime"], found["private_ip_id"]) == (
        public["ipAddress"],
        "EPHEMERAL",
        private["id"],
    )
    # Deleting the private IP deletes an ephemeral public IP with it.
    fake.cloud.net.delete_ip(V4, private["id"])
    assert fake.public_ip_of(VIP) is None


# ---------------------------------------------------------------- verify


@pytest.fixture
def setup(tmp_path: Any, fake_oci: FakeOci, monkeypatch: Any) -> Setup:
    return Setup(tmp_path, fake_oci, monkeypatch)


def test_verify_confirms_the_binding_after_a_move(setup: Setup) -> None:
    setup.fake.add_private_ip(VIP, "node1")
    public = setup.fake.bind_public_ip(VIP)
    setup.fake.move_private_ip(VIP, "node2")

    row = setup.run()["public_ip"]

    assert (row.status, row.detail) == (
        "PASS",
        "{} has public IP {} (reserved), bound to its private IP: it follows the VIP "
        "(now on node2)".format(VIP, public["ipAddress"]),
    )


def test_verify_names_the_node_from_the_metadata_or_the_vips_vnic_ids(setup: Setup) -> None:
    # No nodes[].vnic_id: the agents find the VNICs in the instance metadata.
    for node in setup.doc["nodes"]:
        del node["vnic_id"]
    setup.fake.add_private_ip(VIP, "node1")
    public = setup.fake.bind_public_ip(VIP)
    bound = "{} has public IP {} (reserved), bound to its private IP: it follows the VIP".format(
        VIP, public["ipAddress"]
    )

    # On node1, which holds it: this node's own VNIC, from its metadata.
    found = setup.run()
    assert (found["public_ip"].status, found["public_ip"].detail) == (
        "PASS",
        bound + " (now on node1)",
    )
    assert "({})".format("node1") in found["vip_private_ip"].detail

    # Moved to node2's VNIC, which only the VIP's vnic_ids name.
    setup.fake.move_private_ip(VIP, "node2")
    assert setup.run()["public_ip"].detail == bound + " (now on an unknown VNIC)"
    setup.doc["vips"][0]["vnic_ids"] = {
        n: setup.fake.node(n)["vnic_id"] for n in ("node1", "node2")
    }
    assert setup.run()["public_ip"].detail == bound + " (now on node2)"


def test_verify_warns_about_a_reserved_public_ip_on_a_nodes_primary_ip(setup: Setup) -> None:
    vip_private = setup.fake.add_private_ip(VIP, "node1")
    primary = setup.fake.node("node2")["private_ip"]
    public = setup.fake.bind_public_ip(primary)

    found = setup.run()
    row = found["public_ip"]

    assert (row.status, row.detail) == (
        "WARN",
        "reserved public IP {} is bound to node2's primary private IP {}: it stays with node2 "
        "when the VIP moves".format(public["ipAddress"], primary),
    )
    assert row.fix.startswith(
        "reserved public IPs must be bound to the VIP's private IP ({}) to follow it".format(
            vip_private["id"]
        )
    )
    assert found["_ok"] is True  # a WARN


def test_an_ephemeral_public_ip_on_a_primary_ip_is_the_nodes_own(setup: Setup) -> None:
    setup.fake.add_private_ip(VIP, "node1")
    setup.fake.bind_public_ip(setup.fake.node("node1")["private_ip"], "EPHEMERAL")
    row = setup.run()["public_ip"]
    assert (row.status, row.detail) == (
        "PASS",
        "no public IP bound to the VIPs, no reserved one to the nodes' primary IPs "
        "(as far as `read public-ips` lets verify see)",
    )


def test_verify_warns_when_the_public_ips_cannot_be_read(setup: Setup) -> None:
    setup.fake.add_private_ip(VIP, "node1")
    setup.fake.faults.add(
        "GetPublicIpByPrivateIpId", status=400, code="InvalidParameter", count=None
    )
    found = setup.run()
    row = found["public_ip"]
    assert row.status == "WARN"
    assert row.detail.startswith("cannot read the public IPs: ")
    assert "InvalidParameter" in row.detail
    assert "read public-ips" in row.fix
    # The VIP itself is fine: nothing else changes.
    assert found["vip_private_ip"].status == "PASS"


def test_the_fake_wants_a_private_ip_id(fake: FakeOci) -> None:
    assert fake.cloud.public_ips.find(None) is None
    with pytest.raises(Exception, match="privateIpId"):
        fake.cloud.public_ips.get_by_private_ip_id({})
