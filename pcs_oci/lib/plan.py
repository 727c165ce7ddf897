"""What `pcs-oci configure` changes in the cluster, as steps it can show, apply and undo.

A plan is computed from the config and the CIB without changing anything:
`configure --dry-run` prints its steps, `configure` applies them in order.
Each cluster object configure owns (a VIP resource, a fence device, the
stonith-enabled property, the resource-stickiness default) gets an
ObjectPlan: created, updated in only what differs, set, or left unchanged.
Every step knows the commands that undo it, so a failure midway can say
how to roll back.
"""

import shlex
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from pcs_oci.common import reports
from pcs_oci.lib.errors import ClusterError
from pcs_oci.lib.runner import CommandRunner, Result

# What a plan does to its object.
CREATE = "create"
UPDATE = "update"
SET = "set"
UNCHANGED = "unchanged"

# A pcs run takes seconds; two minutes means pcs or the cluster hangs.
STEP_TIMEOUT = 120


class Step(NamedTuple):
    # The object the step changes (a resource, a device, a property), or ""
    # for a cluster-wide default.
    target: str
    description: str
    argv: List[str]
    # Commands that undo this step, for the rollback advice.
    undo: List[List[str]]

    @property
    def command(self) -> str:
        return " ".join(shlex.quote(a) for a in self.argv)


class ObjectPlan(NamedTuple):
    """What configure does to one cluster object, and the steps that do it."""

    name: str
    action: str  # CREATE, UPDATE, SET or UNCHANGED
    changes: List[str]
    steps: List[Step]


class ClusterPlan(NamedTuple):
    """Everything `configure` changes, in the order it changes it."""

    vips: List[ObjectPlan]
    applied: bool
    # --set-defaults: the cluster-wide resource-stickiness.
    defaults: Optional[ObjectPlan] = None
    # --fencing: the fence_oci devices, then stonith-enabled.
    fencing: List[ObjectPlan] = []
    # -f CIB_FILE: the live-cluster checks that were skipped.
    skipped: List[str] = []

    @property
    def objects(self) -> List[ObjectPlan]:
        return self.vips + ([self.defaults] if self.defaults else []) + self.fencing

    @property
    def steps(self) -> List[Step]:
        return [s for p in self.objects for s in p.steps]


def name_values(values: Dict[str, str]) -> List[str]:
    """pcs's name=value arguments."""
    return ["{}={}".format(k, v) for k, v in values.items()]


def param_changes(
    current: Dict[str, str], wanted: Dict[str, str], managed: Sequence[str]
) -> Tuple[Dict[str, str], Dict[str, str], List[str]]:
    """(values to set, their old values for the rollback, human-readable changes).

    A managed parameter that is no longer wanted is unset (set to ""); one
    that configure does not manage is left as the admin set it.
    """
    set_params: Dict[str, str] = {}
    old_params: Dict[str, str] = {}
    changes: List[str] = []
    for key, value in wanted.items():
        if current.get(key) != value:
            set_params[key] = value
            old_params[key] = current.get(key, "")
            changes.append("{}: {} -> {}".format(key, current.get(key, "(unset)"), value))
    for key in managed:
        if key in current and key not in wanted:
            set_params[key] = ""
            old_params[key] = current[key]
            changes.append("{}: {} -> (unset)".format(key, current[key]))
    return set_params, old_params, changes


def apply(runner: CommandRunner, steps: List[Step]) -> None:
    """Run the steps in order; on a failure, say what was applied and how to undo it."""
    done: List[Step] = []
    for index, step in enumerate(steps, 1):
        outcome = runner.run(step.argv, timeout=STEP_TIMEOUT)
        if not outcome.ok:
            applied = "; ".join(s.description for s in done) or "nothing"
            undo = [" ".join(shlex.quote(a) for a in u) for s in reversed(done) for u in s.undo]
            hint = "fix the cause and run `pcs-oci configure` again: it does only what is left"
            if undo:
                hint += "; or roll back with: " + " && ".join(undo)
            raise ClusterError(
                reports.item(
                    reports.CONFIGURE_STEP_FAILED,
                    "step {}/{} ({}) failed: {}; already applied: {}".format(
                        index, len(steps), step.description, pcs_error(outcome), applied
                    ),
                    hint,
                )
            )
        done.append(step)


def pcs_error(outcome: Result) -> str:
    """The line of a failed pcs run that says why (pcs prints warnings first)."""
    lines = [line.strip() for line in outcome.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:") and line != _PCS_TRAILER]
    return (
        (errors or lines or [""])[0]
        or reports.first_line(outcome.stdout)
        or "exit {}".format(outcome.returncode)
    )


_PCS_TRAILER = "Error: Errors have occurred, therefore pcs is unable to continue"
