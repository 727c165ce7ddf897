"""verify's checks, grouped by what they look at.

node (the config, this node, the instance metadata), cloud (the OCI API),
cluster (Pacemaker and corosync), fencing (the fence_oci devices) and host
(packages, other software, the firewall). Each module reads its facts in
`read_*` functions, which catch every failure of a tool or service and keep
it as the reason; its `check_*` functions turn facts into rows and do no
I/O. A check whose facts could not be read says SKIP and why, so the list
reads the same on a half-built cluster as on a finished one.
"""

from typing import List

from pcs_oci.common.checks import Check
from pcs_oci.lib.errors import PcsOciError

Rows = List[Check]


def error_text(error: PcsOciError, limit: int = 3) -> str:
    """The error's first reports on one line."""
    text = "; ".join(r.render() for r in error.reports[:limit])
    if len(error.reports) > limit:
        text += "; and {} more".format(len(error.reports) - limit)
    return text
