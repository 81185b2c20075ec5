"""How many gradient evaluations the tolerance mode needs, over many real sentences. Run by hand.

    python bench/ig_steps.py [--data tests/data/sst2_test.tsv] [--rows 300] [--long 20]

Integrated gradients with its defaults (1 % completeness, adaptive trapezoid,
auto baseline) on builtin:sst2, in float32 and in bf16, over the first
``--rows`` sentences of an SST-2 file. A tool with a fixed step count spends the
same on every text; this one spends what each text needs, so its speed against
one depends on this distribution. In bf16, a text whose bf16 F(x) - F(x') is off
float32's by more than ``BF16_OFFSET_SHARE`` of the allowed error runs in float32
from the start ("offset: float32"); one bf16 has not taken to the tolerance in
``BF16_PATIENCE`` evaluations starts again in float32 ("stalled: float32"), and
its evaluations count both.

``--long N``: instead of the sentences one batch at a time, N longer texts of
about 130, 200, 300, 400 and 500 tokens in turn, each made of sentences of the
file drawn at random (seed 0), explained one at a time as the app explains them
(from 128 tokens the app's default precision is bf16). Markdown to stdout.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import explainers as ex  # noqa: E402

LONG_TOKENS = (130, 200, 300, 400, 500)


def sentences(path: Path) -> list[str]:
    """The sentences of an SST-2 file (tab-separated, a header line), in order."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[0].strip() for line in lines]


def long_texts(sentences: list[str], tokenizer, n: int) -> list[str]:
    """``n`` texts of at least LONG_TOKENS tokens in turn, each of sentences drawn at random (seed 0)."""
    rng, texts = random.Random(0), []
    for i in range(n):
        text = ""
        while len(tokenizer(text)["input_ids"]) < LONG_TOKENS[i % len(LONG_TOKENS)]:
            text = f"{text} {rng.choice(sentences)}".strip()
        texts.append(text)
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "sst2_test.tsv")
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--long", type=int, default=0, help="explain this many longer texts one at a time instead")
    args = parser.parse_args()
    found = sentences(args.data)
    clf = ex.load("builtin:sst2")
    texts = long_texts(found, clf.tokenizer, args.long) if args.long else found[:args.rows]
    precisions = ["fp32"] + (["bf16"] if ex.has_bf16("cpu") else [])
    what = f"{len(texts)} texts made of sentences of" if args.long else f"{len(texts)} sentences of"
    print(f"# {date.today()}, builtin:sst2, {what} {args.data.name}, "
          f"{np.median([len(clf.tokenizer(t)['input_ids']) for t in texts]):.0f} tokens median")
    print("| precision | median | mean | 90th percentile | most | share at 17 | cap hit | share over 1 % | "
          "offset: float32 | stalled: float32 | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for precision in precisions:
        started = time.perf_counter()
        found = ([ex.explain(clf, t, precision=precision) for t in texts] if args.long
                 else ex.explain_many(clf, texts, precision=precision))
        seconds = time.perf_counter() - started
        steps = np.array([e.extras["steps"] + e.extras.get("bf16_stalled_at", 0) for e in found])
        offset = sum("bf16_offset" in e.extras for e in found)
        restarted = sum("bf16_stalled_at" in e.extras for e in found)
        errors = np.array([abs(e.delta) / max(abs(e.gap), 1e-12) for e in found])
        capped = sum(bool(e.extras["cap_hit"]) for e in found)
        print(f"| {precision} | {np.median(steps):.0f} | {steps.mean():.1f} | {np.percentile(steps, 90):.0f} | "
              f"{steps.max()} | {np.mean(steps == 17):.0%} | {capped} | "
              f"{np.mean((errors > 0.01) & (np.abs([e.delta for e in found]) > 1e-4)):.0%} | "
              f"{offset / len(found):.0%} | {restarted / len(found):.0%} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
