"""``mlchaos serve DIR``: a runs folder over HTTP, read-only, with the standard library's server.

Why ``http.server`` and not ``SimpleHTTPRequestHandler`` as is: that one lists directories, follows symbolic
links wherever they lead and serves every file, dotfiles included. This handler keeps its request parsing and
replaces the file lookup with one that refuses more than it allows:

- only GET and HEAD; any other method is answered 405 (never 501), so a write can never be mistaken for "not yet";
- a path is resolved (symbolic links followed) and must stay inside DIR: ``..``, encoded ``%2e%2e``, absolute
  or backslash tricks and links leading out of DIR are all 404 — the answer does not say which;
- no directory listing at all: ``/`` is DIR/index.html (``mlchaos index``, refreshed by every suite) and a
  directory is 404; what can be reached is what index.html and the reports link, plus the other outputs beside
  them (files with the suffixes in :data:`SERVED`); hidden files (``.index.html.partial``, locks) are never served;
- every answer forbids scripts and loading anything (Content-Security-Policy, as the pages' own), is not sniffed,
  not cached;
- bound to loopback (the default), only requests naming a loopback host are answered (403 otherwise), so a web
  page elsewhere cannot read the reports through DNS rebinding. Bound to another address (the chart's
  Deployment) any Host is accepted;
- by default everything is under a random path, ``http://127.0.0.1:PORT/<token>/``, printed once: other users of
  a shared machine can reach the port but cannot guess the path, so they cannot read a folder they could not read
  on disk (the token is masked in the request log). The index's links are relative, so they keep the prefix.
  ``--no-token`` drops it where something else decides who may connect (the chart's pod behind its Service).

Nothing here writes: serving a read-only volume (the chart mounts the reports PVC read-only) just works.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

from mlchaos.reports.index import INDEX_NAME

SERVED = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".yaml": "text/plain; charset=utf-8",
    ".jsonl": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
"""The outputs a run or suite writes for people and CI, by suffix (parquet files and the rest are not served)."""
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
REQUEST_TIMEOUT_S = 30
"""A client that sends nothing for this long is dropped: a stuck connection never holds a thread for good."""


def resolve(root: Path, url_path: str, token: str | None = None) -> Path | None:
    """The file under ``root`` (already resolved) a request path names, or ``None`` if it names nothing that may
    be served (see the module docstring); with ``token``, the path must begin with it."""
    path = unquote(urlsplit(url_path).path, errors="strict")
    if "\x00" in path or "\\" in path:
        return None
    parts = [part for part in path.split("/") if part]
    if token is not None:
        if not parts or not hmac.compare_digest(parts[0].encode(), token.encode()):
            return None
        parts = parts[1:]
    if any(part == ".." or part.startswith(".") for part in parts):
        return None
    candidate = root.joinpath(*parts) if parts else root / INDEX_NAME
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a loop of links
        return None
    if not real.is_relative_to(root) or not real.is_file() or real.suffix not in SERVED:
        return None
    return real


class ReadOnlyHandler(BaseHTTPRequestHandler):
    """Answers GET and HEAD with files under the server's root; everything else as the module docstring says."""

    server: RunsServer
    server_version = "mlchaos-serve"
    sys_version = ""
    timeout = REQUEST_TIMEOUT_S

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers 501 when it is missing; every other method is a write
        # or a probe this server refuses as such.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self.close_connection = True  # its body, if any, is never read
        self._text(
            HTTPStatus.METHOD_NOT_ALLOWED, b"read-only: only GET and HEAD\n", body=True, Allow="GET, HEAD"
        )

    def _host_allowed(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
        return host in LOOPBACK_NAMES

    def _answer(self, *, body: bool) -> None:
        if not self._host_allowed():
            self._text(HTTPStatus.FORBIDDEN, b"this server answers only requests for localhost\n", body=body)
            return
        token = self.server.token
        if token is not None and urlsplit(self.path).path == f"/{token}":
            # Relative links resolve against the directory: /<token>/, not /.
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", f"/{token}/")
            self._headers("text/plain; charset=utf-8", 0)
            return
        try:
            path = resolve(self.server.root, self.path, token)
        except UnicodeDecodeError:  # a %-escape that is not UTF-8 names no file here
            path = None
        if path is None:
            self._text(HTTPStatus.NOT_FOUND, b"not found\n", body=body)
            return
        with path.open("rb") as file:
            self.send_response(HTTPStatus.OK)
            # The size of the file opened: index.html may be replaced meanwhile (the suite writes a new one).
            self._headers(SERVED[path.suffix], os.fstat(file.fileno()).st_size)
            if body:
                shutil.copyfileobj(file, self.wfile)

    def log_message(self, format: str, *args: Any) -> None:
        message = format % args
        if self.server.token is not None:
            message = message.replace(self.server.token, "<token>")
        super().log_message("%s", message)

    def _text(self, status: HTTPStatus, message: bytes, *, body: bool, **extra: str) -> None:
        self.send_response(status)
        self._headers("text/plain; charset=utf-8", len(message), **extra)
        if body:
            self.wfile.write(message)

    def _headers(self, content_type: str, length: int, **extra: str) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in {**SECURITY_HEADERS, **extra}.items():
            self.send_header(name, value)
        self.end_headers()


class RunsServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow client never keeps the process alive after Ctrl-C

    def __init__(self, root: Path, host: str, port: int, *, token: bool = True) -> None:
        self.root = root.resolve()
        self.token = secrets.token_urlsafe(18) if token else None
        self.loopback_only = _is_loopback(host)
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), ReadOnlyHandler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/" + (f"{self.token}/" if self.token else "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _signals_stop() -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM (a pod being stopped) end the server. SIGINT is handled explicitly: a shell
    starts background jobs with it ignored, and Python then never turns it into KeyboardInterrupt. Only the main
    thread may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve(directory: Path, *, host: str, port: int, token: bool, say: Callable[[str], None]) -> None:
    """Serve ``directory`` until Ctrl-C or SIGTERM. Raises OSError if the address cannot be bound."""
    server = RunsServer(directory, host, port, token=token)
    try:
        say(f"serving {server.root} read-only at {server.url} (Ctrl-C to stop)")
        if server.token is None:
            say(
                f"no token: anyone who can reach {host}:{server.server_address[1]} can read every report here"
            )
        if not (server.root / INDEX_NAME).is_file():
            say(f"no {INDEX_NAME} yet: `mlchaos index {directory}` writes it (every suite refreshes it)")
        with _signals_stop(), contextlib.suppress(KeyboardInterrupt):
            server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    say("stopped")
