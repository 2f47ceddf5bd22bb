"""``python -m zoo.neighbors VECTORS WORD [WORD ...] [--topn 10]``: the nearest words, for a look.

VECTORS is a run directory (its ``vectors.bin``), a word2vec-format file, or vectors zoo ships
(``word2vec:wikipedia-sample``). A WORD written as
``king-man+woman`` is an analogy: the words nearest to vec(king) - vec(man) + vec(woman).
"""

from __future__ import annotations

import sys

from zoo.commands import OneLineParser, command_main
from zoo.errors import UsageError
from zoo.loading import print_neighbors
from zoo.pretrained import load_vectors

PROG = "zoo.neighbors"


def main(argv: list[str] | None = None) -> int:
    return command_main(PROG, argv, neighbors)


def neighbors(argv: list[str]) -> int:
    parser = OneLineParser(
        prog=f"python -m {PROG}", description="Print the nearest words (or analogies) in trained word vectors."
    )
    parser.add_argument(
        "vectors", help="a run directory, a vectors.bin file, or shipped vectors (word2vec:wikipedia-sample)"
    )
    parser.add_argument("words", nargs="+", help="words, or analogies written like king-man+woman")
    parser.add_argument("--topn", type=int, default=10)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    if args.topn < 1:
        raise UsageError(f"--topn must be at least 1, got {args.topn}")
    print_neighbors(load_vectors(args.vectors), args.words, args.topn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
