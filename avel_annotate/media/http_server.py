"""A local HTTP file server that honours single Range requests (tests, benchmarks, `avel demo`).

Python's ``http.server`` ignores ``Range``; yt-dlp's section download (ffmpeg reading over HTTP)
seeks with ranges, so the server must answer ``206 Partial Content``. It binds 127.0.0.1 only.
Per-path behaviours (``RangeServer.behave(path, ...)``) simulate the failures a fetcher must
survive:

- ``status=404|429|...``: answer that status (optionally only the first ``times`` requests);
- ``rate_bps``: throttle the body to that many bytes per second (a slow server);
- ``truncate_at``: the file seems whole (Content-Length of the full answer) but no byte at or
  past this offset is ever sent: the connection closes early;
- ``stall_at``: like ``truncate_at``, but the connection then stays open and silent until the
  client gives up or the server stops (a source that stalls mid-transfer).

Every request is recorded (path, method, range header, status) for assertions.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)$")
# manifests must not be announced as video, or yt-dlp's generic extractor downloads them as files
_CONTENT_TYPES = {".mpd": "application/dash+xml", ".html": "text/html; charset=utf-8"}
_CHUNK = 64 * 1024


@dataclass
class Behaviour:
    status: int | None = None
    times: int | None = None  # answer `status` only this many times, then serve normally
    rate_bps: int | None = None
    truncate_at: int | None = None
    stall_at: int | None = None
    served_status: int = 0  # how many times `status` was answered


@dataclass(frozen=True)
class RequestRecord:
    path: str
    method: str
    range: str | None
    status: int
    t: float  # time.monotonic() when answered


@dataclass
class _State:
    root: Path
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """GET/HEAD of files under the server root, with single-range 206 answers."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self, status: int) -> None:
        state = self.server.state
        with state.lock:
            state.requests.append(
                RequestRecord(
                    self.path, self.command, self.headers.get("Range"), status, time.monotonic()
                )
            )

    def _fail(self, status: int) -> None:
        self._record(status)
        body = f"{status} {HTTPStatus(status).phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _behaviour(self, path: str) -> Behaviour | None:
        state = self.server.state
        with state.lock:
            b = state.behaviours.get(path)
            if b is None or b.status is None:
                return b
            if b.times is None or b.served_status < b.times:
                b.served_status += 1
                return Behaviour(status=b.status)
            return Behaviour(rate_bps=b.rate_bps, truncate_at=b.truncate_at, stall_at=b.stall_at)

    def _serve(self, *, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        behaviour = self._behaviour(path)
        if behaviour is not None and behaviour.status is not None:
            self._fail(behaviour.status)
            return
        file = (self.server.state.root / path.lstrip("/")).resolve()
        if self.server.state.root not in file.parents or not file.is_file():
            self._fail(404)
            return
        size = file.stat().st_size
        answer = self._range(size)
        if answer is None:
            return
        status, start, end = answer
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", _CONTENT_TYPES.get(file.suffix, "video/mp4"))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if send_body:
            self._send_body(file, start, end, behaviour)

    def _range(self, size: int) -> tuple[int, int, int] | None:
        """(status, first byte, last byte) of the answer; None when a 416 was sent already."""
        start, end = 0, size - 1
        header = self.headers.get("Range")
        if not header:
            return 200, start, end
        match = _RANGE_RE.match(header.strip())
        if match is None or (not match.group(1) and not match.group(2)):
            self._fail(416)
            return None
        if match.group(1):
            start = int(match.group(1))
            if match.group(2):
                end = min(int(match.group(2)), size - 1)
        else:  # suffix range: the last N bytes
            start = max(0, size - int(match.group(2)))
        if start >= size or start > end:
            self._record(416)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return 206, start, end

    def _send_body(self, file: Path, start: int, end: int, behaviour: Behaviour | None) -> None:
        """Bytes ``start..end``, cut, stalled or throttled as the file's behaviour says."""
        limit = end + 1
        truncated = False
        cut = behaviour.truncate_at if behaviour is not None else None
        if cut is not None and cut < limit:
            limit, truncated = cut, True
        stall = behaviour.stall_at if behaviour is not None else None
        stalled = stall is not None and stall < limit
        if stall is not None and stalled:
            limit, truncated = max(start, stall), True
        rate = behaviour.rate_bps if behaviour is not None else None
        try:
            with file.open("rb") as fh:
                fh.seek(start)
                pos = start
                while pos < limit:
                    chunk = fh.read(min(_CHUNK, limit - pos))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    pos += len(chunk)
                    if rate:
                        time.sleep(len(chunk) / rate)
            if stalled:
                self.wfile.flush()
                self.server.state.stopping.wait()  # silent, connection open, until stop()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        if truncated:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients (yt-dlp, ffmpeg) hang up mid-body all the time; that is not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RangeServer:
    """``with RangeServer(root) as srv: srv.url("/x.mp4")`` - serves ``root`` on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self._httpd = _Server(("127.0.0.1", 0), RangeRequestHandler)
        self._httpd.state = _State(root=root.resolve())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def behave(self, path: str, **kwargs: Any) -> None:
        with self._httpd.state.lock:
            self._httpd.state.behaviours["/" + path.lstrip("/")] = Behaviour(**kwargs)

    def extractions(self, path: str) -> int:
        """GETs without a Range header: one per yt-dlp extraction of that path."""
        return sum(1 for r in self.requests(path) if r.method == "GET" and r.range is None)

    def requests(self, path: str | None = None) -> list[RequestRecord]:
        with self._httpd.state.lock:
            records = list(self._httpd.state.requests)
        if path is None:
            return records
        want = "/" + path.lstrip("/")
        return [r for r in records if r.path.split("?", 1)[0] == want]

    def start(self) -> RangeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.state.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """``python -m avel_annotate.media.http_server ROOT``: serve a folder (benchmarks)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    args = parser.parse_args()
    with RangeServer(args.root) as srv:
        print(srv.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
