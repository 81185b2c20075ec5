"""Scorers: the one seam every attribution method sees.

A Scorer is a pure function from word embeddings to the numbers being
explained, plus the input and baseline embeddings and a map from embedding
positions back to the text's tokens. Sequence classification builds one here;
zero-shot tasks build their own. No hooks, no state on the shared model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .checkpoints import Classifier
from .errors import ExplainerError

MAX_CHARS = 200_000
BASELINES = ("pad", "mask", "unk")
OUTPUTS = ("probability", "logit")


@dataclass(frozen=True)
class Encoded:
    """One text as the model reads it (batch of one), with offsets for words."""

    text: str
    input_ids: torch.Tensor  # [1, T]
    attention_mask: torch.Tensor  # [1, T]
    token_type_ids: torch.Tensor | None
    position_ids: torch.Tensor | None  # explicit for RoBERTa-style families
    offsets: np.ndarray  # [T, 2]
    special: np.ndarray  # [T] bool
    tokens: tuple[str, ...]
    truncated: bool

    @property
    def n_tokens(self) -> int:
        return int(self.input_ids.shape[1])


@dataclass(frozen=True)
class Scorer:
    """F(embeddings) -> [B] scores, with what the methods need around it."""

    forward: Callable[..., torch.Tensor]  # (*embeddings [B, ...]) -> [B]
    inputs: tuple[torch.Tensor, ...]  # each [1, positions, D]
    baselines: tuple[torch.Tensor, ...]
    owners: tuple[np.ndarray, ...]  # per input: position -> index in the explanation's tokens (slots)
    baseline_ids: torch.Tensor
    batch_divisor: int = 1  # sequences per example (zero-shot: one per candidate label)

    def examples_per_pass(self, sequences: int) -> int:
        """How many examples fit a forward pass of at most ``sequences`` sequences."""
        return max(1, sequences // self.batch_divisor)


def check_text(text) -> str:
    if not isinstance(text, str):
        raise ExplainerError(f"The text must be a string, not {type(text).__name__}.")
    if not text.strip():
        raise ExplainerError("The text is empty. Type a sentence to explain.")
    if len(text) > MAX_CHARS:
        raise ExplainerError(f"The text has {len(text):,} characters; the limit is {MAX_CHARS:,}. "
                             "Shorten it: the model reads only its first few hundred tokens anyway.")
    return text


def encode(clf: Classifier, text: str) -> Encoded:
    """Tokenize one text, truncated to the model's input size (and say so)."""
    check_text(text)
    enc = clf.tokenizer(text, truncation=True, max_length=clf.max_length, return_offsets_mapping=True,
                        return_special_tokens_mask=True, return_tensors="pt")
    special = enc["special_tokens_mask"][0].numpy().astype(bool)
    if special.all():
        raise ExplainerError("The model's tokenizer finds nothing to read in this text "
                             "(only invisible or unsupported characters). Type some words.")
    offsets = enc["offset_mapping"][0].numpy().astype(np.int64)
    offsets[special] = 0
    last_end = int(offsets[~special, 1].max())
    device = clf.device
    input_ids = enc["input_ids"].to(device)
    tti = enc.get("token_type_ids")
    return Encoded(
        text=text,
        input_ids=input_ids,
        attention_mask=enc["attention_mask"].to(device),
        token_type_ids=tti.to(device) if tti is not None else None,
        position_ids=clf.family.position_ids(clf.model, input_ids),
        offsets=offsets,
        special=special,
        tokens=tuple(clf.tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())),
        truncated=bool(text[last_end:].strip()),
    )


def baseline_token_id(clf: Classifier, baseline: str) -> int:
    """The id of the token ("pad", "mask" or "unk") that replaces the text in a baseline."""
    if baseline not in BASELINES:
        raise ExplainerError(f"Unknown baseline {baseline!r}; use one of {', '.join(BASELINES)}.")
    token_id = getattr(clf.tokenizer, f"{baseline}_token_id", None)
    if token_id is None:
        raise ExplainerError(f"This tokenizer has no {baseline} token; choose another baseline.")
    return token_id


def baseline_ids(clf: Classifier, enc: Encoded, baseline: str) -> torch.Tensor:
    """The input ids with every non-special token replaced by the baseline token."""
    token_id = baseline_token_id(clf, baseline)
    keep = torch.as_tensor(enc.special, device=enc.input_ids.device).unsqueeze(0)
    return torch.where(keep, enc.input_ids, torch.full_like(enc.input_ids, token_id))


def squash(logits: torch.Tensor, multi_label: bool, output: str) -> torch.Tensor:
    """Logits -> the explained numbers: probabilities (softmax or sigmoid) or logits."""
    if output == "logit":
        return logits
    return torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)


def plain_scores(clf: Classifier, enc: Encoded, ids: torch.Tensor | None = None, output: str = "probability") -> torch.Tensor:
    """Scores [labels] from the model's own forward pass on ``ids`` (default: the text).

    Position ids always come from the text, so a baseline keeps its positions.
    """
    with torch.no_grad():
        logits = clf.family.plain_logits(clf.model, enc.input_ids if ids is None else ids, enc.attention_mask,
                                         position_ids=enc.position_ids, token_type_ids=enc.token_type_ids)
    return squash(logits.float(), clf.multi_label, output)[0]


def contrast(scores: torch.Tensor, target: int, versus: int | None) -> torch.Tensor:
    """[B, labels] -> [B]: the target's score, minus the contrast label's when there is one."""
    return scores[:, target] if versus is None else scores[:, target] - scores[:, versus]


def classification_scorer(clf: Classifier, enc: Encoded, target: int, baseline: str, output: str,
                          versus: int | None = None) -> Scorer:
    """The scorer for a fine-tuned classifier: F = p(target | text) (or its logit), minus p(versus)."""
    fam, model = clf.family, clf.model
    base_ids = baseline_ids(clf, enc, baseline)
    with torch.no_grad():
        inputs = tuple(e.detach() for e in fam.embed(model, enc.input_ids))
        baselines = tuple(e.detach() for e in fam.embed(model, base_ids))
    eos_index = None
    if fam.reads == "eos":
        eos = (enc.input_ids[0] == model.config.eos_token_id).nonzero()
        if len(eos) == 0:
            raise ExplainerError("The encoded text has no end-of-sequence token for the classifier to read.")
        eos_index = int(eos[-1])

    def expand(t: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        return None if t is None else t.expand(batch, -1)

    def forward(*embeddings: torch.Tensor) -> torch.Tensor:
        batch = embeddings[0].shape[0]
        logits = fam.logits_from_embeddings(
            model, embeddings, expand(enc.attention_mask, batch), position_ids=expand(enc.position_ids, batch),
            token_type_ids=expand(enc.token_type_ids, batch), eos_index=eos_index)
        return contrast(squash(logits, clf.multi_label, output), target, versus)

    return Scorer(forward=forward, inputs=inputs, baselines=baselines,
                  owners=fam.owners(enc.n_tokens), baseline_ids=base_ids)
