"""Retrain every weight zoo ships from its recipe, measure it on held-out data, write it and its model
card into zoo/weights/ (a script run by hand, not a test; about 30 minutes on 2 CPU cores).

    python scripts/make_weights.py                          # all of them
    python scripts/make_weights.py --only lenet:fashion-mnist
    python scripts/make_weights.py --check                  # retrain into a temporary folder and compare

Each weight is trained exactly as its card's command says (``python -m zoo.train ...``, run here through
``zoo.fit``), its best checkpoint reduced to what inference needs (the task's name, its constructor
arguments, the state dict with floats stored as float16: half the size, and scores that move by less
than the tolerance), then scored from that file: the figures on the card are the shipped file's.
``--check`` retrains and says whether each figure lands within ``tolerance`` of the card's.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import zoo
from benchlib import machine
from zoo.checkpoint import atomic_write, atomic_write_text, safe_load
from zoo.pretrained import CARDS_FILE, WEIGHTS_DIR

FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_DATA = {
    "name": (
        "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000 training and 10,000 test images of 10 "
        "kinds of clothing, 28x28 grey"
    ),
    "licence": "MIT (Zalando Research)",
    "source": "https://github.com/zalandoresearch/fashion-mnist (Debian: apt-get install dataset-fashion-mnist)",
    "held_out": "the 10,000 test images (never trained or validated on)",
}
IMAGE_PREPROCESSING = (
    "28x28 grey images, uint8 0-255 or floats in [0, 1], dark background (as Fashion-MNIST's); the task "
    "normalises with input_mean/input_std itself; the bare nn.Module (get_model(..., weights=...)) expects "
    "(x - input_mean) / input_std on [0, 1] images"
)

# name -> how it is made: the model, the command's --config and overrides, what its card says, how it is scored
WEIGHTS = {
    "lenet:fashion-mnist": {
        "model": "lenet",
        "config": ["lenet_fashion_mnist"],
        "overrides": [],
        "data": FASHION_DATA,
        "preprocessing": IMAGE_PREPROCESSING,
        "score": "fashion_mnist",
        "tolerance": {"test_acc": 0.006},
    },
    "mlp:fashion-mnist": {
        "model": "mlp",
        "config": ["mlp_fashion_mnist"],
        "overrides": [],
        "data": FASHION_DATA,
        "preprocessing": IMAGE_PREPROCESSING + " (flattened to 784 features inside the model)",
        "score": "fashion_mnist",
        "tolerance": {"test_acc": 0.006},
    },
    "lstm:tinyshakespeare": {
        "model": "lstm",
        "config": ["lstm_tinyshakespeare"],
        # The 90-second recipe, trained for 6,000 steps (about 6.1M characters, ~3.5 minutes on 2 idle
        # cores) with its cosine over the steps instead of the clock.
        "overrides": ["--trainer.max_time", "null", "--trainer.max_steps", "6000", "--scheduler.over", "steps"],
        "data": {
            "name": (
                "tiny shakespeare (char-rnn, nanoGPT): 1,115,394 characters of Shakespeare's plays, shipped"
                " in zoo (--data.name tinyshakespeare)"
            ),
            "licence": "public domain",
            "source": "zoo/data/files/tinyshakespeare.txt.gz, as published with Karpathy's char-rnn",
            "held_out": "the last 10% of the text (nanoGPT's validation split; zoo's validation 5% + test 5%)",
        },
        "preprocessing": (
            "text, one token per character; prompt characters outside the 65-character vocabulary are "
            "refused in one line"
        ),
        "score": "shakespeare",
        "tolerance": {"nats_per_char_last_10pct": 0.01},
    },
    "word2vec:wikipedia-sample": {
        "model": "word2vec",
        "config": [],
        # gensim's skip-gram defaults (dim 100, window 5, negative 5, sample 1e-3, min_count 5), 20 epochs:
        # 453,000 words are few, and 20 passes (9M training words) give the vectors room to spread.
        "overrides": ["--data.name", "wikipedia_sample", "--trainer.max_epochs", "20"],
        "data": {
            "name": (
                "the English Wikipedia sample gensim ships (106 articles of the 2017 dump, 452,944 words "
                "after gensim's WikiCorpus extraction; --data.name wikipedia_sample)"
            ),
            "licence": (
                "CC BY-SA 3.0 (Wikipedia's text): these vectors are shared under CC BY-SA 3.0, with "
                "attribution to Wikipedia's contributors"
            ),
            "source": (
                "gensim.test.utils.datapath('enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2')"
            ),
            "held_out": (
                "wordsim353 and simlex999 (Spearman correlation with human judgements) and questions-"
                "words.txt (analogies), the files gensim ships"
            ),
        },
        "preprocessing": "lowercase words as gensim's WikiCorpus or simple_preprocess gives them",
        "score": "word_benchmarks",
        "tolerance": {"wordsim353": 0.03, "simlex999": 0.03},
    },
}


def reduce_checkpoint(checkpoint_path: Path, out: Path) -> None:
    """What inference needs from a training checkpoint: the task's name and arguments and its state dict,
    floats as float16 (loading casts them back to the weights' float32)."""
    checkpoint = safe_load(checkpoint_path)
    state = {
        k: v.half() if v.is_floating_point() and v.dtype == torch.float32 else v
        for k, v in checkpoint["state_dict"].items()
    }
    kept = {"zoo_task": checkpoint["zoo_task"], "hyper_parameters": checkpoint["hyper_parameters"], "state_dict": state}
    atomic_write(out, lambda f: torch.save(kept, f))


def score(kind: str, task) -> dict[str, float]:
    """The card's figures, measured on the held-out data from the shipped file's task."""
    if kind == "fashion_mnist":
        from zoo.data.idx import read_idx

        x = torch.from_numpy(np.array(read_idx(FASHION / "t10k-images-idx3-ubyte.gz"))).unsqueeze(1)
        y = torch.from_numpy(np.array(read_idx(FASHION / "t10k-labels-idx1-ubyte.gz"), dtype=np.int64))
        with torch.no_grad():
            logits = torch.cat([task(x[i : i + 1000]) for i in range(0, len(x), 1000)])
        return {
            "test_acc": round((logits.argmax(1) == y).float().mean().item(), 4),
            "test_loss": round(torch.nn.functional.cross_entropy(logits, y).item(), 4),
        }
    if kind == "shakespeare":
        from zoo.data.text import read_text, shipped_text

        text = read_text(shipped_text("tinyshakespeare"))
        nats = task.nats_per_token(text[int(len(text) * 0.9) :])
        return {"nats_per_char_last_10pct": round(nats, 4), "bits_per_char_last_10pct": round(nats / np.log(2), 4)}
    if kind == "word_benchmarks":
        return {k: round(v, 4) for k, v in task.similarity_scores(analogies=True).items()}
    raise ValueError(kind)


def gensim_reference(corpus: Path, epochs: int) -> dict[str, float]:
    """gensim's skip-gram on the same corpus with the same settings, scored the same way."""
    from gensim.models import Word2Vec

    from zoo.tasks.skipgram import analogy_scores, gensim_benchmark

    sentences = [line.split() for line in open(corpus, encoding="utf-8")]
    model = Word2Vec(
        sentences,
        sg=1,
        workers=2,
        vector_size=100,
        window=5,
        negative=5,
        min_count=5,
        sample=1e-3,
        epochs=epochs,
        seed=0,
    )
    kv = model.wv
    return {
        "wordsim353": round(kv.evaluate_word_pairs(gensim_benchmark("wordsim353.tsv"))[1][0], 4),
        "simlex999": round(kv.evaluate_word_pairs(gensim_benchmark("simlex999.txt"))[1][0], 4),
        **{k: round(v, 4) for k, v in analogy_scores(kv).items()},
    }


def make(name: str, spec: dict, folder: Path) -> dict:
    model = spec["model"]
    command = " ".join(["python -m zoo.train", model, *[f"--config {c}" for c in spec["config"]], *spec["overrides"]])
    print(f"$ {command}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as runs:
        result = zoo.fit(
            model, config=spec["config"], overrides=[*spec["overrides"], "--trainer.default_root_dir", runs], quiet=True
        )
        file = folder / f"{name.replace(':', '-')}.ckpt"
        reduce_checkpoint(result.checkpoint, file)
    seconds = time.perf_counter() - start
    task = zoo.load_checkpoint(file)
    hparams = task.hparams
    card = {
        "model": model,
        "name": name.split(":", 1)[1],
        "file": file.name,
        "task": task.name,
        "data": spec["data"],
        "preprocessing": spec["preprocessing"],
        "metrics": score(spec["score"], task),
        "params": sum(p.numel() for p in task.model.parameters()),
        "file_size": file.stat().st_size,
        "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
        "dtype": "float16 on disk (trained in float32; loaded as float32)",
        "zoo_version": zoo.__version__,
        "command": command,
        "model_kwargs": dict(hparams.model_kwargs),
        "trained": {
            "date": str(datetime.date.today()),
            "machine": machine(),
            "seconds": round(seconds),
            "epochs": result.summary["epochs"],
            "best_by": result.summary.get("best_by"),
        },
        "tolerance": spec["tolerance"],
    }
    if task.name == "classification":
        card |= {"classes": list(task.class_names), "input_mean": hparams.input_mean, "input_std": hparams.input_std}
    elif task.name == "language_model":
        card["vocabulary"] = {"level": task.level, "size": len(task.vocab), "tokens": "".join(task.vocab)}
    elif task.name == "skipgram":
        card["vocabulary"] = {
            "size": len(task.vocab),
            "most_frequent": task.vocab[:20],
            "corpus_words": task.corpus_words,
        }
        from zoo.data.corpus import wikipedia_sample

        corpus = wikipedia_sample(Path.home() / ".cache" / "zoo" / "corpus")
        card["reference"] = {
            "gensim 4.4, the same corpus and settings": gensim_reference(corpus, result.summary["epochs"])
        }
    return card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(WEIGHTS), default=list(WEIGHTS))
    parser.add_argument(
        "--check", action="store_true", help="retrain into a temporary folder and compare with the cards"
    )
    args = parser.parse_args()
    cards = json.loads(CARDS_FILE.read_text()) if CARDS_FILE.exists() else {}
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) if args.check else WEIGHTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.only:
            card = make(name, WEIGHTS[name], folder)
            if args.check:
                for metric, tolerance in card["tolerance"].items():
                    shipped, again = cards[name]["metrics"][metric], card["metrics"][metric]
                    verdict = "ok" if abs(again - shipped) <= tolerance else "OUTSIDE"
                    failed += [name] if verdict != "ok" else []
                    print(f"{name} {metric}: card {shipped}, retrained {again} (tolerance {tolerance}): {verdict}")
            else:  # (read again: another run of this script may have written a card meanwhile)
                cards = json.loads(CARDS_FILE.read_text()) if CARDS_FILE.exists() else {}
                cards[name] = card
                atomic_write_text(
                    CARDS_FILE, json.dumps(dict(sorted(cards.items())), indent=1, ensure_ascii=False) + "\n"
                )
                print(f"{name}: {json.dumps(card['metrics'])}, {card['file_size']:,} bytes", flush=True)
    if failed:
        sys.exit(f"outside the tolerance: {', '.join(failed)}")


if __name__ == "__main__":
    main()
