"""``depthlab play``: the live depth playground in the browser (see docs/play.md)."""

from __future__ import annotations

import typer

from depthlab.cli.app import app
from depthlab.cli.file_options import Target


@app.command("play")
def play(
    port: int = typer.Option(8765, "--port", help="port to listen on (0: any free port)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (not loopback: a warning)"),
    data: str = typer.Option(None, "--data", help="your own data file (CSV, ...), offered in the page"),
    target: Target = None,
    no_browser: bool = typer.Option(False, "--no-browser", help="do not open a browser"),
) -> None:
    """Serve a page that trains a net live and shows its gradient flow against depth."""
    from depthlab.errors import DepthlabError
    from depthlab.play.server import serve
    from depthlab.play.settings import UserData

    if target and not data:
        raise DepthlabError("--target needs --data")
    user_data = UserData(data, target) if data else None
    if user_data is not None:
        user_data.load(seed=0)  # a bad file or column is reported now, in one line, not in the page
    serve(host=host, port=port, user_data=user_data, open_browser=not no_browser)
