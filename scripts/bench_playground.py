"""The Playground's pace in a real browser, beside the TensorFlow Playground's on the same setting.

    python scripts/bench_playground.py                                   # zoo's page only
    python scripts/bench_playground.py --tf-playground /path/to/playground   # and the original, built
    python scripts/bench_playground.py --flood                           # one page while another floods

The setting (issue 19): spiral, 500 points, half of them for testing, 2 hidden layers of 8 (tanh),
batch 10, SGD at 0.03, features x1 and x2: 250 training points, 25 steps an epoch. (zoo holds out a
validation share from the training half; at --data.val_split 0.01 that is 2 points, leaving 248.)

zoo's page runs as a user runs it: ``python -m zoo.playground --port 0`` in its own process, the page in
Debian's headless Chromium (Playwright, ``/usr/bin/chromium``). What is measured, by the page itself:
frames drawn a second while playing, epochs trained a second, the fewest epochs between two drawn
frames, and the time from a control change (sent) to the first drawn frame that reflects it: a
learning-rate change while playing, and a change of the network (a new activation: a new network).
The TensorFlow Playground (a local build of github.com/tensorflow/playground: ``npm ci && npm run
build``, served from its dist/ here, every request elsewhere blocked) trains one epoch per animation
frame; its epoch counter and the animation frames are read the same way. The two pages alternate.

``--flood`` (issue 34): one page trains the same setting while a second page floods the server, each a
WebSocket client of the real command (no browser): frames a second the first page receives, alone (the
reference, in the same run) and beside the second page's messages: ``recipe`` as fast as it can send
them (until the server closes it, MESSAGE_PATIENCE), ``recipe`` and ``settings`` (a new network each)
just under the pace the server reads (MESSAGE_RATE), and a second page that trains too.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchlib import ROOT, machine, table

SETTING = (
    "data.name=spiral&data.n_samples=500&data.test_split=0.5&data.val_split=0.01&data.noise=0&data.batch_size=10"
    "&data.features=[x1,x2]&model.hidden=[8,8]&model.activation=tanh&optimizer.name=sgd&optimizer.lr=0.03"
    "&model.l1=0&model.l2=0&seed_everything=0&view.epochs_per_frame=1"
)
TF_SETTING = (
    "activation=tanh&batchSize=10&dataset=spiral&regDataset=reg-plane&learningRate=0.03&regularizationRate=0"
    "&noise=0&networkShape=8,8&seed=0.59140&showTestData=false&discretize=false&percTrainData=50&x=true&y=true"
    "&xTimesY=false&xSquared=false&ySquared=false&cosX=false&sinX=false&cosY=false&sinY=false"
    "&collectStats=false&problem=classification&initZero=false&hideText=false"
)
VIEWPORT = {"width": 1400, "height": 1000}


def start_zoo() -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    server = subprocess.Popen(
        [sys.executable, "-m", "zoo.playground", "--port", "0"], env=env, stdout=subprocess.PIPE, text=True
    )
    lines = [server.stdout.readline() for _ in range(3)]
    if "token=" not in lines[2]:
        server.kill()
        sys.exit(f"zoo.playground did not start: {lines}")
    return server, lines[2].strip()


def zoo_round(browser, url: str, seconds: float, changes: int) -> dict:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{url}#{SETTING}")
    page.wait_for_function("() => window.pg && pg.frames >= 1 && pg.states >= 1", timeout=120_000)
    steps = page.evaluate("document.getElementById('info').textContent")
    page.click("#play")
    page.wait_for_function("() => pg.playing && pg.frames >= 3")
    time.sleep(2)  # warm-up
    read = "({frames: pg.frames, epoch: pg.epoch, drawn: pg.drawnEpochs.length, t: performance.now()})"
    a = page.evaluate(read)
    time.sleep(seconds)
    b = page.evaluate(read)
    drawn = page.evaluate(f"pg.drawnEpochs.slice({a['drawn'] - b['drawn'] - 1})")  # the window's frames
    gaps = [y - x for x, y in zip(drawn, drawn[1:])]
    dt = (b["t"] - a["t"]) / 1000

    def latencies(select: str, values: list[str], kind: str) -> list[float]:
        page.evaluate("pg.latencies = []")
        for i in range(changes):
            if kind == "network" and not page.evaluate("pg.playing"):  # a new network starts paused
                page.click("#play")
            page.wait_for_function("() => pg.playing && pg.epoch >= 1")
            time.sleep(0.5)
            page.select_option(f"[id='{select}']", value=values[i % 2])
            page.wait_for_function(f"() => pg.latencies.filter(l => l.type === 'settings').length >= {i + 1}")
        return [entry["ms"] for entry in page.evaluate("pg.latencies") if entry["type"] == "settings"]

    rate = latencies("optimizer.lr", ["0.01", "0.03"], "rate")
    network = latencies("model.activation", ['"relu"', '"tanh"'], "network")
    page.close()
    return {
        "frames_per_s": (b["frames"] - a["frames"]) / dt,
        "epochs_per_s": (b["epoch"] - a["epoch"]) / dt,
        "min_epochs_per_frame": min(gaps) if gaps else float("nan"),
        "rate_ms": rate,
        "network_ms": network,
        "info": steps,
    }


FLOOD_SETTINGS = {"data.name": "spiral", "model.hidden": [8, 8], "data.val_split": 0.01}


class Client:
    """A page as the server sees it: a WebSocket client of the real command, read in a thread of its own;
    counts the frames it receives and keeps the newest epoch."""

    def __init__(self, url: str, settings: dict):
        from websockets.sync.client import connect

        address, token = url.split("/?token=")
        self.ws = connect(f"{address.replace('http', 'ws')}/ws?token={token}", max_size=None, open_timeout=60)
        self.frames, self.epoch, self.answers, self.closed, self.seq = 0, 0, 0, None, 0
        self.send("settings", settings=settings)
        threading.Thread(target=self.read, daemon=True).start()

    def send(self, kind: str, **fields) -> None:
        self.seq += 1
        self.ws.send(json.dumps({"type": kind, "seq": self.seq, **fields}))

    def read(self) -> None:
        try:
            for message in self.ws:
                if isinstance(message, bytes):
                    n = int.from_bytes(message[:4], "little")
                    self.frames, self.epoch = self.frames + 1, json.loads(message[4 : 4 + n])["epoch"]
                elif json.loads(message)["type"] in ("recipe", "state", "applied"):
                    self.answers += 1
        except Exception as err:  # noqa: BLE001 - the server closed it (a flood), or the run ends
            self.closed = str(err)

    def rate(self, seconds: float) -> tuple[float, float]:
        """(frames, epochs) a second over the next ``seconds``."""
        frames, epoch, start = self.frames, self.epoch, time.monotonic()
        time.sleep(seconds)
        dt = time.monotonic() - start
        return (self.frames - frames) / dt, (self.epoch - epoch) / dt


def other_page(url: str, how: str, ready, stop, results) -> None:
    """The second page, in a process of its own (a flooding thread in the measuring process would take
    its interpreter from the thread that counts the first page's frames): trains, or sends ``recipe`` or
    ``settings`` messages, until ``stop``; puts what it saw in ``results``."""
    page = Client(url, FLOOD_SETTINGS)
    time.sleep(2)
    if how == "training":
        page.send("play")
        time.sleep(1)
    ready.set()
    answers, frames, start = page.answers, page.frames, time.monotonic()
    pause = 0 if how == "recipe flood" else 1 / 19
    activations = ["relu", "tanh"]
    try:
        while not stop.is_set():
            if how == "training":
                time.sleep(0.05)
            elif how.startswith("settings"):
                activations.reverse()
                page.send("settings", settings={**FLOOD_SETTINGS, "model.activation": activations[0]})
            else:
                page.send("recipe")
            if pause:
                time.sleep(pause)
    except Exception:  # noqa: BLE001 - the server closed the flooding page
        stop.wait()
    seconds = time.monotonic() - start
    results.put(
        {
            "other_answers_per_s": (page.answers - answers) / seconds,
            "other_frames_per_s": (page.frames - frames) / seconds,
            "other_closed": page.closed,
        }
    )
    page.ws.close()


def flood_round(url: str, seconds: float, how: str) -> dict:
    import multiprocessing

    page = Client(url, FLOOD_SETTINGS)
    time.sleep(2)  # built and drawn
    page.send("play")
    time.sleep(2)  # warm-up
    other = None
    if how != "alone":
        spawn = multiprocessing.get_context("spawn")
        ready, stop, results = spawn.Event(), spawn.Event(), spawn.Queue()
        other = spawn.Process(target=other_page, args=(url, how, ready, stop, results))
        other.start()
        ready.wait(120)
        time.sleep(0.5)
    frames, epochs = page.rate(seconds)
    result = {"frames_per_s": frames, "epochs_per_s": epochs}
    if other:
        if how == "recipe flood":
            time.sleep(8)  # past MESSAGE_PATIENCE (5 s at the pace, after the burst)
        stop.set()
        result |= results.get(timeout=60)
        other.join(30)
    page.ws.close()
    time.sleep(1)  # the sessions end
    return result


def flood_main(args: argparse.Namespace) -> None:
    print(machine(), file=sys.stderr)
    print(f"load average at the start: {load()}", file=sys.stderr)
    server, url = start_zoo()
    kinds = ["alone", "recipe flood", "recipe paced", "settings paced", "training"]
    rounds: dict[str, list[dict]] = {kind: [] for kind in kinds}
    try:
        for r in range(args.rounds):
            for kind in kinds:
                rounds[kind].append(flood_round(url, args.flood_seconds, kind))
                print(f"round {r + 1} {kind}: {rounds[kind][-1]}", file=sys.stderr)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    print(f"load average at the end: {load()}", file=sys.stderr)

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[kind])

    labels = {
        "alone": "alone (the reference)",
        "recipe flood": "another page sends `recipe` as fast as it can (closed after MESSAGE_PATIENCE)",
        "recipe paced": "another page sends `recipe` 19 times a second (just under the pace)",
        "settings paced": "another page sends `settings`, a new network each, 19 times a second",
        "training": "another page trains too",
    }
    reference = median("alone", "frames_per_s")
    rows = []
    for kind in kinds:
        frames = median(kind, "frames_per_s")
        other = "-"
        if kind == "training":
            other = f"{median(kind, 'other_frames_per_s'):.1f} frames/s"
        elif kind != "alone":
            closed = sum(1 for r in rounds[kind] if r["other_closed"])
            other = f"{median(kind, 'other_answers_per_s'):.1f} answers/s"
            if kind == "recipe flood":
                other += f", closed by the server in {closed} of {args.rounds} rounds"
        rows.append(
            [labels[kind], f"{frames:.1f}", f"{frames / reference:.0%}", f"{median(kind, 'epochs_per_s'):.1f}", other]
        )
    print(f"\nmedians of {args.rounds} rounds of {args.flood_seconds:g} s; {FLOOD_SETTINGS}, 1 epoch a frame")
    print(table(["the first page, while", "its frames/s", "of alone", "its epochs/s", "the other page"], rows))


def serve_directory(directory: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1]


def tf_round(browser, port: int, seconds: float) -> dict:
    page = browser.new_page(viewport=VIEWPORT)
    local = f"http://127.0.0.1:{port}/"
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(local) else route.abort())
    page.goto(f"{local}index.html#{TF_SETTING}")
    page.wait_for_selector("#iter-number")
    page.evaluate("window.__frames = 0; (function f() { window.__frames++; requestAnimationFrame(f); })()")
    page.click("#play-pause-button")
    time.sleep(2)  # warm-up
    read = (
        "({epoch: +document.querySelector('#iter-number').textContent.replace(/,/g, ''), "
        "frames: window.__frames, t: performance.now()})"
    )
    a = page.evaluate(read)
    time.sleep(seconds)
    b = page.evaluate(read)
    page.close()
    dt = (b["t"] - a["t"]) / 1000
    epochs = (b["epoch"] - a["epoch"]) / dt
    # One epoch per animation frame (Player.start runs oneStep() and updateUI() in a d3 timer).
    return {"frames_per_s": epochs, "epochs_per_s": epochs, "animation_frames_per_s": (b["frames"] - a["frames"]) / dt}


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tf-playground", type=Path, help="a built tensorflow/playground (its dist/ is served)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measuring window")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two pages")
    parser.add_argument("--changes", type=int, default=6, help="control changes timed per round and kind")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--flood", action="store_true", help="one page while another floods (no browser)")
    parser.add_argument("--flood-seconds", type=float, default=4.0, help="measuring window under a flood")
    args = parser.parse_args()
    if args.flood:
        flood_main(args)
        return
    from playwright.sync_api import sync_playwright

    dist = None
    if args.tf_playground:
        dist = args.tf_playground / "dist" if (args.tf_playground / "dist").is_dir() else args.tf_playground
        if not (dist / "bundle.js").is_file():
            sys.exit(f"{dist} holds no built TensorFlow Playground (bundle.js): npm ci && npm run build there")
    print(machine(), file=sys.stderr)
    print(f"load average at the start: {load()}", file=sys.stderr)
    server, url = start_zoo()
    httpd, port = serve_directory(dist) if dist else (None, None)
    zoo_rounds, tf_rounds = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium)
            for r in range(args.rounds):
                zoo_rounds.append(zoo_round(browser, url, args.seconds, args.changes))
                print(f"round {r + 1} zoo: {zoo_rounds[-1]}", file=sys.stderr)
                if dist:
                    tf_rounds.append(tf_round(browser, port, args.seconds))
                    print(f"round {r + 1} TensorFlow Playground: {tf_rounds[-1]}", file=sys.stderr)
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        if httpd:
            httpd.shutdown()
    print(f"load average at the end: {load()}", file=sys.stderr)

    def median(rounds: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    rate = [ms for r in zoo_rounds for ms in r["rate_ms"]]
    network = [ms for r in zoo_rounds for ms in r["network_ms"]]
    rows = [
        [
            "zoo.playground (zoo's MLP, task and SGD, in the server)",
            f"{median(zoo_rounds, 'frames_per_s'):.1f}",
            f"{median(zoo_rounds, 'epochs_per_s'):.1f}",
            f"{min(r['min_epochs_per_frame'] for r in zoo_rounds)}",
            f"{statistics.median(rate):.0f} / {max(rate):.0f}",
            f"{statistics.median(network):.0f} / {max(network):.0f}",
        ]
    ]
    if tf_rounds:
        rows.append(
            [
                "TensorFlow Playground (its JavaScript network, in the page)",
                f"{median(tf_rounds, 'frames_per_s'):.1f}",
                f"{median(tf_rounds, 'epochs_per_s'):.1f}",
                "1",
                "-",
                "-",
            ]
        )
    headers = [
        "page",
        "frames drawn/s",
        "epochs/s",
        "fewest epochs between frames",
        "rate change -> frame, ms (median / max)",
        "network change -> frame, ms (median / max)",
    ]
    print(f"\n{zoo_rounds[0]['info']}; medians of {args.rounds} rounds of {args.seconds:g} s")
    print(table(headers, rows))


if __name__ == "__main__":
    main()
