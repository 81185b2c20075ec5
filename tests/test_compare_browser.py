"""The Compare page in a real browser (Debian's chromium through playwright, on a loopback port): both
highlights and the agreement line, a list (pasted and uploaded) with a selected row, hostile text shown
literally. Skipped where chromium or playwright is missing, except in CI (CI=true)."""
import urllib.parse

import pytest

from test_browser import SHOTS, browser, open_page, server  # noqa: F401  (module-scoped fixtures: one server here)

pytestmark = pytest.mark.browser
HOSTILE = "<img src=x onerror=alert(1)>"


def compare_url(base: str, **query) -> str:
    return f"{base}/Compare?{urllib.parse.urlencode(query)}"


def grid_cells(page, showing: str) -> list[str]:
    """The table's cells (its accessible copy), once a cell shows ``showing``."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.locator('[role="gridcell"]', has_text=showing).first.wait_for(state="attached", timeout=180_000)
    return grid.locator('[role="gridcell"]').all_inner_texts()


def select_first_row(page) -> None:
    """Tick the first row's selection box (the grid is a canvas: click where the box is drawn)."""
    box = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
    row = 35  # Streamlit's row (and header) height in pixels
    page.mouse.click(box["x"] + 14, box["y"] + row * 1.5)


def test_both_highlights_and_the_agreement_render_and_hostile_text_stays_text(server, browser):  # noqa: F811
    text = f"great film {HOSTILE} really, really good 👍"
    page, dialogs = open_page(browser, compare_url(server, text=text))
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.get_by_text("Where they disagree most").wait_for(timeout=180_000)
    page.locator(".xtext .xw", has_text="really").first.wait_for(timeout=60_000)
    page.get_by_text("Attention from the token each classifier reads").wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").nth(3).wait_for(timeout=120_000)  # 2 predictions, disagreements, attention
    page.wait_for_timeout(2000)  # plotly finishes drawing; an injected handler would have fired by now
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)
    panels = page.locator(".xtext")
    assert panels.count() == 2
    first, second = panels.nth(0).locator(".xw").all_inner_texts(), panels.nth(1).locator(".xw").all_inner_texts()
    assert first == second and "really" in first and "img" in first  # the same words, one above the other
    for i in range(2):
        assert HOSTILE in panels.nth(i).inner_text()
    assert page.locator(".xtext img, .xtext script, .js-plotly-plot img").count() == 0
    agreement = page.get_by_text("Rank agreement").first.locator("xpath=..").inner_text()
    assert "Spearman ρ" in agreement and "Kendall τ" in agreement
    heat = page.locator(".js-plotly-plot").last
    ticks = heat.locator(".ytick text").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert "great·1" in ticks and "<·3" in ticks  # words as text, with their number in the text
    assert not dialogs
    page.close()


def test_a_pasted_list_and_a_selected_row(server, browser):  # noqa: F811
    lines = f"positive\ta gripping film\nnegative\tdull and {HOSTILE} long\nneutral\tfine"
    page, dialogs = open_page(browser, compare_url(server, mode="list", lines=lines))
    page.get_by_text("Gold label 'neutral' (row 3) is not a label of A").wait_for(timeout=180_000)
    area = page.get_by_label("Texts, one per line")
    area.fill(lines.rsplit("\n", 1)[0])
    page.get_by_role("button", name="Compare the list").click()
    cells = grid_cells(page, "a gripping film")
    assert "a gripping film" in cells and f"dull and {HOSTILE} long" in cells
    page.get_by_text("disagree (0)").wait_for()
    select_first_row(page)
    page.get_by_text("Row 1", exact=True).wait_for(timeout=180_000)
    page.locator(".xtext .xw", has_text="gripping").first.wait_for(timeout=180_000)
    assert page.locator(".xtext").count() == 2
    assert "row=1" in page.url
    assert not dialogs
    page.close()


def test_an_uploaded_file(server, browser, tmp_path):  # noqa: F811
    data = tmp_path / "reviews.tsv"
    data.write_text("label\treview\npositive\ta gripping film\nnegative\ta dull film\n", encoding="utf-8")
    page, dialogs = open_page(browser, compare_url(server, mode="list", source="file"))
    page.get_by_text("Upload a CSV or TSV file").wait_for(timeout=180_000)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(data))
    cells = grid_cells(page, "a dull film")
    page.get_by_text("2 texts · A and B disagree on 0").wait_for(timeout=60_000)
    assert "a gripping film" in cells and "a dull film" in cells
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "compare-upload.png"), full_page=True)
    assert not dialogs
    page.close()
