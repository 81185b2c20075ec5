"""Figure builders (explainers/plots.py): units of the text, colour scales and what each figure shows."""
from itertools import pairwise

import numpy as np
import pytest

import explainers as ex
from explainers import plots
from explainers.plots import OTHER_COLOUR, TARGET_COLOUR, Unit
from helpers import TEXTS


def _explanation(text, tokens, offsets, special, scores, words, **kw):
    """An Explanation built by hand: only the fields the figures read need real values."""
    fields = dict(target="positive", score=0.9, baseline_score=0.1, delta=None, method="saliency", options={},
                  provenance={"checkpoint": "hand-made"},
                  prediction=ex.Prediction("positive", {"negative": 0.1, "positive": 0.9}))
    fields.update(kw)
    return ex.Explanation(text=text, tokens=tuple(tokens), token_offsets=np.asarray(offsets, dtype=np.int64),
                          special_tokens=np.asarray(special, dtype=bool),
                          token_scores=np.asarray(scores, dtype=np.float64), words=tuple(words), **fields)


def _pieces(text):
    """A hand-made explanation of "good 👍 film" with the token layout of a byte-level BPE model:
    specials at (0, 0), a zero-width piece, four byte pieces of the emoji on the same span, a word in two pieces."""
    assert text == "good 👍 film"
    tokens = ["<s>", "go", "od", "Ġ", "ð", "Ł", "ĳ", "į", "Ġf", "ilm", "</s>"]
    offsets = [[0, 0], [0, 2], [2, 4], [5, 5], [5, 6], [5, 6], [5, 6], [5, 6], [7, 8], [8, 11], [0, 0]]
    special = [True] + [False] * 9 + [True]
    scores = [9.0, 0.5, -0.25, 7.0, 0.1, 0.2, 0.3, 0.4, -1.0, 0.5, -9.0]
    words = [ex.Word("good", 0, 4, 0.25, (1, 2)), ex.Word("👍", 5, 6, 8.0, (3, 4, 5, 6, 7)),
             ex.Word("film", 7, 11, -0.5, (8, 9))]
    return _explanation(text, tokens, offsets, special, scores, words)


# --------------------------------------------------------------------------- units


def test_word_view_is_the_words():
    exp = _pieces("good 👍 film")
    assert plots.units(exp) == plots.units(exp, "words") == [
        Unit("good", 0, 4, 0.25), Unit("👍", 5, 6, 8.0), Unit("film", 7, 11, -0.5)]


def test_token_view_merges_pieces_of_one_span_and_skips_specials_and_empty_spans():
    exp = _pieces("good 👍 film")
    got = plots.units(exp, "tokens")
    assert [(u.text, u.start, u.end) for u in got] == [("go", 0, 2), ("od", 2, 4), ("👍", 5, 6), ("f", 7, 8),
                                                      ("ilm", 8, 11)]
    scores = [u.score for u in got]
    np.testing.assert_allclose(scores, [0.5, -0.25, 0.1 + 0.2 + 0.3 + 0.4, -1.0, 0.5])
    assert 9.0 not in scores and -9.0 not in scores and 7.0 not in scores  # specials and the zero-width piece


def test_token_view_skips_special_tokens_even_with_a_span():
    text = "a [SEP] b"  # a special token typed in the text has a real span
    offsets = [[0, 0], [0, 1], [2, 7], [8, 9], [0, 0]]
    special = [True, False, True, False, True]
    exp = _explanation(text, ["[CLS]", "a", "[SEP]", "b", "[SEP]"], offsets, special, [1.0, 0.5, 5.0, -0.5, 1.0],
                       [ex.Word("a", 0, 1, 0.5), ex.Word("b", 8, 9, -0.5)])
    assert plots.units(exp, "tokens") == [Unit("a", 0, 1, 0.5), Unit("b", 8, 9, -0.5)]


def test_token_view_never_overlaps_and_every_unit_is_its_span_of_the_text():
    text = "abcdefghij"
    # Overlapping pieces (0-4 and 2-6), a piece inside an earlier one (1-3), a duplicate span (6-8 twice).
    offsets = [[0, 0], [0, 4], [1, 3], [2, 6], [6, 8], [6, 8], [9, 10], [0, 0]]
    special = [True, False, False, False, False, False, False, True]
    scores = [1.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0]
    exp = _explanation(text, ["t"] * 8, offsets, special, scores, [ex.Word(text, 0, 10, 0.0)])
    got = plots.units(exp, "tokens")
    for unit in got:
        assert unit.text == text[unit.start:unit.end] and unit.end > unit.start
    for before, after in pairwise(got):
        assert before.end <= after.start
    assert [(u.start, u.end) for u in got] == [(0, 4), (4, 6), (6, 8), (9, 10)]
    np.testing.assert_allclose([u.score for u in got], [0.1, 0.3, 0.9, 0.6])


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_token_view_of_a_real_explanation(tiny, family):
    text = TEXTS[2] + " 👍"
    exp = ex.explain(tiny(family), text, method="saliency")
    got = plots.units(exp, "tokens")
    assert got
    for unit in got:
        assert unit.text == exp.text[unit.start:unit.end] and unit.end > unit.start
    for before, after in pairwise(got):
        assert before.end <= after.start
    specials = set(np.flatnonzero(exp.special_tokens).tolist())
    # Every non-special, non-empty token's score lands in exactly one unit: the totals agree.
    kept = [i for i, (s, e) in enumerate(exp.token_offsets.tolist()) if i not in specials and e > s]
    assert sum(u.score for u in got) == pytest.approx(float(exp.token_scores[kept].sum()))
    assert len(got) <= len(kept)
    words = plots.units(exp, "words")
    assert [(u.text, u.start, u.end) for u in words] == [(w.text, w.start, w.end) for w in exp.words]


def test_byte_pieces_of_an_emoji_are_one_token_unit(tiny):
    exp = ex.explain(tiny("roberta"), "good 👍 film", method="saliency")
    emoji = [u for u in plots.units(exp, "tokens") if u.text == "👍"]
    assert len(emoji) == 1
    pieces = [i for i, (s, e) in enumerate(exp.token_offsets.tolist()) if (s, e) == (5, 6)]
    assert len(pieces) > 1  # the byte-level tokenizer does split it
    assert emoji[0].score == pytest.approx(float(exp.token_scores[pieces].sum()))


# --------------------------------------------------------------------------- scales and ordering


def test_scale_of_max_and_p95():
    values = [0.5, -2.0, 1.0] + [0.1] * 17  # 20 values, one outlier
    assert plots.scale_of(values) == 2.0 == plots.scale_of(values, "max")
    p95 = plots.scale_of(values, "p95")
    assert p95 == pytest.approx(float(np.percentile(np.abs(values), 95)))
    assert 0.1 <= p95 < 2.0
    assert plots.scale_of(v for v in [-3.0, 1.0]) == 3.0  # any iterable, magnitudes
    assert plots.scale_of(np.array([-1.5, 0.5])) == 1.5


@pytest.mark.parametrize("mode", ["max", "p95"])
def test_scale_of_nothing_is_zero(mode):
    assert plots.scale_of([], mode) == 0.0
    assert plots.scale_of(np.array([]), mode) == 0.0


def test_strongest_orders_by_magnitude_and_keeps_text_order_on_ties():
    items = [Unit("a", 0, 1, 0.1), Unit("b", 2, 3, -0.5), Unit("c", 4, 5, 0.5), Unit("d", 6, 7, -0.9),
             Unit("e", 8, 9, 0.0), Unit("f", 10, 11, 0.5)]
    assert [u.text for u in plots.strongest(items)] == ["d", "b", "c", "f", "a", "e"]
    assert [u.text for u in plots.strongest(items, 3)] == ["d", "b", "c"]
    assert plots.strongest(items, 0) == []
    assert [u.text for u in plots.strongest(items, 100)] == ["d", "b", "c", "f", "a", "e"]
    assert [u.text for u in items] == ["a", "b", "c", "d", "e", "f"]  # the input is not reordered


# --------------------------------------------------------------------------- figures


def test_probabilities_bars_in_label_order_with_the_target_highlighted():
    pred = ex.Prediction("b", {"a": 0.2, "b": 0.5, "<b>x</b>": 0.3})
    fig = plots.probabilities(pred)
    bar = fig.data[0]
    assert bar.orientation == "h"
    assert list(bar.y) == ["a", "b", "&lt;b&gt;x&lt;/b&gt;"]
    np.testing.assert_allclose(np.asarray(bar.x, dtype=float), [0.2, 0.5, 0.3])
    assert list(bar.marker.color) == [OTHER_COLOUR, TARGET_COLOUR, OTHER_COLOUR]
    assert list(bar.text) == ["0.200", "0.500", "0.300"]
    assert list(fig.layout.xaxis.range) == [0, 1]
    # An explicit target (here the escaped-looking label) wins over the predicted label.
    other = plots.probabilities(pred, target="<b>x</b>", title="Mine")
    assert list(other.data[0].marker.color) == [OTHER_COLOUR, OTHER_COLOUR, TARGET_COLOUR]
    assert other.layout.title.text == "Mine"
    assert list(plots.probabilities(pred, target="nowhere").data[0].marker.color) == [OTHER_COLOUR] * 3


def test_top_units_shows_the_k_strongest_escaped():
    items = [Unit("<b>x</b>", 0, 8, 0.2), Unit("b", 9, 10, -0.7), Unit("c", 11, 12, 0.4), Unit("d", 13, 14, -0.1)]
    fig = plots.top_units(items, k=3)
    bar = fig.data[0]
    assert list(bar.y) == ["b (9)", "c (11)", "&lt;b&gt;x&lt;/b&gt; (0)"]
    np.testing.assert_allclose(np.asarray(bar.x, dtype=float), [-0.7, 0.4, 0.2])
    np.testing.assert_allclose(np.asarray(bar.marker.color, dtype=float), [-0.7, 0.4, 0.2])
    assert bar.marker.cmin == pytest.approx(-0.7) and bar.marker.cmax == pytest.approx(0.7)  # symmetric about 0
    assert "Top 3" in fig.layout.title.text
    everything = plots.top_units(items)  # default k is larger than the input
    assert len(everything.data[0].y) == 4


def test_top_units_of_all_zero_scores_still_has_a_colour_range():
    fig = plots.top_units([Unit("a", 0, 1, 0.0), Unit("b", 2, 3, 0.0)])
    assert fig.data[0].marker.cmin == -1.0 and fig.data[0].marker.cmax == 1.0


def test_paired_words_without_top_keeps_every_word_in_order():
    names = ["a", "<i>b</i>", "a"]
    fig = plots.paired_words(names, [0.1, 0.2, 0.3], [0.4, 0.5, 0.6], "rollout", "attribution", "Pairs")
    first, second = fig.data
    assert list(first.y) == list(second.y) == ["a", "&lt;i&gt;b&lt;/i&gt;", "a"]
    np.testing.assert_allclose(np.asarray(first.x, dtype=float), [0.1, 0.2, 0.3])
    np.testing.assert_allclose(np.asarray(second.x, dtype=float), [0.4, 0.5, 0.6])
    assert (first.name, second.name) == ("rollout", "attribution")
    assert fig.layout.barmode == "group"


def test_paired_words_top_keeps_the_largest_sums_descending_ties_in_input_order():
    names = ["w0", "w1", "w2", "w3", "w4"]
    first = [0.1, 0.5, 0.2, 0.0, 0.3]
    second = [0.1, 0.0, 0.3, 0.1, 0.2]  # sums 0.2, 0.5, 0.5, 0.1, 0.5
    fig = plots.paired_words(names, first, second, "one", "two", "t", top=4)
    a, b = fig.data
    assert list(a.y) == list(b.y) == ["w1", "w2", "w4", "w0"]
    # The two bars of a word stay paired: each word keeps its own first and second value.
    pairs = {n: (f, s) for n, f, s in zip(names, first, second, strict=True)}
    got = np.column_stack([np.asarray(a.x, dtype=float), np.asarray(b.x, dtype=float)])
    np.testing.assert_allclose(got, [pairs[n] for n in ["w1", "w2", "w4", "w0"]])
    assert list(plots.paired_words(names, first, second, "one", "two", "t", top=1).data[0].y) == ["w1"]
    assert len(plots.paired_words(names, first, second, "one", "two", "t", top=50).data[0].y) == 5


def test_head_relevance_is_layers_by_heads():
    matrix = np.arange(6, dtype=float).reshape(2, 3)
    fig = plots.head_relevance(matrix, "<b>pos</b>")
    heat = fig.data[0]
    assert list(heat.x) == ["head 1", "head 2", "head 3"]
    assert list(heat.y) == ["layer 1", "layer 2"]
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), matrix)
    assert "&lt;b&gt;pos&lt;/b&gt;" in fig.layout.title.text and "<b>" not in fig.layout.title.text


def test_attention_matrix_picks_the_kept_queries_and_keys():
    rng = np.random.default_rng(0)
    matrix = rng.random((4, 5))
    queries = ("[CLS]", "<b>", "x", "[SEP]")
    keys = ("[CLS]", "a", "a", "<i>", "[SEP]")
    fig = plots.attention_matrix(matrix, queries, keys, [1, 2], [1, 2, 3], "layer 1")
    heat = fig.data[0]
    assert list(heat.y) == ["&lt;b&gt;·1", "x·2"]
    assert list(heat.x) == ["a·1", "a·2", "&lt;i&gt;·3"]  # repeated tokens stay distinct categories
    assert len(set(heat.x)) == 3
    np.testing.assert_allclose(np.asarray(heat.z, dtype=float), matrix[np.ix_([1, 2], [1, 2, 3])])
    assert fig.layout.title.text == "layer 1"
    assert heat.zmin == 0 and heat.zmid is None  # a sequential scale from zero by default
    diverging = plots.attention_matrix(matrix - 0.5, queries, keys, range(4), range(5), "d", diverging=True)
    assert diverging.data[0].zmid == 0 and np.asarray(diverging.data[0].z).shape == (4, 5)
