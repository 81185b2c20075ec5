"""Plain result records: frozen dataclasses of numpy arrays and Python scalars.

Results never hold torch tensors, so they can be cached, pickled, compared in
tests, serialised to JSON and rendered by any page or notebook.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import numpy as np

from .errors import ExplainerError

SCHEMA_VERSION = 1
CONVERGENCE_WARNING = 0.05  # a convergence error above this share of |F(x) - F(x')| calls for more steps


@dataclass(frozen=True)
class Prediction:
    """The model's decision on one text: top label and every label's score."""

    label: str
    scores: Mapping[str, float]
    multi_label: bool = False
    notices: tuple[str, ...] = ()  # what was changed in the request (e.g. duplicate labels removed)
    output: str = "probability"  # or "score": a one-output head's raw number (reward, regression)

    def to_dict(self) -> dict:
        return {"label": self.label, "scores": dict(self.scores), "multi_label": self.multi_label,
                "notices": list(self.notices), "output": self.output}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Prediction":
        return cls(label=data["label"], scores=dict(data["scores"]), multi_label=data["multi_label"],
                   notices=tuple(data.get("notices", ())), output=data.get("output", "probability"))


@dataclass(frozen=True)
class Word:
    """A word of the original text: ``text == original[start:end]``.

    ``tokens`` are the indices of the word pieces folded into ``score``.
    """

    text: str
    start: int
    end: int
    score: float
    tokens: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end,
                "score": self.score, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Word":
        return cls(data["text"], data["start"], data["end"], data["score"], tuple(data["tokens"]))


_ARRAYS = ("token_scores", "token_offsets", "special_tokens")


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why the model gave ``target`` its score on ``text``.

    ``token_scores`` are raw attributions, one per token, special tokens
    included; for integrated gradients they sum to ``score - baseline_score``
    up to ``delta``. Normalising them is a display choice.
    """

    text: str
    tokens: tuple[str, ...]
    token_offsets: np.ndarray  # [T, 2] character spans into text; (0, 0) for special tokens
    special_tokens: np.ndarray  # [T] bool
    token_scores: np.ndarray  # [T] float64
    words: tuple[Word, ...]
    target: str
    score: float  # F(x): the explained number, from a plain forward pass
    baseline_score: float | None  # F(x'), where the method has a baseline
    delta: float | None  # convergence delta, where the method has one
    method: str
    options: Mapping[str, Any]
    provenance: Mapping[str, Any]
    prediction: Prediction
    truncated: bool = False  # True when the text was longer than the model's input
    extras: Mapping[str, Any] = field(default_factory=dict)  # room for later fields
    schema_version: int = SCHEMA_VERSION

    @property
    def gap(self) -> float | None:
        """F(x) - F(x'): what a complete method's token scores add up to."""
        return None if self.baseline_score is None else self.score - self.baseline_score

    def share_of_gap(self, value: float) -> float:
        """|value| as a share of |F(x) - F(x')|."""
        return abs(value) / max(abs(self.gap), 1e-12)

    @property
    def convergence_error(self) -> float | None:
        """|delta| as a share of |F(x) - F(x')|, where the method has both. An explanation stitched from
        sliding windows has no one F(x') (``explainers.windows``): the largest of its windows' errors, so
        that ``converged`` is False when any window is not."""
        if self.delta is not None and self.gap is not None:
            return self.share_of_gap(self.delta)
        errors = [w["convergence_error"] for w in self.extras.get("windows", ())
                  if isinstance(w, Mapping) and w.get("convergence_error") is not None]
        return max(errors) if errors else None

    @property
    def converged(self) -> bool:
        """False when the convergence error is above CONVERGENCE_WARNING: trust the scores less."""
        return self.convergence_error is None or self.convergence_error <= CONVERGENCE_WARNING

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _ARRAYS:
                value = value.tolist()
            elif f.name == "words":
                value = [w.to_dict() for w in value]
            elif f.name == "prediction":
                value = value.to_dict()
            elif f.name == "tokens":
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping) -> "Explanation":
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ExplainerError(
                f"This explanation has schema version {version!r}; this version of explainers "
                f"reads version {SCHEMA_VERSION}. Recompute it with the current version."
            )
        kwargs = dict(data)
        kwargs["tokens"] = tuple(data["tokens"])
        kwargs["token_scores"] = np.asarray(data["token_scores"], dtype=np.float64)
        kwargs["token_offsets"] = np.asarray(data["token_offsets"], dtype=np.int64).reshape(-1, 2)
        kwargs["special_tokens"] = np.asarray(data["special_tokens"], dtype=bool)
        kwargs["words"] = tuple(Word.from_dict(w) for w in data["words"])
        kwargs["prediction"] = Prediction.from_dict(data["prediction"])
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> "Explanation":
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as err:
            raise ExplainerError(f"Not an explanation in JSON: {err}") from None
        if not isinstance(data, dict):
            raise ExplainerError("Not an explanation in JSON: expected an object.")
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, ExplainerError):
                raise
            raise ExplainerError(f"Not an explanation in JSON: {err!r} is missing or malformed.") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Explanation):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # mutable-looking arrays inside: not hashable

    def _repr_html_(self) -> str:
        from .html import explanation_html

        return explanation_html(self)


@dataclass(frozen=True, eq=False)
class AttentionStream:
    """One kind of attention across all layers: ``weights`` [layers, heads, queries, keys].

    ``reads`` is the query position whose output the classification head
    reads (CLS, or BART's final EOS); None for mean-pooled models, which read
    every token averaged. ``relevance`` [layers, queries, keys] is the
    gradient-weighted head combination mean_h (A * dF/dA)^+ (Chefer et al.
    2021) and ``head_relevance`` [layers, heads] its per-head sums, present
    when a score was explained.
    """

    name: str  # "encoder" (self-attention of encoder-only models too), "decoder", "cross"
    weights: np.ndarray
    query_tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    query_special: np.ndarray  # [queries] bool
    key_special: np.ndarray  # [keys] bool
    reads: int | None
    reader: str = ""  # the position the head reads, in words ("[CLS]", "the final EOS (position 9)")
    relevance: np.ndarray | None = None
    head_relevance: np.ndarray | None = None

    @property
    def layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def heads(self) -> int:
        return int(self.weights.shape[1])


@dataclass(frozen=True, eq=False)
class AttentionMaps:
    """Every layer's and head's attention on one text, as the classifier computes it.

    Encoder-only models have one stream, "encoder"; BART also has "decoder"
    (over the text shifted right after the decoder start token) and "cross"
    (decoder queries over encoder keys). ``target``/``score``: the explained
    number the gradient-weighted maps refer to, when there is one.
    """

    text: str
    tokens: tuple[str, ...]
    special_tokens: np.ndarray
    token_offsets: np.ndarray
    streams: Mapping[str, AttentionStream]
    truncated: bool = False
    checkpoint: str = ""
    target: str | None = None
    score: float | None = None

    @property
    def encoder(self) -> AttentionStream:
        return self.streams["encoder"]

    @property
    def weights(self) -> np.ndarray:
        return self.encoder.weights

    @property
    def reads(self) -> int | None:
        return self.encoder.reads

    @property
    def layers(self) -> int:
        return self.encoder.layers

    @property
    def heads(self) -> int:
        return self.encoder.heads
