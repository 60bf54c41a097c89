"""The verdicts in the terminal and in verdicts.json: one line per study with its outcome, deciding clause,
effect and interval (and why, when it did not hold), then the counts."""

from depthlab import stats
from depthlab.study import summary
from depthlab.study.presets.base import Finding, decide

GAIN = stats.Comparison("depth adds capacity", "train acc, depth 2 minus 1", 1, 0.02)
FASTER = stats.Comparison("BN trains faster", "log2 steps", 1, 0.25, scale=1.0, unit=" doublings")


def finding(*clauses: stats.Clause) -> Finding:
    return decide(list(clauses), [])


def test_one_line_per_study_with_the_deciding_clause_and_the_counts():
    held = finding(GAIN.judge([0.10, 0.12, 0.11, 0.09, 0.13]), FASTER.judge([1.0, 1.1, 0.9, 1.2, 1.0]))
    reversed_ = finding(GAIN.judge([0.1, 0.1, 0.1, 0.1, 0.1]), FASTER.judge([-1.0, -1.1, -0.9, -1.2, -1.0]))
    unsure = finding(GAIN.judge([0.05, -0.04, 0.06, -0.02, 0.0]))
    records = [summary.record(n, f) for n, f in (("depth", held), ("norm", reversed_), ("width", unsure))]
    lines = summary.lines(records)
    assert len(lines) == 4
    assert lines[0].startswith("held          depth") and "depth adds capacity: +11.0 [" in lines[0]
    assert lines[1].startswith("did not hold  norm ") and "BN trains faster: -1.0 [" in lines[1]
    assert "the effect is reversed" in lines[1]
    assert lines[2].startswith("inconclusive  width") and "straddles" in lines[2] and "seeds" in lines[2]
    assert "3 studies: 1 held, 1 did not hold, 1 inconclusive" in lines[3] and lines[3].startswith("=")


def test_a_study_without_clauses_prints_its_sentence_and_the_file_round_trips(tmp_path):
    pending = Finding(
        stats.INCONCLUSIVE, "only 1 of 4 runs finished; rerun the same command to complete them"
    )
    records = [summary.record("cost", pending)]
    summary.write(records, tmp_path)
    assert summary.read(tmp_path) == records
    assert summary.lines(records)[0].endswith(
        "only 1 of 4 runs finished; rerun the same command to complete them"
    )
    assert summary.read(tmp_path / "nowhere") == [] and summary.lines([]) == []
