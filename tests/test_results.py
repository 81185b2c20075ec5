"""Results are plain data: JSON round-trip, schema version, escaped HTML."""
import json

import numpy as np
import pytest

import explainers as ex

HOSTILE = 'Nice <img src=x onerror=alert(1)> & <script>alert("x")</script> "quoted" 👍'


@pytest.mark.parametrize("method", ["integrated_gradients", "occlusion"])
def test_json_round_trip_is_exact(tiny, method):
    exp = ex.explain(tiny("roberta"), HOSTILE, method=method)
    text = exp.to_json()
    back = ex.Explanation.from_json(text)
    assert back == exp
    assert back.to_json() == text
    np.testing.assert_array_equal(back.token_scores, exp.token_scores)
    assert back.token_scores.dtype == np.float64
    assert back.words == exp.words
    assert back.prediction == exp.prediction
    data = json.loads(text)
    assert data["schema_version"] == 1
    assert data["provenance"]["checkpoint"] == exp.provenance["checkpoint"]
    assert {"torch", "transformers", "captum", "explainers"} <= set(data["provenance"])


def test_provenance_has_content_hash_for_local_folders(tiny):
    prov = ex.explain(tiny("bert"), "good", method="saliency").provenance
    assert prov["source"] == "local" and len(prov["content_sha256"]) == 64


def test_results_hold_no_torch_tensors(tiny):
    exp = ex.explain(tiny("bart"), "good film")
    for value in vars(exp).values():
        assert "torch" not in type(value).__module__


def test_frozen(tiny):
    exp = ex.explain(tiny("bert"), "good", method="saliency")
    with pytest.raises(AttributeError):
        exp.score = 1.0


def test_unknown_schema_version_is_a_clear_error(tiny):
    data = ex.explain(tiny("bert"), "good", method="saliency").to_dict()
    data["schema_version"] = 99
    with pytest.raises(ex.ExplainerError, match="schema version"):
        ex.Explanation.from_json(json.dumps(data))
    with pytest.raises(ex.ExplainerError):
        ex.Explanation.from_json("not json")
    with pytest.raises(ex.ExplainerError):
        ex.Explanation.from_json('{"schema_version": 1}')


class _Parsed(__import__("html.parser").parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = set(), [], []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.extend(name for name, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_notebook_html_is_escaped(tiny):
    clf = tiny("bert")
    text = HOSTILE[:40]  # short enough not to be truncated by the tiny model
    exp = ex.explain(clf, text, method="saliency")
    assert not exp.truncated
    parsed = _Parsed()
    parsed.feed(exp._repr_html_())
    assert parsed.tags <= {"div", "b", "br", "span", "i"}
    assert set(parsed.attrs) <= {"style", "class", "title"}
    assert text in "".join(parsed.text)  # the hostile markup shows literally, as text


def test_figures_escape_labels_that_plotly_would_read_as_tags():
    from explainers import plots

    pred = ex.Prediction(label="<a href='https://x.example'>x</a>", scores={"<a href='https://x.example'>x</a>": 0.7,
                                                                         "<b>b</b>": 0.3})
    bars = plots.probabilities(pred)
    assert list(bars.data[0].y) == ["&lt;a href='https://x.example'&gt;x&lt;/a&gt;", "&lt;b&gt;b&lt;/b&gt;"]
    top = plots.top_units([plots.Unit("<i>", 0, 3, 0.5)])
    assert list(top.data[0].y) == ["&lt;i&gt; (0)"]
