"""A public demo's limits (STUDIO_PUBLIC=1 and each STUDIO_* setting), local folders kept inside their
root, models that would not fit refused before loading, and requests past the time limit stopped with a
message while the page stays usable."""
import json
import os
import shutil

import pytest

import explainers as ex
import studio.models as models
from explainers import checkpoints
from helpers import app, page


@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("STUDIO_PUBLIC", "1")
    models.load.clear()
    yield
    models.load.clear()


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_private_and_public_defaults_and_settings(monkeypatch):
    monkeypatch.delenv("STUDIO_PUBLIC", raising=False)
    assert models.limits() == models.PRIVATE
    monkeypatch.setenv("STUDIO_PUBLIC", "1")
    assert models.limits() == models.PUBLIC
    lim = models.PUBLIC
    assert lim.max_chars <= 5_000 and lim.max_labels <= 10 and lim.max_rows <= 100 and lim.seconds <= 60
    monkeypatch.setenv("STUDIO_MAX_CHARS", "500")
    monkeypatch.setenv("STUDIO_TIME_LIMIT", "12.5")
    monkeypatch.setenv("STUDIO_MAX_STEPS", "lots")  # not a number: the default stays, with a line in the log
    got = models.limits()
    assert (got.max_chars, got.seconds, got.max_steps) == (500, 12.5, lim.max_steps)
    monkeypatch.setenv("STUDIO_MAX_ROWS", "-3")
    assert models.max_rows() == lim.max_rows


def test_a_public_server_reads_no_local_folders(public, monkeypatch, tiny_folder):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")
    assert not models.local_folders_allowed()
    with pytest.raises(ex.ExplainerError, match="never on a public server"):
        models.load(str(tiny_folder("bert")))


def test_local_folders_stay_inside_their_root(monkeypatch, tiny_folder, tmp_path):
    monkeypatch.setenv("STUDIO_ALLOW_LOCAL", "1")
    root, outside = tmp_path / "models", tmp_path / "outside"
    shutil.copytree(tiny_folder("bert"), root / "bert")
    shutil.copytree(tiny_folder("bert"), outside)
    os.symlink(outside, root / "link-out")  # a link inside the root that points outside it
    monkeypatch.setenv("STUDIO_LOCAL_ROOT", str(root))
    models.check_local(str(root / "bert"))  # inside: allowed
    assert models.load(str(root / "bert")).family.name == "BERT"
    for path in [root / ".." / "outside", "/etc", outside, root / "link-out"]:
        with pytest.raises(ex.ExplainerError, match="outside the folder this server loads checkpoints from"):
            models.load(str(path))


def test_too_long_a_text_from_a_link_is_refused_on_a_public_server(public):
    at = app(text="word " * 1000, options=json.dumps({"n_steps": 200}))  # 5,000 characters, through the URL
    assert not at.exception
    assert any("The text has 5,000 characters; this public demo explains up to 2,000" in e for e in errors(at))
    assert not [c.value for c in at.caption if "estimated from two short timed passes" in c.value]  # nothing timed
    assert any("Public demo: texts up to 2,000 characters" in c.value for c in at.sidebar.caption)
    at = page("pages/1_Attention.py", text="word " * 1000)
    assert any("this public demo explains up to 2,000" in e for e in errors(at))


def test_steps_and_labels_over_the_public_limits_are_refused(public):
    at = app(options=json.dumps({"n_steps": 1000}))
    assert not at.exception
    assert any("n_steps=1,000 is more than this public demo runs (at most 256)" in e for e in errors(at))
    at = app(checkpoint="builtin:zeroshot", labels=", ".join(f"topic {i}" for i in range(12)))
    assert not at.exception
    assert any("This public demo takes up to 10 candidate labels" in e for e in errors(at))
    assert at.number_input(key="w.opt.integrated_gradients.max_steps").max == 256


def test_a_request_past_the_time_limit_stops_with_a_message_and_the_page_works_on(monkeypatch):
    monkeypatch.setenv("STUDIO_TIME_LIMIT", "0.000001")
    at = app(text="a time limit far too short for any explanation")
    assert not at.exception
    assert any("was stopped after" in e and "the time limit here is 1e-06 s" in e for e in errors(at))
    monkeypatch.setenv("STUDIO_TIME_LIMIT", "600")
    at.run()
    assert not at.exception and not errors(at)
    assert any("predicted; explaining" in m.value for m in at.markdown)


def test_a_model_that_would_not_fit_is_refused_before_its_weights_are_read(monkeypatch):
    with pytest.raises(ex.ExplainerError, match=r"needs about .* GB of memory in float32 .* 0.0 GB free"):
        checkpoints._check_fits("big/model", 7_000_000_000, checkpoints.torch.device("cpu"), free=1e6)
    checkpoints._check_fits("small/model", 1_000_000, checkpoints.torch.device("cpu"), free=1e9)
    import explainers.limits

    monkeypatch.setattr(explainers.limits, "available_memory", lambda: 1e6)
    with pytest.raises(ex.ExplainerError, match="'builtin:sst2' needs about"):
        ex.load("builtin:sst2")
