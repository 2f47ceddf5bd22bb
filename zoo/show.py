"""``python -m zoo.show MODEL_OR_RUN [IMAGE ...] [--out DIR] [--import FILE]``: pictures of what a model learned.

MODEL_OR_RUN is a weight zoo ships (``lenet:fashion-mnist``), a run directory or a checkpoint. A CNN:
its first convolution's filters, and for the IMAGEs given (a few), what each convolution and pooling
makes of them; an MLP on images: an image of each class as it sees it, and what its first units look
for; word vectors: a 2-D map of the most frequent words and the two files TensorFlow's Embedding
Projector opens. A run writes these into its own directory when it ends; this command makes them for
any trained model, into ``--out`` (default: the current directory). A run of a model of your own
needs the module or ``.py`` file that registers it: ``--import my_models.py``, as ``zoo.train`` took it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from zoo.commands import OneLineParser, add_import_option, command_main
from zoo.errors import UsageError

PROG = "zoo.show"


def main(argv: list[str] | None = None) -> int:
    return command_main(PROG, argv, show)


def show(argv: list[str]) -> int:
    parser = OneLineParser(prog=f"python -m {PROG}", description="Pictures of what a trained zoo model learned.")
    parser.add_argument("model", help="a shipped weight (lenet:fashion-mnist), a run directory or a checkpoint")
    parser.add_argument("images", nargs="*", help="a few images to show a CNN's feature maps of")
    parser.add_argument("--out", type=Path, default=Path("."), help="the folder to write into (default: here)")
    add_import_option(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)

    from zoo.pretrained import load_trained
    from zoo.recipes import import_user_code

    import_user_code(args.imports)  # (a run of a model of the user's own: its registration first)
    task = load_trained(args.model)
    images = [Path(p) for p in args.images] or None
    written = task.write_pictures(args.out, images, title=str(args.model))
    if not written:
        raise UsageError(
            f"{args.model} is a {task.name} model: zoo draws pictures of CNNs, MLPs on images and word vectors"
        )
    for path in written:
        print(path)
    if images is None and any(p.name == "filters.png" for p in written):
        print(f"{PROG}: give a few IMAGEs to see the feature maps too", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
