"""Texts longer than the model reads, explained by sliding windows (long_text="windows"): every word of
the whole text gets a score, each window is a complete explanation of its own, the whole text's
prediction is an aggregate that says so, a text that fits gets exactly the plain result, and the CLI and
the app show the windows."""

import numpy as np
import pytest

import explainers as ex
from explainers.attribution import ABSOLUTE_FLOOR
from explainers.words import split_words
from helpers import app, cli

SENTENCES = ["The movie was not bad at all, highly recommend.",
             "the plot is dull and the acting is worse; a waste of time.",
             "Scientists discovered a new species of frog in the rainforest."]


def long_text(clf, times: float = 3.0, sentences=SENTENCES) -> str:
    """Sentences repeated until the text has ``times`` as many tokens as the model reads."""
    parts, n = [], 0
    while n < times * clf.max_length:
        parts.append(sentences[len(parts) % len(sentences)])
        n = len(clf.tokenizer(" ".join(parts), add_special_tokens=False, verbose=False)["input_ids"])
    return " ".join(parts)


def without_timing(exp: ex.Explanation) -> dict:
    data = exp.to_dict()
    data["extras"] = {k: v for k, v in data["extras"].items() if k != "seconds"}
    return data


def assert_every_word_scored(exp: ex.Explanation) -> None:
    assert not exp.truncated
    assert [(w.start, w.end) for w in exp.words] == split_words(exp.text)
    assert all(w.tokens for w in exp.words), [w.text for w in exp.words if not w.tokens]
    assert np.isfinite([w.score for w in exp.words]).all()
    windows = exp.extras["windows"]
    assert windows[0]["start"] == 0 and windows[-1]["end"] == len(exp.text.rstrip())
    for before, after in zip(windows, windows[1:]):  # overlapping, in order, leaving nothing out
        assert before["start"] < after["start"] <= before["end"]
        assert after["first_token"] <= before["last_token"]


def test_every_word_of_a_long_text_is_scored_and_each_window_is_complete(tiny):
    clf = tiny("bert")
    text = long_text(clf)
    exp = ex.explain(clf, text, long_text="windows")
    assert_every_word_scored(exp)
    setting, windows = exp.extras["long_text"], exp.extras["windows"]
    assert setting["window_tokens"] == clf.max_length - 2 and setting["stride"] == setting["window_tokens"] // 2
    assert len(windows) >= 5
    assert exp.baseline_score is None and exp.delta is None and exp.gap is None
    tolerance = exp.options["tolerance"]
    for w in windows:
        gap = w["score"] - w["baseline_score"]
        assert w["attribution_total"] - gap == pytest.approx(w["delta"], abs=1e-9)  # completeness, up to delta
        assert abs(w["delta"]) <= max(tolerance * abs(gap), ABSOLUTE_FLOOR)
        # each window is its substring explained on its own, against the stitched explanation's target
        alone = ex.explain(clf, text[w["start"]:w["end"]], target=exp.target)
        assert alone.score == w["score"] and alone.baseline_score == w["baseline_score"]
        assert float(alone.token_scores.sum()) == pytest.approx(w["attribution_total"], abs=1e-9)
        assert alone.extras["steps"] == w["steps"] and alone.prediction.label == w["label"]
        assert len(clf.tokenizer(text[w["start"]:w["end"]])["input_ids"]) <= clf.max_length
        # a word in the middle of an inner window takes that window's score (the "central" rule)
        if 0 < w["index"] < len(windows) - 1:
            middle = (w["start"] + w["end"]) // 2
            word = min(exp.words, key=lambda x: abs(x.start - middle))
            own = next(x for x in alone.words if x.start == word.start - w["start"])
            assert own.text == word.text and word.score == pytest.approx(own.score, abs=1e-12)
    assert exp.convergence_error == max(w["convergence_error"] for w in windows)
    assert exp.converged == all(w["converged"] for w in windows)
    assert ex.Explanation.from_json(exp.to_json()) == exp


@pytest.mark.parametrize("family", ["roberta", "deberta-v3", "llama"])
def test_windows_stitch_word_pieces_of_other_tokenizers(tiny, family):
    """Byte-level BPE, SentencePiece and a decoder: a window's substring re-tokenizes its first word without
    the space before it, and never gets longer than the model reads."""
    clf = tiny(family)
    text = long_text(clf)
    central = ex.explain(clf, text, method="saliency", long_text="windows")
    mean = ex.explain(clf, text, method="saliency", long_text="windows", overlap="mean")
    assert_every_word_scored(central)
    assert_every_word_scored(mean)
    assert central.tokens == mean.tokens and len(central.token_scores) == len(central.tokens)
    assert not np.array_equal(central.token_scores, mean.token_scores)
    # the first words are in the first window only: both rules give that window's scores
    assert central.words[0].score == mean.words[0].score != 0
    for w in central.extras["windows"]:
        assert len(clf.tokenizer(text[w["start"]:w["end"]])["input_ids"]) <= clf.max_length


def test_a_text_the_model_reads_whole_gets_exactly_the_plain_explanation(tiny):
    clf = tiny("bert")
    for text, method in (("a gripping, funny and touching film that never lets go", "integrated_gradients"),
                         ("The movie was not bad at all, highly recommend", "occlusion")):
        plain = ex.explain(clf, text, method=method)
        windowed = ex.explain(clf, text, method=method, long_text="windows", stride=3, overlap="mean",
                              window_aggregate="max")
        assert np.array_equal(plain.token_scores, windowed.token_scores)
        assert plain.words == windowed.words and plain.tokens == windowed.tokens
        assert (plain.score, plain.baseline_score, plain.delta) == (windowed.score, windowed.baseline_score,
                                                                    windowed.delta)
        assert without_timing(plain) == without_timing(windowed)
        assert "windows" not in windowed.extras


def test_the_whole_text_prediction_is_an_aggregate_that_says_so(tiny):
    clf = tiny("bert")
    text = long_text(clf)
    exps = {how: ex.explain(clf, text, method="saliency", long_text="windows", window_aggregate=how)
            for how in ("mean", "max", "first")}
    windows = exps["mean"].extras["windows"]
    labels = list(clf.labels)
    per_window = np.array([[w["scores"][label] for label in labels] for w in windows])
    for how, expected in (("mean", per_window.mean(0)), ("max", per_window.max(0)), ("first", per_window[0])):
        exp = exps[how]
        assert [exp.prediction.scores[label] for label in labels] == pytest.approx(expected.tolist(), abs=1e-12)
        assert exp.prediction.label == exp.target == labels[int(np.argmax(expected))]
        notice = exp.prediction.notices[-1]
        assert f"over {len(windows)} overlapping windows of {clf.max_length - 2} tokens" in notice \
            or f"first of {len(windows)} overlapping windows" in notice
        assert notice.endswith("the model never read the whole text at once.")
        assert all(w["label"] == max(w["scores"], key=w["scores"].get) for w in exp.extras["windows"])
    assert exps["mean"].prediction.notices[-1].startswith("Mean of the model's probabilities")
    assert exps["mean"].score == pytest.approx(np.mean([w["score"] for w in windows]), abs=1e-12)
    # a target given: every window explains it, whatever the aggregate predicts
    other = next(label for label in labels if label != exps["mean"].target)
    exp = ex.explain(clf, text, method="saliency", long_text="windows", target=other)
    assert exp.target == other and all(w["score"] == pytest.approx(w["scores"][other], abs=1e-6)
                                       for w in exp.extras["windows"])
    shown = ex.plots.units(exps["mean"])
    assert [u.start for u in shown] == [w.start for w in exps["mean"].words]
    report = ex.html.report(exps["mean"], shown, ex.plots.scale_of([u.score for u in shown]))
    assert "the model never read the whole text at once" in report  # a report says what its prediction is
    assert f"window {len(windows)}</th><td>characters" in report
    assert exps["mean"]._repr_html_()
    adjacent = ex.explain(clf, text, method="saliency", long_text="windows", stride=clf.max_length - 2)
    assert "adjacent windows" in adjacent.prediction.notices[-1]
    assert len(adjacent.extras["windows"]) < len(windows)


def test_bad_windowing_arguments_are_refused_clearly(tiny):
    clf = tiny("bert")
    text = long_text(clf)
    size = clf.max_length - 2
    cases = [({"long_text": "slide"}, "long_text must be one of 'truncate', 'windows'"),
             ({"long_text": "windows", "stride": 0}, f"whole number from 1 to {size}"),
             ({"long_text": "windows", "stride": size + 1}, f"a window holds {size} on this model"),
             ({"long_text": "windows", "stride": 2.5}, "stride"),
             ({"long_text": "windows", "stride": True}, "stride"),
             ({"long_text": "windows", "overlap": "median"}, "Unknown overlap 'median'; use one of central, mean"),
             ({"long_text": "windows", "window_aggregate": "sum"}, "Unknown window_aggregate 'sum'"),
             ({"stride": 10}, "stride applies to sliding windows only"),
             ({"overlap": "mean"}, "overlap applies to sliding windows only")]
    for kwargs, message in cases:
        with pytest.raises(ex.ExplainerError, match=None) as err:
            ex.explain(clf, text, method="saliency", **kwargs)
        assert message in str(err.value), (kwargs, str(err.value))
    with pytest.raises(ex.ExplainerError) as err:
        ex.explain(clf, "a short text", method="saliency", long_text="windows", stride=size + 1)
    assert f"from 1 to {size}" in str(err.value)
    with pytest.raises(ex.ExplainerError) as err:
        ex.explain_many(clf, [text], method="saliency", long_text="windows")
    assert "explain_many reads each text truncated" in str(err.value) and "long_text='windows'" in str(err.value)
    assert ex.explain_many(clf, ["a film"], method="saliency", long_text="truncate")[0].words[-1].text == "film"
    exp = ex.explain(clf, text, method="saliency", long_text="windows")
    with pytest.raises(ex.ExplainerError) as err:
        ex.faithfulness(clf, exp)
    assert "stitched from" in str(err.value) and "sliding windows" in str(err.value)


def test_zero_shot_with_windows_on_builtin_zeroshot():
    clf = ex.load("builtin:zeroshot")
    sports = ["The team won the championship after a dramatic final match.",
              "The striker scored twice and the fans cheered in the stadium."]
    text = long_text(clf, 2.2, sports)
    exp = ex.explain(clf, text, method="saliency", labels="sports, business", long_text="windows")
    assert_every_word_scored(exp)
    assert exp.extras["task"] == "zero-shot-similarity" and exp.extras["labels"] == ["sports", "business"]
    assert exp.target == exp.prediction.label == "sports"
    assert all(set(w["scores"]) == {"sports", "business"} for w in exp.extras["windows"])
    assert "never read the whole text at once" in exp.prediction.notices[-1]


def test_nli_zero_shot_windows_leave_room_for_the_hypothesis(tiny):
    """An NLI model reads text and hypothesis together: windows are shorter by the longest hypothesis, and
    each window's completeness counts the hypothesis tokens too."""
    clf = tiny("roberta", labels=("contradiction", "neutral", "entailment"))
    labels = ["sports", "business and markets"]
    text = long_text(clf, 1.6)
    exp = ex.explain(clf, text, labels=labels, long_text="windows", n_steps=8)
    assert_every_word_scored(exp)
    longest = max(len(clf.tokenizer(ex.default_template(clf).format(label), add_special_tokens=False)["input_ids"])
                  for label in labels)
    assert exp.extras["long_text"]["window_tokens"] <= clf.max_length - 4 - longest
    for w in exp.extras["windows"]:
        window = text[w["start"]:w["end"]]
        lengths = [len(ids) for ids in clf.tokenizer([[window, ex.default_template(clf).format(label)]
                                                      for label in labels])["input_ids"]]
        assert max(lengths) <= clf.max_length
        assert w["attribution_total"] - (w["score"] - w["baseline_score"]) == pytest.approx(w["delta"], abs=1e-6)
        assert "hypothesis_total" in w


def test_builtin_sst2_long_review():
    clf = ex.load("builtin:sst2")
    review = ["The first half of the film is a gripping, funny and touching story that never lets go.",
              "Then the plot turns dull, the acting gets worse, and the last hour is a waste of time."]
    text = long_text(clf, 3.0, review)
    exp = ex.explain(clf, text, method="saliency", long_text="windows")
    assert_every_word_scored(exp)
    assert exp.extras["long_text"]["window_tokens"] == 510 and len(exp.extras["windows"]) >= 5
    truncated = ex.explain(clf, text, method="saliency")
    assert truncated.truncated and not exp.truncated and len(exp.words) > 2 * len(truncated.words)
    # the words the model finds negative in the last window's text are scored there too
    last = exp.extras["windows"][-1]
    assert last["end"] == len(text) and exp.words[-1].end == len(text)
    assert "never read the whole text at once" in exp.prediction.notices[-1]


run_cli = cli


def test_cli_prints_the_windows(tiny_folder, tiny):
    folder = str(tiny_folder("bert"))
    text = long_text(tiny("bert"))
    out = run_cli("--checkpoint", folder, "--text", text, "--method", "saliency", "--long-text", "windows",
                  "--stride", "31", "--window-aggregate", "max")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    n = len([line for line in lines if line.startswith("  window ")])
    assert n >= 5 and lines[0].startswith(f"prediction (max of {n} windows): ")
    assert f"windows: {n} of 62 tokens, stride 31" in out.stdout
    assert "  window 1: characters 0-" in out.stdout and "never read the whole text at once" in out.stdout
    out = run_cli("--checkpoint", folder, "--text", text, "--long-text", "windows", "--stride", "0")
    assert out.returncode == 2 and "stride" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("--checkpoint", folder, "--text", text, "--method", "saliency")
    assert out.returncode == 0 and "--long-text windows explains all of it" in out.stdout


@pytest.fixture
def local(monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")


def test_the_app_shows_the_windows_and_says_the_prediction_is_an_aggregate(local, tiny_folder, tiny):
    folder = str(tiny_folder("bert"))
    text = long_text(tiny("bert"))
    at = app(checkpoint=folder, text=text, method="saliency")
    assert not at.exception, at.exception
    assert any("only its first part was explained" in w.value for w in at.warning)
    at.radio(key="w.long_text").set_value("windows")
    next(b for b in at.button if b.label == "Explain").click()
    at = at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["request"].long_text == "windows"
    assert at.query_params["long_text"] in ("windows", ["windows"])
    expected = ex.explain(ex.load(folder), text, method="saliency", long_text="windows")
    table = next(d.value for d in at.dataframe if "window" in d.value.columns)
    assert len(table) == len(expected.extras["windows"])
    assert list(table["predicted"]) == [w["label"] for w in expected.extras["windows"]]
    assert list(table["characters"])[0].startswith("0–")
    infos = [i.value for i in at.info]
    assert any("never read the whole text at once" in i for i in infos)  # the aggregate's notice
    assert any("Not measured for sliding windows" in i for i in infos)  # the faithfulness panel
    assert not any("only its first part was explained" in w.value for w in at.warning)
    assert any(f"({len(table)} windows)" in m.value or f"of {len(table)} windows)" in m.value for m in at.markdown)
    # the same request from the URL, the whole-text prediction the first window's
    at = app(checkpoint=folder, text=text, method="saliency", long_text="windows", window_aggregate="first")
    assert not at.exception and at.session_state["request"].window_aggregate == "first"
    assert any("first window" in c.value for c in at.caption)
