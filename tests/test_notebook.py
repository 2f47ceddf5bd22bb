"""zoo in a Jupyter notebook, tested where learners run it: a real ipykernel, driven by nbclient (a
notebook executed cell by cell, as Jupyter's "Run all" does) and by jupyter_client (a kernel sent
interrupts, as Jupyter's stop button does).

One notebook follows the course's afternoon in miniature (fit, the learner's own plots, look at the
result, change the structure, compare) and is executed once; each test reads one thing off it."""

from __future__ import annotations

import base64
import io
import json
import queue
import time

import pytest

from conftest import ROOT, checkout_env, require_module

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notebook")]

# A 30-epoch fit, as the measurement and the closing note's Keras comparison use.
FIT = "r = zoo.fit('mlp', overrides={'trainer.max_epochs': 30, 'trainer.default_root_dir': 'runs'})"
CELLS = {
    "inline": "%matplotlib inline",
    "fit": "import zoo\n" + FIT,
    "plt": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.show()",
    "pandas": "import pandas as pd\npd.Series([1.0, 4.0, 2.0]).plot()\nplt.show()",
    "result": "r",
    "history": "r.history.shape",
    "plot": "r.plot(['loss', 'acc'])",
    "show": "r.show('decision_boundary')",
    "other": (
        "narrow = zoo.fit('mlp', overrides={'trainer.max_epochs': 5, 'model.hidden': [4], "
        "'trainer.default_root_dir': 'runs'}, quiet=True)"
    ),
    "compare": "zoo.compare(r, narrow)",
}


def run_notebook(cells: dict[str, str], folder) -> dict[str, list]:
    """Execute ``cells`` in a fresh kernel (this checkout's zoo), in ``folder``; each cell's outputs by name."""
    nbformat = require_module("nbformat", "the notebook tests execute notebooks")
    nbclient = require_module("nbclient", "the notebook tests execute notebooks")
    require_module("ipykernel", "the notebook tests need a Jupyter kernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells.values()])
    # (a cell that fails keeps its error as its output: each test reads its own cell)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": folder}}
    )
    client.execute(env=checkout_env())
    return {name: cell.outputs for name, cell in zip(cells, nb.cells)}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    return run_notebook(CELLS, tmp_path_factory.mktemp("notebook"))


def mime_types(outputs: list) -> set[str]:
    return {kind for output in outputs for kind in output.get("data", {})}


def test_the_learners_own_plots_still_show_after_a_fit(executed):
    # zoo once switched matplotlib to Agg when imported: every plt.show() after the first fit showed nothing.
    assert "image/png" in mime_types(executed["plt"])
    assert "image/png" in mime_types(executed["pandas"])


def test_a_fit_shows_one_display_updated_in_place_with_a_row_per_epoch(executed):
    outputs = executed["fit"]
    assert [o["output_type"] for o in outputs] == ["display_data"], outputs  # one display; nothing on stderr
    text, page = outputs[0]["data"]["text/plain"], outputs[0]["data"]["text/html"]
    stored = len(json.dumps(outputs))
    assert stored < 10_000, stored  # bounded, whatever was drawn on the way
    assert "\x1b[" not in text and "\x1b[" not in page  # no terminal escape codes
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["epoch"])
    assert header + 1 + 30 == len(lines), text  # a row for each of the 30 epochs, after the table's header
    assert [int(line.split()[0]) for line in lines[header + 1 :]] == list(range(30))
    assert {"train_loss", "val_loss", "val_acc", "time"} <= set(lines[header].split())
    assert any(line.startswith("done: 30 epochs; val loss") for line in lines), text  # the end, said in place
    assert "parameters" in text and "FLOPs" in text  # the model's summary, on one line
    assert "<table" in page and "<progress" not in page  # (the bar is gone once the fit is done)


def test_a_result_shows_as_a_short_line_and_a_card_with_its_curves(executed):
    (output,) = executed["result"]
    text, page = output["data"]["text/plain"], output["data"]["text/html"]
    assert "\n" not in text and len(text) < 300 and text.startswith("<zoo.Result mlp on spiral, 30 epochs:")
    assert "runs/mlp-spiral-" in page and "<table" in page and ">val<" in page and ">test<" in page
    png = base64.b64decode(page.split("data:image/png;base64,", 1)[1].split("'", 1)[0])
    from PIL import Image

    with Image.open(io.BytesIO(png)) as picture:  # the learning curves, inline
        assert picture.width > 200 and picture.height > 100
    (history,) = executed["history"]
    assert history["data"]["text/plain"].startswith("(30, ")  # a row per epoch


def test_result_pictures_display_where_they_are_returned(executed):
    assert "image/png" in mime_types(executed["plot"])
    assert "image/png" in mime_types(executed["show"])


def test_compare_shows_the_option_that_differs_and_both_runs_figures(executed):
    (output,) = executed["compare"]
    page, text = output["data"]["text/html"], output["data"]["text/plain"]
    assert "model.hidden" in page and "[4]" in page and "[32, 32, 32]" in page
    assert "val_acc" in page and "test_acc" in page and "data:image/png;base64," in page
    assert len([line for line in text.splitlines()[1:] if "hidden=" in line]) == 2, text


# --- interrupts -----------------------------------------------------------------------------------

# A step that takes long from epoch 2 on: the kernel is interrupted there, twice, before it ends.
SLOW_STEP = """
import time, pathlib, zoo
from lightning.pytorch.callbacks import Callback

class SlowFromEpoch2(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch >= 2:
            pathlib.Path("slow-step").touch()
            time.sleep(60)

kept = "still here"
overrides = {"trainer.max_epochs": 4, "trainer.default_root_dir": "runs"}
"""


def execute(client, code: str, timeout: float = 300) -> tuple[dict, list[dict]]:
    """Run ``code`` in the kernel: (the execute_reply's content, the iopub messages it produced)."""
    msg_id = client.execute(code)
    messages = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            message = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no end of {code!r} within {timeout} s") from None
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    return client.get_shell_msg(timeout=timeout)["content"], messages


def printed(messages: list[dict]) -> str:
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")


def test_a_second_interrupt_stops_the_fit_at_once_and_the_kernel_lives_on(tmp_path):
    jupyter_client = require_module("jupyter_client", "the interrupt test drives a kernel")
    require_module("ipykernel", "the interrupt test needs a Jupyter kernel")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path), env=checkout_env())
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply, _ = execute(client, SLOW_STEP)
        assert reply["status"] == "ok", reply
        client.execute(
            "try:\n    zoo.fit('mlp', overrides=overrides, callbacks=[SlowFromEpoch2()])\n"
            "except zoo.Stopped as stop:\n    err = stop"
        )
        deadline = time.monotonic() + 120
        while not (tmp_path / "slow-step").exists():
            assert time.monotonic() < deadline, "the fit never reached its slow step"
            time.sleep(0.1)
        manager.interrupt_kernel()  # the first: "stopping after this step" (a step that takes a minute)
        time.sleep(1.0)
        manager.interrupt_kernel()  # the second: now
        reply = client.get_shell_msg(timeout=50)["content"]  # far sooner than the step's minute
        assert reply["status"] == "ok", reply  # the cell caught zoo.Stopped
        assert manager.is_alive()  # once, the second interrupt called os._exit: every variable lost
        reply, messages = execute(
            client, "import json\nprint(json.dumps([kept, type(err).__name__, str(err.run_dir), str(err.checkpoint)]))"
        )
        assert reply["status"] == "ok", reply
        kept, kind, run_dir, checkpoint = json.loads(printed(messages))
        assert (kept, kind) == ("still here", "Stopped")
        assert (
            run_dir.startswith(str(tmp_path / "runs" / "mlp-spiral-"))
            and checkpoint == f"{run_dir}/checkpoints/last.ckpt"
        )
        # ... and the run goes on from its last checkpoint (epoch 1's end) in one line.
        reply, messages = execute(
            client, "print(zoo.fit('mlp', overrides=overrides, resume=err.run_dir).summary['epochs'])"
        )
        assert reply["status"] == "ok", reply
        assert printed(messages).split()[-1] == "4"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_checkout_is_what_the_kernel_imports(tmp_path):
    """(The tests above must test this checkout's zoo, not an installed copy.)"""
    outputs = run_notebook({"where": "import zoo\nprint(zoo.__file__)"}, tmp_path)
    assert outputs["where"][0]["text"].strip() == str(ROOT / "zoo" / "__init__.py")
