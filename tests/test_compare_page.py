"""The Compare page through AppTest: one text, a list (pasted and uploaded), filters, rows, URL, errors."""
import html

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import explainers as ex
import studio.models
from helpers import page, specs
from studio.state import Request

PAGE = "pages/3_Compare.py"
ROWS = "positive\tA gripping, funny and touching film\nnegative\tThe plot is dull and the acting is worse\n" \
       "The movie was not bad at all, highly recommend\nnegative\tWhat a fantastic waste of two hours"


def compare_page(**query) -> AppTest:
    return page(PAGE, **query)


def panels(at) -> list[str]:
    return [h.proto.body for h in at.get("html") if 'class="xtext"' in h.proto.body]


def markdown(at, start: str) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(start)]


def explanation(checkpoint: str, method: str, text: str, **kw) -> ex.Explanation:
    """The page's explanation, from the same process-wide cache."""
    return studio.models.explain_request(Request(checkpoint=checkpoint, method=method, text=text, **kw))


def query(at) -> dict:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in dict(at.query_params).items()}


def test_one_text_shows_both_predictions_highlights_and_their_agreement():
    at = compare_page()
    assert [t.value for t in at.title] == ["Compare two models, or two methods"]
    cs = at.session_state["compare"]
    assert (cs.a, cs.a_method, cs.b, cs.b_method) == ("builtin:sst2", "integrated_gradients", "builtin:sst2",
                                                      "saliency")
    assert markdown(at, "**A** predicts **positive**") and markdown(at, "**B** predicts **positive**")
    a, b = panels(at)  # A above B
    for word in ("awesome", "blindly"):
        assert f">{word}</span>" in a and f">{word}</span>" in b
    result = ex.compare(explanation("builtin:sst2", "integrated_gradients", cs.text),
                        explanation("builtin:sst2", "saliency", cs.text))
    line = markdown(at, "**Rank agreement**")[0]
    assert f"over the {result.words} words" in line
    assert f"Spearman ρ = {result.spearman:+.2f}" in line and f"Kendall τ = {result.kendall:+.2f}" in line
    assert any("share of the total |attribution|" in c.value for c in at.caption)
    figures = specs(at)
    assert [f["data"][0]["y"] for f in figures[:2]] == [["negative", "positive"]] * 2  # both predictions
    top = result.top(10)
    table = next(d.value for d in at.dataframe if "A share" in d.value.columns)
    assert table["word"].tolist() == [d.text for d in top]
    np.testing.assert_allclose(table["A − B"], [d.difference for d in top])
    heat = figures[-1]["data"]
    assert [t["type"] for t in heat] == ["heatmap", "heatmap"] and heat[0]["y"] == heat[1]["y"]
    assert heat[0]["y"][:3] == ["This·1", "is·2", "awesome·3"]
    assert any("same checkpoint" in c.value for c in at.caption)


@pytest.fixture
def local(monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")


def test_two_tokenizers_line_up_on_the_words(local, tiny_folder):
    bert, roberta = str(tiny_folder("bert")), str(tiny_folder("roberta"))
    text = "Café naïve 👍🏽 — the film, the film!! isn't bad"
    at = compare_page(a=bert, b=roberta, a_method="saliency", text=text)
    a, b = panels(at)
    words = [w.text for w in explanation(bert, "saliency", text).words]
    for word in set(words):
        assert f">{html.escape(word)}</span>" in a and f">{html.escape(word)}</span>" in b
    heat = specs(at)[-1]
    assert heat["data"][0]["y"] == heat["data"][1]["y"] == [f"{w}·{i + 1}" for i, w in enumerate(words)]
    titles = [a["text"] for a in heat["layout"]["annotations"]]
    assert titles == [f"A: {bert}, from [CLS]", f"B: {roberta}, from &lt;s&gt;"]
    at.selectbox(key="w.cmp.heads").set_value("gradient")
    at = at.run()
    assert not at.exception and query(at)["heads"] == "gradient"


def test_pasted_list_table_filters_and_a_selected_row():
    at = compare_page(mode="list", b="builtin:zeroshot", labels="negative, positive", lines=ROWS)
    texts, gold = ex.parse_lines(ROWS)
    a = ex.predict(ex.load("builtin:sst2"), texts)
    b = ex.predict(ex.load("builtin:zeroshot"), texts, labels="negative, positive")
    expected = ex.prediction_table(texts, a, b, gold)
    table = at.dataframe[0].value
    assert table["text"].tolist() == texts
    assert table["a_label"].tolist() == expected["a_label"].tolist()
    assert table["b_label"].tolist() == expected["b_label"].tolist()
    assert table["agree"].tolist() == expected["agree"].tolist()
    counts = ex.filter_counts(expected)
    assert markdown(at, "4 texts")[0].startswith(f"4 texts · A and B disagree on {counts['disagree']}")
    assert "1 rows without a gold label" in markdown(at, "4 texts")[0]
    assert at.radio(key="w.cmp.filter").options == [f"{name} ({n})" for name, n in counts.items()]
    for name in ex.FILTERS:
        at.radio(key="w.cmp.filter").set_value(name)
        at = at.run()
        assert not at.exception
        assert list(at.dataframe[0].value.index) == list(ex.filter_rows(expected, name).index), name
        assert query(at).get("filter", "all") == name
    at.radio(key="w.cmp.filter").set_value("all")
    at = at.run()
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at = at.run()
    assert not at.exception
    assert at.session_state["compare"].row == 2 and query(at)["row"] == "2"
    assert [s.value for s in at.subheader][:1] == ["Row 2"]
    assert len(panels(at)) == 2 and ">dull</span>" in panels(at)[0]
    next(b for b in at.button if b.label == "Open this text in one-text mode").click()
    at = at.run()
    assert at.session_state["compare"].mode == "one"
    assert at.text_area(key="w.cmp.text").value == texts[1]


def test_a_new_list_forgets_the_selected_row():
    at = compare_page(mode="list", lines=ROWS, row="2")
    assert [s.value for s in at.subheader][:1] == ["Row 2"]
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.text_area(key="w.cmp.lines").set_value("a fine film\na dull film\nanother one")
    next(b for b in at.button if b.label == "Compare the list").click()
    at = at.run()
    assert not at.exception
    assert at.session_state["compare"].row == 0 and "row" not in query(at)
    assert not [s.value for s in at.subheader if s.value.startswith("Row")]


def test_an_uploaded_file():
    at = compare_page(mode="list", source="file")
    assert any("Upload a CSV" in i.value for i in at.info)
    data = "id,review,label\n1,a gripping film,positive\n2,a dull film,negative\n3,\"so, so <b>bad</b>\",Negative\n"
    at.file_uploader(key="w.cmp.file").set_value(("reviews.csv", data.encode(), "text/csv"))
    at = at.run()
    assert not at.exception
    assert at.selectbox(key="w.cmp.text_column").value == "review"
    assert at.selectbox(key="w.cmp.gold_column").value == "label"
    table = at.dataframe[0].value
    assert table["text"].tolist() == ["a gripping film", "a dull film", "so, so <b>bad</b>"]
    assert table["gold"].tolist() == ["positive", "negative", "Negative"]
    assert any("uploaded file stays in this browser session" in c.value for c in at.caption)
    at.selectbox(key="w.cmp.gold_column").set_value("id")
    at = at.run()
    assert not at.exception
    assert any("Gold label '1' (row 1) is not a label of A (builtin:sst2)" in e.value for e in at.error)
    at.file_uploader(key="w.cmp.file").set_value(("reviews.csv", b"text\n", "text/csv"))
    at = at.run()
    assert not at.exception and any("has a header but no rows" in e.value for e in at.error)


def test_an_unknown_gold_label_is_a_message():
    at = compare_page(mode="list", lines="neutral\ta fine film\npositive\tgreat")
    assert not at.exception and not at.dataframe
    assert any("Gold label 'neutral' (row 1) is not a label of A (builtin:sst2)" in e.value for e in at.error)


def test_long_lists_are_cut_with_a_message(monkeypatch):
    monkeypatch.setenv("STUDIO_MAX_ROWS", "2")
    at = compare_page(mode="list", lines=ROWS)
    assert any("Only the first 2 of 4 texts" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == 2


def test_the_url_holds_the_view():
    at = compare_page()
    at.selectbox(key="w.cmp.b.choice").set_value("builtin:zeroshot")
    at = at.run()
    at.selectbox(key="w.cmp.b.method").set_value("input_x_gradient")
    at.text_input(key="w.cmp.labels").set_value("positive, negative, sports")
    at.text_area(key="w.cmp.text").set_value("A dull <i>match</i>")
    next(b for b in at.button if b.label == "Compare").click()
    at = at.run()
    assert not at.exception
    wanted = {"b": "builtin:zeroshot", "b_method": "input_x_gradient", "labels": "positive, negative, sports",
              "text": "A dull <i>match</i>"}
    assert query(at) == wanted
    assert at.session_state["request"].text == "A dull <i>match</i>"  # the other pages follow the text
    fresh = compare_page(**wanted)
    assert fresh.session_state["compare"] == at.session_state["compare"]
    assert fresh.selectbox(key="w.cmp.b.choice").value == "builtin:zeroshot"
    assert fresh.selectbox(key="w.cmp.b.method").value == "input_x_gradient"
    assert markdown(fresh, "**B** predicts **negative**") or markdown(fresh, "**B** predicts **sports**")
    assert ">&lt;</span>" in panels(fresh)[1] and "<i>" not in panels(fresh)[1]  # escaped
    assert query(fresh) == wanted


def test_errors_are_messages_not_tracebacks():
    at = compare_page(b="someone/not-reachable-model")
    assert not at.exception
    assert any("Cannot reach the Hugging Face Hub" in e.value for e in at.error)
    assert any("Pick two checkpoints that load" in i.value for i in at.info)
    at = compare_page(text="   ")
    assert not at.exception and any("empty" in e.value for e in at.error)


def test_the_comparison_survives_the_url_round_trip():
    from dataclasses import fields

    from studio.compare import Compare

    changed = Compare(a="someone/<b>model</b>", a_revision="v1", a_method="occlusion", b="builtin:zeroshot",
                      b_revision="abc", b_method="smoothgrad", text='Ünïcödé 👍 <script>alert("x")</script>\nline 2',
                      labels="sports, <i>politics</i>", mode="list", source="file", lines="positive\tgood\nbad",
                      filter="only B wrong", row=7, heads="max")
    default = Compare()
    assert all(getattr(changed, f.name) != getattr(default, f.name) for f in fields(Compare))
    assert Compare.from_query(changed.query()) == changed
    assert Compare().query() == {} and Compare.from_query({}) == Compare()
    bad = Compare.from_query({"a_method": "magic", "mode": "both", "filter": "x", "row": "-3", "heads": "min"})
    assert bad == Compare()


def test_which_explanation_is_more_faithful_on_this_text():
    at = compare_page()
    cs = at.session_state["compare"]
    found = [studio.models.faithfulness(cs.request(side)) for side in ("a", "b")]
    table = next(d.value for d in at.dataframe if "comprehensiveness ↑" in d.value.columns)
    assert table[""].tolist() == ["A", "B"]
    np.testing.assert_allclose(table["comprehensiveness ↑"], [f.comprehensiveness for f in found])
    np.testing.assert_allclose(table["sufficiency ↓"], [f.sufficiency for f in found])
    winner = ex.more_faithful(*found)
    verdict = next(m.value for m in at.markdown if "faithful" in m.value and m.value.startswith("**"))
    assert verdict.startswith("**Neither" if winner is None else f"**{'AB'[winner]} is more faithful")
