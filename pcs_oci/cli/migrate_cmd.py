"""`pcs-oci migrate [--dry-run]`: print what the library decided and did."""

import argparse
from typing import List

from pcs_oci import settings
from pcs_oci.cli.cluster_cmd import offline_note
from pcs_oci.common import exit_codes
from pcs_oci.lib.commands import migrate as migrate_lib
from pcs_oci.lib.env import Env
from pcs_oci.lib.migration import ABSENT, MERGE, UNCHANGED, Conversion


def _headline(c: Conversion) -> str:
    if c.action == UNCHANGED:
        return "{} ({}): already {}, nothing to do".format(c.vip, c.ip, settings.AGENT_TYPE)
    if c.action == ABSENT:
        return "{} ({}): no resource holds it; `pcs-oci configure` creates it".format(c.vip, c.ip)
    what = "{} + {}".format(", ".join(c.removed), c.resource) if c.action == MERGE else c.resource
    return "{} ({}): {} ({}) -> {}, in place".format(
        c.vip, c.ip, what, c.agent_before, settings.AGENT_TYPE
    )


def _restart_lines(result: migrate_lib.MigrateResult, applied: bool) -> List[str]:
    method = result.method
    pushed = "; ".join(a.describe() for a in result.if_pushed)
    lines = []
    if method == migrate_lib.FILE:
        lines.append(
            "When this CIB is pushed (pcs cluster cib-push FILE --config), Pacemaker will "
            + (
                "{} (crm_simulate on the file's status section); to convert a running VIP "
                "without a restart, run `pcs-oci migrate` on the cluster instead".format(pushed)
                if pushed
                else "start or stop nothing (crm_simulate on the file's status section)"
            )
        )
        return lines
    for rid, nodes in sorted(result.active.items()):
        if method == migrate_lib.SINGLE:
            continue
        verb = "was not" if applied else "will not be"
        lines.append(
            "{} runs on {}: it {} restarted".format(rid, ", ".join(nodes), verb)
            + (
                " (a plain CIB change would make Pacemaker {})".format(pushed)
                if pushed and not applied
                else ""
            )
        )
    if method == migrate_lib.SINGLE:
        lines.append(
            "None of them runs: one CIB change"
            + ("; Pacemaker will then {}".format(pushed) if pushed else ", nothing restarts")
        )
    return lines


def _window_steps(result: migrate_lib.MigrateResult) -> List[str]:
    window = ", ".join(result.window)
    ours = ", ".join(
        c.resource for c in result.conversions if c.resource and c.resource in result.active
    )
    if result.method == migrate_lib.FINISH:
        return [
            "an earlier migrate was interrupted: {} are still unmanaged".format(window),
            "1. crm_resource --refresh --force: Pacemaker probes {} again".format(ours or window),
            "2. one CIB patch: {} managed again".format(window),
        ]
    return [
        "1. one CIB patch (only onto the CIB version it was made from): the conversion, "
        "with {} unmanaged".format(window),
        "2. crm_resource --refresh --force of {}: Pacemaker probes it with {} on every "
        "node and finds it running where it runs".format(ours, settings.AGENT_TYPE),
        "3. one CIB patch: {} managed again".format(window),
    ]


def migrate(env: Env, args: argparse.Namespace) -> int:
    result = migrate_lib.migrate(env, dry_run=args.dry_run)
    offline_note(env, result.skipped)
    for conversion in result.conversions:
        print(_headline(conversion))
        for change in conversion.changes:
            print("  " + change)
        for note in conversion.notes:
            print("  note: " + note)
    if result.method == migrate_lib.NOTHING:
        print("Nothing to migrate.")
        return exit_codes.OK
    for line in _restart_lines(result, result.applied):
        print(line)
    if result.method in (migrate_lib.WINDOW, migrate_lib.FINISH):
        print("Steps:" if args.dry_run else "Done:")
        for line in _window_steps(result):
            print("  " + line)
    if args.dry_run:
        if result.diff:
            print("CIB difference:")
            for line in result.diff:
                print(line)
        print("Dry run: nothing was changed.")
        return exit_codes.OK
    for action in result.after:
        print("Warning: Pacemaker still plans to {}".format(action.describe()))
    print("Migrated{}.".format(" " + env.cib_file if env.cib_file else ""))
    patched = result.patched_here
    if patched is not None and patched.patched:
        print(
            "This node's {} is the sed recipe's (the package says it changed; it calls the oci "
            "CLI on line {}): once every VIP runs on {}, restore it on every node: "
            "{}".format(
                patched.path,
                ", ".join(str(n) for n, _ in patched.oci_calls),
                settings.AGENT_TYPE,
                patched.reinstall,
            )
        )
    if not env.cib_file:
        print("Next: pcs-oci verify")
    return exit_codes.OK
