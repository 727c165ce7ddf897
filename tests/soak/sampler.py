"""The checker's eyes: its own process on the lab's switch, sampling every 100 ms.

    python -m tests.soak.sampler --lab-dir D --lab-name N --nodes node1,node2,node3 \
        --vip vip1=192.168.97.200 --vip vip2=192.168.97.201 --vnic node1=ocid1.vnic... \
        --api http://192.168.97.1:8000 --out samples.jsonl

The runner starts it with `cluster-lab serve`, so it runs in the switch's
network namespace (a client of the VIPs, as a user would be) and dies with the
lab. It reads, from outside the nodes and without their help:

- each node's state from its cgroup (running, frozen, down);
- the local IPv4 addresses of each node's network namespace
  (/proc/<node init>/net/fib_trie, the kernel table `ip addr` reads), so a
  frozen node's addresses are seen too, as its kernel still answers for them;
- OCI's view from the fake's control API: which VNIC(s) hold each VIP, the
  instances' power states, and every power action (fencing) it accepted;
- Pacemaker's view: `crm_mon` run inside a live node (one that has quorum,
  when there is one), in a thread of its own, as often as it answers;
- whether a client on the switch reaches each VIP (ICMP echo each tick);
- once a second: the agent's state files in each node's /run/pcs-oci, the
  agent and fence agent processes running in each node, the load average.

Each tick is one JSON line {"k": "tick", "t": ...}; SIGTERM ends it cleanly.
"""

import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from tests.fakes.remote import RemoteControl

NSENTER = "/usr/bin/nsenter"
CRM_MON = "/usr/sbin/crm_mon"
CRM_TIMEOUT_S = 3.0
STATE_DIR = "run/pcs-oci"
AGENT_MARKS = (b"pcs_oci.agent", b"fence_oci")


def parse_fib_local(text: str) -> Set[str]:
    """The local IPv4 addresses in /proc/net/fib_trie (its "Local:" table)."""
    found: Set[str] = set()
    in_local, last = False, ""
    for line in text.splitlines():
        if not line.startswith(" "):
            in_local = line.strip() == "Local:"
            continue
        if not in_local:
            continue
        stripped = line.strip()
        if stripped.startswith("|--"):
            last = stripped[3:].strip()
        elif "/32 host LOCAL" in stripped and last:
            found.add(last)
    return found


def state_file_claim(name: str, text: Optional[str]) -> Dict[str, Any]:
    """What one entry of a node's /run/pcs-oci says (the checker's invariant 5
    judges it): a directory (text None), a resource's JSON state (its address
    and which keys it has), a .fresh (the address of the answer it vouches
    for) or something else."""
    if text is None:
        return {"kind": "dir"}
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError:
            return {"kind": "unreadable"}
        if not isinstance(data, dict):
            return {"kind": "unreadable"}
        return {"kind": "json", "ip": data.get("ip"), "keys": sorted(data)}
    if name.endswith(".fresh"):
        fields = text.split()
        return {"kind": "fresh", "ip": fields[1] if len(fields) == 2 else None}
    return {"kind": "other"}


def parse_crm_mon(xml_text: str) -> Dict[str, Any]:
    """What the checker needs from `crm_mon -1 --output-as=xml`."""
    root = ET.fromstring(xml_text)
    dc = root.find("./summary/current_dc")
    online, unclean = [], []
    for node in root.iter("node"):
        if node.get("type") is None:  # resource placements, not the node list
            continue
        if node.get("online") == "true":
            online.append(node.get("name", ""))
        if node.get("unclean") == "true":
            unclean.append(node.get("name", ""))
    rsc: Dict[str, Any] = {}
    for r in root.iter("resource"):
        on = sorted(n.get("name", "") for n in r.findall("node"))
        rsc[r.get("id", "")] = {
            "on": on if r.get("active") == "true" else [],
            "role": r.get("role"),
            "failed": r.get("failed") == "true",
            "pending": r.get("pending"),
        }
    failures = [
        [
            f.get("op_key", "").rsplit("_", 2)[0],
            f.get("node", ""),
            f.get("task", ""),
            f.get("exitstatus", ""),
            f.get("exitreason", ""),
            f.get("last-rc-change", ""),
        ]
        for f in root.iter("failure")
    ]
    # Where a resource may not run any more: its fail count reached its
    # migration-threshold (a failed start sets it to INFINITY).
    banned: Dict[str, List[str]] = {}
    for node in root.iter("node"):
        for hist in node.findall("resource_history"):
            try:
                count = int(hist.get("fail-count", "0"))
                limit = int(hist.get("migration-threshold", "1000000"))
            except ValueError:
                continue
            if count and count >= limit:
                banned.setdefault(hist.get("id", ""), []).append(node.get("name", ""))
    # Fencing under way (crm_mon lists pending fence actions by default).
    fencing = sorted(
        {e.get("target", "") for e in root.iter("fence_event") if e.get("status") == "pending"}
    )
    return {
        "quorum": dc is not None and dc.get("with_quorum") == "true",
        "fencing": fencing,
        "dc": dc.get("name") if dc is not None and dc.get("present") == "true" else None,
        "online": sorted(online),
        "unclean": sorted(unclean),
        "rsc": rsc,
        "failures": failures,
        "banned": {rsc: sorted(nodes) for rsc, nodes in banned.items()},
    }


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack("!{}H".format(len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class Pinger:
    """ICMP echo to every VIP each tick; remembers when each last answered."""

    def __init__(self, vips: Dict[str, str]) -> None:
        self.by_ip = {ip: name for name, ip in vips.items()}
        self.ident = os.getpid() & 0xFFFF
        self.seq = 0
        self.last: Dict[str, Optional[float]] = {name: None for name in vips}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setblocking(False)

    def tick(self) -> Dict[str, Optional[float]]:
        self._drain()
        for ip in self.by_ip:
            self.seq = (self.seq + 1) & 0xFFFF
            header = struct.pack("!BBHHH", 8, 0, 0, self.ident, self.seq) + b"pcs-oci-soak"
            packet = header[:2] + struct.pack("!H", _checksum(header)) + header[4:]
            try:
                self.sock.sendto(packet, (ip, 0))
            except OSError:
                pass
        return dict(self.last)

    def _drain(self) -> None:
        while True:
            try:
                data, (src, _) = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            ihl = (data[0] & 15) * 4
            if len(data) < ihl + 8:
                continue
            kind, _, _, ident, _ = struct.unpack("!BBHHH", data[ihl : ihl + 8])
            if kind == 0 and ident == self.ident and src in self.by_ip:
                self.last[self.by_ip[src]] = time.time()

    def close(self) -> None:
        self.sock.close()


class NodeWatch:
    """A node seen through its cgroup and its init process's /proc entries."""

    def __init__(self, name: str, cgroup: str) -> None:
        self.name = name
        self.cgroup = cgroup
        self.pid: Optional[int] = None
        self.last = "down"  # the state at the last tick (read by the crm_mon thread)
        self.first_seen: Dict[int, float] = {}

    def _procs(self) -> List[int]:
        try:
            with open(os.path.join(self.cgroup, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return []

    @staticmethod
    def _is_init(pid: int) -> bool:
        try:
            with open("/proc/{}/status".format(pid)) as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        return line.split()[-1] == "1"
        except OSError:
            return False
        return False

    def state(self) -> str:
        procs = self._procs()
        if self.pid not in procs:
            self.pid = next((p for p in procs if self._is_init(p)), None)
        self.last = self._state()
        return self.last

    def _state(self) -> str:
        if self.pid is None:
            return "down"
        try:
            with open(os.path.join(self.cgroup, "cgroup.events")) as f:
                if "frozen 1" in f.read():
                    return "frozen"
        except OSError:
            return "down"
        return "running"

    def addresses(self) -> Set[str]:
        if self.pid is None:
            return set()
        try:
            with open("/proc/{}/net/fib_trie".format(self.pid)) as f:
                return parse_fib_local(f.read())
        except OSError:
            return set()

    def state_files(self) -> Dict[str, Dict[str, Any]]:
        if self.pid is None:
            return {}
        top = "/proc/{}/root/{}".format(self.pid, STATE_DIR)
        try:
            names = sorted(os.listdir(top))
        except OSError:
            return {}
        found = {}
        for name in names:
            path = os.path.join(top, name)
            try:
                if os.path.isdir(path):
                    text = None
                else:
                    with open(path, encoding="utf-8", errors="replace") as f:
                        text = f.read(65536)
            except OSError:
                continue  # gone between the listing and the read
            found[name] = state_file_claim(name, text)
        return found

    def agent_processes(self, now: float) -> List[List[Any]]:
        found = []
        alive = set()
        for pid in self._procs():
            try:
                with open("/proc/{}/cmdline".format(pid), "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            joined = b" ".join(argv)
            if not any(mark in joined for mark in AGENT_MARKS):
                continue
            alive.add(pid)
            first = self.first_seen.setdefault(pid, now)
            what = "fence_oci" if b"fence_oci" in joined else "agent"
            action = argv[-2].decode(errors="replace") if len(argv) > 1 and what == "agent" else ""
            found.append([pid, what, action, round(first, 3)])
        self.first_seen = {p: t for p, t in self.first_seen.items() if p in alive}
        return found


class CrmWatch(threading.Thread):
    """crm_mon inside a live node, over and over; the latest answer in `latest`."""

    def __init__(self, nodes: Dict[str, NodeWatch], interval: float) -> None:
        super().__init__(daemon=True)
        self.nodes = nodes
        self.interval = interval
        self.latest: Optional[Dict[str, Any]] = None
        self.preferred: Optional[str] = None
        self.stopping = threading.Event()
        self.errors = 0

    def _candidates(self) -> List[Tuple[str, int]]:
        live = [(n, w.pid) for n, w in self.nodes.items() if w.last == "running"]
        live.sort(key=lambda x: (x[0] != self.preferred, x[0]))
        return [(n, p) for n, p in live if p is not None]

    def run(self) -> None:
        while not self.stopping.is_set():
            t0 = time.time()
            for node, pid in self._candidates():
                view = self._ask(node, pid, t0)
                if view is not None and view.get("quorum"):
                    self.preferred = node
                    break
                self.preferred = None
            self.stopping.wait(max(0.0, self.interval - (time.time() - t0)))

    def _ask(self, node: str, pid: int, t0: float) -> Optional[Dict[str, Any]]:
        argv = [NSENTER, "-t", str(pid), "-n", "-m", "-u", "-i", "-p", "--", CRM_MON]
        argv += ["-1", "--output-as=xml"]
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return None
        try:
            out, _ = proc.communicate(timeout=CRM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # Its own process group: nsenter and the crm_mon it forked.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            self.errors += 1
            return None
        try:
            view = parse_crm_mon(out.decode(errors="replace"))
        except ET.ParseError:
            self.errors += 1
            return None
        view.update(t=round(time.time(), 3), t0=round(t0, 3), node=node)
        self.latest = view
        return view


class OciWatch:
    def __init__(self, api: str, vips: Dict[str, str], vnics: Dict[str, str]) -> None:
        self.ctl = RemoteControl(api, timeout=2.0)
        self.vips = vips
        self.node_of_vnic = {v: n for n, v in vnics.items()}
        self.fence_seen = 0

    def view(self) -> Dict[str, Any]:
        try:
            snap = self.ctl.snapshot()
        except Exception as e:  # noqa: BLE001 - an unreachable fake is a fact to record
            return {"error": str(e)[:200]}
        holders: Dict[str, List[str]] = {name: [] for name in self.vips}
        by_ip = {ip: name for name, ip in self.vips.items()}
        for pip in snap.get("private_ips", []):
            name = by_ip.get(pip.get("ipAddress", ""))
            if name is not None:
                vnic = pip.get("vnicId")
                holders[name].append(self.node_of_vnic.get(vnic, vnic or "(none)"))
        instances = {
            i.get("displayName", ""): i.get("lifecycleState", "") for i in snap.get("instances", [])
        }
        return {"vips": holders, "inst": instances, "n_private_ips": len(snap["private_ips"])}

    def new_power_actions(self) -> List[Dict[str, Any]]:
        try:
            calls = self.ctl.calls("InstanceAction")
        except Exception:  # noqa: BLE001 - try again next second
            return []
        fresh = calls[self.fence_seen :]
        self.fence_seen = len(calls)
        return [
            {
                "t": c["time"],
                "instance": c["path"].rsplit("/", 1)[-1],
                "action": c["query"].get("action"),
                "status": c["status"],
                "by": c.get("principal"),
            }
            for c in fresh
        ]


def _pairs(values: Sequence[str], what: str) -> Dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep:
            raise SystemExit("--{} expects NAME=VALUE, got {!r}".format(what, v))
        out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m tests.soak.sampler", description=__doc__)
    ap.add_argument("--lab-dir", required=True)
    ap.add_argument("--lab-name", required=True)
    ap.add_argument("--nodes", required=True, help="node1,node2,...")
    ap.add_argument("--vip", action="append", default=[], help="NAME=IP (repeat)")
    ap.add_argument("--vnic", action="append", default=[], help="NODE=VNIC_OCID (repeat)")
    ap.add_argument("--api", required=True, help="the fake's base URL (control API)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval", type=float, default=0.1)
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    vips = _pairs(args.vip, "vip")
    cg_root = os.path.join(args.lab_dir, "cgroup", "cluster-lab-" + args.lab_name)
    nodes = {n: NodeWatch(n, os.path.join(cg_root, n)) for n in args.nodes.split(",") if n}
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    oci = OciWatch(args.api, vips, _pairs(args.vnic, "vnic"))
    pinger = Pinger(vips)
    for w in nodes.values():
        w.state()
    crm = CrmWatch(nodes, args.interval)
    crm.start()
    ticks = 0
    with open(args.out, "a", buffering=1) as out:
        out.write(json.dumps({"k": "start", "t": time.time(), "pid": os.getpid(), "vips": vips}))
        out.write("\n")
        next_at = time.time()
        while not stop.is_set():
            now = time.time()
            tick: Dict[str, Any] = {"k": "tick", "t": round(now, 3)}
            node_view = {}
            for name, w in nodes.items():
                st = w.state()
                addrs = w.addresses()
                node_view[name] = {
                    "st": st,
                    "vips": sorted(v for v, ip in vips.items() if ip in addrs),
                }
            tick["nodes"] = node_view
            tick["oci"] = oci.view()
            tick["crm"] = crm.latest
            tick["ping"] = pinger.tick()
            if ticks % 10 == 0:
                tick["files"] = {n: w.state_files() for n, w in nodes.items()}
                tick["procs"] = {n: w.agent_processes(now) for n, w in nodes.items()}
                with open("/proc/loadavg") as f:
                    tick["load"] = [float(x) for x in f.read().split()[:3]]
                power = oci.new_power_actions()
                if power:
                    out.write(json.dumps({"k": "power", "t": round(now, 3), "calls": power}))
                    out.write("\n")
            out.write(json.dumps(tick, separators=(",", ":")) + "\n")
            ticks += 1
            next_at += args.interval
            delay = next_at - time.time()
            if delay < 0:  # late (load): do not try to catch up in a burst
                next_at = time.time()
                delay = 0.0
            stop.wait(delay)
        crm.stopping.set()
        crm.join(timeout=CRM_TIMEOUT_S + 2)
        usage = os.times()
        out.write(
            json.dumps(
                {
                    "k": "end",
                    "t": time.time(),
                    "ticks": ticks,
                    "crm_errors": crm.errors,
                    "cpu_s": round(
                        usage.user + usage.system + usage.children_user + usage.children_system, 2
                    ),
                }
            )
            + "\n"
        )
    pinger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
