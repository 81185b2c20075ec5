"""Bad input gets an ExplainerError that names the problem and what to do."""
import json

import pytest

import explainers as ex
import tiny_models
from explainers import checkpoints


def test_error_is_a_value_error():
    assert issubclass(ex.ExplainerError, ValueError)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None, 42, ["a list"]])
def test_empty_or_non_text(tiny, text):
    with pytest.raises(ex.ExplainerError, match="empty|string"):
        ex.explain(tiny("bert"), text)
    with pytest.raises(ex.ExplainerError):
        ex.predict(tiny("bert"), [text])


def test_text_of_only_invisible_characters(tiny):
    with pytest.raises(ex.ExplainerError, match="nothing to read"):
        ex.explain(tiny("bert"), "\u200b\u200b")


def test_huge_text(tiny):
    with pytest.raises(ex.ExplainerError, match="limit"):
        ex.explain(tiny("bert"), "x" * 1_000_000)


def test_unknown_method_lists_the_known_ones(tiny):
    with pytest.raises(ex.ExplainerError, match="integrated_gradients"):
        ex.explain(tiny("bert"), "good", method="shapley_magic")


@pytest.mark.parametrize("target", ["happy", 7, -1, 1.5, True])
def test_unknown_target_lists_labels(tiny, target):
    with pytest.raises(ex.ExplainerError, match="negative"):
        ex.explain(tiny("bert"), "good", target=target)


@pytest.mark.parametrize("options, match", [
    ({"n_steps": 0}, "out of range"),
    ({"n_steps": "many"}, "must be a int"),
    ({"n_steps": 2.5}, "must be a int"),
    ({"baseline": "zeros"}, "not allowed"),
    ({"integration": "simpson"}, "not allowed"),
    ({"steps": 10}, "no option steps"),
    ({"output": "odds"}, "not allowed"),
])
def test_bad_options(tiny, options, match):
    with pytest.raises(ex.ExplainerError, match=match):
        ex.explain(tiny("bert"), "good", **options)


def test_not_a_classifier_object():
    with pytest.raises(ex.ExplainerError, match="ex.load"):
        ex.explain("bert-base-uncased", "good")


def test_unsupported_model_names_supported_families(tmp_path):
    from transformers import T5Config, T5ForSequenceClassification

    tok = tiny_models.bytelevel_tokenizer()
    model = T5ForSequenceClassification(T5Config(vocab_size=len(tok), d_model=8, d_ff=8, d_kv=4, num_layers=1,
                                                 num_heads=2))
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(ex.ExplainerError, match="'t5' is not supported yet.*BERT, DistilBERT, .*ModernBERT, "
                                                "EuroBERT, GPT-2, Llama"):
        ex.load(str(tmp_path))


def test_not_a_sequence_classifier(tmp_path):
    from transformers import BertConfig, BertModel

    tok = tiny_models.wordpiece_tokenizer()
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=8)).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(ex.ExplainerError, match="not a text classifier"):
        ex.load(str(tmp_path))


def test_folder_without_a_model(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ex.ExplainerError):
        ex.load(str(tmp_path))


def test_unreachable_hub_id_fails_fast_and_friendly():
    import time

    started = time.monotonic()
    with pytest.raises(ex.ExplainerError, match="Cannot reach the Hugging Face Hub"):
        ex.load("distilbert-base-uncased-finetuned-sst-2-english")
    assert time.monotonic() - started < 20  # not transformers' 25 s of retries


def test_offline_mode_is_respected(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert not checkpoints.hub_reachable()
    with pytest.raises(ex.ExplainerError, match="Cannot reach"):
        ex.load("facebook/bart-large-mnli")


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a//b", "x" * 300, "", "  ", None, "builtin:nope"])
def test_invalid_checkpoint_names(bad):
    with pytest.raises(ex.ExplainerError):
        ex.load(bad)


def test_bad_revision():
    with pytest.raises(ex.ExplainerError, match="revision"):
        ex.load("owner/model", revision="main; rm -rf /")


def test_display_names_only_for_generic_labels(tiny_folder, tmp_path):
    named = tiny_folder("bert")
    with pytest.raises(ex.ExplainerError, match="already names"):
        ex.load(str(named), label_names=["a", "b", "c"])
    generic = tiny_models.build("bert", tmp_path / "generic", labels=["LABEL_0", "LABEL_1"])
    clf = ex.load(str(generic), label_names=["bad", "good"])
    assert clf.labels == ("bad", "good")
    assert clf.model.config.id2label == {0: "LABEL_0", 1: "LABEL_1"}  # the model itself is untouched
    assert ex.predict(clf, "fine")[0].label in ("bad", "good")
    with pytest.raises(ex.ExplainerError, match="2 labels"):
        ex.load(str(generic), label_names=["only one"])
    with pytest.raises(ex.ExplainerError, match="distinct"):
        ex.load(str(generic), label_names=["same", "same"])


def test_predict_input_checks(tiny):
    clf = tiny("bert")
    with pytest.raises(ex.ExplainerError, match="non-empty"):
        ex.predict(clf, [])
    with pytest.raises(ex.ExplainerError, match="Text 2"):
        ex.predict(clf, ["fine", ""])


def test_too_large_is_refused_before_loading_weights(tiny_folder, monkeypatch):
    from transformers import AutoModelForSequenceClassification

    folder = str(tiny_folder("bert"))
    size = sum(p.numel() for p in ex.load(folder).model.parameters())
    assert checkpoints.parameter_count(ex.load(folder).model.config, AutoModelForSequenceClassification) == size

    def no_weights(*args, **kwargs):
        raise AssertionError("weights were loaded")

    monkeypatch.setattr(AutoModelForSequenceClassification, "from_pretrained", no_weights)
    with pytest.raises(ex.ExplainerError, match="parameters; the limit here is"):
        ex.load(folder, max_parameters=size - 1)


def test_progress_is_reported_and_reaches_one(tiny):
    for method in ex.METHODS:
        seen = []
        ex.explain(tiny("bert"), "a fine film", method=method, progress=seen.append)
        assert seen and seen[-1] == 1.0 and all(0 < f <= 1 for f in seen), method
        assert seen == sorted(seen)
    with pytest.raises(ex.ExplainerError, match="progress"):
        ex.explain(tiny("bert"), "a fine film", progress="yes")
