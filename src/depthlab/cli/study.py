"""``depthlab study``: run preset studies (resumably) and write the report."""

from __future__ import annotations

from typing import Annotated

import typer

from depthlab.cli.app import app
from depthlab.cli.file_options import Dates, Impute, Target, Task, given
from depthlab.defaults import DEFAULT_DATA, output_dir


@app.command("study")
def study(
    names: Annotated[list[str] | None, typer.Argument(help="studies (default: all); see --list")] = None,
    quick: bool = typer.Option(False, "--quick", help="the small grids (default)"),
    full: bool = typer.Option(False, "--full", help="the large grids, for bigger machines"),
    data: str = typer.Option(None, "--data", help=f"data set name or file (default: {DEFAULT_DATA})"),
    target: Target = None,
    task: Task = None,
    impute: Impute = None,
    dates: Dates = None,
    model: str = typer.Option(None, "--model", help="your builder, FILE.py:build or pkg.module:build"),
    workers: int = typer.Option(
        0, "--workers", help="parallel worker processes or Ray tasks (0: one per core, at most 8)"
    ),
    backend: str = typer.Option("local", "--backend", help="local | ray"),
    address: str = typer.Option(None, "--ray-address", help="Ray cluster address (default: a local one)"),
    device: str = typer.Option(None, "--device", help="auto | cpu | cuda: where runs train (default auto)"),
    out: str = typer.Option(
        output_dir("study"), "--out", help="results directory (SQLite, report, PNGs, CSV)"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress display"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="rerun runs that raised before"),
    report_only: bool = typer.Option(False, "--report-only", help="only rewrite the report from stored runs"),
    list_: bool = typer.Option(False, "--list", help="list the studies and their claims"),
    log_to: str = typer.Option(
        None, "--log-to", help="also write the stored runs to tensorboard:DIR or wandb[:PROJECT]"
    ),
) -> None:
    """Run studies of depth (the quick suite on MNIST-1D by default) and write report.html."""
    from depthlab.errors import DepthlabError
    from depthlab.study import presets, suite

    if list_:
        for name in presets.STUDIES:
            where = " (full suite; by name in quick)" if name in presets.FULL_ONLY else ""
            typer.echo(f"{name:15s} {presets.get_study(name).claim}{where}")
        return
    if quick and full:
        raise DepthlabError("--quick and --full: choose one")
    size = "full" if full else "quick"
    own = given(target, task, impute, dates)
    if log_to:
        from depthlab.diagnose.sinks import check_spec

        check_spec(log_to)  # a bad name is one line before any run, not after the whole suite
    if report_only:
        from depthlab.study.report import write_report

        html = write_report(suite.plan(names, size, data, device, model, own), out, size=size, data=data)
    else:
        workers = workers or suite.default_workers()
        summary, html = suite.run_suite(
            names,
            size=size,
            data=data,
            out=out,
            workers=workers,
            backend=backend,
            address=address,
            quiet=quiet,
            retry_failed=retry_failed,
            device=device,
            model=model,
            data_options=own,
        )
        counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.statuses.items())) or "nothing new"
        if not quiet:
            typer.echo("")
        typer.echo(
            f"{summary.total} runs: {summary.skipped} already stored, {counts} ({summary.wall_seconds:.0f}s)"
        )
    from depthlab.study import summary as verdicts

    for text in verdicts.lines(verdicts.read(html.parent)):
        typer.echo(text)
    if log_to:
        from depthlab.study.sinks import log_runs

        typer.echo(f"{log_runs(out, log_to)} runs written to {log_to}")
    typer.echo(f"report: {html}")
