"""Column types of the result frames, and writing/reading them as CSV or Parquet with the same columns and types.

CSV keeps no types, so every frame is put in a *canonical* form that reading can restore: the fixed columns
have declared types; the others (parameters, metrics) are int64, float64 (also integers with gaps), bool,
nullable boolean (booleans with gaps) or strings. Floats are written with full precision and parsed exactly
(pandas 3's default; ``float_precision="round_trip"`` on pandas 2), so values survive CSV bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lrsearch.errors import LrsearchError

# The string dtype pandas gives to a column of Python strings: "str" in pandas 3, object before.
STRING = pd.Series(["x"]).dtype
DATETIME = "datetime64[us, UTC]"

TRIALS_DTYPES: dict[str, Any] = {
    "study": STRING, "number": "int64", "state": STRING, "value": "float64", "last_value": "float64",
    "metric": STRING, "direction": STRING, "datetime_start": DATETIME, "datetime_complete": DATETIME,
    "duration_s": "float64", "epochs_run": "int64", "fail_reason": STRING, "worker": STRING, "device": STRING,
    "seed": "Int64", "confirmed_mean": "float64", "confirmed_sd": "float64", "confirmed_n": "int64",
    "recipe": STRING, "stage": "Int64",
}
CURVES_DTYPES: dict[str, Any] = {
    "study": STRING, "trial": "int64", "epoch": "int64", "step": "int64", "wall_time": "float64",
    "optimizer": STRING, "group": STRING, "lr": "float64", "momentum": "float64", "weight_decay": "float64",
    "frozen": "boolean",
}
CONFIRM_DTYPES: dict[str, Any] = {
    "study": STRING, "number": "int64", "seed": "int64", "state": STRING, "metric": STRING, "value": "float64",
    "epochs": "Int64", "duration_s": "float64", "error": STRING,
}
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _strings(series: pd.Series) -> pd.Series:
    values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in series]
    return pd.Series(values, index=series.index, dtype=STRING, name=series.name)


def _infer(series: pd.Series) -> pd.Series:
    """The canonical type of a parameter or metric column."""
    kind = series.dtype.kind
    if kind in "iu":
        return series.astype("int64")
    if kind == "f":
        return series.astype("float64")
    if kind == "b":
        return series.astype(bool)
    present = [v for v in series if not (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)))]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return series.astype("boolean")
    if present and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                       for v in present):
        floats = series.astype("float64")
        return floats.astype("int64") if len(present) == len(series) and (floats % 1 == 0).all() else floats
    return _strings(series)


def canonical(frame: pd.DataFrame, declared: dict[str, Any]) -> pd.DataFrame:
    """``frame`` with the declared types on its fixed columns and canonical types on the others."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        dtype = declared.get(column)
        if dtype == DATETIME:
            series = pd.to_datetime(series, utc=True, format="ISO8601").astype(DATETIME)
        elif dtype is STRING or dtype == STRING:
            series = _strings(series)
        elif dtype is not None:
            if dtype == "int64" and series.isna().any():
                raise ValueError(f"column {column!r} has missing values")
            series = series.astype(dtype)
        else:
            series = _infer(series)
        out[column] = series
    return pd.DataFrame(out, columns=frame.columns, index=pd.RangeIndex(len(frame)))


def frame_format(path: str | Path, option: str = "-o") -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise LrsearchError(f"{option} {str(path)!r}: the extension decides the format; use .csv, .parquet or .pq "
                            f"(got {suffix or 'no extension'!r})")
    fmt = FORMATS[suffix]
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise LrsearchError(f"{option} {str(path)!r}: writing Parquet needs pyarrow: "
                                "pip install 'lrsearch[parquet]'") from None
    return fmt


def write_frame(frame: pd.DataFrame, path: str | Path, option: str = "-o") -> Path:
    """Write ``frame`` as CSV or Parquet, chosen by the file's extension."""
    path = Path(path)
    fmt = frame_format(path, option)
    if not path.parent.exists():
        raise LrsearchError(f"{option} {str(path)!r}: the directory {str(path.parent)!r} does not exist")
    if fmt == "csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    else:
        frame.to_parquet(path, index=False)
    return path


def read_frame(path: str | Path, kind: str = "trials") -> pd.DataFrame:
    """Read a frame written by :func:`write_frame` (or ``lrsearch export``) with its columns' types restored.

    ``kind`` is ``trials``, ``curves`` or ``confirm``: which fixed columns to expect.
    """
    declared = {"trials": TRIALS_DTYPES, "curves": CURVES_DTYPES, "confirm": CONFIRM_DTYPES}[kind]
    path = Path(path)
    if frame_format(path, "path") == "csv":
        header = pd.read_csv(path, nrows=0).columns
        # Only "" is missing: a group or worker named "NA" or "None" stays a string.
        # pandas 3 parses floats exactly by default (and deprecates the option); pandas 2 needs round_trip.
        exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""],
                            dtype={c: "str" for c in header if declared.get(c) is STRING}, **exact)
    else:
        frame = pd.read_parquet(path)
    return canonical(frame, declared)
