"""ParNet's deploy form at batch 1: onnxruntime (CPU) on the exported ONNX file against PyTorch eager.

The model is exported by ``depthlab.export.export_model`` (deploy form, checked against PyTorch), then both
runtimes are timed on the same input with the one timer (``depthlab.diagnose.timing.time_calls``), in
alternating rounds in this process, with the same number of intra-op threads; each number is the median over
rounds of the per-call medians.

    python benchmarks/bench_export.py                      # ParNet-S, 224x224, 1 thread; needs depthlab[onnx]
    python benchmarks/bench_export.py --model parnet_m --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

from depthlab.deploy import deploy_form
from depthlab.diagnose.timing import time_calls
from depthlab.export import export_model
from depthlab.models import create_model
from depthlab.models.reparam import randomize_batchnorm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="parnet_s")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--budget", type=float, default=4.0, help="seconds of timed calls per round and runtime"
    )
    args = parser.parse_args()
    import onnxruntime

    torch.set_num_threads(args.threads)
    model = create_model(args.model, input_shape=(3, args.size, args.size))
    randomize_batchnorm(model)  # stands in for trained statistics (untrained BNs fold to identities)
    x = torch.randn(1, 3, args.size, args.size)
    with tempfile.TemporaryDirectory() as folder:
        done = export_model(model, Path(folder) / "model.onnx")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
        session = onnxruntime.InferenceSession(str(done.path), options, providers=["CPUExecutionProvider"])
    eager, feed = deploy_form(model), {"input": x.numpy()}
    calls = {"PyTorch eager": lambda: eager(x), "onnxruntime": lambda: session.run(None, feed)}
    times: dict[str, list[float]] = {name: [] for name in calls}
    with torch.inference_mode():
        for _ in range(args.rounds):
            for name, call in calls.items():
                times[name].append(time_calls(call, args.budget, threads=args.threads).seconds)
    print(
        f"{args.model} deploy form, batch 1, {args.size}x{args.size}, fp32, NCHW, CPU, "
        f"{args.threads} thread(s), torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; "
        f"ONNX graph depth {done.graph_depth}, max |diff| {done.max_error:.1e}"
    )
    base = statistics.median(times["PyTorch eager"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:15} {median * 1e3:8.1f} ms   x{median / base:.2f} of eager")


if __name__ == "__main__":
    main()
