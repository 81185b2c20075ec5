"""Built-in checkpoints: offline, small in the repository, and as accurate as their card says."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import explainers as ex
from explainers import builtins

ROOT = Path(__file__).resolve().parents[1]
TEST_TSV = ROOT / "tests" / "data" / "sst2_test.tsv"
SHIPPED_TEST_HITS = 783  # of 872 (89.79 %), measured on the fp16 artifact; the model card states it


@pytest.fixture(scope="module")
def base():
    return ex.load("builtin:minilm-base")


def test_sst2_accuracy_on_the_872_test_sentences(sst2):
    with TEST_TSV.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 872
    preds = ex.predict(sst2, [r["sentence"] for r in rows])
    hits = sum(p.label == ("positive" if r["label"] == "1" else "negative") for p, r in zip(preds, rows))
    assert hits >= SHIPPED_TEST_HITS, hits
    assert hits / 872 >= 0.89  # the project's bar for builtin:sst2


def test_loads_with_no_network_and_no_hub_cache(tmp_path):
    """A fresh process, HF_HUB_OFFLINE=1, an empty HF_HOME and an empty built-in cache."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "EXPLAINERS_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    code = ("import explainers as ex; clf = ex.load('builtin:sst2'); "
            "print(ex.predict(clf, 'a gripping, moving film')[0].label)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "positive"
    folders = list((tmp_path / "cache" / "builtin").iterdir())
    assert [f.name.split("-")[0] for f in folders] == ["sst2"]  # materialised once, atomically
    assert not list((tmp_path / "hf").rglob("*.safetensors"))  # nothing from a hub cache


def test_second_load_reuses_the_materialised_folder(sst2):
    before = builtins.materialize("sst2")
    assert builtins.materialize("sst2") == before
    assert (before / "model.safetensors").is_file() and (before / "tokenizer.json").is_file()


def test_base_and_fine_tuned_share_the_tokenizer_and_differ_only_where_trained(sst2, base):
    assert sst2.tokenizer.get_vocab() == base.tokenizer.get_vocab()
    text = "a gripping, moving film"
    assert sst2.tokenizer(text)["input_ids"] == base.tokenizer(text)["input_ids"]
    fine, raw = sst2.model.state_dict(), base.model.state_dict()
    assert fine.keys() == raw.keys()
    assert torch.equal(fine[builtins.FROZEN], raw[builtins.FROZEN])  # frozen during training
    shipped = load_file(str(builtins.SHIPPED / "sst2" / "weights.safetensors"))
    for key, value in shipped.items():
        assert torch.equal(fine[key], value.float()), key  # exactly the shipped numbers
    changed = [k for k in shipped if not torch.equal(fine[k], raw[k])]
    assert len(changed) > 0.9 * len(shipped)  # training moved (nearly) every shipped tensor
    assert base.labels == sst2.labels == ("negative", "positive")


def test_base_head_is_seeded_so_every_machine_gets_the_same_one(base):
    from transformers import BertConfig, BertForSequenceClassification

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        fresh = BertForSequenceClassification(BertConfig.from_json_file(
            str(builtins.SHIPPED / "minilm-base" / "config.json")))
    assert torch.equal(base.model.classifier.weight, fresh.classifier.weight)


def test_shipped_weights_stay_under_25_mb():
    total = sum(p.stat().st_size for p in builtins.SHIPPED.rglob("*.safetensors"))
    assert 0 < total <= 25_000_000
    assert builtins.FROZEN not in load_file(str(builtins.SHIPPED / "sst2" / "weights.safetensors"))


def test_unknown_builtin_lists_the_real_ones():
    with pytest.raises(ex.ExplainerError, match="builtin:sst2, builtin:minilm-base, builtin:zeroshot"):
        ex.load("builtin:imdb")


def test_model_cards_state_the_numbers():
    card = (builtins.SHIPPED / "sst2" / "README.md").read_text()
    assert f"{SHIPPED_TEST_HITS / 872 * 100:.2f} %" in card and f"{SHIPPED_TEST_HITS}/872" in card
    for needle in ("Apache-2.0", "MIT", "SST-2", "train_sst2.py"):
        assert needle in card
