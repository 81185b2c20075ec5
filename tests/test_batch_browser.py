"""The Batch page in a real browser (Debian's chromium through playwright, on a loopback port): upload a
CSV, pick the columns, run, read the accuracy and the confusion matrix, click a cell, download the
report and open it offline; a hostile cell shows literally and runs nothing. Skipped where chromium
or playwright is missing, except in CI (CI=true)."""
import re
from pathlib import Path

import pandas as pd
import pytest

from test_browser import SHOTS, browser, open_page, server  # noqa: F401  (module-scoped fixtures: one server here)

pytestmark = pytest.mark.browser
IMG = "<img src=x onerror=alert(1)>"
DATA = Path(__file__).parent / "data" / "sst2_test.tsv"


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()


def test_upload_pick_columns_run_and_share(server, browser, tmp_path):  # noqa: F811
    sst2 = pd.read_csv(DATA, sep="\t", dtype=str, keep_default_na=False).head(12)
    rows = pd.DataFrame({"id": [str(i) for i in range(13)],
                         "Sätze": sst2["sentence"].tolist() + [f"a fine film {IMG} , truly"],
                         "truth": [["negative", "positive"][int(v)] for v in sst2["label"]] + ["positive"]})
    upload = tmp_path / "reviews.csv"
    rows.to_csv(upload, index=False)

    page, dialogs = open_page(browser, f"{server}/Batch")
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=180_000)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
    page.get_by_text("Gold-label column (optional)").wait_for(timeout=60_000)
    choose(page, "Text column", "Sätze")
    choose(page, "Gold-label column (optional)", "truth")
    page.get_by_role("button", name="Explain 13 rows").click()
    page.get_by_text("How often the model is right").wait_for(timeout=180_000)
    page.get_by_role("button", name="Report (HTML)").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # plotly finishes drawing

    accuracy = page.locator('[data-testid="stMetric"]').filter(has_text="Accuracy").inner_text()
    assert re.search(r"Accuracy\s+\d+\.\d%", accuracy), accuracy
    matrix = page.locator(".js-plotly-plot").first
    assert matrix.locator(".hm, image").count() >= 1  # a drawn heatmap
    ticks = matrix.locator(".xtick text").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert ticks == ["negative", "positive"]
    for name in ("Results (CSV)", "Results (Parquet)", "Report (HTML)"):
        assert page.get_by_role("button", name=name).count() == 1

    # a click on a cell lists its rows: gold positive -> predicted positive, where the hostile row is
    box = matrix.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75)
    hostile = page.locator(".xrow", has_text="a fine film")  # a correct row: listed only once the cell is chosen
    hostile.wait_for(timeout=60_000)
    heads = page.locator(".xrow > div:first-child").all_inner_texts()
    assert heads and all("✓ gold positive → predicted positive" in h for h in heads), heads
    assert f"a fine film {IMG} , truly" in hostile.inner_text()
    assert page.locator(".xrow img, .xrow script, .js-plotly-plot img").count() == 0
    page.wait_for_timeout(1000)  # an injected handler would have fired by now
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "batch.png"), full_page=True)

    # the report: one file that opens offline, with the hostile text as text
    with page.expect_download() as download:
        page.get_by_role("button", name="Report (HTML)").click()
    report = Path(download.value.path()).read_text(encoding="utf-8")
    assert "<script" not in report.lower() and "<img" not in report.lower()
    saved = tmp_path / "report.html"
    saved.write_text(report, encoding="utf-8")
    offline = browser.new_page()
    requests = []
    offline.on("request", lambda r: requests.append(r.url))
    offline.goto(saved.as_uri())
    assert "How often the model is right" in offline.inner_text("body")
    assert requests == [saved.as_uri()]
    offline.close()
    assert not dialogs
    page.close()
