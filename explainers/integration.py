"""Quadrature rules on [0, 1] for integrated gradients' path integral.

Integrated gradients is the integral over alpha in [0, 1] of the gradient at
x' + alpha (x - x') times (x - x'). Captum evaluates it with a fixed rule
(Gauss-Legendre by default). The tolerance mode refines a trapezoid rule where
the integrand bends (``refine``, ``trapezoid_weights``), keeping every gradient
already computed; the nested rules (the points of n intervals are among those
of 2n) are what bench/ig_quadrature.py compares it with.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

NESTED = ("clenshaw_curtis", "trapezoid", "simpson")


@lru_cache(maxsize=32)
def clenshaw_curtis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the (n + 1)-point Clenshaw-Curtis rule on [0, 1] (n even).

    Nodes are the Chebyshev extrema (1 - cos(pi j / n)) / 2: nested under doubling,
    and as accurate as Gauss-Legendre for smooth integrands (Trefethen 2008).
    """
    if n < 2 or n % 2:
        raise ValueError("Clenshaw-Curtis needs an even number of intervals")
    j = np.arange(n + 1)
    theta = np.pi * j / n
    k = np.arange(1, n // 2 + 1)
    b = np.where(k == n // 2, 1.0, 2.0)
    w = 1.0 - (b / (4.0 * k ** 2 - 1.0) * np.cos(2.0 * np.outer(theta, k))).sum(axis=1)
    w *= np.where((j == 0) | (j == n), 1.0, 2.0) / n
    return (1.0 - np.cos(theta)) / 2.0, w / 2.0


@lru_cache(maxsize=32)
def trapezoid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes j / n and the trapezoid weights on [0, 1]."""
    w = np.full(n + 1, 1.0 / n)
    w[[0, -1]] /= 2
    return np.linspace(0.0, 1.0, n + 1), w


@lru_cache(maxsize=32)
def simpson(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Simpson on n (even) equal intervals, nodes j / n: one Richardson step over the trapezoid."""
    if n < 2 or n % 2:
        raise ValueError("Simpson needs an even number of intervals")
    w = np.where(np.arange(n + 1) % 2, 4.0, 2.0) / (3.0 * n)
    w[[0, -1]] = 1.0 / (3.0 * n)
    return np.linspace(0.0, 1.0, n + 1), w


RULES = {"clenshaw_curtis": clenshaw_curtis, "trapezoid": trapezoid, "simpson": simpson}


def trapezoid_weights(nodes: np.ndarray) -> np.ndarray:
    """Trapezoid weights on any sorted nodes from 0 to 1 (each node gets half of its two intervals)."""
    widths = np.diff(nodes)
    weights = np.zeros(len(nodes))
    weights[:-1] += widths / 2
    weights[1:] += widths / 2
    return weights


def refine(nodes: np.ndarray, values: np.ndarray, k: int, narrowest: float = 2.0 ** -16) -> np.ndarray:
    """The midpoints of the (at most) ``k`` intervals where the trapezoid rule is likely most wrong.

    ``values``: the integrand at the sorted ``nodes``. An interval's indicator is its width squared
    times how much its slope differs from its neighbours' (a local second difference): large where
    the integrand bends or jumps, zero where it is straight. Integrated gradients' integrand is
    mostly flat with a narrow peak where the prediction flips (bench/ig_quadrature.py), so new
    points go to the peak instead of everywhere. Intervals narrower than ``narrowest`` are not split.
    """
    widths = np.diff(nodes)
    slopes = np.diff(values) / widths
    left = np.concatenate([slopes[:1], slopes[:-1]])
    right = np.concatenate([slopes[1:], slopes[-1:]])
    indicator = widths ** 2 * (np.abs(slopes - left) + np.abs(right - slopes))
    indicator[widths < 2 * narrowest] = -1.0
    chosen = np.argsort(-indicator, kind="stable")[:k]
    chosen = chosen[indicator[chosen] >= 0]
    return np.sort(nodes[chosen] + widths[chosen] / 2)
