"""``depthlab doctor MODEL key=value ...`` (verdicts after a brief run) and ``depthlab inspect MODEL``."""

from __future__ import annotations

import functools

import typer
from rich.console import Console
from rich.table import Table

from depthlab.cli.app import app
from depthlab.cli.file_options import Dates, Impute, Target, Task, given
from depthlab.config import parse_pairs
from depthlab.defaults import DEFAULT_DATA
from depthlab.errors import DepthlabError


@app.command("doctor")
def doctor(
    model: str = typer.Argument(
        ..., help="a model name (mlp, cnn1d, resnet_cifar) or a builder FILE.py:build"
    ),
    overrides: list[str] = typer.Argument(None, help="key=value for the model or training"),  # noqa: B008
    data: str = typer.Option(DEFAULT_DATA, "--data", help="a data set name or a data file"),
    target: Target = None,
    task: Task = None,
    impute: Impute = None,
    dates: Dates = None,
    steps: int = typer.Option(200, "--steps", help="training steps of the brief run"),
    every: int = typer.Option(10, "--every", help="record the per-layer table every k steps"),
    twin: bool = typer.Option(True, "--twin/--no-twin", help="train a half-depth twin (degradation)"),
    twin_steps: int = typer.Option(4000, "--twin-steps", help="step budget of each degradation run"),
    seeds: int = typer.Option(3, "--seeds", help="paired seeds of the degradation runs"),
    csv: str = typer.Option(None, "--csv", help="write the per-layer table here"),
    plot: str = typer.Option(None, "--plot", help="write a gradient-flow PNG here"),
) -> None:
    """Train MODEL briefly with watch on and say what is wrong, with the evidence and the remedy; with the
    twin, train MODEL and a half-depth twin for an equal budget over paired seeds to judge degradation."""
    from depthlab.diagnose.doctor import doctor as run_doctor

    plan = {"twin_steps": twin_steps, "seeds": seeds}
    pairs = parse_pairs(overrides or [])
    dataset = _load(data, target, task, impute, dates)
    say = functools.partial(typer.echo, err=True)  # progress on stderr: stdout stays the report
    report = run_doctor(model, dataset, steps=steps, every=every, twin=twin, progress=say, **plan, **pairs)
    typer.echo(report.text())
    if csv:
        from depthlab.diagnose.watch import write_csv

        typer.echo(f"table: {write_csv(report.rows, csv)}")
    if plot:
        from depthlab.diagnose.plots import gradient_flow

        typer.echo(f"plot: {gradient_flow(report.rows, plot, title=f'{model}: gradient norm by layer')}")


@app.command("inspect")
def inspect(
    model: str = typer.Argument(..., help="a model name (resnet_cifar, parnet_s) or a builder FILE.py:build"),
    overrides: list[str] = typer.Argument(None, help="key=value for the model"),  # noqa: B008
    data: str = typer.Option(None, "--data", help="size the model for this data set or data file"),
    target: Target = None,
    task: Task = None,
    impute: Impute = None,
    dates: Dates = None,
    batch_size: int = typer.Option(64, "--batch-size", help="batch for latency, throughput, memory"),
    device: str = typer.Option(None, "--device", help="cpu or cuda (default: cpu)"),
    form: str = typer.Option("train", "--form", help="train, or deploy (re-parameterized)"),
    time_budget: float = typer.Option(
        1.0, "--time", help="seconds of timed calls per step timed (adaptive: stops early once steady)"
    ),
    layers: bool = typer.Option(False, "--layers", help="add the per-layer table"),
) -> None:
    """Print MODEL's params, FLOPs, longest-path depth, weight layers, latency and memory."""

    from depthlab.diagnose.cost import measure
    from depthlab.models import create_model

    sizing = _load(data, target, task, impute, dates).model_kwargs() if data else {}
    net = create_model(model, **(sizing | parse_pairs(overrides or [])))
    shape = getattr(getattr(net, "config", None), "input_shape", None) or sizing.get("input_shape")
    if not shape:
        raise DepthlabError(f"{model}: its input shape is unknown; pass --data (or input_shape=...)")
    shape = tuple(shape)
    report = measure(net, shape, batch_size, device=device, form=form, time_budget=time_budget)
    console = Console()
    console.print(_measure_table(model, report))
    if layers:
        from depthlab.diagnose.depth import model_form
        from depthlab.diagnose.summary import layer_table
        from depthlab.models.base import random_input

        console.print(_layer_table(layer_table(model_form(net, form), random_input(net, shape, 2))))


def _load(name: str, target: str | None, task: str | None, impute: str | None, dates: str | None):
    """The data set (a user's file with its options), its record printed when it is a file."""
    from depthlab.data import describe, load_dataset
    from depthlab.data.registry import check_file_options

    options = given(target, task, impute, dates)
    check_file_options(name, options)
    data = load_dataset(name, **options)
    for line in describe(data.meta):
        typer.echo(line)
    return data


_ROWS = (
    ("params", "params", "{:,}"),
    ("trainable params", "params_trainable", "{:,}"),
    ("FLOPs / sample (forward)", "flops", "{:,.0f}"),
    ("GMACs / sample", "infer_gmacs", "{:.4f}"),
    ("FLOPs / sample (train)", "train_flops", "{:,.0f}"),
    ("longest-path depth", "longest_path_depth", "{}"),
    ("weight layers", "weight_layers", "{}"),
    ("sequential ops", "sequential_ops", "{}"),
    ("inference step (ms)", "infer_step_time", "{:.3f}"),
    ("inference samples/s", "infer_samples_per_sec", "{:,.0f}"),
    ("train step (ms, fwd+bwd)", "train_step_time", "{:.3f}"),
    ("train samples/s", "train_samples_per_sec", "{:,.0f}"),
    ("peak memory, inference (MB)", "infer_peak_memory_mb", "{:.2f}"),
    ("peak memory, training (MB)", "train_peak_memory_mb", "{:.2f}"),
    ("memory method", "memory_method", "{}"),
)


def _measure_table(model: str, report: dict) -> Table:
    where = f"{report['device']}, {report['dtype']}, batch {report['batch_size']}"
    title = f"{model} ({report['form']} form) on {where}"
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, key, fmt in _ROWS:
        if key in report:
            table.add_row(label, fmt.format(report[key]))
    return table


def _layer_table(rows: list[dict]) -> Table:
    table = Table(title="weight layers in execution order")
    longest = max((len(r["name"]) for r in rows), default=4)
    for column in ("depth", "name", "kind", "params", "output", "FLOPs/sample"):
        # a layer's name is what the user looks up: never cut it, let the other columns wrap
        width = longest if column == "name" else None
        table.add_column(column, justify="left" if column in ("name", "kind") else "right", min_width=width)
    for r in rows:
        output = "x".join(str(s) for s in r["output"])
        table.add_row(str(r["depth"]), r["name"], r["kind"], f"{r['params']:,}", output, f"{r['flops']:,.0f}")
    return table
