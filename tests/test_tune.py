"""``python -m zoo.tune``: search spaces checked before any trial, the verdict rule, the report, and the
reliability promises (a killed worker, Ctrl-C, two workers, a real PostgreSQL server).

The studies here are tiny (100 spiral points, a few epochs), so a trial takes a few seconds; the
tests that start commands are marked slow."""

from __future__ import annotations

import csv
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ON_CI, checkout_env, run_command, summary_of

optuna = pytest.importorskip("optuna") if not ON_CI else __import__("optuna")  # the tune extra; CI installs it

from zoo.errors import UsageError  # noqa: E402
from zoo.search import (  # noqa: E402
    Option,
    judge,
    load_space,
    make_pruner,
    parse_space,
    prepare,
)

TINY = """\
metric: val_acc
space:
  optimizer.lr: {float: [1.0e-3, 1.0e-1], log: true}
  model.hidden: {layers: {depth: {int: [1, 2]}, width: {choice: [4, 8]}}}
overrides:
  data.n_samples: 100
  trainer.max_epochs: 3
"""


def write(tmp_path: Path, text: str = TINY, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(study_dir: Path, name: str, storage: str | None = None):
    return optuna.load_study(study_name=name, storage=storage or f"sqlite:///{study_dir / 'study.db'}")


def states(study) -> list[str]:
    return [t.state.name for t in study.trials]


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- the search space, checked before any trial ----------------------------------------------------


@pytest.mark.parametrize(
    "space, message",
    [
        ({"metric": "val_acc", "space": {"optimizer.lr": {"flaot": [0.1, 1]}}}, "give exactly one of float, int"),
        ({"metric": "val_acc", "space": {"optimizer.lr": {"float": [0.1, 0.01]}}}, "empty range [0.1, 0.01]"),
        ({"metric": "val_acc", "space": {"optimizer.lr": {"float": [0, 0.1], "log": True}}}, "must start above 0"),
        ({"metric": "val_acc", "space": {"model.hidden": {"choice": []}}}, "non-empty list"),
        ({"metric": "val_acc", "space": {"model.dropout": {"float": [0, 0.5], "spep": 0.1}}}, "unknown setting 'spep'"),
        ({"metric": "train_acc", "space": {"model.dropout": {"float": [0, 0.5]}}}, "not a validation metric"),
        ({"metric": "val_acc", "spaces": {}}, "unknown key 'spaces'"),
        ({"metric": "val_acc", "space": {"dropout": {"float": [0, 0.5]}}}, "should be section.key"),
        (
            {
                "metric": "val_acc",
                "space": {"model.hidden": {"layers": {"depth": {"int": [0, 2]}, "width": {"choice": [4]}}}},
            },
            "positive whole numbers",
        ),
    ],
)
def test_space_mistakes_are_one_line(space, message):
    with pytest.raises(UsageError) as err:
        parse_space(space, "s.yaml")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("s.yaml: ")


def test_every_searched_key_is_checked_against_the_recipe(tmp_path):
    mistyped = write(tmp_path, TINY.replace("model.hidden: {layers", "model.hiden: {layers"))
    with pytest.raises(UsageError, match=r"space.yaml: model\.hiden: .*did you mean model\.hidden\?"):
        prepare("mlp", mistyped)
    # A value of a type the option does not take: the range's ends and every choice are tried.
    bad_value = write(
        tmp_path,
        TINY.replace("optimizer.lr: {float: [1.0e-3, 1.0e-1], log: true}", "data.batch_size: {float: [16, 64]}"),
    )
    with pytest.raises(UsageError, match=r"data\.batch_size = 16\.0: .*batch_size expects int"):
        prepare("mlp", bad_value)
    choices = write(
        tmp_path,
        TINY.replace("optimizer.lr: {float: [1.0e-3, 1.0e-1], log: true}", "model.activation: {choice: [relu, tahn]}"),
    )
    with pytest.raises(UsageError, match=r"model\.activation = 'tahn'"):
        prepare("mlp", choices)
    with pytest.raises(UsageError, match="searched .* and also set in overrides"):
        prepare("mlp", write(tmp_path), overrides=["--optimizer.lr", "0.1"])
    with pytest.raises(UsageError, match="continuous range"):
        prepare("mlp", write(tmp_path), sampler="grid")


def test_command_line_mistakes_exit_2_in_one_line(tmp_path, capsys):
    from zoo.tune import main

    space = write(tmp_path, TINY.replace("model.hidden: {layers", "model.hiden: {layers"))
    assert main(["mlp", "--search", str(space), "--dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo.tune: error: ") and "model.hiden" in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()  # nothing started
    assert main(["mlp", "--search", "no_such_space"]) == 2
    assert "shipped: capacity_spiral" in capsys.readouterr().err
    assert main(["mlp", "--search", str(write(tmp_path)), "--timeout", "soon"]) == 2
    assert "--timeout 'soon'" in capsys.readouterr().err
    assert main(["mlp", "--search", str(write(tmp_path)), "--pruner", "mediam"]) == 2
    assert "valid: median, hyperband, asha, none" in capsys.readouterr().err


PROBE = """
import sys, zoo.tune
code = zoo.tune.main(sys.argv[1:])
print("exit", code, "torch imported:", "torch" in sys.modules, "optuna imported:", "optuna" in sys.modules)
"""


@pytest.mark.parametrize(
    "mistake",
    [
        ["--search", "SPACE", "--optimizer.lr", "fast"],
        ["--search", "SPACE", "--pruner", "mediam"],
        ["--search", "SPACE", "--timeout", "soon"],
        ["--search", "SPACE", "--workers", "0"],
        ["--search", "MISTYPED"],
        ["--search", "no_such_space"],
    ],
)
def test_usage_errors_answer_before_torch_and_optuna_are_imported(tmp_path, mistake):
    """As zoo.train's: a mistake in the options, the space or the command is found from the recipes'
    schema, in well under 2 s, not after the ~10 s that importing torch and Lightning takes here."""
    space = write(tmp_path)
    mistyped = write(tmp_path, TINY.replace("model.hidden: {layers", "model.hiden: {layers"), "mistyped.yaml")
    args = ["mlp", *[{"SPACE": str(space), "MISTYPED": str(mistyped)}.get(a, a) for a in mistake]]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=tmp_path, env=checkout_env(), capture_output=True, text=True
    )
    assert result.stdout.splitlines()[-1] == "exit 2 torch imported: False optuna imported: False", result.stderr
    assert result.stderr.startswith("zoo.tune: error: ") and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize(
    "storage, message",
    [
        ("postgresql+psycopg://zoo:secret@127.0.0.1:{port}/optuna", "cannot reach the database: connection failed"),
        ("mysql://zoo:secret@127.0.0.1:{port}/optuna", "database driver is not installed (No module named 'MySQLdb')"),
        ("foo://x", "unknown database type"),
    ],
)
def test_storage_that_cannot_be_used_is_one_line(tmp_path, capsys, storage, message):
    from zoo.tune import main

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(
        ["mlp", "--search", str(write(tmp_path)), "--storage", storage.format(port=port), "--dir", str(tmp_path / "s")]
    )
    err = capsys.readouterr().err
    assert code in (1, 2) and err.count("\n") == 1 and message in err, err
    assert "secret" not in err  # the password is not printed


def test_a_trial_that_ends_while_a_worker_counts_is_counted_once():
    """Two workers, 4 trials: 3 done, the other worker's trial 3 running. Its trial ends while this
    worker counts; counted in neither tally, this worker started a fifth trial (CI, 2026-12-05)."""
    from optuna.trial import TrialState

    from zoo.search import finished_and_running

    study = optuna.create_study()
    for value in (0.1, 0.2, 0.3):
        study.add_trial(optuna.trial.create_trial(value=value))
    other = study.ask()
    reads = study.get_trials

    def other_worker_ends_its_trial_after_a_read(*args, **kwargs):
        trials = reads(*args, **kwargs)
        if other.number in [t.number for t in reads(states=(TrialState.RUNNING,))]:
            study.tell(other, 0.4)
        return trials

    study.get_trials = other_worker_ends_its_trial_after_a_read
    done, running = finished_and_running(study)
    assert (done, [t.number for t in running]) in ((3, [3]), (4, []))
    assert reads(states=(TrialState.COMPLETE,))[-1].number == 3  # (it did end in between)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::optuna.exceptions.ExperimentalWarning")
def test_a_trial_whose_heartbeat_stopped_is_failed_and_its_options_queued_again(tmp_path, monkeypatch):
    """Another machine died in the middle of a trial: no process here knows its pid, so Optuna's
    heartbeat finds it (a database storage), and zoo's callback queues the same options again once."""
    import zoo.search

    monkeypatch.setattr(zoo.search, "HEARTBEAT", (1, 2))  # (seconds: beat, and how long a silence is death)
    search = prepare("mlp", write(tmp_path), storage=str(tmp_path / "study.db"), study_dir=tmp_path / "s")
    study = zoo.search.open_study(search, create=True)
    dead = study.ask()
    search.space.draw(dead)
    study._storage.record_heartbeat(dead._trial_id)  # (what optimize does while a trial runs)
    time.sleep(3.5)
    assert optuna.storages.fail_stale_trials(study) is None
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].params == {} and trials[1].system_attrs["fixed_params"] == trials[0].params
    assert trials[1].user_attrs == {"retry_of": 0, "retries": 1}
    # Its retry dies too: with --retries 1 (the default) it is not queued a third time.
    retry = study.ask()
    study._storage.record_heartbeat(retry._trial_id)
    time.sleep(3.5)
    optuna.storages.fail_stale_trials(study)
    assert [t.state.name for t in study.get_trials()] == ["FAIL", "FAIL"]


def test_shipped_spaces_parse_and_name_real_options():
    from zoo.search import list_spaces

    assert {"capacity_spiral", "playground_spiral", "mlp_fashion_mnist", "lenet_fashion_mnist"} <= set(list_spaces())
    for name in list_spaces():
        space = load_space(name)
        model = "lenet" if name.startswith("lenet") else "mlp"
        search = prepare(model, space)  # every key against the recipe (the data is not loaded)
        assert search.direction == "maximize" and search.space.metric == "val_acc"


def test_search_spaces_are_not_recipes():
    import zoo

    assert not any("spiral" in name or "search" in name for name in zoo.list_recipes())


def test_layers_and_list_choices_become_zoo_options():
    space = parse_space(
        {
            "metric": "val_acc",
            "space": {
                "model.hidden": {"layers": {"depth": {"int": [1, 3]}, "width": {"choice": [4, 16]}}},
                "model.activation": {"choice": ["relu", "tanh"]},
                "data.batch_size": {"int": [16, 64], "step": 16},
            },
        }
    )
    trial = optuna.trial.FixedTrial(
        {"model.hidden.depth": 3, "model.hidden.width": 16, "model.activation": "tanh", "data.batch_size": 48}
    )
    assert space.draw(trial) == {"model.hidden": [16, 16, 16], "model.activation": "tanh", "data.batch_size": 48}
    assert space.grid() == {
        "model.hidden.depth": [1, 2, 3],
        "model.hidden.width": [4, 16],
        "model.activation": ["relu", "tanh"],
        "data.batch_size": [16, 32, 48, 64],
    }
    # Optuna's choices are scalars: lists go in as JSON and come out as lists.
    lists = Option("model.hidden", "choice", values=[[8], [32, 32]])
    assert lists.choices() == ["[8]", "[32, 32]"]
    assert lists.draw(optuna.trial.FixedTrial({"model.hidden": "[32, 32]"})) == [32, 32]


# --- the verdict -------------------------------------------------------------------------------------


def curves(train_acc, val_acc, train_loss=None, val_loss=None):
    n = len(train_acc)
    train_loss = train_loss or [1.0 - a for a in train_acc]
    val_loss = val_loss or [1.0 - a for a in val_acc]
    return [
        {
            "epoch": e,
            "train_acc": train_acc[e],
            "val_acc": val_acc[e],
            "train_loss": train_loss[e],
            "val_loss": val_loss[e],
        }
        for e in range(n)
    ]


def test_verdict_rule():
    best = curves([0.7, 0.9, 0.95], [0.7, 0.88, 0.93])
    assert judge(best, best, "acc", "max") == "fine"
    # Validation 0.06 behind training at the end: over-fitting (the margin is 0.05).
    assert judge(curves([0.7, 0.9, 0.99], [0.7, 0.9, 0.93]), best, "acc", "max") == "over-fitting"
    assert judge(curves([0.7, 0.9, 0.97], [0.7, 0.9, 0.93]), best, "acc", "max") == "fine"
    # Validation loss 0.4 -> 0.5 (more than 10% up from its lowest) while training loss kept falling.
    rising = curves([0.7, 0.8, 0.82], [0.7, 0.79, 0.8], [0.6, 0.4, 0.3], [0.6, 0.4, 0.5])
    assert judge(rising, rising, "acc", "max") == "over-fitting"
    # Training accuracy 0.89 where the best trial reached 0.95: under-fitting.
    assert judge(curves([0.6, 0.8, 0.89], [0.6, 0.8, 0.88]), best, "acc", "max") == "under-fitting"
    # A trial pruned after epoch 2 is compared with the best trial at epoch 2 (0.9), not at its end.
    assert judge(curves([0.7, 0.86], [0.7, 0.85]), best, "acc", "max") == "fine"
    assert judge(curves([0.5, 0.6], [0.5, 0.6]), best, "acc", "max") == "under-fitting"
    # A loss (lower is better): 10% of the training figure.
    loss_best = [{"train_loss": 0.5, "val_loss": 0.52}]
    assert judge([{"train_loss": 0.5, "val_loss": 0.6}], loss_best, "loss", "min") == "over-fitting"
    assert judge([{"train_loss": 0.6, "val_loss": 0.62}], loss_best, "loss", "min") == "under-fitting"
    assert judge([], best, "acc", "max") == ""


def test_verdicts_hold_in_absolute_terms():
    """Issue 32: near-zero losses made the relative rule call an over-fitting trial under-fitting, and
    trials near chance were all "fine" when the best trial was near chance too."""
    # Training loss 0.026, validation loss 0.196 (7.5 times as much): over-fitting, although the best
    # trial's training loss (0.002) is far below 0.026.
    overfit = [{"epoch": 0, "train_loss": 0.2, "val_loss": 0.25}, {"epoch": 1, "train_loss": 0.026, "val_loss": 0.196}]
    best = [{"epoch": 0, "train_loss": 0.1, "val_loss": 0.2}, {"epoch": 1, "train_loss": 0.002, "val_loss": 0.15}]
    assert judge(overfit, best, "loss", "min") == "over-fitting"
    # Near zero, 10% is nothing: losses of 0.001 and 0.004, or 0.004 where the best trial got 0.001, are fine.
    tiny = [{"epoch": 0, "train_loss": 0.001, "val_loss": 0.004}]
    assert judge(tiny, tiny, "loss", "min") == "fine"
    assert judge([{"epoch": 0, "train_loss": 0.004, "val_loss": 0.006}], tiny, "loss", "min") == "fine"

    # Four trials near chance on two classes (training accuracy 0.57-0.61), the best of them included:
    # under-fitting, whatever the best trial did and whatever validation did.
    near_chance = [
        curves([0.52, 0.57], [0.5, 0.55]),
        curves([0.55, 0.58], [0.6, 0.62]),
        curves([0.56, 0.60], [0.5, 0.50]),  # (validation 0.10 behind: noise, not over-fitting)
        curves([0.58, 0.61], [0.6, 0.59]),
    ]
    for trial in near_chance:
        assert judge(trial, near_chance[1], "acc", "max", chance=0.5) == "under-fitting"
    # Chance is the commonest class's share: 0.70 is near it when 63% of the rows are one class ...
    assert judge(curves([0.6, 0.70], [0.6, 0.69]), curves([0.6, 0.70], [0.6, 0.69]), "acc", "max", chance=0.63) == (
        "under-fitting"
    )
    # ... and not with ten even classes.
    assert judge(curves([0.6, 0.70], [0.6, 0.69]), curves([0.6, 0.70], [0.6, 0.69]), "acc", "max", chance=0.1) == (
        "fine"
    )
    # The accuracy decides it even when the search ranks trials by their loss.
    ranked_by_loss = curves([0.55, 0.6], [0.55, 0.6])
    assert judge(ranked_by_loss, ranked_by_loss, "loss", "min", chance=0.5) == "under-fitting"

    # A large gap is over-fitting whatever the best trial did: training 0.62 where the best reached
    # 0.95 at that epoch, validation 0.10 behind it (with ten classes: far from chance).
    assert judge(curves([0.6, 0.6, 0.62], [0.5, 0.5, 0.52]), best_acc(), "acc", "max", chance=0.1) == "over-fitting"
    # On two classes the same training accuracy is near chance: under-fitting.
    assert judge(curves([0.6, 0.6, 0.62], [0.5, 0.5, 0.52]), best_acc(), "acc", "max", chance=0.5) == "under-fitting"


def test_chance_is_the_commonest_class_share_of_the_training_data():
    from types import SimpleNamespace

    import torch

    from zoo.data.base import TensorBatches
    from zoo.search import chance_level

    def chance(module, train_set=None):
        level = chance_level()
        level.on_fit_start(SimpleNamespace(datamodule=SimpleNamespace(train_set=train_set)), module)
        return level.chance

    labels = torch.tensor([0, 0, 2, 0, 1, 0, 2, 0])  # 5 of 8 in class 0
    assert chance(SimpleNamespace(num_classes=3), TensorBatches(torch.zeros(8, 2), labels)) == 5 / 8
    assert chance(SimpleNamespace(num_classes=4)) == 1 / 4  # (data it cannot read: even classes)
    assert chance(SimpleNamespace(), TensorBatches(torch.zeros(8, 2), labels.float())) is None  # (no classes)


def best_acc():
    return curves([0.7, 0.9, 0.95], [0.7, 0.88, 0.93])


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_the_verdict_is_decided_when_the_trial_ends_so_its_progress_line_and_the_table_agree(tmp_path):
    """A trial's verdict is decided once, as it ends, against the best trial so far; trials.csv shows
    that one, not one against a better trial that came later (issue 32: a trial's line said
    over-fitting, the table under-fitting)."""
    from zoo.search import progress_line, report_rows, verdict_at_end

    search = prepare("mlp", write(tmp_path), study_dir=tmp_path / "s")
    study = optuna.create_study(direction="maximize")
    first = curves([0.7, 0.86, 0.9], [0.7, 0.85, 0.87])  # the best when it ends: fine
    later = curves([0.8, 0.95, 0.99], [0.8, 0.93, 0.95])  # better; its training 0.09 ahead of the first's
    lines = []
    for value, trial_curves in ((0.87, first), (0.95, later)):
        verdict = verdict_at_end(study, search, trial_curves, value, chance=0.5)
        attrs = {"curves": trial_curves, "verdict": verdict, "options": {"optimizer.lr": 0.01, "model.hidden": [4]}}
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs=attrs))
        row = report_rows(study, search)[-1]
        lines.append(progress_line(row, study, search, len(study.trials)))
    table = report_rows(study, search)
    assert [row["verdict"] for row in table] == ["fine", "fine"]
    assert [line.split("  ")[5] for line in lines] == ["fine", "fine"]  # (after the trial, value, best, train, gap)
    # Against the later, better trial the first would be under-fitting (0.9 where it reached 0.99).
    assert judge(first, later, "acc", "max", chance=0.5) == "under-fitting"


# --- the decision boundary at the best and at the last epoch -------------------------------------


def test_decision_boundary_shows_best_and_last_epoch_when_they_differ(tmp_path):
    import matplotlib.image

    import zoo

    base = {"data.n_samples": 100, "trainer.max_epochs": 3, "model.hidden": [8]}
    # The cosine schedule's learning rate is highest after the first epoch: "best" by lr, mode max,
    # is the first epoch and the last is the third, counted from 0 as metrics.csv and the curves count
    # them (epochs 0 and 2); by lr, mode min, the best is the last.
    early = zoo.fit(
        "mlp", overrides={**base, "early_stopping.monitor": "lr", "early_stopping.mode": "max"}, run_dir=tmp_path / "a"
    )
    late = zoo.fit(
        "mlp", overrides={**base, "early_stopping.monitor": "lr", "early_stopping.mode": "min"}, run_dir=tmp_path / "b"
    )
    data, _ = zoo.build("mlp", config=early.config)
    points = data.train_set.tensors, data.test_set.tensors
    panels = early.task.boundary_panels(early.run_dir, *points)
    assert [title.split(":")[0] for title, _ in panels] == ["epoch 0 (best lr)", "epoch 2 (last)"]
    assert callable(late.task.boundary_panels(late.run_dir, *points))  # one picture, the tested weights
    two = matplotlib.image.imread(early.run_dir / "decision_boundary.png").shape
    one = matplotlib.image.imread(late.run_dir / "decision_boundary.png").shape
    assert two[1] > 1.7 * one[1] and abs(two[0] - one[0]) < 0.15 * one[0]


# --- the pruning callback --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kind",
    [
        ("median", "MedianPruner"),
        ("hyperband", "HyperbandPruner"),
        ("asha", "SuccessiveHalvingPruner"),
        ("none", "NopPruner"),
    ],
)
def test_each_pruner_is_optunas_and_successive_halving_compares_trials_after_their_first_epoch(tmp_path, name, kind):
    """``--pruner asha``: a trial behind the one before it at epoch 1 stops there (the best third goes
    on; the first trials go on only while they are the best so far)."""
    search = prepare("mlp", write(tmp_path), pruner=name, overrides={"trainer.max_epochs": 9}, study_dir=tmp_path)
    pruner = make_pruner(search)
    assert type(pruner).__name__ == kind
    if name != "asha":
        return
    study = optuna.create_study(direction="maximize", pruner=pruner)
    stopped = []
    for value in (0.6, 0.5, 0.7):
        trial = study.ask()
        trial.report(value, 1)
        stopped.append(trial.should_prune())
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert stopped == [False, True, False]


@pytest.mark.parametrize("earlier_best", [1.0, 0.0])
def test_pruning_reports_each_validation_as_its_epoch_and_stops_a_trial_that_is_behind(tmp_path, earlier_best):
    """Steps count validations from 1 (a pruner's resources read as epochs, and the steps line up with
    an earlier trial's): behind the earlier trial's 1.0 at step 1, the median pruner stops the run
    after its first epoch; ahead of 0.0, it runs all three."""
    import zoo
    from zoo.callbacks import OptunaPruning

    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    )
    study.add_trial(
        optuna.trial.create_trial(
            value=earlier_best, intermediate_values={1: earlier_best, 2: earlier_best, 3: earlier_best}
        )
    )
    trial = study.ask()
    overrides = {"data.n_samples": 100, "trainer.max_epochs": 3, "model.hidden": [8]}
    pruned = False
    try:
        zoo.fit("mlp", overrides=overrides, callbacks=[OptunaPruning(trial, "val_acc")], run_dir=tmp_path, quiet=True)
    except optuna.TrialPruned as err:
        pruned = str(err) == "pruned at epoch 1"
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    reported = study.trials[-1].intermediate_values
    assert pruned is (earlier_best == 1.0)
    assert sorted(reported) == ([1] if pruned else [1, 2, 3])
    assert all(0.0 < value < 1.0 for value in reported.values())


def test_a_trial_pruned_at_its_first_validation_still_shows_its_validation_figure(tmp_path):
    from zoo.search import report_rows

    search = prepare("mlp", write(tmp_path), study_dir=tmp_path / "s")
    study = optuna.create_study(direction="maximize")
    curves = [{"epoch": 0, "step": 10, "val_loss": 0.9, "val_acc": 0.61}]  # (no train_ figures yet)
    attrs = {"curves": curves, "epochs": 1, "options": {"optimizer.lr": 0.01, "model.hidden": [4]}}
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, user_attrs=attrs))
    (row,) = report_rows(study, search)
    assert (row["state"], row["pruned_at"], row["val_acc"], row["train_acc"], row["gap"]) == (
        "pruned",
        1,
        0.61,
        None,
        None,
    )


def finished_trial(value: float, options: dict, curves_: list) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(value=value, user_attrs={"options": options, "curves": curves_, "verdict": "fine"})


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_the_summary_and_best_yaml_write_unicode_as_text_and_best_yaml_warns_of_imports(tmp_path, capsys):
    """Issue 32: ``\\u00b5m`` in the JSON summary and best.yaml; issue 34: a recipe's ``imports:`` run
    code when it is loaded, which best.yaml's header says where recipes are shared. (A study whose
    trials are all done: the command writes its report and summary without training.)"""
    import zoo.search
    from zoo.tune import main

    (tmp_path / "mine.py").write_text("# registers nothing\n")
    data = ["--data.name", "csv", "--data.target", "taille_µm", "--data.path", str(tmp_path / "mesures_µm.csv")]
    imports = [str(tmp_path / "mine.py")]
    search = prepare("mlp", write(tmp_path), overrides=data, imports=imports, study_dir=tmp_path / "étude")
    study = zoo.search.open_study(search, create=True)
    study.add_trial(finished_trial(0.8, {"optimizer.lr": 0.01, "model.hidden": [4]}, curves([0.7, 0.8], [0.7, 0.8])))
    capsys.readouterr()
    args = ["--search", str(write(tmp_path)), "--n_trials", "1", "--dir", str(tmp_path / "étude"), *data]
    assert main(["mlp", *args, "--import", imports[0]]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "\\u" not in out and summary_of(out)["study_dir"] == str(tmp_path / "étude")
    best = (tmp_path / "étude" / "best.yaml").read_text(encoding="utf-8")
    assert "target: taille_µm" in best and "mesures_µm.csv" in best and "\\x" not in best
    header = [line for line in best.splitlines() if line.startswith("#")]
    assert any("imports" in line and "runs" in line for line in header), header
    assert any("mine.py" in line for line in header) and any("--print_config" in line for line in header), header


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_study_left_short_by_a_trial_it_cannot_watch_is_not_reported_done(tmp_path):
    """Issue 34: a trial left running on another machine counted as if it would finish, and the
    command said done with exit 0. On a journal file (no heartbeat) nothing here can tell whether that
    process is alive: the command ends with exit 1 and says which trial it is and where."""
    import zoo.search
    from zoo.errors import ZooError

    search = prepare(
        "mlp", write(tmp_path), n_trials=1, storage=str(tmp_path / "shared.log"), study_dir=tmp_path / "s", echo=False
    )
    study = zoo.search.open_study(search, create=True)
    elsewhere = study.ask()
    elsewhere.set_user_attr("worker", "othermachine:4242:0")
    with pytest.raises(ZooError) as err:
        zoo.search.tune(search)
    message = str(err.value)
    assert err.value.exit_code == 1 and "\n" not in message
    assert message.startswith("the study holds 0 of 1 trials") and "trial 0" in message and "othermachine" in message
    assert "no heartbeat" in message


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::optuna.exceptions.ExperimentalWarning")
def test_a_trial_of_a_machine_that_died_runs_again_here_and_the_study_finishes(tmp_path, monkeypatch):
    """Issue 34: a trial left running by a machine that died (its heartbeat stops; here 2 s after the
    command starts) counted as if it would finish, so the command finished 2 of 3 trials and said
    done. The command waits for it, fails it when its heartbeat is stale, runs it again, and ends with
    the study's 3 trials."""
    import zoo.search

    monkeypatch.setattr(zoo.search, "HEARTBEAT", (1, 2))  # (seconds: beat, and how long a silence is death)
    search = prepare(
        "mlp", write(tmp_path), n_trials=3, sampler="random", pruner="none", study_dir=tmp_path / "s", echo=False
    )
    study = zoo.search.open_study(search, create=True)
    dead = study.ask()
    search.space.draw(dead)
    dead.set_user_attr("worker", "othermachine:4242:0")
    study._storage.record_heartbeat(dead._trial_id)  # its last beat
    summary = zoo.search.tune(search)
    assert summary["finished"] == 3
    trials = load(tmp_path / "s", "mlp-space").trials
    assert trials[0].state.name == "FAIL"
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == 0]
    assert retry.params == trials[0].params and retry.state.name in ("COMPLETE", "PRUNED")
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 3


# --- whole studies (slow: each starts the command) -----------------------------------------------


def tune(tmp_path: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_command(["zoo.tune", "mlp", *args], tmp_path, timeout)


@pytest.mark.slow
def test_study_report_replay_and_continue(tmp_path):
    space = write(tmp_path)
    done = tune(tmp_path, "--search", str(space), "--n_trials", "3", "--sampler", "random")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("study mlp-space in sqlite:///") and "0 of 3 trials done, 3 to run" in lines[0]
    assert [line.split(" trial ")[0] for line in lines[1:4]] == ["[1/3]", "[2/3]", "[3/3]"]
    summary = summary_of(done.stdout)
    study_dir = tmp_path / "studies" / "mlp-space"
    assert summary["study_dir"] == str(study_dir) and summary["finished"] == 3 == summary["complete"]
    for picture in ("history.png", "importances.png", "best_vs_worst.png"):
        assert (study_dir / picture).stat().st_size > 10_000, picture
    table = rows(study_dir / "trials.csv")
    # Accuracy against capacity, when the trials' networks have at least 3 sizes.
    assert (study_dir / "capacity.png").is_file() == (len({r["weights"] for r in table}) >= 3)
    assert [r["number"] for r in table] == ["0", "1", "2"] and {r["state"] for r in table} == {"complete"}
    assert set(table[0]) >= {
        "verdict",
        "value",
        "optimizer.lr",
        "model.hidden",
        "train_acc",
        "val_acc",
        "gap",
        "duration_s",
    }
    for r in table:
        assert r["verdict"] in ("fine", "under-fitting", "over-fitting")
        assert abs(float(r["gap"]) - (float(r["train_acc"]) - float(r["val_acc"]))) < 1e-6
        assert (Path(r["run_dir"]) / "checkpoints" / "best.ckpt").is_file()  # each trial is a whole zoo run
        assert "test" not in json.loads((Path(r["run_dir"]) / "summary.json").read_text())  # (left for the replay)

    # best.yaml is the best trial's recipe: zoo.train replays it to the same validation accuracy.
    best = summary["best"]
    replay = run_command(["zoo.train", "mlp", "--config", str(study_dir / "best.yaml")], tmp_path)
    assert replay.returncode == 0, replay.stderr
    assert summary_of(replay.stdout)["val"]["acc"] == pytest.approx(best["value"], abs=1e-6)

    # The same command with a larger n_trials continues the study; other settings are refused.
    more = tune(tmp_path, "--search", str(space), "--n_trials", "4", "--sampler", "random")
    assert more.returncode == 0, more.stderr
    assert "3 of 4 trials done, 1 to run" in more.stdout.splitlines()[0]
    study = load(study_dir, "mlp-space")
    assert states(study) == ["COMPLETE"] * 4
    assert [t.params for t in study.trials[:3]] == [t.params for t in load(study_dir, "mlp-space").trials[:3]]
    other = tune(tmp_path, "--search", str(space), "--n_trials", "5", "--data.noise", "0.2")
    assert other.returncode == 2 and "was started with other settings" in other.stderr
    assert other.stderr.count("\n") == 1 and len(load(study_dir, "mlp-space").trials) == 4


def wait_for(condition, timeout: float = 300, every: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def running_trial_with_a_checkpoint(study_dir: Path, name: str):
    """A running trial that has finished an epoch (so it has last.ckpt), as (trial, pid), or None."""
    if not list(study_dir.glob("trial-*/checkpoints/last.ckpt")):
        return None  # (and the command has made its study: opening it now does not race with that)
    trials = load(study_dir, name).get_trials(states=(optuna.trial.TrialState.RUNNING,))
    for trial in trials:
        run_dir, worker = trial.user_attrs.get("run_dir"), trial.user_attrs.get("worker")
        if run_dir and worker and (Path(run_dir) / "checkpoints" / "last.ckpt").is_file():
            return trial, int(worker.split(":")[1])
    return None


LONGER = TINY.replace("trainer.max_epochs: 3", "trainer.max_epochs: 40")


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_made_up_for_by_the_other_and_the_study_finishes(tmp_path):
    """Issue 34: with one of two workers killed, the other ran the killed trial's retry but not the
    rest of the dead worker's share (2 of 5 trials, exit 1). Now the other takes over: the study ends
    with its trials, the killed one's retry going on from its checkpoint, and the command exits 0."""
    space = write(tmp_path, LONGER)
    study_dir = tmp_path / "studies" / "mlp-space"
    command = [sys.executable, "-m", "zoo.tune", "mlp", "--search", str(space), "--n_trials", "5", "--workers", "2"]
    command += ["--sampler", "random", "--pruner", "none"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=checkout_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        victim, pid = wait_for(lambda: running_trial_with_a_checkpoint(study_dir, "mlp-space"))
        os.kill(pid, signal.SIGKILL)
        out, err = process.communicate(timeout=600)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert f"was killed by SIGKILL; its trial {victim.number} failed and is queued to run again" in err
    assert summary_of(out)["finished"] == 5
    study = load(study_dir, "mlp-space")
    assert sorted(states(study)) == ["COMPLETE"] * 5 + ["FAIL"]
    assert study.trials[victim.number].state.name == "FAIL"
    (retry,) = [t for t in study.trials if t.user_attrs.get("retry_of") == victim.number]
    # The retry ran on this machine, so it went on from the killed trial's last checkpoint.
    assert retry.params == victim.params and retry.user_attrs["run_dir"] == victim.user_attrs["run_dir"]
    assert retry.state.name == "COMPLETE" and retry.user_attrs["epochs"] == 40
    # Both workers ran trials (the killed one until it was killed).
    assert len({t.user_attrs["worker"].split(":")[1] for t in study.trials}) == 2
    table = rows(study_dir / "trials.csv")
    assert table[victim.number]["state"] == "fail" and "killed" in table[victim.number]["note"]


def children(pid: int) -> set[int]:
    """The processes ``pid`` started (its workers, and multiprocessing's resource tracker)."""
    return {int(child) for path in Path(f"/proc/{pid}/task").glob("*/children") for child in path.read_text().split()}


@pytest.mark.slow
def test_killing_the_command_stops_its_workers(tmp_path):
    """Issue 34: a kill -9 of the command left its workers running their shares. Each worker now
    stops when its parent is gone, as after Ctrl-C: its trial stops after the step, failed and queued
    to run again."""
    from zoo.search import alive

    space = write(tmp_path, TINY.replace("trainer.max_epochs: 3", "trainer.max_epochs: 300"))
    study_dir = tmp_path / "studies" / "mlp-space"
    command = [sys.executable, "-m", "zoo.tune", "mlp", "--search", str(space), "--n_trials", "4", "--workers", "2"]
    command += ["--sampler", "random", "--pruner", "none"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=checkout_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    workers: set[int] = set()
    try:
        victim, pid = wait_for(lambda: running_trial_with_a_checkpoint(study_dir, "mlp-space"))
        workers = children(process.pid)
        assert pid in workers
        process.kill()
        process.wait()
        wait_for(lambda: not any(alive(w) for w in workers), timeout=120)
    finally:
        process.kill()
        for worker in workers:
            if alive(worker):
                os.kill(worker, signal.SIGKILL)
    study = load(study_dir, "mlp-space")
    # They stopped: they did not go on to finish the study (300 epochs a trial).
    assert sum(t.state.name == "COMPLETE" for t in study.trials) < 4
    stopped = study.trials[victim.number]
    assert stopped.state.name == "FAIL" and stopped.user_attrs["note"] == "interrupted by SIGTERM"
    assert [t.state.name for t in study.trials if t.user_attrs.get("retry_of") == victim.number] == ["WAITING"]


@pytest.mark.slow
def test_ctrl_c_stops_after_the_step_and_the_study_goes_on(tmp_path):
    space = write(tmp_path, LONGER)
    study_dir = tmp_path / "studies" / "mlp-space"
    command = [sys.executable, "-m", "zoo.tune", "mlp", "--search", str(space), "--n_trials", "2", "--pruner", "none"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=checkout_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        victim, _ = wait_for(lambda: running_trial_with_a_checkpoint(study_dir, "mlp-space"))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("zoo.tune: error: interrupted by SIGINT: 0 of 2 trials done") or "1 of 2" in last, err
    assert "the same command run again goes on" in last and "Traceback" not in err
    study = load(study_dir, "mlp-space")
    assert "RUNNING" not in states(study)  # consistent: nothing is left running
    stopped = study.trials[victim.number]
    assert stopped.state.name == "FAIL" and stopped.user_attrs["note"] == "interrupted by SIGINT"
    assert (Path(stopped.user_attrs["run_dir"]) / "checkpoints" / "last.ckpt").is_file()
    assert rows(study_dir / "trials.csv")[victim.number]["note"] == "interrupted by SIGINT"

    again = tune(tmp_path, "--search", str(space), "--n_trials", "2", "--pruner", "none")
    assert again.returncode == 0, again.stderr
    study = load(study_dir, "mlp-space")
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == victim.number)
    assert retry.state.name == "COMPLETE" and retry.params == stopped.params
    assert retry.user_attrs["run_dir"] == stopped.user_attrs["run_dir"] and retry.user_attrs["epochs"] == 40
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 2


GRID = """\
metric: val_acc
space:
  optimizer.lr: {choice: [0.01, 0.1]}
  model.hidden: {choice: [[4], [8, 8]]}
overrides:
  data.n_samples: 100
  trainer.max_epochs: 3
"""


@pytest.mark.slow
def test_two_workers_on_a_journal_file_run_each_grid_point_once(tmp_path):
    journal = tmp_path / "shared.log"
    command = ["--search", str(write(tmp_path, GRID)), "--sampler", "grid", "--workers", "2", "--storage", str(journal)]
    done = tune(tmp_path, *command, "--n_trials", "9")
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(
        study_name="mlp-space",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal))),
    )
    # A grid of 4 points: 4 trials (n_trials is capped at the grid's size), each point once.
    assert len(study.trials) == 4 and {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}
    assert sorted(str(sorted(t.params.items())) for t in study.trials) == sorted(
        str(sorted({"optimizer.lr": lr, "model.hidden": hidden}.items()))
        for lr in (0.01, 0.1)
        for hidden in ("[4]", "[8, 8]")
    )
    assert len({t.user_attrs["worker"].split(":")[1] for t in study.trials}) == 2  # both processes ran trials
    run_dirs = [t.user_attrs["run_dir"] for t in study.trials]
    assert len(set(run_dirs)) == 4 and all(Path(d, "metrics.csv").is_file() for d in run_dirs)


# --- PostgreSQL: a real server --------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL server on 127.0.0.1: the one .ci/run started (ZOO_TEST_POSTGRES), or else a
    throw-away one that .ci/postgres starts for this module from Debian's postgresql package."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg (pip install 'psycopg[binary]', in the test extra)")
    if os.environ.get("ZOO_TEST_POSTGRES"):
        yield os.environ["ZOO_TEST_POSTGRES"]
        return
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        missing("PostgreSQL's server (apt-get install postgresql)")
    script = Path(__file__).resolve().parent.parent / ".ci" / "postgres"
    started = subprocess.run([script, "start"], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    env = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines())
    try:
        yield env["ZOO_TEST_POSTGRES"]
    finally:
        subprocess.run([script, "stop", env["ZOO_TEST_POSTGRES_DIR"]], capture_output=True, timeout=120)


def missing(what: str) -> None:
    if ON_CI:
        pytest.fail(f"{what} is missing")
    pytest.skip(f"{what} is missing")


def unique_study(tmp_path: Path) -> str:
    """A study name of its own: the server may hold other tests' studies (and earlier runs')."""
    return f"pg-{os.getpid()}-{tmp_path.name}-{time.time_ns()}"


@pytest.mark.slow
def test_two_workers_share_a_study_in_postgresql(tmp_path, postgres_url):
    name = unique_study(tmp_path)
    command = ["--search", str(write(tmp_path)), "--n_trials", "4", "--workers", "2", "--storage", postgres_url]
    done = tune(tmp_path, *command, "--study", name)
    assert done.returncode == 0, done.stderr
    assert "in postgresql+psycopg://zoo:***@127.0.0.1" in done.stdout.splitlines()[0]
    study = optuna.load_study(study_name=name, storage=postgres_url)
    # Exactly 4 trials, split between the two processes, none run twice.
    trials = [(t.number, t.state.name, t.user_attrs.get("worker"), t.user_attrs.get("retry_of")) for t in study.trials]
    assert len(study.trials) == 4 and {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}, (
        trials,
        done.stdout,
    )
    assert len({t.user_attrs["worker"].split(":")[1] for t in study.trials}) == 2
    assert len({t.user_attrs["run_dir"] for t in study.trials}) == 4
    assert len(rows(tmp_path / "studies" / name / "trials.csv")) == 4


@pytest.mark.slow
def test_two_machines_run_the_same_command_on_one_postgresql_study(tmp_path, postgres_url):
    """Two separately started commands on one database, as two machines would: the second joins the
    study the first created, and together they finish it."""
    name = unique_study(tmp_path)
    space = write(tmp_path, TINY.replace("trainer.max_epochs: 3", "trainer.max_epochs: 10"))
    command = [sys.executable, "-m", "zoo.tune", "mlp", "--search", str(space), "--n_trials", "6"]
    command += ["--storage", postgres_url, "--study", name, "--pruner", "none"]
    machines = []
    # One storage for the polling below: a load_study on a URL opens a connection pool of its own, and
    # polling every 0.2 s for as long as a loaded machine takes to start used up the server's connections.
    storage = optuna.storages.RDBStorage(postgres_url)
    try:
        for k in range(2):
            cwd = tmp_path / f"machine-{k}"  # each with a study directory of its own, as on two machines
            cwd.mkdir()
            machines.append(
                subprocess.Popen(
                    command, cwd=cwd, env=checkout_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            )
            if k == 0:  # the second starts while the first is in the middle of its first trial
                wait_for(lambda: running_trials(storage, name), timeout=300)
                machines[0].send_signal(signal.SIGSTOP)  # and the first waits (not dead: alive, within
                # the heartbeat's 60 s) until the second has a trial of its own, however slowly it starts
        try:
            wait_for(lambda: running_trials(storage, name, pid=machines[1].pid), timeout=300)
        finally:
            machines[0].send_signal(signal.SIGCONT)
        outputs = [m.communicate(timeout=600) for m in machines]
    finally:
        for m in machines:
            m.kill()
        storage.engine.dispose()
    for m, (_, err) in zip(machines, outputs):
        assert m.returncode == 0, err
    study = optuna.load_study(study_name=name, storage=postgres_url)
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    # Each command checks the count before each trial: 6, or one more when both start their last at once.
    assert len(finished) == len(study.trials) and 6 <= len(study.trials) <= 7
    by_machine = [
        t.user_attrs["run_dir"].startswith(str(tmp_path / f"machine-{k}")) for t in study.trials for k in (0, 1)
    ]
    assert sum(by_machine[0::2]) >= 1 and sum(by_machine[1::2]) >= 1, "both machines ran trials"
    # Either machine writes the whole study's report from the database (every trial, not only its own).
    for k in range(2):
        assert len(rows(tmp_path / f"machine-{k}" / "studies" / name / "trials.csv")) >= 6


@pytest.mark.slow
def test_a_rerun_on_postgresql_runs_again_the_trial_of_a_machine_that_died(tmp_path, postgres_url):
    """Issue 34, as reported: a trial left running by a machine that died counted as if it would
    finish, so the same command run again finished 2 of 3 trials and exited 0. Its heartbeat is
    minutes old here: the command fails it, runs its options again, and finishes all 3."""
    import sqlalchemy

    import zoo.search

    name = unique_study(tmp_path)
    space = write(tmp_path)
    search = prepare("mlp", space, storage=postgres_url, study=name, study_dir=tmp_path / "setup")
    study = zoo.search.open_study(search, create=True)
    dead = study.ask()
    search.space.draw(dead)
    dead.set_user_attr("worker", "othermachine:4242:0")
    study._storage.record_heartbeat(dead._trial_id)
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as connection:  # the machine died ten minutes ago
        connection.execute(
            sqlalchemy.text(
                "UPDATE trial_heartbeats SET heartbeat = heartbeat - interval '10 minutes' WHERE trial_id = :id"
            ),
            {"id": dead._trial_id},
        )
    engine.dispose()

    done = tune(tmp_path, "--search", str(space), "--n_trials", "3", "--storage", postgres_url, "--study", name)
    assert done.returncode == 0, done.stderr
    assert "trial 0 was running in a process that is gone" in done.stdout, done.stdout
    assert summary_of(done.stdout)["finished"] == 3
    trials = optuna.load_study(study_name=name, storage=postgres_url).trials
    assert trials[0].state.name == "FAIL" and sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 3
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == 0]
    assert retry.params == trials[0].params and retry.state.name in ("COMPLETE", "PRUNED")


def running_trials(storage, name: str, pid: int | None = None) -> bool:
    """Whether a trial of the study is running (in process ``pid``, if given)."""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:  # not created yet
        return False
    running = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    return any(pid is None or f":{pid}:" in str(t.user_attrs.get("worker", "")) for t in running)
