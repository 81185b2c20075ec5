"""Pure figure builders: results in, plotly Figures out. No streamlit here."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from .results import Explanation, Prediction

# Colour-blind-safe diverging scale (ColorBrewer RdBu), red = against the target, blue = for it.
DIVERGING = [[0.0, "#b2182b"], [0.25, "#ef8a62"], [0.5, "#f7f7f7"], [0.75, "#67a9cf"], [1.0, "#2166ac"]]
TARGET_COLOUR, OTHER_COLOUR = "#2166ac", "#9ecae1"


@dataclass(frozen=True)
class Unit:
    """A highlighted stretch of the text: a word, or a token in token view."""

    text: str
    start: int
    end: int
    score: float


def _plain(text: str) -> str:
    """Text for a plotly label or title: plotly reads tags such as <b> or <a href> in text, so escape
    them (plotly decodes the entities back: the text shows as written). Text that goes into a hover
    template goes in a trace's ``meta`` instead (``%{meta[0]}``). Plotly also fills ``%{...}`` in titles
    and trace names from the figure's meta: written ``&#37;{``, it shows as typed."""
    return html.escape(str(text), quote=False).replace("%{", "&#37;{")


def units(exp: Explanation, view: str = "words") -> list[Unit]:
    """Words, or non-special tokens (pieces with the same span, e.g. bytes of one emoji, merged)."""
    if view == "words":
        return [Unit(w.text, w.start, w.end, w.score) for w in exp.words]
    merged: dict[tuple[int, int], float] = {}
    for (s, e), special, score in zip(exp.token_offsets.tolist(), exp.special_tokens.tolist(), exp.token_scores):
        if not special and e > s:
            merged[(s, e)] = merged.get((s, e), 0.0) + float(score)
    spans = sorted(merged)
    out, last = [], 0
    for start, end in spans:
        s = max(start, last)  # tokens never overlap on the page
        if end > s:
            out.append(Unit(exp.text[s:end], s, end, merged[(start, end)]))
            last = end
    return out


def scale_of(values, mode: str = "max") -> float:
    """The colour scale's half-range: the largest magnitude, or its 95th percentile (robust to one outlier)."""
    mags = np.abs(np.asarray(list(values), dtype=float))
    if not mags.size:
        return 0.0
    return float(np.percentile(mags, 95) if mode == "p95" else mags.max())


def probabilities(prediction: Prediction, target: str | None = None, title: str = "Scores") -> go.Figure:
    """Horizontal bars of every label's score, the explained label highlighted; a one-output head's
    raw score on its own axis (it is no probability)."""
    labels = list(prediction.scores)
    scores = [prediction.scores[label] for label in labels]
    colours = [TARGET_COLOUR if label == (target or prediction.label) else OTHER_COLOUR for label in labels]
    fig = go.Figure(go.Bar(x=scores, y=[_plain(label) for label in labels], orientation="h", marker_color=colours,
                           text=[f"{s:.3f}" for s in scores], textposition="auto",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    raw = prediction.output == "score"
    fig.update_layout(title=_plain(title),
                      xaxis=dict(title="raw score") if raw else dict(range=[0, 1], title="probability"),
                      yaxis=dict(autorange="reversed", type="category"),
                      height=max(160, 36 * len(labels) + 90), margin=dict(l=10, r=10, t=40, b=30))
    return fig


def strongest(items: list[Unit], k: int | None = None) -> list[Unit]:
    """The k units with the largest |score|, strongest first (ties keep text order)."""
    return sorted(items, key=lambda u: -abs(u.score))[:k]


def top_units(items: list[Unit], k: int = 15) -> go.Figure:
    """The k units with the largest |score|, as a diverging bar chart (magnitudes, never negative,
    take its upper, white-to-blue half)."""
    order = strongest(items, k)
    limit = scale_of([u.score for u in order]) or 1.0
    fig = go.Figure(go.Bar(
        x=[u.score for u in order], y=[_plain(f"{u.text} ({u.start})") for u in order], orientation="h",
        marker=dict(color=[u.score for u in order], colorscale=DIVERGING, cmin=-limit, cmax=limit),
        hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(title=f"Top {len(order)} by |attribution|", yaxis=dict(autorange="reversed", type="category"),
                      height=max(160, 24 * len(order) + 90), margin=dict(l=10, r=10, t=40, b=30),
                      xaxis_title="attribution")
    return fig


# --------------------------------------------------------------------------- attention

SEQUENTIAL = "Viridis"  # perceptually uniform, colour-blind-safe


def token_labels(tokens, positions) -> list[str]:
    """Unique, escaped axis labels ("film·7"): plotly merges equal categories and reads tags in text."""
    return [_plain(f"{tokens[i]}·{i}") for i in positions]


def _heatmap(z, x, y, title: str, diverging: bool, value: str, height: int) -> go.Figure:
    z = np.asarray(z, dtype=float)
    colours = dict(colorscale=DIVERGING, zmid=0.0) if diverging else dict(colorscale=SEQUENTIAL, zmin=0.0)
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, **colours, colorbar=dict(title=value, thickness=12),
                               hovertemplate=f"%{{y}} → %{{x}}<br>{value} %{{z:.4g}}<extra></extra>"))
    fig.update_layout(title=_plain(title), height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis=dict(type="category", tickangle=-60), yaxis=dict(type="category", autorange="reversed"))
    return fig


def attention_by_layer(rows: np.ndarray, tokens, keep, reader: str, title: str | None = None,
                       diverging: bool = False, value: str = "attention") -> go.Figure:
    """Layers x tokens: what the classifier's token (``reader``) attends to after each layer."""
    keep = list(keep)
    y = [f"layer {i + 1}" for i in range(rows.shape[0])]
    title = f"From {reader}, layer by layer" if title is None else title
    fig = _heatmap(rows[:, keep], token_labels(tokens, keep), y, title, diverging, value, 120 + 26 * rows.shape[0])
    fig.update_traces(meta=[_plain(reader)], hovertemplate=f"%{{y}}: %{{meta[0]}} → %{{x}}"
                                                            f"<br>{value} %{{z:.4g}}<extra></extra>")
    return fig


def attention_matrix(matrix: np.ndarray, query_tokens, key_tokens, query_keep, key_keep, title: str,
                     diverging: bool = False, value: str = "attention") -> go.Figure:
    """Queries (rows) x keys (columns) of one layer: who attends to whom."""
    q, k = list(query_keep), list(key_keep)
    side = min(900, max(360, 14 * max(len(q), len(k)) + 160))
    return _heatmap(matrix[np.ix_(q, k)], token_labels(key_tokens, k), token_labels(query_tokens, q), title,
                    diverging, value, side)


def head_grid(weights: np.ndarray, query_tokens, key_tokens, query_keep, key_keep, title: str,
              columns: int = 4) -> go.Figure:
    """Small multiples: every head of one layer on one shared colour scale."""
    from plotly.subplots import make_subplots

    heads = weights.shape[0]
    rows = -(-heads // columns)
    q, k = list(query_keep), list(key_keep)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[f"head {h + 1}" for h in range(heads)],
                        horizontal_spacing=0.02, vertical_spacing=0.06)
    x, y = token_labels(key_tokens, k), token_labels(query_tokens, q)
    top = float(weights[:, q][:, :, k].max()) if heads else 1.0
    for h in range(heads):
        fig.add_trace(go.Heatmap(z=weights[h][np.ix_(q, k)], x=x, y=y, colorscale=SEQUENTIAL, zmin=0.0, zmax=top,
                                 showscale=h == 0, colorbar=dict(title="attention", thickness=12),
                                 hovertemplate=f"head {h + 1}: %{{y}} → %{{x}}<br>attention %{{z:.4g}}<extra></extra>"),
                      row=h // columns + 1, col=h % columns + 1)
    fig.update_xaxes(type="category", showticklabels=False)
    fig.update_yaxes(type="category", showticklabels=False, autorange="reversed")
    fig.update_layout(title=_plain(title), height=60 + 230 * rows, margin=dict(l=10, r=10, t=60, b=10))
    return fig


def head_relevance(matrix: np.ndarray, target: str) -> go.Figure:
    """Layers x heads: how much each head's attention moves the explained score (positive part)."""
    y = [f"layer {i + 1}" for i in range(matrix.shape[0])]
    x = [f"head {h + 1}" for h in range(matrix.shape[1])]
    fig = _heatmap(matrix, x, y, f"Which heads move the score of {target}", False,  # escaped there
                   "relevance", 120 + 26 * matrix.shape[0])
    fig.update_traces(hovertemplate="%{y}, %{x}<br>relevance %{z:.4g}<extra></extra>")
    return fig


def paired_words(names, first, second, first_title: str, second_title: str, title: str,
                 top: int | None = None) -> go.Figure:
    """Two scores per word, side by side (e.g. attention rollout and an attribution); with ``top``,
    only the words with the largest sum of both."""
    if top is not None:
        keep = np.argsort(-(np.asarray(first, dtype=float) + np.asarray(second, dtype=float)), kind="stable")[:top]
        names, first, second = [names[i] for i in keep], [first[i] for i in keep], [second[i] for i in keep]
    labels = [_plain(n) for n in names]
    fig = go.Figure([
        go.Bar(y=labels, x=first, name=_plain(first_title), orientation="h", marker_color=TARGET_COLOUR,
               meta=[_plain(first_title)], hovertemplate="%{y}: %{x:.3f}<extra>%{meta[0]}</extra>"),
        go.Bar(y=labels, x=second, name=_plain(second_title), orientation="h", marker_color="#f4a582",
               meta=[_plain(second_title)], hovertemplate="%{y}: %{x:.3f}<extra>%{meta[0]}</extra>")])
    fig.update_layout(title=_plain(title), barmode="group", yaxis=dict(autorange="reversed", type="category"),
                      height=max(200, 34 * len(labels) + 110), margin=dict(l=10, r=10, t=40, b=30),
                      xaxis_title="share of the total", legend=dict(orientation="h", y=-0.15))
    return fig


def word_labels(words) -> list[str]:
    """Unique, escaped axis labels for words ("film·3": the text's third word)."""
    return [_plain(f"{w.text}·{i + 1}") for i, w in enumerate(words)]


def attention_side_by_side(words, a_rows: np.ndarray, b_rows: np.ndarray, a_title: str, b_title: str,
                           value: str = "attention", keep=None) -> go.Figure:
    """Two models' attention from their classifier's token, words (rows, in text order, shared by both
    panels) x layers (columns, each model its own), on one colour scale. ``keep``: the word indices shown."""
    from plotly.subplots import make_subplots

    keep = list(range(len(words))) if keep is None else list(keep)
    labels = [word_labels(words)[i] for i in keep]
    a, b = np.asarray(a_rows, dtype=float)[:, keep], np.asarray(b_rows, dtype=float)[:, keep]
    top = float(max(a.max(initial=0.0), b.max(initial=0.0))) or 1.0
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[_plain(a_title), _plain(b_title)])
    for col, (rows, title) in enumerate(((a, a_title), (b, b_title)), 1):
        layers = [f"layer {i + 1}" for i in range(rows.shape[0])]
        fig.add_trace(go.Heatmap(z=rows.T, x=layers, y=labels, coloraxis="coloraxis", meta=[_plain(title)],
                                 hovertemplate=f"%{{meta[0]}}<br>%{{x}} → %{{y}}<br>{value} "
                                               f"%{{z:.4g}}<extra></extra>"), row=1, col=col)
    fig.update_layout(coloraxis=dict(colorscale=SEQUENTIAL, cmin=0.0, cmax=top,
                                     colorbar=dict(title=value, thickness=12)),
                      height=130 + 22 * len(labels), margin=dict(l=10, r=10, t=90, b=10))
    fig.update_annotations(yshift=30)  # the panel titles above the layer ticks
    fig.update_xaxes(type="category", side="top")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


# --------------------------------------------------------------------------- datasets (explainers/batch.py)


def confusion_matrix(confusion, title: str = "Confusion matrix") -> go.Figure:
    """Gold labels (rows) x predicted labels (columns) of ``batch.evaluate``'s confusion table: each
    cell's count written in it, its colour the share of that gold label's rows (so a small class's
    errors show as clearly as a large one's); the diagonal is what the model got right.

    A transparent marker sits on every cell's centre and takes the hover (nearest cell, no distance
    limit): plotly heatmaps have no selectable points, so these make a click on a cell a selection
    (``st.plotly_chart(on_select=...)``) whose point has the cell's ``x`` (predicted) and ``y`` (gold)."""
    gold = [_plain(str(label)) for label in confusion.index]
    predicted = [_plain(str(label)) for label in confusion.columns]
    counts = np.asarray(confusion, dtype=float).reshape(len(gold), len(predicted))
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    text = [[f"{int(c):,}" for c in row] for row in counts]
    fig = go.Figure(go.Heatmap(
        z=share, x=predicted, y=gold, zmin=0.0, zmax=1.0, colorscale="Blues", text=text, texttemplate="%{text}",
        textfont=dict(size=16), hoverinfo="skip",
        colorbar=dict(title="share of<br>gold rows", thickness=12, tickformat=".0%")))
    cells = [(i, j) for i in range(len(gold)) for j in range(len(predicted))]
    fig.add_trace(go.Scatter(
        x=[predicted[j] for _, j in cells], y=[gold[i] for i, _ in cells], mode="markers", showlegend=False,
        marker=dict(size=24, opacity=0), customdata=[[text[i][j], share[i, j]] for i, j in cells],
        hovertemplate="gold %{y} → predicted %{x}<br>%{customdata[0]} rows (%{customdata[1]:.0%} of gold %{y})"
                      "<extra></extra>"))
    side = min(700, 160 + 70 * len(gold))
    fig.update_layout(title=_plain(title), height=side, margin=dict(l=10, r=10, t=40, b=10), hovermode="closest",
                      hoverdistance=-1, clickmode="event+select", dragmode=False,
                      xaxis=dict(type="category", title="predicted", side="top", showgrid=False, zeroline=False),
                      yaxis=dict(type="category", title="gold", autorange="reversed", showgrid=False,
                                 zeroline=False))
    return fig


def _short_labels(words, limit: int = 20) -> list[str]:
    """Escaped axis labels, long words cut with "…", unique (plotly merges equal categories)."""
    out: list[str] = []
    for word in words:
        label = word if len(word) <= limit else word[:limit - 1] + "…"
        base, n = label, 2
        while label in out:
            label, n = f"{base}·{n}", n + 1
        out.append(label)
    return [_plain(label) for label in out]


def class_words(summary, value: str = "total", top: int = 10, columns: int = 3,
                title: str = "Words that push toward each label") -> go.Figure:
    """One panel per label of ``batch.class_words``' table (label, word, total, mean, count): the
    ``top`` words by ``value`` ("total": summed share over the dataset, or "mean": per row it is in),
    ``columns`` panels a row; the whole word, both values and the number of rows in the hover."""
    from plotly.subplots import make_subplots

    if value not in ("total", "mean"):
        raise ValueError(f"value must be 'total' or 'mean', not {value!r}")
    records = summary.to_dict("records") if hasattr(summary, "to_dict") else list(summary)
    labels = list(dict.fromkeys(str(r["label"]) for r in records))
    panels = max(len(labels), 1)
    columns = max(1, min(columns, panels))
    rows = -(-panels // columns)
    shown = {label: sorted((r for r in records if str(r["label"]) == label), key=lambda r: -r[value])[:top]
             for label in labels}
    names = {label: _short_labels([str(r["word"]) for r in mine]) for label, mine in shown.items()}
    longest = max((len(n) for ns in names.values() for n in ns), default=4)
    spacing = min(0.45 / (columns - 1), 0.03 + 0.008 * longest) if columns > 1 else 0.1  # room for the words
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[f"toward {_plain(label)}" for label in labels],
                        horizontal_spacing=spacing, vertical_spacing=0.5 / rows if rows > 1 else 0.1)
    for i, label in enumerate(labels):
        mine = shown[label]
        fig.add_trace(go.Bar(
            x=[r[value] for r in mine], y=names[label], orientation="h", marker_color=TARGET_COLOUR,
            name=_plain(label), showlegend=False, meta=[_plain(label)],
            customdata=[[r["total"], r["mean"], r["count"], _plain(str(r["word"]))] for r in mine],
            hovertemplate=("%{customdata[3]}<br>summed share %{customdata[0]:.3f} · mean %{customdata[1]:.3f}"
                           "<br>in %{customdata[2]} rows<extra>%{meta[0]}</extra>")),
            row=i // columns + 1, col=i % columns + 1)
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(title_text="summed share of |attribution|" if value == "total" else "mean share per row",
                     title_font_size=11)
    most = max((len(m) for m in shown.values()), default=1)
    fig.update_layout(title=_plain(title), height=80 + rows * (60 + 22 * max(most, 1)),
                      margin=dict(l=10, r=10, t=70, b=10))
    return fig


# --------------------------------------------------------------------------- faithfulness (explainers/faithfulness.py)

# Blue and orange: told apart with every common colour-vision deficiency; the line style tells method from random.
DELETION_COLOUR, INSERTION_COLOUR = "#2166ac", "#e66101"


def faithfulness_curves(result, title: str | None = None) -> go.Figure:
    """``ex.faithfulness``' deletion curve (the explanation's top words removed first) and insertion
    curve (only its top words kept), solid, with the mean over random word orders dashed as the
    reference: a faithful explanation's deletion curve falls below the random one, its insertion
    curve rises above it. The explained label reaches plotly as escaped text only."""
    from .errors import ExplainerError

    if result.deletion is None or result.insertion is None:
        raise ExplainerError("This faithfulness result has no curves; compute it with curves=True.")
    value = f"{result.output} of {result.target}" + (f" minus {result.contrast}" if result.contrast else "")
    fig = go.Figure()
    for name, colour, verb, mine, chance, area, chance_area in (
            ("deletion", DELETION_COLOUR, "removed", result.deletion, result.random_deletion, result.deletion_auc,
             result.random_deletion_auc),
            ("insertion", INSERTION_COLOUR, "kept", result.insertion, result.random_insertion, result.insertion_auc,
             result.random_insertion_auc)):
        for who, curve, auc, dash in ((result.method, mine, area, "solid"),
                                      ("random order", chance, chance_area, "dash")):
            if curve is None:
                continue
            label = f"{name}, {who} (area {auc:.3f})"
            text = ["<br>".join((_plain(label), f"{k} of {result.n_words} words {verb} ({f:.0%})",
                                 f"{_plain(value)}: {s:.4f}"))
                    for k, f, s in zip(curve.counts, curve.fractions, curve.scores)]
            fig.add_trace(go.Scatter(x=curve.fractions, y=curve.scores, mode="lines+markers", name=_plain(label),
                                     line=dict(color=colour, dash=dash, width=2.5 if dash == "solid" else 1.5),
                                     marker=dict(size=5), text=text, hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(
        title=_plain(title or f"Removing the words {result.method} ranks highest ({result.removal})"),
        xaxis=dict(title="share of words removed / kept", range=[-0.02, 1.02], tickformat=".0%"),
        yaxis=dict(title=_plain(value)), height=380, margin=dict(l=10, r=10, t=40, b=30),
        legend=dict(orientation="h", y=-0.2), hovermode="closest")
    return fig
