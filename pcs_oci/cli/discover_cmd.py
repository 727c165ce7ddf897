"""`pcs-oci discover`."""

import argparse

from pcs_oci.cli import output
from pcs_oci.common import exit_codes
from pcs_oci.lib.commands.discover import discover as discover_lib
from pcs_oci.lib.env import Env


def discover(env: Env, args: argparse.Namespace) -> int:
    result = discover_lib(env, update=args.update, all_nodes=args.all_nodes)
    if args.json:
        output.print_json(result.to_dict())
        return exit_codes.OK
    f = result.facts
    for label, value in (
        ("Host name", f.hostname),
        ("Instance", f.instance_id),
        ("Display name", f.display_name),
        ("Region", f.region),
        ("Availability domain", f.availability_domain),
        ("Fault domain", f.fault_domain),
        ("Compartment", f.compartment_id),
    ):
        print("{:<20} {}".format(label + ":", value or "-"))
    print("\nVNICs:")
    rows = [
        [
            v.vnic_id,
            v.private_ip or "-",
            " ".join(str(net) for net in v.networks()),
            v.mac,
            v.virtual_router_ip,
            "yes" if v.is_primary else "no",
        ]
        for v in f.vnics
    ]
    print(output.table(rows, ["VNIC", "PRIVATE IP", "SUBNET", "MAC", "ROUTER", "PRIMARY"]))
    if result.config_path is None:
        print("\n(no config file at {}: `pcs-oci config init` creates one)".format(env.config_path))
        return exit_codes.OK
    print("\nVIPs of {} (this node: {}):".format(result.config_path, result.local_node or "?"))
    rows = [[name, p.ip, p.vnic.vnic_id if p.vnic else "-"] for name, p in result.placements]
    print(output.table(rows, ["VIP", "IP", "LOCAL VNIC"]))
    if result.remote:
        print("\nOther nodes (OCI API):")
        rows = [[n.hostname, n.instance_id, n.vnic_id or "(several)"] for n in result.remote]
        print(output.table(rows, ["NODE", "INSTANCE", "VNIC"]))
    if args.update or args.all_nodes:
        if result.updated:
            print("\nUpdated {}: {}".format(result.config_path, ", ".join(result.updated)))
        else:
            print("\n{} already up to date".format(result.config_path))
    return exit_codes.OK
