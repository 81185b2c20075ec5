"""Escaped HTML for explanations: highlighted words, no scripts, no external assets; and
``markdown_escape`` for user text that a page shows inside (Streamlit) markdown."""
from __future__ import annotations

import html
import re

import numpy as np

# What markdown (CommonMark, GFM) and Streamlit read in running text, backslash-escaped wherever it
# appears: code, emphasis, links and images, strikethrough, tables and LaTeX.
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]~|$])")
_ENTITY = re.compile(r"&(?=#?\w+;)")  # &lt; &#60; &#x3C;: markdown would decode them
_EMPHASIS = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # _ opens or closes emphasis unless inside a word
# Streamlit's directives: :emoji: and :material/icon: (both colons escaped, as Streamlit looks for
# :name: in the text as written, and the slash, as it rewrites ":material/" before parsing); a name
# with a [label] or {attributes}; and the names Streamlit styles (any other :name shows as written).
_COLON_PAIR = re.compile(r"(?=(:[\w+\-/]*):)")
_DIRECTIVE = re.compile(r":(?=[A-Za-z][\w-]*(?:\\\[|\{))|:(?=(?:help|shimmer|small|color|red|orange|yellow|green|"
                        r"blue|violet|gray|grey|rainbow|primary)(?:-background|-badge)?(?![\w-]))")
# What only starts a line: headings, block quotes, list items, setext underlines, numbered lists.
_LINE_START = re.compile(r"^([ \t]*)([#>+\-=]|\d+(?=[.)]))", re.M)
# A URL that GFM turns into a link as it is written: a backslash in it would show, so it is left alone.
_URL = re.compile(r"(?:https?://|www\.)[^\s<]*", re.I)


def markdown_escape(text) -> str:
    """``text`` (a label, a word, a file or column name, an error message that quotes them) written so
    that Streamlit's markdown shows it literally: every character that markdown, LaTeX or Streamlit's
    directives would read there is escaped, and nothing else (a text without them comes back
    unchanged). ``<`` becomes ``&lt;``, so no HTML or autolink can start. Plain URLs and e-mail
    addresses still become links, as markdown makes them, their text as written (no ``javascript:``
    link can come from text)."""
    text, parts, last = str(text), [], 0
    for url in _URL.finditer(text):
        parts += [_escape_markdown(text[last:url.start()]), url.group(0)]
        last = url.end()
    return "".join(parts) + _escape_markdown(text[last:])


def _escape_markdown(text: str) -> str:
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    text = _ENTITY.sub(r"\\&", text).replace("<", "&lt;")
    text = _EMPHASIS.sub(r"\\_", text)
    marks = {m.start() for m in _DIRECTIVE.finditer(text)}  # the colons (and slashes) to escape
    for m in _COLON_PAIR.finditer(text):
        first, token = m.start(), m.group(1)
        marks.update([first, first + len(token)])
        marks.update(first + i for i, c in enumerate(token) if c == "/")
    text = "".join("\\" + c if i in marks else c for i, c in enumerate(text))
    return _LINE_START.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2).isdigit() else "\\" + m.group(2)),
                           text)


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


def text_panel(text: str, words, scale: float) -> str:
    """The highlighted text in the bordered box the app pages show it in."""
    return (f'<div class="xtext" style="line-height:2.1;font-size:1.1em;border:1px solid #ddd;border-radius:6px;'
            f'padding:.6em .8em">{highlighted_text(text, words, scale)}</div>')


def explanation_html(exp) -> str:
    """A compact notebook view: target, score, delta and the highlighted text."""
    head = (f"<b>{html.escape(exp.target)}</b> {exp.score:.4f} · {html.escape(exp.method)}")
    if exp.delta is not None:
        head += f" · convergence delta {exp.delta:+.2e}"
    if exp.truncated:
        head += " · <i>text truncated to the model's input size</i>"
    body = highlighted_text(exp.text, exp.words)
    return f'<div style="font-family:sans-serif;line-height:1.9">{head}<br>{body}</div>'


def legend(scale: float, target: str, signed: bool = True, raw: bool = False) -> str:
    """A small colour bar saying what the colours mean (``raw``: the target is a one-output head's
    raw score, which words lower or raise)."""
    t = html.escape(target)
    if signed:
        left, right = (f"lowers the {t} score", f"raises the {t} score") if raw else (f"against {t}", f"for {t}")
        bar = f"linear-gradient(90deg,{colour(-scale, scale)},transparent,{colour(scale, scale)})"
    else:
        left, right = "0", f"most important for {t}"
        bar = f"linear-gradient(90deg,transparent,{colour(scale, scale)})"
    return (f'<div style="font-family:sans-serif;font-size:0.8em;display:flex;align-items:center;gap:6px">'
            f'<span>{left}{f" ({-scale:+.3g})" if signed else ""}</span><span style="flex:0 0 160px;height:10px;'
            f'background:{bar};border:1px solid #ccc;border-radius:3px"></span>'
            f'<span>{right} ({scale:+.3g})</span></div>')


_REPORT_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;max-width:900px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
.text{line-height:2;font-size:1.05em;border:1px solid #ddd;border-radius:6px;padding:.8em}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}
.bar{height:12px;background:#2166ac;border-radius:2px}.muted{color:#666;font-size:.85em}
"""


def report(exp, view_units, scale: float, title: str = "Explanation report") -> str:
    """A standalone HTML page (no scripts, fonts or external assets) a reviewer can open offline."""
    e = html.escape
    signed = bool(exp.extras.get("signed", True))
    raw = exp.prediction.output == "score"  # a one-output head's raw score: no probability bar
    rows = "".join(
        f"<tr><td>{e(label)}</td><td>{score:.4f}</td><td style='width:260px'>"
        + ("raw score" if raw else f"<div class='bar' style='width:{min(max(score, 0), 1) * 100:.1f}%'></div>")
        + "</td></tr>" for label, score in exp.prediction.scores.items())
    top = sorted(view_units, key=lambda u: -abs(u.score))[:20]
    top_rows = "".join(f"<tr><td>{e(u.text)}</td><td>{u.start}</td><td>{u.score:+.5f}</td></tr>" for u in top)
    facts = [("checkpoint", exp.provenance.get("checkpoint")), ("method", exp.method),
             ("options", ", ".join(f"{k}={v}" for k, v in exp.options.items())),
             ("explained score", f"{exp.target} = {exp.score:.4f}")]
    if exp.baseline_score is not None:
        facts.append(("baseline score", f"{exp.baseline_score:.4f}"))
    if exp.delta is not None:
        facts.append(("convergence delta", f"{exp.delta:+.3e}"))
    if "contrast" in exp.extras:
        facts.append(("contrast", f"minus the score of {exp.extras['contrast']}"))
    if "hypothesis_total" in exp.extras:
        facts.append(("hypothesis tokens (all labels)", f"{exp.extras['hypothesis_total']:+.4f}"))
    if exp.truncated:
        facts.append(("note", "the text was truncated to the model's input size"))
    windows = exp.extras.get("windows") or []
    if windows:  # each window's own prediction: the one above is only their aggregate
        facts += [(f"window {w['index'] + 1}", f"characters {w['start']:,}–{w['end']:,}: {w['label']} "
                   f"({', '.join(f'{k} {v:.4f}' for k, v in w['scores'].items())})") for w in windows]
    facts += [(k, v) for k, v in exp.provenance.items() if k != "checkpoint"]
    fact_rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in facts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{e(title)}</title><style>{_REPORT_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1><p>Prediction: <b>{e(exp.prediction.label)}</b>. Explained: "
        f"<b>{e(exp.target)}</b> by {e(exp.method)}.</p>"
        + "".join(f"<p class='muted'>{e(notice)}</p>" for notice in exp.prediction.notices) +
        f"<h2>Highlighted text</h2>{legend(scale, exp.target, signed, raw)}"
        f"<div class='text'>{highlighted_text(exp.text, view_units, scale)}</div>"
        f"<h2>Scores</h2><table>{rows}</table>"
        f"<h2>Top attributions</h2><table><tr><th>text</th><th>offset</th><th>score</th></tr>{top_rows}</table>"
        f"<h2>Details</h2><table>{fact_rows}</table>"
        "<p class='muted'>Made with the explanation studio. Attributions are raw (not normalised); "
        "colours are scaled to the largest shown magnitude.</p></body></html>")
