"""The one way pcs-oci runs external commands.

List arguments only (never a shell), a fixed environment with LC_ALL=C so
output parses the same everywhere, a timeout, stdout and stderr kept for the
error message. Modelled on pcs's CommandRunner.
"""

import logging
import os
import subprocess
from typing import Dict, List, NamedTuple, Optional, Sequence

from pcs_oci.common import reports
from pcs_oci.lib.errors import ClusterError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
# Passed through from our own environment: where the tools are, and the OCI
# overrides the agent and tests rely on.
PASS_THROUGH = (
    "PATH",
    "OCF_ROOT",
    "CIB_file",
    "OCI_METADATA_BASE_URL",
    "PCS_OCI_FEDERATION_ENDPOINT",
)


class Result(NamedTuple):
    args: List[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandRunner:
    def __init__(self, env_extend: Optional[Dict[str, str]] = None):
        env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
        env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env["LC_ALL"] = "C"
        env.update(env_extend or {})
        self._env = env

    def run(
        self,
        args: Sequence[str],
        stdin: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT,
        env_extend: Optional[Dict[str, str]] = None,
    ) -> Result:
        argv = [str(a) for a in args]
        env = dict(self._env, **(env_extend or {}))
        log.debug("running %s", argv)
        try:
            proc = subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                env=env,
                timeout=timeout,
                close_fds=True,
                text=True,
                errors="replace",
            )
        except FileNotFoundError:
            raise ClusterError(
                reports.item(
                    reports.COMMAND_NOT_FOUND,
                    "{} is not installed".format(argv[0]),
                    "install the package that provides it",
                )
            ) from None
        except subprocess.TimeoutExpired:
            raise ClusterError(
                reports.item(
                    reports.COMMAND_TIMEOUT,
                    "`{}` did not finish within {:.0f} s".format(" ".join(argv), timeout),
                    "check that the cluster is responsive (pcs status)",
                )
            ) from None
        except OSError as e:
            raise ClusterError(
                reports.item(
                    reports.COMMAND_FAILED, "cannot run {}: {}".format(argv[0], e.strerror or e)
                )
            ) from None
        log.debug("%s exited %d", argv[0], proc.returncode)
        return Result(argv, proc.returncode, proc.stdout, proc.stderr)

    def check(self, args: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> Result:
        """Run and raise COMMAND_FAILED with the first stderr line on a non-zero exit."""
        result = self.run(args, timeout=timeout)
        if not result.ok:
            raise ClusterError(
                reports.item(
                    reports.COMMAND_FAILED,
                    "`{}` failed (exit {}): {}".format(
                        " ".join(result.args),
                        result.returncode,
                        reports.first_line(result.stderr) or reports.first_line(result.stdout),
                    ),
                )
            )
        return result
