"""``zoo.export_model`` and ``python -m zoo.export``: ONNX files run by onnxruntime and torch.export
programs reloaded from disk give what the trained PyTorch model gives, on real inputs, at batch sizes
1 and 7 (and two sequence lengths, with the state carried, for the LSTM); what they need to be used
(class names, vocabulary) travels inside them; bad input is one line.

The expected values are computed here from ``task.model`` and the training statistics, not by the
task's ``forward`` that the export wraps, so a normalisation left out of the graph would show."""

import json
import re
import shutil
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch

import zoo
from conftest import FASHION_MNIST, ROOT, require, run_command, run_python
from zoo.errors import UsageError
from zoo.export import main
from zoo.exporting import export_model

# Every test here reads the models the fixtures train and export once: keep them on one worker.
pytestmark = pytest.mark.xdist_group("export")

TINY = {"trainer.max_epochs": 1, "trainer.limit_train_batches": 3, "trainer.enable_model_summary": False}
TEXT = "Café au lait, naïve — déjà vu.\n" * 20 + ROOT.joinpath("README.md").read_text(encoding="utf-8")[:6000]


def trained(tmp_path_factory, model: str, overrides: dict):
    """(task, test inputs as the data gives them, run directory) after a tiny zoo.fit run."""
    run_dir = tmp_path_factory.mktemp(model) / "run"
    overrides = {**TINY, **overrides}
    result = zoo.fit(model, overrides=overrides, run_dir=run_dir, quiet=True)
    data, _ = zoo.build(model, overrides=overrides)
    return result.task, data, run_dir


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    task, data, run_dir = trained(tmp_path_factory, "lenet", {"data.name": "digits"})
    images = data.test_set.tensors[0][:7]  # real digits, uint8 (7, 1, 28, 28) as the model trained on
    return task, images, run_dir


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    # A table (wine: 13 features of very different scales), batch norm and dropout, which export folds
    # into the linear layers and removes.
    overrides = {"data.name": "wine", "model.hidden": [16, 8], "model.batch_norm": True, "model.dropout": 0.2}
    task, data, run_dir = trained(tmp_path_factory, "mlp", overrides)
    return task, data.test_set.tensors[0][:7], run_dir  # raw, unscaled float32 features


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("text") / "text.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    overrides = {
        "data.path": str(corpus),
        "data.seq_len": 16,
        "data.batch_size": 8,
        "model.hidden_size": 24,
        "model.embed_dim": 8,
        "model.num_layers": 2,
        "task.sample_temperatures": [],
    }
    task, _, run_dir = trained(tmp_path_factory, "lstm", overrides)
    ids = task.encode(TEXT[: 7 * 25])
    return task, ids.view(7, 25), run_dir  # 7 real passages of 25 characters


def expected_logits(task, x):
    """The classifier's logits computed by hand: raw input -> [0, 1] -> training statistics -> model."""
    mean = torch.tensor(task.hparams.input_mean)
    std = torch.tensor(task.hparams.input_std)
    if x.dtype == torch.uint8:
        x = x.float() / 255
        mean, std = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
    with torch.no_grad():
        return task.model((x - mean) / std).numpy()


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def close(got, want):
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def assert_onnx_matches_torch(task, path, inputs):
    """onnxruntime on the first 1 and the first 7 of ``inputs`` gives what the PyTorch model gives. A
    language model's text goes in two calls of different lengths (9, then the rest), the second
    starting from the state the first returned, as a runtime generating text would."""
    s = session(path)
    for batch in (inputs[:1], inputs[:7]):
        if task.name == "classification":
            (logits,) = s.run(["logits"], {s.get_inputs()[0].name: batch.numpy()})
            assert logits.shape == (len(batch), task.num_classes)
            close(logits, expected_logits(task, batch))
            continue
        with torch.no_grad():
            want, (want_h, want_c) = task.model.forward_with_state(batch, None)
        h = c = np.zeros(want_h.shape, dtype=np.float32)
        first, h, c = s.run(None, {"ids": batch[:, :9].numpy(), "h": h, "c": c})
        second, h, c = s.run(None, {"ids": batch[:, 9:].numpy(), "h": h, "c": c})
        close(np.concatenate([first, second], axis=1), want.numpy())
        close(h, want_h.numpy())
        close(c, want_c.numpy())


def assert_pt2_matches_torch(task, path, inputs):
    """The reloaded program on the first 1 and 7 of ``inputs`` (a language model's on 3 and all of the
    text) gives what the PyTorch model gives."""
    program = torch.export.load(path).module()
    if task.name == "classification":
        for batch in (inputs[:1], inputs[:7]):
            with torch.no_grad():
                close(program(batch).numpy(), expected_logits(task, batch))
        return
    for batch, length in ((inputs[:1], 3), (inputs[:7], inputs.shape[1])):
        with torch.no_grad():
            want, (want_h, want_c) = task.model.forward_with_state(batch[:, :length], None)
            zeros = torch.zeros(want_h.shape)
            logits, h, c = program(batch[:, :length], zeros, zeros)
        for got, expected in ((logits, want), (h, want_h), (c, want_c)):
            close(got.numpy(), expected.numpy())


@pytest.fixture(scope="module")
def onnx_files(lenet, mlp, lstm, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx")
    return {
        name: export_model(task, "onnx", out / f"{name}.onnx").path
        for name, (task, *_rest) in {"lenet": lenet, "mlp": mlp, "lstm": lstm}.items()
    }


@pytest.fixture(scope="module")
def pt2_files(lenet, mlp, lstm, tmp_path_factory):
    """The .pt2 programs, exported with onnx, onnxscript and onnxruntime made unimportable: --format
    pt2 needs PyTorch alone."""
    out = tmp_path_factory.mktemp("pt2")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("onnx", "onnxscript", "onnxruntime"):
            patch.setitem(sys.modules, name, None)
        return {
            name: export_model(task, "pt2", out / f"{name}.pt2").path
            for name, (task, *_rest) in {"lenet": lenet, "mlp": mlp, "lstm": lstm}.items()
        }


# --- ONNX -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["lenet", "mlp"])
def test_onnx_classifier_takes_raw_inputs_and_matches_torch_at_batch_1_and_7(model, lenet, mlp, onnx_files):
    task, inputs, _ = {"lenet": lenet, "mlp": mlp}[model]
    s = session(onnx_files[model])
    (graph_input,) = s.get_inputs()
    if model == "lenet":  # raw pixels as the training data holds them, any batch
        assert (graph_input.name, graph_input.type, graph_input.shape) == (
            "image",
            "tensor(uint8)",
            ["batch", 1, 28, 28],
        )
    else:
        assert (graph_input.name, graph_input.type, graph_input.shape) == ("features", "tensor(float)", ["batch", 13])
        assert inputs.abs().max() > 100  # (wine's proline: the features really are unscaled)
    assert_onnx_matches_torch(task, onnx_files[model], inputs)


def test_onnx_lstm_matches_torch_with_the_state_carried_across_calls(lstm, onnx_files):
    task, ids, _ = lstm
    s = session(onnx_files["lstm"])
    assert [(i.name, i.shape) for i in s.get_inputs()] == [
        ("ids", ["batch", "seq"]),
        ("h", [2, "batch", 24]),
        ("c", [2, "batch", 24]),
    ]
    assert [(o.name, o.shape) for o in s.get_outputs()][0] == ("logits", ["batch", "seq", len(task.vocab)])
    assert_onnx_matches_torch(task, onnx_files["lstm"], ids)


def test_onnx_metadata_carries_class_names_vocabulary_and_what_the_graph_takes(lenet, mlp, lstm, onnx_files):
    meta = {name: session(path).get_modelmeta().custom_metadata_map for name, path in onnx_files.items()}
    assert json.loads(meta["lenet"]["zoo.class_names"]) == [str(d) for d in range(10)]
    assert json.loads(meta["mlp"]["zoo.class_names"]) == ["class_0", "class_1", "class_2"]
    vocab = json.loads(meta["lstm"]["zoo.vocab"])
    assert vocab == lstm[0].vocab and {"é", "—", "\n"} <= set(vocab)
    assert meta["lstm"]["zoo.level"] == "char"
    assert meta["lenet"]["zoo.inputs"].startswith("image: uint8 (batch, 1, 28, 28), raw pixels 0..255")
    assert meta["mlp"]["zoo.inputs"].startswith("features: float32 (batch, 13), raw values")
    assert [m["zoo.model"] for m in meta.values()] == ["lenet", "mlp", "lstm"]


# --- torch.export -----------------------------------------------------------------------------------


def test_pt2_programs_reload_and_match_torch(lenet, mlp, lstm, pt2_files):
    for model, (task, inputs, _) in {"lenet": lenet, "mlp": mlp, "lstm": lstm}.items():
        assert_pt2_matches_torch(task, pt2_files[model], inputs)


def test_pt2_metadata_is_in_the_archive(lstm, pt2_files):
    extra = {"zoo.json": ""}
    torch.export.load(pt2_files["lstm"], extra_files=extra)
    meta = json.loads(extra["zoo.json"])
    assert meta["vocab"] == lstm[0].vocab and meta["model"] == "lstm" and meta["inputs"].startswith("ids: int64")
    extra = {"zoo.json": ""}
    torch.export.load(pt2_files["lenet"], extra_files=extra)
    assert json.loads(extra["zoo.json"])["class_names"] == [str(d) for d in range(10)]


# --- bad input --------------------------------------------------------------------------------------


def test_a_missing_onnx_package_names_the_extra(lenet, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    assert main([str(lenet[2]), "--format", "onnx", "--out", "never.onnx"]) == 2
    err = capsys.readouterr().err
    assert "onnxscript" in err and "pip install 'zoo[export]'" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["RUN", "--format", "tflite"], 2, "invalid choice: 'tflite'"),
        (["RUN"], 2, "the following arguments are required: --format"),
        (["no/such/run", "--format", "onnx"], 2, "no such run directory, checkpoint or shipped weight: no/such/run"),
        (["lenet:no-such-weights", "--format", "onnx"], 2, "unknown weights 'lenet:no-such-weights'"),
        (["RUN/config.yaml", "--format", "pt2"], 1, "is not a checkpoint file"),
    ],
)
def test_bad_arguments_get_one_line(lenet, capsys, args, code, message):
    run_dir = str(lenet[2])
    assert main([a.replace("RUN", run_dir) for a in args]) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_a_model_name_without_weights_names_the_shipped_weights(capsys):
    # A model name is not something trained: the one line says what is (every shipped weight).
    assert main(["lenet", "--format", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "no such run directory, checkpoint or shipped weight: lenet" in err, err
    assert all(name in err for name in zoo.list_weights()) and len(err.strip().splitlines()) == 1, err


PROBE = """
import atexit, sys, zoo.export
atexit.register(lambda: print("torch imported:", "torch" in sys.modules))
sys.exit(zoo.export.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("args, code", [(["--help"], 0), (["RUN", "--format", "tflite"], 2), (["RUN"], 2)])
def test_help_and_usage_errors_answer_without_importing_torch(args, code, tmp_path):
    # (~10 s of importing torch and Lightning on 2 cores before a mistake is named would be the alternative)
    result = run_python(["-c", PROBE, *args], cwd=tmp_path, timeout=120)
    assert result.stdout.splitlines()[-1] == "torch imported: False", result.stdout[-2000:] + result.stderr[-2000:]
    assert result.returncode == code and (code == 0 or len(result.stderr.strip().splitlines()) == 1), result.stderr


def test_word2vec_is_refused_with_where_its_vectors_are(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\n" * 50, encoding="utf-8")
    _, task = zoo.build("word2vec", overrides={"data.path": str(corpus), "data.cache_dir": str(tmp_path / "cache")})
    with pytest.raises(UsageError, match="export is for lenet, mlp and lstm: word2vec's vectors already are"):
        export_model(task, "onnx", tmp_path / "w2v.onnx")


@pytest.mark.slow
def test_the_command_exports_a_run_directory_beside_its_checkpoints(lenet, tmp_path):
    task, images, run_dir = lenet
    result = run_command(["zoo.export", str(run_dir), "--format", "onnx"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"wrote {run_dir / 'lenet.onnx'} (") and lines[1].startswith("  takes    image: uint8")
    assert lines[3].startswith("  checked  onnxruntime matches PyTorch to") and result.stderr == ""
    (logits,) = session(run_dir / "lenet.onnx").run(None, {"image": images.numpy()})
    np.testing.assert_allclose(logits, expected_logits(task, images), atol=1e-4, rtol=1e-4)


def test_a_task_in_training_mode_exports_its_eval_graph_and_stays_in_training_mode(mlp, tmp_path):
    task, features, _ = mlp
    task.train()
    try:
        path = export_model(task, "pt2", tmp_path / "mlp.pt2").path
        assert task.training and all(m.training for m in task.model.modules())
    finally:
        task.eval()
    program = torch.export.load(path).module()
    with torch.no_grad():  # no dropout in the graph: the same answer twice, the eval-mode one
        np.testing.assert_array_equal(program(features).numpy(), program(features).numpy())
        np.testing.assert_allclose(program(features).numpy(), expected_logits(task, features), atol=1e-4, rtol=1e-4)


# --- the export guide's examples (docs/howto/predict-export.md) ---------------------------------------


GUIDE = ROOT / "docs" / "howto" / "predict-export.md"  # (the examples moved there from the README)


def readme_block(marker: str) -> str:
    """The fenced code block of the export guide that follows the line ``marker``."""
    match = re.search(re.escape(marker) + r"\n```\w*\n(.*?)```", GUIDE.read_text(), re.S)
    assert match, f"{GUIDE.relative_to(ROOT)} has no code block after {marker!r}"
    return match.group(1)


def test_the_readme_examples_run_the_exported_files(lenet, lstm, onnx_files, pt2_files, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name, path in [
        ("lenet-fashion-mnist.onnx", onnx_files["lenet"]),  # (the names the guide's exports of shipped weights
        ("lstm-tinyshakespeare.onnx", onnx_files["lstm"]),  # have; the tiny models trained here stand in)
        ("lenet-fashion-mnist.pt2", pt2_files["lenet"]),
    ]:
        shutil.copy(path, name)
    zeros = torch.zeros(3, 1, 28, 28, dtype=torch.uint8)
    want = [lenet[0].class_names[i] for i in expected_logits(lenet[0], zeros).argmax(axis=1)]

    exec(readme_block("<!-- example: onnxruntime lenet -->"), {})
    assert capsys.readouterr().out.strip() == str(want)

    exec(readme_block("<!-- example: onnxruntime lstm -->"), {})
    task, rng = lstm[0], np.random.default_rng(0)  # the same draws from the PyTorch model's probabilities
    with torch.no_grad():
        logits, state = task.model.forward_with_state(task.encode("The ")[None], None)
        text = ""
        for _ in range(100):
            token = rng.choice(len(task.vocab), p=torch.softmax(logits[0, -1].double(), 0).numpy())
            text += task.vocab[token]
            logits, state = task.model.forward_with_state(torch.tensor([[token]]), state)
    assert capsys.readouterr().out == text

    names = {}
    exec(readme_block("<!-- example: torch.export lenet -->"), names)
    assert names["class_names"] == lenet[0].class_names
    np.testing.assert_allclose(names["logits"].detach().numpy(), expected_logits(lenet[0], zeros), atol=1e-4, rtol=1e-4)


# --- the shipped weights ----------------------------------------------------------------------------

SHIPPED = ["lenet:fashion-mnist", "lstm:tinyshakespeare", "mlp:fashion-mnist"]


def held_out(name: str, task):
    """Real held-out inputs for a shipped weight, as its data gives them: 7 Fashion-MNIST test images
    (uint8), or 7 passages of 40 characters from the last 10% of tinyshakespeare."""
    if name.endswith(":fashion-mnist"):
        from zoo.data.idx import read_idx

        require(FASHION_MNIST, "apt-get install -y dataset-fashion-mnist")
        images = np.array(read_idx(FASHION_MNIST / "t10k-images-idx3-ubyte.gz"))[:7]
        return torch.from_numpy(images).unsqueeze(1)
    from zoo.data.text import read_text, shipped_text

    text = read_text(shipped_text("tinyshakespeare"))
    return task.encode(text[-7 * 40 :]).view(7, 40)


def test_every_shipped_weight_but_word2vec_is_exported_here():
    assert [name for name in zoo.list_weights() if not name.startswith("word2vec:")] == SHIPPED


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_weight_exports_by_name_and_matches_torch_on_held_out_data(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    task = zoo.load_pretrained(name)
    inputs = held_out(name, task)
    stem = name.replace(":", "-")  # lenet-fashion-mnist.onnx, in the current folder
    assert main([name, "--format", "onnx"]) == 0 and main([name, "--format", "pt2"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {stem}.onnx (" in out and f"wrote {stem}.pt2 (" in out, out
    assert_onnx_matches_torch(task, tmp_path / f"{stem}.onnx", inputs)
    assert_pt2_matches_torch(task, tmp_path / f"{stem}.pt2", inputs)
    meta = session(tmp_path / f"{stem}.onnx").get_modelmeta().custom_metadata_map
    card = zoo.weight_card(name)
    assert (meta["zoo.weights"], meta["zoo.licence"]) == (name, card["data"]["licence"])
    if task.name == "classification":
        assert json.loads(meta["zoo.class_names"]) == card["classes"]
