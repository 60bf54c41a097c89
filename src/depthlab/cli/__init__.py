"""``depthlab`` command line: thin wrappers that parse, call the library and print.

Bad input (DepthlabError, or a usage error from the parser) prints one line to stderr and exits 2 — never a
traceback. Each command module registers its commands on ``app`` when imported below. Command modules import
the library (torch, matplotlib, the study runner) inside each command, not at the top: ``depthlab --help``
and a typo's error then answer without paying seconds of torch import.
"""

from __future__ import annotations

import sqlite3
import sys

import typer

from depthlab.cli.app import app
from depthlab.errors import DepthlabError

COMMAND_MODULES = (
    "basic",
    "train",
    "study",
    "data",
    "reference",
    "parnet",
    "export",
    "diagnose",
    "play",
    "advise",
)


def _load_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"depthlab.cli.{name}")


def _fail(message: str, code: int = 2) -> int:
    print(f"depthlab: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``depthlab`` console script; returns the exit code."""
    _load_commands()
    try:
        result = app(args=argv, standalone_mode=False)
    except DepthlabError as err:
        return _fail(str(err))
    except typer.Exit as err:
        return err.exit_code
    except (OSError, sqlite3.Error) as err:  # a full disk or a read-only folder, said in one line
        return _fail(" ".join(str(err).split()), 1)
    except typer.Abort:
        return _fail("aborted", 130)
    except Exception as err:
        # The parser's usage errors (unknown option, missing argument) carry a message and an exit code.
        if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
            raise
        if type(err).__name__.startswith("NoArgsIsHelp"):  # help was printed already
            return 0
        return _fail(" ".join(err.format_message().split()), err.exit_code)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
