"""Models & methods: what can be picked, and what each attribution method does."""
from types import SimpleNamespace

import pandas as pd
import streamlit as st

import explainers as ex
from studio import models, sidebar

TOKENS = {"pad": "the pad token", "mask": "the mask token", "unk": "the unk (unknown) token",
          "eos": "the EOS (end-of-sequence) token"}


def head_reads(family) -> str:
    """What the family's classification head reads; for families whose config chooses (classifier_pooling),
    each choice."""
    return " or ".join(dict.fromkeys(family.head_reads(SimpleNamespace(classifier_pooling=how))
                                     for how in ("cls", "mean")))


def config_chooses(family) -> bool:
    return " or " in head_reads(family)


def kind(family) -> str:
    return "encoder-decoder" if family.encoder_decoder else "decoder-only" if family.decoder_only else "encoder"


def first_of(tokens) -> str:
    """("unk", "eos") -> "the unk (unknown) token if the tokenizer has one, else the EOS (end-of-sequence)
    token": the first of the candidates that the tokenizer has."""
    names = [TOKENS.get(t, t) for t in tokens]
    return names[0] + "".join(f" if the tokenizer has one, else {n}" if i == 1 else f", else {n}"
                              for i, n in enumerate(names[1:], 1))


def decoder_tokens() -> str:
    """The decoder-only families' defaults for the baseline and the word-removal token, in words."""
    decoders = [f for f in ex.FAMILIES if f.decoder_only]
    baselines = dict.fromkeys(f.baselines for f in decoders)
    removals = dict.fromkeys(f.removals for f in decoders)
    if len(baselines) == 1 and baselines == removals:
        return ("so the integrated-gradients baseline and the token that stands for a removed word default to "
                f"{first_of(next(iter(baselines)))}.")
    return ("so the integrated-gradients baseline defaults to "
            f"{'; '.join(first_of(b) for b in baselines)}, and the token that stands for a removed word to "
            f"{'; '.join(first_of(r) for r in removals)}.")


clf = sidebar.render()
st.title("Models & methods")

st.subheader("Checkpoints")
st.markdown("Built-ins ship with the app and work offline. Hub checkpoints are downloaded on first use "
            "(when the server can reach the Hugging Face Hub); custom model code is never run. "
            f"Checkpoints of up to {models.limits().max_parameters / 1e9:g} billion parameters load here.")
rows = [{"checkpoint": f"builtin:{name}", "what": spec.title, "offline": "yes"} for name, spec in ex.BUILTINS.items()]
rows += [{"checkpoint": ckpt, "what": what, "offline": "no"} for ckpt, what in models.CURATED.items()]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

st.subheader("Model families")
st.markdown("Any sequence-classification checkpoint of these families can be explained (the config's "
            "`model_type` says which family a checkpoint is).")
st.dataframe(pd.DataFrame([{"family": f.name, "model types": ", ".join(f.model_types), "the head reads": head_reads(f),
                            "architecture": kind(f)} for f in ex.FAMILIES]),
             hide_index=True, width="stretch", height="content",
             column_config={"family": st.column_config.TextColumn(width="small"),
                            "model types": st.column_config.TextColumn(width="small"),
                            "the head reads": st.column_config.TextColumn(width="large"),
                            "architecture": st.column_config.TextColumn(width="small")})
pooled = [f.name for f in ex.FAMILIES if config_chooses(f)]
if pooled:
    names = " and ".join([", ".join(pooled[:-1]), pooled[-1]] if len(pooled) > 1 else pooled)
    st.caption(f"{names}: the config's `classifier_pooling` says which the head reads.")
decoders = [f.name for f in ex.FAMILIES if f.decoder_only]
if decoders:
    st.markdown(f"**Decoder-only classifiers** ({', '.join(decoders)}) read the last token that is not padding: "
                "their score layer is applied there. Many of their tokenizers have no pad, mask or unk token, "
                + decoder_tokens())
st.markdown("**One-output heads** (reward models, regressors, cross-encoders: one label) give one raw score, any "
            "real number, not a probability. That score is what is explained, as it is; the Explain page shows it "
            "instead of a probability bar, and there is no other label to contrast it with.")

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
    st.subheader(f"Loaded now: {ex.html.markdown_escape(clf.checkpoint)}")
    st.json(clf.facts())
