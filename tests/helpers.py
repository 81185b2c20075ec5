"""What several test modules share: sample texts, a model snapshot, the app under AppTest.

(Tiny models are built by tiny_models.py, the family table; fixtures live in conftest.py.)
"""
import json
import threading
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tiny_models import FAMILY_NAMES as FAMILIES  # noqa: F401  (every family the tests cover)

TEXTS = [
    "This is awesome anyone thinking to buy should blindly go for it",
    "The movie was not bad at all, highly recommend",
    "I don't think it's worth the price, honestly.",
    "the plot is dull and the acting is worse",
]


def snapshot(model):
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
                + len(getattr(m, "_backward_pre_hooks", {})) for m in model.modules())
    return params, model.config.to_json_string(), hooks, model.config._attn_implementation, model.training


TIMEOUT = 300  # model loading on a cold cache
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def page(path: str, **query) -> AppTest:
    """The app opened on another page (``pages/...``), through the entry point as a browser does."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def specs(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def in_threads(work, items) -> list[Exception]:
    """``work(item)`` for every item, each in its own thread, all at once; the exceptions they raised."""
    errors = []

    def guarded(item):
        try:
            work(item)
        except Exception as err:  # reported to the caller
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(item,)) for item in items]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


def cli(*args: str, command: str = "explain"):
    """``explainers COMMAND ARGS`` run in this process (``explainers.cli.main``): what a command line
    prints and returns, without paying a new interpreter's imports (~5 s) per call. An exception
    escaping ``main`` fails the test, as a traceback would; tests/test_cli.py keeps one real process."""
    import contextlib
    import io
    import subprocess

    from explainers import cli as line

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = line.main([command, *args])
        except SystemExit as exit_:  # argparse refuses a bad flag this way
            code = exit_.code
    return subprocess.CompletedProcess(["explainers", command, *args], code, out.getvalue(), err.getvalue())
