"""Datasets: batched explanations equal one-by-one ones; files read or refused clearly; chunked runs
that resume; the Ray engine gives the local engine's rows; summaries with known answers."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import explainers as ex
from explainers import batch
from helpers import TEXTS, cli

MIXED = TEXTS + ["ok", "Wow!! 🎉 Café crème, naïve résumé… 10/10 would buy again; truly the best best best"]


def _same(a: ex.Explanation, b: ex.Explanation, tol: float = 1e-5) -> None:
    assert a.tokens == b.tokens and a.target == b.target and a.options == b.options
    np.testing.assert_allclose(a.token_scores, b.token_scores, atol=tol, rtol=0)
    np.testing.assert_allclose([w.score for w in a.words], [w.score for w in b.words], atol=tol, rtol=0)
    assert a.score == pytest.approx(b.score, abs=tol)
    if a.delta is not None:
        assert a.delta == pytest.approx(b.delta, abs=tol) and a.baseline_score == pytest.approx(b.baseline_score,
                                                                                               abs=tol)
    assert a.prediction.label == b.prediction.label


# --------------------------------------------------------------------------- batched == one by one


@pytest.mark.parametrize("family", ["bert", "roberta", "bart", "deberta-v3"])
@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "input_x_gradient"])
def test_batched_explanations_equal_one_by_one(tiny, family, method):
    """Texts of different lengths padded into one pass get exactly their own explanations: same
    baselines (auto, chosen per text), targets (each text's prediction), deltas."""
    clf = tiny(family)
    options = {"n_steps": 24, "internal_batch_size": 64} if method == "integrated_gradients" else {}
    many = ex.explain_many(clf, MIXED, method=method, batch_size=4, **options)
    for text, exp in zip(MIXED, many):
        _same(exp, ex.explain(clf, text, method=method, **options))


def test_batched_with_target_contrast_and_logits(tiny):
    clf = tiny("bert")
    kwargs = {"target": "positive", "contrast": "negative", "output": "logit", "n_steps": 16}
    many = ex.explain_many(clf, MIXED, batch_size=3, **kwargs)
    for text, exp in zip(MIXED, many):
        _same(exp, ex.explain(clf, text, **kwargs))
        assert exp.extras["contrast"] == "negative"


def test_tasks_that_cannot_stack_go_one_by_one(tiny, similarity_clf):
    """Similarity zero-shot stacks; smoothgrad (shared noise) and occlusion (per-text words) do not, and
    still give explain's results."""
    labels = ["sports", "politics"]
    for exp, text in zip(ex.explain_many(similarity_clf, MIXED[:4], labels=labels, n_steps=16, batch_size=4),
                         MIXED[:4]):
        _same(exp, ex.explain(similarity_clf, text, labels=labels, n_steps=16))
    clf = tiny("bert")
    for method in ("smoothgrad", "occlusion"):
        for exp, text in zip(ex.explain_many(clf, MIXED[:3], method=method, batch_size=3), MIXED[:3]):
            _same(exp, ex.explain(clf, text, method=method), tol=0)


def test_explain_many_progress_and_bad_arguments(tiny):
    clf = tiny("bert")
    seen = []
    ex.explain_many(clf, MIXED, method="saliency", batch_size=2, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    for bad in (0, 2.5, True, 5000):
        with pytest.raises(ex.ExplainerError, match="batch_size"):
            ex.explain_many(clf, MIXED, batch_size=bad)
    with pytest.raises(ex.ExplainerError, match="Text 2"):
        ex.explain_many(clf, ["fine", "  "])


@pytest.fixture(scope="module")
def similarity_clf():
    return ex.load("builtin:zeroshot")


# --------------------------------------------------------------------------- reading files


FRAME = pd.DataFrame({"text": ["a fine film", "dull <b>and</b> slow", "Café 🎉"], "label": ["1", "0", "1"]})


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_read_table_every_format(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        FRAME.to_csv(path, index=False)
    elif suffix == ".tsv":
        FRAME.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        FRAME.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        FRAME.to_parquet(path)
    for frame in (batch.read_table(path), batch.read_table(path.read_bytes(), name=path.name)):
        assert frame.columns.tolist() == ["text", "label"]
        assert frame["text"].tolist() == FRAME["text"].tolist()


def test_read_table_keeps_cells_as_written():
    frame = batch.read_table(b"text,label\nNA,007\n,1\n", name="x.csv")
    assert frame["text"].tolist() == ["NA", ""] and frame["label"].tolist() == ["007", "1"]


def test_utf16_with_bom_is_read():
    frame = batch.read_table("text\tlabel\nnaïve café\t1\n".encode("utf-16"), name="x.tsv")
    assert frame["text"].tolist() == ["naïve café"]


@pytest.mark.parametrize("data, name, message", [
    (b"", "x.csv", "is empty"),
    (b"  \n ", "x.csv", "is empty"),
    (b"text,label\n", "x.csv", "no rows"),
    (b"text,text\na,b\n", "x.csv", "'text' appears more than once"),
    (b"text,,label\na,b,c\n", "x.csv", "column 2 has no name"),
    ("text\ncaf\u00e9\n".encode("latin-1"), "x.csv", "not UTF-8 text.*0xe9"),
    (b"text\na\n", "x.xlsx", "unknown file type '.xlsx'"),
    (b'{"text": "a"}\nnot json\n', "x.jsonl", "line 2: not JSON"),
    (b'["a"]\n', "x.jsonl", "line 1: each line must be a JSON object"),
    (b"not parquet at all", "x.parquet", "not a readable Parquet file"),
    (b'text\n"unclosed\n', "x.csv", "well-formed CSV"),
])
def test_bad_files_are_refused_clearly(data, name, message):
    with pytest.raises(ex.ExplainerError, match=message):
        batch.read_table(data, name=name)


def test_row_limit():
    with pytest.raises(ex.ExplainerError, match="3 rows; the limit here is 2"):
        batch.read_table(b"text\na\nb\nc\n", name="x.csv", max_rows=2)
    assert len(batch.read_table(b"text\na\nb\n", name="x.csv", max_rows=2)) == 2


@pytest.mark.parametrize("frame, column, message", [
    (pd.DataFrame({"text": ["a"]}), "sentence", "no text column 'sentence'; the columns are 'text'"),
    (pd.DataFrame({"n": [1, 2]}), "n", "holds numbers, not text"),
    (pd.DataFrame({"n": ["1", "2.5"]}), "n", "holds numbers, not text"),
    (pd.DataFrame({"text": ["a", " ", "b", ""]}), "text", "empty in rows 2, 4 \\(of 4\\)"),
    (pd.DataFrame({"text": ["a", None]}), "text", "empty in row 2"),
])
def test_text_column_problems(frame, column, message):
    with pytest.raises(ex.ExplainerError, match=message):
        batch.texts_of(frame, column)


def test_gold_labels_by_name_index_or_refused():
    labels = ("negative", "positive")
    gold, notes = batch.gold_labels(pd.DataFrame({"y": ["Positive", "negative"]}), "y", labels)
    assert gold == ["positive", "negative"] and notes == []
    gold, notes = batch.gold_labels(pd.DataFrame({"y": ["1", "0"]}), "y", labels)
    assert gold == ["positive", "negative"] and "0 = negative, 1 = positive" in notes[0]
    with pytest.raises(ex.ExplainerError, match="labels the model does not have: 'neutral' \\(rows 2\\)"):
        batch.gold_labels(pd.DataFrame({"y": ["positive", "neutral"]}), "y", labels)
    with pytest.raises(ex.ExplainerError, match="'7'"):
        batch.gold_labels(pd.DataFrame({"y": ["1", "7"]}), "y", labels)


def test_result_columns_in_the_input_and_bad_options_are_refused():
    job = batch.Job("builtin:sst2", "text")
    with pytest.raises(ex.ExplainerError, match="Rename the input column.*'predicted_label'"):
        batch.prepare(pd.DataFrame({"text": ["a"], "predicted_label": ["x"]}), job)
    for options, message in (({"labels": "a"}, "has no option labels"), ({"n_steps": 0}, "out of range")):
        with pytest.raises(ex.ExplainerError, match=message):
            batch.prepare(pd.DataFrame({"text": ["a"]}), batch.Job("builtin:sst2", "text", options=options))


# --------------------------------------------------------------------------- runs, chunks, resume


SENTENCES = pd.DataFrame({
    "sentence": ["a gripping , funny film", "dull and lifeless", "not bad at all", "the worst movie of the year",
                 "an utterly charming delight", "it never finds its footing", "<script>alert(1)</script> great",
                 "Café crème 🎉 loved it"],
    "label": ["1", "0", "1", "0", "1", "0", "1", "1"],
})


def test_run_writes_the_table_with_every_result(sst2, tmp_path):
    job = batch.Job("builtin:sst2", "sentence", "label", method="integrated_gradients", options={"n_steps": 16})
    out = batch.run(job, SENTENCES, tmp_path / "out.parquet", chunk_size=3, clf=sst2)
    table = pd.read_parquet(tmp_path / "out.parquet")
    assert not batch.parts_folder(tmp_path / "out.parquet").exists()
    assert out.computed == 8 and out.reused == 0 and len(table) == 8
    assert table.columns[:3].tolist() == ["sentence", "label", "row"]
    assert {"predicted_label", "score:negative", "score:positive", "explained_label", "explained_score",
            "baseline_score", "convergence_delta", "top_words", "words", "method", "options", "provenance",
            "gold_label", "correct", "steps"} <= set(table.columns)
    assert (table["steps"] == 16).all()  # a given n_steps: exactly that many, on every row
    for _, row in table.iterrows():
        exp = ex.explain(sst2, row["sentence"], n_steps=16)
        assert row["predicted_label"] == exp.prediction.label
        assert row["explained_score"] == pytest.approx(exp.score, abs=1e-5)
        assert row["convergence_delta"] == pytest.approx(exp.delta, rel=1e-5, abs=1e-5)
        words = json.loads(row["words"])
        assert [(w["text"], w["start"], w["end"]) for w in words] == [(w.text, w.start, w.end) for w in exp.words]
        np.testing.assert_allclose([w["score"] for w in words], [w.score for w in exp.words], atol=1e-5, rtol=1e-5)
        assert all(row["sentence"][w["start"]:w["end"]] == w["text"] for w in words)
        assert json.loads(row["options"])["n_steps"] == 16 and json.loads(row["provenance"])["source"] == "builtin"
    assert table["gold_label"].tolist()[:2] == ["positive", "negative"]
    assert (table["correct"] == (table["gold_label"] == table["predicted_label"])).all()


def test_an_interrupted_run_resumes_with_only_the_missing_chunks(sst2, tmp_path, monkeypatch):
    job = batch.Job("builtin:sst2", "sentence", method="saliency")
    out = tmp_path / "out.csv"
    calls = []
    real = batch.explain_rows

    def failing(clf, texts, job, progress=None):
        calls.append(list(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed while the third chunk was running
        return real(clf, texts, job, progress)

    monkeypatch.setattr(batch, "explain_rows", failing)
    with pytest.raises(KeyboardInterrupt):
        batch.run(job, SENTENCES, out, chunk_size=3, clf=sst2)
    parts = batch.parts_folder(out)
    assert sorted(p.name for p in parts.glob("chunk-*")) == ["chunk-000000.parquet", "chunk-000001.parquet"]
    assert not out.exists() and not list(parts.glob(".*tmp"))
    calls.clear()
    resumed = batch.run(job, SENTENCES, out, chunk_size=3, clf=sst2)
    assert calls == [SENTENCES["sentence"].tolist()[6:]]  # only the last chunk
    assert resumed.computed == 2 and resumed.reused == 6
    monkeypatch.setattr(batch, "explain_rows", real)
    straight = batch.run(job, SENTENCES, tmp_path / "straight.csv", chunk_size=3, clf=sst2)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(tmp_path / "straight.csv"))
    assert straight.computed == 8


def test_parts_of_another_job_are_never_overwritten(sst2, tmp_path):
    out = tmp_path / "out.parquet"
    batch.parts_folder(out).mkdir()
    (batch.parts_folder(out) / "job.json").write_text(json.dumps({"fingerprint": "something else"}))
    with pytest.raises(ex.ExplainerError, match="unfinished run of a different job"):
        batch.run(batch.Job("builtin:sst2", "sentence", method="saliency"), SENTENCES, out, clf=sst2)


@pytest.mark.parametrize("kwargs, message", [
    ({"engine": "spark"}, "Unknown engine 'spark'"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"out": "results.xlsx"}, "parquet or .csv"),
    ({"out": "/no/such/folder/out.parquet"}, "does not exist"),
])
def test_run_arguments(sst2, tmp_path, kwargs, message):
    kwargs = {"out": tmp_path / "o.parquet", **kwargs}
    with pytest.raises(ex.ExplainerError, match=message):
        batch.run(batch.Job("builtin:sst2", "sentence", method="saliency"), SENTENCES, clf=sst2, **kwargs)


def test_zero_shot_job(tmp_path):
    clf = ex.load("builtin:zeroshot")
    frame = pd.DataFrame({"text": ["The team won the final", "Stocks fell sharply"], "topic": ["sports", "business"]})
    job = batch.Job("builtin:zeroshot", "text", "topic", method="saliency", labels=("sports", "business", "music"))
    table, notices = batch.explain_table(job, frame, clf)
    assert {"score:sports", "score:business", "score:music"} <= set(table.columns)
    preds = ex.predict(clf, frame["text"].tolist(), labels=["sports", "business", "music"])
    assert table["predicted_label"].tolist() == [p.label for p in preds]


# --------------------------------------------------------------------------- summaries


def _table(gold, predicted, words=None):
    words = words or [[{"text": "x", "start": 0, "end": 1, "score": 1.0}]] * len(gold)
    return pd.DataFrame({"row": range(len(gold)), "gold_label": gold, "predicted_label": predicted,
                         "explained_label": predicted, "words": [json.dumps(w) for w in words]})


def test_evaluate_known_answer():
    table = _table(["a", "a", "a", "b", "b", "c"], ["a", "a", "b", "b", "a", "a"])
    ev = batch.evaluate(table, ["a", "b", "c"])
    assert ev.accuracy == pytest.approx(3 / 6)
    assert ev.confusion.loc["a"].tolist() == [2, 1, 0] and ev.confusion.loc["b"].tolist() == [1, 1, 0]
    assert ev.confusion.loc["c"].tolist() == [1, 0, 0]
    assert ev.per_class.loc["a", "precision"] == pytest.approx(2 / 4)
    assert ev.per_class.loc["a", "recall"] == pytest.approx(2 / 3)
    assert ev.per_class.loc["b", "precision"] == pytest.approx(1 / 2)
    assert ev.per_class.loc["c", "recall"] == 0 and np.isnan(ev.per_class.loc["c", "precision"])
    assert ev.per_class["support"].tolist() == [3, 2, 1]
    with pytest.raises(ex.ExplainerError, match="No gold labels"):
        batch.evaluate(table.drop(columns="gold_label"), ["a", "b", "c"])


def test_class_words_known_answer():
    def w(text, score):
        return {"text": text, "start": 0, "end": len(text), "score": score}

    table = _table(["p", "p", "n"], ["p", "p", "n"],
                   [[w("Great", 3.0), w("plot", -1.0)], [w("great", 1.0), w("fun", 1.0)], [w("dull", 2.0)]])
    raw = batch.class_words(table, normalize=False)
    p = raw[raw["label"] == "p"].set_index("word")
    assert p.loc["great", "total"] == 4.0 and p.loc["great", "mean"] == 2.0 and p.loc["great", "count"] == 2
    assert "plot" not in p.index  # pushes away from p
    shares = batch.class_words(table).set_index(["label", "word"])
    assert shares.loc[("p", "great"), "total"] == pytest.approx(0.75 + 0.5)  # 3/4 of row 0, 1/2 of row 1
    assert shares.loc[("n", "dull"), "total"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- the command line


def _cli(*args):
    return cli(*args, command="batch")


def test_cli_batch_round_trip(tmp_path):
    data = tmp_path / "reviews.tsv"
    SENTENCES.to_csv(data, sep="\t", index=False)
    out = _cli(str(data), "--text-column", "sentence", "--label-column", "label", "--method", "saliency",
               "--out", str(tmp_path / "out.parquet"), "--chunk-size", "3", "--report", str(tmp_path / "r.html"))
    assert out.returncode == 0, out.stderr
    assert "wrote 8 rows" in out.stdout and "accuracy:" in out.stdout and "0 = negative" in out.stdout
    page = (tmp_path / "r.html").read_text()
    assert "reviews.tsv" in page and "Saliency" in page and "<script" not in page  # escaping: test_report.py
    assert "8/8" in out.stderr  # the progress bar
    table = pd.read_parquet(tmp_path / "out.parquet")
    assert table["sentence"].tolist() == SENTENCES["sentence"].tolist()
    bad = _cli(str(data), "--text-column", "nope", "--out", str(tmp_path / "x.parquet"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: There is no text column 'nope'")
    assert "Traceback" not in bad.stderr
    bad = _cli(str(data), "--text-column", "sentence", "--out", str(tmp_path / "x.parquet"), "--report",
               str(tmp_path / "missing" / "r.html"))
    assert bad.returncode == 2 and "report" in bad.stderr and not (tmp_path / "x.parquet").exists()


def test_cli_killed_mid_way_resumes(tmp_path):
    """A real kill (SIGKILL, no cleanup) after some chunks: the rerun reuses them and computes the rest."""
    data = tmp_path / "many.csv"
    pd.DataFrame({"text": [f"{s} number {i}" for i in range(6) for s in SENTENCES["sentence"]]}).to_csv(
        data, index=False)
    out = tmp_path / "out.parquet"
    args = [sys.executable, "-m", "explainers", "batch", str(data), "--text-column", "text", "--method",
            "integrated_gradients", "--option", "n_steps=8", "--out", str(out), "--chunk-size", "4"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    parts = batch.parts_folder(out)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(parts.glob("chunk-*.parquet"))) < 2 and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written = len(list(parts.glob("chunk-*.parquet")))
    assert written >= 2 and not out.exists()
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({48 - 4 * written} computed, {4 * written} from an earlier run)" in rerun.stdout
    assert len(pd.read_parquet(out)) == 48


# --------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs, started and stopped by the test (requirements-dev installs Ray)."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the Ray engine test must run in CI: install requirements-dev.txt")
        pytest.skip("Ray is not installed (pip install 'explanation-studio[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_engine_gives_the_local_rows(local_ray, sst2, tmp_path):
    job = batch.Job("builtin:sst2", "sentence", "label", method="integrated_gradients", options={"n_steps": 8})
    local = batch.run(job, SENTENCES, tmp_path / "local.parquet", chunk_size=3, clf=sst2).table
    seen = []
    remote = batch.run(job, SENTENCES, tmp_path / "ray.parquet", engine="ray", chunk_size=3, clf=sst2,
                       progress=lambda done, total: seen.append(done)).table
    assert seen[-1] == 8
    numbers = [c for c in local.columns if c.startswith("score:")] + ["explained_score", "convergence_delta"]
    np.testing.assert_allclose(remote[numbers].to_numpy(float), local[numbers].to_numpy(float), atol=1e-5)
    text_columns = ["sentence", "label", "row", "predicted_label", "explained_label", "gold_label", "correct"]
    pd.testing.assert_frame_equal(remote[text_columns], local[text_columns])
    for a, b in zip(remote["words"], local["words"]):
        np.testing.assert_allclose([w["score"] for w in json.loads(a)], [w["score"] for w in json.loads(b)],
                                   atol=1e-5)
