"""Attribution methods by name, Captum underneath.

Every method sees only a Scorer (embeddings -> scores) and returns one score
per token of the explanation. Nothing is hooked or changed on the model, so one
model can be explained from many threads at once.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
import torch
from captum.attr import FeatureAblation, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency

from .errors import ExplainerError
from .scoring import BASELINES, OUTPUTS, Scorer
from .words import AGGREGATIONS

INTEGRATIONS = ("gausslegendre", "riemann_trapezoid")
_RNG_LOCK = threading.Lock()  # SmoothGrad's noise comes from torch's global generator


@dataclass(frozen=True)
class Attribution:
    """One row's per-slot scores and the method's convergence delta (None where it has none)."""

    token_scores: np.ndarray
    delta: float | None = None


@dataclass(frozen=True)
class Option:
    default: Any
    choices: tuple | None = None  # allowed values, for text options
    low: float | None = None  # inclusive range, for numbers
    high: float | None = None
    kind: type = str
    help: str = ""

    def check(self, name: str, value):
        if self.choices is not None:
            if value not in self.choices:
                raise ExplainerError(f"Option {name}={value!r} is not allowed; "
                                     f"use one of {', '.join(map(str, self.choices))}.")
            return value
        try:
            if isinstance(value, bool) or (self.kind is int and isinstance(value, float) and not value.is_integer()):
                raise TypeError
            value = self.kind(value)
        except (TypeError, ValueError):
            raise ExplainerError(f"Option {name} must be a {self.kind.__name__}, got {value!r}.") from None
        if not (self.low <= value <= self.high):
            raise ExplainerError(f"Option {name}={value} is out of range; use {self.low} to {self.high}.")
        return value


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    run: Callable[[Scorer, dict, "np.ndarray | None"], Attribution]
    options: Mapping[str, Option]
    signed: bool  # False: scores are magnitudes (saliency-style)
    has_baseline: bool
    help: str = ""
    needs_words: bool = False  # run() takes the token -> word feature map
    work: Callable[[dict, int], int] = lambda opts, n_words: 1  # examples per row through the model, for progress
    batched: bool = False  # several texts per pass give each exactly its own result (no shared noise, no words)

    def resolve(self, given: Mapping[str, Any]) -> dict:
        """Defaults filled in, every value checked; unknown names rejected."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            raise ExplainerError(f"Method {self.name} has no option {', '.join(unknown)}; "
                                 f"its options are {', '.join(self.options)}.")
        return {name: opt.check(name, given.get(name, opt.default)) for name, opt in self.options.items()}


def _fold(scorer: Scorer, per_input: tuple[torch.Tensor, ...], square: bool = False) -> list[np.ndarray]:
    """Per-position scores of every embedding use [N, positions...] -> each row's score per slot."""
    values = [v.detach().double().cpu().numpy() for v in per_input]
    out = []
    for row in range(scorer.n_rows):
        owners = [o[row].reshape(-1) for o in scorer.owners]
        slots = np.zeros(int(max(o.max() for o in owners)) + 1, dtype=np.float64)
        for v, o in zip(values, owners):
            v = v[row].reshape(-1)
            np.add.at(slots, o, v * v if square else v)
        out.append(np.sqrt(slots) if square else slots)
    return out


def _rows(scores: list[np.ndarray], deltas: torch.Tensor | None = None) -> list[Attribution]:
    """One Attribution per row, with its delta where the method has one."""
    deltas = [None] * len(scores) if deltas is None else deltas.reshape(-1).tolist()
    return [Attribution(s, d) for s, d in zip(scores, deltas)]


def _grad_norm(scorer: Scorer, grads: tuple[torch.Tensor, ...]) -> list[Attribution]:
    """L2 norm of each token's gradient over all its embedding uses."""
    return _rows(_fold(scorer, tuple(g.norm(dim=-1) for g in grads), square=True))


def _leaves(inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Private copies that take gradients (the scorer's tensors stay untouched)."""
    return tuple(x.detach().clone().requires_grad_(True) for x in inputs)


def _integrated_gradients(scorer: Scorer, opts: dict, words=None) -> list[Attribution]:
    ig = IntegratedGradients(scorer.forward)
    attrs, delta = ig.attribute(scorer.inputs, baselines=scorer.baselines, additional_forward_args=(scorer.rows(),),
                                n_steps=opts["n_steps"], method=opts["integration"],
                                internal_batch_size=scorer.examples_per_pass(opts["internal_batch_size"]),
                                return_convergence_delta=True)
    return _rows(_fold(scorer, tuple(a.sum(-1) for a in attrs)), delta)


def _saliency(scorer: Scorer, opts: dict, words=None) -> list[Attribution]:
    grads = Saliency(scorer.forward).attribute(_leaves(scorer.inputs), additional_forward_args=(scorer.rows(),),
                                               abs=False)
    return _grad_norm(scorer, grads)


def _input_x_gradient(scorer: Scorer, opts: dict, words=None) -> list[Attribution]:
    attrs = InputXGradient(scorer.forward).attribute(_leaves(scorer.inputs), additional_forward_args=(scorer.rows(),))
    return _rows(_fold(scorer, tuple(a.sum(-1) for a in attrs)))


def _smoothgrad(scorer: Scorer, opts: dict, words=None) -> list[Attribution]:
    stdevs = tuple(float(opts["noise"] * (x.max() - x.min())) for x in scorer.inputs)
    tunnel = NoiseTunnel(Saliency(scorer.forward))
    with _RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts["seed"])
        grads = tunnel.attribute(scorer.inputs, nt_type="smoothgrad", nt_samples=opts["samples"],
                                 nt_samples_batch_size=scorer.examples_per_pass(opts["internal_batch_size"]),
                                 stdevs=stdevs, additional_forward_args=(scorer.rows(),), abs=False)
    return _grad_norm(scorer, grads)


def _occlusion(scorer: Scorer, opts: dict, words: np.ndarray) -> list[Attribution]:
    """Replace one word at a time (all its pieces, in every embedding use) by the baseline token.

    ``words[t]`` is token (slot) t's word, or -1 for tokens never replaced
    (special tokens, zero-shot hypotheses). A word's score is shared evenly by its pieces.
    """
    n_words = int(words.max()) + 1
    feature = np.where(words < 0, n_words, words)
    masks = tuple(torch.as_tensor(feature[o], device=x.device).reshape(*o.shape, 1).expand_as(x)
                  for o, x in zip(scorer.owners, scorer.inputs))
    attrs = FeatureAblation(scorer.forward).attribute(
        scorer.inputs, baselines=scorer.baselines, feature_mask=masks, additional_forward_args=(scorer.rows(),),
        perturbations_per_eval=scorer.examples_per_pass(opts["internal_batch_size"]))
    per_feature = np.zeros(n_words + 1)
    per_feature[feature[scorer.owners[0]].reshape(-1)] = attrs[0][0, ..., 0].double().cpu().numpy().reshape(-1)
    counts = np.bincount(feature, minlength=n_words + 1)
    return [Attribution(np.where(words < 0, 0.0, per_feature[feature] / counts[feature]))]


_COMMON = {
    "output": Option("probability", choices=OUTPUTS, help="explain the probability or the raw logit"),
    "aggregation": Option("sum", choices=AGGREGATIONS, help="how word pieces make a word's score"),
}
_BATCH = Option(16, low=1, high=1024, kind=int, help="examples per forward pass (memory bound)")
_BASELINE = Option("auto", choices=("auto",) + BASELINES,
                   help="token that replaces the text (special tokens kept); auto: the one the model finds "
                        "least informative (most uncertain prediction)")

METHODS: Mapping[str, Method] = MappingProxyType({m.name: m for m in (
    Method("integrated_gradients", "Integrated Gradients", _integrated_gradients, {
        # 100, not Captum's 50: on builtin:sst2, 50 Gauss-Legendre steps left 3 of 8 everyday sentences
        # above 5% completeness error, 100 steps none (max 0.2%).
        "n_steps": Option(100, low=1, high=2000, kind=int, help="integration steps"),
        "integration": Option("gausslegendre", choices=INTEGRATIONS, help="quadrature rule"),
        "baseline": _BASELINE, "internal_batch_size": _BATCH, **_COMMON,
    }, signed=True, has_baseline=True, work=lambda opts, n: opts["n_steps"] + 2, batched=True,
        help="Path integral of gradients from a baseline text to the input; sums to F(x) - F(baseline)."),
    Method("saliency", "Saliency (gradient norm)", _saliency, {**_COMMON}, signed=False, has_baseline=False,
           batched=True, help="L2 norm of the gradient of the score with respect to each token's embedding."),
    Method("input_x_gradient", "Input x Gradient", _input_x_gradient, {**_COMMON}, signed=True, has_baseline=False,
           batched=True, help="Gradient times embedding, summed over the embedding dimensions."),
    Method("smoothgrad", "SmoothGrad", _smoothgrad, {
        "samples": Option(20, low=1, high=500, kind=int, help="noisy copies averaged"),
        "noise": Option(0.1, low=0.0, high=1.0, kind=float, help="noise std as a fraction of the embeddings' range"),
        "seed": Option(0, low=0, high=2**31 - 1, kind=int, help="random seed, for reproducible noise"),
        "internal_batch_size": _BATCH, **_COMMON,
    }, signed=False, has_baseline=False, work=lambda opts, n: opts["samples"],
        help="Saliency averaged over noisy copies of the embeddings (Captum NoiseTunnel)."),
    Method("occlusion", "Occlusion (word removal)", _occlusion, {
        "baseline": Option("mask", choices=BASELINES, help="token that replaces each word"),
        "internal_batch_size": _BATCH, **_COMMON,
    }, signed=True, has_baseline=True, needs_words=True, work=lambda opts, n: n + 2,
        help="Score drop when one word is replaced by the baseline token (Captum FeatureAblation)."),
)})


def more_steps(options: Mapping[str, Any]) -> int | None:
    """The step count to try when integrated gradients has not converged: four times as many,
    within the option's range; None when there is no step count or it is already at the cap."""
    steps, cap = options.get("n_steps"), METHODS["integrated_gradients"].options["n_steps"].high
    return None if steps is None or steps >= cap else int(min(4 * steps, cap))


def method(name: str) -> Method:
    if name not in METHODS:
        raise ExplainerError(f"Unknown method {name!r}; choose one of {', '.join(METHODS)}.")
    return METHODS[name]


def attribute(m: Method, scorer: Scorer, opts: dict, words: np.ndarray | None = None,
              progress: Callable[[float], None] | None = None) -> list[Attribution]:
    """Run one method on every row of the scorer; gradients on, whatever the caller's grad mode.

    ``progress(fraction)`` is called as examples go through the model.
    """
    if scorer.n_rows > 1 and not m.batched:
        raise ExplainerError(f"{m.title} explains one text per pass.")
    if progress is not None:
        total = max(1, scorer.n_rows * m.work(opts, 0 if words is None else int(words.max()) + 1))
        done = [0]
        inner = scorer.forward

        def counted(*embeddings):
            out = inner(*embeddings)
            done[0] += int(embeddings[0].shape[0])
            progress(min(1.0, done[0] / total))
            return out

        scorer = replace(scorer, forward=counted)
    with torch.enable_grad():
        return m.run(scorer, opts, words)
