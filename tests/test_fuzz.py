"""The fuzz corpus (tests/data/fuzz.jsonl, written by tests/data/make_fuzz.py) through every surface.

Each entry is an odd or hostile input (a text, candidate labels, a template, a hypothesis, a target,
a method, an option, a checkpoint) and what must happen: "ok", or an ExplainerError whose message
contains the entry's ``expect`` (so it names the problem). Any other exception is a bug, and so is a
call that does not finish in CALL_SECONDS.

- Library: every entry, on builtin:sst2 (builtin:zeroshot for labels and templates, a tiny NLI model
  for hypotheses); explain with saliency (integrated gradients on a sample of the texts), predict
  where the input is a text or task, and faithfulness of every explanation that succeeds (half the
  words, one random order, no curves, so that long texts stay cheap; word deletion on a sample).
- CLI: every entry the command line can express, in-process (``explainers.cli.main``), on tiny random
  checkpoints with the same labels and the same normalisation (the CLI's part is parsing, exit codes
  and printing; the models' part is the library's above): exit 0 or 2, never a traceback, the
  message printed; and one real process on builtin:sst2 for what only a terminal shows (its own
  encodings of standard output and error).
- App: a representative subset of the text, labels and template entries (APP_SAMPLE: every class of
  input, the refusals and the odd texts, not each control character), typed into the widgets of one
  session and submitted with Explain, as a visitor would: no exception, no "Something went wrong",
  the message shown; saliency, so that the page's work stays small. And a sample of what only a URL
  can carry (URL_SAMPLE: any option value, checkpoint, target or method), each opening the page.

About a minute on 2 cores (most of it the app and the long texts).
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import regex
import torch
from streamlit.testing.v1 import AppTest

import explainers as ex
import explainers.cli as cli
from helpers import APP, TIMEOUT

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_fuzz", DATA / "make_fuzz.py")
make_fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fuzz)

CORPUS = [json.loads(line) for line in (DATA / "fuzz.jsonl").read_text(encoding="utf-8").splitlines()]
for _entry in CORPUS:
    _entry["value"] = make_fuzz.decode(_entry["value"])
CALL_SECONDS = 30
SENTENCE = make_fuzz.SENTENCE
SHORT = "a fine film"
NLI_LABELS = ("contradiction", "neutral", "entailment")
SENTIMENT_LABELS = ("negative", "positive")  # builtin:sst2's
MAX_MESSAGE = 1_000  # characters: a message names the problem, it does not echo a 200,000-character input


def test_the_corpus_is_large_and_current():
    assert len(CORPUS) >= 200
    assert len({e["id"] for e in CORPUS}) == len(CORPUS)
    rows = make_fuzz.entries()
    assert [make_fuzz.line(row) for row in rows] == (DATA / "fuzz.jsonl").read_text(encoding="utf-8").splitlines(), \
        "fuzz.jsonl is stale: run tests/data/make_fuzz.py"
    for row, entry in zip(rows, CORPUS):  # the file holds what the generator meant
        assert _same(make_fuzz.decode(row["value"]), entry["value"]), entry["id"]
    fields = {e["field"] for e in CORPUS}
    assert {"text", "labels", "template", "hypothesis", "target", "option", "checkpoint"} <= fields


def _same(a, b) -> bool:
    """Equal values of the same types, nan equal to nan: what the generator wrote is what the file gives
    back (JSON reads two escaped halves of a surrogate pair as one character, for one)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and a != a:
        return b != b
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def within(seconds: float, work, *args, **kwargs):
    """``work(*args, **kwargs)`` in a worker thread: its result or its exception; the test fails when it
    is still running after ``seconds`` (a hang, or work far out of proportion)."""
    box = {}

    def run():
        try:
            box["value"] = work(*args, **kwargs)
        except BaseException as err:  # handed to the caller
            box["error"] = err

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"{getattr(work, '__name__', work)} did not finish in {seconds} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def outcome(work, *args, **kwargs):
    """(result, None) or (None, the ExplainerError's message); any other exception fails the test."""
    try:
        return within(CALL_SECONDS, work, *args, **kwargs), None
    except ex.ExplainerError as err:
        return None, str(err)


def check(entry: dict, message: str | None, where: str, expect: str | None = None) -> None:
    expect = entry["expect"] if expect is None else expect
    if expect == "ok":
        assert message is None, f"{entry['id']} ({where}) was refused: {message}"
        return
    assert message is not None, f"{entry['id']} ({where}) was accepted; expected an error with {expect!r}"
    assert expect in message, f"{entry['id']} ({where}): {message!r} does not contain {expect!r}"
    assert "Traceback" not in message and len(message) <= MAX_MESSAGE, f"{entry['id']} ({where}): {message[:300]}"


def check_words(exp: ex.Explanation) -> None:
    """Words are spans of the text as given, and none cuts a character as it is drawn (a grapheme)."""
    text = exp.text
    bounds = {0, len(text)} | {m.end() for m in regex.finditer(r"\X", text)}
    for w in exp.words:
        assert w.text == text[w.start:w.end], (w, text[w.start:w.end])
        assert w.start in bounds and w.end in bounds, f"word {w.text!r} at {w.start} cuts a grapheme"


# ---------------------------------------------------------------------------------------------- library


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Torch on one thread here: the corpus is hundreds of small calls, where a second thread only costs
    hand-offs (and on a busy machine, spinning); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models(tiny):
    return {"sst2": ex.load("builtin:sst2"), "zeroshot": ex.load("builtin:zeroshot"),
            "nli": tiny("bert", labels=NLI_LABELS)}


def _sampled(entry: dict, every: int) -> bool:
    """A stable sample of the corpus: every ``every``-th entry of its field."""
    same = [e["id"] for e in CORPUS if e["field"] == entry["field"]]
    return same.index(entry["id"]) % every == 0


def _request(entry: dict, models: dict) -> tuple[ex.Classifier, str, dict]:
    """The classifier, text and keyword arguments the entry stands for (saliency unless it is about
    the method or its options)."""
    field, value = entry["field"], entry["value"]
    if field == "text":
        return models["sst2"], value, {"method": "saliency"}
    if field == "labels":
        return models["zeroshot"], SENTENCE, {"method": "saliency", "labels": value}
    if field == "template":
        return models["zeroshot"], SENTENCE, {"method": "saliency", "labels": "sports, politics", "template": value}
    if field == "hypothesis":
        return models["nli"], SENTENCE, {"method": "saliency", "hypothesis": value}
    if field == "target":
        return models["sst2"], SHORT, {"method": "saliency", "target": value}
    if field == "contrast":
        return models["sst2"], SHORT, {"method": "saliency", "target": "positive", "contrast": value}
    if field == "method":
        return models["sst2"], SHORT, {"method": value}
    if field == "option":
        return models["sst2"], SHORT, {"method": entry["method"], **value}
    raise AssertionError(f"unknown field {field}")


LIBRARY = [pytest.param(e, id=e["id"]) for e in CORPUS if e["field"] != "checkpoint"]


@pytest.mark.parametrize("entry", LIBRARY)
def test_library(entry, models):
    clf, text, kwargs = _request(entry, models)
    exp, message = outcome(ex.explain, clf, text, **kwargs)
    check(entry, message, "explain")
    if entry["field"] in ("text", "labels", "template", "hypothesis") and not isinstance(text, list):
        # predict reads the same input (a list of texts is its own, not a wrong type)
        task = {k: v for k, v in kwargs.items() if k in ("labels", "template", "hypothesis")}
        _, message = outcome(ex.predict, clf, text, **task)
        check(entry, message, "predict")
    if exp is None:
        return
    check_words(exp)
    light = {"fractions": (0.5,), "random_orders": 1, "curves": False}
    faithful, message = outcome(ex.faithfulness, clf, exp, **light)
    assert message is None, f"{entry['id']}: faithfulness refused an explanation that succeeded: {message}"
    assert faithful.n_words == len(exp.words)
    if _sampled(entry, 8):
        _, message = outcome(ex.faithfulness, clf, exp, removal="delete", **light)
        assert message is None, f"{entry['id']}: deleting words failed: {message}"
    if entry["field"] == "text" and len(text) <= 300 and _sampled(entry, 8):  # short: IG over 512 tokens is slow
        ig, message = outcome(ex.explain, clf, text, method="integrated_gradients", internal_batch_size=64)
        assert message is None, f"{entry['id']}: integrated gradients refused a text saliency explained: {message}"
        check_words(ig)


CHECKPOINTS = [pytest.param(e, id=e["id"]) for e in CORPUS if e["field"] == "checkpoint"]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, and relative paths resolved in an empty folder (not the repository)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("entry", CHECKPOINTS)
def test_library_checkpoints(entry, offline):
    clf, message = outcome(ex.load, entry["value"])
    check(entry, message, "load")
    if clf is not None:
        assert ex.predict(clf, SHORT, **({"labels": "good, bad"} if clf.task == "embedding" else {}))


# ---------------------------------------------------------------------------------------------- CLI


def _argv(entry: dict, sentiment: str, nli: str) -> list[str] | None:
    """The command line for an entry (``sentiment``, ``nli``: checkpoint folders standing in for
    builtin:sst2 and builtin:zeroshot), or None where a command line cannot say it (not text)."""
    field, value = entry["field"], entry["value"]

    def text(v) -> bool:
        return isinstance(v, str)

    base = ["explain", f"--checkpoint={sentiment}", f"--text={SHORT}"]
    zero_shot = ["explain", f"--checkpoint={nli}", f"--text={SENTENCE}", "--method=saliency"]
    if field == "text":
        return ["explain", f"--checkpoint={sentiment}", f"--text={value}", "--method=saliency"] if text(value) else None
    if field == "labels":
        if value is None:
            return ["explain", "--checkpoint=builtin:zeroshot", f"--text={SENTENCE}", "--method=saliency"]
        if isinstance(value, list) and all(text(v) and "," not in v for v in value):
            value = ",".join(value)
        return zero_shot + [f"--labels={value}"] if text(value) else None
    if field == "template":
        return zero_shot + ["--labels=sports, politics", f"--template={value}"] if text(value) else None
    if field == "hypothesis":
        return zero_shot + [f"--hypothesis={value}"] if text(value) else None
    if field == "target":
        return base + ["--method=saliency", f"--target={value}"] if text(value) else None
    if field == "contrast":
        return base + ["--method=saliency", "--target=positive", f"--contrast={value}"] if text(value) else None
    if field == "method":
        return base + [f"--method={value}"] if text(value) else None
    if field == "option":
        try:
            options = [f"--option={name}={json.dumps(v)}" for name, v in value.items()]
        except ValueError:  # an integer JSON cannot write
            return None
        return base + [f"--method={entry['method']}", *options]
    if field == "checkpoint":
        return ["explain", f"--checkpoint={value}", f"--text={SHORT}", "--method=saliency"] if text(value) else None
    raise AssertionError(field)


def _run_cli(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as stop:  # argparse's usage errors
                code = stop.code
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def memoised_load():
    """The CLI loads its checkpoint on every call; here each is loaded once (failures are not kept)."""
    real, kept = ex.load, {}

    def load(checkpoint, **kwargs):
        key = (checkpoint, tuple(sorted(kwargs.items())))
        if key not in kept:
            kept[key] = real(checkpoint, **kwargs)
        return kept[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ex, "load", load)
        yield


CLI_ENTRIES = [pytest.param(e, id=e["id"]) for e in CORPUS if e.get("cli") != "skip"]


@pytest.mark.parametrize("entry", CLI_ENTRIES)
def test_cli(entry, memoised_load, tiny_folder, offline):
    argv = _argv(entry, str(tiny_folder("bert", labels=SENTIMENT_LABELS)), str(tiny_folder("bert", labels=NLI_LABELS)))
    if argv is None:
        pytest.skip("a command line cannot give this value")
    stdin = entry["value"] if entry["field"] == "text" else ""  # --text=- reads standard input
    code, out, err = within(CALL_SECONDS, _run_cli, argv, stdin)
    expect = entry.get("cli", entry["expect"])
    assert "Traceback" not in err and "Traceback" not in out, err[-2_000:]
    if expect == "ok":
        assert code == 0, f"{entry['id']}: exit {code}: {err[-500:]}"
        assert "explained:" in out
    else:
        assert code == 2, f"{entry['id']}: exit {code}, expected 2 with {expect!r}; stdout {out[-300:]!r}"
        assert expect in err, f"{entry['id']}: {err[-500:]!r} does not contain {expect!r}"


def test_cli_in_a_real_process():
    """What only a process shows: its own encodings of standard output and error, with the C locale,
    printing words in right-to-left and Indic scripts, emoji sequences and bidi controls."""
    text = "\u202egood\u202c film 👨\u200d👩\u200d👧 🇫🇷 שלום फ़िल्म"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8", "LANG")}
    run = subprocess.run([sys.executable, "-m", "explainers", "explain", "--method", "saliency", "--text", text],
                         capture_output=True, timeout=120, env={**env, "LC_ALL": "C", "HF_HUB_OFFLINE": "1"},
                         cwd=Path(__file__).parents[1])
    out, err = run.stdout.decode("utf-8", "replace"), run.stderr.decode("utf-8", "replace")
    assert run.returncode == 0 and "Traceback" not in err, err
    assert "explained:" in out and "फ़िल्म" in out and "🇫🇷" in out


# ---------------------------------------------------------------------------------------------- app

# The app's share of the corpus: each class of text, label and template input once or twice (the refusals,
# the invisible, the bidi, emoji, scripts and markup), not every control character or payload: they take the
# same path, and the library and CLI above run all of them. Lone surrogates cannot come from a browser.
APP_SAMPLE = [
    "text/empty", "text/nbsp", "text/zero-width-space", "text/combining-mark-alone", "text/control-U+0000",
    "text/control-U+0007", "text/control-U+0085", "text/escape-sequence",
    "text/allowed-controls", "text/bidi-override-trojan", "text/emoji-zwj-family", "text/emoji-flags",
    "text/hindi", "text/cjk-no-spaces", "text/html-script", "text/markdown", "text/streamlit-colors",
    "text/latex-inline", "text/format-braces", "text/double-dash-help",
    "labels/empty-string", "labels/twenty-one", "labels/label-201-chars", "labels/nul", "labels/c1",
    "labels/duplicates-string", "labels/emoji", "labels/html",
    "template/empty", "template/blank", "template/two-placeholders", "template/index", "template/attribute",
    "template/open-brace", "template/nul", "template/too-long", "template/latex", "template/html",
]
BY_ID = {e["id"]: e for e in CORPUS}


def _typed(entry: dict) -> str:
    """What the entry's value is in a text box: a list of labels as the comma-separated line one types."""
    value = entry["value"]
    return ", ".join(value) if isinstance(value, list) else value


def _shown(at) -> list[str]:
    """Every text the page shows (markdown, captions, alerts, HTML, code)."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "code"):
        parts += [str(getattr(el, "value", "")) for el in getattr(at, kind)]
    parts += [h.proto.body for h in at.get("html")]
    return parts


def test_app_sample_is_in_the_corpus():
    assert set(APP_SAMPLE) <= set(BY_ID)
    assert all(BY_ID[i].get("app") != "skip" for i in APP_SAMPLE)


@pytest.mark.parametrize("checkpoint, fields", [("builtin:sst2", ("text",)),
                                                ("builtin:zeroshot", ("labels", "template"))])
def test_app(checkpoint, fields):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["checkpoint"] = checkpoint
    at.query_params["method"] = "saliency"
    at = at.run()
    assert not at.exception, at.exception
    for entry in (BY_ID[i] for i in APP_SAMPLE if BY_ID[i]["field"] in fields):
        key = {"text": "w.text", "labels": "w.labels", "template": "w.template"}[entry["field"]]
        widget = at.text_area(key=key) if entry["field"] == "text" else at.text_input(key=key)
        widget.set_value(_typed(entry))
        next(b for b in at.button if b.label == "Explain").click()
        at = at.run()
        shown = _shown(at)
        assert not at.exception, f"{entry['id']}: {at.exception}"
        assert not any("Traceback" in s or "Something went wrong" in s for s in shown), entry["id"]
        errors = [e.value for e in at.error]
        expect = entry.get("app", entry["expect"])
        if expect == "ok":
            assert not errors, f"{entry['id']}: {errors}"
        else:
            assert any(expect in e for e in errors), f"{entry['id']}: {errors} do not contain {expect!r}"
        if entry["field"] != "text":  # the next entry starts from the default labels and template
            widget = at.text_input(key=key)
            widget.set_value("sports, politics" if entry["field"] == "labels" else "A {} news story.")


# The URL's share: a link can carry what no widget lets one type (any option value, any checkpoint or
# target), so a sample of those entries opens the page from a URL. The page may refuse (naming the
# problem), ignore what no request can hold (a list as an option's value), or explain; it never breaks.
URL_SAMPLE = [
    "option/integrated_gradients.n_steps=-1", "option/integrated_gradients.n_steps=\"many\"",
    "option/integrated_gradients.n_steps={\"$big_int\": 5000}", "option/integrated_gradients.n_steps=[1]",
    "option/integrated_gradients.n_steps=NaN", "option/integrated_gradients.tolerance=Infinity",
    "option/integrated_gradients.baseline=[\"pad\"]", "option/integrated_gradients.integration=\"simpson\"",
    "option/integrated_gradients.<script>=1", "option/smoothgrad.seed={\"$big_int\": 400}",
    "option/integrated_gradients.n_steps\\x00=1", "option/integrated_gradients.\\ud800=1",
    "target/bad-\"--1\"", "target/bad-\"\\u00b2\"", "method/bad-", "method/bad-../attribution",
    "checkpoint/invalid-../../etc/passwd", "checkpoint/invalid-http://evil", "checkpoint/builtin-nope",
]


def _query(entry: dict) -> dict[str, str]:
    field, value = entry["field"], entry["value"]
    if field == "option":
        name, v = next(iter(value.items()))
        raw = _digits(v) if isinstance(v, int) and not isinstance(v, bool) else json.dumps(v)
        return {"method": entry["method"], "options": "{" + json.dumps(name) + ": " + raw + "}"}
    return {field: value}


def _digits(n: int) -> str:
    """An integer in decimal, however long (as a URL can carry it; Python writes at most 4,300 digits)."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return str(n)
    finally:
        sys.set_int_max_str_digits(limit)


def test_url_sample_is_in_the_corpus():
    assert set(URL_SAMPLE) <= set(BY_ID)


@pytest.mark.parametrize("entry_id", URL_SAMPLE)
def test_app_from_a_url(entry_id):
    entry = BY_ID[entry_id]
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in _query(entry).items():
        at.query_params[key] = value
    at.query_params.setdefault("method", "saliency")
    at = at.run()
    assert not at.exception, f"{entry_id}: {at.exception}"
    assert not any("Traceback" in s or "Something went wrong" in s for s in _shown(at)), entry_id
