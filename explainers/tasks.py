"""What is explained: a task turns token ids into the label scores being explained.

Four tasks, one object each: a fine-tuned classifier, NLI zero-shot over
candidate labels, an NLI premise/hypothesis pair, and embedding-similarity
zero-shot. Every task gives label *logits* two ways: from ids by the model's
own forward pass (``logits``: predictions, the auto baseline, F(x) and F(x')),
and from word embeddings (``logits_from_embeddings``: the function the
attribution methods differentiate). Probabilities are the softmax of those
logits, or a sigmoid per label for multi-label tasks, in every task, so one
``squash`` serves them all; the Scorer is built the same way for all four.

``task_for`` decides which task a request is; explain, predict, the pages and
the CLI all ask it.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Callable, ClassVar, Sequence

import numpy as np
import torch

from . import zeroshot as zs
from .attention import attends_eagerly
from .attention import attention as attention_maps
from .checkpoints import Classifier, label_index
from .errors import ExplainerError
from .results import Prediction
from .scoring import (
    EAGER_CELLS_PER_PASS,
    Encoded,
    Scorer,
    Stack,
    check_characters,
    contrast,
    encode,
    pad_rows,
    padding_id,
    pass_tokens,
    reduced,
    squash,
    stack,
)

Input = Encoded | zs.Pairs  # one text as a task reads it
Batch = Input | Stack  # what a scorer is built on: one input, or several stacked


@dataclass(frozen=True, eq=False)
class Task:
    """The base of the four tasks; subclasses say how ids become label logits."""

    clf: Classifier
    labels: tuple[str, ...]
    multi_label: bool
    notices: tuple[str, ...] = ()  # what was changed in the request (duplicate labels removed, ...)
    kind: ClassVar[str]
    candidates: ClassVar[bool] = False  # the labels are the request's candidates, not the model's own
    stackable: ClassVar[bool] = False  # several texts can share one forward pass (``stack``)

    # -- what every task defines -------------------------------------------
    def read(self, text: str) -> Input:
        """The text encoded as this task feeds it to the model."""
        raise NotImplementedError

    def logits(self, x: Input, ids: torch.Tensor | None = None) -> torch.Tensor:
        """[labels of x] from the model's own forward pass on ``ids`` (default: x's own)."""
        raise NotImplementedError

    def variant_logits(self, x: Input, ids: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``logits`` of x with each of ``ids`` (x's ids with tokens replaced: baselines), in one forward
        pass where the task can (one here; a classifier overrides it)."""
        return [self.logits(x, i) for i in ids]

    def logits_from_embeddings(self, x: Batch, embeddings: Sequence[torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
        """[B, labels of x] from a batch of word embeddings shaped like ``embed(x, ...)``'s;
        ``rows`` [B]: the row of x each example stands for."""
        raise NotImplementedError

    def owners(self, x: Batch) -> tuple[np.ndarray, ...]:
        """For each embedding use, [rows, positions...] -> the explanation slot of every position;
        slots [0, len(text tokens)) are the text's tokens, any after them hypotheses and padding."""
        per_row = [self.clf.family.owners(x.n_tokens, final=int(r)) for r in x.reads]
        return tuple(np.stack([own[use] for own in per_row]) for use in range(len(per_row[0])))

    def stack(self, xs: Sequence[Input]) -> Batch:
        """Several inputs as one batch (only where ``stackable``)."""
        if len(xs) == 1:
            return xs[0]
        if not self.stackable:
            raise ExplainerError(f"The {self.kind} task explains one text per pass.")
        return stack(xs)

    def extras(self, x: Input, slot_scores: np.ndarray, target: int) -> dict:
        """What this task adds to an explanation's extras (``target`` indexes x's labels)."""
        return {}

    # -- shared ---------------------------------------------------------------
    @property
    def label_listing(self) -> str:
        if self.candidates:
            return "the candidate labels are: " + ", ".join(self.labels)
        return self.clf.label_listing

    def candidate_extras(self, template: str) -> dict:
        """What a zero-shot explanation records of its request."""
        return {"labels": list(self.labels), "template": template, "multi_label": self.multi_label,
                "notices": list(self.notices)}

    def label_index(self, label: str | int | None, default: int) -> int:
        return label_index(self.labels, label, default, self.label_listing)

    def indices(self, target, versus, default: int) -> tuple[int, int | None]:
        """Target and contrast label indices (by name or index); they must differ."""
        if versus is not None and self.raw_score:
            raise ExplainerError(f"{self.clf.checkpoint} has one output, a raw score: there is no other label "
                                 "to contrast it with.")
        t = self.label_index(target, default)
        v = None if versus is None else self.label_index(versus, default)
        if v == t:
            raise ExplainerError("The contrast label must differ from the target label.")
        return t, v

    def focus(self, x: Input, logits: torch.Tensor, target: int, versus: int | None):
        """The part of x the explained score depends on, its logits and the labels' indices in it.
        All of x, except where a label's score is independent of the others' inputs."""
        return x, logits, target, versus

    def embed(self, x: Batch, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Word embeddings of ``ids`` [rows, ...] for each embedding use, detached."""
        with torch.no_grad():
            return tuple(e.detach() for e in self.clf.family.embed(self.clf.model, ids))

    def scores(self, logits: torch.Tensor, output: str = "probability") -> torch.Tensor:
        return squash(logits, self.multi_label, output)

    def explained(self, logits: torch.Tensor, target, versus, output: str) -> torch.Tensor:
        """[B, labels] logits -> [B]: the number explained, the target's score minus the contrast's
        (label indices, or one per row [B])."""
        return contrast(self.scores(logits, output), target, versus)

    def text_logits(self, texts: Sequence[str], batch_size: int = 32) -> list[torch.Tensor]:
        """[labels] for each text from the model's own forward pass (one text at a time here; the
        tasks that can share passes override it)."""
        return [self.logits(self.read(text)) for text in texts]

    def probabilities(self, texts: Sequence[str], batch_size: int = 32) -> list[np.ndarray]:
        """Every label's probability for each text (predict)."""
        return [self.scores(logits).cpu().numpy() for logits in self.text_logits(texts, batch_size)]

    def explained_texts(self, texts: Sequence[str], target: int, versus: int | None, output: str,
                        batch_size: int = 32) -> np.ndarray:
        """[texts] float64: the explained number on each text (``target``/``versus`` index this task's
        labels), for edited texts such as faithfulness's deletions. Classification and similarity take
        an empty text too (the model reads only its special tokens), and so do NLI tasks (below)."""
        logits = torch.stack(list(self.text_logits(texts, batch_size)))
        return self.explained(logits, target, versus, output).double().cpu().numpy()

    @property
    def raw_score(self) -> bool:
        """The model's own one-output head: its raw score is what is explained (see ``squash``)."""
        return not self.candidates and self.clf.one_output

    def output(self, opts: dict, given) -> dict:
        """The method's options with ``output`` as this task explains it: a raw score is a logit."""
        if not self.raw_score or opts["output"] == "logit":
            return opts
        if given.get("output") is not None:
            raise ExplainerError(f"{self.clf.checkpoint} has one output, a raw score with no probability; "
                                 "leave output unset or use output='logit'.")
        return {**opts, "output": "logit"}

    def prediction(self, probabilities: np.ndarray) -> Prediction:
        return Prediction(label=self.labels[int(np.argmax(probabilities))],
                          scores={name: float(p) for name, p in zip(self.labels, probabilities)},
                          multi_label=self.multi_label, notices=self.notices,
                          output="score" if self.raw_score else "probability")

    def scorer(self, x: Batch, targets: Sequence[int], versus: Sequence[int] | None, baseline_ids: torch.Tensor,
               output: str, precision: str = "fp32") -> Scorer:
        """F(embeddings): each row's target score (minus its contrast's), as ``output``.
        ``baseline_ids``: x's ids with the text replaced (``scoring.baseline_ids``), one row per row.
        ``precision`` "bf16": the model's matrix products in bfloat16 (``scoring.reduced``); the
        label logits and everything after them stay float32."""
        device = x.input_ids.device
        t = torch.as_tensor(list(targets), device=device)
        v = None if versus is None else torch.as_tensor(list(versus), device=device)
        fast, autocast = reduced(self.clf, precision)

        def scores(task: Task, context) -> Callable[..., torch.Tensor]:
            def forward(*embeddings_and_rows: torch.Tensor) -> torch.Tensor:
                *embeddings, rows = embeddings_and_rows
                with context():
                    logits = task.logits_from_embeddings(x, embeddings, rows)
                return self.explained(logits.float(), t[rows], None if v is None else v[rows], output)

            return forward

        scorer = Scorer(forward=scores(self, contextlib.nullcontext), inputs=self.embed(x, x.input_ids),
                        baselines=self.embed(x, baseline_ids), owners=self.owners(x),
                        batch_divisor=self.sequences(x), tokens_per_pass=pass_tokens(self.clf),
                        body_parameters=self.clf.body_parameters)
        if precision == "fp32":
            return scorer
        task = self if fast is self.clf.model else replace(self, clf=replace(self.clf, model=fast))
        return replace(scorer, forward=scores(task, autocast), exact=scorer,
                       cells_per_pass=EAGER_CELLS_PER_PASS if attends_eagerly(fast) else None)

    def sequences(self, x: Batch) -> int:
        """Sequences per example through the model (one per candidate pair for NLI)."""
        return 1


def _variants_at_once(clf: Classifier, x: Input, ids: Sequence[torch.Tensor]) -> torch.Tensor:
    """The model's own forward pass on every variant of x at once (each of ``ids`` shaped like x's ids,
    its rows repeated for each): [len(ids) x x's rows, classes], float32."""
    k = len(ids)

    def tiled(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.repeat(k, *([1] * (t.dim() - 1)))

    with torch.no_grad():
        return clf.family.plain_logits(clf.model, torch.cat(list(ids)), tiled(x.attention_mask),
                                       position_ids=tiled(x.position_ids), token_type_ids=tiled(x.token_type_ids),
                                       reads=tiled(x.reads)).float()


def _take(t: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
    """Each example's row of a per-row tensor."""
    return None if t is None else t[rows]


@dataclass(frozen=True, eq=False)
class Classification(Task):
    """A fine-tuned classifier on the text alone: the model's own labels."""

    kind: ClassVar[str] = "classification"
    stackable: ClassVar[bool] = True

    def read(self, text: str) -> Encoded:
        return encode(self.clf, text)

    def logits(self, x: Encoded, ids: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            out = self.clf.family.plain_logits(self.clf.model, x.input_ids if ids is None else ids, x.attention_mask,
                                               position_ids=x.position_ids, token_type_ids=x.token_type_ids,
                                               reads=x.reads)
        return out.float()[0]

    def variant_logits(self, x: Encoded, ids: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """All variants in one pass: they have x's length and attention mask, so nothing is padded."""
        return list(_variants_at_once(self.clf, x, ids))

    def logits_from_embeddings(self, x: Encoded | Stack, embeddings, rows) -> torch.Tensor:
        return self.clf.family.logits_from_embeddings(
            self.clf.model, embeddings, _take(x.attention_mask, rows), position_ids=_take(x.position_ids, rows),
            token_type_ids=_take(x.token_type_ids, rows), reads=_take(x.reads, rows))

    def scorer(self, x: Encoded | Stack, targets: Sequence[int], versus: Sequence[int] | None,
               baseline_ids: torch.Tensor, output: str, precision: str = "fp32") -> Scorer:
        """The shared scorer; for one text without a contrast, also its attention maps for the target
        (``ex.attention``, on demand: only the attention methods ask)."""
        scorer = super().scorer(x, targets, versus, baseline_ids, output, precision)
        if not isinstance(x, Encoded) or versus is not None:
            return scorer
        clf, text, target = self.clf, x.text, int(targets[0])
        return replace(scorer, attention=lambda: attention_maps(clf, text, target, output))

    def text_logits(self, texts: Sequence[str], batch_size: int = 32) -> list[torch.Tensor]:
        """In padded batches of similar lengths (less padding), each row as if alone; tokenized here,
        so an empty text gets logits too (faithfulness). Padded here, not by the tokenizer: many
        decoder-only tokenizers have no pad token (their rows read their own last token)."""
        clf = self.clf
        order = np.argsort([len(t) for t in texts], kind="stable")
        pad = padding_id(clf.tokenizer)
        out: dict[int, torch.Tensor] = {}
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            enc = clf.tokenizer([texts[i] for i in idx], truncation=True, max_length=clf.max_length)
            ids, mask, types = (None if name not in enc else
                                pad_rows([torch.tensor([row]) for row in enc[name]], value).to(clf.device)
                                for name, value in (("input_ids", pad), ("attention_mask", 0), ("token_type_ids", 0)))
            with torch.no_grad():
                logits = clf.family.plain_logits(clf.model, ids, mask, token_type_ids=types)
            for i, row in zip(idx, logits.float()):
                out[int(i)] = row
        return [out[i] for i in range(len(texts))]


@dataclass(frozen=True, eq=False)
class Similarity(Task):
    """builtin:zeroshot: labels scored by the cosine similarity of mean-pooled sentence embeddings of
    the text and of each label's hypothesis; the hypotheses' embeddings are held fixed."""

    template: str = zs.DEFAULT_TEMPLATE_SIMILARITY
    kind: ClassVar[str] = "zero-shot-similarity"
    candidates: ClassVar[bool] = True
    stackable: ClassVar[bool] = True

    @cached_property
    def hypotheses(self) -> torch.Tensor:
        """[labels, D]: computed on first use, not when a page only asks for the labels."""
        return zs.sentence_embeddings(self.clf, [self.template.format(label) for label in self.labels])

    def read(self, text: str) -> Encoded:
        return encode(self.clf, text)

    def _from_hidden(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return zs.similarity_logits(zs.mean_pool(hidden, mask) @ self.hypotheses.T, self.multi_label)

    def logits(self, x: Encoded, ids: torch.Tensor | None = None) -> torch.Tensor:
        inputs = self.clf.family.model_inputs(self.clf.model, x.input_ids if ids is None else ids, x.attention_mask,
                                              x.position_ids, x.token_type_ids)
        with torch.no_grad():
            hidden = self.clf.model(**inputs).last_hidden_state
        return self._from_hidden(hidden, x.attention_mask)[0]

    def logits_from_embeddings(self, x: Encoded | Stack, embeddings, rows) -> torch.Tensor:
        mask = _take(x.attention_mask, rows)
        hidden = self.clf.model(inputs_embeds=embeddings[0], attention_mask=mask,
                                token_type_ids=_take(x.token_type_ids, rows)).last_hidden_state
        return self._from_hidden(hidden, mask)

    def text_logits(self, texts: Sequence[str], batch_size: int = 32) -> list[torch.Tensor]:
        out = []
        for start in range(0, len(texts), batch_size):
            cosine = zs.sentence_embeddings(self.clf, list(texts[start:start + batch_size])) @ self.hypotheses.T
            out.extend(zs.similarity_logits(cosine, self.multi_label).float())
        return out

    def extras(self, x, slot_scores, target) -> dict:
        return {**self.candidate_extras(self.template), "scale": zs.SCALE,
                **({"center": zs.CENTER} if self.multi_label else {})}


@dataclass(frozen=True, eq=False)
class _NLI(Task):
    """An NLI checkpoint on (text, hypothesis) pairs, encoded and run as transformers' zero-shot
    pipeline does. All pairs form one input [1, pairs, T, D] per embedding use, so the methods
    attribute every pair the explained score depends on at once."""

    hypotheses: tuple[str, ...] = ()

    def pair_labels(self, logits: torch.Tensor) -> torch.Tensor:
        """[B, pairs, classes] NLI logits -> [B, labels] label logits."""
        raise NotImplementedError

    def read(self, text: str) -> zs.Pairs:
        return zs.encode_pairs(self.clf, text, list(self.hypotheses))

    def logits(self, x: zs.Pairs, ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.pair_labels(zs.pair_logits(self.clf, x, ids).unsqueeze(0))[0]

    def variant_logits(self, x: zs.Pairs, ids: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Every variant's pairs in one padded pass (padding masked out); predictions stay one pair at a
        time, as the pipeline reads them."""
        return list(self.pair_labels(_variants_at_once(self.clf, x, ids).view(len(ids), x.input_ids.shape[0], -1)))

    def embed(self, x: zs.Pairs, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One row: all pairs [1, pairs, T, D]."""
        return tuple(e.unsqueeze(0) for e in super().embed(x, ids))

    def sequences(self, x: zs.Pairs) -> int:
        return int(x.input_ids.shape[0])

    def logits_from_embeddings(self, x: zs.Pairs, embeddings, rows) -> torch.Tensor:
        batch, (n_pairs, width) = embeddings[0].shape[0], x.input_ids.shape  # one row: every example is it

        def tile(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.repeat(batch, *([1] * (t.dim() - 1)))

        flat = [e.reshape(batch * n_pairs, width, e.shape[-1]) for e in embeddings]
        logits = self.clf.family.logits_from_embeddings(
            self.clf.model, flat, tile(x.attention_mask), position_ids=tile(x.position_ids),
            token_type_ids=tile(x.token_type_ids), reads=tile(x.reads))
        return self.pair_labels(logits.reshape(batch, n_pairs, -1))

    def owners(self, x: zs.Pairs) -> tuple[np.ndarray, ...]:
        """Each pair's positions mapped through the family's owners (BART's shifted decoder),
        then onto the slots: premise tokens, each pair's hypothesis region, padding."""
        n_pairs, width = x.input_ids.shape
        where = x.slots.owners
        per_pair = [self.clf.family.owners(width, final=int(x.reads[p])) for p in range(n_pairs)]
        return tuple(np.take_along_axis(where, np.stack([own[use] for own in per_pair]), axis=1)[None]
                     for use in range(len(per_pair[0])))

    def pair_names(self, x: zs.Pairs, target: int) -> list[str]:
        raise NotImplementedError

    def explained_texts(self, texts: Sequence[str], target: int, versus: int | None, output: str,
                        batch_size: int = 32) -> np.ndarray:
        """Each text as the premise of every pair the score needs (multi-label: only the target's and
        the contrast's), tokenized as the pipeline does; an empty premise leaves the special tokens and
        the hypothesis. Pairs of equal length and special tokens share a pass, unpadded: each as if alone."""
        chosen = ([target] + ([] if versus is None else [versus])) if self.multi_label else range(len(self.hypotheses))
        hypotheses = [self.hypotheses[i] for i in chosen]
        t, v = (0, None if versus is None else 1) if self.multi_label else (target, versus)
        logits = self._pair_logits([(text, h) for text in texts for h in hypotheses], batch_size)
        labels = self.pair_labels(logits.reshape(len(texts), len(hypotheses), -1))
        return self.explained(labels, t, v, output).double().cpu().numpy()

    def _pair_logits(self, pairs: list[tuple[str, str]], batch_size: int) -> torch.Tensor:
        clf = self.clf
        try:
            enc = clf.tokenizer([list(p) for p in pairs], truncation="only_first", max_length=clf.max_length)
        except Exception as err:  # the tokenizer says the hypothesis alone is too long
            raise ExplainerError(f"Cannot fit the text and hypothesis into the model's input ({err}). "
                                 "Use shorter labels or template.") from None
        special = set(clf.tokenizer.all_special_ids)
        groups: dict[tuple, list[int]] = {}
        for i, ids in enumerate(enc["input_ids"]):
            groups.setdefault((len(ids), tuple(t for t in ids if t in special)), []).append(i)
        out: list[torch.Tensor | None] = [None] * len(pairs)
        for members in groups.values():
            for start in range(0, len(members), batch_size):
                idx = members[start:start + batch_size]
                ids = torch.tensor([enc["input_ids"][i] for i in idx], device=clf.device)
                types = (torch.tensor([enc["token_type_ids"][i] for i in idx], device=clf.device)
                         if "token_type_ids" in enc else None)
                with torch.no_grad():
                    logits = clf.family.plain_logits(clf.model, ids, torch.ones_like(ids), token_type_ids=types)
                for i, row in zip(idx, logits.float()):
                    out[i] = row
        return torch.stack(out)

    def extras(self, x: zs.Pairs, slot_scores: np.ndarray, target: int) -> dict:
        """Each pair's hypothesis tokens and their scores, reported apart from the text's words."""
        where = x.slots
        names = self.pair_names(x, target)
        hypotheses = [{"label": names[p], "hypothesis": x.hypotheses[p],
                       "tokens": list(x.tokens[p][int(x.premise_end[p]):]), "scores": slot_scores[a:b].tolist()}
                      for p, (a, b) in enumerate(where.hypothesis)]
        return {"hypotheses": hypotheses,
                "hypothesis_total": float(sum(sum(h["scores"]) for h in hypotheses)),
                "padding_total": float(slot_scores[where.padding]) if where.padding < len(slot_scores) else 0.0}


@dataclass(frozen=True, eq=False)
class NLIZeroShot(_NLI):
    """Zero-shot over candidate labels, the pipeline's rules: each label's hypothesis from the
    template; single-label: softmax over the labels' entailment logits; multi-label: per label,
    entailment against contradiction."""

    template: str = zs.DEFAULT_TEMPLATE
    kind: ClassVar[str] = "zero-shot"
    candidates: ClassVar[bool] = True

    @cached_property
    def entail_contradiction(self) -> tuple[int, int]:
        return zs.nli_indices(self.clf)

    def pair_labels(self, logits: torch.Tensor) -> torch.Tensor:
        entail, contradiction = self.entail_contradiction
        if self.multi_label:  # sigmoid(e - c) == softmax([c, e])[1], the pipeline's number
            return logits[..., entail] - logits[..., contradiction]
        return logits[..., entail]

    def focus(self, x, logits, target, versus):
        """Multi-label: a label's score needs only its own pair, so only the target's (and the
        contrast's) pairs are attributed."""
        if not self.multi_label or len(self.labels) == 1 + (versus is not None):
            return x, logits, target, versus
        chosen = [target] + ([versus] if versus is not None else [])
        part = zs.encode_pairs(self.clf, x.premise, [self.hypotheses[i] for i in chosen])
        return part, logits[chosen], 0, (None if versus is None else 1)

    def pair_names(self, x, target) -> list[str]:
        return [self.labels[self.hypotheses.index(h)] for h in x.hypotheses]

    def extras(self, x, slot_scores, target) -> dict:
        return {**self.candidate_extras(self.template), **super().extras(x, slot_scores, target)}


@dataclass(frozen=True, eq=False)
class NLIPair(_NLI):
    """An NLI checkpoint on the premise and hypothesis the user typed: the model's own labels."""

    kind: ClassVar[str] = "nli-pair"

    def pair_labels(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, 0]

    def pair_names(self, x, target) -> list[str]:
        return [self.labels[target]]

    def extras(self, x, slot_scores, target) -> dict:
        return {"hypothesis": self.hypotheses[0], **super().extras(x, slot_scores, target)}


TASKS: tuple[type[Task], ...] = (Classification, NLIZeroShot, NLIPair, Similarity)


def task_for(clf: Classifier, labels=None, template: str | None = None, multi_label: bool = False,
             hypothesis: str | None = None) -> Task:
    """Which task a request is, from the checkpoint's kind, candidate labels and hypothesis.

    Candidate labels: zero-shot (NLI checkpoints and builtin:zeroshot); a
    hypothesis: an NLI pair; neither: the checkpoint's own labels.
    """
    if not isinstance(clf, Classifier):
        raise ExplainerError(f"Pass a classifier from ex.load(checkpoint), not {type(clf).__name__}.")
    if clf.task == "embedding" and labels is None:
        raise ExplainerError(f"{clf.checkpoint} classifies into the labels you give: pass labels=[...].")
    if labels is not None and clf.task == "classification":
        raise ExplainerError(f"{clf.checkpoint!r} is a fine-tuned classifier with fixed labels "
                             f"({', '.join(clf.labels)}), not an NLI model: it cannot take candidate labels. "
                             "Pick an NLI checkpoint (e.g. facebook/bart-large-mnli) or builtin:zeroshot.")
    if labels is not None:
        if hypothesis is not None:
            raise ExplainerError("Give either candidate labels (zero-shot) or a hypothesis (NLI pair), not both.")
        cand = zs.candidates(labels, zs.default_template(clf) if template is None else template, multi_label)
        if clf.task == "embedding":
            return Similarity(clf, cand.labels, cand.multi_label, cand.notices, template=cand.template)
        return NLIZeroShot(clf, cand.labels, cand.multi_label, cand.notices, hypotheses=tuple(cand.hypotheses),
                           template=cand.template)
    if hypothesis is not None:
        if clf.task != "nli":
            raise ExplainerError(f"{clf.checkpoint!r} is not an NLI model; a hypothesis needs one.")
        if not isinstance(hypothesis, str):
            raise ExplainerError(f"The hypothesis must be a string, not {type(hypothesis).__name__}.")
        if not hypothesis.strip():
            raise ExplainerError("The hypothesis is empty. Type a sentence to test against the text.")
        check_characters(hypothesis, "The hypothesis")
        return NLIPair(clf, clf.labels, False, hypotheses=(hypothesis,))
    return Classification(clf, clf.labels, clf.multi_label)
