"""The RPM: `make rpm` builds it, its payload and dependencies are exactly what
the spec promises, and it installs, upgrades and erases in a scratch root.

Built once per module into a temporary directory (never into ./dist). On
Debian, rpm's database is empty and the dependencies are not installed:
installs use --nodeps and a scratch root with --dbpath /var/lib/rpm.
"""

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from typing import Any, Dict, List, NamedTuple, Set

import pytest

from pcs_oci import __version__
from tests.packaging.tools import LAUNCHER, REPO, check, complete, run

pytestmark = pytest.mark.skipif(
    shutil.which("rpmbuild") is None, reason="rpmbuild is not installed (make deps installs rpm)"
)

NAME_VERSION = "pcs-oci-" + __version__
DBPATH = "/var/lib/rpm"
EXPECTED_REQUIRES = {
    "pacemaker",
    "pcs",
    "resource-agents",
    "python3-jsonschema",
    "python39-oci-sdk",
    "fence-agents-common",
    "iputils",
}


class Build(NamedTuple):
    rpm: str
    srpm: str
    tarball: str


def make_rpm(out: Any, release: int = 1, el: str = "", tarball: str = "") -> Build:
    topdir = out / "rpmbuild"
    args = ["make", "-s", "--no-print-directory", "rpm"]
    args += ["RPM_OUT={}".format(out), "RPM_TOPDIR={}".format(topdir)]
    args += ["RPM_RELEASE={}".format(release), "EL={}".format(el)]
    if tarball:
        args.append("RPM_TARBALL={}".format(tarball))
    check(args, cwd=REPO, timeout=300)
    release_text = "{}{}".format(release, ".el" + el if el else "")
    base = out / "{}-{}".format(NAME_VERSION, release_text)
    built = Build(
        str(base) + ".noarch.rpm",
        str(base) + ".src.rpm",
        str(topdir / "SOURCES" / (NAME_VERSION + ".tar.gz")),
    )
    assert os.path.exists(built.rpm) and os.path.exists(built.srpm), os.listdir(str(out))
    return built


@pytest.fixture(scope="module")
def build(tmp_path_factory: Any) -> Build:
    return make_rpm(tmp_path_factory.mktemp("rpm"))


CHANGED_DEFAULT = '{"$schema": "/usr/share/pcs-oci/pcs-oci.schema.json", "nodes": [], "vips": []}\n'


@pytest.fixture(scope="module")
def build_release_2(build: Build, tmp_path_factory: Any) -> Build:
    """Release 2 from release 1's tarball, with a changed default config."""
    out = tmp_path_factory.mktemp("rpm2")
    tarball = str(out / "source.tar.gz")
    with tarfile.open(build.tarball) as src, tarfile.open(tarball, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name == NAME_VERSION + "/conf/pcs-oci.default.json":
                data = io.BytesIO(CHANGED_DEFAULT.encode())
                member.size = len(CHANGED_DEFAULT)
            dst.addfile(member, data)
    return make_rpm(out, release=2, tarball=tarball)


@pytest.fixture(scope="module")
def build_el9(tmp_path_factory: Any) -> Build:
    return make_rpm(tmp_path_factory.mktemp("rpm-el9"), el="9")


def query(rpm_file: str, *args: str) -> List[str]:
    return check(["rpm", "-qp", *args, rpm_file]).stdout.splitlines()


def build_python() -> str:
    """The interpreter the spec's %{__python3} names on this machine."""
    return check(["rpm", "--eval", "%{?__python3}"]).stdout.strip() or "/usr/bin/python3"


def python_version(python: str) -> str:
    code = "import sysconfig; print(sysconfig.get_python_version())"
    return check([python, "-c", code]).stdout.strip()


def sitelib(version: str) -> str:
    return "/usr/lib/python{}/site-packages".format(version)


def package_files(site: str) -> Set[str]:
    """What setup.py installs of pcs_oci: every module and the schema, with their directories."""
    found = set()
    for directory, dirs, files in os.walk(os.path.join(REPO, "pcs_oci")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(directory, REPO)
        found.add(os.path.join(site, rel))
        for name in files:
            if name.endswith(".py") or (rel == "pcs_oci/schema" and name.endswith(".json")):
                found.add(os.path.join(site, rel, name))
    return found


def assert_payload(rpm_file: str, site: str) -> None:
    listed = query(rpm_file, "-l")
    docdirs = {"/usr/share/doc/pcs-oci", "/usr/share/doc/" + NAME_VERSION}
    licensedirs = {"/usr/share/licenses/pcs-oci", "/usr/share/licenses/" + NAME_VERSION}
    docdir = next(p for p in listed if p in docdirs)
    licensedir = next(p for p in listed if p in licensedirs)
    expected = {
        "/etc/pcs-oci",
        "/etc/pcs-oci/pcs-oci.json",
        "/etc/pcs-oci/pcs-oci.json.example",
        "/usr/lib/ocf/resource.d/oci",
        "/usr/lib/ocf/resource.d/oci/IPaddr2",
        "/usr/sbin/pcs-oci",
        "/usr/sbin/fence_oci",
        "/usr/share/bash-completion/completions/pcs-oci",
        docdir,
        docdir + "/README.md",
        licensedir,
        licensedir + "/LICENSE",
        "/usr/share/man/man7/ocf_oci_IPaddr2.7.gz",
        "/usr/share/man/man8/pcs-oci.8.gz",
        "/usr/share/man/man8/fence_oci.8.gz",
        "/usr/share/pcs-oci",
        "/usr/share/pcs-oci/pcs-oci.schema.json",
    } | package_files(site)
    egg_info = [p for p in listed if p.startswith(site + "/pcs_oci-" + __version__ + "-py")]
    assert egg_info and egg_info[0].endswith(".egg-info")
    assert egg_info[0] + "/PKG-INFO" in egg_info
    # EL's brp-python-bytecompile adds byte code next to each module.
    pyc = {p for p in listed if "/__pycache__" in p and p.startswith(site + "/pcs_oci/")}
    for path in pyc:
        if path.endswith(".pyc"):
            module = path.replace("/__pycache__", "").split(".cpython-")[0] + ".py"
            assert module in expected, path
    assert set(listed) - set(egg_info) - pyc == expected
    # Only the oci provider directory is ours (resource-agents owns the rest).
    assert not [p for p in listed if p in ("/usr/lib/ocf", "/usr/lib/ocf/resource.d")]


def assert_requires(rpm_file: str, abi: str) -> None:
    requires = {r for r in query(rpm_file, "--requires") if not r.startswith("rpmlib(")}
    release = query(rpm_file, "--qf", "%{VERSION}-%{RELEASE}")[0]
    assert requires == EXPECTED_REQUIRES | {
        "python(abi) = " + abi,
        "/bin/sh",  # the agent's shebang
        "/usr/bin/python3",  # the launcher's and fence_oci's
        "config(pcs-oci) = " + release,
    }
    assert query(rpm_file, "--recommends") == ["python3-argcomplete"]
    # fence_oci is in pcs-oci; dnf finds it by EL's fence agent naming too.
    provides = query(rpm_file, "--provides")
    assert "fence-agents-oci = " + release in provides


# ------------------------------------------------------------ the build


def test_payload_is_exactly_the_expected_files(build: Build) -> None:
    assert_payload(build.rpm, sitelib(python_version(build_python())))


def test_requires_and_recommends(build: Build) -> None:
    # No python3.Xdist(...) from setup.py: every requirement is an OS package.
    assert_requires(build.rpm, python_version(build_python()))


def test_version_comes_from_the_package(build: Build) -> None:
    assert query(build.rpm, "--qf", "%{VERSION} %{RELEASE} %{ARCH}") == [__version__ + " 1 noarch"]
    assert set(query(build.rpm, "--configfiles")) == {
        "/etc/pcs-oci/pcs-oci.json",
        "/etc/pcs-oci/pcs-oci.json.example",
    }
    assert query(build.rpm, "--licensefiles")[0].endswith("/LICENSE")
    # The SRPM carries the spec with the version written in, and the tarball.
    assert set(query(build.srpm, "-l")) == {"pcs-oci.spec", NAME_VERSION + ".tar.gz"}
    changelog = query(build.rpm, "--changelog")
    assert changelog and changelog[0].startswith("* ")


def test_el9_build_is_consistent_with_el9(build_el9: Build) -> None:
    assert build_el9.rpm.endswith("-1.el9.noarch.rpm")
    assert_payload(build_el9.rpm, sitelib("3.9"))
    assert_requires(build_el9.rpm, "3.9")


def test_rpmlint_has_no_errors_and_no_unexplained_warnings(build: Build, build_el9: Build) -> None:
    if shutil.which("rpmlint") is None:
        pytest.skip("rpmlint is not installed")
    for built, el in ((build, ""), (build_el9, "9")):
        out = os.path.dirname(built.rpm)
        result = run(
            ["make", "-s", "--no-print-directory", "rpmlint", "RPM_OUT=" + out, "EL=" + el],
            cwd=REPO,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert " 0 errors, 0 warnings" in result.stdout, result.stdout


# ------------------------------------------------------------ a scratch root


def rpm_root(root: Any, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = run(["rpm", "--root", str(root), "--dbpath", DBPATH, *args])
    # Debian's rpm warns that alien should be used; harmless.
    stderr = "\n".join(
        line
        for line in result.stderr.splitlines()
        if "Alien" not in line and "assuming you know" not in line
    )
    result = subprocess.CompletedProcess(result.args, result.returncode, result.stdout, stderr)
    if ok:
        assert result.returncode == 0, "rpm {} exited {}: {}{}".format(
            " ".join(args), result.returncode, result.stdout, stderr
        )
    return result


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("installing into a scratch root needs root (rpm sets file owners)")


@pytest.fixture(scope="module")
def installed(build: Build, tmp_path_factory: Any) -> Any:
    needs_root()
    root = tmp_path_factory.mktemp("root")
    rpm_root(root, "-i", "--nodeps", build.rpm)
    return root


def read(path: Any) -> str:
    with open(str(path), encoding="utf-8") as f:
        return f.read()


def test_installed_files_are_the_sources(installed: Any) -> None:
    python = build_python()
    assert rpm_root(installed, "-qa").stdout.split() == ["{}-1.noarch".format(NAME_VERSION)]
    assert rpm_root(installed, "-V", "--nodeps", "pcs-oci").stdout == ""
    launcher = read(installed / "usr/sbin/pcs-oci").splitlines()
    assert launcher[0] == "#!{} -s".format(python)
    assert launcher[1:] == read(LAUNCHER).splitlines()[1:]
    assert "# PYTHON_ARGCOMPLETE_OK" in launcher[:3]
    agent = read(installed / "usr/lib/ocf/resource.d/oci/IPaddr2").splitlines()
    source = read(os.path.join(REPO, "agents", "IPaddr2")).splitlines()
    assert "PCS_OCI_PYTHON=" + python in agent
    assert [a for a in agent if not a.startswith("PCS_OCI_PYTHON=")] == [
        s for s in source if not s.startswith("PCS_OCI_PYTHON=")
    ]
    assert os.access(str(installed / "usr/lib/ocf/resource.d/oci/IPaddr2"), os.X_OK)
    fence = read(installed / "usr/sbin/fence_oci").splitlines()
    assert fence[0] == "#!{} -I".format(python)
    assert fence[1:] == read(os.path.join(REPO, "agents", "fence_oci")).splitlines()[1:]
    assert os.access(str(installed / "usr/sbin/fence_oci"), os.X_OK)
    with gzip.open(str(installed / "usr/share/man/man8/fence_oci.8.gz"), "rt") as f:
        th = next(line for line in f if line.startswith(".TH "))
    assert th.startswith(".TH FENCE_OCI 8 ") and '"pcs\\-oci {}"'.format(__version__) in th
    etc = installed / "etc/pcs-oci"
    assert read(etc / "pcs-oci.json") == read(os.path.join(REPO, "conf", "pcs-oci.default.json"))
    assert read(etc / "pcs-oci.json.example") == read(os.path.join(REPO, "conf", "pcs-oci.json"))
    schema = installed / "usr/share/pcs-oci/pcs-oci.schema.json"
    assert json.loads(read(schema)) == json.loads(
        read(os.path.join(REPO, "pcs_oci/schema/config.schema.json"))
    )
    with gzip.open(str(installed / "usr/share/man/man8/pcs-oci.8.gz"), "rt") as f:
        th = next(line for line in f if line.startswith(".TH "))
    assert '"pcs\\-oci {}"'.format(__version__) in th


def installed_env(root: Any) -> Dict[str, str]:
    site = str(root) + sitelib(python_version(build_python()))
    return {"PYTHONPATH": site, "OCF_ROOT": "/usr/lib/ocf"}


def test_installed_command_runs(installed: Any, tmp_path: Any) -> None:
    env = installed_env(installed)
    program = str(installed / "usr/sbin/pcs-oci")
    result = check([program, "--help"], env=env)
    assert result.stdout.startswith("usage: pcs-oci")
    assert check([program, "--version"], env=env).stdout.strip() == "pcs-oci " + __version__
    code = "import pcs_oci; print(pcs_oci.__file__)"
    where = check([build_python(), "-s", "-c", code], env=env, cwd=str(tmp_path))
    assert where.stdout.startswith(str(installed))


def test_installed_completion_with_the_platform_python(installed: Any) -> None:
    python = build_python()
    if run([python, "-c", "import argcomplete"]).returncode != 0:
        pytest.skip("{} has no argcomplete".format(python))
    program = str(installed / "usr/sbin/pcs-oci")
    # The platform python here has neither jsonschema nor the SDK: completion
    # must not need them.
    assert complete("pcs-oci con", argv=[program], env=installed_env(installed)) == [
        "config",
        "configure",
    ]


def site_dir_of(python: str) -> str:
    """The first existing site directory `python -I` searches."""
    code = (
        "import os, sys\n"
        "print([p for p in sys.path if p.endswith('-packages') and os.path.isdir(p)][0])"
    )
    return check([python, "-I", "-c", code]).stdout.strip()


def agent_in_namespace(agent: str, site: str, python: str) -> "subprocess.CompletedProcess[str]":
    """The installed agent, unmodified, seeing `site` as `python`'s site directory."""
    script = 'mount --bind "$1" "$2" && exec sh "$3" meta-data'
    args = ["unshare", "-m", "sh", "-c", script, "sh", site, site_dir_of(python), agent]
    return run(args, env={"OCF_ROOT": "/usr/lib/ocf"})


def agent_copy(installed: Any, agent: str, python: str) -> "subprocess.CompletedProcess[str]":
    """A copy of the installed agent whose one change is an interpreter without -I."""
    wrapper = installed / "python-without-I"
    wrapper.write_text('#!/bin/sh\nshift\nexec {} "$@"\n'.format(python))
    wrapper.chmod(0o755)
    copy = installed / "IPaddr2.copy"
    old, new = "PCS_OCI_PYTHON={}\n".format(python), "PCS_OCI_PYTHON={}\n".format(wrapper)
    copy.write_text(read(agent).replace(old, new))
    assert read(str(copy)) != read(agent)
    return check(["sh", str(copy), "meta-data"], env=installed_env(installed))


def test_installed_agent_meta_data(installed: Any) -> None:
    """Run the installed agent as Pacemaker would, with its own `python3 -I`.

    -I ignores PYTHONPATH, so in a private mount namespace the scratch
    root's site-packages is mounted over the platform python's site
    directory and the installed file runs unmodified. Where that is not
    possible (no root, no unshare), a copy whose only change is the
    interpreter line runs.
    """
    agent = str(installed / "usr/lib/ocf/resource.d/oci/IPaddr2")
    expected = check([sys.executable, "-m", "pcs_oci.agent", "meta-data"], cwd=REPO).stdout
    python = build_python()
    result = None
    if shutil.which("unshare"):
        result = agent_in_namespace(agent, installed_env(installed)["PYTHONPATH"], python)
        if result.returncode != 0 and ("unshare" in result.stderr or "mount" in result.stderr):
            result = None  # namespaces or mounts are not allowed here
    if result is None:
        result = agent_copy(installed, agent, python)
    assert (result.returncode, result.stdout) == (0, expected), result.stderr


RPMINFO = """
import json, sys
from pcs_oci.lib.rpminfo import RpmInfo, rpm_module
from pcs_oci.lib.runner import CommandRunner
module = rpm_module() if sys.argv[2] == "bindings" else None
if sys.argv[2] == "bindings" and module is None:
    print("null")
    sys.exit(0)
info = RpmInfo(CommandRunner(), root=sys.argv[1], dbpath="/var/lib/rpm", module=module)
check = info.verify_files()
print(json.dumps({
    "versions": {k: v.version for k, v in info.versions(["pcs-oci", "pacemaker"]).items()},
    "intact": check.intact,
    "config_changed": [c.path for c in check.config_changed],
}))
"""


def test_installed_rpminfo_reads_the_real_database(installed: Any, tmp_path: Any) -> None:
    """The installed pcs_oci.lib.rpminfo against the scratch root's rpm database."""
    env = installed_env(installed)
    config = installed / "etc/pcs-oci/pcs-oci.json"
    original = read(config)
    try:
        config.write_text('{"nodes": [], "vips": [], "$schema": "edited"}\n')
        answers = []
        for how in ("command", "bindings"):
            out = check(
                [build_python(), "-s", "-c", RPMINFO, str(installed), how],
                env=env,
                cwd=str(tmp_path),
            )
            answers.append(json.loads(out.stdout))
    finally:
        config.write_text(original)
    expected = {
        "versions": {"pcs-oci": __version__ + "-1", "pacemaker": None},
        "intact": True,
        "config_changed": ["/etc/pcs-oci/pcs-oci.json"],
    }
    assert answers[0] == expected
    assert answers[1] in (expected, None)  # None: no rpm bindings for this python


def test_upgrade_keeps_the_edited_config_and_erase_saves_it(
    build: Build, build_release_2: Build, tmp_path: Any
) -> None:
    needs_root()
    root = tmp_path / "root"
    root.mkdir()
    rpm_root(root, "-i", "--nodeps", build.rpm)
    config = root / "etc/pcs-oci/pcs-oci.json"
    edited = json.dumps({"nodes": [{"hostname": "a"}, {"hostname": "b"}], "vips": []}) + "\n"
    config.write_text(edited)

    upgrade = rpm_root(root, "-U", "--nodeps", build_release_2.rpm)
    assert "created as /etc/pcs-oci/pcs-oci.json.rpmnew" in upgrade.stderr
    assert rpm_root(root, "-q", "pcs-oci").stdout.strip() == NAME_VERSION + "-2.noarch"
    assert read(config) == edited
    assert read(str(config) + ".rpmnew") == CHANGED_DEFAULT

    erase = rpm_root(root, "-e", "--nodeps", "pcs-oci")
    assert "saved as /etc/pcs-oci/pcs-oci.json.rpmsave" in erase.stderr
    assert not config.exists()
    assert read(str(config) + ".rpmsave") == edited
    assert not (root / "usr/sbin/pcs-oci").exists()
    assert not (root / "usr/lib/ocf/resource.d/oci").exists()
    assert rpm_root(root, "-qa").stdout == ""
