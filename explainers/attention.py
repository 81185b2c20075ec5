"""Attention maps from any supported classifier, and the views made from them.

transformers 5 loads models with SDPA attention, which returns no attention
weights, and ignores a per-call attn_implementation. So attention calls run on
an *eager twin*: a copy of the module tree that shares every parameter and
buffer with the shared model but has its own config set to eager attention.
Attribution keeps running on the faster SDPA original.

The views (head combinations, the classifier's row, rollout, differences,
which tokens to show) are pure numpy functions of an ``AttentionMaps``, so
pages, notebooks and tests share them and nothing is recomputed per view.
"""
from __future__ import annotations

import copy
import itertools
import threading
import weakref

import numpy as np
import torch

from .checkpoints import Classifier
from .errors import ExplainerError
from .limits import out_of_memory_as_error
from .results import AttentionMaps, AttentionStream, Word
from .scoring import OUTPUTS, encode, squash
from .words import fold, seen_until

_TWINS: "weakref.WeakKeyDictionary[torch.nn.Module, torch.nn.Module]" = weakref.WeakKeyDictionary()
_TWINS_LOCK = threading.Lock()

SIDES = {"encoder": ("encoder", "encoder"), "decoder": ("decoder", "decoder"), "cross": ("decoder", "encoder")}
"""Each attention stream's (query, key) sequences."""

COMBINATIONS = {
    "mean": "mean over heads",
    "max": "max over heads",
    "gradient": "gradient-weighted: mean over heads of (attention × d score / d attention), negatives clipped",
}


def attends_eagerly(model: torch.nn.Module) -> bool:
    """Whether ``model`` computes attention eagerly (its weights materialized: every example's length x
    length scores per head) rather than through a fused kernel such as SDPA."""
    return getattr(model.config, "_attn_implementation", "eager") == "eager"


def eager_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A model that shares ``model``'s weights but computes attention eagerly (made once per model)."""
    if attends_eagerly(model):
        return model
    with _TWINS_LOCK:
        twin = _TWINS.get(model)
        if twin is None:
            shared = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
            twin = copy.deepcopy(model, memo=shared)  # new modules and config, the same tensors
            twin.set_attn_implementation("eager")
            twin.eval()
            _TWINS[model] = twin
    return twin


def _stack(layers) -> np.ndarray:
    """tuple of [1, H, Tq, Tk] tensors -> numpy [L, H, Tq, Tk]."""
    return torch.stack([a[0].detach() for a in layers]).float().cpu().numpy()


def _relevance(weights: np.ndarray, grads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chefer et al. 2021: E_h[(A * dF/dA)^+] per layer, and each head's total positive part."""
    positive = np.clip(weights * grads, 0.0, None)
    return positive.mean(axis=1), positive.sum(axis=(2, 3))


@out_of_memory_as_error
def attention(clf: Classifier, text: str, target: str | int | None = None,
              output: str = "probability") -> AttentionMaps:
    """Every layer's and head's attention on ``text``, as the classifier computes it.

    For models with labels, the gradients of ``target``'s score (default: the
    predicted label; ``output`` "probability" or "logit") with respect to each
    attention map give the gradient-weighted combination and head relevance.
    """
    if output not in OUTPUTS:
        raise ExplainerError(f"Unknown output {output!r}; use one of {', '.join(OUTPUTS)}.")
    scored = bool(clf.labels)
    if target is not None and not scored:
        raise ExplainerError(f"{clf.checkpoint} has no labels of its own, so there is no score to weight "
                             "attention by; use the mean or max head combination.")
    enc = encode(clf, text)
    fam = clf.family
    model = eager_twin(clf.model)
    with torch.set_grad_enabled(scored):
        out = model(**fam.model_inputs(model, enc.input_ids, enc.attention_mask, enc.position_ids, enc.token_type_ids),
                    output_attentions=True)
        raw = fam.attentions(out)
        grads, label, score = {}, None, None
        if scored:
            probs = squash(out.logits.float(), clf.multi_label, output)[0]
            t = clf.label_index(target, int(torch.argmax(out.logits[0])))
            label, score = clf.labels[t], float(probs[t].detach())
            flat = [a for maps in raw.values() for a in maps]
            found = torch.autograd.grad(probs[t], flat, allow_unused=True)
            found = [torch.zeros_like(a) if g is None else g for a, g in zip(flat, found)]
            start = 0
            for name, maps in raw.items():
                grads[name] = _stack(found[start:start + len(maps)])
                start += len(maps)

    views = {name: (tuple(clf.tokenizer.convert_ids_to_tokens(ids[0].tolist())), special)
             for name, (ids, special) in fam.sequences(clf.model, enc.input_ids, enc.special).items()}
    # mean-pooled heads and sentence encoders read every token
    reads = fam.reader_position(clf.model.config, enc.reads) if scored else None
    reader = fam.reader_name(clf.model.config, enc.tokens, reads) if scored else "every token (mean-pooled)"
    streams = {}
    for name, maps in raw.items():
        weights = _stack(maps)
        rel, heads = _relevance(weights, grads[name]) if name in grads else (None, None)
        (q_tok, q_sp), (k_tok, k_sp) = (views[side] for side in SIDES[name])
        streams[name] = AttentionStream(name=name, weights=weights, query_tokens=q_tok, key_tokens=k_tok,
                                        query_special=q_sp, key_special=k_sp, reads=reads, reader=reader,
                                        relevance=rel, head_relevance=heads)
    return AttentionMaps(text=text, tokens=enc.tokens, special_tokens=enc.special, token_offsets=enc.offsets,
                         streams=streams, truncated=enc.truncated, checkpoint=clf.checkpoint, target=label,
                         score=score)


# --------------------------------------------------------------------------- views (numpy only)


def combine_heads(stream: AttentionStream, how: str = "mean") -> np.ndarray:
    """[layers, queries, keys]: the heads of every layer combined (see COMBINATIONS)."""
    if how == "mean":
        return stream.weights.mean(axis=1)
    if how == "max":
        return stream.weights.max(axis=1)
    if how == "gradient":
        if stream.relevance is None:
            raise ExplainerError("The gradient-weighted combination needs a model with labels to explain; "
                                 "this one has none. Use mean or max.")
        return stream.relevance
    raise ExplainerError(f"Unknown head combination {how!r}; use one of {', '.join(COMBINATIONS)}.")


def from_reader(maps: np.ndarray, reads: int | None) -> np.ndarray:
    """[layers, keys]: the row of the position the classifier reads (all rows averaged when None)."""
    return maps.mean(axis=-2) if reads is None else maps[..., reads, :]


def rollout(maps: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar and Zuidema 2020) after every layer, [layers, T, T].

    Each layer's (combined) map plus the identity for the residual stream, rows
    renormalised, multiplied through the layers: row i of layer l says how
    much each input token flows into position i after layer l.
    """
    n = maps.shape[-1]
    if maps.shape[-2] != n:
        raise ExplainerError("Rollout needs self-attention (as many queries as keys).")
    out = np.empty_like(maps, dtype=np.float64)
    total = np.eye(n)
    for layer, a in enumerate(maps.astype(np.float64)):
        step = a + np.eye(n)
        step /= step.sum(axis=-1, keepdims=True)
        total = step @ total
        out[layer] = total
    return out


def rollout_words(maps: AttentionMaps, how: str = "mean") -> tuple[Word, ...]:
    """Encoder rollout from the token the classifier reads (every token, for mean-pooled models),
    after the last layer, folded onto the words of the text: comparable with word attributions."""
    s = maps.encoder
    flow = from_reader(rollout(combine_heads(s, how)), s.reads)[-1]
    return fold(maps.text, flow, maps.token_offsets, maps.special_tokens, "sum",
                seen_until(maps.token_offsets, maps.special_tokens, maps.truncated))


def difference(a: AttentionMaps, b: AttentionMaps, how: str = "mean", stream: str = "encoder") -> np.ndarray:
    """[layers, queries, keys]: a's combined maps minus b's, for two checkpoints that read the text alike."""
    if a.tokens != b.tokens:
        raise ExplainerError(f"{a.checkpoint} and {b.checkpoint} split the text into different tokens; "
                             "a difference needs two checkpoints that share a tokenizer.")
    if stream not in a.streams or stream not in b.streams:
        raise ExplainerError(f"Both checkpoints need {stream} attention to compare it.")
    left, right = combine_heads(a.streams[stream], how), combine_heads(b.streams[stream], how)
    if left.shape != right.shape:
        raise ExplainerError(f"{a.checkpoint} has {a.streams[stream].layers} layers and {b.checkpoint} "
                             f"{b.streams[stream].layers}: a layer-by-layer difference needs the same architecture.")
    return left - right


def shown_tokens(importance: np.ndarray, special: np.ndarray, top_k: int | None = None,
                 hide_special: bool = False) -> np.ndarray:
    """Indices of the tokens to display, in text order: the ``top_k`` most important, special ones
    left out on request. Pages say how many were left out, so nothing disappears silently."""
    candidates = np.flatnonzero(~special) if hide_special else np.arange(len(importance))
    if top_k is not None and top_k < len(candidates):
        order = np.argsort(-importance[candidates], kind="stable")[:top_k]
        candidates = candidates[order]
    return np.sort(candidates)
