"""Private IP / IPv6 / VNIC / subnet operations with the Core API's validation rules."""

import copy
import hashlib
import ipaddress
import json
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from tests.fakes.errors import ApiError, conflict, invalid, missing, not_found, related_not_found
from tests.fakes.fidelity import Fidelity
from tests.fakes.store import Resource, Store, now_rfc3339, paginate
from tests.fakes.world import subnet_ipv6_prefixes


class Family:
    def __init__(
        self, key: str, collection: str, kind: str, noun: str, per_vnic_limit: int
    ) -> None:
        self.key = key
        self.collection = collection
        self.kind = kind
        self.noun = noun
        self.per_vnic_limit = per_vnic_limit

    def prefixes(self, subnet: Resource) -> List[str]:
        """The subnet's CIDRs this family takes addresses from (IPv6: all its prefixes)."""
        if self is V4:
            return [subnet["cidrBlock"]]
        return subnet_ipv6_prefixes(subnet)


# OCI limits: 31 secondary IPv4 addresses and 32 IPv6 addresses per VNIC.
V4 = Family("v4", "private_ips", "privateip", "private IP", 31)
V6 = Family("v6", "ipv6s", "ipv6", "IPv6", 32)
IPV6_STATES = ("PROVISIONING", "AVAILABLE", "TERMINATING", "TERMINATED")

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
    def __init__(self, store: Store, fidelity: Optional[Fidelity] = None) -> None:
        self.s = store
        self.f = fidelity if fidelity is not None else Fidelity()
        self._retry_tokens: Dict[Tuple[str, str], Tuple[str, str]] = {}
        # Called with a deleted private IP's id (its public IP goes with it).
        self.on_delete: Callable[[str], None] = lambda rid: None
        # private IP / IPv6 id -> the VNIC a move is landing on (fidelity.async_moves)
        self._moves: Dict[str, str] = {}

    def view(self, rec: Resource) -> Resource:
        """The JSON OCI shows for a private IP or IPv6: without vnicId while a move
        lands, as the move's own answer (CASSETTE L1599, see fidelity.py)."""
        out = copy.deepcopy(rec)
        if rec["id"] in self._moves:
            out.pop("vnicId", None)
        return out

    # -- plain reads ------------------------------------------------------------------
    def vnic_view(self, vnic: Resource) -> Resource:
        """Vnic JSON with the live ipv6Addresses (they follow IPv6 moves)."""
        self.s.settle()
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
            self.s.settle()
            if subnet_id:
                self.s.get("subnets", subnet_id, "Subnet")
            if vnic_id and vnic_id not in self.s.res["vnics"]:
                # CASSETTE L1889: an unknown vnicId in the query is a 404 with this text.
                raise ApiError(
                    404,
                    "NotAuthorizedOrNotFound",
                    "Either VNIC with ID {} does not exist or you are not authorized to "
                    "access it.".format(vnic_id),
                )
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
            page, nxt = paginate(
                items, q.get("limit"), q.get("page"), always_next=self.f.always_next_page
            )
            return [self.view(r) for r in page], nxt

    def get_ip(self, fam: Family, rid: str) -> Tuple[Resource, str]:
        with self.s.lock:
            rec = self.s.get(fam.collection, rid, fam.noun)
            return self.view(rec), self.s.etag(rid)

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
            return self.view(rec), self.s.etag(rec["id"])

    def _create(self, fam: Family, body: Mapping[str, Any]) -> Resource:
        if fam is V4 and body.get("vlanId"):
            raise invalid("VLANs are not modelled by this fake.")
        lifetime = body.get("lifetime") or "EPHEMERAL"
        if lifetime not in ("EPHEMERAL", "RESERVED"):
            raise invalid("lifetime must be EPHEMERAL or RESERVED.")
        vnic: Optional[Resource] = None
        self.s.settle()
        if body.get("vnicId"):
            vnic = self.s.res["vnics"].get(body["vnicId"])
            if vnic is None:
                raise related_not_found("VNIC", body["vnicId"])
            subnet = self.s.get("subnets", vnic["subnetId"], "Subnet")
            if body.get("subnetId") and body["subnetId"] != subnet["id"]:
                raise invalid("subnetId does not match the subnet of the VNIC.")
        elif body.get("subnetId") and lifetime == "RESERVED":
            subnet = self.s.get("subnets", body["subnetId"], "Subnet")
        else:
            raise missing("vnicId is required (or subnetId with lifetime RESERVED).")
        if not fam.prefixes(subnet):
            raise invalid("Subnet {} has no {} prefix.".format(subnet["id"], fam.noun))
        if vnic is not None:
            self._check_room(fam, vnic["id"])
        address = self._pick_address(
            fam, subnet, body.get("ipAddress"), body.get("ipv6SubnetCidr") if fam is V6 else None
        )
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
            provisioning = self.f.ipv6_provisioning
            rec.update(
                hostname=body.get("hostname"),
                cidrPrefixLength=64,
                lifecycleState="PROVISIONING" if provisioning > 0 else "AVAILABLE",
                systemTags={},
            )
            if provisioning > 0:
                self.s.schedule(
                    rid + ":state", provisioning, lambda: self._set_state(rid, "AVAILABLE")
                )
        self.s.res[fam.collection][rid] = rec
        self.s.touch(rid)
        return rec

    def _set_state(self, rid: str, state: str) -> None:
        rec = self.s.res["ipv6s"].get(rid)
        if rec is not None and rec["lifecycleState"] != state:
            rec["lifecycleState"] = state
            self.s.touch(rid)

    def _pick_address(
        self, fam: Family, subnet: Resource, wanted: Optional[str], prefix: Optional[str] = None
    ) -> str:
        nets = [ipaddress.ip_network(p) for p in fam.prefixes(subnet)]
        if prefix is not None:
            try:
                chosen = ipaddress.ip_network(prefix)
            except ValueError:
                raise invalid("ipv6SubnetCidr {!r} is not a prefix.".format(prefix)) from None
            if chosen not in nets:
                raise invalid(
                    "ipv6SubnetCidr {} is not a prefix of subnet {}.".format(prefix, subnet["id"])
                )
            nets = [chosen]
        # A TERMINATED Ipv6 still lists, but its address is free again
        # (assumed: unrecorded, like every Ipv6 lifecycle behaviour).
        used = {
            ipaddress.ip_address(r["ipAddress"])
            for r in self.s.res[fam.collection].values()
            if r["subnetId"] == subnet["id"] and r.get("lifecycleState") != "TERMINATED"
        }
        if wanted is None:
            # SDK docs (CreateIpv6Details.ipv6SubnetCidr): "required if more than
            # one IPv6 prefix exists on the subnet".
            if len(nets) > 1:
                raise invalid(
                    "Subnet {} has {} IPv6 prefixes: ipv6SubnetCidr is required.".format(
                        subnet["id"], len(nets)
                    )
                )
            net = nets[0]
            reserved = _reserved(net)
            for host in range(2, min(net.num_addresses - 1, 1 << 16)):
                addr = net.network_address + host
                if addr not in used and addr not in reserved:
                    return str(addr)
            raise ApiError(400, "LimitExceeded", "Subnet {} is full.".format(subnet["id"]))
        try:
            addr = ipaddress.ip_address(wanted)
        except ValueError:
            raise invalid("ipAddress {!r} is not a valid IP address.".format(wanted)) from None
        net_of = [n for n in nets if addr in n]
        if not net_of:
            raise invalid(
                "ipAddress {} is not within the CIDR {} of subnet {}.".format(
                    wanted, ", ".join(str(n) for n in nets), subnet["id"]
                )
            )
        if addr in _reserved(net_of[0]):
            raise invalid(
                "ipAddress {} is reserved by OCI in subnet {}.".format(wanted, subnet["id"])
            )
        if addr in used:
            self._address_exists(wanted, subnet["id"])
        return str(addr)

    def _address_exists(self, ip: str, subnet_id: str) -> None:
        """Creating an address that exists: what OCI answers is unrecorded, so both
        answers pcs-oci must read as "someone else created it" are switchable."""
        message = "IP address {} is already assigned in subnet {}.".format(ip, subnet_id)
        if self.f.existing_address == "400":
            raise invalid(message)
        raise conflict(message)

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
        self,
        fam: Family,
        rid: str,
        body: Mapping[str, Any],
        if_match: Optional[str] = None,
        at_once: bool = False,
    ) -> Tuple[Resource, str]:
        """UpdatePrivateIp/UpdateIpv6. A move (vnicId changes) lands after the
        answer when fidelity.async_moves is on, unless at_once (the control
        plane moving an address behind the cluster's back)."""
        with self.s.lock:
            rec = self.s.get(fam.collection, rid, fam.noun)
            self.s.check_if_match(rid, if_match)
            heading = self._moves.get(rid, rec["vnicId"])
            target: Optional[str] = body.get("vnicId") or None
            moving = "vnicId" in body and target != heading
            vnic = self._check_move(fam, rec, target) if moving else None
            if body.get("lifetime"):
                if body["lifetime"] not in ("EPHEMERAL", "RESERVED"):
                    raise invalid("lifetime must be EPHEMERAL or RESERVED.")
                rec["lifetime"] = body["lifetime"]
            for key in _UPDATABLE:
                if key in body and key in rec:
                    rec[key] = body[key]
            if moving:
                self._cancel_move(rid)
                if self.f.async_moves and vnic is not None and not at_once:
                    self._begin_move(fam, rec, vnic)
                else:
                    self._apply_move(fam, rec, vnic)
            # A rename keeps the ETag its answer carries (CASSETTE L1816 answer and
            # L1854 GET: both 82f8833b); a move's answer ETag does not last (L1599).
            self.s.touch(rid)
            return self.view(rec), self.s.etag(rid)

    def _check_move(self, fam: Family, rec: Resource, vnic_id: Optional[str]) -> Optional[Resource]:
        """The VNIC a move goes to (None: unassign), or the error OCI answers."""
        if rec.get("isPrimary"):
            # The recorded answer, word for word (CASSETTE L1330, L1430).
            raise invalid("Cannot reassign primary private IP addresses")
        if not vnic_id:
            if rec["lifetime"] != "RESERVED":
                raise invalid(
                    "Only a RESERVED {} can be unassigned from its VNIC.".format(fam.noun)
                )
            return None
        vnic = self.s.res["vnics"].get(vnic_id)
        if vnic is None:
            raise related_not_found("VNIC", vnic_id)
        if vnic["subnetId"] != rec["subnetId"]:
            raise invalid(
                "VNIC {} is in subnet {} but {} {} belongs to subnet {}; a {} can "
                "only be moved to a VNIC in the same subnet.".format(
                    vnic_id, vnic["subnetId"], fam.noun, rec["ipAddress"], rec["subnetId"], fam.noun
                )
            )
        self._check_room(fam, vnic_id)
        return vnic

    def _apply_move(self, fam: Family, rec: Resource, vnic: Optional[Resource]) -> None:
        if vnic is None:
            rec.update(vnicId=None, ipState="AVAILABLE")
            if fam is V4:
                rec["availabilityDomain"] = None
            return
        rec.update(vnicId=vnic["id"], ipState="ASSIGNED")
        if fam is V4:
            rec["availabilityDomain"] = vnic["availabilityDomain"]

    def _begin_move(self, fam: Family, rec: Resource, vnic: Resource) -> None:
        # Until it lands the address is on no VNIC (the answer shows none), so
        # neither VNIC lists it.
        rid = rec["id"]
        rec["vnicId"] = None
        self._moves[rid] = vnic["id"]

        def land() -> None:
            self._moves.pop(rid, None)
            current = self.s.res[fam.collection].get(rid)
            target = self.s.res["vnics"].get(vnic["id"])
            if current is not None and target is not None:
                self._apply_move(fam, current, target)
                self.s.touch(rid)

        self.s.schedule(rid + ":move", self.f.move_delay, land)

    def _cancel_move(self, rid: str) -> None:
        self._moves.pop(rid, None)
        self.s.cancel(rid + ":move")

    def moving(self, rid: str) -> Optional[str]:
        """The VNIC a move of rid is landing on, if one is under way."""
        with self.s.lock:
            self.s.settle()
            return self._moves.get(rid)

    def set_ipv6_state(self, ip: str, state: str) -> Resource:
        if state not in IPV6_STATES:
            raise invalid("lifecycleState must be one of " + ", ".join(IPV6_STATES))
        with self.s.lock:
            self.s.settle()
            for rec in self.s.res["ipv6s"].values():
                if _same_ip(rec["ipAddress"], ip):
                    self.s.cancel(rec["id"] + ":state")
                    self._set_state(rec["id"], state)
                    return self.view(rec)
        raise not_found("IPv6 {}".format(ip))

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
            self._cancel_move(rid)
            self.s.cancel(rid + ":state")
            del self.s.res[fam.collection][rid]
            self.on_delete(rid)

    # -- out-of-band helpers (control plane, no auth) -----------------------------------
    def find_by_address(self, ip: str, subnet_id: Optional[str] = None) -> Optional[Resource]:
        fam = V6 if ":" in ip else V4
        with self.s.lock:
            self.s.settle()
            for rec in self.s.res[fam.collection].values():
                if _same_ip(rec["ipAddress"], ip) and subnet_id in (None, rec["subnetId"]):
                    return self.view(rec)
        return None

    def move_by_address(self, ip: str, vnic_id: Optional[str]) -> Resource:
        rec = self.find_by_address(ip)
        if rec is None:
            raise not_found("IP {}".format(ip))
        fam = V6 if ":" in ip else V4
        return self.update_ip(fam, rec["id"], {"vnicId": vnic_id or ""}, at_once=True)[0]

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
        fam = V6 if addr.version == 6 else V4
        for sub in self.s.res["subnets"].values():
            if any(addr in ipaddress.ip_network(c) for c in fam.prefixes(sub)):
                return sub["id"]
        raise invalid("{} is in no subnet".format(ip))


def _reserved(net: Any) -> set:
    # OCI reserves the network address, the virtual router and the last address.
    return {net.network_address, net.network_address + 1, net.broadcast_address}


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False
