"""Datasets: read a table, explain every row in chunks, write each chunk as it is done,
resume after the last finished chunk; the same per-chunk work on this machine or on Ray.

``read_table`` turns an uploaded or local file into a DataFrame (or a clear
ExplainerError); ``Job`` is what is computed for every row; ``explain_rows`` is
the per-chunk work both engines run; ``run`` writes chunks under ``OUT.parts/``
and the finished table to ``OUT``; ``evaluate`` and ``class_words`` summarise a
finished table.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from .errors import ExplainerError

FORMATS = {".csv": "CSV", ".tsv": "TSV", ".txt": "TSV", ".jsonl": "JSON Lines", ".ndjson": "JSON Lines",
           ".parquet": "Parquet"}
ENGINES = ("local", "ray")
TOP_WORDS = 5
# The columns a finished table adds to the input's (an input column with one of these names is refused).
RESULT_COLUMNS = ("row", "predicted_label", "explained_label", "explained_score", "baseline_score",
                  "convergence_delta", "steps", "top_words", "words", "truncated", "method", "options", "provenance",
                  "gold_label", "correct")
SCORE_PREFIX = "score:"


# --------------------------------------------------------------------------- reading files


def _decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), or UTF-16 with its BOM (spreadsheets' "Unicode text")."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ExplainerError(
            f"{name} is not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start:,} is not valid "
            "UTF-8; the file was probably saved as Latin-1 or Windows-1252). Save it as UTF-8 and upload it again."
        ) from None


def read_table(source: bytes | str | os.PathLike, name: str | None = None,
               max_rows: int | None = None) -> pd.DataFrame:
    """A CSV, TSV, JSON Lines or Parquet file (a path, or its bytes and ``name``) as a DataFrame.

    Text files keep every cell as text (no number or missing-value guessing),
    so a cell reads exactly as it was written. Refused with a clear message:
    an unknown format, an empty file, no rows, unnamed or duplicate columns,
    text that is not UTF-8, more than ``max_rows`` rows.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = name or path.name
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ExplainerError(f"Cannot read {path}: {err.strerror or err}.") from None
    elif isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), name or "the file"
    else:
        raise ExplainerError(f"Give a file path or the file's bytes, not {type(source).__name__}.")
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise ExplainerError(f"{name}: unknown file type {suffix or '(none)'!r}; use "
                             f"{', '.join(sorted(set(FORMATS.values())))} ({', '.join(FORMATS)}).")
    if not data.strip():
        raise ExplainerError(f"{name} is empty.")
    kind = FORMATS[suffix]
    if kind == "Parquet":
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as err:  # pyarrow's errors are many and all mean "not a Parquet file"
            raise ExplainerError(f"{name} is not a readable Parquet file ({type(err).__name__}).") from None
        header = [str(c) for c in frame.columns]
    elif kind == "JSON Lines":
        frame = _json_lines(_decode(data, name), name)
        header = [str(c) for c in frame.columns]
    else:
        text = _decode(data, name)
        sep = "," if kind == "CSV" else "\t"
        header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
        try:
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, csv.Error) as err:
            raise ExplainerError(f"{name} is not a well-formed {kind} file: {err}".rstrip(".") + ".") from None
    _check_header(header, name)
    frame.columns = header
    if frame.empty:
        raise ExplainerError(f"{name} has a header but no rows.")
    if max_rows is not None and len(frame) > max_rows:
        raise ExplainerError(f"{name} has {len(frame):,} rows; the limit here is {max_rows:,}. "
                             "Split the file, or use the command line (explainers batch) for whole datasets.")
    return frame


def _json_lines(text: str, name: str) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ExplainerError(f"{name}, line {number}: not JSON ({err.msg}).") from None
        if not isinstance(row, dict):
            raise ExplainerError(f"{name}, line {number}: each line must be a JSON object with named fields.")
        rows.append(row)
    if not rows:
        raise ExplainerError(f"{name} has no rows.")
    return pd.DataFrame(rows)


def _check_header(header: Sequence[str], name: str) -> None:
    blank = [i + 1 for i, c in enumerate(header) if not str(c).strip()]
    if blank:
        raise ExplainerError(f"{name}: column {', '.join(map(str, blank))} has no name; name every column in the "
                             "first line.")
    seen, twice = set(), []
    for c in header:
        if c in seen and c not in twice:
            twice.append(c)
        seen.add(c)
    if twice:
        raise ExplainerError(f"{name}: the column name {', '.join(map(repr, twice))} appears more than once; "
                             "make column names unique.")


def _rows_list(rows: Sequence[int], limit: int = 5) -> str:
    shown = ", ".join(str(r + 1) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit:,} more" if len(rows) > limit else "")


def texts_of(frame: pd.DataFrame, column: str) -> list[str]:
    """The text column as strings, or a clear message: missing, numbers, empty cells."""
    _check_column(frame, column, "text")
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise ExplainerError(f"Column {column!r} holds numbers, not text; choose the column with the texts.")
    texts = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values.tolist()]
    not_text = [i for i, v in enumerate(texts) if not isinstance(v, str)]
    if not_text:
        raise ExplainerError(f"Column {column!r} is not text in rows {_rows_list(not_text)}.")
    if all(_is_number(t) for t in texts if t.strip()):
        raise ExplainerError(f"Column {column!r} holds numbers, not text; choose the column with the texts.")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise ExplainerError(f"Column {column!r} is empty in row{'s' if len(empty) > 1 else ''} "
                             f"{_rows_list(empty)} (of {len(texts):,}); fill or remove those rows.")
    return texts


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _check_column(frame: pd.DataFrame, column: str, role: str) -> None:
    if column not in frame.columns:
        raise ExplainerError(f"There is no {role} column {column!r}; the columns are "
                             f"{', '.join(map(repr, map(str, frame.columns)))}.")


def gold_labels(frame: pd.DataFrame, column: str, labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """The gold-label column as the model's label names, and notices. Whole numbers are read as label
    indices when no label is a number (SST-2's 0/1); a label the model does not have is refused, by name."""
    _check_column(frame, column, "label")
    values = ["" if pd.isna(v) else str(v).strip() for v in frame[column].tolist()]
    empty = [i for i, v in enumerate(values) if not v]
    if empty:
        raise ExplainerError(f"Label column {column!r} is empty in rows {_rows_list(empty)}; fill or remove them.")
    notices = []
    names = {label.lower(): label for label in labels}
    if not any(_is_number(label) for label in labels) and all(v.lstrip("-").isdigit() for v in values):
        numbers = sorted({int(v) for v in values})
        if numbers[0] >= 0 and numbers[-1] < len(labels):
            notices.append(f"Read the numbers in {column!r} as label indices: "
                           + ", ".join(f"{i} = {labels[i]}" for i in numbers) + ".")
            return [labels[int(v)] for v in values], notices
    unknown: dict[str, list[int]] = {}
    for i, v in enumerate(values):
        if v.lower() not in names:
            unknown.setdefault(v, []).append(i)
    if unknown:
        which = "; ".join(f"{k!r} (rows {_rows_list(rows, 3)})" for k, rows in list(unknown.items())[:5])
        raise ExplainerError(f"Label column {column!r} has labels the model does not have: {which}. "
                             f"The model's labels are {', '.join(labels)}.")
    return [names[v.lower()] for v in values], notices


# --------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class Job:
    """What is computed for every row: the checkpoint, the task (zero-shot labels, template), the method
    and its options. Two runs of the same Job on the same rows give the same table."""

    checkpoint: str
    text_column: str
    label_column: str | None = None
    method: str = "integrated_gradients"
    options: dict = field(default_factory=dict)
    labels: tuple[str, ...] | None = None  # zero-shot candidate labels
    template: str | None = None
    multi_label: bool = False
    revision: str | None = None
    label_names: tuple[str, ...] | None = None
    batch_size: int = 8  # texts per forward/backward pass

    def task(self) -> dict:
        """The keyword arguments of predict/explain that choose the task."""
        if self.labels is None:
            return {}
        return {"labels": list(self.labels), "multi_label": self.multi_label,
                **({"template": self.template} if self.template else {})}

    def load(self, **kwargs):
        from .checkpoints import load

        return load(self.checkpoint, revision=self.revision, label_names=self.label_names, **kwargs)

    def fingerprint(self, texts: Sequence[str], gold: Sequence[str] | None) -> str:
        """Same job on the same rows: a finished chunk on disk may be reused."""
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=list).encode())
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
        for label in gold or ():
            digest.update(label.encode() + b"\0")
        return digest.hexdigest()


def explain_rows(clf, texts: Sequence[str], job: Job, progress: Callable[[float], None] | None = None) -> pd.DataFrame:
    """The per-chunk work both engines run: predict and explain each text, one result row per text."""
    from .api import explain_many

    exps = explain_many(clf, list(texts), method=job.method, batch_size=job.batch_size, progress=progress,
                        **job.task(), **job.options)
    return pd.DataFrame([result_row(exp) for exp in exps])


def result_row(exp) -> dict:
    """One explanation as a table row: the prediction, every label's score, the explained label and
    score, the top words, every word with its score and character offsets, method, options, provenance."""
    order = sorted(exp.words, key=lambda w: -abs(w.score))[:TOP_WORDS]
    return {
        "predicted_label": exp.prediction.label,
        **{f"{SCORE_PREFIX}{k}": float(v) for k, v in exp.prediction.scores.items()},
        "explained_label": exp.target,
        "explained_score": exp.score,
        "baseline_score": exp.baseline_score,
        "convergence_delta": exp.delta,
        "steps": exp.extras.get("steps"),  # integrated gradients' gradient evaluations (None for other methods)
        "top_words": json.dumps([[w.text, round(w.score, 6)] for w in order], ensure_ascii=False),
        "words": json.dumps([{"text": w.text, "start": w.start, "end": w.end, "score": w.score}
                             for w in exp.words], ensure_ascii=False),
        "truncated": exp.truncated,
        "method": exp.method,
        "options": json.dumps(dict(exp.options), sort_keys=True),
        "provenance": json.dumps(dict(exp.provenance), sort_keys=True, default=str),
    }


# --------------------------------------------------------------------------- engines


def _chunks(n: int, size: int) -> list[range]:
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def local_engine(job: Job, texts: Sequence[str], pending: Sequence[tuple[int, range]], clf=None,
                 progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """Chunks one after another in this process: (chunk index, result rows) as each finishes."""
    clf = clf if clf is not None else job.load()
    for index, rows in pending:
        done = [0]

        def step(fraction: float, rows=rows, done=done) -> None:
            now = int(fraction * len(rows))
            if progress is not None and now > done[0]:
                progress(now - done[0])
                done[0] = now

        table = explain_rows(clf, [texts[i] for i in rows], job, step)
        if progress is not None and len(rows) > done[0]:
            progress(len(rows) - done[0])
        yield index, table


def ray_engine(job: Job, texts: Sequence[str], pending: Sequence[tuple[int, range]], clf=None,
               progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """The same per-chunk work on Ray Data: ``map_batches`` over the pending chunks with an actor
    that loads the classifier once per worker (a GPU each where the cluster has GPUs). Connects to
    RAY_ADDRESS when it is set, else starts a local Ray. Chunks come back as they finish; ``clf``
    (this process's classifier) is not used: every worker loads its own."""
    try:
        import ray
    except ImportError:
        raise ExplainerError("The Ray engine needs Ray: pip install 'explanation-studio[ray]'.") from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=False, include_dashboard=False,
                 configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the caller shows progress
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))  # with GPUs, one worker per GPU; else one per CPU
    workers = max(1, min(len(pending), gpus or int(resources.get("CPU", 1))))
    items = [{"chunk": index, "row": i, "text": texts[i]} for index, rows in pending for i in rows]
    expected = {index: len(rows) for index, rows in pending}
    size = max(len(rows) for _, rows in pending)
    ds = ray.data.from_items(items, override_num_blocks=len(pending)).map_batches(
        _RayWorker, fn_constructor_kwargs={"job": job}, batch_size=size, batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1, num_gpus=1 if gpus else 0)
    arrived: dict[int, list[pd.DataFrame]] = {}
    for part in ds.iter_batches(batch_size=None, batch_format="pandas"):
        for index, rows in part.groupby("chunk", sort=False):
            index = int(index)
            arrived.setdefault(index, []).append(rows)
            if progress is not None:
                progress(len(rows))
            if sum(map(len, arrived[index])) == expected[index]:
                table = pd.concat(arrived.pop(index)).sort_values("row").drop(columns=["chunk", "row"])
                yield index, pd.DataFrame({c: table[c].tolist() for c in table.columns})  # local dtypes


class _RayWorker:
    """A Ray actor: one classifier per worker process, one torch thread per CPU it was given."""

    def __init__(self, job: Job):
        import torch

        torch.set_num_threads(1)
        self.job = job
        self.clf = job.load()

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        table = explain_rows(self.clf, batch["text"].tolist(), self.job)
        return pd.concat([batch[["chunk", "row"]].reset_index(drop=True), table], axis=1)


ENGINE_RUNNERS = {"local": local_engine, "ray": ray_engine}


# --------------------------------------------------------------------------- running a job to a file


@dataclass(frozen=True)
class Outcome:
    """A finished run: the table, where it went, how many rows were computed now and how many reused."""

    table: pd.DataFrame
    out: Path
    computed: int
    reused: int
    seconds: float
    notices: tuple[str, ...] = ()


def parts_folder(out: Path) -> Path:
    """Where finished chunks wait until the whole table is written."""
    return out.with_name(out.name + ".parts")


def _write(frame: pd.DataFrame, path: Path) -> None:
    """Write a table atomically (a temporary file renamed into place): never half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def prepare(frame: pd.DataFrame, job: Job, labels: Sequence[str] | None = None
            ) -> tuple[list[str], list[str] | None, list[str]]:
    """The texts, the gold labels (as the model's label names) and notices; every problem with the
    table (and the method's options) is found here, before anything is computed or written."""
    from .attribution import method

    method(job.method).resolve(job.options)
    clash = [c for c in frame.columns if c in RESULT_COLUMNS or str(c).startswith(SCORE_PREFIX)]
    if clash:
        raise ExplainerError(f"Rename the input column(s) {', '.join(map(repr, clash))}: "
                             "the results use these names.")
    texts = texts_of(frame, job.text_column)
    if job.label_column is None:
        return texts, None, []
    if labels is None:
        raise ExplainerError("Gold labels need the model's labels to compare with.")
    gold, notices = gold_labels(frame, job.label_column, labels)
    return texts, gold, notices


def run(job: Job, frame: pd.DataFrame, out: str | os.PathLike, engine: str = "local", chunk_size: int = 64,
        clf=None, progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Explain every row of ``frame`` into ``out`` (.parquet or .csv), ``chunk_size`` rows per chunk.

    Finished chunks are written to ``OUT.parts/`` as they complete; a rerun of
    the same job on the same rows computes only the chunks that are missing, so
    an interrupted run loses nothing it had written. ``progress(done, total)``
    counts rows.
    """
    started = time.perf_counter()
    if engine not in ENGINE_RUNNERS:
        raise ExplainerError(f"Unknown engine {engine!r}; use one of {', '.join(ENGINES)}.")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ExplainerError(f"chunk_size must be a whole number of rows, at least 1; got {chunk_size!r}.")
    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ExplainerError(f"Write the results to a .parquet or .csv file, not {out.name!r}.")
    if not out.parent.is_dir():
        raise ExplainerError(f"The folder {out.parent} does not exist.")
    clf = clf if clf is not None else job.load()
    texts, gold, notices = prepare(frame, job, clf_labels(clf, job))
    parts = parts_folder(out)
    fingerprint = job.fingerprint(texts, gold)
    manifest = parts / "job.json"
    if parts.exists():
        previous = json.loads(manifest.read_text()) if manifest.exists() else {}
        if previous.get("fingerprint") != fingerprint:
            raise ExplainerError(f"{parts} holds the unfinished run of a different job or different rows. "
                                 "Finish that run, remove the folder, or choose another output file.")
    else:
        parts.mkdir()
        manifest.write_text(json.dumps({"fingerprint": fingerprint, "job": asdict(job), "rows": len(texts)},
                                       default=list, indent=2))
    chunks = _chunks(len(texts), chunk_size)
    done = {i for i, _ in enumerate(chunks) if (parts / f"chunk-{i:06d}.parquet").exists()}
    reused = sum(len(chunks[i]) for i in done)
    pending = [(i, rows) for i, rows in enumerate(chunks) if i not in done]
    advance = _counter(progress, len(texts), reused)
    if pending:
        for index, table in ENGINE_RUNNERS[engine](job, texts, pending, clf=clf, progress=advance):
            _write(table, parts / f"chunk-{index:06d}.parquet")
    results = pd.concat([pd.read_parquet(parts / f"chunk-{i:06d}.parquet") for i in range(len(chunks))],
                        ignore_index=True)
    table = _assemble(frame, results, gold)
    _write(table, out)
    shutil.rmtree(parts)
    return Outcome(table, out, computed=len(texts) - reused, reused=reused,
                   seconds=time.perf_counter() - started, notices=tuple(notices))


def _counter(progress: Callable[[int, int], None] | None, total: int, done: int = 0) -> Callable[[int], None]:
    """Rows finished -> progress(done, total), starting from the rows already done."""
    counted = [done]
    if progress is not None:
        progress(done, total)

    def advance(rows: int) -> None:
        counted[0] += rows
        if progress is not None:
            progress(counted[0], total)

    return advance


def _assemble(frame: pd.DataFrame, results: pd.DataFrame, gold: Sequence[str] | None) -> pd.DataFrame:
    """Input columns, the row number (from 1, the first data row, as messages count), the results; with
    gold labels, whether each prediction is right."""
    numbers = pd.DataFrame({"row": np.arange(1, len(frame) + 1)})
    table = pd.concat([frame.reset_index(drop=True), numbers, results], axis=1)
    if gold is not None:
        table["gold_label"] = list(gold)
        table["correct"] = table["gold_label"] == table["predicted_label"]
    return table


def explain_table(job: Job, frame: pd.DataFrame, clf, progress: Callable[[int, int], None] | None = None,
                  chunk_size: int = 32) -> tuple[pd.DataFrame, list[str]]:
    """A whole table explained in memory (the app's Batch page): the same rows as ``run`` writes."""
    texts, gold, notices = prepare(frame, job, clf_labels(clf, job))
    chunks = list(enumerate(_chunks(len(texts), chunk_size)))
    tables = dict(local_engine(job, texts, chunks, clf=clf, progress=_counter(progress, len(texts))))
    results = pd.concat([tables[i] for i, _ in chunks], ignore_index=True)
    return _assemble(frame, results, gold), notices


def clf_labels(clf, job: Job) -> tuple[str, ...]:
    """The labels the job's predictions are over (the model's, or the zero-shot candidates)."""
    from .tasks import task_for

    return task_for(clf, **job.task()).labels


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Evaluation:
    """Accuracy against gold labels, per-class precision and recall, the confusion matrix
    (rows: gold label, columns: predicted label, every label on both axes)."""

    accuracy: float
    per_class: pd.DataFrame  # index label; columns precision, recall, f1, support
    confusion: pd.DataFrame
    rows: int


def evaluate(table: pd.DataFrame, labels: Sequence[str]) -> Evaluation:
    if "gold_label" not in table.columns:
        raise ExplainerError("No gold labels: choose a label column to compare the predictions with.")
    gold = pd.Categorical(table["gold_label"], categories=list(labels))
    predicted = pd.Categorical(table["predicted_label"], categories=list(labels))
    confusion = pd.crosstab(gold, predicted, dropna=False).reindex(index=list(labels), columns=list(labels),
                                                                   fill_value=0)
    confusion.index.name, confusion.columns.name = "gold", "predicted"
    hits = np.diag(confusion.to_numpy()).astype(float)
    predicted_n = confusion.sum(axis=0).to_numpy().astype(float)
    gold_n = confusion.sum(axis=1).to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted_n > 0, hits / predicted_n, np.nan)
        recall = np.where(gold_n > 0, hits / gold_n, np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), np.nan)
    per_class = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": gold_n.astype(int)},
                             index=pd.Index(list(labels), name="label"))
    return Evaluation(float(hits.sum() / max(len(table), 1)), per_class, confusion, len(table))


def words_table(table: pd.DataFrame, normalize: bool = True) -> pd.DataFrame:
    """Every word of every row: row, explained label, word (lower-cased), score. ``normalize``: each
    score as a share of its row's total |score|, so that rows explained with very different
    confidence weigh the same."""
    records = []
    for row, label, words in zip(table["row"], table["explained_label"], table["words"]):
        words = json.loads(words)
        scale = sum(abs(w["score"]) for w in words) if normalize else 1.0
        records.extend((row, label, w["text"].lower(), w["score"] / scale if scale else 0.0) for w in words)
    return pd.DataFrame(records, columns=["row", "label", "word", "score"])


def class_words(table: pd.DataFrame, top: int | None = 15, normalize: bool = True) -> pd.DataFrame:
    """For each explained label, the words that most push toward it over the dataset: summed and mean
    attribution where the word's score is positive (for magnitude methods such as saliency: where it
    matters most), and in how many rows; ``top`` per label by sum (None: all). Scores are shares of
    each row's total (see ``words_table``) unless ``normalize`` is False."""
    words = words_table(table, normalize)
    toward = words[words["score"] > 0]
    summary = (toward.groupby(["label", "word"])
               .agg(total=("score", "sum"), mean=("score", "mean"), count=("row", "nunique"))
               .reset_index()
               .sort_values(["label", "total"], ascending=[True, False]))
    if top is not None:
        summary = summary.groupby("label", group_keys=False).head(top)
    return summary.reset_index(drop=True)
