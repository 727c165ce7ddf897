"""`pcs-oci verify`."""

import argparse

from pcs_oci.cli import output
from pcs_oci.common import exit_codes
from pcs_oci.common.checks import PASS
from pcs_oci.lib.commands.verify import verify as verify_lib
from pcs_oci.lib.env import Env


def verify(env: Env, args: argparse.Namespace) -> int:
    result = verify_lib(env)
    if args.json:
        output.print_json(result.to_dict())
    else:
        for check in result.checks:
            print("{:<4}  {}: {}".format(check.status, check.title, check.detail))
            if check.fix and check.status != PASS:
                print("      fix: {}".format(check.fix))
        counts = result.counts()
        print("\n" + ", ".join("{} {}".format(n, s) for s, n in counts.items()))
    return exit_codes.OK if result.ok else exit_codes.PRECONDITION
