"""OciApi without the network: the lazy SDK, answer checks, the per-family
table, and how an unreadable answer is told apart from any other error."""

import subprocess
import sys
from typing import Any, List

import pytest

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci import api as api_module
from pcs_oci.lib.oci.api import IPV4, IPV6, OciApi, guard_deserializer, ip_family
from pcs_oci.lib.oci.settings import OciSettings


def test_importing_the_library_does_not_import_the_sdk() -> None:
    modules = [
        "pcs_oci.lib.imds",
        "pcs_oci.lib.oci.settings",
        "pcs_oci.lib.oci.errors",
        "pcs_oci.lib.oci.sdk",
        "pcs_oci.lib.oci.retry",
        "pcs_oci.lib.oci.auth",
        "pcs_oci.lib.oci.api",
        "pcs_oci.lib.vip",
        "pcs_oci.lib.discovery",
        "pcs_oci.lib.config",
        "pcs_oci.agent.handlers",
        "pcs_oci.fence.fence_oci",
    ]
    code = "import sys, {}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'oci'))"
    out = subprocess.run(
        [sys.executable, "-c", code.format(", ".join(modules))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_answer_problem_trusts_only_resources_with_an_id() -> None:
    problem = api_module._answer_problem
    assert problem({"id": "ocid1.vnic.x", "subnet_id": "s"}, "object") == ""
    for bad in (None, {}, {"id": None}, {"id": ""}, {"id": 5}, "text", [1]):
        assert "no resource id" in problem(bad, "object")
    assert problem([], "list") == ""
    assert problem([{"id": "a"}, {"id": "b"}], "list") == ""
    assert "expected a list" in problem(None, "list")
    assert "a list item" in problem([{"id": "a"}, {"x": 1}], "list")
    assert problem(None, "") == ""  # writes are read back instead


def test_one_table_names_both_families() -> None:
    names = [
        (f.operation(verb), f.sdk_method(verb))
        for f in (IPV4, IPV6)
        for verb in ("List", "Get", "Create", "Update")
    ]
    assert names == [
        ("ListPrivateIps", "list_private_ips"),
        ("GetPrivateIp", "get_private_ip"),
        ("CreatePrivateIp", "create_private_ip"),
        ("UpdatePrivateIp", "update_private_ip"),
        ("ListIpv6s", "list_ipv6s"),
        ("GetIpv6", "get_ipv6"),
        ("CreateIpv6", "create_ipv6"),
        ("UpdateIpv6", "update_ipv6"),
    ]
    assert ip_family("10.0.0.1") == IPV4 and ip_family("fd00::1") == IPV6
    # Every name is a real method and model of the SDK's client.
    oci = pytest.importorskip("oci")
    for family in (IPV4, IPV6):
        for verb in ("List", "Get", "Create", "Update"):
            assert callable(getattr(oci.core.VirtualNetworkClient, family.sdk_method(verb)))
        for verb in ("Create", "Update"):
            assert getattr(oci.core.models, "{}{}Details".format(verb, family.noun))


# ---------------------------------------------------------------- unreadable answers


class _Base:
    """The SDK base client's reading of an answer body, failing as on a garbled body."""

    def deserialize_response_data(self, data: bytes, response_type: str) -> Any:
        raise TypeError("'str' object has no attribute 'get'")


class _Client:
    def __init__(self, own_mistake: bool = False) -> None:
        self.base_client = _Base()
        self.calls: List[str] = []
        self.own_mistake = own_mistake

    def _answer(self, method: str) -> Any:
        self.calls.append(method)
        if self.own_mistake:
            # What a wrong argument in our own call looks like.
            raise TypeError("{}() got an unexpected keyword argument 'x'".format(method))
        return self.base_client.deserialize_response_data(b'{"id": "ocid1.trunc', "Vnic")

    def get_vnic(self, vnic_id: str, retry_strategy: Any = None) -> Any:
        return self._answer("get_vnic")

    def update_private_ip(self, ip_id: str, details: Any, **kwargs: Any) -> Any:
        return self._answer("update_private_ip")


def _api_with(client: _Client) -> OciApi:
    pytest.importorskip("oci")
    api = OciApi(OciSettings(max_attempts=3, retry_base_seconds=0.01))
    guard_deserializer(client)
    api._clients["network"] = client
    return api


def test_an_unreadable_answer_to_a_read_is_retried_then_a_bad_response() -> None:
    client = _Client()
    with pytest.raises(CloudError) as e:
        _api_with(client).get_vnic("ocid1.vnic.x")
    assert e.value.codes == [reports.OCI_BAD_RESPONSE] and e.value.transient
    assert "TypeError" in e.value.reports[0].message
    assert client.calls == ["get_vnic"] * 3


def test_an_unreadable_answer_to_a_write_is_left_to_the_read_back() -> None:
    client = _Client()
    assert _api_with(client).move_ip(IPV4, "ocid1.privateip.x", "ocid1.vnic.y", "etag") == {
        "value": None
    }
    assert client.calls == ["update_private_ip"]


def test_our_own_mistake_is_not_taken_for_an_unreadable_answer() -> None:
    client = _Client(own_mistake=True)
    api = _api_with(client)
    with pytest.raises(TypeError):
        api.get_vnic("ocid1.vnic.x")
    with pytest.raises(TypeError):
        api.move_ip(IPV4, "ocid1.privateip.x", "ocid1.vnic.y", None)
    assert client.calls == ["get_vnic", "update_private_ip"]


def test_the_sdk_reads_every_answer_through_the_guarded_method() -> None:
    oci = pytest.importorskip("oci")
    config = {"region": "us-ashburn-1"}
    signer = oci.auth.signers.SecurityTokenSigner("token", _private_key())
    client = oci.core.VirtualNetworkClient(config, signer=signer)
    guard_deserializer(client)
    with pytest.raises(api_module.UnreadableAnswer) as e:
        client.base_client.deserialize_response_data(b"\xff", "Vnic")
    assert isinstance(e.value.__cause__, UnicodeDecodeError)


def _private_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
