"""The public calls: predict and explain, one path for every task.

explain: decide the task, read the text, predict, pick target and contrast,
resolve the auto baseline, build the task's scorer, attribute, and build the
Explanation in one place (``_explanation``).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from .attribution import Attribution, Method, attribute
from .attribution import method as get_method
from .checkpoints import Classifier
from .errors import ExplainerError
from .results import Explanation, Prediction
from .scoring import TextTokens, baseline_ids, check_text
from .tasks import Input, Task, task_for
from .words import fold, split_words, token_words

MAX_BATCH_TEXTS = 10_000


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or not texts:
        raise ExplainerError("Give a text or a non-empty list of texts.")
    if len(texts) > MAX_BATCH_TEXTS:
        raise ExplainerError(f"{len(texts):,} texts at once is too many; send at most {MAX_BATCH_TEXTS:,} per call.")
    for i, text in enumerate(texts):
        try:
            check_text(text)
        except ExplainerError as err:
            raise ExplainerError(f"Text {i + 1}: {err}") from None
    return list(texts)


def predict(clf: Classifier, texts: str | Sequence[str], labels=None, template: str | None = None,
            multi_label: bool = False, hypothesis: str | None = None, batch_size: int = 32) -> list[Prediction]:
    """One Prediction per text (a single string counts as one text).

    With ``labels`` (NLI checkpoints and builtin:zeroshot), zero-shot scores
    over those labels, equal to transformers' zero-shot pipeline for NLI models.
    ``template`` defaults to the model's (see ``zeroshot.default_template``).
    ``hypothesis``: an NLI checkpoint on each pair (text, hypothesis).
    """
    task = task_for(clf, labels=labels, template=template, multi_label=multi_label, hypothesis=hypothesis)
    return [task.prediction(p) for p in task.probabilities(_check_texts(texts), batch_size)]


def explain(clf: Classifier, text: str, method: str = "integrated_gradients", target: str | int | None = None, *,
            labels=None, template: str | None = None, multi_label: bool = False,
            contrast: str | int | None = None, hypothesis: str | None = None, progress=None,
            **options) -> Explanation:
    """Why the model gives ``target`` (default: the predicted label) its score on ``text``.

    ``options`` are the method's (see ``ex.METHODS[method].options``) plus
    ``output`` ("probability" or "logit") and ``aggregation`` ("sum", "mean",
    "max" of word pieces per word). ``contrast``: explain target's score minus
    this label's ("why A rather than B"). ``labels``/``template``/
    ``multi_label``: zero-shot over candidate labels. ``hypothesis``: explain
    an NLI checkpoint on the pair (text, hypothesis). ``progress(fraction)``
    is called as the method's examples go through the model.
    """
    started = time.perf_counter()
    task = task_for(clf, labels=labels, template=template, multi_label=multi_label, hypothesis=hypothesis)
    m = get_method(method)
    opts = m.resolve(options)
    if progress is not None and not callable(progress):
        raise ExplainerError("progress must be a function of one number (the fraction done).")
    x = task.read(text)
    logits = task.logits(x)
    probabilities = task.scores(logits).cpu().numpy()
    t, v = task.indices(target, contrast, int(np.argmax(probabilities)))
    names = task.labels[t], (None if v is None else task.labels[v])
    x, logits, t, v = task.focus(x, logits, t, v)
    opts = _with_baseline(task, x, opts)
    scorer = task.scorer(x, t, v, opts.get("baseline") or "pad", opts["output"])
    view = x.text_tokens
    result = attribute(m, scorer, opts, _words_of_slots(text, view, scorer.owners) if m.needs_words else None,
                       progress)

    def f(label_logits: torch.Tensor) -> float:  # F from the model's own forward pass, as the scorer computes it
        return float(task.explained(label_logits.unsqueeze(0), t, v, opts["output"])[0])

    return _explanation(task, x, text, view, result, m, opts, target=names[0], versus=names[1], target_index=t,
                        score=f(logits),
                        baseline_score=f(task.logits(x, scorer.baseline_ids)) if opts.get("baseline") else None,
                        prediction=task.prediction(probabilities), started=started)


def _explanation(task: Task, x: Input, text: str, view: TextTokens, result: Attribution, m: Method, opts: dict, *,
                 target: str, versus: str | None, target_index: int, score: float, baseline_score: float | None,
                 prediction: Prediction, started: float) -> Explanation:
    """The one place an Explanation is built: the text's slots become tokens and words, the rest
    (hypotheses, padding) goes to the task's extras. ``target_index``: the target among x's labels."""
    slots = result.token_scores
    tokens = slots[:len(view.tokens)]
    extras = {"task": task.kind, **task.extras(x, slots, target_index),
              **({"contrast": versus} if versus is not None else {})}
    words = fold(text, tokens, view.offsets, view.special, opts["aggregation"], view.limit)
    extras.update(seconds=round(time.perf_counter() - started, 4), signed=m.signed)
    return Explanation(
        text=text, tokens=view.tokens, token_offsets=view.offsets, special_tokens=view.special, token_scores=tokens,
        words=words, target=target, score=score, baseline_score=baseline_score, delta=result.delta, method=m.name,
        options=opts, provenance=dict(task.clf.provenance), prediction=prediction, truncated=view.truncated,
        extras=extras)


def _words_of_slots(text: str, view: TextTokens, owners: tuple[np.ndarray, ...]) -> np.ndarray:
    """Occlusion's features: slot -> the word it mostly covers, -1 for what is never removed
    (special tokens, hypotheses, padding)."""
    spans = [(s, e) for s, e in split_words(text) if view.limit is None or s < view.limit]
    covers = token_words(spans, view.offsets, view.special)
    words = np.full(int(max(o.max() for o in owners)) + 1, -1)
    words[:len(covers)] = [max(c, key=lambda ws: ws[1])[0] if c else -1 for c in covers]
    return words


def _uncertainty(p: np.ndarray, multi_label: bool) -> float:
    """Entropy of a prediction (mean binary entropy for independent labels)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    if multi_label:
        return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
    return float(-(p * np.log(p)).sum())


def _with_baseline(task: Task, x: Input, opts: dict) -> dict:
    """Resolve baseline="auto": of the family's candidate tokens, the one whose all-replaced
    input gets the least informative prediction, so that F(x') carries no evidence."""
    if opts.get("baseline") != "auto":
        return opts
    clf = task.clf
    candidates = [b for b in clf.family.baselines if getattr(clf.tokenizer, f"{b}_token_id", None) is not None]
    if not candidates:
        raise ExplainerError("This tokenizer has none of the pad, mask or unk tokens a baseline needs.")

    def uncertainty(b: str) -> float:
        return _uncertainty(task.scores(task.logits(x, baseline_ids(clf, x, b))).cpu().numpy(), task.multi_label)

    return {**opts, "baseline": max(candidates, key=uncertainty)}
