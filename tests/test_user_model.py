"""A model registered by a user trains through zoo.fit and through the command, without a shipped
recipe: it declares its task and data set, a config supplies the rest. The own-model guide's example runs as
written."""

import json
import re
import shlex
import subprocess
import sys

import pytest
import torch

import zoo
from conftest import ROOT, checkout_env, run_command, run_python, summary_of
from zoo.errors import UsageError

TINY = {"trainer.max_epochs": 1, "trainer.limit_train_batches": 3, "trainer.enable_model_summary": False}


class Pooled(torch.nn.Module):
    """The smallest image classifier: a 3x3 convolution, global average pooling, a linear layer."""

    def __init__(self, *, in_channels: int = 1, num_classes: int = 10, width: int = 4):
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, width, 3, padding=1)
        self.head = torch.nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.fixture(autouse=True)
def registered():
    """The test models, registered for each test and removed after it (other tests list the models)."""
    zoo.register_model("test_pooled", task="classification", data="digits")(Pooled)
    zoo.register_model("test_undeclared")(Pooled)
    yield
    zoo.registry.MODELS.unregister("test_pooled")
    zoo.registry.MODELS.unregister("test_undeclared")


def test_a_registered_model_trains_through_fit_with_the_task_and_data_it_declares(tmp_path):
    result = zoo.fit(
        "test_pooled", overrides={**TINY, "model.width": 6, "trainer.default_root_dir": str(tmp_path)}, quiet=True
    )
    assert result.config["task"]["name"] == "classification" and result.config["data"]["name"] == "digits"
    assert result.config["model"] == {"width": 6}  # in_channels and num_classes come from the data
    assert result.task.model.conv.out_channels == 6 and result.task.model.head.out_features == 10
    assert 0.0 <= result.summary["test"]["acc"] <= 1.0
    assert [row["epoch"] for row in result.metrics] == [0] and "val_acc" in result.metrics[0]
    assert not result.task.training and result.run_dir.is_dir()
    assert zoo.load_checkpoint(result.checkpoint).model.conv.out_channels == 6


def test_a_model_that_declares_nothing_needs_a_config_naming_task_and_data(tmp_path):
    with pytest.raises(UsageError, match="has no shipped recipe and declares no task or data set"):
        zoo.resolve_recipe("test_undeclared")
    cfg = zoo.resolve_recipe(
        "test_undeclared", {"task": {"name": "classification"}, "data": {"name": "iris"}}, {"trainer.max_epochs": 2}
    )
    assert (cfg["data"]["name"], cfg["trainer"]["max_epochs"], cfg["optimizer"]["name"]) == ("iris", 2, "adam")


def test_python_values_in_overrides_are_checked_against_the_option_types():
    with pytest.raises(UsageError, match="trainer.max_epochs expects int or None, got 1.5"):
        zoo.resolve_recipe("test_pooled", overrides={"trainer.max_epochs": 1.5})
    with pytest.raises(UsageError, match="has no option model.widht; did you mean model.width"):
        zoo.resolve_recipe("test_pooled", overrides={"model.widht": 3})
    assert zoo.resolve_recipe("test_pooled", overrides={"trainer.max_epochs": "4"})["trainer"]["max_epochs"] == 4


def test_an_exception_a_callback_raises_reaches_the_caller_as_itself(tmp_path):
    """A search pruning a trial stops the run from a callback: the exception comes out of fit unchanged,
    and the run directory keeps what was written before it (recipe, metrics, checkpoint)."""
    import lightning as L

    class Pruned(Exception):
        pass

    class Prune(L.Callback):
        def on_validation_end(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                raise Pruned("stop this trial")

    run_dir = tmp_path / "trial-0"
    with pytest.raises(Pruned, match="stop this trial"):
        zoo.fit("mlp", overrides={"trainer.max_epochs": 5}, callbacks=[Prune()], run_dir=run_dir, quiet=True)
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,step") and [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
    assert (run_dir / "config.yaml").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert not list(run_dir.rglob("*.tmp-*"))  # no half-written file


GUIDE = ROOT / "docs" / "howto" / "own-model.md"  # (the example moved there from the README)


def readme_block(marker: str) -> str:
    """The fenced code block of the own-model guide that follows the line ``marker``."""
    text = GUIDE.read_text()
    match = re.search(re.escape(marker) + r"\s*```\w*\n(.*?)```", text, re.S)
    assert match, f"{GUIDE.relative_to(ROOT)} has no code block after {marker!r}"
    return match.group(1)


@pytest.mark.slow
def test_the_readmes_own_model_example_runs_from_python_and_from_the_command(tmp_path):
    (tmp_path / "tiny_cnn.py").write_text(readme_block("<!-- example: tiny_cnn.py -->"))
    script = readme_block("<!-- example: fit tiny_cnn -->").replace(
        '"trainer.max_epochs": 5', '"trainer.max_epochs": 1'
    )
    python = run_python(["-c", script], cwd=tmp_path)
    assert python.returncode == 0, python.stderr[-3000:]
    assert "acc" in python.stdout
    command = readme_block("<!-- example: train tiny_cnn -->").strip().split()
    assert command[:3] == ["python", "-m", "zoo.train"]
    command = [c if c != "5" else "1" for c in command[2:]]  # (one epoch is enough to show it runs)
    result = run_command(command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = summary_of(result.stdout)
    assert summary["model"] == "tiny_cnn" and summary["data"] == "digits"
    saved = (tmp_path / "runs" / summary["run_dir"].rsplit("/", 1)[-1] / "config.yaml").read_text()
    assert "imports:\n- tiny_cnn.py\n" in saved  # the saved recipe imports the file again when replayed
    assert json.loads(json.dumps(summary)) == summary


# --- a run of the user's own model, in every command that loads one ------------------------------
USER_MODELS = """
import torch

import zoo
from zoo.models.lstm import LSTMLanguageModel


@zoo.register_model("my_cnn", task="classification", data="digits")
class MyCNN(torch.nn.Module):
    def __init__(self, *, in_channels: int = 1, num_classes: int = 10, width: int = 4):
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, width, 3, padding=1)
        self.head = torch.nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


zoo.register_model("my_lstm", task="language_model", data="text")(LSTMLanguageModel)
"""


@pytest.fixture(scope="module")
def user_runs(tmp_path_factory):
    """A CNN and a language model of the user's own, registered in a .py file in a folder whose name a
    shell would run (``$(touch x)``), each trained for one short epoch: (folder, file, CNN run, LM run)."""
    root = tmp_path_factory.mktemp("user")
    module = root / "my models $(touch x)" / "user_models.py"
    module.parent.mkdir()
    module.write_text(USER_MODELS)
    small = {**TINY, "trainer.limit_val_batches": 2, "trainer.limit_test_batches": 2}
    small["trainer.default_root_dir"] = str(root / "runs")
    cnn = zoo.fit("my_cnn", overrides=small, imports=[str(module)], quiet=True)
    lm = zoo.fit(
        "my_lstm", overrides={**small, "model.hidden_size": 16, "model.embed_dim": 8}, imports=[str(module)], quiet=True
    )
    yield root, module, cnn.run_dir, lm.run_dir
    for name in ("my_cnn", "my_lstm"):
        if name in zoo.registry.MODELS:
            zoo.registry.MODELS.unregister(name)
    sys.modules.pop("zoo_user_user_models", None)


COMMANDS = {  # (the command's options, the run it loads, what it leaves when it works: a file, or characters)
    "zoo.show": (["--out", "shown"], "cnn", "shown/filters.png"),
    "zoo.export": (["--format", "pt2", "--out", "lm.pt2"], "lm", "lm.pt2"),
    "zoo.generate": (["--length", "20", "--seed", "0"], "lm", 20),  # twenty characters from a char-level model
    "zoo.predict": (["ab", "--length", "20", "--seed", "0"], "lm", 22),  # the prompt and twenty more
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.xdist_group("user_model")  # (one worker builds the module fixture once)
def test_every_command_that_loads_a_run_takes_the_import_its_message_prints(user_runs, command):
    """Without --import: one line that says which --import to add, quoted for a shell (the folder's name
    holds a space and ``$(touch x)``); that line's --import, pasted into a shell, loads the run and runs
    nothing the name holds."""
    root, module, cnn, lm = user_runs
    options, which, written = COMMANDS[command]
    run, model = (cnn, "my_cnn") if which == "cnn" else (lm, "my_lstm")
    without = run_command([command, str(run), *options], cwd=root)
    assert without.returncode == 2, without.stderr
    hint = f"add --import {shlex.quote(str(module))}, as the run was trained"
    assert f"holds a '{model}' model, which is not registered here: {hint}" in without.stderr
    assert len(without.stderr.strip().splitlines()) == 1  # one line, no traceback
    suggested = re.search(r": add (--import .*), as the run was trained", without.stderr).group(1)
    line = shlex.join([sys.executable, "-m", command, str(run), *options]) + " " + suggested
    pasted = subprocess.run(["bash", "-c", line], cwd=root, env=checkout_env(), capture_output=True, text=True)
    assert pasted.returncode == 0, pasted.stderr[-3000:]
    if isinstance(written, str):
        assert (root / written).is_file() and written in pasted.stdout
    else:
        assert len(pasted.stdout.removesuffix("\n")) == written, pasted.stdout
    assert not (root / "x").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("user_model")  # (one worker builds the module fixture once)
def test_load_trained_and_load_checkpoint_take_imports_from_python(user_runs):
    root, module, _, lm = user_runs
    zoo.registry.MODELS.unregister("my_lstm")  # (as in a fresh process that has not imported the file)
    sys.modules.pop("zoo_user_user_models", None)
    with pytest.raises(UsageError, match=re.escape(f"or pass imports=[{str(module)!r}], as the run was trained")):
        zoo.load_trained(lm)
    assert zoo.load_trained(lm, imports=[str(module)]).hparams.model == "my_lstm"
    zoo.registry.MODELS.unregister("my_lstm")
    sys.modules.pop("zoo_user_user_models", None)
    assert zoo.load_checkpoint(lm / "checkpoints" / "best.ckpt", imports=[str(module)]).hparams.model == "my_lstm"


@pytest.mark.slow
@pytest.mark.xdist_group("user_model")  # (one worker builds the module fixture once)
def test_a_runs_recipe_says_which_code_reading_it_runs(user_runs):
    root, module, cnn, _ = user_runs
    first, second = (cnn / "config.yaml").read_text(encoding="utf-8").splitlines()[:2]
    assert first == f"# Reading this recipe (--config, --resume, --print_config, zoo.fit) imports and runs: {module}"
    assert second == "# Only use it if you trust that code."
