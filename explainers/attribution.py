"""Attribution methods by name, Captum underneath.

Every method sees only a Scorer (embeddings -> scores) and returns one score
per token of the explanation. Nothing is hooked or changed on the model, so one
model can be explained from many threads at once.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
import torch
from captum._utils.models.linear_model import SkLearnRidge
from captum.attr import FeatureAblation, InputXGradient, IntegratedGradients, KernelShap, Lime, NoiseTunnel, Saliency

from . import integration
from .attention import combine_heads, from_reader, rollout
from .errors import ExplainerError, shown
from .limits import Deadline, available_memory, check
from .scoring import BASELINES, OUTPUTS, PRECISIONS, Scorer
from .words import AGGREGATIONS

INTEGRATIONS = ("gausslegendre", "riemann_trapezoid")
FIRST_INTERVALS = 16  # the tolerance mode's first rule: 17 gradients; fewer can agree with F(x) - F(x') by luck
REFINE_POINTS = 4  # the tolerance mode's new gradients per text per round (bench/ig_quadrature.py)
ABSOLUTE_FLOOR = 1e-4  # |delta| this small is enough, however close F(x) is to F(x')
# bf16 evaluations after which a row still outside its tolerance starts again in float32: on 300 SST-2
# sentences, float32 needs at most 49 for nine in ten and bf16 about as many at the median, but its rounding
# keeps 7 % from ever reaching 1 % (bench/RESULTS.md, "How many evaluations real sentences need")
BF16_PATIENCE = 65
# ... and a row whose bf16 F(x) - F(x') is off float32's by more than this share of the allowed error runs in
# float32 from the start: its bf16 gradients integrate to the wrong total, so reaching the tolerance would take
# a quadrature error that cancels the offset (on 20 SST-2 texts of 130-520 tokens the offset was up to 30
# times the allowed error, and three of the four bf16 stalls had one; bench/RESULTS.md)
BF16_OFFSET_SHARE = 0.5
_RNG_LOCK = threading.Lock()  # SmoothGrad's noise, LIME's and KernelSHAP's samples come from torch's global generator
KINDS: Mapping[str, str] = MappingProxyType({  # Method.kind -> what its scores are, in words, for the UI
    "attribution": "Attribution: how much each word moves the explained score (gradients at or along the "
                   "input, or the score change when the word is removed).",
    "surrogate": "Surrogate fit: a linear model fitted to the score over random removals of words; a word's "
                 "score is its coefficient.",
    "attention": "Attention weights are not attributions: they say where the model looked, not what changed its "
                 "answer. They are measured here by the same faithfulness numbers as the rest.",
})


@dataclass(frozen=True)
class Attribution:
    """One row's per-slot scores and the method's convergence delta (None where it has none)."""

    token_scores: np.ndarray
    delta: float | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)  # beside the scores: steps used, ...


@dataclass(frozen=True)
class Option:
    default: Any
    choices: tuple | None = None  # allowed values, for text options
    low: float | None = None  # inclusive range, for numbers
    high: float | None = None
    kind: type = str
    help: str = ""
    optional: bool = False  # None is allowed (and means "automatic")

    def check(self, name: str, value):
        if value is None and self.optional:
            return None
        if self.choices is not None:
            if not isinstance(value, str) or value not in self.choices:
                raise ExplainerError(f"Option {name}={shown(value)} is not allowed; "
                                     f"use one of {', '.join(map(str, self.choices))}.")
            return value
        try:
            if isinstance(value, bool) or (self.kind is int and isinstance(value, float) and not value.is_integer()):
                raise TypeError
            value = self.kind(value)
        except (TypeError, ValueError):
            raise ExplainerError(f"Option {name} must be a {self.kind.__name__}, got {shown(value)}.") from None
        except OverflowError:  # an integer too large for a float
            raise ExplainerError(f"Option {name}={shown(value)} is out of range; "
                                 f"use {self.low} to {self.high}.") from None
        if not (self.low <= value <= self.high):
            raise ExplainerError(f"Option {name}={shown(value)} is out of range; use {self.low} to {self.high}.")
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
    # (fewest, most) examples where the method decides as it goes (the tolerance mode); None: always ``work``
    work_bounds: Callable[[dict, int], tuple[int, int]] | None = None
    batched: bool = False  # several texts per pass give each exactly its own result (no shared noise, no words)
    kind: str = "attribution"  # a key of KINDS: "attribution", "surrogate" (LIME, KernelSHAP) or "attention"

    def resolve(self, given: Mapping[str, Any]) -> dict:
        """Defaults filled in, every value checked; unknown names rejected."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            named = ", ".join(n if n.isidentifier() else shown(n) for n in unknown)  # odd names quoted, escaped
            raise ExplainerError(f"Method {self.name} has no option {named}; "
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


def _rows(scores: list[np.ndarray], deltas: torch.Tensor | None = None, extras=None) -> list[Attribution]:
    """One Attribution per row, with its delta where the method has one."""
    deltas = [None] * len(scores) if deltas is None else deltas.reshape(-1).tolist()
    extras = [{}] * len(scores) if extras is None else extras
    return [Attribution(s, d, MappingProxyType(e)) for s, d, e in zip(scores, deltas, extras)]


def _grad_norm(scorer: Scorer, grads: tuple[torch.Tensor, ...]) -> list[Attribution]:
    """L2 norm of each token's gradient over all its embedding uses."""
    return _rows(_fold(scorer, tuple(g.norm(dim=-1) for g in grads), square=True))


def _leaves(inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Private copies that take gradients (the scorer's tensors stay untouched)."""
    return tuple(x.detach().clone().requires_grad_(True) for x in inputs)


def _integrated_gradients(scorer: Scorer, opts: dict, words=None) -> list[Attribution]:
    """A given n_steps: Captum's IntegratedGradients with exactly that many steps. None: to the tolerance."""
    if opts["n_steps"] is None:
        return _ig_to_tolerance(scorer, opts)
    ig = IntegratedGradients(scorer.forward)
    attrs, delta = ig.attribute(scorer.inputs, baselines=scorer.baselines, additional_forward_args=(scorer.rows(),),
                                n_steps=opts["n_steps"], method=opts["integration"],
                                internal_batch_size=scorer.examples_per_pass(opts["internal_batch_size"]),
                                return_convergence_delta=True)
    if scorer.exact is not None:  # Captum's delta used the bf16 F(x), F(x'): measure against float32
        start, end = scorer.end_scores()
        delta = sum(a.sum(dim=tuple(range(1, a.dim()))) for a in attrs).double().cpu() - torch.as_tensor(end - start)
    steps = {"steps": opts["n_steps"], "cap_hit": False, "integration": opts["integration"]}
    return _rows(_fold(scorer, tuple(a.sum(-1) for a in attrs)), delta, [steps] * scorer.n_rows)


def _gradients_at(scorer: Scorer, pairs: list[tuple[int, float]], per_pass: int) -> list[np.ndarray]:
    """For each embedding use, [len(pairs), positions...]: at each (row, alpha), the gradient at
    x' + alpha (x - x') (Captum's Saliency, signed) dotted with x - x' over the embedding dimensions.
    The pairs go through the model in the fewest passes of at most ``per_pass``, evenly filled."""
    passes = max(1, math.ceil(len(pairs) / per_pass))
    size = math.ceil(len(pairs) / passes)
    out: list[list[torch.Tensor]] = [[] for _ in scorer.inputs]
    for start in range(0, len(pairs), size):
        chunk = pairs[start:start + size]
        index = torch.as_tensor([r for r, _ in chunk], device=scorer.inputs[0].device)
        points, diffs = [], []
        for x, b in zip(scorer.inputs, scorer.baselines):
            a = torch.as_tensor([a for _, a in chunk], dtype=x.dtype, device=x.device).view(-1, *[1] * (x.dim() - 1))
            diff = x[index] - b[index]
            points.append((b[index] + a * diff).requires_grad_(True))
            diffs.append(diff)
        grads = Saliency(scorer.forward).attribute(tuple(points), additional_forward_args=(index,), abs=False)
        for use, (g, d) in enumerate(zip(grads, diffs)):
            out[use].append((g.float() * d).sum(-1).detach().double().cpu())
    return [torch.cat(o).numpy() for o in out]


def _ig_to_tolerance(scorer: Scorer, opts: dict) -> list[Attribution]:
    """Integrated gradients refined until each row's completeness error is within the tolerance.

    An adaptive trapezoid rule: 17 evenly spaced points (fewer can agree with F(x) - F(x') by luck),
    then REFINE_POINTS more per round (on a GPU, where a pass costs about the same however few it
    holds, up to 16) where the integrand bends most (``integration.refine``), every
    gradient already computed kept (bench/ig_quadrature.py: of the nested rules, Gauss-Legendre
    restarted at doubled steps and this, the fewest gradients to 1% on builtin:sst2). A row stops
    when |delta| <= tolerance x |F(x) - F(x')| (or ABSOLUTE_FLOOR, when F(x) is that close to F(x')),
    or at max_steps gradient evaluations; each row reports its own steps. F(x) and F(x') are the
    model's own (``Scorer.ends``), whatever precision the gradients are computed in. In bf16, a row
    still outside its tolerance after BF16_PATIENCE evaluations starts again in float32
    (``Scorer.exact``): bf16's rounding keeps some texts from ever reaching it (bench/RESULTS.md).
    A row whose bf16 F(x) - F(x') is already off float32's by more than BF16_OFFSET_SHARE of its allowed
    error (one forward pass of x and x' in bf16 says so) runs in float32 from the start.
    """
    n_rows, per_pass = scorer.n_rows, scorer.examples_per_pass(opts["internal_batch_size"])
    per_round = REFINE_POINTS if scorer.inputs[0].device.type == "cpu" else min(per_pass, FIRST_INTERVALS)
    start, end = scorer.end_scores()
    gap = end - start
    allowed = np.maximum(opts["tolerance"] * np.abs(gap), ABSOLUTE_FLOOR)
    first = np.linspace(0.0, 1.0, FIRST_INTERVALS + 1)
    nodes = {row: np.empty(0) for row in range(n_rows)}
    values: dict[int, list[np.ndarray]] = {}  # per row, per use: [nodes, positions...]
    pending = {row: first for row in range(n_rows)}
    offset = {} if scorer.exact is None else _bf16_offset(scorer, gap, allowed)  # rows in float32 from the start
    stalled: dict[int, int] = {}  # rows started again in float32 -> the bf16 evaluations given up
    done: dict[int, tuple[list[np.ndarray], float, int, bool]] = {}
    while pending:
        found: dict[int, list[np.ndarray]] = {}
        for precise in (False, True):  # rows in the scorer's precision, then rows in float32
            group = [row for row in pending if (row in stalled or row in offset) == precise]
            if not group:
                continue
            pairs = [(row, float(a)) for row in group for a in pending[row]]
            grads = _gradients_at(scorer.exact if precise else scorer, pairs, per_pass)
            at = 0
            for row in group:
                found[row] = [g[at:at + len(pending[row])] for g in grads]
                at += len(pending[row])
        for row, alphas in pending.items():
            merged = np.concatenate([nodes[row], alphas])
            order = np.argsort(merged, kind="stable")
            nodes[row] = merged[order]
            before = values.get(row, [f[:0] for f in found[row]])
            values[row] = [np.concatenate([old, n])[order] for old, n in zip(before, found[row])]
        waiting = {}
        for row in pending:
            weights = integration.trapezoid_weights(nodes[row])
            attrs = [np.tensordot(weights, v, axes=([0], [0])) for v in values[row]]  # per use: [positions...]
            delta = float(sum(a.sum() for a in attrs) - gap[row])
            used = len(nodes[row])
            more = min(per_round, opts["max_steps"] - used)
            if abs(delta) > allowed[row] and more > 0:
                if scorer.exact is not None and row not in stalled and row not in offset and used >= BF16_PATIENCE:
                    stalled[row], nodes[row], waiting[row] = used, np.empty(0), first
                    del values[row]
                    continue
                totals = sum(v.reshape(used, -1).sum(1) for v in values[row])
                alphas = integration.refine(nodes[row], totals, more)
                if len(alphas):
                    waiting[row] = alphas
                    continue
            done[row] = (attrs, delta, used, bool(abs(delta) > allowed[row]))
            del values[row]
        pending = waiting
    scores = _fold(scorer, tuple(torch.as_tensor(np.stack([done[r][0][use] for r in range(n_rows)]))
                                 for use in range(len(scorer.inputs))))
    extras = [{"steps": done[r][2], "cap_hit": done[r][3], "integration": "adaptive trapezoid",
               **({"bf16_stalled_at": stalled[r]} if r in stalled else {}),
               **({"bf16_offset": offset[r]} if r in offset else {})} for r in range(n_rows)]
    return _rows(scores, torch.as_tensor([done[r][1] for r in range(n_rows)]), extras)


def _bf16_offset(scorer: Scorer, gap: np.ndarray, allowed: np.ndarray) -> dict[int, float]:
    """The rows whose F(x) - F(x') in the scorer's bf16 is off the float32 ``gap`` by more than
    BF16_OFFSET_SHARE of ``allowed``, with that offset as a share of |gap|: bf16 integrated gradients
    sum to bf16's own F(x) - F(x'), so such a row would reach the tolerance only by a quadrature error
    that cancels the offset. One forward pass of x and x' per row, in bf16."""
    start, end = replace(scorer, ends=None).end_scores()
    off = (end - start) - gap
    return {row: float(abs(off[row]) / max(abs(gap[row]), 1e-12)) for row in range(len(gap))  # finite for JSON
            if abs(off[row]) > BF16_OFFSET_SHARE * allowed[row]}


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


def _word_features(scorer: Scorer, words: np.ndarray) -> tuple[np.ndarray, int, tuple[torch.Tensor, ...]]:
    """Word removal's features: one per word that owns a slot, numbered in text order, and one more
    (number ``n_words``) for the slots never removed (``words[t]`` -1: special tokens, zero-shot
    hypotheses, padding). Returns each slot's feature, n_words, and per embedding use a feature mask
    shaped like its input (every position of a slot, in all its dimensions, in the slot's feature)."""
    used = np.unique(words[words >= 0])
    n_words = len(used)
    feature = np.where(words < 0, n_words, np.searchsorted(used, words))
    masks = tuple(torch.as_tensor(feature[o], device=x.device).reshape(*o.shape, 1).expand_as(x)
                  for o, x in zip(scorer.owners, scorer.inputs))
    return feature, n_words, masks


def _spread(words: np.ndarray, feature: np.ndarray, per_feature: np.ndarray) -> list[Attribution]:
    """Each word's value shared evenly by its pieces (their sum gives it back); 0 where never removed."""
    counts = np.bincount(feature, minlength=len(per_feature))
    return [Attribution(np.where(words < 0, 0.0, per_feature[feature] / counts[feature]))]


def _occlusion(scorer: Scorer, opts: dict, words: np.ndarray) -> list[Attribution]:
    """Replace one word at a time (all its pieces, in every embedding use) by the baseline token.

    ``words[t]`` is token (slot) t's word, or -1 for tokens never replaced
    (special tokens, zero-shot hypotheses). A word's score is shared evenly by its pieces.
    """
    feature, n_words, masks = _word_features(scorer, words)
    attrs = FeatureAblation(scorer.forward).attribute(
        scorer.inputs, baselines=scorer.baselines, feature_mask=masks, additional_forward_args=(scorer.rows(),),
        perturbations_per_eval=scorer.examples_per_pass(opts["internal_batch_size"]))
    per_feature = np.zeros(n_words + 1)
    per_feature[feature[scorer.owners[0]].reshape(-1)] = attrs[0][0, ..., 0].double().cpu().numpy().reshape(-1)
    return _spread(words, feature, per_feature)


def _lime_kernel(n_words: int, width: float = 25.0) -> Callable[..., float]:
    """The LIME text explainer's sample weight, on the binary vector z of kept words (not on the
    embeddings): distance d = 100 x cosine distance between z and the all-ones vector (every word
    kept), weight sqrt(exp(-d^2 / width^2)). For k of n words kept, cos(z, 1) = sqrt(k / n); with none
    kept it is 0 (as scikit-learn's cosine distance has it)."""
    def similarity(original, perturbed, sample: torch.Tensor, **kwargs) -> float:
        distance = 100.0 * (1.0 - math.sqrt(float(sample.sum()) / n_words))
        return math.exp(-distance ** 2 / (2 * width ** 2))

    return similarity


def _surrogate(explainer: Callable[[Callable], Any], scorer: Scorer, opts: dict, words: np.ndarray,
               made: Callable[[int], dict] = lambda n_words: {}) -> list[Attribution]:
    """LIME or KernelSHAP over words (``explainer``: Captum's class, ``made(n_words)``: its further arguments).

    Captum perturbs z, one 0/1 per word (1: kept); a word off has all its pieces replaced by the
    baseline token in every embedding use. The slots never removed (special tokens, hypotheses,
    padding) are the extra feature ``n_words`` of the word map, always kept (its baseline is the input),
    and not a column of the fitted model, so it adds no noise to the fit. A word's score is its
    coefficient, shared evenly by its pieces.
    """
    feature, n_words, _ = _word_features(scorer, words)
    uses = [torch.as_tensor(feature[o], device=x.device).reshape(-1) for o, x in zip(scorer.owners, scorer.inputs)]

    def forward(kept: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        kept = torch.cat([kept, kept.new_ones(len(kept), 1)], dim=1).bool()  # + the never-removed feature
        return scorer.forward(*(torch.where(kept[:, use].reshape(len(kept), *x.shape[1:-1], 1), x, b)
                                for use, x, b in zip(uses, scorer.inputs, scorer.baselines)), rows)

    device = scorer.inputs[0].device
    with _RNG_LOCK, torch.random.fork_rng(devices=[]):  # Captum draws its samples from torch's CPU generator only
        torch.manual_seed(opts["seed"])
        coefs = explainer(forward, **made(n_words)).attribute(
            torch.ones(1, n_words, device=device), baselines=torch.zeros(1, n_words, device=device),
            feature_mask=torch.arange(n_words, device=device)[None], additional_forward_args=(scorer.rows(),),
            n_samples=opts["samples"], perturbations_per_eval=scorer.examples_per_pass(opts["internal_batch_size"]),
            return_input_shape=False)
    return _spread(words, feature, np.append(coefs.reshape(-1).double().cpu().numpy(), 0.0))


def _lime(scorer: Scorer, opts: dict, words: np.ndarray) -> list[Attribution]:
    return _surrogate(Lime, scorer, opts, words, lambda n_words: {
        "interpretable_model": SkLearnRidge(alpha=1.0), "similarity_func": _lime_kernel(n_words)})


def _kernel_shap(scorer: Scorer, opts: dict, words: np.ndarray) -> list[Attribution]:
    if np.unique(words[words >= 0]).size == 1:  # no coalition between none and all for Captum to sample:
        return _occlusion(scorer, opts, words)  # the one word's Shapley value is exactly F(x) - F(x without it)
    return _surrogate(KernelShap, scorer, opts, words)


def _attention_flow(scorer: Scorer, how: str | None) -> list[Attribution]:
    """The encoder attention from the position the classifier reads, after the last layer: the last
    layer's heads averaged (``how`` None), or the rollout of the ``how``-combined heads. One value per
    token of the text, as the Attention page's encoder rows (BART: the encoder's final EOS)."""
    if scorer.attention is None:
        raise ExplainerError("Attention word scores are available for a classifier's own labels without a "
                             "contrast; use a gradient or perturbation method for zero-shot labels, an NLI "
                             "hypothesis, similarity zero-shot or a contrast.")
    stream = scorer.attention().encoder
    maps = combine_heads(stream, "mean") if how is None else rollout(combine_heads(stream, how))
    flow = from_reader(maps, stream.reads)[-1].astype(np.float64)
    slots = int(max(o.max() for o in scorer.owners)) + 1
    if len(flow) != slots:
        raise ExplainerError(f"The attention maps have {len(flow)} tokens for {slots} explained tokens.")
    return [Attribution(flow)]


def _attention_last(scorer: Scorer, opts: dict, words=None) -> list[Attribution]:
    return _attention_flow(scorer, None)


def _attention_rollout(scorer: Scorer, opts: dict, words=None) -> list[Attribution]:
    return _attention_flow(scorer, "mean")


def _attention_gradient(scorer: Scorer, opts: dict, words=None) -> list[Attribution]:
    return _attention_flow(scorer, "gradient")


_COMMON = {
    "output": Option("probability", choices=OUTPUTS, help="explain the probability or the raw logit"),
    "aggregation": Option("sum", choices=AGGREGATIONS, help="how word pieces make a word's score"),
}
_BATCH = Option(None, low=1, high=1024, kind=int, optional=True,
                help="examples per forward pass (memory bound); empty: as many as fit 8,192 tokens")
_PRECISION = Option("fp32", choices=PRECISIONS,
                    help="bf16: the model's matrix products in bfloat16, up to twice as fast where the hardware "
                         "has them; F(x), F(baseline) and the completeness check stay float32. auto: bf16 for "
                         "texts of 128 tokens or more where the machine has it, else fp32")
_REMOVAL = Option("auto", choices=("auto",) + BASELINES,
                  help="token that replaces each removed word; auto: the model family's (mask for encoders)")
# On builtin:sst2, 8 everyday sentences, Spearman of two seeds' word scores (median / mean): LIME 0.70 / 0.68 at
# 100 samples, 0.94 / 0.87 at 300, 0.91 / 0.90 at 500, 0.95 / 0.90 at 1000; KernelSHAP 0.58 / 0.56 at 100,
# 0.77 / 0.70 at 300, 0.87 / 0.84 at 500, 0.92 / 0.89 at 1000. Defaults: the first count with a median of 0.9
# whose mean no longer rises (LIME), or where the median reaches 0.9 (KernelSHAP).
_LIME_SAMPLES = Option(500, low=10, high=5000, kind=int, help="random word removals the linear model is fitted to")
_SHAP_SAMPLES = Option(1000, low=10, high=5000, kind=int, help="random word removals the linear model is fitted to")
_SEED = Option(0, low=0, high=2**31 - 1, kind=int, help="random seed, for reproducible samples")
_BASELINE = Option("auto", choices=("auto",) + BASELINES,
                   help="token that replaces the text (special tokens kept); auto: the one the model finds "
                        "least informative (most uncertain prediction)")

METHODS: Mapping[str, Method] = MappingProxyType({m.name: m for m in (
    Method("integrated_gradients", "Integrated Gradients", _integrated_gradients, {
        # None: refine until the completeness error is within the tolerance (bench/ig_quadrature.py). A fixed
        # count is a gamble: on builtin:sst2, 128 Gauss-Legendre steps left a 9-word sentence at 1.1%, while
        # another reached 0.2% at 8.
        "n_steps": Option(None, low=1, high=2000, kind=int, optional=True,
                          help="integration steps; empty: as many as the tolerance needs"),
        "tolerance": Option(0.01, low=1e-4, high=0.5, kind=float,
                            help="without n_steps: stop when |delta| <= tolerance x |F(x) - F(baseline)|"),
        "max_steps": Option(513, low=FIRST_INTERVALS + 1, high=4097, kind=int,
                            help="without n_steps: the most gradient evaluations per text"),
        "integration": Option("gausslegendre", choices=INTEGRATIONS,
                              help="quadrature rule for a given n_steps (the tolerance mode refines a trapezoid)"),
        "baseline": _BASELINE, "internal_batch_size": _BATCH, "precision": _PRECISION, **_COMMON,
    }, signed=True, has_baseline=True, batched=True,
        work=lambda opts, n: (opts["n_steps"] or FIRST_INTERVALS + 1 + REFINE_POINTS) + 2,
        work_bounds=lambda opts, n: ((opts["n_steps"] + 2,) * 2 if opts["n_steps"] else
                                     (FIRST_INTERVALS + 3, opts["max_steps"] + 2)),
        help="Path integral of gradients from a baseline text to the input; sums to F(x) - F(baseline)."),
    Method("saliency", "Saliency (gradient norm)", _saliency, {"precision": _PRECISION, **_COMMON}, signed=False,
           has_baseline=False,
           batched=True, help="L2 norm of the gradient of the score with respect to each token's embedding."),
    Method("input_x_gradient", "Input x Gradient", _input_x_gradient, {"precision": _PRECISION, **_COMMON},
           signed=True, has_baseline=False,
           batched=True, help="Gradient times embedding, summed over the embedding dimensions."),
    Method("smoothgrad", "SmoothGrad", _smoothgrad, {
        "samples": Option(20, low=1, high=500, kind=int, help="noisy copies averaged"),
        "noise": Option(0.1, low=0.0, high=1.0, kind=float, help="noise std as a fraction of the embeddings' range"),
        "seed": Option(0, low=0, high=2**31 - 1, kind=int, help="random seed, for reproducible noise"),
        "internal_batch_size": _BATCH, "precision": _PRECISION, **_COMMON,
    }, signed=False, has_baseline=False, work=lambda opts, n: opts["samples"],
        help="Saliency averaged over noisy copies of the embeddings (Captum NoiseTunnel)."),
    Method("occlusion", "Occlusion (word removal)", _occlusion, {
        "baseline": _REMOVAL,
        "internal_batch_size": _BATCH, **_COMMON,
    }, signed=True, has_baseline=True, needs_words=True, work=lambda opts, n: n + 2,
        help="Score drop when one word is replaced by the baseline token (Captum FeatureAblation)."),
    Method("lime", "LIME (words)", _lime, {
        "samples": _LIME_SAMPLES, "seed": _SEED, "baseline": _REMOVAL, "internal_batch_size": _BATCH, **_COMMON,
    }, signed=True, has_baseline=True, needs_words=True, work=lambda opts, n: opts["samples"], kind="surrogate",
        help="LIME over words: random subsets of words replaced by the baseline token, a ridge regression "
             "(alpha 1) fitted to the scores, weighted by LIME's text kernel (cosine distance of the kept words "
             "to all words x 100, width 25); a word's score is its coefficient (Captum Lime)."),
    Method("kernel_shap", "KernelSHAP (words)", _kernel_shap, {
        "samples": _SHAP_SAMPLES, "seed": _SEED, "baseline": _REMOVAL, "internal_batch_size": _BATCH, **_COMMON,
    }, signed=True, has_baseline=True, needs_words=True, work=lambda opts, n: opts["samples"], kind="surrogate",
        help="Shapley values of words estimated by a linear regression on random word removals weighted by the "
             "Shapley kernel; they sum to about F(x) - F(baseline) (Captum KernelShap)."),
    *(Method(name, title, run, {**_COMMON}, signed=False, has_baseline=False, kind="attention", help=what)
      for name, title, run, what in (
          ("attention_last", "Attention (last layer)", _attention_last,
           "The last layer's attention from the token the classifier reads, mean over heads. Where the model "
           "looked, not what changed its answer."),
          ("attention_rollout", "Attention rollout", _attention_rollout,
           "Attention rollout (Abnar and Zuidema 2020, mean over heads) from the token the classifier reads, "
           "after the last layer. Where the model looked, not what changed its answer."),
          ("attention_gradient", "Attention x gradient rollout", _attention_gradient,
           "Rollout of the gradient-weighted attention (Chefer et al. 2021: mean over heads of the positive "
           "part of attention x its gradient) from the token the classifier reads, after the last layer."))),
)})


def more_steps(options: Mapping[str, Any]) -> dict | None:
    """The option change to try when integrated gradients has not converged: four times the steps
    (a given n_steps) or the cap (the tolerance mode), within the options' ranges; None when there is
    no step count or it is already at its limit."""
    opts = METHODS["integrated_gradients"].options
    if options.get("n_steps") is not None:
        steps, cap = options["n_steps"], opts["n_steps"].high
        return None if steps >= cap else {"n_steps": int(min(4 * steps, cap))}
    steps, cap = options.get("max_steps"), opts["max_steps"].high
    return None if steps is None or steps >= cap else {"max_steps": int(min(4 * (steps - 1) + 1, cap))}


def method(name: str) -> Method:
    if not isinstance(name, str) or name not in METHODS:
        raise ExplainerError(f"Unknown method {shown(name)}; choose one of {', '.join(METHODS)}.")
    return METHODS[name]


def attribute(m: Method, scorer: Scorer, opts: dict, words: np.ndarray | None = None,
              progress: Callable[[float], None] | None = None, limit: Deadline | None = None) -> list[Attribution]:
    """Run one method on every row of the scorer; gradients on, whatever the caller's grad mode.

    ``progress(fraction)`` is called as examples go through the model; ``limit`` is checked before
    each pass, so a method past its time limit stops between passes (TimeLimitExceeded). Passes are
    sized to this machine's memory (``fit_memory``); on a GPU that runs out of memory anyway, the
    method runs again with half as many examples per pass, down to one.
    """
    if scorer.n_rows > 1 and not m.batched:
        raise ExplainerError(f"{m.title} explains one text per pass.")
    opts = fit_memory(m, scorer, opts)
    total = max(1, scorer.n_rows * m.work(opts, 0 if words is None else int(words.max()) + 1))
    done = [0]

    def counted(inner: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def forward(*embeddings):
            check(limit)
            out = inner(*embeddings)
            done[0] += int(embeddings[0].shape[0])
            if progress is not None:
                progress(min(1.0, done[0] / total))
            return out

        return forward

    counting = scorer
    if progress is not None or limit is not None:
        exact = None if scorer.exact is None else replace(scorer.exact, forward=counted(scorer.exact.forward))
        counting = replace(scorer, forward=counted(scorer.forward), exact=exact)
    smaller = None
    while True:
        try:
            with torch.enable_grad():
                results = m.run(counting, opts, words)
            break
        except torch.cuda.OutOfMemoryError:
            per_pass = scorer.examples_per_pass(opts.get("internal_batch_size"))
            if "internal_batch_size" not in opts or per_pass <= 1:
                raise ExplainerError(f"{m.title} ran out of GPU memory on this text, even one example per pass. "
                                     "Try a shorter text or a smaller model.") from None
            torch.cuda.empty_cache()
            smaller = max(1, per_pass // 2)
            opts, done[0] = {**opts, "internal_batch_size": smaller * scorer.batch_divisor}, 0
    if smaller is not None:  # say so: the scores are the method's, the passes were smaller than asked
        results = [replace(r, extras=MappingProxyType({**r.extras, "examples_per_pass": smaller})) for r in results]
    if progress is not None:
        progress(1.0)  # done, also where fewer passes than estimated (or none: attention) went through the scorer
    return results


MEMORY_SHARE = 0.8  # of the memory still available, what one pass may take


def fit_memory(m: Method, scorer: Scorer, opts: dict, free: float | None = None) -> dict:
    """The options with passes that fit this CPU's free memory (``free`` bytes; default: what
    ``limits.available_memory`` reads), so that a pass never makes the machine swap: the automatic
    pass size shrinks to fit; an explicit ``internal_batch_size`` that does not fit, or a text of
    which even one example does not, is refused with the sizes. GPUs are not checked here: running
    out there is caught and retried with smaller passes (``attribute``)."""
    if "internal_batch_size" not in opts or scorer.inputs[0].device.type != "cpu":
        return opts
    free = available_memory() if free is None else free
    if free is None:
        return opts
    each = scorer.bytes_per_example(backward=not m.needs_words)
    per_pass = scorer.examples_per_pass(opts["internal_batch_size"])
    budget = MEMORY_SHARE * free
    if per_pass * each <= budget:
        return opts
    fits = int(budget // each)
    if fits < 1:
        raise ExplainerError(f"{m.title} needs about {_gb(each)} of memory for one pass over this text, and this "
                             f"machine has {_gb(free)} free. Try a shorter text or a smaller model.")
    if opts["internal_batch_size"] is not None:
        raise ExplainerError(f"internal_batch_size={opts['internal_batch_size']} needs about {_gb(per_pass * each)} "
                             f"of memory per pass over this text, and this machine has {_gb(free)} free. Use at "
                             f"most {fits * scorer.batch_divisor}, or leave it empty (automatic).")
    return {**opts, "internal_batch_size": fits * scorer.batch_divisor}


def _gb(size: float) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.0f} MB"
