"""The Batch page through AppTest (which uploads files): columns chosen -> run -> accuracy, confusion
matrix, rows, words per label and downloads; views that recompute nothing; bad files as messages."""
import html
import io
import re

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import explainers as ex
from helpers import page, specs

PAGE = "pages/4_Batch.py"
DATA = "tests/data/sst2_test.tsv"
IMG = "<img src=x onerror=alert(1)>"


def sst2_csv(rows: int = 12) -> bytes:
    """The first rows of SST-2's test split (sentence, label 0/1) as CSV bytes."""
    frame = pd.read_csv(DATA, sep="\t", dtype=str, keep_default_na=False).head(rows)
    return frame.to_csv(index=False).encode()


def batch_page(**query) -> AppTest:
    return page(PAGE, **query)


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader[0].set_value((name, data, mime))
    at.run()
    assert not at.exception, at.exception
    return at


def explain(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label.startswith("Explain")).click()
    at.run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def cards(at: AppTest) -> str:
    return next((h.proto.body for h in at.get("html") if 'class="xrow"' in h.proto.body), "")


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@pytest.fixture
def counted(monkeypatch):
    """How many times the page computes a table."""
    calls = []
    real = ex.batch.explain_table
    monkeypatch.setattr(ex.batch, "explain_table", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_upload_choose_run_and_read_the_results(counted):
    at = batch_page()
    assert any("Upload a file" in i.value for i in at.info)
    at = upload(at, "sst2.csv", sst2_csv())
    assert [s.value for s in at.selectbox][:3] == ["sentence", "label", "saliency"]  # guessed from the names
    assert any("0 = negative, 1 = positive" in c.value for c in at.caption)
    at = explain(at)
    assert counted == [1] and not errors(at)
    # the accuracy against the model's own predictions, computed here independently
    frame = pd.read_csv(io.BytesIO(sst2_csv()), dtype=str)
    clf = ex.load("builtin:sst2")
    predicted = [p.label for p in ex.predict(clf, frame["sentence"].tolist())]
    gold = [clf.labels[int(v)] for v in frame["label"]]
    accuracy = float(np.mean([p == g for p, g in zip(predicted, gold)]))
    wrong = sum(p != g for p, g in zip(predicted, gold))
    assert metrics(at)["Rows"] == "12" and metrics(at)["Accuracy"] == f"{accuracy:.1%}"
    assert metrics(at)["Misclassified"] == str(wrong)
    heat = next(t for s in specs(at) for t in s["data"] if t["type"] == "heatmap")
    counts = [[sum(1 for p, g in zip(predicted, gold) if (g, p) == (a, b)) for b in clf.labels] for a in clf.labels]
    assert heat["x"] == heat["y"] == list(clf.labels)
    assert [[int(c) for c in row] for row in heat["text"]] == counts
    # the misclassified rows first, with their highlighted words
    assert at.selectbox(key="w.batch.filter").value == "misclassified"
    assert cards(at).count('class="xrow"') == wrong and "✗ gold" in cards(at)
    # words per label: a chart with a panel per label, and downloads
    words = next(s for s in specs(at) if any(t["type"] == "bar" for t in s["data"]))
    assert {a["text"] for a in words["layout"]["annotations"]} <= {"toward negative", "toward positive"}
    assert [d.proto.label for d in at.get("download_button")] == ["Results (CSV)", "Results (Parquet)",
                                                                  "Report (HTML)"]
    # changing what is shown recomputes nothing
    at.selectbox(key="w.batch.filter").set_value("all")
    at.radio(key="w.batch.order").set_value("confident")
    at.slider(key="w.batch.words_top").set_value(5)
    at.run()
    assert not at.exception and counted == [1]
    assert cards(at).count('class="xrow"') == 12
    scores = [float(s) for s in re.findall(r"\((0\.\d+)\)</div>", cards(at))]
    assert scores == sorted(scores, reverse=True)
    # other settings: the old results stay, marked, until the new ones are run; going back needs no run
    at.selectbox(key="w.batch.method").set_value("input_x_gradient")
    at.run()
    assert any("earlier settings" in i.value for i in at.info) and metrics(at)["Rows"] == "12"
    assert any(b.label == "Explain 12 rows" for b in at.button)
    at.selectbox(key="w.batch.method").set_value("saliency")
    at.run()
    assert not any("earlier settings" in i.value for i in at.info) and counted == [1]
    assert not [b for b in at.button if b.label.startswith("Explain")]


def test_without_gold_labels():
    at = upload(batch_page(), "sst2.csv", sst2_csv(6))
    gold = next(s for s in at.selectbox if s.label.startswith("Gold-label column"))
    gold.set_value("")
    at = explain(at.run())
    assert "Accuracy" not in metrics(at) and "Most predicted" in metrics(at)
    assert not [s for s in specs(at) if any(t["type"] == "heatmap" for t in s["data"])]
    assert at.selectbox(key="w.batch.filter").value == "all"
    assert cards(at).count('class="xrow"') == 6 and "gold" not in cards(at)
    assert len(at.get("download_button")) == 3


def test_zero_shot_checkpoint_takes_candidate_labels():
    rows = pd.DataFrame({"text": ["The striker scored twice in the cup final", "Parliament passed the budget bill",
                                  "The goalkeeper saved a penalty"], "topic": ["sports", "politics", "sports"]})
    at = batch_page(checkpoint="builtin:zeroshot")
    at = upload(at, "topics.csv", rows.to_csv(index=False).encode())
    at.text_input(key="w.batch.labels").set_value("sports, politics")
    at.run()
    assert not errors(at) and [s.value for s in at.selectbox][:2] == ["text", "topic"]
    at = explain(at)
    assert metrics(at)["Accuracy"] == "100.0%"
    assert at.session_state["batch.runs"][at.session_state["batch.shown"]]["job"].labels == ("sports", "politics")
    at.text_input(key="w.batch.labels").set_value(" , ")
    at.run()
    assert any("No candidate labels" in e for e in errors(at))
    at.text_input(key="w.batch.labels").set_value("sports, business")
    at.run()
    assert any("labels the model does not have" in e and "'politics'" in e for e in errors(at))


BAD_FILES = [
    ("empty.csv", b"", "is empty"),
    ("header.csv", b"sentence,label\n", "no rows"),
    ("twice.csv", b"sentence,sentence\na,b\n", "appears more than once"),
    ("unnamed.csv", b"sentence,\na,b\n", "has no name"),
    ("latin1.csv", "sentence\ncaf\u00e9 cr\u00e8me\n".encode("latin-1"), "not UTF-8"),
]


@pytest.mark.parametrize("name, data, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_are_messages(name, data, message):
    at = upload(batch_page(), name, data)
    assert any(message in e for e in errors(at)), errors(at)
    assert not [b for b in at.button if b.label.startswith("Explain")]


def test_the_row_limit_comes_from_the_deployment(monkeypatch):
    monkeypatch.setenv("STUDIO_MAX_ROWS", "5")
    at = upload(batch_page(), "sst2.csv", sst2_csv(12))
    assert any("12 rows; the limit here is 5" in e for e in errors(at))
    assert any("at most 5 rows" in (w.proto.help or "").lower() for w in at.file_uploader)


@pytest.mark.parametrize("csv, choose, message", [
    (b"id,sentence,label\n1,good,1\n2,bad,0\n", {"Text column": "id"}, "holds numbers, not text"),
    (b"sentence,label\ngood,1\n,0\n", {}, "is empty in row 2"),
    (b"sentence,label\ngood,positive\nmeh,neutral\n", {}, "labels the model does not have: 'neutral'"),
    (b"sentence,label\ngood,positive\nmeh,\n", {}, "Label column 'label' is empty in rows 2"),
    (b"sentence,row\ngood,1\n", {"Gold-label column (optional)": ""}, "Rename the input column(s) 'row'"),
    (b"sentence,label\ngood,positive\n", {"Gold-label column (optional)": "sentence"}, "are the same"),
], ids=["numbers-as-text", "empty-cell", "unknown-label", "empty-label", "result-name", "same-column"])
def test_bad_columns_are_messages(csv, choose, message):
    at = upload(batch_page(), "table.csv", csv)
    for label, value in choose.items():
        next(s for s in at.selectbox if s.label == label).set_value(value)
    at.run()
    assert not at.exception and any(message in e for e in errors(at)), errors(at)
    assert not [b for b in at.button if b.label.startswith("Explain")]


def test_hostile_names_and_texts_are_shown_literally():
    column = f"review {IMG}"
    rows = pd.DataFrame({column: [f"a fine film {IMG}", "dull, <b>dull</b>"], "label": ["positive", "positive"]})
    at = upload(batch_page(), f"{IMG}.csv", rows.to_csv(index=False).encode())
    at = explain(at)
    assert not errors(at)
    at.selectbox(key="w.batch.filter").set_value("all")
    shown = cards(at.run())
    assert "<img" not in shown and "<b>dull" not in shown
    text = html.unescape(re.sub(r"<[^>]+>", "", shown))  # what the browser shows
    assert f"a fine film {IMG}" in text and "dull, <b>dull</b>" in text
    captions = [c.value for c in at.caption]
    assert any("\\<img src=x onerror=alert\\(1\\)\\>" in c for c in captions)  # literal, not markdown or HTML
