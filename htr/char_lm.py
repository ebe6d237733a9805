"""A character n-gram language model over a line model's tokens, for shallow fusion.

The line models read one character per token, so a model of which character follows which
(learnt from the training transcriptions) can steer beam search towards spellings the
corpus writes: ``joint score + weight * log P_lm(token | the tokens before)`` at every step
(`htr.beam_search`). It is an interpolated Kneser-Ney model (Chen and Goodman, 1998): the
highest order counts n-grams, the lower orders count the distinct tokens that precede them,
each order gives up an absolute discount ``D = n1 / (n1 + 2 n2)`` to the order below, and
order 0 is uniform over the vocabulary.

A line starts with ``order - 1`` start tokens and ends with the end token, so the model also
knows how lines begin and end. It is stored next to the weights as ``char_lm.npz``, with the
fusion weight that suited the model (`CharLanguageModel.weight`); a recognizer uses that weight
unless told another (`htr.reading.RecognizerSettings.lm_weight`).
"""

from __future__ import annotations

import json
import logging
import math
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from htr.atomic_files import PUBLIC_MODE, write_atomically
from htr.errors import LegajoError

logger = logging.getLogger(__name__)

LM_FILE = "char_lm.npz"
"""Name of the language model file in a checkpoint directory."""
FORMAT_VERSION = 1
DEFAULT_ORDER = 6
DEFAULT_WEIGHT = 0.4
CACHE_LIMIT = 200_000
"""Contexts whose distributions are kept; the cache is emptied when it grows past this."""


class LanguageModelError(LegajoError):
    """A language model cannot be made, or its file is malformed or does not fit the model."""


@dataclass(frozen=True, slots=True)
class _Level:
    """The counts of one order, as arrays.

    Context ``i`` (a row of `contexts`) is followed by tokens ``ids[offsets[i]:offsets[i +
    1]]``, each as often as ``counts`` says; `rows` finds a context's row. Worked out once:
    each follower's discounted share (`shares`) and each context's weight of the order
    below (`backoff`).
    """

    contexts: npt.NDArray[np.int32]
    offsets: npt.NDArray[np.int64]
    ids: npt.NDArray[np.int32]
    counts: npt.NDArray[np.float64]
    discount: float
    rows: dict[tuple[int, ...], int]
    shares: npt.NDArray[np.float64]
    backoff: npt.NDArray[np.float64]

    @classmethod
    def from_arrays(
        cls,
        contexts: npt.NDArray[np.int32],
        offsets: npt.NDArray[np.int64],
        ids: npt.NDArray[np.int32],
        counts: npt.NDArray[np.float64],
        discount: float,
    ) -> _Level:
        rows = {tuple(context): row for row, context in enumerate(contexts.tolist())}
        # reduceat needs at least one follower; a level without any has no contexts either
        totals = np.add.reduceat(counts, offsets[:-1]) if len(ids) else np.ones(0)
        per_follower = np.repeat(totals, np.diff(offsets))
        shares = np.maximum(counts - discount, 0.0) / per_follower
        backoff = discount * np.diff(offsets) / totals
        return cls(contexts, offsets, ids, counts, discount, rows, shares, backoff)

    def mix(
        self, context: tuple[int, ...], below: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """The distribution after `context` from `below`, that of its shorter context."""
        row = self.rows.get(context)
        if row is None:
            return below  # an unseen context leaves everything to the order below
        start, end = self.offsets[row], self.offsets[row + 1]
        probs = below * self.backoff[row]
        probs[self.ids[start:end]] += self.shares[start:end]
        return probs


@dataclass(slots=True)
class CharLanguageModel:
    """An interpolated Kneser-Ney n-gram model over token ids.

    Attributes:
        order: The n of the n-grams (context of ``order - 1`` tokens).
        vocabulary: Tokens in the vocabulary (ids 0 .. vocabulary - 1).
        start_id: The token that pads the context at the start of a line.
        end_id: The token that ends a line.
        lines: Lines it was trained on (for the model card).
        weight: The fusion weight to read with (`htr.beam_search.beam_search`).
    """

    order: int
    vocabulary: int
    start_id: int
    end_id: int
    lines: int
    weight: float
    _levels: list[_Level]
    _cache: dict[tuple[int, ...], npt.NDArray[np.float32]] = field(default_factory=dict)
    _mixed: dict[tuple[int, ...], npt.NDArray[np.float64]] = field(default_factory=dict)

    @classmethod
    def train(
        cls,
        lines: Iterable[Sequence[int]],
        vocabulary: int,
        start_id: int,
        end_id: int,
        order: int = DEFAULT_ORDER,
        weight: float = DEFAULT_WEIGHT,
    ) -> CharLanguageModel:
        """Counts the n-grams of tokenised lines.

        Args:
            lines: Each line's token ids, without start or end token.
            vocabulary: Tokens in the vocabulary.
            start_id: The start token (context padding).
            end_id: The end token (predicted after each line's last token).
            order: The n of the n-grams, at least 1.
            weight: The fusion weight to store with it.

        Returns:
            The model.

        Raises:
            LanguageModelError: `order` is below 1, `weight` below 0, there are no lines,
                or a token is outside the vocabulary.
        """
        if order < 1:
            raise LanguageModelError(f"order must be at least 1, not {order}")
        if not 0 <= weight < math.inf:
            raise LanguageModelError(f"weight must be a number of at least 0, not {weight}")
        top: Counter[tuple[int, ...]] = Counter()
        count = 0
        for ids in lines:
            padded = [start_id] * (order - 1) + list(ids) + [end_id]
            top.update(tuple(padded[i : i + order]) for i in range(len(padded) - order + 1))
            count += 1
        if not count:
            raise LanguageModelError("no lines to train a language model on")
        levels_counts = [top]
        for _ in range(order - 1):
            # Kneser-Ney: a lower order counts the distinct tokens seen before each n-gram.
            lower: Counter[tuple[int, ...]] = Counter(gram[1:] for gram in levels_counts[-1])
            levels_counts.append(lower)
        outside = {t for gram in top for t in gram if not 0 <= t < vocabulary}
        if outside:
            raise LanguageModelError(
                f"tokens {sorted(outside)[:5]} are outside the vocabulary of {vocabulary}"
            )
        levels = [_level(counts, k) for k, counts in enumerate(reversed(levels_counts))]
        logger.info("character %d-gram model of %d lines", order, count)
        return cls(order, vocabulary, start_id, end_id, count, weight, levels)

    def describe(self, weight: float | None = None) -> str:
        """A short description for provenance records, e.g. ``"5-gram, weight 0.3"``.

        Args:
            weight: The weight it is read with, when not its own.
        """
        return f"{self.order}-gram, weight {self.weight if weight is None else weight:g}"

    def log_probs(self, history: Sequence[int]) -> npt.NDArray[np.float32]:
        """Natural log-probabilities of every next token after `history`.

        Args:
            history: The tokens of the line so far (no start token).

        Returns:
            A (vocabulary,) array (shared with later calls: do not change it).
        """
        context = tuple(history[-(self.order - 1) :]) if self.order > 1 else ()
        if len(context) < self.order - 1:
            context = (self.start_id,) * (self.order - 1 - len(context)) + context
        found = self._cache.get(context)
        if found is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
                self._mixed.clear()
            found = self._log_probs(context)
        return found

    def _log_probs(self, context: tuple[int, ...]) -> npt.NDArray[np.float32]:
        """`log_probs` of a context of any length up to ``order - 1``, kept in the cache.

        A context the training lines never had has the distribution of its suffix one token
        shorter (`_Level.mix`): it shares that array.
        """
        found = self._cache.get(context)
        if found is None:
            if context and context not in self._levels[len(context)].rows:
                found = self._log_probs(context[1:])
            else:
                found = np.log(self._probs(context)).astype(np.float32)
            self._cache[context] = found
        return found

    def _probs(self, context: tuple[int, ...]) -> npt.NDArray[np.float64]:
        """The distribution after `context` (any length up to ``order - 1``).

        Each order mixes its counts into the distribution of the context one token shorter;
        those are kept too, so a new context usually costs one mixing step.
        """
        found = self._mixed.get(context)
        if found is not None:
            return found
        if context:
            below = self._probs(context[1:])
        else:
            below = np.full(self.vocabulary, 1.0 / self.vocabulary)
        probs = self._levels[len(context)].mix(context, below)
        self._mixed[context] = probs
        return probs

    def perplexity(self, lines: Iterable[Sequence[int]]) -> float:
        """Per-token perplexity on tokenised lines (end tokens included)."""
        total, tokens = 0.0, 0
        for ids in lines:
            history: list[int] = []
            for token in [*ids, self.end_id]:
                total -= float(self.log_probs(history)[token])
                history.append(token)
                tokens += 1
        return math.exp(total / max(tokens, 1))

    def save(self, folder: Path) -> Path:
        """Writes the model to ``folder/char_lm.npz``; returns that path."""
        arrays: dict[str, npt.NDArray[Any]] = {
            "meta": np.array(
                json.dumps(
                    {
                        "format": FORMAT_VERSION,
                        "kind": "kneser-ney character n-gram",
                        "order": self.order,
                        "vocabulary": self.vocabulary,
                        "start_id": self.start_id,
                        "end_id": self.end_id,
                        "lines": self.lines,
                        "weight": self.weight,
                        "discounts": [level.discount for level in self._levels],
                    }
                )
            )
        }
        for k, level in enumerate(self._levels):
            arrays[f"contexts{k}"] = level.contexts
            arrays[f"offsets{k}"] = level.offsets
            arrays[f"ids{k}"] = level.ids
            arrays[f"counts{k}"] = level.counts.astype(np.int64)
        path = Path(folder) / LM_FILE
        write_atomically(path, lambda stream: _save_arrays(stream, arrays), mode=PUBLIC_MODE)
        return path


def _save_arrays(stream: IO[bytes], arrays: dict[str, npt.NDArray[Any]]) -> None:
    np.savez_compressed(stream, allow_pickle=False, **arrays)


def _level(counts: Counter[tuple[int, ...]], length: int) -> _Level:
    """Arrays of the n-grams of one order (contexts of `length` tokens), sorted by context."""
    grams = sorted(counts)
    singles = sum(1 for n in counts.values() if n == 1)
    doubles = sum(1 for n in counts.values() if n == 2)
    # Without singletons the estimate is 0, which would leave unseen tokens no probability.
    discount = singles / (singles + 2 * doubles) if singles else 0.5
    table = np.array(grams, dtype=np.int32).reshape(len(grams), length + 1)
    starts = np.ones(len(grams), dtype=bool)
    if len(grams) > 1 and length:
        starts[1:] = (table[1:, :length] != table[:-1, :length]).any(axis=1)
    elif len(grams) > 1:
        starts[1:] = False
    first = np.flatnonzero(starts)
    offsets = np.append(first, len(grams)).astype(np.int64)
    return _Level.from_arrays(
        table[first, :length],
        offsets,
        table[:, length].copy(),
        np.array([counts[gram] for gram in grams], dtype=np.float64),
        discount,
    )


def load_language_model(folder: Path, vocabulary: int) -> CharLanguageModel | None:
    """Reads ``folder/char_lm.npz``, or None when the folder has none.

    Raises:
        LanguageModelError: The file is malformed or made for another vocabulary.
    """
    path = Path(folder) / LM_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise LanguageModelError(f"{path}: unknown format {meta.get('format')!r}")
            order = int(meta["order"])
            discounts = [float(d) for d in meta["discounts"]]
            if len(discounts) != order:
                raise LanguageModelError(f"{path}: {len(discounts)} levels for order {order}")
            levels = [
                _Level.from_arrays(
                    stored[f"contexts{k}"]
                    .astype(np.int32)
                    .reshape(len(stored[f"offsets{k}"]) - 1, k),
                    stored[f"offsets{k}"].astype(np.int64),
                    stored[f"ids{k}"].astype(np.int32),
                    stored[f"counts{k}"].astype(np.float64),
                    discounts[k],
                )
                for k in range(order)
            ]
        model = CharLanguageModel(
            order,
            int(meta["vocabulary"]),
            int(meta["start_id"]),
            int(meta["end_id"]),
            int(meta["lines"]),
            float(meta["weight"]),
            levels,
        )
    except LanguageModelError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise LanguageModelError(f"{path}: not a language model file ({error})") from error
    if model.vocabulary != vocabulary:
        raise LanguageModelError(
            f"{path}: made for {model.vocabulary} tokens, the model has {vocabulary}"
        )
    if not math.isfinite(model.weight) or model.weight < 0:
        raise LanguageModelError(f"{path}: weight must be a number of at least 0")
    for level in levels:
        if len(level.ids) and (level.ids.min() < 0 or level.ids.max() >= model.vocabulary):
            raise LanguageModelError(f"{path}: a token outside the vocabulary")
    return model
