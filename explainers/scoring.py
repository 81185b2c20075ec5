"""The seam every attribution method sees: encoded inputs and Scorers.

A Scorer is a pure function from word embeddings to the numbers being
explained, plus the input and baseline embeddings and a map from embedding
positions back to the explanation's token slots. Tasks (tasks.py) build them;
the methods never learn which task or model family is underneath. No hooks,
no state on the shared model.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from numbers import Integral
from typing import Callable, Sequence

import numpy as np
import torch

from .checkpoints import Classifier
from .errors import ExplainerError, shown
from .results import AttentionMaps
from .words import seen_until

MAX_CHARS = 200_000
BASELINES = ("pad", "mask", "unk", "eos")
OUTPUTS = ("probability", "logit")
PRECISIONS = ("fp32", "bf16", "auto")
# precision="auto": bf16 from this many tokens on, where the machine has it. Below, a pass is too small for
# bf16 to pay on a CPU (300 SST-2 sentences of 24 tokens: 85 s in bf16, 89 s in float32), above it pays a
# little (20 texts of 130-520 tokens: 67 s against 75 s, 45 % of them in float32 all the same because bf16's
# F(x) - F(x') was off; one review of 122 tokens: 1.5x; bench/RESULTS.md)
AUTO_BF16_FROM = 128
TOKENS_PER_PASS = 8192  # the automatic pass size: what the old fixed default, 16 examples, held at 512 tokens
# ... and, through eager attention (the bf16 twin on a CPU), at most this many examples x length² per pass: its
# score matrices, not its tokens, make a big pass slow (512 tokens in bf16: explanations 1.18x faster with 4
# examples a pass than with 16; bench/RESULTS.md). 1 M cells keeps a 122-token text's 17 first points in one pass.
EAGER_CELLS_PER_PASS = 4 * 512 * 512
BASE_BODY = 85e6  # BERT-base's non-embedding parameters: bigger models get proportionally fewer tokens per pass


@dataclass(frozen=True)
class TextTokens:
    """The explanation's slots that are the text's own tokens, as the model read them."""

    tokens: tuple[str, ...]
    offsets: np.ndarray  # [T, 2] character spans into the text; (0, 0) for special tokens
    special: np.ndarray  # [T] bool
    truncated: bool  # the model read only the text's first part

    @property
    def limit(self) -> int | None:
        """The last character the model read, when truncated (words after it are not reported)."""
        return seen_until(self.offsets, self.special, self.truncated)


@dataclass(frozen=True)
class Encoded:
    """One text as the model reads it (batch of one), with offsets for words."""

    text: str
    input_ids: torch.Tensor  # [1, T]
    attention_mask: torch.Tensor  # [1, T]
    token_type_ids: torch.Tensor | None
    position_ids: torch.Tensor | None  # explicit for RoBERTa-style families
    reads: torch.Tensor  # [1]: the position the classification head reads
    offsets: np.ndarray  # [T, 2]
    special: np.ndarray  # [T] bool
    tokens: tuple[str, ...]
    truncated: bool

    @property
    def n_tokens(self) -> int:
        return int(self.input_ids.shape[1])

    @property
    def replaceable(self) -> np.ndarray:
        """[1, T]: the positions a baseline replaces (every token but the special ones)."""
        return ~self.special[None]

    @property
    def text_tokens(self) -> TextTokens:
        return TextTokens(self.tokens, self.offsets, self.special, self.truncated)


@dataclass(frozen=True)
class Stack:
    """Several encoded texts right-padded into one batch [N, L], so that one forward/backward pass
    explains them all; each row reads exactly what it reads alone (padding is masked out)."""

    input_ids: torch.Tensor  # [N, L]
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor | None
    position_ids: torch.Tensor | None
    reads: torch.Tensor  # [N]

    @property
    def n_tokens(self) -> int:
        return int(self.input_ids.shape[1])


def padding_id(tokenizer) -> int:
    """The id of padding the studio adds itself (always masked out): the tokenizer's pad token, else 0,
    as many decoder-only tokenizers have none. RoBERTa-style positions count the pad id, so it must be it."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def pad_rows(rows: Sequence[torch.Tensor], value: int = 0) -> torch.Tensor:
    """[k_i, T_i] tensors -> [sum k_i, max T_i], right-padded with ``value``."""
    width = max(int(r.shape[1]) for r in rows)
    return torch.cat([torch.nn.functional.pad(r, (0, width - int(r.shape[1])), value=value) for r in rows])


def stack(rows: Sequence[Encoded]) -> Stack:
    def padded(name: str) -> torch.Tensor | None:
        parts = [getattr(r, name) for r in rows]
        return None if parts[0] is None else pad_rows(parts)

    return Stack(input_ids=padded("input_ids"), attention_mask=padded("attention_mask"),
                 token_type_ids=padded("token_type_ids"), position_ids=padded("position_ids"),
                 reads=torch.cat([r.reads for r in rows]))


@dataclass(frozen=True)
class Scorer:
    """F(embeddings) -> [B] scores over a batch of N inputs (rows), with what the methods need around it.

    ``forward(*embeddings, rows)``: ``rows`` [B] says which input row each example stands for;
    the methods pass ``rows()`` as Captum's additional forward argument, so Captum expands it
    exactly as it expands the inputs (steps, noise samples, perturbations).
    """

    forward: Callable[..., torch.Tensor]  # (*embeddings [B, ...], rows [B]) -> [B]
    inputs: tuple[torch.Tensor, ...]  # each [N, positions..., D]
    baselines: tuple[torch.Tensor, ...]
    owners: tuple[np.ndarray, ...]  # per input: [N, positions...] -> the slot in that row's explanation
    batch_divisor: int = 1  # sequences per example (zero-shot: one per candidate label)
    # () -> the attention maps of the one text explained, for a classifier's own target without a contrast
    # (``tasks.Classification.scorer``); None for every other task and request
    attention: Callable[[], AttentionMaps] | None = None
    # F(x') and F(x) per row [N] from the model's own forward passes, when the caller has them already
    ends: tuple[np.ndarray, np.ndarray] | None = None
    tokens_per_pass: int = TOKENS_PER_PASS  # the automatic pass size (``pass_tokens``)
    cells_per_pass: int | None = None  # eager attention: EAGER_CELLS_PER_PASS; None: no cap on examples x length²
    body_parameters: int = int(BASE_BODY)  # the model's non-embedding parameters (``bytes_per_example``)
    # where ``forward`` runs in reduced precision (bf16): the same F in float32, for the tolerance mode to
    # finish in when the rounding keeps a row from its tolerance (``attribution._ig_to_tolerance``)
    exact: "Scorer | None" = None

    @property
    def n_rows(self) -> int:
        return int(self.inputs[0].shape[0])

    def rows(self) -> torch.Tensor:
        return torch.arange(self.n_rows, device=self.inputs[0].device)

    def end_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """F(x') and F(x) per row, as float64: ``ends`` when given, else one pass through ``forward``."""
        if self.ends is not None:
            return self.ends
        with torch.no_grad():
            both = self.forward(*[torch.cat([b, x]) for b, x in zip(self.baselines, self.inputs)],
                                torch.cat([self.rows(), self.rows()])).double().cpu().numpy()
        return both[:self.n_rows], both[self.n_rows:]

    def examples_per_pass(self, sequences: int | None) -> int:
        """How many examples fit a forward pass of at most ``sequences`` sequences; None: of at most
        ``tokens_per_pass`` tokens, so that a short text's steps go through in one pass and a long one's
        in passes no bigger than before, and through eager attention of at most ``cells_per_pass``
        score cells (bench/RESULTS.md)."""
        if sequences is None:
            shape = self.inputs[0].shape  # [N, (pairs,) length, width]
            per_example = int(np.prod(shape[1:-1]))  # one example's positions, every sequence
            most = self.tokens_per_pass // max(1, per_example)
            if self.cells_per_pass is not None:  # eager attention: each sequence's length x length scores
                most = min(most, self.cells_per_pass // max(1, per_example * int(shape[-2])))
            return max(1, most)
        return max(1, sequences // self.batch_divisor)

    def bytes_per_example(self, backward: bool = True) -> float:
        """About the memory one example takes in a pass, so that a pass too big for this machine is
        refused or split before it swaps. Kept for the backward pass, per token and layer: about 20 x
        the width, plus 1.3 attention rows per head (measured peaks on BERT shapes: 20 x in SDPA,
        + 1.3 rows in eager attention); the layers are counted from the parameters (12 x width² each).
        A forward-only pass holds about two layers' worth at a time."""
        width = int(self.inputs[0].shape[-1])
        layers = max(1.0, self.body_parameters / (12 * width * width))
        length = max(int(x.shape[-2]) for x in self.inputs)
        positions = sum(int(np.prod(x.shape[1:-1])) for x in self.inputs)
        per_token_layer = 20 * width + 1.3 * max(1, width // 64) * length
        return 4.0 * positions * per_token_layer * (layers if backward else min(2.0, layers))


def reduced(clf: Classifier, precision: str) -> tuple[torch.nn.Module, Callable[[], contextlib.AbstractContextManager]]:
    """The model to differentiate and the autocast context for ``precision``.

    "fp32": the model itself, no autocast. "bf16": matrix products in bfloat16 where the hardware
    has them (a CPU with AVX512-BF16 or AMX, a GPU with bf16), about twice as fast; on a CPU through
    the eager-attention twin (torch's fused CPU attention is several times slower backwards in bf16
    than in float32), on a GPU through the model itself. The caller checks completeness against the
    float32 F(x) and F(x').
    """
    if precision == "fp32":
        return clf.model, contextlib.nullcontext
    if precision != "bf16":  # "auto" is made fp32 or bf16 per text (``chosen_precision``) before a scorer is built
        raise ExplainerError(f"Unknown precision {precision!r} for a scorer; use fp32 or bf16.")
    device = clf.device.type
    if not has_bf16(device):
        raise ExplainerError("This machine has no bfloat16 arithmetic (a CPU with AVX512-BF16 or AMX, or a GPU "
                             "with bf16); precision='bf16' would be slower here. Use precision='fp32'.")
    from .attention import eager_twin

    model = clf.model if device == "cuda" else eager_twin(clf.model)
    return model, lambda: torch.autocast(device, dtype=torch.bfloat16)


def chosen_precision(clf: Classifier, precision: str, tokens: int) -> str:
    """The precision a text of ``tokens`` tokens (its longest sequence) runs in: ``precision`` itself,
    except "auto": "bf16" where this machine has it and the text has at least AUTO_BF16_FROM tokens,
    else "fp32"."""
    if precision != "auto":
        return precision
    return "bf16" if tokens >= AUTO_BF16_FROM and has_bf16(clf.device.type) else "fp32"


def has_bf16(device: str) -> bool:
    """Whether ``device`` ("cpu" or "cuda") multiplies bfloat16 matrices natively."""
    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def pass_tokens(clf: Classifier) -> int:
    """The automatic pass size in tokens: TOKENS_PER_PASS for a model the size of BERT-base or smaller,
    proportionally fewer for a bigger one, so that a pass's activations stay about as large (a 0.5B
    decoder gets about 16 examples of 120 tokens, as before)."""
    return max(512, int(TOKENS_PER_PASS * min(1.0, BASE_BODY / max(1, clf.body_parameters))))


# C0 and C1 controls but tab, newline, carriage return and form feed (ordinary layout), and lone surrogates
_UNREADABLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_characters(value: str, what: str) -> str:
    """Refuse control characters and lone surrogates in ``value`` (a text, label, template or hypothesis),
    naming the first as U+XXXX with its position (0-based, as ``value[position]``): controls are invisible
    debris of copying or binary data, and a lone surrogate is not a character at all (the tokenizers cannot
    encode it). ``what`` begins the message ("The text", "Candidate label 2")."""
    bad = _UNREADABLE.search(value)
    if bad is None:
        return value
    where, code = bad.start(), ord(bad.group())
    more = len(_UNREADABLE.findall(value, where + 1))
    also, it = (f" (and {more:,} more such characters)", "them") if more else ("", "it")
    if 0xD800 <= code <= 0xDFFF:
        raise ExplainerError(f"{what} contains a lone surrogate U+{code:04X} at position {where}{also}: half of a "
                             f"UTF-16 pair, not a character (the text was decoded wrongly); remove {it}.")
    raise ExplainerError(f"{what} contains a control character U+{code:04X} at position {where}{also}; "
                         f"remove {it}.")


def check_text(text) -> str:
    """``text`` when a model can read it; else an ExplainerError that says what to change.

    Refused: anything but a string; empty or whitespace-only text (nothing to explain); more than
    MAX_CHARS characters (the model reads a few hundred tokens, and tokenizing megabytes only ties up a
    shared server); C0/C1 control characters other than tab, newline, carriage return and form feed, and
    lone surrogates (``check_characters``). Explained as typed: every other character, including
    right-to-left scripts, bidi marks and isolates, zero-width (non-)joiners and spaces, combining marks,
    emoji sequences (ZWJ, flags, skin tones, keycaps), private-use and unassigned code points, CJK without
    spaces and single words of any length; words are spans of the text as given (``words.split_words``),
    nothing is normalised. Text a tokenizer reads as nothing (only zero-width characters) is refused by
    ``encode``.
    """
    if not isinstance(text, str):
        raise ExplainerError(f"The text must be a string, not {type(text).__name__}.")
    if not text.strip():
        raise ExplainerError("The text is empty. Type a sentence to explain.")
    if len(text) > MAX_CHARS:
        raise ExplainerError(f"The text has {len(text):,} characters; the limit is {MAX_CHARS:,}. "
                             "Shorten it: the model reads only its first few hundred tokens anyway.")
    return check_characters(text, "The text")


NOTHING_TO_READ = ("The model's tokenizer finds nothing to read in this text (only invisible or unsupported "
                   "characters). Type some words.")


def check_readable(clf: Classifier, texts: Sequence[str]) -> None:
    """Refuse a text the model's tokenizer reads as nothing (only characters it drops, such as zero-width
    spaces), as ``encode`` does for an explanation: a prediction of no text at all would pass for the
    text's. Several texts: the first such, by its number."""
    ids = clf.tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=clf.max_length)
    for i, row in enumerate(ids["input_ids"]):
        if not row:
            raise ExplainerError(NOTHING_TO_READ if len(texts) == 1 else f"Text {i + 1}: {NOTHING_TO_READ}")


def check_whole(name: str, value, low: int, high: int) -> int:
    """``value`` as an int, when it is a whole number (not a bool) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise ExplainerError(f"{name} must be a whole number from {low:,} to {high:,}, got {shown(value)}.")
    return int(value)


def encode(clf: Classifier, text: str) -> Encoded:
    """Tokenize one text, truncated to the model's input size (and say so)."""
    check_text(text)
    enc = clf.tokenizer(text, truncation=True, max_length=clf.max_length, return_offsets_mapping=True,
                        return_special_tokens_mask=True, return_tensors="pt")
    special = enc["special_tokens_mask"][0].numpy().astype(bool)
    if special.all():
        raise ExplainerError(NOTHING_TO_READ)
    offsets = enc["offset_mapping"][0].numpy().astype(np.int64)
    offsets[special] = 0
    last_end = int(offsets[~special, 1].max())
    device = clf.device
    input_ids = enc["input_ids"].to(device)
    mask = enc["attention_mask"].to(device)
    tti = enc.get("token_type_ids")
    return Encoded(
        text=text,
        input_ids=input_ids,
        attention_mask=mask,
        token_type_ids=tti.to(device) if tti is not None else None,
        position_ids=clf.family.position_ids(clf.model, input_ids),
        reads=clf.family.reads_at(clf.model, input_ids, mask),
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


def removal_token(clf: Classifier) -> str:
    """The token that stands for a removed word: the first of the family's ``removals`` the tokenizer has."""
    for name in clf.family.removals:
        if getattr(clf.tokenizer, f"{name}_token_id", None) is not None:
            return name
    raise ExplainerError(f"This tokenizer has none of the {', '.join(clf.family.removals)} tokens that removing "
                         "words needs.")


def baseline_ids(clf: Classifier, x, baseline: str) -> torch.Tensor:
    """An encoded input's ids (``Encoded`` or ``Pairs``) with every replaceable token (text and
    hypotheses; special tokens and padding stay) replaced by the baseline token."""
    token_id = baseline_token_id(clf, baseline)
    replace = torch.as_tensor(x.replaceable, device=x.input_ids.device)
    return torch.where(replace, torch.full_like(x.input_ids, token_id), x.input_ids)


def squash(logits: torch.Tensor, multi_label: bool, output: str) -> torch.Tensor:
    """Logits -> the explained numbers: probabilities (softmax or sigmoid) or logits. A head with one
    output is its raw score whatever is asked (a softmax over one label is always 1); zero-shot over
    one candidate label is multi-label, as in the pipeline, so it never gets here."""
    if output == "logit" or (logits.shape[-1] == 1 and not multi_label):
        return logits
    return torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)


def contrast(scores: torch.Tensor, target, versus) -> torch.Tensor:
    """[B, labels] -> [B]: the target's score, minus the contrast label's when there is one.
    ``target``/``versus``: a label index, or one per row [B]."""
    def pick(labels) -> torch.Tensor:
        index = torch.as_tensor(labels, device=scores.device).expand(scores.shape[0])
        return scores.gather(1, index.unsqueeze(1)).squeeze(1)

    return pick(target) if versus is None else pick(target) - pick(versus)
