"""Resolve and load a checkpoint (built-in, local folder or hub id) into a
Classifier, and keep every model-family difference in one place.

The seam the attribution methods stand on is `Family.logits_from_embeddings`:
word embeddings in, logits out. Which embedding module to use, how position ids
are made, which token the classifier reads, and BART feeding the text to both
encoder and decoder are all decided here and nowhere else.
"""
from __future__ import annotations

import copy
import hashlib
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlparse

import numpy as np
import torch

from .errors import ExplainerError, shown

BUILTIN_PREFIX = "builtin:"
_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")


# --------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    """One model family's quirks, as data and a few small functions; nothing else in the
    library tests which family it has in hand.

    positions: "absolute" (0..T-1, the model's default) or "from_ids"
    (RoBERTa-style: padding_idx + 1 + running count of non-pad ids), passed
    explicitly so that a baseline of pad ids keeps the input's positions.
    reads: what the classification head reads (``READS``): "first" (CLS),
    "eos" (the final EOS, BART's decoder), "last" (the last non-pad token:
    decoder-only classifiers, whose score layer is applied here at that
    position, because their own forward pass cannot find padding in
    embeddings), or "pooling" (the config's ``classifier_pooling`` says first
    or mean: ModernBERT, EuroBERT).
    baselines: the tokens integrated gradients' baseline="auto" chooses among.
    removals: the token that stands for a removed word (occlusion, LIME,
    KernelSHAP, faithfulness), the first one the tokenizer has.
    encoder_decoder: the text goes to an encoder and, shifted right after the
    decoder start token, to a decoder (BART).
    """

    name: str
    model_types: tuple[str, ...]
    positions: str = "absolute"
    reads: str = "first"
    baselines: tuple[str, ...] = ("pad", "mask", "unk")
    removals: tuple[str, ...] = ("mask", "pad", "unk")
    encoder_decoder: bool = False
    token_types: bool = False

    @property
    def decoder_only(self) -> bool:
        return self.reads == "last"

    def pooling(self, config) -> str:
        """What this model's head reads: "first", "eos", "last" or "mean" (``READS``)."""
        if self.reads != "pooling":
            return self.reads
        how = getattr(config, "classifier_pooling", "cls")
        if how not in _POOLING:
            raise ExplainerError(f"Unknown classifier_pooling {how!r} in the model's config.")
        return _POOLING[how]

    def head_reads(self, config) -> str:
        """What the head reads, in words (the sidebar's facts)."""
        return READS[self.pooling(config)]

    # -- ids -> model inputs --------------------------------------------------
    def padding_idx(self, model) -> int:
        """The id the embeddings treat as padding (MPNet fixes it at 1 whatever the config says)."""
        pad = getattr(getattr(model.base_model, "embeddings", None), "padding_idx", None)
        return model.config.pad_token_id if pad is None else int(pad)

    def position_ids(self, model, input_ids: torch.Tensor) -> torch.Tensor | None:
        if self.positions != "from_ids":
            return None
        pad = self.padding_idx(model)
        mask = input_ids.ne(pad).int()
        return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + pad

    def model_inputs(self, model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     position_ids: torch.Tensor | None = None,
                     token_type_ids: torch.Tensor | None = None) -> dict[str, Any]:
        """The keyword arguments of the model's own forward pass, as a user would call it."""
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.positions == "from_ids":
            kwargs["position_ids"] = position_ids if position_ids is not None else self.position_ids(model, input_ids)
        if token_type_ids is not None and self.token_types:
            kwargs["token_type_ids"] = token_type_ids
        if self.encoder_decoder:
            kwargs["use_cache"] = False
        return kwargs

    def reads_at(self, model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[B]: the position each row's classification head reads (0 where it pools every token).

        Decoder-only: the last attended token that is not the config's pad token, the
        model's own rule (with padding we add ourselves masked out, whatever its id).
        """
        pooling = self.pooling(model.config)
        if pooling in ("first", "mean"):
            return torch.zeros(input_ids.shape[0], dtype=torch.long, device=input_ids.device)
        wanted = attention_mask.bool()
        if pooling == "last":
            pad = getattr(model.config.get_text_config(), "pad_token_id", None)
            if pad is not None:
                wanted = wanted & (input_ids != pad)
        else:  # "eos"
            wanted = wanted & (input_ids == model.config.eos_token_id)
            if not wanted.any(dim=1).all():
                raise ExplainerError("The encoded text has no end-of-sequence token for the classifier to read.")
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return torch.where(wanted, positions, -1).max(dim=1).values.clamp(min=0)

    def reader_position(self, config, reads: torch.Tensor) -> int | None:
        """The one position attention views follow; None where the head pools every token."""
        return None if self.pooling(config) == "mean" else int(reads[0])

    def reader_name(self, config, tokens: Sequence[str], position: int | None) -> str:
        """The position the classification head reads, in words."""
        pooling = self.pooling(config)
        if pooling == "first":
            return tokens[position]
        if pooling == "mean":
            return "every token (mean-pooled)"
        return f"the {'final EOS' if pooling == 'eos' else 'last token'} (position {position})"

    def embedding_modules(self, model) -> tuple[torch.nn.Module, ...]:
        """The word-embedding lookups the forward pass really calls, in order."""
        if self.encoder_decoder:
            return (model.get_encoder().embed_tokens, model.get_decoder().embed_tokens)
        return (model.get_input_embeddings(),)

    def embedding_ids(self, model, input_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The ids each embedding use looks up: BART's decoder sees the text shifted right."""
        if self.encoder_decoder:
            return (input_ids, shift_right(input_ids, model.config))
        return (input_ids,)

    def owners(self, n_tokens: int, final: int | None = None) -> tuple[np.ndarray, ...]:
        """For each embedding use, the text token each position stands for.

        BART's decoder position i holds token i-1; its position 0 (the decoder
        start token, an EOS) is credited to the final EOS token (``final``,
        default the last position).
        """
        own = np.arange(n_tokens)
        if self.encoder_decoder:
            return (own, np.concatenate([[n_tokens - 1 if final is None else final], own[:-1]]))
        return (own,)

    def sequences(self, model, input_ids: torch.Tensor, special: np.ndarray) -> dict[str, tuple]:
        """Each stack's view of one text [1, T]: {"encoder": (ids, special)}, plus BART's
        "decoder" (the ids shifted right; position 0, the decoder start token, is special)."""
        views = {"encoder": (input_ids, special)}
        if self.encoder_decoder:
            views["decoder"] = (self.embedding_ids(model, input_ids)[1], np.concatenate([[True], special[:-1]]))
        return views

    def attentions(self, outputs) -> dict[str, tuple]:
        """A forward pass's attention weights by stream: "encoder" (every family's self-attention),
        and for BART "decoder" and "cross"."""
        if self.encoder_decoder:
            return {"encoder": outputs.encoder_attentions, "decoder": outputs.decoder_attentions,
                    "cross": outputs.cross_attentions}
        return {"encoder": outputs.attentions}

    def embed(self, model, input_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(m(ids) for m, ids in zip(self.embedding_modules(model), self.embedding_ids(model, input_ids)))

    # -- forward passes -------------------------------------------------------
    def logits_from_embeddings(self, model, embeddings: Sequence[torch.Tensor], attention_mask: torch.Tensor,
                               position_ids: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None,
                               reads: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, labels] from word embeddings; the attribution seam.

        ``reads`` [B]: the position each row's head reads (``reads_at``); the
        encoder-decoder head is applied here, encoder-only models pool inside.
        """
        if self.encoder_decoder:
            out = model.model(inputs_embeds=embeddings[0], decoder_inputs_embeds=embeddings[1],
                              attention_mask=attention_mask, use_cache=False)
            hidden = out.last_hidden_state
            return model.classification_head(hidden[torch.arange(hidden.shape[0]), reads])
        if self.decoder_only:  # the score layer at each row's own last token, as the model applies it
            hidden = model.base_model(inputs_embeds=embeddings[0], attention_mask=attention_mask,
                                      use_cache=False).last_hidden_state
            return model.score(hidden[torch.arange(hidden.shape[0]), reads])
        kwargs: dict[str, Any] = {"inputs_embeds": embeddings[0], "attention_mask": attention_mask}
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
        if token_type_ids is not None and self.token_types:
            kwargs["token_type_ids"] = token_type_ids
        return model(**kwargs).logits

    def plain_logits(self, model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     position_ids: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None,
                     reads: torch.Tensor | None = None) -> torch.Tensor:
        """The model's own forward pass from ids, as a user would call it.

        Decoder-only models apply their score layer at ``reads`` (default: each
        row's last token by the model's rule, ``reads_at``), so that padding of any
        id, or none in the tokenizer, reads what each text reads alone, and a
        baseline is read where its input is.
        """
        if self.decoder_only:
            reads = self.reads_at(model, input_ids, attention_mask) if reads is None else reads
            return self.logits_from_embeddings(model, self.embed(model, input_ids), attention_mask, reads=reads)
        return model(**self.model_inputs(model, input_ids, attention_mask, position_ids, token_type_ids)).logits


def shift_right(input_ids: torch.Tensor, config) -> torch.Tensor:
    """BART's decoder input: the ids shifted one to the right after the start token."""
    shifted = input_ids.new_full(input_ids.shape, config.pad_token_id)
    shifted[:, 1:] = input_ids[:, :-1]
    shifted[:, 0] = config.decoder_start_token_id
    return shifted


READS = {
    "first": "the first token (CLS)",
    "mean": "the mean of every token",
    "eos": "the final end-of-sequence token (decoder)",
    "last": "the last token (decoder-only)",
}
"""What a classification head can read, in words."""
_POOLING = {"cls": "first", "bos": "first", "mean": "mean", "late": "mean"}  # classifier_pooling values
# Decoder-only tokenizers often have no pad, mask or unk token, but all have an EOS. A zero embedding (as a
# pad row often is) makes RMSNorm's path near-singular: on a Llama-style SST-2 classifier 8% of texts reached
# 1% completeness by 64 steps against 99% with EOS (bench/decoder_baselines.py, bench/RESULTS.md).
DECODER_BASELINES = ("eos",)

FAMILIES: tuple[Family, ...] = (
    Family("BERT", ("bert",), token_types=True),
    Family("DistilBERT", ("distilbert",)),
    Family("RoBERTa", ("roberta",), positions="from_ids"),
    Family("XLM-RoBERTa", ("xlm-roberta",), positions="from_ids"),
    # Relative attention and no absolute positions: a zero (pad) embedding feeding LayerNorm with
    # eps 1e-7 makes the IG path near-singular, so pad is never chosen automatically.
    Family("DeBERTa-v2/v3", ("deberta-v2",), baselines=("mask", "unk")),
    Family("ELECTRA", ("electra",), token_types=True),  # embeddings smaller than hidden: projected inside
    Family("ALBERT", ("albert",), token_types=True),  # factorised embeddings
    Family("MPNet", ("mpnet",), positions="from_ids"),
    Family("BART", ("bart",), reads="eos", encoder_decoder=True),
    # Rotary positions, local and global attention; a zero pad embedding feeds LayerNorm, as DeBERTa's.
    Family("ModernBERT", ("modernbert",), reads="pooling", baselines=("mask", "unk")),
    Family("EuroBERT", ("eurobert",), reads="pooling", baselines=("mask", "eos")),
    *(Family(name, types, reads="last", baselines=DECODER_BASELINES, removals=DECODER_BASELINES)
      for name, types in (("GPT-2", ("gpt2",)), ("Llama", ("llama",)), ("Mistral", ("mistral",)),
                          ("Qwen2/Qwen3", ("qwen2", "qwen3")), ("Phi-3", ("phi3",)),
                          ("Gemma 2/Gemma 3", ("gemma2", "gemma3_text")))),
)


def family_of(model_type: str) -> Family:
    for fam in FAMILIES:
        if model_type in fam.model_types:
            return fam
    names = ", ".join(f.name for f in FAMILIES)
    raise ExplainerError(
        f"Model type {model_type!r} is not supported yet. Supported families: {names}. "
        "Pick a sequence-classification checkpoint of one of them."
    )


# --------------------------------------------------------------------------- classifier


@dataclass(frozen=True, eq=False)
class Classifier:
    """A loaded text classifier, shared read-only by every caller and thread.

    ``model``, ``tokenizer`` and ``labels`` can be handed to other tools. The
    model is never mutated after loading: no hooks, no renamed labels, no
    flipped settings.
    """

    checkpoint: str
    model: Any
    tokenizer: Any
    labels: tuple[str, ...]
    family: Family
    multi_label: bool
    max_length: int
    revision: str | None = None
    provenance: dict = field(default_factory=dict)
    task: str = "classification"  # "nli" (zero-shot capable) or "embedding" (builtin:zeroshot)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def body_parameters(self) -> int:
        """Parameters outside the embedding tables: what every token is multiplied through (``ex.flops``)."""
        tables = {id(p) for m in self.model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
        return sum(p.numel() for p in self.model.parameters() if id(p) not in tables)

    @property
    def label_listing(self) -> str:
        """The labels by index, for error messages."""
        return "this model's labels are: " + ", ".join(f"{i}={name}" for i, name in enumerate(self.labels))

    def label_index(self, target: str | int | None, default: int) -> int:
        """A label given by name or index -> its index; None -> ``default``."""
        return label_index(self.labels, target, default, self.label_listing)

    @property
    def one_output(self) -> bool:
        """A head with one raw output (a regressor, reward model or cross-encoder): its score is
        explained as it is, with no probability and nothing to contrast it with."""
        return self.task == "classification" and len(self.labels) == 1 and not self.multi_label

    @property
    def has_generic_labels(self) -> bool:
        """The checkpoint names its labels LABEL_0, LABEL_1, ...: display names may be given at load."""
        own = getattr(self.model.config, "id2label", None) or {}
        return bool(self.labels) and bool(own) and all(_GENERIC_LABEL.match(str(name)) for name in own.values())

    def facts(self) -> dict:
        """What a page shows next to the picker."""
        cfg = self.model.config
        return {
            "checkpoint": self.checkpoint,
            "family": self.family.name,
            "layers": getattr(cfg, "num_hidden_layers", None),
            "heads": getattr(cfg, "num_attention_heads", None),
            "labels": list(self.labels),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "multi_label": self.multi_label,
            "output": "one raw score" if self.one_output else "a probability per label",
            "head reads": self.family.head_reads(cfg) if self.labels else "every token (mean-pooled)",
            "max_tokens": self.max_length,
            "task": self.task,
            "source": self.provenance.get("source"),
        }


def label_index(labels: Sequence[str], target: str | int | None, default: int, listing: str) -> int:
    """A label given by name or index (an int, or digits in a string) -> its index; None -> ``default``.

    ``listing`` ends the error message, naming the labels there are.
    """
    if target is None:
        return default
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if 0 <= int(target) < len(labels):
            return int(target)
    elif isinstance(target, str):
        for name in (target, target.strip()):
            if name in labels:
                return list(labels).index(name)
        if re.fullmatch(r"\s*\d{1,9}\s*", target, re.ASCII) and int(target) < len(labels):  # '1', not '²' or '--1'
            return int(target)
    raise ExplainerError(f"Unknown target {shown(target)}; {listing}.")


# --------------------------------------------------------------------------- loading


def parameter_count(config, loader) -> int:
    """Exact parameter count of the model a config describes, without allocating or downloading weights."""
    with torch.device("meta"):
        return sum(p.numel() for p in loader.from_config(config).parameters())


def _check_fits(checkpoint: str, size: int, device: torch.device, free: float | None = None) -> None:
    """Refuse, before any weight is read, a model whose float32 weights (and a quarter more, for loading
    and the first passes) would not fit the memory ``device`` has left (``free`` bytes; default: what
    the machine says), rather than make the machine swap or the GPU fail half way."""
    if free is None:
        if device.type == "cuda":
            free = float(torch.cuda.mem_get_info(device)[0])
        else:
            from .limits import available_memory

            free = available_memory()
    need = 1.25 * 4 * size
    if free is not None and need > free:
        where = "GPU memory" if device.type == "cuda" else "memory"
        raise ExplainerError(f"{checkpoint!r} needs about {need / 1e9:.1f} GB of {where} in float32 "
                             f"({size / 1e6:,.0f}M parameters), and this machine has {free / 1e9:.1f} GB free. "
                             "Pick a smaller checkpoint.")


_LOADING = threading.RLock()  # reentrant: nothing a load calls can deadlock on it


def load(checkpoint, revision: str | None = None, label_names: Sequence[str] | None = None,
         device: str | None = None, max_parameters: float | None = None, tokenizer=None) -> Classifier:
    """Load a sequence classifier from ``builtin:<name>``, a local folder or a hub id; or take one
    already in memory: a model object with its ``tokenizer`` (a notebook fine-tune never saved), or a
    transformers text-classification or zero-shot-classification pipeline.

    ``label_names`` gives display names to checkpoints whose labels are
    ``LABEL_0``, ``LABEL_1``, ...; they live on the Classifier, not the model.
    ``max_parameters`` refuses bigger models before their weights are fetched.
    Weights stored in bf16 or fp16 are loaded in float32.

    One load at a time in a process: transformers' lazy imports are not safe from two threads at
    once (two first imports of ``AutoConfig`` together: one gets an ImportError), and a server's
    sessions may load two checkpoints at the same moment.
    """
    with _LOADING:
        return _load(checkpoint, revision, label_names, device, max_parameters, tokenizer)


def _load(checkpoint, revision, label_names, device, max_parameters, tokenizer) -> Classifier:
    if not isinstance(checkpoint, str) and checkpoint is not None:
        return _from_memory(checkpoint, tokenizer, label_names, device)
    if tokenizer is not None:
        raise ExplainerError("tokenizer= goes with a model object; a checkpoint brings its own tokenizer.")
    if not isinstance(checkpoint, str) or not checkpoint.strip():
        raise ExplainerError("No checkpoint given. Use a hub id such as "
                             "'distilbert-base-uncased-finetuned-sst-2-english', a local folder, or 'builtin:sst2'.")
    checkpoint = checkpoint.strip()
    if revision is not None and (not isinstance(revision, str) or not re.fullmatch(r"[\w./-]{1,128}", revision)):
        raise ExplainerError(f"Invalid revision {revision!r}: use a branch, tag or commit hash.")
    where = source_of(checkpoint)
    builtin = where == "builtin"
    task = "classification"
    if builtin:
        from .builtins import BUILTINS, materialize

        name = checkpoint[len(BUILTIN_PREFIX):]
        source = str(materialize(name))
        task = BUILTINS[name].task
    elif where == "local":
        if not os.path.isdir(checkpoint):
            raise ExplainerError(f"{checkpoint!r} is a file; give the folder that holds the checkpoint's "
                                 "config.json, tokenizer and weights.")
        source = checkpoint
    else:
        _check_hub_id(checkpoint)
        source = checkpoint

    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    common = {"revision": revision, "trust_remote_code": False}
    config = _fetch(AutoConfig.from_pretrained, source, where, common)
    family = family_of(getattr(config, "model_type", None))
    archs = getattr(config, "architectures", None) or []
    if not builtin and not any(a.endswith("ForSequenceClassification") for a in archs):
        raise ExplainerError(
            f"{checkpoint!r} is not a text classifier (its architecture is {', '.join(archs) or 'unknown'}). "
            "Pick a checkpoint fine-tuned for sequence classification."
        )
    tokenizer = _fetch(AutoTokenizer.from_pretrained, source, where, common)
    if not getattr(tokenizer, "is_fast", False):
        raise ExplainerError(f"{checkpoint!r} has no fast tokenizer; explanations need its character offsets.")
    loader = AutoModel if task == "embedding" else AutoModelForSequenceClassification
    target_device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    size = parameter_count(config, loader)
    if max_parameters is not None and size > max_parameters:
        raise ExplainerError(f"{checkpoint!r} has {size / 1e6:,.0f}M parameters; the limit here is "
                             f"{max_parameters / 1e6:,.0f}M. Pick a smaller checkpoint.")
    _check_fits(checkpoint, size, target_device)
    model = _fetch(loader.from_pretrained, source, where, {**common, "dtype": torch.float32})
    model.eval()
    model.to(target_device)
    return _classifier(checkpoint, model, tokenizer, family, task, label_names, revision,
                       _provenance(checkpoint, where, revision, config, Path(source) if where != "hub" else None))


def _classifier(checkpoint: str, model, tokenizer, family: Family, task: str, label_names, revision,
                provenance: dict) -> Classifier:
    """The Classifier of a loaded model, whatever it was loaded from: labels from its config
    (renamed on request), NLI recognised by an entailment label, the input size it reads."""
    config = model.config
    labels = tuple(str(config.id2label.get(i, f"LABEL_{i}")) for i in range(config.num_labels))
    if task == "embedding":
        labels = ()  # candidate labels come with each request
    elif any(name.lower().startswith("entail") for name in config.label2id):
        task = "nli"
    if label_names is not None:
        labels = _rename(labels, label_names)
    elif len(set(labels)) != len(labels):
        raise ExplainerError(f"{checkpoint!r} has duplicate label names {labels}; give label_names at load time.")

    pos_limit = getattr(config, "max_position_embeddings", 512) or 512
    if family.positions == "from_ids":
        pos_limit -= family.padding_idx(model) + 1
    max_length = int(min(pos_limit, tokenizer.model_max_length or pos_limit, 1024))

    return Classifier(
        checkpoint=checkpoint,
        model=model,
        tokenizer=tokenizer,
        labels=labels,
        family=family,
        multi_label=getattr(config, "problem_type", None) == "multi_label_classification",
        max_length=max_length,
        revision=revision,
        provenance=provenance,
        task=task,
    )


PIPELINE_TASKS = ("text-classification", "sentiment-analysis", "zero-shot-classification")


def _from_memory(obj, tokenizer, label_names, device: str | None) -> Classifier:
    """A Classifier over a model object (or a pipeline's model and tokenizer) that stays the
    caller's: explanations run on a private twin in eval mode and float32 that shares the weights
    where they already are float32 on the wanted device (and copies them otherwise)."""
    from transformers import Pipeline, PreTrainedModel

    if isinstance(obj, Pipeline):
        if obj.task not in PIPELINE_TASKS:
            raise ExplainerError(f"ex.load takes a text-classification or zero-shot-classification pipeline; "
                                 f"this one is {obj.task!r}.")
        if tokenizer is not None:
            raise ExplainerError("A pipeline brings its own tokenizer; pass the pipeline alone.")
        obj, tokenizer = obj.model, obj.tokenizer
    if not isinstance(obj, PreTrainedModel):
        hint = (" Merge the adapters first (model.merge_and_unload())."
                if hasattr(obj, "merge_and_unload") else "")
        raise ExplainerError(f"ex.load takes a checkpoint name, a transformers model with its tokenizer, or a "
                             f"pipeline, not {type(obj).__name__}.{hint}")
    config = obj.config
    family = family_of(getattr(config, "model_type", None))
    name = type(obj).__name__
    if not name.endswith("ForSequenceClassification"):
        raise ExplainerError(f"This {name} is not a text classifier. Pass a model fine-tuned for sequence "
                             "classification (an ...ForSequenceClassification).")
    if tokenizer is None:
        raise ExplainerError("Pass the model's tokenizer too: ex.load(model, tokenizer=tokenizer).")
    if not getattr(tokenizer, "is_fast", False):
        raise ExplainerError("The tokenizer is not a fast tokenizer; explanations need its character offsets.")
    model = _private_twin(obj, device)
    label = getattr(config, "_name_or_path", "") or ""
    checkpoint = f"in-memory {name}" + (f" ({label})" if label else "")
    return _classifier(checkpoint, model, tokenizer, family, "classification", label_names, None,
                       _provenance(checkpoint, "in-memory", None, config, weights=model))


def _private_twin(model, device: str | None):
    """The caller's model as explanations need it (eval mode, float32, on ``device``), without
    touching the caller's object: new modules and config, the same tensors where nothing changes."""
    params = list(model.parameters()) + list(model.buffers())
    target = torch.device(device) if device else params[0].device
    if all(t.device == target and (t.dtype == torch.float32 or not t.is_floating_point()) for t in params):
        twin = copy.deepcopy(model, memo={id(t): t for t in params})
    else:
        twin = copy.deepcopy(model).to(device=target, dtype=torch.float32)
    return twin.eval()


def source_of(checkpoint: str) -> str:
    """Where a checkpoint comes from: "builtin" (``builtin:<name>``), "local" (a path on this
    machine) or "hub" (anything else, read as a hub id)."""
    if not isinstance(checkpoint, str):
        raise ExplainerError(f"A checkpoint is a string (a hub id, a folder or 'builtin:<name>'), "
                             f"not {type(checkpoint).__name__}.")
    checkpoint = checkpoint.strip()
    if checkpoint.startswith(BUILTIN_PREFIX):
        return "builtin"
    return "local" if os.path.exists(checkpoint) else "hub"


def _rename(labels: tuple[str, ...], names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    names = tuple(str(n).strip() for n in names)
    if len(names) != len(labels):
        raise ExplainerError(f"Got {len(names)} label names for a model with {len(labels)} labels "
                             f"({', '.join(labels)}).")
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ExplainerError("Label names must be non-empty and distinct.")
    if not all(_GENERIC_LABEL.match(label) for label in labels):
        raise ExplainerError(f"This model already names its labels ({', '.join(labels)}); "
                             "display names are for LABEL_0-style labels only.")
    return names


def _check_hub_id(checkpoint: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(checkpoint)
    except HFValidationError:
        raise ExplainerError(
            f"{checkpoint!r} is neither a built-in checkpoint, a local folder, nor a valid hub id "
            "('owner/name' or 'name'). Built-ins: " + ", ".join(_builtin_names()) + "."
        ) from None


def _builtin_names() -> list[str]:
    from .builtins import BUILTINS

    return [BUILTIN_PREFIX + n for n in BUILTINS]


_REACH_LOCK = threading.Lock()
_REACH_CACHE: dict[str, tuple[float, bool]] = {}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub endpoint answers a TCP connect; cached for a minute.

    transformers retries an unreachable hub for ~25 s; this says no in seconds.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    with _REACH_LOCK:
        seen = _REACH_CACHE.get(host)
        if seen and time.monotonic() - seen[0] < 60:
            return seen[1]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    with _REACH_LOCK:
        _REACH_CACHE[host] = (time.monotonic(), ok)
    return ok


def _fetch(loader, source: str, where: str, kwargs: dict):
    """Call a from_pretrained loader, turning hub and file errors into ExplainerError."""
    if where != "hub":
        kwargs = {**kwargs, "local_files_only": True}
    elif not hub_reachable():
        kwargs = {**kwargs, "local_files_only": True}
    try:
        return loader(source, **kwargs)
    except ExplainerError:
        raise
    except Exception as err:  # transformers/huggingface_hub raise many types; the caller gets one
        raise _load_error(source, where, kwargs, err) from None


def _load_error(source: str, where: str, kwargs: dict, err: Exception) -> ExplainerError:
    text = str(err)
    name = type(err).__name__
    if where == "hub" and kwargs.get("local_files_only"):
        return ExplainerError(
            f"Cannot reach the Hugging Face Hub to download {source!r}, and it is not in the local cache. "
            "Check the network (or HF_ENDPOINT), or use a built-in checkpoint such as 'builtin:sst2' "
            "or a local folder."
        )
    if "RepositoryNotFound" in name or "404" in text or "is not a local folder and is not a valid model" in text:
        return ExplainerError(f"No model {source!r} on the Hugging Face Hub (or it is private/gated). Check the id.")
    if "RevisionNotFound" in name:
        return ExplainerError(f"Revision {kwargs.get('revision')!r} of {source!r} does not exist.")
    if "Weights only load failed" in text or "weights_only" in text:
        return ExplainerError(f"{source!r} stores its weights in a pickle that holds more than tensors: reading it "
                              "could run code, so the weights-only load refused it. Use a checkpoint with "
                              "safetensors weights (model.safetensors).")
    if "trust_remote_code" in text:
        return ExplainerError(f"{source!r} needs custom code from its repository, which this tool never runs.")
    first = text.strip().splitlines()[0][:300] if text.strip() else name
    return ExplainerError(f"Could not load {source!r} ({where}): {first}")


def _provenance(checkpoint: str, where: str, revision: str | None, config, folder: Path | None = None,
                weights=None) -> dict:
    """Where the model came from and which versions explained it; the folder's files or the
    in-memory model's weights are hashed, so a result can be traced to the exact model."""
    import captum
    import transformers

    from . import __version__

    prov = {
        "checkpoint": checkpoint,
        "source": where,
        "revision": revision or getattr(config, "_commit_hash", None),
        "explainers": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "captum": captum.__version__,
    }
    if folder is not None:
        prov["content_sha256"] = folder_hash(folder)
    if weights is not None:
        prov["weights_sha256"] = weights_hash(weights)
    return prov


def weights_hash(model) -> str:
    """sha256 over a model's state dict (names and bytes, in order)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def folder_hash(folder: Path) -> str:
    """sha256 over a checkpoint folder's config, tokenizer and weight files."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".txt", ".model"}:
            digest.update(path.name.encode())
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()
