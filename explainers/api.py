"""The public calls: predict and explain. Pages, the CLI and notebooks use only these."""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from .attribution import attribute, method as get_method
from .checkpoints import Classifier
from .errors import ExplainerError
from .results import Explanation, Prediction
from .scoring import check_text, classification_scorer, encode, plain_scores, squash
from .words import fold, split_words, token_words

MAX_BATCH_TEXTS = 10_000


def _check_classifier(clf) -> Classifier:
    if not isinstance(clf, Classifier):
        raise ExplainerError("Pass a classifier from ex.load(checkpoint), not "
                             f"{type(clf).__name__}.")
    return clf


def _prediction(clf: Classifier, scores: np.ndarray) -> Prediction:
    return Prediction(label=clf.labels[int(np.argmax(scores))],
                      scores={name: float(s) for name, s in zip(clf.labels, scores)},
                      multi_label=clf.multi_label)


def predict(clf: Classifier, texts: str | Sequence[str], batch_size: int = 32) -> list[Prediction]:
    """One Prediction per text (a single string counts as one text)."""
    _check_classifier(clf)
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
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
    results: dict[int, Prediction] = {}
    for start in range(0, len(texts), batch_size):
        idx = order[start:start + batch_size]
        enc = clf.tokenizer([texts[i] for i in idx], truncation=True, max_length=clf.max_length,
                            padding=True, return_tensors="pt").to(clf.device)
        with torch.no_grad():
            logits = clf.family.plain_logits(clf.model, enc["input_ids"], enc["attention_mask"],
                                             token_type_ids=enc.get("token_type_ids"))
        probs = squash(logits.float(), clf.multi_label, "probability").cpu().numpy()
        for i, p in zip(idx, probs):
            results[int(i)] = _prediction(clf, p)
    return [results[i] for i in range(len(texts))]


def explain(clf: Classifier, text: str, method: str = "integrated_gradients", target: str | int | None = None,
            **options) -> Explanation:
    """Why the model gives ``target`` (default: the predicted label) its score on ``text``.

    ``options`` are the method's (see ``ex.METHODS[method].options``) plus
    ``output`` ("probability" or "logit") and ``aggregation`` ("sum", "mean",
    "max" of word pieces per word).
    """
    _check_classifier(clf)
    m = get_method(method)
    opts = m.resolve(options, clf.family.default_baseline)
    started = time.perf_counter()
    enc = encode(clf, text)
    logits = plain_scores(clf, enc, output="logit")
    probs = squash(logits, clf.multi_label, "probability").cpu().numpy()
    prediction = _prediction(clf, probs)
    target_index = clf.label_index(target, default=int(np.argmax(probs)))
    output = opts["output"]
    scores = squash(logits, clf.multi_label, output)
    baseline = opts.get("baseline")
    scorer = classification_scorer(clf, enc, target_index, baseline or "pad", output)
    baseline_score = float(plain_scores(clf, enc, scorer.baseline_ids, output)[target_index]) if baseline else None

    limit = int(enc.offsets[~enc.special, 1].max()) if enc.truncated else None
    words_of_token = None
    if m.needs_words:
        spans = split_words(text)
        if limit is not None:
            spans = [(s, e) for s, e in spans if s < limit]
        owners = token_words(spans, enc.offsets, enc.special)
        words_of_token = np.array([max(o, key=lambda ws: ws[1])[0] if o else -1 for o in owners])
    result = attribute(m, scorer, opts, words_of_token)

    return Explanation(
        text=text,
        tokens=enc.tokens,
        token_offsets=enc.offsets,
        special_tokens=enc.special,
        token_scores=result.token_scores,
        words=fold(text, result.token_scores, enc.offsets, enc.special, opts["aggregation"], limit),
        target=clf.labels[target_index],
        score=float(scores[target_index]),
        baseline_score=baseline_score,
        delta=result.delta,
        method=m.name,
        options=opts,
        provenance=dict(clf.provenance),
        prediction=prediction,
        truncated=enc.truncated,
        extras={"seconds": round(time.perf_counter() - started, 4), "signed": m.signed},
    )
