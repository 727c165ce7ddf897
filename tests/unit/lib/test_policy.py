"""policy: the dynamic group rule and the statements, checked against the config."""

import json
from typing import Any, Dict, List, Optional

import pytest

from pcs_oci.cli import policy_cmd
from pcs_oci.common import exit_codes, reports
from pcs_oci.lib.commands.policy import policy
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import CloudError, PcsOciError
from tests.tools.fake_runner import Call, FakeRunner, cib_resources_xml, primitive_xml

RESOURCES = ["/usr/sbin/cibadmin", "--query", "--scope", "resources"]
COMPARTMENT = "ocid1.compartment.oc1..aaaacompartment"
I1 = "ocid1.instance.oc1.iad.anuwcljrnode1"
I2 = "ocid1.instance.oc1.iad.anuwcljrnode2"
GROUP = "dynamic-group pcs-oci-prod"


class Imds:
    def __init__(self, compartment: Optional[str] = COMPARTMENT):
        self.compartment = compartment
        self.calls = 0

    def instance(self) -> Dict[str, Any]:
        self.calls += 1
        if self.compartment is None:
            raise CloudError(
                reports.item(reports.IMDS_UNREACHABLE, "instance metadata service unreachable")
            )
        return {"id": I1, "compartmentId": self.compartment}


def write(tmp_path: Any, nodes: List[Dict[str, str]], vips: Any = None, oci: Any = None) -> str:
    doc: Dict[str, Any] = {
        "cluster_name": "prod",
        "nodes": nodes,
        "vips": vips or [{"name": "vip", "ip": "10.0.0.200"}],
    }
    if oci:
        doc["oci"] = oci
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    return str(path)


BOTH = [{"hostname": "node1", "instance_id": I1}, {"hostname": "node2", "instance_id": I2}]


def env(path: str, resources: Optional[str] = None, imds: Any = None) -> Env:
    call = (
        Call(RESOURCES, resources)
        if resources is not None
        else Call(RESOURCES, "", "Could not connect to the CIB: Transport endpoint", 102)
    )
    return Env(config_path=path, runner=FakeRunner([call]), imds=imds or Imds())


def allow(verb_resource: str, where: str = "compartment id " + COMPARTMENT) -> str:
    return "Allow {} to {} in {}".format(GROUP, verb_resource, where)


def test_instances_of_the_config_and_the_compartment_of_this_instance(tmp_path: Any) -> None:
    result = policy(env(write(tmp_path, BOTH)))
    assert result.matching_rule == "Any {{instance.id = '{}', instance.id = '{}'}}".format(I1, I2)
    assert result.lines(optional=False) == [
        allow("use private-ips"),
        allow("use vnics"),
        allow("use subnets"),
    ]
    assert result.lines(optional=True) == [
        allow("read instances"),
        allow("inspect vnic-attachments"),
        allow("inspect security-lists"),
        allow("read public-ips"),
    ]
    assert result.fencing == ""
    assert result.notes[0] == "compartment: this instance's, from the instance metadata service"


def test_a_node_without_instance_id_gives_a_compartment_rule(tmp_path: Any) -> None:
    nodes = [{"hostname": "node1", "instance_id": I1}, {"hostname": "node2"}]
    result = policy(env(write(tmp_path, nodes)))
    assert result.matching_rule == "All {{instance.compartment.id = '{}'}}".format(COMPARTMENT)
    (note,) = [n for n in result.notes if "matching rule" in n]
    assert "no instance_id for node2" in note and "pcs-oci discover --update" in note


def test_ipv6_vips_need_manage_ipv6s(tmp_path: Any) -> None:
    vips = [
        {"name": "v4", "ip": "10.0.0.200"},
        {"name": "v6", "ip": "2603:c020:4000:a00::200"},
    ]
    result = policy(env(write(tmp_path, BOTH, vips=vips)))
    assert allow("manage ipv6s") in result.lines(optional=False)
    (why,) = [s.why for s in result.statements if s.resource == "ipv6s"]
    assert why.startswith("IPv6 VIP v6: UpdateIpv6 (IPV6_UPDATE)")


def test_fencing_configured_in_the_cluster_or_asked_for(tmp_path: Any) -> None:
    devices = cib_resources_xml(
        [
            primitive_xml("fence_node2", {"plug": I2}, agent=("stonith", "", "fence_oci")),
            primitive_xml("fence_node1", {"plug": I1}, agent=("stonith", "", "fence_oci")),
            primitive_xml("vip", {"ip": "10.0.0.200"}),
        ]
    )
    result = policy(env(write(tmp_path, BOTH), resources=devices))
    assert allow("use instances") in result.lines(optional=False)
    assert result.fencing == "fence_oci devices in the cluster: fence_node1, fence_node2"
    # No cluster yet: only --fencing adds it.
    assert allow("use instances") not in policy(env(write(tmp_path, BOTH))).lines(False)
    result = policy(env(write(tmp_path, BOTH)), fencing=True)
    assert allow("use instances") in result.lines(optional=False)
    assert result.fencing == "--fencing"


def test_api_key_auth_is_a_group_without_a_matching_rule(tmp_path: Any) -> None:
    path = write(tmp_path, BOTH, oci={"auth": "api_key"})
    result = policy(env(path), group="vip-admins")
    assert result.matching_rule is None
    assert result.lines(optional=False)[0] == (
        "Allow group vip-admins to use private-ips in compartment id " + COMPARTMENT
    )


def test_no_metadata_service_leaves_a_placeholder_with_a_note(tmp_path: Any) -> None:
    nodes = [{"hostname": "node1"}, {"hostname": "node2"}]
    result = policy(env(write(tmp_path, nodes), imds=Imds(compartment=None)))
    assert result.lines(optional=False)[0] == allow(
        "use private-ips", "compartment id <compartment-ocid>"
    )
    assert result.matching_rule == "All {instance.compartment.id = '<compartment-ocid>'}"
    assert result.notes[0].startswith(
        "<compartment-ocid> stands for the compartment of the cluster's instances: the instance "
        "metadata service did not answer (instance metadata service unreachable)"
    )


def test_compartment_option_wins_and_the_tenancy_is_written_as_such(tmp_path: Any) -> None:
    imds = Imds()
    tenancy = "ocid1.tenancy.oc1..aaaatenancy"
    result = policy(env(write(tmp_path, BOTH), imds=imds), compartment=tenancy)
    assert imds.calls == 0
    assert result.lines(optional=False)[0] == allow("use private-ips", "tenancy")


@pytest.mark.parametrize(
    "given, message",
    [
        ({"group": "has space"}, "--group 'has space' is not a valid group name"),
        ({"compartment": "ocid1.vcn.oc1..x"}, "--compartment 'ocid1.vcn.oc1..x' is not a"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Any, given: Dict[str, str], message: str) -> None:
    with pytest.raises(PcsOciError) as caught:
        policy(env(write(tmp_path, BOTH)), **given)
    assert caught.value.exit_code == exit_codes.USAGE
    assert caught.value.reports[0].message.startswith(message)


def test_the_printed_blocks_paste_as_they_are(tmp_path: Any, capsys: Any) -> None:
    import argparse

    args = argparse.Namespace(fencing=True, group=None, compartment=None)
    assert policy_cmd.policy(env(write(tmp_path, BOTH)), args) == exit_codes.OK
    blocks = capsys.readouterr().out.split("\n\n")
    assert blocks[0] == "Dynamic group pcs-oci-prod, matching rule:"
    assert blocks[1] == "Any {{instance.id = '{}', instance.id = '{}'}}".format(I1, I2)
    assert blocks[3].splitlines() == [
        allow("use private-ips"),
        allow("use vnics"),
        allow("use subnets"),
        allow("use instances"),
    ]
    assert blocks[5].splitlines() == [
        allow("read instances"),
        allow("inspect vnic-attachments"),
        allow("inspect security-lists"),
        allow("read public-ips"),
    ]
    assert blocks[6].startswith("Why each statement:\n  use private-ips ")


@pytest.mark.parametrize(
    "operation, command",
    [("UpdatePrivateIp", "`pcs-oci policy`"), ("InstanceAction", "`pcs-oci policy --fencing`")],
)
def test_permission_errors_point_to_the_policy_command(operation: str, command: str) -> None:
    """What verify, status, discover and the agents show when OCI says NotAuthorized."""
    from pcs_oci.lib.checks.cloud import POLICY
    from tests.tools.fake_oci_api import cloud_error

    error = cloud_error(404, "NotAuthorizedOrNotFound", operation)
    assert error.codes == [reports.OCI_NOT_AUTHORIZED]
    assert error.reports[0].hint.endswith("; {} prints them all".format(command))
    assert "`pcs-oci policy` prints every statement" in POLICY
