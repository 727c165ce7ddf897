"""What the cloud half costs a resource-agent action, measured side by side.

    .venv/bin/python bench/bench_oci_layer.py [-n 15]

Each row is a fresh interpreter (as Pacemaker runs the agent), timed from
spawn to exit, against the in-process fake OCI on 127.0.0.1 (no latency):

  python -c pass           the interpreter floor
  discovery (IMDS)         read_node_facts(): two IMDS GETs, stdlib only
  import oci.core          the SDK floor
  assign_vip moved         one real move (5 API calls), node1 <-> node2
  assign_vip unchanged     VIP already on the VNIC (2 API calls, no write)

Goals: discovery < 50 ms; assign_vip <= import oci.core + 3 round trips.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pcs_oci.lib.oci.api import OciApi  # noqa: E402
from pcs_oci.lib.oci.settings import OciSettings  # noqa: E402
from tests.fakes.harness import start_fake_oci  # noqa: E402
from tests.fakes.world import make_world  # noqa: E402

VIP = "10.0.0.100"

DISCOVERY = "from pcs_oci.lib.imds import Imds, read_node_facts; read_node_facts(Imds())"
ASSIGN = """
import sys
from pcs_oci.lib.oci.api import OciApi
from pcs_oci.lib.oci.settings import OciSettings
from pcs_oci.lib.vip import assign_vip
config_file, endpoint, vnic, ip, action = sys.argv[1:6]
api = OciApi(OciSettings(auth="api_key", config_file=config_file, endpoint=endpoint))
assert assign_vip(api, vnic, ip).action == action
"""


def fake_without_nagle() -> None:
    """Set TCP_NODELAY on the fake's sockets (bench only).

    The fake writes headers and body in two send()s; on a keep-alive
    connection Nagle + delayed ACK then add ~40 ms per request, which real
    OCI endpoints do not. --as-is keeps the fake unchanged.
    """
    import socket

    from tests.fakes import transport

    setup = transport._Handler.setup

    def nodelay(self: Any) -> None:
        setup(self)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    transport._Handler.setup = nodelay  # type: ignore[method-assign]


def run(argv: List[str], env: Dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=15, help="repetitions per row (default 15)")
    parser.add_argument("--as-is", action="store_true", help="keep Nagle on the fake's sockets")
    args = parser.parse_args()
    n = args.n
    if not args.as_is:
        fake_without_nagle()
    py = sys.executable
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("OCI_METADATA_BASE_URL", None)

    with (
        start_fake_oci(make_world(secondary_ips={VIP: "node2"})) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config_file, _ = fake.write_api_key_config(tmp)
        vnics = [fake.node("node1")["vnic_id"], fake.node("node2")["vnic_id"]]
        imds_env = dict(env, OCI_METADATA_BASE_URL=fake.imds_base("node1"))

        # One warm in-process call: the cost of one signed round trip.
        api = OciApi(
            OciSettings(auth="api_key", config_file=config_file, endpoint=fake.core_endpoint)
        )
        api.get_vnic(vnics[0])
        rtts = []
        for _ in range(max(n, 20)):
            t = time.perf_counter()
            api.get_vnic(vnics[0])
            rtts.append(time.perf_counter() - t)
        rtt = statistics.median(rtts)

        rows: List[Tuple[str, List[float]]] = [
            ("python -c pass", []),
            ("discovery (IMDS)", []),
            ("import oci.core", []),
            ("assign_vip moved", []),
            ("assign_vip unchanged", []),
        ]
        calls: Dict[str, int] = {}
        # Interleave the rows so drift (CPU frequency, cache) hits all alike.
        for i in range(n):
            rows[0][1].append(run([py, "-c", "pass"], env))
            rows[1][1].append(run([py, "-c", DISCOVERY], imds_env))
            rows[2][1].append(run([py, "-c", "import oci.core"], env))
            target = vnics[i % 2]
            for row, action in ((rows[3], "moved"), (rows[4], "unchanged")):
                before = len(fake.calls())
                argv = [py, "-c", ASSIGN, config_file, fake.core_endpoint, target, VIP, action]
                row[1].append(run(argv, env))
                calls[action] = len(fake.calls()) - before

    base = statistics.median(rows[0][1])
    sdk = statistics.median(rows[2][1])
    print(
        "{} runs each, Python {}, fresh interpreter per run, fake {}".format(
            n, sys.version.split()[0], "as is (Nagle)" if args.as_is else "with TCP_NODELAY"
        )
    )
    print(
        "{:<24}{:>12}{:>10}{:>10}{:>12}".format("", "median ms", "min ms", "x pass", "x oci.core")
    )
    for name, times in rows:
        med = statistics.median(times)
        print(
            "{:<24}{:>12.1f}{:>10.1f}{:>10.1f}{:>12.2f}".format(
                name, med * 1000, min(times) * 1000, med / base, med / sdk
            )
        )
    assign = statistics.median(rows[4][1])
    moved = statistics.median(rows[3][1])
    discovery = statistics.median(rows[1][1])
    print()
    print("one signed API round trip (warm, in-process): {:.2f} ms".format(rtt * 1000))
    print("API calls: moved {moved}, unchanged {unchanged}".format(**calls))
    print(
        "discovery {:.1f} ms: {} (goal < 50 ms)".format(
            discovery * 1000, "ok" if discovery < 0.050 else "MISSED"
        )
    )
    bound = sdk + 3 * rtt
    for name, value in (("unchanged", assign), ("moved", moved)):
        print(
            "assign_vip {} {:.1f} ms vs import oci.core + 3 round trips {:.1f} ms: {} "
            "(over the import: {:.1f} ms)".format(
                name,
                value * 1000,
                bound * 1000,
                "ok" if value <= bound else "MISSED",
                (value - sdk) * 1000,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
