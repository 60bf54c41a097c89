"""The typer application every command module registers on; kept apart so modules can import it."""

import typer

app = typer.Typer(
    name="depthlab",
    help="A lab about the depth of neural networks: build, train, diagnose, study.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """depthlab: build, train, diagnose and study deep (and non-deep) networks."""
