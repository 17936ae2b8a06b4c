"""``profiles``: the customer profile store, a read-only HTTP JSON service.

GET /v1/profiles/{customer_ref}   {"customer_ref", "chargebacks_90d", "account_age_days", "avg_ticket_eur"}
                                  404 {"problem": "unknown customer"} for anything but C-00000..C-00999
GET /healthz                      200

Run by supervisord as ``python -m riskd.profiles --config WORKDIR/riskd.json``.
"""

from __future__ import annotations

from typing import Final

from riskd.config import RiskdConfig
from riskd.data import profiles
from riskd.plainhttp import JsonHandler, serve

PREFIX: Final = "/v1/profiles/"


class ProfileHandler(JsonHandler):
    store = profiles()

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.send_json(200, {"alive": True, "customers": len(self.store)})
        elif self.path.startswith(PREFIX):
            profile = self.store.get(self.path.removeprefix(PREFIX))
            if profile is None:
                self.send_json(404, {"problem": "unknown customer"})
            else:
                self.send_json(200, profile.to_json())
        else:
            self.send_json(404, {"problem": "no such path"})


def main(argv: list[str] | None = None) -> None:
    config = RiskdConfig.from_argv(argv, prog="riskd.profiles")
    serve(ProfileHandler, config.ports.profiles)


if __name__ == "__main__":
    main()
