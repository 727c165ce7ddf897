"""Shared in-memory resource store: copies of the world's resources plus ETags."""

import base64
import copy
import datetime
import hashlib
import json
import secrets
import string
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from tests.fakes.errors import etag_mismatch, invalid, not_found
from tests.fakes.world import World

Resource = Dict[str, Any]

COLLECTIONS = (
    "subnets",
    "security_lists",
    "nsgs",
    "instances",
    "vnics",
    "vnic_attachments",
    "private_ips",
    "ipv6s",
    "public_ips",
)
MAX_PAGE = 1000


def now_rfc3339() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "{:03d}Z".format(now.microsecond // 1000)


class Store:
    """All mutable state. One RLock: the fake favours obviously-correct over fast."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lock = threading.RLock()
        self.res: Dict[str, Dict[str, Resource]] = {
            name: copy.deepcopy(world.get(name, {})) for name in COLLECTIONS
        }
        self._versions: Dict[str, int] = {}
        # rid -> (monotonic time, change): changes that land later (a move
        # that lands after its answer). Applied by settle(), which every
        # read path calls first, so no timer thread is needed.
        self._pending: Dict[str, Tuple[float, Callable[[], None]]] = {}

    # -- identity and etags -------------------------------------------------------
    def new_id(self, kind: str, prefix: str = "abuwcljt") -> str:
        tail = "".join(secrets.choice(string.ascii_lowercase + "234567") for _ in range(52))
        return "ocid1.{}.oc1.{}.{}{}".format(kind, self.world["region_key"], prefix, tail)

    def etag(self, rid: str) -> str:
        version = self._versions.get(rid, 0)
        return hashlib.sha1("{}:{}".format(rid, version).encode()).hexdigest()

    def touch(self, rid: str) -> None:
        self._versions[rid] = self._versions.get(rid, 0) + 1

    def check_if_match(self, rid: str, if_match: Optional[str]) -> None:
        if if_match and if_match != "*" and if_match.strip('"') != self.etag(rid):
            raise etag_mismatch()

    # -- changes that land later ---------------------------------------------------
    def schedule(self, rid: str, delay: float, change: Callable[[], None]) -> None:
        """Apply change to rid after delay seconds (replacing one already pending)."""
        with self.lock:
            self._pending[rid] = (time.monotonic() + delay, change)

    def pending(self, rid: str) -> bool:
        with self.lock:
            self.settle()
            return rid in self._pending

    def cancel(self, rid: str) -> None:
        with self.lock:
            self._pending.pop(rid, None)

    def settle(self, everything: bool = False) -> None:
        """Apply the pending changes that are due (all of them if everything), oldest first."""
        with self.lock:
            now = time.monotonic()
            due = sorted(
                (at, rid) for rid, (at, _) in self._pending.items() if everything or at <= now
            )
            for _, rid in due:
                _, change = self._pending.pop(rid)
                change()

    # -- lookups --------------------------------------------------------------------
    def get(self, collection: str, rid: str, what: str) -> Resource:
        self.settle()
        rec = self.res[collection].get(rid)
        if rec is None:
            raise not_found("{} {}".format(what, rid))
        return rec

    def snapshot(self) -> Dict[str, List[Resource]]:
        with self.lock:
            self.settle()
            return {name: copy.deepcopy(list(self.res[name].values())) for name in COLLECTIONS}


def encode_page(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def paginate(
    items: List[Resource], limit: Optional[str], page: Optional[str], always_next: bool = False
) -> Tuple[List[Resource], Optional[str]]:
    """Slice a list like OCI list operations: `limit` + opaque `page`, next in opc-next-page.

    always_next: every non-empty page names a next one, which may be empty
    (how ListPrivateIps answers; see fidelity.Fidelity.always_next_page).
    """
    try:
        size = MAX_PAGE if limit is None else int(limit)
    except ValueError:
        raise invalid("limit must be an integer") from None
    if not 1 <= size <= MAX_PAGE:
        raise invalid("limit must be between 1 and {}".format(MAX_PAGE))
    offset = 0
    if page:
        try:
            raw = base64.urlsafe_b64decode(page + "=" * (-len(page) % 4))
            offset = int(json.loads(raw)["o"])
        except (ValueError, KeyError, TypeError):
            raise invalid("The page token is invalid.") from None
    chunk = items[offset : offset + size]
    more = offset + size < len(items)
    nxt = encode_page(offset + len(chunk)) if more or (always_next and chunk) else None
    return copy.deepcopy(chunk), nxt
