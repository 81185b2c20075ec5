"""The public calls: predict and explain. Pages, the CLI and notebooks use only these."""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from . import zeroshot as zs
from .attribution import Method, attribute, method as get_method
from .checkpoints import Classifier, label_index
from .errors import ExplainerError
from .results import Explanation, Prediction
from .scoring import (Scorer, baseline_ids, check_text, classification_scorer, contrast, encode, plain_scores,
                      squash)
from .words import fold, seen_until, split_words, token_words

MAX_BATCH_TEXTS = 10_000


def _check_classifier(clf) -> Classifier:
    if not isinstance(clf, Classifier):
        raise ExplainerError("Pass a classifier from ex.load(checkpoint), not "
                             f"{type(clf).__name__}.")
    return clf


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


def _prediction(labels: Sequence[str], scores: np.ndarray, multi_label: bool, notices=()) -> Prediction:
    return Prediction(label=labels[int(np.argmax(scores))],
                      scores={name: float(s) for name, s in zip(labels, scores)},
                      multi_label=multi_label, notices=tuple(notices))


def _wants_zero_shot(clf: Classifier, labels) -> bool:
    if clf.task == "embedding" and labels is None:
        raise ExplainerError(f"{clf.checkpoint} classifies into the labels you give: pass labels=[...].")
    if labels is not None and clf.task == "classification":
        raise ExplainerError(f"{clf.checkpoint!r} is a fine-tuned classifier with fixed labels "
                             f"({', '.join(clf.labels)}), not an NLI model: it cannot take candidate labels. "
                             "Pick an NLI checkpoint (e.g. facebook/bart-large-mnli) or builtin:zeroshot.")
    return labels is not None


def predict(clf: Classifier, texts: str | Sequence[str], labels=None, template: str | None = None,
            multi_label: bool = False, batch_size: int = 32) -> list[Prediction]:
    """One Prediction per text (a single string counts as one text).

    With ``labels`` (NLI checkpoints and builtin:zeroshot), zero-shot scores
    over those labels, equal to transformers' zero-shot pipeline for NLI models.
    ``template`` defaults to the model's (see ``zeroshot.default_template``).
    """
    _check_classifier(clf)
    texts = _check_texts(texts)
    if _wants_zero_shot(clf, labels):
        cand = zs.candidates(labels, zs.default_template(clf) if template is None else template, multi_label)
        return [_prediction(cand.labels, s, cand.multi_label, cand.notices)
                for s in _zero_shot_scores(clf, texts, cand)]
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
            results[int(i)] = _prediction(clf.labels, p, clf.multi_label)
    return [results[i] for i in range(len(texts))]


def _zero_shot_scores(clf: Classifier, texts: list[str], cand: zs.Candidates) -> list[np.ndarray]:
    if clf.task == "embedding":
        hyps = zs.sentence_embeddings(clf, cand.hypotheses)
        out = []
        for start in range(0, len(texts), 32):
            cos = zs.sentence_embeddings(clf, texts[start:start + 32]) @ hyps.T
            out.extend(zs.similarity_scores(cos, cand.multi_label, "probability").cpu().numpy())
        return out
    entail, contra = zs.nli_indices(clf)
    return [zs.nli_scores(zs.pair_logits(clf, zs.encode_pairs(clf, text, cand.hypotheses)), entail, contra,
                          cand.multi_label, "probability").cpu().numpy() for text in texts]


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
    _check_classifier(clf)
    m = get_method(method)
    opts = m.resolve(options)
    if progress is not None and not callable(progress):
        raise ExplainerError("progress must be a function of one number (the fraction done).")
    started = time.perf_counter()
    if _wants_zero_shot(clf, labels):
        if hypothesis is not None:
            raise ExplainerError("Give either candidate labels (zero-shot) or a hypothesis (NLI pair), not both.")
        cand = zs.candidates(labels, zs.default_template(clf) if template is None else template, multi_label)
        if clf.task == "embedding":
            exp = _explain_similarity(clf, text, m, opts, cand, target, contrast, progress)
        else:
            exp = _explain_nli(clf, text, m, opts, cand, target, contrast, progress)
    elif hypothesis is not None:
        if clf.task != "nli":
            raise ExplainerError(f"{clf.checkpoint!r} is not an NLI model; a hypothesis needs one.")
        if not isinstance(hypothesis, str) or not hypothesis.strip():
            raise ExplainerError("The hypothesis is empty. Type a sentence to test against the text.")
        exp = _explain_pair(clf, text, hypothesis, m, opts, target, contrast, progress)
    else:
        exp = _explain_classification(clf, text, m, opts, target, contrast, progress)
    extras = {**exp.extras, "seconds": round(time.perf_counter() - started, 4), "signed": m.signed}
    return Explanation(**{**vars(exp), "extras": extras})


def _indices(target, versus, default: int, find) -> tuple[int, int | None]:
    """Target and contrast label indices by ``find(name_or_index, default)``; they must differ."""
    t = find(target, default)
    v = None if versus is None else find(versus, default)
    if v == t:
        raise ExplainerError("The contrast label must differ from the target label.")
    return t, v


def _candidate_index(cand: zs.Candidates):
    """Name or index -> index among the zero-shot candidate labels."""
    return lambda target, default: label_index(cand.labels, target, default,
                                               "the candidate labels are: " + ", ".join(cand.labels))


def _words_of_token(text: str, offsets: np.ndarray, special: np.ndarray, limit: int | None,
                    n_slots: int) -> np.ndarray:
    """Occlusion's features: slot -> word index, -1 for what is never removed."""
    spans = [(s, e) for s, e in split_words(text) if limit is None or s < limit]
    owners = token_words(spans, offsets, special)
    words = np.full(n_slots, -1)
    words[:len(owners)] = [max(o, key=lambda ws: ws[1])[0] if o else -1 for o in owners]
    return words


def _uncertainty(p: np.ndarray, multi_label: bool) -> float:
    """Entropy of a prediction (mean binary entropy for independent labels)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    if multi_label:
        return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
    return float(-(p * np.log(p)).sum())


def _with_baseline(clf: Classifier, opts: dict, probabilities_for, multi_label: bool) -> dict:
    """Resolve baseline="auto": of the family's candidate tokens, the one whose all-replaced
    input gets the least informative prediction, so that F(x') carries no evidence."""
    if opts.get("baseline") != "auto":
        return opts
    candidates = [b for b in clf.family.baselines if getattr(clf.tokenizer, f"{b}_token_id", None) is not None]
    if not candidates:
        raise ExplainerError("This tokenizer has none of the pad, mask or unk tokens a baseline needs.")
    best = max(candidates, key=lambda b: _uncertainty(probabilities_for(b), multi_label))
    return {**opts, "baseline": best}


def _run(m: Method, scorer: Scorer, opts: dict, text: str, offsets, special, limit, progress):
    n_slots = int(max(o.max() for o in scorer.owners)) + 1
    words = _words_of_token(text, offsets, special, limit, n_slots) if m.needs_words else None
    return attribute(m, scorer, opts, words, progress)


def _explain_classification(clf, text, m, opts, target, versus, progress) -> Explanation:
    enc = encode(clf, text)
    logits = plain_scores(clf, enc, output="logit")
    probs = squash(logits, clf.multi_label, "probability").cpu().numpy()
    t, v = _indices(target, versus, int(np.argmax(probs)), clf.label_index)
    output = opts["output"]
    opts = _with_baseline(clf, opts, lambda b: squash(plain_scores(clf, enc, baseline_ids(clf, enc, b), "logit"),
                                                      clf.multi_label, "probability").cpu().numpy(),
                          clf.multi_label)

    def explained(scores_1d: torch.Tensor) -> float:
        return float(contrast(scores_1d.unsqueeze(0), t, v)[0])

    baseline = opts.get("baseline")
    scorer = classification_scorer(clf, enc, t, baseline or "pad", output, v)
    limit = seen_until(enc.offsets, enc.special, enc.truncated)
    result = _run(m, scorer, opts, text, enc.offsets, enc.special, limit, progress)
    return Explanation(
        text=text, tokens=enc.tokens, token_offsets=enc.offsets, special_tokens=enc.special,
        token_scores=result.token_scores,
        words=fold(text, result.token_scores, enc.offsets, enc.special, opts["aggregation"], limit),
        target=clf.labels[t], score=explained(squash(logits, clf.multi_label, output)),
        baseline_score=explained(plain_scores(clf, enc, scorer.baseline_ids, output)) if baseline else None,
        delta=result.delta, method=m.name, options=opts, provenance=dict(clf.provenance),
        prediction=_prediction(clf.labels, probs, clf.multi_label), truncated=enc.truncated,
        extras={"task": "classification", **({"contrast": clf.labels[v]} if v is not None else {})})


def _explain_nli(clf, text, m, opts, cand: zs.Candidates, target, versus, progress) -> Explanation:
    """Zero-shot with an NLI model: the pipeline's score for the target label, through every pair it depends on."""
    entail, contra = zs.nli_indices(clf)
    everything = zs.encode_pairs(clf, text, cand.hypotheses)
    all_logits = zs.pair_logits(clf, everything)
    probs = zs.nli_scores(all_logits, entail, contra, cand.multi_label, "probability").cpu().numpy()
    t, v = _indices(target, versus, int(np.argmax(probs)), _candidate_index(cand))
    # single-label: every pair shapes the softmax; multi-label: only the target's (and contrast's) pairs
    chosen = list(range(len(cand.labels))) if not cand.multi_label else [t] + ([v] if v is not None else [])
    pairs = everything if len(chosen) == len(cand.labels) else zs.encode_pairs(
        clf, text, [cand.hypotheses[i] for i in chosen])
    t_pos, v_pos = chosen.index(t), (None if v is None else chosen.index(v))
    output = opts["output"]
    opts = _with_baseline(clf, opts, lambda b: zs.nli_scores(
        zs.pair_logits(clf, pairs, zs.baseline_pair_ids(clf, pairs, b)), entail, contra, cand.multi_label,
        "probability").cpu().numpy(), cand.multi_label)

    def score(logits: torch.Tensor) -> torch.Tensor:  # [B, pairs, classes] -> [B]
        return contrast(zs.nli_scores(logits, entail, contra, cand.multi_label, output), t_pos, v_pos)

    return _pairs_explanation(clf, text, pairs, all_logits[chosen], score, m, opts, cand.labels[t],
                              _prediction(cand.labels, probs, cand.multi_label, cand.notices),
                              labels=[cand.labels[i] for i in chosen],
                              extras={"task": "zero-shot", "labels": list(cand.labels), "template": cand.template,
                                      "multi_label": cand.multi_label, "notices": list(cand.notices),
                                      **({"contrast": cand.labels[v]} if v is not None else {})}, progress=progress)


def _explain_pair(clf, text, hypothesis, m, opts, target, versus, progress) -> Explanation:
    """An NLI checkpoint on the premise/hypothesis pair the user typed."""
    pairs = zs.encode_pairs(clf, text, [hypothesis])
    logits = zs.pair_logits(clf, pairs)
    probs = squash(logits, False, "probability")[0].cpu().numpy()
    t, v = _indices(target, versus, int(np.argmax(probs)), clf.label_index)
    output = opts["output"]
    opts = _with_baseline(clf, opts, lambda b: squash(zs.pair_logits(clf, pairs, zs.baseline_pair_ids(clf, pairs, b)),
                                                      False, "probability")[0].cpu().numpy(), False)

    def score(logits: torch.Tensor) -> torch.Tensor:
        return contrast(squash(logits[:, 0], False, output), t, v)

    return _pairs_explanation(clf, text, pairs, logits, score, m, opts, clf.labels[t],
                              _prediction(clf.labels, probs, False), labels=[clf.labels[t]],
                              extras={"task": "nli-pair", "hypothesis": hypothesis,
                                      **({"contrast": clf.labels[v]} if v is not None else {})}, progress=progress)


def _pairs_explanation(clf, text, pairs: zs.Pairs, logits: torch.Tensor, score, m, opts, target_name, prediction,
                       labels, extras, progress):
    """``logits``: the pairs' own forward passes [pairs, classes], already run for the prediction."""
    baseline = opts.get("baseline")
    scorer, where = zs.nli_scorer(clf, pairs, score, baseline or "pad")
    longest = int(np.argmax(pairs.premise_end))
    p = where.premise_tokens
    offsets, special = pairs.offsets[longest, :p], pairs.special[longest, :p]
    truncated = pairs.truncated
    limit = seen_until(offsets, special, truncated)
    result = _run(m, scorer, opts, text, offsets, special, limit, progress)
    scores = result.token_scores
    hypotheses = []
    for l, (a, b) in enumerate(where.hypothesis):
        end = int(pairs.premise_end[l])
        hypotheses.append({"label": labels[l] if l < len(labels) else "", "hypothesis": pairs.hypotheses[l],
                           "tokens": list(pairs.tokens[l][end:]), "scores": scores[a:b].tolist()})
    hyp_total = float(sum(sum(h["scores"]) for h in hypotheses))

    def f(pair_logits: torch.Tensor) -> float:
        return float(score(pair_logits.unsqueeze(0))[0])

    return Explanation(
        text=text, tokens=pairs.tokens[longest][:p], token_offsets=offsets, special_tokens=special,
        token_scores=scores[:p], words=fold(text, scores[:p], offsets, special, opts["aggregation"], limit),
        target=target_name, score=f(logits),
        baseline_score=f(zs.pair_logits(clf, pairs, scorer.baseline_ids)) if baseline else None, delta=result.delta,
        method=m.name, options=opts, provenance=dict(clf.provenance), prediction=prediction, truncated=truncated,
        extras={**extras, "hypotheses": hypotheses, "hypothesis_total": hyp_total,
                "padding_total": float(scores[where.padding]) if where.padding < len(scores) else 0.0})


def _explain_similarity(clf, text, m, opts, cand: zs.Candidates, target, versus, progress) -> Explanation:
    """builtin:zeroshot: the text's words, with the label hypotheses' embeddings held fixed."""
    hyps = zs.sentence_embeddings(clf, cand.hypotheses)
    enc = encode(clf, text)
    output = opts["output"]

    def scores_of(ids: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            hidden = clf.model(input_ids=ids, attention_mask=enc.attention_mask,
                               token_type_ids=enc.token_type_ids).last_hidden_state
        return zs.mean_pool(hidden, enc.attention_mask) @ hyps.T

    cos = scores_of(enc.input_ids)
    probs = zs.similarity_scores(cos, cand.multi_label, "probability")[0].cpu().numpy()
    t, v = _indices(target, versus, int(np.argmax(probs)), _candidate_index(cand))
    opts = _with_baseline(clf, opts, lambda b: zs.similarity_scores(
        scores_of(baseline_ids(clf, enc, b)), cand.multi_label, "probability")[0].cpu().numpy(), cand.multi_label)
    mask, tti = enc.attention_mask, enc.token_type_ids

    def forward(embeddings: torch.Tensor) -> torch.Tensor:
        batch = embeddings.shape[0]
        hidden = clf.model(inputs_embeds=embeddings, attention_mask=mask.expand(batch, -1),
                           token_type_ids=None if tti is None else tti.expand(batch, -1)).last_hidden_state
        cosine = zs.mean_pool(hidden, mask.expand(batch, -1)) @ hyps.T
        return contrast(zs.similarity_scores(cosine, cand.multi_label, output), t, v)

    baseline = opts.get("baseline")
    base_ids = baseline_ids(clf, enc, baseline or "pad")
    with torch.no_grad():
        emb = clf.model.get_input_embeddings()
        scorer = Scorer(forward=forward, inputs=(emb(enc.input_ids),), baselines=(emb(base_ids),),
                        owners=clf.family.owners(enc.n_tokens), baseline_ids=base_ids)
    limit = seen_until(enc.offsets, enc.special, enc.truncated)
    result = _run(m, scorer, opts, text, enc.offsets, enc.special, limit, progress)

    def f(c: torch.Tensor) -> float:
        return float(contrast(zs.similarity_scores(c, cand.multi_label, output), t, v)[0])

    return Explanation(
        text=text, tokens=enc.tokens, token_offsets=enc.offsets, special_tokens=enc.special,
        token_scores=result.token_scores,
        words=fold(text, result.token_scores, enc.offsets, enc.special, opts["aggregation"], limit),
        target=cand.labels[t], score=f(cos), baseline_score=f(scores_of(base_ids)) if baseline else None,
        delta=result.delta, method=m.name, options=opts, provenance=dict(clf.provenance),
        prediction=_prediction(cand.labels, probs, cand.multi_label, cand.notices), truncated=enc.truncated,
        extras={"task": "zero-shot-similarity", "labels": list(cand.labels), "template": cand.template,
                "multi_label": cand.multi_label, "notices": list(cand.notices), "scale": zs.SCALE,
                **({"center": zs.CENTER} if cand.multi_label else {}),
                **({"contrast": cand.labels[v]} if v is not None else {})})
