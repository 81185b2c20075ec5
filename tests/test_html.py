"""Escaped HTML (explainers/html.py): the highlighted text, colours, the legend and the offline report."""
import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import explainers as ex
from explainers import html as xhtml
from explainers import plots

HOSTILE = '<img src=x onerror=alert(1)> & <script>alert("x")</script> "q" 👍'
BLUE, RED = "rgba(33,102,172,", "rgba(178,24,43,"


class _Parsed(HTMLParser):
    """Tags, attributes and the text a browser would show (<br> as a newline)."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.spans, self.text, self._open = [], [], [], []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "br":
            self.text.append("\n")
        elif tag == "span":
            self.spans.append({"attrs": dict(attrs), "text": ""})
            self._open.append(self.spans[-1])

    def handle_endtag(self, tag):
        if tag == "span" and self._open:
            self._open.pop()

    def handle_data(self, data):
        self.text.append(data)
        for span in self._open:
            span["text"] += data

    @property
    def shown(self) -> str:
        return "".join(self.text)


def _words(text: str, scores=None) -> list:
    """A Word for every whitespace-separated run of text, with its character span."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    scores = scores if scores is not None else [(-1) ** i * (i + 1) / 4 for i in range(len(spans))]
    return [ex.Word(text[s:e], s, e, float(v)) for (s, e), v in zip(spans, scores, strict=True)]


# --------------------------------------------------------------------------- highlighted text


@pytest.mark.parametrize("text", [HOSTILE, "line one\nline two\n\n  end ", "  lead & trail  ", "", "one"])
def test_highlighted_text_shows_exactly_the_original_text(text):
    words = _words(text)
    markup = xhtml.highlighted_text(text, words)
    parsed = _Parsed(markup)
    assert parsed.shown == text
    assert "\n" not in markup  # newlines are shown as <br>
    assert markup.count("<br>") == text.count("\n")
    assert {tag for tag, _ in parsed.tags} <= {"span", "br"}


def test_highlighted_text_escapes_hostile_text():
    words = _words(HOSTILE)
    markup = xhtml.highlighted_text(HOSTILE, words)
    assert "<img" not in markup and "<script" not in markup and "</script" not in markup
    assert "&lt;img" in markup and "&lt;script&gt;" in markup and "&amp;" in markup
    parsed = _Parsed(markup)
    assert [tag for tag, _ in parsed.tags] == ["span"] * len(words)
    for _, attrs in parsed.tags:
        assert set(attrs) == {"class", "style", "title"}  # no event handlers, no src


def test_every_word_is_a_span_with_its_score_in_the_title():
    text = 'say "hi" <b>now</b> & go'
    words = _words(text, [0.5, -0.25, 1e-7, 0.0, 2.0])
    markup = xhtml.highlighted_text(text, words)
    spans = _Parsed(markup).spans
    assert len(spans) == len(words)
    for span, word in zip(spans, words, strict=True):
        assert span["attrs"]["class"] == "xw"
        assert span["text"] == word.text
        assert span["attrs"]["title"] == f"{word.text}: {word.score:+.4g}"
    assert 'title="&quot;hi&quot;: -0.25"' in markup  # quotes cannot end the attribute early
    assert "title=\"&lt;b&gt;now&lt;/b&gt;: +1e-07\"" in markup


def test_highlight_colours_follow_the_scores():
    text = "good bad zero"
    words = _words(text, [2.0, -1.0, 0.0])
    spans = _Parsed(xhtml.highlighted_text(text, words)).spans
    styles = [span["attrs"]["style"] for span in spans]
    assert "background:rgba(33,102,172,0.850)" in styles[0]  # the largest magnitude sets the scale
    assert "background:rgba(178,24,43,0.425)" in styles[1]
    assert "background:rgba(33,102,172,0.000)" in styles[2]
    # An explicit scale replaces the default one; every word at least as strong as it is capped.
    capped = _Parsed(xhtml.highlighted_text(text, words, scale=0.5)).spans
    assert "rgba(33,102,172,0.850)" in capped[0]["attrs"]["style"]
    assert "rgba(178,24,43,0.850)" in capped[1]["attrs"]["style"]
    # No scores at all: nothing is coloured.
    flat = _Parsed(xhtml.highlighted_text(text, _words(text, [0.0, 0.0, 0.0]))).spans
    assert all("background:transparent" in span["attrs"]["style"] for span in flat)


def test_text_panel_wraps_the_highlighted_text():
    text = "a <b> c"
    words = _words(text)
    panel = xhtml.text_panel(text, words, 1.0)
    assert panel.startswith('<div class="xtext"') and panel.endswith("</div>")
    assert xhtml.highlighted_text(text, words, 1.0) in panel
    parsed = _Parsed(panel)
    assert parsed.shown == text
    assert [tag for tag, _ in parsed.tags][0] == "div"


# --------------------------------------------------------------------------- colour


@pytest.mark.parametrize("value, scale", [(1.0, 0.0), (1.0, -1.0), (float("nan"), 1.0), (float("inf"), 1.0),
                                          (float("-inf"), 1.0)])
def test_colour_is_transparent_without_a_scale_or_a_finite_value(value, scale):
    assert xhtml.colour(value, scale) == "transparent"


def test_colour_is_blue_for_positive_red_for_negative_with_capped_alpha():
    assert xhtml.colour(0.5, 1.0) == BLUE + "0.425)"
    assert xhtml.colour(-0.5, 1.0) == RED + "0.425)"
    assert xhtml.colour(1.0, 1.0) == BLUE + "0.850)"
    assert xhtml.colour(-30.0, 1.0) == RED + "0.850)"  # beyond the scale: capped
    assert xhtml.colour(0.0, 1.0) == BLUE + "0.000)"
    alphas = [float(xhtml.colour(v, 2.0)[len(BLUE):-1]) for v in np.linspace(0, 5, 21)]
    assert alphas == sorted(alphas) and max(alphas) == 0.85


# --------------------------------------------------------------------------- legend


def test_signed_legend_goes_from_against_to_for_the_target():
    markup = xhtml.legend(0.5, "<b>pos</b>")
    parsed = _Parsed(markup)
    assert "against <b>pos</b> (-0.5)" in parsed.shown and "for <b>pos</b> (+0.5)" in parsed.shown
    assert "<b>" not in markup and "&lt;b&gt;pos&lt;/b&gt;" in markup
    assert xhtml.colour(-0.5, 0.5) in markup and xhtml.colour(0.5, 0.5) in markup


def test_a_raw_score_legend_says_lower_and_raise():
    parsed = _Parsed(xhtml.legend(0.5, "<b>LABEL_0</b>", raw=True))
    assert "lowers the <b>LABEL_0</b> score (-0.5)" in parsed.shown
    assert "raises the <b>LABEL_0</b> score (+0.5)" in parsed.shown
    assert "against" not in parsed.shown


def test_unsigned_legend_goes_from_zero_to_most_important():
    markup = xhtml.legend(2.0, "<i>neg</i>", signed=False)
    parsed = _Parsed(markup)
    assert "most important for <i>neg</i> (+2)" in parsed.shown
    assert "against" not in parsed.shown and "(-2)" not in parsed.shown
    assert "<i>" not in markup
    assert RED not in markup and xhtml.colour(2.0, 2.0) in markup


# --------------------------------------------------------------------------- the standalone report


def _explanation(text, target, labels, **kw):
    words = _words(text)
    tokens = ["[CLS]"] + [w.text for w in words] + ["[SEP]"]
    offsets = [[0, 0]] + [[w.start, w.end] for w in words] + [[0, 0]]
    special = [True] + [False] * len(words) + [True]
    scores = [0.0] + [w.score for w in words] + [0.0]
    probs = dict(zip(labels, np.linspace(0.7, 0.1, len(labels)).tolist(), strict=True))
    fields = dict(target=target, score=0.75, baseline_score=0.125, delta=0.001, method="integrated_gradients",
                  options={"n_steps": 8}, provenance={"checkpoint": "local-model", "torch": "2.x"},
                  prediction=ex.Prediction(labels[0], probs))
    fields.update(kw)
    return ex.Explanation(text=text, tokens=tuple(tokens), token_offsets=np.asarray(offsets, dtype=np.int64),
                          special_tokens=np.asarray(special, dtype=bool),
                          token_scores=np.asarray(scores, dtype=np.float64), words=tuple(words), **fields)


def _hostile_explanation():
    evil = "<script>alert(1)</script>"
    return _explanation(
        HOSTILE, target=f"pos{evil}", labels=[f"pos{evil}", "<img src=y onerror=alert(2)>", 'neg"\'&'],
        method=f"saliency{evil}", options={f"k{evil}": "<img src=z onerror=alert(3)>", "n": 3},
        provenance={"checkpoint": f"ckpt{evil}", f"key{evil}": "<img src=w onerror=alert(4)>"},
        extras={"contrast": f"neg{evil}", "hypothesis_total": 0.5}, truncated=True)


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "div", "span", "br",
                "table", "tr", "td", "th"}


def test_report_is_a_standalone_page_with_a_strict_content_security_policy():
    exp = _explanation("a fine film\nreally", "positive", ["positive", "negative"])
    page = xhtml.report(exp, plots.units(exp), 1.0)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    parsed = _Parsed(page)
    csp = [attrs for tag, attrs in parsed.tags
           if tag == "meta" and attrs.get("http-equiv", "").lower() == "content-security-policy"]
    assert len(csp) == 1 and "default-src 'none'" in csp[0]["content"]
    assert "script" not in csp[0]["content"]
    assert "<script" not in page.lower()
    for needle in ("http://", "https://", "src=", "url(", "@import"):
        assert needle not in page
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS
    assert all(not name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    assert "a fine film\nreally" in parsed.shown


def test_report_escapes_every_user_string():
    exp = _hostile_explanation()
    page = xhtml.report(exp, plots.units(exp), 0.5, title="<script>alert('t')</script>")
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;" in page and "&lt;img" in page
    parsed = _Parsed(page)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS
    for _, attrs in parsed.tags:
        assert not {"src", "href"} & set(attrs) and not any(name.startswith("on") for name in attrs)
    shown = parsed.shown
    # The hostile strings are shown literally, as text, wherever the page mentions them.
    for literal in (HOSTILE, "pos<script>alert(1)</script>", "<img src=y onerror=alert(2)>", 'neg"\'&',
                    "saliency<script>alert(1)</script>", "k<script>alert(1)</script>=<img src=z onerror=alert(3)>",
                    "ckpt<script>alert(1)</script>", "key<script>alert(1)</script>", "<img src=w onerror=alert(4)>",
                    "minus the score of neg<script>alert(1)</script>"):
        assert literal in shown, literal


def test_report_contents():
    exp = _explanation("good bad fine", "positive", ["positive", "negative"])
    units = plots.units(exp)
    page = xhtml.report(exp, units, 1.0)
    shown = _Parsed(page).shown
    assert "Prediction: positive" in shown and "Explained: positive by integrated_gradients" in shown
    assert "n_steps=8" in shown and "local-model" in shown and "positive = 0.7500" in shown
    assert "baseline score0.1250" in shown and "convergence delta+1.000e-03" in shown
    assert "truncated" not in shown and "contrast" not in shown
    assert "for positive" in shown and "against positive" in shown  # a signed legend by default
    assert "width:70.0%" in page and "width:10.0%" in page  # probability bars
    # Top attributions: strongest first.
    rows = [f"{u.text}{u.start}{u.score:+.5f}" for u in sorted(units, key=lambda u: -abs(u.score))]
    assert [u.text for u in units] == ["good", "bad", "fine"] and len({abs(u.score) for u in units}) == 3
    positions = [shown.index(row) for row in rows]
    assert positions == sorted(positions)
    unsigned = xhtml.report(_explanation("good", "p", ["p"], extras={"signed": False}), [], 1.0)
    assert "most important for p" in _Parsed(unsigned).shown and "against p" not in _Parsed(unsigned).shown


def test_report_of_an_explanation_from_a_model(tiny):
    exp = ex.explain(tiny("bert"), HOSTILE[:40], method="saliency")
    units = plots.units(exp)
    scale = max(abs(u.score) for u in units)
    page = xhtml.report(exp, units, scale)
    assert "<img" not in page and "<script" not in page
    assert HOSTILE[:40] in _Parsed(page).shown
    assert not math.isnan(scale) and f"({scale:+.3g})" in page
