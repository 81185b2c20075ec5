"""Tiny random checkpoints of each family, with a tokenizer of the family's kind.

Built in well under a second each, saved to a folder and loaded through
ex.load like any local checkpoint. Weights use initializer_range 0.3 so that
scores move well above float noise.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
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
    EuroBertConfig,
    EuroBertForSequenceClassification,
    Gemma2Config,
    Gemma2ForSequenceClassification,
    Gemma3TextConfig,
    Gemma3TextForSequenceClassification,
    GPT2Config,
    GPT2ForSequenceClassification,
    LlamaConfig,
    LlamaForSequenceClassification,
    MistralConfig,
    MistralForSequenceClassification,
    ModernBertConfig,
    ModernBertForSequenceClassification,
    MPNetConfig,
    MPNetForSequenceClassification,
    Phi3Config,
    Phi3ForSequenceClassification,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForSequenceClassification,
    Qwen3Config,
    Qwen3ForSequenceClassification,
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


# Pre-split regexes of the real tokenizer.json files (before the byte mapping); GPT-2's is ByteLevel's own.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")  # Qwen: digits one by one
DECODER_INPUTS = ["input_ids", "attention_mask"]  # no token_type_ids, as these families' tokenizers


def _template(single: str, pair: str, tok: Tokenizer) -> processors.TemplateProcessing:
    names = {t.split(":")[0] for t in f"{single} {pair}".split() if not t.startswith("$")}
    return processors.TemplateProcessing(single=single, pair=pair,
                                         special_tokens=[(t, tok.token_to_id(t)) for t in sorted(names)])


def bpe_tokenizer(names: dict, added=(), template: tuple[str, str] | None = None, split: str | None = None,
                  nfc: bool = False, trim_offsets: bool = False) -> PreTrainedTokenizerFast:
    """Byte-level BPE of GPT-2 and its descendants (GPT-NeoX/OLMo, Llama 3, Qwen), trained on CORPUS over the
    256-byte alphabet; the special tokens come after the learned ones, as in the real vocabularies.
    ``names``: pad_token/bos_token/... -> token or None (``added``: more special tokens); ``template``: (single, pair)
    put around the texts, else nothing is added; ``split``: a regex splitting before the byte mapping (else
    GPT-2's); ``nfc``: an NFC normalizer; offsets keep a word's leading space unless ``trim_offsets``."""
    tok = Tokenizer(models.BPE())
    if nfc:
        tok.normalizer = normalizers.NFC()
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split is None)
    tok.pre_tokenizer = byte_level if split is None else pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(split), behavior="isolated"), byte_level])
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=400, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens([t for t in dict.fromkeys([*names.values(), *added]) if t])
    post = processors.ByteLevel(add_prefix_space=False, trim_offsets=trim_offsets, use_regex=False)
    tok.post_processor = post if template is None else processors.Sequence([post, _template(*template, tok)])
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=64, model_input_names=DECODER_INPUTS,
                                   **names)


def sentencepiece_bpe(specials: tuple, names: dict, added=(), prefix: bool = True) -> PreTrainedTokenizerFast:
    """SentencePiece BPE as Llama 2, Mistral, Phi-3 and Gemma ship it converted: the normalizer turns spaces
    into '▁' (and puts one before the text: ``prefix``; Gemma does not), no pre-tokenizer, byte fallback.
    Vocabulary: ``specials`` in that order, the 256 <0xNN> pieces, then pieces learned inside words on
    CORPUS; ``added`` special tokens after them (Phi-3's <|endoftext|>). ``names["bos_token"]`` starts
    every text."""
    import json

    trainer = Tokenizer(models.BPE())
    trainer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first" if prefix else "never")
    trainer.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=220, show_progress=False))
    learned = json.loads(trainer.to_str())["model"]
    pieces = [*specials, *(f"<0x{b:02X}>" for b in range(256)), *learned["vocab"]]
    tok = Tokenizer(models.BPE({p: i for i, p in enumerate(pieces)}, [tuple(m) for m in learned["merges"]],
                               unk_token=names["unk_token"], byte_fallback=True, fuse_unk=True))
    space = normalizers.Replace(" ", "▁")
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), space]) if prefix else space
    tok.add_special_tokens([*specials, *added])
    bos = names["bos_token"]
    tok.post_processor = _template(f"{bos} $A", f"{bos} $A {bos}:1 $B:1", tok)
    strip = [decoders.Strip(" ", 1, 0)] if prefix else []  # the '▁' put before the text
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), *strip])
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=64, model_input_names=DECODER_INPUTS,
                                   **names)


def modernbert_tokenizer() -> PreTrainedTokenizerFast:
    """ModernBERT's: OLMo/GPT-NeoX byte-level BPE (NFC) with BERT's specials appended and template."""
    names = dict(unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")
    return bpe_tokenizer(names, template=("[CLS] $A [SEP]", "[CLS] $A [SEP] $B [SEP]"), nfc=True, trim_offsets=False)


def eurobert_tokenizer() -> PreTrainedTokenizerFast:
    """EuroBERT's: Llama 3's byte-level BPE, each text between <|begin_of_text|> and <|end_of_text|> (also pad)."""
    names = dict(bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>", pad_token="<|end_of_text|>",
                 mask_token="<|mask|>")
    return bpe_tokenizer(names, template=("<|begin_of_text|> $A <|end_of_text|>",
                                          "<|begin_of_text|> $A <|end_of_text|> $B:1 <|end_of_text|>:1"),
                         split=LLAMA3_SPLIT)


def gpt2_tokenizer(pad: bool = True) -> PreTrainedTokenizerFast:
    """GPT-2's: byte-level BPE, <|endoftext|> the only special (bos = eos = unk), nothing added to a text,
    untrimmed offsets. ``pad``: pad = eos as fine-tuning notebooks set it; without, as GPT-2 ships."""
    end = "<|endoftext|>"
    return bpe_tokenizer(dict(bos_token=end, eos_token=end, unk_token=end, **({"pad_token": end} if pad else {})))


def llama3_tokenizer(pad: bool = True) -> PreTrainedTokenizerFast:
    """Llama 3's: byte-level BPE with its own split, <|begin_of_text|> before each text, no unk; ``pad``: the
    dedicated <|finetune_right_pad_id|> (in the vocabulary either way, as in the real one)."""
    names = dict(bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>",
                 **({"pad_token": "<|finetune_right_pad_id|>"} if pad else {}))
    return bpe_tokenizer(names, added=("<|finetune_right_pad_id|>", "<|eot_id|>"), split=LLAMA3_SPLIT,
                         template=("<|begin_of_text|> $A", "<|begin_of_text|> $A <|begin_of_text|>:1 $B:1"))


def qwen_tokenizer() -> PreTrainedTokenizerFast:
    """Qwen2/Qwen3's: byte-level BPE with NFC and digits split alone, no bos added, eos = pad = <|endoftext|>.
    bos and unk saved as null, as Qwen's tokenizer_config (else Qwen2Tokenizer, which AutoTokenizer forces on
    model_type qwen2, makes <|endoftext|> the unk token)."""
    return bpe_tokenizer(dict(eos_token="<|endoftext|>", pad_token="<|endoftext|>", bos_token=None, unk_token=None),
                         added=("<|im_start|>", "<|im_end|>"), split=QWEN2_SPLIT, nfc=True)


def gemma_tokenizer() -> PreTrainedTokenizerFast:
    """Gemma's: SentencePiece BPE without a leading '▁', <bos> before each text; pad 0, eos 1, bos 2, unk 3, mask 4."""
    specials = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>")
    names = dict(zip(("pad_token", "eos_token", "bos_token", "unk_token", "mask_token"), specials))
    return sentencepiece_bpe(specials, names, prefix=False)


def mistral_tokenizer() -> PreTrainedTokenizerFast:
    """Mistral 7B v0.1's (Llama 2's): SentencePiece BPE, <unk> <s> </s>, <s> before each text, no pad token."""
    return sentencepiece_bpe(("<unk>", "<s>", "</s>"), dict(unk_token="<unk>", bos_token="<s>", eos_token="</s>"))


def phi3_tokenizer() -> PreTrainedTokenizerFast:
    """Phi-3's: Llama 2's SentencePiece BPE plus <|endoftext|> after it, which is eos and pad."""
    return sentencepiece_bpe(("<unk>", "<s>", "</s>"), dict(unk_token="<unk>", bos_token="<s>",
                                                             eos_token="<|endoftext|>", pad_token="<|endoftext|>"),
                             added=("<|endoftext|>",))


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


def _modernbert(pooling: str):
    """Local attention over 8 tokens (4 each side) in two layers of three, global in the first, as ModernBERT's
    global_attn_every_n_layers=3 (field layer_types in transformers 5)."""
    return lambda tok, common: ModernBertForSequenceClassification(ModernBertConfig(
        vocab_size=len(tok), max_position_embeddings=64, local_attention=8,
        layer_types=["full_attention", "sliding_attention", "sliding_attention"], classifier_pooling=pooling,
        pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id, sep_token_id=tok.sep_token_id,
        bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id, **{**ENCODER, "num_hidden_layers": 3},
        **common))


DECODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "intermediate_size": 37, "max_position_embeddings": 64}


def _eos_row(make):
    """Where pad is eos (Qwen, EuroBERT, Phi-3) the real checkpoints' row for it is a trained token's, not the
    zero row nn.Embedding(padding_idx=pad) starts with: draw it like the others."""
    def model(tok, common):
        import torch

        built = make(tok, common)
        rows = built.get_input_embeddings().weight
        if tok.pad_token_id is not None and tok.pad_token_id == tok.eos_token_id and not rows[tok.pad_token_id].any():
            with torch.no_grad():
                rows[tok.pad_token_id].normal_(0.0, common["initializer_range"])
        return built
    return model


def _decoder(config_class, model_class, **extra):
    """A decoder-only classifier reading its last non-pad token: config pad/bos/eos ids are the tokenizer's."""
    return _eos_row(lambda tok, common: model_class(config_class(
        vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, **{**DECODER, **extra}, **common)))


@dataclass(frozen=True)
class Tiny:
    """One row of the table: a tokenizer of the family's kind, and a tiny model for it.
    ``model(tokenizer, common)``: ``common`` holds the labels and initializer_range 0.3 (BART: init_std).
    ``labels`` and ``overrides``: the row's own, which a caller's arguments to build() replace."""

    tokenizer: Callable[[], PreTrainedTokenizerFast]
    model: Callable[[PreTrainedTokenizerFast, dict], object]
    labels: tuple[str, ...] = tuple(LABELS)
    overrides: dict = field(default_factory=dict)


def one_output(row: Tiny) -> Tiny:
    """The row with one output, as reward models, cross-encoders and STS-B regressors ship."""
    return replace(row, labels=("LABEL_0",), overrides={"problem_type": "regression"})


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
    "modernbert": Tiny(modernbert_tokenizer, _modernbert("mean")),  # answerdotai/ModernBERT-base's pooling
    "eurobert": Tiny(eurobert_tokenizer, _eos_row(lambda tok, common: EuroBertForSequenceClassification(EuroBertConfig(
        vocab_size=len(tok), max_position_embeddings=64, pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, mask_token_id=tok.mask_token_id,
        **ENCODER, **common)))),  # classifier_pooling "late", the default
    "gpt2": Tiny(gpt2_tokenizer, lambda tok, common: GPT2ForSequenceClassification(GPT2Config(
        vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=4, n_inner=37,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, **common))),
    "llama": Tiny(llama3_tokenizer, _decoder(LlamaConfig, LlamaForSequenceClassification)),
    "qwen3": Tiny(qwen_tokenizer, _decoder(Qwen3Config, Qwen3ForSequenceClassification, head_dim=8)),
    "gemma3": Tiny(gemma_tokenizer, _decoder(Gemma3TextConfig, Gemma3TextForSequenceClassification, head_dim=8,
                                             query_pre_attn_scalar=8, sliding_window=8,
                                             layer_types=["sliding_attention", "full_attention"])),
    "mistral": Tiny(mistral_tokenizer, _decoder(MistralConfig, MistralForSequenceClassification, sliding_window=8)),
}
BUILDERS |= {
    "gpt2-nopad": replace(BUILDERS["gpt2"], tokenizer=lambda: gpt2_tokenizer(pad=False)),  # as GPT-2 ships
    "llama-nopad": replace(BUILDERS["llama"], tokenizer=lambda: llama3_tokenizer(pad=False)),
    "bert-score": one_output(BUILDERS["bert"]),
    "qwen3-score": one_output(BUILDERS["qwen3"]),
}
FAMILY_NAMES = tuple(BUILDERS)

# More rows, outside the families every test runs over.
MORE_BUILDERS: dict[str, Tiny] = {
    "qwen2": Tiny(qwen_tokenizer, _decoder(Qwen2Config, Qwen2ForSequenceClassification)),
    "gemma2": Tiny(gemma_tokenizer, _decoder(Gemma2Config, Gemma2ForSequenceClassification, head_dim=8,
                                             query_pre_attn_scalar=8, sliding_window=8)),  # softcapping: defaults
    "phi3": Tiny(phi3_tokenizer, _decoder(Phi3Config, Phi3ForSequenceClassification,
                                          original_max_position_embeddings=64)),
    "modernbert-cls": Tiny(modernbert_tokenizer, _modernbert("cls")),
}
MORE_FAMILY_NAMES = tuple(MORE_BUILDERS)


def build(family: str, folder: Path, labels=None, seed: int = 0, **overrides) -> Path:
    """Save a tiny random ``family`` classifier and its tokenizer to ``folder`` (a row of BUILDERS or
    MORE_BUILDERS; ``labels`` and ``overrides``, given, replace the row's own)."""
    import torch

    torch.manual_seed(seed)
    row = BUILDERS[family] if family in BUILDERS else MORE_BUILDERS[family]
    tok = row.tokenizer()
    labels = row.labels if labels is None else labels
    model = row.model(tok, _labels({"initializer_range": 0.3, **row.overrides, **overrides}, labels))
    model.eval()
    folder = Path(folder)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
