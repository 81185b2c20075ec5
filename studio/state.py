"""Page state that survives page switches and lives in the URL.

Widgets keep their values under ``w.<name>`` keys, which Streamlit drops when
a page stops rendering them; the request itself lives under our own keys in
``st.session_state`` and in the query string, so opening a URL reproduces the
view and switching pages loses nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from urllib.parse import urlencode

import streamlit as st

from explainers import LONG_TEXT, METHODS, WINDOW_AGGREGATES

DEFAULT_CHECKPOINT = "builtin:sst2"
DEFAULT_TEXT = "This is awesome anyone thinking to buy should blindly go for it"
DEFAULT_LABELS = "positive, negative, shopping, travel"
MAX_URL_TEXT = 2000  # longer texts are not put in the URL
SCALARS = (str, int, float, bool, type(None))  # what an option's value in the URL may be


@dataclass
class Request:
    """Everything an explanation depends on (the view settings are separate)."""

    checkpoint: str = DEFAULT_CHECKPOINT
    revision: str = ""
    label_names: str = ""
    text: str = DEFAULT_TEXT
    labels: str = DEFAULT_LABELS
    template: str = ""  # empty: the model's own default template
    multi_label: bool = False
    mode: str = "labels"  # NLI checkpoints: "labels" (zero-shot) or "pair" (premise and hypothesis)
    hypothesis: str = "The buyer is happy."
    method: str = "integrated_gradients"
    target: str = ""
    contrast: str = ""
    options: dict = field(default_factory=dict)
    long_text: str = "truncate"  # a text longer than the model reads: "truncate" or "windows" (sliding windows)
    window_aggregate: str = "mean"  # windows: the whole text's prediction from the windows' ("mean", "max", "first")

    def windowing(self) -> dict:
        """What ``ex.explain`` takes for long texts: nothing for truncation (its default)."""
        if self.long_text != "windows":
            return {}
        return {"long_text": "windows", "window_aggregate": self.window_aggregate}

    def task_inputs(self, kind: str) -> dict:
        """What this request gives a checkpoint of ``kind`` (Classifier.task): candidate labels for
        zero-shot, a hypothesis for an NLI pair, nothing for a fine-tuned classifier. The library's
        ``task_for`` decides the task from them."""
        if kind == "embedding" or (kind == "nli" and self.mode == "labels"):
            return {"labels": self.labels, "template": self.template or None, "multi_label": self.multi_label}
        if kind == "nli":
            return {"hypothesis": self.hypothesis}
        return {}

    def query(self) -> dict[str, str]:
        """The request as query parameters (defaults left out, long text left out)."""
        default = Request()
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            if f.name == "text" and len(value) > MAX_URL_TEXT:
                continue
            out[f.name] = json.dumps(value) if f.name == "options" else ("1" if value is True else str(value))
        return out

    @classmethod
    def from_query(cls, params) -> "Request":
        req = cls()
        for f in fields(cls):
            if f.name not in params:
                continue
            raw = params[f.name]
            if f.name == "options":
                try:
                    value = json.loads(raw)
                except ValueError:  # not JSON, or an integer too long for Python to read (JSONDecodeError is one)
                    continue
                if not isinstance(value, dict) or not all(isinstance(v, SCALARS) for v in value.values()):
                    continue  # every option is one number or word; a list or object is no request's
            elif f.name == "multi_label":
                value = raw in ("1", "true", "True")
            else:
                value = str(raw)[:20_000]
            setattr(req, f.name, value)
        if req.method not in METHODS:
            req.method = cls.method
        if req.long_text not in LONG_TEXT:
            req.long_text = cls.long_text
        if req.window_aggregate not in WINDOW_AGGREGATES:
            req.window_aggregate = cls.window_aggregate
        return req


def request() -> Request:
    """This session's request: from the URL on first visit, then from session state."""
    if "request" not in st.session_state:
        st.session_state["request"] = Request.from_query(st.query_params)
    return st.session_state["request"]


def update(**changes) -> None:
    req = request()
    for name, value in changes.items():
        setattr(req, name, value)


def publish() -> None:
    """Write the request into the URL (Streamlit clears it on page switches)."""
    wanted = request().query()
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def share_link() -> str:
    """The full URL that reopens this view."""
    base = st.context.url or ""
    query = urlencode(request().query())
    return f"{base}?{query}" if query else base


def widget_default(key: str, value) -> str:
    """Seed a widget's state from the request the first time it renders; returns its key."""
    wkey = f"w.{key}"
    if wkey not in st.session_state:
        st.session_state[wkey] = value
    return wkey
