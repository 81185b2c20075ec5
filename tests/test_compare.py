"""Comparing two explanations (explainers/compare.py): words aligned across tokenizers, rank agreement,
disagreements, attention on the same words, and list mode's table and filters."""
import json
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import explainers as ex
from explainers import plots
from explainers.words import fold, split_words

# WordPiece (BERT), byte-level BPE (RoBERTa), SentencePiece unigram (XLM-R; ALBERT lowercases)
TOKENIZERS = ("bert", "roberta", "xlm-roberta", "albert")
TEXTS = [
    "Café naïve 👍🏽 — the film, the film!! isn't bad… 😀 really",
    "Ünïcödé über-cool: (really) REALLY good; 👨‍👩‍👧 go go go?!",
]


@pytest.fixture(scope="module")
def explanations(tiny):
    return {(family, text): ex.explain(tiny(family), text, method="saliency")
            for family in TOKENIZERS for text in TEXTS}


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("first, second", list(combinations(TOKENIZERS, 2)))
def test_words_line_up_across_tokenizers(explanations, first, second, text):
    a, b = explanations[first, text], explanations[second, text]
    assert a.tokens != b.tokens  # really different pieces
    result = ex.compare(a, b)
    spans = split_words(text)
    assert [(w.start, w.end) for w in result.a_words] == [(w.start, w.end) for w in result.b_words] == spans
    for wa, wb in zip(result.a_words, result.b_words):
        assert wa.text == wb.text == text[wa.start:wa.end]
        assert wa.tokens and wb.tokens  # every word got pieces from both tokenizers
    assert result.words == len(spans) and result.notes == []
    assert [w.score for w in result.a_words] == [w.score for w in a.words]  # nothing moved or dropped


def test_repeated_words_stay_apart(explanations):
    text = TEXTS[0]
    result = ex.compare(explanations["bert", text], explanations["roberta", text])
    films = [w for w in result.a_words if w.text == "film"]
    assert len(films) == 2 and films[0].start != films[1].start
    assert len({(d.start, d.end) for d in result.disagreements}) == result.words  # one row per word, none merged


def test_agreement_is_scipys_on_the_aligned_shares(explanations):
    text = TEXTS[1]
    a, b = explanations["xlm-roberta", text], explanations["roberta", text]
    result = ex.compare(a, b)
    x = np.abs([w.score for w in a.words])
    y = np.abs([w.score for w in b.words])
    np.testing.assert_allclose(result.a_shares, x / x.sum())
    np.testing.assert_allclose(result.b_shares, y / y.sum())
    assert result.spearman == pytest.approx(stats.spearmanr(x, y).statistic)
    assert result.kendall == pytest.approx(stats.kendalltau(x, y).statistic)
    assert result.spearman == pytest.approx(ex.rank_correlation(a.words, b.words))
    assert ex.compare(a, a).spearman == pytest.approx(1.0) and ex.compare(a, a).kendall == pytest.approx(1.0)


def _explanation(text, scores, method="integrated_gradients", signed=True, keep=None, target="positive"):
    """A hand-made explanation: one token per word of ``text`` (the first ``keep`` words when truncated)."""
    spans = split_words(text)[:keep]
    assert len(spans) == len(scores)
    offsets = np.array([[0, 0], *spans, [0, 0]], dtype=np.int64)
    special = np.array([True] + [False] * len(spans) + [True])
    token_scores = np.array([0.0, *scores, 0.0])
    words = fold(text, token_scores, offsets, special, "sum", spans[-1][1] if keep else None)
    return ex.Explanation(
        text=text, tokens=("[CLS]", *(text[s:e] for s, e in spans), "[SEP]"), token_offsets=offsets,
        special_tokens=special, token_scores=token_scores, words=words, target=target, score=0.9,
        baseline_score=None, delta=None, method=method, options={}, provenance={"checkpoint": "hand-made"},
        prediction=ex.Prediction(target, {"negative": 0.1, "positive": 0.9}), truncated=keep is not None,
        extras={"signed": signed})


def test_disagreements_are_ranked_by_the_difference_of_shares():
    text = "not bad at all , great"
    a = _explanation(text, [4.0, -2.0, 1.0, 1.0, 0.0, 2.0])  # total |score| 10
    b = _explanation(text, [1.0, 2.0, 1.0, 0.0, 0.0, 6.0])  # total 10
    result = ex.compare(a, b)
    assert [d.text for d in result.disagreements] == ["great", "not", "all", "bad", "at", ","]
    assert [round(d.difference, 6) for d in result.disagreements] == [-0.4, 0.3, 0.1, 0.0, 0.0, 0.0]
    top = result.top(2)
    assert (top[0].a_share, top[0].b_share, top[0].a_score, top[0].b_score) == pytest.approx((0.2, 0.6, 2.0, 6.0))
    bad = next(d for d in result.disagreements if d.text == "bad")
    assert bad.opposite and not next(d for d in result.disagreements if d.text == "not").opposite
    assert result.signed
    unsigned = ex.compare(a, _explanation(text, [1.0, 2.0, 1.0, 0.0, 0.0, 6.0], "saliency", signed=False))
    assert not unsigned.signed and not any(d.opposite for d in unsigned.disagreements)  # signs not compared


def test_a_truncated_explanation_is_compared_on_the_common_words():
    text = "one two three four five six"
    full = _explanation(text, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    short = _explanation(text, [3.0, 2.0, 1.0, 0.5], keep=4)
    result = ex.compare(full, short)
    assert [w.text for w in result.a_words] == [w.text for w in result.b_words] == ["one", "two", "three", "four"]
    np.testing.assert_allclose(result.a_shares, np.array([1, 2, 3, 4]) / 10)  # shares over the common words
    assert (result.a_total, result.b_total) == (6, 4)
    assert result.notes == ["B read only the first 4 of the text's 6 words (its input is shorter).",
                            "The comparison is over the 4 words both read."]
    assert result.spearman == pytest.approx(-1.0) and result.kendall == pytest.approx(-1.0)
    assert ex.compare(short, full).notes[0].startswith("A read only the first 4")


def test_truncation_by_real_tokenizers(tiny):
    text = " ".join(["the film is good, the acting 👍 is bad"] * 8)  # past the tiny models' 64 tokens
    a = ex.explain(tiny("bert"), text, method="saliency")
    b = ex.explain(tiny("roberta"), text, method="saliency")
    assert a.truncated and b.truncated and len(a.words) != len(b.words)
    result = ex.compare(a, b)
    assert result.words == min(len(a.words), len(b.words))
    assert [(w.start, w.end) for w in result.a_words] == split_words(text)[:result.words]
    assert any("read only the first" in n for n in result.notes)


def test_a_constant_scoring_has_no_rank_agreement():
    text = "a b c"
    result = ex.compare(_explanation(text, [1.0, 1.0, 1.0]), _explanation(text, [1.0, 2.0, 3.0]))
    assert np.isnan(result.spearman) and np.isnan(result.kendall)


def test_different_texts_are_refused():
    with pytest.raises(ex.ExplainerError, match="same text"):
        ex.compare(_explanation("a b", [1.0, 2.0]), _explanation("a c", [1.0, 2.0]))


# --------------------------------------------------------------------------- attention


def test_word_attention_folds_each_layers_row_onto_the_words(tiny):
    text = TEXTS[0]
    maps = ex.attention(tiny("roberta"), text)
    words = ex.word_attention(maps, "max")
    rows = ex.from_reader(ex.combine_heads(maps.encoder, "max"), maps.reads)
    for layer in range(maps.layers):
        folded = fold(text, rows[layer], maps.token_offsets, maps.special_tokens)
        np.testing.assert_allclose(words.rows[layer], [w.score for w in folded], atol=1e-12)
    np.testing.assert_allclose(words.rows.sum(axis=1) + rows[:, maps.special_tokens].sum(axis=1), rows.sum(axis=1))
    np.testing.assert_allclose(words.special, rows[:, maps.special_tokens].sum(axis=1) / rows.sum(axis=1))
    assert words.reader == "<s>" and [(w.start, w.end) for w in words.words] == split_words(text)


def test_cls_and_s_attention_on_the_same_words(tiny):
    text = TEXTS[1]
    bert, roberta = ex.attention(tiny("bert"), text), ex.attention(tiny("roberta"), text)
    result = ex.compare_attention(bert, roberta, "gradient")
    assert (result.a.reader, result.b.reader) == ("[CLS]", "<s>")
    assert [(w.start, w.end) for w in result.words] == split_words(text)
    assert result.a_rows.shape == (bert.layers, len(result.words)) and result.b_rows.shape[1] == len(result.words)
    np.testing.assert_allclose(result.a_rows.sum(axis=1), 1.0)  # shares of each layer's attention to the words
    raw = ex.compare_attention(bert, roberta, "gradient", share=False)
    np.testing.assert_allclose(raw.a_rows, ex.word_attention(bert, "gradient").rows)
    np.testing.assert_allclose(result.b_rows, raw.b_rows / raw.b_rows.sum(axis=1, keepdims=True))


def test_attention_of_a_truncated_model_is_compared_on_the_words_both_read(tiny):
    text = " ".join(["the film is good, the acting is bad"] * 8)
    bert, small = ex.attention(tiny("bert"), text), ex.attention(ex.load("builtin:sst2"), text)
    result = ex.compare_attention(small, bert)
    assert small.truncated is False and bert.truncated
    assert len(result.words) == len(ex.word_attention(bert).words) < len(split_words(text))
    assert result.notes and result.notes[0].startswith("A also read")


def test_the_side_by_side_figure_shares_words_and_scale():
    words = [ex.Word("<b>x</b>", 0, 8, 0.0), ex.Word("film", 9, 13, 0.0), ex.Word("film", 14, 18, 0.0)]
    a, b = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]), np.array([[0.9, 0.05, 0.05]] * 3)
    fig = plots.attention_side_by_side(words, a, b, "A: <i>one</i>", "B: two", value="share")
    spec = json.loads(fig.to_json())
    first, second = spec["data"]
    assert first["y"] == second["y"] == ["&lt;b&gt;x&lt;/b&gt;·1", "film·2", "film·3"]  # escaped, repeats apart
    assert first["x"] == ["layer 1", "layer 2"] and second["x"] == ["layer 1", "layer 2", "layer 3"]
    assert first["coloraxis"] == second["coloraxis"] == "coloraxis"
    assert spec["layout"]["coloraxis"]["cmax"] == pytest.approx(0.9)
    assert "<i>" not in json.dumps(spec["layout"]["annotations"])
    kept = json.loads(plots.attention_side_by_side(words, a, b, "A", "B", keep=[2]).to_json())
    assert kept["data"][0]["y"] == ["film·3"]


# --------------------------------------------------------------------------- list mode


def test_pasted_lines_with_and_without_gold_labels():
    texts, gold = ex.parse_lines("positive\tA fine film\n\n  a plain line  \nnegative\tdull\tand long\n\t\n")
    assert texts == ["A fine film", "a plain line", "dull\tand long"]
    assert gold == ["positive", None, "negative"]


def test_texts_and_gold_from_a_table():
    table = ex.batch.read_table(b"review,label,stars\ngood,positive,5\n bad ,,1\n", "reviews.csv")
    assert ex.texts_and_gold(table, "review", "label") == (["good", " bad "], ["positive", None])
    assert ex.texts_and_gold(table, "review") == (["good", " bad "], [None, None])
    with pytest.raises(ex.ExplainerError, match="no text column 'text'"):
        ex.texts_and_gold(table, "text")
    with pytest.raises(ex.ExplainerError, match="holds numbers"):
        ex.texts_and_gold(table, "stars")
    with pytest.raises(ex.ExplainerError, match="no label column 'gold'"):
        ex.texts_and_gold(table, "review", "gold")
    with pytest.raises(ex.ExplainerError, match="empty in row 2"):
        ex.texts_and_gold(pd.DataFrame({"text": ["a", "", "c"]}), "text")


def _p(label, score, labels=("negative", "positive")):
    other = [name for name in labels if name != label]
    return ex.Prediction(label, {label: score, **{name: (1 - score) / len(other) for name in other}})


TEXTS4 = ["t1", "t2", "t3", "t4", "t5"]
GOLD = ["positive", "Negative", "positive", "negative", None]
A = [_p("positive", 0.9), _p("positive", 0.8), _p("negative", 0.7), _p("negative", 0.6), _p("positive", 0.55)]
B = [_p("positive", 0.95), _p("negative", 0.85), _p("positive", 0.75), _p("positive", 0.65), _p("negative", 0.5)]


def test_the_table_of_two_models_predictions():
    table = ex.prediction_table(TEXTS4, A, B, GOLD)
    assert list(table.columns) == ["text", "gold", "a_label", "a_score", "b_label", "b_score", "agree",
                                   "a_wrong", "b_wrong"]
    assert list(table.index) == [1, 2, 3, 4, 5] and table.index.name == "row"
    assert table["a_score"].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.55])
    assert table["agree"].tolist() == [True, False, False, False, False]
    assert table["a_wrong"].tolist()[:4] == [False, True, True, False]  # "Negative" matches "negative"
    assert table["b_wrong"].tolist()[:4] == [False, False, False, True]
    assert table["a_wrong"].isna().tolist() == [False] * 4 + [True]  # no gold label: neither right nor wrong


@pytest.mark.parametrize("name, rows", [
    ("all", [1, 2, 3, 4, 5]), ("disagree", [2, 3, 4, 5]), ("both wrong", []), ("only A wrong", [2, 3]),
    ("only B wrong", [4]),
])
def test_each_filter_picks_its_rows(name, rows):
    table = ex.prediction_table(TEXTS4, A, B, GOLD)
    assert list(ex.filter_rows(table, name).index) == rows
    assert ex.filter_counts(table)[name] == len(rows)


def test_both_wrong():
    table = ex.prediction_table(["x", "y"], [_p("negative", 0.9), _p("positive", 0.9)],
                                [_p("negative", 0.8), _p("negative", 0.9)], ["positive", "positive"])
    assert list(ex.filter_rows(table, "both wrong").index) == [1]
    assert list(ex.filter_rows(table, "only B wrong").index) == [2]


def test_without_gold_labels_only_agreement_filters():
    table = ex.prediction_table(TEXTS4, A, B)
    assert "gold" not in table.columns and "a_wrong" not in table.columns
    assert list(ex.filter_counts(table)) == ["all", "disagree"]
    with pytest.raises(ex.ExplainerError, match="needs gold labels"):
        ex.filter_rows(table, "only A wrong")
    with pytest.raises(ex.ExplainerError, match="Unknown filter 'wrong'"):
        ex.filter_rows(table, "wrong")


def test_models_with_different_labels_are_compared_on_their_own_labels():
    topics = ("sports", "politics")
    b = [_p("sports", 0.7, topics)] * 5
    table = ex.prediction_table(TEXTS4, A, b)
    assert not table["agree"].any() and table["b_label"].tolist() == ["sports"] * 5
    with pytest.raises(ex.ExplainerError) as err:
        ex.prediction_table(TEXTS4, A, b, GOLD, names=("A (builtin:sst2)", "B (builtin:zeroshot)"))
    message = str(err.value)
    assert "'positive' (row 1)" in message and "B (builtin:zeroshot)" in message and "sports, politics" in message


def test_an_unknown_gold_label_is_named():
    with pytest.raises(ex.ExplainerError, match=r"Gold label 'neutral' \(row 2\) is not a label of A"):
        ex.prediction_table(["x", "y"], A[:2], B[:2], ["positive", "neutral"])
    with pytest.raises(ex.ExplainerError, match="2 texts but 1 predictions"):
        ex.prediction_table(["x", "y"], A[:1], B[:2])
