"""The Streamlit app through streamlit.testing.v1.AppTest: wiring, state, URL, errors."""
import json

import pytest
from streamlit.testing.v1 import AppTest

import explainers as ex
import studio.models
from helpers import app, specs


def highlighted(at) -> str:
    return next(h.proto.body for h in at.get("html") if 'class="xtext"' in h.proto.body)


def headline(at) -> str:
    return next(m.value for m in at.markdown if "predicted; explaining" in m.value)


def submit(at) -> AppTest:
    next(b for b in at.button if b.label == "Explain").click()
    return at.run()


def test_default_page_explains_the_builtin_sentiment_model():
    at = app()
    assert not at.exception
    assert at.session_state["request"].checkpoint == "builtin:sst2"
    assert "positive" in headline(at)
    bars = specs(at)[0]["data"][0]
    assert bars["y"] == ["negative", "positive"] and bars["x"][1] > 0.9
    body = highlighted(at)
    for word in ("awesome", "blindly", "buy"):
        assert f">{word}</span>" in body
    reports = [c.value for c in at.caption] + [w.value for w in at.warning]
    assert any("convergence error" in r for r in reports)
    assert any("steps to 1.0% tolerance" in c.value for c in at.caption)


def test_widgets_change_method_target_and_options():
    at = app()
    at.selectbox(key="w.method").set_value("saliency")
    at.selectbox(key="w.target").set_value("negative")
    at = submit(at)
    assert not at.exception
    req = at.session_state["request"]
    assert req.method == "saliency" and req.target == "negative"
    assert "explaining **negative**" in headline(at)
    assert any("Saliency" in c.value for c in at.caption)
    assert at.query_params["method"] == ["saliency"] or at.query_params["method"] == "saliency"
    at.selectbox(key="w.method").set_value("integrated_gradients")
    at = at.run()
    at.number_input(key="w.opt.integrated_gradients.n_steps").set_value(64)
    at = submit(at)
    assert at.session_state["request"].options == {"n_steps": 64}
    assert any("64 steps" in c.value for c in at.caption)


def test_view_changes_recompute_nothing(monkeypatch):
    calls = []
    real = ex.explain
    monkeypatch.setattr(studio.models.ex, "explain", lambda *a, **k: calls.append(1) or real(*a, **k))
    at = app(text="a view-only rerun test, nothing else")
    first = len(calls)
    assert first == 1
    at.radio(key="w.view").set_value("tokens")
    at = at.run()
    at.radio(key="w.scale").set_value("p95")
    at.slider(key="w.top_k").set_value(5)
    at = at.run()
    assert not at.exception and len(calls) == first
    assert "##" in highlighted(at) or "blindly" not in highlighted(at)  # token view shows word pieces


def test_query_parameters_restore_the_state():
    at = app(text="The plot is dull and the acting is worse", method="occlusion", target="negative",
             options=json.dumps({"baseline": "pad"}))
    req = at.session_state["request"]
    assert (req.text, req.method, req.target, req.options) == (
        "The plot is dull and the acting is worse", "occlusion", "negative", {"baseline": "pad"})
    assert at.text_area(key="w.text").value == req.text
    assert "explaining **negative**" in headline(at)
    assert ">dull</span>" in highlighted(at)
    assert any("baseline token: pad" in c.value for c in at.caption)


def test_zero_shot_with_the_builtin_embedding_model():
    at = app(checkpoint="builtin:zeroshot", text="The striker scored twice in the cup final",
             labels="sports, politics, business")
    assert not at.exception
    bars = specs(at)[0]["data"][0]
    assert bars["y"] == ["sports", "politics", "business"]
    assert "**sports** predicted" in headline(at)
    at.text_input(key="w.labels").set_value("sports, sports, ")
    at = submit(at)
    assert any("Duplicate" in i.value for i in at.info)


def test_bad_labels_and_template_are_messages_not_exceptions():
    at = app(checkpoint="builtin:zeroshot", labels=" , ")
    assert not at.exception and any("No candidate labels" in e.value for e in at.error)
    at = app(checkpoint="builtin:zeroshot", template="no placeholder")
    assert not at.exception and any("template" in e.value for e in at.error)


@pytest.mark.parametrize("text", ["   ", "\u200b"])
def test_empty_text_is_a_message(text):
    at = app(text=text)
    assert not at.exception
    assert any("empty" in e.value or "nothing to read" in e.value for e in at.error)


def test_hostile_text_is_shown_literally():
    at = app(text='<img src=x onerror=alert(1)> and <script>alert("x")</script> 👍')
    body = highlighted(at)
    assert "<script" not in body and "<img" not in body
    assert "&lt;" in body and ">script</span>" in body


def test_unreachable_checkpoint_keeps_the_previous_model():
    at = app()
    at.selectbox(key="w.choice").set_value("Other hub id…")
    at = at.run()
    at.text_input(key="w.hub").set_value("someone/not-reachable-model")
    at = at.run()
    assert not at.exception
    assert any("Cannot reach the Hugging Face Hub" in e.value for e in at.error)
    assert any("Still using builtin:sst2" in i.value for i in at.info)
    assert at.session_state["request"].checkpoint == "builtin:sst2"
    assert specs(at)  # the page still explains with the previous model


def test_local_folders_are_off_unless_enabled(tmp_path, monkeypatch):
    at = app(checkpoint=str(tmp_path))
    assert any("Local folders are disabled" in e.value for e in at.error)
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")
    assert "Local folder…" in app().selectbox(key="w.choice").options


def test_example_buttons_fill_the_form():
    at = app()
    next(b for b in at.button if "Not bad at all" in b.label).click()
    at = at.run()
    assert at.session_state["request"].text == "The movie was not bad at all, highly recommend"
    assert ">recommend</span>" in highlighted(at)
    next(b for b in at.button if "Zero-shot" in b.label).click()
    at = at.run()
    assert at.session_state["request"].checkpoint == "builtin:zeroshot"
    assert specs(at)[0]["data"][0]["y"] == ["sports", "politics", "business", "technology"]


def test_downloads_and_share_link():
    at = app(method="saliency")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Explanation (JSON)", "Scores (CSV)", "Report (HTML)"]
    code = [c.value for c in at.code]
    assert any("method=saliency" in c for c in code)


def test_models_page_and_state_across_pages():
    at = app(checkpoint="builtin:zeroshot", labels="sports, politics")
    at.switch_page("pages/2_Models_and_methods.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Models & methods"]
    assert len(at.dataframe) == 2 + len(ex.METHODS)  # checkpoints, families, each method's options
    at.switch_page("app.py").run()
    assert not at.exception
    assert at.session_state["request"].checkpoint == "builtin:zeroshot"
    assert specs(at)[0]["data"][0]["y"] == ["sports", "politics"]
    assert at.query_params["checkpoint"] in ("builtin:zeroshot", ["builtin:zeroshot"])


def test_long_input_is_truncated_with_a_warning():
    at = app(method="saliency", text="good movie " * 400)
    assert not at.exception
    assert any("longer than the model reads" in w.value for w in at.warning)


def test_too_large_checkpoint_is_refused_with_a_message(monkeypatch):
    at = app()  # builtin:sst2 loaded and working
    monkeypatch.setenv("STUDIO_MAX_PARAMETERS", "1e6")
    studio.models.load.clear()
    try:
        at.selectbox(key="w.choice").set_value("builtin:zeroshot")
        at = at.run()
        assert not at.exception  # both models are over this limit: messages, no traceback
        assert any("'builtin:zeroshot' has" in e.value and "the limit here is" in e.value for e in at.error)
        assert any("Pick a checkpoint" in i.value for i in at.info)
    finally:
        monkeypatch.undo()
        studio.models.load.clear()


@pytest.fixture
def local(monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")


def test_nli_zero_shot_and_pair_modes(local, tiny_folder):
    folder = str(tiny_folder("bart", labels=("contradiction", "neutral", "entailment")))
    at = app(checkpoint=folder, text="The team won the final", labels="sports, politics")
    assert not at.exception
    assert specs(at)[0]["data"][0]["y"] == ["sports", "politics"]
    expected = ex.predict(ex.load(folder), "The team won the final", labels=["sports", "politics"])[0]
    assert specs(at)[0]["data"][0]["x"] == pytest.approx([expected.scores["sports"], expected.scores["politics"]])
    assert any("Hypothesis tokens" in c.value for c in at.caption)
    at.radio(key="w.mode").set_value("pair")
    at.text_input(key="w.hypothesis").set_value("Someone lost a match.")
    at = submit(at)
    assert not at.exception
    assert specs(at)[0]["data"][0]["y"] == ["contradiction", "neutral", "entailment"]
    assert at.session_state["request"].mode == "pair"


def test_display_names_for_generic_labels(local, tmp_path):
    import tiny_models

    folder = str(tiny_models.build("bert", tmp_path / "generic", labels=["LABEL_0", "LABEL_1"]))
    at = app(checkpoint=folder)
    assert specs(at)[0]["data"][0]["y"] == ["LABEL_0", "LABEL_1"]
    at.text_input(key="w.label_names").set_value("bad, good")
    at = at.run()
    assert not at.exception
    assert specs(at)[0]["data"][0]["y"] == ["bad", "good"]
    assert at.query_params["label_names"] in ("bad, good", ["bad, good"])


def test_large_convergence_error_warns_and_offers_more_steps():
    at = app(text="The movie was not bad at all, highly recommend", options=json.dumps({"n_steps": 8}))
    assert any("raise the number of steps" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Re-run with 32 steps").click()
    at = at.run()
    assert at.session_state["request"].options["n_steps"] == 32
    assert at.number_input(key="w.opt.integrated_gradients.n_steps").value == 32
    assert any("32 steps" in c.value for c in at.caption)


def test_a_hit_cap_warns_and_offers_a_higher_cap():
    text = "The movie was not bad at all, highly recommend"  # needs more than 17 gradients (bench/ig_quadrature.py)
    at = app(text=text, options=json.dumps({"max_steps": 17}))
    assert any("cap of 17 steps was hit" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Re-run with a cap of 65 steps").click()
    at = at.run()
    assert at.session_state["request"].options["max_steps"] == 65
    assert at.number_input(key="w.opt.integrated_gradients.max_steps").value == 65
    needed = ex.explain(ex.load("builtin:sst2"), text).extras["steps"]
    assert 17 < needed <= 65 and not any("was hit" in w.value for w in at.warning)
    assert any(f"{needed} steps to 1.0% tolerance" in c.value for c in at.caption)


def test_faithfulness_panel_beside_the_explanation():
    at = app(text="a gripping, funny and touching film", method="occlusion")
    assert not at.exception
    names = [m.label for m in at.metric]
    assert names == ["Comprehensiveness", "Sufficiency"]
    assert all("vs random" in str(m.proto.body) or "vs random" in str(m.proto.delta) for m in at.metric)
    summary = next(c.value for c in at.caption if "random words lower it by" in c.value)
    assert "Masking the 10%–50% of the words" in summary
    curves = next(s for s in specs(at) if "Removing the words" in s["layout"]["title"]["text"])
    assert {t["line"]["dash"] for t in curves["data"]} == {"solid", "dash"} and len(curves["data"]) == 4
    at.radio(key="w.removal").set_value("delete")
    at = at.run()
    assert "Deleting the 10%–50%" in next(c.value for c in at.caption if "random words lower it by" in c.value)
    cached = studio.models._faithfulness.cache_info().hits
    at.radio(key="w.removal").set_value("mask")
    at = at.run()  # back to a view already measured: from the cache
    assert studio.models._faithfulness.cache_info().hits > cached


def test_a_local_folder_in_the_url_shows_as_a_local_folder(local, tiny_folder):
    folder = str(tiny_folder("bert"))
    at = app(checkpoint=folder, text="a gripping film")
    assert not at.exception
    assert at.selectbox(key="w.choice").value == "Local folder…"
    assert at.text_input(key="w.local").value == folder
    assert at.session_state["request"].checkpoint == folder and specs(at)
