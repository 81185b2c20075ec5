"""A dataset's results for people (explainers/report.py): the rows a page lists, the standalone HTML report
(offline, escaped, with the numbers of batch.evaluate), and the dataset figures (explainers/plots.py)."""
import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import explainers as ex
from explainers import batch, plots, report

SCRIPT, IMG, QUOTES = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"quotes" & ampersands'
HOSTILE = [SCRIPT, IMG, QUOTES]
WHEN = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "i", "div", "span",
                "br", "table", "tr", "td", "th"}


class Parsed(HTMLParser):
    """Tags with their attributes, the shown text, and the text of every element with a given class."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.open, self.closed = [], [], [], []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br"):
            self.open.append([tag, dict(attrs), ""])

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                self.closed.append(self.open.pop(i))
                break

    def handle_data(self, data):
        self.text.append(data)
        for item in self.open:
            item[2] += data

    @property
    def shown(self) -> str:
        return "".join(self.text)

    def texts(self, cls: str) -> list[str]:
        return [text for tag, attrs, text in self.closed if cls in (attrs.get("class") or "").split()]


# --------------------------------------------------------------------------- tables as batch writes them


def result(text: str, gold: str | None, predicted: str, scores: dict, word_scores, method="integrated_gradients"):
    """One row of a results table, made by batch.result_row from a hand-made explanation."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    words = [SimpleNamespace(text=text[s:e], start=s, end=e, score=float(v)) for (s, e), v in zip(spans, word_scores)]
    exp = SimpleNamespace(prediction=SimpleNamespace(label=predicted, scores=scores), target=predicted,
                          score=scores[predicted], baseline_score=0.5, delta=1e-3, words=words, truncated=False,
                          method=method, options={"n_steps": 8}, provenance={"checkpoint": "hand-made", "torch": "2.x"},
                          extras={"steps": 8} if method == "integrated_gradients" else {})
    row = batch.result_row(exp)
    return row, gold


def table_of(rows, text_column="text", gold=True) -> pd.DataFrame:
    """Input columns, row numbers and results, and with ``gold`` the gold labels: what batch assembles."""
    texts = [r[0][0] for r in rows]
    results = pd.DataFrame([r[1][0] for r in rows])
    frame = pd.concat([pd.DataFrame({text_column: texts, "row": np.arange(1, len(rows) + 1)}), results], axis=1)
    if gold:
        frame["gold_label"] = [r[1][1] for r in rows]
        frame["correct"] = frame["gold_label"] == frame["predicted_label"]
    return frame


def sample(text_column="text", labels=("positive", "negative"), hostile=False):
    """Eight rows, three of them misclassified (confidences 0.9, 0.8 and 0.6); words scored +1, -0.5, ..."""
    pos, neg = labels
    texts = ["a fine film", "dull and long", "great fun , truly", "not good at all", "a gem", "boring",
             "loved it", "it was fine i guess"]
    if hostile:
        texts[1] = f"dull {SCRIPT} and {IMG} long {QUOTES}"
        texts[3] = f"not {IMG} good {SCRIPT} {QUOTES}"
    spec = [(pos, pos, 0.95), (neg, neg, 0.9), (pos, pos, 0.85), (neg, pos, 0.8), (pos, pos, 0.7),
            (neg, neg, 0.75), (pos, neg, 0.9), (neg, pos, 0.6)]
    rows = []
    for text, (gold, predicted, p) in zip(texts, spec):
        scores = {predicted: p, (neg if predicted == pos else pos): 1 - p}
        n = len(text.split())
        rows.append((text, result(text, gold, predicted, scores, [(-0.5) ** i for i in range(n)])))
    return table_of([((t,), r) for t, r in rows], text_column)


# --------------------------------------------------------------------------- rows


def test_words_of_gives_the_rows_words_back():
    table = sample()
    words = report.words_of(table["words"].iloc[2])
    assert [w.text for w in words] == ["great", "fun", ",", "truly"]
    assert [(w.start, w.end) for w in words] == [(0, 5), (6, 9), (10, 11), (12, 17)]
    assert [w.score for w in words] == [1.0, -0.5, 0.25, -0.125]
    assert all(isinstance(w, ex.Word) for w in words)
    assert report.words_of(json.loads(table["words"].iloc[2])) == words


def test_filters_and_selected_rows():
    table = sample()
    filters = report.row_filters(table)
    assert filters["all"] == "all rows (8)" and filters["misclassified"] == "misclassified (3)"
    assert filters["correct"] == "correct (5)"
    cells = [k for k in filters if k.startswith("cell:")]  # mistakes first, then by size
    assert cells == [report.cell_key(*pair) for pair in (("negative", "positive"), ("positive", "negative"),
                                                         ("positive", "positive"), ("negative", "negative"))]
    assert filters[cells[0]] == "gold negative → predicted positive (2)"
    wrong = report.select_rows(table, "misclassified")
    assert wrong["row"].tolist() == [4, 7, 8]
    assert report.select_rows(table, "misclassified", "confident")["row"].tolist() == [7, 4, 8]
    assert report.select_rows(table, "misclassified", "uncertain")["row"].tolist() == [8, 4, 7]
    assert report.select_rows(table, report.cell_key("negative", "positive"))["row"].tolist() == [4, 8]
    assert report.select_rows(table, "correct")["row"].tolist() == [1, 2, 3, 5, 6]
    assert len(report.select_rows(table, "all")) == 8
    with pytest.raises(ValueError):
        report.select_rows(table, "all", "sideways")
    plain = table.drop(columns=["gold_label", "correct"])
    filters = report.row_filters(plain)
    assert list(filters) == ["all", 'predicted:"positive"', 'predicted:"negative"']
    assert report.select_rows(plain, 'predicted:"negative"')["row"].tolist() == [2, 6, 7]
    assert report.confidence(table).round(2).tolist() == [0.95, 0.9, 0.85, 0.8, 0.7, 0.75, 0.9, 0.6]


def test_sample_rows_are_spread_through_the_table():
    table = sample()
    assert report.sample_rows(table, 3)["row"].tolist() == [1, 5, 8]
    assert len(report.sample_rows(table, 50)) == 8


def test_overview_is_one_line_per_row():
    view = report.overview(report.select_rows(sample(), "misclassified"), "text")
    assert list(view.columns) == ["row", "text", "gold", "predicted", "score", "correct", "top words"]
    assert view["row"].tolist() == [4, 7, 8]  # numbered from 1, the first data row
    assert view["top words"].iloc[0].startswith("not +1, good -0.5")


def test_pick_class_words_leaves_out_punctuation_and_function_words():
    summary = pd.DataFrame({"label": ["a"] * 5 + ["b"] * 2, "word": ["the", "superb", ",", "n't", "gem", "dull", "..."],
                            "total": [5.0, 4.0, 3.0, 2.0, 1.0, 2.0, 1.0], "mean": [0.1, 0.8, 0.2, 0.5, 1.0, 0.4, 0.3],
                            "count": [9, 5, 9, 4, 1, 5, 2]})
    assert report.pick_class_words(summary, top=10, punctuation=True)["word"].tolist() == [
        "the", "superb", ",", "n't", "gem", "dull", "..."]
    assert report.pick_class_words(summary)["word"].tolist() == ["the", "superb", "n't", "gem", "dull"]
    assert report.pick_class_words(summary, common=False)["word"].tolist() == ["superb", "n't", "gem", "dull"]
    assert report.pick_class_words(summary, top=1, by="mean", common=False)["word"].tolist() == ["gem", "dull"]
    assert report.pick_class_words(summary, min_rows=5, common=False)["word"].tolist() == ["superb", "dull"]


def test_row_cards_are_escaped_highlighted_and_marked():
    table = sample(hostile=True)
    markup = report.row_cards(report.select_rows(table, "all"), "text")
    assert "<script" not in markup and "<img" not in markup
    parsed = Parsed(markup)
    assert {tag for tag, _ in parsed.tags} <= {"div", "b", "span", "i"}
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on") or a in ("src", "href")]
    texts = parsed.texts("xtext")
    assert texts[1] == table["text"].iloc[1] and SCRIPT in texts[1] and IMG in texts[3]
    assert markup.count('class="xrow"') == 8
    assert "row 4</b> · ✗ gold <b>negative</b> → predicted <b>positive</b> (0.800)" in markup
    assert "border-left:4px solid #b2182b" in markup and "border-left:4px solid #2166ac" in markup
    # without gold labels: the prediction only, a neutral edge
    plain = report.row_cards(table.drop(columns=["gold_label", "correct"]).head(1), "text")
    assert "row 1</b> · predicted <b>positive</b> (0.950)" in plain and "gold" not in plain


# --------------------------------------------------------------------------- the standalone report


def hostile_table():
    """Hostile text in the texts, the labels and the text column's name."""
    column = f"{IMG} {QUOTES}"
    return sample(column, labels=(f"pos{SCRIPT}", f"neg{IMG}{QUOTES}"), hostile=True), column


def check_offline(page: str) -> Parsed:
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert page.count("<html") == 1 and "<script" not in page.lower() and "<img" not in page.lower()
    for needle in ("http://", "https://", "url(", "@import", "<link", "<iframe", "<object"):
        assert needle not in page.lower(), needle
    parsed = Parsed(page)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS, {tag for tag, _ in parsed.tags} - ALLOWED_TAGS
    for _, attrs in parsed.tags:
        assert not {"src", "href", "srcset", "action"} & set(attrs)
        assert not [a for a in attrs if a.startswith("on")]
        assert not [v for v in attrs.values() if v and "//" in v]
    csp = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"]
    assert len(csp) == 1 and "default-src 'none'" in csp[0]["content"] and "script" not in csp[0]["content"]
    return parsed


def test_report_is_one_offline_file_with_every_user_string_escaped():
    table, column = hostile_table()
    labels = sorted(set(table["gold_label"]))
    ev = batch.evaluate(table, labels)
    job = batch.Job(checkpoint=f"ckpt{SCRIPT}", text_column=column, label_column=f"gold {IMG}",
                    labels=tuple(labels), template=f"This is {{}} {QUOTES}")
    page = report.dataset_report(table, ev, None, title=f"Report {SCRIPT}", job=job, source=f"{IMG}.csv",
                                 notices=[f"notice {SCRIPT}"], when=WHEN)
    parsed = check_offline(page)
    shown = parsed.shown
    for literal in (f"Report {SCRIPT}", f"ckpt{SCRIPT}", f"{IMG}.csv", f"notice {SCRIPT}", column, f"gold {IMG}",
                    f"pos{SCRIPT}", f"neg{IMG}{QUOTES}", f"This is {{}} {QUOTES}", table[column].iloc[3],
                    f"toward pos{SCRIPT}"):
        assert literal in shown, literal
    assert "&lt;script&gt;" in page and "&lt;img" in page and "&quot;quotes&quot; &amp; ampersands" in page


def test_report_numbers_match_evaluate():
    table = sample()
    ev = batch.evaluate(table, ["negative", "positive"])
    page = report.dataset_report(table, ev, None, text_column="text", when=WHEN)
    parsed = check_offline(page)
    shown = parsed.shown
    assert ev.accuracy == 0.625 and "62.5%" in shown
    assert "5 of 8 rows match their gold label" in shown
    cells = [int(t) for t in parsed.texts("cm")]
    assert cells == ev.confusion.to_numpy().ravel().tolist() == [2, 2, 1, 3]
    for label, r in ev.per_class.iterrows():
        assert f"{label}{r.precision:.1%}{r.recall:.1%}{r.f1:.1%}{int(r.support)}" in shown
    # the misclassified rows, most confident first, and only them
    rows = re.findall(r"row (\d+) · ✗", shown)
    assert rows == ["7", "4", "8"] and "✓" not in shown
    assert parsed.texts("xtext") == [table["text"].iloc[i] for i in (6, 3, 7)]
    # what was run, when, how to read it
    for fact in ("hand-made", "Integrated Gradients", "8 rows", "02 January 2026".lstrip("0"), "How to read this",
                 "n_steps=8", "torch2.x"):
        assert fact in shown, fact
    few = Parsed(report.dataset_report(table, ev, None, text_column="text", when=WHEN, shown=2)).shown
    assert "The 2 most confident of 3" in few and re.findall(r"row (\d+) · ✗", few) == ["7", "4"]


def test_report_without_gold_labels_shows_a_sample():
    table = sample().drop(columns=["gold_label", "correct"])
    page = report.dataset_report(table, None, None, text_column="text", when=WHEN, shown=3)
    parsed = check_offline(page)
    shown = parsed.shown
    assert "accuracy" not in shown.lower() and "Confusion" not in shown and "✗" not in shown
    assert "A sample of rows" in shown and "3 of the 8 rows" in shown
    assert re.findall(r"row (\d+) · predicted", shown) == ["1", "5", "8"]


def test_report_words_per_label():
    table = sample()
    words = report.pick_class_words(batch.class_words(table, top=1000), top=3)
    page = report.dataset_report(table, None, words, text_column="text", when=WHEN, words_note="Three per label.")
    shown = Parsed(page).shown
    for label, group in words.groupby("label"):
        assert f"toward {label}" in shown
        for w in group.itertuples():
            assert f"{w.word}{w.total:.3f}{w.mean:.3f}{int(w.count)}" in shown
    assert "Three per label." in shown
    # by default: batch.class_words without punctuation or function words
    default = Parsed(report.dataset_report(table, None, None, text_column="text", when=WHEN)).texts("word")
    assert default and "," not in default and "a" not in default and "and" not in default


def test_report_needs_a_text_column():
    with pytest.raises(ValueError, match="text column"):
        report.dataset_report(sample(), None, None, text_column="nope")


def test_report_of_a_real_run(tiny):
    clf = tiny("bert")
    labels = list(clf.labels)
    frame = pd.DataFrame({"review": ["a fine film", f"dull {IMG}", "great fun", "so boring"],
                          "gold": [labels[0], labels[1], labels[1], labels[0]]})
    job = batch.Job(checkpoint="tiny-bert", text_column="review", label_column="gold", method="saliency")
    table, notices = batch.explain_table(job, frame, clf)
    ev = batch.evaluate(table, labels)
    page = report.dataset_report(table, ev, None, job=job, source="tiny.csv", notices=notices)
    shown = check_offline(page).shown
    assert f"{ev.accuracy:.1%}" in shown and "Saliency" in shown and "tiny-bert" in shown
    wrong = report.select_rows(table, "misclassified", "confident")
    assert re.findall(r"row (\d+) · ✗", shown) == [str(i) for i in wrong["row"]]
    assert ("dull " + IMG in shown) == (2 in wrong["row"].tolist())


# --------------------------------------------------------------------------- dataset figures (explainers/plots.py)


def test_confusion_matrix_figure():
    table, _ = hostile_table()
    labels = sorted(set(table["gold_label"]))
    ev = batch.evaluate(table, labels)
    fig = plots.confusion_matrix(ev.confusion)
    heat, cells = fig.data
    assert heat.type == "heatmap" and cells.type == "scatter"
    assert list(heat.x) == list(heat.y) == [plots._plain(label) for label in labels]
    assert not any("<" in label for label in heat.x)  # plotly reads tags in labels
    counts = ev.confusion.to_numpy()
    assert [[int(t.replace(",", "")) for t in row] for row in heat.text] == counts.tolist()
    np.testing.assert_allclose(np.asarray(heat.z), counts / counts.sum(axis=1, keepdims=True))
    # one clickable point per cell, in row-major order: point i is gold labels[i // n], predicted labels[i % n]
    n = len(labels)
    assert list(cells.y) == [heat.y[i // n] for i in range(n * n)] and list(cells.x) == [heat.x[i % n] for i in
                                                                                      range(n * n)]
    assert fig.layout.clickmode == "event+select" and fig.layout.hoverdistance == -1


def test_class_words_figure():
    table = sample()
    words = report.pick_class_words(batch.class_words(table, top=1000), top=2)
    fig = plots.class_words(words, value="mean", top=2, title="<b>t</b>")
    assert len(fig.data) == 2 and all(bar.orientation == "h" for bar in fig.data)
    for bar, (label, group) in zip(fig.data, words.groupby("label", sort=False)):
        assert bar.name == label
        assert list(bar.y) == group.sort_values("mean", ascending=False)["word"].tolist()[:2]
        assert list(bar.x) == sorted(group["mean"], reverse=True)[:2]
    hostile = pd.DataFrame({"label": [SCRIPT], "word": [IMG], "total": [1.0], "mean": [1.0], "count": [1]})
    fig = plots.class_words(hostile)
    assert "<img" not in fig.data[0].y[0] and "<script" not in fig.layout.annotations[0].text
    assert fig.data[0].y[0] == "&lt;img src=x onerror=…"  # long words cut on the axis, whole in the hover
    assert fig.data[0].customdata[0][3] == plots._plain(IMG)
    assert plots._short_labels(["a" * 30, "a" * 31, "b"], 5) == ["aaaa…", "aaaa…·2", "b"]
    with pytest.raises(ValueError):
        plots.class_words(hostile, value="median")


def test_convergence_note_counts_the_rows_over_the_limit():
    table = sample()
    assert report.convergence_note(table) is None  # delta 1e-3 against gaps of 0.1 and more
    table.loc[[2, 5], "convergence_delta"] = 0.2
    errors = report.convergence_errors(table)
    assert errors[2] == pytest.approx(0.2 / 0.35) and errors[0] == pytest.approx(1e-3 / 0.45)
    note = report.convergence_note(table)
    assert note.startswith("2 of 8 rows have a convergence error above 5%")
    assert "⚠ 2 of 8 rows" in Parsed(report.dataset_report(table, None, None, text_column="text")).shown
    table["convergence_delta"] = None  # saliency: no convergence check
    assert report.convergence_errors(table).isna().all() and report.convergence_note(table) is None


def test_report_of_a_magnitude_method_without_gold_counts_the_predictions():
    table = sample().drop(columns=["gold_label", "correct"])
    table["method"] = "saliency"
    shown = Parsed(report.dataset_report(table, None, None, text_column="text", when=WHEN)).shown
    assert "What the model predicted" in shown and "positive562.5%" in shown and "negative337.5%" in shown
    assert "Words that matter most for each label" in shown and "blue when" not in shown
    assert "Words that push toward" not in shown and "against the predicted label" not in shown


def test_evaluation_of_a_table_read_back():
    table = sample()
    assert report.labels_of(table) == ["positive", "negative"]
    ev = report.evaluation_of(table)
    assert ev.accuracy == batch.evaluate(table, ["positive", "negative"]).accuracy == 0.625
    assert list(ev.confusion.index) == ["positive", "negative"]
    assert report.evaluation_of(table.drop(columns=["gold_label", "correct"])) is None
