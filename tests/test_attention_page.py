"""The Attention page through AppTest, on the built-ins and tiny local models."""
import base64
import json

import numpy as np
import pytest

import explainers as ex
from explainers.attention import combine_heads, from_reader
from helpers import app, specs

PAGE = "pages/1_Attention.py"


def attention_page(**query):
    at = app(**query)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def heatmaps(at) -> list[dict]:
    return [trace for spec in specs(at) for trace in spec["data"] if trace["type"] == "heatmap"]


def array(value) -> np.ndarray:
    """A figure's numbers: plotly writes numpy arrays as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return data.reshape([int(n) for n in str(shape).split(",")]) if shape is not None else data
    return np.asarray(value, dtype=float)


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_default_page_shows_every_view_on_the_builtins():
    at = attention_page()
    assert [t.value for t in at.title] == ["Where does the model look?"]
    assert [s.value for s in at.subheader] == [
        "From [CLS], layer by layer", "One layer in full", "Attention rollout beside the word attributions",
        "Fine-tuned vs base: what changed"]
    text = at.session_state["request"].text
    clf = ex.load("builtin:sst2")
    maps = ex.attention(clf, text)
    first = heatmaps(at)[0]
    assert first["y"] == [f"layer {i}" for i in range(1, 7)]
    words = [label.split("·")[0] for label in first["x"]]
    assert "[CLS]" not in words and "[SEP]" not in words  # special tokens hidden by default, and said so
    assert any("2 special tokens hidden" in c for c in captions(at))
    cols = [int(label.rsplit("·", 1)[1]) for label in first["x"]]
    np.testing.assert_allclose(array(first["z"]), from_reader(combine_heads(maps.encoder, "mean"), 0)[:, cols],
                               atol=1e-6)
    difference = [h for h in heatmaps(at) if h.get("zmid") == 0]
    assert len(difference) == 2  # reader rows by layer and one full layer, centred on zero
    base = ex.attention(ex.load("builtin:minilm-base"), text)
    expected = (maps.weights.mean(1) - base.weights.mean(1))[:, 0, cols]
    np.testing.assert_allclose(array(difference[0]["z"]), expected, atol=1e-6)
    assert any("Spearman" in c for c in captions(at))
    assert any("builtin:sst2 attends more than builtin:minilm-base" in c for c in captions(at))


def test_gradient_weighted_heads_and_a_chosen_layer_and_head():
    at = attention_page(text="The movie was not bad at all, highly recommend")
    at.selectbox(key="w.attn.combine").set_value("gradient")
    at.toggle(key="w.attn.hide_special").set_value(False)
    at = at.run()
    assert not at.exception
    maps = ex.attention(ex.load("builtin:sst2"), "The movie was not bad at all, highly recommend")
    first = heatmaps(at)[0]
    np.testing.assert_allclose(array(first["z"]), maps.encoder.relevance[:, 0, :], atol=1e-6)
    relevance = next(s for s in specs(at) if "Which heads move" in s["layout"]["title"]["text"])
    np.testing.assert_allclose(array(relevance["data"][0]["z"]), maps.encoder.head_relevance, rtol=1e-5, atol=1e-9)
    at.slider(key="w.attn.layer").set_value(2)
    at.selectbox(key="w.attn.head").set_value(5)
    at = at.run()
    layer = next(s for s in specs(at) if s["layout"].get("title", {}).get("text") == "Layer 2, head 5")
    np.testing.assert_allclose(array(layer["data"][0]["z"]), maps.weights[1, 4], atol=1e-6)
    grid = next(s for s in specs(at) if s["layout"].get("title", {}).get("text") == "Layer 2, every head")
    assert len(grid["data"]) == 12


def test_a_500_token_input_stays_readable():
    words = ("a gripping , funny and touching film that never lets go of you " * 60).split()
    clf = ex.load("builtin:sst2")
    text = " ".join(words[:498])
    n = len(ex.attention(clf, text).tokens)
    assert 500 <= n <= 512
    at = attention_page(text=text)
    first = heatmaps(at)[0]
    assert len(first["x"]) == 60
    assert any(f"Showing 60 of {n} tokens" in c and "raise “Tokens shown”" in c for c in captions(at))
    at.slider(key="w.attn.top_k").set_value(n)
    at.toggle(key="w.attn.hide_special").set_value(False)
    at = at.run()
    assert not at.exception
    assert len(heatmaps(at)[0]["x"]) == n  # everything, on request
    assert any(f"All {n} tokens shown" in c for c in captions(at))
    assert not at.warning  # 512 tokens or fewer: nothing truncated


def test_truncated_text_is_said():
    at = attention_page(text="good movie " * 400)
    assert any("longer than the model reads" in w.value for w in at.warning)


def test_mean_pooled_builtin_offers_no_gradient_combination():
    at = attention_page(checkpoint="builtin:zeroshot", text="The striker scored twice", labels="sports, politics")
    assert at.selectbox(key="w.attn.combine").options == ["mean over heads", "max over heads"]
    assert [s.value for s in at.subheader][0] == "From every token (mean-pooled), layer by layer"
    assert not at.error


def test_bart_streams_and_shifted_decoder_tokens(monkeypatch, tiny_folder):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")
    folder = str(tiny_folder("bart"))
    at = attention_page(checkpoint=folder, text="The team won the final")
    maps = ex.attention(ex.load(folder), "The team won the final")
    assert at.subheader[0].value == f"From the final EOS (position {maps.reads}), layer by layer"
    at.selectbox(key="w.attn.stream").set_value("cross")
    at.toggle(key="w.attn.hide_special").set_value(False)
    at = at.run()
    assert not at.exception
    full = next(s for s in specs(at) if s["layout"].get("title", {}).get("text", "").startswith("Layer 2"))
    assert full["data"][0]["y"][0] == "&lt;/s&gt;·0"  # the decoder start token heads the decoder rows
    assert full["data"][0]["y"][1] == "&lt;s&gt;·1"  # decoder position 1 holds token 0
    assert full["data"][0]["x"][0] == "&lt;s&gt;·0"  # cross-attention keys are the encoder's tokens
    np.testing.assert_allclose(array(full["data"][0]["z"]), maps.streams["cross"].weights.mean(1)[-1], atol=1e-6)


def test_comparing_checkpoints_with_different_tokenizers_is_a_message(monkeypatch, tiny_folder):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")
    at = attention_page(checkpoint=str(tiny_folder("bert")), text="Quarterly earnings surprised everyone")
    at.selectbox(key="w.attn.compare").set_value("builtin:minilm-base")
    at = at.run()
    assert not at.exception
    assert any("share a tokenizer" in e.value for e in at.error), [e.value for e in at.error]
    at.text_area(key="w.text").set_value("the team won the final")  # words both vocabularies have whole
    at = next(b for b in at.button if b.label == "Show attention").click().run()
    assert not at.exception
    assert any("2 layers and builtin:minilm-base 6" in e.value for e in at.error), [e.value for e in at.error]


def test_hostile_tokens_are_escaped_in_the_figures():
    at = attention_page(text='<img src=x onerror=alert(1)> <b>bold</b> 👍')
    labels = [label for h in heatmaps(at) for label in h["x"]]
    assert labels and not any("<" in label for label in labels)
    assert any("&lt;" in label for label in labels)
    assert json.dumps(specs(at)).count("<img") == 0


def test_switching_to_a_smaller_model_forgets_what_it_lacks(monkeypatch, tiny_folder):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")
    at = attention_page(text="the team won the final")
    at.selectbox(key="w.attn.combine").set_value("gradient")
    at.slider(key="w.attn.layer").set_value(5)
    at.selectbox(key="w.attn.head").set_value(12)
    at = at.run()
    at.selectbox(key="w.choice").set_value("builtin:zeroshot")  # no labels, no gradient combination
    at = at.run()
    assert not at.exception and at.selectbox(key="w.attn.combine").value == "mean"
    assert at.slider(key="w.attn.layer").value == 5 and at.selectbox(key="w.attn.head").value == 12
    at.selectbox(key="w.choice").set_value("Local folder…")
    at = at.run()
    at.text_input(key="w.local").set_value(str(tiny_folder("bert")))  # 2 layers of 4 heads
    at = at.run()
    assert not at.exception, at.exception
    assert at.slider(key="w.attn.layer").value == 2 and at.selectbox(key="w.attn.head").value == "combined"


def test_rollout_and_attribution_shares_per_word():
    text = "the film is the best of the year"
    at = attention_page(text=text)
    bars = next(s for s in specs(at) if s["layout"].get("title", {}).get("text") == "Share of each word, top 15")
    names = list(bars["data"][0]["y"])
    assert len(names) == len(set(names)) == 8 and "the (0)" in names and "the (24)" in names  # repeated words apart
    for trace in bars["data"]:  # every word shown: each side's shares add up to one
        assert array(trace["x"]).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("family", ["gpt2-nopad", "modernbert"])
def test_decoders_follow_their_last_token_and_mean_pooled_heads_every_token(monkeypatch, tiny_folder, family):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")
    folder = str(tiny_folder(family))
    at = attention_page(checkpoint=folder, text="The team won the final")
    assert not at.exception, at.exception
    maps = ex.attention(ex.load(folder), "The team won the final")
    if maps.reads is None:  # ModernBERT's mean pooling: the rows of every token, averaged
        assert at.subheader[0].value.startswith("From every token (mean-pooled)")
    else:
        assert maps.reads == len(maps.tokens) - 1
        assert at.subheader[0].value == f"From the last token (position {maps.reads}), layer by layer"
