"""``python -m zoo.generate CHECKPOINT --prompt "ROMEO:" --length 500 --temperature 0.8 [--top_k 40] [--seed N]``

Continue a prompt with a trained language model. CHECKPOINT is a ``.ckpt`` file, a run directory
(its best checkpoint) or a shipped language model (``lstm:tinyshakespeare``). The text goes to
stdout; with ``--seed`` the same command prints the same text. A prompt word outside the model's
vocabulary is named in one line on stderr and read as ``<unk>`` (when the vocabulary has one). A run
of a model of your own needs the module or ``.py`` file that registers it: ``--import my_models.py``.
"""

from __future__ import annotations

import argparse
import sys

from zoo.commands import OneLineParser, add_import_option, command_main
from zoo.errors import UsageError

PROG = "zoo.generate"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog=f"python -m {PROG}", description="Continue a prompt with a trained zoo language model.")
    parser.add_argument("checkpoint", help="a .ckpt file, a run directory, or lstm:tinyshakespeare")
    parser.add_argument("--prompt", default="", help="text to continue (default: as at a line's start)")
    parser.add_argument("--length", type=int, default=500, help="tokens to generate (characters at char level)")
    parser.add_argument("--temperature", type=float, default=0.8, help="below 1: safer, above 1: wilder")
    parser.add_argument("--top_k", type=int, default=None, help="sample only among the k likeliest tokens")
    parser.add_argument("--seed", type=int, default=None, help="make the output repeatable")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    add_import_option(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if args.length < 0:
        raise UsageError(f"--length must be >= 0, got {args.length}")
    return args


def main(argv: list[str] | None = None) -> int:
    return command_main(PROG, argv, generate)


def generate(argv: list[str]) -> int:
    args = parse(argv)
    import torch

    from zoo.pretrained import load_trained
    from zoo.recipes import import_user_code

    import_user_code(args.imports)  # (a run of a model of the user's own: its registration first)
    task = load_trained(args.checkpoint, map_location=args.device)
    if not hasattr(task, "generate"):
        raise UsageError(f"{args.checkpoint} holds a {task.name} model, which does not generate text")
    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    print(task.generate(args.prompt, args.length, args.temperature, args.top_k, generator=generator))
    return 0


if __name__ == "__main__":
    sys.exit(main())
