"""Compare page: two checkpoints (or one checkpoint with two methods) on the same text, or on a list."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

import explainers as ex
from studio import compare, models, sidebar, state

ATTENTION_WORDS = 60  # words drawn in the attention heatmaps (the most attended-to, when there are more)
TOP_DISAGREEMENTS = 10


def pickers() -> tuple[compare.Side, compare.Side]:
    left, right = st.columns(2)
    with left:
        a = compare.picker("a")
    with right:
        b = compare.picker("b")
    return a, b


def for_both(a: compare.Side, b: compare.Side, text: str, compute, doing) -> tuple | None:
    """``compute(request)`` for A's and B's request on ``text`` (cached with the Explain page's), each under
    a spinner saying ``doing(side)``; None, with the message shown, when either fails."""
    cs = compare.current()
    out = []
    for side in (a, b):
        slot = st.empty()
        with st.spinner(f"{side.name}: {ex.html.markdown_escape(doing(side))}…"):
            out.append(models.safely(slot, compute, cs.request(side.name.lower(), text)))
    return None if None in out else tuple(out)


def explain_both(a: compare.Side, b: compare.Side, text: str):
    """Both explanations of ``text``, or None with the message shown."""
    return for_both(a, b, text, models.explain_request,
                    lambda side: f"{ex.METHODS[side.method].title} on {side.checkpoint}")


def results(a: compare.Side, b: compare.Side, exp_a: ex.Explanation, exp_b: ex.Explanation) -> None:
    """Both predictions, both highlights one above the other, the agreement and the disagreements."""
    result = models.safely(st.empty(), ex.compare, exp_a, exp_b)
    if result is None:
        return
    cols = st.columns(2)
    for col, side, exp in zip(cols, (a, b), (exp_a, exp_b)):
        with col:
            score = exp.prediction.scores[exp.prediction.label]
            raw = exp.prediction.output == "score"
            said = "gives a raw score of" if raw else f"predicts **{ex.html.markdown_escape(exp.prediction.label)}**"
            st.markdown(f"**{side.name}** {said} ({score:.3f})")
            st.plotly_chart(ex.plots.probabilities(exp.prediction, exp.target, title=side.title), width="stretch")
    agreement(result)
    for side, exp, words in ((a, exp_a, exp_a.words), (b, exp_b, exp_b.words)):
        signed = bool(exp.extras.get("signed", True))
        scale = ex.plots.scale_of([w.score for w in words])
        st.markdown(f"**{ex.html.markdown_escape(side.title)}**, explaining **{ex.html.markdown_escape(exp.target)}** "
                    f"= {exp.score:.4f}")
        st.html(ex.html.legend(scale, exp.target, signed, raw=exp.prediction.output == "score"))
        st.html(ex.html.text_panel(exp.text, words, scale))
        if exp.truncated:
            st.caption(f"{side.name} read only the first part of the text.")
    disagreements(result, a, b)


def agreement(result: ex.Comparison) -> None:
    def value(x: float) -> str:
        return "undefined (a scoring is constant)" if np.isnan(x) else f"{x:+.2f}"

    st.markdown(f"**Rank agreement** over the {result.words} words: Spearman ρ = {value(result.spearman)} · "
                f"Kendall τ = {value(result.kendall)}")
    st.caption("Compared: each word's share of the total |attribution| of its explanation (the size of its "
               "score, whatever its sign or the method's units). +1: the same order of importance, 0: unrelated, "
               "−1: reversed.")
    for note in result.notes:
        st.info(note)


def disagreements(result: ex.Comparison, a: compare.Side, b: compare.Side) -> None:
    st.subheader("Where they disagree most")
    top = result.top(TOP_DISAGREEMENTS)
    table = pd.DataFrame([{"word": d.text, "start": d.start, "A share": d.a_share, "B share": d.b_share,
                           "A − B": d.difference, "A score": d.a_score, "B score": d.b_score,
                           **({"opposite signs": d.opposite} if result.signed else {})} for d in top])
    t1, t2 = st.columns([3, 2])
    t1.dataframe(table, hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="%.3f")
                                for k in ("A share", "B share", "A − B")}
                 | {k: st.column_config.NumberColumn(format="%+.4g") for k in ("A score", "B score")})
    t2.plotly_chart(ex.plots.paired_words([f"{d.text} ({d.start})" for d in top], [d.a_share for d in top],
                                          [d.b_share for d in top], f"A ({ex.METHODS[a.method].title})",
                                          f"B ({ex.METHODS[b.method].title})",
                                          f"Share of |attribution|, the {len(top)} largest differences"),
                    width="stretch")
    caption = ("The words whose share of the total |attribution| differs most between A and B "
               "(A − B > 0: A gives the word more weight).")
    if result.signed:
        caption += " “Opposite signs”: one explanation says the word pushes for its label, the other against."
    else:
        caption += " At least one method gives magnitudes only, so signs are not compared."
    st.caption(caption)


def attention(a: compare.Side, b: compare.Side, text: str) -> None:
    st.subheader("Attention from the token each classifier reads, layer by layer")
    cs = compare.current()
    c1, c2 = st.columns(2)
    combos = list(ex.COMBINATIONS) if a.clf.labels and b.clf.labels else ["mean", "max"]
    if cs.heads not in combos:
        compare.update(heads="mean")
    if st.session_state.get("w.cmp.heads", cs.heads) not in combos:
        st.session_state["w.cmp.heads"] = "mean"
    key = state.widget_default("cmp.heads", cs.heads if cs.heads in combos else "mean")
    how = c1.selectbox("Combine heads", combos, key=key, format_func=lambda c: ex.COMBINATIONS[c].split(":")[0],
                       on_change=lambda: compare.update(heads=st.session_state[key]),
                       help=" · ".join(f"{k}: {v}" for k, v in ex.COMBINATIONS.items()))
    share = c2.toggle("Share of each layer's attention to the words", value=True, key="w.cmp.share",
                      help="Each layer's row divided by its sum over the words: models whose special tokens "
                           "take different amounts of attention become comparable. Off: the raw attention.")
    maps = []
    for side in (a, b):
        slot = st.empty()
        with st.spinner(f"Attention of {ex.html.markdown_escape(side.checkpoint)}…"):
            maps.append(models.safely(slot, models.attention, side.checkpoint, side.revision, "", text, ""))
    if None in maps:
        return
    result = models.safely(st.empty(), ex.compare_attention, maps[0], maps[1], how, share)
    if result is None:
        return
    n = len(result.words)
    importance = np.maximum(result.a_rows.max(axis=0), result.b_rows.max(axis=0))
    keep = ex.shown_tokens(importance, np.zeros(n, dtype=bool), ATTENTION_WORDS)
    value = ("share" if share else "relevance" if how == "gradient" else "attention")
    fig = ex.plots.attention_side_by_side(result.words, result.a_rows, result.b_rows,
                                          f"A: {a.checkpoint}, from {result.a.reader}",
                                          f"B: {b.checkpoint}, from {result.b.reader}", value=value, keep=keep)
    st.plotly_chart(fig, width="stretch")
    parts = [f"Rows: the words of the text (word·n is its n-th word); columns: layers. Heads combined by "
             f"{ex.COMBINATIONS[how]}; a word's value sums its pieces, so both models line up on the same words."]
    if len(keep) < n:
        parts.append(f"Showing the {len(keep)} of {n} words that get the most attention in either model.")
    parts.append(f"Left out, the share that went to special tokens in the last layer: A {result.a.special[-1]:.0%}, "
                 f"B {result.b.special[-1]:.0%}.")
    st.caption(" ".join(parts))
    for note in result.notes:
        st.info(note)
    if (a.checkpoint, a.revision) == (b.checkpoint, b.revision):
        st.caption("A and B are the same checkpoint, so their attention is the same: pick another checkpoint "
                   "for B to compare where two models look.")


def faithful(a: compare.Side, b: compare.Side, text: str) -> None:
    """Which explanation is more faithful to its own model on this text (masking the top words)."""
    st.subheader("Which is more faithful here?")
    found = for_both(a, b, text, models.faithfulness, lambda side: "removing its top-ranked words, and random ones")
    if found is None:
        return
    table = pd.DataFrame([{"": side.name, "explanation": side.title,
                           "comprehensiveness ↑": r.comprehensiveness, "random orders'": r.random_comprehensiveness,
                           "sufficiency ↓": r.sufficiency, "random orders' ": r.random_sufficiency}
                          for side, r in zip((a, b), found)])
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%+.4f") for c in table.columns[2:]})
    if found[0].output != found[1].output:
        st.info("One side explains a raw score and the other a probability: their faithfulness numbers are in "
                "different units, so neither is called more faithful.")
        return
    winner = ex.more_faithful(*found)
    if winner is None:
        st.markdown("**Neither is clearly more faithful:** one wins on comprehensiveness, the other on "
                    "sufficiency (or they tie).")
    else:
        st.markdown(f"**{(a, b)[winner].name} is more faithful on this text:** removing its top-ranked words "
                    "lowers its model's score more, and keeping only them preserves more.")
    st.caption("Each explanation is measured on its own model: its top-ranked 10–50% of the words are masked "
               "(comprehensiveness, higher is better) or kept alone (sufficiency, lower is better), next to five "
               "seeded random word orders. Scores are in each model's own explained units.")


def one_text(a: compare.Side, b: compare.Side) -> None:
    cs = compare.current()
    with st.form("compare_form", border=False):
        st.text_area("Text", key=state.widget_default("cmp.text", cs.text), height=110,
                     max_chars=models.limits().max_chars)
        st.form_submit_button("Compare", type="primary", on_click=submit_text)
    compare.publish()
    both = explain_both(a, b, cs.text)
    if both is None:
        return
    results(a, b, *both)
    faithful(a, b, cs.text)
    attention(a, b, cs.text)


def submit_text() -> None:
    text = st.session_state.get("w.cmp.text", "")
    compare.update(text=text)
    state.update(text=text)  # the Explain and Attention pages follow


def submit_lines() -> None:
    compare.update(lines=st.session_state.get("w.cmp.lines", ""), row=0)


def list_mode(a: compare.Side, b: compare.Side) -> None:
    cs = compare.current()
    source = st.radio("Texts from", list(compare.SOURCES), key=state.widget_default("cmp.source", cs.source),
                      format_func=compare.SOURCES.get, horizontal=True,
                      on_change=lambda: compare.update(source=st.session_state["w.cmp.source"], row=0))
    if source == "paste":
        with st.form("compare_list_form", border=False):
            st.text_area("Texts, one per line (optionally: gold label, a tab, the text)",
                         key=state.widget_default("cmp.lines", cs.lines), height=180, max_chars=200_000)
            st.form_submit_button("Compare the list", type="primary", on_click=submit_lines)
        compare.publish()
        texts, gold = ex.parse_lines(cs.lines)
    else:
        compare.publish()
        rows = uploaded_rows()
        if rows is None:
            return
        texts, gold = rows
    table_and_row(a, b, texts, gold)


def uploaded_rows() -> tuple[list[str], list[str | None]] | None:
    """The texts and gold labels of an uploaded file, or None (with a message)."""
    file = st.file_uploader("A table with a text column and, optionally, a gold-label column",
                            type=["csv", "tsv", "txt", "jsonl", "parquet"], key="w.cmp.file",
                            on_change=lambda: compare.update(row=0))
    if file is None:
        st.info("Upload a CSV or TSV file (or JSON Lines, Parquet) whose first line names the columns.")
        return None
    frame = models.safely(st.empty(), ex.batch.read_table, file.getvalue(), file.name)
    if frame is None:
        return None
    columns = [str(c) for c in frame.columns]
    text_guess, gold_guess = compare.guess_columns(columns)
    c1, c2 = st.columns(2)
    text_column = c1.selectbox("Text column", columns, index=columns.index(text_guess), key="w.cmp.text_column")
    gold_column = c2.selectbox("Gold-label column", [""] + columns, key="w.cmp.gold_column",
                               index=([""] + columns).index(gold_guess), format_func=lambda c: c or "none")
    return models.safely(st.empty(), ex.texts_and_gold, frame, text_column, gold_column or None)


def table_and_row(a: compare.Side, b: compare.Side, texts: list[str], gold: list[str | None]) -> None:
    cs = compare.current()
    if not texts:
        st.info("Give at least one text.")
        return
    limit = models.max_rows()
    if len(texts) > limit:
        st.warning(f"Only the first {limit} of {len(texts)} texts are compared (the limit on this server, "
                   "STUDIO_MAX_ROWS).")
        texts, gold = texts[:limit], gold[:limit]
    preds = []
    for side in (a, b):
        slot = st.empty()
        with st.spinner(f"{side.name}: predicting {len(texts)} texts…"):
            preds.append(models.safely(slot, compare.predict, cs, side, texts))
    if None in preds:
        return
    table = models.safely(st.empty(), ex.prediction_table, texts, preds[0], preds[1], gold,
                          (f"A ({a.checkpoint})", f"B ({b.checkpoint})"))
    if table is None:
        return
    counts = ex.filter_counts(table)
    summary(table, counts)
    if cs.filter not in counts:
        compare.update(filter="all")
    key = state.widget_default("cmp.filter", cs.filter)
    if st.session_state[key] not in counts:
        st.session_state[key] = "all"
    name = st.radio("Show", list(counts), key=key, horizontal=True,
                    format_func=lambda f: f"{f} ({counts[f]})",
                    on_change=lambda: compare.update(filter=st.session_state[key], row=0))
    shown = ex.filter_rows(table, name)
    # a new filter or a new list starts with no row selected
    table_key = f"w.cmp.table.{name}.{hashlib.sha1(chr(0).join(texts).encode()).hexdigest()[:10]}"
    st.session_state["cmp.shown_rows"] = [int(i) for i in shown.index]
    event = st.dataframe(shown, key=table_key, on_select=lambda: select_row(table_key),
                         selection_mode="single-row", width="stretch", hide_index=False,
                         column_config=columns(a, b))
    picked = event["selection"]["rows"]
    if picked and picked[0] < len(shown) and int(shown.index[picked[0]]) != cs.row:  # a selection not yet seen
        compare.update(row=int(shown.index[picked[0]]))
        compare.publish()
    st.caption("Select a row (the box at its left) to see both explanations of its text. "
               + ("An uploaded file stays in this browser session; a link reopens pasted lists only."
                  if cs.source == "file" else ""))
    if cs.row and cs.row in table.index:
        text = table.loc[cs.row, "text"]
        st.subheader(f"Row {cs.row}")
        st.button("Open this text in one-text mode", on_click=open_text, args=(text,))
        both = explain_both(a, b, text)
        if both is not None:
            results(a, b, *both)


def open_text(text: str) -> None:
    compare.update(mode="one", text=text)
    st.session_state["w.cmp.mode"] = "one"
    st.session_state.pop("w.cmp.text", None)


def summary(table: pd.DataFrame, counts: dict[str, int]) -> None:
    n = len(table)
    parts = [f"{n} texts", f"A and B disagree on {counts['disagree']}"]
    if "a_wrong" in table.columns:
        graded = int(table["a_wrong"].notna().sum())
        for side in ("a", "b"):
            right = graded - int(table[f"{side}_wrong"].fillna(False).sum())
            parts.append(f"{side.upper()} right on {right} of {graded} ({right / max(graded, 1):.0%})")
        if graded < n:
            parts.append(f"{n - graded} rows without a gold label")
    st.markdown(" · ".join(parts))


def columns(a: compare.Side, b: compare.Side) -> dict:
    cc = st.column_config
    return {
        "row": cc.NumberColumn("row", width="small"),
        "text": cc.TextColumn("text"),
        "gold": cc.TextColumn("gold"),
        "a_label": cc.TextColumn("A", help=ex.html.markdown_escape(a.title)),
        "a_score": cc.NumberColumn("A score", format="%.3f", help="probability of A's label"),
        "b_label": cc.TextColumn("B", help=ex.html.markdown_escape(b.title)),
        "b_score": cc.NumberColumn("B score", format="%.3f", help="probability of B's label"),
        "agree": cc.CheckboxColumn("agree", help="A and B predict the same label"),
        "a_wrong": cc.CheckboxColumn("A wrong", help="A's label is not the gold label"),
        "b_wrong": cc.CheckboxColumn("B wrong", help="B's label is not the gold label"),
    }


def select_row(key: str) -> None:
    rows = st.session_state[key]["selection"]["rows"]
    shown = st.session_state.get("cmp.shown_rows", [])
    compare.update(row=shown[rows[0]] if rows and rows[0] < len(shown) else 0)


def main() -> None:
    sidebar.render(picker=False)
    st.title("Compare two models, or two methods")
    st.caption("Two checkpoints, or one checkpoint with two methods, on the same text: both predictions, both "
               "explanations on the words of your text, how far they agree, and where each model looks.")
    cs = compare.current()
    a, b = pickers()
    c1, c2 = st.columns([1, 2])
    mode = c1.radio("Compare on", list(compare.MODES), key=state.widget_default("cmp.mode", cs.mode),
                    format_func=compare.MODES.get, horizontal=True,
                    on_change=lambda: compare.update(mode=st.session_state["w.cmp.mode"]))
    if any(s.clf is not None and s.clf.task in ("nli", "embedding") for s in (a, b)):
        c2.text_input("Candidate labels for the zero-shot side (comma-separated)",
                      key=state.widget_default("cmp.labels", cs.labels),
                      on_change=lambda: compare.update(labels=st.session_state["w.cmp.labels"]))
    if a.clf is None or b.clf is None:
        compare.publish()
        st.info("Pick two checkpoints that load; the built-ins work offline.")
        return
    if mode == "one":
        one_text(a, b)
    else:
        list_mode(a, b)


main()
