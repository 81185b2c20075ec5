"""Models loaded once per process and shared by every browser session; results
cached by everything they depend on, so view-only reruns recompute nothing."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

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
# An explanation is timed before it starts (ex.estimate: about five examples' worth of passes) only when its
# arithmetic (ex.flops) is over ESTIMATE_FROM_FLOPS, about 10 s on a 2-core CPU; the estimate is shown when
# it says more than ESTIMATE_FROM_SECONDS. Below, the progress bar's time left is enough.
ESTIMATE_FROM_FLOPS = 1.5e12
ESTIMATE_FROM_SECONDS = 2.0


@dataclass(frozen=True)
class Limits:
    """What one request may ask of this server. ``STUDIO_PUBLIC=1`` (a public Space, a stakeholder demo)
    picks conservative defaults; each can be set on its own (``STUDIO_MAX_CHARS``, ``STUDIO_MAX_LABELS``,
    ``STUDIO_MAX_ROWS``, ``STUDIO_MAX_STEPS``, ``STUDIO_TIME_LIMIT`` in seconds, ``STUDIO_MAX_PARAMETERS``).
    A public server never reads local folders, whatever STUDIO_ALLOW_LOCAL says."""

    public: bool
    max_chars: int  # characters of a text
    max_labels: int  # zero-shot candidate labels
    max_rows: int  # rows of an uploaded file or pasted list (Batch and Compare pages)
    max_steps: int  # integration steps, the tolerance mode's cap, and samples (SmoothGrad, LIME, KernelSHAP)
    seconds: float  # per request: an explanation, its faithfulness, a batch run
    max_parameters: float  # checkpoints above this are refused before their weights are fetched

    @property
    def where(self) -> str:
        """This server, as its messages name it."""
        return "this public demo" if self.public else "this server"


PUBLIC = Limits(True, max_chars=2_000, max_labels=10, max_rows=100, max_steps=256, seconds=60.0,
                max_parameters=6e8)
PRIVATE = Limits(False, max_chars=20_000, max_labels=20, max_rows=500, max_steps=5_000, seconds=900.0,
                 max_parameters=1e9)
STEP_OPTIONS = ("n_steps", "max_steps", "samples")


def _env_number(name: str, default: float, kind=int):
    """An operator's setting: a positive number, else the default (and a line in the log)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(float(raw))
        if value > 0:
            return value
    except (ValueError, OverflowError):
        pass
    logging.getLogger("studio").warning("%s=%r is not a positive number; using %s", name, raw, default)
    return default


def limits() -> Limits:
    """This server's limits, from the environment (read on every call: cheap, and tests can change it)."""
    public = os.environ.get("STUDIO_PUBLIC", "").strip().lower() in ("1", "true", "yes")
    base = PUBLIC if public else PRIVATE
    return Limits(public, max_chars=_env_number("STUDIO_MAX_CHARS", base.max_chars),
                  max_labels=_env_number("STUDIO_MAX_LABELS", base.max_labels),
                  max_rows=_env_number("STUDIO_MAX_ROWS", base.max_rows),
                  max_steps=_env_number("STUDIO_MAX_STEPS", base.max_steps),
                  seconds=_env_number("STUDIO_TIME_LIMIT", base.seconds, float),
                  max_parameters=_env_number("STUDIO_MAX_PARAMETERS", base.max_parameters, float))


def max_rows() -> int:
    """The deployment's limit on the rows of an uploaded file or pasted list (Batch and Compare pages):
    ``limits().max_rows`` (STUDIO_MAX_ROWS; 500, or 100 on a public server)."""
    return limits().max_rows


def check_length(text: str, lim: Limits | None = None) -> None:
    """A text within this server's character limit (``lim``, default ``limits()``)."""
    lim = lim or limits()
    if isinstance(text, str) and len(text) > lim.max_chars:
        raise ex.ExplainerError(f"The text has {len(text):,} characters; {lim.where} explains up to "
                                f"{lim.max_chars:,}. Shorten it.")


def check_request(req) -> None:
    """Refuse what this server's limits do not allow (a URL can ask for more than the form lets one
    type), naming the limit; ExplainerError, shown where the result would be."""
    lim = limits()
    check_length(req.text, lim)
    inputs = task_inputs(req)
    labels = inputs.get("labels")
    if isinstance(labels, str) and len([x for x in labels.split(",") if x.strip()]) > lim.max_labels:
        raise ex.ExplainerError(f"{lim.where.capitalize()} takes up to {lim.max_labels} candidate labels; "
                                "remove some.")
    for name in STEP_OPTIONS:
        value = req.options.get(name)
        if isinstance(value, (int, float)) and value > lim.max_steps:
            raise ex.ExplainerError(f"{name}={value:,} is more than {lim.where} runs (at most {lim.max_steps:,}). "
                                    "Lower it.")


def precision() -> str:
    """The app's precision for gradient methods: "auto" (bf16 for texts of 128 tokens or more where this
    machine multiplies bfloat16 natively, where it pays: bench/RESULTS.md), or what the operator sets
    with STUDIO_PRECISION (fp32 everywhere; bf16 everywhere, where the machine has it). A text bf16
    cannot take to the tolerance is finished in float32; the page says which precision ran, and
    completeness is checked in float32 either way."""
    wanted = os.environ.get("STUDIO_PRECISION", "").strip().lower()
    if wanted == "fp32":
        return "fp32"
    if wanted == "bf16":
        return "bf16" if ex.has_bf16("cuda" if torch.cuda.is_available() else "cpu") else "fp32"
    return "auto"


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
    """Off unless the operator enables it (STUDIO_ALLOW_LOCAL=1), and always off on a public server:
    a public Space must not read its own disk."""
    return os.environ.get("STUDIO_ALLOW_LOCAL", "").lower() in ("1", "true", "yes") and not limits().public


def local_root() -> Path | None:
    """STUDIO_LOCAL_ROOT: the one folder local checkpoints may come from (after following links);
    unset: any folder this process can read."""
    root = os.environ.get("STUDIO_LOCAL_ROOT", "").strip()
    return Path(root).resolve() if root else None


def check_local(checkpoint: str) -> None:
    """A local folder is allowed here: local folders are on, and it lies inside STUDIO_LOCAL_ROOT
    (``..`` and symbolic links followed first, so neither escapes it)."""
    if not local_folders_allowed():
        raise ex.ExplainerError("Local folders are disabled on this server (STUDIO_ALLOW_LOCAL=1 enables them; "
                                "never on a public server, STUDIO_PUBLIC=1).")
    root = local_root()
    if root is not None and not Path(checkpoint).resolve().is_relative_to(root):
        raise ex.ExplainerError(f"{checkpoint!r} is outside the folder this server loads checkpoints from "
                                f"({root}). Give a folder inside it.")


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
    if ex.source_of(checkpoint) == "local":
        check_local(checkpoint)
    return ex.load(checkpoint, revision=revision or None, label_names=_names(label_names),
                   max_parameters=limits().max_parameters)


_PROGRESS: ContextVar = ContextVar("progress", default=None)


def explain_request(req, progress=None) -> ex.Explanation:
    """The explanation a page's request (``studio.state.Request``) asks for, cached by everything it
    depends on; ``progress`` is told how far a computation is.

    A process-wide LRU rather than st.cache_data: Streamlit replays elements
    touched inside a cached function, and a progress bar must be touched.
    """
    check_request(req)
    key = (req.checkpoint, req.revision, req.label_names, req.text, req.method, req.target, req.contrast,
           tuple(sorted(task_inputs(req).items())), _options(req), tuple(sorted(req.windowing().items())))
    token = _PROGRESS.set(progress)
    try:
        with _one_at_a_time(key):
            return _explain(*key)
    finally:
        _PROGRESS.reset(token)


_RUNNING: dict[tuple, threading.Lock] = {}
_RUNNING_LOCK = threading.Lock()


@contextlib.contextmanager
def _one_at_a_time(key: tuple):
    """Sessions asking for the same explanation at once (a public demo's visitors landing on the same
    example) compute it once: the others wait, then read it from the cache."""
    with _RUNNING_LOCK:
        lock = _RUNNING.setdefault(key, threading.Lock())
    try:
        with lock:
            yield
    finally:
        with _RUNNING_LOCK:
            if not lock.locked():
                _RUNNING.pop(key, None)


@functools.lru_cache(maxsize=256)
def _explain(checkpoint, revision, label_names, text, method, target, contrast, task_inputs,
             options, windowing=()) -> ex.Explanation:
    """``windowing``: a long text's sliding windows (``Request.windowing``), empty for truncation."""
    clf = load(checkpoint, revision, label_names)
    return ex.explain(clf, text, method=method, target=target or None, contrast=contrast or None,
                      progress=_PROGRESS.get(), time_limit=limits().seconds, **dict(task_inputs), **dict(options),
                      **dict(windowing))


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
                         removal, tuple(sorted(req.windowing().items())))


@functools.lru_cache(maxsize=256)
def _faithfulness(checkpoint, revision, label_names, text, method, target, contrast, task_inputs, options,
                  removal, windowing=()) -> ex.Faithfulness:
    exp = _explain(checkpoint, revision, label_names, text, method, target, contrast, task_inputs, options,
                   windowing)
    return ex.faithfulness(load(checkpoint, revision, label_names), exp, removal=removal,
                           time_limit=limits().seconds)


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
    check_length(text)
    clf = load(checkpoint, revision, label_names)
    return ex.attention(clf, text, target=target or None)


def safely(slot, compute, *args, **kwargs):
    """``compute(*args, **kwargs)``, or None with a message in ``slot``: never a stack trace on the page."""
    try:
        return compute(*args, **kwargs)
    except ex.ExplainerError as err:
        slot.error(ex.html.markdown_escape(err), icon="⚠️")  # errors quote user text: shown literally
    except Exception as err:
        logging.getLogger("studio").exception("%s failed", getattr(compute, "__name__", "computation"))
        slot.error(f"Something went wrong ({type(err).__name__}). The error was logged.")
    return None
