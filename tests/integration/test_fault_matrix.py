"""The fault matrix: every action of the agent and every cloud-facing CLI verb,
with each fault injected at each OCI / IMDS call it makes.

Real SDK, real request signing, instance-principal auth through the fake IMDS
and federation endpoint. Each run gets its own fake cloud and its own node
sandbox (tests/tools/agent_sandbox.py), so runs go in parallel threads; the
agent and CLI run in separate processes (fork server children with the SDK
preloaded; stop and the plain monitor through the real entry point).

Modes: "clears" = the fault hits a call once (twice for an IMDS 404 window)
and then goes away, "persists" = it never goes away, "once" = a definite
answer (404, 409 Conflict, 401 from the auth service) that must not be
retried into success. Per cell (see EXPECTED and check_*):
- start: clears -> success; persists -> OCF_ERR_GENERIC whose exit reason
  names the OCI error code and the opc-request-id of the failing call; always
  inside the op timeout; the address is not up when OCI was not updated;
- start-warm: the same, on a node that has seen the VIP and has a cached
  session (GetPrivateIp, UpdatePrivateIp, read-back, without the SDK);
- monitor (monitor_api): exit 0 whatever the cloud does, exactly one warning
  for a persisting fault over two monitors, none for a fault that clears;
- monitor (plain) and stop: exit 0, no cloud call at all;
- verify: exit 0 when the fault clears; exit 3 with the failing check naming
  the error and its fix when it persists; valid JSON, no traceback;
- discover --all --update: exit 0 when it clears; one "Error: ... (hint)"
  line, exit 4/3, no traceback and the config file untouched when it persists;
- configure: makes no OCI or IMDS call (asserted once with every fault active).

The results become the matrix in docs/reliability.md.
"""

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest

from tests.fakes.harness import FakeOci
from tests.fakes.world import World, make_world
from tests.tools.agent_sandbox import VIP, Result, Sandbox, free_port, run_forked
from tests.tools.reliability import Collector, md_escape

pytestmark = pytest.mark.slow

RETRY_BASE = "0.1"  # PCS_OCI_RETRY_BASE_SECONDS: production is 1 s, see the report
API_TIMEOUT = 2  # api_timeout / oci.timeout, seconds per attempt
SLOW = 3.0  # a "slow" answer: beyond API_TIMEOUT and the IMDS client's 2 s per try
START_TIMEOUT = 36.0  # fit_budget then bounds the signer at 10 s: room for a 3 s auth answer
MONITOR_TIMEOUT = 26.0  # the signer bound is then 8 s
STOP_TIMEOUT = 20.0
CLI_TIMEOUT = 60.0
WORKERS = 8


# ---------------------------------------------------------------- the calls


class Op(NamedTuple):
    op: str  # the fake's operation name
    label: str
    kind: str  # imds (our client) | signer (the SDK's IMDS reads) | federation | read | write
    skip: int = 0  # matching calls let through first
    setup: str = ""  # "create": the VIP does not exist yet; "cold": no OCIDs in the state


def _op(op: str, kind: str, label: str = "", skip: int = 0, setup: str = "") -> Op:
    return Op(op, label or op, kind, skip, setup)


START_OPS = [
    _op("Imds:vnics", "imds", "IMDS vnics/ (agent)"),
    _op("Imds:identity", "signer", "IMDS identity/ (signer)"),
    _op("Federation", "federation"),
    _op("GetVnic", "read"),
    _op("ListPrivateIps", "read"),
    _op("GetPrivateIp", "read"),
    _op("UpdatePrivateIp", "write"),
    _op("GetPrivateIp", "read", "GetPrivateIp (read-back)", skip=1),
    _op("CreatePrivateIp", "write", "CreatePrivateIp (new VIP)", setup="create"),
]
# A start on a node that has seen the VIP (node cache) with a valid cached
# session: no metadata service, no federation, no SDK (lib/oci/direct.py).
WARM_START_OPS = [
    _op("GetPrivateIp", "read", "GetPrivateIp (known OCID)"),
    _op("UpdatePrivateIp", "write"),
    _op("GetPrivateIp", "read", "GetPrivateIp (read-back)", skip=1),
]
MONITOR_OPS = [
    _op("Imds:identity", "signer", "IMDS identity/ (signer)"),
    _op("Federation", "federation"),
    _op("GetPrivateIp", "read"),
    _op("Imds:vnics", "imds", "IMDS vnics/ (no state)", setup="cold"),
    _op("GetVnic", "read", "GetVnic (no state)", setup="cold"),
    _op("ListPrivateIps", "read", "ListPrivateIps (no state)", setup="cold"),
]
VERIFY_OPS = [
    _op("Imds:instance", "imds", "IMDS instance/"),
    _op("Imds:identity", "signer", "IMDS identity/ (signer)"),
    _op("Federation", "federation"),
    _op("GetVnic", "read"),
    _op("ListPrivateIps", "read"),
]
DISCOVER_OPS = [
    _op("Imds:instance", "imds", "IMDS instance/"),
    _op("Imds:identity", "signer", "IMDS identity/ (signer)"),
    _op("Federation", "federation"),
    _op("GetVnic", "read"),
    _op("ListInstances", "read"),
    _op("ListVnicAttachments", "read"),
]
ACTION_OPS = {
    "start": START_OPS,
    "start-warm": WARM_START_OPS,
    "monitor_api": MONITOR_OPS,
    "verify": VERIFY_OPS,
    "discover": DISCOVER_OPS,
}
ALL_KINDS = ("imds", "signer", "federation", "read", "write")


# ---------------------------------------------------------------- the faults


class Fault(NamedTuple):
    id: str
    title: str
    kinds: Tuple[str, ...]
    modes: Tuple[str, ...]
    args: Dict[str, Any]
    # Global faults are not tied to a call: one run per action.
    inject_global: Optional[Callable[[FakeOci, Sandbox], Dict[str, str]]] = None
    only: Tuple[str, ...] = ()  # restrict to these op names
    # Where start gets a persisting fault: at "each" of its calls, or at the
    # first call of each kind for the rows whose handling is another row's
    # code path (429 with Retry-After = 429, 500/502/504 = 503) or the same
    # whatever the call (a slow or dropped answer, a 401).
    depth: str = "each"
    # A fault that clears is injected once at every call in one run ("all",
    # harder than once at a single call) or at each call in a run of its
    # own ("each": slow answers, whose sum would exceed any budget).
    clears: str = "all"


def _status(status: int, code: str, **kw: Any) -> Dict[str, Any]:
    return dict(status=status, code=code, **kw)


def _imds_down(fake: FakeOci, box: Sandbox) -> Dict[str, str]:
    fake.imds_down(box.node)
    return {}


def _clock_skew(fake: FakeOci, box: Sandbox) -> Dict[str, str]:
    fake.set_clock_skew(600)
    return {}


def _refused_core(fake: FakeOci, box: Sandbox) -> Dict[str, str]:
    return {"OCF_RESKEY_endpoint": "http://127.0.0.1:{}".format(free_port())}


def _refused_federation(fake: FakeOci, box: Sandbox) -> Dict[str, str]:
    return {"PCS_OCI_FEDERATION_ENDPOINT": "http://127.0.0.1:{}/v1/x509".format(free_port())}


def _refused_imds(fake: FakeOci, box: Sandbox) -> Dict[str, str]:
    return {"OCI_METADATA_BASE_URL": "http://127.0.0.1:{}/opc/v2".format(free_port())}


BOTH = ("clears", "persists")
FAULTS = [
    Fault("429", "429 TooManyRequests", ALL_KINDS, BOTH, _status(429, "TooManyRequests")),
    Fault(
        "429-ra",
        "429 with Retry-After: 1",
        ALL_KINDS,
        BOTH,
        _status(429, "TooManyRequests", retry_after=1),
        depth="kind",
    ),
    Fault(
        "500",
        "500 InternalServerError",
        ALL_KINDS,
        BOTH,
        _status(500, "InternalServerError"),
        depth="kind",
    ),
    Fault("502", "502 Bad Gateway", ALL_KINDS, BOTH, _status(502, "BadGateway"), depth="kind"),
    Fault("503", "503 ServiceUnavailable", ALL_KINDS, BOTH, _status(503, "ServiceUnavailable")),
    Fault(
        "504", "504 Gateway Timeout", ALL_KINDS, BOTH, _status(504, "GatewayTimeout"), depth="kind"
    ),
    Fault(
        "slow",
        "answer after {:g} s (beyond the timeout)".format(SLOW),
        ALL_KINDS,
        BOTH,
        dict(status=None, delay=SLOW),
        depth="kind",
        clears="each",
    ),
    Fault(
        "drop",
        "connection reset before any answer",
        ALL_KINDS,
        BOTH,
        dict(status=503, drop=True),
        depth="kind",
    ),
    Fault(
        "reset",
        "connection reset mid-body (after the change)",
        ALL_KINDS,
        BOTH,
        dict(status=None, reset_mid_body=True),
    ),
    Fault(
        "malformed",
        "malformed JSON on 200 (after the change)",
        ALL_KINDS,
        BOTH,
        dict(status=None, body='{"id": "ocid1.truncated'),
    ),
    Fault(
        "401",
        "401 token expired (refresh once)",
        ("read", "write"),
        BOTH,
        _status(401, "NotAuthenticated", message="The security token has expired."),
        depth="kind",
    ),
    Fault(
        "404",
        "404 NotAuthorizedOrNotFound",
        ("read", "write"),
        ("once",),
        _status(404, "NotAuthorizedOrNotFound"),
    ),
    Fault("409-is", "409 IncorrectState", ("write",), BOTH, _status(409, "IncorrectState")),
    Fault("409-conflict", "409 Conflict", ("write",), ("once",), _status(409, "Conflict")),
    Fault(
        "412",
        "412 NoEtagMatch",
        ("write",),
        BOTH,
        _status(412, "NoEtagMatch"),
        only=("UpdatePrivateIp",),
    ),
    Fault("imds-404", "IMDS 404 window", ("imds", "signer"), BOTH, _status(404, "NotFound")),
    Fault(
        "federation-401",
        "federation refuses (401)",
        ("federation",),
        ("once",),
        _status(401, "NotAuthenticated", message="Instance is not in any dynamic group."),
    ),
    Fault("imds-down", "IMDS down (connection reset)", (), ("persists",), {}, _imds_down),
    Fault("refused-imds", "IMDS connection refused", (), ("persists",), {}, _refused_imds),
    Fault(
        "refused-federation",
        "auth service connection refused",
        (),
        ("persists",),
        {},
        _refused_federation,
    ),
    Fault("refused-api", "Core API connection refused", (), ("persists",), {}, _refused_core),
    Fault("clock-skew", "clock skew 10 min (401)", (), ("persists",), {}, _clock_skew),
]
FAULT = {f.id: f for f in FAULTS}


class Run(NamedTuple):
    action: str
    fault: str
    mode: str
    where: str  # an op label, "every call" or "-"

    @property
    def id(self) -> str:
        return "{}|{}|{}|{}".format(self.action, self.fault, self.mode, self.where)


STARTS = ("start", "start-warm")
# These point the agent at another metadata service or auth service URL: the
# session cached for this node's own is not that identity's (session_cache),
# so for a warm start they are the cold start's cells again.
ANOTHER_IDENTITY = ("refused-imds", "refused-federation")


def _applies(fault: Fault, op: Op) -> bool:
    return op.kind in fault.kinds and (not fault.only or op.op in fault.only)


def _one_per_kind(ops: List[Op]) -> List[Op]:
    kinds: Dict[str, Op] = {}
    for op in ops:
        kinds.setdefault(op.kind, op)
    return list(kinds.values())


def _representative(ops: List[Op]) -> List[Op]:
    """The Core API read if the fault applies to one, else the first call."""
    reads = [op for op in ops if op.kind == "read"]
    return (reads or ops)[:1]


def _runs() -> List[Run]:
    """Where each fault goes. start, the contract that matters most, gets the
    fault at each call (or at the first call of each kind for the rows whose
    handling is another row's code path); the other actions share that code
    (lib/oci, the signer, the IMDS client) and get it at one representative
    call per mode, the Core API read where it applies."""
    runs: List[Run] = []
    for action, ops in ACTION_OPS.items():
        for fault in FAULTS:
            if fault.inject_global is not None:
                if action == "start-warm" and fault.id in ANOTHER_IDENTITY:
                    continue
                runs.append(Run(action, fault.id, "persists", "-"))
                continue
            targets = [op for op in ops if _applies(fault, op)]
            if not targets:
                continue
            for mode in fault.modes:
                if mode == "clears" and fault.clears == "all":
                    # Once at every call of the action in one run: harder
                    # than once at one call, so it stands for each of them.
                    worlds = sorted({op.setup for op in targets})
                    for setup in worlds:
                        runs.append(Run(action, fault.id, mode, EVERY[setup]))
                    continue
                if action not in STARTS:
                    chosen = _representative(targets)
                elif fault.depth == "kind" or mode != "persists":
                    chosen = _one_per_kind(targets)
                else:
                    chosen = targets
                for op in chosen:
                    runs.append(Run(action, fault.id, mode, op.label))
    runs.append(Run("start", "token-expiry", "clears", "GetVnic"))
    for fault in FAULTS:
        for action in ("stop", "monitor"):
            runs.append(Run(action, fault.id, "persists", "every call"))
    return runs


# The all-at-once runs: once at every call (a new VIP: every call of a create).
EVERY = {"": "every call", "create": "every call (new VIP)", "cold": "every call (no state)"}


RUNS = _runs()

# Cells whose outcome differs from the rule (clears -> success; persists and
# once -> failure), each for a reason the product intends; the reasons go
# into the report.
EXPECTED: Dict[Tuple[str, str, str, str], Tuple[str, str]] = {}


def _expect(outcome: str, why: str, action: str, fault: str, mode: str, *wheres: str) -> None:
    for where in wheres:
        EXPECTED[(action, fault, mode, where)] = (outcome, why)


_expect(
    "ok",
    'a 409 Conflict on create means "it exists now": assign_vip looks again, finds that '
    "nobody has it (the fake's 409 created nothing) and creates it",
    "start",
    "409-conflict",
    "once",
    "CreatePrivateIp (new VIP)",
)
_expect(
    "ok",
    "the write went through and only its answer was garbled: answers to writes are not "
    "trusted anyway, assign_vip reads the VIP back and finds it here",
    "start",
    "malformed",
    "persists",
    "UpdatePrivateIp",
    "CreatePrivateIp (new VIP)",
)
_expect(
    "ok",
    "a 404 for the VIP's known OCID means the node cache is stale (the private IP was "
    "deleted and made again): the check looks the VIP up by address instead, quietly",
    "monitor_api",
    "404",
    "once",
    "GetPrivateIp",
)
_expect(
    "ok",
    "a start on a node that has seen the VIP signs with the cached session and needs "
    "neither the metadata service nor the auth service while the session is valid",
    "start-warm",
    "imds-down",
    "persists",
    "-",
)
_expect(
    "ok",
    "a 404 for the VIP's known OCID means the node cache is stale: the start looks the VIP "
    "up by address instead and moves it",
    "start-warm",
    "404",
    "once",
    "GetPrivateIp (known OCID)",
)
_expect(
    "ok",
    "the write went through and only its answer was garbled: answers to writes are not "
    "trusted anyway, assign_vip reads the VIP back and finds it here",
    "start-warm",
    "malformed",
    "persists",
    "UpdatePrivateIp",
)
for _action in ACTION_OPS:
    _expect(
        "ok",
        "the SDK waits up to its fixed (10, 60) s for the auth service, and one answer after "
        "{:g} s fits in every action's bound: slow, not failed".format(SLOW),
        _action,
        "slow",
        "persists",
        "Federation",
    )


def expected_outcome(run: Run) -> str:
    key = (run.action, run.fault, run.mode, run.where)
    if key in EXPECTED:
        return EXPECTED[key][0]
    return "ok" if run.mode == "clears" else "fail"


# ---------------------------------------------------------------- running one cell


class Observed(NamedTuple):
    run: Run
    result: Result
    second: Optional[Result]  # monitor_api: a second monitor under the same fault
    facts: Dict[str, Any]


_WORLDS: Dict[str, World] = {}


def _world(setup: str) -> World:
    key = "create" if setup == "create" else "moved"
    if key not in _WORLDS:
        _WORLDS[key] = (
            make_world(nodes=("node1", "node2"))
            if key == "create"
            else make_world(nodes=("node1", "node2"), secondary_ips={VIP: "node2"})
        )
    return copy.deepcopy(_WORLDS[key])


def _op_for(run: Run) -> Optional[Op]:
    for op in ACTION_OPS.get(run.action, []):
        if op.label == run.where:
            return op
    return None


def _setup_for(run: Run) -> str:
    for setup, where in EVERY.items():
        if run.where == where:
            return setup
    op = _op_for(run)
    return op.setup if op else ""


def _inject(fake: FakeOci, box: Sandbox, run: Run) -> Dict[str, str]:
    """Arm the fault for `run`; extra environment for the process."""
    if run.fault == "token-expiry":
        # A real expiry: tokens live 2 s and GetVnic answers after 2.5 s
        # (within a 4 s api_timeout), so the token that signed it has expired
        # when the fake checks it.
        fake.set_token_lifetime(2.0)
        fake.faults.add("GetVnic", status=None, delay=2.5)
        return {"OCF_RESKEY_api_timeout": "4"}
    fault = FAULT[run.fault]
    if fault.inject_global is not None:
        return fault.inject_global(fake, box)
    if run.where == "every call" and run.mode == "persists":
        fake.faults.add("*", count=None, **fault.args)
        return {}
    count: Optional[int] = None if run.mode == "persists" else 1
    if run.fault == "imds-404" and run.mode == "clears":
        count = 2  # a window of two answers
    if run.where in EVERY.values():
        setup = _setup_for(run)
        ops = [
            op for op in ACTION_OPS[run.action] if _applies(fault, op) and op.setup in ("", setup)
        ]
    else:
        found = _op_for(run)
        assert found is not None, run
        ops = [found]
    for op in ops:
        fake.faults.add(op.op, count=count, skip=op.skip, **fault.args)
    return {}


def _base_env() -> Dict[str, str]:
    return {
        "PCS_OCI_RETRY_BASE_SECONDS": RETRY_BASE,
        "OCF_RESKEY_api_timeout": str(API_TIMEOUT),
    }


def _oci_holder(fake: FakeOci) -> Optional[str]:
    rec = fake.private_ip_by_address(VIP)
    if rec is None:
        return None
    for name, node in fake.world["nodes"].items():
        if node["vnic_id"] == rec.get("vnicId"):
            return str(name)
    return "(none)" if not rec.get("vnicId") else str(rec.get("vnicId"))


def _failed_call(fake: FakeOci, op: Optional[Op], status: Optional[int]) -> Dict[str, Any]:
    """The last call the fault failed: its opc-request-id must reach the reason."""
    if op is None or status is None:
        return {}
    calls = [c for c in fake.calls(op.op) if c["status"] == status]
    return calls[-1] if calls else {}


def _execute(run: Run, root: Path) -> Observed:
    op = _op_for(run)
    setup = _setup_for(run)
    with _FakeCloud(_world(setup)) as fake:
        box = Sandbox(root, fake)
        env = _base_env()
        facts: Dict[str, Any] = {}
        second: Optional[Result] = None
        if run.action == "start-warm":
            # The node has started the VIP before (node cache, cached session);
            # it stopped, and the VIP moved to node2 meanwhile.
            warmed = box.run("start", START_TIMEOUT, **env)
            assert warmed.rc == 0, warmed.stderr
            assert box.run("stop", STOP_TIMEOUT, **env).rc == 0
            fake.move_private_ip(VIP, "node2")
            fake.clear_calls()
        if run.action in STARTS:
            extra = _inject(fake, box, run)
            result = box.run("start", START_TIMEOUT, **dict(env, **extra))
            facts["oci_holder"] = _oci_holder(fake)
            facts["address_up"] = box.up.exists()
        elif run.action == "monitor_api":
            env["OCF_RESKEY_monitor_api"] = "true"
            env["OCF_RESKEY_monitor_api_interval"] = "60"
            box.started(with_oci_ids=setup != "cold")
            extra = _inject(fake, box, run)
            result = box.run("monitor", MONITOR_TIMEOUT, **dict(env, **extra))
            facts["calls"] = len(fake.calls())
            facts["failed_call"] = _failed_call(fake, op, FAULT[run.fault].args.get("status"))
            if run.mode == "persists":
                box.age_state()
                second = box.run("monitor", MONITOR_TIMEOUT, **dict(env, **extra))
        elif run.action in ("stop", "monitor"):
            box.started()
            extra = _inject(fake, box, run)
            timeout = STOP_TIMEOUT if run.action == "stop" else MONITOR_TIMEOUT
            result = box.run(run.action, timeout, forked=False, **dict(env, **extra))
            facts["calls"] = len(fake.calls())
            facts["address_up"] = box.up.exists()
            facts["state_files"] = box.state_files()
            kept = json.loads(box.state_path().read_text()) if box.state_path().exists() else {}
            facts["monitor_answer_kept"] = "checked_at" in kept
        else:
            result, facts = _execute_cli(run, box, fake, env)
        fault = FAULT.get(run.fault)
        status = fault.args.get("status") if fault else None
        facts.setdefault("failed_call", _failed_call(fake, op, status))
        facts["retry_gaps"] = _retry_gaps(fake) if run.fault == "429-ra" else []
        facts["federation_calls"] = len(fake.calls("Federation"))
        facts["calls_made"] = [
            c for c in fake.calls() if not c["op"].startswith(("Imds", "Federation"))
        ]
        facts["rejected_401"] = len([c for c in fake.calls() if c["status"] == 401])
        return Observed(run, result, second, facts)


def _retry_gaps(fake: FakeOci) -> List[float]:
    """Seconds from each 429 to the next call of the same operation."""
    calls = fake.calls()
    gaps = []
    for i, call in enumerate(calls):
        if call["status"] == 429:
            later = [c for c in calls[i + 1 :] if c["op"] == call["op"]]
            if later:
                gaps.append(later[0]["time"] - call["time"])
    return gaps


# Retry-After: 1 is honoured up to the longest backoff (4 x the base = 0.4 s
# here); the jitter alone would wait 0.1-0.2 s before the first retry.
RETRY_AFTER_MIN_GAP = 0.35


class _FakeCloud:
    """A FakeOci of its own for one run (loopback, ephemeral port)."""

    def __init__(self, world: World) -> None:
        self.fake = FakeOci(world, action_delay=0.1)

    def __enter__(self) -> FakeOci:
        return self.fake.start()

    def __exit__(self, *exc: Any) -> None:
        self.fake.stop()


def _config(box: Sandbox, fake: FakeOci, with_vnics: bool) -> Path:
    nodes: List[Dict[str, Any]] = [{"hostname": "node1"}, {"hostname": "node2"}]
    if with_vnics:
        for node in nodes:
            node["vnic_id"] = fake.node(node["hostname"])["vnic_id"]
    doc = {
        "nodes": nodes,
        "vips": [{"name": "vip", "ip": VIP, "cidr_netmask": 24}],
        "oci": {"auth": "instance_principal", "endpoint": fake.core_endpoint, "timeout": 2},
    }
    path = box.root / "pcs-oci.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    path.chmod(0o640)
    return path


def _execute_cli(
    run: Run, box: Sandbox, fake: FakeOci, env: Dict[str, str]
) -> Tuple[Result, Dict[str, Any]]:
    config = _config(box, fake, with_vnics=run.action == "verify")
    before = config.read_bytes()
    cli_env = {
        "PATH": box.env["PATH"],
        "LC_ALL": "C",
        "HOME": str(box.root),
        "OCI_METADATA_BASE_URL": fake.imds_base("node1"),
        "PCS_OCI_FEDERATION_ENDPOINT": fake.federation_endpoint,
        "PCS_OCI_CONFIG": str(config),
        "PCS_OCI_RETRY_BASE_SECONDS": env["PCS_OCI_RETRY_BASE_SECONDS"],
        "PCS_OCI_TEST_VNIC_IDS": "node1={},node2={}".format(
            fake.node("node1")["vnic_id"], fake.node("node2")["vnic_id"]
        ),
        "PCS_OCI_TEST_ENDPOINT": fake.core_endpoint,
    }
    extra = _inject(fake, box, run)
    if "OCF_RESKEY_endpoint" in extra:
        doc = json.loads(config.read_text())
        doc["oci"]["endpoint"] = extra.pop("OCF_RESKEY_endpoint")
        config.write_text(json.dumps(doc, indent=2) + "\n")
        before = config.read_bytes()
    cli_env.update(extra)
    if run.action == "verify":
        result = run_forked("verify", ["verify", "--json"], cli_env, CLI_TIMEOUT)
    else:
        result = run_forked("cli", ["discover", "--all", "--update"], cli_env, CLI_TIMEOUT)
    facts: Dict[str, Any] = {
        "config_unchanged": config.read_bytes() == before,
        "config_mode": oct(config.stat().st_mode & 0o777),
    }
    if run.action == "discover":
        doc = json.loads(config.read_text())
        facts["vnic_ids"] = [n.get("vnic_id") for n in doc["nodes"]]
        facts["want_vnic_ids"] = [fake.node("node1")["vnic_id"], fake.node("node2")["vnic_id"]]
    return result, facts


# ---------------------------------------------------------------- the whole matrix


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: Any, reliability: Collector) -> Iterator[Dict[str, Observed]]:
    base = Path(str(tmp_path_factory.mktemp("matrix")))

    def one(index_run: Tuple[int, Run]) -> Observed:
        index, run = index_run
        root = base / "run{:03d}".format(index)
        root.mkdir()
        return _execute(run, root)

    start = time.monotonic()
    # The slowest runs first, so the pool does not end on a long tail.
    order = sorted(enumerate(RUNS), key=lambda ir: (ir[1].fault not in ("slow",), ir[0]))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        observed = {o.run.id: o for o in pool.map(one, order)}
    # The pool runs WORKERS agents on a couple of cores, and a loaded machine
    # stretches that further: a fault that clears can then cost a bounded
    # call its deadline, and the agent rightly warns or fails. That is the
    # machine, not the agent, only if the cell passes when it runs alone: so
    # each such cell runs once more by itself, and the report lists it with
    # what the pool run showed. A cell that fails alone fails.
    reruns: Dict[str, List[str]] = {}
    for index, run in enumerate(RUNS):
        problems = check(observed[run.id])
        if problems and run.mode == "clears":
            reruns[run.id] = problems
            observed[run.id] = one((index + len(RUNS), run))
    elapsed = time.monotonic() - start
    yield observed
    reliability.add("matrix", render(observed, elapsed, reruns))


def _run_ids() -> List[Any]:
    return [pytest.param(r, id=r.id.replace(" ", "_")) for r in RUNS]


@pytest.mark.parametrize("run", _run_ids())
def test_cell(matrix: Dict[str, Observed], run: Run) -> None:
    observed = matrix[run.id]
    problems = check(observed)
    assert not problems, "{}: {}\n--- stderr ---\n{}\n--- stdout ---\n{}".format(
        run.id, "; ".join(problems), observed.result.stderr[-3000:], observed.result.stdout[-2000:]
    )


# ---------------------------------------------------------------- what each cell must show


def check(o: Observed) -> List[str]:
    checks = {
        "start": check_start,
        "start-warm": check_start,
        "monitor_api": check_monitor_api,
        "monitor": check_quiet_action,
        "stop": check_quiet_action,
        "verify": check_verify,
        "discover": check_discover,
    }
    problems = checks[o.run.action](o)
    if o.run.fault == "clock-skew" and o.run.action in ("start", "verify", "discover"):
        # Named as what it is, with the fix: not as a generic auth failure.
        if "chrony" not in o.result.stderr + o.result.stdout:
            problems.append("a clock skew is not named as one (no chronyd/NTP hint)")
    if o.run.fault == "429-ra" and o.run.mode == "clears":
        gaps = o.facts["retry_gaps"]
        if not gaps or min(gaps) < RETRY_AFTER_MIN_GAP:
            problems.append(
                "Retry-After not honoured: retried after {}".format(
                    ["{:.2f}s".format(g) for g in gaps]
                )
            )
    return problems


def _no_traceback(r: Result) -> List[str]:
    return ["traceback in output"] if "Traceback" in r.stderr + r.stdout else []


def _reason_names_the_failure(o: Observed, text: str) -> List[str]:
    """The OCI error code and the opc-request-id of the failing call are in `text`."""
    call = o.facts.get("failed_call") or {}
    fault = FAULT.get(o.run.fault)
    if not call or fault is None or fault.args.get("drop"):
        return []
    op = _op_for(o.run)
    status = "HTTP {}".format(fault.args["status"])
    if op is None:
        return []
    if op.kind == "imds":
        # IMDS has no error codes or request ids: the reason names it and the status.
        wanted = ["metadata service", status]
    elif op.kind == "signer":
        wanted = ["authentication failed", status]
    else:
        wanted = [fault.args["code"], status, "opc-request-id " + call["opc-request-id"]]
    missing = [part for part in wanted if part not in text]
    return ["reason lacks {}".format(missing)] if missing else []


def check_start(o: Observed) -> List[str]:
    r = o.result
    problems = _no_traceback(r)
    # Token requests: one for the session and one when the SDK refreshes it
    # after a 401. A warm start signs with the cached session; a 401 throws it
    # away, and the SDK then makes the new one (and refreshes it once).
    tokens = 2
    if r.seconds >= START_TIMEOUT:
        problems.append(
            "took {:.1f}s, beyond the {:g}s op timeout".format(r.seconds, START_TIMEOUT)
        )
    if expected_outcome(o.run) == "ok":
        if r.rc != 0:
            problems.append("rc {} (expected 0): {}".format(r.rc, r.reason))
        if o.facts["oci_holder"] != "node1" or not o.facts["address_up"]:
            problems.append(
                "VIP not here: OCI {}, address {}".format(
                    o.facts["oci_holder"], o.facts["address_up"]
                )
            )
        refreshed = 1 if o.run.action == "start-warm" else 2
        if o.run.fault in ("401", "token-expiry") and o.facts["federation_calls"] < refreshed:
            problems.append("the token was not refreshed")
        if o.run.fault == "token-expiry" and not o.facts["rejected_401"]:
            problems.append("the token never expired in flight (no 401)")
        key = (o.run.action, o.run.fault, o.run.mode, o.run.where)
        if o.run.action == "start-warm" and o.run.fault != "401" and key not in EXPECTED:
            # The node cache and the session held: the write was the second call.
            # The node cache and the session held: only reads of the known OCID
            # (retried ones included) before the write, no token request.
            ops = [c["op"] for c in o.facts["calls_made"]]
            before = ops[: ops.index("UpdatePrivateIp")] if "UpdatePrivateIp" in ops else ops
            if set(before) != {"GetPrivateIp"} or o.facts["federation_calls"]:
                problems.append("not the cached fast path: {}".format(ops))
    else:
        if o.run.fault == "401" and o.facts["federation_calls"] != tokens:
            # A token rejected for good: refreshed once, then the 401 is the answer.
            problems.append(
                "{} token requests (expected {})".format(o.facts["federation_calls"], tokens)
            )
        if r.rc != 1:
            problems.append("rc {} (expected 1 = OCF_ERR_GENERIC)".format(r.rc))
        if len(r.reasons) != 1:
            problems.append("{} exit reasons".format(len(r.reasons)))
        problems += _reason_names_the_failure(o, r.reason[:128])
        if o.facts["address_up"]:
            problems.append("the address was added although the start failed")
    return problems


def check_monitor_api(o: Observed) -> List[str]:
    problems = _no_traceback(o.result)
    for n, r in enumerate([o.result] + ([o.second] if o.second else []), 1):
        if r.rc != 0:
            problems.append("monitor #{} rc {}: {}".format(n, r.rc, r.reason))
        if r.seconds >= MONITOR_TIMEOUT:
            problems.append("monitor #{} took {:.1f}s".format(n, r.seconds))
        noise = [line for line in r.stderr.splitlines() if not line.startswith("WARNING: ")]
        if noise:
            problems.append("monitor #{} wrote more than warnings: {}".format(n, noise[:3]))
    runs = [o.result] + ([o.second] if o.second else [])
    warnings = [len(r.lines("WARNING: ")) for r in runs]
    # A check that fails warns once; the next monitors stay quiet until it works again.
    # A fault the check gets round (an explicit "ok" above) is no warning at all.
    explicit = (o.run.action, o.run.fault, o.run.mode, o.run.where) in EXPECTED
    if expected_outcome(o.run) == "ok" and (o.run.mode != "once" or explicit):
        want = [0] * len(runs)
    else:
        want = [1] + [0] * (len(runs) - 1)
        problems += _reason_names_the_failure(o, o.result.stderr)
    if warnings != want:
        problems.append("warnings per monitor {} (expected {})".format(warnings, want))
    return problems


def check_quiet_action(o: Observed) -> List[str]:
    r = o.result
    problems = _no_traceback(r)
    if r.rc != 0:
        problems.append("rc {}: {}".format(r.rc, r.stderr.strip()[:200]))
    if o.facts["calls"]:
        problems.append("{} OCI/IMDS calls (expected none)".format(o.facts["calls"]))
    if o.run.action == "stop":
        # What the node knows of the VIP stays (vip.json without the monitor_api
        # answer); nothing else may.
        if (
            o.facts["address_up"]
            or o.facts["state_files"] not in ([], ["vip.json"])
            or o.facts["monitor_answer_kept"]
        ):
            problems.append(
                "left behind: address {} state {}".format(
                    o.facts["address_up"], o.facts["state_files"]
                )
            )
        if r.seconds >= 2:
            problems.append("stop took {:.1f}s".format(r.seconds))
    return problems


OCI_CHECKS = ("imds", "oci_auth", "oci_permission", "vip_private_ip")


def check_verify(o: Observed) -> List[str]:
    r = o.result
    problems = _no_traceback(r)
    try:
        data = json.loads(r.stdout)
    except ValueError:
        return problems + ["stdout is not JSON (rc {}): {}".format(r.rc, r.stderr[-300:])]
    checks = {c["id"]: c for c in data["checks"]}
    # The exit code follows the whole checklist (the scripted cluster's checks too).
    want_rc = 3 if any(c["status"] == "FAIL" for c in data["checks"]) else 0
    if r.rc != want_rc or data["ok"] != (want_rc == 0):
        problems.append("rc {} but the checklist says {}".format(r.rc, want_rc))
    if expected_outcome(o.run) == "ok":
        bad = {k: checks[k]["status"] for k in OCI_CHECKS if checks[k]["status"] != "PASS"}
        if bad:
            problems.append("not passing: {}".format(bad))
    else:
        failing = [checks[k] for k in OCI_CHECKS if checks[k]["status"] == "FAIL"]
        if r.rc != 3 or not failing:
            problems.append(
                "rc {} (expected 3) with failing checks {}".format(r.rc, [c["id"] for c in failing])
            )
        if any(not c["fix"] for c in failing):
            problems.append("a failing check has no fix")
        problems += _reason_names_the_failure(o, " ".join(c["detail"] for c in failing))
    if not o.facts["config_unchanged"]:
        problems.append("verify changed the config file")
    return problems


def check_discover(o: Observed) -> List[str]:
    r = o.result
    problems = _no_traceback(r)
    if expected_outcome(o.run) == "ok":
        if r.rc != 0:
            problems.append("rc {}: {}".format(r.rc, r.stderr.strip()[-300:]))
        elif o.facts["vnic_ids"] != o.facts["want_vnic_ids"]:
            problems.append("config not updated: {}".format(o.facts["vnic_ids"]))
        return problems
    lines = r.stderr.splitlines()
    if r.rc not in (3, 4):
        problems.append("rc {} (expected 4, or 3 for a node problem)".format(r.rc))
    if len(lines) != 1 or not lines[0].startswith("Error: "):
        problems.append("expected one 'Error:' line, got {}".format(lines[:4]))
    elif not lines[0].rstrip().endswith(")"):
        problems.append("the error line has no hint")
    if not o.facts["config_unchanged"] or o.facts["config_mode"] != "0o640":
        problems.append("config file changed although discover failed")
    problems += _reason_names_the_failure(o, r.stderr)
    return problems


def test_configure_makes_no_cloud_call(
    tmp_path: Path, fake_oci: FakeOci, monkeypatch: Any, reliability: Collector
) -> None:
    """configure --dry-run with every fault active at once: not one request."""
    from pcs_oci.lib import pacemaker
    from pcs_oci.lib.commands import configure
    from pcs_oci.lib.env import Env
    from pcs_oci.lib.imds import Imds
    from tests.tools.agent_sandbox import scripted_cluster

    monkeypatch.setattr(pacemaker, "agent_installed", lambda: True)
    monkeypatch.setenv("OCI_METADATA_BASE_URL", fake_oci.imds_base("node1"))
    monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake_oci.federation_endpoint)
    box = Sandbox(tmp_path, fake_oci)
    config = _config(box, fake_oci, with_vnics=True)
    fake_oci.faults.add("*", status=503, count=None)
    fake_oci.imds_down("node1")
    fake_oci.set_clock_skew(600)

    def no_api(*args: Any) -> Any:
        raise AssertionError("configure asked for an OCI API client")

    runner = scripted_cluster("", fake_oci.core_endpoint, with_vip=False)
    env = Env(config_path=str(config), runner=runner, imds=Imds(), oci_api_factory=no_api)
    start = time.monotonic()
    result = configure.configure(env, dry_run=True)
    seconds = time.monotonic() - start
    assert result.steps and result.steps[0].argv[:4] == [
        "/usr/sbin/pcs",
        "resource",
        "create",
        "vip",
    ]
    assert fake_oci.calls() == []
    reliability.add(
        "matrix",
        "**configure** makes no OCI or IMDS call: `configure --dry-run` with every fault of "
        "the table active at once (503 on every call, IMDS down, clock skew) planned `{}` in "
        "{:.2f} s and the fake saw 0 requests: its cells in the table are `n/a`.\n".format(
            " ".join(result.steps[0].argv[:5]) + " ...", seconds
        ),
    )


# ---------------------------------------------------------------- the report


def _cell_text(obs: List[Observed]) -> str:
    """One table cell: the outcome per mode, the worst duration, a reason excerpt."""
    parts = []
    for mode in ("clears", "once", "persists"):
        group = [o for o in obs if o.run.mode == mode]
        if not group:
            continue
        ok = sum(1 for o in group if not check(o))
        rcs = sorted({o.result.rc for o in group})
        worst = max(o.result.seconds for o in group)
        mark = "✓" if ok == len(group) else "✗ {}/{}".format(len(group) - ok, len(group))
        parts.append(
            "{} {}: rc {} ≤{:.1f}s".format(mark, mode, "/".join(str(rc) for rc in rcs), worst)
        )
    return "<br>".join(parts)


def _excerpt(o: Observed) -> str:
    r = o.result
    if o.run.action == "start":
        text = r.reason or (r.stderr.strip().splitlines() or [""])[-1]
    elif o.run.action == "monitor_api":
        text = (r.lines("WARNING: ") or [""])[0][len("WARNING: ") :]
    elif o.run.action == "verify":
        try:
            checks = json.loads(r.stdout)["checks"]
            text = "; ".join(
                "{} {}: {}".format(c["status"], c["id"], c["detail"])
                for c in checks
                if c["id"] in OCI_CHECKS and c["status"] != "PASS"
            )
        except (ValueError, KeyError):
            text = r.stderr.strip()[-200:]
    else:
        text = r.stderr.strip()
    return md_escape(text[:150]) or "-"


ACTION_TITLES = [
    ("start", "start"),
    ("start-warm", "start (node cache, cached session)"),
    ("monitor_api", "monitor (monitor_api)"),
    ("monitor", "monitor (plain)"),
    ("stop", "stop"),
    ("verify", "verify"),
    ("discover", "discover --all"),
]


def render(observed: Dict[str, Observed], elapsed: float, reruns: Dict[str, List[str]]) -> str:
    obs = list(observed.values())
    failed = [o for o in obs if check(o)]
    out = [
        "{} runs of the agent and the CLI, each against its own fake OCI (real SDK, instance "
        "principal), {} at a time: {:.0f} s in all; {} cell checks failed.\n".format(
            len(obs), WORKERS, elapsed, len(failed)
        ),
        "Cells whose fault clears but that failed their check in the pool, then ran once "
        "more alone (the result above is the solo run): {}.\n".format(
            "; ".join(
                "`{}` ({})".format(run_id, "; ".join(problems)[:200])
                for run_id, problems in sorted(reruns.items())
            )
            or "none"
        ),
        "Settings of the run: `api_timeout` {a} s per attempt, retry backoff base "
        "`PCS_OCI_RETRY_BASE_SECONDS={b}` (production: 1 s, so sleeps are 10x longer there), "
        "op timeouts start {s:g} s / monitor {m:g} s / stop {t:g} s "
        "(`OCF_RESKEY_CRM_meta_timeout`), a slow answer takes {w:g} s.\n".format(
            a=API_TIMEOUT,
            b=RETRY_BASE,
            s=START_TIMEOUT,
            m=MONITOR_TIMEOUT,
            t=STOP_TIMEOUT,
            w=SLOW,
        ),
        "Reading a cell: `✓ clears: rc 0 ≤1.2s` = the fault hit every call of the action "
        "once (in one run; a slow answer: each call in a run of its own) and then cleared, "
        "every such run passed its check with exit code 0 and the slowest took 1.2 s. "
        "`persists` = the fault never cleared, injected at each call of start in turn (at "
        "the first call of each kind: IMDS, signer, auth service, Core read, Core write, for "
        "the rows that share another row's code path) and at one representative call of the "
        "other actions; `once` = a definite answer given once. The checks are in the module "
        "docstring: start fails with "
        "OCF_ERR_GENERIC (1) naming the OCI code and opc-request-id; monitor never fails and "
        "warns once; stop and the plain monitor make no call; verify exits 3 with the failing "
        "check and its fix; discover prints one `Error:` line with a hint and leaves the "
        "config file alone. configure: `n/a` (no cloud call, see below).\n",
    ]
    out.append(
        "Cells that differ from the rule (clears: success; persists, once: failure), by design:\n"
    )
    for (action, fault, mode, where), (outcome, why) in sorted(EXPECTED.items()):
        out.append(
            "- {} / {} / {} at {}: {}, because {}.".format(
                action, fault, mode, where, "success" if outcome == "ok" else "failure", why
            )
        )
    out.append("")
    header = ["fault"] + [title for _, title in ACTION_TITLES] + ["configure"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for fault in FAULTS + [Fault("token-expiry", "401 real token expiry in flight", (), (), {})]:
        row = [md_escape(fault.title)]
        for action, _ in ACTION_TITLES:
            cell = [o for o in obs if o.run.action == action and o.run.fault == fault.id]
            row.append(_cell_text(cell) if cell else "-")
        row.append("n/a")
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append(
        "<details><summary>Every run: where the fault hit, exit code, duration, reason "
        "excerpt</summary>\n"
    )
    out.append("| action | fault | mode | call | rc | s | check | reason / warning / error |")
    out.append("|---|---|---|---|---|---|---|---|")
    for o in sorted(obs, key=lambda x: (x.run.action, x.run.fault, x.run.mode, x.run.where)):
        problems = check(o)
        out.append(
            "| {} | {} | {} | {} | {} | {:.2f} | {} | {} |".format(
                o.run.action,
                o.run.fault,
                o.run.mode,
                md_escape(o.run.where),
                o.result.rc,
                o.result.seconds,
                "ok" if not problems else "✗ " + md_escape("; ".join(problems))[:120],
                _excerpt(o),
            )
        )
    out.append("\n</details>\n")
    return "\n".join(out)


def test_federation_has_no_circuit_breaker(fake_oci: FakeOci, monkeypatch: Any) -> None:
    """The SDK's federation client has a breaker of its own (open after 3
    failures, for 30 s): OciApi turns it off, so an auth service that fails
    three times and then answers is simply retried into success."""
    from pcs_oci.lib.oci.api import OciApi
    from pcs_oci.lib.oci.settings import OciSettings

    monkeypatch.setenv("OCI_METADATA_BASE_URL", fake_oci.imds_base("node1"))
    monkeypatch.setenv("PCS_OCI_FEDERATION_ENDPOINT", fake_oci.federation_endpoint)
    fake_oci.faults.add("Federation", status=503, code="ServiceUnavailable", count=3)
    api = OciApi(
        OciSettings(
            endpoint=fake_oci.core_endpoint,
            timeout=2,
            max_attempts=4,
            max_total_seconds=10,
            retry_base_seconds=0.05,
        )
    )
    assert api.get_vnic(str(fake_oci.node("node1")["vnic_id"]))["id"]
    assert [c["status"] for c in fake_oci.calls("Federation")] == [503, 503, 503, 200]
