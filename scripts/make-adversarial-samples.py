#!/usr/bin/env python3
"""Write the catalogue's supplied adversarial samples: ``scenarios/data/adversarial-supplied.jsonl``.

Each line is ``{"input": {...}, "clean": {...}, "label": "..."}``: a request drawn as the stack's world draws
them (``clean``, with its true ``label``) and a hard variant of it (``input``) — the amount nudged up by 15 % and
the merchant risk by 0.05, the small, plausible moves a fraudster makes to slip under a threshold. The clean
counterpart lets mlchaos ask the target what it answers without the nudge, so ``adversarial_robustness`` can
count flips.

Deterministic: the same arguments write the same file (a test checks the committed file is what this writes).
Usage: scripts/make-adversarial-samples.py [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mlchaos.staging.data import sample_requests

DATA = Path(__file__).resolve().parents[1] / "scenarios" / "data"
NAME = "adversarial-supplied.jsonl"


def nudged(body: dict[str, Any]) -> dict[str, Any]:
    variant = {**body, "amount": round(body["amount"] * 1.15, 2)}
    if "merchant_risk" in body:
        variant["merchant_risk"] = round(min(1.0, body["merchant_risk"] + 0.05), 4)
    return variant


def sample_lines(count: int, seed: int) -> list[str]:
    return [
        json.dumps({"input": nudged(body), "clean": body, "label": label}, sort_keys=True)
        for body, label in sample_requests(count, seed)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    lines = sample_lines(args.count, args.seed)
    (DATA / NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} samples to {DATA / NAME}")


if __name__ == "__main__":
    main()
