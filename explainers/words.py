"""Words of the original text, independent of any tokenizer, and the folding of
word-piece scores onto them by character offsets.

A word is a run of letters/digits (with inner apostrophes and combining marks),
a single CJK ideograph, or a single symbol (punctuation, emoji with its
modifiers and zero-width joins). Every non-space character belongs to exactly
one word, so no attribution is dropped.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Sequence

import numpy as np

from .errors import ExplainerError
from .results import Word


def _mark_ranges() -> str:
    """Every combining mark (Unicode categories Mn, Mc, Me) as a character-class body: a mark belongs to
    the letter before it in every script (Devanagari and Thai vowel signs, keycaps), not only in Latin
    ones, so that no word is cut inside a character as it is drawn. Marks live in planes 0, 1 and 14."""
    ranges: list[list[int]] = []
    for code in (*range(0x20000), *range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges)


_MARKS = _mark_ranges()  # combining marks
_JOINERS = "\u200c\u200d"  # zero-width (non-)joiners: inside a word in Persian and Indic scripts
_FLAG = "[\U0001f1e6-\U0001f1ff]{2}"  # a pair of regional indicators: one flag
_EMOJI_MODS = "\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f\u20e3"  # variation, skin tone, tags, keycap
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_WORD_RE = re.compile(
    rf"[{_CJK}][{_MARKS}]*"  # one ideograph / kana
    rf"|(?:(?![{_CJK}])[\w{_MARKS}])(?:(?![{_CJK}])[\w{_MARKS}{_JOINERS}])*"  # letters, digits
    rf"(?:['\u2019](?:(?![{_CJK}])[\w{_MARKS}{_JOINERS}])+)*"  # don't
    rf"|{_FLAG}"
    rf"|[^\w\s{_MARKS}][{_MARKS}{_EMOJI_MODS}]*(?:\u200d[^\w\s][{_MARKS}{_EMOJI_MODS}]*)*"  # symbol/emoji
    rf"|[{_MARKS}{_EMOJI_MODS}\u200d]+"  # stray marks
)

AGGREGATIONS = ("sum", "mean", "max")


def split_words(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text``, in order."""
    return [m.span() for m in _WORD_RE.finditer(text)]


def token_words(spans: list[tuple[int, int]], offsets: np.ndarray,
                special: np.ndarray) -> list[list[tuple[int, float]]]:
    """For each token, the words it belongs to with the share of its score.

    A token overlapping several words (e.g. "!!" over two symbols) is shared in
    proportion to the characters it covers; a non-special token with an empty
    span goes to the next word (or the last one), so sums are preserved.
    """
    starts = np.array([s for s, _ in spans], dtype=np.int64)
    ends = np.array([e for _, e in spans], dtype=np.int64)
    owners: list[list[tuple[int, float]]] = []
    for (s, e), is_special in zip(offsets.tolist(), special.tolist()):
        if is_special or not spans:
            owners.append([])
            continue
        overlap = np.minimum(ends, e) - np.maximum(starts, s)
        hit = np.nonzero(overlap > 0)[0]
        if len(hit):
            total = float(overlap[hit].sum())
            owners.append([(int(i), float(overlap[i]) / total) for i in hit])
        else:
            nxt = int(np.searchsorted(starts, s))
            owners.append([(min(nxt, len(spans) - 1), 1.0)])
    return owners


def seen_until(offsets: np.ndarray, special: np.ndarray, truncated: bool) -> int | None:
    """The last character the model read, when the text was truncated (words after it are not reported)."""
    return int(offsets[~special, 1].max()) if truncated else None


def fold(text: str, token_scores: np.ndarray, offsets: np.ndarray, special: np.ndarray,
         aggregation: str = "sum", limit: int | None = None) -> tuple[Word, ...]:
    """Word scores from token scores. ``limit`` is the last character the model
    saw (truncation): words after it are not reported."""
    if aggregation not in AGGREGATIONS:
        raise ExplainerError(f"Unknown word aggregation {aggregation!r}; use one of {', '.join(AGGREGATIONS)}.")
    spans = split_words(text)
    if limit is not None:
        spans = [(s, e) for s, e in spans if s < limit]
    owners = token_words(spans, offsets, special)
    parts: list[list[float]] = [[] for _ in spans]
    members: list[list[int]] = [[] for _ in spans]
    for t, shares in enumerate(owners):
        for w, share in shares:
            parts[w].append(float(token_scores[t]) * share)
            members[w].append(t)
    words = []
    for (s, e), vals, toks in zip(spans, parts, members):
        if not vals:
            score = 0.0
        elif aggregation == "sum":
            score = float(np.sum(vals))
        elif aggregation == "mean":
            score = float(np.mean(vals))
        else:  # max by magnitude, sign kept
            score = float(vals[int(np.argmax(np.abs(vals)))])
        words.append(Word(text[s:e], s, e, score, tuple(toks)))
    return tuple(words)


def shares(words: Sequence[Word]) -> np.ndarray:
    """Each word's |score| as a share of the total (all zeros stay zeros)."""
    values = np.abs(np.array([w.score for w in words], dtype=float))
    total = values.sum()
    return values / total if total > 0 else values


def rank_correlation(a: Sequence[Word], b: Sequence[Word]) -> float:
    """Spearman's rank correlation of two scorings' |score| over the same words (nan when either is
    constant): do two views agree on which words matter most?"""
    if [(w.start, w.end) for w in a] != [(w.start, w.end) for w in b]:
        raise ExplainerError("Rank correlation needs two scorings of the same words of the same text.")
    x, y = shares(a), shares(b)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    from scipy import stats  # here, not at import: scipy.stats costs 0.3 s of the app's cold start

    return float(stats.spearmanr(x, y).statistic)
