"""Command line: explainers explain --checkpoint C --text T [--method M] [--json] (or python -m explainers)."""
from __future__ import annotations

import argparse
import json
import sys

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


def parser() -> argparse.ArgumentParser:
    from .attribution import METHODS

    p = argparse.ArgumentParser(prog="explainers", description="Explain a text classifier's decision.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("explain", help="predict and explain one text")
    e.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                   help=f"hub id, local folder or builtin:<name> (default {DEFAULT_CHECKPOINT})")
    e.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    e.add_argument("--text", required=True, help="the text to explain ('-' reads standard input)")
    e.add_argument("--method", default="integrated_gradients", choices=list(METHODS))
    e.add_argument("--target", default=None, help="label name or index to explain (default: the predicted label)")
    e.add_argument("--option", action="append", type=_option, default=[], metavar="NAME=VALUE",
                   help="method option, e.g. n_steps=100 or baseline=mask (repeatable)")
    e.add_argument("--contrast", default=None, help="explain target's score minus this label's (why A rather than B)")
    e.add_argument("--labels", default=None,
                   help="zero-shot candidate labels, comma-separated (NLI or builtin:zeroshot)")
    e.add_argument("--template", default=None,
                   help="zero-shot hypothesis template with one {} (default: the model's, 'This example is {}.' "
                        "for NLI models)")
    e.add_argument("--multi-label", action="store_true", help="zero-shot: score each label on its own")
    e.add_argument("--hypothesis", default=None, help="NLI checkpoints: explain the pair (text, hypothesis)")
    e.add_argument("--label-names", default=None, help="comma-separated display names for LABEL_0-style labels")
    e.add_argument("--json", action="store_true", help="print the whole explanation as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from transformers.utils import logging as hf_logging

    import explainers as ex

    hf_logging.disable_progress_bar()  # the CLI prints results, not loading bars

    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        clf = ex.load(args.checkpoint, revision=args.revision,
                      label_names=args.label_names.split(",") if args.label_names else None)
        task = {"labels": args.labels, "multi_label": args.multi_label, "contrast": args.contrast,
                "hypothesis": args.hypothesis, **({"template": args.template} if args.template else {})}
        exp = ex.explain(clf, text, method=args.method, target=args.target, **task, **dict(args.option))
    except ex.ExplainerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(exp.to_json(indent=2))
        return 0
    pred = exp.prediction
    print(f"prediction: {pred.label}  " + "  ".join(f"{k}={v:.4f}" for k, v in pred.scores.items()))
    line = f"explained:  {exp.target} = {exp.score:.4f} by {exp.method}"
    if exp.baseline_score is not None:
        line += f" (baseline {exp.baseline_score:.4f})"
    if exp.delta is not None:
        line += f", convergence delta {exp.delta:+.2e}"
    print(line)
    if "contrast" in exp.extras:
        print(f"            (minus the score of {exp.extras['contrast']})")
    for notice in exp.prediction.notices:
        print(f"note: {notice}")
    if exp.truncated:
        print("note: the text was truncated to the model's input size")
    if "hypothesis_total" in exp.extras:
        print(f"  (hypothesis tokens, all labels)  {exp.extras['hypothesis_total']:+.5f}")
    width = max(len(w.text) for w in exp.words)
    for w in exp.words:
        print(f"  {w.text:<{width}}  {w.score:+.5f}")
    return 0
