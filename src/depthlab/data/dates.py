"""Date and time columns of a table become calendar features instead of being dropped as identifiers.

A column of dates is unique per row in most tables (one row a day), so the identifier rule would drop it, and
its text one-hot encodes to nothing a model can extrapolate from. What carries signal is the calendar: the
year (a trend), the month and the day of the year as a point on a circle (sine and cosine, so December sits
next to January), the weekday (a category), and the hour on a circle where the column has times.

A column is a date column when every present value is written in one of the recognized forms below (a
``datetime64`` column of a DataFrame or Parquet file is one already). Two forms in one column, or day/month
orders that cannot be told apart (``05/01/2020``), are an error: guessing would silently swap days and months.
``dates="raw"`` keeps such columns as text, as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from depthlab.errors import DepthlabError

DATES = ("features", "raw")

# form name -> (pattern every value of the column must match, strptime format for pandas)
FORMS = {
    "YYYY-MM-DD (ISO 8601)": (
        r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?",
        "ISO8601",
    ),
    "YYYY/MM/DD": (r"\d{4}/\d{2}/\d{2}( \d{2}:\d{2}(:\d{2})?)?", None),
}
AMBIGUOUS = r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}( .*)?"  # DD/MM/YYYY or MM/DD/YYYY: the order is not written down
_SLASH_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")


def form_of(values: pd.Series, name: str) -> str | None:
    """The one recognized form every present value of a text column is written in, else None (not dates)."""
    text = values.dropna()
    if len(text) == 0 or not (pd.api.types.is_object_dtype(text) or pd.api.types.is_string_dtype(text)):
        return None
    text = text.astype(str).str.strip()
    matched = {form: text.str.fullmatch(pattern) for form, (pattern, _) in FORMS.items()}
    if any(m.all() for m in matched.values()):
        return next(form for form, m in matched.items() if m.all())
    if text.str.fullmatch(AMBIGUOUS).all():
        raise DepthlabError(
            f"column {name!r} holds dates like {text.iloc[0]!r}, whose day/month order cannot be told "
            "apart: write them as YYYY-MM-DD, or pass dates=raw to keep them as text"
        )
    seen = [form for form, m in matched.items() if m.any()]
    if len(seen) > 1 and np.logical_or.reduce([m.to_numpy() for m in matched.values()]).all():
        raise DepthlabError(
            f"column {name!r} mixes date forms ({', '.join(seen)}): write every date one way "
            f"(valid forms: {', '.join(FORMS)}), or pass dates=raw to keep them as text"
        )
    return None


def parse(values: pd.Series, form: str, name: str) -> pd.Series:
    """The values as UTC-naive timestamps (missing stays NaT); a value that is no real date is an error."""
    text = values.astype("string").str.strip()
    if FORMS[form][1] == "ISO8601":
        stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    else:
        stamps = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        for fmt in _SLASH_FORMATS:
            stamps = stamps.fillna(pd.to_datetime(text, format=fmt, utc=True, errors="coerce"))
    bad = stamps.isna() & values.notna()
    if bad.any():
        raise DepthlabError(f"column {name!r}: {values[bad].iloc[0]!r} is not a date (form {form})")
    return stamps.dt.tz_localize(None)


def calendar(stamps: pd.Series, name: str) -> pd.DataFrame:
    """Calendar features of timestamps: year, month and day of year on a circle, weekday, hour if present."""
    days_in_year = np.where(stamps.dt.is_leap_year, 366.0, 365.0)
    month = 2 * np.pi * (stamps.dt.month - 1) / 12
    day = 2 * np.pi * (stamps.dt.day_of_year - 1) / days_in_year
    features = {
        f"{name}:year": stamps.dt.year.astype("float64"),
        f"{name}:month_sin": np.sin(month),
        f"{name}:month_cos": np.cos(month),
        f"{name}:day_sin": np.sin(day),
        f"{name}:day_cos": np.cos(day),
        f"{name}:weekday": stamps.dt.day_name().str[:3].astype(object),
    }
    seconds = stamps.dt.hour * 3600 + stamps.dt.minute * 60 + stamps.dt.second
    if (seconds.fillna(0) != 0).any():
        hour = 2 * np.pi * seconds / 86400
        features |= {f"{name}:hour_sin": np.sin(hour), f"{name}:hour_cos": np.cos(hour)}
    return pd.DataFrame(features, index=stamps.index)


def expand_dates(frame: pd.DataFrame, columns: list[str], dates: str, notes: list[str]) -> pd.DataFrame:
    """``frame`` with each date column among ``columns`` replaced by its calendar features (a note each)."""
    if dates == "raw":
        return frame
    if dates not in DATES:
        raise DepthlabError(f"dates={dates!r}: valid choices are {', '.join(DATES)}")
    for name in columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            form, stamps = "datetime", pd.to_datetime(values, utc=True).dt.tz_localize(None)
        elif (form := form_of(values, name)) is not None:
            stamps = parse(values, form, name)
        else:
            continue
        features = calendar(stamps, name)
        at = frame.columns.get_loc(name)
        frame = pd.concat([frame.iloc[:, :at], features, frame.iloc[:, at + 1 :]], axis=1)
        notes.append(
            f"column {name!r}: dates ({form}) -> year, month and day of year as sine/cosine, weekday"
            f"{', hour as sine/cosine' if f'{name}:hour_sin' in features else ''} (dates=raw keeps the text)"
        )
    return frame
