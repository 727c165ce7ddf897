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


class Background:
    """IPaddr2 start, then IPaddr2 monitor to confirm it, in a thread: the
    address goes up on the node while the caller moves the VIP in OCI, not
    after it (the two do not depend on each other; start waits for both)."""

    def __init__(self, environ: Mapping[str, str]):
        import threading

        self._environ = dict(environ)
        self.start_rc: Optional[int] = None
        self.monitor_rc: Optional[int] = None
        self._thread = threading.Thread(target=self._run, name="ipaddr2-start", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.start_rc = run("start", self._environ)
            if self.start_rc == ocf.OCF_SUCCESS:
                self.monitor_rc = run("monitor", self._environ)
        except OSError:
            # main() checked that IPaddr2 is there; a failure to run it now
            # is a failed start all the same.
            if self.start_rc is None:
                self.start_rc = ocf.OCF_ERR_GENERIC

    def wait(self) -> "Background":
        self._thread.join()
        return self
