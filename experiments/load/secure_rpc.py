"""Locust's master-worker connection, encrypted and authenticated both ways with keys derived from the load secret.

**Why Locust's classes are replaced here.** Locust's rpc (``locust.rpc.zmqrpc``) creates its ZeroMQ socket and
binds or connects it within one constructor, and ``locust.runners`` builds it as ``rpc.Server(...)`` /
``rpc.Client(...)`` with no hook in between. CURVE options must be set before the bind or connect, so
:func:`install` replaces those two names in ``locust.rpc.zmqrpc`` — the one place Locust looks them up, for its
reconnects too — with subclasses that set them. This is the only module that reaches into Locust's rpc.

- **Keys.** Both CURVE key pairs are derived from the secret (HMAC-SHA256 of it, labelled "master" or "worker"):
  each side knows the other's public key from the secret alone, and no key ever travels.
- **Master.** A CURVE server whose ZAP handler admits only the worker public key. A peer without the secret never
  gets a message through to Locust: without CURVE its greeting is refused (mechanism mismatch); with another
  secret its hello does not decrypt under the master's key, or its key is refused. The ZAP handler is a greenlet
  with a green REP socket on ``inproc://zeromq.zap.01`` in the server socket's own context (ZeroMQ asks the
  handler of that context, and a real thread would block gevent's loop). pyzmq's ``Authenticator`` is not used:
  its ZAP socket is not a green one and its handler is a coroutine.
- **Worker.** A CURVE client expecting the master's public key: only a master holding the secret completes the
  handshake, so a fake master gets nothing but a hello it cannot open. :func:`handshake` tries one before Locust
  connects, so a worker says at once why it will not take a spec from a master.
- **Refused peers are named.** A socket monitor sees each failed handshake, but ZeroMQ does not say whose it was.
  It reports the connection's file descriptor when it accepts it, and again when it closes it right after the
  failure (same I/O thread, so in that order); the peer's address is read from the descriptor when the monitor
  gets there first. A local peer often fails its handshake sooner, so then the address comes from the kernel's
  table of TCP connections on their way out (``/proc/net/tcp``): a refused connection that the master closed
  stays there (``TIME_WAIT``) for a minute, while workers' connections stay open during the load. A peer that
  hangs up first (a client without CURVE often does, and so does a port scan) leaves only a moment to look:
  such a refusal may be named "an unknown address" — ZeroMQ retries every 100 ms, and the next try is named.
  When several peers are refused at once, their names may be swapped between their reasons.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import zmq
import zmq.green
from gevent.event import Event
from locust.exception import RPCError
from locust.rpc import zmqrpc
from zmq.utils import monitor, z85

from mlchaos.experiments.errors import LoadFailure

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_VERSION = b"1.0"
TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_CLOSING_STATES = {"04", "05", "06", "08", "09", "0B"}
"""FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE_WAIT, LAST_ACK, CLOSING: connections on their way out."""
UNKNOWN_PEER = "an unknown address"
_CLOSE_POLLS, _CLOSE_POLL_S = 10, 0.01
_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)
_SERVER_EVENTS = zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | _FAILED
_CLIENT_EVENTS = zmq.EVENT_HANDSHAKE_SUCCEEDED | _FAILED

logger = logging.getLogger("mlchaos.load.rpc")
Refused = Callable[[str, str], None]
"""Called with a refused peer's address and why it was refused."""


@dataclass(frozen=True)
class Keys:
    """Both CURVE key pairs of one load (Z85-encoded, as ZeroMQ takes them)."""

    master_public: bytes
    master_secret: bytes
    worker_public: bytes
    worker_secret: bytes

    @classmethod
    def from_secret(cls, secret: str) -> Keys:
        master, worker = _derived(secret, b"master"), _derived(secret, b"worker")
        return cls(zmq.curve_public(master), master, zmq.curve_public(worker), worker)


def _derived(secret: str, role: bytes) -> bytes:
    # Any 32 bytes are a Curve25519 secret key (the curve clamps them); HMAC keeps the two roles' keys unrelated.
    return z85.encode(hmac.new(secret.encode(), b"mlchaos load key: " + role, hashlib.sha256).digest())


class MasterRefused(LoadFailure):
    """The master did not complete the handshake: it does not hold this load's secret."""


class RefusedPeers:
    """Says once per peer host and reason that a connection was refused; counts the repeats (ZeroMQ reconnects
    every 100 ms) for :meth:`summarise`."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def __call__(self, peer: str, why: str) -> None:
        key = (peer.rpartition(":")[0] or peer, why)
        if key not in self._counts:
            logger.error("refused a load worker connection from %s: %s", peer, why)
        self._counts[key] += 1

    @property
    def hosts(self) -> list[str]:
        return sorted({host for host, _ in self._counts})

    def summarise(self) -> None:
        for (host, why), count in sorted(self._counts.items()):
            logger.error("refused %d connection attempt(s) from %s in all: %s", count, host, why)


def install(keys: Keys, on_refused: Refused | None = None) -> None:
    """From now on Locust's masters and workers in this process connect with CURVE and ``keys``; a master says
    whom it refused to ``on_refused`` (default: logged as refused)."""
    _CurveServer.keys = _CurveClient.keys = keys
    _CurveServer.on_refused = staticmethod(on_refused or RefusedPeers())
    zmqrpc.Server = _CurveServer  # type: ignore[misc]
    zmqrpc.Client = _CurveClient  # type: ignore[misc]


class _CurveServer(zmqrpc.Server):
    keys: Keys
    on_refused: Refused

    def __init__(self, host: str, port: int) -> None:
        # Locust's Server.__init__, with the CURVE options and the guards set between creating and binding
        zmqrpc.BaseSocket.__init__(self, zmq.ROUTER, self.ipv4_only(host, port))  # type: ignore[no-untyped-call]
        sock = self.socket
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.keys.master_secret)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.keys.master_public)
        self._zap = _ZapHandler(sock.context, self.keys.worker_public)
        self._watch = _Watch(sock, _SERVER_EVENTS, self._on_event)
        self._peers: dict[int, str] = {}
        self._named: set[str] = set()
        self._failed: str | None = None
        try:
            if port == 0:
                self.port = sock.bind_to_random_port(f"tcp://{host}")
            else:
                sock.bind(f"tcp://{host}:{port}")
                self.port = port
        except zmq.ZMQError as exc:
            self._stop_guards()
            raise RPCError(f"Socket bind failure: {exc}") from exc

    def _on_event(self, event: int, value: int) -> None:
        if event == zmq.EVENT_ACCEPTED:
            peer = _peer_of(value)
            if peer is not None:
                self._peers[value] = peer
                self._named.add(peer)
        elif event & _FAILED:
            self._failed = _why(event, value)
        elif event == zmq.EVENT_DISCONNECTED:
            why, self._failed = self._failed, None
            peer = self._peers.pop(value, None)
            if why is None:
                return
            if peer is None:  # closed before the monitor could look: the kernel still lists it, as closing
                peer = self._closed_since()
            self.on_refused(peer or UNKNOWN_PEER, why)

    def _closed_since(self) -> str | None:
        """The peer of a connection closed by this side that was not named yet (one per refusal: when several
        were refused at once, each refusal names one of them). ZeroMQ reports the disconnection just before it
        closes the descriptor, so the closing connection may take a moment to show."""
        for _ in range(_CLOSE_POLLS):
            peers = _closing_peers(self.port) - self._named
            if peers:
                peer = min(peers)
                self._named.add(peer)
                return peer
            gevent.sleep(_CLOSE_POLL_S)
        return None

    def _stop_guards(self) -> None:
        self._watch.stop()
        self._zap.stop()

    def close(self, linger: int | None = None) -> None:
        self._stop_guards()
        super().close(linger)  # type: ignore[no-untyped-call]


class _CurveClient(zmqrpc.Client):
    keys: Keys

    def __init__(self, host: str, port: int, identity: str) -> None:
        # Locust's Client.__init__, with the CURVE options set before connecting
        zmqrpc.BaseSocket.__init__(self, zmq.DEALER, self.ipv4_only(host, port))  # type: ignore[no-untyped-call]
        _as_worker(self.socket, self.keys)
        self.socket.setsockopt(zmq.IDENTITY, identity.encode())
        where = f"{host}:{port}"

        def on_event(event: int, value: int) -> None:
            logger.error("the load master at %s was refused: %s", where, _why(event, value, master=True))

        self._watch = _Watch(self.socket, _FAILED, on_event)
        self.socket.connect(f"tcp://{_bracketed(host)}:{port}")

    def close(self, linger: int | None = None) -> None:
        self._watch.stop()
        super().close(linger)  # type: ignore[no-untyped-call]


def handshake(host: str, port: int, keys: Keys, stopped: Event) -> bool:
    """Wait until the master at ``host:port`` completes a CURVE handshake with this worker's keys (True), or a
    stop (False). Waits as long as nothing listens there; :class:`MasterRefused` saying why if the master there
    does not hold the secret."""
    context = zmq.green.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    _as_worker(sock, keys)
    if ":" in host:
        sock.setsockopt(zmq.IPV6, 1)
    events = sock.get_monitor_socket(_CLIENT_EVENTS)
    try:
        sock.connect(f"tcp://{_bracketed(host)}:{port}")
        while not stopped.is_set():
            if not events.poll(200):
                continue
            message = monitor.recv_monitor_message(events)
            if message["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                return True
            raise MasterRefused(_why(message["event"], message["value"], master=True))
        return False
    finally:
        sock.disable_monitor()
        events.close(linger=0)
        sock.close(linger=0)
        context.term()


def _as_worker(sock: Any, keys: Keys) -> None:
    sock.setsockopt(zmq.CURVE_SERVERKEY, keys.master_public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.worker_secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.worker_public)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _why(event: int, value: int, *, master: bool = False) -> str:
    """Why a handshake failed, ending with what it means: the peer does not hold this load's secret."""
    peer = "the master" if master else "the peer"
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        how = f"{peer}'s key is not this load's"
    elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        how = f"{peer} does not use CURVE encryption"
    elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        how = f"{peer}'s keys do not match this load's"
    elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        how = f"{peer} broke the handshake (ZeroMQ protocol error {value:#x})"
    else:
        how = f"{peer} ended the connection during the handshake"
    return f"{how}: it does not hold this load's secret"


def _peer_of(fd: int) -> str | None:
    """``host:port`` of the connection on ``fd`` (a duplicate is looked at: the descriptor is ZeroMQ's), or None
    once it is closed."""
    try:
        with socket.socket(fileno=os.dup(fd)) as conn:
            host, port = conn.getpeername()[:2]
    except (OSError, ValueError):
        return None
    return _address(ipaddress.ip_address(host), port)


def _address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def _closing_peers(port: int) -> set[str]:
    """The peers of this network namespace's TCP connections on local ``port`` that were closed from this side
    and are still closing (Linux' ``/proc/net/tcp``; nothing elsewhere)."""
    peers = set()
    for table in TCP_TABLES:
        try:
            lines = table.read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()  # sl local_address rem_address st ...: addresses as HEXIP:HEXPORT
            if (
                len(fields) < 4
                or fields[3] not in _CLOSING_STATES
                or int(fields[1].rsplit(":", 1)[1], 16) != port
            ):
                continue
            raw_ip, raw_port = fields[2].rsplit(":", 1)
            packed = bytes.fromhex(raw_ip)  # 32-bit words in host (little-endian) order
            ip = ipaddress.ip_address(b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4)))
            peers.add(_address(ip, int(raw_port, 16)))
    return peers


class _ZapHandler:
    """Answers ZeroMQ's authentication requests for one context: only the worker key is let in."""

    def __init__(self, context: Any, worker_public: bytes) -> None:
        self._allowed = z85.decode(worker_public)
        self._socket = context.socket(zmq.REP)  # the green context: a green socket
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(ZAP_ENDPOINT)
        self._greenlet = gevent.spawn(self._serve)

    def _serve(self) -> None:
        while True:
            self._socket.send_multipart(self._reply(self._socket.recv_multipart()))

    def _reply(self, frames: list[bytes]) -> list[bytes]:
        request_id = frames[1] if len(frames) > 1 else b""
        version, mechanism, credentials = (
            (frames[0], frames[5], frames[6:]) if len(frames) >= 6 else (b"", b"", [])
        )
        allowed = (
            version == ZAP_VERSION
            and mechanism == b"CURVE"
            and len(credentials) == 1
            and hmac.compare_digest(credentials[0], self._allowed)
        )
        status = [b"200", b"OK", b"load-worker"] if allowed else [b"400", b"not this load's worker key", b""]
        return [ZAP_VERSION, request_id, *status, b""]

    def stop(self) -> None:
        self._greenlet.kill()
        self._socket.close(linger=0)


class _Watch:
    """Feeds a socket's monitor events (``events``) to ``on_event(event, value)`` in a greenlet."""

    def __init__(self, sock: Any, events: int, on_event: Callable[[int, int], None]) -> None:
        self._sock = sock
        self._events = sock.get_monitor_socket(events)
        self._greenlet = gevent.spawn(self._watch, on_event)

    def _watch(self, on_event: Callable[[int, int], None]) -> None:
        while True:
            message = monitor.recv_monitor_message(self._events)
            on_event(message["event"], message["value"])

    def stop(self) -> None:
        self._greenlet.kill()
        with contextlib.suppress(zmq.ZMQError):  # the socket is already closed
            self._sock.disable_monitor()
        self._events.close(linger=0)
