"""Cost of composing one play update: one ``json.dumps`` of the whole update (``Publisher.emit``) against the
replaced way, each view encoded once when it changes and the message joined from the encoded parts.

The views are real: the layer view of a recorded step (watch rows of the model's layers), the train/test
metrics, the decision boundary (with per-unit maps on a small 2-D net), and the doctor's verdicts. Updates go
out at most 1 / RECORD_EVERY_S a second; metrics and boundary change at most 1 / METRICS_EVERY_S, verdicts
1 / VERDICTS_EVERY_S. So per update the replaced way paid the layer view and the join, plus its share of
the other parts' encodings; the one ``json.dumps`` pays for every view every time. Both are timed in this
process, alternated round by round; reported: the median ms per update, and the ms of each second of the
training thread at the full update rate.

    python benchmarks/bench_play_message.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import torch

from depthlab.data import load_dataset
from depthlab.models import create_model
from depthlab.play import pacing, views
from depthlab.play.publisher import Publisher

CASES = {  # name: model, data, dials
    "2-D mlp d8 w8 (unit maps)": ("mlp", "xor2d", {"depth": 8, "width": 8}),
    "2-D mlp d30 w16": ("mlp", "xor2d", {"depth": 30, "width": 16}),
    "MNIST-1D mlp d64 w64": ("mlp", "mnist1d", {"depth": 64, "width": 64}),
}
SHARE = {  # of updates that carried a fresh encoding of each view
    "layers": 1.0,
    "metrics": pacing.RECORD_EVERY_S / pacing.METRICS_EVERY_S,
    "boundary": pacing.RECORD_EVERY_S / pacing.METRICS_EVERY_S,
    "verdicts": pacing.RECORD_EVERY_S / pacing.VERDICTS_EVERY_S,
}
VERDICT = {
    "check": "vanishing gradients",
    "status": "PROBLEM",
    "line": "PROBLEM vanishing gradients: " + "x" * 90,
}


def real_views(model_name: str, data_name: str, dials: dict) -> dict:
    """The four views of one update of this model, as the job computes them."""
    data = load_dataset(data_name)
    torch.manual_seed(0)
    model = create_model(model_name, **data.model_kwargs(), **dials)
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    rng = random.Random(0)
    rows = [
        {"name": f"layer{i}", "depth": i, "layer": i, "step": 9}
        | {column: rng.lognormvariate(-5, 2) for column in views.LAYER_COLUMNS}
        for i in range(len(layers))
    ]
    return {
        "layers": views.layer_view(rows, 10),
        "metrics": views.metrics_view(model, data, 10),
        "boundary": views.boundary_view(model, data, 10),
        "verdicts": [VERDICT] * 6,
    }


def replaced_update(head: dict, found: dict) -> tuple[float, str]:
    """Seconds per update of the replaced way (the layer view and the join each time, each other part's
    encoding times its share of updates: it was encoded only when it changed), and the joined message."""
    spent, parts = 0.0, {}
    for key, value in found.items():
        started = time.perf_counter()
        parts[key] = json.dumps(value, allow_nan=False)
        spent += (time.perf_counter() - started) * SHARE[key]
    started = time.perf_counter()
    fields = [json.dumps(head)[1:-1]] + [f"{json.dumps(key)}:{value}" for key, value in parts.items()]
    message = "{" + ",".join(fields) + "}"
    return spent + time.perf_counter() - started, message


def dumps_once(publisher: Publisher) -> float:
    t0 = time.perf_counter()
    publisher.emit()
    return time.perf_counter() - t0


def measure(found: dict, rounds: int) -> tuple[float, float, int]:
    publisher = Publisher("bench")
    publisher.views.update(found)
    publisher.emit()
    head = {k: v for k, v in json.loads(publisher.message).items() if k not in found}
    old, new = [], []
    for _ in range(rounds):
        seconds, joined = replaced_update(head, found)
        old.append(seconds)
        new.append(dumps_once(publisher))
    varying = {"seq": 0, "t": 0, "timing": {}}  # the same update but for its number, time and timing
    assert json.loads(joined) | varying == json.loads(publisher.message) | varying
    return statistics.median(old), statistics.median(new), len(publisher.message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate = 1 / pacing.RECORD_EVERY_S
    print(f"torch {torch.__version__}, one thread, {rate:.0f} updates/s at most")
    print(
        "| case | update bytes | replaced: parts joined, ms/update | one json.dumps, ms/update | ratio "
        f"| ms per second at {rate:.0f} updates/s (replaced → one dumps) |"
    )
    print("|---|---|---|---|---|---|")
    for name, (model_name, data_name, dials) in CASES.items():
        old, new, size = measure(real_views(model_name, data_name, dials), args.rounds)
        print(
            f"| {name} | {size:,} | {1e3 * old:.3f} | {1e3 * new:.3f} | {new / old:.1f} "
            f"| {1e3 * old * rate:.0f} → {1e3 * new * rate:.0f} |"
        )


if __name__ == "__main__":
    main()
