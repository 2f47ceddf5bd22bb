"""``python -m zoo.train MODEL [options]``: train MODEL with its recipe, test the best checkpoint, and
print the run's summary as the last line on stdout (one JSON object; also ``summary.json``).

A thin layer over ``zoo.fit``: argv in, one JSON line out. Usage errors exit 2 and data errors 1, each
as one line on stderr; a signal exits 128 + its number after saving a checkpoint to resume from.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from zoo.commands import command_main
from zoo.config import dump_yaml
from zoo.errors import UsageError
from zoo.rundir import launched_rank

PROG = "zoo.train"
USAGE = f"""usage: python -m {PROG} MODEL [--config FILE_OR_RECIPE] [--section.key VALUE ...]
                          [--seed_everything N] [--threads N] [--resume RUN_DIR] [--import MODULE]
                          [--print_config] [--debug]

Train MODEL with its recipe (configs/MODEL.yaml), test the best checkpoint, print a JSON summary.

  MODEL                one of: {{models}}
  --config X           a YAML file, or a shipped recipe name ({{recipes}}); repeatable
  --section.key VALUE  override one option; sections: model, data, task, optimizer, scheduler,
                       trainer, early_stopping, checkpoint (e.g. --data.name fashion-mnist)
  --seed_everything N  seed for weights, data order, dropout and augmentation
  --threads N          torch's CPU threads (default: OMP_NUM_THREADS if set, else zoo's choice
                       for the model's size: see the README on shared machines)
  --resume PATH        continue a run (its directory, or one of its checkpoints) where it stopped;
                       give the same options it was started with
  --import MODULE      a module or .py file to import first: it registers your own models,
                       data sets or tasks; repeatable
  --print_config       print the resolved recipe and exit
  --debug              show tracebacks (also ZOO_DEBUG=1)
"""

VALUED = ("--config", "--seed_everything", "--threads", "--resume", "--import")


def split_argv(argv: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "model": None,
        "configs": [],
        "imports": [],
        "overrides": [],
        "scalars": [],
        "print_config": False,
    }
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            opts["help"] = True
        elif arg == "--print_config":
            opts["print_config"] = True
        elif arg == "--debug":
            pass  # (read by command_main)
        elif arg in VALUED or arg.startswith(tuple(f"{name}=" for name in VALUED)):
            name, eq, value = arg.partition("=")
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"option {name} needs a value")
                value, i = argv[i + 1], i + 1
            if name == "--config":
                opts["configs"].append(value)
            elif name == "--import":
                opts["imports"].append(value)
            elif name == "--resume":
                opts["resume"] = value
            else:  # --seed_everything, --threads: top-level options, read as overrides after the others
                opts["scalars"] += [name, value]
        elif not arg.startswith("-") and opts["model"] is None and not opts["overrides"]:
            opts["model"] = arg
        elif arg.startswith("--") and "." in arg.split("=", 1)[0]:
            opts["overrides"].append(arg)
            if "=" not in arg and i + 1 < len(argv):
                opts["overrides"].append(argv[i + 1])
                i += 1
        else:
            raise UsageError(f"unexpected argument {arg!r}; options look like --section.key VALUE (see --help)")
        i += 1
    return opts


def main(argv: list[str] | None = None, callbacks: Sequence[Any] = ()) -> int:
    """The command; ``callbacks`` are extra Lightning callbacks for the run (for tests and tools)."""
    return command_main(PROG, argv, lambda args: train(args, callbacks))


def train(argv: list[str], callbacks: Sequence[Any] = ()) -> int:
    from zoo import schema
    from zoo.recipes import import_user_code, list_recipes, resolve_recipe
    from zoo.registry import MODELS

    opts = split_argv(argv)
    import_user_code(opts["imports"])  # (before the model list: it may add to it)
    if opts.get("help") or opts["model"] is None:
        models = ", ".join(schema.names(MODELS))
        if opts.get("help"):
            print(USAGE.format(models=models, recipes=", ".join(list_recipes())))
            return 0
        raise UsageError(f"missing MODEL (one of: {models}); see --help")
    cfg = resolve_recipe(opts["model"], opts["configs"], opts["overrides"] + opts["scalars"], opts["imports"])
    if opts["print_config"]:
        print(dump_yaml(cfg), end="")
        return 0

    from zoo.data.tables import check_table

    check_table(cfg)  # a table's mistakes in one line before the heavy imports, as options are
    from zoo.training import fit

    result = fit(opts["model"], config=cfg, callbacks=callbacks, resume=opts.get("resume"))
    if launched_rank() == 0:  # one summary per run, not one per process
        print(json.dumps(result.summary, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
