"""The actions of ocf:oci:IPaddr2: start, stop, monitor, validate-all.

The contract (see ocf_oci_IPaddr2(7)):
- start moves the private IP to this node's VNIC in OCI, then runs IPaddr2
  start, then confirms with IPaddr2 monitor. A cloud failure is
  OCF_ERR_GENERIC (Pacemaker tries another node); OCF_ERR_CONFIGURED only for
  a real configuration mistake, since it bans the resource everywhere.
- stop is IPaddr2 stop and nothing else: it must succeed with OCI down.
- monitor is IPaddr2 monitor; with monitor_api it also checks OCI at most
  every monitor_api_interval, and only a definite "OCI has the VIP on
  another VNIC" makes it report not running. Transient errors log one warning.
"""

import os
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, NamedTuple, Optional

from pcs_oci.agent import ipaddr2, node_cache, ocf, state
from pcs_oci.agent.params import AgentError, AgentParams, parse
from pcs_oci.common import reports
from pcs_oci.common.agent_params import AUTH_API_KEY, ipaddr2_reserve
from pcs_oci.lib.errors import CloudError, PcsOciError
from pcs_oci.lib.oci.settings import check_settings, fit_budget

if TYPE_CHECKING:
    # Imported where used: monitor without monitor_api never loads it.
    from pcs_oci.lib.private_ip import PrivateIpInfo

DEFAULT_TIMEOUTS = {"start": 90.0, "monitor": 40.0, "validate-all": 30.0}


class Context:
    """What a handler needs: the OCF environment and ways to reach the world.

    Tests replace `imds_factory` and `api_factory` with fakes.
    """

    def __init__(
        self,
        action: str,
        environ: Mapping[str, str],
        plumbing: Any,
        imds_factory: Optional[Callable[[], Any]] = None,
        api_factory: Optional[Callable[[Any], Any]] = None,
        clock: Callable[[], float] = time.time,
        warm_up: Optional[Callable[[Mapping[str, str]], None]] = None,
    ):
        self.action = action
        self.environ = environ
        self.plumbing = plumbing
        self.values = ocf.parameters(environ)
        self._imds_factory = imds_factory
        self._api_factory = api_factory
        self.clock = clock
        # Runs the warm-up after a probe (default: a detached process).
        self.warm_up = warm_up
        self.started = time.monotonic()

    @property
    def log(self) -> Any:
        return self.plumbing.logger

    def op_timeout(self) -> float:
        raw = ocf.meta(self.environ, "timeout")
        if raw and raw.isdigit() and int(raw) > 0:
            return int(raw) / 1000.0
        return DEFAULT_TIMEOUTS.get(self.action, 20.0)

    def remaining(self) -> float:
        return self.op_timeout() - (time.monotonic() - self.started)

    def node_name(self) -> str:
        name = ocf.meta(self.environ, "on_node")
        if name:
            return name
        # Pacemaker always passes on_node: crm_node is for runs by hand.
        from pcs_oci.lib import pacemaker
        from pcs_oci.lib.runner import CommandRunner

        return pacemaker.local_node_name(CommandRunner())

    def imds(self) -> Any:
        if self._imds_factory is not None:
            return self._imds_factory()
        from pcs_oci.lib.imds import Imds

        return Imds()

    def api(self, p: AgentParams, seconds: float, endpoint_hint: Optional[str] = None) -> Any:
        """The VIP's API whose worst case fits in `seconds`: without the SDK
        while a cached session allows it (lean.vip_api), else an OciApi (the
        SDK loads on its first call)."""
        settings = fit_budget(p.oci, seconds)
        if self._api_factory is not None:
            return self._api_factory(settings)
        from pcs_oci.lib.oci.lean import vip_api

        return vip_api(settings, endpoint_hint)


# ---------------------------------------------------------------- helpers


def _cloud_reason(what: str, error: PcsOciError) -> str:
    # Pacemaker keeps only the first 128 characters of an exit reason: the
    # OCI error code, HTTP status and opc-request-id come first, the context
    # (and the hint, in the log) after.
    return "{} ({})".format("; ".join(r.message for r in error.reports), what)


def local_vnic(ctx: Context, p: AgentParams, saved: Optional[Dict[str, Any]] = None) -> str:
    node = ctx.node_name()
    if node in p.vnic_ids:
        return p.vnic_ids[node]
    cached = node_cache.known_vnic(saved or {}, p.ip)
    if cached:
        # Found in the metadata service before; a VNIC detached since then
        # fails the start, which forgets it (see start).
        return cached
    from pcs_oci.lib.imds import read_node_facts, vnic_for_ip

    try:
        facts = read_node_facts(ctx.imds())
        return str(vnic_for_ip(facts, p.ip).vnic_id)
    except CloudError as e:
        raise AgentError(
            ocf.OCF_ERR_GENERIC, _cloud_reason("cannot find this node's VNIC", e)
        ) from None
    except PcsOciError as e:
        # The VIP is in none of this node's subnets, or is its primary IP:
        # this node cannot hold it, another may.
        raise AgentError(
            ocf.OCF_ERR_INSTALLED,
            _cloud_reason("node {} cannot hold {}".format(node, p.ip), e),
        ) from None


def _check_api_key_file(p: AgentParams) -> None:
    config_file = p.oci.config_file
    if p.oci.auth == AUTH_API_KEY and not os.path.isfile(os.path.expanduser(config_file)):
        raise AgentError(
            ocf.OCF_ERR_INSTALLED,
            "oci_config_file {} does not exist on this node (auth=api_key needs it on every "
            "node)".format(config_file),
        )


def _api_failure(what: str, error: PcsOciError) -> AgentError:
    codes = set(error.codes)
    if isinstance(error, CloudError):
        return AgentError(ocf.OCF_ERR_GENERIC, _cloud_reason(what, error))
    if reports.OCI_SDK_MISSING in codes:
        return AgentError(ocf.OCF_ERR_INSTALLED, _cloud_reason(what, error))
    # VIP_IS_PRIMARY_IP, a bad endpoint/proxy/region: the same on every node.
    return AgentError(ocf.OCF_ERR_CONFIGURED, _cloud_reason(what, error))


# ---------------------------------------------------------------- actions


def start(ctx: Context) -> int:
    p = parse(ctx.values)
    _check_api_key_file(p)
    saved: Dict[str, Any] = state.load(ctx.environ) or {}
    vnic_id = local_vnic(ctx, p, saved)
    from pcs_oci.lib.vip import assign_vip

    # The address goes up on the node while OCI moves the VIP; the start
    # succeeds only when both are done and confirmed.
    address = ipaddr2.Background(ctx.environ)
    try:
        api = ctx.api(
            p,
            ctx.remaining() - ipaddr2_reserve(ctx.op_timeout()),
            node_cache.endpoint_hint(saved, p.oci),
        )
        known = node_cache.known_vip(saved, p.ip, vnic_id)
        learnt: Dict[str, str] = {}
        result = assign_vip(api, vnic_id, p.ip, known=known, learnt=learnt)
    except PcsOciError as e:
        for report in e.reports:
            ctx.log.error("moving %s to VNIC %s failed: %s", p.ip, vnic_id, report.render())
        # OCI does not route the VIP here: the node must not hold the address
        # either; and what this node knew may be what failed (forget it).
        address.wait()
        ipaddr2.run("stop", ctx.environ)
        state.remove(ctx.environ)
        raise _api_failure("moving {} to this node's VNIC".format(p.ip), e) from None
    except BaseException:
        address.wait()
        raise
    if result.action == "moved":
        ctx.log.info(
            "moved %s in OCI from VNIC %s to this node's VNIC %s",
            p.ip,
            result.previous_vnic_id,
            vnic_id,
        )
    elif result.action == "created":
        ctx.log.info("created %s as a secondary private IP on VNIC %s", p.ip, vnic_id)
    state.save(
        ctx.environ,
        dict(
            node_cache.learnt(
                p.ip, vnic_id, learnt.get("subnet_id"), result.private_ip_id, api, p.oci
            ),
            checked_at=ctx.clock(),
            warned=False,
        ),
    )
    address.wait()
    if address.start_rc != ocf.OCF_SUCCESS:
        # IPaddr2 has printed its own exit reason.
        return ocf.OCF_ERR_GENERIC if address.start_rc is None else address.start_rc
    if address.monitor_rc != ocf.OCF_SUCCESS:
        raise AgentError(
            ocf.OCF_ERR_GENERIC,
            "IPaddr2 start succeeded but its monitor then returned {}".format(address.monitor_rc),
        )
    return ocf.OCF_SUCCESS


def stop(ctx: Context) -> int:
    # No parameter parsing and no cloud: a stop that fails gets the node fenced.
    rc = ipaddr2.run("stop", ctx.environ)
    if rc == ocf.OCF_SUCCESS:
        # What this node knows about the VIP stays for its next start; the
        # monitor_api answer goes (a later start checks afresh).
        kept = node_cache.kept(state.load(ctx.environ) or {})
        if kept:
            state.save(ctx.environ, kept)
        else:
            state.remove(ctx.environ)
    return rc


def monitor(ctx: Context) -> int:
    rc = ipaddr2.run("monitor", ctx.environ)
    if ocf.is_probe(ctx.action, ctx.environ):
        _warm_up_later(ctx)
        return rc
    if rc != ocf.OCF_SUCCESS:
        return rc
    try:
        p = parse(ctx.values)
    except AgentError as e:
        ctx.log.warning("monitor_api check skipped: %s", e.reason)
        return rc
    if not p.monitor_api:
        return rc
    return _monitor_api(ctx, p)


def _warm_up_later(ctx: Context) -> None:
    """After a probe on a node that does not know the VIP yet: learn it (and
    make a session) in a process of its own, for this node's next start;
    the probe does not wait for it (see warm.py)."""
    saved = state.load(ctx.environ) or {}
    if saved.get("ip") == ctx.values.get("ip") and saved.get("private_ip_id"):
        return
    if ctx.warm_up is not None:
        ctx.warm_up(ctx.environ)
        return
    import subprocess
    import sys

    try:
        subprocess.Popen(
            [sys.executable, "-I", "-m", "pcs_oci.agent.warm"],
            env=dict(ctx.environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as e:
        ctx.log.debug("no warm-up after the probe: %s", e)


def _monitor_api(ctx: Context, p: AgentParams) -> int:
    saved: Dict[str, Any] = state.load(ctx.environ) or {}
    now = ctx.clock()
    try:
        age = now - float(saved.get("checked_at", 0))
    except (TypeError, ValueError):
        age = -1.0
    # A check "in the future" (the clock was set back) is stale, not fresh
    # for as long as the clock jumped.
    if saved.get("ip") == p.ip and 0 <= age < p.monitor_api_interval:
        return ocf.OCF_SUCCESS
    try:
        seen = _where_in_oci(ctx, p, saved)
    except (PcsOciError, AgentError) as e:
        reason = e.reason if isinstance(e, AgentError) else _cloud_reason("OCI check", e)
        if not saved.get("warned"):
            ctx.log.warning(
                "cannot check the VIP's assignment in OCI (the address is up; not failing "
                "the resource): %s",
                reason,
            )
        state.save(ctx.environ, dict(saved, ip=p.ip, checked_at=now, warned=True))
        return ocf.OCF_SUCCESS
    learnt = node_cache.learnt(
        p.ip, seen.vnic_id, seen.subnet_id, seen.private_ip.id or None, seen.api, p.oci
    )
    if seen.private_ip.moving:
        # No vnicId and no ipState AVAILABLE: a move in flight (ours, or an
        # admin's), not an address on no VNIC. Not failing the resource, and
        # not counted as a check: the next monitor asks again.
        if "moving_since" not in saved:
            ctx.log.info(
                "OCI is moving %s (private IP %s shows no VNIC until the move lands); "
                "checking again at the next monitor",
                p.ip,
                seen.private_ip.id,
            )
        state.save(ctx.environ, dict(saved, **learnt, moving_since=saved.get("moving_since", now)))
        return ocf.OCF_SUCCESS
    known = dict(saved, **learnt, checked_at=now, warned=False)
    known.pop("moving_since", None)
    state.save(ctx.environ, known)
    holder = seen.private_ip.holder
    if holder != seen.vnic_id:
        if holder:
            where = "VNIC " + holder
        elif seen.private_ip.gone:
            where = "no VNIC (the IPv6 is {})".format(seen.private_ip.state)
        elif seen.private_ip.id:
            where = "no VNIC (ipState AVAILABLE)"
        else:
            where = "no VNIC (no private IP has the address)"
        ctx.plumbing.exit_reason(
            "OCI assigns {} to {}, not to this node's VNIC {}: it was moved outside "
            "the cluster".format(p.ip, where, seen.vnic_id)
        )
        return ocf.OCF_NOT_RUNNING
    return ocf.OCF_SUCCESS


class _Seen(NamedTuple):
    """Where OCI has the VIP, as a monitor_api check (or warm-up) sees it."""

    vnic_id: str  # this node's
    subnet_id: Optional[str]
    # Its id is "" when OCI has no private IP with the VIP's address.
    private_ip: "PrivateIpInfo"
    # What answered (for the endpoint it resolved).
    api: Any


def _where_in_oci(ctx: Context, p: AgentParams, saved: Dict[str, Any]) -> _Seen:
    """One GetPrivateIp when this node knows the VIP's OCID; else (or when
    that is stale) GetVnic and ListPrivateIps."""
    from pcs_oci.lib.imds import parse_ip
    from pcs_oci.lib.oci.api import ip_family
    from pcs_oci.lib.private_ip import PrivateIpInfo, info_of
    from pcs_oci.lib.vip import same_ip, where_is_vip

    vnic_id = local_vnic(ctx, p, saved)
    known = node_cache.known_vip(saved, p.ip, vnic_id)
    # A state file of an older version has the OCID without the subnet.
    private_ip_id = known.private_ip_id if known else node_cache.known_private_ip(saved, p.ip)
    api = ctx.api(p, ctx.remaining() - 2, node_cache.endpoint_hint(saved, p.oci))
    with api.budget():
        if private_ip_id:
            try:
                data = api.get_ip(ip_family(p.ip), private_ip_id).data
            except CloudError as e:
                if e.status != 404:
                    raise
            else:
                subnet_id = data.get("subnet_id")
                if same_ip(data.get("ip_address"), parse_ip(p.ip)) and (
                    known is None or subnet_id == known.subnet_id
                ):
                    return _Seen(vnic_id, subnet_id, info_of(data), api)
        subnet_id = api.get_vnic(vnic_id)["subnet_id"]
        info = where_is_vip(api, p.ip, subnet_id)
        # No private IP at all is on no VNIC for certain (not a move).
        return _Seen(
            vnic_id, subnet_id, info or PrivateIpInfo("", None, False, unassigned=True), api
        )


def validate_all(ctx: Context) -> int:
    p = parse(ctx.values)
    _check_api_key_file(p)
    rc = ipaddr2.run("validate-all", ctx.environ)
    if rc != ocf.OCF_SUCCESS:
        return rc
    if ctx.node_name() not in p.vnic_ids:
        local_vnic(ctx, p)
    problems = check_settings(p.oci)
    if problems:
        raise AgentError(ocf.OCF_ERR_CONFIGURED, problems[0].render())
    return ocf.OCF_SUCCESS


HANDLERS: Dict[str, Callable[[Context], int]] = {
    "start": start,
    "stop": stop,
    "monitor": monitor,
    "status": monitor,
    "validate-all": validate_all,
}
