"""`pcs-oci config validate|show|init`."""

import argparse
import sys

from pcs_oci.cli import output
from pcs_oci.common import exit_codes
from pcs_oci.lib.commands import config_cmds
from pcs_oci.lib.env import Env


def no_subcommand(env: Env, args: argparse.Namespace) -> int:
    args._parser.print_help(sys.stderr)
    return exit_codes.USAGE


def validate(env: Env, args: argparse.Namespace) -> int:
    config = config_cmds.validate(env, args.file or "")
    print(
        "{}: valid ({} node{}, {} VIP{})".format(
            config.path,
            len(config.nodes),
            "" if len(config.nodes) == 1 else "s",
            len(config.vips),
            "" if len(config.vips) == 1 else "s",
        )
    )
    return exit_codes.OK


def show(env: Env, args: argparse.Namespace) -> int:
    doc = config_cmds.show(env)
    if args.json:
        output.print_json(doc)
        return exit_codes.OK
    print("Configuration: {}".format(env.config_path))
    if "cluster_name" in doc:
        print("Cluster name: {}".format(doc["cluster_name"]))
    print("Resource stickiness: {}".format(doc["resource_stickiness"]))
    print("\nNodes:")
    rows = [
        [n["hostname"], n.get("vnic_id", "(discovered from IMDS at start)")] for n in doc["nodes"]
    ]
    print(output.table(rows, ["HOSTNAME", "VNIC"]))
    print("\nVIPs:")
    rows = [
        [
            v["name"],
            v["ip"],
            str(v.get("cidr_netmask", "(from subnet)")),
            v.get("nic", "(auto)"),
            v["monitor_interval"],
            v.get("group", "-"),
        ]
        for v in doc["vips"]
    ]
    print(output.table(rows, ["NAME", "IP", "PREFIX", "NIC", "MONITOR", "FIRST IN GROUP"]))
    print("\nOCI:")
    for key, value in doc["oci"].items():
        print("  {}: {}".format(key, value))
    return exit_codes.OK


def init(env: Env, args: argparse.Namespace) -> int:
    doc = config_cmds.init(env, args.node, args.vip, args.cluster_name, args.force)
    print(
        "Wrote {} ({} nodes, {} VIP{}). Next: `pcs-oci discover --update` on each node,"
        " then `pcs-oci verify`.".format(
            env.config_path,
            len(doc["nodes"]),
            len(doc["vips"]),
            "" if len(doc["vips"]) == 1 else "s",
        )
    )
    return exit_codes.OK
