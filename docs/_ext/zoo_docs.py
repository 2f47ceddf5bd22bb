"""The reference pages that are written from zoo itself at every build, so that they cannot drift:

- ``% zoo: commands`` in a page becomes every command's ``--help``, as the command prints it now;
- ``% zoo: options`` becomes every recipe option, its type and default, from ``zoo/schema.json`` (which
  tests/test_schema.py keeps equal to the constructors' signatures), with each choice's description from
  its own docstring;
- ``% zoo: recipes`` becomes every shipped recipe and search space (``configs/*.yaml``), whole.

A marker is a MyST comment line, replaced in the page's source before it is parsed (Sphinx's
``source-read`` event), so the generated text is ordinary Markdown: headings in the page's table of
contents, tables and code blocks. The pages holding a marker are read again at every build.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]

# Each command, as a learner meets them, with what it is for (the help's own text says the rest).
COMMANDS = {
    "zoo.train": "Train a model with its recipe, test the best checkpoint, print one JSON line.",
    "zoo.tune": "Search a recipe's options with Optuna; every trial is a zoo run.",
    "zoo.predict": "Predict with a shipped weight, a run directory or a checkpoint: images, tables, prompts, words.",
    "zoo.generate": "Continue a prompt with a trained language model.",
    "zoo.neighbors": "The nearest words, and analogies, in trained word vectors.",
    "zoo.show": "Pictures of what a trained model learned: filters, feature maps, class images, word maps.",
    "zoo.export": "A trained model as an ONNX file or a torch.export program.",
    "zoo.playground": "The TensorFlow Playground in the browser, training zoo's real MLP.",
}
MARKERS = ("commands", "options", "recipes")


def command_help(module: str) -> str:
    """What ``python -m MODULE --help`` prints, from this checkout, 100 columns wide."""
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise ExtensionError(f"python -m {module} --help exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout.rstrip()


def commands_markdown() -> str:
    parts = []
    for module, purpose in COMMANDS.items():
        parts += [f"## `python -m {module}`", "", purpose, "", "```text", command_help(module), "```", ""]
    return "\n".join(parts)


def cell(text: object) -> str:
    """``text`` fit for one cell of a Markdown table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def type_text(kind: object) -> str:
    """The schema's type, as a reader writes it: ``int``, ``float or None``, ``one of: max, avg``."""
    if isinstance(kind, str):
        return kind
    if "literal" in kind:
        return "one of: " + ", ".join(str(v) for v in kind["literal"])
    if "union" in kind:
        return " or ".join(type_text(k) for k in kind["union"])
    if "list" in kind:
        return f"list of {type_text(kind['list'])}"
    if "class" in kind:
        return str(kind["class"])
    return json.dumps(kind)


def default_text(value: object) -> str:
    return "`" + cell(json.dumps(value, ensure_ascii=False)) + "`"


def described(builder: object) -> str:
    """The first paragraph of ``builder``'s own docstring, else of its module's; inline code as Markdown."""
    doc = builder.__dict__.get("__doc__") if isinstance(builder, type) else getattr(builder, "__doc__", None)
    if not doc:
        doc = sys.modules[builder.__module__].__doc__ or ""
    first = inspect.cleandoc(doc).split("\n\n")[0]
    return " ".join(first.split()).replace("``", "`")


def options_table(params: dict) -> list[str]:
    if not params:
        return ["(no options)", ""]
    lines = ["| option | type | default |", "| --- | --- | --- |"]
    for name, param in params.items():
        lines.append(f"| `{name}` | {cell(type_text(param['type']))} | {default_text(param['default'])} |")
    return lines + [""]


def options_markdown() -> str:
    from zoo.registry import DATASETS, MODELS, OPTIMIZERS, SCHEDULERS, TASKS
    from zoo.schema import SCHEMA_FILE

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    versions = ", ".join(f"{name} {version}" for name, version in schema["versions"].items())
    parts = [
        f"Written from `zoo/schema.json` ({versions}) when this page was built.",
        "",
        "## `model`: the MODEL argument",
        "",
    ]
    for name, entry in schema["models"].items():
        meta = entry.get("meta", {})
        trains = f" Without a recipe it trains as `task.name: {meta['task']}` on `data.name: {meta['data']}`."
        trains = trains if meta else ""
        parts += [f"### `{name}`", "", described(MODELS.get(name)) + trains, ""] + options_table(entry["params"])
    registries = {"data": DATASETS, "task": TASKS, "optimizer": OPTIMIZERS, "scheduler": SCHEDULERS}
    for section, choices in schema["sections"].items():
        if section in registries:
            parts += [f"## `{section}`: `{section}.name` chooses", ""]
            for name, params in choices.items():
                memory = " Given by `zoo.fit(data=...)`, not named in a recipe." if "memory" in params else ""
                parts += [f"### `{section}.name: {name}`", "", described(registries[section].get(name)) + memory, ""]
                parts += options_table(params)
        else:
            parts += [f"## `{section}`", ""] + options_table(choices)
    return "\n".join(parts)


def recipes_markdown() -> str:
    parts = []
    for title, folder, how in (
        ("Recipes", ROOT / "configs", "python -m zoo.train MODEL --config {name}"),
        ("Search spaces", ROOT / "configs" / "search", "python -m zoo.tune MODEL --search {name}"),
    ):
        parts += [f"## {title}", ""]
        for path in sorted(folder.glob("*.yaml")):
            rel = path.relative_to(ROOT).as_posix()
            parts += [f"### `{path.stem}`", "", f"`{rel}`: `{how.format(name=path.stem)}`", ""]
            parts += ["```yaml", path.read_text(encoding="utf-8").rstrip(), "```", ""]
    return "\n".join(parts)


GENERATORS = {"commands": commands_markdown, "options": options_markdown, "recipes": recipes_markdown}


def fill_in(app: Sphinx, docname: str, source: list[str]) -> None:
    lines = source[0].split("\n")
    for i, line in enumerate(lines):
        if line.startswith("% zoo: ") and line[len("% zoo: ") :].strip() in MARKERS:
            marker = line[len("% zoo: ") :].strip()
            lines[i] = GENERATORS[marker]()
            for path in (ROOT / "zoo" / "schema.json", *sorted((ROOT / "configs").rglob("*.yaml"))):
                app.env.note_dependency(str(path))
    source[0] = "\n".join(lines)


def always_outdated(app: Sphinx, env, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """The pages with a marker are written from the code, whose changes Sphinx does not see: read them again."""
    marked = []
    for docname in env.found_docs:
        path = Path(env.doc2path(docname))
        if path.suffix == ".md" and any(f"% zoo: {m}" in path.read_text(encoding="utf-8") for m in MARKERS):
            marked.append(docname)
    return marked


def setup(app: Sphinx) -> dict:
    app.connect("source-read", fill_in)
    app.connect("env-get-outdated", always_outdated)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
