"""Checkpoints: the family table and its quirks, label lookup, where a checkpoint comes from."""
import json

import numpy as np
import pytest
import torch
from transformers import AutoConfig, PretrainedConfig

import explainers as ex
import tiny_models
from explainers import checkpoints
from explainers.checkpoints import Family, family_of, label_index, shift_right
from helpers import FAMILIES, TEXTS


def test_every_family_has_a_tiny_model_row_and_back(tiny_folder):
    """A new family is one FAMILIES row plus one tiny-model row: neither can be added alone."""
    names = FAMILIES + tiny_models.MORE_FAMILY_NAMES
    tested = {AutoConfig.from_pretrained(str(tiny_folder(name))).model_type for name in names}
    supported = {t for fam in ex.FAMILIES for t in fam.model_types}
    assert tested == supported
    assert len(supported) == sum(len(fam.model_types) for fam in ex.FAMILIES)  # no type in two rows
    for fam in ex.FAMILIES:
        for model_type in fam.model_types:
            assert family_of(model_type) is fam


def test_an_unknown_family_names_the_supported_ones():
    with pytest.raises(ex.ExplainerError, match="not supported yet.*BERT, DistilBERT"):
        family_of("t5")


def _ids(rows, pad=1):
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    return ids, torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])


def _model(**config):
    return type("Model", (), {"config": PretrainedConfig(**config)})()


def test_reads_at_each_kind_of_head():
    model = _model(eos_token_id=2)
    ids, mask = _ids([[0, 5, 2, 7, 2], [0, 2, 9]])
    assert Family("x", ("x",)).reads_at(model, ids, mask).tolist() == [0, 0]
    assert Family("x", ("x",), reads="eos").reads_at(model, ids, mask).tolist() == [4, 1]
    assert Family("x", ("x",), reads="last").reads_at(model, ids, mask).tolist() == [4, 2]
    no_eos, mask = _ids([[0, 5, 6]])
    with pytest.raises(ex.ExplainerError, match="end-of-sequence"):
        Family("x", ("x",), reads="eos").reads_at(model, no_eos, mask)


def test_decoder_only_heads_read_the_last_token_that_is_not_the_configs_pad():
    """The model's own rule (GenericForSequenceClassification): the rightmost id that is not
    config.pad_token_id; padding we add is masked out whatever its id."""
    ids, mask = _ids([[7, 5, 3, 9], [7, 3, 3]], pad=4)
    last = Family("x", ("x",), reads="last")
    assert last.reads_at(_model(pad_token_id=None), ids, mask).tolist() == [3, 2]
    assert last.reads_at(_model(pad_token_id=3), ids, mask).tolist() == [3, 0]  # a row of pads: position 0
    assert last.reads_at(_model(pad_token_id=9), ids, mask).tolist() == [2, 2]


def test_pooling_follows_the_config():
    fam = Family("x", ("x",), reads="pooling")
    assert fam.pooling(PretrainedConfig(classifier_pooling="cls")) == "first"
    assert fam.pooling(PretrainedConfig(classifier_pooling="mean")) == "mean"
    assert fam.pooling(PretrainedConfig(classifier_pooling="late")) == "mean"  # EuroBERT: mean of per-token logits
    assert fam.head_reads(PretrainedConfig(classifier_pooling="mean")) == "the mean of every token"
    with pytest.raises(ex.ExplainerError, match="classifier_pooling"):
        fam.pooling(PretrainedConfig(classifier_pooling="max"))
    ids, mask = _ids([[0, 5, 2]])
    assert fam.reads_at(_model(classifier_pooling="mean"), ids, mask).tolist() == [0]


def test_reader_names():
    tokens = ("[CLS]", "good", "</s>")
    config = PretrainedConfig(classifier_pooling="mean")
    assert Family("x", ("x",)).reader_name(config, tokens, 0) == "[CLS]"
    assert Family("x", ("x",), reads="eos").reader_name(config, tokens, 2) == "the final EOS (position 2)"
    assert Family("x", ("x",), reads="last").reader_name(config, tokens, 2) == "the last token (position 2)"
    assert Family("x", ("x",), reads="pooling").reader_name(config, tokens, None) == "every token (mean-pooled)"


def test_encoder_decoder_owners_and_sequences(tiny):
    clf = tiny("bart")
    fam = clf.family
    enc = clf.tokenizer(TEXTS[0], return_tensors="pt")
    ids = enc["input_ids"]
    n = ids.shape[1]
    encoder, decoder = fam.owners(n, final=n - 1)
    assert encoder.tolist() == list(range(n)) and decoder.tolist() == [n - 1] + list(range(n - 1))
    special = np.zeros(n, dtype=bool)
    special[[0, n - 1]] = True
    views = fam.sequences(clf.model, ids, special)
    assert torch.equal(views["decoder"][0], shift_right(ids, clf.model.config))
    assert views["decoder"][1].tolist() == [True, True] + [False] * (n - 3) + [False]
    assert set(fam.attentions(type("Out", (), {"encoder_attentions": 1, "decoder_attentions": 2,
                                                "cross_attentions": 3})())) == {"encoder", "decoder", "cross"}
    assert set(tiny("bert").family.sequences(None, ids, special)) == {"encoder"}


@pytest.mark.parametrize("family", FAMILIES)
def test_model_inputs_are_what_the_family_needs(tiny, family):
    clf = tiny(family)
    enc = clf.tokenizer(TEXTS[1], return_tensors="pt")
    fam = clf.family
    kwargs = fam.model_inputs(clf.model, enc["input_ids"], enc["attention_mask"],
                              token_type_ids=enc.get("token_type_ids"))
    assert ("position_ids" in kwargs) == (fam.positions == "from_ids")
    assert ("token_type_ids" in kwargs) == (fam.token_types and "token_type_ids" in enc)
    assert kwargs.get("use_cache", True) is (not fam.encoder_decoder)
    with torch.no_grad():
        np.testing.assert_allclose(clf.model(**kwargs).logits.numpy(), clf.model(**enc).logits.numpy(), atol=1e-6)


@pytest.mark.parametrize("family", ["roberta", "xlm-roberta", "mpnet"])
def test_positions_follow_the_ids_from_the_embeddings_padding(tiny, family):
    clf = tiny(family)
    pad = clf.family.padding_idx(clf.model)
    assert pad == clf.model.base_model.embeddings.padding_idx == clf.tokenizer.pad_token_id
    ids = torch.tensor([[7, 8, 9, 10, pad, pad]])
    assert clf.family.position_ids(clf.model, ids).tolist() == [[pad + 1, pad + 2, pad + 3, pad + 4, pad, pad]]
    assert tiny("bert").family.position_ids(tiny("bert").model, ids) is None


@pytest.mark.parametrize("target, index", [(None, 1), ("b", 1), (" c ", 2), (0, 0), ("2", 2), (np.int64(1), 1)])
def test_label_index(target, index):
    assert label_index(("a", "b", "c"), target, 1, "the labels are a, b, c") == index


@pytest.mark.parametrize("target", ["d", 3, -1, "-1", True, 1.0])
def test_label_index_unknown(target):
    with pytest.raises(ex.ExplainerError, match="the labels are a, b, c"):
        label_index(("a", "b", "c"), target, 0, "the labels are a, b, c")


def test_where_a_checkpoint_comes_from(tmp_path):
    assert ex.source_of("builtin:sst2") == "builtin"
    assert ex.source_of(str(tmp_path)) == "local"
    assert ex.source_of("owner/model") == "hub"
    assert ex.source_of("  builtin:zeroshot ") == "builtin"
    file = tmp_path / "config.json"
    file.write_text(json.dumps({"model_type": "bert"}))
    assert ex.source_of(str(file)) == "local"
    with pytest.raises(ex.ExplainerError, match="is a file; give the folder"):
        ex.load(str(file))
    with pytest.raises(ex.ExplainerError, match="is a string"):
        ex.source_of(None)


def test_generic_labels_are_known_before_and_after_renaming(tiny, tmp_path):
    assert not tiny("bert").has_generic_labels
    folder = str(tiny_models.build("bert", tmp_path / "generic", labels=["LABEL_0", "LABEL_1"]))
    assert ex.load(folder).has_generic_labels
    renamed = ex.load(folder, label_names=["bad", "good"])
    assert renamed.labels == ("bad", "good") and renamed.has_generic_labels
    assert not ex.load("builtin:zeroshot").has_generic_labels  # no labels of its own


def test_facts_and_listing(tiny):
    clf = tiny("roberta")
    facts = clf.facts()
    assert facts["family"] == "RoBERTa" and facts["labels"] == list(clf.labels) and facts["task"] == "classification"
    assert facts["parameters"] == sum(p.numel() for p in clf.model.parameters())
    assert clf.label_listing == "this model's labels are: 0=negative, 1=neutral, 2=positive"
    assert checkpoints.BUILTIN_PREFIX == "builtin:"
