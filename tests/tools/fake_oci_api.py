"""An in-memory stand-in for pcs_oci.lib.oci.api.OciApi that records every call.

Resources are plain snake_case dicts like OciApi returns. Errors are the
CloudErrors OciApi would raise (built with errors.map_service_error), queued
per operation with fail(). before(op, fn) runs fn just before op, e.g. to move
a private IP behind the caller's back. The private-IP calls are recorded per
family: list_private_ips / list_ipv6s, get_private_ip / get_ipv6,
create_private_ip / create_ipv6, update_private_ip_vnic / update_ipv6_vnic.
"""

import ipaddress
import itertools
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci.api import IPV4, IpFamily, Tagged
from pcs_oci.lib.oci.errors import map_service_error

WRITE_OPS = ("create_private_ip", "update_private_ip_vnic", "create_ipv6", "update_ipv6_vnic")


class _ErrorLike(NamedTuple):
    status: int
    code: str
    message: str
    request_id: str


def cloud_error(status: int, code: str, operation: str = "Op", message: str = "") -> CloudError:
    return map_service_error(
        _ErrorLike(status, code, message or code, "req-{}-{}".format(status, code)), operation
    )


class Call(NamedTuple):
    op: str
    args: Dict[str, Any]


class FakeOciApi:
    def __init__(self) -> None:
        self.vnics: Dict[str, Dict[str, Any]] = {}
        self.subnets: Dict[str, Dict[str, Any]] = {}
        self.private_ips: Dict[str, Dict[str, Any]] = {}
        self.ipv6s: Dict[str, Dict[str, Any]] = {}
        self.instances: Dict[str, Dict[str, Any]] = {}
        self.attachments: List[Dict[str, Any]] = []
        self.calls: List[Call] = []
        self.budgets: List[Optional[float]] = []
        self._etags: Dict[str, int] = {}
        self._faults: Dict[str, List[CloudError]] = {}
        self._before: Dict[str, List[Callable[[], Any]]] = {}
        self._ids = itertools.count(1)
        self.retry_tokens: Dict[str, str] = {}
        # private IP id -> the public IP bound to it (snake_case, as the SDK's to_dict).
        self.public_ips: Dict[str, Dict[str, Any]] = {}

    # -- building the world

    def _id(self, kind: str) -> str:
        return "ocid1.{}.oc1..fake{}".format(kind, next(self._ids))

    def add_subnet(self, cidr: str, ipv6_cidr: Optional[str] = None) -> str:
        sid = self._id("subnet")
        self.subnets[sid] = {"id": sid, "cidr_block": cidr, "ipv6_cidr_block": ipv6_cidr}
        return sid

    def add_instance(
        self, display_name: str, state: str = "RUNNING", compartment_id: str = "ocid1.compartment"
    ) -> str:
        iid = self._id("instance")
        self.instances[iid] = {
            "id": iid,
            "display_name": display_name,
            "lifecycle_state": state,
            "compartment_id": compartment_id,
        }
        return iid

    def add_vnic(
        self,
        subnet_id: str,
        primary_ip: str,
        instance_id: Optional[str] = None,
        hostname_label: Optional[str] = None,
        is_primary: bool = True,
        vnic_id: Optional[str] = None,
    ) -> str:
        vid = vnic_id or self._id("vnic")
        self.vnics[vid] = {
            "id": vid,
            "subnet_id": subnet_id,
            "private_ip": primary_ip,
            "is_primary": is_primary,
            "hostname_label": hostname_label,
            "compartment_id": "ocid1.compartment",
        }
        self.add_private_ip(primary_ip, vid, subnet_id, is_primary=True)
        if instance_id:
            self.attachments.append(
                {
                    "id": self._id("vnicattachment"),
                    "instance_id": instance_id,
                    "vnic_id": vid,
                    "subnet_id": subnet_id,
                    "lifecycle_state": "ATTACHED",
                }
            )
        return vid

    def add_private_ip(
        self, ip: str, vnic_id: Optional[str], subnet_id: str, is_primary: bool = False
    ) -> str:
        pid = self._id("privateip")
        self.private_ips[pid] = {
            "id": pid,
            "ip_address": ip,
            "vnic_id": vnic_id,
            "subnet_id": subnet_id,
            "is_primary": is_primary,
            # What SDKs from 2.146.0 on show; older ones drop the field.
            "ip_state": "ASSIGNED" if vnic_id else "AVAILABLE",
        }
        self._etags[pid] = 1
        return pid

    def add_ipv6(self, ip: str, vnic_id: Optional[str], subnet_id: str) -> str:
        iid = self._id("ipv6")
        self.ipv6s[iid] = {
            "id": iid,
            "ip_address": ip,
            "vnic_id": vnic_id,
            "subnet_id": subnet_id,
            "ip_state": "ASSIGNED" if vnic_id else "AVAILABLE",
        }
        self._etags[iid] = 1
        return iid

    def move_behind_back(self, resource_id: str, vnic_id: Optional[str]) -> None:
        table = self.private_ips if resource_id in self.private_ips else self.ipv6s
        table[resource_id]["vnic_id"] = vnic_id
        table[resource_id]["ip_state"] = "ASSIGNED" if vnic_id else "AVAILABLE"
        self._etags[resource_id] += 1

    # -- scripting

    def fail(self, op: str, error: CloudError, count: int = 1) -> None:
        self._faults.setdefault(op, []).extend([error] * count)

    def before(self, op: str, fn: Callable[[], Any]) -> None:
        self._before.setdefault(op, []).append(fn)

    def ops(self) -> List[str]:
        return [c.op for c in self.calls]

    def writes(self) -> List[Call]:
        return [c for c in self.calls if c.op in WRITE_OPS]

    def _enter(self, op: str, **args: Any) -> None:
        self.calls.append(Call(op, args))
        hooks = self._before.get(op)
        if hooks:
            hooks.pop(0)()
        faults = self._faults.get(op)
        if faults:
            raise faults.pop(0)

    @contextmanager
    def budget(self, seconds: Optional[float] = None) -> Iterator[None]:
        self.budgets.append(seconds)
        yield

    # -- OciApi's methods

    def get_vnic(self, vnic_id: str) -> Dict[str, Any]:
        self._enter("get_vnic", vnic_id=vnic_id)
        if vnic_id not in self.vnics:
            raise cloud_error(404, "NotAuthorizedOrNotFound", "GetVnic")
        return dict(self.vnics[vnic_id])

    def public_ip_of(self, private_ip_id: str) -> Optional[Dict[str, Any]]:
        self._enter("public_ip_of", private_ip_id=private_ip_id)
        found = self.public_ips.get(private_ip_id)
        return dict(found) if found else None

    def get_subnet(self, subnet_id: str) -> Dict[str, Any]:
        self._enter("get_subnet", subnet_id=subnet_id)
        if subnet_id not in self.subnets:
            raise cloud_error(404, "NotAuthorizedOrNotFound", "GetSubnet")
        return dict(self.subnets[subnet_id])

    def _list(
        self, table: Dict[str, Dict[str, Any]], **filters: Optional[str]
    ) -> List[Dict[str, Any]]:
        out = []
        for rec in table.values():
            if filters.get("ip_address") is not None and ipaddress.ip_address(
                rec["ip_address"]
            ) != ipaddress.ip_address(str(filters["ip_address"])):
                continue
            if filters.get("subnet_id") is not None and rec["subnet_id"] != filters["subnet_id"]:
                continue
            if filters.get("vnic_id") is not None and rec["vnic_id"] != filters["vnic_id"]:
                continue
            out.append(dict(rec))
        return out

    def _table(self, family: IpFamily) -> Dict[str, Dict[str, Any]]:
        return self.private_ips if family == IPV4 else self.ipv6s

    def list_ips(
        self,
        family: IpFamily,
        ip_address: Optional[str] = None,
        subnet_id: Optional[str] = None,
        vnic_id: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        op = "list_{}s".format(family.method)
        self._enter(op, ip_address=ip_address, subnet_id=subnet_id, vnic_id=vnic_id)
        return self._list(
            self._table(family), ip_address=ip_address, subnet_id=subnet_id, vnic_id=vnic_id
        )

    def get_ip(self, family: IpFamily, ip_id: str) -> Tagged:
        op = "get_" + family.method
        table = self._table(family)
        self._enter(op, id=ip_id)
        if ip_id not in table:
            raise cloud_error(404, "NotAuthorizedOrNotFound", op)
        return Tagged(dict(table[ip_id]), "etag-{}".format(self._etags[ip_id]))

    def create_ip(
        self, family: IpFamily, vnic_id: str, ip: str, retry_token: str
    ) -> Dict[str, Any]:
        op = "create_" + family.method
        table = self._table(family)
        self._enter(op, vnic_id=vnic_id, ip=ip, retry_token=retry_token)
        if retry_token in self.retry_tokens:
            return dict(table[self.retry_tokens[retry_token]])
        for rec in table.values():
            if ipaddress.ip_address(rec["ip_address"]) == ipaddress.ip_address(ip):
                raise cloud_error(409, "Conflict", op)
        subnet_id = self.vnics[vnic_id]["subnet_id"]
        if family == IPV4:
            rid = self.add_private_ip(ip, vnic_id, subnet_id)
        else:
            rid = self.add_ipv6(ip, vnic_id, subnet_id)
        self.retry_tokens[retry_token] = rid
        return dict(table[rid])

    def move_ip(
        self, family: IpFamily, ip_id: str, vnic_id: str, if_match: Optional[str]
    ) -> Dict[str, Any]:
        op = "update_{}_vnic".format(family.method)
        table = self._table(family)
        self._enter(op, id=ip_id, vnic_id=vnic_id, if_match=if_match)
        if ip_id not in table:
            raise cloud_error(404, "NotAuthorizedOrNotFound", op)
        if if_match is not None and if_match != "etag-{}".format(self._etags[ip_id]):
            raise cloud_error(412, "NoEtagMatch", op)
        if table[ip_id].get("is_primary"):
            raise cloud_error(400, "InvalidParameter", op, "cannot move a primary private IP")
        table[ip_id]["vnic_id"] = vnic_id
        table[ip_id]["ip_state"] = "ASSIGNED"
        self._etags[ip_id] += 1
        return dict(table[ip_id])

    def list_instances(self, compartment_id: str) -> List[Dict[str, Any]]:
        self._enter("list_instances", compartment_id=compartment_id)
        return [dict(i) for i in self.instances.values()]

    def list_vnic_attachments(
        self, compartment_id: str, instance_id: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        self._enter("list_vnic_attachments", compartment_id=compartment_id, instance_id=instance_id)
        return [
            dict(a)
            for a in self.attachments
            if instance_id is None or a["instance_id"] == instance_id
        ]

    def get_instance(self, instance_id: str) -> Dict[str, Any]:
        self._enter("get_instance", instance_id=instance_id)
        if instance_id not in self.instances:
            raise cloud_error(404, "NotAuthorizedOrNotFound", "GetInstance")
        return dict(self.instances[instance_id])


def where(api: FakeOciApi, resource_id: str) -> Tuple[Optional[str], int]:
    """(vnic_id, etag number) of a private IP or IPv6, for assertions."""
    table = api.private_ips if resource_id in api.private_ips else api.ipv6s
    return table[resource_id]["vnic_id"], api._etags[resource_id]
