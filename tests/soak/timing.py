"""T: how long after the last fault heals the cluster may take to converge.

Derived from what the live cluster is configured with (corosync's runtime
token and consensus, the CIB's timeouts and fence delays), never from
measurements, so the bound does not drift with the load:

  membership   token + consensus        the survivors form a new membership
  election     dc-deadtime              a returning node joins, a DC is elected
  fencing      fence delay + 1.2 x the fence action's timeout (pcmk_reboot_timeout,
               else stonith-timeout): a fencing that is due still completes. A
               node that fences for another is given 1.2 x that timeout (the
               fencer's log: "Requesting that node3 perform 'reboot' action
               targeting node2 ... (360s, 0s)" with pcmk_reboot_timeout=300s);
               when that node dies meanwhile, the cluster waits all of it
  recovery     stop timeout + 2 x start timeout + failure-timeout: a start under
               way when the fault healed may still fail (it began while the
               cloud failed); when that was the last node the VIP could start
               on, its failures expire after the failure-timeout (Pacemaker
               rechecks at that moment), then one start (groups: every member's)
  detection    the monitor interval (+ monitor_api_interval for monitor_api VIPs)
"""

import re
import xml.etree.ElementTree as ET
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence

_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "msec": 0.001, "m": 60.0, "min": 60.0}
_UNITS.update({"us": 1e-6, "usec": 1e-6, "h": 3600.0, "hr": 3600.0})
# Pacemaker's defaults where the CIB sets nothing.
DEFAULT_OP_TIMEOUT_S = 20.0
DEFAULT_STONITH_TIMEOUT_S = 60.0
DEFAULT_DC_DEADTIME_S = 20.0
# How much longer than the action's timeout the fencer waits for a peer's fencing.
PEER_FENCING_FACTOR = 1.2


def seconds(value: Optional[str], default: float = 0.0) -> float:
    """A Pacemaker duration ("20s", "5000ms", "1m", "90") in seconds."""
    if value is None or not str(value).strip():
        return default
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$", str(value).lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError("not a duration: {!r}".format(value))
    return float(match.group(1)) * _UNITS[match.group(2)]


class VipTiming(NamedTuple):
    name: str
    start_s: float
    stop_s: float
    monitor_interval_s: float
    monitor_api_interval_s: float  # 0 without monitor_api
    # Its meta failure-timeout (or the resource defaults'): 0 = failures never expire.
    failure_timeout_s: float = 0.0


class Timing(NamedTuple):
    token_s: float
    consensus_s: float
    dc_deadtime_s: float
    fence_delay_s: float
    fence_timeout_s: float
    vips: Sequence[VipTiming]
    # Extra start+stop time of the other members of a VIP's group.
    group_extra_s: float = 0.0

    def vip(self, name: str) -> VipTiming:
        for v in self.vips:
            if v.name == name:
                return v
        raise KeyError(name)

    def components(self) -> Dict[str, float]:
        start = max(v.start_s for v in self.vips)
        stop = max(v.stop_s for v in self.vips)
        detect = max(v.monitor_interval_s + v.monitor_api_interval_s for v in self.vips)
        expire = max(v.failure_timeout_s for v in self.vips)
        return {
            "membership (token + consensus)": self.token_s + self.consensus_s,
            "election (dc-deadtime)": self.dc_deadtime_s,
            "fencing (delay + 1.2 x action timeout)": self.fence_delay_s
            + PEER_FENCING_FACTOR * self.fence_timeout_s,
            "recovery (stop + 2 x start + failure-timeout)": stop
            + 2 * start
            + 2 * self.group_extra_s
            + expire,
            "detection (monitor interval + monitor_api_interval)": detect,
        }

    @property
    def convergence_deadline_s(self) -> float:
        return round(sum(self.components().values()), 1)

    @property
    def failover_floor_s(self) -> float:
        """token + consensus: no failover of a dead node can be faster."""
        return self.token_s + self.consensus_s

    def to_dict(self) -> Dict[str, object]:
        return {
            "token_s": self.token_s,
            "consensus_s": self.consensus_s,
            "dc_deadtime_s": self.dc_deadtime_s,
            "fence_delay_s": self.fence_delay_s,
            "fence_timeout_s": self.fence_timeout_s,
            "group_extra_s": self.group_extra_s,
            "vips": [v._asdict() for v in self.vips],
            "T_s": self.convergence_deadline_s,
            "T_components_s": [{"part": k, "s": round(v, 2)} for k, v in self.components().items()],
        }


def _nvpairs(element: Optional[ET.Element]) -> Dict[str, str]:
    if element is None:
        return {}
    return {nv.get("name", ""): nv.get("value", "") for nv in element.iter("nvpair")}


def _meta(element: ET.Element) -> Dict[str, str]:
    return _nvpairs(element.find("meta_attributes"))


def _delay(value: Optional[str]) -> float:
    """pcmk_delay_base is a duration or a "node1:10s;node2:0s" map: its longest."""
    parts = re.split(r"[;,\s]+", (value or "").strip())
    return max((seconds(p.rpartition(":")[2]) for p in parts if p), default=0.0)


def _op(primitive: ET.Element, name: str) -> Optional[ET.Element]:
    for op in primitive.iter("op"):
        if op.get("name") == name and (name != "monitor" or seconds(op.get("interval")) > 0):
            return op
    return None


def _op_timeout(primitive: ET.Element, name: str, default: float) -> float:
    op = _op(primitive, name)
    return seconds(op.get("timeout") if op is not None else None, default)


def from_cib(cib_xml: str, vips: Sequence[str], token_s: float, consensus_s: float) -> Timing:
    """Timing from `cibadmin -Q` output and corosync's runtime token/consensus."""
    root = ET.fromstring(cib_xml)
    config = root.find("configuration")
    if config is None:
        raise ValueError("no <configuration> in the CIB")
    props = _nvpairs(config.find("crm_config"))
    op_defaults = _nvpairs(config.find("op_defaults"))
    default_timeout = seconds(op_defaults.get("timeout"), DEFAULT_OP_TIMEOUT_S)
    rsc_defaults = _nvpairs(config.find("rsc_defaults"))
    primitives = {p.get("id", ""): p for p in config.iter("primitive")}
    vip_timings: List[VipTiming] = []
    group_extra = 0.0
    for name in vips:
        prim = primitives.get(name)
        if prim is None:
            raise ValueError("no resource {} in the CIB".format(name))
        params = _nvpairs(prim.find("instance_attributes"))
        monitor = _op(prim, "monitor")
        api = params.get("monitor_api", "false").lower() in ("true", "yes", "1", "on")
        vip_timings.append(
            VipTiming(
                name,
                _op_timeout(prim, "start", default_timeout),
                _op_timeout(prim, "stop", default_timeout),
                seconds(monitor.get("interval") if monitor is not None else None, 0.0),
                seconds(params.get("monitor_api_interval"), 60.0) if api else 0.0,
                seconds(_meta(prim).get("failure-timeout", rsc_defaults.get("failure-timeout"))),
            )
        )
        for group in config.iter("group"):
            members = [p.get("id") for p in group.findall("primitive")]
            if name in members:
                others = [primitives[m] for m in members if m and m != name]
                group_extra = max(
                    group_extra,
                    sum(
                        _op_timeout(o, "start", default_timeout)
                        + _op_timeout(o, "stop", default_timeout)
                        for o in others
                    ),
                )
    stonith_timeout = seconds(props.get("stonith-timeout"), DEFAULT_STONITH_TIMEOUT_S)
    delay, fence_timeout = 0.0, 0.0
    for prim in primitives.values():
        if prim.get("class") != "stonith":
            continue
        params = _nvpairs(prim.find("instance_attributes"))
        delay = max(
            delay, _delay(params.get("pcmk_delay_base")) + _delay(params.get("pcmk_delay_max"))
        )
        fence_timeout = max(
            fence_timeout, seconds(params.get("pcmk_reboot_timeout"), stonith_timeout)
        )
    return Timing(
        token_s=token_s,
        consensus_s=consensus_s,
        dc_deadtime_s=seconds(props.get("dc-deadtime"), DEFAULT_DC_DEADTIME_S),
        fence_delay_s=delay,
        fence_timeout_s=fence_timeout,
        vips=vip_timings,
        group_extra_s=group_extra,
    )


def parse_cmap(text: str) -> Mapping[str, str]:
    """`corosync-cmapctl` lines "key (type) = value" as a dict."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            out[key.split(" (")[0].strip()] = value.strip()
    return out
