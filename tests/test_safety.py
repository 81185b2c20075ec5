"""Loading is safe: pickled weights only through a weights-only load, never custom model code."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import explainers as ex


class Payload:
    """Unpickling this runs a shell command: what a malicious pytorch_model.bin does."""

    def __init__(self, flag: Path):
        self.flag = flag

    def __reduce__(self):
        return os.system, (f"touch {self.flag}",)


@pytest.fixture
def pickled(tiny_folder, tmp_path):
    """A copy of the tiny BERT checkpoint with its weights in pytorch_model.bin instead of safetensors."""
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_folder("bert"), folder)
    weights = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    return folder, weights


def test_plain_pickled_weights_load_through_a_weights_only_load(pickled, tiny):
    folder, _ = pickled
    clf = ex.load(str(folder))
    want = ex.explain(tiny("bert"), "a fine film", method="saliency")
    np.testing.assert_allclose(ex.explain(clf, "a fine film", method="saliency").token_scores, want.token_scores,
                               rtol=1e-6)


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(pickled, tmp_path):
    folder, weights = pickled
    flag = tmp_path / "pwned"
    torch.save({**weights, "payload": Payload(flag)}, folder / "pytorch_model.bin")
    with pytest.raises(ex.ExplainerError, match="pickle that holds more than tensors.*safetensors"):
        ex.load(str(folder))
    assert not flag.exists()


def test_custom_model_code_is_never_run(tiny_folder, tmp_path):
    folder = tmp_path / "custom"
    shutil.copytree(tiny_folder("bert"), folder)
    flag = tmp_path / "ran"
    (folder / "modeling_evil.py").write_text(f"open({str(flag)!r}, 'w').close()\n")
    config = (folder / "config.json").read_text()
    (folder / "config.json").write_text(config.replace(
        '"model_type": "bert"', '"model_type": "evil", "auto_map": {"AutoConfig": "modeling_evil.EvilConfig", '
        '"AutoModelForSequenceClassification": "modeling_evil.Evil"}'))
    with pytest.raises(ex.ExplainerError, match="custom code|not supported|evil"):
        ex.load(str(folder))
    assert not flag.exists()
