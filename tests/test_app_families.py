"""The app and the model families: the sidebar says what the head reads, Models & methods lists every family,
a one-output head (reward model, regressor, cross-encoder) shows its raw score with nothing to contrast, and
integrated gradients says how long it will take before it starts."""
import pandas as pd
import pytest

import explainers as ex
import studio.models
from helpers import app, page, specs

TEXT = "a gripping, funny and touching film"


@pytest.fixture
def local(monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")


@pytest.fixture
def score_folder(tiny_folder) -> str:
    """A tiny one-output (regression) BERT: one raw score, no probabilities."""
    return str(tiny_folder("bert-score"))


def facts(at) -> str:
    return "\n".join(m.value for m in at.sidebar.markdown)


def probability_charts(at) -> list[dict]:
    return [s for s in specs(at) if s["layout"].get("xaxis", {}).get("title", {}).get("text") == "probability"]


def test_the_sidebar_says_what_the_head_reads():
    at = app(method="saliency")
    assert not at.exception
    assert "- **head reads**: the first token (CLS)" in facts(at)
    assert "**output**" not in facts(at)  # only a one-output head says what it outputs
    assert "**labels**: negative, positive" in facts(at)


def test_the_picker_help_names_every_family():
    at = app(method="saliency")
    help_text = at.selectbox(key="w.choice").help
    for family in ex.FAMILIES:
        assert family.name in help_text


def test_models_page_lists_every_family():
    at = page("pages/2_Models_and_methods.py")
    table = next(d.value for d in at.dataframe if "family" in d.value.columns)
    assert list(table["family"]) == [f.name for f in ex.FAMILIES]
    assert list(table.columns) == ["family", "model types", "the head reads", "architecture"]
    rows = table.set_index("family")
    assert rows.loc["BERT", "the head reads"] == "the first token (CLS)"
    assert rows.loc["BART", "architecture"] == "encoder-decoder"
    decoders = [f for f in ex.FAMILIES if f.decoder_only]
    assert decoders and all(rows.loc[f.name, "architecture"] == "decoder-only" for f in decoders)
    assert all("last token" in rows.loc[f.name, "the head reads"] for f in decoders)
    text = "\n".join(m.value for m in at.markdown)
    assert "**Decoder-only classifiers**" in text and "**One-output heads**" in text
    assert "no other label to contrast it with" in text


def test_a_one_output_head_shows_its_raw_score(local, score_folder):
    at = app(checkpoint=score_folder, text=TEXT, method="saliency")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    clf = ex.load(score_folder)
    expected = ex.explain(clf, TEXT, method="saliency")
    assert expected.prediction.output == "score" and expected.options["output"] == "logit"
    # the raw score as a metric and in the headline, no probability bar
    score = next(m for m in at.metric if m.label == "Score (raw output)")
    assert score.value == f"{expected.score:.4f}" == f"{expected.prediction.scores['LABEL_0']:.4f}"
    headline = next(m.value for m in at.markdown if m.value.startswith("Raw score"))
    assert f"**{expected.score:.4f}**" in headline and "no probabilities" in headline
    assert not any("predicted; explaining" in m.value for m in at.markdown)
    assert not probability_charts(at)
    # nothing to pick as a target or a contrast, and the output fixed to the raw score
    keys = {s.key for s in at.selectbox}
    assert "w.target" not in keys and "w.contrast" not in keys
    assert any("no other label to contrast it with" in c.value for c in at.caption)
    assert "w.opt.saliency.output" not in keys
    fixed = at.selectbox(key="w.opt.saliency.output.fixed")
    assert fixed.disabled and fixed.options == ["logit: the raw score (fixed)"]
    # the sidebar says so
    assert "- **output**: one raw score" in facts(at)
    assert "- **head reads**: the first token (CLS)" in facts(at)
    # the faithfulness panel works on the raw score
    assert {m.label for m in at.metric} == {"Score (raw output)", "Comprehensiveness", "Sufficiency"}
    # the same number, explained with integrated gradients (the page's default method)
    at.selectbox(key="w.method").set_value("integrated_gradients")
    next(b for b in at.button if b.label == "Explain").click()
    at = at.run()
    assert not at.exception and not at.error
    ig = ex.explain(clf, TEXT)
    assert next(m for m in at.metric if m.label == "Score (raw output)").value == f"{ig.score:.4f}"
    assert ig.score == pytest.approx(expected.score)
    assert at.session_state["request"].options == {}  # "output" is never carried in the request
    # the output can be given a name
    at.text_input(key="w.label_names").set_value("reward")
    at = at.run()
    assert not at.exception and not at.error
    assert "- **label**: reward" in facts(at)
    assert next(m for m in at.metric if m.label == "Score (raw output)").value == f"{ig.score:.4f}"


def test_a_contrast_on_a_one_output_head_says_it_does_not_apply(local, score_folder):
    at = app(checkpoint=score_folder, text=TEXT, method="saliency", contrast="LABEL_0")
    assert not at.exception
    assert any("no other label to contrast it with" in e.value for e in at.error)


def test_switching_between_a_classifier_and_a_one_output_head(local, score_folder):
    at = app(method="saliency", text=TEXT)
    at.selectbox(key="w.target").set_value("negative")
    at.selectbox(key="w.contrast").set_value("positive")
    next(b for b in at.button if b.label == "Explain").click()
    at = at.run()
    assert "minus **positive**" in next(m.value for m in at.markdown if "predicted; explaining" in m.value)
    at.selectbox(key="w.choice").set_value("Local folder…")
    at = at.run()
    at.text_input(key="w.local").set_value(score_folder)
    at = at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    req = at.session_state["request"]
    assert (req.checkpoint, req.target, req.contrast) == (score_folder, "", "")
    assert any(m.label == "Score (raw output)" for m in at.metric)
    next(b for b in at.button if b.label == "Explain").click()  # the form, with no target or contrast widgets
    at = at.run()
    assert not at.exception and not at.error
    assert (at.session_state["request"].target, at.session_state["request"].contrast) == ("", "")


def test_a_long_explanation_says_how_long_it_will_take(monkeypatch):
    """Timed first where the arithmetic is large (here: any); a small one starts at once."""
    studio.models._estimate.cache_clear()
    at = app(text=TEXT)  # the built-in on a short text: far below the thresholds, so no timed passes first
    assert not any("estimated from two short timed passes" in c.value for c in at.caption)
    assert studio.models._estimate.cache_info().currsize == 0
    monkeypatch.setattr(studio.models, "ESTIMATE_FROM_FLOPS", 0)
    monkeypatch.setattr(studio.models, "ESTIMATE_FROM_SECONDS", 0)
    at = app(text=TEXT)  # integrated gradients, the default
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Integrated Gradients: about "))
    assert "passes of the text through the model" in caption and "before it started" in caption
    req = at.session_state["request"]
    assert studio.models.estimate_request(req).method == "integrated_gradients"  # from the cache
    assert studio.models._estimate.cache_info().hits >= 1
    # a one-pass method says nothing: it takes less than any estimate says is worth saying
    monkeypatch.setattr(studio.models, "ESTIMATE_FROM_SECONDS", 2.0)
    at = app(text=TEXT, method="saliency")
    assert not any("estimated from two short timed passes" in c.value for c in at.caption)


def test_an_estimate_that_fails_never_breaks_the_page(monkeypatch):
    studio.models._estimate.cache_clear()

    def fails(*args, **kwargs):
        raise RuntimeError("no timer here")

    monkeypatch.setattr(ex, "estimate", fails)
    monkeypatch.setattr(studio.models, "ESTIMATE_FROM_FLOPS", 0)
    try:
        at = app(text=TEXT)
        assert not at.exception and not at.error
        assert not any("estimated from two short timed passes" in c.value for c in at.caption)
        assert any("steps to 1.0% tolerance" in c.value for c in at.caption)  # the explanation is there
        monkeypatch.setattr(ex, "estimate", lambda *a, **k: (_ for _ in ()).throw(ex.ExplainerError("no")))
        studio.models._estimate.cache_clear()
        at = app(text=TEXT, method="integrated_gradients", options='{"n_steps": 16}')
        assert not at.exception and not at.error
        assert not any("estimated from two short timed passes" in c.value for c in at.caption)
    finally:
        studio.models._estimate.cache_clear()


def test_compare_page_takes_a_one_output_head(local, score_folder):
    at = page("pages/3_Compare.py", a=score_folder, a_method="saliency", b=score_folder, text=TEXT)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_compare_page_takes_a_one_output_head_beside_a_classifier(local, score_folder):
    at = page("pages/3_Compare.py", a=score_folder, a_method="saliency", b="builtin:sst2", text=TEXT)
    assert not at.exception, at.exception
    assert any("different units" in i.value for i in at.info)  # faithfulness: no verdict across units
    assert any("gives a raw score of" in m.value for m in at.markdown)


def test_batch_page_takes_a_one_output_head(local, score_folder):
    at = page("pages/4_Batch.py", checkpoint=score_folder)
    rows = pd.DataFrame({"text": [TEXT, "the plot is dull", "a fine cast"]})
    at.file_uploader[0].set_value(("rows.csv", rows.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    next(b for b in at.button if b.label.startswith("Explain")).click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
