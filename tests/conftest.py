"""Shared fixtures: tiny random checkpoints of every family, built once per session.

Tests never download: HF_HOME points at an empty folder and the hub is offline.
"""
import os
import sys
import tempfile
from pathlib import Path

os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="hf-home-")  # empty hub cache for every test
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The app's pages compute in float32 here, as the library does by default, so that their numbers can be
# checked against ex.explain's, whatever the environment says; tests/test_speed.py covers the app's default
# (auto: bf16 for long texts) and bf16.
os.environ["STUDIO_PRECISION"] = "fp32"
sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402

import tiny_models  # noqa: E402

_LOADED = {}


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """family name -> folder of a tiny random checkpoint (built on first use)."""
    cache = {}

    def get(family: str, **overrides) -> Path:
        key = (family, tuple(sorted(overrides.items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"tiny-{family}")
            cache[key] = tiny_models.build(family, folder, **overrides)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def tiny(tiny_folder):
    """family name -> loaded Classifier of the tiny checkpoint (loaded once)."""
    import explainers as ex

    def get(family: str, **overrides):
        key = (family, tuple(sorted(overrides.items())))
        if key not in _LOADED:
            _LOADED[key] = ex.load(str(tiny_folder(family, **overrides)))
        return _LOADED[key]

    return get



@pytest.fixture(scope="session")
def sst2():
    """builtin:sst2, loaded once for every test that reads it (never changed by one)."""
    import explainers as ex

    return ex.load("builtin:sst2")


@pytest.fixture(scope="session")
def zeroshot():
    """builtin:zeroshot, loaded once, as ``sst2``."""
    import explainers as ex

    return ex.load("builtin:zeroshot")
