"""``depthlab reparam IN OUT``: convert a trained ParNet checkpoint to its fused deploy form."""

from __future__ import annotations

import typer

from depthlab.cli.app import app
from depthlab.config import parse_pairs

OVERRIDES = typer.Argument(None, help="model config key=value, e.g. width=96")


@app.command("reparam")
def reparam(
    src: str = typer.Argument(..., help="training checkpoint folder, or X.safetensors (+ X.json)"),
    dst: str = typer.Argument(..., help="output stem: writes DST.safetensors and DST.json"),
    overrides: list[str] = OVERRIDES,
    model: str = typer.Option(None, "--model", help="model name when the checkpoint does not say"),
    ema: bool = typer.Option(False, "--ema", help="use the EMA weights"),
) -> None:
    """Fold every ParNet block's branches into one 3x3 conv and write the deploy-form checkpoint."""
    from depthlab.deploy import convert_checkpoint

    done = convert_checkpoint(src, dst, model=model, ema=ema, **parse_pairs(overrides or []))
    typer.echo(f"{done.model}: wrote {done.written} (deploy form, depth {done.depth})")
    typer.echo(
        f"parameters {done.params_before:,} -> {done.params_after:,}; fused vs trained: {done.equivalence}"
    )
