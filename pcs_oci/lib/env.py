"""What library commands need from the outside world, created on first use.

The CLI builds one Env per invocation; tests build one with fakes in place of
the runner, the metadata client or the OCI API.
"""

from typing import Any, Callable, Optional

from pcs_oci.lib import config as config_lib
from pcs_oci.lib.oci.settings import OciSettings


class Env:
    def __init__(
        self,
        config_path: Optional[str] = None,
        runner: Any = None,
        imds: Any = None,
        oci_api_factory: Optional[Callable[..., Any]] = None,
    ):
        self.config_path = config_lib.resolve_path(config_path)
        self._runner = runner
        self._imds = imds
        self._oci_api_factory = oci_api_factory

    def load_config(self) -> config_lib.Config:
        return config_lib.load(self.config_path)

    @property
    def runner(self) -> Any:
        if self._runner is None:
            from pcs_oci.lib.runner import CommandRunner

            self._runner = CommandRunner()
        return self._runner

    @property
    def imds(self) -> Any:
        if self._imds is None:
            from pcs_oci.lib.imds import Imds

            self._imds = Imds()
        return self._imds

    def oci_api(self, settings: OciSettings) -> Any:
        """An OciApi with these settings (the config's `oci`); the SDK loads on its first call."""
        if self._oci_api_factory is not None:
            return self._oci_api_factory(settings)
        from pcs_oci.lib.oci.api import OciApi

        return OciApi(settings)
