"""fence_oci's own logic that needs neither fencing.py nor the API."""

from typing import Any, Dict

import pytest

from pcs_oci.common.agent_params import FENCE_OPTION_NAMES
from pcs_oci.fence import fence_oci


@pytest.mark.parametrize(
    "state, action, power",
    [
        ("RUNNING", "status", "on"),
        ("STOPPED", "status", "off"),
        ("TERMINATED", "status", "off"),
        ("TERMINATING", "off", "off"),
        # off waits until STOPPED: everything in between is still on.
        ("STOPPING", "off", "on"),
        ("STARTING", "off", "on"),
        ("PROVISIONING", "off", "on"),
        ("STOPPING", "status", "on"),
        # on waits until RUNNING: everything in between is not on yet.
        ("STARTING", "on", "off"),
        ("STOPPING", "on", "off"),
        ("RUNNING", "on", "on"),
        ("STARTING", "reboot", "on"),
    ],
)
def test_power_of_a_lifecycle_state(state: str, action: str, power: str) -> None:
    assert fence_oci.power_of(state, action) == power


def test_options_follow_fencing_py_conventions() -> None:
    all_opt: Dict[str, Dict[str, Any]] = {}
    fence_oci.define_new_opts(all_opt)
    assert list(all_opt) == FENCE_OPTION_NAMES
    for key, opt in all_opt.items():
        # The metadata's parameter name is the long option with '_'.
        assert opt["longopt"].replace("-", "_") == key
        # Long options only: no short letter can clash with fencing.py's.
        assert opt["getopt"] == ":"
        # fencing.py cuts the help at the first run of blanks after --option.
        assert opt["help"].startswith("--{}=[".format(opt["longopt"]))
        assert opt["help"][31:].strip() == opt["shortdesc"]
        # fencing.py prints shortdescs into the XML as they are.
        assert not set(opt["shortdesc"]) & set('<>&"')
    assert all_opt["auth"]["choices"] == ["instance_principal", "api_key"]


def test_longdesc_is_xml_safe_and_keeps_the_policy_readable() -> None:
    text = fence_oci.DOCS["longdesc"]
    assert "<" not in text and ">" not in text
    assert "&lt;group&gt; to use instances in compartment &lt;compartment&gt;" in text
    # fencing.py strips troff's .P from meta-data: the text must not contain one.
    assert ".P" not in text and ".TP" not in text
