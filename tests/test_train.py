"""Training through the real Trainer: every model smoke-trains, the CLI runs end to end, checkpoints
load back safely."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import zoo
from conftest import ROOT, assert_finite_metrics, run_command, summary_of
from zoo import resolve_recipe
from zoo.errors import DataError

TINY = [
    "--trainer.max_epochs",
    "1",
    "--trainer.limit_train_batches",
    "3",
    "--trainer.limit_val_batches",
    "2",
    "--trainer.limit_test_batches",
    "2",
    "--trainer.enable_model_summary",
    "false",
]


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_model_smoke_trains_through_the_shared_loop(name, tmp_path, capsys):
    cfg = resolve_recipe(name, overrides=TINY + ["--trainer.default_root_dir", str(tmp_path)])
    summary = zoo.fit(name, config=cfg).summary
    assert summary["model"] == name and summary["epochs"] == 1
    assert summary["train_samples_per_s"] > 0 and summary["train_time_s"] > 0
    assert_finite_metrics(name, summary["test"])
    run_dir = tmp_path / os.path.basename(summary["run_dir"])
    for file in ("config.yaml", "metrics.csv", "summary.json", "checkpoints/last.ckpt", "learning_curves.png"):
        assert (run_dir / file).is_file(), file
    assert capsys.readouterr().out.startswith(f"run_dir: {run_dir}")
    task = zoo.load_checkpoint(summary["checkpoint"])
    assert not task.training and next(task.parameters()).device.type == "cpu"


@pytest.mark.slow
def test_default_lenet_command_end_to_end(tmp_path):
    """The README's first command: offline digits, >= 0.95 test accuracy, every file of a run."""
    result = run_command(["zoo.train", "lenet", "--trainer.default_root_dir", str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("run_dir: ")
    summary = summary_of(result.stdout)
    assert set(summary) >= {
        "model",
        "data",
        "epochs",
        "train_time_s",
        "train_samples_per_s",
        "val",
        "test",
        "run_dir",
        "checkpoint",
    }
    assert summary["model"] == "lenet" and summary["data"] == "digits"
    assert summary["test"]["acc"] >= 0.95
    run_dir = tmp_path / os.path.basename(summary["run_dir"])
    assert lines[0] == f"run_dir: {summary['run_dir']}"
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    metrics = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 1 + summary["epochs"] and "val_acc" in metrics[0] and "train_loss" in metrics[0]
    last_row = dict(zip(metrics[0].split(","), metrics[-1].split(",")))
    assert summary["train_time_s"] == pytest.approx(float(last_row["train_time_s"]), abs=0.01)
    for file in (
        "config.yaml",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "learning_curves.png",
        "confusion_matrix.png",
    ):
        assert (run_dir / file).is_file(), file
    assert "Traceback" not in result.stderr

    # The checkpoint alone reproduces the test accuracy, on CPU, in eval mode, from raw images.
    from zoo.data import DATASETS

    dm = DATASETS.get("digits")(image_size=28)
    dm.setup("test")
    x, y = dm.test_set.tensors
    task = zoo.load_checkpoint(summary["checkpoint"])
    with torch.no_grad():
        acc = (task(x).argmax(1) == y).float().mean().item()
    assert acc == pytest.approx(summary["test"]["acc"], abs=1e-6)
    assert task.predict(x[:3]) == [task.class_names[i] for i in task(x[:3]).argmax(1).tolist()]
    as_numpy_floats = torch.from_numpy(x[:3].numpy() / 255.0)  # float64 in [0, 1], as numpy gives them
    assert task.predict(as_numpy_floats) == task.predict(x[:3])

    # The saved config reproduces the run's recipe.
    again = run_command(
        ["zoo.train", "lenet", "--config", str(run_dir / "config.yaml"), "--print_config"], cwd=tmp_path
    )
    assert again.returncode == 0 and again.stdout == (run_dir / "config.yaml").read_text()


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    Payload.marker = marker
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "zoo_task": "classification", "hyper_parameters": {"x": Payload()}}, path)
    with pytest.raises(DataError, match=r"refusing to load .*evil.ckpt: it carries pickled code"):
        zoo.load_checkpoint(path)
    assert not marker.exists()


def test_truncated_checkpoint_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "cut.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match="cut.ckpt is not a readable checkpoint"):
        zoo.load_checkpoint(path)
    with pytest.raises(DataError, match="checkpoint not found"):
        zoo.load_checkpoint(tmp_path / "absent.ckpt")


def test_other_files_of_a_run_are_not_checkpoints_and_its_checkpoints_folder_is_found(tmp_path):
    """A run's config.yaml or metrics.csv given where a checkpoint belongs is named as such (the unpickler
    called it "pickled code", or failed with an IndexError); the checkpoints/ folder itself also works."""
    cfg = resolve_recipe("mlp", overrides=TINY + ["--trainer.default_root_dir", str(tmp_path)])
    run_dir = Path(zoo.fit("mlp", config=cfg).summary["run_dir"])
    for other in ("config.yaml", "metrics.csv", "summary.json"):
        with pytest.raises(DataError, match=rf"{other} is not a checkpoint file"):
            zoo.load_checkpoint(run_dir / other)
    assert zoo.load_checkpoint(run_dir / "checkpoints").hparams.model == "mlp"


def test_predict_takes_raw_images_of_another_size_than_lenets_input(tmp_path):
    """The digits recipe trains LeNet on 8x8 images resized to 28x28; predict takes the 8x8 originals
    (uint8 or floats) and resizes them the same way."""
    from sklearn.datasets import load_digits

    from zoo.data.images import resize_images

    summary = zoo.fit("lenet", overrides=TINY + ["--trainer.default_root_dir", str(tmp_path)]).summary
    task = zoo.load_checkpoint(summary["checkpoint"])
    x = torch.from_numpy(load_digits().images[:16] * (255 / 16)).round().to(torch.uint8).unsqueeze(1)  # (16, 1, 8, 8)
    names = task.predict(x)
    assert len(names) == 16 and set(names) <= set(task.class_names)
    assert names == task.predict(resize_images(x, 28))
    assert task.predict_proba(x.float() / 255).shape == (16, 10)


@pytest.mark.slow
def test_works_installed_from_a_wheel_in_an_unrelated_folder(tmp_path):
    """pip install of the built wheel (not the checkout): recipes ship inside the package."""
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    venv = tmp_path / "venv"
    # (a venv without a pip of its own: this pip installs into it, and ensurepip's seconds are saved)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    wheel = next(wheels.glob("zoo-*.whl"))
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--ignore-installed",
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the wheel's zoo, not a checkout's
    probe = subprocess.run(
        [
            python,
            "-c",
            "import zoo, zoo.schema; print(zoo.__file__); print(zoo.list_recipes()); "
            "print(zoo.schema.load() is not None)",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
    )
    assert probe.returncode == 0, probe.stderr
    assert str(venv) in probe.stdout.splitlines()[0]
    assert "lenet" in probe.stdout
    assert probe.stdout.splitlines()[-1] == "True"  # the option schema ships in the wheel
    result = subprocess.run(
        [python, "-m", "zoo.train", "lenet", "--print_config"], cwd=elsewhere, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "name: digits" in result.stdout
    # The Playground's page ships in the wheel too: its assets are served from the installed package.
    page = (
        "from starlette.testclient import TestClient; from zoo.playground import server; "
        "c = TestClient(server.make_app('t'), base_url='http://127.0.0.1'); print(server.__file__); "
        "print(*(c.get(f'{u}?token=t').status_code for u in ('/', '/static/playground.js', '/static/playground.css')))"
    )
    served = subprocess.run([python, "-c", page], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert served.returncode == 0, served.stderr
    assert str(venv) in served.stdout.splitlines()[0] and served.stdout.splitlines()[1] == "200 200 200"

    # The shipped weights and texts are inside the wheel, within the budget, and predict from there.
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    weights = [n for n in names if n.startswith("zoo/weights/") and n.endswith(".ckpt")]
    assert len(weights) == len(zoo.list_weights()) and "zoo/weights/cards.json" in names
    assert "zoo/data/files/tinyshakespeare.txt.gz" in names
    assert wheel.stat().st_size < 16 * 2**20
    from PIL import Image

    Image.new("L", (28, 28), 40).save(elsewhere / "grey.png")
    inputs = {
        "lenet:fashion-mnist": "grey.png",
        "mlp:fashion-mnist": "grey.png",
        "lstm:tinyshakespeare": "ROMEO:",
        "word2vec:wikipedia-sample": "music",
    }
    for name in zoo.list_weights():
        answer = subprocess.run(
            [python, "-m", "zoo.predict", name, inputs[name], "--topk", "2"],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            env=env,
        )
        assert answer.returncode == 0 and answer.stdout.strip(), (name, answer.stderr[-2000:])


def test_logged_numbers_keep_their_meaning_in_the_csv(tmp_path):
    """metrics.csv shows a float32 metric as the decimal it stands for, and never rounds a float64
    number, even one that float32 could also hold (a loss sum, a pair count past 2**24)."""
    from zoo.callbacks import EpochCSVLogger
    from zoo.records import exact

    assert exact(torch.tensor(0.064)).item() == 0.064
    assert exact(torch.tensor(1 / 3)).item() == 0.33333334
    for value in (441636.890625, 30000002.0, 3.1985753233796617):
        assert exact(torch.tensor(value, dtype=torch.float64)).item() == value
        assert exact(value).item() == value
    logger = EpochCSVLogger(tmp_path)
    logger.log_metrics(
        {"epoch": 0.0, "train_loss_sum": 441636.890625, "train_pairs": 30000002.0, "val_acc": 0.064}, step=3
    )
    row = (tmp_path / "metrics.csv").read_text().splitlines()[1]
    assert row == "0,3,441636.890625,30000002.0,0.064"


def test_gpu_probe_returns_to_torchs_default_only_where_there_is_no_gpu(monkeypatch):
    from zoo._lightning import cheap_gpu_probe

    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # what importing Lightning sets
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    cheap_gpu_probe()
    assert os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] == "1"  # GPUs: keep Lightning's fork-safe probe
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    cheap_gpu_probe()
    assert os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] == "0"


def test_compile_option_compiles_in_place_and_keeps_checkpoints_interchangeable():
    """``--task.compile true`` compiles the model in place: the same parameter names, so a checkpoint
    written by a compiled run loads where nothing is compiled (and back). (Running the compiled model
    is left to torch's own tests: compiling even a tiny one takes half a minute on 2 cores.)"""
    from zoo.tasks import ClassificationTask, LanguageModelTask

    torch.manual_seed(0)
    kwargs = dict(model="mlp", model_kwargs=dict(in_features=4, num_classes=3, hidden=[8]), num_classes=3)
    plain, compiled = ClassificationTask(**kwargs), ClassificationTask(**kwargs, compile=True)
    assert compiled.model._compiled_call_impl is not None and plain.model._compiled_call_impl is None
    assert list(compiled.state_dict()) == list(plain.state_dict())
    compiled.load_state_dict(plain.state_dict())
    plain.load_state_dict(compiled.state_dict())
    language = LanguageModelTask(model="lstm", model_kwargs=dict(vocab_size=5), vocab=list("abcde"), compile=True)
    assert language._forward_with_state is not language.model.forward_with_state  # the path training takes


def test_epoch_loss_is_the_mean_over_samples_so_a_short_last_batch_counts_for_what_it_holds():
    import torch.nn.functional as F

    from zoo.tasks import ClassificationTask

    torch.manual_seed(0)
    task = ClassificationTask(
        model="mlp", model_kwargs=dict(in_features=4, num_classes=3, hidden=[8]), num_classes=3
    ).eval()
    batches = [(torch.rand(6, 4), torch.randint(3, (6,))), (torch.rand(1, 4), torch.randint(3, (1,)))]
    with torch.no_grad():
        for batch in batches:
            task.step(batch, "val")
        expected = sum(F.cross_entropy(task(x), y, reduction="sum") for x, y in batches) / 7
    torch.testing.assert_close(task.losses["val_loss"].compute(), expected)


@pytest.mark.slow
def test_a_run_that_max_steps_stops_mid_epoch_validates_its_final_weights(tmp_path, capsys):
    """Lightning validates before a max_time or early stop, not before a max_steps stop in the middle
    of an epoch: the last steps (at a decayed rate) would then never count as "best" nor be tested."""
    import csv

    from zoo.checkpoint import safe_load

    # digits: 1,294 training images, 21 batches of 64 an epoch; 30 steps end 9 batches into epoch 1
    summary = zoo.fit(
        "lenet",
        overrides=[
            "--trainer.max_steps",
            "30",
            "--trainer.max_epochs",
            "-1",
            "--trainer.default_root_dir",
            str(tmp_path),
        ],
    ).summary
    rows = list(csv.DictReader(open(Path(summary["run_dir"]) / "metrics.csv")))
    assert [(row["epoch"], row["step"]) for row in rows] == [("0", "21"), ("1", "30")]
    assert rows[-1]["val_loss"] != ""  # the final weights were validated
    best = safe_load(Path(summary["run_dir"]) / "checkpoints" / "best.ckpt")
    best_loss = min(float(row["val_loss"]) for row in rows)
    assert best["global_step"] == (30 if float(rows[-1]["val_loss"]) == best_loss else 21)
    assert summary["val"]["loss"] == pytest.approx(best_loss, abs=1e-6)


def test_progress_bar_shows_the_step_loss_and_not_the_csv_axes(tmp_path, capsys):
    """The bar reads the last step's loss itself when it draws (no self.log at every step): the loss
    is on the bar, the "step" and "epoch" columns meant for metrics.csv are not, and the step loss
    stays out of metrics.csv."""
    import csv
    import re

    summary = zoo.fit(
        "mlp", overrides=TINY + ["--trainer.enable_progress_bar", "true", "--trainer.default_root_dir", str(tmp_path)]
    ).summary
    bar = capsys.readouterr().out.replace("\r", "\n")  # (Lightning's tqdm bar writes to stdout)
    train_lines = [line for line in bar.splitlines() if line.startswith("Epoch 0: 100%")]
    assert train_lines and re.search(r"\bloss=\d", train_lines[-1]), bar[-2000:]
    assert not re.search(r"\b(step|epoch|v_num)=", train_lines[-1])
    header = next(csv.reader(open(Path(summary["run_dir"]) / "metrics.csv")))
    assert "loss" not in header and "train_loss" in header


@pytest.mark.slow
def test_step_losses_are_the_tasks_loss_also_when_gradients_accumulate(tmp_path, capsys):
    """Lightning hands callbacks the loss divided by accumulate_grad_batches; steps.csv, the progress
    bar and the non-finite check report the loss itself. With a learning rate of 0 the weights never
    move, so every batch's loss is the same with or without accumulation."""
    import csv

    def step_losses(accumulate: int) -> list[float]:
        root = tmp_path / f"acc{accumulate}"
        summary = zoo.fit(
            "mlp",
            overrides=[
                "--optimizer.lr",
                "0",
                "--scheduler.name",
                "constant",
                "--trainer.max_epochs",
                "1",
                "--trainer.log_every_n_steps",
                "1",
                "--trainer.accumulate_grad_batches",
                str(accumulate),
                "--trainer.default_root_dir",
                str(root),
            ],
        ).summary
        return [float(row["loss"]) for row in csv.DictReader(open(Path(summary["run_dir"]) / "steps.csv"))]

    plain, accumulated = step_losses(1), step_losses(2)
    assert len(plain) == len(accumulated) > 2
    assert accumulated == pytest.approx(plain, rel=1e-5)


@pytest.mark.slow
def test_validations_inside_an_epoch_get_rows_of_their_own_at_their_step(tmp_path, capsys):
    """--trainer.val_check_interval 7 on digits (21 batches an epoch): validations after 7, 14 and 21
    steps, each its own metrics.csv row (they used to overwrite one another); the training figures and
    the epoch-end validation share the epoch's last row."""
    import csv

    summary = zoo.fit(
        "lenet",
        overrides=[
            "--trainer.max_epochs",
            "2",
            "--trainer.val_check_interval",
            "7",
            "--trainer.default_root_dir",
            str(tmp_path),
        ],
    ).summary
    rows = list(csv.DictReader(open(Path(summary["run_dir"]) / "metrics.csv")))
    assert [(row["epoch"], row["step"]) for row in rows] == [
        ("0", "7"),
        ("0", "14"),
        ("0", "21"),
        ("1", "28"),
        ("1", "35"),
        ("1", "42"),
    ]
    assert all(row["val_loss"] != "" for row in rows)
    assert [row["train_loss"] != "" for row in rows] == [False, False, True] * 2
    assert summary["val"].keys() == {"loss", "acc"}  # the evaluation after training: no step or epoch in it


def test_learning_curves_place_validations_inside_an_epoch_where_they_happened():
    from zoo.plots import epoch_positions

    rows = [
        {"epoch": 0, "step": 7},
        {"epoch": 0, "step": 14},
        {"epoch": 0, "step": 21},
        {"epoch": 1, "step": 28},
        {"epoch": 1, "step": 42},
        {"epoch": 2, "step": 50},
    ]
    # counted from 0, as metrics.csv and the progress bar count epochs: epoch 0 ends at 0
    assert epoch_positions(rows) == pytest.approx([-2 / 3, -1 / 3, 0.0, 1 / 3, 1.0, 2.0])
    # rows from before steps were recorded sit at their epoch's end
    assert epoch_positions([{"epoch": 0}, {"epoch": 1, "step": None}]) == [0.0, 1.0]


def test_the_best_epoch_is_the_one_the_best_checkpoint_keeps():
    from zoo.plots import best_row

    rows = [
        {"epoch": 0, "val_loss": 0.5, "val_acc": 0.7},
        {"epoch": 1, "val_loss": 0.3, "val_acc": 0.7},
        {"epoch": 2, "val_loss": 0.3, "val_acc": 0.9},
        {"epoch": 3, "train_loss": 0.1},
    ]
    assert best_row(rows, "val_loss", "min") == 1  # the first of equals, as ModelCheckpoint keeps it
    assert best_row(rows, "val_acc", "max") == 2
    assert best_row(rows, "train_loss", "min") == 3 and best_row(rows, None, None) is None


def test_learning_curves_show_validated_metrics_before_training_only_counters():
    """word2vec logs the bookkeeping sums train_loss_sum and train_pairs beside its validated similarity
    scores: the picture's four panels are the loss and the scores, not the counters."""
    from zoo.plots import curve_panels

    rows = [
        {
            "epoch": e,
            "train_loss": 2.0,
            "train_loss_sum": 9.0,
            "train_pairs": 4.0,
            "val_simlex999": 0.1,
            "val_wordsim353": 0.2,
            "train_time_s": 1.0,
            "lr": 0.02,
        }
        for e in range(2)
    ]
    assert curve_panels(rows) == ["loss", "simlex999", "wordsim353", "loss_sum"]
    classifier = [
        {"epoch": 0, "train_loss": 1.0, "val_loss": 1.1, "train_acc": 0.5, "val_acc": 0.4, "train_penalty": 0.1}
    ]
    assert curve_panels(classifier) == ["loss", "acc"]


def test_a_resumed_run_replaces_the_rows_a_killed_run_logged_after_its_checkpoint(tmp_path):
    from zoo.callbacks import EpochCSVLogger

    (tmp_path / "metrics.csv").write_text(
        "epoch,step,train_loss,val_loss\n0,7,,2.0\n0,14,,1.5\n0,21,1.2,1.0\n1,28,,0.9\n"
    )
    logger = EpochCSVLogger(tmp_path)
    logger.forget_after(7)  # resumed from step 7 (StepLog tells it at the training's start)
    assert (tmp_path / "metrics.csv").read_text().splitlines()[1:] == ["0,7,,2.0"]
    logger.log_metrics({"epoch": 0, "val_loss": 1.4}, step=14)  # it validates at 14 again
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines == ["epoch,step,train_loss,val_loss", "0,7,,2.0", "0,14,,1.4"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "validation", [["--trainer.check_val_every_n_epoch", "2"], ["--trainer.val_check_interval", "7"]]
)
def test_resuming_after_a_validation_keeps_the_rows_already_written(tmp_path, validation, capsys):
    """A run whose last checkpoint was written at a validation's end (not at the training epoch's end)
    resumes into the end of that epoch again; the rows already in metrics.csv keep their figures."""
    import csv

    def train(epochs: int, *resume: str) -> list[dict]:
        cfg = resolve_recipe(
            "lenet",
            overrides=["--trainer.max_epochs", str(epochs), *validation, "--trainer.default_root_dir", str(tmp_path)],
        )
        summary = zoo.fit("lenet", config=cfg, resume=resume[0] if resume else None).summary
        return summary, list(csv.DictReader(open(Path(summary["run_dir"]) / "metrics.csv")))

    first, before = train(2)
    _, after = train(3, first["run_dir"])
    assert after[: len(before)] == before
    assert len(after) > len(before) and after[-1]["epoch"] == "2" and after[-1]["train_loss"] != ""


def test_a_device_this_machine_lacks_is_a_usage_error_not_a_corrupt_checkpoint(monkeypatch, tmp_path):
    from zoo.checkpoint import safe_load
    from zoo.errors import UsageError

    path = tmp_path / "x.ckpt"
    torch.save({"state_dict": {}}, path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="device 'cuda:1': this machine has no CUDA device"):
        safe_load(path, "cuda:1")
    with pytest.raises(UsageError, match="unknown device 'cuba'"):
        safe_load(path, "cuba")
    assert safe_load(path, "cpu") == {"state_dict": {}}


@pytest.mark.slow
def test_hooks_run_unprofiled_by_default_and_a_chosen_profiler_still_times_them(tmp_path):
    """zoo replaces Lightning's default do-nothing profiler with a cheaper do-nothing one; a profiler
    the user names (``--trainer.profiler simple``) still gets every hook to time."""
    import lightning as L
    from lightning.pytorch.profilers import SimpleProfiler

    from zoo.callbacks import NoProfiler

    class Seen(L.Callback):
        def on_train_end(self, trainer, pl_module):
            self.profiler = trainer.profiler

    for chosen, kind in ((None, NoProfiler), ("simple", SimpleProfiler)):
        seen = Seen()
        extra = ["--trainer.profiler", chosen] if chosen else []
        zoo.fit(
            "mlp", overrides=TINY + extra + ["--trainer.default_root_dir", str(tmp_path)], callbacks=[seen], quiet=True
        )
        assert type(seen.profiler) is kind
    assert len(seen.profiler.recorded_durations["run_training_batch"]) == 3
    assert any(".on_train_batch_end" in name for name in seen.profiler.recorded_durations)


OLD = ROOT / "tests" / "data" / "before-2026-11-29"


@pytest.mark.parametrize(
    "model, options",
    [
        ("mlp", {"model.hidden": [4], "trainer.limit_train_batches": 2}),
        ("word2vec", {"model.dim": 4, "trainer.limit_train_batches": 1}),
    ],
)
def test_checkpoints_written_before_the_tasks_were_split_still_load_and_resume(model, options, tmp_path):
    """Skip-gram checkpoints of then carry the loss and penalty sums of the base task (gone from it now),
    and every checkpoint of then saved Adam's betas as a tuple: both load, and resume."""
    import shutil

    task = zoo.load_checkpoint(OLD / f"{model}.ckpt")
    assert task.hparams.model == model and not task.training
    run_dir = tmp_path / "old-run"
    (run_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(OLD / f"{model}.ckpt", run_dir / "checkpoints" / "last.ckpt")
    result = zoo.fit(model, overrides={**options, "trainer.max_epochs": 2}, resume=run_dir, quiet=True)
    assert result.summary["epochs"] == 2 and result.run_dir == run_dir


def test_a_run_resumes_with_its_own_saved_recipe_and_a_refusal_names_only_what_differs(tmp_path):
    """The saved config.yaml reads Adam's betas back as a list, the checkpoint held a tuple: the same
    setting. A resume with another learning rate is refused naming that option alone."""
    from zoo.errors import UsageError

    first = zoo.fit("mlp", overrides={"trainer.max_epochs": 1, "trainer.default_root_dir": str(tmp_path)}, quiet=True)
    again = zoo.fit(
        "mlp",
        config=first.run_dir / "config.yaml",
        overrides={"trainer.max_epochs": 2},
        resume=first.run_dir,
        quiet=True,
    )
    assert again.summary["epochs"] == 2 and again.run_dir == first.run_dir
    with pytest.raises(UsageError) as refused:
        zoo.fit(
            "mlp",
            config=first.run_dir / "config.yaml",
            overrides={"trainer.max_epochs": 3, "optimizer.lr": 0.05},
            resume=first.run_dir,
            quiet=True,
        )
    assert "(optimizer.lr: 0.01 then, 0.05 now)" in str(refused.value)


def test_a_run_that_validates_less_often_than_every_epoch_still_checkpoints_each_epoch(tmp_path):
    """check_val_every_n_epoch 3 in a 2-epoch run: Lightning's checkpoints would wait for a validation
    that never comes; "last" is written at each epoch's end, and the run tests those weights."""
    from zoo.checkpoint import safe_load

    result = zoo.fit(
        "mlp",
        overrides={
            "trainer.max_epochs": 2,
            "trainer.check_val_every_n_epoch": 3,
            "trainer.default_root_dir": str(tmp_path),
        },
        quiet=True,
    )
    last = result.run_dir / "checkpoints" / "last.ckpt"
    assert last.is_file() and safe_load(last)["epoch"] == 1
    assert result.checkpoint == last and result.summary["best_by"] is None and "acc" in result.summary["test"]


def test_steps_csv_has_rows_also_for_runs_shorter_than_the_logging_interval(tmp_path):
    result = zoo.fit(
        "mlp", overrides=TINY + ["--trainer.max_epochs", "2", "--trainer.default_root_dir", str(tmp_path)], quiet=True
    )
    lines = (result.run_dir / "steps.csv").read_text().splitlines()
    assert lines[0] == "batch,epoch,loss,lr" and [line.split(",")[:2] for line in lines[1:]] == [["3", "0"], ["6", "1"]]


def test_tensorboard_logs_the_epoch_metrics_the_recipe_and_the_pictures(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = zoo.fit(
        "mlp",
        overrides={"trainer.max_epochs": 3, "trainer.logger": "tensorboard", "trainer.default_root_dir": str(tmp_path)},
        quiet=True,
    )
    events = EventAccumulator(str(result.run_dir / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train_loss", "val_loss", "val_acc"} <= set(tags["scalars"])
    assert [round(e.value, 6) for e in events.Scalars("val_loss")] == [round(r["val_loss"], 6) for r in result.metrics]
    assert {"learning_curves", "confusion_matrix", "decision_boundary"} <= set(tags["images"])
    assert events.PluginTagToContent("hparams")  # the recipe beside its test figures
    assert (result.run_dir / "metrics.csv").is_file()  # beside zoo's own CSVs, not instead of them


def test_tensorboard_without_the_package_is_one_line(monkeypatch, tmp_path):
    import importlib.util

    from zoo.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(UsageError, match=r"needs TensorBoard: pip install 'zoo\[tensorboard\]'"):
        zoo.fit(
            "mlp", overrides={"trainer.logger": "tensorboard", "trainer.default_root_dir": str(tmp_path)}, quiet=True
        )
    assert not list(tmp_path.iterdir())


def test_runs_keeping_data_share_the_tensors_of_the_run_before_and_train_as_a_fresh_setup_does(tmp_path):
    """zoo.tune's trials run in ``keeping_data()``: a run with the data options of the one before it
    takes a copy of its set-up data module (the same tensors), and trains to the same figures as a run
    that read its own; other data options read afresh."""
    from zoo.training import keeping_data, prepare

    def data_of(overrides):
        return prepare("mlp", resolve_recipe("mlp", [], overrides))[0]

    run = {"trainer.max_epochs": 1, "trainer.default_root_dir": str(tmp_path)}
    alone = zoo.fit("mlp", overrides=run, quiet=True).summary
    with keeping_data():
        first, second = data_of({}), data_of({"optimizer.lr": 0.05})  # (only the data options count)
        kept = zoo.fit("mlp", overrides=run, quiet=True).summary  # (on first's tensors)
        other = data_of({"data.val_split": 0.2})
    assert second is not first and second.train_set.tensors[0] is first.train_set.tensors[0]
    assert other.train_set.tensors[0] is not first.train_set.tensors[0] and len(other.val_set) != len(first.val_set)
    assert data_of({}).train_set.tensors[0] is not first.train_set.tensors[0]  # (outside the block: read again)
    assert kept["val"] == alone["val"] and kept["test"] == alone["test"]


def test_a_run_told_not_to_test_leaves_the_test_split_alone_and_validates_as_any_run(tmp_path):
    """zoo.tune's trials run with ``test=False``: the same run and validation figures, no test figures
    and no confusion matrix (which is of the test split)."""
    run = {"trainer.max_epochs": 1, "trainer.default_root_dir": str(tmp_path)}
    tested = zoo.fit("mlp", overrides=run, quiet=True)
    untested = zoo.fit("mlp", overrides=run, quiet=True, test=False)
    assert set(tested.summary["test"]) >= {"acc", "loss"} and "test" not in untested.summary
    assert untested.summary["val"] == tested.summary["val"]
    assert (tested.run_dir / "confusion_matrix.png").is_file()
    assert not (untested.run_dir / "confusion_matrix.png").exists()
    assert "test" not in json.loads((untested.run_dir / "summary.json").read_text())
    assert (untested.run_dir / "learning_curves.png").is_file()


def test_an_untested_runs_decision_boundary_shows_validation_points_not_test_points(tmp_path, monkeypatch):
    """A search's trial must not see the test split, in its pictures either: with ``test=False`` the
    spiral's decision boundary is drawn with the validation points, titled with "val acc"."""
    from zoo import plots

    drawn = {}
    monkeypatch.setattr(
        plots, "plot_decision_boundary", lambda panels, train, held, path, held_out: drawn.update(locals())
    )
    # (best by the learning rate, highest after the first epoch: best and last differ, two panels)
    run = {"trainer.max_epochs": 3, "early_stopping.monitor": "lr", "early_stopping.mode": "max"}
    result = zoo.fit("mlp", overrides={**run, "trainer.default_root_dir": str(tmp_path)}, quiet=True, test=False)
    data, _ = zoo.build("mlp", config=result.config)
    assert drawn["held_out"] == "val"
    assert torch.equal(drawn["held"][0], data.val_set.tensors[0])
    assert not torch.equal(drawn["held"][0][: len(data.test_set)], data.test_set.tensors[0][: len(drawn["held"][0])])
    assert [title.split(", ")[1].split(" acc")[0] for title, _ in drawn["panels"]] == ["val", "val"]
    tested = zoo.fit("mlp", overrides={**run, "trainer.default_root_dir": str(tmp_path)}, quiet=True)
    assert drawn["held_out"] == "test" and torch.equal(drawn["held"][0], data.test_set.tensors[0])
    assert tested.summary["val"] == result.summary["val"]
