"""`legajo train`: train a line model from scratch, or fine-tune any TrOCR checkpoint.

From scratch, the model is legajo's line architecture (`htr.line_model`): a convolutional
stem that collapses a 48-px line to one row of width/4 steps, two transformer layers, a CTC
head, and a 3-layer `TrOCRForCausalLM` decoder inside a standard `VisionEncoderDecoderModel`,
with a character tokenizer built from the training alphabet (`htr.model_factory`). The loss
is ``ctc_weight * CTC + (1 - ctc_weight) * cross-entropy`` (the CTC part only when the
encoder has a CTC head). Short lines come first (a width curriculum over the first part of
training) and synthetic lines are mixed in, more at the start.

Training runs for a wall-clock budget (`minutes`) and/or a number of steps; the learning
rate warms up, then follows a cosine over whichever budget ends first. Every
`checkpoint_minutes` the model is saved to ``<run_dir>/checkpoints/last`` and the optimizer,
step, elapsed time and random states to ``<run_dir>/trainer_state/``, so that `resume`
continues where it stopped; the checkpoint with the lowest validation CER is kept in
``<run_dir>/checkpoints/best``. At the end the best checkpoint is measured with the
recognizer's default decoding and written to `out` with a model card (``README.md``).

Ground truth comes from PAGE/ALTO folders (`gt`, `val`) and from any other source given as
`htr.training.data.LineSetReader`s (`extra_lines`): htr knows nothing of where those lines are
kept. The indexer plugs in the lines people verified in its database (``--from-db``,
`indexer.transfer.training_lines`) through `TrainDataOptions`, the hook of `add_train_command`.

Libraries log and report progress through a callback; the `legajo train` command
(`add_train_command`) turns it into a tqdm bar.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import random
import shutil
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from htr.errors import LegajoError

if TYPE_CHECKING:
    import torch

    from htr.training.data import LineSample, LineSetReader

logger = logging.getLogger(__name__)

DEFAULT_CACHE = Path.home() / ".cache" / "legajo" / "lines"
MAIN_ZONE = "MainZone"
FOREIGN_LINE_HEIGHT = 64
"""Height lines are cached at for checkpoints with another image processor (which resizes)."""


class TrainingError(LegajoError):
    """Training cannot start or go on (no data, a bad checkpoint, a bad setting)."""


@dataclass(frozen=True, slots=True)
class LineModelShape:
    """Size of a new line model (see `htr.line_model`).

    Attributes:
        image_height: Line height in pixels (the stem pools it to one row: 48 by default).
        hidden_size: Width of encoder and decoder.
        encoder_layers: Transformer layers after the convolutional stem.
        decoder_layers: TrOCR decoder layers.
        heads: Attention heads.
        max_length: Longest reading in tokens, start and end included.
        stem_channels: Output channels of the five convolution blocks of the stem.
    """

    image_height: int = 48
    hidden_size: int = 256
    encoder_layers: int = 2
    decoder_layers: int = 3
    heads: int = 4
    max_length: int = 384
    stem_channels: tuple[int, int, int, int, int] = (16, 32, 64, 96, 128)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything a training run depends on.

    Attributes:
        out: Where the final checkpoint (with its model card) is written.
        gt: PAGE/ALTO ground-truth folders (page images with their XML files).
        val: Validation folders: lines under them (from `extra_lines` too) are never trained
            on. When empty, a tenth of the manuscript folders of all ground truth is held out.
        extra_lines: Readers of further ground-truth lines (e.g. the corrections stored in
            the database, `indexer.transfer.training_lines`), called once with the line height.
        synthetic: Number of synthetic lines to render and mix in.
        base: Checkpoint to fine-tune; None trains a new line model from scratch.
        run_dir: Where checkpoints, trainer state and the log go; default ``<out>.run``.
        minutes: Wall-clock training budget; None for no time limit.
        steps: Step budget; None for no step limit (one of the two must be set).
        batch_size: Lines per step.
        lr: Peak learning rate (AdamW).
        warmup_steps: Linear warm-up steps.
        weight_decay: AdamW weight decay.
        ctc_weight: Weight of the CTC loss (0 to 1), when the encoder has a CTC head.
        curriculum: Share of the budget during which the widest allowed line grows from the
            30 % quantile of line widths to all lines.
        synthetic_share: Probability that a batch is synthetic at the start and at the end
            (linear in between).
        augment: Randomly degrade training lines (`htr.training.data.augment`).
        checkpoint_minutes: Save, validate and keep the best this often.
        val_lines: How many validation lines the periodic checks read (all at the end).
        resume: Continue the run in `run_dir` from its trainer state.
        seed: Seed of data order, augmentation and initialisation.
        shape: Size of a new model (ignored when fine-tuning).
        cache_dir: Where cut lines are cached; None disables the cache.
        device: ``"auto"`` (CUDA with bf16 when present), ``"cpu"`` or ``"cuda"``.
        threads: CPU threads for torch; None uses every core.
        command: The command line, for the model card.
        card_notes: A Markdown file appended to the model card (e.g. the variants tried).
    """

    out: Path
    gt: tuple[Path, ...] = ()
    val: tuple[Path, ...] = ()
    extra_lines: tuple[LineSetReader, ...] = ()
    synthetic: int = 0
    base: Path | None = None
    run_dir: Path | None = None
    minutes: float | None = None
    steps: int | None = None
    batch_size: int = 16
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    ctc_weight: float = 0.5
    curriculum: float = 0.25
    synthetic_share: tuple[float, float] = (0.4, 0.1)
    augment: bool = True
    checkpoint_minutes: float = 10.0
    val_lines: int = 200
    resume: bool = False
    seed: int = 0
    shape: LineModelShape = field(default_factory=LineModelShape)
    cache_dir: Path | None = DEFAULT_CACHE
    device: str = "auto"
    threads: int | None = None
    command: str = ""
    card_notes: Path | None = None

    def __post_init__(self) -> None:
        if self.minutes is None and self.steps is None:
            raise ValueError("set minutes or steps (or both)")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], not {self.ctc_weight}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {self.device!r}")

    @property
    def run_path(self) -> Path:
        """The run directory."""
        return self.run_dir or self.out.with_name(self.out.name + ".run")


@dataclass(frozen=True, slots=True)
class TrainProgress:
    """What `train` reports to its progress callback.

    Attributes:
        phase: ``"data"`` (reading lines), ``"train"``, ``"validate"`` or ``"done"``.
        step: Optimizer steps done.
        fraction: Share of the budget used (0 to 1).
        elapsed_s: Training seconds so far (over resumed runs).
        eta_s: Estimated seconds left.
        loss: Running mean of the training loss.
        ctc_loss: Running mean of the CTC loss (None without a CTC head).
        ce_loss: Running mean of the decoder's cross-entropy.
        val_cer: Latest validation CER (None before the first check).
        lines_per_s: Training throughput.
        message: What happens, in words.
    """

    phase: str
    step: int = 0
    fraction: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    loss: float | None = None
    ctc_loss: float | None = None
    ce_loss: float | None = None
    val_cer: float | None = None
    lines_per_s: float | None = None
    message: str = ""


ProgressCallback = Callable[[TrainProgress], None]


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """CER of a model on validation lines (NFC text).

    Attributes:
        cer: Character error rate over all lines.
        cer_main: Over main-zone lines only (None without zone information).
        lines: Lines read.
        ctc_cer: CER of the CTC head's greedy reading, when there is one.
    """

    cer: float
    cer_main: float | None
    lines: int
    ctc_cer: float | None = None


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Character error rate over lines: total edits / total reference characters, on NFC."""
    edits = sum(
        levenshtein(unicodedata.normalize("NFC", p), unicodedata.normalize("NFC", r))
        for p, r in zip(predictions, references, strict=True)
    )
    chars = sum(len(unicodedata.normalize("NFC", r)) for r in references)
    return edits / max(chars, 1)


def train(config: TrainConfig, progress: ProgressCallback | None = None) -> Path:
    """Trains (or fine-tunes) a model and writes the best checkpoint, with its model card.

    Args:
        config: The run's settings.
        progress: Called with a `TrainProgress` every few steps and at each phase change.

    Returns:
        `config.out`, the checkpoint directory.

    Raises:
        TrainingError: No training lines, an unreadable base checkpoint or trainer state.
        LegajoError: Whatever the readers of `config.extra_lines` raise (an unreachable
            database, no verified lines).
    """
    import torch

    report = progress or (lambda _: None)
    started = time.monotonic()
    run = config.run_path
    run.mkdir(parents=True, exist_ok=True)
    _log_to(run / "train.log")
    device = _device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.threads or len(os.sched_getaffinity(0)))
    _seed_everything(config.seed)

    logger.info("training settings: %s", _config_json(config))
    loaded = _load_checkpoint(config, run)
    height = _line_height(loaded[1]) if loaded else config.shape.image_height
    report(TrainProgress("data", message="reading ground-truth lines"))
    data = _load_data(config, report, height)
    train_lines, val_lines, synthetic = data.train, data.val, data.synthetic
    if not train_lines and not synthetic:
        raise TrainingError(
            "no training lines: give --gt folders with transcribed lines, lines from "
            "another source, or --synthetic N"
        )
    texts = [s.text for s in train_lines + synthetic]
    if loaded is None:
        model, processor = new_line_model(texts, config.shape, config.seed)
    else:
        model, processor = loaded
        _warn_unknown_characters(processor, texts)
    model.to(device)
    state = _TrainerState.load(run / "trainer_state") if config.resume else None
    trainer = _Trainer(config, model, processor, device, train_lines, synthetic, val_lines, run)
    if state is not None:
        trainer.restore(state)
    trainer.fit(report)
    best = run / "checkpoints" / "best"
    source = best if best.is_dir() else run / "checkpoints" / "last"
    result = trainer.final_validation(source, report)
    _write_output(config, source, trainer, result, time.monotonic() - started, data.line_sets)
    report(
        TrainProgress(
            "done",
            step=trainer.step,
            fraction=1.0,
            elapsed_s=trainer.elapsed,
            val_cer=result.cer if result else None,
            message=f"wrote {config.out}",
        )
    )
    return config.out


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineSetUse:
    """How the lines of one `htr.training.data.LineSet` were used (for the model card).

    Attributes:
        description: The set's own description.
        train: Its lines trained on.
        val: Its lines held out for validation (their manuscript folder is).
    """

    description: str
    train: int
    val: int


@dataclass(frozen=True, slots=True)
class _TrainingData:
    train: list[LineSample]
    val: list[LineSample]
    synthetic: list[LineSample]
    line_sets: tuple[LineSetUse, ...]


def _load_data(config: TrainConfig, report: ProgressCallback, height: int) -> _TrainingData:
    from htr.training.data import gt_lines, split_by_manuscript, synthetic_lines

    folders = [*config.gt, *(v for v in config.val if not _under_any(v, config.gt))]
    for folder in folders:
        if not Path(folder).is_dir():
            raise TrainingError(f"{folder}: not a folder")
    samples = gt_lines(
        folders,
        config.cache_dir,
        height=height,
        progress=lambda done, total: report(TrainProgress("data", message=f"page {done}/{total}")),
    )
    line_sets = []
    for read in config.extra_lines:
        report(TrainProgress("data", message="reading further ground-truth lines"))
        line_set = read(height)
        line_sets.append(line_set)
        samples.extend(line_set.lines)
    train_lines, val_lines = split_by_manuscript(samples, config.val, seed=config.seed)
    held = {s.source for s in val_lines}
    uses = tuple(
        LineSetUse(
            line_set.description,
            train=sum(s.source not in held for s in line_set.lines),
            val=sum(s.source in held for s in line_set.lines),
        )
        for line_set in line_sets
    )
    if not val_lines and train_lines and not config.val:
        logger.warning("only one manuscript folder: no validation lines")
    report(TrainProgress("data", message=f"rendering {config.synthetic} synthetic lines"))
    synthetic = synthetic_lines(
        config.synthetic,
        [s.text for s in train_lines],
        seed=config.seed,
        height=height,
        cache_dir=config.cache_dir,
    )
    logger.info(
        "%d training lines from %d folders, %d validation lines from %d folders, %d synthetic",
        len(train_lines),
        len({s.source for s in train_lines}),
        len(val_lines),
        len({s.source for s in val_lines}),
        len(synthetic),
    )
    for use in uses:
        logger.info("%s: %d trained on, %d for validation", use.description, use.train, use.val)
    return _TrainingData(train_lines, val_lines, synthetic, uses)


def _under_any(path: Path, roots: Sequence[Path]) -> bool:
    return any(Path(path).resolve().is_relative_to(Path(r).resolve()) for r in roots)


# --- model --------------------------------------------------------------------------------


def new_line_model(
    texts: Sequence[str], shape: LineModelShape | None = None, seed: int = 0
) -> tuple[Any, Any]:
    """Creates a random line model (`htr.line_model` encoder + TrOCR decoder) and processor.

    Args:
        texts: Training transcriptions; their characters (NFD) make the tokenizer.
        shape: Model size.
        seed: Seed of the initialisation.

    Returns:
        (VisionEncoderDecoderModel, TrOCRProcessor).
    """
    import torch
    from transformers import (
        TrOCRProcessor,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
    )

    from htr.line_model import DEFAULT_STEM, LineEncoderConfig
    from htr.line_processor import LineImageProcessor
    from htr.model_factory import alphabet_of, build_char_tokenizer, char_decoder_config

    shape = shape or LineModelShape()
    tokenizer = build_char_tokenizer(alphabet_of([*texts, " "]))
    stem = [
        [channels, pool_h, pool_w]
        for channels, (_, pool_h, pool_w) in zip(shape.stem_channels, DEFAULT_STEM, strict=True)
    ]
    if shape.image_height != 48:
        # Keep the /4 width reduction; pool the height by what is left in the last block.
        rest = shape.image_height // 16
        if rest * 16 != shape.image_height:
            raise TrainingError("image_height must be a multiple of 16")
        stem[-1] = [stem[-1][0], rest, 1]
    encoder = LineEncoderConfig(
        image_height=shape.image_height,
        stem=stem,
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.encoder_layers,
        num_attention_heads=shape.heads,
        intermediate_size=4 * shape.hidden_size,
        ctc_vocab_size=len(tokenizer),
        ctc_blank_id=tokenizer.pad_token_id,
    )
    decoder = char_decoder_config(
        tokenizer,
        hidden_size=shape.hidden_size,
        layers=shape.decoder_layers,
        heads=shape.heads,
        max_length=shape.max_length,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.bos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(config=config)
    generation = model.generation_config
    generation.decoder_start_token_id = tokenizer.bos_token_id
    generation.bos_token_id = tokenizer.bos_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    generation.eos_token_id = tokenizer.eos_token_id
    generation.max_length = shape.max_length
    processor = TrOCRProcessor(
        image_processor=LineImageProcessor(height=shape.image_height), tokenizer=tokenizer
    )
    logger.info("new line model with %d parameters", model.num_parameters())
    return model, processor


def _load_checkpoint(config: TrainConfig, run: Path) -> tuple[Any, Any] | None:
    """The run's last checkpoint (resume) or the base to fine-tune; None for a new model."""
    from transformers import AutoProcessor, VisionEncoderDecoderModel

    import htr.line_model  # noqa: F401  (registers the line encoder with the Auto classes)

    last = run / "checkpoints" / "last"
    if config.resume and not last.is_dir():
        raise TrainingError(f"{run}: nothing to resume (no checkpoints/last)")
    source = last if config.resume else config.base
    if source is None:
        return None
    try:
        model = VisionEncoderDecoderModel.from_pretrained(source)
        processor = AutoProcessor.from_pretrained(source)
    except Exception as error:  # transformers raises many types; all mean "cannot load"
        raise TrainingError(f"cannot load checkpoint {source}: {error}") from error
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise TrainingError(f"{source}: no image processor and tokenizer (TrOCR processor)")
    return model, processor


def _line_height(processor: Any) -> int:
    """Height of the cached line arrays for a processor: its own for line processors."""
    from htr.line_processor import LineImageProcessor

    image_processor = processor.image_processor
    if isinstance(image_processor, LineImageProcessor):
        return int(image_processor.height)
    return FOREIGN_LINE_HEIGHT


def _warn_unknown_characters(processor: Any, texts: Sequence[str]) -> None:
    unknown = {c for t in texts for c in t} - set(processor.tokenizer.get_vocab())
    if unknown:
        logger.warning(
            "%d training characters are not in the checkpoint's vocabulary and read as <unk>: %s",
            len(unknown),
            "".join(sorted(unknown))[:80],
        )


def _device(requested: str) -> torch.device:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for, but no CUDA device is available")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _log_to(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("htr",):
        target = logging.getLogger(name)
        if not any(
            isinstance(h, logging.FileHandler) and h.baseFilename == str(path.resolve())
            for h in target.handlers
        ):
            target.addHandler(handler)
        if target.level == logging.NOTSET or target.level > logging.INFO:
            target.setLevel(logging.INFO)


# --- training loop ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TrainerState:
    step: int
    elapsed: float
    best_cer: float | None
    history: list[dict[str, Any]]
    optimizer: dict[str, Any]
    rng: dict[str, Any]

    @staticmethod
    def load(folder: Path) -> _TrainerState:
        import torch

        path = folder / "state.pt"
        if not path.is_file():
            raise TrainingError(f"{folder}: no trainer state to resume from")
        data = torch.load(path, map_location="cpu", weights_only=False)
        return _TrainerState(**data)

    def save(self, folder: Path) -> None:
        import torch

        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / "state.pt.tmp"
        torch.save(
            {
                "step": self.step,
                "elapsed": self.elapsed,
                "best_cer": self.best_cer,
                "history": self.history,
                "optimizer": self.optimizer,
                "rng": self.rng,
            },
            temporary,
        )
        temporary.replace(folder / "state.pt")


class _Trainer:
    def __init__(
        self,
        config: TrainConfig,
        model: Any,
        processor: Any,
        device: torch.device,
        train_lines: list[LineSample],
        synthetic: list[LineSample],
        val_lines: list[LineSample],
        run: Path,
    ) -> None:
        import torch

        from htr.line_model import has_ctc_head

        self.config = config
        self.model = model
        self.processor = processor
        self.device = device
        self.run = run
        self.val_lines = val_lines
        self.ctc = has_ctc_head(model) and config.ctc_weight > 0
        self.reduction = model.encoder.config.width_reduction if has_ctc_head(model) else 1
        positions = getattr(model.config.decoder, "max_position_embeddings", None) or 10**6
        self.max_label = min(config.shape.max_length, positions - 2) - 1
        """Longest label in tokens (the end token included; the start token comes on top)."""
        self.real = sorted(train_lines, key=lambda s: s.image.shape[1])
        self.synthetic = sorted(synthetic, key=lambda s: s.image.shape[1])
        self.real_widths = np.array([s.image.shape[1] for s in self.real])
        self.synthetic_widths = np.array([s.image.shape[1] for s in self.synthetic])
        decay: list[Any] = []
        no_decay: list[Any] = []
        for name, parameter in model.named_parameters():
            (no_decay if parameter.ndim < 2 or "norm" in name else decay).append(parameter)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=config.lr,
            betas=(0.9, 0.98),
        )
        self.rng = np.random.default_rng(config.seed)
        self.step = 0
        self.elapsed = 0.0
        self.best_cer: float | None = None
        self.history: list[dict[str, Any]] = []
        self.lines_seen = 0
        self.use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()

    def restore(self, state: _TrainerState) -> None:
        import torch

        self.optimizer.load_state_dict(state.optimizer)
        self.step, self.elapsed = state.step, state.elapsed
        self.best_cer, self.history = state.best_cer, list(state.history)
        self.rng.bit_generator.state = state.rng["numpy"]
        random.setstate(state.rng["python"])
        torch.set_rng_state(state.rng["torch"])
        logger.info("resumed at step %d after %.0f s", self.step, self.elapsed)

    # budget -------------------------------------------------------------------------------

    def fraction(self) -> float:
        parts = []
        if self.config.minutes is not None:
            parts.append(self.elapsed / (60.0 * self.config.minutes))
        if self.config.steps is not None:
            parts.append(self.step / self.config.steps)
        return min(1.0, max(parts))

    def learning_rate(self) -> float:
        warm = min(1.0, (self.step + 1) / max(1, self.config.warmup_steps))
        cosine = 0.5 * (1 + math.cos(math.pi * self.fraction()))
        return self.config.lr * warm * (0.05 + 0.95 * cosine)

    # batches ------------------------------------------------------------------------------

    def next_batch(self) -> list[LineSample]:
        fraction = self.fraction()
        start, end = self.config.synthetic_share
        share = start + (end - start) * fraction
        use_synthetic = bool(self.synthetic) and (not self.real or self.rng.random() < share)
        pool, widths = (
            (self.synthetic, self.synthetic_widths)
            if use_synthetic
            else (self.real, self.real_widths)
        )
        if self.config.curriculum > 0 and fraction < self.config.curriculum:
            quantile = 0.3 + 0.7 * fraction / self.config.curriculum
            limit = float(np.quantile(widths, quantile))
            eligible = max(1, int(np.searchsorted(widths, limit, side="right")))
        else:
            eligible = len(pool)
        size = min(self.config.batch_size, eligible)
        # Neighbours in width order pad little; the window keeps batches varied.
        window = min(eligible, 4 * size)
        first = int(self.rng.integers(0, eligible - window + 1))
        picks = self.rng.choice(window, size=size, replace=False) + first
        return [pool[int(i)] for i in picks]

    def tensors(
        self, batch: Sequence[LineSample], augment: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[list[int]]]:
        import torch
        from PIL import Image

        from htr.line_processor import LineImageProcessor, pad_lines
        from htr.training.data import augment as degrade

        images = [degrade(s.image, self.rng) if augment else s.image for s in batch]
        image_processor = self.processor.image_processor
        if isinstance(image_processor, LineImageProcessor):
            pixels = torch.from_numpy(pad_lines(images, image_processor.width_multiple))
        else:  # another architecture: its own processor resizes the lines
            rgb = [Image.fromarray(image).convert("RGB") for image in images]
            pixels = image_processor(images=rgb, return_tensors="pt").pixel_values
        tokenizer = self.processor.tokenizer
        ids = [tokenizer(s.text).input_ids[1:] for s in batch]  # drop <s>: labels end in </s>
        limit = self.max_label
        ids = [[*i[: limit - 1], tokenizer.eos_token_id] if len(i) > limit else i for i in ids]
        width = max(len(i) for i in ids)
        labels = torch.full((len(ids), width), -100, dtype=torch.long)
        for row, i in enumerate(ids):
            labels[row, : len(i)] = torch.tensor(i)
        steps = torch.tensor([im.shape[1] // self.reduction for im in images])
        return pixels, labels, steps, [i[:-1] for i in ids]

    # step ---------------------------------------------------------------------------------

    def losses(
        self, batch: Sequence[LineSample], augment: bool
    ) -> tuple[torch.Tensor, float | None, float]:
        import torch
        import torch.nn.functional as functional

        pixels, labels, steps, targets = self.tensors(batch, augment)
        pixels, labels = pixels.to(self.device), labels.to(self.device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_bf16):
            encoded = self.model.encoder(pixel_values=pixels)
            output = self.model(encoder_outputs=encoded, labels=labels)
            ce = output.loss
            if not self.ctc:
                return ce, None, float(ce.detach())
            logits = encoded.ctc_logits.float()
        log_probs = functional.log_softmax(logits, dim=-1).transpose(0, 1)
        steps = steps.clamp(max=log_probs.shape[0])
        lengths = torch.tensor([len(t) for t in targets])
        flat = torch.tensor([token for t in targets for token in t], dtype=torch.long)
        ctc = functional.ctc_loss(
            log_probs,
            flat.to(self.device),
            steps.to(self.device),
            lengths.to(self.device),
            blank=self.model.encoder.config.ctc_blank_id,
            reduction="mean",
            zero_infinity=True,
        )
        weight = self.config.ctc_weight
        return weight * ctc + (1 - weight) * ce, float(ctc.detach()), float(ce.detach())

    def train_step(self, batch: Sequence[LineSample]) -> tuple[float, float | None, float]:
        """One optimizer step on `batch`; returns (loss, CTC loss, cross-entropy)."""
        import torch

        loss, ctc, ce = self.losses(batch, self.config.augment)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return float(loss.detach()), ctc, ce

    def fit(self, report: ProgressCallback) -> None:
        config = self.config
        self.model.train()
        running: dict[str, float] = {}
        last_checkpoint = self.elapsed
        tick = time.monotonic()
        window_lines, window_time = 0, 0.0
        first_step = self.step
        while self.fraction() < 1.0:
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate()
            batch = self.next_batch()
            loss, ctc, ce = self.train_step(batch)
            self.step += 1
            now = time.monotonic()
            self.elapsed += now - tick
            window_time += now - tick
            window_lines += len(batch)
            tick = now
            # A plain mean over the first steps, then an exponential average (about 50 steps).
            weight = max(0.02, 1.0 / (self.step - first_step))
            for key, value in (("loss", float(loss)), ("ctc", ctc), ("ce", ce)):
                if value is not None and math.isfinite(value):
                    running[key] = (1 - weight) * running.get(key, value) + weight * value
            if self.step % 10 == 0:
                report(self._progress("train", running, window_lines / max(window_time, 1e-9)))
                window_lines, window_time = 0, 0.0
            if self.step % 100 == 0:
                logger.info(
                    "step %d lr %.2e loss %.3f ctc %.3f ce %.3f",
                    self.step,
                    self.learning_rate(),
                    running.get("loss", math.nan),
                    running.get("ctc", math.nan),
                    running.get("ce", math.nan),
                )
            if self.elapsed - last_checkpoint >= 60.0 * config.checkpoint_minutes:
                self.checkpoint(report, running)
                last_checkpoint = self.elapsed
                tick = time.monotonic()
        self.checkpoint(report, running)

    def _progress(self, phase: str, running: dict[str, float], speed: float) -> TrainProgress:
        fraction = self.fraction()
        eta = self.elapsed * (1 - fraction) / fraction if fraction > 0 else None
        return TrainProgress(
            phase,
            step=self.step,
            fraction=fraction,
            elapsed_s=self.elapsed,
            eta_s=eta,
            loss=running.get("loss"),
            ctc_loss=running.get("ctc"),
            ce_loss=running.get("ce"),
            val_cer=self.best_cer,
            lines_per_s=speed,
        )

    # checkpoints --------------------------------------------------------------------------

    def checkpoint(self, report: ProgressCallback, running: dict[str, float]) -> None:
        import torch

        from htr.model_factory import save_checkpoint

        last = self.run / "checkpoints" / "last"
        temporary = last.with_name("last.tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        self.model.eval()
        save_checkpoint(self.model, self.processor, temporary)
        shutil.rmtree(last, ignore_errors=True)
        temporary.rename(last)
        record: dict[str, Any] = {
            "step": self.step,
            "elapsed_s": round(self.elapsed, 1),
            "loss": running.get("loss"),
            "ctc": running.get("ctc"),
            "ce": running.get("ce"),
        }
        if self.val_lines:
            report(self._progress("validate", running, 0.0))
            lines = self._val_subset(self.config.val_lines)
            result = validate(self.model, self.processor, lines, beams=1)
            record.update(val_cer=result.cer, val_ctc_cer=result.ctc_cer, val_lines=result.lines)
            logger.info(
                "step %d: validation CER %.4f (greedy), CTC head %s on %d lines",
                self.step,
                result.cer,
                f"{result.ctc_cer:.4f}" if result.ctc_cer is not None else "-",
                result.lines,
            )
            if self.best_cer is None or result.cer < self.best_cer:
                self.best_cer = result.cer
                best = self.run / "checkpoints" / "best"
                shutil.rmtree(best, ignore_errors=True)
                shutil.copytree(last, best)
        self.model.train()
        self.history.append(record)
        _TrainerState(
            step=self.step,
            elapsed=self.elapsed,
            best_cer=self.best_cer,
            history=self.history,
            optimizer=self.optimizer.state_dict(),
            rng={
                "numpy": self.rng.bit_generator.state,
                "python": random.getstate(),
                "torch": torch.get_rng_state(),
            },
        ).save(self.run / "trainer_state")
        (self.run / "history.json").write_text(json.dumps(self.history, indent=1))

    def _val_subset(self, count: int) -> list[LineSample]:
        if count >= len(self.val_lines):
            return self.val_lines
        picks = np.random.default_rng(0).choice(len(self.val_lines), size=count, replace=False)
        return [self.val_lines[int(i)] for i in sorted(picks)]

    def final_validation(
        self, checkpoint: Path, report: ProgressCallback
    ) -> ValidationResult | None:
        if not self.val_lines:
            return None
        from htr.recognizer import load_recognizer

        report(self._progress("validate", {}, 0.0))
        recognizer = load_recognizer(checkpoint)
        result = validate_recognizer(recognizer, self.val_lines)
        logger.info(
            "final validation of %s: CER %.4f (main zone %s) on %d lines",
            checkpoint,
            result.cer,
            result.cer_main,
            result.lines,
        )
        return result


def training_throughput(
    model: Any,
    processor: Any,
    lines: Sequence[LineSample],
    *,
    batch_size: int = 16,
    steps: int = 10,
    device: str = "auto",
) -> float:
    """Measures training speed in lines per second (after one warm-up step).

    Args:
        model: A VisionEncoderDecoder model (it is trained in place: pass a copy).
        processor: Its processor.
        lines: Lines to train on (batches of neighbours in width, as in training).
        batch_size: Lines per step.
        steps: Timed steps.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns:
        Lines per second, augmentation and the joint loss included.
    """
    config = TrainConfig(out=Path("unused"), steps=steps + 1, batch_size=batch_size, curriculum=0.0)
    target = _device(device)
    model.to(target).train()
    trainer = _Trainer(config, model, processor, target, list(lines), [], [], Path("unused"))
    trainer.train_step(trainer.next_batch())
    started, count = time.perf_counter(), 0
    for _ in range(steps):
        batch = trainer.next_batch()
        trainer.train_step(batch)
        count += len(batch)
    return count / (time.perf_counter() - started)


# --- validation ---------------------------------------------------------------------------


def validate_recognizer(recognizer: Any, lines: Sequence[LineSample]) -> ValidationResult:
    """CER of a recognizer's default decoding on validation lines (all, and main zone).

    Args:
        recognizer: Anything with `recognize(images) -> readings` (see `htr.recognizer`).
        lines: Validation lines (their arrays are re-read as images, as at inference).

    Returns:
        The CERs on NFC text.
    """
    from PIL import Image

    readings = recognizer.recognize([Image.fromarray(s.image).convert("RGB") for s in lines])
    predictions = [r.text for r in readings]
    references = [s.text for s in lines]
    main = [i for i, s in enumerate(lines) if s.zone == MAIN_ZONE]
    return ValidationResult(
        cer=cer(predictions, references),
        cer_main=cer([predictions[i] for i in main], [references[i] for i in main])
        if main
        else None,
        lines=len(lines),
    )


def validate(
    model: Any, processor: Any, lines: Sequence[LineSample], beams: int = 1
) -> ValidationResult:
    """CER of an in-memory model through the recognizer's decoding (greedy by default).

    Also reports the CER of the CTC head's greedy reading when the model has one.
    """
    import torch

    from htr.line_model import has_ctc_head
    from htr.recognizer import RecognizerSettings
    from htr.trocr import TrOCRRecognizer, ctc_greedy_texts

    was_training = model.training
    model.eval()
    settings = RecognizerSettings(beams=beams, n_best=beams)
    device = next(model.parameters()).device
    recognizer = TrOCRRecognizer(model, processor, "in-training", None, settings, device)
    result = validate_recognizer(recognizer, lines)
    ctc_cer = None
    if has_ctc_head(model):
        from htr.line_processor import pad_lines

        texts: list[str] = []
        ordered = sorted(range(len(lines)), key=lambda i: lines[i].image.shape[1])
        by_index: dict[int, str] = {}
        with torch.inference_mode():
            for start in range(0, len(ordered), 16):
                chunk = ordered[start : start + 16]
                pixels = torch.from_numpy(pad_lines([lines[i].image for i in chunk]))
                encoded = model.encoder(pixel_values=pixels.to(device))
                for i, text in zip(chunk, ctc_greedy_texts(encoded, model, processor), strict=True):
                    by_index[i] = text
        texts = [by_index[i] for i in range(len(lines))]
        ctc_cer = cer(texts, [s.text for s in lines])
    if was_training:
        model.train()
    return replace(result, ctc_cer=ctc_cer)


# --- output -------------------------------------------------------------------------------


def _write_output(
    config: TrainConfig,
    source: Path,
    trainer: _Trainer,
    result: ValidationResult | None,
    wall_s: float,
    line_sets: Sequence[LineSetUse] = (),
) -> None:
    out = config.out
    if out.resolve() != source.resolve():
        temporary = out.with_name(out.name + ".tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.copytree(source, temporary)
        shutil.rmtree(out, ignore_errors=True)
        temporary.rename(out)
    card = model_card(config, trainer, result, wall_s, line_sets)
    (out / "README.md").write_text(card, encoding="utf-8")


def hardware() -> str:
    """The machine in words: CUDA device name, or CPU model and core count."""
    import torch

    if torch.cuda.is_available():
        return f"CUDA {torch.cuda.get_device_name(0)}"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {model}, {len(os.sched_getaffinity(0))} cores"


def model_card(
    config: TrainConfig,
    trainer: _Trainer,
    result: ValidationResult | None,
    wall_s: float,
    line_sets: Sequence[LineSetUse] = (),
) -> str:
    """The Markdown model card of a trained checkpoint.

    Args:
        config: The run's settings.
        trainer: The trainer, with its data, model and history.
        result: The final validation, if there were validation lines.
        wall_s: Wall-clock seconds of this invocation.
        line_sets: The lines that came from `config.extra_lines`, described by their source.
    """
    sources = sorted({s.source for s in trainer.real})
    from_sets = sum(use.train for use in line_sets)
    val_sources = sorted({s.source for s in trainer.val_lines})
    parameters = trainer.model.num_parameters()
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: image-to-text",
        "tags: [htr, trocr, legajo]",
        "---",
        "",
        f"# legajo line model `{config.out.name}`",
        "",
        "A TrOCR-architecture `VisionEncoderDecoderModel` trained by `legajo train`. "
        "Load it with `htr.recognizer.load_recognizer(path)` or `legajo transcribe --model "
        "PATH` (`import htr.line_model` first when loading it with transformers directly: the "
        "encoder is legajo's convolutional line encoder, registered with the Auto classes).",
        "",
        "## Architecture",
        "",
        f"- {parameters / 1e6:.1f} M parameters; encoder: "
        f"`{type(trainer.model.encoder).__name__}`, "
        f"decoder: `{type(trainer.model.decoder).__name__}`.",
        f"- Encoder config: `{json.dumps(_short_config(trainer.model.config.encoder))}`",
        f"- Decoder: {trainer.model.config.decoder.decoder_layers} layers, "
        f"d={trainer.model.config.decoder.d_model}, "
        f"vocabulary {trainer.model.config.decoder.vocab_size} (characters, NFD).",
        "",
        "## Training data",
        "",
        f"- {len(trainer.real)} ground-truth lines ({len(trainer.real) - from_sets} from "
        f"PAGE/ALTO folders, {from_sets} from the sources below) from {len(sources)} "
        "manuscript folders:",
        *(f"  - `{_short_path(s)}`" for s in sources),
        *(
            f"- {use.description}: {use.train} trained on, {use.val} held out for validation."
            for use in line_sets
        ),
        f"- {len(trainer.synthetic)} synthetic lines (`htr.training.synthetic` handwriting "
        "fonts; words of the training transcriptions and built-in notarial words).",
        f"- Validation (never trained on): {len(trainer.val_lines)} lines from:",
        *(f"  - `{_short_path(s)}`" for s in val_sources),
        "",
        "## Training",
        "",
        f"- Command: `{config.command or '(library call)'}`",
        f"- Hardware: {hardware()}",
        f"- Training time: {trainer.elapsed / 60:.1f} min of optimisation "
        f"({wall_s / 60:.1f} min wall clock for this invocation), {trainer.step} steps of "
        f"{config.batch_size} lines; base: `{config.base or 'from scratch'}`.",
        f"- Loss: {config.ctc_weight} CTC + {1 - config.ctc_weight:g} cross-entropy; AdamW, "
        f"peak lr {config.lr}, warm-up {config.warmup_steps} steps, cosine decay; width "
        f"curriculum over the first {config.curriculum:.0%} of the budget; synthetic share "
        f"{config.synthetic_share[0]:.0%} → {config.synthetic_share[1]:.0%}; augmentation "
        f"{'on' if config.augment else 'off'}.",
        "",
        "## Measured",
        "",
    ]
    if result is None:
        lines.append("- No validation lines.")
    else:
        lines += [
            f"- Validation CER (NFC, all {result.lines} lines, default decoding "
            f"through `load_recognizer`): **{result.cer:.4f}**",
            f"- Validation CER, main-zone lines only: {result.cer_main:.4f}"
            if result.cer_main is not None
            else "- (no zone information)",
        ]
    if trainer.history:
        lines += ["", "Checks during training (greedy decoding, subset of validation lines):", ""]
        lines += ["| step | minutes | loss | val CER (decoder) | val CER (CTC head) |"]
        lines += ["| --- | --- | --- | --- | --- |"]
        for record in trainer.history:
            lines.append(
                f"| {record['step']} | {record['elapsed_s'] / 60:.1f} | "
                f"{_fmt(record.get('loss'))} | {_fmt(record.get('val_cer'))} | "
                f"{_fmt(record.get('val_ctc_cer'))} |"
            )
    if config.card_notes is not None and config.card_notes.is_file():
        lines += ["", config.card_notes.read_text(encoding="utf-8").rstrip()]
    lines += [
        "",
        "## Licence and attribution",
        "",
        "Trained on HTRomance *Medieval Spain* (CC BY 4.0; Bordier, Gille Levenson, "
        "Brisville-Fertin, Clérice, Chagué; images Gallica/BnF) and the iForal sample "
        "(CC BY 4.0), where those folders were given.",
        "",
    ]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _short_config(config: Any) -> dict[str, Any]:
    keys = ("image_height", "stem", "hidden_size", "num_hidden_layers", "ctc_vocab_size")
    data = config.to_dict()
    return {k: data[k] for k in keys if k in data}


def _short_path(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-3:])


def _config_json(config: TrainConfig) -> str:
    """The run's settings as JSON (for logs); line readers by their ``repr``."""
    # asdict deep-copies every value: a reader may hold a database engine.
    settings = asdict(replace(config, extra_lines=()))
    settings["extra_lines"] = [repr(read) for read in config.extra_lines]
    return json.dumps(settings, default=str)
