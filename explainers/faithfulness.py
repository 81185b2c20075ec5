"""Is an explanation faithful to the model? Remove the words it ranks highest and see the score move.

An attribution is a claim about the model: these words drive the explained
number F. ``faithfulness`` tests the claim on the model itself (DeYoung et al.
2020, ERASER): comprehensiveness is how much F drops when the top-ranked words
are removed (high: the words were needed), sufficiency how much it drops when
only they are kept (low: they were enough), each averaged over several shares
of the words (AOPC). The same numbers for random word orders say what any
ranking gets, so the gains over random are what the explanation adds.
Deletion and insertion curves (F as the top words are removed, or added to an
empty text) show the whole ranking, not a few cut-offs.

F is exactly the explained number: the same task, target, contrast and output
as the explanation's. Words are removed either by replacing every piece of
them with the mask token in every embedding use ("mask": the sequence keeps
its length, through the task's Scorer, many variants per pass) or by deleting
them from the text and reading it again ("delete": what a user would type,
through the task's own forward pass).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from numbers import Real
from typing import Callable, Sequence

import numpy as np
import torch

from .api import _read, _words_of_slots
from .checkpoints import Classifier
from .errors import ExplainerError, shown
from .limits import Deadline, check, deadline, out_of_memory_as_error
from .results import Explanation
from .scoring import OUTPUTS, check_whole, removal_token
from .tasks import Task, task_for
from .words import split_words

REMOVALS = ("mask", "delete")
MAX_RANDOM_ORDERS = 100
CURVE_STEPS = 20  # a curve has at most CURVE_STEPS + 1 points
TIE = 1e-9  # differences below this are no difference (more_faithful)

_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz


@dataclass(frozen=True, eq=False)
class Curve:
    """F along a word order: ``scores[i]`` with ``counts[i]`` words (``fractions[i]`` of them) removed
    (deletion) or kept (insertion)."""

    fractions: np.ndarray
    scores: np.ndarray
    counts: np.ndarray

    @property
    def area(self) -> float:
        """The area under the curve, trapezoids over the fraction of words."""
        return float(_trapezoid(self.scores, self.fractions))

    def to_dict(self) -> dict:
        return {"fractions": self.fractions.tolist(), "scores": self.scores.tolist(), "counts": self.counts.tolist()}


@dataclass(frozen=True, eq=False)
class Faithfulness:
    """How the explained score moves when the explanation's top words are removed or kept alone,
    next to random word orders. Comprehensiveness: F(x) - F(x without the top words), high is
    faithful; sufficiency: F(x) - F(only the top words), low is faithful; both averaged over
    ``fractions`` (AOPC), per fraction in ``*_at``. The random fields are None when
    ``random_orders`` is 0, the curves when they were not asked for."""

    removal: str
    fractions: tuple[float, ...]
    counts: tuple[int, ...]  # words removed or kept at each fraction
    comprehensiveness: float
    sufficiency: float
    comprehensiveness_at: np.ndarray
    sufficiency_at: np.ndarray
    random_comprehensiveness: float | None
    random_sufficiency: float | None
    random_comprehensiveness_at: np.ndarray | None
    random_sufficiency_at: np.ndarray | None
    deletion: Curve | None
    insertion: Curve | None
    random_deletion: Curve | None  # the mean over random orders, for reference
    random_insertion: Curve | None
    deletion_auc: float | None
    insertion_auc: float | None
    random_deletion_auc: float | None
    random_insertion_auc: float | None
    score: float  # F(x), through the same path as the edited texts
    empty_score: float  # F with every word removed
    n_words: int
    random_orders: int
    seed: int
    method: str
    target: str
    contrast: str | None
    output: str
    task: str
    checkpoint: str
    seconds: float

    @property
    def comprehensiveness_gain(self) -> float | None:
        """Comprehensiveness above random orders': positive when the top words matter more than chance."""
        if self.random_comprehensiveness is None:
            return None
        return self.comprehensiveness - self.random_comprehensiveness

    @property
    def sufficiency_gain(self) -> float | None:
        """Sufficiency below random orders': positive when the top words alone keep more of the score."""
        if self.random_sufficiency is None:
            return None
        return self.random_sufficiency - self.sufficiency

    def to_dict(self) -> dict:
        """Plain lists, numbers, strings and None: ready for JSON."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, Curve):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def more_faithful(a: Faithfulness, b: Faithfulness) -> int | None:
    """0 when ``a`` is the more faithful (higher comprehensiveness and lower sufficiency), 1 when ``b``
    is, None when the two measures disagree or one of them ties (within 1e-9): neither wins then."""
    for name in ("removal", "output", "fractions"):
        if getattr(a, name) != getattr(b, name):
            raise ExplainerError(f"These results differ in {name} ({getattr(a, name)!r} vs {getattr(b, name)!r}), "
                                 "so their numbers cannot be compared.")
    comprehensiveness = a.comprehensiveness - b.comprehensiveness
    sufficiency = a.sufficiency - b.sufficiency
    if comprehensiveness > TIE and sufficiency < -TIE:
        return 0
    if comprehensiveness < -TIE and sufficiency > TIE:
        return 1
    return None


@out_of_memory_as_error
def faithfulness(clf: Classifier, explanation: Explanation, removal: str = "mask",
                 fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5), random_orders: int = 5, seed: int = 0,
                 curves: bool = True, batch_size: int = 32, time_limit: float | None = None) -> Faithfulness:
    """Comprehensiveness and sufficiency (AOPC over ``fractions`` of the words, top words by score first,
    ties in text order), the same for ``random_orders`` seeded random orders, and deletion/insertion
    curves, for the number ``explanation`` explained on ``clf``.

    ``removal``: "mask" (every piece of a removed word becomes the mask token, or pad, or unk, where
    there is none) or "delete" (the word and the space before it leave the text). At fraction f,
    ceil(f * words) words are removed or kept. ``batch_size``: variants per forward pass.
    ``time_limit``: seconds after which it stops between two passes (TimeLimitExceeded); None: no limit.
    An explanation stitched from sliding windows is refused: no one model pass read its whole text.
    """
    started = time.perf_counter()
    limit = deadline(time_limit, "Measuring faithfulness")
    if not isinstance(clf, Classifier):
        raise ExplainerError(f"Pass a classifier from ex.load(checkpoint), not {type(clf).__name__}.")
    if not isinstance(explanation, Explanation):
        raise ExplainerError(f"Pass an Explanation from ex.explain, not {type(explanation).__name__}.")
    if explanation.extras.get("windows"):
        raise ExplainerError(
            f"This explanation was stitched from {len(explanation.extras['windows'])} sliding windows: the model "
            "never read the whole text at once, so removing words from the whole text would test a model pass "
            "no window explained. Measure faithfulness on a text the model reads whole, or on the truncated "
            "explanation (long_text='truncate').")
    made_by = explanation.provenance.get("checkpoint")
    if made_by != clf.checkpoint:
        raise ExplainerError(f"This explanation was made with {made_by!r}, not {clf.checkpoint!r}: "
                             "measure it with the checkpoint that made it.")
    if removal not in REMOVALS:
        raise ExplainerError(f"Unknown removal {removal!r}; use one of {', '.join(REMOVALS)}.")
    fractions = _check_fractions(fractions)
    random_orders = check_whole("random_orders", random_orders, 0, MAX_RANDOM_ORDERS)
    seed = check_whole("seed", seed, 0, 2**31 - 1)  # as SmoothGrad's seed
    batch_size = check_whole("batch_size", batch_size, 1, 1024)
    if not isinstance(curves, bool):
        raise ExplainerError(f"curves must be True or False, got {curves!r}.")
    n = len(explanation.words)
    if not n:
        raise ExplainerError("This explanation has no words to remove, so its faithfulness cannot be measured.")
    scores = np.array([w.score for w in explanation.words], dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ExplainerError("This explanation has word scores that are not finite numbers (nan or inf).")
    output = explanation.options.get("output", "probability")
    if output not in OUTPUTS:
        raise ExplainerError(f"The explanation's output {output!r} is not one of {', '.join(OUTPUTS)}.")

    task = _task_of(clf, explanation)
    spans = [(w.start, w.end) for w in explanation.words]
    contrast = explanation.extras.get("contrast")
    prepare = _masking if removal == "mask" else _deleting
    evaluate = prepare(task, explanation, spans, contrast, output, batch_size, limit)

    ranking = np.argsort(-scores, kind="stable")
    randoms = [np.random.default_rng([seed, r]).permutation(n) for r in range(random_orders)]
    counts = [min(n, max(1, math.ceil(f * n - 1e-9))) for f in fractions]  # 0.3 * 10 is 3.0000000000000004
    grid = np.unique(np.round(np.linspace(0, n, min(n, CURVE_STEPS) + 1)).astype(int)) if curves else None

    needed: dict[bytes, np.ndarray] = {}

    def need(kept: np.ndarray) -> bytes:
        needed.setdefault(kept.tobytes(), kept)
        return kept.tobytes()

    def without(order: np.ndarray, k: int) -> bytes:
        kept = np.ones(n, dtype=bool)
        kept[order[:k]] = False
        return need(kept)

    def only(order: np.ndarray, k: int) -> bytes:
        kept = np.zeros(n, dtype=bool)
        kept[order[:k]] = True
        return need(kept)

    full, empty = need(np.ones(n, dtype=bool)), need(np.zeros(n, dtype=bool))
    plans = [(
        [without(order, k) for k in counts], [only(order, k) for k in counts],
        None if grid is None else [without(order, int(k)) for k in grid],
        None if grid is None else [only(order, int(k)) for k in grid],
    ) for order in [ranking, *randoms]]
    keys = list(needed)
    values = dict(zip(keys, evaluate(np.stack([needed[k] for k in keys]))))
    score = float(values[full])

    def drops(plan_keys: list[bytes]) -> np.ndarray:
        return np.array([score - values[k] for k in plan_keys])

    def curve(plan_keys: list[list[bytes]]) -> Curve:
        return Curve(grid / n, np.mean([[values[k] for k in ks] for ks in plan_keys], axis=0), grid.copy())

    (comp, suff, deletion, insertion), rest = plans[0], plans[1:]
    comp_at, suff_at = drops(comp), drops(suff)
    r_comp = np.mean([drops(p[0]) for p in rest], axis=0) if rest else None
    r_suff = np.mean([drops(p[1]) for p in rest], axis=0) if rest else None
    curves_of = (curve([deletion]), curve([insertion])) if curves else (None, None)
    random_curves = (curve([p[2] for p in rest]), curve([p[3] for p in rest])) if curves and rest else (None, None)

    def area(c: Curve | None) -> float | None:
        return None if c is None else c.area

    def mean(a: np.ndarray | None) -> float | None:
        return None if a is None else float(np.mean(a))

    return Faithfulness(
        removal=removal, fractions=fractions, counts=tuple(counts),
        comprehensiveness=float(np.mean(comp_at)), sufficiency=float(np.mean(suff_at)),
        comprehensiveness_at=comp_at, sufficiency_at=suff_at,
        random_comprehensiveness=mean(r_comp), random_sufficiency=mean(r_suff),
        random_comprehensiveness_at=r_comp, random_sufficiency_at=r_suff,
        deletion=curves_of[0], insertion=curves_of[1], random_deletion=random_curves[0],
        random_insertion=random_curves[1], deletion_auc=area(curves_of[0]), insertion_auc=area(curves_of[1]),
        random_deletion_auc=area(random_curves[0]), random_insertion_auc=area(random_curves[1]),
        score=score, empty_score=float(values[empty]), n_words=n, random_orders=random_orders, seed=seed,
        method=explanation.method, target=explanation.target, contrast=contrast, output=output, task=task.kind,
        checkpoint=clf.checkpoint, seconds=round(time.perf_counter() - started, 4))


def _check_fractions(fractions) -> tuple[float, ...]:
    given = list(fractions) if hasattr(fractions, "__iter__") and not isinstance(fractions, (str, bytes, dict)) else []
    if not given:
        raise ExplainerError(f"fractions must be a non-empty list of numbers in (0, 1], got {shown(fractions)}.")
    for f in given:  # the comparison refuses nan and inf, and compares huge integers without overflowing
        if isinstance(f, bool) or not isinstance(f, Real) or not 0 < f <= 1:
            raise ExplainerError(f"Each fraction must be a number above 0 and at most 1 (a share of the words), "
                                 f"got {shown(f)}.")
    return tuple(float(f) for f in given)


def _task_of(clf: Classifier, explanation: Explanation) -> Task:
    """The task the explanation explained, rebuilt from what it recorded of its request."""
    extras = explanation.extras
    try:
        task = task_for(clf, labels=extras.get("labels"), template=extras.get("template"),
                        multi_label=bool(extras.get("multi_label", False)), hypothesis=extras.get("hypothesis"))
    except ExplainerError as err:
        raise ExplainerError(f"Cannot rebuild the task this explanation explained: {err}") from None
    kind = extras.get("task")
    if kind is not None and kind != task.kind:
        raise ExplainerError(f"This explanation explained a {kind} task, but its extras rebuild a {task.kind} task "
                             f"on {clf.checkpoint!r}.")
    return task


def _masking(task: Task, exp: Explanation, spans, contrast, output: str, batch_size: int,
             limit: Deadline | None) -> Callable[[np.ndarray], np.ndarray]:
    """F of [variants, words] kept-masks: the removed words' positions take the baseline embedding
    (the removal token) in every embedding use, through the task's Scorer, many variants per pass."""
    row = _read(task, exp.text, {"baseline": removal_token(task.clf), "output": output}, exp.target, contrast)
    scorer = task.scorer(row.x, [row.target], None if row.versus is None else [row.versus], row.baseline_ids,
                         output)
    view = row.x.text_tokens
    read = [(s, e) for s, e in split_words(exp.text) if view.limit is None or s < view.limit]
    if read != list(spans):
        raise ExplainerError(f"The explanation's {len(spans)} words are not the {len(read)} words "
                             f"{task.clf.checkpoint!r} reads in its text (another tokenizer's truncation, or edited "
                             "words?): recompute the explanation with this checkpoint.")
    slot_words = _words_of_slots(exp.text, view, scorer.owners)
    device = scorer.inputs[0].device
    where = [torch.as_tensor(slot_words[o[0]], device=device) for o in scorer.owners]  # [positions...] -> word

    def evaluate(kept: np.ndarray) -> np.ndarray:
        per_pass = scorer.examples_per_pass(batch_size)
        out = []
        for start in range(0, len(kept), per_pass):
            check(limit)
            chunk = torch.as_tensor(kept[start:start + per_pass], device=device)
            embeddings = [torch.where(((w >= 0) & ~chunk[:, w.clamp(min=0)]).unsqueeze(-1), base, x)
                          for w, base, x in zip(where, scorer.baselines, scorer.inputs)]
            rows = torch.zeros(len(chunk), dtype=torch.long, device=device)
            with torch.no_grad():
                out.append(scorer.forward(*embeddings, rows).double().cpu().numpy())
        return np.concatenate(out)

    return evaluate


def delete_words(text: str, spans, kept: np.ndarray) -> str:
    """``text`` without the words not ``kept``: each goes with the whitespace before it (after it, when
    it starts the text); the text after the last word stays. No word left: ""."""
    parts, first = [text[:spans[0][0]]], True
    for i, (s, e) in enumerate(spans):
        if kept[i]:
            parts.append(text[s:e] if first else text[spans[i - 1][1]:e])
            first = False
    parts.append(text[spans[-1][1]:])
    out = "".join(parts)
    return out if out.strip() else ""


def _deleting(task: Task, exp: Explanation, spans, contrast, output: str, batch_size: int,
              limit: Deadline | None) -> Callable[[np.ndarray], np.ndarray]:
    """F of [variants, words] kept-masks: the removed words deleted from the text, each distinct text
    read again by the task's own forward pass, in batches where the task allows."""
    if split_words(exp.text)[:len(spans)] != list(spans):
        raise ExplainerError("The explanation's words are not the words of its text; recompute the explanation.")
    target, versus = task.indices(exp.target, contrast, 0)

    def evaluate(kept: np.ndarray) -> np.ndarray:
        texts = [delete_words(exp.text, spans, k) for k in kept]
        distinct = list(dict.fromkeys(texts))
        values = {}
        for start in range(0, len(distinct), batch_size):  # the time limit is checked between passes
            check(limit)
            chunk = distinct[start:start + batch_size]
            values.update(zip(chunk, task.explained_texts(chunk, target, versus, output, batch_size)))
        return np.array([values[t] for t in texts])

    return evaluate


def faithfulness_summary(result: Faithfulness) -> str:
    """One plain sentence or two for a reader: what removing the top words did, next to random words.
    No user strings (labels, text) go in, so it can be shown as Markdown."""
    verb = {"mask": "Masking", "delete": "Deleting"}[result.removal]
    shares = (f"{min(result.fractions):.0%}–{max(result.fractions):.0%}" if len(result.fractions) > 1
              else f"{result.fractions[0]:.0%}")
    said = (f"{verb} the {shares} of the words this explanation ranks highest lowers the explained score by "
            f"{_amount(result.comprehensiveness)} on average")
    if result.random_comprehensiveness is None:
        return said + "."
    said += f"; random words lower it by {_amount(result.random_comprehensiveness)}"
    if result.random_comprehensiveness > TIE and result.comprehensiveness > result.random_comprehensiveness:
        said += f", {result.comprehensiveness / result.random_comprehensiveness:.1f}× less"
    beats = (result.comprehensiveness_gain > TIE, result.sufficiency_gain > TIE)
    verdict = {(True, True): "Both measures beat random word orders: the ranking reflects words this model uses.",
               (True, False): "Its top words matter more than random ones, but alone they keep no more of the score.",
               (False, True): "Its top words alone keep more of the score than random ones, but removing them "
                              "matters no more than removing random words.",
               (False, False): "Neither measure beats random word orders: do not read much into this ranking."}
    return f"{said}. {verdict[beats]}"


def _amount(x: float) -> str:
    """3 decimals, or 2 significant digits for the small changes of a saturated probability."""
    return f"{x:.3f}" if abs(x) >= 0.01 or x == 0 else f"{x:.2g}"
