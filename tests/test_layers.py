"""zoo's layering, as declared in pyproject.toml ([tool.importlinter]) and checked by import-linter:
each layer imports only from the layers below it, and no package's modules import each other in a circle."""

import shutil
import subprocess
import sys

from conftest import ROOT, checkout_env

LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
)


def lint(root):
    env = checkout_env()
    env["PYTHONPATH"] = str(root)
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The check can fail: the ground floor importing the library (as errors.py once imported the CLI)."""
    shutil.copytree(ROOT / "zoo", tmp_path / "zoo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "zoo" / "errors.py", "a") as f:
        f.write("\n\ndef _late():\n    from zoo.training import fit  # noqa: F401\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "zoo.errors -> zoo.training" in result.stdout
