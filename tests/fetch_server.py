"""A local HTTP server on 127.0.0.1 standing in for the public sources behind ``--mirror``.

Routes are keyed by the real URL's ``HOST/PATH`` (what the mirror rewrite produces). A route is a
payload served with an ETag (and 304 to a matching ``If-None-Match``) or a list of scripted
replies, consumed in order (the last one repeats). Unknown paths answer 403, as FINRA's CDN does for
a file that does not exist. The server thread is a daemon, each request has a socket timeout, and
the fixture stops it: it never outlives the test.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # announce the full length, send half, close
    delay: float = 0.0  # seconds before answering (timeouts)


class Routes:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.scripted: dict[str, list[Reply]] = {}
        self.log: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self.lock = threading.Lock()

    def put(self, path: str, body: bytes) -> None:
        self.files[path.lstrip("/")] = body

    def script(self, path: str, *replies: Reply) -> None:
        self.scripted[path.lstrip("/")] = list(replies)

    def requests(self, path: str) -> list[dict[str, str]]:
        return [h for _, p, h in self.log if p == path.lstrip("/")]

    def answer(self, path: str) -> Reply:
        with self.lock:
            queue = self.scripted.get(path)
            if queue:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        body = self.files.get(path)
        if body is None:
            return Reply(
                403,
                b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>",
                {"Content-Type": "application/xml"},
            )
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        return Reply(200, body, {"Content-Type": "binary/octet-stream", "ETag": etag})


def _handler(routes: Routes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # a stuck client cannot hold a server thread

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _serve(self, with_body: bool) -> None:
            path = self.path.lstrip("/")
            headers = {k.lower(): v for k, v in self.headers.items()}
            with routes.lock:
                routes.log.append((self.command, path, headers))
            reply = routes.answer(path.split("?", 1)[0] if path not in routes.scripted else path)
            if reply.delay:
                time.sleep(reply.delay)
            etag = reply.headers.get("ETag")
            if reply.status == 200 and etag and headers.get("if-none-match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if with_body:
                self.wfile.write(reply.body[: len(reply.body) // 2] if reply.truncate else reply.body)
            if reply.truncate:
                self.close_connection = True

        def do_GET(self) -> None:
            try:
                self._serve(True)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                self.close_connection = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self._serve(True)

    return Handler


@dataclass
class Server:
    url: str
    routes: Routes


def serve() -> Iterator[Server]:
    routes = Routes()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", routes)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
