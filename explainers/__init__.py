"""explainers: why a transformer text classifier decided what it did.

    import explainers as ex
    clf = ex.load("builtin:sst2")
    ex.predict(clf, ["a gripping film"])
    exp = ex.explain(clf, "a gripping film", method="integrated_gradients")

This package never imports streamlit: pages, the CLI and notebooks share it.
"""
__version__ = "0.1.0"

from .api import explain, predict
from .attention import attention
from .attribution import METHODS
from .checkpoints import FAMILIES, Classifier, load
from .errors import ExplainerError
from .results import AttentionMaps, Explanation, Prediction, Word

__all__ = ["load", "predict", "explain", "attention", "AttentionMaps", "METHODS", "FAMILIES", "Classifier", "Explanation", "Prediction",
           "Word", "ExplainerError", "__version__"]
