"""Resource-level denials: a principal may not use one VNIC, private IP or compartment.

OCI's API errors page: a resource named in the URI (path or query) that is not
found or not authorized answers 404 NotAuthorizedOrNotFound; one named in the
request body answers 400 RelatedResourceNotAuthorizedOrNotFound. A policy
that lacks `use vnics` for one compartment, or a VNIC OCID from another
tenancy, looks like this to pcs-oci.
"""

from typing import Any, Mapping, Optional

from tests.fakes.control import FakeCloud
from tests.fakes.errors import ApiError, not_found, related_not_found
from tests.fakes.store import Resource


def _denied(cloud: FakeCloud, principal: Optional[str], rec: Optional[Resource]) -> bool:
    return rec is not None and cloud.policy.resource_denied(
        principal, rec.get("id"), rec.get("compartmentId")
    )


def check_path(cloud: FakeCloud, principal: Optional[str], rec: Optional[Resource]) -> None:
    """404 for a denied resource named in the path."""
    if _denied(cloud, principal, rec):
        assert rec is not None
        raise not_found("{} {}".format(rec["id"].split(".")[1], rec["id"]))


def check_query_vnic(cloud: FakeCloud, principal: Optional[str], vnic_id: Optional[str]) -> None:
    """404 with the recorded text for a denied vnicId query parameter
    (oci-cli cassette secondary_ip_operations.yml L1889, an unknown VNIC)."""
    if not vnic_id:
        return
    with cloud.store.lock:
        vnic = cloud.store.res["vnics"].get(vnic_id)
    if _denied(cloud, principal, vnic):
        raise ApiError(
            404,
            "NotAuthorizedOrNotFound",
            "Either VNIC with ID {} does not exist or you are not authorized to access it.".format(
                vnic_id
            ),
        )


def check_body_vnic(cloud: FakeCloud, principal: Optional[str], body: Mapping[str, Any]) -> None:
    """400 RelatedResourceNotAuthorizedOrNotFound for a denied vnicId in the body
    (an unknown one gets the same answer from netops)."""
    vnic_id = body.get("vnicId")
    if not vnic_id:
        return
    with cloud.store.lock:
        vnic = cloud.store.res["vnics"].get(vnic_id)
    if _denied(cloud, principal, vnic):
        raise related_not_found("VNIC", str(vnic_id))


def check_body_private_ip(
    cloud: FakeCloud, principal: Optional[str], body: Mapping[str, Any]
) -> None:
    """400 RelatedResourceNotAuthorizedOrNotFound for a denied privateIpId in the
    body (GetPublicIpByPrivateIpId names the private IP there, not in the URI)."""
    private_ip_id = body.get("privateIpId")
    if not private_ip_id:
        return
    with cloud.store.lock:
        rec = cloud.store.res["private_ips"].get(private_ip_id)
    if _denied(cloud, principal, rec):
        raise related_not_found("private IP", str(private_ip_id))


def check_subnet(cloud: FakeCloud, principal: Optional[str], subnet_id: Optional[str]) -> None:
    if not subnet_id:
        return
    with cloud.store.lock:
        subnet = cloud.store.res["subnets"].get(subnet_id)
    check_path(cloud, principal, subnet)
