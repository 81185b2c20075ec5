"""Tasks: which one a request is, and each one's two roads to the same numbers (ids through the
model's own forward pass, word embeddings through the scorer), its slots and its extras."""
import numpy as np
import pytest
import torch

import explainers as ex
from explainers import tasks
from explainers import zeroshot as zs
from explainers.scoring import baseline_ids
from helpers import TEXTS

NLI = ("contradiction", "neutral", "entailment")
PREMISE = "The team won the championship after a dramatic final match"


@pytest.fixture(scope="module")
def nli(tiny):
    return lambda family: tiny(family, labels=NLI)


@pytest.fixture(scope="module")
def similarity():
    return ex.load("builtin:zeroshot")


# --------------------------------------------------------------------------- which task


def test_a_classifier_without_labels_explains_its_own_labels(tiny):
    clf = tiny("bert")
    task = ex.task_for(clf)
    assert isinstance(task, tasks.Classification) and task.kind == "classification"
    assert task.labels == clf.labels and task.multi_label == clf.multi_label and task.notices == ()


def test_candidate_labels_make_zero_shot(nli, similarity):
    task = ex.task_for(nli("bert"), labels=" sports, politics, sports", multi_label=False)
    assert isinstance(task, tasks.NLIZeroShot) and task.kind == "zero-shot"
    assert task.labels == ("sports", "politics") and any("Duplicate" in n for n in task.notices)
    assert task.hypotheses == ("This example is sports.", "This example is politics.")
    single = ex.task_for(nli("bert"), labels=["sports"])
    assert single.multi_label and any("single label" in n for n in single.notices)
    emb = ex.task_for(similarity, labels=["sports", "politics"], template="About {}.")
    assert isinstance(emb, tasks.Similarity) and emb.kind == "zero-shot-similarity"
    assert emb.template == "About {}." and ex.task_for(similarity, labels=["a"]).template == "A {} news story."


def test_a_hypothesis_makes_an_nli_pair(nli):
    clf = nli("roberta")
    task = ex.task_for(clf, hypothesis="Someone lost.")
    assert isinstance(task, tasks.NLIPair) and task.labels == NLI and not task.multi_label
    assert task.hypotheses == ("Someone lost.",)
    assert isinstance(ex.task_for(clf), tasks.Classification)  # an NLI model on the text alone


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": ["a", "b"]}, "fixed labels"),
    ({"hypothesis": "It is about sport."}, "not an NLI model"),
])
def test_a_fine_tuned_classifier_takes_neither(tiny, kwargs, match):
    with pytest.raises(ex.ExplainerError, match=match):
        ex.task_for(tiny("bert"), **kwargs)


def test_requests_that_make_no_task(nli, similarity):
    with pytest.raises(ex.ExplainerError, match="not both"):
        ex.task_for(nli("bert"), labels=["a"], hypothesis="b")
    with pytest.raises(ex.ExplainerError, match="hypothesis is empty"):
        ex.task_for(nli("bert"), hypothesis="  ")
    with pytest.raises(ex.ExplainerError, match="pass labels"):
        ex.task_for(similarity)
    with pytest.raises(ex.ExplainerError, match="template"):
        ex.task_for(similarity, labels=["a"], template="no braces")
    with pytest.raises(ex.ExplainerError, match="ex.load"):
        ex.task_for("builtin:sst2")


def test_asking_for_the_labels_runs_no_model(similarity, monkeypatch):
    """Pages ask task_for for the target choices on every rerun: that must cost no forward pass."""
    calls = []
    monkeypatch.setattr(zs, "sentence_embeddings", lambda *a: calls.append(a))
    assert ex.task_for(similarity, labels=["sports", "politics"]).labels == ("sports", "politics")
    assert not calls


def test_every_task_kind_is_listed():
    assert [t.kind for t in ex.TASKS] == ["classification", "zero-shot", "nli-pair", "zero-shot-similarity"]


# --------------------------------------------------------------------------- logits = the model's own numbers


@pytest.mark.parametrize("family", ["bert", "roberta", "bart", "deberta-v3"])
def test_classification_logits_are_the_models(tiny, family):
    clf = tiny(family)
    task = ex.task_for(clf)
    x = task.read(TEXTS[0])
    with torch.no_grad():
        expected = clf.model(**clf.tokenizer(TEXTS[0], return_tensors="pt")).logits[0]
    np.testing.assert_allclose(task.logits(x).numpy(), expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("family", ["bert", "xlm-roberta", "bart"])
@pytest.mark.parametrize("multi_label", [False, True])
def test_nli_zero_shot_logits_are_entailment_of_each_pair(nli, family, multi_label):
    clf = nli(family)
    task = ex.task_for(clf, labels=["sports", "politics", "the weather"], multi_label=multi_label)
    logits = task.logits(task.read(PREMISE))
    entail, contradiction = NLI.index("entailment"), NLI.index("contradiction")
    for label, value in zip(task.labels, logits):
        with torch.no_grad():
            pair = clf.model(**clf.tokenizer(PREMISE, f"This example is {label}.", return_tensors="pt")).logits[0]
        expected = pair[entail] - pair[contradiction] if multi_label else pair[entail]
        assert float(value) == pytest.approx(float(expected), abs=1e-5)


def test_nli_pair_logits_are_the_pairs(nli):
    clf = nli("deberta-v2")
    task = ex.task_for(clf, hypothesis="Someone lost.")
    with torch.no_grad():
        expected = clf.model(**clf.tokenizer(PREMISE, "Someone lost.", return_tensors="pt")).logits[0]
    np.testing.assert_allclose(task.logits(task.read(PREMISE)).numpy(), expected.numpy(), atol=1e-5)
    pred = ex.predict(clf, [PREMISE, PREMISE], hypothesis="Someone lost.")  # predict takes the pair too
    np.testing.assert_allclose(list(pred[1].scores.values()), torch.softmax(expected, -1).numpy(), atol=1e-6)


@pytest.mark.parametrize("multi_label", [False, True])
def test_similarity_logits_are_scaled_cosines(similarity, multi_label):
    task = ex.task_for(similarity, labels=["sports", "finance"], multi_label=multi_label)
    vectors = zs.sentence_embeddings(similarity, [PREMISE, "A sports news story.", "A finance news story."])
    cosine = vectors[0] @ vectors[1:].T
    expected = zs.SCALE * (cosine - zs.CENTER) if multi_label else zs.SCALE * cosine
    np.testing.assert_allclose(task.logits(task.read(PREMISE)).numpy(), expected.numpy(), atol=1e-4)


# --------------------------------------------------------------------------- the scorer agrees with the ids road


def _all_tasks(tiny, nli, similarity):
    return {
        "classification-bart": ex.task_for(tiny("bart")),
        "classification-roberta": ex.task_for(tiny("roberta", problem_type="multi_label_classification")),
        "zero-shot-bart": ex.task_for(nli("bart"), labels=["sports", "politics", "music"]),
        "zero-shot-multi-deberta": ex.task_for(nli("deberta-v3"), labels=["sports", "politics"], multi_label=True),
        "nli-pair-xlmr": ex.task_for(nli("xlm-roberta"), hypothesis="Someone lost."),
        "similarity": ex.task_for(similarity, labels=["sports", "politics", "music"]),
    }


@pytest.mark.parametrize("output", ["probability", "logit"])
def test_scorer_at_the_input_and_baseline_equals_the_forward_pass(tiny, nli, similarity, output):
    """F on embeddings (what the methods differentiate) equals F on ids (what the model computes), at
    both ends of the path, for every task, contrast included."""
    for name, task in _all_tasks(tiny, nli, similarity).items():
        x = task.read(PREMISE)
        scorer = task.scorer(x, [1], [0], baseline_ids(task.clf, x, "mask"), output)
        at_input = float(scorer.forward(*scorer.inputs, scorer.rows())[0].detach())
        at_baseline = float(scorer.forward(*scorer.baselines, scorer.rows())[0].detach())
        expected = float(task.explained(task.logits(x).unsqueeze(0), 1, 0, output)[0])
        expected_base = float(task.explained(task.logits(x, baseline_ids(task.clf, x, "mask")).unsqueeze(0), 1, 0,
                                             output)[0])
        assert at_input == pytest.approx(expected, abs=2e-5), name
        assert at_baseline == pytest.approx(expected_base, abs=2e-5), name
        assert scorer.batch_divisor == x.input_ids.shape[0]


def test_probabilities_are_softmax_or_sigmoid_of_the_logits(tiny, nli):
    single = ex.task_for(nli("bert"), labels=["a", "b", "c"])
    logits = single.logits(single.read(PREMISE))
    np.testing.assert_allclose(single.scores(logits).numpy(), torch.softmax(logits, -1).numpy())
    multi = ex.task_for(nli("bert"), labels=["a", "b", "c"], multi_label=True)
    logits = multi.logits(multi.read(PREMISE))
    np.testing.assert_allclose(multi.scores(logits).numpy(), torch.sigmoid(logits).numpy())
    assert torch.equal(multi.scores(logits, "logit"), logits)


# --------------------------------------------------------------------------- slots


def test_classification_slots_are_the_tokens(tiny):
    task = ex.task_for(tiny("bart"))
    x = task.read(TEXTS[1])
    (encoder,), (decoder,) = task.owners(x)  # one row
    n = x.n_tokens
    assert encoder.tolist() == list(range(n))
    assert decoder.tolist() == [n - 1] + list(range(n - 1))  # decoder position i reads token i-1
    assert x.text_tokens.tokens == x.tokens


def test_nli_slots_premise_then_hypotheses_then_padding(nli):
    task = ex.task_for(nli("bert"), labels=["sports", "a very long label about politics", "music"])
    x = task.read(PREMISE)
    ((owners,),) = task.owners(x)  # one row: all pairs
    view = x.text_tokens
    premise = len(view.tokens)
    where = zs.slots(x)
    assert where.premise_tokens == premise
    starts = [a for a, _ in where.hypothesis]
    assert starts[0] == premise and all(b == c for (_, b), c in zip(where.hypothesis, starts[1:]))
    for p in range(len(task.labels)):
        length = int(x.lengths[p])
        end = int(x.premise_end[p])
        assert owners[p, :end].tolist() == list(range(end))  # the premise: the same slots in every pair
        a, b = where.hypothesis[p]
        assert owners[p, end:length].tolist() == list(range(a, b))
        assert (owners[p, length:] == where.padding).all()
        assert x.tokens[p][:end] == view.tokens[:end]


def test_multi_label_focus_keeps_only_the_pairs_the_score_needs(nli):
    task = ex.task_for(nli("roberta"), labels=["sports", "politics", "music"], multi_label=True)
    x = task.read(PREMISE)
    logits = task.logits(x)
    part, part_logits, t, v = task.focus(x, logits, 2, 0)
    assert part.hypotheses == ("This example is music.", "This example is sports.") and (t, v) == (0, 1)
    np.testing.assert_allclose(part_logits.numpy(), logits[[2, 0]].numpy())
    np.testing.assert_allclose(task.logits(part).numpy(), part_logits.numpy(), atol=1e-6)
    single = ex.task_for(nli("roberta"), labels=["sports", "politics", "music"])
    assert single.focus(x, logits, 2, 0)[0] is x  # a softmax over labels needs every pair


def test_multi_label_contrast_with_the_labels_reversed_is_complete(nli):
    """Two labels, target the second and contrast the first: the scorer, F(x) and F(x') must all
    explain the same label."""
    clf = nli("deberta-v3")
    labels = ["sports", "politics"]
    pred = ex.predict(clf, PREMISE, labels=labels, multi_label=True)[0]
    exp = ex.explain(clf, PREMISE, labels=labels, multi_label=True, target="politics", contrast="sports",
                     n_steps=500)
    assert exp.score == pytest.approx(pred.scores["politics"] - pred.scores["sports"], abs=1e-5)
    total = exp.token_scores.sum() + exp.extras["hypothesis_total"] + exp.extras["padding_total"]
    assert abs(total - exp.gap) < 0.01 * abs(exp.gap)
    assert [h["label"] for h in exp.extras["hypotheses"]] == labels


def test_extras_name_the_task(tiny, nli, similarity):
    for name, task in _all_tasks(tiny, nli, similarity).items():
        target = task.labels[0]
        kwargs = {}
        if isinstance(task, tasks.NLIZeroShot) or isinstance(task, tasks.Similarity):
            kwargs = {"labels": list(task.labels), "multi_label": task.multi_label}
        elif isinstance(task, tasks.NLIPair):
            kwargs = {"hypothesis": task.hypotheses[0]}
        exp = ex.explain(task.clf, PREMISE, method="saliency", target=target, **kwargs)
        assert exp.extras["task"] == task.kind, name
        assert exp.prediction.scores.keys() == set(task.labels)
