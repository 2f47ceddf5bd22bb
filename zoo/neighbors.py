"""``python -m zoo.neighbors VECTORS WORD [WORD ...] [--topn 10]``: the nearest words, for a look.

VECTORS is a run directory (its ``vectors.bin``) or a word2vec-format file. A WORD written as
``king-man+woman`` is an analogy: the words nearest to vec(king) - vec(man) + vec(woman).
"""

from __future__ import annotations

import re
import sys

from zoo.commands import OneLineParser, command_main
from zoo.errors import UsageError
from zoo.loading import load_vectors

PROG = "zoo.neighbors"


def parse_query(query: str) -> tuple[list[str], list[str]]:
    """``king-man+woman`` -> (["king", "woman"], ["man"])."""
    positive, negative = [], []
    for sign, word in re.findall(r"([+-]?)([^+-]+)", query.strip()):
        (negative if sign == "-" else positive).append(word.strip())
    return positive, negative


def main(argv: list[str] | None = None) -> int:
    return command_main(PROG, argv, neighbors)


def neighbors(argv: list[str]) -> int:
    parser = OneLineParser(
        prog=f"python -m {PROG}", description="Print the nearest words (or analogies) in trained word vectors."
    )
    parser.add_argument("vectors", help="a run directory or a vectors.bin file")
    parser.add_argument("words", nargs="+", help="words, or analogies written like king-man+woman")
    parser.add_argument("--topn", type=int, default=10)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    if args.topn < 1:
        raise UsageError(f"--topn must be at least 1, got {args.topn}")
    vectors = load_vectors(args.vectors)
    missing: list[str] = []
    for query in args.words:
        positive, negative = parse_query(query)
        if not positive + negative:
            raise UsageError(f"{query!r} names no word: give words, or analogies written like king-man+woman")
        unknown = [w for w in positive + negative if w not in vectors.key_to_index]
        if unknown:  # answer the other queries first; name what is missing at the end
            missing += [w for w in unknown if w not in missing]
            continue
        print(f"{query}:")
        for word, score in vectors.most_similar(positive=positive, negative=negative, topn=args.topn):
            print(f"  {score:.3f}  {word}")
    if missing:
        # (the default tokeniser lowercases, so a capitalised word is the usual miss)
        hints = [f"{w} (try {w.lower()})" if w.lower() in vectors.key_to_index else w for w in missing]
        raise UsageError(f"not in the vocabulary: {', '.join(hints)} ({len(vectors)} words)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
