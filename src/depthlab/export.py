"""``depthlab export``: a model or a trained run as ONNX or a ``torch.export`` program, checked once written.

What is exported is the deploy form by default (``depthlab.deploy.deploy_form``: ParNet's blocks fused,
BatchNorms folded, eval mode; Non-deep Networks, arXiv 2110.07641), else the train form in eval mode. Each
file is checked after it is written: the ONNX model is run by onnxruntime (CPU) and the ``.pt2`` program by
``torch.export.load``, on the same random input as the PyTorch model, and their outputs must agree within
``|other - torch| <= ATOL + RTOL * |torch|`` (float32); the ONNX file's longest-path depth is read from its
own graph (:func:`onnx_depth`) beside the depth meter's (``depthlab.diagnose.longest_path_depth``). A file
that fails its check is not left at ``path``.

ONNX goes through ``torch.onnx.export``'s TorchScript exporter (``dynamo=False``): it needs only ``onnx``,
takes well under a second for a small model where the ``torch.export``-based one (which also needs
``onnxscript``) takes tens of seconds here, and gives the same operators for these models; the batch axis is
dynamic. The ``torch.export`` program is traced at the given batch size.
"""

from __future__ import annotations

import copy
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from depthlab import atomic
from depthlab.deploy import deploy_form, read_json, read_weights
from depthlab.diagnose.depth import longest_path_depth
from depthlab.errors import DepthlabError, unknown
from depthlab.extras import require
from depthlab.models.registry import create_model

FORMATS = ("onnx", "torch-export")
SUFFIXES = {"onnx": ".onnx", "torch-export": ".pt2"}
FORMS = ("deploy", "train")
RTOL, ATOL = 1e-4, 1e-4  # float32 through a second runtime: reordered sums differ in the last bits
WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")  # an ONNX weight layer, given a rank >= 2 weight


@dataclass(frozen=True)
class Exported:
    """What ``export_model`` wrote and how it was checked."""

    path: Path
    format: str
    form: str
    input_shape: tuple[int, ...]
    max_error: float | None  # largest |other runtime - torch| on the check input; None: not checked
    checked_by: str | None  # "onnxruntime", "torch.export.load" or None (onnxruntime not installed)
    graph_depth: int | None  # longest path of weight ops in the ONNX graph (None for torch-export)
    meter_depth: int  # depthlab's depth meter on the exported form

    def lines(self) -> list[str]:
        check = (
            f"outputs equal PyTorch's within {ATOL:g} + {RTOL:g}*|y| ({self.checked_by}: max |diff| "
            f"{self.max_error:.2e})"
            if self.checked_by
            else "not run: pip install 'depthlab[onnx]' for onnxruntime"
        )
        depth = f"depth {self.meter_depth} (depth meter)"
        if self.graph_depth is not None:
            depth += f", {self.graph_depth} read from the ONNX graph"
        return [
            f"wrote {self.path} ({self.format}, {self.form} form, input {self.input_shape})",
            check,
            depth,
        ]


def export_model(
    model: nn.Module,
    path: str | Path,
    format: str = "onnx",
    form: str = "deploy",
    input_shape: tuple[int, ...] | None = None,
    batch: int = 1,
) -> Exported:
    """Write ``model`` (in ``form``) to ``path`` as ``format`` and check the file (module docstring)."""
    if format not in FORMATS:
        raise unknown("export format", format, FORMATS)
    if form not in FORMS:
        raise unknown("form", form, FORMS)
    shape = tuple(input_shape or getattr(getattr(model, "config", None), "input_shape", ()) or ())
    if not shape:
        raise DepthlabError(
            f"{type(model).__name__}: no input_shape known; pass input_shape=... (one sample)"
        )
    exported = deploy_form(model) if form == "deploy" else copy.deepcopy(model).eval()
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = exported(x)
    checks: dict[str, Any] = {}

    def write(tmp: str) -> None:  # written, read back and checked before it takes the name ``path``
        write_file, check_file = FORMAT_IO[format]
        write_file(exported, x, tmp)
        checks.update(check_file(tmp, x, expected))

    atomic.write_with(path, write)
    meter = longest_path_depth(exported, x).depth
    return Exported(Path(path), format, form, shape, meter_depth=meter, **checks)


def _write_onnx(model: nn.Module, x: torch.Tensor, tmp: str) -> None:
    require("onnx", "onnx", "export --format onnx")
    with (
        warnings.catch_warnings()
    ):  # the TorchScript exporter's deprecation notice: chosen on purpose (above)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (x,),
            tmp,
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )


def _check_onnx(tmp: str, x: torch.Tensor, expected: torch.Tensor) -> dict[str, Any]:
    """onnxruntime's output (CPU) against PyTorch's, when onnxruntime is installed; the graph's depth."""
    checks: dict[str, Any] = {"graph_depth": onnx_depth(tmp), "max_error": None, "checked_by": None}
    try:
        import onnxruntime
    except ImportError:  # exporting needs only onnx; the check says how to get the runtime
        return checks
    session = onnxruntime.InferenceSession(tmp, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x.numpy()})
    return checks | {"max_error": _check_close(torch.from_numpy(out), expected), "checked_by": "onnxruntime"}


def _write_program(model: nn.Module, x: torch.Tensor, tmp: str) -> None:
    torch.export.save(torch.export.export(model, (x,)), tmp)


def _check_program(tmp: str, x: torch.Tensor, expected: torch.Tensor) -> dict[str, Any]:
    with torch.no_grad():
        out = torch.export.load(tmp).module()(x)
    return {"max_error": _check_close(out, expected), "checked_by": "torch.export.load", "graph_depth": None}


FORMAT_IO = {"onnx": (_write_onnx, _check_onnx), "torch-export": (_write_program, _check_program)}


def _check_close(got: torch.Tensor, expected: torch.Tensor) -> float:
    """The largest |got - expected|; outside the tolerance the export is wrong, and says so."""
    error = (got - expected).abs().max().item()
    if not torch.allclose(got, expected, rtol=RTOL, atol=ATOL):
        raise DepthlabError(f"the exported model's outputs differ from PyTorch's by up to {error:.3g}")
    return error


def onnx_depth(path: str | Path) -> int:
    """Weight layers on the longest input -> output path of an ONNX file's graph: nodes in ``WEIGHT_OPS``
    with an initializer of rank >= 2 among their inputs (the depth meter's rule for a weight layer)."""
    onnx = require("onnx", "onnx", "reading an ONNX graph")
    graph = onnx.load(str(path)).graph
    weights = {init.name for init in graph.initializer if len(init.dims) >= 2}
    depth: dict[str, int] = {}
    for node in graph.node:  # ONNX stores nodes in topological order
        below = max((depth.get(name, 0) for name in node.input), default=0)
        here = below + (node.op_type in WEIGHT_OPS and any(name in weights for name in node.input))
        depth |= dict.fromkeys(node.output, here)
    return max(depth.get(out.name, 0) for out in graph.output)


def default_path(source: str, format: str) -> Path:
    """``NAME.onnx`` or ``NAME.pt2`` in the current folder, NAME from the model, builder or checkpoint."""
    if format not in FORMATS:
        raise unknown("export format", format, FORMATS)
    stem = Path(source.rsplit(":", 1)[-1]).stem if Path(source).exists() or ":" in source else source
    return Path(re.sub(r"[^\w.-]+", "_", stem) + SUFFIXES[format])


def load_for_export(source: str, overrides: dict[str, Any]) -> nn.Module:
    """A registered model or builder reference built with ``overrides``, or a trained run
    (``depthlab train --out DIR``: ``DIR/result.json`` + ``DIR/checkpoints``) or a ``.safetensors`` file with
    its ``.json`` (``depthlab reparam``'s output), with its weights."""
    path = Path(source)
    if not path.exists():
        return create_model(source, **overrides)
    if path.is_dir() and (path / "result.json").is_file():
        result = read_json(path / "result.json")
        name, config = result["model"], dict(result.get("model_config") or {})
        state, _ = read_weights(path / "checkpoints")
    else:
        state, meta = read_weights(path)
        if "model" not in meta:
            raise DepthlabError(
                f"{source}: the checkpoint does not name its model (expected X.json beside it)"
            )
        name, config = meta["model"], dict(meta.get("config") or {})
    model = create_model(name, **{**config, **overrides})
    if any(".fused." in key for key in state):  # written in deploy form
        model.reparameterize()
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise DepthlabError(f"{source}: weights do not fit {name}: {str(err).splitlines()[0]}") from None
    return model
