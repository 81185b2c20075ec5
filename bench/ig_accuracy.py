"""How close integrated gradients' token scores are to the exact path integral, not only their sum. Run by hand.

    python bench/ig_accuracy.py [--rows 60] [--long 6]

The tolerance mode stops when the scores' sum is within 1 % of F(x) - F(x'). A sum can be right while
the scores are not: errors of both signs cancel. So each text's scores are compared here with a
reference, the integrand at 257 evenly spaced points integrated by Simpson's rule (its own completeness
error is printed, to show it has converged). Two ways of computing the scores, on the same scorer and
baseline:

- the tolerance mode (``ex.explain``'s default: adaptive trapezoid to 1 %);
- Captum's IntegratedGradients at 50 Gauss-Legendre steps (what a plain Captum call gives).

Per text: the token scores' L1 distance from the reference over the reference's own L1 size; the
largest single-token error over the largest |reference score|; whether the five strongest tokens are
the same five. builtin:sst2, float32; the first ``--rows`` sentences of SST-2 test, the four texts of
bench/speed.py (14, 60, 122 and 480 tokens) and ``--long`` texts of 130-500 tokens
(``bench/ig_steps.py --long``'s). Markdown to stdout.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ig_quadrature import scorer_for  # noqa: E402
from ig_steps import long_texts, sentences  # noqa: E402
from speed import text_of  # noqa: E402

import explainers as ex  # noqa: E402
from explainers import attribution, integration  # noqa: E402

REFERENCE_INTERVALS = 256


def reference(scorer) -> np.ndarray:
    """Token scores from Simpson's rule on REFERENCE_INTERVALS + 1 points, the same fold as every method's."""
    nodes, weights = integration.simpson(REFERENCE_INTERVALS)
    per_use = attribution._gradients_at(scorer, [(0, float(a)) for a in nodes], scorer.examples_per_pass(None))
    integrals = [torch.as_tensor(np.tensordot(weights, v, axes=([0], [0]))[None]) for v in per_use]
    return attribution._fold(scorer, tuple(integrals))[0]


def compare(scores: np.ndarray, ref: np.ndarray) -> dict:
    top = lambda v: set(np.argsort(-np.abs(v))[:5].tolist())  # noqa: E731
    return {"l1": float(np.abs(scores - ref).sum() / np.abs(ref).sum()),
            "worst": float(np.abs(scores - ref).max() / np.abs(ref).max()),
            "top5": top(scores) == top(ref)}


def measure(clf, text: str) -> dict:
    scorer = scorer_for(clf, text)
    start, end = scorer.end_scores()
    scorer = replace(scorer, ends=(start, end))  # read once, as ex.explain does, not again by each method
    gap = float(end[0] - start[0])
    ref = reference(scorer)
    opts = ex.METHODS["integrated_gradients"].resolve({})
    with torch.enable_grad():
        ours = attribution._ig_to_tolerance(scorer, opts)[0]
        captum = attribution._integrated_gradients(scorer, {**opts, "n_steps": 50, "integration": "gausslegendre"})[0]
    return {"tokens": int(scorer.inputs[0].shape[1]), "reference_completeness": abs(ref.sum() - gap) / abs(gap),
            "ours": {**compare(ours.token_scores, ref), "completeness": abs(ours.delta) / abs(gap),
                     "evaluations": ours.extras["steps"]},
            "captum": {**compare(captum.token_scores, ref), "completeness": abs(captum.delta) / abs(gap),
                       "evaluations": 50}}


def summary(results: list[dict], tool: str, key: str) -> str:
    values = np.array([r[tool][key] for r in results], dtype=float)
    return f"{np.median(values):.2%} / {np.quantile(values, 0.9):.2%} / {values.max():.2%}"


def table(name: str, results: list[dict]) -> list[str]:
    lines = []
    for tool, title in (("ours", "ours (tolerance mode, 1 %)"), ("captum", "Captum, 50 Gauss-Legendre steps")):
        evaluations = np.mean([r[tool]["evaluations"] for r in results])
        same = np.mean([r[tool]["top5"] for r in results])
        cells = [summary(results, tool, key) for key in ("completeness", "l1", "worst")]
        lines.append(f"| {name} ({len(results)}) | {title} | {evaluations:.1f} | {' | '.join(cells)} | {same:.0%} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--long", type=int, default=6)
    args = parser.parse_args()
    found = sentences(ROOT / "tests" / "data" / "sst2_test.tsv")
    clf = ex.load("builtin:sst2")
    groups = {"SST-2 sentences": found[:args.rows],
              "bench/speed.py texts": [text_of(clf.tokenizer, n) for n in (14, 60, 122, 480)],
              "long texts": long_texts(found, clf.tokenizer, args.long)}
    began = time.perf_counter()
    measured = {name: [measure(clf, t) for t in texts] for name, texts in groups.items() if texts}
    print(f"builtin:sst2, float32; {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{date.today()}; {time.perf_counter() - began:.0f} s\n")
    print("Median / 90th percentile / largest over the texts. Token error: the scores' L1 distance from the "
          "reference over the reference's L1 size; worst token: the largest single error over the largest "
          "|reference score|.\n")
    print("| texts | scores | evaluations (mean) | completeness error | token error | worst token | same top 5 |")
    print("|---|---|---|---|---|---|---|")
    for name, results in measured.items():
        print("\n".join(table(name, results)))
    worst = max(r["reference_completeness"] for results in measured.values() for r in results)
    print(f"\nThe reference's own completeness error: at most {worst:.4%}.")
    print("\nbench/speed.py's texts, one by one (tokens: ours' token error, Captum's):")
    for r in measured["bench/speed.py texts"]:
        print(f"- {r['tokens']} tokens: {r['ours']['l1']:.2%} in {r['ours']['evaluations']} evaluations, "
              f"{r['captum']['l1']:.2%} in 50")


if __name__ == "__main__":
    main()
