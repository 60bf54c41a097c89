"""The play app in process (TestClient): each security rule, validation, caps, exports, controls."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_safetensors
from starlette.testclient import TestClient

from depthlab.diagnose.watch import COLUMNS
from depthlab.play import settings
from depthlab.play.app import STATIC, create_app
from depthlab.play.job import load_data
from depthlab.play.manager import JobManager
from polling import wait_for

BASE = "http://127.0.0.1:8765"
ORIGIN = {"origin": BASE}
SMALL = {"model": "mlp", "data": "circle", "depth": 3, "width": 8}


@pytest.fixture
def app():
    app = create_app(token="secret-token", manager=JobManager(grace_s=0.3, claim_s=60))
    yield app
    app.state.manager.stop_all()


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE) as c:
        c.headers["x-depthlab-token"] = "secret-token"
        yield c


def bare(app):
    return TestClient(app, base_url=BASE)


def start_job(client, paused=False, **raw):
    r = client.post("/api/jobs", json={"settings": {**SMALL, **raw}, "paused": paused}, headers=ORIGIN)
    assert r.status_code == 201, r.text
    return client.app.state.manager.get(r.json()["id"])


def update(job) -> dict:
    return json.loads(job.message)


# -- the token -------------------------------------------------------------------------------------
def test_no_token_is_401_and_a_wrong_one_403(app):
    c = bare(app)
    assert c.get("/").status_code == 401
    assert c.get("/api/options").status_code == 401
    assert c.get("/static/app.js").status_code == 401
    assert c.get("/?token=guess").status_code == 403
    assert c.get("/api/options", headers={"x-depthlab-token": "guess"}).status_code == 403
    assert c.get("/api/options", headers={"cookie": "depthlab_play=guess"}).status_code == 403


def test_the_query_token_sets_a_strict_cookie_that_then_suffices(app):
    c = bare(app)
    first = c.get("/?token=secret-token")
    assert first.status_code == 200 and "<title>" in first.text
    cookie = first.headers["set-cookie"]
    assert "depthlab_play=secret-token" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert c.get("/api/options").status_code == 200  # the cookie jar now carries it
    assert bare(app).get("/api/options", headers={"authorization": "token secret-token"}).status_code == 200


# -- Host and Origin -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "192.168.1.5:8765", "localhost.:1"]
)
def test_a_foreign_host_is_refused_even_with_the_token(client, host):
    assert client.get("/api/options", headers={"host": host}).status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:9", "[::1]:8765", "LOCALHOST"])
def test_local_hosts_are_served(client, host):
    assert client.get("/api/options", headers={"host": host}).status_code == 200


def test_a_state_change_needs_the_pages_own_origin(client):
    body = {"settings": SMALL}
    assert client.post("/api/jobs", json=body).status_code == 403  # no Origin
    assert client.post("/api/jobs", json=body, headers={"origin": "http://evil.example"}).status_code == 403
    assert client.post("/api/jobs", json=body, headers={"origin": "http://127.0.0.1:9999"}).status_code == 403
    assert client.get("/api/options", headers={"origin": "http://evil.example"}).status_code == 403
    assert not client.app.state.manager.jobs  # nothing was started by the refused requests


# -- paths -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/static/../security.py",
        "/static/..%2fsecurity.py",
        "/static/%2e%2e/security.py",
        "/static/%2e%2e%2fsecurity.py",
        "/static/%252e%252e/security.py",
        "/static/..%5csecurity.py",
        "/static/vendor/..%2f..%2fsecurity.py",
        "/static//etc/passwd",
        "/static/%00",
        "/../pyproject.toml",
    ],
)
def test_no_path_leaves_the_static_folder(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "Guard" not in r.text and "root:" not in r.text


def test_static_files_are_the_packages_own(client):
    for name in ("app.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.LICENSE"):
        assert client.get(f"/static/{name}").content == (STATIC / name).read_bytes()
    assert "MIT License" in (STATIC / "vendor" / "uPlot.LICENSE").read_text()


# -- offline: a CSP on every response and a page that names no other host --------------------------
def test_every_response_carries_the_csp(client, app):
    responses = [client.get("/"), client.get("/api/options"), client.get("/static/nope"), bare(app).get("/")]
    for r in responses:
        policy = r.headers["content-security-policy"]
        assert (
            "default-src 'none'" in policy
            and "connect-src 'self'" in policy
            and "script-src 'self'" in policy
        )
        assert "http" not in policy
        assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"


def test_the_page_loads_nothing_from_elsewhere():
    html = (STATIC / "index.html").read_text()
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/static/", "data:")), url
    for name in ("app.js", "style.css"):
        text = (STATIC / name).read_text()
        assert not re.search(r"https?://", text), name
        assert "@import" not in text and 'fetch("http' not in text


# -- validated settings and caps -------------------------------------------------------------------
def test_a_bad_setting_is_the_clis_one_line_message(client):
    r = client.post("/api/validate", json={"settings": {**SMALL, "activation": "rleu"}}, headers=ORIGIN)
    assert r.status_code == 200 and "command" not in r.json()
    assert "'rleu'; did you mean 'relu'?" in r.json()["error"]  # the same text as the CLI: test_play_settings
    r = client.post("/api/jobs", json={"settings": {**SMALL, "depth": 5000}}, headers=ORIGIN)
    assert r.status_code == 400 and r.json() == {"error": "depth=5000: above the play cap of 1024"}
    ok = client.post("/api/validate", json={"settings": SMALL}, headers=ORIGIN)
    assert ok.json()["command"] == "depthlab train mlp depth=3 width=8 --data circle"


@pytest.mark.parametrize(
    "key, value, named",
    [
        ("depth", "abc", "depth='abc': expected int"),
        ("depth", "1e4", "depth=10000: above the play cap"),  # read as the CLI reads it, then capped
        ("depth", "2.5", "depth='2.5': expected int"),
        ("width", "-3", "width=-3: must be"),
        ("width", "[8]", "width='[8]': expected int"),
        ("batch_size", "abc", "batch_size='abc': expected int"),
        ("batch_size", "1e9", "batch_size=1000000000: above the play cap"),
        ("steps", "1e9", "steps=1000000000: above the play cap"),
        ("steps", "many", "steps='many': expected int"),
        ("lr", "fast", "lr='fast': expected float"),
        ("seed", "99999999999999999999", "seed=99999999999999999999: too large"),
        ("num_samples", "99999999999999999999", "num_samples=99999999999999999999: above the play cap"),
        ("noise", "loud", "noise='loud': expected float"),
        ("residual", "maybe", "residual='maybe': expected a boolean"),
        ("checkpoint_dir", "/tmp/anywhere", "checkpoint_dir='/tmp/anywhere': not in play"),
    ],
)
def test_a_bad_value_is_a_400_naming_it_never_a_500(client, key, value, named):
    for route, status in (("/api/validate", 200), ("/api/jobs", 400)):  # validate answers; create refuses
        r = client.post(route, json={"settings": {**SMALL, key: value}}, headers=ORIGIN)
        assert r.status_code == status and set(r.json()) == {"error"}, (route, r.text)
        assert r.json()["error"].startswith(named) and "\n" not in r.json()["error"], r.json()["error"]
    assert not client.app.state.manager.jobs


def test_play_reads_numbers_as_the_cli_does():
    assert settings.parse_setup({**SMALL, "depth": "1e3", "width": "8"}).model_kw["depth"] == "1e3"
    setup = settings.parse_setup({**SMALL, "depth": "1e3", "width": "8"})
    assert settings.model_config(setup, load_data(setup, 0)).depth == 1000  # within the cap of 1024


@pytest.mark.parametrize(
    "body, words",
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"settings": [1]}', "expected a JSON object of key=value pairs"),
    ],
)
def test_malformed_bodies_are_400s(client, body, words):
    r = client.post("/api/jobs", content=body, headers={**ORIGIN, "content-type": "application/json"})
    assert r.status_code == 400 and words in r.json()["error"]


def test_a_huge_body_is_refused(client):
    r = client.post("/api/jobs", content=b"x" * 70_000, headers=ORIGIN)
    assert r.status_code in (400, 413) and not client.app.state.manager.jobs


def test_the_job_cap_is_429(client, monkeypatch):
    monkeypatch.setitem(settings.CAPS, "jobs", 1)
    start_job(client, paused=True)
    r = client.post("/api/jobs", json={"settings": SMALL}, headers=ORIGIN)
    assert r.status_code == 429 and "the cap is 1" in r.json()["error"]


# -- controls --------------------------------------------------------------------------------------
def test_pause_holds_and_step_advances_exactly_one_step(client):
    job = start_job(client)
    wait_for(lambda: update(job)["step"] >= 3)
    assert (
        client.post(f"/api/jobs/{job.id}/control", json={"action": "pause"}, headers=ORIGIN).status_code
        == 200
    )
    wait_for(lambda: update(job)["status"] == "paused")
    held = update(job)["step"]
    time.sleep(0.3)
    assert update(job)["step"] == held
    client.post(f"/api/jobs/{job.id}/control", json={"action": "step"}, headers=ORIGIN)
    wait_for(lambda: update(job)["step"] == held + 1 and update(job)["layers"]["step"] == held + 1)
    time.sleep(0.3)
    assert update(job)["step"] == held + 1 and update(job)["status"] == "paused"
    bad = client.post(f"/api/jobs/{job.id}/control", json={"action": "explode"}, headers=ORIGIN)
    assert bad.status_code == 400 and "valid: pause, play, step, stop" in bad.json()["error"]


def test_delete_stops_the_job(client):
    job = start_job(client)
    assert client.delete(f"/api/jobs/{job.id}", headers=ORIGIN).status_code == 200
    wait_for(lambda: not job.thread.is_alive())
    assert update(job)["status"] == "stopped"


def test_a_job_nobody_watches_stops_after_the_grace_period():
    manager = JobManager(grace_s=0.2, claim_s=0.5)
    job = manager.create(settings.parse_setup(SMALL))
    wait_for(lambda: not job.thread.is_alive(), timeout=30)
    assert job.status == "stopped" and "no page is watching" in job.reason
    watched = manager.create(settings.parse_setup(SMALL))
    manager.watching(watched, +1)  # a tab holds its stream open ...
    time.sleep(0.8)
    assert watched.active
    manager.watching(watched, -1)  # ... and is closed
    wait_for(lambda: not watched.thread.is_alive(), timeout=30)
    assert "tab was closed" in watched.reason


# -- exports ---------------------------------------------------------------------------------------
def test_the_watch_csv_has_the_watch_columns_and_every_layer(client):
    job = start_job(client)
    wait_for(lambda: update(job)["step"] >= 5)
    job.control("pause")
    r = client.get(f"/api/jobs/{job.id}/watch.csv")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0])[: len(COLUMNS)] == list(COLUMNS)
    names = {row["name"] for row in rows}
    linear = {name for name, m in job.model.named_modules() if isinstance(m, torch.nn.Linear)}
    assert names == linear and len(linear) == 3  # depth 3: stem, one block, head
    steps = sorted({int(row["step"]) for row in rows})
    assert len(rows) == 3 * len(steps)


def test_the_weights_are_the_models_state_and_the_command_its_setup(client):
    job = start_job(client, paused=True)
    client.post(f"/api/jobs/{job.id}/control", json={"action": "step"}, headers=ORIGIN)
    wait_for(lambda: update(job)["step"] == 1)
    blob = client.get(f"/api/jobs/{job.id}/weights.safetensors").content
    state = load_safetensors(blob)
    expected = job.call(lambda j: {k: v.clone() for k, v in j.model.state_dict().items()})
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[k], expected[k]) for k in state)
    command = client.get(f"/api/jobs/{job.id}/command").text
    assert command == "depthlab train mlp depth=3 width=8 --data circle"


def test_unknown_jobs_are_404(client):
    for path in ("/api/jobs/nope", "/api/jobs/nope/events", "/api/jobs/nope/watch.csv"):
        assert client.get(path).status_code == 404


def test_the_docs_name_every_route():
    from depthlab.play import app as app_module

    doc = (Path(__file__).parents[1] / "docs" / "play.md").read_text()
    routes = re.findall(r'Route\((?:jobs \+ )?"([^"]+)"', Path(app_module.__file__).read_text())
    for route in routes:
        assert route.split("/")[-1] in doc, route


# -- the user's own file ---------------------------------------------------------------------------
def test_the_users_csv_is_offered_by_name_and_trains(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(120, 2, generator=gen)
    lines = ["a,b,label"] + [f"{p:.4f},{q:.4f},{int(p > 0)}" for p, q in x.tolist()]
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(lines) + "\n")
    app = create_app(token="t", user_data=settings.UserData(str(path), "label"))
    with TestClient(app, base_url=BASE, headers={"x-depthlab-token": "t"}) as c:
        options = c.get("/api/options").json()
        assert options["user_data"] == "mine.csv" and "user" in options["data"]
        r = c.post(
            "/api/jobs", json={"settings": {"model": "mlp", "data": "user", "depth": 2}}, headers=ORIGIN
        )
        assert r.status_code == 201, r.text
        assert r.json()["command"] == f"depthlab train mlp depth=2 --data {path} --target label"
        job = app.state.manager.get(r.json()["id"])
        wait_for(lambda: update(job)["layers"] is not None)
        assert len(job.points["train"]) + len(job.points["test"]) < 120  # its own splits (val held out)
        bad = c.post("/api/jobs", json={"settings": {"data": "user", "noise": 0.1}}, headers=ORIGIN)
        assert bad.status_code == 400 and "unknown option 'noise'" in bad.json()["error"]
    app.state.manager.stop_all()
