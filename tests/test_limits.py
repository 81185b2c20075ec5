"""Time limits, memory-sized passes and running out of GPU memory: work stops or shrinks cleanly, with
a message, and the shared model is left as it was."""
import numpy as np
import pytest
import torch

import explainers as ex
from explainers import api, attribution, limits


class Clock:
    """A clock that moves only when the model makes a pass (a progress callback): time limits tested
    without depending on how busy the machine is."""

    def __init__(self, per_pass: float):
        self.now, self.per_pass, self.seen = 1000.0, per_pass, []

    def monotonic(self) -> float:
        return self.now

    def progress(self, fraction: float) -> None:
        self.seen.append(fraction)
        self.now += self.per_pass


@pytest.fixture
def clock(monkeypatch):
    c = Clock(per_pass=1.0)
    monkeypatch.setattr(limits, "time", c)
    return c


def test_an_explanation_past_its_time_limit_stops_between_passes(tiny, clock):
    clf = tiny("bert")
    before = ex.explain(clf, "a fine film", n_steps=64, internal_batch_size=4)
    with pytest.raises(limits.TimeLimitExceeded, match=r"stopped after 3.0 s: the time limit here is 2.5 s"):
        ex.explain(clf, "a fine film", n_steps=64, internal_batch_size=4, progress=clock.progress, time_limit=2.5)
    assert len(clock.seen) == 3 and clock.seen[-1] < 1  # three passes of sixteen ran, then it stopped
    after = ex.explain(clf, "a fine film", n_steps=64, internal_batch_size=4, time_limit=60)
    np.testing.assert_array_equal(after.token_scores, before.token_scores)  # nothing left behind
    assert issubclass(limits.TimeLimitExceeded, ex.ExplainerError)


@pytest.mark.parametrize("method", ["integrated_gradients", "lime", "occlusion", "smoothgrad"])
def test_every_kind_of_method_stops(tiny, clock, method):
    options = {"samples": 400, "internal_batch_size": 4} if method in ("lime", "smoothgrad") else {}
    if method == "integrated_gradients":
        options = {"n_steps": 64, "internal_batch_size": 4}
    if method == "occlusion":
        options = {"internal_batch_size": 1}
    with pytest.raises(limits.TimeLimitExceeded):
        ex.explain(tiny("bert"), "a fine film with many words to remove one by one", method=method,
                   progress=clock.progress, time_limit=2.5, **options)
    assert len(clock.seen) == 3


def test_explain_many_and_faithfulness_have_time_limits(tiny, clock, monkeypatch):
    clf = tiny("bert")
    with pytest.raises(limits.TimeLimitExceeded):
        ex.explain_many(clf, ["a fine film", "a dull film", "an odd film"], n_steps=64, internal_batch_size=4,
                        progress=clock.progress, time_limit=2.5)
    assert len(clock.seen) == 3
    exp = ex.explain(clf, "a fine film with a plot and some actors", method="saliency")
    ticking = Clock(per_pass=0.0)
    ticking.monotonic = lambda: ticking.progress(0) or ticking.now  # one second per look at the clock
    ticking.per_pass = 1.0
    for removal in ("mask", "delete"):
        with monkeypatch.context() as m:
            m.setattr(limits, "time", ticking)
            with pytest.raises(limits.TimeLimitExceeded, match="Measuring faithfulness was stopped after 3.0 s"):
                ex.faithfulness(clf, exp, removal=removal, batch_size=1, time_limit=2.5)
        assert ex.faithfulness(clf, exp, removal=removal, time_limit=60).n_words == len(exp.words)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "10", True, 1e9])
def test_bad_time_limits_are_refused(tiny, bad):
    with pytest.raises(ex.ExplainerError, match="time_limit must be a number of seconds"):
        ex.explain(tiny("bert"), "a fine film", time_limit=bad)


def scorer_of(clf, text: str, method: str, **options):
    task = ex.task_for(clf)
    m = attribution.method(method)
    opts = task.output(m.resolve(options), options)
    row = api._read(task, text, opts, None, None, m.needs_words)
    return m, opts, task.scorer(row.x, [row.target], None, row.baseline_ids, opts["output"])


def test_passes_are_sized_to_the_memory_left(tiny):
    m, opts, scorer = scorer_of(tiny("bert"), "a fine film", "integrated_gradients", n_steps=32)
    each = scorer.bytes_per_example()
    assert each > 0 and scorer.bytes_per_example(backward=False) <= each
    assert attribution.fit_memory(m, scorer, opts, free=1e12) is opts  # plenty: unchanged
    fitted = attribution.fit_memory(m, scorer, opts, free=5.5 * each / attribution.MEMORY_SHARE)
    assert fitted["internal_batch_size"] == 5  # the automatic size shrinks to what fits
    explicit = {**opts, "internal_batch_size": 64}
    with pytest.raises(ex.ExplainerError, match=r"internal_batch_size=64 needs about .* Use at most 5"):
        attribution.fit_memory(m, scorer, explicit, free=5.5 * each / attribution.MEMORY_SHARE)
    with pytest.raises(ex.ExplainerError, match="for one pass over this text, and this machine has"):
        attribution.fit_memory(m, scorer, opts, free=0.5 * each)


def test_the_memory_estimate_is_of_the_right_size():
    """BERT-base, 512 tokens: 340 MB (SDPA) to 530 MB (eager) per example measured at the peak; the
    estimate may be above, not far below (it must keep a machine from swapping)."""
    width, length, body = 768, 512, 85e6
    from explainers.scoring import Scorer

    x = torch.zeros(1, length, width)
    s = Scorer(forward=None, inputs=(x,), baselines=(x,), owners=(np.zeros((1, length), int),), body_parameters=body)
    assert 340e6 <= s.bytes_per_example() <= 1.2e9


def test_an_oversized_request_is_refused_before_it_runs(tiny, monkeypatch):
    monkeypatch.setattr(attribution, "available_memory", lambda: 1e3)
    with pytest.raises(ex.ExplainerError, match="machine has 0 MB free"):
        ex.explain(tiny("bert"), "a fine film")


def test_running_out_of_gpu_memory_retries_with_smaller_passes(tiny, monkeypatch):
    """A pass of more than 4 examples "runs out of memory" (as a GPU would): the method runs again at
    8, then 4 examples per pass, and gives what 4 per pass gives."""
    clf = tiny("bert")
    m, opts, scorer = scorer_of(clf, "a fine film", "integrated_gradients", n_steps=24, internal_batch_size=16)
    sizes, inner = [], scorer.forward

    def forward(*args):
        sizes.append(int(args[0].shape[0]))
        if sizes[-1] > 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return inner(*args)

    from dataclasses import replace

    got = attribution.attribute(m, replace(scorer, forward=forward), opts)[0]
    assert got.extras["examples_per_pass"] == 4 and sizes[:2] == [16, 8] and max(sizes[2:]) <= 4
    want = attribution.attribute(m, scorer, {**opts, "internal_batch_size": 4})[0]
    np.testing.assert_allclose(got.token_scores, want.token_scores, rtol=1e-6, atol=1e-9)

    def always(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(ex.ExplainerError, match="ran out of GPU memory on this text, even one example per pass"):
        attribution.attribute(m, replace(scorer, forward=always), opts)


def test_running_out_of_memory_anywhere_is_a_message(tiny, monkeypatch):
    clf = tiny("bert")
    exp = ex.explain(clf, "a fine film", method="saliency")

    def gpu_full(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 MiB")

    monkeypatch.setattr(type(clf.model), "forward", gpu_full)
    for call in (lambda: ex.predict(clf, "a fine film"), lambda: ex.explain(clf, "a fine film"),
                 lambda: ex.explain_many(clf, ["a fine film"]), lambda: ex.attention(clf, "a fine film"),
                 lambda: ex.faithfulness(clf, exp)):
        with pytest.raises(ex.ExplainerError, match="The GPU ran out of memory on this request"):
            call()

    def ram_full(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(type(clf.model), "forward", ram_full)
    with pytest.raises(ex.ExplainerError, match="This machine ran out of memory"):
        ex.predict(clf, "a fine film")
    monkeypatch.undo()
    np.testing.assert_array_equal(ex.explain(clf, "a fine film", method="saliency").token_scores, exp.token_scores)
