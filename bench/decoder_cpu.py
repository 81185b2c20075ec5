"""Can a CPU explain a 0.5B decoder-only classifier? Run by hand.

    python bench/decoder_cpu.py [--tokens 20,120] [--keep FOLDER]

Builds a classifier shaped exactly like Qwen2.5-0.5B (24 layers, hidden 896,
14 query and 2 key-value heads, vocabulary 151,936; timing does not depend on
the weights, so they are random), saves it in bf16 as the real checkpoint is
stored, and goes the way a user of the app goes: the parameter count checked
against the app's default limit before the weights are read, ``ex.load``
(float32), a prediction, saliency, the estimate the Explain page shows before
integrated gradients, and integrated gradients itself (to check the estimate).
Prints a Markdown table for bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import explainers as ex  # noqa: E402
from explainers.checkpoints import parameter_count  # noqa: E402

QWEN25_05B = {"hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
              "intermediate_size": 4864, "vocab_size": 151936, "max_position_embeddings": 32768,
              "tie_word_embeddings": True, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6}
WORDS = ("the film is a gripping , funny and touching story that never lets go of you , though the plot "
         "is dull in places and the acting is worse than it should be ").split()


def build(folder: Path) -> None:
    """A Qwen2.5-0.5B-shaped classifier with two labels and a Qwen-style tokenizer, saved in bf16 (as the
    real checkpoint: ``ex.load`` reads it in float32)."""
    from transformers import Qwen2Config, Qwen2ForSequenceClassification

    import tiny_models

    tok = tiny_models.BUILDERS["qwen3"].tokenizer()
    tok.model_max_length = 32768  # as Qwen's (the tiny tokenizer says 64)
    config = Qwen2Config(**QWEN25_05B, num_labels=2, id2label={0: "negative", 1: "positive"},
                         label2id={"negative": 0, "positive": 1}, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id, bos_token_id=None)
    torch.manual_seed(0)
    model = Qwen2ForSequenceClassification(config)
    with torch.no_grad():  # pad = eos: a fresh model zeroes that row, the real checkpoint's is a trained token's
        model.get_input_embeddings().weight[tok.eos_token_id].normal_(0, config.initializer_range)
    model = model.to(torch.bfloat16)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def text_of(clf, tokens: int) -> str:
    """A text of about ``tokens`` tokens for this tokenizer."""
    words = []
    while len(clf.tokenizer(" ".join(words))["input_ids"]) < tokens:
        words.append(WORDS[len(words) % len(WORDS)])
    return " ".join(words)


def timed(call, *args, **kwargs):
    began = time.perf_counter()
    out = call(*args, **kwargs)
    return out, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", default="20,120", help="text lengths in tokens, comma-separated")
    parser.add_argument("--keep", type=Path, help="build the checkpoint here (and reuse it) instead of a temp folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="qwen05b-"))
    if not (folder / "config.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        _, seconds = timed(lambda: build(folder))
        print(f"built in {seconds:.0f} s", file=sys.stderr)

    from transformers import AutoConfig, AutoModelForSequenceClassification

    limit = float(os.environ.get("STUDIO_MAX_PARAMETERS", "1e9"))  # the app's default (studio/models.py)
    size = parameter_count(AutoConfig.from_pretrained(folder), AutoModelForSequenceClassification)
    clf, load_s = timed(lambda: ex.load(str(folder), max_parameters=limit))
    print(f"# Qwen2.5-0.5B-shaped classifier on CPU ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}), {date.today()}\n")
    print(f"- parameters {size / 1e6:,.0f}M (limit {limit / 1e6:,.0f}M); stored bf16, loaded "
          f"{next(clf.model.parameters()).dtype} in {load_s:.1f} s")
    print("\n| tokens | predict | saliency | IG estimate (shown before it starts) | IG measured |")
    print("|---|---|---|---|---|")
    lengths = [int(n) for n in args.tokens.split(",")]
    for n in lengths:
        text = text_of(clf, n)
        _, predict_s = timed(ex.predict, clf, text)
        _, saliency_s = timed(ex.explain, clf, text, method="saliency")
        est = ex.estimate(clf, text)
        exp, ig_s = timed(ex.explain, clf, text)
        measured = f"{ig_s:.1f} s ({exp.extras['steps']} steps, {exp.convergence_error:.2%} completeness error)"
        print(f"| {n} | {predict_s:.2f} s | {saliency_s:.2f} s | {est.summary()} | {measured} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak resident memory {peak:.1f} GiB. Command: `python bench/decoder_cpu.py --tokens {args.tokens}`")


if __name__ == "__main__":
    main()
