"""The agent's exit reason and log for OCI's refusals, against the fake OCI with
the real SDK: a resource named in the request body that may not be used
(400 RelatedResourceNotAuthorizedOrNotFound) gets the policy fix of a 404."""

from pathlib import Path

import pytest

from tests.fakes.harness import FakeOci
from tests.tools.agent_sandbox import VIP, Sandbox


@pytest.mark.parametrize(
    "status, code",
    [(400, "RelatedResourceNotAuthorizedOrNotFound"), (404, "NotAuthorizedOrNotFound")],
)
@pytest.mark.fake_world(secondary_ips={VIP: "node2"})
def test_a_refused_move_names_the_code_and_the_policy(
    fake_oci: FakeOci, tmp_path: Path, status: int, code: str
) -> None:
    fake_oci.faults.add(
        "UpdatePrivateIp",
        status=status,
        code=code,
        message="Either VNIC with ID {} does not exist or you are not authorized to access "
        "it.".format(fake_oci.node("node1")["vnic_id"]),
    )
    box = Sandbox(tmp_path, fake_oci)
    result = box.run("start", 30)
    assert result.rc == 1 and not box.up.exists()
    assert result.reason.startswith(
        "OCI UpdatePrivateIp failed: {} (HTTP {}, opc-request-id ".format(code, status)
    )
    # The fix goes to the log, in full: the statements and `pcs-oci policy`.
    assert "allow dynamic-group <group> to use vnics in compartment" in result.stderr
    assert "`pcs-oci policy` prints them all" in result.stderr
    assert len(fake_oci.calls("UpdatePrivateIp")) == 1  # a refusal is not retried
