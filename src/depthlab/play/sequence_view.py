"""What the page shows of a sequence task in place of the decision boundary: its chance level and a few test
sequences written as their tokens, with the answer and the model's.

A 2-D plane has no meaning for token ids; what a person can read instead is the task itself (``k3 v5 ... k3``:
which value was stored under the key?) and whether the net's answer is right, next to the accuracy of the
best guess that ignores the input (the line a net that learned nothing sits on).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

EXAMPLES = 6  # test sequences shown
LM_SHOWN = 48  # characters of a language-modelling window shown


def task_view(data) -> dict[str, Any] | None:
    """Sent once per job for token data: the task, its classes and chance level; None for other data."""
    if not data.tokens:
        return None
    return {
        "task": data.task,
        "classes": data.num_classes,
        "length": data.input_shape[0],
        "chance": chance(data),
    }


def chance(data) -> float:
    """The accuracy of the best input-blind guess: the data set's own figure, else the most common target."""
    if "chance" in data.meta:
        return round(float(data.meta["chance"]), 4)
    counts = torch.bincount(data.y_train.reshape(-1), minlength=data.num_classes)
    return round(float(counts.max() / counts.sum()), 4)


def token_text(data, ids: list[int]) -> list[str]:
    """Each id as a person reads it: a character of the text, recall's ``k``/``v`` tokens, brackets, bits."""
    if data.task == "lm":
        vocab = data.meta.get("vocab", "")
        return [vocab[i - 1] if 0 < i <= len(vocab) else "?" for i in ids]
    if data.name == "recall":
        keys = data.meta.get("options", {}).get("keys", data.meta["vocab_size"] - data.num_classes)
        return [f"k{i}" if i < keys else f"v{i - keys}" for i in ids]
    if data.name == "brackets":
        return ["()"[i] for i in ids]
    if data.name == "mod_add":
        p = data.num_classes
        return [str(i) if i < p else "+="[i - p] for i in ids]
    return [str(i) for i in ids]


def answer_text(data, label: int) -> str:
    """A class as a person reads it (recall's answer is a value token)."""
    return f"v{label}" if data.name == "recall" else str(label)


@torch.no_grad()
def examples_view(model: nn.Module, data) -> list[dict[str, Any]]:
    """The first EXAMPLES test sequences with their answer and the model's (eval mode, then back)."""
    x, y = data.x_test[:EXAMPLES], data.y_test[:EXAMPLES]
    was_training = model.training
    model.eval()
    try:
        guess = model(x).argmax(-1).cpu()
    finally:
        model.train(was_training)
    rows, targets = x.cpu(), y.cpu()
    if data.task == "lm":
        return [_lm_example(data, *triple) for triple in zip(rows, targets, guess, strict=True)]
    return [
        _class_example(data, row, int(target), int(said))
        for row, target, said in zip(rows, targets, guess, strict=True)
    ]


def _class_example(data, row: torch.Tensor, target: int, said: int) -> dict[str, Any]:
    return {
        "tokens": token_text(data, row.tolist()),
        "answer": answer_text(data, target),
        "said": answer_text(data, said),
        "right": target == said,
    }


def _lm_example(data, row: torch.Tensor, target: torch.Tensor, said: torch.Tensor) -> dict[str, Any]:
    """The window's last LM_SHOWN characters, the next character at each, and the model's guess at each."""
    tail = slice(-LM_SHOWN, None)
    right = (target[tail] == said[tail]).float().mean().item()
    return {
        "tokens": "".join(token_text(data, row[tail].tolist())),
        "answer": "".join(token_text(data, target[tail].tolist())),
        "said": "".join(token_text(data, said[tail].tolist())),
        "right": round(right, 3),
    }
