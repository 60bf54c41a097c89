"""Defaults several commands share, named once (this module imports nothing, so the CLI and the torch-free
study driver can read it at no cost)."""

from __future__ import annotations

# MNIST-1D (Greydanus 2020, arXiv 2011.14439): small enough for a 2-core CPU, hard enough that depth matters.
DEFAULT_DATA = "mnist1d"
OUTPUT_ROOT = "runs"  # every command that writes results writes under runs/<command> unless told otherwise


def output_dir(command: str) -> str:
    """The default results folder of ``command`` (``runs/study``, ``runs/advise``)."""
    return f"{OUTPUT_ROOT}/{command}"
