"""explainers: why a transformer text classifier decided what it did.

    import explainers as ex
    clf = ex.load("builtin:sst2")
    ex.predict(clf, ["a gripping film"])
    exp = ex.explain(clf, "a gripping film", method="integrated_gradients")

This package never imports streamlit: pages, the CLI and notebooks share it,
and use only the names below (``__all__``); the modules behind them may change.
``ex.plots`` (plotly figures), ``ex.html`` (escaped HTML), ``ex.batch``
(datasets: files, chunked runs, summaries) and ``ex.report`` (a dataset's rows
and its standalone HTML report) are imported on first use.
"""
__version__ = "0.1.0"

import importlib

from .api import Estimate, estimate, explain, explain_many, flops, predict
from .attention import (
    COMBINATIONS,
    attention,
    combine_heads,
    difference,
    from_reader,
    rollout,
    rollout_words,
    shown_tokens,
)
from .attribution import KINDS as METHOD_KINDS
from .attribution import METHODS, more_steps
from .builtins import BUILTINS
from .checkpoints import FAMILIES, Classifier, load, source_of
from .compare import (
    FILTERS,
    GOLD_FILTERS,
    AttentionComparison,
    Comparison,
    Disagreement,
    WordAttention,
    compare,
    compare_attention,
    filter_counts,
    filter_rows,
    kendall,
    parse_lines,
    prediction_table,
    texts_and_gold,
    word_attention,
)
from .errors import ExplainerError
from .faithfulness import Faithfulness, faithfulness, faithfulness_summary, more_faithful
from .limits import TimeLimitExceeded
from .results import CONVERGENCE_WARNING, AttentionMaps, AttentionStream, Explanation, Prediction, Word
from .scoring import has_bf16
from .tasks import TASKS, Task, task_for
from .windows import AGGREGATES as WINDOW_AGGREGATES
from .windows import LONG_TEXT
from .words import rank_correlation, shares
from .zeroshot import default_template

__all__ = [
    "load", "source_of", "predict", "explain", "explain_many", "estimate", "Estimate", "flops", "has_bf16",
    "attention", "task_for",
    "Classifier", "Task", "Explanation", "Prediction", "Word", "AttentionMaps", "AttentionStream", "ExplainerError",
    "TimeLimitExceeded",
    "METHODS", "METHOD_KINDS", "FAMILIES", "TASKS", "BUILTINS", "COMBINATIONS", "CONVERGENCE_WARNING",
    "combine_heads", "from_reader", "rollout", "rollout_words", "difference", "shown_tokens",
    "rank_correlation", "shares", "more_steps", "default_template",
    "plots", "html", "batch", "report", "__version__",
    # comparing two checkpoints or methods (explainers/compare.py)
    "compare", "Comparison", "Disagreement", "kendall", "compare_attention", "word_attention",
    "AttentionComparison", "WordAttention", "prediction_table", "filter_rows", "filter_counts", "parse_lines",
    "texts_and_gold", "FILTERS", "GOLD_FILTERS",
    # is an explanation faithful to the model? (explainers/faithfulness.py)
    "faithfulness", "Faithfulness", "more_faithful", "faithfulness_summary",
    # texts longer than the model reads (explainers/windows.py)
    "LONG_TEXT", "WINDOW_AGGREGATES",
]

_LAZY = ("plots", "html", "batch", "report")  # plotly and pandas: imported by what draws figures or reads tables


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
