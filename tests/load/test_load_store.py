"""requests.parquet: exact schema, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from mlchaos.experiments.load.store import read_requests_parquet, write_requests_parquet
from mlchaos.experiments.records import REQUEST_COLUMNS, REQUEST_SCHEMA, RequestRecord

RECORDS = [
    RequestRecord(1.5, 2.25, 200, "primary", 0.9, "legit", None, "legit"),
    RequestRecord(1.75, 3000.0, 0, None, None, None, "TimeoutError: timed out", None),
    RequestRecord(2.0, 4.5, 500, None, None, None, "HTTP 500", "fraud"),
]


def test_round_trip(tmp_path: Path) -> None:
    path = write_requests_parquet(RECORDS, tmp_path / "requests.parquet")
    assert pq.read_schema(path).remove_metadata() == REQUEST_SCHEMA
    df = read_requests_parquet(path)
    assert tuple(df.columns) == REQUEST_COLUMNS
    assert df["status"].tolist() == [200, 0, 500]
    assert df["tier"].iloc[0] == "primary" and df["tier"].isna().tolist() == [False, True, True]
    assert df["error"].iloc[1] == "TimeoutError: timed out"
    assert df["label"].iloc[2] == "fraud"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_empty_run_still_has_the_schema(tmp_path: Path) -> None:
    df = read_requests_parquet(write_requests_parquet([], tmp_path / "requests.parquet"))
    assert df.empty and tuple(df.columns) == REQUEST_COLUMNS
    assert str(df["status"].dtype) == "int32"
