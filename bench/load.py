"""Many users at once: N browser sessions explaining different texts on one cached model. Run by hand.

    python bench/load.py [--sessions 8] [--explanations 5] [--methods integrated_gradients]
                         [--words N] [--url http://127.0.0.1:PORT] [--timeout 1200] [--record]

Loopback only: it starts ``streamlit run app.py`` on 127.0.0.1 (or attaches to ``--url``, which must
be a loopback address) and drives it with Debian's chromium through playwright (async API: one
browser, one context per session, so each page is its own Streamlit session with its own thread in
the server), on the built-in model (builtin:sst2, loaded once per server process and shared by all
sessions). Every session explains different texts (SST-2 test sentences from tests/data, or with
``--words N`` texts of N words made from them), one after another, as a person would: fill the text,
click Explain, wait for the words, wait for the page to settle (the faithfulness panel), download the
explanation's JSON.

Two runs, each on a fresh server (so that no explanation is in its cache already):

- **solo**: one session explains all N x M texts in turn;
- **at once**: N sessions, each with its M texts, released together.

For every explanation it records: seconds from the click on Explain to the new text's highlighted
words on the page ("words shown", the latency), and to the page settled; errors (a Python
exception or an error box on the page, an uncaught page error, a timeout); and whether the
downloaded JSON (text, tokens, token scores, words, prediction, score, baseline score, delta) is
exactly the one ``ex.explain`` gives in this process with the same options ("vs library") and the
one the solo session got for the same text ("vs solo page"). Bounded: at most MAX_SESSIONS sessions
and MAX_EXPLANATIONS explanations each, a timeout per explanation, and a global ``--timeout`` after
which whatever has not finished counts as an error.

Prints a Markdown block (machine, load averages before and after, date, command, one row per run);
``--record`` also adds it to bench/RESULTS.md under "## Many users at once".
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "sst2_test.tsv"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Many users at once"
CHROMIUM = "/usr/bin/chromium"
CHECKPOINT = "builtin:sst2"
MAX_SESSIONS = 16
MAX_EXPLANATIONS = 20
RUNNING = '[data-testid="stStatusWidget"]'  # Streamlit's "Running..." indicator, present while a script runs
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
COMPARED = ("text", "tokens", "token_scores", "words", "target", "score", "baseline_score", "delta", "prediction")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic", "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"]


# --------------------------------------------------------------------------- texts and the library's answers


def sentences() -> list[str]:
    lines = DATA.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[0].strip() for line in lines if line.strip()]


def texts_for(n: int, words: int | None) -> list[str]:
    """``n`` different texts: SST-2 test sentences of at least 5 words spread over the file, or with
    ``words``, texts of exactly that many words, consecutive sentences from a different start each."""
    pool = [s for s in sentences() if len(s.split()) >= 5]
    if words is None:
        step = max(1, len(pool) // n)
        out = [pool[i * step % len(pool)] for i in range(n)]
    else:
        stream = [s.split() for s in pool]
        out = []
        for i in range(n):
            got, j = [], (i * 7) % len(stream)
            while len(got) < words:
                got += stream[j % len(stream)]
                j += 1
            out.append(" ".join([f"({i})", *got[:words - 1]]))  # a number first: different whatever repeats
    if len(set(out)) < n:
        raise SystemExit(f"only {len(set(out))} different texts for {n} explanations")
    return out


def library_answers(pairs: list[tuple[str, str]]) -> tuple[dict, list[float]]:
    """(text, method) -> the compared fields of ex.explain's JSON in this process (options as the app
    gives them with STUDIO_PRECISION=fp32: the method's defaults), and the seconds each took."""
    import explainers as ex

    clf = ex.load(CHECKPOINT)
    out, seconds = {}, []
    for text, method in pairs:
        options = {"precision": "fp32"} if "precision" in ex.METHODS[method].options else {}
        began = time.perf_counter()
        exp = ex.explain(clf, text, method=method, **options)
        seconds.append(time.perf_counter() - began)
        out[(text, method)] = compared(json.loads(exp.to_json()))
    return out, seconds


def compared(data: dict) -> dict:
    return {k: data.get(k) for k in COMPARED}


# --------------------------------------------------------------------------- the server


def loopback(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"--url must be a loopback address (127.0.0.1, ::1 or localhost), not {host!r}")
    return url.rstrip("/")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


class Server:
    """``streamlit run app.py`` on a free 127.0.0.1 port, float32 explanations (as the library's
    reference), no file watcher (this tree may change under it); its log kept for errors."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="streamlit-load-", suffix=".log", delete=False)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "STUDIO_PRECISION": "fp32"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not healthy(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"streamlit did not start:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------- one session in a browser


@dataclass
class Outcome:
    session: int
    text: str
    method: str
    shown: float | None = None  # seconds, click to the words on the page
    settled: float | None = None  # seconds, click to the page idle (faithfulness drawn)
    error: str | None = None
    result: dict | None = None  # the compared fields of the downloaded JSON


@dataclass
class Run:
    name: str
    sessions: int
    per_session: int
    outcomes: list[Outcome] = field(default_factory=list)
    wall: float = 0.0


async def idle(page, timeout: float) -> None:
    """Until no script runs (Streamlit's status widget gone, seen twice 100 ms apart)."""
    deadline = time.perf_counter() + timeout
    quiet = 0
    while quiet < 2:
        if time.perf_counter() > deadline:
            raise TimeoutError("the page kept running")
        quiet = quiet + 1 if await page.locator(RUNNING).count() == 0 else 0
        await page.wait_for_timeout(100 if quiet else 50)


async def show(page, url: str, method: str, timeout: float) -> None:
    """The Explain page with ``method`` chosen (a new Streamlit session), settled on the example it
    explains on arrival."""
    query = "" if method == "integrated_gradients" else "?" + urllib.parse.urlencode({"method": method})
    await page.goto(url + "/" + query, wait_until="domcontentloaded")
    await page.locator(".xtext .xw").first.wait_for(timeout=timeout * 1000)
    await idle(page, timeout)


async def open_session(context, url: str, method: str, timeout: float):
    """A new page showing the Explain page with ``method`` chosen, and the page errors it will collect."""
    page = await context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda err: page_errors.append(str(err)))
    await show(page, url, method, timeout)
    return page, page_errors


async def explain(page, page_errors: list[str], outcome: Outcome, timeout: float) -> None:
    """One explanation as a person asks for it; fills ``outcome`` (never raises, but for cancellation)."""
    try:
        await page.get_by_label("Text", exact=True).fill(outcome.text)
        button = page.get_by_role("button", name="Explain", exact=True)
        clicked = time.perf_counter()
        await button.click()
        await page.wait_for_function(
            "(t) => { const p = document.querySelector('.xtext'); return p !== null && p.textContent === t; }",
            arg=outcome.text, timeout=timeout * 1000, polling=20)
        outcome.shown = time.perf_counter() - clicked
        await idle(page, timeout)
        outcome.settled = time.perf_counter() - clicked
        problems = await page.locator(ERRORS).all_inner_texts()
        if problems or page_errors:
            outcome.error = "; ".join([*problems, *page_errors])[:300]
            page_errors.clear()
            return
        async with page.expect_download(timeout=timeout * 1000) as info:
            await page.get_by_role("button", name="Explanation (JSON)").click()
        download = await info.value
        outcome.result = compared(json.loads(Path(await download.path()).read_text(encoding="utf-8")))
        await download.delete()
        await idle(page, timeout)  # the download button's rerun of the results
    except asyncio.CancelledError:
        outcome.error = outcome.error or "not finished before the global timeout"
        raise
    except Exception as err:  # a timeout, a page that broke: an error of this explanation
        outcome.error = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"


async def drive(url: str, name: str, plan: list[list[tuple[str, str]]], timeout: float, deadline: float) -> Run:
    """``plan[i]``: session i's (text, method) in order. All sessions open and settle first, then
    start their explanations at the same moment."""
    from playwright.async_api import async_playwright

    run = Run(name, len(plan), max(len(p) for p in plan))
    run.outcomes = [Outcome(i, text, method) for i, items in enumerate(plan) for text, method in items]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            contexts = [await browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
                        for _ in plan]
            opened = await asyncio.gather(*[open_session(c, url, items[0][1], timeout)
                                            for c, items in zip(contexts, plan)])

            async def session(i: int) -> None:
                page, page_errors = opened[i]
                method = plan[i][0][1]
                for outcome in (o for o in run.outcomes if o.session == i):
                    if outcome.method != method:  # the solo run's next method: the page opened anew (untimed)
                        method = outcome.method
                        try:
                            await show(page, url, method, timeout)
                        except Exception as err:
                            outcome.error = f"opening the page for {method}: {type(err).__name__}"
                            continue
                    await explain(page, page_errors, outcome, timeout)

            began = time.perf_counter()
            tasks = [asyncio.ensure_future(session(i)) for i in range(len(plan))]
            _, pending = await asyncio.wait(tasks, timeout=max(1.0, deadline - time.monotonic()))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            run.wall = time.perf_counter() - began
            for outcome in run.outcomes:
                if outcome.shown is None and outcome.error is None:
                    outcome.error = "not run before the global timeout"
        finally:
            await browser.close()
    return run


# --------------------------------------------------------------------------- report


def percentiles(values: list[float]) -> str:
    if not values:
        return "–"
    p50, p95 = np.percentile(values, [50, 95])
    return f"{p50:.2f} / {p95:.2f} / {max(values):.2f}"


def row(run: Run, library: dict, solo: dict[tuple[str, str], dict] | None) -> str:
    errors = [o for o in run.outcomes if o.error]
    done = [o for o in run.outcomes if o.result is not None]
    vs_library = sum(o.result != library[(o.text, o.method)] for o in done)
    if solo is None:
        vs_solo = "–"
    else:
        both = [o for o in done if (o.text, o.method) in solo]
        vs_solo = f"{sum(o.result != solo[(o.text, o.method)] for o in both)} of {len(both)}"
    return (f"| {run.name} | {run.sessions} × {run.per_session} | {len(errors)} | {vs_library} of {len(done)} "
            f"| {vs_solo} | {percentiles([o.shown for o in run.outcomes if o.shown is not None])} "
            f"| {percentiles([o.settled for o in run.outcomes if o.settled is not None])} | {run.wall:.1f} |")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import streamlit
    import torch

    return (f"{cpu}, {os.cpu_count()} CPUs, no GPU used, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), streamlit {streamlit.__version__}, chromium via playwright")


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def record(block: str) -> None:
    text = RESULTS.read_text(encoding="utf-8")
    if SECTION not in text:
        RESULTS.write_text(text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n", encoding="utf-8")
        return
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    end = len(text) if end < 0 else end
    RESULTS.write_text(text[:end].rstrip("\n") + f"\n\n{block}\n" + text[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8, help=f"browser sessions at once (at most {MAX_SESSIONS})")
    parser.add_argument("--explanations", type=int, default=5,
                        help=f"explanations per session, one after another (at most {MAX_EXPLANATIONS})")
    parser.add_argument("--methods", default="integrated_gradients",
                        help="comma-separated methods, session i uses the i-th (cycling); default the app's")
    parser.add_argument("--words", type=int, default=None, help="texts of this many words (default: SST-2 sentences)")
    parser.add_argument("--url", default=None, help="attach to this running app (loopback only) instead of starting "
                        "one; the solo run then explains other texts of the same kind (its cache would answer)")
    parser.add_argument("--per-explanation-timeout", type=float, default=300.0)
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="global limit in seconds on the browser runs together")
    parser.add_argument("--no-solo", action="store_true", help="skip the solo run")
    parser.add_argument("--record", action="store_true", help=f"add the block to bench/RESULTS.md ({SECTION})")
    args = parser.parse_args()

    import explainers as ex

    if not 1 <= args.sessions <= MAX_SESSIONS or not 1 <= args.explanations <= MAX_EXPLANATIONS:
        raise SystemExit(f"1 to {MAX_SESSIONS} sessions and 1 to {MAX_EXPLANATIONS} explanations each")
    if args.words is not None and not 1 <= args.words <= 2000:
        raise SystemExit("--words: 1 to 2000")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in ex.METHODS]
    if unknown or not methods:
        raise SystemExit(f"unknown methods {unknown}; use some of {', '.join(ex.METHODS)}")
    if not os.path.exists(CHROMIUM):
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    url = loopback(args.url) if args.url else None
    n = args.sessions * args.explanations

    # session i explains texts i*M .. i*M+M-1, all with methods[i]; the solo run, the same pairs in turn
    texts = texts_for(2 * n if url else n, args.words)
    together_texts, solo_texts = texts[:n], (texts[n:] if url else texts[:n])
    method_of = [methods[i % len(methods)] for i in range(args.sessions)]
    plan = [[(together_texts[i * args.explanations + k], method_of[i]) for k in range(args.explanations)]
            for i in range(args.sessions)]
    solo_plan = [[(solo_texts[i * args.explanations + k], method_of[i])
                  for i in range(args.sessions) for k in range(args.explanations)]]
    pairs = list(dict.fromkeys(pair for p in plan + solo_plan for pair in p))
    print(f"ex.explain in this process for {len(pairs)} (text, method) pairs…", file=sys.stderr, flush=True)
    library, library_seconds = library_answers(pairs)

    load_before = load_average()
    deadline = time.monotonic() + args.timeout
    runs: list[Run] = []
    solo_results = None
    for name, this_plan in ([] if args.no_solo else [("solo: 1 session, the texts in turn", solo_plan)]) + [
            (f"at once: {args.sessions} sessions", plan)]:
        server = None if url else Server()
        try:
            print(f"{name}…", file=sys.stderr, flush=True)
            run = asyncio.run(drive(url or server.url, name, this_plan, args.per_explanation_timeout, deadline))
        finally:
            if server is not None:
                server.stop()
        runs.append(run)
        for o in run.outcomes:
            if o.error:
                print(f"  error, session {o.session}, {o.text[:40]!r}: {o.error}", file=sys.stderr)
            elif o.result != library[(o.text, o.method)]:
                print(f"  differs from the library, session {o.session}, {o.text[:40]!r}", file=sys.stderr)
        if server is not None:
            if any(o.error for o in run.outcomes):
                print(f"  server log (last lines):\n{server.tail()}", file=sys.stderr)
            server.log.close()
            os.unlink(server.log.name)
        if name.startswith("solo") and not url:
            solo_results = {(o.text, o.method): o.result for o in run.outcomes if o.result is not None}
    load_after = load_average()

    command = "python bench/load.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    kind = f"texts of {args.words} words" if args.words else "SST-2 test sentences"
    where = f"attached to {url}, the solo run on other texts" if url else "a fresh server per run"
    lines = [
        f"`{command.strip()}` ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {machine()}; "
        f"load average (1 / 5 / 15 min) {load_before} before, {load_after} after; "
        f"method{'s' if len(methods) > 1 else ''} {', '.join(methods)}; {kind}; {where}):",
        "",
        "| run | sessions × explanations | errors | differ from ex.explain (this process) | differ from the solo "
        "page | click to words shown, p50 / p95 / max s | click to page settled, p50 / p95 / max s | wall s |",
        "|---|---|---|---|---|---|---|---|",
        *[row(run, library, None if run.name.startswith("solo") else solo_results) for run in runs],
        f"| ex.explain alone in this process (no app, no browser) | 1 × {len(library_seconds)} | – | – | – "
        f"| {percentiles(library_seconds)} | – | {sum(library_seconds):.1f} |",
    ]
    block = "\n".join(lines)
    print(block)
    if args.record:
        record(block)
        print(f"(added to {RESULTS.relative_to(ROOT)})", file=sys.stderr)
    bad = sum(bool(o.error) or (o.result is not None and o.result != library[(o.text, o.method)])
              for run in runs for o in run.outcomes)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
