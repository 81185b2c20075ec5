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


def predictions(clf, texts, template) -> list[str]:
    """Top label per text, scored in batches of 64 (cosine similarity, as ex.predict does)."""
    hyps = zs.sentence_embeddings(clf, zs.candidates(LABELS, template).hypotheses)
    out = []
    for start in range(0, len(texts), 64):
        cos = zs.sentence_embeddings(clf, texts[start:start + 64]) @ hyps.T
        out.extend(LABELS[i] for i in cos.argmax(-1).tolist())
    return out


def accuracy(clf, texts, gold, template) -> float:
    return float(np.mean([p == g for p, g in zip(predictions(clf, texts, template), gold)]))


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
    api = [p.label for p in ex.predict(clf, texts[:200], labels=LABELS, template=args.template)]
    agree = np.mean([a == b for a, b in zip(api, predictions(clf, texts[:200], args.template))])
    print(f"ex.predict gives the same labels as this script on the first 200 rows: {agree:.1%}")


if __name__ == "__main__":
    main()
