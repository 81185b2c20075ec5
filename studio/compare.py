"""The Compare page's state (two checkpoints, their methods, the text or list) in the URL, its two
checkpoint pickers, and its cached predictions. The computing is in explainers/compare.py."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import streamlit as st

import explainers as ex

from . import forms, models, state

DEFAULT_LINES = "\n".join([
    "positive\tA gripping, funny and touching film that never lets go",
    "negative\tThe plot is dull and the acting is worse",
    "positive\tThe movie was not bad at all, highly recommend",
    "negative\tThis movie was not really good, I did not enjoy it at all",
    "positive\tNot the worst film I have seen this year",
    "negative\tWhat a fantastic waste of two hours",
    "negative\tI don't think it's worth the price, honestly.",
    "positive\tThis is awesome anyone thinking to buy should blindly go for it",
])
MODES = {"one": "One text", "list": "A list of texts"}
SOURCES = {"paste": "Paste lines", "file": "Upload a file (CSV or TSV)"}


def guess_columns(columns: list[str]) -> tuple[str, str]:
    """The upload's likely text column (else the first) and gold-label column (else none: "")."""
    lower = {c.strip().lower(): c for c in columns}
    text = next((lower[n] for n in ("text", "sentence", "review", "content") if n in lower), columns[0])
    gold = next((lower[n] for n in ("label", "gold", "gold_label", "labels", "class") if n in lower
                 and lower[n] != text), "")
    return text, gold


@dataclass
class Compare:
    """Everything the Compare page shows depends on; lives in the URL (defaults left out)."""

    a: str = state.DEFAULT_CHECKPOINT
    a_revision: str = ""
    a_method: str = "integrated_gradients"
    b: str = state.DEFAULT_CHECKPOINT
    b_revision: str = ""
    b_method: str = "saliency"
    text: str = state.DEFAULT_TEXT
    labels: str = state.DEFAULT_LABELS  # candidate labels, for a zero-shot checkpoint on either side
    mode: str = "one"
    source: str = "paste"
    lines: str = DEFAULT_LINES
    filter: str = "all"
    row: int = 0  # the list row whose explanations are shown (numbered from 1; 0: none)
    heads: str = "mean"

    def query(self) -> dict[str, str]:
        default, out = Compare(), {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            if f.name in ("text", "lines") and len(value) > state.MAX_URL_TEXT:
                continue
            out[f.name] = str(value)
        return out

    @classmethod
    def from_query(cls, params) -> "Compare":
        out = cls()
        for f in fields(cls):
            if f.name not in params:
                continue
            raw = str(params[f.name])[:20_000]
            if f.name == "row":
                out.row = int(raw) if raw.isdigit() else 0
            else:
                setattr(out, f.name, raw)
        for name, allowed in (("a_method", ex.METHODS), ("b_method", ex.METHODS), ("mode", MODES),
                              ("source", SOURCES), ("filter", ex.FILTERS), ("heads", ex.COMBINATIONS)):
            if getattr(out, name) not in allowed:
                setattr(out, name, getattr(cls, name))
        return out

    def request(self, side: str, text: str | None = None) -> state.Request:
        """The Explain page's request for one side: its checkpoint and method on this text."""
        return state.Request(checkpoint=getattr(self, side), revision=getattr(self, f"{side}_revision"),
                             text=self.text if text is None else text, labels=self.labels,
                             method=getattr(self, f"{side}_method"))


def current() -> Compare:
    """This session's comparison: from the URL on first visit (the Explain page's text when the URL
    has none), then from session state."""
    if "compare" not in st.session_state:
        cs = Compare.from_query(st.query_params)
        req = st.session_state.get("request")
        if "text" not in st.query_params and req is not None:
            cs.text = req.text
        st.session_state["compare"] = cs
    return st.session_state["compare"]


def update(**changes) -> None:
    cs = current()
    for name, value in changes.items():
        setattr(cs, name, value)


def publish() -> None:
    """Write the comparison into the URL."""
    wanted = current().query()
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


class Side(NamedTuple):
    """One side of the comparison, as picked."""

    name: str  # "A" or "B"
    checkpoint: str
    revision: str
    method: str
    clf: ex.Classifier | None

    @property
    def title(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{self.name}: {self.checkpoint}{rev} · {ex.METHODS[self.method].title}"


def picker(side: str) -> Side:
    """A checkpoint picker (built-ins, popular hub checkpoints, any hub id with a revision, a local
    folder when STUDIO_ALLOW_LOCAL=1, as in the sidebar) and a method, for side "a" or "b"; the
    loaded classifier, or None with the message shown."""
    cs = current()
    checkpoint, revision = getattr(cs, side), getattr(cs, f"{side}_revision")
    name = side.upper()

    def picked(chosen: str, rev: str) -> None:
        update(**{side: chosen, f"{side}_revision": rev, "row": 0})

    forms.checkpoint_picker(f"cmp.{side}.", checkpoint, revision, picked, name=name)
    method_key = state.widget_default(f"cmp.{side}.method", getattr(cs, f"{side}_method"))
    st.selectbox(f"Method {name}", list(ex.METHODS), key=method_key, format_func=lambda n: ex.METHODS[n].title,
                 on_change=lambda: update(**{f"{side}_method": st.session_state[method_key]}))
    clf = None
    if checkpoint:
        try:
            with st.spinner(f"Loading {ex.html.markdown_escape(checkpoint)}…"):
                clf = models.load(checkpoint, revision, "")
        except ex.ExplainerError as err:
            st.error(ex.html.markdown_escape(err), icon="⚠️")
    else:
        st.info("Give a checkpoint.")
    if clf is not None:
        facts = clf.facts()
        labels = ex.html.markdown_escape(", ".join(clf.labels)) if clf.labels else "zero-shot over your labels"
        st.caption(f"{facts['family']} · {facts['layers']} layers × {facts['heads']} heads · "
                   f"{facts['parameters'] / 1e6:,.1f}M parameters · labels: {labels}")
    return Side(name, checkpoint, revision, getattr(cs, f"{side}_method"), clf)


@st.cache_data(max_entries=32, show_spinner=False)
def predictions(checkpoint: str, revision: str, texts: tuple[str, ...], task_inputs: tuple) -> list[ex.Prediction]:
    """One side's predictions on a list of texts (batched), cached per process."""
    return ex.predict(models.load(checkpoint, revision, ""), list(texts), **dict(task_inputs))


def predict(cs: Compare, side: Side, texts: list[str]) -> list[ex.Prediction]:
    inputs = cs.request(side.name.lower()).task_inputs(side.clf.task)
    return predictions(side.checkpoint, side.revision, tuple(texts), tuple(sorted(inputs.items())))
