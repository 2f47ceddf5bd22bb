"""The Playground's page in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run),
driven by Playwright, which downloads no browser of its own; the server is the real command,
``python -m zoo.playground --port 0``, in its own process.

The test keeps a screenshot of the trained page in ``runs/test-artifacts/playground.png`` (or in
``$ZOO_TEST_ARTIFACTS``); the README's picture is one of them.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, checkout_env, require, require_module, run_python, summary_of

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("playground_browser")]  # (one server, one browser)
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ZOO_TEST_ARTIFACTS", ROOT / "runs" / "test-artifacts"))
REBOUND = "rebound.example"


@pytest.fixture(scope="module")
def url():
    """The URL the command prints, token included."""
    require_module("uvicorn", "the playground extra: pip install '.[playground]'")
    server = subprocess.Popen(
        [sys.executable, "-m", "zoo.playground", "--port", "0"],
        cwd=ROOT,
        env=checkout_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = [server.stdout.readline() for _ in range(3)]
    if "token=" not in lines[2]:
        server.kill()
        pytest.fail(f"zoo.playground did not start: {lines} {server.stderr.read()[-2000:]}")
    yield lines[2].strip()
    server.send_signal(signal.SIGINT)
    server.communicate(timeout=30)


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM, "Debian's chromium: apt-get install chromium")
    playwright = require_module("playwright.sync_api", "pip install '.[test]'")
    with playwright.sync_playwright() as p:
        # rebound.example resolves to this machine, as an attacker's name does after DNS rebinding
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), args=[f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"]
        )
        yield chromium
        chromium.close()


def test_a_wrong_or_missing_token_gets_no_page(url, browser):
    page = browser.new_page()
    base, token = url.split("?token=")
    for wrong in (base, f"{base}?token=", f"{base}?token={token[:-1]}", f"{base}static/playground.js"):
        response = page.goto(wrong)
        assert response.status == 403, wrong
        assert page.locator("#play").count() == 0 and "playground.js" not in page.content()
    page.close()


def test_a_rebound_name_gets_no_page_even_with_the_token(url, browser):
    """DNS rebinding: an attacker's name that resolves to 127.0.0.1 reaches the server, and the browser
    treats the page as the attacker's site; the server refuses a Host that is not its own."""
    page = browser.new_page()
    port = url.split(":")[2].split("/")[0]
    response = page.goto(url.replace("127.0.0.1", REBOUND))
    assert response.status == 403 and "open it as localhost or 127.0.0.1" in page.content()
    assert page.locator("#play").count() == 0
    assert page.goto(url.replace("127.0.0.1", "localhost")).status == 200  # its own names still work
    page.wait_for_function("() => pg.connected && pg.states >= 1")
    assert f"localhost:{port}" in page.url
    page.close()


@pytest.fixture
def other_site():
    """Another site's page: a blank one served from another port of this machine, another origin. (From a
    public address Chromium itself would block the connection to loopback; other browsers do not.)"""
    import http.server
    import threading

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>another site</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_another_sites_page_cannot_open_the_websocket_even_with_the_token(url, browser, other_site):
    """Cross-site WebSocket hijacking: a page of another site opens the server's WebSocket with the right
    token; the browser sends that page's Origin, and the server closes the connection before it opens."""
    page = browser.new_page()
    page.goto(other_site)
    socket_url = url.replace("http://", "ws://").replace("/?token=", "/ws?token=")
    outcome = page.evaluate(
        """(address) => new Promise((resolve) => {
            const ws = new WebSocket(address);
            const seen = [];
            ws.onmessage = (event) => { seen.push(String(event.data).slice(0, 20)); ws.close(); };
            ws.onopen = () => seen.push("open");
            ws.onclose = () => resolve(seen);
        })""",
        socket_url,
    )
    assert outcome == []  # never opened, no hello
    page.close()


def test_train_the_spiral_in_the_browser_and_run_its_command(url, browser, tmp_path):
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    assert page.goto(url).status == 200

    def states(n: int) -> None:
        """Wait for the page's n-th state (a new network or new data) and its first frame."""
        page.wait_for_function(f"() => pg.states >= {n} && pg.frames >= 1 && pg.epoch === 0")

    states(1)
    page.click("#datasets button[data-name=spiral]")
    states(2)
    count = 2
    for layer, clicks in ((0, 4), (1, 6)):  # the Playground's 4-2 start -> 2 hidden layers of 8
        for _ in range(clicks):
            page.locator(".column .add").nth(layer).click()
            count += 1
            states(count)
    for feature in ("sin_x1", "sin_x2"):
        page.locator(f".node.feature[title='use {feature}']").click()
        count += 1
        states(count)
    page.select_option("[id='optimizer.name']", value='"adam"')
    count += 1
    states(count)
    page.select_option("[id='optimizer.lr']", value="0.03")  # changes live: no new state
    page.wait_for_function("() => location.hash.includes('optimizer.lr=0.03')")
    link = page.evaluate("location.hash")
    features = "data.features=[x1,x2,sin_x1,sin_x2]"
    for part in ("data.name=spiral", "model.hidden=[8,8]", "optimizer.name=adam", features):
        assert part in link, link
    page.wait_for_function("() => pg.lr === 0.03")  # the frame that shows the new rate
    before = page.locator("#surface").screenshot()

    page.click("#play")
    page.wait_for_function("() => pg.playing && pg.testLoss < 0.1", timeout=300_000)
    trained = page.evaluate("({epoch: pg.epoch, frames: pg.frames, test: pg.testLoss, acc: pg.testAcc})")
    assert trained["epoch"] >= 1 and trained["frames"] >= 2 and trained["acc"] > 0.95, trained
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "playground.png")
    assert page.locator("#surface").screenshot() != before  # the decision surface changed

    page.select_option("[id='model.activation']", value='"relu"')  # a network change starts again
    count += 1
    page.wait_for_function(f"() => pg.states >= {count} && !pg.playing && pg.epoch === 0")
    assert page.inner_text("#play").strip().endswith("play") and page.inner_text("#epoch") == "000000"

    page.click("#show-recipe")
    page.wait_for_selector("#recipe-dialog[open]")
    page.wait_for_function("() => document.getElementById('command').textContent.includes('zoo.train')")
    page.click("#copy-command")
    page.wait_for_function("() => pg.copied !== null")
    command = page.evaluate("() => navigator.clipboard.readText()")
    assert command == page.inner_text("#command") and command.startswith("python -m zoo.train mlp ")
    assert "--model.activation relu" in command and "--data.features '[x1,x2,sin_x1,sin_x2]'" in command
    assert errors == []
    context.close()

    args = shlex.split(command)  # run as pasted, for 2 epochs instead of the page's count
    result = run_python([*args[1:], "--trainer.max_epochs", "2", "--trainer.default_root_dir", str(tmp_path)], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = summary_of(result.stdout)
    assert summary["data"] == "spiral" and summary["epochs"] == 2
    config = yaml.safe_load((Path(summary["run_dir"]) / "config.yaml").read_text())
    assert config["model"]["hidden"] == [8, 8] and config["model"]["activation"] == "relu"
    assert config["data"]["features"] == ["x1", "x2", "sin_x1", "sin_x2"] and config["optimizer"]["name"] == "adam"
    assert config["optimizer"]["lr"] == 0.03 and config["scheduler"]["name"] == "constant"
