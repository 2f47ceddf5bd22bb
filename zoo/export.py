"""``python -m zoo.export MODEL_OR_RUN --format onnx|pt2 [--out FILE] [--import MODULE_OR_FILE]``

Write a trained classifier or regression (lenet, mlp) or language model (lstm) as an ONNX file
(``--format onnx``, for onnxruntime and other ONNX runtimes; needs ``pip install 'zoo[export]'``) or a
``torch.export`` program (``--format pt2``, for PyTorch without zoo). MODEL_OR_RUN is a shipped weight
(``lenet:fashion-mnist``; ``python -m zoo.predict --list`` lists them), a run directory or a checkpoint
file. The graph takes raw inputs (uint8 pixels, unscaled features, token ids; a table model's ONNX file,
the table's columns as the file holds them, missing cells included) with any batch size; class names,
target names or the vocabulary go inside the file, and a regression's numbers come out in the targets'
units. See ``zoo/exporting.py`` for what each graph takes.
A run of a model of your own needs the module or ``.py`` file that registers it: ``--import my_models.py``.
"""

from __future__ import annotations

import sys

from zoo.commands import OneLineParser, add_import_option, command_main

PROG = "zoo.export"
FORMATS = ("onnx", "pt2")  # (zoo.exporting.FORMATS, without importing it for --help and usage errors)


def main(argv: list[str] | None = None) -> int:
    return command_main(PROG, argv, export)


def export(argv: list[str]) -> int:
    parser = OneLineParser(
        prog=f"python -m {PROG}", description="Export a trained zoo model to ONNX or a torch.export program."
    )
    parser.add_argument(
        "source",
        metavar="MODEL_OR_RUN",
        help="a shipped weight (lenet:fashion-mnist), a run directory or a checkpoint file (.ckpt)",
    )
    parser.add_argument("--format", required=True, choices=FORMATS, help="onnx (onnxruntime) or pt2 (torch.export)")
    parser.add_argument(
        "--out",
        help="the file to write (default: MODEL-WEIGHTS.onnx here, RUN_DIR/MODEL.onnx, or beside the checkpoint)",
    )
    add_import_option(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)

    from zoo.exporting import export_model
    from zoo.recipes import import_user_code

    import_user_code(args.imports)  # (a run of a model of the user's own: its registration first)
    done = export_model(args.source, args.format, args.out)
    size = done.path.stat().st_size
    runtime = "onnxruntime" if done.format == "onnx" else "the reloaded program"
    print(f"wrote {done.path} ({size / 1e6:.2f} MB)" if size >= 1e6 else f"wrote {done.path} ({size / 1e3:.0f} kB)")
    print(f"  takes    {done.inputs}")
    print(f"  returns  {done.outputs}")
    print(f"  checked  {runtime} matches PyTorch to {done.max_abs_diff:.1e} on {done.checked_on}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
