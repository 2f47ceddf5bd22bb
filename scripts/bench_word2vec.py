"""zoo's word2vec against gensim's, side by side on this machine: speed, quality, memory.

    python scripts/bench_word2vec.py                  # brown.txt at 1x, 2x and 10x (about 15 minutes)
    python scripts/bench_word2vec.py --repeats 1      # 1x only

Both sides run as their own process, timed from its start to the end of training (imports, reading,
vocabulary, training; zoo's per-epoch checkpoints and similarity scores included), then evaluated
untimed:
- gensim: ``Word2Vec(sentences, sg=1, workers=2, vector_size=100, window=5, negative=5, min_count=5,
  sample=1e-3, epochs=5)`` on the corpus tokenised with ``gensim.utils.simple_preprocess`` line by line,
  held in memory as lists of words (the usual way);
- zoo: ``zoo.fit("word2vec", data.path=CORPUS)``, 2 threads, twice: its first run on the corpus, with
  a fresh token cache (tokenising is timed too: what a user meets first), and again with that cache.
Words/s are corpus words x epochs / seconds. Peak RSS is the process's maximum resident set; the
"model" column subtracts what the process held after importing its libraries, i.e. the memory that
depends on the corpus and the vocabulary.
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

GENSIM = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()

    def peak_mb():  # this process's high-water mark (ru_maxrss would include the parent's, from before exec)
        return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024

    from gensim.models import Word2Vec
    from gensim.utils import simple_preprocess
    baseline = peak_mb()
    path, epochs = sys.argv[1], int(sys.argv[2])
    sentences = [simple_preprocess(line) for line in open(path, encoding="utf-8")]
    sentences = [s for s in sentences if s]
    model = Word2Vec(sentences, sg=1, workers=2, vector_size=100, window=5, negative=5, min_count=5,
                     sample=1e-3, epochs=epochs, seed=0, compute_loss=True)
    seconds = time.perf_counter() - start
    rss = peak_mb()
    from gensim.test.utils import datapath
    kv = model.wv
    out = dict(seconds=seconds, words=sum(map(len, sentences)),
               wordsim353=kv.evaluate_word_pairs(datapath("wordsim353.tsv"))[1][0],
               simlex999=kv.evaluate_word_pairs(datapath("simlex999.txt"))[1][0],
               analogy=kv.evaluate_word_analogies(datapath("questions-words.txt"))[0],
               rss_mb=rss, base_mb=baseline, loss=model.get_latest_training_loss())
    print(json.dumps(out))
    """
)

ZOO = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()

    def peak_mb():
        return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024

    import lightning as L
    import zoo
    zoo.resolve_recipe("word2vec")  # import everything the command imports
    baseline = peak_mb()
    path, epochs, cache, runs = sys.argv[1:5]

    class Clock(L.Callback):
        def on_fit_end(self, trainer, pl_module):
            self.end = time.perf_counter()  # the clock stops where gensim's does

    clock = Clock()
    result = zoo.fit("word2vec", overrides=["--data.path", path, "--data.cache_dir", cache,
        "--trainer.max_epochs", epochs, "--trainer.default_root_dir", runs], callbacks=[clock], quiet=True)
    summary = result.summary
    # Timed: imports, tokenising into the cache, vocabulary, training with its per-epoch checkpoints and
    # similarity scores. Not timed, on both sides: the final evaluation (analogies take seconds).
    total = clock.end - start
    out = dict(seconds=total, words=result.task.corpus_words, train_s=summary["train_time_s"],
               rss_mb=peak_mb(), base_mb=baseline, **summary["test"])
    print(json.dumps(out))
    """
)


def run(script: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, nargs="+", default=[1, 2, 10], help="corpus sizes, as copies of brown.txt"
    )
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    if not BROWN.is_file():
        raise SystemExit(f"missing {BROWN}: the benchmark reads the shared Brown corpus")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeats in args.repeats:
            corpus = Path(tmp) / f"brown-x{repeats}.txt"
            text = BROWN.read_text(encoding="utf-8")
            corpus.write_text(text * repeats, encoding="utf-8")
            g = run(GENSIM, str(corpus), str(args.epochs))
            cache = str(Path(tmp) / f"cache-{time.time()}")
            z = run(ZOO, str(corpus), str(args.epochs), cache, str(Path(tmp) / "runs"))  # first run: tokenises
            again = run(ZOO, str(corpus), str(args.epochs), cache, str(Path(tmp) / "runs"))  # the cache reused
            for name, r in (("gensim", g), ("zoo, first run", z), ("zoo, cache reused", again)):
                rows.append(
                    [
                        f"brown x{repeats}",
                        name,
                        f"{r['words'] * args.epochs / r['seconds']:,.0f}",
                        f"{r['seconds']:.1f}",
                        f"{r['wordsim353']:.3f}",
                        f"{r['simlex999']:.3f}",
                        f"{r['analogy']:.3f}",
                        f"{r['rss_mb']:,.0f}",
                        f"{r['rss_mb'] - r['base_mb']:,.0f}",
                    ]
                )
            ratio = (z["words"] / z["seconds"]) / (g["words"] / g["seconds"])
            rows.append(
                [
                    f"brown x{repeats}",
                    "zoo first run / gensim",
                    f"{ratio:.2f}x",
                    "",
                    "",
                    "",
                    "",
                    f"{z['rss_mb'] / g['rss_mb']:.2f}x",
                    f"{(z['rss_mb'] - z['base_mb']) / max(1, g['rss_mb'] - g['base_mb']):.2f}x",
                ]
            )
            if "train_s" in z:
                print(
                    f"brown x{repeats}: zoo trained {z['words'] * args.epochs / z['train_s']:,.0f} words/s "
                    f"over its training batches alone ({z['train_s']:.1f} s)",
                    file=sys.stderr,
                )
    print(f"\n{machine()}\n")
    print(
        table(
            [
                "corpus",
                "",
                "words/s (whole process)",
                "seconds",
                "wordsim353",
                "simlex999",
                "analogy",
                "peak RSS MB",
                "model MB (peak - after imports)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
