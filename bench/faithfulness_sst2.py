"""How faithful is each method on the built-in sentiment model? SST-2 test, mask removal. Run by hand.

    python bench/faithfulness_sst2.py [--data tests/data/sst2_test.tsv] [--methods a,b] [--limit N]
                                      [--out bench/faithfulness_sst2.json] [--table]

Explains every sentence (the predicted label's probability, each method's
default options) and measures ``ex.faithfulness`` with mask removal at 10-50%
of the words, five seeded random word orders. Each method's per-sentence
numbers are saved to ``--out`` as they finish (JSON, one key per method), so
methods can run in separate processes and a run can be resumed; ``--table``
prints the Markdown table for bench/RESULTS.md from that file: mean AOPC
comprehensiveness and sufficiency per method, the random orders as a row,
each method's comprehensiveness as a multiple of random's, and the time per
sentence. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import explainers as ex  # noqa: E402

EDIN_2024 = {  # Edin et al. 2024 ("Normalized AOPC"), BERT fine-tuned on SST-2, mask removal: comprehensiveness
    "occlusion": 0.194, "lime": 0.168, "integrated_gradients": 0.125, "input_x_gradient": 0.109,
    "attention_last": 0.095, "random": 0.079,
}


def sentences(path: Path, limit: int | None) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r["sentence"] for r in csv.DictReader(f, delimiter="\t")]
    return rows[:limit] if limit else rows


def measure(clf, texts: list[str], method: str, save, random_orders: int = 5) -> list[dict]:
    """Per sentence: the method's and the random orders' AOPCs, and the seconds to explain;
    ``save(rows)`` every 64 sentences, so that a long run can be read (and cut) part way."""
    out = []
    batch = 8 if ex.METHODS[method].batched else 1
    for start in range(0, len(texts), batch):
        began = time.perf_counter()
        exps = ex.explain_many(clf, texts[start:start + batch], method=method, batch_size=batch)
        seconds = (time.perf_counter() - began) / len(exps)
        for exp in exps:
            f = ex.faithfulness(clf, exp, removal="mask", curves=False, random_orders=random_orders)
            out.append({"comprehensiveness": f.comprehensiveness, "sufficiency": f.sufficiency,
                        "random_comprehensiveness": f.random_comprehensiveness,
                        "random_sufficiency": f.random_sufficiency, "seconds": seconds,
                        "steps": exp.extras.get("steps"), "cap_hit": exp.extras.get("cap_hit")})
        print(f"{method}: {len(out)}/{len(texts)}", end="\r", file=sys.stderr, flush=True)
        if len(out) % 64 < batch:
            save(out)
    print(file=sys.stderr)
    return out


def table(results: dict, meta: dict) -> str:
    """Means per method; "x random" divides by the random orders' mean on the same sentences (the random
    orders depend only on the words, so one method's run measures them for all)."""
    def mean(rows: list[dict], key: str) -> float:
        return float(np.mean([r[key] for r in rows]))

    random = max((rows for rows in results.values() if rows[0]["random_comprehensiveness"] is not None), key=len)
    lines = [f"{meta['date']}, {meta['machine']}, {meta['threads']} torch thread(s) per process, builtin:sst2, "
             f"SST-2 test sentences, mask removal, 10-50% of the words, 5 random orders "
             f"(`{meta['command']}`)", "",
             "| method | sentences | comprehensiveness ↑ | × random | sufficiency ↓ | s per sentence "
             "| Edin et al. 2024 comp. |",
             "|---|---|---|---|---|---|---|"]
    rows, ratios = [], {}
    for method, found in results.items():
        comp = mean(found, "comprehensiveness")
        ratios[method] = comp / mean(random[:len(found)], "random_comprehensiveness")
        rows.append((comp, f"| {ex.METHODS[method].title} | {len(found)} | {comp:.3f} | {ratios[method]:.2f} | "
                           f"{mean(found, 'sufficiency'):.3f} | {mean(found, 'seconds'):.3f} | "
                           f"{EDIN_2024.get(method, '–')} |"))
    lines += [line for _, line in sorted(rows, reverse=True)]
    lines.append(f"| random word order | {len(random)} | {mean(random, 'random_comprehensiveness'):.3f} | 1.00 | "
                 f"{mean(random, 'random_sufficiency'):.3f} | – | {EDIN_2024['random']} |")
    best = max(ratios, key=ratios.get)
    lines += ["", f"Most faithful here (comprehensiveness over random's): {ex.METHODS[best].title}."]
    ig = [r for r in results.get("integrated_gradients", []) if r["steps"] is not None]
    if ig:
        steps = [r["steps"] for r in ig]
        lines.append(f"Integrated gradients used {np.median(steps):.0f} steps per sentence (median; max "
                     f"{max(steps)}), cap hit on {sum(bool(r['cap_hit']) for r in ig)} of {len(ig)}.")
    return "\n".join(lines)


def machine() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "sst2_test.tsv")
    parser.add_argument("--methods", default=",".join(ex.METHODS), help="comma-separated method names")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sentences")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "faithfulness_sst2",
                        help="folder of per-method results (one JSON each)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--random-orders", type=int, default=5,
                        help="random orders per sentence (they do not depend on the method: 0 for all but one run)")
    parser.add_argument("--table", action="store_true", help="print the table from --out and stop")
    args = parser.parse_args()
    if not args.table:
        torch.set_num_threads(args.threads)
        clf = ex.load("builtin:sst2")
        texts = sentences(args.data, args.limit)
        args.out.mkdir(parents=True, exist_ok=True)
        for method in args.methods.split(","):
            meta = {"date": str(date.today()), "machine": machine(), "threads": args.threads,
                    "sentences": len(texts), "command": "python bench/faithfulness_sst2.py"}
            path = args.out / f"{method}.json"

            def save(rows: list[dict], path: Path = path, meta: dict = meta) -> None:
                path.write_text(json.dumps({"meta": meta, "rows": rows}))

            save(measure(clf, texts, method, save, args.random_orders))
    saved = {p.stem: json.loads(p.read_text()) for p in sorted(args.out.glob("*.json"))}
    order = [m for m in ex.METHODS if m in saved]
    print(table({m: saved[m]["rows"] for m in order}, saved[order[0]]["meta"]))


if __name__ == "__main__":
    main()
