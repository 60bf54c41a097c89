"""Date columns become calendar features: values against hand computation, forms refused with one line."""

import math

import numpy as np
import pandas as pd
import pytest

from depthlab.data.dates import expand_dates
from depthlab.errors import DepthlabError


def expand(values, dates="features"):
    notes = []
    frame = pd.DataFrame({"when": values, "x": range(len(values))})
    return expand_dates(frame, ["when", "x"], dates, notes), notes


def test_iso_dates_become_year_month_day_and_weekday_by_hand():
    out, notes = expand(["2020-03-01", "2021-12-31"])
    # 2020-03-01: a leap year's day 61, month 3, a Sunday; 2021-12-31: day 365 of 365, month 12, a Friday
    assert out["when:year"].tolist() == [2020.0, 2021.0]
    assert out["when:month_sin"].tolist() == pytest.approx(
        [math.sin(2 * math.pi * 2 / 12), math.sin(2 * math.pi * 11 / 12)]
    )
    assert out["when:day_cos"].tolist() == pytest.approx(
        [math.cos(2 * math.pi * 60 / 366), math.cos(2 * math.pi * 364 / 365)]
    )
    assert out["when:weekday"].tolist() == ["Sun", "Fri"]
    assert "when" not in out.columns and "when:hour_sin" not in out.columns
    assert list(out.columns)[-1] == "x"  # the other columns keep their place
    assert len(notes) == 1 and "'when'" in notes[0] and "dates=raw" in notes[0]


def test_times_add_the_hour_on_a_circle_and_time_zones_become_utc():
    out, _ = expand(["2020-01-05T18:00:00+02:00", "2020-01-06 06:30:00Z"])
    hours = [16, 6.5]  # 18:00 at UTC+2 is 16:00 UTC
    assert out["when:hour_sin"].tolist() == pytest.approx([math.sin(2 * math.pi * h / 24) for h in hours])
    assert out["when:weekday"].tolist() == ["Sun", "Mon"]
    slash, _ = expand(["2020/01/05 16:00", "2020/01/06 06:30:00"])
    assert slash["when:hour_cos"].tolist() == pytest.approx([math.cos(2 * math.pi * h / 24) for h in hours])


def test_slash_dates_parse_like_iso_dates():
    slash, _ = expand(["2020/03/01", "2021/12/31"])
    iso, _ = expand(["2020-03-01", "2021-12-31"])
    pd.testing.assert_frame_equal(slash, iso)


def test_missing_dates_stay_missing_for_the_impute_rule():
    out, _ = expand(["2020-03-01", None, "2021-12-31"])
    assert np.isnan(out["when:year"][1]) and pd.isna(out["when:weekday"][1])


def test_datetime_columns_of_a_dataframe_are_dates_too():
    out, _ = expand(pd.to_datetime(["2020-03-01", "2021-12-31"]))
    assert out["when:year"].tolist() == [2020.0, 2021.0]


@pytest.mark.parametrize(
    "values, says",
    [
        (["2020-01-05", "2020/01/06"], "mixes date forms"),
        (["05/01/2020", "06/01/2020"], "day/month order"),
        (["2020-02-30", "2020-03-01"], "'2020-02-30' is not a date"),
    ],
)
def test_unclear_dates_are_one_line_naming_the_column(values, says):
    with pytest.raises(DepthlabError, match=says) as caught:
        expand(values)
    assert "'when'" in str(caught.value) and "\n" not in str(caught.value)


def test_text_that_is_not_all_dates_stays_text_and_raw_keeps_dates():
    out, notes = expand(["2020-01-05", "soon"])
    assert out["when"].tolist() == ["2020-01-05", "soon"] and notes == []
    raw, notes = expand(["2020-01-05", "2020-01-06"], dates="raw")
    assert raw["when"].tolist() == ["2020-01-05", "2020-01-06"] and notes == []


def test_an_unknown_choice_names_the_valid_ones():
    with pytest.raises(DepthlabError, match="dates='text': valid choices are features, raw"):
        expand(["2020-01-05"], dates="text")


def test_a_csv_with_a_date_column_loads_its_calendar_features_with_a_note(tmp_path):
    from depthlab.data import load_dataset

    days = pd.date_range("2021-01-01", periods=40, freq="D")
    weekend = [d.dayofweek >= 5 for d in days]
    frame = pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "x": np.arange(40) % 3, "y": weekend})
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = load_dataset(str(tmp_path / "t.csv"), target="y")
    assert data.meta["columns"][:2] == ["day:year", "day:month_sin"]  # not dropped as an identifier
    assert any("'day': dates" in note for note in data.meta["notes"])
    raw = load_dataset(str(tmp_path / "t.csv"), target="y", dates="raw")
    assert raw.meta["columns"] == ["x"]  # as before: unique per row, an identifier
