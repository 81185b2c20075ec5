"""Attention page: where the model looks, layer by layer, and what fine-tuning changed."""
from __future__ import annotations

import numpy as np
import streamlit as st

import explainers as ex
from explainers import COMBINATIONS, combine_heads, difference, from_reader, shown_tokens
from studio import models, sidebar, state

STREAMS = {"encoder": "encoder self-attention", "decoder": "decoder self-attention",
           "cross": "cross-attention (decoder → encoder)"}
GRID_TOKENS = 40  # the head grid draws every head: fewer tokens per map keep it legible


def shown_caption(keep, total: int, special: np.ndarray, hide_special: bool, why: str) -> str:
    hidden = total - len(keep)
    if not hidden:
        return f"All {total} tokens shown."
    parts = []
    if hide_special:
        parts.append(f"{int(special.sum())} special tokens hidden")
    rest = hidden - (int(special.sum()) if hide_special else 0)
    if rest > 0:
        parts.append(f"{rest} tokens with the least {why} hidden (raise “Tokens shown” to see them)")
    return f"Showing {len(keep)} of {total} tokens: " + "; ".join(parts) + "."


def keep_valid(key: str, valid, fallback) -> None:
    """Forget a remembered widget value that this model or text no longer offers (another checkpoint
    has fewer layers, a shorter text fewer tokens, a mean-pooled model no gradient combination)."""
    if key in st.session_state and st.session_state[key] not in valid:
        st.session_state[key] = fallback


def controls(maps: ex.AttentionMaps):
    c1, c2, c3, c4 = st.columns(4)
    combos = list(COMBINATIONS) if maps.target is not None else ["mean", "max"]
    keep_valid("w.attn.combine", combos, "mean")
    how = c1.selectbox("Combine heads", combos, key=state.widget_default("attn.combine", "mean"),
                       format_func=lambda c: COMBINATIONS[c].split(":")[0],
                       help=" · ".join(f"{k}: {v}" for k, v in COMBINATIONS.items()))
    stream = "encoder"
    if len(maps.streams) > 1:
        stream = c2.selectbox("Attention", list(maps.streams), format_func=STREAMS.get,
                              key=state.widget_default("attn.stream", "encoder"))
    n = len(maps.streams[stream].key_tokens)
    keep_valid("w.attn.top_k", range(min(5, n), n + 1), min(n, 60))
    top_k = slider(c3, "Tokens shown", min(5, n), n, min(n, 60), key="w.attn.top_k",
                   help="The most attended-to tokens; the rest are hidden, and the caption says how many.")
    hide_special = c4.toggle("Hide special tokens", key=state.widget_default("attn.hide_special", True),
                             help="[CLS], [SEP] and the like often take most of the attention and flatten the "
                                  "colour scale for the words.")
    return how, stream, top_k, hide_special


def by_layer(maps: ex.AttentionMaps, stream: str, how: str, top_k: int, hide_special: bool) -> None:
    s = maps.streams[stream]
    rows = from_reader(combine_heads(s, how), s.reads)
    keep = shown_tokens(rows.max(axis=0), s.key_special, top_k, hide_special)
    reader = s.reader
    st.subheader(f"From {reader}, layer by layer")
    st.plotly_chart(ex.plots.attention_by_layer(rows, s.key_tokens, keep, reader, title="",
                                             value="relevance" if how == "gradient" else "attention"),
                    width="stretch")
    st.caption(shown_caption(keep, len(s.key_tokens), s.key_special, hide_special, "attention from it")
               + f" Heads combined by {COMBINATIONS[how]}.")
    if s.head_relevance is not None:
        with st.expander(f"Which heads matter for {ex.html.markdown_escape(maps.target)}", expanded=how == "gradient"):
            st.plotly_chart(ex.plots.head_relevance(s.head_relevance, maps.target), width="stretch")
            st.caption("Each head's sum of (attention × d score / d attention), negatives clipped: "
                       f"heads whose attention pushes the score of {ex.html.markdown_escape(maps.target)} up.")


def slider(col, label: str, low: int, high: int, value: int, key: str, help: str | None = None) -> int:
    """A slider from ``low`` to ``high``; where there is nothing to choose (a text of five tokens or fewer,
    a model of one layer), the one value as a caption: a slider needs two."""
    if low >= high:
        col.caption(f"{label}: {high}")
        return high
    return col.slider(label, low, high, value, key=key, help=help)


def one_layer(maps: ex.AttentionMaps, stream: str, how: str, top_k: int, hide_special: bool):
    s = maps.streams[stream]
    st.subheader("One layer in full")
    c1, c2 = st.columns([3, 2])
    keep_valid("w.attn.layer", range(1, s.layers + 1), s.layers)
    keep_valid("w.attn.head", ["combined", *range(1, s.heads + 1)], "combined")
    layer = slider(c1, "Layer", 1, s.layers, s.layers, key="w.attn.layer") - 1
    head = c2.selectbox("Head", ["combined"] + list(range(1, s.heads + 1)), key="w.attn.head",
                        format_func=lambda h: "all heads, combined as above" if h == "combined" else f"head {h}")
    matrix = combine_heads(s, how)[layer] if head == "combined" else s.weights[layer, head - 1]
    keep = shown_tokens(matrix.sum(axis=0), s.key_special, top_k, hide_special)
    q_keep = keep if stream != "cross" else shown_tokens(matrix.max(axis=1), s.query_special, top_k, hide_special)
    if s.reads is not None:  # the row the classifier reads stays, special token or not
        q_keep = np.union1d(q_keep, [s.reads])
    title = f"Layer {layer + 1}, " + (f"heads combined ({how})" if head == "combined" else f"head {head}")
    st.plotly_chart(ex.plots.attention_matrix(matrix, s.query_tokens, s.key_tokens, q_keep, keep, title,
                                           value="relevance" if how == "gradient" and head == "combined"
                                           else "attention"), width="stretch")
    kept_row = f"; the row of {s.reader} is always shown. " if s.reads is not None else ". "
    st.caption("Rows attend to columns" + kept_row
               + shown_caption(keep, len(s.key_tokens), s.key_special, hide_special, "attention received"))
    with st.expander(f"All {s.heads} heads of layer {layer + 1}"):
        grid_k = min(top_k, GRID_TOKENS)
        g_keep = shown_tokens(s.weights[layer].sum(axis=(0, 1)), s.key_special, grid_k, hide_special)
        st.plotly_chart(ex.plots.head_grid(s.weights[layer], s.query_tokens, s.key_tokens, g_keep, g_keep,
                                        f"Layer {layer + 1}, every head"), width="stretch")
        st.caption(shown_caption(g_keep, len(s.key_tokens), s.key_special, hide_special, "attention received")
                   + f" The grid shows at most {GRID_TOKENS} tokens per head.")
    return layer


def rollout_vs_attribution(maps: ex.AttentionMaps, how: str, exp: ex.Explanation | None) -> None:
    st.subheader("Attention rollout beside the word attributions")
    words = ex.rollout_words(maps, how)
    reader = maps.encoder.reader
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Rollout** ({'gradient-weighted' if how == 'gradient' else how} heads), "
                    f"from {reader} after the last layer")
        scale = ex.plots.scale_of([w.score for w in words])
        st.html(ex.html.legend(scale, reader, signed=False))
        st.html(ex.html.text_panel(maps.text, words, scale))
    if exp is None:
        return
    with right:
        st.markdown(f"**{ex.METHODS[exp.method].title}** for **{ex.html.markdown_escape(exp.target)}** "
                    "(the Explain page's settings)")
        scale = ex.plots.scale_of([w.score for w in exp.words])
        st.html(ex.html.legend(scale, exp.target, bool(exp.extras.get("signed", True))))
        st.html(ex.html.text_panel(exp.text, exp.words, scale))
    if len(words) != len(exp.words):
        return
    st.plotly_chart(ex.plots.paired_words([f"{w.text} ({w.start})" for w in words],  # repeated words kept apart
                                          ex.shares(words), ex.shares(exp.words), "rollout",
                                          f"|{ex.METHODS[exp.method].title}|", "Share of each word, top 15", top=15),
                    width="stretch")
    st.caption(f"Spearman rank correlation between rollout and |attribution| over all {len(words)} words: "
               f"{ex.rank_correlation(words, exp.words):.2f}. Attention says where information flows, attribution "
               "what moves the score; they often disagree.")


def base_comparison(req: state.Request, maps: ex.AttentionMaps, stream: str, how: str,
                    layer: int, top_k: int, hide_special: bool) -> None:
    st.subheader("Fine-tuned vs base: what changed")
    options = [c for c in models.choices() if c != req.checkpoint]
    default = "builtin:minilm-base" if req.checkpoint == "builtin:sst2" else ""
    other = st.selectbox("Compare with", [""] + options, key=state.widget_default("attn.compare", default),
                         format_func=lambda c: c or "choose a checkpoint with the same tokenizer…")
    if not other:
        return
    slot = st.empty()
    with st.spinner(f"Attention of {ex.html.markdown_escape(other)}…"):
        # gradient-weighted maps of both models must weight by the same label's score
        base = models.safely(slot, models.attention, other, "", "", req.text,
                             (maps.target or "") if how == "gradient" else "")
    if base is None:
        return
    diff = models.safely(slot, difference, maps, base, how, stream)
    if diff is None:
        return
    s = maps.streams[stream]
    rows = from_reader(diff, s.reads)
    keep = shown_tokens(np.abs(rows).max(axis=0), s.key_special, top_k, hide_special)
    reader = s.reader
    st.plotly_chart(ex.plots.attention_by_layer(rows, s.key_tokens, keep, reader, diverging=True, value="difference",
                                             title=f"From {reader}: {req.checkpoint} minus {other}"),
                    width="stretch")
    matrix = diff[layer]
    keep_full = shown_tokens(np.abs(matrix).sum(axis=0), s.key_special, top_k, hide_special)
    st.plotly_chart(ex.plots.attention_matrix(matrix, s.query_tokens, s.key_tokens, keep_full, keep_full,
                                           f"Layer {layer + 1}: {req.checkpoint} minus {other}", diverging=True,
                                           value="difference"), width="stretch")
    st.caption(f"Blue: {ex.html.markdown_escape(req.checkpoint)} attends more than {ex.html.markdown_escape(other)}; "
               f"red: less (heads combined by {how}). "
               + shown_caption(keep, len(s.key_tokens), s.key_special, hide_special, "change"))


def main() -> None:
    clf = sidebar.render()
    st.title("Where does the model look?")
    if clf is None:
        st.info("Pick a checkpoint in the sidebar; the built-ins work offline.")
        return
    req = state.request()
    with st.form("attention_form", border=False):
        st.text_area("Text", key=state.widget_default("text", req.text), height=110,
                     max_chars=models.limits().max_chars)
        target = ""
        keep_valid("w.attn.target", ["", *clf.labels], "")
        if clf.labels:
            target = st.selectbox("Score to weight heads by (gradient-weighted combination)", [""] + list(clf.labels),
                                  key=state.widget_default("attn.target", ""),
                                  format_func=lambda c: c or "the predicted label")
        st.form_submit_button("Show attention", type="primary",
                              on_click=lambda: state.update(text=st.session_state.get("w.text", req.text)))
    state.publish()
    if clf.task == "nli":
        st.caption("NLI models: the attention of the text read alone (no hypothesis).")
    slot = st.empty()
    with st.spinner("Computing attention…"):
        maps = models.safely(slot, models.attention, req.checkpoint, req.revision, req.label_names, req.text,
                             target)
    if maps is None:
        return
    if maps.truncated:
        st.warning("The text is longer than the model reads; only its first part is shown.")
    how, stream, top_k, hide_special = controls(maps)
    by_layer(maps, stream, how, top_k, hide_special)
    layer = one_layer(maps, stream, how, top_k, hide_special)
    if stream != "encoder":
        st.caption("Decoder positions hold the text shifted right: position i holds token i − 1, and position 0 "
                   "the decoder start token.")
    if len(maps.streams) > 1:
        st.caption(f"Rollout follows the encoder's self-attention to {maps.encoder.reader}; the decoder's self- "
                   "and cross-attention are in the views above.")
    rollout_vs_attribution(maps, how, models.safely(st.empty(), models.explain_request, req))
    base_comparison(req, maps, stream, how, layer, top_k, hide_special)


main()
