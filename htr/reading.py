"""What a recognizer reads and how it is asked to: `LineReading`, `RecognizerSettings`.

Kept apart from `htr.recognizer` (the protocol and `load_recognizer`) so that the
recognizers it loads can use these types without importing the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from htr.confidence import WordReading
from htr.document import Alternative

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[Device, ...] = ("auto", "cpu", "cuda")


@dataclass(frozen=True, slots=True)
class LineReading:
    """What a recognizer read in one line image.

    Attributes:
        text: The best reading; empty when nothing was read or recognition failed.
        confidence: Mean word confidence (see `htr.confidence.line_confidence`).
        words: The words of `text` with their confidences.
        alternatives: The n-best readings, most probable first, probabilities summing to 1.
    """

    text: str
    confidence: float
    words: tuple[WordReading, ...] = ()
    alternatives: tuple[Alternative, ...] = ()


EMPTY_READING = LineReading(text="", confidence=0.0)
"""The reading of a line that could not be recognised."""


@dataclass(frozen=True, slots=True)
class RecognizerSettings:
    """Settings of a recognizer that change its output or its speed.

    Attributes:
        beams: Beam width; 1 means greedy decoding.
        n_best: How many alternative readings to keep per line (at most `beams`).
        batch_size: Lines per batch; None picks 32 on CPU and 64 on CUDA.
        device: ``"auto"`` uses CUDA when present, else the CPU.
        max_new_tokens: Longest reading in tokens; None uses the model's generation config.
        calibrated: Apply the checkpoint's stored calibration (``calibration.json``) to word
            confidences when it has one; False gives the raw model probabilities.
        lm_weight: Weight of the checkpoint's character language model (``char_lm.npz``,
            `htr.char_lm`) in beam search; None uses the weight stored with it, 0 reads
            without it. Applies to joint CTC/attention beam search (beams of 2 or more).
    """

    beams: int = 5
    n_best: int = 5
    batch_size: int | None = None
    device: Device = "auto"
    max_new_tokens: int | None = None
    calibrated: bool = True
    lm_weight: float | None = None

    def __post_init__(self) -> None:
        if self.beams < 1:
            raise ValueError(f"beams must be at least 1, not {self.beams}")
        if self.n_best < 1:
            raise ValueError(f"n_best must be at least 1, not {self.n_best}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.lm_weight is not None and not 0 <= self.lm_weight < float("inf"):
            raise ValueError(f"lm_weight must be a number of at least 0, not {self.lm_weight}")
