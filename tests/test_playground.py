"""zoo.playground's server, through Starlette's test client: the token, the messages a page sends and
what comes back, validation by zoo's option checker, the limits, sessions that end with their page,
a fuzz of malformed messages, and the command that trains the page's configuration again."""

from __future__ import annotations

import gc
import json
import random
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import weakref

import numpy as np
import pytest
import torch

from conftest import ROOT, checkout_env, require_module, run_python, summary_of

require_module("starlette", "the playground extra: pip install '.[playground]'")
require_module("httpx2", "Starlette's test client: pip install '.[test]'")
from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import zoo  # noqa: E402
from zoo.config import parse_scalar  # noqa: E402
from zoo.playground import session as playground  # noqa: E402
from zoo.playground.server import make_app  # noqa: E402

TOKEN = "t0ken"
HOST = "127.0.0.1:8800"  # what a browser on this machine sends as Host (the test client's own, testserver, is refused)
SPIRAL = {**playground.PLAYGROUND_START, "data.name": "spiral", "model.hidden": [8, 8]}


def decode(data: bytes) -> dict:
    """A snapshot, read by the layout session.snapshot documents (and the page's decode() reads)."""
    n = struct.unpack("<I", data[:4])[0]
    head = json.loads(data[4 : 4 + n])
    widths = head["widths"]
    count = sum(a * b for a, b in zip(widths, widths[1:]))
    offset = 4 + n
    weights = np.frombuffer(data, np.float32, count, offset)
    offset += 4 * count
    surface = np.frombuffer(data, np.uint8, head["grid"] ** 2, offset)
    neurons = np.frombuffer(data, np.uint8, offset=offset + head["grid"] ** 2)
    return {"type": "frame", **head, "weights": weights, "surface": surface, "neurons": neurons}


class Page:
    """One browser tab, as the server sees it: a WebSocket, read with a time limit."""

    def __init__(self, ws):
        self.ws, self.seq = ws, 0

    def send(self, kind: str, **fields) -> int:
        self.seq += 1
        self.ws.send_text(json.dumps({"type": kind, "seq": self.seq, **fields}))
        return self.seq

    def receive(self, timeout: float = 60) -> dict:
        box = []
        reader = threading.Thread(target=lambda: box.append(self.ws.receive()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box:
            pytest.fail(f"no message from the server in {timeout} s")
        message = box[0]
        if message["type"] == "websocket.close":
            return {"type": "closed", "code": message.get("code")}
        return decode(message["bytes"]) if message.get("bytes") is not None else json.loads(message["text"])

    def until(self, predicate, what: str, limit: int = 5000) -> dict:
        for _ in range(limit):
            message = self.receive()
            if predicate(message):
                return message
        pytest.fail(f"no {what} in {limit} messages")

    def start(self, settings: dict) -> tuple[dict, dict]:
        """hello, then the settings: (the state, the first frame)."""
        assert self.receive()["type"] == "hello"
        seq = self.send("settings", settings=settings)
        state = self.until(lambda m: m["type"] in ("state", "error"), "state")
        assert state["type"] == "state" and state["applied"] == seq, state
        return state, self.until(lambda m: m["type"] == "frame", "first frame")


def local_client(app) -> TestClient:
    return TestClient(app, base_url=f"http://{HOST}")


@pytest.fixture
def client():
    with local_client(make_app(TOKEN)) as c:
        yield c


def open_page(client, token: str = TOKEN, **headers):
    return client.websocket_connect(f"ws://{HOST}/ws?token={token}", headers=headers)


def test_the_page_and_its_assets_need_the_token(client):
    for url in ("/", "/?token=", "/?token=wrong", "/static/playground.js", "/static/playground.js?token=x"):
        response = client.get(url)
        assert response.status_code == 403 and "zoo.playground" in response.text, url
    page = client.get(f"/?token={TOKEN}")
    assert page.status_code == 200 and f"static/playground.js?token={TOKEN}" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]  # nothing from elsewhere
    script = client.get(f"/static/playground.js?token={TOKEN}")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert client.get(f"/static/playground.css?token={TOKEN}").headers["content-type"].startswith("text/css")
    for name in ("session.py", "..%2Fsession.py", "index.html"):  # only the page's two assets are served
        assert client.get(f"/static/{name}?token={TOKEN}").status_code == 404, name


@pytest.mark.parametrize("query", ["", "?token=", "?token=wrong", f"?token={TOKEN}x"])
def test_a_websocket_without_the_token_is_refused(client, query):
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(f"ws://{HOST}/ws{query}") as ws:
            ws.receive_text()
    assert refused.value.code == 4403
    assert client.app.state.sessions.open == set()


def test_hello_offers_every_knob_zoo_has(client):
    from zoo.nn.activations import ACTIVATIONS
    from zoo.nn.init import INITIALIZERS

    with open_page(client) as ws:
        hello = Page(ws).receive()
    assert hello["type"] == "hello" and hello["settings"] == playground.PLAYGROUND_START
    choices = hello["choices"]
    assert "noisy_relu" in choices["model.activation"] and choices["model.activation"] == ACTIVATIONS.names()
    assert {"glorot_uniform", "he_normal"} <= set(choices["model.weight_init"]) == set(INITIALIZERS.names())
    assert {"sgd", "adam", "rmsprop"} <= set(choices["optimizer.name"])
    assert choices["data.name"] == ["circle", "gauss", "spiral", "xor"] and choices["task.loss"] == [
        "cross_entropy",
        "mse",
        "bce",
    ]
    assert "x1_squared" in choices["data.features"] and len(choices["data.features"]) == 7
    assert {"momentum", "nesterov", "lr"} <= set(hello["optimizer_options"]["sgd"])
    assert "momentum" not in hello["optimizer_options"]["adam"]
    assert hello["limits"]["layers"] >= 8 and hello["limits"]["neurons"] >= 16
    assert hello["live"] == ["optimizer.lr", "model.l1", "model.l2"]


def test_a_page_trains_steps_and_pauses(client):
    with open_page(client) as ws:
        page = Page(ws)
        state, first = page.start(SPIRAL)
        # 500 points, half for testing, a tenth of the rest for validation: 225 training points in batches of 10
        assert state["steps_per_epoch"] == 23 and len(state["points"]["train"]) == 225
        assert len(state["points"]["test"]) == 250 and state["recipe"]["model"]["hidden"] == [8, 8]
        assert state["features"] == ["x1", "x2"] and state["extent"] == 6.0 and state["device"] == "cpu"
        assert first["epoch"] == 0 and first["step"] == 0 and first["playing"] is False
        assert first["widths"] == [2, 8, 8, 1]
        assert len(first["weights"]) == 2 * 8 + 8 * 8 + 8 and len(first["surface"]) == 64 * 64
        assert len(first["neurons"]) == 16 * 20 * 20 and len(first["scales"]) == 16
        assert first["surface"].min() < 128 < first["surface"].max()  # an untrained net is unsure: both sides

        page.send("step")  # one epoch, then pause
        stepped = page.until(lambda m: m["type"] == "frame", "frame")
        assert (stepped["epoch"], stepped["step"]) == (1, 23) and not stepped["playing"]
        assert not np.array_equal(stepped["weights"], first["weights"])

        page.send("play")
        frames = [page.until(lambda m: m["type"] == "frame" and m["epoch"] >= 4, "4 epochs")]
        assert frames[0]["playing"] and frames[0]["test_loss"] < first["test_loss"]
        seq = page.send("pause")
        paused = page.until(lambda m: m["type"] == "frame" and m["applied"] == seq, "the pause's frame")
        assert paused["playing"] is False
        page.send("recipe")  # nothing trains any more: the next message is the answer, not a frame
        later = page.until(lambda m: m["type"] != "status", "the recipe")
        assert later["type"] == "recipe" and later["epochs"] == paused["epoch"]


def test_the_rate_changes_while_playing_and_a_network_change_starts_again(client):
    with open_page(client) as ws:
        page = Page(ws)
        page.start(SPIRAL)
        page.send("play")
        before = page.until(lambda m: m["type"] == "frame" and m["epoch"] >= 3, "3 epochs")
        seq = page.send("settings", settings={**SPIRAL, "optimizer.lr": 0.3, "model.l2": 0.001})
        applied = page.until(lambda m: m["type"] in ("applied", "state", "error"), "the change")
        assert applied["type"] == "applied" and applied["settings"]["optimizer.lr"] == 0.3
        frame = page.until(lambda m: m["type"] == "frame", "a frame")
        assert frame["applied"] == seq and frame["lr"] == 0.3 and frame["epoch"] >= before["epoch"]
        assert frame["playing"]  # the training went on

        seq = page.send("settings", settings={**SPIRAL, "optimizer.lr": 0.3, "model.activation": "relu"})
        state = page.until(lambda m: m["type"] == "state", "the new network")
        assert state["applied"] == seq and state["recipe"]["model"]["activation"] == "relu"
        frame = page.until(lambda m: m["type"] == "frame", "its first frame")
        assert frame["epoch"] == 0 and frame["playing"] is False  # starts again, paused, as in the Playground


WRONG = [
    ({"model.hiden": [8]}, "hiden; did you mean"),
    ({"data.noise": "lots"}, "data.noise expects float"),
    ({"data.noise": 0.9}, "data.noise must be between 0 and 0.5"),
    ({"model.activation": "swish"}, "unknown activation 'swish'"),
    ({"optimizer.lr": -1}, "Invalid learning rate"),
    ({"model.hidden": [8] * 9}, "at most 8"),
    ({"model.hidden": [64]}, "at most 32 neurons"),
    ({"model.hidden": [8, 0]}, "hidden widths must be positive"),
    ({"data.n_samples": 10**6}, "at most 2000 points"),
    ({"data.name": "iris"}, "the Playground's sets"),
    ({"data.features": ["x1", "x3"]}, "data.features expects a list of one of"),
    ({"data.features": []}, "at least one"),
    ({"trainer.max_epochs": 5}, "the playground sets only"),
    ({"seed_everything": "x"}, "seed_everything expects int"),
    ({"model.batch_norm": True, "data.batch_size": 1}, "batch normalisation needs at least 2"),
    ({"model.l2": -0.1}, "l1 and l2 must be >= 0"),  # a live setting: checked by the MLP all the same
    ({"task.compile": True}, "does not compile"),
]


@pytest.mark.parametrize("change, message", WRONG, ids=[m for _, m in WRONG])
def test_a_wrong_setting_is_one_line_and_the_session_goes_on(client, change, message):
    with open_page(client) as ws:
        page = Page(ws)
        page.start(SPIRAL)
        seq = page.send("settings", settings={**SPIRAL, **change})
        error = page.until(lambda m: m["type"] in ("error", "state", "applied"), "the answer")
        assert error["type"] == "error" and message in error["message"], error
        assert "\n" not in error["message"] and error["applied"] == seq
        assert error["settings"] == SPIRAL  # what is still in force, for the page's controls
        page.send("step")
        frame = page.until(lambda m: m["type"] == "frame", "a frame")
        assert frame["epoch"] == 1 and np.isfinite(frame["test_loss"])


def test_a_page_whose_first_settings_are_wrong_gets_the_start_settings(client):
    with open_page(client) as ws:
        page = Page(ws)
        assert page.receive()["type"] == "hello"
        page.send("settings", settings={"model.hidden": "[8,8"})
        error = page.until(lambda m: m["type"] in ("error", "state"), "the error")
        assert error["type"] == "error" and "model.hidden expects a list of int" in error["message"]
        state = page.until(lambda m: m["type"] == "state", "the start")
        assert state["settings"] == playground.PLAYGROUND_START


def malformed_messages(rng: random.Random) -> list:
    """Messages no page sends: (kind, payload) for send_text or send_bytes; every one gets an error back."""
    fixed = [
        ("bytes", b"\x00\x01\x02"),
        ("text", ""),
        ("text", "not json"),
        ("text", "[1, 2, 3]"),
        ("text", '"settings"'),
        ("text", "null"),
        ("text", "{}"),
        ("text", '{"type": "fly"}'),
        ("text", '{"type": 42}'),
        ("text", '{"type": ["play"]}'),
        ("text", '{"type": "play", "seq": "one"}'),
        ("text", '{"type": "play", "seq": -1}'),
        ("text", '{"type": "play", "seq": 1e300}'),
        ("text", '{"type": "play", "speed": 3}'),
        ("text", '{"type": "settings"}'),
        ("text", '{"type": "settings", "settings": [1]}'),
        ("text", '{"type": "settings", "settings": "optimizer.lr=1"}'),
        ("text", '{"type": "speed", "epochs_per_frame": 0}'),
        ("text", '{"type": "speed", "epochs_per_frame": 1000000}'),
        ("text", '{"type": "speed", "epochs_per_frame": 2.5}'),
        ("text", '{"type": "speed", "epochs_per_frame": true}'),
        ("text", '{"type": "settings", "settings": {"optimizer.lr": NaN}}'),
        ("text", '{"type": "settings", "settings": {"optimizer.lr": Infinity}}'),
        ("text", "[" * 5000 + "]" * 5000),
        ("text", '{"type": "settings", "settings": {' + ",".join(f'"k{i}": {i}' for i in range(100)) + "}}"),
        ("text", '{"type": "play", "pad": "' + "x" * 20000 + '"}'),
        ("text", '{"type": "settings", "settings": {"model.hidden": 1' + "0" * 5000 + "}}"),
    ]
    randoms = []
    for _ in range(250):
        size = rng.randint(1, 200)
        if rng.random() < 0.5:
            randoms.append(("bytes", bytes(rng.randrange(256) for _ in range(size))))
        else:
            randoms.append(("text", "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(size))))
    return fixed + randoms


def bad_settings(rng: random.Random) -> list[dict]:
    """Settings with wrong keys, types or values: valid messages that zoo's option checker refuses."""
    junk = [None, True, -1, 0, 10**12, 3.5, -1e9, "", "x" * 300, [], [None], [1.5, "a"], {"a": 1}, [[8]]]
    keys = [*SPIRAL, "model.nope", "nope", "a.b.c", ".", "optimizer.", "data.name"]
    return [{**SPIRAL, rng.choice(keys): rng.choice(junk)} for _ in range(100)]


def test_hundreds_of_malformed_messages_then_the_page_still_trains():
    rng = random.Random(0)
    # Sent at once, these would be a flood (test_a_flood_of_messages_is_paced_then_closed); here the pace is off.
    with local_client(make_app(TOKEN, message_rate=1e6, message_burst=10**6)) as client, open_page(client) as ws:
        page = Page(ws)
        page.start(SPIRAL)
        malformed = malformed_messages(rng)
        for kind, payload in malformed:
            ws.send_bytes(payload) if kind == "bytes" else ws.send_text(payload)
        errors = 0
        while errors < len(malformed):  # each malformed message is answered, in order, with one line
            message = page.until(lambda m: m["type"] == "error", "errors")
            assert "\n" not in message["message"] and message["message"]
            errors += 1
        for settings in bad_settings(rng):
            page.send("settings", settings=settings)
        # Settings that come faster than they are checked replace each other; the last valid ones stand.
        page.send("settings", settings=SPIRAL)
        seq = page.send("play")
        frame = page.until(lambda m: m["type"] == "frame" and m["applied"] >= seq and m["epoch"] >= 3, "training")
        assert frame["playing"] and np.isfinite(frame["train_loss"]) and frame["widths"] == [2, 8, 8, 1]
    assert client.app.state.sessions.open == set()


def test_at_most_a_few_sessions_at_once():
    with local_client(make_app(TOKEN, max_sessions=2)) as client:
        with open_page(client) as first, open_page(client) as second:
            for ws in (first, second):
                assert Page(ws).receive()["type"] == "hello"
            with open_page(client) as third:
                refused = Page(third).receive()
                assert refused["type"] == "error" and refused["fatal"]
                assert "2 pages are training already" in refused["message"] and "--max-sessions" in refused["message"]
                assert Page(third).receive() == {"type": "closed", "code": 1013}
        with open_page(client) as again:  # closing a page frees its place
            assert Page(again).receive()["type"] == "hello"


def wait_until(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_closing_pages_leaves_no_thread_or_session_behind():
    with local_client(make_app(TOKEN)) as client:
        client.get(f"/?token={TOKEN}")
        baseline = threading.active_count()
        sessions = client.app.state.sessions
        gone = []
        for i in range(8):
            with open_page(client) as ws:
                page = Page(ws)
                page.start({**SPIRAL, "seed_everything": i})
                page.send("play")
                page.until(lambda m: m["type"] == "frame" and m["playing"], "training")
                (session,) = sessions.open
                gone.append(weakref.ref(session))
                assert session.thread.is_alive()
                del session
            # closing the tab (here: leaving the with block) ends its session and its thread
        assert wait_until(lambda: threading.active_count() == baseline), (threading.active_count(), baseline)
        assert sessions.open == set()
        gc.collect()
        assert [ref for ref in gone if ref() is not None] == []  # nothing holds a session, its network or data


def test_a_recipe_sets_where_the_page_starts():
    with local_client(make_app(TOKEN, initial={}, base=["mlp"])) as client, open_page(client) as ws:
        page = Page(ws)
        state, first = page.start({})
        assert state["recipe"]["model"]["hidden"] == [32, 32, 32] and state["recipe"]["data"]["n_samples"] == 1000
        assert first["widths"] == [2, 32, 32, 32, 1]
        page.send("recipe")
        recipe = page.until(lambda m: m["type"] == "recipe", "the recipe")
        expected = "python -m zoo.train mlp --config mlp --scheduler.name constant --trainer.max_epochs 1"
        assert recipe["command"] == expected


def test_cli_values_read_back_as_the_command_line_reads_them():
    for value in ([8, 8], [], True, False, None, 0.03, 1e-05, 3, "x1_squared", ["x1", "sin_x2"], [0.1, 0.2]):
        assert parse_scalar(playground.cli_value(value)) == value, value


def test_the_command_and_the_yaml_resolve_to_the_pages_recipe(tmp_path):
    from zoo.train import split_argv

    settings = {
        **SPIRAL,
        "data.name": "xor",
        "data.features": ["x1", "x1_x2"],
        "model.dropout": 0.1,
        "optimizer.momentum": 0.9,
        "optimizer.nesterov": True,
        "seed_everything": 3,
    }
    cfg = playground.resolve(settings)
    line = playground.command(cfg, [], epochs=7)
    assert line.startswith("python -m zoo.train mlp ") and "--data.features '[x1,x1_x2]'" in line
    opts = split_argv(shlex.split(line)[3:])
    from_command = zoo.resolve_recipe("mlp", None, opts["overrides"] + opts["scalars"])  # (as zoo.train does)
    recipe = tmp_path / "page.yaml"
    recipe.write_text(playground.recipe_yaml(cfg, epochs=7))
    from_yaml = zoo.resolve_recipe("mlp", str(recipe))
    for resolved in (from_command, from_yaml):
        for section in ("model", "data", "task", "optimizer", "scheduler"):
            assert resolved[section] == cfg[section], section
        assert resolved["seed_everything"] == 3 and resolved["trainer"]["max_epochs"] == 7


@pytest.mark.slow
def test_the_command_trains_the_same_weights_as_the_page(client, tmp_path):
    settings = {
        **SPIRAL,
        "model.hidden": [6, 5],
        "model.dropout": 0.1,
        "model.l2": 0.001,
        "data.batch_size": 16,
        "data.features": ["x1", "x2", "x1_x2"],
        "optimizer.momentum": 0.9,
        "optimizer.nesterov": True,
        "seed_everything": 3,
    }
    with open_page(client) as ws:
        page = Page(ws)
        page.start(settings)
        for _ in range(3):
            page.send("step")
            frame = page.until(lambda m: m["type"] == "frame", "a frame")
        assert frame["epoch"] == 3
        page.send("recipe")
        recipe = page.until(lambda m: m["type"] == "recipe", "the recipe")
    args = shlex.split(recipe["command"])
    assert args[:4] == ["python", "-m", "zoo.train", "mlp"] and args[-2:] == ["--trainer.max_epochs", "3"]
    result = run_python([*args[1:], "--trainer.default_root_dir", str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = summary_of(result.stdout)["run_dir"]
    state = torch.load(f"{run_dir}/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    dense = [state[k] for k in state if k.startswith("model.layers.") and k.endswith(".weight") and state[k].dim() == 2]
    expected = [w.reshape(-1) for w in dense[:-1]] + [dense[-1][1] - dense[-1][0]]
    np.testing.assert_allclose(frame["weights"], torch.cat(expected).numpy(), rtol=0, atol=1e-6)


def start_command(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zoo.playground", *args],
        cwd=ROOT,
        env=checkout_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_the_command_prints_its_url_refuses_no_token_and_stops_on_ctrl_c():
    """The real server: its URL, the token, and Ctrl-C while a page trains (uvicorn closes the page's
    WebSocket, the session's thread ends, the process exits 0)."""
    import urllib.error
    import urllib.request

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    server = start_command("--port", "0", "--host", "0.0.0.0")
    try:
        lines = [server.stdout.readline() for _ in range(3)]
        url = lines[2].strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url, lines
        assert len(url.split("token=")[1]) >= 32
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200 and "playground.js" in response.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url.split("?")[0], timeout=30)
        assert refused.value.code == 403
        address, token = url.split("?token=")
        with connect(address.replace("http", "ws") + "ws?token=" + token, open_timeout=30) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "hello"
            ws.send(json.dumps({"type": "settings", "seq": 1, "settings": SPIRAL}))
            ws.send(json.dumps({"type": "play", "seq": 2}))
            while not (isinstance(m := ws.recv(timeout=30), bytes) and decode(m)["epoch"] >= 2):
                pass
            server.send_signal(signal.SIGINT)
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=30)
        out, err = server.communicate(timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0, err
    assert "warning: --host 0.0.0.0 listens on every network interface" in err
    assert err.strip().endswith("zoo.playground: stopped") and "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "{iris}"], "data.name 'iris': the playground trains on the Playground's sets"),
        (["--config", "lenet"], "model has no option model.pooling"),  # a recipe for another model
        (["--config", "no_such_recipe"], "config file not found: no_such_recipe"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--max-sessions", "0"], "--max-sessions must be between 1 and 16"),
        (["--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_command_mistakes_are_one_line(capsys, tmp_path, args, message):
    from zoo.playground.__main__ import main

    iris = tmp_path / "iris.yaml"
    iris.write_text("data:\n  name: iris\nmodel:\n  hidden: [8]\n")
    assert main([a.format(iris=iris) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo.playground: error: ") and message in err and err.count("\n") == 1, err


# --- hostile clients (issue 34) -------------------------------------------------------------------


def refused_websocket(client, **headers) -> int:
    with pytest.raises(WebSocketDisconnect) as refused:
        with open_page(client, **headers) as ws:
            ws.receive_text()
    return refused.value.code


@pytest.mark.parametrize(
    "host", ["localhost:8800", "127.0.0.1:8800", "127.0.0.2", "[::1]:8800", "[::ffff:7f00:1]:8800"]
)
def test_a_server_on_loopback_answers_to_its_own_names(client, host):
    response = client.get(f"/?token={TOKEN}", headers={"host": host})
    assert response.status_code == 200 and "playground.js" in response.text


@pytest.mark.parametrize("host", ["evil.example:8800", "evil.example", "localhost.evil.example:8800", "10.0.0.1:8800"])
def test_a_server_on_loopback_refuses_other_names_dns_rebinding(client, host):
    """A site whose name an attacker points at 127.0.0.1 sends that name as Host: refused, page and WebSocket."""
    response = client.get(f"/?token={TOKEN}", headers={"host": host})
    assert response.status_code == 403 and "open it as localhost or 127.0.0.1" in response.text
    assert "\n" not in response.text.strip()
    assert refused_websocket(client, host=host) == 4403
    assert client.app.state.sessions.open == set()


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://127.0.0.1:9999", "null", "file://", "ws://127.0.0.1:8800"]
)
def test_a_websocket_from_another_sites_page_is_refused(client, origin):
    """Cross-site WebSocket hijacking: a browser sends the opening page's Origin, which must be this server."""
    assert refused_websocket(client, origin=origin) == 4403
    assert client.app.state.sessions.open == set()
    response = client.get(f"/?token={TOKEN}", headers={"origin": origin})
    assert response.status_code == 403 and f"a page from {origin} may not use zoo.playground" in response.text


def test_a_websocket_from_the_servers_own_page_or_no_browser_is_taken(client):
    for headers in ({"origin": f"http://{HOST}"}, {"origin": f"HTTP://{HOST.upper()}"}, {}):
        with open_page(client, **headers) as ws:
            assert Page(ws).receive()["type"] == "hello", headers


def test_a_server_on_every_interface_takes_any_host_but_only_its_own_origin():
    """As Jupyter: on a network interface anyone who can reach the server connects directly, so its name is
    not checked; the page's Origin still is, against the Host the browser sent."""
    with local_client(make_app(TOKEN, local=False)) as client:
        response = client.get(f"/?token={TOKEN}", headers={"host": "lab-machine.example:8800"})
        assert response.status_code == 200
        assert refused_websocket(client, host="lab-machine.example:8800", origin="http://evil.example") == 4403
        with open_page(client, host="lab-machine.example:8800", origin="http://lab-machine.example:8800") as ws:
            assert Page(ws).receive()["type"] == "hello"
        assert client.get("/?token=wrong", headers={"host": "lab-machine.example"}).status_code == 403


def test_an_idle_page_gives_its_place_back():
    """The only place taken by a page that sends nothing: after the idle timeout its session ends, the page
    is told why, and another page gets the place."""
    with local_client(make_app(TOKEN, max_sessions=1, idle_timeout=0.5)) as client:
        with open_page(client) as ws:
            page = Page(ws)
            page.start(SPIRAL)
            closing = page.until(lambda m: m["type"] == "error", "the idle page's end", limit=50)
            assert closing["fatal"] and "without a change" in closing["message"] and "reload" in closing["message"]
            assert page.until(lambda m: m["type"] == "closed", "the close", limit=10)["code"] == 4408
        assert wait_until(lambda: client.app.state.sessions.open == set())
        with open_page(client) as ws:
            assert Page(ws).receive()["type"] == "hello"


def test_a_flood_of_messages_is_paced_then_closed():
    """Past a burst, a page's messages are read at the pace and the page is told so once; a page that
    keeps it up (MESSAGE_PATIENCE in a row) is closed and its place freed. Nothing is answered out of order."""
    from zoo.playground.server import MESSAGE_PATIENCE

    burst, flood = 10, MESSAGE_PATIENCE + 60
    with local_client(make_app(TOKEN, message_rate=50, message_burst=burst)) as client, open_page(client) as ws:
        page = Page(ws)
        page.start(SPIRAL)
        first = page.seq + 1
        for _ in range(flood):
            page.send("speed", epochs_per_frame=2)
        answered, told, closing = [], None, None
        while closing is None:
            message = page.receive()
            if message["type"] == "status":
                answered.append(message["applied"])
            elif message["type"] == "error" and message.get("fatal"):
                closing = message
            elif message["type"] == "error":
                assert told is None, "told twice"
                told = len(answered), message["message"]
        assert told is not None and "more than 50 messages a second" in told[1] and told[0] <= burst + 1
        assert "kept sending more than 50 messages a second" in closing["message"]
        assert page.until(lambda m: m["type"] == "closed", "the close", limit=10)["code"] == 1008
        assert answered == list(range(first, first + len(answered)))  # in order, none skipped
        assert burst <= len(answered) < flood
    assert client.app.state.sessions.open == set()


def test_turns_go_first_come_first_served():
    turns = playground.Turns()
    turns.taken = []
    order = []

    def work(name: str, passes: int = 0) -> None:
        with turns.turn(name):
            order.append(name)
            for _ in range(passes):
                while len(turns._line) < 3:  # (the others are in line)
                    time.sleep(0.01)
                turns.pass_on(name)
                order.append(name)

    first = threading.Thread(target=work, args=("a", 1))
    with turns.turn("holder"):  # the test holds the first turn while a, b and c line up, in that order
        first.start()
        assert wait_until(lambda: len(turns._line) == 2)
        others = [threading.Thread(target=work, args=(name,)) for name in "bc"]
        for i, thread in enumerate(others):
            thread.start()
            assert wait_until(lambda i=i: len(turns._line) == 3 + i)
    for thread in (first, *others):
        thread.join(10)
    # a passes its turn on once, with b and c waiting: both go before a's second turn
    assert order == ["a", "b", "c", "a"] and turns.taken == ["holder", "a", "b", "c", "a"]


def test_a_page_flooding_recipes_leaves_the_other_pages_their_turns():
    """Two pages: one trains, the other asks for 30 recipes at once. Each recipe is one turn, and the
    training page gets turns between them (before turns, the flood took it from 100 frames a second to 2)."""
    with local_client(make_app(TOKEN)) as client, open_page(client) as first, open_page(client) as second:
        training, flooding = Page(first), Page(second)
        training.start(SPIRAL)
        flooding.start(SPIRAL)
        training.send("play")
        training.until(lambda m: m["type"] == "frame" and m["playing"], "training")
        turns = client.app.state.sessions.turns
        turns.taken = []
        for _ in range(30):
            flooding.send("recipe")
        for _ in range(30):
            flooding.until(lambda m: m["type"] == "recipe", "a recipe")
        taken, turns.taken = turns.taken, None
        (trainer,) = [s for s in client.app.state.sessions.open if s.playing]
        (flooder,) = [s for s in client.app.state.sessions.open if not s.playing]
        flood = [i for i, who in enumerate(taken) if who is flooder]
        trainers = sum(1 for who in taken[flood[0] : flood[-1]] if who is trainer)  # its turns amid the flood
        assert len(flood) == 30 and trainers >= 10, (len(flood), trainers)


@pytest.fixture
def real_server():
    """The server the command runs (uvicorn, ``make_server``), in a thread: requests must arrive within 1 s,
    and a client may hold 8 connections. Yields its port."""
    from zoo.playground.__main__ import listen
    from zoo.playground.server import make_server

    app = make_app(TOKEN)
    server = make_server(app, request_timeout=1.0, max_per_client=8)
    sock = listen("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(30)
    app.state.sessions.close_all()
    sock.close()


def connect_from(source: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))  # any 127.x.y.z is this machine: a second address for a second client
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    return sock


def until_closed(sock: socket.socket, seconds: float) -> bytes:
    """What the server sends until it closes the connection; fails if it is still open after ``seconds``."""
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {seconds} s (after {data[:60]!r})")
    except ConnectionResetError:
        pass
    return data


def dribble(sock: socket.socket, data: bytes, sent: list[int]) -> None:
    """Send ``data`` a byte every 0.1 s until the server closes the connection; ``sent``: how many went."""
    sock.setblocking(False)
    for byte in data:
        try:
            if sock.recv(1) == b"":
                return
        except BlockingIOError:
            pass
        except OSError:
            return
        try:
            sock.send(bytes([byte]))
        except OSError:
            return
        sent[0] += 1
        time.sleep(0.1)


@pytest.mark.slow
def test_slow_clients_are_closed_and_others_served(real_server):
    """Slowloris: sockets that send part of a request and stall, or send it a byte at a time, are closed
    within the request timeout (1 s here); past its 8 connections a client is refused at once; meanwhile
    a client at another address is served, page and WebSocket."""
    from websockets.sync.client import connect

    port = real_server
    bound = 1.0 + 9  # the timeout, with room for a loaded machine
    head = f"GET /?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Pad: {'x' * 100}\r\n\r\n".encode()
    stalled = []
    for size in (1, 5, 20, 40, 80, 120):  # part of a head, then nothing
        stalled.append(connect_from("127.0.0.1", port))
        stalled[-1].sendall(head[:size])
    dribblers = [connect_from("127.0.0.1", port) for _ in range(2)]  # the 7th and 8th from 127.0.0.1
    sent = [[0], [0]]
    threads = [threading.Thread(target=dribble, args=(s, head, n), daemon=True) for s, n in zip(dribblers, sent)]
    for thread in threads:
        thread.start()

    refused = until_closed(connect_from("127.0.0.1", port), bound)  # the 9th: at once, 503
    assert refused.startswith(b"HTTP/1.1 503") and b"too many connections" in refused

    # A keep-alive connection that got its page, then sends the next request a byte at a time
    kept = connect_from("127.0.0.2", port)
    kept.sendall(f"GET /static/playground.css?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    response = kept.recv(65536)
    assert response.startswith(b"HTTP/1.1 200")
    kept_sent = [0]
    kept_thread = threading.Thread(target=dribble, args=(kept, head, kept_sent), daemon=True)
    kept_thread.start()

    # Meanwhile a browser at another address (127.0.0.2) gets the page and trains.
    import http.client

    browser = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=("127.0.0.2", 0))
    browser.request("GET", f"/?token={TOKEN}")
    assert browser.getresponse().status == 200
    browser.close()
    with connect(f"ws://127.0.0.1:{port}/ws?token={TOKEN}", sock=connect_from("127.0.0.2", port)) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "hello"

    for sock in stalled:
        assert until_closed(sock, bound) == b""  # closed without an answer
    for thread in [*threads, kept_thread]:
        thread.join(bound + 5)
        assert not thread.is_alive()
    for count in [*sent, kept_sent]:
        assert count[0] < len(head) // 2, count  # trickling did not keep it open
    # The stalled connections' places are free again: 127.0.0.1 is served.
    again = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    again.request("GET", f"/static/playground.js?token={TOKEN}")
    assert again.getresponse().status == 200
    again.close()
    for sock in [*stalled, *dribblers, kept]:
        sock.close()


@pytest.mark.parametrize(
    "host, url, warning",
    [
        ("127.0.0.1", "http://127.0.0.1:8800/", None),
        ("::1", "http://[::1]:8800/", None),
        ("::ffff:127.0.0.1", "http://127.0.0.1:8800/", None),  # IPv4-mapped loopback is loopback
        ("0.0.0.0", "http://127.0.0.1:8800/", "listens on every network interface"),
        ("::", "http://127.0.0.1:8800/", "listens on every network interface"),
        ("::ffff:0.0.0.0", "http://127.0.0.1:8800/", "listens on every network interface"),  # every IPv4 one
        ("192.168.1.5", "http://192.168.1.5:8800/", "listens on a network interface (192.168.1.5)"),
    ],
)
def test_the_printed_url_and_the_warning_say_where_the_server_listens(host, url, warning):
    from zoo.playground.__main__ import where
    from zoo.playground.server import loopback

    printed, warned = where(host, host, 8800, "tok")
    assert printed == f"{url}?token=tok"
    if warning is None:
        assert warned is None and loopback(host)
    else:
        assert warning in warned and "anyone who can reach this machine on port 8800" in warned
        assert not loopback(host)


def test_a_flood_read_late_now_and_then_is_still_a_flood():
    """Pace.behind, on a fake clock: a flood read slower than the pace now and then (a busy server) still
    builds up past MESSAGE_PATIENCE; a person's clicks, however many over time, never do."""
    import asyncio

    from zoo.playground.server import MESSAGE_PATIENCE, Pace

    def worst(gaps: list[float]) -> int:
        now = [0.0]

        async def sleep(seconds: float) -> None:
            now[0] += seconds

        async def read() -> int:
            pace, most = Pace(20, 40, clock=lambda: now[0], sleep=sleep), 0
            for gap in gaps:
                now[0] += gap
                await pace.take()
                most = max(most, pace.behind)
            return most

        return asyncio.run(read())

    assert worst([0.0] * 40 + [0.0, 0.0, 0.06] * 150) > MESSAGE_PATIENCE  # now and then reached late
    assert worst([0.0] * 40 + [0.3] * 500 + [0.0] * 30 + [0.2] * 100) < MESSAGE_PATIENCE / 2  # bursts, clicks
