"""The argument parser of `pcs-oci`, built from the standard library only.

Shell completion runs everything up to argcomplete.autocomplete() on every
TAB, so nothing here may import jsonschema, oci or the library commands:
handlers are named as "module:function" and imported after parsing.
"""

import argparse
import os
from typing import Any, List

from pcs_oci import __version__

PROG = "pcs-oci"
DEFAULT_CONFIG_NOTE = "default: $PCS_OCI_CONFIG or /etc/pcs-oci/pcs-oci.json"


def _vip_completer(prefix: str, parsed_args: Any, **_: Any) -> List[str]:
    from pcs_oci.lib.commands.config_cmds import vip_names
    from pcs_oci.lib.config import resolve_path

    names = vip_names(resolve_path(getattr(parsed_args, "config", None)))
    return [n for n in names if n.startswith(prefix)]


def _node_completer(prefix: str, parsed_args: Any, **_: Any) -> List[str]:
    from pcs_oci.lib.commands.config_cmds import node_names
    from pcs_oci.lib.config import resolve_path

    names = node_names(resolve_path(getattr(parsed_args, "config", None)))
    return [n for n in names if n.startswith(prefix)]


def _file_completer(prefix: str, suffix: str = ".json", **_: Any) -> List[str]:
    directory = os.path.dirname(prefix) or "."
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    found = []
    for entry in entries:
        path = (
            entry
            if directory == "." and not prefix.startswith("./")
            else os.path.join(os.path.dirname(prefix), entry)
        )
        if not path.startswith(prefix):
            continue
        if os.path.isdir(path):
            found.append(path + "/")
        elif entry.endswith(suffix):
            found.append(path)
    return found


def _drill_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 10 <= value <= 3600:
        raise argparse.ArgumentTypeError(
            "{!r} is not a number of seconds from 10 to 3600".format(text)
        )
    return value


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


def _add_config_option(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # On the top level and on every verb, so both `pcs-oci -c F verify` and
    # `pcs-oci verify -c F` work; SUPPRESS keeps a verb from resetting it.
    action = parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=None if top else argparse.SUPPRESS,
        help="configuration file ({})".format(DEFAULT_CONFIG_NOTE),
    )
    action.completer = _file_completer  # type: ignore[attr-defined]


def _add_cib_file_option(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # As `pcs -f FILE`: the verbs that change the CIB work on a CIB file instead.
    action = parser.add_argument(
        "-f",
        metavar="CIB_FILE",
        dest="cib_file",
        default=None if top else argparse.SUPPRESS,
        help="work on this CIB file offline instead of the live cluster, as `pcs -f` "
        "(configure, unconfigure, migrate)",
    )
    action.completer = _cib_file_completer  # type: ignore[attr-defined]
    if not top:
        parser.set_defaults(cib_file_ok=True)


def _cib_file_completer(prefix: str, **_: Any) -> List[str]:
    return _file_completer(prefix, suffix=".xml")


def _verb(
    subparsers: Any, name: str, handler: str, help_text: str, description: str = ""
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        formatter_class=_Formatter,
    )
    parser.set_defaults(handler=handler)
    _add_config_option(parser)
    return parser


def _add_config_verbs(subparsers: Any) -> None:
    config = subparsers.add_parser(
        "config",
        help="check, show or create the configuration file",
        description="Check, show or create the pcs-oci configuration file.",
        formatter_class=_Formatter,
    )
    config.set_defaults(handler="pcs_oci.cli.config_cmd:no_subcommand", _parser=config)
    verbs = config.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    validate = _verb(
        verbs,
        "validate",
        "pcs_oci.cli.config_cmd:validate",
        "check a configuration file and report every problem",
        "Check a configuration file against the schema and the rules beyond it,\n"
        "and report every problem with its JSON path. Exit 0 valid, 1 invalid.",
    )
    action = validate.add_argument(
        "file", nargs="?", metavar="FILE", help="file to check (default: the configuration file)"
    )
    action.completer = _file_completer  # type: ignore[attr-defined]

    show = _verb(
        verbs,
        "show",
        "pcs_oci.cli.config_cmd:show",
        "print the effective configuration, defaults filled in",
    )
    show.add_argument("--json", action="store_true", help="print JSON")

    init = _verb(
        verbs,
        "init",
        "pcs_oci.cli.config_cmd:init",
        "write a starting configuration file",
        "Write a starting configuration file (atomically, mode 0644).\n\n"
        "example:\n"
        "  pcs-oci config init --node node1 --node node2 --vip 10.0.0.200/24",
    )
    init.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="HOST[=VNIC]",
        help="a cluster node as Pacemaker names it, optionally with its VNIC OCID (repeat)",
    )
    init.add_argument(
        "--vip",
        action="append",
        default=[],
        metavar="[NAME=]IP[/PREFIX]",
        help="a virtual IP, optionally named and with its prefix length (repeat)",
    )
    init.add_argument("--cluster-name", default="", metavar="NAME", help="the cluster name")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")


def _add_cluster_verbs(subparsers: Any) -> None:
    configure = _verb(
        subparsers,
        "configure",
        "pcs_oci.cli.cluster_cmd:configure",
        "create or update the cluster's VIP resources to match the config",
        "Create each VIP as an ocf:oci:IPaddr2 resource through pcs, or update only\n"
        "what differs from the config (a running VIP is never re-created).\n"
        "Everything is checked before anything is changed.",
    )
    configure.add_argument(
        "--dry-run", action="store_true", help="print the pcs commands, change nothing"
    )
    _add_cib_file_option(configure)
    configure.add_argument(
        "--set-defaults",
        action="store_true",
        help="also set the cluster-wide resource-stickiness default (affects every resource)",
    )
    configure.add_argument(
        "--fencing",
        action="store_true",
        help="also create a fence_oci STONITH device per node and enable fencing "
        "(stonith-enabled=true; fencing-enabled=true on Pacemaker 3.0.2 and later)",
    )

    unconfigure = _verb(
        subparsers,
        "unconfigure",
        "pcs_oci.cli.cluster_cmd:unconfigure",
        "delete VIP resources that pcs-oci created",
        "Delete ocf:oci:IPaddr2 resources by name (pcs stops them first). The\n"
        "secondary private IP stays assigned in OCI.",
    )
    action = unconfigure.add_argument("names", nargs="+", metavar="NAME", help="VIP resource name")
    action.completer = _vip_completer  # type: ignore[attr-defined]
    unconfigure.add_argument(
        "--dry-run", action="store_true", help="print the pcs commands, change nothing"
    )
    _add_cib_file_option(unconfigure)

    migrate = _verb(
        subparsers,
        "migrate",
        "pcs_oci.cli.migrate_cmd:migrate",
        "convert the VIPs of the sed recipe or ocivip into ocf:oci:IPaddr2, in place",
        "For each VIP of the config, turn the resource holding it today\n"
        "(ocf:heartbeat:IPaddr2, patched or not; ocf:heartbeat:ocivip and its IPaddr2)\n"
        "into ocf:oci:IPaddr2: same id, same place in its group, constraints kept,\n"
        "OCI parameters from the config. One version-checked CIB patch; a running\n"
        "VIP is not restarted (it is unmanaged while Pacemaker re-probes it).\n"
        "Anything that cannot be converted safely is refused, changing nothing.",
    )
    migrate.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and the exact CIB difference, change nothing",
    )
    _add_cib_file_option(migrate)


def _add_discover_verb(subparsers: Any) -> None:
    discover = _verb(
        subparsers,
        "discover",
        "pcs_oci.cli.discover_cmd:discover",
        "show this node's instance and VNICs from the instance metadata service",
        "Show this node's instance, region, availability and fault domain,\n"
        "compartment and VNICs (from IMDS v2), and for each configured VIP the\n"
        "local VNIC that would hold it.",
    )
    discover.add_argument("--json", action="store_true", help="print JSON")
    discover.add_argument(
        "--update",
        action="store_true",
        help="write this node's vnic_id and instance_id (and missing cidr_netmask) into the "
        "config file",
    )
    discover.add_argument(
        "--all",
        action="store_true",
        dest="all_nodes",
        help="also find the other configured nodes' VNICs through the OCI API and write them",
    )


def _add_verify_verb(subparsers: Any) -> None:
    verify = _verb(
        subparsers,
        "verify",
        "pcs_oci.cli.verify_cmd:verify",
        "check every precondition of a working VIP, with the fix for each failure",
        "Check the config, this node, the instance metadata service, OCI\n"
        "authentication and permissions, the VIP's private IP, the agent, the\n"
        "cluster's nodes, resources, stickiness, fencing and quorum, conflicting\n"
        "software and the firewall. Each check is PASS, WARN, FAIL or SKIP; every\n"
        "non-pass names its fix. Exit 0 when nothing FAILs, 3 otherwise.",
    )
    verify.add_argument("--json", action="store_true", help="print JSON")


def _add_status_verb(subparsers: Any) -> None:
    status = _verb(
        subparsers,
        "status",
        "pcs_oci.cli.cluster_cmd:status",
        "show each VIP as Pacemaker, this node and OCI see it",
        "Show each VIP from the three places that must agree: the node Pacemaker\n"
        "runs it on, whether this node has the address, and the VNIC (and node)\n"
        "OCI assigns the private IP to. Exit 0 when all agree, 3 when not.",
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--no-oci", action="store_true", help="do not call the OCI API")


def _add_drill_verb(subparsers: Any) -> None:
    drill = _verb(
        subparsers,
        "drill",
        "pcs_oci.cli.drill_cmd:drill",
        "rehearse a failover of each VIP on the live cluster and time every phase",
        "Refuse unless the cluster is healthy (every node online, quorum, no failed\n"
        "actions, each VIP agreeing across Pacemaker, this node and OCI), then move\n"
        "each VIP to another node with a location constraint that expires by itself,\n"
        "time the stop, the start, the address, OCI and a ping from this node, and\n"
        "clear the constraint. Ctrl-C or SIGTERM clears it too. Exit 0 when every\n"
        "failover completed, 3 when refused, 5 when a failover did not complete.",
    )
    action = drill.add_argument(
        "names", nargs="*", metavar="VIP", help="VIP resource name (default: every VIP)"
    )
    action.completer = _vip_completer  # type: ignore[attr-defined]
    action = drill.add_argument(
        "--to", metavar="NODE", help="move to this node (default: the next online node)"
    )
    action.completer = _node_completer  # type: ignore[attr-defined]
    drill.add_argument("--back", action="store_true", help="then move each VIP back the same way")
    drill.add_argument(
        "--dry-run", action="store_true", help="check and print the pcs commands, move nothing"
    )
    drill.add_argument("--json", action="store_true", help="print JSON")
    drill.add_argument(
        "--timeout",
        type=_drill_seconds,
        default=120,
        metavar="SECONDS",
        help="the longest a failover may take, and the constraint's lifetime (default 120)",
    )


def _add_policy_verb(subparsers: Any) -> None:
    policy = _verb(
        subparsers,
        "policy",
        "pcs_oci.cli.policy_cmd:policy",
        "print the OCI IAM dynamic group rule and policy statements the cluster needs",
        "Print, ready to paste into the OCI console, the dynamic group's matching\n"
        "rule (the config's instances, else their compartment) and the least-privilege\n"
        "policy statements for moving the VIPs (IPv6 ones included) and, when fencing\n"
        "is configured or asked for, for fence_oci.",
    )
    policy.add_argument(
        "--fencing",
        action="store_true",
        help="include fence_oci's statement even if no fence_oci device exists yet",
    )
    policy.add_argument(
        "--group",
        metavar="NAME",
        help="the (dynamic) group's name (default: pcs-oci-CLUSTER_NAME)",
    )
    policy.add_argument(
        "--compartment",
        metavar="OCID",
        help="the instances' compartment (default: this instance's, from the metadata service)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Manage Pacemaker virtual IPs that move on Oracle Cloud Infrastructure:\n"
            "the ocf:oci:IPaddr2 resource adds the address on the node and moves the\n"
            "secondary private IP to that node's VNIC in OCI."
        ),
        epilog="See pcs-oci(8) and ocf_oci_IPaddr2(7).",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    parser.add_argument(
        "--debug", action="store_true", help="show a traceback on an internal error"
    )
    _add_config_option(parser, top=True)
    _add_cib_file_option(parser, top=True)
    parser.set_defaults(handler="pcs_oci.cli.main:no_verb", _parser=parser)
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_config_verbs(verbs)
    _add_discover_verb(verbs)
    _add_cluster_verbs(verbs)
    _add_verify_verb(verbs)
    _add_status_verb(verbs)
    _add_drill_verb(verbs)
    _add_policy_verb(verbs)
    return parser
