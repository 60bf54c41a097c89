"""Run the play app on uvicorn: bind, print the address with its token first, open the browser, stop cleanly.

The socket is bound here (``--port 0`` picks a free port) so the first printed line already holds the real
port. Ctrl-C lets uvicorn shut down gracefully; the app's lifespan then stops every job and joins its thread.
"""

from __future__ import annotations

import socket
import sys
import threading
import webbrowser

from depthlab.errors import DepthlabError
from depthlab.play.app import create_app
from depthlab.play.security import LOCAL_HOSTS
from depthlab.play.settings import UserData


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); a clear error when the port is taken or the host unknown."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise DepthlabError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    user_data: UserData | None = None,
    open_browser: bool = True,
) -> None:
    """Serve until Ctrl-C; the first line printed is ``depthlab play: http://HOST:PORT/?token=TOKEN``."""
    import uvicorn

    if not 0 <= port <= 65535:
        raise DepthlabError(f"port={port}: must be in [0, 65535]")
    sock = bind(host, port)
    port = sock.getsockname()[1]
    app = create_app(host=host, user_data=user_data, cookie=f"depthlab_play_{port}")
    url = f"http://{url_host(host)}:{port}/?token={app.state.token}"
    print(f"depthlab play: {url}", flush=True)
    if host not in LOCAL_HOSTS:
        print(
            f"depthlab play: warning: listening on {host}, not only this machine: anyone who can reach it "
            "and has the token can train models here",
            file=sys.stderr,
            flush=True,
        )
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=2, lifespan="on"
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled, once it has shut down
        pass
    print("depthlab play: stopped", flush=True)
