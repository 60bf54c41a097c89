"""Character-level text as task ``lm``: windows are the text at their offsets, no training window shares a
character position with a val or test window (leakage, checked by offsets), the vocabulary comes from the
training split only, and a bad text file is one line that writes nothing."""

from __future__ import annotations

import os

import pytest
import torch

from depthlab.cli import main
from depthlab.data import load_dataset
from depthlab.data.text import TextOptions, corpus_text, window_starts
from depthlab.errors import DepthlabError

SMALL = dict(block=16, chunk=100)


def decode(ids: torch.Tensor, vocab: str) -> str:
    return "".join("\0" if i == 0 else vocab[i - 1] for i in ids.tolist())  # "\0" stands for UNK


def positions(starts: torch.Tensor, block: int) -> set[int]:
    """Every character offset a window reads or predicts: [s, s + block]."""
    return {p for s in starts.tolist() for p in range(s, s + block + 1)}


@pytest.mark.parametrize("seed", [0, 1])
def test_no_training_window_touches_a_val_or_test_position(seed):
    text = corpus_text()[:5000]
    starts, _ = window_starts(len(text), TextOptions(**SMALL), seed)
    train = positions(starts["train"], 16)
    held = positions(starts["val"], 16) | positions(starts["test"], 16)
    assert starts["val"].numel() and starts["test"].numel()
    assert not train & held


def test_windows_are_the_text_at_their_offsets_and_targets_the_next_characters(tmp_path):
    text = corpus_text()[:5000]
    path = tmp_path / "doc.txt"
    path.write_text(text, encoding="utf-8")
    data = load_dataset(str(path), seed=3, **SMALL)
    starts, _ = window_starts(len(text), TextOptions(**SMALL), 3)
    vocab = data.meta["vocab"]
    for i, s in enumerate(starts["train"].tolist()):
        assert decode(data.x_train[i], vocab) == text[s : s + 16]
        assert decode(data.y_train[i], vocab) == text[s + 1 : s + 17]
    assert data.task == "lm" and data.num_classes == len(vocab) + 1 == data.meta["vocab_size"]


def test_the_chunks_are_split_by_the_seed_and_the_test_chunks_are_fixed():
    length = 20_000
    first, second = (window_starts(length, TextOptions(**SMALL), seed)[0] for seed in (0, 1))
    assert torch.equal(first["test"], second["test"])
    assert not torch.equal(first["val"], second["val"])


def test_the_vocabulary_comes_from_the_training_split_only(tmp_path):
    length = 3000
    starts, parts = window_starts(length, TextOptions(**SMALL), 0)
    chars = ["a"] * length
    for s in starts["test"].tolist()[:3]:  # a character found only at test positions
        chars[s + 5] = "#"
    for s in starts["train"].tolist()[:2]:
        chars[s + 2] = "b"
    path = tmp_path / "marked.txt"
    path.write_text("".join(chars), encoding="utf-8")
    data = load_dataset(str(path), **SMALL)
    assert data.meta["vocab"] == "ab"  # sorted, from the training windows
    assert (data.x_test == 0).sum() == 3  # each "#" reads as UNK (id 0)
    assert (data.x_train == 0).sum() == 0


def bad_text(tmp_path, kind: str):
    path = tmp_path / f"{kind}.txt"
    content = {
        "empty": b"",
        "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "latin1": "caf\xe9 au lait, ".encode("latin-1") * 20,
        "short": b"too short",
    }[kind]
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "kind, words",
    [
        ("empty", "empty"),
        ("binary", "binary file (a NUL byte at offset 8)"),
        ("latin1", "not UTF-8 text (byte 0xe9 at offset 3)"),
        ("short", "9 characters, shorter than one block (block=64 needs 65)"),
    ],
)
def test_a_bad_text_file_is_one_line_naming_it_and_writes_nothing(tmp_path, capsys, kind, words):
    path = bad_text(tmp_path, kind)
    with pytest.raises(DepthlabError) as err:
        load_dataset(str(path))
    assert words in str(err.value) and "\n" not in str(err.value)
    before = sorted(os.listdir(tmp_path))
    assert main(["train", "transformer", "task=lm", "--data", str(path), "--out", str(tmp_path / "run")]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and words in message
    assert sorted(os.listdir(tmp_path)) == before  # no run folder, nothing else


def test_the_corpus_is_the_python_docs_topics():
    data = load_dataset("chars", block=32)
    assert data.meta["source"].startswith("pydoc_data.topics")
    assert data.meta["characters"] > 400_000  # hundreds of kB of prose on any Python (3.11: 465 k)
    assert data.x_train.shape[1] == 32 and len(data.x_train) > 8 * (len(data.x_val) + len(data.x_test)) / 2


def test_a_table_option_on_a_text_file_says_it_is_read_as_text(tmp_path, capsys):
    path = tmp_path / "table.txt"
    path.write_text("a,b,y\n" + "1,2,0\n" * 50, encoding="utf-8")
    with pytest.raises(DepthlabError, match=r"--target: .*table.txt is read as text.*\.csv/\.tsv name"):
        load_dataset(str(path), target="y")
    assert main(["train", "mlp", "--data", str(path), "--target", "y"]) == 2
    assert "is read as text for a language model" in capsys.readouterr().err


def test_characters_keeps_only_the_texts_first_characters(tmp_path):
    path = tmp_path / "t.txt"
    text = "".join(chr(ord("a") + i % 26) for i in range(4000)) + "Z" * 4000  # "Z" only after 4000
    path.write_text(text)
    whole, head = (
        load_dataset(str(path), block=16, chunk=64),
        load_dataset(str(path), block=16, chunk=64, characters=4000),
    )
    assert head.meta["characters"] == 4000 and whole.meta["characters"] == 8000
    assert "Z" in whole.meta["vocab"] and "Z" not in head.meta["vocab"]
    assert any("first 4000 of 8000" in note for note in head.meta["notes"])
    with pytest.raises(DepthlabError, match="characters=-1"):
        TextOptions(characters=-1)
