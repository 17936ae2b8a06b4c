"""Who a distributed load's master listens to: the check, made on each message before Locust acts on it, that a
worker speaks only for itself and that a worker joining a running load cannot touch it."""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: it monkey-patches for gevent, which must precede every other import

# isort: on
import logging
from collections.abc import Callable, Sequence

from locust.rpc import Message
from locust.runners import MasterRunner

from mlchaos.experiments.load.conversation import DONE, HELLO, ROWS

logger = logging.getLogger("mlchaos.load.distributed")


def admit(runner: MasterRunner, team: Callable[[], Sequence[str]]) -> None:
    """What reaches Locust's master (and the master's handlers) from a worker's connection; ``team`` is the
    workers handed users (none before the load starts).

    - A message that names another worker than the connection it came on is dropped: Locust believes the
      sender named in a message (``quit`` and ``client_stopped`` remove that worker), and only the connection's
      id is the authenticated one.
    - Once the load runs, a worker that connects is acknowledged but never added to Locust's workers: Locust
      would hand it a share of the users at once — before our "busy" answer could reach it — and its users would
      run without the load's clock. Then only its hello (answered "busy") gets through; whatever else it sends
      (a ``quit`` included) cannot touch the team's load.

    Wrapping the master's receive is the one place this can be decided before Locust acts on a message.
    """
    server = runner.server
    receive = server.recv_from_client
    impostors: set[str] = set()

    def receive_from_team() -> tuple[str, Message]:
        while True:
            client_id, msg = receive()  # type: ignore[no-untyped-call]
            if msg.node_id != client_id:
                if client_id not in impostors:  # once: it may well keep trying
                    impostors.add(client_id)
                    logger.error("dropped %s from %s claiming to be %r", msg.type, client_id, msg.node_id)
                continue
            if (members := team()) and client_id not in members:
                if msg.type == "client_ready":
                    server.send_to_client(Message("ack", {"index": -1}, client_id))  # type: ignore[no-untyped-call]
                if msg.type not in (HELLO, ROWS, DONE):  # rows and done are ignored aloud by their handlers
                    continue
            return client_id, msg

    server.recv_from_client = receive_from_team  # type: ignore[method-assign]
