"""`pcs-oci configure` and `unconfigure`."""

import argparse
from typing import List

from pcs_oci.cli import plan_output
from pcs_oci.common import exit_codes
from pcs_oci.lib.commands import configure as configure_lib
from pcs_oci.lib.env import Env


def configure(env: Env, args: argparse.Namespace) -> int:
    result = configure_lib.configure(
        env,
        dry_run=args.dry_run,
        set_defaults=args.set_defaults,
        fencing=getattr(args, "fencing", False),
    )
    offline_note(env, result.skipped)
    plan_output.print_plan(result, env.config_path)
    return exit_codes.OK


def offline_note(env: Env, skipped: List[str]) -> None:
    """With -f: say that the file is edited and which live-cluster checks were skipped."""
    if env.cib_file:
        print(
            "Editing the CIB file {} offline; skipped (they need the live cluster):".format(
                env.cib_file
            )
        )
        for check in skipped:
            print("  - " + check)


def unconfigure(env: Env, args: argparse.Namespace) -> int:
    from pcs_oci.lib import cib_file

    steps = configure_lib.unconfigure(env, args.names, dry_run=args.dry_run)
    offline_note(env, cib_file.UNCONFIGURE_SKIPS)
    for step in steps:
        print(step.command if args.dry_run else "{}: deleted".format(step.target))
    return exit_codes.OK


def status(env: Env, args: argparse.Namespace) -> int:
    from pcs_oci.cli import output
    from pcs_oci.lib.commands.status import status as status_lib

    dto = status_lib(env, with_oci=not args.no_oci)
    if args.json:
        output.print_json(dto.to_dict())
    else:
        rows = []
        for v in dto.vips:
            oci = (
                v.oci_error
                and "? ({})".format(v.oci_error.render()[:60])
                or (
                    "{} ({})".format(v.oci_node or "unknown node", v.oci_vnic_id)
                    if v.oci_vnic_id
                    else "not assigned"
                )
            )
            rows.append(
                [
                    v.name,
                    v.ip,
                    "{} on {}".format(v.pacemaker_state, ",".join(v.pacemaker_nodes))
                    if v.pacemaker_nodes
                    else v.pacemaker_state,
                    "yes" if v.local_has_address else "no",
                    oci,
                    "{} ({})".format(v.public_ip, (v.public_ip_lifetime or "?").lower())
                    if v.public_ip
                    else "-",
                    "yes" if v.agree else "NO",
                ]
            )
        header = [
            "VIP",
            "IP",
            "PACEMAKER",
            "ADDRESS ON " + dto.local_node,
            "OCI",
            "PUBLIC IP",
            "AGREE",
        ]
        print(output.table(rows, header))
        for v in dto.vips:
            for problem in v.problems:
                print("{}: {}".format(v.name, problem.render()))
    return exit_codes.OK if dto.agree else exit_codes.PRECONDITION
