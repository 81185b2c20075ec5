"""Many sessions at once on one shared model (issue 16).

The app serves one ``ex.load``-ed classifier (``st.cache_resource``) to every browser session, each
session's script in its own thread. Here 8 threads start together (a barrier) on ONE classifier, each
explaining a different text with several methods (and attention maps, and faithfulness), in a
different order per thread, so that different methods run side by side. Every result must equal
the sequential (solo) run's bit for bit: a solo rerun is bit-identical on this CPU build, and so is
a run from 8 threads, so no tolerance is allowed. And the shared model must come out as it went in:
the same weights, no hooks, eval mode, its attention implementation unchanged.

bench/load.py is the same check through real browser sessions, with latencies.
"""
from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import explainers as ex

SESSIONS = 8
DATA = Path(__file__).parent / "data" / "sst2_test.tsv"
LABEL_SETS = (["positive", "negative"], ["sports", "politics", "film", "food"], ["happy", "angry", "bored"])


def texts(n: int = SESSIONS) -> list[str]:
    """``n`` different short SST-2 test sentences (6 to 12 words: every method stays cheap)."""
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines()[1:]:
        text = line.split("\t")[0].strip()
        if 6 <= len(text.split()) <= 12 and text not in out:
            out.append(text)
        if len(out) == n:
            return out
    raise AssertionError("not enough short sentences in the test data")


# --------------------------------------------------------------------------- comparing and fingerprinting


def assert_same(a, b, where: str = "result") -> None:
    """Exact equality of two results, field by field (arrays bit for bit; NaN equals NaN), ignoring
    only wall-clock timings."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if f.name != "seconds":
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            if k != "seconds":
                assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, f"{where}: {a.shape} {a.dtype} != {b.shape} {b.dtype}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), (
            f"{where}: differs, largest difference {np.nanmax(np.abs(a.astype(float) - b.astype(float))):.3g}")
    elif isinstance(a, float):
        assert a == b or (np.isnan(a) and np.isnan(b)), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks", "_state_dict_hooks",
         "_state_dict_pre_hooks", "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks")


def fingerprint(model: torch.nn.Module) -> dict:
    """Everything of the shared model that an explanation must not change."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict(keep_vars=True).items():
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    modules = list(model.named_modules())
    return {
        "weights": digest.hexdigest(),
        "training": {name for name, m in modules if m.training},
        "hooks": {(name, hook): len(getattr(m, hook)) for name, m in modules for hook in HOOKS
                  if len(getattr(m, hook, {}))},
        "tensor_hooks": {name for name, p in model.named_parameters() if getattr(p, "_backward_hooks", None)},
        "requires_grad": {name for name, p in model.named_parameters() if p.requires_grad},
        "grads": {name for name, p in model.named_parameters() if p.grad is not None},
        "attention": getattr(model.config, "_attn_implementation", None),
        "global_hooks": (len(torch.nn.modules.module._global_forward_hooks),
                         len(torch.nn.modules.module._global_forward_pre_hooks),
                         len(torch.nn.modules.module._global_backward_hooks)),
    }


# --------------------------------------------------------------------------- running together


def at_once(jobs: list[list[tuple[str, object]]]) -> dict:
    """Each session's jobs (name, thunk) in its own thread, all released by one barrier, each session
    in a rotated order (a different method first in each); the results by (session, name)."""
    results, errors = {}, []
    start = threading.Barrier(len(jobs) + 1)

    def session(i: int) -> None:
        mine = jobs[i][i % len(jobs[i]):] + jobs[i][:i % len(jobs[i])]
        start.wait()
        try:
            for name, run in mine:
                results[(i, name)] = run()
        except BaseException as err:  # reported below, with the session that raised it
            errors.append((i, err))

    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(len(jobs))]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a session never finished"
    if errors:
        raise AssertionError(f"session {errors[0][0]} raised") from errors[0][1]
    return results


def together(jobs: list[list[tuple[str, object]]]) -> tuple[dict, dict]:
    """The jobs one session after another (solo), then all sessions at once: both results."""
    solo = {(i, name): run() for i, session in enumerate(jobs) for name, run in session}
    concurrent = at_once(jobs)
    assert concurrent.keys() == solo.keys()
    return solo, concurrent


def check(solo: dict, together_: dict) -> None:
    for key in solo:
        assert_same(solo[key], together_[key], f"session {key[0]}, {key[1]}")


def test_solo_rerun_is_bit_identical(sst2):
    """The premise of the exact comparisons below: the same call twice gives the same bits."""
    text = texts(1)[0]
    for method in ("integrated_gradients", "smoothgrad"):
        options = {"samples": 3} if method == "smoothgrad" else {"max_steps": 17}
        assert_same(ex.explain(sst2, text, method=method, **options),
                    ex.explain(sst2, text, method=method, **options), method)


def test_eight_sessions_on_one_classifier_get_the_solo_results(sst2):
    attention_methods = [m for m in ("attention", "attention_gradient") if m in ex.METHODS]
    assert attention_methods, "no attention method to run beside the attributions"

    def session(text: str) -> list[tuple[str, object]]:
        def explain(method, **options):
            return lambda: ex.explain(sst2, text, method=method, **options)

        def faithful():  # an explanation of its own, then the model's scores without its top words
            return ex.faithfulness(sst2, ex.explain(sst2, text, method="saliency"), random_orders=2)

        # options that keep every method cheap (8 sessions x 2 runs on 2 cores) but on its usual path:
        # integrated gradients adaptive (to a tolerance, under a cap), the seeded samplers with few samples
        return [("integrated_gradients", explain("integrated_gradients", tolerance=0.05, max_steps=17)),
                ("saliency, contrast", explain("saliency", target="negative", contrast="positive")),
                ("occlusion", explain("occlusion")),
                # torch's global generator, seeded; one sample per pass, so that draws and passes interleave
                ("smoothgrad", explain("smoothgrad", samples=3, internal_batch_size=1)),
                ("lime", explain("lime", samples=10, internal_batch_size=1)),  # the same generator, via Captum
                (attention_methods[0], explain(attention_methods[0])),
                ("attention maps", lambda: ex.attention(sst2, text)),
                ("faithfulness", faithful)]

    before = fingerprint(sst2.model)
    solo, concurrent = together([session(t) for t in texts()])
    check(solo, concurrent)
    assert fingerprint(sst2.model) == before
    # each session's own text came back, not a neighbour's
    for (i, name), result in concurrent.items():
        if hasattr(result, "text"):
            assert result.text == texts()[i], (i, name)


def test_eight_zero_shot_sessions_with_their_own_labels(zeroshot):
    """The embedding zero-shot model, each session with its own candidate labels (three label sets
    between eight sessions: the same labels side by side, and different ones)."""
    def session(i: int, text: str) -> list[tuple[str, object]]:
        labels = LABEL_SETS[i % len(LABEL_SETS)]

        def explain(method, **options):
            return lambda: ex.explain(zeroshot, text, method=method, labels=labels, **options)

        return [("integrated_gradients", explain("integrated_gradients", tolerance=0.05, max_steps=17)),
                ("saliency", explain("saliency")),
                ("occlusion", explain("occlusion")),
                ("predict", lambda: ex.predict(zeroshot, text, labels=labels)),
                ("attention maps", lambda: ex.attention(zeroshot, text))]

    before = fingerprint(zeroshot.model)
    solo, concurrent = together([session(i, t) for i, t in enumerate(texts())])
    check(solo, concurrent)
    for (i, name), result in concurrent.items():
        if name != "predict" and name != "attention maps":
            assert list(result.prediction.scores) == LABEL_SETS[i % len(LABEL_SETS)]
    assert fingerprint(zeroshot.model) == before


def test_the_comparison_catches_cross_talk():
    """The check above can fail: one session's scores in another's result, or a changed bit, is caught."""
    a = np.array([0.1, 0.2, 0.3])
    with pytest.raises(AssertionError, match="differs"):
        assert_same({"token_scores": a}, {"token_scores": np.nextafter(a, 1)})
    with pytest.raises(AssertionError):
        assert_same({"words": ("a", "b")}, {"words": ("a", "c")})


def test_eight_app_sessions_share_the_cache_but_not_their_progress(sst2):
    """The app's own path (studio.models: the model from st.cache_resource, explanations in a
    process-wide LRU, each session's progress callback passed through a ContextVar): 8 sessions at
    once, each asking for its own text, get the library's solo result, and each session's progress
    bar hears only from its own computation."""
    from studio import models
    from studio.state import Request

    models._explain.cache_clear()  # nothing answered from an earlier test's cache
    options = {"tolerance": 0.05, "max_steps": 17}
    solo = [ex.explain(sst2, t, precision="fp32", **options) for t in texts()]
    heard: list[list[tuple[int, float]]] = [[] for _ in range(SESSIONS)]
    jobs = [[("explain", lambda i=i, t=t: models.explain_request(
        Request(text=t, method="integrated_gradients", options=dict(options)),
        progress=lambda f, i=i: heard[i].append((threading.get_ident(), f))))]
        for i, t in enumerate(texts())]
    concurrent = at_once(jobs)
    for i in range(SESSIONS):
        assert_same(solo[i], concurrent[(i, "explain")], f"session {i}")
    threads = [{ident for ident, _ in calls} for calls in heard]
    assert all(len(idents) == 1 for idents in threads), "a progress bar heard no computation, or another's"
    assert len(set.union(*threads) - {threading.get_ident()}) == SESSIONS


def test_sessions_asking_for_the_same_explanation_at_once_compute_it_once(sst2, monkeypatch):
    """Visitors landing on the same example at the same moment: one computes, the others wait for it
    and read it from the cache, and all get the same result."""
    from studio import models
    from studio.state import Request

    models._explain.cache_clear()
    calls, real = [], ex.explain

    def counted(*args, **kwargs):
        calls.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(models.ex, "explain", counted)
    request = Request(text=texts(1)[0], method="saliency")
    got = at_once([[("explain", lambda: models.explain_request(request))] for _ in range(4)])
    assert len(calls) == 1
    for i in range(1, 4):
        assert got[(i, "explain")] is got[(0, "explain")]
    assert not models._RUNNING  # nothing left behind


LOADS_AT_ONCE = """
import threading, explainers as ex
checkpoints = ["builtin:sst2", "builtin:zeroshot", "builtin:sst2", "builtin:zeroshot"]
barrier, errors, loaded = threading.Barrier(len(checkpoints)), [], []
def go(name):
    barrier.wait()
    try:
        zero_shot = {"labels": "good, bad"} if name.endswith("zeroshot") else {}
        loaded.append(ex.predict(ex.load(name), "a gripping film", **zero_shot)[0].label)
    except Exception as err:
        errors.append(repr(err))
threads = [threading.Thread(target=go, args=(c,)) for c in checkpoints]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(loaded), errors)
"""


def test_sessions_loading_checkpoints_at_once_in_a_new_process():
    """A server's first sessions may load checkpoints at the same moment: transformers' lazy imports,
    first made from two threads at once, fail with an ImportError, so loads take turns (a fresh
    interpreter: in this one transformers is imported already)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", LOADS_AT_ONCE], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "4 []"
