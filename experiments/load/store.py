"""``requests.parquet``: the run directory's copy of every request the load sent, and how analysis reads it.

Verifiers and reports read this file, never the live run, so ``mlchaos report RUN`` can recompute everything
later. The file has exactly :data:`~mlchaos.experiments.records.REQUEST_SCHEMA`, whatever produced it: at the end
of a run it is converted from the stream the run recorded into (:mod:`mlchaos.experiments.load.recording`); a run
killed before that is read from the stream instead.

Read for analysis, the frame is compact (bench/report_scaling.py): strings are pandas categoricals (a run repeats
the same few tiers, predictions and errors millions of times: one byte a row instead of a string each), nullable
booleans are ``boolean`` (two bytes a row instead of an object pointer), and rows are put in ``start`` order in
Arrow, only if they are not already, one column at a time, so no step holds two copies of the table. Verifiers
that set new values in a string column or compare two of them work on plain strings of their (small) share
(``verifiers.tagged.plain_strings``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlchaos.experiments.load.recording import stream_table
from mlchaos.experiments.records import REQUEST_COLUMNS, REQUEST_SCHEMA, RequestRecord

STRING_COLUMNS = tuple(f.name for f in REQUEST_SCHEMA if pa.types.is_string(f.type))


def requests_table(records: Sequence[RequestRecord]) -> pa.Table:
    """The records as an Arrow table with :data:`REQUEST_SCHEMA` (column by column: no per-row dicts)."""
    columns = {name: [getattr(r, name) for r in records] for name in REQUEST_COLUMNS}
    return pa.table(columns, schema=REQUEST_SCHEMA)


def records_frame(records: Sequence[RequestRecord]) -> pd.DataFrame:
    """The records as the DataFrame verifiers read (what :func:`read_requests_parquet` gives back)."""
    return compact_frame(requests_table(records))


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
    """The recorded requests as a compact DataFrame with :data:`REQUEST_SCHEMA`'s columns, sorted by ``start``.

    Read one column at a time, each put in order and made a pandas column before the next is read: what is held
    at once beyond the frame is one column (its Arrow copy and the file's decompressed pages), not the table."""
    source = pq.ParquetFile(path, read_dictionary=list(STRING_COLUMNS))
    rows, names = source.metadata.num_rows, set(source.schema_arrow.names)
    order = _order(source.read(columns=["start"]).column("start")) if "start" in names else None
    columns: dict[str, pd.Series] = {}
    for field in REQUEST_SCHEMA:  # a column an older file lacks is all null
        column = source.read(columns=[field.name]).column(field.name) if field.name in names else None
        if column is None:
            column = pa.chunked_array([pa.nulls(rows, field.type)])
        elif order is not None:
            column = column.take(order)
        columns[field.name] = _series(column, field)
        del column
        pa.default_memory_pool().release_unused()  # the allocator keeps freed pages for reuse: give them back
    return pd.DataFrame(columns, copy=False)


def read_requests_stream(path: Path) -> pd.DataFrame:
    """What a stream holds, up to its last complete batch, as :func:`read_requests_parquet` gives it back."""
    return compact_frame(_sorted(stream_table(path)))


def compact_frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as a frame: strings as categoricals, nullable booleans as ``boolean`` (see :func:`_series`)."""
    encoded = {
        name: pc.dictionary_encode(table[name]) for name in STRING_COLUMNS if name in table.column_names
    }
    for name, column in encoded.items():
        if not pa.types.is_dictionary(table.schema.field(name).type):
            table = table.set_column(table.schema.get_field_index(name), name, column)
    columns = {field.name: _series(table.column(field.name), field) for field in table.schema}
    return pd.DataFrame(columns, copy=False)


def _series(column: pa.ChunkedArray, field: pa.Field) -> pd.Series:
    """One column as pandas: strings categorical, nullable booleans ``boolean`` (2 bytes a row, not an 8-byte
    object pointer: compare them with ``.eq(True).fillna(False)``), ``status`` int32 as stored."""
    if pa.types.is_string(field.type) and not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    if pa.types.is_boolean(field.type):
        return pd.Series(pd.array(column, dtype="boolean"), name=field.name)
    series: pd.Series = column.to_pandas()
    return series.astype("int32") if field.name == "status" else series


def _order(start: pa.ChunkedArray) -> pa.Array | None:
    """The stable ``start`` order, or ``None`` when the rows are in it already (as a run writes them, mostly)."""
    if len(start) < 2 or pc.all(pc.greater_equal(start[1:], start[:-1])).as_py():
        return None
    return pc.sort_indices(start)


def _sorted(table: pa.Table) -> pa.Table:
    """``table`` in ``start`` order (stable), taking a copy only when it is not in order already."""
    order = _order(table["start"])
    return table if order is None else table.take(order)
