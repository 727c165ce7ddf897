"""Dispatch of ocf:oci:IPaddr2 actions; every failure leaves an exit reason."""

import os
import sys
from typing import List, Mapping, Optional

from pcs_oci.agent import ipaddr2, ocf
from pcs_oci.agent.handlers import HANDLERS, Context
from pcs_oci.agent.params import AgentError


def usage() -> str:
    return "usage: {} {{{}}}\n".format(
        "IPaddr2", "|".join(sorted(list(HANDLERS) + ["meta-data", "usage", "methods"]))
    )


def main(argv: Optional[List[str]] = None, environ: Optional[Mapping[str, str]] = None) -> int:
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    action = argv[1] if len(argv) > 1 else environ.get("__OCF_ACTION", "")
    if action in ("meta-data", "methods"):
        from pcs_oci.agent import metadata  # xml.etree: only meta-data needs it

        try:
            sys.stdout.write(metadata.build(ipaddr2.path(environ)))
        except (OSError, RuntimeError) as e:
            sys.stderr.write("ocf-exit-reason:heartbeat IPaddr2 is needed: {}\n".format(e))
            return ocf.OCF_ERR_INSTALLED
        return ocf.OCF_SUCCESS
    if action in ("usage", "help", "-h", "--help"):
        sys.stdout.write(usage())
        return ocf.OCF_SUCCESS
    plumbing = ocf.Plumbing()
    handler = HANDLERS.get(action)
    if handler is None:
        plumbing.exit_reason("action {!r} is not implemented".format(action[:40]))
        sys.stderr.write(usage())
        return ocf.OCF_ERR_UNIMPLEMENTED
    if not os.access(ipaddr2.path(environ), os.X_OK):
        plumbing.exit_reason("{} is missing: install resource-agents".format(ipaddr2.path(environ)))
        return ocf.OCF_ERR_INSTALLED
    ctx = Context(action, environ, plumbing)
    try:
        return handler(ctx)
    except AgentError as e:
        plumbing.exit_reason(e.reason)
        return e.rc
    except Exception as e:  # noqa: BLE001 - Pacemaker must get an exit reason, not a traceback
        plumbing.exit_reason("internal error in {}: {}: {}".format(action, type(e).__name__, e))
        plumbing.logger.exception("internal error")
        return ocf.OCF_ERR_GENERIC
