"""How fast the Explain page answers in a real browser, on the built-in model. Run by hand.

    python bench/app_latency.py [--runs 5] [--launchers studio,streamlit]

Starts the app on a loopback port and drives it with Debian's chromium through
playwright, as a person would. ``--launchers``: how the app is started, taken in
turn run by run: ``studio`` (``python -m studio``, as ``./run.sh app`` starts it:
the default checkpoint loads while the browser starts) and ``streamlit``
(``streamlit run app.py``, as Hugging Face Spaces starts it).

- **cold start**: from launching the process to the first page settled (the
  built-in model loaded, the example explained, nothing running), per launcher;
- **explanation shown**: from the click on *Explain* to the new text's
  highlighted words on the page, for a text of about 20 and of 512 tokens (a
  new text each run, so nothing is cached), stamped by the page itself (a
  MutationObserver's ``Date.now()``): playwright's own wait polls, and noticed
  the words up to 0.48 s late; and **page settled**: until the faithfulness
  panel below it is drawn and the app is idle;
- **the explanation itself**: the seconds its details line gives (reading the
  text and attributing), so that the rest is the page's and the browser's;
- **view-only rerun**: from a click on *Show: tokens* (a view of the same
  explanation) to the text panel showing tokens, stamped by the page too.

Medians and ranges of ``--runs`` runs go to stdout as Markdown rows for
bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
CHROMIUM = "/usr/bin/chromium"
RUNNING = '[data-testid="stStatusWidget"]'  # Streamlit's "Running..." indicator, present while a script runs

SHORT = [  # about 20 tokens each, each with a word of several pieces (so tokens and words differ); the marked word
    # is the one waited for
    ("a quietly devastating drama with superb performances, an unflinching script and a haunting score",
     "devastating"),
    ("the jokes fall flat, the pacing is sluggish and the ending makes no sense whatsoever", "sluggish"),
    ("an unexpectedly tender comedy about grief, friendship and one very stubborn, scruffy old dog", "stubborn"),
    ("visually stunning but emotionally hollow: a gorgeous, overlong shell of a movie with nothing inside",
     "hollow"),
    ("I laughed, I cried, and I would happily rewatch every minute of it again tomorrow night", "happily"),
    ("clumsy dialogue and wooden acting sink what could have been a decent, twisty thriller", "wooden"),
    ("a charming little film that never pretends to be more than it is, and is better for it", "pretends"),
]


LAUNCHERS = {"studio": ["-m", "studio"], "streamlit": ["-m", "streamlit", "run", "app.py"]}


def start(port: int, launcher: str) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *LAUNCHERS[launcher], "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, started
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("streamlit did not start") from None
            time.sleep(0.02)


def idle(page, timeout: float = 300.0) -> None:
    """Wait until no script runs (the status widget gone, checked twice 100 ms apart)."""
    deadline = time.perf_counter() + timeout
    quiet = 0
    while quiet < 2:
        if time.perf_counter() > deadline:
            raise TimeoutError("the app kept running")
        quiet = quiet + 1 if page.locator(RUNNING).count() == 0 else 0
        page.wait_for_timeout(50 if quiet else 20)


# Stamps (epoch ms, the clock time.time() reads) the moment a highlighted word with this text is in the page
WATCH = """(word) => { window.__shown = null;
  const seen = () => [...document.querySelectorAll('.xtext .xw')].some((e) => e.textContent.includes(word));
  const obs = new MutationObserver(() => { if (seen()) { window.__shown = Date.now(); obs.disconnect(); } });
  obs.observe(document.body, {childList: true, subtree: true, characterData: true}); }"""


def shown(page, word: str) -> None:
    page.locator(".xtext .xw", has_text=word).first.wait_for(timeout=600_000)


def explain(page, text: str, word: str) -> tuple[float, float, float]:
    """Seconds from the click on Explain to the words shown, and to the page settled; and the seconds
    the explanation itself took, as its details line says (reading the text and attributing)."""
    box = page.get_by_label("Text", exact=True)
    box.fill(text)
    button = page.get_by_role("button", name="Explain", exact=True)
    page.evaluate(WATCH, word)
    clicked, since = time.time(), time.perf_counter()
    button.click()
    shown(page, word)
    words = page.evaluate("window.__shown") / 1000 - clicked
    idle(page)
    settled = time.perf_counter() - since
    details = page.get_by_text(re.compile(r"adaptive trapezoid.* · \d+\.\d+ s$")).first.inner_text()
    return words, settled, float(re.search(r"· (\d+\.\d+) s$", details).group(1))


# Stamps the moment the text panel's content differs from ``before`` (the same clock as WATCH)
CHANGE = """(before) => { window.__changed = null;
  const obs = new MutationObserver(() => { const p = document.querySelector('.xtext');
    if (p !== null && p.innerHTML !== before) { window.__changed = Date.now(); obs.disconnect(); } });
  obs.observe(document.body, {childList: true, subtree: true, characterData: true}); }"""


def view_only(page) -> float:
    """Seconds from a click on Show: tokens (the page shows words) to the text panel showing tokens,
    stamped by the page."""
    before = page.locator(".xtext").first.inner_html()
    page.evaluate(CHANGE, before)
    clicked = time.time()
    page.get_by_text("tokens", exact=True).first.click()
    page.wait_for_function("() => window.__changed !== null")
    seconds = page.evaluate("window.__changed") / 1000 - clicked
    idle(page)
    return seconds


def summary(name: str, values: list[float], target: str) -> str:
    return (f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} to {max(values):.2f} | {len(values)} "
            f"| {target} |")


def main() -> None:
    from playwright.sync_api import sync_playwright
    from speed import text_of

    import explainers as ex

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--launchers", default="studio", help="comma-separated, taken in turn: studio, streamlit")
    args = parser.parse_args()
    launchers = args.launchers.split(",")
    unknown = set(launchers) - set(LAUNCHERS)
    if unknown:
        parser.error(f"unknown launcher {', '.join(sorted(unknown))}; use {', '.join(LAUNCHERS)}")
    tokenizer = ex.load("builtin:sst2").tokenizer
    long_texts = []
    for i in range(args.runs):  # 512 tokens each, each a new text: a different opening word
        opener = f"Review{i}x"
        long_texts.append((f"{opener} " + text_of(tokenizer, 512), opener))
    cold: dict[str, list[float]] = {name: [] for name in launchers}
    short_words, short_settled, long_words, long_settled, views = [], [], [], [], []
    short_own, long_own = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for run in range(args.runs):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            launcher = launchers[run % len(launchers)]
            proc, started = start(port, launcher)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
                shown(page, "awesome")  # the first example, explained on arrival
                idle(page)
                cold[launcher].append(time.perf_counter() - started)
                text, word = SHORT[run % len(SHORT)]
                a, b, own = explain(page, text, word)
                short_words.append(a)
                short_settled.append(b)
                short_own.append(own)
                views.append(view_only(page))
                page.get_by_text("words", exact=True).first.click()
                idle(page)
                text, word = long_texts[run]
                a, b, own = explain(page, text, word)
                long_words.append(a)
                long_settled.append(b)
                long_own.append(own)
                page.close()
            finally:
                proc.terminate()
                proc.wait(timeout=20)
            print(f"run {run + 1}: cold ({launcher}) {cold[launcher][-1]:.2f} s, "
                  f"20 tokens {short_words[-1]:.2f} / {short_settled[-1]:.2f} s (itself {short_own[-1]:.2f} s), "
                  f"view {views[-1]:.2f} s, "
                  f"512 tokens {long_words[-1]:.2f} / {long_settled[-1]:.2f} s (itself {long_own[-1]:.2f} s)",
                  file=sys.stderr, flush=True)
        browser.close()
    print(f"# {date.today()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print("| measure | median s | range s | runs | target s |")
    print("|---|---|---|---|---|")
    for name, values in cold.items():
        if values:
            print(summary(f"cold start, {name} (process start to first page settled)", values, "10"))
    print(summary("~20 tokens: click to words shown", short_words, "0.5"))
    print(summary("~20 tokens: the explanation itself (its details line)", short_own, "-"))
    print(summary("~20 tokens: click to page settled (faithfulness drawn)", short_settled, "-"))
    print(summary("512 tokens: click to words shown", long_words, "5"))
    print(summary("512 tokens: the explanation itself (its details line)", long_own, "-"))
    print(summary("512 tokens: click to page settled (faithfulness drawn)", long_settled, "-"))
    print(summary("view-only rerun (Show: tokens)", views, "0.2"))


if __name__ == "__main__":
    main()
