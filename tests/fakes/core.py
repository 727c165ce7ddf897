"""Fake Core Services API (iaas.<region>.oraclecloud.com/20160918), signed requests only."""

import re
from typing import Any, Callable, Dict, List, Optional, Pattern, Tuple

from tests.fakes import access
from tests.fakes.auth import authenticate
from tests.fakes.control import FakeCloud
from tests.fakes.errors import ApiError, invalid, not_found
from tests.fakes.netops import V4, V6
from tests.fakes.store import Resource
from tests.fakes.transport import Request, Response

BASE = "/20160918"

Handler = Callable[[FakeCloud, Request, Tuple[str, ...]], Response]
Route = Tuple[str, Callable[[Request], Response]]


def _one(rec: Resource, etag: Optional[str], status: int = 200) -> Response:
    return Response.json(status, rec, {"etag": etag} if etag else None)


def _many(items: List[Resource], next_page: Optional[str]) -> Response:
    return Response.json(200, items, {"opc-next-page": next_page} if next_page else None)


def _body(req: Request) -> Dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict):
        raise ApiError(400, "CannotParseRequest", "The request body must be a JSON object.")
    return body


def _family(name: str) -> Any:
    return V6 if name == "ipv6" else V4


def get_vnic(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    vnic = c.net.get_vnic(a[0])
    access.check_path(c, r.principal, vnic)
    return _one(vnic, c.store.etag(a[0]))


def list_vnic_attachments(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    return _many(*c.compute.list_vnic_attachments(r.query))


def get_vnic_attachment(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    return _one(c.compute.get_vnic_attachment(a[0]), c.store.etag(a[0]))


def list_instances(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    return _many(*c.compute.list_instances(r.query))


def get_instance(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    return _one(*c.compute.get_instance(a[0]))


def instance_action(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    if "action" not in r.query:
        raise invalid("The action query parameter is required.")
    return _one(*c.compute.instance_action(a[0], r.query["action"]))


def list_ips(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    access.check_subnet(c, r.principal, r.query.get("subnetId"))
    access.check_query_vnic(c, r.principal, r.query.get("vnicId"))
    return _many(*c.net.list_ips(_family(a[0]), r.query))


def _ip_in_path(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> None:
    access.check_path(c, r.principal, c.net.get_ip(_family(a[0]), a[1])[0])


def get_ip(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    _ip_in_path(c, r, a)
    return _one(*c.net.get_ip(_family(a[0]), a[1]))


def create_ip(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    body = _body(r)
    access.check_body(c, r.principal, body, "vnicId")
    access.check_subnet(c, r.principal, body.get("subnetId"))
    rec, etag = c.net.create_ip(_family(a[0]), body, r.headers.get("opc-retry-token"))
    return _one(rec, etag)


def update_ip(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    _ip_in_path(c, r, a)
    body = _body(r)
    access.check_body(c, r.principal, body, "vnicId")
    rec, etag = c.net.update_ip(_family(a[0]), a[1], body, r.headers.get("if-match"))
    return _one(rec, etag)


def delete_ip(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    _ip_in_path(c, r, a)
    c.net.delete_ip(_family(a[0]), a[1], r.headers.get("if-match"))
    return Response(204)


def get_public_ip_by_private_ip_id(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    body = _body(r)
    access.check_body(c, r.principal, body, "privateIpId")
    return _one(*c.public_ips.get_by_private_ip_id(body))


def get_subnet(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    access.check_subnet(c, r.principal, a[0])
    return _one(c.net.get_subnet(a[0]), c.store.etag(a[0]))


def get_security_list(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    return _one(c.net.get_security_list(a[0]), c.store.etag(a[0]))


def list_nsg_rules(c: FakeCloud, r: Request, a: Tuple[str, ...]) -> Response:
    return _many(c.net.list_nsg_rules(a[0]), None)


_ID = r"([^/]+)"
_IPS = r"(privateIps|ipv6)"
_TABLE: List[Tuple[str, str, Dict[str, str], Handler]] = [
    ("GET", "/vnics/" + _ID, {"": "GetVnic"}, get_vnic),
    ("GET", "/vnicAttachments", {"": "ListVnicAttachments"}, list_vnic_attachments),
    ("GET", "/vnicAttachments/" + _ID, {"": "GetVnicAttachment"}, get_vnic_attachment),
    ("GET", "/instances", {"": "ListInstances"}, list_instances),
    ("GET", "/instances/" + _ID, {"": "GetInstance"}, get_instance),
    ("POST", "/instances/" + _ID, {"": "InstanceAction"}, instance_action),
    ("GET", "/" + _IPS, {"privateIps": "ListPrivateIps", "ipv6": "ListIpv6s"}, list_ips),
    ("POST", "/" + _IPS, {"privateIps": "CreatePrivateIp", "ipv6": "CreateIpv6"}, create_ip),
    ("GET", "/" + _IPS + "/" + _ID, {"privateIps": "GetPrivateIp", "ipv6": "GetIpv6"}, get_ip),
    (
        "PUT",
        "/" + _IPS + "/" + _ID,
        {"privateIps": "UpdatePrivateIp", "ipv6": "UpdateIpv6"},
        update_ip,
    ),
    (
        "DELETE",
        "/" + _IPS + "/" + _ID,
        {"privateIps": "DeletePrivateIp", "ipv6": "DeleteIpv6"},
        delete_ip,
    ),
    (
        "POST",
        "/publicIps/actions/getByPrivateIpId",
        {"": "GetPublicIpByPrivateIpId"},
        get_public_ip_by_private_ip_id,
    ),
    ("GET", "/subnets/" + _ID, {"": "GetSubnet"}, get_subnet),
    ("GET", "/securityLists/" + _ID, {"": "GetSecurityList"}, get_security_list),
    (
        "GET",
        "/networkSecurityGroups/" + _ID + "/securityRules",
        {"": "ListNetworkSecurityGroupSecurityRules"},
        list_nsg_rules,
    ),
]
_COMPILED: List[Tuple[str, Pattern[str], Dict[str, str], Handler]] = [
    (m, re.compile("^" + BASE + p + "/?$"), ops, h) for m, p, ops, h in _TABLE
]


def route(cloud: FakeCloud, req: Request) -> Optional[Route]:
    if not req.path.startswith(BASE + "/"):
        return None
    for method, pattern, ops, handler in _COMPILED:
        match = pattern.match(req.path)
        if match and method == req.method:
            args = match.groups()
            op = ops.get(args[0] if args and args[0] in ops else "", "")
            return op, _guarded(cloud, op, handler, args)
    return "Unknown", _unknown


def _unknown(req: Request) -> Response:
    return Response.error(
        ApiError(404, "NotFound", "No such API: {} {}".format(req.method, req.path))
    )


def _guarded(
    cloud: FakeCloud, op: str, handler: Handler, args: Tuple[str, ...]
) -> Callable[[Request], Response]:
    def run(req: Request) -> Response:
        req.principal = authenticate(cloud, req)
        if cloud.policy.is_denied(req.principal, op):
            raise not_found()
        return handler(cloud, req, args)

    return run
