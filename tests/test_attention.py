"""Attention maps for every family, from an eager twin; the shared model stays on SDPA."""
import threading

import numpy as np
import pytest
import torch

import explainers as ex
from conftest import FAMILIES
from explainers.attention import eager_twin
from test_attribution import TEXTS, snapshot


@pytest.mark.parametrize("family", FAMILIES)
def test_attention_shapes_and_rows_sum_to_one(tiny, family):
    clf = tiny(family)
    maps = ex.attention(clf, TEXTS[2])
    cfg = clf.model.config
    layers = getattr(cfg, "num_hidden_layers", None) or cfg.encoder_layers
    heads = getattr(cfg, "num_attention_heads", None) or cfg.encoder_attention_heads
    n = len(maps.tokens)
    assert maps.weights.shape == (layers, heads, n, n)
    assert maps.weights.size and np.isfinite(maps.weights).all()
    np.testing.assert_allclose(maps.weights.sum(-1), 1.0, atol=1e-5)
    assert (maps.weights >= 0).all()
    if family == "bart":
        assert maps.decoder_weights.shape == (cfg.decoder_layers, cfg.decoder_attention_heads, n, n)
        assert maps.cross_weights.shape == (cfg.decoder_layers, cfg.decoder_attention_heads, n, n)
        np.testing.assert_allclose(maps.decoder_weights.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(maps.cross_weights.sum(-1), 1.0, atol=1e-5)
        assert np.allclose(np.triu(maps.decoder_weights[0, 0], 1), 0)  # causal
        assert maps.tokens[maps.reads] == "</s>" and maps.reads == n - 1  # the final EOS is what BART reads
        assert maps.decoder_tokens[1:] == maps.tokens[:-1]  # decoder position i holds token i-1
    else:
        assert maps.reads == 0 and maps.special_tokens[0]


def test_bart_attention_matches_a_private_eager_model(tiny_folder):
    from transformers import AutoModelForSequenceClassification

    clf = ex.load(str(tiny_folder("bart")))
    reference = AutoModelForSequenceClassification.from_pretrained(str(tiny_folder("bart")), attn_implementation="eager")
    enc = clf.tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():
        out = reference(**enc, output_attentions=True)
    maps = ex.attention(clf, TEXTS[0])
    np.testing.assert_allclose(maps.weights[1], out.encoder_attentions[1][0].numpy(), atol=1e-6)
    np.testing.assert_allclose(maps.cross_weights[0], out.cross_attentions[0][0].numpy(), atol=1e-6)


def test_eager_twin_shares_weights_and_leaves_the_model_alone(tiny):
    clf = tiny("bert")
    twin = eager_twin(clf.model)
    assert twin is not clf.model and eager_twin(clf.model) is twin
    assert twin.config._attn_implementation == "eager"
    assert clf.model.config._attn_implementation == "sdpa"
    for (name, p), (_, q) in zip(clf.model.named_parameters(), twin.named_parameters()):
        assert p is q, name  # the same tensors: no second copy of the weights


@pytest.mark.parametrize("family", ["bert", "bart", "deberta-v3", "roberta"])
def test_shared_model_keeps_sdpa_and_weights_under_threaded_attention_and_explain(tiny, family):
    clf = tiny(family)
    before = snapshot(clf.model)
    solo = ex.attention(clf, TEXTS[1]).weights
    errors = []

    def work(i):
        try:
            for _ in range(2):
                text = TEXTS[i % len(TEXTS)]
                if i % 2:
                    ex.explain(clf, text, n_steps=20)
                else:
                    weights = ex.attention(clf, TEXTS[1]).weights
                    np.testing.assert_allclose(weights, solo, atol=1e-6)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    after = snapshot(clf.model)
    assert before[1:] == after[1:]  # config (SDPA included), hook count, training flag
    assert before[2] == 0
    for k, v in before[0].items():
        assert torch.equal(v, after[0][k])


def test_attention_on_bad_text_is_a_clear_error(tiny):
    with pytest.raises(ex.ExplainerError, match="empty"):
        ex.attention(tiny("bert"), " ")


def test_deberta_defaults_to_a_mask_baseline_that_converges(tiny):
    """The pad baseline (zero embedding into LayerNorm eps 1e-7) is near-singular for DeBERTa-v3."""
    clf = tiny("deberta-v3")
    errors = {"pad": [], "mask": []}
    for text in TEXTS:
        for baseline in errors:
            exp = ex.explain(clf, text, baseline=baseline, n_steps=50, target=0)
            gap = exp.score - exp.baseline_score
            errors[baseline].append(abs(exp.token_scores.sum() - gap) / abs(gap))
    assert ex.explain(clf, TEXTS[0]).options["baseline"] in ("mask", "unk")  # auto never picks pad here
    assert max(errors["mask"]) < 0.01
    assert np.median(errors["pad"]) > 0.1
