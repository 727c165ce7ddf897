"""The one exception type library code raises."""

from pcs_oci.common import exit_codes
from pcs_oci.common.reports import ReportItem


class PcsOciError(Exception):
    """One or more problems, each a ReportItem, and the exit status they mean."""

    def __init__(self, *reports: ReportItem, exit_code: int = exit_codes.CONFIG_INVALID):
        super().__init__("; ".join(r.render() for r in reports))
        self.reports = list(reports)
        self.exit_code = exit_code

    @property
    def codes(self) -> list:
        return [r.code for r in self.reports]


class ConfigError(PcsOciError):
    def __init__(self, *reports: ReportItem):
        super().__init__(*reports, exit_code=exit_codes.CONFIG_INVALID)


class CloudError(PcsOciError):
    """An OCI API or instance-metadata failure.

    `transient` tells the agent whether retrying later may help (throttling,
    5xx, network) as opposed to a definite answer (not authorized, primary IP).
    """

    def __init__(
        self,
        report: ReportItem,
        transient: bool = False,
        status: int = 0,
        oci_code: str = "",
        request_id: str = "",
    ):
        super().__init__(report, exit_code=exit_codes.CLOUD)
        self.transient = transient
        self.status = status
        self.oci_code = oci_code
        self.request_id = request_id


class ClusterError(PcsOciError):
    def __init__(self, *reports: ReportItem, exit_code: int = exit_codes.CLUSTER):
        super().__init__(*reports, exit_code=exit_code)
