"""Move a VIP (a secondary private IP, or an IPv6) to a VNIC: the cloud half of start.

The sequence is oci-cli's `assign-private-ip --unassign-if-already-assigned`
plus optimistic concurrency: GetVnic (subnet) -> ListPrivateIps(ipAddress,
subnetId) -> nothing / UpdatePrivateIp(vnicId, if-match) / CreatePrivateIp
-> GetPrivateIp to confirm. The private IP keeps its OCID when it moves, so a
reserved public IP bound to it follows.

A move may land after its answer: recorded UpdatePrivateIp answers carry no
vnicId and the next GET shows the new VNIC (docs/oci-behaviour.md). So an
address on no VNIC is a move in flight, not an unassigned one, unless OCI
says ipState AVAILABLE; after our own move we read it back until it shows
our VNIC, within the op's budget, and never write twice for one move.

A node that has seen the VIP before (the agent's node cache: KnownVip) skips
the lookup: GetPrivateIp by the known OCID gives the holder and the etag, and
UpdatePrivateIp is the second call. A known OCID that is gone (404), that is
not the VIP's address or not in the known subnet any more falls back to the
full lookup; a lost write (412) does too, with the same race rules.

Works on any object with OciApi's methods (see VipApi), so tests can pass a
FakeOciApi. Importing this module does not import the SDK.
"""

import ipaddress
import time
from typing import Any, Callable, ContextManager, Dict, List, NamedTuple, Optional, Protocol, Union

from pcs_oci.common import reports
from pcs_oci.lib import vip_errors
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.imds import IPAddress, parse_ip
from pcs_oci.lib.oci.api import IpFamily, Tagged, ip_family, new_retry_token
from pcs_oci.lib.oci.errors import http_detail
from pcs_oci.lib.oci.retry import BUSY_CODES
from pcs_oci.lib.oci.settings import DEFAULT_MAX_TOTAL_SECONDS
from pcs_oci.lib.private_ip import IPV6_TERMINATED, PrivateIpInfo, info_of

# Times we re-read and retry after someone else changed the private IP between
# our read and our write (412 NoEtagMatch, or a 409 on create).
DEFAULT_MAX_RACES = 3

# Reading a move back: the first poll after this many seconds, then doubling
# up to the second value. Recorded moves land within a second.
_FIRST_POLL_SECONDS = 0.1
_MAX_POLL_SECONDS = 1.0
# An address on no VNIC whose ipState we cannot see (SDKs before 2.146.0 drop
# ipState and lifetime) is waited on this long as a move in flight before it
# is taken for an unassigned reserved IP.
IN_FLIGHT_GRACE_SECONDS = 5.0
# The bound of a whole assign_vip when the caller gives no budget_seconds:
# OciApi's default retry budget, which also ends the calls themselves.
DEFAULT_BUDGET_SECONDS = DEFAULT_MAX_TOTAL_SECONDS

ACTION_UNCHANGED = "unchanged"
ACTION_MOVED = "moved"
ACTION_CREATED = "created"


class VipApi(Protocol):
    def budget(self, seconds: Optional[float] = None) -> ContextManager[None]: ...

    def get_vnic(self, vnic_id: str) -> Dict[str, Any]: ...

    def list_ips(
        self,
        family: IpFamily,
        ip_address: Optional[str] = None,
        subnet_id: Optional[str] = None,
        vnic_id: Optional[str] = None,
    ) -> List[Dict[str, Any]]: ...

    def get_ip(self, family: IpFamily, ip_id: str) -> Tagged: ...

    def create_ip(
        self, family: IpFamily, vnic_id: str, ip: str, retry_token: str
    ) -> Dict[str, Any]: ...

    def move_ip(
        self, family: IpFamily, ip_id: str, vnic_id: str, if_match: Optional[str]
    ) -> Dict[str, Any]: ...


class AssignResult(NamedTuple):
    # "unchanged" (no write call), "moved" or "created"
    action: str
    private_ip_id: str
    # The VNIC it was on before a move (None if it was unassigned or new).
    previous_vnic_id: Optional[str]


class KnownVip(NamedTuple):
    """What this node learnt about the VIP in an earlier action; never trusted
    blindly (assign_vip checks it against what OCI answers)."""

    private_ip_id: str
    # The subnet of this node's VNIC, which the VIP's private IP must be in.
    subnet_id: str


class _Family(NamedTuple):
    """The four calls of the VIP's family (IPv4 private IP or IPv6) on one API."""

    api: VipApi
    ips: IpFamily

    @property
    def noun(self) -> str:
        return self.ips.label

    def list(self, **filters: Optional[str]) -> List[Dict[str, Any]]:
        return self.api.list_ips(self.ips, **filters)

    def get(self, ip_id: str) -> Tagged:
        return self.api.get_ip(self.ips, ip_id)

    def create(self, vnic_id: str, ip: str, retry_token: str) -> Dict[str, Any]:
        return self.api.create_ip(self.ips, vnic_id, ip, retry_token)

    def update(self, ip_id: str, vnic_id: str, if_match: Optional[str]) -> Dict[str, Any]:
        return self.api.move_ip(self.ips, ip_id, vnic_id, if_match)


def _family(api: VipApi, address: IPAddress) -> _Family:
    return _Family(api, ip_family(address))


def same_ip(value: Any, address: IPAddress) -> bool:
    # Exact comparison of addresses, never of strings ("10.0.0.1" vs "10.0.0.10").
    try:
        return ipaddress.ip_address(str(value)) == address
    except ValueError:
        return False


def _find(family: _Family, address: IPAddress, subnet_id: str) -> Optional[PrivateIpInfo]:
    entries = [
        e
        for e in family.list(ip_address=str(address), subnet_id=subnet_id)
        if same_ip(e.get("ip_address"), address) and e.get("lifecycle_state") != IPV6_TERMINATED
    ]
    if len(entries) > 1:
        raise CloudError(
            reports.item(
                reports.VIP_AMBIGUOUS,
                "VIP {} matches {} {} objects in subnet {}: {}".format(
                    address,
                    len(entries),
                    family.noun,
                    subnet_id,
                    ", ".join(str(e.get("id")) for e in entries),
                ),
                "delete the stray ones in the console so exactly one is left",
            )
        )
    return info_of(entries[0]) if entries else None


def where_is_vip(api: VipApi, ip: Union[str, IPAddress], subnet_id: str) -> Optional[PrivateIpInfo]:
    """The private IP (or IPv6) object with address ip in the subnet, if any."""
    address = parse_ip(ip)
    return _find(_family(api, address), address, subnet_id)


def assign_vip(
    api: VipApi,
    vnic_id: str,
    ip: Union[str, IPAddress],
    max_races: int = DEFAULT_MAX_RACES,
    budget_seconds: Optional[float] = None,
    known: Optional[KnownVip] = None,
    learnt: Optional[Dict[str, str]] = None,
) -> AssignResult:
    """Make the VIP ip a secondary address of vnic_id; confirm it by reading back.

    All calls share one retry deadline (api.budget), so the whole move is
    bounded by settings.worst_case_seconds() (pcs_oci.lib.oci.settings).

    known (the node cache) replaces GetVnic and ListPrivateIps by one
    GetPrivateIp of the known OCID, when OCI's answer still fits it; learnt,
    if given, gets the VIP's subnet_id for the node cache.

    Races: every write is conditional (if-match etag; a create carries a
    retry token and fails if the address exists: see _exists_already). When a
    write loses (412, or that failure on create) we look again:
    - the VIP is on our VNIC: someone did our job, success ("unchanged");
    - it is still where we saw it (only its etag changed): try again, at most
      max_races times;
    - it is on a third VNIC: another node moved it while we were moving it.
      We lost the race and fail (transient VIP_MOVE_CONFLICT) instead of
      taking it back, so two nodes starting at once never ping-pong the VIP:
      OCI keeps it on the winner, and Pacemaker sees this start fail.
    """
    address = parse_ip(ip)
    family = _family(api, address)
    deadline = time.monotonic() + (
        DEFAULT_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    )
    with api.budget(budget_seconds):
        # Read by the known OCID: the holder and the etag in one call.
        cached = _read_known(family, address, known) if known is not None else None
        if cached is not None and known is not None:
            subnet_id = known.subnet_id
        else:
            subnet_id = _vnic_subnet(api, vnic_id, address)
        if learnt is not None:
            learnt["subnet_id"] = subnet_id
        # One token for every create of this call (made when first needed).
        retry_token: Optional[str] = None
        # The write we lost and where the VIP was when we tried it.
        lost: Optional[CloudError] = None
        seen: Optional[str] = None
        for _ in range(max_races):
            found = (
                info_of(cached.data) if cached is not None else _find(family, address, subnet_id)
            )
            if found is not None and found.gone:
                # An IPv6 being deleted: let the delete finish, then create.
                _wait_until_deleted(family, address, found, deadline)
                found = cached = None
            if found is not None and found.is_primary:
                raise vip_errors.primary_error(address, found.vnic_id)
            holder = found.vnic_id if found is not None else None
            if found is not None and holder == vnic_id:
                _until_available(family, address, found, vnic_id, deadline)
                return AssignResult(ACTION_UNCHANGED, found.id, vnic_id)
            if lost is not None and holder != seen:
                raise _conflict(family, address, vnic_id, holder, lost)
            if found is None:
                seen = None
                retry_token = retry_token or new_retry_token()
                try:
                    family.create(vnic_id, str(address), retry_token)
                except CloudError as e:
                    if _exists_already(e):
                        lost = e
                        continue
                    raise
                # Read back by address: the create's answer is not trusted
                # (a garbled 200 after a create that happened).
                created = _find(family, address, subnet_id)
                if created is None or created.vnic_id != vnic_id:
                    raise vip_errors.not_confirmed(
                        address,
                        created.id if created else None,
                        created.vnic_id if created else None,
                        vnic_id,
                    )
                _until_available(family, address, created, vnic_id, deadline)
                return AssignResult(ACTION_CREATED, created.id, None)
            current = cached if cached is not None else family.get(found.id)
            # A lost write below looks again with the full lookup.
            cached = None
            now = info_of(current.data)
            if now.moving:
                # Someone's move in flight (or ours, from a start that timed
                # out after its write): let it land rather than overtake it.
                current = _read_back(
                    family,
                    found.id,
                    lambda entry, _: entry.moving,
                    min(deadline, time.monotonic() + IN_FLIGHT_GRACE_SECONDS),
                )
                now = info_of(current.data)
            if now.is_primary:
                raise vip_errors.primary_error(address, now.vnic_id)
            if now.vnic_id == vnic_id:
                return AssignResult(ACTION_UNCHANGED, found.id, vnic_id)
            if lost is not None and now.vnic_id != seen:
                raise _conflict(family, address, vnic_id, now.vnic_id, lost)
            seen = now.vnic_id
            try:
                family.update(found.id, vnic_id, current.etag or None)
            except CloudError as e:
                # 412 NoEtagMatch: it changed since we read it; look again.
                if e.status == 412:
                    lost = e
                    continue
                raise
            return _landed(family, address, vnic_id, found.id, now.vnic_id, deadline)
    last = lost or CloudError(reports.item(reports.OCI_PRECONDITION_FAILED, ""), status=412)
    raise CloudError(
        reports.item(
            reports.OCI_PRECONDITION_FAILED,
            "OCI {} failed {} times: {}: VIP {} changed under us while moving it to VNIC {}".format(
                _lost_operation(family, last),
                max_races,
                http_detail(last.oci_code, last.status, last.request_id),
                address,
                vnic_id,
            ),
            "another node is moving it at the same time; check the cluster for a split brain",
        ),
        transient=True,
        status=last.status,
        oci_code=last.oci_code,
        request_id=last.request_id,
    )


def _vnic_subnet(api: VipApi, vnic_id: str, address: IPAddress) -> str:
    """GetVnic: the subnet to look the VIP up in; the VIP must not be its primary IP."""
    vnic = api.get_vnic(vnic_id)
    subnet_id = vnic.get("subnet_id")
    if not subnet_id:
        raise CloudError(
            reports.item(
                reports.OCI_REQUEST_ERROR,
                "VNIC {} has no subnet (VLAN-attached VNICs are not supported)".format(vnic_id),
            )
        )
    if address.version == 4 and same_ip(vnic.get("private_ip"), address):
        raise vip_errors.primary_error(address, vnic_id)
    return str(subnet_id)


def _read_known(family: _Family, address: IPAddress, known: KnownVip) -> Optional[Tagged]:
    """The VIP's private IP read by its known OCID, or None when what is known
    is stale: the OCID is gone (404), or OCI's object is not the VIP's address
    in the known subnet (the file was from another configuration). Other
    failures are the API's and propagate, as on the full path."""
    try:
        current = family.get(known.private_ip_id)
    except CloudError as e:
        if e.status == 404:
            return None
        raise
    data = current.data
    if not same_ip(data.get("ip_address"), address) or data.get("subnet_id") != known.subnet_id:
        return None
    return current


def _exists_already(e: CloudError) -> bool:
    """The create lost: someone created the address between our list and our
    create. What OCI answers then is neither documented nor recorded; we take
    409 Conflict (not IncorrectState/LockConflict, busy VNICs the SDK has
    retried already) and 400 InvalidParameter whose message says "already"
    as that answer, and read the address again."""
    if e.status == 409:
        return e.oci_code not in BUSY_CODES
    message = " ".join(r.message for r in e.reports).lower()
    return e.status == 400 and e.oci_code == "InvalidParameter" and "already" in message


def _conflict(
    family: _Family,
    address: IPAddress,
    vnic_id: str,
    holder: Optional[str],
    lost: CloudError,
) -> CloudError:
    # The OCI error code and opc-request-id of the write we lost come first:
    # Pacemaker keeps 128 characters of the exit reason.
    return CloudError(
        reports.item(
            reports.VIP_MOVE_CONFLICT,
            "OCI {} lost a race: {}: VIP {} was {} VNIC {} "
            "by someone else while this node was moving it to VNIC {}; not taking it back".format(
                _lost_operation(family, lost),
                http_detail(lost.oci_code, lost.status, lost.request_id),
                address,
                "moved to" if lost.status == 412 else "created on",
                holder or "(none)",
                vnic_id,
            ),
            "another node started the VIP at the same moment (a split brain without fencing?);"
            " OCI keeps it on the winner and this start fails",
        ),
        transient=True,
        status=lost.status,
        oci_code=lost.oci_code,
        request_id=lost.request_id,
    )


def _lost_operation(family: _Family, lost: CloudError) -> str:
    """The write that lost: an update answers 412; a create 409 or 400 (_exists_already)."""
    return family.ips.operation("Update" if lost.status == 412 else "Create")


def _read_back(
    family: _Family,
    private_ip_id: str,
    waiting: Callable[[PrivateIpInfo, Dict[str, Any]], bool],
    until: float,
) -> Tagged:
    """GetPrivateIp (GetIpv6) until waiting() is false or the time is up; the last answer."""
    pause = _FIRST_POLL_SECONDS
    while True:
        current = family.get(private_ip_id)
        if not waiting(info_of(current.data), current.data) or time.monotonic() + pause >= until:
            return current
        time.sleep(pause)
        pause = min(pause * 2, _MAX_POLL_SECONDS)


def _out_of_time(e: CloudError) -> bool:
    """The op's budget ended the read-back (OciApi's OCI_TIMEOUT)."""
    return bool(e.reports) and e.reports[0].code == reports.OCI_TIMEOUT


def _until_available(
    family: _Family, address: IPAddress, found: PrivateIpInfo, vnic_id: str, deadline: float
) -> None:
    """An Ipv6 still PROVISIONING on vnic_id: read it back until it is AVAILABLE."""
    if not found.provisioning:
        return
    try:
        now = info_of(_read_back(family, found.id, lambda e, _: e.provisioning, deadline).data)
    except CloudError as e:
        if not _out_of_time(e):
            raise
        now = found
    if now.provisioning:
        raise CloudError(
            reports.item(
                reports.VIP_MOVE_NOT_CONFIRMED,
                "VIP {} ({}) on VNIC {} was still PROVISIONING at the end of the op's time".format(
                    address, found.id, vnic_id
                ),
                "OCI is slow to set the address up; the next start looks again and"
                " does not create it twice",
            ),
            transient=True,
        )
    if now.holder != vnic_id:
        raise vip_errors.not_confirmed(address, now.id, now.vnic_id, vnic_id)


def _wait_until_deleted(
    family: _Family, address: IPAddress, found: PrivateIpInfo, deadline: float
) -> None:
    """An Ipv6 TERMINATING: read it back until it is TERMINATED or not found."""
    try:
        now = info_of(_read_back(family, found.id, lambda e, _: e.terminating, deadline).data)
    except CloudError as e:
        if e.status == 404:
            return
        if not _out_of_time(e):
            raise
        now = found
    if now.terminating:
        raise CloudError(
            reports.item(
                reports.VIP_MOVE_NOT_CONFIRMED,
                "VIP {} ({}) is being deleted (TERMINATING) and was not gone at the end of"
                " the op's time".format(address, found.id),
                "someone deletes the IPv6 address; the next start creates it again once it is gone",
            ),
            transient=True,
        )


def _landed(
    family: _Family,
    address: IPAddress,
    vnic_id: str,
    private_ip_id: str,
    previous: Optional[str],
    deadline: float,
) -> AssignResult:
    """OCI accepted our move: read it back until it shows our VNIC. No vnicId
    means "still moving" (what recorded OCI shows between the answer and the
    landing); any other VNIC, the one it left included, means someone moved
    it after us."""

    def moving(now: PrivateIpInfo, _: Dict[str, Any]) -> bool:
        return now.vnic_id is None

    try:
        now = info_of(_read_back(family, private_ip_id, moving, deadline).data)
    except CloudError as e:
        if _out_of_time(e):
            raise vip_errors.not_landed(address, private_ip_id, vnic_id, None, e) from None
        raise
    if now.vnic_id == vnic_id:
        return AssignResult(ACTION_MOVED, private_ip_id, previous)
    if moving(now, {}):
        raise vip_errors.not_landed(address, private_ip_id, vnic_id, now.vnic_id, None)
    raise vip_errors.not_confirmed(address, private_ip_id, now.vnic_id, vnic_id)
