"""Exit statuses of the pcs-oci command, defined once and listed in pcs-oci(8)."""

OK = 0
# The configuration (or the input it names) is invalid.
CONFIG_INVALID = 1
# Command-line usage error (argparse uses 2 as well).
USAGE = 2
# A precondition on this node or the cluster is not met (verify found a FAIL,
# the cluster is not running, the agent is not installed ...).
PRECONDITION = 3
# The OCI API or the instance metadata service failed.
CLOUD = 4
# A cluster command (pcs, crm_*) failed.
CLUSTER = 5
# Interrupted by the user (SIGINT), or terminated (SIGTERM): 128 + the signal.
INTERRUPTED = 130
TERMINATED = 143
# A bug in pcs-oci (EX_SOFTWARE); printed without a traceback unless --debug.
INTERNAL = 70
