"""How `pcs-oci configure` shows its plan: a dry run's commands, or what became of each object."""

from pcs_oci.lib import plan
from pcs_oci.lib.plan import ClusterPlan, ObjectPlan

_DONE = {
    plan.CREATE: "created",
    plan.UPDATE: "updated",
    plan.SET: "set",
    plan.UNCHANGED: "unchanged",
}


def print_plan(result: ClusterPlan, config_path: str) -> None:
    """A dry run: each step's description and command. Applied: one line per object."""
    if not result.applied:
        if not result.steps:
            print("# nothing to do: the cluster matches {}".format(config_path))
        for step in result.steps:
            print("# {}".format(step.description))
            print(step.command)
        return
    for item in result.objects:
        print(outcome(item))


def outcome(item: ObjectPlan) -> str:
    line = "{}: {}".format(item.name, _DONE[item.action])
    if item.action == plan.UPDATE:
        line += " ({})".format("; ".join(item.changes))
    return line
