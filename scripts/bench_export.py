"""LeNet-5 latency of an exported model in onnxruntime beside PyTorch eager, on 2 threads; and a table
model's ONNX file, which takes raw rows, beside ``task.predict``, per row at batch 1 and 1000.

    python scripts/bench_export.py                  # 5 rounds of 200 calls at batch 1 (and 20 at batch 64)
    python scripts/bench_export.py --rounds 9 --calls 1000
    python scripts/bench_export.py --only table     # the table model alone

The LeNet-5 of the default recipe (batch norm, 28x28 inputs; weights as built, untrained: latency does
not depend on them) is exported with ``zoo.export_model`` to ONNX and to a .pt2 program, and each
runtime answers the same real uint8 digit images, normalisation included:
- torch eager: the task's own forward (what ``task.predict`` runs), under ``torch.inference_mode``;
- torch.export: the reloaded .pt2 program's ``module()``, under ``torch.inference_mode``;
- onnxruntime: an ``InferenceSession`` on the CPU with 2 intra-op threads;
- torch eager and onnxruntime on 1 thread each: where other processes use the same cores, torch's
  threads wait for one another at every operation, and one thread can be faster than two; on 1 thread
  both runtimes compare like for like on a busy machine.
All run in this one process, torch with ``torch.set_num_threads(2)`` but for the 1-thread rows. Each call is
timed on its own (``time.perf_counter_ns``) after a warm-up round of half as many calls; the rounds
alternate the runtimes, so the machine's drift falls on all alike; the table gives the median and 90th
percentile of all calls, and the machine's load average says whether other work shared the cores.
onnxruntime's idle threads normally spin waiting for work, which on 2 cores took the cores from
PyTorch's threads in the same process (PyTorch's 90th percentile grew tens of times): its spinning is
turned off here (``session.intra_op.allow_spinning = 0``), as it should be in any process that shares
the cores with other work.

The table (``--only table``): the MLP of the README's tumours command (32-16, ReLU, dropout; weights as
built) on ``examples/tumours.csv`` (9 numeric columns, 3 of them with missing cells, and 3 text
columns), exported to ONNX with the table's encoding inside the graph. The rows are the file's, read as
text (a row of 1, then the 569 rows repeated to 1,000):
- ``task.predict`` on a DataFrame of those rows: zoo's encoding (pandas and numpy) and the task's forward,
  the reference;
- onnxruntime on the same rows as arrays, one per column (float32 with NaN, text), on 2 threads and 1;
- onnxruntime with those arrays made from the DataFrame inside each call (``pd.to_numeric`` per numeric
  column), as a service given a DataFrame would do it.
Times are per row: the median call divided by the batch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

import zoo
from benchlib import ROOT, machine, table
from zoo.exporting import export_model

TABLE = ROOT / "examples" / "tumours.csv"


def timed_calls(call, calls: int) -> list[float]:
    """Microseconds per call."""
    out = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call()
        out.append((time.perf_counter_ns() - start) / 1e3)
    return out


def torch_call(module, x):
    def call():
        with torch.inference_mode():
            module(x)

    return call


def ort_session(path: Path, threads: int):
    """An onnxruntime session on the CPU with ``threads`` intra-op threads that do not spin."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def timed_rounds(runtimes: dict, batches: tuple[int, ...], calls: int, rounds: int, threads: int) -> dict:
    """``{(name, batch): [µs per call]}``: ``runtimes`` maps a name to ``batch -> (call, torch threads)``;
    each round times every runtime in turn (round 0 warms up), ``calls`` at batch 1, a tenth beyond."""
    results: dict[tuple[str, int], list[float]] = {}
    for batch in batches:
        n = calls if batch == 1 else max(1, calls // 10)
        for round in range(rounds + 1):
            print(f"batch {batch}, round {round} of {rounds}", file=sys.stderr, flush=True)
            for name, make in runtimes.items():
                call, torch_threads = make(batch)
                torch.set_num_threads(torch_threads)
                times = timed_calls(call, n if round else n // 2)
                if round:
                    results.setdefault((name, batch), []).extend(times)
        torch.set_num_threads(threads)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per runtime per round at batch 1")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["lenet", "table"], help="one of the two benchmarks (default: both)")
    args = parser.parse_args()
    if args.only != "table":
        bench_lenet(args)
    if args.only != "lenet":
        bench_table(args)


def bench_lenet(args: argparse.Namespace) -> None:
    import onnxruntime as ort

    start_load = os.getloadavg()[0]
    torch.set_num_threads(args.threads)
    data, task = zoo.build("lenet")
    task.eval()
    images = data.test_set.tensors[0][:64]  # real digits, uint8 (64, 1, 28, 28)
    folder = Path(tempfile.mkdtemp())
    onnx_path = export_model(task, "onnx", folder / "lenet.onnx").path
    program = torch.export.load(export_model(task, "pt2", folder / "lenet.pt2").path).module()

    sessions = {args.threads: ort_session(onnx_path, args.threads), 1: ort_session(onnx_path, 1)}

    results: dict[tuple[str, int], list[float]] = {}
    for batch in (1, 64):
        x = images[:batch]
        feeds = {"image": x.numpy()}
        n = args.threads
        runtimes = {  # name: (call, torch threads); the first is the reference
            f"torch eager (task forward), {n} threads: the reference": (torch_call(task, x), n),
            f"torch.export program (.pt2), {n} threads": (torch_call(program, x), n),
            f"onnxruntime (.onnx), {n} threads": (lambda feeds=feeds, s=sessions[n]: s.run(None, feeds), n),
            "torch eager, 1 thread": (torch_call(task, x), 1),
            "onnxruntime, 1 thread": (lambda feeds=feeds, s=sessions[1]: s.run(None, feeds), 1),
        }
        calls = args.calls if batch == 1 else max(1, args.calls // 10)
        for round in range(args.rounds + 1):  # round 0 warms up
            print(f"batch {batch}, round {round} of {args.rounds}", file=sys.stderr, flush=True)
            for name, (call, threads) in runtimes.items():
                torch.set_num_threads(threads)
                times = timed_calls(call, calls if round else calls // 2)
                if round:
                    results.setdefault((name, batch), []).extend(times)
        torch.set_num_threads(args.threads)

    reference = next(iter(runtimes))
    eager = {b: statistics.median(results[reference, b]) for b in (1, 64)}
    rows = []
    for name in runtimes:
        one, many = results[name, 1], results[name, 64]
        rows.append(
            [
                name,
                f"{statistics.median(one):.0f}",
                f"{statistics.quantiles(one, n=10)[-1]:.0f}",
                f"{eager[1] / statistics.median(one):.1f}x",
                f"{statistics.median(many) / 1e3:.2f}",
                f"{eager[64] / statistics.median(many):.1f}x",
            ]
        )
    print(
        f"\n{machine()}, onnxruntime {ort.__version__}; {args.rounds} rounds of {args.calls} calls at batch 1 "
        f"({max(1, args.calls // 10)} at batch 64); load average {start_load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    headers = ["runtime", "batch 1: median (µs)", "p90 (µs)", "vs eager", "batch 64: median (ms)", "vs eager"]
    print(table(headers, rows))


def bench_table(args: argparse.Namespace) -> None:
    import numpy as np
    import onnxruntime as ort
    import pandas as pd

    start_load = os.getloadavg()[0]
    torch.set_num_threads(args.threads)
    overrides = {
        "data.name": "csv",
        "data.path": str(TABLE),
        "data.target": "diagnosis",
        "model.hidden": [32, 16],
        "model.activation": "relu",
        "model.dropout": 0.2,
    }
    _, task = zoo.build("mlp", overrides=overrides)
    task.eval()
    path = export_model(task, "onnx", Path(tempfile.mkdtemp()) / "table.onnx").path
    sessions = {args.threads: ort_session(path, args.threads), 1: ort_session(path, 1)}
    file_rows = pd.read_csv(TABLE, dtype=str, keep_default_na=False).drop(columns="diagnosis")
    rows = {1: file_rows.head(1), 1000: pd.concat([file_rows] * 2, ignore_index=True).head(1000)}
    kinds = {i.name: i.type for i in sessions[1].get_inputs()}

    def feeds_of(frame):
        return {
            name: pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float32)
            if kind == "tensor(float)"
            else frame[name].to_numpy(dtype=object)
            for name, kind in kinds.items()
        }

    feeds = {batch: feeds_of(frame) for batch, frame in rows.items()}
    # each runtime: batch -> (call, torch threads); the first is the reference
    n = args.threads
    runtimes = {
        f"task.predict (DataFrame of text cells), {n} threads: the reference": lambda b: (
            lambda: task.predict(rows[b]),
            n,
        ),
        f"onnxruntime, arrays per column, {n} threads": lambda b: (lambda: sessions[n].run(None, feeds[b]), n),
        "onnxruntime, arrays per column, 1 thread": lambda b: (lambda: sessions[1].run(None, feeds[b]), 1),
        f"onnxruntime, arrays made from the DataFrame in the call, {n} threads": lambda b: (
            lambda: sessions[n].run(None, feeds_of(rows[b])),
            n,
        ),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (predict's count of categories never seen, said at every call)
        results = timed_rounds(runtimes, (1, 1000), args.calls, args.rounds, args.threads)

    reference = next(iter(runtimes))
    per_row = {key: statistics.median(times) / key[1] for key, times in results.items()}
    out = []
    for name in runtimes:
        out.append(
            [
                name,
                f"{per_row[name, 1]:.0f}",
                f"{per_row[reference, 1] / per_row[name, 1]:.1f}x",
                f"{per_row[name, 1000]:.2f}",
                f"{per_row[reference, 1000] / per_row[name, 1000]:.1f}x",
            ]
        )
    print(
        f"\n{TABLE.name} ({len(kinds)} columns, {len(file_rows)} rows), the MLP 32-16 as exported; {machine()}, "
        f"onnxruntime {ort.__version__}; {args.rounds} rounds of {args.calls} calls at batch 1 "
        f"({max(1, args.calls // 10)} at batch 1000); load average {start_load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    headers = ["runtime", "batch 1: µs per row", "vs task.predict", "batch 1000: µs per row", "vs task.predict"]
    print(table(headers, out))


if __name__ == "__main__":
    main()
