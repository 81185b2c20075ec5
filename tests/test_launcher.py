"""``python -m studio``: the default checkpoint is loaded into the app's cache before the first page asks."""
import logging

import explainers as ex
from studio import __main__ as launcher
from studio import models, state


def test_the_warm_up_leaves_the_default_checkpoint_and_example_in_the_apps_caches(monkeypatch):
    loads, texts = [], []
    load, explain = ex.load, ex.explain
    monkeypatch.setattr(ex, "load", lambda *a, **k: loads.append(a[0]) or load(*a, **k))
    monkeypatch.setattr(ex, "explain", lambda clf, text, **k: texts.append(text) or explain(clf, text, **k))
    models.load.clear()
    models._explain.cache_clear()
    try:
        launcher.warm_up()
        assert loads == [state.DEFAULT_CHECKPOINT] and texts == [state.DEFAULT_TEXT]
        req = state.Request()  # what a first visit asks for: the sidebar's model, the page's explanation
        clf = models.load(req.checkpoint, req.revision, req.label_names)
        exp = models.explain_request(req)
        assert loads == [state.DEFAULT_CHECKPOINT] and texts == [state.DEFAULT_TEXT]  # both from the caches
        assert clf.checkpoint == state.DEFAULT_CHECKPOINT and exp.text == state.DEFAULT_TEXT
        assert exp.converged and "awesome" in [w.text for w in exp.words]
    finally:
        models.load.clear()
        models._explain.cache_clear()


def test_a_failing_warm_up_is_logged_and_the_server_goes_on(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ex.ExplainerError("no such checkpoint")

    monkeypatch.setattr(models, "load", broken)
    with caplog.at_level(logging.WARNING, logger="studio"):
        launcher.warm_up()  # does not raise: the page loads the checkpoint itself and says what is wrong
    assert "warming up the default checkpoint failed" in caplog.text
    assert "no such checkpoint" in caplog.text
