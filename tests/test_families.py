"""The families people fine-tune now, and models handed over in memory: predictions equal the
model's own forward pass, one-output heads explained as raw scores, two-label NLI heads as the
pipeline reads them, bf16 checkpoints in float32, ``ex.load(model, tokenizer=...)`` and
``ex.load(pipeline)`` exactly as the saved checkpoint."""
import copy

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

import explainers as ex
import tiny_models
from helpers import FAMILIES, TEXTS, snapshot

ALL = FAMILIES + tiny_models.MORE_FAMILY_NAMES
DECODERS = [name for name in ALL if name.split("-")[0] in ("gpt2", "llama", "qwen3", "qwen2", "gemma3", "gemma2",
                                                          "mistral", "phi3")]
ONE_OUTPUT = ["bert-score", "qwen3-score"]


def own_logits(clf, text):
    """The model's own forward pass on one text, as a user would call it."""
    enc = clf.tokenizer(text, truncation=True, max_length=clf.max_length, return_tensors="pt")
    with torch.no_grad():
        return clf.model(**enc).logits[0]


@pytest.mark.parametrize("family", ALL)
def test_predict_equals_the_models_own_forward_pass_batched_and_one_by_one(tiny, family):
    clf = tiny(family)
    texts = TEXTS + ["ok", "a much longer text than the others, to make the batch pad every other row " * 2]
    batched = ex.predict(clf, texts, batch_size=8)
    alone = [ex.predict(clf, t)[0] for t in texts]
    for text, b, a in zip(texts, batched, alone):
        own = own_logits(clf, text)
        expected = own if clf.one_output else torch.softmax(own, -1)
        np.testing.assert_allclose(list(b.scores.values()), expected.numpy(), atol=1e-5)
        np.testing.assert_allclose(list(a.scores.values()), list(b.scores.values()), atol=1e-5)
    if clf.tokenizer.pad_token_id is not None and clf.model.config.pad_token_id is not None:
        # the model's own padded batch (where it has a pad token to find the last real token with)
        enc = clf.tokenizer(texts, padding=True, truncation=True, max_length=clf.max_length, return_tensors="pt")
        with torch.no_grad():
            own = clf.model(**enc).logits
        own = own if clf.one_output else torch.softmax(own, -1)
        np.testing.assert_allclose([list(b.scores.values()) for b in batched], own.numpy(), atol=1e-5)


@pytest.mark.parametrize("family", DECODERS)
def test_decoder_only_heads_read_the_last_token(tiny, family):
    clf = tiny(family)
    assert clf.family.decoder_only
    assert clf.facts()["head reads"] == "the last token (decoder-only)"
    maps = ex.attention(clf, TEXTS[1])
    last = len(maps.tokens) - 1
    assert maps.encoder.reads == last and maps.encoder.reader == f"the last token (position {last})"
    weights = maps.encoder.weights
    assert np.allclose(np.triu(weights, k=1), 0, atol=1e-6)  # causal: no token sees a later one
    rollout = ex.rollout(ex.combine_heads(maps.encoder))
    assert np.allclose(np.triu(rollout, k=1), 0, atol=1e-9)
    np.testing.assert_allclose(rollout.sum(-1), 1, atol=1e-9)


@pytest.mark.parametrize("family", ["gpt2-nopad", "llama-nopad", "mistral"])
def test_tokenizers_without_pad_explain_with_a_token_they_have(tiny, family):
    clf = tiny(family)
    assert clf.tokenizer.pad_token_id is None and clf.tokenizer.mask_token_id is None
    exp = ex.explain(clf, TEXTS[0])
    assert exp.options["baseline"] in clf.family.baselines
    assert getattr(clf.tokenizer, f"{exp.options['baseline']}_token_id") is not None
    assert abs(exp.delta) <= 0.01 * abs(exp.score - exp.baseline_score) + 1e-4
    for method, options in (("occlusion", {}), ("lime", {"samples": 50})):
        removed_by = ex.explain(clf, TEXTS[0], method=method, **options).options["baseline"]
        assert removed_by == next(b for b in clf.family.removals if getattr(clf.tokenizer, f"{b}_token_id") is not None)
    assert np.isfinite(ex.faithfulness(clf, exp, curves=False).comprehensiveness)


def test_modernbert_reads_what_its_config_pools(tiny):
    mean, cls = tiny("modernbert"), tiny("modernbert-cls")
    assert mean.facts()["head reads"] == "the mean of every token"
    assert cls.facts()["head reads"] == "the first token (CLS)"
    assert ex.attention(mean, TEXTS[0]).encoder.reads is None  # the views average every row
    assert ex.attention(cls, TEXTS[0]).encoder.reads == 0
    for clf in (mean, cls):
        exp = ex.explain(clf, TEXTS[0], n_steps=300)
        gap = exp.score - exp.baseline_score
        assert abs(exp.token_scores.sum() - gap) < 0.01 * abs(gap)


# --------------------------------------------------------------------------- one output


@pytest.mark.parametrize("family", ONE_OUTPUT)
def test_a_one_output_head_is_explained_as_its_raw_score(tiny, family):
    clf = tiny(family)
    assert clf.one_output and clf.labels == ("LABEL_0",)
    assert clf.facts()["output"] == "one raw score"
    for text in TEXTS[:2]:
        raw = float(own_logits(clf, text)[0])
        pred = ex.predict(clf, text)[0]
        assert pred.output == "score" and pred.scores["LABEL_0"] == pytest.approx(raw, abs=1e-5)
        exp = ex.explain(clf, text)
        assert exp.options["output"] == "logit"
        assert exp.score == pytest.approx(raw, abs=1e-5)
        gap = exp.score - exp.baseline_score
        assert abs(gap) > 1e-3
        assert abs(exp.token_scores.sum() - gap) <= max(0.01 * abs(gap), abs(exp.delta) + 1e-5)
    assert ex.Prediction.from_dict(pred.to_dict()) == pred


def test_a_one_output_head_refuses_a_probability_and_a_contrast(tiny):
    clf = tiny("bert-score")
    with pytest.raises(ex.ExplainerError, match="one output, a raw score with no probability"):
        ex.explain(clf, TEXTS[0], output="probability")
    with pytest.raises(ex.ExplainerError, match="no other label to contrast"):
        ex.explain(clf, TEXTS[0], contrast=0)


def test_a_one_output_sigmoid_classifier_keeps_its_probability(tiny_folder):
    """num_labels 1 with problem_type multi_label_classification is a sigmoid classifier, not a raw score."""
    clf = ex.load(str(tiny_folder("bert", labels=("toxic",), problem_type="multi_label_classification")))
    assert not clf.one_output
    pred = ex.predict(clf, TEXTS[0])[0]
    assert pred.output == "probability"
    assert pred.scores["toxic"] == pytest.approx(float(torch.sigmoid(own_logits(clf, TEXTS[0]))[0]), abs=1e-6)


# --------------------------------------------------------------------------- NLI with two labels


@pytest.mark.parametrize("labels", [("entailment", "not_entailment"), ("not_entailment", "entailment")])
@pytest.mark.parametrize("multi_label", [False, True])
def test_zero_shot_with_a_two_label_nli_head_equals_the_pipeline(tiny, labels, multi_label):
    clf = tiny("bert", labels=labels)
    assert clf.task == "nli"
    pipe = pipeline("zero-shot-classification", model=clf.model, tokenizer=clf.tokenizer)
    candidates = ["sports", "politics", "a movie"]
    for text in TEXTS[:3]:
        expected = pipe(text, candidate_labels=candidates, multi_label=multi_label)
        got = ex.predict(clf, text, labels=candidates, multi_label=multi_label)[0]
        for label, score in zip(expected["labels"], expected["scores"]):
            assert abs(got.scores[label] - score) <= 1e-5
        exp = ex.explain(clf, text, labels=candidates, multi_label=multi_label, target=expected["labels"][0])
        assert exp.score == pytest.approx(expected["scores"][0], abs=1e-5)


# --------------------------------------------------------------------------- stored in half precision


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_checkpoints_load_and_explain_in_float32(tiny_folder, tmp_path, dtype):
    source = tiny_folder("llama")
    half = AutoModelForSequenceClassification.from_pretrained(source, dtype=dtype)
    half.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(source).save_pretrained(tmp_path)
    clf = ex.load(str(tmp_path))
    assert all(p.dtype == torch.float32 for p in clf.model.parameters())
    upcast = ex.load(half.float(), tokenizer=AutoTokenizer.from_pretrained(source))
    a, b = ex.explain(clf, TEXTS[0], n_steps=64), ex.explain(upcast, TEXTS[0], n_steps=64)
    np.testing.assert_allclose(a.token_scores, b.token_scores, atol=1e-6)


# --------------------------------------------------------------------------- models in memory


@pytest.fixture(scope="module")
def saved(tiny_folder):
    folder = tiny_folder("qwen3")
    return folder, ex.load(str(folder))


def test_a_model_object_explains_exactly_as_its_saved_checkpoint(saved):
    folder, clf = saved
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    model.train()  # a notebook fine-tune, still in training mode
    before = snapshot(model)
    mine = ex.load(model, tokenizer=AutoTokenizer.from_pretrained(folder))
    assert mine.provenance["source"] == "in-memory" and mine.checkpoint.startswith("in-memory Qwen3ForSequence")
    assert len(mine.provenance["weights_sha256"]) == 64
    assert mine.labels == clf.labels and mine.family is clf.family and mine.max_length == clf.max_length
    for method in ("integrated_gradients", "saliency", "occlusion"):
        a, b = ex.explain(mine, TEXTS[1], method=method), ex.explain(clf, TEXTS[1], method=method)
        np.testing.assert_allclose(a.token_scores, b.token_scores, atol=1e-6)
        assert a.score == pytest.approx(b.score, abs=1e-7)
    after = snapshot(model)
    assert before[1:] == after[1:] and after[4] is True  # config, hooks, attention setting, still training
    assert all(torch.equal(v, after[0][k]) for k, v in before[0].items())
    assert mine.model is not model and not mine.model.training
    assert next(mine.model.parameters()).data_ptr() == next(model.parameters()).data_ptr()  # weights shared


def test_a_pipeline_explains_exactly_as_its_saved_checkpoint(saved):
    folder, clf = saved
    pipe = pipeline("text-classification", model=str(folder))
    mine = ex.load(pipe)
    assert mine.provenance["source"] == "in-memory"
    a, b = ex.explain(mine, TEXTS[2]), ex.explain(clf, TEXTS[2])
    np.testing.assert_allclose(a.token_scores, b.token_scores, atol=1e-6)
    assert ex.predict(mine, TEXTS[2])[0] == ex.predict(clf, TEXTS[2])[0]


def test_label_names_and_zero_shot_pipelines_in_memory(tiny_folder):
    folder = tiny_folder("bert", labels=("LABEL_0", "LABEL_1"))
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    clf = ex.load(model, tokenizer=AutoTokenizer.from_pretrained(folder), label_names=["neg", "pos"])
    assert clf.labels == ("neg", "pos") and model.config.id2label == {0: "LABEL_0", 1: "LABEL_1"}
    nli = tiny_folder("bart", labels=("contradiction", "neutral", "entailment"))
    zero = ex.load(pipeline("zero-shot-classification", model=str(nli)))
    assert zero.task == "nli"
    expected = pipeline("zero-shot-classification", model=str(nli))(TEXTS[0], candidate_labels=["a", "b"])
    got = ex.predict(zero, TEXTS[0], labels=["a", "b"])[0]
    assert got.scores[expected["labels"][0]] == pytest.approx(expected["scores"][0], abs=1e-5)


def test_models_in_memory_get_the_same_clear_errors(tiny_folder):
    folder = tiny_folder("bert")
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    with pytest.raises(ex.ExplainerError, match="Pass the model's tokenizer too"):
        ex.load(model)
    with pytest.raises(ex.ExplainerError, match="not a text classifier"):
        ex.load(model.bert, tokenizer=tok)
    with pytest.raises(ex.ExplainerError, match="not supported yet"):
        from transformers import T5Config, T5ForSequenceClassification
        ex.load(T5ForSequenceClassification(T5Config(vocab_size=50, d_model=8, d_ff=8, num_layers=1, num_heads=1,
                                                     d_kv=8)), tokenizer=tok)
    with pytest.raises(ex.ExplainerError, match="not dict"):
        ex.load({"model": model})
    with pytest.raises(ex.ExplainerError, match="text-classification or zero-shot"):
        ex.load(pipeline("feature-extraction", model=str(folder)))
    with pytest.raises(ex.ExplainerError, match="goes with a model object"):
        ex.load(str(folder), tokenizer=tok)


def test_a_model_elsewhere_or_in_half_precision_is_copied_not_moved(tiny_folder):
    folder = tiny_folder("gpt2")
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.bfloat16)
    before = copy.deepcopy(model.state_dict())
    clf = ex.load(model, tokenizer=AutoTokenizer.from_pretrained(folder))
    assert next(model.parameters()).dtype == torch.bfloat16  # the caller's model stays as it was
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert next(clf.model.parameters()).dtype == torch.float32
    ex.explain(clf, TEXTS[0], n_steps=8)


# --------------------------------------------------------------------------- how long it will take


def test_the_estimate_counts_the_passes_the_method_needs(tiny):
    clf = tiny("llama")
    est = ex.estimate(clf, TEXTS[0])
    assert est.examples == (19, 23, 515) and est.seconds_per_example > 0
    assert est.seconds[0] < est.seconds[1] < est.seconds[2]
    assert "passes of the text" in est.summary()
    fixed = ex.estimate(clf, TEXTS[0], n_steps=50)
    assert fixed.examples == (52, 52, 52) and fixed.summary().startswith("about ")
    words = len(ex.explain(clf, TEXTS[0], method="occlusion").words)
    assert ex.estimate(clf, TEXTS[0], method="occlusion").examples == (words + 2,) * 3
    with pytest.raises(ex.ExplainerError, match="empty"):
        ex.estimate(clf, "  ")


def test_an_all_zero_baseline_row_is_named_not_shown_as_nan(tiny_folder):
    """A decoder whose EOS row is an untrained zero vector (pad = eos in a fresh model): every position of
    a Qwen-style input (no special tokens) is zero at the baseline, where RMSNorm has no useful gradient:
    the integral hits its cap (a 0.5B model even gives NaN there), and the cause is named."""
    folder = tiny_folder("qwen3")
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        model.get_input_embeddings().weight[tok.eos_token_id] = 0
    clf = ex.load(model, tokenizer=tok)
    with pytest.raises(ex.ExplainerError, match="cannot start from the eos token on this model: its embedding is all"):
        ex.explain(clf, TEXTS[1])
    assert np.isfinite(ex.explain(clf, TEXTS[0], method="saliency").token_scores).all()


@pytest.mark.parametrize("family", ["gpt2-nopad", "llama", "modernbert", "qwen3-score"])
def test_texts_stacked_in_one_pass_read_what_each_reads_alone(tiny, family):
    """explain_many pads texts of different lengths into one pass: each decoder row reads its own last
    token, each mean-pooled row its own tokens, as alone."""
    clf = tiny(family)
    texts = TEXTS + ["ok"]
    for method, options in (("integrated_gradients", {"n_steps": 32}), ("saliency", {})):
        together = ex.explain_many(clf, texts, method=method, batch_size=8, **options)
        for text, exp in zip(texts, together):
            alone = ex.explain(clf, text, method=method, **options)
            np.testing.assert_allclose(exp.token_scores, alone.token_scores, atol=1e-5)
            assert exp.score == pytest.approx(alone.score, abs=1e-6)


def test_zero_shot_on_a_decoder_nli_head_without_a_pad_token(tiny):
    """The pipeline cannot pad pairs for a tokenizer without a pad token; the studio pads them itself, and
    each pair reads its own last token: the pipeline's rule, computed pair by pair by hand."""
    clf = tiny("mistral", labels=("contradiction", "neutral", "entailment"))
    assert clf.task == "nli" and clf.tokenizer.pad_token_id is None
    candidates = ["sports", "a much longer label about politics"]
    text = TEXTS[0]
    entail = []
    for label in candidates:
        enc = clf.tokenizer(text, f"This example is {label}.", return_tensors="pt")
        with torch.no_grad():
            entail.append(clf.model(**enc).logits[0, 2])
    expected = torch.softmax(torch.stack(entail), -1).numpy()
    got = ex.predict(clf, text, labels=candidates)[0]
    np.testing.assert_allclose([got.scores[c] for c in candidates], expected, atol=1e-5)
    exp = ex.explain(clf, text, labels=candidates, target="sports")
    assert exp.score == pytest.approx(float(expected[0]), abs=1e-5)
    assert abs(exp.delta) <= 0.01 * abs(exp.score - exp.baseline_score) + 1e-4
