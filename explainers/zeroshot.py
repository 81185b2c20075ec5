"""Zero-shot classification over candidate labels, explained.

NLI checkpoints follow transformers' zero-shot pipeline to the letter: the
text is the premise, each label goes into the hypothesis template, pairs are
encoded with ``only_first`` truncation, entailment is the first label whose
name starts with "entail", contradiction is index 0 (the last one when
entailment is 0). Single-label scores are a softmax over every label's
entailment logit, so the explained score depends on every pair: all pairs
form one input and are attributed at once. Multi-label scores are a softmax
over [contradiction, entailment] of one pair, i.e. a sigmoid of their difference.

The built-in ``builtin:zeroshot`` scores labels by the cosine similarity of
mean-pooled MiniLM sentence embeddings of the text and of each hypothesis.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from string import Formatter

import numpy as np
import torch

from .checkpoints import Classifier
from .errors import ExplainerError, shown
from .scoring import TextTokens, check_characters, check_text, padding_id

DEFAULT_TEMPLATE = "This example is {}."  # the pipeline's default, for NLI models
DEFAULT_TEMPLATE_SIMILARITY = "A {} news story."  # builtin:zeroshot's default: best of 7 on AG News dev (bench/)
MAX_LABELS = 20
MAX_LABEL_CHARS = 200
MAX_TEMPLATE_CHARS = 1_000  # a sentence around the label; longer crowds out the text
# builtin:zeroshot: softmax(SCALE * cos) over labels; sigmoid(SCALE * (cos - CENTER)) per label.
SCALE = 20.0
CENTER = 0.25


@dataclass(frozen=True)
class Candidates:
    labels: tuple[str, ...]
    template: str
    multi_label: bool
    notices: tuple[str, ...] = ()

    @property
    def hypotheses(self) -> list[str]:
        return [self.template.format(label) for label in self.labels]


def candidates(labels, template: str = DEFAULT_TEMPLATE, multi_label: bool = False) -> Candidates:
    """Clean and check candidate labels and the hypothesis template, noting what was changed.

    Cleaned with a notice: labels' surrounding spaces, blank labels, duplicates. Refused, naming the label
    by its place in the list: no labels left, more than MAX_LABELS, a label over MAX_LABEL_CHARS, anything
    but strings, control characters and lone surrogates (``check_characters``: what a text refuses).
    The template: a string of at most MAX_TEMPLATE_CHARS with exactly one plain '{}' (no index, name,
    attribute or format spec: the label goes in as it is), other braces doubled.
    """
    notices = []
    if isinstance(labels, str):
        labels = labels.split(",")
    if labels is None or not isinstance(labels, (list, tuple)):
        raise ExplainerError("Give candidate labels: a list such as ['sports', 'politics'] "
                             "or a comma-separated string.")
    for i, label in enumerate(labels, 1):
        if not isinstance(label, str):
            raise ExplainerError(f"Candidate labels must be strings; label {i} is {shown(label)} "
                                 f"({type(label).__name__}).")
        if len(label.strip()) > MAX_LABEL_CHARS:
            raise ExplainerError(f"Candidate label {i} has {len(label.strip()):,} characters; labels must be at most "
                                 f"{MAX_LABEL_CHARS} characters each. Shorten it.")
        check_characters(label.strip(), f"Candidate label {i} {shown(label.strip(), 40)}")
    named = [label.strip() for label in labels if label.strip()]
    cleaned = list(dict.fromkeys(named))
    if len(cleaned) < len(named):
        notices.append("Duplicate labels were removed.")
    if len(named) < len(labels):
        notices.append("Blank labels were removed.")
    if not cleaned:
        raise ExplainerError("No candidate labels: give at least one label, e.g. 'sports, politics'.")
    if len(cleaned) > MAX_LABELS:
        raise ExplainerError(f"{len(cleaned)} candidate labels is too many; use at most {MAX_LABELS}.")
    _check_template(template)
    if len(cleaned) == 1 and not multi_label:
        multi_label = True
        notices.append("With a single label, its score is entailment vs contradiction (multi-label mode), "
                       "as in the transformers pipeline.")
    return Candidates(tuple(cleaned), template, bool(multi_label), tuple(notices))


def _check_template(template) -> str:
    """The hypothesis template, when it has exactly one plain '{}' (Formatter.parse reads braces as
    str.format does, so '{{}}' is a literal and '{0}', '{name}', '{:>9}' are refused by name)."""
    example = "e.g. 'This example is {}.'"
    if not isinstance(template, str):
        raise ExplainerError(f"The hypothesis template must be a string with one '{{}}', {example}; "
                             f"got {type(template).__name__}.")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ExplainerError(f"The hypothesis template has {len(template):,} characters; the limit is "
                             f"{MAX_TEMPLATE_CHARS:,}. Shorten it.")
    check_characters(template, "The hypothesis template")
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(template)
                  if name is not None]
    except ValueError:
        raise ExplainerError("The hypothesis template has a brace that is not part of its '{}' "
                             "(write '{{' or '}}' for literal braces).") from None
    if len(fields) != 1:
        raise ExplainerError(f"The hypothesis template must contain '{{}}' exactly once, {example} "
                             f"(it has {len(fields)} placeholders; write '{{{{' or '}}}}' for literal braces).")
    if fields[0] != ("", "", None):
        raise ExplainerError(f"The hypothesis template's placeholder must be a plain '{{}}', {example}: "
                             "no number, name, attribute or format inside the braces.")
    return template


def default_template(clf: Classifier) -> str:
    """The pipeline's template for NLI models; the one chosen on AG News dev for builtin:zeroshot."""
    return DEFAULT_TEMPLATE_SIMILARITY if clf.task == "embedding" else DEFAULT_TEMPLATE


def nli_indices(clf: Classifier) -> tuple[int, int]:
    """(entailment, contradiction) logit indices, by the pipeline's rules."""
    entail = next((int(i) for name, i in clf.model.config.label2id.items() if name.lower().startswith("entail")), -1)
    if entail < 0:
        raise ExplainerError(f"{clf.checkpoint!r} is not an NLI model (no label starting with 'entail' among "
                             f"{', '.join(clf.labels)}), so it cannot do zero-shot classification. Pick an NLI "
                             "checkpoint such as facebook/bart-large-mnli, or builtin:zeroshot.")
    contradiction = len(clf.labels) - 1 if entail == 0 else 0
    return entail, contradiction


# --------------------------------------------------------------------------- NLI pairs


@dataclass(frozen=True)
class Pairs:
    """(text, hypothesis) pairs encoded as the pipeline does, right-padded into one batch [L, T]."""

    premise: str
    hypotheses: tuple[str, ...]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor | None
    position_ids: torch.Tensor | None
    offsets: np.ndarray  # [L, T, 2] into the premise (sequence 0) or the hypothesis (sequence 1)
    sequence: np.ndarray  # [L, T]: 0 premise, 1 hypothesis, -1 special, -2 padding
    special: np.ndarray  # [L, T]
    reads: torch.Tensor  # [L]: the position each pair's classification head reads
    lengths: np.ndarray  # [L]
    premise_end: np.ndarray  # [L] first position after the premise region (leading specials + premise)
    tokens: tuple[tuple[str, ...], ...]

    @property
    def truncated(self) -> bool:
        ends = [int(self.offsets[p, self.sequence[p] == 0, 1].max(initial=0)) for p in range(len(self.lengths))]
        return bool(self.premise[min(ends):].strip())

    @property
    def replaceable(self) -> np.ndarray:
        """[L, T]: the positions a baseline replaces (premise and hypothesis tokens)."""
        return self.sequence >= 0

    @cached_property
    def slots(self) -> Slots:
        """Where each position's attribution goes (computed once per encoding)."""
        return slots(self)

    @property
    def text_tokens(self) -> TextTokens:
        """The premise's tokens: the premise region of the longest pair (the others are its prefixes)."""
        longest, width = int(np.argmax(self.premise_end)), self.slots.premise_tokens
        return TextTokens(self.tokens[longest][:width], self.offsets[longest, :width],
                          self.special[longest, :width], self.truncated)


def encode_pairs(clf: Classifier, premise: str, hypotheses: list[str]) -> Pairs:
    check_text(premise)
    try:
        enc = clf.tokenizer([[premise, h] for h in hypotheses], truncation="only_first", max_length=clf.max_length,
                            return_offsets_mapping=True)
    except Exception as err:  # the tokenizer says the hypothesis alone is too long
        raise ExplainerError(f"Cannot fit the text and hypothesis into the model's input ({err}). "
                             "Use shorter labels or template.") from None
    # right-padded here, as the pipeline pads, with the pad token where there is one (decoders may have none)
    lengths = np.array([len(row) for row in enc["input_ids"]])
    n, t = len(lengths), int(lengths.max())
    pad = padding_id(clf.tokenizer)

    def padded(name: str, value) -> list:
        return [list(row) + [value] * (t - len(row)) for row in enc[name]]

    sequence = np.full((n, t), -2, dtype=np.int64)
    for p in range(n):
        sequence[p, :lengths[p]] = [-1 if s is None else s for s in enc.sequence_ids(p)]
    if not (sequence == 0).any(axis=1).all():
        raise ExplainerError("The model's tokenizer finds nothing to read in this text. Type some words.")
    special = sequence < 0
    offsets = np.array(padded("offset_mapping", (0, 0)), dtype=np.int64)
    offsets[special] = 0
    premise_end = np.array([int(np.nonzero(sequence[p] == 0)[0].max()) + 1 for p in range(n)])
    device = clf.device
    ids = torch.tensor(padded("input_ids", pad), device=device)
    mask = torch.tensor(padded("attention_mask", 0), device=device)
    tti = torch.tensor(padded("token_type_ids", 0), device=device) if "token_type_ids" in enc else None
    return Pairs(premise=premise, hypotheses=tuple(hypotheses), input_ids=ids, attention_mask=mask,
                 token_type_ids=tti,
                 position_ids=clf.family.position_ids(clf.model, ids), offsets=offsets, sequence=sequence,
                 special=special, reads=clf.family.reads_at(clf.model, ids, mask), lengths=lengths,
                 premise_end=premise_end,
                 tokens=tuple(tuple(clf.tokenizer.convert_ids_to_tokens(row)) for row in enc["input_ids"]))


def pair_logits(clf: Classifier, pairs: Pairs, ids: torch.Tensor | None = None) -> torch.Tensor:
    """[L, classes] from the model's own forward pass, one pair at a time like the pipeline."""
    ids = pairs.input_ids if ids is None else ids
    rows = []
    with torch.no_grad():
        for p, length in enumerate(pairs.lengths.tolist()):
            row, mask, positions, types = (None if t is None else t[p:p + 1, :length] for t in
                                           (ids, pairs.attention_mask, pairs.position_ids, pairs.token_type_ids))
            rows.append(clf.family.plain_logits(clf.model, row, mask, position_ids=positions, token_type_ids=types,
                                                reads=pairs.reads[p:p + 1]))
    return torch.cat(rows).float()


@dataclass(frozen=True)
class Slots:
    """Where each pair position's attribution goes: premise tokens first, then each
    pair's hypothesis region (separators, hypothesis, final special), then padding."""

    owners: np.ndarray  # [L, T] slot per (pair, position)
    premise_tokens: int  # slots [0, P)
    hypothesis: tuple[tuple[int, int], ...]  # per pair: slot range of its hypothesis region
    padding: int  # the slot of padding positions (always 0 attribution)


def slots(pairs: Pairs) -> Slots:
    """Premise regions are prefixes of the longest one (truncation cuts the premise's end)."""
    n, t = pairs.input_ids.shape
    longest = int(np.argmax(pairs.premise_end))
    width = int(pairs.premise_end[longest])
    owners = np.zeros((n, t), dtype=np.int64)
    ranges, nxt = [], width
    for p in range(n):
        end, length = int(pairs.premise_end[p]), int(pairs.lengths[p])
        owners[p, :end] = np.arange(end)
        owners[p, end:length] = nxt + np.arange(length - end)
        ranges.append((nxt, nxt + length - end))
        nxt += length - end
    owners[pairs.sequence == -2] = nxt
    return Slots(owners, width, tuple(ranges), nxt)


# --------------------------------------------------------------------------- embedding similarity


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors (special tokens included, padding excluded), L2-normalised."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def sentence_embeddings(clf: Classifier, texts: list[str]) -> torch.Tensor:
    enc = clf.tokenizer(texts, truncation=True, max_length=clf.max_length, padding=True,
                        return_tensors="pt").to(clf.device)
    with torch.no_grad():
        hidden = clf.model(**enc).last_hidden_state
    return mean_pool(hidden, enc["attention_mask"])


def similarity_logits(cosine: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """[..., L] cosine similarities -> label logits: SCALE*cos (softmax over labels) or
    SCALE*(cos-CENTER) (a sigmoid per label)."""
    return SCALE * (cosine - CENTER) if multi_label else SCALE * cosine
