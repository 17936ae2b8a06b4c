"""Selecting rows of a recording's frame without pandas's per-row index arrays.

``frame.loc[mask, columns]`` first turns the mask into the row numbers it selects (8 bytes a selected row: 80 MB
for 10 M answers) and then takes them; masking each column's values with NumPy, as :func:`selected` does, costs
only the result. A recording's strings are categoricals (``store.py``): their one-byte codes are masked, not the
strings. Verifiers counting the answers of a long phase use it (bench/report_scaling.py measures the peak).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def selected(frame: pd.DataFrame, mask: pd.Series | np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """``frame.loc[mask, columns]`` with a fresh index (0, 1, …): the same values and dtypes, in the same order."""
    keep = np.asarray(mask, dtype=bool)
    values: dict[str, pd.Series] = {}
    for name in columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()[keep]
            values[name] = pd.Series(pd.Categorical.from_codes(codes, dtype=column.dtype), name=name)
        else:
            values[name] = pd.Series(column.array[keep], name=name)
    return pd.DataFrame(values, copy=False)
