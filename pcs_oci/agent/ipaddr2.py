"""Running the installed ocf:heartbeat:IPaddr2 for the OS half of the VIP."""

import os
import subprocess
from typing import Dict, Mapping, Optional

from pcs_oci.agent import ocf


def path(environ: Optional[Mapping[str, str]] = None) -> str:
    return os.path.join(ocf.ocf_root(environ), "resource.d", "heartbeat", "IPaddr2")


def environment(environ: Mapping[str, str]) -> Dict[str, str]:
    env = dict(environ)
    env.setdefault("OCF_ROOT", ocf.ocf_root(environ))
    env.setdefault("OCF_FUNCTIONS_DIR", os.path.join(env["OCF_ROOT"], "lib", "heartbeat"))
    return env


def run(action: str, environ: Mapping[str, str]) -> int:
    """Run IPaddr2 `action` with our OCF environment; its output and exit
    reason go straight to our stdout/stderr, where Pacemaker reads them."""
    env = environment(environ)
    env["__OCF_ACTION"] = action
    proc = subprocess.run([path(environ), action], env=env, check=False)
    return proc.returncode
