"""`make demo` does the main job: the demo, run as a user runs it, tells the whole story.

It runs `python -m tests.lab.demo` as a subprocess (its own lab name, so it
cannot clash with a `make demo` running beside it) and checks the narration:
configured with the real `pcs-oci` inside a node, the VIP up in the three
views, the active node killed, the VIP moved with OCI showing the survivor's
VNIC and a client reaching it, the node back, no failback, all torn down.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.lab import lab_name, unavailable_reason
from tests.lab.oci_lab import AGENT_PYTHON, REPO, VIP

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
    pytest.mark.skipif(
        not os.access(AGENT_PYTHON, os.X_OK), reason="no agent venv: run `make agent-venv`"
    ),
]

STAMP = r"^\[\s*\d+\.\ds\] "


def test_demo_narrates_a_failover_without_failback() -> None:
    name = "tdemo{}".format(os.getpid())
    result = subprocess.run(
        [sys.executable, "-m", "tests.lab.demo", "--name", name],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    lines = [line for line in out.splitlines() if re.match(STAMP, line)]
    story = "\n".join(lines)

    def line_with(pattern: str) -> re.Match:
        found = re.search(STAMP + ".*" + pattern + ".*$", story, re.M)
        assert found, "no narration matching {!r} in:\n{}".format(pattern, out)
        return found

    line_with("cluster up: node1 node2")
    # The real CLI, inside node1, filled the VNICs and created the resource.
    assert "$ pcs-oci discover --all --update" in out
    updated = re.search(r"^\s*Updated .*$", out, re.M)
    assert updated, out
    assert "nodes[node1].vnic_id" in updated.group(0), updated.group(0)
    assert "nodes[node2].vnic_id" in updated.group(0), updated.group(0)
    assert re.search(r"\d+ PASS, \d+ WARN, 0 FAIL", out), out
    assert "vip: created" in out
    up = line_with(r"VIP {} up on (node\d); OCI: .* VNIC of (node\d)".format(re.escape(VIP)))
    holder = up.group(1)
    assert up.group(2) == holder
    survivor = "node2" if holder == "node1" else "node1"
    line_with("killing {}".format(holder))
    moved = line_with(r"VIP moved to {} in (\d+\.\d) s".format(survivor))
    assert 0 < float(moved.group(1)) < 30, moved.group(0)
    line_with(
        "OCI shows the private IP on the VNIC of {}.*a client ping reaches it".format(survivor)
    )
    line_with("UpdatePrivateIp by the instance of {} -> HTTP 200".format(survivor))
    line_with("{} returns".format(holder))
    line_with(r"no failback: VIP stays on {} \(stickiness 100\)".format(survivor))
    line_with("done: the cluster.* gone")
    # The last status agrees on the survivor in all three views.
    assert re.search(
        r"vip\s+{}\s+Started on {}\s+yes\s+{} .*yes".format(re.escape(VIP), survivor, survivor),
        out.split("no failback")[-1],
    ), out
    # Timestamps never go backwards.
    stamps = [float(line.split("s]", 1)[0].strip("[ ")) for line in lines]
    assert stamps == sorted(stamps)
    assert not Path("/var/tmp/cluster-lab-" + lab_name(name)).exists()
