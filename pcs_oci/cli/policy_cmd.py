"""`pcs-oci policy`: the IAM statements, in blocks that paste as they are."""

import argparse

from pcs_oci.common import exit_codes
from pcs_oci.lib.commands.policy import policy as policy_lib
from pcs_oci.lib.env import Env


def policy(env: Env, args: argparse.Namespace) -> int:
    result = policy_lib(env, fencing=args.fencing, group=args.group, compartment=args.compartment)
    if result.matching_rule is not None:
        print("Dynamic group {}, matching rule:".format(result.group))
        print()
        print(result.matching_rule)
    else:
        print("Group {}: put the API key's user (oci.config_file) in it.".format(result.group))
    print()
    print("Policy statements (in a policy attached to that compartment or one of its parents):")
    print()
    for line in result.lines(optional=False):
        print(line)
    print()
    print("Optional, read-only, for `pcs-oci discover --all` and `pcs-oci verify`:")
    print()
    for line in result.lines(optional=True):
        print(line)
    print()
    print("Why each statement:")
    width = max(len("{} {}".format(s.verb, s.resource)) for s in result.statements)
    for s in result.statements:
        print("  {:<{w}}  {}".format("{} {}".format(s.verb, s.resource), s.why, w=width))
    if not result.fencing:
        print(
            "  (no fence_oci device in the cluster: `pcs-oci policy --fencing` adds "
            "`use instances` for fence_oci)"
        )
    print()
    for note in result.notes:
        print("Note: {}".format(note))
    return exit_codes.OK
