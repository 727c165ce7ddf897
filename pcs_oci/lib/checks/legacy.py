"""verify's checks of the old ways of moving a VIP: the sed recipe, ocivip, other oci CLI callers.

The facts come from pcs_oci.lib.legacy (the package manager's verify of
resource-agents, the agents' text, the CIB). A node on the sed recipe FAILs:
its heartbeat IPaddr2 moves the VIP with hard-coded VNICs behind the
cluster's back, and a package update silently removes the move. The fix
comes in an order that never leaves a node running a VIP without the OCI
move: the VIPs onto ocf:oci:IPaddr2 first, the packaged file back after.
"""

import os
from typing import Dict, List, NamedTuple, Tuple

from pcs_oci import settings
from pcs_oci.common.checks import (
    FAIL,
    LEGACY_IPADDR2,
    LEGACY_OCIVIP,
    OCI_CLI_AGENTS,
    PASS,
    WARN,
    row,
    skip,
)
from pcs_oci.lib import legacy, migration
from pcs_oci.lib.checks import Rows
from pcs_oci.lib.checks.cluster import CibFacts, ClusterFacts
from pcs_oci.lib.runner import CommandRunner

NO_CONFIG = "no valid config"
# Calls shown per agent in a detail line.
SHOWN_CALLS = 2


class LegacyFacts(NamedTuple):
    # This node's heartbeat IPaddr2: changed since installed, its oci CLI calls.
    ipaddr2: legacy.PatchedAgent
    # The package manager's verify of resource-agents.
    package: legacy.PackageVerify
    # Agent path -> its `oci` CLI calls, for every OCF agent that has any.
    agents: Dict[str, List[Tuple[int, str]]]

    @property
    def packaged_ocivip(self) -> str:
        """Where resource-agents installs ocivip, which calls the oci CLI by design."""
        return os.path.join(settings.OCF_ROOT, "resource.d", "heartbeat", "ocivip")


# ---------------------------------------------------------------- reading


def read_legacy(runner: CommandRunner) -> LegacyFacts:
    """One package verify of resource-agents, then the agents' text."""
    package = legacy.verify_package(runner)
    ipaddr2 = legacy.heartbeat_ipaddr2(runner, settings.HEARTBEAT_IPADDR2, verify=package)
    agents = legacy.agents_calling_oci(os.path.join(settings.OCF_ROOT, "resource.d"))
    return LegacyFacts(ipaddr2, package, agents)


# ---------------------------------------------------------------- checks


def _lines(calls: List[Tuple[int, str]]) -> str:
    return ", ".join(str(number) for number, _ in calls)


def _restore_fix(agent: legacy.PatchedAgent, cib: CibFacts) -> str:
    """Restore the packaged file, after the VIPs no longer need the recipe's move."""
    order = "in that order, so that no node ever runs a VIP without the OCI move"
    if cib.primitives is None:
        return (
            "first move every VIP onto {} (`pcs-oci migrate`), then restore the packaged "
            "agent on every node: {}; {}".format(settings.AGENT_TYPE, agent.reinstall, order)
        )
    still = sorted(p.id for p in cib.primitives.values() if p.agent == migration.HEARTBEAT_IPADDR2)
    if still:
        return (
            "`pcs-oci migrate` first ({} still {} on {}), then restore the packaged agent "
            "on every node: {}; {}".format(
                ", ".join(still),
                "runs" if len(still) == 1 else "run",
                migration.HEARTBEAT_IPADDR2,
                agent.reinstall,
                order,
            )
        )
    return "every VIP runs on {}: restore the packaged agent on every node: {}".format(
        settings.AGENT_TYPE, agent.reinstall
    )


def check_legacy_ipaddr2(facts: LegacyFacts, cib: CibFacts) -> Rows:
    """The sed recipe: heartbeat IPaddr2 changed since installed, and calling the oci CLI."""
    agent = facts.ipaddr2
    if agent.error or not agent.manager:
        why = "cannot verify {}: {}".format(
            legacy.RESOURCE_AGENTS, agent.error or "neither rpm nor dpkg knows it"
        )
        if agent.oci_calls:
            why += "; {} calls the oci CLI on line {}".format(agent.path, _lines(agent.oci_calls))
        return [skip(LEGACY_IPADDR2, why)]
    if agent.patched:
        return [
            row(
                LEGACY_IPADDR2,
                FAIL,
                "{} is the sed recipe's: {} says it changed, and it calls the oci CLI on "
                "line {}".format(agent.path, agent.manager, _lines(agent.oci_calls)),
                _restore_fix(agent, cib),
            )
        ]
    if agent.modified:
        return [
            row(
                LEGACY_IPADDR2,
                PASS,
                "{} differs from the package ({}), but calls no oci CLI".format(
                    agent.path, agent.manager
                ),
            )
        ]
    return [
        row(LEGACY_IPADDR2, PASS, "{} is the packaged file ({})".format(agent.path, agent.manager))
    ]


def check_legacy_ocivip(cluster: ClusterFacts, cib: CibFacts) -> Rows:
    """An ocf:heartbeat:ocivip resource left beside (or instead of) ours."""
    if cib.primitives is None:
        if cib.error:
            return [skip(LEGACY_OCIVIP, cib.error)]
        return [skip(LEGACY_OCIVIP, cluster.why_not if cluster.status is None else NO_CONFIG)]
    found = sorted(
        (p.id, p.params.get("secondary_private_ip", "?"))
        for p in cib.primitives.values()
        if p.agent == legacy.OCIVIP
    )
    if not found:
        return [row(LEGACY_OCIVIP, PASS, "no {} resource".format(legacy.OCIVIP))]
    return [
        row(
            LEGACY_OCIVIP,
            WARN,
            "{} left over: {}".format(
                legacy.OCIVIP, ", ".join("{} ({})".format(rid, ip) for rid, ip in found)
            ),
            "`pcs-oci migrate` turns each ocivip and its IPaddr2 into one {} resource "
            "(its VIP must be in the config); remove any other: pcs resource delete ID".format(
                settings.AGENT_TYPE
            ),
        )
    ]


def check_oci_cli_agents(facts: LegacyFacts) -> Rows:
    """Name every OCF agent that calls the oci CLI; the packaged ocivip alone is expected."""
    stock = facts.packaged_ocivip
    package_known = bool(facts.package.manager) and not facts.package.error
    unsure = stock in facts.agents and not package_known
    flagged = {
        path: calls
        for path, calls in facts.agents.items()
        if path != stock or path in facts.package.modified
    }
    if flagged:
        named = "; ".join(
            "{} line {}".format(path, _lines(calls[:SHOWN_CALLS]))
            + (" and more" if len(calls) > SHOWN_CALLS else "")
            for path, calls in sorted(flagged.items())
        )
        if unsure:
            named += "; {} (the packaged agent?)".format(stock)
        return [
            row(
                OCI_CLI_AGENTS,
                WARN,
                "the oci CLI is called by " + named,
                "these agents move addresses with the oci CLI, outside pcs-oci: run their VIPs "
                "on {} (`pcs-oci migrate`), then restore the packaged files or remove the "
                "agents".format(settings.AGENT_TYPE),
            )
        ]
    if unsure:
        return [
            skip(
                OCI_CLI_AGENTS,
                "{} calls the oci CLI; cannot tell whether it is the packaged agent: {}".format(
                    stock, facts.package.error or "neither rpm nor dpkg knows resource-agents"
                ),
            )
        ]
    if stock in facts.agents:
        return [row(OCI_CLI_AGENTS, PASS, "only the packaged {} calls the oci CLI".format(stock))]
    return [row(OCI_CLI_AGENTS, PASS, "no OCF agent calls the oci CLI")]
