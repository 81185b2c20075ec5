"""What one gradient evaluation costs, by attention kernel and precision. Run by hand.

    python bench/pass_cost.py [--device cpu] [--repeats 5]

One forward and backward pass to the input embeddings (what integrated
gradients does at each point of its path) through the built-in MiniLM at 122
and 480 tokens and a BERT-base-shaped model at 122 tokens, per example, for:
torch's fused attention (SDPA) and eager attention, each in float32 and under
bf16 autocast, and SDPA computed in float32 inside a bf16 model. The fastest
bf16 kernel is what ``precision="bf16"`` uses (``scoring.reduced``); float32
keeps SDPA. Also: float32 SDPA with the weights frozen (requires_grad off), to
see whether parameter gradients cost anything when only input gradients are
asked for. ``--compile``: also each model's fastest float32 and bf16 kernels
through ``torch.compile`` (inductor, static shapes), with the seconds the first
call took (the compilation). Medians of ``--repeats`` after a warm-up; Markdown
to stdout.
"""
from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import explainers as ex  # noqa: E402


def sdpa_in_float32(module, query, key, value, attention_mask, **kwargs):
    """SDPA on float32 copies of q, k, v, whatever the autocast: bf16 matrix products elsewhere."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    dtype = query.dtype
    with torch.autocast(query.device.type, enabled=False):
        out, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask,
                                              **kwargs)
    return out.to(dtype), weights


def per_example(model, tokens: int, batch: int, bf16: bool, device: str, repeats: int) -> float:
    ids = torch.randint(1000, 2000, (batch, tokens), device=device)
    x = model.get_input_embeddings()(ids).detach()
    mask = torch.ones(batch, tokens, dtype=torch.long, device=device)

    def step():
        xi = x.clone().requires_grad_(True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            logits = model(inputs_embeds=xi, attention_mask=mask).logits
        torch.autograd.grad(logits.float().softmax(-1)[:, 1].sum(), xi)
        if device == "cuda":
            torch.cuda.synchronize()

    step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times) / batch


def main() -> None:
    from transformers import AttentionInterface, BertConfig, BertForSequenceClassification

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also through torch.compile (minutes on a CPU)")
    args = parser.parse_args()
    AttentionInterface.register("sdpa_float32", sdpa_in_float32)
    minilm = ex.load("builtin:sst2", device=args.device).model
    torch.manual_seed(0)
    bert = BertForSequenceClassification(BertConfig(num_labels=2)).eval().to(args.device)
    cases = [("builtin MiniLM-L6", minilm, 122, 16), ("builtin MiniLM-L6", minilm, 480, 4),
             ("BERT-base shape", bert, 122, 16)]
    kernels = [("SDPA", "sdpa", False), ("eager", "eager", False), ("SDPA", "sdpa", True), ("eager", "eager", True),
               ("SDPA in float32", "sdpa_float32", True)]
    print(f"# {date.today()}, {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"device {args.device}")
    print("| model | tokens | examples per pass | attention | precision | ms per example |")
    print("|---|---|---|---|---|---|")
    for name, model, tokens, batch in cases:
        for title, kernel, bf16 in kernels:
            twin = copy.deepcopy(model)
            twin.set_attn_implementation(kernel)
            ms = 1000 * per_example(twin, tokens, batch, bf16, args.device, args.repeats)
            print(f"| {name} | {tokens} | {batch} | {title} | {'bf16' if bf16 else 'fp32'} | {ms:.1f} |", flush=True)
        frozen = copy.deepcopy(model)
        frozen.requires_grad_(False)
        ms = 1000 * per_example(frozen, tokens, batch, False, args.device, args.repeats)
        print(f"| {name} | {tokens} | {batch} | SDPA, weights frozen | fp32 | {ms:.1f} |", flush=True)
        if not args.compile:
            continue
        for title, kernel, bf16 in (("SDPA", "sdpa", False), ("eager", "eager", True)):
            twin = copy.deepcopy(model)
            twin.set_attn_implementation(kernel)
            started = time.perf_counter()
            compiled = torch.compile(twin, dynamic=False)
            per_example(compiled, tokens, batch, bf16, args.device, 1)  # the first call compiles
            first = time.perf_counter() - started
            ms = 1000 * per_example(compiled, tokens, batch, bf16, args.device, args.repeats)
            print(f"| {name} | {tokens} | {batch} | {title}, torch.compile (first call {first:.0f} s) | "
                  f"{'bf16' if bf16 else 'fp32'} | {ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
