"""Injection payloads (tests/data/injection_payloads.json) in every user string the app shows, in a real
browser (Debian's chromium through playwright, on a loopback port): the Explain page's text, the zero-shot
candidate labels and hypothesis template, the display names of LABEL_0-style labels (typed into the
sidebar), the Attention page's target, an uploaded file's cells, column name and gold labels on the
Batch page, the Compare page's pasted lines, and the HTML reports downloaded from the Explain and Batch
pages, opened in the browser too. Each payload must show literally (its asterisks, brackets, dollars,
tags and entities as typed) and nothing may run: no dialog, no ``window.__pwned``, no element,
event handler, ``javascript:`` URL or style that came from a payload.

The browser tests are skipped where chromium or playwright is missing, except in CI (CI=true); the
tests at the end check the escaping helpers without a browser.
"""
import html
import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import explainers as ex
from test_browser import ROOT, SHOTS, browser, open_page, serve  # noqa: F401  (browser: a fixture)

DATA = json.loads((Path(__file__).parent / "data" / "injection_payloads.json").read_text(encoding="utf-8"))
PAYLOADS = [p["payload"] for p in DATA["payloads"]]
TEMPLATE = DATA["template"]
HEADER = "<img src=x onerror=alert(40)> **texts** $x$ :material/home: [a](javascript:alert(41))"
ZERO_SHOT_MAX = 20  # explainers.zeroshot.MAX_LABELS

# Everything in the document (and in every frame) that a payload could have created or run.
SCAN = r"""() => {
  const bad = [];
  if (window.__pwned !== undefined) bad.push('window.__pwned = ' + window.__pwned);
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) bad.push(`<${el.tagName}> has ${a.name}`);
      if (/^(href|src|action|formaction|data|xlink:href|poster|content)$/i.test(a.name)
          && /javascript:/i.test(a.value)) bad.push(`<${el.tagName}> ${a.name}=${a.value}`);
    }
  }
  for (const el of document.querySelectorAll('script')) {
    if (/alert|__pwned/.test(el.textContent)) bad.push('script: ' + el.textContent.slice(0, 80));
  }
  for (const el of document.querySelectorAll(
      'img[src="x"], img[src="/x.png"], iframe, base, meta[http-equiv="refresh" i], input[autofocus], object, embed')) {
    bad.push('element: ' + el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll('style')) {
    if (/body\s*\{\s*display\s*:\s*none/.test(el.textContent)) bad.push('style: ' + el.textContent.slice(0, 80));
  }
  for (const el of document.querySelectorAll('[style]')) {
    const s = el.getAttribute('style');
    if (/position\s*:\s*fixed/.test(s) && /background\s*:\s*red/.test(s)) bad.push('styled: ' + s);
  }
  if (document.body && getComputedStyle(document.body).display === 'none') bad.push('the body is hidden');
  // markdown read in a payload: LaTeX, :red[...], :material/home:, :smile:
  for (const el of document.querySelectorAll('.katex, [class*="stMarkdownColored"]')) {
    bad.push('markdown rendered: ' + el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll('[data-testid="stIconMaterial"]')) {
    if (el.textContent.trim() === 'home') bad.push('icon rendered: ' + el.outerHTML.slice(0, 120));
  }
  if (document.body && document.body.innerText.includes('\u{1F604}')) bad.push('emoji rendered: :smile:');
  return bad;
}"""

# --------------------------------------------------------------------------- the server and its checkpoint


@pytest.fixture(scope="module")
def generic(tmp_path_factory) -> Path:
    """A tiny BERT classifier with one LABEL_n label per payload (display names: the payloads)."""
    import tiny_models

    return tiny_models.build("bert", tmp_path_factory.mktemp("generic-labels"),
                             labels=[f"LABEL_{i}" for i in range(len(PAYLOADS))])


@pytest.fixture(scope="module")
def server():
    """The app on a loopback port, local folders allowed (for the LABEL_n checkpoint)."""
    yield from serve(STUDIO_ALLOW_LOCAL="1")


# --------------------------------------------------------------------------- checks


def nothing_ran(page, dialogs) -> None:
    """No dialog, no flag, nothing a payload created, in the page or any of its frames."""
    page.wait_for_timeout(1000)  # an injected handler would have fired by now
    assert not dialogs, dialogs
    for frame in page.frames:
        assert frame.evaluate(SCAN) == [], frame.url
    assert page.locator(".js-plotly-plot svg a").count() == 0  # no link from <a href> in a figure's text


def markdown_texts(page, scope: str = "") -> list[str]:
    """The text of every markdown element (captions included) in ``scope``."""
    return page.locator(f'{scope} [data-testid="stMarkdownContainer"], {scope} [data-testid="stCaptionContainer"]'
                        .strip()).all_inner_texts()


def one_text(texts: list[str], pattern: str) -> re.Match:
    """The single text that ``pattern`` matches in full."""
    found = [m for m in (re.fullmatch(pattern, t.strip(), re.S) for t in texts) if m]
    assert len(found) == 1, (pattern, texts)
    return found[0]


def ticks(plot, axis: str = "y") -> list[str]:
    return plot.locator(f".{axis}tick text").evaluate_all("nodes => nodes.map(n => n.textContent)")


def headline(page, labels) -> str:
    """The Explain page's "X predicted; explaining X = 0.1234" line, with X one of ``labels``, shown
    literally; the explained label."""
    m = one_text(markdown_texts(page), r"(.+) predicted; explaining (.+) = [0-9.]+")
    assert m.group(1) in labels and m.group(2) in labels, m.group(0)
    return m.group(2)


def download_report(page, button: str, tmp_path: Path, name: str) -> Path:
    with page.expect_download() as download:
        page.get_by_role("button", name=button).click()
    saved = tmp_path / name
    saved.write_text(Path(download.value.path()).read_text(encoding="utf-8"), encoding="utf-8")
    return saved


def report_is_inert(browser, saved: Path, shown) -> None:  # noqa: F811
    """The report holds no element a payload could make, and shows every string in ``shown`` as text."""
    raw = saved.read_text(encoding="utf-8")
    made = re.findall(r"<\s*/?\s*(script|img|svg|iframe|base|details|input|a|object|embed)\b", raw, re.I)
    assert not made and "<!--" not in raw, made
    assert len(re.findall(r"<style", raw, re.I)) == 1 and 'http-equiv="refresh"' not in raw
    page = browser.new_page()
    dialogs, requests = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(saved.as_uri())
    body = page.inner_text("body")
    missing = [s for s in shown if s not in body]
    assert not missing, missing
    nothing_ran(page, dialogs)
    assert requests == [saved.as_uri()]  # nothing loaded: no image, no base, no refresh
    page.close()


def wait_for_words(page, word: str) -> None:
    page.locator(".xtext .xw", has_text=word).first.wait_for(timeout=180_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)


def url(base: str, path: str = "", **query) -> str:
    return f"{base}/{path}?{urllib.parse.urlencode(query)}"


# --------------------------------------------------------------------------- the pages


@pytest.mark.browser
def test_the_text_on_the_explain_page_and_its_report(server, browser, tmp_path):  # noqa: F811
    page, dialogs = open_page(browser, "about:blank")
    page.set_viewport_size({"width": 1400, "height": 2400})
    half = len(PAYLOADS) // 2
    for n, payloads in enumerate((PAYLOADS[:half], PAYLOADS[half:])):  # each half within the 512 tokens read
        text = "great film\n" + "\n".join(payloads) + "\ntruly"
        page.goto(url(server, text=text, method="saliency"), wait_until="domcontentloaded")
        wait_for_words(page, "truly")
        shown = page.locator(".xtext").first.inner_text()
        missing = [p for p in payloads if p not in shown]
        assert not missing, missing
        assert page.get_by_label("Text", exact=True).input_value() == text
        page.locator(".js-plotly-plot", has_text="Removing the words").wait_for(timeout=120_000)
        nothing_ran(page, dialogs)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"injection-text-{n}.png"), full_page=True)
        report_is_inert(browser, download_report(page, "Report (HTML)", tmp_path, f"text-{n}.html"), payloads)
    page.close()


@pytest.mark.browser
def test_zero_shot_labels_and_template(server, browser, tmp_path):  # noqa: F811
    page, dialogs = open_page(browser, "about:blank")
    chunks = [PAYLOADS[i:i + ZERO_SHOT_MAX] for i in range(0, len(PAYLOADS), ZERO_SHOT_MAX)]
    for n, labels in enumerate(chunks):
        joined = ", ".join(labels)
        page.goto(url(server, checkpoint="builtin:zeroshot", labels=joined, template=TEMPLATE, method="saliency",
                      text="The team won the final match"), wait_until="domcontentloaded")
        wait_for_words(page, "final")
        target = headline(page, labels)
        assert page.get_by_role("textbox", name="Candidate labels (comma-separated)").input_value() == joined
        assert page.get_by_role("textbox", name="Hypothesis template").input_value() == TEMPLATE
        bars = page.locator(".js-plotly-plot").first
        assert sorted(ticks(bars)) == sorted(labels)  # the probability bars, one per label, as typed
        assert f"for {target} (+" in page.inner_text("body")  # the colour legend
        nothing_ran(page, dialogs)
        report_is_inert(browser, download_report(page, "Report (HTML)", tmp_path, f"zero-shot-{n}.html"), labels)
    page.close()


@pytest.mark.browser
def test_display_names_in_the_sidebar_explain_and_attention(server, browser, generic, tmp_path):  # noqa: F811
    text = "a gripping film that never lets go"  # more than 5 tokens: the Attention page's slider needs them
    page, dialogs = open_page(browser, url(server, checkpoint=str(generic), text=text, method="saliency"))
    page.set_viewport_size({"width": 1400, "height": 2400})
    wait_for_words(page, "gripping")
    names = page.get_by_role("textbox", name="Display names for the labels")
    names.fill(", ".join(PAYLOADS))
    names.press("Enter")
    page.wait_for_function("() => location.search.includes('label_names')", timeout=120_000)
    wait_for_words(page, "gripping")
    page.locator('[data-testid="stMarkdownContainer"]', has_text=" predicted; explaining ",
                 has_not_text="LABEL_").first.wait_for(timeout=120_000)  # the display names are in use
    facts = one_text(markdown_texts(page, '[data-testid="stSidebar"]'), r".*labels: (.+)")
    assert facts.group(1).split("\n")[0] == ", ".join(PAYLOADS)  # the sidebar's facts list every name literally
    target = headline(page, PAYLOADS)
    bars = page.locator(".js-plotly-plot").first
    assert sorted(ticks(bars)) == sorted(PAYLOADS)
    nothing_ran(page, dialogs)
    page.screenshot(path=str(SHOTS / "injection-names.png"), full_page=True)
    report_is_inert(browser, download_report(page, "Report (HTML)", tmp_path, "names.html"), PAYLOADS)

    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    assert query["label_names"] == [", ".join(PAYLOADS)]

    # a chosen target and contrast (markdown, a Streamlit directive), then the Attention page's target (an icon)
    names = {p["name"]: p["payload"] for p in DATA["payloads"]}
    target, contrast = names["markdown emphasis"], names["Streamlit colour directives"]
    page.goto(url(server, checkpoint=str(generic), label_names=", ".join(PAYLOADS), text=text,
                  method="integrated_gradients", target=target, contrast=contrast), wait_until="domcontentloaded")
    wait_for_words(page, "gripping")
    m = one_text(markdown_texts(page), r"(.+) predicted; explaining (.+) = [0-9.]+ minus (.+)")
    assert m.group(1) in PAYLOADS and (m.group(2), m.group(3)) == (target, contrast), m.group(0)
    assert f"for {target} (+" in page.inner_text("body")  # the colour legend
    nothing_ran(page, dialogs)

    target = names["Streamlit icons and emoji shortcodes"]
    page.goto(url(server, "Attention", checkpoint=str(generic), label_names=", ".join(PAYLOADS), text=text,
                  method="saliency", target=target), wait_until="domcontentloaded")
    page.get_by_text("Attention rollout beside the word attributions").wait_for(timeout=180_000)
    page.locator('[data-testid="stMarkdownContainer"]', has_text="the Explain page's settings").wait_for(
        timeout=120_000)
    page.wait_for_timeout(1000)
    m = one_text(markdown_texts(page), r"Saliency.*? for (.+) \(the Explain page's settings\)")
    assert m.group(1) == target
    heads = page.locator('[data-testid="stExpander"] summary', has_text="Which heads matter for").inner_text()
    assert heads.strip().split("Which heads matter for ", 1)[1] in PAYLOADS, heads  # the predicted label
    relevance = page.locator(".js-plotly-plot", has_text="Which heads move the score of").first
    title = relevance.locator(".gtitle").text_content()
    assert title.split("Which heads move the score of ", 1)[1] in PAYLOADS, title
    nothing_ran(page, dialogs)
    page.close()


@pytest.mark.browser
def test_an_uploaded_file_on_the_batch_page_and_its_report(server, browser, generic, tmp_path):  # noqa: F811
    texts = [f"a fine film {p} truly" for p in PAYLOADS]
    upload = tmp_path / "hostile <b>file<b> $x$ **y**.csv"
    pd.DataFrame({"id": [str(i) for i in range(len(PAYLOADS))], HEADER: texts, "label": PAYLOADS}).to_csv(
        upload, index=False)
    page, dialogs = open_page(browser, url(server, "Batch", checkpoint=str(generic),
                                           label_names=", ".join(PAYLOADS)))
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').wait_for(state="attached", timeout=180_000)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
    page.get_by_role("button", name=f"Explain {len(PAYLOADS)} rows").click()
    page.get_by_text("How often the model is right").wait_for(timeout=180_000)
    page.get_by_role("button", name="Report (HTML)").wait_for(timeout=60_000)
    page.locator(".xrow").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # plotly finishes drawing

    captions = markdown_texts(page)
    one_text(captions, re.escape(f"{upload.name}: {len(PAYLOADS)} rows; columns id, {HEADER}, label."))
    one_text(captions, r".* · text column “" + re.escape(HEADER) + "” · gold labels from “label”")
    for card in page.locator(".xrow").all():
        head, body = card.locator("xpath=./div").all_inner_texts()
        m = re.fullmatch(r"row \d+ · [✓✗] gold (.+) → predicted (.+) \([0-9.]+\)( · only its first part was read)?",
                         head)  # the tiny model reads 64 tokens
        assert m, head
        gold, predicted = m.group(1), m.group(2)
        assert gold in PAYLOADS and predicted in PAYLOADS, head
        assert body in texts and f"a fine film {gold} truly" == body
    matrix = page.locator(".js-plotly-plot").first
    shown = ticks(matrix, "x") + ticks(matrix, "y")
    assert shown and set(shown) <= set(PAYLOADS), shown  # every tick plotly draws is a label, literally
    words = page.locator(".js-plotly-plot", has_text="toward ").first
    titles = words.locator(".annotation-text").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert titles and all(t.startswith("toward ") and t[len("toward "):] in PAYLOADS for t in titles), titles
    nothing_ran(page, dialogs)
    page.screenshot(path=str(SHOTS / "injection-batch.png"), full_page=True)
    report_is_inert(browser, download_report(page, "Report (HTML)", tmp_path, "batch.html"), PAYLOADS + [HEADER])
    page.close()


@pytest.mark.browser
def test_pasted_lines_on_the_compare_page(server, browser):  # noqa: F811
    lines = "\n".join(f"positive\tgreat {p}" for p in PAYLOADS)
    page, dialogs = open_page(browser, url(server, "Compare", mode="list", lines=lines))
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.locator('[role="gridcell"]', has_text="great").first.wait_for(state="attached", timeout=180_000)
    cells = [c for c in grid.locator('[role="gridcell"]').all_inner_texts() if c.startswith("great ")]
    lines_shown = [f"great {p}" for p in PAYLOADS]
    assert cells == lines_shown[:len(cells)] and len(cells) >= 5, cells  # the rows the grid draws, literally
    assert page.get_by_label("Texts, one per line").input_value() == lines
    nothing_ran(page, dialogs)
    page.close()


# --------------------------------------------------------------------------- the helpers, without a browser


def test_the_payloads_are_enough_and_usable_as_labels():
    assert len(PAYLOADS) >= 20 and len(set(PAYLOADS)) == len(PAYLOADS)
    assert all("," not in p and p == p.strip() and len(p) <= 200 for p in PAYLOADS)
    assert TEMPLATE.count("{}") == 1 and TEMPLATE.replace("{}", "").count("{") == 0


def test_markdown_escape_leaves_plain_text_and_escapes_what_markdown_reads():
    md = ex.html.markdown_escape
    for plain in ("builtin:sst2 (row 1) is 'neutral'", "STUDIO_ALLOW_LOCAL=1, a_b_c", "a gripping, funny film.",
                  "2 layers and builtin:minilm-base 6", "Tom & Jerry", "position:fixed", "<·3 and 10 > 9"):
        assert md(plain) == plain.replace("<", "&lt;")
    assert md(":material/home: :smile: :red[x] a:small") == r"\:material\/home\: \:smile\: \:red\[x\] a\:small"
    assert md("**b** _e_ `c` ~s~ $x$ [l](u) |t|") == r"\*\*b\*\* \_e\_ \`c\` \~s\~ \$x\$ \[l\](u) \|t\|"
    assert md("&lt;b&gt; <img src=x>") == r"\&lt;b\&gt; &lt;img src=x>"
    assert md("# h\n> q\n- i\n+ j\n1. n\n2) m\n===") == "\\# h\n\\> q\n\\- i\n\\+ j\n1\\. n\n2\\) m\n\\==="
    assert md("see http://x.y/a_b*c* now") == "see http://x.y/a_b*c* now"  # a link as GFM makes it, as written
    for p in PAYLOADS:  # nothing markdown reads is left unescaped (outside a URL)
        rest = re.sub(r"(?:https?://|www\.)[^\s<]*", "", md(p))
        assert not re.search(r"(?<!\\)[*`\[\]$~|<]|(?<!\\):(?=[\w+/-]*:)", rest), (p, md(p))


def _strings(node, key=""):
    """(key, string) for every string in a figure's JSON."""
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, k)
    elif isinstance(node, (list, tuple, np.ndarray)):
        for v in node:
            yield from _strings(v, key)


def _figures():
    """Every figure builder, fed the payloads wherever user text goes (labels, words, tokens, titles)."""
    from explainers import plots
    from explainers.faithfulness import Curve

    p, n = PAYLOADS, len(PAYLOADS)
    rng = np.random.default_rng(0)
    units = [plots.Unit(t, i, i + 1, (-1) ** i * (i + 1.0)) for i, t in enumerate(p)]
    words = [ex.Word(t, i, i + 1, 0.0) for i, t in enumerate(p)]
    curve = Curve(np.linspace(0, 1, 3), rng.random(3), np.arange(3))
    faithful = SimpleNamespace(deletion=curve, insertion=curve, random_deletion=curve, random_insertion=curve,
                               deletion_auc=0.1, insertion_auc=0.2, random_deletion_auc=0.3, random_insertion_auc=0.4,
                               method=p[0], target=p[1], contrast=p[2], output="probability", n_words=3,
                               removal="mask")
    yield plots.probabilities(ex.Prediction(p[0], {t: 1 / n for t in p}), p[1], title=p[2])
    yield plots.top_units(units, n)
    yield plots.attention_by_layer(rng.random((2, n)), p, range(n), p[3])
    yield plots.attention_by_layer(rng.random((2, n)), p, range(n), p[3], title=p[4])
    yield plots.attention_matrix(rng.random((n, n)), p, p, range(n), range(n), p[5])
    yield plots.head_grid(rng.random((2, n, n)), p, p, range(n), range(n), p[6])
    yield plots.head_relevance(rng.random((2, 3)), p[7])
    yield plots.paired_words(p, rng.random(n), rng.random(n), p[8], p[9], p[10])
    yield plots.attention_side_by_side(words, rng.random((2, n)), rng.random((2, n)), p[11], p[12])
    yield plots.confusion_matrix(pd.DataFrame(rng.integers(0, 5, (n, n)), index=p, columns=p), title=p[13])
    yield plots.class_words(pd.DataFrame({"label": [p[i % 3] for i in range(n)], "word": p, "total": rng.random(n),
                                          "mean": rng.random(n), "count": 1}), title=p[14])
    yield plots.faithfulness_curves(faithful)
    yield plots.faithfulness_curves(faithful, title=p[15])


def test_every_figure_gets_user_text_escaped_and_never_as_a_template():
    tag = re.compile(r"<\s*/?\s*(script|img|svg|iframe|a|style|base|meta|details|input|b|div|span|td|table|i|s|u|"
                     r"sup|sub|em)\b|<!--", re.I)
    for fig in _figures():
        spec = fig.to_plotly_json()
        shown = set()
        for key, text in _strings(spec):
            assert not tag.search(text), (key, text)  # plotly would read it as markup
            if key in ("hovertemplate", "texttemplate"):  # user text reaches a template only through meta
                assert "alert" not in text and "&lt;" not in text and "&#37;" not in text, (key, text)
            elif key not in ("colorscale", "color"):
                assert "%{" not in text, (key, text)  # plotly fills %{...} in titles and names
                shown.add(html.unescape(text))  # what plotly shows: it decodes the entities
        assert any(p in t for p in PAYLOADS for t in shown), spec["layout"].get("title")


def test_the_html_report_of_an_explanation_escapes_every_payload():
    text = " ".join(PAYLOADS)
    words, start = [], 0
    for i, p in enumerate(PAYLOADS):
        words.append(ex.Word(p, start, start + len(p), (-1) ** i * 0.1 * (i + 1)))
        start += len(p) + 1
    exp = ex.Explanation(text=text, tokens=(), token_offsets=np.zeros((0, 2), dtype=np.int64),
                         special_tokens=np.zeros(0, dtype=bool), token_scores=np.zeros(0), words=tuple(words),
                         target=PAYLOADS[1], score=0.5, baseline_score=0.1, delta=None, method="saliency",
                         options={PAYLOADS[2]: PAYLOADS[3]}, provenance={"checkpoint": PAYLOADS[4], PAYLOADS[5]: "x"},
                         prediction=ex.Prediction(PAYLOADS[0], {p: 1 / len(PAYLOADS) for p in PAYLOADS}),
                         extras={"contrast": PAYLOADS[6]})
    for page in (ex.html.report(exp, words, 1.0, title=PAYLOADS[7]), ex.html.explanation_html(exp),
                 ex.html.legend(1.0, PAYLOADS[8]) + ex.html.text_panel(text, words, 1.0)):
        made = re.findall(r"<\s*/?\s*(script|img|svg|iframe|base|details|input|a|object|embed|i)\b|<!--", page, re.I)
        assert not made, made
        assert len(re.findall(r"<style", page, re.I)) <= 1 and 'http-equiv="refresh"' not in page
    report = ex.html.report(exp, words, 1.0)
    for p in PAYLOADS:
        assert html.escape(p) in report or html.escape(p, quote=False) in report, p  # text, scores, top words
