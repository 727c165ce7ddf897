"""Installed versions of the stack pcs-oci runs on, and whether its own files are intact.

For `pcs-oci verify`: the versions of pacemaker, pcs, resource-agents and the
OCI SDK, and `rpm -V` of pcs-oci itself. The `rpm` Python module answers the
version queries where it exists (python3-rpm on EL; the PyPI `rpm` shim in a
virtualenv); it is imported only when asked, never at CLI start-up. Without
it, `rpm -q --qf` does through the command runner. When the rpm database
knows none of the packages asked about (Debian, whose rpm database is empty),
`dpkg-query -W` answers instead, so verify shows versions there too. Nothing
here raises for a missing package or tool: "not installed" is None.
"""

import re
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from pcs_oci.lib.errors import PcsOciError
from pcs_oci.lib.runner import CommandRunner

SELF = "pcs-oci"
PACEMAKER = "pacemaker"
PCS = "pcs"
RESOURCE_AGENTS = "resource-agents"
# Oracle Linux names the SDK package after the Python it is built for
# (python36-oci-sdk on OL8, python39-oci-sdk on OL9); SUSE calls it
# python3-oci-sdk. The one matching the running interpreter comes first.
SDK_DISTRIBUTION = "oci"


_SDK_PACKAGES = ("python39-oci-sdk", "python36-oci-sdk", "python3-oci-sdk")


def sdk_packages(python: Optional[Sequence[int]] = None) -> List[str]:
    major, minor = (python or sys.version_info)[:2]
    own = "python{}{}-oci-sdk".format(major, minor)
    return [own] + [p for p in _SDK_PACKAGES if p != own]


# %{EPOCH}: only when set, as rpm itself prints an EVR.
QUERY_FORMAT = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n"
DPKG_FORMAT = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"
_NOT_INSTALLED = re.compile(r"^package (\S+) is not installed$")
# `rpm -V` lines: "S.5....T.  c /etc/pcs-oci/pcs-oci.json", "missing     /usr/sbin/pcs-oci"
_VERIFY_LINE = re.compile(r"^(missing|[.?SM5DLUGTPC]{9})\s+(?:([cdglr])\s+)?(/.*)$")


class Package(NamedTuple):
    name: str
    # "[EPOCH:]VERSION-RELEASE" from rpm, the Debian version from dpkg, the
    # distribution version for a pip-installed SDK; None: not installed.
    version: Optional[str]
    # "rpm", "dpkg", "python" (a distribution seen by importlib.metadata) or "".
    source: str = ""

    @property
    def installed(self) -> bool:
        return self.version is not None


class FileChange(NamedTuple):
    path: str
    # rpm -V's flags ("S.5....T.") or "missing".
    flags: str


class FileCheck(NamedTuple):
    package: str
    installed: bool
    # Files that differ from the package (config files excluded).
    changed: List[FileChange]
    # Config files edited since installation: expected, listed for information.
    config_changed: List[FileChange]
    # Why the check could not run (no rpm), else "".
    error: str = ""

    @property
    def intact(self) -> bool:
        return self.installed and not self.changed


def rpm_module() -> Any:
    """The rpm bindings, or None. Imported here: only verify needs them."""
    try:
        import rpm  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    # A directory named rpm/ on sys.path (this repository's own, when the
    # current directory is on the path) imports as an empty namespace package.
    return rpm if hasattr(rpm, "TransactionSet") else None


class RpmInfo:
    """Package queries against one system root (tests pass a scratch root)."""

    def __init__(
        self,
        runner: CommandRunner,
        root: str = "/",
        dbpath: Optional[str] = None,
        module: Any = "auto",
    ):
        self._runner = runner
        self._root = root
        self._dbpath = dbpath
        self._module = rpm_module() if module == "auto" else module

    # ------------------------------------------------------------ versions

    def versions(self, names: Sequence[str]) -> Dict[str, Package]:
        """Each name -> its Package; not installed anywhere -> version None."""
        found = self._rpm_versions(names)
        if not any(p.installed for p in found.values()):
            found.update(self._dpkg_versions(names))
        return {n: found.get(n, Package(n, None)) for n in names}

    def sdk(self) -> Package:
        """The OCI SDK: its OS package, else a pip-installed distribution."""
        candidates = sdk_packages()
        found = self.versions(candidates)
        for name in candidates:
            if found[name].installed:
                return found[name]
        version = _distribution_version(SDK_DISTRIBUTION)
        if version is not None:
            return Package(SDK_DISTRIBUTION, version, "python")
        return Package(candidates[0], None)

    def stack(self) -> List[Package]:
        """pacemaker, pcs, resource-agents, the SDK and pcs-oci, in that order."""
        names = [PACEMAKER, PCS, RESOURCE_AGENTS, SELF]
        found = self.versions(names)
        return [found[PACEMAKER], found[PCS], found[RESOURCE_AGENTS], self.sdk(), found[SELF]]

    def _rpm_versions(self, names: Sequence[str]) -> Dict[str, Package]:
        if self._module is not None:
            try:
                return self._module_versions(names)
            except Exception:  # noqa: S110 - rpm.error or a broken binding: ask the command
                pass
        try:
            result = self._runner.run(
                ["rpm", "-q", *self._root_args(), "--qf", QUERY_FORMAT, *names]
            )
        except PcsOciError:
            return {}
        found: Dict[str, Package] = {}
        for line in result.stdout.splitlines():
            name, tab, evr = line.partition("\t")
            if tab and name in names and name not in found:
                found[name] = Package(name, evr, "rpm")
        return found

    def _module_versions(self, names: Sequence[str]) -> Dict[str, Package]:
        rpm = self._module
        if self._dbpath:
            rpm.addMacro("_dbpath", self._dbpath)
        try:
            ts = rpm.TransactionSet(self._root)
            try:
                return {
                    name: Package(name, evr, "rpm")
                    for name, evr in ((n, self._newest(ts, n)) for n in names)
                    if evr is not None
                }
            finally:
                ts.closeDB()
        finally:
            if self._dbpath:
                rpm.delMacro("_dbpath")

    def _newest(self, ts: Any, name: str) -> Optional[str]:
        best = None
        for header in ts.dbMatch("name", name):
            evr = (str(header["epoch"] or 0), _str(header["version"]), _str(header["release"]))
            if best is None or self._module.labelCompare(evr, best) > 0:
                best = evr
        if best is None:
            return None
        epoch, version, release = best
        text = "{}-{}".format(version, release)
        return text if epoch == "0" else epoch + ":" + text

    def _dpkg_versions(self, names: Sequence[str]) -> Dict[str, Package]:
        args = ["dpkg-query", "-W", "-f", DPKG_FORMAT]
        if self._root != "/":
            args.insert(1, "--admindir={}/var/lib/dpkg".format(self._root.rstrip("/")))
        try:
            # Exit 1 when some name is unknown; the known ones are still listed.
            result = self._runner.run([*args, *names])
        except PcsOciError:
            return {}
        found: Dict[str, Package] = {}
        for line in result.stdout.splitlines():
            fields = line.split("\t")
            if len(fields) == 3 and fields[0] in names and fields[2].startswith("ii"):
                found[fields[0]] = Package(fields[0], fields[1], "dpkg")
        return found

    def _root_args(self) -> List[str]:
        args = []
        if self._root != "/":
            args += ["--root", self._root]
        if self._dbpath:
            args += ["--dbpath", self._dbpath]
        return args

    # ------------------------------------------------------------ rpm -V

    def verify_files(self, name: str = SELF) -> FileCheck:
        """`rpm -V` of one package: which of its files changed or went missing.

        The bindings have no verify call, so this always runs the command.
        """
        try:
            result = self._runner.run(
                ["rpm", "-V", *self._root_args(), "--nodeps", "--noscripts", name]
            )
        except PcsOciError as e:
            return FileCheck(name, False, [], [], str(e))
        lines = result.stdout.splitlines()
        if any(_NOT_INSTALLED.match(line) for line in lines):
            return FileCheck(name, False, [], [])
        changed: List[FileChange] = []
        config_changed: List[FileChange] = []
        for line in lines:
            match = _VERIFY_LINE.match(line)
            if not match:
                continue
            flags, attr, path = match.groups()
            (config_changed if attr == "c" else changed).append(FileChange(path, flags))
        if result.returncode != 0 and not changed and not config_changed:
            why = result.stderr.strip() or "rpm -V exited {}".format(result.returncode)
            return FileCheck(name, False, [], [], why)
        return FileCheck(name, True, changed, config_changed)


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _distribution_version(name: str) -> Optional[str]:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
