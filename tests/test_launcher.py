"""``python -m studio``: the default checkpoint is loaded into the app's cache before the first page asks."""
import logging

import explainers as ex
from studio import __main__ as launcher
from studio import models, state


def test_the_warm_up_leaves_the_default_checkpoint_in_the_apps_cache(monkeypatch):
    loads = []
    real = ex.load
    monkeypatch.setattr(ex, "load", lambda *a, **k: loads.append(a[0]) or real(*a, **k))
    models.load.clear()
    try:
        launcher.warm_up()
        assert loads == [state.DEFAULT_CHECKPOINT]
        req = state.Request()
        clf = models.load(req.checkpoint, req.revision, req.label_names)  # as the sidebar asks for it
        assert loads == [state.DEFAULT_CHECKPOINT]  # a cache hit: the first page does not load it again
        assert clf.checkpoint == state.DEFAULT_CHECKPOINT
    finally:
        models.load.clear()


def test_a_failing_warm_up_is_logged_and_the_server_goes_on(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ex.ExplainerError("no such checkpoint")

    monkeypatch.setattr(models, "load", broken)
    with caplog.at_level(logging.WARNING, logger="studio"):
        launcher.warm_up()  # does not raise: the page loads the checkpoint itself and says what is wrong
    assert "warming up the default checkpoint failed" in caplog.text
    assert "no such checkpoint" in caplog.text
