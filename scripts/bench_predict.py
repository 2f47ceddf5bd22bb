"""``python -m zoo.predict`` against the way timm's ``inference.py`` predicts a folder of images, in plain
torch, on the 10,000 Fashion-MNIST test images written out as PNG files in class folders.

    python scripts/bench_predict.py                 # 3 rounds, batch 256, 2 reader processes
    python scripts/bench_predict.py --rounds 5 --batch_size 64

The reference is written from the published description of timm's inference script (not its code): a
dataset over the image files (PIL, converted to grey, resized, ``ToTensor`` + ``Normalize``), a
``DataLoader`` with worker processes and the same batch size, the model in eval mode under
``torch.inference_mode``, top-k of the softmax, one CSV row per image. It runs the same shipped LeNet
weights (``zoo.get_model("lenet", weights="fashion-mnist")``), so the two sides must also agree on
every prediction; the script checks that they do. Both sides are timed as whole processes (what a user
waits for: imports, weights, reading, predicting, writing), alternating, and the table gives the median.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine, table

FASHION = Path("/usr/share/datasets/fashion-mnist")

# The reference, run as its own process: plain torch and torchvision, no zoo code on the data path.
REFERENCE = r"""
import csv, sys
from pathlib import Path
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
import zoo

folder, out, batch_size, workers = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
card = zoo.weight_card("lenet:fashion-mnist")
model = zoo.get_model("lenet", weights="fashion-mnist").eval()
mean, std = card["input_mean"], card["input_std"]
classes = card["classes"]
transform = transforms.Compose([
    transforms.Grayscale(1), transforms.Resize((28, 28)), transforms.ToTensor(), transforms.Normalize(mean, std)
])

class Files(Dataset):
    def __init__(self, files):
        self.files = files
    def __len__(self):
        return len(self.files)
    def __getitem__(self, i):
        with Image.open(self.files[i]) as img:
            return transform(img.convert("RGB"))

files = sorted(p for p in folder.rglob("*.png"))
loader = DataLoader(Files(files), batch_size=batch_size, num_workers=workers)
rows, n = [], 0
with torch.inference_mode():
    for x in loader:
        top = model(x).softmax(1).topk(3, dim=1)
        for values, idx in zip(top.values.tolist(), top.indices.tolist()):
            rows.append([str(files[n])] + [c for k, p in zip(idx, values) for c in (classes[k], f"{p:.4f}")])
            n += 1
with open(out, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["input", "class_1", "prob_1", "class_2", "prob_2", "class_3", "prob_3"])
    writer.writerows(rows)
"""


def write_pngs(folder: Path) -> int:
    """The Fashion-MNIST test set as PNG files, FOLDER/<class>/<index>.png."""
    import numpy as np
    from PIL import Image

    import zoo
    from zoo.data.idx import read_idx

    classes = zoo.weight_card("lenet:fashion-mnist")["classes"]
    images = np.array(read_idx(FASHION / "t10k-images-idx3-ubyte.gz"))
    labels = np.array(read_idx(FASHION / "t10k-labels-idx1-ubyte.gz"))
    for name in classes:
        (folder / name.replace("/", "-")).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(folder / classes[label].replace("/", "-") / f"{i:05d}.png")
    return len(images)


def timed(cmd: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return seconds


def top1(path: Path) -> dict[str, str]:
    with open(path, newline="") as f:
        return {Path(r["input"]).name: r["class_1"] for r in csv.DictReader(f)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = write_pngs(tmp / "images")
        (tmp / "reference.py").write_text(REFERENCE)
        zoo_cmd = [
            sys.executable, "-m", "zoo.predict", "lenet:fashion-mnist", str(tmp / "images"),
            "--batch_size", str(args.batch_size), "--workers", str(args.workers), "--out", str(tmp / "zoo.csv"),
        ]  # fmt: skip
        ref_cmd = [
            sys.executable, str(tmp / "reference.py"), str(tmp / "images"), str(tmp / "ref.csv"),
            str(args.batch_size), str(args.workers),
        ]  # fmt: skip
        times: dict[str, list[float]] = {"zoo": [], "reference": []}
        for r in range(args.rounds):
            order = [("zoo", zoo_cmd), ("reference", ref_cmd)]
            for name, cmd in order if r % 2 == 0 else order[::-1]:
                times[name].append(timed(cmd))
                print(f"round {r + 1}: {name} {times[name][-1]:.2f} s", file=sys.stderr, flush=True)
        ours, theirs = top1(tmp / "zoo.csv"), top1(tmp / "ref.csv")
        agree = sum(ours[k] == theirs.get(k) for k in ours) / len(ours)

    z, ref = statistics.median(times["zoo"]), statistics.median(times["reference"])
    print(f"\n{machine()}; load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{n:,} Fashion-MNIST test PNGs, batch {args.batch_size}, {args.workers} readers, {args.rounds} rounds")
    print(f"top-1 agreement between the two: {agree:.4f}\n")
    print(
        table(
            ["", "whole process, median (s)", "range (s)", "images/s"],
            [
                [
                    "zoo.predict lenet:fashion-mnist",
                    round(z, 2),
                    f"{min(times['zoo']):.2f}-{max(times['zoo']):.2f}",
                    f"{n / z:,.0f}",
                ],
                [
                    "timm-style plain torch (reference)",
                    round(ref, 2),
                    f"{min(times['reference']):.2f}-{max(times['reference']):.2f}",
                    f"{n / ref:,.0f}",
                ],
            ],
        )  # fmt: skip
    )
    print(f"\nzoo.predict takes {z / ref:.2f}x the reference's time")


if __name__ == "__main__":
    main()
