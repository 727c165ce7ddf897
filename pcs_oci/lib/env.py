"""What library commands need from the outside world, created on first use,
and where they hand the warnings that do not stop them.

The CLI builds one Env per invocation and prints Env.reports when the command
ends; tests build one with fakes in place of the runner, the metadata client
or the OCI API. The clients are imported on first use: `pcs-oci --help` and
commands that need no cloud never import the SDK.
"""

import os
from typing import TYPE_CHECKING, Callable, List, Optional

from pcs_oci.common.reports import ReportItem
from pcs_oci.lib import config as config_lib
from pcs_oci.lib.oci.settings import OciSettings

if TYPE_CHECKING:
    from pcs_oci.lib.imds import Imds
    from pcs_oci.lib.oci.api import OciApi
    from pcs_oci.lib.runner import CommandRunner

OciApiFactory = Callable[[OciSettings], "OciApi"]


class Env:
    def __init__(
        self,
        config_path: Optional[str] = None,
        runner: Optional["CommandRunner"] = None,
        imds: Optional["Imds"] = None,
        oci_api_factory: Optional[OciApiFactory] = None,
        cib_file: Optional[str] = None,
    ):
        self.config_path = config_lib.resolve_path(config_path)
        # `pcs-oci -f FILE`: work on a CIB file offline, as `pcs -f` does.
        self.cib_file = os.path.abspath(cib_file) if cib_file else None
        self._runner = runner
        self._imds = imds
        self._oci_api_factory = oci_api_factory
        # Warnings and information, in the order the command reported them.
        self.reports: List[ReportItem] = []

    def report(self, item: ReportItem) -> None:
        """A finding that does not stop the command (errors are raised instead)."""
        self.reports.append(item)

    def load_config(self) -> config_lib.Config:
        return config_lib.load(self.config_path)

    @property
    def runner(self) -> "CommandRunner":
        if self._runner is None:
            from pcs_oci.lib.runner import CommandRunner

            extend = None
            if self.cib_file:
                from pcs_oci.lib import cib_file

                cib_file.check(self.cib_file)
                extend = {"CIB_file": self.cib_file}
            self._runner = CommandRunner(env_extend=extend)
        return self._runner

    @property
    def imds(self) -> "Imds":
        if self._imds is None:
            from pcs_oci.lib.imds import Imds

            self._imds = Imds()
        return self._imds

    def oci_api(self, settings: OciSettings) -> "OciApi":
        """An OciApi with these settings (the config's `oci`); the SDK loads on its first call."""
        if self._oci_api_factory is not None:
            return self._oci_api_factory(settings)
        from pcs_oci.lib.oci.api import OciApi

        return OciApi(settings)
