"""Faults on a GPU, for real: running out of memory and running past a time limit. Run by hand on a
machine with CUDA (bench/RESULTS.md, "Faults on a GPU").

    python bench/gpu_faults.py [--tokenizer FOLDER]

A BERT-base-shaped model (random weights) explains a 480-token text with integrated gradients (64
steps). The GPU is then capped (torch.cuda.set_per_process_memory_fraction) so that a pass of many
examples runs out of memory: the explanation must retry with smaller passes and give what those
passes give; one capped below a single example must say so; a time limit must stop it between passes;
and afterwards the same model must explain exactly as before.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import bert_tokenizer, text_of  # noqa: E402

import explainers as ex  # noqa: E402


def timed(f):
    torch.cuda.synchronize()
    started = time.perf_counter()
    out = f()
    torch.cuda.synchronize()
    return out, time.perf_counter() - started


def main() -> None:
    from transformers import BertConfig, BertForSequenceClassification

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", type=Path)
    parser.add_argument("--cap-gb", type=float, default=6.0, help="GPU memory the process may use in the test")
    args = parser.parse_args()
    tokenizer = bert_tokenizer(args.tokenizer)
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=2)).eval().to("cuda")
    clf = ex.load(model, tokenizer=tokenizer, device="cuda")
    text = text_of(tokenizer, 480)
    total = torch.cuda.get_device_properties(0).total_memory
    print(f"device: {torch.cuda.get_device_name(0)}, {total / 1e9:.0f} GB; torch {torch.__version__}")

    reference, seconds = timed(lambda: ex.explain(clf, text, n_steps=64, internal_batch_size=64))
    print(f"uncapped, 64 examples per pass: {seconds:.2f} s, peak {torch.cuda.max_memory_allocated() / 1e9:.1f} GB")

    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(args.cap_gb * 1e9 / total)
    got, seconds = timed(lambda: ex.explain(clf, text, n_steps=64, internal_batch_size=64))
    per_pass = got.extras.get("examples_per_pass")
    again, _ = timed(lambda: ex.explain(clf, text, n_steps=64, internal_batch_size=per_pass or 64))
    print(f"capped at {args.cap_gb:g} GB, asked 64 per pass: retried down to {per_pass} per pass, {seconds:.2f} s; "
          f"max |difference| from a plain run at {per_pass} per pass: "
          f"{np.abs(got.token_scores - again.token_scores).max():.2e}; from the uncapped run: "
          f"{np.abs(got.token_scores - reference.token_scores).max():.2e}; "
          f"convergence error {got.convergence_error:.2%}")
    auto, seconds = timed(lambda: ex.explain(clf, text))
    print(f"capped, automatic pass size, tolerance mode: {auto.extras.get('examples_per_pass', 'no retry')} per "
          f"pass, {auto.extras['steps']} steps, {seconds:.2f} s, convergence error {auto.convergence_error:.2%}")

    for room, what in ((0.25e9, "room to read the text, not for one example's gradients"),
                       (0.0, "no room even to read the text")):
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction((torch.cuda.memory_allocated() + room) / total)
        try:
            ex.explain(clf, text, n_steps=64, internal_batch_size=8)
            print(f"capped, {what}: NOT refused")
        except ex.ExplainerError as err:
            print(f"capped, {what}: refused: {err}")

    torch.cuda.set_per_process_memory_fraction(1.0)
    try:
        _, seconds = timed(lambda: ex.explain(clf, text, n_steps=2000, internal_batch_size=8, time_limit=0.5))
        print("time limit: NOT stopped")
    except ex.TimeLimitExceeded as err:
        print(f"time limit 0.5 s: {err}")
    after = ex.explain(clf, text, n_steps=64, internal_batch_size=64)
    print(f"afterwards, the same request as the first: identical = "
          f"{np.array_equal(after.token_scores, reference.token_scores)}, max |difference| "
          f"{np.abs(after.token_scores - reference.token_scores).max():.2e}")


if __name__ == "__main__":
    main()
