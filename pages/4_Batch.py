"""Batch page: a whole table of texts: every row predicted and explained, accuracy against gold labels,
the rows behind each mistake, the words the model relies on per label, and a report to share."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from dataclasses import asdict

import pandas as pd
import streamlit as st

import explainers as ex
from studio import forms, models, sidebar, state

TYPES = ["csv", "tsv", "txt", "jsonl", "ndjson", "parquet"]
TEXT_NAMES = ("text", "sentence", "review", "content", "body", "document", "comment", "tweet", "premise")
LABEL_NAMES = ("label", "labels", "gold", "gold_label", "class", "category", "topic", "target", "sentiment",
               "emotion", "intent", "y")
PAGE_SIZE = 20  # rows drawn with their highlighted words at a time
KEEP = 4  # finished runs kept per session (file content + job)
DEFAULT_METHOD = "saliency"  # one pass per batch of texts: a few hundred rows in well under a minute on CPU


def md(text) -> str:
    """User text (file and column names, labels) shown literally inside markdown."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:/&])", r"\\\1", str(text))  # "/": Streamlit's :material/…:


# --------------------------------------------------------------------------- the file and the job


def uploaded_table() -> tuple[str, str, pd.DataFrame] | None:
    """The uploaded file as (name, content digest, table), read once per file; None (with the reason
    shown) when there is no file or it cannot be read."""
    limit = models.max_rows()
    upload = st.file_uploader("A table of texts", type=TYPES, key="w.batch.file",
                              help=f"CSV, TSV, JSON Lines or Parquet, with a header row; at most {limit:,} rows "
                                   "here (the command line `explainers batch` takes whole datasets).")
    if upload is None:
        st.info(f"Upload a file with a column of texts and, if you have them, a column of gold labels: every row "
                f"is predicted and explained, and with gold labels you see the accuracy and the mistakes. "
                f"At most {limit:,} rows.")
        return None
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    cached = st.session_state.get("batch.file")
    if cached is not None and cached[:3] == (upload.name, digest, limit):
        return upload.name, digest, cached[3]
    frame = models.safely(st.empty(), ex.batch.read_table, data, upload.name, max_rows=limit)
    if frame is None:
        return None
    st.session_state["batch.file"] = (upload.name, digest, limit, frame)
    return upload.name, digest, frame


def guess(columns: list[str], names, frame: pd.DataFrame | None = None) -> int:
    """The index of the column whose name says what it holds; else (texts) the longest text column."""
    lowered = [c.lower().strip() for c in columns]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    if frame is None:
        return -1
    lengths = [frame[c].astype(str).str.len().mean() if not pd.api.types.is_numeric_dtype(frame[c]) else 0
               for c in columns]
    return max(range(len(columns)), key=lambda i: lengths[i])


def task_inputs(clf: ex.Classifier) -> dict | None:
    """Zero-shot checkpoints (NLI, builtin:zeroshot): candidate labels, template and multi-label, checked
    by the library (None with its message shown); {} for a fine-tuned classifier."""
    if clf.task not in ("nli", "embedding"):
        return {}
    req = state.request()
    c1, c2, c3 = st.columns([3, 2, 1])
    labels = c1.text_input("Candidate labels (comma-separated)", key=state.widget_default("batch.labels", req.labels),
                           help="The labels every row is classified into; gold labels must be among them.")
    template = c2.text_input("Hypothesis template", key=state.widget_default(
        "batch.template", req.template or ex.default_template(clf)), help="One {} where the label goes.")
    multi = c3.toggle("Multi-label", key=state.widget_default("batch.multi_label", req.multi_label),
                      help="Score each label on its own instead of a softmax over labels.")
    task = models.safely(st.empty(), ex.task_for, clf, labels=labels, template=template, multi_label=multi)
    if task is None:
        return None
    return {"labels": tuple(task.labels), "template": template if template != ex.default_template(clf) else None,
            "multi_label": bool(multi)}


def method_and_options(clf: ex.Classifier) -> tuple[str, dict]:
    method = st.selectbox("Method", list(ex.METHODS), index=list(ex.METHODS).index(DEFAULT_METHOD),
                          key="w.batch.method", format_func=lambda n: ex.METHODS[n].title,
                          help="Saliency and input × gradient take one pass per batch of texts (a few seconds "
                               "per hundred short texts on a CPU); integrated gradients as many as each text needs "
                               "to add up within 1 % (33 gradients for a typical sentence; signed, with a "
                               "convergence check).")
    keys = forms.method_options(method, "batch.opt", fixed=forms.ONE_OUTPUT if clf.one_output else None)
    defaults = ex.METHODS[method].options
    return method, {name: st.session_state[key] for name, key in keys.items()
                    if st.session_state[key] != defaults[name].default}


def job_for(frame: pd.DataFrame, digest: str, clf: ex.Classifier) -> tuple[ex.batch.Job, list[str]] | None:
    """The columns, task and method chosen, as a Job checked against the table (None with the
    problem shown: a column of numbers, empty cells, labels the model does not have...)."""
    columns = [str(c) for c in frame.columns]
    c1, c2 = st.columns(2)
    text = c1.selectbox("Text column", columns, index=guess(columns, TEXT_NAMES, frame),
                        key=f"w.batch.text.{digest[:16]}")
    found = guess(columns, LABEL_NAMES)
    gold = c2.selectbox("Gold-label column (optional)", [""] + columns, index=found + 1,
                        key=f"w.batch.gold.{digest[:16]}", format_func=lambda c: c or "none",
                        help="Labels to compare the predictions with: the model's label names, or their "
                             "indices (0, 1, ...).")
    task = task_inputs(clf)
    method, options = method_and_options(clf)
    if task is None:
        return None
    if gold and gold == text:
        st.error("The text column and the gold-label column are the same; choose another label column or none.",
                 icon="⚠️")
        return None
    req = state.request()
    names = tuple(n.strip() for n in req.label_names.split(",")) if req.label_names.strip() else None
    job = ex.batch.Job(checkpoint=req.checkpoint, text_column=text, label_column=gold or None, method=method,
                       options=options, labels=task.get("labels"), template=task.get("template"),
                       multi_label=task.get("multi_label", False), revision=req.revision or None, label_names=names)
    checked = models.safely(st.empty(), ex.batch.prepare, frame, job, ex.batch.clf_labels(clf, job))
    if checked is None:
        return None
    return job, checked[2]


# --------------------------------------------------------------------------- running


def run_key(digest: str, job: ex.batch.Job) -> tuple[str, str]:
    return digest, json.dumps(asdict(job), sort_keys=True, default=list)


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s" if value < 90 else f"{value / 60:.1f} min"


def compute(job: ex.batch.Job, frame: pd.DataFrame, clf: ex.Classifier, name: str) -> dict | None:
    """Every row predicted and explained (a progress bar with rows done and time left), summarised once."""
    slot = st.empty()
    bar = slot.progress(0.0, text=f"{ex.METHODS[job.method].title}: starting on {len(frame):,} rows…")
    started, limit = time.perf_counter(), models.limits().seconds

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        if elapsed > limit:  # called between passes: the run stops there, with a message
            raise ex.TimeLimitExceeded(f"The batch run was stopped after {elapsed:.0f} s: the time limit here is "
                                       f"{limit:g} s. Upload fewer rows, or pick a faster method (saliency).")
        left = f" · about {seconds(elapsed / done * (total - done))} left" if 0 < done < total else ""
        bar.progress(done / total if total else 1.0, text=f"{ex.METHODS[job.method].title}: {done:,} of "
                                                          f"{total:,} rows{left}")

    out = models.safely(slot, ex.batch.explain_table, job, frame, clf, progress)
    if out is None:
        return None
    slot.empty()
    table, notices = out
    labels = ex.batch.clf_labels(clf, job)
    return {"job": job, "name": name, "table": table, "notices": notices, "labels": list(labels),
            "evaluation": ex.batch.evaluate(table, labels) if job.label_column else None,
            "words": ex.batch.class_words(table, top=None), "seconds": time.perf_counter() - started,
            "downloads": {}}


def remember(key, record: dict) -> None:
    runs = st.session_state.setdefault("batch.runs", {})
    runs.pop(key, None)
    runs[key] = record
    while len(runs) > KEEP:
        runs.pop(next(iter(runs)))
    st.session_state["batch.shown"] = key


# --------------------------------------------------------------------------- results


def summary(rec: dict) -> None:
    table, ev, job = rec["table"], rec["evaluation"], rec["job"]
    cols = st.columns(4)
    cols[0].metric("Rows", f"{len(table):,}")
    if ev is not None:
        cols[1].metric("Accuracy", f"{ev.accuracy:.1%}")
        cols[2].metric("Misclassified", f"{int((~table['correct']).sum()):,}")
    else:
        top = table["predicted_label"].value_counts()
        cols[1].metric("Most predicted", md(top.index[0]))  # a metric's value is markdown too
        cols[2].metric("Its rows", f"{top.iloc[0]:,} ({top.iloc[0] / len(table):.0%})")
    cols[3].metric("Time", seconds(rec["seconds"]))
    unconverged = ex.report.convergence_note(table)
    if unconverged:
        st.warning(unconverged, icon="⚠️")
    st.caption(f"{md(rec['name'])} · {md(job.checkpoint)} · {ex.METHODS[job.method].title}"
               + (f" ({', '.join(f'{k}={v}' for k, v in job.options.items())})" if job.options else "")
               + f" · text column “{md(job.text_column)}”"
               + (f" · gold labels from “{md(job.label_column)}”" if job.label_column else " · no gold labels"))


def pick_cell(chart_key: str, labels: list[str], filters: dict) -> None:
    """A click on a confusion-matrix cell lists that cell's rows."""
    points = st.session_state[chart_key]["selection"]["points"]
    if not points:
        return
    index = points[0].get("point_index")
    if index is None:
        return
    key = ex.report.cell_key(labels[index // len(labels)], labels[index % len(labels)])
    if key in filters:
        st.session_state["w.batch.filter"] = key
        st.session_state["w.batch.page"] = 1


def evaluation(rec: dict, filters: dict) -> None:
    ev, labels = rec["evaluation"], rec["labels"]
    st.subheader("How often the model is right")
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(ex.plots.confusion_matrix(ev.confusion), width="stretch", key="batch.confusion",
                        on_select=lambda: pick_cell("batch.confusion", labels, filters), selection_mode="points",
                        config={"displayModeBar": False})
        st.caption("Rows: gold label; columns: predicted. Colour: the share of the gold label's rows. "
                   "Click a cell to list its rows below.")
    with right:
        per_class = ev.per_class.reset_index()
        per_class[["precision", "recall", "f1"]] *= 100
        st.dataframe(per_class, hide_index=True, width="stretch", column_config={
            "label": st.column_config.TextColumn("label"),
            "precision": st.column_config.NumberColumn("precision", format="%.1f%%"),
            "recall": st.column_config.NumberColumn("recall", format="%.1f%%"),
            "f1": st.column_config.NumberColumn("F1", format="%.1f%%"),
            "support": st.column_config.NumberColumn("gold rows")})
        st.caption("Precision: of the rows predicted as the label, the share that are it. Recall: of the rows "
                   "that are the label, the share the model found.")


def rows(rec: dict, filters: dict) -> None:
    table, job = rec["table"], rec["job"]
    st.subheader("The rows and their words")
    default = ex.report.MISCLASSIFIED if ex.report.MISCLASSIFIED in filters else ex.report.ALL
    if st.session_state.get("w.batch.filter") not in filters:
        st.session_state["w.batch.filter"] = default
    c1, c2 = st.columns([3, 2])
    which = c1.selectbox("Show", list(filters), key="w.batch.filter", format_func=filters.get,
                         on_change=lambda: st.session_state.update({"w.batch.page": 1}))
    order = c2.radio("Order", list(ex.report.ORDERS), horizontal=True, key="w.batch.order",
                     format_func=ex.report.ORDERS.get, help="By the score of the predicted label.")
    chosen = ex.report.select_rows(table, which, order)
    if chosen.empty:
        st.caption("No rows.")
        return
    pages = -(-len(chosen) // PAGE_SIZE)
    page = 1
    if pages > 1:
        if not 1 <= st.session_state.get("w.batch.page", 1) <= pages:
            st.session_state["w.batch.page"] = 1
        page = st.columns([1, 4])[0].number_input(f"Page (of {pages})", 1, pages, step=1, key="w.batch.page")
    part = chosen.iloc[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    st.caption(f"Rows {(page - 1) * PAGE_SIZE + 1}–{(page - 1) * PAGE_SIZE + len(part)} of {len(chosen):,}. "
               "The number after the prediction is its score.")
    st.html(ex.report.rows_legend(ex.METHODS[job.method].signed) + ex.report.row_cards(part, job.text_column))
    with st.expander(f"All {len(chosen):,} as a table"):
        st.dataframe(ex.report.overview(chosen, job.text_column), hide_index=True, width="stretch",
                     column_config={"score": st.column_config.NumberColumn(format="%.3f")})


def class_words(rec: dict) -> tuple[pd.DataFrame, str]:
    job = rec["job"]
    signed = ex.METHODS[job.method].signed
    st.subheader("Words that push toward each label" if signed else "Words that matter most for each label")
    c1, c2, c3, c4 = st.columns(4)
    by = c1.radio("Rank by", ["total", "mean"], horizontal=True, key="w.batch.words_by",
                  format_func={"total": "sum over rows", "mean": "mean per row"}.get)
    top = c2.slider("Words per label", 5, 30, 10, key="w.batch.words_top")
    min_rows = c3.number_input("In at least … rows", 1, max(1, len(rec["table"])), 1, key="w.batch.words_min")
    skip_common = c4.toggle("Leave out the, and, of…", value=True, key="w.batch.words_common",
                            help="Common English function words and punctuation; negations (not, n't, no) stay.")
    view = ex.report.pick_class_words(rec["words"], top, by, int(min_rows), punctuation=not skip_common,
                                      common=not skip_common)
    if view.empty:
        st.caption("No words to show with these settings.")
    else:
        title = "Summed over the rows" if by == "total" else "Mean per row the word is in"
        st.plotly_chart(ex.plots.class_words(view, value=by, top=top, columns=4, title=title), width="stretch")
        with st.expander("The words as a table"):
            st.dataframe(view, hide_index=True, width="stretch", column_config={
                "total": st.column_config.NumberColumn("sum", format="%.3f"),
                "mean": st.column_config.NumberColumn("mean", format="%.3f"),
                "count": st.column_config.NumberColumn("rows")})
    note = ("For the rows predicted as each label, a word's share of its row's total |attribution| "
            + ("where it pushes toward the label" if signed else "(the method gives magnitudes, not directions)")
            + ", summed over the rows or averaged over the rows it is in.")
    st.caption(note)
    words_note = " ".join(filter(None, [
        "Punctuation and common function words (the, and, of…) are left out." if skip_common else "",
        f"Only words in at least {int(min_rows)} rows." if min_rows > 1 else "",
        "Ranked by the mean per row." if by == "mean" else ""]))
    return view, words_note


def downloads(rec: dict, words: pd.DataFrame, words_note: str) -> None:
    st.subheader("Downloads")
    table, cache = rec["table"], rec["downloads"]
    stem = os.path.splitext(rec["name"])[0] or "results"
    if "csv" not in cache:
        cache["csv"] = table.to_csv(index=False).encode("utf-8")
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        cache["parquet"] = buffer.getvalue()
    wanted = (words_note, words.to_json())
    if cache.get("report", (None, ""))[0] != wanted:  # redrawn only when the words shown change
        cache["report"] = wanted, ex.report.dataset_report(
            table, rec["evaluation"], words, title=f"Explanations of {rec['name']}", job=rec["job"],
            source=rec["name"], notices=rec["notices"], words_note=words_note or None)
    d1, d2, d3 = st.columns(3)
    d1.download_button("Results (CSV)", cache["csv"], f"{stem}-explained.csv", "text/csv", width="stretch")
    d2.download_button("Results (Parquet)", cache["parquet"], f"{stem}-explained.parquet",
                       "application/vnd.apache.parquet", width="stretch")
    d3.download_button("Report (HTML)", cache["report"][1], f"{stem}-report.html", "text/html", width="stretch",
                       type="primary")
    st.caption("The results hold every input column, the prediction and each label's score, the top words and "
               "every word's score with its character offsets (JSON). The report is one offline HTML file: "
               "accuracy, confusion matrix, the words per label and the misclassified rows (or a sample).")


def main() -> None:
    clf = sidebar.render()
    st.title("A whole dataset: predictions, accuracy, the words behind them")
    if clf is None:
        st.info("Pick a checkpoint in the sidebar; the built-ins work offline.")
        return
    got = uploaded_table()
    if got is None:
        return
    name, digest, frame = got
    st.caption(f"{md(name)}: {len(frame):,} rows; columns {', '.join(map(md, frame.columns))}.")
    checked = job_for(frame, digest, clf)
    runs = st.session_state.setdefault("batch.runs", {})
    key = None
    if checked is not None:
        job, notices = checked
        for notice in notices:
            st.caption(md(notice))
        key = run_key(digest, job)
        if key in runs:  # this file with these settings ran before: no recomputation
            st.session_state["batch.shown"] = key
        elif st.button(f"Explain {len(frame):,} rows", type="primary"):
            record = compute(job, frame, clf, name)
            if record is not None:
                remember(key, record)
    shown = st.session_state.get("batch.shown")
    if shown is None or shown not in runs or shown[0] != digest:
        return
    if key != shown:
        st.info("These results are for earlier settings" + (": press the button above to run the new ones."
                                                            if key is not None else "."))
    rec = runs[shown]
    st.divider()
    summary(rec)
    filters = ex.report.row_filters(rec["table"])
    if rec["evaluation"] is not None:
        evaluation(rec, filters)
    rows(rec, filters)
    words, words_note = class_words(rec)
    downloads(rec, words, words_note)


main()
