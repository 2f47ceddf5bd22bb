"""Checkpoints from anywhere: zoo.load_checkpoint gives back a trained task or refuses the file in one
DataError naming it (truncated, garbled, wrong types, missing keys, weights that do not fit), never
another exception, and never builds the model a damaged file describes before checking it; stale
temporaries of a killed write are removed, a live process's are not."""

from __future__ import annotations

import copy
import os
import random
from pathlib import Path

import pytest
import torch

import zoo
from zoo.checkpoint import remove_stale_temporaries
from zoo.errors import DataError, UsageError
from zoo.pretrained import WEIGHTS_DIR

TINY = {"trainer.max_epochs": 1, "trainer.limit_train_batches": 2, "trainer.enable_model_summary": False}
SHIPPED_MLP = WEIGHTS_DIR / "mlp-fashion-mnist.ckpt"


@pytest.fixture(scope="module")
def run_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint as a training run writes it (optimizer state, loops, callbacks and all): an MLP on iris."""
    root = tmp_path_factory.mktemp("run")
    result = zoo.fit("mlp", overrides={**TINY, "data.name": "iris", "trainer.default_root_dir": str(root)}, quiet=True)
    return Path(result.checkpoint)


def saved(tmp_path: Path, checkpoint: dict, name: str = "damaged.ckpt") -> Path:
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path


def test_hyperparameters_that_are_not_a_mapping_are_refused_in_one_line(tmp_path):
    checkpoint = torch.load(SHIPPED_MLP, weights_only=True)
    for hparams in ([1, 2], "mlp", None, 3, {1: "mlp"}):
        path = saved(tmp_path, {**checkpoint, "hyper_parameters": hparams})
        with pytest.raises(DataError, match=r"damaged.ckpt is damaged: its hyperparameters are a \w+, not a mapping"):
            zoo.load_checkpoint(path)


def test_weights_that_do_not_fit_the_model_are_refused_naming_the_tensor(tmp_path):
    checkpoint = torch.load(SHIPPED_MLP, weights_only=True)
    state = checkpoint["state_dict"]
    cases = {
        "model.layers.1.weight is 1024x785 in the file, 1024x784 in that model": {
            "model.layers.1.weight": torch.zeros(1024, 785)
        },
        "model.layers.13.bias is a scalar in the file, 10 in that model": {"model.layers.13.bias": torch.tensor(0.0)},
    }
    for message, changed in cases.items():
        path = saved(tmp_path, {**checkpoint, "state_dict": {**state, **changed}})
        with pytest.raises(DataError, match=f"damaged.ckpt is damaged: its weights do not fit .*{message}"):
            zoo.load_checkpoint(path)
    renamed = {("model.layers.14.bias" if k == "model.layers.13.bias" else k): v for k, v in state.items()}
    with pytest.raises(
        DataError, match=r"not the model's \(missing: model.layers.13.bias; unexpected: model.layers.14"
    ):
        zoo.load_checkpoint(saved(tmp_path, {**checkpoint, "state_dict": renamed}))
    with pytest.raises(DataError, match="its state dict is not a mapping of names to tensors"):
        zoo.load_checkpoint(saved(tmp_path, {**checkpoint, "state_dict": {**state, "model.layers.1.bias": [0.0]}}))


def test_a_config_claiming_huge_layers_is_refused_before_that_model_is_built(tmp_path):
    """A million-wide hidden layer is 4 TB of weights: built for real, the loader would fail to allocate it
    (or take the machine's memory); the shapes are compared on the meta device instead, with no memory."""
    checkpoint = torch.load(SHIPPED_MLP, weights_only=True)
    hparams = copy.deepcopy(checkpoint["hyper_parameters"])
    hparams["model_kwargs"]["hidden"] = [2**20, 2**20, 256]
    path = saved(tmp_path, {**checkpoint, "hyper_parameters": hparams})
    with pytest.raises(
        DataError, match=r"model.layers.1.weight is 1024x784 in the file, 1048576x784 in that model; \d+ more"
    ):
        zoo.load_checkpoint(path)


def test_a_model_that_is_not_registered_says_how_to_import_it_in_the_readers_words(tmp_path):
    checkpoint = torch.load(SHIPPED_MLP, weights_only=True)
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    path = saved(
        run_dir / "checkpoints", {**checkpoint, "hyper_parameters": {**checkpoint["hyper_parameters"], "model": "mine"}}
    )
    with pytest.raises(
        UsageError,
        match=r"holds a 'mine' model, which is not registered here: import the module .* "
        r"or pass imports=\['my_models.py'\]",
    ):
        zoo.load_checkpoint(path)
    (run_dir / "config.yaml").write_text("imports:\n- my dir/$(touch x)/mine.py\n")
    with pytest.raises(UsageError, match=r"pass imports=\['my dir/\$\(touch x\)/mine.py'\], as the run was trained"):
        zoo.load_checkpoint(path)


# --- fuzz --------------------------------------------------------------------------------------
ODD_VALUES = [None, 0, -1, 2**40, 1.5, float("nan"), "x", "", [], {}, [1, "a"], {"a": 1}, True, torch.zeros(2)]


def places(value, depth: int = 0):
    """(container, key) of every value in the checkpoint's dicts and lists, three levels deep."""
    if depth > 3:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield value, key
        yield from places(child, depth + 1)


def copied(value):
    """The dicts and lists copied, the tensors shared (a mutation replaces a tensor, never changes one)."""
    if isinstance(value, dict):
        return {key: copied(child) for key, child in value.items()}
    return [copied(child) for child in value] if isinstance(value, list) else value


def mutated(checkpoint: dict, rng: random.Random) -> dict:
    """The checkpoint with one to three structural changes: a key deleted, a value swapped for another
    type, a tensor of another shape or dtype, a key renamed."""
    checkpoint = copied(checkpoint)
    for _ in range(rng.randint(1, 3)):
        container, key = rng.choice(list(places(checkpoint)))
        value, how = container[key], rng.choice(["delete", "swap", "tensor", "rename"])
        if how == "delete" and isinstance(container, dict):
            del container[key]
        elif how == "rename" and isinstance(container, dict):
            container[f"{key}x"] = container.pop(key)
        elif how == "tensor" and isinstance(value, torch.Tensor):
            container[key] = rng.choice(
                [value.flatten(), value.unsqueeze(0), torch.zeros(3, 3), value.to(torch.int64), value.bool()]
            )
        else:
            container[key] = rng.choice(ODD_VALUES)
    return checkpoint


def garbled(data: bytes, rng: random.Random) -> bytes:
    """The file's bytes truncated, with bits flipped, or with a span overwritten by random bytes."""
    data = bytearray(data)
    how = rng.choice(["truncate", "flip", "overwrite"])
    if how == "truncate":
        return bytes(data[: rng.randrange(len(data))])
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    start = rng.randrange(len(data))
    data[start : start + rng.randint(1, 64)] = rng.randbytes(rng.randint(1, 64))
    return bytes(data)


def outcome(path: Path) -> str:
    """'loaded', or 'refused' for one line naming the file; any other exception fails the test."""
    try:
        task = zoo.load_checkpoint(path)
    except DataError as err:
        message = str(err)
        assert str(path) in message and "\n" not in message, message
        return "refused"
    except UsageError as err:  # (a well-formed name of a model this process lacks: the reader imports it)
        assert "which is not registered here" in str(err), err
        return "refused"
    assert isinstance(task, torch.nn.Module) and not task.training
    return "loaded"


@pytest.mark.slow
@pytest.mark.parametrize("source", ["run", "lenet-fashion-mnist.ckpt", "lstm-tinyshakespeare.ckpt"])
@pytest.mark.xdist_group("loading")  # (one worker builds the module fixture once)
def test_every_damaged_checkpoint_loads_or_is_refused_in_one_line(tmp_path, run_checkpoint, source):
    original = run_checkpoint if source == "run" else WEIGHTS_DIR / source
    checkpoint, data = torch.load(original, weights_only=True), original.read_bytes()
    rng = random.Random(f"zoo-fuzz-{source}")
    counts = {"loaded": 0, "refused": 0}
    path = tmp_path / "fuzzed.ckpt"
    for case in range(100):
        if case % 2:
            path.write_bytes(garbled(data, rng))
        else:
            torch.save(mutated(checkpoint, rng), path)
        counts[outcome(path)] += 1
    assert counts["refused"] > 40 and counts["loaded"] > 5, counts  # (both outcomes happen: the fuzz bites)


# --- temporaries of killed writes -------------------------------------------------------------
def test_stale_temporaries_of_dead_processes_are_removed_and_live_ones_stay(tmp_path):
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)  # ended and reaped: a PID no process has now
    stale = tmp_path / f".last.ckpt.tmp-{child}"
    live_other = tmp_path / f".best.ckpt.tmp-{os.getppid()}"  # (pytest's parent: another live process)
    live_mine = tmp_path / f".config.yaml.tmp-{os.getpid()}"
    kept = [tmp_path / "last.ckpt", tmp_path / f"notes.tmp-{child}", tmp_path / f".x.tmp-{child}.bak"]
    (tmp_path / "checkpoints").mkdir()
    deeper = tmp_path / "checkpoints" / f".last.ckpt.tmp-{child}"  # (only the folder given is cleaned)
    for path in [stale, live_other, live_mine, *kept, deeper]:
        path.write_bytes(b"half a checkpoint")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and all(p.exists() for p in [live_other, live_mine, *kept, deeper])
    assert remove_stale_temporaries(tmp_path / "checkpoints") == [deeper]
    assert remove_stale_temporaries(tmp_path / "absent") == []


def test_a_killed_process_its_parent_has_not_reaped_yet_counts_as_dead(tmp_path):
    zombie = os.fork()
    if zombie == 0:
        os._exit(0)
    try:
        stat = Path(f"/proc/{zombie}/stat")
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":  # (until it has exited)
            os.sched_yield()
        stale = tmp_path / f".last.ckpt.tmp-{zombie}"
        stale.write_bytes(b"half a checkpoint")
        assert remove_stale_temporaries(tmp_path) == [stale]
    finally:
        os.waitpid(zombie, 0)
