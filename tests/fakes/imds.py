"""Fake Instance Metadata Service, v2 only (legacy endpoints disabled).

Multi-node mode serves /<node>/opc/v2/...; single-node mode (standalone --node,
inside a node's network namespace) serves /opc/v2/... like the real thing.
"""

from typing import Any, Dict, List, Optional, Tuple

from tests.fakes.control import FakeCloud
from tests.fakes.transport import Request, Response
from tests.fakes.world import TIME_CREATED_MS, subnet_ipv6_prefixes

Route = Tuple[str, Any]
_FORWARDED = ("forwarded", "x-forwarded-for", "x-forwarded-host")


def route(cloud: FakeCloud, req: Request, fixed_node: Optional[str]) -> Optional[Route]:
    path = req.path
    if fixed_node is None:
        head, _, rest = path.lstrip("/").partition("/")
        if head not in cloud.world["nodes"]:
            return None
        req.node, path = head, "/" + rest
    else:
        req.node = fixed_node
    if path.startswith("/opc/v1") or path.startswith("/openstack"):
        return "Imds:legacy", lambda r: Response.text(404, "Not Found\n")
    if not path.startswith("/opc/v2/") and path != "/opc/v2":
        return None
    sub = path[len("/opc/v2") :].strip("/").split("/")
    section = sub[0] if sub and sub[0] else ""
    op = {"instance": "Imds:instance", "vnics": "Imds:vnics", "identity": "Imds:identity"}.get(
        section, "Imds:other"
    )
    return op, lambda r: _serve(cloud, r, section, [s for s in sub[1:] if s])


def _serve(cloud: FakeCloud, req: Request, section: str, rest: List[str]) -> Response:
    if any(h in req.headers for h in _FORWARDED):
        return Response.text(403, "Forbidden: forwarded requests are not allowed\n")
    if req.headers.get("authorization") != "Bearer Oracle":
        return Response.text(401, "Unauthorized: missing 'Authorization: Bearer Oracle'\n")
    if req.method != "GET":
        return Response.text(405, "Method Not Allowed\n")
    node = cloud.world["nodes"][req.node]
    if section == "instance":
        return _lookup(instance_document(cloud, req.node or ""), rest)
    if section == "vnics":
        return _lookup(vnics_document(cloud, req.node or ""), rest)
    if section == "identity" and len(rest) == 1:
        pem = {
            "cert.pem": node["leaf_cert"],
            "key.pem": node["leaf_key"],
            "intermediate.pem": cloud.world["pki"]["intermediate_cert"],
        }.get(rest[0])
        if pem is not None:
            return Response.text(200, pem, "application/x-pem-file")
    return Response.text(404, "Not Found\n")


def _lookup(doc: Any, keys: List[str]) -> Response:
    """/instance/<a>/<b> walks the JSON; scalars come back as plain text like the real IMDS."""
    for key in keys:
        if isinstance(doc, dict) and key in doc:
            doc = doc[key]
        elif isinstance(doc, list) and key.isdigit() and int(key) < len(doc):
            doc = doc[int(key)]
        else:
            return Response.text(404, "Not Found\n")
    if isinstance(doc, (dict, list)):
        return Response.json(200, doc)
    if isinstance(doc, bool):
        return Response.text(200, "true" if doc else "false")
    return Response.text(200, "" if doc is None else str(doc))


def instance_document(cloud: FakeCloud, node_name: str) -> Dict[str, Any]:
    world = cloud.world
    node = world["nodes"][node_name]
    inst = cloud.compute.get_instance(node["instance_id"])[0]
    ad_number = inst["availabilityDomain"].rsplit("-", 1)[-1]
    return {
        "agentConfig": {
            "allPluginsDisabled": False,
            "managementDisabled": False,
            "monitoringDisabled": False,
            "pluginsConfig": [],
        },
        "availabilityDomain": inst["availabilityDomain"],
        "canonicalRegionName": world["region"],
        "compartmentId": inst["compartmentId"],
        "definedTags": inst["definedTags"],
        "displayName": inst["displayName"],
        "faultDomain": inst["faultDomain"],
        "freeformTags": inst["freeformTags"],
        "hostname": node["hostname"],
        "id": inst["id"],
        "image": inst["imageId"],
        "metadata": inst["metadata"],
        "ociAdName": "{}-ad-{}".format(world["region_key"], ad_number),
        "region": world["region_key"],
        "regionInfo": dict(world["region_info"]),
        "shape": inst["shape"],
        "shapeConfig": inst["shapeConfig"],
        "state": inst["lifecycleState"].title(),
        "tenantId": world["tenancy_id"],
        "timeCreated": TIME_CREATED_MS,
    }


def vnics_document(cloud: FakeCloud, node_name: str) -> List[Dict[str, Any]]:
    """One entry per attached VNIC, primary first (cloud-init relies on index 0)."""
    node = cloud.world["nodes"][node_name]
    out = []
    with cloud.store.lock:
        attachments = {a["vnicId"]: a for a in cloud.store.res["vnic_attachments"].values()}
        for vnic_id in node["vnic_ids"]:
            vnic = cloud.net.vnic_view(cloud.store.res["vnics"][vnic_id])
            subnet = cloud.store.res["subnets"][vnic["subnetId"]]
            att = attachments.get(vnic_id, {})
            entry: Dict[str, Any] = {
                "vnicId": vnic_id,
                "privateIp": vnic["privateIp"],
                "vlanTag": att.get("vlanTag", 0),
                "macAddr": vnic["macAddress"],
                "virtualRouterIp": subnet["virtualRouterIp"],
                "subnetCidrBlock": subnet["cidrBlock"],
                "nicIndex": att.get("nicIndex", 0),
            }
            prefixes = subnet_ipv6_prefixes(subnet)
            if prefixes:
                # Captured answers carry one prefix as a string (see fidelity.py).
                shape = cloud.behaviour.imds_ipv6_cidr
                entry.update(
                    ipv6Addresses=vnic["ipv6Addresses"],
                    ipv6SubnetCidrBlock=prefixes if shape == "list" else prefixes[0],
                    ipv6VirtualRouterIp=subnet["ipv6VirtualRouterIp"],
                )
            out.append(entry)
    return out
