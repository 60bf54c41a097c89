"""``depthlab advise --data D``: the depth to use for this data and latency budget, with an interval."""

from __future__ import annotations

import typer

from depthlab.cli.app import app
from depthlab.cli.file_options import Dates, Impute, Target, Task, given
from depthlab.config import parse_pairs
from depthlab.defaults import output_dir


@app.command("advise")
def advise(
    overrides: list[str] = typer.Argument(None, help="key=value for the model, training or data"),  # noqa: B008
    data: str = typer.Option(..., "--data", help="a data set name or a file (CSV, Parquet, .npz, folder)"),
    model: str = typer.Option("mlp", "--model", help="a model name or a builder FILE.py:build"),
    max_depth: int = typer.Option(8, "--max-depth", help="try depths 1..N"),
    depths: str = typer.Option(None, "--depths", help="or exactly these depths, e.g. 2,4,8,16"),
    latency_ms: float = typer.Option(None, "--latency-ms", help="latency budget per forward, milliseconds"),
    batch: int = typer.Option(1, "--batch", help="the batch the latency budget is for"),
    budget: str = typer.Option(None, "--budget", help="compute cap: steps (20000) or time (10m, 90s)"),
    steps: int = typer.Option(2000, "--steps", help="full training budget of one run, in steps"),
    seeds: int = typer.Option(3, "--seeds", help="seeds per finalist (at least 3)"),
    target: Target = None,
    task: Task = None,
    impute: Impute = None,
    dates: Dates = None,
    out: str = typer.Option(
        output_dir("advise"), "--out", help="folder for advice.json, advice.html and the store"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only the table and the answer"),
) -> None:
    """Recommend the shallowest depth within one SE of the best that meets the latency budget."""
    from depthlab.advise import advise as run_advise
    from depthlab.advise.advice import answer, table
    from depthlab.train.launch import route_overrides

    model_keys, train_keys, data_keys = route_overrides(model, data, parse_pairs(overrides or []))
    own = given(target, task, impute, dates)
    chosen = None if depths is None else tuple(_depths(depths))
    result = run_advise(
        data,
        model,
        data_options={**data_keys, **own},
        model_options=model_keys,
        train=train_keys,
        max_depth=max_depth,
        depths=chosen,
        latency_ms=latency_ms,
        batch=batch,
        budget=budget,
        steps=steps,
        seeds=seeds,
        out=out,
        quiet=quiet,
    )
    typer.echo(table(result))
    typer.echo(answer(result))
    typer.echo(f"advice: {out}/advice.json, {out}/advice.html")


def _depths(text: str) -> list[int]:
    from depthlab.errors import DepthlabError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise DepthlabError(f"--depths {text!r}: give integers separated by commas, e.g. 2,4,8") from None
