"""Applying and healing the schedule's events, through the lab and the fake's control API.

Every call returns a record for events.jsonl: what was resolved (which node
"holder:vip1" meant), when the action started and ended, and whether it was
done, skipped (with the reason: the node was already down, busy with another
fault ...) or failed. Nothing here decides whether the cluster behaved: the
checker does, from the sampler's view.

How each fault is made:
- kill / start: `cluster-lab kill` (every process at once: a power-off) and
  `start`, unless the fence's reboot brought the node back first (or OCI has
  its instance powered off: then the fence's power-on will);
- freeze / thaw: `cluster-lab freeze` (cgroup freezer: a hung kernel that
  still answers ARP and ping);
- isolate / heal: `cluster-lab isolate [--peers]` (unplugged, or only the
  node-to-node traffic cut; the cloud API stays reachable);
- stop: `systemctl stop pacemaker corosync pcsd` inside the node (resources
  move away first), then power-off; start as after a kill;
- move / clear: `pcs resource move-with-constraint RSC NODE` / `pcs resource clear`;
- api: a fault on every Core/federation operation in the fake ("*"), for the
  whole cluster or one node's calls: 429 (a burst of `count`), 500, 503,
  "slow" (answered after the call timeout; the change happens then) and
  "refused" (the endpoint's address on the nodes' loopback: ECONNREFUSED);
- imds: the node's own metadata service drops every request;
- auth: the federation endpoint refuses the instance(s) ("deny"), or the auth
  side's clock is off by 15 minutes ("skew": every signature is rejected).
Overlapping faults of one kind on one thing are reference-counted: the first
heal does not end the second's window. Actions run in threads of their own
(a clean shutdown takes seconds, the next fault may be due before): the
bookkeeping is under one lock, released around the slow lab commands.
"""

import subprocess
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from tests.lab.lab import LabError
from tests.lab.oci_lab import IMDS_PORT, OciLab
from tests.soak import samples as S
from tests.soak.schedule import Event

API_FAULTS: Dict[str, Dict[str, Any]] = {
    "429": {"status": 429, "code": "TooManyRequests", "retry_after": 1.0},
    "500": {"status": 500, "code": "InternalServerError", "count": None},
    "503": {"status": 503, "code": "ServiceUnavailable", "count": None},
}
SKEW_S = 900.0
STOP_TIMEOUT_S = 150.0
IMDS_RPC = (
    "import json,sys,urllib.request\n"
    "r=urllib.request.Request('http://127.0.0.1:{port}/_fake/rpc/imds_down',"
    "data=json.dumps({{'args':[sys.argv[1],sys.argv[2]=='1']}}).encode(),"
    "headers={{'Content-Type':'application/json'}},method='POST')\n"
    "urllib.request.urlopen(r,timeout=5).read()\n"
).format(port=IMDS_PORT)


class Skip(Exception):
    """The event cannot apply now (the reason is recorded, the run goes on)."""


class Injector:
    def __init__(
        self,
        ol: OciLab,
        api_timeout_s: float,
        movable: Dict[str, str],
        latest: Callable[[], Optional[S.Tick]],
    ) -> None:
        self.ol = ol
        self.lab = ol.lab
        self.nodes = list(ol.lab.node_names)
        self.api_timeout_s = api_timeout_s
        self.movable = movable
        self.latest = latest
        self.busy: Dict[str, str] = {}  # node -> key of the node fault it is under
        self.handles: Dict[str, Dict[str, Any]] = {}  # key -> what apply did
        self.counts: Dict[Tuple[str, str], int] = {}
        self.moved: List[str] = []
        self.cut: List[str] = []  # nodes isolated by us right now
        self.lock = threading.Lock()

    @contextmanager
    def _unlocked(self) -> Iterator[None]:
        """Around a slow command (a shutdown, a boot, pcs): others may act meanwhile."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    # ------------------------------------------------------------ plumbing

    def _record(
        self, phase: str, key: str, ev: Event, fn: Callable[[Dict[str, Any]], None]
    ) -> Dict[str, Any]:
        rec: Dict[str, Any] = {
            "phase": phase,
            "id": key,
            "index": ev.index,
            "kind": ev.kind,
            "target": ev.target,
            "params": dict(ev.params),
            "duration": ev.duration,
            "node": None,
            "nodes": [],
            "ok": True,
            "skipped": None,
            "error": None,
            "detail": [],
            "t0": time.time(),
        }
        try:
            with self.lock:
                fn(rec)
        except Skip as e:
            rec["skipped"] = str(e)
        except (LabError, OSError, RuntimeError, ValueError) as e:
            rec["ok"] = False
            rec["error"] = str(e).strip().splitlines()[-1][:300] if str(e).strip() else repr(e)
        except Exception as e:  # noqa: BLE001 - a fault tool failing must not end the soak
            rec["ok"] = False
            rec["error"] = "{}: {}".format(type(e).__name__, e)[:300]
        rec["t1"] = time.time()
        return rec

    def _inc(self, what: str, who: str) -> bool:
        """Count one more; True if it is the first (then apply it)."""
        key = (what, who)
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key] == 1

    def _dec(self, what: str, who: str) -> bool:
        """Count one less; True if it was the last (then undo it)."""
        key = (what, who)
        self.counts[key] = max(0, self.counts.get(key, 0) - 1)
        return self.counts[key] == 0

    def _holder(self, vip: str) -> Optional[str]:
        tick = self.latest()
        if tick is None:
            return None
        holders = S.address_holders(tick, vip)
        if len(holders) == 1:
            return holders[0]
        oci = S.oci_holders(tick, vip) or []
        if len(oci) == 1 and oci[0] in self.nodes and S.state(tick, oci[0]) != "down":
            return oci[0]
        return None

    def _node(self, target: str) -> str:
        if target.startswith("holder:"):
            node = self._holder(target.split(":", 1)[1])
            if node is None:
                raise Skip("{} has no single holder now".format(target.split(":", 1)[1]))
            return node
        if target not in self.nodes:
            raise ValueError("no node {}".format(target))
        return target

    def _scope(self, target: str) -> List[str]:
        return list(self.nodes) if target == "all" else [self._node(target)]

    def _live_node(self) -> str:
        states = self.lab.node_states()
        # Rather a node no fault is pending on (pcs dies with its node).
        running = [n for n in self.nodes if states.get(n) == "running"]
        live = sorted(running, key=lambda n: (n in self.cut, n in self.busy, n))
        if not live:
            raise Skip("no running node to run pcs on")
        return live[0]

    def _instance(self, node: str) -> str:
        return str(self.ol.node(node)["instance_id"])

    # ------------------------------------------------------------ apply / heal

    def apply(self, key: str, ev: Event) -> Dict[str, Any]:
        return self._record("apply", key, ev, lambda rec: self._apply(key, ev, rec))

    def heal(self, key: str, ev: Event) -> Dict[str, Any]:
        def run(rec: Dict[str, Any]) -> None:
            handle = self.handles.pop(key, None)
            if handle is None:
                raise Skip("was not applied")
            rec.update(node=handle.get("node"), nodes=handle.get("nodes", []))
            self._heal(ev, handle, rec)

        return self._record("heal", key, ev, run)

    def _apply(self, key: str, ev: Event, rec: Dict[str, Any]) -> None:
        kind = ev.kind
        handle: Dict[str, Any] = {}
        if kind in S.NODE_KINDS:
            node = self._node(ev.target)
            rec.update(node=node, nodes=[node])
            if node in self.busy:
                raise Skip("{} is under event {}".format(node, self.busy[node]))
            self.busy[node] = key
            try:
                self._apply_node(ev, node, rec["detail"])
            except BaseException:
                self.busy.pop(node, None)
                raise
            handle = {"node": node, "nodes": [node]}
        elif kind == "move":
            handle = self._apply_move(ev, rec)
        elif kind == "api":
            handle = self._apply_api(ev, rec)
        elif kind == "imds":
            handle = self._apply_imds(ev, rec)
        elif kind == "auth":
            handle = self._apply_auth(ev, rec)
        else:
            raise ValueError("cannot apply {}".format(kind))
        self.handles[key] = handle

    def _heal(self, ev: Event, handle: Dict[str, Any], rec: Dict[str, Any]) -> None:
        kind = ev.kind
        if kind in S.NODE_KINDS:
            node = handle["node"]
            try:
                self._heal_node(ev, node, rec)
            finally:
                self.busy.pop(node, None)
        elif kind == "move":
            self.moved.remove(handle["rsc"])
            if handle["rsc"] not in self.moved:
                where = self._live_node()
                with self._unlocked():
                    self.lab.pcs(where, "resource", "clear", handle["rsc"], timeout=60)
        elif kind == "api":
            for fid in handle.get("faults", []):
                self.ol.control.faults.remove(fid)
            for node in handle.get("refused", []):
                if self._dec("refused", node):
                    self._refuse(node, False)
        elif kind == "imds":
            for node in handle.get("imds", []):
                if self._dec("imds", node):
                    self._imds(node, False, rec)
        elif kind == "auth":
            who = handle["who"]
            if ev.params.get("mode") == "skew":
                if self._dec("skew", "*"):
                    self._unskew()
            elif self._dec("deny", who):
                self.ol.control.allow(who)

    # ------------------------------------------------------------ nodes

    def _apply_node(self, ev: Event, node: str, detail: List[str]) -> None:
        st = self.lab.node_states().get(node, "down")
        if ev.kind == "kill":
            if st == "down":
                raise Skip("{} is already down".format(node))
            self.lab.kill(node)
        elif ev.kind == "freeze":
            if st != "running":
                raise Skip("{} is {}".format(node, st))
            self.lab.freeze(node)
        elif ev.kind == "isolate":
            if st == "down":
                raise Skip("{} is down".format(node))
            self.lab.isolate(node, peers_only=bool(ev.params.get("peers_only")))
            self.cut.append(node)
        elif ev.kind == "stop":
            if st != "running":
                raise Skip("{} is {}".format(node, st))
            # Without the lab's lock (its `stop` holds it throughout): a fencing due
            # meanwhile must not wait for this shutdown.
            try:
                with self._unlocked():
                    self.lab.exec(
                        node,
                        "systemctl",
                        "stop",
                        "pacemaker",
                        "corosync",
                        "pcsd",
                        check=False,
                        timeout=STOP_TIMEOUT_S,
                    )
            except subprocess.TimeoutExpired:
                # Like `cluster-lab stop`: a shutdown that does not end is cut short.
                detail.append(
                    "clean stop still running after {:.0f}s: powered off".format(STOP_TIMEOUT_S)
                )
            self.lab.kill(node)

    def _heal_node(self, ev: Event, node: str, rec: Dict[str, Any]) -> None:
        st = self.lab.node_states().get(node, "down")
        if ev.kind in ("kill", "stop"):
            if st != "down":
                rec["detail"].append("{} is {} already (fenced and rebooted)".format(node, st))
                return
            self._boot(node, rec)
        elif ev.kind == "freeze":
            if st == "frozen":
                self.lab.thaw(node)
            else:
                rec["detail"].append("{} is {}: fenced while hung".format(node, st))
        elif ev.kind == "isolate":
            self.lab.heal(node)
            if node in self.cut:
                self.cut.remove(node)

    def _boot(self, node: str, rec: Dict[str, Any]) -> bool:
        """Start a down node whose instance runs in OCI; True if it runs now."""
        power = self.ol.control.instance_state(node)
        if power != "RUNNING":
            rec["detail"].append(
                "{}'s instance is {}: left to the fence's power-on".format(node, power)
            )
            return False
        try:
            with self._unlocked():
                self.lab.start(node)
        except LabError as e:
            if "already running" not in str(e):
                raise
            rec["detail"].append("{} was started meanwhile (fence reboot)".format(node))
        return True

    # ------------------------------------------------------------ move

    def _apply_move(self, ev: Event, rec: Dict[str, Any]) -> Dict[str, Any]:
        rsc = self.movable[ev.target]
        if rsc in self.moved:
            raise Skip("{} is under another move".format(rsc))
        holder = self._holder(ev.target)
        candidates = [n for n in self.nodes if n != holder]
        to = candidates[int(ev.params.get("to", 0)) % len(candidates)]
        rec.update(rsc=rsc, to=to, node=to, nodes=[to])
        self.moved.append(rsc)
        where = self._live_node()
        try:
            with self._unlocked():
                self.lab.pcs(where, "resource", "move-with-constraint", rsc, to, timeout=60)
        except (LabError, subprocess.TimeoutExpired):
            # The constraint may exist all the same: clear it now, or leave it
            # (and rsc in self.moved) to the final heal.
            try:
                with self._unlocked():
                    self.lab.pcs(self._live_node(), "resource", "clear", rsc, timeout=60)
                self.moved.remove(rsc)
                rec["cleared"] = True
                rec["detail"].append("cleared after the failure")
            except (LabError, subprocess.TimeoutExpired, Skip):
                pass
            raise
        return {"rsc": rsc, "node": to, "nodes": [to]}

    # ------------------------------------------------------------ cloud

    def _apply_api(self, ev: Event, rec: Dict[str, Any]) -> Dict[str, Any]:
        mode = str(ev.params["mode"])
        scope = self._scope(ev.target)
        rec["nodes"] = scope
        if mode == "refused":
            states = self.lab.node_states()
            hit = [n for n in scope if states.get(n) != "down"]
            for node in hit:
                if self._inc("refused", node):
                    self._refuse(node, True)
            return {"refused": hit, "nodes": hit}
        only: Optional[str] = None if ev.target == "all" else scope[0]
        rec["node"] = only
        if mode == "slow":
            spec: Dict[str, Any] = {
                "status": None,
                "delay": self.api_timeout_s + 1.0,
                "count": None,
            }
        else:
            spec = dict(API_FAULTS[mode])
            if mode == "429":
                spec["count"] = int(ev.params.get("count", 5))
        fid = self.ol.control.faults.add("*", node=only, **spec)
        return {"faults": [fid], "nodes": scope, "node": only}

    def _refuse(self, node: str, on: bool) -> None:
        """The API endpoint's address on the node's loopback: connecting gets ECONNREFUSED.
        arp_ignore=1 keeps the node from answering ARP for it on eth0."""
        addr = "{}.1/32".format(self.ol.net)
        if on:
            script = "ip addr add {} dev lo && echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_ignore"
        else:
            script = "ip addr del {} dev lo; echo 0 > /proc/sys/net/ipv4/conf/eth0/arp_ignore"
        self.lab.exec(node, "sh", "-c", script.format(addr), check=on, timeout=30)

    def _apply_imds(self, ev: Event, rec: Dict[str, Any]) -> Dict[str, Any]:
        scope = self._scope(ev.target)
        states = self.lab.node_states()
        hit = []
        for node in scope:
            if states.get(node) != "running":
                rec["detail"].append(
                    "{} is {}: its metadata service left alone".format(node, states.get(node))
                )
                continue
            if self._inc("imds", node):
                self._imds(node, True, rec)
            hit.append(node)
        rec["nodes"] = hit
        return {"imds": hit, "nodes": hit}

    def _imds(self, node: str, down: bool, rec: Dict[str, Any]) -> None:
        st = self.lab.node_states().get(node)
        if st != "running":
            # Down: it comes back with the node. Frozen: it would not answer (the
            # final heal brings it back).
            rec["detail"].append("{} is {}: metadata service not switched".format(node, st))
            return
        self.lab.exec(
            node, "/usr/bin/python3", "-c", IMDS_RPC, node, "1" if down else "0", timeout=30
        )

    def _unskew(self) -> None:
        """The auth side's clock right again. Tokens expired meanwhile were
        expired "as of" the skewed clock, 15 minutes ahead: expiring them again
        now moves that mark back, or every token for 15 minutes would be
        rejected (the fake compares issue times with it)."""
        self.ol.control.set_clock_skew(0.0)
        self.ol.control.expire_tokens()

    def _apply_auth(self, ev: Event, rec: Dict[str, Any]) -> Dict[str, Any]:
        ctl = self.ol.control
        if ev.params.get("mode") == "skew":
            rec["nodes"] = list(self.nodes)
            if self._inc("skew", "*"):
                ctl.set_clock_skew(SKEW_S)
            return {"who": "*", "nodes": list(self.nodes)}
        scope = self._scope(ev.target)
        who = "*" if ev.target == "all" else self._instance(scope[0])
        rec.update(nodes=scope, node=None if ev.target == "all" else scope[0])
        if self._inc("deny", who):
            ctl.deny(who, ["Federation"])
        ctl.expire_tokens()  # tokens issued before are rejected: everyone federates again
        return {"who": who, "nodes": scope}

    # ------------------------------------------------------------ the end

    def heal_everything(self, boot_timeout_s: float = 300.0) -> Dict[str, Any]:
        """Whatever is still applied, healed; every node running again."""
        ev = Event(-1, 0.0, "final_heal", "all", 0.0)

        def run(rec: Dict[str, Any]) -> None:
            ctl = self.ol.control
            ctl.faults.clear()
            ctl.allow()
            self._unskew()
            self.counts.clear()
            states = self.lab.node_states()
            for node in self.nodes:
                if states.get(node) == "frozen":
                    self.lab.thaw(node)
                self.lab.heal(node)
                if states.get(node) != "down":
                    self._refuse(node, False)
                    self._imds(node, False, rec)
            for rsc in sorted(set(self.moved)):
                self.lab.pcs(self._live_node(), "resource", "clear", rsc, timeout=60)
            self.moved.clear()
            self.cut.clear()
            self.busy.clear()
            self.handles.clear()
            self._boot_all(rec, boot_timeout_s)

        rec = self._record("final_heal", "final", ev, run)
        return rec

    def _boot_all(self, rec: Dict[str, Any], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        off_since: Dict[str, float] = {}
        while True:
            states = self.lab.node_states()
            down = [n for n in self.nodes if states.get(n) == "down"]
            if not down:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("nodes still down after the final heal: {}".format(down))
            for node in down:
                power = self.ol.control.instance_state(node)
                if power == "RUNNING":
                    self._boot(node, rec)
                    continue
                first = off_since.setdefault(node, time.monotonic())
                if power == "STOPPED" and time.monotonic() - first > 30:
                    # The fence's power-on failed (it counts as fenced all the
                    # same): an operator would start the instance.
                    self.ol.control.set_instance_state(node, "RUNNING")
                    rec["detail"].append(
                        "{}'s instance stayed STOPPED after its fencing: powered on".format(node)
                    )
                    self._boot(node, rec)
            time.sleep(1.0)
