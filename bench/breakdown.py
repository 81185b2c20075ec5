"""Where the time of one explanation goes, on a BERT-base-shaped model at 122 tokens. Run by hand.

    python bench/breakdown.py [--device cuda] [--tokenizer FOLDER]

Median milliseconds of ``ex.explain`` (integrated gradients, defaults) in
float32 and bf16, then of its parts: tokenizing, one forward pass of one text
(the prediction), reading the text (``api._read``: prediction and the auto
baseline's candidates), and one forward and backward pass of the 17 first
path points. On a GPU the parts are launch- and Python-bound, far above the
arithmetic floor (bench/RESULTS.md).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import bert_tokenizer, text_of  # noqa: E402

import explainers as ex  # noqa: E402
from explainers import api  # noqa: E402


def main() -> None:
    from transformers import BertConfig, BertForSequenceClassification

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tokenizer", type=Path)
    args = parser.parse_args()
    device = args.device
    tokenizer = bert_tokenizer(args.tokenizer)
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=2)).eval().to(device)
    clf = ex.load(model, tokenizer=tokenizer, device=device)
    text = text_of(tokenizer, 122)

    def ms(f, n: int = 20) -> float:
        f()
        times = []
        for _ in range(n):
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            f()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)

    for precision in ("fp32", "bf16") if ex.has_bf16(device) else ("fp32",):
        print(f"explain, {precision}: {ms(lambda p=precision: ex.explain(clf, text, precision=p), 10):.1f} ms")
    task = ex.task_for(clf)
    x = task.read(text)
    opts = ex.METHODS["integrated_gradients"].resolve({})
    print(f"tokenize: {ms(lambda: task.read(text)):.1f} ms")
    print(f"one forward pass (the prediction): {ms(lambda: task.logits(x)):.1f} ms")
    print(f"read the text (prediction, auto baseline): {ms(lambda: api._read(task, text, opts, None, None)):.1f} ms")
    row = api._read(task, text, opts, None, None)
    scorer = task.scorer(row.x, [row.target], None, row.baseline_ids, "probability")
    points = scorer.inputs[0].expand(17, -1, -1).clone().requires_grad_(True)
    rows = torch.zeros(17, dtype=torch.long, device=device)
    print("forward and backward, 17 path points: "
          f"{ms(lambda: torch.autograd.grad(scorer.forward(points, rows).sum(), points)):.1f} ms")


if __name__ == "__main__":
    main()
