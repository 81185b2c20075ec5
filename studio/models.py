"""Models loaded once per process and shared by every browser session; results
cached by everything they depend on, so view-only reruns recompute nothing."""
from __future__ import annotations

import functools
import logging
import os
from contextvars import ContextVar

import streamlit as st
import torch

import explainers as ex

CURATED = {
    "distilbert-base-uncased-finetuned-sst-2-english": "DistilBERT, SST-2 sentiment",
    "textattack/distilbert-base-uncased-imdb": "DistilBERT, IMDB sentiment (LABEL_0/1)",
    "cardiffnlp/twitter-roberta-base-sentiment-latest": "RoBERTa, tweet sentiment",
    "facebook/bart-large-mnli": "BART-large NLI (zero-shot)",
    "valhalla/distilbart-mnli-12-1": "DistilBART NLI (zero-shot)",
    "MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli": "DeBERTa-v3 NLI (zero-shot)",
}
OTHER = "Other hub id…"
LOCAL = "Local folder…"
MAX_MODELS = int(os.environ.get("STUDIO_MAX_MODELS", "3"))
MAX_PARAMETERS = float(os.environ.get("STUDIO_MAX_PARAMETERS", "1e9"))  # refused before download
# An explanation is timed before it starts (ex.estimate: about five examples' worth of passes) only when its
# arithmetic (ex.flops) is over ESTIMATE_FROM_FLOPS, about 10 s on a 2-core CPU; the estimate is shown when
# it says more than ESTIMATE_FROM_SECONDS. Below, the progress bar's time left is enough.
ESTIMATE_FROM_FLOPS = 1.5e12
ESTIMATE_FROM_SECONDS = 2.0


def max_rows() -> int:
    """The deployment's limit on the rows of an uploaded file or pasted list (Batch and Compare pages):
    STUDIO_MAX_ROWS, default 500; keep it small on a public Space."""
    try:
        return max(1, int(os.environ.get("STUDIO_MAX_ROWS", "500")))
    except ValueError:
        return 500


def precision() -> str:
    """The app's precision for gradient methods: fp32, or bf16 with STUDIO_PRECISION=bf16 where this
    machine multiplies bfloat16 natively. bf16 is faster per pass, but on SST-2 sentences 7 % of texts
    could not reach 1 % completeness in it (bench/RESULTS.md), so it is the operator's choice; the
    page says which, and completeness is checked in float32 either way."""
    wanted = os.environ.get("STUDIO_PRECISION", "").strip().lower()
    if wanted == "bf16" and ex.has_bf16("cuda" if torch.cuda.is_available() else "cpu"):
        return "bf16"
    return "fp32"


def option_default(method: str, name: str):
    """An option's default in the app: the library's, except ``precision`` (``precision()``, set by the
    operator)."""
    if name == "precision":
        return precision()
    return ex.METHODS[method].options[name].default


def with_app_defaults(method: str, options: dict) -> dict:
    """The options a request leaves out, filled where the app's default differs from the library's."""
    if "precision" in ex.METHODS[method].options and "precision" not in options:
        return {**options, "precision": precision()}
    return dict(options)


def local_folders_allowed() -> bool:
    """Off unless the operator enables it: a public Space must not read its own disk."""
    return os.environ.get("STUDIO_ALLOW_LOCAL", "").lower() in ("1", "true", "yes")


def choices() -> dict[str, str]:
    """Picker entries: checkpoint id -> caption."""
    out = {f"builtin:{name}": f"built-in: {spec.title}" for name, spec in ex.BUILTINS.items()}
    out.update(CURATED)
    return out


def _names(label_names: str) -> list[str] | None:
    names = [n.strip() for n in label_names.split(",")] if label_names.strip() else None
    return names


@st.cache_resource(max_entries=MAX_MODELS, show_spinner=False)
def load(checkpoint: str, revision: str = "", label_names: str = "") -> ex.Classifier:
    """One instance per (checkpoint, revision, label names) for the whole process. Failures are not cached."""
    if ex.source_of(checkpoint) == "local" and not local_folders_allowed():
        raise ex.ExplainerError("Local folders are disabled on this server (STUDIO_ALLOW_LOCAL=1 enables them).")
    return ex.load(checkpoint, revision=revision or None, label_names=_names(label_names),
                   max_parameters=MAX_PARAMETERS)


_PROGRESS: ContextVar = ContextVar("progress", default=None)


def explain_request(req, progress=None) -> ex.Explanation:
    """The explanation a page's request (``studio.state.Request``) asks for, cached by everything it
    depends on; ``progress`` is told how far a computation is.

    A process-wide LRU rather than st.cache_data: Streamlit replays elements
    touched inside a cached function, and a progress bar must be touched.
    """
    token = _PROGRESS.set(progress)
    try:
        return _explain(req.checkpoint, req.revision, req.label_names, req.text, req.method, req.target,
                        req.contrast, tuple(sorted(task_inputs(req).items())), _options(req))
    finally:
        _PROGRESS.reset(token)


@functools.lru_cache(maxsize=256)
def _explain(checkpoint, revision, label_names, text, method, target, contrast, task_inputs,
             options) -> ex.Explanation:
    clf = load(checkpoint, revision, label_names)
    return ex.explain(clf, text, method=method, target=target or None, contrast=contrast or None,
                      progress=_PROGRESS.get(), **dict(task_inputs), **dict(options))


def estimate_request(req) -> ex.Estimate | None:
    """How long the request's explanation will take here (``ex.estimate``: short timed passes through the
    model), cached by everything the explanation depends on; None when it cannot be estimated
    (the explanation itself then says what is wrong). Never raises: an estimate must not break a page."""
    try:
        inputs = tuple(sorted(task_inputs(req).items()))
    except ex.ExplainerError:  # the checkpoint does not load: the sidebar says why
        return None
    return _estimate(req.checkpoint, req.revision, req.label_names, req.text, req.method, req.target,
                     req.contrast, inputs, _options(req))


@functools.lru_cache(maxsize=256)
def _estimate(checkpoint, revision, label_names, text, method, target, contrast, task_inputs,
              options) -> ex.Estimate | None:
    try:
        clf = load(checkpoint, revision, label_names)
        return ex.estimate(clf, text, method, target or None, contrast=contrast or None, **dict(task_inputs),
                           **dict(options))
    except ex.ExplainerError:
        return None
    except Exception:
        logging.getLogger("studio").warning("estimating %s failed", method, exc_info=True)
        return None


def faithfulness(req, removal: str = "mask") -> ex.Faithfulness:
    """How faithful the request's explanation is (``ex.faithfulness``, five seeded random orders),
    cached like the explanation: a view-only rerun recomputes nothing."""
    return _faithfulness(req.checkpoint, req.revision, req.label_names, req.text, req.method, req.target,
                         req.contrast, tuple(sorted(task_inputs(req).items())), _options(req),
                         removal)


@functools.lru_cache(maxsize=256)
def _faithfulness(checkpoint, revision, label_names, text, method, target, contrast, task_inputs, options,
                  removal) -> ex.Faithfulness:
    exp = _explain(checkpoint, revision, label_names, text, method, target, contrast, task_inputs, options)
    return ex.faithfulness(load(checkpoint, revision, label_names), exp, removal=removal)


def _options(req) -> tuple:
    """The request's method options with the app's defaults filled in, as a cache key."""
    return tuple(sorted(with_app_defaults(req.method, req.options).items()))


def flops(req) -> float | None:
    """``ex.flops`` of the request's explanation (its arithmetic, from the tokenizer alone); None when
    the request cannot be read (the explanation itself then says why)."""
    try:
        return ex.flops(load(req.checkpoint, req.revision, req.label_names), req.text, req.method,
                        **task_inputs(req), **dict(_options(req)))
    except ex.ExplainerError:
        return None


def task_inputs(req) -> dict:
    """What the request gives its checkpoint: candidate labels, a hypothesis, or nothing."""
    return req.task_inputs(load(req.checkpoint, req.revision, req.label_names).task)


def task(req) -> ex.Task:
    """The task the request asks of its checkpoint (its labels name the targets); ExplainerError
    when the request's labels, template or hypothesis cannot make one."""
    return ex.task_for(load(req.checkpoint, req.revision, req.label_names), **task_inputs(req))


@functools.lru_cache(maxsize=4)  # maps of a 512-token text are tens of MB (BART-large: GB): keep few
def attention(checkpoint: str, revision: str, label_names: str, text: str, target: str) -> ex.AttentionMaps:
    """Attention maps (with the gradient-weighted combination for ``target``, '' = predicted), cached."""
    clf = load(checkpoint, revision, label_names)
    return ex.attention(clf, text, target=target or None)


def safely(slot, compute, *args, **kwargs):
    """``compute(*args, **kwargs)``, or None with a message in ``slot``: never a stack trace on the page."""
    try:
        return compute(*args, **kwargs)
    except ex.ExplainerError as err:
        slot.error(str(err), icon="⚠️")
    except Exception as err:
        logging.getLogger("studio").exception("%s failed", getattr(compute, "__name__", "computation"))
        slot.error(f"Something went wrong ({type(err).__name__}). The error was logged.")
    return None
