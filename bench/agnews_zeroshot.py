"""Accuracy of builtin:zeroshot on AG News, template chosen on dev only.

AG News is for research use: it is read from ../shared/data at run time and never
copied into the repository.

    python bench/agnews_zeroshot.py --choose          # score candidate templates on agnews/dev.tsv
    python bench/agnews_zeroshot.py                   # the default template on all 7,600 test rows
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

import explainers as ex
from explainers import zeroshot as zs

LABELS = ["World", "Sports", "Business", "Sci/Tech"]
TEMPLATES = [
    "This example is {}.",
    "{}",
    "This is a news article about {}.",
    "News about {}.",
    "This text is about {}.",
    "A {} news story.",
    "{} news.",
]


def read(path: Path, limit: int | None = None) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if len(r) == 2]
    rows = rows[:limit] if limit else rows
    return [r[0].replace(" #39;", "'").replace("#39;", "'") for r in rows], [r[1] for r in rows]


def accuracy(clf, texts, gold, template) -> float:
    cand = zs.candidates(LABELS, template)
    hyps = zs.sentence_embeddings(clf, cand.hypotheses)
    hits = 0
    for start in range(0, len(texts), 64):
        cos = zs.sentence_embeddings(clf, texts[start:start + 64]) @ hyps.T
        pred = cos.argmax(-1).cpu().numpy()
        hits += sum(LABELS[p] == g for p, g in zip(pred, gold[start:start + 64]))
    return hits / len(texts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "agnews"))
    p.add_argument("--choose", action="store_true", help="compare templates on dev.tsv")
    p.add_argument("--template", default=zs.DEFAULT_TEMPLATE_SIMILARITY)
    p.add_argument("--limit", type=int, default=None, help="first N rows only")
    args = p.parse_args()
    clf = ex.load("builtin:zeroshot")
    data = Path(args.data)
    if args.choose:
        texts, gold = read(data / "dev.tsv", args.limit)
        for template in TEMPLATES:
            print(f"dev  {accuracy(clf, texts, gold, template):.4f}  {template!r}  ({len(texts)} rows)", flush=True)
        return
    texts, gold = read(data / "test.tsv", args.limit)
    started = time.perf_counter()
    acc = accuracy(clf, texts, gold, args.template)
    print(f"test {acc:.4f}  template {args.template!r}  labels {LABELS}  rows {len(texts)}  "
          f"{time.perf_counter() - started:.0f}s")
    preds = ex.predict(clf, texts[:50], labels=LABELS, template=args.template)
    agree = np.mean([pr.label == LABELS[int(np.argmax(list(pr.scores.values())))] for pr in preds])
    print(f"ex.predict agrees with the batched scoring on the first 50 rows: {agree:.0%}")


if __name__ == "__main__":
    main()
