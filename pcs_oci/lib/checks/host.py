"""verify's checks of the host: packages, other software that manages addresses, the firewall."""

import os
import re
from typing import List, NamedTuple, Optional, Tuple

from pcs_oci import settings
from pcs_oci.common.checks import CONFLICTS, FAIL, FIREWALL, PACKAGES, PASS, WARN, row, skip
from pcs_oci.lib.checks import Rows, error_text
from pcs_oci.lib.config import Config
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.rpminfo import FileCheck, Package, RpmInfo
from pcs_oci.lib.runner import CommandRunner

# Where a static network configuration could name the VIP.
NETWORK_CONFIG_DIRS = (
    "/etc/sysconfig/network-scripts",
    "/etc/NetworkManager/system-connections",
    "/etc/netplan",
)
NETWORK_CONFIG_FILES = ("/etc/network/interfaces",)
# The stack packages a node cannot run without (pcs-oci itself may be a
# checkout, not a package).
REQUIRED = 4


class PackageFacts(NamedTuple):
    # pacemaker, pcs, resource-agents, the SDK, pcs-oci.
    stack: List[Package]
    # rpm -V of pcs-oci; None when a required package is missing.
    files: Optional[FileCheck]

    @property
    def missing(self) -> List[str]:
        return [p.name for p in self.stack[:REQUIRED] if not p.installed]


class ConflictFacts(NamedTuple):
    ocid_running: bool
    # (file, VIP) for each static network configuration file naming a VIP.
    mentions: List[Tuple[str, str]]


class FirewallFacts(NamedTuple):
    running: bool
    # firewalld allows the high-availability service.
    ha_open: bool = False
    # Why firewalld could not be asked.
    error: str = ""


# ---------------------------------------------------------------- reading


def read_packages(runner: CommandRunner) -> PackageFacts:
    info = RpmInfo(runner)
    found = PackageFacts(info.stack(), None)
    return found if found.missing else found._replace(files=info.verify_files())


def read_conflicts(config: Optional[Config]) -> ConflictFacts:
    mentions = []
    if config is not None:
        for path in _network_config_files():
            text = _read(path)
            for vip in config.vips:
                if text and re.search(r"(?<![\d.:]){}(?![\d])".format(re.escape(vip.ip)), text):
                    mentions.append((path, vip.ip))
    return ConflictFacts(_process_running("ocid"), mentions)


def read_firewall(runner: CommandRunner) -> FirewallFacts:
    if not _process_running("firewalld"):
        return FirewallFacts(False)
    try:
        result = runner.run(
            [settings.FIREWALL_CMD, "--query-service=high-availability"], timeout=10
        )
    except PcsOciError as e:
        return FirewallFacts(True, error=error_text(e, 1))
    return FirewallFacts(True, result.ok)


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
    for directory in NETWORK_CONFIG_DIRS:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        found += [os.path.join(directory, n) for n in names]
    return found + list(NETWORK_CONFIG_FILES)


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read(1024 * 1024)
    except OSError:
        return ""


# ---------------------------------------------------------------- checks


def check_packages(packages: PackageFacts) -> Rows:
    """Versions of the stack, and whether pcs-oci's own files are intact."""
    versions = (
        ", ".join("{} {}".format(p.name, p.version) for p in packages.stack if p.installed)
        or "no package versions known"
    )
    if packages.missing:
        return [
            row(
                PACKAGES,
                FAIL,
                "not installed: {} ({})".format(", ".join(packages.missing), versions),
                "yum install " + " ".join(packages.missing),
            )
        ]
    files = packages.files
    installed = files is not None and files.installed
    if files is not None and installed and not files.intact:
        return [
            row(
                PACKAGES,
                WARN,
                "files of pcs-oci differ from the package: {}".format(
                    ", ".join("{} ({})".format(c.path, c.flags) for c in files.changed[:5])
                ),
                "reinstall it: yum reinstall pcs-oci",
            )
        ]
    note = "" if installed else "; pcs-oci itself is not an installed package here"
    return [row(PACKAGES, PASS, versions + note)]


def check_conflicts(conflicts: ConflictFacts) -> Rows:
    found = []
    if conflicts.ocid_running:
        found.append("oci-utils' ocid daemon runs and may remove secondary IPs it did not add")
    found += ["{} mentions {}".format(path, ip) for path, ip in conflicts.mentions]
    if found:
        return [
            row(
                CONFLICTS,
                WARN,
                "; ".join(found),
                "stop ocid managing VNIC addresses (`systemctl disable --now ocid` or "
                "vnic_ignore in /etc/oci-utils.conf.d) and remove the VIP from static "
                "network config: only the cluster may add it",
            )
        ]
    return [row(CONFLICTS, PASS, "no ocid daemon, no static VIP config")]


def check_firewall(firewall: FirewallFacts) -> Rows:
    if not firewall.running:
        return [row(FIREWALL, PASS, "firewalld is not running")]
    if firewall.error:
        return [skip(FIREWALL, "firewalld runs, but cannot be asked: " + firewall.error)]
    if firewall.ha_open:
        return [row(FIREWALL, PASS, "high-availability service open")]
    return [
        row(
            FIREWALL,
            FAIL,
            "firewalld runs without the high-availability service",
            "firewall-cmd --permanent --add-service=high-availability && firewall-cmd --reload",
        )
    ]
