"""``depthlab data show`` and ``depthlab data fetch``: output on success, one line and exit 2 on bad input."""

from __future__ import annotations

import urllib.error
import urllib.request

from depthlab.cli import main


def test_show_prints_splits_counts_and_options(capsys):
    assert main(["data", "show", "xor", "replicas=3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Dataset('xor', 12/0/4 train/val/test, input (2,), 2 out)" in out
    assert "train class counts: [6, 6]" in out and "replicas = 3" in out


def test_show_bad_option_is_one_line_exit_2(capsys):
    assert main(["data", "show", "spirals", "arms=many"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "arms='many'" in err and "expected int" in err


def test_fetch_offline_is_one_line_naming_the_folder(tmp_path, monkeypatch, capsys):
    def offline(url):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert main(["data", "fetch", "fashion_mnist", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(tmp_path) in err and "train-images-idx3-ubyte.gz" in err


def test_fetch_unknown_name_lists_choices(capsys):
    assert main(["data", "fetch", "cifar11"]) == 2
    assert "cifar10, cifar100, fashion_mnist, mnist" in capsys.readouterr().err
