"""moves: which pcs command keeps a constraint with a lifetime, which constraints still pin."""

from typing import Optional

import pytest

from pcs_oci.lib import moves
from tests.tools.fake_runner import Call, FakeRunner

CONSTRAINTS = ["/usr/sbin/cibadmin", "--query", "--scope", "constraints"]
NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


@pytest.mark.parametrize(
    "version, verb",
    [
        ((0, 10, 18), "move"),
        ((0, 11, 5), "move-with-constraint"),
        ((0, 12, 0), "move-with-constraint"),
        ((1, 0, 0), "move-with-constraint"),
    ],
)
def test_the_move_that_keeps_its_constraint_per_pcs_version(version: tuple, verb: str) -> None:
    assert moves.move_verb(version) == verb


def test_move_and_clear_commands() -> None:
    assert moves.move_argv("move-with-constraint", "vip", "node2", 90) == [
        "/usr/sbin/pcs",
        "resource",
        "move-with-constraint",
        "vip",
        "node2",
        "lifetime=PT90S",
    ]
    assert moves.clear_argv("vip") == ["/usr/sbin/pcs", "resource", "clear", "vip"]
    assert moves.clear_argv("vip", 60)[-1] == "--wait=60"


def prefer(rsc: str, end: Optional[str], node: str = "node2") -> str:
    lifetime = (
        '<date_expression id="cli-prefer-lifetime-end-{}" operation="lt" end="{}"/>'.format(
            rsc, end
        )
        if end is not None
        else ""
    )
    return (
        '<rsc_location id="cli-prefer-{0}" rsc="{0}" role="Started">'
        '<rule id="cli-prefer-rule-{0}" score="INFINITY" boolean-op="and">'
        '<expression id="cli-prefer-expr-{0}" attribute="#uname" operation="eq" value="{1}"/>'
        "{2}</rule></rsc_location>".format(rsc, node, lifetime)
    )


@pytest.mark.parametrize(
    "end, pins",
    [
        (None, True),  # no lifetime: pins until cleared
        ("2027-01-15 08:01:00Z", True),
        ("2027-01-15 07:59:59Z", False),
        ("2027-01-15 08:59:59 +01:00", False),  # 07:59:59 UTC
        ("2027-01-15 07:00:01 -01:00", True),  # 08:00:01 UTC
        ("2027-01-15T07:59:59+0000", False),
        ("2027-01-15 07:59:59", True),  # no zone: not known to be over
        ("next tuesday", True),
    ],
)
def test_a_constraint_pins_until_its_lifetime_is_over(end: Optional[str], pins: bool) -> None:
    xml = "<constraints>{}{}{}</constraints>".format(
        prefer("vip", end),
        '<rsc_location id="cli-ban-web-on-node1" rsc="web" node="node1" score="-INFINITY"/>',
        '<rsc_location id="location-vip" rsc="vip" node="node1" score="50"/>',
    )
    runner = FakeRunner([Call(CONSTRAINTS, xml)])
    found = moves.move_constraints(runner, now=NOW)
    assert found == dict(
        {"web": ["cli-ban-web-on-node1"]}, **({"vip": ["cli-prefer-vip"]} if pins else {})
    )


def test_last_operations_per_node() -> None:
    xml = (
        '<status><node_state uname="node1"><lrm><lrm_resources>'
        '<lrm_resource id="vip"><lrm_rsc_op id="vip_last_0" operation="stop" rc-code="0" '
        'exec-time="37" last-rc-change="1800000001"/>'
        '<lrm_rsc_op id="vip_monitor_10000" operation="monitor" rc-code="0" exec-time="5"/>'
        "</lrm_resource>"
        '<lrm_resource id="web"><lrm_rsc_op id="web_last_0" operation="start" rc-code="0"/>'
        "</lrm_resource></lrm_resources></lrm></node_state>"
        '<node_state uname="node2"><lrm><lrm_resources><lrm_resource id="vip">'
        '<lrm_rsc_op id="vip_last_0" operation="start" rc-code="1" exec-time="x"/>'
        "</lrm_resource></lrm_resources></lrm></node_state></status>"
    )
    runner = FakeRunner([Call(["/usr/sbin/cibadmin", "--query", "--scope", "status"], xml)])
    assert moves.last_operations(runner, "vip") == {
        "node1": moves.OpRecord("stop", 0, 37, 1800000001),
        "node2": moves.OpRecord("start", 1, None, None),
    }
