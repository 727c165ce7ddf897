"""fence_oci: STONITH for OCI compute instances, written on fence-agents' fencing library.

fence-agents' own library (fencing.py in /usr/share/fence, shipped by
fence-agents-common on EL and fence-agents on Debian) does what every fence
agent does: the declarative options, the command line and the stdin
key=value protocol Pacemaker uses, the meta-data, validate-all, `delay`,
the list/status/on/off/reboot/monitor actions and the wait for the target
power state within power_timeout. This module adds only what is OCI's, the
way fence_aws does for EC2: the options (define_new_opts) and the power
functions fence_action() calls, through pcs_oci.lib.oci (the same settings,
auth, timeouts, bounded retries and error mapping as the VIP agent).

- status: the instance's lifecycle state. RUNNING is on; STOPPED (and a
  terminated instance) is off; anything in between is "on" until it is off
  (so `off` waits for STOPPED), and "off" until it is RUNNING while powering
  on (so `on` waits for RUNNING).
- off: a hard STOP, never SOFTSTOP (fencing must not wait for the OS);
  on: START; reboot: off then on (method=onoff) or one RESET (method=cycle).
- Before powering off or resetting another instance the agent checks that
  its own instance is RUNNING: in a fence race, the node that is already
  being stopped must not shoot its peer as well (fence_aws does the same).
- A plug is an instance OCID or a display name in the compartment
  (`compartment`, default this instance's own, from IMDS).

Every OCI failure ends the action with exit status 1 and one line on stderr
(Pacemaker logs it) saying what failed, the OCI code, HTTP status and
opc-request-id, and the fix (the IAM policy when the API said no).
"""

import atexit
import logging
import sys
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Tuple

from pcs_oci.common.agent_params import FENCE_OPTION_NAMES, FENCE_OPTIONS
from pcs_oci.lib.errors import PcsOciError

FENCING_DIR = "/usr/share/fence"
AGENT = "fence_oci"

RUNNING = "RUNNING"
STOPPED = "STOPPED"
STOPPING = "STOPPING"
STARTING = "STARTING"
# A terminated instance runs nothing: for fencing it is off.
GONE_STATES = ("TERMINATING", "TERMINATED")
OFF_STATES = (STOPPED,) + GONE_STATES
INSTANCE_OCID_PREFIX = "ocid1.instance."

# STOP and START of an OCI instance take tens of seconds.
DEFAULT_POWER_TIMEOUT = "120"
# Our own waits when power_timeout is 0 (as Pacemaker runs agents): Pacemaker's
# timeout ends the agent first.
UNBOUNDED_WAIT_SECONDS = 600.0
EC_GENERIC_ERROR = 1

# fencing.py's options we use, then our own (FENCE_OPTIONS, see define_new_opts).
DEVICE_OPT = ["port", "no_password", "method"] + FENCE_OPTION_NAMES

log = logging.getLogger(AGENT)


def load_fencing() -> Any:
    """fence-agents' fencing module (exits with a clear message when it is missing)."""
    if FENCING_DIR not in sys.path:
        sys.path.append(FENCING_DIR)
    try:
        import fencing
    except ImportError as e:
        sys.stderr.write(
            "{}: fence-agents' library {}/fencing.py cannot be imported ({}); install "
            "fence-agents-common\n".format(AGENT, FENCING_DIR, e)
        )
        sys.exit(EC_GENERIC_ERROR)
    return fencing


def _help(option: str, text: str) -> str:
    # fencing.py's layout: the option in 31 columns, then the description.
    return "{:<31}{}".format(option, text)


def define_new_opts(all_opt: Dict[str, Dict[str, Any]]) -> None:
    """The OCI options, in fencing.py's all_opt format (as fence_aws does)."""
    # Order 1 is fencing.py's own (action, plug ...); ours follow in list order.
    for order, option in enumerate(FENCE_OPTIONS, 2):
        longopt = option.name.replace("_", "-")
        entry: Dict[str, Any] = {
            "getopt": ":",
            "longopt": longopt,
            "help": _help("--{}=[{}]".format(longopt, option.metavar), option.shortdesc),
            "shortdesc": option.shortdesc,
            "required": "0",
            "order": order,
        }
        if option.default:
            entry["default"] = option.default
        if option.choices:
            entry["choices"] = list(option.choices)
        if option.type:
            entry["type"] = option.type
        all_opt[option.name] = entry


def _xml(text: str) -> str:
    # fencing.py prints the longdesc as it is, inside <longdesc>.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


LONGDESC = """\
fence_oci is an I/O fencing agent for Oracle Cloud Infrastructure (OCI)
compute instances. It powers instances off and on through the OCI Compute
API. status is the instance's lifecycle state: RUNNING is on, STOPPED is
off, a state in between counts as on until the instance is STOPPED (and as
off until it is RUNNING when powering on). off is a hard STOP, never a
SOFTSTOP: fencing must not wait for the operating system. on is START.
reboot is off then on (method=onoff, the default) or one RESET
(method=cycle). Each action waits for the target state within
power_timeout (when Pacemaker runs the agent, within Pacemaker's timeout).

A plug is an instance OCID or the display name of an instance in the
compartment. Map the cluster's node names to plugs with pcmk_host_map:

    pcmk_host_map=node1:ocid1.instance.oc1..aaa;node2:ocid1.instance.oc1..bbb

list shows the instances of the compartment (default: this instance's own
compartment, from the instance metadata service).

Before it powers off or resets another instance, the agent checks that its
own instance is RUNNING, so that a node which is itself being stopped in a
fence race does not shoot its peer as well. In a two-node cluster, also give
one node's device a delay (pcmk_delay_base) so that one side always wins.

auth=instance_principal (the default) signs requests as the instance
itself: put the cluster's instances in a dynamic group and allow it

    allow dynamic-group <group> to use instances in compartment <compartment>

(or manage instance-family). auth=api_key uses the user, key and region of
oci_config_file and oci_profile; that user's group needs the same policy.
Every API request has a timeout (api_timeout) and throttling (429), server
errors (5xx) and timeouts are retried a bounded number of times. A failed
action exits 1 with the reason on stderr: the OCI error code, HTTP status
and opc-request-id, and the policy to add when the API refused.

pcs-oci configure --fencing creates one device per node from the pcs-oci
configuration file."""

DOCS = {
    "shortdesc": "Fence agent for OCI (Oracle Cloud Infrastructure) compute instances",
    "longdesc": _xml(LONGDESC),
    "vendorurl": "https://www.oracle.com/cloud/",
}


# ---------------------------------------------------------------- failures


def fail(what: str, error: PcsOciError) -> NoReturn:
    """Log why (to stderr and syslog, through fencing.py's handlers) and exit 1."""
    for report in error.reports:
        log.error("Failed: %s: %s", what, report.render())
    sys.exit(EC_GENERIC_ERROR)


def fail_text(message: str) -> NoReturn:
    log.error("Failed: %s", message)
    sys.exit(EC_GENERIC_ERROR)


@contextmanager
def failing(what: str) -> Iterator[None]:
    """A PcsOciError inside ends the agent with `what` and the error's reason."""
    try:
        yield
    except PcsOciError as e:
        fail(what, e)


class PowerOnFailed(Exception):
    """Powering on after the off of a reboot failed: the node is fenced all the same.

    A plain exception, so that fencing.py's reboot logs it as a warning and
    reports success (the instance is off), instead of the exit of fail().
    """


# ---------------------------------------------------------------- the connection


class OciConnection:
    """What fence_action() passes to the power functions: the API and this instance.

    The SDK is imported and the API authenticated on first use, so
    metadata and validate-all never pay for it.
    """

    def __init__(self, options: Dict[str, Any]):
        self.options = options
        # fence_action() switches --action to "off" then "on" inside a reboot.
        self.original_action = str(options.get("--action") or "")
        self._api: Any = None
        self._local: Optional[Dict[str, Any]] = None
        self._ids: Dict[str, str] = {}

    @property
    def api(self) -> Any:
        if self._api is None:
            from pcs_oci.lib.oci.api import OciApi
            from pcs_oci.lib.oci.settings import OciSettings

            self._api = OciApi(
                OciSettings.from_fence_options(self.options),
                compartment=self.options.get("--compartment") or "",
            )
        return self._api

    def local_instance(self) -> Dict[str, Any]:
        """This node's instance document from the instance metadata service."""
        if self._local is None:
            from pcs_oci.lib.imds import Imds

            self._local = Imds().instance()
        return self._local

    @contextmanager
    def failing(self, what: str) -> Iterator[None]:
        """failing(), except in a reboot's power-on, where the off already fenced the node."""
        try:
            yield
        except PcsOciError as e:
            if self.original_action == "reboot" and self.options.get("--action") == "on":
                reasons = "; ".join(r.render() for r in e.reports)
                raise PowerOnFailed("{}: {}".format(what, reasons)) from None
            fail(what, e)

    def compartment(self) -> str:
        given = self.options.get("--compartment")
        if given:
            return str(given)
        with failing("cannot find the compartment (give compartment=OCID)"):
            found = str(self.local_instance().get("compartmentId") or "")
        if not found:
            fail_text("the instance metadata has no compartmentId: give compartment=OCID")
        return found

    def instances(self) -> List[Dict[str, Any]]:
        compartment = self.compartment()
        with failing("cannot list the instances of compartment {}".format(compartment)):
            return [
                i
                for i in self.api.list_instances(compartment)
                if i.get("lifecycle_state") not in GONE_STATES
            ]

    def instance_id(self, plug: str) -> str:
        """The OCID of a plug: an instance OCID, or a display name in the compartment."""
        if plug.startswith(INSTANCE_OCID_PREFIX):
            return plug
        if plug not in self._ids:
            found = [i for i in self.instances() if i.get("display_name") == plug]
            if not found:
                fail_text(
                    "no instance named {!r} in compartment {} (plugs are instance OCIDs or "
                    "display names; `{} -o list` lists them)".format(
                        plug, self.compartment(), AGENT
                    )
                )
            if len(found) > 1:
                fail_text(
                    "{} instances are named {!r}: use the instance OCID as the plug ({})".format(
                        len(found), plug, ", ".join(str(i.get("id")) for i in found)
                    )
                )
            self._ids[plug] = str(found[0]["id"])
        return self._ids[plug]

    def state(self, instance_id: str) -> str:
        with self.failing("cannot read the state of instance {}".format(instance_id)):
            return str(self.api.get_instance(instance_id).get("lifecycle_state") or "")

    def action(self, instance_id: str, action: str) -> str:
        """Run a power action; the state OCI answers with."""
        with self.failing("{} of instance {}".format(action, instance_id)):
            instance = self.api.instance_action(instance_id, action)
        state = str(instance.get("lifecycle_state") or "")
        log.info("%s of instance %s accepted (now %s)", action, instance_id, state or "?")
        return state

    def check_self(self, target: str) -> None:
        """Refuse to shoot another instance unless our own instance is RUNNING."""
        with failing("cannot identify this node's own instance (needed before fencing)"):
            mine = str(self.local_instance().get("id") or "")
        if not mine:
            fail_text("the instance metadata has no instance id (needed before fencing)")
        if mine == target:
            return
        state = self.state(mine)
        if state != RUNNING:
            fail_text(
                "this node's own instance {} is {}, not RUNNING: not fencing {} (a node that is "
                "being stopped must not shoot its peer as well)".format(mine, state, target)
            )

    def wait_seconds(self) -> float:
        return float(int(self.options.get("--power-timeout") or 0)) or UNBOUNDED_WAIT_SECONDS

    def sleep(self) -> None:
        time.sleep(max(0.1, float(self.options.get("--stonith-status-sleep") or 1)))


def power_of(state: str, action: str) -> str:
    """fencing.py's "on"/"off" for a lifecycle state, seen from the action under way."""
    if state in OFF_STATES:
        return "off"
    if action == "on" and state != RUNNING:
        return "off"  # not on yet
    return "on"


# ---------------------------------------------------------------- fence_action's functions


def get_power_status(conn: OciConnection, options: Dict[str, Any]) -> str:
    instance_id = conn.instance_id(options["--plug"])
    state = conn.state(instance_id)
    power = power_of(state, options["--action"])
    log.debug("instance %s is %s: %s", instance_id, state, power)
    return power


def set_power_status(conn: OciConnection, options: Dict[str, Any]) -> None:
    instance_id = conn.instance_id(options["--plug"])
    if options["--action"] == "off":
        conn.check_self(instance_id)
        state = conn.state(instance_id)
        if state in OFF_STATES or state == STOPPING:
            log.info("instance %s is already %s", instance_id, state)
            return
        conn.action(instance_id, "STOP")
    elif options["--action"] == "on":
        state = conn.state(instance_id)
        deadline = time.monotonic() + conn.wait_seconds()
        while state == STOPPING and time.monotonic() < deadline:
            conn.sleep()  # START is refused until the instance is STOPPED
            state = conn.state(instance_id)
        if state in (RUNNING, STARTING):
            log.info("instance %s is already %s", instance_id, state)
            return
        conn.action(instance_id, "START")


def reboot_cycle(conn: OciConnection, options: Dict[str, Any]) -> bool:
    """method=cycle: one RESET; done when the instance was seen going down and RUNNING again."""
    instance_id = conn.instance_id(options["--plug"])
    conn.check_self(instance_id)
    state = conn.action(instance_id, "RESET")
    went_down = state != RUNNING
    deadline = time.monotonic() + conn.wait_seconds()
    while time.monotonic() < deadline:
        conn.sleep()
        state = conn.state(instance_id)
        if state != RUNNING:
            went_down = True
        elif went_down:
            return True
    log.error("instance %s did not come back RUNNING after RESET (%s)", instance_id, state)
    return False


def get_nodes_list(conn: OciConnection, options: Dict[str, Any]) -> Dict[str, Tuple[str, Any]]:
    """list / list-status / monitor: the compartment's instances, OCID -> (name, power)."""
    result: Dict[str, Tuple[str, Any]] = {}
    for instance in conn.instances():
        state = instance.get("lifecycle_state")
        power = "on" if state == RUNNING else "off" if state == STOPPED else None
        result[str(instance["id"])] = (str(instance.get("display_name") or ""), power)
    return result


# ---------------------------------------------------------------- main


def main() -> int:
    fencing = load_fencing()
    atexit.register(fencing.atexit_handler)
    all_opt = fencing.all_opt
    define_new_opts(all_opt)
    all_opt["port"]["help"] = _help("-n, --plug=[id]", "Instance OCID or display name")
    all_opt["port"]["shortdesc"] = "Instance OCID or display name of the instance to fence"
    all_opt["power_timeout"]["default"] = DEFAULT_POWER_TIMEOUT

    device_opt = list(DEVICE_OPT)
    options = fencing.check_input(device_opt, fencing.process_input(device_opt))
    fencing.show_docs(options, dict(DOCS))
    # The SDK logs at DEBUG with -v; its request dumps are not ours to show.
    logging.getLogger("oci").setLevel(logging.WARNING)
    fencing.run_delay(options)
    conn = OciConnection(options)
    result = fencing.fence_action(
        conn, options, set_power_status, get_power_status, get_nodes_list, reboot_cycle
    )
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover - agents/fence_oci is the entry point
    sys.exit(main())
