"""Log lines and exit reasons are one printable line, cut short, whatever they quote."""

import logging
from typing import Any, List

from pcs_oci.agent import handlers, ocf
from tests.unit.agent.test_handlers import VIP, World, world  # noqa: F401 - the fixture

FORGED = "x\nocf-exit-reason:FORGED\r\x1b[31m"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_one_line_flattens_control_characters_and_cuts() -> None:
    assert ocf.one_line(FORGED, 100) == "x ocf-exit-reason:FORGED [31m"
    assert ocf.one_line("é ✓  a\tb", 100) == "é ✓ a b"
    assert ocf.one_line("A" * 5000, 50) == "A" * 47 + "..."


def test_safe_logger_never_writes_two_lines() -> None:
    logger = logging.getLogger("test_ocf_safety")
    logger.setLevel(logging.DEBUG)
    capture = Capture()
    logger.addHandler(capture)
    try:
        safe = ocf.SafeLogger(logger)
        safe.error("moving %s failed: %s", VIP, FORGED)
        safe.warning("no args but a %s sign")
        safe.info("%d", "not a number")  # a bad format never raises
        try:
            raise ValueError(FORGED)
        except ValueError:
            safe.exception("internal error")
    finally:
        logger.removeHandler(capture)
    assert all("\n" not in line and "\r" not in line for line in capture.lines)
    assert capture.lines[0] == "moving {} failed: x ocf-exit-reason:FORGED [31m".format(VIP)
    assert capture.lines[1] == "no args but a %s sign"
    assert "not a number" in capture.lines[2]
    assert capture.lines[3].startswith("internal error | Traceback")
    assert "ValueError: x | ocf-exit-reason:FORGED" in capture.lines[3]


def test_exit_reason_is_one_line_of_at_most_512(capsys: Any) -> None:
    plumbing = ocf.Plumbing()
    plumbing.exit_reason("bad value " + FORGED + "B" * 10000)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ocf-exit-reason:bad value x ")
    assert len(err) <= len("ocf-exit-reason:") + ocf.MAX_EXIT_REASON + 1


def test_monitor_api_check_in_the_future_is_stale(world: World) -> None:  # noqa: F811
    """A clock set back must not keep the cached answer for as long as it jumped."""
    pid = world.api.add_private_ip(VIP, world.vnic1, world.subnet)
    env = {"OCF_RESKEY_monitor_api": "true", "OCF_RESKEY_CRM_meta_interval": "10000"}
    assert world.run("start") == ocf.OCF_SUCCESS
    state = world.state()
    assert state is not None and state["private_ip_id"] == pid
    world.now -= 3600  # the clock goes back an hour
    calls = len(world.api.calls)
    assert world.run("monitor", **env) == ocf.OCF_SUCCESS
    assert len(world.api.calls) > calls, "the check was skipped"
    calls = len(world.api.calls)
    assert world.run("monitor", **env) == ocf.OCF_SUCCESS
    assert len(world.api.calls) == calls  # fresh again: cached


def test_monitor_api_with_a_corrupt_checked_at_checks(world: World) -> None:  # noqa: F811
    import json
    import os

    world.api.add_private_ip(VIP, world.vnic1, world.subnet)
    assert world.run("start") == ocf.OCF_SUCCESS
    path = os.path.join(world.env["PCS_OCI_STATE_DIR"], "vip.json")
    with open(path) as f:
        data = json.load(f)
    data["checked_at"] = "yesterday"
    with open(path, "w") as f:
        json.dump(data, f)
    calls = len(world.api.calls)
    env = {"OCF_RESKEY_monitor_api": "true", "OCF_RESKEY_CRM_meta_interval": "10000"}
    assert world.run("monitor", **env) == ocf.OCF_SUCCESS
    assert len(world.api.calls) > calls
    assert handlers.HANDLERS["monitor"] is handlers.monitor
