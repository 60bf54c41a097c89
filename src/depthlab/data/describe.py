"""What was done to a user's own data, in a few plain lines for reports (train, doctor, study, data show)."""

from __future__ import annotations

from typing import Any


def _encodings(encodings: dict[str, Any]) -> str:
    parts = []
    for name, how in encodings.items():
        if isinstance(how, dict) and how.get("kind") == "one-hot":
            parts.append(f"{name} one-hot ({len(how['categories'])})")
        elif isinstance(how, dict):
            parts.append(f"{name} {how.get('kind', '')}".strip())
        else:
            parts.append(f"{name}: {how}")
    return ", ".join(parts)


def describe(meta: dict[str, Any]) -> list[str]:
    """Lines naming the file (and its sha256), rows, target and task, columns, encodings, split and notes;
    empty for a built-in data set."""
    if "rows" not in meta or "task" not in meta:
        return []
    where = meta.get("file") or meta.get("source", "data")
    sha = f" (sha256 {meta['sha256'][:12]})" if meta.get("sha256") else ""
    target = f", target {meta['target']!r}" if meta.get("target") else ""
    classes = f", {len(meta['classes'])} classes" if meta.get("classes") else ""
    lines = [f"data: {where}{sha}: {meta['rows']} rows{target} ({meta['task']}{classes})"]
    if meta.get("columns"):
        lines.append(f"columns used: {', '.join(meta['columns'])} -> {meta.get('features')} features")
    if meta.get("encodings"):
        lines.append(f"encodings (fitted on the training split): {_encodings(meta['encodings'])}")
    if meta.get("split"):
        split = meta["split"]
        lines.append(
            f"split: {split.get('train')}/{split.get('val')}/{split.get('test')} train/val/test, "
            f"{split.get('how')}"
        )
    lines += [f"note: {note}" for note in meta.get("notes", [])]
    return lines
