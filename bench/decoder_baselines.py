"""Which integrated-gradients baseline should a decoder-only classifier get by default? Run by hand.

    python bench/decoder_baselines.py [--limit 200] [--retrain] [--train ../shared/data/sst2/train.tsv]

Decoder-only ``...ForSequenceClassification`` models (GPT-2, Llama, Qwen, ...) read the
last token and their tokenizers often have no pad, mask or unk token, so the usual
"pad/mask everywhere" baseline does not exist. No real checkpoint can be downloaded
here and random weights say nothing about how uninformative F(x') is, so this script
trains two small classifiers on SST-2 from scratch on CPU (seeded, cached under
bench/decoder_baselines/models/, ``--retrain`` to redo), each with its own byte-level
BPE tokenizer:

- gpt2:   GPT2ForSequenceClassification, only ``<|endoftext|>`` (bos = eos = unk), nothing added, no pad;
- llama3: LlamaForSequenceClassification (2 kv heads), ``<|begin_of_text|>`` prepended,
  eos ``<|end_of_text|>``, no unk, no pad.

For each baseline (text tokens replaced, special tokens kept): eos embedding, unk/pad
embedding where the tokenizer has one, zero vector, mean of the embedding matrix, it
measures on the first --limit test sentences (target = predicted class, F = its
probability, and its logit) how uninformative p(x') is and how fast Captum's
IntegratedGradients ("riemann_trapezoid") reaches completeness. Writes
bench/decoder_baselines/results.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from captum.attr import IntegratedGradients  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    GPT2Config,
    GPT2ForSequenceClassification,
    LlamaConfig,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "decoder_baselines"
STEPS = (16, 32, 64)
TINY = 0.05
TOL = 0.01
SPECIALS = {"gpt2": dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"),
            "llama3": dict(bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")}


def read_tsv(path: Path, limit: int | None = None) -> tuple[list[str], list[int]]:
    """Sentences and 0/1 labels of a ``sentence<TAB>label`` file with a header."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    rows = [r for r in rows if len(r) == 2][:limit]
    return [r[0].strip() for r in rows], [int(r[1]) for r in rows]


def train_tokenizer(texts: list[str], style: str, vocab: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE in the GPT-2 style (one special, nothing added) or Llama-3 style (BOS prepended)."""
    specials = list(dict.fromkeys(SPECIALS[style].values()))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if style == "llama3":
        bos = "<|begin_of_text|>"
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A",
                                                           special_tokens=[(bos, tok.token_to_id(bos))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIALS[style])


def build_model(style: str, tok, width: int, layers: int):
    """A small randomly initialised decoder classifier with no pad token in its config, like the real ones."""
    common = dict(vocab_size=len(tok), num_labels=2, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  pad_token_id=None)
    if style == "gpt2":
        cfg = GPT2Config(n_embd=width, n_layer=layers, n_head=4, n_positions=128, **common)
        return GPT2ForSequenceClassification(cfg)
    cfg = LlamaConfig(hidden_size=width, intermediate_size=width * 8 // 3, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=False, **common)
    return LlamaForSequenceClassification(cfg)


def pooled_logits(model, ids=None, mask=None, embeds=None) -> torch.Tensor:
    """Head on the last real token (what ...ForSequenceClassification does), computed without a pad id."""
    hidden = model.base_model(input_ids=ids, inputs_embeds=embeds, attention_mask=mask).last_hidden_state
    last = mask.sum(1) - 1 if mask is not None else torch.full((hidden.shape[0],), hidden.shape[1] - 1)
    return model.score(hidden[torch.arange(hidden.shape[0]), last])


def batches(tok, texts, labels, size, seed=None, max_len=64):
    """Right-padded (input_ids, attention_mask, labels) batches of similar lengths (shuffled when seeded)."""
    enc = [e[:max_len] for e in tok(texts)["input_ids"]]
    order = list(range(len(texts)))
    if seed is not None:
        random.Random(seed).shuffle(order)
    chunks = [sorted(order[i:i + 50 * size], key=lambda j: len(enc[j])) for i in range(0, len(order), 50 * size)]
    groups = [c[i:i + size] for c in chunks for i in range(0, len(c), size)]
    if seed is not None:
        random.Random(seed + 1).shuffle(groups)
    for idx in groups:
        n = max(len(enc[j]) for j in idx)
        ids = torch.tensor([enc[j] + [tok.eos_token_id] * (n - len(enc[j])) for j in idx])
        mask = torch.tensor([[1] * len(enc[j]) + [0] * (n - len(enc[j])) for j in idx])
        yield ids, mask, torch.tensor([labels[j] for j in idx])


@torch.no_grad()
def accuracy(model, tok, texts, labels) -> float:
    """Share of correct predictions."""
    model.eval()
    hits = sum((pooled_logits(model, ids, mask).argmax(-1) == y).sum().item()
               for ids, mask, y in batches(tok, texts, labels, 256))
    return hits / len(texts)


def train(style, args, data) -> tuple:
    """Train (or load from the cache) one tokenizer + classifier; returns (model, tokenizer, meta)."""
    path = OUT / "models" / style
    if path.exists() and not args.retrain:
        tok = PreTrainedTokenizerFast.from_pretrained(path)
        cls = GPT2ForSequenceClassification if style == "gpt2" else LlamaForSequenceClassification
        return cls.from_pretrained(path).eval(), tok, json.loads((path / "meta.json").read_text())
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    tok = train_tokenizer(data["train"][0], style, args.vocab)
    model = build_model(style, tok, args.width, args.layers)
    total = args.epochs * math.ceil(len(data["train"][0]) / args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.05)
    for epoch in range(args.epochs):
        model.train()
        for ids, mask, y in batches(tok, *data["train"], args.batch, seed=args.seed + epoch):
            loss = torch.nn.functional.cross_entropy(pooled_logits(model, ids, mask), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
        print(f"  {style} epoch {epoch + 1}: loss {loss.item():.3f}, dev {accuracy(model, tok, *data['dev']):.3f}",
              flush=True)
    meta = dict(train_seconds=round(time.perf_counter() - started, 1), steps=total,
                parameters=sum(p.numel() for p in model.parameters()),
                dev_accuracy=accuracy(model, tok, *data["dev"]), test_accuracy=accuracy(model, tok, *data["test"]),
                tokens=dict(bos=tok.bos_token, eos=tok.eos_token, unk=tok.unk_token, pad=tok.pad_token,
                            mask=tok.mask_token))
    model.eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    (path / "meta.json").write_text(json.dumps(meta, indent=1))
    return model, tok, meta


def baseline_vectors(model, tok) -> dict[str, torch.Tensor]:
    """One replacement vector per candidate the tokenizer allows; unk/pad only when they exist and differ from eos."""
    emb = model.get_input_embeddings().weight.detach()
    out = {"eos": emb[tok.eos_token_id]}
    for name in ("unk", "pad"):
        tid = getattr(tok, f"{name}_token_id")
        if tid is not None and tid != tok.eos_token_id:
            out[name] = emb[tid]
    out.update(zero=torch.zeros(emb.shape[1]), mean=emb.mean(0))
    return out


def entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in nats of each row of a probability matrix."""
    return -(p * np.log(np.clip(p, 1e-12, None))).sum(-1)


def measure(model, tok, texts, prior: float, outputs=("prob",)) -> dict:
    """Per baseline: p(x') statistics and IG completeness (probability, optionally logit target) over the texts.

    Captum's "riemann_trapezoid" puts weights 1/n (1/2n at the ends) on n nodes linspace(0, 1, n): they sum to
    1 - 1/n, so even a linear path misses completeness by 1/n. Attributions are linear in the weights, so the
    true trapezoid on the same nodes (weights 1/(n-1)) is the Captum sum times n/(n-1): both are reported.
    """
    emb_layer = model.get_input_embeddings()
    vectors = baseline_vectors(model, tok)
    raw = {b: dict(p_base=[], gap=[], **{f"{o}_{q}{n}": [] for o in outputs for q in ("captum", "trap") for n in STEPS})
           for b in vectors}
    for text in texts:
        enc = tok(text, return_special_tokens_mask=True)
        ids = torch.tensor([enc["input_ids"]])
        keep = torch.tensor(enc["special_tokens_mask"], dtype=torch.bool)
        with torch.no_grad():
            x = emb_layer(ids)
            logits = pooled_logits(model, embeds=x)
            assert torch.allclose(logits, model(ids).logits, atol=1e-4), "pooled_logits disagrees with the model"
        target = int(logits.argmax())
        funcs = {"prob": lambda e, t=target: pooled_logits(model, embeds=e).softmax(-1)[:, t],
                 "logit": lambda e, t=target: pooled_logits(model, embeds=e)[:, t]}
        for name, vec in vectors.items():
            base = torch.where(keep[None, :, None], x, vec.expand_as(x))
            r = raw[name]
            with torch.no_grad():
                p_base = pooled_logits(model, embeds=base).softmax(-1)[0]
            r["p_base"].append(p_base.tolist())
            r["gap"].append(float(logits.softmax(-1)[0, target] - p_base[target]))
            for out in outputs:
                f = funcs[out]
                with torch.no_grad():
                    diff = float(f(x) - f(base))
                ig = IntegratedGradients(f)
                for n in STEPS:
                    _, delta = ig.attribute(x, baselines=base, n_steps=n, method="riemann_trapezoid",
                                            return_convergence_delta=True)
                    total = float(delta) + diff
                    r[f"{out}_captum{n}"].append(abs(total - diff) / max(abs(diff), 1e-12))
                    r[f"{out}_trap{n}"].append(abs(total * n / (n - 1) - diff) / max(abs(diff), 1e-12))
    summary = {}
    for name, r in raw.items():
        p = np.array(r["p_base"])
        gap = np.array(r["gap"])
        s = dict(mean_abs_p_minus_half=float(np.abs(p[:, 1] - 0.5).mean()),
                 mean_abs_p_minus_prior=float(np.abs(p[:, 1] - prior).mean()),
                 mean_p_pos=float(p[:, 1].mean()), sd_p_pos=float(p[:, 1].std()), entropy_nats=float(entropy(p).mean()),
                 share_gap_tiny=float((np.abs(gap) < TINY).mean()), median_abs_gap=float(np.median(np.abs(gap))),
                 share_baseline_more_confident=float((gap < 0).mean()))
        for out in outputs:
            for q in ("captum", "trap"):
                for n in STEPS:
                    s[f"{out}_{q}_median_rel_delta_{n}"] = float(np.median(r[f"{out}_{q}{n}"]))
                rel, ok = np.array(r[f"{out}_{q}{STEPS[-1]}"]), np.abs(gap) >= TINY
                s[f"{out}_{q}_share_within_1pct_{STEPS[-1]}"] = float((rel <= TOL).mean())
                s[f"{out}_{q}_share_within_1pct_{STEPS[-1]}_gap_not_tiny"] = (
                    float((rel[ok] <= TOL).mean()) if ok.any() else None)
        summary[name] = s
    return summary


def machine() -> str:
    """CPU model name from lscpu, else platform.processor()."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def table(results: dict, out: str = "prob") -> str:
    """Markdown table, rows = model x baseline, IG on the target's probability (or logit)."""
    last = STEPS[-1]
    steps = " / ".join(map(str, STEPS))
    head = (f"| model | baseline | mean abs(p(x')-0.5) | mean abs(p(x')-prior) | entropy p(x') (nats) | "
            f"abs(F(x)-F(x')) < {TINY} | median rel. delta {steps}, Captum trapezoid | reach 1% by {last}, Captum | "
            f"median rel. delta {steps}, true trapezoid | reach 1% by {last}, true trapezoid |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for model, res in results["models"].items():
        for name, s in res["baselines"].items():
            label = name + (" (= unk = bos)" if model == "gpt2" and name == "eos" else "")
            cells = []
            for q in ("captum", "trap"):
                medians = (s[f"{out}_{q}_median_rel_delta_{n}"] for n in STEPS)
                cells.append(" / ".join(f"{m:.1%}" for m in medians))
                cells.append(f"{s[f'{out}_{q}_share_within_1pct_{last}']:.0%}")
            stats = (f"{s['mean_abs_p_minus_half']:.3f} | {s['mean_abs_p_minus_prior']:.3f} | "
                     f"{s['entropy_nats']:.3f} | {s['share_gap_tiny']:.0%}")
            lines.append(f"| {model} | {label} | {stats} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=ROOT.parent / "shared/data/sst2/train.tsv")
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared/data/sst2/dev.tsv")
    parser.add_argument("--test", type=Path, default=ROOT / "tests/data/sst2_test.tsv")
    parser.add_argument("--limit", type=int, default=200, help="test sentences to explain")
    parser.add_argument("--models", nargs="+", default=["gpt2", "llama3"], choices=["gpt2", "llama3"])
    parser.add_argument("--retrain", action="store_true", help="ignore cached models")
    parser.add_argument("--logit", action="store_true", help="also run IG on the target logit (doubles IG time)")
    parser.add_argument("--vocab", type=int, default=4000)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    hf_logging.set_verbosity_error()
    started = time.perf_counter()
    data = {k: read_tsv(getattr(args, k)) for k in ("train", "dev", "test")}
    prior = float(np.mean(data["train"][1]))
    results = dict(machine=machine(), date=datetime.now().isoformat(timespec="seconds"),
                   command="python " + shlex.join(sys.argv), torch=torch.__version__, prior_positive=prior,
                   limit=args.limit, models={})
    for style in args.models:
        model, tok, meta = train(style, args, data)
        print(f"{style}: dev {meta['dev_accuracy']:.3f}, test {meta['test_accuracy']:.3f}, "
              f"trained in {meta['train_seconds']} s", flush=True)
        t0 = time.perf_counter()
        outputs = ("prob", "logit") if args.logit else ("prob",)
        baselines = measure(model, tok, data["test"][0][:args.limit], prior, outputs)
        results["models"][style] = dict(meta, measure_seconds=round(time.perf_counter() - t0, 1), baselines=baselines)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nMachine: {results['machine']} (torch {torch.__version__}, 1 thread)  \nDate: {results['date']}  \n"
          f"Command: `{results['command']}`  \nClass prior p(positive) = {prior:.3f}; "
          f"{args.limit} test sentences, target = predicted class; total {results['total_seconds']} s\n")
    for style, res in results["models"].items():
        print(f"- {style}: {res['parameters']:,} parameters, {res['steps']} steps in {res['train_seconds']} s, "
              f"dev acc {res['dev_accuracy']:.3f}, test acc {res['test_accuracy']:.3f}; tokens {res['tokens']}; "
              f"IG measured in {res['measure_seconds']} s")
    for out in ("prob", "logit") if args.logit else ("prob",):
        print(f"\nIG on the target {'probability' if out == 'prob' else 'logit'} (delta relative to F(x) - F(x')):\n")
        print(table(results, out))


if __name__ == "__main__":
    main()
