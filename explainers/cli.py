"""Command line (or python -m explainers):

    explainers explain --checkpoint C --text T [--method M] [--json]
    explainers batch INPUT --text-column T --out OUT.parquet [--label-column L] [--report R.html] [--engine ray]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_CHECKPOINT = "builtin:sst2"


def _option(text: str) -> tuple[str, object]:
    """--option name=value, the value parsed as JSON when it can be (numbers), else kept as text."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    name, value = text.split("=", 1)
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value


def _shared() -> argparse.ArgumentParser:
    """What both commands take: the checkpoint, the zero-shot task and the method."""
    from .attribution import METHODS

    s = argparse.ArgumentParser(add_help=False)
    s.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                   help=f"hub id, local folder or builtin:<name> (default {DEFAULT_CHECKPOINT})")
    s.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    s.add_argument("--label-names", default=None, help="comma-separated display names for LABEL_0-style labels")
    s.add_argument("--labels", default=None,
                   help="zero-shot candidate labels, comma-separated (NLI or builtin:zeroshot)")
    s.add_argument("--template", default=None,
                   help="zero-shot hypothesis template with one {} (default: the model's, 'This example is {}.' "
                        "for NLI models)")
    s.add_argument("--multi-label", action="store_true", help="zero-shot: score each label on its own")
    s.add_argument("--method", default="integrated_gradients", choices=list(METHODS))
    s.add_argument("--option", action="append", type=_option, default=[], metavar="NAME=VALUE",
                   help="method option, e.g. n_steps=100 or baseline=mask (repeatable)")
    return s


def parser() -> argparse.ArgumentParser:
    shared = _shared()
    p = argparse.ArgumentParser(prog="explainers", description="Explain a text classifier's decision.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("explain", parents=[shared], help="predict and explain one text")
    e.add_argument("--text", required=True, help="the text to explain ('-' reads standard input)")
    e.add_argument("--target", default=None, help="label name or index to explain (default: the predicted label)")
    e.add_argument("--contrast", default=None, help="explain target's score minus this label's (why A rather than B)")
    e.add_argument("--hypothesis", default=None, help="NLI checkpoints: explain the pair (text, hypothesis)")
    e.add_argument("--long-text", default="truncate", choices=["truncate", "windows"],  # windows.LONG_TEXT
                   help="a text longer than the model reads: explain the part it reads (truncate, the default), "
                        "or all of it in overlapping windows (windows)")
    e.add_argument("--stride", type=int, default=None,
                   help="windows: tokens between window starts (default: half a window)")
    e.add_argument("--overlap", default=None, choices=["central", "mean"],
                   help="windows: a word in several windows takes its score from the one where it is most central "
                        "(default) or their mean")
    e.add_argument("--window-aggregate", default=None, choices=["mean", "max", "first"],
                   help="windows: the whole text's prediction from the windows' (default: mean of probabilities)")
    e.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="stop the explanation (and the faithfulness measure) after this many seconds, between two "
                        "passes through the model, with a message")
    e.add_argument("--json", action="store_true", help="print the whole explanation as JSON")
    e.add_argument("--faithfulness", nargs="?", const="mask", default=None, choices=["mask", "delete"],
                   help="also measure how faithful the explanation is: comprehensiveness and sufficiency next "
                        "to random word orders, removing words by masking (default) or deleting them")

    b = sub.add_parser("batch", parents=[shared],
                       help="predict and explain every row of a CSV, TSV, JSON Lines or Parquet file",
                       description="Writes finished chunks to OUT.parts/ as it goes; run the same command again "
                                   "to resume after an interruption.")
    b.add_argument("input", help="the file to explain (.csv, .tsv, .jsonl, .parquet)")
    b.add_argument("--text-column", required=True, help="the column with the texts")
    b.add_argument("--label-column", default=None, help="a column of gold labels (names, or indices 0, 1, ...)")
    b.add_argument("--out", required=True, help="the results table (.parquet or .csv)")
    b.add_argument("--report", default=None, help="also write a standalone HTML report here")
    b.add_argument("--engine", default="local", choices=["local", "ray"],  # batch.ENGINES, without importing pandas
                   help="local: this process; ray: Ray Data workers (RAY_ADDRESS, else a local Ray)")
    b.add_argument("--chunk-size", type=int, default=64, help="rows per chunk written (default 64)")
    b.add_argument("--batch-size", type=int, default=8, help="texts per forward/backward pass (default 8)")
    b.add_argument("--max-rows", type=int, default=None, help="refuse files with more rows than this")
    return p


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(part.strip() for part in text.split(","))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the CLI prints results, not loading bars
    return batch(args) if args.command == "batch" else explain(args)


def batch(args) -> int:
    """Explain a file's rows into a table, chunk by chunk, resumable; optionally an HTML report."""
    from tqdm import tqdm

    import explainers as ex

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=done, unit="row", desc="explaining", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        if args.report and not Path(args.report).resolve().parent.is_dir():
            raise ex.ExplainerError(f"The folder of the report {args.report} does not exist.")
        frame = ex.batch.read_table(args.input, max_rows=args.max_rows)
        job = ex.batch.Job(checkpoint=args.checkpoint, text_column=args.text_column, label_column=args.label_column,
                           method=args.method, options=dict(args.option), labels=_names(args.labels),
                           template=args.template, multi_label=args.multi_label, revision=args.revision,
                           label_names=_names(args.label_names), batch_size=args.batch_size)
        ex.METHODS[job.method].resolve(job.options)  # a bad option fails now, not after loading
        outcome = ex.batch.run(job, frame, args.out, engine=args.engine, chunk_size=args.chunk_size,
                               progress=progress)
    except ex.ExplainerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: the finished chunks are in {ex.batch.parts_folder(Path(args.out))}; "
              "run the same command again to resume.", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    for notice in outcome.notices:
        print(f"note: {notice}")
    print(f"wrote {len(outcome.table):,} rows to {outcome.out} ({outcome.computed:,} computed, "
          f"{outcome.reused:,} from an earlier run) in {outcome.seconds:.1f} s")
    if "correct" in outcome.table:
        print(f"accuracy: {outcome.table['correct'].mean():.4f}")
    if args.report:
        page = ex.report.dataset_report(outcome.table, ex.report.evaluation_of(outcome.table), job=job,
                                        source=Path(args.input).name, notices=outcome.notices)
        Path(args.report).write_text(page, encoding="utf-8")
        print(f"wrote the report to {args.report}")
    return 0


def _print_windows(exp, windows: list[dict]) -> None:
    """One line per window: where it is, what the model predicted there, its explained score and convergence."""
    setting = exp.extras["long_text"]
    print(f"windows: {len(windows)} of {setting['window_tokens']} tokens, stride {setting['stride']}, "
          f"over the text's {setting['text_tokens']} tokens; word scores from the {setting['overlap']} rule")
    for w in windows:
        shown = w["scores"].get(exp.target, float("nan"))
        line = (f"  window {w['index'] + 1}: characters {w['start']}-{w['end']}, tokens {w['first_token']}-"
                f"{w['last_token']}  predicted {w['label']}  {exp.target}={shown:.4f}  explained {w['score']:.4f}")
        if w.get("baseline_score") is not None:
            line += f" (baseline {w['baseline_score']:.4f})"
        if w.get("delta") is not None:
            line += f", delta {w['delta']:+.2e} ({w['convergence_error']:.1%})"
        if "steps" in w:
            line += f", {w['steps']} steps" + (" (cap hit)" if w.get("cap_hit") else "")
        print(line)


def explain(args) -> int:
    import explainers as ex

    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        clf = ex.load(args.checkpoint, revision=args.revision, label_names=_names(args.label_names))
        task = {"labels": args.labels, "multi_label": args.multi_label, "contrast": args.contrast,
                "hypothesis": args.hypothesis, **({"template": args.template} if args.template else {})}
        windowing = {"long_text": args.long_text, "stride": args.stride, "overlap": args.overlap,
                     "window_aggregate": args.window_aggregate}
        exp = ex.explain(clf, text, method=args.method, target=args.target, **task,
                         time_limit=args.time_limit, **{k: v for k, v in windowing.items() if v is not None},
                         **dict(args.option))
        windows = exp.extras.get("windows", [])
        faithful = None if args.faithfulness is None or windows else ex.faithfulness(
            clf, exp, removal=args.faithfulness, time_limit=args.time_limit)
    except ex.ExplainerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        data = exp.to_dict()
        if faithful is not None:
            data["faithfulness"] = faithful.to_dict()
        print(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))
        return 0
    pred = exp.prediction
    over = f" ({exp.extras['long_text']['aggregate']} of {len(windows)} windows)" if windows else ""
    if pred.output == "score":  # a one-output head: its raw score, no probabilities
        print(f"raw score{over}: {pred.scores[pred.label]:.4f} (one-output head)")
    else:
        print(f"prediction{over}: {pred.label}  " + "  ".join(f"{k}={v:.4f}" for k, v in pred.scores.items()))
    line = f"explained:  {exp.target} = {exp.score:.4f}{over} by {exp.method}"
    if exp.baseline_score is not None:
        line += f" (baseline {exp.baseline_score:.4f})"
    if exp.delta is not None:
        line += f", convergence delta {exp.delta:+.2e}"
    if "steps" in exp.extras:
        line += f", {exp.extras['steps']} steps"
    if "bf16_stalled_at" in exp.extras:
        line += f" in float32 (bf16 had not reached the tolerance in {exp.extras['bf16_stalled_at']})"
    elif "bf16_offset" in exp.extras:
        line += f" in float32 (bf16's F(x) - F(baseline) was {exp.extras['bf16_offset']:.1%} off float32's)"
    print(line)
    if exp.extras.get("cap_hit"):
        print(f"warning: the cap of {exp.options['max_steps']} steps was hit before the {exp.options['tolerance']:.1%} "
              "tolerance; raise max_steps (--option max_steps=N) for trustworthy scores")
    if "contrast" in exp.extras:
        print(f"            (minus the score of {exp.extras['contrast']})")
    for notice in exp.prediction.notices:
        print(f"note: {notice}")
    if exp.truncated:
        print("note: the text was truncated to the model's input size (--long-text windows explains all of it)")
    if windows:
        _print_windows(exp, windows)
        if args.faithfulness is not None:
            print("note: faithfulness is not measured on an explanation stitched from windows (no one model pass "
                  "read the whole text)")
    if "hypothesis_total" in exp.extras:
        print(f"  (hypothesis tokens, all labels)  {exp.extras['hypothesis_total']:+.5f}")
    width = max(len(w.text) for w in exp.words)
    for w in exp.words:
        print(f"  {w.text:<{width}}  {w.score:+.5f}")
    if faithful is not None:
        print(f"faithfulness ({faithful.removal}): comprehensiveness {faithful.comprehensiveness:+.4f} "
              f"(random {faithful.random_comprehensiveness:+.4f}), sufficiency {faithful.sufficiency:+.4f} "
              f"(random {faithful.random_sufficiency:+.4f})")
        print(f"  {ex.faithfulness_summary(faithful)}")
    return 0
