"""Page state (studio/state.py): a request survives the URL, and gives each kind of checkpoint its inputs."""
import json
from dataclasses import fields

import pytest

import explainers as ex
from studio.state import DEFAULT_LABELS, MAX_URL_TEXT, Request

NLI = ("contradiction", "neutral", "entailment")


def _everything_changed() -> Request:
    method = next(name for name in ex.METHODS if name != Request.method)
    return Request(
        checkpoint="someone/<b>model</b>", revision="a1b2c3", label_names="bad, good",
        text='Ünïcödé 👍 <script>alert("x")</script> & "quoted"\nsecond line',
        labels="sports, <i>politics</i>, économie", template="Il s'agit de {} & <b>rien</b>.",
        multi_label=True, mode="pair", hypothesis="Le client est ravi 😀 <img src=x>", method=method,
        target="<b>good</b>", contrast="bad & worse", options={"n_steps": 32, "stdev": 0.25, "baseline": "pad"},
        long_text="windows", window_aggregate="max")


def test_every_field_is_changed_in_the_sample():
    req, default = _everything_changed(), Request()
    for f in fields(Request):
        assert getattr(req, f.name) != getattr(default, f.name), f.name


def test_a_request_survives_the_url_round_trip():
    req = _everything_changed()
    query = req.query()
    assert set(query) == {f.name for f in fields(Request)}
    assert all(isinstance(value, str) for value in query.values())  # what a URL holds
    back = Request.from_query(query)
    assert back == req
    assert back.options == {"n_steps": 32, "stdev": 0.25, "baseline": "pad"}
    assert type(back.options["n_steps"]) is int and type(back.options["stdev"]) is float
    assert back.multi_label is True
    assert query["multi_label"] == "1" and json.loads(query["options"]) == req.options


def test_the_round_trip_of_a_few_changes_keeps_the_rest_at_their_defaults():
    req = Request(text="short", mode="pair")
    assert req.query() == {"text": "short", "mode": "pair"}
    assert Request.from_query(req.query()) == req


def test_defaults_are_left_out_of_the_url():
    assert Request().query() == {}
    assert Request.from_query({}) == Request()
    assert Request(multi_label=False, options={}).query() == {}


def test_sliding_windows_in_the_url_are_checked():
    assert Request.from_query({"long_text": "windows", "window_aggregate": "first"}).windowing() == {
        "long_text": "windows", "window_aggregate": "first"}
    bad = Request.from_query({"long_text": "<b>slide</b>", "window_aggregate": "sum"})
    assert (bad.long_text, bad.window_aggregate) == ("truncate", "mean") and bad.windowing() == {}


def test_a_long_text_is_left_out_of_the_url():
    long = Request(text="x" * (MAX_URL_TEXT + 1), labels="a, b")
    assert long.query() == {"labels": "a, b"}
    assert Request.from_query(long.query()).text == Request().text
    edge = Request(text="y" * MAX_URL_TEXT)
    assert edge.query() == {"text": "y" * MAX_URL_TEXT}


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "3", '"text"', "null", ""])
def test_bad_options_are_ignored(raw):
    req = Request.from_query({"options": raw, "target": "good"})
    assert req.options == {} and req.target == "good"


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("True", True), ("0", False),
                                           ("false", False), ("yes", False), ("", False), ("TRUE", False)])
def test_multi_label_from_the_url(raw, expected):
    assert Request.from_query({"multi_label": raw}).multi_label is expected


def test_an_unknown_method_falls_back_to_the_default():
    assert Request.from_query({"method": "<script>evil</script>"}).method == Request().method
    assert Request.from_query({"method": ""}).method == Request().method
    for name in ex.METHODS:
        assert Request.from_query({"method": name}).method == name


def test_over_long_values_are_cut_and_unknown_keys_ignored():
    req = Request.from_query({"labels": "a" * 30_000, "hypothesis": "h" * 20_000, "text": "t" * 20_001,
                              "nonsense": "1", "__class__": "x", "task_inputs": "y"})
    assert req.labels == "a" * 20_000 and req.hypothesis == "h" * 20_000 and req.text == "t" * 20_000
    assert not hasattr(req, "nonsense")
    assert type(req) is Request and callable(req.task_inputs)
    assert Request.from_query({"nonsense": "1"}) == Request()


def test_from_query_takes_any_mapping_and_returns_a_fresh_request():
    first = Request.from_query({"options": '{"n_steps": 8}'})
    first.options["n_steps"] = 99
    assert Request.from_query({}).options == {}  # no shared default dict
    assert Request().options == {}


# --------------------------------------------------------------------------- task inputs


def test_task_inputs_of_a_classifier_are_empty():
    assert _everything_changed().task_inputs("classification") == {}
    assert Request().task_inputs("classification") == {}


@pytest.mark.parametrize("mode", ["labels", "pair"])
def test_task_inputs_of_an_embedding_model_are_the_labels_whatever_the_mode(mode):
    req = Request(labels="a, b", template="About {}.", multi_label=True, mode=mode)
    assert req.task_inputs("embedding") == {"labels": "a, b", "template": "About {}.", "multi_label": True}
    default_template = Request(mode=mode).task_inputs("embedding")
    assert default_template == {"labels": DEFAULT_LABELS, "template": None, "multi_label": False}


def test_task_inputs_of_an_nli_model_follow_the_mode():
    zero_shot = Request(labels="x, y", template="", multi_label=True, mode="labels", hypothesis="H.")
    assert zero_shot.task_inputs("nli") == {"labels": "x, y", "template": None, "multi_label": True}
    pair = Request(labels="x, y", template="T {}.", mode="pair", hypothesis="Someone won.")
    assert pair.task_inputs("nli") == {"hypothesis": "Someone won."}


def test_the_library_picks_the_task_the_request_means(tiny):
    nli = tiny("bert", labels=NLI)
    assert nli.task == "nli"
    labels = Request(labels="sports, politics", mode="labels")
    task = ex.task_for(nli, **labels.task_inputs(nli.task))
    assert task.kind == "zero-shot" and task.labels == ("sports", "politics")
    pair = Request(mode="pair", hypothesis="Someone won.")
    task = ex.task_for(nli, **pair.task_inputs(nli.task))
    assert task.kind == "nli-pair" and task.labels == NLI
    clf = tiny("bert")
    for mode in ("labels", "pair"):
        assert ex.task_for(clf, **Request(mode=mode).task_inputs(clf.task)).kind == "classification"
