"""The seam: encoded inputs, baselines that keep what must stay, squash/contrast, Scorer batching."""
import numpy as np
import pytest
import torch

import explainers as ex
from explainers import scoring
from explainers import zeroshot as zs
from explainers.scoring import Scorer, TextTokens, baseline_ids, baseline_token_id, check_text, contrast, encode, squash


def test_encode_one_text(tiny):
    clf = tiny("roberta")
    text = "a <b>gripping</b> film"
    enc = encode(clf, text)
    assert enc.input_ids.shape == enc.attention_mask.shape == (1, enc.n_tokens)
    assert enc.special[0] and enc.special[-1] and not enc.special[1:-1].any()
    assert (enc.offsets[enc.special] == 0).all()
    for s, e in enc.offsets[~enc.special]:
        assert 0 <= s <= e <= len(text)
    assert enc.position_ids is not None and enc.reads.tolist() == [0] and not enc.truncated
    assert enc.replaceable.tolist() == [(~enc.special).tolist()]
    view = enc.text_tokens
    assert view.tokens == enc.tokens and view.limit is None


def test_truncation_is_known_and_limits_the_words(tiny):
    clf = tiny("bert")
    enc = encode(clf, "good movie " * 100)
    assert enc.truncated and enc.n_tokens == clf.max_length
    view = enc.text_tokens
    assert view.limit == int(enc.offsets[~enc.special, 1].max())


@pytest.mark.parametrize("text, match", [("", "empty"), (" \n", "empty"), (3, "string"), ("x" * 300_000, "limit")])
def test_check_text(text, match):
    with pytest.raises(ex.ExplainerError, match=match):
        check_text(text)


def test_baselines_keep_special_tokens(tiny):
    clf = tiny("bert")
    enc = encode(clf, "the plot is dull")
    base = baseline_ids(clf, enc, "mask")
    assert torch.equal(base[0, enc.special], enc.input_ids[0, enc.special])
    assert (base[0, ~enc.special] == clf.tokenizer.mask_token_id).all()


def test_pair_baselines_keep_special_tokens_and_padding(tiny):
    clf = tiny("bert", labels=("contradiction", "neutral", "entailment"))
    pairs = zs.encode_pairs(clf, "the plot is dull", ["short", "a much longer hypothesis here"])
    base = baseline_ids(clf, pairs, "unk")
    keep = torch.as_tensor(pairs.sequence < 0)
    assert torch.equal(base[keep], pairs.input_ids[keep])
    assert (base[~keep] == clf.tokenizer.unk_token_id).all()
    assert (pairs.sequence == -2).any()  # the shorter pair is padded, and the padding stayed


def test_baseline_tokens(tiny):
    clf = tiny("bert")
    assert baseline_token_id(clf, "pad") == clf.tokenizer.pad_token_id
    with pytest.raises(ex.ExplainerError, match="Unknown baseline"):
        baseline_token_id(clf, "zeros")
    no_mask = ex.Classifier(**{**vars(clf), "tokenizer": type("T", (), {"mask_token_id": None})()})
    with pytest.raises(ex.ExplainerError, match="no mask token"):
        baseline_token_id(no_mask, "mask")


def test_squash_and_contrast():
    logits = torch.tensor([[1.0, 2.0, -1.0]])
    np.testing.assert_allclose(squash(logits, False, "probability").numpy(), torch.softmax(logits, -1).numpy())
    np.testing.assert_allclose(squash(logits, True, "probability").numpy(), torch.sigmoid(logits).numpy())
    assert squash(logits, True, "logit") is logits
    assert contrast(logits, 1, None).tolist() == [2.0]
    assert contrast(logits, 1, 2).tolist() == [3.0]
    rows = torch.tensor([[1.0, 2.0, -1.0], [0.0, 5.0, 7.0]])
    assert contrast(rows, torch.tensor([0, 2]), None).tolist() == [1.0, 7.0]  # a label per row
    assert contrast(rows, torch.tensor([0, 2]), torch.tensor([1, 1])).tolist() == [-1.0, 2.0]


def test_examples_per_pass_counts_sequences():
    scorer = Scorer(forward=lambda *e: e[0].sum(), inputs=(torch.zeros(2, 3, 4),), baselines=(), owners=(),
                    batch_divisor=4)
    assert scorer.examples_per_pass(16) == 4 and scorer.examples_per_pass(3) == 1
    assert scorer.n_rows == 2 and scorer.rows().tolist() == [0, 1]


def test_eager_attention_caps_a_pass_by_its_score_matrices():
    def scorer(shape, cells=None):
        return Scorer(forward=lambda *e: e[0].sum(), inputs=(torch.zeros(*shape),), baselines=(), owners=(),
                      batch_divisor=shape[1] if len(shape) == 4 else 1, cells_per_pass=cells)

    cells = scoring.EAGER_CELLS_PER_PASS
    assert scorer((1, 512, 8)).examples_per_pass(None) == 16  # tokens alone: 8,192 a pass
    assert scorer((1, 512, 8), cells).examples_per_pass(None) == 4  # 4 x 512² score cells
    assert scorer((1, 256, 8), cells).examples_per_pass(None) == 16
    assert scorer((1, 122, 8), cells).examples_per_pass(None) == 67  # short texts: the token budget decides
    assert scorer((1, 5, 200, 8), cells).examples_per_pass(None) == 5  # five pairs of 200 tokens an example
    assert scorer((1, 4096, 8), cells).examples_per_pass(None) == 1  # never fewer than one
    assert scorer((1, 512, 8), cells).examples_per_pass(16) == 16  # an asked size is kept


def test_text_tokens_limit():
    view = TextTokens(("[CLS]", "a", "b"), np.array([[0, 0], [0, 1], [2, 5]]), np.array([True, False, False]), True)
    assert view.limit == 5
    assert TextTokens(view.tokens, view.offsets, view.special, False).limit is None
