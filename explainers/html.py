"""Escaped HTML for explanations: highlighted words, no scripts, no external assets."""
from __future__ import annotations

import html

import numpy as np

# Colour-blind-safe diverging endpoints (ColorBrewer RdBu): blue = pushes towards the target.
_POSITIVE = (33, 102, 172)
_NEGATIVE = (178, 24, 43)


def colour(value: float, scale: float) -> str:
    """rgba background for a score on a diverging scale centred on zero."""
    if scale <= 0 or not np.isfinite(value):
        return "transparent"
    alpha = min(abs(value) / scale, 1.0) * 0.85
    r, g, b = _POSITIVE if value >= 0 else _NEGATIVE
    return f"rgba({r},{g},{b},{alpha:.3f})"


def highlighted_text(text: str, words, scale: float | None = None) -> str:
    """The original text, every word wrapped in an escaped, coloured span with its score as a tooltip."""
    if scale is None:
        scale = max((abs(w.score) for w in words), default=0.0)
    parts, pos = [], 0
    for w in words:
        parts.append(html.escape(text[pos:w.start]))
        parts.append(
            f'<span class="xw" style="background:{colour(w.score, scale)};border-radius:3px;padding:0 1px" '
            f'title="{html.escape(w.text, quote=True)}: {w.score:+.4g}">{html.escape(w.text)}</span>')
        pos = w.end
    parts.append(html.escape(text[pos:]))
    return "".join(parts).replace("\n", "<br>")


def explanation_html(exp) -> str:
    """A compact notebook view: target, score, delta and the highlighted text."""
    head = (f"<b>{html.escape(exp.target)}</b> {exp.score:.4f} · {html.escape(exp.method)}")
    if exp.delta is not None:
        head += f" · convergence delta {exp.delta:+.2e}"
    if exp.truncated:
        head += " · <i>text truncated to the model's input size</i>"
    body = highlighted_text(exp.text, exp.words)
    return f'<div style="font-family:sans-serif;line-height:1.9">{head}<br>{body}</div>'
