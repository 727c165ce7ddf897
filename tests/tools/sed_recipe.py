"""The sed recipe of /work/shared/reference (Qiita, 2019), as its author runs it.

Eleven `sed -i 'Ni\\...\\'` commands insert the OCI lines into the shipped
heartbeat IPaddr2: five variables at line 64 and, at line 616, a call of
`oci network vnic assign-private-ip --unassign-if-already-assigned` inside
add_interface(), just before the address is added. The line numbers are
those of Oracle Linux 7's resource-agents 4.1.1; `commands` keeps them
relative to the same two places of the file it patches (the header's
"# Initialization:" rule, and add_interface's IPv6 preferred_lft test), so
on Debian 12's 4.12 the second block lands at 707 instead of 616.

Only what the author says to replace is replaced: the two VNIC OCIDs, the
VIP and the first node's name. For the lab (never the metadata service,
never the real cloud), the `oci` path is the oci-cli from PyPI in
`make bench-venv`, with `--endpoint` and `--config-file` (API key auth)
appended to its command line.
"""

import subprocess
from typing import List, Sequence

# The recipe's commands, verbatim: (line, text inserted there).
RECIPE = [
    (64, "##### OCI vNIC variables"),
    (65, 'server="`hostname -s`"'),
    (66, 'node1vnic="<ノード1の仮想NICのOCID>"'),
    (67, 'node2vnic="<ノード2の仮想NICのOCID>"'),
    (68, 'vnicip="10.0.0.200"'),
    (616, "##### OCI/IPaddr Integration"),
    (617, '        if [ $server = "node1" ]; then'),
    (
        618,
        " " * 16 + "/usr/bin/oci network vnic assign-private-ip --unassign-if-already-assigned "
        "--vnic-id $node1vnic  --ip-address $vnicip ",
    ),
    (619, "        else "),
    (
        620,
        " " * 16 + "/usr/bin/oci network vnic assign-private-ip --unassign-if-already-assigned "
        "--vnic-id $node2vnic  --ip-address $vnicip ",
    ),
    (621, "        fi "),
]
# Where the two blocks go in resource-agents 4.1.1 (before these lines), and
# the lines they are anchored to in any version.
FIRST_AT, SECOND_AT = 64, 611
FIRST_ANCHOR = "# Initialization:"  # the line after the inserted block's successor
SECOND_ANCHOR = '\tif [ "$FAMILY" = "inet6" ] ;then'
SECOND_NEXT = "preferred_lft"


def _anchors(text: str) -> List[int]:
    lines = text.splitlines()
    first = lines.index(FIRST_ANCHOR)  # 0-based index of "# Initialization:"
    # The recipe's 64 is the "#####" rule just above it (1-based: first).
    second = next(
        i + 1
        for i, line in enumerate(lines)
        if line == SECOND_ANCHOR and SECOND_NEXT in lines[i + 1]
    )
    return [first, second]


def commands(
    ipaddr2_text: str,
    node1_vnic: str,
    node2_vnic: str,
    vip: str,
    node1: str = "node1",
    oci: str = "/usr/bin/oci",
    oci_args: Sequence[str] = (),
) -> List[str]:
    """The recipe's sed scripts for this file, values filled in."""
    first, second = _anchors(ipaddr2_text)
    shift = {64: first - FIRST_AT, 616: second - SECOND_AT}
    scripts = []
    for line, text in RECIPE:
        text = text.replace("<ノード1の仮想NICのOCID>", node1_vnic)
        text = text.replace("<ノード2の仮想NICのOCID>", node2_vnic)
        text = text.replace("10.0.0.200", vip).replace('"node1"', '"{}"'.format(node1))
        if "/usr/bin/oci " in text:
            text = (
                text.replace("/usr/bin/oci", oci).rstrip()
                + "".join(" " + a for a in oci_args)
                + " "
            )
        offset = shift[64] if line < 616 else shift[616]
        scripts.append("{}i\\{}\\".format(line + offset, text))
    return scripts


def apply(path: str, scripts: Sequence[str]) -> None:
    """`sed -i SCRIPT PATH` for each, as the author does."""
    for script in scripts:
        subprocess.run(["sed", "-i", script, path], check=True, timeout=30)
