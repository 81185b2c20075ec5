"""A dataset's results (``batch.explain_table`` / ``batch.run``) for people: the rows that a page or a
report lists, their highlighted words, and one standalone HTML report.

``words_of`` turns a result row's ``words`` back into Words; ``row_filters`` and ``select_rows``
narrow a table to misclassified rows, one confusion cell or one predicted label; ``pick_class_words``
trims ``batch.class_words``; ``row_cards`` draws rows as escaped, highlighted HTML; ``dataset_report``
is one self-contained page (no scripts, no network, inline CSS) for a stakeholder review.
"""
from __future__ import annotations

import json
import math
import unicodedata
from datetime import datetime, timezone
from html import escape
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .batch import SCORE_PREFIX
from .html import colour, highlighted_text
from .results import Word

ALL, MISCLASSIFIED, CORRECT = "all", "misclassified", "correct"
ORDERS = {"file": "file order", "confident": "most confident", "uncertain": "least confident"}


# --------------------------------------------------------------------------- rows


def words_of(words: str | Sequence[Mapping]) -> list[Word]:
    """A result row's ``words`` (JSON text, or the parsed list) as Words, in text order."""
    items = json.loads(words) if isinstance(words, str) else list(words)
    return [Word(str(w["text"]), int(w["start"]), int(w["end"]), float(w["score"])) for w in items]


def confidence(table: pd.DataFrame) -> pd.Series:
    """Each row's score of its predicted label (the ``score:<label>`` column of that label)."""
    if table.empty:
        return pd.Series([], dtype=float, index=table.index)
    values = [row.get(f"{SCORE_PREFIX}{label}", np.nan)
              for label, row in zip(table["predicted_label"], table.to_dict("records"))]
    return pd.Series(np.asarray(values, dtype=float), index=table.index)


def labels_of(table: pd.DataFrame) -> list[str]:
    """The labels a results table's predictions are over, in the model's order (its ``score:`` columns)."""
    return [str(c)[len(SCORE_PREFIX):] for c in table.columns if str(c).startswith(SCORE_PREFIX)]


def evaluation_of(table: pd.DataFrame):
    """``batch.evaluate`` over the table's own labels, or None without gold labels (for a finished
    table read back from disk, where the classifier is not at hand)."""
    if "gold_label" not in table.columns:
        return None
    from .batch import evaluate

    return evaluate(table, labels_of(table))


def cell_key(gold: str, predicted: str) -> str:
    """The filter key of one confusion-matrix cell."""
    return "cell:" + json.dumps([str(gold), str(predicted)], ensure_ascii=False)


def _predicted_key(label: str) -> str:
    return "predicted:" + json.dumps(str(label), ensure_ascii=False)


def row_filters(table: pd.DataFrame) -> dict[str, str]:
    """Ways to narrow the rows, key -> what it shows with its number of rows: all rows; with gold
    labels, the misclassified, the correct and every non-empty gold → predicted cell (mistakes
    first); without, every predicted label."""
    n = len(table)
    out = {ALL: f"all rows ({n:,})"}
    if "correct" in table.columns:
        wrong = int((~table["correct"].astype(bool)).sum())
        out[MISCLASSIFIED] = f"misclassified ({wrong:,})"
        out[CORRECT] = f"correct ({n - wrong:,})"
        counts = table.groupby(["gold_label", "predicted_label"], sort=False).size()
        cells = sorted(counts.items(), key=lambda kv: (kv[0][0] == kv[0][1], -kv[1]))
        for (gold, predicted), count in cells:
            out[cell_key(gold, predicted)] = f"gold {gold} → predicted {predicted} ({count:,})"
    else:
        for label, count in table["predicted_label"].value_counts(sort=True).items():
            out[_predicted_key(label)] = f"predicted {label} ({count:,})"
    return out


def select_rows(table: pd.DataFrame, key: str = ALL, order: str = "file") -> pd.DataFrame:
    """The rows a ``row_filters`` key names, in ``order`` ("file", "confident": the predicted
    label's score highest first, "uncertain": lowest first). An unknown key selects every row."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    rows = table
    if key in (MISCLASSIFIED, CORRECT) and "correct" in table.columns:
        right = table["correct"].astype(bool)
        rows = table[~right] if key == MISCLASSIFIED else table[right]
    elif key.startswith("cell:") and "gold_label" in table.columns:
        gold, predicted = json.loads(key[len("cell:"):])
        rows = table[(table["gold_label"] == gold) & (table["predicted_label"] == predicted)]
    elif key.startswith("predicted:"):
        rows = table[table["predicted_label"] == json.loads(key[len("predicted:"):])]
    if order != "file" and not rows.empty:
        rows = rows.assign(_confidence=confidence(rows)).sort_values(
            "_confidence", ascending=order == "uncertain", kind="stable").drop(columns="_confidence")
    return rows


def convergence_errors(table: pd.DataFrame) -> pd.Series:
    """Each row's convergence error |delta| / |F(x) - F(baseline)| (integrated gradients); NaN for
    methods without one."""
    if "convergence_delta" not in table.columns:
        return pd.Series(np.nan, index=table.index)
    delta = pd.to_numeric(table["convergence_delta"], errors="coerce").astype(float)
    gap = (pd.to_numeric(table["explained_score"], errors="coerce").astype(float)
           - pd.to_numeric(table["baseline_score"], errors="coerce").astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (delta.abs() / gap.abs()).where(delta.notna())


def convergence_note(table: pd.DataFrame) -> str | None:
    """A sentence on the rows whose integrated-gradients error is above CONVERGENCE_WARNING (None when
    every row converged, or the method has no convergence check)."""
    from .results import CONVERGENCE_WARNING

    errors = convergence_errors(table).dropna()
    if errors.empty:
        return None
    over = int((errors > CONVERGENCE_WARNING).sum())
    if not over:
        return None
    return (f"{over:,} of {len(errors):,} rows have a convergence error above {CONVERGENCE_WARNING:.0%} (median "
            f"{errors.median():.1%}): their word scores do not quite add up to the change in the score; raise "
            "max_steps (or n_steps, where it was given) for trustworthy attributions.")


def sample_rows(table: pd.DataFrame, k: int = 20) -> pd.DataFrame:
    """``k`` rows spread evenly through the table (all of them when there are fewer)."""
    if len(table) <= k:
        return table
    picks = np.unique(np.linspace(0, len(table) - 1, k).round().astype(int))
    return table.iloc[picks]


def overview(rows: pd.DataFrame, text_column: str) -> pd.DataFrame:
    """The rows as a compact table for scanning: row number (1 = the first data row), text, gold and
    predicted labels, the predicted label's score and the top words ("word +0.12, ...")."""
    def top(words: str) -> str:
        try:
            pairs = json.loads(words)
        except (TypeError, ValueError):
            return ""
        return ", ".join(f"{w} {s:+.3g}" for w, s in pairs)

    out = pd.DataFrame({"row": rows["row"].astype(int), "text": rows[text_column].astype(str)})
    if "gold_label" in rows.columns:
        out["gold"] = rows["gold_label"]
    out["predicted"] = rows["predicted_label"]
    out["score"] = confidence(rows)
    if "correct" in rows.columns:
        out["correct"] = rows["correct"].astype(bool)
    out["top words"] = rows["top_words"].map(top) if "top_words" in rows.columns else ""
    return out.reset_index(drop=True)


def _is_punctuation(word: str) -> bool:
    return bool(word) and all(unicodedata.category(c)[0] in "PS" or c.isspace() for c in word)


# English function words that carry no meaning of their own; negations (no, not, n't, never, without)
# are kept, because classifiers rightly rely on them.
COMMON_WORDS = frozenset("""a an the and or but if then so as of to in on at by for from with about into over
this that these those it its it's 's s is are was were be been being am do does did has have had i me my we our
you your he him his she her they them their there here what which who whom when where how all any both each
some such than too very can will would just also only own same other more most""".split())


def pick_class_words(summary: pd.DataFrame, top: int = 10, by: str = "total", min_rows: int = 1,
                     punctuation: bool = False, common: bool = True) -> pd.DataFrame:
    """``batch.class_words``' table trimmed for reading: per label, the ``top`` words by ``by``
    ("total" or "mean") among those in at least ``min_rows`` rows; punctuation and symbols left out
    unless ``punctuation``, English function words (``COMMON_WORDS``) unless ``common``."""
    if by not in ("total", "mean"):
        raise ValueError(f"by must be 'total' or 'mean', not {by!r}")
    keep = summary[summary["count"] >= min_rows]
    if not punctuation:
        keep = keep[~keep["word"].map(_is_punctuation)]
    if not common:
        keep = keep[~keep["word"].str.lower().isin(COMMON_WORDS)]
    keep = keep.sort_values(["label", by], ascending=[True, False], kind="stable")
    return keep.groupby("label", group_keys=False, sort=False).head(top).reset_index(drop=True)


# --------------------------------------------------------------------------- HTML pieces

_CARD = "margin:0 0 .7em 0;padding:.45em .7em;border:1px solid #ddd;border-radius:6px;border-left:4px solid {edge}"
_HEAD = "font-size:.82em;color:#555;margin-bottom:.25em"
_TEXT = "line-height:1.9;font-size:1.02em"


def _number(value, spec: str = ".3f", missing: str = "") -> str:
    """A number formatted by ``spec``, or ``missing`` where there is none (None, NaN, text)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return missing
    return format(value, spec) if math.isfinite(value) else missing


def _pct(value) -> str:
    return _number(value, ".1%", "–")


def row_cards(rows: pd.DataFrame, text_column: str) -> str:
    """Each row as a small card: its number (1 = the first data row), gold and predicted labels with
    the predicted label's score, and its text with every word coloured by its attribution. Every
    piece of text is escaped; a misclassified row has a red edge, a correct one a blue edge."""
    cards = []
    scores = confidence(rows)
    for (_, row), score in zip(rows.iterrows(), scores):
        gold = row.get("gold_label")
        has_gold = isinstance(gold, str)
        edge = "#bbb" if not has_gold else ("#2166ac" if bool(row.get("correct")) else "#b2182b")
        head = [f"<b>row {int(row['row'])}</b>"]
        if has_gold:
            mark = "✓" if bool(row.get("correct")) else "✗"
            head.append(f"{mark} gold <b>{escape(gold)}</b> → predicted <b>{escape(str(row['predicted_label']))}</b>")
        else:
            head.append(f"predicted <b>{escape(str(row['predicted_label']))}</b>")
        head[-1] += f" ({_number(score)})"
        if str(row.get("explained_label")) != str(row["predicted_label"]):
            head.append(f"explaining <b>{escape(str(row.get('explained_label')))}</b>")
        if bool(row.get("truncated")):
            head.append("<i>only its first part was read</i>")
        body = highlighted_text(str(row[text_column]), words_of(row["words"]))  # scaled to the row's own words
        cards.append(f'<div class="xrow" style="{_CARD.format(edge=edge)}"><div style="{_HEAD}">'
                     f'{" · ".join(head)}</div><div class="xtext" style="{_TEXT}">{body}</div></div>')
    return "".join(cards)


def rows_legend(signed: bool = True) -> str:
    """What the colours of ``row_cards`` mean."""
    if signed:
        bar = f"linear-gradient(90deg,{colour(-1, 1)},transparent,{colour(1, 1)})"
        left, right = "against the predicted label", "for it"
    else:
        bar = f"linear-gradient(90deg,transparent,{colour(1, 1)})"
        left, right = "unimportant", "most important for the predicted label"
    return (f'<div style="font-size:.82em;display:flex;align-items:center;gap:6px;margin:.3em 0 .6em 0">'
            f'<span>{left}</span><span style="flex:0 0 160px;height:10px;background:{bar};border:1px solid #ccc;'
            f'border-radius:3px"></span><span>{right}</span><span style="color:#666">(each row scaled to its '
            f'strongest word; hover a word for its score)</span></div>')


_BLUES = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))


def _blue(share: float) -> str:
    """A sequential blue for a share in [0, 1] (ColorBrewer Blues)."""
    share = min(max(float(share), 0.0), 1.0) * (len(_BLUES) - 1)
    i = min(int(share), len(_BLUES) - 2)
    t = share - i
    r, g, b = (round(a + (c - a) * t) for a, c in zip(_BLUES[i], _BLUES[i + 1]))
    return f"rgb({r},{g},{b})"


def confusion_table(confusion: pd.DataFrame) -> str:
    """The confusion matrix as an HTML table: gold labels down, predicted across, each cell's count
    on a blue shaded by its share of the gold label's rows; the diagonal (correct) outlined."""
    counts = np.asarray(confusion, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    head = "".join(f"<th class='pred'>{escape(str(c))}</th>" for c in confusion.columns)
    body = []
    for i, gold in enumerate(confusion.index):
        cells = []
        for j in range(counts.shape[1]):
            ink = "#fff" if share[i, j] > 0.55 else "#222"
            ring = "outline:2px solid #222;outline-offset:-2px;" if i == j else ""
            tip = f"{share[i, j]:.0%} of gold {escape(str(gold), quote=True)}"
            cells.append(f"<td class='cm' style='background:{_blue(share[i, j])};color:{ink};{ring}' "
                         f"title='{tip}'>{int(counts[i, j]):,}</td>")
        body.append(f"<tr><th class='gold'>{escape(str(gold))}</th>{''.join(cells)}"
                    f"<td class='muted'>{int(totals[i, 0]):,}</td></tr>")
    return (f"<table class='confusion'><tr><th class='corner'>gold ↓ · predicted →</th>{head}"
            f"<th class='muted'>rows</th></tr>{''.join(body)}</table>")


def class_word_bars(summary: pd.DataFrame, top: int = 10) -> str:
    """For each label, its words as CSS bars of their summed share, with the mean and the number of rows."""
    blocks = []
    for label, words in summary.groupby("label", sort=False):
        words = words.head(top)
        peak = float(words["total"].max()) if len(words) else 0.0
        rows = "".join(
            f"<tr><td class='word' title='{escape(str(w.word), quote=True)}'>{escape(str(w.word))}</td>"
            f"<td class='barcell'><div class='bar' style='width:{(100 * w.total / peak) if peak > 0 else 0:.1f}%'>"
            f"</div></td><td class='num'>{w.total:.3f}</td><td class='num'>{w.mean:.3f}</td>"
            f"<td class='num'>{int(w.count):,}</td></tr>"
            for w in words.itertuples())
        blocks.append(f"<div class='words'><h3>toward {escape(str(label))}</h3><table><tr><th>word</th><th></th>"
                      f"<th class='num'>sum</th><th class='num'>mean</th><th class='num'>rows</th></tr>{rows}"
                      "</table></div>")
    return f"<div class='wordgrid'>{''.join(blocks)}</div>" if blocks else "<p class='muted'>No words.</p>"


# --------------------------------------------------------------------------- the standalone report

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;max-width:1040px;margin:2em auto;
padding:0 1.2em;color:#222;line-height:1.5}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd;
padding-bottom:.2em}h3{font-size:1em;margin:.2em 0}
.sub{color:#444;margin-top:0}
.warn{background:#fff6e5;border-left:4px solid #e08a00;padding:.4em .8em;border-radius:4px}
.how{background:#f4f7fb;border-left:4px solid #2166ac;padding:.6em .9em;border-radius:4px;font-size:.93em}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}
.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#666;font-size:.85em}
.big{font-size:2.2em;font-weight:600;margin:.1em 0}.kpis{display:flex;gap:3em;flex-wrap:wrap;align-items:flex-end}
.confusion td.cm{min-width:4.5em;height:2.6em;text-align:center;font-size:1.1em;font-variant-numeric:tabular-nums}
.confusion th.pred{text-align:center}.confusion th.corner{font-weight:normal;color:#666;font-size:.8em}
.wordgrid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:1.2em 2em}
.words td,.words th{padding:1px 6px;font-size:.9em}
.words td.word{max-width:11em;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.barcell{width:110px}.bar{height:11px;background:#2166ac;border-radius:2px}
.facts th{color:#555;font-weight:normal;white-space:nowrap;vertical-align:top}.facts td{overflow-wrap:anywhere}
"""


def _first_json(table: pd.DataFrame, column: str) -> dict:
    if column not in table.columns or table.empty:
        return {}
    try:
        value = json.loads(table[column].iloc[0])
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _method_title(name: str) -> tuple[str, bool]:
    from .attribution import METHODS

    method = METHODS.get(name)
    return (method.title, method.signed) if method is not None else (name, True)


def dataset_report(table: pd.DataFrame, evaluation=None, class_words: pd.DataFrame | None = None, *,
                   title: str = "Dataset explanation report", job=None, text_column: str | None = None,
                   source: str | None = None, notices: Sequence[str] = (), when: datetime | None = None,
                   shown: int = 100, top_words: int = 10, words_note: str | None = None) -> str:
    """One self-contained HTML page about a finished table: what was run (checkpoint, method, date,
    rows), a "how to read this" note; with ``evaluation`` (``batch.evaluate``), the accuracy,
    per-class precision and recall, the confusion matrix and up to ``shown`` misclassified rows
    highlighted; without, ``shown`` rows spread through the table; and the words that push toward
    each label (``class_words``, default ``batch.class_words`` without punctuation and function words;
    ``words_note`` says how they were chosen).

    ``job`` (a ``batch.Job``) names the checkpoint, the columns and zero-shot labels;
    ``text_column`` is enough without it. No scripts, no network (a Content-Security-Policy
    forbids both), inline CSS; every piece of user text is escaped.
    """
    text_column = text_column or (job.text_column if job is not None else None)
    if text_column is None or text_column not in table.columns:
        raise ValueError(f"the text column {text_column!r} is not in the table")
    e = escape
    provenance = _first_json(table, "provenance")
    options = _first_json(table, "options")
    checkpoint = (job.checkpoint if job is not None else None) or provenance.get("checkpoint", "unknown checkpoint")
    method = str(table["method"].iloc[0]) if "method" in table.columns and len(table) else "unknown"
    method_title, signed = _method_title(method)
    when = when or datetime.now(timezone.utc)
    if class_words is None:
        from .batch import class_words as summarise

        class_words = pick_class_words(summarise(table, top=None), top=top_words, common=False)
        words_note = words_note or "Punctuation and common function words (the, and, of…) are left out."

    n = len(table)

    head = [f"<b>{e(str(checkpoint))}</b>", f"explained with <b>{e(method_title)}</b>",
            f"{n:,} row{'s' if n != 1 else ''}", e(when.strftime("%d %B %Y, %H:%M %Z").strip().lstrip("0"))]
    if source:
        head.insert(0, f"<b>{e(source)}</b>")
    how = ("<b>How to read this.</b> Every text was classified by the model and explained: each word is coloured "
           + ("blue when it pushed the model toward the label it predicted and red when it pushed against it"
              if signed else "by how much it mattered to the predicted label (this method gives magnitudes, "
              "not directions)")
           + "; colours are scaled within each row, and hovering a word shows its score.")
    if evaluation is not None:
        how += (" The confusion matrix counts rows by their gold label (down) and the model's prediction "
                "(across): the outlined diagonal is right, everything else is a mistake.")
    how += (" The words per label add up, over all rows predicted as that label, each word's share of its "
            "row's total attribution: what the model most often relied on, which is not always what a person would.")

    sections = [f"<h1>{e(title)}</h1><p class='sub'>{' · '.join(head)}</p><div class='how'>{how}</div>"]
    for notice in notices:
        sections.append(f"<p class='muted'>{e(str(notice))}</p>")
    unconverged = convergence_note(table)
    if unconverged:
        sections.append(f"<p class='warn'>⚠ {e(unconverged)}</p>")

    if evaluation is not None:
        wrong = int(round((1 - evaluation.accuracy) * evaluation.rows))
        per_class = "".join(
            f"<tr><td>{e(str(label))}</td><td class='num'>{_pct(r.precision)}</td><td class='num'>{_pct(r.recall)}"
            f"</td><td class='num'>{_pct(r.f1)}</td><td class='num'>{int(r.support):,}</td></tr>"
            for label, r in evaluation.per_class.iterrows())
        sections.append(
            "<h2>How often the model is right</h2><div class='kpis'>"
            f"<div><div class='big'>{evaluation.accuracy:.1%}</div><div class='muted'>accuracy: "
            f"{evaluation.rows - wrong:,} of {evaluation.rows:,} rows match their gold label</div></div>"
            f"<div><div class='big'>{wrong:,}</div><div class='muted'>misclassified rows</div></div></div>"
            "<h3 style='margin-top:1.2em'>Per class</h3><table><tr><th>label</th><th class='num'>precision</th>"
            "<th class='num'>recall</th><th class='num'>F1</th><th class='num'>gold rows</th></tr>"
            f"{per_class}</table><p class='muted'>Precision: of the rows predicted as the label, the share that "
            "are it. Recall: of the rows that are the label, the share the model found.</p>"
            f"<h3>Confusion matrix</h3>{confusion_table(evaluation.confusion)}")

    if evaluation is None and n:
        counts = table["predicted_label"].value_counts()
        rows = "".join(f"<tr><td>{e(str(label))}</td><td class='num'>{count:,}</td><td class='num'>{count / n:.1%}"
                       f"</td><td class='barcell'><div class='bar' style='width:{100 * count / counts.iloc[0]:.1f}%'>"
                       "</div></td></tr>" for label, count in counts.items())
        sections.append("<h2>What the model predicted</h2><table><tr><th>label</th><th class='num'>rows</th>"
                        f"<th class='num'>share</th><th></th></tr>{rows}</table>")

    direction = ("where it pushed toward the label" if signed else "where it mattered")
    heading = "Words that push toward each label" if signed else "Words that matter most for each label"
    sections.append(f"<h2>{heading}</h2><p class='muted'>Over the rows predicted as each "
                    f"label: a word's share of its row's total |attribution|, {direction}, summed over the rows "
                    f"(sum), per row it is in (mean), and in how many rows. {e(words_note or '')}</p>"
                    f"{class_word_bars(class_words, top_words)}")

    if evaluation is not None and "correct" in table.columns:
        mistakes = select_rows(table, MISCLASSIFIED, "confident")
        if mistakes.empty:
            sections.append("<h2>Misclassified rows</h2><p>Every row matches its gold label.</p>")
        else:
            note = (f"All {len(mistakes):,}" if len(mistakes) <= shown else f"The {shown:,} most confident of "
                    f"{len(mistakes):,}")
            sections.append(f"<h2>Misclassified rows</h2><p class='muted'>{note}, the most confident mistakes "
                            f"first (the number after the prediction is its score).</p>{rows_legend(signed)}"
                            f"{row_cards(mistakes.head(shown), text_column)}")
    else:
        sample = sample_rows(table, shown)
        note = (f"All {n:,} rows" if len(sample) == n else
                f"{len(sample):,} of the {n:,} rows, spread evenly through the file")
        sections.append(f"<h2>A sample of rows</h2><p class='muted'>{note} (no gold labels were given, so "
                        f"nothing is marked right or wrong).</p>{rows_legend(signed)}{row_cards(sample, text_column)}")

    facts = [("checkpoint", checkpoint), ("method", f"{method_title} ({method})"),
             ("options", ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"),
             ("text column", text_column)]
    if job is not None:
        if job.revision:
            facts.append(("revision", job.revision))
        if job.label_column:
            facts.append(("gold-label column", job.label_column))
        if job.labels:
            facts.append(("candidate labels", ", ".join(job.labels)))
            facts.append(("hypothesis template", job.template or "the model's default"))
            facts.append(("multi-label", "yes" if job.multi_label else "no"))
    if source:
        facts.append(("file", source))
    facts.append(("rows", f"{n:,}"))
    facts.append(("made", when.isoformat(timespec="seconds")))
    facts += [(k, v) for k, v in provenance.items() if k != "checkpoint"]
    fact_rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in facts)
    sections.append(f"<h2>Details</h2><table class='facts'>{fact_rows}</table>"
                    "<p class='muted'>Made with the explanation studio. This file is self-contained: it loads "
                    "nothing and runs no scripts.</p>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body>{''.join(sections)}</body></html>")

