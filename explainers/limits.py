"""Time limits that stop work cleanly.

A thread cannot be killed, so a long explanation (a big model on a CPU, thousands of LIME samples, a
public demo's visitor) must look at the clock itself: between passes through the model, never in the
middle of one. ``Deadline.check`` is that look; it raises ``TimeLimitExceeded``, an ExplainerError,
so every caller that already shows ExplainerErrors shows this one, and the shared model is left as
it was (no pass is cut off half way).
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from numbers import Real

import torch

from .errors import ExplainerError

MAX_TIME_LIMIT = 24 * 3600.0


class TimeLimitExceeded(ExplainerError):
    """The work ran past its time limit and was stopped between two passes through the model."""


@dataclass(frozen=True)
class Deadline:
    """``seconds`` from ``started`` (time.monotonic) for ``what`` (e.g. "Integrated gradients")."""

    seconds: float
    started: float
    what: str = "The explanation"

    def check(self) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.seconds:
            raise TimeLimitExceeded(
                f"{self.what} was stopped after {elapsed:.1f} s: the time limit here is {self.seconds:g} s. "
                "Try a shorter text, fewer steps or samples, or a faster method such as saliency.")


def deadline(time_limit, what: str = "The explanation") -> Deadline | None:
    """A Deadline starting now, or None for no limit; ``time_limit`` in seconds, above 0."""
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, Real) or not math.isfinite(time_limit) \
            or not 0 < time_limit <= MAX_TIME_LIMIT:
        raise ExplainerError(f"time_limit must be a number of seconds above 0 and at most {MAX_TIME_LIMIT:,.0f}, "
                             f"or None for no limit; got {time_limit!r}.")
    return Deadline(float(time_limit), time.monotonic(), what)


def check(limit: Deadline | None) -> None:
    """``limit.check()``, where there is a limit."""
    if limit is not None:
        limit.check()


def available_memory() -> float | None:
    """Bytes of memory this machine can still give without swapping (Linux's MemAvailable, lowered
    by a cgroup's limit where the process runs in a container); None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            used = int(f.read().strip())
        if limit != "max":
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return float(max(free, 0))


def out_of_memory_as_error(call):
    """``call`` with running out of memory (a GPU's OutOfMemoryError, a CPU allocator's RuntimeError)
    turned into an ExplainerError that says so, and the GPU's cache emptied: the caller's session goes
    on. The passes of a method are retried smaller first (``attribution.attribute``)."""
    @functools.wraps(call)
    def guarded(*args, **kwargs):
        try:
            return call(*args, **kwargs)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise ExplainerError("The GPU ran out of memory on this request. Try a shorter text, fewer labels, or "
                                 "a smaller model.") from None
        except RuntimeError as err:
            if "can't allocate memory" not in str(err) and "not enough memory" not in str(err):
                raise
            raise ExplainerError("This machine ran out of memory on this request. Try a shorter text, fewer "
                                 "labels, or a smaller model.") from None

    return guarded
