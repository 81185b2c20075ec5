"""Rows per second of `explainers batch` on the SST-2 test split (872 sentences), run by hand.

    python bench/batch_sst2.py [--data ../shared/data/sst2/test.tsv] [--runs 1]
                               [--methods saliency,integrated_gradients] [--engines local,ray]
                               [--option precision=bf16] [--root ANOTHER_CHECKOUT]

Runs the command line as a user would (a new process each time, the built-in
sentiment model, results to a temporary Parquet file) for saliency and
integrated gradients (its defaults), with the local engine and with Ray on
this machine, and prints a Markdown table for bench/RESULTS.md: wall time of
the whole command, rows per second over that time, and accuracy. ``--root``
runs another checkout's code (a before/after comparison on one machine).
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def once(data: Path, method: str, engine: str, options: list[str], root: Path) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "explainers", "batch", str(data), "--text-column", "sentence",
               "--label-column", "label", "--method", method, "--engine", engine, "--out", f"{tmp}/out.parquet"]
        cmd += [arg for option in options for arg in ("--option", option)]
        started = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env={**os.environ, "CI": ""})
        wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    rows = int(re.search(r"wrote ([\d,]+) rows", out.stdout).group(1).replace(",", ""))
    accuracy = float(re.search(r"accuracy: ([\d.]+)", out.stdout).group(1))
    return wall, rows, accuracy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2" / "test.tsv")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--methods", default="saliency,integrated_gradients")
    p.add_argument("--engines", default="local,ray")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="passed to every run")
    p.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs (default: this one)")
    args = p.parse_args()
    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; python "
          f"{platform.python_version()}, torch {torch.__version__}; date {time.strftime('%Y-%m-%d')}\n")
    print("| method | engine | rows | wall s (median) | rows/s | accuracy |")
    print("| --- | --- | --- | --- | --- | --- |")
    for method in args.methods.split(","):
        for engine in args.engines.split(","):
            runs = [once(args.data, method, engine, args.option, args.root) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in runs)
            rows, accuracy = runs[0][1], runs[0][2]
            print(f"| {method} | {engine} | {rows} | {wall:.1f} | {rows / wall:.1f} | {accuracy:.4f} |", flush=True)


if __name__ == "__main__":
    main()
