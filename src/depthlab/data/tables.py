"""Reading a table file into a pandas DataFrame: CSV / TSV (pandas), Parquet (pyarrow, optional extra).

pandas is the field's de-facto table reader (types, quoting, compression by suffix); the only extra pass is a
field count per line with the standard ``csv`` module, because pandas quietly pads a short row with missing
values and the user should hear "line 7 has 2 fields, the header has 3" instead.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from depthlab.data.user_options import UserDataOptions
from depthlab.errors import DepthlabError

PARQUET = (".parquet", ".pq")


def separator(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    return "\t" if name.endswith((".tsv", ".tab")) else ","


def _text(path: Path) -> str:
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DepthlabError(f"{path}: not a readable gzip file ({err})") from None
    if b"\x00" in raw[:8192]:
        raise DepthlabError(f"{path}: not a text table (binary content)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # a legacy single-byte encoding: every byte decodes


def check_rectangular(path: Path, text: str, sep: str, skip_rows: int) -> None:
    """Raise naming the first line whose field count differs from the header's (blank lines are skipped)."""
    rows = csv.reader(io.StringIO(text), delimiter=sep)
    width, first = None, None
    for number, row in enumerate(rows, start=1):
        if number <= skip_rows or not row:
            continue
        if width is None:
            width, first = len(row), number
        elif len(row) != width:
            raise DepthlabError(
                f"{path}: ragged rows: line {number} has {len(row)} fields, line {first} has {width}"
            )
    if width is None:
        raise DepthlabError(f"{path}: the file is empty (no header, no rows)")


def read_text_table(path: Path, options: UserDataOptions) -> pd.DataFrame:
    text = _text(path)
    if not text.strip():
        raise DepthlabError(f"{path}: the file is empty")
    sep = separator(path)
    check_rectangular(path, text, sep, options.skip_rows)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, skiprows=options.skip_rows, header=0 if options.header else None
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DepthlabError(f"{path}: not a table ({' '.join(str(err).split())})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DepthlabError(
            f"{path}: reading Parquet needs pyarrow: pip install 'depthlab[parquet]'"
        ) from None
    try:
        return pq.read_table(path).to_pandas()
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError and others for a damaged file
        raise DepthlabError(f"{path}: not a readable Parquet file ({' '.join(str(err).split())})") from None


def read_table(path: Path, options: UserDataOptions) -> pd.DataFrame:
    """The file as a DataFrame with string column names; an empty, ragged or unreadable file raises."""
    is_parquet = path.name.lower().endswith(PARQUET)
    frame = read_parquet(path) if is_parquet else read_text_table(path, options)
    frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        raise DepthlabError(f"{path}: the table has a header but no rows")
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise DepthlabError(f"{path}: duplicated column names {duplicated}")
    return frame
