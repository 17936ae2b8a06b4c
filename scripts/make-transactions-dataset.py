#!/usr/bin/env python3
"""Write scenarios/data/transactions.jsonl: request bodies for the embedded stack, each with its true label.

Deterministic: the same seed gives the same file (a test checks the committed file is what this script writes).
Usage: scripts/make-transactions-dataset.py [OUTPUT] [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlchaos.staging.data import sample_requests

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "transactions.jsonl"


def dataset_lines(count: int, seed: int) -> list[str]:
    return [
        json.dumps({"body": body, "label": label}, sort_keys=True)
        for body, label in sample_requests(count, seed)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(dataset_lines(args.count, args.seed)) + "\n", encoding="utf-8")
    print(f"wrote {args.count} requests to {args.output}")


if __name__ == "__main__":
    main()
