"""A full disk or a read-only output folder: one clear line, and nothing already written is damaged.

Tests run as root, where ``chmod`` stops no write, so the real cases mount a tiny (or read-only) tmpfs; where
mounting is not allowed they skip, and the in-process cases (``OSError(ENOSPC)`` / SQLite's "disk is full"
injected) still run.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess

import pytest

from depthlab import atomic
from depthlab.cli import main
from depthlab.study.runner import execute
from depthlab.study.spec import expand, run_hash
from depthlab.study.store import Store


def fake_run(spec):
    """A stand-in for training whose result is large, so a small disk fills after a few runs."""
    return {"status": "ok", "metrics": {"depth": spec["model"]["depth"], "blob": "x" * 6000}}


def grid(n: int) -> list[dict]:
    return expand(
        {"task": "fake", "model": {"name": "mlp"}, "study": "disk"}, {"model.depth": list(range(1, n + 1))}
    )


def snapshot(root):
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))
    }


def one_line_error(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code in (1, 2) and len(err.splitlines()) == 1 and err.startswith("depthlab: error: "), err
    assert "Traceback" not in err
    return err


def stored_rows_are_sound(folder, specs) -> int:
    with sqlite3.connect(folder / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store(folder) as store:
        rows = store.get_many(run_hash(s) for s in specs)
        assert store.count() == len(rows)
    assert all(r["metrics"]["blob"] == "x" * 6000 for r in rows.values())  # every stored row is whole
    return len(rows)


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(folder, options)`` mounts a tmpfs there (skips the test where mounting is not allowed)."""
    mounted = []

    def mount(folder, options):
        folder.mkdir(exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount(folder, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True)


# ---- real file systems -----------------------------------------------------------------------------------


def test_a_disk_that_fills_mid_study_keeps_every_stored_run_and_a_rerun_completes(tmpfs, tmp_path):
    folder = tmpfs(tmp_path / "small", "size=160k")
    specs = grid(60)
    with pytest.raises((sqlite3.OperationalError, OSError), match="full|No space"):
        execute(specs, folder, run_fn=fake_run, quiet=True)
    kept = stored_rows_are_sound(folder, specs)
    assert 0 < kept < len(specs)
    remount(folder, "size=16m")  # space freed
    summary = execute(specs, folder, run_fn=fake_run, quiet=True)
    assert summary.skipped == kept and summary.ran == len(specs) - kept
    assert stored_rows_are_sound(folder, specs) == len(specs)


def test_a_read_only_output_folder_is_one_line_and_is_left_as_it_was(tmpfs, tmp_path, capsys):
    folder = tmpfs(tmp_path / "ro", "size=16m")
    execute(grid(3), folder, run_fn=fake_run, quiet=True)
    assert main(["study", "depth", "--report-only", "--out", str(folder)]) == 0
    capsys.readouterr()
    remount(folder, "ro")
    before = snapshot(folder)
    # SQLite cannot open a WAL database on a read-only mount at all; it says so, naming the file
    err = one_line_error(capsys, ["study", "depth", "--report-only", "--out", str(folder)])
    assert "cannot open results database" in err and "results.sqlite" in err
    assert "Read-only file system" in one_line_error(capsys, ["study", "depth", "--out", str(folder)])
    assert "Read-only file system" in one_line_error(capsys, ["study", "depth", "--out", str(folder / "new")])
    assert snapshot(folder) == before


# ---- injected faults (run everywhere) ----------------------------------------------------------------------


class _FullDiskOs:
    """Stands in for ``os`` in depthlab.atomic: every rename fails as on a full disk."""

    def replace(self, src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    def __getattr__(self, name):
        return getattr(os, name)


def test_a_report_write_on_a_full_disk_is_one_line_and_keeps_the_old_report(tmp_path, capsys, monkeypatch):
    execute(grid(3), tmp_path, run_fn=fake_run, quiet=True)
    assert main(["study", "depth", "--report-only", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path)
    monkeypatch.setattr(atomic, "os", _FullDiskOs())
    err = one_line_error(capsys, ["study", "depth", "--report-only", "--out", str(tmp_path)])
    assert "No space left on device" in err
    assert snapshot(tmp_path) == before  # the old report, CSV and PNGs intact; no temp file left


def test_a_database_that_cannot_commit_keeps_earlier_runs_and_the_rerun_completes(tmp_path, monkeypatch):
    specs = grid(6)
    plain_put = Store.put
    calls = []

    def put_until_full(self, *args):
        calls.append(1)
        if len(calls) == 4:
            raise sqlite3.OperationalError("database or disk is full")
        plain_put(self, *args)

    monkeypatch.setattr(Store, "put", put_until_full)
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        execute(specs, tmp_path, run_fn=fake_run, quiet=True)
    monkeypatch.setattr(Store, "put", plain_put)
    assert stored_rows_are_sound(tmp_path, specs) == 3
    summary = execute(specs, tmp_path, run_fn=fake_run, quiet=True)
    assert summary.skipped == 3 and summary.ran == 3
    assert stored_rows_are_sound(tmp_path, specs) == 6
