"""Two views of the same text side by side: two checkpoints, or one checkpoint with two methods.

- ``compare(a, b)``: two explanations' words aligned on the words of the original
  text (character spans, so whatever the tokenizers: WordPiece, byte-level BPE,
  SentencePiece), the rank agreement of the two scorings (Spearman and Kendall,
  over each word's share of the total |score|) and the words they disagree on most.
- ``compare_attention(a, b)``: two models' attention from the token each
  classifier reads, layer by layer, folded onto the same words.
- List mode: ``parse_lines`` / ``texts_and_gold`` make a list of texts with
  optional gold labels, ``prediction_table`` tabulates two models' predictions
  against them, ``filter_rows`` picks "both wrong", "only A wrong", ...

When one model truncated the text it has fewer words: everything is computed on
the words both read, and ``notes`` say so. pandas is imported only by the list-mode
functions (it comes with the app's extras).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .attention import combine_heads, from_reader
from .errors import ExplainerError
from .results import AttentionMaps, Explanation, Prediction, Word
from .words import rank_correlation, seen_until, shares, split_words, token_words

if TYPE_CHECKING:
    import pandas as pd

WHAT_IS_COMPARED = ("each word's share of the total |attribution| over the words both explanations cover "
                    "(the size of a word's score, whatever its sign or the method's units)")


# --------------------------------------------------------------------------- word alignment


def _spans(words: Sequence[Word]) -> list[tuple[int, int]]:
    return [(w.start, w.end) for w in words]


def align(a: Sequence[Word], b: Sequence[Word]) -> tuple[tuple[Word, ...], tuple[Word, ...]]:
    """The words of ``a`` and ``b`` with the same (start, end) span, in text order: the words both
    scorings cover (all of them, unless one model read only the first part of the text)."""
    in_b = {(w.start, w.end): w for w in b}
    common = [w for w in a if (w.start, w.end) in in_b]
    return tuple(common), tuple(in_b[(w.start, w.end)] for w in common)


def kendall(a: Sequence[Word], b: Sequence[Word]) -> float:
    """Kendall's tau-b of two scorings' |score| shares over the same words (nan when either is constant)."""
    if _spans(a) != _spans(b):
        raise ExplainerError("Rank correlation needs two scorings of the same words of the same text.")
    x, y = shares(a), shares(b)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    from scipy import stats  # here, not at import: scipy.stats costs 0.3 s of the app's cold start

    return float(stats.kendalltau(x, y).statistic)


@dataclass(frozen=True)
class Disagreement:
    """One word as the two explanations see it. ``difference`` = a_share - b_share: positive where A
    gives the word more of its total |attribution| than B."""

    text: str
    start: int
    end: int
    a_share: float
    b_share: float
    a_score: float
    b_score: float
    opposite: bool = False  # both methods signed and the word pushes in opposite directions

    @property
    def difference(self) -> float:
        return self.a_share - self.b_share


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two explanations of one text, on the words both cover.

    ``a_words[i]`` and ``b_words[i]`` are the same word of the text (same span);
    ``a_shares``/``b_shares`` each word's |score| as a share of that explanation's
    total over these words; ``spearman``/``kendall`` the rank agreement of the shares
    (nan when a scoring is constant or there are fewer than two words);
    ``disagreements`` every word, the largest |a_share - b_share| first.
    """

    text: str
    a_words: tuple[Word, ...]
    b_words: tuple[Word, ...]
    a_shares: np.ndarray
    b_shares: np.ndarray
    spearman: float
    kendall: float
    disagreements: tuple[Disagreement, ...]
    a_total: int  # words in each explanation (more than the common ones when the other was truncated)
    b_total: int
    signed: bool  # both methods signed: a sign difference means something
    a_target: str = ""
    b_target: str = ""

    @property
    def words(self) -> int:
        return len(self.a_words)

    @property
    def notes(self) -> list[str]:
        """What the reader must know: the words one model did not read."""
        out = []
        total = len(split_words(self.text))
        for name, count in (("A", self.a_total), ("B", self.b_total)):
            if count < total:
                out.append(f"{name} read only the first {count} of the text's {total} words (its input is shorter).")
        if out:
            out.append(f"The comparison is over the {self.words} words both read.")
        return out

    def top(self, k: int = 10) -> tuple[Disagreement, ...]:
        """The k words the two disagree on most."""
        return self.disagreements[:k]


def compare(a: Explanation, b: Explanation) -> Comparison:
    """Align two explanations of the same text on its words and measure how far they agree.

    The words are the text's own (``explainers.words.split_words``), so they line
    up whatever the two tokenizers; a truncated explanation covers a prefix of them
    and the comparison runs on the words both cover.
    """
    if a.text != b.text:
        raise ExplainerError("A comparison needs two explanations of the same text.")
    a_words, b_words = align(a.words, b.words)
    if not a_words:
        raise ExplainerError("The two explanations have no word in common: nothing to compare.")
    x, y = shares(a_words), shares(b_words)
    signed = bool(a.extras.get("signed", True)) and bool(b.extras.get("signed", True))
    rows = [Disagreement(wa.text, wa.start, wa.end, float(sa), float(sb), float(wa.score), float(wb.score),
                         signed and wa.score * wb.score < 0)
            for wa, wb, sa, sb in zip(a_words, b_words, x, y)]
    order = sorted(range(len(rows)), key=lambda i: (-abs(rows[i].difference), i))
    return Comparison(text=a.text, a_words=a_words, b_words=b_words, a_shares=x, b_shares=y,
                      spearman=rank_correlation(a_words, b_words), kendall=kendall(a_words, b_words),
                      disagreements=tuple(rows[i] for i in order), a_total=len(a.words), b_total=len(b.words),
                      signed=signed, a_target=a.target, b_target=b.target)


# --------------------------------------------------------------------------- attention on words


@dataclass(frozen=True, eq=False)
class WordAttention:
    """What the token the classifier reads attends to after each layer, folded onto the words of the
    text: ``rows`` [layers, words] sums each word's pieces; ``special`` [layers] the share of the
    row that went to special tokens (left out of the words)."""

    text: str
    words: tuple[Word, ...]  # score: the last layer's value
    rows: np.ndarray
    special: np.ndarray
    reader: str
    checkpoint: str = ""
    truncated: bool = False

    @property
    def layers(self) -> int:
        return int(self.rows.shape[0])


def word_attention(maps: AttentionMaps, how: str = "mean") -> WordAttention:
    """The encoder's attention from the classifier's token (every token averaged for mean-pooled
    models), heads combined by ``how``, each layer's row folded onto the words by character offsets."""
    s = maps.encoder
    rows = from_reader(combine_heads(s, how), s.reads).astype(np.float64)  # [layers, T]
    limit = seen_until(maps.token_offsets, maps.special_tokens, maps.truncated)
    spans = [(s0, e0) for s0, e0 in split_words(maps.text) if limit is None or s0 < limit]
    fold = np.zeros((rows.shape[1], len(spans)))  # token -> word shares, as words.fold does
    for t, owners in enumerate(token_words(spans, maps.token_offsets, maps.special_tokens)):
        for w, part in owners:
            fold[t, w] += part
    folded = rows @ fold
    totals = rows.sum(axis=1)
    special = np.divide(rows[:, maps.special_tokens].sum(axis=1), totals, out=np.zeros_like(totals),
                        where=totals > 0)
    members = [tuple(int(t) for t in np.flatnonzero(fold[:, w])) for w in range(len(spans))]
    words = tuple(Word(maps.text[s0:e0], s0, e0, float(folded[-1, w]), members[w])
                  for w, (s0, e0) in enumerate(spans))
    return WordAttention(text=maps.text, words=words, rows=folded, special=special, reader=s.reader,
                         checkpoint=maps.checkpoint, truncated=maps.truncated)


@dataclass(frozen=True, eq=False)
class AttentionComparison:
    """Two models' word attention on the words both read: ``a_rows`` [a's layers, words],
    ``b_rows`` [b's layers, words] (as shares of each layer's attention to these words when
    ``share``)."""

    words: tuple[Word, ...]
    a_rows: np.ndarray
    b_rows: np.ndarray
    a: WordAttention
    b: WordAttention
    share: bool

    @property
    def notes(self) -> list[str]:
        out = []
        for name, side in (("A", self.a), ("B", self.b)):
            if len(side.words) > len(self.words):
                out.append(f"{name} also read {len(side.words) - len(self.words)} words the other did not; "
                           f"only the {len(self.words)} words both read are shown.")
        return out


def compare_attention(a: AttentionMaps | WordAttention, b: AttentionMaps | WordAttention, how: str = "mean",
                      share: bool = True) -> AttentionComparison:
    """Both models' attention from their classifier's token (BERT's [CLS], RoBERTa's <s>, BART's final
    EOS), layer by layer, on the same words of the text. ``share``: each layer's row divided by its sum
    over these words, so that models with different attention sinks (special tokens) compare."""
    a = a if isinstance(a, WordAttention) else word_attention(a, how)
    b = b if isinstance(b, WordAttention) else word_attention(b, how)
    if a.text != b.text:
        raise ExplainerError("Comparing attention needs both models' attention on the same text.")
    a_words, _ = align(a.words, b.words)
    if not a_words:
        raise ExplainerError("The two models read no word in common: nothing to compare.")
    keep = {(w.start, w.end) for w in a_words}
    a_rows = a.rows[:, [i for i, w in enumerate(a.words) if (w.start, w.end) in keep]]
    b_rows = b.rows[:, [i for i, w in enumerate(b.words) if (w.start, w.end) in keep]]
    if share:
        a_rows, b_rows = _row_shares(a_rows), _row_shares(b_rows)
    return AttentionComparison(words=a_words, a_rows=a_rows, b_rows=b_rows, a=a, b=b, share=share)


def _row_shares(rows: np.ndarray) -> np.ndarray:
    totals = rows.sum(axis=1, keepdims=True)
    return np.divide(rows, totals, out=np.zeros_like(rows), where=totals > 0)


# --------------------------------------------------------------------------- list mode

FILTERS = {
    "all": "every row",
    "disagree": "A and B predict different labels",
    "both wrong": "neither prediction is the gold label",
    "only A wrong": "A misses the gold label, B has it",
    "only B wrong": "B misses the gold label, A has it",
}
GOLD_FILTERS = ("both wrong", "only A wrong", "only B wrong")


def parse_lines(text: str) -> tuple[list[str], list[str | None]]:
    """Pasted texts, one per line; a line ``gold label<TAB>text`` carries its gold label.
    Empty lines are skipped. Returns the texts and their gold labels (None where a line has none)."""
    texts, gold = [], []
    for line in str(text).splitlines():
        label, tab, rest = line.partition("\t")
        body = rest if tab else line
        if not body.strip():
            continue
        texts.append(body.strip())
        gold.append(label.strip() or None if tab else None)
    return texts, gold


def texts_and_gold(table: "pd.DataFrame", text_column: str,
                   gold_column: str | None = None) -> tuple[list[str], list[str | None]]:
    """A table's texts (``explainers.batch.texts_of``: refused with a message when a cell is empty or the
    column holds numbers) and gold labels (None where a cell is empty), for ``prediction_table``."""
    from .batch import texts_of

    texts = texts_of(table, text_column)
    if gold_column is None:
        return texts, [None] * len(texts)
    if gold_column not in table.columns:
        raise ExplainerError(f"There is no label column {gold_column!r}; the columns are "
                             f"{', '.join(map(repr, map(str, table.columns)))}.")
    return texts, [_cell(v) for v in table[gold_column].tolist()]


def _cell(value) -> str | None:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip() or None


def _key(label: str) -> str:
    return str(label).strip().casefold()


def _labels_of(predictions: Sequence[Prediction]) -> list[str]:
    seen: dict[str, None] = {}
    for p in predictions:
        seen.update(dict.fromkeys(p.scores))
    return list(seen)


def _check_gold(gold: Sequence[str | None], labels: list[str], name: str) -> None:
    known = {_key(label) for label in labels}
    for row, label in enumerate(gold, 1):
        if label is not None and _key(label) not in known:
            raise ExplainerError(f"Gold label {label!r} (row {row}) is not a label of {name}, whose labels are "
                                 f"{', '.join(labels)}. Use those names (case does not matter).")


def prediction_table(texts: Sequence[str], a: Sequence[Prediction], b: Sequence[Prediction],
                     gold: Sequence[str | None] | None = None, names: tuple[str, str] = ("A", "B")) -> "pd.DataFrame":
    """Two models' predictions on the same texts, one row each (numbered from 1): text, gold (when
    given), a_label, a_score (the probability of A's label), b_label, b_score, agree (the same label
    name), and with gold labels a_wrong, b_wrong (empty where a row has no gold label). Gold labels
    are compared with each model's label names, case-insensitively; one a model does not have is an
    ExplainerError naming it (``names`` say which model)."""
    import pandas as pd

    if not (len(texts) == len(a) == len(b)):
        raise ExplainerError(f"{len(texts)} texts but {len(a)} predictions of {names[0]} and "
                             f"{len(b)} of {names[1]}.")
    has_gold = gold is not None and any(g is not None for g in gold)
    if gold is not None and len(gold) != len(texts):
        raise ExplainerError(f"{len(texts)} texts but {len(gold)} gold labels.")
    data = {"text": list(texts)}
    if has_gold:
        gold = [None if g is None else str(g).strip() or None for g in gold]
        _check_gold(gold, _labels_of(a), names[0])
        _check_gold(gold, _labels_of(b), names[1])
        data["gold"] = gold
    data.update(a_label=[p.label for p in a], a_score=[float(p.scores[p.label]) for p in a],
                b_label=[p.label for p in b], b_score=[float(p.scores[p.label]) for p in b],
                agree=[_key(p.label) == _key(q.label) for p, q in zip(a, b)])
    table = pd.DataFrame(data)
    if has_gold:
        for side, preds in (("a", a), ("b", b)):
            table[f"{side}_wrong"] = pd.array([None if g is None else _key(p.label) != _key(g)
                                               for p, g in zip(preds, gold)], dtype="boolean")
    table.index = pd.RangeIndex(1, len(table) + 1, name="row")
    return table


def filter_rows(table: "pd.DataFrame", name: str) -> "pd.DataFrame":
    """The rows of a ``prediction_table`` that ``name`` (one of FILTERS) picks; rows without a gold
    label are never wrong."""
    if name not in FILTERS:
        raise ExplainerError(f"Unknown filter {name!r}; use one of {', '.join(FILTERS)}.")
    if name == "all":
        return table
    if name == "disagree":
        return table[~table["agree"]]
    if "a_wrong" not in table.columns:
        raise ExplainerError(f"The filter {name!r} needs gold labels; none were given.")
    a_wrong, b_wrong = table["a_wrong"].fillna(False), table["b_wrong"].fillna(False)
    picked = {"both wrong": a_wrong & b_wrong, "only A wrong": a_wrong & ~b_wrong,
              "only B wrong": ~a_wrong & b_wrong}[name]
    return table[picked.astype(bool)]


def filter_counts(table: "pd.DataFrame") -> dict[str, int]:
    """How many rows each filter picks (the gold filters only when the table has gold labels)."""
    names = FILTERS if "a_wrong" in table.columns else [n for n in FILTERS if n not in GOLD_FILTERS]
    return {name: len(filter_rows(table, name)) for name in names}
