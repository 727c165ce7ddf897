"""The old ways of moving a VIP on OCI, as they show on a node and in the CIB.

- The sed recipe: the shipped heartbeat IPaddr2 edited to run
  `oci network vnic assign-private-ip ...`. The package manager's own verify
  (`rpm -V resource-agents`; `dpkg --verify resource-agents` on Debian) says
  the file changed, and the file calls the `oci` CLI. Once every VIP runs on
  ocf:oci:IPaddr2 the package is reinstalled (in that order: a node must
  never run a VIP without the OCI move).
- Upstream ocf:heartbeat:ocivip: a resource of that agent left in the CIB.
- Any other OCF agent under /usr/lib/ocf that calls the `oci` CLI.

Pure functions over text and XML, and a few that run the package manager
through the command runner; `pcs-oci verify` turns them into checks.
"""

import os
import re
import xml.etree.ElementTree as ET  # noqa: S405 - the CIB comes from our own cluster tools
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from pcs_oci import settings
from pcs_oci.lib import cib
from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.runner import CommandRunner

RESOURCE_AGENTS = "resource-agents"
OCIVIP = "ocf:heartbeat:ocivip"
# An agent larger than this is not a shell script worth reading.
MAX_AGENT_BYTES = 2 * 1024 * 1024

# `oci` run as a command: at the start of a shell command (line start, after
# ; | & ( ` $( or a quote), by name or path, followed by one of its service
# groups or an option; or ocivip's "$OCICLI" variable. Comment lines are
# skipped; prose such as "with oci cli" is not a call.
_OCI_GROUPS = (
    "network|compute|iam|os|bv|lb|nlb|dns|db|fs|kms|vault|ce|setup|session|raw-request|"
    "search|limits|audit|events|ons|monitoring|logging|waf|certs-mgmt"
)
_OCI_CALL = re.compile(
    r"""(?:^|[\s;|&(`"'])(?:[\w./-]*/)?oci\s+(?:-{1,2}[a-z][\w-]*|(?:"""
    + _OCI_GROUPS
    + r""")\b)|\$\{?OCICLI\}?["']?\s+\w"""
)
# rpm -V / dpkg --verify: "S.5....T.  c /path", "??5??????   /path", "missing   /path".
_VERIFY_LINE = re.compile(r"^(missing|[.?SM5DLUGTPC]{9})\s+(?:([cdglr])\s+)?(/\S.*)$")


class PackageVerify(NamedTuple):
    manager: str  # "rpm", "dpkg" or "" (neither knows the package)
    # Files whose content differs from the package, or that are missing.
    modified: List[str]
    error: str = ""


class PatchedAgent(NamedTuple):
    path: str
    # The package manager says the file is not what it shipped.
    modified: bool
    # (line number, line) of each `oci` CLI call in it.
    oci_calls: List[Tuple[int, str]]
    # The package manager that verified it ("rpm", "dpkg"; "" when none could).
    manager: str = ""
    # Why the package could not be verified; "" when it was.
    error: str = ""

    @property
    def patched(self) -> bool:
        """Modified and calling the oci CLI: the sed recipe."""
        return self.modified and bool(self.oci_calls)

    @property
    def reinstall(self) -> str:
        """The command that restores the packaged file on this node."""
        return reinstall_command(self.manager)


def reinstall_command(manager: str, package: str = RESOURCE_AGENTS) -> str:
    if manager == "dpkg":
        return "apt-get install --reinstall " + package
    return "yum reinstall " + package


def oci_cli_calls(text: str) -> List[Tuple[int, str]]:
    """(line number, stripped line) of each line that runs the `oci` CLI."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if _OCI_CALL.search(stripped):
            found.append((number, stripped))
    return found


def modified_files(output: str) -> List[str]:
    """The files an `rpm -V` or `dpkg --verify` output says changed in content or went missing.

    A changed mode or time alone ("......T.") is not a modification of the
    code; a digest ("5") or size ("S") change is, and so is a missing file.
    """
    found = []
    for line in output.splitlines():
        match = _VERIFY_LINE.match(line.strip())
        if not match:
            continue
        flags, _, path = match.groups()
        if flags == "missing" or "5" in flags or flags[0] == "S":
            found.append(path)
    return found


def verify_package(runner: CommandRunner, package: str = RESOURCE_AGENTS) -> PackageVerify:
    """The package manager's own verify of `package`: rpm first, dpkg where rpm does not know it."""
    try:
        result = runner.run(["rpm", "-V", "--nodeps", "--noscripts", package], timeout=120)
        if "is not installed" not in result.stdout + result.stderr:
            if result.returncode != 0 and not modified_files(result.stdout):
                return PackageVerify("rpm", [], result.stderr.strip() or "rpm -V failed")
            return PackageVerify("rpm", modified_files(result.stdout))
    except PcsOciError:
        pass  # no rpm: try dpkg
    try:
        result = runner.run(["dpkg", "--verify", package], timeout=120)
    except PcsOciError as e:
        return PackageVerify("", [], str(e))
    if result.returncode != 0 and not modified_files(result.stdout):
        why = result.stderr.strip() or "dpkg --verify exited {}".format(result.returncode)
        return PackageVerify("dpkg", [], why)
    return PackageVerify("dpkg", modified_files(result.stdout))


def _read(path: str) -> Optional[str]:
    try:
        if os.path.getsize(path) > MAX_AGENT_BYTES:
            return None
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"\x00" in data[:4096]:
        return None  # a binary
    return data.decode("utf-8", errors="replace")


def heartbeat_ipaddr2(
    runner: CommandRunner,
    path: str = settings.HEARTBEAT_IPADDR2,
    read: Callable[[str], Optional[str]] = _read,
    verify: Optional[PackageVerify] = None,
) -> PatchedAgent:
    """Whether this node's heartbeat IPaddr2 is the sed recipe's.

    `verify`: the package's verify when the caller already ran it.
    """
    if verify is None:
        verify = verify_package(runner)
    text = read(path) or ""
    return PatchedAgent(
        path, path in verify.modified, oci_cli_calls(text), verify.manager, verify.error
    )


def agents_calling_oci(
    resource_d: str = os.path.join(settings.OCF_ROOT, "resource.d"),
    read: Callable[[str], Optional[str]] = _read,
    skip_providers: Tuple[str, ...] = (settings.AGENT_PROVIDER,),
) -> Dict[str, List[Tuple[int, str]]]:
    """Agent path -> its `oci` CLI calls, for every OCF agent that has any.

    pcs-oci's own provider directory is skipped: its agent uses the SDK.
    """
    found: Dict[str, List[Tuple[int, str]]] = {}
    try:
        providers = sorted(os.listdir(resource_d))
    except OSError:
        return found
    for provider in providers:
        directory = os.path.join(resource_d, provider)
        if provider in skip_providers or not os.path.isdir(directory):
            continue
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if not os.path.isfile(path):
                continue
            calls = oci_cli_calls(read(path) or "")
            if calls:
                found[path] = calls
    return found


def leftover_ocivips(configuration: ET.Element) -> List[str]:
    """Ids of the ocf:heartbeat:ocivip resources in a CIB (or its configuration section)."""
    return [
        p.get("id", "")
        for p in cib.section(configuration, "resources").iter("primitive")
        if cib.agent(p) == OCIVIP
    ]
