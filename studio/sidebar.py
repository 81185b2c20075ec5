"""The sidebar every page shows: navigation, checkpoint picker, the model's facts."""
from __future__ import annotations

import streamlit as st

import explainers as ex

from . import forms, models, state

PAGES = [("app.py", "Explain", "🔍"), ("pages/1_Attention.py", "Attention", "👀"),
         ("pages/3_Compare.py", "Compare", "⚖️"), ("pages/4_Batch.py", "Batch", "🗂️"),
         ("pages/2_Models_and_methods.py", "Models & methods", "📚")]


def _set_checkpoint(checkpoint: str, revision: str) -> None:
    state.update(checkpoint=checkpoint, revision=revision, target="", contrast="")
    st.session_state.pop("w.template", None)  # show the new model's default template


def render(picker: bool = True) -> ex.Classifier | None:
    """Draw the sidebar; return the loaded classifier (the previous one if the new one fails).
    ``picker=False``: navigation only, for pages with checkpoint pickers of their own (Compare)."""
    st.set_page_config(page_title="Explanation studio", page_icon="🔍", layout="wide")
    req = state.request()
    with st.sidebar:
        st.markdown("### 🔍 Explanation studio")
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        lim = models.limits()
        if lim.public:
            st.caption(f"Public demo: texts up to {lim.max_chars:,} characters, {lim.max_labels} labels, "
                       f"{lim.max_rows} rows, {lim.max_steps} steps and {lim.seconds:g} s per request; no local "
                       "folders. Run the studio yourself for more (see its README).")
        if not picker:
            return None
        st.divider()
        forms.checkpoint_picker("", req.checkpoint, req.revision, _set_checkpoint)
        clf = _load(req)
        if clf is not None:
            _facts(clf, req)
    return clf


def _load(req: state.Request) -> ex.Classifier | None:
    """Load the chosen checkpoint; on failure say why and fall back to the last one that worked."""
    try:
        with st.spinner(f"Loading {ex.html.markdown_escape(req.checkpoint)}…"):
            clf = models.load(req.checkpoint, req.revision, req.label_names)
    except ex.ExplainerError as err:
        st.error(ex.html.markdown_escape(err), icon="⚠️")
        good = st.session_state.get("last_good")
        if good and good != (req.checkpoint, req.revision, req.label_names):
            state.update(checkpoint=good[0], revision=good[1], label_names=good[2])
            try:
                clf = models.load(*good)
            except ex.ExplainerError as again:  # evicted from the cache and now failing too
                st.error(ex.html.markdown_escape(again), icon="⚠️")
                return None
            st.info(f"Still using {ex.html.markdown_escape(good[0])}.")
            return clf
        return None
    st.session_state["last_good"] = (req.checkpoint, req.revision, req.label_names)
    return clf


def _facts(clf: ex.Classifier, req: state.Request) -> None:
    facts = clf.facts()
    task = {"classification": "fine-tuned classifier", "nli": "NLI: zero-shot over your labels",
            "embedding": "embedding similarity: zero-shot over your labels"}[clf.task]
    rows = [("task", task), ("family", facts["family"]), ("head reads", facts["head reads"]),
            ("layers × heads", f"{facts['layers']} × {facts['heads']}"),
            ("parameters", f"{facts['parameters'] / 1e6:,.1f}M" if facts["parameters"] >= 1e5
                           else f"{facts['parameters']:,}"), ("max tokens", facts["max_tokens"])]
    if clf.one_output:
        rows.append(("output", facts["output"]))
    if clf.labels:
        rows.append(("label" if len(clf.labels) == 1 else "labels", ", ".join(clf.labels)))
    st.markdown("\n".join(f"- **{k}**: {ex.html.markdown_escape(v)}" for k, v in rows))  # labels: user text
    if clf.has_generic_labels or req.label_names:
        key = state.widget_default("label_names", req.label_names)
        one = len(clf.labels) == 1
        st.text_input("Display name for the output" if one else "Display names for the labels", key=key,
                      placeholder="reward" if one else "negative, positive",
                      help=None if one else "Comma-separated, one per label, in index order.",
                      on_change=lambda: state.update(label_names=st.session_state[key].strip()))
