"""The warm-up after a probe: what this node's next start will need, learnt now.

A probe of ocf:oci:IPaddr2 on a node that does not know the VIP yet starts
`python -m pcs_oci.agent.warm` with its own environment, detached, and
returns without waiting. The warm-up looks the VIP up in OCI (GetVnic,
ListPrivateIps) and records it in the node cache (node_cache.py), which
also makes an instance-principal session and keeps it (session_cache): a
failover to this node then starts with GetPrivateIp and UpdatePrivateIp,
without the metadata service and the federation call while the session
is valid. It changes nothing in OCI or on the node, and a failure only
means that the next start does the full lookup: it is logged at info.
"""

import os
import sys
from typing import Any, Dict, Mapping, Optional

from pcs_oci.agent import node_cache, ocf, state
from pcs_oci.agent.handlers import Context, local_vnic
from pcs_oci.agent.params import AgentError, parse
from pcs_oci.lib.errors import PcsOciError

# The warm-up's own bound: no op waits for it, but it must end.
WARM_UP_SECONDS = 30.0


def warm_up(ctx: Context) -> Optional[Dict[str, Any]]:
    """Learn the VIP's OCIDs into the state file; what was recorded, or None."""
    from pcs_oci.lib.vip import where_is_vip

    p = parse(ctx.values)
    saved: Dict[str, Any] = state.load(ctx.environ) or {}
    vnic_id = local_vnic(ctx, p, saved)
    if node_cache.known_vip(saved, p.ip, vnic_id) is not None:
        return None
    api = ctx.api(p, WARM_UP_SECONDS, node_cache.endpoint_hint(saved, p.oci))
    with api.budget():
        subnet_id = str(api.get_vnic(vnic_id)["subnet_id"])
        info = where_is_vip(api, p.ip, subnet_id)
    if info is None:
        return None
    learnt = node_cache.learnt(p.ip, vnic_id, subnet_id, info.id, api, p.oci)
    # A start may have written the file meanwhile: keep what it wrote.
    now: Dict[str, Any] = state.load(ctx.environ) or {}
    if now.get("ip") != p.ip:
        now = {}
    if node_cache.known_vip(now, p.ip, vnic_id) is not None:
        return None
    state.save(ctx.environ, dict(now, **learnt))
    return learnt


def main(environ: Optional[Mapping[str, str]] = None, ctx: Optional[Context] = None) -> int:
    if ctx is None:
        environ = os.environ if environ is None else environ
        ctx = Context("warm-up", environ, ocf.Plumbing())
    try:
        warm_up(ctx)
    except (AgentError, PcsOciError) as e:
        reason = e.reason if isinstance(e, AgentError) else e.reports[0].message
        ctx.log.info("warm-up after the probe skipped (the next start looks up): %s", reason)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
