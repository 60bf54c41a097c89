"""One error class for everything a user can get wrong; messages name the bad value and the valid ones."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DepthlabError(ValueError):
    """Bad input: an unknown name, a wrong type, a value out of range, an unreadable file.

    The CLI prints ``str(error)`` as one line and exits 2; the Python API raises it as is.
    """


def close_match(value: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``value``, if any is close enough to be a likely typo."""
    found = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return found[0] if found else None


def unknown(kind: str, value: object, choices: Iterable[str]) -> DepthlabError:
    """An error for an unknown name: ``unknown activation 'rleu'; did you mean 'relu'? valid: ...``."""
    choices = sorted(str(c) for c in choices)
    hint = close_match(str(value), choices)
    did_you_mean = f"; did you mean {hint!r}?" if hint else ""
    return DepthlabError(f"unknown {kind} {value!r}{did_you_mean} (valid: {', '.join(choices)})")


def check(condition: bool, message: str) -> None:
    """Raise DepthlabError(message) unless condition holds."""
    if not condition:
        raise DepthlabError(message)
