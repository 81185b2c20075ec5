"""Pure figure builders: results in, plotly Figures out. No streamlit here."""
from __future__ import annotations

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
    fig = go.Figure(go.Bar(x=scores, y=labels, orientation="h", marker_color=colours,
                           text=[f"{s:.3f}" for s in scores], textposition="auto",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], title="probability"),
                      yaxis=dict(autorange="reversed", type="category"),
                      height=max(160, 36 * len(labels) + 90), margin=dict(l=10, r=10, t=40, b=30))
    return fig


def top_units(items: list[Unit], k: int = 15, signed: bool = True) -> go.Figure:
    """The k units with the largest |score|, as a diverging bar chart."""
    order = sorted(items, key=lambda u: -abs(u.score))[:k]
    limit = scale_of([u.score for u in order]) or 1.0
    fig = go.Figure(go.Bar(
        x=[u.score for u in order], y=[f"{u.text} ({u.start})" for u in order], orientation="h",
        marker=dict(color=[u.score for u in order], colorscale=DIVERGING, cmin=-limit if signed else -limit,
                    cmax=limit), hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(title=f"Top {len(order)} by |attribution|", yaxis=dict(autorange="reversed", type="category"),
                      height=max(160, 24 * len(order) + 90), margin=dict(l=10, r=10, t=40, b=30),
                      xaxis_title="attribution")
    return fig
