"""Form pieces more than one page draws: a method's options, a checkpoint picker."""
from __future__ import annotations

from typing import Callable, Mapping

import streamlit as st

import explainers as ex

from . import models, state

# Options a one-output head (reward model, regressor, cross-encoder) fixes: its raw score is what is explained.
ONE_OUTPUT = {"output": ("logit", "logit: the raw score (fixed)",
                         "This model has one output, a raw score with no probability: the score itself is explained.")}


def method_options(method: str, prefix: str, values: Mapping | None = None,
                   fixed: Mapping[str, tuple[str, str, str]] | None = None) -> dict[str, str]:
    """One widget per option of ``method``, in three columns inside an expander, seeded from ``values``
    (else the option's default) the first time it renders. Returns option name -> widget key.
    ``fixed``: option name -> (value, what the disabled widget shows, why), e.g. ``ONE_OUTPUT``; such an
    option is shown but cannot be changed, and has no key (the library applies the value itself)."""
    m = ex.METHODS[method]
    values = values or {}
    fixed = fixed or {}
    keys = {}
    with st.expander(f"Options of {m.title}", expanded=False):
        st.caption(m.help)
        cols = st.columns(3)
        for i, (name, opt) in enumerate(m.options.items()):
            col = cols[i % 3]
            if name in fixed:
                value, shown, why = fixed[name]
                col.selectbox(name, [value], format_func=lambda _, shown=shown: shown, disabled=True, help=why,
                              key=f"w.{prefix}.{m.name}.{name}.fixed")
                continue
            seed = values.get(name, models.option_default(method, name))
            try:  # a URL can carry any value: a widget starts from one it can show, else the default
                seed = opt.check(name, seed)
            except ex.ExplainerError:
                seed = models.option_default(method, name)
            key = state.widget_default(f"{prefix}.{m.name}.{name}", seed)
            if opt.choices is not None:
                col.selectbox(name, list(opt.choices), key=key, help=opt.help,
                              format_func=str)
            elif opt.kind is int:
                high = min(int(opt.high), models.limits().max_steps) if name in models.STEP_OPTIONS else int(opt.high)
                col.number_input(name, min_value=int(opt.low), max_value=high, step=1, key=key,
                                 help=opt.help, placeholder="auto" if opt.optional else None)
            else:
                col.number_input(name, min_value=float(opt.low), max_value=float(opt.high), step=0.05, key=key,
                                 help=opt.help)
            keys[name] = key
    return keys


def checkpoint_picker(prefix: str, checkpoint: str, revision: str, on_pick: Callable[[str, str], None],
                      name: str = "") -> None:
    """The checkpoint picker: the built-ins, popular hub checkpoints, any hub id with a revision, and a
    local folder when STUDIO_ALLOW_LOCAL=1. ``on_pick(checkpoint, revision)`` runs when the user picks
    one; widgets live under ``w.<prefix>choice``, ``hub``, ``revision``, ``local``; ``name`` ("A", "B")
    tells two pickers on one page apart."""
    options = models.choices()
    listed = list(options)
    extra = [models.OTHER] + ([models.LOCAL] if models.local_folders_allowed() else [])
    local = checkpoint not in listed and models.LOCAL in extra and ex.source_of(checkpoint) == "local"
    keys = {"choice": checkpoint if checkpoint in listed else (models.LOCAL if local else models.OTHER),
            "hub": "" if checkpoint in listed or local else checkpoint, "revision": revision,
            "local": checkpoint if local else ""}
    keys = {what: state.widget_default(f"{prefix}{what}", value) for what, value in keys.items()}

    def picked() -> None:
        choice = st.session_state[keys["choice"]]
        chosen, rev = choice, ""
        if choice == models.OTHER:
            chosen, rev = st.session_state.get(keys["hub"], "").strip(), st.session_state.get(keys["revision"], "")
        elif choice == models.LOCAL:
            chosen = st.session_state.get(keys["local"], "").strip()
        if chosen:
            on_pick(chosen, rev.strip())

    suffix = f" {name}" if name else ""
    st.selectbox(f"Checkpoint{suffix}", listed + extra, key=keys["choice"], on_change=picked,
                 help="Built-ins work offline. Hub ids and folders: a sequence classifier of one of these "
                      "families: " + ", ".join(f.name for f in ex.FAMILIES) + ".")
    caption = options.get(st.session_state[keys["choice"]])
    if caption:
        st.caption(caption)
    if st.session_state[keys["choice"]] == models.OTHER:
        st.text_input(f"Hub id{suffix}", key=keys["hub"], placeholder="owner/model", on_change=picked)
        st.text_input(f"Revision{suffix} (optional)", key=keys["revision"], placeholder="main, a tag or a commit",
                      on_change=picked)
    elif st.session_state[keys["choice"]] == models.LOCAL:
        st.text_input(f"Folder{suffix}", key=keys["local"], on_change=picked)
