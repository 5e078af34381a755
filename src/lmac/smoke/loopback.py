"""A file server on the loopback interface: downloads exercised without the network.

``make smoke-paper`` serves its stand-in archives and checkpoints with it, and the tests serve theirs
(127.0.0.1, an ephemeral port). For the download tests it can misbehave on purpose: 503 answers,
bodies cut short, no Range support (retry and resume).
"""

from __future__ import annotations

import contextlib
import http.server
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ServerStats:
    """What the loopback server saw: one (path, Range header or None, status) per request."""

    requests: list[tuple[str, str | None, int]] = field(default_factory=list)

    @property
    def ranges(self) -> list[str]:
        return [r for _, r, _ in self.requests if r is not None]

    @property
    def count(self) -> int:
        return len(self.requests)


_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@contextlib.contextmanager
def serve_files(
    directory, *, fail_first_n: int = 0, truncate_first_n: int = 0, support_range: bool = True
) -> Iterator[tuple[str, ServerStats]]:
    """Serve ``directory`` on 127.0.0.1; yield ``(base_url, stats)``.

    Requests are numbered in arrival order: the first ``fail_first_n`` get 503; the next
    ``truncate_first_n`` get full headers (true Content-Length) but only half the body before the
    connection is dropped.  ``Range: bytes=N-[M]`` is answered with 206 unless
    ``support_range=False`` (then the whole file comes back with 200, as some servers do).
    """
    directory = Path(directory).resolve()
    stats = ServerStats()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def _record(self, status: int) -> None:
            with lock:
                stats.requests[self.number] = (self.path, self.headers.get("Range"), status)

        def do_GET(self):
            target = (directory / self.path.split("?", 1)[0].lstrip("/")).resolve()
            with lock:  # reserve this request's number before anything else can interleave
                number = self.number = len(stats.requests)
                stats.requests.append((self.path, self.headers.get("Range"), 0))
            if number < fail_first_n:
                self._record(503)
                self._reply(503, b"try again later")
                return
            if directory not in target.parents or not target.is_file():
                self._record(404)
                self._reply(404, b"not found")
                return
            data = target.read_bytes()
            status, start, end = 200, 0, len(data)
            match = _RANGE.match(self.headers.get("Range", "") or "")
            if support_range and match:
                start = int(match.group(1))
                end = min(int(match.group(2)) + 1, len(data)) if match.group(2) else len(data)
                if start >= len(data):
                    self._record(416)
                    self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                    return
                status = 206
            body = data[start:end]
            self._record(status)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes" if support_range else "none")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if number < fail_first_n + truncate_first_n:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

        def _reply(self, status: int, body: bytes, headers: dict | None = None):
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stats
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
