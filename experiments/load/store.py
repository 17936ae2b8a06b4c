"""``requests.parquet``: the run directory's copy of every request the load sent.

Verifiers and reports read this file, never the live run, so ``mlchaos report RUN`` can recompute everything
later. The file has exactly :data:`~mlchaos.experiments.records.REQUEST_SCHEMA`, whatever produced it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlchaos.experiments.records import REQUEST_COLUMNS, REQUEST_SCHEMA, RequestRecord


def requests_table(records: Sequence[RequestRecord]) -> pa.Table:
    """The records as an Arrow table with :data:`REQUEST_SCHEMA` (column by column: no per-row dicts)."""
    columns = {name: [getattr(r, name) for r in records] for name in REQUEST_COLUMNS}
    return pa.table(columns, schema=REQUEST_SCHEMA)


def records_frame(records: Sequence[RequestRecord]) -> pd.DataFrame:
    """The records as the DataFrame verifiers read (what :func:`read_requests_parquet` gives back)."""
    frame: pd.DataFrame = requests_table(records).to_pandas()
    return frame


def write_requests_parquet(records: Sequence[RequestRecord], path: str | os.PathLike[str]) -> Path:
    """Write the records to ``path`` atomically and return it.

    Written to a temporary sibling and renamed into place, so a run killed mid-write leaves either the
    previous file or none, never a truncated Parquet file that a later ``mlchaos report`` would choke on.
    """
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    pq.write_table(requests_table(records), partial, compression="zstd")
    partial.replace(target)
    return target


def read_requests_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The recorded requests as a DataFrame with :data:`REQUEST_SCHEMA`'s columns, in file order."""
    frame: pd.DataFrame = pq.read_table(path, schema=REQUEST_SCHEMA).to_pandas()
    return frame
