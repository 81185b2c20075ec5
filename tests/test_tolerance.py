"""Integrated gradients to a tolerance: the default reaches 1% completeness, reports the steps it used
and says honestly when its cap stopped it; a given n_steps still means exactly that many."""
import numpy as np
import pytest
from captum.attr import IntegratedGradients

import explainers as ex
from explainers import api
from explainers.attribution import ABSOLUTE_FLOOR, FIRST_INTERVALS, REFINE_POINTS
from explainers.integration import RULES, refine, trapezoid_weights
from helpers import FAMILIES, TEXTS

EXAMPLES = [  # the Explain page's examples
    "This is awesome anyone thinking to buy should blindly go for it",
    "The movie was not bad at all, highly recommend",
    "This movie was not really good, I did not enjoy it at all",
]
ADAPTIVE_STEPS = set(range(FIRST_INTERVALS + 1, 5000, REFINE_POINTS))  # 17, 21, 25, ...


def within_tolerance(exp, tolerance=0.01) -> bool:
    return abs(exp.delta) <= max(tolerance * abs(exp.gap), ABSOLUTE_FLOOR) + 1e-12


def test_default_is_the_tolerance_mode(sst2):
    exp = ex.explain(sst2, EXAMPLES[0])
    assert exp.options["n_steps"] is None and exp.options["tolerance"] == 0.01 and exp.options["max_steps"] == 513
    assert exp.extras["steps"] in ADAPTIVE_STEPS and exp.extras["cap_hit"] is False
    assert exp.extras["integration"] == "adaptive trapezoid"


@pytest.mark.parametrize("text", EXAMPLES)
def test_builtin_examples_reach_one_percent(sst2, text):
    exp = ex.explain(sst2, text)
    assert within_tolerance(exp) and not exp.extras["cap_hit"]
    assert abs(exp.token_scores.sum() - exp.gap - exp.delta) < 1e-6  # delta is what the scores miss


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_reaches_one_percent(tiny, family):
    clf = tiny(family)
    for text in TEXTS[:2]:
        exp = ex.explain(clf, text)
        assert not exp.extras["cap_hit"], (family, text, exp.extras, exp.convergence_error)
        assert within_tolerance(exp)


def test_a_low_cap_is_reported_honestly(sst2):
    text = EXAMPLES[1]  # needs more than 17 gradients on builtin:sst2 (bench/ig_quadrature.py)
    exp = ex.explain(sst2, text, max_steps=FIRST_INTERVALS + 1)
    assert exp.extras == {**exp.extras, "steps": FIRST_INTERVALS + 1, "cap_hit": True}
    assert not within_tolerance(exp) and not exp.converged
    assert ex.more_steps(exp.options) == {"max_steps": 4 * FIRST_INTERVALS + 1}
    tight, loose = ex.explain(sst2, text, tolerance=0.001), ex.explain(sst2, text, tolerance=0.5)
    assert loose.extras["steps"] <= tight.extras["steps"] and within_tolerance(loose, 0.5)
    assert within_tolerance(tight, 0.001) and not tight.extras["cap_hit"]


def test_a_given_n_steps_means_exactly_that_many_and_is_captums_own_run(sst2):
    text = EXAMPLES[2]
    exp = ex.explain(sst2, text, n_steps=24)
    assert exp.extras["steps"] == 24 and exp.extras["cap_hit"] is False and exp.extras["integration"] == "gausslegendre"
    task = ex.task_for(sst2)
    row = api._read(task, text, exp.options, None, None)
    scorer = task.scorer(row.x, [row.target], None, row.baseline_ids, "probability")
    attrs = IntegratedGradients(scorer.forward).attribute(scorer.inputs, baselines=scorer.baselines, n_steps=24,
                                                          additional_forward_args=(scorer.rows(),))
    np.testing.assert_allclose(exp.token_scores, attrs[0][0].sum(-1).double().numpy(), atol=1e-6)
    assert ex.more_steps(exp.options) == {"n_steps": 96}
    assert ex.more_steps({**exp.options, "n_steps": 2000}) is None


def test_tolerance_mode_agrees_with_many_captum_steps(sst2):
    """Not only the sum: every token's score is near Captum's 1000-step Gauss-Legendre run."""
    for text in EXAMPLES[1:2]:
        exp = ex.explain(sst2, text)
        reference = ex.explain(sst2, text, n_steps=500, internal_batch_size=250)
        assert np.abs(exp.token_scores - reference.token_scores).max() < 0.01 * abs(reference.gap)


def test_refinement_reuses_every_gradient(sst2, monkeypatch):
    """Each gradient is computed once, at a new point: the steps reported are the gradients evaluated."""
    from explainers import attribution

    counted = []
    inner = attribution._gradients_at

    def counting(scorer, pairs, per_pass):
        counted.append(pairs)
        return inner(scorer, pairs, per_pass)

    monkeypatch.setattr(attribution, "_gradients_at", counting)
    exp = ex.explain(sst2, EXAMPLES[1])
    alphas = [a for pairs in counted for _, a in pairs]
    assert len(alphas) == exp.extras["steps"] == len(set(alphas)) and len(counted) > 1
    assert len(counted[0]) == FIRST_INTERVALS + 1 and all(len(p) <= REFINE_POINTS for p in counted[1:])


def test_refinement_goes_where_the_integrand_bends():
    nodes = np.linspace(0, 1, 17)
    values = np.where(np.abs(nodes - 0.5) < 0.07, 10.0, 0.0)  # a narrow peak, flat elsewhere
    new = refine(nodes, values, 4)
    assert len(new) == 4 and np.all(np.abs(new - 0.5) < 0.2) and not set(new) & set(nodes)
    assert refine(nodes, values, 100).size == 16  # at most one midpoint per interval
    weights = trapezoid_weights(np.array([0.0, 0.1, 0.5, 1.0]))
    np.testing.assert_allclose(weights, [0.05, 0.25, 0.45, 0.25])
    np.testing.assert_allclose(trapezoid_weights(nodes), RULES["trapezoid"](16)[1])


def test_batched_rows_stop_each_at_their_own_steps(sst2):
    many = ex.explain_many(sst2, EXAMPLES + ["a gripping, funny and touching film that never lets go"])
    alone = [ex.explain(sst2, text) for text in EXAMPLES + ["a gripping, funny and touching film that never lets go"]]
    assert len({e.extras["steps"] for e in many}) > 1  # different texts need different steps
    for a, b in zip(many, alone):
        assert a.extras["steps"] == b.extras["steps"]
        np.testing.assert_allclose(a.token_scores, b.token_scores, atol=1e-5)


@pytest.mark.parametrize("rule", list(RULES))
def test_nested_rules_integrate_polynomials_and_nest(rule):
    nodes, weights = RULES[rule](16)
    assert weights.sum() == pytest.approx(1.0)
    assert weights @ nodes == pytest.approx(0.5)
    finer, _ = RULES[rule](32)
    np.testing.assert_allclose(finer[::2], nodes, atol=1e-15)


@pytest.mark.parametrize("options, message", [
    ({"tolerance": 0}, "out of range"), ({"max_steps": 3}, "out of range"), ({"tolerance": "tight"}, "must be a float"),
])
def test_bad_tolerance_options(sst2, options, message):
    with pytest.raises(ex.ExplainerError, match=message):
        ex.explain(sst2, EXAMPLES[0], **options)
