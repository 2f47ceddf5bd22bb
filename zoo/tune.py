"""``python -m zoo.tune MODEL --search SPACE [options]``: search a recipe's options with Optuna.

A thin layer over ``zoo.search``: argv in, a line per trial and the study's summary (one JSON object,
the last line on stdout) out, and exit status 0 once the study holds ``--n_trials`` (or ``--timeout``
passed). Usage errors exit 2; a storage that cannot be reached, or a study left short (every worker
killed, a trial running where this process cannot watch it), 1; each as one line on stderr. Ctrl-C
stops after the running trials' current step and exits 130 (the study goes on where it stopped when
the same command runs again).
"""

from __future__ import annotations

import json
import re
import sys

from zoo.commands import OneLineParser, command_main
from zoo.errors import UsageError

PROG = "zoo.tune"
EPILOG = """\
Any other --section.key VALUE sets that option of every trial (as in zoo.train). Search spaces shipped:
{spaces}. Study directory (--dir, default studies/STUDY): trials.csv, best.yaml,
history.png, importances.png, best_vs_worst.png, capacity.png and a run directory per trial.
"""


def parse(argv: list[str]):
    parser = OneLineParser(
        prog=f"python -m {PROG}",
        description="Search a recipe's options with Optuna: every trial is a zoo run; many processes and "
        "machines can share one study through --storage.",
        allow_abbrev=False,
    )
    parser.add_argument("model", help="a registered model (mlp, lenet, lstm, word2vec, or your own)")
    parser.add_argument("--search", required=True, help="a search space: a YAML file or a shipped name")
    parser.add_argument("--config", action="append", default=[], help="recipe file or shipped recipe; repeatable")
    parser.add_argument(
        "--import", dest="imports", action="append", default=[], help="module or .py registering models"
    )
    parser.add_argument(
        "--n_trials",
        type=int,
        default=None,
        help="trials the study should hold, earlier runs' included (default: the space's, or 20; a grid: its size)",
    )
    parser.add_argument("--timeout", default=None, help="start no trial after this long: 90s, 30m, 2h")
    parser.add_argument("--sampler", default=None, help="tpe, random or grid (default: the space's, or tpe)")
    parser.add_argument(
        "--pruner", default=None, help="median, hyperband, asha or none (default: the space's, or median)"
    )
    parser.add_argument(
        "--storage",
        default=None,
        help="a database URL (postgresql+psycopg://USER:PASSWORD@HOST/DB, sqlite:///FILE) or a file "
        "(.db: SQLite, else an Optuna journal file); default STUDY_DIR/study.db",
    )
    parser.add_argument("--study", default=None, help="the study's name (default MODEL-SPACE)")
    parser.add_argument("--dir", default=None, help="the study directory (default studies/STUDY)")
    parser.add_argument("--workers", type=int, default=1, help="processes on this machine (default 1)")
    parser.add_argument(
        "--retries",
        type=int,
        default=1,
        help="times a trial whose process died runs again (default 1; 0: other options run in its place)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    if any(a in ("-h", "--help") for a in argv):
        from zoo.recipes import recipe_dir

        spaces = sorted(p.stem for p in (recipe_dir() / "search").glob("*.yaml"))
        parser.epilog = EPILOG.format(spaces=", ".join(spaces))
    args, rest = parser.parse_known_args(argv)
    args.overrides = rest  # --section.key VALUE: checked with the recipe
    return args


def seconds(text: str | None) -> float | None:
    """``90``, ``90s``, ``30m``, ``2h``, ``1d`` -> seconds."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--timeout {text!r}: give a duration such as 90s, 30m or 2h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def main(argv: list[str] | None = None) -> int:
    return command_main(PROG, argv, tune)


def tune(argv: list[str]) -> int:
    args = parse(argv)
    from zoo.search import prepare  # (torch, Lightning and Optuna only once the options are checked)
    from zoo.search import tune as run

    search = prepare(
        args.model,
        args.search,
        config=args.config,
        overrides=args.overrides,
        imports=args.imports,
        n_trials=args.n_trials,
        timeout=seconds(args.timeout),
        sampler=args.sampler,
        pruner=args.pruner,
        storage=args.storage,
        study=args.study,
        study_dir=args.dir,
        workers=args.workers,
        retries=args.retries,
    )
    summary = run(search)
    print(json.dumps(summary, ensure_ascii=False), flush=True)  # (a path with é or µ as it is, not \u00e9)
    return 0


if __name__ == "__main__":
    sys.exit(main())
