"""The app in a real browser: Debian's chromium driven by playwright, on a loopback port.

Skipped where chromium or playwright is missing, except in CI (CI=true), where
the browser test must run.
"""
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
HOSTILE = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>"]

pytestmark = pytest.mark.browser


def _available() -> str | None:
    if not os.path.exists(CHROMIUM):
        return "Debian's chromium is not installed (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


LAUNCHER = ["-m", "studio"]  # as ./run.sh app starts it: the default checkpoint loads while the browser starts
SPACES = ["-m", "streamlit", "run", "app.py"]  # as Hugging Face Spaces starts it (app_file: app.py)


def serve(command: list[str] = LAUNCHER, **env):
    """The app on a loopback port, started by ``command`` (python's arguments), with ``env`` added to the
    environment (a generator: yields its URL)."""
    missing = _available()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {missing}")
        pytest.skip(missing)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    proc = subprocess.Popen(
        [sys.executable, *command, "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start:\n{proc.stdout.read()}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server():
    yield from serve()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url, wait_until="domcontentloaded")
    return page, dialogs


def wait_for_result(page, word: str):
    page.locator(".xtext .xw", has_text=word).first.wait_for(timeout=180_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)


def test_explanation_renders_in_a_browser(server, browser):
    page, dialogs = open_page(browser, server)
    wait_for_result(page, "awesome")
    page.wait_for_timeout(1000)  # let plotly finish drawing
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "explain.png"), full_page=True)
    words = page.locator(".xtext .xw").all_inner_texts()
    assert "awesome" in words and "blindly" in words
    assert page.locator(".js-plotly-plot").count() >= 2
    assert "negative" in page.locator(".js-plotly-plot").first.inner_text()
    assert not dialogs
    page.close()


def test_the_app_also_starts_the_way_spaces_starts_it(server, browser):
    """Hugging Face Spaces runs ``streamlit run app.py`` (no warm-up): its first visit loads the model."""
    spaces = serve(SPACES)
    url = next(spaces)
    try:
        page, dialogs = open_page(browser, url)
        wait_for_result(page, "awesome")
        assert "blindly" in page.locator(".xtext .xw").all_inner_texts()
        assert page.get_by_text("Traceback").count() == 0 and not dialogs
        page.close()
    finally:
        spaces.close()


def test_downloads_are_made_when_clicked(server, browser, tmp_path):
    """The Explain page's files are made at the click (deferred), and the page does not rerun for them."""
    page, dialogs = open_page(browser, server)
    wait_for_result(page, "awesome")
    got = {}
    for label in ("Explanation (JSON)", "Scores (CSV)", "Report (HTML)"):
        with page.expect_download() as download:
            page.get_by_role("button", name=label).click()
        got[label] = Path(download.value.path()).read_text(encoding="utf-8")
    explanation = json.loads(got["Explanation (JSON)"])
    assert explanation["text"] == "This is awesome anyone thinking to buy should blindly go for it"
    rows = list(csv.DictReader(io.StringIO(got["Scores (CSV)"])))
    assert [r["text"] for r in rows][:3] == ["This", "is", "awesome"] and len(rows) == len(explanation["words"])
    assert "awesome" in got["Report (HTML)"] and got["Report (HTML)"].lstrip().lower().startswith("<!doctype html")
    assert page.locator('[data-testid="stStatusWidget"]').count() == 0  # no rerun for a download
    assert not dialogs
    page.close()


def test_faithfulness_panel_in_a_browser(server, browser):
    page, dialogs = open_page(browser, server + "/?text=a+gripping%2C+funny+and+touching+film&method=occlusion")
    page.set_viewport_size({"width": 1400, "height": 2200})
    wait_for_result(page, "gripping")
    page.get_by_text("How far to trust it").wait_for(timeout=120_000)
    metrics = page.locator('[data-testid="stMetric"]')
    metrics.nth(1).wait_for(timeout=120_000)
    assert "Comprehensiveness" in metrics.nth(0).inner_text() and "vs random" in metrics.nth(0).inner_text()
    assert "Sufficiency" in metrics.nth(1).inner_text()
    curves = page.locator(".js-plotly-plot", has_text="Removing the words")
    curves.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)  # let plotly finish drawing
    legend = curves.locator(".legendtext").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert any(t.startswith("deletion, occlusion") for t in legend) and any("random order" in t for t in legend)
    curves.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "faithfulness.png"), full_page=True)
    assert not dialogs
    page.close()


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_shows_literally_and_runs_nothing(server, browser, hostile):
    page, dialogs = open_page(browser, server)
    wait_for_result(page, "awesome")
    text = f"great film {hostile} really"
    page.get_by_label("Text", exact=True).fill(text)
    page.get_by_role("button", name="Explain").click()
    wait_for_result(page, "really")
    page.wait_for_timeout(1500)  # give an injected handler time to fire, if there were one
    shown = page.locator(".xtext").first.inner_text()
    assert hostile in shown
    assert not dialogs
    assert page.locator(".xtext img, .xtext script").count() == 0
    page.screenshot(path=str(SHOTS / f"hostile-{HOSTILE.index(hostile)}.png"), full_page=True)
    page.close()


def test_attention_page_draws_its_figures_and_escapes_tokens(server, browser):
    import urllib.parse

    text = "a gripping film <img src=x onerror=alert(1)> <b>never</b> dull"
    page, dialogs = open_page(browser, f"{server}/Attention?{urllib.parse.urlencode({'text': text})}")
    page.get_by_text("Fine-tuned vs base: what changed").wait_for(timeout=180_000)
    page.locator(".js-plotly-plot").nth(4).wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "attention.png"), full_page=True)
    first = page.locator(".js-plotly-plot").first
    assert first.locator(".hm, image").count() >= 1  # a drawn heatmap
    ticks = first.locator(".xtick text").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert "gripping·2" in ticks and "<·4" in ticks  # tokens as text, with their positions
    assert page.locator(".js-plotly-plot img, .js-plotly-plot b, .xtext img").count() == 0
    assert "<img" in page.locator(".xtext").first.inner_text()  # the rollout text shows it literally
    assert not dialogs
    page.close()
