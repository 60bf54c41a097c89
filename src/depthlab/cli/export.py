"""``depthlab export MODEL|CHECKPOINT --format onnx|torch-export``: a model for another runtime, checked."""

from __future__ import annotations

import typer

from depthlab.cli.app import app
from depthlab.config import parse_pairs

OVERRIDES = typer.Argument(None, help="model config key=value, e.g. width=8 input_shape=3,32,32")


@app.command("export")
def export(
    source: str = typer.Argument(
        ...,
        help="a model name (parnet_s, resnet18), a builder FILE.py:build, a run folder (depthlab train "
        "--out DIR) or X.safetensors with X.json",
    ),
    overrides: list[str] = OVERRIDES,
    format: str = typer.Option("onnx", "--format", help="onnx or torch-export"),
    out: str = typer.Option(None, "--out", help="file to write (default: NAME.onnx or NAME.pt2 here)"),
    train_form: bool = typer.Option(False, "--train-form", help="the train form, not the deploy form"),
    batch: int = typer.Option(1, "--batch", help="batch of the check input (and of a torch-export program)"),
) -> None:
    """Export a model in its deploy form (ParNet fused) as ONNX or a torch.export program, and check the file
    against PyTorch: onnxruntime runs the ONNX model, and its depth is read from the ONNX graph."""
    from depthlab.export import default_path, export_model, load_for_export

    path = out or default_path(source, format)
    model = load_for_export(source, parse_pairs(overrides or []))
    done = export_model(model, path, format, "train" if train_form else "deploy", batch=batch)
    for line in done.lines():
        typer.echo(line)
