"""Attention maps for every family, from an eager twin; the shared model stays on SDPA."""
import threading

import numpy as np
import pytest
import torch

import explainers as ex
from explainers.attention import COMBINATIONS, combine_heads, difference, eager_twin, from_reader, rollout, shown_tokens
from helpers import FAMILIES, TEXTS, snapshot


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
        decoder, cross = maps.streams["decoder"], maps.streams["cross"]
        assert decoder.weights.shape == (cfg.decoder_layers, cfg.decoder_attention_heads, n, n)
        assert cross.weights.shape == (cfg.decoder_layers, cfg.decoder_attention_heads, n, n)
        np.testing.assert_allclose(decoder.weights.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(cross.weights.sum(-1), 1.0, atol=1e-5)
        assert np.allclose(np.triu(decoder.weights[0, 0], 1), 0)  # causal
        assert maps.tokens[maps.reads] == "</s>" and maps.reads == n - 1  # the final EOS is what BART reads
        assert decoder.reads == cross.reads == maps.reads
        assert decoder.query_tokens[1:] == maps.tokens[:-1]  # decoder position i holds token i-1
        assert cross.query_tokens == decoder.query_tokens and cross.key_tokens == maps.tokens
        assert decoder.query_special[0] and list(decoder.query_special[1:]) == list(maps.special_tokens[:-1])
    else:
        assert list(maps.streams) == ["encoder"]
        pooling = clf.family.pooling(cfg)
        expected = {"first": 0, "mean": None, "last": n - 1}[pooling]  # decoders: their last token
        assert maps.reads == expected
        assert pooling != "first" or maps.special_tokens[0]
    for stream in maps.streams.values():  # the gradient-weighted views exist for every stream
        assert stream.relevance.shape == stream.weights[:, 0].shape
        assert stream.head_relevance.shape == stream.weights.shape[:2]
        assert (stream.relevance >= 0).all() and stream.relevance.sum() > 0


def test_bart_attention_matches_a_private_eager_model(tiny_folder):
    from transformers import AutoModelForSequenceClassification

    clf = ex.load(str(tiny_folder("bart")))
    reference = AutoModelForSequenceClassification.from_pretrained(str(tiny_folder("bart")),
                                                                   attn_implementation="eager")
    enc = clf.tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():
        out = reference(**enc, output_attentions=True)
    maps = ex.attention(clf, TEXTS[0])
    np.testing.assert_allclose(maps.weights[1], out.encoder_attentions[1][0].numpy(), atol=1e-6)
    np.testing.assert_allclose(maps.streams["cross"].weights[0], out.cross_attentions[0][0].numpy(), atol=1e-6)
    np.testing.assert_allclose(maps.streams["decoder"].weights[1], out.decoder_attentions[1][0].numpy(), atol=1e-6)


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


# --------------------------------------------------------------------------- views

def test_gradient_weighted_combination_equals_a_hand_computation(tiny, tiny_folder):
    """dF/dA by central differences on a private float64 copy whose attention maps can be nudged,
    then mean_h (A * dF/dA)^+ with plain loops: equal to ex.attention's relevance."""
    from transformers import AttentionInterface, AutoModelForSequenceClassification
    from transformers.models.bert.modeling_bert import eager_attention_forward

    folder = tiny_folder("bert")
    clf = tiny("bert")
    text, target = TEXTS[1], 2
    maps = ex.attention(clf, text, target=target)
    nudge = {}

    def nudged(module, query, key, value, attention_mask, **kwargs):
        _, weights = eager_attention_forward(module, query, key, value, attention_mask, **kwargs)
        weights = weights + nudge.get(module.layer_idx, 0.0)
        return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights

    AttentionInterface.register("nudged_for_test", nudged)
    ref = AutoModelForSequenceClassification.from_pretrained(str(folder), attn_implementation="nudged_for_test")
    ref = ref.double().eval()
    enc = clf.tokenizer(text, return_tensors="pt")

    def prob() -> float:
        with torch.no_grad():
            return float(torch.softmax(ref(**enc).logits, -1)[0, target])

    assert prob() == pytest.approx(maps.score, abs=1e-5)
    weights = maps.weights.astype(np.float64)
    layers, heads, n, _ = weights.shape
    eps = 1e-5
    grads = np.zeros_like(weights)
    for layer in range(layers):
        for h in range(heads):
            for i in range(n):
                for j in range(n):
                    bump = torch.zeros(1, heads, n, n, dtype=torch.float64)
                    bump[0, h, i, j] = eps
                    nudge[layer] = bump
                    up = prob()
                    nudge[layer] = -bump
                    grads[layer, h, i, j] = (up - prob()) / (2 * eps)
        nudge.clear()
    relevance = np.zeros((layers, n, n))
    head_totals = np.zeros((layers, heads))
    for layer in range(layers):
        for h in range(heads):
            for i in range(n):
                for j in range(n):
                    value = max(0.0, weights[layer, h, i, j] * grads[layer, h, i, j])
                    relevance[layer, i, j] += value / heads
                    head_totals[layer, h] += value
    stream = maps.encoder
    np.testing.assert_allclose(stream.relevance, relevance, atol=1e-6, rtol=1e-3)
    np.testing.assert_allclose(stream.head_relevance, head_totals, atol=1e-6, rtol=1e-3)
    np.testing.assert_array_equal(combine_heads(stream, "gradient"), stream.relevance)
    # the last layer feeds the classifier only through [CLS]: no other row can matter there
    assert stream.relevance[-1, 1:].max() == 0 and stream.relevance[-1, 0].sum() > 0


@pytest.mark.parametrize("family", ["bert", "bart", "deberta-v3"])
@pytest.mark.parametrize("how", list(COMBINATIONS))
def test_rollout_rows_sum_to_one(tiny, family, how):
    stream = ex.attention(tiny(family), TEXTS[2]).encoder
    flow = rollout(combine_heads(stream, how))
    assert flow.shape == stream.weights[:, 0].shape
    np.testing.assert_allclose(flow.sum(-1), 1.0, atol=1e-9)
    assert (flow >= 0).all()
    reader = from_reader(flow, stream.reads)
    assert reader.shape == (stream.layers, len(stream.key_tokens))
    np.testing.assert_allclose(reader.sum(-1), 1.0, atol=1e-9)


def test_rollout_by_hand():
    a1 = np.array([[1.0, 0.0], [0.5, 0.5]])
    a2 = np.array([[0.0, 1.0], [1.0, 0.0]])
    s1 = (a1 + np.eye(2)) / (a1 + np.eye(2)).sum(-1, keepdims=True)
    s2 = (a2 + np.eye(2)) / (a2 + np.eye(2)).sum(-1, keepdims=True)
    flow = rollout(np.stack([a1, a2]))
    np.testing.assert_allclose(flow[0], s1)
    np.testing.assert_allclose(flow[1], s2 @ s1)
    zero_rows = rollout(np.zeros((3, 2, 2)))  # a gradient-weighted map can be all zero: the residual remains
    np.testing.assert_allclose(zero_rows[-1], np.eye(2))
    with pytest.raises(ex.ExplainerError, match="self-attention"):
        rollout(np.zeros((1, 2, 3)))


def test_mean_pooled_models_read_every_token():
    clf = ex.load("builtin:zeroshot")
    maps = ex.attention(clf, "The striker scored twice")
    assert maps.reads is None and maps.target is None and maps.encoder.relevance is None
    mean = combine_heads(maps.encoder, "mean")
    np.testing.assert_allclose(from_reader(mean, None), mean.mean(axis=1))
    with pytest.raises(ex.ExplainerError, match="mean or max"):
        combine_heads(maps.encoder, "gradient")
    with pytest.raises(ex.ExplainerError, match="no labels"):
        ex.attention(clf, "The striker scored twice", target="sports")


def test_difference_of_a_checkpoint_with_itself_is_exactly_zero(tiny, tiny_folder):
    clf = tiny("bert")
    other = ex.load(str(tiny_folder("bert")))  # the same checkpoint, loaded separately
    first, second = ex.attention(clf, TEXTS[0]), ex.attention(other, TEXTS[0])
    n = len(first.tokens)
    for how in COMBINATIONS:
        diff = difference(first, second, how)
        assert diff.shape == (2, n, n)
        assert not diff.any(), how
    bart = tiny("bart")
    for stream in ("encoder", "decoder", "cross"):
        assert not difference(ex.attention(bart, TEXTS[0]), ex.attention(bart, TEXTS[0]), "max", stream).any()


def test_difference_needs_a_shared_tokenizer_and_architecture(tiny):
    with pytest.raises(ex.ExplainerError, match="share a tokenizer"):
        difference(ex.attention(tiny("bert"), TEXTS[0]), ex.attention(tiny("roberta"), TEXTS[0]))
    with pytest.raises(ex.ExplainerError, match="decoder"):
        difference(ex.attention(tiny("bert"), TEXTS[0]), ex.attention(tiny("bert"), TEXTS[0]), stream="decoder")
    with pytest.raises(ex.ExplainerError, match="Unknown head combination"):
        combine_heads(ex.attention(tiny("bert"), TEXTS[0]).encoder, "median")


def test_fine_tuned_minus_base_builtins():
    tuned, base = ex.load("builtin:sst2"), ex.load("builtin:minilm-base")
    text = "a gripping, funny and touching film"
    a, b = ex.attention(tuned, text, target="positive"), ex.attention(base, text, target="positive")
    assert a.tokens == b.tokens
    diff = difference(a, b, "mean")
    assert diff.shape == (6, len(a.tokens), len(a.tokens))
    np.testing.assert_allclose(diff.sum(-1), 0.0, atol=1e-5)  # both rows sum to 1
    assert np.abs(diff).max() > 0.01  # fine-tuning changed where the model looks
    np.testing.assert_allclose(from_reader(diff, a.reads), a.weights.mean(1)[:, 0] - b.weights.mean(1)[:, 0],
                               atol=1e-7)


def test_shown_tokens_keeps_the_most_important_in_text_order():
    importance = np.array([0.9, 0.1, 0.5, 0.3, 0.8])
    special = np.array([True, False, False, False, True])
    assert shown_tokens(importance, special).tolist() == [0, 1, 2, 3, 4]
    assert shown_tokens(importance, special, top_k=2).tolist() == [0, 4]
    assert shown_tokens(importance, special, top_k=2, hide_special=True).tolist() == [2, 3]
    assert shown_tokens(importance, special, top_k=10, hide_special=True).tolist() == [1, 2, 3]


def test_attention_figures_escape_tokens_and_keep_them_distinct():
    from explainers import plots

    tokens = ("[CLS]", "<b>", "the", "the", "[SEP]")
    labels = plots.token_labels(tokens, range(5))
    assert len(set(labels)) == 5 and "&lt;b&gt;·1" in labels and not any("<b>" in label for label in labels)
    rows = np.random.default_rng(0).random((3, 5))
    fig = plots.attention_by_layer(rows, tokens, [1, 2, 4], "[CLS]")
    assert list(fig.data[0].x) == [labels[1], labels[2], labels[4]]
    np.testing.assert_allclose(np.asarray(fig.data[0].z), rows[:, [1, 2, 4]])
    diverging = plots.attention_by_layer(rows - 0.5, tokens, range(5), "[CLS]", diverging=True)
    assert diverging.data[0].zmid == 0
    grid = plots.head_grid(np.random.default_rng(1).random((6, 5, 5)), tokens, tokens, range(5), range(5), "grid")
    assert len(grid.data) == 6 and len({t.zmax for t in grid.data}) == 1  # one shared colour scale
