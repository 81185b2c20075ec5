"""The command line prints the prediction and word scores, or JSON, or a clear error."""
import subprocess
import sys

import explainers as ex
from helpers import cli


def in_a_process(*args):
    return subprocess.run([sys.executable, "-m", "explainers", "explain", *args], capture_output=True, text=True,
                          timeout=300)


run = cli  # in this process; one test below runs a real one


def test_cli_json(tiny_folder):
    out = run("--checkpoint", str(tiny_folder("bert")), "--text", "a gripping film", "--json",
              "--option", "n_steps=20", "--target", "positive")
    assert out.returncode == 0, out.stderr
    exp = ex.Explanation.from_json(out.stdout)
    assert exp.target == "positive" and exp.options["n_steps"] == 20
    assert [w.text for w in exp.words] == ["a", "gripping", "film"]


def test_cli_table(tiny_folder):
    out = run("--checkpoint", str(tiny_folder("bart")), "--text", "a <b>bold</b> film", "--method", "saliency")
    assert out.returncode == 0, out.stderr
    assert "prediction:" in out.stdout and "bold" in out.stdout


def test_cli_error_is_one_line_not_a_traceback(tiny_folder):
    out = in_a_process("--checkpoint", str(tiny_folder("bert")), "--text", "   ")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: The text is empty")
    assert "Traceback" not in out.stderr
    out = run("--checkpoint", str(tiny_folder("bert")), "--text", "ok", "--option", "n_steps=-3")
    assert out.returncode == 2 and "out of range" in out.stderr and "Traceback" not in out.stderr


def test_cli_zero_shot(tiny_folder):
    folder = tiny_folder("roberta", labels=("contradiction", "neutral", "entailment"))
    out = run("--checkpoint", str(folder), "--text", "The team won the final", "--labels", "sports, politics, sports",
              "--method", "saliency")
    assert out.returncode == 0, out.stderr
    assert "note: Duplicate labels were removed." in out.stdout and "hypothesis tokens" in out.stdout
    out = run("--checkpoint", str(folder), "--text", "The team won", "--labels", "a,b", "--template", "no braces")
    assert out.returncode == 2 and "template" in out.stderr


def test_cli_faithfulness_and_steps(tiny_folder):
    folder = str(tiny_folder("bert"))
    out = run("--checkpoint", folder, "--text", "a gripping film that never lets go", "--faithfulness")
    assert out.returncode == 0, out.stderr
    assert "steps" in out.stdout.splitlines()[1]
    assert "faithfulness (mask): comprehensiveness" in out.stdout and "random words lower it by" in out.stdout
    out = run("--checkpoint", folder, "--text", "a gripping film", "--faithfulness", "delete", "--json",
              "--method", "occlusion")
    assert out.returncode == 0, out.stderr
    import json

    data = json.loads(out.stdout)
    assert data["faithfulness"]["removal"] == "delete" and data["faithfulness"]["method"] == "occlusion"
    out = run("--checkpoint", folder, "--text", "a gripping film", "--option", "max_steps=17", "--option",
              "tolerance=0.0001")
    assert out.returncode == 0 and "warning: the cap of 17 steps was hit" in out.stdout


def test_cli_one_output_head_prints_its_raw_score(tiny_folder):
    folder = str(tiny_folder("bert-score"))
    out = run("--checkpoint", folder, "--text", "a gripping film", "--method", "saliency")
    assert out.returncode == 0, out.stderr
    raw = ex.predict(ex.load(folder), "a gripping film")[0].scores["LABEL_0"]
    assert f"raw score: {raw:.4f} (one-output head)" in out.stdout and "prediction:" not in out.stdout
    out = run("--checkpoint", folder, "--text", "a gripping film", "--contrast", "LABEL_0")
    assert out.returncode == 2 and "no other label to contrast" in out.stderr and "Traceback" not in out.stderr


def test_cli_time_limit_stops_with_a_message(tiny_folder, capsys):
    from explainers import cli

    folder = str(tiny_folder("bert"))
    capsys.readouterr()  # building the tiny checkpoint prints progress
    assert cli.main(["explain", "--checkpoint", folder, "--text", "a gripping film", "--time-limit", "0.000001"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: The explanation was stopped after")
    assert cli.main(["explain", "--checkpoint", folder, "--text", "a gripping film", "--time-limit", "0"]) == 2
    assert "time_limit must be a number of seconds above 0" in capsys.readouterr().err
