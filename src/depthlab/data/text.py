"""Character-level language modelling: the ``chars`` corpus and a user's own text file, as task ``lm``.

The corpus is the Python documentation's topic texts, ``pydoc_data.topics`` (what ``help("FOR")`` prints):
about 465 k characters of English technical prose in the standard library, so it is on every machine that has
Python and needs no download. Each Python release regenerates it, so ``meta["sha256"]`` names the exact text.

Splits are by contiguous blocks, so nothing leaks: the text is cut into chunks of ``chunk`` characters, the
chunks (not the windows) are assigned to train / val / test as a table's rows are (``splits.seeded_parts``:
``test_fraction`` with a fixed seed, ``val_fraction`` of the rest by the run's seed), and each chunk is cut
into windows of ``block + 1`` characters (x: the first ``block``, y: the next character at each position,
stride ``block``) that never cross its end. A window therefore lies inside one split's chunks.

The vocabulary is the characters of the training windows, sorted, as ids 1..V; id 0 is ``UNK``, what any other
character (one that appears only in val or test) reads as. ``meta["vocab"]`` holds the characters in id order.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from depthlab.data.dataset import Dataset
from depthlab.data.splits import Parts, describe_parts, seeded_parts
from depthlab.errors import DepthlabError, check

UNK = 0


@dataclass
class TextOptions:
    """Windows of ``block`` characters from chunks of ``chunk``; the split fractions count chunks."""

    block: int = 64  # characters a model reads per sequence (its context)
    chunk: int = 2048  # characters per contiguous piece assigned to one split
    val_fraction: float = 0.1  # of the chunks left after the test chunks
    test_fraction: float = 0.1
    characters: int = 0  # model only the text's first this many characters (0: all of it)

    def __post_init__(self) -> None:
        check(self.block >= 1, f"block={self.block}: must be >= 1")
        check(self.characters >= 0, f"characters={self.characters}: must be >= 0 (0: the whole text)")
        check(
            self.chunk > self.block,
            f"chunk={self.chunk}: must be > block={self.block} (a window is block + 1)",
        )
        for key in ("val_fraction", "test_fraction"):
            value = getattr(self, key)
            check(0.0 <= value < 1.0, f"{key}={value}: must be in [0, 1)")


@dataclass
class TextFileOptions(TextOptions):
    """A user's text file: ``sha256`` (set by a study) pins its content."""

    sha256: str | None = None


def corpus_text() -> str:
    """The ``chars`` corpus: every topic of ``pydoc_data.topics``, in sorted key order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def read_text_file(path: Path) -> str:
    """A file's text as UTF-8; empty, binary (a NUL byte) or not UTF-8 is one line naming the file."""
    raw = path.read_bytes()
    check(len(raw) > 0, f"{path}: the file is empty; a text file to model needs characters")
    nul = raw.find(b"\0")
    check(nul < 0, f"{path}: binary file (a NUL byte at offset {nul}); expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DepthlabError(
            f"{path}: not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start}); save it as UTF-8"
        ) from None


def window_starts(length: int, options: TextOptions, seed: int) -> tuple[dict[str, torch.Tensor], Parts]:
    """The start offset of every window of each split, and the chunk indices of each split."""
    n_chunks = -(-length // options.chunk)
    parts = seeded_parts(None, None, n_chunks, options.test_fraction, options.val_fraction, seed)
    starts = {}
    for split, chunks in parts.items():
        per_chunk = []
        for c in chunks.sort().values.tolist():
            begin, end = c * options.chunk, min((c + 1) * options.chunk, length)
            per_chunk.append(torch.arange(begin, end - options.block, options.block))  # s + block < end
        starts[split] = torch.cat(per_chunk) if per_chunk else torch.zeros(0, dtype=torch.int64)
    return starts, parts


def code_points(text: str) -> np.ndarray:
    """The Unicode code point of each character (one per character, so offsets are character offsets)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def covered(length: int, starts: torch.Tensor, block: int) -> np.ndarray:
    """Whether each character offset lies in some window [s, s + block] (x and its next-character targets)."""
    edges = np.zeros(length + 1, dtype=np.int64)
    np.add.at(edges, starts.numpy(), 1)
    np.add.at(edges, starts.numpy() + block + 1, -1)
    return np.cumsum(edges[:length]) > 0


def encode(codes: np.ndarray, vocab: np.ndarray) -> torch.Tensor:
    """Ids of code points: 1 + the index in the sorted ``vocab``, ``UNK`` for a code point not in it."""
    index = np.searchsorted(vocab, codes).clip(max=len(vocab) - 1)
    return torch.from_numpy(np.where(vocab[index] == codes, index + 1, UNK))


def _windows(ids: torch.Tensor, starts: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    offsets = starts[:, None] + torch.arange(block)  # (N, block)
    return ids[offsets], ids[offsets + 1]


def split_record(length: int, vocab: np.ndarray, starts: dict, parts: dict, chunk: int) -> dict:
    """What ``Dataset.meta`` says of a text's windows: sizes, vocabulary, how the splits were made."""
    sizes = {s: len(starts[s]) for s in starts}
    how = f"contiguous chunks of {chunk} characters (test chunks fixed, val chunks by the seed)"
    return {
        "rows": sum(sizes.values()),
        "task": "lm",
        "characters": length,
        "vocab": "".join(map(chr, vocab.tolist())),
        "vocab_size": len(vocab) + 1,
        "split": describe_parts(starts, how) | {"chunks": {s: len(c) for s, c in parts.items()}},
    }


def text_dataset(name: str, text: str, options: TextOptions, seed: int, meta: dict) -> Dataset:
    """The ``lm`` Dataset of ``text``: windows, splits and vocabulary as the module docstring says."""
    if options.characters and options.characters < len(text):
        meta = meta | {"notes": [f"the first {options.characters} of {len(text)} characters only"]}
        text = text[: options.characters]
    length, block = len(text), options.block
    check(
        length > block,
        f"{name}: {length} characters, shorter than one block (block={block} needs {block + 1})",
    )
    starts, parts = window_starts(length, options, seed)
    check(
        len(starts["train"]) > 0,
        f"{name}: no training window of block={block} fits (chunk={options.chunk}, {length} characters)",
    )
    codes = code_points(text)
    vocab = np.unique(codes[covered(length, starts["train"], block)])
    ids = encode(codes, vocab)
    splits = {s: _windows(ids, starts[s], block) for s in ("train", "val", "test")}
    meta = (
        meta
        | split_record(length, vocab, starts, parts, options.chunk)
        | {"notes": list(meta.get("notes", []))}
    )
    meta["notes"] += [
        f"the {s} split is empty: too few chunks (a longer text or a smaller chunk)"
        for s in starts
        if not len(starts[s])
    ]
    x, y = {s: v[0] for s, v in splits.items()}, {s: v[1] for s, v in splits.items()}
    return Dataset(
        name,
        x["train"],
        y["train"],
        x["val"],
        y["val"],
        x["test"],
        y["test"],
        num_classes=len(vocab) + 1,
        task="lm",
        meta=meta,
    )


def load_chars(options: TextOptions, seed: int) -> Dataset:
    """The built-in corpus, ``pydoc_data.topics``, as character-level language modelling."""
    text = corpus_text()
    python = ".".join(map(str, sys.version_info[:2]))
    meta = {
        "source": f"pydoc_data.topics (Python {python})",
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
    return text_dataset("chars", text, options, seed, meta)
