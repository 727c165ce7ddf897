"""The failures of a VIP move (pcs_oci.lib.vip), worded once.

The OCI error code and opc-request-id come first where there is one:
Pacemaker keeps 128 characters of an agent's exit reason.
"""

from typing import Optional

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError, ConfigError
from pcs_oci.lib.imds import IPAddress


def primary_error(address: IPAddress, vnic_id: Optional[str]) -> ConfigError:
    return ConfigError(
        reports.item(
            reports.VIP_IS_PRIMARY_IP,
            "VIP {} is the primary private IP of VNIC {}".format(address, vnic_id or "?"),
            "the VIP must be a secondary private IP; a primary IP cannot move",
        )
    )


def not_landed(
    address: IPAddress,
    private_ip_id: str,
    vnic_id: str,
    shows: Optional[str],
    timeout: Optional[CloudError],
) -> CloudError:
    return CloudError(
        reports.item(
            reports.VIP_MOVE_NOT_CONFIRMED,
            "VIP {} ({}): OCI accepted the move to VNIC {} but it had not landed within the"
            " op's time ({}){}".format(
                address,
                private_ip_id,
                vnic_id,
                "it still shows VNIC {}".format(shows) if shows else "it still shows no VNIC",
                "; " + timeout.reports[0].message if timeout is not None else "",
            ),
            "OCI is slow to apply the move; the next start (or monitor) looks again and"
            " does not move it twice",
        ),
        transient=True,
        status=timeout.status if timeout is not None else 0,
        oci_code=timeout.oci_code if timeout is not None else "",
        request_id=timeout.request_id if timeout is not None else "",
    )


def not_confirmed(
    address: IPAddress, private_ip_id: Optional[str], holder: Optional[str], vnic_id: str
) -> CloudError:
    """The address is somewhere else than where we just put it (private_ip_id
    None: it is gone)."""
    return CloudError(
        reports.item(
            reports.VIP_MOVE_NOT_CONFIRMED,
            "VIP {} ({}) is on VNIC {} right after moving it to VNIC {}".format(
                address,
                private_ip_id or "gone",
                holder or "none",
                vnic_id,
            ),
            "another node took it back; check the cluster for a split brain",
        ),
        transient=True,
    )
