"""Take the README's screenshots from the running app (Debian chromium via playwright).

    python docs/screenshots.py            # starts the app on a free port, writes docs/*.png
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
VIEWS = {
    "explain.png": {},
    "zero-shot.png": {"checkpoint": "builtin:zeroshot", "text": "The striker scored twice as the home team won "
                      "the cup final", "labels": "sports, politics, business, technology"},
}


@contextmanager
def shot(browser, url: str, name: str, height: int = 1000, full_page: bool = False, region=None):
    """A page at ``url``; once the caller's waits are done, a pause for plotly and docs/``name``
    (``region(page)``: the part of the page to keep, as playwright's clip)."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(url)
    yield page
    page.wait_for_timeout(2500)
    clip = None if region is None else region(page)
    page.screenshot(path=str(ROOT / "docs" / name), full_page=full_page or clip is not None, clip=clip)
    page.close()


def between(top: str, bottom: str):
    """The page from the element with text ``top`` to the bottom of the plot titled ``bottom``."""
    def region(page) -> dict:
        a = page.get_by_text(top).first.bounding_box()
        b = page.locator(".js-plotly-plot", has_text=bottom).first.bounding_box()
        y = max(0, a["y"] - 16)
        return {"x": 0, "y": y, "width": 1400, "height": b["y"] + b["height"] + 16 - y}

    return region


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                            "--server.address", "127.0.0.1"], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            for name, query in VIEWS.items():
                with shot(browser, f"{url}/?{urllib.parse.urlencode(query)}", name, full_page=True) as page:
                    page.locator(".xtext .xw").first.wait_for(timeout=300_000)
                    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            faithful = urllib.parse.urlencode({"text": "The movie was not bad at all, highly recommend",
                                               "method": "occlusion", "options": '{"output": "logit"}'})
            with shot(browser, f"{url}/?{faithful}", "faithfulness.png", height=2200,
                      region=between("How far to trust it", "Removing the words")) as page:
                page.locator(".js-plotly-plot", has_text="Removing the words").wait_for(timeout=300_000)
            text = "A gripping, funny and touching film that never lets go, even if the ending is a little too neat."
            with shot(browser, f"{url}/Attention?{urllib.parse.urlencode({'text': text})}", "attention.png",
                      height=2300) as page:
                page.get_by_text("Fine-tuned vs base: what changed").wait_for(timeout=300_000)
                page.locator(".js-plotly-plot").nth(4).wait_for(timeout=120_000)
            compare = urllib.parse.urlencode({"text": "Not bad at all, a gripping film"})
            with shot(browser, f"{url}/Compare?{compare}", "compare.png", height=2500) as page:
                page.get_by_text("Rank agreement").wait_for(timeout=300_000)  # the URL's text, compared on load
                page.get_by_text("more faithful", exact=False).last.wait_for(timeout=300_000)
                page.locator(".js-plotly-plot").nth(3).wait_for(timeout=120_000)
            with shot(browser, f"{url}/Batch", "batch.png", height=2100) as page:
                upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
                upload.wait_for(state="attached", timeout=120_000)
                lines = (ROOT / "tests" / "data" / "sst2_test.tsv").read_text(encoding="utf-8").splitlines()[:41]
                upload.set_input_files({"name": "sst2-sample.tsv", "mimeType": "text/tab-separated-values",
                                        "buffer": "\n".join(lines).encode() + b"\n"})
                page.get_by_role("button", name=re.compile(r"Explain \d+ rows")).click()
                page.get_by_text("How often the model is right").wait_for(timeout=300_000)
            with shot(browser, f"{url}/Models_and_methods", "models.png", full_page=True) as page:
                page.get_by_text("Ways to score words").wait_for(timeout=120_000)
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=20)


if __name__ == "__main__":
    main()
