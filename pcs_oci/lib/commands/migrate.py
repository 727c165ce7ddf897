"""`pcs-oci migrate`: the VIPs of the sed recipe or ocivip become ocf:oci:IPaddr2, in place.

What changes is decided in pcs_oci.lib.migration (pure). How it reaches the
cluster:

- with `-f FILE`: one version-checked patch applied to the file (CIB_file),
  no live-cluster check;
- live, none of the resources running: one version-checked patch;
- live, running: the patch also unmanages them and what is tied to them
  (migrate_window), Pacemaker re-probes them with the new agent, and a
  second patch manages them again. Pacemaker never starts or stops them:
  crm_simulate is asked before each patch, and the patch is not applied if
  the scheduler would.

Every patch is made by crm_diff from the CIB just read and applied only to
that exact version (cib_push): a concurrent change makes us read again.
"""

import contextlib
import difflib
import xml.etree.ElementTree as ET  # noqa: S405 - CIB elements built by pcs_oci.lib.cib
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from pcs_oci import settings
from pcs_oci.common import exit_codes, reports
from pcs_oci.lib import cib, cib_push, legacy, migrate_window, migration, pacemaker
from pcs_oci.lib.cib_push import Action
from pcs_oci.lib.config import Config
from pcs_oci.lib.env import Env
from pcs_oci.lib.errors import ClusterError, PcsOciError
from pcs_oci.lib.migration import Conversion
from pcs_oci.lib.runner import CommandRunner

# Times a patch is recomputed when the CIB changed between our read and write.
ATTEMPTS = 5
# Seconds the re-probe of a converted resource may take on every node.
PROBE_TIMEOUT = 60.0

NOTHING = "nothing"  # every VIP is ocf:oci:IPaddr2 already (or absent)
FILE = "file"  # -f FILE: the file was (or would be) patched
SINGLE = "single"  # live, nothing running: one patch
WINDOW = "window"  # live, running: patch + re-probe + patch
FINISH = "finish"  # live: only the window of an interrupted run was left to close

# The checks `-f FILE` skips, as pcs -f does: they need the live cluster.
OFFLINE_SKIPS = [
    "the cluster is running on this node (crm_mon)",
    "the agent is installed on this node",
    "the re-probe with the new agent and the no-restart window (live cluster only)",
]

OCF_SUCCESS = 0
OCF_NOT_RUNNING = 7


class MigrateResult(NamedTuple):
    conversions: List[Conversion]
    method: str
    # Unified diff of the CIB configuration, as Pacemaker writes it.
    diff: List[str]
    # What Pacemaker would start/stop/restart if the converted CIB were pushed plainly.
    if_pushed: List[Action]
    # Resources unmanaged during the window (WINDOW, FINISH).
    window: List[str]
    # Converted (or removed) resource -> nodes it runs on.
    active: Dict[str, List[str]]
    skipped: List[str]
    applied: bool
    # After a live run: what the scheduler still wants to start or stop among them.
    after: List[Action] = []
    # After a live run: this node's heartbeat IPaddr2, if the sed recipe patched it.
    patched_here: Optional[legacy.PatchedAgent] = None


def _unified(before: str, after: str) -> List[str]:
    return list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            "cib configuration (before)",
            "cib configuration (after)",
            lineterm="",
        )
    )


def _converted(config: Config, root_text: str) -> Tuple[ET.Element, List[Conversion]]:
    root = cib.parse(root_text)
    new, conversions = migration.plan(config, root)
    problems = migration.refusals(conversions)
    if problems:
        raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
    return new, conversions


def _changing(conversions: List[Conversion]) -> List[Conversion]:
    return [c for c in conversions if c.action in (migration.CONVERT, migration.MERGE)]


def _active(status: Optional[pacemaker.ClusterStatus], ids: List[str]) -> Dict[str, List[str]]:
    if status is None:
        return {}
    return {
        rid: sorted(status.resources[rid].active_on)
        for rid in ids
        if rid in status.resources and status.resources[rid].active_on
    }


def migrate(env: Env, dry_run: bool = False, probe_timeout: float = PROBE_TIMEOUT) -> MigrateResult:
    config = env.load_config()
    runner = env.runner
    offline = env.cib_file is not None
    status = None if offline else pacemaker.cluster_status(runner)
    original = cib_push.query(runner)
    new, conversions = _converted(config, original)
    changing = _changing(conversions)
    skipped = list(OFFLINE_SKIPS) if offline else []
    touched = [c.resource for c in changing] + [r for c in changing for r in c.removed]
    active = _active(status, touched)
    window = [] if offline else _marked(original)
    if not changing:
        method = FINISH if window else NOTHING
        result = MigrateResult(conversions, method, [], [], window, active, skipped, False)
        if dry_run or method == NOTHING:
            return result
        # An interrupted run left these unmanaged: probe the VIPs among them again.
        ours = [c.resource for c in conversions if c.resource in window]
        active = _active(status, ours)
        with _left_unmanaged(window):
            _reprobe(runner, ours, [], active, window, probe_timeout)
            _edit(runner, _close, check=window)
        return _finished(runner, result._replace(active=active), window + ours)
    if not offline and not pacemaker.agent_installed():
        raise PcsOciError(
            reports.item(
                reports.AGENT_NOT_INSTALLED,
                "the agent {} is not installed on this node ({})".format(
                    settings.AGENT_TYPE, pacemaker.agent_path()
                ),
                "install pcs-oci on every node first (yum install pcs-oci)",
            ),
            exit_code=exit_codes.PRECONDITION,
        )
    cib.bump_epoch(new)
    patch = cib_push.make_patch(runner, original, cib.to_text(new))
    rendered = cib_push.render(runner, original, patch)
    diff = _unified(rendered.configuration_before, rendered.configuration_after)
    if_pushed = cib_push.disruptive(cib_push.simulate(runner, rendered.after))
    method = FILE if offline else (WINDOW if active else SINGLE)
    if method == WINDOW:
        window = cib.related(new, [c.resource for c in changing])
    result = MigrateResult(conversions, method, diff, if_pushed, window, active, skipped, False)
    if dry_run:
        return result
    if method != WINDOW:
        _edit(runner, lambda root: _converted(config, cib.to_text(root))[0], check=[])
        return result._replace(applied=True)
    _edit(runner, lambda root: _open(config, root), check=window)
    removed = [r for c in changing for r in c.removed]
    with _left_unmanaged(window):
        _reprobe(runner, [c.resource for c in changing], removed, active, window, probe_timeout)
        _edit(runner, _close, check=window)
    return _finished(runner, result, window + touched)


@contextlib.contextmanager
def _left_unmanaged(window: List[str]) -> Iterator[None]:
    """A failure between the two patches: say what state the cluster is left in."""
    try:
        yield
    except PcsOciError as e:
        if any(r.code == reports.MIGRATE_PROBE_FAILED for r in e.reports):
            raise
        e.reports.append(
            reports.item(
                reports.MIGRATE_PROBE_FAILED,
                "{} are left unmanaged: Pacemaker starts and stops none of them".format(
                    ", ".join(window)
                ),
                "fix the cause above, then run `pcs-oci migrate` again: it finishes the job",
            )
        )
        raise


def _finished(runner: CommandRunner, result: MigrateResult, watched: List[str]) -> MigrateResult:
    """What the scheduler still wants to start or stop among `watched` (expected: nothing)."""
    after = cib_push.disruptive(cib_push.simulate_live(runner), watched)
    patched = legacy.heartbeat_ipaddr2(runner)
    return result._replace(applied=True, after=after, patched_here=patched)


def _marked(text: str) -> List[str]:
    root = cib.parse(text)
    up = cib.parents(root)
    owners = []
    for nv in migrate_window.markers(root):
        attrs = up.get(nv)
        owner = up.get(attrs) if attrs is not None else None
        if owner is not None and owner.tag == "primitive":
            owners.append(owner.get("id", ""))
    return sorted(owners)


def _open(config: Config, root: ET.Element) -> ET.Element:
    new, conversions = migration.plan(config, root)
    problems = migration.refusals(conversions)
    if problems:
        raise PcsOciError(*problems, exit_code=exit_codes.PRECONDITION)
    changing = _changing(conversions)
    migrate_window.open_window(
        new,
        cib.related(new, [c.resource for c in changing]),
        orphans=any(c.removed for c in changing),
    )
    return new


def _close(root: ET.Element) -> ET.Element:
    new = cib.clone(root)
    migrate_window.close_window(new)
    return new


def _edit(
    runner: CommandRunner,
    change: Callable[[ET.Element], ET.Element],
    check: List[str],
) -> None:
    """Read, change, make sure nothing of `check` would start or stop, patch; again if raced."""
    for attempt in range(1, ATTEMPTS + 1):
        text = cib_push.query(runner)
        new = change(cib.parse(text))
        cib.bump_epoch(new)
        new_text = cib.to_text(new)
        patch = cib_push.make_patch(runner, text, new_text)
        if not patch:
            return
        would = cib_push.disruptive(cib_push.simulate(runner, new_text), check) if check else []
        if would:
            raise ClusterError(
                reports.item(
                    reports.MIGRATE_WOULD_RESTART,
                    "Pacemaker would {} after this change; nothing was changed by this step".format(
                        "; ".join(a.describe() for a in would)
                    ),
                    "`pcs status` shows why; resolve that, then run `pcs-oci migrate` again",
                ),
                exit_code=exit_codes.PRECONDITION,
            )
        try:
            cib_push.apply_patch(runner, patch)
            return
        except cib_push.CibChanged:
            if attempt == ATTEMPTS:
                raise


def _reprobe(
    runner: CommandRunner,
    ours: List[str],
    removed: List[str],
    active: Dict[str, List[str]],
    window: List[str],
    timeout: float,
) -> None:
    """Make Pacemaker forget the old agent's history and probe with ours; check what it finds.

    `active`: where each of `ours` ran before; it must be found running
    there and nowhere else. `removed`: folded ocivips, whose history goes.
    """
    status = pacemaker.cluster_status(runner)
    online = [n.name for n in status.nodes if n.online]
    for rid in ours + removed:
        cib_push.refresh(runner, rid)

    def settled() -> bool:
        for rid in removed:
            if cib_push.probes(runner, rid):
                return False
        for rid in ours:
            seen = cib_push.probes(runner, rid)
            for node in online:
                probe = seen.get(node)
                if probe is None or probe.rc is None or probe.agent != settings.AGENT_TYPE:
                    return False
        return True

    hint = (
        "{} stay unmanaged, so Pacemaker starts and stops nothing; fix the cause, then run "
        "`pcs-oci migrate` again to finish".format(", ".join(window) or "the resources")
    )
    if not cib_push.wait_for(settled, timeout):
        raise ClusterError(
            reports.item(
                reports.MIGRATE_PROBE_FAILED,
                "Pacemaker did not re-probe {} with ocf:oci:IPaddr2 on every node within "
                "{:.0f} s".format(", ".join(ours), timeout),
                hint,
            )
        )
    problems = []
    for rid in ours:
        seen = cib_push.probes(runner, rid)
        for node in online:
            expected = OCF_SUCCESS if node in active.get(rid, []) else OCF_NOT_RUNNING
            rc = seen[node].rc
            if rc != expected:
                problems.append(
                    "{} on {}: the probe returned {}, expected {} ({})".format(
                        rid,
                        node,
                        rc,
                        expected,
                        "running" if expected == OCF_SUCCESS else "not running",
                    )
                )
    if problems:
        raise ClusterError(
            reports.item(
                reports.MIGRATE_PROBE_FAILED,
                "; ".join(problems)
                + (
                    " (5: the agent is not installed there)"
                    if "returned 5" in " ".join(problems)
                    else ""
                ),
                hint,
            )
        )
