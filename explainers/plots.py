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
    """Text for a plotly label: plotly reads tags such as <b> or <a href> in labels, so escape them."""
    return html.escape(text, quote=False)


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
    """Horizontal bars of every label's score, the explained label highlighted."""
    labels = list(prediction.scores)
    scores = [prediction.scores[label] for label in labels]
    colours = [TARGET_COLOUR if label == (target or prediction.label) else OTHER_COLOUR for label in labels]
    fig = go.Figure(go.Bar(x=scores, y=[_plain(label) for label in labels], orientation="h", marker_color=colours,
                           text=[f"{s:.3f}" for s in scores], textposition="auto",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], title="probability"),
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
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis=dict(type="category", tickangle=-60), yaxis=dict(type="category", autorange="reversed"))
    return fig


def attention_by_layer(rows: np.ndarray, tokens, keep, reader: str, title: str | None = None,
                       diverging: bool = False, value: str = "attention") -> go.Figure:
    """Layers x tokens: what the classifier's token (``reader``) attends to after each layer."""
    keep = list(keep)
    y = [f"layer {i + 1}" for i in range(rows.shape[0])]
    title = f"From {reader}, layer by layer" if title is None else title
    fig = _heatmap(rows[:, keep], token_labels(tokens, keep), y, title, diverging, value, 120 + 26 * rows.shape[0])
    fig.update_traces(hovertemplate=f"%{{y}}: {_plain(reader)} → %{{x}}"
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
    fig.update_layout(title=title, height=60 + 230 * rows, margin=dict(l=10, r=10, t=60, b=10))
    return fig


def head_relevance(matrix: np.ndarray, target: str) -> go.Figure:
    """Layers x heads: how much each head's attention moves the explained score (positive part)."""
    y = [f"layer {i + 1}" for i in range(matrix.shape[0])]
    x = [f"head {h + 1}" for h in range(matrix.shape[1])]
    fig = _heatmap(matrix, x, y, f"Which heads move the score of {_plain(target)}", False,
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
        go.Bar(y=labels, x=first, name=first_title, orientation="h", marker_color=TARGET_COLOUR,
               hovertemplate="%{y}: %{x:.3f}<extra>" + _plain(first_title) + "</extra>"),
        go.Bar(y=labels, x=second, name=second_title, orientation="h", marker_color="#f4a582",
               hovertemplate="%{y}: %{x:.3f}<extra>" + _plain(second_title) + "</extra>")])
    fig.update_layout(title=title, barmode="group", yaxis=dict(autorange="reversed", type="category"),
                      height=max(200, 34 * len(labels) + 110), margin=dict(l=10, r=10, t=40, b=30),
                      xaxis_title="share of the total", legend=dict(orientation="h", y=-0.15))
    return fig
