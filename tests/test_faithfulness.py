"""Faithfulness (ex.faithfulness): comprehensiveness, sufficiency and the deletion/insertion curves checked
against a model whose answer is known by construction, then on every task, batched and not, and its refusals."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

import explainers as ex
import tiny_models
from explainers import zeroshot as zs
from explainers.faithfulness import delete_words

# --------------------------------------------------------------------------- a bag of words, by construction

VALUES = {"the": 0.5, "movie": 2.0, "was": -0.25, "highly": 1.25, "dull": -3.0}
TEXT = "the movie was highly dull"  # one token per word: [CLS] the movie was highly dull [SEP], 7 tokens
V = np.array([VALUES[w] for w in TEXT.split()])  # 0.5, 2, -0.25, 1.25, -3: F(x) = 7 * 0.5 / 7 = 0.5


def build_bag_of_words(folder):
    """A DeBERTa-v2 whose positive logit is 7 x the mean of its tokens' values (special tokens and
    [MASK] are 0), the negative logit 0: with the text's 7 tokens, masking a word subtracts its value.

    Each token's embedding is (v, -v, 0, 0): mean zero, so LayerNorm with eps 1e12 and weight 1e6 is
    the identity; no positions or token types; one layer whose attention is uniform (query and key
    weights zero), values and output projections the identity, feed-forward zero: [CLS] leaves it as
    its own vector plus the mean of all tokens'; a linear pooler reads dimension 0."""
    tok = tiny_models.wordpiece_tokenizer()
    h = 4
    config = DebertaV2Config(
        vocab_size=len(tok), hidden_size=h, num_hidden_layers=1, num_attention_heads=1, intermediate_size=4,
        max_position_embeddings=64, relative_attention=False, position_biased_input=False, type_vocab_size=0,
        layer_norm_eps=1e12, pooler_hidden_size=h, pooler_hidden_act="linear", pad_token_id=tok.pad_token_id,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pooler_dropout=0.0, num_labels=2,
        id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    model = DebertaV2ForSequenceClassification(config)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.fill_(1e6)
        vocab = tok.get_vocab()
        for word, value in VALUES.items():
            model.deberta.embeddings.word_embeddings.weight[vocab[word], :2] = torch.tensor([value, -value])
        layer = model.deberta.encoder.layer[0].attention
        layer.self.value_proj.weight.copy_(torch.eye(h))
        layer.output.dense.weight.copy_(torch.eye(h))
        model.pooler.dense.weight[0, 0] = 1.0
        model.classifier.weight[1, 0] = 7.0
    model.eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bow(tmp_path_factory):
    return ex.load(str(build_bag_of_words(tmp_path_factory.mktemp("bag-of-words"))))


@pytest.fixture(scope="module")
def bow_exp(bow):
    """Occlusion's word scores on the bag of words are the words' values (a perfect ranking)."""
    exp = ex.explain(bow, TEXT, method="occlusion", target="positive", output="logit")
    assert [w.text for w in exp.words] == TEXT.split()
    assert np.allclose([w.score for w in exp.words], V, atol=1e-6)
    assert exp.score == pytest.approx(0.5, abs=1e-6)
    return exp


def with_scores(exp, scores):
    return dataclasses.replace(exp, words=tuple(dataclasses.replace(w, score=float(s))
                                                for w, s in zip(exp.words, scores)))


def test_the_random_orders_are_these():  # the permutations the hand computations below use
    assert np.random.default_rng([0, 0]).permutation(5).tolist() == [2, 4, 3, 0, 1]  # was dull highly the movie
    assert np.random.default_rng([0, 1]).permutation(5).tolist() == [1, 4, 3, 0, 2]  # movie dull highly the was


def test_mask_by_hand(bow, bow_exp):
    """Masked words count 0 and the length stays 7, so F(kept words) = the sum of their values.
    Ranking: movie 2, highly 1.25, the 0.5, was -0.25, dull -3; ceil(f * 5) words = 1, 1, 2, 2, 3."""
    r = ex.faithfulness(bow, bow_exp, removal="mask", random_orders=2, seed=0)
    assert r.counts == (1, 1, 2, 2, 3) and r.n_words == 5
    assert r.score == pytest.approx(0.5, abs=1e-6) and r.empty_score == pytest.approx(0.0, abs=1e-6)
    # comprehensiveness: the top words' values; sufficiency: F(x) minus them
    assert np.allclose(r.comprehensiveness_at, [2, 2, 3.25, 3.25, 3.75], atol=1e-6)
    assert r.comprehensiveness == pytest.approx(14.25 / 5, abs=1e-6)
    assert np.allclose(r.sufficiency_at, [-1.5, -1.5, -2.75, -2.75, -3.25], atol=1e-6)
    assert r.sufficiency == pytest.approx(-11.75 / 5, abs=1e-6)
    # curves, k = 0..5 words: deletion 0.5 - running sum, insertion the running sum
    assert np.allclose(r.deletion.fractions, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert r.deletion.counts.tolist() == [0, 1, 2, 3, 4, 5]
    assert np.allclose(r.deletion.scores, [0.5, -1.5, -2.75, -3.25, -3.0, 0.0], atol=1e-6)
    assert np.allclose(r.insertion.scores, [0.0, 2.0, 3.25, 3.75, 3.5, 0.5], atol=1e-6)
    assert r.deletion_auc == pytest.approx(0.2 * (-0.5 - 2.125 - 3.0 - 3.125 - 1.5), abs=1e-6)  # -2.05
    assert r.insertion_auc == pytest.approx(0.2 * (1.0 + 2.625 + 3.5 + 3.625 + 2.0), abs=1e-6)  # 2.55
    # random orders: A = was dull highly the movie, B = movie dull highly the was
    comp_a, comp_b = [-0.25, -0.25, -3.25, -3.25, -2.0], [2, 2, -1, -1, 0.25]
    assert np.allclose(r.random_comprehensiveness_at, np.mean([comp_a, comp_b], axis=0), atol=1e-6)
    assert r.random_comprehensiveness == pytest.approx((-1.8 + 0.45) / 2, abs=1e-6)
    assert np.allclose(r.random_sufficiency_at, 0.5 - np.mean([comp_a, comp_b], axis=0), atol=1e-6)
    assert r.random_sufficiency == pytest.approx((2.3 + 0.05) / 2, abs=1e-6)
    assert np.allclose(r.random_deletion.scores, [0.5, -0.375, 2.625, 1.375, 0.875, 0.0], atol=1e-6)
    assert np.allclose(r.random_insertion.scores, [0.0, 0.875, -2.125, -0.875, -0.375, 0.5], atol=1e-6)
    assert r.random_deletion_auc == pytest.approx(np.trapezoid(r.random_deletion.scores, r.deletion.fractions))
    assert r.comprehensiveness_gain == pytest.approx(2.85 + 0.675, abs=1e-6)
    assert r.sufficiency_gain == pytest.approx(1.175 + 2.35, abs=1e-6)
    assert (r.method, r.target, r.contrast, r.output, r.task, r.removal) == (
        "occlusion", "positive", None, "logit", "classification", "mask")


def test_delete_by_hand(bow, bow_exp):
    """Deleted words leave the text: F(kept words) = 7 * their sum / (2 + how many), 0 with none."""
    def f(total, count):
        return 7 * total / (2 + count)

    r = ex.faithfulness(bow, bow_exp, removal="delete", random_orders=2, seed=0)
    assert r.score == pytest.approx(0.5, abs=1e-6) and r.empty_score == pytest.approx(0.0, abs=1e-6)
    comp = [0.5 - f(-1.5, 4), 0.5 - f(-2.75, 3), 0.5 - f(-3.25, 2)]  # without movie, + highly, + the
    suff = [0.5 - f(2, 1), 0.5 - f(3.25, 2), 0.5 - f(3.75, 3)]  # only movie, + highly, + the
    assert np.allclose(r.comprehensiveness_at, [comp[0], comp[0], comp[1], comp[1], comp[2]], atol=1e-6)
    assert np.allclose(r.sufficiency_at, [suff[0], suff[0], suff[1], suff[1], suff[2]], atol=1e-6)
    assert r.comprehensiveness == pytest.approx(3.8775, abs=1e-6)
    assert r.sufficiency == pytest.approx((2 * (0.5 - 14 / 3) - 2 * 5.1875 - 4.75) / 5, abs=1e-6)
    assert np.allclose(r.deletion.scores, [0.5, f(-1.5, 4), f(-2.75, 3), f(-3.25, 2), f(-3, 1), 0.0], atol=1e-6)
    assert np.allclose(r.insertion.scores, [0.0, f(2, 1), f(3.25, 2), f(3.75, 3), f(3.5, 4), 0.5], atol=1e-6)
    assert r.insertion_auc == pytest.approx(np.trapezoid(r.insertion.scores, [0, .2, .4, .6, .8, 1]), abs=1e-9)
    comp_a = [0.5 - f(0.75, 4), 0.5 - f(3.75, 3), 0.5 - f(2.5, 2)]  # without was, + dull, + highly
    comp_b = [0.5 - f(-1.5, 4), 0.5 - f(1.5, 3), 0.5 - f(0.25, 2)]  # without movie, + dull, + highly
    suff_a = [0.5 - f(-0.25, 1), 0.5 - f(-3.25, 2), 0.5 - f(-2, 3)]
    suff_b = [0.5 - f(2, 1), 0.5 - f(-1, 2), 0.5 - f(0.25, 3)]

    def at(values):  # per fraction: 1, 1, 2, 2, 3 words
        return [values[0], values[0], values[1], values[1], values[2]]

    assert np.allclose(r.random_comprehensiveness_at, (np.array(at(comp_a)) + at(comp_b)) / 2, atol=1e-6)
    assert np.allclose(r.random_sufficiency_at, (np.array(at(suff_a)) + at(suff_b)) / 2, atol=1e-6)
    assert r.random_comprehensiveness == pytest.approx(np.mean(at(comp_a) + at(comp_b)), abs=1e-6)


def test_delete_words_takes_the_space_before_or_after_the_first():
    spans = [(0, 3), (4, 9), (9, 10), (11, 15)]  # "the movie, dull" plus a trailing space
    text = "the movie, dull "
    assert delete_words(text, spans, np.array([0, 1, 1, 1], bool)) == "movie, dull "
    assert delete_words(text, spans, np.array([1, 0, 1, 1], bool)) == "the, dull "
    assert delete_words(text, spans, np.array([1, 1, 1, 0], bool)) == "the movie, "
    assert delete_words(text, spans, np.array([0, 0, 1, 1], bool)) == ", dull "
    assert delete_words(text, spans, np.array([0, 0, 0, 0], bool)) == ""


def test_ties_keep_text_order_and_probabilities_follow(bow, bow_exp):
    tied = with_scores(bow_exp, [1, 1, 0, 0, 1])  # order: the, movie, dull, was, highly
    r = ex.faithfulness(bow, tied, random_orders=0)
    assert np.allclose(r.comprehensiveness_at, [0.5, 0.5, 2.5, 2.5, -0.5], atol=1e-6)
    probability = ex.explain(bow, TEXT, method="occlusion", target="positive")  # softmax([0, L]) = sigmoid(L)
    p = ex.faithfulness(bow, probability, random_orders=0)
    assert np.allclose(p.deletion.scores, 1 / (1 + np.exp(-np.array([0.5, -1.5, -2.75, -3.25, -3.0, 0.0]))),
                       atol=1e-6)
    assert p.output == "probability"


def test_no_random_orders_and_no_curves(bow, bow_exp):
    r = ex.faithfulness(bow, bow_exp, random_orders=0, curves=False, fractions=[1.0])
    assert r.counts == (5,) and r.comprehensiveness == pytest.approx(0.5, abs=1e-6)  # everything removed
    assert r.sufficiency == pytest.approx(0.0, abs=1e-6)  # everything kept
    for name in ("random_comprehensiveness", "random_sufficiency", "random_comprehensiveness_at",
                 "random_sufficiency_at", "deletion", "insertion", "random_deletion", "random_insertion",
                 "deletion_auc", "random_insertion_auc", "comprehensiveness_gain", "sufficiency_gain"):
        assert getattr(r, name) is None, name
    data = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert data["random_comprehensiveness"] is None and data["fractions"] == [1.0]
    with pytest.raises(ex.ExplainerError, match="curves=True"):
        ex.plots.faithfulness_curves(r)


# --------------------------------------------------------------------------- every task

NLI = ("contradiction", "neutral", "entailment")
SENTENCE = "The team won a dramatic final match"
CASES = {
    "tiny-bert": (lambda tiny: tiny("bert"), dict(method="saliency")),
    "sst2": (lambda tiny: ex.load("builtin:sst2"), dict(method="input_x_gradient")),
    "zero-shot": (lambda tiny: tiny("bart", labels=NLI), dict(labels=["sports", "politics", "music"],
                                                              method="input_x_gradient")),
    "zero-shot-multi": (lambda tiny: tiny("bart", labels=NLI), dict(labels=["sports", "politics", "music"],
                                                                    multi_label=True, method="saliency",
                                                                    target="sports", contrast="politics")),
    "nli-pair": (lambda tiny: tiny("bart", labels=NLI), dict(hypothesis="The team lost.", method="occlusion")),
    "similarity": (lambda tiny: ex.load("builtin:zeroshot"), dict(labels=["sports", "politics"],
                                                                  method="input_x_gradient", output="logit")),
}


@pytest.fixture(scope="module")
def case(tiny):
    made = {}

    def get(name):
        if name not in made:
            load, options = CASES[name]
            clf = load(tiny)
            made[name] = clf, ex.explain(clf, SENTENCE, **options)
        return made[name]

    return get


@pytest.mark.parametrize("removal", ["mask", "delete"])
@pytest.mark.parametrize("name", list(CASES))
def test_every_task(case, name, removal):
    clf, exp = case(name)
    r = ex.faithfulness(clf, exp, removal=removal, random_orders=2, seed=0)
    n = len(exp.words)
    assert r.n_words == n == 7 and r.task == exp.extras["task"] and r.target == exp.target
    assert r.contrast == exp.extras.get("contrast")
    assert r.comprehensiveness_at.shape == r.sufficiency_at.shape == r.random_sufficiency_at.shape == (5,)
    assert len(r.deletion.scores) == len(r.insertion.scores) == len(r.random_deletion.scores) == n + 1
    numbers = [r.score, r.empty_score, r.comprehensiveness, r.sufficiency, r.random_comprehensiveness,
               r.random_sufficiency, r.deletion_auc, r.insertion_auc, r.random_deletion_auc, r.random_insertion_auc]
    assert np.isfinite(numbers).all()
    assert abs(r.deletion.scores[0] - r.score) < 1e-5 and abs(r.insertion.scores[-1] - r.score) < 1e-5
    assert abs(r.deletion.scores[-1] - r.empty_score) < 1e-5 and abs(r.insertion.scores[0] - r.empty_score) < 1e-5
    assert abs(r.random_deletion.scores[0] - r.score) < 1e-5
    assert r.score == pytest.approx(exp.score, abs=1e-4)  # the explained number, through another path
    again = ex.faithfulness(clf, exp, removal=removal, random_orders=2, seed=0)  # the same batches: bit for bit
    other = ex.faithfulness(clf, exp, removal=removal, random_orders=2, seed=1, curves=False)
    assert np.array_equal(again.random_comprehensiveness_at, r.random_comprehensiveness_at)
    assert np.array_equal(again.random_sufficiency_at, r.random_sufficiency_at)
    assert not np.allclose(other.random_comprehensiveness_at, r.random_comprehensiveness_at)
    assert other.comprehensiveness == pytest.approx(r.comprehensiveness, abs=1e-6)  # no seed (padding: 1e-7)


@pytest.mark.parametrize("name, removal", [("tiny-bert", "mask"), ("tiny-bert", "delete"), ("zero-shot", "mask"),
                                           ("zero-shot", "delete"), ("similarity", "delete")])
def test_batched_equals_one_at_a_time(case, name, removal):
    """Variants sharing a pass (padded texts; NLI: pairs of equal length) give each its own number."""
    clf, exp = case(name)
    one = ex.faithfulness(clf, exp, removal=removal, random_orders=1, batch_size=1, curves=name == "tiny-bert")
    many = ex.faithfulness(clf, exp, removal=removal, random_orders=1, batch_size=32, curves=name == "tiny-bert")
    tolerance = 1e-6 * (zs.SCALE if exp.extras["task"] == "zero-shot-similarity" else 1)  # logits: SCALE x cosine
    for key in ("score", "empty_score", "comprehensiveness_at", "sufficiency_at", "random_comprehensiveness_at",
                "random_sufficiency_at"):
        assert np.allclose(getattr(one, key), getattr(many, key), atol=tolerance, rtol=0), key
    if one.deletion is not None:
        assert np.allclose(one.deletion.scores, many.deletion.scores, atol=tolerance, rtol=0)


def test_contrast_in_logits_is_target_minus_contrast(tiny):
    clf = tiny("bert")
    exp = ex.explain(clf, SENTENCE, method="saliency", target="positive", contrast="negative", output="logit")

    def gap(ids):
        with torch.no_grad():
            logits = clf.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
        return float(logits[2] - logits[0])  # positive minus negative

    ids = clf.tokenizer(SENTENCE, return_tensors="pt")["input_ids"]
    masked = torch.where(ids[0] < 5, ids, clf.tokenizer.mask_token_id)  # the five special ids come first
    empty = clf.tokenizer("", return_tensors="pt")["input_ids"]
    top = int(np.argmax([w.score for w in exp.words]))
    kept = np.ones(10, bool)
    kept[top] = False
    without_top = clf.tokenizer(delete_words(SENTENCE, [(w.start, w.end) for w in exp.words], kept),
                                return_tensors="pt")["input_ids"]
    for removal, nothing in (("mask", masked), ("delete", empty)):
        r = ex.faithfulness(clf, exp, removal=removal, random_orders=0)
        assert (r.target, r.contrast, r.output) == ("positive", "negative", "logit")
        assert r.score == pytest.approx(gap(ids), abs=1e-5)
        assert r.empty_score == pytest.approx(gap(nothing), abs=1e-5)
    assert r.comprehensiveness_at[0] == pytest.approx(gap(ids) - gap(without_top), abs=1e-5)


def test_integrated_gradients_beats_random_on_sst2(case):
    clf = case("sst2")[0]
    exp = ex.explain(clf, "a gripping, funny and touching film", output="logit", n_steps=32)
    for removal in ("mask", "delete"):
        r = ex.faithfulness(clf, exp, removal=removal, random_orders=10)
        assert r.comprehensiveness > r.random_comprehensiveness, removal
        assert r.comprehensiveness_gain > 0 and r.sufficiency_gain > 0


# --------------------------------------------------------------------------- refusals, comparison, figure


def test_refusals(tiny, bow, bow_exp):
    def refused(match, clf=bow, exp=bow_exp, **kwargs):
        with pytest.raises(ex.ExplainerError, match=match):
            ex.faithfulness(clf, exp, **kwargs)

    refused(r"made with '.*bag-of-words.*', not '.*tiny-bert.*'", clf=tiny("bert"))
    refused("Unknown removal 'drop'", removal="drop")
    refused("non-empty list", fractions=())
    refused("non-empty list", fractions=0.5)
    for bad in (0, 1.5, -0.1, "a", float("nan"), True):
        refused("Each fraction", fractions=(0.1, bad))
    for bad in (-1, 101, 2.0, True, None):
        refused("random_orders", random_orders=bad)
    refused("seed", seed=-1)
    refused("batch_size", batch_size=0)
    refused("curves", curves="yes")
    refused("no words", exp=dataclasses.replace(bow_exp, words=()))
    refused("not finite", exp=with_scores(bow_exp, [1, np.nan, 0, 0, 0]))
    refused("an Explanation", exp=bow_exp.to_dict())
    shifted = dataclasses.replace(bow_exp, words=bow_exp.words[1:])
    refused("explanation's 4 words are not the 5 words .* reads", exp=shifted)
    refused("explanation's 5 words are not the 5 words", exp=dataclasses.replace(
        bow_exp, words=(dataclasses.replace(bow_exp.words[0], end=2),) + bow_exp.words[1:]))
    refused("not the words of its text", exp=shifted, removal="delete")
    refused("Cannot rebuild the task", exp=dataclasses.replace(bow_exp, extras={**bow_exp.extras, "labels": ["a"]}))


def test_more_faithful(bow, bow_exp):
    good = ex.faithfulness(bow, bow_exp, random_orders=0)
    bad = ex.faithfulness(bow, with_scores(bow_exp, -V), random_orders=0)  # the ranking upside down
    assert good.comprehensiveness > bad.comprehensiveness and good.sufficiency < bad.sufficiency
    assert ex.more_faithful(good, bad) == 0 and ex.more_faithful(bad, good) == 1
    assert ex.more_faithful(good, good) is None
    assert ex.more_faithful(good, dataclasses.replace(bad, sufficiency=good.sufficiency - 1)) is None  # disagree
    with pytest.raises(ex.ExplainerError, match="differ in removal"):
        ex.more_faithful(good, ex.faithfulness(bow, bow_exp, removal="delete", random_orders=0))


def test_faithfulness_curves_figure(bow, bow_exp):
    r = dataclasses.replace(ex.faithfulness(bow, bow_exp, random_orders=2), target="<b>positive</b>")
    fig = ex.plots.faithfulness_curves(r)
    assert len(fig.data) == 4
    assert [t.line.dash for t in fig.data] == ["solid", "dash", "solid", "dash"]
    colours = {t.line.color for t in fig.data}
    assert len(colours) == 2
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    assert list(fig.data[0].y) == r.deletion.scores.tolist() and list(fig.data[3].x) == r.insertion.fractions.tolist()
    shown = json.dumps(fig.to_plotly_json(), default=str)
    assert "<b>positive" not in shown and "&lt;b&gt;positive&lt;/b&gt;" in shown
    assert "&lt;b&gt;" in fig.layout.yaxis.title.text and fig.layout.xaxis.title.text == "share of words removed / kept"
    assert "%{text}" in fig.data[0].hovertemplate and "1 of 5 words removed" in fig.data[0].text[1]


def test_summary_reads_the_numbers_without_user_strings(bow, bow_exp):
    result = ex.faithfulness(bow, bow_exp, removal="mask", random_orders=2)
    said = ex.faithfulness_summary(result)
    assert said.startswith("Masking the 10%–50% of the words this explanation ranks highest lowers the explained "
                           f"score by {result.comprehensiveness:.3f} on average; random words lower it by "
                           f"{result.random_comprehensiveness:.3f}")
    assert said.endswith("Both measures beat random word orders: the ranking reflects words this model uses.")
    assert bow_exp.target not in said
    worst = dataclasses.replace(bow_exp, words=tuple(dataclasses.replace(w, score=-w.score) for w in bow_exp.words))
    reversed_ = ex.faithfulness(bow, worst, removal="delete", random_orders=2)
    assert ex.faithfulness_summary(reversed_).endswith("do not read much into this ranking.")
    alone = ex.faithfulness(bow, bow_exp, random_orders=0)
    assert ex.faithfulness_summary(alone).endswith("on average.")
