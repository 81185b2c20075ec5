"""Which quadrature reaches integrated gradients' 1% completeness with the fewest gradients? Run by hand.

    python bench/ig_quadrature.py [--tiny] [--cap 513]

For each text, the integrand h(alpha) = grad F(x' + alpha (x - x')) . (x - x')
(summed over tokens: what the completeness check sees) is computed once at
every node of every rule, then each rule's error |sum_i w_i h(alpha_i) -
(F(x) - F(x'))| / |F(x) - F(x')| is read off at each step count. Costs are
gradient evaluations:

- Gauss-Legendre (Captum's default) at a fixed n costs n; reaching a
  tolerance by doubling n and starting again costs 8 + 16 + ... + n;
- the nested rules (Clenshaw-Curtis, trapezoid, Simpson on 2^k intervals)
  cost n + 1 for n intervals however many refinements it took;
- the adaptive trapezoid (the tolerance mode: 17 even points, then 4 more
  per round where the integrand bends most) costs the points it asked for.

Prints a Markdown table for bench/RESULTS.md: per rule, the median and
worst gradient evaluations to reach 1% over the texts, and how many never
reached it within the cap. ``--tiny`` adds a tiny random model of each family
(from tests/tiny_models.py) on the test corpus.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import explainers as ex  # noqa: E402
from explainers import api  # noqa: E402
from explainers.attribution import FIRST_INTERVALS, REFINE_POINTS  # noqa: E402
from explainers.integration import RULES, refine, trapezoid_weights  # noqa: E402

TEXTS = [
    "This is awesome anyone thinking to buy should blindly go for it",
    "The movie was not bad at all, highly recommend",
    "This movie was not really good, I did not enjoy it at all",
    "a gripping, funny and touching film that never lets go",
    "the plot is dull and the acting is worse; a waste of time",
    "I don't think it's worth the price, honestly.",
    "it 's a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    ("The first half hour drags, with a script that seems to have been assembled from spare parts of better "
     "thrillers, but once the heist begins the film finds its rhythm: the editing tightens, the jokes land, and "
     "the two leads, who spent the opening scenes trading flat one-liners, suddenly have real chemistry. It is "
     "not a great movie, and the ending is both predictable and rushed, yet I left the theatre smiling, which "
     "is more than I can say for most of this summer's blockbusters."),
]
TOLERANCE = 0.01


def scorer_for(clf, text: str):
    """The scorer ``ex.explain`` builds for ``text``: auto baseline, the predicted label's probability."""
    task = ex.task_for(clf)
    row = api._read(task, text, ex.METHODS["integrated_gradients"].resolve({}), None, None)
    return task.scorer(row.x, [row.target], None, row.baseline_ids, "probability")


def integrand(clf, text: str, alphas: np.ndarray, chunk: int = 64) -> tuple[np.ndarray, float]:
    """h at each alpha, and F(x) - F(x') (the auto baseline, probability of the predicted label)."""
    scorer = scorer_for(clf, text)
    diffs = [x - b for x, b in zip(scorer.inputs, scorer.baselines)]
    out = []
    for start in range(0, len(alphas), chunk):
        a = torch.as_tensor(alphas[start:start + chunk], dtype=scorer.inputs[0].dtype)
        points = [(b + a.view(-1, *[1] * (b.dim() - 1)) * d).requires_grad_(True)
                  for b, d in zip(scorer.baselines, diffs)]
        rows = torch.zeros(len(a), dtype=torch.long)
        grads = torch.autograd.grad(scorer.forward(*points, rows).sum(), points)
        out.append(sum((g * d).flatten(1).sum(1) for g, d in zip(grads, diffs)).double().numpy())
    with torch.no_grad():
        ends = scorer.forward(*[torch.cat([b, x]) for b, x in zip(scorer.baselines, scorer.inputs)],
                              torch.zeros(2, dtype=torch.long))
    return np.concatenate(out), float(ends[1] - ends[0])


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1) / 2, w / 2


def costs(clf, text: str, cap: int) -> dict[str, tuple[int | None, list]]:
    """Per rule: the gradient evaluations to reach TOLERANCE (None: not within cap), and the errors."""
    finest = cap - 1
    ns = [n for n in (2 ** k for k in range(2, 12)) if n <= finest]
    gl_ns = [n for n in (2 ** k for k in range(3, 12)) if n <= finest]
    nodes = {r: RULES[r](finest)[0] for r in ("clenshaw_curtis", "trapezoid")}
    gl = [gauss_legendre(n) for n in gl_ns]
    alphas = np.concatenate([nodes["clenshaw_curtis"], nodes["trapezoid"]] + [g[0] for g in gl])
    h, gap = integrand(clf, text, alphas)
    h_cc, h_tr, h_gl = h[:finest + 1], h[finest + 1:2 * finest + 2], h[2 * finest + 2:]
    out = {}
    for rule, values in (("clenshaw_curtis", h_cc), ("trapezoid", h_tr), ("simpson", h_tr)):
        errors, reached = [], None
        for n in ns:
            _, w = RULES[rule](n)
            err = abs(float(w @ values[::finest // n]) - gap) / abs(gap)
            errors.append((n + 1, err))
            if reached is None and err <= TOLERANCE:
                reached = n + 1
        out[rule] = (reached, errors)
    errors, reached, spent, start = [], None, 0, 0
    for n, (_, w) in zip(gl_ns, gl):
        err = abs(float(w @ h_gl[start:start + n]) - gap) / abs(gap)
        start += n
        spent += n
        errors.append((n, err))
        if reached is None and err <= TOLERANCE:
            reached = spent
    out["gauss_legendre (restart)"] = (reached, errors)
    out["trapezoid, adaptive (the tolerance mode)"] = adaptive(h_tr, gap, finest, cap)
    return out


def adaptive(h: np.ndarray, gap: float, finest: int, cap: int) -> tuple[int | None, list]:
    """The tolerance mode's rule (``integration.refine``: 17 even points, then REFINE_POINTS more per
    round) read off the trapezoid nodes already computed: every midpoint it asks for is one of them
    while intervals stay wider than 1 / finest."""
    grid = np.linspace(0.0, 1.0, finest + 1)
    index = list(range(0, finest + 1, finest // FIRST_INTERVALS))
    errors = []
    while True:
        nodes = grid[index]
        err = abs(float(trapezoid_weights(nodes) @ h[index]) - gap) / abs(gap)
        errors.append((len(index), err))
        if err <= TOLERANCE:
            return len(index), errors
        new = refine(nodes, h[index], min(REFINE_POINTS, cap - len(index)), narrowest=1.0 / finest)
        if not len(new):
            return None, errors
        index = sorted(set(index) | {int(round(a * finest)) for a in new})


def models(tiny: bool):
    yield "builtin:sst2", ex.load("builtin:sst2"), TEXTS
    if tiny:
        from tiny_models import BUILDERS, CORPUS, build

        tmp = tempfile.mkdtemp()
        for family in BUILDERS:
            yield f"tiny {family}", ex.load(str(build(family, Path(tmp) / family))), CORPUS[:9]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="add a tiny random model of every family")
    parser.add_argument("--cap", type=int, default=513, help="most gradient evaluations per text")
    args = parser.parse_args()
    torch.set_num_threads(2)
    found: dict[str, list] = {}
    for name, clf, texts in models(args.tiny):
        for text in texts:
            for rule, (reached, errors) in costs(clf, text, args.cap).items():
                found.setdefault(rule, []).append(reached)
                print(f"{name:>18} {len(text):4d} chars {rule:>24}: reached 1% at {reached}; "
                      + ", ".join(f"{n}:{e:.2%}" for n, e in errors), file=sys.stderr)
    print(f"\n{date.today()}, {platform.processor() or platform.machine()}, "
          f"{'builtin:sst2 and tiny models of every family' if args.tiny else 'builtin:sst2'}, "
          f"{sum(1 for _ in found[next(iter(found))])} texts, cap {args.cap} gradient evaluations\n")
    print("| rule | median gradients to 1% | worst | texts not reached |")
    print("|---|---|---|---|")
    for rule, reached in found.items():
        ok = [r for r in reached if r is not None]
        print(f"| {rule} | {statistics.median(ok) if ok else '-'} | {max(ok) if ok else '-'} | "
              f"{len(reached) - len(ok)} |")


if __name__ == "__main__":
    main()
