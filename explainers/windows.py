"""Texts longer than the model reads, explained by sliding windows.

A model reads at most ``clf.max_length`` tokens. By default a longer text is
truncated (``Explanation.truncated`` says so). ``explain(..., long_text="windows")``
instead cuts the text's tokens into overlapping windows, each as many of the
text's tokens as the model reads (room left for the special tokens, and for an
NLI model's longest hypothesis), the last one ending at the text's end. Each
window is the substring of the text from its first token's start to its last
token's end, explained as a text of its own through the normal path (so it has
its own F(x), F(x'), delta and convergence), all against one target label.
Their token scores are carried back, by character overlap, onto the whole
text's tokens, and folded onto its words as in any explanation.

The model never reads the whole text at once, so nothing it outputs is the
whole text's prediction: the stitched Explanation's ``prediction`` is an
aggregate of the windows' (the caller picks which; a notice says which), and
every window's own prediction and numbers are in ``extras["windows"]``.
A text the model reads whole gets exactly the plain explanation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import ExplainerError
from .results import Explanation, Prediction
from .scoring import check_text, check_whole
from .tasks import _NLI, Task
from .words import fold, token_words

LONG_TEXT = ("truncate", "windows")
OVERLAPS = ("central", "mean")  # a token in several windows: the window where it is most central, or their mean
AGGREGATES = ("mean", "max", "first")  # the whole text's prediction from the windows'
MAX_WINDOWS = 100
BATCH_SIZE = 8  # windows of equal length share passes, as in explain_many

Run = Callable[..., list]  # (texts, target, batch_size, progress) -> an Explanation per text, the normal path


def wanted(long_text, stride=None, overlap=None, aggregate=None) -> bool:
    """Whether a request asks for windows; every windowing argument checked (ExplainerError)."""
    if long_text not in LONG_TEXT:
        raise ExplainerError(f"long_text must be one of {', '.join(map(repr, LONG_TEXT))}, got {long_text!r}: "
                             "'truncate' explains the part the model reads, 'windows' the whole text in windows.")
    windows = long_text == "windows"
    for name, value, choices in (("overlap", overlap, OVERLAPS), ("window_aggregate", aggregate, AGGREGATES)):
        if value is None:
            continue
        if not windows:
            raise ExplainerError(f"{name} applies to sliding windows only: pass long_text='windows' with it.")
        if value not in choices:
            raise ExplainerError(f"Unknown {name} {value!r}; use one of {', '.join(choices)}.")
    if stride is not None and not windows:  # its range depends on the model: checked by ``explain``
        raise ExplainerError("stride applies to sliding windows only: pass long_text='windows' with it.")
    return windows


def truncate_only(options: dict) -> dict:
    """``options`` without a long_text="truncate"; a call that reads each text truncated (explain_many)
    refuses windows clearly instead of calling them an unknown method option."""
    if "long_text" in options and options["long_text"] == "truncate":
        options = {k: v for k, v in options.items() if k != "long_text"}
    asked = [name for name in ("long_text", "stride", "overlap", "window_aggregate") if name in options]
    if asked:
        raise ExplainerError(f"explain_many reads each text truncated to the model's input and takes no "
                             f"{', '.join(asked)}; explain a long text by sliding windows one at a time with "
                             "ex.explain(clf, text, ..., long_text='windows').")
    return options


def window_tokens(task: Task) -> int:
    """How many of a text's tokens one window holds: what the model reads, less the special tokens the
    tokenizer adds (and, for NLI pairs, less the longest hypothesis's tokens)."""
    clf = task.clf
    tok = clf.tokenizer
    if isinstance(task, _NLI):
        longest = max(len(tok(h, add_special_tokens=False)["input_ids"]) for h in task.hypotheses)
        size = clf.max_length - tok.num_special_tokens_to_add(pair=True) - longest
    else:
        size = clf.max_length - tok.num_special_tokens_to_add(pair=False)
    if size < 1:
        raise ExplainerError(f"The hypothesis leaves no room for the text in {clf.checkpoint}'s "
                             f"{clf.max_length} tokens; use shorter labels or template.")
    return size


@dataclass(frozen=True)
class Window:
    """One window: the whole text's tokens [first, last) and its characters [start, end)."""

    first: int
    last: int
    start: int
    end: int


@dataclass(frozen=True, eq=False)
class Plan:
    """How a text is cut: its tokens (read once, without truncation) and the windows over them."""

    tokens: tuple[str, ...]
    offsets: np.ndarray  # [N, 2] character spans of the whole text's tokens (no special tokens)
    size: int  # tokens per window
    stride: int  # tokens between window starts
    windows: tuple[Window, ...]


def _cut(offsets: np.ndarray, size: int, stride: int) -> tuple[Window, ...]:
    """Windows of ``size`` tokens every ``stride`` tokens, the last one ending at the last token; each
    window's characters run from its first token's start to its last token's end (tokens with an empty
    span, which some tokenizers give, do not move them)."""
    n = len(offsets)
    starts = sorted(set(range(0, max(n - size, 0), stride)) | {max(n - size, 0)})
    spans = offsets[:, 1] > offsets[:, 0]
    out = []
    for a in starts:
        b = min(a + size, n)
        inside = offsets[a:b][spans[a:b]] if spans[a:b].any() else offsets[a:b]
        out.append(Window(a, b, int(inside[:, 0].min()), int(inside[:, 1].max())))
    return tuple(out)


def _overflow(task: Task, text: str) -> int:
    """How many tokens ``text`` is over what the model reads (0 when it fits), as the task reads it."""
    clf = task.clf
    if isinstance(task, _NLI):
        lengths = [len(ids) for ids in clf.tokenizer([[text, h] for h in task.hypotheses], verbose=False)["input_ids"]]
    else:
        lengths = [len(clf.tokenizer(text, verbose=False)["input_ids"])]
    return max(0, max(lengths) - clf.max_length)


def plan(task: Task, text: str, stride: int | None = None) -> Plan:
    """The windows for ``text``. A window's substring is read again from its characters, and a
    tokenizer may split its edges differently than inside the whole text; where that would make a
    window longer than the model reads, the windows get smaller until none is truncated.
    ``stride`` (default: half a window) must be from 1 to the window's tokens."""
    clf = task.clf
    enc = clf.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False)
    offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    if not len(offsets):
        raise ExplainerError("The model's tokenizer finds nothing to read in this text. Type some words.")
    size = window_tokens(task)
    if stride is not None:
        stride = _check_stride(stride, size)
    while True:
        step = max(1, size // 2) if stride is None else min(stride, size)
        windows = _cut(offsets, size, step)
        if len(windows) > MAX_WINDOWS:
            raise ExplainerError(f"This text needs {len(windows):,} windows of {size:,} tokens with a stride of "
                                 f"{step:,}; at most {MAX_WINDOWS} are explained at once. Raise the stride (up to "
                                 f"{size:,}) or explain a shorter part of the text.")
        over = max(_overflow(task, text[w.start:w.end]) for w in windows if text[w.start:w.end].strip())
        if not over:
            break
        size -= over
        if size < 1:
            raise ExplainerError(f"{clf.checkpoint}'s tokenizer cannot cut this text into windows it reads whole.")
    tokens = tuple(clf.tokenizer.convert_ids_to_tokens(enc["input_ids"]))
    # a window of nothing but whitespace tokens has nothing to explain (its tokens keep a score of 0)
    return Plan(tokens, offsets, size, step, tuple(w for w in windows if text[w.start:w.end].strip()))


@dataclass(frozen=True, eq=False)
class Windowed:
    """A long text's explanation: the stitched ``explanation``, each window's own (``parts``, offsets
    into the window's own text) and how it was cut (``plan``). A text the model reads whole: the plain
    explanation, with no parts and no plan."""

    explanation: Explanation
    parts: tuple[Explanation, ...] = ()
    plan: Plan | None = None


def explain(task: Task, text: str, run: Run, target=None, progress=None, *, stride: int | None = None,
            overlap: str | None = None, aggregate: str | None = None) -> Windowed:
    """Explain ``text`` by sliding windows (see the module's docstring). ``run(texts, target, batch_size,
    progress)`` explains texts through the normal path. ``target``: a label for every window, default
    the label the ``aggregate`` of the windows' predictions picks."""
    started = time.perf_counter()
    overlap = overlap or OVERLAPS[0]
    aggregate = aggregate or AGGREGATES[0]
    wanted("windows", stride, overlap, aggregate)
    if stride is not None:
        _check_stride(stride, window_tokens(task))
    check_text(text)
    if not task.read(text).text_tokens.truncated:  # the model reads it whole: the plain explanation, exactly
        return Windowed(run([text], target, 1, progress)[0])
    cut = plan(task, text, stride)
    texts = [text[w.start:w.end] for w in cut.windows]
    if target is None:  # one label for every window: the one the aggregate predicts
        probabilities = np.stack([task.scores(task.logits(task.read(t))).cpu().numpy() for t in texts])
        target = int(np.argmax(_aggregate(probabilities, aggregate)))
    else:
        target = task.label_index(target, 0)
    parts = tuple(run(texts, target, BATCH_SIZE, progress))
    exp = _stitch(text, cut, parts, overlap, aggregate, time.perf_counter() - started)
    return Windowed(exp, parts, cut)


def _check_stride(stride, size: int) -> int:
    """A stride above the window's size would leave tokens in no window."""
    return check_whole(f"stride (tokens between window starts; a window holds {size:,} on this model)", stride, 1,
                       size)


def _aggregate(values: np.ndarray, how: str) -> np.ndarray:
    """[windows, ...] -> [...]: their mean, their maximum, or the first window's."""
    return values.mean(axis=0) if how == "mean" else values.max(axis=0) if how == "max" else values[0]


def _stitch(text: str, cut: Plan, parts: Sequence[Explanation], overlap: str, aggregate: str,
            seconds: float) -> Explanation:
    """One Explanation on the whole text from the windows' (see ``explain``).

    Token scores: each window's, carried onto the whole text's tokens by character overlap; a token in
    several windows takes the score of the window where it is farthest from a cut ("central"), or
    their mean ("mean"). Words: folded from those, as in any explanation. ``score``: the aggregate
    of the windows' explained scores (with "mean" and "max" and no contrast, the aggregate
    prediction's score of the target). ``baseline_score`` and ``delta`` are None: the windows have
    different baselines and the stitched scores sum to no one F(x) - F(x'); each window's F(x), F(x'),
    delta and convergence error are in ``extras["windows"]``, and ``convergence_error`` is their
    largest."""
    n = len(cut.offsets)
    spans = [tuple(span) for span in cut.offsets.tolist()]
    central, closest = np.zeros(n), np.full(n, -1.0)
    total, count = np.zeros(n), np.zeros(n)
    for w, part in zip(cut.windows, parts):
        carried = np.zeros(w.last - w.first)
        owners = token_words(spans[w.first:w.last], part.token_offsets + w.start, part.special_tokens)
        for score, shares in zip(part.token_scores.tolist(), owners):
            for i, share in shares:
                carried[i] += score * share
        total[w.first:w.last] += carried
        count[w.first:w.last] += 1
        j = np.arange(w.first, w.last)
        from_cut = np.minimum(j - w.first if w.first > 0 else np.inf, w.last - 1 - j if w.last < n else np.inf)
        better = from_cut > closest[w.first:w.last]  # ties: the earlier window
        central[w.first:w.last] = np.where(better, carried, central[w.first:w.last])
        closest[w.first:w.last] = np.where(better, from_cut, closest[w.first:w.last])
    scores = central if overlap == "central" else np.divide(total, np.maximum(count, 1))
    special = np.zeros(n, dtype=bool)
    first = parts[0]
    words = fold(text, scores, cut.offsets, special, first.options.get("aggregation", "sum"))

    labels = list(first.prediction.scores)
    matrix = np.array([[p.prediction.scores[label] for label in labels] for p in parts])
    values = _aggregate(matrix, aggregate)
    notices = tuple(first.prediction.notices) + (_notice(first.prediction.output, aggregate, cut),)
    prediction = Prediction(label=labels[int(np.argmax(values))], scores=dict(zip(labels, map(float, values))),
                            multi_label=first.prediction.multi_label, notices=notices, output=first.prediction.output)

    kept = ("task", "labels", "template", "multi_label", "notices", "hypothesis", "contrast", "scale", "center",
            "signed")  # what the request was, not what one window found
    extras = {k: first.extras[k] for k in kept if k in first.extras}
    extras.update(
        cap_hit=any(bool(p.extras.get("cap_hit")) for p in parts), seconds=round(seconds, 4),
        long_text={"mode": "windows", "window_tokens": cut.size, "stride": cut.stride, "overlap": overlap,
                   "aggregate": aggregate, "text_tokens": n},
        windows=[_summary(i, w, p) for i, (w, p) in enumerate(zip(cut.windows, parts))])
    options = dict(first.options)
    baselines = {p.options.get("baseline") for p in parts}
    if len(baselines) > 1:  # the auto baseline chose per window: each window's is in extras["windows"]
        options["baseline"] = "auto"
    return Explanation(
        text=text, tokens=cut.tokens, token_offsets=cut.offsets.copy(), special_tokens=special, token_scores=scores,
        words=words, target=first.target, score=float(_aggregate(np.array([p.score for p in parts]), aggregate)),
        baseline_score=None, delta=None, method=first.method, options=options, provenance=dict(first.provenance),
        prediction=prediction, truncated=False, extras=extras)


def _notice(output: str, aggregate: str, cut: Plan) -> str:
    """What the whole text's prediction is, said plainly: never the model's own."""
    k, what = len(cut.windows), "raw scores" if output == "score" else "probabilities"
    kind = "overlapping" if cut.stride < cut.size else "adjacent"
    windows = f"{k} {kind} windows of {cut.size:,} tokens"
    said = {"mean": f"Mean of the model's {what} over {windows}",
            "max": (f"The highest of the model's {what} over {windows}" if output == "score" else
                    f"Each label's highest of the model's {what} over {windows} (they need not sum to 1)"),
            "first": f"The model's {what} on the first of {windows}"}[aggregate]
    return f"{said}; the model never read the whole text at once."


def _summary(index: int, w: Window, part: Explanation) -> dict:
    """One window as JSON: where it is, what the model predicted there, and its own numbers."""
    extras = part.extras
    slots = float(part.token_scores.sum()) + float(extras.get("hypothesis_total", 0.0)) \
        + float(extras.get("padding_total", 0.0))
    out = {"index": index, "start": w.start, "end": w.end, "first_token": w.first, "last_token": w.last,
           "label": part.prediction.label, "scores": {k: float(v) for k, v in part.prediction.scores.items()},
           "score": part.score, "baseline_score": part.baseline_score, "delta": part.delta,
           "convergence_error": part.convergence_error, "converged": part.converged, "attribution_total": slots,
           "baseline": part.options.get("baseline"), "seconds": extras.get("seconds")}
    for name in ("steps", "cap_hit", "hypothesis_total"):
        if name in extras:
            out[name] = extras[name]
    return out


def windowed(exp: Explanation) -> bool:
    """Whether an explanation was stitched from sliding windows."""
    return bool(exp.extras.get("windows"))
