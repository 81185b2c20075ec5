"""Tiny random checkpoints of each family, with a tokenizer of the family's kind.

Built in well under a second each, saved to a folder and loaded through
ex.load like any local checkpoint. Weights use initializer_range 0.3 so that
scores move well above float noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AlbertConfig,
    AlbertForSequenceClassification,
    BartConfig,
    BartForSequenceClassification,
    BertConfig,
    BertForSequenceClassification,
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    ElectraConfig,
    ElectraForSequenceClassification,
    MPNetConfig,
    MPNetForSequenceClassification,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

CORPUS = [
    "This is awesome anyone thinking to buy should blindly go for it",
    "The movie was not bad at all, highly recommend",
    "This movie was not really good, I did not enjoy it at all",
    "a gripping, funny and touching film that never lets go",
    "the plot is dull and the acting is worse; a waste of time",
    "Stocks rallied as markets opened higher on Tuesday",
    "The team won the championship after a dramatic final match",
    "Scientists discovered a new species of frog in the rainforest",
    "I don't think it's worth the price, honestly.",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?'\"()-",
]
LABELS = ["negative", "neutral", "positive"]


def _counts(normalize=str.lower):
    from collections import Counter

    pre = pre_tokenizers.BertPreTokenizer()
    return Counter(w for text in CORPUS for w, _ in pre.pre_tokenize_str(normalize(text)))


def wordpiece_tokenizer(specials=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), cls="[CLS]", sep="[SEP]",
                        first=()) -> PreTrainedTokenizerFast:
    """WordPiece with a vocabulary made deterministically (the trainer breaks ties at random):
    specials (``first`` ones first, in that order), every corpus character alone and as a
    continuation, then the commonest words. ``specials``: pad, unk, cls, sep, mask."""
    normalizer, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts = _counts(normalizer.normalize_str)
    chars = sorted({c for w in counts for c in w})
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1][:120]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(list(first) + list(specials) + chars
                                                      + ["##" + c for c in chars] + words))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token=specials[1]))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])])
    tok.decoder = decoders.WordPiece()
    names = dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"), specials))
    if cls == "<s>":
        names.update(bos_token="<s>", eos_token="</s>")
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=64, **names)


def unigram_tokenizer(specials, cls: str, sep: str, lowercase: bool = False) -> PreTrainedTokenizerFast:
    """SentencePiece-style Unigram over Metaspace ('▁word' pieces), vocabulary made deterministically."""
    import math

    counts = _counts(str.lower if lowercase else str)
    chars = sorted({c for w in counts for c in w})
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1][:120]
    pieces = [(t, 0.0) for t in specials] + [("▁", -4.0)]
    pieces += [("▁" + w, -2.0 - math.log(1 + len(w))) for w in words]
    pieces += [(c, -8.0) for c in chars] + [("▁" + c, -7.0) for c in chars]
    pieces = list(dict(pieces).items())
    index = {p: i for i, (p, _) in enumerate(pieces)}
    tok = Tokenizer(models.Unigram(pieces, unk_id=index[specials[1]]))
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, index[cls]), (sep, index[sep])])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    names = dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"), specials))
    if cls == "<s>":
        names.update(bos_token="<s>", eos_token="</s>")
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=64, **names)


def bytelevel_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
                                   model_max_length=64)


def _labels(config_kwargs: dict, labels) -> dict:
    return {**config_kwargs, "num_labels": len(labels), "id2label": dict(enumerate(labels)),
            "label2id": {label: i for i, label in enumerate(labels)}}


ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}
XLMR_SPECIALS = ("<pad>", "<unk>", "<s>", "</s>", "<mask>")
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _deberta(v2: bool):
    """v3 as the real checkpoints: relative attention, no absolute positions, LayerNorm eps 1e-7;
    v2 (xlarge style) adds the convolution layer."""
    extra = {"conv_kernel_size": 3, "conv_act": "gelu"} if v2 else {}
    return lambda tok, common: DebertaV2ForSequenceClassification(DebertaV2Config(
        vocab_size=len(tok), max_position_embeddings=64, relative_attention=True, pos_att_type=["p2c", "c2p"],
        position_biased_input=False, position_buckets=16, max_relative_positions=-1, norm_rel_ebd="layer_norm",
        share_att_key=True, layer_norm_eps=1e-7, type_vocab_size=0, pad_token_id=tok.pad_token_id, **extra,
        **ENCODER, **common))


def _roberta(config_class, model_class):
    return lambda tok, common: model_class(config_class(
        vocab_size=len(tok), max_position_embeddings=66, pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id, type_vocab_size=1, **ENCODER, **common))


@dataclass(frozen=True)
class Tiny:
    """One row of the table: a tokenizer of the family's kind, and a tiny model for it.
    ``model(tokenizer, common)``: ``common`` holds the labels and initializer_range 0.3 (BART: init_std)."""

    tokenizer: Callable[[], PreTrainedTokenizerFast]
    model: Callable[[PreTrainedTokenizerFast, dict], object]


# A new model family is one row here (and one Family row in explainers/checkpoints.py).
BUILDERS: dict[str, Tiny] = {
    "bert": Tiny(wordpiece_tokenizer, lambda tok, common: BertForSequenceClassification(BertConfig(
        vocab_size=len(tok), max_position_embeddings=64, pad_token_id=tok.pad_token_id, **ENCODER, **common))),
    "distilbert": Tiny(wordpiece_tokenizer, lambda tok, common: DistilBertForSequenceClassification(DistilBertConfig(
        vocab_size=len(tok), dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64,
        pad_token_id=tok.pad_token_id, **common))),
    "roberta": Tiny(bytelevel_tokenizer, _roberta(RobertaConfig, RobertaForSequenceClassification)),
    "bart": Tiny(bytelevel_tokenizer, lambda tok, common: BartForSequenceClassification(BartConfig(
        vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=64,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, init_std=0.3,
        **{k: v for k, v in common.items() if k != "initializer_range"}))),
    "xlm-roberta": Tiny(lambda: unigram_tokenizer(XLMR_SPECIALS, "<s>", "</s>"),
                        _roberta(XLMRobertaConfig, XLMRobertaForSequenceClassification)),
    "deberta-v2": Tiny(lambda: unigram_tokenizer(BERT_SPECIALS, "[CLS]", "[SEP]"), _deberta(v2=True)),
    "deberta-v3": Tiny(lambda: unigram_tokenizer(BERT_SPECIALS, "[CLS]", "[SEP]"), _deberta(v2=False)),
    "electra": Tiny(wordpiece_tokenizer, lambda tok, common: ElectraForSequenceClassification(ElectraConfig(
        vocab_size=len(tok), embedding_size=16, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
        **ENCODER, **common))),
    "albert": Tiny(lambda: unigram_tokenizer(("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"), "[CLS]", "[SEP]",
                                             lowercase=True),
                   lambda tok, common: AlbertForSequenceClassification(AlbertConfig(
                       vocab_size=len(tok), embedding_size=16, max_position_embeddings=64,
                       pad_token_id=tok.pad_token_id, **ENCODER, **common))),
    # MPNet's embeddings take id 1 as padding whatever the config says: <pad> is 1, as in the real vocabulary
    "mpnet": Tiny(lambda: wordpiece_tokenizer(specials=XLMR_SPECIALS, cls="<s>", sep="</s>", first=("<s>", "<pad>")),
                  lambda tok, common: MPNetForSequenceClassification(MPNetConfig(
                      vocab_size=len(tok), max_position_embeddings=66, pad_token_id=tok.pad_token_id,
                      **ENCODER, **common))),
}
FAMILY_NAMES = tuple(BUILDERS)


def build(family: str, folder: Path, labels=LABELS, seed: int = 0, **overrides) -> Path:
    """Save a tiny random ``family`` classifier and its tokenizer to ``folder``."""
    import torch

    torch.manual_seed(seed)
    row = BUILDERS[family]
    tok = row.tokenizer()
    model = row.model(tok, _labels({"initializer_range": 0.3, **overrides}, labels))
    model.eval()
    folder = Path(folder)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
