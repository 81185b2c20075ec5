"""Tiny random checkpoints of each family, with a tokenizer of the family's kind.

Built in well under a second each, saved to a folder and loaded through
ex.load like any local checkpoint. Weights use initializer_range 0.3 so that
scores move well above float noise.
"""
from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (BartConfig, BartForSequenceClassification, BertConfig, BertForSequenceClassification,
                          DistilBertConfig, DistilBertForSequenceClassification, PreTrainedTokenizerFast,
                          RobertaConfig, RobertaForSequenceClassification)

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
FAMILY_NAMES = ("bert", "distilbert", "roberta", "bart")


def wordpiece_tokenizer() -> PreTrainedTokenizerFast:
    """WordPiece with a vocabulary made deterministically (the trainer breaks ties at random):
    specials, every corpus character alone and as a continuation, then the commonest words."""
    from collections import Counter

    normalizer, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts = Counter(w for text in CORPUS for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for w in counts for c in w})
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1][:120]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(specials + chars + ["##" + c for c in chars] + words))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)


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
            "label2id": {l: i for i, l in enumerate(labels)}}


def build(family: str, folder: Path, labels=LABELS, seed: int = 0, **overrides) -> Path:
    """Save a tiny random ``family`` classifier and its tokenizer to ``folder``."""
    import torch

    torch.manual_seed(seed)
    common = {"initializer_range": 0.3}
    if family in ("bert", "distilbert"):
        tok = wordpiece_tokenizer()
    else:
        tok = bytelevel_tokenizer()
    vocab = len(tok)
    if family == "bert":
        cfg = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=37, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                         **_labels({**common, **overrides}, labels))
        model = BertForSequenceClassification(cfg)
    elif family == "distilbert":
        cfg = DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=4, hidden_dim=37,
                               max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                               **_labels({**common, **overrides}, labels))
        model = DistilBertForSequenceClassification(cfg)
    elif family == "roberta":
        cfg = RobertaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=37, max_position_embeddings=66, pad_token_id=1, bos_token_id=0,
                            eos_token_id=2, type_vocab_size=1, **_labels({**common, **overrides}, labels))
        model = RobertaForSequenceClassification(cfg)
    elif family == "bart":
        cfg = BartConfig(vocab_size=vocab, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                         decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=64,
                         pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
                         init_std=0.3, **_labels(overrides, labels))
        model = BartForSequenceClassification(cfg)
    else:
        raise ValueError(family)
    model.eval()
    folder = Path(folder)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
