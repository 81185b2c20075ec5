"""Zero-shot: scores equal to transformers' pipeline, explanations of that very score."""
import copy

import numpy as np
import pytest
import torch
from transformers import pipeline

import explainers as ex
from explainers import zeroshot as zs

NLI = ["contradiction", "neutral", "entailment"]
NLI_FAMILIES = ["bart", "deberta-v2", "deberta-v3", "roberta", "xlm-roberta", "bert"]
LABELS = ["sports", "politics", "a movie", "science", "business", "the weather", "music", "food", "travel", "health"]
TEXTS = [
    "The team won the championship after a dramatic final match",
    "Stocks rallied as markets opened higher </s> on Tuesday",  # the special-token strings go in as the pipeline
    "I don't think it's worth the price [SEP] honestly.",  # tokenizer puts them (special ids where they match)
]


@pytest.fixture(scope="module")
def nli(tiny):
    return lambda family: tiny(family, labels=tuple(NLI))


@pytest.mark.parametrize("family", NLI_FAMILIES)
@pytest.mark.parametrize("multi_label", [False, True])
def test_predictions_equal_the_pipeline(nli, family, multi_label):
    clf = nli(family)
    assert clf.task == "nli"
    pipe = pipeline("zero-shot-classification", model=clf.model, tokenizer=clf.tokenizer)
    for n in (1, 2, 5, 10):
        labels = LABELS[:n]
        for text in TEXTS:
            expected = pipe(text, candidate_labels=labels, multi_label=multi_label)
            got = ex.predict(clf, text, labels=labels, multi_label=multi_label)[0]
            assert list(got.scores) == labels
            for label, score in zip(expected["labels"], expected["scores"]):
                assert abs(got.scores[label] - score) <= 1e-5
            assert got.label == expected["labels"][0] or np.isclose(got.scores[got.label], expected["scores"][0])
            assert got.multi_label == (multi_label or n == 1)


def test_template_is_the_pipelines(nli):
    clf = nli("roberta")
    pipe = pipeline("zero-shot-classification", model=clf.model, tokenizer=clf.tokenizer)
    template = "The topic of this text is {}."
    expected = pipe(TEXTS[0], candidate_labels=LABELS[:4], hypothesis_template=template)
    got = ex.predict(clf, TEXTS[0], labels=LABELS[:4], template=template)[0]
    for label, score in zip(expected["labels"], expected["scores"]):
        assert abs(got.scores[label] - score) <= 1e-5


def completeness(exp):
    total = exp.token_scores.sum() + exp.extras["hypothesis_total"] + exp.extras["padding_total"]
    gap = exp.score - exp.baseline_score
    assert abs(gap) > 1e-3
    return abs(total - gap) / abs(gap)


@pytest.mark.parametrize("family", NLI_FAMILIES)
@pytest.mark.parametrize("multi_label", [False, True])
def test_explanations_explain_the_pipelines_score(nli, family, multi_label):
    clf = nli(family)
    pipe = pipeline("zero-shot-classification", model=clf.model, tokenizer=clf.tokenizer)
    labels = LABELS[:4]
    out = pipe(TEXTS[0], candidate_labels=labels, multi_label=multi_label)
    expected = dict(zip(out["labels"], out["scores"]))
    # pick the label whose score moves most from the baseline, to test completeness well above noise
    runs = [ex.explain(clf, TEXTS[0], labels=labels, multi_label=multi_label, target=label, n_steps=20)
            for label in labels]
    best = max(runs, key=lambda e: abs(e.score - e.baseline_score))
    exp = ex.explain(clf, TEXTS[0], labels=labels, multi_label=multi_label, target=best.target, n_steps=500)
    assert exp.score == pytest.approx(expected[exp.target], abs=1e-5)
    assert completeness(exp) < 0.01
    assert exp.extras["padding_total"] == 0.0
    assert len(exp.extras["hypotheses"]) == (len(labels) if not multi_label else 1)
    assert all(text[w.start:w.end] == w.text for text in [TEXTS[0]] for w in exp.words)
    assert [w.text for w in exp.words][:3] == ["The", "team", "won"]
    assert exp.prediction.scores[exp.target] == pytest.approx(expected[exp.target], abs=1e-5)


@pytest.mark.parametrize("multi_label", [False, True])
def test_contrastive_explains_the_difference(nli, multi_label):
    clf = nli("deberta-v3")
    labels = LABELS[:3]
    pred = ex.predict(clf, TEXTS[0], labels=labels, multi_label=multi_label)[0]
    exp = ex.explain(clf, TEXTS[0], labels=labels, multi_label=multi_label, target="sports", contrast="politics",
                     n_steps=500)
    assert exp.score == pytest.approx(pred.scores["sports"] - pred.scores["politics"], abs=1e-5)
    assert exp.extras["contrast"] == "politics"
    assert completeness(exp) < 0.01
    with pytest.raises(ex.ExplainerError, match="differ"):
        ex.explain(clf, TEXTS[0], labels=labels, target="sports", contrast="sports")


def test_contrast_for_a_plain_classifier(tiny):
    clf = tiny("bert")
    pred = ex.predict(clf, TEXTS[0])[0]
    exp = ex.explain(clf, TEXTS[0], target="positive", contrast="negative", n_steps=300)
    assert exp.score == pytest.approx(pred.scores["positive"] - pred.scores["negative"], abs=1e-6)
    assert exp.token_scores.sum() == pytest.approx(exp.score - exp.baseline_score, abs=1e-3)


def test_bart_attributions_flow_through_the_decoder_embeddings(nli):
    """Perturb only the table the decoder reads: the attributions must change."""
    clf = nli("bart")
    private = copy.deepcopy(clf.model)
    private.model.decoder.embed_tokens = copy.deepcopy(private.model.shared)
    with torch.no_grad():
        private.model.decoder.embed_tokens.weight.add_(0.5 * torch.randn_like(private.model.shared.weight))
    perturbed = ex.Classifier(**{**vars(clf), "model": private})
    labels = LABELS[:3]
    a = ex.explain(clf, TEXTS[0], labels=labels, target="sports")
    b = ex.explain(perturbed, TEXTS[0], labels=labels, target="sports")
    assert not np.allclose(a.token_scores, b.token_scores, atol=1e-4)
    # and the encoder use matters on its own too
    private2 = copy.deepcopy(clf.model)
    private2.model.encoder.embed_tokens = copy.deepcopy(private2.model.shared)
    with torch.no_grad():
        private2.model.encoder.embed_tokens.weight.add_(0.5 * torch.randn_like(private2.model.shared.weight))
    c = ex.explain(ex.Classifier(**{**vars(clf), "model": private2}), TEXTS[0], labels=labels, target="sports")
    assert not np.allclose(a.token_scores, c.token_scores, atol=1e-4)


def test_hypothesis_tokens_are_reported_separately(nli):
    exp = ex.explain(nli("roberta"), TEXTS[0], labels=["sports", "politics"], n_steps=50)
    hyps = exp.extras["hypotheses"]
    assert [h["label"] for h in hyps] == ["sports", "politics"]
    assert [h["hypothesis"] for h in hyps] == ["This example is sports.", "This example is politics."]
    assert all(len(h["tokens"]) == len(h["scores"]) for h in hyps)
    assert "sports" in "".join(hyps[0]["tokens"])
    assert exp.extras["hypothesis_total"] == pytest.approx(sum(sum(h["scores"]) for h in hyps))
    back = ex.Explanation.from_json(exp.to_json())
    assert back == exp


@pytest.mark.parametrize("method", list(ex.METHODS))
def test_every_method_runs_on_zero_shot(nli, method):
    if ex.METHODS[method].kind == "attention":  # attention word scores exist for a classifier's own labels only
        with pytest.raises(ex.ExplainerError, match="own labels without a contrast"):
            ex.explain(nli("bart"), TEXTS[1], labels=LABELS[:3], method=method)
        return
    exp = ex.explain(nli("bart"), TEXTS[1], labels=LABELS[:3], method=method)
    assert np.isfinite(exp.token_scores).all() and np.abs(exp.token_scores).max() > 0
    assert all(TEXTS[1][w.start:w.end] == w.text for w in exp.words)


def test_labels_and_steps_go_through_the_model_in_batches(nli):
    """A private copy counts the rows of every forward pass: batched, and bounded by internal_batch_size."""
    clf = nli("bert")
    private = copy.deepcopy(clf.model)
    rows = []

    def count(module, args, kwargs):
        given = kwargs.get("inputs_embeds")
        rows.append((given if given is not None else kwargs["input_ids"]).shape[0])

    private.register_forward_pre_hook(count, with_kwargs=True)
    counted = ex.Classifier(**{**vars(clf), "model": private})
    ex.explain(counted, TEXTS[0], labels=LABELS[:4], n_steps=20, internal_batch_size=16)
    big = [r for r in rows if r > 1]
    assert max(rows) <= 16 and len(big) >= 5 and all(r % 4 == 0 for r in big)


def test_nli_pair_mode(nli):
    clf = nli("xlm-roberta")
    premise, hypothesis = "The team won the final match", "The team lost."
    exp = ex.explain(clf, premise, hypothesis=hypothesis, n_steps=500)
    with torch.no_grad():
        probs = torch.softmax(clf.model(**clf.tokenizer(premise, hypothesis, return_tensors="pt")).logits, -1)[0]
    assert exp.target == NLI[int(probs.argmax())]
    assert exp.score == pytest.approx(float(probs.max()), abs=1e-6)
    assert exp.extras["hypotheses"][0]["hypothesis"] == hypothesis
    moving = max((ex.explain(clf, premise, hypothesis=hypothesis, target=k, n_steps=500) for k in NLI),
                 key=lambda e: abs(e.score - e.baseline_score))
    assert completeness(moving) < 0.01
    assert [w.text for w in exp.words] == premise.split()


@pytest.mark.parametrize("labels, match", [
    ([], "No candidate labels"),
    ("", "No candidate labels"),
    ([" ", ""], "No candidate labels"),
    (None, "labels"),
    ([1, 2], "strings"),
    ([f"label {i}" for i in range(21)], "at most 20"),
    (["x" * 500], "characters"),
])
def test_bad_labels(nli, labels, match):
    with pytest.raises(ex.ExplainerError, match=match):
        zs.candidates(labels)
    if labels is not None:
        with pytest.raises(ex.ExplainerError, match=match):
            ex.explain(nli("bert"), TEXTS[0], labels=labels)


@pytest.mark.parametrize("template", ["no placeholder", "{} and {}", "{0} here", "{name}", "{} {", 42])
def test_bad_templates(nli, template):
    with pytest.raises(ex.ExplainerError, match="template"):
        ex.predict(nli("bert"), TEXTS[0], labels=["a", "b"], template=template)


def test_labels_are_cleaned_with_a_notice(nli):
    pred = ex.predict(nli("bert"), TEXTS[0], labels=" sports, politics,, sports ,")[0]
    assert list(pred.scores) == ["sports", "politics"]
    assert any("Duplicate" in n for n in pred.notices) and any("Blank" in n for n in pred.notices)


def test_single_label_switches_to_multi_label_with_a_notice(nli):
    pred = ex.predict(nli("bert"), TEXTS[0], labels=["sports"])[0]
    assert pred.multi_label and any("single label" in n for n in pred.notices)
    exp = ex.explain(nli("bert"), TEXTS[0], labels=["sports"])
    assert exp.extras["multi_label"] and exp.extras["notices"]


def test_unknown_zero_shot_target(nli):
    with pytest.raises(ex.ExplainerError, match="candidate labels are: sports, politics"):
        ex.explain(nli("bert"), TEXTS[0], labels=["sports", "politics"], target="cooking")


def test_a_plain_classifier_cannot_do_zero_shot(tiny):
    with pytest.raises(ex.ExplainerError, match="not an NLI model"):
        ex.predict(tiny("bert"), TEXTS[0], labels=["a", "b"])
    with pytest.raises(ex.ExplainerError, match="not an NLI model"):
        ex.explain(tiny("bert"), TEXTS[0], hypothesis="It is about sport.")


def test_labels_and_hypothesis_together(nli):
    with pytest.raises(ex.ExplainerError, match="not both"):
        ex.explain(nli("bert"), TEXTS[0], labels=["a"], hypothesis="b")


# ------------------------------------------------------------------ builtin:zeroshot

TOPICS = {
    "The striker scored twice as the home team won the league cup final.": "Sports",
    "The tennis champion was knocked out in the first round at Wimbledon.": "Sports",
    "Shares of the bank fell after it reported lower quarterly profits.": "Business",
    "The company agreed to buy its rival for four billion dollars.": "Business",
    "Researchers released a new processor chip and an operating system update.": "Sci/Tech",
    "The space agency launched a satellite to study the climate.": "Sci/Tech",
    "The prime minister met the president to discuss the peace talks.": "World",
    "Rebels attacked the capital as the government declared a state of emergency.": "World",
}


@pytest.fixture(scope="module")
def builtin_zeroshot():
    return ex.load("builtin:zeroshot")


def test_builtin_zeroshot_classifies_topics(builtin_zeroshot):
    labels = ["World", "Sports", "Business", "Sci/Tech"]
    preds = ex.predict(builtin_zeroshot, list(TOPICS), labels=labels, template=zs.DEFAULT_TEMPLATE_SIMILARITY)
    hits = sum(p.label == gold for p, gold in zip(preds, TOPICS.values()))
    assert hits >= 7, [(p.label, g) for p, g in zip(preds, TOPICS.values())]
    for p in preds:
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_builtin_zeroshot_scores_are_the_documented_formula(builtin_zeroshot):
    labels = ["sports", "finance"]
    text = next(iter(TOPICS))
    vectors = zs.sentence_embeddings(builtin_zeroshot,
                                     [text] + [zs.DEFAULT_TEMPLATE_SIMILARITY.format(label) for label in labels])
    cos = (vectors[0] @ vectors[1:].T).numpy()
    single = ex.predict(builtin_zeroshot, text, labels=labels)[0]
    np.testing.assert_allclose(list(single.scores.values()), np.exp(zs.SCALE * cos) / np.exp(zs.SCALE * cos).sum(),
                               atol=1e-6)
    multi = ex.predict(builtin_zeroshot, text, labels=labels, multi_label=True)[0]
    np.testing.assert_allclose(list(multi.scores.values()), 1 / (1 + np.exp(-zs.SCALE * (cos - zs.CENTER))), atol=1e-6)


@pytest.mark.parametrize("multi_label", [False, True])
def test_builtin_zeroshot_explanation_is_complete(builtin_zeroshot, multi_label):
    text = next(iter(TOPICS))
    exp = ex.explain(builtin_zeroshot, text, labels=["sports", "finance", "science"], multi_label=multi_label,
                     n_steps=300)
    pred = ex.predict(builtin_zeroshot, text, labels=["sports", "finance", "science"], multi_label=multi_label)[0]
    assert exp.score == pytest.approx(pred.scores[exp.target], abs=1e-6)
    gap = exp.score - exp.baseline_score
    assert abs(gap) > 1e-3
    assert abs(exp.token_scores.sum() - gap) < 0.01 * abs(gap)
    assert exp.extras["scale"] == zs.SCALE


def test_builtin_zeroshot_needs_labels(builtin_zeroshot):
    with pytest.raises(ex.ExplainerError, match="labels"):
        ex.explain(builtin_zeroshot, "hello world")
