"""Record what the cluster tools pcs-oci reads print, on the stack installed here.

    python -m tests.lab.capture_outputs DIR

Brings up a 2-node lab with fake OCI services, lets the real `pcs-oci`
configure a VIP and fence_oci devices in it, fails one operation on
purpose, and writes the output of every tool call pcs-oci parses (crm_mon
XML, cibadmin sections, crm_node, pcs --version) into DIR,
with a VERSIONS file naming the stack.  tests/data/stack/<generation>/ holds
such recordings of each generation, and the unit tests parse both with the
scripted runner:

    LAB_NET=192.168.91 python -m tests.lab.capture_outputs tests/data/stack/el9
    tests/lab/el10-root run /opt/pcs-oci/venv/bin/python \
        -m tests.lab.capture_outputs tests/data/stack/el10
"""

import argparse
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from tests.lab.lab import poll, unavailable_reason
from tests.lab.oci_lab import OciLab

# file name -> command run inside a node (exactly the argv pcs-oci uses)
CAPTURES = {
    "crm_mon.xml": ["/usr/sbin/crm_mon", "--one-shot", "--inactive", "--output-as=xml"],
    "cib-configuration.xml": ["/usr/sbin/cibadmin", "--query", "--scope", "configuration"],
    "cib-status.xml": ["/usr/sbin/cibadmin", "--query", "--scope", "status"],
    "pcs-version.txt": ["/usr/sbin/pcs", "--version"],
}
VERSIONS = "dpkg-query -W -f='${Package} ${Version}\\n' pacemaker pcs corosync resource-agents"


def capture(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with OciLab("capture", fence_oci=True) as ol:
        config = ol.write_config(ol.config_doc())
        ol.pcs_oci("node1", "-c", config, "discover", "--all", "--update")
        ol.pcs_oci("node1", "-c", config, "configure", "--fencing")
        holder = poll(lambda: ol.lab.where("vip"), timeout=60, what="vip started")[0]
        ol.wait_everywhere(holder)
        # A failed monitor, so that crm_mon lists a failure: the address
        # removed behind Pacemaker's back (recovered by the next start).
        ol.lab.exec(
            holder, "ip", "addr", "del", ol.config_doc()["vips"][0]["ip"] + "/24", "dev", "eth0"
        )
        poll(
            lambda: "<failure " in ol.lab.exec(holder, *CAPTURES["crm_mon.xml"]).stdout,
            timeout=60,
            what="the monitor failure in crm_mon",
        )
        for name, argv in CAPTURES.items():
            out = ol.lab.exec(holder, *argv, check=False).stdout
            (directory / name).write_text(out)
        versions = ol.lab.exec(holder, "sh", "-c", VERSIONS).stdout
        python = subprocess.run(
            ["/usr/bin/python3", "--version"], capture_output=True, text=True, check=True
        ).stdout
        (directory / "VERSIONS").write_text(versions + python)
    print("recorded {} outputs in {}".format(len(CAPTURES), directory))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print("capture_outputs: cannot run here: " + reason, file=sys.stderr)
        return 2
    capture(args.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
