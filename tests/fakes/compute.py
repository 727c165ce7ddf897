"""Instances, VNIC attachments and power actions with timed lifecycle transitions.

Listeners (e.g. a lab that kills or boots a node's namespace) are told about every
lifecycle change; they run on the timer thread, outside the store lock.
"""

import copy
import threading
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from tests.fakes.errors import incorrect_state, invalid, missing, not_found
from tests.fakes.store import Resource, Store, paginate
from tests.fakes.world import node_by_instance

# listener(node_name, instance_id, new_state, action)
Listener = Callable[[Optional[str], str, str, str], None]

# action -> state sequence after the immediate one; "SOFT" actions take twice as long.
_PLANS = {
    "STOP": ["STOPPING", "STOPPED"],
    "SOFTSTOP": ["STOPPING", "STOPPED"],
    "START": ["STARTING", "RUNNING"],
    "RESET": ["STOPPING", "STOPPED", "STARTING", "RUNNING"],
    "SOFTRESET": ["STOPPING", "STOPPED", "STARTING", "RUNNING"],
}
_NOOP_WHEN = {
    "STOP": ("STOPPED", "STOPPING"),
    "SOFTSTOP": ("STOPPED", "STOPPING"),
    "START": ("RUNNING", "STARTING"),
}
_ALLOWED_FROM = {
    "STOP": ("RUNNING",),
    "SOFTSTOP": ("RUNNING",),
    "START": ("STOPPED",),
    "RESET": ("RUNNING",),
    "SOFTRESET": ("RUNNING",),
}


class ComputeOps:
    def __init__(self, store: Store, action_delay: float = 0.3) -> None:
        self.s = store
        self.action_delay = action_delay
        self._listeners: List[Listener] = []
        self._timers: List[threading.Timer] = []
        # instance id -> generation; a newer action or override cancels a pending plan
        self._generation: Dict[str, int] = {}

    # -- reads --------------------------------------------------------------------------
    def _check_compartment(self, compartment_id: Optional[str]) -> None:
        if not compartment_id:
            raise missing("compartmentId is required.")
        if compartment_id not in (self.s.world["compartment_id"], self.s.world["tenancy_id"]):
            raise not_found("Compartment {}".format(compartment_id))

    def list_instances(self, q: Mapping[str, str]) -> Tuple[List[Resource], Optional[str]]:
        self._check_compartment(q.get("compartmentId"))
        with self.s.lock:
            items = [
                i
                for i in self.s.res["instances"].values()
                if i["compartmentId"] == q["compartmentId"]
                and (not q.get("displayName") or i["displayName"] == q["displayName"])
                and (
                    not q.get("lifecycleState")
                    or i["lifecycleState"] == q["lifecycleState"].upper()
                )
                and (
                    not q.get("availabilityDomain")
                    or i["availabilityDomain"] == q["availabilityDomain"]
                )
            ]
            items.sort(key=lambda i: i["displayName"])
            return paginate(items, q.get("limit"), q.get("page"))

    def get_instance(self, iid: str) -> Tuple[Resource, str]:
        with self.s.lock:
            return copy.deepcopy(self.s.get("instances", iid, "Instance")), self.s.etag(iid)

    def list_vnic_attachments(self, q: Mapping[str, str]) -> Tuple[List[Resource], Optional[str]]:
        self._check_compartment(q.get("compartmentId"))
        with self.s.lock:
            items = [
                a
                for a in self.s.res["vnic_attachments"].values()
                if a["compartmentId"] == q["compartmentId"]
                and (not q.get("instanceId") or a["instanceId"] == q["instanceId"])
                and (not q.get("vnicId") or a["vnicId"] == q["vnicId"])
                and (
                    not q.get("availabilityDomain")
                    or a["availabilityDomain"] == q["availabilityDomain"]
                )
            ]
            return paginate(items, q.get("limit"), q.get("page"))

    def get_vnic_attachment(self, aid: str) -> Resource:
        with self.s.lock:
            return copy.deepcopy(self.s.get("vnic_attachments", aid, "VNIC attachment"))

    # -- power actions -----------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def instance_action(self, iid: str, action: str) -> Tuple[Resource, str]:
        action = (action or "").upper()
        if action not in _PLANS:
            raise invalid(
                "Unsupported action {!r}; this fake supports {}.".format(
                    action, ", ".join(sorted(_PLANS))
                )
            )
        with self.s.lock:
            inst = self.s.get("instances", iid, "Instance")
            state = inst["lifecycleState"]
            if state in _NOOP_WHEN.get(action, ()):
                return self.get_instance(iid)
            if state not in _ALLOWED_FROM[action]:
                raise incorrect_state(
                    "Instance {} is {}; cannot perform {}.".format(iid, state, action)
                )
            plan = list(_PLANS[action])
            gen = self._generation.get(iid, 0) + 1
            self._generation[iid] = gen
            first = plan.pop(0)
        self._set_state(iid, first, action)
        delay = self.action_delay * (2 if action.startswith("SOFT") else 1)
        self._schedule(iid, plan, action, gen, delay)
        return self.get_instance(iid)

    def _schedule(self, iid: str, plan: List[str], action: str, gen: int, delay: float) -> None:
        if not plan:
            return

        def step() -> None:
            if self._generation.get(iid) != gen:
                return
            self._set_state(iid, plan[0], action)
            self._schedule(iid, plan[1:], action, gen, delay)

        timer = threading.Timer(delay, step)
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def set_state(self, iid: str, state: str) -> None:
        """Control-plane override (cancels any pending transition)."""
        with self.s.lock:
            self.s.get("instances", iid, "Instance")
            self._generation[iid] = self._generation.get(iid, 0) + 1
        self._set_state(iid, state.upper(), "CONTROL")

    def _set_state(self, iid: str, state: str, action: str) -> None:
        with self.s.lock:
            self.s.res["instances"][iid]["lifecycleState"] = state
            self.s.touch(iid)
        node = node_by_instance(self.s.world, iid)
        for listener in list(self._listeners):
            listener(node["name"] if node else None, iid, state, action)

    def stop_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
