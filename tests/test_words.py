"""Words come from the text, not the tokenizer; pieces fold onto them by offsets."""
import numpy as np
import pytest

from explainers.words import fold, split_words


def words(text):
    return [text[s:e] for s, e in split_words(text)]


@pytest.mark.parametrize("text, expected", [
    ("I don't like it!!", ["I", "don't", "like", "it", "!", "!"]),
    ("café naïve", ["café", "naïve"]),
    ("cafe\u0301 ok", ["cafe\u0301", "ok"]),  # combining accent stays in its word
    ("👍🏽 great 👨‍👩‍👧 ok", ["👍🏽", "great", "👨‍👩‍👧", "ok"]),  # skin tone and ZWJ family are one word
    ("今天很好 ok", ["今", "天", "很", "好", "ok"]),
    ("<img src=x>", ["<", "img", "src", "=", "x", ">"]),
    ("  spaced\n\tout  ", ["spaced", "out"]),
])
def test_split_words(text, expected):
    assert words(text) == expected


def test_every_non_space_character_is_in_a_word():
    text = "Odd ☃ text — with ‘quotes’, tabs\tand \u200b zero-width, ＦＵＬＬＷＩＤＴＨ, 🇫🇷 flags."
    covered = set()
    for s, e in split_words(text):
        covered.update(range(s, e))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_fold_sums_pieces_and_splits_shared_tokens():
    text = "unhappy !!"
    offsets = np.array([[0, 0], [0, 2], [2, 7], [8, 10], [0, 0]])
    special = np.array([True, False, False, False, True])
    scores = np.array([5.0, 1.0, 2.0, 4.0, 7.0])
    result = fold(text, scores, offsets, special)
    assert [(w.text, w.score) for w in result] == [("unhappy", 3.0), ("!", 2.0), ("!", 2.0)]
    assert result[0].tokens == (1, 2)
    assert [w.score for w in fold(text, scores, offsets, special, "mean")][:1] == [1.5]
    assert [w.score for w in fold(text, np.array([0, 1.0, -2.0, 0, 0]), offsets, special, "max")][:1] == [-2.0]


def test_fold_respects_truncation_limit():
    text = "good bad ugly"
    offsets = np.array([[0, 0], [0, 4], [5, 8], [0, 0]])
    special = np.array([True, False, False, True])
    result = fold(text, np.array([0, 1.0, 2.0, 0]), offsets, special, limit=8)
    assert [w.text for w in result] == ["good", "bad"]


def test_unknown_aggregation():
    import explainers as ex

    with pytest.raises(ex.ExplainerError, match="aggregation"):
        fold("a", np.zeros(1), np.zeros((1, 2), int), np.array([False]), "median")


def test_unk_and_emoji_map_to_their_characters(tiny):
    import explainers as ex

    text = "great ☃ film 👍"
    exp = ex.explain(tiny("bert"), text, method="saliency")
    assert "[UNK]" in exp.tokens
    unk = exp.tokens.index("[UNK]")
    s, e = exp.token_offsets[unk]
    assert text[s:e] == "☃"
    snowman = next(w for w in exp.words if w.text == "☃")
    assert unk in snowman.tokens
    exp = ex.explain(tiny("roberta"), text, method="saliency")  # byte-level: the emoji is several byte tokens
    thumbs = next(w for w in exp.words if w.text == "👍")
    assert len(thumbs.tokens) >= 2


def test_shares_and_rank_correlation():
    from scipy import stats

    import explainers as ex
    from explainers.results import Word

    text = "the film is the best"
    spans = split_words(text)
    a = [Word(text[s:e], s, e, v) for (s, e), v in zip(spans, [0.1, -0.5, 0.0, 0.2, 0.9])]
    b = [Word(w.text, w.start, w.end, v) for w, v in zip(a, [1.0, 2.0, 0.5, 3.0, 4.0])]
    np.testing.assert_allclose(ex.shares(a), np.array([0.1, 0.5, 0.0, 0.2, 0.9]) / 1.7)
    assert ex.shares(a).sum() == pytest.approx(1.0)
    assert ex.shares([Word("x", 0, 1, 0.0)]).tolist() == [0.0]
    expected = stats.spearmanr([0.1, 0.5, 0.0, 0.2, 0.9], [1.0, 2.0, 0.5, 3.0, 4.0]).statistic
    assert ex.rank_correlation(a, b) == pytest.approx(expected) == pytest.approx(0.9)
    assert ex.rank_correlation(a, a) == pytest.approx(1.0)
    assert np.isnan(ex.rank_correlation(a, [Word(w.text, w.start, w.end, 1.0) for w in a]))  # constant: undefined
    with pytest.raises(ex.ExplainerError, match="same words"):
        ex.rank_correlation(a, b[:-1])
