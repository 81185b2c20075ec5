"""Attention maps from any supported classifier, without touching the shared model.

transformers 5 loads models with SDPA attention, which returns no attention
weights, and ignores a per-call attn_implementation. So attention calls run on
an *eager twin*: a copy of the module tree that shares every parameter and
buffer with the shared model but has its own config set to eager attention.
Attribution keeps running on the faster SDPA original.
"""
from __future__ import annotations

import copy
import itertools
import threading
import weakref

import numpy as np
import torch

from .checkpoints import Classifier, shift_right
from .results import AttentionMaps
from .scoring import encode

_TWINS: "weakref.WeakKeyDictionary[torch.nn.Module, torch.nn.Module]" = weakref.WeakKeyDictionary()
_TWINS_LOCK = threading.Lock()


def eager_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A model that shares ``model``'s weights but computes attention eagerly (made once per model)."""
    if getattr(model.config, "_attn_implementation", "eager") == "eager":
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
    return torch.stack([a[0] for a in layers]).float().cpu().numpy()


def attention(clf: Classifier, text: str) -> AttentionMaps:
    """Every layer's and head's attention on ``text``, as the classifier computes it."""
    enc = encode(clf, text)
    model = eager_twin(clf.model)
    kwargs = {"input_ids": enc.input_ids, "attention_mask": enc.attention_mask, "output_attentions": True}
    if enc.position_ids is not None:
        kwargs["position_ids"] = enc.position_ids
    if enc.token_type_ids is not None and clf.family.token_types:
        kwargs["token_type_ids"] = enc.token_type_ids
    if clf.family.encoder_decoder:
        kwargs["use_cache"] = False
    with torch.no_grad():
        out = model(**kwargs)
    common = dict(text=text, tokens=enc.tokens, special_tokens=enc.special, token_offsets=enc.offsets,
                  truncated=enc.truncated, checkpoint=clf.checkpoint)
    if not clf.family.encoder_decoder:
        return AttentionMaps(weights=_stack(out.attentions), reads=0, **common)
    eos = int((enc.input_ids[0] == clf.model.config.eos_token_id).nonzero()[-1])
    decoder_ids = shift_right(enc.input_ids, clf.model.config)[0].tolist()
    return AttentionMaps(
        weights=_stack(out.encoder_attentions), reads=eos,
        decoder_tokens=tuple(clf.tokenizer.convert_ids_to_tokens(decoder_ids)),
        decoder_weights=_stack(out.decoder_attentions), cross_weights=_stack(out.cross_attentions), **common)
