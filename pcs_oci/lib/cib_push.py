"""Changing the CIB atomically with Pacemaker's own tools, live or in a file.

The change is computed as a patch by `crm_diff` between the CIB we read and
the edited copy; the patch carries both versions (admin_epoch.epoch.num_updates),
and the CIB manager applies it only to exactly the version it was made from,
in one transaction (`cibadmin --patch`). Whoever changed the CIB in between
makes it fail with "Update was older than existing configuration": the
caller reads again and recomputes. `pcs cluster cib-push --config
--diff-against` makes its patch with --no-version, which applies over any
intervening change; we want the opposite.

With CIB_file in the runner's environment (`pcs-oci -f FILE`) the same
commands read and write the file, as `pcs -f` does. `crm_simulate` runs the
scheduler on a CIB (configuration plus the status section) and tells what
Pacemaker would start, stop or restart.
"""

import os
import shutil
import tempfile
import time
from typing import Callable, Dict, List, NamedTuple, Optional

from pcs_oci import settings
from pcs_oci.common import reports
from pcs_oci.lib import cib
from pcs_oci.lib.errors import ClusterError
from pcs_oci.lib.runner import CommandRunner, Result

CRM_DIFF = "/usr/sbin/crm_diff"
CRM_SIMULATE = "/usr/sbin/crm_simulate"
# cibadmin's exit status when the patch was made from another CIB version
# (pcmk_rc_old_data / pcmk_err_old_data).
CIB_OLDER = 103
# crm_simulate's actions that start or stop something (probes and monitors
# are neither).
DISRUPTIVE = ("start", "stop", "restart", "move", "migrate", "promote", "demote", "recover")


class CibChanged(ClusterError):
    """The CIB is no longer the version the patch was made from."""


class Action(NamedTuple):
    action: str  # "restart", "stop", "start", "move" ...
    resource: str
    node: str
    reason: str

    def describe(self) -> str:
        text = "{} {}".format(self.action, self.resource)
        if self.node:
            text += " on " + self.node
        return text + (" ({})".format(self.reason) if self.reason else "")


class _Scratch:
    """A private temporary directory for CIB copies and patches."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="pcs-oci-cib.")

    def write(self, name: str, text: str) -> str:
        target = os.path.join(self.path, name)
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
        return target

    def read(self, name: str) -> str:
        with open(os.path.join(self.path, name), encoding="utf-8") as f:
            return f.read()

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "_Scratch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _failed(what: str, result: Result) -> ClusterError:
    return ClusterError(
        reports.item(
            reports.COMMAND_FAILED,
            "{} failed (exit {}): {}".format(
                what,
                result.returncode,
                reports.first_line(result.stderr) or reports.first_line(result.stdout),
            ),
        )
    )


def _check(runner: CommandRunner, args: List[str], env: Dict[str, str]) -> Result:
    result = runner.run(args, timeout=30, env_extend=env)
    if not result.ok:
        raise _failed(" ".join(args[:2]), result)
    return result


def query(runner: CommandRunner) -> str:
    """The whole CIB (configuration and status) as the CIB manager, or the file, has it."""
    return runner.check([settings.CIBADMIN, "--query"], timeout=30).stdout


def make_patch(runner: CommandRunner, old: str, new: str) -> str:
    """crm_diff's versioned patch from `old` to `new` ("" when they are the same)."""
    with _Scratch() as scratch:
        result = runner.run(
            [
                CRM_DIFF,
                "--original",
                scratch.write("old.xml", old),
                "--new",
                scratch.write("new.xml", new),
            ],
            timeout=60,
        )
    if result.returncode == 0:
        return ""
    if result.returncode != 1:
        raise _failed("crm_diff", result)
    return result.stdout


def apply_patch(runner: CommandRunner, patch: str, cib_file: str = "") -> None:
    """Apply `patch` in one transaction (to `cib_file` instead of the runner's CIB if given)."""
    with _Scratch() as scratch:
        result = runner.run(
            [settings.CIBADMIN, "--patch", "--xml-file", scratch.write("patch.xml", patch)],
            timeout=120,
            env_extend={"CIB_file": cib_file} if cib_file else None,
        )
    if result.returncode == CIB_OLDER:
        raise CibChanged(
            reports.item(
                reports.CIB_CHANGED,
                "the CIB changed while pcs-oci was preparing its change",
                "run the command again",
            )
        )
    if not result.ok:
        raise _failed("cibadmin --patch", result)


class Rendered(NamedTuple):
    """A CIB before and after a patch, as Pacemaker writes them."""

    before: str
    after: str
    configuration_before: str
    configuration_after: str


def render(runner: CommandRunner, old: str, patch: str) -> Rendered:
    """Apply `patch` to a private copy of `old`: the exact result, formatted by Pacemaker."""
    with _Scratch() as scratch:
        path = scratch.write("cib.xml", old)
        before = scratch.write("before.xml", old)
        env = {"CIB_file": before}
        configuration_before = _check(
            runner, [settings.CIBADMIN, "--query", "--scope", "configuration"], env
        ).stdout
        full_before = _check(runner, [settings.CIBADMIN, "--query"], env).stdout
        if patch:
            apply_patch(runner, patch, cib_file=path)
        env = {"CIB_file": path}
        configuration_after = _check(
            runner, [settings.CIBADMIN, "--query", "--scope", "configuration"], env
        ).stdout
        after = scratch.read("cib.xml")
    return Rendered(full_before, after, configuration_before, configuration_after)


def simulate(runner: CommandRunner, text: str) -> List[Action]:
    """What the scheduler would do with this CIB (its status section says what runs where)."""
    with _Scratch() as scratch:
        result = runner.run(
            [
                CRM_SIMULATE,
                "--xml-file",
                scratch.write("cib.xml", text),
                "--run",
                "--output-as=xml",
            ],
            timeout=120,
        )
    return _actions(result)


def simulate_live(runner: CommandRunner) -> List[Action]:
    """What the scheduler would do with the live CIB right now."""
    return _actions(
        runner.run([CRM_SIMULATE, "--live-check", "--run", "--output-as=xml"], timeout=120)
    )


def _actions(result: Result) -> List[Action]:
    if not result.ok:
        raise _failed("crm_simulate", result)
    root = cib.parse(result.stdout, "crm_simulate output")
    found = []
    actions = root.find("actions")
    for element in actions.findall("rsc_action") if actions is not None else []:
        found.append(
            Action(
                element.get("action", ""),
                element.get("resource", ""),
                element.get("dest") or element.get("source") or element.get("node") or "",
                element.get("reason", ""),
            )
        )
    return found


def disruptive(actions: List[Action], resources: Optional[List[str]] = None) -> List[Action]:
    """The actions that start or stop something (of `resources`, if given)."""
    return [
        a
        for a in actions
        if a.action in DISRUPTIVE and (resources is None or a.resource in resources)
    ]


def refresh(runner: CommandRunner, resource: str) -> None:
    """Forget `resource`'s history on every node, so Pacemaker probes it again.

    --force limits it to this resource (without it, a group member's
    refresh covers the whole group).
    """
    result = runner.run(
        [settings.CRM_RESOURCE, "--refresh", "--resource", resource, "--force"], timeout=60
    )
    if not result.ok:
        raise _failed("crm_resource --refresh --resource " + resource, result)


class Probe(NamedTuple):
    agent: str  # the agent Pacemaker ran, "ocf:oci:IPaddr2"
    rc: Optional[int]  # None: no result yet (or pending)


def probes(runner: CommandRunner, resource: str) -> Dict[str, Probe]:
    """Node -> the last recorded operation of `resource` there (status section)."""
    result = runner.check([settings.CIBADMIN, "--query", "--scope", "status"], timeout=30)
    status = cib.parse(result.stdout, "the CIB status")
    found: Dict[str, Probe] = {}
    for node in status.iter("node_state"):
        for lrm in node.iter("lrm_resource"):
            if lrm.get("id") != resource:
                continue
            agent = cib.agent(lrm)
            rc: Optional[int] = None
            for op in lrm.findall("lrm_rsc_op"):
                if op.get("id") == resource + "_last_0" and op.get("op-status") not in ("-1",):
                    try:
                        rc = int(op.get("rc-code", ""))
                    except ValueError:
                        rc = None
            found[node.get("uname", "")] = Probe(agent, rc)
    return found


def wait_for(
    check: Callable[[], bool],
    timeout: float,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    deadline = clock() + timeout
    while True:
        if check():
            return True
        if clock() >= deadline:
            return False
        sleep(interval)
