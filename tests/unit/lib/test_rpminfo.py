"""pcs_oci.lib.rpminfo: package versions and `rpm -V`, through a scripted runner.

The rpm bindings are replaced by a small fake module so the tests pin the
module path as well; the real bindings and a real rpm database are exercised
by tests/packaging (a scratch root with pcs-oci installed).
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest

from pcs_oci.lib import rpminfo
from pcs_oci.lib.rpminfo import FileChange, Package, RpmInfo
from tests.tools.fake_runner import Call, FakeRunner

QF = rpminfo.QUERY_FORMAT
DPKG = ["dpkg-query", "-W", "-f", rpminfo.DPKG_FORMAT]
STACK = ["pacemaker", "pcs", "resource-agents", "pcs-oci"]


def rpm_q(names: Sequence[str], stdout: str, root_args: Sequence[str] = ()) -> Call:
    missing = stdout.count("is not installed")
    return Call(["rpm", "-q", *root_args, "--qf", QF, *names], stdout, "", missing)


def not_installed(*names: str) -> str:
    return "".join("package {} is not installed\n".format(n) for n in names)


def info(calls: Sequence[Call], **kwargs: Any) -> Tuple[RpmInfo, FakeRunner]:
    runner = FakeRunner(calls)
    return RpmInfo(runner, module=None, **kwargs), runner


# ------------------------------------------------------------ rpm -q


def test_versions_from_rpm_query() -> None:
    out = "pacemaker\t2.1.7-5.el9\n" + not_installed("pcs") + "resource-agents\t4.10.0-64.el9\n"
    rpmi, runner = info([rpm_q(["pacemaker", "pcs", "resource-agents"], out)])
    found = rpmi.versions(["pacemaker", "pcs", "resource-agents"])
    assert found == {
        "pacemaker": Package("pacemaker", "2.1.7-5.el9", "rpm"),
        "pcs": Package("pcs", None),
        "resource-agents": Package("resource-agents", "4.10.0-64.el9", "rpm"),
    }
    assert not found["pcs"].installed
    runner.assert_all_called()


def test_epoch_is_kept_as_rpm_prints_it() -> None:
    rpmi, runner = info([rpm_q(["resource-agents"], "resource-agents\t1:4.10.0-64.el9\n")])
    assert rpmi.versions(["resource-agents"])["resource-agents"].version == "1:4.10.0-64.el9"
    runner.assert_all_called()


def test_scratch_root_and_dbpath_are_passed_to_rpm() -> None:
    root_args = ["--root", "/tmp/x", "--dbpath", "/var/lib/rpm"]
    rpmi, runner = info(
        [rpm_q(["pcs-oci"], "pcs-oci\t0.1.0-1.el9\n", root_args)],
        root="/tmp/x",
        dbpath="/var/lib/rpm",
    )
    assert rpmi.versions(["pcs-oci"])["pcs-oci"].version == "0.1.0-1.el9"
    runner.assert_all_called()


def test_dpkg_answers_when_rpm_knows_nothing() -> None:
    dpkg_out = (
        "pacemaker\t2.1.5-1+deb12u1\tii \n"
        "pcs\t0.11.5-1+deb12u1\trc \n"  # removed, configuration left: not installed
        "resource-agents\t1:4.12.0-2\tii \n"
    )
    rpmi, runner = info(
        [
            rpm_q(STACK, not_installed(*STACK)),
            Call(DPKG + STACK, dpkg_out, "dpkg-query: no packages found matching pcs-oci\n", 1),
        ]
    )
    found = rpmi.versions(STACK)
    assert found["pacemaker"] == Package("pacemaker", "2.1.5-1+deb12u1", "dpkg")
    assert found["resource-agents"].version == "1:4.12.0-2"
    assert not found["pcs"].installed
    assert found["pcs-oci"] == Package("pcs-oci", None)
    runner.assert_all_called()


def test_no_dpkg_when_rpm_found_something() -> None:
    out = "pacemaker\t2.1.7-5.el9\n" + not_installed("pcs")
    rpmi, runner = info([rpm_q(["pacemaker", "pcs"], out)])
    assert not rpmi.versions(["pacemaker", "pcs"])["pcs"].installed
    runner.assert_all_called()  # and nothing else ran


def test_neither_tool_installed_is_not_an_error() -> None:
    class NoTools(FakeRunner):
        def run(self, args: Sequence[str], *a: Any, **k: Any) -> Any:
            from pcs_oci.common import reports
            from pcs_oci.lib.errors import ClusterError

            self.done.append(list(args))
            raise ClusterError(reports.item(reports.COMMAND_NOT_FOUND, "not installed"))

    runner = NoTools([])
    rpmi = RpmInfo(runner, module=None)
    assert rpmi.versions(["pcs"]) == {"pcs": Package("pcs", None)}
    assert [argv[0] for argv in runner.done] == ["rpm", "dpkg-query"]
    check = rpmi.verify_files()
    assert not check.installed and not check.intact and "not installed" in check.error


# ------------------------------------------------------------ the SDK and the stack


def test_sdk_package_follows_the_interpreter() -> None:
    assert rpminfo.sdk_packages((3, 9)) == [
        "python39-oci-sdk",
        "python36-oci-sdk",
        "python3-oci-sdk",
    ]
    assert rpminfo.sdk_packages((3, 6))[0] == "python36-oci-sdk"
    assert rpminfo.sdk_packages((3, 11)) == [
        "python311-oci-sdk",
        "python39-oci-sdk",
        "python36-oci-sdk",
        "python3-oci-sdk",
    ]


def test_stack_on_el9(monkeypatch: Any) -> None:
    monkeypatch.setattr(rpminfo.sys, "version_info", (3, 9, 18))
    sdk = rpminfo.sdk_packages()
    rpmi, runner = info(
        [
            rpm_q(
                STACK,
                "pacemaker\t2.1.7-5.el9\npcs\t0.11.7-2.el9\nresource-agents\t4.10.0-64.el9\n"
                "pcs-oci\t0.1.0-1.el9\n",
            ),
            rpm_q(sdk, "python39-oci-sdk\t2.126.0-1.el9\n" + not_installed(*sdk[1:])),
        ]
    )
    assert [(p.name, p.version) for p in rpmi.stack()] == [
        ("pacemaker", "2.1.7-5.el9"),
        ("pcs", "0.11.7-2.el9"),
        ("resource-agents", "4.10.0-64.el9"),
        ("python39-oci-sdk", "2.126.0-1.el9"),
        ("pcs-oci", "0.1.0-1.el9"),
    ]
    runner.assert_all_called()


def _no_sdk_package(sdk: List[str]) -> List[Call]:
    return [rpm_q(sdk, not_installed(*sdk)), Call(DPKG + sdk, "", "dpkg-query: no packages", 1)]


def test_sdk_from_pip_when_no_package(monkeypatch: Any) -> None:
    monkeypatch.setattr(rpminfo, "_distribution_version", lambda name: "2.189.0")
    sdk = rpminfo.sdk_packages()
    rpmi, runner = info(_no_sdk_package(sdk))
    assert rpmi.sdk() == Package("oci", "2.189.0", "python")
    runner.assert_all_called()


def test_sdk_missing_names_the_package_for_this_python(monkeypatch: Any) -> None:
    monkeypatch.setattr(rpminfo, "_distribution_version", lambda name: None)
    sdk = rpminfo.sdk_packages()
    rpmi, _ = info(_no_sdk_package(sdk))
    assert rpmi.sdk() == Package(sdk[0], None)


# ------------------------------------------------------------ rpm -V

VERIFY = ["rpm", "-V", "--nodeps", "--noscripts", "pcs-oci"]


def test_intact_package() -> None:
    rpmi, runner = info([Call(VERIFY, "")])
    check = rpmi.verify_files()
    assert check.installed and check.intact and check.changed == [] and check.error == ""
    runner.assert_all_called()


def test_edited_config_is_listed_but_does_not_count() -> None:
    rpmi, _ = info([Call(VERIFY, "S.5....T.  c /etc/pcs-oci/pcs-oci.json\n", returncode=1)])
    check = rpmi.verify_files()
    assert check.intact
    assert check.config_changed == [FileChange("/etc/pcs-oci/pcs-oci.json", "S.5....T.")]


def test_changed_and_missing_files() -> None:
    out = (
        "S.5....T.    /usr/lib/ocf/resource.d/oci/IPaddr2\n"
        "missing     /usr/sbin/pcs-oci\n"
        "missing   c /etc/pcs-oci/pcs-oci.json.example\n"
        ".M.......  d /usr/share/man/man8/pcs-oci.8.gz\n"
    )
    rpmi, _ = info([Call(VERIFY, out, returncode=1)])
    check = rpmi.verify_files()
    assert check.installed and not check.intact
    assert check.changed == [
        FileChange("/usr/lib/ocf/resource.d/oci/IPaddr2", "S.5....T."),
        FileChange("/usr/sbin/pcs-oci", "missing"),
        FileChange("/usr/share/man/man8/pcs-oci.8.gz", ".M......."),
    ]
    assert check.config_changed == [FileChange("/etc/pcs-oci/pcs-oci.json.example", "missing")]


def test_not_installed() -> None:
    rpmi, _ = info([Call(VERIFY, "package pcs-oci is not installed\n", returncode=1)])
    check = rpmi.verify_files()
    assert not check.installed and not check.intact and check.error == ""


def test_rpm_failure_is_reported() -> None:
    rpmi, _ = info([Call(VERIFY, "", "error: cannot open Packages database\n", 1)])
    check = rpmi.verify_files()
    assert not check.installed and check.error == "error: cannot open Packages database"


# ------------------------------------------------------------ the rpm bindings


class FakeHeader(dict):
    pass


class FakeTransactionSet:
    def __init__(self, module: "FakeRpm", root: str):
        self.module = module
        self.root = root
        self.closed = False

    def dbMatch(self, tag: str, name: str) -> List[FakeHeader]:
        assert tag == "name"
        self.module.seen_dbpath = self.module.macros.get("_dbpath")
        if self.module.fail:
            raise self.module.error("cannot open Packages database")
        return [FakeHeader(h) for h in self.module.db.get(name, [])]

    def closeDB(self) -> None:
        self.closed = True


class FakeRpm:
    """Just what rpminfo uses of the rpm module."""

    class error(Exception):
        pass

    def __init__(self, db: Dict[str, List[dict]], fail: bool = False):
        self.db = db
        self.fail = fail
        self.macros: Dict[str, str] = {}
        self.seen_dbpath: Optional[str] = None
        self.sets: List[FakeTransactionSet] = []

    def TransactionSet(self, root: str) -> FakeTransactionSet:
        ts = FakeTransactionSet(self, root)
        self.sets.append(ts)
        return ts

    def addMacro(self, name: str, value: str) -> None:
        self.macros[name] = value

    def delMacro(self, name: str) -> None:
        del self.macros[name]

    @staticmethod
    def labelCompare(a: Tuple[str, str, str], b: Tuple[str, str, str]) -> int:
        def key(evr: Tuple[str, str, str]) -> Tuple[int, List[int], str]:
            return int(evr[0]), [int(x) for x in evr[1].split(".")], evr[2]

        return (key(a) > key(b)) - (key(a) < key(b))


def test_bindings_answer_without_running_rpm() -> None:
    module = FakeRpm(
        {
            "pacemaker": [
                {"epoch": None, "version": "2.1.6", "release": "10.el9"},
                {"epoch": None, "version": "2.1.7", "release": "5.el9"},
            ],
            "resource-agents": [{"epoch": 1, "version": b"4.10.0", "release": b"64.el9"}],
        }
    )
    runner = FakeRunner([])
    rpmi = RpmInfo(runner, root="/tmp/x", dbpath="/var/lib/rpm", module=module)
    found = rpmi.versions(["pacemaker", "resource-agents", "pcs"])
    assert found == {
        "pacemaker": Package("pacemaker", "2.1.7-5.el9", "rpm"),
        "resource-agents": Package("resource-agents", "1:4.10.0-64.el9", "rpm"),
        "pcs": Package("pcs", None),
    }
    assert runner.done == []
    assert module.seen_dbpath == "/var/lib/rpm" and module.macros == {}
    assert [(ts.root, ts.closed) for ts in module.sets] == [("/tmp/x", True)]


def test_broken_bindings_fall_back_to_the_command() -> None:
    module = FakeRpm({}, fail=True)
    runner = FakeRunner([rpm_q(["pcs"], "pcs\t0.11.7-2.el9\n")])
    rpmi = RpmInfo(runner, module=module)
    assert rpmi.versions(["pcs"])["pcs"].version == "0.11.7-2.el9"
    runner.assert_all_called()
    assert module.sets[0].closed


def test_an_rpm_directory_is_not_the_bindings(monkeypatch: Any, tmp_path: Any) -> None:
    # This repository's rpm/ directory imports as a namespace package when
    # the checkout is on sys.path; it must not be taken for python3-rpm.
    (tmp_path / "rpm").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "rpm", raising=False)
    module = rpminfo.rpm_module()
    assert module is None or hasattr(module, "TransactionSet")


@pytest.mark.parametrize("module", [None, "auto"])
def test_construction_never_fails(module: Any) -> None:
    RpmInfo(FakeRunner([]), module=module)
