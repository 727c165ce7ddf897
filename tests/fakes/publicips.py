"""Public IPs bound to private IPs, as the Core API keeps them.

A public IP is bound to a private IP's OCID, not to a VNIC: when the private
IP moves to another VNIC (UpdatePrivateIp), the binding stays and the public
IP follows it. Deleting the private IP unbinds a RESERVED public IP (it
stays, AVAILABLE) and deletes an EPHEMERAL one.
"""

import copy
from typing import Any, Mapping, Optional, Tuple

from tests.fakes.errors import invalid, missing, not_found
from tests.fakes.store import Resource, Store, now_rfc3339

# TEST-NET-3 (RFC 5737): documentation addresses, never routed.
_POOL = "203.0.113."


class PublicIpOps:
    def __init__(self, store: Store) -> None:
        self.s = store

    def get_by_private_ip_id(self, body: Mapping[str, Any]) -> Tuple[Resource, str]:
        """GetPublicIpByPrivateIpId: 404 when the private IP has none."""
        private_ip_id = body.get("privateIpId")
        if not private_ip_id:
            raise missing("privateIpId")
        with self.s.lock:
            for rec in self.s.res["public_ips"].values():
                if rec.get("privateIpId") == private_ip_id:
                    return copy.deepcopy(rec), self.s.etag(rec["id"])
        raise not_found("public IP of private IP {}".format(private_ip_id))

    def bind(self, private_ip_id: str, lifetime: str = "RESERVED") -> Resource:
        """A public IP bound to the private IP (control plane, no auth)."""
        if lifetime not in ("RESERVED", "EPHEMERAL"):
            raise invalid("lifetime must be RESERVED or EPHEMERAL")
        with self.s.lock:
            private = self.s.get("private_ips", private_ip_id, "private IP")
            bound = self.s.res["public_ips"].values()
            if any(r.get("privateIpId") == private_ip_id for r in bound):
                raise invalid("Private IP {} already has a public IP.".format(private_ip_id))
            taken = {r["ipAddress"] for r in self.s.res["public_ips"].values()}
            address = next(_POOL + str(n) for n in range(10, 255) if _POOL + str(n) not in taken)
            rec: Resource = {
                "id": self.s.new_id("publicip", "aaaaaaaa"),
                "assignedEntityId": private_ip_id,
                "assignedEntityType": "PRIVATE_IP",
                "availabilityDomain": None,
                "compartmentId": private["compartmentId"],
                "definedTags": {},
                "displayName": "public " + private["ipAddress"],
                "freeformTags": {},
                "ipAddress": address,
                "lifecycleState": "ASSIGNED",
                "lifetime": lifetime,
                "privateIpId": private_ip_id,
                "scope": "REGION",
                "timeCreated": now_rfc3339(),
                "publicIpPoolId": None,
            }
            self.s.res["public_ips"][rec["id"]] = rec
            return copy.deepcopy(rec)

    def private_ip_deleted(self, private_ip_id: str) -> None:
        """What OCI does to the public IP of a deleted private IP (under the store's lock)."""
        for rid, rec in list(self.s.res["public_ips"].items()):
            if rec.get("privateIpId") != private_ip_id:
                continue
            if rec["lifetime"] == "EPHEMERAL":
                del self.s.res["public_ips"][rid]
            else:
                rec.update(privateIpId=None, assignedEntityId=None, lifecycleState="AVAILABLE")
            self.s.touch(rid)

    def find(self, private_ip_id: Optional[str]) -> Optional[Resource]:
        with self.s.lock:
            for rec in self.s.res["public_ips"].values():
                if private_ip_id and rec.get("privateIpId") == private_ip_id:
                    return copy.deepcopy(rec)
        return None
