"""HTTP plumbing: request/response values and a ThreadingHTTPServer that can misbehave.

The app decides *what* to answer; this module knows *how* to answer, drop the
connection (RST, like a refused/reset connection) or die half-way through a body.
"""

import json
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Optional, Set
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.errors import ApiError

SEND, DROP, RESET = "send", "drop", "reset"


class Request:
    def __init__(
        self, method: str, target: str, headers: Dict[str, str], body: bytes, client: str
    ) -> None:
        parts = urlsplit(target)
        self.method = method
        self.target = target  # raw path?query exactly as on the request line (signed)
        self.path = unquote(parts.path)
        self.query: Dict[str, str] = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.headers = headers  # lower-case names
        self.body = body
        self.client = client
        self.node: Optional[str] = None
        self.principal: Optional[str] = None
        self.request_id = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            msg = "The request body is not valid JSON."
            raise ApiError(400, "CannotParseRequest", msg) from None

    def json_or_none(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (UnicodeDecodeError, ValueError):
            return None


class Response:
    def __init__(
        self, status: int, body: bytes = b"", headers: Optional[Dict[str, str]] = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    @classmethod
    def json(cls, status: int, obj: Any, headers: Optional[Dict[str, str]] = None) -> "Response":
        resp = cls(status, json.dumps(obj).encode("utf-8"), headers)
        resp.headers["Content-Type"] = "application/json"
        return resp

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> "Response":
        return cls(status, text.encode("utf-8"), {"Content-Type": content_type})

    @classmethod
    def error(cls, err: ApiError) -> "Response":
        return cls.json(err.status, {"code": err.code, "message": err.message}, err.headers)


class Outcome:
    def __init__(self, response: Optional[Response], how: str = SEND) -> None:
        self.response = response
        self.how = how


Dispatcher = Callable[[Request], Outcome]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOCI/1.0"
    timeout = 120  # idle keep-alive connections eventually go away

    server: "FakeHTTPServer"

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle plus
        # delayed ACK add ~40 ms to every request on a kept-alive connection.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.track(self.connection, False)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        headers: Dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = value if key not in headers else headers[key] + ", " + value
        req = Request(self.command, self.path, headers, body, self.client_address[0])
        outcome = self.server.dispatcher(req)
        if outcome.how == DROP or outcome.response is None:
            self._abort()
            return
        resp = outcome.response
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if outcome.how == RESET:
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            self._abort()
            return
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def _abort(self) -> None:
        """Close with RST: the client sees a reset, not a clean EOF."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.wfile.flush()
        except OSError:
            pass
        for closable in (self.rfile, self.wfile, self.connection):
            try:
                closable.close()
            except OSError:
                pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        if self.server.verbose:
            sys.stderr.write("{} - {}\n".format(self.address_string(), format % args))


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple, dispatcher: Dispatcher, verbose: bool = False) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.dispatcher = dispatcher
        self.verbose = verbose
        self._conns: Set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            if alive:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_connections(self) -> None:
        """Break idle keep-alive connections so handler threads exit on shutdown."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class ServerThread:
    """A FakeHTTPServer running serve_forever() on a daemon thread."""

    def __init__(self, host: str, port: int, dispatcher: Dispatcher, verbose: bool = False) -> None:
        self.httpd = FakeHTTPServer((host, port), dispatcher, verbose)
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host = "[{}]".format(self.host) if ":" in self.host else self.host
        return "http://{}:{}".format(host, self.port)

    def start(self) -> "ServerThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.close_connections()
        self.httpd.server_close()
        self._thread.join(timeout=5)
