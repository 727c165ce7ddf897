"""Private IP / IPv6 / VNIC / subnet operations with the Core API's validation rules."""

import copy
import hashlib
import ipaddress
import json
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from tests.fakes.errors import ApiError, conflict, invalid, missing, not_found
from tests.fakes.store import Resource, Store, now_rfc3339, paginate


class Family:
    def __init__(
        self, key: str, collection: str, kind: str, noun: str, cidr_field: str, per_vnic_limit: int
    ) -> None:
        self.key = key
        self.collection = collection
        self.kind = kind
        self.noun = noun
        self.cidr_field = cidr_field
        self.per_vnic_limit = per_vnic_limit


# OCI limits: 31 secondary IPv4 addresses and 32 IPv6 addresses per VNIC.
V4 = Family("v4", "private_ips", "privateip", "private IP", "cidrBlock", 31)
V6 = Family("v6", "ipv6s", "ipv6", "IPv6", "ipv6CidrBlock", 32)

_UPDATABLE = (
    "displayName",
    "hostnameLabel",
    "hostname",
    "freeformTags",
    "definedTags",
    "routeTableId",
)


def _ip_sort_key(rec: Resource) -> Tuple[int, int]:
    addr = ipaddress.ip_address(rec["ipAddress"])
    return addr.version, int(addr)


class NetworkOps:
    def __init__(self, store: Store) -> None:
        self.s = store
        self._retry_tokens: Dict[Tuple[str, str], Tuple[str, str]] = {}
        # Called with a deleted private IP's id (its public IP goes with it).
        self.on_delete: Callable[[str], None] = lambda rid: None

    # -- plain reads ------------------------------------------------------------------
    def vnic_view(self, vnic: Resource) -> Resource:
        """Vnic JSON with the live ipv6Addresses (they follow IPv6 moves)."""
        out = copy.deepcopy(vnic)
        out["ipv6Addresses"] = sorted(
            (r["ipAddress"] for r in self.s.res["ipv6s"].values() if r["vnicId"] == vnic["id"]),
            key=lambda a: int(ipaddress.ip_address(a)),
        )
        return out

    def get_vnic(self, vnic_id: str) -> Resource:
        with self.s.lock:
            return self.vnic_view(self.s.get("vnics", vnic_id, "VNIC"))

    def get_subnet(self, subnet_id: str) -> Resource:
        with self.s.lock:
            return copy.deepcopy(self.s.get("subnets", subnet_id, "Subnet"))

    def get_security_list(self, sl_id: str) -> Resource:
        with self.s.lock:
            return copy.deepcopy(self.s.get("security_lists", sl_id, "Security list"))

    def list_nsg_rules(self, nsg_id: str) -> List[Resource]:
        with self.s.lock:
            return copy.deepcopy(self.s.get("nsgs", nsg_id, "Network security group")["rules"])

    # -- listing ------------------------------------------------------------------------
    def list_ips(self, fam: Family, q: Mapping[str, str]) -> Tuple[List[Resource], Optional[str]]:
        subnet_id, vnic_id = q.get("subnetId"), q.get("vnicId")
        if fam is V4 and q.get("vlanId"):
            raise invalid("VLANs are not modelled by this fake.")
        if not subnet_id and not vnic_id:
            raise missing(
                "List{}s requires subnetId or vnicId (ipAddress needs subnetId).".format(
                    "PrivateIp" if fam is V4 else "Ipv6"
                )
            )
        with self.s.lock:
            if subnet_id:
                self.s.get("subnets", subnet_id, "Subnet")
            if vnic_id:
                self.s.get("vnics", vnic_id, "VNIC")
            items = [
                r
                for r in self.s.res[fam.collection].values()
                if (not subnet_id or r["subnetId"] == subnet_id)
                and (not vnic_id or r["vnicId"] == vnic_id)
                and (not q.get("ipAddress") or _same_ip(r["ipAddress"], q["ipAddress"]))
                and (not q.get("ipState") or r["ipState"] == q["ipState"])
                and (not q.get("lifetime") or r["lifetime"] == q["lifetime"])
            ]
            items.sort(key=_ip_sort_key)
            return paginate(items, q.get("limit"), q.get("page"))

    def get_ip(self, fam: Family, rid: str) -> Tuple[Resource, str]:
        with self.s.lock:
            rec = self.s.get(fam.collection, rid, fam.noun)
            return copy.deepcopy(rec), self.s.etag(rid)

    # -- create -------------------------------------------------------------------------
    def create_ip(
        self, fam: Family, body: Mapping[str, Any], retry_token: Optional[str] = None
    ) -> Tuple[Resource, str]:
        with self.s.lock:
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            if retry_token:
                seen = self._retry_tokens.get((fam.key, retry_token))
                if seen is not None:
                    if seen[0] != digest:
                        raise ApiError(
                            409,
                            "InvalidatedRetryToken",
                            "The retry token was already used with a different request body.",
                        )
                    if seen[1] in self.s.res[fam.collection]:
                        return self.get_ip(fam, seen[1])
            rec = self._create(fam, body)
            if retry_token:
                self._retry_tokens[(fam.key, retry_token)] = (digest, rec["id"])
            return copy.deepcopy(rec), self.s.etag(rec["id"])

    def _create(self, fam: Family, body: Mapping[str, Any]) -> Resource:
        if fam is V4 and body.get("vlanId"):
            raise invalid("VLANs are not modelled by this fake.")
        lifetime = body.get("lifetime") or "EPHEMERAL"
        if lifetime not in ("EPHEMERAL", "RESERVED"):
            raise invalid("lifetime must be EPHEMERAL or RESERVED.")
        vnic: Optional[Resource] = None
        if body.get("vnicId"):
            vnic = self.s.get("vnics", body["vnicId"], "VNIC")
            subnet = self.s.get("subnets", vnic["subnetId"], "Subnet")
            if body.get("subnetId") and body["subnetId"] != subnet["id"]:
                raise invalid("subnetId does not match the subnet of the VNIC.")
        elif body.get("subnetId") and lifetime == "RESERVED":
            subnet = self.s.get("subnets", body["subnetId"], "Subnet")
        else:
            raise missing("vnicId is required (or subnetId with lifetime RESERVED).")
        if not subnet.get(fam.cidr_field):
            raise invalid("Subnet {} has no {} prefix.".format(subnet["id"], fam.noun))
        if vnic is not None:
            self._check_room(fam, vnic["id"])
        address = self._pick_address(fam, subnet, body.get("ipAddress"))
        rid = self.s.new_id(fam.kind)
        rec: Resource = {
            "id": rid,
            "compartmentId": subnet["compartmentId"],
            "definedTags": body.get("definedTags") or {},
            "freeformTags": body.get("freeformTags") or {},
            "displayName": body.get("displayName") or address,
            "ipAddress": address,
            "subnetId": subnet["id"],
            "timeCreated": now_rfc3339(),
            "vnicId": vnic["id"] if vnic else None,
            "ipState": "ASSIGNED" if vnic else "AVAILABLE",
            "lifetime": lifetime,
            "routeTableId": body.get("routeTableId"),
        }
        if fam is V4:
            rec.update(
                availabilityDomain=vnic["availabilityDomain"] if vnic else None,
                hostnameLabel=body.get("hostnameLabel"),
                isPrimary=False,
                cidrPrefixLength=None,
                vlanId=None,
                ipv4SubnetCidrAtCreation=subnet["cidrBlock"],
            )
        else:
            rec.update(
                hostname=body.get("hostname"),
                cidrPrefixLength=64,
                lifecycleState="AVAILABLE",
                systemTags={},
            )
        self.s.res[fam.collection][rid] = rec
        self.s.touch(rid)
        return rec

    def _pick_address(self, fam: Family, subnet: Resource, wanted: Optional[str]) -> str:
        net = ipaddress.ip_network(subnet[fam.cidr_field])
        used = {
            ipaddress.ip_address(r["ipAddress"])
            for r in self.s.res[fam.collection].values()
            if r["subnetId"] == subnet["id"]
        }
        # OCI reserves the network address, the virtual router and the last address.
        reserved = {net.network_address, net.network_address + 1, net.broadcast_address}
        if wanted is None:
            for host in range(2, min(net.num_addresses - 1, 1 << 16)):
                addr = net.network_address + host
                if addr not in used and addr not in reserved:
                    return str(addr)
            raise ApiError(400, "LimitExceeded", "Subnet {} is full.".format(subnet["id"]))
        try:
            addr = ipaddress.ip_address(wanted)
        except ValueError:
            raise invalid("ipAddress {!r} is not a valid IP address.".format(wanted)) from None
        if addr not in net:
            raise invalid(
                "ipAddress {} is not within the CIDR {} of subnet {}.".format(
                    wanted, net, subnet["id"]
                )
            )
        if addr in reserved:
            raise invalid(
                "ipAddress {} is reserved by OCI in subnet {}.".format(wanted, subnet["id"])
            )
        if addr in used:
            raise conflict(
                "IP address {} is already assigned in subnet {}.".format(wanted, subnet["id"])
            )
        return str(addr)

    def _check_room(self, fam: Family, vnic_id: str) -> None:
        count = sum(
            1
            for r in self.s.res[fam.collection].values()
            if r["vnicId"] == vnic_id and not r.get("isPrimary")
        )
        if count >= fam.per_vnic_limit:
            raise ApiError(
                400,
                "LimitExceeded",
                "VNIC {} already has the maximum of {} {}s.".format(
                    vnic_id, fam.per_vnic_limit, fam.noun
                ),
            )

    # -- update / move ------------------------------------------------------------------
    def update_ip(
        self, fam: Family, rid: str, body: Mapping[str, Any], if_match: Optional[str] = None
    ) -> Tuple[Resource, str]:
        with self.s.lock:
            rec = self.s.get(fam.collection, rid, fam.noun)
            self.s.check_if_match(rid, if_match)
            if "vnicId" in body and body["vnicId"] != rec["vnicId"]:
                self._move(fam, rec, body["vnicId"])
            if body.get("lifetime"):
                if body["lifetime"] not in ("EPHEMERAL", "RESERVED"):
                    raise invalid("lifetime must be EPHEMERAL or RESERVED.")
                rec["lifetime"] = body["lifetime"]
            for key in _UPDATABLE:
                if key in body and key in rec:
                    rec[key] = body[key]
            self.s.touch(rid)
            return copy.deepcopy(rec), self.s.etag(rid)

    def _move(self, fam: Family, rec: Resource, vnic_id: Optional[str]) -> None:
        if rec.get("isPrimary"):
            raise invalid(
                "Private IP {} ({}) is the primary private IP of VNIC {}; a primary "
                "private IP cannot be moved to another VNIC.".format(
                    rec["id"], rec["ipAddress"], rec["vnicId"]
                )
            )
        if not vnic_id:
            if rec["lifetime"] != "RESERVED":
                raise invalid(
                    "Only a RESERVED {} can be unassigned from its VNIC.".format(fam.noun)
                )
            rec.update(vnicId=None, ipState="AVAILABLE")
            if fam is V4:
                rec["availabilityDomain"] = None
            return
        vnic = self.s.res["vnics"].get(vnic_id)
        if vnic is None:
            raise ApiError(
                400,
                "RelatedResourceNotAuthorizedOrNotFound",
                "VNIC {} not found or not authorized.".format(vnic_id),
            )
        if vnic["subnetId"] != rec["subnetId"]:
            raise invalid(
                "VNIC {} is in subnet {} but {} {} belongs to subnet {}; a {} can "
                "only be moved to a VNIC in the same subnet.".format(
                    vnic_id, vnic["subnetId"], fam.noun, rec["ipAddress"], rec["subnetId"], fam.noun
                )
            )
        self._check_room(fam, vnic_id)
        rec.update(vnicId=vnic_id, ipState="ASSIGNED")
        if fam is V4:
            rec["availabilityDomain"] = vnic["availabilityDomain"]

    # -- delete -------------------------------------------------------------------------
    def delete_ip(self, fam: Family, rid: str, if_match: Optional[str] = None) -> None:
        with self.s.lock:
            rec = self.s.get(fam.collection, rid, fam.noun)
            self.s.check_if_match(rid, if_match)
            if rec.get("isPrimary"):
                raise invalid(
                    "Private IP {} is the primary private IP of VNIC {} and cannot "
                    "be deleted.".format(rid, rec["vnicId"])
                )
            del self.s.res[fam.collection][rid]
            self.on_delete(rid)

    # -- out-of-band helpers (control plane, no auth) -----------------------------------
    def find_by_address(self, ip: str, subnet_id: Optional[str] = None) -> Optional[Resource]:
        fam = V6 if ":" in ip else V4
        with self.s.lock:
            for rec in self.s.res[fam.collection].values():
                if _same_ip(rec["ipAddress"], ip) and subnet_id in (None, rec["subnetId"]):
                    return copy.deepcopy(rec)
        return None

    def move_by_address(self, ip: str, vnic_id: Optional[str]) -> Resource:
        rec = self.find_by_address(ip)
        if rec is None:
            raise not_found("IP {}".format(ip))
        fam = V6 if ":" in ip else V4
        return self.update_ip(fam, rec["id"], {"vnicId": vnic_id or ""})[0]

    def add_by_address(
        self,
        ip: str,
        vnic_id: Optional[str],
        lifetime: str = "EPHEMERAL",
        subnet_id: Optional[str] = None,
    ) -> Resource:
        fam = V6 if ":" in ip else V4
        body: Dict[str, Any] = {"ipAddress": ip, "lifetime": lifetime}
        if vnic_id:
            body["vnicId"] = vnic_id
        else:
            body["subnetId"] = subnet_id or self._subnet_for(ip)
        return self.create_ip(fam, body)[0]

    def _subnet_for(self, ip: str) -> str:
        addr = ipaddress.ip_address(ip)
        for sub in self.s.res["subnets"].values():
            cidr = sub["cidrBlock"] if addr.version == 4 else sub.get("ipv6CidrBlock")
            if cidr and addr in ipaddress.ip_network(cidr):
                return sub["id"]
        raise invalid("{} is in no subnet".format(ip))


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False
