"""LIME and KernelSHAP over words, and attention as a word scoring: what they compute, on the tiny
models and the built-ins (the parametrised tests in test_attribution.py run them on every family)."""

import numpy as np
import pytest
import torch
from sklearn.metrics import pairwise_distances

import explainers as ex
from explainers.attention import combine_heads, from_reader, rollout
from explainers.attribution import KINDS, _lime_kernel
from helpers import TEXTS, in_threads

SURROGATES = ["lime", "kernel_shap"]
ATTENTION = ["attention_last", "attention_rollout", "attention_gradient"]
FILM = "a gripping, funny and touching film"
NLI = ("contradiction", "neutral", "entailment")
LABELS = ["sports", "politics", "music"]
PREMISE = "The team won the championship after a dramatic final match"


def test_every_method_has_a_kind():
    assert set(KINDS) == {"attribution", "surrogate", "attention"}
    kinds = {name: m.kind for name, m in ex.METHODS.items()}
    assert set(kinds.values()) <= set(KINDS)
    assert [n for n, k in kinds.items() if k == "surrogate"] == SURROGATES
    assert [n for n, k in kinds.items() if k == "attention"] == ATTENTION
    assert "not attributions" in KINDS["attention"]
    for name in SURROGATES:
        m = ex.METHODS[name]
        assert m.signed and m.has_baseline and m.needs_words and not m.batched
        assert m.work(m.resolve({}), 5) == m.options["samples"].default
    for name in ATTENTION:
        m = ex.METHODS[name]
        assert not m.signed and not m.has_baseline and not m.batched


# --------------------------------------------------------------------------- LIME and KernelSHAP


@pytest.mark.parametrize("model", ["bert", "sst2"])
@pytest.mark.parametrize("method", SURROGATES)
def test_surrogates_score_words_reproducibly(tiny, sst2, model, method):
    clf = sst2 if model == "sst2" else tiny(model)
    rng = torch.get_rng_state()
    a, b, c = (ex.explain(clf, TEXTS[1], method=method, samples=100, seed=seed) for seed in (3, 3, 4))
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's generator is left as it was
    assert len(a.token_scores) == len(a.tokens) and np.isfinite(a.token_scores).all()
    np.testing.assert_array_equal(a.token_scores, b.token_scores)
    assert not np.allclose(a.token_scores, c.token_scores)
    assert (a.token_scores[a.special_tokens] == 0).all() and a.baseline_score is not None
    for w in a.words:  # a word's score is shared evenly by its pieces
        pieces = a.token_scores[list(w.tokens)]
        np.testing.assert_allclose(pieces, pieces[0])
    assert sum(w.score != 0 for w in a.words) == len(a.words)


def test_the_top_word_is_among_occlusions_top_three(sst2):
    occlusion = ex.explain(sst2, FILM, method="occlusion")
    top3 = [w.text for w in sorted(occlusion.words, key=lambda w: -w.score)[:3]]
    for method in SURROGATES:
        exp = ex.explain(sst2, FILM, method=method)
        best = max(exp.words, key=lambda w: w.score)
        assert best.score > 0 and best.text in top3, (method, best.text, top3)


def test_kernel_shap_sums_to_the_score_gap(sst2):
    """Efficiency: Captum pins the fit to F(x) and F(baseline) by weighting the all-kept and
    all-removed samples 10^6 times each other sample, so the words' scores sum to F(x) - F(baseline)
    up to that finite weight, which grows with the samples (measured on 8 sentences x 2 seeds: at most
    1.7e-5 of the gap at 100 samples, 6e-5 at 300, 2.3e-4 at the default 1000); 1e-3 is four times
    the largest seen at the default."""
    for text, output in ((FILM, "probability"), (TEXTS[2], "logit")):
        exp = ex.explain(sst2, text, method="kernel_shap", output=output)
        gap = exp.score - exp.baseline_score
        assert abs(gap) > 0.05
        assert abs(exp.token_scores.sum() - gap) < 1e-3 * abs(gap)


def test_kernel_shap_of_one_word_is_the_whole_gap(tiny):
    exp = ex.explain(tiny("bert"), "great", method="kernel_shap")  # nothing between none and all to sample
    assert [w.text for w in exp.words] == ["great"]
    assert exp.words[0].score == pytest.approx(exp.score - exp.baseline_score, abs=1e-6)


def test_surrogates_in_threads_give_the_solo_results(tiny):
    clf = tiny("distilbert")
    solo = {t: ex.explain(clf, t, method="lime", samples=60, seed=t.count(" ")).token_scores for t in TEXTS}
    results = {}

    def work(text):
        results[text] = ex.explain(clf, text, method="lime", samples=60, seed=text.count(" ")).token_scores

    assert not in_threads(work, TEXTS) and results.keys() == solo.keys()
    for text, scores in results.items():
        np.testing.assert_array_equal(scores, solo[text])


def test_lime_weights_samples_by_limes_text_kernel():
    """LIME's LimeTextExplainer: d = cosine distance to the all-ones vector x 100 (scikit-learn's),
    weight sqrt(exp(-d^2 / 25^2)); not Captum's default kernel on the embeddings."""
    kernel = _lime_kernel(4)
    samples = np.array([[1, 1, 1, 1], [1, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    distances = pairwise_distances(samples, np.ones((1, 4)), metric="cosine").ravel() * 100
    expected = np.sqrt(np.exp(-distances ** 2 / 25 ** 2))
    got = [kernel(None, None, torch.tensor(z)[None]) for z in samples]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0] == 1.0 and got[-1] < 1e-3


@pytest.mark.parametrize("method", SURROGATES)
def test_surrogates_run_on_every_task(tiny, zeroshot, method):
    """Zero-shot NLI (every pair at once), an NLI pair and similarity zero-shot: the hypotheses are
    never removed, so they get no score."""
    nli = tiny("bart", labels=NLI)
    runs = {"zero-shot": ex.explain(nli, PREMISE, labels=LABELS, method=method, samples=60),
            "nli-pair": ex.explain(nli, PREMISE, hypothesis="The team lost.", method=method, samples=60),
            "zero-shot-similarity": ex.explain(zeroshot, PREMISE, labels=LABELS, method=method, samples=60)}
    for task, exp in runs.items():
        assert exp.extras["task"] == task
        assert len(exp.token_scores) == len(exp.tokens) and np.isfinite(exp.token_scores).all()
        assert np.abs(exp.token_scores).max() > 0 and exp.baseline_score is not None
        assert [w.text for w in exp.words] == PREMISE.split()
        for hypothesis in exp.extras.get("hypotheses", []):
            assert not any(hypothesis["scores"])


# --------------------------------------------------------------------------- attention


def by_hand(maps: ex.AttentionMaps) -> dict[str, np.ndarray]:
    s = maps.encoder
    return {"attention_last": from_reader(combine_heads(s, "mean"), s.reads)[-1],
            "attention_rollout": from_reader(rollout(combine_heads(s, "mean")), s.reads)[-1],
            "attention_gradient": from_reader(rollout(combine_heads(s, "gradient")), s.reads)[-1]}


@pytest.mark.parametrize("model", ["bert", "bart", "sst2"])
def test_attention_scores_are_the_attention_maps(tiny, sst2, model):
    clf = sst2 if model == "sst2" else tiny(model)
    text = TEXTS[1]
    for target, output in ((None, "probability"), (0, "logit")):
        maps = ex.attention(clf, text, target, output)
        for method, expected in by_hand(maps).items():
            exp = ex.explain(clf, text, method=method, target=target, output=output)
            assert exp.target == maps.target and exp.baseline_score is None
            assert len(exp.token_scores) == len(exp.tokens) == len(maps.tokens) == len(expected)
            np.testing.assert_allclose(exp.token_scores, expected, rtol=1e-12)
            assert (exp.token_scores >= 0).all()
            covered = sorted(t for w in exp.words for t in w.tokens)
            assert covered == list(np.flatnonzero(~exp.special_tokens))  # every word of the text, every piece
            assert [w.text for w in exp.words] == ["The", "movie", "was", "not", "bad", "at", "all", ",",
                                                   "highly", "recommend"]
            if method != "attention_gradient":  # softmax weights: every word gets some
                assert all(w.score > 0 for w in exp.words)
    assert (by_hand(ex.attention(clf, text, 0, "logit"))["attention_gradient"]
            != by_hand(ex.attention(clf, text, 1, "logit"))["attention_gradient"]).any()  # it follows the target


@pytest.mark.parametrize("method", ATTENTION)
def test_attention_needs_a_classifiers_own_label_without_a_contrast(tiny, zeroshot, method):
    nli = tiny("bart", labels=NLI)
    requests = [(nli, {"labels": LABELS}), (nli, {"hypothesis": "The team lost."}),
                (zeroshot, {"labels": LABELS}), (tiny("bert"), {"contrast": 1, "target": 0})]
    for clf, kwargs in requests:
        with pytest.raises(ex.ExplainerError, match="own labels without a contrast; use a gradient or perturbation"):
            ex.explain(clf, PREMISE, method=method, **kwargs)


def test_attention_methods_one_text_at_a_time(tiny):
    clf = tiny("roberta")
    many = ex.explain_many(clf, TEXTS, method="attention_rollout")
    for text, exp in zip(TEXTS, many):
        np.testing.assert_array_equal(exp.token_scores, ex.explain(clf, text, method="attention_rollout").token_scores)
