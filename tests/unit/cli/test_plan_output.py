"""configure's one plan printer: every kind of object, dry run and applied."""

from typing import Any, List

from pcs_oci.cli.plan_output import print_plan
from pcs_oci.lib.plan import ClusterPlan, ObjectPlan, Step

PCS = "/usr/sbin/pcs"


def step(target: str, description: str, *args: str) -> Step:
    return Step(target, description, [PCS, *args], [])


def plan(applied: bool) -> ClusterPlan:
    return ClusterPlan(
        vips=[
            ObjectPlan("web", "create", ["new resource"], [step("web", "create web", "a")]),
            ObjectPlan(
                "db",
                "update",
                ["nic: eth0 -> (unset)", "op monitor: (none) -> interval=10s timeout=20s"],
                [step("db", "update db", "resource", "update", "db", "nic=")],
            ),
            ObjectPlan("app", "unchanged", [], []),
        ],
        applied=applied,
        defaults=ObjectPlan(
            "cluster-wide default resource-stickiness",
            "set",
            ["resource-stickiness: (unset) -> 100"],
            [step("", "set the cluster-wide default resource-stickiness=100", "d")],
        ),
        fencing=[
            ObjectPlan("fence_node1", "unchanged", [], []),
            ObjectPlan("stonith-enabled", "set", ["x"], [step("stonith-enabled", "enable", "p")]),
        ],
    )


def printed(capsys: Any, result: ClusterPlan) -> List[str]:
    print_plan(result, "/etc/pcs-oci/pcs-oci.json")
    return capsys.readouterr().out.splitlines()


def test_applied_plan_has_one_line_per_object_in_the_order_they_changed(capsys: Any) -> None:
    assert printed(capsys, plan(applied=True)) == [
        "web: created",
        "db: updated (nic: eth0 -> (unset); op monitor: (none) -> interval=10s timeout=20s)",
        "app: unchanged",
        "cluster-wide default resource-stickiness: set",
        "fence_node1: unchanged",
        "stonith-enabled: set",
    ]


def test_dry_run_shows_each_step_and_its_command(capsys: Any) -> None:
    assert printed(capsys, plan(applied=False)) == [
        "# create web",
        PCS + " a",
        "# update db",
        PCS + " resource update db nic=",
        "# set the cluster-wide default resource-stickiness=100",
        PCS + " d",
        "# enable",
        PCS + " p",
    ]


def test_dry_run_without_steps_says_the_cluster_matches(capsys: Any) -> None:
    nothing = ClusterPlan([ObjectPlan("web", "unchanged", [], [])], applied=False)
    assert printed(capsys, nothing) == [
        "# nothing to do: the cluster matches /etc/pcs-oci/pcs-oci.json"
    ]
    assert printed(capsys, nothing._replace(applied=True)) == ["web: unchanged"]
