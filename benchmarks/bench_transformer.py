"""Tokens per second of ``fit`` on character-level language modelling against a nanoGPT-style loop, same
model, same batches' size, one process, rounds alternated so both see the same machine.

The baseline is the loop of Karpathy's nanoGPT ``train.py`` written out here: each step draws ``batch``
random windows of the training split with ``torch.randint``, runs the model, takes the cross-entropy of the
flattened logits, ``zero_grad(set_to_none=True)``, ``backward``, clips the gradient norm at 1.0, AdamW
``step``, and reads ``loss.item()`` for the log (nanoGPT logs every iteration by default). ``fit`` trains the
same architecture (``create_model("transformer", task="lm")``) on the same windows (an epoch is a seeded
permutation of them); its rate is the History's training throughput (evaluation time excluded). Both use
AdamW at the same rate and the same intra-op threads.

    python benchmarks/bench_transformer.py [--steps 150] [--rounds 3] [--depth 4] [--width 128]
    python benchmarks/bench_transformer.py --device cuda --steps 400     # the GPU run
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from depthlab.data import load_dataset
from depthlab.models import create_model
from depthlab.train import fit


def build(data, args, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model(
        "transformer", depth=args.depth, width=args.width, heads=args.heads, **data.model_kwargs()
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def nanogpt_loop(model, x_train, y_train, args, device: torch.device) -> float:
    """nanoGPT's training step on ``args.steps`` batches of random windows; returns tokens/s."""
    model = model.to(device).train()
    x_train, y_train = x_train.to(device), y_train.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95))
    vocab = model.config.num_classes
    tokens, logged = 0, 0.0
    sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        ix = torch.randint(len(x_train), (args.batch,), device=device)
        xb, yb = x_train[ix], y_train[ix]
        logits = model(xb)
        loss = F.cross_entropy(logits.view(-1, vocab), yb.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        logged += loss.item()
        tokens += xb.numel()
    sync(device)
    return tokens / (time.perf_counter() - start)


def fit_rate(model, data, args, device: torch.device) -> float:
    """``fit`` for ``args.steps`` steps; tokens/s of its training time."""
    history = fit(
        model,
        data,
        steps=args.steps,
        batch_size=args.batch,
        lr=args.lr,
        optimizer="adamw",
        weight_decay=0.1,
        grad_clip=1.0,
        device=str(device),
        quiet=True,
        eval_every=10_000,  # one evaluation, at the end: its time is not in the training rate anyway
    )
    return history.samples_per_sec * data.x_train.shape[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = load_dataset("chars", block=args.block)
    rates: dict[str, list[float]] = {"nanoGPT loop": [], "fit": []}
    for r in range(args.rounds + 1):  # round 0 warms up both (allocator, kernels) and is not kept
        plain = nanogpt_loop(build(data, args, r), data.x_train, data.y_train, args, device)
        ours = fit_rate(build(data, args, r), data, args, device)
        if r:
            rates["nanoGPT loop"].append(plain)
            rates["fit"].append(ours)
    print(
        f"transformer LM depth {args.depth} width {args.width} heads {args.heads}, block {args.block}, "
        f"batch {args.batch}, {args.steps} steps x {args.rounds} rounds, {device}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    for name, values in rates.items():
        print(
            f"  {name:13s} {statistics.median(values):10.0f} tokens/s (rounds: {[round(v) for v in values]})"
        )
    ratio = [a / b for a, b in zip(rates["fit"], rates["nanoGPT loop"], strict=True)]
    print(f"  fit / nanoGPT loop: {statistics.median(ratio):.2f} (per round: {[round(v, 2) for v in ratio]})")


if __name__ == "__main__":
    main()
