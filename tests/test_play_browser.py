"""The page in a real headless Chromium (Debian's, driven by Playwright; never a downloaded browser): what a
person sees. Screenshots go to the test's tmp folder (and, with DEPTHLAB_PLAY_SHOTS=DIR, to DIR)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")]

PLAIN = "model=mlp&depth=30&width=32&activation=sigmoid&data=mnist1d"
TWIN = "b.residual=true&b.norm=batch&b.init=he_normal"
A_BLUE = (76, 201, 240)


@pytest.fixture(scope="module")
def url():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "depthlab.cli", "play", "--no-browser", "--port", "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(120)
    try:
        assert box and box[0].startswith("depthlab play: http://127.0.0.1:"), box
        yield box[0].split(": ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("requestfailed", lambda r: None if aborted(r) else page.problems.append(f"failed: {r.url}"))
    yield page
    page.close()


def aborted(request) -> bool:
    """An event stream the page closed itself (on reset or a new setup) is not a failure."""
    return "ERR_ABORTED" in (request.failure or "")


def shoot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    if os.environ.get("DEPTHLAB_PLAY_SHOTS"):
        page.screenshot(path=str(Path(os.environ["DEPTHLAB_PLAY_SHOTS"]) / name), full_page=True)


def blue_pixels(page, selector: str) -> int:
    """How many pixels of the chart's canvas are drawn in A's colour (the line a person sees)."""
    return page.evaluate(
        """([sel, rgb]) => {
            const c = document.querySelector(sel);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const near = (i) => [0, 1, 2].every((k) => Math.abs(d[i + k] - rgb[k]) < 40);
            let n = 0;
            for (let i = 0; i < d.length; i += 4) if (near(i)) n++;
            return n;
        }""",
        ["#chart-grad canvas", list(A_BLUE)],
    )


def verdict_text(page, side: str = "A") -> str:
    return page.inner_text(f'#verdicts .side[data-side="{side}"]')


def wait_for_vanishing_verdict(page, side: str = "A") -> str:
    page.wait_for_function(
        "s => { const e = document.querySelector(`#verdicts .side[data-side='${s}']`);"
        " return e && e.innerText.includes('vanishing gradients'); }",
        arg=side,
        timeout=120_000,
    )
    line = [t for t in verdict_text(page, side).splitlines() if "vanishing gradients" in t][0]
    return line


def test_a_plain_sigmoid_mlp_of_depth_30_reads_vanishing_gradients(page, url, tmp_path):
    page.goto(f"{url}#{PLAIN}&play=1")
    assert "token" not in page.evaluate("location.href")  # the token leaves the address bar at once
    line = wait_for_vanishing_verdict(page)
    assert line.startswith("PROBLEM vanishing gradients:"), line
    # the gradient chart is drawn and keeps changing while the net trains
    page.wait_for_function("() => +document.getElementById('st-step').textContent > 0", timeout=60_000)
    first = page.locator("#chart-grad canvas").screenshot()
    step = int(page.inner_text("#st-step"))
    page.wait_for_function(
        f"() => +document.getElementById('st-step').textContent > {step + 20}", timeout=60_000
    )
    assert blue_pixels(page, "#chart-grad canvas") > 200
    assert page.locator("#chart-grad canvas").screenshot() != first
    status = page.inner_text("#status")
    assert re.search(r"\d+ steps/s", status) and re.search(r"[\d.]+ updates/s", status)
    assert re.search(r"step→paint \d+ ms", status)
    shoot(page, tmp_path, "play-plain-sigmoid.png")
    # the doctor's own measure (RMS of dLoss/dh per layer) draws the same picture
    before = page.locator("#chart-grad canvas").screenshot()
    page.select_option("#c-measure", "act_grad_rms")
    page.wait_for_timeout(300)
    assert blue_pixels(page, "#chart-grad canvas") > 200
    assert page.locator("#chart-grad canvas").screenshot() != before
    # one click applies the doctor's remedy: the control, the address and the command follow
    button = page.locator("#verdicts .verdict.PROBLEM button").first
    key, value = button.inner_text().removeprefix("apply ").split("=")
    button.click()
    page.wait_for_function(f"() => location.hash.includes('{key}={value}')", timeout=30_000)
    page.wait_for_function(f"() => document.getElementById('command').textContent.includes('{key}={value}')")
    assert page.problems == []


def test_its_residual_bn_he_twin_does_not(page, url, tmp_path):
    page.goto(f"{url}#{PLAIN}&{TWIN}&play=1")
    plain, twin = wait_for_vanishing_verdict(page, "A"), wait_for_vanishing_verdict(page, "B")
    assert plain.startswith("PROBLEM vanishing gradients:"), plain
    assert not twin.startswith("PROBLEM") and "vanishing gradients:" in twin, twin
    page.wait_for_timeout(1500)  # a few more updates, for the picture
    shoot(page, tmp_path, "play-compare.png")
    assert page.problems == []


def test_a_bad_value_shows_the_clis_message_and_the_hash_keeps_every_control(page, url):
    page.goto(f"{url}#{PLAIN}")
    page.wait_for_function("() => location.hash.includes('optimizer=')")
    hash_ = page.evaluate("location.hash")
    for key in ("model", "data", "depth", "width", "activation", "init", "norm", "residual", "dropout", "lr"):
        assert f"{key}=" in hash_, key
    page.fill("#n-depth", "5000")
    page.dispatch_event("#n-depth", "change")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "depth=5000: above the play cap of 1024"
    # the same address in a new tab reproduces the setup
    page.goto(f"{url}{hash_}")
    page.wait_for_function("() => document.getElementById('c-activation').value === 'sigmoid'")
    assert page.input_value("#n-depth") == "30" and page.input_value("#c-data") == "mnist1d"
    assert page.problems == []


def test_a_late_answer_to_an_earlier_check_does_not_hide_the_message(page, url):
    held = []

    def hold_the_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)  # the start-up check, answered only after the bad value's

    page.route("**/api/validate", hold_the_first)
    page.goto(f"{url}#{PLAIN}")
    page.wait_for_function("() => location.hash.includes('optimizer=')")
    page.fill("#n-depth", "5000")
    page.dispatch_event("#n-depth", "change")
    page.wait_for_selector("#error:not([hidden])")
    with page.expect_response("**/api/validate"):
        held[0].continue_()
    page.wait_for_timeout(300)  # the page's handler for that answer runs after it arrives
    assert page.is_visible("#error") and page.inner_text("#error") == "depth=5000: above the play cap of 1024"
    assert page.problems == []


def test_a_transformer_on_recall_draws_its_gradient_per_block(page, url, tmp_path):
    page.goto(url)
    page.wait_for_function("() => location.hash.includes('optimizer=')")
    page.select_option("#c-data", "recall")  # token data: the page switches to the model that reads it
    page.wait_for_function("() => document.getElementById('c-model').value === 'transformer'")
    page.fill("#n-depth", "3")
    page.dispatch_event("#n-depth", "change")
    page.wait_for_function("() => location.hash.includes('depth=3')")
    page.click("#btn-play")
    page.wait_for_function("() => +document.getElementById('st-step').textContent > 0", timeout=60_000)
    page.wait_for_function("() => window.depthlabPlay.gradient().data[0].length > 0", timeout=60_000)
    first = page.locator("#chart-grad canvas").screenshot()
    step = int(page.inner_text("#st-step"))
    page.wait_for_function(
        f"() => +document.getElementById('st-step').textContent > {step + 10}", timeout=60_000
    )
    shown = page.evaluate("window.depthlabPlay.gradient()")
    assert shown["unit"] == "block" and shown["data"][0] == [1, 2, 3]  # one point per block
    assert all(v is not None and v > 0 for v in shown["data"][1])
    assert blue_pixels(page, "#chart-grad canvas") > 200
    assert page.locator("#chart-grad canvas").screenshot() != first
    # the task and its examples stand where a 2-D boundary would
    assert page.is_hidden("#card-boundary") and page.is_hidden("#card-units")
    page.wait_for_selector("#sequence .example")
    assert "chance 13%" in page.inner_text("#sequence-about")
    assert re.search(r"→ v\d · net says v\d", page.inner_text("#sequence"))
    shoot(page, tmp_path, "play-transformer-recall.png")
    assert page.problems == [] and page.is_hidden("#error")


def test_a_model_that_cannot_read_tokens_shows_its_message(page, url):
    page.goto(f"{url}#model=transformer&data=recall")
    page.wait_for_function("() => location.hash.includes('heads=')")
    assert page.is_hidden("#error")
    page.select_option("#c-model", "mlp")
    page.wait_for_selector("#error:not([hidden])")
    expected = "model 'mlp' cannot read data set 'recall' (token ids); models that can: transformer"
    assert page.inner_text("#error") == expected
    assert page.problems == []
