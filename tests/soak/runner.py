"""The soak from start to end: cluster, sampler, schedule, final heal, teardown, verdict.

The cluster is what an operator builds: a 3-node lab (tests/lab/oci_lab.py,
fence_oci against the fake Compute API), `pcs-oci discover --all --update`,
then `pcs-oci configure --fencing` with two VIPs, monitor_api on for vip1,
vip2 first in a group with a Dummy application when the config knows
`vips[].group` (detected with `pcs-oci config validate`; skipped otherwise).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, Dict, List, Optional, TextIO

from tests.lab.lab import LabError, process_alive
from tests.lab.oci_lab import API_PORT, PYTHON, REPO, OciLab
from tests.soak import aftermath, checker, metrics, report, timing
from tests.soak import samples as S
from tests.soak import schedule as sch
from tests.soak.faults import Injector

NODES = 3
GROUP = "app"
APP = "app-dummy"
SAMPLER = "soak-sampler"
MONITOR_INTERVAL = "5s"
MONITOR_API_INTERVAL = 10  # the schema's minimum
API_TIMEOUT = 3
# How long a VIP must stay provably unable to recover before the wait ends early.
STUCK_S = 30.0


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so that the lab is torn down."""


class Options:
    def __init__(
        self,
        events: int,
        seed: int,
        scale: float,
        name: str,
        net: str,
        out: str,
        replay: str,
        command: str,
        commit: str,
    ) -> None:
        self.events, self.seed, self.scale = events, seed, scale
        self.name, self.net, self.out = name, net, Path(out)
        self.replay, self.command, self.commit = replay, command, commit


class Soak:
    def __init__(self, opts: Options, stream: TextIO = sys.stdout) -> None:
        self.o = opts
        self.stream = stream
        self.t_begin = time.time()
        self.records: List[Dict[str, Any]] = []
        self.samples_path = self.o.out / "samples.jsonl"
        self.events_path = self.o.out / "events.jsonl"
        self.tail = S.Tail(str(self.samples_path))
        self.ol: Optional[OciLab] = None
        self.grouped = False
        self.vips = {"vip1": self.o.net + ".200", "vip2": self.o.net + ".201"}
        self.timing: Optional[timing.Timing] = None
        self.api_calls: Dict[str, Any] = {}
        self.private_ips_before = 0
        self.t_start = 0.0
        self.leftovers: List[str] = []
        self.setup_s = 0.0
        self.out_lock = threading.Lock()

    def say(self, text: str) -> None:
        print(
            "[{:7.1f}s] {}".format(time.time() - self.t_begin, text), file=self.stream, flush=True
        )

    # ------------------------------------------------------------ cluster

    def _config(self, ol: OciLab) -> str:
        doc = ol.config_doc()
        base = dict(doc["vips"][0], monitor_interval=MONITOR_INTERVAL)
        doc["vips"] = [
            dict(
                base,
                name="vip1",
                ip=self.vips["vip1"],
                monitor_api=True,
                monitor_api_interval=MONITOR_API_INTERVAL,
            ),
            dict(base, name="vip2", ip=self.vips["vip2"], group=GROUP),
        ]
        doc["oci"]["timeout"] = API_TIMEOUT
        path = ol.write_config(doc)
        check = ol.pcs_oci("node1", "-c", path, "config", "validate", check=False)
        if check.returncode != 0 and "group" in (check.stdout + check.stderr):
            # Not on this branch yet: the VIP alone.
            doc["vips"][1].pop("group")
            path = ol.write_config(doc)
            self.say("vips[].group: not in this pcs-oci's config schema, vip2 without a group")
        else:
            self.grouped = True
        return path

    def setup(self) -> None:
        self.say("lab {} ({}.0/24): 3 nodes, fake OCI, fence_oci".format(self.o.name, self.o.net))
        log = open(self.o.out / "lab.log", "a")  # noqa: SIM115 - closed with the soak
        self.ol = ol = OciLab(
            self.o.name, nodes=NODES, fence_oci=True, net=self.o.net, log_stream=log
        )
        # The lab's real name (LAB_NAME_PREFIX prepended): the sampler finds
        # its cgroups, and the teardown its leftovers, by it.
        self.o.name = ol.lab.name
        ol.up()
        self.private_ips_before = len(ol.control.snapshot()["private_ips"])
        config = self._config(ol)
        ol.pcs_oci("node1", "-c", config, "discover", "--all", "--update", timeout=300)
        out = ol.pcs_oci("node1", "-c", config, "configure", "--fencing", timeout=600).stdout
        self.say("pcs-oci configure --fencing: " + "; ".join(out.split("\n")).strip("; "))
        if self.grouped:
            ol.lab.pcs(
                "node1",
                "resource",
                "create",
                APP,
                "ocf:pacemaker:Dummy",
                "--group",
                GROUP,
                timeout=120,
            )
        with open(config) as f:
            doc = json.load(f)
        self.vnics = {n["hostname"]: n["vnic_id"] for n in doc["nodes"]}
        self.timing = self._read_timing()
        t = self.timing
        self.say(
            "T = {:.1f}s: ".format(t.convergence_deadline_s)
            + ", ".join("{} {:.1f}s".format(k, v) for k, v in t.components().items())
        )

    def _read_timing(self) -> timing.Timing:
        assert self.ol is not None
        lab = self.ol.lab
        cmap = timing.parse_cmap(
            lab.exec("node1", "corosync-cmapctl", "runtime.config.totem.").stdout
        )
        token = float(cmap["runtime.config.totem.token"]) / 1000.0
        consensus = float(cmap["runtime.config.totem.consensus"]) / 1000.0
        cib = lab.exec("node1", "cibadmin", "-Q", timeout=60).stdout
        return timing.from_cib(cib, list(self.vips), token, consensus)

    @property
    def groups(self) -> Dict[str, List[str]]:
        return {"vip1": ["vip1"], "vip2": ["vip2", APP] if self.grouped else ["vip2"]}

    @property
    def movable(self) -> Dict[str, str]:
        return {"vip1": "vip1", "vip2": GROUP if self.grouped else "vip2"}

    # ------------------------------------------------------------ sampler

    def start_sampler(self) -> None:
        assert self.ol is not None
        argv = [
            PYTHON,
            "-m",
            "tests.soak.sampler",
            "--lab-dir",
            str(self.ol.lab.lab_dir),
            "--lab-name",
            self.o.name,
            "--nodes",
            ",".join(self.ol.lab.node_names),
            "--api",
            "http://{}.1:{}".format(self.o.net, API_PORT),
            "--out",
            str(self.samples_path.resolve()),
        ]
        argv += ["--vip={}={}".format(k, v) for k, v in self.vips.items()]
        argv += ["--vnic={}={}".format(k, v) for k, v in self.vnics.items()]
        self.ol.lab.serve(SAMPLER, argv, cwd=str(REPO))
        deadline = time.monotonic() + 60
        while self.tail.latest is None:
            self.tail.poll()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "the sampler wrote nothing: " + str(self.ol.lab.served_log(SAMPLER))
                )
            time.sleep(0.2)

    def stop_sampler(self) -> None:
        assert self.ol is not None
        pid = self.ol.lab.served_pid(SAMPLER)
        if pid is not None and process_alive(pid):
            os.kill(pid, signal.SIGTERM)  # the process we started: it flushes and exits
            deadline = time.monotonic() + 15
            while process_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        try:
            self.ol.lab.unserve(SAMPLER)
        except LabError:
            pass

    def wait_settled(self, since: float, limit_s: float, hold_s: float) -> Optional[float]:
        """Until every VIP has stayed converged (per the sampler) for hold_s; when
        that state began, or None if it did not within limit_s (+ hold_s).

        Ends early when a VIP provably cannot recover by itself (samples.stuck)
        for STUCK_S: waiting out T would change nothing but the run's length."""
        settle = S.Settle(self.groups, since)
        deadline = since + limit_s + hold_s
        stuck_since: Optional[float] = None
        nodes = self.ol.lab.node_names if self.ol else []
        while time.time() < deadline:
            for tick in self.tail.poll():
                settle.feed(tick)
                why = self._stuck(tick, nodes)
                stuck_since = (stuck_since or tick["t"]) if why else None
                if why and stuck_since is not None and tick["t"] - stuck_since >= STUCK_S:
                    self.say("{} for {:.0f}s: not waiting out T".format(why, STUCK_S))
                    return None
            if settle.held() >= hold_s:
                return settle.since
            if settle.since is None and time.time() > since + limit_s:
                return None
            time.sleep(0.3)
        return None

    def _stuck(self, tick: S.Tick, nodes: List[str]) -> Optional[str]:
        assert self.timing is not None
        for vip in self.groups:
            if self.timing.vip(vip).failure_timeout_s == 0:
                why = S.stuck(tick, vip, nodes)
                if why:
                    return why
        return None

    # ------------------------------------------------------------ schedule

    def log(self, rec: Dict[str, Any]) -> None:
        with self.out_lock:
            self.records.append(rec)
            with open(self.events_path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def run_schedule(self, events: List[sch.Event]) -> None:
        """Each action in a thread of its own at its time (a shutdown or a boot
        takes seconds; the next event does not wait for it); a heal waits for
        its own apply."""
        assert self.ol is not None and self.timing is not None
        injector = Injector(self.ol, API_TIMEOUT, self.movable, lambda: self.tail.latest)
        self.t_start = time.time()
        self.log({"phase": "start", "t0": self.t_start, "t1": self.t_start})
        applying: Dict[str, threading.Thread] = {}
        running: List[threading.Thread] = []

        def act(a: sch.Action) -> None:
            if a.phase == "apply":
                rec = injector.apply(a.key, a.event)
            else:
                applying[a.key].join()
                rec = injector.heal(a.key, a.event)
            self.log(rec)
            self.say(
                "{:>5} {:<5} {:<40} {}".format(
                    a.key, a.phase, a.event.describe()[:40], _outcome(rec)
                )
            )

        for a in sch.actions(events):
            while True:
                self.tail.poll()
                wait = self.t_start + a.at - time.time()
                if wait <= 0:
                    break
                time.sleep(min(wait, 0.3))
            thread = threading.Thread(target=act, args=(a,), name="soak-" + a.key, daemon=True)
            if a.phase == "apply":
                applying[a.key] = thread
            thread.start()
            running.append(thread)
        for thread in running:
            while thread.is_alive():
                self.tail.poll()
                thread.join(0.3)
        self.say("final heal: every fault removed, every node running")
        rec = injector.heal_everything()
        self.log(rec)
        self.say(
            "final heal done ({:.1f}s){}".format(
                rec["t1"] - rec["t0"],
                ": " + _outcome(rec) if not rec["ok"] or rec["detail"] else "",
            )
        )

    # ------------------------------------------------------------ teardown

    def collect(self) -> None:
        assert self.ol is not None
        self.api_calls = aftermath.count_calls(self.ol.control.calls(), self.t_start)

    def keep_logs(self) -> None:
        assert self.ol is not None
        aftermath.copy_logs(
            self.ol.lab.lab_dir, self.ol.lab.node_names, [SAMPLER + ".log"], self.o.out / "logs"
        )

    def teardown(self) -> None:
        if self.ol is None:
            return
        lab_dir, tmp, name = self.ol.lab.lab_dir, self.ol.tmp, self.o.name
        self.ol.close(failed=False)
        self.leftovers = aftermath.find_leftovers(str(lab_dir), str(tmp), name)

    # ------------------------------------------------------------ all

    def run(self) -> int:
        self.o.out.mkdir(parents=True, exist_ok=True)
        # A fresh directory: nothing of an earlier run may mix with this one's.
        for name in ("samples.jsonl", "events.jsonl", "report.json", "lab.log", "schedule.json"):
            if (self.o.out / name).exists():
                (self.o.out / name).unlink()
        shutil.rmtree(self.o.out / "logs", ignore_errors=True)
        events = sch.make_schedule(self.o.seed, self.o.events, sch.Params(scale=self.o.scale))
        (self.o.out / "schedule.json").write_text(sch.to_json(events))
        self.say(
            "soak: {} events, seed {} (replay: {}), schedule {:.0f}s".format(
                self.o.events, self.o.seed, self.o.replay, sch.span(events)
            )
        )
        error: Optional[str] = None
        try:
            self.setup()
            self.start_sampler()
            assert self.timing is not None
            first = self.wait_settled(time.time(), 300, 5.0)
            if first is None:
                raise RuntimeError("the VIPs never converged after configure")
            self.setup_s = time.time() - self.t_begin
            self.say("sampler running; both VIPs converged; schedule starts")
            self.run_schedule(events)
            healed = S.final_heal(self.records)
            since = healed["t1"] if healed else time.time()
            self.say(
                "waiting until both VIPs have converged and stayed so for {:.0f}s "
                "(at most T = {:.0f}s)".format(self.hold_s, self.timing.convergence_deadline_s)
            )
            settled = self.wait_settled(since, self.timing.convergence_deadline_s, self.hold_s)
            if settled is not None:
                self.say("converged {:.1f}s after the final heal".format(settled - since))
            else:
                self.say("NOT converged within T")
        except (KeyboardInterrupt, Terminated):
            error = "interrupted"
            self.say("interrupted: tearing down")
        except Exception as e:  # noqa: BLE001 - report it, tear down, exit non-zero
            error = "{}: {}".format(type(e).__name__, e)
            self.say("error: " + error)
        finally:
            if self.ol is not None:
                try:
                    self.stop_sampler()
                    self.collect()
                except Exception as e:  # noqa: BLE001
                    self.say("while stopping the sampler: {}".format(e))
            self.t_end = time.time()
        return self.finish(events, error)

    @property
    def hold_s(self) -> float:
        assert self.timing is not None
        return max(2 * v.monitor_interval_s + v.monitor_api_interval_s for v in self.timing.vips)

    def finish(self, events: List[sch.Event], error: Optional[str]) -> int:
        verdict: Optional[checker.Result] = None
        data: Dict[str, Any] = {}
        if self.timing is not None and self.samples_path.exists():
            raw = S.read_jsonl(str(self.samples_path))
            ticks, power = S.split(raw)
            healed = S.final_heal(self.records)
            ctx = self._context(healed["t1"] if healed and healed.get("ok") else None)
            verdict = checker.check_all(ticks, power, self.records, ctx)
            wins = S.windows(self.records, self.t_end)
            data = {
                "failover_s": metrics.failovers(ticks, wins, self.groups),
                "switchover_s": metrics.switchovers(ticks, wins, self.groups, self.movable),
                "convergence_s": metrics.convergence(ticks, wins, self.groups, ctx.t_healed),
                "sampler": metrics.sampler_stats(ticks),
            }
            end = [r for r in raw if r.get("k") == "end"]
            if end:  # the sampler's own cost, to judge its effect on the load
                data["sampler"].update(
                    cpu_s=end[-1].get("cpu_s"), crm_errors=end[-1].get("crm_errors")
                )
            self.keep_logs()  # a few MB; the story of every stall is in them
        self.teardown()
        if verdict is not None and self.timing is not None:
            leaks = checker.check_leaks([], self._context(None), None)
            verdict.violations.extend(leaks)
            for v in leaks:
                v["t_rel"] = round(v["t"] - self.t_start, 2)
                v["event_before"] = None
        doc = report.build(
            seed=self.o.seed,
            events=events,
            scale=self.o.scale,
            replay=self.o.replay,
            command=self.o.command,
            commit=self.o.commit,
            records=self.records,
            timing=self.timing.to_dict() if self.timing else None,
            violations=verdict.violations if verdict else None,
            notes=verdict.notes if verdict else [],
            data=data,
            api_calls=self.api_calls,
            cluster={
                "nodes": NODES,
                "vips": self.vips,
                "monitor_api": ["vip1"],
                "group": {"vip2": [GROUP, APP]} if self.grouped else None,
                "fencing": "fence_oci (pcs-oci configure --fencing)",
                "api_timeout_s": API_TIMEOUT,
            },
            started=self.t_begin,
            setup_s=self.setup_s,
            duration_s=time.time() - self.t_begin,
            error=error,
        )
        path = self.o.out / "report.json"
        path.write_text(json.dumps(doc, indent=2, sort_keys=True))
        for line in report.summary(doc):
            self.say(line)
        self.say("report: {}".format(path))
        bad = bool(error) or verdict is None or bool(verdict.violations)
        if bad:
            self.say("FAILED. Replay: {}".format(self.o.replay))
        return 1 if bad else 0

    def _context(self, t_healed: Optional[float]) -> checker.Context:
        assert self.ol is not None and self.timing is not None
        return checker.Context(
            nodes=list(self.ol.lab.node_names),
            groups=self.groups,
            movable=self.movable,
            instance_node={n["instance_id"]: name for name, n in self.ol.world["nodes"].items()},
            timing=self.timing,
            t_start=self.t_start,
            t_healed=t_healed,
            t_end=self.t_end,
            expected_private_ips=self.private_ips_before + len(self.vips),
            teardown_leftovers=self.leftovers,
        )


def _outcome(rec: Dict[str, Any]) -> str:
    what = (
        "-> {} ".format(rec["node"] or ",".join(rec.get("nodes") or []))
        if (rec.get("node") or rec.get("nodes"))
        else ""
    )
    took = "({:.1f}s)".format(rec["t1"] - rec["t0"])
    if rec.get("skipped"):
        return "{}skipped: {} {}".format(what, rec["skipped"], took)
    if not rec.get("ok"):
        return "{}FAILED: {} {}".format(what, rec.get("error"), took)
    detail = "; ".join(rec.get("detail") or [])
    return "{}{}{}".format(what, took, " " + detail if detail else "")


def git_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=str(REPO), capture_output=True, text=True, check=True
    ).stdout.strip()


def install_sigterm() -> None:
    def on_term(signum: int, frame: Optional[FrameType]) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, on_term)
