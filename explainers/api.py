"""The public calls: predict and explain, one path for every task.

explain (one text) and explain_many (several, sharing passes where that changes
nothing) take one road: decide the task; read each text, predict, pick target
and contrast, resolve the auto baseline (``_read``); build the task's scorer
over one text or a stack of them, attribute; and build each Explanation in one
place (``_explanation``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from . import windows
from .attribution import Attribution, Method, attribute
from .attribution import method as get_method
from .checkpoints import Classifier
from .errors import ExplainerError, shown
from .limits import Deadline, check, deadline, out_of_memory_as_error
from .results import Explanation, Prediction
from .scoring import (
    TextTokens,
    baseline_ids,
    check_readable,
    check_text,
    check_whole,
    chosen_precision,
    pad_rows,
    removal_token,
)
from .tasks import Input, Task, task_for
from .words import fold, split_words, token_words

MAX_BATCH_TEXTS = 10_000


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or not texts:
        raise ExplainerError(f"Give a text (a string) or a non-empty list of texts, not {shown(texts)}.")
    if len(texts) > MAX_BATCH_TEXTS:
        raise ExplainerError(f"{len(texts):,} texts at once is too many; send at most {MAX_BATCH_TEXTS:,} per call.")
    for i, text in enumerate(texts):
        try:
            check_text(text)
        except ExplainerError as err:
            raise ExplainerError(f"Text {i + 1}: {err}") from None
    return list(texts)


@out_of_memory_as_error
def predict(clf: Classifier, texts: str | Sequence[str], labels=None, template: str | None = None,
            multi_label: bool = False, hypothesis: str | None = None, batch_size: int = 32) -> list[Prediction]:
    """One Prediction per text (a single string counts as one text).

    With ``labels`` (NLI checkpoints and builtin:zeroshot), zero-shot scores
    over those labels, equal to transformers' zero-shot pipeline for NLI models.
    ``template`` defaults to the model's (see ``zeroshot.default_template``).
    ``hypothesis``: an NLI checkpoint on each pair (text, hypothesis).
    """
    task = task_for(clf, labels=labels, template=template, multi_label=multi_label, hypothesis=hypothesis)
    texts = _check_texts(texts)
    check_readable(clf, texts)  # what explain refuses, predict does too
    return [task.prediction(p) for p in task.probabilities(texts, batch_size)]


@out_of_memory_as_error
def explain(clf: Classifier, text: str, method: str = "integrated_gradients", target: str | int | None = None, *,
            labels=None, template: str | None = None, multi_label: bool = False,
            contrast: str | int | None = None, hypothesis: str | None = None, progress=None,
            long_text: str = "truncate", stride: int | None = None, overlap: str | None = None,
            window_aggregate: str | None = None, time_limit: float | None = None, **options) -> Explanation:
    """Why the model gives ``target`` (default: the predicted label) its score on ``text``.

    ``options`` are the method's (see ``ex.METHODS[method].options``) plus
    ``output`` ("probability" or "logit") and ``aggregation`` ("sum", "mean",
    "max" of word pieces per word). ``contrast``: explain target's score minus
    this label's ("why A rather than B"). ``labels``/``template``/
    ``multi_label``: zero-shot over candidate labels. ``hypothesis``: explain
    an NLI checkpoint on the pair (text, hypothesis). ``progress(fraction)``
    is called as the method's examples go through the model. ``time_limit``:
    seconds after which the work stops between two passes through the model
    with a TimeLimitExceeded (an ExplainerError); None: no limit.

    A text longer than the model reads: ``long_text="truncate"`` explains the
    part it reads (``truncated`` says so); ``"windows"`` explains all of it in
    overlapping windows ``stride`` tokens apart (default half a window), their
    scores stitched onto the whole text (``overlap``: "central" or "mean") and
    its prediction an aggregate of theirs (``window_aggregate``: "mean",
    "max" or "first"; see ``explainers.windows``).
    """
    limit = deadline(time_limit)
    task = task_for(clf, labels=labels, template=template, multi_label=multi_label, hypothesis=hypothesis)
    m = get_method(method)
    if windows.wanted(long_text, stride, overlap, window_aggregate):
        def run(texts, target, batch_size, progress):
            return _explain(task, texts, m, options, target, contrast, batch_size, progress, limit)

        return windows.explain(task, text, run, target, progress, stride=stride, overlap=overlap,
                               aggregate=window_aggregate).explanation
    return _explain(task, [text], m, options, target, contrast, 1, progress, limit)[0]


@out_of_memory_as_error
def explain_many(clf: Classifier, texts: Sequence[str], method: str = "integrated_gradients",
                 target: str | int | None = None, *, labels=None, template: str | None = None,
                 multi_label: bool = False, contrast: str | int | None = None, hypothesis: str | None = None,
                 batch_size: int = 8, progress=None, time_limit: float | None = None,
                 **options) -> list[Explanation]:
    """``explain`` for each text, the same results; ``batch_size`` texts share each forward and
    backward pass where that changes nothing (integrated gradients, saliency and input x gradient
    on classifiers and similarity zero-shot); otherwise one text at a time. ``target``: a label for
    every text, or None for each text's predicted label. ``progress(fraction)`` and ``time_limit``
    cover all texts.
    """
    limit = deadline(time_limit)
    task = task_for(clf, labels=labels, template=template, multi_label=multi_label, hypothesis=hypothesis)
    batch_size = check_whole("batch_size", batch_size, 1, 1024)
    options = windows.truncate_only(options)
    return _explain(task, _check_texts(texts), get_method(method), options, target, contrast, batch_size, progress,
                    limit)


@dataclass(frozen=True, eq=False)
class _Row:
    """One text read, predicted and resolved, ready to be attributed."""

    text: str
    x: Input  # focused: only what the explained score depends on
    logits: torch.Tensor  # x's label logits, from the model's own forward pass
    prediction: Prediction
    target: int  # indices among x's labels
    versus: int | None
    names: tuple[str, str | None]
    opts: dict  # the method's options, the auto baseline resolved
    baseline_ids: torch.Tensor
    baseline_logits: torch.Tensor | None  # the baseline's label logits, from the model's own forward pass
    seconds: float


def _read(task: Task, text: str, opts: dict, target, contrast, removes_words: bool = False) -> _Row:
    started = time.perf_counter()
    x = task.read(text)
    logits = task.logits(x)
    probabilities = task.scores(logits).cpu().numpy()
    t, v = task.indices(target, contrast, int(np.argmax(probabilities)))
    names = task.labels[t], (None if v is None else task.labels[v])
    x, logits, t, v = task.focus(x, logits, t, v)
    opts, tried = _with_baseline(task, x, opts, removes_words)
    if "precision" in opts:  # "auto" made bf16 or fp32 by this text's length
        opts = {**opts, "precision": chosen_precision(task.clf, opts["precision"], int(x.input_ids.shape[-1]))}
    # methods without a baseline never read it: the input itself stands in (it needs no special token)
    base = baseline_ids(task.clf, x, opts["baseline"]) if opts.get("baseline") else x.input_ids
    base_logits = None
    if opts.get("baseline"):  # the auto baseline's pass already read it; a given one is read here
        base_logits = tried[opts["baseline"]] if opts["baseline"] in tried else task.logits(x, base)
    return _Row(text, x, logits, task.prediction(probabilities), t, v, names, opts, base, base_logits,
                time.perf_counter() - started)


def _explain(task: Task, texts: list[str], m: Method, options: dict, target, contrast, batch_size: int,
             progress, limit: Deadline | None = None) -> list[Explanation]:
    """Read every text, attribute them in groups of similar length (one group per pass where the
    method and task allow it), and build each Explanation; ``limit`` is checked between passes."""
    opts = task.output(m.resolve(options), options)
    if progress is not None and not callable(progress):
        raise ExplainerError("progress must be a function of one number (the fraction done).")
    rows = []
    for text in texts:
        check(limit)
        rows.append(_read(task, text, opts, target, contrast, m.needs_words))
    width = batch_size if m.batched and task.stackable else 1
    order = sorted(range(len(rows)), key=lambda i: rows[i].x.input_ids.shape[-1])  # less padding
    out: list[Explanation | None] = [None] * len(rows)
    for start, indices in _groups(order, width, lambda i: rows[i].opts.get("precision")):
        group = [rows[i] for i in indices]
        first, began = group[0], time.perf_counter()
        scorer = task.scorer(task.stack([r.x for r in group]), [r.target for r in group],
                             None if first.versus is None else [r.versus for r in group],
                             pad_rows([r.baseline_ids for r in group]), opts["output"],
                             first.opts.get("precision", "fp32"))
        if first.baseline_logits is not None:  # F(x') and F(x) as the explanation reports them
            scorer = replace(scorer, ends=(np.array([_score(task, r, r.baseline_logits) for r in group]),
                                           np.array([_score(task, r, r.logits) for r in group])))
        words = _words_of_slots(first.text, first.x.text_tokens, scorer.owners) if m.needs_words else None
        results = attribute(m, scorer, opts, words, _share(progress, start, len(group), len(rows)), limit)
        seconds = (time.perf_counter() - began) / len(group)
        for i, row, result in zip(indices, group, results):
            _check_path(task.clf, m, row.opts, result)
            out[i] = _explanation(task, row, result, m, row.seconds + seconds)
    return out


def _groups(order: list[int], width: int, kind) -> list[tuple[int, list[int]]]:
    """``order`` cut into runs of at most ``width`` of the same ``kind(i)`` (one pass runs in one precision),
    each with where it starts in ``order``."""
    out: list[tuple[int, list[int]]] = []
    for at, i in enumerate(order):
        if out and len(out[-1][1]) < width and kind(out[-1][1][0]) == kind(i):
            out[-1][1].append(i)
        else:
            out.append((at, [i]))
    return out


def _check_path(clf: Classifier, m: Method, opts: dict, result: Attribution) -> None:
    """Refuse scores that are not finite, and a step cap hit from a baseline token whose embedding is
    all zeros (an untrained padding row: RMSNorm and LayerNorm without added positions have no useful
    gradient there, so the integral cannot converge), naming the cause."""
    finite = bool(np.isfinite(result.token_scores).all())
    if finite and not result.extras.get("cap_hit"):
        return
    baseline = opts.get("baseline")
    token_id = getattr(clf.tokenizer, f"{baseline}_token_id", None) if baseline else None
    zero_row = token_id is not None and not any(
        bool(module.weight[token_id].any()) for module in clf.family.embedding_modules(clf.model))
    if zero_row:
        raise ExplainerError(f"{m.title} cannot start from the {baseline} token on this model: its embedding is "
                             "all zeros (an untrained padding row), where the model's normalisation has no useful "
                             "gradient. Choose another baseline token.")
    if not finite:
        raise ExplainerError(f"{m.title} gave scores that are not finite numbers (NaN or infinity) on this model. "
                             "Try another method or baseline, or output='logit'.")


def _share(progress, done: int, size: int, total: int):
    """The progress of one group of ``size`` texts, as a share of all ``total`` texts."""
    if progress is None:
        return None
    return lambda fraction: progress((done + fraction * size) / total)


def _score(task: Task, row: _Row, label_logits: torch.Tensor) -> float:
    """The explained number from a forward pass's label logits, as the scorer computes it."""
    return float(task.explained(label_logits.unsqueeze(0), row.target, row.versus, row.opts["output"])[0])


def _explanation(task: Task, row: _Row, result: Attribution, m: Method, seconds: float) -> Explanation:
    """The one place an Explanation is built: the text's slots become tokens and words, the rest
    (hypotheses, padding) goes to the task's extras; F(x) and F(x') from the model's own forward pass."""
    view, slots, opts = row.x.text_tokens, result.token_scores, row.opts
    tokens = slots[:len(view.tokens)]
    extras = {"task": task.kind, **task.extras(row.x, slots, row.target),
              **({"contrast": row.names[1]} if row.versus is not None else {})}
    words = fold(row.text, tokens, view.offsets, view.special, opts["aggregation"], view.limit)
    extras.update(result.extras)
    extras.update(seconds=round(seconds, 4), signed=m.signed)
    return Explanation(
        text=row.text, tokens=view.tokens, token_offsets=view.offsets, special_tokens=view.special,
        token_scores=tokens, words=words, target=row.names[0], score=_score(task, row, row.logits),
        baseline_score=None if row.baseline_logits is None else _score(task, row, row.baseline_logits),
        delta=result.delta, method=m.name, options=opts, provenance=dict(task.clf.provenance),
        prediction=row.prediction, truncated=view.truncated, extras=extras)


def _words_of_slots(text: str, view: TextTokens, owners: tuple[np.ndarray, ...]) -> np.ndarray:
    """Occlusion's features: slot -> the word it mostly covers, -1 for what is never removed
    (special tokens, hypotheses, padding)."""
    spans = [(s, e) for s, e in split_words(text) if view.limit is None or s < view.limit]
    covers = token_words(spans, view.offsets, view.special)
    words = np.full(int(max(o.max() for o in owners)) + 1, -1)
    words[:len(covers)] = [max(c, key=lambda ws: ws[1])[0] if c else -1 for c in covers]
    return words


@dataclass(frozen=True)
class Estimate:
    """How long an explanation will take here, before it starts. Two timed passes through the model
    (forward, and backward where the method needs gradients), of one example and of a few, give the
    cost of a pass and of each example in it; the method needs ``examples`` (fewest, typical, most:
    the tolerance mode decides as it goes), ``per_pass`` at a time, after reading the text (prediction,
    baseline choice: ``seconds_to_read``). A small model's time is mostly per pass, a big one's per example."""

    method: str
    seconds_to_read: float
    seconds_per_pass: float
    seconds_per_example: float
    per_pass: int  # examples the method sends through the model at once
    examples: tuple[int, int, int]

    @property
    def seconds(self) -> tuple[float, float, float]:
        return tuple(self.seconds_to_read + math.ceil(n / self.per_pass) * self.seconds_per_pass
                     + n * self.seconds_per_example for n in self.examples)

    def summary(self) -> str:
        low, typical, high = self.seconds
        if high - low < 0.2 * typical + 0.5:
            return f"about {_duration(typical)} here ({_passes(self.examples[1])})"
        return (f"about {_duration(typical)} here, {_duration(low)} to {_duration(high)} "
                f"({self.examples[0]} to {_passes(self.examples[2])}, typically {self.examples[1]})")


def _passes(n: int) -> str:
    return f"{n:,} pass{'' if n == 1 else 'es'} of the text through the model"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:,.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


@out_of_memory_as_error
def estimate(clf: Classifier, text: str, method: str = "integrated_gradients", target: str | int | None = None, *,
             labels=None, template: str | None = None, multi_label: bool = False, contrast: str | int | None = None,
             hypothesis: str | None = None, sample: int = 3, **options) -> Estimate:
    """How long ``explain`` with these arguments would take on ``text`` here, from timed passes of one
    and of ``sample`` examples (after an untimed one): a big model on a CPU can take minutes, and a
    page should say so first."""
    task = task_for(clf, labels=labels, template=template, multi_label=multi_label, hypothesis=hypothesis)
    m = get_method(method)
    opts = task.output(m.resolve(options), options)
    row = _read(task, check_text(text), opts, target, contrast, m.needs_words)
    scorer = task.scorer(row.x, [row.target], None if row.versus is None else [row.versus], row.baseline_ids,
                         opts["output"], row.opts.get("precision", "fp32"))
    n_words = len(split_words(text))
    typical = m.work(opts, n_words)
    fewest, most = m.work_bounds(opts, n_words) if m.work_bounds else (typical, typical)
    k = check_whole("sample", sample, 2, 64)

    def one_pass(n: int) -> float:
        inputs = [x.expand(n, *x.shape[1:]).clone().requires_grad_(not m.needs_words) for x in scorer.inputs]
        began = time.perf_counter()
        with torch.set_grad_enabled(not m.needs_words):  # word removal needs forward passes only
            scores = scorer.forward(*inputs, torch.zeros(n, dtype=torch.long, device=inputs[0].device))
            if not m.needs_words:
                torch.autograd.grad(scores.sum(), inputs)
        return time.perf_counter() - began

    one_pass(1)  # a first pass pays for allocation and lazy set-up that the explanation pays once, not per step
    alone, several = one_pass(1), one_pass(k)
    # on a tiny model the two passes can time alike (or the bigger one faster, by noise): then the pass's
    # whole cost is charged to its examples, an over-estimate rather than examples that cost nothing
    per_example = (several - alone) / (k - 1) if several > alone else several / k
    at_once = scorer.examples_per_pass(opts["internal_batch_size"]) if "internal_batch_size" in opts else most
    return Estimate(m.name, row.seconds, max(alone - per_example, 0.0), per_example, at_once, (fewest, typical, most))


def flops(clf: Classifier, text: str, method: str = "integrated_gradients", *, labels=None,
          template: str | None = None, multi_label: bool = False, hypothesis: str | None = None,
          **options) -> float:
    """About how much arithmetic ``explain`` with these arguments does on ``text``, in floating-point
    operations: per example, a forward pass (2 x the model's non-embedding parameters x tokens, for
    every sequence: zero-shot reads one pair per label) and, for gradient methods, a backward pass to
    the embeddings (as much again), times the examples the method typically needs (``Method.work``).
    It only tokenizes: cheap enough to decide whether a timed ``estimate`` is worth its passes.
    Divided by a machine's matrix-multiply peak, it is the least time the explanation can take there
    (bench/speed.py's floor)."""
    task = task_for(clf, labels=labels, template=template, multi_label=multi_label, hypothesis=hypothesis)
    m = get_method(method)
    opts = task.output(m.resolve(options), options)
    x = task.read(check_text(text))
    per_token = (2 if m.needs_words else 4) * clf.body_parameters
    return float(per_token * x.input_ids.numel() * m.work(opts, len(split_words(text))))


def _uncertainty(p: np.ndarray, multi_label: bool) -> float:
    """Entropy of a prediction (mean binary entropy for independent labels)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    if multi_label:
        return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
    return float(-(p * np.log(p)).sum())


def _with_baseline(task: Task, x: Input, opts: dict, removes_words: bool) -> tuple[dict, dict]:
    """Resolve baseline="auto", and give the label logits of each baseline it tried. Methods that
    remove words take the family's removal token; integrated
    gradients, of the family's candidate tokens, the one whose all-replaced input gets the least
    informative prediction, so that F(x') carries no evidence (a raw score: the first candidate)."""
    if opts.get("baseline") != "auto":
        return opts, {}
    clf = task.clf
    if removes_words:
        return {**opts, "baseline": removal_token(clf)}, {}
    candidates = [b for b in clf.family.baselines if getattr(clf.tokenizer, f"{b}_token_id", None) is not None]
    if not candidates:
        raise ExplainerError(f"This tokenizer has none of the {', '.join(clf.family.baselines)} tokens a "
                             "baseline needs.")
    if task.raw_score:
        return {**opts, "baseline": candidates[0]}, {}
    tried = dict(zip(candidates, task.variant_logits(x, [baseline_ids(clf, x, b) for b in candidates])))
    best = max(candidates, key=lambda b: _uncertainty(task.scores(tried[b]).cpu().numpy(), task.multi_label))
    return {**opts, "baseline": best}, tried
