"""``depthlab reference``: the NumPy reference nets (the second seed's examples, gradient-checked) on XOR."""

from __future__ import annotations

import typer

from depthlab.cli.app import app

reference_app = typer.Typer(
    help="NumPy reference nets: the seed's XOR examples, explicit checked backprop.", no_args_is_help=True
)
app.add_typer(reference_app, name="reference")


@reference_app.command("xor")
def xor(
    depth: int = typer.Option(10, help="number of Dense layers"),
    width: int = typer.Option(4, help="hidden units per layer"),
    norm: str = typer.Option("none", help="none | batch"),
    residual: bool = typer.Option(False, "--residual", help="a skip connection around each hidden layer"),
    activation: str = typer.Option("sigmoid", help="sigmoid | tanh | relu | leaky_relu"),
    init: str = typer.Option("rand", help="rand (the seed's np.random.rand) | xavier | he"),
    loss: str = typer.Option("ce", help="ce (softmax cross-entropy) | mse (sigmoid output)"),
    steps: int = typer.Option(2000, help="full-batch SGD steps"),
    lr: float = typer.Option(0.1, help="learning rate"),
    momentum: float = typer.Option(0.9, help="SGD momentum"),
    seed: int = typer.Option(0, help="init seed"),
) -> None:
    """Train a depth-N net on XOR; print the loss curve and per-layer gradient norms."""
    from depthlab.reference.network import xor_experiment
    from depthlab.reference.report import xor_report

    settings = dict(
        depth=depth,
        width=width,
        activation=activation,
        norm=norm,
        residual=residual,
        init=init,
        loss=loss,
        steps=steps,
        lr=lr,
        momentum=momentum,
        seed=seed,
    )
    typer.echo(xor_report(xor_experiment(**settings), settings))


def _examples(names: tuple[str, ...], seeds: int, steps: int) -> None:
    from depthlab.errors import check
    from depthlab.reference.examples import sweep
    from depthlab.reference.report import examples_report

    check(seeds >= 1, f"seeds must be at least 1, got {seeds}")
    check(steps >= 1, f"steps must be at least 1, got {steps}")
    for name in names:
        typer.echo(examples_report(name, sweep(name, range(seeds), steps)))


SEEDS = typer.Option(5, help="how many seeds (0, 1, ...) to run")
STEPS = typer.Option(10_000, help="training steps, as in the seed")


@reference_app.command("example1")
def example1(seeds: int = SEEDS, steps: int = STEPS) -> None:
    """The seed's Example 1 verbatim, next to a corrected version (biases, Xavier init)."""
    _examples(("example1", "example1-corrected"), seeds, steps)


@reference_app.command("example2")
def example2(seeds: int = SEEDS, steps: int = STEPS) -> None:
    """The seed's Example 2 completed: batch norm after each layer, with its backward pass."""
    _examples(("example2",), seeds, steps)


@reference_app.command("example3")
def example3(seeds: int = SEEDS, steps: int = STEPS) -> None:
    """The seed's Example 3 completed: two residual blocks (the second with a projection), with backprop."""
    _examples(("example3",), seeds, steps)
