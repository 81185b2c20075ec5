"""Explain page: which words made the model decide? (entry point of the Streamlit app)."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

import explainers as ex
from studio import forms, models, sidebar, state

EXAMPLES = [
    ("👍 Buyer's review", {"text": "This is awesome anyone thinking to buy should blindly go for it"}),
    ("🎬 Not bad at all", {"text": "The movie was not bad at all, highly recommend"}),
    ("🎬 Not really good", {"text": "This movie was not really good, I did not enjoy it at all"}),
    ("🏷️ Zero-shot topics", {"text": "The team won the championship after a dramatic final match",
                            "labels": "sports, politics, business, technology", "zero_shot": True}),
]


def use_example(example: dict) -> None:
    changes = {k: v for k, v in example.items() if k != "zero_shot"}
    clf_task = st.session_state.get("task")
    if example.get("zero_shot") and clf_task == "classification":
        changes["checkpoint"] = "builtin:zeroshot"
        st.session_state.pop("w.choice", None)
    if example.get("zero_shot"):
        changes["mode"] = "labels"
    state.update(**changes, target="", contrast="")
    for key in ("text", "labels", "mode"):
        st.session_state.pop(f"w.{key}", None)


def submit(option_keys: dict[str, str]) -> None:
    """Copy the form's widgets into the request."""
    get = st.session_state.get
    options = {}
    method = ex.METHODS[get("w.method")]
    for name, key in option_keys.items():
        value = get(key)
        if name in method.options and value is not None and value != models.option_default(method.name, name):
            options[name] = value
    template = get("w.template", state.request().template)
    state.update(text=get("w.text", ""), labels=get("w.labels", state.request().labels),
                 template="" if template == st.session_state.get("default_template") else template,
                 multi_label=bool(get("w.multi_label", False)), mode=get("w.mode", "labels"),
                 hypothesis=get("w.hypothesis", state.request().hypothesis), method=method.name,
                 target=get("w.target") or "", contrast=get("w.contrast") or "", options=options,
                 long_text=get("w.long_text", state.request().long_text),
                 window_aggregate=get("w.window_aggregate", state.request().window_aggregate))
    if st.session_state.get("one_output"):  # no target or contrast widgets: nothing to carry over
        state.update(target="", contrast="")


def more_steps(change: dict) -> None:
    """The convergence warning's fix: the same request with more steps (or a higher cap)."""
    req = state.request()
    state.update(options={**req.options, **change})
    for name, value in change.items():
        st.session_state[f"w.opt.integrated_gradients.{name}"] = value


def target_labels(req: state.Request) -> tuple[list[str], list[str]]:
    """The labels a target can be chosen from (the request's task's), and any problem with them."""
    try:
        return list(models.task(req).labels), []
    except ex.ExplainerError as err:
        return [], [str(err)]


ONE_OUTPUT_FORM = ("One output: its raw score is what is explained. There is no label to choose, and no other "
                   "label to contrast it with.")
ONE_OUTPUT_HEADLINE = "one-output head: a reward, regression or relevance score; no probabilities"
LONG_TEXT = {"truncate": "explain the part it reads", "windows": "explain all of it in sliding windows"}
WINDOW_AGGREGATES = {"mean": "mean over the windows", "max": "each label's highest", "first": "the first window's"}


def form(req: state.Request, clf: ex.Classifier, labels: list[str]) -> None:
    zero_shot_capable = clf.task in ("nli", "embedding")
    # outside the form, so that the options below follow the chosen method at once
    st.selectbox("Method", list(ex.METHODS), key=state.widget_default("method", req.method),
                 format_func=lambda n: ex.METHODS[n].title, help="Applied when you press Explain.")
    kind = ex.METHODS[st.session_state.get("w.method", req.method)].kind
    if kind != "attribution":
        st.caption(ex.METHOD_KINDS[kind])
    with st.form("explain_form", border=False):
        st.text_area("Text", key=state.widget_default("text", req.text), height=110,
                     max_chars=models.limits().max_chars)
        w1, w2 = st.columns([3, 2])
        w1.radio(f"A text longer than the model reads ({clf.max_length:,} tokens)", list(LONG_TEXT), horizontal=True,
                 key=state.widget_default("long_text", req.long_text), format_func=LONG_TEXT.get,
                 help="Sliding windows: overlapping windows of as many tokens as the model reads, each explained "
                      "on its own against the same label, their word scores stitched back onto your text.")
        w2.selectbox("Whole-text prediction (sliding windows)", list(WINDOW_AGGREGATES),
                     format_func=WINDOW_AGGREGATES.get,
                     key=state.widget_default("window_aggregate", req.window_aggregate),
                     help="The model never reads the whole text at once: the prediction shown for it is this "
                          "aggregate of the windows' probabilities (each window's own is in the table).")
        if clf.task == "nli":
            st.radio("Use the NLI model for", ["labels", "pair"], horizontal=True,
                     key=state.widget_default("mode", req.mode),
                     format_func={"labels": "zero-shot over candidate labels", "pair": "premise and hypothesis"}.get)
        if zero_shot_capable:
            c1, c2, c3 = st.columns([3, 2, 1])
            c1.text_input("Candidate labels (comma-separated)", key=state.widget_default("labels", req.labels))
            c2.text_input("Hypothesis template", key=state.widget_default("template", req.template or
                                                                            ex.default_template(clf)),
                          help="One {} where the label goes. The model's default: " + ex.default_template(clf))
            c3.toggle("Multi-label", key=state.widget_default("multi_label", req.multi_label),
                      help="Score each label on its own instead of a softmax over labels.")
            if clf.task == "nli":
                st.text_input("Hypothesis (premise and hypothesis mode)",
                              key=state.widget_default("hypothesis", req.hypothesis))
        if clf.one_output:
            st.caption(ONE_OUTPUT_FORM)
        else:
            c2, c3 = st.columns(2)
            c2.selectbox("Explain label", [""] + labels, key=state.widget_default(
                "target", req.target if req.target in labels else ""), format_func=lambda c: c or "the predicted one")
            c3.selectbox("…rather than (contrast)", [""] + labels, key=state.widget_default(
                "contrast", req.contrast if req.contrast in labels else ""), format_func=lambda c: c or "nothing")
        method = st.session_state.get("w.method", req.method)  # seeded from the request only for its method
        option_keys = forms.method_options(method, "opt", req.options if req.method == method else None,
                                           fixed=forms.ONE_OUTPUT if clf.one_output else None)
        st.form_submit_button("Explain", type="primary", on_click=submit, args=(option_keys,))


def estimate(req: state.Request) -> ex.Estimate | None:
    """How long the explanation will take, where that is worth saying before it starts: when its
    arithmetic (``ex.flops``, from the tokenizer alone) is over models.ESTIMATE_FROM_FLOPS, two short
    timed passes (``ex.estimate``, about five examples' worth of work) say how long it takes here;
    shown when that is over models.ESTIMATE_FROM_SECONDS. Smaller explanations start at once, and
    their progress bar says the time left."""
    if req.long_text == "windows":  # ex.flops reads one window's worth; the progress bar says the time left
        return None
    work = models.flops(req)
    if work is None or work < models.ESTIMATE_FROM_FLOPS:
        return None
    est = models.estimate_request(req)
    if est is None or est.seconds[1] <= models.ESTIMATE_FROM_SECONDS:
        return None
    return est


def compute(req: state.Request, clf: ex.Classifier) -> ex.Explanation | None:
    title = ex.METHODS[req.method].title
    note, slot = st.empty(), st.empty()
    try:  # over this server's limits: say so before timing anything
        models.check_request(req)
    except ex.ExplainerError as err:
        slot.error(ex.html.markdown_escape(str(err)), icon="⚠️")
        return None
    bar = slot.progress(0.0, text=f"{title}: starting…")
    est = estimate(req)
    if est is not None:
        note.caption(f"{title}: {est.summary()}; estimated from two short timed passes before it started.")
        bar.progress(0.0, text=f"{title}: starting; {est.summary()}")

    started = time.perf_counter()

    def progress(fraction: float) -> None:
        elapsed = time.perf_counter() - started
        left = elapsed * (1 - fraction) / fraction if 0.05 < fraction < 1 and elapsed > 1 else None
        bar.progress(fraction, text=f"{title}: {fraction:.0%} of the model passes done"
                                    + ("" if left is None else f", about {left:.0f} s left"))

    exp = models.safely(slot, models.explain_request, req, progress=progress)
    if exp is None:
        return None
    slot.empty()
    return exp


REMOVALS = {"mask": "masking them", "delete": "deleting them"}


def faithfulness(req: state.Request, exp: ex.Explanation) -> None:
    """Evidence beside the explanation: does removing its top words move the score more than random ones?"""
    st.subheader("How far to trust it")
    if exp.extras.get("windows"):
        st.info("Not measured for sliding windows: removing words from the whole text would test a model pass "
                "that no window explained (the model never read the whole text at once). Choose “explain the part "
                "it reads” to measure the first part.")
        return
    removal = st.radio("Remove words by", list(REMOVALS), horizontal=True, key="w.removal", format_func=REMOVALS.get,
                       help="Masking replaces each piece of a word by the mask token (the text keeps its length); "
                            "deleting takes the word out of the text, as a person would.")
    slot = st.empty()
    with st.spinner("Removing the top-ranked words, and random ones…"):
        result = models.safely(slot, models.faithfulness, req, removal)
    if result is None:
        return
    left, right = st.columns([2, 3])
    with left:
        m1, m2 = st.columns(2)
        m1.metric("Comprehensiveness", f"{result.comprehensiveness:+.3g}",
                  f"{result.comprehensiveness_gain:+.2g} vs random", border=True,
                  help="How much the explained score drops when the top-ranked 10–50% of the words are removed "
                       "(mean over those shares, AOPC). Higher: the explanation found the words the model needs.")
        m2.metric("Sufficiency", f"{result.sufficiency:+.3g}", f"{-result.sufficiency_gain:+.2g} vs random",
                  delta_color="inverse", border=True,
                  help="How much the explained score drops when only the top-ranked 10–50% of the words are kept. "
                       "Lower: those words alone are enough for the model.")
        st.caption(ex.faithfulness_summary(result))
    right.plotly_chart(ex.plots.faithfulness_curves(result), width="stretch")


@st.fragment
def results(exp: ex.Explanation) -> None:
    """The explanation as it is shown. A fragment: changing how it is shown (words or tokens, colour
    scale, top k) reruns only this, not the page (bench/RESULTS.md: the view-only rerun)."""
    signed = bool(exp.extras.get("signed", True))
    for notice in exp.prediction.notices:
        st.info(ex.html.markdown_escape(notice))
    v1, v2, v3 = st.columns(3)
    view = v1.radio("Show", ["words", "tokens"], horizontal=True, key="w.view")
    scale_mode = v2.radio("Colour scale", ["max", "p95"], horizontal=True, key="w.scale",
                          format_func={"max": "largest |score|", "p95": "95th percentile"}.get)
    top_k = v3.slider("Top", 5, 40, 15, key="w.top_k")
    shown = ex.plots.units(exp, view)
    scale = ex.plots.scale_of([u.score for u in shown], scale_mode)

    raw = exp.prediction.output == "score"
    windows = exp.extras.get("windows", [])
    over = f" ({exp.extras['long_text']['aggregate']} of {len(windows)} windows)" if windows else ""
    left, right = st.columns([3, 2])
    with left:
        if raw:
            headline = f"Raw score **{exp.score:.4f}**{over} ({ONE_OUTPUT_HEADLINE})"
        else:
            label, target = ex.html.markdown_escape(exp.prediction.label), ex.html.markdown_escape(exp.target)
            headline = f"**{label}** predicted{over}; explaining **{target}** = {exp.score:.4f}"
        if "contrast" in exp.extras:
            headline += f" minus **{ex.html.markdown_escape(exp.extras['contrast'])}**"
        st.markdown(headline)
        st.html(ex.html.legend(scale, exp.target, signed, raw=raw))
        st.html(ex.html.text_panel(exp.text, shown, scale))
        if exp.truncated:
            st.warning("The text is longer than the model reads; only its first part was explained. Choose "
                       "“explain all of it in sliding windows” above to explain the rest too.")
        elif not windows and state.request().long_text == "windows":
            st.caption("The model reads this text whole: no windows were needed.")
    with right:
        if raw:
            st.metric("Score (raw output)", f"{exp.prediction.scores[exp.target]:.4f}", border=True,
                      help=f"What the model's one output ({ex.html.markdown_escape(exp.target)}) gives this text, "
                           "as it is: any real number, not a probability. The word scores explain this number.")
        else:
            st.plotly_chart(ex.plots.probabilities(exp.prediction, exp.target), width="stretch")

    details(exp)
    if windows:
        window_table(exp)
    t1, t2 = st.columns([2, 3])
    table = pd.DataFrame([{"text": u.text, "start": u.start, "score": u.score}
                          for u in ex.plots.strongest(shown, top_k)], columns=["text", "start", "score"])
    t1.dataframe(table, hide_index=True, width="stretch")
    t2.plotly_chart(ex.plots.top_units(shown, top_k), width="stretch")
    downloads(exp, shown, scale)


def details(exp: ex.Explanation) -> None:
    facts = [f"method **{ex.METHODS[exp.method].title}**"]
    if "steps" in exp.extras:
        how = (f"to {exp.options['tolerance']:.1%} tolerance" if exp.options.get("n_steps") is None
               else "as asked")
        facts.append(f"{exp.extras['steps']} steps {how} ({exp.extras['integration']})")
    steps = [w["steps"] for w in exp.extras.get("windows", []) if "steps" in w]
    if steps:  # sliding windows: each window integrates on its own
        facts.append(f"{min(steps)}–{max(steps)} steps per window" if min(steps) < max(steps)
                     else f"{steps[0]} steps per window")
    if exp.options.get("baseline"):
        facts.append(f"baseline token: {exp.options['baseline']}")
    if "bf16_stalled_at" in exp.extras:
        facts.append(f"in float32: bf16 had not reached the tolerance in {exp.extras['bf16_stalled_at']} steps")
    elif "bf16_offset" in exp.extras:
        facts.append(f"in float32: bf16's F(x) − F(baseline) was {exp.extras['bf16_offset']:.1%} off float32's")
    elif exp.options.get("precision") == "bf16":
        facts.append("bf16 matrix products (F and completeness in float32)")
    facts.append(f"{exp.extras.get('seconds', 0):.2f} s")
    st.caption(" · ".join(facts))
    if exp.extras.get("windows"):
        window_convergence(exp)
    elif exp.convergence_error is not None:
        text = (f"Attributions sum to F(x) − F(baseline) = {exp.score:.4f} − {exp.baseline_score:.4f} = "
                f"{exp.gap:+.4f}; convergence error {exp.delta:+.2e} ({exp.convergence_error:.1%}).")
        if exp.extras.get("cap_hit"):
            st.warning(f"{text} The cap of {exp.options['max_steps']} steps was hit before the "
                       f"{exp.options['tolerance']:.1%} tolerance: trust these scores less.", icon="⚠️")
        elif not exp.converged:
            st.warning(text + " That is large: raise the number of steps for trustworthy scores.", icon="⚠️")
        if exp.extras.get("cap_hit") or not exp.converged:
            more_steps_button(exp)
        else:
            st.caption(text)
    if "hypothesis_total" in exp.extras and exp.gap is not None:
        total = exp.extras["hypothesis_total"]
        st.caption(f"Hypothesis tokens (template and label words, all pairs) contribute {total:+.4f} of the "
                   f"{exp.gap:+.4f} change ({exp.share_of_gap(total):.0%}); the text's words the rest.")


def more_steps_button(exp: ex.Explanation) -> None:
    """The convergence warning's fix, as a button: the same request with more steps (or a higher cap)."""
    more = ex.more_steps(exp.options)
    if more is None:
        return
    name, value = next(iter(more.items()))
    label = f"Re-run with {value} steps" if name == "n_steps" else f"Re-run with a cap of {value} steps"
    if st.button(label, on_click=more_steps, args=(more,), type="primary"):
        st.rerun(scope="app")  # the request changed: the whole page, not only this fragment


def window_convergence(exp: ex.Explanation) -> None:
    """Sliding windows: each window's completeness is its own (no one F(baseline) for the whole text)."""
    error = exp.convergence_error
    if error is None:
        return
    text = (f"Each window's attributions sum to its own F(x) − F(baseline); the largest convergence error over the "
            f"{len(exp.extras['windows'])} windows is {error:.1%} (the table below has each).")
    if exp.extras.get("cap_hit") or not exp.converged:
        st.warning(text + " Trust these scores less: raise the number of steps.", icon="⚠️")
        more_steps_button(exp)
    else:
        st.caption(text)


def window_table(exp: ex.Explanation) -> None:
    """Each window's own prediction and numbers; the whole text's prediction is only their aggregate."""
    windows, setting = exp.extras["windows"], exp.extras["long_text"]
    raw = exp.prediction.output == "score"
    column = "score of the explained label" if raw else "probability of the explained label"
    rows = []
    for w in windows:
        error = w.get("convergence_error")
        rows.append({"window": w["index"] + 1, "characters": f"{w['start']:,}–{w['end']:,}",
                     "tokens": f"{w['first_token']:,}–{w['last_token']:,}", "predicted": w["label"],
                     column: w["scores"].get(exp.target), "explained score": w["score"],
                     "convergence": ("—" if error is None else f"{error:.1%}" + (" (cap hit)" if w.get("cap_hit")
                                                                                  else ""))})
    st.markdown("**The windows, as the model read them**")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    rule = ("the window where it is farthest from a cut" if setting["overlap"] == "central"
            else "the mean over the windows that hold it")
    what = "scores" if raw else "probabilities"
    said = {"mean": f"mean of the windows' {what}", "max": f"highest of each label's {what} over the windows",
            "first": f"first window's {what}"}[setting["aggregate"]]
    st.caption(f"The model never read the whole text at once: {len(windows)} windows of {setting['window_tokens']:,} "
               f"tokens, {setting['stride']:,} tokens apart, each read and explained as a text of its own against "
               f"the same label. The prediction above is the {said}, not the model's own; each word's score comes "
               f"from {rule}.")


def downloads(exp: ex.Explanation, shown, scale: float) -> None:
    """Made when clicked, not on every rerun (the report alone is most of a view-only rerun's work)."""
    def table() -> str:
        return pd.DataFrame([{"text": u.text, "start": u.start, "end": u.end, "score": u.score}
                             for u in shown]).to_csv(index=False)

    d1, d2, d3, d4 = st.columns(4)
    d1.download_button("Explanation (JSON)", lambda: exp.to_json(indent=2), "explanation.json", "application/json",
                       on_click="ignore")
    d2.download_button("Scores (CSV)", table, "scores.csv", "text/csv", on_click="ignore")
    d3.download_button("Report (HTML)", lambda: ex.html.report(exp, shown, scale), "report.html", "text/html",
                       on_click="ignore")
    with d4.popover("Copy link"):
        st.caption("This link reopens the same view:")
        st.code(state.share_link(), language=None, wrap_lines=True)


def main() -> None:
    clf = sidebar.render()
    st.title("Why did the model decide?")
    if clf is None:
        st.info("Pick a checkpoint in the sidebar; the built-ins work offline.")
        return
    st.session_state["task"] = clf.task
    st.session_state["one_output"] = clf.one_output
    st.session_state["default_template"] = ex.default_template(clf)
    req = state.request()
    cols = st.columns(len(EXAMPLES))
    for col, (label, example) in zip(cols, EXAMPLES):
        col.button(label, on_click=use_example, args=(example,), width="stretch")
    labels, problems = target_labels(req)
    form(req, clf, labels)
    for problem in problems:
        st.error(ex.html.markdown_escape(problem), icon="⚠️")
    state.publish()
    if problems:
        return
    exp = compute(req, clf)
    if exp is not None:
        results(exp)
        faithfulness(req, exp)


main()
