"""Models & methods: what can be picked, and what each attribution method does."""
import pandas as pd
import streamlit as st

import explainers as ex
from studio import models, sidebar

clf = sidebar.render()
st.title("Models & methods")

st.subheader("Checkpoints")
st.markdown("Built-ins ship with the app and work offline. Hub checkpoints are downloaded on first use "
            "(when the server can reach the Hugging Face Hub); custom model code is never run.")
rows = [{"checkpoint": f"builtin:{name}", "what": spec.title, "offline": "yes"} for name, spec in ex.BUILTINS.items()]
rows += [{"checkpoint": ckpt, "what": what, "offline": "no"} for ckpt, what in models.CURATED.items()]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption("Supported families: " + ", ".join(f.name for f in ex.FAMILIES) + ".")

st.subheader("Ways to score words")
st.markdown("Every method gives each word a score; the Explain page then measures how faithful that scoring is "
            "to the model (below), so they can be compared on your own model and text.")
for kind, what in ex.METHOD_KINDS.items():
    st.markdown(f"**{what}**")
    for name, method in ex.METHODS.items():
        if method.kind != kind:
            continue
        with st.expander(f"{method.title} — `{name}`", expanded=False):
            st.markdown(method.help)
            st.markdown("Scores are **signed** (for / against the label)." if method.signed
                        else "Scores are **magnitudes** (how much, not which way).")
            st.dataframe(pd.DataFrame([{"option": k, "default": "auto" if o.default is None else str(o.default),
                                        "allowed": ", ".join(map(str, o.choices)) if o.choices
                                        else f"{o.low} to {o.high}" + (", or empty (auto)" if o.optional else ""),
                                        "meaning": o.help}
                                       for k, o in method.options.items()]), hide_index=True, width="stretch")

st.subheader("How far to trust a scoring")
st.markdown("Each explanation is checked against the model itself (DeYoung et al. 2020, ERASER): the words it "
            "ranks highest are removed, by masking them (the mask token takes each of their pieces) or deleting "
            "them, at 10 %, 20 %, … 50 % of the words.\n\n"
            "- **Comprehensiveness**: how much the explained score drops without those words. Higher is better.\n"
            "- **Sufficiency**: how much it drops when only those words are kept. Lower is better.\n"
            "- **Random word orders** (five, seeded) give the same two numbers for a ranking that knows nothing: "
            "an explanation is worth reading where it beats them.\n"
            "- **Deletion and insertion curves** follow the score as the top words are removed one share at a "
            "time, or added back to an empty text.\n\n"
            "Integrated gradients also checks itself: its scores must add up to F(x) − F(baseline). By default "
            "it adds integration steps until they do within 1 %, and says when its step cap stopped it first.")

st.subheader("Attention views")
st.markdown("The Attention page reads every layer's and head's attention from an eager copy of the model that "
            "shares its weights. Heads are combined by:\n\n"
            + "\n".join(f"- **{name}**: {what}" for name, what in ex.COMBINATIONS.items())
            + "\n\nRollout (Abnar and Zuidema 2020) adds the identity for the residual stream to each layer's "
              "combined map, renormalises the rows and multiplies through the layers.")

if clf is not None:
    st.subheader(f"Loaded now: {clf.checkpoint}")
    st.json(clf.facts())
