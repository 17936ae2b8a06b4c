#!/usr/bin/env python3
"""Write the catalogue's request datasets for the embedded stack, each request with its true label.

- ``scenarios/data/transactions.jsonl``: requests drawn as the stack's world draws them (all canaries).
- ``scenarios/data/transactions-with-outliers.jsonl``: the same, but every 20th request is an outlier — an amount
  a thousand times too large and no ``merchant_risk`` — that the fallback model refuses (out of distribution)
  and the rules cannot score. Outliers have no label: their truth is unknown, so they are not canaries.

Deterministic: the same arguments write the same files (a test checks the committed files are what this writes).
Usage: scripts/make-transactions-dataset.py [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mlchaos.staging.data import sample_requests

DATA = Path(__file__).resolve().parents[1] / "scenarios" / "data"
OUTLIER_EVERY = 20


def _line(body: dict[str, Any], label: str | None) -> str:
    return json.dumps({"body": body, "label": label}, sort_keys=True)


def dataset_lines(count: int, seed: int) -> list[str]:
    return [_line(body, label) for body, label in sample_requests(count, seed)]


def outlier_dataset_lines(count: int, seed: int) -> list[str]:
    lines = []
    for index, (body, label) in enumerate(sample_requests(count, seed)):
        if index % OUTLIER_EVERY == OUTLIER_EVERY - 1:
            outlier = {key: value for key, value in body.items() if key != "merchant_risk"}
            outlier["amount"] = round(body["amount"] * 1000, 2)
            lines.append(_line(outlier, None))
        else:
            lines.append(_line(body, label))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    for name, lines in (
        ("transactions.jsonl", dataset_lines(args.count, args.seed)),
        ("transactions-with-outliers.jsonl", outlier_dataset_lines(args.count, args.seed)),
    ):
        (DATA / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {len(lines)} requests to {DATA / name}")


if __name__ == "__main__":
    main()
