"""Report items: one finding each, with a stable code, a message, a fix and a severity.

Library code never prints. Errors stop a command: it raises them inside a
PcsOciError. Warnings and information let it go on: it hands them to
Env.report(). The CLI prints both in one place (pcs_oci.cli.output). Tests
assert on codes, not on wording.
"""

from typing import Literal, NamedTuple, Optional

Severity = Literal["error", "warning", "info"]
ERROR: Severity = "error"
WARNING: Severity = "warning"
INFO: Severity = "info"


class ReportItem(NamedTuple):
    code: str
    message: str
    # How to fix it: a command or a console step. Empty when obvious.
    hint: str = ""
    # Where: a JSON path in the config ("nodes[1].vnic_id"), a file, a node.
    where: str = ""
    severity: Severity = ERROR

    def render(self) -> str:
        text = "{}: {}".format(self.where, self.message) if self.where else self.message
        if self.hint:
            text = "{} ({})".format(text, self.hint)
        return text


# Stable report codes. Keep them sorted by area; never rename one that shipped.
# config
CONFIG_FILE_UNREADABLE = "CONFIG_FILE_UNREADABLE"
CONFIG_FILE_EXISTS = "CONFIG_FILE_EXISTS"
CONFIG_FILE_WRITE_FAILED = "CONFIG_FILE_WRITE_FAILED"
CONFIG_JSON_SYNTAX = "CONFIG_JSON_SYNTAX"
CONFIG_SCHEMA = "CONFIG_SCHEMA"
CONFIG_DUPLICATE = "CONFIG_DUPLICATE"
CONFIG_INVALID_VALUE = "CONFIG_INVALID_VALUE"
# usage
USAGE_INVALID_ARGUMENT = "USAGE_INVALID_ARGUMENT"
# instance metadata
IMDS_UNREACHABLE = "IMDS_UNREACHABLE"
IMDS_BAD_RESPONSE = "IMDS_BAD_RESPONSE"
VIP_NOT_IN_LOCAL_SUBNET = "VIP_NOT_IN_LOCAL_SUBNET"
NODE_NOT_IN_CONFIG = "NODE_NOT_IN_CONFIG"
# discovery of the other nodes through the OCI API
NODE_NOT_FOUND = "NODE_NOT_FOUND"
NODE_AMBIGUOUS = "NODE_AMBIGUOUS"
# configure --fencing: a node's instance (fence_oci's plug) is not in the config.
NODE_INSTANCE_UNKNOWN = "NODE_INSTANCE_UNKNOWN"
VNIC_NOT_FOUND = "VNIC_NOT_FOUND"
VNIC_AMBIGUOUS = "VNIC_AMBIGUOUS"
# OCI API
OCI_SDK_MISSING = "OCI_SDK_MISSING"
OCI_AUTH_FAILED = "OCI_AUTH_FAILED"
OCI_NOT_AUTHORIZED = "OCI_NOT_AUTHORIZED"
OCI_NOT_FOUND = "OCI_NOT_FOUND"
OCI_CONFLICT = "OCI_CONFLICT"
OCI_THROTTLED = "OCI_THROTTLED"
OCI_SERVICE_ERROR = "OCI_SERVICE_ERROR"
OCI_REQUEST_ERROR = "OCI_REQUEST_ERROR"
OCI_PRECONDITION_FAILED = "OCI_PRECONDITION_FAILED"
OCI_TIMEOUT = "OCI_TIMEOUT"
OCI_UNREACHABLE = "OCI_UNREACHABLE"
OCI_CLOCK_SKEW = "OCI_CLOCK_SKEW"
OCI_INVALID_CONFIG = "OCI_INVALID_CONFIG"
# A 200 answer without the resource it must carry (malformed JSON, no id).
OCI_BAD_RESPONSE = "OCI_BAD_RESPONSE"
VIP_IS_PRIMARY_IP = "VIP_IS_PRIMARY_IP"
VIP_MOVE_NOT_CONFIRMED = "VIP_MOVE_NOT_CONFIRMED"
VIP_AMBIGUOUS = "VIP_AMBIGUOUS"
# Another node moved the VIP while this one was moving it: this one lost.
VIP_MOVE_CONFLICT = "VIP_MOVE_CONFLICT"
# cluster
COMMAND_NOT_FOUND = "COMMAND_NOT_FOUND"
COMMAND_FAILED = "COMMAND_FAILED"
COMMAND_TIMEOUT = "COMMAND_TIMEOUT"
CLUSTER_NOT_RUNNING = "CLUSTER_NOT_RUNNING"
AGENT_NOT_INSTALLED = "AGENT_NOT_INSTALLED"
RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
RESOURCE_NOT_OURS = "RESOURCE_NOT_OURS"
CONFIGURE_STEP_FAILED = "CONFIGURE_STEP_FAILED"
# migrate: a VIP's resource cannot be converted in place (nothing was changed).
MIGRATE_REFUSED = "MIGRATE_REFUSED"
# migrate: Pacemaker would start or stop resources because of the change.
MIGRATE_WOULD_RESTART = "MIGRATE_WOULD_RESTART"
# migrate: the CIB changed under us more often than we retried.
CIB_CHANGED = "CIB_CHANGED"
# migrate: the re-probe with the new agent did not find what was expected.
MIGRATE_PROBE_FAILED = "MIGRATE_PROBE_FAILED"
# -f FILE: the command cannot work on a CIB file.
CIB_FILE_UNSUPPORTED = "CIB_FILE_UNSUPPORTED"
# status: where Pacemaker, this node's OS and OCI disagree about a VIP
VIP_ACTIVE_ON_SEVERAL_NODES = "VIP_ACTIVE_ON_SEVERAL_NODES"
VIP_ADDRESS_MISSING = "VIP_ADDRESS_MISSING"
VIP_ADDRESS_UNEXPECTED = "VIP_ADDRESS_UNEXPECTED"
VIP_NOT_IN_OCI = "VIP_NOT_IN_OCI"
VIP_OCI_ELSEWHERE = "VIP_OCI_ELSEWHERE"
VIP_OCI_MOVING = "VIP_OCI_MOVING"
# status --no-oci: OCI's view was not asked for
OCI_NOT_CHECKED = "OCI_NOT_CHECKED"
# drill: the cluster is not healthy enough to rehearse a failover; a failover
# did not complete; the drill was interrupted (its constraint cleaned up).
DRILL_NOT_SAFE = "DRILL_NOT_SAFE"
DRILL_FAILED = "DRILL_FAILED"
DRILL_INTERRUPTED = "DRILL_INTERRUPTED"


def item(code: str, message: str, hint: str = "", where: str = "") -> ReportItem:
    """An error: raise it in a PcsOciError."""
    return ReportItem(code, message, hint, where)


def warning(code: str, message: str, hint: str = "", where: str = "") -> ReportItem:
    """Something the user should fix that does not stop the command: Env.report() it."""
    return ReportItem(code, message, hint, where, WARNING)


def info(code: str, message: str, hint: str = "", where: str = "") -> ReportItem:
    """Worth knowing, nothing to fix: Env.report() it."""
    return ReportItem(code, message, hint, where, INFO)


def first_line(text: Optional[str]) -> str:
    """The first non-empty line of a (stderr) text, for one-line messages."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""
