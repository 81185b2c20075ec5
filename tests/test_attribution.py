"""Attributions checked against invariants: IG completeness with plain forward
passes, equality with Captum's own LayerIntegratedGradients, words that slice
back to the text, an untouched shared model, and thread safety."""
import copy

import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients

import explainers as ex
from helpers import FAMILIES, TEXTS, in_threads, snapshot


def head_logits(model, family, ids, mask, positions, reads):
    """Logits from the model's own modules, outside the library. Decoder-only heads read the input's
    last token (``reads``) also on a baseline, whose last token may be the config's pad id."""
    if family.decoder_only:
        hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
        return model.score(hidden[torch.arange(ids.shape[0]), reads])
    kwargs = {"input_ids": ids, "attention_mask": mask}
    if family.positions == "from_ids":
        kwargs["position_ids"] = positions
    return model(**kwargs).logits


def explained(clf, logits):
    """The explained number: a probability, or a one-output head's raw score."""
    return logits if clf.one_output else torch.softmax(logits, -1)


def plain_probability(clf, ids, mask, positions, target):
    """F from the model's own forward pass on ids, outside the library."""
    reads = torch.tensor([ids.shape[1] - 1])
    with torch.no_grad():
        return explained(clf, head_logits(clf.model, clf.family, ids, mask, positions, reads))[0, target].item()


def baselines_of(clf):
    """The baseline tokens this tokenizer has, in the order tests try them."""
    return [b for b in ("pad", "mask", "unk", "eos") if getattr(clf.tokenizer, f"{b}_token_id", None) is not None]


def encoded(clf, text):
    enc = clf.tokenizer(text, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    pad = clf.model.config.pad_token_id or 0  # decoders may have none (their positions are 0..T-1 anyway)
    nonpad = ids.ne(pad).int()
    positions = (torch.cumsum(nonpad, 1) * nonpad).long() + pad  # RoBERTa's rule, from the real ids
    return ids, mask, positions


def baseline_of(clf, ids, token_id):
    special = torch.tensor(clf.tokenizer.get_special_tokens_mask(ids[0].tolist(),
                                                                 already_has_special_tokens=True)).bool()
    return torch.where(special.unsqueeze(0), ids, torch.full_like(ids, token_id))


@pytest.mark.parametrize("family", FAMILIES)
def test_ig_completeness_against_plain_forward_passes(tiny, family):
    clf = tiny(family)
    for text in TEXTS:
        ids, mask, positions = encoded(clf, text)
        baseline = ex.explain(clf, text, n_steps=1).options["baseline"]  # what "auto" picks for this text
        assert baseline in clf.family.baselines
        base = baseline_of(clf, ids, getattr(clf.tokenizer, f"{baseline}_token_id"))
        gaps = [plain_probability(clf, ids, mask, positions, k) - plain_probability(clf, base, mask, positions, k)
                for k in range(len(clf.labels))]
        target = int(np.argmax(np.abs(gaps)))  # the label whose score moves most
        gap = gaps[target]
        assert abs(gap) > 1e-3, "tiny model too flat for a meaningful check"
        exp = ex.explain(clf, text, target=target, tolerance=0.002, internal_batch_size=64)  # well within 1 %
        assert exp.options["baseline"] == baseline  # the result says which baseline
        f_x = plain_probability(clf, ids, mask, positions, target)
        f_base = plain_probability(clf, base, mask, positions, target)
        assert exp.score == pytest.approx(f_x, abs=1e-6)
        assert exp.baseline_score == pytest.approx(f_base, abs=1e-6)
        assert abs(exp.token_scores.sum() - gap) < 0.01 * abs(gap)
        assert abs(exp.delta) < 0.01 * abs(gap)


@pytest.mark.parametrize("family", FAMILIES)
def test_ig_completeness_at_default_steps_within_reported_delta(tiny, family):
    clf = tiny(family)
    exp = ex.explain(clf, TEXTS[1])
    gap = exp.score - exp.baseline_score
    assert abs(exp.token_scores.sum() - gap) <= abs(exp.delta) + 1e-5


def lig_reference(clf, text, target, n_steps=50, baseline="pad"):
    """Captum's LayerIntegratedGradients on a private copy of the model, hooks and all."""
    model = copy.deepcopy(clf.model)
    ids, mask, positions = encoded(clf, text)
    base = baseline_of(clf, ids, getattr(clf.tokenizer, f"{baseline}_token_id"))
    if clf.family.encoder_decoder:
        # BART calls one shared table for encoder and decoder: split it so each use is its own layer.
        model.model.decoder.embed_tokens = copy.deepcopy(model.model.shared)
        layers = [model.model.encoder.embed_tokens, model.model.decoder.embed_tokens]
    else:
        layers = model.get_input_embeddings()

    def forward(input_ids):
        n = input_ids.shape[0]
        reads = torch.full((n,), ids.shape[1] - 1)
        return explained(clf, head_logits(model, clf.family, input_ids, mask.expand(n, -1), positions.expand(n, -1),
                                          reads))[:, target]

    lig = LayerIntegratedGradients(forward, layers)
    attrs = lig.attribute(ids, baselines=base, n_steps=n_steps, method="gausslegendre", internal_batch_size=16)
    if not isinstance(attrs, list):
        return attrs.sum(-1)[0].detach().numpy()
    enc_part, dec_part = (a.sum(-1)[0].detach().numpy() for a in attrs)
    out = enc_part.astype(np.float64).copy()
    out[:-1] += dec_part[1:]  # decoder position i reads token i-1
    out[-1] += dec_part[0]  # the decoder start token, credited to the final EOS
    return out


@pytest.mark.filterwarnings("ignore:Multiple layers provided")  # BART's two embedding uses, split on purpose
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("which", [0, 1])
def test_ig_equals_captum_layer_integrated_gradients(tiny, family, which):
    clf = tiny(family)
    candidates = baselines_of(clf)
    baseline = candidates[min(which, len(candidates) - 1)]
    for text in TEXTS[:2]:
        exp = ex.explain(clf, text, baseline=baseline, n_steps=50)
        reference = lig_reference(clf, text, clf.labels.index(exp.target), n_steps=50, baseline=baseline)
        np.testing.assert_allclose(exp.token_scores, reference, atol=1e-5, rtol=0)
        assert np.abs(reference).max() > 1e-3


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", list(ex.METHODS))
def test_every_method_runs_with_words_that_slice_back(tiny, family, method):
    clf = tiny(family)
    text = "Héllo wörld!! I don't like <b>this</b> 👍🏽 [UNK] 日本語 ok"
    exp = ex.explain(clf, text, method=method)
    assert exp.method == method
    assert len(exp.tokens) == len(exp.token_scores) == len(exp.special_tokens) == len(exp.token_offsets)
    assert np.isfinite(exp.token_scores).all()
    assert np.abs(exp.token_scores).max() > 0
    for w in exp.words:
        assert text[w.start:w.end] == w.text
    assert [w.text for w in exp.words][:4] == ["Héllo", "wörld", "!", "!"]
    assert "👍🏽" in [w.text for w in exp.words]
    for t, (s, e) in enumerate(exp.token_offsets):
        if not exp.special_tokens[t]:
            assert 0 <= s <= e <= len(text)
    # word pieces are folded onto words without loss (sum aggregation)
    covered = sorted({t for w in exp.words for t in w.tokens})
    assert sum(w.score for w in exp.words) == pytest.approx(exp.token_scores[covered].sum(), abs=1e-9)
    if not ex.METHODS[method].signed:
        assert (exp.token_scores >= 0).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_shared_model_unchanged_after_explain(tiny, family):
    clf = tiny(family)
    before = snapshot(clf.model)
    labels = clf.labels
    for method in ex.METHODS:
        ex.explain(clf, TEXTS[0], method=method, target=0)
    after = snapshot(clf.model)
    assert before[1:] == after[1:]
    assert before[2] == 0
    for k, v in before[0].items():
        assert torch.equal(v, after[0][k]), k
    assert all(p.grad is None for p in clf.model.parameters())
    assert clf.labels == labels


@pytest.mark.parametrize("family", FAMILIES)
def test_threads_give_the_solo_results(tiny, family):
    clf = tiny(family)
    solo = {t: ex.explain(clf, t).token_scores for t in TEXTS}
    results = {}

    def work(text):
        for _ in range(3):
            results.setdefault(text, []).append(ex.explain(clf, text).token_scores)

    assert not in_threads(work, TEXTS)
    for text, runs in results.items():
        for run in runs:
            np.testing.assert_allclose(run, solo[text], atol=1e-6)


def test_target_by_name_or_index_and_default_is_prediction(tiny):
    clf = tiny("bert")
    text = TEXTS[0]
    pred = ex.predict(clf, [text])[0]
    assert ex.explain(clf, text, method="saliency").target == pred.label
    by_name = ex.explain(clf, text, target="neutral")
    by_index = ex.explain(clf, text, target=1)
    assert by_name.target == by_index.target == "neutral"
    np.testing.assert_array_equal(by_name.token_scores, by_index.token_scores)
    assert by_name.score == pytest.approx(pred.scores["neutral"], abs=1e-6)


def test_logit_output_explains_the_logit(tiny):
    clf = tiny("roberta")
    exp = ex.explain(clf, TEXTS[1], output="logit", target=2, n_steps=300)
    ids, mask, positions = encoded(clf, TEXTS[1])
    with torch.no_grad():
        logit = clf.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[0, 2].item()
    assert exp.score == pytest.approx(logit, abs=1e-5)
    assert exp.token_scores.sum() == pytest.approx(exp.score - exp.baseline_score,
                                                   abs=1e-2 * abs(exp.score - exp.baseline_score))


def test_multi_label_uses_sigmoid(tiny_folder):
    clf = ex.load(str(tiny_folder("bert", problem_type="multi_label_classification")))
    assert clf.multi_label
    pred = ex.predict(clf, TEXTS[0])[0]
    assert pred.multi_label
    with torch.no_grad():
        logits = clf.model(**clf.tokenizer(TEXTS[0], return_tensors="pt")).logits[0]
    np.testing.assert_allclose(list(pred.scores.values()), torch.sigmoid(logits).numpy(), atol=1e-6)
    assert abs(sum(pred.scores.values()) - 1) > 1e-3  # independent probabilities, not a softmax
    exp = ex.explain(clf, TEXTS[0], target="neutral")
    assert exp.score == pytest.approx(pred.scores["neutral"], abs=1e-6)


def test_smoothgrad_is_reproducible_with_its_seed(tiny):
    clf = tiny("distilbert")
    a = ex.explain(clf, TEXTS[2], method="smoothgrad", samples=8, seed=3).token_scores
    b = ex.explain(clf, TEXTS[2], method="smoothgrad", samples=8, seed=3).token_scores
    c = ex.explain(clf, TEXTS[2], method="smoothgrad", samples=8, seed=4).token_scores
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_occlusion_matches_removing_a_word_by_hand(tiny):
    clf = tiny("bert")
    text = "the plot is dull"
    exp = ex.explain(clf, text, method="occlusion", baseline="mask", target=0)
    ids, mask, positions = encoded(clf, text)
    dull = next(w for w in exp.words if w.text == "dull")
    ablated = ids.clone()
    ablated[0, list(dull.tokens)] = clf.tokenizer.mask_token_id
    drop = plain_probability(clf, ids, mask, positions, 0) - plain_probability(clf, ablated, mask, positions, 0)
    assert dull.score == pytest.approx(drop, abs=1e-6)


def test_predict_batches_match_single_texts(tiny):
    for family in FAMILIES:
        clf = tiny(family)
        together = ex.predict(clf, TEXTS)
        for text, pred in zip(TEXTS, together):
            alone = ex.predict(clf, text)[0]
            assert alone.label == pred.label
            for label in clf.labels:
                assert alone.scores[label] == pytest.approx(pred.scores[label], abs=1e-5)


def test_long_text_is_truncated_and_said_so(tiny):
    clf = tiny("bert")
    text = "good movie " * 200
    exp = ex.explain(clf, text, method="saliency")
    assert exp.truncated
    assert len(exp.tokens) == clf.max_length
    assert exp.words[-1].end <= len(text)
    assert not ex.explain(clf, "good movie", method="saliency").truncated


@pytest.mark.parametrize("family", ["bert", "roberta", "bart", "deberta-v3"])
def test_auto_baseline_is_the_least_informative_candidate(tiny, family):
    clf = tiny(family)
    for text in TEXTS:
        ids, mask, positions = encoded(clf, text)
        entropy = {}
        for name in clf.family.baselines:
            base = baseline_of(clf, ids, getattr(clf.tokenizer, f"{name}_token_id"))
            p = np.array([plain_probability(clf, base, mask, positions, k) for k in range(len(clf.labels))])
            entropy[name] = float(-(p * np.log(p)).sum())
        exp = ex.explain(clf, text, method="integrated_gradients", n_steps=8)
        assert exp.options["baseline"] == max(entropy, key=entropy.get)
        assert ex.explain(clf, text, baseline="unk", n_steps=8).options["baseline"] == "unk"
