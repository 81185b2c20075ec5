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

st.subheader("Attribution methods")
for name, method in ex.METHODS.items():
    with st.expander(f"{method.title} — `{name}`", expanded=False):
        st.markdown(method.help)
        st.markdown("Scores are **signed** (for / against the label)." if method.signed
                    else "Scores are **magnitudes** (how much, not which way).")
        st.dataframe(pd.DataFrame([{"option": k, "default": str(o.default), "allowed": ", ".join(map(str, o.choices))
                                    if o.choices else f"{o.low} to {o.high}", "meaning": o.help}
                                   for k, o in method.options.items()]), hide_index=True, width="stretch")

st.subheader("Attention views")
st.markdown("The Attention page reads every layer's and head's attention from an eager copy of the model that "
            "shares its weights. Heads are combined by:\n\n"
            + "\n".join(f"- **{name}**: {what}" for name, what in ex.COMBINATIONS.items())
            + "\n\nRollout (Abnar and Zuidema 2020) adds the identity for the residual stream to each layer's "
              "combined map, renormalises the rows and multiplies through the layers.")

if clf is not None:
    st.subheader(f"Loaded now: {clf.checkpoint}")
    st.json(clf.facts())
