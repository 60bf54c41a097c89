"""The real ``depthlab play --no-browser --port 0`` process: its first line, loopback, token, streaming, a
closed stream stopping its job, and Ctrl-C stopping cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from depthlab.cli import main

FIRST_LINE = re.compile(r"^depthlab play: http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{24,})$")
SMALL = {"model": "mlp", "data": "circle", "depth": 4, "width": 8}


def read_line(stream, timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert box, "no first line in time"
    return box[0].rstrip("\n")


@pytest.fixture(scope="module")
def server():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "depthlab.cli", "play", "--no-browser", "--port", "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = read_line(proc.stdout, timeout=120)
        match = FIRST_LINE.match(line)
        assert match, line
        port, token = int(match.group(1)), match.group(2)
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=base, headers={"x-depthlab-token": token, "origin": base}, timeout=30)
        yield {"proc": proc, "port": port, "token": token, "base": base, "client": client}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on ``port`` (Linux /proc/net/tcp{,6}: state 0A = LISTEN)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_the_first_line_is_the_url_and_it_listens_on_loopback_only(server):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp")
    assert listening_addresses(server["port"]) == {"0100007F"}  # 127.0.0.1, little-endian hex


def test_the_real_server_wants_its_token(server):
    bare = httpx.Client(base_url=server["base"], timeout=30)
    assert bare.get("/").status_code == 401
    assert bare.get("/", headers={"x-depthlab-token": "nope"}).status_code == 403
    page = bare.get(f"/?token={server['token']}")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    assert bare.get("/api/options", headers={"host": "attacker.example"}).status_code == 403


def test_updates_stream_and_a_closed_stream_stops_its_job(server):
    client = server["client"]
    job = client.post("/api/jobs", json={"settings": SMALL}).json()
    steps = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        for line in events.iter_lines():
            if line.startswith("data: "):
                update = json.loads(line[6:])
                if update["status"] == "running" and update["layers"]:
                    steps.append(update["step"])
            if len(steps) >= 4:
                break
    assert steps == sorted(steps) and len(set(steps)) == 4  # newer updates, never an old one again
    deadline = time.monotonic() + 60
    while client.get(f"/api/jobs/{job['id']}").json()["status"] != "stopped":
        assert time.monotonic() < deadline, "the job outlived its closed stream"
        time.sleep(0.2)
    assert "tab was closed" in client.get(f"/api/jobs/{job['id']}").json()["reason"]


def test_ctrl_c_stops_the_server_and_its_jobs_cleanly(server):
    client = server["client"]
    job = client.post("/api/jobs", json={"settings": SMALL}).json()
    assert job["status"] in ("starting", "running")
    server["proc"].send_signal(signal.SIGINT)
    assert server["proc"].wait(60) == 0
    err = server["proc"].stderr.read()
    assert "Traceback" not in err and "error" not in err
    assert server["proc"].stdout.read().strip() == "depthlab play: stopped"


def test_another_host_is_announced_with_a_warning(monkeypatch, capsys):
    import uvicorn

    from depthlab.play import server as play_server

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: sockets[0].close())
    play_server.serve(host="127.0.0.2", port=0, open_browser=False)
    out, err = capsys.readouterr()
    assert re.match(r"^depthlab play: http://127\.0\.0\.2:\d+/\?token=\S+$", out.splitlines()[0])
    assert "warning: listening on 127.0.0.2" in err


def test_bad_command_lines_are_one_line_errors(capsys):
    assert main(["play", "--target", "y", "--no-browser"]) == 2
    assert capsys.readouterr().err.strip() == "depthlab: error: --target needs --data"
    assert main(["play", "--port", "70000", "--no-browser"]) == 2
    assert "port=70000" in capsys.readouterr().err
