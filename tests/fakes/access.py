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


# The OCIDs a request body may name: the store's table and the error's wording.
# GetPublicIpByPrivateIpId names its private IP in the body, not in the URI.
_BODY_REFERENCES = {"vnicId": ("vnics", "VNIC"), "privateIpId": ("private_ips", "private IP")}


def check_body(
    cloud: FakeCloud, principal: Optional[str], body: Mapping[str, Any], key: str
) -> None:
    """400 RelatedResourceNotAuthorizedOrNotFound for a denied body[key]
    (an unknown one gets the same answer from netops)."""
    resource_id = body.get(key)
    if not resource_id:
        return
    table, what = _BODY_REFERENCES[key]
    with cloud.store.lock:
        rec = cloud.store.res[table].get(resource_id)
    if _denied(cloud, principal, rec):
        raise related_not_found(what, str(resource_id))


def check_subnet(cloud: FakeCloud, principal: Optional[str], subnet_id: Optional[str]) -> None:
    if not subnet_id:
        return
    with cloud.store.lock:
        subnet = cloud.store.res["subnets"].get(subnet_id)
    check_path(cloud, principal, subnet)
