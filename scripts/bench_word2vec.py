"""zoo's word2vec against gensim's on a corpus neither has seen, whole processes side by side.

    python scripts/bench_word2vec.py                      # both corpora, threads as the machine gives them
    python scripts/bench_word2vec.py --omp-threads 1      # the same with OMP_NUM_THREADS=1 (a shared machine)
    python scripts/bench_word2vec.py --only small         # one corpus

Two corpora made from ../shared/data/brown.txt (no network):
- ``small``, a stand-in for three Gutenberg books: brown.txt's first lines up to 390,000 words
  (gensim's simple_preprocess words: its first 21,160 lines), 10 epochs;
- ``large``: brown.txt two and a half times over (about 2.45M words), 5 epochs.

Each side is one process, timed by this script from its start:
- zoo: ``python -m zoo.train word2vec --data.path CORPUS``, exactly as a user first runs it on a new
  corpus: a fresh token cache, and the whole run to its exit (imports, tokenising, training with its
  per-epoch checkpoints and similarity scores, the test's evaluation with analogies, vectors.bin, the
  t-SNE map, the summary). Training alone is the summary's ``train_time_s``.
- gensim: ``Word2Vec(sg=1, workers=2, vector_size=100, window=5, negative=5, min_count=5, sample=1e-3)``
  on the corpus read line by line with ``simple_preprocess`` and held in memory (the usual way), timed
  twice: to the moment its vectors are saved (imports, reading, vocabulary, training,
  ``save_word2vec_format``: the stricter comparison for zoo, whose run does more), and to the end of the
  benchmarks zoo's run also reports (wordsim353, simlex999, analogies: like for like). Training alone is
  ``model.train``.
Quality: wordsim353, simlex999 (Spearman) and analogy accuracy, gensim's benchmark files on both sides.
The machine's load average is printed beside each process: these 2 cores are shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchlib import ROOT, SHARED_DATA, machine, table

BROWN = SHARED_DATA / "brown.txt"
CORPORA = {"small": (390_000, 10), "large": (2.5, 5)}  # words (or copies of brown.txt), epochs

GENSIM = textwrap.dedent(
    """
    import json, sys, time
    from gensim.models import Word2Vec
    from gensim.utils import simple_preprocess
    path, epochs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sentences = [s for line in open(path, encoding="utf-8") if (s := simple_preprocess(line))]
    model = Word2Vec(sg=1, workers=2, vector_size=100, window=5, negative=5, min_count=5, sample=1e-3,
                     seed=0)
    model.build_vocab(sentences)
    start = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    train_s = time.perf_counter() - start
    model.wv.save_word2vec_format(out, binary=True)
    done = time.time()
    from gensim.test.utils import datapath
    kv = model.wv
    scores = dict(wordsim353=kv.evaluate_word_pairs(datapath("wordsim353.tsv"))[1][0],
                  simlex999=kv.evaluate_word_pairs(datapath("simlex999.txt"))[1][0],
                  analogy=kv.evaluate_word_analogies(datapath("questions-words.txt"))[0])
    print(json.dumps(dict(done=done, evaluated=time.time(), train_s=train_s, words=sum(map(len, sentences)), **scores)))
    """
)


def load() -> float:
    return os.getloadavg()[0]


def run(cmd: list[str], env: dict[str, str]) -> tuple[dict, float, float, float]:
    """(the last stdout line as JSON, start time, end time, peak RSS in MB) of one process."""
    start, before = time.time(), load()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        end = time.time()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            sys.exit(f"{' '.join(cmd[:4])} failed:\n{err.read()[-3000:]}")
        result = json.loads(out.read().strip().splitlines()[-1])
    result["load"] = f"{before:.1f}-{load():.1f}"
    return result, start, end, usage.ru_maxrss / 1024


def make_corpus(name: str, folder: Path) -> Path:
    from gensim.utils import simple_preprocess

    size, _ = CORPORA[name]
    lines = BROWN.read_text(encoding="utf-8").splitlines(keepends=True)
    if isinstance(size, float):  # copies of brown.txt
        text = "".join(lines) * int(size) + "".join(lines[: int(len(lines) * (size % 1))])
    else:  # the first lines up to `size` words
        words, end = 0, 0
        while words < size:
            words += len(simple_preprocess(lines[end]))
            end += 1
        text = "".join(lines[:end])
    path = folder / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(CORPORA), nargs="+", default=list(CORPORA))
    parser.add_argument("--omp-threads", type=int, default=None, help="OMP_NUM_THREADS for both sides (default: unset)")
    args = parser.parse_args()
    if not BROWN.is_file():
        raise SystemExit(f"missing {BROWN}: the benchmark reads the shared Brown corpus")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    if args.omp_threads:
        env["OMP_NUM_THREADS"] = str(args.omp_threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            corpus, epochs = make_corpus(name, Path(tmp)), CORPORA[name][1]
            g, start, _, g_rss = run(
                [sys.executable, "-c", GENSIM, str(corpus), str(epochs), str(Path(tmp) / "gensim.bin")], env
            )
            g_saved, g_evaluated = g["done"] - start, g["evaluated"] - start
            z, start, end, z_rss = run(
                [
                    sys.executable,
                    "-m",
                    "zoo.train",
                    "word2vec",
                    "--data.path",
                    str(corpus),
                    "--trainer.max_epochs",
                    str(epochs),
                    "--data.cache_dir",
                    str(Path(tmp) / f"cache-{time.time()}"),  # a corpus zoo has never seen
                    "--trainer.default_root_dir",
                    str(Path(tmp) / "runs"),
                ],
                env,
            )
            z_whole = end - start
            label = f"{name}: {g['words']:,} words x {epochs} epochs"
            for side, whole, train_s, scores, rss, load in (
                ("gensim 4.4, to its saved vectors", g_saved, g["train_s"], g, g_rss, g["load"]),
                ("gensim 4.4, and its benchmarks", g_evaluated, g["train_s"], g, g_rss, g["load"]),
                ("zoo, its whole run", z_whole, z["train_time_s"], z["test"], z_rss, z["load"]),
            ):
                rows.append(
                    [
                        label,
                        side,
                        f"{whole:.1f}",
                        f"{train_s:.1f}",
                        f"{g['words'] * epochs / train_s:,.0f}",
                        f"{scores['wordsim353']:.3f}",
                        f"{scores['simlex999']:.3f}",
                        f"{scores['analogy']:.3f}",
                        f"{rss:,.0f}",
                        load,
                    ]
                )
            times = f"{z_whole / g_saved:.2f}x / {z_whole / g_evaluated:.2f}x"
            rows.append([label, "zoo / gensim (time)", times, f"{z['train_time_s'] / g['train_s']:.2f}x"] + [""] * 6)
    threads = f"OMP_NUM_THREADS={args.omp_threads}" if args.omp_threads else "OMP_NUM_THREADS unset"
    print(f"\n{machine()}, {threads}\n")
    print(
        table(
            [
                "corpus",
                "",
                "whole process s",
                "training s",
                "training words/s",
                "wordsim353",
                "simlex999",
                "analogy",
                "peak RSS MB",
                "load average (start-end)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
