#!/usr/bin/env python
"""Recompute SST-2 accuracy of the shipped `builtin:sst2` checkpoint.

Run from the repository root:

    python training/evaluate_sst2.py                 # through the public API (explainers.load/predict)
    python training/evaluate_sst2.py --direct        # materialise the artifact here, without the package

`--direct` rebuilds the model exactly as the artifact contract says
(BertForSequenceClassification(config) <- base package weights with a `bert.`
prefix <- float16 tensors of weights.safetensors cast to float32) and tokenises
with the base package's tokenizer.  Both paths should print the same number.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LABELS = ("negative", "positive")  # label 0, label 1 in the TSV
sys.path.insert(0, str(REPO_ROOT / "training"))
from train_sst2 import read_tsv  # noqa: E402  (one reader for training and evaluation)


def predict_api(sentences: list[str], checkpoint: str) -> list[str]:
    import explainers as ex

    clf = ex.load(checkpoint)
    preds = ex.predict(clf, sentences)
    return [p.label for p in preds]


def predict_direct(sentences: list[str], artifact: Path, threads: int) -> list[str]:
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    from train_sst2 import base_model_path, load_artifact, predict_labels

    torch.set_num_threads(threads)
    model = load_artifact(artifact)
    tok = AutoTokenizer.from_pretrained(base_model_path())
    ids = tok(sentences, truncation=True, max_length=512)["input_ids"]
    pred = predict_labels(model, ids, tok.pad_token_id)
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    return [id2label[int(i)] for i in np.asarray(pred)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="SST-2 accuracy of builtin:sst2")
    p.add_argument("--data", default="tests/data/sst2_test.tsv",
                   help="TSV with header sentence<TAB>label (1 = positive); relative to the repo root")
    p.add_argument("--direct", action="store_true",
                   help="materialise the artifact here instead of going through explainers.load/predict")
    p.add_argument("--checkpoint", default="builtin:sst2", help="checkpoint for the API path")
    p.add_argument("--artifact", default="explainers/builtin/sst2", help="artifact folder for --direct")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)

    data = Path(args.data)
    if not data.is_absolute():
        data = REPO_ROOT / data
    artifact = Path(args.artifact)
    if not artifact.is_absolute():
        artifact = REPO_ROOT / artifact
    sys.path.insert(0, str(REPO_ROOT))

    sentences, labels = read_tsv(data)
    t0 = time.time()
    if args.direct:
        predicted = predict_direct(sentences, artifact, args.threads)
        how = f"direct ({artifact.relative_to(REPO_ROOT) if artifact.is_relative_to(REPO_ROOT) else artifact})"
    else:
        predicted = predict_api(sentences, args.checkpoint)
        how = f"explainers API ({args.checkpoint})"
    gold = [LABELS[y] for y in labels]
    correct = sum(p == g for p, g in zip(predicted, gold))
    print(f"{how}: accuracy {correct / len(gold):.4f} ({correct}/{len(gold)}) on {data.name}, "
          f"{time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
