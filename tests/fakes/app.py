"""Request dispatch shared by every role: routing, faults, IMDS outages and the call log."""

import base64
import ipaddress
import json
import re
import time
import uuid
from typing import Any, Callable, List, Optional, Sequence, Tuple

from tests.fakes import core, federation, imds
from tests.fakes.control import FakeCloud, Fault
from tests.fakes.errors import ApiError
from tests.fakes.transport import DROP, RESET, SEND, Outcome, Request, Response

ROLES = ("core", "federation", "imds")
LOOPBACK = ("127.0.0.0/8", "::1/128")


class FakeApp:
    """Callable dispatcher handed to FakeHTTPServer."""

    def __init__(
        self,
        cloud: FakeCloud,
        roles: Sequence[str] = ROLES,
        node: Optional[str] = None,
        control_from: Sequence[str] = LOOPBACK,
    ) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError("unknown roles: {}".format(", ".join(sorted(unknown))))
        if node is not None and node not in cloud.world["nodes"]:
            raise ValueError("unknown node {!r}".format(node))
        self.cloud = cloud
        self.roles = list(roles)
        self.node = node
        self.control_from = [ipaddress.ip_network(n) for n in control_from]

    def __call__(self, req: Request) -> Outcome:
        req.request_id = req.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        if req.path.startswith("/_fake/"):
            return _with_id(req, Outcome(self._control(req)))
        found = self._route(req)
        if found is None:
            return _with_id(req, Outcome(Response.error(ApiError(404, "NotFound", "Not Found"))))
        op, handler = found
        # What the call would cost on OCI (tests/fakes/latency.py; none by default).
        self.cloud.latency.wait(op)
        if op.startswith("Imds:") and self.cloud.is_imds_down(req.node):
            return self._log(req, op, Outcome(None, DROP), None)
        fault = self.cloud.faults.take(op, req.node or self._caller_node(req))
        if fault is not None and fault.delay > 0:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            outcome = Outcome(_fault_response(fault), _how(fault))
            if fault.drop:
                outcome.response = None
        else:
            outcome = Outcome(self._run(handler, req), _how(fault) if fault else SEND)
            if fault is not None and fault.body is not None and outcome.response is not None:
                # The state changed, then the answer is garbled on the way back.
                outcome.response.body = fault.body.encode("utf-8")
        return self._log(req, op, _with_id(req, outcome), fault)

    def _caller_node(self, req: Request) -> Optional[str]:
        """The node whose instance principal signed a Core call, for node-scoped
        faults (unverified here: the handler checks the signature)."""
        match = re.search(r'keyId="ST\$([^".]+)\.([^".]+)\.', req.headers.get("authorization", ""))
        if not match:
            return None
        try:
            payload = match.group(2) + "=" * (-len(match.group(2)) % 4)
            sub = json.loads(base64.urlsafe_b64decode(payload)).get("sub")
        except (ValueError, TypeError):
            return None
        for name, node in self.cloud.world["nodes"].items():
            if node["instance_id"] == sub:
                return str(name)
        return None

    def _route(self, req: Request) -> Optional[Tuple[str, Callable[[Request], Response]]]:
        if "core" in self.roles:
            found = core.route(self.cloud, req)
            if found is not None:
                return found
        if "federation" in self.roles:
            found = federation.route(self.cloud, req)
            if found is not None:
                return found
        if "imds" in self.roles:
            return imds.route(self.cloud, req, self.node)
        return None

    @staticmethod
    def _run(handler: Callable[[Request], Response], req: Request) -> Response:
        try:
            return handler(req)
        except ApiError as err:
            return Response.error(err)

    def _log(self, req: Request, op: str, outcome: Outcome, fault: Optional[Fault]) -> Outcome:
        resp = outcome.response
        self.cloud.log.append(
            {
                "op": op,
                "method": req.method,
                "path": req.path,
                "query": dict(req.query),
                "status": resp.status if resp is not None and outcome.how != DROP else None,
                "outcome": outcome.how,
                "principal": req.principal,
                "node": req.node,
                "time": time.time(),
                "opc-request-id": req.request_id,
                "fault": fault.id if fault is not None else None,
                "body": req.json_or_none(),
            }
        )
        return outcome

    def _control(self, req: Request) -> Response:
        try:
            client = ipaddress.ip_address(req.client.split("%")[0])
        except ValueError:
            client = None
        if client is None or not any(client in net for net in self.control_from):
            return Response.error(ApiError(403, "NotAllowed", "control is loopback-only"))
        name = req.path[len("/_fake/") :].strip("/")
        if name.startswith("rpc/"):
            name = name[len("rpc/") :]
        payload: Any = req.json_or_none() or {}
        args: List[Any] = payload.get("args", []) if isinstance(payload, dict) else []
        kwargs = payload.get("kwargs", {}) if isinstance(payload, dict) else {}
        try:
            result = self.cloud.rpc(name, args, kwargs)
        except KeyError:
            return Response.error(ApiError(404, "NotFound", "no control method " + name))
        except ApiError as err:
            return Response.error(err)
        except (TypeError, ValueError) as err:
            return Response.error(ApiError(400, "InvalidParameter", str(err)))
        return Response.json(200, {"result": json.loads(json.dumps(result, default=str))})


def _with_id(req: Request, outcome: Outcome) -> Outcome:
    if outcome.response is not None:
        outcome.response.headers.setdefault("opc-request-id", req.request_id)
    return outcome


def _how(fault: Fault) -> str:
    if fault.drop:
        return DROP
    if fault.reset_mid_body:
        return RESET
    return SEND


def _fault_response(fault: Fault) -> Response:
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = "{:g}".format(fault.retry_after)
    status = fault.status or 503
    if fault.body is not None:
        resp = Response(status, fault.body.encode("utf-8"), headers)
        resp.headers["Content-Type"] = "application/json"
        return resp
    message = fault.message or "Injected fault ({}).".format(fault.code)
    return Response.error(ApiError(status, fault.code, message, headers))
