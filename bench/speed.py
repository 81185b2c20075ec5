"""Integrated gradients against the tools people use today, side by side on one model object. Run by hand.

    pip install --no-deps --target bench/.peers -r bench/requirements-peers.txt   # once
    python bench/speed.py [--device cpu|cuda] [--repeats 5] [--models minilm,bert-base]
                          [--lengths 14,60,122,480] [--zeroshot] [--json out.json]

For each model and text length, in one process and on one model object:

- **ours**: ``ex.explain(clf, text)`` with its defaults (integrated gradients to 1 %
  completeness, auto baseline, the predicted label's probability); ``ours, bf16``:
  the same with ``precision="bf16"``;
- **transformers-interpret** 0.10 (``SequenceClassificationExplainer``, its
  defaults: 50 steps, all in one batch), installed into ``bench/.peers`` only;
- **Captum**: a plain ``LayerIntegratedGradients`` over the word embeddings, 50
  steps in one batch, from the same baseline text ours chose.

Runs alternate (ours, peer, peer, ours, ...) after one warm-up run of each; the
time is the median of ``--repeats``. Each row also gives:

- the completeness error |sum of attributions - (F(x) - F(x'))| / |F(x) - F(x')|,
  each tool's own (its F, its baseline);
- the gradient evaluations (integration points) the tool used;
- peak memory: the process's resident set sampled every millisecond during the
  call (CPU), or ``torch.cuda.max_memory_allocated`` (GPU);
- the floor: one gradient evaluation is a forward and a backward to the
  embeddings, about 4 x (non-embedding parameters) x tokens FLOPs; at the
  tool's evaluations and this machine's measured matrix-multiply peak (the same
  precision) it is the least time the arithmetic alone could take.

``--zeroshot``: 5 candidate labels on a BERT-base-shaped NLI model, ours
(``ex.explain(clf, text, labels=...)``: the predicted label's zero-shot score, as
the pipeline computes it) against transformers-interpret's
``ZeroShotClassificationExplainer`` (which always explains every label, each as
its own entailment probability, 50 steps each), the same template.

Timing does not depend on the weights, so the BERT-base-shaped models are random;
the built-in MiniLM is the real fine-tuned one. Ratios, not absolute times, are
the claims (bench/RESULTS.md).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / ".peers"))

import explainers as ex  # noqa: E402

LABELS = ["politics", "sports", "business", "science", "entertainment"]
# One made-up review, long enough for 480 tokens; a text of n tokens is its shortest word prefix
# that the tokenizer reads as at least n tokens (special tokens counted).
REVIEW = (
    "The first half hour drags, with a script that seems to have been assembled from spare parts of better "
    "thrillers, but once the heist begins the film finds its rhythm: the editing tightens, the jokes land, and "
    "the two leads, who spent the opening scenes trading flat one-liners, suddenly have real chemistry. It is "
    "not a great movie, and the ending is both predictable and rushed, yet I left the theatre smiling, which is "
    "more than I can say for most of this summer's blockbusters. The supporting cast deserves better material: "
    "a wasted villain, a detective who exists only to explain the plot, and a love interest written as an "
    "afterthought. Still, the set pieces are staged with wit, the score never overstays its welcome, and the "
    "city at night has rarely looked so inviting on screen. My friends were split: two loved it, one walked out "
    "after an hour complaining about the noise, and one fell asleep before the twist, which, to be fair, you "
    "can see coming from the trailer. The director clearly loves the genre and knows its rules well enough to "
    "bend them now and then, though never far enough to surprise anyone who has seen more than a handful of "
    "caper films. The dialogue is sharper in the second act, where a long dinner scene, the best thing in the "
    "movie, lets the actors breathe and argue about money, loyalty and the price of getting old in a business "
    "that rewards only the young. Then the plot takes over again and everyone runs. The effects are cheap but "
    "honest, the stunts look real, and the final chase across the rooftops is genuinely thrilling, even if it "
    "makes no sense at all. Would I watch it again? Probably, on a rainy Sunday, with low expectations and good "
    "company. Would I recommend it? To fans of the genre, yes; to anyone else, only if the alternative is "
    "another superhero sequel. It is a flawed, uneven, often lazy film that somehow, against the odds, works "
    "more often than it fails, and I cannot quite explain why I liked it as much as I did. Perhaps it is the "
    "music, perhaps the city, perhaps the two leads, who seem to be having more fun than the script allows. "
    "Go in tired, leave awake. Bring popcorn, leave your logic at the door, and forgive it its sins. "
) * 2


def text_of(tokenizer, n: int) -> str:
    words = REVIEW.split()
    low, high = 1, len(words)
    while low < high:  # the shortest prefix with at least n tokens
        mid = (low + high) // 2
        if len(tokenizer(" ".join(words[:mid]))["input_ids"]) >= n:
            high = mid
        else:
            low = mid + 1
    return " ".join(words[:low])


class PeakMemory:
    """Peak resident memory (CPU, sampled every millisecond) or peak allocated GPU memory, in MiB."""

    def __init__(self, device: str):
        self.device, self.peak, self._stop = device, 0, threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.001)

    def __enter__(self):
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.peak = self.rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self.rss())
        self.mib = self.peak / 2**20


def matmul_peak(device: str, dtype: torch.dtype, repeats: int = 10) -> float:
    """FLOP/s of a square matrix product on random data (2048 on a CPU, 8192 on a GPU): the median of
    ``repeats`` after warm-up."""
    n = 8192 if device == "cuda" else 2048
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    times = []
    for i in range(repeats + 3):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - started)
    return 2 * n**3 / statistics.median(times)


# -- the tools; each returns (relative completeness error, gradient evaluations) --------------------------------

def ours(clf, text: str, **options):
    """Ours; the evaluations are sequences through the model (zero-shot: each step reads every label's pair),
    the bf16 ones given up before a float32 restart included."""
    e = ex.explain(clf, text, **options)
    evaluations = e.extras["steps"] + e.extras.get("bf16_stalled_at", 0)
    return abs(e.delta) / abs(e.score - e.baseline_score), evaluations * len(options.get("labels") or [0])


def peer(model, tokenizer):
    from transformers_interpret import SequenceClassificationExplainer

    explainer = SequenceClassificationExplainer(model, tokenizer)

    def run(text: str):
        explainer(text, n_steps=50)
        lig = explainer.attributions
        total = float(lig._attributions.sum())
        delta = float(lig.delta)
        return abs(delta) / abs(total - delta), 50  # Captum's delta = sum - (F(x) - F(x'))
    return run


def captum(model, clf):
    from captum.attr import LayerIntegratedGradients

    def run(text: str):
        e_ids = clf.tokenizer(text, truncation=True, max_length=clf.max_length, return_tensors="pt")
        ids, mask = e_ids["input_ids"].to(clf.device), e_ids["attention_mask"].to(clf.device)
        with torch.no_grad():
            target = int(model(input_ids=ids, attention_mask=mask).logits.argmax(-1))
        special = clf.tokenizer.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True)
        special = torch.as_tensor(special, device=ids.device).bool()
        baseline = torch.where(special, ids, torch.full_like(ids, clf.tokenizer.pad_token_id))

        def forward(input_ids, attention_mask):
            return model(input_ids=input_ids, attention_mask=attention_mask).logits.softmax(-1)[:, target]

        lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
        attrs, delta = lig.attribute(ids, baselines=baseline, additional_forward_args=(mask,), n_steps=50,
                                     return_convergence_delta=True)
        total, delta = float(attrs.sum()), float(delta)
        return abs(delta) / abs(total - delta), 50
    return run


def peer_zeroshot(model, tokenizer, template: str):
    from transformers_interpret import ZeroShotClassificationExplainer

    explainer = ZeroShotClassificationExplainer(model, tokenizer)

    def run(text: str):
        explainer(text, labels=LABELS, hypothesis_template=template, n_steps=50)
        errors = []
        for lig in explainer.attributions:
            total, delta = float(lig._attributions.sum()), float(lig.delta)
            errors.append(abs(delta) / abs(total - delta))
        return max(errors), 50 * len(LABELS)
    return run


# -- models --------------------------------------------------------------------------------------------------

def bert_tokenizer(folder: Path | None):
    """The BERT-base-uncased vocabulary: the built-in's tokenizer, or the one saved in ``folder``
    (a machine without the built-in's package)."""
    if folder is not None:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(folder))
    return ex.load("builtin:sst2").tokenizer


def models(names, device: str, tokenizer_folder: Path | None):
    """(name, model, tokenizer, Classifier over that model object)."""
    from transformers import BertConfig, BertForSequenceClassification

    for name in names:
        if name == "minilm":
            builtin = ex.load("builtin:sst2", device=device)
            yield "builtin MiniLM-L6 (sst2)", builtin.model, builtin.tokenizer, builtin
        elif name == "bert-base":
            torch.manual_seed(0)
            tokenizer = bert_tokenizer(tokenizer_folder)
            model = BertForSequenceClassification(BertConfig(num_labels=2)).eval().to(device)
            yield "BERT-base shape (random)", model, tokenizer, ex.load(model, tokenizer=tokenizer, device=device)
        else:
            raise SystemExit(f"unknown model {name!r}: use minilm, bert-base")


def nli_model(device: str, tokenizer_folder: Path | None):
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = bert_tokenizer(tokenizer_folder)
    labels = {0: "contradiction", 1: "neutral", 2: "entailment"}
    torch.manual_seed(0)
    config = BertConfig(num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    model = BertForSequenceClassification(config).eval().to(device)
    return model, tokenizer, ex.load(model, tokenizer=tokenizer, device=device)


# -- timing --------------------------------------------------------------------------------------------------

def measure(tools: dict, text: str, repeats: int, device: str) -> dict:
    """Warm up each tool once, then run them in turn ``repeats`` times; per tool: median seconds,
    its completeness error and evaluations (from the last run), and peak memory over all runs."""
    found = {name: {"times": [], "peak_mib": 0.0} for name in tools}
    for tool in tools.values():
        tool(text)
    for _ in range(repeats):
        for name, tool in tools.items():
            with PeakMemory(device) as memory:
                started = time.perf_counter()
                error, evaluations = tool(text)
                if device == "cuda":
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - started
            row = found[name]
            row["times"].append(seconds)
            row["peak_mib"] = max(row["peak_mib"], memory.mib)
            row["error"], row["evaluations"] = error, evaluations
    for row in found.values():
        row["seconds"] = statistics.median(row["times"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="minilm,bert-base")
    parser.add_argument("--lengths", default="14,60,122,480")
    parser.add_argument("--zeroshot", action="store_true",
                        help="also 5-label zero-shot on a BERT-base-shaped NLI model")
    parser.add_argument("--zeroshot-lengths", default="14,60,122")
    parser.add_argument("--no-bf16", action="store_true", help="leave out ours with precision='bf16'")
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument("--tokenizer", type=Path, help="a BERT-base-uncased tokenizer folder (default: the built-in's)")
    args = parser.parse_args()
    device = args.device
    lengths = [int(n) for n in args.lengths.split(",") if n]
    peaks = {"fp32": matmul_peak(device, torch.float32), "bf16": matmul_peak(device, torch.bfloat16)}
    bf16 = not args.no_bf16 and ex.has_bf16(device)
    print(f"# {date.today()}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else ""))
    print(f"# matrix-multiply peak: fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s")
    rows = []

    def report(model_name, body, n_tokens, found):
        for tool, row in found.items():
            precision = "bf16" if "bf16" in tool else "fp32"
            floor = 4 * body * n_tokens * row["evaluations"] / peaks[precision]
            row.update(model=model_name, tokens=n_tokens, tool=tool, floor_s=floor)
            rows.append(row)
        reference = found[next(t for t in found if t.startswith("transformers-interpret"))]["seconds"]
        for tool, row in found.items():
            print(f"| {model_name} | {n_tokens} | {tool} | {row['seconds']:.3f} | {reference / row['seconds']:.2f}x | "
                  f"{row['error']:.2%} | {row['evaluations']} | {row['peak_mib']:,.0f} | {row['floor_s']:.3f} |",
                  flush=True)

    print("| model | tokens | tool | median s | speed vs t-i | completeness error | evaluations | peak MiB | floor s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model_name, model, tokenizer, clf in models([m for m in args.models.split(",") if m], device, args.tokenizer):
        body = clf.body_parameters
        tools = {"ours": lambda t, clf=clf: ours(clf, t)}
        if bf16:
            tools["ours, bf16"] = lambda t, clf=clf: ours(clf, t, precision="bf16")
        tools["transformers-interpret, 50 steps"] = peer(model, tokenizer)
        tools["Captum LIG, 50 steps"] = captum(model, clf)
        for n in lengths:
            text = text_of(tokenizer, n)
            n_tokens = len(tokenizer(text)["input_ids"])
            report(model_name, body, n_tokens, measure(tools, text, args.repeats, device))
    if args.zeroshot:
        model, tokenizer, clf = nli_model(device, args.tokenizer)
        body, template = clf.body_parameters, "This example is {}."
        tools = {"ours": lambda t: ours(clf, t, labels=LABELS, template=template)}
        if bf16:
            tools["ours, bf16"] = lambda t: ours(clf, t, labels=LABELS, template=template, precision="bf16")
        tools["transformers-interpret, 50 steps"] = peer_zeroshot(model, tokenizer, template)
        for n in [int(n) for n in args.zeroshot_lengths.split(",") if n]:
            text = text_of(tokenizer, n)
            n_tokens = len(tokenizer(text, template.format(LABELS[0]))["input_ids"])  # one pair: text and hypothesis
            report("BERT-base NLI shape (random), 5 labels", body, n_tokens, measure(tools, text, args.repeats, device))
    if args.json:
        args.json.write_text(json.dumps({"date": str(date.today()), "device": device, "torch": torch.__version__,
                                         "peaks": peaks, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
