"""`pcs-oci -f CIB_FILE migrate|configure|unconfigure`: the real command on CIB files.

The result is compared byte for byte with golden files in tests/data/cib/
(written by Pacemaker's own tools, so they depend on its version: the ones
here come from the stack in GOLDEN_STACK; set PCS_OCI_UPDATE_GOLDEN=1 to
write them again on another). configure and unconfigure run the real pcs,
which wants the agent's meta-data: they run in a private mount namespace
where the agent is installed (root only), the host's /usr/lib untouched.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.lab.oci_lab import install_agent

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "cib"
# Pacemaker and pcs the golden files were written with (major.minor).
GOLDEN_STACK = {"pacemaker": "2.1", "pcs": "0.11"}
UPDATE = os.environ.get("PCS_OCI_UPDATE_GOLDEN") == "1"
VNIC1 = "ocid1.vnic.oc1.iad.aaaa"
VNIC2 = "ocid1.vnic.oc1.iad.bbbb"
CONFIG: Dict[str, Any] = {
    "nodes": [{"hostname": "node1", "vnic_id": VNIC1}, {"hostname": "node2", "vnic_id": VNIC2}],
    "vips": [
        {"name": "Cluster_VIP", "ip": "10.0.0.200", "cidr_netmask": 24, "monitor_interval": "10s"}
    ],
}


def _version(argv: List[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return ""
    match = re.search(r"(\d+\.\d+)", out)
    return match.group(1) if match else ""


def _stack() -> Dict[str, str]:
    return {
        "pacemaker": _version(["/usr/sbin/crm_simulate", "--version"]),
        "pcs": _version(["/usr/sbin/pcs", "--version"]),
    }


STACK = _stack()
needs_pacemaker = pytest.mark.skipif(
    not UPDATE and STACK["pacemaker"] != GOLDEN_STACK["pacemaker"],
    reason="golden CIBs are from Pacemaker {} (here: {}); PCS_OCI_UPDATE_GOLDEN=1 rewrites "
    "them".format(GOLDEN_STACK["pacemaker"], STACK["pacemaker"] or "none"),
)
needs_pcs = pytest.mark.skipif(
    os.geteuid() != 0
    or shutil.which("unshare") is None
    or (not UPDATE and STACK["pcs"] != GOLDEN_STACK["pcs"]),
    reason="needs root (a private mount namespace with the agent installed) and pcs {} "
    "(here: {})".format(GOLDEN_STACK["pcs"], STACK["pcs"] or "none"),
)


def pcs_oci(
    tmp: Path, *args: str, config: Any = None, with_agent: bool = False
) -> subprocess.CompletedProcess:
    path = tmp / "pcs-oci.json"
    path.write_text(json.dumps(config or CONFIG))
    argv = [sys.executable, "-m", "pcs_oci", "-c", str(path), *args]
    if with_agent:
        agent_dir = tmp / "ocf"
        install_agent(agent_dir / "oci")
        # The host's resource.d with the agent added, in this command's mounts only.
        script = (
            'mount -t overlay pcs-oci-test -o "lowerdir=$0:/usr/lib/ocf/resource.d" '
            '/usr/lib/ocf/resource.d && exec "$@"'
        )
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        argv += [str(agent_dir), sys.executable, "-m", "pcs_oci", "-c", str(path), *args]
    env = dict(os.environ)
    env.pop("CIB_file", None)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=str(REPO))


def copy(tmp: Path, name: str) -> Path:
    target = tmp / name
    shutil.copy(DATA / name, target)
    return target


def golden(result: Path, name: str) -> None:
    expected = DATA / name
    if UPDATE:
        shutil.copy(result, expected)
    assert result.read_bytes() == expected.read_bytes(), "differs from {}".format(expected)


# ---------------------------------------------------------------- migrate


@needs_pacemaker
@pytest.mark.parametrize("name", ["recipe.xml", "ocivip-group.xml", "ocivip-colocated.xml"])
def test_migrate_converts_the_file(tmp_path: Path, name: str):
    cib = copy(tmp_path, name)

    done = pcs_oci(tmp_path, "-f", str(cib), "migrate")

    assert done.returncode == 0, done.stderr
    assert "Editing the CIB file {} offline; skipped".format(cib) in done.stdout
    assert "the cluster is running on this node (crm_mon)" in done.stdout
    assert "Migrated {}.".format(cib) in done.stdout
    golden(cib, name.replace(".xml", ".migrated.xml"))
    # A second run finds nothing to do and leaves every byte.
    again = pcs_oci(tmp_path, "-f", str(cib), "migrate")
    assert again.returncode == 0, again.stderr
    assert "Nothing to migrate." in again.stdout
    golden(cib, name.replace(".xml", ".migrated.xml"))


@needs_pacemaker
def test_migrate_says_what_a_push_of_the_file_would_restart(tmp_path: Path):
    cib = copy(tmp_path, "recipe.xml")

    done = pcs_oci(tmp_path, "-f", str(cib), "migrate")

    assert (
        "When this CIB is pushed (pcs cluster cib-push FILE --config), Pacemaker will restart "
        "Cluster_VIP on node1; restart app on node1 (required Cluster_VIP start)"
    ) in done.stdout


@needs_pacemaker
def test_migrate_dry_run_prints_the_exact_difference_and_changes_nothing(tmp_path: Path):
    cib = copy(tmp_path, "recipe.xml")
    before = cib.read_bytes()

    done = pcs_oci(tmp_path, "-f", str(cib), "migrate", "--dry-run")

    assert done.returncode == 0, done.stderr
    assert cib.read_bytes() == before
    diff = done.stdout[done.stdout.index("--- cib configuration (before)") :]
    assert (
        '-      <primitive id="Cluster_VIP" class="ocf" type="IPaddr2" provider="heartbeat">\n'
        '+      <primitive id="Cluster_VIP" class="ocf" type="IPaddr2" provider="oci">\n'
    ) in diff
    assert "Dry run: nothing was changed." in done.stdout
    # The diff is exactly what the real run writes.
    applied = pcs_oci(tmp_path, "-f", str(cib), "migrate")
    assert applied.returncode == 0
    plus = [line[1:] for line in diff.splitlines() if line.startswith("+") and "+++" not in line]
    text = cib.read_text()
    assert all(line in text for line in plus)


@needs_pacemaker
@pytest.mark.parametrize(
    "name,reason",
    [
        ("two-resources.xml", "the address is in 2 resources: Cluster_VIP, other_vip"),
        ("clone.xml", "Cluster_VIP is inside clone Cluster_VIP-clone"),
        ("bundle.xml", "Cluster_VIP is inside bundle web-bundle"),
    ],
)
def test_migrate_refuses_what_it_cannot_convert_and_changes_nothing(
    tmp_path: Path, name: str, reason: str
):
    cib = copy(tmp_path, name)
    before = cib.read_bytes()

    done = pcs_oci(tmp_path, "-f", str(cib), "migrate")

    assert done.returncode == 3
    assert reason in done.stderr
    assert "Traceback" not in done.stderr
    assert cib.read_bytes() == before


@needs_pacemaker
def test_migrate_refuses_a_config_that_does_not_describe_the_resource(tmp_path: Path):
    cib = copy(tmp_path, "recipe.xml")
    before = cib.read_bytes()
    config = json.loads(json.dumps(CONFIG))
    config["vips"][0].update(name="vip", cidr_netmask=25)

    done = pcs_oci(tmp_path, "-f", str(cib), "migrate", config=config)

    assert done.returncode == 3
    assert (
        "the resource holding it is Cluster_VIP, the config names it vip (set vips[0].name to "
        '"Cluster_VIP"'
    ) in done.stderr
    assert "Cluster_VIP has cidr_netmask=24, the config has 25" in done.stderr
    assert cib.read_bytes() == before


def test_f_is_refused_by_commands_that_need_the_live_cluster(tmp_path: Path):
    done = pcs_oci(tmp_path, "-f", str(tmp_path / "x.xml"), "status")

    assert done.returncode == 2
    assert "-f CIB_FILE works with configure, unconfigure and migrate only" in done.stderr


# ---------------------------------------------------------------- configure, unconfigure


def _grouped_config() -> Dict[str, Any]:
    config = json.loads(json.dumps(CONFIG))
    config["vips"] = [
        {"name": "vip2", "ip": "10.0.0.201", "cidr_netmask": 24, "group": "web"},
        {"name": "vip3", "ip": "10.0.0.202", "cidr_netmask": 24, "group": "shop"},
    ]
    return config


@needs_pacemaker
@needs_pcs
def test_configure_puts_each_vip_first_in_its_group(tmp_path: Path):
    cib = copy(tmp_path, "recipe.xml")

    done = pcs_oci(tmp_path, "-f", str(cib), "configure", config=_grouped_config(), with_agent=True)

    assert done.returncode == 0, done.stderr
    assert "Editing the CIB file {} offline".format(cib) in done.stdout
    assert "vip2: created\nvip3: created\n" in done.stdout
    golden(cib, "recipe.configured.xml")
    # web existed: vip2 leads it; shop did not: it was created around vip3.
    groups = _groups(cib)
    assert groups["web"] == ["vip2", "Cluster_VIP", "app"]
    assert groups["shop"] == ["vip3"]
    again = pcs_oci(
        tmp_path, "-f", str(cib), "configure", config=_grouped_config(), with_agent=True
    )
    assert "vip2: unchanged\nvip3: unchanged\n" in again.stdout
    golden(cib, "recipe.configured.xml")


@needs_pacemaker
@needs_pcs
def test_configure_moves_an_existing_vip_to_the_front_of_its_group(tmp_path: Path):
    cib = copy(tmp_path, "recipe.xml")
    migrated = pcs_oci(tmp_path, "-f", str(cib), "migrate")
    assert migrated.returncode == 0, migrated.stderr
    config = json.loads(json.dumps(CONFIG))
    config["vips"][0]["group"] = "shop"

    dry = pcs_oci(
        tmp_path, "-f", str(cib), "configure", "--dry-run", config=config, with_agent=True
    )
    done = pcs_oci(tmp_path, "-f", str(cib), "configure", config=config, with_agent=True)

    assert "/usr/sbin/pcs -f {} resource group add shop Cluster_VIP".format(cib) in dry.stdout
    assert done.returncode == 0, done.stderr
    assert "Cluster_VIP: updated (put Cluster_VIP first in group shop)" in done.stdout
    assert _groups(cib)["shop"] == ["Cluster_VIP"]


@needs_pacemaker
@needs_pcs
def test_unconfigure_deletes_from_the_file(tmp_path: Path):
    cib = copy(tmp_path, "recipe.xml")
    assert pcs_oci(tmp_path, "-f", str(cib), "migrate").returncode == 0

    done = pcs_oci(tmp_path, "-f", str(cib), "unconfigure", "Cluster_VIP", with_agent=True)

    assert done.returncode == 0, done.stderr
    assert "Cluster_VIP: deleted" in done.stdout
    golden(cib, "recipe.unconfigured.xml")


def _groups(cib: Path) -> Dict[str, List[str]]:
    import xml.etree.ElementTree as ET

    root = ET.parse(str(cib)).getroot()
    return {
        g.get("id", ""): [p.get("id", "") for p in g.findall("primitive")]
        for g in root.iter("group")
    }


@needs_pacemaker
@needs_pcs
def test_after_migrate_configure_has_nothing_to_do(tmp_path: Path):
    cib = copy(tmp_path, "recipe.xml")
    assert pcs_oci(tmp_path, "-f", str(cib), "migrate").returncode == 0

    done = pcs_oci(tmp_path, "-f", str(cib), "configure", "--dry-run", with_agent=True)

    assert done.returncode == 0, done.stderr
    assert "# nothing to do: the cluster matches" in done.stdout


@pytest.mark.parametrize(
    "content,reason",
    [
        (None, "cannot read the CIB file: No such file or directory"),
        ("<cib", "not a CIB (unclosed token"),
        ('{"nodes": []}', "not a CIB (not well-formed"),
        ("<cib><status/></cib>", "not a CIB (no <cib> with a <configuration>)"),
    ],
)
def test_f_with_something_that_is_not_a_cib_is_a_clear_error(tmp_path: Path, content, reason):
    cib = tmp_path / "cib.xml"
    if content is not None:
        cib.write_text(content)

    done = pcs_oci(tmp_path, "-f", str(cib), "migrate")

    assert done.returncode == 1
    assert done.stderr.startswith("Error: {}: {}".format(cib, reason))
    assert "pcs cluster cib {}".format(cib) in done.stderr
    assert (cib.read_text() if content is not None else None) == content
