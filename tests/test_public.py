"""The public facade: pages, studio and notebooks use ``explainers``' names in ``__all__`` only, and the
library builds every Explanation in one place (and a stitched one from sliding windows in one more)."""
import ast
from pathlib import Path

import pytest

import explainers as ex

ROOT = Path(__file__).resolve().parents[1]
APP_FILES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "studio").glob("*.py"))]


def test_every_public_name_exists():
    assert len(set(ex.__all__)) == len(ex.__all__)
    for name in ex.__all__:
        assert getattr(ex, name) is not None, name
    assert callable(ex.plots.probabilities) and callable(ex.html.report)  # loaded on first use
    with pytest.raises(AttributeError):
        ex.no_such_name  # noqa: B018


def library_names_used(path: Path) -> set[str]:
    """Every name the file takes from explainers: ``ex.X``, ``from explainers import X``, and the
    module path of any ``import explainers.sub`` / ``from explainers.sub import ...``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names if a.name == "explainers"}
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used |= {a.name for a in node.names if a.name.startswith("explainers.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "explainers":
            if node.module != "explainers":
                used.add(node.module)
            else:
                used |= {a.name for a in node.names}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.add(node.attr)
    return used


@pytest.mark.parametrize("path", APP_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_app_uses_the_facade_only(path):
    used = library_names_used(path)
    assert not [n for n in used if n.startswith("_") or "._" in n], used
    assert used <= set(ex.__all__), sorted(used - set(ex.__all__))


def test_the_checker_sees_private_uses(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("import explainers as ex\nfrom explainers.checkpoints import load\n"
                    "ex.checkpoints._GENERIC_LABEL\nex.explain\n")
    assert library_names_used(page) == {"explainers.checkpoints", "checkpoints", "explain"}


def test_two_places_build_an_explanation():
    calls = []
    for path in sorted((ROOT / "explainers").rglob("*.py")):
        if path.name == "results.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(name, "id", getattr(name, "attr", None)) == "Explanation":
                calls.append(f"{path.name}:{node.lineno}")
    # api._explanation: a text as the model read it; windows._stitch: one stitched from sliding windows
    assert sorted(c.split(":")[0] for c in calls) == ["api.py", "windows.py"], calls


def test_the_library_never_imports_streamlit():
    for path in sorted((ROOT / "explainers").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not [m for m in modules if m.split(".")[0] == "streamlit"], path
