"""The README is the front door, and every command in it runs from a clone.

Each command line of the README (its bash blocks and the table's "try" column) is run here, or checked
the way that does not need minutes: ``zoo.train`` commands print their resolved recipe
(``--print_config`` checks every option as the run would, before any training; the first run itself is
tests/test_train.py's ``test_default_lenet_command_end_to_end``), the other tools run for real with a
small budget, and the commands that install or run the test suite are checked against the extras and
CI's script they name. The Python example runs as written, with two epochs a fit instead of a hundred.
"""

from __future__ import annotations

import ast
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, checkout_env, require_module, run_command

README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
# The strict build tests/test_site.py makes, as CI does (it builds into a temporary folder instead).
SITE_BUILD = "python -m sphinx -W --keep-going -n -b html docs docs/_build/html"


def readme_commands() -> list[list[str]]:
    """Every command line of the README: the lines of its bash blocks (``a && b`` is two) and the
    table's ``python -m ...`` cells, each split as a shell splits it, comments left out."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", TEXT, re.S):
        lines += block.replace("\\\n", " ").splitlines()
    lines += re.findall(r"\| `(python -m zoo\.[^`]+)` \|", TEXT)
    commands = []
    for line in lines:
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words:
                commands.append(words)
    return commands


def zoo_commands(module: str) -> list[list[str]]:
    """The README's ``python -m MODULE ...`` commands, as the arguments after MODULE."""
    return [c[3:] for c in readme_commands() if c[:3] == ["python", "-m", module]]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation gone, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_is_a_front_door_whose_links_and_pictures_are_there():
    assert len(TEXT.splitlines()) <= 250
    assert TEXT.count("![") >= 1 and TEXT.count("![") <= 2  # one or two pictures
    headings = {github_slug(h) for h in re.findall(r"^#+ (.+)$", TEXT, re.M)}
    targets = re.findall(r"\]\(([^)\s]+)\)", TEXT)
    assert any(t.startswith("docs/") for t in targets), "the README points to the documentation"
    for target in targets:
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (ROOT / path).is_file(), target
        elif anchor:
            assert anchor in headings, target


def test_every_command_is_one_the_readme_can_stand_behind():
    """Each command line is of a kind this file runs or checks: nothing in the README escapes it."""
    known = {("pip", "install"), ("python", "-m")}
    for command in readme_commands():
        assert tuple(command[:2]) in known, command
        if command[:2] == ["python", "-m"]:
            assert command[2].startswith("zoo.") or command[2] in ("sphinx", "pytest"), command


def test_the_install_commands_name_extras_that_exist():
    table = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1].split("\n[")[0]
    extras = dict(re.findall(r"^(\w+) = \[(.*?)\]$", table, re.M | re.S))  # (tomllib is Python 3.11's)
    named = re.findall(r"'\.\[(\w+)\]'", TEXT)
    assert {"docs", "test"} <= set(named)
    assert set(named) <= set(extras), set(named) - set(extras)
    assert re.search(r"zoo\[[\w,]*\bdocs\b", extras["test"]), "the test extra carries the docs extra (the site's test)"
    assert ["pip", "install", "."] in readme_commands()


def test_the_site_and_test_suite_commands_are_the_ones_ci_runs():
    commands = [" ".join(c) for c in readme_commands()]
    assert SITE_BUILD in commands
    ci = (ROOT / ".ci" / "run").read_text()
    pytest_line = next(c for c in commands if c.startswith("python -m pytest"))
    assert pytest_line in ci.splitlines()


def test_every_train_command_resolves_its_recipe_as_written(tmp_path):
    """``--print_config`` checks every option as the run would and prints the recipe: each option the
    command sets is in it with the value it gives (the first command, trained for real, is
    tests/test_train.py's)."""
    commands = zoo_commands("zoo.train")
    assert ["lenet"] in commands  # the first run, tests/test_train.py's test_default_lenet_command_end_to_end
    for args in commands:
        args = [a for a in args if a != "--print_config"]
        result = run_command(["zoo.train", *args, "--print_config"], cwd=ROOT)
        assert result.returncode == 0, (args, result.stderr[-2000:])
        recipe = yaml.safe_load(result.stdout)
        assert recipe["model"] is not None and recipe["data"]["name"], args
        for flag, value in zip(args, args[1:]):
            if flag.startswith("--") and "." in flag:
                section, key = flag[2:].split(".", 1)
                assert recipe[section][key] == yaml.safe_load(value), (args, flag)
            elif flag == "--config" and value == "lenet_fashion_mnist":
                assert recipe["data"]["name"] == "fashion-mnist"


@pytest.mark.slow
def test_the_tools_commands_run_from_a_clone(tmp_path):
    """zoo.predict as written (it writes to stdout, and a labelled folder's confusion matrix where it runs),
    zoo.export in a folder of its own (it writes a file where it runs), zoo.tune with one trial of one epoch.
    Each runs in tmp_path, with the clone's examples/ beside it, so nothing is written into the clone."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    for args in zoo_commands("zoo.predict"):
        result = run_command(["zoo.predict", *args], cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr[-2000:])
        if "--list" in args:
            assert "lenet:fashion-mnist" in result.stdout
        else:
            rows = result.stdout.strip().splitlines()
            assert rows[0].startswith("input,class_1") and len(rows) == 21, rows[:3]  # 20 images in examples/clothes
            assert (tmp_path / "confusion_matrix.png").is_file()
    (export,) = zoo_commands("zoo.export")
    result = run_command(["zoo.export", *export], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "lenet-fashion-mnist.pt2").is_file()
    (tune,) = zoo_commands("zoo.tune")
    budget = ["--n_trials", "1", "--trainer.max_epochs", "1", "--dir", str(tmp_path / "study")]
    result = run_command(["zoo.tune", *tune, *budget], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "study" / "best.yaml").is_file()


@pytest.mark.slow
def test_the_playground_command_starts_and_stops():
    """``python -m zoo.playground`` serves its page and stops on Ctrl-C (on a free port here: the README's
    8800 may be taken; tests/test_playground_browser.py drives the page itself)."""
    require_module("uvicorn", "the playground extra: pip install '.[playground]'")
    (args,) = zoo_commands("zoo.playground")
    server = subprocess.Popen(
        [sys.executable, "-m", "zoo.playground", *args, "--port", "0"],
        cwd=ROOT,
        env=checkout_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [server.stdout.readline() for _ in range(3)]
        url = lines[2].strip()
        assert url.startswith("http://127.0.0.1:") and "token=" in url, lines
        with urllib.request.urlopen(url, timeout=60) as response:  # the page, served
            assert response.status == 200 and b"playground" in response.read()
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]


def outputs_of(source: str) -> tuple[ast.Module, list[str]]:
    """``source`` with each top-level expression's value kept in ``_out`` (as a notebook shows it)."""
    tree = ast.parse(source)
    shown = []
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Expr):
            shown.append(ast.unparse(node.value))
            tree.body[i] = ast.parse(f"_out.append({shown[-1]})").body[0]
    return ast.fix_missing_locations(tree), shown


@pytest.mark.slow
def test_the_python_example_runs_as_a_notebook_would(tmp_path, monkeypatch):
    import zoo

    match = re.search(r"<!-- example: python -->\n```python\n(.*?)```", TEXT, re.S)
    assert match, "the README's Python example has its marker"
    real_fit = zoo.fit

    def two_epochs(model, overrides=None, **kwargs):  # (the example's runs, shortened from 100 epochs)
        return real_fit(model, overrides={**(overrides or {}), "trainer.max_epochs": 2}, quiet=True, **kwargs)

    monkeypatch.setattr(zoo, "fit", two_epochs)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # (the example reads a file of the clone)
    tree, shown = outputs_of(match.group(1))
    names = {"_out": []}
    exec(compile(tree, "README.md", "exec"), names)
    assert [s.split("(")[0] for s in shown] == ["zoo.compare", "task.predict"]
    comparison, predicted = names["_out"]
    table = comparison.table  # the option that differs, the figures side by side
    assert list(table["model.hidden"]) == [[8], [32, 32, 32]] and "test_acc" in table
    assert predicted == ["Bag"]
    assert Path(names["small"].run_dir).parent == tmp_path / "runs"
