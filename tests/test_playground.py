"""zoo.playground's server, through Starlette's test client: the token, the messages a page sends and
what comes back, validation by zoo's option checker, the limits, sessions that end with their page,
a fuzz of malformed messages, and the command that trains the page's configuration again."""

from __future__ import annotations

import gc
import json
import random
import shlex
import signal
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


@pytest.fixture
def client():
    with TestClient(make_app(TOKEN)) as c:
        yield c


def open_page(client, token: str = TOKEN):
    return client.websocket_connect(f"/ws?token={token}")


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
        with client.websocket_connect(f"/ws{query}") as ws:
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
    ({"model.hiden": [8]}, "did you mean --model.hidden"),
    ({"data.noise": "lots"}, "--data.noise expects float"),
    ({"data.noise": 0.9}, "data.noise must be between 0 and 0.5"),
    ({"model.activation": "swish"}, "unknown activation 'swish'"),
    ({"optimizer.lr": -1}, "Invalid learning rate"),
    ({"model.hidden": [8] * 9}, "at most 8"),
    ({"model.hidden": [64]}, "at most 32 neurons"),
    ({"model.hidden": [8, 0]}, "hidden widths must be positive"),
    ({"data.n_samples": 10**6}, "at most 2000 points"),
    ({"data.name": "iris"}, "the Playground's sets"),
    ({"data.features": ["x1", "x3"]}, "--data.features expects a list of one of"),
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
        assert error["type"] == "error" and "--model.hidden expects a list of int" in error["message"]
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


def test_hundreds_of_malformed_messages_then_the_page_still_trains(client):
    rng = random.Random(0)
    with open_page(client) as ws:
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
    with TestClient(make_app(TOKEN, max_sessions=2)) as client:
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
    with TestClient(make_app(TOKEN)) as client:
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
    with TestClient(make_app(TOKEN, initial={}, base=["mlp"])) as client, open_page(client) as ws:
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
    from_command = zoo.resolve_recipe("mlp", None, opts["overrides"])
    from_command["seed_everything"] = int(opts["seed"])
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
