"""Bad input gets one clear line on stderr and a non-zero exit (2 for usage errors), never a traceback,
and leaves no run directory behind."""

import pytest

from conftest import run_command, run_python
from test_data import write_fake_mnist


def corrupt_idx_folder(tmp_path):
    write_fake_mnist(tmp_path / "fm", compress=False)
    images = tmp_path / "fm" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    return str(tmp_path / "fm")


def empty_image_folder(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
    return str(tmp_path / "imgs")


def csv_file(text):
    def make(tmp_path):
        (tmp_path / "t.csv").write_text(text)
        return str(tmp_path / "t.csv")

    return make


# (arguments, exit code, words the message must contain); "{tmp}" is replaced by a fresh folder.
CASES = {
    "unknown model": (["lenett"], 2, ["unknown model 'lenett'", "did you mean 'lenet'"]),
    "no model": ([], 2, ["missing MODEL", "lenet"]),
    "mistyped option": (
        ["lenet", "--trainer.max_epoch", "2"],
        2,
        ["--trainer.max_epoch", "did you mean --trainer.max_epochs"],
    ),
    "unknown section": (["lenet", "--dataa.name", "digits"], 2, ["unknown option --dataa.name", "--data."]),
    "not an option": (["lenet", "extra"], 2, ["unexpected argument 'extra'"]),
    "unknown data set": (["lenet", "--data.name", "cifar"], 2, ["unknown data set 'cifar'", "fashion-mnist", "digits"]),
    "wrong type": (["lenet", "--data.batch_size", "many"], 2, ["--data.batch_size expects int", "'many'"]),
    "batch size 0": (["lenet", "--data.batch_size", "0"], 2, ["batch_size must be a positive integer, got 0"]),
    "split outside [0,1)": (
        ["lenet", "--data.val_split", "1.5"],
        2,
        ["val_split must be at least 0 and below 1, got 1.5"],
    ),
    "bad seed": (["lenet", "--seed_everything", "x"], 2, ["--seed_everything expects int"]),
    "no threads": (["lenet", "--threads", "0"], 2, ["threads expects a whole number of at least 1", "got 0"]),
    "threads not a number": (["lenet", "--threads", "two"], 2, ["--threads expects int", "'two'"]),
    "bad choice": (["lenet", "--model.pooling", "median"], 2, ["--model.pooling expects one of 'max', 'avg'"]),
    "missing config": (["lenet", "--config", "nope.yaml"], 2, ["config file not found: nope.yaml"]),
    "bad trainer value": (["lenet", "--trainer.accelerator", "tpu9"], 2, ["trainer:"]),
    "missing data folder": (
        ["lenet", "--data.name", "fashion-mnist", "--data.root", "{tmp}/nowhere"],
        1,
        ["data folder not found", "nowhere"],
    ),
    "corrupt idx file": (
        ["lenet", "--data.name", "fashion-mnist", "--data.root", corrupt_idx_folder, "--data.download", "false"],
        1,
        ["train-images-idx3-ubyte is truncated"],
    ),
    "empty image folder": (
        ["lenet", "--data.name", "imagefolder", "--data.root", empty_image_folder],
        1,
        ["no images found in"],
    ),
    "imagefolder without root": (["lenet", "--data.name", "imagefolder"], 2, ["needs --data.root"]),
    "negative learning rate": (["lenet", "--optimizer.lr", "-1"], 2, ["optimizer 'adam'", "learning rate"]),
    "unknown optimizer": (
        ["mlp", "--optimizer.name", "adamm"],
        2,
        ["unknown optimizer 'adamm'", "did you mean 'adam'", "sgd"],
    ),
    "unknown activation": (["mlp", "--model.activation", "relux"], 2, ["unknown activation 'relux'", "leaky_relu"]),
    "unknown initialiser": (
        ["mlp", "--model.weight_init", "xavier"],
        2,
        ["unknown initialiser 'xavier'", "glorot_uniform"],
    ),
    "dropout of 1": (["mlp", "--model.dropout", "1.0"], 2, ["dropout must be in [0, 1), got 1.0"]),
    "csv without target column": (
        ["mlp", "--data.name", "csv", "--data.path", csv_file("a,b\n1,2\n3,4\n5,6\n"), "--data.target", "label"],
        1,
        ["no column 'label' for --data.target", "(columns: a, b)"],
    ),
    "csv without a path": (
        ["mlp", "--data.name", "csv"],
        2,
        ["data 'csv' needs --data.path FILE.csv (and --data.target COLUMN)"],
    ),
    "a playground feature twice": (
        ["mlp", "--data.name", "xor", "--data.features", "[x1,x1]"],
        2,
        ["--data.features must name each feature once"],
    ),
    "no training batch": (
        ["mlp", "--data.batch_size", "1000", "--data.drop_last", "true"],
        1,
        ["no training batches", "smaller than one batch"],
    ),
    "compile for word2vec": (["word2vec", "--task.compile", "true"], 2, ["task.compile does not apply to word2vec"]),
    "bad checkpoint interval": (
        ["mlp", "--checkpoint.every_n_steps", "0"],
        2,
        ["checkpoint.every_n_steps must be >= 1, got 0"],
    ),
    "resume from nowhere": (
        ["mlp", "--resume", "{tmp}/nowhere"],
        2,
        ["--resume: no such run directory or checkpoint file"],
    ),
    "text in a column forced numeric": (
        ["mlp", "--data.name", "csv", "--data.path", csv_file("a,y\n1,0\n2,1\nx7,0\n4,1\n"), "--data.target", "y"]
        + ["--data.numeric", "a"],
        1,
        ["column 'a' is --data.numeric but holds text: row 4 'x7'"],
    ),
    "not a table": (
        ["mlp", "--data.name", "csv", "--data.path", lambda tmp: _binary(tmp), "--data.target", "y"],
        1,
        ["is not a text table: not UTF-8"],
    ),
    "all-missing column": (
        [
            "mlp",
            "--data.name",
            "csv",
            "--data.path",
            csv_file("a,b,y\n1,,0\n2,NA,1\n3,?,0\n4,,1\n"),
            "--data.target",
            "y",
        ],
        1,
        ["column 'b' is empty (every cell is missing): leave it out with --data.drop b"],
    ),
    "one-class target": (
        [
            "mlp",
            "--data.name",
            "csv",
            "--data.path",
            csv_file("a,y\n1,cat\n2,cat\n3,cat\n4,cat\n"),
            "--data.target",
            "y",
        ],
        1,
        ["column 'y' holds one class only ('cat')"],
    ),
    "too many categories": (
        [
            "mlp",
            "--data.name",
            "csv",
            "--data.path",
            csv_file("a,name,y\n1,ann,0\n2,bob,1\n3,cy,0\n4,di,1\n"),
            "--data.target",
            "y",
        ]
        + ["--data.max_categories", "3"],
        1,
        [
            "column 'name' has 4 distinct values, more than --data.max_categories 3",
            "--data.drop name",
            "raise --data.max_categories",
        ],
    ),
    "numbers given to a classifier": (
        [
            "mlp",
            "--data.name",
            "csv",
            "--data.path",
            csv_file("a,price\n" + "".join(f"{i},{100 + 7 * i}\n" for i in range(30))),
            "--data.target",
            "price",
        ],
        2,
        [
            "target 'price' holds 30 distinct numbers, more than 20",
            "--task.name regression",
            "--data.categorical price",
        ],
    ),
    "classes given to a regression": (
        ["mlp", "--task.name", "regression", "--data.name", "iris"],
        2,
        ["data 'iris' holds classes, not numbers to predict", "--task.name classification"],
    ),
    "numbers given to a classification": (
        ["mlp", "--data.name", "diabetes"],
        2,
        ["data 'diabetes' holds numbers to predict, not classes", "--task.name regression"],
    ),
    "regression model without num_outputs": (
        ["lenet", "--task.name", "regression", "--task.loss", "mse", "--data.name", "diabetes"],
        2,
        ["model 'lenet' does not fit the regression task", "num_outputs"],
    ),
}


def _binary(tmp_path):
    (tmp_path / "photo.csv").write_bytes(bytes(range(256)) * 8)
    return str(tmp_path / "photo.csv")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_one_line_and_an_exit_code(case, cli, tmp_path):
    args, code, words = CASES[case]
    args = [a(tmp_path) if callable(a) else a.replace("{tmp}", str(tmp_path)) for a in args]
    root = tmp_path / "runs"
    if args:
        args += ["--trainer.default_root_dir", str(root), "--trainer.max_epochs", "1"]
    status, out, err = cli(*args)
    assert status == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("zoo.train: error: ")
    for word in words:
        assert word in lines[0]
    assert not any(root.glob("*")), "a failed start left a run directory behind"


@pytest.mark.slow
def test_the_real_command_exits_2_without_traceback(tmp_path):
    result = run_command(["zoo.train", "lenet", "--data.batch_sise", "3"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "zoo.train: error: data 'digits' has no option --data.batch_sise; did you mean --data.batch_size "
        "or --data.eval_batch_size? (valid: augment, batch_size, drop_last, eval_batch_size, hflip, image_size, "
        "rotate, scale, shift, split_seed, test_split, val_mode, val_split)"
    ]


@pytest.mark.slow
def test_debug_shows_the_traceback(tmp_path):
    result = run_command(["zoo.train", "lenett", "--debug"], cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_help_lists_models_and_exits_0(cli):
    status, out, err = cli("--help")
    assert status == 0 and "lenet" in out and "--print_config" in out


# Each command's help (and zoo.predict's list of shipped weights) as "python -m" runs it, in one process
# where importing torch fails: what only reads text answers before the seconds torch and Lightning take.
HELP_WITHOUT_TORCH = """
import contextlib, io, runpy, sys
sys.modules["torch"] = None
for command in sys.argv[1:]:
    module, *args = command.split()
    sys.argv, out = [module, *args], io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            status = 0
        except SystemExit as stop:
            status = stop.code or 0
    print(command, status, len(out.getvalue().splitlines()), sep="|")
"""
COMMANDS = ("zoo.train", "zoo.tune", "zoo.predict", "zoo.generate", "zoo.neighbors", "zoo.show", "zoo.export")


def test_every_commands_help_answers_without_importing_torch(tmp_path):
    asked = [f"{c} --help" for c in (*COMMANDS, "zoo.playground")] + ["zoo.predict --list"]
    done = run_python(["-c", HELP_WITHOUT_TORCH, *asked], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    answers = [line.split("|") for line in done.stdout.splitlines()]
    assert [a[0] for a in answers] == asked
    assert all(status == "0" and int(lines) >= 4 for _, status, lines in answers), answers
