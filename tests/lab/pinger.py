"""A client on the lab's switch that pings an address every 100 ms and logs every answer.

    python3 pinger.py ADDR LOG [INTERVAL_S]

Runs in the switch network namespace (`cluster-lab serve`), standard library
only, raw ICMP socket as cluster-lab's own ping. Each echo request and each
reply is one line of LOG, written at once (the process is killed, never
asked to stop): "S <seq> <time>" and "R <seq> <time>", times from
time.time(). `summary` reads a LOG back: which requests got no answer.
"""

import os
import select
import socket
import struct
import sys
import time
from typing import Dict, List, NamedTuple, Optional


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack("!{}H".format(len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _request(ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"pcs-oci-pinger!!"
    return header[:2] + struct.pack("!H", _checksum(header)) + header[4:]


def run(addr: str, log_path: str, interval: float = 0.1) -> None:
    ident = os.getpid() & 0xFFFF
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    seq = 0
    next_send = time.time()
    while True:
        now = time.time()
        if now >= next_send:
            seq = (seq + 1) & 0xFFFF
            try:
                sock.sendto(_request(ident, seq), (addr, 0))
            except OSError:
                pass  # no route for a moment: an unanswered request all the same
            log.write("S {} {:.3f}\n".format(seq, now))
            next_send += interval
            continue
        ready, _, _ = select.select([sock], [], [], max(0.0, next_send - now))
        if not ready:
            continue
        data, source = sock.recvfrom(2048)
        header = (data[0] & 0x0F) * 4
        kind, _, _, got_ident, got_seq = struct.unpack("!BBHHH", data[header : header + 8])
        if source[0] == addr and kind == 0 and got_ident == ident:
            log.write("R {} {:.3f}\n".format(got_seq, time.time()))


# An answer later than this was held up somewhere: the switch kept the request
# while it could not resolve the address (ARP queues a few seconds' worth).
LATE_SECONDS = 0.5


class Summary(NamedTuple):
    sent: int
    answered: int
    # (time sent) of each request without an answer.
    lost: List[float]
    # The first answer at or after `since` (None: none yet).
    first_answer: Optional[float]
    # (time sent) of each request answered after more than LATE_SECONDS.
    late: List[float] = []


def summary(log_path: str, start: float, end: float, since: Optional[float] = None) -> Summary:
    """Requests sent in [start, end) and what became of them (answers may come later).

    first_answer: when the first request sent at or after `since` was answered.
    """
    sent: Dict[int, float] = {}  # the latest request of each sequence number
    answered: Dict[float, float] = {}  # time sent -> time answered
    with open(log_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue  # a line cut by the kill
            kind, seq, when = parts[0], int(parts[1]), float(parts[2])
            if kind == "S":
                sent[seq] = when
            elif seq in sent:
                answered.setdefault(sent[seq], when)
    with open(log_path) as f:
        requests = [
            float(p[2]) for p in (line.split() for line in f) if len(p) == 3 and p[0] == "S"
        ]
    window = [when for when in requests if start <= when < end]
    lost = [when for when in window if when not in answered]
    late = [when for when in window if answered.get(when, when) - when > LATE_SECONDS]
    first = None
    if since is not None:
        after = sorted(answered[w] for w in requests if w >= since and w in answered)
        first = after[0] if after else None
    return Summary(len(window), len(window) - len(lost), lost, first, late)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0.1)
